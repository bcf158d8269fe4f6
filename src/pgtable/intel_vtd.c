/*
 * Intel VT-d second-level (second-stage) tables: the descriptors Linux's
 * legacy dma_pte code and generic_pt's vtdss format write, bit for bit
 * (shared/reference/pagetable-formats.md section 4 is the specification).
 *
 * Levels are numbered as VT-d numbers them: 1 is the 4 KiB leaf level (PTE),
 * 2 the PDE (2 MiB superpages), 3 the PDPE (1 GiB superpages), 4 the PML4E
 * and 5 the PML5E.  Every table, the root included, is one 4 KiB page of 512
 * entries, and the root sits at level 3, 4 or 5 for a 39-, 48- or 57-bit
 * width.  There is no present bit: an entry is present when it allows read or
 * write, which is why table entries carry R|W.  A table is reached by the
 * physical address in its parent's descriptor; we turn that address back into
 * a host pointer through the memory provider, never through a side pointer,
 * so what we walk is what a hardware walker would walk.
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

/* Entries of a table at lvl that lie below 2^ias: the root may use fewer
 * than its 512 (ias 42 uses 8 PML4Es). */
static unsigned lvl_entries(const struct vtd_shape *s, int lvl)
{
	return lvl == s->root ? 1u << s->pgd_bits : VTD_PTES_PER_TABLE;
}

static uint64_t lvl_index(int lvl, uint64_t iova)
{
	return (iova >> lvl_shift(lvl)) & (VTD_PTES_PER_TABLE - 1);
}

