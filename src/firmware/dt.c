/* SPDX-License-Identifier: MIT */
/*
 * src/firmware/dt.c - a flattened devicetree through libfdt: SMMU nodes by
 * compatible (Linux's arm,smmu-v3 and arm,smmu bindings), masters with
 * `iommus` (bindings/iommu/iommu.txt), PCI hosts with `iommu-map` and
 * `iommu-map-mask` (bindings/pci/pci-iommu.txt), bus `dma-ranges`, and
 * `reserved-memory` children with `iommu-addresses`
 * (bindings/reserved-memory/reserved-memory.yaml).
 *
 * fdt_check_full() validates the whole blob before anything else reads
 * it; every property is then read with its length checked.
 */
#include <stdio.h>
#include <string.h>

#include <libfdt.h>

#include "fw_internal.h"

struct dt {
	struct ap_fw *fw;
	const void *fdt;
	size_t first_unit;
};

/* Compatible strings, most specific first. */
static const struct {
	const char *compat;
	enum ap_fw_unit_kind kind;
	unsigned model;
} smmus[] = {
	{ "arm,smmu-v3", AP_FW_SMMUV3, 0 },
	{ "arm,mmu-500", AP_FW_ARM_SMMU, AP_FW_SMMU_MMU500 },
	{ "arm,mmu-401", AP_FW_ARM_SMMU, AP_FW_SMMU_MMU401 },
	{ "arm,mmu-400", AP_FW_ARM_SMMU, AP_FW_SMMU_MMU400 },
	{ "cavium,smmu-v2", AP_FW_ARM_SMMU, AP_FW_SMMU_THUNDERX },
	{ "arm,smmu-v2", AP_FW_ARM_SMMU, AP_FW_SMMU_GENERIC_V2 },
	{ "arm,smmu-v1", AP_FW_ARM_SMMU, AP_FW_SMMU_GENERIC_V1 },
};

/* Byte offset of a property in the blob, for messages. */
static long prop_off(const struct dt *d, int node, const char *name)
{
	const struct fdt_property *p = fdt_get_property(d->fdt, node, name, NULL);

	return p ? (long)((const char *)p - (const char *)d->fdt) : (long)node;
}

