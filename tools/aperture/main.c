/* SPDX-License-Identifier: MIT */
/*
 * aperture: the command-line front end.  Runs scenarios, shows state, dumps
 * page tables, audits for bypass and runs the benchmarks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aperture/aperture.h>

#include "fwcli.h"
#include "shim_cli.h"

#include "../../bench/bench.h"

extern const char ap_default_scenario[];

static const char default_name[] = "<default scenario>";

static const struct help {
	const char *cmd, *usage, *text;
} helps[] = {
	{ "run", "aperture run [-q] [FILE]",
	  "Run a scenario script, printing every command and its outcome (-q: only\n"
	  "what show and dump print).  Without FILE, run the embedded default: the\n"
	  "two SMMUs of different input sizes sharing one domain.  Exit status 1 when a line is malformed,\n"
	  "an expect does not hold or a command fails unexpectedly; the message names\n"
	  "FILE:LINE." },
	{ "show", "aperture show [FILE] [NAME]",
	  "Run FILE (default: the embedded scenario) quietly, then print the state of\n"
	  "the machine (with its VFIO containers: IOMMU type, groups, page sizes,\n"
	  "mappings, IOVA ranges), or of the one IOMMU, device, domain or container\n"
	  "called NAME." },
	{ "dump", "aperture dump FILE DOMAIN",
	  "Run FILE quietly, then print one line per live leaf of DOMAIN:\n"
	  "  leaf lvl=L iova=0x... size=0x... pte=0x%016x" },
	{ "audit", "aperture audit [FILE] | audit --host | audit [--dmar F] [--iort F] [--dtb F] [--regs F] [--sysfs DIR] [--json]",
	  "Run FILE quietly, then list every way DMA can reach memory untranslated:\n"
	  "IOMMUs that pass unmatched streams or leave the aperture open, devices\n"
	  "with no domain on them, identity domains.  Exit status 2 if any.\n"
	  "With firmware options (--host reads this host's /sys): one line per bypass\n"
	  "path (device, why, range) and a verdict; --json for tools.  Exit status 0\n"
	  "when nothing bypasses, 2 when something does, 1 on errors." },
	{ "import", "aperture import [--dmar F] [--iort F] [--dtb F] [--regs F] [--sysfs DIR] [-o OUT]",
	  "Read firmware descriptions (ACPI DMAR/IORT tables, a devicetree blob, a\n"
	  "host's sysfs under DIR; --regs: `BASE REG=VALUE` register values) and\n"
	  "write the machine as a scenario (stdout, or OUT).  doc/firmware.md says\n"
	  "what is read from where." },
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
	  "program's (128+N for signal N); 1 for a bad scenario, 126 when the tree\n"
	  "cannot be made, 127 when PROGRAM cannot be run." },
	{ "bench", "aperture bench [--quick] [--seed N]",
	  "Run the benchmarks and print figures as ratios against baselines." },
	{ "help", "aperture help [COMMAND]", "Print help for all commands, or for one." },
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "aperture %s - a userspace IOMMU\n\nusage:\n", ap_version());
	for (i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		fprintf(out, "  %s\n", helps[i].usage);
	fprintf(out, "  aperture --version\n\n"
		     "'aperture help COMMAND' explains one command; the scenario language is\n"
		     "described in README.md.\n");
}

static int help(const char *cmd)
{
	size_t i;

	for (i = 0; cmd && i < sizeof(helps) / sizeof(helps[0]); i++) {
		if (!strcmp(helps[i].cmd, cmd)) {
			printf("usage: %s\n\n%s\n", helps[i].usage, helps[i].text);
			return 0;
		}
	}
	if (cmd) {
		fprintf(stderr, "aperture: no command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	usage(stdout);
	return 0;
}

static int bad_usage(const char *cmd)
{
	size_t i;

	for (i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (!strcmp(helps[i].cmd, cmd))
			fprintf(stderr, "usage: %s\n", helps[i].usage);
	return 2;
}

/* Run FILE (or the default) into ctx; prints the error and returns 1. */
static int load(struct ap_ctx *ctx, const char *file, FILE *out, unsigned flags)
{
	int rc;

	if (file)
		rc = ap_scenario_run_file(ctx, file, out, flags);
	else
		rc = ap_scenario_run(ctx, default_name, ap_default_scenario, out, flags);
	if (rc) {
		fprintf(stderr, "aperture: %s\n", ap_ctx_error(ctx));
		return 1;
	}
	return 0;
}

