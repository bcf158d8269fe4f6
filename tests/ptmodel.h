/* SPDX-License-Identifier: MIT */
/*
 * Page-table test helpers and a model of live leaves, shared by the
 * page-table tests (test_pgtable.c: ARM LPAE and VT-d,
 * test_pgtable_matrix.c: Linux's configuration matrix):
 *
 *   - tables: allocate (and refuse) one in tmem.h's memory, map, translate,
 *     collect leaves, walk with ap_pt_walk();
 *   - the leaf model: live leaves sorted by iova, what a map or unmap does
 *     to them, and what a leaf's prot reads back as in each format;
 *   - randomized runs: map/unmap ops crowding a few slots of three windows,
 *     checked against the model, with counters of what each path saw.
 *
 * Include after <cmocka.h>.
 */
#ifndef AP_TEST_PTMODEL_H
#define AP_TEST_PTMODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "rng.h"
#include "tmem.h"

/* ================================================================ tables */

static inline struct ap_pt_cfg pt_cfg(enum ap_pt_format fmt, unsigned ias, unsigned oas,
				      uint64_t bitmap, uint64_t host, bool coherent,
				      uint32_t quirks)
{
	struct ap_pt_cfg cfg = {
		.format = fmt,
		.ias = ias,
		.oas = oas,
		.pgsize_bitmap = bitmap,
		.host_page_size = host,
		.coherent_walk = coherent,
		.quirks = quirks,
	};

	return cfg;
}

static inline struct ap_pt *mkpt_full(struct tmem *m, enum ap_pt_format fmt, unsigned ias,
				      unsigned oas, uint64_t bitmap, uint64_t host, bool coherent,
				      uint32_t quirks)
{
	struct ap_pt_cfg cfg = pt_cfg(fmt, ias, oas, bitmap, host, coherent, quirks);
	struct ap_pt *pt = NULL;
	int err = ap_pt_alloc(&cfg, &m->mem, &pt);

	EXPECT(err == 0, "ap_pt_alloc(%s ias %u oas %u bitmap %llx host %llx quirks %#x) = %d",
	       ap_pt_format_name(fmt), ias, oas, (ull)bitmap, (ull)host, quirks, err);
	assert_non_null(pt);
	return pt;
}

static inline struct ap_pt *mkpt(struct tmem *m, enum ap_pt_format fmt, unsigned ias,
				 unsigned oas, uint64_t bitmap)
{
	return mkpt_full(m, fmt, ias, oas, bitmap, 0, true, 0);
}

/* ap_pt_alloc()'s answer; either way nothing stays allocated, and on a
 * refusal *out is untouched. */
static inline int try_alloc(struct tmem *m, enum ap_pt_format fmt, unsigned ias, unsigned oas,
			    uint64_t bitmap, uint64_t host, uint32_t quirks)
{
	struct ap_pt_cfg cfg = pt_cfg(fmt, ias, oas, bitmap, host, true, quirks);
	struct ap_pt *pt = (struct ap_pt *)(uintptr_t)0x1234; /* must stay untouched */
	int err = ap_pt_alloc(&cfg, &m->mem, &pt);

	if (err)
		assert_ptr_equal(pt, (struct ap_pt *)(uintptr_t)0x1234);
	else
		ap_pt_free(pt);
	tmem_assert_empty(m);
	return err;
}

/* One page; *mapped is all of it or nothing. */
static inline int map1(struct ap_pt *pt, uint64_t iova, uint64_t pa, uint64_t size,
		       unsigned prot)
{
	uint64_t mapped = 0;
	int err = ap_pt_map_pages(pt, iova, pa, size, 1, prot, &mapped);

	if (!err)
		assert_int_equal(mapped, size);
	else
		assert_int_equal(mapped, 0);
	return err;
}

/* One page inside a transaction; the same contract as map1(). */
static inline int txn_map1(struct ap_pt_txn *txn, uint64_t iova, uint64_t pa, uint64_t size,
			   unsigned prot)
{
	uint64_t mapped = 0;
	int err = ap_pt_txn_map_pages(txn, iova, pa, size, 1, prot, &mapped);

	if (!err)
		assert_int_equal(mapped, size);
	else
		assert_int_equal(mapped, 0);
	return err;
}

/* Map [iova, iova+size) -> pa as iommu_map does, looping on map_pages;
 * *calls (if given) counts the map_pages calls. */
static inline int map_range(struct ap_pt *pt, uint64_t iova, uint64_t pa, uint64_t size,
			    unsigned prot, uint64_t *calls)
{
	struct ap_pt_cfg cfg;

	ap_pt_get_cfg(pt, &cfg);
	while (size) {
		uint64_t count, mapped = 0;
		uint64_t pgsize = ap_pt_pgsize(cfg.pgsize_bitmap, iova, pa, size, &count);
		int err;

		if (!pgsize)
			return -EINVAL;
		err = ap_pt_map_pages(pt, iova, pa, pgsize, count, prot, &mapped);
		if (calls)
			(*calls)++;
		if (err)
			return err;
		assert_true(mapped > 0 && mapped <= pgsize * count);
		iova += mapped;
		pa += mapped;
		size -= mapped;
	}
	return 0;
}

static inline void expect_phys(const struct ap_pt *pt, uint64_t iova, uint64_t want)
{
	uint64_t pa = 0xdeadbeef;

	EXPECT(ap_pt_iova_to_phys(pt, iova, &pa), "iova %llx: not mapped, want pa %llx",
	       (ull)iova, (ull)want);
	EXPECT(pa == want, "iova %llx: pa %llx, want %llx", (ull)iova, (ull)pa, (ull)want);
}

