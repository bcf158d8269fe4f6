/* SPDX-License-Identifier: MIT */
/*
 * Fault reporting (virtio 1.2 §5.13.6.9): the instance's fault records
 * become struct virtio_iommu_fault in the driver's event-queue buffers.
 *
 * A fault waits in the instance's bounded queue until the driver gives a
 * buffer (the spec lets the device wait or drop); when that queue is full
 * the core drops the newest and records the overflow, which the device's
 * stats report.  A buffer too small for a report is returned unused (used
 * length 0) and the fault waits for the next one: the device does not
 * split a report over buffers (§5.13.6.9.2).
 */
#include <endian.h>
#include <string.h>

#include "virtio_internal.h"

/* The closest reason (§5.13.6.9): no domain, or the domain's mappings. */
static uint8_t reason_of(enum ap_fault_kind k)
{
	switch (k) {
	case AP_FAULT_BAD_STREAM:
		return VIRTIO_IOMMU_FAULT_R_DOMAIN;
	case AP_FAULT_TRANSLATION:
	case AP_FAULT_ADDRESS_SIZE:
	case AP_FAULT_ACCESS_FLAG:
	case AP_FAULT_PERMISSION:
		return VIRTIO_IOMMU_FAULT_R_MAPPING;
	default:
		return VIRTIO_IOMMU_FAULT_R_UNKNOWN; /* the memory behind it */
	}
}

static void fault_record(const struct ap_fault *f, struct virtio_iommu_fault *out)
{
	uint32_t flags = VIRTIO_IOMMU_FAULT_F_ADDRESS;

	if (f->access & AP_ACCESS_READ)
		flags |= VIRTIO_IOMMU_FAULT_F_READ;
	if (f->access & AP_ACCESS_WRITE)
		flags |= VIRTIO_IOMMU_FAULT_F_WRITE;
	if (f->access & AP_ACCESS_EXEC)
		flags |= VIRTIO_IOMMU_FAULT_F_EXEC;
	memset(out, 0, sizeof(*out));
	out->reason = reason_of(f->kind);
	out->flags = htole32(flags);
	out->endpoint = htole32(f->sid);
	out->address = htole64(f->iova);
}

int ap__viommu_report(struct ap_viommu *v)
{
	struct vq *vq = &v->q[AP_VIOMMU_EVENTQ];
	uint16_t before;
	int n = 0;

	if (!vq->enabled || v->needs_reset || !(v->status & VIRTIO_CONFIG_S_DRIVER_OK) ||
	    !ap_iommu_fault_pending(v->iommu) || ap__vq_begin(v, vq))
		return 0;
	before = vq->used_idx;
	while (ap_iommu_fault_pending(v->iommu)) {
		struct virtio_iommu_fault rec;
		struct ap_fault f;
		struct vchain c;

		if (ap__vq_pop(v, vq, &c) <= 0)
			break;
		if (c.wr_len < sizeof(rec) || !ap__vq_writable(v, vq, &c, sizeof(rec))) {
			ap__vq_push(v, vq, c.head, 0);
			continue;
		}
		if (!ap_iommu_fault_pop(v->iommu, &f)) {
			ap__vq_unpop(vq); /* someone else took it: keep the buffer */
			break;
		}
		fault_record(&f, &rec);
		ap__vq_write(v, vq, &c, 0, &rec, sizeof(rec));
		ap__vq_push(v, vq, c.head, sizeof(rec));
		v->st.events++;
		n++;
	}
	ap__vq_settle(v, vq);
	ap__vq_end(v, vq, AP_VIOMMU_EVENTQ, before);
	return n;
}
