/* SPDX-License-Identifier: MIT */
/*
 * aperture/pgtable.h - hardware page-table formats.
 *
 * This layer builds and walks real IOMMU page tables, bit for bit as Linux's
 * io-pgtable code builds them.  It knows nothing of devices, groups or VFIO:
 * it is given a configuration (format, input/output sizes, page sizes) and a
 * memory provider, and it maps, unmaps and walks.
 *
 * Tables live in *physical* memory: every table has a physical address, and
 * every table descriptor holds the physical address of the next level.  The
 * provider (struct ap_pt_mem) hands out zeroed, naturally aligned table memory
 * with its physical address, and turns a physical address back into a host
 * pointer.  The same provider lets ap_pt_walk() read tables that somebody
 * else wrote (a guest programming an emulated IOMMU).
 *
 * Sizes are in bytes, page sizes are powers of two, and a "pgsize bitmap" has
 * bit N set when 2^N is a supported page size (Linux's pgsize_bitmap).
 *
 * Threads.  Descriptors are read and written single-copy atomically, and a
 * table is hung in its slot by compare-and-swap, as Linux's io-pgtable does:
 * any number of threads may walk (ap_pt_walk, ap_pt_iova_to_phys,
 * ap_pt_for_each_leaf) while others map and unmap, and maps and unmaps of
 * disjoint ranges may run in parallel, even where they share tables.  This
 * needs two things of the caller:
 *   - the provider's alloc and free are thread-safe, and free defers the
 *     reuse of a table until every walk that may still read it has ended
 *     (the core does this with RCU);
 *   - writers of overlapping ranges are serialised (two threads unmapping
 *     the same range get unspecified results, though still no double free).
 * A walk that runs beside a change sees each descriptor either before or
 * after it.  ap_pt_leaf_count() and ap_pt_sizes_in_use() are exact once the
 * writers are done; while they run, they may be off by what is in flight.
 */
#ifndef APERTURE_PGTABLE_H
#define APERTURE_PGTABLE_H

#include <aperture/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Table formats.  Values are stable. */
enum ap_pt_format {
	AP_PT_ARM_LPAE_S1 = 1, /* VMSAv8-64 long descriptor, stage 1 */
	AP_PT_ARM_LPAE_S2 = 2, /* VMSAv8-64 long descriptor, stage 2 */
	AP_PT_INTEL_VTD_SL = 3, /* Intel VT-d second level (second stage) */
};

/* Human name of a format ("arm-lpae-s1", ...), or "?" for an unknown one. */
AP_API const char *ap_pt_format_name(enum ap_pt_format format);

/*
 * Where tables live.  alloc, free and map are required; zalloc/release are
 * optional (calloc/free when NULL) and serve the small host-side handle, so
 * that an owner counting or failing its allocations sees every one.  Fill
 * the struct with a designated initializer (or zero it first): every field
 * past those is optional, and zero means unused.
 *
 * alloc: return a host pointer to `size` zeroed bytes whose physical address
 *        (stored in *pa) is aligned to `size`; NULL when out of memory.
 * free:  give back what alloc returned (same pointer, address and size).
 * map:   host pointer for `len` bytes at physical address `pa`, or NULL if
 *        that range is not backed.  Used to follow table descriptors.
 *
 * The rest is optional (zero when unused) and lets the table layer go
 * faster over memory it owns:
 *
 * window_host, window_pa, window_size: a linear window.  Every table alloc
 *        hands out lies in [window_pa, window_pa + window_size), 4 KiB
 *        aligned, at host address window_host + (pa - window_pa), which
 *        stays valid as long as the table handle.  A descriptor pointing
 *        into the window is then followed by that sum, without calling map
 *        (so map is not asked whether a table there is still allocated);
 *        one pointing elsewhere still goes through map.
 * frame_counts: with a window, one uint16_t per 4 KiB frame of it, which
 *        the table layer owns for the frames of the tables it holds: it
 *        keeps there the number of live leaves of each last-level table, so
 *        that an unmap takes a whole table without reading it, as Linux
 *        does.  Tables that share the window may share one array.
 */
