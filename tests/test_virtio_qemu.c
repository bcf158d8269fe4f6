/* SPDX-License-Identifier: MIT */
/*
 * aperture's virtio-iommu against QEMU's (Debian 12: QEMU 7.2), driven
 * through QEMU's qtest protocol by the same guest driver code
 * (tests/lib/vdriver.c) that drives ours: the same request sequences, the
 * same descriptor layouts, and the replies compared.
 *
 *   - configuration space and feature offers;
 *   - hand-written sequences, one per rule of virtio 1.2 §5.13.6, each
 *     step with the answer both devices must give, or, where they differ,
 *     the two answers and the entry of doc/virtio-iommu.md ("Dn") that
 *     says which side the spec supports;
 *   - a random sequence (fixed, printed seed; AP_VIOMMU_QEMU_SEED and
 *     AP_VIOMMU_QEMU_STEPS change it) over a small space of domains,
 *     endpoints and addresses, so that requests collide; requests that
 *     fall under a documented difference which would leave the two
 *     devices in different states are not sent (they are counted and
 *     printed, and the hand-written sequences cover each);
 *   - malformed rings, where both must set NEEDS_RESET.
 *
 * Skipped, saying so, when qemu-system-x86_64 is not installed (tools/
 * ensure-deps and .ci/run install it).
 *
 * The machine: q35, the virtio-iommu at 00:01.0, two pci-testdev at 03.0
 * and 04.0.  QEMU takes every function of bus 0 as an endpoint (IDs are
 * BDFs); aperture's machine mirrors that with one device per BDF on a
 * virtio-iommu instance, whose default MSI doorbell (x86's) gives the same
 * PROBE property as QEMU's on q35.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <aperture/virtio_iommu.h>

#include "expect.h"
#include "lib/qvirtio.h"
#include "lib/vapdrv.h"
#include "lib/vdriver.h"
#include "rng.h"

#define F(bit) AP_VIOMMU_FEATURE(bit)
#define ALL (~0ull)
#define K4 0x1000ull
#define DRV_BASE 0x100000ull
#define TARGET 0x1000000ull /* phys_start of mappings: RAM in both */

/* Statuses, and what vdrv says when there is none. */
#define OK VIRTIO_IOMMU_S_OK
#define INVAL VIRTIO_IOMMU_S_INVAL
#define RANGE VIRTIO_IOMMU_S_RANGE
#define NOENT VIRTIO_IOMMU_S_NOENT
#define UNSUPP VIRTIO_IOMMU_S_UNSUPP
#define UNWRITTEN (-1) /* used, length 0 */
#define UNUSED (-2)    /* not returned: the device set NEEDS_RESET */

static const uint32_t endpoints[] = { 0x00, 0x08, 0x18, 0x20, 0xf8, 0xfa, 0xfb };
#define NEP (sizeof(endpoints) / sizeof(endpoints[0]))
#define QEMU_ARGS "-device virtio-iommu-pci%s -device %s,addr=03.0 " \
		  "-device pci-testdev,addr=04.0"

/* ------------------------------------------------------------ the two devices */

struct side {
	const char *name;
	struct vdrv_transport t;
	struct vdrv d;
};

struct pair {
	struct qtest *q;
	uint64_t edu;    /* the edu device's registers (BAR 0), when it is there */
	struct qvirtio qv;
	struct side qemu;
	struct ap_ctx *ctx;
	struct ap_iommu *iommu;
	struct ap_viommu *v;
	struct vapdrv a;
	struct side ap;
};

static bool qemu_missing(void)
{
	if (qtest_available())
		return false;
	print_message("SKIPPED: qemu-system-x86_64 is not installed (Debian: apt-get install "
		      "qemu-system-x86; tools/ensure-deps qemu does it); nothing compared\n");
	return true;
}

static void pair_start_ex(struct pair *p, bool boot_bypass, bool dma);

/* Both devices, up to (not through) driver initialisation. */
static void pair_start(struct pair *p, bool boot_bypass)
{
	pair_start_ex(p, boot_bypass, false);
}

/*
 * dma: endpoint 03.0 is QEMU's "edu" device, whose DMA engine gives an
 * endpoint that really does DMA through the IOMMU (pci-testdev does none);
 * its engine runs from a timer, so that machine runs (on a firmware that
 * only halts) instead of staying stopped.
 */
static void pair_start_ex(struct pair *p, bool boot_bypass, bool dma)
{
	struct ap_viommu_config vc;
	struct ap_iommu_config ic;
	char args[256];
	const char *why = NULL;
	size_t i;

	memset(p, 0, sizeof(*p));
	snprintf(args, sizeof(args), QEMU_ARGS, boot_bypass ? "" : ",boot-bypass=off",
		 dma ? "edu" : "pci-testdev");
	p->q = qtest_start_ex(args, dma, &why);
	EXPECT(p->q, "QEMU: %s", why ? why : "?");
	EXPECT(qvirtio_open(&p->qv, p->q, 0x1040 + 23, &why) == 0, "virtio-iommu-pci: %s", why);
	if (dma) {
		uint64_t bars[6];
		int devfn = qtest_pci_find(p->q, 0x1234, 0x11e8);

		EXPECT(devfn == 0x18, "edu at 03.0: devfn %d", devfn);
		qtest_pci_setup(p->q, (unsigned)devfn, bars);
		p->edu = bars[0];
	}
	qvirtio_transport(&p->qv, &p->qemu.t);
	p->qemu.name = "QEMU";

	p->ctx = ap_ctx_new();
	EXPECT(p->ctx && ap_ram_alloc(p->ctx, 0, 256ull << 20, NULL) == 0, "RAM");
	/* QEMU's defaults on q35: 48-bit is ours (D22), the x86 MSI window
	 * (the kind's default) is both. */
	ap_iommu_config_init(&ic, AP_IOMMU_VIRTIO_IOMMU);
	ic.virtio.bypass = boot_bypass;
	EXPECT(ap_iommu_new(p->ctx, "viommu", &ic, &p->iommu) == 0, "instance");
	for (i = 0; i < NEP; i++) {
		char name[16];

		snprintf(name, sizeof(name), "bdf%02x", endpoints[i]);
		EXPECT(ap_device_new(p->ctx, name, p->iommu, endpoints[i], AP_GROUP_OWN, NULL) == 0,
		       "endpoint");
	}
	ap_viommu_config_init(&vc);
	EXPECT(ap_viommu_new(p->ctx, p->iommu, &vc, &p->v) == 0, "device");
	vapdrv_transport(&p->a, p->ctx, p->v, &p->ap.t);
	p->ap.name = "aperture";
}

static void pair_stop(struct pair *p)
{
	qtest_quit(p->q);
	ap_ctx_free(p->ctx);
}

/* Reset both and bring the drivers up with `want`. */
static void pair_init(struct pair *p, uint64_t want)
{
	uint8_t sq = 0, sa = 0;
	int rq, ra;

	/* The test driver has no queue reset (D20: only QEMU offers it). */
	want &= ~F(VIRTIO_F_RING_RESET);
	rq = vdrv_init(&p->qemu.d, &p->qemu.t, DRV_BASE, 0x100000, want, 64, &sq);
	ra = vdrv_init(&p->ap.d, &p->ap.t, DRV_BASE, 0x100000, want, 64, &sa);
	EXPECT(rq == 0 && ra == 0, "driver init: QEMU %d status 0x%x (%s), aperture %d 0x%x", rq,
	       sq, qtest_error(p->q), ra, sa);
	EXPECT(p->qemu.d.features == p->ap.d.features,
	       "negotiated features: QEMU 0x%llx, aperture 0x%llx", (ull)p->qemu.d.features,
	       (ull)p->ap.d.features);
	/* Both answer within the notify; a few polls are plenty. */
	p->qemu.d.spins = 40;
	p->ap.d.spins = 1;
}

