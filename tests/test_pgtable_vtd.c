/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the page-table layer (include/aperture/pgtable.h), Intel VT-d
 * second-level tables (AP_PT_INTEL_VTD_SL).
 *
 * The tables live in the simulated physical memory of tmem.h, which
 * bump-allocates from the bottom while nothing has been freed, so that a
 * fresh arena gives a predictable physical address to every table (the root
 * first, at ARENA_BASE).
 *
 * Expected descriptor values are literals worked out by hand from the bit
 * table of shared/reference/pagetable-formats.md section 4.1 (R = bit 0,
 * W = bit 1, PS = bit 7, SNP = bit 11, address in bits 51:12; table entries
 * are address | R | W); none is computed by a formula that mirrors the code.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ptmodel.h"

#define VTD AP_PT_INTEL_VTD_SL

#define SZ_512G (1ull << 39)

#define BM_ALL (SZ_4K | SZ_2M | SZ_1G)

#define EXTRA (AP_PROT_CACHE | AP_PROT_NOEXEC | AP_PROT_MMIO | AP_PROT_PRIV)

/* ================================================================ 1. descriptors */

#define R AP_PROT_READ
#define W AP_PROT_WRITE
#define SNOOP true
static const struct {
	uint64_t iova, pa, size;
	unsigned prot;
	bool snoop;
	uint64_t pte;
	int level;
} golden[] = {
	/* 4K at 0x40001000: R 0x1, W 0x2, RW 0x3, SNP 0x800. */
	{ 0x40001000, 0x40001000, SZ_4K, R, false, 0x0000000040001001ull, 1 },
	{ 0x40001000, 0x40001000, SZ_4K, W, false, 0x0000000040001002ull, 1 },
	{ 0x40001000, 0x40001000, SZ_4K, R | W, false, 0x0000000040001003ull, 1 },
	{ 0x40001000, 0x40001000, SZ_4K, R, SNOOP, 0x0000000040001801ull, 1 },
	{ 0x40001000, 0x40001000, SZ_4K, W, SNOOP, 0x0000000040001802ull, 1 },
	{ 0x40001000, 0x40001000, SZ_4K, R | W, SNOOP, 0x0000000040001803ull, 1 },
	/* 2M at 0x80200000: PS 0x80 on top. */
	{ 0x80200000, 0x80200000, SZ_2M, R, false, 0x0000000080200081ull, 2 },
	{ 0x80200000, 0x80200000, SZ_2M, W, false, 0x0000000080200082ull, 2 },
	{ 0x80200000, 0x80200000, SZ_2M, R | W, false, 0x0000000080200083ull, 2 },
	{ 0x80200000, 0x80200000, SZ_2M, R, SNOOP, 0x0000000080200881ull, 2 },
	{ 0x80200000, 0x80200000, SZ_2M, W, SNOOP, 0x0000000080200882ull, 2 },
	{ 0x80200000, 0x80200000, SZ_2M, R | W, SNOOP, 0x0000000080200883ull, 2 },
	/* 1G at 0xc0000000. */
	{ 0xc0000000, 0xc0000000, SZ_1G, R, false, 0x00000000c0000081ull, 3 },
	{ 0xc0000000, 0xc0000000, SZ_1G, W, false, 0x00000000c0000082ull, 3 },
	{ 0xc0000000, 0xc0000000, SZ_1G, R | W, false, 0x00000000c0000083ull, 3 },
	{ 0xc0000000, 0xc0000000, SZ_1G, R, SNOOP, 0x00000000c0000881ull, 3 },
	{ 0xc0000000, 0xc0000000, SZ_1G, W, SNOOP, 0x00000000c0000882ull, 3 },
	{ 0xc0000000, 0xc0000000, SZ_1G, R | W, SNOOP, 0x00000000c0000883ull, 3 },
	/* CACHE, NOEXEC, MMIO, PRIV have no second-level bits: ignored. */
	{ 0x40001000, 0x40001000, SZ_4K, R | W | EXTRA, false, 0x0000000040001003ull, 1 },
	{ 0x40001000, 0x40001000, SZ_4K, W | AP_PROT_CACHE, false, 0x0000000040001002ull, 1 },
	{ 0x40001000, 0x40001000, SZ_4K, R | AP_PROT_NOEXEC, SNOOP, 0x0000000040001801ull, 1 },
	{ 0x80200000, 0x80200000, SZ_2M, R | AP_PROT_MMIO, false, 0x0000000080200081ull, 2 },
	{ 0xc0000000, 0xc0000000, SZ_1G, W | AP_PROT_PRIV, SNOOP, 0x00000000c0000882ull, 3 },
	/* The whole OA field, bits 51:12 (oas 52). */
	{ 0x5000, 0x000fedcba9876000ull, SZ_4K, R | W, false, 0x000fedcba9876003ull, 1 },
	{ 0x5000, 0x000fffffffffe000ull, SZ_4K, W, SNOOP, 0x000fffffffffe802ull, 1 },
	{ 0x40000000, 0x000fffffc0000000ull, SZ_1G, R, false, 0x000fffffc0000081ull, 3 },
	{ 0x200000, 0x000ffffffc000000ull, SZ_2M, R | W, SNOOP, 0x000ffffffc000883ull, 2 },
};
#undef R
#undef W
#undef SNOOP

static void test_golden_leaves(void **state)
{
	struct tmem *m = tmem_new();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
		struct ap_pt *pt = mkpt_full(m, VTD, 48, 52, BM_ALL, 0, true,
					     golden[i].snoop ? AP_PT_QUIRK_VTD_SNOOP : 0);
		unsigned want_prot = golden[i].prot & RW;
		struct ap_pt_leaf l;

		if (golden[i].snoop)
			want_prot |= AP_PROT_CACHE;
		assert_int_equal(map1(pt, golden[i].iova, golden[i].pa, golden[i].size,
				      golden[i].prot), 0);
		l = leaf_at(pt, golden[i].iova);
		EXPECT(l.pte == golden[i].pte, "case %zu (prot %#x size %llx snoop %d): pte %016llx, "
		       "want %016llx", i, golden[i].prot, (ull)golden[i].size, golden[i].snoop,
		       (ull)l.pte, (ull)golden[i].pte);
		EXPECT(l.level == golden[i].level && l.size == golden[i].size &&
			       l.iova == golden[i].iova && l.pa == golden[i].pa,
		       "case %zu: level %d size %llx iova %llx pa %llx", i, l.level, (ull)l.size,
		       (ull)l.iova, (ull)l.pa);
		EXPECT(l.prot == want_prot, "case %zu: prot %#x decodes as %#x, want %#x", i,
		       golden[i].prot, l.prot, want_prot);
		expect_phys(pt, golden[i].iova + golden[i].size - 1,
			    golden[i].pa + golden[i].size - 1);
		assert_int_equal(ap_pt_leaf_count(pt), 1);
		assert_int_equal(ap_pt_sizes_in_use(pt), golden[i].size);
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}
	tmem_destroy(m);
}

/*
 * Table entries, at predictable addresses: in a fresh arena the root is the
 * first page (0x40000000) and each table map allocates comes next.
 */
