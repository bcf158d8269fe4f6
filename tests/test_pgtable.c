/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the page-table layer (include/aperture/pgtable.h), ARM LPAE.
 *
 * The tables live in the simulated physical memory of tmem.h.
 *
 * Expected descriptor values are literals taken from
 * shared/reference/pagetable-formats.md section 2.5 (goldens evaluated from
 * Linux) or worked out by hand from its bit table; none is computed by a
 * formula that mirrors the implementation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lpae_golden.h"
#include "ptmodel.h"

/* ================================================================ 1. descriptors */

static void test_golden_descriptors(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt;
	struct ap_pt_leaf l;
	uint64_t t0, t1, t2, d;

	(void)state;
	/* S1 4K, ias 48: the three goldens of section 2.5. */
	pt = mkpt(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_4K);
	assert_int_equal(map1(pt, 0x40001000, 0x40001000, SZ_4K, RW), 0);
	assert_int_equal(map1(pt, 0x80200000, 0x80200000, SZ_2M, RW | AP_PROT_CACHE), 0);
	assert_int_equal(map1(pt, 0xc0000000, 0xc0000000, SZ_1G,
			      AP_PROT_READ | AP_PROT_NOEXEC), 0);

	l = leaf_at(pt, 0x40001000);
	assert_int_equal(l.pte, 0x0000000040001e43ull);
	assert_int_equal(l.level, 3);
	assert_int_equal(l.size, SZ_4K);
	assert_int_equal(l.iova, 0x40001000);
	assert_int_equal(l.pa, 0x40001000);
	assert_int_equal(l.prot, RW);

	l = leaf_at(pt, 0x80200000);
	assert_int_equal(l.pte, 0x0000000080200f45ull);
	assert_int_equal(l.level, 2);
	assert_int_equal(l.size, SZ_2M);
	assert_int_equal(l.prot, RW | AP_PROT_CACHE);

	l = leaf_at(pt, 0xc0000000);
	assert_int_equal(l.pte, 0x00600000c0000ec1ull);
	assert_int_equal(l.level, 1);
	assert_int_equal(l.size, SZ_1G);
	assert_int_equal(l.prot, AP_PROT_READ | AP_PROT_NOEXEC);

	/* Coherent walk: table descriptors are exactly PA | 3. */
	t0 = root_pa(pt);
	d = rd_desc(m, t0, 0);
	assert_int_equal(d & ~desc_addr(d), 3);
	t1 = desc_addr(d);
	d = rd_desc(m, t1, 1); /* 0x40001000 -> L1 index 1 */
	assert_int_equal(d & ~desc_addr(d), 3);
	t2 = desc_addr(d);
	d = rd_desc(m, t2, 0);
	assert_int_equal(d & ~desc_addr(d), 3);
	assert_int_equal(rd_desc(m, desc_addr(d), 1), 0x0000000040001e43ull);
	/* The 1G block sits in L1 index 3 of the same L1 table. */
	assert_int_equal(rd_desc(m, t1, 3), 0x00600000c0000ec1ull);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* S1 with ARM_NS: NS in the leaf, NSTable (bit 63) in every table. */
	pt = mkpt_full(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_4K, 0, true, AP_PT_QUIRK_ARM_NS);
	assert_int_equal(map1(pt, 0x1000, 0x1000, SZ_4K, RW), 0);
	assert_int_equal(leaf_at(pt, 0x1000).pte, 0x0000000000001e63ull);
	d = rd_desc(m, root_pa(pt), 0);
	assert_int_equal(d & ~desc_addr(d), 0x8000000000000003ull);
	d = rd_desc(m, desc_addr(d), 0);
	assert_int_equal(d & ~desc_addr(d), 0x8000000000000003ull);
	d = rd_desc(m, desc_addr(d), 0);
	assert_int_equal(d & ~desc_addr(d), 0x8000000000000003ull);
	assert_int_equal(rd_desc(m, desc_addr(d), 1), 0x0000000000001e63ull);
	expect_phys(pt, 0x1234, 0x1234);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* Non-coherent walk: table descriptors carry bit 55, leaves do not. */
	pt = mkpt_full(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_4K, 0, false, 0);
	assert_int_equal(map1(pt, 0x40001000, 0x40001000, SZ_4K, RW), 0);
	assert_int_equal(leaf_at(pt, 0x40001000).pte, 0x0000000040001e43ull);
	d = rd_desc(m, root_pa(pt), 0);
	assert_int_equal(d & ~desc_addr(d), 0x0080000000000003ull);
	d = rd_desc(m, desc_addr(d), 1);
	assert_int_equal(d & ~desc_addr(d), 0x0080000000000003ull);
	d = rd_desc(m, desc_addr(d), 0);
	assert_int_equal(d & ~desc_addr(d), 0x0080000000000003ull);
	expect_phys(pt, 0x40001abc, 0x40001abc);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* S2 golden: rw + cache, 1G block at 0x40000000. */
	pt = mkpt(m, AP_PT_ARM_LPAE_S2, 40, 40, BM_4K);
	assert_int_equal(map1(pt, 0x40000000, 0x40000000, SZ_1G, RW | AP_PROT_CACHE), 0);
	l = leaf_at(pt, 0x40000000);
	assert_int_equal(l.pte, 0x00000000400007fdull);
	assert_int_equal(l.level, 1);
	assert_int_equal(l.prot, RW | AP_PROT_CACHE);
	/* 4K S2 ias=oas=40 is concatenated at L1: the block is in the root. */
	assert_int_equal(rd_desc(m, root_pa(pt), 1), 0x00000000400007fdull);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* Every prot of r,w,c,n,m,p with r or w, as a 4K page at 0x40001000: the
 * descriptor is lpae_golden.h's, and a stage-1 prot reads back decoded. */
static void test_prot_table(void **state)
{
	struct tmem *m = tmem_new();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lpae_s1_page) / sizeof(lpae_s1_page[0]); i++) {
		struct ap_pt *pt = mkpt(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_4K);
		struct ap_pt_leaf l;
		unsigned prot = lpae_s1_page[i].prot;

		assert_int_equal(map1(pt, 0x40001000, 0x40001000, SZ_4K, prot), 0);
		l = leaf_at(pt, 0x40001000);
		EXPECT(l.pte == lpae_s1_page[i].pte, "S1 prot %#x: pte %016llx, want %016llx",
		       prot, (ull)l.pte, (ull)lpae_s1_page[i].pte);
		EXPECT(l.prot == s1_decoded(prot), "S1 prot %#x decodes as %#x", prot, l.prot);
		expect_phys(pt, 0x40001fff, 0x40001fff);
		ap_pt_free(pt);
	}
	for (i = 0; i < sizeof(lpae_s2_page) / sizeof(lpae_s2_page[0]); i++) {
		struct ap_pt *pt = mkpt(m, AP_PT_ARM_LPAE_S2, 48, 48, BM_4K);
		struct ap_pt_leaf l;
		unsigned prot = lpae_s2_page[i].prot;

		assert_int_equal(map1(pt, 0x40001000, 0x40001000, SZ_4K, prot), 0);
		l = leaf_at(pt, 0x40001000);
		EXPECT(l.pte == lpae_s2_page[i].pte, "S2 prot %#x: pte %016llx, want %016llx",
		       prot, (ull)l.pte, (ull)lpae_s2_page[i].pte);
		expect_phys(pt, 0x40001004, 0x40001004);
		ap_pt_free(pt);
	}
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* 64K granule, 52-bit OA: PA[51:48] folds into descriptor bits 15:12. */
static void test_lpa_fold(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, AP_PT_ARM_LPAE_S1, 48, 52, BM_64K | SZ_4T);
	struct ap_pt_cfg cfg;
	struct ap_pt_leaf l;

	(void)state;
	ap_pt_get_cfg(pt, &cfg);
	assert_int_equal(cfg.pgsize_bitmap, BM_64K | SZ_4T); /* 4T kept: oas > 48 */
	assert_int_equal(map1(pt, 0x10000, 0x000f000000010000ull, SZ_64K, RW), 0);
	l = leaf_at(pt, 0x10000);
	/* (pa | pa >> 36) & bits 47:12 = 0x1f000, then the rw page bits 0xe43. */
	assert_int_equal(l.pte, 0x000000000001fe43ull);
	assert_int_equal(l.pa, 0x000f000000010000ull);
	expect_phys(pt, 0x10042, 0x000f000000010042ull);
	/* A 4T block at L1 is a legal size here. */
	assert_int_equal(map1(pt, SZ_4T, SZ_4T, SZ_4T, RW), 0);
	l = leaf_at(pt, SZ_4T + 5);
	assert_int_equal(l.level, 1);
	assert_int_equal(l.size, SZ_4T);
	expect_phys(pt, SZ_4T + 0x123456789ull, SZ_4T + 0x123456789ull);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* With oas 48 the 4T size is not offered. */
	pt = mkpt(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_64K | SZ_4T);
	ap_pt_get_cfg(pt, &cfg);
	assert_int_equal(cfg.pgsize_bitmap, BM_64K);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* ================================================================ 2. Linux selftest */

