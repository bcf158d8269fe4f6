/* SPDX-License-Identifier: MIT */
/*
 * The PCI device-model layer (include/aperture/pci.h), tested against the
 * PCI specification's register rules and the I/OAT programming model that
 * Linux's ioat drivers use (doc/pci-ioat.md):
 *
 *   - configuration space: a type-0 header, a capability list that walks
 *     to MSI-X, PCI Express and Power Management and ends, BARs that answer
 *     the all-ones write with their size (32- and 64-bit), read-only and
 *     write-1-to-clear registers, FLR;
 *   - configuration from text and every refusal of ap_pci_new(), with
 *     nothing added, and allocation failures at every point;
 *   - the I/OAT engine driven through its BAR as a driver does: copies that
 *     land where the IOMMU maps them, a self-linked descriptor run N times,
 *     suspend and restart with the same register values, Linux's running
 *     DMA count, completion write-back, faults on the source, destination
 *     and descriptor (status, CHANERR, CDAR, nothing written, and the
 *     IOMMU's fault record), interrupts by MSI-X and INTx with re-arming,
 *     reset, bus mastering, and the runner thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/pci_regs.h>

#include <aperture/core.h>
#include <aperture/pci.h>

#include "expect.h"

#define RAM_PA 0x80000000ull
#define RAM_SIZE (8ull << 20)
#define PG 0x1000ull

/* ioat registers, as doc/pci-ioat.md lists them */
#define XFERCAP 0x01
#define INTRCTRL 0x03
#define ATTNSTATUS 0x04
#define CBVER 0x08
#define CHANCTRL 0x80
#define CHANCMD 0x84
#define DMACOUNT 0x86
#define CHANSTS 0x88
#define CHAINADDR 0x90
#define CHANCMP 0x98
#define CDAR 0xa0
#define CHANERR 0xa8
#define ST_ACTIVE 0
#define ST_DONE 1
#define ST_SUSPENDED 2
#define ST_HALTED 3

/* A machine: RAM, one SMMU, one device on a paging domain, an ioat
 * function on the device.  IOVA i maps RAM_PA + i for the first 4 MiB. */
struct rig {
	struct ap_ctx *ctx;
	struct ap_iommu *iommu;
	struct ap_device *dev;
	struct ap_domain *dom;
	struct ap_pci *pci;
	uint8_t *ram;
	uint8_t *bar;
	unsigned irqs[3], last_vector;
	struct ap_fault fault;
	unsigned faults;
};

static void on_irq(void *arg, struct ap_pci *pci, enum ap_pci_irq type, unsigned vector)
{
	struct rig *r = arg;

	(void)pci;
	r->irqs[type]++;
	r->last_vector = vector;
}

static void on_fault(void *arg, struct ap_pci *pci, const struct ap_fault *f)
{
	struct rig *r = arg;

	(void)pci;
	r->fault = *f;
	r->faults++;
}

static struct rig *rig_new(void)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct ap_iommu_config ic;
	struct ap_pci_config pc;
	void *host = NULL;
	uint64_t size;

	assert_non_null(r);
	r->ctx = ap_ctx_new();
	assert_non_null(r->ctx);
	assert_int_equal(ap_ram_alloc(r->ctx, RAM_PA, RAM_SIZE, &host), 0);
	r->ram = host;
	ap_iommu_config_init(&ic, AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(ap_iommu_new(r->ctx, "smmu", &ic, &r->iommu), 0);
	assert_int_equal(ap_device_new(r->ctx, "dma", r->iommu, 0x21, AP_GROUP_OWN, &r->dev), 0);
	assert_int_equal(ap_domain_new(r->ctx, "d", r->iommu, AP_DOMAIN_PAGING, &r->dom), 0);
	assert_int_equal(ap_attach(r->dom, r->dev), 0);
	assert_int_equal(ap_map(r->dom, 0, RAM_PA, 4ull << 20, AP_PROT_READ | AP_PROT_WRITE), 0);
	ap_pci_config_init(&pc, AP_PCI_IOAT);
	assert_int_equal(ap_pci_new(r->ctx, "00:04.0", r->dev, &pc, &r->pci), 0);
	r->bar = ap_pci_bar(r->pci, 0, &size);
	assert_non_null(r->bar);
	assert_int_equal(size, 16 << 10);
	ap_pci_set_irq_handler(r->pci, on_irq, r);
	ap_pci_set_fault_handler(r->pci, on_fault, r);
	return r;
}

static void rig_free(struct rig *r)
{
	ap_ctx_free(r->ctx);
	free(r);
}

static uint16_t cfg16(struct ap_pci *pci, uint32_t off)
{
	uint16_t v = 0;

	assert_int_equal(ap_pci_config_read(pci, off, &v, 2), 0);
	return v;
}

static uint32_t cfg32(struct ap_pci *pci, uint32_t off)
{
	uint32_t v = 0;

	assert_int_equal(ap_pci_config_read(pci, off, &v, 4), 0);
	return v;
}

static void wcfg16(struct ap_pci *pci, uint32_t off, uint16_t v)
{
	assert_int_equal(ap_pci_config_write(pci, off, &v, 2), 0);
}

static void wcfg32(struct ap_pci *pci, uint32_t off, uint32_t v)
{
	assert_int_equal(ap_pci_config_write(pci, off, &v, 4), 0);
}