static void test_golden_tables(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt;

	(void)state;
	/* 3 levels: 0x40201000 is PDPE 1, PDE 1, PTE 1. */
	pt = mkpt(m, VTD, 39, 48, BM_ALL);
	assert_int_equal(root_pa(pt), 0x40000000ull);
	assert_int_equal(map1(pt, 0x40201000, 0x12345000, SZ_4K, RW), 0);
	assert_int_equal(rd_desc(m, 0x40000000, 1), 0x0000000040001003ull);
	assert_int_equal(rd_desc(m, 0x40001000, 1), 0x0000000040002003ull);
	assert_int_equal(rd_desc(m, 0x40002000, 1), 0x0000000012345003ull);
	assert_int_equal(rd_desc(m, 0x40000000, 0), 0);
	assert_int_equal(ap_pt_table_bytes(pt), 3 * SZ_4K);
	/* A 2M leaf in the same PDE table, PDE 2. */
	assert_int_equal(map1(pt, 0x40400000, 0x7fe00000, SZ_2M, AP_PROT_READ), 0);
	assert_int_equal(rd_desc(m, 0x40001000, 2), 0x000000007fe00081ull);
	/* A 1G leaf straight in the root. */
	assert_int_equal(map1(pt, 0x80000000, 0x100000000ull, SZ_1G, AP_PROT_WRITE), 0);
	assert_int_equal(rd_desc(m, 0x40000000, 2), 0x0000000100000082ull);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);

	/* 5 levels, snooping, non-coherent walk: tables are still addr | R | W. */
	m = tmem_new();
	{
		struct ap_pt_cfg cfg = { VTD, 57, 46, BM_ALL, 0, false, AP_PT_QUIRK_VTD_SNOOP };

		assert_int_equal(ap_pt_alloc(&cfg, &m->mem, &pt), 0);
	}
	assert_int_equal(root_pa(pt), 0x40000000ull);
	assert_int_equal(map1(pt, 0, 0x3000, SZ_4K, RW), 0);
	assert_int_equal(rd_desc(m, 0x40000000, 0), 0x0000000040001003ull);
	assert_int_equal(rd_desc(m, 0x40001000, 0), 0x0000000040002003ull);
	assert_int_equal(rd_desc(m, 0x40002000, 0), 0x0000000040003003ull);
	assert_int_equal(rd_desc(m, 0x40003000, 0), 0x0000000040004003ull);
	assert_int_equal(rd_desc(m, 0x40004000, 0), 0x0000000000003803ull);
	assert_int_equal(ap_pt_table_bytes(pt), 5 * SZ_4K);
	/* 2^56 + 2^47 + 1G + 2M + 4K: PML5E 256, PML4E 256, PDPE 1, PDE 1, PTE 1. */
	assert_int_equal(map1(pt, 0x0100800040201000ull, 0x2000, SZ_4K, AP_PROT_READ), 0);
	assert_int_equal(rd_desc(m, 0x40000000, 256), 0x0000000040005003ull);
	assert_int_equal(rd_desc(m, 0x40005000, 256), 0x0000000040006003ull);
	assert_int_equal(rd_desc(m, 0x40006000, 1), 0x0000000040007003ull);
	assert_int_equal(rd_desc(m, 0x40007000, 1), 0x0000000040008003ull);
	assert_int_equal(rd_desc(m, 0x40008000, 1), 0x0000000000002801ull);
	expect_phys(pt, 0x0100800040201fffull, 0x2fff);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* ================================================================ 2. geometry */

static void test_geometry(void **state)
{
	static const struct {
		unsigned ias;
		int root;
	} g[] = {
		{ 31, 3 }, { 35, 3 }, { 39, 3 }, { 40, 4 }, { 42, 4 }, { 48, 4 },
		{ 49, 5 }, { 52, 5 }, { 57, 5 },
	};
	struct tmem *m = tmem_new();
	struct ap_pt_cfg cfg;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		struct ap_pt *pt = mkpt(m, VTD, g[i].ias, 48, BM_ALL);
		struct ap_pt_walk_cfg wc;

		ap_pt_get_walk_cfg(pt, &wc);
		EXPECT(ap_pt_start_level(&wc) == g[i].root, "ias %u: root level %d, want %d",
		       g[i].ias, ap_pt_start_level(&wc), g[i].root);
		assert_int_equal(wc.format, VTD);
		assert_int_equal(wc.granule_shift, 12);
		assert_int_equal(wc.ias, g[i].ias);
		assert_int_equal(wc.oas, 48);
		assert_int_equal(wc.root & (SZ_4K - 1), 0);
		assert_int_equal(ap_pt_table_bytes(pt), SZ_4K); /* the root is one page */
		assert_int_equal(m->bytes_out, SZ_4K);
		ap_pt_get_cfg(pt, &cfg);
		assert_int_equal(cfg.ias, g[i].ias);
		assert_int_equal(cfg.oas, 48);
		assert_int_equal(cfg.pgsize_bitmap, BM_ALL);
		/* The last 4K page below 2^ias, and nothing at 2^ias. */
		assert_int_equal(map1(pt, (1ull << g[i].ias) - SZ_4K, 0x1000, SZ_4K, RW), 0);
		expect_phys(pt, (1ull << g[i].ias) - 1, 0x1fff);
		assert_int_equal(map1(pt, 1ull << g[i].ias, 0x1000, SZ_4K, RW), -ERANGE);
		assert_int_equal(ap_pt_table_bytes(pt), (uint64_t)(g[i].root) * SZ_4K);
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}

	/* Widths VT-d cannot take: 30 (2-level AGAW) and above 57. */
	assert_int_equal(try_alloc(m, VTD, 30, 48, BM_ALL, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, VTD, 58, 48, BM_ALL, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, VTD, 0, 48, BM_ALL, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, VTD, 64, 48, BM_ALL, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, VTD, 31, 48, BM_ALL, 0, 0), 0);
	assert_int_equal(try_alloc(m, VTD, 57, 48, BM_ALL, 0, 0), 0);
	/* OAS: 32..52. */
	assert_int_equal(try_alloc(m, VTD, 48, 31, BM_ALL, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, VTD, 48, 53, BM_ALL, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, VTD, 48, 32, BM_ALL, 0, 0), 0);
	assert_int_equal(try_alloc(m, VTD, 48, 39, BM_ALL, 0, 0), 0);
	assert_int_equal(try_alloc(m, VTD, 48, 52, BM_ALL, 0, 0), 0);

	/* Walker configurations on their own. */
	{
		struct ap_pt_walk_cfg wc = { VTD, 12, 39, 48, 0 };

		assert_int_equal(ap_pt_start_level(&wc), 3);
		wc.ias = 42;
		assert_int_equal(ap_pt_start_level(&wc), 4);
		wc.ias = 52;
		assert_int_equal(ap_pt_start_level(&wc), 5);
		wc.ias = 30;
		assert_int_equal(ap_pt_start_level(&wc), -1);
		wc.ias = 58;
		assert_int_equal(ap_pt_start_level(&wc), -1);
		wc.ias = 48;
		wc.granule_shift = 16;
		assert_int_equal(ap_pt_start_level(&wc), -1);
		wc.granule_shift = 12;
		wc.oas = 53;
		assert_int_equal(ap_pt_start_level(&wc), -1);
		wc.oas = 46;
		assert_int_equal(ap_pt_start_level(&wc), 4);
	}
	tmem_destroy(m);
}

