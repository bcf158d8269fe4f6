/* SPDX-License-Identifier: MIT */
/*
 * A modern virtio-pci device in QEMU, reached through qtest: find it on
 * bus 0, give its BARs addresses (no firmware ran), enable memory space
 * and bus mastering, and read the virtio vendor capabilities (virtio 1.2
 * §4.1.4) to find the common, notify, ISR and device configuration
 * structures.  qvirtio_transport() then gives the test driver (vdriver.h)
 * its transport.
 */
#ifndef AP_TEST_QVIRTIO_H
#define AP_TEST_QVIRTIO_H

#include "qtest.h"
#include "vdriver.h"

struct qvirtio_region {
	uint64_t addr; /* guest-physical, in the BAR */
	uint32_t len;
	bool present;
};

struct qvirtio {
	struct qtest *q;
	int devfn;
	struct qvirtio_region common, notify, isr, device;
	uint32_t notify_mult;
};

/* Find virtio device `device_id` (0x1040 + virtio ID); 0, or -1 with a
 * reason in *why. */
int qvirtio_open(struct qvirtio *v, struct qtest *q, uint16_t device_id, const char **why);

void qvirtio_transport(struct qvirtio *v, struct vdrv_transport *t);

#endif /* AP_TEST_QVIRTIO_H */
