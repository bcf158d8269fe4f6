/* SPDX-License-Identifier: MIT */
/*
 * src/firmware/iort.c - ACPI IORT (Arm DEN0049, "IO Remapping Table"):
 * ITS groups, named components, root complexes, SMMUv1/v2, SMMUv3, PMCG
 * and RMR nodes, and the ID mappings that route a device's requester or
 * device IDs to an SMMU's stream IDs.
 *
 * Pass 1 checks every node header, length and mapping array and that each
 * output reference is the offset of a node, and refuses reference loops;
 * pass 2 makes units (SMMUs), then devices and streams (root complexes,
 * named components), then RMR reserved regions.
 */
#include <stdio.h>
#include <string.h>

#include "fw_internal.h"

enum { ITS = 0, NC = 1, RC = 2, SMMU = 3, SMMUV3 = 4, PMCG = 5, RMR = 6, NTYPES = 7 };
static const char *const type_name[NTYPES] = {
	"ITS group", "named component", "root complex", "SMMUv1/v2", "SMMUv3", "PMCG", "RMR",
};
/* Node length needed for the fields read (header 16 + data). */
static const unsigned min_len[NTYPES] = { 20, 30, 36, 60, 60, 32, 28 };

#define MAP_SIZE 20
#define MAP_SINGLE 1u

struct iort {
	struct ap_fw *fw;
	struct fw_tbl t;
	size_t rec;
	uint32_t n;          /* nodes */
	uint32_t *off;       /* node offsets */
	int *unit;           /* unit made from node i, or -1 */
	uint8_t *color;      /* loop search: 1 on the path, 2 done */
	struct iort_step {
		uint32_t node, next; /* next: its mapping to follow next */
	} *path;
};

static struct ap_fw_table *rec(struct iort *io)
{
	return fw_at(io->fw, FV_TABLE, io->rec);
}

static uint8_t ntype(const struct iort *io, uint32_t i) { return rd8(&io->t, io->off[i]); }
static uint16_t nlen(const struct iort *io, uint32_t i) { return rd16(&io->t, io->off[i] + 1); }
static uint8_t nrev(const struct iort *io, uint32_t i) { return rd8(&io->t, io->off[i] + 3); }
static uint32_t nmaps(const struct iort *io, uint32_t i) { return rd32(&io->t, io->off[i] + 8); }
static size_t map_at(const struct iort *io, uint32_t i, uint32_t m)
{
	return io->off[i] + rd32(&io->t, io->off[i] + 12) + (size_t)m * MAP_SIZE;
}

static const char *tname(uint8_t type)
{
	return type < NTYPES ? type_name[type] : "unknown";
}

/* The node whose offset is `ref`, or -1. */
static int node_at(const struct iort *io, uint32_t ref)
{
	for (uint32_t i = 0; i < io->n; i++)
		if (io->off[i] == ref)
			return (int)i;
	return -1;
}

/* ---------------------------------------------------------------- pass 1 */

static int check_maps(struct iort *io, uint32_t i)
{
	size_t o = io->off[i];
	uint32_t count = nmaps(io, i), moff = rd32(&io->t, o + 12);

	if (!count)
		return 0;
	if (moff < 16)
		return ap__fw_err(io->fw, "IORT +0x%zx: %s Mapping Offset %u lies inside the node "
				  "header", o + 12, tname(ntype(io, i)), moff);
	if (!fw_fits(moff, (size_t)count * MAP_SIZE, nlen(io, i)))
		return ap__fw_err(io->fw, "IORT +0x%zx: %s Mapping Count %u at Mapping Offset %u "
				  "runs past the node's Length %u", o + 8, tname(ntype(io, i)),
				  count, moff, nlen(io, i));
	for (uint32_t m = 0; m < count; m++) {
		size_t a = map_at(io, i, m);
		uint32_t ref = rd32(&io->t, a + 12);

		if (ref && node_at(io, ref) < 0)
			return ap__fw_err(io->fw, "IORT +0x%zx: ID mapping %u Output Reference 0x%x "
					  "is not the offset of any node%s", a + 12, m, ref,
					  ref >= io->t.len ? " (it lies outside the table)" : "");
	}
	return 0;
}

