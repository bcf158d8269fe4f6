/* SPDX-License-Identifier: MIT */
/*
 * Inside the virtio layer: the device behind struct ap_viommu, its split
 * virtqueues and the guest's domains.  Everything here sits on the core's
 * public API (include/aperture/core.h); the structs and constants of the
 * virtio uapi come from the system's <linux/virtio_*.h>.  Section numbers
 * in comments are virtio 1.2's.
 */
#ifndef AP_VIRTIO_INTERNAL_H
#define AP_VIRTIO_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_config.h>
#include <linux/virtio_iommu.h>
#include <linux/virtio_ring.h>

#include <aperture/virtio_iommu.h>

#define VIOMMU_FRONTEND_KEY "virtio-iommu"

/* Device bits this device knows, and the transport bits it can offer. */
#define VIOMMU_DEVICE_BITS                                                                  \
	(AP_VIOMMU_FEATURE(VIRTIO_IOMMU_F_INPUT_RANGE) |                                    \
	 AP_VIOMMU_FEATURE(VIRTIO_IOMMU_F_DOMAIN_RANGE) |                                   \
	 AP_VIOMMU_FEATURE(VIRTIO_IOMMU_F_MAP_UNMAP) | AP_VIOMMU_FEATURE(VIRTIO_IOMMU_F_BYPASS) | \
	 AP_VIOMMU_FEATURE(VIRTIO_IOMMU_F_PROBE) | AP_VIOMMU_FEATURE(VIRTIO_IOMMU_F_MMIO) |  \
	 AP_VIOMMU_FEATURE(VIRTIO_IOMMU_F_BYPASS_CONFIG))
#define VIOMMU_RING_BITS                                                                    \
	(AP_VIOMMU_FEATURE(VIRTIO_RING_F_INDIRECT_DESC) |                                   \
	 AP_VIOMMU_FEATURE(VIRTIO_RING_F_EVENT_IDX))
#define VIOMMU_VERSION_1 AP_VIOMMU_FEATURE(VIRTIO_F_VERSION_1)

/* Largest request the device reads: PROBE's head, endpoint and padding. */
#define VIOMMU_REQ_MAX ((unsigned)sizeof(struct virtio_iommu_req_probe))

/* ------------------------------------------------------------ mappings */

/* One MAP request's range (inclusive), an AVL node (itree.c). */
struct vmap {
	uint64_t start, end, phys;
	uint32_t flags; /* VIRTIO_IOMMU_MAP_F_* */
	struct vmap *left, *right;
	int height;
};

void ap__itree_insert(struct vmap **root, struct vmap *n);
void ap__itree_remove(struct vmap **root, struct vmap *n);
/* The first range that ends at or after addr. */
struct vmap *ap__itree_first_from(struct vmap *root, uint64_t addr);
/* The range holding addr, or NULL. */
struct vmap *ap__itree_find(struct vmap *root, uint64_t addr);
struct vmap *ap__itree_next(struct vmap *root, const struct vmap *n);
bool ap__itree_overlaps(struct vmap *root, uint64_t start, uint64_t end);
void ap__itree_destroy(struct ap_ctx *ctx, struct vmap *root);

/* ------------------------------------------------------------ domains */

struct vep;

/* A guest domain: an aperture domain and the guest's view of it. */
struct vdom {
	uint32_t id;
	bool bypass;            /* VIRTIO_IOMMU_ATTACH_F_BYPASS: identity */
	struct ap_domain *dom;
	struct vmap *maps;      /* the guest's mappings (paging only) */
	uint64_t nmaps;
	unsigned nep;           /* endpoints attached */
};

/* An endpoint the guest has named in an ATTACH. */
struct vep {
	uint32_t id;
	struct ap_device *dev;
	struct vdom *dom;       /* attached to, or NULL */
};

/* ------------------------------------------------------------ queues */

/* A buffer segment of a chain: guest-physical [pa, pa+len), and its host
 * view when the whole segment is RAM (else NULL: pieces are looked up). */
struct vseg {
	uint64_t pa;
	uint32_t len;
	uint8_t *host;
};

/* A descriptor chain taken from the available ring (§2.7.13). */
struct vchain {
	uint16_t head;
	unsigned nrd, nwr;      /* readable segments first, then writable */
	uint64_t rd_len, wr_len;
};

struct vq {
	bool enabled;
	uint16_t size;
	uint64_t desc, avail, used;
	uint16_t last_avail;    /* next available entry to take */
	uint16_t used_idx;      /* the used ring's idx, as we wrote it */
	struct vseg *segs;      /* room for the longest legal chain (size) */
	/* Host views of the rings for the notify in progress. */
	uint8_t *hdesc, *havail, *hused;
};