/* ------------------------------------------------------------ requests */

struct req {
	uint8_t type;
	uint32_t domain, ep, flags;
	uint64_t vs, ve, ps;
	uint8_t reserved;  /* written into the request's reserved bytes */
	unsigned rd_len;   /* 0: the type's size */
	unsigned wr_len;   /* 0: the type's */
	struct vdrv_layout lay;
};

/* Designated initialisers of struct req, for the tables below. */
#define ATTACH(d, e, f) .type = VIRTIO_IOMMU_T_ATTACH, .domain = (d), .ep = (e), .flags = (f)
#define DETACH(d, e) .type = VIRTIO_IOMMU_T_DETACH, .domain = (d), .ep = (e)
#define MAP(d, s, e, p, f) \
	.type = VIRTIO_IOMMU_T_MAP, .domain = (d), .vs = (s), .ve = (e), .ps = (p), .flags = (f)
#define UNMAP(d, s, e) .type = VIRTIO_IOMMU_T_UNMAP, .domain = (d), .vs = (s), .ve = (e)
#define PROBE(e) .type = VIRTIO_IOMMU_T_PROBE, .ep = (e)

static size_t encode(const struct req *r, uint8_t *b, size_t *wr)
{
	size_t n;

	memset(b, 0, 128);
	b[0] = r->type;
	switch (r->type) {
	case VIRTIO_IOMMU_T_ATTACH: {
		struct virtio_iommu_req_attach a = { .domain = htole32(r->domain),
						     .endpoint = htole32(r->ep),
						     .flags = htole32(r->flags) };

		a.head.type = r->type;
		a.reserved[0] = r->reserved;
		n = offsetof(struct virtio_iommu_req_attach, tail);
		memcpy(b, &a, n);
		*wr = 4;
		break;
	}
	case VIRTIO_IOMMU_T_DETACH: {
		struct virtio_iommu_req_detach a = { .domain = htole32(r->domain),
						     .endpoint = htole32(r->ep) };

		a.head.type = r->type;
		a.reserved[0] = r->reserved;
		n = offsetof(struct virtio_iommu_req_detach, tail);
		memcpy(b, &a, n);
		*wr = 4;
		break;
	}
	case VIRTIO_IOMMU_T_MAP: {
		struct virtio_iommu_req_map a = { .domain = htole32(r->domain),
						  .virt_start = htole64(r->vs),
						  .virt_end = htole64(r->ve),
						  .phys_start = htole64(r->ps),
						  .flags = htole32(r->flags) };

		a.head.type = r->type;
		n = offsetof(struct virtio_iommu_req_map, tail);
		memcpy(b, &a, n);
		*wr = 4;
		break;
	}
	case VIRTIO_IOMMU_T_UNMAP: {
		struct virtio_iommu_req_unmap a = { .domain = htole32(r->domain),
						    .virt_start = htole64(r->vs),
						    .virt_end = htole64(r->ve) };

		a.head.type = r->type;
		a.reserved[0] = r->reserved;
		n = offsetof(struct virtio_iommu_req_unmap, tail);
		memcpy(b, &a, n);
		*wr = 4;
		break;
	}
	case VIRTIO_IOMMU_T_PROBE: {
		struct virtio_iommu_req_probe a = { .endpoint = htole32(r->ep) };

		a.head.type = r->type;
		a.reserved[0] = r->reserved;
		n = sizeof(a);
		memcpy(b, &a, n);
		*wr = 512 + 4;
		break;
	}
	default:
		n = 20;
		*wr = 4;
	}
	if (r->rd_len)
		n = r->rd_len;
	if (r->wr_len)
		*wr = r->wr_len;
	return n;
}

/* Send r; the status (or UNWRITTEN / UNUSED), the writable bytes in out. */
static int send(struct side *s, const struct req *r, uint8_t *out, size_t *out_len)
{
	static const struct vdrv_layout plain = { 1, 1, false };
	uint8_t rd[128];
	size_t wr = 0, rdn = encode(r, rd, &wr);
	uint32_t used = 0;
	int rc;

	rc = vdrv_request(&s->d, rd, rdn, out, wr, r->lay.rd_parts ? &r->lay : &plain, &used);
	*out_len = wr;
	if (rc < 0)
		return -3;
	if (rc > 0)
		return UNUSED;
	if (used == 0)
		return UNWRITTEN;
	/* The tail follows the request's fields: properties first for
	 * PROBE, else at the start of the writable part. */
	return r->type == VIRTIO_IOMMU_T_PROBE && wr >= 4 ? out[wr - 4] : out[0];
}

static void describe(const struct req *r, char *buf, size_t len)
{
	static const char *const names[] = { "?", "ATTACH", "DETACH", "MAP", "UNMAP", "PROBE" };

	snprintf(buf, len, "%s(domain %u, ep 0x%x, flags 0x%x, 0x%llx-0x%llx -> 0x%llx%s)",
		 r->type <= 5 ? names[r->type] : "type?", r->domain, r->ep, r->flags, (ull)r->vs,
		 (ull)r->ve, (ull)r->ps, r->reserved ? ", reserved set" : "");
}

/* Both devices answer r; with the answers each must give. */
static void both(struct pair *p, const struct req *r, int want_ap, int want_qemu,
		 const char *where)
{
	static uint8_t oq[1024], oa[1024];
	size_t lq, la;
	int sq = send(&p->qemu, r, oq, &lq), sa = send(&p->ap, r, oa, &la);
	char d[160];

	describe(r, d, sizeof(d));
	EXPECT(sq != -3, "%s: %s: QEMU broke: %s", where, d, qtest_error(p->q));
	EXPECT(sa == want_ap && sq == want_qemu, "%s: %s: aperture %d (want %d), QEMU %d (want %d)",
	       where, d, sa, want_ap, sq, want_qemu);
	if (r->type == VIRTIO_IOMMU_T_PROBE && sa == sq && sa >= 0)
		EXPECT(!memcmp(oq, oa, la), "%s: %s: PROBE properties differ", where, d);
}

/* ------------------------------------------------------------ configuration */

/* §5.13.4 and §5.13.3: the configuration and the offer.  Identical but for
 * what the device chooses (D22 page sizes and input range, D20 the
 * transport's RING_RESET). */