static int check_node(struct iort *io, uint32_t i)
{
	size_t o = io->off[i];
	uint8_t type = ntype(io, i);
	uint16_t len = nlen(io, i);

	if (type < NTYPES && len < min_len[type])
		return ap__fw_err(io->fw, "IORT +0x%zx: %s node Length %u is shorter than the %u "
				  "bytes its fields need", o + 1, type_name[type], len, min_len[type]);
	if (type == ITS && !fw_fits(20, (size_t)rd32(&io->t, o + 16) * 4, len))
		return ap__fw_err(io->fw, "IORT +0x%zx: ITS group ITS Count %u runs past the node's "
				  "Length %u", o + 16, rd32(&io->t, o + 16), len);
	if (type == NC && !memchr(io->t.p + o + 29, 0, len - 29u))
		return ap__fw_err(io->fw, "IORT +0x%zx: named component Device Object Name is not "
				  "NUL-terminated within the node", o + 29);
	if (type == RMR && rd32(&io->t, o + 20) &&
	    !fw_fits(rd32(&io->t, o + 24), (size_t)rd32(&io->t, o + 20) * 20, len))
		return ap__fw_err(io->fw, "IORT +0x%zx: RMR Number of Memory Range Descriptors %u "
				  "at offset %u runs past the node's Length %u", o + 20,
				  rd32(&io->t, o + 20), rd32(&io->t, o + 24), len);
	if (type == PMCG && rd32(&io->t, o + 28) && node_at(io, rd32(&io->t, o + 28)) < 0)
		return ap__fw_err(io->fw, "IORT +0x%zx: PMCG Node Reference 0x%x is not the offset "
				  "of any node", o + 28, rd32(&io->t, o + 28));
	return check_maps(io, i);
}

/* Depth-first search over output references, with a stack of its own (a
 * table can chain thousands of nodes, and a loop may be as long): a
 * reference back to a node on the current path is a loop (Linux's
 * iort_node_map_id() would follow it for ever). */
static int find_loop(struct iort *io, uint32_t root)
{
	uint32_t depth = 1;

	io->path[0] = (struct iort_step){ root, 0 };
	io->color[root] = 1;
	while (depth) {
		struct iort_step *top = &io->path[depth - 1];
		uint32_t m = top->next++, ref;
		size_t a;
		int j;

		if (m >= nmaps(io, top->node)) {
			io->color[top->node] = 2;
			depth--;
			continue;
		}
		a = map_at(io, top->node, m);
		ref = rd32(&io->t, a + 12);
		j = ref ? node_at(io, ref) : -1;
		if (j < 0 || io->color[j] == 2)
			continue;
		if (io->color[j] == 1)
			return ap__fw_err(io->fw, "IORT +0x%zx: ID mapping %u Output Reference 0x%x "
					  "closes a loop of ID mappings", a + 12, m, ref);
		io->color[j] = 1; /* a node enters the path once: depth <= n */
		io->path[depth++] = (struct iort_step){ (uint32_t)j, 0 };
	}
	return 0;
}

static int walk_nodes(struct iort *io)
{
	size_t o = rd32(&io->t, 40);
	int rc;

	for (uint32_t i = 0; i < io->n; i++) {
		if (!fw_fits(o, 16, io->t.len))
			return ap__fw_err(io->fw, "IORT +0x%zx: node %u of %u starts past the table "
					  "end at +0x%zx (Linux: \"IORT node pointer overflows, bad "
					  "table!\")", o, i, io->n, io->t.len);
		io->off[i] = (uint32_t)o;
		if (nlen(io, i) < 16)
			return ap__fw_err(io->fw, "IORT +0x%zx: node Length %u is shorter than the "
					  "16-byte node header", o + 1, nlen(io, i));
		if (!fw_fits(o, nlen(io, i), io->t.len))
			return ap__fw_err(io->fw, "IORT +0x%zx: node Length %u runs past the table "
					  "end at +0x%zx", o + 1, nlen(io, i), io->t.len);
		o += nlen(io, i);
	}
	for (uint32_t i = 0; i < io->n; i++)
		if ((rc = check_node(io, i)))
			return rc;
	for (uint32_t i = 0; i < io->n; i++)
		if (!io->color[i] && (rc = find_loop(io, i)))
			return rc;
	return 0;
}

/* ---------------------------------------------------------------- units */

static int new_unit(struct iort *io, uint32_t i, enum ap_fw_unit_kind kind)
{
	size_t o = io->off[i];
	struct ap_fw_unit *u;
	unsigned same = 0;

	for (size_t k = 0; k < FW_N(io->fw, FV_UNIT); k++)
		same += FW_UNIT(io->fw, k)->kind == kind;
	u = ap__fw_push(io->fw, FV_UNIT);
	if (!u)
		return -ENOMEM;
	snprintf(u->name, sizeof(u->name), "%s%u", kind == AP_FW_SMMUV3 ? "smmuv3_" : "smmu_",
		 same);
	u->kind = kind;
	u->origin = AP_FW_IORT;
	u->base = rd64(&io->t, o + 16);
	u->where = (uint32_t)o;
	io->unit[i] = (int)FW_N(io->fw, FV_UNIT) - 1;
	return io->unit[i];
}

