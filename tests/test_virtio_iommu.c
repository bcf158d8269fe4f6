/* SPDX-License-Identifier: MIT */
/*
 * The virtio-iommu device (include/aperture/virtio_iommu.h), tested from
 * the virtio 1.2 specification: every test names the section whose rule it
 * checks.  A guest driver (tests/lib/vdriver.c) puts real split virtqueues
 * in the machine's RAM and talks to the device through the same calls a
 * VMM's transport makes; endpoint DMA then shows what the requests did to
 * the aperture domains.
 *
 *   §5.13.3, §5.13.4, §2.2, §3.1.1   features, configuration, negotiation
 *   §5.13.6 (bypass), §5.13.4.2      who bypasses, and when
 *   §5.13.6.3 .. §5.13.6.8           ATTACH, DETACH, MAP, UNMAP, PROBE
 *   §5.13.6.9                        the event queue and its overflow
 *   §2.7                             ring layouts, malformed rings,
 *                                    notification suppression
 *   a random MAP/UNMAP sequence against a model of §5.13.6.5-6 (fixed,
 *   printed seed; AP_VIOMMU_SEED replays another)
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
#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <aperture/view.h>

#include "expect.h"
#include "lib/vmachine.h"
#include "rng.h"

#define F(bit) AP_VIOMMU_FEATURE(bit)
#define ALL_FEATURES (~0ull)
#define K4 0x1000ull

#define EP0 0x08
#define EP1 0x10
#define EP2 0x18
#define EPG0 0x20 /* EPG0 and EPG1 share a group */
#define EPG1 0x21
#define EP_NONE 0x30

static struct vmachine *up_with(struct vmachine *m, const struct ap_viommu_config *cfg,
				const struct ap_iommu_config *ic, uint64_t want)
{
	int err = vm_create(m, cfg, ic);

	EXPECT(err == 0, "machine: %d (%s)", err, m->ctx ? ap_ctx_error(m->ctx) : "");
	err = vm_driver(m, want, 64);
	EXPECT(err == 0, "driver init failed, status 0x%x", ap_viommu_status(m->v));
	return m;
}

static struct vmachine *up(struct vmachine *m, const struct ap_viommu_config *cfg, uint64_t want)
{
	return up_with(m, cfg, NULL, want);
}

/* A virtio-iommu instance's configuration with one option set. */
static const struct ap_iommu_config *kind_opt(struct ap_iommu_config *ic, const char *key,
					      const char *value)
{
	ap_iommu_config_init(ic, AP_IOMMU_VIRTIO_IOMMU);
	EXPECT(ap_iommu_config_set(ic, key, value, NULL) == 0, "%s=%s", key, value);
	return ic;
}

/* The device read/write outcome of DMA by endpoint `ep` at iova. */
static int dma(struct vmachine *m, unsigned epi, uint64_t iova, bool write, struct ap_fault *f)
{
	uint8_t buf[16] = { 0x5a };

	return write ? ap_dma_write(m->ep[epi], iova, buf, sizeof(buf), f)
		     : ap_dma_read(m->ep[epi], iova, buf, sizeof(buf), f);
}

static bool translates(struct vmachine *m, unsigned epi, uint64_t iova, uint64_t *pa)
{
	return ap_device_iova_to_phys(m->ep[epi], iova, pa);
}

/* ------------------------------------------------------------ §5.13.3-4, §2.2 */

/* §5.13.4: the configuration layout and its values; §5.13.4.2: at least
 * one page size, bypass 0 or 1; reads past the structure are zero. */
static void test_config_space(void **state)
{
	struct virtio_iommu_config c;
	struct vmachine m;
	uint8_t tail[8];

	(void)state;
	up(&m, NULL, ALL_FEATURES);
	vdrv_read_config(&m.d, &c);
	EXPECT(c.page_size_mask == (K4 | 0x200000 | 0x40000000),
	       "page_size_mask 0x%llx: the instance's 4K|2M|1G", (ull)c.page_size_mask);
	EXPECT(c.input_range.start == 0 && c.input_range.end == (1ull << 48) - 1,
	       "input_range 0x%llx-0x%llx", (ull)c.input_range.start, (ull)c.input_range.end);
	EXPECT(c.domain_range.start == 0 && c.domain_range.end == UINT32_MAX, "domain_range %u-%u",
	       c.domain_range.start, c.domain_range.end);
	EXPECT(c.probe_size == 512, "probe_size %u", c.probe_size);
	EXPECT(c.bypass == 0 && !c.reserved[0] && !c.reserved[1] && !c.reserved[2],
	       "bypass %u", c.bypass);
	memset(tail, 0xff, sizeof(tail));
	ap_viommu_config_read(m.v, sizeof(c) - 2, tail, sizeof(tail));
	EXPECT(tail[0] == 0 && tail[7] == 0, "bytes past the structure read 0");
	/* §5.13.4.1: the driver writes nothing but bypass; others ignored. */
	m.t.config_write(m.t.arg, 0, 4, 0xdeadbeef);
	m.t.config_write(m.t.arg, 32, 4, 0x1000);
	vdrv_read_config(&m.d, &c);
	EXPECT(c.page_size_mask == (K4 | 0x200000 | 0x40000000) && c.probe_size == 512,
	       "read-only fields changed by a write");
	EXPECT(!(ap_viommu_status(m.v) & VIRTIO_CONFIG_S_NEEDS_RESET), "ignored, not an error");
	vm_destroy(&m);
}

/* §5.13.3: the offer; §2.2.1 and §3.1.1: FEATURES_OK only for a subset of
 * it, and (a modern device, §6.1) with VIRTIO_F_VERSION_1. */
