/* SPDX-License-Identifier: MIT */
/*
 * The IOTLB, one thread: entries at their real leaf size, the permissions
 * they carry, hits and misses counted, strict invalidation by unmap, tags
 * per domain and instance (ASID/VMID from 1, VT-d domain IDs from 2),
 * what detach, replace and flush drop, eviction, and an instance without
 * one.  Every check compares a translation with what the tables say, so a
 * stale entry shows up as a wrong answer, not just as a counter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <aperture/core.h>

#include "expect.h"
#include "rng.h"

#define SZ_4K 0x1000ull
#define SZ_2M 0x200000ull
#define SZ_1G 0x40000000ull
#define RW (AP_PROT_READ | AP_PROT_WRITE)
#define PA_BASE 0x2000000000ull /* translation only: nothing here is RAM */

struct rig {
	struct ap_ctx *ctx;
	struct ap_iommu *iommu;
	struct ap_domain *dom;
	struct ap_device *dev;
};

static void rig_up(struct rig *r, enum ap_iommu_kind kind, unsigned entries)
{
	struct ap_iommu_config c;

	r->ctx = ap_ctx_new();
	assert_non_null(r->ctx);
	ap_iommu_config_init(&c, kind);
	c.iotlb_entries = entries;
	assert_int_equal(ap_iommu_new(r->ctx, "mmu", &c, &r->iommu), 0);
	assert_int_equal(ap_domain_new(r->ctx, "d", r->iommu, AP_DOMAIN_PAGING, &r->dom), 0);
	assert_int_equal(ap_device_new(r->ctx, "dev", r->iommu, 1, AP_GROUP_OWN, &r->dev), 0);
	assert_int_equal(ap_attach(r->dom, r->dev), 0);
}

static struct ap_iotlb_stats stats(const struct ap_iommu *iommu)
{
	struct ap_iotlb_stats s;

	ap_iommu_iotlb_stats(iommu, &s);
	return s;
}

/* iova must translate to pa for `access`. */
static void expect_pa(struct ap_device *dev, uint64_t iova, unsigned access, uint64_t pa)
{
	struct ap_translation t;
	struct ap_fault f;
	int err = ap_translate(dev, iova, access, &t, &f);

	EXPECT(err == 0, "0x%llx: fault %s", (ull)iova, err ? ap_fault_kind_name(f.kind) : "");
	EXPECT(t.pa == pa, "0x%llx -> 0x%llx, want 0x%llx", (ull)iova, (ull)t.pa, (ull)pa);
}

static void expect_fault(struct ap_device *dev, uint64_t iova, unsigned access,
			 enum ap_fault_kind kind)
{
	struct ap_translation t;
	struct ap_fault f;
	int err = ap_translate(dev, iova, access, &t, &f);

	EXPECT(err == -EFAULT, "0x%llx translated to 0x%llx", (ull)iova, (ull)t.pa);
	EXPECT(f.kind == kind, "0x%llx: %s, want %s", (ull)iova, ap_fault_kind_name(f.kind),
	       ap_fault_kind_name(kind));
}

static void rig_down(struct rig *r)
{
	ap_ctx_free(r->ctx);
}

/* ------------------------------------------------------------ tests */

static void test_hit_after_walk(void **state)
{
	struct rig r;
	struct ap_iotlb_stats s;

	(void)state;
	rig_up(&r, AP_IOMMU_ARM_SMMU_V3, AP_IOTLB_DEFAULT_ENTRIES);
	assert_int_equal(stats(r.iommu).entries, AP_IOTLB_DEFAULT_ENTRIES);
	assert_int_equal(ap_map(r.dom, 0x10000, PA_BASE, SZ_4K, RW), 0);
	expect_pa(r.dev, 0x10008, AP_ACCESS_READ, PA_BASE + 8);
	s = stats(r.iommu);
	assert_int_equal(s.misses, 1);
	assert_int_equal(s.walks, 1);
	assert_int_equal(s.fills, 1);
	assert_int_equal(s.hits, 0);
	expect_pa(r.dev, 0x10ff8, AP_ACCESS_READ, PA_BASE + 0xff8);
	expect_pa(r.dev, 0x10000, AP_ACCESS_WRITE, PA_BASE);
	s = stats(r.iommu);
	assert_int_equal(s.hits, 2);
	assert_int_equal(s.walks, 1);
	rig_down(&r);
}

