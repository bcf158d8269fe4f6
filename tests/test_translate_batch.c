/* SPDX-License-Identifier: MIT */
/*
 * ap_translate_batch() against its definition: n calls of ap_translate(),
 * stopping at the first refusal.  Every case runs a random address stream
 * (fixed, printed seed) through both, on two contexts built alike, and
 * compares the translations, the index and record of the first fault, the
 * event queues and the IOTLB's hit and walk counts.  The machines cover
 * the batch's fast loop (one leaf size: 4K, 2M, and 64K from a 64K
 * granule), its general path (4K and 2M leaves in one domain), and what
 * the IOTLB never answers (identity and blocked domains, a device with no
 * domain, an instance without an IOTLB, addresses outside the aperture).
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

#define SZ_4K 0x1000ull
#define SZ_64K 0x10000ull
#define SZ_2M 0x200000ull
#define RW (AP_PROT_READ | AP_PROT_WRITE)
#define IOVA_BASE 0x40000000ull
#define PA_BASE 0x800000000ull
#define PAGES 48 /* per machine: half mapped, so streams hit, miss and fault */
#define MAX_BATCH 40

typedef unsigned long long ull;

enum machine_kind { M_4K, M_2M, M_64K, M_MIXED, M_NO_IOTLB, M_IDENTITY, M_BLOCKED, M_NO_DOMAIN };

static const char *const kind_names[] = { "4K leaves", "2M leaves", "64K leaves",
					  "4K and 2M leaves", "no IOTLB", "identity",
					  "blocked", "no domain" };

struct machine {
	struct ap_ctx *ctx;
	struct ap_iommu *iommu;
	struct ap_device *dev;
	uint64_t pgsize; /* of the mapped pages (M_MIXED: every other one 2M) */
};

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static uint64_t page_size(const struct machine *m, unsigned i)
{
	return m->pgsize == 0 ? (i % 2 ? SZ_2M : SZ_4K) : m->pgsize;
}

/* Page i's slot: 2M apart, so that mixed sizes never overlap. */
static uint64_t page_iova(unsigned i)
{
	return IOVA_BASE + (uint64_t)i * SZ_2M;
}

static void machine_new(struct machine *m, enum machine_kind kind)
{
	struct ap_iommu_config c;
	struct ap_domain *dom = NULL;
	enum ap_domain_type type = kind == M_IDENTITY  ? AP_DOMAIN_IDENTITY :
				   kind == M_BLOCKED ? AP_DOMAIN_BLOCKED :
						       AP_DOMAIN_PAGING;
	unsigned i;

	memset(m, 0, sizeof(*m));
	m->ctx = ap_ctx_new();
	assert_non_null(m->ctx);
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	if (kind == M_NO_IOTLB)
		c.iotlb_entries = 0;
	if (kind == M_64K) { /* the 64K granule alone */
		c.pgsize_bitmap = SZ_64K | (SZ_64K << 13);
		c.host_page_size = SZ_64K;
	}
	assert_int_equal(ap_iommu_new(m->ctx, "smmu", &c, &m->iommu), 0);
	assert_int_equal(ap_device_new(m->ctx, "dev", m->iommu, 7, AP_GROUP_OWN, &m->dev), 0);
	m->pgsize = kind == M_2M ? SZ_2M : kind == M_64K ? SZ_64K : kind == M_MIXED ? 0 : SZ_4K;
	if (kind == M_NO_DOMAIN)
		return;
	assert_int_equal(ap_domain_new(m->ctx, "d", m->iommu, type, &dom), 0);
	assert_int_equal(ap_attach(dom, m->dev), 0);
	if (type != AP_DOMAIN_PAGING)
		return;
	for (i = 0; i < PAGES; i += 2) /* even pages mapped, odd ones not */
		assert_int_equal(ap_map(dom, page_iova(i), PA_BASE + (uint64_t)i * SZ_2M,
					page_size(m, i), i % 4 ? AP_PROT_READ : RW),
				 0);
	if (kind == M_MIXED) /* a 2M leaf too, at an odd slot */
		assert_int_equal(ap_map(dom, page_iova(PAGES + 1), PA_BASE, SZ_2M, RW), 0);
}

/* An address in the machine's range: mostly inside a page (mapped or not),
 * sometimes at its last byte, sometimes outside the aperture. */
static uint64_t pick(const struct machine *m, uint64_t *rng)
{
	unsigned i = (unsigned)(next_rand(rng) % (PAGES + 2));
	uint64_t r = next_rand(rng);

	if (r % 50 == 0)
		return ~0ull - (r >> 8) % SZ_4K; /* beyond every aperture */
	if (r % 7 == 0)
		return page_iova(i) + page_size(m, i) - 1;
	return page_iova(i) + (r >> 16) % page_size(m, i);
}