static void test_feature_negotiation(void **state)
{
	struct ap_viommu_config cfg;
	struct vmachine m;
	uint64_t offer;
	uint8_t st;

	(void)state;
	EXPECT(vm_create(&m, NULL, NULL) == 0, "machine");
	m.d.t = m.t;
	offer = ap_viommu_device_features(m.v);
	EXPECT(offer == (F(VIRTIO_IOMMU_F_INPUT_RANGE) | F(VIRTIO_IOMMU_F_DOMAIN_RANGE) |
			 F(VIRTIO_IOMMU_F_MAP_UNMAP) | F(VIRTIO_IOMMU_F_PROBE) |
			 F(VIRTIO_IOMMU_F_MMIO) | F(VIRTIO_IOMMU_F_BYPASS_CONFIG) |
			 F(VIRTIO_RING_F_INDIRECT_DESC) | F(VIRTIO_RING_F_EVENT_IDX) |
			 F(VIRTIO_F_VERSION_1)),
	       "default offer 0x%llx (§5.13.3.2: MAP_UNMAP, not the legacy F_BYPASS)", (ull)offer);
	/* A bit the device did not offer: FEATURES_OK does not stick. */
	m.t.set_status(m.t.arg, 0);
	m.t.set_status(m.t.arg, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	EXPECT(ap_viommu_set_driver_features(m.v, offer | F(VIRTIO_IOMMU_F_BYPASS)) == 0, "set");
	m.t.set_status(m.t.arg, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					VIRTIO_CONFIG_S_FEATURES_OK);
	EXPECT(!(ap_viommu_status(m.v) & VIRTIO_CONFIG_S_FEATURES_OK),
	       "FEATURES_OK stuck for a feature the device did not offer");
	/* Without VERSION_1. */
	st = vdrv_negotiate(&m.d, offer & ~F(VIRTIO_F_VERSION_1));
	EXPECT(!(st & VIRTIO_CONFIG_S_FEATURES_OK), "FEATURES_OK without VERSION_1");
	/* A plain subset is fine, and features are frozen afterwards. */
	st = vdrv_negotiate(&m.d, F(VIRTIO_F_VERSION_1) | F(VIRTIO_IOMMU_F_MAP_UNMAP));
	EXPECT(st & VIRTIO_CONFIG_S_FEATURES_OK, "subset refused, status 0x%x", st);
	EXPECT(ap_viommu_set_driver_features(m.v, offer) == -EBUSY,
	       "features changed after FEATURES_OK");
	EXPECT(ap_viommu_driver_features(m.v) ==
		       (F(VIRTIO_F_VERSION_1) | F(VIRTIO_IOMMU_F_MAP_UNMAP)),
	       "driver features");
	/* §3.1.1: DRIVER_OK before FEATURES_OK does not stick. */
	m.t.set_status(m.t.arg, 0);
	m.t.set_status(m.t.arg, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					VIRTIO_CONFIG_S_DRIVER_OK);
	EXPECT(!(ap_viommu_status(m.v) & VIRTIO_CONFIG_S_DRIVER_OK), "DRIVER_OK too early");
	/* The driver cannot clear bits, nor set NEEDS_RESET. */
	m.t.set_status(m.t.arg, VIRTIO_CONFIG_S_NEEDS_RESET);
	EXPECT(ap_viommu_status(m.v) == (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER),
	       "status 0x%x", ap_viommu_status(m.v));
	vm_destroy(&m);

	/* A device offering less; bad configurations are refused. */
	ap_viommu_config_init(&cfg);
	cfg.features = F(VIRTIO_IOMMU_F_MAP_UNMAP);
	EXPECT(vm_create(&m, &cfg, NULL) == 0, "machine");
	EXPECT(ap_viommu_device_features(m.v) ==
		       (F(VIRTIO_IOMMU_F_MAP_UNMAP) | F(VIRTIO_F_VERSION_1)),
	       "offer 0x%llx", (ull)ap_viommu_device_features(m.v));
	cfg.features = F(VIRTIO_IOMMU_F_BYPASS) | F(VIRTIO_IOMMU_F_BYPASS_CONFIG);
	EXPECT(ap_viommu_new(m.ctx, m.iommu, &cfg, NULL) == -EINVAL, "both bypass bits");
	ap_viommu_config_init(&cfg);
	EXPECT(ap_viommu_new(m.ctx, m.iommu, &cfg, NULL) == -EEXIST, "second device");
	cfg.features |= F(40);
	EXPECT(ap_viommu_new(m.ctx, m.iommu, &cfg, NULL) == -EINVAL, "unknown feature");
	ap_viommu_config_init(&cfg);
	cfg.probe_size = 6;
	EXPECT(ap_viommu_new(m.ctx, m.iommu, &cfg, NULL) == -EINVAL, "probe size");
	ap_viommu_config_init(&cfg);
	cfg.queue_size_max = 48;
	EXPECT(ap_viommu_new(m.ctx, m.iommu, &cfg, NULL) == -EINVAL, "queue size");
	/* Only on an instance of kind virtio-iommu. */
	{
		struct ap_iommu_config ic;
		struct ap_iommu *vtd;

		ap_iommu_config_init(&ic, AP_IOMMU_INTEL_VTD);
		EXPECT(ap_iommu_new(m.ctx, "vtd", &ic, &vtd) == 0, "vtd");
		EXPECT(ap_viommu_new(m.ctx, vtd, NULL, NULL) == -EINVAL, "a VT-d instance");
	}
	vm_destroy(&m);
}

/* §5.13.6 (bypass mode), §5.13.4.1-2: an unattached endpoint bypasses only
 * when bypass was offered and accepted; `bypass` survives a device reset
 * and goes back to its initial value on system reset. */
static void test_bypass_negotiation(void **state)
{
	struct ap_viommu_config cfg;
	struct ap_iommu_config ic;
	struct vmachine m;
	struct ap_fault f;
	uint32_t gen;
	uint8_t one = 1, two = 2;
	uint64_t pa;

	(void)state;
	/* Offered, initial bypass 1, but the driver does not accept it. */
	up_with(&m, NULL, kind_opt(&ic, "bypass", "1"),
		ALL_FEATURES & ~F(VIRTIO_IOMMU_F_BYPASS_CONFIG));
	EXPECT(!ap_viommu_bypass(m.v), "bypass without the driver accepting it");
	EXPECT(dma(&m, 0, 0x1000, false, &f) == -EFAULT && f.kind == AP_FAULT_BAD_STREAM,
	       "an unattached endpoint is blocked");
	EXPECT(ap_audit(m.ctx, NULL) == 0, "audit: nothing bypasses");
	/* Writing bypass without the feature is a driver error. */
	ap_viommu_config_write(m.v, 36, &one, 1); /* same value: nothing */
	EXPECT(!(ap_viommu_status(m.v) & VIRTIO_CONFIG_S_NEEDS_RESET), "same value");
	{
		uint8_t zero = 0;

		ap_viommu_config_write(m.v, 36, &zero, 1);
	}
	EXPECT(ap_viommu_status(m.v) & VIRTIO_CONFIG_S_NEEDS_RESET,
	       "bypass written without BYPASS_CONFIG");
	EXPECT(m.irqs[0] == 1, "configuration interrupt with NEEDS_RESET");
	vm_destroy(&m);

	/* Offered and accepted: bypass follows the field, and the core's
	 * unmatched streams with it (show and audit see it). */
	up_with(&m, NULL, kind_opt(&ic, "bypass", "1"), ALL_FEATURES);
	EXPECT(ap_viommu_bypass(m.v) && strstr(ap_viommu_bypass_reason(m.v), "BYPASS_CONFIG"),
	       "offered, accepted, bypass=1");
	EXPECT(translates(&m, 0, 0x1234000, &pa) && pa == 0x1234000,
	       "§5.13.6: an endpoint in bypass mode translates with the identity");
	EXPECT(ap_device_bypasses(m.ep[0]) == AP_BYPASS_UNMATCHED && ap_audit(m.ctx, NULL) > 0,
	       "reported as bypass");
	EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == 0 && !translates(&m, 0, 0x1234000, &pa),
	       "attached to an empty domain: no longer");
	gen = ap_viommu_config_generation(m.v);
	m.t.config_write(m.t.arg, 36, 1, 0);
	EXPECT(!ap_viommu_bypass(m.v) && ap_viommu_config_generation(m.v) != gen,
	       "bypass=0 written: blocked, generation moved");
	EXPECT(!translates(&m, 1, 0x1234000, &pa) && ap_audit(m.ctx, NULL) == 0,
	       "unattached endpoints blocked again");
	m.t.config_write(m.t.arg, 36, 1, 1);
	EXPECT(ap_viommu_bypass(m.v), "bypass=1 written");
	/* §5.13.4.2: a device reset keeps the value... */
	vdrv_negotiate(&m.d, ALL_FEATURES & ~F(VIRTIO_IOMMU_F_BYPASS_CONFIG));
	EXPECT((uint8_t)m.t.config_read(m.t.arg, 36, 1) == 1, "bypass kept over reset");
	EXPECT(!ap_viommu_bypass(m.v) && !translates(&m, 0, 0x1234000, &pa),
	       "but the new driver did not accept it");
	vdrv_negotiate(&m.d, ALL_FEATURES);
	m.t.config_write(m.t.arg, 36, 1, 0);
	ap_viommu_system_reset(m.v);
	EXPECT((uint8_t)m.t.config_read(m.t.arg, 36, 1) == 1 && ap_viommu_status(m.v) == 0,
	       "system reset: bypass back to 1, status 0");
	/* §5.13.4.1: only 0 or 1. */
	vdrv_negotiate(&m.d, ALL_FEATURES);
	ap_viommu_config_write(m.v, 36, &two, 1);
	EXPECT(ap_viommu_status(m.v) & VIRTIO_CONFIG_S_NEEDS_RESET, "bypass=2");
	/* Freeing the device blocks them again. */
	ap_viommu_free(m.v);
	EXPECT(ap_iommu_unmatched(m.iommu) == AP_UNMATCHED_ABORT, "blocked without a device");
	vm_destroy(&m);

	/* The legacy F_BYPASS (§5.13.3): negotiated means bypass. */
	ap_viommu_config_init(&cfg);
	cfg.features &= ~F(VIRTIO_IOMMU_F_BYPASS_CONFIG);
	cfg.features |= F(VIRTIO_IOMMU_F_BYPASS);
	up(&m, &cfg, ALL_FEATURES);
	EXPECT(ap_viommu_bypass(m.v) && strstr(ap_viommu_bypass_reason(m.v), "legacy"),
	       "F_BYPASS negotiated");
	vdrv_negotiate(&m.d, ALL_FEATURES & ~F(VIRTIO_IOMMU_F_BYPASS));
	EXPECT(!ap_viommu_bypass(m.v) && !ap_viommu_bypass_reason(m.v)[0],
	       "F_BYPASS offered, not accepted");
	vm_destroy(&m);
}

/* ------------------------------------------------------------ §5.13.6.3 ATTACH */

