/* SPDX-License-Identifier: MIT */
/*
 * aperture: the command-line front end.  Runs scenarios, shows state, dumps
 * page tables, audits for bypass and runs the benchmarks.
 *
 * Exit status (aperture(1) documents it): 0 success; 1 the scenario
 * stopped (a malformed line, an expectation that did not hold, a command
 * that failed with no `expect error`, a file that cannot be read or holds
 * no command) or the object asked for does not exist; 2 the command line is
 * wrong; 3 audit found a way to bypass translation.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aperture/aperture.h>

#include "fwcli.h"
#include "shim_cli.h"

#include "../../bench/bench.h"

enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_BYPASS = 3,
};

extern const char ap_default_scenario[];

static const char default_name[] = "<default scenario>";
static const char stdin_name[] = "<stdin>";

#define MAX_FLAGS 4
#define MAX_POS 3

/* A command-line option of one command: "-q", or "--svg" with a value. */
struct flag {
	const char *name;
	const char *metavar; /* NULL: takes no value */
};

struct args {
	const char *value[MAX_FLAGS]; /* per flag: its value, or "" when given */
	const char *pos[MAX_POS];
	int npos;
};

struct command {
	const char *name, *usage, *text;
	struct flag flags[MAX_FLAGS];
	int min_pos, max_pos;
	int (*run)(struct ap_ctx *ctx, const struct command *c, const struct args *a);
};

static int cmd_run(struct ap_ctx *ctx, const struct command *c, const struct args *a);
static int cmd_show(struct ap_ctx *ctx, const struct command *c, const struct args *a);
static int cmd_dump(struct ap_ctx *ctx, const struct command *c, const struct args *a);
static int cmd_audit(struct ap_ctx *ctx, const struct command *c, const struct args *a);