/* A 2M block is one entry: any address in it hits after one walk, and the
 * size reported runs to the block's end. */
static void test_real_leaf_sizes(void **state)
{
	struct rig r;
	struct ap_translation t;

	(void)state;
	rig_up(&r, AP_IOMMU_ARM_SMMU_V3, AP_IOTLB_DEFAULT_ENTRIES);
	assert_int_equal(ap_map(r.dom, SZ_1G, PA_BASE, SZ_2M, RW), 0);
	assert_int_equal(ap_map(r.dom, 2 * SZ_1G, PA_BASE + SZ_1G, SZ_1G, RW), 0);
	expect_pa(r.dev, SZ_1G, AP_ACCESS_READ, PA_BASE);
	expect_pa(r.dev, SZ_1G + SZ_2M - 8, AP_ACCESS_READ, PA_BASE + SZ_2M - 8);
	assert_int_equal(ap_translate(r.dev, SZ_1G + 0x1234, AP_ACCESS_READ, &t, NULL), 0);
	assert_int_equal(t.size, SZ_2M - 0x1234);
	expect_pa(r.dev, 2 * SZ_1G + 0x3000, AP_ACCESS_READ, PA_BASE + SZ_1G + 0x3000);
	expect_pa(r.dev, 3 * SZ_1G - SZ_4K, AP_ACCESS_READ, PA_BASE + 2 * SZ_1G - SZ_4K);
	assert_int_equal(stats(r.iommu).walks, 2);
	assert_int_equal(stats(r.iommu).hits, 3);
	rig_down(&r);
}

/* A cached read-only leaf does not let a write through: the write walks
 * and faults as permission, as without an IOTLB. */
static void test_permissions_cached(void **state)
{
	struct rig r;

	(void)state;
	rig_up(&r, AP_IOMMU_ARM_SMMU_V3, AP_IOTLB_DEFAULT_ENTRIES);
	assert_int_equal(ap_map(r.dom, 0x20000, PA_BASE, SZ_4K, AP_PROT_READ), 0);
	expect_pa(r.dev, 0x20000, AP_ACCESS_READ, PA_BASE);
	expect_pa(r.dev, 0x20010, AP_ACCESS_READ, PA_BASE + 0x10);
	expect_fault(r.dev, 0x20000, AP_ACCESS_WRITE, AP_FAULT_PERMISSION);
	expect_fault(r.dev, 0x20000, AP_ACCESS_WRITE, AP_FAULT_PERMISSION);
	/* privileged-only mapping: an unprivileged read faults, a privileged
	 * one hits after its own walk */
	assert_int_equal(ap_map(r.dom, 0x30000, PA_BASE + SZ_4K, SZ_4K, RW | AP_PROT_PRIV), 0);
	expect_pa(r.dev, 0x30000, AP_ACCESS_READ | AP_ACCESS_PRIV, PA_BASE + SZ_4K);
	expect_fault(r.dev, 0x30000, AP_ACCESS_READ, AP_FAULT_PERMISSION);
	expect_pa(r.dev, 0x30008, AP_ACCESS_READ | AP_ACCESS_PRIV, PA_BASE + SZ_4K + 8);
	assert_int_equal(stats(r.iommu).hits, 2);
	rig_down(&r);
}

/* iova: one walk fills it, then it hits; `walks` and `hits` count on. */
static void expect_fill_then_hit(struct rig *r, uint64_t iova, uint64_t pa, uint64_t *walks,
				 uint64_t *hits)
{
	expect_pa(r->dev, iova, AP_ACCESS_READ, pa);
	*walks += 1;
	expect_pa(r->dev, iova + SZ_4K / 2, AP_ACCESS_READ, pa + SZ_4K / 2);
	*hits += 1;
	assert_int_equal(stats(r->iommu).walks, *walks);
	assert_int_equal(stats(r->iommu).hits, *hits);
}

/* iova hits, without a walk. */
static void expect_hit(struct rig *r, uint64_t iova, uint64_t pa, uint64_t walks, uint64_t *hits)
{
	expect_pa(r->dev, iova, AP_ACCESS_READ, pa);
	*hits += 1;
	assert_int_equal(stats(r->iommu).walks, walks);
	assert_int_equal(stats(r->iommu).hits, *hits);
}

