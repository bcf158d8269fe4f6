/* SPDX-License-Identifier: MIT */
/*
 * aperture/scenario.h - the scenario language.
 *
 * The language is specified in doc/scenario.md; it is a contract.
 * One command a line, '#' starts a comment.  A command's outcome is checked
 * by an `expect` on the line after it; a command that fails without such an
 * `expect error` stops the run.  A DMA that faults is an outcome, not an
 * error: the run goes on unless an `expect` says otherwise.
 */
#ifndef APERTURE_SCENARIO_H
#define APERTURE_SCENARIO_H

#include <stdio.h>

#include <aperture/core.h>
#include <aperture/view.h> /* show, dump, audit: what the language prints */

#ifdef __cplusplus
extern "C" {
#endif

enum ap_scenario_flags {
	AP_SCENARIO_ECHO = 1u << 0,          /* print every command and its outcome */
	AP_SCENARIO_NEED_COMMANDS = 1u << 1, /* a script with no command (empty, or
						comments only) is -ENODATA */
};

/*
 * Run scenario `text` in `ctx`; `name` is the file name used in messages
 * ("FILE:LINE: ...").  Output of show/dump (and echo) goes to `out`, which
 * may be NULL to discard it.  Objects the script creates stay in ctx.
 * Returns 0, or a negative errno with ap_ctx_error() naming the line:
 * -EINVAL for a malformed line, -EPROTO for an expectation that did not
 * hold, or the errno of a command that failed unexpectedly.  The run stops
 * at the first such line.  With AP_SCENARIO_NEED_COMMANDS, a text with no
 * command is -ENODATA ("nothing ran").  A UTF-8 byte-order mark at the
 * start of the text is skipped.
 */
AP_API int ap_scenario_run(struct ap_ctx *ctx, const char *name, const char *text,
			   FILE *out, unsigned flags);

/* ap_scenario_run() on text, named "<scenario>", output to stdout. */
AP_API int ap_scenario_exec(struct ap_ctx *ctx, const char *text);

/* Read `path` and run it; -errno of the open on failure, -EIO for a read
 * error, -EINVAL for a file with a NUL byte (not text). */
AP_API int ap_scenario_run_file(struct ap_ctx *ctx, const char *path, FILE *out,
				unsigned flags);

/* Read `in` to its end (stdin, a pipe) and run it under `name`; errors as
 * ap_scenario_run_file().  The stream stays the caller's. */
AP_API int ap_scenario_run_stream(struct ap_ctx *ctx, const char *name, FILE *in, FILE *out,
				  unsigned flags);

#ifdef __cplusplus
}
#endif

#endif /* APERTURE_SCENARIO_H */