static void selftest_one(struct tmem *m, enum ap_pt_format fmt, uint64_t bitmap, unsigned ias,
			 unsigned oas)
{
	struct ap_pt *pt = mkpt(m, fmt, ias, oas, bitmap);
	struct ap_pt_cfg cfg;
	uint64_t iova, size, mapped, pa;
	unsigned j;

	ap_pt_get_cfg(pt, &cfg);
	EXPECT(cfg.pgsize_bitmap == bitmap, "fmt %d ias %u oas %u: bitmap %llx -> %llx",
	       (int)fmt, ias, oas, (ull)bitmap, (ull)cfg.pgsize_bitmap);

	EXPECT(!ap_pt_iova_to_phys(pt, 42, &pa), "empty table translates 42");
	EXPECT(!ap_pt_iova_to_phys(pt, SZ_1G + 42, &pa), "empty table translates 1G+42");
	EXPECT(!ap_pt_iova_to_phys(pt, SZ_2G + 42, &pa), "empty table translates 2G+42");

	iova = 0;
	for (j = 0; j < 64; j++) {
		int err;

		if (!(cfg.pgsize_bitmap & (1ull << j)))
			continue;
		size = 1ull << j;
		mapped = 0;
		err = ap_pt_map_pages(pt, iova, iova, size, 1,
				      RW | AP_PROT_NOEXEC | AP_PROT_CACHE, &mapped);
		EXPECT(err == 0 && mapped == size,
		       "fmt %d bm %llx ias %u oas %u: map %llx size %llx: %d mapped %llx",
		       (int)fmt, (ull)bitmap, ias, oas, (ull)iova, (ull)size, err, (ull)mapped);
		mapped = 0;
		err = ap_pt_map_pages(pt, iova, iova + size, size, 1,
				      AP_PROT_READ | AP_PROT_NOEXEC, &mapped);
		EXPECT(err == -EEXIST && mapped == 0,
		       "fmt %d bm %llx ias %u oas %u: overlapping map %llx size %llx: %d",
		       (int)fmt, (ull)bitmap, ias, oas, (ull)iova, (ull)size, err);
		EXPECT(ap_pt_iova_to_phys(pt, iova + 42, &pa) && pa == iova + 42,
		       "fmt %d bm %llx ias %u oas %u: iova %llx+42 does not translate",
		       (int)fmt, (ull)bitmap, ias, oas, (ull)iova);
		iova += SZ_1G;
	}

	iova = 0;
	for (j = 0; j < 64; j++) {
		uint64_t got;
		int err;

		if (!(cfg.pgsize_bitmap & (1ull << j)))
			continue;
		size = 1ull << j;
		got = ap_pt_unmap_pages(pt, iova, size, 1);
		EXPECT(got == size, "fmt %d bm %llx ias %u oas %u: unmap %llx size %llx -> %llx",
		       (int)fmt, (ull)bitmap, ias, oas, (ull)iova, (ull)size, (ull)got);
		EXPECT(!ap_pt_iova_to_phys(pt, iova + 42, &pa),
		       "fmt %d bm %llx ias %u oas %u: %llx+42 translates after unmap",
		       (int)fmt, (ull)bitmap, ias, oas, (ull)iova);
		mapped = 0;
		err = ap_pt_map_pages(pt, iova, iova, size, 1, AP_PROT_WRITE, &mapped);
		EXPECT(err == 0 && mapped == size,
		       "fmt %d bm %llx ias %u oas %u: remap %llx size %llx: %d", (int)fmt,
		       (ull)bitmap, ias, oas, (ull)iova, (ull)size, err);
		EXPECT(ap_pt_iova_to_phys(pt, iova + 42, &pa) && pa == iova + 42,
		       "fmt %d bm %llx ias %u oas %u: remapped %llx+42 does not translate",
		       (int)fmt, (ull)bitmap, ias, oas, (ull)iova);
		iova += SZ_1G;
	}

	/* The last largest page below 2^ias: concatenated-PGD corner cases. */
	size = 1ull << (63 - __builtin_clzll(cfg.pgsize_bitmap));
	iova = (1ull << cfg.ias) - size;
	mapped = 0;
	EXPECT(ap_pt_map_pages(pt, iova, iova, size, 1, RW | AP_PROT_NOEXEC | AP_PROT_CACHE,
			       &mapped) == 0 && mapped == size,
	       "fmt %d bm %llx ias %u oas %u: map of the last page %llx failed", (int)fmt,
	       (ull)bitmap, ias, oas, (ull)iova);
	EXPECT(ap_pt_iova_to_phys(pt, iova + size - 1, &pa) && pa == iova + size - 1,
	       "last page does not translate");
	EXPECT(ap_pt_unmap_pages(pt, iova, size, 1) == size,
	       "fmt %d bm %llx ias %u oas %u: unmap of the last page %llx", (int)fmt,
	       (ull)bitmap, ias, oas, (ull)iova);
	ap_pt_free(pt);
	tmem_assert_empty(m);
}

static void test_linux_selftest(void **state)
{
	static const uint64_t bitmaps[] = { BM_4K, BM_16K, BM_64K };
	static const unsigned bits[] = { 32, 36, 40, 42, 44, 48 };
	struct tmem *m = tmem_new();
	unsigned b, i, o, configs = 0;

	(void)state;
	for (b = 0; b < 3; b++)
		for (i = 0; i < 6; i++)
			for (o = i; o < 6; o++) {
				selftest_one(m, AP_PT_ARM_LPAE_S1, bitmaps[b], bits[i], bits[o]);
				selftest_one(m, AP_PT_ARM_LPAE_S2, bitmaps[b], bits[i], bits[o]);
				configs++;
			}
	assert_int_equal(configs, 63);
	tmem_destroy(m);
}

/* ================================================================ 3. geometry */

struct geo {
	enum ap_pt_format fmt;
	uint64_t bitmap;
	unsigned ias, oas;
	int start;
	uint64_t pgd_bytes; /* 8 x PGD entries (incl. concatenation), at least 64 */
};