/*
 * Lookups probe only the leaf sizes walks have found (iotlb.h): a 4K entry,
 * then a 2M one, then a 1G one each hit after one walk, the smaller ones
 * keep hitting as the probed sizes widen, and an unmap of each drops it.
 */
static void test_probed_sizes_widen(void **state)
{
	static const enum ap_iommu_kind kinds[] = { AP_IOMMU_ARM_SMMU_V3, AP_IOMMU_INTEL_VTD };
	static const uint64_t size[] = { SZ_4K, SZ_2M, SZ_1G };
	uint64_t iova[3], pa[3];
	unsigned k, i, j;

	(void)state;
	for (k = 0; k < 2; k++) {
		struct rig r;
		uint64_t walks = 0, hits = 0, got;

		rig_up(&r, kinds[k], AP_IOTLB_DEFAULT_ENTRIES);
		for (i = 0; i < 3; i++) {
			iova[i] = (i + 1) * SZ_1G;
			pa[i] = PA_BASE + (i + 1) * SZ_1G;
			assert_int_equal(ap_map(r.dom, iova[i], pa[i], size[i], RW), 0);
		}
		for (i = 0; i < 3; i++) {
			expect_fill_then_hit(&r, iova[i], pa[i], &walks, &hits);
			assert_int_equal(stats(r.iommu).fills, i + 1);
			for (j = 0; j < i; j++)
				expect_hit(&r, iova[j], pa[j], walks, &hits);
		}
		for (i = 0; i < 3; i++) {
			uint64_t dropped = stats(r.iommu).dropped;

			got = 0;
			assert_int_equal(ap_unmap(r.dom, iova[i], size[i], &got), 0);
			assert_int_equal(got, size[i]);
			assert_int_equal(stats(r.iommu).dropped, dropped + 1);
			expect_fault(r.dev, iova[i], AP_ACCESS_READ, AP_FAULT_TRANSLATION);
		}
		rig_down(&r);
	}
}

/*
 * An unmap sends no invalidation to an instance whose IOTLB never held a
 * leaf of the sizes it removed for the domain (iotlb.h): none before any
 * translation, one once a 4K leaf was cached, none for a 2M block after.
 */
static void test_unmap_skips_sizes_never_filled(void **state)
{
	struct rig r;
	uint64_t got;

	(void)state;
	rig_up(&r, AP_IOMMU_ARM_SMMU_V3, AP_IOTLB_DEFAULT_ENTRIES);
	assert_int_equal(ap_map(r.dom, 0x10000, PA_BASE, 2 * SZ_4K, RW), 0);
	assert_int_equal(ap_map(r.dom, SZ_1G, PA_BASE + SZ_1G, SZ_2M, RW), 0);
	assert_int_equal(ap_unmap(r.dom, 0x10000, SZ_4K, &got), 0);
	assert_int_equal(got, SZ_4K);
	assert_int_equal(stats(r.iommu).invalidations, 0);
	expect_pa(r.dev, 0x11000, AP_ACCESS_READ, PA_BASE + SZ_4K);
	assert_int_equal(ap_unmap(r.dom, 0x11000, SZ_4K, &got), 0);
	assert_int_equal(stats(r.iommu).invalidations, 1);
	assert_int_equal(stats(r.iommu).dropped, 1);
	expect_fault(r.dev, 0x11000, AP_ACCESS_READ, AP_FAULT_TRANSLATION);
	assert_int_equal(ap_unmap(r.dom, SZ_1G, SZ_2M, &got), 0);
	assert_int_equal(got, SZ_2M);
	assert_int_equal(stats(r.iommu).invalidations, 1);
	expect_fault(r.dev, SZ_1G, AP_ACCESS_READ, AP_FAULT_TRANSLATION);
	rig_down(&r);
}