static void test_attach(void **state)
{
	struct ap_iommu_config ic;
	struct vmachine m;
	uint8_t req[20];
	uint64_t pa;

	(void)state;
	up(&m, NULL, ALL_FEATURES);
	/* The domain is created by the first attach. */
	EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == VIRTIO_IOMMU_S_OK, "attach");
	EXPECT(ap_viommu_domain(m.v, 1) && ap_device_domain(m.ep[0]) == ap_viommu_domain(m.v, 1),
	       "endpoint on the aperture domain of ID 1");
	EXPECT(ap_domain_type(ap_viommu_domain(m.v, 1)) == AP_DOMAIN_PAGING, "paging domain");
	/* §5.13.6.3.2: an endpoint that does not exist is NOENT. */
	EXPECT(vdrv_attach(&m.d, 1, EP_NONE, 0) == VIRTIO_IOMMU_S_NOENT, "no such endpoint");
	/* Reserved not zero, or an unknown flag: INVAL (MUST). */
	memset(req, 0, sizeof(req));
	req[0] = VIRTIO_IOMMU_T_ATTACH;
	req[4] = 2;
	req[8] = EP1;
	req[16] = 1;
	EXPECT(vdrv_raw(&m.d, req, 20, 4, NULL) == VIRTIO_IOMMU_S_INVAL, "reserved not zero");
	EXPECT(vdrv_attach(&m.d, 2, EP1, 2) == VIRTIO_IOMMU_S_INVAL, "unknown flag");
	EXPECT(!ap_viommu_domain(m.v, 2) && ap_viommu_endpoint_domain(m.v, EP1) == -ENOENT,
	       "a refused attach created nothing");
	/* Several endpoints in one domain (MAY, and we do). */
	EXPECT(vdrv_attach(&m.d, 1, EP1, 0) == VIRTIO_IOMMU_S_OK, "second endpoint");
	/* Attaching again where it is: nothing changes, mappings stay. */
	EXPECT(vdrv_map(&m.d, 1, 0x10000, 0x10fff, VM_DATA, 3) == 0, "map");
	EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == VIRTIO_IOMMU_S_OK, "re-attach");
	EXPECT(translates(&m, 0, 0x10000, &pa) && pa == VM_DATA, "mapping kept by re-attach");
	/* Moving: detach from the old domain, then attach (§5.13.6.3.2). */
	EXPECT(vdrv_attach(&m.d, 3, EP0, 0) == VIRTIO_IOMMU_S_OK, "move");
	EXPECT(ap_viommu_endpoint_domain(m.v, EP0) == 3 && !translates(&m, 0, 0x10000, &pa),
	       "moved to the empty domain 3");
	EXPECT(vdrv_attach(&m.d, 3, EP1, 0) == VIRTIO_IOMMU_S_OK, "move the last one");
	EXPECT(!ap_viommu_domain(m.v, 1), "§5.13.6.4: domain 1 ceased with its last endpoint");
	/* The bypass flag needs BYPASS_CONFIG negotiated (else unknown)... */
	vm_destroy(&m);
	up(&m, NULL, ALL_FEATURES & ~F(VIRTIO_IOMMU_F_BYPASS_CONFIG));
	EXPECT(vdrv_attach(&m.d, 1, EP0, VIRTIO_IOMMU_ATTACH_F_BYPASS) == VIRTIO_IOMMU_S_INVAL,
	       "F_BYPASS without BYPASS_CONFIG");
	vm_destroy(&m);
	/* ...and must agree with an existing domain. */
	up(&m, NULL, ALL_FEATURES);
	EXPECT(vdrv_attach(&m.d, 7, EP0, VIRTIO_IOMMU_ATTACH_F_BYPASS) == 0, "bypass domain");
	EXPECT(ap_domain_type(ap_viommu_domain(m.v, 7)) == AP_DOMAIN_IDENTITY, "identity");
	EXPECT(translates(&m, 0, 0x12345000, &pa) && pa == 0x12345000, "1:1");
	EXPECT(vdrv_attach(&m.d, 7, EP1, 0) == VIRTIO_IOMMU_S_INVAL, "flag disagrees");
	EXPECT(vdrv_attach(&m.d, 8, EP1, 0) == 0, "paging domain 8");
	EXPECT(vdrv_attach(&m.d, 8, EP2, VIRTIO_IOMMU_ATTACH_F_BYPASS) == VIRTIO_IOMMU_S_INVAL,
	       "flag disagrees the other way");
	EXPECT(ap_viommu_endpoint_domain(m.v, EP1) == 8 &&
		       ap_viommu_endpoint_domain(m.v, EP2) == -ENOENT,
	       "refusals changed nothing");
	/* Endpoints of one group (not isolated, §5.13.6.3) share a domain. */
	EXPECT(vdrv_attach(&m.d, 9, EPG0, 0) == 0, "group member");
	EXPECT(vdrv_attach(&m.d, 10, EPG1, 0) == VIRTIO_IOMMU_S_UNSUPP,
	       "its group mate into another domain");
	EXPECT(vdrv_attach(&m.d, 9, EPG1, 0) == 0, "its group mate into the same one");
	EXPECT(vdrv_detach(&m.d, 9, EPG0) == 0, "one leaves");
	EXPECT(ap_device_domain(m.ep[3]) == ap_viommu_domain(m.v, 9),
	       "the group stays on the domain while a member is attached");
	vm_destroy(&m);

	/* §5.13.6: domain_range bounds domain IDs (RANGE). */
	kind_opt(&ic, "domain-start", "4");
	EXPECT(ap_iommu_config_set(&ic, "domain-end", "8", NULL) == 0, "domain-end");
	up_with(&m, NULL, &ic, ALL_FEATURES);
	{
		struct virtio_iommu_config c;

		vdrv_read_config(&m.d, &c);
		EXPECT(c.domain_range.start == 4 && c.domain_range.end == 8, "in the config");
	}
	EXPECT(vdrv_attach(&m.d, 3, EP0, 0) == VIRTIO_IOMMU_S_RANGE, "below domain_range");
	EXPECT(vdrv_attach(&m.d, 9, EP0, 0) == VIRTIO_IOMMU_S_RANGE, "above domain_range");
	EXPECT(vdrv_attach(&m.d, 8, EP0, 0) == 0, "at its end");
	vm_destroy(&m);
}

/* §5.13.6.3.2: an endpoint whose reserved region a mapping of the domain
 * covers is incompatible with it: UNSUPP. */
static void test_attach_incompatible(void **state)
{
	struct vmachine m;

	(void)state;
	up(&m, NULL, ALL_FEATURES);
	EXPECT(ap_device_add_resv(m.ep[1], 0x200000, 0x1000, AP_RESV_RESERVED) == 0, "resv");
	EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == 0, "attach");
	EXPECT(vdrv_map(&m.d, 1, 0x200000, 0x200fff, VM_DATA, 1) == 0, "map");
	EXPECT(vdrv_attach(&m.d, 1, EP1, 0) == VIRTIO_IOMMU_S_UNSUPP,
	       "endpoint whose reserved region is mapped");
	EXPECT(vdrv_attach(&m.d, 2, EP1, 0) == 0, "fine in another domain");
	vm_destroy(&m);
}

/* ------------------------------------------------------------ §5.13.6.4 DETACH */

static void test_detach(void **state)
{
	struct vmachine m;
	struct ap_fault f;
	uint8_t req[20];

	(void)state;
	up(&m, NULL, ALL_FEATURES);
	EXPECT(vdrv_detach(&m.d, 1, EP_NONE) == VIRTIO_IOMMU_S_NOENT, "no such endpoint (MUST)");
	EXPECT(vdrv_detach(&m.d, 1, EP0) == VIRTIO_IOMMU_S_INVAL, "not attached (MAY INVAL)");
	EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == 0, "attach");
	EXPECT(vdrv_map(&m.d, 1, 0x10000, 0x10fff, VM_DATA, 3) == 0, "map");
	EXPECT(dma(&m, 0, 0x10000, false, NULL) == 0, "DMA while attached");
	EXPECT(vdrv_detach(&m.d, 2, EP0) == VIRTIO_IOMMU_S_INVAL, "another domain");
	/* Reserved is ignored (MUST). */
	memset(req, 0, sizeof(req));
	req[0] = VIRTIO_IOMMU_T_DETACH;
	req[4] = 1;
	req[8] = EP0;
	req[12] = 0xff;
	EXPECT(vdrv_raw(&m.d, req, 20, 4, NULL) == VIRTIO_IOMMU_S_OK, "detach, reserved set");
	/* The endpoint cannot reach the domain's mappings any more. */
	EXPECT(dma(&m, 0, 0x10000, false, &f) == -EFAULT && f.kind == AP_FAULT_BAD_STREAM,
	       "DMA after detach: blocked (no bypass negotiated), fault %d", f.kind);
	EXPECT(!ap_viommu_domain(m.v, 1), "domain ceased");
	/* Its ID is free again, even for a bypass domain. */
	EXPECT(vdrv_attach(&m.d, 1, EP0, VIRTIO_IOMMU_ATTACH_F_BYPASS) == 0, "ID reused");
	vm_destroy(&m);
}

/* ------------------------------------------------------------ §5.13.6.5 MAP */