static inline void expect_unmapped(const struct ap_pt *pt, uint64_t iova)
{
	uint64_t pa = 0;

	EXPECT(!ap_pt_iova_to_phys(pt, iova, &pa), "iova %llx: mapped to %llx, want nothing",
	       (ull)iova, (ull)pa);
}

/* Leaves collected by ap_pt_for_each_leaf. */
struct leafvec {
	struct ap_pt_leaf *v;
	size_t n, cap;
};

static inline int collect_cb(void *arg, const struct ap_pt_leaf *leaf)
{
	struct leafvec *lv = arg;

	if (lv->n == lv->cap) {
		lv->cap = lv->cap ? 2 * lv->cap : 64;
		lv->v = realloc(lv->v, lv->cap * sizeof(*lv->v));
		assert_non_null(lv->v);
	}
	lv->v[lv->n++] = *leaf;
	return 0;
}

static inline void collect(const struct ap_pt *pt, uint64_t first, uint64_t last,
			   struct leafvec *lv)
{
	lv->n = 0;
	assert_int_equal(ap_pt_for_each_leaf(pt, first, last, collect_cb, lv), 0);
}

/* The one leaf mapping iova. */
static inline struct ap_pt_leaf leaf_at(const struct ap_pt *pt, uint64_t iova)
{
	struct leafvec lv = { 0 };
	struct ap_pt_leaf leaf;

	collect(pt, iova, iova, &lv);
	EXPECT(lv.n == 1, "iova %llx: %zu leaves, want 1", (ull)iova, lv.n);
	leaf = lv.v[0];
	free(lv.v);
	return leaf;
}

static inline uint64_t root_pa(const struct ap_pt *pt)
{
	struct ap_pt_walk_cfg wc;

	ap_pt_get_walk_cfg(pt, &wc);
	return wc.root;
}

/* An LPAE descriptor's output address (4K/16K granule, no LPA: bits 47:12). */
#define LPAE_OA_BITS 0x0000fffffffff000ull

static inline uint64_t desc_addr(uint64_t d)
{
	return d & LPAE_OA_BITS;
}

/* ================================================================ walks */

static inline void walk_ok(const struct ap_pt_walk_cfg *wc, struct tmem *m, uint64_t iova,
			   unsigned access, uint64_t want_pa, int want_level)
{
	struct ap_pt_walk_result res;
	int rc = ap_pt_walk(wc, &m->mem, iova, access, &res);

	EXPECT(rc == 0 && res.fault == AP_FAULT_NONE,
	       "walk %llx access %#x: rc %d fault %s at level %d", (ull)iova, access, rc,
	       ap_fault_kind_name(res.fault), res.level);
	EXPECT(res.pa == want_pa && res.level == want_level,
	       "walk %llx: pa %llx level %d, want %llx level %d", (ull)iova, (ull)res.pa,
	       res.level, (ull)want_pa, want_level);
}

/* want_level < 0: any level. */
static inline void walk_fault(const struct ap_pt_walk_cfg *wc, struct tmem *m, uint64_t iova,
			      unsigned access, enum ap_fault_kind want, int want_level)
{
	struct ap_pt_walk_result res;
	int rc = ap_pt_walk(wc, &m->mem, iova, access, &res);

	EXPECT(rc == -EFAULT && res.fault == want && (want_level < 0 || res.level == want_level),
	       "walk %llx access %#x: rc %d fault %s level %d, want %s level %d", (ull)iova,
	       access, rc, ap_fault_kind_name(res.fault), res.level, ap_fault_kind_name(want),
	       want_level);
}

/* A walker configuration (wc, possibly narrower than the table) and
 * iova_to_phys agree at every probe below wc's ias; above it the walker
 * reports an address size fault. */
static inline void agree_below(struct ap_pt *pt, struct tmem *m, const struct ap_pt_walk_cfg *wc,
			       const uint64_t *probes, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct ap_pt_walk_result res;
		uint64_t pa = 0;
		bool mapped = ap_pt_iova_to_phys(pt, probes[i], &pa);
		int rc = ap_pt_walk(wc, &m->mem, probes[i], AP_ACCESS_PRIV, &res);

		if (probes[i] >> wc->ias) {
			EXPECT(rc == -EFAULT && res.fault == AP_FAULT_ADDRESS_SIZE,
			       "iova %llx beyond ias %u: rc %d fault %s", (ull)probes[i], wc->ias,
			       rc, ap_fault_kind_name(res.fault));
			continue;
		}
		EXPECT((rc == 0) == mapped, "iova %llx: walk rc %d (%s), iova_to_phys %d",
		       (ull)probes[i], rc, ap_fault_kind_name(res.fault), mapped);
		if (mapped)
			EXPECT(res.pa == pa, "iova %llx: walk pa %llx, iova_to_phys %llx",
			       (ull)probes[i], (ull)res.pa, (ull)pa);
		else
			EXPECT(res.fault == AP_FAULT_TRANSLATION, "iova %llx: fault %s",
			       (ull)probes[i], ap_fault_kind_name(res.fault));
	}
}

/* ================================================================ leaf model */

struct mleaf {
	uint64_t iova, size, pa;
	unsigned prot;
};

/* A table of the model: the entry it hangs in maps [base, base + span). */
struct mtable {
	uint64_t base, span;
};

#define MODEL_MAX_LEVELS 6