/* ------------------------------------------------------------ device */

struct vstate;

struct ap_viommu {
	struct ap_ctx *ctx;
	struct ap_iommu *iommu;
	struct vstate *vs;
	pthread_mutex_t lock;
	struct ap_viommu_config cfg;
	uint64_t page_size_mask;
	uint64_t input_start, input_end;
	uint32_t domain_start, domain_end;
	uint8_t boot_bypass;
	uint64_t granule;       /* smallest page size */

	uint8_t status;
	uint64_t driver_features;
	uint64_t negotiated;    /* driver_features once FEATURES_OK stuck */
	uint8_t bypass;         /* config field */
	bool bypass_active;     /* unattached endpoints bypass now */
	const char *bypass_reason;
	uint32_t generation;
	const char *needs_reset;
	ap_viommu_irq_fn irq;
	void *irq_arg;

	struct vq q[AP_VIOMMU_NQUEUES];

	struct vdom **doms;     /* sorted by id */
	size_t ndoms, doms_cap;
	struct vep **eps;       /* sorted by id */
	size_t neps, eps_cap;

	struct ap_viommu_stats st;
	uint64_t faults_base;   /* instance faults before the device existed */

	/* The RAM region the last guest access fell in, kept for one notify
	 * (rings and buffers mostly share one): a range check instead of a
	 * lookup.  The guest's RAM may not go while the device uses it. */
	struct {
		uint64_t pa, size;
		uint8_t *host;
	} ram;
	/* Mapping nodes UNMAP gave back, for the next MAP (context memory). */
	struct vmap *spare;
	unsigned nspare;
};

/* The context's list of devices. */
struct vstate {
	struct ap_ctx *ctx;
	struct ap_viommu **devs;
	size_t ndevs;
};

static inline bool viommu_has(const struct ap_viommu *v, unsigned bit)
{
	return (v->negotiated >> bit) & 1;
}

/* viommu.c */
void ap__viommu_needs_reset(struct ap_viommu *v, const char *why);
void ap__viommu_irq(struct ap_viommu *v, int queue);
void ap__viommu_update_bypass(struct ap_viommu *v);

/* vring.c: the device side of a split virtqueue. */
/* Host view of guest-physical [pa, pa+len) within one RAM region, or NULL. */
uint8_t *ap__viommu_ram(struct ap_viommu *v, uint64_t pa, uint64_t len);
int ap__vq_begin(struct ap_viommu *v, struct vq *vq);
/* 1 with a chain, 0 when the ring is empty, -1 when it is malformed
 * (NEEDS_RESET is set). */
int ap__vq_pop(struct ap_viommu *v, struct vq *vq, struct vchain *c);
/* Put back the chain last popped (nothing was written to it). */
void ap__vq_unpop(struct vq *vq);
void ap__vq_push(struct ap_viommu *v, struct vq *vq, uint16_t head, uint32_t len);
/* With EVENT_IDX: publish avail_event (the next entry), and whether the
 * driver made more available meanwhile (process those too). */
bool ap__vq_settle(struct ap_viommu *v, struct vq *vq);
/* End a batch: raise the interrupt if the driver wants one for what was
 * used since used_before (§2.7.7). */
void ap__vq_end(struct ap_viommu *v, struct vq *vq, unsigned qi, uint16_t used_before);
/* Copy between a chain's readable / writable bytes and a buffer:
 * 0, or -EFAULT when a segment touched is not RAM. */
int ap__vq_read(struct ap_viommu *v, const struct vq *vq, const struct vchain *c, void *buf,
		size_t len);
int ap__vq_write(struct ap_viommu *v, const struct vq *vq, const struct vchain *c,
		 uint64_t off, const void *buf, size_t len);
/* Whether the writable bytes [0, len) all lie in RAM. */
bool ap__vq_writable(struct ap_viommu *v, const struct vq *vq, const struct vchain *c,
		     size_t len);

/* request.c */
void ap__viommu_process_requests(struct ap_viommu *v);
void ap__viommu_domains_reset(struct ap_viommu *v);
struct vdom *ap__viommu_find_dom(const struct ap_viommu *v, uint32_t id);
struct vep *ap__viommu_find_ep(const struct ap_viommu *v, uint32_t id);

/* event.c */
int ap__viommu_report(struct ap_viommu *v);

#endif /* AP_VIRTIO_INTERNAL_H */
