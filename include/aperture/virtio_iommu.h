/* SPDX-License-Identifier: MIT */
/*
 * aperture/virtio_iommu.h - a virtio-iommu device (virtio 1.2 §5.13) whose
 * endpoints are aperture devices and whose domains are aperture domains.
 *
 * A VMM embeds it behind its own virtio transport (PCI or MMIO): the
 * transport's registers map onto the calls below (features, status, device
 * configuration, queue addresses, notifications), and the device reads and
 * writes its two split virtqueues (virtio 1.2 §2.7) in the context's RAM,
 * where guest-physical address == aperture physical address.  The guest's
 * ATTACH, DETACH, MAP and UNMAP land in real aperture domains, so a DMA
 * through ap_dma_read()/ap_dma_write() by an endpoint translates exactly
 * through what the guest mapped, and faults everywhere else; those faults
 * go back to the guest on the event queue.
 *
 *   - Endpoints: endpoint ID N is the device behind `iommu` with stream ID N
 *     (on PCI, the requester ID: bus << 8 | devfn).  Devices added to the
 *     instance later are endpoints as soon as they exist.
 *   - Domains: domain ID N of the guest is an aperture domain called
 *     "<iommu>.vd<N>" (paging, or identity for VIRTIO_IOMMU_ATTACH_F_BYPASS),
 *     allocated for `iommu` when the first endpoint attaches and freed when
 *     the last one leaves, as the spec says domains come and go.
 *   - Bypass: an endpoint attached to nothing is blocked unless bypass was
 *     both offered and accepted (VIRTIO_IOMMU_F_BYPASS_CONFIG with config
 *     field `bypass` set to 1, or the legacy VIRTIO_IOMMU_F_BYPASS); the
 *     device sets the instance's unmatched behaviour accordingly
 *     (ap_iommu_set_unmatched), so ap_audit() and ap_device_bypasses()
 *     report it.  This is stricter than the spec, which lets a device that
 *     starts with `bypass` = 1 pass traffic before any driver accepted
 *     anything; see doc/virtio-iommu.md.
 *
 * Requests are answered with the status the spec gives for each case;
 * doc/virtio-iommu.md lists every choice the spec leaves to the device and
 * what this device does, and how it differs from QEMU's.
 *
 * Malformed rings never crash the device.  A request it cannot parse (no
 * room for its tail, fewer readable bytes than a header) is returned with
 * used length 0 and nothing written, as §5.13.6 says; a request whose
 * buffers are not RAM fails with VIRTIO_IOMMU_S_IOERR when its tail can
 * still be written.  A ring the device cannot walk at all (a descriptor
 * index out of range, a loop, an indirect table inside an indirect table,
 * a device-readable descriptor after a device-writable one, an available
 * index more than the queue size ahead, rings outside RAM) sets
 * VIRTIO_CONFIG_S_NEEDS_RESET, raises a configuration interrupt, and the
 * device then ignores its queues until the driver resets it (§2.1.2).
 *
 * Threads.  Every function here may be called from any thread; the device
 * serialises them with a lock of its own.  Endpoint DMA (ap_dma_read/write
 * on the endpoints) runs beside them without that lock, as the core allows
 * DMA beside map and unmap.  The interrupt callback is called with the
 * device's lock held: it must not call back into the device.
 *
 * Memory.  The device belongs to the context and is freed with it (or
 * earlier with ap_viommu_free()); it allocates through the context's
 * allocator, so ap_ctx_fail_nth() reaches every allocation.  The guest's
 * rings and buffers must stay registered RAM while the device uses them.
 */
#ifndef APERTURE_VIRTIO_IOMMU_H
#define APERTURE_VIRTIO_IOMMU_H

#include <aperture/core.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ap_viommu;

/* Queue indices (§5.13.2). */
#define AP_VIOMMU_REQUESTQ 0
#define AP_VIOMMU_EVENTQ 1
#define AP_VIOMMU_NQUEUES 2

/* Feature bits are numbered as in <linux/virtio_iommu.h> (device bits 0..6)
 * and <linux/virtio_config.h>, <linux/virtio_ring.h> (transport bits). */
#define AP_VIOMMU_FEATURE(bit) (1ull << (bit))

/*
 * What the device adds to its instance's capabilities (the instance's kind
 * is virtio-iommu: page_size_mask, input_range, domain_range, the boot
 * value of `bypass` and the MSI doorbell are its configuration, struct
 * ap_virtio_iommu_config in core.h).
 */
