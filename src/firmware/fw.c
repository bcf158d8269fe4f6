/* SPDX-License-Identifier: MIT */
/*
 * src/firmware/fw.c - the description the importers fill: growable arrays
 * from the context's allocator, roll-back of a failed import, errors and
 * notes, the ACPI table header, and names for printing.
 */
#include <stdio.h>
#include <string.h>

#include "fw_internal.h"

const size_t ap__fw_elem_size[FV_COUNT] = {
	[FV_UNIT] = sizeof(struct ap_fw_unit),     [FV_DEV] = sizeof(struct ap_fw_dev),
	[FV_STREAM] = sizeof(struct ap_fw_stream), [FV_RESV] = sizeof(struct ap_fw_resv),
	[FV_GROUP] = sizeof(struct ap_fw_group),   [FV_NOTE] = sizeof(struct ap_fw_note),
	[FV_TABLE] = sizeof(struct ap_fw_table),   [FV_REGS] = sizeof(struct fw_regset),
};

int ap_fw_new(struct ap_ctx *ctx, struct ap_fw **out)
{
	struct ap_fw *fw;

	if (!ctx || !out)
		return -EINVAL;
	fw = ap_mem_alloc(ctx, sizeof(*fw));
	if (!fw)
		return -ENOMEM;
	fw->ctx = ctx;
	*out = fw;
	return 0;
}

void ap_fw_free(struct ap_fw *fw)
{
	if (!fw)
		return;
	for (int i = 0; i < FV_COUNT; i++)
		ap_mem_free(fw->ctx, fw->vec[i].v);
	ap_mem_free(fw->ctx, fw);
}

const char *ap_fw_error(const struct ap_fw *fw)
{
	return fw ? fw->err : "";
}

/* The public view of the arrays, refreshed after every import. */
static void sync_desc(struct ap_fw *fw)
{
	struct ap_fw_desc *d = &fw->desc;

	d->units = fw->vec[FV_UNIT].v;
	d->n_units = fw->vec[FV_UNIT].n;
	d->devs = fw->vec[FV_DEV].v;
	d->n_devs = fw->vec[FV_DEV].n;
	d->streams = fw->vec[FV_STREAM].v;
	d->n_streams = fw->vec[FV_STREAM].n;
	d->resv = fw->vec[FV_RESV].v;
	d->n_resv = fw->vec[FV_RESV].n;
	d->groups = fw->vec[FV_GROUP].v;
	d->n_groups = fw->vec[FV_GROUP].n;
	d->notes = fw->vec[FV_NOTE].v;
	d->n_notes = fw->vec[FV_NOTE].n;
	d->tables = fw->vec[FV_TABLE].v;
	d->n_tables = fw->vec[FV_TABLE].n;
}

const struct ap_fw_desc *ap_fw_desc(const struct ap_fw *fw)
{
	return &fw->desc;
}

const char *ap__fw_strf(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	return dst;
}

