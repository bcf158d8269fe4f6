/* SPDX-License-Identifier: MIT */
/*
 * src/firmware/fw_internal.h - what the importers share: the growing
 * description, bounded little-endian reads, errors and notes.
 */
#ifndef AP_FW_INTERNAL_H
#define AP_FW_INTERNAL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <aperture/firmware.h>

/* Register values waiting for (or applied to) the unit at `base`. */
struct fw_regset {
	uint64_t base;
	unsigned have;
	uint64_t regs[AP_FW_NREGS];
	bool bypass_param;   /* sysfs: Arm SMMU disable_bypass=N */
};

/* One growable array: elements of `size` bytes. */
struct fw_vec {
	void *v;
	size_t n, cap;
};

enum fw_vecs { FV_UNIT, FV_DEV, FV_STREAM, FV_RESV, FV_GROUP, FV_NOTE, FV_TABLE, FV_REGS,
	       FV_COUNT };

struct ap_fw {
	struct ap_ctx *ctx;
	struct fw_vec vec[FV_COUNT];
	bool smmu_bypass_param;      /* sysfs arm_smmu disable_bypass=N */
	struct ap_fw_desc desc;
	char err[256];
};

/* The sizes in enum fw_vecs order. */
extern const size_t ap__fw_elem_size[FV_COUNT];

/* A saved state of every array, for rolling a failed import back: the
 * lengths, and a copy of the elements, which an import may change in
 * place (a device's unit and flags, a register set's values). */
struct fw_mark {
	size_t n[FV_COUNT];
	void *saved[FV_COUNT];
	bool bypass;
};

/* Take the mark; -ENOMEM (with the error set, nothing to finish) when the
 * copies cannot be made. */
int ap__fw_mark(struct ap_fw *fw, struct fw_mark *m);
/* Finish an import: on rc < 0 roll back to m; then recompute
 * capabilities and free the mark's copies.  Returns rc. */
int ap__fw_finish(struct ap_fw *fw, struct fw_mark *m, int rc);

/* A new zeroed element at the end of array `which`, NULL (and the error
 * set) when out of memory.  Earlier element pointers may move. */
void *ap__fw_push(struct ap_fw *fw, enum fw_vecs which);
static inline void *fw_at(const struct ap_fw *fw, enum fw_vecs which, size_t i)
{
	return (char *)fw->vec[which].v + i * ap__fw_elem_size[which];
}
#define FW_N(fw, which) ((fw)->vec[which].n)
#define FW_UNIT(fw, i) ((struct ap_fw_unit *)fw_at(fw, FV_UNIT, i))
#define FW_DEV(fw, i) ((struct ap_fw_dev *)fw_at(fw, FV_DEV, i))

/* Set the error (printf) and return -EINVAL. */
int ap__fw_err(struct ap_fw *fw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* -ENOMEM with "out of memory" as the error. */
int ap__fw_nomem(struct ap_fw *fw);
/* Add a note; -ENOMEM when that fails. */
int ap__fw_note(struct ap_fw *fw, enum ap_fw_note_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A table in memory, for bounded reads.  All offsets are from the table
 * start; `len` is the table's own Length (never more than the buffer). */
struct fw_tbl {
	const uint8_t *p;
	size_t len;
	const char *sig;
};

static inline uint8_t rd8(const struct fw_tbl *t, size_t off) { return t->p[off]; }
static inline uint16_t rd16(const struct fw_tbl *t, size_t off)
{
	return (uint16_t)(t->p[off] | t->p[off + 1] << 8);
}
static inline uint32_t rd32(const struct fw_tbl *t, size_t off)
{
	return (uint32_t)t->p[off] | (uint32_t)t->p[off + 1] << 8 |
	       (uint32_t)t->p[off + 2] << 16 | (uint32_t)t->p[off + 3] << 24;
}
static inline uint64_t rd64(const struct fw_tbl *t, size_t off)
{
	return rd32(t, off) | (uint64_t)rd32(t, off + 4) << 32;
}
/* Whether [off, off+size) lies in [0, end); never overflows. */
static inline bool fw_fits(size_t off, size_t size, size_t end)
{
	return off <= end && size <= end - off;
}

/*
 * Start an ACPI table: a new table record (its index in *rec), then the
 * header checked: at least 36 bytes, the signature, a Length that fits the
 * buffer and covers the table's own header of `hdr` bytes, a zero byte
 * sum.  Fills the record's header facts and `t`.
 */
int ap__fw_acpi_table(struct ap_fw *fw, const void *buf, size_t len, const char *sig,
		      size_t hdr, struct fw_tbl *t, size_t *rec);

/* Find a unit by base address and kind (0: any), -1 if none. */
int ap__fw_unit_by_base(const struct ap_fw *fw, uint64_t base, enum ap_fw_unit_kind kind);
/* Find or add a device by name (and segment); its index, or -ENOMEM. */
int ap__fw_dev_get(struct ap_fw *fw, const char *name, enum ap_fw_dev_type type,
		   enum ap_fw_origin origin, bool *created);
int ap__fw_dev_find(const struct ap_fw *fw, const char *name);

/* Capabilities from registers (regs.c). */
void ap__fw_caps_decode(struct ap_fw_unit *u, bool bypass_param);

/* Register values (regs.c): set one; or set one checked as Linux's
 * drivers check it, naming `what` in the error. */
int ap__fw_regs_set(struct ap_fw *fw, uint64_t base, enum ap_fw_reg r, uint64_t v);
int ap__fw_regs_checked(struct ap_fw *fw, const char *what, uint64_t base, enum ap_fw_reg r,
			uint64_t v);

/* snprintf into a fixed buffer, never failing (truncates); returns dst. */
const char *ap__fw_strf(char *dst, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