static void test_geometry(void **state)
{
	/* Section 2.2's table (ias = oas), plus the OAS-keyed cases of 2.3. */
	static const struct geo g[] = {
		{ AP_PT_ARM_LPAE_S1, BM_4K, 32, 32, 1, 64 },
		{ AP_PT_ARM_LPAE_S1, BM_4K, 36, 36, 1, 512 },
		{ AP_PT_ARM_LPAE_S1, BM_4K, 40, 40, 0, 64 },
		{ AP_PT_ARM_LPAE_S2, BM_4K, 40, 40, 1, 8192 },
		{ AP_PT_ARM_LPAE_S2, BM_4K, 40, 48, 0, 64 },
		{ AP_PT_ARM_LPAE_S1, BM_4K, 42, 42, 0, 64 },
		{ AP_PT_ARM_LPAE_S2, BM_4K, 42, 42, 1, 32768 },
		{ AP_PT_ARM_LPAE_S2, BM_4K, 42, 44, 0, 64 },
		{ AP_PT_ARM_LPAE_S1, BM_4K, 44, 44, 0, 256 },
		{ AP_PT_ARM_LPAE_S2, BM_4K, 44, 44, 0, 256 },
		{ AP_PT_ARM_LPAE_S1, BM_4K, 48, 48, 0, 4096 },
		{ AP_PT_ARM_LPAE_S2, BM_4K, 48, 48, 0, 4096 },
		{ AP_PT_ARM_LPAE_S1, BM_4K, 52, 52, 0, 4096 }, /* clamped to 48 */
		{ AP_PT_ARM_LPAE_S1, BM_4K, 39, 40, 1, 4096 },
		{ AP_PT_ARM_LPAE_S1, BM_16K, 32, 32, 2, 1024 },
		{ AP_PT_ARM_LPAE_S1, BM_16K, 36, 36, 2, 16384 },
		{ AP_PT_ARM_LPAE_S1, BM_16K, 40, 40, 1, 128 },
		{ AP_PT_ARM_LPAE_S2, BM_16K, 40, 40, 2, 262144 },
		{ AP_PT_ARM_LPAE_S2, BM_16K, 40, 48, 1, 128 },
		{ AP_PT_ARM_LPAE_S1, BM_16K, 42, 42, 1, 512 },
		{ AP_PT_ARM_LPAE_S2, BM_16K, 44, 44, 1, 2048 },
		{ AP_PT_ARM_LPAE_S1, BM_16K, 48, 48, 0, 64 },
		{ AP_PT_ARM_LPAE_S2, BM_16K, 48, 48, 1, 32768 },
		{ AP_PT_ARM_LPAE_S2, BM_16K, 48, 44, 1, 32768 }, /* ias == 48 alone */
		{ AP_PT_ARM_LPAE_S1, BM_64K, 32, 32, 2, 64 },
		{ AP_PT_ARM_LPAE_S1, BM_64K, 36, 36, 2, 1024 },
		{ AP_PT_ARM_LPAE_S1, BM_64K, 40, 40, 2, 16384 },
		{ AP_PT_ARM_LPAE_S2, BM_64K, 42, 42, 2, 65536 },
		{ AP_PT_ARM_LPAE_S1, BM_64K, 44, 44, 1, 64 },
		{ AP_PT_ARM_LPAE_S1, BM_64K, 48, 48, 1, 512 },
		{ AP_PT_ARM_LPAE_S2, BM_64K, 52, 52, 1, 8192 },
	};
	struct tmem *m = tmem_new();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		struct ap_pt *pt = mkpt(m, g[i].fmt, g[i].ias, g[i].oas, g[i].bitmap);
		struct ap_pt_walk_cfg wc;
		int start;

		ap_pt_get_walk_cfg(pt, &wc);
		start = ap_pt_start_level(&wc);
		EXPECT(start == g[i].start, "case %zu (fmt %d ias %u oas %u): start level %d, want %d",
		       i, (int)g[i].fmt, g[i].ias, g[i].oas, start, g[i].start);
		EXPECT(ap_pt_table_bytes(pt) == g[i].pgd_bytes,
		       "case %zu (fmt %d ias %u oas %u): PGD %llu bytes, want %llu", i, (int)g[i].fmt,
		       g[i].ias, g[i].oas, (ull)ap_pt_table_bytes(pt), (ull)g[i].pgd_bytes);
		assert_int_equal(m->bytes_out >= g[i].pgd_bytes, 1);
		assert_int_equal(wc.root & (g[i].pgd_bytes - 1), 0); /* naturally aligned */
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}

	/* Walker configurations on their own. */
	{
		struct ap_pt_walk_cfg wc = { AP_PT_ARM_LPAE_S2, 12, 40, 40, 0 };

		assert_int_equal(ap_pt_start_level(&wc), 1);
		wc.oas = 48;
		assert_int_equal(ap_pt_start_level(&wc), 0);
		wc.format = AP_PT_ARM_LPAE_S1;
		wc.oas = 40;
		assert_int_equal(ap_pt_start_level(&wc), 0);
		wc.oas = 39;
		assert_int_equal(ap_pt_start_level(&wc), -1);
		wc.oas = 40;
		wc.granule_shift = 13;
		assert_int_equal(ap_pt_start_level(&wc), -1);
		wc.granule_shift = 14;
		wc.ias = 47; /* 33 bits to resolve, 11 a level: L1 */
		assert_int_equal(ap_pt_start_level(&wc), 1);
		wc.ias = 48;
		assert_int_equal(ap_pt_start_level(&wc), 0);
		wc.format = AP_PT_ARM_LPAE_S2; /* ias 48: concatenated */
		assert_int_equal(ap_pt_start_level(&wc), 1);
		wc.format = (enum ap_pt_format)99;
		assert_int_equal(ap_pt_start_level(&wc), -1);
	}
	tmem_destroy(m);
}

static uint64_t restricted(struct tmem *m, uint64_t bitmap, uint64_t host)
{
	struct ap_pt *pt = mkpt_full(m, AP_PT_ARM_LPAE_S1, 40, 40, bitmap, host, true, 0);
	struct ap_pt_cfg cfg;

	ap_pt_get_cfg(pt, &cfg);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	return cfg.pgsize_bitmap;
}