/* MMIO as a driver does it: plain volatile loads and stores. */
static void w8(struct rig *r, uint32_t off, uint8_t v) { *(volatile uint8_t *)(r->bar + off) = v; }
static void w16(struct rig *r, uint32_t off, uint16_t v) { *(volatile uint16_t *)(void *)(r->bar + off) = v; }
static void w64(struct rig *r, uint32_t off, uint64_t v) { *(volatile uint64_t *)(void *)(r->bar + off) = v; }
static uint8_t r8(struct rig *r, uint32_t off) { return *(volatile uint8_t *)(r->bar + off); }
static uint32_t r32(struct rig *r, uint32_t off) { return *(volatile uint32_t *)(void *)(r->bar + off); }
static uint64_t r64(struct rig *r, uint32_t off) { return *(volatile uint64_t *)(void *)(r->bar + off); }

static unsigned status(struct rig *r)
{
	return (unsigned)(r64(r, CHANSTS) & 7);
}

/* A descriptor in RAM at iova (= its offset in RAM). */
static void put_desc(struct rig *r, uint64_t iova, uint32_t size, uint32_t ctl, uint64_t src,
		     uint64_t dst, uint64_t next)
{
	uint8_t *d = r->ram + iova;

	memset(d, 0, 64);
	memcpy(d, &size, 4);
	memcpy(d + 4, &ctl, 4);
	memcpy(d + 8, &src, 8);
	memcpy(d + 16, &dst, 8);
	memcpy(d + 24, &next, 8);
}

/* The selftest driver's sequence: reset, then chain address, control and
 * the doorbell. */
static void enable(struct rig *r)
{
	wcfg16(r->pci, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
				    PCI_COMMAND_INTX_DISABLE);
	w8(r, CHANCMD, 0x20);
	ap_pci_poll(r->pci);
	assert_int_equal(r8(r, CHANCMD), 0);
	assert_int_equal(status(r), ST_HALTED);
}

static void start(struct rig *r, uint64_t desc, uint16_t ctrl, uint16_t count)
{
	w64(r, CHAINADDR, desc);
	w16(r, CHANCTRL, ctrl);
	w16(r, DMACOUNT, count);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13 + (i >> 7));
}

/* ------------------------------------------------------------ config space */

