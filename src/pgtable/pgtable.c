/* SPDX-License-Identifier: MIT */
/*
 * The page-table layer's front door: argument checks common to every format,
 * then a call through the format's ops table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pt_internal.h"

static const struct ap_pt_ops *const formats[] = {
	&ap_pt_arm_lpae_s1_ops,
	&ap_pt_arm_lpae_s2_ops,
	&ap_pt_intel_vtd_sl_ops,
};

static const struct ap_pt_ops *ops_for(enum ap_pt_format format)
{
	size_t i;

	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i]->format == format)
			return formats[i];
	return NULL;
}

const char *ap_pt_format_name(enum ap_pt_format format)
{
	const struct ap_pt_ops *ops = ops_for(format);

	return ops ? ops->name : "?";
}

static bool mem_usable(const struct ap_pt_mem *mem)
{
	if (!mem || !mem->alloc || !mem->free || !mem->map)
		return false;
	if (!mem->window_host)
		return !mem->frame_counts;
	return mem->window_size && !((mem->window_pa | mem->window_size) & 0xfff) &&
	       mem->window_pa + (mem->window_size - 1) > mem->window_pa;
}

static void handle_free(struct ap_pt *pt)
{
	if (pt->mem.release)
		pt->mem.release(pt->mem.cookie, pt);
	else
		free(pt);
}

int ap_pt_alloc(const struct ap_pt_cfg *cfg, const struct ap_pt_mem *mem, struct ap_pt **out)
{
	const struct ap_pt_ops *ops;
	struct ap_pt *pt;
	int err;

	if (!cfg || !out || !mem_usable(mem))
		return -EINVAL;
	ops = ops_for(cfg->format);
	if (!ops)
		return -EOPNOTSUPP;
	pt = mem->zalloc ? mem->zalloc(mem->cookie, sizeof(*pt)) : calloc(1, sizeof(*pt));
	if (!pt)
		return -ENOMEM;
	pt->ops = ops;
	pt->cfg = *cfg;
	pt->mem = *mem;
	err = ops->init(pt);
	if (err) {
		ops->destroy(pt);
		handle_free(pt);
		return err;
	}
	*out = pt;
	return 0;
}

static void *meta_alloc(struct ap_pt *pt, size_t size)
{
	return pt->mem.zalloc ? pt->mem.zalloc(pt->mem.cookie, size) : calloc(1, size);
}

static void meta_free(struct ap_pt *pt, void *p)
{
	if (!p)
		return;
	if (pt->mem.release)
		pt->mem.release(pt->mem.cookie, p);
	else
		free(p);
}

void ap_pt_txn_begin(struct ap_pt *pt, struct ap_pt_txn *txn)
{
	*txn = (struct ap_pt_txn){ .pt = pt };
}

int ap_pt_txn_note(struct ap_pt_txn *txn, const struct ap_pt_txn_entry *e)
{
	struct ap_pt_txn_entry *entries;

	if (!txn)
		return 0;
	entries = txn->entries;
	if (txn->len == txn->cap) {
		size_t cap = txn->cap ? txn->cap * 2 : 16;
		struct ap_pt_txn_entry *grown = meta_alloc(txn->pt, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		if (txn->len)
			memcpy(grown, entries, txn->len * sizeof(*grown));
		meta_free(txn->pt, entries);
		txn->entries = entries = grown;
		txn->cap = cap;
	}
	entries[txn->len++] = *e;
	return 0;
}

void ap_pt_txn_forget(struct ap_pt_txn *txn)
{
	if (txn && txn->len)
		txn->len--;
}

int ap_pt_txn_map_pages(struct ap_pt_txn *txn, uint64_t iova, uint64_t pa, uint64_t pgsize,
			uint64_t pgcount, unsigned prot, uint64_t *mapped)
{
	uint64_t dummy = 0;
	struct ap_pt *pt = txn->pt;

	return pt->ops->map_pages(pt, txn, iova, pa, pgsize, pgcount, prot,
				  mapped ? mapped : &dummy);
}

uint64_t ap_pt_txn_unmap(struct ap_pt_txn *txn, uint64_t iova, uint64_t pgsize,
			 uint64_t pgcount, uint64_t *sizes)
{
	uint64_t dummy = 0;
	struct ap_pt *pt = txn->pt;

	return pt->ops->unmap_leaves(pt, iova, pgsize, pgcount, sizes ? sizes : &dummy);
}

void ap_pt_txn_end(struct ap_pt_txn *txn, bool rollback)
{
	const struct ap_pt_txn_entry *entries = txn->entries;
	struct ap_pt *pt = txn->pt;
	size_t i = txn->len;

	/* Newest first: a table's children were allocated after it. */
	while (i--)
		pt->ops->txn_end_entry(pt, &entries[i], rollback);
	meta_free(pt, txn->entries);
	*txn = (struct ap_pt_txn){ .pt = pt };
}

void ap_pt_free(struct ap_pt *pt)
{
	if (!pt)
		return;
	pt->ops->destroy(pt);
	handle_free(pt);
}

void ap_pt_get_cfg(const struct ap_pt *pt, struct ap_pt_cfg *out)
{
	*out = pt->cfg;
}

void ap_pt_get_walk_cfg(const struct ap_pt *pt, struct ap_pt_walk_cfg *out)
{
	out->format = pt->cfg.format;
	out->granule_shift = pt->granule_shift;
	out->ias = pt->cfg.ias;
	out->oas = pt->cfg.oas;
	out->root = pt->root_pa;
}

