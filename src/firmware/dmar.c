/* SPDX-License-Identifier: MIT */
/*
 * src/firmware/dmar.c - ACPI DMAR (Intel VT-d spec, chapter 8 "BIOS
 * Considerations"): remapping units (DRHD) and whom they serve, reserved
 * memory (RMRR), ATS (ATSR, SATC), proximity (RHSA), ACPI namespace
 * devices (ANDD) and SoC-integrated devices (SIDP).
 *
 * Two passes: the first checks every structure's header and length and
 * collects ANDD names, so that the second reads contents knowing that
 * every structure lies inside the table.
 */
#include <stdio.h>
#include <string.h>

#include "fw_internal.h"

#define DMAR_HDR 48
enum { DRHD = 0, RMRR = 1, ATSR = 2, RHSA = 3, ANDD = 4, SATC = 5, SIDP = 6, NTYPES = 7 };
static const char *const type_name[NTYPES] = { "DRHD", "RMRR", "ATSR", "RHSA", "ANDD",
					       "SATC", "SIDP" };
/* The fixed part of each structure, before any device scope. */
static const unsigned min_len[NTYPES] = { 16, 24, 8, 20, 9, 8, 8 };

enum { SCOPE_ENDPOINT = 1, SCOPE_BRIDGE = 2, SCOPE_IOAPIC = 3, SCOPE_HPET = 4,
       SCOPE_NAMESPACE = 5 };

struct dmar {
	struct ap_fw *fw;
	struct fw_tbl t;
	size_t rec;              /* index of the table record */
	size_t andd_off[256];    /* ANDD structure by ACPI device number */
	size_t first_unit;       /* units this table added start here */
	size_t first_dev;
	unsigned haw;
};

/* What a scope walk hands each scope to. */
struct scope {
	size_t off;              /* of the scope entry */
	uint8_t type, len, flags, enum_id, bus;
	uint16_t segment;
	char name[64];
	uint32_t rid;
	bool behind;             /* a path through bridges: rid unknown */
};

typedef int (*scope_fn)(struct dmar *d, size_t sub, const struct scope *s, void *arg);

static struct ap_fw_table *rec(struct dmar *d)
{
	return fw_at(d->fw, FV_TABLE, d->rec);
}

/* The name and requester ID of a PCI scope: bus, then device/function
 * pairs.  A path of more than one hop crosses bridges whose secondary bus
 * only PCI config space knows; the name keeps the hops. */
static int pci_name(struct dmar *d, size_t sub, struct scope *s)
{
	size_t hops = (s->len - 6u) / 2, at = s->off + 6;
	int n;

	if (hops == 0)
		return ap__fw_err(d->fw, "DMAR +0x%zx: device scope (type %u) of the %s at +0x%zx "
				  "has no path entry", s->off, s->type,
				  type_name[rd16(&d->t, sub)], sub);
	s->behind = hops > 1;
	n = snprintf(s->name, sizeof(s->name), "%04x:%02x:%02x.%x", s->segment, s->bus,
		     rd8(&d->t, at) & 0x1f, rd8(&d->t, at + 1) & 7);
	s->rid = (uint32_t)s->bus << 8 | (rd8(&d->t, at) & 0x1fu) << 3 | (rd8(&d->t, at + 1) & 7u);
	for (size_t h = 1; h < hops && n > 0 && (size_t)n < sizeof(s->name); h++) {
		at += 2;
		n += snprintf(s->name + n, sizeof(s->name) - (size_t)n, "/%02x.%x",
			      rd8(&d->t, at) & 0x1f, rd8(&d->t, at + 1) & 7);
		s->rid = (s->rid & 0xff00u) | (rd8(&d->t, at) & 0x1fu) << 3 | (rd8(&d->t, at + 1) & 7u);
	}
	return 0;
}

/* Name an interrupt source or namespace device by its enumeration ID; its
 * requester ID is the scope's bus and path, as for PCI devices. */
static void enum_name(struct dmar *d, struct scope *s)
{
	size_t ando;

	s->rid = (uint32_t)s->bus << 8;
	if (s->len >= 8)
		s->rid |= (rd8(&d->t, s->off + 6) & 0x1fu) << 3 | (rd8(&d->t, s->off + 7) & 7u);
	if (s->type == SCOPE_IOAPIC)
		snprintf(s->name, sizeof(s->name), "ioapic%u", s->enum_id);
	else if (s->type == SCOPE_HPET)
		snprintf(s->name, sizeof(s->name), "hpet%u", s->enum_id);
	else if ((ando = d->andd_off[s->enum_id]) != 0)
		snprintf(s->name, sizeof(s->name), "%s", (const char *)d->t.p + ando + 8);
	else
		snprintf(s->name, sizeof(s->name), "acpi-ns%u", s->enum_id);
}

