/* SPDX-License-Identifier: MIT */
/*
 * Inside the page-table layer: the ops table every format implements and the
 * state every table shares.  Nothing outside src/pgtable includes this.
 */
#ifndef AP_PT_INTERNAL_H
#define AP_PT_INTERNAL_H

#include <errno.h>

#include <aperture/pgtable.h>

#if defined(__SANITIZE_THREAD__)
#define AP_PT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define AP_PT_TSAN 1
#endif
#endif

#define AP_PT_MAX_LEVELS 5
#define AP_PT_MAX_PINNED 8

struct ap_pt;
struct ap_pt_txn_entry;

/*
 * How an entry reads at one level.  An entry is live when it has any bit of
 * its format's live mask; a live entry is a table when (pte & table.mask) ==
 * table.bits and a leaf when (pte & leaf.mask) == leaf.bits.  0 is empty in
 * every format, and a non-zero entry that is neither is invalid.
 */
struct ap_pt_entry_kind {
	uint64_t mask, bits;
};

#define AP_PT_KIND(mask_, bits_) { .mask = (mask_), .bits = (bits_) }
#define AP_PT_NEVER AP_PT_KIND(0, 1) /* no entry is of this kind here */
#define AP_PT_ANY_LIVE AP_PT_KIND(0, 0)

/* A format's entries at one level: their kinds, and the type bits a leaf
 * of the level carries (ARM: page or block; VT-d: PS above the leaf). */
struct ap_pt_level_fmt {
	struct ap_pt_entry_kind table, leaf;
	uint64_t leaf_type;
};

/*
 * What the shared tree algorithms (pt_tree.c) need to know of a format: one
 * algorithm, per-format descriptors, as in Linux's generic_pt.  What every
 * step of a walk reads is data (entry kinds, output addresses), so that a
 * walk costs no calls into the format; what a map does once per call
 * (leaf attributes) or seldom (new tables, decoding a leaf) is a callback.
 *
 * Levels are the format's own numbers: the root is at pt->start_level and
 * each step towards the leaf adds `step`.  The geometry follows from the
 * shape the format's init leaves in struct ap_pt (granule, bits per level,
 * root index bits): each level's entries map bits_per_level more bits than
 * the next one down's, and a leaf-level entry maps a granule.
 */
struct ap_pt_tree_fmt {
	int leaf_level; /* the last level: ARM 3, VT-d 1 */
	int step;       /* towards the leaf: +1 (ARM counts up), -1 (VT-d down) */
	uint64_t live;
	struct ap_pt_level_fmt levels[AP_PT_MAX_LEVELS + 1]; /* by level number */
	/*
	 * The output address in an entry (a table's, or a leaf's first byte):
	 * the address bits under oa_mask, where they are, and the bits
	 * oa_fold.shift higher folded down onto them too (ARM: PA[51:48] into
	 * bits 15:12, Linux's paddr_to_iopte), which only a granule of
	 * oa_fold.granule_shift reads back, from the bits in oa_fold.mask.
	 */
	uint64_t oa_mask;
	struct {
		unsigned shift;         /* 0: nothing folded */
		unsigned granule_shift; /* 0: no granule reads it back */
		uint64_t mask;
	} oa_fold;
	/* The entry pointing at the table at table_pa. */
	uint64_t (*table_pte)(const struct ap_pt *pt, uint64_t table_pa);
	/* A leaf's bits for prot (enum ap_prot), but for its level's type bits
	 * and its output address.  Of the table it reads cfg.format and
	 * cfg.quirks only, as leaf_access below: their results are decoded
	 * once per tree, format and quirks and shared (pt_tree.c). */
	uint64_t (*leaf_attrs)(const struct ap_pt *pt, unsigned prot);
	/* Decode the level-lvl leaf `pte`, which maps from va. */
	void (*decode_leaf)(const struct ap_pt *pt, uint64_t pte, int lvl, uint64_t va,
			    struct ap_pt_leaf *out);
	/* Bytes of the root table, and how many of its slots destroy scans. */
	size_t (*root_bytes)(const struct ap_pt *pt);
	unsigned (*root_slots)(const struct ap_pt *pt);
	/*
	 * The tree walk (ap_pt_walk_table) of an access to iova reached the leaf
	 * `pte` at level lvl through tables that each had every bit of
	 * table_rights: the rest of the format's hardware walk, from *res
	 * zeroed, exactly as its walker goes on from there.
	 */
	int (*walk_leaf)(const struct ap_pt *pt, const struct ap_pt_walk_cfg *cfg, uint64_t pte,
			 int lvl, uint64_t iova, unsigned access, struct ap_pt_walk_result *res);
	uint64_t table_rights;
	/* The descriptors at level lvl that the walk of the table's own
	 * configuration translates for a privileged access (no read, write or
	 * fetch: what ap_pt_iova_to_phys asks) when their output lies below
	 * 2^oas: a leaf the level may hold, and whatever else the walker
	 * wants of it (the access flag). */
	struct ap_pt_entry_kind (*usable_leaf)(const struct ap_pt *pt, int lvl);
	/*
	 * What a leaf's prot (enum ap_prot) and allowed access values (as
	 * walk_leaf reports them through tables with table_rights) depend on:
	 * two fields of the descriptor, at most 8 bits together, and the
	 * format's decoding of a descriptor with only those bits.  The tree
	 * decodes every value once (pt->leaf_access) and a walk looks it up.
	 */
	struct {
		uint8_t shift, bits;
	} leaf_key[2];
	void (*leaf_access)(const struct ap_pt *pt, uint64_t pte, unsigned *prot, uint16_t *allowed);
};

