/* SPDX-License-Identifier: MIT */
/*
 * A small machine with a virtio-iommu for the device's tests: guest RAM,
 * one virtio-iommu instance with its device, a few endpoints, and the test
 * driver (vdriver.h) attached through aperture's transport.
 *
 *   RAM        0x40000000, 64 MiB
 *   driver     its rings and buffers in the first MiB of RAM
 *   endpoints  0x08, 0x10, 0x18 (a group each), 0x20 and 0x21 (one group)
 */
#ifndef AP_TEST_VMACHINE_H
#define AP_TEST_VMACHINE_H

#include <aperture/virtio_iommu.h>

#include "vapdrv.h"
#include "vdriver.h"

#define VM_RAM 0x40000000ull
#define VM_RAM_SIZE (64ull << 20)
#define VM_DATA (VM_RAM + 0x100000) /* free for DMA targets */
#define VM_NEP 5

struct vmachine {
	struct ap_ctx *ctx;
	struct ap_iommu *iommu;
	struct ap_viommu *v;
	struct ap_device *ep[VM_NEP];
	uint8_t *ram;
	struct vapdrv a;
	struct vdrv_transport t;
	struct vdrv d;
	unsigned irqs[3]; /* interrupts seen: config, requestq, eventq */
};

extern const uint32_t vm_ep_ids[VM_NEP];

/* The machine, with the device's cfg and the instance's ic (NULL:
 * defaults; ic's kind must be virtio-iommu).  0, or a negative errno. */
int vm_create(struct vmachine *m, const struct ap_viommu_config *cfg,
	      const struct ap_iommu_config *ic);

/* Bring the driver up with the features in `want` (all offered when ~0)
 * and queues of qsize; 0 on success. */
int vm_driver(struct vmachine *m, uint64_t want, uint16_t qsize);

void vm_destroy(struct vmachine *m);

/* Host pointer of guest-physical pa (in RAM). */
void *vm_ptr(struct vmachine *m, uint64_t pa);

#endif /* AP_TEST_VMACHINE_H */
