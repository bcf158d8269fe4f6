/* SPDX-License-Identifier: MIT */
/*
 * aperture/core.h - the machine model: context, RAM, IOMMU instances,
 * devices and groups, domains, map/unmap, translation, DMA and faults.
 *
 * Ownership.  Everything is owned by a context (struct ap_ctx) and freed with
 * it; handles returned by this API stay valid until ap_ctx_free() (or, for a
 * domain, ap_domain_free()).  No function keeps a pointer to caller memory
 * except ap_ram_add(), whose host memory must outlive the context.
 *
 * Errors.  Functions returning int return 0 or a negative errno, with
 * Linux's values where Linux defines one, and a failed call changes nothing
 * observable (mappings, geometry, attachments).  After any failure,
 * ap_ctx_error() holds a one-line explanation, for the thread that made the
 * call: each thread reads its own last explanation, never another thread's
 * (see ap_ctx_error()).
 *
 * Threads.  The data path is concurrent; the control path is not.
 *   - Any number of threads may call ap_translate(), ap_translate_batch(),
 *     ap_dma_read/write(), ap_device_iova_to_phys() and the fault-queue
 *     functions, while other threads call ap_map() and ap_unmap() on the
 *     same domains, and ap_ram_add/alloc/remove().  Translation takes no
 *     lock when the IOTLB hits; walks and DMA run inside RCU read-side
 *     sections (liburcu), and freed tables, RAM and attachments are given
 *     back only after every section that could see them has ended.
 *   - ap_map() and ap_unmap() of disjoint ranges run in parallel, even in
 *     one domain; writers of overlapping ranges must be serialised by the
 *     caller (as with Linux's iommu_map), or get unspecified (but memory-
 *     safe) results.
 *   - Unmap is strict: when ap_unmap() returns, every IOTLB entry for the
 *     range is gone, and no translation or DMA that starts afterwards can
 *     use it.  A DMA that started before may still complete.
 *   - ap_attach/replace/detach() may run while other devices translate, and
 *     while the moving device does (each translation sees the old domain or
 *     the new one); detach and replace return once no DMA can use the old
 *     domain.  Not while ap_map/ap_unmap run on the domains concerned.
 *   - Everything else (creating and freeing instances, devices, domains,
 *     setting the table window, attach against attach) is the control path:
 *     one thread at a time, and not while ap_map/ap_unmap run on the domain
 *     concerned.
 *   - Inside a DMA (from a DMA write observer) nothing may wait for DMA to
 *     end: ap_ram_remove, attach, replace and detach fail with -EDEADLK
 *     there, and so do ap_map/ap_unmap if a failed map is being rolled back
 *     in the same domain at that moment.
 *
 * No bypass.  A device's DMA reaches memory only through a translation its
 * domain holds.  The two exceptions are explicit per-instance choices, and
 * ap_device_bypasses() reports them: an instance configured to pass
 * unmatched streams (a device with no domain), and an instance whose
 * aperture is open (IOVA outside the domain's aperture).  An identity domain
 * is a deliberate 1:1 mapping, reported the same way.
 */
#ifndef APERTURE_CORE_H
#define APERTURE_CORE_H

#include <aperture/pgtable.h>
#include <aperture/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ap_ctx;
struct ap_iommu;
struct ap_device;
struct ap_group;
struct ap_domain;

/* ---------------------------------------------------------------- context */

/* New empty machine; NULL when out of memory. */
AP_API struct ap_ctx *ap_ctx_new(void);

/* Free the context and every object and table it owns.  NULL is a no-op.
 * One exception, for programs that make context after context: the host
 * memory behind the table window of a context whose tables used at most
 * 32 MiB is kept (one such mapping per process) for the next context that
 * wants a window of the same size, instead of being unmapped. */
AP_API void ap_ctx_free(struct ap_ctx *ctx);

/*
 * Explanation of the calling thread's last failure in this context ("" if
 * it has had none).  Explanations are kept per thread: threads that call
 * into one context at once (maps of disjoint ranges, DMA, VFIO ioctls) each
 * read their own, whole.  A thread keeps the explanations of the last 8
 * contexts it failed on; an older one reads "".  The string is valid until
 * this thread's next call into the library, or its exit.
 */
AP_API const char *ap_ctx_error(const struct ap_ctx *ctx);

/* Replace the calling thread's explanation (printf format); for layers
 * built on the core. */