static inline bool ap_pt_entry_is(uint64_t live, const struct ap_pt_entry_kind *k, uint64_t pte)
{
	return (pte & live) && (pte & k->mask) == k->bits;
}

static inline bool ap_pt_is_table(const struct ap_pt_tree_fmt *f, uint64_t pte, int lvl)
{
	return ap_pt_entry_is(f->live, &f->levels[lvl].table, pte);
}

static inline bool ap_pt_is_leaf(const struct ap_pt_tree_fmt *f, uint64_t pte, int lvl)
{
	return ap_pt_entry_is(f->live, &f->levels[lvl].leaf, pte);
}

/* The output-address bits of an entry for address pa. */
static inline uint64_t ap_pt_oa_to_pte(const struct ap_pt_tree_fmt *f, uint64_t pa)
{
	uint64_t bits = pa & f->oa_mask;

	if (f->oa_fold.shift)
		bits |= (pa >> f->oa_fold.shift) & f->oa_mask;
	return bits;
}

/* The output address in an entry, with a granule of 2^granule_shift. */
static inline uint64_t ap_pt_pte_to_oa(const struct ap_pt_tree_fmt *f, unsigned granule_shift,
				       uint64_t pte)
{
	uint64_t pa = pte & f->oa_mask;

	if (granule_shift != f->oa_fold.granule_shift)
		return pa;
	return (pa & ~f->oa_fold.mask) | ((pa & f->oa_fold.mask) << f->oa_fold.shift);
}

struct ap_pt_ops {
	enum ap_pt_format format;
	const char *name;
	/* Check and restrict pt->cfg, fill the shape, then ap_pt_tree_init(). */
	int (*init)(struct ap_pt *pt);
	/* Free every table below and including the root. */
	void (*destroy)(struct ap_pt *pt);
	int (*map_pages)(struct ap_pt *pt, struct ap_pt_txn *txn, uint64_t iova, uint64_t pa,
			 uint64_t pgsize, uint64_t pgcount, unsigned prot, uint64_t *mapped);
	uint64_t (*unmap_pages)(struct ap_pt *pt, uint64_t iova, uint64_t pgsize,
				uint64_t pgcount, uint64_t *sizes);
	/* Take back leaves a map of a transaction wrote, no table. */
	uint64_t (*unmap_leaves)(struct ap_pt *pt, uint64_t iova, uint64_t pgsize,
				 uint64_t pgcount, uint64_t *sizes);
	int (*for_each_leaf)(const struct ap_pt *pt, uint64_t first, uint64_t last,
			     int (*fn)(void *arg, const struct ap_pt_leaf *leaf), void *arg);
	int (*walk_cfg_for_ias)(struct ap_pt *pt, unsigned ias, struct ap_pt_walk_cfg *out);
	int (*start_level)(const struct ap_pt_walk_cfg *cfg);
	int (*walk)(const struct ap_pt_walk_cfg *cfg, const struct ap_pt_mem *mem,
		    uint64_t iova, unsigned access, struct ap_pt_walk_result *res);
	int (*regs)(const struct ap_pt_walk_cfg *cfg, bool coherent, struct ap_pt_regs *out);
	/* Close one transaction entry (newest first): on rollback, free a table
	 * the transaction allocated if it holds nothing, and put back a table
	 * it replaced; on commit, free what it replaced. */
	void (*txn_end_entry)(struct ap_pt *pt, const struct ap_pt_txn_entry *e,
			      bool rollback);
};

