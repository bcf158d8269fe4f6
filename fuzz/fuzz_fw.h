/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_fw.h - what the firmware fuzz targets share: import one input
 * into a fresh description, then read every record of the result (so that
 * a bad index or an unterminated string in what the importer produced is
 * found by the sanitizers); import it again on top and check that a
 * refusal changed nothing; apply the description to a machine and audit
 * it; then free everything.  Inputs run with allocation failures injected
 * by their length, so failure paths are fuzzed too.
 */
#ifndef AP_FUZZ_FW_H
#define AP_FUZZ_FW_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aperture/aperture.h>

#include "fuzz_sink.h"

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

/* A copy of every array of the description. */
struct fw_snap {
	size_t n[7], size[7];
	const void *at[7];
	void *copy[7];
};

static inline void fw_snap_take(const struct ap_fw_desc *d, struct fw_snap *s)
{
	const void *at[7] = { d->units, d->devs, d->streams, d->resv, d->groups, d->notes,
			      d->tables };
	size_t n[7] = { d->n_units, d->n_devs, d->n_streams, d->n_resv, d->n_groups,
			d->n_notes, d->n_tables };
	size_t size[7] = { sizeof(*d->units), sizeof(*d->devs), sizeof(*d->streams),
			   sizeof(*d->resv), sizeof(*d->groups), sizeof(*d->notes),
			   sizeof(*d->tables) };

	for (int i = 0; i < 7; i++) {
		s->n[i] = n[i];
		s->size[i] = size[i];
		s->at[i] = at[i];
		s->copy[i] = malloc(n[i] * size[i] + 1);
		if (!s->copy[i])
			abort();
		if (n[i])
			memcpy(s->copy[i], at[i], n[i] * size[i]);
	}
}

/* Abort unless the description holds exactly what the snapshot does. */
static inline void fw_snap_same(const struct ap_fw_desc *d, struct fw_snap *s)
{
	struct fw_snap now;

	fw_snap_take(d, &now);
	for (int i = 0; i < 7; i++) {
		if (now.n[i] != s->n[i] || memcmp(now.copy[i], s->copy[i], s->n[i] * s->size[i]))
			abort(); /* a failed import changed the description */
		free(now.copy[i]);
		free(s->copy[i]);
	}
}

/* The machine the description makes, and its audit, on a fresh context. */
static inline void fw_apply_audit(struct ap_fw *fw)
{
	struct ap_ctx *m = ap_ctx_new();
	struct ap_fw_bypass b;
	int rc;

	if (!m)
		abort();
	rc = ap_fw_apply(fw, m, fuzz_sink());
	if (rc && rc != -EINVAL && rc != -ENOMEM)
		abort();
	for (size_t i = 0; !ap_fw_bypass(fw, i, &b); i++)
		if (!b.why || b.start > b.end || !memchr(b.who, 0, sizeof(b.who)))
			abort();
	ap_ctx_free(m);
}

static inline bool fw_rc_ok(int rc)
{
	return rc == 0 || rc == -ENOMEM || rc == -EINVAL || rc == -ENOENT || rc == -EIO;
}

/*
 * Import the input into a fresh description; if that worked, import it
 * again on top (which refuses most inputs: the second import must then
 * leave the description exactly as the first made it); then apply and
 * audit what there is.
 */
static inline void fw_run(int (*fn)(struct ap_fw *, const void *, size_t), const uint8_t *data,
			  size_t size)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_fw *fw = NULL;
	struct fw_snap snap;
	int rc;

	if (!ctx || ap_fw_new(ctx, &fw))
		abort();
	if (size & 1)
		ap_ctx_fail_nth(ctx, 1 + size % 7);
	rc = fn(fw, data, size);
	if (!fw_rc_ok(rc))
		abort();
	fw_walk(ap_fw_desc(fw));
	if (rc && ap_fw_desc(fw)->n_tables)
		abort(); /* a failed import leaves nothing behind */
	if (!rc) {
		fw_snap_take(ap_fw_desc(fw), &snap);
		if (size & 2)
			ap_ctx_fail_nth(ctx, 1 + size % 5);
		rc = fn(fw, data, size);
		if (!fw_rc_ok(rc))
			abort();
		if (rc)
			fw_snap_same(ap_fw_desc(fw), &snap);
		else
			for (int i = 0; i < 7; i++)
				free(snap.copy[i]);
		fw_walk(ap_fw_desc(fw));
	}
	ap_ctx_fail_nth(ctx, 0);
	fw_apply_audit(fw);
	ap_fw_free(fw);
	ap_ctx_free(ctx);
}

#endif