struct ap_pt_mem {
	void *cookie;
	void *(*alloc)(void *cookie, size_t size, uint64_t *pa);
	void (*free)(void *cookie, void *table, uint64_t pa, size_t size);
	void *(*map)(void *cookie, uint64_t pa, size_t len);
	void *(*zalloc)(void *cookie, size_t size);
	void (*release)(void *cookie, void *p);
	void *window_host;
	uint64_t window_pa, window_size;
	uint16_t *frame_counts;
};

/* Quirks, as Linux's IO_PGTABLE_QUIRK_* of the same names. */
enum ap_pt_quirk {
	AP_PT_QUIRK_ARM_NS = 1u << 0,    /* NS in leaves, NSTable in tables */
	AP_PT_QUIRK_VTD_SNOOP = 1u << 8, /* VT-d: SNP in every leaf (forced
					    snooping, Linux's set_pte_snp) */
};

/*
 * What a table is asked to be.  ap_pt_alloc() restricts pgsize_bitmap to one
 * translation granule exactly as Linux's arm_lpae_restrict_pgsizes() does
 * (prefer host_page_size, else the largest size below it, else the smallest
 * above) and clamps ias/oas to the format's limit; ap_pt_get_cfg() returns
 * the restricted copy.
 */
struct ap_pt_cfg {
	enum ap_pt_format format;
	unsigned ias;           /* input address bits */
	unsigned oas;           /* output address bits */
	uint64_t pgsize_bitmap; /* candidate page sizes */
	uint64_t host_page_size; /* granule preference; 0 means 4 KiB */
	bool coherent_walk;     /* false: table descriptors carry bit 55 */
	uint32_t quirks;        /* enum ap_pt_quirk */
};

struct ap_pt;

/*
 * Allocate an empty table.  Errors: -EINVAL for a configuration the format
 * cannot take (no usable granule, OAS not one the format encodes, IAS out of
 * range, unknown quirk), -EOPNOTSUPP for a format or granule this build does
 * not implement yet, -ENOMEM.  On error *out is untouched.
 */
AP_API int ap_pt_alloc(const struct ap_pt_cfg *cfg, const struct ap_pt_mem *mem,
		       struct ap_pt **out);

/* Free every table and the handle.  NULL is a no-op. */
AP_API void ap_pt_free(struct ap_pt *pt);

/* The restricted configuration the table was built with. */
AP_API void ap_pt_get_cfg(const struct ap_pt *pt, struct ap_pt_cfg *out);

/* Shape of a table: what a walker needs to start. */
struct ap_pt_walk_cfg {
	enum ap_pt_format format;
	unsigned granule_shift; /* 12, 14 or 16 */
	unsigned ias;           /* input size the walker is programmed with */
	unsigned oas;           /* output size the walker checks against */
	uint64_t root;          /* physical address of the start-level table */
};

/* The walker configuration of this table as allocated (root = its PGD). */
AP_API void ap_pt_get_walk_cfg(const struct ap_pt *pt, struct ap_pt_walk_cfg *out);

/* Start level and number of levels a walk with `cfg` uses; -1 if invalid. */
AP_API int ap_pt_start_level(const struct ap_pt_walk_cfg *cfg);

/*
 * Walker configuration for a unit whose input size `ias` is smaller than the
 * table's: the same tables, entered at a deeper level through index 0 of the
 * levels above (all IOVAs below 2^ias use index 0 there).  Missing tables on
 * that path are allocated, all or nothing.  ias >= the table's IAS returns
 * the table's own configuration with ias clamped.  Errors: -EINVAL when a
 * leaf sits on the path or the walker's own root would be a concatenated
 * (multi-table) one, -ENOMEM.
 */
AP_API int ap_pt_walk_cfg_for_ias(struct ap_pt *pt, unsigned ias,
				  struct ap_pt_walk_cfg *out);

