/* SPDX-License-Identifier: MIT */
/*
 * ARM VMSAv8-64 long-descriptor (LPAE) tables, stage 1 and stage 2, 4K/16K/64K
 * granules: the descriptors Linux's io-pgtable-arm writes, bit for bit
 * (doc/formats/arm-lpae.md has the facts and their sources).
 *
 * Levels are architectural: 0..3, 3 is the last.  The tree algorithms (map,
 * unmap, leaves, freeing) are pt_tree.c's; this file gives them the
 * descriptors (lpae_tree) and keeps the configuration, the shape, the
 * hardware-style walker and the register values.
 */
#include <errno.h>
#include <string.h>

#include "pt_internal.h"

#define LPAE_MAX_ADDR_BITS 52
#define LPAE_LAST_LEVEL 3

#define LPAE_TYPE_MASK 3ull
#define LPAE_TYPE_BLOCK 1ull
#define LPAE_TYPE_TABLE 3ull
#define LPAE_TYPE_PAGE 3ull
#define LPAE_VALID 1ull

#define LPAE_ADDR_MASK 0x0000fffffffff000ull /* bits 47:12 */
#define LPAE_PA_HI_MASK 0x000000000000f000ull /* 64K: PA[51:48] live here */

#define PTE_NSTABLE (1ull << 63)
#define PTE_SW_SYNC (1ull << 55) /* Linux: table synced, non-coherent walk */
#define PTE_UXN (1ull << 54)
#define PTE_PXN (1ull << 53)
#define PTE_XN (PTE_UXN | PTE_PXN)
#define PTE_NG (1ull << 11)
#define PTE_AF (1ull << 10)
#define PTE_SH_OS (2ull << 8)
#define PTE_SH_IS (3ull << 8)
#define PTE_AP_RDONLY (1ull << 7)
#define PTE_AP_UNPRIV (1ull << 6)
#define PTE_NS (1ull << 5)
#define PTE_ATTR_SHIFT 2
#define PTE_ATTR_MASK (7ull << PTE_ATTR_SHIFT)
#define MAIR_IDX_NC 0ull
#define MAIR_IDX_CACHE 1ull
#define MAIR_IDX_DEV 2ull

#define S2_HAP_READ (1ull << 6)
#define S2_HAP_WRITE (1ull << 7)
#define S2_MEMATTR_MASK (0xfull << 2)
#define S2_MEMATTR_DEV (0x1ull << 2)
#define S2_MEMATTR_OIWB (0xfull << 2)
#define S2_MEMATTR_NC (0x5ull << 2)

#define S2_MAX_CONCAT_TABLES 16

/* Shape of a walk: everything that follows from granule, IAS, OAS, stage. */
struct lpae_shape {
	unsigned pg_shift;
	unsigned bpl;      /* index bits per (non-root) level */
	int start;         /* start level */
	unsigned pgd_bits; /* index bits at the start level */
	unsigned oas;
	bool stage2;
};

static unsigned lvl_shift(const struct lpae_shape *s, int lvl)
{
	return (unsigned)(4 - lvl) * s->bpl + 3;
}

static uint64_t lvl_size(const struct lpae_shape *s, int lvl)
{
	return 1ull << lvl_shift(s, lvl);
}

static uint64_t lvl_index(const struct lpae_shape *s, int lvl, uint64_t iova)
{
	unsigned bits = lvl == s->start ? s->pgd_bits : s->bpl;

	return (iova >> lvl_shift(s, lvl)) & ((1ull << bits) - 1);
}

/* Arm DDI0487 R_DXBSH/R_SRKBC, as Linux's arm_lpae_concat_mandatory(). */
static bool concat_mandatory(const struct lpae_shape *s, unsigned ias)
{
	if (s->pg_shift == 14 && s->start == 0 && (s->oas == 48 || ias == 48))
		return true;
	if (s->pg_shift == 12 && s->start == 0 && (s->oas == 40 || s->oas == 42))
		return true;
	if (s->pg_shift == 14 && s->start == 1 && s->oas == 40)
		return true;
	return false;
}

