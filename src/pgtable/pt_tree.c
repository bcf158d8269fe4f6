/* SPDX-License-Identifier: MIT */
/*
 * The tree algorithms of every table format, written once: map, unmap, leaf
 * iteration, freeing, the release of a transaction's tables and entering the
 * tables deeper for a smaller input size.  As in Linux's generic_pt there is
 * one algorithm, and each format describes itself to it through its struct
 * ap_pt_tree_fmt (pt_internal.h): the order of its levels and its descriptor
 * encodings.  What stays in the format files is each architecture's own: the
 * configuration checks and shape, the descriptor bits, the hardware-style
 * walker (its faults differ per architecture) and the register values.
 *
 * Levels: the algorithms walk pt->lvl[], root first, whatever way the format
 * numbers its levels (ARM 0..3 counting up to the leaf, VT-d 5..1 counting
 * down); a level's number is what the format and the callers see.  The level
 * table is data, not callbacks, because every step of every walk reads it.
 *
 * A table is reached by the physical address in its parent's descriptor; we
 * turn that address back into a host pointer through the memory provider,
 * never through a side pointer, so what we walk is what a hardware walker
 * would walk.
 *
 * Parallel writers (pgtable.h, "Threads"): a slot changes from empty to a
 * table, and from a table to empty when the table is freed, only by
 * compare-and-swap, so two writers that meet at a slot agree on one table
 * and a table is freed once.  Leaves are plain single-copy-atomic stores:
 * writers of one leaf slot are writers of overlapping ranges, which the
 * caller serialises.  Leaves are counted in per-thread shards (pt_internal.h),
 * so disjoint writers share no counter; table_bytes changes only with a
 * table, atomically.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "pt_internal.h"

static const struct ap_pt_tree_fmt *fmt_of(const struct ap_pt *pt)
{
	return pt->tree;
}

__thread unsigned ap_pt_tls_shard __attribute__((tls_model("initial-exec")));
static unsigned shards_given;

/* The first threads to write own a counting shard each; the rest share. */
unsigned ap_pt_pick_shard(void)
{
	unsigned s = __atomic_fetch_add(&shards_given, 1, __ATOMIC_RELAXED);

	if (s > AP_PT_COUNT_SHARDS)
		s = AP_PT_COUNT_SHARDS;
	ap_pt_tls_shard = s + 1;
	return s;
}

/* ------------------------------------------------------------ levels */

static const struct ap_pt_level *root_level(const struct ap_pt *pt)
{
	return &pt->lvl[0];
}

static const struct ap_pt_level *leaf_level(const struct ap_pt *pt)
{
	return &pt->lvl[pt->levels - 1];
}

/* The level the format numbers num; it must be one of this table's. */
static const struct ap_pt_level *level_numbered(const struct ap_pt *pt, int num)
{
	return &pt->lvl[(num - pt->start_level) * fmt_of(pt)->step];
}

static uint64_t lvl_size(const struct ap_pt_level *L)
{
	return 1ull << L->shift;
}

static uint64_t lvl_index(const struct ap_pt_level *L, uint64_t iova)
{
	return (iova >> L->shift) & L->index_mask;
}

/* Entries of a table at L that lie below 2^ias: the root may use fewer
 * than a table page holds, or (a concatenated PGD) more. */
static uint64_t lvl_entries(const struct ap_pt_level *L)
{
	return L->index_mask + 1;
}

static unsigned ptes_per_table(const struct ap_pt *pt)
{
	return 1u << pt->bits_per_level;
}

/* Slots from idx to the end of its table page.  A page holds no more than
 * ptes_per_table entries: a concatenated PGD is several pages, handled one
 * at a time as Linux does; a small root is a page of its own. */
static uint64_t entries_left(const struct ap_pt_level *L, uint64_t idx)
{
	return L->page - (idx & (L->page - 1));
}

static bool is_table(const struct ap_pt_level *L, uint64_t pte)
{
	return ap_pt_entry_is(L->live, &L->fmt.table, pte);
}

static bool is_leaf(const struct ap_pt_level *L, uint64_t pte)
{
	return ap_pt_entry_is(L->live, &L->fmt.leaf, pte);
}

/* The level whose entries map pgsize (a power of two), or NULL: a lookup,
 * as every map and unmap asks. */
static const struct ap_pt_level *level_of_size(const struct ap_pt *pt, uint64_t pgsize)
{
	int d = pt->depth_of_shift[ap_ctz(pgsize)];

	return d < 0 ? NULL : &pt->lvl[d];
}

/* A power of two the table maps with, and at least one of it. */
static bool pgsize_usable(const struct ap_pt *pt, uint64_t pgsize, uint64_t pgcount)
{
	return (pgsize & pt->cfg.pgsize_bitmap) && !(pgsize & (pgsize - 1)) && pgcount;
}

/* pt->lvl[] from the shape: each level's entries map bits_per_level more
 * bits than the next one down's, the leaf's a granule; the root's index has
 * pgd_bits. */
static void fill_levels(struct ap_pt *pt)
{
	const struct ap_pt_tree_fmt *f = fmt_of(pt);
	unsigned d;

	pt->levels = (unsigned)((f->leaf_level - pt->start_level) * f->step) + 1;
	memset(pt->depth_of_shift, -1, sizeof(pt->depth_of_shift));
	for (d = 0; d < pt->levels; d++) {
		struct ap_pt_level *L = &pt->lvl[d];
		unsigned bits = d == 0 ? pt->pgd_bits : pt->bits_per_level;

		L->num = pt->start_level + (int)d * f->step;
		L->depth = d;
		L->shift = pt->granule_shift + (pt->levels - 1 - d) * pt->bits_per_level;
		L->index_mask = (1ull << bits) - 1;
		L->page = L->index_mask + 1 < ptes_per_table(pt) ? L->index_mask + 1
								 : ptes_per_table(pt);
		/* one table of the level maps 2^(shift + bits); the root all */
		L->table_mask = d ? ~((1ull << (L->shift + bits)) - 1) : 0;
		L->live = f->live;
		L->fmt = f->levels[L->num];
		L->usable = f->usable_leaf(pt, L->num);
		/* one compare for both, when the level has tables at all and
		 * their bits make an entry live */
		L->walk_table = (struct ap_pt_entry_kind)AP_PT_NEVER;
		if (!(L->fmt.table.bits & ~L->fmt.table.mask) &&
		    ((L->fmt.table.bits | f->table_rights) & f->live))
			L->walk_table = (struct ap_pt_entry_kind)AP_PT_KIND(
				L->fmt.table.mask | f->table_rights, L->fmt.table.bits | f->table_rights);
		pt->depth_of_shift[L->shift] = (signed char)d;
	}
}

/* ------------------------------------------------------------ table memory */

static size_t table_size(const struct ap_pt *pt)
{
	return (size_t)1 << pt->granule_shift;
}

static uint64_t table_pa(const struct ap_pt *pt, uint64_t pte)
{
	return ap_pt_pte_to_oa(fmt_of(pt), pt->granule_shift, pte);
}