static void test_map(void **state)
{
	struct vmachine m;
	struct ap_fault f;
	uint64_t pa;

	(void)state;
	up(&m, NULL, ALL_FEATURES);
	EXPECT(vdrv_map(&m.d, 1, 0x10000, 0x10fff, VM_DATA, 1) == VIRTIO_IOMMU_S_NOENT,
	       "no domain: NOENT");
	EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == 0, "attach");
	/* PA = VA - virt_start + phys_start, with the access flags. */
	EXPECT(vdrv_map(&m.d, 1, 0x100000, 0x102fff, VM_DATA + 0x5000,
			VIRTIO_IOMMU_MAP_F_READ) == 0,
	       "map read-only");
	EXPECT(translates(&m, 0, 0x101234, &pa) && pa == VM_DATA + 0x6234, "pa 0x%llx", (ull)pa);
	EXPECT(dma(&m, 0, 0x102000, false, NULL) == 0, "read allowed");
	EXPECT(dma(&m, 0, 0x102000, true, &f) == -EFAULT && f.kind == AP_FAULT_PERMISSION,
	       "§5.13.6.5.2: MUST NOT allow writes without F_WRITE");
	EXPECT(dma(&m, 0, 0x103000, false, &f) == -EFAULT, "one past virt_end");
	/* Write without read: writes pass, reads fault (the kind's stage-2
	 * tables grant exactly the flags, so §5.13.6.5.2's MAY is not used). */
	EXPECT(vdrv_map(&m.d, 1, 0x180000, 0x180fff, VM_DATA, VIRTIO_IOMMU_MAP_F_WRITE) == 0,
	       "map write-only");
	EXPECT(dma(&m, 0, 0x180000, true, NULL) == 0, "write allowed");
	EXPECT(dma(&m, 0, 0x180000, false, &f) == -EFAULT && f.kind == AP_FAULT_PERMISSION,
	       "read of a write-only mapping faults");
	/* Status rules. */
	EXPECT(vdrv_map(&m.d, 1, 0x200000, 0x200fff, VM_DATA, 8) == VIRTIO_IOMMU_S_INVAL,
	       "unknown flag");
	EXPECT(vdrv_map(&m.d, 1, 0x101000, 0x101fff, VM_DATA, 1) == VIRTIO_IOMMU_S_INVAL,
	       "overlaps a mapping");
	EXPECT(vdrv_map(&m.d, 1, 0x0ff000, 0x100fff, VM_DATA, 1) == VIRTIO_IOMMU_S_INVAL,
	       "overlaps its first page");
	EXPECT(vdrv_map(&m.d, 1, 0x200800, 0x200fff, VM_DATA, 1) == VIRTIO_IOMMU_S_RANGE,
	       "virt_start off the granule");
	EXPECT(vdrv_map(&m.d, 1, 0x200000, 0x2007ff, VM_DATA, 1) == VIRTIO_IOMMU_S_RANGE,
	       "virt_end + 1 off the granule");
	EXPECT(vdrv_map(&m.d, 1, 0x200000, 0x200fff, VM_DATA + 8, 1) == VIRTIO_IOMMU_S_RANGE,
	       "phys_start off the granule");
	EXPECT(vdrv_map(&m.d, 1, 1ull << 48, (1ull << 48) + 0xfff, VM_DATA, 1) ==
		       VIRTIO_IOMMU_S_RANGE,
	       "§5.13.6: outside input_range fails");
	EXPECT(vdrv_map(&m.d, 1, 0x300000, 0x2fffff, VM_DATA, 1) == VIRTIO_IOMMU_S_INVAL,
	       "§5.13.6.5.1: virt_end below virt_start");
	EXPECT(vdrv_map(&m.d, 1, 0xfee00000, 0xfee00fff, VM_DATA, 3) == VIRTIO_IOMMU_S_INVAL,
	       "§5.13.6.8.1.2: over the MSI region the endpoint reports");
	/* MMIO needs F_MMIO: here it was negotiated. */
	EXPECT(vdrv_map(&m.d, 1, 0x400000, 0x400fff, 0xfed00000,
			VIRTIO_IOMMU_MAP_F_WRITE | VIRTIO_IOMMU_MAP_F_MMIO) == 0,
	       "MMIO mapping");
	/* No access at all: a legal mapping that holds its range. */
	EXPECT(vdrv_map(&m.d, 1, 0x500000, 0x500fff, VM_DATA, 0) == 0, "flags 0");
	EXPECT(dma(&m, 0, 0x500000, false, &f) == -EFAULT, "nothing allowed");
	EXPECT(vdrv_map(&m.d, 1, 0x500000, 0x500fff, VM_DATA, 1) == VIRTIO_IOMMU_S_INVAL,
	       "its range is taken");
	EXPECT(vdrv_unmap(&m.d, 1, 0x500000, 0x500fff) == 0, "and freed by UNMAP");
	EXPECT(vdrv_map(&m.d, 1, 0x500000, 0x500fff, VM_DATA, 1) == 0, "mapped again");
	/* A large one uses the instance's block sizes. */
	EXPECT(vdrv_map(&m.d, 1, 0x40000000, 0x7fffffff, 0x40000000, 3) == 0, "1 GiB");
	EXPECT(translates(&m, 0, 0x40001000, &pa) && pa == 0x40001000, "1G leaf");
	/* PA beyond what the instance can emit: RANGE. */
	EXPECT(vdrv_map(&m.d, 1, 0x600000, 0x600fff, 1ull << 48, 1) == VIRTIO_IOMMU_S_RANGE,
	       "phys beyond OAS");
	/* A bypass domain takes no mappings (SHOULD INVAL). */
	EXPECT(vdrv_attach(&m.d, 2, EP1, VIRTIO_IOMMU_ATTACH_F_BYPASS) == 0, "bypass domain");
	EXPECT(vdrv_map(&m.d, 2, 0x10000, 0x10fff, VM_DATA, 1) == VIRTIO_IOMMU_S_INVAL,
	       "MAP on a bypass domain");
	EXPECT(vdrv_unmap(&m.d, 2, 0x10000, 0x10fff) == VIRTIO_IOMMU_S_INVAL,
	       "UNMAP on a bypass domain");
	vm_destroy(&m);

	/* F_MMIO and F_MAP_UNMAP not negotiated. */
	up(&m, NULL, ALL_FEATURES & ~F(VIRTIO_IOMMU_F_MMIO));
	EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == 0, "attach");
	EXPECT(vdrv_map(&m.d, 1, 0x400000, 0x400fff, 0xfed00000, 6) == VIRTIO_IOMMU_S_INVAL,
	       "MMIO flag without F_MMIO");
	vm_destroy(&m);
	up(&m, NULL, ALL_FEATURES & ~F(VIRTIO_IOMMU_F_MAP_UNMAP));
	EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == 0, "attach");
	EXPECT(vdrv_map(&m.d, 1, 0x400000, 0x400fff, VM_DATA, 1) == VIRTIO_IOMMU_S_UNSUPP,
	       "MAP without F_MAP_UNMAP");
	EXPECT(vdrv_unmap(&m.d, 1, 0x400000, 0x400fff) == VIRTIO_IOMMU_S_UNSUPP,
	       "UNMAP without F_MAP_UNMAP");
	vm_destroy(&m);
}

/* ------------------------------------------------------------ §5.13.6.6 UNMAP */

/* The spec's example in units of 4 KiB: unit u is [u*4K, u*4K + 4K - 1]. */
static int map_u(struct vmachine *m, unsigned a, unsigned b)
{
	return vdrv_map(&m->d, 1, a * K4, (b + 1) * K4 - 1, VM_DATA + a * K4, 3);
}

static int unmap_u(struct vmachine *m, unsigned a, unsigned b)
{
	return vdrv_unmap(&m->d, 1, a * K4, (b + 1) * K4 - 1);
}

/* Which units 0..15 are mapped, as a bit mask. */
static unsigned mapped_units(struct vmachine *m)
{
	unsigned u, mask = 0;
	uint64_t pa;

	for (u = 0; u < 16; u++)
		if (translates(m, 0, u * K4, &pa))
			mask |= 1u << u;
	return mask;
}

static void test_unmap_examples(void **state)
{
	static const struct {
		const char *what;
		unsigned maps[2][2];
		unsigned nmaps;
		unsigned un[2];
		int status;
		unsigned left;
	} ex[] = {
		{ "(1) unmap(0,4) of nothing", { { 0 } }, 0, { 0, 4 }, 0, 0 },
		{ "(2) a=map(0,9); unmap(0,9)", { { 0, 9 } }, 1, { 0, 9 }, 0, 0 },
		{ "(3) a=map(0,4); b=map(5,9); unmap(0,9)", { { 0, 4 }, { 5, 9 } }, 2, { 0, 9 }, 0,
		  0 },
		{ "(4) a=map(0,9); unmap(0,4) fails", { { 0, 9 } }, 1, { 0, 4 },
		  VIRTIO_IOMMU_S_RANGE, 0x3ff },
		{ "(5) a=map(0,4); b=map(5,9); unmap(0,4)", { { 0, 4 }, { 5, 9 } }, 2, { 0, 4 }, 0,
		  0x3e0 },
		{ "(6) a=map(0,4); unmap(0,9)", { { 0, 4 } }, 1, { 0, 9 }, 0, 0 },
		{ "(7) a=map(0,4); b=map(10,14); unmap(0,14)", { { 0, 4 }, { 10, 14 } }, 2,
		  { 0, 14 }, 0, 0 },
		/* The other end of a split, and a split that removes nothing
		 * even though a whole mapping lies inside the range. */
		{ "a=map(0,4); b=map(5,9); unmap(0,7) fails whole",
		  { { 0, 4 }, { 5, 9 } }, 2, { 0, 7 }, VIRTIO_IOMMU_S_RANGE, 0x3ff },
		{ "a=map(2,4); unmap(3,9) fails", { { 2, 4 } }, 1, { 3, 9 },
		  VIRTIO_IOMMU_S_RANGE, 0x1c },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		struct vmachine m;
		unsigned k;
		int st;

		up(&m, NULL, ALL_FEATURES);
		EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == 0, "attach");
		for (k = 0; k < ex[i].nmaps; k++)
			EXPECT(map_u(&m, ex[i].maps[k][0], ex[i].maps[k][1]) == 0, "%s: map",
			       ex[i].what);
		st = unmap_u(&m, ex[i].un[0], ex[i].un[1]);
		EXPECT(st == ex[i].status, "§5.13.6.6 example %s: status %d, expected %d",
		       ex[i].what, st, ex[i].status);
		EXPECT(mapped_units(&m) == ex[i].left, "%s: units 0x%x mapped after, expected 0x%x",
		       ex[i].what, mapped_units(&m), ex[i].left);
		vm_destroy(&m);
	}
}