static int shape_for(enum ap_pt_format fmt, unsigned pg_shift, unsigned ias, unsigned oas,
		     struct lpae_shape *s)
{
	unsigned va_bits, levels;

	if (pg_shift != 12 && pg_shift != 14 && pg_shift != 16)
		return -EINVAL;
	if (ias <= pg_shift || ias > LPAE_MAX_ADDR_BITS || oas > LPAE_MAX_ADDR_BITS)
		return -EINVAL;
	s->pg_shift = pg_shift;
	s->bpl = pg_shift - 3;
	s->oas = oas;
	s->stage2 = fmt == AP_PT_ARM_LPAE_S2;
	va_bits = ias - pg_shift;
	/* levels = ceil(va_bits / bpl), without a division: every walk
	 * derives its shape, and a divide is a good part of a walk's cost */
	for (levels = 0; levels * s->bpl < va_bits; levels++)
		if (levels == 4)
			return -EINVAL;
	s->start = 4 - (int)levels;
	s->pgd_bits = va_bits - s->bpl * (levels - 1);
	if (s->stage2 && concat_mandatory(s, ias)) {
		if ((1u << s->pgd_bits) > S2_MAX_CONCAT_TABLES)
			return -EINVAL;
		s->pgd_bits += s->bpl;
		s->start++;
	}
	return 0;
}

static void shape_of_pt(const struct ap_pt *pt, struct lpae_shape *s)
{
	s->pg_shift = pt->granule_shift;
	s->bpl = pt->bits_per_level;
	s->start = pt->start_level;
	s->pgd_bits = pt->pgd_bits;
	s->oas = pt->cfg.oas;
	s->stage2 = pt->cfg.format == AP_PT_ARM_LPAE_S2;
}

/* ------------------------------------------------------------ descriptors */

/* The tree's view of our descriptors, defined below its callbacks; its
 * output-address fields are the one statement of our address encoding. */
static const struct ap_pt_tree_fmt lpae_tree;

/* Linux's paddr_to_iopte(): PA[51:48] go to bits 15:12 too. */
static uint64_t pa_to_pte(uint64_t pa)
{
	return ap_pt_oa_to_pte(&lpae_tree, pa);
}

/* Linux's iopte_to_paddr(): only a 64K granule reads bits 15:12 back. */
static uint64_t pte_to_pa(uint64_t pte, unsigned pg_shift)
{
	return ap_pt_pte_to_oa(&lpae_tree, pg_shift, pte);
}

static uint64_t prot_to_pte_s1(unsigned prot)
{
	uint64_t pte = PTE_NG;

	if (!(prot & AP_PROT_WRITE) && (prot & AP_PROT_READ))
		pte |= PTE_AP_RDONLY;
	if (!(prot & AP_PROT_PRIV))
		pte |= PTE_AP_UNPRIV;
	if (prot & AP_PROT_MMIO)
		pte |= MAIR_IDX_DEV << PTE_ATTR_SHIFT;
	else if (prot & AP_PROT_CACHE)
		pte |= MAIR_IDX_CACHE << PTE_ATTR_SHIFT;
	return pte;
}

static uint64_t prot_to_pte_s2(unsigned prot)
{
	uint64_t pte = 0;

	if (prot & AP_PROT_READ)
		pte |= S2_HAP_READ;
	if (prot & AP_PROT_WRITE)
		pte |= S2_HAP_WRITE;
	if (prot & AP_PROT_MMIO)
		pte |= S2_MEMATTR_DEV;
	else if (prot & AP_PROT_CACHE)
		pte |= S2_MEMATTR_OIWB;
	else
		pte |= S2_MEMATTR_NC;
	return pte;
}

/* Linux's arm_lpae_prot_to_pte(): a leaf's bits but for its type (page or
 * block, lpae_tree's leaf_type) and its address. */