static int smmu_unit(struct iort *io, uint32_t i)
{
	size_t o = io->off[i];
	int k = new_unit(io, i, AP_FW_ARM_SMMU);
	struct ap_fw_unit *u;

	if (k < 0)
		return k;
	u = FW_UNIT(io->fw, (size_t)k);
	u->span = rd64(&io->t, o + 24);
	u->model = rd32(&io->t, o + 32);
	if (rd32(&io->t, o + 36) & 2) /* Coherent page table walk */
		u->flags |= AP_FW_UNIT_COHACC;
	if (u->model > AP_FW_SMMU_THUNDERX)
		return ap__fw_note(io->fw, AP_FW_WARNING, "IORT +0x%zx: SMMUv1/v2 Model %u is "
				   "unknown; taken as a generic SMMUv2", o + 32, u->model);
	return 0;
}

static int smmuv3_unit(struct iort *io, uint32_t i)
{
	size_t o = io->off[i];
	int k = new_unit(io, i, AP_FW_SMMUV3);
	struct ap_fw_unit *u;
	uint32_t flags = rd32(&io->t, o + 24);

	if (k < 0)
		return k;
	u = FW_UNIT(io->fw, (size_t)k);
	u->model = rd32(&io->t, o + 40);
	if (flags & 1) /* COHACC override */
		u->flags |= AP_FW_UNIT_COHACC;
	if ((flags & 8) && nlen(io, i) >= 64) {
		u->flags |= AP_FW_UNIT_PROXIMITY;
		u->proximity = rd32(&io->t, o + 60);
	}
	return 0;
}

/* ---------------------------------------------------------------- devices */

/* Linux's iort_get_id_mapping_index(): the mapping an SMMUv3 or PMCG uses
 * for its own MSIs, which ID translation skips; -1 if none.  An SMMUv3's
 * index exists from node revision 1; up to revision 4 it is valid unless
 * every interrupt is a wired GSIV, from revision 5 (IORT E.e) when flag
 * bit 4 (DeviceID mapping index valid) says so. */
static int own_index(const struct iort *io, uint32_t i)
{
	size_t o = io->off[i];

	if (ntype(io, i) == SMMUV3) {
		if (nrev(io, i) < 1 || nlen(io, i) < 68)
			return -1;
		if (nrev(io, i) >= 5 ? !(rd32(&io->t, o + 24) & 0x10)
				     : rd32(&io->t, o + 44) && rd32(&io->t, o + 48) &&
					       rd32(&io->t, o + 52) && rd32(&io->t, o + 56))
			return -1;
		return rd32(&io->t, o + 64) < nmaps(io, i) ? (int)rd32(&io->t, o + 64) : -2;
	}
	if (ntype(io, i) == PMCG)
		return rd32(&io->t, o + 24) || !nmaps(io, i) ? -1 : 0;
	return -1;
}

static int add_stream(struct iort *io, int dev, int unit, size_t a, uint8_t from)
{
	struct ap_fw_stream *s = ap__fw_push(io->fw, FV_STREAM);
	uint32_t flags = rd32(&io->t, a + 16);

	if (!s)
		return -ENOMEM;
	s->dev = dev;
	s->unit = unit;
	s->in_base = rd32(&io->t, a);
	s->out_base = rd32(&io->t, a + 8);
	/* Single mappings (named components and root complexes only) send
	 * every input ID to the output base. */
	s->single = (flags & MAP_SINGLE) && (from == NC || from == RC);
	s->count = s->single ? 1 : (uint64_t)rd32(&io->t, a + 4) + 1;
	return 0;
}

/* The overlap quirk of Linux's iort_id_map(): the count field is "number
 * of IDs minus one", and firmware that read it as a count makes a range's
 * last ID the next range's first.  Linux gives that ID to the next range. */