/* The table a descriptor points at: in the provider's window a sum, else
 * the provider's answer. */
static inline uint64_t *child_of(const struct ap_pt *pt, uint64_t pte)
{
	uint64_t pa = table_pa(pt, pte), off = pa - pt->win_pa;

	if (off < pt->win_span)
		return (uint64_t *)(void *)(pt->win_host + off);
	return pt->mem.map(pt->mem.cookie, pa, table_size(pt));
}

/*
 * Where the live leaves of the last-level table `table` are counted, or
 * NULL when the provider keeps no counts for it.  An unmap that takes such
 * a table whole reads the count instead of the table's entries.  Parallel
 * disjoint writers may share a table, so the count changes atomically.
 * Tables above the last level are not counted: taking one whole reads its
 * entries anyway, for the tables below it, and counts its leaves on the way.
 */
static inline uint16_t *table_count(const struct ap_pt *pt, const uint64_t *table)
{
	uint64_t off = (uint64_t)((const uint8_t *)table - pt->win_host);

	if (!pt->win_counts || off >= pt->mem.window_size)
		return NULL;
	return &pt->win_counts[off >> 12];
}

static inline void table_count_add(const struct ap_pt *pt, uint64_t *table, int64_t delta)
{
	uint16_t *c = table_count(pt, table);

	if (c)
		__atomic_add_fetch(c, (uint16_t)delta, __ATOMIC_RELAXED);
}

/* Live leaves counted in shard s at table's depth d, and in the table
 * when it is a last-level one. */
static inline void leaves_changed(struct ap_pt *pt, unsigned s, unsigned d, uint64_t *table,
				  int64_t delta)
{
	ap_pt_count_leaves_in(pt, s, d, delta);
	if (d == pt->levels - 1)
		table_count_add(pt, table, delta);
}

static uint64_t *table_alloc(struct ap_pt *pt, size_t size, uint64_t *pa)
{
	uint64_t *t = pt->mem.alloc(pt->mem.cookie, size, pa);
	uint16_t *c;

	if (!t)
		return NULL;
	__atomic_add_fetch(&pt->table_bytes, size, __ATOMIC_RELAXED);
	c = table_count(pt, t);
	if (c)
		__atomic_store_n(c, 0, __ATOMIC_RELAXED);
	return t;
}

static void table_release(struct ap_pt *pt, uint64_t *t, uint64_t pa, size_t size)
{
	pt->mem.free(pt->mem.cookie, t, pa, size);
	__atomic_sub_fetch(&pt->table_bytes, size, __ATOMIC_RELAXED);
}

/* A table leaves the tree: every kept table may be stale (pt_internal.h). */
static void tables_moved(struct ap_pt *pt)
{
	__atomic_add_fetch(&pt->table_gen, 1, __ATOMIC_RELEASE);
}

/* Free the non-root table behind the level-L descriptor `pte` and
 * everything below it (no longer reachable from the root). */
static void free_subtree(struct ap_pt *pt, uint64_t pte, const struct ap_pt_level *L)
{
	const struct ap_pt_level *below = L + 1;
	uint64_t *t = child_of(pt, pte);
	unsigned i;

	if (!t)
		return; /* not memory the provider gave us */
	if (below != leaf_level(pt)) {
		/* most slots are empty: one test each (is_table is a call) */
		for (i = 0; i < ptes_per_table(pt); i++)
			if (t[i] && is_table(below, t[i]))
				free_subtree(pt, t[i], below);
	}
	table_release(pt, t, table_pa(pt, pte), table_size(pt));
}

/* Empty a slot that holds the table `pte`, and free that table and what
 * hangs below it, unless another writer changed the slot first. */
static void unhang_subtree(struct ap_pt *pt, uint64_t *slot, uint64_t pte,
			   const struct ap_pt_level *L)
{
	uint64_t seen = pte;

	if (ap_pte_cmpxchg(slot, &seen, 0)) {
		tables_moved(pt);
		free_subtree(pt, pte, L);
	}
}

static bool table_pinned(const struct ap_pt *pt, uint64_t pa)
{
	unsigned i;

	for (i = 0; i < pt->npinned; i++)
		if (pt->pinned[i] == pa)
			return true;
	return false;
}

/* Whether the table behind `pte` must stay: it holds a live leaf, or a
 * walker's root (pinned), or memory we cannot read (assume the worst). */
static bool subtree_has_leaves(const struct ap_pt *pt, uint64_t pte, const struct ap_pt_level *L)
{
	const struct ap_pt_level *below = L + 1;
	const uint64_t *t = child_of(pt, pte);
	unsigned i;

	if (!t || table_pinned(pt, table_pa(pt, pte)))
		return true;
	for (i = 0; i < ptes_per_table(pt); i++) {
		uint64_t e = ap_pte_read(&t[i]);

		if (!e)
			continue;
		if (!is_table(below, e) || subtree_has_leaves(pt, e, below))
			return true;
	}
	return false;
}

/* The table of level-T entries on iova's path, reached through tables
 * only; NULL at a hole, a leaf, or a table the provider cannot map. */
static inline uint64_t *table_at(const struct ap_pt *pt, uint64_t iova,
				 const struct ap_pt_level *T)
{
	const struct ap_pt_level *L;
	uint64_t *table = pt->root;

	for (L = root_level(pt); L != T; L++) {
		uint64_t pte = ap_pte_read(&table[lvl_index(L, iova)]);

		if (!is_table(L, pte))
			return NULL;
		table = child_of(pt, pte);
		if (!table)
			return NULL;
	}
	return table;
}

/* ------------------------------------------------------------ kept tables */

/* The level-T table on iova's path as shard s kept it, if still good; NULL
 * otherwise.  *gen gets the generation to keep a table found now under. */
static inline uint64_t *kept_table(struct ap_pt *pt, unsigned s, const struct ap_pt_level *T,
				   uint64_t iova, uint64_t *gen)
{
	const struct ap_pt_count_shard *sh = &pt->counts[s];
	unsigned d = T->depth;

	*gen = __atomic_load_n(&pt->table_gen, __ATOMIC_ACQUIRE);
	if (!d)
		return pt->root;
	if (s >= AP_PT_COUNT_SHARDS || sh->gen != *gen ||
	    sh->hint[d].base != ((iova & T->table_mask) | 1))
		return NULL;
	return sh->hint[d].table;
}

static inline void keep_table(struct ap_pt *pt, unsigned s, const struct ap_pt_level *T,
			      uint64_t iova, uint64_t *table, uint64_t gen)
{
	struct ap_pt_count_shard *sh = &pt->counts[s];
	unsigned d = T->depth;

	if (!d || s >= AP_PT_COUNT_SHARDS)
		return;
	if (sh->gen != gen) {
		memset(sh->hint, 0, sizeof(sh->hint));
		sh->gen = gen;
	}
	sh->hint[d].base = (iova & T->table_mask) | 1;
	sh->hint[d].table = table;
}

/* The level-T table on iova's path (NULL at a hole or a leaf): the kept
 * one, or found from the root and kept. */