static uint64_t leaf_attrs(const struct ap_pt *pt, unsigned prot)
{
	bool s2 = pt->cfg.format == AP_PT_ARM_LPAE_S2;
	uint64_t pte = s2 ? prot_to_pte_s2(prot) : prot_to_pte_s1(prot);

	pte |= (prot & AP_PROT_CACHE) ? PTE_SH_IS : PTE_SH_OS;
	if (prot & AP_PROT_NOEXEC)
		pte |= PTE_XN;
	if (pt->cfg.quirks & AP_PT_QUIRK_ARM_NS)
		pte |= PTE_NS;
	return pte | PTE_AF;
}

static uint64_t table_pte(const struct ap_pt *pt, uint64_t table_pa)
{
	uint64_t pte = pa_to_pte(table_pa) | LPAE_TYPE_TABLE;

	if (pt->cfg.quirks & AP_PT_QUIRK_ARM_NS)
		pte |= PTE_NSTABLE;
	if (!pt->cfg.coherent_walk)
		pte |= PTE_SW_SYNC;
	return pte;
}

static unsigned pte_to_prot(uint64_t pte, bool stage2)
{
	unsigned prot = 0;

	if (stage2) {
		uint64_t attr = pte & S2_MEMATTR_MASK;

		if (pte & S2_HAP_READ)
			prot |= AP_PROT_READ;
		if (pte & S2_HAP_WRITE)
			prot |= AP_PROT_WRITE;
		if (attr == S2_MEMATTR_DEV)
			prot |= AP_PROT_MMIO;
		else if (attr == S2_MEMATTR_OIWB)
			prot |= AP_PROT_CACHE;
	} else {
		uint64_t idx = (pte & PTE_ATTR_MASK) >> PTE_ATTR_SHIFT;

		prot |= AP_PROT_READ;
		if (!(pte & PTE_AP_RDONLY))
			prot |= AP_PROT_WRITE;
		if (!(pte & PTE_AP_UNPRIV))
			prot |= AP_PROT_PRIV;
		if (idx == MAIR_IDX_DEV)
			prot |= AP_PROT_MMIO;
		else if (idx == MAIR_IDX_CACHE)
			prot |= AP_PROT_CACHE;
	}
	if ((pte & PTE_XN) == PTE_XN)
		prot |= AP_PROT_NOEXEC;
	return prot;
}

static void fill_leaf(const struct lpae_shape *s, uint64_t pte, int lvl, uint64_t va,
		      struct ap_pt_leaf *leaf)
{
	uint64_t size = lvl_size(s, lvl);

	leaf->iova = va;
	leaf->size = size;
	leaf->pa = pte_to_pa(pte, s->pg_shift) & ~(size - 1);
	leaf->pte = pte;
	leaf->level = lvl;
	leaf->prot = pte_to_prot(pte, s->stage2);
}

/* ------------------------------------------------------------ the tree */

static void decode_leaf(const struct ap_pt *pt, uint64_t pte, int lvl, uint64_t va,
			struct ap_pt_leaf *leaf)
{
	struct lpae_shape s;

	shape_of_pt(pt, &s);
	fill_leaf(&s, pte, lvl, va, leaf);
}

/* 64 bytes at least, as Linux allocates it: the alignment the hardware
 * wants of a very small start-level table. */
static size_t pgd_size(const struct ap_pt *pt)
{
	size_t sz = (size_t)8 << pt->pgd_bits;

	return sz < 64 ? 64 : sz;
}

/* Only the slots below 2^ias: the padding of a small PGD is never used. */
static unsigned pgd_slots(const struct ap_pt *pt)
{
	return 1u << pt->pgd_bits;
}

/* Above the last level, bits 1:0 tell a table from a block; at the last
 * level the table encoding is a page. */
#define LPAE_ABOVE_LAST                                                   \
	{                                                                 \
		.table = AP_PT_KIND(LPAE_TYPE_MASK, LPAE_TYPE_TABLE),     \
		.leaf = AP_PT_KIND(LPAE_TYPE_MASK, LPAE_TYPE_BLOCK),      \
		.leaf_type = LPAE_TYPE_BLOCK,                             \
	}