/* What a map transaction changed in the table's structure. */
struct ap_pt_txn_entry {
	uint64_t iova;  /* an address the table spans */
	uint64_t pte;   /* allocated: the new table's PA; replaced: the
			   descriptor of the empty table a block replaced */
	int level;      /* allocated: level of its entries; replaced: level
			   of the slot it hung in */
	bool replaced;
};

/*
 * One level as the tree algorithms walk it, derived by ap_pt_tree_init()
 * from the shape and the format's descriptor: a walk down the tree finds
 * all it needs of a level in one place.
 */
struct ap_pt_level {
	int num;             /* the format's number for the level */
	unsigned depth;      /* its index in pt->lvl */
	unsigned shift;      /* log2 of what one entry maps: its index's place */
	uint64_t index_mask; /* of its index bits: the root's may be fewer or more */
	uint64_t page;       /* entries per table page (a concatenated root has
				several pages, a small one fewer entries) */
	uint64_t table_mask; /* of the bits above one table of the level */
	uint64_t live;       /* the format's live mask */
	struct ap_pt_level_fmt fmt;
	struct ap_pt_entry_kind usable; /* the format's usable_leaf */
	/* a table the tree walk enters: the table kind with the format's
	 * table_rights, as one compare (NEVER if it cannot be one) */
	struct ap_pt_entry_kind walk_table;
};

/*
 * What each writing thread keeps of a table, in a shard of its own: the
 * live leaves it counted per depth (index into pt->lvl), and the table its
 * last map or unmap at each depth went to (consecutive calls touch the same
 * last-level table: finding it again is a compare, not a walk from the
 * root).  Disjoint writers running in parallel must not share a cache
 * line, so the first AP_PT_COUNT_SHARDS threads of the process own a shard
 * each and use plain stores; later threads share the last one, count
 * atomically and keep no tables.  A count is the sum over the shards (a
 * thread's shard may go negative: it unmaps what another mapped).
 *
 * A kept table is good while pt->table_gen is the `gen` it was kept under:
 * every table that leaves the tree bumps table_gen first.  Only a writer
 * whose range covers a table takes it out (an unmap of it, a block over
 * it, or a rollback, which runs alone), so a disjoint writer never finds
 * its kept table gone under it.
 *
 * The fields sit in the middle 128 bytes of a 192-byte stride, so that two
 * shards never share a cache line whatever the alignment of the handle
 * (its allocator may give no more than 16 bytes).
 */
#define AP_PT_COUNT_SHARDS 16

struct ap_pt_table_hint {
	uint64_t base; /* the first IOVA the table maps, | 1; 0: none */
	uint64_t *table;
};

struct ap_pt_count_shard {
	char lead[32];
	int64_t leaves[AP_PT_MAX_LEVELS];
	uint64_t gen;
	struct ap_pt_table_hint hint[AP_PT_MAX_LEVELS];
	char tail[32];
};