/* Walk the device scopes of the structure at `sub` from `start`. */
static int scopes(struct dmar *d, size_t sub, size_t start, uint16_t segment, scope_fn fn,
		  void *arg)
{
	size_t end = sub + rd16(&d->t, sub + 2), off = start;
	const char *what = type_name[rd16(&d->t, sub)];
	int rc;

	while (off < end) {
		struct scope s = { .off = off, .segment = segment };

		if (end - off < 2)
			return ap__fw_err(d->fw, "DMAR +0x%zx: device scope header cut off by the end "
					  "of the %s at +0x%zx", off, what, sub);
		s.type = rd8(&d->t, off);
		s.len = rd8(&d->t, off + 1);
		if (s.len < 6)
			return ap__fw_err(d->fw, "DMAR +0x%zx: device scope Length %u is shorter than "
					  "its 6-byte header", off + 1, s.len);
		if (s.len > end - off)
			return ap__fw_err(d->fw, "DMAR +0x%zx: device scope Length %u runs past the end "
					  "of the %s at +0x%zx (ends at +0x%zx)", off + 1, s.len,
					  what, sub, end);
		if ((s.len - 6) % 2)
			return ap__fw_err(d->fw, "DMAR +0x%zx: device scope Length %u leaves half a "
					  "path entry", off + 1, s.len);
		s.flags = rd8(&d->t, off + 2);
		s.enum_id = rd8(&d->t, off + 4);
		s.bus = rd8(&d->t, off + 5);
		if (s.type == SCOPE_ENDPOINT || s.type == SCOPE_BRIDGE) {
			if ((rc = pci_name(d, sub, &s)))
				return rc;
		} else if (s.type >= SCOPE_IOAPIC && s.type <= SCOPE_NAMESPACE) {
			enum_name(d, &s);
		} else {
			rc = ap__fw_note(d->fw, AP_FW_WARNING, "DMAR +0x%zx: device scope type %u is "
					 "unknown; skipped (Linux: \"Unsupported device scope\")",
					 off, s.type);
			if (rc)
				return rc;
			off += s.len;
			continue;
		}
		if ((rc = fn(d, sub, &s, arg)))
			return rc;
		off += s.len;
	}
	return 0;
}

static enum ap_fw_dev_type scope_dev_type(uint8_t type)
{
	switch (type) {
	case SCOPE_ENDPOINT: return AP_FW_DEV_PCI;
	case SCOPE_BRIDGE: return AP_FW_DEV_PCI_BRIDGE;
	case SCOPE_IOAPIC: return AP_FW_DEV_IOAPIC;
	case SCOPE_HPET: return AP_FW_DEV_HPET;
	default: return AP_FW_DEV_ACPI;
	}
}

/* The device a scope names, created on first sight. */
static int scope_dev(struct dmar *d, const struct scope *s)
{
	bool created;
	int i = ap__fw_dev_get(d->fw, s->name, scope_dev_type(s->type), AP_FW_DMAR, &created);
	struct ap_fw_dev *dev;

	if (i < 0)
		return i;
	dev = FW_DEV(d->fw, (size_t)i);
	if (created) {
		dev->segment = s->segment;
		dev->rid = s->rid;
		dev->enum_id = s->type <= SCOPE_BRIDGE ? 0 : s->enum_id;
		dev->where = (uint32_t)s->off;
		if (s->type <= SCOPE_BRIDGE || s->type == SCOPE_NAMESPACE)
			dev->flags |= AP_FW_DEV_DMA;
		if (s->behind)
			dev->flags |= AP_FW_DEV_BEHIND;
	}
	return i;
}

static int drhd_scope(struct dmar *d, size_t sub, const struct scope *s, void *arg)
{
	int unit = *(int *)arg, i = scope_dev(d, s);
	struct ap_fw_dev *dev;

	if (i < 0)
		return i;
	dev = FW_DEV(d->fw, (size_t)i);
	if (dev->unit >= 0 && dev->unit != unit)
		return ap__fw_note(d->fw, AP_FW_WARNING, "DMAR +0x%zx: %s is in the scope of %s and "
				   "of the DRHD at +0x%zx; Linux uses the first", s->off, dev->name,
				   FW_UNIT(d->fw, (size_t)dev->unit)->name, sub);
	dev->unit = unit;
	return 0;
}