static inline uint64_t *find_table(struct ap_pt *pt, unsigned s, const struct ap_pt_level *T,
				   uint64_t iova)
{
	uint64_t gen, *table = kept_table(pt, s, T, iova, &gen);

	if (table)
		return table;
	table = table_at(pt, iova, T);
	if (table)
		keep_table(pt, s, T, iova, table, gen);
	return table;
}

/* The descriptor with a leaf_key value's bits in place. */
static uint64_t key_pte(const struct ap_pt_tree_fmt *f, unsigned key)
{
	return ((uint64_t)(key & ((1u << f->leaf_key[0].bits) - 1)) << f->leaf_key[0].shift) |
	       ((uint64_t)(key >> f->leaf_key[0].bits) << f->leaf_key[1].shift);
}

static inline unsigned leaf_key(const struct ap_pt_tree_fmt *f, uint64_t pte)
{
	return (unsigned)(((pte >> f->leaf_key[0].shift) & ((1u << f->leaf_key[0].bits) - 1)) |
			  (((pte >> f->leaf_key[1].shift) & ((1u << f->leaf_key[1].bits) - 1))
			   << f->leaf_key[0].bits));
}

/* pt->leaf_attrs and pt->leaf_access from the format's hooks. */
static void decode_leaves(struct ap_pt *pt)
{
	const struct ap_pt_tree_fmt *f = fmt_of(pt);
	unsigned key, prot;
	uint16_t allowed;

	for (key = 0; key < 1u << (f->leaf_key[0].bits + f->leaf_key[1].bits); key++) {
		f->leaf_access(pt, key_pte(f, key), &prot, &allowed);
		pt->leaf_access[key].prot = (uint8_t)prot;
		pt->leaf_access[key].allowed = allowed;
	}
	for (prot = 0; prot < 64; prot++)
		pt->leaf_attrs[prot] = f->leaf_attrs(pt, prot);
}

/*
 * The decoded leaves of every (tree, format, quirks) seen, for the life of
 * the process: the hooks read nothing else of the table (pt_internal.h),
 * and decoding costs a domain 320 calls of them, more than the rest of its
 * making (a program that makes domain after domain, a fuzzer, pays it
 * every time).  Few keys exist (two trees, a few formats and quirks); past
 * LEAF_CACHE of them a domain decodes its own.
 */
#define LEAF_CACHE 16

static struct leaf_decoded {
	const struct ap_pt_tree_fmt *tree;
	enum ap_pt_format format;
	uint32_t quirks;
	uint64_t attrs[64];
	struct ap_pt_leaf_access access[256];
} leaf_cache[LEAF_CACHE];
static unsigned leaf_cached;
static pthread_mutex_t leaf_lock = PTHREAD_MUTEX_INITIALIZER;

static bool leaf_key_is(const struct leaf_decoded *c, const struct ap_pt *pt)
{
	return c->tree == pt->tree && c->format == pt->cfg.format && c->quirks == pt->cfg.quirks;
}

/* pt->leaf_attrs and pt->leaf_access: copied when known, else decoded
 * and remembered. */
static void leaf_tables(struct ap_pt *pt)
{
	struct leaf_decoded *c;
	unsigned i;

	pthread_mutex_lock(&leaf_lock);
	for (i = 0; i < leaf_cached && !leaf_key_is(&leaf_cache[i], pt); i++)
		;
	if (i == leaf_cached) {
		decode_leaves(pt);
		if (leaf_cached < LEAF_CACHE) {
			c = &leaf_cache[leaf_cached++];
			c->tree = pt->tree;
			c->format = pt->cfg.format;
			c->quirks = pt->cfg.quirks;
			memcpy(c->attrs, pt->leaf_attrs, sizeof(c->attrs));
			memcpy(c->access, pt->leaf_access, sizeof(c->access));
		}
	} else {
		memcpy(pt->leaf_attrs, leaf_cache[i].attrs, sizeof(pt->leaf_attrs));
		memcpy(pt->leaf_access, leaf_cache[i].access, sizeof(pt->leaf_access));
	}
	pthread_mutex_unlock(&leaf_lock);
}

/* pt->leaf_attrs, leaf_access and walk_oa_mask (pt_internal.h). */
static void fill_walk_data(struct ap_pt *pt)
{
	const struct ap_pt_tree_fmt *f = fmt_of(pt);

	leaf_tables(pt);
	pt->walk_oa_mask = f->oa_fold.granule_shift == pt->granule_shift ? 0 : f->oa_mask;
}

/* Once the root and the window are known (pt_internal.h). */
static void set_walk_oas_min(struct ap_pt *pt)
{
	uint64_t top = pt->root_pa | (pt->win_pa + pt->mem.window_size - 1);

	pt->walk_oas_min = 255;
	if (pt->win_span && pt->walk_oa_mask)
		pt->walk_oas_min = top ? 64 - (unsigned)__builtin_clzll(top) : 0;
}

int ap_pt_tree_init(struct ap_pt *pt, const struct ap_pt_tree_fmt *tree)
{
	pt->tree = tree;
	fill_levels(pt);
	fill_walk_data(pt);
	if (pt->mem.window_host && pt->mem.window_size >= table_size(pt)) {
		pt->win_host = pt->mem.window_host;
		pt->win_pa = pt->mem.window_pa;
		pt->win_span = pt->mem.window_size - table_size(pt) + 1;
		pt->win_counts = pt->mem.frame_counts;
	}
	pt->root = table_alloc(pt, fmt_of(pt)->root_bytes(pt), &pt->root_pa);
	if (!pt->root)
		return -ENOMEM;
	set_walk_oas_min(pt);
	return 0;
}

void ap_pt_tree_destroy(struct ap_pt *pt)
{
	const struct ap_pt_tree_fmt *f = fmt_of(pt);
	const struct ap_pt_level *root = root_level(pt);
	unsigned i, n;

	if (!pt->root)
		return;
	n = f->root_slots(pt);
	for (i = 0; i < n; i++)
		if (pt->root[i] && is_table(root, pt->root[i]))
			free_subtree(pt, pt->root[i], root);
	table_release(pt, pt->root, pt->root_pa, f->root_bytes(pt));
	pt->root = NULL;
}

/* ------------------------------------------------------------ map */

static int map_pages(struct ap_pt *pt, struct ap_pt_txn *txn, uint64_t iova, uint64_t pa,
		     uint64_t pgsize, uint64_t pgcount, unsigned prot, uint64_t *mapped)
	__attribute__((noinline));

/* Whether map cannot go down through the non-empty level-L entry `pte`
 * to reach a deeper level.  Tables come first: they are the common case,
 * and the only one in a table that has not been written by hand. */
static bool blocks_descent(const struct ap_pt *pt, const struct ap_pt_level *L, uint64_t pte)
{
	(void)pt;
	return !is_table(L, pte); /* a leaf, or a descriptor we will not follow */
}

/* Hang a new, empty table in the empty level-L slot; the slot's entry
 * then (ours, *ours set, or what a parallel writer put there first), or 0
 * for want of memory (for the table, or to remember it in a transaction). */