/* A table: configuration, shape and bookkeeping common to all formats. */
struct ap_pt {
	const struct ap_pt_ops *ops;
	struct ap_pt_cfg cfg;     /* restricted */
	struct ap_pt_mem mem;
	const struct ap_pt_tree_fmt *tree; /* the format's, for pt_tree.c */
	unsigned granule_shift;   /* log2 of the translation granule */
	unsigned bits_per_level;  /* index bits of a non-root table */
	int start_level;          /* level of the root table */
	unsigned pgd_bits;        /* index bits of the root table */
	/* From the shape above (ap_pt_tree_init), root first: lvl[0] is the
	 * start level, lvl[levels - 1] the leaf level; and which of them maps
	 * pages of 2^shift bytes (-1: none). */
	unsigned levels;
	struct ap_pt_level lvl[AP_PT_MAX_LEVELS];
	signed char depth_of_shift[64];
	uint64_t root_pa;
	uint64_t *root;
	/* The provider's linear window (pgtable.h), if any: a table whose
	 * address lies less than win_span past win_pa is at win_host plus the
	 * difference (win_span is 0 without a window); win_counts holds the
	 * live leaves of each table there, at its first frame. */
	uint8_t *win_host;
	uint64_t win_pa, win_span;
	uint16_t *win_counts;
	uint64_t table_gen;       /* bumped when a table leaves the tree (atomic) */
	/* a leaf's descriptor bits for each prot value (enum ap_prot, 6 bits),
	 * but for its level's type bits and its address: the format's
	 * leaf_attrs, worked out once */
	uint64_t leaf_attrs[64];
	/* the format's leaf_access for every leaf_key value, worked out once;
	 * and the output-address bits of an entry when they need no unfolding
	 * (0: the tree walk leaves every walk to the format) */
	struct ap_pt_leaf_access {
		uint8_t prot;
		uint16_t allowed;
	} leaf_access[256];
	uint64_t walk_oa_mask;
	/* The output size a walker needs for the tree walk to take it: the
	 * root and the window below 2^walk_oas_min (255: never, no window
	 * or no plain output-address bits). */
	unsigned walk_oas_min;
	uint64_t table_bytes;     /* table memory held, root included (atomic) */
	struct ap_pt_count_shard counts[AP_PT_COUNT_SHARDS + 1];
	/* Roots handed to smaller walkers (ap_pt_walk_cfg_for_ias): tables a
	 * hardware unit points at, which must outlive every map and unmap. */
	uint64_t pinned[AP_PT_MAX_PINNED];
	unsigned npinned;
};

/* Remember in txn (NULL: no transaction) a table the format just allocated
 * or displaced; -ENOMEM if we cannot.  Then a new table is freed and the
 * map fails; a displaced one (empty) is freed at once and the map goes on,
 * since a rollback has nothing to put back for it.  ap_pt_txn_forget drops
 * the newest entry again. */
int ap_pt_txn_note(struct ap_pt_txn *txn, const struct ap_pt_txn_entry *e);
void ap_pt_txn_forget(struct ap_pt_txn *txn);

/*
 * The tree algorithms, shared by every format (pt_tree.c): the ops of the
 * same names, and what a format's init ends with once it has filled the
 * shape (granule_shift, bits_per_level, start_level, pgd_bits): taking its
 * descriptor, deriving the levels and allocating the root table.
 */
int ap_pt_tree_init(struct ap_pt *pt, const struct ap_pt_tree_fmt *tree);
void ap_pt_tree_destroy(struct ap_pt *pt);
int ap_pt_tree_map(struct ap_pt *pt, struct ap_pt_txn *txn, uint64_t iova, uint64_t pa,
		   uint64_t pgsize, uint64_t pgcount, unsigned prot, uint64_t *mapped);
/* Unmap by each format's Linux rule (pt_tree.c): io-pgtable-arm's, entries
 * of pgsize's level with tables there going whole; generic_pt's, the range
 * at every level, stopping at a hole. */
uint64_t ap_pt_tree_unmap_level(struct ap_pt *pt, uint64_t iova, uint64_t pgsize,
				uint64_t pgcount, uint64_t *sizes);
uint64_t ap_pt_tree_unmap_range(struct ap_pt *pt, uint64_t iova, uint64_t pgsize,
				uint64_t pgcount, uint64_t *sizes);
uint64_t ap_pt_tree_unmap_leaves(struct ap_pt *pt, uint64_t iova, uint64_t pgsize,
				 uint64_t pgcount, uint64_t *sizes);
int ap_pt_tree_for_each_leaf(const struct ap_pt *pt, uint64_t first, uint64_t last,
			     int (*fn)(void *arg, const struct ap_pt_leaf *leaf), void *arg);