/* ------------------------------------------------------------ §5.13.6.7-8 PROBE */

static void test_probe(void **state)
{
	struct virtio_iommu_probe_resv_mem p[4];
	struct ap_viommu_config cfg;
	uint8_t props[512], small[64];
	struct vmachine m;
	uint32_t used = 0;
	size_t i;
	int st;

	(void)state;
	up(&m, NULL, ALL_FEATURES);
	/* The endpoint's MSI window (VT-d's 0xfee00000-0xfeefffff) as T_MSI,
	 * its firmware regions as T_RESERVED, in order, zeroes after. */
	EXPECT(ap_device_add_resv(m.ep[1], 0xa0000, 0x20000, AP_RESV_DIRECT) == 0, "rmrr");
	EXPECT(ap_device_add_resv(m.ep[1], 0x1000000, 0x1000, AP_RESV_RESERVED) == 0, "resv");
	memset(props, 0xee, sizeof(props));
	st = vdrv_probe(&m.d, EP1, props, sizeof(props));
	EXPECT(st == VIRTIO_IOMMU_S_OK, "probe: %d", st);
	memcpy(p, props, sizeof(p));
	EXPECT(le16toh(p[0].head.type) == VIRTIO_IOMMU_PROBE_T_RESV_MEM &&
		       le16toh(p[0].head.length) == 20 &&
		       p[0].subtype == VIRTIO_IOMMU_RESV_MEM_T_RESERVED &&
		       le64toh(p[0].start) == 0xa0000 && le64toh(p[0].end) == 0xbffff,
	       "first property: the direct-mapped firmware region as T_RESERVED");
	EXPECT(p[1].subtype == VIRTIO_IOMMU_RESV_MEM_T_RESERVED &&
		       le64toh(p[1].start) == 0x1000000 && le64toh(p[1].end) == 0x1000fff,
	       "second: the reserved region");
	EXPECT(p[2].subtype == VIRTIO_IOMMU_RESV_MEM_T_MSI && le64toh(p[2].start) == 0xfee00000 &&
		       le64toh(p[2].end) == 0xfeefffff && !p[2].reserved[0],
	       "third: the MSI doorbell as T_MSI");
	for (i = 3 * sizeof(p[0]); i < sizeof(props) && !props[i]; i++)
		;
	EXPECT(i == sizeof(props), "§5.13.6.7.2: the rest of properties is zero (byte %zu)", i);
	/* Unknown endpoint: NOENT. */
	EXPECT(vdrv_probe(&m.d, EP_NONE, props, sizeof(props)) == VIRTIO_IOMMU_S_NOENT, "NOENT");
	/* A buffer smaller than probe_size: INVAL, no property written. */
	{
		struct virtio_iommu_req_probe r;

		memset(&r, 0, sizeof(r));
		r.head.type = VIRTIO_IOMMU_T_PROBE;
		r.endpoint = EP1;
		memset(small, 0xee, sizeof(small));
		EXPECT(vdrv_request(&m.d, &r, sizeof(r), small, sizeof(small), NULL, &used) == 0,
		       "request");
		EXPECT(small[sizeof(small) - 4] == VIRTIO_IOMMU_S_INVAL && used == sizeof(small),
		       "short probe buffer: status %u used %u", small[sizeof(small) - 4], used);
		for (i = 0; i < sizeof(small) - 4 && !small[i]; i++)
			;
		EXPECT(i == sizeof(small) - 4, "no property in the short buffer");
		/* Shorter than its type: INVAL. */
		EXPECT(vdrv_request(&m.d, &r, 8, props, sizeof(props), NULL, &used) == 0 &&
			       props[508] == VIRTIO_IOMMU_S_INVAL,
		       "PROBE of 8 bytes");
	}
	/* Overlapping regions are merged (§5.13.6.8.1.2: no overlap). */
	EXPECT(ap_device_add_resv(m.ep[2], 0x2000, 0x2000, AP_RESV_RESERVED) == 0, "r1");
	EXPECT(ap_device_add_resv(m.ep[2], 0x3000, 0x3000, AP_RESV_DIRECT) == 0, "r2");
	EXPECT(vdrv_probe(&m.d, EP2, props, sizeof(props)) == 0, "probe");
	memcpy(p, props, sizeof(p));
	EXPECT(le64toh(p[0].start) == 0x2000 && le64toh(p[0].end) == 0x5fff &&
		       p[1].subtype == VIRTIO_IOMMU_RESV_MEM_T_MSI && !p[2].head.type,
	       "merged: 0x%llx-0x%llx, then MSI", (ull)le64toh(p[0].start),
	       (ull)le64toh(p[0].end));
	vm_destroy(&m);

	/* §5.13.6.7.2: PROBE without F_PROBE: not written, used length 0. */
	up(&m, NULL, ALL_FEATURES & ~F(VIRTIO_IOMMU_F_PROBE));
	EXPECT(vdrv_probe(&m.d, EP1, props, sizeof(props)) == -1, "PROBE not negotiated");
	vm_destroy(&m);
	/* More properties than probe_size holds. */
	ap_viommu_config_init(&cfg);
	cfg.probe_size = 24;
	up(&m, &cfg, ALL_FEATURES);
	EXPECT(ap_device_add_resv(m.ep[1], 0x1000000, 0x1000, AP_RESV_RESERVED) == 0, "resv");
	EXPECT(vdrv_probe(&m.d, EP0, props, 24) == 0, "one fits");
	EXPECT(vdrv_probe(&m.d, EP1, props, 24) == VIRTIO_IOMMU_S_INVAL, "two do not");
	vm_destroy(&m);
}

/* ------------------------------------------------------------ §5.13.6 framing */

/* §5.13.6: a request the device cannot parse is returned unwritten; an
 * unknown type likewise (SHOULD, used length 0); a known type shorter than
 * its structure is INVAL. */
static void test_request_framing(void **state)
{
	uint8_t rd[64], wr[16];
	struct vmachine m;
	uint32_t used = 99;
	int st;

	(void)state;
	up(&m, NULL, ALL_FEATURES);
	memset(rd, 0, sizeof(rd));
	rd[0] = 0x42;
	memset(wr, 0xee, sizeof(wr));
	EXPECT(vdrv_request(&m.d, rd, 20, wr, 4, NULL, &used) == 0 && used == 0, "unknown type");
	EXPECT(wr[0] == 0 && wr[3] == 0, "not written (the driver's zeroes remain)");
	rd[0] = VIRTIO_IOMMU_T_ATTACH;
	EXPECT(vdrv_request(&m.d, rd, 2, wr, 4, NULL, &used) == 0 && used == 0,
	       "no whole header: used %u", used);
	EXPECT(vdrv_request(&m.d, rd, 20, wr, 3, NULL, &used) == 0 && used == 0,
	       "no room for the tail");
	st = vdrv_raw(&m.d, rd, 12, 4, &used);
	EXPECT(st == VIRTIO_IOMMU_S_INVAL && used == 4, "ATTACH of 12 bytes: %d", st);
	/* Longer requests are fine: the rest is not read. */
	rd[4] = 1;
	rd[8] = EP0;
	EXPECT(vdrv_raw(&m.d, rd, 40, 4, NULL) == 0, "ATTACH with trailing bytes");
	/* A writable part longer than the tail: the tail is at its start
	 * (the struct's layout), used length 4. */
	memset(rd, 0, sizeof(rd));
	rd[0] = VIRTIO_IOMMU_T_DETACH;
	rd[4] = 1;
	rd[8] = EP0;
	EXPECT(vdrv_request(&m.d, rd, 20, wr, 12, NULL, &used) == 0 && used == 4 && wr[0] == 0,
	       "tail at the start of a 12-byte writable part");
	vm_destroy(&m);
}

/* §2.7.4.1: the device makes no assumption about how a request is split
 * into descriptors; §2.7.5.3: indirect tables, alone or after a chain. */