static void test_config_and_features(void **state)
{
	unsigned bb;

	(void)state;
	if (qemu_missing())
		skip();
	for (bb = 0; bb < 2; bb++) {
		struct virtio_iommu_config cq, ca;
		struct pair p;
		uint64_t fq, fa;

		pair_start(&p, bb);
		pair_init(&p, ALL);
		vdrv_read_config(&p.qemu.d, &cq);
		vdrv_read_config(&p.ap.d, &ca);
		EXPECT(cq.domain_range.start == ca.domain_range.start &&
			       cq.domain_range.end == ca.domain_range.end,
		       "domain_range: QEMU %u-%u, aperture %u-%u", cq.domain_range.start,
		       cq.domain_range.end, ca.domain_range.start, ca.domain_range.end);
		EXPECT(cq.probe_size == ca.probe_size, "probe_size %u vs %u", cq.probe_size,
		       ca.probe_size);
		EXPECT(cq.bypass == bb && ca.bypass == bb, "boot bypass %u: QEMU %u aperture %u", bb,
		       cq.bypass, ca.bypass);
		EXPECT(cq.input_range.start == ca.input_range.start, "input_range.start");
		/* D22: the device's own choices, both valid (§5.13.4.2). */
		EXPECT(cq.page_size_mask == 0xfffffffffffff000ull &&
			       ca.page_size_mask == 0x40201000ull,
		       "D22: page_size_mask QEMU 0x%llx aperture 0x%llx", (ull)cq.page_size_mask,
		       (ull)ca.page_size_mask);
		EXPECT(cq.input_range.end == UINT64_MAX && ca.input_range.end == (1ull << 48) - 1,
		       "D22: input_range.end QEMU 0x%llx aperture 0x%llx", (ull)cq.input_range.end,
		       (ull)ca.input_range.end);
		fq = p.qemu.t.device_features(p.qemu.t.arg);
		fa = p.ap.t.device_features(p.ap.t.arg);
		EXPECT((fq & 0xffffff) == (fa & 0xffffff),
		       "device feature bits: QEMU 0x%llx aperture 0x%llx", (ull)(fq & 0xffffff),
		       (ull)(fa & 0xffffff));
		EXPECT((fq & ~0xffffffull) == (fa & ~0xffffffull) + F(VIRTIO_F_RING_RESET),
		       "D20: transport bits QEMU 0x%llx aperture 0x%llx", (ull)(fq >> 24),
		       (ull)(fa >> 24));
		pair_stop(&p);
	}
}

/* §5.13.4.1: writing bypass.  Both accept 0 and 1 once BYPASS_CONFIG is
 * negotiated; both set NEEDS_RESET for 2, and for a write without the
 * feature.  §2.2.1 (D21): a driver that accepts an unoffered bit. */
