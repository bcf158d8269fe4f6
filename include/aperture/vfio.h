/* SPDX-License-Identifier: MIT */
/*
 * aperture/vfio.h - a VFIO type1 container over the core, driven through
 * the real uapi of <linux/vfio.h>.
 *
 * A VFIO client written against <linux/vfio.h> runs unchanged except that
 * open/ioctl/close are these three functions.  Requests and structures are
 * the system header's (VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION,
 * VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER, VFIO_GROUP_UNSET_CONTAINER,
 * VFIO_SET_IOMMU, VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA,
 * VFIO_IOMMU_UNMAP_DMA, VFIO_IOMMU_DIRTY_PAGES); the answers, their order of
 * checks and their errno values are those of Linux 6.18's
 * drivers/vfio/vfio_iommu_type1.c and container/group code (EOVERFLOW for a
 * range that wraps past 2^64; a mapping may end at 2^64-1), with the
 * differences listed below.
 *
 * Handles.  ap_vfio_open() opens "/dev/vfio/vfio" (a new container) or
 * "/dev/vfio/N" (group N of the context's topology, as ap_device_group_id()
 * numbers them) and returns the lowest free handle, or -1 with errno
 * (ENOENT for a path that names nothing, EBUSY for a group already open,
 * EFAULT for a NULL path, ENOMEM).  Handles are per context and are not file
 * descriptors of the process; a bad one gives EBADF.  Requests whose
 * argument is a value (VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU) take it cast to
 * a pointer: (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU.  A NULL struct pointer
 * gives EFAULT.  Every failure also leaves a one-line reason in
 * ap_ctx_error().
 *
 * Threads.  Any number of threads may call ap_vfio_open/ioctl/close on
 * one context at once, with the locking of Linux's VFIO (not one lock
 * around everything): the requests of one container (MAP_DMA, UNMAP_DMA,
 * GET_INFO, DIRTY_PAGES, CHECK_EXTENSION) take the container's lock, as
 * type1's iommu->lock, so maps of disjoint ranges from several threads are
 * safe but take turns, while different containers' requests run in
 * parallel; group requests, SET_IOMMU and the opening and release of
 * handles, which create, attach and free the core's domains, take turns
 * across the context.  Waiters are served in the order they came.  Device
 * DMA (ap_dma_read/write) runs beside all of it on any thread; dirty
 * tracking marks pages inside the DMA under a lock no request holds while
 * it waits for DMA.  UNMAP_DMA returns once DMA that was already using the
 * mappings has ended (it lands; later DMA faults), so the memory is the
 * program's again.  A handle closed while another thread's call is using it
 * lets that call finish; its object goes when the call returns, and until
 * then its group still counts as open (EBUSY), as a file on Linux does.
 * Each thread reads its own explanation in ap_ctx_error().  Views
 * (ap_vfio_container_*) take the same locks; a domain they return stays
 * valid only while the container keeps it.
 *
 * Groups.  VFIO_GROUP_GET_STATUS reports VIABLE when no domain the container
 * did not make owns the group's DMA (a group attached to a domain of its own
 * is "bound to a kernel driver"), and VIABLE | CONTAINER_SET once in a
 * container.  VFIO_GROUP_SET_CONTAINER refuses a group that is not viable
 * with EPERM (iommu_group_claim_dma_owner), otherwise parks it on a blocking
 * domain "vfio-blk-gN" until the IOMMU gives it a paging domain, so its
 * DMA faults meanwhile.  Closing a group handle takes it out of its
 * container.  The last group out releases the IOMMU (mappings and domains);
 * a closed container lives while a group holds it.  A group behind an
 * IOMMU without AP_CAP_CACHE_COHERENCY (an arm-smmu-v3 or arm-smmu without
 * coherent walks) has no /dev/vfio/N (ENOENT): Linux registers no VFIO
 * device whose IOMMU lacks IOMMU_CAP_CACHE_COHERENCY.
 *
 * Domains.  VFIO_SET_IOMMU (TYPE1 or TYPE1v2; ENODEV for other types,
 * EINVAL with no group or an IOMMU already set) attaches the groups newest
 * first.  Each gets a paging domain "vfio<C>.d<N>" for its instance; its
 * aperture must keep every mapping and its reserved regions must miss them
 * (EINVAL otherwise); it then joins the newest existing domain of the
 * container the core lets it attach to, or keeps its own, into which every
 * mapping is replayed (a replay the new domain refuses fails the attach
 * with the core's errno).  A refused attach changes nothing.  The container
 * owns its domains and the groups on them: attaching, detaching or freeing
 * them behind its back (with the core's API) is not supported.
 *
 * IOVA and page sizes.  VFIO_IOMMU_GET_INFO reports the page sizes every
 * domain maps and the chain MIGRATION, DMA_AVAIL, IOVA_RANGE, each
 * capability 8-byte aligned; a short argsz gets the size it needs back and
 * no capabilities.  The IOVA ranges are the intersection of the domains'
 * apertures minus every reserved region but direct-relaxable ones (an
 * SMMU's SW_MSI window 0x8000000-0x80fffff, arm-smmu-v3 and arm-smmu alike,
 * a VT-d unit's MSI window 0xfee00000-0xfeefffff, and the devices' own),
 * sorted, inclusive ends.
 *
 * Memory.  MAP_DMA's vaddr is a real address of the calling process.  Every
 * page must be mapped (EFAULT otherwise) and, like type1's pinning, is
 * faulted in for the device's access (MADV_POPULATE_READ/WRITE): memory the
 * process may not read, or write for a writable mapping, is EFAULT.  The
 * size is charged against the locked-memory limit (ENOMEM over it, with a
 * reason that names the limit and its source; all containers of the
 * context share one charge, as a process's locked_vm), as type1's
 * vfio_lock_acct: the limit is the process's RLIMIT_MEMLOCK, read at each
 * MAP_DMA, except that a caller with CAP_IPC_LOCK in its effective set
 * (capget(2), read at each MAP_DMA as Linux's capable()) has none, though
 * its pages are still counted; a limit set with
 * ap_vfio_set_memlock_limit() replaces both and holds for every caller.
 * The container "pins" the memory by registering it as RAM of the context
 * at a physical address of its own choosing: the lowest free one below the
 * smallest output size of its domains, clear of RAM and of the table
 * window, and congruent with the IOVA modulo the largest page the mapping
 * can use, so that the IOMMU maps it with large pages.  A device's DMA to
 * the IOVA then reads and writes the caller's memory, which must stay
 * mapped until it is unmapped from the container or the container goes.
 *
 * Errors, per request, in the order they are checked (Linux's, except where
 * marked "ours"):
 *   every handle    EBADF (not open), EFAULT (NULL struct), ENOTTY (not a
 *                   request of this kind of handle).
 *   a container without IOMMU: EINVAL for all but GET_API_VERSION,
 *                   CHECK_EXTENSION and SET_IOMMU.
 *   SET_IOMMU       EINVAL (no group, IOMMU already set, type1 mode other
 *                   than TYPE1/TYPE1v2), ENODEV (not a type1 type), then the
 *                   first group's attach error.
 *   attach (SET_IOMMU, or SET_CONTAINER once the IOMMU is set): EBUSY (a
 *                   mapping's vaddr is invalid), EPERM (bypass, ours), ENOSPC
 *                   (no page-table window left), EINVAL (the aperture leaves
 *                   out a mapping or all of the usable IOVA; a reserved region
 *                   overlaps a mapping; nothing usable would be left; no page
 *                   size in common, ours), the core's errno when a mapping
 *                   cannot be replayed into the group's domain (EINVAL,
 *                   ERANGE), ENOMEM.
 *   GROUP_GET_STATUS  EINVAL (argsz).
 *   GROUP_SET_CONTAINER  EBADF (handle not open), EINVAL (already in a
 *                   container), EBADFD (not a container), EPERM (not viable),
 *                   ENOMEM, attach errors.
 *   GROUP_UNSET_CONTAINER  EINVAL (in no container).
 *   IOMMU_GET_INFO  EINVAL (argsz below iova_pgsizes), ENOMEM.
 *   IOMMU_MAP_DMA   EINVAL (argsz, flags), EOVERFLOW (a field the host cannot
 *                   hold), EINVAL (size 0), EOVERFLOW (iova or vaddr range
 *                   wraps), EINVAL (neither READ/WRITE nor VADDR alone), EINVAL
 *                   (not aligned to the smallest page); VADDR: ENOENT (no
 *                   mapping), EINVAL (not the invalidated one, exactly);
 *                   EEXIST (overlap), ENOSPC (entry limit), EINVAL (not inside
 *                   one usable IOVA range), EFAULT (memory not mapped), ENOMEM
 *                   (locked-memory limit), EFAULT (memory the process may not
 *                   read, or write), ENOMEM (no physical room below the OAS),
 *                   the core's map errno, EINVAL (dirty bitmap over INT_MAX
 *                   pages).
 *   IOMMU_UNMAP_DMA EINVAL (argsz, flags; GET_DIRTY_BITMAP with ALL or VADDR;
 *                   no room for struct vfio_bitmap; a bitmap pointer outside
 *                   user memory, pgsize 0 or size too small or large), EINVAL
 *                   (iova not aligned; ALL with iova or size; size 0 or not
 *                   aligned), EOVERFLOW (wraps), EINVAL (GET_DIRTY_BITMAP
 *                   without tracking or with another pgsize), EINVAL (TYPE1v2:
 *                   the range splits a mapping), EINVAL (VADDR: a vaddr already
 *                   invalid), EFAULT (bitmap memory not writable).  On error
 *                   the struct is not written back.
 *   IOMMU_DIRTY_PAGES  EACCES (TYPE1), EINVAL (argsz; not exactly one of START,
 *                   STOP, GET_BITMAP); START: EINVAL (a mapping over INT_MAX
 *                   pages), ENOMEM; GET_BITMAP: EINVAL (argsz, size 0),
 *                   EOVERFLOW (wraps), EINVAL (bitmap pointer or size; pgsize,
 *                   iova or size not the smallest page; tracking off; the
 *                   range splits a mapping), EFAULT (bitmap not writable).
 *
 * Where we are stricter than Linux (our rules, not Linux's):
 *   - VFIO_SET_IOMMU, and VFIO_GROUP_SET_CONTAINER into a container whose
 *     IOMMU is set, refuse with EPERM a group any of whose devices sits
 *     behind an instance whose aperture is open (force_aperture false), or
 *     behind an instance that passes unmatched streams, or has a DIRECT
 *     (non-relaxable) reserved region.  Linux's type1 reads none of the
 *     first two; the third Linux refuses too, but with EINVAL when claiming
 *     DMA ownership (so at SET_CONTAINER).  The reason is in ap_ctx_error().
 *   - A group whose domain would share no page size with the container's
 *     other domains is refused with EINVAL (type1 would be left with an
 *     empty page-size bitmap).
 *   - MAP_DMA(VADDR) checks the new address as a new mapping's (EFAULT),
 *     because device DMA goes through it; between UNMAP_DMA(VADDR) and
 *     MAP_DMA(VADDR) DMA still uses the old address, which must therefore
 *     stay mapped until then.
 * Where we see more than Linux:
 *   - Dirty tracking reports the pages devices actually wrote through
 *     ap_dma_write() (Linux's type1 cannot see device writes and reports
 *     every pinned page of an IOMMU-backed container).  To see them the
 *     layer takes the context's DMA write observer on its first use
 *     (ap_ctx_set_dma_write_observer); replacing it stops dirty tracking.
 * Devices.  VFIO_GROUP_GET_DEVICE_FD(name) opens a handle on the PCI
 * function (aperture/pci.h) of that exact name ("0000:00:04.0") in the
 * group: ENODEV if the group has none, EINVAL before the group's container
 * has an IOMMU, EFAULT for NULL.  Handles answer as Linux's vfio-pci:
 * VFIO_DEVICE_GET_INFO (PCI | RESET, 9 regions, 5 IRQ indexes),
 * GET_REGION_INFO (BARs at index << 40, READ|WRITE and MMAP for a BAR that
 * allows it and is a page or more, the MSI-X-mappable capability on the
 * BAR holding the table, with the short-argsz protocol; no ROM; config at
 * index 7, READ|WRITE, never MMAP; EINVAL for VGA and past index 8),
 * GET_IRQ_INFO (INTx if the function has a pin, no MSI, MSI-X vectors,
 * ERR for PCI Express, REQ), SET_IRQS (Linux's checks; INTx, MSI-X, ERR and
 * REQ triggers with eventfds, of which the layer keeps duplicates, and
 * DATA_NONE/BOOL loopback; INTx mask/unmask; MSI-X mask/unmask is ENOTTY as
 * in vfio-pci), RESET (the function's FLR; MSI-X stays as set),
 * GET_PCI_HOT_RESET_INFO (ENODEV: no slot or bus reset),
 * VFIO_DEVICE_FEATURE (ENOTTY: none offered).  The first open resets the
 * function and enables its memory decoding; the last close disables its
 * interrupts, resets it and clears its command register.  A device handle
 * holds its group: UNSET_CONTAINER is EBUSY while one is open, and a group
 * handle closed meanwhile stays in its container (and /dev/vfio/N stays
 * busy) until the last device handle goes.  User writes to the MSI-X
 * capability are dropped (vfio-pci writes it only through SET_IRQS).
 * Interrupts are delivered by the function's model (ap_pci_poll, or the
 * runner thread), which writes the eventfd.
 *
 * What is not modelled: interrupt isolation (every group counts as having
 * isolated MSI), emulated (mdev) and no-iommu groups, SPAPR, device
 * regions beyond the standard nine, VFIO_DEVICE_IOEVENTFD (ENOTTY).
 */