static void test_header(void **state)
{
	struct rig *r = rig_new();
	struct ap_pci *pci = r->pci;
	uint32_t at, seen = 0;
	unsigned hops = 0;

	(void)state;
	assert_int_equal(cfg16(pci, PCI_VENDOR_ID), 0x8086);
	assert_int_equal(cfg16(pci, PCI_DEVICE_ID), 0x2021);
	assert_int_equal(cfg32(pci, PCI_CLASS_REVISION) >> 8, 0x088000);
	assert_int_equal(cfg32(pci, PCI_CLASS_REVISION) & 0xff, 4);
	assert_int_equal(cfg32(pci, PCI_HEADER_TYPE) & 0x7f, PCI_HEADER_TYPE_NORMAL);
	assert_true(cfg16(pci, PCI_STATUS) & PCI_STATUS_CAP_LIST);
	assert_int_equal(ap_pci_config_size(pci), 4096);
	assert_string_equal(ap_pci_name(pci), "0000:00:04.0");
	assert_int_equal(ap_pci_rid(pci), 0x0020);
	/* the capability list: dword-aligned, each ID once, and it ends */
	for (at = cfg32(pci, PCI_CAPABILITY_LIST) & 0xff; at; hops++) {
		uint32_t hdr = cfg32(pci, at);

		assert_true(hops < 8);
		assert_int_equal(at & 3, 0);
		assert_true(at >= 0x40);
		seen |= 1u << (hdr & 0x1f);
		at = (hdr >> 8) & 0xff;
	}
	assert_int_equal(seen, (1u << PCI_CAP_ID_MSIX) | (1u << PCI_CAP_ID_EXP) |
				       (1u << PCI_CAP_ID_PM));
	at = ap_pci_find_capability(pci, PCI_CAP_ID_MSIX);
	assert_int_equal(at, 0x80);
	/* one vector; table at BAR0+0x2000, PBA at BAR0+0x3000 */
	assert_int_equal(cfg16(pci, at + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_QSIZE, 0);
	assert_int_equal(cfg32(pci, at + PCI_MSIX_TABLE), 0x2000);
	assert_int_equal(cfg32(pci, at + PCI_MSIX_PBA), 0x3000);
	at = ap_pci_find_capability(pci, PCI_CAP_ID_EXP);
	assert_int_equal((cfg16(pci, at + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_TYPE) >> 4,
			 PCI_EXP_TYPE_RC_END);
	assert_true(cfg32(pci, at + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR);
	/* the I/OAT registers of the engine */
	assert_int_equal(r8(r, CBVER), 0x33);
	assert_int_equal(r8(r, XFERCAP), 20);
	assert_int_equal(status(r), ST_HALTED);
	rig_free(r);
}

static void test_bar_sizing(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config ic;
	struct ap_iommu *iommu;
	struct ap_device *dev;
	struct ap_pci_config pc;
	struct ap_pci *pci;
	uint32_t lo, hi, bar2, saved;

	(void)state;
	ap_iommu_config_init(&ic, AP_IOMMU_INTEL_VTD);
	assert_int_equal(ap_iommu_new(ctx, "vtd", &ic, &iommu), 0);
	assert_int_equal(ap_device_new(ctx, "nic", iommu, 0x0100, AP_GROUP_OWN, &dev), 0);
	ap_pci_config_init(&pc, AP_PCI_GENERIC);
	assert_int_equal(ap_pci_config_set(&pc, "bar0", "1M,64,prefetch,mmap", NULL), 0);
	assert_int_equal(ap_pci_config_set(&pc, "bar2", "4K", NULL), 0);
	assert_int_equal(ap_pci_config_set(&pc, "msix", "4", NULL), 0);
	assert_int_equal(ap_pci_new(ctx, "0000:01:00.0", dev, &pc, &pci), 0);
	/* 64-bit prefetchable BAR0: all ones gives back ~(1M-1) and the type */
	saved = cfg32(pci, PCI_BASE_ADDRESS_0);
	assert_int_equal(saved & 0xf, PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
	assert_int_equal(saved & ~0xfu & 0xfffff, 0); /* aligned to its size */
	wcfg32(pci, PCI_BASE_ADDRESS_0, 0xffffffff);
	wcfg32(pci, PCI_BASE_ADDRESS_1, 0xffffffff);
	lo = cfg32(pci, PCI_BASE_ADDRESS_0);
	hi = cfg32(pci, PCI_BASE_ADDRESS_1);
	assert_int_equal(lo, 0xfff00000u | PCI_BASE_ADDRESS_MEM_TYPE_64 |
			     PCI_BASE_ADDRESS_MEM_PREFETCH);
	assert_int_equal(hi, 0xffffffffu);
	assert_int_equal(~(((uint64_t)hi << 32) | (lo & ~0xfu)) + 1, 1 << 20);
	/* a 32-bit BAR2 */
	bar2 = cfg32(pci, PCI_BASE_ADDRESS_2);
	assert_int_equal(bar2 & 0xf, 0);
	wcfg32(pci, PCI_BASE_ADDRESS_2, 0xffffffff);
	assert_int_equal(cfg32(pci, PCI_BASE_ADDRESS_2), 0xfffff000u);
	wcfg32(pci, PCI_BASE_ADDRESS_2, bar2);
	assert_int_equal(cfg32(pci, PCI_BASE_ADDRESS_2), bar2);
	/* unused BARs and the expansion ROM are hardwired to 0 */
	wcfg32(pci, PCI_BASE_ADDRESS_3, 0xffffffff);
	assert_int_equal(cfg32(pci, PCI_BASE_ADDRESS_3), 0);
	wcfg32(pci, PCI_ROM_ADDRESS, 0xffffffff);
	assert_int_equal(cfg32(pci, PCI_ROM_ADDRESS), 0);
	/* generic MSI-X: 4 vectors in BAR0's upper half (table then PBA) */
	assert_int_equal(cfg32(pci, ap_pci_find_capability(pci, PCI_CAP_ID_MSIX) + PCI_MSIX_TABLE),
			 0x80000);
	assert_int_equal(ap_pci_config_size(pci), 256);
	ap_ctx_free(ctx);
}

static void test_register_rules(void **state)
{
	struct rig *r = rig_new();
	struct ap_pci *pci = r->pci;
	uint32_t msix = ap_pci_find_capability(pci, PCI_CAP_ID_MSIX);
	uint8_t big[8];

	(void)state;
	/* read-only: IDs, class, capability pointers */
	wcfg32(pci, PCI_VENDOR_ID, 0);
	assert_int_equal(cfg32(pci, PCI_VENDOR_ID), 0x20218086);
	wcfg32(pci, PCI_CLASS_REVISION, 0);
	assert_int_equal(cfg32(pci, PCI_CLASS_REVISION), 0x08800004);
	/* command: only the bits a memory function has */
	wcfg16(pci, PCI_COMMAND, 0xffff);
	assert_int_equal(cfg16(pci, PCI_COMMAND), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
						       PCI_COMMAND_PARITY | PCI_COMMAND_SERR |
						       PCI_COMMAND_INTX_DISABLE);
	/* status: capability list stays, error bits are write-1-to-clear */
	wcfg16(pci, PCI_STATUS, 0xffff);
	assert_int_equal(cfg16(pci, PCI_STATUS), PCI_STATUS_CAP_LIST);
	/* MSI-X: enable and mask are writable, the table size is not */
	wcfg16(pci, msix + PCI_MSIX_FLAGS, 0xffff);
	assert_int_equal(cfg16(pci, msix + PCI_MSIX_FLAGS),
			 PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	assert_true(ap_pci_msix_enabled(pci));
	wcfg16(pci, msix + PCI_MSIX_FLAGS, 0);
	assert_false(ap_pci_msix_enabled(pci));
	ap_pci_msix_set_enabled(pci, true);
	assert_true(ap_pci_msix_enabled(pci));
	/* the ioat error registers: CHANERR_INT is write-1-to-clear */
	wcfg32(pci, 0x184, 0x5a5a);
	assert_int_equal(cfg32(pci, 0x184), 0x5a5a);
	wcfg32(pci, 0x180, 0xffffffff);
	assert_int_equal(cfg32(pci, 0x180), 0);
	/* outside configuration space */
	assert_int_equal(ap_pci_config_read(pci, 4090, big, 8), -EINVAL);
	assert_int_equal(ap_pci_config_write(pci, 4096, big, 1), -EINVAL);
	assert_int_equal(ap_pci_config_read(pci, 4095, big, 1), 0);
	rig_free(r);
}

/* A Function Level Reset through the PCI Express device control register
 * resets the engine and leaves MSI-X disabled. */
static void test_flr(void **state)
{
	struct rig *r = rig_new();
	uint32_t exp = ap_pci_find_capability(r->pci, PCI_CAP_ID_EXP);
	uint16_t ctl;

	(void)state;
	enable(r);
	put_desc(r, 0x1000, 64, 0, 0x2000, 0x3000, 0x1000);
	start(r, 0x1000, 0, 1);
	ap_pci_poll(r->pci);
	assert_int_equal(status(r), ST_DONE);
	ap_pci_msix_set_enabled(r->pci, true);
	ctl = cfg16(r->pci, exp + PCI_EXP_DEVCTL);
	wcfg16(r->pci, exp + PCI_EXP_DEVCTL, ctl | PCI_EXP_DEVCTL_BCR_FLR);
	assert_int_equal(cfg16(r->pci, exp + PCI_EXP_DEVCTL), ctl); /* FLR bit reads 0 */
	assert_int_equal(status(r), ST_HALTED);
	assert_int_equal(r64(r, CHAINADDR), UINT64_MAX);
	assert_false(ap_pci_msix_enabled(r->pci));
	/* system software's restored command register survives */
	assert_true(cfg16(r->pci, PCI_COMMAND) & PCI_COMMAND_MASTER);
	rig_free(r);
}

/* ------------------------------------------------------------ creation */

static void test_config_text(void **state)
{
	struct ap_pci_config c;
	const char *form = NULL;

	(void)state;
	ap_pci_config_init(&c, AP_PCI_GENERIC);
	assert_int_equal(ap_pci_config_set(&c, "vendor", "0x10ee", &form), 0);
	assert_int_equal(c.vendor, 0x10ee);
	assert_int_equal(ap_pci_config_set(&c, "vendor", "0x10000", &form), -EINVAL);
	assert_string_equal(form, "vendor=N");
	assert_int_equal(c.vendor, 0x10ee);
	assert_int_equal(ap_pci_config_set(&c, "class", "0x020000", NULL), 0);
	assert_int_equal(c.class_code, 0x020000);
	assert_int_equal(ap_pci_config_set(&c, "pin", "5", NULL), -EINVAL);
	assert_int_equal(ap_pci_config_set(&c, "bar3", "64K,mmap", NULL), 0);
	assert_int_equal(c.bar_size[3], 64 << 10);
	assert_int_equal(c.bar_flags[3], AP_PCI_BAR_MMAP);
	assert_int_equal(ap_pci_config_set(&c, "bar3", "64K,wide", &form), -EINVAL);
	assert_string_equal(form, "barN=SIZE[,mmap][,64][,prefetch]");
	assert_int_equal(ap_pci_config_set(&c, "bar6", "4K", NULL), -ENOENT);
	assert_int_equal(ap_pci_config_set(&c, "colour", "red", NULL), -ENOENT);
	assert_int_equal(ap_pci_config_set(&c, "msix", "2049", NULL), -EINVAL);
	assert_int_equal(ap_pci_model_from_name("ioat"), AP_PCI_IOAT);
	assert_int_equal(ap_pci_model_from_name("nvme"), 0);
	assert_string_equal(ap_pci_model_name(AP_PCI_GENERIC), "generic");
}

static void test_bdf(void **state)
{
	char name[13];
	uint16_t dom, rid;

	(void)state;
	assert_int_equal(ap_pci_parse_bdf("0001:3a:1f.7", name, &dom, &rid), 0);
	assert_string_equal(name, "0001:3a:1f.7");
	assert_int_equal(dom, 1);
	assert_int_equal(rid, 0x3a << 8 | 0x1f << 3 | 7);
	assert_int_equal(ap_pci_parse_bdf("00:04.0", name, NULL, NULL), 0);
	assert_string_equal(name, "0000:00:04.0");
	assert_int_equal(ap_pci_parse_bdf("00:20.0", name, NULL, NULL), -EINVAL);
	assert_int_equal(ap_pci_parse_bdf("00:04.8", name, NULL, NULL), -EINVAL);
	assert_int_equal(ap_pci_parse_bdf("00:04.0x", name, NULL, NULL), -EINVAL);
	assert_int_equal(ap_pci_parse_bdf("04.0", name, NULL, NULL), -EINVAL);
	assert_int_equal(ap_pci_parse_bdf(NULL, name, NULL, NULL), -EINVAL);
}

static void test_new_refusals(void **state)
{
	struct rig *r = rig_new();
	struct ap_device *dev2;
	struct ap_pci_config c;
	struct ap_pci *out = NULL;
	uint64_t a0, b0, a1, b1;

	(void)state;
	assert_int_equal(ap_device_new(r->ctx, "dev2", r->iommu, 0x22, AP_GROUP_OWN, &dev2), 0);
	ap_ctx_mem_stats(r->ctx, &a0, &b0);
	ap_pci_config_init(&c, AP_PCI_GENERIC);
	assert_int_equal(ap_pci_new(r->ctx, "zz", dev2, &c, &out), -EINVAL);
	assert_int_equal(ap_pci_new(r->ctx, "00:04.0", dev2, &c, &out), -EEXIST);
	assert_int_equal(ap_pci_new(r->ctx, "00:05.0", r->dev, &c, &out), -EEXIST);
	c.bar_size[5] = 4096;
	c.bar_flags[5] = AP_PCI_BAR_64;
	assert_int_equal(ap_pci_new(r->ctx, "00:05.0", dev2, &c, &out), -EINVAL);
	assert_non_null(strstr(ap_ctx_error(r->ctx), "BAR5 cannot be 64-bit"));
	ap_pci_config_init(&c, AP_PCI_GENERIC);
	c.bar_size[1] = 3000;
	assert_int_equal(ap_pci_new(r->ctx, "00:05.0", dev2, &c, &out), -EINVAL);
	ap_pci_config_init(&c, AP_PCI_GENERIC);
	c.msix = 2;
	c.msix_bar = 0;
	assert_int_equal(ap_pci_new(r->ctx, "00:05.0", dev2, &c, &out), -EINVAL);
	c.bar_size[0] = 64;
	c.msix_table_offset = 32;
	c.msix_pba_offset = 40;
	assert_int_equal(ap_pci_new(r->ctx, "00:05.0", dev2, &c, &out), -EINVAL);
	assert_non_null(strstr(ap_ctx_error(r->ctx), "overlap"));
	ap_pci_config_init(&c, AP_PCI_IOAT);
	c.bar_size[0] = 2048;
	assert_int_equal(ap_pci_new(r->ctx, "00:05.0", dev2, &c, &out), -EINVAL);
	c.model = 7;
	assert_int_equal(ap_pci_new(r->ctx, "00:05.0", dev2, &c, &out), -EINVAL);
	assert_null(out);
	assert_null(ap_pci_find(r->ctx, "00:05.0"));
	assert_null(ap_pci_of_device(r->ctx, dev2));
	ap_ctx_mem_stats(r->ctx, &a1, &b1);
	assert_int_equal(a1, a0);
	assert_int_equal(b1, b0);
	assert_ptr_equal(ap_pci_find(r->ctx, "0000:00:04.0"), r->pci);
	assert_ptr_equal(ap_pci_of_device(r->ctx, r->dev), r->pci);
	assert_ptr_equal(ap_pci_next(r->ctx, NULL), r->pci);
	assert_null(ap_pci_next(r->ctx, r->pci));
	rig_free(r);
}

/* Every allocation ap_pci_new() makes fails in turn: the call fails with
 * -ENOMEM, nothing is added and nothing leaks; then it succeeds. */
static void test_failnth(void **state)
{
	unsigned long n;
	bool done = false;

	(void)state;
	for (n = 1; !done && n < 64; n++) {
		struct ap_ctx *ctx = ap_ctx_new();
		struct ap_iommu_config ic;
		struct ap_iommu *iommu;
		struct ap_device *dev;
		struct ap_pci_config c;
		struct ap_pci *pci = NULL;
		uint64_t a0, b0, a1, b1;
		int err;

		ap_iommu_config_init(&ic, AP_IOMMU_ARM_SMMU_V3);
		assert_int_equal(ap_iommu_new(ctx, "s", &ic, &iommu), 0);
		assert_int_equal(ap_device_new(ctx, "d", iommu, 1, AP_GROUP_OWN, &dev), 0);
		/* the first function makes the layer's state; the second is measured */
		ap_pci_config_init(&c, AP_PCI_GENERIC);
		assert_int_equal(ap_pci_new(ctx, "00:01.0", dev, &c, NULL), 0);
		assert_int_equal(ap_device_new(ctx, "e", iommu, 2, AP_GROUP_OWN, &dev), 0);
		ap_pci_config_init(&c, AP_PCI_IOAT);
		ap_ctx_mem_stats(ctx, &a0, &b0);
		ap_ctx_fail_nth(ctx, n);
		err = ap_pci_new(ctx, "00:02.0", dev, &c, &pci);
		done = !ap_ctx_fail_fired(ctx);
		ap_ctx_fail_nth(ctx, 0);
		if (done) {
			assert_int_equal(err, 0);
		} else {
			assert_int_equal(err, -ENOMEM);
			assert_null(ap_pci_find(ctx, "00:02.0"));
			ap_ctx_mem_stats(ctx, &a1, &b1);
			assert_int_equal(a1, a0);
			assert_int_equal(b1, b0);
		}
		ap_ctx_free(ctx);
	}
	assert_true(done);
	assert_true(n > 3); /* function, two BAR/engine allocations at least */
}

/* ------------------------------------------------------------ the engine */

static void test_copy_lands(void **state)
{
	struct rig *r = rig_new();
	struct ap_pci_stats st;

	(void)state;
	enable(r);
	fill(r->ram + 0x10000, 4096, 1);
	memset(r->ram + 0x20000, 0, 4096);
	put_desc(r, 0x1000, 4096, 0, 0x10000, 0x20000, 0x1000);
	start(r, 0x1000, 0x0001 | 0x0008, 1);
	assert_true(ap_pci_poll(r->pci) > 0);
	assert_int_equal(status(r), ST_DONE);
	assert_int_equal(r64(r, CHANSTS) & ~0x3full, 0x1000);
	assert_memory_equal(r->ram + 0x20000, r->ram + 0x10000, 4096);
	assert_int_equal(ap_pci_poll(r->pci), 0); /* idle now */
	ap_pci_get_stats(r->pci, &st);
	assert_int_equal(st.descriptors, 1);
	assert_int_equal(st.bytes, 4096);
	assert_int_equal(st.faults, 0);
	assert_int_equal(r->faults, 0);
	rig_free(r);
}

/* The selftests' sequence: a self-linked descriptor run N times, then
 * SUSPEND, then the same chain address and count written again, which
 * the engine must see as a new start. */
static void test_self_linked_and_restart(void **state)
{
	struct rig *r = rig_new();
	struct ap_pci_stats st;

	(void)state;
	enable(r);
	put_desc(r, 0x1000, 64, 0, 0x10000, 0x20000, 0x1000);
	start(r, 0x1000, 0x0009, 1000);
	while (ap_pci_poll(r->pci))
		;
	assert_int_equal(status(r), ST_DONE);
	ap_pci_get_stats(r->pci, &st);
	assert_int_equal(st.descriptors, 1000);
	w8(r, CHANCMD, 0x04); /* SUSPEND */
	ap_pci_poll(r->pci);
	assert_int_equal(status(r), ST_SUSPENDED);
	assert_int_equal(r8(r, CHANCMD), 0);
	for (int round = 0; round < 3; round++) {
		fill(r->ram + 0x10000, 64, 10 + round);
		start(r, 0x1000, 0x0009, 1);
		ap_pci_poll(r->pci);
		assert_int_equal(status(r), ST_DONE);
		assert_memory_equal(r->ram + 0x20000, r->ram + 0x10000, 64);
		w8(r, CHANCMD, 0x04);
		ap_pci_poll(r->pci);
		assert_int_equal(status(r), ST_SUSPENDED);
	}
	ap_pci_get_stats(r->pci, &st);
	assert_int_equal(st.descriptors, 1003);
	rig_free(r);
}

/* Linux's ioat driver: one chain address after reset, then a running
 * DMA count over a ring of descriptors. */
static void test_running_count(void **state)
{
	struct rig *r = rig_new();

	(void)state;
	enable(r);
	for (int i = 0; i < 4; i++) {
		fill(r->ram + 0x10000 + 0x100 * i, 0x100, 20 + i);
		put_desc(r, 0x1000 + 64 * i, 0x100, 0, 0x10000 + 0x100 * i, 0x30000 + 0x100 * i,
			 0x1000 + 64 * ((i + 1) % 4));
	}
	start(r, 0x1000, 0x0001, 1);
	ap_pci_poll(r->pci);
	assert_int_equal(status(r), ST_DONE);
	assert_int_equal(r64(r, CHANSTS) & ~0x3full, 0x1000);
	w16(r, DMACOUNT, 3); /* two more */
	ap_pci_poll(r->pci);
	assert_int_equal(status(r), ST_DONE);
	assert_int_equal(r64(r, CHANSTS) & ~0x3full, 0x1080);
	assert_memory_equal(r->ram + 0x30000, r->ram + 0x10000, 0x300);
	assert_int_equal(r->ram[0x30300], 0); /* the fourth has not run */
	rig_free(r);
}

static void test_completion_writeback(void **state)
{
	struct rig *r = rig_new();
	uint64_t got;

	(void)state;
	enable(r);
	w64(r, CHANCMP, 0x5000);
	put_desc(r, 0x1000, 16, 0x00000008, 0x10000, 0x20000, 0x1000);
	start(r, 0x1000, 0, 1);
	ap_pci_poll(r->pci);
	memcpy(&got, r->ram + 0x5000, 8);
	assert_int_equal(got, 0x1000 | ST_DONE);
	rig_free(r);
}

static void check_fault(struct rig *r, unsigned err, uint64_t iova, unsigned access)
{
	struct ap_fault f;

	assert_int_equal(status(r), ST_HALTED);
	assert_int_equal(r32(r, CHANERR), err);
	assert_int_equal(r->faults, 1);
	assert_int_equal(r->fault.kind, AP_FAULT_TRANSLATION);
	assert_int_equal(r->fault.iova, iova);
	assert_int_equal(r->fault.sid, 0x21);
	assert_true(r->fault.access & access);
	/* and the IOMMU recorded it in its event queue */
	assert_true(ap_iommu_fault_pop(r->iommu, &f));
	assert_int_equal(f.iova, iova);
	assert_int_equal(f.kind, AP_FAULT_TRANSLATION);
	/* the channel let go of its chain: CHAINADDR reads all ones */
	assert_int_equal(r64(r, CHAINADDR), UINT64_MAX);
}

static void test_fault_source(void **state)
{
	struct rig *r = rig_new();

	(void)state;
	enable(r);
	memset(r->ram + 0x20000, 0x77, 4096);
	put_desc(r, 0x1000, 4096, 0, 0x900000, 0x20000, 0x1000); /* 9 MiB: unmapped */
	start(r, 0x1000, 0x0009, 1);
	ap_pci_poll(r->pci);
	check_fault(r, 0x0100 /* READ_DATA_ERR */, 0x900000, AP_ACCESS_READ);
	assert_int_equal(r64(r, CDAR), 0x1000);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(r->ram[0x20000 + i], 0x77);
	/* reset clears the error and the channel works again */
	w8(r, CHANCMD, 0x20);
	ap_pci_poll(r->pci);
	assert_int_equal(r32(r, CHANERR), 0);
	assert_int_equal(status(r), ST_HALTED);
	put_desc(r, 0x1000, 64, 0, 0x10000, 0x20000, 0x1000);
	start(r, 0x1000, 0x0009, 1);
	ap_pci_poll(r->pci);
	assert_int_equal(status(r), ST_DONE);
	rig_free(r);
}

/* A copy whose destination ends in an unmapped page writes nothing. */
static void test_fault_destination(void **state)
{
	struct rig *r = rig_new();

	(void)state;
	enable(r);
	memset(r->ram + 0x3ff000, 0x55, 0x1000);
	put_desc(r, 0x1000, 0x2000, 0, 0x10000, 0x3ff000, 0x1000); /* crosses 4 MiB */
	start(r, 0x1000, 0x0009, 1);
	ap_pci_poll(r->pci);
	check_fault(r, 0x0200 /* WRITE_DATA_ERR */, 0x400000, AP_ACCESS_WRITE);
	for (int i = 0; i < 0x1000; i++)
		assert_int_equal(r->ram[0x3ff000 + i], 0x55);
	rig_free(r);
}

static void test_fault_descriptor(void **state)
{
	struct rig *r = rig_new();

	(void)state;
	enable(r);
	start(r, 0x800000, 0x0009, 1);
	ap_pci_poll(r->pci);
	check_fault(r, 0x0004 /* NEXT_ADDR_ERR */, 0x800000, AP_ACCESS_READ);
	rig_free(r);
}

static void test_descriptor_errors(void **state)
{
	struct rig *r = rig_new();

	(void)state;
	enable(r);
	start(r, 0x1010, 0, 1); /* not 64-byte aligned */
	ap_pci_poll(r->pci);
	assert_int_equal(status(r), ST_HALTED);
	assert_int_equal(r32(r, CHANERR), 0x0010 /* CHAIN_ADDR_VALUE_ERR */);
	w8(r, CHANCMD, 0x20);
	ap_pci_poll(r->pci);
	put_desc(r, 0x1000, (1u << 20) + 1, 0, 0x10000, 0x20000, 0x1000);
	start(r, 0x1000, 0, 1);
	ap_pci_poll(r->pci);
	assert_int_equal(r32(r, CHANERR), 0x0800 /* LENGTH_ERR */);
	w8(r, CHANCMD, 0x20);
	ap_pci_poll(r->pci);
	put_desc(r, 0x1000, 64, 0x87u << 24 /* XOR: not modelled */, 0x10000, 0x20000, 0x1000);
	start(r, 0x1000, 0, 1);
	ap_pci_poll(r->pci);
	assert_int_equal(r32(r, CHANERR), 0x0400 /* CONTROL_ERR */);
	w8(r, CHANCMD, 0x20);
	ap_pci_poll(r->pci);
	/* a null descriptor moves nothing and completes */
	put_desc(r, 0x1000, 1, 0x20, 0x900000, 0x900000, 0x1000);
	start(r, 0x1000, 0, 1);
	ap_pci_poll(r->pci);
	assert_int_equal(status(r), ST_DONE);
	assert_int_equal(r->faults, 0);
	rig_free(r);
}

static void test_interrupts(void **state)
{
	struct rig *r = rig_new();

	(void)state;
	enable(r);
	put_desc(r, 0x1000, 8, 0x1 /* INT_EN */, 0x10000, 0x20000, 0x1000);
	/* MSI-X not enabled, INTx disabled in the command register: nothing */
	w8(r, INTRCTRL, 0x08);
	start(r, 0x1000, 0x0001, 1);
	ap_pci_poll(r->pci);
	assert_int_equal(r->irqs[AP_PCI_IRQ_MSIX] + r->irqs[AP_PCI_IRQ_INTX], 0);
	assert_int_equal(r32(r, ATTNSTATUS) & 1, 1);
	/* MSI-X on: vector 0, once per re-arm */
	ap_pci_msix_set_enabled(r->pci, true);
	w16(r, DMACOUNT, 2);
	ap_pci_poll(r->pci);
	assert_int_equal(r->irqs[AP_PCI_IRQ_MSIX], 0); /* not re-armed since */
	w16(r, CHANCTRL, 0x0001);
	w16(r, DMACOUNT, 3);
	ap_pci_poll(r->pci);
	assert_int_equal(r->irqs[AP_PCI_IRQ_MSIX], 1);
	assert_int_equal(r->last_vector, 0);
	/* the arm bit is consumed */
	assert_int_equal(*(volatile uint16_t *)(void *)(r->bar + CHANCTRL) & 1, 0);
	/* a descriptor without INT_EN never interrupts */
	put_desc(r, 0x1000, 8, 0, 0x10000, 0x20000, 0x1000);
	w16(r, CHANCTRL, 0x0001);
	w16(r, DMACOUNT, 4);
	ap_pci_poll(r->pci);
	assert_int_equal(r->irqs[AP_PCI_IRQ_MSIX], 1);
	/* INTx when MSI-X is off and INTx allowed */
	ap_pci_msix_set_enabled(r->pci, false);
	wcfg16(r->pci, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	put_desc(r, 0x1000, 8, 0x1, 0x10000, 0x20000, 0x1000);
	w16(r, DMACOUNT, 5);
	ap_pci_poll(r->pci);
	assert_int_equal(r->irqs[AP_PCI_IRQ_INTX], 1);
	/* with INTRCTRL clear the channel interrupt goes nowhere */
	w8(r, INTRCTRL, 0);
	w16(r, CHANCTRL, 0x0001);
	w16(r, DMACOUNT, 6);
	ap_pci_poll(r->pci);
	assert_int_equal(r->irqs[AP_PCI_IRQ_INTX], 1);
	rig_free(r);
}

/* An error interrupts only with ERR_INT_EN (the selftests' copies to
 * unmapped IOVAs must not send one). */
static void test_error_interrupt(void **state)
{
	struct rig *r = rig_new();

	(void)state;
	enable(r);
	ap_pci_msix_set_enabled(r->pci, true);
	w8(r, INTRCTRL, 0x08);
	put_desc(r, 0x1000, 8, 0x1, 0x900000, 0x20000, 0x1000);
	start(r, 0x1000, 0x0009, 1);
	ap_pci_poll(r->pci);
	assert_int_equal(status(r), ST_HALTED);
	assert_int_equal(r->irqs[AP_PCI_IRQ_MSIX], 0);
	w8(r, CHANCMD, 0x20);
	ap_pci_poll(r->pci);
	start(r, 0x1000, 0x0010 /* ERR_INT_EN */, 1);
	ap_pci_poll(r->pci);
	assert_int_equal(r->irqs[AP_PCI_IRQ_MSIX], 1);
	rig_free(r);
}

static void test_bus_master(void **state)
{
	struct rig *r = rig_new();

	(void)state;
	w8(r, CHANCMD, 0x20);
	ap_pci_poll(r->pci);
	put_desc(r, 0x1000, 64, 0, 0x10000, 0x20000, 0x1000);
	start(r, 0x1000, 0, 1);
	assert_int_equal(ap_pci_poll(r->pci), 0); /* no bus mastering: waits */
	assert_int_equal(status(r), ST_HALTED);
	wcfg16(r->pci, PCI_COMMAND, PCI_COMMAND_MASTER);
	assert_true(ap_pci_poll(r->pci) > 0);
	assert_int_equal(status(r), ST_DONE);
	rig_free(r);
}

static void test_bar_access_and_backing(void **state)
{
	struct rig *r = rig_new();
	static uint8_t mem[16 << 10];
	uint8_t v[8];

	(void)state;
	assert_int_equal(ap_pci_bar_read(r->pci, 0, CBVER, v, 1), 0);
	assert_int_equal(v[0], 0x33);
	assert_int_equal(ap_pci_bar_read(r->pci, 0, (16 << 10) - 4, v, 8), -EINVAL);
	assert_int_equal(ap_pci_bar_read(r->pci, 1, 0, v, 1), -EINVAL);
	assert_int_equal(ap_pci_bar_set_backing(r->pci, 0, mem), 0);
	assert_int_equal(mem[CBVER], 0x33);
	assert_ptr_equal(ap_pci_bar(r->pci, 0, NULL), mem);
	r->bar = mem;
	enable(r);
	put_desc(r, 0x1000, 64, 0, 0x10000, 0x20000, 0x1000);
	memset(v, 0, sizeof(v));
	v[0] = 1;
	w64(r, CHAINADDR, 0x1000);
	assert_int_equal(ap_pci_bar_write(r->pci, 0, DMACOUNT, v, 2), 0);
	ap_pci_poll(r->pci);
	assert_int_equal(mem[CHANSTS] & 7, ST_DONE);
	assert_int_equal(ap_pci_bar_set_backing(r->pci, 2, mem), -EINVAL);
	rig_free(r);
}

static void test_runner(void **state)
{
	struct rig *r = rig_new();
	struct timespec t0, t;

	(void)state;
	enable(r);
	assert_int_equal(ap_pci_start(r->ctx, NULL, NULL), 0);
	assert_int_equal(ap_pci_start(r->ctx, NULL, NULL), -EBUSY);
	fill(r->ram + 0x10000, 256, 5);
	put_desc(r, 0x1000, 256, 0, 0x10000, 0x20000, 0x1000);
	/* beside a running engine, MMIO is atomic (release on the doorbell) */
	__atomic_store_n((uint64_t *)(void *)(r->bar + CHAINADDR), 0x1000, __ATOMIC_RELEASE);
	__atomic_store_n((uint16_t *)(void *)(r->bar + DMACOUNT), 1, __ATOMIC_RELEASE);
	/* Wait by sleeping, not spinning: under valgrind only one thread runs at a
	 * time, and a spinning waiter can keep the runner from its turn for many
	 * seconds (the CI failure with a 10 s cap). The cap only catches a runner
	 * that never finishes. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((__atomic_load_n((uint64_t *)(void *)(r->bar + CHANSTS), __ATOMIC_ACQUIRE) & 7) !=
	       ST_DONE) {
		struct timespec ms = { 0, 1000000L };

		nanosleep(&ms, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t);
		assert_true(t.tv_sec - t0.tv_sec < 240);
	}
	ap_pci_stop(r->ctx);
	ap_pci_stop(r->ctx);
	assert_memory_equal(r->ram + 0x20000, r->ram + 0x10000, 256);
	rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_bar_sizing),
		cmocka_unit_test(test_register_rules),
		cmocka_unit_test(test_flr),
		cmocka_unit_test(test_config_text),
		cmocka_unit_test(test_bdf),
		cmocka_unit_test(test_new_refusals),
		cmocka_unit_test(test_failnth),
		cmocka_unit_test(test_copy_lands),
		cmocka_unit_test(test_self_linked_and_restart),
		cmocka_unit_test(test_running_count),
		cmocka_unit_test(test_completion_writeback),
		cmocka_unit_test(test_fault_source),
		cmocka_unit_test(test_fault_destination),
		cmocka_unit_test(test_fault_descriptor),
		cmocka_unit_test(test_descriptor_errors),
		cmocka_unit_test(test_interrupts),
		cmocka_unit_test(test_error_interrupt),
		cmocka_unit_test(test_bus_master),
		cmocka_unit_test(test_bar_access_and_backing),
		cmocka_unit_test(test_runner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
