/* SPDX-License-Identifier: MIT */
/*
 * Intel VT-d second-level (second-stage) tables: the descriptors Linux's
 * legacy dma_pte code and generic_pt's vtdss format write, bit for bit
 * (doc/formats/vtd-sl.md has the facts and their sources).
 *
 * Levels are numbered as VT-d numbers them: 1 is the 4 KiB leaf level (PTE),
 * 2 the PDE (2 MiB superpages), 3 the PDPE (1 GiB superpages), 4 the PML4E
 * and 5 the PML5E.  Every table, the root included, is one 4 KiB page of 512
 * entries, and the root sits at level 3, 4 or 5 for a 39-, 48- or 57-bit
 * width.  There is no present bit: an entry is present when it allows read or
 * write, which is why table entries carry R|W.  The tree algorithms (map,
 * unmap, leaves, freeing) are pt_tree.c's; this file gives them the
 * descriptors (vtd_tree) and keeps the configuration, the shape, the
 * hardware-style walker and the register values.
 */
#include <errno.h>
#include <string.h>

#include "pt_internal.h"

#define VTD_PAGE_SHIFT 12 /* VT-d pages are 4 KiB whatever the host's */
#define VTD_LEVEL_STRIDE 9
#define VTD_PTES_PER_TABLE 512u
#define VTD_TABLE_SIZE ((size_t)1 << VTD_PAGE_SHIFT)
#define VTD_LEAF_LEVEL 1
#define VTD_MAX_LEAF_LEVEL 3 /* 1 GiB: Linux never uses 512G or 1T pages */
#define VTD_MIN_IAS 31       /* 30 bits would be the 2-level AGAW */
#define VTD_MAX_IAS 57
#define VTD_MIN_OAS 32
#define VTD_MAX_OAS 52

#define DMA_PTE_READ (1ull << 0)
#define DMA_PTE_WRITE (1ull << 1)
#define DMA_PTE_RW (DMA_PTE_READ | DMA_PTE_WRITE)
#define DMA_PTE_LARGE_PAGE (1ull << 7) /* PS, on 2M and 1G leaves */
#define DMA_PTE_SNP (1ull << 11)
#define VTD_ADDR_MASK 0x000ffffffffff000ull /* bits 51:12 */

#define VTD_PGSIZES ((1ull << 12) | (1ull << 21) | (1ull << 30))

/* Shape of a walk: everything that follows from the width. */
struct vtd_shape {
	int root;          /* level of the root table: 3, 4 or 5 */
	unsigned pgd_bits; /* index bits of the root that the width uses */
};

static unsigned lvl_shift(int lvl)
{
	return VTD_PAGE_SHIFT + (unsigned)(lvl - 1) * VTD_LEVEL_STRIDE;
}

static uint64_t lvl_size(int lvl)
{
	return 1ull << lvl_shift(lvl);
}

static uint64_t lvl_index(int lvl, uint64_t iova)
{
	return (iova >> lvl_shift(lvl)) & (VTD_PTES_PER_TABLE - 1);
}

/* Linux's width_to_agaw()/agaw_to_level(), and generic_pt vtdss's top level. */
static int shape_for(unsigned ias, unsigned oas, struct vtd_shape *s)
{
	if (ias < VTD_MIN_IAS || ias > VTD_MAX_IAS)
		return -EINVAL;
	if (oas < VTD_MIN_OAS || oas > VTD_MAX_OAS)
		return -EINVAL;
	s->root = ias <= 39 ? 3 : ias <= 48 ? 4 : 5;
	s->pgd_bits = ias - lvl_shift(s->root);
	return 0;
}

/* ------------------------------------------------------------ descriptors */

static uint64_t pte_to_pa(uint64_t pte)
{
	return pte & VTD_ADDR_MASK;
}

/* dma_pte_present(): no present bit, R or W is what makes an entry live. */
static bool pte_present(uint64_t pte)
{
	return (pte & DMA_PTE_RW) != 0;
}

/* Legacy __domain_mapping(): prot & (R|W|SNP), and PS above the leaf level
 * (vtd_tree's leaf_type).  IOMMU_CACHE, NOEXEC, MMIO and PRIV have no
 * second-level encoding. */
static uint64_t leaf_attrs(const struct ap_pt *pt, unsigned prot)
{
	uint64_t pte = 0;

	if (prot & AP_PROT_READ)
		pte |= DMA_PTE_READ;
	if (prot & AP_PROT_WRITE)
		pte |= DMA_PTE_WRITE;
	if (pt->cfg.quirks & AP_PT_QUIRK_VTD_SNOOP)
		pte |= DMA_PTE_SNP;
	return pte;
}