struct ap_viommu_config {
	/*
	 * Feature bits the device offers.  Device bits: any of
	 * VIRTIO_IOMMU_F_INPUT_RANGE, _DOMAIN_RANGE, _MAP_UNMAP, _BYPASS,
	 * _PROBE, _MMIO, _BYPASS_CONFIG; transport bits: any of
	 * VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX.
	 * VIRTIO_F_VERSION_1 is always offered (this is a modern device).
	 * Default: all device bits but the legacy F_BYPASS, and both ring bits.
	 */
	uint64_t features;
	uint32_t probe_size;      /* PROBE properties bytes, 8..65536, a
				     multiple of 4 (default 512) */
	uint16_t queue_size_max;  /* largest queue size the driver may
				     choose, a power of two 2..32768
				     (default 256) */
};

/* The defaults above. */
AP_API void ap_viommu_config_init(struct ap_viommu_config *cfg);

/*
 * The virtio-iommu device of instance `iommu` (of kind virtio-iommu) and
 * the endpoints behind it, with the transport side from cfg (NULL:
 * defaults).  From now on the device decides what the instance does with
 * unattached endpoints (blocked unless a driver accepted bypass).  One
 * device per instance.  Errors: -EINVAL (an instance of another context
 * or kind, a bad cfg field: unknown feature bits, both F_BYPASS and
 * F_BYPASS_CONFIG, probe_size or queue_size_max out of range), -EEXIST
 * (the instance has a device already), -ENOMEM.
 */
AP_API int ap_viommu_new(struct ap_ctx *ctx, struct ap_iommu *iommu,
			 const struct ap_viommu_config *cfg, struct ap_viommu **out);

/* Free the device now (detaching its endpoints, freeing its domains, and
 * blocking unattached endpoints again).  NULL is a no-op. */
AP_API void ap_viommu_free(struct ap_viommu *v);

/* The device of an instance, or NULL; and every device of a context:
 * first with prev == NULL, NULL after the last. */
AP_API struct ap_viommu *ap_viommu_of(struct ap_ctx *ctx, const struct ap_iommu *iommu);
AP_API struct ap_viommu *ap_viommu_next(struct ap_ctx *ctx, const struct ap_viommu *prev);
AP_API struct ap_iommu *ap_viommu_iommu(const struct ap_viommu *v);

/*
 * Interrupts: fn(arg, AP_VIOMMU_REQUESTQ or AP_VIOMMU_EVENTQ) when the
 * device used buffers and the driver's notification suppression (§2.7.7)
 * asks for a used buffer notification; fn(arg, -1) for a configuration
 * change notification (NEEDS_RESET).  Called with the device's lock held.
 * fn NULL: no interrupts (poll the used rings).
 */
typedef void (*ap_viommu_irq_fn)(void *arg, int queue);
AP_API void ap_viommu_set_irq(struct ap_viommu *v, ap_viommu_irq_fn fn, void *arg);

/* ---------------------------------------------------------------- transport */

/* Device feature bits (virtio 1.2 §2.2): the offer, 64 bits. */
AP_API uint64_t ap_viommu_device_features(const struct ap_viommu *v);

/*
 * The driver's feature bits (§3.1.1 step 5).  Taken until FEATURES_OK is
 * set, -EBUSY after it (the transport drops the write).  Bits the device
 * does not offer are kept here and make FEATURES_OK fail (§2.2.1: the
 * device refuses what it did not offer).
 */
AP_API int ap_viommu_set_driver_features(struct ap_viommu *v, uint64_t features);
AP_API uint64_t ap_viommu_driver_features(const struct ap_viommu *v);

/*
 * Device status (§2.1).  Writing 0 resets the device (§2.4): every
 * endpoint is detached, every domain freed, queues and features
 * forgotten; `bypass` keeps its value (§5.13.4.2).  Setting FEATURES_OK
 * checks the driver's features: a subset of the offer that includes
 * VIRTIO_F_VERSION_1, else the bit does not stick (§3.1.1 step 6).
 * Setting DRIVER_OK with a queue misconfigured sets NEEDS_RESET.  Bits
 * the driver may not clear without a reset stay set.
 */
AP_API uint8_t ap_viommu_status(const struct ap_viommu *v);
AP_API void ap_viommu_set_status(struct ap_viommu *v, uint8_t status);

/*
 * System reset: a device reset, and `bypass` back to its boot value (the
 * instance's virtio.bypass, §5.13.4.2).
 */
AP_API void ap_viommu_system_reset(struct ap_viommu *v);

/*
 * Device configuration space (struct virtio_iommu_config, little-endian),
 * for the transport's device-specific region.  Reads of [offset,
 * offset+len) past the structure read zeroes.  Writes: only `bypass`, and
 * only once VIRTIO_IOMMU_F_BYPASS_CONFIG is negotiated; a write of another
 * value than 0 or 1 there, or before the feature is negotiated, sets
 * NEEDS_RESET; writes to the other fields are ignored (§5.13.4.1).
 * The generation counter changes with every change of the contents.
 */