static void test_config_writes(void **state)
{
	struct pair p;
	struct side *s[2];
	unsigned i;

	(void)state;
	if (qemu_missing())
		skip();
	pair_start(&p, true);
	s[0] = &p.qemu;
	s[1] = &p.ap;
	pair_init(&p, ALL);
	for (i = 0; i < 2; i++) {
		s[i]->t.config_write(s[i]->t.arg, 36, 1, 0);
		EXPECT(s[i]->t.config_read(s[i]->t.arg, 36, 1) == 0, "%s: bypass 0", s[i]->name);
		s[i]->t.config_write(s[i]->t.arg, 36, 1, 2);
		EXPECT(s[i]->t.get_status(s[i]->t.arg) & VIRTIO_CONFIG_S_NEEDS_RESET,
		       "%s: bypass 2 -> NEEDS_RESET", s[i]->name);
	}
	pair_init(&p, ALL & ~F(VIRTIO_IOMMU_F_BYPASS_CONFIG));
	for (i = 0; i < 2; i++) {
		uint32_t now = s[i]->t.config_read(s[i]->t.arg, 36, 1);

		s[i]->t.config_write(s[i]->t.arg, 36, 1, !now);
		EXPECT(s[i]->t.get_status(s[i]->t.arg) & VIRTIO_CONFIG_S_NEEDS_RESET,
		       "%s: bypass written without the feature -> NEEDS_RESET", s[i]->name);
	}
	/* D21: FEATURES_OK with a bit the device did not offer (F_BYPASS). */
	for (i = 0; i < 2; i++) {
		struct vdrv_transport *t = &s[i]->t;
		uint8_t st;

		t->set_status(t->arg, 0);
		t->set_status(t->arg, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
		t->driver_features(t->arg, t->device_features(t->arg) | F(VIRTIO_IOMMU_F_BYPASS));
		t->set_status(t->arg, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					      VIRTIO_CONFIG_S_FEATURES_OK);
		st = t->get_status(t->arg);
		EXPECT(i == 0 ? (st & VIRTIO_CONFIG_S_FEATURES_OK)
			      : !(st & VIRTIO_CONFIG_S_FEATURES_OK),
		       "D21: %s status 0x%x (QEMU drops the bit and accepts, aperture refuses)",
		       s[i]->name, st);
	}
	pair_stop(&p);
}

/* ------------------------------------------------------------ hand-written */

struct step {
	struct req r;
	int ap, qemu;
};

/* A step both answer alike, and one where they differ (a, then QEMU). */
#define SAME(st, ...) { { __VA_ARGS__ }, st, st }
#define DIFF(a, q, ...) { { __VA_ARGS__ }, a, q }
#define E0 0x18 /* pci-testdev 03.0 */
#define E1 0x20 /* pci-testdev 04.0 */
#define E2 0x08 /* the virtio-iommu itself: an endpoint too */
#define ENONE 0x10
#define P(n) ((uint64_t)(n) * K4)
#define PE(n) ((uint64_t)(n) * K4 - 1)
#define MAXSTEPS 12

struct seq {
	const char *name; /* the rule, and the doc entry where they differ */
	uint64_t want;    /* features the driver accepts */
	struct step s[MAXSTEPS];
};

static const struct seq seqs[] = {
	{ "§5.13.6.3-6: attach, map, unmap, detach", ALL,
	  { SAME(OK, ATTACH(1, E0, 0)), SAME(OK, MAP(1, P(16), PE(32), TARGET, 3)),
	    SAME(OK, MAP(1, P(64), PE(65), TARGET, 1)), SAME(OK, UNMAP(1, P(16), PE(32))),
	    SAME(OK, UNMAP(1, 0, ~0ull)), SAME(OK, DETACH(1, E0)) } },
	{ "§5.13.6.3.2, §5.13.6.4.2, §5.13.6.7.2: NOENT", ALL,
	  { SAME(NOENT, ATTACH(1, ENONE, 0)), SAME(NOENT, PROBE(ENONE)),
	    SAME(NOENT, MAP(3, P(1), PE(2), TARGET, 1)), SAME(NOENT, UNMAP(3, P(1), PE(2))),
	    SAME(OK, ATTACH(1, E0, 0)), SAME(NOENT, DETACH(1, ENONE)) } },
	{ "§5.13.6.4: a domain ceases with its last endpoint", ALL,
	  { SAME(OK, ATTACH(1, E0, 0)), SAME(OK, ATTACH(1, E1, 0)),
	    SAME(OK, MAP(1, P(1), PE(2), TARGET, 3)), SAME(OK, ATTACH(2, E0, 0)),
	    SAME(INVAL, MAP(1, P(1), PE(2), TARGET, 3)), SAME(OK, ATTACH(2, E1, 0)),
	    SAME(NOENT, MAP(1, P(1), PE(2), TARGET, 3)), SAME(INVAL, DETACH(1, E1)),
	    SAME(OK, DETACH(2, E1)), SAME(OK, DETACH(2, E0)), SAME(NOENT, UNMAP(2, 0, PE(8))) } },
	{ "§5.13.6.5.2: overlapping maps are INVAL", ALL,
	  { SAME(OK, ATTACH(1, E0, 0)), SAME(OK, MAP(1, P(4), PE(8), TARGET, 3)),
	    SAME(INVAL, MAP(1, P(4), PE(8), TARGET, 3)), SAME(INVAL, MAP(1, P(7), PE(9), TARGET, 3)),
	    SAME(INVAL, MAP(1, P(2), PE(5), TARGET, 3)), SAME(INVAL, MAP(1, P(0), PE(100), TARGET, 3)),
	    SAME(OK, MAP(1, P(8), PE(9), TARGET, 3)), SAME(OK, MAP(1, P(3), PE(4), TARGET, 0)),
	    SAME(INVAL, MAP(1, P(3), PE(4), TARGET, 1)) } },
	{ "§5.13.6.6 examples (1)-(7)", ALL,
	  { SAME(OK, ATTACH(1, E0, 0)), SAME(OK, UNMAP(1, P(0), PE(5))),
	    SAME(OK, MAP(1, P(0), PE(10), TARGET, 3)), SAME(RANGE, UNMAP(1, P(0), PE(5))),
	    SAME(RANGE, UNMAP(1, P(5), PE(10))), SAME(INVAL, MAP(1, P(0), PE(5), TARGET, 3)),
	    SAME(OK, UNMAP(1, P(0), PE(10))), SAME(OK, MAP(1, P(0), PE(5), TARGET, 3)),
	    SAME(OK, MAP(1, P(10), PE(15), TARGET, 3)), SAME(OK, UNMAP(1, P(0), PE(15))),
	    SAME(OK, MAP(1, P(0), PE(15), TARGET, 3)) } },
	{ "§5.13.6.6.2 / D24: a split UNMAP removes nothing (QEMU removes what it met first)", ALL,
	  { SAME(OK, ATTACH(1, E0, 0)), SAME(OK, MAP(1, P(0), PE(5), TARGET, 3)),
	    SAME(OK, MAP(1, P(5), PE(10), TARGET, 3)), SAME(RANGE, UNMAP(1, P(0), PE(8))),
	    DIFF(INVAL, OK, MAP(1, P(0), PE(5), TARGET, 3)) } },
	{ "§5.13.6.3, §5.13.6.5.2: bypass domains", ALL,
	  { SAME(OK, ATTACH(1, E0, VIRTIO_IOMMU_ATTACH_F_BYPASS)),
	    SAME(INVAL, MAP(1, P(1), PE(2), TARGET, 3)), SAME(INVAL, UNMAP(1, P(1), PE(2))),
	    SAME(INVAL, ATTACH(1, E1, 0)), SAME(OK, ATTACH(2, E1, 0)),
	    SAME(INVAL, ATTACH(2, E2, VIRTIO_IOMMU_ATTACH_F_BYPASS)),
	    SAME(OK, ATTACH(1, E2, VIRTIO_IOMMU_ATTACH_F_BYPASS)), SAME(OK, DETACH(1, E0)),
	    SAME(OK, DETACH(1, E2)), SAME(OK, ATTACH(1, E0, 0)) } },
	{ "§5.13.6.2 / D1: an unknown request type", ALL,
	  { DIFF(UNWRITTEN, UNSUPP, .type = 7), DIFF(UNWRITTEN, UNSUPP, .type = 0) } },
	{ "§5.13.6.3.2 / D2: ATTACH with reserved bytes set", ALL,
	  { DIFF(INVAL, OK, .type = VIRTIO_IOMMU_T_ATTACH, .domain = 1, .ep = E0, .reserved = 1) } },
	{ "§5.13.6.3.2 / D4: ATTACH to the domain the endpoint is on", ALL,
	  { SAME(OK, ATTACH(1, E0, 0)), SAME(OK, MAP(1, P(1), PE(2), TARGET, 3)),
	    SAME(OK, ATTACH(1, E0, 0)), DIFF(INVAL, OK, MAP(1, P(1), PE(2), TARGET, 3)) } },
	{ "§5.13.6.3.2 / D5: a refused move leaves the endpoint where it was", ALL,
	  { SAME(OK, ATTACH(1, E0, VIRTIO_IOMMU_ATTACH_F_BYPASS)), SAME(OK, ATTACH(2, E1, 0)),
	    SAME(INVAL, ATTACH(1, E1, 0)), DIFF(OK, INVAL, DETACH(2, E1)) } },
	{ "§5.13.6.4.2 / D6: DETACH of an endpoint that exists but is not attached", ALL,
	  { DIFF(INVAL, NOENT, DETACH(1, E0)), SAME(OK, ATTACH(1, E0, 0)), SAME(OK, DETACH(1, E0)),
	    SAME(INVAL, DETACH(1, E0)) } },
	{ "§5.13.6.5.2 / D7: MAP off the page granularity", ALL,
	  { SAME(OK, ATTACH(1, E0, 0)), DIFF(RANGE, OK, MAP(1, 0x1800, PE(2), TARGET, 3)),
	    DIFF(RANGE, OK, MAP(1, P(4), 0x47ff, TARGET, 3)),
	    DIFF(RANGE, OK, MAP(1, P(6), PE(7), TARGET + 8, 3)) } },
	{ "§5.13.6 / D8: MAP outside aperture's input_range (inside QEMU's)", ALL,
	  { SAME(OK, ATTACH(1, E0, 0)),
	    DIFF(RANGE, OK, MAP(1, 1ull << 48, (1ull << 48) + PE(1), TARGET, 3)) } },
	{ "§5.13.6.5.1 / D9: virt_end below virt_start", ALL,
	  { SAME(OK, ATTACH(1, E0, 0)), DIFF(INVAL, OK, MAP(1, P(8), PE(4), TARGET, 3)) } },
	{ "§5.13.6.8.1.2 / D12: MAP over the MSI doorbell region", ALL,
	  { SAME(OK, ATTACH(1, E0, 0)), DIFF(INVAL, OK, MAP(1, 0xfee00000, 0xfee00fff, TARGET, 3)) } },
	{ "§5.13.6.5 / D13: phys_start beyond what the IOMMU can emit", ALL,
	  { SAME(OK, ATTACH(1, E0, 0)), DIFF(RANGE, OK, MAP(1, P(1), PE(2), 1ull << 52, 3)) } },
	{ "§5.13.6.8.1: PROBE returns the MSI doorbell", ALL,
	  { SAME(OK, PROBE(E0)), SAME(OK, PROBE(E2)), SAME(OK, PROBE(0xfb)) } },
	{ "§5.13.6: requests shorter than their type", ALL,
	  { SAME(INVAL, .type = VIRTIO_IOMMU_T_ATTACH, .domain = 1, .ep = E0,
				.rd_len = 12),
	    SAME(INVAL, .type = VIRTIO_IOMMU_T_MAP, .domain = 1, .rd_len = 30),
	    SAME(INVAL, .type = VIRTIO_IOMMU_T_PROBE, .ep = E0, .rd_len = 8) } },
	{ "§5.13.6 / D16: no room for the tail", ALL,
	  { DIFF(UNWRITTEN, UNUSED, .type = VIRTIO_IOMMU_T_ATTACH, .domain = 1, .ep = E0,
				.wr_len = 2) } },
	{ "§2.7.4.1, §2.7.5.3: any arrangement of descriptors", ALL,
	  { SAME(OK, .type = VIRTIO_IOMMU_T_ATTACH, .domain = 1, .ep = E0,
				.lay = { 5, 2, false }),
	    SAME(OK, .type = VIRTIO_IOMMU_T_MAP, .domain = 1, .vs = P(1), .ve = PE(9),
				.ps = TARGET, .flags = 3, .lay = { 3, 1, true }),
	    SAME(OK, .type = VIRTIO_IOMMU_T_PROBE, .ep = E0, .lay = { 7, 3, true }),
	    SAME(OK, .type = VIRTIO_IOMMU_T_UNMAP, .domain = 1, .vs = 0, .ve = PE(20),
				.lay = { 36, 4, false }) } },
	{ "§5.13.6.5 / D10: MMIO flag without F_MMIO", ALL & ~F(VIRTIO_IOMMU_F_MMIO),
	  { SAME(OK, ATTACH(1, E0, 0)), DIFF(INVAL, OK, MAP(1, P(1), PE(2), TARGET, 7)) } },
	{ "§5.13.6.5 / D11: MAP without F_MAP_UNMAP", ALL & ~F(VIRTIO_IOMMU_F_MAP_UNMAP),
	  { SAME(OK, ATTACH(1, E0, 0)), DIFF(UNSUPP, OK, MAP(1, P(1), PE(2), TARGET, 3)) } },
	{ "§5.13.6.7.2 / D15: PROBE without F_PROBE", ALL & ~F(VIRTIO_IOMMU_F_PROBE),
	  { DIFF(UNWRITTEN, OK, PROBE(E0)) } },
	{ "§5.13.6.3 / D3: ATTACH_F_BYPASS without BYPASS_CONFIG",
	  ALL & ~F(VIRTIO_IOMMU_F_BYPASS_CONFIG),
	  { DIFF(INVAL, OK, ATTACH(1, E0, VIRTIO_IOMMU_ATTACH_F_BYPASS)) } },
};

static void test_hand_written(void **state)
{
	struct pair p;
	size_t i, k;

	(void)state;
	if (qemu_missing())
		skip();
	pair_start(&p, false);
	for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		char where[160];

		pair_init(&p, seqs[i].want);
		for (k = 0; k < MAXSTEPS && seqs[i].s[k].r.type | seqs[i].s[k].ap; k++) {
			snprintf(where, sizeof(where), "%s, step %zu", seqs[i].name, k + 1);
			both(&p, &seqs[i].s[k].r, seqs[i].s[k].ap, seqs[i].s[k].qemu, where);
		}
		/* A sequence that made QEMU need a reset ends there. */
		if (p.qemu.t.get_status(p.qemu.t.arg) & VIRTIO_CONFIG_S_NEEDS_RESET)
			continue;
	}
	pair_stop(&p);
}