/* Unmap is strict: the cached entry is gone when ap_unmap returns. */
static void test_unmap_is_strict(void **state)
{
	static const uint64_t sizes[] = { SZ_4K, SZ_2M, SZ_1G };
	unsigned i;

	(void)state;
	for (i = 0; i < 3; i++) {
		struct rig r;
		struct ap_iotlb_stats before;
		uint64_t iova = 4 * SZ_1G, got = 0;

		rig_up(&r, AP_IOMMU_ARM_SMMU_V3, AP_IOTLB_DEFAULT_ENTRIES);
		assert_int_equal(ap_map(r.dom, iova, PA_BASE, sizes[i], RW), 0);
		expect_pa(r.dev, iova + sizes[i] / 2, AP_ACCESS_READ, PA_BASE + sizes[i] / 2);
		expect_pa(r.dev, iova, AP_ACCESS_READ, PA_BASE);
		before = stats(r.iommu);
		assert_int_equal(ap_unmap(r.dom, iova, sizes[i], &got), 0);
		assert_int_equal(got, sizes[i]);
		assert_true(stats(r.iommu).invalidations > before.invalidations);
		assert_int_equal(stats(r.iommu).dropped, before.dropped + 1);
		expect_fault(r.dev, iova, AP_ACCESS_READ, AP_FAULT_TRANSLATION);
		expect_fault(r.dev, iova + sizes[i] - 1, AP_ACCESS_READ, AP_FAULT_TRANSLATION);
		/* mapped again elsewhere: the new output, never the old */
		assert_int_equal(ap_map(r.dom, iova, PA_BASE + 4 * SZ_1G, sizes[i], RW), 0);
		expect_pa(r.dev, iova, AP_ACCESS_READ, PA_BASE + 4 * SZ_1G);
		rig_down(&r);
	}
}

/* Unmapping one page leaves its cached neighbours' entries usable. */
static void test_unmap_drops_only_its_range(void **state)
{
	struct rig r;
	unsigned i;

	(void)state;
	rig_up(&r, AP_IOMMU_ARM_SMMU_V3, AP_IOTLB_DEFAULT_ENTRIES);
	assert_int_equal(ap_map(r.dom, 0x100000, PA_BASE, 8 * SZ_4K, RW), 0);
	for (i = 0; i < 8; i++)
		expect_pa(r.dev, 0x100000 + i * SZ_4K, AP_ACCESS_READ, PA_BASE + i * SZ_4K);
	assert_int_equal(ap_unmap(r.dom, 0x100000 + 3 * SZ_4K, SZ_4K, NULL), 0);
	assert_int_equal(stats(r.iommu).dropped, 1);
	for (i = 0; i < 8; i++) {
		if (i == 3)
			expect_fault(r.dev, 0x103000, AP_ACCESS_READ, AP_FAULT_TRANSLATION);
		else
			expect_pa(r.dev, 0x100000 + i * SZ_4K, AP_ACCESS_READ, PA_BASE + i * SZ_4K);
	}
	assert_int_equal(stats(r.iommu).walks, 9); /* 8 fills and the faulting one */
	rig_down(&r);
}

/*
 * A 2M-aligned unmap of 2M over a table of 4K pages removes 4K leaves: the
 * invalidation must be of 4K entries (what the table layer reports it
 * removed), not of a 2M one.
 */
static void test_unmap_drops_the_sizes_it_removed(void **state)
{
	struct rig r;
	uint64_t got = 0, sizes = 0;
	unsigned i;

	(void)state;
	rig_up(&r, AP_IOMMU_ARM_SMMU_V3, AP_IOTLB_DEFAULT_ENTRIES);
	/* the PA is not 2M-aligned: 512 pages of 4K */
	assert_int_equal(ap_map(r.dom, SZ_2M, PA_BASE + SZ_4K, SZ_2M, RW), 0);
	for (i = 0; i < 512; i += 37)
		expect_pa(r.dev, SZ_2M + i * SZ_4K, AP_ACCESS_READ, PA_BASE + SZ_4K + i * SZ_4K);
	assert_int_equal(ap_unmap(r.dom, SZ_2M, SZ_2M, &got), 0);
	assert_int_equal(got, SZ_2M);
	assert_int_equal(stats(r.iommu).dropped, 14);
	for (i = 0; i < 512; i += 37)
		expect_fault(r.dev, SZ_2M + i * SZ_4K, AP_ACCESS_READ, AP_FAULT_TRANSLATION);
	/* the table layer reports what it removed */
	assert_int_equal(ap_map(r.dom, 2 * SZ_2M, PA_BASE, SZ_2M, RW), 0);
	assert_int_equal(ap_pt_unmap_pages_sizes((struct ap_pt *)(uintptr_t)ap_domain_pt(r.dom),
						 2 * SZ_2M, SZ_2M, 1, &sizes),
			 SZ_2M);
	assert_int_equal(sizes, SZ_2M);
	rig_down(&r);
}

