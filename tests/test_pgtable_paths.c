/* SPDX-License-Identifier: MIT */
/*
 * The page-table layer's less travelled paths, through the public API
 * (include/aperture/pgtable.h): argument refusals of ap_pt_alloc, a memory
 * provider without a handle allocator, walker configurations no format can
 * walk, stage-2 permissions, a smaller walker that cannot enter a
 * concatenated root, the page-size chooser at the top of the address space,
 * and a transaction that cannot remember a displaced table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ptmodel.h"

#define S1 AP_PT_ARM_LPAE_S1
#define S2 AP_PT_ARM_LPAE_S2
#define VTD AP_PT_INTEL_VTD_SL

/* ------------------------------------------------------------ allocation */

static void test_alloc_argument_refusals(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt_cfg cfg = pt_cfg(S1, 48, 48, BM_4K, 0, true, 0);
	struct ap_pt_cfg bad = cfg;
	struct ap_pt_mem mem;
	struct ap_pt *const untouched = (struct ap_pt *)(uintptr_t)0x1234;
	struct ap_pt *pt = untouched;

	(void)state;
	assert_int_equal(ap_pt_alloc(NULL, &m->mem, &pt), -EINVAL);
	assert_int_equal(ap_pt_alloc(&cfg, &m->mem, NULL), -EINVAL);
	assert_int_equal(ap_pt_alloc(&cfg, NULL, &pt), -EINVAL);
	mem = m->mem;
	mem.alloc = NULL;
	assert_int_equal(ap_pt_alloc(&cfg, &mem, &pt), -EINVAL);
	mem = m->mem;
	mem.free = NULL;
	assert_int_equal(ap_pt_alloc(&cfg, &mem, &pt), -EINVAL);
	mem = m->mem;
	mem.map = NULL;
	assert_int_equal(ap_pt_alloc(&cfg, &mem, &pt), -EINVAL);
	bad.format = (enum ap_pt_format)0;
	assert_int_equal(ap_pt_alloc(&bad, &m->mem, &pt), -EOPNOTSUPP);
	bad.format = (enum ap_pt_format)9;
	assert_int_equal(ap_pt_alloc(&bad, &m->mem, &pt), -EOPNOTSUPP);
	assert_ptr_equal(pt, untouched);
	/* Refused before anything was allocated. */
	assert_int_equal(m->allocs, 0);
	assert_int_equal(m->handle_allocs, 0);

	/* Host page sizes that are no page size, and quirks of another format. */
	assert_int_equal(try_alloc(m, S1, 48, 48, BM_4K, 2048, 0), -EINVAL);
	assert_int_equal(try_alloc(m, S1, 48, 48, BM_4K, 12288, 0), -EINVAL);
	assert_int_equal(try_alloc(m, S2, 48, 48, BM_4K, 0, AP_PT_QUIRK_ARM_NS), -EINVAL);
	assert_int_equal(try_alloc(m, S1, 48, 48, BM_4K, 0, AP_PT_QUIRK_VTD_SNOOP), -EINVAL);
	assert_int_equal(try_alloc(m, S1, 53, 48, BM_4K, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, S1, 48, 53, BM_4K, 0, 0), -EINVAL);
	assert_int_equal(try_alloc(m, S1, 48, 48, BM_4K, 0, AP_PT_QUIRK_ARM_NS), 0);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* Without zalloc/release the handle and the transaction log come from the
 * C heap, and the provider sees only table memory. */
static void test_default_handle_allocator(void **state)
{
	struct ap_pt_txn txn;
	struct tmem *m = tmem_new();
	struct ap_pt_cfg cfg = pt_cfg(S1, 48, 48, BM_4K, 0, true, 0);
	struct ap_pt_mem mem = m->mem;
	struct ap_pt *pt = NULL;

	(void)state;
	mem.zalloc = NULL;
	mem.release = NULL;
	assert_int_equal(ap_pt_alloc(&cfg, &mem, &pt), 0);
	ap_pt_txn_begin(pt, &txn);
	assert_int_equal(txn_map1(&txn, 1ull << 39, 0x80000000, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, 1ull << 39, SZ_4K, 1), SZ_4K);
	ap_pt_txn_end(&txn, true); /* the three new tables go again */
	assert_int_equal(ap_pt_table_bytes(pt), SZ_4K);
	assert_int_equal(m->allocs - m->frees, 1);
	assert_int_equal(map1(pt, 0, 0, SZ_2M, RW), 0);
	expect_phys(pt, 0x1234, 0x1234);
	ap_pt_free(pt);
	assert_int_equal(m->handle_allocs, 0);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* map_pages' *mapped is optional. */
static void test_map_pages_without_mapped(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, VTD, 48, 48, BM_4K);

	(void)state;
	assert_int_equal(ap_pt_map_pages(pt, 0x200000, 0x400000, SZ_4K, 3, RW, NULL), 0);
	expect_phys(pt, 0x202abc, 0x402abc);
	assert_int_equal(ap_pt_leaf_count(pt), 3);
	assert_int_equal(ap_pt_map_pages(pt, 0x201000, 0, SZ_4K, 1, RW, NULL), -EEXIST);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* ------------------------------------------------------------ walker configs */

static struct ap_pt_walk_cfg wcfg(enum ap_pt_format fmt, unsigned shift, unsigned ias,
				  unsigned oas)
{
	struct ap_pt_walk_cfg wc = {
		.format = fmt, .granule_shift = shift, .ias = ias, .oas = oas, .root = ARENA_BASE,
	};

	return wc;
}

/* No start level, no registers, no walk. */
static void expect_unwalkable(struct tmem *m, struct ap_pt_walk_cfg wc)
{
	struct ap_pt_regs r;
	struct ap_pt_walk_result res;

	EXPECT(ap_pt_start_level(&wc) == -1, "%s granule %u ias %u oas %u: start level %d",
	       ap_pt_format_name(wc.format), wc.granule_shift, wc.ias, wc.oas,
	       ap_pt_start_level(&wc));
	assert_int_equal(ap_pt_get_regs(&wc, true, &r), -EINVAL);
	assert_int_equal(ap_pt_walk(&wc, &m->mem, 0, AP_ACCESS_READ, &res), -EINVAL);
}

static void test_unwalkable_configs(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt_walk_cfg good = wcfg(S1, 12, 48, 48);
	struct ap_pt_mem nomap = m->mem;
	struct ap_pt_walk_result res;
	struct ap_pt_regs r;

	(void)state;
	assert_int_equal(ap_pt_start_level(NULL), -1);
	assert_int_equal(ap_pt_get_regs(NULL, true, &r), -EINVAL);
	assert_int_equal(ap_pt_get_regs(&good, true, NULL), -EINVAL);
	assert_int_equal(ap_pt_walk(NULL, &m->mem, 0, AP_ACCESS_READ, &res), -EINVAL);
	assert_int_equal(ap_pt_walk(&good, NULL, 0, AP_ACCESS_READ, &res), -EINVAL);
	assert_int_equal(ap_pt_walk(&good, &m->mem, 0, AP_ACCESS_READ, NULL), -EINVAL);
	nomap.map = NULL;
	assert_int_equal(ap_pt_walk(&good, &nomap, 0, AP_ACCESS_READ, &res), -EINVAL);

	expect_unwalkable(m, wcfg((enum ap_pt_format)0, 12, 48, 48));
	expect_unwalkable(m, wcfg(S1, 13, 48, 48));  /* no such granule */
	expect_unwalkable(m, wcfg(S1, 12, 53, 48));  /* beyond 52 bits */
	expect_unwalkable(m, wcfg(S2, 16, 48, 53));
	expect_unwalkable(m, wcfg(S1, 16, 16, 48));  /* no level left to index */
	expect_unwalkable(m, wcfg(S1, 12, 12, 48));
	expect_unwalkable(m, wcfg(S1, 12, 52, 48));  /* 4K needs a fifth level for 52 */
	expect_unwalkable(m, wcfg(VTD, 12, 30, 48)); /* no VT-d depth walks 30 bits */
	expect_unwalkable(m, wcfg(VTD, 12, 64, 48));
	expect_unwalkable(m, wcfg(VTD, 16, 48, 48));

	/* And the edges that are walkable. */
	assert_int_equal(ap_pt_start_level(&good), 0);
	good.ias = 52;
	good.granule_shift = 16;
	assert_int_equal(ap_pt_start_level(&good), 1);
	tmem_destroy(m);
}

/* ------------------------------------------------------------ stage 2 */

/* Stage-2 leaves carry S2AP read and write separately: a write-only
 * mapping refuses reads, a read-only one writes, XN refuses fetches. */
static void test_s2_permissions(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, S2, 48, 48, BM_4K);
	struct ap_pt_walk_cfg wc;

	(void)state;
	ap_pt_get_walk_cfg(pt, &wc);
	assert_int_equal(map1(pt, 0x1000, 0x11000, SZ_4K, AP_PROT_READ), 0);
	assert_int_equal(map1(pt, 0x2000, 0x12000, SZ_4K, AP_PROT_WRITE), 0);
	assert_int_equal(map1(pt, 0x3000, 0x13000, SZ_4K, RW | AP_PROT_NOEXEC), 0);
	assert_int_equal(map1(pt, 0x4000, 0x14000, SZ_4K, RW), 0);

	walk_ok(&wc, m, 0x1008, AP_ACCESS_READ, 0x11008, 3);
	walk_fault(&wc, m, 0x1008, AP_ACCESS_WRITE, AP_FAULT_PERMISSION, 3);
	walk_fault(&wc, m, 0x2008, AP_ACCESS_READ, AP_FAULT_PERMISSION, 3);
	walk_ok(&wc, m, 0x2008, AP_ACCESS_WRITE, 0x12008, 3);
	walk_fault(&wc, m, 0x3000, AP_ACCESS_READ | AP_ACCESS_EXEC, AP_FAULT_PERMISSION, 3);
	walk_ok(&wc, m, 0x3000, AP_ACCESS_READ | AP_ACCESS_WRITE, 0x13000, 3);
	walk_ok(&wc, m, 0x4000, AP_ACCESS_READ | AP_ACCESS_EXEC, 0x14000, 3);
	/* Stage 2 has no privilege check. */
	walk_ok(&wc, m, 0x4000, AP_ACCESS_WRITE | AP_ACCESS_PRIV, 0x14000, 3);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/*
 * Stage 2, 16K granule, 48-bit input, 40-bit output: Arm requires a
 * concatenated root (R_DXBSH), so index 0 of it is one of those tables and
 * no smaller walker can take it as a root of its own.  The refusal
 * allocates nothing.  A request at or above the table's size is its own
 * configuration.
 */
static void test_walk_cfg_concatenated_root(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, S2, 48, 40, BM_16K);
	struct ap_pt_walk_cfg own, out;
	uint64_t allocs, bytes;

	(void)state;
	assert_int_equal(map1(pt, 0, 0x80000000, SZ_16K, RW), 0);
	ap_pt_get_walk_cfg(pt, &own);
	allocs = m->allocs;
	bytes = ap_pt_table_bytes(pt);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 44, &out), -EINVAL);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 37, &out), -EINVAL);
	assert_int_equal(m->allocs, allocs);
	assert_int_equal(ap_pt_table_bytes(pt), bytes);

	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 52, &out), 0);
	assert_int_equal(out.ias, 48);
	assert_int_equal(out.root, own.root);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 48, &out), 0);
	assert_memory_equal(&out, &own, sizeof(out));
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* ------------------------------------------------------------ page sizes */