static int parse_drhd(struct dmar *d, size_t sub)
{
	struct ap_fw_unit *u;
	uint64_t base = rd64(&d->t, sub + 8);
	int unit, vtd = 0;

	if (base == 0)
		return ap__fw_err(d->fw, "DMAR +0x%zx: DRHD Register Base Address is 0; Linux "
				  "(\"Your BIOS is broken; DMAR reported at address zero\") "
				  "disables VT-d", sub + 8);
	if (ap__fw_unit_by_base(d->fw, base, AP_FW_VTD) >= 0)
		return ap__fw_err(d->fw, "DMAR +0x%zx: DRHD Register Base Address 0x%llx is "
				  "already a remapping unit", sub + 8, (unsigned long long)base);
	for (size_t i = 0; i < FW_N(d->fw, FV_UNIT); i++)
		vtd += FW_UNIT(d->fw, i)->kind == AP_FW_VTD;
	u = ap__fw_push(d->fw, FV_UNIT);
	if (!u)
		return -ENOMEM;
	snprintf(u->name, sizeof(u->name), "dmar%d", vtd);
	u->kind = AP_FW_VTD;
	u->origin = AP_FW_DMAR;
	u->base = base;
	u->segment = rd16(&d->t, sub + 6);
	u->where = (uint32_t)sub;
	u->haw = d->haw;
	/* Size (bits 3:0): the register set spans 2^Size 4 KiB pages. */
	u->span = 4096ull << (rd8(&d->t, sub + 5) & 0xf);
	if (rd8(&d->t, sub + 4) & 1)
		u->flags |= AP_FW_UNIT_PCI_ALL;
	unit = (int)FW_N(d->fw, FV_UNIT) - 1;
	return scopes(d, sub, sub + 16, (uint16_t)u->segment, drhd_scope, &unit);
}

struct rmrr_arg {
	uint64_t base, size;
};

static int rmrr_scope(struct dmar *d, size_t sub, const struct scope *s, void *arg)
{
	const struct rmrr_arg *r = arg;
	int i = scope_dev(d, s);
	struct ap_fw_resv *v;

	if (i < 0)
		return i;
	FW_DEV(d->fw, (size_t)i)->flags |= AP_FW_DEV_RMRR;
	v = ap__fw_push(d->fw, FV_RESV);
	if (!v)
		return -ENOMEM;
	v->dev = i;
	v->unit = -1;
	v->start = r->base;
	v->size = r->size;
	v->type = AP_RESV_DIRECT;
	v->origin = AP_FW_DMAR;
	v->where = (uint32_t)sub;
	return 0;
}

static int parse_rmrr(struct dmar *d, size_t sub)
{
	uint64_t base = rd64(&d->t, sub + 8), end = rd64(&d->t, sub + 16);
	struct rmrr_arg r = { base, end - base + 1 };
	int rc;

	if (end < base)
		return ap__fw_err(d->fw, "DMAR +0x%zx: RMRR End Address 0x%llx is below its Base "
				  "Address 0x%llx", sub + 16, (unsigned long long)end,
				  (unsigned long long)base);
	if (r.size == 0)
		return ap__fw_err(d->fw, "DMAR +0x%zx: RMRR Base Address 0x0 to End Address 0x%llx "
				  "covers the whole address space, which no region size holds",
				  sub + 8, (unsigned long long)end);
	if ((base & 0xfff) || ((end + 1) & 0xfff)) {
		rc = ap__fw_note(d->fw, AP_FW_WARNING, "DMAR +0x%zx: RMRR [0x%llx-0x%llx] is not "
				 "4 KiB aligned; Linux warns (\"Your BIOS is broken; bad RMRR\") "
				 "and uses it", sub, (unsigned long long)base,
				 (unsigned long long)end);
		if (rc)
			return rc;
	}
	return scopes(d, sub, sub + 24, rd16(&d->t, sub + 6), rmrr_scope, &r);
}

static int flag_scope(struct dmar *d, size_t sub, const struct scope *s, void *arg)
{
	int i = scope_dev(d, s);

	(void)sub;
	if (i < 0)
		return i;
	FW_DEV(d->fw, (size_t)i)->flags |= *(unsigned *)arg;
	return 0;
}

static int parse_atsr(struct dmar *d, size_t sub)
{
	unsigned flags = AP_FW_DEV_ATS;
	uint16_t seg = rd16(&d->t, sub + 6);

	if (rd8(&d->t, sub + 4) & 1) /* ALL_PORTS */
		for (size_t i = d->first_unit; i < FW_N(d->fw, FV_UNIT); i++)
			if (FW_UNIT(d->fw, i)->segment == seg)
				FW_UNIT(d->fw, i)->flags |= AP_FW_UNIT_ATS;
	return scopes(d, sub, sub + 8, seg, flag_scope, &flags);
}