int ap__fw_err(struct ap_fw *fw, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fw->err, sizeof(fw->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int ap__fw_nomem(struct ap_fw *fw)
{
	snprintf(fw->err, sizeof(fw->err), "out of memory");
	return -ENOMEM;
}

void *ap__fw_push(struct ap_fw *fw, enum fw_vecs which)
{
	struct fw_vec *v = &fw->vec[which];
	size_t size = ap__fw_elem_size[which];
	void *e;

	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		void *nv = ap_mem_realloc(fw->ctx, v->v, cap * size);

		if (!nv) {
			ap__fw_nomem(fw);
			return NULL;
		}
		v->v = nv;
		v->cap = cap;
	}
	e = (char *)v->v + v->n * size;
	memset(e, 0, size);
	v->n++;
	return e;
}

int ap__fw_note(struct ap_fw *fw, enum ap_fw_note_level level, const char *fmt, ...)
{
	struct ap_fw_note *n = ap__fw_push(fw, FV_NOTE);
	va_list ap;

	if (!n)
		return -ENOMEM;
	n->level = level;
	va_start(ap, fmt);
	vsnprintf(n->text, sizeof(n->text), fmt, ap);
	va_end(ap);
	return 0;
}

static void mark_free(struct ap_fw *fw, struct fw_mark *m)
{
	for (int i = 0; i < FV_COUNT; i++) {
		ap_mem_free(fw->ctx, m->saved[i]);
		m->saved[i] = NULL;
	}
}

int ap__fw_mark(struct ap_fw *fw, struct fw_mark *m)
{
	memset(m->saved, 0, sizeof(m->saved)); /* a failure below frees them all */
	for (int i = 0; i < FV_COUNT; i++) {
		size_t bytes = fw->vec[i].n * ap__fw_elem_size[i];

		m->n[i] = fw->vec[i].n;
		if (!bytes)
			continue;
		m->saved[i] = ap_mem_alloc(fw->ctx, bytes);
		if (!m->saved[i]) {
			mark_free(fw, m);
			return ap__fw_nomem(fw);
		}
		memcpy(m->saved[i], fw->vec[i].v, bytes);
	}
	m->bypass = fw->smmu_bypass_param;
	return 0;
}

/* Register sets apply to units by base address; later values win. */
static void apply_regs(struct ap_fw *fw)
{
	for (size_t i = 0; i < FW_N(fw, FV_UNIT); i++) {
		struct ap_fw_unit *u = FW_UNIT(fw, i);

		for (size_t r = 0; r < FW_N(fw, FV_REGS); r++) {
			const struct fw_regset *s = fw_at(fw, FV_REGS, r);

			if (s->base != u->base)
				continue;
			for (int k = 0; k < AP_FW_NREGS; k++)
				if (s->have & (1u << k))
					u->regs[k] = s->regs[k];
			u->have |= s->have;
		}
		ap__fw_caps_decode(u, fw->smmu_bypass_param);
	}
}

int ap__fw_finish(struct ap_fw *fw, struct fw_mark *m, int rc)
{
	if (rc < 0) {
		for (int i = 0; i < FV_COUNT; i++) {
			fw->vec[i].n = m->n[i];
			if (m->saved[i])
				memcpy(fw->vec[i].v, m->saved[i], m->n[i] * ap__fw_elem_size[i]);
		}
		fw->smmu_bypass_param = m->bypass;
	} else {
		fw->err[0] = '\0';
	}
	mark_free(fw, m);
	apply_regs(fw);
	sync_desc(fw);
	return rc;
}

int ap__fw_unit_by_base(const struct ap_fw *fw, uint64_t base, enum ap_fw_unit_kind kind)
{
	for (size_t i = 0; i < FW_N(fw, FV_UNIT); i++) {
		const struct ap_fw_unit *u = FW_UNIT(fw, i);

		if (u->base == base && (!kind || u->kind == kind))
			return (int)i;
	}
	return -1;
}

int ap__fw_dev_find(const struct ap_fw *fw, const char *name)
{
	for (size_t i = 0; i < FW_N(fw, FV_DEV); i++)
		if (!strcmp(FW_DEV(fw, i)->name, name))
			return (int)i;
	return -1;
}

int ap__fw_dev_get(struct ap_fw *fw, const char *name, enum ap_fw_dev_type type,
		   enum ap_fw_origin origin, bool *created)
{
	int i = ap__fw_dev_find(fw, name);
	struct ap_fw_dev *d;

	if (created)
		*created = i < 0;
	if (i >= 0)
		return i;
	d = ap__fw_push(fw, FV_DEV);
	if (!d)
		return -ENOMEM;
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->type = type;
	d->origin = origin;
	d->unit = -1;
	d->group = -1;
	return (int)FW_N(fw, FV_DEV) - 1;
}

int ap__fw_acpi_table(struct ap_fw *fw, const void *buf, size_t len, const char *sig,
		      size_t hdr, struct fw_tbl *t, size_t *index)
{
	struct ap_fw_table *rec = ap__fw_push(fw, FV_TABLE);
	const uint8_t *p = buf;
	uint32_t length;
	uint8_t sum = 0;

	if (!rec)
		return -ENOMEM;
	*index = FW_N(fw, FV_TABLE) - 1;
	t->p = p;
	t->sig = sig;
	if (!buf || len < 36)
		return ap__fw_err(fw, "%s +0x0: %zu bytes, shorter than the 36-byte ACPI table header",
				  sig, buf ? len : 0);
	if (memcmp(p, sig, 4))
		return ap__fw_err(fw, "%s +0x0: Signature is \"%.4s\", not \"%s\"", sig,
				  (const char *)p, sig);
	t->len = len;
	length = rd32(t, 4);
	if (length < 36)
		return ap__fw_err(fw, "%s +0x4: Length %u is shorter than the 36-byte header",
				  sig, length);
	if (length > len)
		return ap__fw_err(fw, "%s +0x4: Length %u runs past the %zu bytes given", sig,
				  length, len);
	t->len = length;
	for (uint32_t i = 0; i < length; i++)
		sum = (uint8_t)(sum + p[i]);
	if (sum)
		return ap__fw_err(fw, "%s +0x9: Checksum 0x%02x is wrong (bytes sum to 0x%02x, not 0); "
				  "Linux (ACPICA) refuses to install such a table", sig, p[9], sum);
	memcpy(rec->signature, sig, 4);
	rec->revision = p[8];
	memcpy(rec->oem_id, p + 10, 6);
	for (int i = 0; i < 6; i++)
		if (rec->oem_id[i] < 0x20 || rec->oem_id[i] > 0x7e)
			rec->oem_id[i] = '?';
	rec->length = length;
	if (length < hdr)
		return ap__fw_err(fw, "%s +0x4: Length %u is shorter than the %zu-byte %s header",
				  sig, length, hdr, sig);
	if (length < len)
		return ap__fw_note(fw, AP_FW_NOTE, "%s: %zu bytes given, the table's Length is %u; "
				   "the rest is ignored", sig, len, length);
	return 0;
}

const char *ap_fw_unit_kind_name(enum ap_fw_unit_kind kind)
{
	switch (kind) {
	case AP_FW_VTD: return "intel-vtd";
	case AP_FW_SMMUV3: return "arm-smmu-v3";
	case AP_FW_ARM_SMMU: return "arm-smmu";
	}
	return "?";
}

const char *ap_fw_smmu_model_name(unsigned model)
{
	static const char *const names[] = { "smmu-v1", "smmu-v2", "mmu-400", "mmu-500",
					     "mmu-401", "thunderx" };

	return model < sizeof(names) / sizeof(names[0]) ? names[model] : "?";
}

const char *ap_fw_dev_type_name(enum ap_fw_dev_type type)
{
	static const char *const names[] = { "?", "pci", "pci-bridge", "ioapic", "hpet",
					     "acpi", "named-component", "root-complex",
					     "platform" };

	return (unsigned)type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

const char *ap_fw_origin_name(enum ap_fw_origin origin)
{
	static const char *const names[] = { "?", "dmar", "iort", "dt", "sysfs", "regs" };

	return (unsigned)origin < sizeof(names) / sizeof(names[0]) ? names[origin] : "?";
}
