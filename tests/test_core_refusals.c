/* SPDX-License-Identifier: MIT */
/*
 * The core's less travelled paths, through the public API only: the
 * context allocator for frontends, reserved-region refusals and ordering,
 * every capability an instance is refused for, domain registers, attach
 * refusals (coherency, contexts, a walker that cannot enter the tables),
 * map/unmap at the ends of the address space, RAM edge cases, and a table
 * window too small for the tables a map needs.  Each refusal is checked
 * for its errno and for leaving everything as it was.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include <aperture/core.h>

#include "expect.h"

#define SZ_4K 0x1000ull
#define SZ_16K 0x4000ull
#define SZ_64K 0x10000ull
#define SZ_2M 0x200000ull
#define SZ_32M 0x2000000ull
#define SZ_1G 0x40000000ull
#define SZ_512M 0x20000000ull
#define RW (AP_PROT_READ | AP_PROT_WRITE)

/* ------------------------------------------------------------ helpers */

static struct ap_iommu *mk_iommu(struct ap_ctx *ctx, const char *name,
				 const struct ap_iommu_config *c)
{
	struct ap_iommu *iommu = NULL;
	int err = ap_iommu_new(ctx, name, c, &iommu);

	EXPECT(err == 0, "ap_iommu_new(%s) = %d: %s", name, err, ap_ctx_error(ctx));
	return iommu;
}

static struct ap_iommu_config smmu_cfg(unsigned stage, unsigned ias, unsigned oas,
				       uint64_t pgsizes)
{
	struct ap_iommu_config c;

	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	c.smmuv3.stage = stage;
	c.ias = ias;
	c.oas = oas;
	c.pgsize_bitmap = pgsizes;
	return c;
}

static struct ap_device *mk_dev(struct ap_ctx *ctx, const char *name, struct ap_iommu *iommu,
				uint32_t sid)
{
	struct ap_device *dev = NULL;

	assert_int_equal(ap_device_new(ctx, name, iommu, sid, AP_GROUP_OWN, &dev), 0);
	return dev;
}

static struct ap_domain *mk_dom(struct ap_ctx *ctx, const char *name, struct ap_iommu *iommu,
				enum ap_domain_type type)
{
	struct ap_domain *dom = NULL;
	int err = ap_domain_new(ctx, name, iommu, type, &dom);

	EXPECT(err == 0, "ap_domain_new(%s) = %d: %s", name, err, ap_ctx_error(ctx));
	return dom;
}

static size_t resv_count(const struct ap_device *dev)
{
	struct ap_resv r;
	size_t n = 0;

	while (ap_device_resv(dev, n, &r) == 0)
		n++;
	return n;
}

static void assert_geometry(const struct ap_domain *dom, uint64_t start, uint64_t end, bool force)
{
	struct ap_geometry g;

	ap_domain_geometry(dom, &g);
	EXPECT(g.start == start && g.end == end && g.force == force,
	       "geometry %llx-%llx %d, wanted %llx-%llx %d", (ull)g.start, (ull)g.end, g.force,
	       (ull)start, (ull)end, force);
}

static void mem_stats(const struct ap_ctx *ctx, uint64_t *allocs, uint64_t *bytes)
{
	ap_ctx_mem_stats(ctx, allocs, bytes);
}

/* ------------------------------------------------------------ allocator */

/* ap_mem_*: zeroed, counted, failure-injectable, and a failed realloc keeps
 * the old block whole. */
