/* SPDX-License-Identifier: MIT */
/*
 * Inside the core: object layouts and helpers shared by the files of src/core.
 * Frontends use the public headers only.
 */
#ifndef AP_CORE_INTERNAL_H
#define AP_CORE_INTERNAL_H

#include <pthread.h>

#include <aperture/core.h>

#include "../util/avl.h"
#include "iotlb.h"

#define AP_NAME_MAX 64 /* including the NUL */
#define AP_POOL_CHUNK_SHIFT 21 /* host memory is taken 2 MiB at a time */
#define AP_FRAME_SHIFT 12

struct ap_ram {
	uint64_t pa, size;
	uint8_t *host;
	const void *owner_kind; /* the caller's, from ap_ram_add_owned() */
	void *owner;
	bool owned;  /* host memory is the context's (ap_ram_alloc) */
};

/* The physical window page tables live in: one host mapping of the whole
 * window (reserved, touched page by page), whose chunks are taken into use
 * and given back as tables need them, so that physical address pa lies at
 * host + (pa - base). */
struct ap_pool {
	uint64_t base, size;  /* size 0: not chosen yet */
	uint8_t *host;        /* the window's mapping */
	size_t host_bytes;
	uint64_t *used;       /* one bit per 4 KiB frame */
	uint16_t *counts;     /* one per frame, the table layer's (ap_pt_mem) */
	struct ap_pool_chunk {
		uint8_t *host;    /* NULL while the chunk holds no table */
		uint32_t frames;
		bool touched;     /* has held a table: its pages are backed */
	} *chunks;
	uint64_t hint;        /* lowest frame that may be free */
	uint64_t frames_used;
	uint64_t chunks_touched;
};

#define AP_TAGS 65536 /* 16-bit ASID, VMID and domain ID */

struct ap_iommu_model;

struct ap_iommu {
	struct ap_iommu *next;
	struct ap_ctx *ctx;
	char name[AP_NAME_MAX];
	struct ap_iommu_config cfg;
	const struct ap_iommu_model *model; /* what its kind does (kinds/) */
	void *kind_state;                   /* the model's own, or NULL */
	unsigned unmatched;                 /* enum ap_unmatched, now */
	uint64_t bypass_limit;              /* highest untranslated address */
	pthread_mutex_t evtq_lock; /* translations fault from any thread */
	struct ap_fault *evtq;
	unsigned evtq_head, evtq_count;
	bool evtq_overflow;
	uint64_t faults[AP_FAULT_KIND_COUNT];
	uint64_t tags_used[AP_TAGS / 64]; /* ASIDs/VMIDs/DIDs of attachments */
	struct ap_iotlb tlb;
};

struct ap_group {
	struct ap_group *next;
	int id;
	struct ap_iommu *iommu;
	struct ap_domain *domain;
	unsigned ndev;
};

/*
 * One instance a domain is attached through: how that instance walks the
 * tables, and the tag (ASID, VMID or domain ID) its IOTLB entries for the
 * domain carry.  A device's translation reads its attachment only, so a
 * device moves between domains by one pointer store.
 */
struct ap_attachment {
	/* What a hit reads, together: copies, so that it follows no pointer
	 * but to the IOTLB set.  geo_* is the domain's aperture (rewritten,
	 * atomically, when a join narrows it); sets/set_mask/shards are the
	 * instance's IOTLB (NULL sets: none). */
	uint16_t tag;               /* 0: no IOTLB entries (not paging) */
	uint32_t set_mask;
	uint64_t geo_start, geo_end;
	struct ap_iotlb_set *sets;
	struct ap_iotlb_shard *shards;
	/* Leaf sizes (bit s: 2^s bytes) walks through it have found, among
	 * `sizes`: the ones its lookups probe.  Only ever grows, and a bit is
	 * set before the first fill of its size (translate.c). */
	uint64_t filled;
	struct ap_iotlb_sizes sizes; /* leaf sizes its IOTLB entries may have */
	struct ap_attachment *next;
	struct ap_domain *dom;
	struct ap_iommu *iommu;
	unsigned ndev;
	struct ap_pt_walk_cfg walk;
};

struct ap_resv_node {
	struct ap_resv_node *next;
	struct ap_resv r;
};

struct ap_device {
	struct ap_device *next;
	struct ap_resv_node *resv; /* its own reserved regions, sorted */
	struct ap_ctx *ctx;
	char name[AP_NAME_MAX];
	struct ap_iommu *iommu;
	uint32_t sid, sid_mask;
	struct ap_group *group;
	/* the group's domain, through our instance; read by translations
	 * (atomically, inside a read-side section), written by attach */
	struct ap_attachment *att;
};

