/* SPDX-License-Identifier: MIT */
/*
 * The `viommu` commands' plumbing: a virtio-iommu device on an instance of
 * kind virtio-iommu, and a guest driver for it, as small as a driver can
 * be.  Its rings and buffers take 64 KiB of RAM of their own, placed where
 * a machine's firmware would put a new bank; requests go one at a time
 * (two descriptors: the request, then the reply); 16 event buffers stay
 * posted.  Section numbers are virtio 1.2's.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_iommu.h>
#include <linux/virtio_ring.h>

#include "scn_internal.h"

#define SCN_VIRTIO_KEY "scenario-virtio"
#define DRV_SIZE 0x10000ull
#define QSIZE 16
#define OFF_Q(q) ((uint64_t)(q) * 0x3000)
#define OFF_AVAIL 0x1000
#define OFF_USED 0x2000
#define OFF_REQ 0x6000
#define OFF_REPLY 0x7000
#define OFF_EVENTS 0x9000
#define EVENT_STRIDE 64
#define MAX_DRIVERS 16

struct sdrv {
	struct ap_viommu *v;
	uint64_t base;        /* guest-physical base of the driver's RAM */
	uint8_t *host;
	uint16_t avail_idx[2], used_seen[2];
	uint32_t probe_size;
};

struct sstate {
	struct ap_ctx *ctx;
	struct sdrv drv[MAX_DRIVERS];
	unsigned n;
};

static void state_destroy(void *arg)
{
	struct sstate *s = arg;

	ap_mem_free(s->ctx, s);
}

static struct sdrv *driver_of(struct ap_ctx *ctx, const struct ap_iommu *iommu)
{
	struct sstate *s = ap_ctx_frontend(ctx, SCN_VIRTIO_KEY);
	unsigned i;

	for (i = 0; s && i < s->n; i++)
		if (ap_viommu_iommu(s->drv[i].v) == iommu)
			return &s->drv[i];
	return NULL;
}

static void *at(struct sdrv *d, uint64_t off)
{
	return d->host + off;
}

static void put_desc(struct sdrv *d, unsigned q, unsigned i, uint64_t off, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct vring_desc desc = { htole64(d->base + off), htole32(len), htole16(flags),
				   htole16(next) };

	memcpy(at(d, OFF_Q(q) + 16ull * i), &desc, sizeof(desc));
}

/* Make head available on queue q and notify the device (§2.7.13). */
static void publish(struct sdrv *d, unsigned q, uint16_t head)
{
	uint16_t *avail = at(d, OFF_Q(q) + OFF_AVAIL);

	avail[2 + d->avail_idx[q] % QSIZE] = htole16(head);
	d->avail_idx[q]++;
	__atomic_store_n(&avail[1], htole16(d->avail_idx[q]), __ATOMIC_RELEASE);
	ap_viommu_queue_notify(d->v, q);
}

/* The next used entry of queue q: its id and length; false if none. */
static bool take_used(struct sdrv *d, unsigned q, uint32_t *id, uint32_t *len)
{
	const struct vring_used *u = at(d, OFF_Q(q) + OFF_USED);
	uint16_t idx = le16toh(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE));

	if (idx == d->used_seen[q])
		return false;
	*id = le32toh(u->ring[d->used_seen[q] % QSIZE].id);
	*len = le32toh(u->ring[d->used_seen[q] % QSIZE].len);
	d->used_seen[q]++;
	return true;
}

static void post_event(struct sdrv *d, uint16_t slot)
{
	put_desc(d, 1, slot, OFF_EVENTS + (uint64_t)slot * EVENT_STRIDE,
		 sizeof(struct virtio_iommu_fault), VRING_DESC_F_WRITE, 0);
	publish(d, 1, slot);
}