static uint64_t restricted(struct tmem *m, uint64_t bitmap)
{
	struct ap_pt *pt = mkpt_full(m, VTD, 48, 48, bitmap, 0, true, 0);
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

	(void)state;
	/* Page sizes: {4K, 2M, 1G} kept, anything else masked off, 4K required. */
	assert_int_equal(restricted(m, ~0ull), BM_ALL);
	assert_int_equal(restricted(m, SZ_4K), SZ_4K);
	assert_int_equal(restricted(m, SZ_4K | SZ_2M), SZ_4K | SZ_2M);
	assert_int_equal(restricted(m, SZ_4K | SZ_1G), SZ_4K | SZ_1G);
	assert_int_equal(restricted(m, SZ_4K | SZ_64K | SZ_2M | (1ull << 39)), SZ_4K | SZ_2M);
	assert_int_equal(try_alloc(m, VTD, 48, 48, SZ_2M | SZ_1G, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, VTD, 48, 48, SZ_64K | SZ_2M, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, VTD, 48, 48, 0, 0, 0), -EINVAL);
	/* host_page_size does not matter: VT-d pages are always 4K. */
	assert_int_equal(try_alloc(m, VTD, 48, 48, BM_ALL, SZ_64K, 0), 0);
	assert_int_equal(try_alloc(m, VTD, 48, 48, BM_ALL, 0x3000, 0), 0);
	/* Quirks: only snooping. */
	assert_int_equal(try_alloc(m, VTD, 48, 48, BM_ALL, 0, AP_PT_QUIRK_VTD_SNOOP), 0);
	assert_int_equal(try_alloc(m, VTD, 48, 48, BM_ALL, 0, AP_PT_QUIRK_ARM_NS), -EINVAL);
	assert_int_equal(try_alloc(m, VTD, 48, 48, BM_ALL, 0, 1u << 9), -EINVAL);

	/* A 4K-only table refuses the superpage sizes. */
	pt = mkpt_full(m, VTD, 48, 48, SZ_4K, 0, true, 0);
	assert_int_equal(map1(pt, 0, 0, SZ_2M, RW), -EINVAL);
	assert_int_equal(map1(pt, 0, 0, SZ_1G, RW), -EINVAL);
	assert_int_equal(map1(pt, 0, 0, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0, SZ_2M, 1), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0, SZ_4K, 1), SZ_4K);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* Out of memory: for the handle, and for the root table. */
	m->fail_handle = true;
	assert_int_equal(try_alloc(m, VTD, 48, 48, BM_ALL, 0, 0), -ENOMEM);
	m->fail_handle = false;
	m->fail_in = 1;
	assert_int_equal(try_alloc(m, VTD, 48, 48, BM_ALL, 0, 0), -ENOMEM);
	m->fail_in = 0;
	assert_true(m->handle_allocs > 0);

	assert_string_equal(ap_pt_format_name(VTD), "intel-vtd-sl");
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* ================================================================ 3. Linux selftest */

/*
 * io-pgtable-arm's selftest (reference section 7.1) applied to VT-d: an empty
 * table translates nothing; each page size maps, refuses an overlapping map,
 * translates; unmaps with its size, remaps write-only; and the last largest
 * page below 2^ias maps and unmaps.  VT-d takes ias > oas, so that page goes
 * to the last page below 2^oas.
 */
static void selftest_one(struct tmem *m, unsigned ias, unsigned oas)
{
	struct ap_pt *pt = mkpt(m, VTD, ias, oas, BM_ALL);
	uint64_t iova, size, mapped, pa, last_pa;
	unsigned j;

	EXPECT(!ap_pt_iova_to_phys(pt, 42, &pa), "ias %u: empty table translates 42", ias);
	EXPECT(!ap_pt_iova_to_phys(pt, SZ_1G + 42, &pa), "empty table translates 1G+42");
	EXPECT(!ap_pt_iova_to_phys(pt, SZ_2G + 42, &pa), "empty table translates 2G+42");

	iova = 0;
	for (j = 12; j <= 30; j += 9) {
		int err;

		size = 1ull << j;
		mapped = 0;
		err = ap_pt_map_pages(pt, iova, iova, size, 1, RW | AP_PROT_NOEXEC | AP_PROT_CACHE,
				      &mapped);
		EXPECT(err == 0 && mapped == size, "ias %u oas %u: map %llx size %llx: %d", ias,
		       oas, (ull)iova, (ull)size, err);
		mapped = 0;
		err = ap_pt_map_pages(pt, iova, iova + size, size, 1,
				      AP_PROT_READ | AP_PROT_NOEXEC, &mapped);
		EXPECT(err == -EEXIST && mapped == 0, "ias %u oas %u: overlapping map %llx: %d",
		       ias, oas, (ull)iova, err);
		EXPECT(ap_pt_iova_to_phys(pt, iova + 42, &pa) && pa == iova + 42,
		       "ias %u oas %u: %llx+42 does not translate", ias, oas, (ull)iova);
		iova += SZ_1G;
	}
	assert_int_equal(ap_pt_leaf_count(pt), 3);
	assert_int_equal(ap_pt_sizes_in_use(pt), BM_ALL);

	iova = 0;
	for (j = 12; j <= 30; j += 9) {
		uint64_t got;
		int err;

		size = 1ull << j;
		got = ap_pt_unmap_pages(pt, iova, size, 1);
		EXPECT(got == size, "ias %u oas %u: unmap %llx size %llx -> %llx", ias, oas,
		       (ull)iova, (ull)size, (ull)got);
		EXPECT(!ap_pt_iova_to_phys(pt, iova + 42, &pa), "%llx+42 translates after unmap",
		       (ull)iova);
		mapped = 0;
		err = ap_pt_map_pages(pt, iova, iova, size, 1, AP_PROT_WRITE, &mapped);
		EXPECT(err == 0 && mapped == size, "ias %u oas %u: write-only remap %llx: %d", ias,
		       oas, (ull)iova, err);
		EXPECT(ap_pt_iova_to_phys(pt, iova + 42, &pa) && pa == iova + 42,
		       "write-only remap of %llx does not translate", (ull)iova);
		assert_int_equal(leaf_at(pt, iova).prot, AP_PROT_WRITE);
		iova += SZ_1G;
	}

	size = SZ_1G;
	iova = (1ull << ias) - size;
	last_pa = (1ull << oas) - size;
	mapped = 0;
	EXPECT(ap_pt_map_pages(pt, iova, last_pa, size, 1, RW, &mapped) == 0 && mapped == size,
	       "ias %u oas %u: map of the last page %llx failed", ias, oas, (ull)iova);
	expect_phys(pt, iova + size - 1, last_pa + size - 1);
	EXPECT(ap_pt_unmap_pages(pt, iova, size, 1) == size,
	       "ias %u oas %u: unmap of the last page %llx", ias, oas, (ull)iova);
	expect_unmapped(pt, iova);
	ap_pt_free(pt);
	tmem_assert_empty(m);
}

static void test_linux_selftest(void **state)
{
	static const unsigned ias[] = { 35, 39, 42, 48, 52, 57 };
	static const unsigned oas[] = { 36, 39, 46, 48, 52 };
	struct tmem *m = tmem_new();
	unsigned i, o;

	(void)state;
	for (i = 0; i < sizeof(ias) / sizeof(ias[0]); i++)
		for (o = 0; o < sizeof(oas) / sizeof(oas[0]); o++)
			selftest_one(m, ias[i], oas[o]);
	tmem_destroy(m);
}

/* ================================================================ 4. generic_pt KUnit */

/*
 * test_map_table_to_oa: fill a large page's span with small pages, unmap
 * them (half at once, then page by page) leaving an empty table, then map
 * the large page, which turns the empty table into a leaf.
 */
static void table_to_oa(struct tmem *m, unsigned ias, uint64_t small, uint64_t large,
			uint64_t iova)
{
	struct ap_pt *pt = mkpt(m, VTD, ias, 48, BM_ALL);
	uint64_t n = large / small, mapped = 0, bytes, k;
	struct ap_pt_leaf l;

	assert_int_equal(ap_pt_map_pages(pt, iova, 0x80000000ull, small, n, RW, &mapped), 0);
	assert_int_equal(mapped, large);
	assert_int_equal(ap_pt_leaf_count(pt), n);
	assert_int_equal(ap_pt_sizes_in_use(pt), small);
	for (k = 0; k < n; k += n / 7)
		expect_phys(pt, iova + k * small + 5, 0x80000000ull + k * small + 5);
	bytes = ap_pt_table_bytes(pt);
	/* A large map over the table's live leaves is refused. */
	assert_int_equal(map1(pt, iova, 0, large, RW), -EEXIST);
	assert_int_equal(ap_pt_unmap_pages(pt, iova, small, n / 2), large / 2);
	for (k = n / 2; k < n; k++)
		EXPECT(ap_pt_unmap_pages(pt, iova + k * small, small, 1) == small,
		       "unmap of small page %llu", (ull)k);
	assert_int_equal(ap_pt_leaf_count(pt), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes); /* the empty table stays */
	expect_unmapped(pt, iova);
	assert_int_equal(map1(pt, iova, 0xc0000000ull & ~(large - 1), large, RW), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes - SZ_4K);
	assert_int_equal(m->bytes_out, bytes - SZ_4K);
	l = leaf_at(pt, iova + large - 1);
	assert_int_equal(l.size, large);
	assert_int_equal(l.iova, iova);
	assert_int_equal(l.pte & 0x80, 0x80); /* PS */
	expect_phys(pt, iova + large - 1, (0xc0000000ull & ~(large - 1)) + large - 1);
	assert_int_equal(ap_pt_unmap_pages(pt, iova, large, 1), large);
	ap_pt_free(pt);
	tmem_assert_empty(m);
}