static uint64_t add_table(struct ap_pt *pt, struct ap_pt_txn *txn, uint64_t *slot,
			  uint64_t iova, const struct ap_pt_level *L, bool *ours)
{
	struct ap_pt_txn_entry e = { .iova = iova, .level = L[1].num };
	uint64_t pte, seen = 0;
	uint64_t *child = table_alloc(pt, table_size(pt), &e.pte);

	if (!child)
		return 0;
	if (ap_pt_txn_note(txn, &e)) {
		table_release(pt, child, e.pte, table_size(pt));
		return 0;
	}
	pte = fmt_of(pt)->table_pte(pt, e.pte);
	if (ap_pte_cmpxchg(slot, &seen, pte)) {
		*ours = true;
		return pte;
	}
	/* Lost the race: nobody has seen our table, so it goes at once. */
	ap_pt_txn_forget(txn);
	table_release(pt, child, e.pte, table_size(pt));
	return seen;
}

/* The table of level-T entries on iova's path, allocating the tables
 * missing on the way; 0 or -EEXIST, -ENOMEM, -EFAULT.  *fresh: that table
 * is one this call hung (so no slot of the call's range is taken). */
static int map_path(struct ap_pt *pt, struct ap_pt_txn *txn, uint64_t iova,
		    const struct ap_pt_level *T, uint64_t **out, bool *fresh)
{
	const struct ap_pt_level *L;
	uint64_t *table = pt->root;

	*fresh = false;
	for (L = root_level(pt); L != T; L++) {
		uint64_t *slot = &table[lvl_index(L, iova)];
		uint64_t pte = ap_pte_read(slot);

		*fresh = false;
		if (!pte) {
			pte = add_table(pt, txn, slot, iova, L, fresh);
			if (!pte)
				return -ENOMEM;
		}
		if (blocks_descent(pt, L, pte)) {
			return -EEXIST; /* a leaf, or what we cannot follow */
		}
		table = child_of(pt, pte);
		if (!table)
			return -EFAULT;
	}
	*out = table;
	return 0;
}

/* Check every slot before writing any: a leaf, or a table that still holds
 * live leaves, refuses the whole call. */
static int check_slots(const struct ap_pt *pt, const uint64_t *slot, uint64_t n,
		       const struct ap_pt_level *L)
{
	uint64_t i;

	for (i = 0; i < n; i++) {
		uint64_t pte = ap_pte_read(&slot[i]);

		if (!pte)
			continue;
		if (!is_table(L, pte) || subtree_has_leaves(pt, pte, L))
			return -EEXIST;
	}
	return 0;
}

/* Take an empty table out of its slot for a block, as Linux does.  Inside
 * a transaction it is kept until the end, so a rollback can put it back. */
static void displace_table(struct ap_pt *pt, struct ap_pt_txn *txn, uint64_t *slot,
			   uint64_t old, const struct ap_pt_level *L, uint64_t iova)
{
	struct ap_pt_txn_entry e = { .iova = iova, .pte = old, .level = L->num,
				     .replaced = true };
	uint64_t seen = old;

	if (!ap_pte_cmpxchg(slot, &seen, 0))
		return; /* an overlapping writer took it: theirs to free */
	tables_moved(pt);
	if (!txn || ap_pt_txn_note(txn, &e))
		free_subtree(pt, old, L);
}

/* Write n leaves from slot on, over the empty tables check_slots let by.
 * As in Linux, prot is turned into descriptor bits once, not per leaf. */
static void write_leaves(struct ap_pt *pt, struct ap_pt_txn *txn, uint64_t *slot, uint64_t n,
			 const struct ap_pt_level *L, uint64_t iova, uint64_t pa, unsigned prot)
{
	const struct ap_pt_tree_fmt *f = fmt_of(pt);
	uint64_t attrs = pt->leaf_attrs[prot & 63] | L->fmt.leaf_type;
	uint64_t pgsize = lvl_size(L), i;

	for (i = 0; i < n; i++) {
		uint64_t old = ap_pte_read(&slot[i]);

		if (old)
			displace_table(pt, txn, &slot[i], old, L, iova + i * pgsize);
		ap_pte_write(&slot[i], attrs | ap_pt_oa_to_pte(f, pa + i * pgsize));
	}
}

/* Whether any of n slots is taken. */
static bool any_taken(const uint64_t *slot, uint64_t n)
{
	uint64_t any = 0, i;

	for (i = 0; i < n; i++)
		any |= __atomic_load_n(&slot[i], __ATOMIC_RELAXED);
	return any != 0;
}

/*
 * Write n leaves into empty slots.  Where no address bit is folded (every
 * format below 2^48), consecutive leaves differ by pgsize in their address
 * field alone: one addition per leaf.  The stores are ordered after what
 * came before them by one fence, not one each.
 */
static void fill_leaves(struct ap_pt *pt, uint64_t *slot, uint64_t n,
			const struct ap_pt_level *L, uint64_t pa, unsigned prot)
{
	const struct ap_pt_tree_fmt *f = fmt_of(pt);
	uint64_t attrs = pt->leaf_attrs[prot & 63] | L->fmt.leaf_type;
	uint64_t pgsize = lvl_size(L), last = pa + (n - 1) * pgsize, pte, i;

	if (f->oa_fold.shift && (last >> f->oa_fold.shift) >= (f->oa_mask & -f->oa_mask)) {
		for (i = 0; i < n; i++)
			ap_pte_write(&slot[i], attrs | ap_pt_oa_to_pte(f, pa + i * pgsize));
		return;
	}
	pte = attrs | (pa & f->oa_mask);
#ifdef AP_PT_TSAN
	/* (ThreadSanitizer does not follow fences: one release each) */
	for (i = 0; i < n; i++, pte += pgsize)
		ap_pte_write(&slot[i], pte);
#else
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (i = 0; i < n; i++, pte += pgsize)
		__atomic_store_n(&slot[i], pte, __ATOMIC_RELAXED);
#endif
}

/*
 * The common call, one page into an empty slot of a table this thread
 * kept: no walk, no loop, no call.  Anything else (an argument to refuse,
 * a table to find or make, a slot not empty) takes the general path, which
 * decides it again from the start.
 */
/* The slot of iova in the table this thread kept for pgsize's level, or
 * NULL when it kept none there or the tables have changed since (*s: the
 * thread's shard, *d: the level's depth). */
static inline uint64_t *kept_slot(struct ap_pt *pt, uint64_t iova, uint64_t pgsize,
				  unsigned *s, unsigned *d)
{
	const struct ap_pt_level *T;
	const struct ap_pt_count_shard *sh;

	*s = ap_pt_tls_shard - 1;
	if (!(pgsize & pt->cfg.pgsize_bitmap) || (pgsize & (pgsize - 1)) ||
	    (iova >> pt->cfg.ias) || *s >= AP_PT_COUNT_SHARDS)
		return NULL;
	*d = (unsigned)pt->depth_of_shift[ap_ctz(pgsize)];
	T = &pt->lvl[*d];
	sh = &pt->counts[*s];
	if (!*d || sh->gen != __atomic_load_n(&pt->table_gen, __ATOMIC_ACQUIRE) ||
	    sh->hint[*d].base != ((iova & T->table_mask) | 1))
		return NULL;
	return &sh->hint[*d].table[lvl_index(T, iova)];
}

