/* SPDX-License-Identifier: MIT */
/*
 * tools/aperture/fwcli.c - `aperture import` and `aperture audit --host` /
 * `--dmar F ...`: firmware descriptions in, a scenario or a bypass audit
 * out.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aperture/aperture.h>

#include "fwcli.h"

struct fwopts {
	const char *dmar, *iort, *dtb, *regs, *sysfs, *out;
	bool json, host;
};

static int parse_opts(int argc, char **argv, struct fwopts *o, bool audit)
{
	for (int i = 0; i < argc; i++) {
		const char **slot = NULL;

		if (!strcmp(argv[i], "--dmar")) slot = &o->dmar;
		else if (!strcmp(argv[i], "--iort")) slot = &o->iort;
		else if (!strcmp(argv[i], "--dtb")) slot = &o->dtb;
		else if (!strcmp(argv[i], "--regs")) slot = &o->regs;
		else if (!strcmp(argv[i], "--sysfs")) slot = &o->sysfs;
		else if (!audit && !strcmp(argv[i], "-o")) slot = &o->out;
		else if (audit && !strcmp(argv[i], "--json")) { o->json = true; continue; }
		else if (audit && !strcmp(argv[i], "--host")) { o->host = true; continue; }
		if (!slot || i + 1 >= argc) {
			fflush(stdout);
			fprintf(stderr, "aperture %s: %s: %s\n", audit ? "audit" : "import", argv[i],
				slot ? "needs a value" : "unknown option");
			return -EINVAL;
		}
		if (*slot) {
			fflush(stdout);
			fprintf(stderr, "aperture %s: %s given twice\n", audit ? "audit" : "import",
				argv[i]);
			return -EINVAL;
		}
		*slot = argv[++i];
	}
	if (o->host && !o->sysfs)
		o->sysfs = "/";
	if (!o->dmar && !o->iort && !o->dtb && !o->sysfs) {
		fflush(stdout);
		fprintf(stderr, "aperture %s: give --dmar, --iort, --dtb, --sysfs%s\n",
			audit ? "audit" : "import", audit ? " or --host" : "");
		return -EINVAL;
	}
	return 0;
}

/* A table through fn, or (fn NULL) register text, whose errors name path. */
static int add_file(struct ap_fw *fw, struct ap_ctx *ctx, const char *path,
		    int (*fn)(struct ap_fw *, const void *, size_t))
{
	void *buf;
	size_t len;
	int rc;

	if (!path)
		return 0;
	if ((rc = ap_fw_read_file(fw, path, &buf, &len)))
		return rc;
	rc = fn ? fn(fw, buf, len) : ap_fw_add_regs(fw, buf, len, path);
	ap_mem_free(ctx, buf);
	return rc;
}

/* Everything the options name, in one description; notes to stderr. */
static int load_fw(struct ap_ctx *ctx, const struct fwopts *o, struct ap_fw **out)
{
	const struct ap_fw_desc *d;
	struct ap_fw *fw;
	int rc = ap_fw_new(ctx, &fw);

	if (rc)
		return rc;
	if ((rc = add_file(fw, ctx, o->dmar, ap_fw_add_dmar)) ||
	    (rc = add_file(fw, ctx, o->iort, ap_fw_add_iort)) ||
	    (rc = add_file(fw, ctx, o->dtb, ap_fw_add_dtb)) ||
	    (o->sysfs && (rc = ap_fw_add_sysfs(fw, o->sysfs))) ||
	    (rc = add_file(fw, ctx, o->regs, NULL))) {
		fprintf(stderr, "aperture: %s\n", ap_fw_error(fw));
		ap_fw_free(fw);
		return rc;
	}
	d = ap_fw_desc(fw);
	for (size_t i = 0; i < d->n_notes; i++)
		fprintf(stderr, "%s: %s\n", d->notes[i].level == AP_FW_WARNING ? "warning" : "note",
			d->notes[i].text);
	*out = fw;
	return 0;
}

int ap_cli_import(struct ap_ctx *ctx, int argc, char **argv)
{
	struct fwopts o = { 0 };
	struct ap_fw *fw;
	FILE *out = stdout;
	int rc;

	if (parse_opts(argc, argv, &o, false))
		return 2; /* the command line is wrong */
	if (load_fw(ctx, &o, &fw))
		return 1;
	if (o.out && !(out = fopen(o.out, "w"))) {
		fprintf(stderr, "aperture: %s: %s\n", o.out, strerror(errno));
		ap_fw_free(fw);
		return 1;
	}
	rc = ap_fw_apply(fw, ctx, out);
	if (rc)
		fprintf(stderr, "aperture: %s\n", ap_fw_error(fw));
	if (out != stdout && fclose(out))
		rc = -EIO;
	ap_fw_free(fw);
	return rc ? 1 : 0;
}

/* Names come from firmware tables, which may hold any byte: every byte
 * outside printable ASCII is escaped, so the document is valid JSON (and
 * UTF-8) whatever the table held. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

bool ap_cli_is_fw_audit(int argc, char **argv)
{
	static const char *const fw[] = { "--host", "--dmar", "--iort", "--dtb", "--regs",
					  "--sysfs" };

	for (int i = 0; i < argc; i++)
		for (size_t k = 0; k < sizeof(fw) / sizeof(fw[0]); k++)
			if (!strcmp(argv[i], fw[k]))
				return true;
	return false;
}

/* Exit status (aperture(1)): 0 nothing bypasses, 3 a bypass found, 1 an
 * error, 2 a wrong command line. */
int ap_cli_fw_audit(struct ap_ctx *ctx, int argc, char **argv)
{
	struct fwopts o = { 0 };
	struct ap_fw_bypass b;
	struct ap_fw *fw;
	size_t n = 0;
	char verdict[160];

	if (parse_opts(argc, argv, &o, true))
		return 2;
	if (load_fw(ctx, &o, &fw))
		return 1;
	if (o.json)
		printf("{\"schema\": \"aperture-fw-audit/1\",\n \"bypass\": [");
	for (; !ap_fw_bypass(fw, n, &b); n++) {
		if (o.json) {
			printf("%s\n  {\"device\": ", n ? "," : "");
			json_str(stdout, b.who);
			printf(", \"why\": ");
			json_str(stdout, b.why);
			printf(", \"start\": \"0x%" PRIx64 "\", \"end\": \"0x%" PRIx64 "\"}", b.start, b.end);
		} else {
			printf("bypass %s: %s [0x%" PRIx64 "-0x%" PRIx64 "]\n", b.who, b.why, b.start,
			       b.end);
		}
	}
	if (ap_fw_no_iommu(fw))
		snprintf(verdict, sizeof(verdict), "no IOMMU: every DMA-capable device reaches all "
			 "memory (%zu found)", n);
	else if (n)
		snprintf(verdict, sizeof(verdict), "%zu bypass path%s: DMA can reach memory "
			 "untranslated", n, n == 1 ? "" : "s");
	else
		snprintf(verdict, sizeof(verdict), "nothing bypasses translation");
	if (o.json) {
		printf("%s],\n \"verdict\": ", n ? "\n" : "");
		json_str(stdout, verdict);
		printf(",\n \"bypass_found\": %s}\n", n || ap_fw_no_iommu(fw) ? "true" : "false");
	} else {
		printf("verdict: %s\n", verdict);
	}
	n += ap_fw_no_iommu(fw);
	ap_fw_free(fw);
	return n ? 3 : 0;
}