static void expect_same_fault(const struct ap_fault *a, const struct ap_fault *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->sid, b->sid);
	assert_int_equal(a->iova, b->iova);
	assert_int_equal(a->access, b->access);
	assert_int_equal(a->pa, b->pa);
	assert_int_equal(a->level, b->level);
}

/* One batch on `a`, the same addresses one by one on `b`. */
static void one_batch(struct machine *a, struct machine *b, const uint64_t *iova, size_t n,
		      unsigned access)
{
	struct ap_translation got[MAX_BATCH], want;
	struct ap_fault fa, fb;
	size_t done = 99, i;
	int err = ap_translate_batch(a->dev, iova, n, access, got, &done, &fa), want_err = 0;

	for (i = 0; i < n; i++) {
		memset(&want, 0, sizeof(want));
		want_err = ap_translate(b->dev, iova[i], access, &want, &fb);
		if (want_err)
			break;
		assert_true(i < done);
		assert_int_equal(got[i].pa, want.pa);
		assert_int_equal(got[i].size, want.size);
		assert_int_equal(got[i].prot, want.prot);
		assert_int_equal(got[i].bypass, want.bypass);
	}
	assert_int_equal(done, i);
	assert_int_equal(err, want_err);
	if (err)
		expect_same_fault(&fa, &fb);
}

static void expect_same_state(struct machine *a, struct machine *b)
{
	struct ap_iotlb_stats sa, sb;
	struct ap_fault fa, fb;

	ap_iommu_iotlb_stats(a->iommu, &sa);
	ap_iommu_iotlb_stats(b->iommu, &sb);
	assert_int_equal(sa.hits, sb.hits);
	assert_int_equal(sa.misses, sb.misses);
	assert_int_equal(sa.walks, sb.walks);
	assert_int_equal(sa.fills, sb.fills);
	assert_int_equal(ap_iommu_fault_pending(a->iommu), ap_iommu_fault_pending(b->iommu));
	while (ap_iommu_fault_pop(a->iommu, &fa)) {
		assert_true(ap_iommu_fault_pop(b->iommu, &fb));
		expect_same_fault(&fa, &fb);
	}
}

static void differential(enum machine_kind kind, uint64_t seed)
{
	struct machine a, b;
	uint64_t rng = seed, iova[MAX_BATCH];
	unsigned round;

	print_message("  %-18s seed 0x%llx\n", kind_names[kind], (ull)seed);
	machine_new(&a, kind);
	machine_new(&b, kind);
	for (round = 0; round < 400; round++) {
		size_t n = (size_t)(next_rand(&rng) % MAX_BATCH), i;
		unsigned access = next_rand(&rng) % 3 ? AP_ACCESS_READ : AP_ACCESS_WRITE;

		for (i = 0; i < n; i++)
			iova[i] = pick(&a, &rng);
		/* mostly mapped pages, so that long runs of hits happen */
		if (round % 2)
			for (i = 0; i < n; i++)
				iova[i] = page_iova((unsigned)(next_rand(&rng) % (PAGES / 4)) * 4) +
					  (iova[i] & (SZ_4K - 1));
		one_batch(&a, &b, iova, n, access);
		if (round % 50 == 49)
			expect_same_state(&a, &b);
	}
	expect_same_state(&a, &b);
	ap_ctx_free(a.ctx);
	ap_ctx_free(b.ctx);
}

static void test_differential(void **state)
{
	unsigned k;

	(void)state;
	for (k = M_4K; k <= M_NO_DOMAIN; k++)
		differential((enum machine_kind)k, 0x5eed0000ull + k);
}

/* The fast loop counts its hits: a batch that only hits adds n to them. */
static void test_hits_counted(void **state)
{
	struct machine m;
	struct ap_translation out[MAX_BATCH];
	struct ap_iotlb_stats before, after;
	uint64_t iova[MAX_BATCH];
	size_t done, i;

	(void)state;
	machine_new(&m, M_4K);
	for (i = 0; i < MAX_BATCH; i++)
		iova[i] = page_iova((unsigned)(i % (PAGES / 2)) * 2) + i * 8;
	assert_int_equal(ap_translate_batch(m.dev, iova, MAX_BATCH, AP_ACCESS_READ, out, &done,
					    NULL), 0); /* fills */
	ap_iommu_iotlb_stats(m.iommu, &before);
	assert_int_equal(ap_translate_batch(m.dev, iova, MAX_BATCH, AP_ACCESS_READ, out, &done,
					    NULL), 0);
	ap_iommu_iotlb_stats(m.iommu, &after);
	assert_int_equal(done, MAX_BATCH);
	assert_int_equal(after.hits - before.hits, MAX_BATCH);
	assert_int_equal(after.walks, before.walks);
	for (i = 0; i < MAX_BATCH; i++)
		assert_int_equal(out[i].pa, PA_BASE + (i % (PAGES / 2)) * 2 * SZ_2M + i * 8);
	ap_ctx_free(m.ctx);
}