static void test_alloc_rules(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt;
	struct ap_pt_cfg cfg;

	(void)state;
	/* restrict_pgsizes: host size first, else largest below, else smallest above. */
	assert_int_equal(restricted(m, SZ_4K | SZ_16K | SZ_64K, 0), SZ_4K);
	assert_int_equal(restricted(m, SZ_4K | SZ_16K | SZ_64K, SZ_4K), SZ_4K);
	assert_int_equal(restricted(m, SZ_16K | SZ_64K, SZ_4K), SZ_16K);
	assert_int_equal(restricted(m, SZ_64K | SZ_512M | SZ_2M, SZ_4K), BM_64K);
	assert_int_equal(restricted(m, BM_4K | BM_64K, SZ_16K), BM_4K);
	assert_int_equal(restricted(m, BM_64K, SZ_16K), BM_64K);
	assert_int_equal(restricted(m, SZ_4K | SZ_16K | SZ_64K, SZ_64K), SZ_64K);
	assert_int_equal(restricted(m, SZ_4K | SZ_16K, SZ_64K), SZ_16K);
	assert_int_equal(restricted(m, BM_4K | BM_16K | BM_64K, SZ_16K), BM_16K);
	assert_int_equal(restricted(m, BM_4K | SZ_32M | SZ_512M, 0), BM_4K);
	assert_int_equal(restricted(m, ~0ull, 0), BM_4K);

	/* Clamping of ias/oas to the granule's limit. */
	pt = mkpt(m, AP_PT_ARM_LPAE_S1, 52, 52, BM_4K);
	ap_pt_get_cfg(pt, &cfg);
	assert_int_equal(cfg.ias, 48);
	assert_int_equal(cfg.oas, 48);
	ap_pt_free(pt);
	pt = mkpt(m, AP_PT_ARM_LPAE_S1, 52, 52, BM_64K);
	ap_pt_get_cfg(pt, &cfg);
	assert_int_equal(cfg.ias, 52);
	assert_int_equal(cfg.oas, 52);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* Refusals: nothing allocated, *out untouched. */
	assert_int_equal(try_alloc(m, AP_PT_ARM_LPAE_S1, 39, 39, BM_4K, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, AP_PT_ARM_LPAE_S2, 39, 39, BM_4K, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, AP_PT_ARM_LPAE_S1, 39, 40, BM_4K, 0, 0), 0);
	assert_int_equal(try_alloc(m, AP_PT_ARM_LPAE_S1, 40, 41, BM_4K, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, AP_PT_ARM_LPAE_S1, 53, 48, BM_4K, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, AP_PT_ARM_LPAE_S1, 48, 53, BM_4K, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, AP_PT_ARM_LPAE_S1, 0, 48, BM_4K, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, AP_PT_ARM_LPAE_S1, 12, 48, BM_4K, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, AP_PT_ARM_LPAE_S1, 48, 48, SZ_2M | SZ_1G, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, AP_PT_ARM_LPAE_S1, 48, 48, 0, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, AP_PT_ARM_LPAE_S1, 48, 48, 0x2000, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_4K, 0x3000, 0), -EINVAL);
	assert_int_equal(try_alloc(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_4K, 0, 1u << 5), -EINVAL);
	assert_int_equal(try_alloc(m, AP_PT_ARM_LPAE_S2, 48, 48, BM_4K, 0, AP_PT_QUIRK_ARM_NS),
			 -EINVAL);
	assert_int_equal(try_alloc(m, (enum ap_pt_format)7, 48, 48, BM_4K, 0, 0), -EOPNOTSUPP);
	/* 4K S2 ias 48 oas 40: concatenation at L1 would need 512 tables. */
	assert_int_equal(try_alloc(m, AP_PT_ARM_LPAE_S2, 48, 40, BM_4K, 0, 0), -EINVAL);

	/* Out of memory: for the handle, and for the root table. */
	m->fail_handle = true;
	assert_int_equal(try_alloc(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_4K, 0, 0), -ENOMEM);
	m->fail_handle = false;
	assert_int_equal(m->allocs, m->frees);
	{
		struct ap_pt_cfg c = { AP_PT_ARM_LPAE_S1, 48, 48, BM_4K, 0, true, 0 };
		struct ap_pt *p = (struct ap_pt *)(uintptr_t)0x1234;

		m->fail_in = 1;
		assert_int_equal(ap_pt_alloc(&c, &m->mem, &p), -ENOMEM);
		assert_ptr_equal(p, (struct ap_pt *)(uintptr_t)0x1234);
		m->fail_in = 0;
		tmem_assert_empty(m);
		assert_int_equal(m->handle_allocs, m->handle_frees);
		assert_true(m->handle_allocs > 0);
	}
	{
		struct ap_pt_cfg c = { AP_PT_ARM_LPAE_S1, 48, 48, BM_4K, 0, true, 0 };
		struct ap_pt_mem bad = m->mem;
		struct ap_pt *p = NULL;

		bad.map = NULL;
		assert_int_equal(ap_pt_alloc(&c, &bad, &p), -EINVAL);
		assert_int_equal(ap_pt_alloc(&c, NULL, &p), -EINVAL);
		assert_null(p);
	}
	assert_string_equal(ap_pt_format_name(AP_PT_ARM_LPAE_S1), "arm-lpae-s1");
	assert_string_equal(ap_pt_format_name(AP_PT_ARM_LPAE_S2), "arm-lpae-s2");
	assert_string_equal(ap_pt_format_name((enum ap_pt_format)0), "?");
	ap_pt_free(NULL);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* ================================================================ 4. pgsize */

struct chunk {
	uint64_t pgsize, count;
};

static void test_pgsize(void **state)
{
	static const struct chunk want[] = {
		{ SZ_4K, 1 }, { SZ_2M, 2 }, { SZ_4K, 1 }
	};
	uint64_t iova = 0x1ff000, pa = 0x1ff000, size = 0x402000, count, pgsize;
	size_t k = 0;

	(void)state;
	while (size) {
		pgsize = ap_pt_pgsize(BM_4K, iova, pa, size, &count);
		assert_true(k < 3);
		EXPECT(pgsize == want[k].pgsize && count == want[k].count,
		       "step %zu: %llx x %llu, want %llx x %llu", k, (ull)pgsize, (ull)count,
		       (ull)want[k].pgsize, (ull)want[k].count);
		iova += pgsize * count;
		pa += pgsize * count;
		size -= pgsize * count;
		k++;
	}
	assert_int_equal(k, 3);

	/* Smaller examples, worked out by hand from iommu_pgsize(). */
	assert_int_equal(ap_pt_pgsize(BM_4K, 0, 0, SZ_4K, &count), SZ_4K);
	assert_int_equal(count, 1);
	assert_int_equal(ap_pt_pgsize(BM_4K, 0, 0, 3 * SZ_1G + SZ_4K, &count), SZ_1G);
	assert_int_equal(count, 3);
	/* iova and pa not congruent mod 2M: 4K pages all the way. */
	assert_int_equal(ap_pt_pgsize(BM_4K, 0x1000, 0x2000, SZ_4M, &count), SZ_4K);
	assert_int_equal(count, SZ_4M / SZ_4K);
	/* Congruent, but no whole 2M page fits after the boundary. */
	assert_int_equal(ap_pt_pgsize(BM_4K, 0x1ff000, 0x1ff000, 0x200000, &count), SZ_4K);
	assert_int_equal(count, 0x200);
	/* Aligned to 2M but shorter than 2M. */
	assert_int_equal(ap_pt_pgsize(BM_4K, SZ_2M, SZ_2M, SZ_2M - SZ_4K, &count), SZ_4K);
	assert_int_equal(count, 511);
	/* Too small for any size. */
	assert_int_equal(ap_pt_pgsize(BM_4K, 0, 0, 0x800, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(ap_pt_pgsize(BM_4K, 0, 0, 0, &count), 0);
	assert_int_equal(count, 0);
	/* iova = pa = 0 with a huge size: largest size, stops at nothing. */
	assert_int_equal(ap_pt_pgsize(BM_4K, 0, 0, ~0ull, &count), SZ_1G);
	assert_int_equal(count, ~0ull / SZ_1G);
}

static void test_mixed(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_4K);
	const uint64_t start = 0x3fe400000ull, end = 0x4c0600000ull;
	struct leafvec lv = { 0 };
	uint64_t calls = 0, iova;
	size_t i, n2m = 0, n1g = 0;

	(void)state;
	assert_int_equal(map_range(pt, start, start, end - start, RW, &calls), 0);
	assert_int_equal(calls, 3); /* 14 x 2M, 3 x 1G, 3 x 2M: one run each */
	assert_int_equal(ap_pt_leaf_count(pt), 20);
	assert_int_equal(ap_pt_sizes_in_use(pt), SZ_2M | SZ_1G);
	collect(pt, 0, ~0ull, &lv);
	assert_int_equal(lv.n, 20);
	iova = start;
	for (i = 0; i < lv.n; i++) {
		uint64_t want = (i < 14 || i >= 17) ? SZ_2M : SZ_1G;

		EXPECT(lv.v[i].iova == iova && lv.v[i].size == want && lv.v[i].pa == iova,
		       "leaf %zu: iova %llx size %llx pa %llx", i, (ull)lv.v[i].iova,
		       (ull)lv.v[i].size, (ull)lv.v[i].pa);
		n2m += want == SZ_2M;
		n1g += want == SZ_1G;
		iova += want;
	}
	assert_int_equal(iova, end);
	assert_int_equal(n2m, 17);
	assert_int_equal(n1g, 3);
	/* Leaves restricted to a window. */
	collect(pt, 0x400000000ull, 0x400000000ull + SZ_2G, &lv);
	assert_int_equal(lv.n, 3);
	collect(pt, 0x3fe5fffffull, 0x3fe600000ull, &lv);
	assert_int_equal(lv.n, 2);
	free(lv.v);
	expect_phys(pt, start, start);
	expect_phys(pt, end - 1, end - 1);
	expect_unmapped(pt, start - 1);
	expect_unmapped(pt, end);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

static int stop_at_third(void *arg, const struct ap_pt_leaf *leaf)
{
	unsigned *n = arg;

	(void)leaf;
	return ++*n == 3 ? 7 : 0;
}

static void test_leaf_iteration(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_4K);
	struct leafvec lv = { 0 };
	unsigned n = 0;

	(void)state;
	assert_int_equal(map_range(pt, 0x1000, 0x1000, 0x5000, RW, NULL), 0);
	assert_int_equal(map1(pt, SZ_1G, 0, SZ_1G, RW), 0);
	assert_int_equal(ap_pt_for_each_leaf(pt, 0, ~0ull, stop_at_third, &n), 7);
	assert_int_equal(n, 3);
	collect(pt, 0x3fff, 0x2000, &lv); /* first > last */
	assert_int_equal(lv.n, 0);
	collect(pt, 0x3fff, 0x4000, &lv);
	assert_int_equal(lv.n, 2);
	assert_int_equal(lv.v[0].iova, 0x3000);
	assert_int_equal(lv.v[1].iova, 0x4000);
	collect(pt, SZ_1G + SZ_2M, SZ_1G + SZ_2M, &lv); /* inside the block */
	assert_int_equal(lv.n, 1);
	assert_int_equal(lv.v[0].iova, SZ_1G);
	assert_int_equal(lv.v[0].pa, 0);
	collect(pt, 1ull << 48, ~0ull, &lv); /* beyond IAS */
	assert_int_equal(lv.n, 0);
	free(lv.v);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* ================================================================ 5. semantics */

static void test_map_semantics(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_4K);
	uint64_t mapped;

	(void)state;
	check_tree_map_rules(m, pt);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* Smaller sizes: OAS 40 refuses PA bit 40; IAS 32 refuses 4G. */
	pt = mkpt(m, AP_PT_ARM_LPAE_S1, 32, 40, BM_4K);
	assert_int_equal(map1(pt, 0, 1ull << 40, SZ_4K, RW), -ERANGE);
	assert_int_equal(map1(pt, 0, (1ull << 40) - SZ_4K, SZ_4K, RW), 0);
	assert_int_equal(map1(pt, 1ull << 32, 0, SZ_4K, RW), -ERANGE);
	assert_int_equal(map1(pt, (1ull << 32) - SZ_4K, 0, SZ_4K, RW), 0);
	expect_unmapped(pt, 1ull << 32);
	/* Root slot 3 holds a live leaf: a run over it writes nothing at all. */
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, SZ_1G, SZ_1G, SZ_1G, 5, RW, &mapped), -EEXIST);
	assert_int_equal(mapped, 0);
	expect_unmapped(pt, SZ_1G);
	expect_unmapped(pt, SZ_2G);
	assert_int_equal(ap_pt_map_pages(pt, SZ_1G, SZ_1G, SZ_1G, 2, RW, &mapped), 0);
	assert_int_equal(mapped, SZ_2G);
	assert_int_equal(map1(pt, SZ_1G, 0, SZ_1G, RW), -EEXIST);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	pt = mkpt(m, AP_PT_ARM_LPAE_S1, 32, 40, BM_4K);
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, SZ_2G, 0, SZ_1G, 5, RW, &mapped), 0);
	assert_int_equal(mapped, SZ_2G);
	expect_phys(pt, SZ_2G + SZ_1G + 5, SZ_1G + 5);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* Concatenated S2 PGD: runs stop at each granule page of the PGD. */
	pt = mkpt(m, AP_PT_ARM_LPAE_S2, 40, 40, BM_4K);
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 511 * SZ_1G, 0, SZ_1G, 3, RW, &mapped), 0);
	assert_int_equal(mapped, SZ_1G);
	expect_unmapped(pt, 512 * SZ_1G);
	assert_int_equal(ap_pt_map_pages(pt, 512 * SZ_1G, SZ_1G, SZ_1G, 2, RW, &mapped), 0);
	assert_int_equal(mapped, 3 * SZ_1G);
	expect_phys(pt, 513 * SZ_1G + 7, SZ_2G + 7);
	/* Unmap follows the same page boundary. */
	assert_int_equal(ap_pt_unmap_pages(pt, 511 * SZ_1G, SZ_1G, 3), SZ_1G);
	assert_int_equal(ap_pt_unmap_pages(pt, 512 * SZ_1G, SZ_1G, 3), SZ_2G);
	assert_int_equal(ap_pt_leaf_count(pt), 0);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

