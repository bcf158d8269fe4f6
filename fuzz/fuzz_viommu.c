/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_viommu.c - libFuzzer target: the virtio-iommu device's queue
 * processor, with rings and requests made of fuzzer bytes.
 *
 * Each input is a program against a fresh context: 64 KiB of guest RAM
 * (filled from the input), a virtio-iommu instance (options from the
 * input) with four endpoints, two of them in one group and one with a
 * reserved region of its own, and the device with offered features from
 * the input.  The driver's side is played by the input: it negotiates any
 * features (offered or not), enables queues of any size at any address
 * (misaligned, outside RAM, overlapping), and then, op by op, writes raw
 * bytes anywhere in RAM (descriptors, rings, indices, buffers), builds
 * well-formed requests of every type over several descriptor layouts
 * (direct, split, indirect, chained into an indirect table) so that the
 * processing behind a valid ring is reached too, notifies either queue,
 * writes the config space, resets, makes endpoints DMA (faults for the
 * event queue), and injects allocation failures.
 *
 * Oracles: the sanitizers, and the device's own promises checked after
 * every op: NEEDS_RESET stops the queues, each buffer a request-queue
 * notify used is counted once as a request, no more requests went
 * unparsed than were used, and unattached endpoints bypass exactly when a
 * driver negotiated bypass (the instance's unmatched streams agreeing).
 */
#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_iommu.h>
#include <linux/virtio_ring.h>

#include <aperture/aperture.h>

#include "fuzz_input.h"

#define RAM_BASE 0x100000ull
#define RAM_SIZE 0x10000ull
#define MAX_OPS 200

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));

struct harness {
	struct ap_ctx *ctx;
	struct ap_iommu *iommu;
	struct ap_viommu *v;
	struct ap_device *ep[4];
	struct ap_viommu_queue q[2];
};

static const uint32_t ep_ids[4] = { 0x08, 0x10, 0x11, 0x18 };

/* An address the driver might use: mostly in RAM, sometimes just outside
 * or anywhere. */
static uint64_t guest_addr(struct fin *in, unsigned align)
{
	uint64_t a;

	switch (fin_u8(in) % 8) {
	case 0:
		return fin_u64(in);
	case 1:
		return RAM_BASE + RAM_SIZE - (fin_u8(in) % 32);
	default:
		a = RAM_BASE + (fin_u16(in) % RAM_SIZE);
		return align ? a & ~(uint64_t)(align - 1) : a;
	}
}

static void *host(uint64_t pa, size_t len)
{
	if (pa < RAM_BASE || pa + len > RAM_BASE + RAM_SIZE || pa + len < pa)
		return NULL;
	return ram + (pa - RAM_BASE);
}

static void put(uint64_t pa, const void *buf, size_t len)
{
	void *h = host(pa, len);

	if (h)
		memcpy(h, buf, len);
}