int ap_pt_tree_walk_cfg_for_ias(struct ap_pt *pt, unsigned ias, struct ap_pt_walk_cfg *out);
/* ap_pt_iova_to_phys(): 1 translated (*pa set), 0 not, -EAGAIN: leave it
 * to the format's walker. */
int ap_pt_tree_iova_to_phys(const struct ap_pt *pt, uint64_t iova, uint64_t *pa);
void ap_pt_tree_txn_end_entry(struct ap_pt *pt, const struct ap_pt_txn_entry *e, bool rollback);

extern const struct ap_pt_ops ap_pt_arm_lpae_s1_ops;
extern const struct ap_pt_ops ap_pt_arm_lpae_s2_ops;
extern const struct ap_pt_ops ap_pt_intel_vtd_sl_ops;

/* Descriptors are read by walkers while they change: single-copy atomic. */
static inline uint64_t ap_pte_read(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* A walker's read: sequentially consistent, so that a writer that cleared
 * a descriptor and then issued a sequentially consistent fence knows any
 * walk ordered after that fence sees it cleared (the core's IOTLB skips
 * invalidating what no walk can still fill on that ground: iotlb.h).  On
 * x86-64 it is the same load as ap_pte_read(). */
static inline uint64_t ap_pte_walk_read(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static inline void ap_pte_write(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* `len` bytes at pa for a walker: in the provider's window by a sum, else
 * as its map answers. */
static inline const void *ap_pt_mem_at(const struct ap_pt_mem *mem, uint64_t pa, size_t len)
{
	uint64_t off = pa - mem->window_pa;

	if (mem->window_host && off < mem->window_size && len <= mem->window_size - off)
		return (const uint8_t *)mem->window_host + off;
	return mem->map(mem->cookie, pa, len);
}

/* Replace `old` by `v` unless another writer got there first; the entry
 * found is left in *old either way. */
static inline bool ap_pte_cmpxchg(uint64_t *p, uint64_t *old, uint64_t v)
{
	return __atomic_compare_exchange_n(p, old, v, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* Access values (0..15, ORs of enum ap_access) that have a given flag:
 * bit v of the mask is set when value v has it. */
#define AP_ACCESS_VALUES_ALL 0xffffu
#define AP_ACCESS_VALUES_READ 0xaaaau  /* v & AP_ACCESS_READ */
#define AP_ACCESS_VALUES_WRITE 0xccccu /* v & AP_ACCESS_WRITE */
#define AP_ACCESS_VALUES_EXEC 0xf0f0u  /* v & AP_ACCESS_EXEC */
#define AP_ACCESS_VALUES_PRIV 0xff00u  /* v & AP_ACCESS_PRIV */

static inline unsigned ap_log2(uint64_t v)
{
	return 63u - (unsigned)__builtin_clzll(v);
}

static inline unsigned ap_ctz(uint64_t v)
{
	return (unsigned)__builtin_ctzll(v);
}

/* This thread's shard (pt_tree.c): its index in pt->counts. */
extern __thread unsigned ap_pt_tls_shard __attribute__((tls_model("initial-exec")));
unsigned ap_pt_pick_shard(void);

static inline unsigned ap_pt_shard(void)
{
	unsigned s = ap_pt_tls_shard;

	return s ? s - 1 : ap_pt_pick_shard();
}

/* Add delta live leaves at depth d (an index into pt->lvl) in shard s. */
static inline void ap_pt_count_leaves_in(struct ap_pt *pt, unsigned s, unsigned d, int64_t delta)
{
	int64_t *c = &pt->counts[s].leaves[d];

	if (s < AP_PT_COUNT_SHARDS)
		__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + delta, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(c, delta, __ATOMIC_RELAXED);
}

static inline void ap_pt_count_leaves(struct ap_pt *pt, unsigned d, int64_t delta)
{
	ap_pt_count_leaves_in(pt, ap_pt_shard(), d, delta);
}

/* A walker's fault: what and at which level; ap_pt_walk()'s -EFAULT. */
static inline int ap_pt_walk_fault(struct ap_pt_walk_result *res, enum ap_fault_kind kind,
				   int lvl)
{
	res->fault = kind;
	res->level = lvl;
	return -EFAULT;
}


#endif /* AP_PT_INTERNAL_H */