static bool wants_help(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

static int cmd_run(struct ap_ctx *ctx, int argc, char **argv)
{
	unsigned flags = AP_SCENARIO_ECHO;
	const char *file = NULL;
	int i;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-q"))
			flags &= ~AP_SCENARIO_ECHO;
		else if (argv[i][0] == '-' || file)
			return bad_usage("run");
		else
			file = argv[i];
	}
	if (flags & AP_SCENARIO_ECHO)
		printf("aperture %s: running %s\n", ap_version(), file ? file : default_name);
	if (load(ctx, file, stdout, flags))
		return 1;
	if (flags & AP_SCENARIO_ECHO)
		printf("all expectations held\n");
	return 0;
}

static int cmd_show(struct ap_ctx *ctx, int argc, char **argv)
{
	const char *file = argc > 0 ? argv[0] : NULL;
	const char *name = argc > 1 ? argv[1] : NULL;

	if (argc > 2)
		return bad_usage("show");
	if (load(ctx, file, NULL, 0))
		return 1;
	if (ap_show(ctx, stdout, name)) {
		fprintf(stderr, "aperture: nothing called '%s'\n", name);
		return 1;
	}
	return 0;
}

static int cmd_dump(struct ap_ctx *ctx, int argc, char **argv)
{
	struct ap_domain *dom;

	if (argc != 2)
		return bad_usage("dump");
	if (load(ctx, argv[0], NULL, 0))
		return 1;
	dom = ap_domain_find(ctx, argv[1]);
	if (!dom || ap_dump(dom, stdout)) {
		fprintf(stderr, "aperture: no paging domain called '%s'\n", argv[1]);
		return 1;
	}
	return 0;
}

static int cmd_audit(struct ap_ctx *ctx, int argc, char **argv)
{
	if (ap_cli_is_fw_audit(argc, argv))
		return ap_cli_fw_audit(ctx, argc, argv);
	if (argc > 1)
		return bad_usage("audit");
	if (load(ctx, argc ? argv[0] : NULL, NULL, 0))
		return 1;
	return ap_audit(ctx, stdout) ? 2 : 0;
}

int main(int argc, char **argv)
{
	struct ap_ctx *ctx;
	const char *cmd = argc > 1 ? argv[1] : "run";
	int rc;

	if (!strcmp(cmd, "--version")) {
		printf("aperture %s\n", ap_version());
		return 0;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help"))
		return help(argc > 2 && strcmp(cmd, "help") == 0 ? argv[2] : NULL);
	if (!strcmp(cmd, "shim")) /* PROGRAM's own options (a --help) are its own */
		return argc > 2 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"))
			       ? help(cmd) : ap_cli_shim(argc - 2, argv + 2);
	if (argc > 2 && wants_help(argc - 2, argv + 2))
		return help(cmd);
	if (!strcmp(cmd, "bench"))
		return ap_bench_run(stdout, argc - 2, argv + 2);
	ctx = ap_ctx_new();
	if (!ctx) {
		fprintf(stderr, "aperture: out of memory\n");
		return 1;
	}
	argc = argc > 2 ? argc - 2 : 0;
	argv += 2;
	if (!strcmp(cmd, "run"))
		rc = cmd_run(ctx, argc, argv);
	else if (!strcmp(cmd, "show"))
		rc = cmd_show(ctx, argc, argv);
	else if (!strcmp(cmd, "dump"))
		rc = cmd_dump(ctx, argc, argv);
	else if (!strcmp(cmd, "audit"))
		rc = cmd_audit(ctx, argc, argv);
	else if (!strcmp(cmd, "import"))
		rc = ap_cli_import(ctx, argc, argv);
	else
		rc = help(cmd);
	ap_ctx_free(ctx);
	return rc;
}
