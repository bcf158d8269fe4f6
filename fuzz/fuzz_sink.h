/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_sink.h - where the targets print the library's views: a
 * stream that accepts every byte and keeps none.
 *
 * Like /dev/null, every write succeeds, so the library's printing code
 * runs exactly as it would for a file.  Unlike it, no byte reaches the
 * kernel: an input that prints a domain of thousands of leaves pays for
 * formatting them (what is being fuzzed), not for a write(2) per buffer,
 * and the cost does not depend on what /dev/null is on the machine (in
 * some containers a plain file that grows).
 *
 * fopencookie() is glibc's (and musl's): mk/fuzz.mk builds the targets
 * with _GNU_SOURCE.
 */
#ifndef AP_FUZZ_SINK_H
#define AP_FUZZ_SINK_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

static ssize_t fuzz_sink_write(void *cookie, const char *buf, size_t len)
{
	(void)cookie;
	(void)buf;
	return (ssize_t)len;
}

/* The one sink of the process, made at first use. */
static inline FILE *fuzz_sink(void)
{
	static FILE *sink;
	static const cookie_io_functions_t io = { .write = fuzz_sink_write };

	if (!sink)
		sink = fopencookie(NULL, "w", io);
	if (!sink)
		abort();
	return sink;
}

#endif