static int walk_leaf(const struct ap_pt *pt, const struct ap_pt_walk_cfg *cfg, uint64_t pte,
		     int lvl, uint64_t iova, unsigned access, struct ap_pt_walk_result *res);
static struct ap_pt_entry_kind usable_leaf(const struct ap_pt *pt, int lvl);
static void leaf_access(const struct ap_pt *pt, uint64_t pte, unsigned *prot, uint16_t *allowed);

/* Levels count up to the last; the map follows a non-zero descriptor that
 * is not a block or page as if it were a table (see ap_pt_tree_fmt). */
static const struct ap_pt_tree_fmt lpae_tree = {
	.leaf_level = LPAE_LAST_LEVEL,
	.step = +1,
	.live = LPAE_VALID,
	.levels = {
		[0] = LPAE_ABOVE_LAST,
		[1] = LPAE_ABOVE_LAST,
		[2] = LPAE_ABOVE_LAST,
		[LPAE_LAST_LEVEL] = {
			.table = AP_PT_NEVER,
			.leaf = AP_PT_KIND(LPAE_TYPE_MASK, LPAE_TYPE_PAGE),
			.leaf_type = LPAE_TYPE_PAGE,
		},
	},
	.oa_mask = LPAE_ADDR_MASK,
	.oa_fold = { .shift = 36, .granule_shift = 16, .mask = LPAE_PA_HI_MASK },
	.table_pte = table_pte,
	.leaf_attrs = leaf_attrs,
	.decode_leaf = decode_leaf,
	.root_bytes = pgd_size,
	.root_slots = pgd_slots,
	.walk_leaf = walk_leaf,
	.usable_leaf = usable_leaf,
	/* attributes and AP or HAP (bits 7:2), PXN and UXN or XN (54:53) */
	.leaf_key = { { 2, 6 }, { 53, 2 } },
	.leaf_access = leaf_access,
};

static bool pte_is_leaf(uint64_t pte, int lvl)
{
	return ap_pt_is_leaf(&lpae_tree, pte, lvl);
}

static bool pte_is_table(uint64_t pte, int lvl)
{
	return ap_pt_is_table(&lpae_tree, pte, lvl);
}

/* ------------------------------------------------------------ setup */

static uint64_t granule_pgsizes(unsigned pg_shift, unsigned oas)
{
	switch (pg_shift) {
	case 12:
		return (1ull << 12) | (1ull << 21) | (1ull << 30);
	case 14:
		return (1ull << 14) | (1ull << 25);
	case 16:
		return (1ull << 16) | (1ull << 29) | (oas > 48 ? 1ull << 42 : 0);
	default:
		return 0;
	}
}

/* Linux's arm_lpae_restrict_pgsizes(): one granule, host page size first. */
static unsigned choose_granule(uint64_t bitmap, uint64_t host)
{
	uint64_t below = bitmap & (host - 1);
	uint64_t above = bitmap & ~((host << 1) - 1);

	if (bitmap & host)
		return ap_log2(host);
	if (below)
		return ap_log2(below);
	if (above)
		return ap_ctz(above);
	return 0;
}

static bool oas_encodable(unsigned oas)
{
	switch (oas) {
	case 32: case 36: case 40: case 42: case 44: case 48: case 52:
		return true;
	default:
		return false;
	}
}

static int lpae_init(struct ap_pt *pt)
{
	struct ap_pt_cfg *cfg = &pt->cfg;
	uint64_t host = cfg->host_page_size ? cfg->host_page_size : 4096;
	uint32_t allowed = cfg->format == AP_PT_ARM_LPAE_S1 ? AP_PT_QUIRK_ARM_NS : 0;
	unsigned granule, max_bits;
	struct lpae_shape s;
	int err;

	if (cfg->quirks & ~allowed)
		return -EINVAL;
	if (host & (host - 1) || host < 4096)
		return -EINVAL;
	if (cfg->ias > LPAE_MAX_ADDR_BITS || cfg->oas > LPAE_MAX_ADDR_BITS)
		return -EINVAL;
	granule = choose_granule(cfg->pgsize_bitmap, host);
	cfg->pgsize_bitmap &= granule_pgsizes(granule, cfg->oas);
	if (!cfg->pgsize_bitmap)
		return -EINVAL;
	max_bits = granule == 16 ? 52 : 48;
	if (cfg->ias > max_bits)
		cfg->ias = max_bits;
	if (cfg->oas > max_bits)
		cfg->oas = max_bits;
	if (!oas_encodable(cfg->oas))
		return -EINVAL;
	err = shape_for(cfg->format, granule, cfg->ias, cfg->oas, &s);
	if (err)
		return err;
	pt->granule_shift = s.pg_shift;
	pt->bits_per_level = s.bpl;
	pt->start_level = s.start;
	pt->pgd_bits = s.pgd_bits;
	return ap_pt_tree_init(pt, &lpae_tree);
}

