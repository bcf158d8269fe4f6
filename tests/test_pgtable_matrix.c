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

#include "tmem.h"

#define R AP_PROT_READ
#define W AP_PROT_WRITE
#define C AP_PROT_CACHE
#define N AP_PROT_NOEXEC
#define M AP_PROT_MMIO
#define P AP_PROT_PRIV

/*
 * Stage-2 leaves for every prot, as a 4K page at 0x40001000, by hand from
 * pagetable-formats.md section 2.5: type 0b11 | AF 0x400; S2AP read 0x40,
 * write 0x80; MemAttr device 0x04, else cacheable 0x3c, else NC 0x14; SH
 * 0x300 with c, else 0x200; n sets bits 53 and 54; p has no encoding.
 */
static const struct {
	unsigned prot;
	uint64_t pte;
} s2_page[] = {
	{ R, 0x0000000040001657ull },
	{ R | C, 0x000000004000177full },
	{ R | M, 0x0000000040001647ull },
	{ R | C | M, 0x0000000040001747ull },
	{ R | P, 0x0000000040001657ull },
	{ R | C | P, 0x000000004000177full },
	{ R | M | P, 0x0000000040001647ull },
	{ R | C | M | P, 0x0000000040001747ull },
	{ R | N, 0x0060000040001657ull },
	{ R | C | N, 0x006000004000177full },
	{ R | M | N, 0x0060000040001647ull },
	{ R | C | M | N, 0x0060000040001747ull },
	{ R | P | N, 0x0060000040001657ull },
	{ R | C | P | N, 0x006000004000177full },
	{ R | M | P | N, 0x0060000040001647ull },
	{ R | C | M | P | N, 0x0060000040001747ull },
	{ W, 0x0000000040001697ull },
	{ W | C, 0x00000000400017bfull },
	{ W | M, 0x0000000040001687ull },
	{ W | C | M, 0x0000000040001787ull },
	{ W | P, 0x0000000040001697ull },
	{ W | C | P, 0x00000000400017bfull },
	{ W | M | P, 0x0000000040001687ull },
	{ W | C | M | P, 0x0000000040001787ull },
	{ W | N, 0x0060000040001697ull },
	{ W | C | N, 0x00600000400017bfull },
	{ W | M | N, 0x0060000040001687ull },
	{ W | C | M | N, 0x0060000040001787ull },
	{ W | P | N, 0x0060000040001697ull },
	{ W | C | P | N, 0x00600000400017bfull },
	{ W | M | P | N, 0x0060000040001687ull },
	{ W | C | M | P | N, 0x0060000040001787ull },
	{ R | W, 0x00000000400016d7ull },
	{ R | W | C, 0x00000000400017ffull },
	{ R | W | M, 0x00000000400016c7ull },
	{ R | W | C | M, 0x00000000400017c7ull },
	{ R | W | P, 0x00000000400016d7ull },
	{ R | W | C | P, 0x00000000400017ffull },
	{ R | W | M | P, 0x00000000400016c7ull },
	{ R | W | C | M | P, 0x00000000400017c7ull },
	{ R | W | N, 0x00600000400016d7ull },
	{ R | W | C | N, 0x00600000400017ffull },
	{ R | W | M | N, 0x00600000400016c7ull },
	{ R | W | C | M | N, 0x00600000400017c7ull },
	{ R | W | P | N, 0x00600000400016d7ull },
	{ R | W | C | P | N, 0x00600000400017ffull },
	{ R | W | M | P | N, 0x00600000400016c7ull },
	{ R | W | C | M | P | N, 0x00600000400017c7ull },
};

/*
 * Stage-1 leaves for every prot, same page: type 0b11 | AF 0x400 | nG
 * 0x800; AP[1] 0x40 unless p; AP[2] 0x80 for r without w; AttrIndx 2
 * (0x8) for m, else 1 (0x4) for c; SH as stage 2; n sets bits 53 and 54.
 */