#ifndef APERTURE_VFIO_H
#define APERTURE_VFIO_H

#include <sys/types.h>

#include <aperture/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* open(2)/ioctl(2)/close(2) for the context's VFIO devices: -1 and errno
 * on failure, as the system calls do.  A NULL context is EINVAL. */
AP_API int ap_vfio_open(struct ap_ctx *ctx, const char *path);
AP_API int ap_vfio_ioctl(struct ap_ctx *ctx, int fd, unsigned long request, void *arg);
AP_API int ap_vfio_close(struct ap_ctx *ctx, int fd);

/*
 * What a device file takes besides ioctl: pread(2)/pwrite(2) of a region
 * (offset = index << 40 | position, as vfio-pci lays them out: BARs 0..5,
 * ROM 6, config 7) and mmap(2) of an mmap-able BAR.  Reads and writes are
 * clipped at the region's end and return the bytes moved; -1 and errno:
 * EBADF (no such handle), EINVAL (not a device; an offset in no region or
 * past its end), EFAULT (NULL buffer).  ap_vfio_mmap returns the BAR's
 * memory at the offset (valid while the context lives), or NULL and errno:
 * EINVAL for a region without VFIO_REGION_INFO_FLAG_MMAP, an offset not
 * page-aligned, a length 0 or past the BAR's end.
 */