static void test_unmap_semantics(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_4K);
	uint64_t bytes, mapped;

	(void)state;
	/* Never split a block. */
	assert_int_equal(map1(pt, 0x200000, 0x80000000, SZ_2M, RW), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x201000, SZ_4K, 1), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x200000, SZ_4K, 1), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x200000, SZ_4K, 512), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0, SZ_1G, 1), 0); /* hole at 0 */
	assert_int_equal(ap_pt_leaf_count(pt), 1);
	expect_phys(pt, 0x3fffff, 0x801fffff);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x200000, SZ_2M, 1), SZ_2M);
	expect_unmapped(pt, 0x200000);
	assert_int_equal(ap_pt_leaf_count(pt), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x200000, SZ_2M, 1), 0);
	/* Nor a 1G block. */
	assert_int_equal(map1(pt, SZ_1G, 0, SZ_1G, RW), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, SZ_1G, SZ_2M, 1), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, SZ_1G + SZ_2M, SZ_2M, 511), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, SZ_1G, SZ_1G, 1), SZ_1G);

	/* Stop at the first hole. */
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 0x1000, 0x1000, SZ_4K, 3, RW, &mapped), 0);
	assert_int_equal(map1(pt, 0x5000, 0x5000, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x1000, SZ_4K, 8), 3 * SZ_4K);
	expect_unmapped(pt, 0x3000);
	expect_phys(pt, 0x5000, 0x5000);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x4000, SZ_4K, 2), 0);
	expect_phys(pt, 0x5000, 0x5000);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x5000, SZ_4K, 1), SZ_4K);
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 0x400000, 0, SZ_2M, 2, RW, &mapped), 0);
	assert_int_equal(map1(pt, 0xa00000, 0, SZ_2M, RW), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x400000, SZ_2M, 4), 2 * SZ_2M);
	expect_phys(pt, 0xa00000, 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0xa00000, SZ_2M, 1), SZ_2M);
	assert_int_equal(ap_pt_leaf_count(pt), 0);

	/* A 2M unmap over a table full of 4K leaves: all of it, and the table goes. */
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 0x40000000, 0x7000000, SZ_4K, 512, RW, &mapped), 0);
	assert_int_equal(mapped, SZ_2M);
	assert_int_equal(ap_pt_leaf_count(pt), 512);
	assert_int_equal(ap_pt_sizes_in_use(pt), SZ_4K);
	bytes = ap_pt_table_bytes(pt);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x40000000, SZ_2M, 1), SZ_2M);
	assert_int_equal(ap_pt_table_bytes(pt), bytes - SZ_4K);
	assert_int_equal(m->bytes_out, bytes - SZ_4K);
	assert_int_equal(ap_pt_leaf_count(pt), 0);
	assert_int_equal(ap_pt_sizes_in_use(pt), 0);
	expect_unmapped(pt, 0x40000000);

	/* A 1G unmap over mixed 2M and 4K leaves covering it all: L2 and L3 go. */
	bytes = ap_pt_table_bytes(pt);
	assert_int_equal(map_range(pt, SZ_2G, SZ_2G, SZ_1G - SZ_2M, RW, NULL), 0);
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 3 * SZ_1G - SZ_2M, 0, SZ_4K, 512, RW, &mapped), 0);
	assert_int_equal(ap_pt_leaf_count(pt), 511 + 512);
	assert_int_equal(ap_pt_sizes_in_use(pt), SZ_4K | SZ_2M);
	assert_int_equal(ap_pt_table_bytes(pt), bytes + 2 * SZ_4K);
	assert_int_equal(ap_pt_unmap_pages(pt, SZ_2G, SZ_1G, 1), SZ_1G);
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	assert_int_equal(ap_pt_leaf_count(pt), 0);

	/* A 2M unmap over a partly filled table: the leaves up to the hole. */
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 0x60000000, 0, SZ_4K, 10, RW, &mapped), 0);
	assert_int_equal(map1(pt, 0x60000000 + 20 * SZ_4K, 0, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x60000000, SZ_2M, 1), 10 * SZ_4K);
	assert_int_equal(ap_pt_leaf_count(pt), 1);
	expect_unmapped(pt, 0x60000000 + 9 * SZ_4K);
	expect_phys(pt, 0x60000000 + 20 * SZ_4K, 0);
	/* A table whose first slot is a hole unmaps nothing. */
	assert_int_equal(ap_pt_unmap_pages(pt, 0x60000000, SZ_2M, 1), 0);
	assert_int_equal(ap_pt_leaf_count(pt), 1);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x60000000 + 20 * SZ_4K, SZ_4K, 1), SZ_4K);

	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* ================================================================ 6. walks */