static const struct command commands[] = {
	{ "run", "aperture run [-q] [FILE | -]",
	  "Run a scenario, printing every command and its outcome (-q: only what\n"
	  "show and dump print).  FILE - reads the scenario from standard input;\n"
	  "without FILE, run the built-in one: two SMMUs of different input sizes\n"
	  "sharing one domain.  Exit status 1 when a line is malformed, an expect\n"
	  "does not hold, a command fails unexpectedly or the file holds no command;\n"
	  "the message names FILE:LINE.",
	  { { "-q", NULL } }, 0, 1, cmd_run },
	{ "show", "aperture show [--json | --svg OUT] [FILE | -] [[iommu|device|domain|container] NAME]",
	  "Run FILE (default: the built-in scenario) quietly, then print the state\n"
	  "of the machine: RAM and the page-table window, IOMMUs with their fault\n"
	  "records, devices with their reserved regions, domains with their\n"
	  "registers, VFIO containers with their mappings.  With NAME, only the\n"
	  "objects called NAME; a kind word before it picks one kind of object when\n"
	  "several share the name.  --json: one JSON document (schema\n"
	  "aperture-show/1).  --svg OUT: the machine as a picture in OUT (- for\n"
	  "stdout): a bar per instance and per domain on a log address axis,\n"
	  "mappings coloured by page size, reserved regions, faults.  Exit status 1\n"
	  "if nothing is called NAME.",
	  { { "--json", NULL }, { "--svg", "OUT" } }, 0, 3, cmd_show },
	{ "dump", "aperture dump [--ranges] [--json] FILE|- DOMAIN",
	  "Run FILE quietly, then print one line per live leaf of DOMAIN:\n"
	  "  leaf lvl=L iova=0x... size=0x... pte=0x%016x\n"
	  "--ranges: runs of leaves with consecutive IOVA and PA, the same size and\n"
	  "bits, folded into one line each, the descriptor's fields decoded.\n"
	  "--json: one JSON document (schema aperture-dump/1).",
	  { { "--ranges", NULL }, { "--json", NULL } }, 2, 2, cmd_dump },
	{ "audit",
	  "aperture audit [--json] [FILE | -]\n"
	  "  aperture audit --host | [--dmar F] [--iort F] [--dtb F] [--regs F] [--sysfs DIR] [--json]",
	  "Run FILE (default: the built-in scenario) quietly, then list every way\n"
	  "DMA can reach memory untranslated: IOMMUs that pass unmatched streams or\n"
	  "leave the aperture open, devices with no domain on them, identity\n"
	  "domains; --json: one JSON document (schema aperture-audit/1).  With\n"
	  "firmware options (--host reads this host's /sys): one line per bypass\n"
	  "path (device, why, range) and a verdict; --json for tools (schema\n"
	  "aperture-fw-audit/1).  Exit status 3 if there is any bypass, 0 if none.",
	  { { "--json", NULL } }, 0, 1, cmd_audit },
	{ "import", "aperture import [--dmar F] [--iort F] [--dtb F] [--regs F] [--sysfs DIR] [-o OUT]",
	  "Read firmware descriptions (ACPI DMAR/IORT tables, a devicetree blob, a\n"
	  "host's sysfs under DIR; --regs: `BASE REG=VALUE` register values) and\n"
	  "write the machine as a scenario (stdout, or OUT).",
	  { { NULL, NULL } }, 0, 0, NULL },
	{ "shim", "aperture shim -s SCENARIO [--log FILE] [--mode auto|namespace|rewrite] -- PROGRAM [ARGS...]",
	  "Run an unmodified VFIO program on the scenario's machine: its /dev/vfio,\n"
	  "/sys/bus/pci/devices, /sys/kernel/iommu_groups, vfio_iommu_type1's\n"
	  "parameters and (VT-d) the debugfs page-table dump, its containers,\n"
	  "groups and vfio-pci devices (the scenario's `pci` functions, whose DMA\n"
	  "goes through aperture's IOMMU), with libaperture-shim.so preloaded.  The\n"
	  "tree is shown in a private mount namespace, or, where none can be made\n"
	  "(or with --mode rewrite), by rewriting paths in the intercepted calls; a\n"
	  "line on stderr says which.  --log FILE: every intercepted call and its\n"
	  "result, and the DMA faults the devices meet.  Exit status: the\n"
	  "program's (128+N for signal N); 1 for a bad scenario, 2 for a wrong\n"
	  "command line, 126 when the tree cannot be made, 127 when PROGRAM\n"
	  "cannot be run.",
	  { { NULL, NULL } }, 0, 0, NULL },
	{ "bench", "aperture bench [--quick] [--seed N] [--only LIST] [--json]",
	  "Run the benchmarks and print figures as ratios against baselines.\n"
	  "--quick: small counts (a smoke test); --only: some sections of\n"
	  "iotlb,translate,map,table,dma,formats,devices,vfio,virtio,vfio-scale;\n"
	  "--json: the figures as one JSON document (schema aperture-bench/1).",
	  { { NULL, NULL } }, 0, 0, NULL },
	{ "help", "aperture help [COMMAND]", "Print help for all commands, or for one.",
	  { { NULL, NULL } }, 0, 1, NULL },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Say something went wrong, after what was already printed: stdout first,
 * so that a reader of both streams sees them in the order they happened. */
static void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void complain(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("aperture: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "aperture %s - a userspace IOMMU\n\nusage:\n", ap_version());
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %s\n", commands[i].usage);
	fprintf(out, "  aperture --version\n\n"
		     "'aperture help COMMAND' explains one command.  The manuals say everything:\n"
		     "aperture(1) the commands, options and exit statuses (man aperture),\n"
		     "aperture-scenario(5) the scenario language (man 5 aperture-scenario).\n");
}

static const struct command *command_named(const char *name)
{
	for (size_t i = 0; name && i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int help(const char *name)
{
	const struct command *c = command_named(name);

	if (c) {
		printf("usage: %s\n\n%s\n\nSee aperture(1) for the details.\n", c->usage, c->text);
		return EXIT_OK;
	}
	if (name) {
		complain("no command '%s' (commands: run show dump audit import shim bench help)", name);
		return EXIT_USAGE;
	}
	usage(stdout);
	return EXIT_OK;
}

/* A wrong command line: what is wrong, then the command's usage. */
static int bad_usage(const struct command *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad_usage(const struct command *c, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "aperture %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s\n", c->usage);
	return EXIT_USAGE;
}

static int flag_index(const struct command *c, const char *word, size_t len)
{
	for (int f = 0; f < MAX_FLAGS && c->flags[f].name; f++)
		if (strlen(c->flags[f].name) == len && !strncmp(c->flags[f].name, word, len))
			return f;
	return -1;
}

/* "-q" or "--svg FILE, --json": what the command takes, for a message. */
static void flag_list(const struct command *c, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int f = 0; f < MAX_FLAGS && c->flags[f].name && at < len; f++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s%s%s", f ? ", " : "",
				       c->flags[f].name, c->flags[f].metavar ? " " : "",
				       c->flags[f].metavar ? c->flags[f].metavar : "");
}

/* Options anywhere (each at most once), "--" ends them, "-" is a file. */
static int parse_args(const struct command *c, int argc, char **argv, struct args *a)
{
	bool options = true;
	char list[128];

	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		const char *w = argv[i], *eq = strchr(w, '=');
		size_t len = eq && w[1] == '-' ? (size_t)(eq - w) : strlen(w);
		int f;

		if (options && !strcmp(w, "--")) {
			options = false;
			continue;
		}
		if (!options || w[0] != '-' || !w[1]) {
			if (a->npos == c->max_pos)
				return bad_usage(c, "unexpected argument '%s'", w);
			a->pos[a->npos++] = w;
			continue;
		}
		f = flag_index(c, w, len);
		if (f < 0) {
			flag_list(c, list, sizeof(list));
			return bad_usage(c, "unknown option '%s' (%s takes %s)", w, c->name,
					 list[0] ? list : "no options");
		}
		if (a->value[f])
			return bad_usage(c, "%s given twice", c->flags[f].name);
		if (!c->flags[f].metavar) {
			if (len != strlen(w))
				return bad_usage(c, "%s takes no value", c->flags[f].name);
			a->value[f] = "";
		} else if (len != strlen(w)) {
			a->value[f] = w + len + 1;
		} else if (i + 1 < argc) {
			a->value[f] = argv[++i];
		} else {
			return bad_usage(c, "%s needs a %s", c->flags[f].name, c->flags[f].metavar);
		}
	}
	if (a->npos < c->min_pos)
		return bad_usage(c, "expected %d argument%s, got %d", c->min_pos,
				 c->min_pos == 1 ? "" : "s", a->npos);
	return EXIT_OK;
}

/* Run FILE ("-": stdin; NULL: the built-in scenario) into ctx; prints
 * the error and returns EXIT_FAILED. */
static int load(struct ap_ctx *ctx, const char *file, FILE *out, unsigned flags)
{
	int rc;

	flags |= AP_SCENARIO_NEED_COMMANDS;
	if (!file)
		rc = ap_scenario_run(ctx, default_name, ap_default_scenario, out, flags);
	else if (!strcmp(file, "-"))
		rc = ap_scenario_run_stream(ctx, stdin_name, stdin, out, flags);
	else
		rc = ap_scenario_run_file(ctx, file, out, flags);
	if (rc) {
		complain("%s", ap_ctx_error(ctx));
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

static const char *file_name(const char *file)
{
	if (!file)
		return default_name;
	return strcmp(file, "-") ? file : stdin_name;
}

static int cmd_run(struct ap_ctx *ctx, const struct command *c, const struct args *a)
{
	unsigned flags = a->value[0] ? 0 : AP_SCENARIO_ECHO;
	const char *file = a->npos ? a->pos[0] : NULL;

	(void)c;
	if (flags & AP_SCENARIO_ECHO)
		printf("aperture %s: running %s\n", ap_version(), file_name(file));
	if (load(ctx, file, stdout, flags))
		return EXIT_FAILED;
	if (flags & AP_SCENARIO_ECHO)
		printf("all expectations held\n");
	return EXIT_OK;
}

/* The picture into OUT ("-": stdout). */
static int draw(struct ap_ctx *ctx, const char *out, const char *scenario)
{
	FILE *f = strcmp(out, "-") ? fopen(out, "w") : stdout;
	char caption[512];
	int err;

	if (!f) {
		complain("cannot write %s: %s", out, strerror(errno));
		return EXIT_FAILED;
	}
	snprintf(caption, sizeof(caption), "aperture %s: %s", ap_version(), scenario);
	ap_draw_svg(ctx, f, caption);
	err = f == stdout ? fflush(f) : fclose(f);
	if (err) {
		complain("cannot write %s: %s", out, strerror(errno));
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

static int cmd_show(struct ap_ctx *ctx, const struct command *c, const struct args *a)
{
	enum ap_object_type type = AP_OBJECT_ANY;
	const char *name = a->npos >= 2 ? a->pos[a->npos - 1] : NULL;

	if (a->npos == 3) {
		type = ap_object_type_from_name(a->pos[1]);
		if (type == AP_OBJECT_ANY)
			return bad_usage(c, "expected iommu, device, domain or container before "
					 "NAME, got '%s'", a->pos[1]);
	}
	if (a->value[1] && (a->value[0] || name))
		return bad_usage(c, "--svg draws the whole machine: no --json, no NAME");
	if (load(ctx, a->npos ? a->pos[0] : NULL, NULL, 0))
		return EXIT_FAILED;
	if (a->value[1])
		return draw(ctx, a->value[1], file_name(a->npos ? a->pos[0] : NULL));
	if (ap_show_as(ctx, stdout, a->value[0] ? AP_VIEW_JSON : AP_VIEW_TEXT, type, name)) {
		if (type == AP_OBJECT_ANY)
			complain("nothing called '%s' in %s", name, file_name(a->pos[0]));
		else
			complain("no %s called '%s' in %s", ap_object_type_name(type), name,
				 file_name(a->pos[0]));
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

static int cmd_dump(struct ap_ctx *ctx, const struct command *c, const struct args *a)
{
	struct ap_domain *dom;

	(void)c;
	if (load(ctx, a->pos[0], NULL, 0))
		return EXIT_FAILED;
	dom = ap_domain_find(ctx, a->pos[1]);
	if (!dom) {
		complain("no domain called '%s' in %s", a->pos[1], file_name(a->pos[0]));
		return EXIT_FAILED;
	}
	if (ap_dump_as(dom, stdout, a->value[1] ? AP_VIEW_JSON : AP_VIEW_TEXT,
		       a->value[0] ? AP_DUMP_RANGES : 0)) {
		complain("domain '%s' is %s, not paging: it has no page table to dump", a->pos[1],
			 ap_domain_type_name(ap_domain_type(dom)));
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

static int cmd_audit(struct ap_ctx *ctx, const struct command *c, const struct args *a)
{
	(void)c;
	if (load(ctx, a->npos ? a->pos[0] : NULL, NULL, 0))
		return EXIT_FAILED;
	return ap_audit_as(ctx, stdout, a->value[0] ? AP_VIEW_JSON : AP_VIEW_TEXT) ? EXIT_BYPASS
										   : EXIT_OK;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "run";
	const struct command *c = command_named(name);
	struct ap_ctx *ctx;
	struct args a;
	int rc;

	if (!strcmp(name, "--version")) {
		printf("aperture %s\n", ap_version());
		return EXIT_OK;
	}
	if (!strcmp(name, "-h") || !strcmp(name, "--help"))
		return help(NULL);
	if (!c) {
		complain("no command '%s' (commands: run show dump audit import shim bench help; "
			 "'aperture help' says more)", name);
		return EXIT_USAGE;
	}
	argc = argc > 2 ? argc - 2 : 0;
	argv += 2;
	if (!strcmp(name, "help")) {
		if (argc > 1)
			return bad_usage(c, "expected at most one COMMAND, got %d", argc);
		return help(argc ? argv[0] : NULL);
	}
	if (!strcmp(name, "shim")) /* PROGRAM's own options (a --help) are its own */
		return argc && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))
			       ? help(name) : ap_cli_shim(argc, argv);
	if (wants_help(argc, argv))
		return help(name);
	if (!strcmp(name, "bench"))
		return ap_bench_run(stdout, argc, argv);
	/* the firmware commands read their own options */
	if (!strcmp(name, "import") || (!strcmp(name, "audit") && ap_cli_is_fw_audit(argc, argv)))
		c = NULL;
	else if ((rc = parse_args(c, argc, argv, &a)))
		return rc;
	ctx = ap_ctx_new();
	if (!ctx) {
		complain("out of memory");
		return EXIT_FAILED;
	}
	if (c)
		rc = c->run(ctx, c, &a);
	else if (!strcmp(name, "import"))
		rc = ap_cli_import(ctx, argc, argv);
	else
		rc = ap_cli_fw_audit(ctx, argc, argv);
	fflush(stdout);
	ap_ctx_free(ctx);
	return rc;
}
