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
 * drivers/vfio/vfio_iommu_type1.c and container/group code, with the
 * differences listed below.
 *
 * Handles.  ap_vfio_open() opens "/dev/vfio/vfio" (a new container) or
 * "/dev/vfio/N" (group N of the context's topology, as ap_device_group_id()
 * numbers them) and returns a small non-negative handle, or -1 with errno
 * (ENOENT for a path that names nothing, EBUSY for a group already open).
 * Handles are per context and are not file descriptors of the process.
 *
 * Memory.  MAP_DMA's vaddr is a real address of the calling process.  Every
 * page of it must be mapped (EFAULT otherwise).  The container "pins" it by
 * registering it as RAM of the context at physical addresses of its own
 * choosing, below the smallest output size of its IOMMUs, so that a device's
 * DMA to the IOVA reads and writes the caller's memory.  The memory must stay
 * mapped until it is unmapped from the container or the container is closed.
 *
 * Where we are stricter than Linux (our rules, not Linux's):
 *   - VFIO_SET_IOMMU, and VFIO_GROUP_SET_CONTAINER into a container whose
 *     IOMMU is set, refuse with EPERM a group any of whose devices sits
 *     behind an instance whose aperture is open (force_aperture false), or
 *     behind an instance that passes unmatched streams, or has a DIRECT
 *     (non-relaxable) reserved region.  Linux reads none of the first two;
 *     the third it refuses with EINVAL when claiming DMA ownership.  The
 *     reason is in ap_ctx_error().
 *   - Dirty tracking reports the pages devices actually wrote through
 *     ap_dma_write() (Linux's type1 cannot see device writes and reports
 *     every pinned page).
 */
#ifndef APERTURE_VFIO_H
#define APERTURE_VFIO_H

#include <aperture/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* open(2)/ioctl(2)/close(2) for the context's VFIO devices: -1 and errno
 * on failure, as the system calls do. */
AP_API int ap_vfio_open(struct ap_ctx *ctx, const char *path);
AP_API int ap_vfio_ioctl(struct ap_ctx *ctx, int fd, unsigned long request, void *arg);
AP_API int ap_vfio_close(struct ap_ctx *ctx, int fd);

/*
 * Tunables, as type1's module parameter and the process limit: the number of
 * DMA mappings a container may hold (dma_entry_limit, default 65535) and the
 * locked-memory limit in bytes (default: the process's RLIMIT_MEMLOCK;
 * UINT64_MAX means unlimited).  They apply to containers opened afterwards.
 */
AP_API void ap_vfio_set_dma_entry_limit(struct ap_ctx *ctx, uint32_t limit);
AP_API void ap_vfio_set_memlock_limit(struct ap_ctx *ctx, uint64_t bytes);

#ifdef __cplusplus
}
#endif

#endif /* APERTURE_VFIO_H */