static void test_mem_allocator(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	uint64_t a0, b0, a, b;
	uint8_t *p, *q, *r;
	size_t i;

	(void)state;
	assert_null(ap_mem_alloc(NULL, 8));
	assert_null(ap_mem_realloc(NULL, NULL, 8));
	ap_mem_free(NULL, NULL);
	mem_stats(ctx, &a0, &b0);

	p = ap_mem_alloc(ctx, 0); /* taken as 1 byte */
	assert_non_null(p);
	mem_stats(ctx, &a, &b);
	assert_int_equal(a, a0 + 1);
	assert_int_equal(b, b0 + 1);

	q = ap_mem_alloc(ctx, 16);
	assert_non_null(q);
	for (i = 0; i < 16; i++)
		assert_int_equal(q[i], 0);
	memset(q, 0x5a, 16);
	q = ap_mem_realloc(ctx, q, 64);
	assert_non_null(q);
	for (i = 0; i < 64; i++)
		EXPECT(q[i] == (i < 16 ? 0x5a : 0), "byte %zu of the grown block is %#x", i, q[i]);
	mem_stats(ctx, &a, &b);
	assert_int_equal(a, a0 + 2);
	assert_int_equal(b, b0 + 1 + 64);

	q = ap_mem_realloc(ctx, q, 8); /* shrink keeps the head */
	assert_non_null(q);
	for (i = 0; i < 8; i++)
		assert_int_equal(q[i], 0x5a);
	mem_stats(ctx, &a, &b);
	assert_int_equal(b, b0 + 1 + 8);

	r = ap_mem_realloc(ctx, NULL, 32); /* NULL p: a fresh zeroed block */
	assert_non_null(r);
	for (i = 0; i < 32; i++)
		assert_int_equal(r[i], 0);
	mem_stats(ctx, &a, &b);
	assert_int_equal(a, a0 + 3);

	/* An injected failure: NULL, the old block untouched and still counted. */
	ap_ctx_fail_nth(ctx, 1);
	assert_null(ap_mem_realloc(ctx, q, 4096));
	assert_true(ap_ctx_fail_fired(ctx));
	for (i = 0; i < 8; i++)
		assert_int_equal(q[i], 0x5a);
	ap_ctx_fail_nth(ctx, 1);
	assert_null(ap_mem_alloc(ctx, 4));
	ap_ctx_fail_nth(ctx, 0);
	mem_stats(ctx, &a, &b);
	assert_int_equal(a, a0 + 3);
	assert_int_equal(b, b0 + 1 + 8 + 32);

	/* Sizes no header fits in are refused like an exhausted heap. */
	assert_null(ap_mem_alloc(ctx, SIZE_MAX));
	assert_null(ap_mem_realloc(ctx, q, SIZE_MAX));
	assert_int_equal(q[7], 0x5a);
	mem_stats(ctx, &a, &b);
	assert_int_equal(b, b0 + 1 + 8 + 32);

	/* Either out-pointer may be NULL. */
	ap_ctx_mem_stats(ctx, NULL, &b);
	assert_int_equal(b, b0 + 1 + 8 + 32);
	ap_ctx_mem_stats(ctx, &a, NULL);
	assert_int_equal(a, a0 + 3);

	q = ap_mem_realloc(ctx, q, 0); /* taken as 1 byte, like ap_mem_alloc */
	assert_non_null(q);
	assert_int_equal(q[0], 0x5a);
	mem_stats(ctx, &a, &b);
	assert_int_equal(b, b0 + 1 + 1 + 32);

	ap_mem_free(ctx, NULL);
	ap_mem_free(NULL, p); /* no context: nothing happens, p stays ours */
	ap_mem_free(ctx, p);
	ap_mem_free(ctx, q);
	ap_mem_free(ctx, r);
	mem_stats(ctx, &a, &b);
	assert_int_equal(a, a0);
	assert_int_equal(b, b0);
	ap_ctx_free(ctx);
}

static void test_null_context_queries(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();

	(void)state;
	assert_string_equal(ap_ctx_error(NULL), "no context");
	assert_null(ap_ctx_frontend(ctx, "nobody"));
	assert_null(ap_device_find(ctx, NULL));
	{
		struct ap_iommu_config c = smmu_cfg(1, 48, 48, SZ_4K);

		mk_dev(ctx, "dev", mk_iommu(ctx, "s", &c), 7);
		assert_null(ap_device_find(ctx, NULL));
		assert_int_equal(ap_device_sid(ap_device_find(ctx, "dev")), 7);
	}
	assert_null(ap_iommu_find(ctx, "none"));
	ap_ctx_free(ctx);
	ap_ctx_free(NULL);
}

/* ------------------------------------------------------------ names */

