/* SPDX-License-Identifier: MIT */
/*
 * A virtio-iommu guest driver for tests: the same code drives aperture's
 * device and QEMU's, through a transport (struct vdrv_transport) that says
 * how to touch guest memory and the device's modern virtio registers.
 *
 * It lays out both virtqueues (0 requestq, 1 eventq) as split rings in a
 * window of guest RAM the caller gives, negotiates features (virtio 1.2
 * §3.1.1), and sends one request at a time: device-readable bytes split
 * over any number of descriptors, a device-writable part likewise, direct
 * or through an indirect table (§2.7.5.3).  It polls the used ring for the
 * reply (§2.7.8) rather than waiting for an interrupt.
 *
 * Malformed-ring tests use the raw helpers (vdrv_put_desc, vdrv_publish)
 * to write any descriptor they like.
 */
#ifndef AP_TEST_VDRIVER_H
#define AP_TEST_VDRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_iommu.h>

struct vdrv_transport {
	void *arg;
	void (*mem_read)(void *arg, uint64_t pa, void *buf, size_t len);
	void (*mem_write)(void *arg, uint64_t pa, const void *buf, size_t len);
	uint64_t (*device_features)(void *arg);
	void (*driver_features)(void *arg, uint64_t features);
	uint8_t (*get_status)(void *arg);
	void (*set_status)(void *arg, uint8_t status);
	/* Device configuration, len 1, 2 or 4 at a naturally aligned off. */
	uint32_t (*config_read)(void *arg, unsigned off, unsigned len);
	void (*config_write)(void *arg, unsigned off, unsigned len, uint32_t v);
	uint8_t (*config_generation)(void *arg);
	uint16_t (*queue_max)(void *arg, unsigned q);
	void (*queue_setup)(void *arg, unsigned q, uint16_t size, uint64_t desc, uint64_t avail,
			    uint64_t used);
	void (*queue_enable)(void *arg, unsigned q);
	void (*notify)(void *arg, unsigned q);
	/* True once the transport itself broke (QEMU died). */
	bool (*broken)(void *arg);
};

struct vdrv_queue {
	uint16_t size;
	uint64_t desc, avail, used;
	uint16_t avail_idx; /* what the driver published */
	uint16_t last_used; /* used entries consumed */
};

#define VDRV_MAX_EVENTS 64

struct vdrv {
	struct vdrv_transport t;
	uint64_t base, size; /* the guest RAM window the driver owns */
	uint64_t features;   /* negotiated */
	struct vdrv_queue q[2];
	uint64_t data;       /* scratch area for request buffers */
	uint64_t evbuf;      /* event buffers */
	unsigned evpending;  /* event buffers posted and not yet used */
	unsigned spins;      /* polls of the used ring before giving up */
};

/*
 * Take over the device: reset, ACKNOWLEDGE, DRIVER, accept `want` & offered,
 * FEATURES_OK (checked), both queues with `qsize` entries (at most the
 * device's maximum) in [base, base+size), DRIVER_OK.  Returns 0, or -1 with
 * the device's status in *status_out (FEATURES_OK refused, say).
 */
int vdrv_init(struct vdrv *d, const struct vdrv_transport *t, uint64_t base, uint64_t size,
	      uint64_t want, uint16_t qsize, uint8_t *status_out);

/* Only the feature phase: reset .. FEATURES_OK, and the status it ends in. */
uint8_t vdrv_negotiate(struct vdrv *d, uint64_t want);

/* How a request is laid out in descriptors. */
struct vdrv_layout {
	unsigned rd_parts; /* device-readable part in this many descriptors (>= 1) */
	unsigned wr_parts; /* device-writable part likewise */
	bool indirect;     /* the whole chain in one indirect table */
};

/*
 * Send one request: rd_len device-readable bytes from rd, then wr_len
 * device-writable bytes (zeroed first) that come back in wr.  Returns 0
 * with the used length in *used_len, 1 if the device did not use the
 * buffer, -1 if the transport broke.
 */
int vdrv_request(struct vdrv *d, const void *rd, size_t rd_len, void *wr, size_t wr_len,
		 const struct vdrv_layout *layout, uint32_t *used_len);

/*
 * The typed requests (virtio 1.2 §5.13.6): each returns the status the
 * device wrote (VIRTIO_IOMMU_S_*), or -1 if the device used the buffer
 * without writing it (used length 0), -2 if it did not use it at all, -3
 * if the transport broke.
 */
int vdrv_attach(struct vdrv *d, uint32_t domain, uint32_t ep, uint32_t flags);
int vdrv_detach(struct vdrv *d, uint32_t domain, uint32_t ep);
int vdrv_map(struct vdrv *d, uint32_t domain, uint64_t vstart, uint64_t vend, uint64_t pstart,
	     uint32_t flags);
int vdrv_unmap(struct vdrv *d, uint32_t domain, uint64_t vstart, uint64_t vend);
/* PROBE with a properties buffer of probe_size bytes (what the config
 * says); the properties come back in props. */
int vdrv_probe(struct vdrv *d, uint32_t ep, void *props, size_t probe_size);
/* Any request given as its device-readable bytes, with a writable part of
 * wr_len bytes whose tail (last 4 bytes) holds the status. */
int vdrv_raw(struct vdrv *d, const void *rd, size_t rd_len, size_t wr_len, uint32_t *used_len);

/* The device configuration (§5.13.4), field by field at natural widths. */
void vdrv_read_config(struct vdrv *d, struct virtio_iommu_config *out);

/* Event queue (§5.13.6.9): post n writable buffers of len bytes each. */
void vdrv_event_post(struct vdrv *d, unsigned n, uint32_t len);
/* The next used event buffer: 1 with the fault and used length, 0 if none. */
int vdrv_event_next(struct vdrv *d, struct virtio_iommu_fault *out, uint32_t *len);

/* Raw ring access. */
void vdrv_put_desc(struct vdrv *d, unsigned q, uint16_t idx, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next);
/* Put head into the available ring, publish, notify. */
void vdrv_publish(struct vdrv *d, unsigned q, uint16_t head);
/* Wait for the next used entry: 1 with id and len, 0 if none came. */
int vdrv_used_next(struct vdrv *d, unsigned q, uint32_t *id, uint32_t *len);

/* Scratch guest memory for a test's buffers: [vdrv_scratch, +64 KiB). */
uint64_t vdrv_scratch(const struct vdrv *d);

#endif /* AP_TEST_VDRIVER_H */