static void negotiate(struct harness *h, struct fin *in)
{
	uint64_t offer = ap_viommu_device_features(h->v), want;
	unsigned q;

	ap_viommu_set_status(h->v, 0);
	ap_viommu_set_status(h->v, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	want = fin_u8(in) < 16 ? fin_u64(in) : offer & (fin_u64(in) | (1ull << VIRTIO_F_VERSION_1));
	ap_viommu_set_driver_features(h->v, want);
	ap_viommu_set_status(h->v, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					   VIRTIO_CONFIG_S_FEATURES_OK);
	for (q = 0; q < 2; q++) {
		struct ap_viommu_queue g;

		g.size = (uint16_t)(fin_u8(in) < 32 ? fin_u16(in) : 1u << (1 + fin_u8(in) % 6));
		g.desc = guest_addr(in, fin_u8(in) < 240 ? 16 : 0);
		g.driver = guest_addr(in, 2);
		g.device = guest_addr(in, 4);
		if (!ap_viommu_queue_enable(h->v, q, &g))
			h->q[q] = g;
	}
	ap_viommu_set_status(h->v, ap_viommu_status(h->v) | VIRTIO_CONFIG_S_DRIVER_OK);
}

/* A well-formed request of a type the input picks, in a layout it picks,
 * made available on the request queue. */
static void request(struct harness *h, struct fin *in)
{
	const struct ap_viommu_queue *g = &h->q[0];
	uint8_t rd[80];
	size_t rd_len, wr_len, k, nr, nw, n;
	uint64_t at = RAM_BASE + 0x8000 + (fin_u8(in) % 16) * 0x100, table;
	uint16_t head, idx;
	bool indirect = fin_u8(in) & 1;
	uint16_t *avail;

	if (!g->size || !host(g->desc, 16ull * g->size) || !host(g->driver, 4 + 2ull * g->size))
		return;
	memset(rd, 0, sizeof(rd));
	rd[0] = (uint8_t)(1 + fin_u8(in) % 6); /* 1..5, and 6: unknown */
	for (k = 4; k < 24; k += 4) {
		uint32_t v = fin_u8(in) < 200 ? fin_u8(in) % 8 : fin_u32(in);

		if (k == 8 && rd[0] <= 2)
			v = ep_ids[fin_u8(in) % 4] + (fin_u8(in) < 20);
		memcpy(rd + k, &v, 4);
	}
	if (rd[0] == VIRTIO_IOMMU_T_MAP || rd[0] == VIRTIO_IOMMU_T_UNMAP) {
		uint64_t vs = (uint64_t)(fin_u8(in) % 64) << 12, ve = vs + ((fin_u8(in) % 8 + 1) << 12) - 1;
		uint64_t ps = RAM_BASE + ((uint64_t)(fin_u8(in) % 16) << 12);

		if (fin_u8(in) < 16)
			vs = fin_u64(in);
		memcpy(rd + 8, &vs, 8);
		memcpy(rd + 16, &ve, 8);
		memcpy(rd + 24, &ps, 8);
		rd[32] = (uint8_t)(fin_u8(in) % 8);
	}
	rd_len = rd[0] == VIRTIO_IOMMU_T_PROBE ? 72 : rd[0] == VIRTIO_IOMMU_T_MAP ? 36 : 20;
	if (fin_u8(in) < 20)
		rd_len = fin_u8(in) % sizeof(rd);
	wr_len = rd[0] == VIRTIO_IOMMU_T_PROBE ? 516 : 4;
	if (fin_u8(in) < 20)
		wr_len = fin_u16(in) % 600;
	nr = 1 + fin_u8(in) % 3;
	nw = 1 + fin_u8(in) % 2;
	n = nr + nw;
	if (n > g->size)
		return;
	/* buffers, one after another */
	put(at, rd, rd_len);
	table = indirect ? RAM_BASE + 0x7000 : g->desc;
	for (k = 0; k < n; k++) {
		struct vring_desc d;
		bool w = k >= nr;
		size_t part = w ? wr_len / nw : rd_len / nr;
		size_t off = w ? (k - nr) * (wr_len / nw) : k * (rd_len / nr);

		if (w && k == n - 1)
			part = wr_len - (nw - 1) * (wr_len / nw);
		if (!w && k == nr - 1)
			part = rd_len - (nr - 1) * (rd_len / nr);
		d.addr = htole64((w ? at + 0x100 : at) + off);
		d.len = htole32((uint32_t)part);
		d.flags = htole16((uint16_t)((w ? VRING_DESC_F_WRITE : 0) |
					     (k + 1 < n ? VRING_DESC_F_NEXT : 0)));
		d.next = htole16((uint16_t)(k + 1));
		put(table + 16 * k, &d, sizeof(d));
	}
	head = (uint16_t)(fin_u8(in) % g->size);
	if (indirect) {
		struct vring_desc d = { htole64(table), htole32((uint32_t)(16 * n)),
					htole16(VRING_DESC_F_INDIRECT), 0 };

		put(g->desc + 16ull * head, &d, sizeof(d));
	} else {
		head = 0;
	}
	avail = host(g->driver, 4 + 2ull * g->size);
	idx = le16toh(avail[1]);
	avail[2 + idx % g->size] = htole16(head);
	avail[1] = htole16((uint16_t)(idx + 1));
}

/*
 * NEEDS_RESET stops the queues (§2.1.2); every buffer a request-queue
 * notify used is one request answered or returned unwritten, counted once.
 * (The used ring itself is guest memory a reply may legally overwrite, so
 * its contents prove nothing here.)
 */
static void notify(struct harness *h, unsigned q)
{
	struct ap_viommu_stats a, b;
	uint8_t before = ap_viommu_status(h->v);
	int n;

	ap_viommu_stats(h->v, &a);
	n = ap_viommu_queue_notify(h->v, q);
	ap_viommu_stats(h->v, &b);
	if ((before & VIRTIO_CONFIG_S_NEEDS_RESET) && n >= 0)
		abort();
	if (q == 0 && n >= 0 && b.requests - a.requests != (uint64_t)n)
		abort();
	if (b.unparsed - a.unparsed > b.requests - a.requests)
		abort();
}

static void check_bypass(struct harness *h)
{
	bool bypass = ap_viommu_bypass(h->v);
	uint64_t f = ap_viommu_driver_features(h->v);
	bool negotiated = ap_viommu_status(h->v) & VIRTIO_CONFIG_S_FEATURES_OK;

	/* unattached endpoints bypass only when a driver accepted bypass */
	if (bypass && !(negotiated && (f & ((1ull << VIRTIO_IOMMU_F_BYPASS_CONFIG) |
					    (1ull << VIRTIO_IOMMU_F_BYPASS)))))
		abort();
	if ((ap_iommu_unmatched(h->iommu) == AP_UNMATCHED_BYPASS) != bypass)
		abort();
}

static int setup(struct harness *h, struct fin *in)
{
	struct ap_iommu_config ic;
	struct ap_viommu_config vc;
	unsigned i;

	memset(h, 0, sizeof(*h));
	h->ctx = ap_ctx_new();
	if (!h->ctx || ap_ram_add(h->ctx, RAM_BASE, RAM_SIZE, ram))
		return -1;
	ap_iommu_config_init(&ic, AP_IOMMU_VIRTIO_IOMMU);
	ic.evtq_size = 1 + fin_u8(in) % 8;
	if (fin_u8(in) & 1)
		ic.virtio.bypass = 1;
	if (fin_u8(in) & 1) {
		ic.virtio.domain_start = fin_u8(in) % 4;
		ic.virtio.domain_end = ic.virtio.domain_start + fin_u8(in) % 8;
	}
	if (fin_u8(in) & 1)
		ic.virtio.msi_size = 0;
	if (ap_iommu_new(h->ctx, "v", &ic, &h->iommu))
		return -1;
	for (i = 0; i < 4; i++) {
		char name[8] = { 'e', (char)('0' + i), 0 };

		if (ap_device_new(h->ctx, name, h->iommu, ep_ids[i],
				  i == 2 ? ap_device_group_id(h->ep[1]) : AP_GROUP_OWN, &h->ep[i]))
			return -1;
	}
	ap_device_add_resv(h->ep[3], 0x3000, 0x2000, AP_RESV_RESERVED);
	ap_viommu_config_init(&vc);
	if (fin_u8(in) < 64)
		vc.features = fin_u64(in) & 0x30000007full;
	vc.probe_size = fin_u8(in) < 32 ? 8 + 4 * (fin_u8(in) % 16) : 512;
	vc.queue_size_max = (uint16_t)(2u << (fin_u8(in) % 8));
	if (ap_viommu_new(h->ctx, h->iommu, &vc, &h->v)) {
		ap_viommu_config_init(&vc);
		if (ap_viommu_new(h->ctx, h->iommu, &vc, &h->v))
			return -1;
	}
	negotiate(h, in);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	struct harness h;
	unsigned op;
	size_t fill;

	memset(ram, 0, sizeof(ram));
	fill = fin_u16(&in) % 2048;
	for (size_t i = 0; i < fill && fin_more(&in); i++)
		ram[fin_u16(&in) % RAM_SIZE] = fin_u8(&in);
	if (setup(&h, &in)) {
		ap_ctx_free(h.ctx);
		return 0;
	}
	for (op = 0; op < MAX_OPS && fin_more(&in); op++) {
		switch (fin_u8(&in) % 10) {
		case 0: { /* the guest scribbles */
			uint64_t pa = guest_addr(&in, 0);
			uint8_t b[8];
			size_t n = 1 + fin_u8(&in) % 8, k;

			for (k = 0; k < n; k++)
				b[k] = fin_u8(&in);
			put(pa, b, n);
			break;
		}
		case 1:
		case 2:
		case 3:
			request(&h, &in);
			notify(&h, 0);
			break;
		case 4:
			notify(&h, fin_u8(&in) & 1);
			break;
		case 5: { /* config space */
			uint8_t b[4] = { fin_u8(&in), fin_u8(&in), 0, 0 };
			uint8_t out[8];

			ap_viommu_config_write(h.v, fin_u8(&in) % 48, b, 1 + fin_u8(&in) % 4);
			ap_viommu_config_read(h.v, fin_u8(&in) % 48, out, sizeof(out));
			break;
		}
		case 6: { /* endpoint DMA: translations and faults */
			uint8_t buf[32];
			struct ap_device *d = h.ep[fin_u8(&in) % 4];
			uint64_t iova = (uint64_t)(fin_u8(&in) % 80) << 12;

			memset(buf, 0, sizeof(buf));
			if (fin_u8(&in) & 1)
				ap_dma_write(d, iova, buf, sizeof(buf), NULL);
			else
				ap_dma_read(d, iova, buf, sizeof(buf), NULL);
			break;
		}
		case 7: { /* event buffers, then report */
			const struct ap_viommu_queue *g = &h.q[1];
			uint16_t *avail = g->size ? host(g->driver, 4 + 2ull * g->size) : NULL;

			if (avail && host(g->desc, 16ull * g->size)) {
				uint16_t slot = (uint16_t)(fin_u8(&in) % g->size), idx = le16toh(avail[1]);
				struct vring_desc d = { htole64(RAM_BASE + 0xc000 + 32ull * slot),
							htole32(fin_u8(&in) < 30 ? 8 : 24),
							htole16(VRING_DESC_F_WRITE), 0 };

				put(g->desc + 16ull * slot, &d, sizeof(d));
				avail[2 + idx % g->size] = htole16(slot);
				avail[1] = htole16((uint16_t)(idx + 1));
			}
			if (fin_u8(&in) & 1)
				notify(&h, 1);
			else
				ap_viommu_report_faults(h.v);
			break;
		}
		case 8:
			if (fin_u8(&in) < 40)
				ap_viommu_system_reset(h.v);
			negotiate(&h, &in);
			break;
		default: /* an allocation fails somewhere in what follows */
			ap_ctx_fail_nth(h.ctx, 1 + fin_u8(&in) % 8);
			request(&h, &in);
			notify(&h, 0);
			ap_ctx_fail_nth(h.ctx, 0);
			break;
		}
		check_bypass(&h);
	}
	{
		struct ap_viommu_stats st;

		ap_viommu_stats(h.v, &st);
		if (st.unparsed > st.requests)
			abort();
	}
	ap_ctx_free(h.ctx);
	return 0;
}