/* Linux writes next-level entries as addr | R | W, coherent walk or not. */
static uint64_t table_pte(const struct ap_pt *pt, uint64_t table_pa)
{
	(void)pt;
	return (table_pa & VTD_ADDR_MASK) | DMA_PTE_RW;
}

static unsigned pte_to_prot(uint64_t pte)
{
	unsigned prot = 0;

	if (pte & DMA_PTE_READ)
		prot |= AP_PROT_READ;
	if (pte & DMA_PTE_WRITE)
		prot |= AP_PROT_WRITE;
	if (pte & DMA_PTE_SNP)
		prot |= AP_PROT_CACHE;
	return prot;
}

static void fill_leaf(uint64_t pte, int lvl, uint64_t va, struct ap_pt_leaf *leaf)
{
	uint64_t size = lvl_size(lvl);

	leaf->iova = va;
	leaf->size = size;
	leaf->pa = pte_to_pa(pte) & ~(size - 1);
	leaf->pte = pte;
	leaf->level = lvl;
	leaf->prot = pte_to_prot(pte);
}

/* ------------------------------------------------------------ the tree */

static void decode_leaf(const struct ap_pt *pt, uint64_t pte, int lvl, uint64_t va,
			struct ap_pt_leaf *leaf)
{
	(void)pt;
	fill_leaf(pte, lvl, va, leaf);
}

static size_t root_bytes(const struct ap_pt *pt)
{
	(void)pt;
	return VTD_TABLE_SIZE;
}

/* Every slot of the root page, those beyond the width included, as this
 * format has always freed it. */
static unsigned root_slots(const struct ap_pt *pt)
{
	(void)pt;
	return VTD_PTES_PER_TABLE;
}

/* A present entry above the leaf level is a superpage when it has PS (up
 * to 1 GiB) and a table otherwise. */
#define VTD_SUPERPAGE_LEVEL                                                 \
	{                                                                   \
		.table = AP_PT_KIND(DMA_PTE_LARGE_PAGE, 0),                 \
		.leaf = AP_PT_KIND(DMA_PTE_LARGE_PAGE, DMA_PTE_LARGE_PAGE), \
		.leaf_type = DMA_PTE_LARGE_PAGE,                            \
	}
#define VTD_TABLE_LEVEL                                                     \
	{                                                                   \
		.table = AP_PT_KIND(DMA_PTE_LARGE_PAGE, 0),                 \
		.leaf = AP_PT_NEVER,                                        \
	}

static int walk_leaf(const struct ap_pt *pt, const struct ap_pt_walk_cfg *cfg, uint64_t pte,
		     int lvl, uint64_t iova, unsigned access, struct ap_pt_walk_result *res);
static struct ap_pt_entry_kind usable_leaf(const struct ap_pt *pt, int lvl);
static void leaf_access(const struct ap_pt *pt, uint64_t pte, unsigned *prot, uint16_t *allowed);

/* Levels count down to the 4 KiB leaf; present is R or W (there is no
 * present bit); the map goes down through tables only.  The tree walk
 * hands over to walk_leaf only through tables with R and W, which carry
 * no restriction down. */
static const struct ap_pt_tree_fmt vtd_tree = {
	.leaf_level = VTD_LEAF_LEVEL,
	.step = -1,
	.live = DMA_PTE_RW,
	.levels = {
		[VTD_LEAF_LEVEL] = { .table = AP_PT_NEVER, .leaf = AP_PT_ANY_LIVE },
		[2] = VTD_SUPERPAGE_LEVEL,
		[VTD_MAX_LEAF_LEVEL] = VTD_SUPERPAGE_LEVEL,
		[4] = VTD_TABLE_LEVEL,
		[5] = VTD_TABLE_LEVEL,
	},
	.oa_mask = VTD_ADDR_MASK,
	.table_pte = table_pte,
	.leaf_attrs = leaf_attrs,
	.decode_leaf = decode_leaf,
	.root_bytes = root_bytes,
	.root_slots = root_slots,
	.walk_leaf = walk_leaf,
	.table_rights = DMA_PTE_RW,
	.usable_leaf = usable_leaf,
	.leaf_key = { { 0, 2 }, { 11, 1 } }, /* R and W, SNP */
	.leaf_access = leaf_access,
};

