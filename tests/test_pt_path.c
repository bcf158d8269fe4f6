/* SPDX-License-Identifier: MIT */
/*
 * ap_pt_path(): the descriptors a walk reads, root first, checked against
 * the descriptors themselves read out of table memory (rd_desc), for VT-d
 * second level (4- and 3-level tables, 4K, 2M and 1G leaves) and ARM LPAE
 * stage 1: every level of a mapped IOVA down to its leaf, a walk that stops
 * at an empty entry, and nothing for an IOVA beyond the input size.  What
 * the VT-d debugfs dump of `aperture shim` prints is built on this.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tmem.h"

static int map1(struct ap_pt *pt, uint64_t iova, uint64_t pa, uint64_t size, unsigned prot)
{
	uint64_t mapped = 0;

	return ap_pt_map_pages(pt, iova, pa, size, 1, prot, &mapped);
}

/* The table address in a VT-d or LPAE table descriptor (bits 51:12). */
static uint64_t next_pa(uint64_t pte)
{
	return pte & 0x000ffffffffff000ull;
}

static void test_vtd_levels(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt_cfg cfg = { AP_PT_INTEL_VTD_SL, 48, 46, BM_4K, 0, true, 0 };
	struct ap_pt_path_entry e[6];
	struct ap_pt_walk_cfg wc;
	struct ap_pt *pt;
	unsigned n;

	(void)state;
	assert_int_equal(ap_pt_alloc(&cfg, &m->mem, &pt), 0);
	ap_pt_get_walk_cfg(pt, &wc);
	assert_int_equal(map1(pt, 0x1000, 0x5000, SZ_4K, RW), 0);
	assert_int_equal(map1(pt, 0x40200000, 0x80200000, SZ_2M, RW), 0);
	assert_int_equal(map1(pt, 0x80000000, 0xc0000000, SZ_1G, AP_PROT_READ), 0);

	/* 4K: PML4E, PDPE, PDE, PTE, each the descriptor in its table */
	n = ap_pt_path(pt, 0x1000, e, 6);
	assert_int_equal(n, 4);
	assert_int_equal(e[0].level, 4);
	assert_int_equal(e[0].pte, rd_desc(m, wc.root, 0));
	assert_int_equal(e[1].level, 3);
	assert_int_equal(e[1].pte, rd_desc(m, next_pa(e[0].pte), 0));
	assert_int_equal(e[2].level, 2);
	assert_int_equal(e[2].pte, rd_desc(m, next_pa(e[1].pte), 0));
	assert_int_equal(e[3].level, 1);
	assert_int_equal(e[3].pte, 0x5003);
	/* 2M: ends at the PDE, which has PS */
	n = ap_pt_path(pt, 0x40300000, e, 6);
	assert_int_equal(n, 3);
	assert_int_equal(e[2].level, 2);
	assert_int_equal(e[2].pte, 0x80200083ull);
	/* 1G: ends at the PDPE */
	n = ap_pt_path(pt, 0x80000000, e, 6);
	assert_int_equal(n, 2);
	assert_int_equal(e[1].level, 3);
	assert_int_equal(e[1].pte, 0xc0000081ull);
	/* unmapped: the walk stops at the first empty entry, and reports it */
	n = ap_pt_path(pt, 0x2000, e, 6);
	assert_int_equal(n, 4);
	assert_int_equal(e[3].pte, 0);
	n = ap_pt_path(pt, 0x100000000000ull, e, 6);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].pte, 0);
	/* beyond the input size, and a short buffer */
	assert_int_equal(ap_pt_path(pt, 1ull << 48, e, 6), 0);
	assert_int_equal(ap_pt_path(pt, 0x1000, e, 2), 2);
	assert_int_equal(ap_pt_path(pt, 0x1000, e, 0), 0);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

static void test_vtd_3level(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt_cfg cfg = { AP_PT_INTEL_VTD_SL, 39, 46, BM_4K, 0, true, 0 };
	struct ap_pt_path_entry e[6];
	struct ap_pt *pt;

	(void)state;
	assert_int_equal(ap_pt_alloc(&cfg, &m->mem, &pt), 0);
	assert_int_equal(map1(pt, 0x7fffff000ull, 0x1000, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_path(pt, 0x7fffff000ull, e, 6), 3);
	assert_int_equal(e[0].level, 3);
	assert_int_equal(e[2].level, 1);
	assert_int_equal(e[2].pte, 0x1003);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

static void test_lpae(void **state)
{
	struct tmem *m = tmem_new();
	struct ap_pt_cfg cfg = { AP_PT_ARM_LPAE_S1, 48, 48, BM_4K, 0, true, 0 };
	struct ap_pt_path_entry e[6];
	struct ap_pt *pt;
	unsigned n;

	(void)state;
	assert_int_equal(ap_pt_alloc(&cfg, &m->mem, &pt), 0);
	assert_int_equal(map1(pt, 0x200000, 0x400000, SZ_2M, RW), 0);
	n = ap_pt_path(pt, 0x200000, e, 6);
	assert_int_equal(n, 3);
	assert_int_equal(e[0].level, 0);
	assert_int_equal(e[1].level, 1);
	assert_int_equal(e[2].level, 2);
	assert_int_equal(e[2].pte & 3, 1); /* a block */
	assert_int_equal(next_pa(e[2].pte), 0x400000);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vtd_levels),
		cmocka_unit_test(test_vtd_3level),
		cmocka_unit_test(test_lpae),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