/* ------------------------------------------------------------ walks */

static int walk_cfg_shape(const struct ap_pt_walk_cfg *cfg, struct lpae_shape *s)
{
	if (!oas_encodable(cfg->oas))
		return -EINVAL;
	return shape_for(cfg->format, cfg->granule_shift, cfg->ias, cfg->oas, s);
}

static int lpae_start_level(const struct ap_pt_walk_cfg *cfg)
{
	struct lpae_shape s;

	return walk_cfg_shape(cfg, &s) ? -1 : s.start;
}

/* Block descriptors the architecture allows at this level and granule. */
static bool block_allowed(const struct lpae_shape *s, int lvl)
{
	switch (s->pg_shift) {
	case 12:
		return lvl == 1 || lvl == 2;
	case 14:
		return lvl == 2;
	default:
		return lvl == 2 || (lvl == 1 && s->oas > 48);
	}
}

/*
 * The access values (bit v: the OR of enum ap_access v) a leaf allows, all
 * sixteen decided at once.  Stage 2: HAP read and write, XN for fetches.
 * Stage 1: without AP[1] only privileged accesses; AP[2] makes it read-only;
 * a fetch needs PXN clear when privileged and UXN clear when not.
 */
static uint16_t allowed_accesses(uint64_t pte, bool stage2)
{
	unsigned ok = AP_ACCESS_VALUES_ALL;

	if (stage2) {
		if (!(pte & S2_HAP_READ))
			ok &= ~AP_ACCESS_VALUES_READ;
		if (!(pte & S2_HAP_WRITE))
			ok &= ~AP_ACCESS_VALUES_WRITE;
		if (pte & PTE_XN)
			ok &= ~AP_ACCESS_VALUES_EXEC;
		return (uint16_t)ok;
	}
	if (!(pte & PTE_AP_UNPRIV))
		ok &= AP_ACCESS_VALUES_PRIV;
	if (pte & PTE_AP_RDONLY)
		ok &= ~AP_ACCESS_VALUES_WRITE;
	if (pte & PTE_PXN)
		ok &= ~(AP_ACCESS_VALUES_EXEC & AP_ACCESS_VALUES_PRIV);
	if (pte & PTE_UXN)
		ok &= ~(AP_ACCESS_VALUES_EXEC & ~AP_ACCESS_VALUES_PRIV);
	return (uint16_t)ok;
}

/* The walk from a valid descriptor that is not a table on: a block or a
 * page, or a fault. */
static int walk_at_leaf(const struct lpae_shape *s, uint64_t pte, int lvl, uint64_t iova,
			unsigned access, struct ap_pt_walk_result *res)
{
	uint64_t size, out;

	if (lvl != LPAE_LAST_LEVEL && !block_allowed(s, lvl))
		return ap_pt_walk_fault(res, AP_FAULT_TRANSLATION, lvl);
	if (lvl == LPAE_LAST_LEVEL && !pte_is_leaf(pte, lvl))
		return ap_pt_walk_fault(res, AP_FAULT_TRANSLATION, lvl);
	size = lvl_size(s, lvl);
	fill_leaf(s, pte, lvl, iova & ~(size - 1), &res->leaf);
	out = res->leaf.pa;
	if (out >> s->oas)
		return ap_pt_walk_fault(res, AP_FAULT_ADDRESS_SIZE, lvl);
	if (!(pte & PTE_AF))
		return ap_pt_walk_fault(res, AP_FAULT_ACCESS_FLAG, lvl);
	res->allowed = allowed_accesses(pte, s->stage2);
	if (!(res->allowed >> (access & 15) & 1))
		return ap_pt_walk_fault(res, AP_FAULT_PERMISSION, lvl);
	res->level = lvl;
	res->pa = out | (iova & (size - 1));
	return 0;
}