static void test_map_table_to_oa(void **state)
{
	static const unsigned widths[] = { 39, 48, 57 };
	struct tmem *m = tmem_new();
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		table_to_oa(m, widths[i], SZ_4K, SZ_2M, 0x40200000ull);
		table_to_oa(m, widths[i], SZ_2M, SZ_1G, 0x40000000ull);
		table_to_oa(m, widths[i], SZ_4K, SZ_2M, (1ull << widths[i]) - SZ_2M);
	}
	tmem_destroy(m);
}

/* test_mixed: 0x3fe400000..0x4c0600000 with 4K/2M/1G is 14x2M + 3x1G + 3x2M. */
static void test_mixed(void **state)
{
	static const unsigned widths[] = { 39, 48, 57 };
	const uint64_t start = 0x3fe400000ull, end = 0x4c0600000ull;
	struct tmem *m = tmem_new();
	struct leafvec lv = { 0 };
	size_t w;

	(void)state;
	for (w = 0; w < 3; w++) {
		struct ap_pt *pt = mkpt(m, VTD, widths[w], 48, BM_ALL);
		uint64_t iova = start;
		size_t i;

		assert_int_equal(map_range(pt, start, start, end - start, RW, NULL), 0);
		assert_int_equal(ap_pt_leaf_count(pt), 20);
		assert_int_equal(ap_pt_sizes_in_use(pt), SZ_2M | SZ_1G);
		collect(pt, 0, ~0ull, &lv);
		assert_int_equal(lv.n, 20);
		for (i = 0; i < lv.n; i++) {
			uint64_t want = (i < 14 || i >= 17) ? SZ_2M : SZ_1G;

			EXPECT(lv.v[i].iova == iova && lv.v[i].size == want && lv.v[i].pa == iova &&
				       lv.v[i].level == (want == SZ_2M ? 2 : 3) &&
				       lv.v[i].pte == (iova | 0x83),
			       "ias %u leaf %zu: iova %llx size %llx pa %llx level %d pte %llx",
			       widths[w], i, (ull)lv.v[i].iova, (ull)lv.v[i].size, (ull)lv.v[i].pa,
			       lv.v[i].level, (ull)lv.v[i].pte);
			iova += want;
		}
		assert_int_equal(iova, end);
		assert_int_equal(lv.v[0].pte, 0x00000003fe400083ull);
		assert_int_equal(lv.v[14].pte, 0x0000000400000083ull);
		assert_int_equal(lv.v[19].pte, 0x00000004c0400083ull);
		collect(pt, 0x400000000ull, 0x400000000ull + SZ_2G, &lv);
		assert_int_equal(lv.n, 3);
		collect(pt, 0x3fe5fffffull, 0x3fe600000ull, &lv);
		assert_int_equal(lv.n, 2);
		expect_phys(pt, start, start);
		expect_phys(pt, end - 1, end - 1);
		expect_unmapped(pt, start - 1);
		expect_unmapped(pt, end);
		/* Unmap as iommu_unmap would: the same split. */
		iova = start;
		while (iova < end) {
			uint64_t count, pg = ap_pt_pgsize(BM_ALL, iova, iova, end - iova, &count);
			uint64_t got = ap_pt_unmap_pages(pt, iova, pg, count);

			assert_true(got > 0);
			iova += got;
		}
		assert_int_equal(ap_pt_leaf_count(pt), 0);
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}
	free(lv.v);
	tmem_destroy(m);
}

/* ================================================================ 5. semantics */

static void test_map_semantics(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, VTD, 48, 48, BM_ALL);
	uint64_t mapped;

	(void)state;
	check_tree_map_rules(m, pt);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* OAS 39 refuses PA bit 39; a 35-bit width refuses 32G and clips runs of
	 * 1G pages at 2^35 (its root uses 32 of its 512 entries). */
	pt = mkpt(m, VTD, 35, 39, BM_ALL);
	assert_int_equal(map1(pt, 0, 1ull << 39, SZ_4K, RW), -ERANGE);
	assert_int_equal(map1(pt, 0, (1ull << 39) - SZ_4K, SZ_4K, RW), 0);
	assert_int_equal(map1(pt, 1ull << 35, 0, SZ_4K, RW), -ERANGE);
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 30 * SZ_1G, 0, SZ_1G, 5, RW, &mapped), 0);
	assert_int_equal(mapped, 2 * SZ_1G);
	expect_phys(pt, 32 * SZ_1G - 1, SZ_2G - 1);
	assert_int_equal(ap_pt_leaf_count(pt), 3);
	assert_int_equal(ap_pt_unmap_pages(pt, 30 * SZ_1G, SZ_1G, 5), 2 * SZ_1G);
	/* Root slot 3 holds a live leaf: a run over it writes nothing at all. */
	assert_int_equal(map1(pt, 3 * SZ_1G, 0, SZ_1G, RW), 0);
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, SZ_1G, SZ_1G, SZ_1G, 5, RW, &mapped), -EEXIST);
	assert_int_equal(mapped, 0);
	expect_unmapped(pt, SZ_1G);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