AP_API ssize_t ap_vfio_pread(struct ap_ctx *ctx, int fd, void *buf, size_t len,
			     uint64_t offset);
AP_API ssize_t ap_vfio_pwrite(struct ap_ctx *ctx, int fd, const void *buf, size_t len,
			      uint64_t offset);
AP_API void *ap_vfio_mmap(struct ap_ctx *ctx, int fd, uint64_t offset, size_t len);

/* The PCI function (aperture/pci.h) a device handle is, or NULL. */
struct ap_pci;
AP_API struct ap_pci *ap_vfio_device_pci(struct ap_ctx *ctx, int fd);

/*
 * Tunables, as type1's module parameter and the process limit: the number of
 * DMA mappings a container may hold (dma_entry_limit, default 65535) and the
 * locked-memory limit in bytes.  Without a limit set here a MAP_DMA is held
 * to the process's RLIMIT_MEMLOCK, read at every MAP_DMA, unless the caller
 * has CAP_IPC_LOCK (then to none), as on Linux.  A limit set here applies
 * instead, to every caller, CAP_IPC_LOCK or not (for tests that want a limit
 * whoever runs them); UINT64_MAX means unlimited.  They apply to containers
 * opened afterwards.  0, or -EINVAL (NULL context) or -ENOMEM (the context's
 * VFIO state, made on its first VFIO call, could not be allocated; nothing
 * is set then).
 */