static void test_kind_and_type_names(void **state)
{
	int t;

	(void)state;
	assert_int_equal(ap_iommu_kind_from_name("arm-smmu-v3"), AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(ap_iommu_kind_from_name("intel-vtd"), AP_IOMMU_INTEL_VTD);
	assert_int_equal(ap_iommu_kind_from_name(NULL), 0);
	assert_int_equal(ap_iommu_kind_from_name(""), 0);
	assert_int_equal(ap_iommu_kind_from_name("amd-vi"), 0);
	assert_string_equal(ap_iommu_kind_name(AP_IOMMU_INTEL_VTD), "intel-vtd");
	assert_string_equal(ap_iommu_kind_name((enum ap_iommu_kind)0), "?");
	assert_string_equal(ap_iommu_kind_name(AP_IOMMU_ARM_SMMU), "arm-smmu");
	assert_string_equal(ap_iommu_kind_name((enum ap_iommu_kind)99), "?");

	for (t = AP_RESV_DIRECT; t <= AP_RESV_SW_MSI; t++)
		assert_int_equal(ap_resv_type_from_name(ap_resv_type_name((enum ap_resv_type)t)), t);
	assert_string_equal(ap_resv_type_name((enum ap_resv_type)5), "?");
	assert_string_equal(ap_resv_type_name((enum ap_resv_type)-1), "?");
	assert_int_equal(ap_resv_type_from_name(NULL), -1);
	assert_int_equal(ap_resv_type_from_name("msi-x"), -1);

	for (t = AP_FAULT_BAD_STREAM; t < AP_FAULT_KIND_COUNT; t++)
		assert_int_equal(ap_fault_kind_from_name(ap_fault_kind_name((enum ap_fault_kind)t)),
				 t);
	assert_string_equal(ap_fault_kind_name(AP_FAULT_NONE), "none");
	assert_string_equal(ap_fault_kind_name(AP_FAULT_KIND_COUNT), "?");
	assert_int_equal(ap_fault_kind_from_name(NULL), AP_FAULT_NONE);
	assert_int_equal(ap_fault_kind_from_name("none"), AP_FAULT_NONE); /* not a fault */
	assert_int_equal(ap_fault_kind_from_name("page"), AP_FAULT_NONE);
}

/* ------------------------------------------------------------ reserved */

static void expect_resv(const struct ap_device *dev, size_t i, uint64_t start, uint64_t end,
			enum ap_resv_type type)
{
	struct ap_resv r;

	assert_int_equal(ap_device_resv(dev, i, &r), 0);
	EXPECT(r.start == start && r.end == end && r.type == type,
	       "resv %zu is %llx-%llx %s, wanted %llx-%llx %s", i, (ull)r.start, (ull)r.end,
	       ap_resv_type_name(r.type), (ull)start, (ull)end, ap_resv_type_name(type));
}

static void test_resv_refusals(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c = smmu_cfg(1, 48, 48, SZ_4K | SZ_2M | SZ_1G);
	struct ap_device *dev = mk_dev(ctx, "d", mk_iommu(ctx, "s", &c), 1);
	struct ap_resv r;

	(void)state;
	assert_int_equal(resv_count(dev), 1); /* the SMMU's SW_MSI window */
	assert_int_equal(ap_device_add_resv(NULL, 0, SZ_4K, AP_RESV_DIRECT), -EINVAL);
	assert_int_equal(ap_device_add_resv(dev, 0x1000, 0, AP_RESV_DIRECT), -EINVAL);
	assert_int_equal(ap_device_add_resv(dev, UINT64_MAX - 0xfff, 0x2000, AP_RESV_DIRECT),
			 -EINVAL);
	assert_int_equal(ap_device_add_resv(dev, 0x1000, SZ_4K, (enum ap_resv_type)5), -EINVAL);
	assert_true(strlen(ap_ctx_error(ctx)) > 0);
	ap_ctx_fail_nth(ctx, 1);
	assert_int_equal(ap_device_add_resv(dev, 0x1000, SZ_4K, AP_RESV_DIRECT), -ENOMEM);
	assert_true(ap_ctx_fail_fired(ctx));
	ap_ctx_fail_nth(ctx, 0);
	assert_int_equal(resv_count(dev), 1);
	assert_int_equal(ap_device_resv(dev, 1, &r), -ENOENT);
	ap_ctx_free(ctx);
}

/* Sorted by start, then type; equal ones keep the order they came in. */
static void test_resv_order(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c = smmu_cfg(1, 48, 48, SZ_4K | SZ_2M | SZ_1G);
	struct ap_iommu_config v;
	struct ap_device *dev = mk_dev(ctx, "d", mk_iommu(ctx, "s", &c), 1);
	struct ap_device *vdev;

	(void)state;
	assert_int_equal(ap_device_add_resv(dev, 0x8000000, SZ_4K, AP_RESV_RESERVED), 0);
	assert_int_equal(ap_device_add_resv(dev, 0x8000000, SZ_4K, AP_RESV_DIRECT), 0);
	assert_int_equal(ap_device_add_resv(dev, 0x1000, SZ_4K, AP_RESV_MSI), 0);
	assert_int_equal(ap_device_add_resv(dev, UINT64_MAX - 0xfff, SZ_4K,
					    AP_RESV_DIRECT_RELAXABLE), 0); /* ends at 2^64-1 */
	assert_int_equal(ap_device_add_resv(dev, 0x1000, 0x2000, AP_RESV_MSI), 0);
	assert_int_equal(resv_count(dev), 6);
	expect_resv(dev, 0, 0x1000, 0x1fff, AP_RESV_MSI);
	expect_resv(dev, 1, 0x1000, 0x2fff, AP_RESV_MSI);
	expect_resv(dev, 2, 0x8000000, 0x8000fff, AP_RESV_DIRECT);
	expect_resv(dev, 3, 0x8000000, 0x8000fff, AP_RESV_RESERVED);
	expect_resv(dev, 4, 0x8000000, 0x80fffff, AP_RESV_SW_MSI);
	expect_resv(dev, 5, UINT64_MAX - 0xfff, UINT64_MAX, AP_RESV_DIRECT_RELAXABLE);

	ap_iommu_config_init(&v, AP_IOMMU_INTEL_VTD);
	vdev = mk_dev(ctx, "vd", mk_iommu(ctx, "v", &v), 1);
	assert_int_equal(resv_count(vdev), 1);
	expect_resv(vdev, 0, 0xfee00000, 0xfeefffff, AP_RESV_MSI);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ instances */

struct cfg_case {
	const char *what;
	enum ap_iommu_kind kind;
	void (*edit)(struct ap_iommu_config *c);
	int err;
};

#define EDIT(name, body) \
	static void name(struct ap_iommu_config *c) { body; }

EDIT(vtd_ias31, c->ias = 31)
EDIT(vtd_ias58, c->ias = 58)
EDIT(vtd_oas31, c->oas = 31)
EDIT(vtd_oas53, c->oas = 53)
EDIT(vtd_no4k, c->pgsize_bitmap = SZ_2M)
EDIT(vtd_16k, c->pgsize_bitmap = SZ_4K | SZ_16K)
EDIT(vtd_sagaw_bad, c->vtd.sagaw = 1u << 4)
EDIT(vtd_sagaw_bit0, c->vtd.sagaw = 1u << 0)
EDIT(smmu_ias31, c->ias = 31)
EDIT(smmu_ias53, c->ias = 53)
EDIT(smmu_oas33, c->oas = 33)
EDIT(smmu_oas50, c->oas = 50)
EDIT(smmu_stage0, c->smmuv3.stage = 0)
EDIT(smmu_stage3, c->smmuv3.stage = 3)
EDIT(smmu_nopg, c->pgsize_bitmap = 0)
EDIT(smmu_8k, c->pgsize_bitmap = SZ_4K | 0x2000)
EDIT(smmu_nogranule, c->pgsize_bitmap = SZ_2M | SZ_1G)
EDIT(kind7, c->kind = (enum ap_iommu_kind)7)
EDIT(unmatched2, c->unmatched = (enum ap_unmatched)2)
EDIT(evtq0, c->evtq_size = 0)
EDIT(evtq_big, c->evtq_size = 65537)
EDIT(host2k, c->host_page_size = 2048)
EDIT(host12k, c->host_page_size = 12288)

static const struct cfg_case cfg_cases[] = {
	{ "vt-d ias 31", AP_IOMMU_INTEL_VTD, vtd_ias31, -EINVAL },
	{ "vt-d ias 58", AP_IOMMU_INTEL_VTD, vtd_ias58, -EINVAL },
	{ "vt-d oas 31", AP_IOMMU_INTEL_VTD, vtd_oas31, -EINVAL },
	{ "vt-d oas 53", AP_IOMMU_INTEL_VTD, vtd_oas53, -EINVAL },
	{ "vt-d without 4K", AP_IOMMU_INTEL_VTD, vtd_no4k, -EINVAL },
	{ "vt-d 16K", AP_IOMMU_INTEL_VTD, vtd_16k, -EINVAL },
	{ "vt-d sagaw bit 4", AP_IOMMU_INTEL_VTD, vtd_sagaw_bad, -EINVAL },
	{ "vt-d sagaw bit 0 (2-level)", AP_IOMMU_INTEL_VTD, vtd_sagaw_bit0, -EINVAL },
	{ "smmu ias 31", AP_IOMMU_ARM_SMMU_V3, smmu_ias31, -EINVAL },
	{ "smmu ias 53", AP_IOMMU_ARM_SMMU_V3, smmu_ias53, -EINVAL },
	{ "smmu oas 33", AP_IOMMU_ARM_SMMU_V3, smmu_oas33, -EINVAL },
	{ "smmu oas 50", AP_IOMMU_ARM_SMMU_V3, smmu_oas50, -EINVAL },
	{ "smmu stage 0", AP_IOMMU_ARM_SMMU_V3, smmu_stage0, -EINVAL },
	{ "smmu stage 3", AP_IOMMU_ARM_SMMU_V3, smmu_stage3, -EINVAL },
	{ "smmu no pgsizes", AP_IOMMU_ARM_SMMU_V3, smmu_nopg, -EINVAL },
	{ "smmu 8K", AP_IOMMU_ARM_SMMU_V3, smmu_8k, -EINVAL },
	{ "smmu no granule", AP_IOMMU_ARM_SMMU_V3, smmu_nogranule, -EINVAL },
	{ "kind 7", AP_IOMMU_ARM_SMMU_V3, kind7, -EINVAL },
	{ "unmatched 2", AP_IOMMU_ARM_SMMU_V3, unmatched2, -EINVAL },
	{ "evtq 0", AP_IOMMU_INTEL_VTD, evtq0, -EINVAL },
	{ "evtq 65537", AP_IOMMU_ARM_SMMU_V3, evtq_big, -EINVAL },
	{ "host page 2K", AP_IOMMU_ARM_SMMU_V3, host2k, -EINVAL },
	{ "host page 12K", AP_IOMMU_INTEL_VTD, host12k, -EINVAL },
};

/* Every capability check refuses with its errno and creates nothing. */
static void test_iommu_refusals(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *out;
	struct ap_iommu_config c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cfg_cases) / sizeof(cfg_cases[0]); i++) {
		const struct cfg_case *k = &cfg_cases[i];
		int err;

		ap_iommu_config_init(&c, k->kind);
		k->edit(&c);
		out = (struct ap_iommu *)(uintptr_t)0x1;
		err = ap_iommu_new(ctx, "x", &c, &out);
		EXPECT(err == k->err, "%s: ap_iommu_new = %d, wanted %d", k->what, err, k->err);
		assert_ptr_equal(out, (struct ap_iommu *)(uintptr_t)0x1);
		assert_null(ap_iommu_next(ctx, NULL));
		assert_true(strlen(ap_ctx_error(ctx)) > 0);
	}
	assert_int_equal(ap_iommu_new(ctx, "x", NULL, NULL), -EINVAL);
	assert_null(ap_iommu_next(ctx, NULL));

	/* The edges that are accepted. */
	c = smmu_cfg(1, 52, 52, SZ_64K | SZ_512M);
	assert_non_null(mk_iommu(ctx, "lpa", &c));
	ap_iommu_config_init(&c, AP_IOMMU_INTEL_VTD);
	c.ias = 57;
	c.vtd.sagaw = 0xe; /* AGAW 1, 2, 3: 39-, 48- and 57-bit tables */
	c.evtq_size = 65536;
	assert_non_null(mk_iommu(ctx, "v57", &c));
	assert_int_equal(ap_iommu_get_config(ap_iommu_find(ctx, "v57"))->vtd.sagaw, 0xe);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ registers */

static void test_domain_regs(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config ca = smmu_cfg(1, 48, 48, SZ_4K | SZ_2M | SZ_1G);
	struct ap_iommu_config cb = smmu_cfg(1, 32, 48, SZ_4K | SZ_2M | SZ_1G);
	struct ap_iommu *a = mk_iommu(ctx, "a", &ca), *b = mk_iommu(ctx, "b", &cb);
	struct ap_iommu *c = mk_iommu(ctx, "c", &ca);
	struct ap_domain *dom = mk_dom(ctx, "dom", a, AP_DOMAIN_PAGING);
	struct ap_domain *ident = mk_dom(ctx, "id", a, AP_DOMAIN_IDENTITY);
	struct ap_device *db = mk_dev(ctx, "db", b, 1);
	struct ap_pt_walk_cfg w;
	struct ap_pt_regs own, want, rb;
	uint64_t base, size;

	(void)state;
	assert_int_equal(ap_domain_regs(NULL, a, &own), -EINVAL);
	assert_int_equal(ap_domain_regs(dom, NULL, &own), -EINVAL);
	assert_int_equal(ap_domain_regs(dom, a, NULL), -EINVAL);
	assert_int_equal(ap_domain_regs(ident, a, &own), -EINVAL);
	assert_int_equal(ap_domain_regs(dom, c, &own), -EINVAL); /* neither owner nor attached */

	/* The owner, attached or not, walks the tables from their root. */
	assert_int_equal(ap_domain_regs(dom, a, &own), 0);
	ap_pt_get_walk_cfg(ap_domain_pt(dom), &w);
	assert_int_equal(ap_pt_get_regs(&w, true, &want), 0);
	assert_memory_equal(&own, &want, sizeof(own));
	assert_int_equal(own.ttbr, w.root);
	assert_int_equal(own.tsz, 16);

	/* A 32-bit instance enters the same tables a level down. */
	assert_int_equal(ap_domain_regs(dom, b, &rb), -EINVAL);
	assert_int_equal(ap_attach(dom, db), 0);
	assert_int_equal(ap_domain_regs(dom, b, &rb), 0);
	assert_int_equal(rb.tsz, 32);
	assert_int_not_equal(rb.ttbr, own.ttbr);
	ap_ctx_get_table_window(ctx, &base, &size);
	EXPECT(rb.ttbr >= base && rb.ttbr < base + size && !(rb.ttbr & 0xfff),
	       "b's TTBR %llx is not a table in the window %llx+%llx", (ull)rb.ttbr, (ull)base,
	       (ull)size);
	assert_int_equal(ap_domain_regs(dom, a, &want), 0);
	assert_memory_equal(&own, &want, sizeof(own));
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ attach */

/* A refused attach: errno, and neither device nor domain changed. */
static void expect_refused(struct ap_ctx *ctx, struct ap_domain *dom, struct ap_device *dev,
			   int err, const char *why)
{
	struct ap_geometry g0, g1;
	uint64_t pg0 = ap_domain_pgsizes(dom);
	struct ap_domain *was = ap_device_domain(dev);
	int got;

	ap_domain_geometry(dom, &g0);
	got = ap_attach(dom, dev);
	EXPECT(got == err, "attach of %s to %s = %d, wanted %d (%s)", ap_device_name(dev),
	       ap_domain_name(dom), got, err, ap_ctx_error(ctx));
	EXPECT(strstr(ap_ctx_error(ctx), why), "error '%s' does not say '%s'", ap_ctx_error(ctx),
	       why);
	ap_domain_geometry(dom, &g1);
	assert_memory_equal(&g0, &g1, sizeof(g0));
	assert_int_equal(ap_domain_pgsizes(dom), pg0);
	assert_ptr_equal(ap_device_domain(dev), was);
}

static void test_attach_refusals(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new(), *ctx2 = ap_ctx_new();
	struct ap_iommu_config ca = smmu_cfg(1, 48, 48, SZ_4K | SZ_2M | SZ_1G);
	struct ap_iommu_config cn = ca;
	struct ap_iommu *a, *n;
	struct ap_domain *dom;
	struct ap_device *dn, *other;

	(void)state;
	cn.coherent_walk = false;
	a = mk_iommu(ctx, "a", &ca);
	n = mk_iommu(ctx, "n", &cn);
	dom = mk_dom(ctx, "dom", a, AP_DOMAIN_PAGING);
	dn = mk_dev(ctx, "dn", n, 1);
	other = mk_dev(ctx2, "other", mk_iommu(ctx2, "a", &ca), 1);

	expect_refused(ctx, dom, dn, -EINVAL, "coherently");
	{
		/* And the other way round: a coherent walker on non-coherent tables. */
		struct ap_domain *ndom = mk_dom(ctx, "ndom", n, AP_DOMAIN_PAGING);
		struct ap_device *da = mk_dev(ctx, "da", a, 2);

		expect_refused(ctx, ndom, da, -EINVAL, "walks tables coherently");
	}
	expect_refused(ctx, dom, other, -EINVAL, "different contexts");
	assert_int_equal(ap_attach(NULL, dn), -EINVAL);
	assert_int_equal(ap_attach(dom, NULL), -EINVAL);
	assert_int_equal(ap_replace(NULL, dn), -EINVAL);
	assert_int_equal(ap_detach(NULL), -EINVAL);
	assert_int_equal(ap_detach(dn), -EINVAL);
	ap_ctx_free(ctx2);
	ap_ctx_free(ctx);
}

/*
 * Stage 2 with a 16K granule, 48-bit input and 40-bit output has a
 * concatenated root (Arm R_DXBSH); a smaller walker would need index 0 of it
 * as its own root, which is one of the concatenated tables, not a table of
 * its own: refused.  With a 4K granule, 42-bit tables and a 40-bit OAS, a
 * 40-bit walker starts at level 1; with a 48-bit OAS it would start at level
 * 0 (no concatenation): refused too, while the same walker at 40 bits of
 * output joins.
 */
static void test_attach_walker_cannot_enter(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c16 = smmu_cfg(2, 48, 40, SZ_16K | SZ_32M);
	struct ap_iommu_config c16s = smmu_cfg(2, 44, 40, SZ_16K | SZ_32M);
	struct ap_iommu_config c4 = smmu_cfg(2, 42, 40, SZ_4K | SZ_2M | SZ_1G);
	struct ap_iommu_config c4w = smmu_cfg(2, 40, 48, SZ_4K | SZ_2M | SZ_1G);
	struct ap_iommu_config c4n = smmu_cfg(2, 40, 40, SZ_4K | SZ_2M | SZ_1G);
	struct ap_domain *d16, *d4;
	struct ap_device *s16, *w48, *w40;
	struct ap_pt_regs r;

	(void)state;
	d16 = mk_dom(ctx, "d16", mk_iommu(ctx, "o16", &c16), AP_DOMAIN_PAGING);
	s16 = mk_dev(ctx, "s16", mk_iommu(ctx, "s16", &c16s), 1);
	assert_int_equal(ap_map(d16, 0, 0x80000000, SZ_16K, RW), 0);
	expect_refused(ctx, d16, s16, -EINVAL, "cannot enter");
	assert_geometry(d16, 0, (1ull << 48) - 1, true);

	d4 = mk_dom(ctx, "d4", mk_iommu(ctx, "o4", &c4), AP_DOMAIN_PAGING);
	w48 = mk_dev(ctx, "w48", mk_iommu(ctx, "w48", &c4w), 1);
	w40 = mk_dev(ctx, "w40", mk_iommu(ctx, "w40", &c4n), 1);
	expect_refused(ctx, d4, w48, -EINVAL, "another level");
	assert_int_equal(ap_attach(d4, w40), 0);
	assert_geometry(d4, 0, (1ull << 40) - 1, true);
	assert_int_equal(ap_domain_regs(d4, ap_device_iommu(w40), &r), 0);
	assert_int_equal(r.tsz, 24);
	assert_int_equal(r.sl0, 1); /* VTCR.SL0 = 1: start at level 1 with a 4K granule */
	ap_ctx_free(ctx);
}

/*
 * VT-d: a unit walks only the depths its SAGAW lists.  A 39-bit unit that
 * walks 3-level tables enters a 4-level domain through index 0; a 48-bit
 * unit that walks only 3 levels cannot walk a 48-bit domain at all.
 */
static void test_vtd_sagaw_attach(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c48, c39, c48s3;
	struct ap_domain *dom;
	struct ap_device *d39, *d48s3;
	struct ap_pt_regs r;

	(void)state;
	ap_iommu_config_init(&c48, AP_IOMMU_INTEL_VTD);
	c39 = c48;
	c39.ias = 39;
	c48s3 = c48;
	c48s3.vtd.sagaw = 1u << 1; /* 3-level tables only */
	dom = mk_dom(ctx, "dom", mk_iommu(ctx, "v48", &c48), AP_DOMAIN_PAGING);
	d39 = mk_dev(ctx, "d39", mk_iommu(ctx, "v39", &c39), 1);
	d48s3 = mk_dev(ctx, "d48s3", mk_iommu(ctx, "v48s3", &c48s3), 1);

	expect_refused(ctx, dom, d48s3, -EINVAL, "SAGAW");
	assert_int_equal(ap_attach(dom, d39), 0);
	assert_geometry(dom, 0, (1ull << 39) - 1, true);
	assert_int_equal(ap_domain_regs(dom, ap_device_iommu(d39), &r), 0);
	assert_int_equal(r.aw, 1); /* 3-level */
	assert_int_equal(ap_domain_regs(dom, ap_iommu_find(ctx, "v48"), &r), 0);
	assert_int_equal(r.aw, 2); /* the owner walks all 4 */
	ap_ctx_free(ctx);
}

/* A 39-bit unit that walks only 4-level tables enters a 5-level domain one
 * level down, not two: the shallowest depth it has that covers it. */
static void test_vtd_sagaw_deeper_table(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c57, c39;
	struct ap_domain *dom;
	struct ap_device *d39;
	struct ap_pt_regs r;

	(void)state;
	ap_iommu_config_init(&c57, AP_IOMMU_INTEL_VTD);
	c57.ias = 57;
	c39 = c57;
	c39.ias = 39;
	c39.vtd.sagaw = 1u << 2; /* 4-level tables only */
	dom = mk_dom(ctx, "dom", mk_iommu(ctx, "v57", &c57), AP_DOMAIN_PAGING);
	d39 = mk_dev(ctx, "d39", mk_iommu(ctx, "v39", &c39), 1);
	assert_int_equal(ap_map(dom, 0x1000, 0x5000, SZ_4K, RW), 0);
	assert_int_equal(ap_attach(dom, d39), 0);
	assert_geometry(dom, 0, (1ull << 39) - 1, true);
	assert_int_equal(ap_domain_regs(dom, ap_device_iommu(d39), &r), 0);
	assert_int_equal(r.aw, 2);
	assert_true(ap_device_iova_to_phys(d39, 0x1abc, NULL));
	ap_ctx_free(ctx);
}

/* A capability set the core accepts but the table format cannot build
 * (stage 2, 4K, 48-bit input, 40-bit output would need a 512-table
 * concatenated root): refused, and no table window is chosen. */
static void test_domain_table_refused(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c = smmu_cfg(2, 48, 40, SZ_4K | SZ_2M | SZ_1G);
	struct ap_iommu *s = mk_iommu(ctx, "s", &c);
	struct ap_domain *dom = NULL;
	uint64_t base = 1, size = 1;

	(void)state;
	assert_int_equal(ap_domain_new(ctx, "dom", s, AP_DOMAIN_PAGING, &dom), -EINVAL);
	assert_null(dom);
	assert_non_null(strstr(ap_ctx_error(ctx), "cannot build"));
	assert_null(ap_domain_find(ctx, "dom"));
	ap_ctx_get_table_window(ctx, &base, &size);
	assert_int_equal(size, 0);
	/* The window is still free to set. */
	assert_int_equal(ap_ctx_set_table_window(ctx, 0x40000000, 0x100000), 0);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ map/unmap */

static void test_map_unmap_edges(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config ca = smmu_cfg(1, 48, 48, SZ_4K | SZ_2M | SZ_1G);
	struct ap_iommu *a = mk_iommu(ctx, "a", &ca);
	struct ap_domain *dom = mk_dom(ctx, "dom", a, AP_DOMAIN_PAGING);
	struct ap_domain *ident = mk_dom(ctx, "id", a, AP_DOMAIN_IDENTITY);
	const uint64_t top = 1ull << 48;
	uint64_t done = 99, pa = 0;

	(void)state;
	/* An unmap that ends exactly at 2^64 does not wrap; it finds nothing. */
	assert_int_equal(ap_unmap(dom, 0ull - SZ_4K, SZ_4K, &done), 0);
	assert_int_equal(done, 0);
	done = 99;
	assert_int_equal(ap_unmap(dom, 0ull - SZ_4K, 2 * SZ_4K, &done), -EINVAL);
	assert_int_equal(done, 0);
	assert_int_equal(ap_unmap(dom, 0, SZ_4K, NULL), 0);
	assert_int_equal(ap_unmap(NULL, 0, SZ_4K, &done), -EINVAL);

	/* The last page of the aperture maps; one page further does not. */
	assert_int_equal(ap_map(dom, top - 2 * SZ_4K, 0x10000, 2 * SZ_4K, RW), 0);
	assert_int_equal(ap_map(dom, top - SZ_4K, 0x20000, 2 * SZ_4K, RW), -ERANGE);
	assert_true(ap_domain_iova_to_phys(dom, top - SZ_4K, &pa));
	assert_int_equal(pa, 0x11000);
	assert_false(ap_domain_iova_to_phys(dom, top, &pa));
	assert_false(ap_domain_iova_to_phys(NULL, 0, &pa));
	assert_false(ap_domain_iova_to_phys(ident, 0x1000, &pa));

	/* size 0 maps nothing on a paging domain, and is still no paging
	 * domain's business elsewhere. */
	assert_int_equal(ap_map(dom, 0, 0, 0, RW), 0);
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(dom)), 2);
	assert_int_equal(ap_map(ident, 0, 0, 0, RW), -EINVAL);
	assert_int_equal(ap_map(NULL, 0, 0, SZ_4K, RW), -EINVAL);
	/* A prot bit the API does not know is refused like a missing r/w. */
	assert_int_equal(ap_map(dom, 0, 0, SZ_4K, RW | (1u << 6)), -EINVAL);
	assert_false(ap_domain_iova_to_phys(dom, 0, &pa));

	assert_int_equal(ap_unmap(dom, top - 2 * SZ_4K, 2 * SZ_4K, &done), 0);
	assert_int_equal(done, 2 * SZ_4K);
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(dom)), 0);
	ap_ctx_free(ctx);
}