/* An unmap between two batches is seen by the second, even for an address
 * the first put in the IOTLB (strict, as for ap_translate()). */
static void test_unmap_between_batches(void **state)
{
	struct machine m;
	struct ap_translation out[2];
	struct ap_domain *dom;
	struct ap_fault f;
	uint64_t iova[2] = { page_iova(0) + 0x10, page_iova(2) + 0x20 };
	size_t done;

	(void)state;
	machine_new(&m, M_4K);
	dom = ap_domain_find(m.ctx, "d");
	assert_non_null(dom);
	assert_int_equal(ap_translate_batch(m.dev, iova, 2, AP_ACCESS_READ, out, &done, NULL), 0);
	assert_int_equal(ap_unmap(dom, page_iova(2), SZ_4K, NULL), 0);
	assert_int_equal(ap_translate_batch(m.dev, iova, 2, AP_ACCESS_READ, out, &done, &f),
			 -EFAULT);
	assert_int_equal(done, 1);
	assert_int_equal(out[0].pa, PA_BASE + 0x10);
	assert_int_equal(f.kind, AP_FAULT_TRANSLATION);
	assert_int_equal(f.iova, iova[1]);
	assert_int_equal(ap_iommu_fault_pending(m.iommu), 1);
	/* no fault asked for: still refused and recorded, out[1] untouched */
	memset(out, 0xee, sizeof(out));
	assert_int_equal(ap_translate_batch(m.dev, iova, 2, AP_ACCESS_READ, out, &done, NULL),
			 -EFAULT);
	assert_int_equal(done, 1);
	assert_int_equal(out[0].pa, PA_BASE + 0x10);
	assert_int_equal(out[1].pa, 0xeeeeeeeeeeeeeeeeull);
	assert_int_equal(ap_iommu_fault_pending(m.iommu), 2);
	ap_ctx_free(m.ctx);
}

/* ap_translate() with no room for the answer still probes the IOTLB:
 * a cached address counts a hit and no walk. */
static void test_translate_null_out_hits(void **state)
{
	struct machine m;
	struct ap_iotlb_stats before, after;
	unsigned i;

	(void)state;
	machine_new(&m, M_4K);
	assert_int_equal(ap_translate(m.dev, page_iova(0), AP_ACCESS_READ, NULL, NULL), 0);
	ap_iommu_iotlb_stats(m.iommu, &before);
	for (i = 0; i < 10; i++)
		assert_int_equal(ap_translate(m.dev, page_iova(0) + i, AP_ACCESS_READ, NULL, NULL),
				 0);
	ap_iommu_iotlb_stats(m.iommu, &after);
	assert_int_equal(after.hits - before.hits, 10);
	assert_int_equal(after.walks, before.walks);
	ap_ctx_free(m.ctx);
}

static void test_refusals(void **state)
{
	struct machine m;
	struct ap_translation out[1];
	uint64_t iova[1] = { page_iova(0) };
	size_t done = 5;

	(void)state;
	machine_new(&m, M_4K);
	assert_int_equal(ap_translate_batch(NULL, iova, 1, AP_ACCESS_READ, out, &done, NULL),
			 -EINVAL);
	assert_int_equal(done, 0);
	assert_int_equal(ap_translate_batch(m.dev, iova, 1, AP_ACCESS_READ, out, NULL, NULL),
			 -EINVAL);
	done = 5;
	assert_int_equal(ap_translate_batch(m.dev, NULL, 1, AP_ACCESS_READ, out, &done, NULL),
			 -EINVAL);
	assert_int_equal(done, 0);
	done = 5;
	assert_int_equal(ap_translate_batch(m.dev, iova, 1, AP_ACCESS_READ, NULL, &done, NULL),
			 -EINVAL);
	assert_int_equal(done, 0);
	assert_non_null(strstr(ap_ctx_error(m.ctx), "room for its translations"));
	/* nothing to translate: no buffers needed, nothing recorded */
	done = 5;
	assert_int_equal(ap_translate_batch(m.dev, NULL, 0, AP_ACCESS_READ, NULL, &done, NULL),
			 0);
	assert_int_equal(done, 0);
	assert_int_equal(ap_iommu_fault_pending(m.iommu), 0);
	ap_ctx_free(m.ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_hits_counted),
		cmocka_unit_test(test_unmap_between_batches),
		cmocka_unit_test(test_translate_null_out_hits),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
