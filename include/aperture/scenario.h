/* SPDX-License-Identifier: MIT */
/*
 * aperture/scenario.h - the scenario language, and the human-readable views
 * (show, dump, audit) it shares with the command-line tool.
 *
 * The language is specified in DESIGN.md and README.md; it is a contract.
 * One command a line, '#' starts a comment.  A command's outcome is checked
 * by an `expect` on the line after it; a command that fails without such an
 * `expect error` stops the run.  A DMA that faults is an outcome, not an
 * error: the run goes on unless an `expect` says otherwise.
 */
#ifndef APERTURE_SCENARIO_H
#define APERTURE_SCENARIO_H

#include <stdio.h>

#include <aperture/core.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ap_scenario_flags {
	AP_SCENARIO_ECHO = 1u << 0, /* print every command and its outcome */
};

/*
 * Run scenario `text` in `ctx`; `name` is the file name used in messages
 * ("FILE:LINE: ...").  Output of show/dump (and echo) goes to `out`, which
 * may be NULL to discard it.  Objects the script creates stay in ctx.
 * Returns 0, or a negative errno with ap_ctx_error() naming the line:
 * -EINVAL for a malformed line, -EPROTO for an expectation that did not
 * hold, or the errno of a command that failed unexpectedly.  The run stops
 * at the first such line.
 */
AP_API int ap_scenario_run(struct ap_ctx *ctx, const char *name, const char *text,
			   FILE *out, unsigned flags);

/* ap_scenario_run() on text, named "<scenario>", output to stdout. */
AP_API int ap_scenario_exec(struct ap_ctx *ctx, const char *text);

/* Read `path` and run it; -errno of the read on failure. */
AP_API int ap_scenario_run_file(struct ap_ctx *ctx, const char *path, FILE *out,
				unsigned flags);

/* Human-readable state: everything, or the one object called `name`.
 * -ENOENT if no object has that name. */
AP_API int ap_show(struct ap_ctx *ctx, FILE *out, const char *name);

/*
 * One line per live leaf of a paging domain, in IOVA order:
 *   leaf lvl=L iova=0x... size=0x... pte=0x%016llx
 * -EINVAL for a domain that is not paging.
 */
AP_API int ap_dump(const struct ap_domain *dom, FILE *out);

/*
 * Every way DMA can bypass translation in this machine: instances that pass
 * unmatched streams or leave their aperture open, devices with no domain on
 * them, identity domains.  Returns the number of findings (0: nothing
 * bypasses).
 */
AP_API int ap_audit(struct ap_ctx *ctx, FILE *out);

/* Parse "123", "0x1f", "4K", "2M", "1G", "1T"; -EINVAL or -ERANGE. */
AP_API int ap_parse_size(const char *s, uint64_t *out);

/* Errno <-> name ("EINVAL").  Unknown names give 0; unknown numbers "E?". */
AP_API int ap_errno_from_name(const char *name);
AP_API const char *ap_errno_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* APERTURE_SCENARIO_H */