/*
 * The registers a walker of this format is programmed with, for the walk
 * configuration `cfg` (a table's own, or one from ap_pt_walk_cfg_for_ias).
 * ARM LPAE stage 1: TTBR0, TCR fields (T0SZ, IRGN0, ORGN0, SH0, TG0, IPS,
 * packed at their TCR_EL1 positions) and MAIR, as Linux's io-pgtable-arm
 * fills arm_lpae_s1_cfg.  Stage 2: VTTBR and VTCR (T0SZ, SL0, IRGN0, ORGN0,
 * SH0, TG0, PS).  VT-d second level: SLPTPTR and the context entry's AW.
 * A coherent walker gets inner-shareable write-back attributes, a
 * non-coherent one outer-shareable non-cacheable ones.
 */
struct ap_pt_regs {
	enum ap_pt_format format;
	uint64_t ttbr;  /* TTBR0 / VTTBR / SLPTPTR: the root's address */
	uint64_t tcr;   /* TCR (stage 1) or VTCR (stage 2), packed; 0 for VT-d */
	uint64_t mair;  /* stage 1 only */
	unsigned tsz, sl0, tg, ps, sh, irgn, orgn; /* the TCR/VTCR fields */
	unsigned aw;    /* VT-d: 1 = 3-level, 2 = 4-level, 3 = 5-level */
};

/* -EINVAL for a cfg the format cannot walk. */
AP_API int ap_pt_get_regs(const struct ap_pt_walk_cfg *cfg, bool coherent_walk,
			  struct ap_pt_regs *out);

/*
 * Map pgcount pages of pgsize at iova -> pa (outside any transaction).  As
 * io-pgtable-arm's map_pages, it maps at most up to the end of the table
 * page that holds the first entry and adds what it mapped to *mapped (the
 * caller loops for the rest).  An empty table where a page goes is
 * replaced by it and freed, as in Linux.
 *
 * Differences from Linux, on purpose: a table at the target level that
 * still holds live leaves is -EEXIST (io-pgtable-arm silently frees it and
 * its leaves); a page whose output range crosses 2^OAS is -ERANGE (Linux
 * checks only the first address); a live leaf in the way is -EEXIST for
 * every format (Linux's generic page table, which VT-d uses, says
 * -EADDRINUSE); and every slot is checked before any is written, so an
 * error writes no leaf.  Errors: -EINVAL (pgsize not supported, prot
 * without read or write, pgcount 0), -ERANGE (iova beyond IAS or pa beyond
 * OAS), -EEXIST, -ENOMEM.
 */
AP_API int ap_pt_map_pages(struct ap_pt *pt, uint64_t iova, uint64_t pa,
			   uint64_t pgsize, uint64_t pgcount, unsigned prot,
			   uint64_t *mapped);

/*
 * The common map, cheaply: one leaf of pgsize at iova -> pa, written when
 * the table of pgsize's level on iova's path is the one this thread mapped
 * or unmapped in last (the table layer keeps it per thread) and iova's slot
 * in it is empty.  Then true, with the leaf as ap_pt_map_pages() would
 * write it; it allocates nothing, so it needs no transaction.  Anything
 * else (no such table kept, a slot taken, an argument ap_pt_map_pages()
 * would refuse) is false with nothing done: map through ap_pt_map_pages()
 * or a transaction, which decides it from the start.
 */
AP_API bool ap_pt_map_one_kept(struct ap_pt *pt, uint64_t iova, uint64_t pa,
			       uint64_t pgsize, unsigned prot);

/*
 * Map transactions.  Tables stay once allocated, as in Linux (which frees
 * them only with the whole table).  A caller that maps a range in several
 * calls and must undo a failure opens a transaction, in storage of its own,
 * and maps through it: every table those maps allocate is remembered, and
 * after the caller has unmapped what it mapped, ap_pt_txn_end(txn, true)
 * frees those of them that hold no leaf; ap_pt_txn_end(txn, false) keeps
 * them.  Either way the transaction is over and holds no memory.  Inside a
 * transaction a map may also fail with -ENOMEM for want of memory to
 * remember a table.  Each writer has its own transaction, so that writers
 * can map in parallel; but a rollback must not run while another thread
 * maps or unmaps in the same table (the core makes it exclusive).
 */
struct ap_pt_txn {
	/* private to the table layer */
	struct ap_pt *pt;
	void *entries;
	size_t len, cap;
};

