/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_fw.h - what the firmware fuzz targets share: import one input
 * into a fresh description, then read every record of the result (so that
 * a bad index or an unterminated string in what the importer produced is
 * found by the sanitizers), then free everything.  Every other input runs
 * with an allocation failure injected, so failure paths are fuzzed too.
 */
#ifndef AP_FUZZ_FW_H
#define AP_FUZZ_FW_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <aperture/aperture.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fw_walk(const struct ap_fw_desc *d)
{
	volatile size_t sink = 0;

	for (size_t i = 0; i < d->n_units; i++)
		sink += strlen(d->units[i].name) + d->units[i].caps.ias;
	for (size_t i = 0; i < d->n_devs; i++) {
		sink += strlen(d->devs[i].name);
		if (d->devs[i].unit >= (int)d->n_units)
			abort();
	}
	for (size_t i = 0; i < d->n_streams; i++)
		if (d->streams[i].dev >= (int)d->n_devs || d->streams[i].unit >= (int)d->n_units ||
		    d->streams[i].count == 0)
			abort();
	for (size_t i = 0; i < d->n_resv; i++)
		if (d->resv[i].dev >= (int)d->n_devs || d->resv[i].unit >= (int)d->n_units ||
		    d->resv[i].size == 0)
			abort();
	for (size_t i = 0; i < d->n_notes; i++)
		sink += strlen(d->notes[i].text);
	(void)sink;
}

static inline void fw_run(int (*fn)(struct ap_fw *, const void *, size_t), const uint8_t *data,
			  size_t size)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_fw *fw = NULL;
	int rc;

	if (!ctx || ap_fw_new(ctx, &fw))
		abort();
	if (size & 1)
		ap_ctx_fail_nth(ctx, 1 + size % 7);
	rc = fn(fw, data, size);
	if (rc == 0 || rc == -ENOMEM || rc == -EINVAL || rc == -ENOENT || rc == -EIO)
		fw_walk(ap_fw_desc(fw));
	else
		abort();
	if (rc && ap_fw_desc(fw)->n_tables)
		abort(); /* a failed import leaves nothing behind */
	ap_fw_free(fw);
	ap_ctx_free(ctx);
}

#endif