static void test_unmap_semantics(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, VTD, 39, 48, BM_ALL);
	uint64_t bytes, mapped;

	(void)state;
	/* Never split a superpage. */
	assert_int_equal(map1(pt, 0x200000, 0x80000000, SZ_2M, RW), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x201000, SZ_4K, 1), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x200000, SZ_4K, 1), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x200000, SZ_4K, 512), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0, SZ_1G, 1), 0); /* hole at 0 */
	assert_int_equal(ap_pt_leaf_count(pt), 1);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x200000, SZ_2M, 1), SZ_2M);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x200000, SZ_2M, 1), 0);
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
	assert_int_equal(ap_pt_unmap_pages(pt, 0x5000, SZ_4K, 1), SZ_4K);

	/* A 2M unmap over a table full of 4K leaves: all of it, and the table goes. */
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 0x40000000, 0x7000000, SZ_4K, 512, AP_PROT_WRITE,
					 &mapped), 0);
	assert_int_equal(ap_pt_leaf_count(pt), 512);
	bytes = ap_pt_table_bytes(pt);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x40000000, SZ_2M, 1), SZ_2M);
	assert_int_equal(ap_pt_table_bytes(pt), bytes - SZ_4K);
	assert_int_equal(m->bytes_out, bytes - SZ_4K);
	assert_int_equal(ap_pt_leaf_count(pt), 0);
	assert_int_equal(ap_pt_sizes_in_use(pt), 0);

	/* A 1G unmap over 2M and 4K leaves covering it all: PD and PT go. */
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
	expect_phys(pt, 0x60000000 + 20 * SZ_4K, 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x60000000, SZ_2M, 1), 0);
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
	uint64_t l4 = hand_table(m, SZ_4K), l3 = hand_table(m, SZ_4K), l2 = hand_table(m, SZ_4K), l1 = hand_table(m, SZ_4K);
	uint64_t l1b = hand_table(m, SZ_4K), l5 = hand_table(m, SZ_4K);
	struct ap_pt_walk_cfg wc = { VTD, 12, 48, 40, l4 };
	struct ap_pt_walk_result res;

	(void)state;
	wr_desc(m, l4, 0, l3 | 3);
	wr_desc(m, l3, 0, l2 | 3);
	wr_desc(m, l2, 0, l1 | 3);
	/* PTEs: iova = index * 4K */
	wr_desc(m, l1, 1, 0x0000000080001003ull);  /* rw */
	wr_desc(m, l1, 2, 0x0000000080002001ull);  /* read-only */
	wr_desc(m, l1, 3, 0x0000000080003002ull);  /* write-only */
	wr_desc(m, l1, 4, 0x0000000080004800ull);  /* SNP, neither R nor W: not present */
	wr_desc(m, l1, 5, 0x0000000080005083ull);  /* PS in a PTE: reserved */
	wr_desc(m, l1, 6, big | 0x3);              /* output beyond OAS */
	wr_desc(m, l1, 7, 0x0000000080007803ull);  /* rw, snoop */
	wr_desc(m, l1, 8, 0x0000000080008f7full);  /* every bit but PS below bit 12 */
	wr_desc(m, l1, 9, 0x8010000080009001ull);  /* bits 63 and 52: not address */
	/* PDEs: iova = index * 2M */
	wr_desc(m, l2, 1, 0x0000000080200083ull);  /* 2M rw */
	wr_desc(m, l2, 2, 0x0000000080400081ull);  /* 2M read-only */
	wr_desc(m, l2, 3, big | l1 | 3);           /* next table beyond OAS */
	wr_desc(m, l2, 4, 0x30000000ull | 3);      /* next table below the arena */
	wr_desc(m, l2, 5, (ARENA_BASE + ARENA_SIZE - SZ_2M) | 3); /* unallocated */
	wr_desc(m, l2, 6, l1b | 1);                /* table entry: read only */
	wr_desc(m, l2, 7, l1b | 2);                /* table entry: write only */
	wr_desc(m, l2, 8, 0x0000000080e00082ull);  /* 2M write-only */
	wr_desc(m, l2, 9, 0x0000000081200080ull);  /* PS alone: not present */
	wr_desc(m, l2, 10, big | 0x83);            /* 2M output beyond OAS */
	wr_desc(m, l1b, 0, 0x000000008000c003ull); /* rw */
	/* PDPEs: iova = index * 1G */
	wr_desc(m, l3, 1, 0x00000000c0000083ull);  /* 1G rw */
	wr_desc(m, l3, 2, 0x00000000c0000081ull);  /* 1G read-only */
	/* PML4Es: iova = index * 512G */
	wr_desc(m, l4, 1, 0x0000000000000083ull);  /* PS in a PML4E: reserved */
	wr_desc(m, l4, 3, l3 | 1);                 /* read-only 512G region */

	assert_int_equal(ap_pt_start_level(&wc), 4);
	/* The good page, in detail. */
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x1123, RD, &res), 0);
	assert_int_equal(res.fault, AP_FAULT_NONE);
	assert_int_equal(res.pa, 0x80001123);
	assert_int_equal(res.level, 1);
	assert_int_equal(res.leaf.pte, 0x0000000080001003ull);
	assert_int_equal(res.leaf.iova, 0x1000);
	assert_int_equal(res.leaf.size, SZ_4K);
	assert_int_equal(res.leaf.pa, 0x80001000);
	assert_int_equal(res.leaf.level, 1);
	assert_int_equal(res.leaf.prot, RW);
	walk_ok(&wc, m, 0x1fff, WR, 0x80001fff, 1);
	walk_ok(&wc, m, 0x1000, RD | WR, 0x80001000, 1);
	walk_ok(&wc, m, 0x1000, RD | WR | X | PR, 0x80001000, 1);
	walk_ok(&wc, m, 0x1000, 0, 0x80001000, 1);

	/* Read-only and write-only pages; exec and priv play no part. */
	walk_ok(&wc, m, 0x2010, RD, 0x80002010, 1);
	walk_ok(&wc, m, 0x2010, RD | X | PR, 0x80002010, 1);
	walk_fault(&wc, m, 0x2010, WR, AP_FAULT_PERMISSION, 1);
	walk_fault(&wc, m, 0x2010, RD | WR, AP_FAULT_PERMISSION, 1);
	walk_ok(&wc, m, 0x3010, WR, 0x80003010, 1);
	walk_ok(&wc, m, 0x3010, X, 0x80003010, 1);
	walk_ok(&wc, m, 0x3010, PR, 0x80003010, 1);
	walk_fault(&wc, m, 0x3010, RD, AP_FAULT_PERMISSION, 1);
	walk_fault(&wc, m, 0x3010, RD | PR, AP_FAULT_PERMISSION, 1);
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x3000, RD, &res), -EFAULT);
	assert_int_equal(res.leaf.prot, AP_PROT_WRITE); /* the leaf is reported */
	assert_int_equal(res.leaf.pte, 0x0000000080003002ull);

	walk_fault(&wc, m, 0x4000, PR, AP_FAULT_TRANSLATION, 1);
	walk_fault(&wc, m, 0x5000, PR, AP_FAULT_TRANSLATION, 1);
	walk_fault(&wc, m, 0x6000, PR, AP_FAULT_ADDRESS_SIZE, 1);
	walk_ok(&wc, m, 0x7000, RD | WR, 0x80007000, 1);
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x7000, RD, &res), 0);
	assert_int_equal(res.leaf.prot, RW | AP_PROT_CACHE);
	walk_ok(&wc, m, 0x8abc, RD | WR, 0x80008abc, 1);
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x8000, RD, &res), 0);
	assert_int_equal(res.leaf.prot, RW | AP_PROT_CACHE);
	walk_ok(&wc, m, 0x9abc, RD, 0x80009abc, 1);
	walk_fault(&wc, m, 0x9abc, WR, AP_FAULT_PERMISSION, 1);
	walk_fault(&wc, m, 0xa000, PR, AP_FAULT_TRANSLATION, 1);

	/* Level 2. */
	walk_ok(&wc, m, 0x201234, RD | WR, 0x80201234, 2);
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x3fffff, RD, &res), 0);
	assert_int_equal(res.leaf.iova, 0x200000);
	assert_int_equal(res.leaf.size, SZ_2M);
	assert_int_equal(res.leaf.pte, 0x0000000080200083ull);
	walk_ok(&wc, m, 0x400000, RD, 0x80400000, 2);
	walk_fault(&wc, m, 0x400000, WR, AP_FAULT_PERMISSION, 2);
	walk_fault(&wc, m, 0x600000, RD, AP_FAULT_ADDRESS_SIZE, 2); /* the PDE holding it */
	walk_fault(&wc, m, 0x800000, RD, AP_FAULT_EXTERNAL, 1);
	walk_fault(&wc, m, 0xa00000, RD, AP_FAULT_EXTERNAL, 1);
	/* R and W of a table entry govern all it maps. */
	walk_ok(&wc, m, 0xc00010, RD, 0x8000c010, 1);
	walk_fault(&wc, m, 0xc00010, WR, AP_FAULT_PERMISSION, 2);
	walk_fault(&wc, m, 0xc00010, RD | WR, AP_FAULT_PERMISSION, 2);
	walk_ok(&wc, m, 0xe00010, WR, 0x8000c010, 1);
	walk_fault(&wc, m, 0xe00010, RD, AP_FAULT_PERMISSION, 2);
	walk_fault(&wc, m, 0xc01000, PR, AP_FAULT_TRANSLATION, 1); /* PTE 1 is empty */
	walk_ok(&wc, m, 0x1000000, WR, 0x80e00000, 2);
	walk_fault(&wc, m, 0x1000000, RD, AP_FAULT_PERMISSION, 2);
	walk_fault(&wc, m, 0x1200000, PR, AP_FAULT_TRANSLATION, 2);
	walk_fault(&wc, m, 0x1400000, PR, AP_FAULT_ADDRESS_SIZE, 2);
	/* Level 3. */
	walk_ok(&wc, m, SZ_1G + 0x12345, RD | WR, 0xc0012345, 3);
	walk_ok(&wc, m, SZ_2G + 0x12345, RD, 0xc0012345, 3);
	walk_fault(&wc, m, SZ_2G, WR, AP_FAULT_PERMISSION, 3);
	walk_fault(&wc, m, 3 * SZ_1G, RD, AP_FAULT_TRANSLATION, 3);
	/* Level 4: PS reserved, empty, read-only region. */
	walk_fault(&wc, m, SZ_512G, PR, AP_FAULT_TRANSLATION, 4);
	walk_fault(&wc, m, 2 * SZ_512G, RD, AP_FAULT_TRANSLATION, 4);
	walk_ok(&wc, m, 3 * SZ_512G + SZ_1G + 8, RD, 0xc0000008, 3);
	walk_fault(&wc, m, 3 * SZ_512G + SZ_1G + 8, WR, AP_FAULT_PERMISSION, 4);
	walk_ok(&wc, m, 3 * SZ_512G + 0x1000, RD, 0x80001000, 1);
	/* Input beyond the width. */
	walk_fault(&wc, m, 1ull << 48, RD, AP_FAULT_ADDRESS_SIZE, 4);
	walk_fault(&wc, m, ~0ull, RD, AP_FAULT_ADDRESS_SIZE, 4);
	/* The same tables walked with a smaller width at the same depth. */
	wc.ias = 40;
	walk_ok(&wc, m, 0x1000, RD, 0x80001000, 1);
	walk_fault(&wc, m, 1ull << 40, RD, AP_FAULT_ADDRESS_SIZE, 4);
	/* 3 levels from the PDPT: a 1G page at the root. */
	wc.ias = 39;
	wc.root = l3;
	assert_int_equal(ap_pt_start_level(&wc), 3);
	walk_ok(&wc, m, 0x1000, RD, 0x80001000, 1);
	walk_ok(&wc, m, SZ_1G + 7, WR, 0xc0000007, 3);
	walk_fault(&wc, m, SZ_512G, RD, AP_FAULT_ADDRESS_SIZE, 3);
	/* 5 levels: PML5E 0 -> the same PML4; PS in a PML5E is reserved. */
	wr_desc(m, l5, 0, l4 | 3);
	wr_desc(m, l5, 1, 0x0000000000000083ull);
	wc.ias = 57;
	wc.root = l5;
	assert_int_equal(ap_pt_start_level(&wc), 5);
	walk_ok(&wc, m, 0x1000, RD, 0x80001000, 1);
	walk_ok(&wc, m, 0x201000, RD, 0x80201000, 2);
	walk_fault(&wc, m, 3 * SZ_512G + SZ_1G, WR, AP_FAULT_PERMISSION, 4);
	walk_fault(&wc, m, 1ull << 48, RD, AP_FAULT_TRANSLATION, 5);
	walk_fault(&wc, m, 2ull << 48, RD, AP_FAULT_TRANSLATION, 5);
	walk_fault(&wc, m, 1ull << 57, RD, AP_FAULT_ADDRESS_SIZE, 5);
	wc.ias = 48;
	wc.root = l4;

	/* A root beyond OAS, a root nobody backs. */
	wc.root = big;
	walk_fault(&wc, m, 0x1000, RD, AP_FAULT_ADDRESS_SIZE, 4);
	wc.root = 0x30000000;
	walk_fault(&wc, m, 0x1000, RD, AP_FAULT_EXTERNAL, 4);
	wc.root = l4;

	/* Unusable configurations. */
	wc.granule_shift = 16;
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x1000, RD, &res), -EINVAL);
	wc.granule_shift = 12;
	wc.ias = 30;
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x1000, RD, &res), -EINVAL);
	wc.ias = 58;
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x1000, RD, &res), -EINVAL);
	wc.ias = 48;
	wc.oas = 31;
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x1000, RD, &res), -EINVAL);
	wc.oas = 53;
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x1000, RD, &res), -EINVAL);
	wc.oas = 40;
	walk_ok(&wc, m, 0x1000, RD, 0x80001000, 1);

	hand_free(m, l5, SZ_4K);
	hand_free(m, l4, SZ_4K);
	hand_free(m, l3, SZ_4K);
	hand_free(m, l2, SZ_4K);
	hand_free(m, l1, SZ_4K);
	hand_free(m, l1b, SZ_4K);
	/* Freed memory is unbacked: a stale root faults. */
	walk_fault(&wc, m, 0x1000, RD, AP_FAULT_EXTERNAL, 4);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* ================================================================ 7. smaller widths */