int ap__scn_viommu_new(struct ap_ctx *ctx, struct ap_iommu *iommu, uint64_t offer,
		       uint64_t accept)
{
	struct ap_viommu_config cfg;
	struct sstate *s = ap_ctx_frontend(ctx, SCN_VIRTIO_KEY);
	struct ap_viommu *v = NULL;
	struct sdrv *d;
	uint64_t pa;
	uint8_t status;
	unsigned q;
	int err;

	if (!s) {
		s = ap_mem_alloc(ctx, sizeof(*s));
		if (!s) {
			ap_ctx_set_error(ctx, "out of memory for the virtio-iommu drivers");
			return -ENOMEM;
		}
		s->ctx = ctx;
		err = ap_ctx_set_frontend(ctx, SCN_VIRTIO_KEY, s, state_destroy);
		if (err) {
			ap_mem_free(ctx, s);
			return err;
		}
	}
	if (s->n == MAX_DRIVERS) {
		ap_ctx_set_error(ctx, "at most %d virtio-iommu devices in a scenario", MAX_DRIVERS);
		return -ENOSPC;
	}
	ap_viommu_config_init(&cfg);
	if (offer)
		cfg.features = offer;
	err = ap_ram_place(ctx, DRV_SIZE, DRV_SIZE, 0, UINT64_MAX, &pa);
	if (err) {
		ap_ctx_set_error(ctx, "no room for the driver's 64 KiB of rings");
		return err;
	}
	err = ap_viommu_new(ctx, iommu, &cfg, &v);
	if (err)
		return err;
	d = &s->drv[s->n];
	memset(d, 0, sizeof(*d));
	d->v = v;
	d->base = pa;
	err = ap_ram_alloc(ctx, pa, DRV_SIZE, (void **)&d->host);
	if (err) {
		ap_viommu_free(v);
		return err;
	}
	/* §3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK. */
	ap_viommu_set_status(v, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	ap_viommu_set_driver_features(v, ap_viommu_device_features(v) &
					 (accept | AP_VIOMMU_FEATURE(VIRTIO_F_VERSION_1)));
	ap_viommu_set_status(v, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					VIRTIO_CONFIG_S_FEATURES_OK);
	for (q = 0; q < AP_VIOMMU_NQUEUES; q++) {
		struct ap_viommu_queue g = { QSIZE, pa + OFF_Q(q), pa + OFF_Q(q) + OFF_AVAIL,
					     pa + OFF_Q(q) + OFF_USED };

		err = err ? err : ap_viommu_queue_enable(v, q, &g);
	}
	status = ap_viommu_status(v);
	if (err || !(status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		if (err == -ENOMEM)
			ap_ctx_set_error(ctx, "out of memory for the virtio-iommu's queues");
		else
			ap_ctx_set_error(ctx, "the virtio-iommu device refused the driver "
					      "(status 0x%x)", status);
		ap_viommu_free(v);
		ap_ram_remove(ctx, pa);
		return err ? err : -EINVAL;
	}
	ap_viommu_set_status(v, status | VIRTIO_CONFIG_S_DRIVER_OK);
	ap_viommu_config_read(v, offsetof(struct virtio_iommu_config, probe_size), &d->probe_size,
			      sizeof(d->probe_size));
	d->probe_size = le32toh(d->probe_size);
	s->n++;
	for (q = 0; q < QSIZE; q++)
		post_event(d, (uint16_t)q);
	return 0;
}

/* One request: the status the device wrote, or -1 if it returned the
 * buffer unwritten; the reply in *reply (probe_size + 4 bytes at most). */
int ap__scn_viommu_request(struct ap_ctx *ctx, struct ap_iommu *iommu, const void *req,
			   size_t len, bool probe, const uint8_t **reply, int *status)
{
	struct sdrv *d = driver_of(ctx, iommu);
	size_t wlen;
	uint32_t id, used;

	if (!d) {
		ap_ctx_set_error(ctx, "%s has no virtio-iommu device: 'viommu %s' first",
				 ap_iommu_name(iommu), ap_iommu_name(iommu));
		return -ENOENT;
	}
	wlen = probe ? d->probe_size + 4 : 4;
	if (wlen > OFF_EVENTS - OFF_REPLY)
		wlen = OFF_EVENTS - OFF_REPLY;
	memcpy(at(d, OFF_REQ), req, len);
	memset(at(d, OFF_REPLY), 0, wlen);
	put_desc(d, 0, 0, OFF_REQ, (uint32_t)len, VRING_DESC_F_NEXT, 1);
	put_desc(d, 0, 1, OFF_REPLY, (uint32_t)wlen, VRING_DESC_F_WRITE, 0);
	publish(d, 0, 0);
	if (!take_used(d, 0, &id, &used)) {
		ap_ctx_set_error(ctx, "the device did not answer (status 0x%x)",
				 ap_viommu_status(d->v));
		return -EIO;
	}
	*reply = at(d, OFF_REPLY);
	*status = used >= 4 ? ((const uint8_t *)at(d, OFF_REPLY))[wlen - 4] : -1;
	return 0;
}

int ap__scn_viommu_bypass(struct ap_ctx *ctx, struct ap_iommu *iommu, uint8_t value)
{
	struct sdrv *d = driver_of(ctx, iommu);

	if (!d) {
		ap_ctx_set_error(ctx, "%s has no virtio-iommu device", ap_iommu_name(iommu));
		return -ENOENT;
	}
	ap_viommu_config_write(d->v, offsetof(struct virtio_iommu_config, bypass), &value, 1);
	if (ap_viommu_status(d->v) & VIRTIO_CONFIG_S_NEEDS_RESET) {
		ap_ctx_set_error(ctx, "the device wants a reset: bypass written without "
				      "VIRTIO_IOMMU_F_BYPASS_CONFIG, or not 0 or 1");
		return -EIO;
	}
	return 0;
}

/* Report faults, and describe the events that came in text (reposting
 * their buffers).  How many there were. */
int ap__scn_viommu_events(struct ap_ctx *ctx, struct ap_iommu *iommu, char *text, size_t len,
			  unsigned *count)
{
	static const char *const reasons[] = { "unknown", "domain", "mapping" };
	struct sdrv *d = driver_of(ctx, iommu);
	uint32_t id, used;
	size_t off = 0;

	*count = 0;
	text[0] = '\0';
	if (!d) {
		ap_ctx_set_error(ctx, "%s has no virtio-iommu device", ap_iommu_name(iommu));
		return -ENOENT;
	}
	ap_viommu_report_faults(d->v);
	while (take_used(d, 1, &id, &used)) {
		struct virtio_iommu_fault f;
		uint32_t flags;
		int n;

		memcpy(&f, at(d, OFF_EVENTS + (uint64_t)(id % QSIZE) * EVENT_STRIDE), sizeof(f));
		flags = le32toh(f.flags);
		post_event(d, (uint16_t)(id % QSIZE));
		(*count)++;
		if (off >= len)
			continue;
		n = snprintf(text + off, len - off,
			     "%s%s ep 0x%x iova 0x%llx%s%s", *count > 1 ? "; " : "",
			     f.reason < 3 ? reasons[f.reason] : "?", le32toh(f.endpoint),
			     (unsigned long long)le64toh(f.address),
			     flags & VIRTIO_IOMMU_FAULT_F_READ ? " read" : "",
			     flags & VIRTIO_IOMMU_FAULT_F_WRITE ? " write" : "");
		off += n > 0 ? (size_t)n : 0;
	}
	return 0;
}