AP_API void ap_viommu_config_read(const struct ap_viommu *v, unsigned offset, void *buf,
				  size_t len);
AP_API void ap_viommu_config_write(struct ap_viommu *v, unsigned offset, const void *buf,
				   size_t len);
AP_API uint32_t ap_viommu_config_generation(const struct ap_viommu *v);

/* Queue geometry as the driver programs it (§4.1.4.3 queue_desc,
 * queue_driver, queue_device): guest-physical addresses. */
struct ap_viommu_queue {
	uint16_t size;   /* a power of two, at most queue_size_max */
	uint64_t desc;   /* descriptor table, 16-byte aligned */
	uint64_t driver; /* available ring, 2-byte aligned */
	uint64_t device; /* used ring, 4-byte aligned */
};

/* The queue size the transport offers (queue_size_max) for queue q. */
AP_API uint16_t ap_viommu_queue_max(const struct ap_viommu *v, unsigned q);

/*
 * Enable queue q with that geometry (the transport's queue_enable = 1).
 * Errors, with the queue left disabled: -EINVAL (q not 0 or 1, a size that
 * is not a power of two or exceeds queue_size_max, a misaligned part),
 * -EBUSY (the queue is enabled already, or the status has no DRIVER bit
 * or has NEEDS_RESET).  Rings outside RAM are found when the device first
 * uses them (NEEDS_RESET then).
 */
AP_API int ap_viommu_queue_enable(struct ap_viommu *v, unsigned q,
				  const struct ap_viommu_queue *geometry);
AP_API bool ap_viommu_queue_enabled(const struct ap_viommu *v, unsigned q);

/*
 * The driver's available buffer notification for queue q: the request
 * queue processes every request the driver made available, in order, and
 * returns them in the used ring; the event queue takes the new buffers and
 * fills them with pending faults.  Returns the number of buffers used, or
 * -EINVAL (no such queue), -EBUSY (the queue is not enabled, or the device
 * needs a reset; nothing is done, §2.1.2).
 */
AP_API int ap_viommu_queue_notify(struct ap_viommu *v, unsigned q);

/*
 * Report faults: move the instance's recorded faults (ap_iommu_fault_pop)
 * into event-queue buffers as struct virtio_iommu_fault, oldest first,
 * while the driver has buffers there.  Faults that find no buffer wait in
 * the instance's bounded queue; when that overflows the core records the
 * overflow (ap_iommu_fault_overflow), and ap_viommu_stats() reports it.
 * Returns how many were reported.  Also called by every notify.
 */
AP_API int ap_viommu_report_faults(struct ap_viommu *v);

/* ---------------------------------------------------------------- state */

/* Whether unattached endpoints bypass now (both offered and accepted), and
 * why, in words ("" when they do not). */
AP_API bool ap_viommu_bypass(const struct ap_viommu *v);
AP_API const char *ap_viommu_bypass_reason(const struct ap_viommu *v);

struct ap_viommu_stats {
	uint64_t requests;         /* requests used */
	uint64_t status[9];        /* of those, how many got each
				      VIRTIO_IOMMU_S_* status */
	uint64_t unparsed;         /* returned with used length 0 */
	uint64_t events;           /* faults reported on the event queue */
	uint64_t events_lost;      /* faults the instance's queue dropped
				      while no event buffer was there */
	bool event_overflow;       /* events_lost > 0 */
	unsigned domains;          /* domains that exist now */
	unsigned endpoints_attached;
	const char *needs_reset;   /* why NEEDS_RESET is set, or NULL */
};
AP_API void ap_viommu_stats(const struct ap_viommu *v, struct ap_viommu_stats *out);

/* The index-th (0-based) domain the guest has now, by ID; -ENOENT past
 * the last. */
struct ap_viommu_domain_info {
	uint32_t id;            /* the guest's domain ID */
	struct ap_domain *dom;  /* the aperture domain behind it */
	bool bypass;            /* made with VIRTIO_IOMMU_ATTACH_F_BYPASS */
	unsigned endpoints;     /* attached to it */
	uint64_t mappings;      /* MAP requests it holds */
};
AP_API int ap_viommu_domain_info(const struct ap_viommu *v, size_t index,
				 struct ap_viommu_domain_info *out);

/* The aperture domain of guest domain ID `id`, or NULL if it does not
 * exist; and the domain ID endpoint `ep` is attached to (-ENOENT if
 * none). */
AP_API struct ap_domain *ap_viommu_domain(const struct ap_viommu *v, uint32_t id);
AP_API int64_t ap_viommu_endpoint_domain(const struct ap_viommu *v, uint32_t ep);

#ifdef __cplusplus
}
#endif

#endif /* APERTURE_VIRTIO_IOMMU_H */