AP_API int ap_vfio_set_dma_entry_limit(struct ap_ctx *ctx, uint32_t limit);
/* The entry limit containers opened now get (65535 unless set); what a
 * host shows in /sys/module/vfio_iommu_type1/parameters/dma_entry_limit. */
AP_API uint32_t ap_vfio_dma_entry_limit(struct ap_ctx *ctx);
AP_API int ap_vfio_set_memlock_limit(struct ap_ctx *ctx, uint64_t bytes);

/* ------------------------------------------------------------ views */

/* One container, as tools show it. */
struct ap_vfio_container_info {
	int fd;               /* its handle; -1 once closed (a group holds it) */
	char label[64];       /* what ap_vfio_set_label() called it, or "" */
	unsigned long iommu;  /* VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, 0: not set */
	uint64_t pgsizes;     /* iova_pgsizes, as VFIO_IOMMU_GET_INFO says */
	size_t ngroups;
	size_t ndomains;
	size_t niovas;        /* usable IOVA ranges */
	uint64_t mappings;    /* DMA mappings it holds */
	uint32_t dma_avail;   /* mappings it may still make */
	uint64_t locked;      /* bytes it pinned */
	bool dirty_tracking;
};

/*
 * The containers of the context, index 0 the first opened (closed ones
 * that groups keep alive included): its state, its n-th group number (in
 * the order they joined), its n-th domain (in the order they were made)
 * and its n-th usable IOVA range (sorted, inclusive end).  -ENOENT (NULL
 * for the domain) past the last.
 */