static int parse_satc(struct dmar *d, size_t sub)
{
	unsigned flags = AP_FW_DEV_ATS | ((rd8(&d->t, sub + 4) & 1) ? AP_FW_DEV_ATC_REQ : 0);

	return scopes(d, sub, sub + 8, rd16(&d->t, sub + 6), flag_scope, &flags);
}

static int parse_sidp(struct dmar *d, size_t sub)
{
	unsigned flags = AP_FW_DEV_SIDP;

	return scopes(d, sub, sub + 8, rd16(&d->t, sub + 6), flag_scope, &flags);
}

/* RHSA names its unit by base address, which may come later in the table:
 * run after every DRHD is in. */
static int parse_rhsa(struct dmar *d, size_t sub)
{
	uint64_t base = rd64(&d->t, sub + 8);
	int u = ap__fw_unit_by_base(d->fw, base, AP_FW_VTD);

	if (u < (int)d->first_unit)
		return ap__fw_note(d->fw, AP_FW_WARNING, "DMAR +0x%zx: RHSA names 0x%llx, which is "
				   "no DRHD of this table; Linux warns (\"Your BIOS is broken; RHSA "
				   "refers to non-existent DMAR unit\") and ignores it", sub + 8,
				   (unsigned long long)base);
	FW_UNIT(d->fw, (size_t)u)->proximity = rd32(&d->t, sub + 16);
	FW_UNIT(d->fw, (size_t)u)->flags |= AP_FW_UNIT_PROXIMITY;
	return 0;
}

/* Pass 1: structure headers and lengths; ANDD names. */
static int check_andd(struct dmar *d, size_t sub, uint16_t len)
{
	uint8_t num = rd8(&d->t, sub + 7);

	if (!memchr(d->t.p + sub + 8, 0, len - 8u))
		return ap__fw_err(d->fw, "DMAR +0x%zx: ANDD Object Name is not NUL-terminated "
				  "within its Length %u; Linux refuses it (\"Your BIOS is broken; "
				  "ANDD object name is not NUL-terminated\")", sub + 8, len);
	if (d->andd_off[num])
		return ap__fw_note(d->fw, AP_FW_WARNING, "DMAR +0x%zx: a second ANDD for ACPI device "
				   "number %u; the first one names it", sub, num);
	d->andd_off[num] = sub;
	return 0;
}

static int walk_headers(struct dmar *d)
{
	size_t off = DMAR_HDR;
	int rc;

	while (off < d->t.len) {
		uint16_t type, len;

		if (d->t.len - off < 4)
			return ap__fw_err(d->fw, "DMAR +0x%zx: remapping structure header cut off by "
					  "the end of the table", off);
		type = rd16(&d->t, off);
		len = rd16(&d->t, off + 2);
		if (len == 0)
			return ap__fw_err(d->fw, "DMAR +0x%zx: Length of a type-%u structure is 0; "
					  "Linux stops (\"Invalid 0-length structure\")", off + 2, type);
		if (len > d->t.len - off)
			return ap__fw_err(d->fw, "DMAR +0x%zx: Length %u of a type-%u structure runs "
					  "past the table end at +0x%zx (\"Record passes table end\")",
					  off + 2, len, type, d->t.len);
		if (type < NTYPES && len < min_len[type])
			return ap__fw_err(d->fw, "DMAR +0x%zx: %s Length %u is shorter than its "
					  "%u-byte header", off + 2, type_name[type], len,
					  min_len[type]);
		if (type == ANDD && (rc = check_andd(d, off, len)))
			return rc;
		off += len;
	}
	return 0;
}

/* Pass 2: contents, in table order; RHSA after all DRHDs. */
static int walk_contents(struct dmar *d, bool rhsa_pass)
{
	static int (*const parse[NTYPES])(struct dmar *, size_t) = {
		[DRHD] = parse_drhd, [RMRR] = parse_rmrr, [ATSR] = parse_atsr,
		[SATC] = parse_satc, [SIDP] = parse_sidp,
	};
	size_t off = DMAR_HDR;
	int rc = 0;

	for (; off < d->t.len && !rc; off += rd16(&d->t, off + 2)) {
		uint16_t type = rd16(&d->t, off);

		if (rhsa_pass) {
			if (type == RHSA)
				rc = parse_rhsa(d, off);
			continue;
		}
		if (type >= NTYPES) {
			rec(d)->unknown++;
			rc = ap__fw_note(d->fw, AP_FW_NOTE, "DMAR +0x%zx: remapping structure type "
					 "%u is unknown; skipped, as Linux does", off, type);
			continue;
		}
		rec(d)->count[type]++;
		rec(d)->nodes++;
		if (parse[type])
			rc = parse[type](d, off);
	}
	return rc;
}