/*
 * Unmap follows each format's Linux rule, and the IOTLB follows the unmap:
 * io-pgtable-arm takes a 2M slot's table whole, holes and all (both cached
 * pages go); generic_pt takes a superpage whole when unmapped from its
 * first byte with less (the cached 2M entry goes, and the unmap reports
 * more than asked).
 */
static void test_unmap_rules_strict(void **state)
{
	struct rig r;
	uint64_t got = 0;

	(void)state;
	rig_up(&r, AP_IOMMU_ARM_SMMU_V3, AP_IOTLB_DEFAULT_ENTRIES);
	assert_int_equal(ap_map(r.dom, 0x200000, PA_BASE, SZ_4K, RW), 0);
	assert_int_equal(ap_map(r.dom, 0x205000, PA_BASE + 0x5000, SZ_4K, RW), 0);
	expect_pa(r.dev, 0x200008, AP_ACCESS_READ, PA_BASE + 8);
	expect_pa(r.dev, 0x205008, AP_ACCESS_READ, PA_BASE + 0x5008);
	assert_int_equal(ap_unmap(r.dom, 0x200000, SZ_2M, &got), 0);
	assert_int_equal(got, SZ_2M);
	assert_int_equal(stats(r.iommu).dropped, 2);
	expect_fault(r.dev, 0x200008, AP_ACCESS_READ, AP_FAULT_TRANSLATION);
	expect_fault(r.dev, 0x205008, AP_ACCESS_READ, AP_FAULT_TRANSLATION);
	rig_down(&r);

	rig_up(&r, AP_IOMMU_INTEL_VTD, AP_IOTLB_DEFAULT_ENTRIES);
	assert_int_equal(ap_map(r.dom, 0x400000, PA_BASE, SZ_2M, RW), 0);
	expect_pa(r.dev, 0x500000, AP_ACCESS_READ, PA_BASE + 0x100000);
	assert_int_equal(ap_unmap(r.dom, 0x401000, SZ_4K, &got), 0);
	assert_int_equal(got, 0); /* from inside: nothing */
	expect_pa(r.dev, 0x500000, AP_ACCESS_READ, PA_BASE + 0x100000);
	assert_int_equal(ap_unmap(r.dom, 0x400000, SZ_4K, &got), 0);
	assert_int_equal(got, SZ_2M);
	assert_int_equal(stats(r.iommu).dropped, 1);
	expect_fault(r.dev, 0x500000, AP_ACCESS_READ, AP_FAULT_TRANSLATION);
	expect_fault(r.dev, 0x400000, AP_ACCESS_READ, AP_FAULT_TRANSLATION);
	rig_down(&r);
}

/*
 * Past one probe per IOTLB set, an unmap invalidates its whole tag in one
 * pass (as SMMUv3 drivers switch to invalidating the whole ASID): the
 * domain's entries elsewhere go too, and walk again; another tag's stay.
 */
static void test_large_unmap_invalidates_the_tag(void **state)
{
	struct rig r;
	struct ap_iotlb_stats before;
	struct ap_domain *other;
	struct ap_device *dev2;
	uint64_t got = 0;

	(void)state;
	rig_up(&r, AP_IOMMU_ARM_SMMU_V3, AP_IOTLB_DEFAULT_ENTRIES);
	assert_int_equal(ap_domain_new(r.ctx, "o", r.iommu, AP_DOMAIN_PAGING, &other), 0);
	assert_int_equal(ap_device_new(r.ctx, "dev2", r.iommu, 2, AP_GROUP_OWN, &dev2), 0);
	assert_int_equal(ap_attach(other, dev2), 0);
	/* 16M of 4K pages (the PA is 4K off 2M alignment): 4096 leaves */
	assert_int_equal(ap_map(r.dom, 0x10000000, PA_BASE + SZ_4K, 16 * SZ_2M / 2, RW), 0);
	assert_int_equal(ap_map(r.dom, 0x80000000, PA_BASE, SZ_4K, RW), 0);
	assert_int_equal(ap_map(other, 0x80000000, PA_BASE + SZ_2M, SZ_4K, RW), 0);
	expect_pa(r.dev, 0x10000000, AP_ACCESS_READ, PA_BASE + SZ_4K);
	expect_pa(r.dev, 0x10400000, AP_ACCESS_READ, PA_BASE + SZ_4K + 0x400000);
	expect_pa(r.dev, 0x80000000, AP_ACCESS_READ, PA_BASE);
	expect_pa(dev2, 0x80000000, AP_ACCESS_READ, PA_BASE + SZ_2M);
	before = stats(r.iommu);
	assert_int_equal(ap_unmap(r.dom, 0x10000000, 16 * SZ_2M / 2, &got), 0);
	assert_int_equal(got, 16 * SZ_2M / 2);
	assert_int_equal(stats(r.iommu).invalidations, before.invalidations + 1);
	assert_int_equal(stats(r.iommu).dropped, before.dropped + 3);
	expect_fault(r.dev, 0x10000000, AP_ACCESS_READ, AP_FAULT_TRANSLATION);
	expect_fault(r.dev, 0x10400000, AP_ACCESS_READ, AP_FAULT_TRANSLATION);
	before = stats(r.iommu);
	expect_pa(r.dev, 0x80000000, AP_ACCESS_READ, PA_BASE); /* walked again */
	expect_pa(dev2, 0x80000000, AP_ACCESS_READ, PA_BASE + SZ_2M); /* still cached */
	assert_int_equal(stats(r.iommu).walks, before.walks + 1);
	assert_int_equal(stats(r.iommu).hits, before.hits + 1);
	rig_down(&r);
}

