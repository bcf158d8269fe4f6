/* SPDX-License-Identifier: MIT */
/*
 * The test driver's transport for aperture's own virtio-iommu device: the
 * transport registers are the calls of <aperture/virtio_iommu.h> and guest
 * memory is the context's RAM, exactly what a VMM's virtio-pci would do.
 */
#ifndef AP_TEST_VAPDRV_H
#define AP_TEST_VAPDRV_H

#include <aperture/virtio_iommu.h>

#include "vdriver.h"

struct vapdrv {
	struct ap_ctx *ctx;
	struct ap_viommu *v;
	struct ap_viommu_queue pending[AP_VIOMMU_NQUEUES]; /* programmed, not enabled */
	int notify_rc;  /* what the last notify returned */
	bool mem_fault; /* a driver access outside RAM */
};

void vapdrv_transport(struct vapdrv *a, struct ap_ctx *ctx, struct ap_viommu *v,
		      struct vdrv_transport *t);

#endif /* AP_TEST_VAPDRV_H */