/* ------------------------------------------------------------ random */

/* What the test knows of the guest's state (aperture's answers keep it). */
struct mstate {
	int ep_dom[NEP];    /* domain each endpoint is on, -1 none */
	bool ep_seen[NEP];  /* attached since the reset (D6) */
	bool dom_bypass[8];
	unsigned dom_eps[8];
	struct {
		uint64_t s, e;
		unsigned dom;
	} maps[512];
	unsigned nmaps;
};

static int ep_index(uint32_t ep)
{
	size_t i;

	for (i = 0; i < NEP; i++)
		if (endpoints[i] == ep)
			return (int)i;
	return -1;
}

static unsigned dom_maps(const struct mstate *m, unsigned dom)
{
	unsigned i, n = 0;

	for (i = 0; i < m->nmaps; i++)
		n += m->maps[i].dom == dom;
	return n;
}

static void drop_dom(struct mstate *m, unsigned dom)
{
	unsigned i, k = 0;

	for (i = 0; i < m->nmaps; i++)
		if (m->maps[i].dom != dom)
			m->maps[k++] = m->maps[i];
	m->nmaps = k;
}

/*
 * Whether r falls under a documented difference that would leave QEMU and
 * aperture in different states (the hand-written sequences test each):
 * D4, D5, D7, D8, D9, D12, D24.  (D6 changes no state and is compared.)
 */
static const char *diverges(const struct mstate *m, const struct req *r)
{
	int e = ep_index(r->ep);
	unsigned i;

	switch (r->type) {
	case VIRTIO_IOMMU_T_ATTACH:
		if (e >= 0 && m->ep_dom[e] == (int)r->domain && m->dom_eps[r->domain] == 1 &&
		    dom_maps(m, r->domain))
			return "D4";
		/* QEMU detaches the endpoint before it checks the flag, even
		 * from the very domain it names. */
		if (e >= 0 && m->ep_dom[e] >= 0 && m->dom_eps[r->domain] &&
		    m->dom_bypass[r->domain] != !!(r->flags & VIRTIO_IOMMU_ATTACH_F_BYPASS))
			return "D5";
		return NULL;
	case VIRTIO_IOMMU_T_MAP:
		if ((r->flags & ~7u) || !m->dom_eps[r->domain] || m->dom_bypass[r->domain])
			return NULL;
		if (r->ve < r->vs)
			return "D9";
		if ((r->vs | r->ps | (r->ve + 1)) & (K4 - 1))
			return "D7";
		if (r->ve > (1ull << 48) - 1)
			return "D8";
		if (r->vs <= 0xfeefffff && r->ve >= 0xfee00000)
			return "D12";
		return NULL;
	case VIRTIO_IOMMU_T_UNMAP: {
		bool split = false, inside = false;

		if (!m->dom_eps[r->domain] || m->dom_bypass[r->domain])
			return NULL;
		for (i = 0; i < m->nmaps; i++) {
			if (m->maps[i].dom != r->domain || m->maps[i].e < r->vs ||
			    m->maps[i].s > r->ve)
				continue;
			if (m->maps[i].s < r->vs || m->maps[i].e > r->ve)
				split = true;
			else
				inside = true;
		}
		return split && inside ? "D24" : NULL;
	}
	default:
		return NULL;
	}
}

/* Keep the model in step with an answer both devices gave. */
static void apply(struct mstate *m, const struct req *r, int st)
{
	int e = ep_index(r->ep);
	unsigned i, k;

	if (st != OK)
		return;
	switch (r->type) {
	case VIRTIO_IOMMU_T_ATTACH: {
		int old = m->ep_dom[e];

		if (old == (int)r->domain)
			return;
		if (old >= 0 && --m->dom_eps[old] == 0)
			drop_dom(m, (unsigned)old);
		m->ep_dom[e] = (int)r->domain;
		m->ep_seen[e] = true;
		m->dom_eps[r->domain]++;
		m->dom_bypass[r->domain] = r->flags & VIRTIO_IOMMU_ATTACH_F_BYPASS;
		return;
	}
	case VIRTIO_IOMMU_T_DETACH:
		m->ep_dom[e] = -1;
		if (--m->dom_eps[r->domain] == 0)
			drop_dom(m, r->domain);
		return;
	case VIRTIO_IOMMU_T_MAP:
		if (m->nmaps < sizeof(m->maps) / sizeof(m->maps[0])) {
			m->maps[m->nmaps].s = r->vs;
			m->maps[m->nmaps].e = r->ve;
			m->maps[m->nmaps++].dom = r->domain;
		}
		return;
	case VIRTIO_IOMMU_T_UNMAP:
		for (i = 0, k = 0; i < m->nmaps; i++)
			if (m->maps[i].dom != r->domain || m->maps[i].s > r->ve ||
			    m->maps[i].e < r->vs)
				m->maps[k++] = m->maps[i];
		m->nmaps = k;
		return;
	}
}