static void test_layouts(void **state)
{
	static const struct vdrv_layout layouts[] = {
		{ 1, 1, false }, { 3, 1, false }, { 20, 4, false }, { 1, 2, true },
		{ 5, 3, true },
	};
	uint8_t props[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		struct virtio_iommu_req_map r;
		struct virtio_iommu_req_probe pr;
		struct vmachine m;
		uint32_t used = 0;
		uint8_t wr[516];
		uint64_t pa;

		up(&m, NULL, ALL_FEATURES);
		EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == 0, "attach");
		memset(&r, 0, sizeof(r));
		r.head.type = VIRTIO_IOMMU_T_MAP;
		r.domain = 1;
		r.virt_start = 0x10000;
		r.virt_end = 0x1ffff;
		r.phys_start = VM_DATA;
		r.flags = 3;
		EXPECT(vdrv_request(&m.d, &r, offsetof(struct virtio_iommu_req_map, tail), wr, 4,
				    &layouts[i], &used) == 0 &&
			       used == 4 && wr[0] == 0,
		       "layout %zu: map status %u used %u", i, wr[0], used);
		EXPECT(translates(&m, 0, 0x18000, &pa) && pa == VM_DATA + 0x8000, "layout %zu", i);
		memset(&pr, 0, sizeof(pr));
		pr.head.type = VIRTIO_IOMMU_T_PROBE;
		pr.endpoint = EP0;
		EXPECT(vdrv_request(&m.d, &pr, sizeof(pr), wr, sizeof(wr), &layouts[i], &used) == 0 &&
			       used == sizeof(wr) && wr[512] == 0 && wr[0] == 1 && wr[4] == 1,
		       "layout %zu: probe", i);
		(void)props;
		vm_destroy(&m);
	}
	/* §2.7.5.3.2: chained descriptors followed by one indirect one. */
	{
		struct vmachine m;
		struct virtio_iommu_req_attach a;
		uint64_t s, tbl;
		uint32_t id, len;
		uint8_t st = 0xee;

		up(&m, NULL, ALL_FEATURES);
		memset(&a, 0, sizeof(a));
		a.head.type = VIRTIO_IOMMU_T_ATTACH;
		a.domain = 1;
		a.endpoint = EP0;
		s = vdrv_scratch(&m.d);
		tbl = s + 0x1000;
		memcpy(vm_ptr(&m, s), &a, 20);
		memcpy(vm_ptr(&m, s + 0x800), &st, 1);
		vdrv_put_desc(&m.d, 0, 0, s, 8, VRING_DESC_F_NEXT, 1);
		vdrv_put_desc(&m.d, 0, 1, tbl, 32, VRING_DESC_F_INDIRECT, 0);
		/* the indirect table: the other 12 readable bytes, the tail */
		{
			struct vring_desc t[2] = {
				{ s + 8, 12, VRING_DESC_F_NEXT, 1 },
				{ s + 0x800, 4, VRING_DESC_F_WRITE, 0 },
			};

			memcpy(vm_ptr(&m, tbl), t, sizeof(t));
		}
		vdrv_publish(&m.d, 0, 0);
		EXPECT(vdrv_used_next(&m.d, 0, &id, &len) && id == 0 && len == 4, "used");
		EXPECT(*(uint8_t *)vm_ptr(&m, s + 0x800) == 0 &&
			       ap_viommu_endpoint_domain(m.v, EP0) == 1,
		       "attached through a chain ending in an indirect table");
		vm_destroy(&m);
	}
}

/* ------------------------------------------------------------ §2.7 malformed rings */

struct bad_ring {
	const char *what;
	void (*build)(struct vmachine *m, uint64_t s);
	bool no_indirect; /* negotiate without VIRTIO_RING_F_INDIRECT_DESC */
};

static void attach_req(struct vmachine *m, uint64_t s)
{
	struct virtio_iommu_req_attach a;

	memset(&a, 0, sizeof(a));
	a.head.type = VIRTIO_IOMMU_T_ATTACH;
	a.domain = 1;
	a.endpoint = EP0;
	memcpy(vm_ptr(m, s), &a, 20);
}

static void bad_next(struct vmachine *m, uint64_t s)
{
	attach_req(m, s);
	vdrv_put_desc(&m->d, 0, 0, s, 20, VRING_DESC_F_NEXT, 64);
}

static void bad_loop(struct vmachine *m, uint64_t s)
{
	attach_req(m, s);
	vdrv_put_desc(&m->d, 0, 0, s, 10, VRING_DESC_F_NEXT, 1);
	vdrv_put_desc(&m->d, 0, 1, s + 10, 10, VRING_DESC_F_NEXT, 0);
}