static inline bool map_one_kept(struct ap_pt *pt, uint64_t iova, uint64_t pa, uint64_t pgsize,
				unsigned prot)
{
	uint64_t *slot;
	unsigned s, d;

	if (!(prot & (AP_PROT_READ | AP_PROT_WRITE)) || ((pa + (pgsize - 1)) >> pt->cfg.oas))
		return false;
	slot = kept_slot(pt, iova, pgsize, &s, &d);
	if (!slot || ap_pte_read(slot))
		return false;
	ap_pte_write(slot, pt->leaf_attrs[prot & 63] | pt->lvl[d].fmt.leaf_type |
				   ap_pt_oa_to_pte(fmt_of(pt), pa));
	leaves_changed(pt, s, d, pt->counts[s].hint[d].table, 1);
	return true;
}

bool ap_pt_map_one_kept(struct ap_pt *pt, uint64_t iova, uint64_t pa, uint64_t pgsize,
			unsigned prot)
{
	return pt->tree && map_one_kept(pt, iova, pa, pgsize, prot);
}

int ap_pt_tree_map(struct ap_pt *pt, struct ap_pt_txn *txn, uint64_t iova, uint64_t pa,
		   uint64_t pgsize, uint64_t pgcount, unsigned prot, uint64_t *mapped)
{
	if (pgcount == 1 && map_one_kept(pt, iova, pa, pgsize, prot)) {
		*mapped += pgsize;
		return 0;
	}
	return map_pages(pt, txn, iova, pa, pgsize, pgcount, prot, mapped);
}

static int map_pages(struct ap_pt *pt, struct ap_pt_txn *txn, uint64_t iova, uint64_t pa,
		     uint64_t pgsize, uint64_t pgcount, unsigned prot, uint64_t *mapped)
{
	const struct ap_pt_level *T;
	uint64_t *table, idx, n, gen;
	bool fresh = false, taken;
	unsigned s;
	int err, d;

	if (!pgsize_usable(pt, pgsize, pgcount) || !(prot & (AP_PROT_READ | AP_PROT_WRITE)))
		return -EINVAL;
	if ((iova >> pt->cfg.ias) || (pa >> pt->cfg.oas))
		return -ERANGE;
	d = pt->depth_of_shift[ap_ctz(pgsize)];
	if (d < 0)
		return -EINVAL;
	T = &pt->lvl[d];
	/* The table this thread used last (the common case), or through the
	 * tables already there (a walk that changes nothing), else down again
	 * allocating the missing ones. */
	s = ap_pt_shard();
	table = kept_table(pt, s, T, iova, &gen);
	if (!table) {
		table = table_at(pt, iova, T);
		if (!table) {
			err = map_path(pt, txn, iova, T, &table, &fresh);
			if (err)
				return err;
		}
		keep_table(pt, s, T, iova, table, gen);
	}
	idx = lvl_index(T, iova);
	n = entries_left(T, idx);
	if (n > pgcount)
		n = pgcount;
	taken = !fresh && any_taken(&table[idx], n);
	if (taken) {
		err = check_slots(pt, &table[idx], n, T);
		if (err)
			return err;
	}
	if ((pa + (n * pgsize - 1)) >> pt->cfg.oas)
		return -ERANGE; /* stricter than Linux: the last page too */
	if (taken)
		write_leaves(pt, txn, &table[idx], n, T, iova & ~(pgsize - 1), pa, prot);
	else
		fill_leaves(pt, &table[idx], n, T, pa, prot);
	leaves_changed(pt, s, T->depth, table, (int64_t)n);
	*mapped += n * pgsize;
	return 0;
}

/* ------------------------------------------------------------ unmap */

/*
 * Unmap follows each format's Linux rule (pgtable.h says which): the
 * io-pgtable-arm rule for LPAE (ap_pt_tree_unmap_level: whole entries of
 * the page size's level, a table there going whole) and generic_pt's for
 * VT-d (ap_pt_tree_unmap_range: the range at every level, stopping at a
 * hole).  Both leave the table as a walker may see it at any moment: a
 * table leaves its slot (compare-and-swap) before it is freed.
 */

/* Live leaves among the n entries (a multiple of 64) of a table: the
 * entries a walk would take as leaves (is_leaf()).  The table is out of
 * every writer's reach when this runs, so plain loads; blocks of 64 with no
 * branch, which the compiler vectorises where the CPU has 64-bit lane
 * compares (x86-64: an AVX2 clone, chosen at load time). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
	!defined(__SANITIZE_THREAD__)
/* (ThreadSanitizer instruments the clone resolver, which runs before it
 * is set up) */
__attribute__((target_clones("avx2", "default")))
#endif
static uint64_t count_leaves_in(const uint64_t *t, size_t n, uint64_t live, uint64_t mask,
				uint64_t bits)
{
	uint64_t c = 0;
	size_t i;

	for (i = 0; i < n; i++)
		c += (uint64_t)((t[i] & mask) == bits) & (uint64_t)((t[i] & live) != 0);
	return c;
}

static uint64_t count_leaves(const uint64_t *t, unsigned n, const struct ap_pt_level *L)
{
	return count_leaves_in(t, n, L->live, L->fmt.leaf.mask, L->fmt.leaf.bits);
}

/* A table that went out of the tree with the level-L descriptor `pte`:
 * the leaves it held leave the counts (and their sizes go to *sizes, for
 * the TLB), and it is freed with every table below it. */
static void drop_subtree(struct ap_pt *pt, uint64_t pte, const struct ap_pt_level *L,
			 uint64_t *sizes)
{
	const struct ap_pt_level *below = L + 1;
	uint64_t *t = child_of(pt, pte);
	const uint16_t *count;
	uint64_t n = 0;
	unsigned i;

	if (!t)
		return; /* not memory the provider gave us */
	if (below != leaf_level(pt)) {
		for (i = 0; i < ptes_per_table(pt); i++) {
			uint64_t e = t[i];

			if (is_table(below, e))
				drop_subtree(pt, e, below, sizes);
			else
				n += is_leaf(below, e);
		}
	} else {
		count = table_count(pt, t);
		n = count ? __atomic_load_n(count, __ATOMIC_RELAXED)
			  : count_leaves(t, ptes_per_table(pt), below);
	}
	if (n) {
		ap_pt_count_leaves(pt, below->depth, -(int64_t)n);
		*sizes |= lvl_size(below);
	}
	table_release(pt, t, table_pa(pt, pte), table_size(pt));
}

/* Whether a walker's root (a pinned table) lies in the subtree of `pte`. */
static bool subtree_pinned(const struct ap_pt *pt, uint64_t pte, const struct ap_pt_level *L)
{
	const struct ap_pt_level *below = L + 1;
	const uint64_t *t;
	unsigned i;

	if (!pt->npinned)
		return false;
	if (table_pinned(pt, table_pa(pt, pte)))
		return true;
	t = child_of(pt, pte);
	if (!t || below == leaf_level(pt))
		return false;
	for (i = 0; i < ptes_per_table(pt); i++) {
		uint64_t e = ap_pte_read(&t[i]);

		if (is_table(below, e) && subtree_pinned(pt, e, below))
			return true;
	}
	return false;
}