AP_API void ap_pt_txn_begin(struct ap_pt *pt, struct ap_pt_txn *txn);
AP_API int ap_pt_txn_map_pages(struct ap_pt_txn *txn, uint64_t iova, uint64_t pa,
			       uint64_t pgsize, uint64_t pgcount, unsigned prot,
			       uint64_t *mapped);
AP_API void ap_pt_txn_end(struct ap_pt_txn *txn, bool rollback);

/*
 * Undo a map of the transaction before rolling it back: remove up to
 * pgcount leaves of pgsize from iova, to the end of the table page,
 * stopping before the first entry that is not such a leaf; no table goes
 * (ap_pt_txn_end does that).  Unlike an unmap by the format's rule, this
 * takes exactly the leaves the map wrote (called with the map's own page
 * size and count), so that a rolled-back table is as it was, tables
 * included.  Returns the bytes removed and ORs their size into *sizes.
 */
AP_API uint64_t ap_pt_txn_unmap(struct ap_pt_txn *txn, uint64_t iova, uint64_t pgsize,
				uint64_t pgcount, uint64_t *sizes);

/*
 * Unmap pgcount pages of pgsize at iova, by the format's Linux rule; returns
 * the bytes unmapped.  A leaf is never split.
 *
 * ARM LPAE, as io-pgtable-arm's unmap_pages: nothing if a hole or a leaf
 * larger than pgsize lies on the way to pgsize's level (unmap(X, 4K, 512)
 * over a 2M block at X returns 0); there, up to pgcount entries from iova's
 * to the end of the table page: a leaf goes, a table goes whole with every
 * leaf and table below it (holes included, as Linux frees it), and the
 * first empty entry stops the unmap.  Each entry taken counts pgsize.
 *
 * VT-d, as Linux's generic page table (vtdss) unmaps: the range
 * [iova, iova + pgsize * pgcount), not clipped to a table page, at every
 * level it spans; the first hole at any level stops it, and nothing is
 * unmapped if the range does not lie below 2^ias.  A leaf goes whole when
 * the range starts at its first byte or ends inside it, so the bytes
 * returned may exceed the range; a range that starts inside a leaf unmaps
 * nothing there.  A table the range covers is freed once it is empty; one
 * it only crosses stays.
 *
 * Either way a table that holds a walker's root (ap_pt_walk_cfg_for_ias)
 * is emptied but never freed.  Returns 0 for an unsupported pgsize, a
 * pgcount of 0 or an iova beyond IAS.
 */
AP_API uint64_t ap_pt_unmap_pages(struct ap_pt *pt, uint64_t iova,
				  uint64_t pgsize, uint64_t pgcount);

/* The same, and ORs into *sizes the size of every leaf it removed: what a
 * TLB must drop for the range (a 2M unmap of a table of 4K leaves removed
 * 4K leaves, not a 2M one).  Every removed leaf lies in [iova, iova + the
 * bytes returned). */
AP_API uint64_t ap_pt_unmap_pages_sizes(struct ap_pt *pt, uint64_t iova, uint64_t pgsize,
					uint64_t pgcount, uint64_t *sizes);

/*
 * Software walk of our own table.  Returns true and the physical address
 * when iova is mapped; false otherwise (PA 0 is a valid answer here, unlike
 * Linux's iova_to_phys).  Bits above IAS are an unmapped address.
 */
AP_API bool ap_pt_iova_to_phys(const struct ap_pt *pt, uint64_t iova, uint64_t *pa);

/* One live leaf, as reported by ap_pt_for_each_leaf() and ap_pt_walk(). */
struct ap_pt_leaf {
	uint64_t iova;  /* first address the leaf maps */
	uint64_t size;  /* bytes it maps: the block size of its level */
	uint64_t pa;    /* output address of its first byte */
	uint64_t pte;   /* the raw descriptor */
	int level;      /* architectural level (ARM: 0..3, 3 is last) */
	unsigned prot;  /* enum ap_prot decoded from the descriptor */
};

/*
 * Call fn for every live leaf intersecting [first, last], in IOVA order.
 * Stops when fn returns non-zero and returns that value; 0 otherwise.
 */