int ap_pt_start_level(const struct ap_pt_walk_cfg *cfg)
{
	const struct ap_pt_ops *ops = cfg ? ops_for(cfg->format) : NULL;

	return ops ? ops->start_level(cfg) : -1;
}

int ap_pt_walk_cfg_for_ias(struct ap_pt *pt, unsigned ias, struct ap_pt_walk_cfg *out)
{
	return pt->ops->walk_cfg_for_ias(pt, ias, out);
}

int ap_pt_get_regs(const struct ap_pt_walk_cfg *cfg, bool coherent_walk, struct ap_pt_regs *out)
{
	const struct ap_pt_ops *ops = cfg ? ops_for(cfg->format) : NULL;

	if (!ops || !out || !ops->regs)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->format = cfg->format;
	return ops->regs(cfg, coherent_walk, out);
}

int ap_pt_map_pages(struct ap_pt *pt, uint64_t iova, uint64_t pa, uint64_t pgsize,
		    uint64_t pgcount, unsigned prot, uint64_t *mapped)
{
	uint64_t dummy = 0;

	return pt->ops->map_pages(pt, NULL, iova, pa, pgsize, pgcount, prot,
				  mapped ? mapped : &dummy);
}

uint64_t ap_pt_unmap_pages(struct ap_pt *pt, uint64_t iova, uint64_t pgsize, uint64_t pgcount)
{
	uint64_t sizes = 0;

	return pt->ops->unmap_pages(pt, iova, pgsize, pgcount, &sizes);
}

uint64_t ap_pt_unmap_pages_sizes(struct ap_pt *pt, uint64_t iova, uint64_t pgsize,
				 uint64_t pgcount, uint64_t *sizes)
{
	uint64_t dummy = 0;

	return pt->ops->unmap_pages(pt, iova, pgsize, pgcount, sizes ? sizes : &dummy);
}

bool ap_pt_iova_to_phys(const struct ap_pt *pt, uint64_t iova, uint64_t *pa)
{
	struct ap_pt_walk_cfg cfg;
	struct ap_pt_walk_result res;
	uint64_t out = 0;
	int got = ap_pt_tree_iova_to_phys(pt, iova, &out);

	if (got != -EAGAIN) {
		if (got && pa)
			*pa = out;
		return got;
	}
	ap_pt_get_walk_cfg(pt, &cfg);
	/* A privileged access (no read, write or fetch) is allowed by every
	 * leaf that maps anything. */
	if (pt->ops->walk(&cfg, &pt->mem, iova, AP_ACCESS_PRIV, &res))
		return false;
	if (pa)
		*pa = res.pa;
	return true;
}

int ap_pt_for_each_leaf(const struct ap_pt *pt, uint64_t first, uint64_t last,
			int (*fn)(void *arg, const struct ap_pt_leaf *leaf), void *arg)
{
	return pt->ops->for_each_leaf(pt, first, last, fn, arg);
}

/* Live leaves at depth d, summed over the counting shards. */
static int64_t leaves_at(const struct ap_pt *pt, unsigned d)
{
	int64_t n = 0;
	unsigned s;

	for (s = 0; s <= AP_PT_COUNT_SHARDS; s++)
		n += __atomic_load_n(&pt->counts[s].leaves[d], __ATOMIC_RELAXED);
	return n;
}

uint64_t ap_pt_sizes_in_use(const struct ap_pt *pt)
{
	uint64_t bitmap = 0;
	unsigned d;

	for (d = 0; d < pt->levels; d++)
		if (leaves_at(pt, d) > 0)
			bitmap |= 1ull << pt->lvl[d].shift;
	return bitmap;
}

uint64_t ap_pt_leaf_count(const struct ap_pt *pt)
{
	int64_t n = 0;
	unsigned d;

	for (d = 0; d < pt->levels; d++)
		n += leaves_at(pt, d);
	return n > 0 ? (uint64_t)n : 0;
}

uint64_t ap_pt_table_bytes(const struct ap_pt *pt)
{
	return __atomic_load_n(&pt->table_bytes, __ATOMIC_RELAXED);
}

int ap_pt_walk(const struct ap_pt_walk_cfg *cfg, const struct ap_pt_mem *mem, uint64_t iova,
	       unsigned access, struct ap_pt_walk_result *res)
{
	const struct ap_pt_ops *ops;

	if (!cfg || !res || !mem || !mem->map)
		return -EINVAL;
	ops = ops_for(cfg->format);
	if (!ops)
		return -EINVAL;
	return ops->walk(cfg, mem, iova, access, res);
}

/* Linux's iommu_pgsize(), in our words: see pgtable.h. */
uint64_t ap_pt_pgsize(uint64_t bitmap, uint64_t iova, uint64_t pa, uint64_t size,
		      uint64_t *count)
{
	uint64_t merge = iova | pa;
	uint64_t cand, pgsize, next_sizes, next, offset;

	*count = 0;
	if (!size)
		return 0;
	cand = bitmap & ((2ull << ap_log2(size)) - 1);
	if (merge)
		cand &= ((merge & -merge) << 1) - 1;
	if (!cand)
		return 0;
	pgsize = 1ull << ap_log2(cand);
	next_sizes = bitmap & ~((pgsize << 1) - 1);
	if (next_sizes && !((iova ^ pa) & ((next = next_sizes & -next_sizes) - 1))) {
		offset = next - (merge & (next - 1));
		if (offset + next >= offset && offset + next <= size)
			size = offset;
	}
	*count = size / pgsize;
	return pgsize;
}