static int lpae_walk(const struct ap_pt_walk_cfg *cfg, const struct ap_pt_mem *mem,
		     uint64_t iova, unsigned access, struct ap_pt_walk_result *res)
{
	struct lpae_shape s;
	uint64_t table_pa = cfg->root;
	int lvl;

	memset(res, 0, sizeof(*res));
	if (walk_cfg_shape(cfg, &s))
		return -EINVAL;
	res->level = s.start;
	if (iova >> cfg->ias)
		return ap_pt_walk_fault(res, AP_FAULT_ADDRESS_SIZE, s.start);
	if (table_pa >> cfg->oas)
		return ap_pt_walk_fault(res, AP_FAULT_ADDRESS_SIZE, s.start);
	for (lvl = s.start; lvl <= LPAE_LAST_LEVEL; lvl++) {
		const uint64_t *p;
		uint64_t pte;

		p = ap_pt_mem_at(mem, table_pa + 8 * lvl_index(&s, lvl, iova), 8);
		if (!p)
			return ap_pt_walk_fault(res, AP_FAULT_EXTERNAL, lvl);
		pte = ap_pte_walk_read(p);
		if (!(pte & LPAE_VALID))
			return ap_pt_walk_fault(res, AP_FAULT_TRANSLATION, lvl);
		if (pte_is_table(pte, lvl)) {
			/* A next-level address beyond OAS faults at the level of
			 * the descriptor that holds it. */
			table_pa = pte_to_pa(pte, s.pg_shift);
			if (table_pa >> cfg->oas)
				return ap_pt_walk_fault(res, AP_FAULT_ADDRESS_SIZE, lvl);
			continue;
		}
		return walk_at_leaf(&s, pte, lvl, iova, access, res);
	}
	return ap_pt_walk_fault(res, AP_FAULT_TRANSLATION, LPAE_LAST_LEVEL);
}

/* A page, or a block where the granule allows one, with the access flag:
 * every privileged access of no kind passes the permission checks. */
static struct ap_pt_entry_kind usable_leaf(const struct ap_pt *pt, int lvl)
{
	struct lpae_shape s;

	shape_of_pt(pt, &s);
	if (lvl == LPAE_LAST_LEVEL)
		return (struct ap_pt_entry_kind)AP_PT_KIND(LPAE_TYPE_MASK | PTE_AF,
							   LPAE_TYPE_PAGE | PTE_AF);
	if (block_allowed(&s, lvl))
		return (struct ap_pt_entry_kind)AP_PT_KIND(LPAE_TYPE_MASK | PTE_AF,
							   LPAE_TYPE_BLOCK | PTE_AF);
	return (struct ap_pt_entry_kind)AP_PT_NEVER;
}

static void leaf_access(const struct ap_pt *pt, uint64_t pte, unsigned *prot, uint16_t *allowed)
{
	bool s2 = pt->cfg.format == AP_PT_ARM_LPAE_S2;

	*prot = pte_to_prot(pte, s2);
	*allowed = allowed_accesses(pte, s2);
}

/* The tree walk's leaf (lpae_tree's walk_leaf): the walk of cfg, which is
 * the table's own, from there on. */
static int walk_leaf(const struct ap_pt *pt, const struct ap_pt_walk_cfg *cfg, uint64_t pte,
		     int lvl, uint64_t iova, unsigned access, struct ap_pt_walk_result *res)
{
	struct lpae_shape s;

	shape_of_pt(pt, &s);
	s.oas = cfg->oas;
	return walk_at_leaf(&s, pte, lvl, iova, access, res);
}