/* Empty the level-L table behind `pte` in place: every leaf goes, and every
 * table below that holds no walker's root; those that do stay, emptied. */
static void empty_subtree(struct ap_pt *pt, uint64_t pte, const struct ap_pt_level *L,
			  uint64_t *sizes)
{
	const struct ap_pt_level *below = L + 1;
	uint64_t *t = child_of(pt, pte);
	uint64_t gone = 0;
	unsigned i;

	if (!t)
		return;
	for (i = 0; i < ptes_per_table(pt); i++) {
		uint64_t e = ap_pte_read(&t[i]), seen = e;

		if (is_leaf(below, e)) {
			ap_pte_write(&t[i], 0);
			gone++;
		} else if (is_table(below, e)) {
			if (subtree_pinned(pt, e, below)) {
				empty_subtree(pt, e, below, sizes);
			} else if (ap_pte_cmpxchg(&t[i], &seen, 0)) {
				tables_moved(pt);
				drop_subtree(pt, e, below, sizes);
			}
		}
	}
	if (gone) {
		leaves_changed(pt, ap_pt_shard(), below->depth, t, -(int64_t)gone);
		*sizes |= lvl_size(below);
	}
}

/* The table in the level-L slot goes whole, holes and all, as Linux frees
 * it (io-pgtable-arm's __arm_lpae_free_pgtable), unless a walker's root
 * lives in it: then it stays, emptied. */
static void unmap_table_whole(struct ap_pt *pt, uint64_t *slot, uint64_t pte,
			      const struct ap_pt_level *L, uint64_t *sizes)
{
	uint64_t seen = pte;

	if (subtree_pinned(pt, pte, L)) {
		empty_subtree(pt, pte, L, sizes);
	} else if (ap_pte_cmpxchg(slot, &seen, 0)) {
		tables_moved(pt);
		drop_subtree(pt, pte, L, sizes);
	}
	/* else an overlapping writer took it: theirs */
}

/*
 * io-pgtable-arm's unmap: walk to the level that maps pgsize (nothing if a
 * hole or a larger leaf is on the way: a leaf is never split), then take up
 * to pgcount of its entries, to the end of the table page: a leaf goes, a
 * table goes whole; the first empty entry stops it.  Each entry taken
 * counts pgsize.
 */
/*
 * The common unmap, one leaf in a table this thread kept: both formats'
 * rules take it alone (the range is one entry of its own level, and a
 * kept table means no larger leaf holds it).  Anything else takes the
 * general path.
 */
static inline bool unmap_one_kept(struct ap_pt *pt, uint64_t iova, uint64_t pgsize,
				  uint64_t *sizes)
{
	uint64_t *slot;
	unsigned s, d;

	if (iova & (pgsize - 1))
		return false;
	slot = kept_slot(pt, iova, pgsize, &s, &d);
	if (!slot || !is_leaf(&pt->lvl[d], ap_pte_read(slot)))
		return false;
	ap_pte_write(slot, 0);
	leaves_changed(pt, s, d, pt->counts[s].hint[d].table, -1);
	*sizes |= pgsize;
	return true;
}

uint64_t ap_pt_tree_unmap_level(struct ap_pt *pt, uint64_t iova, uint64_t pgsize,
				uint64_t pgcount, uint64_t *sizes)
{
	const struct ap_pt_level *T;
	uint64_t *table, idx, n, i, gone = 0;
	unsigned s;

	if (pgcount == 1 && unmap_one_kept(pt, iova, pgsize, sizes))
		return pgsize;
	if (!pgsize_usable(pt, pgsize, pgcount))
		return 0;
	if (iova >> pt->cfg.ias)
		return 0;
	T = level_of_size(pt, pgsize);
	if (!T)
		return 0;
	s = ap_pt_shard();
	table = find_table(pt, s, T, iova);
	if (!table)
		return 0;
	idx = lvl_index(T, iova);
	n = entries_left(T, idx);
	if (n > pgcount)
		n = pgcount;
	for (i = 0; i < n; i++) {
		uint64_t *slot = &table[idx + i];
		uint64_t pte = ap_pte_read(slot);

		if (is_leaf(T, pte)) {
			ap_pte_write(slot, 0);
			gone++;
		} else if (is_table(T, pte)) {
			unmap_table_whole(pt, slot, pte, T, sizes);
		} else {
			break;
		}
	}
	if (gone) {
		leaves_changed(pt, s, T->depth, table, -(int64_t)gone);
		*sizes |= pgsize;
	}
	return i * pgsize;
}

/*
 * The leaves a map wrote, exactly: up to pgcount leaves of pgsize from
 * iova's entry, to the end of the table page, stopping before anything
 * else; no table goes.  For undoing a failed map (ap_pt_txn_unmap), where
 * an unmap by the format's rule could also take tables that were there
 * before.
 */
uint64_t ap_pt_tree_unmap_leaves(struct ap_pt *pt, uint64_t iova, uint64_t pgsize,
				 uint64_t pgcount, uint64_t *sizes)
{
	const struct ap_pt_level *T;
	uint64_t *table, idx, n, i;

	if (!pgsize_usable(pt, pgsize, pgcount) || (iova >> pt->cfg.ias))
		return 0;
	T = level_of_size(pt, pgsize);
	table = T ? find_table(pt, ap_pt_shard(), T, iova) : NULL;
	if (!table)
		return 0;
	idx = lvl_index(T, iova);
	n = entries_left(T, idx);
	if (n > pgcount)
		n = pgcount;
	for (i = 0; i < n && is_leaf(T, ap_pte_read(&table[idx + i])); i++)
		ap_pte_write(&table[idx + i], 0);
	if (i) {
		leaves_changed(pt, ap_pt_shard(), T->depth, table, -(int64_t)i);
		*sizes |= pgsize;
	}
	return i * pgsize;
}

struct range_unmap {
	uint64_t last;     /* last address of the range */
	uint64_t unmapped; /* bytes of the leaves taken */
	uint64_t *sizes;
};

/*
 * generic_pt's unmap of [va, r->last] in the level-L table: entry by entry
 * from va's, a leaf goes whole (unless va lies inside it: the start of a
 * leaf may be unmapped with less than the leaf, its middle never); a table
 * is unmapped in turn, and freed when the range covers it; a hole stops
 * everything.  Returns false once stopped.
 */