static uint32_t pick_ep(void)
{
	static const uint32_t others[] = { 0x10, 0x28, 0x100, 0xffffffff };

	return chance(85) ? endpoints[rnd_below(NEP)] : others[rnd_below(4)];
}

static uint64_t pick_addr(void)
{
	/* Mostly pages 0..63 (collisions); sometimes 2M / 1G blocks, the
	 * MSI window, the top of the 48-bit space. */
	switch (rnd_below(10)) {
	case 0:
		return rnd_below(4) * 0x200000;
	case 1:
		return 0xfee00000 + rnd_below(4) * K4;
	case 2:
		return rnd_below(2) ? 0x40000000 : 0xfffffffff000ull;
	default:
		return rnd_below(64) * K4;
	}
}

static void random_req(struct req *r)
{
	static const struct vdrv_layout lays[] = {
		{ 1, 1, false }, { 2, 1, false }, { 4, 2, false }, { 1, 1, true }, { 3, 2, true },
	};
	uint64_t len;

	memset(r, 0, sizeof(*r));
	r->lay = lays[rnd_below(5)];
	r->domain = 1 + (uint32_t)rnd_below(6);
	switch (rnd_below(100) / 10) {
	case 0:
	case 1:
	case 2:
		r->type = VIRTIO_IOMMU_T_ATTACH;
		r->ep = pick_ep();
		r->flags = chance(15) ? VIRTIO_IOMMU_ATTACH_F_BYPASS : 0;
		break;
	case 3:
		r->type = VIRTIO_IOMMU_T_DETACH;
		r->ep = pick_ep();
		break;
	case 4:
	case 5:
	case 6:
		r->type = VIRTIO_IOMMU_T_MAP;
		r->vs = pick_addr();
		len = chance(80) ? (1 + rnd_below(8)) * K4 : 0x200000;
		r->ve = r->vs + len - 1;
		if (chance(3))
			r->vs += 0x800; /* off the granule (D7: not sent) */
		r->ps = TARGET + rnd_below(64) * K4;
		r->flags = (uint32_t)rnd_below(chance(5) ? 16 : 4);
		break;
	case 7:
	case 8:
		r->type = VIRTIO_IOMMU_T_UNMAP;
		r->vs = pick_addr();
		r->ve = r->vs + (1 + rnd_below(16)) * K4 - 1;
		if (chance(5)) {
			r->vs = 0;
			r->ve = ~0ull;
		}
		break;
	default:
		r->type = VIRTIO_IOMMU_T_PROBE;
		r->ep = pick_ep();
	}
}

static void test_random(void **state)
{
	unsigned seed = seed_from_env("AP_VIOMMU_QEMU_SEED", 2024);
	unsigned steps = seed_from_env("AP_VIOMMU_QEMU_STEPS", 1500);
	unsigned i, sent = 0, held[32] = { 0 };
	struct mstate m;
	struct pair p;

	(void)state;
	if (qemu_missing())
		skip();
	print_message("virtio-iommu vs QEMU, random: seed %u, %u steps (AP_VIOMMU_QEMU_SEED, "
		      "AP_VIOMMU_QEMU_STEPS)\n",
		      seed, steps);
	rnd_seed(seed);
	pair_start(&p, false);
	pair_init(&p, ALL);
	memset(&m, 0, sizeof(m));
	for (i = 0; i < NEP; i++)
		m.ep_dom[i] = -1;
	for (i = 0; i < steps; i++) {
		static uint8_t oq[1024], oa[1024];
		const char *why;
		char d[160];
		size_t lq, la;
		struct req r;
		int sq, sa, e;

		random_req(&r);
		why = diverges(&m, &r);
		if (why) {
			held[atoi(why + 1) % 32]++;
			continue;
		}
		sq = send(&p.qemu, &r, oq, &lq);
		sa = send(&p.ap, &r, oa, &la);
		sent++;
		describe(&r, d, sizeof(d));
		if (getenv("AP_VIOMMU_QEMU_TRACE"))
			print_message("  %u: %s -> aperture %d QEMU %d\n", i, d, sa, sq);
		e = ep_index(r.ep);
		/* D1/D6 change no state: compared as documented. */
		if (r.type == VIRTIO_IOMMU_T_DETACH && e >= 0 && !m.ep_seen[e] && sa == INVAL) {
			EXPECT(sq == NOENT, "seed %u step %u: %s: D6 expects QEMU NOENT, got %d",
			       seed, i, d, sq);
			continue;
		}
		EXPECT(sq == sa, "seed %u step %u: %s: aperture %d, QEMU %d", seed, i, d, sa, sq);
		if (r.type == VIRTIO_IOMMU_T_PROBE && sa == OK)
			EXPECT(!memcmp(oq, oa, la), "seed %u step %u: %s: properties differ", seed, i,
			       d);
		apply(&m, &r, sa);
		if (r.type == VIRTIO_IOMMU_T_DETACH && sa == OK)
			m.ep_seen[e] = true;
	}
	print_message("  %u requests compared; not sent (documented differences that leave the "
		      "devices apart): D4 %u, D5 %u, D7 %u, D8 %u, D9 %u, D12 %u, D24 %u\n",
		      sent, held[4], held[5], held[7], held[8], held[9], held[12], held[24]);
	EXPECT(sent > steps / 2, "most requests were compared");
	pair_stop(&p);
}

/* ------------------------------------------------------------ malformed rings */

typedef void (*ring_fn)(struct side *s, uint64_t scratch);

static void put_attach(struct side *s, uint64_t at)
{
	struct virtio_iommu_req_attach a;

	memset(&a, 0, sizeof(a));
	a.head.type = VIRTIO_IOMMU_T_ATTACH;
	a.domain = htole32(1);
	a.endpoint = htole32(E0);
	s->t.mem_write(s->t.arg, at, &a, 20);
}

static void r_next(struct side *s, uint64_t at)
{
	put_attach(s, at);
	vdrv_put_desc(&s->d, 0, 0, at, 20, VRING_DESC_F_NEXT, 64);
}

static void r_loop(struct side *s, uint64_t at)
{
	put_attach(s, at);
	vdrv_put_desc(&s->d, 0, 0, at, 10, VRING_DESC_F_NEXT, 1);
	vdrv_put_desc(&s->d, 0, 1, at + 10, 10, VRING_DESC_F_NEXT, 0);
}