static int overlap_quirk(struct iort *io, size_t first)
{
	for (size_t a = first; a < FW_N(io->fw, FV_STREAM); a++) {
		struct ap_fw_stream *s = fw_at(io->fw, FV_STREAM, a);

		for (size_t b = first; b < FW_N(io->fw, FV_STREAM); b++) {
			const struct ap_fw_stream *t = fw_at(io->fw, FV_STREAM, b);
			uint64_t last = (uint64_t)s->in_base + s->count - 1;
			int rc;

			if (a == b || s->single || t->single || s->count < 2 || last != t->in_base)
				continue;
			s->count--;
			rc = ap__fw_note(io->fw, AP_FW_NOTE, "IORT: %s ID 0x%x ends one range and "
					 "starts the next; as Linux's iort_id_map() does, the next "
					 "range gets it", FW_DEV(io->fw, (size_t)s->dev)->name,
					 t->in_base);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Route one mapping of a root complex or named component. */
static int route(struct iort *io, uint32_t i, int dev, uint32_t m, bool *to_smmu)
{
	size_t a = map_at(io, i, m);
	uint32_t ref = rd32(&io->t, a + 12);
	int j = ref ? node_at(io, ref) : -1;

	if (j < 0)
		return ap__fw_note(io->fw, AP_FW_WARNING, "IORT +0x%zx: ID mapping %u has a NULL "
				   "Output Reference; Linux skips it (\"ID map has NULL parent "
				   "reference\")", a + 12, m);
	switch (ntype(io, (uint32_t)j)) {
	case SMMU:
	case SMMUV3:
		*to_smmu = true;
		if (FW_DEV(io->fw, (size_t)dev)->unit < 0)
			FW_DEV(io->fw, (size_t)dev)->unit = io->unit[j];
		return add_stream(io, dev, io->unit[j], a, ntype(io, i));
	case ITS:
		return 0; /* MSIs only: no IOMMU on this path */
	default:
		return ap__fw_err(io->fw, "IORT +0x%zx: ID mapping %u Output Reference 0x%x names a "
				  "%s node, which translates no IDs", a + 12, m, ref,
				  tname(ntype(io, (uint32_t)j)));
	}
}

static bool all_single(const struct iort *io, uint32_t i)
{
	for (uint32_t m = 0; m < nmaps(io, i); m++)
		if (!(rd32(&io->t, map_at(io, i, m) + 16) & MAP_SINGLE))
			return false;
	return true;
}

/* A memory address size limit (bits); 0 when the node gives none. */
static int addr_limit(struct iort *io, uint32_t i, size_t at, unsigned *bits)
{
	uint8_t v = rd8(&io->t, at);

	*bits = v >= 64 ? 64 : v;
	if (v)
		return 0;
	return ap__fw_note(io->fw, AP_FW_WARNING, "IORT +0x%zx: %s Memory Address Size Limit "
			   "is 0; Linux would derive an empty DMA window from it; taken as not "
			   "given", at, tname(ntype(io, i)));
}

static int master(struct iort *io, uint32_t i)
{
	size_t o = io->off[i], first = FW_N(io->fw, FV_STREAM);
	uint8_t type = ntype(io, i);
	char name[64];
	struct ap_fw_dev *d;
	bool created, to_smmu = false;
	int dev, rc = 0;

	if (type == RC)
		snprintf(name, sizeof(name), "pci%04x", rd32(&io->t, o + 28));
	else
		snprintf(name, sizeof(name), "%s", (const char *)io->t.p + o + 29);
	dev = ap__fw_dev_get(io->fw, name, type == RC ? AP_FW_DEV_ROOT_COMPLEX : AP_FW_DEV_NAMED,
			     AP_FW_IORT, &created);
	if (dev < 0)
		return dev;
	if (!created)
		return ap__fw_err(io->fw, "IORT +0x%zx: a second %s node for %s", o,
				  type_name[type], name);
	d = FW_DEV(io->fw, (size_t)dev);
	d->flags |= AP_FW_DEV_DMA;
	d->where = (uint32_t)o;
	if (rd32(&io->t, o + (type == RC ? 16 : 20)) & 1) /* CCA */
		d->flags |= AP_FW_DEV_COHERENT;
	if (type == RC) {
		d->segment = rd32(&io->t, o + 28);
		if (rd32(&io->t, o + 24) & 1)
			d->flags |= AP_FW_DEV_ATS;
		/* Linux reads the limit from root complex node revision 1 on. */
		if (nrev(io, i) >= 1 && nlen(io, i) >= 37)
			rc = addr_limit(io, i, o + 32, &d->addr_bits);
		else if (nlen(io, i) >= 37 && rd8(&io->t, o + 32))
			rc = ap__fw_note(io->fw, AP_FW_NOTE, "IORT +0x%zx: root complex node revision "
					 "0 holds a Memory Address Size Limit of %u bits; Linux reads "
					 "it only from node revision 1 on, and so does this import",
					 o + 32, rd8(&io->t, o + 32));
	} else {
		rc = addr_limit(io, i, o + 28, &d->addr_bits);
	}
	for (uint32_t m = 0; m < nmaps(io, i) && !rc; m++)
		rc = route(io, i, dev, m, &to_smmu);
	if (!rc && type == NC && to_smmu && !all_single(io, i))
		rc = ap__fw_note(io->fw, AP_FW_NOTE, "IORT +0x%zx: %s has ID mappings without the "
				 "single-mapping flag; Linux's iort_nc_iommu_map() configures a "
				 "named component only through single mappings", o, name);
	if (!rc && !to_smmu)
		rc = ap__fw_note(io->fw, AP_FW_NOTE, "IORT +0x%zx: %s %s maps to no SMMU: nothing "
				 "translates its DMA", o, type_name[type], name);
	return rc ? rc : overlap_quirk(io, first);
}

/* SMMU nodes' own mappings: single mappings other than their MSI index
 * are a firmware bug Linux skips. */
static int smmu_maps(struct iort *io, uint32_t i)
{
	int own = own_index(io, i);

	if (own == -2)
		return ap__fw_note(io->fw, AP_FW_WARNING, "IORT +0x%zx: SMMUv3 DeviceID Mapping "
				   "Index %u is past its %u mappings; Linux: \"ID mapping index "
				   "overflows valid mappings\"", (size_t)io->off[i] + 64,
				   rd32(&io->t, io->off[i] + 64), nmaps(io, i));
	for (uint32_t m = 0; m < nmaps(io, i); m++) {
		size_t a = map_at(io, i, m);
		int rc;

		if ((int)m == own || !(rd32(&io->t, a + 16) & MAP_SINGLE))
			continue;
		rc = ap__fw_note(io->fw, AP_FW_WARNING, "IORT +0x%zx: single mapping on a %s node; "
				 "Linux skips it (\"SINGLE MAPPING flag not allowed for node "
				 "type\")", a + 16, tname(ntype(io, i)));
		if (rc)
			return rc;
	}
	return 0;
}

/* ---------------------------------------------------------------- RMR */

static int rmr_range(struct iort *io, uint32_t i, size_t a, size_t desc)
{
	uint32_t ref = rd32(&io->t, a + 12), flags = rd32(&io->t, io->off[i] + 16);
	int j = ref ? node_at(io, ref) : -1;
	struct ap_fw_resv *r;

	if (j < 0 || io->unit[j] < 0)
		return 0;
	r = ap__fw_push(io->fw, FV_RESV);
	if (!r)
		return -ENOMEM;
	r->dev = -1;
	r->unit = io->unit[j];
	r->sid_base = rd32(&io->t, a + 8);
	/* Linux takes id_count + 1 stream IDs here, single mapping or not. */
	r->sid_count = rd32(&io->t, a + 4) + 1;
	r->start = rd64(&io->t, desc);
	r->size = rd64(&io->t, desc + 8);
	r->type = (flags & 1) ? AP_RESV_DIRECT_RELAXABLE : AP_RESV_DIRECT;
	r->origin = AP_FW_IORT;
	r->where = (uint32_t)desc;
	return 0;
}

static int rmr_desc_check(struct iort *io, size_t desc)
{
	uint64_t base = rd64(&io->t, desc), len = rd64(&io->t, desc + 8);

	if (len == 0)
		return ap__fw_err(io->fw, "IORT +0x%zx: RMR descriptor Length is 0", desc + 8);
	if (base + len - 1 < base)
		return ap__fw_err(io->fw, "IORT +0x%zx: RMR descriptor 0x%llx + 0x%llx wraps",
				  desc + 8, (unsigned long long)base, (unsigned long long)len);
	if ((base | len) & 0xffff)
		return ap__fw_note(io->fw, AP_FW_WARNING, "IORT +0x%zx: RMR descriptor [0x%llx, "
				   "+0x%llx) is not 64 KiB aligned; Linux warns and uses it "
				   "rounded to pages", desc, (unsigned long long)base,
				   (unsigned long long)len);
	return 0;
}

static int rmr(struct iort *io, uint32_t i)
{
	size_t o = io->off[i];
	uint32_t count = rd32(&io->t, o + 20);
	size_t descs = o + rd32(&io->t, o + 24);
	int rc;

	if (rec(io)->revision < 5)
		return ap__fw_note(io->fw, AP_FW_WARNING, "IORT +0x%zx: RMR node in a revision %u "
				   "table; Linux reads RMR nodes only from revision 5 (DEN0049E.d) "
				   "on, so these ranges are ignored", o, rec(io)->revision);
	for (uint32_t k = 0; k < count; k++)
		if ((rc = rmr_desc_check(io, descs + (size_t)k * 20)))
			return rc;
	for (uint32_t m = 0; m < nmaps(io, i); m++)
		for (uint32_t k = 0; k < count; k++)
			if ((rc = rmr_range(io, i, map_at(io, i, m), descs + (size_t)k * 20)))
				return rc;
	return 0;
}

/* ---------------------------------------------------------------- table */

static int count_nodes(struct iort *io)
{
	for (uint32_t i = 0; i < io->n; i++) {
		uint8_t type = ntype(io, i);
		int rc;

		if (type < NTYPES) {
			rec(io)->count[type]++;
			continue;
		}
		rec(io)->unknown++;
		rc = ap__fw_note(io->fw, AP_FW_NOTE, "IORT +0x%x: node type %u is unknown; skipped, "
				 "as Linux does", io->off[i], type);
		if (rc)
			return rc;
	}
	return 0;
}

static int build(struct iort *io)
{
	int rc = count_nodes(io);

	for (uint32_t i = 0; i < io->n && !rc; i++) {
		if (ntype(io, i) == SMMU)
			rc = smmu_unit(io, i);
		else if (ntype(io, i) == SMMUV3)
			rc = smmuv3_unit(io, i);
	}
	for (uint32_t i = 0; i < io->n && !rc; i++) {
		uint8_t type = ntype(io, i);

		if (type == RC || type == NC)
			rc = master(io, i);
		else if (type == SMMU || type == SMMUV3)
			rc = smmu_maps(io, i);
		else if (type == RMR)
			rc = rmr(io, i);
	}
	return rc;
}

static int header(struct iort *io, const void *buf, size_t len)
{
	uint32_t first;
	int rc;

	if ((rc = ap__fw_acpi_table(io->fw, buf, len, "IORT", 48, &io->t, &io->rec)))
		return rc;
	if (rec(io)->revision == 4)
		return ap__fw_err(io->fw, "IORT +0x8: Revision 4 (DEN0049E.c) is deprecated and its "
				  "RMR layout was replaced in E.d; ACPICA does not support it");
	io->n = rd32(&io->t, 36);
	first = rd32(&io->t, 40);
	rec(io)->nodes = io->n;
	if (io->n && (first < 48 || first >= io->t.len))
		return ap__fw_err(io->fw, "IORT +0x28: Node Offset 0x%x is not inside the table "
				  "after its 48-byte header", first);
	if (io->n > (io->t.len - 48) / 16)
		return ap__fw_err(io->fw, "IORT +0x24: Number of IORT Nodes %u cannot fit in %zu "
				  "bytes", io->n, io->t.len);
	return 0;
}

static int parse_iort(struct iort *io, const void *buf, size_t len)
{
	struct ap_ctx *ctx = io->fw->ctx;
	int rc = header(io, buf, len);

	if (rc || !io->n)
		return rc;
	io->off = ap_mem_alloc(ctx, io->n * sizeof(*io->off));
	io->unit = ap_mem_alloc(ctx, io->n * sizeof(*io->unit));
	io->color = ap_mem_alloc(ctx, io->n);
	io->path = ap_mem_alloc(ctx, io->n * sizeof(*io->path));
	if (!io->off || !io->unit || !io->color || !io->path)
		return ap__fw_nomem(io->fw);
	for (uint32_t i = 0; i < io->n; i++)
		io->unit[i] = -1;
	if ((rc = walk_nodes(io)))
		return rc;
	return build(io);
}

int ap_fw_add_iort(struct ap_fw *fw, const void *buf, size_t len)
{
	struct iort io = { .fw = fw };
	struct fw_mark m;
	int rc;

	if (!fw)
		return -EINVAL;
	if ((rc = ap__fw_mark(fw, &m)))
		return rc;
	rc = parse_iort(&io, buf, len);
	ap_mem_free(fw->ctx, io.off);
	ap_mem_free(fw->ctx, io.unit);
	ap_mem_free(fw->ctx, io.color);
	ap_mem_free(fw->ctx, io.path);
	return ap__fw_finish(fw, &m, rc);
}