struct ap_domain {
	struct ap_domain *next;
	struct ap_ctx *ctx;
	char name[AP_NAME_MAX];
	enum ap_domain_type type;
	struct ap_iommu *owner;
	struct ap_geometry geo;
	uint64_t pgsizes;
	unsigned oas;
	struct ap_pt *pt;
	struct ap_attachment *attached;
	unsigned ndev;
	/* Map and unmap run in parallel; a failed map's rollback frees tables
	 * and so runs alone: it raises `exclusive` (under excl_lock), waits a
	 * grace period for writers already inside, and writers arriving
	 * meanwhile wait on excl_lock. */
	pthread_mutex_t excl_lock;
	unsigned exclusive;
};

struct ap_deferred {
	uint64_t pa;
	size_t size;
};

/* A hash index of objects by a key (index.c). */
struct ap_index_slot {
	uint64_t hash;
	void *obj; /* NULL: free */
};
struct ap_index {
	struct ap_index_slot *slot; /* cap slots, cap a power of two */
	size_t cap, n;
};

/* State a layer above the core keeps in the context (ap_ctx_set_frontend). */
struct ap_frontend {
	struct ap_frontend *next; /* newest first */
	char key[AP_NAME_MAX];
	void *state;
	void (*destroy)(void *state);
};

struct ap_ctx {
	/* What every DMA reads, together and first: nothing written often
	 * (allocation counts, locks) shares their cache line. */
	ap_dma_write_observer dma_write_fn;
	void *dma_write_arg;
	uint64_t ram_stamp;       /* new at every change of the RAM tree, and
				   * unique in the process (ap__ram_stamp_new()) */
	uint64_t serial;          /* names the context's error slots (ctx.c) */
	struct ap_frontend *frontends;
	bool freeing;             /* ap_ctx_free() is under way */
	/* allocation accounting and failure injection */
	unsigned long fail_nth;
	bool fail_fired;
	uint64_t live_allocs, live_bytes;
	/* physical memory (physmem.c says how threads share it) */
	pthread_mutex_t ram_lock;
	unsigned ram_seq;         /* odd while the RAM tree changes */
	struct ap_avl ram;        /* regions by pa (physmem.c: struct ap_ram_node) */
	struct ap_ram_node *ram_gone; /* unlinked, freed after a grace period */
	uint64_t ram_hint;        /* ap_ram_place: no room starts below this */
	pthread_mutex_t pool_lock;
	struct ap_pool pool;
	struct ap_deferred *deferred; /* freed table frames awaiting a grace period */
	size_t ndeferred, deferred_cap;
	bool pool_starved;        /* a map found the pool full of deferred frames */
	struct ap_pt_mem ptmem;
	/* objects, each list in creation order */
	struct ap_iommu *iommus;
	struct ap_device *devices, **devices_tail;
	struct ap_group *groups, **groups_tail;
	struct ap_domain *domains;
	/* device.c: lookups, O(1) expected, and the lowest group number that
	 * may be free (groups are never freed, so it only grows) */
	struct ap_index device_names, device_sids, group_ids;
	int group_hint;
};