AP_API int ap_pt_for_each_leaf(const struct ap_pt *pt, uint64_t first, uint64_t last,
			       int (*fn)(void *arg, const struct ap_pt_leaf *leaf),
			       void *arg);

/*
 * The descriptors a walk of this table (from its own root) reads for iova,
 * root first, each with its architectural level: up to max of them,
 * ending with a leaf, an empty or invalid entry, or the last level.
 * Returns how many were stored (0 for an iova beyond IAS).  For dumps that
 * show every level of a mapping, as Linux's VT-d debugfs does.
 */
struct ap_pt_path_entry {
	int level;
	uint64_t pte;
};
AP_API unsigned ap_pt_path(const struct ap_pt *pt, uint64_t iova,
			   struct ap_pt_path_entry *out, unsigned max);

/* Bitmap of the leaf sizes present in the table right now. */
AP_API uint64_t ap_pt_sizes_in_use(const struct ap_pt *pt);

/* Number of live leaves, and bytes of table memory held. */
AP_API uint64_t ap_pt_leaf_count(const struct ap_pt *pt);
AP_API uint64_t ap_pt_table_bytes(const struct ap_pt *pt);

/* Outcome of a hardware-style walk. */
struct ap_pt_walk_result {
	enum ap_fault_kind fault; /* AP_FAULT_NONE when translated */
	int level;                /* level of the leaf, or where it faulted */
	uint64_t pa;              /* translated address (when no fault) */
	struct ap_pt_leaf leaf;   /* the leaf used (when one was reached) */
	/* When translated: bit v set for every access value v (an OR of enum
	 * ap_access, 0..15) the same walk would allow, so that a cache of the
	 * translation (an IOTLB) decides permissions exactly as the walker. */
	uint16_t allowed;
};

/*
 * Walk tables in memory, as the hardware would, for one access.  Reads
 * descriptors through mem->map at their physical addresses, so it walks any
 * table in that memory, ours or not.  Returns 0 with res->pa set, or
 * -EFAULT with res->fault: AP_FAULT_ADDRESS_SIZE (iova beyond cfg->ias, or a
 * table or output address beyond cfg->oas), AP_FAULT_TRANSLATION (invalid or
 * reserved descriptor, a block where the granule allows none),
 * AP_FAULT_EXTERNAL (table memory that mem->map cannot reach),
 * AP_FAULT_ACCESS_FLAG, AP_FAULT_PERMISSION.  -EINVAL for an unusable cfg.
 */
AP_API int ap_pt_walk(const struct ap_pt_walk_cfg *cfg, const struct ap_pt_mem *mem,
		      uint64_t iova, unsigned access, struct ap_pt_walk_result *res);

/*
 * ap_pt_walk(cfg, the memory of pt, ...) of pt's own tables, with the same
 * result, for a cfg that ap_pt_get_walk_cfg() or ap_pt_walk_cfg_for_ias()
 * gave for pt: the walk of a translation miss.  With pt's own cfg and a
 * provider window (struct ap_pt_mem) it reads the tables directly, through
 * the level descriptions pt already holds; anything unusual on the way (a
 * fault, a descriptor it did not write) is decided by ap_pt_walk().
 * Both read every descriptor with a sequentially consistent load: a writer
 * that clears descriptors and then issues a sequentially consistent fence
 * can rely on every walk ordered after that fence (by sequentially
 * consistent operations) seeing them cleared.
 */
AP_API int ap_pt_walk_table(const struct ap_pt *pt, const struct ap_pt_walk_cfg *cfg,
			    uint64_t iova, unsigned access, struct ap_pt_walk_result *res);

/*
 * Page-size choice of Linux's iommu_pgsize(): the largest size in `bitmap`
 * that both addresses are aligned to and that fits in `size`, and how many
 * of them to map before a larger size could take over.  Returns the page
 * size (0 if none fits) and stores the count.
 */
AP_API uint64_t ap_pt_pgsize(uint64_t bitmap, uint64_t iova, uint64_t pa,
			     uint64_t size, uint64_t *count);

#ifdef __cplusplus
}
#endif

#endif /* APERTURE_PGTABLE_H */