static void test_walk_cfg_for_ias(void **state)
{
	static const uint64_t probes[] = {
		0, 0x1000, 0x3fff, 0x5fff, 0x6000, SZ_1G + 5, SZ_2G - 1, 0x80200000, 0x803fffff,
		0x80400000, 0xffffffffull, 0x100000000ull, 5 * SZ_1G, 5 * SZ_1G + 0xfff,
		SZ_512G - 1, SZ_512G, SZ_512G + 0x1000, (1ull << 48) - 1, 1ull << 48,
		(1ull << 48) + 0x2000,
	};
	const size_t np = sizeof(probes) / sizeof(probes[0]);
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, VTD, 57, 48, BM_ALL);
	struct ap_pt_walk_cfg own, w48, w39, again;
	uint64_t bytes;

	(void)state;
	ap_pt_get_walk_cfg(pt, &own);
	assert_int_equal(ap_pt_start_level(&own), 5);
	bytes = ap_pt_table_bytes(pt);

	/* 57 -> 48: PML5E 0 is empty, the PML4 table is allocated. */
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 48, &w48), 0);
	assert_int_equal(w48.format, VTD);
	assert_int_equal(w48.ias, 48);
	assert_int_equal(w48.oas, 48);
	assert_int_equal(w48.granule_shift, 12);
	assert_int_equal(ap_pt_start_level(&w48), 4);
	assert_int_equal(ap_pt_table_bytes(pt), bytes + SZ_4K);
	assert_int_equal(m->bytes_out, bytes + SZ_4K);
	assert_int_equal(rd_desc(m, own.root, 0), w48.root | 3);
	/* 48 -> 39: PML4E 0 of that table gets a PDPT. */
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 39, &w39), 0);
	assert_int_equal(ap_pt_start_level(&w39), 3);
	assert_int_equal(ap_pt_table_bytes(pt), bytes + 2 * SZ_4K);
	assert_int_equal(rd_desc(m, w48.root, 0), w39.root | 3);
	/* Asking again allocates nothing. */
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 48, &again), 0);
	assert_int_equal(again.root, w48.root);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 35, &again), 0);
	assert_int_equal(again.root, w39.root);
	assert_int_equal(again.ias, 35);
	assert_int_equal(ap_pt_table_bytes(pt), bytes + 2 * SZ_4K);
	/* Same depth: same root, smaller width. */
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 52, &again), 0);
	assert_int_equal(again.root, own.root);
	assert_int_equal(again.ias, 52);
	/* Not below the table's own: its configuration. */
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 57, &again), 0);
	assert_int_equal(again.root, own.root);
	assert_int_equal(again.ias, 57);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 64, &again), 0);
	assert_int_equal(again.ias, 57);
	/* No VT-d walker is narrower than 31 bits. */
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 30, &again), -EINVAL);

	/* The map code uses those tables: mappings show through every walker. */
	assert_int_equal(map_range(pt, 0x1000, 0x80001000, 0x5000, RW, NULL), 0);
	assert_int_equal(map1(pt, SZ_1G, 0x100000000ull, SZ_1G, AP_PROT_READ), 0);
	assert_int_equal(map1(pt, 0x80200000, 0x7fe00000, SZ_2M, RW), 0);
	assert_int_equal(map1(pt, 5 * SZ_1G, 0x3000, SZ_4K, AP_PROT_WRITE), 0);
	assert_int_equal(map1(pt, SZ_512G, 0x5000, SZ_4K, RW), 0);
	assert_int_equal(map1(pt, 1ull << 48, 0x6000, SZ_4K, RW), 0);
	/* 2 tables for the walkers, then PD+PT, none, PD, PD+PT, PDPT+PD+PT,
	 * PML4+PDPT+PD+PT. */
	assert_int_equal(ap_pt_table_bytes(pt), bytes + 14 * SZ_4K);
	agree_below(pt, m, &own, probes, np);
	agree_below(pt, m, &w48, probes, np);
	agree_below(pt, m, &w39, probes, np);
	walk_ok(&w39, m, SZ_1G + 5, AP_ACCESS_READ, 0x100000005ull, 3);
	walk_ok(&w48, m, SZ_512G + 5, AP_ACCESS_WRITE, 0x5005, 1);
	walk_fault(&w39, m, SZ_512G, AP_ACCESS_READ, AP_FAULT_ADDRESS_SIZE, 3);
	walk_ok(&own, m, (1ull << 48) + 5, AP_ACCESS_READ, 0x6005, 1);
	walk_fault(&w48, m, 1ull << 48, AP_ACCESS_READ, AP_FAULT_ADDRESS_SIZE, 4);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* Two missing tables, all or nothing. */
	pt = mkpt(m, VTD, 57, 48, BM_ALL);
	bytes = ap_pt_table_bytes(pt);
	m->fail_in = 2;
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 39, &w39), -ENOMEM);
	m->fail_in = 0;
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	assert_int_equal(m->bytes_out, bytes);
	assert_int_equal(rd_desc(m, root_pa(pt), 0), 0);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 39, &w39), 0);
	assert_int_equal(ap_pt_start_level(&w39), 3);
	assert_int_equal(ap_pt_table_bytes(pt), bytes + 2 * SZ_4K);
	assert_int_equal(map1(pt, 0x3000, 0x77000, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes + 4 * SZ_4K); /* PD and PT only */
	walk_ok(&w39, m, 0x3004, AP_ACCESS_READ, 0x77004, 1);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* Part of the path present: only the missing tail is allocated. */
	pt = mkpt(m, VTD, 57, 48, BM_ALL);
	assert_int_equal(map1(pt, SZ_512G + 0x1000, 0x1000, SZ_4K, RW), 0);
	bytes = ap_pt_table_bytes(pt);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 39, &w39), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes + SZ_4K);
	agree_below(pt, m, &w39, probes, np);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* Something not a table on the path (written by hand): -EINVAL. */
	pt = mkpt(m, VTD, 48, 48, BM_ALL);
	bytes = ap_pt_table_bytes(pt);
	wr_desc(m, root_pa(pt), 0, 0x0000000000000083ull);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 39, &w39), -EINVAL);
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	wr_desc(m, root_pa(pt), 0, 0);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* A map transaction gives back the tables a failed multi-call map made, and
 * only those; outside one, tables stay as in Linux. */