static const struct {
	unsigned prot;
	uint64_t pte;
} s1_page[] = {
	{ R, 0x0000000040001ec3ull },
	{ R | C, 0x0000000040001fc7ull },
	{ R | M, 0x0000000040001ecbull },
	{ R | C | M, 0x0000000040001fcbull },
	{ R | P, 0x0000000040001e83ull },
	{ R | C | P, 0x0000000040001f87ull },
	{ R | M | P, 0x0000000040001e8bull },
	{ R | C | M | P, 0x0000000040001f8bull },
	{ R | N, 0x0060000040001ec3ull },
	{ R | C | N, 0x0060000040001fc7ull },
	{ R | M | N, 0x0060000040001ecbull },
	{ R | C | M | N, 0x0060000040001fcbull },
	{ R | P | N, 0x0060000040001e83ull },
	{ R | C | P | N, 0x0060000040001f87ull },
	{ R | M | P | N, 0x0060000040001e8bull },
	{ R | C | M | P | N, 0x0060000040001f8bull },
	{ W, 0x0000000040001e43ull },
	{ W | C, 0x0000000040001f47ull },
	{ W | M, 0x0000000040001e4bull },
	{ W | C | M, 0x0000000040001f4bull },
	{ W | P, 0x0000000040001e03ull },
	{ W | C | P, 0x0000000040001f07ull },
	{ W | M | P, 0x0000000040001e0bull },
	{ W | C | M | P, 0x0000000040001f0bull },
	{ W | N, 0x0060000040001e43ull },
	{ W | C | N, 0x0060000040001f47ull },
	{ W | M | N, 0x0060000040001e4bull },
	{ W | C | M | N, 0x0060000040001f4bull },
	{ W | P | N, 0x0060000040001e03ull },
	{ W | C | P | N, 0x0060000040001f07ull },
	{ W | M | P | N, 0x0060000040001e0bull },
	{ W | C | M | P | N, 0x0060000040001f0bull },
	{ R | W, 0x0000000040001e43ull },
	{ R | W | C, 0x0000000040001f47ull },
	{ R | W | M, 0x0000000040001e4bull },
	{ R | W | C | M, 0x0000000040001f4bull },
	{ R | W | P, 0x0000000040001e03ull },
	{ R | W | C | P, 0x0000000040001f07ull },
	{ R | W | M | P, 0x0000000040001e0bull },
	{ R | W | C | M | P, 0x0000000040001f0bull },
	{ R | W | N, 0x0060000040001e43ull },
	{ R | W | C | N, 0x0060000040001f47ull },
	{ R | W | M | N, 0x0060000040001e4bull },
	{ R | W | C | M | N, 0x0060000040001f4bull },
	{ R | W | P | N, 0x0060000040001e03ull },
	{ R | W | C | P | N, 0x0060000040001f07ull },
	{ R | W | M | P | N, 0x0060000040001e0bull },
	{ R | W | C | M | P | N, 0x0060000040001f0bull },
};

#define PTE_ADDR_BITS 0x0000fffffffff000ull

typedef unsigned long long ull;

/* ================================================================ tables */