static void bad_order(struct vmachine *m, uint64_t s)
{
	attach_req(m, s);
	vdrv_put_desc(&m->d, 0, 0, s + 0x800, 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	vdrv_put_desc(&m->d, 0, 1, s, 20, 0, 0);
}

static void bad_indirect_off(struct vmachine *m, uint64_t s)
{
	vdrv_put_desc(&m->d, 0, 0, s + 0x1000, 32, VRING_DESC_F_INDIRECT, 0);
}

static void bad_indirect_next(struct vmachine *m, uint64_t s)
{
	vdrv_put_desc(&m->d, 0, 0, s + 0x1000, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
}

static void bad_indirect_len(struct vmachine *m, uint64_t s)
{
	vdrv_put_desc(&m->d, 0, 0, s + 0x1000, 20, VRING_DESC_F_INDIRECT, 0);
}

static void bad_indirect_nested(struct vmachine *m, uint64_t s)
{
	struct vring_desc t = { s + 0x2000, 16, VRING_DESC_F_INDIRECT, 0 };

	memcpy(vm_ptr(m, s + 0x1000), &t, sizeof(t));
	vdrv_put_desc(&m->d, 0, 0, s + 0x1000, 16, VRING_DESC_F_INDIRECT, 0);
}

static void bad_indirect_next_range(struct vmachine *m, uint64_t s)
{
	struct vring_desc t = { s, 20, VRING_DESC_F_NEXT, 2 };

	attach_req(m, s);
	memcpy(vm_ptr(m, s + 0x1000), &t, sizeof(t));
	vdrv_put_desc(&m->d, 0, 0, s + 0x1000, 32, VRING_DESC_F_INDIRECT, 0);
}

static void bad_indirect_ram(struct vmachine *m, uint64_t s)
{
	(void)s;
	vdrv_put_desc(&m->d, 0, 0, 0x10000000, 32, VRING_DESC_F_INDIRECT, 0);
}

/* §2.7.5.1-3, §2.7.4.2, §2.7.5.3.1: what a driver MUST NOT do; the
 * device cannot walk such a ring, and says so with NEEDS_RESET (§2.1.2)
 * instead of guessing.  A reset recovers it. */
static void test_malformed_rings(void **state)
{
	static const struct bad_ring bad[] = {
		{ "next index out of range", bad_next, false },
		{ "a loop in a chain", bad_loop, false },
		{ "readable after writable", bad_order, false },
		{ "indirect without the feature", bad_indirect_off, true },
		{ "INDIRECT and NEXT", bad_indirect_next, false },
		{ "indirect length not a multiple of 16", bad_indirect_len, false },
		{ "indirect table in an indirect table", bad_indirect_nested, false },
		{ "indirect next out of range", bad_indirect_next_range, false },
		{ "indirect table outside RAM", bad_indirect_ram, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ap_viommu_stats st;
		struct vmachine m;
		uint32_t id, len;

		up(&m, NULL, ALL_FEATURES & ~(bad[i].no_indirect ? F(VIRTIO_RING_F_INDIRECT_DESC) : 0));
		bad[i].build(&m, vdrv_scratch(&m.d));
		vdrv_publish(&m.d, 0, 0);
		EXPECT(!vdrv_used_next(&m.d, 0, &id, &len), "%s: a malformed chain was used",
		       bad[i].what);
		ap_viommu_stats(m.v, &st);
		EXPECT((ap_viommu_status(m.v) & VIRTIO_CONFIG_S_NEEDS_RESET) && st.needs_reset &&
			       m.irqs[0] == 1,
		       "%s: NEEDS_RESET and a configuration interrupt", bad[i].what);
		EXPECT(ap_viommu_queue_notify(m.v, 0) == -EBUSY, "%s: queues stop", bad[i].what);
		EXPECT(vm_driver(&m, ALL_FEATURES, 64) == 0, "%s: a reset recovers", bad[i].what);
		EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == 0, "%s: works after reset", bad[i].what);
		vm_destroy(&m);
	}
	/* A head index out of range, and an available index far ahead. */
	{
		struct vmachine m;
		uint16_t *avail;

		up(&m, NULL, ALL_FEATURES);
		vdrv_publish(&m.d, 0, 64);
		EXPECT(ap_viommu_status(m.v) & VIRTIO_CONFIG_S_NEEDS_RESET, "head out of range");
		vm_destroy(&m);
		up(&m, NULL, ALL_FEATURES);
		avail = vm_ptr(&m, m.d.q[0].avail);
		avail[1] = 65; /* 65 entries in a 64-entry ring */
		m.t.notify(m.t.arg, 0);
		EXPECT(ap_viommu_status(m.v) & VIRTIO_CONFIG_S_NEEDS_RESET, "avail idx jump");
		vm_destroy(&m);
	}
	/* Rings outside RAM: found at the first notify. */
	{
		struct ap_viommu_queue q = { 64, 0x10000000, 0x10001000, 0x10002000 };
		struct vmachine m;

		up(&m, NULL, ALL_FEATURES);
		vdrv_negotiate(&m.d, ALL_FEATURES);
		EXPECT(ap_viommu_queue_enable(m.v, 0, &q) == 0, "enable");
		q.desc = 8;
		EXPECT(ap_viommu_queue_enable(m.v, 1, &q) == -EINVAL, "misaligned descriptors");
		q.desc = 0x10000000;
		q.size = 48;
		EXPECT(ap_viommu_queue_enable(m.v, 1, &q) == -EINVAL, "size not a power of two");
		q.size = 512;
		EXPECT(ap_viommu_queue_enable(m.v, 1, &q) == -EINVAL, "above queue_size_max");
		ap_viommu_set_status(m.v, ap_viommu_status(m.v) | VIRTIO_CONFIG_S_DRIVER_OK);
		EXPECT(ap_viommu_queue_notify(m.v, 0) == 0 &&
			       (ap_viommu_status(m.v) & VIRTIO_CONFIG_S_NEEDS_RESET),
		       "rings outside RAM");
		vm_destroy(&m);
	}
}

/* Buffers outside RAM fail only their request: S_IOERR when the tail can
 * be written, else returned unwritten (§5.13.6). */
static void test_buffers_outside_ram(void **state)
{
	struct vmachine m;
	uint64_t s;
	uint32_t id, len;

	(void)state;
	up(&m, NULL, ALL_FEATURES);
	s = vdrv_scratch(&m.d);
	attach_req(&m, s);
	/* header readable, body outside RAM, tail fine */
	vdrv_put_desc(&m.d, 0, 0, s, 4, VRING_DESC_F_NEXT, 1);
	vdrv_put_desc(&m.d, 0, 1, 0x10000000, 16, VRING_DESC_F_NEXT, 2);
	vdrv_put_desc(&m.d, 0, 2, s + 0x800, 4, VRING_DESC_F_WRITE, 0);
	vdrv_publish(&m.d, 0, 0);
	EXPECT(vdrv_used_next(&m.d, 0, &id, &len) && len == 4 &&
		       *(uint8_t *)vm_ptr(&m, s + 0x800) == VIRTIO_IOMMU_S_IOERR,
	       "body outside RAM: IOERR");
	/* tail outside RAM */
	vdrv_put_desc(&m.d, 0, 0, s, 20, VRING_DESC_F_NEXT, 1);
	vdrv_put_desc(&m.d, 0, 1, 0x10000000, 4, VRING_DESC_F_WRITE, 0);
	vdrv_publish(&m.d, 0, 0);
	EXPECT(vdrv_used_next(&m.d, 0, &id, &len) && len == 0, "tail outside RAM: used 0");
	EXPECT(ap_viommu_endpoint_domain(m.v, EP0) == -ENOENT, "and not executed");
	/* header outside RAM */
	vdrv_put_desc(&m.d, 0, 0, 0x10000000, 20, VRING_DESC_F_NEXT, 1);
	vdrv_put_desc(&m.d, 0, 1, s + 0x800, 4, VRING_DESC_F_WRITE, 0);
	vdrv_publish(&m.d, 0, 0);
	EXPECT(vdrv_used_next(&m.d, 0, &id, &len) && len == 0, "header outside RAM: used 0");
	EXPECT(!(ap_viommu_status(m.v) & VIRTIO_CONFIG_S_NEEDS_RESET), "the device goes on");
	EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == 0, "next request fine");
	vm_destroy(&m);
}

/* ------------------------------------------------------------ §2.7.7, §2.7.10 */

static void test_notification_suppression(void **state)
{
	struct vmachine m;
	uint16_t *avail, *used;

	(void)state;
	/* Without EVENT_IDX: avail flags NO_INTERRUPT (§2.7.7.2). */
	up(&m, NULL, ALL_FEATURES & ~F(VIRTIO_RING_F_EVENT_IDX));
	EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == 0 && m.irqs[1] == 1, "interrupt: flags 0");
	avail = vm_ptr(&m, m.d.q[0].avail);
	avail[0] = VRING_AVAIL_F_NO_INTERRUPT;
	EXPECT(vdrv_attach(&m.d, 1, EP1, 0) == 0 && m.irqs[1] == 1, "no interrupt: NO_INTERRUPT");
	used = vm_ptr(&m, m.d.q[0].used);
	EXPECT(used[0] == 0, "§2.7.10.2: the device's used flags stay 0 (notify us)");
	vm_destroy(&m);
	/* With EVENT_IDX: used_event decides (§2.7.7.2), and the device
	 * publishes avail_event (§2.7.10.2). */
	up(&m, NULL, ALL_FEATURES);
	avail = vm_ptr(&m, m.d.q[0].avail);
	used = vm_ptr(&m, m.d.q[0].used);
	avail[2 + 64] = 5; /* used_event: interrupt when used idx passes 5 */
	EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == 0 && m.irqs[1] == 0, "used idx 1: none");
	avail[0] = VRING_AVAIL_F_NO_INTERRUPT; /* ignored with EVENT_IDX */
	avail[2 + 64] = 1;
	EXPECT(vdrv_attach(&m.d, 1, EP1, 0) == 0 && m.irqs[1] == 1,
	       "used idx 2 after used_event 1: one (flags ignored)");
	EXPECT(used[2 + 4 * 64] == 2, "avail_event %u: the next entry", used[2 + 4 * 64]);
	vm_destroy(&m);
}

/* ------------------------------------------------------------ §5.13.6.9 events */

static void test_event_queue(void **state)
{
	struct virtio_iommu_fault ev;
	struct ap_viommu_stats st;
	struct vmachine m;
	uint32_t len;

	(void)state;
	up(&m, NULL, ALL_FEATURES);
	vdrv_event_post(&m.d, 4, sizeof(ev));
	/* An unattached endpoint: R_DOMAIN, with the address. */
	EXPECT(dma(&m, 0, 0x1234000, false, NULL) == -EFAULT, "blocked");
	EXPECT(ap_viommu_report_faults(m.v) == 1, "one report");
	EXPECT(vdrv_event_next(&m.d, &ev, &len) && len == sizeof(ev), "event used");
	EXPECT(ev.reason == VIRTIO_IOMMU_FAULT_R_DOMAIN && ev.endpoint == EP0 &&
		       ev.address == 0x1234000 &&
		       ev.flags == (VIRTIO_IOMMU_FAULT_F_READ | VIRTIO_IOMMU_FAULT_F_ADDRESS) &&
		       !ev.reserved[0] && !ev.reserved2[0],
	       "R_DOMAIN fault: reason %u ep 0x%x addr 0x%llx flags 0x%x", ev.reason, ev.endpoint,
	       (ull)ev.address, ev.flags);
	EXPECT(m.irqs[2] == 1, "event queue interrupt");
	/* Attached, unmapped: R_MAPPING; read-only, written: R_MAPPING+WRITE. */
	EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == 0, "attach");
	EXPECT(vdrv_map(&m.d, 1, 0x10000, 0x10fff, VM_DATA, VIRTIO_IOMMU_MAP_F_READ) == 0, "map");
	dma(&m, 0, 0x20000, false, NULL);
	dma(&m, 0, 0x10000, true, NULL);
	EXPECT(ap_viommu_queue_notify(m.v, 1) == 2, "a notify reports them");
	EXPECT(vdrv_event_next(&m.d, &ev, &len) && ev.reason == VIRTIO_IOMMU_FAULT_R_MAPPING &&
		       ev.address == 0x20000,
	       "unmapped");
	EXPECT(vdrv_event_next(&m.d, &ev, &len) && ev.reason == VIRTIO_IOMMU_FAULT_R_MAPPING &&
		       ev.flags == (VIRTIO_IOMMU_FAULT_F_WRITE | VIRTIO_IOMMU_FAULT_F_ADDRESS),
	       "permission");
	/* No buffer: the fault waits, and is delivered when one comes. */
	dma(&m, 0, 0x30000, false, NULL);
	dma(&m, 0, 0x31000, false, NULL);
	EXPECT(ap_viommu_report_faults(m.v) == 1, "one buffer left");
	EXPECT(ap_viommu_report_faults(m.v) == 0 && ap_iommu_fault_pending(m.iommu) == 1,
	       "the other waits");
	vdrv_event_next(&m.d, &ev, &len);
	vdrv_event_post(&m.d, 1, sizeof(ev));
	EXPECT(vdrv_event_next(&m.d, &ev, &len) && ev.address == 0x31000,
	       "delivered by the eventq notify");
	/* A buffer too small: returned with used length 0, the fault waits. */
	vdrv_event_post(&m.d, 1, 8);
	vdrv_event_post(&m.d, 1, sizeof(ev));
	dma(&m, 0, 0x32000, false, NULL);
	EXPECT(ap_viommu_report_faults(m.v) == 1, "reported once");
	EXPECT(vdrv_event_next(&m.d, &ev, &len) && len == 0, "small buffer unused");
	EXPECT(vdrv_event_next(&m.d, &ev, &len) && len == sizeof(ev) && ev.address == 0x32000,
	       "in the next buffer");
	ap_viommu_stats(m.v, &st);
	EXPECT(st.events == 6 && !st.event_overflow, "events %llu", (ull)st.events);
	vm_destroy(&m);
}