static void r_order(struct side *s, uint64_t at)
{
	put_attach(s, at);
	vdrv_put_desc(&s->d, 0, 0, at + 0x800, 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	vdrv_put_desc(&s->d, 0, 1, at, 20, 0, 0);
}

static void r_nested(struct side *s, uint64_t at)
{
	struct vring_desc t = { htole64(at + 0x2000), htole32(16), htole16(VRING_DESC_F_INDIRECT),
				0 };

	s->t.mem_write(s->t.arg, at + 0x1000, &t, sizeof(t));
	vdrv_put_desc(&s->d, 0, 0, at + 0x1000, 16, VRING_DESC_F_INDIRECT, 0);
}

static void r_indirect_len(struct side *s, uint64_t at)
{
	vdrv_put_desc(&s->d, 0, 0, at + 0x1000, 20, VRING_DESC_F_INDIRECT, 0);
}

/* §2.7.5.1-3 and §2.7.4.2 violations: both devices set NEEDS_RESET. */
static void test_malformed_rings(void **state)
{
	static const struct {
		const char *what;
		ring_fn build;
	} cases[] = {
		{ "next out of range", r_next },       { "a loop", r_loop },
		{ "readable after writable", r_order }, { "nested indirect", r_nested },
		{ "indirect length not 16n", r_indirect_len },
	};
	struct pair p;
	size_t i, k;

	(void)state;
	if (qemu_missing())
		skip();
	pair_start(&p, false);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct side *s[2] = { &p.qemu, &p.ap };

		pair_init(&p, ALL);
		for (k = 0; k < 2; k++) {
			uint32_t id, len;

			cases[i].build(s[k], vdrv_scratch(&s[k]->d));
			vdrv_publish(&s[k]->d, 0, 0);
			EXPECT(!vdrv_used_next(&s[k]->d, 0, &id, &len), "%s: %s used it", cases[i].what,
			       s[k]->name);
			EXPECT(s[k]->t.get_status(s[k]->t.arg) & VIRTIO_CONFIG_S_NEEDS_RESET,
			       "%s: %s has no NEEDS_RESET", cases[i].what, s[k]->name);
		}
	}
	pair_stop(&p);
}

/* ------------------------------------------------------------ events */

#define EDU_DMA_BUF 0x40000 /* where edu's own 4 KiB buffer sits, to it */

/* Endpoint 03.0 writes len zero bytes at iova: edu's DMA engine in QEMU,
 * ap_dma_write() by the same endpoint in aperture, which then reports the
 * fault it may have recorded.  Returns 0, or -1 if QEMU's engine hung. */
static int dma_both(struct pair *p, uint64_t iova, uint32_t len)
{
	static const uint8_t zeroes[64];
	unsigned i;

	qtest_writeq(p->q, p->edu + 0x80, EDU_DMA_BUF);
	qtest_writeq(p->q, p->edu + 0x88, iova);
	qtest_writeq(p->q, p->edu + 0x90, len);
	qtest_writeq(p->q, p->edu + 0x98, 1 | 2); /* run, from edu to RAM */
	for (i = 0; i < 400 && (qtest_readq(p->q, p->edu + 0x98) & 1); i++)
		usleep(5000);
	if (ap_dma_write(ap_device_find(p->ctx, "bdf18"), iova, zeroes, len, NULL))
		ap_viommu_report_faults(p->v);
	return i < 400 ? 0 : -1;
}

struct events {
	unsigned n;
	struct virtio_iommu_fault f[16];
};

static void events_take(struct side *s, struct events *e)
{
	uint32_t len;

	memset(e, 0, sizeof(*e));
	while (e->n < 16 && vdrv_event_next(&s->d, &e->f[e->n], &len))
		e->n++;
}

static const char *reason_name(unsigned r)
{
	return r == VIRTIO_IOMMU_FAULT_R_DOMAIN ? "DOMAIN" : r == VIRTIO_IOMMU_FAULT_R_MAPPING
		? "MAPPING" : "UNKNOWN";
}

/* One DMA's events: aperture's one report, and QEMU's, one per access of
 * the edu engine (4 bytes each: D26), with the reasons and flags each. */
static void expect_events(struct pair *p, const char *what, unsigned want_ap_reason,
			  unsigned want_ap_flags, unsigned want_q_reason, unsigned want_q_flags,
			  uint64_t iova)
{
	struct events a, q;
	unsigned k;

	events_take(&p->ap, &a);
	events_take(&p->qemu, &q);
	EXPECT(a.n == 1 && a.f[0].reason == want_ap_reason && a.f[0].flags == want_ap_flags &&
		       a.f[0].endpoint == 0x18 && a.f[0].address == iova,
	       "%s: aperture %u events, first %s flags 0x%x address 0x%llx", what, a.n,
	       reason_name(a.f[0].reason), a.f[0].flags, (ull)a.f[0].address);
	EXPECT(q.n == 2, "%s: QEMU %u events for an 8-byte DMA (D26: one per 4-byte access)", what,
	       q.n);
	for (k = 0; k < q.n; k++)
		EXPECT(q.f[k].reason == want_q_reason && q.f[k].flags == want_q_flags &&
			       q.f[k].endpoint == 0x18 && q.f[k].address == iova + 4 * k,
		       "%s: QEMU event %u: %s flags 0x%x address 0x%llx", what, k,
		       reason_name(q.f[k].reason), q.f[k].flags, (ull)q.f[k].address);
}

static uint8_t first_byte(struct side *s, uint64_t pa)
{
	uint8_t b = 0x5a;

	s->t.mem_read(s->t.arg, pa, &b, 1);
	return b;
}

/*
 * §5.13.6.9 fault reporting, with an endpoint that really does DMA.  The
 * reason is the same wherever the spec names one; D26 (events per DMA),
 * D27 (QEMU's R_UNKNOWN for an endpoint it has not seen attached) and D28
 * (aperture's READ/WRITE flags on every fault) are pinned as documented.
 */