static struct ap_pt *make(struct tmem *m, enum ap_pt_format fmt, unsigned ias, unsigned oas,
			  uint64_t bitmap)
{
	struct ap_pt_cfg cfg = {
		.format = fmt,
		.ias = ias,
		.oas = oas,
		.pgsize_bitmap = bitmap,
		.coherent_walk = true,
	};
	struct ap_pt *pt = NULL;
	int err = ap_pt_alloc(&cfg, &m->mem, &pt);

	EXPECT(err == 0, "alloc fmt %d ias %u oas %u bitmap %llx: %d", (int)fmt, ias, oas,
	       (ull)bitmap, err);
	return pt;
}

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
		size_t n = s ? sizeof(s2_page) / sizeof(s2_page[0])
			     : sizeof(s1_page) / sizeof(s1_page[0]);

		for (b = 0; b < 3; b++) {
			for (i = 0; i < n; i++) {
				unsigned prot = s ? s2_page[i].prot : s1_page[i].prot;
				uint64_t bits = (s ? s2_page[i].pte : s1_page[i].pte) & ~PTE_ADDR_BITS;
				uint64_t sizes = bitmaps[b];

				while (sizes) {
					uint64_t size = sizes & -sizes;
					uint64_t iova = 4 * size, pa = 0x80000000ull + 3 * size;
					struct ap_pt *pt = make(m, s ? AP_PT_ARM_LPAE_S2 : AP_PT_ARM_LPAE_S1,
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

/* ================================================================ model */

struct mleaf {
	uint64_t iova, size, pa;
};

struct model {
	struct mleaf v[4096];
	size_t n;
};

/* Index of the first leaf ending above iova. */
static size_t model_lower(const struct model *md, uint64_t iova)
{
	size_t lo = 0, hi = md->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (md->v[mid].iova + md->v[mid].size <= iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct mleaf *model_find(const struct model *md, uint64_t a)
{
	size_t i = model_lower(md, a);

	return i < md->n && md->v[i].iova <= a ? &md->v[i] : NULL;
}

static bool model_overlaps(const struct model *md, uint64_t start, uint64_t end)
{
	size_t i = model_lower(md, start);

	return i < md->n && md->v[i].iova < end;
}

static void model_insert(struct model *md, uint64_t iova, uint64_t size, uint64_t pa)
{
	size_t i = model_lower(md, iova);

	assert_true(md->n < sizeof(md->v) / sizeof(md->v[0]));
	memmove(&md->v[i + 1], &md->v[i], (md->n - i) * sizeof(md->v[0]));
	md->v[i] = (struct mleaf){ iova, size, pa };
	md->n++;
}

/* Remove leaves in order from iova: stop at a hole, or before a leaf larger
 * than pgsize or reaching past end (never split).  Returns bytes removed. */
static uint64_t model_unmap(struct model *md, uint64_t iova, uint64_t pgsize, uint64_t end)
{
	size_t i = model_lower(md, iova), from = i;
	uint64_t cur = iova;

	while (cur < end && i < md->n && md->v[i].iova == cur && md->v[i].size <= pgsize &&
	       md->v[i].iova + md->v[i].size <= end) {
		cur += md->v[i].size;
		i++;
	}
	memmove(&md->v[from], &md->v[i], (md->n - i) * sizeof(md->v[0]));
	md->n -= i - from;
	return cur - iova;
}

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

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
static uint64_t pick_iova(unsigned ias, uint64_t largest, uint64_t size)
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
	struct ap_pt *pt = make(m, c->fmt, c->ias, c->oas, c->bitmap);
	struct ap_pt_walk_cfg wc;
	struct ap_pt_cfg cfg;
	uint64_t largest;
	unsigned op, changed = 0, shift;

	ap_pt_get_cfg(pt, &cfg);
	ap_pt_get_walk_cfg(pt, &wc);
	shift = wc.granule_shift;
	largest = 1ull << (63 - __builtin_clzll(cfg.pgsize_bitmap));
	md->n = 0;
	for (op = 0; op < nops; op++) {
		uint64_t size = pick_size(cfg.pgsize_bitmap);
		uint64_t iova = pick_iova(cfg.ias, largest, size);
		uint64_t count = 1 + rnd_below(3), left = group_left(iova, size, shift), k;

		if (count > left)
			count = left;
		if (iova + count * size > (1ull << cfg.ias))
			count = ((1ull << cfg.ias) - iova) / size;
		if (rnd_below(2)) {
			uint64_t pa = rnd_below(((1ull << cfg.oas) - count * size) / size) * size;
			uint64_t mapped = 0;
			bool clash = model_overlaps(md, iova, iova + count * size);
			int err = ap_pt_map_pages(pt, iova, pa, size, count, R | W, &mapped);

			if (clash) {
				EXPECT(err == -EEXIST && !mapped, "op %u: map over a leaf: %d", op, err);
			} else {
				EXPECT(err == 0 && mapped == count * size, "op %u: map %llx x%llu %llx: %d",
				       op, (ull)iova, (ull)count, (ull)size, err);
				for (k = 0; k < count; k++)
					model_insert(md, iova + k * size, size, pa + k * size);
				changed++;
			}
		} else {
			uint64_t want = model_unmap(md, iova, size, iova + count * size);
			uint64_t got = ap_pt_unmap_pages(pt, iova, size, count);

			EXPECT(got == want, "fmt %d ias %u oas %u op %u: unmap %llx x%llu %llx: %llx, "
			       "model %llx", (int)c->fmt, c->ias, c->oas, op, (ull)iova, (ull)count,
			       (ull)size, (ull)got, (ull)want);
			changed += got != 0;
		}
		EXPECT(ap_pt_leaf_count(pt) == md->n, "op %u: %llu leaves, model %zu", op,
		       (ull)ap_pt_leaf_count(pt), md->n);
		for (k = 0; k < 4; k++) {
			uint64_t a = md->n && rnd_below(2) ? md->v[rnd_below(md->n)].iova
							   : pick_iova(cfg.ias, largest, 1ull << shift);

			check_probe(pt, &wc, md, m, a + rnd_below(1ull << shift), s2, c, op);
		}
	}
	ap_pt_free(pt);
	tmem_assert_empty(m);
	return changed;
}

static unsigned seed_from_env(const char *name, unsigned dflt)
{
	const char *env = getenv(name);

	return env ? (unsigned)strtoul(env, NULL, 0) : dflt;
}

/* Linux's matrix: 3 bitmaps x every IAS <= OAS from {32..48} x 2 stages. */
static void test_linux_matrix_random(void **state)
{
	static const unsigned bits[] = { 32, 36, 40, 42, 44, 48 };
	static const uint64_t bitmaps[] = { SZ_4K | SZ_2M | SZ_1G, SZ_16K | SZ_32M,
					    SZ_64K | SZ_512M };
	unsigned seed = seed_from_env("APERTURE_MATRIX_SEED", 126);
	struct tmem *m = tmem_new();
	struct model *md = calloc(1, sizeof(*md));
	unsigned configs = 0, changed = 0;
	size_t b, i, o, s;

	(void)state;
	printf("seed=%u (set APERTURE_MATRIX_SEED to change)\n", seed);
	rng = 0x9e3779b97f4a7c15ull ^ seed;
	for (s = 0; s < 2; s++)
		for (b = 0; b < 3; b++)
			for (i = 0; i < 6; i++)
				for (o = i; o < 6; o++) {
					struct config c = { s ? AP_PT_ARM_LPAE_S2 : AP_PT_ARM_LPAE_S1,
							    bits[i], bits[o], bitmaps[b] };

					changed += run_config(&c, m, md, 400);
					configs++;
				}
	printf("%u configurations, %u table-changing operations\n", configs, changed);
	assert_int_equal(configs, 126);
	assert_true(changed > 126 * 100);
	free(md);
	tmem_destroy(m);
}

/* A million probes per format against a populated table. */
static void million_probes(enum ap_pt_format fmt, unsigned ias, uint64_t bitmap)
{
	struct tmem *m = tmem_new();
	struct model *md = calloc(1, sizeof(*md));
	struct config c = { fmt, ias, 48, bitmap };
	struct ap_pt *pt = make(m, fmt, ias, 48, bitmap);
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
		uint64_t iova = pick_iova(cfg.ias, largest, size);
		uint64_t pa = rnd_below((1ull << 40) / size) * size, got = 0;

		if (model_overlaps(md, iova, iova + size))
			continue;
		assert_int_equal(ap_pt_map_pages(pt, iova, pa, size, 1, R | W, &got), 0);
		model_insert(md, iova, size, pa);
	}
	for (k = 0; k < 1000000; k++) {
		uint64_t a = rnd_below(4) ? md->v[rnd_below(md->n)].iova
					  : pick_iova(cfg.ias, largest, 1ull << shift);

		a += rnd_below(1ull << shift);
		mapped_probes += model_find(md, a) != NULL;
		check_probe(pt, &wc, md, m, a, fmt == AP_PT_ARM_LPAE_S2, &c, 0);
	}
	printf("%s %u-bit %llx: 1000000 probes, %llu mapped, %zu leaves\n", ap_pt_format_name(fmt),
	       ias, (ull)(bitmap & -bitmap), (ull)mapped_probes, md->n);
	assert_true(mapped_probes > 500000 && mapped_probes < 1000000);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	free(md);
	tmem_destroy(m);
}

static void test_walker_million_probes(void **state)
{
	(void)state;
	rng = 0x9e3779b97f4a7c15ull ^ seed_from_env("APERTURE_MATRIX_SEED", 126);
	million_probes(AP_PT_ARM_LPAE_S1, 48, SZ_4K | SZ_2M | SZ_1G);
	million_probes(AP_PT_ARM_LPAE_S2, 40, SZ_4K | SZ_2M | SZ_1G);
	million_probes(AP_PT_ARM_LPAE_S1, 42, SZ_64K | SZ_512M);
	million_probes(AP_PT_ARM_LPAE_S2, 48, SZ_16K | SZ_32M);
}

/* Register values, literals from pagetable-formats.md section 2.4: TCR
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
		struct ap_pt *pt = make(m, cases[i].fmt, cases[i].ias, cases[i].oas, cases[i].bitmap);

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
		struct ap_pt *pt = make(m, AP_PT_INTEL_VTD_SL, vtd[i].ias, 48, SZ_4K | SZ_2M);

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