static void test_map_transaction(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, VTD, 48, 48, BM_ALL);
	uint64_t root_only = ap_pt_table_bytes(pt), kept, i;
	const uint64_t base = SZ_512G - SZ_2M, len = 3 * SZ_2M / 2;
	int err;

	(void)state;
	/* Empty tables left by earlier unmaps stay through a rollback. */
	assert_int_equal(map1(pt, 0x40000000, 0x1000, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 0x40000000, SZ_4K, 1), SZ_4K);
	kept = ap_pt_table_bytes(pt);
	assert_int_equal(kept, root_only + 3 * SZ_4K);
	/* 3 MiB of 4K pages from 512G - 2M: a PD and a PT below 512G (the
	 * PDPT is there), then a PDPT, PD and PT above it: fail each of the
	 * five allocations. */
	for (i = 1; i <= 8; i++) {
		struct ap_pt_txn txn;
		uint64_t done = 0, iova = base, left = len;

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
			assert_true(i > 5);
			assert_int_equal(ap_pt_unmap_pages(pt, base, SZ_4K, 512) +
						 ap_pt_unmap_pages(pt, SZ_512G, SZ_4K, 256),
					 len);
			assert_int_equal(ap_pt_table_bytes(pt), kept + 5 * SZ_4K);
			break;
		}
		assert_int_equal(err, -ENOMEM);
		while (done) {
			uint64_t count, pg = ap_pt_pgsize(SZ_4K, base, base, done, &count);
			uint64_t got = ap_pt_unmap_pages(pt, base + (len - left - done), pg, count);

			assert_true(got > 0);
			done -= got;
		}
		ap_pt_txn_end(&txn, true);
		assert_int_equal(ap_pt_leaf_count(pt), 0);
		assert_int_equal(ap_pt_table_bytes(pt), kept);
		assert_int_equal(m->bytes_out, kept);
	}
	assert_true(i == 6);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* ================================================================ 8. differential */

static const unsigned rand_prots[] = {
	AP_PROT_READ | AP_PROT_WRITE,
	AP_PROT_READ,
	AP_PROT_WRITE,
	AP_PROT_WRITE | AP_PROT_CACHE,
	AP_PROT_READ | AP_PROT_NOEXEC | AP_PROT_PRIV,
	AP_PROT_READ | AP_PROT_WRITE | AP_PROT_MMIO | AP_PROT_NOEXEC,
};

static const unsigned rand_access[] = {
	AP_ACCESS_READ, AP_ACCESS_WRITE, AP_ACCESS_READ | AP_ACCESS_WRITE, AP_ACCESS_PRIV,
	AP_ACCESS_READ | AP_ACCESS_EXEC | AP_ACCESS_PRIV, AP_ACCESS_WRITE | AP_ACCESS_PRIV,
};

/* A randomized run over a VT-d table of this width. */
static void vtd_rrun(struct rrun *r, unsigned ias, unsigned oas, bool snoop)
{
	*r = (struct rrun){ .fmt = VTD, .ias = ias, .oas = oas, .snoop = snoop,
			    .pa_span = 1ull << (oas < 40 ? oas : 40), .prots = rand_prots,
			    .nprots = sizeof(rand_prots) / sizeof(rand_prots[0]) };
	rrun_windows(r);
}

/*
 * One probe: iova_to_phys against the model, and a hardware walk with a
 * random access against both: the address when the leaf's R/W allow the
 * access, a permission fault at the leaf's level when they do not, a
 * translation fault where the model has nothing.
 */
static void probe(const struct rrun *r, const struct ap_pt *pt, const struct ap_pt_walk_cfg *wc,
		  struct tmem *m, const struct model *md, uint64_t addr, unsigned access,
		  unsigned op)
{
	const struct mleaf *l = model_find(md, addr);
	struct ap_pt_walk_result res;
	uint64_t pa = 0;
	bool got = ap_pt_iova_to_phys(pt, addr, &pa);
	int rc = ap_pt_walk(wc, &m->mem, addr, access, &res);

	if (l) {
		uint64_t want = l->pa + (addr - l->iova);
		bool allowed = !((access & AP_ACCESS_READ) && !(l->prot & AP_PROT_READ)) &&
			       !((access & AP_ACCESS_WRITE) && !(l->prot & AP_PROT_WRITE));

		EXPECT(got && pa == want, "op %u: probe %llx: got %d pa %llx, model pa %llx", op,
		       (ull)addr, got, (ull)pa, (ull)want);
		EXPECT(res.level == leaf_level(VTD, l->size) && res.leaf.iova == l->iova &&
			       res.leaf.size == l->size && res.leaf.pa == l->pa &&
			       res.leaf.prot == rrun_decoded(r, l->prot),
		       "op %u: walk %llx: level %d leaf %llx+%llx -> %llx prot %#x; model %llx+%llx "
		       "-> %llx prot %#x", op, (ull)addr, res.level, (ull)res.leaf.iova,
		       (ull)res.leaf.size, (ull)res.leaf.pa, res.leaf.prot, (ull)l->iova,
		       (ull)l->size, (ull)l->pa, l->prot);
		if (allowed)
			EXPECT(rc == 0 && res.pa == pa,
			       "op %u: walk %llx access %#x: rc %d (%s) pa %llx, iova_to_phys %llx", op,
			       (ull)addr, access, rc, ap_fault_kind_name(res.fault), (ull)res.pa,
			       (ull)pa);
		else
			EXPECT(rc == -EFAULT && res.fault == AP_FAULT_PERMISSION,
			       "op %u: walk %llx access %#x over prot %#x: rc %d (%s)", op, (ull)addr,
			       access, l->prot, rc, ap_fault_kind_name(res.fault));
	} else {
		EXPECT(!got, "op %u: probe %llx: mapped to %llx, model says unmapped", op,
		       (ull)addr, (ull)pa);
		EXPECT(rc == -EFAULT && res.fault == AP_FAULT_TRANSLATION,
		       "op %u: walk of unmapped %llx: rc %d (%s)", op, (ull)addr, rc,
		       ap_fault_kind_name(res.fault));
	}
}