static void test_events(void **state)
{
	const unsigned A = VIRTIO_IOMMU_FAULT_F_ADDRESS, W = VIRTIO_IOMMU_FAULT_F_WRITE;
	struct side *s[2];
	struct events q, a;
	struct pair p;
	unsigned k;

	(void)state;
	if (qemu_missing())
		skip();
	pair_start_ex(&p, false, true);
	s[0] = &p.qemu;
	s[1] = &p.ap;
	pair_init(&p, ALL);
	for (k = 0; k < 2; k++)
		vdrv_event_post(&s[k]->d, 32, sizeof(struct virtio_iommu_fault));
	EXPECT(dma_both(&p, 0x200000, 8) == 0, "edu DMA");
	expect_events(&p, "unattached, never attached (D27)", VIRTIO_IOMMU_FAULT_R_DOMAIN, W | A,
		      VIRTIO_IOMMU_FAULT_R_UNKNOWN, A, 0x200000);
	both(&p, &(struct req){ ATTACH(1, E0, 0) }, OK, OK, "events");
	EXPECT(dma_both(&p, 0x200000, 8) == 0, "edu DMA");
	expect_events(&p, "attached, nothing mapped (D28)", VIRTIO_IOMMU_FAULT_R_MAPPING, W | A,
		      VIRTIO_IOMMU_FAULT_R_MAPPING, A, 0x200000);
	both(&p, &(struct req){ MAP(1, 0x200000, 0x200fff, 0x300000, VIRTIO_IOMMU_MAP_F_READ) }, OK,
	     OK, "events");
	EXPECT(dma_both(&p, 0x200000, 8) == 0, "edu DMA");
	expect_events(&p, "a write to a read-only mapping", VIRTIO_IOMMU_FAULT_R_MAPPING, W | A,
		      VIRTIO_IOMMU_FAULT_R_MAPPING, W | A, 0x200000);
	/* A write that may: lands at phys_start + offset in both. */
	both(&p, &(struct req){ MAP(1, 0x400000, 0x400fff, 0x500000, 3) }, OK, OK, "events");
	for (k = 0; k < 2; k++)
		s[k]->t.mem_write(s[k]->t.arg, 0x500100, "\xee", 1);
	EXPECT(dma_both(&p, 0x400100, 8) == 0, "edu DMA");
	events_take(&p.qemu, &q);
	events_take(&p.ap, &a);
	EXPECT(!q.n && !a.n && first_byte(&p.qemu, 0x500100) == 0 && first_byte(&p.ap, 0x500100) == 0,
	       "a mapped write: no event (QEMU %u, aperture %u) and the bytes landed", q.n, a.n);
	both(&p, &(struct req){ DETACH(1, E0) }, OK, OK, "events");
	EXPECT(dma_both(&p, 0x400100, 8) == 0, "edu DMA");
	expect_events(&p, "detached", VIRTIO_IOMMU_FAULT_R_DOMAIN, W | A, VIRTIO_IOMMU_FAULT_R_DOMAIN,
		      A, 0x400100);

	/* D18: no event buffer.  QEMU drops the report; aperture keeps it in
	 * the instance's queue until a buffer comes. */
	pair_init(&p, ALL);
	EXPECT(dma_both(&p, 0x200000, 8) == 0, "edu DMA");
	for (k = 0; k < 2; k++)
		vdrv_event_post(&s[k]->d, 4, sizeof(struct virtio_iommu_fault));
	events_take(&p.qemu, &q);
	events_take(&p.ap, &a);
	EXPECT(q.n == 0 && a.n == 1 && a.f[0].address == 0x200000,
	       "D18: events after the buffers came: QEMU %u (dropped), aperture %u (kept)", q.n, a.n);

	/* D17: an event buffer too small for a report.  QEMU sets
	 * NEEDS_RESET; aperture returns it unused and takes the next. */
	pair_init(&p, ALL);
	for (k = 0; k < 2; k++) {
		vdrv_event_post(&s[k]->d, 1, 8);
		vdrv_event_post(&s[k]->d, 1, sizeof(struct virtio_iommu_fault));
	}
	EXPECT(dma_both(&p, 0x200000, 8) == 0, "edu DMA");
	EXPECT(p.qemu.t.get_status(p.qemu.t.arg) & VIRTIO_CONFIG_S_NEEDS_RESET,
	       "D17: QEMU sets NEEDS_RESET for a small event buffer");
	events_take(&p.ap, &a);
	EXPECT(a.n == 2 && a.f[1].reason == VIRTIO_IOMMU_FAULT_R_DOMAIN &&
		       !(ap_viommu_status(p.v) & VIRTIO_CONFIG_S_NEEDS_RESET),
	       "D17: aperture returns the small buffer unused and reports in the next");
	pair_stop(&p);

	/* D25: the device starts with bypass = 1 and the driver does not
	 * accept VIRTIO_IOMMU_F_BYPASS_CONFIG.  The spec puts unattached
	 * endpoints in bypass mode even so, and QEMU lets the DMA through;
	 * aperture blocks it (bypass only when offered and accepted). */
	pair_start_ex(&p, true, true);
	pair_init(&p, ALL & ~F(VIRTIO_IOMMU_F_BYPASS_CONFIG));
	for (k = 0; k < 2; k++) {
		vdrv_event_post(&s[k]->d, 4, sizeof(struct virtio_iommu_fault));
		s[k]->t.mem_write(s[k]->t.arg, 0x600000, "\xee", 1);
	}
	EXPECT(dma_both(&p, 0x600000, 8) == 0, "edu DMA");
	events_take(&p.qemu, &q);
	events_take(&p.ap, &a);
	EXPECT(q.n == 0 && first_byte(&p.qemu, 0x600000) == 0,
	       "D25: QEMU let the unattached endpoint write (bypass, events %u)", q.n);
	EXPECT(a.n == 1 && a.f[0].reason == VIRTIO_IOMMU_FAULT_R_DOMAIN &&
		       first_byte(&p.ap, 0x600000) == 0xee,
	       "D25: aperture blocked it (events %u)", a.n);
	pair_stop(&p);
}

/* D19: a request whose body lies outside RAM (its header and tail in it).
 * The spec gives no rule.  aperture fails that request (S_IOERR) and goes
 * on; QEMU 7.2 reads unassigned memory as zeroes and carries out the
 * request those zeroes make: ATTACH of endpoint 0 (the host bridge) to
 * domain 0. */
static void test_buffer_outside_ram(void **state)
{
	struct pair p;
	struct side *s[2];
	unsigned k;

	(void)state;
	if (qemu_missing())
		skip();
	pair_start(&p, false);
	pair_init(&p, ALL);
	s[0] = &p.qemu;
	s[1] = &p.ap;
	for (k = 0; k < 2; k++) {
		uint64_t at = vdrv_scratch(&s[k]->d);
		uint32_t id, len;
		uint8_t tail = 0xee;

		put_attach(s[k], at);
		s[k]->t.mem_write(s[k]->t.arg, at + 0x800, &tail, 1);
		vdrv_put_desc(&s[k]->d, 0, 0, at, 4, VRING_DESC_F_NEXT, 1);
		vdrv_put_desc(&s[k]->d, 0, 1, 0x200000000ull, 16, VRING_DESC_F_NEXT, 2);
		vdrv_put_desc(&s[k]->d, 0, 2, at + 0x800, 4, VRING_DESC_F_WRITE, 0);
		vdrv_publish(&s[k]->d, 0, 0);
		if (k == 0) {
			int used = vdrv_used_next(&s[k]->d, 0, &id, &len);

			s[k]->t.mem_read(s[k]->t.arg, at + 0x800, &tail, 1);
			EXPECT(used && len == 4 && tail == VIRTIO_IOMMU_S_OK,
			       "D19: QEMU used %d, len %u, status %u", used, len, tail);
			EXPECT(vdrv_detach(&s[k]->d, 0, 0x00) == VIRTIO_IOMMU_S_OK,
			       "D19: QEMU attached endpoint 0 to domain 0");
		} else {
			s[k]->t.mem_read(s[k]->t.arg, at + 0x800, &tail, 1);
			EXPECT(vdrv_used_next(&s[k]->d, 0, &id, &len) && len == 4 &&
				       tail == VIRTIO_IOMMU_S_IOERR &&
				       !(s[k]->t.get_status(s[k]->t.arg) & VIRTIO_CONFIG_S_NEEDS_RESET),
			       "D19: aperture: used %u, status %u", len, tail);
		}
	}
	pair_stop(&p);
}

/* D14: a PROBE whose properties buffer is smaller than probe_size.  The
 * spec (§5.13.6.7.2) wants INVAL; aperture answers so, QEMU 7.2 aborts on
 * an assertion.  Kept as a test so that the doc stays true. */
static void test_probe_short_buffer(void **state)
{
	struct req r = { .type = VIRTIO_IOMMU_T_PROBE, .ep = E0, .wr_len = 64 };
	uint8_t out[1024];
	struct pair p;
	size_t len;
	int sa, sq;

	(void)state;
	if (qemu_missing())
		skip();
	pair_start(&p, false);
	pair_init(&p, ALL);
	sa = send(&p.ap, &r, out, &len);
	EXPECT(sa == INVAL, "aperture: %d", sa);
	p.qemu.d.spins = 3;
	sq = send(&p.qemu, &r, out, &len);
	EXPECT(sq == -3 && qtest_failed(p.q),
	       "D14: QEMU 7.2 answered %d instead of aborting; update doc/virtio-iommu.md", sq);
	print_message("  QEMU on a short PROBE buffer: %s\n", qtest_error(p.q));
	pair_stop(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_and_features),
		cmocka_unit_test(test_config_writes),
		cmocka_unit_test(test_hand_written),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_malformed_rings),
		cmocka_unit_test(test_buffer_outside_ram),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_probe_short_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