/* PCI devices no DRHD names belong to the INCLUDE_PCI_ALL unit of their
 * segment (the first, as Linux's list puts such units last in order). */
static int include_all(struct dmar *d)
{
	for (size_t i = d->first_unit; i < FW_N(d->fw, FV_UNIT); i++) {
		struct ap_fw_unit *u = FW_UNIT(d->fw, i);
		int rc;

		if (!(u->flags & AP_FW_UNIT_PCI_ALL))
			continue;
		for (size_t j = i + 1; j < FW_N(d->fw, FV_UNIT); j++) {
			const struct ap_fw_unit *w = FW_UNIT(d->fw, j);

			if (w->segment != u->segment)
				continue;
			rc = ap__fw_note(d->fw, w->flags & AP_FW_UNIT_PCI_ALL ? AP_FW_WARNING : AP_FW_NOTE,
					 "DMAR +0x%x: %s (INCLUDE_PCI_ALL) is not the last DRHD of "
					 "segment %u as VT-d requires; Linux orders it last anyway",
					 u->where, u->name, u->segment);
			if (rc)
				return rc;
			break;
		}
		for (size_t k = d->first_dev; k < FW_N(d->fw, FV_DEV); k++) {
			struct ap_fw_dev *dev = FW_DEV(d->fw, k);

			if (dev->unit < 0 && dev->segment == u->segment &&
			    (dev->type == AP_FW_DEV_PCI || dev->type == AP_FW_DEV_PCI_BRIDGE))
				dev->unit = (int)i;
		}
	}
	return 0;
}

/* ACPI namespace scopes whose enumeration ID has no ANDD stay unbound. */
static int check_namespace(struct dmar *d)
{
	for (size_t k = d->first_dev; k < FW_N(d->fw, FV_DEV); k++) {
		const struct ap_fw_dev *dev = FW_DEV(d->fw, k);
		int rc;

		if (dev->type != AP_FW_DEV_ACPI || strncmp(dev->name, "acpi-ns", 7))
			continue;
		rc = ap__fw_note(d->fw, AP_FW_WARNING, "DMAR +0x%x: ACPI namespace scope with "
				 "enumeration ID %u matches no ANDD; Linux binds no device to it",
				 dev->where, dev->enum_id);
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_dmar(struct dmar *d, const void *buf, size_t len)
{
	int rc;

	if ((rc = ap__fw_acpi_table(d->fw, buf, len, "DMAR", DMAR_HDR, &d->t, &d->rec)))
		return rc;
	d->haw = rd8(&d->t, 36) + 1u;
	rec(d)->haw = d->haw;
	rec(d)->flags = rd8(&d->t, 37);
	/* Linux: a width below PAGE_SHIFT - 1 is "Invalid DMAR haw". */
	if (d->haw < 12)
		return ap__fw_err(d->fw, "DMAR +0x24: Host Address Width %u is invalid (below 12 "
				  "bits); Linux refuses the table", d->haw);
	if ((rc = walk_headers(d)) || (rc = walk_contents(d, false)) ||
	    (rc = walk_contents(d, true)) || (rc = include_all(d)) || (rc = check_namespace(d)))
		return rc;
	if (d->haw > 52)
		return ap__fw_note(d->fw, AP_FW_WARNING, "DMAR +0x24: Host Address Width %u is "
				   "wider than the 52 bits a VT-d page table can hold", d->haw);
	return 0;
}

int ap_fw_add_dmar(struct ap_fw *fw, const void *buf, size_t len)
{
	struct fw_mark m;
	struct dmar *d;
	int rc;

	if (!fw)
		return -EINVAL;
	if ((rc = ap__fw_mark(fw, &m)))
		return rc;
	d = ap_mem_alloc(fw->ctx, sizeof(*d));
	if (!d)
		return ap__fw_finish(fw, &m, ap__fw_nomem(fw));
	d->fw = fw;
	d->first_unit = FW_N(fw, FV_UNIT);
	d->first_dev = FW_N(fw, FV_DEV);
	rc = parse_dmar(d, buf, len);
	ap_mem_free(fw->ctx, d);
	return ap__fw_finish(fw, &m, rc);
}