static unsigned pick_access(void)
{
	return rand_access[rnd_below(sizeof(rand_access) / sizeof(rand_access[0]))];
}

/* One random op (ptmodel.h's map/unmap), then probes around it and across
 * the windows, each with a walk. */
static void random_op(const struct rrun *r, struct ap_pt *pt, const struct ap_pt_walk_cfg *wc,
		      struct tmem *m, struct model *md, struct rstats *st, unsigned op)
{
	uint64_t iova, end;
	unsigned k;

	random_map_unmap(r, pt, md, st, op, &iova, &end);
	probe(r, pt, wc, m, md, iova, pick_access(), op);
	probe(r, pt, wc, m, md, end - 1, pick_access(), op);
	if (end < (1ull << r->ias))
		probe(r, pt, wc, m, md, end, pick_access(), op);
	probe(r, pt, wc, m, md, iova + rnd_below(end - iova), pick_access(), op);
	for (k = 0; k < 4; k++)
		probe(r, pt, wc, m, md, pick_iova(r, SZ_4K) + rnd_below(SZ_4K), pick_access(), op);
	probe(r, pt, wc, m, md, rnd() & ((1ull << r->ias) - 1), pick_access(), op);
	st->probes += 9;
	/* Beyond the width: the walker refuses, iova_to_phys has nothing. */
	{
		struct ap_pt_walk_result res;
		uint64_t far = (1ull << r->ias) + (rnd() & ((1ull << r->ias) - 1));

		EXPECT(ap_pt_walk(wc, &m->mem, far, AP_ACCESS_READ, &res) == -EFAULT &&
			       res.fault == AP_FAULT_ADDRESS_SIZE,
		       "op %u: walk beyond ias of %llx: %s", op, (ull)far,
		       ap_fault_kind_name(res.fault));
		EXPECT(!ap_pt_iova_to_phys(pt, far, NULL), "op %u: %llx beyond ias translates", op,
		       (ull)far);
	}
	check_counts(pt, md, st, op);
}

static void run_random(unsigned ias, unsigned oas, bool snoop, unsigned seed, unsigned nops)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt_full(m, VTD, ias, oas, BM_ALL, 0, true,
				     snoop ? AP_PT_QUIRK_VTD_SNOOP : 0);
	struct ap_pt_walk_cfg wc;
	struct model md = { 0 };
	struct leafvec lv = { 0 };
	struct rstats st = { 0 };
	struct rrun r;
	char name[64];
	unsigned op;

	vtd_rrun(&r, ias, oas, snoop);
	ap_pt_get_walk_cfg(pt, &wc);
	rnd_seed(seed);
	for (op = 0; op < nops; op++) {
		random_op(&r, pt, &wc, m, &md, &st, op);
		if (op % 1000 == 999)
			full_compare(&r, pt, &md, m, &lv, op);
	}
	full_compare(&r, pt, &md, m, &lv, nops);
	snprintf(name, sizeof(name), "vtd ias %u oas %u%s", ias, oas, snoop ? " snoop" : "");
	rstats_report(name, nops, &st, m);
	teardown(pt, &md, m, &lv);
	free(md.v);
	free(lv.v);
	tmem_destroy(m);
}

static void test_random_differential(void **state)
{
	unsigned seed = seed_from_env("APERTURE_PT_SEED", 20240611u);

	(void)state;
	printf("seed=%u (set APERTURE_PT_SEED to change)\n", seed);
	run_random(39, 46, false, seed, 20000);     /* 3 levels, 1G pages in the root */
	run_random(48, 48, true, seed + 1, 20000);  /* 4 levels, snooping */
	run_random(57, 52, false, seed + 2, 15000); /* 5 levels */
	run_random(35, 39, false, seed + 3, 10000); /* a root using 32 of 512 entries */
}

/*
 * A populated table, then a million walks at random addresses and with
 * random accesses, each checked against the model.
 */
static void test_walk_million(void **state)
{
	const unsigned nprobes = 1000000;
	unsigned seed = seed_from_env("APERTURE_PT_SEED", 20240611u) + 100;
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, VTD, 48, 48, BM_ALL);
	struct ap_pt_walk_cfg wc;
	struct model md = { 0 };
	struct leafvec lv = { 0 };
	struct rstats st = { 0 };
	struct rrun r;
	unsigned op, i, hits = 0, perms = 0, holes = 0;

	(void)state;
	vtd_rrun(&r, 48, 48, false);
	ap_pt_get_walk_cfg(pt, &wc);
	rnd_seed(seed);
	for (op = 0; op < 3000; op++)
		random_op(&r, pt, &wc, m, &md, &st, op);
	full_compare(&r, pt, &md, m, &lv, op);
	assert_true(md.n > 1000);
	for (i = 0; i < nprobes; i++) {
		unsigned access = pick_access();
		uint64_t addr;
		const struct mleaf *l;

		if (i & 1) {
			/* inside a live leaf */
			l = &md.v[rnd_below(md.n)];
			addr = l->iova + rnd_below(l->size);
		} else {
			addr = pick_iova(&r, SZ_4K) + rnd_below(SZ_4K);
		}
		l = model_find(&md, addr);
		{
			struct ap_pt_walk_result res;
			int rc = ap_pt_walk(&wc, &m->mem, addr, access, &res);

			if (!l) {
				EXPECT(rc == -EFAULT && res.fault == AP_FAULT_TRANSLATION,
				       "probe %u: unmapped %llx: rc %d (%s)", i, (ull)addr, rc,
				       ap_fault_kind_name(res.fault));
				holes++;
			} else if (((access & AP_ACCESS_READ) && !(l->prot & AP_PROT_READ)) ||
				   ((access & AP_ACCESS_WRITE) && !(l->prot & AP_PROT_WRITE))) {
				EXPECT(rc == -EFAULT && res.fault == AP_FAULT_PERMISSION &&
					       res.level == leaf_level(VTD, l->size),
				       "probe %u: %llx access %#x over prot %#x: rc %d (%s) level %d", i,
				       (ull)addr, access, l->prot, rc, ap_fault_kind_name(res.fault),
				       res.level);
				perms++;
			} else {
				EXPECT(rc == 0 && res.pa == l->pa + (addr - l->iova) &&
					       res.level == leaf_level(VTD, l->size),
				       "probe %u: %llx access %#x: rc %d (%s) pa %llx level %d, model "
				       "%llx", i, (ull)addr, access, rc, ap_fault_kind_name(res.fault),
				       (ull)res.pa, res.level, (ull)(l->pa + (addr - l->iova)));
				hits++;
			}
		}
	}
	printf("vtd walk agreement: %u leaves, %u probes: %u translated, %u permission, "
	       "%u translation faults\n", (unsigned)md.n, nprobes, hits, perms, holes);
	assert_true(hits > nprobes / 4 && perms > nprobes / 20 && holes > nprobes / 20);
	teardown(pt, &md, m, &lv);
	free(md.v);
	free(lv.v);
	tmem_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_leaves),
		cmocka_unit_test(test_golden_tables),
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_alloc_rules),
		cmocka_unit_test(test_linux_selftest),
		cmocka_unit_test(test_map_table_to_oa),
		cmocka_unit_test(test_mixed),
		cmocka_unit_test(test_map_semantics),
		cmocka_unit_test(test_unmap_semantics),
		cmocka_unit_test(test_walk_hand_built),
		cmocka_unit_test(test_walk_cfg_for_ias),
		cmocka_unit_test(test_map_transaction),
		cmocka_unit_test(test_random_differential),
		cmocka_unit_test(test_walk_million),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