/* Tags: ASIDs from 1 per instance, VMIDs for stage 2, VT-d DIDs from 2. */
static void test_tags(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *smmu, *s2, *vtd;
	struct ap_domain *a, *b, *v, *w;
	struct ap_device *d1, *d2, *d3, *d4;

	(void)state;
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(ap_iommu_new(ctx, "smmu", &c, &smmu), 0);
	c.smmuv3.stage = 2;
	assert_int_equal(ap_iommu_new(ctx, "s2", &c, &s2), 0);
	ap_iommu_config_init(&c, AP_IOMMU_INTEL_VTD);
	assert_int_equal(ap_iommu_new(ctx, "vtd", &c, &vtd), 0);
	assert_int_equal(ap_domain_new(ctx, "a", smmu, AP_DOMAIN_PAGING, &a), 0);
	assert_int_equal(ap_domain_new(ctx, "b", smmu, AP_DOMAIN_PAGING, &b), 0);
	assert_int_equal(ap_domain_new(ctx, "v", vtd, AP_DOMAIN_PAGING, &v), 0);
	assert_int_equal(ap_domain_new(ctx, "w", s2, AP_DOMAIN_PAGING, &w), 0);
	assert_int_equal(ap_device_new(ctx, "d1", smmu, 1, AP_GROUP_OWN, &d1), 0);
	assert_int_equal(ap_device_new(ctx, "d2", smmu, 2, AP_GROUP_OWN, &d2), 0);
	assert_int_equal(ap_device_new(ctx, "d3", vtd, 3, AP_GROUP_OWN, &d3), 0);
	assert_int_equal(ap_device_new(ctx, "d4", s2, 4, AP_GROUP_OWN, &d4), 0);
	assert_int_equal(ap_domain_tag(a, smmu), -ENOENT);
	assert_int_equal(ap_attach(a, d1), 0);
	assert_int_equal(ap_attach(b, d2), 0);
	assert_int_equal(ap_attach(v, d3), 0);
	assert_int_equal(ap_attach(w, d4), 0);
	assert_int_equal(ap_domain_tag(a, smmu), 1);
	assert_int_equal(ap_domain_tag(b, smmu), 2);
	assert_int_equal(ap_domain_tag(v, vtd), 2);
	assert_int_equal(ap_domain_tag(w, s2), 1);
	assert_int_equal(ap_domain_tag(a, vtd), -ENOENT);
	/* a freed tag is the next one given */
	assert_int_equal(ap_detach(d1), 0);
	assert_int_equal(ap_domain_tag(a, smmu), -ENOENT);
	assert_int_equal(ap_replace(a, d2), 0);
	assert_int_equal(ap_domain_tag(a, smmu), 1);
	assert_int_equal(ap_domain_tag(b, smmu), -ENOENT);
	ap_ctx_free(ctx);
}

/*
 * A tag reused by another domain must not inherit the old domain's
 * entries: detach drops them.  Domain a maps X; a's device caches it; the
 * device leaves and b (same instance) takes tag 1 again with X unmapped.
 */