static bool unmap_range_in(struct ap_pt *pt, uint64_t *table, const struct ap_pt_level *L,
			   uint64_t va, struct range_unmap *r)
{
	uint64_t size = lvl_size(L), idx = lvl_index(L, va), nent = lvl_entries(L);
	uint64_t base = va & ~(size - 1), gone = 0, i;
	bool go = true;

	for (i = idx; i < nent; i++, base += size) {
		uint64_t *slot = &table[i];
		uint64_t pte = ap_pte_read(slot), last = base + (size - 1);

		if (is_leaf(L, pte)) {
			if (base < va) {
				go = false; /* va inside the leaf */
				break;
			}
			ap_pte_write(slot, 0);
			gone++;
		} else if (is_table(L, pte)) {
			uint64_t *child = child_of(pt, pte);

			if (!child || !unmap_range_in(pt, child, L + 1, base < va ? va : base, r)) {
				go = false;
				break;
			}
			if (base >= va && last <= r->last && !subtree_has_leaves(pt, pte, L))
				unhang_subtree(pt, slot, pte, L);
		} else {
			go = false;
			break;
		}
		if (last >= r->last)
			break;
	}
	if (gone) {
		leaves_changed(pt, ap_pt_shard(), L->depth, table, -(int64_t)gone);
		*r->sizes |= size;
		r->unmapped += gone * size;
	}
	return go;
}

/*
 * generic_pt's unmap_pages, as the vtdss format runs it: the range
 * [iova, iova + pgsize * pgcount) is unmapped at every level it spans
 * (table pages do not clip it), and nothing at all if it does not lie
 * below 2^ias.  Returns the bytes of the leaves taken, which may exceed
 * the range when it starts at a leaf's first byte or ends inside a leaf.
 */
uint64_t ap_pt_tree_unmap_range(struct ap_pt *pt, uint64_t iova, uint64_t pgsize,
				uint64_t pgcount, uint64_t *sizes)
{
	struct range_unmap r = { .sizes = sizes };
	const struct ap_pt_level *T;
	uint64_t len;

	if (pgcount == 1 && unmap_one_kept(pt, iova, pgsize, sizes))
		return pgsize;
	if (!pgsize_usable(pt, pgsize, pgcount))
		return 0;
	if (pgcount > UINT64_MAX / pgsize)
		return 0;
	len = pgsize * pgcount;
	r.last = iova + (len - 1);
	if (r.last < iova || (iova >> pt->cfg.ias) || (r.last >> pt->cfg.ias))
		return 0;
	/* A range inside one table of pgsize's level that does not cover all
	 * of it changes nothing above that table: start there. */
	T = level_of_size(pt, pgsize);
	if (T && T != root_level(pt) && ((iova ^ r.last) & T->table_mask) == 0 &&
	    ((iova | ~r.last) & ~T->table_mask) != 0) {
		uint64_t *table = find_table(pt, ap_pt_shard(), T, iova);

		if (table) {
			unmap_range_in(pt, table, T, iova, &r);
			return r.unmapped;
		}
		/* a hole or a leaf above: the walk from the root decides */
	}
	unmap_range_in(pt, pt->root, root_level(pt), iova, &r);
	return r.unmapped;
}

/* ------------------------------------------------------------ leaves */

struct leaf_iter {
	const struct ap_pt *pt;
	uint64_t first, last;
	int (*fn)(void *arg, const struct ap_pt_leaf *leaf);
	void *arg;
};

static int leaves_in(const struct leaf_iter *it, const uint64_t *table,
		     const struct ap_pt_level *L, uint64_t base)
{
	const struct ap_pt *pt = it->pt;
	uint64_t nent = lvl_entries(L);
	uint64_t i = it->first > base ? (it->first - base) >> L->shift : 0;

	for (; i < nent; i++) {
		uint64_t va = base + (i << L->shift);
		uint64_t pte = ap_pte_read(&table[i]);
		int rc;

		if (va > it->last)
			break;
		if (is_leaf(L, pte)) {
			struct ap_pt_leaf leaf;

			fmt_of(pt)->decode_leaf(pt, pte, L->num, va, &leaf);
			rc = it->fn(it->arg, &leaf);
		} else if (is_table(L, pte)) {
			const uint64_t *child = child_of(pt, pte);

			rc = child ? leaves_in(it, child, L + 1, va) : 0;
		} else {
			continue;
		}
		if (rc)
			return rc;
	}
	return 0;
}

int ap_pt_tree_for_each_leaf(const struct ap_pt *pt, uint64_t first, uint64_t last,
			     int (*fn)(void *arg, const struct ap_pt_leaf *leaf), void *arg)
{
	struct leaf_iter it;

	if (first > last || (first >> pt->cfg.ias))
		return 0;
	it.pt = pt;
	it.first = first;
	it.last = last;
	it.fn = fn;
	it.arg = arg;
	return leaves_in(&it, pt->root, root_level(pt), 0);
}

/* ------------------------------------------------------------ walks */

/*
 * The hardware walk of pt's own configuration, over the tables as the
 * tree keeps them: the level descriptions instead of the format's shape,
 * the window instead of the provider's map, and only the leaf (permissions,
 * output size) left to the format.  The common case only: the root and
 * every table on the way in the window, each table descriptor with the
 * format's table_rights, and a descriptor at the end that the tree calls a
 * leaf; anything else is the format walker's to decide (-EAGAIN).
 */
static inline int tree_walk(const struct ap_pt *pt, const struct ap_pt_walk_cfg *cfg,
			    uint64_t iova, unsigned access, struct ap_pt_walk_result *res)
{
	const struct ap_pt_tree_fmt *f = fmt_of(pt);
	const struct ap_pt_level *L = root_level(pt);
	const uint64_t *table = pt->root;
	uint64_t oa_mask = pt->walk_oa_mask;

	if (cfg->root != pt->root_pa || cfg->ias != pt->cfg.ias || (iova >> cfg->ias) ||
	    cfg->oas < pt->walk_oas_min)
		return -EAGAIN;
	for (;; L++) {
		uint64_t pte = ap_pte_walk_read(&table[lvl_index(L, iova)]), off;

		if ((pte & L->walk_table.mask) == L->walk_table.bits) {
			off = (pte & oa_mask) - pt->win_pa;
			if (off >= pt->win_span)
				return -EAGAIN;
			table = (const uint64_t *)(const void *)(pt->win_host + off);
			continue;
		}
		if (ap_pt_entry_is(L->live, &L->usable, pte)) {
			const struct ap_pt_leaf_access *a = &pt->leaf_access[leaf_key(f, pte)];
			uint64_t size = lvl_size(L), out = pte & oa_mask & ~(size - 1);

			if (!(out >> cfg->oas) && (a->allowed >> (access & 15) & 1)) {
				res->fault = AP_FAULT_NONE;
				res->level = L->num;
				res->pa = out | (iova & (size - 1));
				res->allowed = a->allowed;
				res->leaf.iova = iova & ~(size - 1);
				res->leaf.size = size;
				res->leaf.pa = out;
				res->leaf.pte = pte;
				res->leaf.level = L->num;
				res->leaf.prot = a->prot;
				return 0;
			}
		}
		if (!is_leaf(L, pte))
			return -EAGAIN;
		/* a fault at the leaf: the format's walker says which */
		memset(res, 0, sizeof(*res));
		return f->walk_leaf(pt, cfg, pte, L->num, iova, access, res);
	}
}

