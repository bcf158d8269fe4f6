/* SPDX-License-Identifier: MIT */
/*
 * The page-table formats across every configuration Linux's io-pgtable-arm
 * selftest runs (3 granule bitmaps x 21 IAS <= OAS pairs x stage 1 and 2):
 * random map/unmap sequences against a plain model of live leaves, fixed
 * descriptor values for every prot at every granule, level and stage, and
 * a million walker probes per format checked against the model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lpae_golden.h"
#include "ptmodel.h"

/* ================================================================ tables */

static int leaf_copy(void *arg, const struct ap_pt_leaf *leaf)
{
	*(struct ap_pt_leaf *)arg = *leaf;
	return 1;
}

/* Every prot, every leaf size of every granule, both stages: the prot bits
 * are the literal's, the type is page (0b11) at level 3 and block (0b01)
 * above, the address is the PA. */
static void test_descriptors_every_granule(void **state)
{
	static const uint64_t bitmaps[] = { SZ_4K | SZ_2M | SZ_1G, SZ_16K | SZ_32M,
					    SZ_64K | SZ_512M };
	struct tmem *m = tmem_new();
	size_t b, i, s;

	(void)state;
	for (s = 0; s < 2; s++) {
		size_t n = s ? sizeof(lpae_s2_page) / sizeof(lpae_s2_page[0])
			     : sizeof(lpae_s1_page) / sizeof(lpae_s1_page[0]);

		for (b = 0; b < 3; b++) {
			for (i = 0; i < n; i++) {
				unsigned prot = s ? lpae_s2_page[i].prot : lpae_s1_page[i].prot;
				uint64_t bits = (s ? lpae_s2_page[i].pte : lpae_s1_page[i].pte) &
						~LPAE_OA_BITS;
				uint64_t sizes = bitmaps[b];

				while (sizes) {
					uint64_t size = sizes & -sizes;
					uint64_t iova = 4 * size, pa = 0x80000000ull + 3 * size;
					struct ap_pt *pt = mkpt(m, s ? AP_PT_ARM_LPAE_S2 : AP_PT_ARM_LPAE_S1,
								 48, 48, bitmaps[b]);
					struct ap_pt_leaf leaf = { 0 };
					uint64_t mapped = 0, want;

					sizes &= sizes - 1;
					if (pa % size)
						pa = size * 3;
					assert_int_equal(ap_pt_map_pages(pt, iova, pa, size, 1, prot, &mapped), 0);
					assert_int_equal(ap_pt_for_each_leaf(pt, 0, ~0ull, leaf_copy, &leaf), 1);
					want = (leaf.level == 3 ? bits : bits & ~2ull) | pa;
					EXPECT(leaf.pte == want && leaf.iova == iova && leaf.size == size,
					       "stage %zu granule %llx size %llx prot %#x: pte %016llx, want "
					       "%016llx", s + 1, (ull)(bitmaps[b] & -bitmaps[b]), (ull)size,
					       prot, (ull)leaf.pte, (ull)want);
					ap_pt_free(pt);
				}
			}
		}
	}
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* ================================================================ random runs */

/* A random size from the bitmap, smaller sizes more often. */
static uint64_t pick_size(uint64_t bitmap)
{
	uint64_t pick = bitmap & -bitmap;

	while ((bitmap & ~((pick << 1) - 1)) && rnd_below(3) == 0)
		pick = (bitmap & ~((pick << 1) - 1)) & -(bitmap & ~((pick << 1) - 1));
	return pick;
}

/* An address aligned to size in one of three windows: the bottom, around
 * the middle of the input range, and the top, a few of the largest pages
 * each, so that operations collide and every root slot kind is used. */
static uint64_t pick_aligned(unsigned ias, uint64_t largest, uint64_t size)
{
	uint64_t span = 4 * largest;
	uint64_t top = 1ull << ias;
	uint64_t bases[3] = { 0, top / 2 - span / 2, top - span };
	uint64_t iova = bases[rnd_below(3)] + rnd_below(span / size) * size;

	return iova;
}

/* Pages per table page at this size, so counts never cross one (where
 * map_pages would clip). */
static uint64_t group_left(uint64_t iova, uint64_t size, unsigned granule_shift)
{
	uint64_t per = 1ull << (granule_shift - 3);

	return per - ((iova / size) & (per - 1));
}

struct config {
	enum ap_pt_format fmt;
	unsigned ias, oas;
	uint64_t bitmap;
};

static void check_probe(const struct ap_pt *pt, const struct ap_pt_walk_cfg *wc,
			const struct model *md, struct tmem *m, uint64_t a, bool s2,
			const struct config *c, unsigned op)
{
	const struct mleaf *l = model_find(md, a);
	struct ap_pt_walk_result res;
	uint64_t pa = 0;
	bool got = ap_pt_iova_to_phys(pt, a, &pa);
	int rc = ap_pt_walk(wc, &m->mem, a, s2 ? 0 : AP_ACCESS_PRIV, &res);

	if (l) {
		uint64_t want = l->pa + (a - l->iova);

		EXPECT(got && pa == want && rc == 0 && res.pa == want && res.leaf.size == l->size,
		       "fmt %d ias %u oas %u bm %llx op %u: %llx -> got %d %llx walk %d %llx, "
		       "model %llx", (int)c->fmt, c->ias, c->oas, (ull)c->bitmap, op, (ull)a, got,
		       (ull)pa, rc, (ull)res.pa, (ull)want);
	} else {
		EXPECT(!got && rc == -EFAULT && res.fault == AP_FAULT_TRANSLATION,
		       "fmt %d ias %u oas %u bm %llx op %u: unmapped %llx -> got %d %llx, walk %d "
		       "fault %d", (int)c->fmt, c->ias, c->oas, (ull)c->bitmap, op, (ull)a, got,
		       (ull)pa, rc, (int)res.fault);
	}
}

/* One configuration: a random sequence against the model.  Returns the
 * number of operations that changed the table. */
static unsigned run_config(const struct config *c, struct tmem *m, struct model *md,
			   unsigned nops)
{
	bool s2 = c->fmt == AP_PT_ARM_LPAE_S2;
	struct ap_pt *pt = mkpt(m, c->fmt, c->ias, c->oas, c->bitmap);
	struct ap_pt_walk_cfg wc;
	struct ap_pt_cfg cfg;
	uint64_t largest;
	unsigned op, changed = 0, shift;

	ap_pt_get_cfg(pt, &cfg);
	ap_pt_get_walk_cfg(pt, &wc);
	shift = wc.granule_shift;
	largest = 1ull << (63 - __builtin_clzll(cfg.pgsize_bitmap));
	model_init(md, pt);
	for (op = 0; op < nops; op++) {
		uint64_t size = pick_size(cfg.pgsize_bitmap);
		uint64_t iova = pick_aligned(cfg.ias, largest, size);
		uint64_t count = 1 + rnd_below(3), left = group_left(iova, size, shift), k;

		if (count > left)
			count = left;
		if (iova + count * size > (1ull << cfg.ias))
			count = ((1ull << cfg.ias) - iova) / size;
		if (rnd_below(2)) {
			uint64_t pa = rnd_below(((1ull << cfg.oas) - count * size) / size) * size;
			uint64_t mapped = 0;
			bool clash = model_overlaps(md, iova, iova + count * size);
			int err = ap_pt_map_pages(pt, iova, pa, size, count, RW, &mapped);

			if (clash) {
				EXPECT(err == -EEXIST && !mapped, "op %u: map over a leaf: %d", op, err);
			} else {
				EXPECT(err == 0 && mapped == count * size, "op %u: map %llx x%llu %llx: %d",
				       op, (ull)iova, (ull)count, (ull)size, err);
				model_insert(md, iova, pa, size, count, RW);
				changed++;
			}
		} else {
			uint64_t want = model_unmap(md, iova, size, count);
			uint64_t got = ap_pt_unmap_pages(pt, iova, size, count);

			EXPECT(got == want, "fmt %d ias %u oas %u op %u: unmap %llx x%llu %llx: %llx, "
			       "model %llx", (int)c->fmt, c->ias, c->oas, op, (ull)iova, (ull)count,
			       (ull)size, (ull)got, (ull)want);
			changed += got != 0;
		}
		EXPECT(ap_pt_leaf_count(pt) == md->n, "op %u: %llu leaves, model %zu", op,
		       (ull)ap_pt_leaf_count(pt), md->n);
		for (k = 0; k < 4; k++) {
			uint64_t a = md->n && rnd_below(2)
					     ? md->v[rnd_below(md->n)].iova
					     : pick_aligned(cfg.ias, largest, 1ull << shift);

			check_probe(pt, &wc, md, m, a + rnd_below(1ull << shift), s2, c, op);
		}
	}
	ap_pt_free(pt);
	tmem_assert_empty(m);
	return changed;
}

/* Linux's matrix: 3 bitmaps x every IAS <= OAS from {32..48} x 2 stages. */
static void test_linux_matrix_random(void **state)
{
	static const unsigned bits[] = { 32, 36, 40, 42, 44, 48 };
	static const uint64_t bitmaps[] = { SZ_4K | SZ_2M | SZ_1G, SZ_16K | SZ_32M,
					    SZ_64K | SZ_512M };
	unsigned seed = seed_from_env("APERTURE_MATRIX_SEED", 126);
	struct tmem *m = tmem_new();
	struct model md = { 0 };
	unsigned configs = 0, changed = 0;
	size_t b, i, o, s;

	(void)state;
	printf("seed=%u (set APERTURE_MATRIX_SEED to change)\n", seed);
	rnd_seed(seed);
	for (s = 0; s < 2; s++)
		for (b = 0; b < 3; b++)
			for (i = 0; i < 6; i++)
				for (o = i; o < 6; o++) {
					struct config c = { s ? AP_PT_ARM_LPAE_S2 : AP_PT_ARM_LPAE_S1,
							    bits[i], bits[o], bitmaps[b] };

					changed += run_config(&c, m, &md, 400);
					configs++;
				}
	printf("%u configurations, %u table-changing operations\n", configs, changed);
	assert_int_equal(configs, 126);
	assert_true(changed > 126 * 100);
	model_free(&md);
	tmem_destroy(m);
}

/* A million probes per format against a populated table. */
static void million_probes(enum ap_pt_format fmt, unsigned ias, uint64_t bitmap)
{
	struct tmem *m = tmem_new();
	struct model md = { 0 };
	struct config c = { fmt, ias, 48, bitmap };
	struct ap_pt *pt = mkpt(m, fmt, ias, 48, bitmap);
	struct ap_pt_walk_cfg wc;
	struct ap_pt_cfg cfg;
	uint64_t largest, mapped_probes = 0, k;
	unsigned shift;

	ap_pt_get_cfg(pt, &cfg);
	ap_pt_get_walk_cfg(pt, &wc);
	shift = wc.granule_shift;
	largest = 1ull << (63 - __builtin_clzll(cfg.pgsize_bitmap));
	for (k = 0; k < 3000; k++) {
		uint64_t size = pick_size(cfg.pgsize_bitmap);
		uint64_t iova = pick_aligned(cfg.ias, largest, size);
		uint64_t pa = rnd_below((1ull << 40) / size) * size, got = 0;

		if (model_overlaps(&md, iova, iova + size))
			continue;
		assert_int_equal(ap_pt_map_pages(pt, iova, pa, size, 1, RW, &got), 0);
		model_insert(&md, iova, pa, size, 1, RW);
	}
	for (k = 0; k < 1000000; k++) {
		uint64_t a = rnd_below(4) ? md.v[rnd_below(md.n)].iova
					  : pick_aligned(cfg.ias, largest, 1ull << shift);

		a += rnd_below(1ull << shift);
		mapped_probes += model_find(&md, a) != NULL;
		check_probe(pt, &wc, &md, m, a, fmt == AP_PT_ARM_LPAE_S2, &c, 0);
	}
	printf("%s %u-bit %llx: 1000000 probes, %llu mapped, %zu leaves\n", ap_pt_format_name(fmt),
	       ias, (ull)(bitmap & -bitmap), (ull)mapped_probes, md.n);
	assert_true(mapped_probes > 500000 && mapped_probes < 1000000);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	model_free(&md);
	tmem_destroy(m);
}

static void test_walker_million_probes(void **state)
{
	(void)state;
	rnd_seed(seed_from_env("APERTURE_MATRIX_SEED", 126));
	million_probes(AP_PT_ARM_LPAE_S1, 48, SZ_4K | SZ_2M | SZ_1G);
	million_probes(AP_PT_ARM_LPAE_S2, 40, SZ_4K | SZ_2M | SZ_1G);
	million_probes(AP_PT_ARM_LPAE_S1, 42, SZ_64K | SZ_512M);
	million_probes(AP_PT_ARM_LPAE_S2, 48, SZ_16K | SZ_32M);
}

/* Register values, literals from doc/formats/arm-lpae.md (registers): TCR
 * T0SZ[5:0] IRGN0[9:8] ORGN0[11:10] SH0[13:12] TG0[15:14] IPS[34:32];
 * VTCR the same with SL0[7:6] and PS[18:16]; TG0 4K=0 64K=1 16K=2. */
static void test_registers(void **state)
{
	static const struct {
		enum ap_pt_format fmt;
		unsigned ias, oas;
		uint64_t bitmap;
		bool coherent;
		uint64_t tcr;
		unsigned sl0;
	} cases[] = {
		{ AP_PT_ARM_LPAE_S1, 48, 48, SZ_4K | SZ_2M | SZ_1G, true, 0x0000000500003510ull, 0 },
		{ AP_PT_ARM_LPAE_S1, 32, 40, SZ_4K | SZ_2M | SZ_1G, true, 0x0000000200003520ull, 0 },
		{ AP_PT_ARM_LPAE_S1, 36, 40, SZ_16K | SZ_32M, false, 0x000000020000a01cull, 0 },
		{ AP_PT_ARM_LPAE_S2, 40, 40, SZ_4K | SZ_2M | SZ_1G, true, 0x0000000000023558ull, 1 },
		{ AP_PT_ARM_LPAE_S2, 48, 48, SZ_4K | SZ_2M | SZ_1G, true, 0x0000000000053590ull, 2 },
		{ AP_PT_ARM_LPAE_S2, 42, 44, SZ_64K | SZ_512M, true, 0x0000000000047556ull, 1 },
		{ AP_PT_ARM_LPAE_S2, 40, 40, SZ_16K | SZ_32M, true, 0x000000000002b558ull, 1 },
		{ AP_PT_ARM_LPAE_S2, 36, 36, SZ_4K | SZ_2M | SZ_1G, false, 0x000000000001205cull, 1 },
	};
	static const struct {
		unsigned ias, aw;
	} vtd[] = { { 39, 1 }, { 42, 2 }, { 48, 2 }, { 57, 3 } };
	struct tmem *m = tmem_new();
	struct ap_pt_walk_cfg wc;
	struct ap_pt_regs r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ap_pt *pt = mkpt(m, cases[i].fmt, cases[i].ias, cases[i].oas, cases[i].bitmap);

		ap_pt_get_walk_cfg(pt, &wc);
		assert_int_equal(ap_pt_get_regs(&wc, cases[i].coherent, &r), 0);
		EXPECT(r.tcr == cases[i].tcr && r.sl0 == cases[i].sl0 && r.ttbr == wc.root,
		       "case %zu: tcr %llx sl0 %u ttbr %llx, want tcr %llx sl0 %u ttbr %llx", i,
		       (ull)r.tcr, r.sl0, (ull)r.ttbr, (ull)cases[i].tcr, cases[i].sl0,
		       (ull)wc.root);
		assert_int_equal(r.mair, cases[i].fmt == AP_PT_ARM_LPAE_S1 ? 0xfffffffff404ff44ull : 0);
		assert_int_equal(r.format, cases[i].fmt);
		ap_pt_free(pt);
	}
	for (i = 0; i < sizeof(vtd) / sizeof(vtd[0]); i++) {
		struct ap_pt *pt = mkpt(m, AP_PT_INTEL_VTD_SL, vtd[i].ias, 48, SZ_4K | SZ_2M);

		ap_pt_get_walk_cfg(pt, &wc);
		assert_int_equal(ap_pt_get_regs(&wc, true, &r), 0);
		assert_int_equal(r.aw, vtd[i].aw);
		assert_int_equal(r.ttbr, wc.root);
		assert_int_equal(r.tcr, 0);
		ap_pt_free(pt);
	}
	wc.format = (enum ap_pt_format)99;
	assert_int_equal(ap_pt_get_regs(&wc, true, &r), -EINVAL);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptors_every_granule),
		cmocka_unit_test(test_linux_matrix_random),
		cmocka_unit_test(test_walker_million_probes),
		cmocka_unit_test(test_registers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