/*
 * The table shape the model follows: the bytes an entry of each level maps
 * (root first, the leaf level last), entries per table page, where the
 * input ends, the table memory a fresh table holds, and the unmap rule of
 * the format: io-pgtable-arm's (LPAE) or generic_pt's (VT-d).
 */
struct mshape {
	unsigned nlev;
	uint64_t span[MODEL_MAX_LEVELS];
	uint64_t page_entries; /* entries per table page */
	uint64_t root_entries;
	unsigned ias;
	uint64_t root_bytes, table_bytes;
	bool range_rule;
};

/*
 * The model: live leaves, sorted by iova, never overlapping; and, once
 * model_init() gave it a shape, the tables below the root, sorted by base
 * and then largest span first.  A map makes the tables on its path and
 * replaces (frees) the empty ones where its leaves go; an unmap takes what
 * the format's Linux rule takes (model_unmap()).
 */
struct model {
	struct mleaf *v;
	size_t n, cap;
	uint64_t by_size[64];
	struct mtable *t;
	size_t nt, tcap;
	struct mshape sh; /* nlev 0: leaves only, no unmap */
};

/* The shape of a freshly allocated pt (call before anything is mapped). */
static inline void model_init(struct model *md, const struct ap_pt *pt)
{
	struct ap_pt_walk_cfg wc;
	struct ap_pt_cfg cfg;
	struct mshape *sh = &md->sh;
	int start, lvl;
	unsigned bpl;

	ap_pt_get_cfg(pt, &cfg);
	ap_pt_get_walk_cfg(pt, &wc);
	start = ap_pt_start_level(&wc);
	assert_true(start >= 0);
	memset(sh, 0, sizeof(*sh));
	sh->ias = cfg.ias;
	sh->root_bytes = ap_pt_table_bytes(pt);
	sh->table_bytes = 1ull << wc.granule_shift;
	bpl = wc.granule_shift - 3;
	sh->page_entries = 1ull << bpl;
	if (cfg.format == AP_PT_INTEL_VTD_SL) {
		sh->range_rule = true;
		for (lvl = start; lvl >= 1; lvl--)
			sh->span[sh->nlev++] = 1ull << (12 + 9 * (lvl - 1));
	} else {
		for (lvl = start; lvl <= 3; lvl++)
			sh->span[sh->nlev++] = 1ull << (wc.granule_shift + (3 - lvl) * bpl);
	}
	sh->root_entries = (1ull << cfg.ias) / sh->span[0];
	md->n = md->nt = 0;
	memset(md->by_size, 0, sizeof(md->by_size));
}

