/* SPDX-License-Identifier: MIT */
/*
 * The test driver's virtqueues (see vdriver.h).  Section numbers are
 * virtio 1.2's.
 */
#include "vdriver.h"

#include <string.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

/* Where things live in the driver's window. */
#define OFF_Q(q) ((uint64_t)(q) * 0x4000)
#define OFF_DESC 0x0000
#define OFF_AVAIL 0x1000
#define OFF_USED 0x2000
#define OFF_INDIRECT 0x8000
#define OFF_EVBUF 0x10000
#define EVBUF_STRIDE 0x100
#define OFF_DATA 0x20000
#define DATA_SIZE 0x10000
#define OFF_SCRATCH 0x30000
#define WINDOW_MIN 0x40000
#define QSIZE_MAX 256

static void wr16(struct vdrv *d, uint64_t pa, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	d->t.mem_write(d->t.arg, pa, b, 2);
}

static uint16_t rd16(struct vdrv *d, uint64_t pa)
{
	uint8_t b[2];

	d->t.mem_read(d->t.arg, pa, b, 2);
	return (uint16_t)(b[0] | b[1] << 8);
}

static uint32_t rd32(struct vdrv *d, uint64_t pa)
{
	uint8_t b[4];

	d->t.mem_read(d->t.arg, pa, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void le_put(uint8_t *p, uint64_t v, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t vdrv_scratch(const struct vdrv *d)
{
	return d->base + OFF_SCRATCH;
}

uint8_t vdrv_negotiate(struct vdrv *d, uint64_t want)
{
	unsigned i;

	d->t.set_status(d->t.arg, 0); /* §2.4: reset, and wait until it reads 0 */
	for (i = 0; i < 1000 && d->t.get_status(d->t.arg); i++)
		usleep(100);
	d->t.set_status(d->t.arg, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	d->t.set_status(d->t.arg, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	d->features = d->t.device_features(d->t.arg) & want;
	d->t.driver_features(d->t.arg, d->features);
	d->t.set_status(d->t.arg, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					  VIRTIO_CONFIG_S_FEATURES_OK);
	return d->t.get_status(d->t.arg);
}

static void queue_init(struct vdrv *d, unsigned q, uint16_t qsize)
{
	struct vdrv_queue *vq = &d->q[q];
	uint16_t max = d->t.queue_max(d->t.arg, q);
	uint64_t at = d->base + OFF_Q(q);

	vq->size = qsize < max || !max ? qsize : max;
	vq->desc = at + OFF_DESC;
	vq->avail = at + OFF_AVAIL;
	vq->used = at + OFF_USED;
	vq->avail_idx = 0;
	vq->last_used = 0;
	/* §2.7.10.1: the used ring's flags start at 0; everything else too. */
	for (at = d->base + OFF_Q(q); at < d->base + OFF_Q(q + 1); at += 0x1000) {
		static const uint8_t zero[0x1000];

		d->t.mem_write(d->t.arg, at, zero, sizeof(zero));
	}
	d->t.queue_setup(d->t.arg, q, vq->size, vq->desc, vq->avail, vq->used);
	d->t.queue_enable(d->t.arg, q);
}

int vdrv_init(struct vdrv *d, const struct vdrv_transport *t, uint64_t base, uint64_t size,
	      uint64_t want, uint16_t qsize, uint8_t *status_out)
{
	uint8_t st;

	memset(d, 0, sizeof(*d));
	d->t = *t;
	d->base = base;
	d->size = size;
	d->data = base + OFF_DATA;
	d->evbuf = base + OFF_EVBUF;
	d->spins = 2000;
	if (size < WINDOW_MIN || qsize == 0 || qsize > QSIZE_MAX || (qsize & (qsize - 1)))
		return -1;
	st = vdrv_negotiate(d, want);
	if (status_out)
		*status_out = st;
	if (!(st & VIRTIO_CONFIG_S_FEATURES_OK))
		return -1;
	queue_init(d, 0, qsize);
	queue_init(d, 1, qsize);
	d->t.set_status(d->t.arg, st | VIRTIO_CONFIG_S_DRIVER_OK);
	st = d->t.get_status(d->t.arg);
	if (status_out)
		*status_out = st;
	return st & VIRTIO_CONFIG_S_DRIVER_OK && !(st & VIRTIO_CONFIG_S_NEEDS_RESET) ? 0 : -1;
}

void vdrv_put_desc(struct vdrv *d, unsigned q, uint16_t idx, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next)
{
	uint8_t b[16];

	le_put(b, addr, 8);
	le_put(b + 8, len, 4);
	le_put(b + 12, flags, 2);
	le_put(b + 14, next, 2);
	d->t.mem_write(d->t.arg, d->q[q].desc + 16ull * idx, b, 16);
}

void vdrv_publish(struct vdrv *d, unsigned q, uint16_t head)
{
	struct vdrv_queue *vq = &d->q[q];

	wr16(d, vq->avail + 4 + 2ull * (vq->avail_idx % vq->size), head);
	vq->avail_idx++;
	wr16(d, vq->avail + 2, vq->avail_idx); /* §2.7.13.3 */
	d->t.notify(d->t.arg, q);
}

int vdrv_used_next(struct vdrv *d, unsigned q, uint32_t *id, uint32_t *len)
{
	struct vdrv_queue *vq = &d->q[q];
	unsigned spin;

	for (spin = 0; spin < d->spins; spin++) {
		if (d->t.broken && d->t.broken(d->t.arg))
			return 0;
		if (rd16(d, vq->used + 2) != vq->last_used) {
			uint64_t e = vq->used + 4 + 8ull * (vq->last_used % vq->size);

			*id = rd32(d, e);
			*len = rd32(d, e + 4);
			vq->last_used++;
			return 1;
		}
		if (spin > 2)
			usleep(spin < 20 ? 100 : 1000);
	}
	return 0;
}

/* Split n bytes into parts pieces (at least 1 byte each while bytes last). */
static unsigned pieces(size_t n, unsigned parts, size_t *len)
{
	unsigned i, k = parts ? parts : 1;

	if (n && k > n)
		k = (unsigned)n;
	for (i = 0; i < k; i++)
		len[i] = n / k + (i < n % k);
	return k;
}

int vdrv_request(struct vdrv *d, const void *rd, size_t rd_len, void *wr, size_t wr_len,
		 const struct vdrv_layout *layout, uint32_t *used_len)
{
	static const struct vdrv_layout plain = { 1, 1, false };
	const struct vdrv_layout *l = layout ? layout : &plain;
	size_t rlen[64], wlen[64];
	uint64_t raddr[64], waddr[64];
	unsigned nr, nw, i, n;
	uint64_t at = d->data, table;
	size_t done;
	uint32_t id, len;
	uint8_t zero[256];

	if (l->rd_parts > 64 || l->wr_parts > 64)
		return -1;
	nr = rd_len ? pieces(rd_len, l->rd_parts, rlen) : 0;
	nw = wr_len ? pieces(wr_len, l->wr_parts, wlen) : 0;
	n = nr + nw;
	if (!n || n > d->q[0].size)
		return -1;
	/* Pieces 32 bytes apart, so a device that assumed them contiguous
	 * would read the gap. */
	for (i = 0, done = 0; i < nr; i++) {
		raddr[i] = at;
		d->t.mem_write(d->t.arg, at, (const uint8_t *)rd + done, rlen[i]);
		done += rlen[i];
		at += rlen[i] + 32;
	}
	for (i = 0; i < nw; i++) {
		waddr[i] = at;
		memset(zero, 0, sizeof(zero));
		for (done = 0; done < wlen[i]; done += sizeof(zero)) {
			size_t c = wlen[i] - done < sizeof(zero) ? wlen[i] - done : sizeof(zero);

			d->t.mem_write(d->t.arg, at + done, zero, c);
		}
		at += wlen[i] + 32;
	}
	if (at > d->data + DATA_SIZE)
		return -1;
	if (l->indirect) {
		/* The chain in a table: indices are table entries (§2.7.5.3). */
		struct vdrv_queue saved = d->q[0];

		table = d->base + OFF_INDIRECT;
		d->q[0].desc = table;
		for (i = 0; i < n; i++) {
			bool w = i >= nr;

			vdrv_put_desc(d, 0, (uint16_t)i, w ? waddr[i - nr] : raddr[i],
				      (uint32_t)(w ? wlen[i - nr] : rlen[i]),
				      (uint16_t)((w ? VRING_DESC_F_WRITE : 0) |
						 (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
				      (uint16_t)(i + 1 < n ? i + 1 : 0));
		}
		d->q[0] = saved;
		vdrv_put_desc(d, 0, 0, table, 16 * n, VRING_DESC_F_INDIRECT, 0);
	} else {
		for (i = 0; i < n; i++) {
			bool w = i >= nr;

			vdrv_put_desc(d, 0, (uint16_t)i, w ? waddr[i - nr] : raddr[i],
				      (uint32_t)(w ? wlen[i - nr] : rlen[i]),
				      (uint16_t)((w ? VRING_DESC_F_WRITE : 0) |
						 (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
				      (uint16_t)(i + 1 < n ? i + 1 : 0));
		}
	}
	vdrv_publish(d, 0, 0);
	if (!vdrv_used_next(d, 0, &id, &len))
		return d->t.broken && d->t.broken(d->t.arg) ? -1 : 1;
	if (used_len)
		*used_len = len;
	for (i = 0, at = 0; i < nw; i++) {
		d->t.mem_read(d->t.arg, waddr[i], (uint8_t *)wr + at, wlen[i]);
		at += wlen[i];
	}
	return 0;
}

static int status_of(int rc, uint32_t used, const uint8_t *tail)
{
	if (rc < 0)
		return -3;
	if (rc > 0)
		return -2;
	if (used == 0)
		return -1;
	return tail[0];
}

int vdrv_raw(struct vdrv *d, const void *rd, size_t rd_len, size_t wr_len, uint32_t *used_len)
{
	uint8_t wr[4096];
	uint32_t used = 0;
	int rc;

	if (wr_len < 4 || wr_len > sizeof(wr))
		return -3;
	rc = vdrv_request(d, rd, rd_len, wr, wr_len, NULL, &used);
	if (used_len)
		*used_len = used;
	return status_of(rc, used, wr + wr_len - 4);
}

int vdrv_attach(struct vdrv *d, uint32_t domain, uint32_t ep, uint32_t flags)
{
	struct virtio_iommu_req_attach r;

	memset(&r, 0, sizeof(r));
	r.head.type = VIRTIO_IOMMU_T_ATTACH;
	r.domain = domain;
	r.endpoint = ep;
	r.flags = flags;
	return vdrv_raw(d, &r, offsetof(struct virtio_iommu_req_attach, tail), 4, NULL);
}

int vdrv_detach(struct vdrv *d, uint32_t domain, uint32_t ep)
{
	struct virtio_iommu_req_detach r;

	memset(&r, 0, sizeof(r));
	r.head.type = VIRTIO_IOMMU_T_DETACH;
	r.domain = domain;
	r.endpoint = ep;
	return vdrv_raw(d, &r, offsetof(struct virtio_iommu_req_detach, tail), 4, NULL);
}

int vdrv_map(struct vdrv *d, uint32_t domain, uint64_t vstart, uint64_t vend, uint64_t pstart,
	     uint32_t flags)
{
	struct virtio_iommu_req_map r;

	memset(&r, 0, sizeof(r));
	r.head.type = VIRTIO_IOMMU_T_MAP;
	r.domain = domain;
	r.virt_start = vstart;
	r.virt_end = vend;
	r.phys_start = pstart;
	r.flags = flags;
	return vdrv_raw(d, &r, offsetof(struct virtio_iommu_req_map, tail), 4, NULL);
}

int vdrv_unmap(struct vdrv *d, uint32_t domain, uint64_t vstart, uint64_t vend)
{
	struct virtio_iommu_req_unmap r;

	memset(&r, 0, sizeof(r));
	r.head.type = VIRTIO_IOMMU_T_UNMAP;
	r.domain = domain;
	r.virt_start = vstart;
	r.virt_end = vend;
	return vdrv_raw(d, &r, offsetof(struct virtio_iommu_req_unmap, tail), 4, NULL);
}

int vdrv_probe(struct vdrv *d, uint32_t ep, void *props, size_t probe_size)
{
	struct virtio_iommu_req_probe r;
	uint8_t wr[4096 + 4];
	uint32_t used = 0;
	int rc;

	if (probe_size > 4096)
		return -3;
	memset(&r, 0, sizeof(r));
	r.head.type = VIRTIO_IOMMU_T_PROBE;
	r.endpoint = ep;
	rc = vdrv_request(d, &r, sizeof(r), wr, probe_size + 4, NULL, &used);
	if (props)
		memcpy(props, wr, probe_size);
	return status_of(rc, used, wr + probe_size);
}

void vdrv_read_config(struct vdrv *d, struct virtio_iommu_config *c)
{
	unsigned tries;

	/* §4.1.4.3.1/§2.5.1: re-read while the generation moves. */
	for (tries = 0; tries < 10; tries++) {
		uint8_t gen = d->t.config_generation(d->t.arg);
		void *a = d->t.arg;

		c->page_size_mask = d->t.config_read(a, 0, 4) | (uint64_t)d->t.config_read(a, 4, 4)
								   << 32;
		c->input_range.start =
			d->t.config_read(a, 8, 4) | (uint64_t)d->t.config_read(a, 12, 4) << 32;
		c->input_range.end =
			d->t.config_read(a, 16, 4) | (uint64_t)d->t.config_read(a, 20, 4) << 32;
		c->domain_range.start = d->t.config_read(a, 24, 4);
		c->domain_range.end = d->t.config_read(a, 28, 4);
		c->probe_size = d->t.config_read(a, 32, 4);
		c->bypass = (uint8_t)d->t.config_read(a, 36, 1);
		c->reserved[0] = (uint8_t)d->t.config_read(a, 37, 1);
		c->reserved[1] = (uint8_t)d->t.config_read(a, 38, 1);
		c->reserved[2] = (uint8_t)d->t.config_read(a, 39, 1);
		if (d->t.config_generation(a) == gen)
			return;
	}
}

void vdrv_event_post(struct vdrv *d, unsigned n, uint32_t len)
{
	struct vdrv_queue *vq = &d->q[1];
	unsigned i;

	if (len > EVBUF_STRIDE)
		len = EVBUF_STRIDE;
	for (i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)(vq->avail_idx % vq->size);
		uint64_t buf = d->evbuf + (uint64_t)idx * EVBUF_STRIDE;
		uint8_t junk[EVBUF_STRIDE];

		memset(junk, 0xee, sizeof(junk));
		d->t.mem_write(d->t.arg, buf, junk, len);
		vdrv_put_desc(d, 1, idx, buf, len, VRING_DESC_F_WRITE, 0);
		wr16(d, vq->avail + 4 + 2ull * idx, idx);
		vq->avail_idx++;
		d->evpending++;
	}
	wr16(d, vq->avail + 2, vq->avail_idx);
	d->t.notify(d->t.arg, 1);
}

int vdrv_event_next(struct vdrv *d, struct virtio_iommu_fault *out, uint32_t *len)
{
	struct vdrv_queue *vq = &d->q[1];
	uint32_t id, l;

	if (rd16(d, vq->used + 2) == vq->last_used)
		return 0;
	{
		uint64_t e = vq->used + 4 + 8ull * (vq->last_used % vq->size);

		id = rd32(d, e);
		l = rd32(d, e + 4);
		vq->last_used++;
	}
	if (id >= vq->size)
		id = 0;
	memset(out, 0, sizeof(*out));
	d->t.mem_read(d->t.arg, d->evbuf + (uint64_t)id * EVBUF_STRIDE, out, sizeof(*out));
	if (len)
		*len = l;
	if (d->evpending)
		d->evpending--;
	return 1;
}