/*
 * iommu_pgsize() stops a run where the next larger size could take over;
 * when that boundary lies at 2^64 it does not exist, and the whole size
 * goes in the small pages.
 */
static void test_pgsize_boundary_at_2_64(void **state)
{
	uint64_t count = 0;
	const uint64_t huge = 1ull << 63;

	(void)state;
	assert_int_equal(ap_pt_pgsize(SZ_4K | huge, 0, 0, huge - SZ_4K, &count), SZ_4K);
	assert_int_equal(count, (huge - SZ_4K) / SZ_4K);
	/* Below 2^64 the boundary holds: 4K pages up to 2^63, then 2^63. */
	assert_int_equal(ap_pt_pgsize(SZ_4K | huge, SZ_4K, SZ_4K, 0ull - SZ_4K, &count), SZ_4K);
	assert_int_equal(count, (huge - SZ_4K) / SZ_4K);
	/* Nothing fits, nothing to map. */
	assert_int_equal(ap_pt_pgsize(SZ_2M, 0, 0, SZ_4K, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(ap_pt_pgsize(BM_4K, 0, 0, 0, &count), 0);
	assert_int_equal(count, 0);
}

/* ------------------------------------------------------------ transactions */

/*
 * A 2M block over an empty leaf table displaces it.  Inside a transaction
 * the table is remembered for a rollback; when remembering it needs memory
 * that is not there, the table is freed at once and the map still
 * succeeds (an empty table holds nothing to restore).
 */
static void test_txn_displace_without_memory(void **state)
{
	struct ap_pt_txn txn;
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, S1, 48, 48, BM_4K);
	uint64_t bytes, frees;

	(void)state;
	assert_int_equal(map1(pt, SZ_2M + SZ_4K, 0x100000, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, SZ_2M + SZ_4K, SZ_4K, 1), SZ_4K);
	bytes = ap_pt_table_bytes(pt);
	assert_int_equal(bytes, 4 * SZ_4K); /* the empty leaf table stays */

	ap_pt_txn_begin(pt, &txn);
	m->fail_handle = true;
	frees = m->frees;
	assert_int_equal(txn_map1(&txn, SZ_2M, 0x400000, SZ_2M, RW), 0);
	assert_int_equal(m->frees, frees + 1);
	assert_int_equal(ap_pt_table_bytes(pt), bytes - SZ_4K);
	expect_phys(pt, SZ_2M + 0x1234, 0x401234);
	assert_int_equal(leaf_at(pt, SZ_2M).size, SZ_2M);
	assert_int_equal(ap_pt_unmap_pages(pt, SZ_2M, SZ_2M, 1), SZ_2M);
	m->fail_handle = false;
	ap_pt_txn_end(&txn, true);
	/* Nothing to put back: the table went with the failed note. */
	assert_int_equal(ap_pt_table_bytes(pt), bytes - SZ_4K);
	assert_int_equal(ap_pt_leaf_count(pt), 0);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/*
 * A 4T block is a level-1 leaf of a 64K-granule table, which only a walker
 * with a 52-bit output size takes; at 48 bits that descriptor is reserved
 * and the walk faults as translation (Arm: no level-1 block without LPA).
 */
static void test_64k_level1_block(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, S1, 52, 52, SZ_64K | SZ_512M | SZ_4T);
	struct ap_pt_walk_cfg wc;

	(void)state;
	assert_int_equal(map1(pt, 0, SZ_4T, SZ_4T, RW), 0);
	assert_int_equal(leaf_at(pt, 0x12345).level, 1);
	ap_pt_get_walk_cfg(pt, &wc);
	walk_ok(&wc, m, 0x12345, AP_ACCESS_READ, SZ_4T + 0x12345, 1);
	wc.oas = 48;
	walk_fault(&wc, m, 0x12345, AP_ACCESS_READ, AP_FAULT_TRANSLATION, 1);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* A rollback frees only the new tables that hold no leaf: what the
 * caller left mapped keeps its tables. */
static void test_txn_rollback_keeps_live_tables(void **state)
{
	struct ap_pt_txn txn;
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, S1, 48, 48, BM_4K);
	const uint64_t a = 1ull << 39, b = (1ull << 39) + SZ_2M;

	(void)state;
	ap_pt_txn_begin(pt, &txn);
	assert_int_equal(txn_map1(&txn, a, 0x100000, SZ_4K, RW), 0);  /* L1, L2, L3 tables */
	assert_int_equal(txn_map1(&txn, b, 0x200000, SZ_4K, RW), 0);  /* one more L3 table */
	assert_int_equal(ap_pt_table_bytes(pt), 5 * SZ_4K);
	assert_int_equal(ap_pt_unmap_pages(pt, b, SZ_4K, 1), SZ_4K);
	ap_pt_txn_end(&txn, true);
	assert_int_equal(ap_pt_table_bytes(pt), 4 * SZ_4K);
	expect_phys(pt, a + 0x10, 0x100010);
	expect_unmapped(pt, b);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* A table displaced by a block the caller did not unmap before a rollback
 * has no slot to go back to: it is freed, and the block stays. */
static void test_txn_rollback_block_stays(void **state)
{
	struct ap_pt_txn txn;
	struct tmem *m = tmem_new();
	struct ap_pt *pt = mkpt(m, S1, 48, 48, BM_4K);
	uint64_t bytes;

	(void)state;
	assert_int_equal(map1(pt, SZ_2M, 0x100000, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_unmap_pages(pt, SZ_2M, SZ_4K, 1), SZ_4K);
	bytes = ap_pt_table_bytes(pt);
	ap_pt_txn_begin(pt, &txn);
	assert_int_equal(txn_map1(&txn, SZ_2M, 0x400000, SZ_2M, RW), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes); /* kept for a rollback */
	ap_pt_txn_end(&txn, true);
	assert_int_equal(ap_pt_table_bytes(pt), bytes - SZ_4K);
	assert_int_equal(leaf_at(pt, SZ_2M).size, SZ_2M);
	expect_phys(pt, SZ_2M + 8, 0x400008);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_argument_refusals),
		cmocka_unit_test(test_default_handle_allocator),
		cmocka_unit_test(test_map_pages_without_mapped),
		cmocka_unit_test(test_unwalkable_configs),
		cmocka_unit_test(test_s2_permissions),
		cmocka_unit_test(test_walk_cfg_concatenated_root),
		cmocka_unit_test(test_pgsize_boundary_at_2_64),
		cmocka_unit_test(test_txn_displace_without_memory),
		cmocka_unit_test(test_64k_level1_block),
		cmocka_unit_test(test_txn_rollback_keeps_live_tables),
		cmocka_unit_test(test_txn_rollback_block_stays),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