static void test_reused_tag_starts_empty(void **state)
{
	struct rig r;
	struct ap_domain *b;

	(void)state;
	rig_up(&r, AP_IOMMU_ARM_SMMU_V3, AP_IOTLB_DEFAULT_ENTRIES);
	assert_int_equal(ap_map(r.dom, 0x40000, PA_BASE, SZ_4K, RW), 0);
	expect_pa(r.dev, 0x40000, AP_ACCESS_READ, PA_BASE);
	assert_int_equal(ap_domain_tag(r.dom, r.iommu), 1);
	assert_int_equal(ap_detach(r.dev), 0);
	assert_int_equal(ap_domain_new(r.ctx, "b", r.iommu, AP_DOMAIN_PAGING, &b), 0);
	assert_int_equal(ap_attach(b, r.dev), 0);
	assert_int_equal(ap_domain_tag(b, r.iommu), 1);
	expect_fault(r.dev, 0x40000, AP_ACCESS_READ, AP_FAULT_TRANSLATION);
	/* and back: a's mapping is still a's */
	assert_int_equal(ap_replace(r.dom, r.dev), 0);
	expect_pa(r.dev, 0x40000, AP_ACCESS_READ, PA_BASE);
	rig_down(&r);
}

/* One domain through two instances: an unmap empties both IOTLBs. */
static void test_shared_domain_both_invalidated(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *m0, *m1;
	struct ap_domain *dom;
	struct ap_device *d0, *d1;

	(void)state;
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(ap_iommu_new(ctx, "m0", &c, &m0), 0);
	c.ias = 32;
	assert_int_equal(ap_iommu_new(ctx, "m1", &c, &m1), 0);
	assert_int_equal(ap_domain_new(ctx, "d", m0, AP_DOMAIN_PAGING, &dom), 0);
	assert_int_equal(ap_device_new(ctx, "d0", m0, 1, AP_GROUP_OWN, &d0), 0);
	assert_int_equal(ap_device_new(ctx, "d1", m1, 1, AP_GROUP_OWN, &d1), 0);
	assert_int_equal(ap_attach(dom, d0), 0);
	assert_int_equal(ap_attach(dom, d1), 0);
	assert_int_equal(ap_map(dom, 0x5000, PA_BASE, SZ_4K, RW), 0);
	expect_pa(d0, 0x5000, AP_ACCESS_READ, PA_BASE);
	expect_pa(d1, 0x5000, AP_ACCESS_READ, PA_BASE);
	expect_pa(d0, 0x5008, AP_ACCESS_READ, PA_BASE + 8);
	expect_pa(d1, 0x5008, AP_ACCESS_READ, PA_BASE + 8);
	assert_int_equal(stats(m0).hits, 1);
	assert_int_equal(stats(m1).hits, 1);
	assert_int_equal(ap_unmap(dom, 0x5000, SZ_4K, NULL), 0);
	assert_int_equal(stats(m0).dropped, 1);
	assert_int_equal(stats(m1).dropped, 1);
	expect_fault(d0, 0x5000, AP_ACCESS_READ, AP_FAULT_TRANSLATION);
	expect_fault(d1, 0x5000, AP_ACCESS_READ, AP_FAULT_TRANSLATION);
	ap_ctx_free(ctx);
}

static void test_flush_and_no_iotlb(void **state)
{
	struct rig r;
	struct ap_iotlb_stats s;
	unsigned i;

	(void)state;
	rig_up(&r, AP_IOMMU_ARM_SMMU_V3, AP_IOTLB_DEFAULT_ENTRIES);
	assert_int_equal(ap_map(r.dom, 0x60000, PA_BASE, 4 * SZ_4K, RW), 0);
	for (i = 0; i < 4; i++)
		expect_pa(r.dev, 0x60000 + i * SZ_4K, AP_ACCESS_READ, PA_BASE + i * SZ_4K);
	ap_iommu_iotlb_flush(r.iommu);
	s = stats(r.iommu);
	assert_int_equal(s.dropped, 4);
	expect_pa(r.dev, 0x60000, AP_ACCESS_READ, PA_BASE);
	assert_int_equal(stats(r.iommu).walks, s.walks + 1);
	rig_down(&r);

	rig_up(&r, AP_IOMMU_ARM_SMMU_V3, 0);
	assert_int_equal(ap_map(r.dom, 0x60000, PA_BASE, SZ_4K, RW), 0);
	for (i = 0; i < 3; i++)
		expect_pa(r.dev, 0x60000, AP_ACCESS_READ, PA_BASE);
	s = stats(r.iommu);
	assert_int_equal(s.entries, 0);
	assert_int_equal(s.walks, 3);
	assert_int_equal(s.hits + s.misses + s.fills, 0);
	rig_down(&r);
}

