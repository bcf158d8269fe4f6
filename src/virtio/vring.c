/* SPDX-License-Identifier: MIT */
/*
 * The device side of a split virtqueue (virtio 1.2 §2.7): take descriptor
 * chains from the available ring, return them in the used ring, and decide
 * when the driver wants to hear about it.
 *
 * The rings are the guest's memory, and the guest may be wrong or hostile:
 * every descriptor is copied once and checked before it is used, every
 * index is bounded by the table it indexes, and a chain is never longer
 * than the queue (which also ends any loop).  What the device cannot walk
 * sets NEEDS_RESET (§2.1.2); a buffer it cannot reach fails that request
 * only (request.c).
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "virtio_internal.h"

uint8_t *ap__viommu_ram(struct ap_viommu *v, uint64_t pa, uint64_t len)
{
	struct ap_ram_info r;

	if (pa + len < pa)
		return NULL;
	if (pa - v->ram.pa < v->ram.size && len <= v->ram.size - (pa - v->ram.pa))
		return v->ram.host + (pa - v->ram.pa);
	if (ap_ram_lookup(v->ctx, pa, &r) || len > r.size - (pa - r.pa))
		return NULL;
	v->ram.pa = r.pa;
	v->ram.size = r.size;
	v->ram.host = r.host;
	return v->ram.host + (pa - r.pa);
}

static uint8_t *ram(struct ap_viommu *v, uint64_t pa, uint64_t len)
{
	return ap__viommu_ram(v, pa, len);
}

static size_t event_word(const struct ap_viommu *v)
{
	return viommu_has(v, VIRTIO_RING_F_EVENT_IDX) ? 2 : 0;
}

int ap__vq_begin(struct ap_viommu *v, struct vq *vq)
{
	size_t n = vq->size;

	vq->hdesc = ram(v, vq->desc, 16 * n);
	vq->havail = ram(v, vq->avail, 4 + 2 * n + event_word(v));
	vq->hused = ram(v, vq->used, 4 + 8 * n + event_word(v));
	if (!vq->hdesc || !vq->havail || !vq->hused) {
		ap__viommu_needs_reset(v, "a ring of a queue is not in RAM");
		return -1;
	}
	/* The ring indices are read and written atomically through these. */
	if ((uintptr_t)vq->havail % 2 || (uintptr_t)vq->hused % 4) {
		ap__viommu_needs_reset(v, "a ring's host memory is misaligned");
		return -1;
	}
	return 0;
}

static uint16_t avail_idx(const struct vq *vq)
{
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)(vq->havail + 2),
				       __ATOMIC_ACQUIRE));
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

/* A ring field the driver writes while we run (flags, used_event): one
 * atomic load, after our used idx in sequential order. */
static uint16_t load16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_SEQ_CST));
}

/* One descriptor, copied out of the guest's table before it is trusted. */
struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static void get_desc(const uint8_t *table, unsigned i, struct vdesc *d)
{
	struct vring_desc raw;

	memcpy(&raw, table + 16 * (size_t)i, sizeof(raw));
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
}

static int malformed(struct ap_viommu *v, const char *why)
{
	ap__viommu_needs_reset(v, why);
	return -1;
}

/* Follow an indirect descriptor (§2.7.5.3): its table, or NULL (reset). */
static const uint8_t *indirect_table(struct ap_viommu *v, const struct vq *vq,
				     const struct vdesc *d, bool nested, unsigned *n)
{
	const uint8_t *t;

	if (nested)
		return malformed(v, "an indirect descriptor inside an indirect table"), NULL;
	if (!viommu_has(v, VIRTIO_RING_F_INDIRECT_DESC))
		return malformed(v, "an indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC"),
		       NULL;
	if (d->flags & VRING_DESC_F_NEXT)
		return malformed(v, "a descriptor with both INDIRECT and NEXT"), NULL;
	if (d->len == 0 || d->len % 16 || d->len / 16 > vq->size)
		return malformed(v, "an indirect table whose length is not 16..16*queue size "
				    "in steps of 16"),
		       NULL;
	t = ram(v, d->addr, d->len);
	if (!t)
		return malformed(v, "an indirect table outside RAM"), NULL;
	*n = d->len / 16;
	return t;
}