AP_API void ap_ctx_set_error(struct ap_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Frontend state: a layer built on the core (the VFIO container, the
 * scenario language) hangs its own state off the context under a key (1..63
 * characters), so that the context stays the one owner of everything.  The
 * core never looks inside `state`; at ap_ctx_free() it calls each destroy
 * (if not NULL), newest first, before any core object is freed, so a
 * destructor may still use the context.  Errors: -EINVAL (bad key, NULL
 * state), -EEXIST (the key is taken), -ENOMEM; nothing is stored then.
 */
AP_API int ap_ctx_set_frontend(struct ap_ctx *ctx, const char *key, void *state,
			       void (*destroy)(void *state));
/* The state stored under `key`, or NULL. */
AP_API void *ap_ctx_frontend(const struct ap_ctx *ctx, const char *key);

/* ---------------------------------------------------------------- RAM */

/*
 * Register caller memory `host` as RAM at physical [pa, pa+size).  The memory
 * stays the caller's and must outlive the context.  Errors: -EINVAL (size 0,
 * NULL host, range wraps), -EADDRINUSE (overlaps RAM or the table pool),
 * -ENOMEM.
 */
AP_API int ap_ram_add(struct ap_ctx *ctx, uint64_t pa, uint64_t size, void *host);

/*
 * As ap_ram_add(), and the region carries `owner`, a pointer of the
 * caller's that ap_ram_lookup() gives back (a frontend's record of what the
 * memory is, so that it needs no index of its own by physical address),
 * with `owner_kind`, the address of something the frontend owns, to tell
 * its own regions from other layers'.
 */
AP_API int ap_ram_add_owned(struct ap_ctx *ctx, uint64_t pa, uint64_t size, void *host,
			    const void *owner_kind, void *owner);

/* As ap_ram_add(), with zeroed memory the context allocates and frees.
 * The memory is reserved, not committed: a page takes host memory only
 * when something first touches it, so a machine may have more RAM than the
 * host as long as it uses little of it (-ENOMEM if the address space
 * cannot be reserved). */
AP_API int ap_ram_alloc(struct ap_ctx *ctx, uint64_t pa, uint64_t size, void **host);

/* The index-th RAM region by address (0-based), in O(log n); -ENOENT past
 * the last. */
AP_API int ap_ram_region(const struct ap_ctx *ctx, size_t index, uint64_t *pa,
			 uint64_t *size);

/* The RAM region holding physical address pa, found in O(log n) and safe
 * beside other threads' RAM changes (and inside a DMA write observer);
 * -ENOENT if no region holds pa. */
struct ap_ram_info {
	uint64_t pa, size;
	void *host;
	const void *owner_kind; /* NULL unless added by ap_ram_add_owned() */
	void *owner;
};
AP_API int ap_ram_lookup(const struct ap_ctx *ctx, uint64_t pa, struct ap_ram_info *out);

/*
 * Room for RAM: the lowest physical address p with p % align == phase and
 * p + size - 1 <= limit whose range holds no RAM and no part of the table
 * window, as a machine's firmware would place a new bank.  Nothing is
 * registered.  align is a power of two and phase < align.  Errors:
 * -EINVAL (size 0, bad align or phase), -ENOSPC (no such room).
 */
AP_API int ap_ram_place(struct ap_ctx *ctx, uint64_t size, uint64_t align, uint64_t phase,
			uint64_t limit, uint64_t *pa);

/*
 * Unregister the RAM region that starts at `pa` (memory ap_ram_alloc() gave
 * is freed).  Mappings that point into it stay; DMA to it then faults as
 * external, so unmap first.  Returns once no DMA can be using the region
 * (it waits for DMA already inside it), so the memory is the caller's
 * again.  -ENOENT if no region starts at `pa`; -EDEADLK inside a DMA.
 */
AP_API int ap_ram_remove(struct ap_ctx *ctx, uint64_t pa);

/*
 * Remove the n regions starting at pa[0..n-1], which no mapping points to
 * any more (the caller unmapped them; VFIO's unmap): it waits once for DMA
 * already in flight, which may have translated through those mappings
 * before they went, so that it lands in the regions rather than fault as
 * external for finding them gone, then removes them all and returns; no
 * DMA can reach them then, and their memory is the caller's again.  One
 * wait, not one per region (nor two): the bookkeeping of the regions is
 * freed after a later grace period.  Removing k regions costs O(k log N),
 * N the regions registered.  All or nothing: -ENOENT if an address starts
 * no region, -EINVAL if one is named twice (or pa is NULL with n > 0), and
 * then no region is removed; -EDEADLK inside a DMA.
 */
AP_API int ap_ram_remove_many(struct ap_ctx *ctx, const uint64_t *pa, size_t n);

/*
 * Host pointer for physical [pa, pa+len) when the whole range lies in one RAM
 * region, NULL otherwise.  For callers checking what DMA did.
 */
AP_API void *ap_ram_ptr(struct ap_ctx *ctx, uint64_t pa, uint64_t len);

/*
 * Page tables live in a window of physical address space the context
 * reserves: by default the highest 256 MiB-aligned 256 MiB window below
 * 4 GiB that holds no RAM, chosen when the first paging domain is created
 * (below 4 GiB so that every instance, whatever its OAS, can reach them).
 * Set it explicitly before that point, once; -EBUSY when a window is
 * already set or chosen, -EINVAL for a
 * window that is unaligned (4 KiB), empty or too large (> 16 GiB),
 * -EADDRINUSE over RAM.
 */
AP_API int ap_ctx_set_table_window(struct ap_ctx *ctx, uint64_t base, uint64_t size);
AP_API void ap_ctx_get_table_window(const struct ap_ctx *ctx, uint64_t *base,
				    uint64_t *size);

/* ---------------------------------------------------------------- IOMMUs */

/*
 * Kinds of IOMMU hardware.  Everything that differs between kinds (limits
 * of their capabilities, the table format their domains get, how streams
 * are matched, what a tag is called, the windows they reserve, their
 * registers) lives with the kind; doc/kinds/ has one page per kind.
 */
enum ap_iommu_kind {
	AP_IOMMU_ARM_SMMU_V3 = 1, /* "arm-smmu-v3": ARM LPAE tables, stage 1 or 2 */
	AP_IOMMU_INTEL_VTD = 2,   /* "intel-vtd": VT-d second-level tables */
	AP_IOMMU_ARM_SMMU = 3,    /* "arm-smmu": SMMUv1/v2 (MMU-400, -401, -500),
				     ARM LPAE tables in context banks */
	AP_IOMMU_VIRTIO_IOMMU = 4, /* "virtio-iommu": the paravirtual IOMMU of
				      virtio 1.2 §5.13 (aperture/virtio_iommu.h) */
};

/* What a stream that matches no configuration (a device with no domain)
 * does.  Abort is the default; bypass is a deliberate hole. */
enum ap_unmatched {
	AP_UNMATCHED_ABORT = 0,
	AP_UNMATCHED_BYPASS = 1,
};

/* arm-smmu-v3: the translation stage its domains use. */
struct ap_smmuv3_config {
	unsigned stage; /* 1 (default) or 2 */
};

/* arm-smmu: which implementation of the SMMUv1/v2 architecture.  The model
 * sets what its ID registers can say (granules, sizes, stages). */
enum ap_arm_smmu_model {
	AP_ARM_SMMU_V1 = 1, /* "smmu-v1": the SMMUv1 architecture */
	AP_ARM_SMMU_V2 = 2, /* "smmu-v2": the SMMUv2 architecture */
	AP_ARM_MMU_400 = 3, /* "mmu-400": CoreLink MMU-400 (SMMUv1) */
	AP_ARM_MMU_401 = 4, /* "mmu-401": CoreLink MMU-401 (SMMUv1) */
	AP_ARM_MMU_500 = 5, /* "mmu-500": CoreLink MMU-500 (SMMUv2) */
};

/*
 * arm-smmu: what ID0 and ID1 say.  Domains are translated by context banks,
 * one per domain and instance, allocated when the domain is attached through
 * the instance and freed when its last device there detaches; when none is
 * left, attach fails with -ENOSPC.  Streams are matched by stream match
 * registers (SMR: an ID and a mask of ignored bits), or, with smrs = 0, by
 * indexing (the stream ID selects the entry).
 */
struct ap_arm_smmu_config {
	enum ap_arm_smmu_model model;
	unsigned stage;            /* 1 or 2: the stage its domains use */
	unsigned context_banks;    /* ID1.NUMCB, 1..128 */
	unsigned s2_context_banks; /* ID1.NUMS2CB: banks 0..n-1 do stage 2
				      only, so stage-1 domains take the rest */
	unsigned smrs;             /* ID0.NUMSMRG 1..128; 0: stream indexing */
	unsigned streamid_bits;    /* ID0.NUMSIDB, 1..16: stream IDs and SMR
				      masks are this wide */
};

/* intel-vtd: the translation stage its domains use, and the second-level
 * table depths it walks. */
struct ap_vtd_config {
	unsigned stage; /* 2: second-level tables (the only stage modelled;
			   1, first-level tables, is -EOPNOTSUPP) */
	unsigned sagaw; /* CAP.SAGAW: bit n = AGAW n (1: 39-bit 3-level,
			   2: 48-bit 4-level, 3: 57-bit 5-level); 0 = just
			   the depth ias needs */
};

/*
 * virtio-iommu: what its configuration space says besides page_size_mask
 * (pgsizes) and input_range ([0, 2^ias - 1]), and the MSI doorbell every
 * endpoint reports.  Its domains keep the guest's mappings in ARM LPAE
 * stage-2 tables (read and write apart, as MAP's flags), which only
 * aperture walks.  Unattached endpoints are
 * blocked until a driver accepts bypass (then the device calls
 * ap_iommu_set_unmatched()); `unmatched` itself must stay abort.
 */
struct ap_virtio_iommu_config {
	uint32_t domain_start;  /* domain_range: default 0 .. */
	uint32_t domain_end;    /* .. 0xffffffff */
	unsigned bypass;        /* config `bypass` after a system reset: 0
				   (default) or 1 */
	uint64_t msi_start;     /* doorbell reported as RESV_MEM T_MSI:
				   default 0xfee00000, */
	uint64_t msi_size;      /* 1 MiB (x86's); 0: none (a guest maps its
				   doorbells itself, as on Arm) */
};

/*
 * Capabilities of an instance, as hardware exposes them.  The fields before
 * the union mean the same for every kind; each kind's own capabilities sit
 * in its member of the union, which ap_iommu_config_init() fills.
 *
 * arm-smmu-v3: ias 32..52 (above 48 only a 64K granule reaches), oas one of
 * 32,36,40,42,44,48,52 (IDR5.OAS), pgsizes from IDR5's granules (4K,2M,1G /
 * 16K,32M / 64K,512M).
 * arm-smmu: ias and oas from ID2's size encodings (32,36,40,42,44,48),
 * pgsizes from the granules its model has.
 * intel-vtd: ias is the usable input width (MGAW) 32..57, oas the host
 * address width 32..52, pgsizes 4K plus the superpages SLLPS offers (2M,
 * 1G); always second-level (stage 2) tables.
 * virtio-iommu: ias 32..52 (input_range), oas one of 32,36,40,42,44,48,52,
 * pgsizes (page_size_mask) from the ARM LPAE granules' sizes.
 */
struct ap_iommu_config {
	enum ap_iommu_kind kind;
	unsigned ias;            /* input address bits */
	unsigned oas;            /* output address bits */
	uint64_t pgsize_bitmap;  /* supported page sizes, all granules */
	enum ap_unmatched unmatched;
	bool force_aperture;     /* false: DMA beyond the input range bypasses */
	bool coherent_walk;      /* table walks snoop CPU caches (COHACC / C) */
	unsigned evtq_size;      /* event queue entries, 1..65536 */
	uint64_t host_page_size; /* granule preference for its domains */
	unsigned iotlb_entries;  /* IOTLB size: 0 (none: every translation
				    walks the tables) or a power of two,
				    2..1048576 */
	union {                  /* the member of `kind` */
		struct ap_smmuv3_config smmuv3;
		struct ap_arm_smmu_config arm_smmu;
		struct ap_vtd_config vtd;
		struct ap_virtio_iommu_config virtio;
		uint64_t reserved_[8]; /* room for kinds to come */
	};
};

#define AP_IOTLB_DEFAULT_ENTRIES 4096

/* Defaults for a kind: 48-bit in and out, 4K|2M|1G, abort, forced aperture,
 * coherent walks, 128-entry event queue, 4 KiB host pages, a 4096-entry
 * IOTLB, and the kind's own (arm-smmu-v3: stage 1; arm-smmu: doc/kinds/
 * arm-smmu.md; intel-vtd: sagaw 0).  An unknown kind gets the generic
 * defaults and kind 0, which ap_iommu_new() refuses. */
AP_API void ap_iommu_config_init(struct ap_iommu_config *cfg, enum ap_iommu_kind kind);

/*
 * Set one capability from text, as the scenario language's `iommu` options
 * do: the generic keys (ias oas pgsizes unmatched aperture evtq coherent
 * hostpage iotlb) and the kind's own (arm-smmu-v3: stage; intel-vtd: sagaw;
 * arm-smmu: model stage context-banks s2-context-banks smrs streamid-bits;
 * virtio-iommu: domain-start domain-end bypass msi).
 * Values are numbers as ap_parse_size() reads them, or words the key lists.
 * Returns 0; -ENOENT for a key this kind does not have; -EINVAL for a
 * value the key cannot take (cfg unchanged).  *expected, if not NULL, gets
 * a static "key=FORM" description for the message.  Ranges are checked by
 * ap_iommu_new(), not here.
 */
AP_API int ap_iommu_config_set(struct ap_iommu_config *cfg, const char *key, const char *value,
			       const char **expected);

/* The options cfg sets differently from its kind's defaults, as
 * space-separated "key=value" words that ap_iommu_config_set() reads back
 * (a scenario's `iommu` line).  snprintf's convention: the length the text
 * needs, NUL-terminated within len. */
AP_API size_t ap_iommu_config_format(const struct ap_iommu_config *cfg, char *buf, size_t len);

/* Every option of a kind, "ias=N oas=N ... stage=1|2", for messages; "" for
 * an unknown kind.  Static storage. */
AP_API const char *ap_iommu_config_usage(enum ap_iommu_kind kind);

/* Kind names: "arm-smmu-v3", "intel-vtd", "arm-smmu" -> kind; 0 if unknown.
 * And back ("?" if unknown).  ap_iommu_kind_next() walks the kinds this
 * build has: 0 starts, 0 ends. */
AP_API enum ap_iommu_kind ap_iommu_kind_from_name(const char *name);
AP_API const char *ap_iommu_kind_name(enum ap_iommu_kind kind);
AP_API enum ap_iommu_kind ap_iommu_kind_next(enum ap_iommu_kind prev);

/*
 * Add an instance named `name` (1..63 characters, unique among instances).
 * Errors: -EINVAL (bad name or capability), -EEXIST (name taken),
 * -EOPNOTSUPP (a capability this build does not model yet), -ENOMEM.
 */
AP_API int ap_iommu_new(struct ap_ctx *ctx, const char *name,
			const struct ap_iommu_config *cfg, struct ap_iommu **out);
AP_API struct ap_iommu *ap_iommu_find(struct ap_ctx *ctx, const char *name);
AP_API const char *ap_iommu_name(const struct ap_iommu *iommu);
AP_API const struct ap_iommu_config *ap_iommu_get_config(const struct ap_iommu *iommu);

/* Iterate: first with prev == NULL, NULL after the last, creation order. */
AP_API struct ap_iommu *ap_iommu_next(struct ap_ctx *ctx, struct ap_iommu *prev);

/* The table format paging domains allocated for this instance get. */
AP_API enum ap_pt_format ap_iommu_domain_format(const struct ap_iommu *iommu);

/* What the resource a domain takes on the instance is called: "ASID",
 * "VMID", "domain ID", or on arm-smmu "context bank" (ap_domain_tag()
 * reports the ASID or VMID derived from it). */
AP_API const char *ap_iommu_tag_name(const struct ap_iommu *iommu);

/*
 * What unmatched streams (devices with no domain) do now, and a change of
 * it, as a driver reprograms the hardware (arm-smmu: sCR0.USFCFG; a
 * virtio-iommu: its bypass config).  The change applies to translations
 * that start afterwards.  -EINVAL for a value outside enum ap_unmatched.
 */
AP_API enum ap_unmatched ap_iommu_unmatched(const struct ap_iommu *iommu);
AP_API int ap_iommu_set_unmatched(struct ap_iommu *iommu, enum ap_unmatched unmatched);

/* Properties Linux's iommu_capable() asks about. */
enum ap_iommu_cap {
	AP_CAP_CACHE_COHERENCY = 1, /* device DMA can be made cache coherent
				       (IOMMU_CAP_CACHE_COHERENCY) */
	AP_CAP_NOEXEC = 2,          /* honours AP_PROT_NOEXEC (IOMMU_CAP_NOEXEC) */
};
AP_API bool ap_iommu_capable(const struct ap_iommu *iommu, enum ap_iommu_cap cap);

/*
 * What a kind shows about an instance beyond the generic capabilities, as
 * lines of "key value" (intel-vtd: the table depths SAGAW walks; arm-smmu:
 * its model, context banks and stream match registers in use).  Fills up
 * to max and returns how many there are.
 */
struct ap_iommu_fact {
	char key[24];
	char value[104];
};
AP_API size_t ap_iommu_facts(const struct ap_iommu *iommu, struct ap_iommu_fact *out,
			     size_t max);

/* ---------------------------------------------------------------- faults */

/* One refused transaction. */
struct ap_fault {
	enum ap_fault_kind kind;
	uint32_t sid;                 /* stream of the requester */
	uint64_t iova;                /* address the device used */
	unsigned access;              /* enum ap_access */
	const struct ap_iommu *iommu; /* instance that refused it */
	uint64_t pa;                  /* external faults: the address */
	int level;                    /* walk faults: table level, else -1 */
};

/*
 * Each instance keeps a bounded queue of fault records, oldest first.  When
 * the queue is full a new record is dropped and the overflow flag is set
 * (as SMMUv3's event queue does); popping does not clear the flag.
 */
AP_API bool ap_iommu_fault_pop(struct ap_iommu *iommu, struct ap_fault *out);
AP_API unsigned ap_iommu_fault_pending(const struct ap_iommu *iommu);
/* The index-th record in the queue (0: the oldest), left in place, for
 * views; -ENOENT past the last. */
AP_API int ap_iommu_fault_peek(const struct ap_iommu *iommu, unsigned index,
			       struct ap_fault *out);
AP_API bool ap_iommu_fault_overflow(const struct ap_iommu *iommu);
AP_API void ap_iommu_fault_clear_overflow(struct ap_iommu *iommu);
/* Faults of one kind (AP_FAULT_NONE: all kinds) since creation. */
AP_API uint64_t ap_iommu_fault_count(const struct ap_iommu *iommu, enum ap_fault_kind kind);

/* ---------------------------------------------------------------- IOTLB */

/*
 * Every instance with iotlb_entries > 0 caches leaf translations at their
 * real size (4K, 2M, 1G, ...) with the permissions they grant, tagged by
 * the domain's ASID (SMMU stage 1), VMID (stage 2) or domain ID (VT-d) on
 * that instance.  A translation is looked up there first and walks the
 * tables on a miss; faults are never cached.  Unmap drops the entries of
 * its range before it returns (strict mode); detach and domain free drop
 * the tag's entries.  The counters below are since creation, summed over
 * threads (a thread's count can be lost, never invented, when more than 64
 * threads translate at once).
 */
struct ap_iotlb_stats {
	unsigned entries;       /* capacity (0: no IOTLB) */
	uint64_t hits;          /* translations served from the IOTLB */
	uint64_t misses;        /* lookups that found nothing usable */
	uint64_t walks;         /* table walks (misses, and every translation
				   without an IOTLB) */
	uint64_t fills;         /* entries written after a walk */
	uint64_t invalidations; /* invalidation commands: range, tag, all
				   (an unmap sends none to an instance that
				   never cached a leaf of the sizes it removed
				   for the domain) */
	uint64_t dropped;       /* entries those commands removed */
};

AP_API void ap_iommu_iotlb_stats(const struct ap_iommu *iommu, struct ap_iotlb_stats *out);

/* Drop every entry (an invalidate-all command). */
AP_API void ap_iommu_iotlb_flush(struct ap_iommu *iommu);

/* The number the hardware knows a paging domain by on an instance it is
 * attached through: its ASID (SMMU stage 1), VMID (stage 2) or domain ID
 * (VT-d); on arm-smmu, where the tag is a context bank n, the ASID n or the
 * VMID n + 1 that Linux derives from it.  -ENOENT if it is not attached
 * there. */
AP_API int ap_domain_tag(const struct ap_domain *dom, const struct ap_iommu *iommu);

/* ---------------------------------------------------------------- devices */

#define AP_GROUP_OWN (-1) /* a group of its own */

/* A requester as its IOMMU sees it. */
struct ap_device_config {
	uint32_t sid;      /* stream ID (SMMU) or requester ID (VT-d) */
	uint32_t sid_mask; /* stream ID bits matching ignores: an arm-smmu
			      SMR mask; 0 (exact) for every other kind */
	int group;         /* a group number >= 0, or AP_GROUP_OWN */
};

/*
 * Add a requester behind `iommu`, in group dc->group, or in a new group of
 * its own (AP_GROUP_OWN: the lowest unused group number).  A group's
 * devices sit behind one instance.  The kind matches the stream: on
 * arm-smmu a device whose ID and mask an existing stream match register
 * covers shares that register, and so its group (AP_GROUP_OWN joins it; a
 * different group number is -EINVAL), as Linux's arm-smmu driver groups
 * such devices.  Errors, with nothing added: -EINVAL (bad name, group
 * behind another instance, a stream ID or mask the instance cannot match,
 * a stream match that partly overlaps another), -EBUSY (the group is
 * attached to a domain), -EEXIST (name taken, or the stream is already a
 * device's on a kind that matches exactly), -ENOSPC (no stream match
 * register left), -ENOMEM.
 */
AP_API int ap_device_add(struct ap_ctx *ctx, const char *name, struct ap_iommu *iommu,
			 const struct ap_device_config *dc, struct ap_device **out);

/* ap_device_add() with an exact stream `sid` in `group`. */
AP_API int ap_device_new(struct ap_ctx *ctx, const char *name, struct ap_iommu *iommu,
			 uint32_t sid, int group, struct ap_device **out);
AP_API struct ap_device *ap_device_find(struct ap_ctx *ctx, const char *name);
AP_API struct ap_device *ap_device_next(struct ap_ctx *ctx, struct ap_device *prev);
AP_API const char *ap_device_name(const struct ap_device *dev);
AP_API uint32_t ap_device_sid(const struct ap_device *dev);
AP_API uint32_t ap_device_sid_mask(const struct ap_device *dev);
AP_API struct ap_iommu *ap_device_iommu(const struct ap_device *dev);
AP_API int ap_device_group_id(const struct ap_device *dev);
/* The domain the device's group is attached to, or NULL. */
AP_API struct ap_domain *ap_device_domain(const struct ap_device *dev);

/*
 * Reserved regions (Linux's iommu_resv_region types): address ranges a
 * device's IOVA space must keep for firmware or interrupts.
 */
enum ap_resv_type {
	AP_RESV_DIRECT = 0,           /* must stay 1:1 (RMRR, IORT RMR) */
	AP_RESV_DIRECT_RELAXABLE = 1, /* 1:1, may be dropped for assignment */
	AP_RESV_RESERVED = 2,         /* never map */
	AP_RESV_MSI = 3,              /* hardware MSI window, untranslated */
	AP_RESV_SW_MSI = 4,           /* software-managed MSI window */
};

struct ap_resv {
	uint64_t start;
	uint64_t end; /* inclusive */
	enum ap_resv_type type;
};

/* "direct", "direct-relaxable", "reserved", "msi", "sw-msi"; "?" if unknown;
 * and back (-1 for an unknown name). */
AP_API const char *ap_resv_type_name(enum ap_resv_type type);
AP_API int ap_resv_type_from_name(const char *name);

/*
 * Give `dev` a reserved region [start, start+size).  Errors: -EINVAL (size
 * 0, a range that wraps, an unknown type), -ENOMEM.
 */
AP_API int ap_device_add_resv(struct ap_device *dev, uint64_t start, uint64_t size,
			      enum ap_resv_type type);

/*
 * The index-th (0-based) reserved region of `dev`: its own, plus what its
 * instance reserves for every device as Linux's drivers do (arm-smmu-v3 and
 * arm-smmu: a SW_MSI window 0x8000000, 1 MiB; intel-vtd: the MSI window
 * 0xfee00000-0xfeefffff), sorted by start, then type.  -ENOENT past the last.
 */
AP_API int ap_device_resv(const struct ap_device *dev, size_t index, struct ap_resv *out);

/* Why a device's DMA may reach memory untranslated. */
enum ap_bypass {
	AP_BYPASS_NONE = 0,
	AP_BYPASS_UNMATCHED,    /* no domain, instance passes unmatched streams */
	AP_BYPASS_IDENTITY,     /* attached to an identity domain */
	AP_BYPASS_OPEN_APERTURE /* paging domain, but outside the aperture
				   the instance passes DMA through */
};
AP_API enum ap_bypass ap_device_bypasses(const struct ap_device *dev);
/* One line saying what that bypass lets DMA do ("" for none). */
AP_API const char *ap_bypass_reason(enum ap_bypass bypass);

/* ---------------------------------------------------------------- domains */

enum ap_domain_type {
	AP_DOMAIN_BLOCKED = 0,  /* every DMA faults */
	AP_DOMAIN_IDENTITY = 1, /* IOVA == PA */
	AP_DOMAIN_PAGING = 2,   /* translated through page tables */
};

/* "blocked", "identity", "paging"; "?" if unknown. */
AP_API const char *ap_domain_type_name(enum ap_domain_type type);

/* Inclusive aperture; force: DMA outside it faults rather than bypasses. */
struct ap_geometry {
	uint64_t start;
	uint64_t end;
	bool force;
};

/*
 * Allocate a domain for `iommu` (its geometry, page sizes and table format
 * come from that instance).  Errors: -EINVAL (bad name or type), -EEXIST
 * (name taken), -ENOSPC (a paging domain, and no RAM-free window below
 * 4 GiB is left for page tables: set one with ap_ctx_set_table_window()),
 * -ENOMEM.
 */
AP_API int ap_domain_new(struct ap_ctx *ctx, const char *name, struct ap_iommu *iommu,
			 enum ap_domain_type type, struct ap_domain **out);
/* Free a domain with no device attached; -EBUSY otherwise. */
AP_API int ap_domain_free(struct ap_domain *dom);
AP_API struct ap_domain *ap_domain_find(struct ap_ctx *ctx, const char *name);
AP_API struct ap_domain *ap_domain_next(struct ap_ctx *ctx, struct ap_domain *prev);
AP_API const char *ap_domain_name(const struct ap_domain *dom);
AP_API enum ap_domain_type ap_domain_type(const struct ap_domain *dom);
AP_API struct ap_iommu *ap_domain_owner(const struct ap_domain *dom);

/*
 * The geometry and page sizes that hold for every device attached now.  The
 * aperture and page sizes start as the owner's and only ever narrow:
 * attaching a less capable instance intersects them; detaching never widens
 * them.  geometry.force says whether DMA outside the aperture faults for
 * every device: false while an instance with an open aperture is attached
 * (or owns the domain), true again once the last such instance has left.
 */
AP_API void ap_domain_geometry(const struct ap_domain *dom, struct ap_geometry *out);
AP_API uint64_t ap_domain_pgsizes(const struct ap_domain *dom);
/* The output size mappings are checked against: the smallest of the
 * owner's and of every instance attached since the domain was made (like
 * the aperture, it never widens again after a detach). */
AP_API unsigned ap_domain_oas(const struct ap_domain *dom);
/*
 * The registers `iommu` is programmed with to walk this paging domain
 * (TTBR/TCR/MAIR, VTTBR/VTCR, or SLPTPTR/AW): each attached instance walks
 * the same tables, entered at its own input size.  -EINVAL if the domain is
 * not paging or `iommu` neither owns it nor is attached to it.
 */
AP_API int ap_domain_regs(const struct ap_domain *dom, const struct ap_iommu *iommu,
			  struct ap_pt_regs *out);

/*
 * The same registers as that kind of hardware names them, in order, for
 * people: arm-smmu-v3 TTBR0/TCR/MAIR (stage 1) or VTTBR/VTCR (stage 2),
 * arm-smmu the context bank's CB_TTBR0/CB_TCR/CB_MAIR0, intel-vtd
 * SLPTPTR/AW.  A register is AP_REG_HEX (printed 0x with `digits` hex
 * digits); AP_REG_FIELD entries after it are fields decoded from it;
 * AP_REG_DEC is a plain number.  Errors as ap_domain_regs().
 */
enum ap_reg_style {
	AP_REG_HEX = 0,
	AP_REG_FIELD = 1,
	AP_REG_DEC = 2,
};
struct ap_reg_field {
	const char *name; /* static storage */
	uint64_t value;
	uint8_t style;    /* enum ap_reg_style */
	uint8_t digits;   /* AP_REG_HEX: hex digits to print */
};
#define AP_REG_VIEW_MAX 16
struct ap_reg_view {
	unsigned n;
	struct ap_reg_field f[AP_REG_VIEW_MAX];
};
AP_API int ap_domain_reg_view(const struct ap_domain *dom, const struct ap_iommu *iommu,
			      struct ap_reg_view *out);

/* The page table of a paging domain (NULL otherwise), for inspection. */
AP_API const struct ap_pt *ap_domain_pt(const struct ap_domain *dom);

/*
 * Attach `dev`'s whole group to `dom`.  Attaching the domain the group is
 * already on succeeds and does nothing.  For a paging domain on a new
 * instance the geometry becomes the intersection and the page sizes the
 * common subset.  Errors, with nothing changed: -EBUSY (the group is on
 * another domain: detach first), -EADDRINUSE (a mapping lies outside the
 * newcomer's aperture), -EINVAL (the newcomer cannot walk the domain's
 * format, granule, stage or table depth, walks with other coherency, lacks
 * a page size in use, or cannot emit a mapped output address), -ENOMEM.
 */
AP_API int ap_attach(struct ap_domain *dom, struct ap_device *dev);

/*
 * As ap_attach(), but a group already on another domain moves to `dom` in
 * one step, as Linux's iommu_group_replace_domain(): on failure it stays on
 * the domain it was on.  Errors as ap_attach(), never -EBUSY.
 */
AP_API int ap_replace(struct ap_domain *dom, struct ap_device *dev);

/* Detach `dev`'s whole group from its domain; -EINVAL if not attached. */
AP_API int ap_detach(struct ap_device *dev);

/*
 * Map [iova, iova+size) to [pa, pa+size) with prot (enum ap_prot), split
 * into the largest page sizes alignment and length allow, as Linux's
 * iommu_map.  size 0 maps nothing.  Errors, with nothing mapped: -EINVAL
 * (not a paging domain, prot without read or write, iova/pa/size not aligned
 * to the smallest page size), -ERANGE (outside the aperture, or pa beyond
 * the domain's OAS), -EEXIST (overlaps a live mapping), -ENOMEM.
 *
 * Where this differs from Linux, on purpose:
 *   - a block over a table that still holds live leaves is -EEXIST, like
 *     any overlap; io-pgtable-arm frees that table and its leaves silently
 *     (an empty table is replaced by the block, as in Linux);
 *   - an output range that starts below 2^OAS but ends above it is
 *     -ERANGE; Linux checks only its start and writes a leaf whose address
 *     has a bit beyond the output size;
 *   - a map over a live mapping is -EEXIST for every format; Linux's
 *     generic page table (VT-d) answers -EADDRINUSE there, io-pgtable-arm
 *     -EEXIST;
 *   - a map that fails half-way takes back exactly the leaves it wrote and
 *     the tables it made, so the tables are as they were; Linux unmaps the
 *     range by the unmap rule below, which may also take empty tables.
 */
AP_API int ap_map(struct ap_domain *dom, uint64_t iova, uint64_t pa, uint64_t size,
		  unsigned prot);

/*
 * Unmap from iova for up to size bytes, as Linux's iommu_unmap: the range
 * is cut into the page sizes iommu_pgsize() picks (the largest the address
 * is aligned to and the length allows), each piece unmapped by the table
 * format's own Linux rule, until a piece unmaps nothing.  *unmapped gets
 * the bytes unmapped.  A leaf is never split.  Per format:
 *   - ARM LPAE (io-pgtable-arm): a piece takes whole entries of its page
 *     size's level and stops at the first empty one; an entry there that
 *     holds a table goes whole, every leaf under it and holes and all (map
 *     4K at 0x0 and 0x5000, unmap 2M at 0x0: both go, 2M reported).  A
 *     piece that would cut a larger leaf unmaps nothing.
 *   - Intel VT-d (Linux's generic page table, vtdss): a piece is unmapped
 *     at every level it spans and stops at the first hole at any level, so
 *     a table is freed only when the range covers it and it had no hole.
 *     A leaf whose first byte the range starts at goes whole even if the
 *     range is shorter (4K at the start of a 2M superpage unmaps 2M), and
 *     so does a leaf the range ends inside: *unmapped may exceed size.  A
 *     range starting inside a leaf unmaps nothing there.
 * Every IOTLB entry of what was unmapped is gone before this returns
 * (strict).  Errors (with *unmapped = 0): -EINVAL (not a paging domain,
 * unaligned iova or size, a range that wraps past 2^64).
 */
AP_API int ap_unmap(struct ap_domain *dom, uint64_t iova, uint64_t size,
		    uint64_t *unmapped);

/* Mapped PA of iova in a paging domain, without faulting; false if none. */
AP_API bool ap_domain_iova_to_phys(const struct ap_domain *dom, uint64_t iova,
				   uint64_t *pa);

/* ---------------------------------------------------------------- DMA */

/* A successful translation. */
struct ap_translation {
	uint64_t pa;      /* physical address of iova */
	uint64_t size;    /* bytes from iova to the end of the leaf or page */
	unsigned prot;    /* what the translation allows (enum ap_prot) */
	bool bypass;      /* true if no page table was consulted */
};

/*
 * Translate one access by `dev` at iova, as the hardware would.  Returns 0
 * with *out filled, or -EFAULT with *fault filled and the record pushed to
 * the instance's event queue.  Either pointer may be NULL.
 */
AP_API int ap_translate(struct ap_device *dev, uint64_t iova, unsigned access,
			struct ap_translation *out, struct ap_fault *fault);

/*
 * Translate n accesses of one kind by `dev`, in order: out[i] for iova[i],
 * as n calls of ap_translate() would give, stopping at the first refusal.
 * For a device model that translates a descriptor's scatter list, or a
 * vIOMMU that answers a burst of ATS requests: the read-side section, the
 * look at the device's attachment and the statistics are paid once per
 * call instead of once per address, so that a hit costs little more than
 * the IOTLB probe itself.
 *
 * Returns 0 with *done = n, or -EFAULT with *done = the index of the first
 * address refused, *fault filled (if not NULL) and its record pushed to the
 * event queue; out[0 .. *done - 1] hold the translations made, out[*done]
 * and beyond are left as they were.  -EINVAL, nothing translated, for a
 * NULL dev or done, or a NULL iova or out with n > 0.  *done is set on
 * every return when done is not NULL.  The arrays stay the caller's.
 * Each address is translated as by its own call, at the moment the batch
 * reaches it: an unmap that has returned by then is seen (strict, as for
 * ap_translate()).  The batch is one RCU read-side section, so whatever
 * waits for readers waits for it: a detach or replace of dev (the whole
 * batch may see the domain dev had when it began), ap_ram_remove(), and
 * ap_map()/ap_unmap() when they give freed tables back.  Keep batches
 * short (tens or hundreds of addresses) where other threads do those.
 */
AP_API int ap_translate_batch(struct ap_device *dev, const uint64_t *iova, size_t n,
			      unsigned access, struct ap_translation *out, size_t *done,
			      struct ap_fault *fault);

/*
 * Where a transaction of dev at iova would go, whatever its permissions:
 * true with the PA if iova has a translation (a mapping of any permission,
 * or an untranslated path such as an identity domain), false if every
 * access would fault for want of one.  No fault is recorded.  It does not
 * check that the PA is RAM (a DMA there faults external).  For tools and
 * tests; ap_translate() decides an access.
 */
AP_API bool ap_device_iova_to_phys(const struct ap_device *dev, uint64_t iova,
				   uint64_t *pa);

/*
 * Device DMA of len bytes at iova.  Every page is translated and checked
 * against RAM before any byte moves: a DMA that faults anywhere copies
 * nothing, returns -EFAULT and fills *fault (if not NULL) with the first
 * fault, which is also recorded.  len 0 is a no-op.  -EINVAL for a NULL
 * buffer with len > 0 or an iova + len that wraps.
 */
AP_API int ap_dma_read(struct ap_device *dev, uint64_t iova, void *buf, size_t len,
		       struct ap_fault *fault);
AP_API int ap_dma_write(struct ap_device *dev, uint64_t iova, const void *buf,
			size_t len, struct ap_fault *fault);

/*
 * Watch device writes: after ap_dma_write() has copied a stretch (pieces
 * contiguous in IOVA and PA, within one RAM region) it calls
 * fn(arg, dev, iova, pa, len) for that stretch, in order.  For dirty tracking, which needs to see what devices
 * wrote.  One observer per context; fn NULL removes it.  Installing one
 * while devices DMA is safe (a DMA sees it or not); replacing one observer
 * by another while devices DMA may pair the new function with the old
 * argument for a moment: remove, wait for DMA to end, then install.
 */
typedef void (*ap_dma_write_observer)(void *arg, const struct ap_device *dev, uint64_t iova,
				      uint64_t pa, size_t len);
AP_API void ap_ctx_set_dma_write_observer(struct ap_ctx *ctx, ap_dma_write_observer fn,
					  void *arg);

/* ---------------------------------------------------------------- memory */

/*
 * The context's allocator, for layers built on the core (the VFIO container,
 * the scenario executor, your own frontend): what they allocate here is
 * counted by ap_ctx_mem_stats() and can be made to fail by
 * ap_ctx_fail_nth(), like the core's own allocations.
 *
 * ap_mem_alloc: size bytes, zeroed (size 0 is taken as 1); NULL when out of
 * memory or ctx is NULL.  ap_mem_realloc: p (from ap_mem_alloc/realloc of
 * the same ctx, or NULL) resized to size, any new tail zeroed; NULL on
 * failure, and then p is unchanged and still owned by the caller.
 * ap_mem_free: p from the same ctx, or NULL.  Thread-safe.
 */
AP_API void *ap_mem_alloc(struct ap_ctx *ctx, size_t size);
AP_API void *ap_mem_realloc(struct ap_ctx *ctx, void *p, size_t size);
AP_API void ap_mem_free(struct ap_ctx *ctx, void *p);

/* ---------------------------------------------------------------- testing */

/*
 * Allocation-failure injection: the n-th allocation the context makes from
 * now on fails (n >= 1); 0 turns injection off.  Every allocation the
 * context makes, including table memory, counts.
 */
AP_API void ap_ctx_fail_nth(struct ap_ctx *ctx, unsigned long n);
/* True if the injected failure has fired since ap_ctx_fail_nth(). */
AP_API bool ap_ctx_fail_fired(const struct ap_ctx *ctx);

/* Allocations the context holds now, and bytes, for leak checks. */
AP_API void ap_ctx_mem_stats(const struct ap_ctx *ctx, uint64_t *allocations,
			     uint64_t *bytes);

#ifdef __cplusplus
}
#endif

#endif /* APERTURE_CORE_H */