/* §5.13.6.9: with no buffer the device may wait or drop; it waits in the
 * instance's queue, and records what that queue had to drop. */
static void test_event_overflow(void **state)
{
	struct virtio_iommu_fault ev;
	struct ap_viommu_stats st;
	struct vmachine m;
	uint32_t len;
	unsigned i;

	(void)state;
	{
		struct ap_iommu_config ic;

		ap_iommu_config_init(&ic, AP_IOMMU_VIRTIO_IOMMU);
		ic.evtq_size = 4;
		EXPECT(vm_create(&m, NULL, &ic) == 0, "machine with a 4-entry fault queue");
	}
	EXPECT(vm_driver(&m, ALL_FEATURES, 64) == 0, "driver");
	for (i = 0; i < 10; i++)
		dma(&m, 0, 0x100000 + i * K4, false, NULL);
	ap_viommu_stats(m.v, &st);
	EXPECT(st.events_lost == 6 && st.event_overflow && ap_iommu_fault_overflow(m.iommu),
	       "6 of 10 lost: %llu", (ull)st.events_lost);
	vdrv_event_post(&m.d, 10, sizeof(ev));
	for (i = 0; vdrv_event_next(&m.d, &ev, &len); i++)
		EXPECT(ev.address == 0x100000 + i * K4, "oldest first");
	EXPECT(i == 4, "the 4 kept were delivered: %u", i);
	vm_destroy(&m);
}

/* ------------------------------------------------------------ §2.4 reset */

static void test_reset(void **state)
{
	struct vmachine m;
	struct ap_fault f;

	(void)state;
	up(&m, NULL, ALL_FEATURES);
	EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == 0, "attach");
	EXPECT(vdrv_map(&m.d, 1, 0x10000, 0x10fff, VM_DATA, 3) == 0, "map");
	EXPECT(ap_domain_find(m.ctx, "viommu.vd1"), "the aperture domain has a name");
	/* §5.13.5: after reset no endpoint is attached. */
	EXPECT(vm_driver(&m, ALL_FEATURES, 64) == 0, "reset and init");
	EXPECT(!ap_domain_find(m.ctx, "viommu.vd1") && !ap_device_domain(m.ep[0]),
	       "domains freed, endpoints detached");
	EXPECT(dma(&m, 0, 0x10000, false, &f) == -EFAULT && f.kind == AP_FAULT_BAD_STREAM,
	       "blocked after reset");
	/* Not before DRIVER_OK (§3.1.1): the notify does nothing. */
	m.t.set_status(m.t.arg, 0);
	EXPECT(ap_viommu_queue_notify(m.v, 0) == -EBUSY, "no queue before DRIVER_OK");
	vm_destroy(&m);
}

/* ------------------------------------------------------------ show, audit */

static char *capture(struct ap_ctx *ctx, bool audit, int *rc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	*rc = audit ? ap_audit(ctx, f) : ap_show(ctx, f, NULL);
	fclose(f);
	return text;
}

/* What the guest did is visible to the people auditing the host. */
static void test_show_audit(void **state)
{
	struct ap_iommu_config ic;
	struct vmachine m;
	char *text;
	int rc;

	(void)state;
	up_with(&m, NULL, kind_opt(&ic, "bypass", "1"), ALL_FEATURES);
	EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == 0 && vdrv_attach(&m.d, 1, EP1, 0) == 0, "attach");
	EXPECT(vdrv_map(&m.d, 1, 0x10000, 0x10fff, VM_DATA, 3) == 0, "map");
	text = capture(m.ctx, false, &rc);
	EXPECT(rc == 0 && strstr(text, "virtio-iommu devices") &&
		       strstr(text, "domain 1: viommu.vd1 (paging), 2 endpoints, 1 mapping") &&
		       strstr(text, "DRIVER_OK") && strstr(text, "boot bypass 1") &&
		       strstr(text, "unattached BYPASS"),
	       "show:\n%s", text);
	free(text);
	text = capture(m.ctx, true, &rc);
	EXPECT(rc == 4 && strstr(text, "virtio-iommu: the driver accepted "
				       "VIRTIO_IOMMU_F_BYPASS_CONFIG and bypass is 1"),
	       "audit (the instance, three unattached endpoints):\n%s", text);
	free(text);
	m.t.config_write(m.t.arg, 36, 1, 0);
	text = capture(m.ctx, true, &rc);
	EXPECT(rc == 0, "audit after bypass=0:\n%s", text);
	free(text);
	text = capture(m.ctx, false, &rc);
	EXPECT(strstr(text, "unattached endpoints are blocked") != NULL, "show:\n%s", text);
	free(text);
	vm_destroy(&m);
}

/* ------------------------------------------------------------ random vs a model */

/* A model of §5.13.6.5-6 on 64 pages: which MAP made each page, or 0. */
struct model {
	unsigned owner[64];
	uint64_t start[256], end[256];
	unsigned n;
};

static int model_map(struct model *mo, unsigned a, unsigned b)
{
	unsigned p;

	for (p = a; p <= b; p++)
		if (mo->owner[p])
			return VIRTIO_IOMMU_S_INVAL;
	mo->n++;
	for (p = a; p <= b; p++)
		mo->owner[p] = mo->n;
	mo->start[mo->n] = a;
	mo->end[mo->n] = b;
	return 0;
}

static int model_unmap(struct model *mo, unsigned a, unsigned b)
{
	unsigned p;

	if ((mo->owner[a] && mo->start[mo->owner[a]] < a) ||
	    (mo->owner[b] && mo->end[mo->owner[b]] > b))
		return VIRTIO_IOMMU_S_RANGE;
	for (p = a; p <= b; p++)
		mo->owner[p] = 0;
	return 0;
}

static void test_random_against_model(void **state)
{
	unsigned seed = seed_from_env("AP_VIOMMU_SEED", 1313), i, p;
	struct model mo;
	struct vmachine m;

	(void)state;
	print_message("virtio-iommu random MAP/UNMAP: seed %u (AP_VIOMMU_SEED)\n", seed);
	rnd_seed(seed);
	memset(&mo, 0, sizeof(mo));
	up(&m, NULL, ALL_FEATURES);
	EXPECT(vdrv_attach(&m.d, 1, EP0, 0) == 0, "attach");
	for (i = 0; i < 400 && mo.n < 250; i++) {
		unsigned a = (unsigned)rnd_below(64), b = a + (unsigned)rnd_below(64 - a);
		bool map = chance(55);
		int want, got;

		if (map) {
			want = model_map(&mo, a, b);
			got = vdrv_map(&m.d, 1, a * K4, (b + 1) * K4 - 1, VM_DATA + a * K4, 3);
		} else {
			want = model_unmap(&mo, a, b);
			got = vdrv_unmap(&m.d, 1, a * K4, (b + 1) * K4 - 1);
		}
		EXPECT(got == want, "seed %u step %u: %s(%u,%u) status %d, model %d", seed, i,
		       map ? "map" : "unmap", a, b, got, want);
		for (p = 0; p < 64; p++) {
			uint64_t pa;
			bool t = translates(&m, 0, p * K4, &pa);

			EXPECT(t == (mo.owner[p] != 0) && (!t || pa == VM_DATA + p * K4),
			       "seed %u step %u: page %u %s", seed, i, p,
			       t ? "mapped, model says not" : "unmapped, model says mapped");
		}
	}
	vm_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_space),
		cmocka_unit_test(test_feature_negotiation),
		cmocka_unit_test(test_bypass_negotiation),
		cmocka_unit_test(test_attach),
		cmocka_unit_test(test_attach_incompatible),
		cmocka_unit_test(test_detach),
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_unmap_examples),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_request_framing),
		cmocka_unit_test(test_layouts),
		cmocka_unit_test(test_malformed_rings),
		cmocka_unit_test(test_buffers_outside_ram),
		cmocka_unit_test(test_notification_suppression),
		cmocka_unit_test(test_event_queue),
		cmocka_unit_test(test_event_overflow),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_show_audit),
		cmocka_unit_test(test_random_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