/* The node's path, shortened from the left to fit a device name. */
static void node_name(const struct dt *d, int node, char *out, size_t size)
{
	char path[512];
	size_t n;

	if (fdt_get_path(d->fdt, node, path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "node@0x%x", (unsigned)node);
	n = strlen(path);
	if (n >= size) {
		memmove(path, path + (n - (size - 1)), size);
		n = size - 1;
	}
	memcpy(out, path, n + 1);
}

static int dt_err(const struct dt *d, int node, const char *prop, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int dt_err(const struct dt *d, int node, const char *prop, const char *fmt, ...)
{
	char path[64], msg[192];
	va_list ap;

	node_name(d, node, path, sizeof(path));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ap__fw_err(d->fw, "DTB +0x%lx (%s %s): %s", prop_off(d, node, prop), path, prop,
			  msg);
}

/* Read `cells` big-endian cells (1 or 2) at p as one number. */
static uint64_t cells(const fdt32_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 32 | fdt32_ld(p + i);
	return v;
}

static int addr_cells(const void *fdt, int node)
{
	int n = fdt_address_cells(fdt, node);

	return n < 0 ? 2 : n;
}

static int size_cells(const void *fdt, int node)
{
	int n = fdt_size_cells(fdt, node);

	return n < 0 ? 1 : n;
}

/* ---------------------------------------------------------------- units */

static int smmu_kind(const struct dt *d, int node)
{
	for (size_t i = 0; i < sizeof(smmus) / sizeof(smmus[0]); i++)
		if (!fdt_node_check_compatible(d->fdt, node, smmus[i].compat))
			return (int)i;
	return -1;
}

static int unit_reg(struct dt *d, int node, struct ap_fw_unit *u)
{
	int parent = fdt_parent_offset(d->fdt, node), len;
	int ac = addr_cells(d->fdt, parent), sc = size_cells(d->fdt, parent);
	const fdt32_t *reg = fdt_getprop(d->fdt, node, "reg", &len);

	if (!reg)
		return dt_err(d, node, "reg", "an SMMU node without reg");
	if (ac < 1 || ac > 2 || sc > 2 || len < (ac + sc) * 4)
		return dt_err(d, node, "reg", "%d bytes do not hold one (%d + %d)-cell entry",
			      len, ac, sc);
	u->base = cells(reg, ac);
	u->span = sc ? cells(reg + ac, sc) : 0;
	return 0;
}

static int make_unit(struct dt *d, int node, int which)
{
	struct ap_fw_unit *u = ap__fw_push(d->fw, FV_UNIT);
	const fdt32_t *mask;
	const char *name;
	int len;

	if (!u)
		return -ENOMEM;
	u->kind = smmus[which].kind;
	u->model = smmus[which].model;
	u->origin = AP_FW_DT;
	u->where = (uint32_t)node;
	name = fdt_get_name(d->fdt, node, NULL);
	snprintf(u->name, sizeof(u->name), "%s", name ? name : "smmu");
	for (size_t i = 0; i + 1 < FW_N(d->fw, FV_UNIT); i++)
		if (!strcmp(FW_UNIT(d->fw, i)->name, u->name)) {
			snprintf(u->name, sizeof(u->name), "smmu%zu", FW_N(d->fw, FV_UNIT) - 1);
			break;
		}
	if (fdt_getprop(d->fdt, node, "dma-coherent", NULL))
		u->flags |= AP_FW_UNIT_COHACC;
	mask = fdt_getprop(d->fdt, node, "stream-match-mask", &len);
	if (mask && len == 4)
		u->smr_mask = fdt32_ld(mask);
	return unit_reg(d, node, u);
}

/* The unit made from `node`, or -1. */
static int unit_of(const struct dt *d, int node)
{
	for (size_t i = d->first_unit; i < FW_N(d->fw, FV_UNIT); i++)
		if (FW_UNIT(d->fw, i)->where == (uint32_t)node)
			return (int)i;
	return -1;
}

static int find_units(struct dt *d)
{
	int depth = 0, rc;

	for (int node = fdt_next_node(d->fdt, -1, &depth); node >= 0;
	     node = fdt_next_node(d->fdt, node, &depth)) {
		int which = smmu_kind(d, node);

		if (which >= 0) {
			if ((rc = make_unit(d, node, which)))
				return rc;
		} else if (fdt_getprop(d->fdt, node, "#iommu-cells", NULL)) {
			char path[64];

			node_name(d, node, path, sizeof(path));
			rc = ap__fw_note(d->fw, AP_FW_NOTE, "DTB %s: an IOMMU aperture does not model "
					 "(not an Arm SMMU); its masters are imported without a "
					 "unit", path);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- masters */

/* The IOMMU node a phandle names, and its #iommu-cells. */
static int iommu_target(struct dt *d, int node, const char *prop, unsigned idx, uint32_t ph,
			int *ncells)
{
	int target = fdt_node_offset_by_phandle(d->fdt, ph), len;
	const fdt32_t *c;

	if (target < 0)
		return dt_err(d, node, prop, "entry %u: phandle 0x%x resolves to no node", idx, ph);
	c = fdt_getprop(d->fdt, target, "#iommu-cells", &len);
	if (!c || len != 4)
		return dt_err(d, node, prop, "entry %u: phandle 0x%x names a node without "
			      "#iommu-cells", idx, ph);
	if (fdt32_ld(c) > 2)
		return dt_err(d, node, prop, "entry %u: #iommu-cells %u (an Arm SMMU has 1 or 2)",
			      idx, fdt32_ld(c));
	*ncells = (int)fdt32_ld(c);
	return target;
}

static int dma_limit(const struct dt *d, int node, unsigned *bits);

static int master_dev(struct dt *d, int node, enum ap_fw_dev_type type)
{
	char name[64];
	struct ap_fw_dev *dev;
	bool created;
	int i, rc;

	node_name(d, node, name, sizeof(name));
	i = ap__fw_dev_get(d->fw, name, type, AP_FW_DT, &created);
	if (i < 0 || !created)
		return i;
	dev = FW_DEV(d->fw, (size_t)i);
	dev->flags |= AP_FW_DEV_DMA;
	dev->where = (uint32_t)node;
	if (fdt_getprop(d->fdt, node, "dma-coherent", NULL))
		dev->flags |= AP_FW_DEV_COHERENT;
	if ((rc = dma_limit(d, node, &dev->addr_bits)))
		return rc;
	return i;
}

static int add_stream(struct dt *d, int dev, int unit, uint32_t in, uint32_t out,
		      uint64_t count)
{
	struct ap_fw_stream *s = ap__fw_push(d->fw, FV_STREAM);

	if (!s)
		return -ENOMEM;
	s->dev = dev;
	s->unit = unit;
	s->in_base = in;
	s->out_base = out;
	s->count = count;
	if (unit >= 0 && FW_DEV(d->fw, (size_t)dev)->unit < 0)
		FW_DEV(d->fw, (size_t)dev)->unit = unit;
	return 0;
}

static int iommus(struct dt *d, int node)
{
	int len, dev = -1, at = 0, rc;
	const fdt32_t *p = fdt_getprop(d->fdt, node, "iommus", &len);

	if (!p || len % 4)
		return p ? dt_err(d, node, "iommus", "length %d is not whole cells", len) : 0;
	for (unsigned idx = 0; at < len / 4; idx++) {
		int ncells = 0, target = iommu_target(d, node, "iommus", idx, fdt32_ld(p + at), &ncells);
		struct ap_fw_stream *s;

		if (target < 0)
			return target;
		if (at + 1 + ncells > len / 4)
			return dt_err(d, node, "iommus", "entry %u is cut short (%d cells needed)",
				      idx, ncells);
		if (dev < 0 && (dev = master_dev(d, node, AP_FW_DEV_PLATFORM)) < 0)
			return dev;
		rc = add_stream(d, dev, unit_of(d, target), 0,
				ncells ? fdt32_ld(p + at + 1) : 0, 1);
		if (rc)
			return rc;
		s = fw_at(d->fw, FV_STREAM, FW_N(d->fw, FV_STREAM) - 1);
		if (ncells == 2)
			s->smr_mask = fdt32_ld(p + at + 2);
		at += 1 + ncells;
	}
	return 0;
}

/* iommu-map = <rid-base phandle iommu-base length>...; Linux's of_map_id()
 * reads four cells an entry. */
static int iommu_map(struct dt *d, int node)
{
	int len, mlen, dev, rc;
	const fdt32_t *p = fdt_getprop(d->fdt, node, "iommu-map", &len);
	const fdt32_t *mp = fdt_getprop(d->fdt, node, "iommu-map-mask", &mlen);
	uint32_t mask = mp && mlen == 4 ? fdt32_ld(mp) : 0xffffffffu;

	if (!p)
		return 0;
	if (len % 16 || !len)
		return dt_err(d, node, "iommu-map", "length %d is not a whole number of "
			      "4-cell entries (Linux: \"Bad iommu-map length\")", len);
	if ((dev = master_dev(d, node, AP_FW_DEV_ROOT_COMPLEX)) < 0)
		return dev;
	for (unsigned idx = 0; idx < (unsigned)len / 16; idx++) {
		const fdt32_t *e = p + (size_t)idx * 4;
		int ncells = 0, target = iommu_target(d, node, "iommu-map", idx, fdt32_ld(e + 1), &ncells);
		uint32_t rid = fdt32_ld(e);
		struct ap_fw_stream *s;

		if (target < 0)
			return target;
		if (rid & ~mask)
			return dt_err(d, node, "iommu-map", "entry %u: iommu-map-mask 0x%x drops bits "
				      "of rid-base 0x%x (Linux: \"Invalid iommu-map translation\")",
				      idx, mask, rid);
		if (!fdt32_ld(e + 3))
			return dt_err(d, node, "iommu-map", "entry %u: length 0", idx);
		rc = add_stream(d, dev, unit_of(d, target), rid, fdt32_ld(e + 2), fdt32_ld(e + 3));
		if (rc)
			return rc;
		s = fw_at(d->fw, FV_STREAM, FW_N(d->fw, FV_STREAM) - 1);
		s->in_masked = mask != 0xffffffffu;
		s->in_mask = mask;
	}
	return 0;
}

/* The DMA address width the nearest `dma-ranges` above a device allows:
 * the end of its highest child range.  Empty or absent: no limit (0). */
static int dma_limit(const struct dt *d, int node, unsigned *bits)
{
	int bus = node, len;

	*bits = 0;
	for (; bus >= 0; bus = fdt_parent_offset(d->fdt, bus)) {
		const fdt32_t *p = fdt_getprop(d->fdt, bus, "dma-ranges", &len);
		int ca, pa, cs, entry;
		uint64_t top = 0;

		if (!p || (bus == node && !fdt_getprop(d->fdt, node, "iommu-map", NULL)))
			continue;
		if (len == 0)
			return 0;
		ca = addr_cells(d->fdt, bus);
		cs = size_cells(d->fdt, bus);
		pa = addr_cells(d->fdt, fdt_parent_offset(d->fdt, bus));
		entry = ca + pa + cs;
		if (ca > 3 || pa > 2 || cs > 2 || !entry || len % (entry * 4))
			return dt_err(d, bus, "dma-ranges", "length %d is not whole (%d + %d + %d)-"
				      "cell entries", len, ca, pa, cs);
		for (int i = 0; i < len / 4; i += entry) {
			/* A PCI child address has a flags cell before 64 bits. */
			uint64_t child = cells(p + i + (ca == 3), ca == 3 ? 2 : ca);
			uint64_t size = cells(p + i + ca + pa, cs);
			uint64_t end = child + size;

			top = end < child ? UINT64_MAX : (end > top ? end : top);
		}
		while (*bits < 64 && (*bits == 0 || (top - 1) >> *bits))
			(*bits)++;
		return 0;
	}
	return 0;
}

/* ---------------------------------------------------------------- reserved */

static int resv_one(struct dt *d, int region, int dev_node, const fdt32_t *e, int ac, int sc)
{
	uint64_t iova = cells(e, ac), size = cells(e + ac, sc), phys = 0, psize = 0;
	int rlen, dev, pac = addr_cells(d->fdt, fdt_parent_offset(d->fdt, region));
	int psc = size_cells(d->fdt, fdt_parent_offset(d->fdt, region));
	const fdt32_t *reg = fdt_getprop(d->fdt, region, "reg", &rlen);
	struct ap_fw_resv *r;

	if (size == 0) {
		char path[64];

		node_name(d, dev_node, path, sizeof(path));
		return ap__fw_note(d->fw, AP_FW_WARNING, "DTB %s: iommu-addresses entry of size 0; "
				   "Linux skips it (\"Cannot reserve IOVA region of 0 size\")", path);
	}
	if (iova + size - 1 < iova)
		return dt_err(d, region, "iommu-addresses", "0x%llx + 0x%llx wraps",
			      (unsigned long long)iova, (unsigned long long)size);
	if (reg && pac <= 2 && psc <= 2 && rlen >= (pac + psc) * 4) {
		phys = cells(reg, pac);
		psize = cells(reg + pac, psc);
	}
	if ((dev = master_dev(d, dev_node, AP_FW_DEV_PLATFORM)) < 0)
		return dev;
	r = ap__fw_push(d->fw, FV_RESV);
	if (!r)
		return -ENOMEM;
	r->dev = dev;
	r->unit = FW_DEV(d->fw, (size_t)dev)->unit;
	r->start = iova;
	r->size = size;
	/* Linux: the region is direct (1:1) when it is exactly the memory. */
	r->type = reg && phys == iova && psize == size ? AP_RESV_DIRECT : AP_RESV_RESERVED;
	r->origin = AP_FW_DT;
	r->where = (uint32_t)prop_off(d, region, "iommu-addresses");
	return 0;
}

static int resv_region(struct dt *d, int region)
{
	int len, at = 0, rc;
	const fdt32_t *p = fdt_getprop(d->fdt, region, "iommu-addresses", &len);

	if (!p)
		return 0;
	if (len % 4)
		return dt_err(d, region, "iommu-addresses", "length %d is not whole cells", len);
	for (unsigned idx = 0; at < len / 4; idx++) {
		uint32_t ph = fdt32_ld(p + at);
		int dev_node = fdt_node_offset_by_phandle(d->fdt, ph), parent, ac, sc;

		if (dev_node < 0)
			return dt_err(d, region, "iommu-addresses", "entry %u: phandle 0x%x resolves "
				      "to no node", idx, ph);
		parent = fdt_parent_offset(d->fdt, dev_node);
		ac = addr_cells(d->fdt, parent);
		sc = size_cells(d->fdt, parent);
		if (ac < 1 || ac > 2 || sc < 1 || sc > 2 || at + 1 + ac + sc > len / 4)
			return dt_err(d, region, "iommu-addresses", "entry %u is cut short (%d + %d "
				      "cells needed)", idx, ac, sc);
		if ((rc = resv_one(d, region, dev_node, p + at + 1, ac, sc)))
			return rc;
		at += 1 + ac + sc;
	}
	return 0;
}

static int reserved_memory(struct dt *d)
{
	int rm = fdt_path_offset(d->fdt, "/reserved-memory"), child, rc;

	if (rm < 0)
		return 0;
	fdt_for_each_subnode(child, d->fdt, rm)
		if ((rc = resv_region(d, child)))
			return rc;
	return 0;
}

static int masters(struct dt *d)
{
	int depth = 0, rc;

	for (int node = fdt_next_node(d->fdt, -1, &depth); node >= 0;
	     node = fdt_next_node(d->fdt, node, &depth))
		if ((rc = iommus(d, node)) || (rc = iommu_map(d, node)))
			return rc;
	return 0;
}

/*
 * Walk the structure block's tags, each step forward, before handing the
 * blob to fdt_check_full(): libfdt 1.6.1's check spins for ever on some
 * corrupt blobs (found by fuzz_dtb; fuzz/regress/fuzz_dtb has one).
 */
static int walk_tags(const void *fdt)
{
	int off = 0, next = 0, depth = 0;
	/* every step moves on a cell at least; not fdt_size_dt_struct(),
	 * which a header before version 17 does not have */
	unsigned steps = 0, max = fdt_totalsize(fdt) / 4 + 2;

	for (;;) {
		uint32_t tag = fdt_next_tag(fdt, off, &next);

		if (tag == FDT_END)
			return depth == 0 && next > 0 ? 0 : -FDT_ERR_BADSTRUCTURE;
		if (next <= off || ++steps > max)
			return -FDT_ERR_BADSTRUCTURE;
		if (tag == FDT_BEGIN_NODE)
			depth++;
		else if (tag == FDT_END_NODE && --depth < 0)
			return -FDT_ERR_BADSTRUCTURE;
		else if (tag == FDT_PROP) {
			/* nameoff, byte by byte: the block may be unaligned */
			const uint8_t *p = fdt_offset_ptr(fdt, off + 8, 4);
			int nlen;

			if (!p || !fdt_get_string(fdt, (int)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
							     (uint32_t)p[2] << 8 | p[3]), &nlen))
				return -FDT_ERR_BADSTRUCTURE;
		}
		off = next;
	}
}

static int parse_dtb(struct dt *d, const void *buf, size_t len)
{
	struct ap_fw_table *t = ap__fw_push(d->fw, FV_TABLE);
	int rc;

	if (!t)
		return -ENOMEM;
	memcpy(t->signature, "DTB", 3);
	if (!buf || len < FDT_V1_SIZE)
		return ap__fw_err(d->fw, "DTB +0x0: %zu bytes, shorter than a devicetree header",
				  buf ? len : 0);
	/* fdt_check_header() reads every field its version has before it
	 * compares totalsize with anything */
	if (fdt_magic(buf) == FDT_MAGIC && len < fdt_header_size(buf))
		return ap__fw_err(d->fw, "DTB +0x14: %zu bytes, shorter than the %zu-byte header of "
				  "version %u", len, fdt_header_size(buf), fdt_version(buf));
	if ((rc = fdt_check_header(buf)) || (fdt_totalsize(buf) > len && (rc = -FDT_ERR_TRUNCATED)) ||
	    (rc = walk_tags(buf)) || (rc = fdt_check_full(buf, len)))
		return ap__fw_err(d->fw, "DTB +0x0: not a valid devicetree blob of %zu bytes: %s",
				  len, fdt_strerror(rc));
	d->fdt = buf;
	t->length = fdt_totalsize(buf);
	t->revision = (uint8_t)fdt_version(buf);
	if ((rc = find_units(d)) || (rc = masters(d)) || (rc = reserved_memory(d)))
		return rc;
	for (size_t i = d->first_unit; i < FW_N(d->fw, FV_UNIT); i++)
		t->count[FW_UNIT(d->fw, i)->kind == AP_FW_SMMUV3 ? 1 : 0]++;
	return 0;
}

/* libfdt wants the blob 8-byte aligned; the caller's buffer may not be. */
int ap_fw_add_dtb(struct ap_fw *fw, const void *buf, size_t len)
{
	struct dt d = { .fw = fw };
	struct fw_mark m;
	void *copy = NULL;
	int rc;

	if (!fw)
		return -EINVAL;
	if ((rc = ap__fw_mark(fw, &m)))
		return rc;
	d.first_unit = FW_N(fw, FV_UNIT);
	if (buf && len && !(copy = ap_mem_alloc(fw->ctx, len)))
		return ap__fw_finish(fw, &m, ap__fw_nomem(fw));
	if (copy)
		memcpy(copy, buf, len);
	rc = parse_dtb(&d, copy, len);
	ap_mem_free(fw->ctx, copy);
	return ap__fw_finish(fw, &m, rc);
}