static bool pte_is_table(uint64_t pte, int lvl)
{
	return ap_pt_is_table(&vtd_tree, pte, lvl);
}

/* ------------------------------------------------------------ setup */

static int vtd_init(struct ap_pt *pt)
{
	struct ap_pt_cfg *cfg = &pt->cfg;
	struct vtd_shape s;
	int err;

	if (cfg->quirks & ~AP_PT_QUIRK_VTD_SNOOP)
		return -EINVAL;
	err = shape_for(cfg->ias, cfg->oas, &s);
	if (err)
		return err;
	/* One granule, always 4K; host_page_size does not matter to VT-d. */
	cfg->pgsize_bitmap &= VTD_PGSIZES;
	if (!(cfg->pgsize_bitmap & (1ull << VTD_PAGE_SHIFT)))
		return -EINVAL;
	pt->granule_shift = VTD_PAGE_SHIFT;
	pt->bits_per_level = VTD_LEVEL_STRIDE;
	pt->start_level = s.root;
	pt->pgd_bits = s.pgd_bits;
	return ap_pt_tree_init(pt, &vtd_tree);
}

/* ------------------------------------------------------------ walks */

static int walk_cfg_shape(const struct ap_pt_walk_cfg *cfg, struct vtd_shape *s)
{
	if (cfg->granule_shift != VTD_PAGE_SHIFT)
		return -EINVAL;
	return shape_for(cfg->ias, cfg->oas, s);
}

static int vtd_start_level(const struct ap_pt_walk_cfg *cfg)
{
	struct vtd_shape s;

	return walk_cfg_shape(cfg, &s) ? -1 : s.root;
}

/* PS is a superpage at levels 2 and 3, and reserved everywhere else. */
static bool ps_reserved(uint64_t pte, int lvl)
{
	return (pte & DMA_PTE_LARGE_PAGE) &&
	       (lvl == VTD_LEAF_LEVEL || lvl > VTD_MAX_LEAF_LEVEL);
}

/* The access values R and W along the whole walk allow; execute and
 * privilege are not checked by second-level tables. */
static uint16_t vtd_allowed(uint64_t rights)
{
	unsigned ok = AP_ACCESS_VALUES_ALL;

	if (!(rights & DMA_PTE_READ))
		ok &= ~AP_ACCESS_VALUES_READ;
	if (!(rights & DMA_PTE_WRITE))
		ok &= ~AP_ACCESS_VALUES_WRITE;
	return (uint16_t)ok;
}

/* The rights an access needs. */
static uint64_t access_rights(unsigned access)
{
	uint64_t need = 0;

	if (access & AP_ACCESS_READ)
		need |= DMA_PTE_READ;
	if (access & AP_ACCESS_WRITE)
		need |= DMA_PTE_WRITE;
	return need;
}

/* The walk at a present leaf of level lvl, `rights` those of the tables
 * above it. */
static int walk_at_leaf(unsigned oas, uint64_t pte, int lvl, uint64_t iova, uint64_t need,
			uint64_t rights, struct ap_pt_walk_result *res)
{
	uint64_t size = lvl_size(lvl), out;

	fill_leaf(pte, lvl, iova & ~(size - 1), &res->leaf);
	out = res->leaf.pa;
	if (out >> oas)
		return ap_pt_walk_fault(res, AP_FAULT_ADDRESS_SIZE, lvl);
	if (need & ~pte)
		return ap_pt_walk_fault(res, AP_FAULT_PERMISSION, lvl);
	res->allowed = vtd_allowed(rights & pte);
	res->level = lvl;
	res->pa = out | (iova & (size - 1));
	return 0;
}

/*
 * Second-level access rights are those of every entry on the walk (the R and
 * W of a PML4E govern its whole 512 GiB): an entry that lacks the right
 * faults at its own level.  Execute and privilege do not exist here.
 */