int ap__vq_pop(struct ap_viommu *v, struct vq *vq, struct vchain *c)
{
	uint16_t idx = avail_idx(vq), pending = (uint16_t)(idx - vq->last_avail);
	const uint8_t *table = vq->hdesc;
	unsigned n = vq->size, count = 0, i;
	bool indirect = false;

	if (!pending)
		return 0;
	if (pending > vq->size)
		return malformed(v, "the available index moved more than the queue size ahead");
	i = rd16(vq->havail + 4 + 2 * (size_t)(vq->last_avail % vq->size));
	if (i >= vq->size)
		return malformed(v, "an available ring entry names a descriptor out of range");
	c->head = (uint16_t)i;
	c->nrd = c->nwr = 0;
	c->rd_len = c->wr_len = 0;
	for (;;) {
		struct vdesc d;

		get_desc(table, i, &d);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			table = indirect_table(v, vq, &d, indirect, &n);
			if (!table)
				return -1;
			indirect = true;
			i = 0;
			continue;
		}
		if (++count > vq->size)
			return malformed(v, "a descriptor chain longer than the queue (a loop)");
		vq->segs[c->nrd + c->nwr] = (struct vseg){ d.addr, d.len, ram(v, d.addr, d.len) };
		if (d.flags & VRING_DESC_F_WRITE) {
			c->nwr++;
			c->wr_len += d.len;
		} else {
			if (c->nwr)
				return malformed(v, "a device-readable descriptor after a "
						    "device-writable one");
			c->nrd++;
			c->rd_len += d.len;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (d.next >= n)
			return malformed(v, "a descriptor's next index is out of range");
		i = d.next;
	}
	vq->last_avail++;
	return 1;
}

void ap__vq_unpop(struct vq *vq)
{
	vq->last_avail--;
}

void ap__vq_push(struct ap_viommu *v, struct vq *vq, uint16_t head, uint32_t len)
{
	struct vring_used_elem e = { htole32(head), htole32(len) };

	(void)v;
	memcpy(vq->hused + 4 + 8 * (size_t)(vq->used_idx % vq->size), &e, sizeof(e));
	vq->used_idx++;
	/* §2.7.8.2: the entry is written before idx moves; and idx is out
	 * before the driver's suppression fields are read (ap__vq_end), a
	 * store-load order only sequential consistency gives. */
	__atomic_store_n((uint16_t *)(void *)(vq->hused + 2), htole16(vq->used_idx),
			 __ATOMIC_SEQ_CST);
}

void ap__vq_end(struct ap_viommu *v, struct vq *vq, unsigned qi, uint16_t used_before)
{
	bool need;

	if (vq->used_idx == used_before)
		return;
	if (viommu_has(v, VIRTIO_RING_F_EVENT_IDX))
		need = vring_need_event(load16(vq->havail + 4 + 2 * (size_t)vq->size), vq->used_idx,
					used_before);
	else
		need = !(load16(vq->havail) & VRING_AVAIL_F_NO_INTERRUPT);
	if (need)
		ap__viommu_irq(v, (int)qi);
}

bool ap__vq_settle(struct ap_viommu *v, struct vq *vq)
{
	if (!viommu_has(v, VIRTIO_RING_F_EVENT_IDX))
		return false;
	/* §2.7.10: ask for a notification at the next entry, then look
	 * again: the driver may have published before it could see that
	 * (a store-load order, so both sequentially consistent). */
	__atomic_store_n((uint16_t *)(void *)(vq->hused + 4 + 8 * (size_t)vq->size),
			 htole16(vq->last_avail), __ATOMIC_SEQ_CST);
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)(vq->havail + 2),
				       __ATOMIC_SEQ_CST)) != vq->last_avail;
}

/* Visit [off, off+len) of the readable (write == false) or writable bytes
 * of a chain, segment by segment: fn gets the host pointer of each piece. */
static int visit(struct ap_viommu *v, const struct vq *vq, const struct vchain *c, bool write,
		 uint64_t off, size_t len, void (*fn)(void *arg, uint8_t *host, size_t n),
		 void *arg)
{
	unsigned first = write ? c->nrd : 0, end = write ? c->nrd + c->nwr : c->nrd, s;

	for (s = first; s < end && len; s++) {
		const struct vseg *g = &vq->segs[s];
		uint64_t n;
		uint8_t *h;

		if (off >= g->len) {
			off -= g->len;
			continue;
		}
		n = g->len - off < len ? g->len - off : len;
		h = g->host ? g->host + off : ram(v, g->pa + off, n);
		if (!h)
			return -EFAULT;
		if (fn)
			fn(arg, h, (size_t)n);
		len -= (size_t)n;
		off = 0;
	}
	return len ? -EFAULT : 0;
}

struct cursor {
	uint8_t *p;
};

static void copy_out(void *arg, uint8_t *host, size_t n)
{
	struct cursor *cur = arg;

	memcpy(cur->p, host, n);
	cur->p += n;
}

static void copy_in(void *arg, uint8_t *host, size_t n)
{
	struct cursor *cur = arg;

	memcpy(host, cur->p, n);
	cur->p += n;
}

int ap__vq_read(struct ap_viommu *v, const struct vq *vq, const struct vchain *c, void *buf,
		size_t len)
{
	struct cursor cur = { buf };

	return visit(v, vq, c, false, 0, len, copy_out, &cur);
}

int ap__vq_write(struct ap_viommu *v, const struct vq *vq, const struct vchain *c,
		 uint64_t off, const void *buf, size_t len)
{
	struct cursor cur = { (uint8_t *)(uintptr_t)buf };

	return visit(v, vq, c, true, off, len, copy_in, &cur);
}

bool ap__vq_writable(struct ap_viommu *v, const struct vq *vq, const struct vchain *c,
		     size_t len)
{
	return visit(v, vq, c, true, 0, len, NULL, NULL) == 0;
}