/* The tree walk inline, the format's walker for what it leaves. */
int ap_pt_walk_table(const struct ap_pt *pt, const struct ap_pt_walk_cfg *cfg, uint64_t iova,
		     unsigned access, struct ap_pt_walk_result *res)
{
	int err = tree_walk(pt, cfg, iova, access, res);

	return err != -EAGAIN ? err : pt->ops->walk(cfg, &pt->mem, iova, access, res);
}

/*
 * What tree_walk() does for a privileged access of no kind, without
 * the leaf's decoding: a leaf the walker takes (the level's usable kind)
 * translates when its output lies below 2^oas; what is not a table or
 * such a leaf, the format's walker decides.
 */
int ap_pt_tree_iova_to_phys(const struct ap_pt *pt, uint64_t iova, uint64_t *pa)
{
	const struct ap_pt_tree_fmt *f = fmt_of(pt);
	const struct ap_pt_level *L = root_level(pt);
	const uint64_t *table = pt->root;

	if ((iova >> pt->cfg.ias) || !pt->win_span ||
	    ((pt->root_pa | (pt->win_pa + pt->mem.window_size - 1)) >> pt->cfg.oas))
		return -EAGAIN;
	for (;; L++) {
		uint64_t pte = ap_pte_read(&table[lvl_index(L, iova)]), off, out;

		if (ap_pt_entry_is(L->live, &L->usable, pte)) {
			out = ap_pt_pte_to_oa(f, pt->granule_shift, pte) & ~(lvl_size(L) - 1);
			if (out >> pt->cfg.oas)
				return -EAGAIN;
			*pa = out | (iova & (lvl_size(L) - 1));
			return 1;
		}
		off = table_pa(pt, pte) - pt->win_pa;
		if (!is_table(L, pte) || (pte & f->table_rights) != f->table_rights ||
		    off >= pt->win_span)
			return -EAGAIN;
		table = (const uint64_t *)(const void *)(pt->win_host + off);
	}
}

/* ------------------------------------------------------------ walker entry */

/* Allocate `missing` tables chained through their entry 0, all or nothing,
 * and hang the chain in `slot`; the last of them is the walker's root. */
static int add_chain(struct ap_pt *pt, uint64_t *slot, unsigned missing, uint64_t *root)
{
	const struct ap_pt_tree_fmt *f = fmt_of(pt);
	uint64_t *chain[AP_PT_MAX_LEVELS], chain_pa[AP_PT_MAX_LEVELS];
	unsigned k;

	for (k = 0; k < missing; k++) {
		chain[k] = table_alloc(pt, table_size(pt), &chain_pa[k]);
		if (!chain[k]) {
			while (k--)
				table_release(pt, chain[k], chain_pa[k], table_size(pt));
			return -ENOMEM;
		}
	}
	for (k = missing - 1; k > 0; k--)
		ap_pte_write(&chain[k - 1][0], f->table_pte(pt, chain_pa[k]));
	ap_pte_write(slot, f->table_pte(pt, chain_pa[0]));
	*root = chain_pa[missing - 1];
	return 0;
}

/* Whether a walker starting at level number `start` with input size ias
 * can enter our tables: at or below our root, through a single table. */
static bool enterable(const struct ap_pt *pt, int start, unsigned ias)
{
	const struct ap_pt_level *W;

	if ((start - pt->start_level) * fmt_of(pt)->step < 0)
		return false;
	W = level_numbered(pt, start);
	return ias - W->shift <= pt->bits_per_level;
}

/* Keep the table at pa for good: a walker's root.  Pinned once each. */
static int pin(struct ap_pt *pt, uint64_t pa)
{
	if (table_pinned(pt, pa))
		return 0;
	if (pt->npinned == AP_PT_MAX_PINNED)
		return -ENOMEM;
	pt->pinned[pt->npinned++] = pa;
	return 0;
}

/* Enter the same tables deeper, through index 0, for a smaller input size. */
int ap_pt_tree_walk_cfg_for_ias(struct ap_pt *pt, unsigned ias, struct ap_pt_walk_cfg *out)
{
	const struct ap_pt_level *L, *W;
	struct ap_pt_walk_cfg want;
	uint64_t *table = pt->root, *slot = NULL;
	int start, err;

	ap_pt_get_walk_cfg(pt, out);
	if (ias >= pt->cfg.ias)
		return 0;
	want = *out;
	want.ias = ias;
	start = pt->ops->start_level(&want);
	if (start < 0)
		return -EINVAL;
	out->ias = ias;
	if (start == pt->start_level)
		return 0;
	/* Entry 0 of any root (concatenated or not) holds one table, which can
	 * only serve a walker whose own root is a single table. */
	if (!enterable(pt, start, ias))
		return -EINVAL;
	W = level_numbered(pt, start);
	for (L = root_level(pt); L != W; L++) {
		uint64_t pte;

		slot = &table[0];
		pte = ap_pte_read(slot);
		if (!pte) {
			if (pt->npinned == AP_PT_MAX_PINNED)
				return -ENOMEM;
			err = add_chain(pt, slot, (unsigned)(W - L), &out->root);
			return err ? err : pin(pt, out->root);
		}
		if (!is_table(L, pte))
			return -EINVAL;
		table = child_of(pt, pte);
		if (!table)
			return -EFAULT;
	}
	out->root = table_pa(pt, ap_pte_read(slot));
	return pin(pt, out->root);
}

/* ------------------------------------------------------------ transactions */

/* Rollback of a table the transaction allocated: the table at pa holds
 * level-lvl entries; its descriptor is one level nearer the root. */
static void release_new_table(struct ap_pt *pt, uint64_t iova, int lvl, uint64_t pa)
{
	const struct ap_pt_level *parent = level_numbered(pt, lvl) - 1;
	uint64_t *table = table_at(pt, iova, parent);
	uint64_t *slot, pte;

	if (!table)
		return;
	slot = &table[lvl_index(parent, iova)];
	pte = ap_pte_read(slot);
	if (!is_table(parent, pte) || table_pa(pt, pte) != pa ||
	    subtree_has_leaves(pt, pte, parent))
		return;
	unhang_subtree(pt, slot, pte, parent);
}

/* A table a block displaced: back in its slot on rollback (the block is
 * gone by then), freed on commit or if its slot was taken meanwhile. */
static void settle_displaced(struct ap_pt *pt, const struct ap_pt_txn_entry *e, bool rollback)
{
	const struct ap_pt_level *L = level_numbered(pt, e->level);
	uint64_t *table = rollback ? table_at(pt, e->iova, L) : NULL;
	uint64_t *slot = table ? &table[lvl_index(L, e->iova)] : NULL;
	uint64_t seen = 0;

	if (!slot || !ap_pte_cmpxchg(slot, &seen, e->pte))
		free_subtree(pt, e->pte, L);
}

void ap_pt_tree_txn_end_entry(struct ap_pt *pt, const struct ap_pt_txn_entry *e, bool rollback)
{
	if (e->replaced)
		settle_displaced(pt, e, rollback);
	else if (rollback)
		release_new_table(pt, e->iova, e->level, e->pte);
}