static void test_walk_hand_built(void **state)
{
	struct tmem *m = tmem_new();
	const uint64_t big = 1ull << 40; /* first PA beyond an OAS of 40 */
	const unsigned RD = AP_ACCESS_READ, WR = AP_ACCESS_WRITE, X = AP_ACCESS_EXEC,
		       PR = AP_ACCESS_PRIV;
	uint64_t l0 = hand_table(m, 4096), l1 = hand_table(m, 4096), l2 = hand_table(m, 4096),
		 l3 = hand_table(m, 4096);
	struct ap_pt_walk_cfg wc = { AP_PT_ARM_LPAE_S1, 12, 48, 40, l0 };
	struct ap_pt_walk_result res;

	(void)state;
	wr_desc(m, l0, 0, l1 | 3);
	wr_desc(m, l1, 0, l2 | 3);
	wr_desc(m, l2, 0, l3 | 3);
	wr_desc(m, l3, 1, 0x0000000080001e43ull); /* rw, unprivileged */
	wr_desc(m, l3, 3, 0x0000000080003a43ull); /* AF clear */
	wr_desc(m, l3, 4, 0x0000000080004ec3ull); /* read-only */
	wr_desc(m, l3, 5, 0x0000000080005e03ull); /* AP[1] clear: privileged only */
	wr_desc(m, l3, 6, 0x0000000080006e41ull); /* block type at L3 */
	wr_desc(m, l3, 7, big | 0xe43);           /* output beyond OAS */
	wr_desc(m, l3, 8, 0x0060000080008e43ull); /* UXN+PXN */
	wr_desc(m, l3, 9, 0x0000000080009e42ull); /* valid bit clear */
	wr_desc(m, l3, 10, 0x002000008000ae43ull); /* PXN only */
	wr_desc(m, l3, 11, 0x004000008000be43ull); /* UXN only */
	wr_desc(m, l2, 1, 0x0000000080200e41ull); /* 2M block */
	wr_desc(m, l2, 3, big | l3 | 3);          /* next table beyond OAS */
	wr_desc(m, l2, 4, 0x30000000ull | 3);     /* next table below the arena */
	wr_desc(m, l2, 5, (ARENA_BASE + ARENA_SIZE - SZ_2M) | 3); /* unallocated */
	wr_desc(m, l2, 6, 0x0000000080000002ull); /* reserved type 0b10 */
	wr_desc(m, l1, 1, 0x00000000c0000ec1ull); /* 1G block, read-only */
	wr_desc(m, l0, 1, 0x0000000000000e41ull); /* 512G block: not in a 4K L0 */

	assert_int_equal(ap_pt_start_level(&wc), 0);
	/* The good page, in detail. */
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x1123, RD, &res), 0);
	assert_int_equal(res.fault, AP_FAULT_NONE);
	assert_int_equal(res.pa, 0x80001123);
	assert_int_equal(res.level, 3);
	assert_int_equal(res.leaf.pte, 0x0000000080001e43ull);
	assert_int_equal(res.leaf.iova, 0x1000);
	assert_int_equal(res.leaf.size, SZ_4K);
	assert_int_equal(res.leaf.pa, 0x80001000);
	assert_int_equal(res.leaf.level, 3);
	assert_int_equal(res.leaf.prot, RW);
	walk_ok(&wc, m, 0x1fff, WR, 0x80001fff, 3);
	walk_ok(&wc, m, 0x1000, RD | WR, 0x80001000, 3);
	walk_ok(&wc, m, 0x1000, RD | PR, 0x80001000, 3);
	walk_ok(&wc, m, 0x1000, X, 0x80001000, 3);

	walk_fault(&wc, m, 0x2000, RD, AP_FAULT_TRANSLATION, 3);
	walk_fault(&wc, m, 0x3000, RD, AP_FAULT_ACCESS_FLAG, 3);
	walk_fault(&wc, m, 0x3000, RD | PR, AP_FAULT_ACCESS_FLAG, 3);
	walk_ok(&wc, m, 0x4010, RD, 0x80004010, 3);
	walk_fault(&wc, m, 0x4010, WR, AP_FAULT_PERMISSION, 3);
	walk_fault(&wc, m, 0x4010, RD | WR, AP_FAULT_PERMISSION, 3);
	walk_fault(&wc, m, 0x4010, WR | PR, AP_FAULT_PERMISSION, 3);
	walk_fault(&wc, m, 0x5000, RD, AP_FAULT_PERMISSION, 3);
	walk_fault(&wc, m, 0x5000, WR, AP_FAULT_PERMISSION, 3);
	walk_ok(&wc, m, 0x5008, RD | PR, 0x80005008, 3);
	walk_ok(&wc, m, 0x5008, WR | PR, 0x80005008, 3);
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x5000, PR, &res), 0);
	assert_int_equal(res.leaf.prot, RW | AP_PROT_PRIV);
	walk_fault(&wc, m, 0x6000, RD | PR, AP_FAULT_TRANSLATION, 3);
	walk_fault(&wc, m, 0x7000, RD | PR, AP_FAULT_ADDRESS_SIZE, 3);
	walk_ok(&wc, m, 0x8000, RD, 0x80008000, 3);
	walk_fault(&wc, m, 0x8000, X, AP_FAULT_PERMISSION, 3);
	walk_fault(&wc, m, 0x8000, X | PR, AP_FAULT_PERMISSION, 3);
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x8000, RD, &res), 0);
	assert_int_equal(res.leaf.prot, RW | AP_PROT_NOEXEC);
	walk_fault(&wc, m, 0x9000, RD | PR, AP_FAULT_TRANSLATION, 3);
	walk_ok(&wc, m, 0xa000, X, 0x8000a000, 3);
	walk_fault(&wc, m, 0xa000, X | PR, AP_FAULT_PERMISSION, 3);
	walk_fault(&wc, m, 0xb000, X, AP_FAULT_PERMISSION, 3);
	walk_ok(&wc, m, 0xb000, X | PR, 0x8000b000, 3);

	/* Level 2. */
	walk_ok(&wc, m, 0x201234, RD | WR, 0x80201234, 2);
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x3fffff, RD, &res), 0);
	assert_int_equal(res.leaf.iova, 0x200000);
	assert_int_equal(res.leaf.size, SZ_2M);
	walk_fault(&wc, m, 0x400000, RD, AP_FAULT_TRANSLATION, 2);
	walk_fault(&wc, m, 0x600000, RD, AP_FAULT_ADDRESS_SIZE, 2); /* the L2 descriptor holding it */
	walk_fault(&wc, m, 0x800000, RD, AP_FAULT_EXTERNAL, 3);
	walk_fault(&wc, m, 0xa00000, RD, AP_FAULT_EXTERNAL, 3);
	walk_fault(&wc, m, 0xc00000, RD, AP_FAULT_TRANSLATION, 2);
	/* Level 1. */
	walk_ok(&wc, m, SZ_1G + 0x12345, RD, 0xc0012345, 1);
	walk_fault(&wc, m, SZ_1G + 0x12345, WR, AP_FAULT_PERMISSION, 1);
	walk_fault(&wc, m, SZ_2G, RD, AP_FAULT_TRANSLATION, 1);
	/* Level 0: a block is not a thing there with a 4K granule. */
	walk_fault(&wc, m, 1ull << 39, RD | PR, AP_FAULT_TRANSLATION, 0);
	walk_fault(&wc, m, 2ull << 39, RD, AP_FAULT_TRANSLATION, 0);
	/* Input beyond IAS. */
	walk_fault(&wc, m, 1ull << 48, RD, AP_FAULT_ADDRESS_SIZE, -1);
	walk_fault(&wc, m, ~0ull, RD, AP_FAULT_ADDRESS_SIZE, -1);
	/* The same tables walked with a smaller IAS. */
	wc.ias = 40;
	walk_ok(&wc, m, 0x1000, RD, 0x80001000, 3);
	walk_fault(&wc, m, 1ull << 40, RD, AP_FAULT_ADDRESS_SIZE, -1);
	wc.ias = 48;

	/* A root beyond OAS, a root nobody backs. */
	wc.root = big;
	walk_fault(&wc, m, 0x1000, RD, AP_FAULT_ADDRESS_SIZE, 0);
	wc.root = 0x30000000;
	walk_fault(&wc, m, 0x1000, RD, AP_FAULT_EXTERNAL, 0);
	wc.root = l0;

	/* Unusable configurations. */
	wc.oas = 39;
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x1000, RD, &res), -EINVAL);
	wc.oas = 40;
	wc.granule_shift = 13;
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x1000, RD, &res), -EINVAL);
	wc.granule_shift = 12;
	wc.ias = 53;
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x1000, RD, &res), -EINVAL);
	wc.ias = 48;
	wc.format = (enum ap_pt_format)9;
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x1000, RD, &res), -EINVAL);
	wc.format = AP_PT_ARM_LPAE_S1;
	assert_int_equal(ap_pt_walk(&wc, NULL, 0x1000, RD, &res), -EINVAL);
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x1000, RD, NULL), -EINVAL);
	walk_ok(&wc, m, 0x1000, RD, 0x80001000, 3);

	tmem_free(m, tmem_map(m, l0, 4096), l0, 4096);
	tmem_free(m, tmem_map(m, l1, 4096), l1, 4096);
	tmem_free(m, tmem_map(m, l2, 4096), l2, 4096);
	tmem_free(m, tmem_map(m, l3, 4096), l3, 4096);
	/* Freed memory is unbacked: a stale root faults. */
	wc.root = l0;
	walk_fault(&wc, m, 0x1000, RD, AP_FAULT_EXTERNAL, 0);

	/* Stage 2, 4K, ias = oas = 40: a 2-page concatenated PGD at L1. */
	{
		uint64_t pgd = hand_table(m, 8192);
		struct ap_pt_walk_cfg s2 = { AP_PT_ARM_LPAE_S2, 12, 40, 40, pgd };

		assert_int_equal(ap_pt_start_level(&s2), 1);
		wr_desc(m, pgd, 513, 0x00000000c000077dull);  /* r, cache, 1G */
		wr_desc(m, pgd, 2, 0x00600001000007fdull);    /* rw, cache, XN */
		walk_ok(&s2, m, 513 * SZ_1G + 0x42, RD, 0xc0000042, 1);
		walk_ok(&s2, m, 513 * SZ_1G + 0x42, X, 0xc0000042, 1);
		walk_fault(&s2, m, 513 * SZ_1G, WR, AP_FAULT_PERMISSION, 1);
		walk_fault(&s2, m, 513 * SZ_1G, WR | PR, AP_FAULT_PERMISSION, 1);
		assert_int_equal(ap_pt_walk(&s2, &m->mem, 513 * SZ_1G, RD, &res), 0);
		assert_int_equal(res.leaf.prot, AP_PROT_READ | AP_PROT_CACHE);
		walk_ok(&s2, m, 2 * SZ_1G + 1, RD | WR, 0x100000001ull, 1);
		walk_fault(&s2, m, 2 * SZ_1G + 1, X, AP_FAULT_PERMISSION, 1);
		walk_fault(&s2, m, 0, RD, AP_FAULT_TRANSLATION, 1);
		walk_fault(&s2, m, 512 * SZ_1G, RD, AP_FAULT_TRANSLATION, 1);
		walk_fault(&s2, m, 1ull << 40, RD, AP_FAULT_ADDRESS_SIZE, -1);
		tmem_free(m, tmem_map(m, pgd, 8192), pgd, 8192);
	}
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* ================================================================ 7. smaller IAS */

