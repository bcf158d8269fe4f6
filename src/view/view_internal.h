/* SPDX-License-Identifier: MIT */
/* Inside the view layer: helpers its files share. */
#ifndef AP_VIEW_INTERNAL_H
#define AP_VIEW_INTERNAL_H

#include <stdio.h>

#include <aperture/core.h>
#include <aperture/vfio.h>

/* "1.5 GiB" style. */
const char *ap__view_bytes(uint64_t bytes, char *buf, size_t len);

/* virtio.c: the virtio-iommu devices (all, or only's), and why an
 * instance's virtio-iommu lets unattached endpoints bypass (NULL: it has
 * none, or they do not). */
void ap__view_virtio(struct ap_ctx *ctx, FILE *out, const struct ap_iommu *only);
const char *ap__view_virtio_bypass(struct ap_ctx *ctx, const struct ap_iommu *iommu);

#endif