/* Give the container with handle fd a label for people (views print it):
 * 1..63 characters.  -EBADF if fd is no open container, -EINVAL for a bad
 * label. */
AP_API int ap_vfio_set_label(struct ap_ctx *ctx, int fd, const char *label);

AP_API int ap_vfio_container_info(struct ap_ctx *ctx, size_t index,
				  struct ap_vfio_container_info *out);
AP_API int ap_vfio_container_group(struct ap_ctx *ctx, size_t index, size_t n, int *group);
AP_API struct ap_domain *ap_vfio_container_domain(struct ap_ctx *ctx, size_t index, size_t n);
AP_API int ap_vfio_container_iova(struct ap_ctx *ctx, size_t index, size_t n,
				  uint64_t *start, uint64_t *end);

/* One MAP_DMA of a container, as views list it. */
struct ap_vfio_mapping {
	uint64_t iova, size;
	uint64_t vaddr;   /* the process memory it maps */
	uint64_t pa;      /* where the container placed that memory */
	unsigned prot;    /* AP_PROT_READ | AP_PROT_WRITE */
	bool vaddr_valid; /* false between UNMAP_DMA(VADDR) and MAP_DMA(VADDR) */
};

/* The container's mapping that holds IOVA `from`, or else the first one
 * above it: walk them in IOVA order with from = 0, then the end of the
 * last one (stop when that wraps to 0).  -ENOENT when there is none. */
AP_API int ap_vfio_container_mapping(struct ap_ctx *ctx, size_t index, uint64_t from,
				     struct ap_vfio_mapping *out);

#ifdef __cplusplus
}
#endif

#endif /* APERTURE_VFIO_H */