static void test_walk_cfg_for_ias(void **state)
{
	static const uint64_t probes[] = {
		0, 0x1000, 0x3fff, 0x5fff, 0x6000, SZ_1G + 5, SZ_2G - 1, 0x80200000, 0x803fffff,
		0x80400000, 0xffffffffull, 0x100000000ull, 5 * SZ_1G, 5 * SZ_1G + 0xfff,
	};
	const size_t np = sizeof(probes) / sizeof(probes[0]);
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_4K);
	struct ap_pt_walk_cfg own, wc, wc2;
	uint64_t bytes, d;

	(void)state;
	ap_pt_get_walk_cfg(pt, &own);
	assert_int_equal(own.ias, 48);
	assert_int_equal(own.granule_shift, 12);
	bytes = ap_pt_table_bytes(pt);

	/* Level 0's index 0 is empty: the level-1 table is allocated. */
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 32, &wc), 0);
	assert_int_equal(wc.format, AP_PT_ARM_LPAE_S1);
	assert_int_equal(wc.ias, 32);
	assert_int_equal(wc.oas, 48);
	assert_int_equal(wc.granule_shift, 12);
	assert_int_equal(ap_pt_start_level(&wc), 1);
	assert_int_equal(ap_pt_table_bytes(pt), bytes + SZ_4K);
	assert_int_equal(m->bytes_out, bytes + SZ_4K);
	d = rd_desc(m, own.root, 0);
	assert_int_equal(d & ~desc_addr(d), 3);
	assert_int_equal(desc_addr(d), wc.root);
	/* Asking again allocates nothing. */
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 32, &wc2), 0);
	assert_int_equal(wc2.root, wc.root);
	assert_int_equal(ap_pt_table_bytes(pt), bytes + SZ_4K);

	/* The map code uses that table: mappings show through the 32-bit walk. */
	assert_int_equal(map_range(pt, 0x1000, 0x80001000, 0x5000, RW, NULL), 0);
	assert_int_equal(map1(pt, SZ_1G, 0x100000000ull, SZ_1G, RW), 0);
	assert_int_equal(map1(pt, 0x80200000, 0x7fe00000, SZ_2M, RW), 0);
	assert_int_equal(map1(pt, 5 * SZ_1G, 0x3000, SZ_4K, RW), 0);
	assert_int_equal(map1(pt, 0, 0, SZ_4K, AP_PROT_READ | AP_PROT_PRIV), 0);
	agree_below(pt, m, &wc, probes, np);
	expect_phys(pt, 5 * SZ_1G, 0x3000);

	/* ias not below the table's: its own configuration, ias clamped. */
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 48, &wc2), 0);
	assert_int_equal(wc2.root, own.root);
	assert_int_equal(wc2.ias, 48);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 52, &wc2), 0);
	assert_int_equal(wc2.root, own.root);
	assert_int_equal(wc2.ias, 48);
	/* Same start level: same root, smaller ias. */
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 40, &wc2), 0);
	assert_int_equal(wc2.root, own.root);
	assert_int_equal(wc2.ias, 40);
	assert_int_equal(ap_pt_start_level(&wc2), 0);
	agree_below(pt, m, &wc2, probes, np);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* A leaf on the path: -EINVAL, nothing allocated. */
	pt = mkpt(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_4K);
	assert_int_equal(map1(pt, 0, 0, SZ_1G, RW), 0);
	bytes = ap_pt_table_bytes(pt);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 30, &wc), -EINVAL);
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 32, &wc), 0);
	assert_int_equal(ap_pt_start_level(&wc), 1);
	agree_below(pt, m, &wc, probes, np);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* Three missing tables, all or nothing. */
	pt = mkpt(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_4K);
	bytes = ap_pt_table_bytes(pt);
	m->fail_in = 2;
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 21, &wc), -ENOMEM);
	m->fail_in = 0;
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	assert_int_equal(m->bytes_out, bytes);
	assert_int_equal(rd_desc(m, root_pa(pt), 0), 0);
	m->fail_in = 3;
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 21, &wc), -ENOMEM);
	m->fail_in = 0;
	assert_int_equal(m->bytes_out, bytes);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 21, &wc), 0);
	assert_int_equal(ap_pt_start_level(&wc), 3);
	assert_int_equal(ap_pt_table_bytes(pt), bytes + 3 * SZ_4K);
	assert_int_equal(map1(pt, 0x3000, 0x77000, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes + 3 * SZ_4K); /* no new table */
	walk_ok(&wc, m, 0x3004, AP_ACCESS_READ, 0x77004, 3);
	walk_fault(&wc, m, 0x200000, AP_ACCESS_READ, AP_FAULT_ADDRESS_SIZE, -1);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* Part of the path present: only the missing tail is allocated. */
	pt = mkpt(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_4K);
	assert_int_equal(map1(pt, SZ_1G + 0x1000, 0x1000, SZ_4K, RW), 0);
	bytes = ap_pt_table_bytes(pt);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 21, &wc), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes + 2 * SZ_4K);
	assert_int_equal(map1(pt, 0x1000, 0x5000, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes + 2 * SZ_4K);
	walk_ok(&wc, m, 0x1001, AP_ACCESS_READ, 0x5001, 3);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* Stage 2 with a concatenated root: same start level for ias 32. */
	pt = mkpt(m, AP_PT_ARM_LPAE_S2, 40, 40, BM_4K);
	ap_pt_get_walk_cfg(pt, &own);
	assert_int_equal(map1(pt, 0x80200000, 0x7fe00000, SZ_2M, RW), 0);
	assert_int_equal(map1(pt, 0x1000, 0x80001000, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 32, &wc), 0);
	assert_int_equal(wc.root, own.root);
	assert_int_equal(ap_pt_start_level(&wc), 1);
	agree_below(pt, m, &wc, probes, np);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* A concatenated root (16K stage 2, 48/48: two tables at level 1) is
	 * entered through its entry 0 by a 32-bit walker starting at level 2. */
	pt = mkpt(m, AP_PT_ARM_LPAE_S2, 48, 48, BM_16K);
	ap_pt_get_walk_cfg(pt, &own);
	assert_int_equal(ap_pt_start_level(&own), 1);
	assert_int_equal(map1(pt, 0x4000, 0x80004000, SZ_16K, RW), 0);
	assert_int_equal(map1(pt, 0x2000000, 0x82000000, SZ_32M, RW), 0);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 32, &wc), 0);
	assert_int_equal(ap_pt_start_level(&wc), 2);
	assert_int_equal(wc.root, desc_addr(rd_desc(m, own.root, 0)));
	walk_ok(&wc, m, 0x4008, AP_ACCESS_READ, 0x80004008, 3);
	walk_ok(&wc, m, 0x2000010, AP_ACCESS_WRITE, 0x82000010, 2);
	agree_below(pt, m, &wc, probes, np);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* ================================================================ 8. differential */

/* ias = oas = 40: the windows of ptmodel.h's rrun_windows() cross 2^39
 * (L0 / PGD page) and end at 2^40. */
#define R_IAS 40

static const unsigned rand_prots[] = {
	AP_PROT_READ | AP_PROT_WRITE,
	AP_PROT_READ,
	AP_PROT_WRITE | AP_PROT_CACHE,
	AP_PROT_READ | AP_PROT_NOEXEC | AP_PROT_PRIV,
	AP_PROT_READ | AP_PROT_WRITE | AP_PROT_MMIO | AP_PROT_NOEXEC,
};

static void probe(const struct ap_pt *pt, const struct model *md, uint64_t addr, unsigned op)
{
	const struct mleaf *l = model_find(md, addr);
	uint64_t pa = 0;
	bool got = ap_pt_iova_to_phys(pt, addr, &pa);

	if (l)
		EXPECT(got && pa == l->pa + (addr - l->iova),
		       "op %u: probe %llx: got %d pa %llx, model pa %llx", op, (ull)addr, got,
		       (ull)pa, (ull)(l->pa + (addr - l->iova)));
	else
		EXPECT(!got, "op %u: probe %llx: mapped to %llx, model says unmapped", op,
		       (ull)addr, (ull)pa);
}