static void test_translate_null(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config ca = smmu_cfg(1, 48, 48, SZ_4K | SZ_2M | SZ_1G);
	struct ap_iommu *a = mk_iommu(ctx, "a", &ca);
	struct ap_domain *dom = mk_dom(ctx, "dom", a, AP_DOMAIN_PAGING);
	struct ap_device *dev = mk_dev(ctx, "dev", a, 1);
	struct ap_translation t;

	(void)state;
	assert_int_equal(ap_translate(NULL, 0, AP_ACCESS_READ, &t, NULL), -EINVAL);
	assert_false(ap_device_iova_to_phys(NULL, 0, NULL));
	assert_int_equal(ap_attach(dom, dev), 0);
	assert_int_equal(ap_map(dom, 0x3000, 0x7000, SZ_4K, AP_PROT_READ), 0);
	assert_true(ap_device_iova_to_phys(dev, 0x3010, NULL)); /* pa may be NULL */
	assert_false(ap_device_iova_to_phys(dev, 0x4000, NULL));
	/* out may be NULL too: the answer is the return value. */
	assert_int_equal(ap_translate(dev, 0x3000, AP_ACCESS_READ, NULL, NULL), 0);
	assert_int_equal(ap_translate(dev, 0x3000, AP_ACCESS_WRITE, NULL, NULL), -EFAULT);
	assert_int_equal(ap_iommu_fault_count(a, AP_FAULT_PERMISSION), 1);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ RAM */

static void test_ram_edges(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	uint64_t pa, size;
	void *host = NULL;

	(void)state;
	assert_int_equal(ap_ram_remove(ctx, 0), -ENOENT);
	/* Larger than any host allocation can be: refused before trying. */
	assert_int_equal(ap_ram_alloc(ctx, 0, 0ull - SZ_4K, &host), -EINVAL);
	assert_null(host);
	assert_int_equal(ap_ram_region(ctx, 0, &pa, &size), -ENOENT);

	assert_int_equal(ap_ram_alloc(ctx, 0x100000, 0x10000, &host), 0);
	/* Only the start of a region names it. */
	assert_int_equal(ap_ram_remove(ctx, 0x101000), -ENOENT);
	assert_int_equal(ap_ram_remove(ctx, 0x80000), -ENOENT);
	assert_int_equal(ap_ram_region(ctx, 0, &pa, &size), 0);
	assert_int_equal(pa, 0x100000);
	assert_int_equal(size, 0x10000);
	assert_ptr_equal(ap_ram_ptr(ctx, 0x100000, 0x10000), host);
	assert_null(ap_ram_ptr(ctx, 0x100000, 0x10001));
	assert_int_equal(ap_ram_remove(ctx, 0x100000), 0);
	assert_null(ap_ram_ptr(ctx, 0x100000, 1));
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ table window */

/*
 * A window of four 4 KiB frames holds a 4-level table's root and the three
 * tables one 4K page needs, and nothing more: a map that needs more tables
 * fails with -ENOMEM and leaves the tables and mappings as they were.
 */
static void test_table_window_exhausted(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config ca = smmu_cfg(1, 48, 48, SZ_4K | SZ_2M | SZ_1G);
	struct ap_iommu *a = mk_iommu(ctx, "a", &ca);
	struct ap_domain *dom, *dom2;
	const struct ap_pt *pt;
	uint64_t pa = 0, bytes;

	(void)state;
	assert_int_equal(ap_ctx_set_table_window(ctx, 0x10000000, 4 * SZ_4K), 0);
	dom = mk_dom(ctx, "dom", a, AP_DOMAIN_PAGING);
	pt = ap_domain_pt(dom);
	assert_int_equal(ap_pt_table_bytes(pt), SZ_4K);
	assert_int_equal(ap_map(dom, 0, 0x1000000, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_table_bytes(pt), 4 * SZ_4K);

	bytes = ap_pt_table_bytes(pt);
	assert_int_equal(ap_map(dom, 1ull << 39, 0x2000000, SZ_4K, RW), -ENOMEM);
	assert_non_null(strstr(ap_ctx_error(ctx), "memory"));
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	assert_int_equal(ap_pt_leaf_count(pt), 1);
	assert_false(ap_domain_iova_to_phys(dom, 1ull << 39, &pa));
	/* A 2M block needs no new table here (its L2 table exists). */
	assert_int_equal(ap_map(dom, SZ_2M, 0x2000000, SZ_2M, RW), 0);
	assert_true(ap_domain_iova_to_phys(dom, SZ_2M + 0x123, &pa));
	assert_int_equal(pa, 0x2000123);
	/* Nor is there room for a second domain's root. */
	dom2 = (struct ap_domain *)(uintptr_t)0x1;
	assert_int_equal(ap_domain_new(ctx, "dom2", a, AP_DOMAIN_PAGING, &dom2), -ENOMEM);
	assert_ptr_equal(dom2, (struct ap_domain *)(uintptr_t)0x1);
	assert_null(ap_domain_find(ctx, "dom2"));
	ap_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem_allocator),
		cmocka_unit_test(test_null_context_queries),
		cmocka_unit_test(test_kind_and_type_names),
		cmocka_unit_test(test_resv_refusals),
		cmocka_unit_test(test_resv_order),
		cmocka_unit_test(test_iommu_refusals),
		cmocka_unit_test(test_domain_regs),
		cmocka_unit_test(test_attach_refusals),
		cmocka_unit_test(test_attach_walker_cannot_enter),
		cmocka_unit_test(test_vtd_sagaw_attach),
		cmocka_unit_test(test_vtd_sagaw_deeper_table),
		cmocka_unit_test(test_domain_table_refused),
		cmocka_unit_test(test_map_unmap_edges),
		cmocka_unit_test(test_translate_null),
		cmocka_unit_test(test_ram_edges),
		cmocka_unit_test(test_table_window_exhausted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