/* TCR/VTCR field positions and encodings (Linux's ARM_LPAE_TCR_*). */
#define TCR_T0SZ_SHIFT 0
#define TCR_SL0_SHIFT 6
#define TCR_IRGN0_SHIFT 8
#define TCR_ORGN0_SHIFT 10
#define TCR_SH0_SHIFT 12
#define TCR_TG0_SHIFT 14
#define TCR_IPS_SHIFT 32 /* stage 1 */
#define TCR_PS_SHIFT 16  /* stage 2 */
#define TCR_SH_OS 2
#define TCR_SH_IS 3
#define TCR_RGN_NC 0
#define TCR_RGN_WBWA 1

/* MAIR as Linux computes it: the int arithmetic of its expression
 * sign-extends attribute 3 (0xf4) into bits 63:32. */
#define LPAE_MAIR 0xfffffffff404ff44ull

static unsigned tg0_code(unsigned pg_shift)
{
	return pg_shift == 12 ? 0 : pg_shift == 16 ? 1 : 2;
}

static unsigned ps_code(unsigned oas)
{
	static const unsigned bits[] = { 32, 36, 40, 42, 44, 48, 52 };
	unsigned i;

	for (i = 0; i < 7; i++)
		if (bits[i] == oas)
			return i;
	return 0;
}

static int lpae_regs(const struct ap_pt_walk_cfg *cfg, bool coherent, struct ap_pt_regs *r)
{
	struct lpae_shape s;

	if (walk_cfg_shape(cfg, &s))
		return -EINVAL;
	r->ttbr = cfg->root;
	r->tsz = 64 - cfg->ias;
	r->tg = tg0_code(s.pg_shift);
	r->ps = ps_code(cfg->oas);
	r->sh = coherent ? TCR_SH_IS : TCR_SH_OS;
	r->irgn = r->orgn = coherent ? TCR_RGN_WBWA : TCR_RGN_NC;
	r->tcr = (uint64_t)r->tsz << TCR_T0SZ_SHIFT | (uint64_t)r->irgn << TCR_IRGN0_SHIFT |
		 (uint64_t)r->orgn << TCR_ORGN0_SHIFT | (uint64_t)r->sh << TCR_SH0_SHIFT |
		 (uint64_t)r->tg << TCR_TG0_SHIFT;
	if (s.stage2) {
		/* SL0 counts down from the last level; 4K counts one more. */
		r->sl0 = ~(unsigned)(s.start + (s.pg_shift == 12 ? 1 : 0)) & 3;
		r->tcr |= (uint64_t)r->sl0 << TCR_SL0_SHIFT | (uint64_t)r->ps << TCR_PS_SHIFT;
	} else {
		r->tcr |= (uint64_t)r->ps << TCR_IPS_SHIFT;
		r->mair = LPAE_MAIR;
	}
	return 0;
}

#define LPAE_OPS(fmt_, name_)                                  \
	{                                                      \
		.format = fmt_,                                \
		.name = name_,                                 \
		.init = lpae_init,                             \
		.destroy = ap_pt_tree_destroy,                 \
		.map_pages = ap_pt_tree_map,                   \
		.unmap_pages = ap_pt_tree_unmap_level,         \
		.unmap_leaves = ap_pt_tree_unmap_leaves,       \
		.for_each_leaf = ap_pt_tree_for_each_leaf,     \
		.walk_cfg_for_ias = ap_pt_tree_walk_cfg_for_ias, \
		.start_level = lpae_start_level,               \
		.walk = lpae_walk,                             \
		.txn_end_entry = ap_pt_tree_txn_end_entry,   \
		.regs = lpae_regs,                             \
	}

const struct ap_pt_ops ap_pt_arm_lpae_s1_ops = LPAE_OPS(AP_PT_ARM_LPAE_S1, "arm-lpae-s1");
const struct ap_pt_ops ap_pt_arm_lpae_s2_ops = LPAE_OPS(AP_PT_ARM_LPAE_S2, "arm-lpae-s2");