static void run_random(enum ap_pt_format fmt, unsigned seed, unsigned nops)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, fmt, R_IAS, 40, BM_4K);
	struct rrun r = { .fmt = fmt, .ias = R_IAS, .oas = 40, .pa_span = 1ull << 39,
			  .prots = rand_prots,
			  .nprots = sizeof(rand_prots) / sizeof(rand_prots[0]) };
	struct model md = { 0 };
	struct leafvec lv = { 0 };
	struct rstats st = { 0 };
	unsigned op;

	rrun_windows(&r);
	rnd_seed(seed);
	for (op = 0; op < nops; op++) {
		uint64_t iova, end;
		unsigned k;

		random_map_unmap(&r, pt, &md, &st, op, &iova, &end);
		/* probes: around the op, and anywhere in the windows */
		probe(pt, &md, iova, op);
		probe(pt, &md, end - 1, op);
		probe(pt, &md, end, op);
		probe(pt, &md, iova + rnd_below(end - iova), op);
		for (k = 0; k < 4; k++)
			probe(pt, &md, pick_iova(&r, SZ_4K) + rnd_below(SZ_4K), op);
		probe(pt, &md, rnd() & ((1ull << R_IAS) - 1), op);
		st.probes += 9;
		check_counts(pt, &md, &st, op);
		if (op % 1000 == 999)
			full_compare(&r, pt, &md, m, &lv, op);
	}
	full_compare(&r, pt, &md, m, &lv, nops);
	rstats_report(ap_pt_format_name(fmt), nops, &st, m);
	teardown(pt, &md, m, &lv);
	free(md.v);
	free(lv.v);
	tmem_destroy(m);
}

/* A map transaction gives back the tables a failed multi-call map made, and
 * only those; outside one, tables stay as in Linux. */
static void test_map_transaction(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, AP_PT_ARM_LPAE_S1, 48, 48, BM_4K);
	uint64_t root_only = ap_pt_table_bytes(pt), kept, i;
	int err;

	(void)state;
	/* Empty tables left by earlier unmaps stay through a rollback. */
	assert_int_equal(map1(pt, 0x40000000, 0x1000, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x40000000, SZ_4K, 1), SZ_4K);
	kept = ap_pt_table_bytes(pt);
	assert_true(kept == root_only + 3 * SZ_4K);
	/* 3 MiB of 4K pages from 0x7fe00000 needs a new L3 below 2 GiB, then
	 * a new L2 and L3 above it: fail each of the three allocations. */
	for (i = 1; i <= 5; i++) {
		struct ap_pt_txn txn;
		uint64_t done = 0, iova = 0x7fe00000, left = 3 * SZ_2M / 2;

		ap_pt_txn_begin(pt, &txn);
		m->fail_in = (int)i;
		err = 0;
		while (left && !err) {
			uint64_t mapped = 0, count;
			uint64_t pg = ap_pt_pgsize(SZ_4K, iova, iova, left, &count);

			err = ap_pt_txn_map_pages(&txn, iova, iova, pg, count, RW, &mapped);
			iova += mapped;
			left -= mapped;
			done += mapped;
		}
		m->fail_in = 0;
		if (!err) {
			ap_pt_txn_end(&txn, false);
			assert_true(i > 3);
			assert_int_equal(ap_pt_unmap_pages(pt, 0x7fe00000, SZ_4K, 512) +
						 ap_pt_unmap_pages(pt, 0x80000000, SZ_4K, 256),
					 3 * SZ_2M / 2);
			assert_true(ap_pt_table_bytes(pt) > kept); /* kept, Linux-style */
			break;
		}
		assert_int_equal(err, -ENOMEM);
		while (done) {
			uint64_t count, pg = ap_pt_pgsize(SZ_4K, 0x7fe00000, 0x7fe00000, done, &count);
			uint64_t got = ap_pt_unmap_pages(pt, 0x7fe00000 + (3 * SZ_2M / 2 - left - done),
							 pg, count);

			assert_true(got > 0);
			done -= got;
		}
		ap_pt_txn_end(&txn, true);
		assert_int_equal(ap_pt_leaf_count(pt), 0);
		assert_int_equal(ap_pt_table_bytes(pt), kept);
		assert_int_equal(m->bytes_out, kept);
	}
	assert_true(i <= 5);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* A root handed to a smaller walker is pinned: no block replaces it and no
 * unmap frees it, or the walker would follow freed memory. */
static void test_walker_root_pinned(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, AP_PT_ARM_LPAE_S1, 52, 52, BM_64K | SZ_4T);
	struct ap_pt_walk_cfg wc;
	uint64_t mapped = 0, bytes;

	(void)state;
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 32, &wc), 0);
	assert_int_equal(ap_pt_start_level(&wc), 2);
	bytes = ap_pt_table_bytes(pt);
	/* The 4T block at level 1 would replace the (empty) root of wc. */
	assert_int_equal(ap_pt_map_pages(pt, 0, 0, SZ_4T, 1, RW, &mapped), -EEXIST);
	assert_int_equal(mapped, 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	/* Fill the whole span with 512M blocks, then unmap it as one 4T page:
	 * every leaf goes, the pinned table stays. */
	assert_int_equal(ap_pt_map_pages(pt, 0, 0, SZ_512M, 8192, RW, &mapped), 0);
	assert_int_equal(mapped, SZ_4T);
	walk_ok(&wc, m, 0x12345678, AP_ACCESS_READ, 0x12345678, 2);
	assert_int_equal(ap_pt_unmap_pages(pt, 0, SZ_4T, 1), SZ_4T);
	assert_int_equal(ap_pt_leaf_count(pt), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	walk_fault(&wc, m, 0x12345678, AP_ACCESS_READ, AP_FAULT_TRANSLATION, 2);
	assert_int_equal(map1(pt, SZ_512M, 0x80000000, SZ_512M, RW), 0);
	walk_ok(&wc, m, SZ_512M + 4, AP_ACCESS_READ, 0x80000004, 2);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* Map never follows a descriptor that is neither empty nor a table, and
 * checks every page's output address against OAS, not just the first. */
static void test_map_refuses_what_it_cannot_follow(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, AP_PT_ARM_LPAE_S1, 48, 40, BM_4K);
	uint64_t mapped = 0, bytes = ap_pt_table_bytes(pt);

	(void)state;
	wr_desc(m, root_pa(pt), 1, 0x0000000040000002ull); /* invalid, non-zero */
	assert_int_equal(ap_pt_map_pages(pt, 1ull << 39, 0x1000, SZ_4K, 1, RW, &mapped), -EEXIST);
	assert_int_equal(mapped, 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	wr_desc(m, root_pa(pt), 1, 0);
	assert_int_equal(ap_pt_map_pages(pt, 0, (1ull << 40) - SZ_4K, SZ_4K, 2, RW, &mapped),
			 -ERANGE);
	assert_int_equal(mapped, 0);
	assert_int_equal(ap_pt_leaf_count(pt), 0);
	assert_int_equal(ap_pt_map_pages(pt, 0, (1ull << 40) - SZ_8K, SZ_4K, 2, RW, &mapped), 0);
	assert_int_equal(mapped, SZ_8K);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

static void test_random_differential(void **state)
{
	unsigned seed = seed_from_env("APERTURE_PT_SEED", 20240611u);

	(void)state;
	printf("seed=%u (set APERTURE_PT_SEED to change)\n", seed);
	run_random(AP_PT_ARM_LPAE_S1, seed, 60000);
	/* Stage 2, ias = oas = 40: the 1G level is a concatenated PGD. */
	run_random(AP_PT_ARM_LPAE_S2, seed + 1, 40000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_descriptors),
		cmocka_unit_test(test_prot_table),
		cmocka_unit_test(test_lpa_fold),
		cmocka_unit_test(test_linux_selftest),
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_alloc_rules),
		cmocka_unit_test(test_pgsize),
		cmocka_unit_test(test_mixed),
		cmocka_unit_test(test_leaf_iteration),
		cmocka_unit_test(test_map_semantics),
		cmocka_unit_test(test_unmap_semantics),
		cmocka_unit_test(test_walk_hand_built),
		cmocka_unit_test(test_walk_cfg_for_ias),
		cmocka_unit_test(test_map_transaction),
		cmocka_unit_test(test_walker_root_pinned),
		cmocka_unit_test(test_map_refuses_what_it_cannot_follow),
		cmocka_unit_test(test_random_differential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