static void test_config_checked(void **state)
{
	static const unsigned bad[] = { 1, 3, 6000, (1u << 20) + 1, 1u << 21 };
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *m;
	unsigned i;

	(void)state;
	ap_iommu_config_init(&c, AP_IOMMU_INTEL_VTD);
	assert_int_equal(c.iotlb_entries, AP_IOTLB_DEFAULT_ENTRIES);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c.iotlb_entries = bad[i];
		assert_int_equal(ap_iommu_new(ctx, "m", &c, &m), -EINVAL);
		assert_null(ap_iommu_find(ctx, "m"));
	}
	c.iotlb_entries = 2;
	assert_int_equal(ap_iommu_new(ctx, "m", &c, &m), 0);
	assert_int_equal(stats(m).entries, 2);
	ap_ctx_free(ctx);
}

/*
 * Random maps, unmaps and translations of mixed sizes through a small
 * IOTLB (evictions all the time) and a default one, against a plain
 * interval model: every answer must be the model's.
 */
#define MODEL_SLOTS 64

struct slot {
	bool mapped;
	uint64_t size, pa;
};

static void random_against_model(unsigned entries, enum ap_iommu_kind kind, uint64_t seed)
{
	static const uint64_t sizes[] = { SZ_4K, SZ_2M };
	struct slot m[MODEL_SLOTS];
	struct rig r;
	unsigned op;

	print_message("  %s, %u entries, seed 0x%llx\n", ap_iommu_kind_name(kind), entries,
		      (ull)seed);
	rng_state = seed;
	memset(m, 0, sizeof(m));
	rig_up(&r, kind, entries);
	for (op = 0; op < 20000; op++) {
		unsigned i = (unsigned)rnd_below(MODEL_SLOTS);
		uint64_t base = (uint64_t)i * SZ_2M;

		if (chance(10)) {
			if (m[i].mapped) {
				assert_int_equal(ap_unmap(r.dom, base, m[i].size, NULL), 0);
				m[i].mapped = false;
			} else {
				m[i].size = sizes[rnd_below(2)];
				m[i].pa = PA_BASE + rnd_below(1024) * SZ_2M;
				assert_int_equal(ap_map(r.dom, base, m[i].pa, m[i].size, RW), 0);
				m[i].mapped = true;
			}
		} else {
			uint64_t off = rnd_below(SZ_2M) & ~7ull;

			if (m[i].mapped && off < m[i].size)
				expect_pa(r.dev, base + off, AP_ACCESS_READ, m[i].pa + off);
			else
				expect_fault(r.dev, base + off, AP_ACCESS_READ,
					     AP_FAULT_TRANSLATION);
		}
	}
	if (entries)
		assert_true(stats(r.iommu).hits > 1000);
	rig_down(&r);
}

static void test_random_small_iotlb(void **state)
{
	(void)state;
	random_against_model(4, AP_IOMMU_ARM_SMMU_V3, 0x10b1ull);
	random_against_model(8, AP_IOMMU_INTEL_VTD, 0x10b2ull);
	random_against_model(AP_IOTLB_DEFAULT_ENTRIES, AP_IOMMU_ARM_SMMU_V3, 0x10b3ull);
	random_against_model(0, AP_IOMMU_INTEL_VTD, 0x10b4ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_after_walk),
		cmocka_unit_test(test_real_leaf_sizes),
		cmocka_unit_test(test_permissions_cached),
		cmocka_unit_test(test_probed_sizes_widen),
		cmocka_unit_test(test_unmap_skips_sizes_never_filled),
		cmocka_unit_test(test_unmap_is_strict),
		cmocka_unit_test(test_unmap_drops_only_its_range),
		cmocka_unit_test(test_unmap_drops_the_sizes_it_removed),
		cmocka_unit_test(test_unmap_rules_strict),
		cmocka_unit_test(test_large_unmap_invalidates_the_tag),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_reused_tag_starts_empty),
		cmocka_unit_test(test_shared_domain_both_invalidated),
		cmocka_unit_test(test_flush_and_no_iotlb),
		cmocka_unit_test(test_config_checked),
		cmocka_unit_test(test_random_small_iotlb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