/* Index of the first leaf that ends after addr. */
static inline size_t model_first_end_after(const struct model *md, uint64_t addr)
{
	size_t lo = 0, hi = md->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (md->v[mid].iova + md->v[mid].size > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static inline const struct mleaf *model_find(const struct model *md, uint64_t addr)
{
	size_t i = model_first_end_after(md, addr);

	return i < md->n && md->v[i].iova <= addr ? &md->v[i] : NULL;
}

static inline bool model_overlaps(const struct model *md, uint64_t lo, uint64_t hi)
{
	size_t i = model_first_end_after(md, lo);

	return i < md->n && md->v[i].iova < hi;
}

/* A leaf of exactly this size starts at base. */
static inline bool model_leaf_is(const struct model *md, uint64_t base, uint64_t size)
{
	const struct mleaf *l = model_find(md, base);

	return l && l->iova == base && l->size == size;
}

/* Position of table (base, span) in the sorted tables, or where it goes. */
static inline size_t model_table_pos(const struct model *md, uint64_t base, uint64_t span)
{
	size_t lo = 0, hi = md->nt;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mtable *t = &md->t[mid];

		if (t->base < base || (t->base == base && t->span > span))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static inline bool model_table_at(const struct model *md, uint64_t base, uint64_t span)
{
	size_t i = model_table_pos(md, base, span);

	return i < md->nt && md->t[i].base == base && md->t[i].span == span;
}

static inline void model_table_add(struct model *md, uint64_t base, uint64_t span)
{
	size_t i = model_table_pos(md, base, span);

	if (i < md->nt && md->t[i].base == base && md->t[i].span == span)
		return;
	if (md->nt == md->tcap) {
		md->tcap = md->tcap ? 2 * md->tcap : 256;
		md->t = realloc(md->t, md->tcap * sizeof(*md->t));
		assert_non_null(md->t);
	}
	memmove(&md->t[i + 1], &md->t[i], (md->nt - i) * sizeof(*md->t));
	md->t[i].base = base;
	md->t[i].span = span;
	md->nt++;
}

/* Forget the table in the entry [base, base + span) and every table
 * below it. */
static inline void model_tables_drop(struct model *md, uint64_t base, uint64_t span)
{
	size_t i = model_table_pos(md, base, span), j = i;

	while (j < md->nt && md->t[j].base - base < span)
		j++;
	if (j == i)
		return;
	memmove(&md->t[i], &md->t[j], (md->nt - j) * sizeof(*md->t));
	md->nt -= j - i;
}

/* Bytes of table memory the model's tables add up to. */
static inline uint64_t model_table_bytes(const struct model *md)
{
	return md->sh.root_bytes + md->nt * md->sh.table_bytes;
}

/* n leaves of pgsize from iova -> pa, where nothing overlaps them: the
 * tables on their path appear, empty tables where they go are replaced. */
static inline void model_insert(struct model *md, uint64_t iova, uint64_t pa, uint64_t pgsize,
				uint64_t n, unsigned prot)
{
	size_t at = model_first_end_after(md, iova), k;
	unsigned lv;

	if (md->n + n > md->cap) {
		while (md->n + n > md->cap)
			md->cap = md->cap ? 2 * md->cap : 1024;
		md->v = realloc(md->v, md->cap * sizeof(*md->v));
		assert_non_null(md->v);
	}
	memmove(&md->v[at + n], &md->v[at], (md->n - at) * sizeof(*md->v));
	for (k = 0; k < n; k++) {
		md->v[at + k].iova = iova + k * pgsize;
		md->v[at + k].size = pgsize;
		md->v[at + k].pa = pa + k * pgsize;
		md->v[at + k].prot = prot;
		if (md->sh.nlev)
			model_tables_drop(md, iova + k * pgsize, pgsize);
	}
	md->n += n;
	md->by_size[__builtin_ctzll(pgsize)] += n;
	for (lv = 0; lv < md->sh.nlev && md->sh.span[lv] > pgsize; lv++)
		model_table_add(md, iova & ~(md->sh.span[lv] - 1), md->sh.span[lv]);
}

/* Leaves [from, to). */
static inline void model_remove(struct model *md, size_t from, size_t to)
{
	size_t k;

	if (from == to)
		return;
	for (k = from; k < to; k++)
		md->by_size[__builtin_ctzll(md->v[k].size)]--;
	memmove(&md->v[from], &md->v[to], (md->n - to) * sizeof(*md->v));
	md->n -= to - from;
}

/* Every leaf in [lo, lo + size). */
static inline void model_remove_span(struct model *md, uint64_t lo, uint64_t size)
{
	size_t from = model_first_end_after(md, lo), to = from;

	while (to < md->n && md->v[to].iova - lo < size)
		to++;
	model_remove(md, from, to);
}

/* The level whose entries map size, or nlev. */
static inline unsigned model_level_of(const struct model *md, uint64_t size)
{
	unsigned lv;

	for (lv = 0; lv < md->sh.nlev && md->sh.span[lv] != size; lv++)
		;
	return lv;
}

/*
 * io-pgtable-arm's unmap (__arm_lpae_unmap): nothing if the entry of pgsize's
 * level at iova is empty or a larger leaf holds iova ("partial unmap of a
 * large IOPTE"); else entries from there, to pgcount or the end of the
 * table page: a leaf goes, a table goes whole with all below it, an empty
 * entry stops.  Each entry taken counts pgsize.
 */
static inline uint64_t model_unmap_level(struct model *md, uint64_t iova, uint64_t pgsize,
					 uint64_t pgcount)
{
	unsigned lv = model_level_of(md, pgsize);
	uint64_t page = lv ? md->sh.page_entries : md->sh.root_entries, end, s;
	const struct mleaf *l = model_find(md, iova);

	if (lv == md->sh.nlev || (iova >> md->sh.ias) || (l && l->size > pgsize))
		return 0;
	if (page > md->sh.page_entries)
		page = md->sh.page_entries; /* a concatenated root, page by page */
	end = (iova & ~(page * pgsize - 1)) + page * pgsize;
	if (pgcount < (end - iova) / pgsize)
		end = iova + pgcount * pgsize;
	for (s = iova; s < end; s += pgsize) {
		if (model_leaf_is(md, s, pgsize)) {
			model_remove_span(md, s, pgsize);
		} else if (model_table_at(md, s, pgsize)) {
			model_remove_span(md, s, pgsize);
			model_tables_drop(md, s, pgsize);
		} else {
			break;
		}
	}
	return s - iova;
}

/* generic_pt's walk of [va, last] at level lv (see model_unmap_range). */
static inline bool model_unmap_in(struct model *md, unsigned lv, uint64_t va, uint64_t last,
				  uint64_t *unmapped)
{
	uint64_t span = md->sh.span[lv], e;

	for (e = va & ~(span - 1);; e += span) {
		uint64_t e_last = e + (span - 1);

		if (model_leaf_is(md, e, span)) {
			if (e < va)
				return false; /* va inside the leaf */
			model_remove_span(md, e, span);
			*unmapped += span;
		} else if (lv + 1 < md->sh.nlev && model_table_at(md, e, span)) {
			if (!model_unmap_in(md, lv + 1, e < va ? va : e,
					    e_last < last ? e_last : last, unmapped))
				return false;
			if (e >= va && e_last <= last)
				model_tables_drop(md, e, span);
		} else {
			return false;
		}
		if (e_last >= last)
			return true;
	}
}

/*
 * generic_pt (vtdss): the range [iova, iova + pgsize * pgcount) at every
 * level it spans, nothing unless it lies below 2^ias; a leaf goes whole
 * unless the range starts inside it, a table the range covers goes once
 * emptied, and the first hole at any level stops everything.
 */
static inline uint64_t model_unmap_range(struct model *md, uint64_t iova, uint64_t pgsize,
					 uint64_t pgcount)
{
	uint64_t last = iova + (pgsize * pgcount - 1), unmapped = 0;

	if (last < iova || (last >> md->sh.ias) || model_level_of(md, pgsize) == md->sh.nlev)
		return 0;
	model_unmap_in(md, 0, iova, last, &unmapped);
	return unmapped;
}

/* What ap_pt_unmap_pages() takes by the format's rule: removes it from the
 * model and returns its bytes. */
static inline uint64_t model_unmap(struct model *md, uint64_t iova, uint64_t pgsize,
				   uint64_t pgcount)
{
	assert_true(md->sh.nlev > 0);
	if (!pgcount)
		return 0;
	if (md->sh.range_rule)
		return model_unmap_range(md, iova, pgsize, pgcount);
	return model_unmap_level(md, iova, pgsize, pgcount);
}

/* Forget every leaf and table (the storage stays). */
static inline void model_clear(struct model *md)
{
	md->n = md->nt = 0;
	memset(md->by_size, 0, sizeof(md->by_size));
}

static inline void model_free(struct model *md)
{
	free(md->v);
	free(md->t);
	memset(md, 0, sizeof(*md));
}

/* The sizes in use, as ap_pt_sizes_in_use() reports them. */
static inline uint64_t model_sizes(const struct model *md)
{
	uint64_t bm = 0;
	unsigned s;

	for (s = 0; s < 64; s++)
		if (md->by_size[s])
			bm |= 1ull << s;
	return bm;
}

/* The level a 4K, 2M or 1G leaf sits at (4K granule for LPAE). */
static inline int leaf_level(enum ap_pt_format fmt, uint64_t size)
{
	if (fmt == AP_PT_INTEL_VTD_SL)
		return size == SZ_4K ? 1 : size == SZ_2M ? 2 : 3;
	return size == SZ_4K ? 3 : size == SZ_2M ? 2 : 1;
}

/* What a stage-1 leaf's prot reads back as: AP[2] clear means writable. */
static inline unsigned s1_decoded(unsigned prot)
{
	unsigned want = AP_PROT_READ;

	if (prot & AP_PROT_WRITE)
		want |= AP_PROT_WRITE;
	want |= prot & (AP_PROT_NOEXEC | AP_PROT_PRIV);
	if (prot & AP_PROT_MMIO)
		want |= AP_PROT_MMIO;
	else if (prot & AP_PROT_CACHE)
		want |= AP_PROT_CACHE;
	return want;
}

/* What a stage-2 leaf's prot reads back as: S2AP as given, no PRIV. */
static inline unsigned s2_decoded(unsigned prot)
{
	unsigned want = prot & (AP_PROT_READ | AP_PROT_WRITE | AP_PROT_NOEXEC);

	if (prot & AP_PROT_MMIO)
		want |= AP_PROT_MMIO;
	else if (prot & AP_PROT_CACHE)
		want |= AP_PROT_CACHE;
	return want;
}

/* What a VT-d leaf's prot reads back as: R and W as given, CACHE iff SNP. */
static inline unsigned vtd_decoded(unsigned prot, bool snoop)
{
	return (prot & RW) | (snoop ? AP_PROT_CACHE : 0);
}

/* A leaf descriptor's output address field: LPAE's bits 47:12; for VT-d
 * every bit above 11 (51:12, and a leaf's 63:52 are zero). */
static inline uint64_t pte_oa(enum ap_pt_format fmt, uint64_t pte)
{
	return fmt == AP_PT_INTEL_VTD_SL ? pte & ~0xfffull : desc_addr(pte);
}

/* ================================================================ random runs */

/* One randomized run: the table's configuration, three 4 GiB windows where
 * ops crowd, the output addresses maps draw from, and the prots they use. */
struct rrun {
	enum ap_pt_format fmt;
	unsigned ias, oas;
	bool snoop;         /* VT-d: leaves carry SNP */
	uint64_t pa_span;   /* maps take output addresses below this */
	const unsigned *prots;
	size_t nprots;
	uint64_t windows[3]; /* set by rrun_windows() */
};

/* The bottom; across the boundary between root entries 0 and 1 (a separate
 * subtree), or across the middle for a 3-level table; the top, ending at
 * 2^ias. */
static inline void rrun_windows(struct rrun *r)
{
	r->windows[0] = 0;
	if (r->ias > 48)
		r->windows[1] = (1ull << 48) - 2 * SZ_1G;
	else if (r->ias > 39)
		r->windows[1] = (1ull << 39) - 2 * SZ_1G;
	else
		r->windows[1] = (1ull << (r->ias - 1)) - 2 * SZ_1G;
	r->windows[2] = (1ull << r->ias) - 4 * SZ_1G;
}

/* What a leaf's prot reads back as in the run's format. */
static inline unsigned rrun_decoded(const struct rrun *r, unsigned prot)
{
	if (r->fmt == AP_PT_ARM_LPAE_S1)
		return s1_decoded(prot);
	if (r->fmt == AP_PT_ARM_LPAE_S2)
		return s2_decoded(prot);
	return vtd_decoded(prot, r->snoop);
}

/* Addresses crowd a few slots of each level, so that ops collide. */
static inline uint64_t pick_slot(void)
{
	uint64_t r = rnd_below(24);

	return r < 12 ? r : 488 + r; /* 0..11, 500..511 */
}

static inline uint64_t pick_iova(const struct rrun *r, uint64_t pgsize)
{
	uint64_t iova = r->windows[rnd_below(3)] + rnd_below(4) * SZ_1G;

	if (pgsize == SZ_1G)
		return iova;
	iova += pick_slot() * SZ_2M;
	if (pgsize == SZ_2M)
		return iova;
	return iova + pick_slot() * SZ_4K;
}

static inline uint64_t pick_pgsize(void)
{
	uint64_t r = rnd_below(20);

	return r < 11 ? SZ_4K : r < 18 ? SZ_2M : SZ_1G;
}

static inline uint64_t pick_count(void)
{
	return rnd_below(16) == 0 ? 1 + rnd_below(600) : 1 + rnd_below(4);
}

/* Leaves a map or unmap of pgsize at iova may touch: to the end of its
 * table, and never past 2^ias (a narrow root uses only part of its page). */
static inline uint64_t clip_end(const struct rrun *r, uint64_t iova, uint64_t pgsize,
				uint64_t count)
{
	uint64_t table_end = (iova | (pgsize * 512 - 1)) + 1;
	uint64_t want = iova + pgsize * count;

	if (table_end > (1ull << r->ias))
		table_end = 1ull << r->ias;
	return want < table_end ? want : table_end;
}

/* What the ops of a run saw. */
struct rstats {
	unsigned maps_ok, maps_eexist, unmaps_full, unmaps_partial, unmaps_zero, probes;
	/* unmaps aimed at the sequences the rules differ on: a size larger
	 * than the leaf they start at (across tables and their holes), and a
	 * size smaller than the leaf they start at or in (cutting it) */
	unsigned unmaps_across, unmaps_cut;
	uint64_t max_leaves;
};

/*
 * The table-changing part of one random op, checked against the model:
 * map 45%, unmap 35%, nothing 20%.  *iova_out and *end_out: the range it
 * aimed at, for the caller's probes.
 */
static inline void random_map_unmap(const struct rrun *r, struct ap_pt *pt, struct model *md,
				    struct rstats *st, unsigned op, uint64_t *iova_out,
				    uint64_t *end_out)
{
	uint64_t kind = rnd_below(100);
	uint64_t pgsize = pick_pgsize(), iova = pick_iova(r, pgsize), count = pick_count();
	uint64_t end;

	/* Most unmaps aim at a live leaf: from its start, or its table's,
	 * with a larger size (over whole tables and their holes), or with a
	 * smaller size at its start or inside it (a cut). */
	if (kind >= 55 && kind < 74 && md->n) {
		size_t at = rnd_below(md->n), k;
		const struct mleaf *l = &md->v[at];

		/* cuts want a leaf larger than 4K: the next one from here */
		for (k = 0; kind >= 68 && l->size == SZ_4K && md->by_size[12] != md->n &&
			    k < md->n; k++)
			l = &md->v[(at + k) % md->n];

		if (kind < 68 || l->size == SZ_4K) {
			iova = l->iova & ~(pgsize - 1);
			st->unmaps_across += pgsize > l->size;
		} else {
			pgsize = l->size == SZ_1G && chance(50) ? SZ_2M : SZ_4K;
			iova = l->iova + (chance(50) ? 0 : rnd_below(l->size / pgsize) * pgsize);
			st->unmaps_cut++;
		}
	}
	end = clip_end(r, iova, pgsize, count);

	if (kind < 45) {
		uint64_t pa = rnd_below(r->pa_span / pgsize) * pgsize;
		unsigned prot = r->prots[rnd_below(r->nprots)];
		uint64_t mapped = 0x42, n = (end - iova) / pgsize;
		bool clash = model_overlaps(md, iova, end);
		int err = ap_pt_map_pages(pt, iova, pa, pgsize, count, prot, &mapped);

		if (clash) {
			EXPECT(err == -EEXIST && mapped == 0x42,
			       "op %u: map %llx+%llux%llx over a live leaf: %d, mapped %llx", op,
			       (ull)iova, (ull)count, (ull)pgsize, err, (ull)(mapped - 0x42));
			st->maps_eexist++;
		} else {
			EXPECT(err == 0 && mapped == 0x42 + n * pgsize,
			       "op %u: map %llx+%llux%llx: %d, mapped %llx, want %llx", op,
			       (ull)iova, (ull)count, (ull)pgsize, err, (ull)(mapped - 0x42),
			       (ull)(n * pgsize));
			model_insert(md, iova, pa, pgsize, n, prot);
			st->maps_ok++;
		}
	} else if (kind < 80) {
		uint64_t want = model_unmap(md, iova, pgsize, count);
		uint64_t got = ap_pt_unmap_pages(pt, iova, pgsize, count);

		EXPECT(got == want, "op %u: unmap %llx+%llux%llx: %llx, model %llx", op, (ull)iova,
		       (ull)count, (ull)pgsize, (ull)got, (ull)want);
		if (got == 0)
			st->unmaps_zero++;
		else if (got < end - iova)
			st->unmaps_partial++;
		else
			st->unmaps_full++;
	}
	*iova_out = iova;
	*end_out = end;
}

/* After an op: the table's leaf count and sizes are the model's. */
static inline void check_counts(const struct ap_pt *pt, const struct model *md,
				struct rstats *st, unsigned op)
{
	EXPECT(ap_pt_leaf_count(pt) == md->n, "op %u: leaf count %llu, model %zu", op,
	       (ull)ap_pt_leaf_count(pt), md->n);
	EXPECT(ap_pt_sizes_in_use(pt) == model_sizes(md), "op %u: sizes %llx, model %llx", op,
	       (ull)ap_pt_sizes_in_use(pt), (ull)model_sizes(md));
	EXPECT(ap_pt_table_bytes(pt) == model_table_bytes(md),
	       "op %u: %llu bytes of tables, model %llu (%zu tables)", op,
	       (ull)ap_pt_table_bytes(pt), (ull)model_table_bytes(md), md->nt);
	if (md->n > st->max_leaves)
		st->max_leaves = md->n;
}

/* Every leaf of the table is the model's, in order, and the table's bytes
 * are what the provider handed out. */
static inline void full_compare(const struct rrun *r, const struct ap_pt *pt,
				const struct model *md, struct tmem *m, struct leafvec *lv,
				unsigned op)
{
	size_t i;

	collect(pt, 0, ~0ull, lv);
	EXPECT(lv->n == md->n, "op %u: %zu leaves in the table, %zu in the model", op, lv->n,
	       md->n);
	for (i = 0; i < lv->n; i++) {
		const struct ap_pt_leaf *a = &lv->v[i];
		const struct mleaf *b = &md->v[i];

		EXPECT(a->iova == b->iova && a->size == b->size && a->pa == b->pa &&
			       a->level == leaf_level(r->fmt, b->size) &&
			       a->prot == rrun_decoded(r, b->prot) &&
			       pte_oa(r->fmt, a->pte) == b->pa,
		       "op %u: leaf %zu: table iova %llx size %llx pa %llx lvl %d prot %#x "
		       "pte %llx; model iova %llx size %llx pa %llx prot %#x",
		       op, i, (ull)a->iova, (ull)a->size, (ull)a->pa, a->level, a->prot,
		       (ull)a->pte, (ull)b->iova, (ull)b->size, (ull)b->pa, b->prot);
	}
	EXPECT(ap_pt_table_bytes(pt) == m->bytes_out, "op %u: table bytes %llu, provider %llu",
	       op, (ull)ap_pt_table_bytes(pt), (ull)m->bytes_out);
}

/* The run's line, then: each path was really exercised. */
static inline void rstats_report(const char *name, unsigned nops, const struct rstats *st,
				 const struct tmem *m)
{
	printf("%s: %u ops, %u probes: maps ok %u, eexist %u; unmaps whole %u, partial %u, "
	       "zero %u, across larger %u, cutting %u; max %llu leaves, peak %llu KiB of "
	       "tables\n",
	       name, nops, st->probes, st->maps_ok, st->maps_eexist, st->unmaps_full,
	       st->unmaps_partial, st->unmaps_zero, st->unmaps_across, st->unmaps_cut,
	       (ull)st->max_leaves, (ull)(m->peak_bytes >> 10));
	assert_true(st->unmaps_across > nops / 100 && st->unmaps_cut > nops / 100);
	assert_true(st->maps_ok > nops / 20 && st->maps_eexist > nops / 20);
	assert_true(st->unmaps_full > nops / 20 && st->unmaps_partial > nops / 100 &&
		    st->unmaps_zero > nops / 20);
}

/* Tear down leaf by leaf, then nothing is left; frees the table. */
static inline void teardown(struct ap_pt *pt, struct model *md, struct tmem *m,
			    struct leafvec *lv)
{
	while (md->n) {
		struct mleaf l = md->v[0];

		EXPECT(ap_pt_unmap_pages(pt, l.iova, l.size, 1) == l.size, "final unmap of %llx",
		       (ull)l.iova);
		model_remove(md, 0, 1);
	}
	assert_int_equal(ap_pt_leaf_count(pt), 0);
	assert_int_equal(ap_pt_sizes_in_use(pt), 0);
	collect(pt, 0, ~0ull, lv);
	assert_int_equal(lv->n, 0);
	ap_pt_free(pt);
	tmem_assert_empty(m);
}

/*
 * The map rules every 4K/2M/1G tree obeys (pt_tree.c, whatever the format):
 * on a fresh 48-bit table with 4K, 2M and 1G pages.  EEXIST over live
 * leaves and under blocks with nothing written or allocated; an empty table
 * replaced by a block and freed; clipping at the end of a table page; PA 0
 * mapped; bad arguments changing nothing.  Format-specific checks stay with
 * each format's test.
 */
static inline void check_tree_map_rules(struct tmem *m, struct ap_pt *pt)
{
	const unsigned extra = AP_PROT_CACHE | AP_PROT_NOEXEC | AP_PROT_MMIO | AP_PROT_PRIV;
	uint64_t bytes, mapped, pa, leaves;

	/* A live 4K leaf under the second 2M slot: root and three tables. */
	assert_int_equal(map1(pt, 0x201000, 0x90001000, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_table_bytes(pt), 4 * SZ_4K);
	assert_int_equal(m->bytes_out, 4 * SZ_4K);

	/* A table with live leaves at the target level: -EEXIST, nothing written. */
	assert_int_equal(map1(pt, 0x200000, 0x80000000, SZ_2M, RW), -EEXIST);
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 0, 0x80000000, SZ_2M, 2, RW, &mapped), -EEXIST);
	assert_int_equal(mapped, 0);
	expect_unmapped(pt, 0); /* slot 0 was free, but the call wrote nothing */
	expect_unmapped(pt, 0x200000);
	assert_int_equal(map1(pt, 0, 0x80000000, SZ_1G, RW), -EEXIST);
	assert_int_equal(map1(pt, 0x201000, 0x80000000, SZ_4K, RW), -EEXIST);
	assert_int_equal(map1(pt, 0x201000, 0x80000000, SZ_4K, AP_PROT_WRITE), -EEXIST);
	assert_int_equal(ap_pt_leaf_count(pt), 1);
	expect_phys(pt, 0x201010, 0x90001010);
	assert_int_equal(ap_pt_table_bytes(pt), 4 * SZ_4K);

	/* A block on the way down: -EEXIST, and no table is allocated under it. */
	assert_int_equal(map1(pt, 0x400000, 0xa0000000, SZ_2M, RW), 0);
	bytes = ap_pt_table_bytes(pt);
	assert_int_equal(map1(pt, 0x401000, 0x80000000, SZ_4K, RW), -EEXIST);
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	assert_int_equal(m->bytes_out, bytes);
	assert_int_equal(map1(pt, 3 * SZ_1G, 0, SZ_1G, RW), 0);
	assert_int_equal(map1(pt, 3 * SZ_1G + SZ_2M, 0, SZ_2M, RW), -EEXIST);
	assert_int_equal(map1(pt, 3 * SZ_1G + SZ_4K, 0, SZ_4K, RW), -EEXIST);
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	assert_int_equal(m->bytes_out, bytes);
	assert_int_equal(ap_pt_leaf_count(pt), 3);

	/* Empty the last-level table; it stays until something replaces it. */
	assert_int_equal(ap_pt_unmap_pages(pt, 0x201000, SZ_4K, 1), SZ_4K);
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	expect_unmapped(pt, 0x201000);
	/* A block over the empty table replaces it, and the table is freed. */
	assert_int_equal(map1(pt, 0x200000, 0x80000000, SZ_2M, RW), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes - SZ_4K);
	assert_int_equal(m->bytes_out, bytes - SZ_4K);
	assert_int_equal(leaf_at(pt, 0x200000).level, leaf_at(pt, 0x400000).level);
	expect_phys(pt, 0x201010, 0x80001010);

	/* Nested empty tables (a 2M-level table holding an empty 4K-level one)
	 * under a 1G block. */
	bytes = ap_pt_table_bytes(pt);
	assert_int_equal(map1(pt, SZ_2G + 0x3000, 0x3000, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes + 2 * SZ_4K);
	assert_int_equal(ap_pt_unmap_pages(pt, SZ_2G + 0x3000, SZ_4K, 1), SZ_4K);
	assert_int_equal(map1(pt, SZ_2G, 0xc0000000, SZ_1G, RW), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	assert_int_equal(m->bytes_out, bytes);
	expect_phys(pt, SZ_2G + 0x3000, 0xc0003000);

	/* map_pages stops at the end of the table page and adds to *mapped. */
	mapped = 0x100;
	assert_int_equal(ap_pt_map_pages(pt, 0x7fe000, 0x10000000, SZ_4K, 5, RW, &mapped), 0);
	assert_int_equal(mapped, 0x100 + 2 * SZ_4K);
	expect_phys(pt, 0x7ff000, 0x10001000);
	expect_unmapped(pt, 0x800000);
	assert_int_equal(ap_pt_map_pages(pt, 0x800000, 0x10002000, SZ_4K, 3, RW, &mapped), 0);
	assert_int_equal(mapped, 0x100 + 5 * SZ_4K);
	expect_phys(pt, 0x802fff, 0x10004fff);
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 0x3fe00000ull, 0x20000000, SZ_2M, 4, RW, &mapped),
			 0);
	assert_int_equal(mapped, SZ_2M);
	expect_unmapped(pt, SZ_1G);
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 510 * SZ_1G, 0, SZ_1G, 4, RW, &mapped), 0);
	assert_int_equal(mapped, 2 * SZ_1G);
	expect_unmapped(pt, 1ull << 39);

	/* PA 0 is a mapping like any other. */
	assert_int_equal(map1(pt, 0x10000000, 0, SZ_4K, RW), 0);
	pa = 0xdead;
	assert_true(ap_pt_iova_to_phys(pt, 0x10000000, &pa));
	assert_int_equal(pa, 0);
	expect_phys(pt, 0x10000010, 0x10);
	assert_true(ap_pt_iova_to_phys(pt, 0x10000000, NULL));

	/* Errors, none of which changes anything. */
	bytes = ap_pt_table_bytes(pt);
	leaves = ap_pt_leaf_count(pt);
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 1ull << 48, 0, SZ_4K, 1, RW, &mapped), -ERANGE);
	assert_int_equal(ap_pt_map_pages(pt, ~0ull << 12, 0, SZ_4K, 1, RW, &mapped), -ERANGE);
	assert_int_equal(ap_pt_map_pages(pt, 0x5000000, 1ull << 48, SZ_4K, 1, RW, &mapped),
			 -ERANGE);
	assert_int_equal(ap_pt_map_pages(pt, 0x5000000, 0, SZ_4K, 1, 0, &mapped), -EINVAL);
	assert_int_equal(ap_pt_map_pages(pt, 0x5000000, 0, SZ_4K, 1, extra, &mapped), -EINVAL);
	assert_int_equal(ap_pt_map_pages(pt, 0x5000000, 0, SZ_16K, 1, RW, &mapped), -EINVAL);
	assert_int_equal(ap_pt_map_pages(pt, 0x5000000, 0, SZ_64K, 1, RW, &mapped), -EINVAL);
	assert_int_equal(ap_pt_map_pages(pt, 0x5000000, 0, 0, 1, RW, &mapped), -EINVAL);
	assert_int_equal(ap_pt_map_pages(pt, 0x5000000, 0, 3 * SZ_4K, 1, RW, &mapped), -EINVAL);
	assert_int_equal(ap_pt_map_pages(pt, 0x5000000, 0, 1ull << 39, 1, RW, &mapped), -EINVAL);
	assert_int_equal(ap_pt_map_pages(pt, 0x5000000, 0, SZ_4K, 0, RW, &mapped), -EINVAL);
	assert_int_equal(mapped, 0);
	assert_int_equal(ap_pt_leaf_count(pt), leaves);
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	expect_unmapped(pt, 0x5000000);

	assert_int_equal(ap_pt_unmap_pages(pt, 0x10000000, SZ_16K, 1), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x10000000, SZ_64K, 1), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x10000000, SZ_4K, 0), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x10000000, 0, 1), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x10000000 | (1ull << 48), SZ_4K, 1), 0);
	assert_int_equal(ap_pt_leaf_count(pt), leaves);
	expect_unmapped(pt, 0x10000000 | (1ull << 48));
}

#endif /* AP_TEST_PTMODEL_H */
