/* SPDX-License-Identifier: MIT */
/* Inside the scenario layer: formatting helpers shared by its files. */
#ifndef AP_SCN_INTERNAL_H
#define AP_SCN_INTERNAL_H

#include <stdio.h>

#include <linux/vfio.h>

#include <aperture/pci.h>
#include <aperture/scenario.h>
#include <aperture/vfio.h>
#include <aperture/view.h>
#include <aperture/virtio_iommu.h>


/* scn_vfio.c: the `vfio` commands' plumbing; negative errno, with the
 * reason in the context. */
int ap__scn_vfio_open(struct ap_ctx *ctx, const char *name);
int ap__scn_vfio_add(struct ap_ctx *ctx, const char *name, int group);
int ap__scn_vfio_remove(struct ap_ctx *ctx, const char *name, int group);
int ap__scn_vfio_iommu(struct ap_ctx *ctx, const char *name, unsigned long type);
int ap__scn_vfio_map(struct ap_ctx *ctx, const char *name, uint64_t iova, uint64_t size,
		     unsigned prot);
int ap__scn_vfio_unmap(struct ap_ctx *ctx, const char *name, uint64_t iova, uint64_t size,
		       bool all, uint64_t *unmapped);
int ap__scn_vfio_dirty(struct ap_ctx *ctx, const char *name, uint32_t flag);
int ap__scn_vfio_dirty_count(struct ap_ctx *ctx, const char *name, uint64_t iova,
			     uint64_t size, uint64_t *count);
int ap__scn_vfio_info(struct ap_ctx *ctx, const char *name, uint64_t *pgsizes,
		      struct vfio_iova_range *ranges, size_t max, size_t *n);
/* The name a script gave the container with handle fd, or NULL. */
const char *ap__scn_vfio_name(struct ap_ctx *ctx, int fd);

/* scn_virtio.c: a virtio-iommu device on an instance and a guest driver
 * for it (offer 0: the device's default offer; the driver accepts what is
 * offered of `accept`). */
int ap__scn_viommu_new(struct ap_ctx *ctx, struct ap_iommu *iommu, uint64_t offer,
		       uint64_t accept);
/* One request (PROBE when probe): *status the device's, or -1 when it
 * returned the buffer unwritten; *reply the writable part. */
int ap__scn_viommu_request(struct ap_ctx *ctx, struct ap_iommu *iommu, const void *req,
			   size_t len, bool probe, const uint8_t **reply, int *status);
int ap__scn_viommu_bypass(struct ap_ctx *ctx, struct ap_iommu *iommu, uint8_t value);
int ap__scn_viommu_events(struct ap_ctx *ctx, struct ap_iommu *iommu, char *text, size_t len,
			  unsigned *count);

#endif