/* ctx.c */
int ap__err(struct ap_ctx *ctx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void *ap__zalloc(struct ap_ctx *ctx, size_t size);
void *ap__alloc(struct ap_ctx *ctx, size_t size); /* not zeroed */
void *ap__zalloc_lines(struct ap_ctx *ctx, size_t size);
void ap__free(struct ap_ctx *ctx, void *p);
/* Zeroed RAM for ap_ram_alloc, backed only where touched. */
void *ap__alloc_ram(struct ap_ctx *ctx, uint64_t size);
void ap__free_ram(struct ap_ctx *ctx, void *p, uint64_t size);
/* Memory the context's own mappings provide (the table window), counted
 * and open to failure injection as allocations are. */
bool ap__charge(struct ap_ctx *ctx, size_t size);
void ap__uncharge(struct ap_ctx *ctx, size_t size);
int ap__check_name(struct ap_ctx *ctx, const char *what, const char *name);

/* physmem.c */
int ap__pool_ensure(struct ap_ctx *ctx);
void ap__pool_forget(struct ap_ctx *ctx);
void ap__physmem_free(struct ap_ctx *ctx);
/* The region holding pa, copied (for DMA, inside a read-side section, in
 * which its memory stays valid); false if none. */
bool ap__ram_find(struct ap_ctx *ctx, uint64_t pa, struct ap_ram *out);
void *ap__phys_map(struct ap_ctx *ctx, uint64_t pa, size_t len);
void ap__pool_init_mem(struct ap_ctx *ctx);
void ap__reclaim(struct ap_ctx *ctx);
bool ap__reclaim_pending(struct ap_ctx *ctx);
void ap__reclaim_since(struct ap_ctx *ctx, size_t from);
/* Table frames freed before a grace period gives them back in one go. */
#define AP_RECLAIM_BATCH 256

/* iommu.c */
void ap__fault_record(struct ap_iommu *iommu, const struct ap_fault *f);
void ap__iommus_free(struct ap_ctx *ctx);
int ap__tag_alloc(struct ap_iommu *iommu, uint16_t *tag);
void ap__tag_free(struct ap_iommu *iommu, uint16_t tag);

/* device.c */
void ap__devices_free(struct ap_ctx *ctx);
/* The device behind iommu with stream ID sid (mask 0), or NULL. */
struct ap_device *ap__device_by_sid(struct ap_ctx *ctx, const struct ap_iommu *iommu,
				   uint32_t sid);

/* index.c */
uint64_t ap__hash_bytes(const void *p, size_t len, uint64_t seed);
uint64_t ap__hash_mix(uint64_t x);
/* Room for one more object: *grown gets a bigger empty table if ix needs
 * one (else nothing); -ENOMEM.  Then commit moves ix into it (nothing to
 * do for an empty *grown), or the caller frees it with ap__index_free(). */
int ap__index_prepare(struct ap_ctx *ctx, const struct ap_index *ix, struct ap_index *grown);
void ap__index_commit(struct ap_ctx *ctx, struct ap_index *ix, struct ap_index *grown);
/* Add obj, whose hash is h; room must be reserved. */
void ap__index_insert(struct ap_index *ix, void *obj, uint64_t h);
/* The object with hash h for which match(obj, key) holds, or NULL. */
void *ap__index_find(const struct ap_index *ix, uint64_t h,
		     bool (*match)(const void *obj, const void *key), const void *key);
void ap__index_free(struct ap_ctx *ctx, struct ap_index *ix);

/* domain.c */
void ap__domains_free(struct ap_ctx *ctx);
struct ap_attachment *ap__attachment_of(const struct ap_domain *dom,
					const struct ap_iommu *iommu);

/*
 * The RAM region a DMA on this thread found last (physmem.c): good while
 * the context's RAM stamp is the one read before the search.  Stamps are
 * unique in the process, so one compare says both "this context" and "no
 * change since", and a DMA through one region after another costs no
 * search.
 */
struct ap_ram_hint {
	uint64_t stamp;
	uint64_t pa, size;
	uint8_t *host;
};

extern __thread struct ap_ram_hint ap__ram_hint __attribute__((tls_model("initial-exec")));
uint64_t ap__ram_stamp_new(void);
uint8_t *ap__ram_host_find(struct ap_ctx *ctx, uint64_t pa, uint64_t len);

/* The host bytes of [pa, pa + len) if this thread's hint holds them all,
 * else NULL (which says nothing about RAM there).  Inside a read-side
 * section: they stay valid until it ends. */
static AP_ALWAYS_INLINE uint8_t *ap__ram_hinted(const struct ap_ctx *ctx, uint64_t pa, uint64_t len)
{
	const struct ap_ram_hint *h = &ap__ram_hint;
	uint64_t in = pa - h->pa;

	if (h->stamp == __atomic_load_n(&ctx->ram_stamp, __ATOMIC_ACQUIRE) && in < h->size &&
	    h->size - in >= len)
		return h->host + in;
	return NULL;
}

/* The host bytes of [pa, pa + len) if one RAM region holds them all, else
 * NULL.  Inside a read-side section: they stay valid until it ends. */
static inline uint8_t *ap__ram_host(struct ap_ctx *ctx, uint64_t pa, uint64_t len)
{
	uint8_t *host = ap__ram_hinted(ctx, pa, len);

	return host ? host : ap__ram_host_find(ctx, pa, len);
}

/*
 * Enough waiting to be worth a grace period now (physmem.c): a batch of
 * table frames (a grace period costs microseconds; an unmap that frees a
 * table should not pay one each time).  Whatever waits goes back at the
 * latest when the pool runs short, a domain or RAM goes, or the context is
 * freed.  A hint read without locks.
 */
static inline bool ap__reclaim_due(struct ap_ctx *ctx)
{
	return __atomic_load_n(&ctx->ndeferred, __ATOMIC_RELAXED) >= AP_RECLAIM_BATCH;
}

#define AP_APPEND(head, obj)                              \
	do {                                              \
		__typeof__(obj) *pp_ = &(head);           \
		while (*pp_)                              \
			pp_ = &(*pp_)->next;              \
		*pp_ = (obj);                             \
	} while (0)

#endif /* AP_CORE_INTERNAL_H */