/* Slots from idx to the end of its table page (or of the width, at the root). */
static uint64_t entries_left(const struct vtd_shape *s, int lvl, uint64_t idx)
{
	return lvl_entries(s, lvl) - idx;
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

static void shape_of_pt(const struct ap_pt *pt, struct vtd_shape *s)
{
	s->root = pt->start_level;
	s->pgd_bits = pt->pgd_bits;
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

static bool pte_is_leaf(uint64_t pte, int lvl)
{
	if (!pte_present(pte))
		return false;
	if (lvl == VTD_LEAF_LEVEL)
		return true;
	return lvl <= VTD_MAX_LEAF_LEVEL && (pte & DMA_PTE_LARGE_PAGE);
}

static bool pte_is_table(uint64_t pte, int lvl)
{
	return lvl != VTD_LEAF_LEVEL && pte_present(pte) && !(pte & DMA_PTE_LARGE_PAGE);
}

/* Legacy __domain_mapping(): prot & (R|W|SNP), PS above the leaf level.
 * IOMMU_CACHE, NOEXEC, MMIO and PRIV have no second-level encoding. */
static uint64_t leaf_pte(const struct ap_pt *pt, uint64_t pa, unsigned prot, int lvl)
{
	uint64_t pte = pa & VTD_ADDR_MASK;

	if (prot & AP_PROT_READ)
		pte |= DMA_PTE_READ;
	if (prot & AP_PROT_WRITE)
		pte |= DMA_PTE_WRITE;
	if (lvl != VTD_LEAF_LEVEL)
		pte |= DMA_PTE_LARGE_PAGE;
	if (pt->cfg.quirks & AP_PT_QUIRK_VTD_SNOOP)
		pte |= DMA_PTE_SNP;
	return pte;
}

/* Linux writes next-level entries as addr | R | W, coherent walk or not. */
static uint64_t table_pte(uint64_t table_pa)
{
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

/* ------------------------------------------------------------ table memory */

static uint64_t *child_of(const struct ap_pt *pt, uint64_t pte)
{
	return pt->mem.map(pt->mem.cookie, pte_to_pa(pte), VTD_TABLE_SIZE);
}

static uint64_t *table_alloc(struct ap_pt *pt, uint64_t *pa)
{
	uint64_t *t = pt->mem.alloc(pt->mem.cookie, VTD_TABLE_SIZE, pa);

	if (t)
		pt->table_bytes += VTD_TABLE_SIZE;
	return t;
}

static void table_release(struct ap_pt *pt, uint64_t *t, uint64_t pa)
{
	pt->mem.free(pt->mem.cookie, t, pa, VTD_TABLE_SIZE);
	pt->table_bytes -= VTD_TABLE_SIZE;
}

/* Free the non-root table behind the level-lvl descriptor `pte` and
 * everything below it. */
static void free_subtree(struct ap_pt *pt, uint64_t pte, int lvl)
{
	uint64_t *t = child_of(pt, pte);
	unsigned i;

	if (lvl - 1 > VTD_LEAF_LEVEL) {
		for (i = 0; i < VTD_PTES_PER_TABLE; i++)
			if (pte_is_table(t[i], lvl - 1))
				free_subtree(pt, t[i], lvl - 1);
	}
	table_release(pt, t, pte_to_pa(pte));
}

static bool subtree_has_leaves(const struct ap_pt *pt, uint64_t pte, int lvl)
{
	const uint64_t *t = child_of(pt, pte);
	unsigned i;

	for (i = 0; i < VTD_PTES_PER_TABLE; i++) {
		uint64_t e = ap_pte_read(&t[i]);

		if (!e)
			continue;
		if (!pte_is_table(e, lvl - 1) || subtree_has_leaves(pt, e, lvl - 1))
			return true;
	}
	return false;
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
	pt->root = table_alloc(pt, &pt->root_pa);
	return pt->root ? 0 : -ENOMEM;
}

static void vtd_destroy(struct ap_pt *pt)
{
	unsigned i;

	if (!pt->root)
		return;
	for (i = 0; i < VTD_PTES_PER_TABLE; i++)
		if (pte_is_table(pt->root[i], pt->start_level))
			free_subtree(pt, pt->root[i], pt->start_level);
	table_release(pt, pt->root, pt->root_pa);
	pt->root = NULL;
}

/* Level whose page size is pgsize, or -1. */
static int level_of_size(uint64_t pgsize)
{
	int lvl;

	for (lvl = VTD_LEAF_LEVEL; lvl <= VTD_MAX_LEAF_LEVEL; lvl++)
		if (lvl_size(lvl) == pgsize)
			return lvl;
	return -1;
}

/* ------------------------------------------------------------ map */

/* Check every slot before writing any: a leaf, or a table that still holds
 * live leaves, refuses the whole call. */
static int check_slots(const struct ap_pt *pt, const uint64_t *slot, uint64_t n, int lvl)
{
	uint64_t i;

	for (i = 0; i < n; i++) {
		uint64_t pte = ap_pte_read(&slot[i]);

		if (!pte)
			continue;
		if (!pte_is_table(pte, lvl) || subtree_has_leaves(pt, pte, lvl))
			return -EEXIST;
	}
	return 0;
}

static int vtd_map(struct ap_pt *pt, uint64_t iova, uint64_t pa, uint64_t pgsize,
		   uint64_t pgcount, unsigned prot, uint64_t *mapped)
{
	struct vtd_shape s;
	uint64_t *table = pt->root;
	uint64_t idx, n, i;
	int lvl, target, err;

	shape_of_pt(pt, &s);
	if (!pgsize || (pgsize & (pgsize - 1)) || !(pgsize & pt->cfg.pgsize_bitmap) || !pgcount)
		return -EINVAL;
	if (!(prot & (AP_PROT_READ | AP_PROT_WRITE)))
		return -EINVAL;
	if ((iova >> pt->cfg.ias) || (pa >> pt->cfg.oas))
		return -ERANGE;
	target = level_of_size(pgsize);
	if (target < 0)
		return -EINVAL;
	for (lvl = s.root; lvl > target; lvl--) {
		uint64_t *slot = &table[lvl_index(lvl, iova)];
		uint64_t pte = ap_pte_read(slot);

		if (!pte) {
			uint64_t cpa;
			uint64_t *child = table_alloc(pt, &cpa);

			if (!child)
				return -ENOMEM;
			if (ap_pt_txn_note(pt, iova, lvl - 1, cpa)) {
				table_release(pt, child, cpa);
				return -ENOMEM;
			}
			pte = table_pte(cpa);
			ap_pte_write(slot, pte);
		} else if (!pte_is_table(pte, lvl)) {
			return -EEXIST; /* a superpage covers the target */
		}
		table = child_of(pt, pte);
		if (!table)
			return -EFAULT;
	}
	idx = lvl_index(target, iova);
	n = entries_left(&s, target, idx);
	if (n > pgcount)
		n = pgcount;
	err = check_slots(pt, &table[idx], n, target);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		uint64_t *slot = &table[idx + i];
		uint64_t old = ap_pte_read(slot);

		if (old) {
			/* An empty table: replace it as Linux does. */
			ap_pte_write(slot, 0);
			free_subtree(pt, old, target);
		}
		ap_pte_write(slot, leaf_pte(pt, pa + i * pgsize, prot, target));
	}
	ap_pt_count_leaves(pt, ap_log2(pgsize), (int64_t)n);
	*mapped += n * pgsize;
	return 0;
}

/* ------------------------------------------------------------ unmap */

static uint64_t unmap_level(struct ap_pt *pt, const struct vtd_shape *s, uint64_t *table,
			    int lvl, int target, uint64_t iova, uint64_t pgsize,
			    uint64_t pgcount);

/* Empty a whole table leaf by leaf; returns the bytes unmapped, which equal
 * the table's span only if every slot held a leaf or a full subtree. */
static uint64_t unmap_table(struct ap_pt *pt, const struct vtd_shape *s, uint64_t pte,
			    int lvl, uint64_t base)
{
	uint64_t *child = child_of(pt, pte);

	if (!child)
		return 0;
	return unmap_level(pt, s, child, lvl - 1, lvl - 1, base, lvl_size(lvl - 1),
			   VTD_PTES_PER_TABLE);
}

static uint64_t unmap_level(struct ap_pt *pt, const struct vtd_shape *s, uint64_t *table,
			    int lvl, int target, uint64_t iova, uint64_t pgsize,
			    uint64_t pgcount)
{
	uint64_t idx = lvl_index(lvl, iova);
	uint64_t n, i, total = 0;

	if (lvl > target) {
		uint64_t pte = ap_pte_read(&table[idx]);
		uint64_t *child;

		if (!pte_is_table(pte, lvl))
			return 0; /* a hole, or a superpage the range would cut */
		child = child_of(pt, pte);
		if (!child)
			return 0;
		return unmap_level(pt, s, child, lvl - 1, target, iova, pgsize, pgcount);
	}
	n = entries_left(s, lvl, idx);
	if (n > pgcount)
		n = pgcount;
	for (i = 0; i < n; i++) {
		uint64_t *slot = &table[idx + i];
		uint64_t pte = ap_pte_read(slot);
		uint64_t base = (iova & ~(pgsize - 1)) + i * pgsize;
		uint64_t got;

		if (pte_is_leaf(pte, lvl)) {
			ap_pte_write(slot, 0);
			ap_pt_count_leaves(pt, ap_log2(pgsize), -1);
			total += pgsize;
			continue;
		}
		if (!pte_is_table(pte, lvl))
			break;
		got = unmap_table(pt, s, pte, lvl, base);
		total += got;
		if (got != pgsize)
			break;
		ap_pte_write(slot, 0);
		free_subtree(pt, pte, lvl);
	}
	return total;
}

static uint64_t vtd_unmap(struct ap_pt *pt, uint64_t iova, uint64_t pgsize, uint64_t pgcount)
{
	struct vtd_shape s;
	int target;

	shape_of_pt(pt, &s);
	if (!pgsize || (pgsize & (pgsize - 1)) || !(pgsize & pt->cfg.pgsize_bitmap) || !pgcount)
		return 0;
	if (iova >> pt->cfg.ias)
		return 0;
	target = level_of_size(pgsize);
	if (target < 0)
		return 0;
	return unmap_level(pt, &s, pt->root, s.root, target, iova, pgsize, pgcount);
}

/* ------------------------------------------------------------ leaves */

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

struct leaf_iter {
	const struct ap_pt *pt;
	const struct vtd_shape *s;
	uint64_t first, last;
	int (*fn)(void *arg, const struct ap_pt_leaf *leaf);
	void *arg;
};

static int leaves_in(const struct leaf_iter *it, const uint64_t *table, int lvl, uint64_t base)
{
	unsigned shift = lvl_shift(lvl);
	uint64_t nent = lvl_entries(it->s, lvl);
	uint64_t i = it->first > base ? (it->first - base) >> shift : 0;

	for (; i < nent; i++) {
		uint64_t va = base + (i << shift);
		uint64_t pte = ap_pte_read(&table[i]);
		int rc;

		if (va > it->last)
			break;
		if (pte_is_leaf(pte, lvl)) {
			struct ap_pt_leaf leaf;

			fill_leaf(pte, lvl, va, &leaf);
			rc = it->fn(it->arg, &leaf);
		} else if (pte_is_table(pte, lvl)) {
			const uint64_t *child = child_of(it->pt, pte);

			rc = child ? leaves_in(it, child, lvl - 1, va) : 0;
		} else {
			continue;
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int vtd_for_each_leaf(const struct ap_pt *pt, uint64_t first, uint64_t last,
			     int (*fn)(void *arg, const struct ap_pt_leaf *leaf), void *arg)
{
	struct vtd_shape s;
	struct leaf_iter it;

	shape_of_pt(pt, &s);
	if (first > last || (first >> pt->cfg.ias))
		return 0;
	it.pt = pt;
	it.s = &s;
	it.first = first;
	it.last = last;
	it.fn = fn;
	it.arg = arg;
	return leaves_in(&it, pt->root, s.root, 0);
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

static int walk_fault(struct ap_pt_walk_result *res, enum ap_fault_kind kind, int lvl)
{
	res->fault = kind;
	res->level = lvl;
	return -EFAULT;
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
	uint64_t need = 0;
	int lvl;

	memset(res, 0, sizeof(*res));
	if (walk_cfg_shape(cfg, &s))
		return -EINVAL;
	if (access & AP_ACCESS_READ)
		need |= DMA_PTE_READ;
	if (access & AP_ACCESS_WRITE)
		need |= DMA_PTE_WRITE;
	res->level = s.root;
	if (iova >> cfg->ias)
		return walk_fault(res, AP_FAULT_ADDRESS_SIZE, s.root);
	if (table_pa >> cfg->oas)
		return walk_fault(res, AP_FAULT_ADDRESS_SIZE, s.root);
	for (lvl = s.root; lvl >= VTD_LEAF_LEVEL; lvl--) {
		const uint64_t *p;
		uint64_t pte, size, out;

		p = mem->map(mem->cookie, table_pa + 8 * lvl_index(lvl, iova), 8);
		if (!p)
			return walk_fault(res, AP_FAULT_EXTERNAL, lvl);
		pte = ap_pte_read(p);
		if (!pte_present(pte) || ps_reserved(pte, lvl))
			return walk_fault(res, AP_FAULT_TRANSLATION, lvl);
		if (pte_is_table(pte, lvl)) {
			/* A next-level address beyond OAS faults at the level of
			 * the descriptor that holds it. */
			table_pa = pte_to_pa(pte);
			if (table_pa >> cfg->oas)
				return walk_fault(res, AP_FAULT_ADDRESS_SIZE, lvl);
			if (need & ~pte)
				return walk_fault(res, AP_FAULT_PERMISSION, lvl);
			continue;
		}
		size = lvl_size(lvl);
		fill_leaf(pte, lvl, iova & ~(size - 1), &res->leaf);
		out = res->leaf.pa;
		if (out >> cfg->oas)
			return walk_fault(res, AP_FAULT_ADDRESS_SIZE, lvl);
		if (need & ~pte)
			return walk_fault(res, AP_FAULT_PERMISSION, lvl);
		res->level = lvl;
		res->pa = out | (iova & (size - 1));
		return 0;
	}
	return walk_fault(res, AP_FAULT_TRANSLATION, VTD_LEAF_LEVEL);
}

/* Enter the same tables deeper, through index 0, for a smaller width. */
static int vtd_walk_cfg_for_ias(struct ap_pt *pt, unsigned ias, struct ap_pt_walk_cfg *out)
{
	struct vtd_shape want;
	uint64_t *chain[AP_PT_MAX_LEVELS], chain_pa[AP_PT_MAX_LEVELS];
	uint64_t *table = pt->root, *slot = NULL;
	int lvl, missing = 0, k;

	ap_pt_get_walk_cfg(pt, out);
	if (ias >= pt->cfg.ias)
		return 0;
	if (shape_for(ias, pt->cfg.oas, &want))
		return -EINVAL;
	out->ias = ias;
	if (want.root == pt->start_level)
		return 0;
	for (lvl = pt->start_level; lvl > want.root; lvl--) {
		uint64_t pte;

		slot = &table[0];
		pte = ap_pte_read(slot);
		if (!pte) {
			missing = lvl - want.root;
			break;
		}
		if (!pte_is_table(pte, lvl))
			return -EINVAL;
		table = child_of(pt, pte);
		if (!table)
			return -EFAULT;
	}
	if (!missing) {
		out->root = pte_to_pa(ap_pte_read(slot));
		return 0;
	}
	for (k = 0; k < missing; k++) {
		chain[k] = table_alloc(pt, &chain_pa[k]);
		if (!chain[k]) {
			while (k--)
				table_release(pt, chain[k], chain_pa[k]);
			return -ENOMEM;
		}
	}
	for (k = missing - 1; k > 0; k--)
		ap_pte_write(&chain[k - 1][0], table_pte(chain_pa[k]));
	ap_pte_write(slot, table_pte(chain_pa[0]));
	out->root = chain_pa[missing - 1];
	return 0;
}

/* The table at pa holds level-lvl entries; its descriptor is at lvl + 1. */
static void vtd_txn_release(struct ap_pt *pt, uint64_t iova, int lvl, uint64_t pa)
{
	uint64_t *table = pt->root;
	uint64_t *slot, pte;
	int l;

	for (l = pt->start_level; l > lvl + 1; l--) {
		pte = ap_pte_read(&table[lvl_index(l, iova)]);
		if (!pte_is_table(pte, l) || !(table = child_of(pt, pte)))
			return;
	}
	slot = &table[lvl_index(lvl + 1, iova)];
	pte = ap_pte_read(slot);
	if (!pte_is_table(pte, lvl + 1) || pte_to_pa(pte) != pa ||
	    subtree_has_leaves(pt, pte, lvl + 1))
		return;
	ap_pte_write(slot, 0);
	free_subtree(pt, pte, lvl + 1);
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
	.destroy = vtd_destroy,
	.map_pages = vtd_map,
	.unmap_pages = vtd_unmap,
	.for_each_leaf = vtd_for_each_leaf,
	.walk_cfg_for_ias = vtd_walk_cfg_for_ias,
	.start_level = vtd_start_level,
	.walk = vtd_walk,
	.txn_release = vtd_txn_release,
	.regs = vtd_regs,
};