static int vtd_walk(const struct ap_pt_walk_cfg *cfg, const struct ap_pt_mem *mem,
		    uint64_t iova, unsigned access, struct ap_pt_walk_result *res)
{
	struct vtd_shape s;
	uint64_t table_pa = cfg->root;
	uint64_t need, rights = DMA_PTE_READ | DMA_PTE_WRITE;
	int lvl;

	memset(res, 0, sizeof(*res));
	if (walk_cfg_shape(cfg, &s))
		return -EINVAL;
	need = access_rights(access);
	res->level = s.root;
	if (iova >> cfg->ias)
		return ap_pt_walk_fault(res, AP_FAULT_ADDRESS_SIZE, s.root);
	if (table_pa >> cfg->oas)
		return ap_pt_walk_fault(res, AP_FAULT_ADDRESS_SIZE, s.root);
	for (lvl = s.root; lvl >= VTD_LEAF_LEVEL; lvl--) {
		const uint64_t *p;
		uint64_t pte;

		p = ap_pt_mem_at(mem, table_pa + 8 * lvl_index(lvl, iova), 8);
		if (!p)
			return ap_pt_walk_fault(res, AP_FAULT_EXTERNAL, lvl);
		pte = ap_pte_walk_read(p);
		if (!pte_present(pte) || ps_reserved(pte, lvl))
			return ap_pt_walk_fault(res, AP_FAULT_TRANSLATION, lvl);
		if (pte_is_table(pte, lvl)) {
			/* A next-level address beyond OAS faults at the level of
			 * the descriptor that holds it. */
			table_pa = pte_to_pa(pte);
			if (table_pa >> cfg->oas)
				return ap_pt_walk_fault(res, AP_FAULT_ADDRESS_SIZE, lvl);
			if (need & ~pte)
				return ap_pt_walk_fault(res, AP_FAULT_PERMISSION, lvl);
			rights &= pte;
			continue;
		}
		return walk_at_leaf(cfg->oas, pte, lvl, iova, need, rights, res);
	}
	return ap_pt_walk_fault(res, AP_FAULT_TRANSLATION, VTD_LEAF_LEVEL);
}

/* A present 4K leaf without PS, a superpage with it: no access of no kind
 * lacks a right. */
static struct ap_pt_entry_kind usable_leaf(const struct ap_pt *pt, int lvl)
{
	(void)pt;
	if (lvl == VTD_LEAF_LEVEL)
		return (struct ap_pt_entry_kind)AP_PT_KIND(DMA_PTE_LARGE_PAGE, 0);
	if (lvl <= VTD_MAX_LEAF_LEVEL)
		return (struct ap_pt_entry_kind)AP_PT_KIND(DMA_PTE_LARGE_PAGE, DMA_PTE_LARGE_PAGE);
	return (struct ap_pt_entry_kind)AP_PT_NEVER;
}

/* Reached through tables with R and W, only the leaf's own rights count. */
static void leaf_access(const struct ap_pt *pt, uint64_t pte, unsigned *prot, uint16_t *allowed)
{
	(void)pt;
	*prot = pte_to_prot(pte);
	*allowed = vtd_allowed(pte);
}

/* The tree walk's leaf (vtd_tree's walk_leaf), reached through tables
 * with R and W. */
static int walk_leaf(const struct ap_pt *pt, const struct ap_pt_walk_cfg *cfg, uint64_t pte,
		     int lvl, uint64_t iova, unsigned access, struct ap_pt_walk_result *res)
{
	(void)pt;
	if (!pte_present(pte) || ps_reserved(pte, lvl))
		return ap_pt_walk_fault(res, AP_FAULT_TRANSLATION, lvl);
	return walk_at_leaf(cfg->oas, pte, lvl, iova, access_rights(access), DMA_PTE_RW, res);
}

/* The context entry's SLPTPTR and AW (AGAW: 1 = 3-level, 2 = 4, 3 = 5);
 * there is no TCR, and coherency is a capability, not a field. */
static int vtd_regs(const struct ap_pt_walk_cfg *cfg, bool coherent, struct ap_pt_regs *r)
{
	struct vtd_shape s;

	(void)coherent;
	if (walk_cfg_shape(cfg, &s))
		return -EINVAL;
	r->ttbr = cfg->root;
	r->aw = (unsigned)s.root - 2;
	return 0;
}

const struct ap_pt_ops ap_pt_intel_vtd_sl_ops = {
	.format = AP_PT_INTEL_VTD_SL,
	.name = "intel-vtd-sl",
	.init = vtd_init,
	.destroy = ap_pt_tree_destroy,
	.map_pages = ap_pt_tree_map,
	.unmap_pages = ap_pt_tree_unmap_range,
	.unmap_leaves = ap_pt_tree_unmap_leaves,
	.for_each_leaf = ap_pt_tree_for_each_leaf,
	.walk_cfg_for_ias = ap_pt_tree_walk_cfg_for_ias,
	.start_level = vtd_start_level,
	.walk = vtd_walk,
	.txn_end_entry = ap_pt_tree_txn_end_entry,
	.regs = vtd_regs,
};
