/*
 * Inside the page-table layer: the ops table every format implements and the
 * state every table shares.  Nothing outside src/pgtable includes this.
 */
#ifndef AP_PT_INTERNAL_H
#define AP_PT_INTERNAL_H

#include <aperture/pgtable.h>

#define AP_PT_MAX_LEVELS 5

struct ap_pt;

struct ap_pt_ops {
	enum ap_pt_format format;
	const char *name;
	/* Check and restrict pt->cfg, fill the shape, allocate the root. */
	int (*init)(struct ap_pt *pt);
	/* Free every table below and including the root. */
	void (*destroy)(struct ap_pt *pt);
	int (*map_pages)(struct ap_pt *pt, uint64_t iova, uint64_t pa, uint64_t pgsize,
			 uint64_t pgcount, unsigned prot, uint64_t *mapped);
	uint64_t (*unmap_pages)(struct ap_pt *pt, uint64_t iova, uint64_t pgsize,
				uint64_t pgcount);
	int (*for_each_leaf)(const struct ap_pt *pt, uint64_t first, uint64_t last,
			     int (*fn)(void *arg, const struct ap_pt_leaf *leaf), void *arg);
	int (*walk_cfg_for_ias)(struct ap_pt *pt, unsigned ias, struct ap_pt_walk_cfg *out);
	int (*start_level)(const struct ap_pt_walk_cfg *cfg);
	int (*walk)(const struct ap_pt_walk_cfg *cfg, const struct ap_pt_mem *mem,
		    uint64_t iova, unsigned access, struct ap_pt_walk_result *res);
	int (*regs)(const struct ap_pt_walk_cfg *cfg, bool coherent, struct ap_pt_regs *out);
	/* Unlink and free the table at `pa` (level lvl, spanning iova) if it
	 * still hangs there and holds no leaf. */
	void (*txn_release)(struct ap_pt *pt, uint64_t iova, int lvl, uint64_t pa);
};

/* A table allocated inside a map transaction. */
struct ap_pt_txn_entry {
	uint64_t iova;
	uint64_t pa;
	int level;
};

/* A table: configuration, shape and bookkeeping common to all formats. */
struct ap_pt {
	const struct ap_pt_ops *ops;
	struct ap_pt_cfg cfg;     /* restricted */
	struct ap_pt_mem mem;
	unsigned granule_shift;   /* log2 of the translation granule */
	unsigned bits_per_level;  /* index bits of a non-root table */
	int start_level;          /* level of the root table */
	unsigned pgd_bits;        /* index bits of the root table */
	uint64_t root_pa;
	uint64_t *root;
	uint64_t table_bytes;     /* table memory held, root included */
	uint64_t leaves_by_shift[64]; /* live leaves, by log2 of their size */
	uint64_t leaves;
	/* Tables allocated since ap_pt_txn_begin(), oldest first. */
	bool txn_open;
	struct ap_pt_txn_entry *txn;
	size_t txn_len, txn_cap;
};

/* Remember a table the format just allocated; -ENOMEM if we cannot, and
 * then the caller frees the table and fails. */
int ap_pt_txn_note(struct ap_pt *pt, uint64_t iova, int level, uint64_t pa);

extern const struct ap_pt_ops ap_pt_arm_lpae_s1_ops;
extern const struct ap_pt_ops ap_pt_arm_lpae_s2_ops;
extern const struct ap_pt_ops ap_pt_intel_vtd_sl_ops;

/* Descriptors are read by walkers while they change: single-copy atomic. */
static inline uint64_t ap_pte_read(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void ap_pte_write(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline unsigned ap_log2(uint64_t v)
{
	return 63u - (unsigned)__builtin_clzll(v);
}

static inline unsigned ap_ctz(uint64_t v)
{
	return (unsigned)__builtin_ctzll(v);
}

static inline void ap_pt_count_leaves(struct ap_pt *pt, unsigned shift, int64_t delta)
{
	pt->leaves_by_shift[shift] += (uint64_t)delta;
	pt->leaves += (uint64_t)delta;
}

#endif /* AP_PT_INTERNAL_H */
