/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the page-table layer (include/aperture/pgtable.h), one body
 * per property run over a table of formats, as Linux's generic page-table
 * KUnit tests run one body over every format: ARM LPAE stage 1 and stage 2,
 * and Intel VT-d second level.  What differs by format is data: the golden
 * descriptors, the shapes, the hand-built tables a walker meets, and the
 * unmap rule each format follows (io-pgtable-arm's for LPAE, generic_pt's
 * vtdss for VT-d; pgtable.h).
 *
 * The tables live in the simulated physical memory of tmem.h, which
 * bump-allocates from the bottom while nothing has been freed, so that a
 * fresh arena gives a predictable physical address to every table (the root
 * first, at ARENA_BASE).
 *
 * Expected descriptor values are literals: LPAE's evaluated from Linux's
 * io-pgtable-arm or worked out by hand from the bit table of
 * doc/formats/arm-lpae.md (lpae_golden.h); VT-d's worked out by hand from
 * doc/formats/vtd-sl.md (R = bit 0, W = bit 1, PS = bit 7, SNP = bit 11,
 * address in bits 51:12; table entries are address | R | W).
 * None is computed by a formula that mirrors the implementation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lpae_golden.h"
#include "ptmodel.h"

#define S1 AP_PT_ARM_LPAE_S1
#define S2 AP_PT_ARM_LPAE_S2
#define VTD AP_PT_INTEL_VTD_SL

#define SZ_512G (1ull << 39)
#define BM_ALL (SZ_4K | SZ_2M | SZ_1G)

#define PR_R AP_PROT_READ
#define PR_W AP_PROT_WRITE
#define PR_C AP_PROT_CACHE
#define PR_N AP_PROT_NOEXEC
#define PR_M AP_PROT_MMIO
#define PR_P AP_PROT_PRIV
#define EXTRA (PR_C | PR_N | PR_M | PR_P)

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ================================================================ formats */

/*
 * The formats the common bodies run over, each as a 48-bit table with 4K,
 * 2M and 1G pages: the level numbers of those leaves, and whether unmap
 * follows generic_pt (VT-d) or io-pgtable-arm.
 */
struct fmt {
	const char *name;
	enum ap_pt_format format;
	bool generic_pt;
	int lvl_4k, lvl_2m, lvl_1g;
};

static const struct fmt formats[] = {
	{ "arm-lpae-s1", S1, false, 3, 2, 1 },
	{ "arm-lpae-s2", S2, false, 3, 2, 1 },
	{ "intel-vtd-sl", VTD, true, 1, 2, 3 },
};

#define FOR_EACH_FORMAT(f) for (f = formats; f < formats + NELEM(formats); f++)

static int lvl_of(const struct fmt *f, uint64_t size)
{
	return size == SZ_4K ? f->lvl_4k : size == SZ_2M ? f->lvl_2m : f->lvl_1g;
}

/* The expected answer of an unmap: io-pgtable-arm's, or generic_pt's. */
static uint64_t by_rule(const struct fmt *f, uint64_t arm, uint64_t vtd)
{
	return f->generic_pt ? vtd : arm;
}

static void expect_unmap(struct ap_pt *pt, const struct fmt *f, uint64_t iova, uint64_t pgsize,
			 uint64_t count, uint64_t want)
{
	uint64_t got = ap_pt_unmap_pages(pt, iova, pgsize, count);

	EXPECT(got == want, "%s: unmap %llx, %llu x %llx: %llx, want %llx", f->name, (ull)iova,
	       (ull)count, (ull)pgsize, (ull)got, (ull)want);
}

/* What a leaf mapped with prot reads back as. */
static unsigned decoded(enum ap_pt_format fmt, unsigned prot, uint32_t quirks)
{
	if (fmt == S1)
		return s1_decoded(prot);
	if (fmt == S2)
		return s2_decoded(prot);
	return vtd_decoded(prot, quirks & AP_PT_QUIRK_VTD_SNOOP);
}

/* Whether a leaf mapped with prot lets `access` through (reference section
 * 2.6 and 4.2): stage 1 reads always, writes with w, unprivileged accesses
 * only without p, fetches only without n; stage 2 reads with r, writes with
 * w, fetches without n; VT-d reads with r, writes with w, nothing else. */
static bool allowed(enum ap_pt_format fmt, unsigned prot, unsigned access)
{
	if ((access & AP_ACCESS_WRITE) && !(prot & PR_W))
		return false;
	if (fmt == VTD)
		return !((access & AP_ACCESS_READ) && !(prot & PR_R));
	if ((access & AP_ACCESS_EXEC) && (prot & PR_N))
		return false;
	if (fmt == S2)
		return !((access & AP_ACCESS_READ) && !(prot & PR_R));
	return !((prot & PR_P) && !(access & AP_ACCESS_PRIV));
}

/* ================================================================ 1. descriptors */

/* VT-d leaves: R 0x1, W 0x2, RW 0x3, SNP 0x800, PS 0x80 above the 4K level. */
static const struct {
	uint64_t iova, pa, size;
	unsigned prot;
	bool snoop;
	uint64_t pte;
	int level;
} vtd_golden[] = {
	{ 0x40001000, 0x40001000, SZ_4K, PR_R, false, 0x0000000040001001ull, 1 },
	{ 0x40001000, 0x40001000, SZ_4K, PR_W, false, 0x0000000040001002ull, 1 },
	{ 0x40001000, 0x40001000, SZ_4K, PR_R | PR_W, false, 0x0000000040001003ull, 1 },
	{ 0x40001000, 0x40001000, SZ_4K, PR_R, true, 0x0000000040001801ull, 1 },
	{ 0x40001000, 0x40001000, SZ_4K, PR_W, true, 0x0000000040001802ull, 1 },
	{ 0x40001000, 0x40001000, SZ_4K, PR_R | PR_W, true, 0x0000000040001803ull, 1 },
	{ 0x80200000, 0x80200000, SZ_2M, PR_R, false, 0x0000000080200081ull, 2 },
	{ 0x80200000, 0x80200000, SZ_2M, PR_W, false, 0x0000000080200082ull, 2 },
	{ 0x80200000, 0x80200000, SZ_2M, PR_R | PR_W, false, 0x0000000080200083ull, 2 },
	{ 0x80200000, 0x80200000, SZ_2M, PR_R, true, 0x0000000080200881ull, 2 },
	{ 0x80200000, 0x80200000, SZ_2M, PR_W, true, 0x0000000080200882ull, 2 },
	{ 0x80200000, 0x80200000, SZ_2M, PR_R | PR_W, true, 0x0000000080200883ull, 2 },
	{ 0xc0000000, 0xc0000000, SZ_1G, PR_R, false, 0x00000000c0000081ull, 3 },
	{ 0xc0000000, 0xc0000000, SZ_1G, PR_W, false, 0x00000000c0000082ull, 3 },
	{ 0xc0000000, 0xc0000000, SZ_1G, PR_R | PR_W, false, 0x00000000c0000083ull, 3 },
	{ 0xc0000000, 0xc0000000, SZ_1G, PR_R, true, 0x00000000c0000881ull, 3 },
	{ 0xc0000000, 0xc0000000, SZ_1G, PR_W, true, 0x00000000c0000882ull, 3 },
	{ 0xc0000000, 0xc0000000, SZ_1G, PR_R | PR_W, true, 0x00000000c0000883ull, 3 },
	/* CACHE, NOEXEC, MMIO, PRIV have no second-level bits: ignored. */
	{ 0x40001000, 0x40001000, SZ_4K, PR_R | PR_W | EXTRA, false, 0x0000000040001003ull, 1 },
	{ 0x40001000, 0x40001000, SZ_4K, PR_W | PR_C, false, 0x0000000040001002ull, 1 },
	{ 0x40001000, 0x40001000, SZ_4K, PR_R | PR_N, true, 0x0000000040001801ull, 1 },
	{ 0x80200000, 0x80200000, SZ_2M, PR_R | PR_M, false, 0x0000000080200081ull, 2 },
	{ 0xc0000000, 0xc0000000, SZ_1G, PR_W | PR_P, true, 0x00000000c0000882ull, 3 },
	/* The whole OA field, bits 51:12 (oas 52). */
	{ 0x5000, 0x000fedcba9876000ull, SZ_4K, PR_R | PR_W, false, 0x000fedcba9876003ull, 1 },
	{ 0x5000, 0x000fffffffffe000ull, SZ_4K, PR_W, true, 0x000fffffffffe802ull, 1 },
	{ 0x40000000, 0x000fffffc0000000ull, SZ_1G, PR_R, false, 0x000fffffc0000081ull, 3 },
	{ 0x200000, 0x000ffffffc000000ull, SZ_2M, PR_R | PR_W, true, 0x000ffffffc000883ull, 2 },
};

/* LPAE leaves beyond the prot table: sizes, NS, 64K granule with LPA. */
static const struct {
	enum ap_pt_format fmt;
	unsigned ias, oas;
	uint64_t bitmap;
	uint32_t quirks;
	bool coherent;
	uint64_t iova, pa, size;
	unsigned prot;
	uint64_t pte;
	int level;
} lpae_golden[] = {
	/* S1 4K, ias 48: three goldens evaluated from Linux's io-pgtable-arm. */
	{ S1, 48, 48, BM_4K, 0, true, 0x40001000, 0x40001000, SZ_4K, PR_R | PR_W,
	  0x0000000040001e43ull, 3 },
	{ S1, 48, 48, BM_4K, 0, true, 0x80200000, 0x80200000, SZ_2M, PR_R | PR_W | PR_C,
	  0x0000000080200f45ull, 2 },
	{ S1, 48, 48, BM_4K, 0, true, 0xc0000000, 0xc0000000, SZ_1G, PR_R | PR_N,
	  0x00600000c0000ec1ull, 1 },
	/* NS in the leaf with the ARM_NS quirk; a non-coherent walk changes
	 * table descriptors only. */
	{ S1, 48, 48, BM_4K, AP_PT_QUIRK_ARM_NS, true, 0x1000, 0x1000, SZ_4K, PR_R | PR_W,
	  0x0000000000001e63ull, 3 },
	{ S1, 48, 48, BM_4K, 0, false, 0x40001000, 0x40001000, SZ_4K, PR_R | PR_W,
	  0x0000000040001e43ull, 3 },
	/* S2 golden: rw + cache, 1G block at 0x40000000. */
	{ S2, 40, 40, BM_4K, 0, true, 0x40000000, 0x40000000, SZ_1G, PR_R | PR_W | PR_C,
	  0x00000000400007fdull, 1 },
	/* 64K granule, 52-bit OA: PA[51:48] folds into bits 15:12, (pa | pa >>
	 * 36) & bits 47:12 = 0x1f000, then the rw page bits 0xe43; and a 4T
	 * block at level 1, a legal size there. */
	{ S1, 48, 52, BM_64K | SZ_4T, 0, true, 0x10000, 0x000f000000010000ull, SZ_64K,
	  PR_R | PR_W, 0x000000000001fe43ull, 3 },
	{ S1, 48, 52, BM_64K | SZ_4T, 0, true, SZ_4T, SZ_4T, SZ_4T, PR_R | PR_W,
	  0x0000040000000e41ull, 1 },
};

/* Map one leaf on a fresh table; its descriptor, level, span, decoded prot,
 * translation and the table's counts are the golden's. */
static void golden_leaf(struct tmem *m, enum ap_pt_format fmt, unsigned ias, unsigned oas,
			uint64_t bitmap, uint32_t quirks, bool coherent, uint64_t iova, uint64_t pa,
			uint64_t size, unsigned prot, uint64_t pte, int level)
{
	struct ap_pt *pt = mkpt_full(m, fmt, ias, oas, bitmap, 0, coherent, quirks);
	struct ap_pt_leaf l;

	assert_int_equal(map1(pt, iova, pa, size, prot), 0);
	l = leaf_at(pt, iova + size / 2);
	EXPECT(l.pte == pte, "%s prot %#x size %llx quirks %#x: pte %016llx, want %016llx",
	       ap_pt_format_name(fmt), prot, (ull)size, quirks, (ull)l.pte, (ull)pte);
	EXPECT(l.level == level && l.size == size && l.iova == iova && l.pa == pa,
	       "%s prot %#x: level %d size %llx iova %llx pa %llx", ap_pt_format_name(fmt), prot,
	       l.level, (ull)l.size, (ull)l.iova, (ull)l.pa);
	EXPECT(l.prot == decoded(fmt, prot, quirks), "%s prot %#x decodes as %#x, want %#x",
	       ap_pt_format_name(fmt), prot, l.prot, decoded(fmt, prot, quirks));
	expect_phys(pt, iova + size - 1, pa + size - 1);
	expect_phys(pt, iova + 0x42, pa + 0x42);
	assert_int_equal(ap_pt_leaf_count(pt), 1);
	assert_int_equal(ap_pt_sizes_in_use(pt), size);
	ap_pt_free(pt);
	tmem_assert_empty(m);
}

static void test_golden_leaves(void **state)
{
	struct tmem *m = tmem_new();
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(lpae_golden); i++)
		golden_leaf(m, lpae_golden[i].fmt, lpae_golden[i].ias, lpae_golden[i].oas,
			    lpae_golden[i].bitmap, lpae_golden[i].quirks, lpae_golden[i].coherent,
			    lpae_golden[i].iova, lpae_golden[i].pa, lpae_golden[i].size,
			    lpae_golden[i].prot, lpae_golden[i].pte, lpae_golden[i].level);
	/* Every prot of r,w,c,n,m,p with r or w, as a 4K page at 0x40001000. */
	for (i = 0; i < NELEM(lpae_s1_page); i++)
		golden_leaf(m, S1, 48, 48, BM_4K, 0, true, 0x40001000, 0x40001000, SZ_4K,
			    lpae_s1_page[i].prot, lpae_s1_page[i].pte, 3);
	for (i = 0; i < NELEM(lpae_s2_page); i++)
		golden_leaf(m, S2, 48, 48, BM_4K, 0, true, 0x40001000, 0x40001000, SZ_4K,
			    lpae_s2_page[i].prot, lpae_s2_page[i].pte, 3);
	for (i = 0; i < NELEM(vtd_golden); i++)
		golden_leaf(m, VTD, 48, 52, BM_ALL,
			    vtd_golden[i].snoop ? AP_PT_QUIRK_VTD_SNOOP : 0, true,
			    vtd_golden[i].iova, vtd_golden[i].pa, vtd_golden[i].size,
			    vtd_golden[i].prot, vtd_golden[i].pte, vtd_golden[i].level);
	tmem_destroy(m);
}

/*
 * Table descriptors, at predictable addresses: in a fresh arena the root is
 * the first block (0x40000000) and each table a map allocates comes next.
 * LPAE table descriptors are PA | 3, plus NSTable (bit 63) with ARM_NS and
 * bit 55 for a non-coherent walk; VT-d's are PA | R | W whatever the walk.
 */
struct gmap {
	uint64_t iova, pa, size;
	unsigned prot;
	uint64_t table_bytes; /* after this map */
};

struct gdesc {
	uint64_t table;
	unsigned idx;
	uint64_t value;
};

static const struct {
	enum ap_pt_format fmt;
	unsigned ias, oas;
	uint32_t quirks;
	bool coherent;
	struct gmap map[3];
	struct gdesc desc[12];
	uint64_t probe, probe_pa;
} golden_tables[] = {
	{ S1, 48, 48, 0, true,
	  { { 0x40001000, 0x40001000, SZ_4K, PR_R | PR_W, 4 * SZ_4K },
	    { 0x80200000, 0x80200000, SZ_2M, PR_R | PR_W | PR_C, 5 * SZ_4K },
	    { 0xc0000000, 0xc0000000, SZ_1G, PR_R | PR_N, 5 * SZ_4K } },
	  { { 0x40000000, 0, 0x0000000040001003ull },
	    { 0x40001000, 1, 0x0000000040002003ull }, /* 0x40001000 -> L1 index 1 */
	    { 0x40002000, 0, 0x0000000040003003ull },
	    { 0x40003000, 1, 0x0000000040001e43ull },
	    { 0x40001000, 2, 0x0000000040004003ull },
	    { 0x40004000, 1, 0x0000000080200f45ull },
	    { 0x40001000, 3, 0x00600000c0000ec1ull }, /* the 1G block, L1 index 3 */
	    { 0x40000000, 1, 0 } },
	  0x40001abc, 0x40001abc },
	{ S1, 48, 48, AP_PT_QUIRK_ARM_NS, true,
	  { { 0x1000, 0x1000, SZ_4K, PR_R | PR_W, 4 * SZ_4K } },
	  { { 0x40000000, 0, 0x8000000040001003ull },
	    { 0x40001000, 0, 0x8000000040002003ull },
	    { 0x40002000, 0, 0x8000000040003003ull },
	    { 0x40003000, 1, 0x0000000000001e63ull } },
	  0x1234, 0x1234 },
	{ S1, 48, 48, 0, false,
	  { { 0x40001000, 0x40001000, SZ_4K, PR_R | PR_W, 4 * SZ_4K } },
	  { { 0x40000000, 0, 0x0080000040001003ull },
	    { 0x40001000, 1, 0x0080000040002003ull },
	    { 0x40002000, 0, 0x0080000040003003ull },
	    { 0x40003000, 1, 0x0000000040001e43ull } },
	  0x40001abc, 0x40001abc },
	/* 4K S2 ias = oas = 40 is concatenated at L1 (two pages): the block
	 * is in the root. */
	{ S2, 40, 40, 0, true,
	  { { 0x40000000, 0x40000000, SZ_1G, PR_R | PR_W | PR_C, 2 * SZ_4K } },
	  { { 0x40000000, 1, 0x00000000400007fdull }, { 0x40000000, 0, 0 } },
	  0x40000042, 0x40000042 },
	/* 3 levels: 0x40201000 is PDPE 1, PDE 1, PTE 1; a 2M leaf in the same
	 * PDE table, PDE 2; a 1G leaf straight in the root. */
	{ VTD, 39, 48, 0, true,
	  { { 0x40201000, 0x12345000, SZ_4K, PR_R | PR_W, 3 * SZ_4K },
	    { 0x40400000, 0x7fe00000, SZ_2M, PR_R, 3 * SZ_4K },
	    { 0x80000000, 0x100000000ull, SZ_1G, PR_W, 3 * SZ_4K } },
	  { { 0x40000000, 1, 0x0000000040001003ull },
	    { 0x40001000, 1, 0x0000000040002003ull },
	    { 0x40002000, 1, 0x0000000012345003ull },
	    { 0x40000000, 0, 0 },
	    { 0x40001000, 2, 0x000000007fe00081ull },
	    { 0x40000000, 2, 0x0000000100000082ull } },
	  0x40201fff, 0x12345fff },
	/* 5 levels, snooping, non-coherent walk: tables are still addr | R | W.
	 * 2^56 + 2^47 + 1G + 2M + 4K: PML5E 256, PML4E 256, PDPE 1, PDE 1,
	 * PTE 1. */
	{ VTD, 57, 46, AP_PT_QUIRK_VTD_SNOOP, false,
	  { { 0, 0x3000, SZ_4K, PR_R | PR_W, 5 * SZ_4K },
	    { 0x0100800040201000ull, 0x2000, SZ_4K, PR_R, 9 * SZ_4K } },
	  { { 0x40000000, 0, 0x0000000040001003ull },
	    { 0x40001000, 0, 0x0000000040002003ull },
	    { 0x40002000, 0, 0x0000000040003003ull },
	    { 0x40003000, 0, 0x0000000040004003ull },
	    { 0x40004000, 0, 0x0000000000003803ull },
	    { 0x40000000, 256, 0x0000000040005003ull },
	    { 0x40005000, 256, 0x0000000040006003ull },
	    { 0x40006000, 1, 0x0000000040007003ull },
	    { 0x40007000, 1, 0x0000000040008003ull },
	    { 0x40008000, 1, 0x0000000000002801ull } },
	  0x0100800040201fffull, 0x2fff },
};

static void test_golden_tables(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < NELEM(golden_tables); i++) {
		struct tmem *m = tmem_new();
		struct ap_pt *pt = mkpt_full(m, golden_tables[i].fmt, golden_tables[i].ias,
					     golden_tables[i].oas, BM_4K, 0,
					     golden_tables[i].coherent, golden_tables[i].quirks);

		assert_int_equal(root_pa(pt), ARENA_BASE);
		for (k = 0; k < 3 && golden_tables[i].map[k].size; k++) {
			const struct gmap *g = &golden_tables[i].map[k];

			assert_int_equal(map1(pt, g->iova, g->pa, g->size, g->prot), 0);
			EXPECT(ap_pt_table_bytes(pt) == g->table_bytes,
			       "case %zu map %zu: %llu bytes of tables, want %llu", i, k,
			       (ull)ap_pt_table_bytes(pt), (ull)g->table_bytes);
		}
		for (k = 0; k < NELEM(golden_tables[i].desc) && golden_tables[i].desc[k].table; k++) {
			const struct gdesc *d = &golden_tables[i].desc[k];
			uint64_t v = rd_desc(m, d->table, d->idx);

			EXPECT(v == d->value, "case %zu: %llx[%u] = %016llx, want %016llx", i,
			       (ull)d->table, d->idx, (ull)v, (ull)d->value);
		}
		expect_phys(pt, golden_tables[i].probe, golden_tables[i].probe_pa);
		ap_pt_free(pt);
		tmem_assert_empty(m);
		tmem_destroy(m);
	}
}

/* ================================================================ 2. geometry */

/* Start level and root bytes (8 x PGD entries, concatenation included, at
 * least 64 for LPAE; one page for VT-d): LPAE from the levels table of
 * doc/formats/arm-lpae.md (ias = oas) and its stage-2 concatenation cases
 * keyed by OAS; VT-d from the width. */
static const struct {
	enum ap_pt_format fmt;
	uint64_t bitmap;
	unsigned ias, oas;
	int start;
	uint64_t root_bytes;
} geometry[] = {
	{ S1, BM_4K, 32, 32, 1, 64 },
	{ S1, BM_4K, 36, 36, 1, 512 },
	{ S1, BM_4K, 40, 40, 0, 64 },
	{ S2, BM_4K, 40, 40, 1, 8192 },
	{ S2, BM_4K, 40, 48, 0, 64 },
	{ S1, BM_4K, 42, 42, 0, 64 },
	{ S2, BM_4K, 42, 42, 1, 32768 },
	{ S2, BM_4K, 42, 44, 0, 64 },
	{ S1, BM_4K, 44, 44, 0, 256 },
	{ S2, BM_4K, 44, 44, 0, 256 },
	{ S1, BM_4K, 48, 48, 0, 4096 },
	{ S2, BM_4K, 48, 48, 0, 4096 },
	{ S1, BM_4K, 52, 52, 0, 4096 }, /* clamped to 48 */
	{ S1, BM_4K, 39, 40, 1, 4096 },
	{ S1, BM_16K, 32, 32, 2, 1024 },
	{ S1, BM_16K, 36, 36, 2, 16384 },
	{ S1, BM_16K, 40, 40, 1, 128 },
	{ S2, BM_16K, 40, 40, 2, 262144 },
	{ S2, BM_16K, 40, 48, 1, 128 },
	{ S1, BM_16K, 42, 42, 1, 512 },
	{ S2, BM_16K, 44, 44, 1, 2048 },
	{ S1, BM_16K, 48, 48, 0, 64 },
	{ S2, BM_16K, 48, 48, 1, 32768 },
	{ S2, BM_16K, 48, 44, 1, 32768 }, /* ias == 48 alone */
	{ S1, BM_64K, 32, 32, 2, 64 },
	{ S1, BM_64K, 36, 36, 2, 1024 },
	{ S1, BM_64K, 40, 40, 2, 16384 },
	{ S2, BM_64K, 42, 42, 2, 65536 },
	{ S1, BM_64K, 44, 44, 1, 64 },
	{ S1, BM_64K, 48, 48, 1, 512 },
	{ S2, BM_64K, 52, 52, 1, 8192 },
	{ VTD, BM_ALL, 31, 48, 3, 4096 },
	{ VTD, BM_ALL, 35, 48, 3, 4096 },
	{ VTD, BM_ALL, 39, 48, 3, 4096 },
	{ VTD, BM_ALL, 40, 48, 4, 4096 },
	{ VTD, BM_ALL, 42, 48, 4, 4096 },
	{ VTD, BM_ALL, 48, 48, 4, 4096 },
	{ VTD, BM_ALL, 49, 48, 5, 4096 },
	{ VTD, BM_ALL, 52, 48, 5, 4096 },
	{ VTD, BM_ALL, 57, 48, 5, 4096 },
};

/* Walker configurations on their own: the start level a walk takes. */
static const struct {
	struct ap_pt_walk_cfg wc;
	int start;
} walk_starts[] = {
	{ { S2, 12, 40, 40, 0 }, 1 },
	{ { S2, 12, 40, 48, 0 }, 0 },
	{ { S1, 12, 40, 40, 0 }, 0 },
	{ { S1, 12, 40, 39, 0 }, -1 }, /* no such OAS encoding */
	{ { S1, 13, 40, 40, 0 }, -1 }, /* no such granule */
	{ { S1, 14, 47, 40, 0 }, 1 },  /* 33 bits to resolve, 11 a level: L1 */
	{ { S1, 14, 48, 40, 0 }, 0 },
	{ { S2, 14, 48, 40, 0 }, 1 },  /* ias 48: concatenated */
	{ { (enum ap_pt_format)99, 14, 48, 40, 0 }, -1 },
	{ { VTD, 12, 39, 48, 0 }, 3 },
	{ { VTD, 12, 42, 48, 0 }, 4 },
	{ { VTD, 12, 52, 48, 0 }, 5 },
	{ { VTD, 12, 30, 48, 0 }, -1 },
	{ { VTD, 12, 58, 48, 0 }, -1 },
	{ { VTD, 16, 48, 48, 0 }, -1 },
	{ { VTD, 12, 48, 53, 0 }, -1 },
	{ { VTD, 12, 48, 46, 0 }, 4 },
};

static void test_geometry(void **state)
{
	struct tmem *m = tmem_new();
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(geometry); i++) {
		struct ap_pt *pt = mkpt(m, geometry[i].fmt, geometry[i].ias, geometry[i].oas,
					geometry[i].bitmap);
		struct ap_pt_walk_cfg wc;
		struct ap_pt_cfg cfg;
		uint64_t granule, last;
		int start, levels;

		ap_pt_get_walk_cfg(pt, &wc);
		ap_pt_get_cfg(pt, &cfg);
		start = ap_pt_start_level(&wc);
		EXPECT(start == geometry[i].start, "case %zu (%s ias %u oas %u): start level %d, want %d",
		       i, ap_pt_format_name(geometry[i].fmt), geometry[i].ias, geometry[i].oas, start,
		       geometry[i].start);
		EXPECT(ap_pt_table_bytes(pt) == geometry[i].root_bytes,
		       "case %zu (%s ias %u oas %u): root %llu bytes, want %llu", i,
		       ap_pt_format_name(geometry[i].fmt), geometry[i].ias, geometry[i].oas,
		       (ull)ap_pt_table_bytes(pt), (ull)geometry[i].root_bytes);
		assert_true(m->bytes_out >= geometry[i].root_bytes);
		assert_int_equal(wc.root & (geometry[i].root_bytes - 1), 0); /* naturally aligned */
		assert_int_equal(wc.format, geometry[i].fmt);
		assert_int_equal(wc.ias, cfg.ias);
		assert_int_equal(wc.oas, cfg.oas);
		assert_int_equal(cfg.oas, geometry[i].oas > 48 && geometry[i].bitmap != BM_64K &&
						  geometry[i].fmt != VTD ? 48 : geometry[i].oas);
		granule = 1ull << wc.granule_shift;
		assert_int_equal(granule, geometry[i].bitmap & -geometry[i].bitmap);
		assert_int_equal(cfg.pgsize_bitmap, geometry[i].bitmap);
		/* The last page below 2^ias maps, with a table per level below the
		 * root; 2^ias does not. */
		levels = geometry[i].fmt == VTD ? start : 4 - start;
		last = (1ull << cfg.ias) - granule;
		assert_int_equal(map1(pt, last, granule, granule, RW), 0);
		expect_phys(pt, last + granule - 1, 2 * granule - 1);
		assert_int_equal(map1(pt, last + granule, granule, granule, RW), -ERANGE);
		EXPECT(ap_pt_table_bytes(pt) == geometry[i].root_bytes + (uint64_t)(levels - 1) * granule,
		       "case %zu: %llu bytes of tables with the last page, want %llu", i,
		       (ull)ap_pt_table_bytes(pt),
		       (ull)(geometry[i].root_bytes + (uint64_t)(levels - 1) * granule));
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}
	for (i = 0; i < NELEM(walk_starts); i++)
		EXPECT(ap_pt_start_level(&walk_starts[i].wc) == walk_starts[i].start,
		       "walker %zu: start level %d, want %d", i, ap_pt_start_level(&walk_starts[i].wc),
		       walk_starts[i].start);
	tmem_destroy(m);
}

/* The page sizes ap_pt_alloc() keeps: one granule as Linux's
 * arm_lpae_restrict_pgsizes() picks it (host size first, else the largest
 * below, else the smallest above) for LPAE; {4K, 2M, 1G}, 4K required,
 * whatever the host for VT-d. */
static const struct {
	enum ap_pt_format fmt;
	uint64_t bitmap, host, want;
} restricted[] = {
	{ S1, SZ_4K | SZ_16K | SZ_64K, 0, SZ_4K },
	{ S1, SZ_4K | SZ_16K | SZ_64K, SZ_4K, SZ_4K },
	{ S1, SZ_16K | SZ_64K, SZ_4K, SZ_16K },
	{ S1, SZ_64K | SZ_512M | SZ_2M, SZ_4K, BM_64K },
	{ S1, BM_4K | BM_64K, SZ_16K, BM_4K },
	{ S1, BM_64K, SZ_16K, BM_64K },
	{ S1, SZ_4K | SZ_16K | SZ_64K, SZ_64K, SZ_64K },
	{ S1, SZ_4K | SZ_16K, SZ_64K, SZ_16K },
	{ S1, BM_4K | BM_16K | BM_64K, SZ_16K, BM_16K },
	{ S1, BM_4K | SZ_32M | SZ_512M, 0, BM_4K },
	{ S1, ~0ull, 0, BM_4K },
	{ VTD, ~0ull, 0, BM_ALL },
	{ VTD, SZ_4K, 0, SZ_4K },
	{ VTD, SZ_4K | SZ_2M, 0, SZ_4K | SZ_2M },
	{ VTD, SZ_4K | SZ_1G, 0, SZ_4K | SZ_1G },
	{ VTD, SZ_4K | SZ_64K | SZ_2M | SZ_512G, 0, SZ_4K | SZ_2M },
	{ VTD, BM_ALL, SZ_64K, BM_ALL },
	{ S1, BM_64K | SZ_4T, 0, BM_64K }, /* 4T only with an OAS above 48 */
};

/* ias/oas clamped to the granule's limit. */
static const struct {
	enum ap_pt_format fmt;
	unsigned ias, oas;
	uint64_t bitmap;
	unsigned want_ias, want_oas;
	uint64_t want_bitmap;
} clamped[] = {
	{ S1, 52, 52, BM_4K, 48, 48, BM_4K },
	{ S1, 52, 52, BM_64K, 52, 52, BM_64K },
	{ S1, 48, 52, BM_64K | SZ_4T, 48, 52, BM_64K | SZ_4T },
	{ VTD, 57, 52, BM_ALL, 57, 52, BM_ALL },
};

/* Configurations ap_pt_alloc() refuses, with nothing allocated and *out
 * untouched (and a few next to them that it takes). */
static const struct {
	enum ap_pt_format fmt;
	unsigned ias, oas;
	uint64_t bitmap, host;
	uint32_t quirks;
	int err;
} refusals[] = {
	{ S1, 39, 39, BM_4K, 0, 0, -EINVAL },
	{ S2, 39, 39, BM_4K, 0, 0, -EINVAL },
	{ S1, 39, 40, BM_4K, 0, 0, 0 },
	{ S1, 40, 41, BM_4K, 0, 0, -EINVAL },
	{ S1, 53, 48, BM_4K, 0, 0, -EINVAL },
	{ S1, 48, 53, BM_4K, 0, 0, -EINVAL },
	{ S1, 0, 48, BM_4K, 0, 0, -EINVAL },
	{ S1, 12, 48, BM_4K, 0, 0, -EINVAL },
	{ S1, 48, 48, SZ_2M | SZ_1G, 0, 0, -EINVAL },
	{ S1, 48, 48, 0, 0, 0, -EINVAL },
	{ S1, 48, 48, 0x2000, 0, 0, -EINVAL },
	{ S1, 48, 48, BM_4K, 0x3000, 0, -EINVAL },
	{ S1, 48, 48, BM_4K, 0, 1u << 5, -EINVAL },
	{ S2, 48, 48, BM_4K, 0, AP_PT_QUIRK_ARM_NS, -EINVAL },
	{ (enum ap_pt_format)7, 48, 48, BM_4K, 0, 0, -EOPNOTSUPP },
	/* 4K S2 ias 48 oas 40: concatenation at L1 would need 512 tables. */
	{ S2, 48, 40, BM_4K, 0, 0, -EINVAL },
	/* VT-d: widths 31..57 (30 is the 2-level AGAW), OAS 32..52, 4K
	 * required, only the snooping quirk; the host page size is not read. */
	{ VTD, 30, 48, BM_ALL, 0, 0, -EINVAL },
	{ VTD, 58, 48, BM_ALL, 0, 0, -EINVAL },
	{ VTD, 0, 48, BM_ALL, 0, 0, -EINVAL },
	{ VTD, 64, 48, BM_ALL, 0, 0, -EINVAL },
	{ VTD, 31, 48, BM_ALL, 0, 0, 0 },
	{ VTD, 57, 48, BM_ALL, 0, 0, 0 },
	{ VTD, 48, 31, BM_ALL, 0, 0, -EINVAL },
	{ VTD, 48, 53, BM_ALL, 0, 0, -EINVAL },
	{ VTD, 48, 32, BM_ALL, 0, 0, 0 },
	{ VTD, 48, 39, BM_ALL, 0, 0, 0 },
	{ VTD, 48, 52, BM_ALL, 0, 0, 0 },
	{ VTD, 48, 48, SZ_2M | SZ_1G, 0, 0, -EINVAL },
	{ VTD, 48, 48, SZ_64K | SZ_2M, 0, 0, -EINVAL },
	{ VTD, 48, 48, 0, 0, 0, -EINVAL },
	{ VTD, 48, 48, BM_ALL, SZ_64K, 0, 0 },
	{ VTD, 48, 48, BM_ALL, 0x3000, 0, 0 },
	{ VTD, 48, 48, BM_ALL, 0, AP_PT_QUIRK_VTD_SNOOP, 0 },
	{ VTD, 48, 48, BM_ALL, 0, AP_PT_QUIRK_ARM_NS, -EINVAL },
	{ VTD, 48, 48, BM_ALL, 0, 1u << 9, -EINVAL },
};

static void test_alloc_rules(void **state)
{
	const struct fmt *f;
	struct tmem *m = tmem_new();
	struct ap_pt *pt;
	struct ap_pt_cfg cfg;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(restricted); i++) {
		pt = mkpt_full(m, restricted[i].fmt, restricted[i].fmt == VTD ? 48 : 40,
			       restricted[i].fmt == VTD ? 48 : 40, restricted[i].bitmap,
			       restricted[i].host, true, 0);
		ap_pt_get_cfg(pt, &cfg);
		EXPECT(cfg.pgsize_bitmap == restricted[i].want, "case %zu: %llx -> %llx, want %llx",
		       i, (ull)restricted[i].bitmap, (ull)cfg.pgsize_bitmap, (ull)restricted[i].want);
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}
	for (i = 0; i < NELEM(clamped); i++) {
		pt = mkpt(m, clamped[i].fmt, clamped[i].ias, clamped[i].oas, clamped[i].bitmap);
		ap_pt_get_cfg(pt, &cfg);
		assert_int_equal(cfg.ias, clamped[i].want_ias);
		assert_int_equal(cfg.oas, clamped[i].want_oas);
		assert_int_equal(cfg.pgsize_bitmap, clamped[i].want_bitmap);
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}
	for (i = 0; i < NELEM(refusals); i++) {
		int err = try_alloc(m, refusals[i].fmt, refusals[i].ias, refusals[i].oas,
				    refusals[i].bitmap, refusals[i].host, refusals[i].quirks);

		EXPECT(err == refusals[i].err, "refusal %zu: %d, want %d", i, err, refusals[i].err);
	}

	FOR_EACH_FORMAT(f) {
		struct ap_pt_cfg c = { f->format, 48, 48, BM_4K, 0, true, 0 };
		struct ap_pt_mem bad = m->mem;
		struct ap_pt *p = (struct ap_pt *)(uintptr_t)0x1234;

		/* A table with only the smallest page refuses the others. */
		pt = mkpt(m, f->format, 48, 48, SZ_4K);
		assert_int_equal(map1(pt, 0, 0, SZ_2M, RW), -EINVAL);
		assert_int_equal(map1(pt, 0, 0, SZ_1G, RW), -EINVAL);
		assert_int_equal(map1(pt, 0, 0, SZ_4K, RW), 0);
		assert_int_equal(ap_pt_unmap_pages(pt, 0, SZ_2M, 1), 0);
		assert_int_equal(ap_pt_unmap_pages(pt, 0, SZ_4K, 1), SZ_4K);
		ap_pt_free(pt);
		tmem_assert_empty(m);

		/* Out of memory: for the handle, and for the root table. */
		m->fail_handle = true;
		assert_int_equal(try_alloc(m, f->format, 48, 48, BM_4K, 0, 0), -ENOMEM);
		m->fail_handle = false;
		assert_int_equal(m->allocs, m->frees);
		m->fail_in = 1;
		assert_int_equal(ap_pt_alloc(&c, &m->mem, &p), -ENOMEM);
		assert_ptr_equal(p, (struct ap_pt *)(uintptr_t)0x1234);
		m->fail_in = 0;
		tmem_assert_empty(m);
		assert_int_equal(m->handle_allocs, m->handle_frees);
		assert_true(m->handle_allocs > 0);

		/* A provider without map, or none. */
		p = NULL;
		bad.map = NULL;
		assert_int_equal(ap_pt_alloc(&c, &bad, &p), -EINVAL);
		assert_int_equal(ap_pt_alloc(&c, NULL, &p), -EINVAL);
		assert_null(p);
		assert_string_equal(ap_pt_format_name(f->format), f->name);
	}
	assert_string_equal(ap_pt_format_name((enum ap_pt_format)0), "?");
	ap_pt_free(NULL);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/* ================================================================ 3. Linux selftest */

/*
 * io-pgtable-arm's selftest (arm_lpae_run_tests), for every format: an
 * empty table translates nothing; each page size maps, refuses an
 * overlapping map, translates; unmaps with its size, remaps write-only;
 * and the last largest page below 2^ias maps and unmaps.  VT-d takes ias >
 * oas, so that page's output is the last one below 2^oas there.
 */
static void selftest_one(struct tmem *m, enum ap_pt_format fmt, uint64_t bitmap, unsigned ias,
			 unsigned oas)
{
	struct ap_pt *pt = mkpt(m, fmt, ias, oas, bitmap);
	struct ap_pt_cfg cfg;
	uint64_t iova, size, mapped, pa, last_pa;
	unsigned j, n = 0;

	ap_pt_get_cfg(pt, &cfg);
	EXPECT(cfg.pgsize_bitmap == bitmap, "%s ias %u oas %u: bitmap %llx -> %llx",
	       ap_pt_format_name(fmt), ias, oas, (ull)bitmap, (ull)cfg.pgsize_bitmap);
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
		err = ap_pt_map_pages(pt, iova, iova, size, 1, RW | PR_N | PR_C, &mapped);
		EXPECT(err == 0 && mapped == size,
		       "%s bm %llx ias %u oas %u: map %llx size %llx: %d mapped %llx",
		       ap_pt_format_name(fmt), (ull)bitmap, ias, oas, (ull)iova, (ull)size, err,
		       (ull)mapped);
		mapped = 0;
		err = ap_pt_map_pages(pt, iova, iova + size, size, 1, PR_R | PR_N, &mapped);
		EXPECT(err == -EEXIST && mapped == 0,
		       "%s bm %llx ias %u oas %u: overlapping map %llx size %llx: %d",
		       ap_pt_format_name(fmt), (ull)bitmap, ias, oas, (ull)iova, (ull)size, err);
		EXPECT(ap_pt_iova_to_phys(pt, iova + 42, &pa) && pa == iova + 42,
		       "%s bm %llx ias %u oas %u: iova %llx+42 does not translate",
		       ap_pt_format_name(fmt), (ull)bitmap, ias, oas, (ull)iova);
		iova += SZ_1G;
		n++;
	}
	assert_int_equal(ap_pt_leaf_count(pt), n);
	assert_int_equal(ap_pt_sizes_in_use(pt), cfg.pgsize_bitmap);

	iova = 0;
	for (j = 0; j < 64; j++) {
		uint64_t got;
		int err;

		if (!(cfg.pgsize_bitmap & (1ull << j)))
			continue;
		size = 1ull << j;
		got = ap_pt_unmap_pages(pt, iova, size, 1);
		EXPECT(got == size, "%s bm %llx ias %u oas %u: unmap %llx size %llx -> %llx",
		       ap_pt_format_name(fmt), (ull)bitmap, ias, oas, (ull)iova, (ull)size,
		       (ull)got);
		EXPECT(!ap_pt_iova_to_phys(pt, iova + 42, &pa),
		       "%s bm %llx ias %u oas %u: %llx+42 translates after unmap",
		       ap_pt_format_name(fmt), (ull)bitmap, ias, oas, (ull)iova);
		mapped = 0;
		err = ap_pt_map_pages(pt, iova, iova, size, 1, PR_W, &mapped);
		EXPECT(err == 0 && mapped == size,
		       "%s bm %llx ias %u oas %u: write-only remap %llx size %llx: %d",
		       ap_pt_format_name(fmt), (ull)bitmap, ias, oas, (ull)iova, (ull)size, err);
		EXPECT(ap_pt_iova_to_phys(pt, iova + 42, &pa) && pa == iova + 42,
		       "%s bm %llx ias %u oas %u: remapped %llx+42 does not translate",
		       ap_pt_format_name(fmt), (ull)bitmap, ias, oas, (ull)iova);
		assert_int_equal(leaf_at(pt, iova).prot, decoded(fmt, PR_W, 0));
		iova += SZ_1G;
	}

	/* The last largest page below 2^ias: concatenated-PGD corner cases. */
	size = 1ull << (63 - __builtin_clzll(cfg.pgsize_bitmap));
	iova = (1ull << cfg.ias) - size;
	last_pa = (1ull << cfg.oas) - size;
	if (last_pa > iova)
		last_pa = iova;
	mapped = 0;
	EXPECT(ap_pt_map_pages(pt, iova, last_pa, size, 1, RW | PR_N | PR_C, &mapped) == 0 &&
		       mapped == size,
	       "%s bm %llx ias %u oas %u: map of the last page %llx failed",
	       ap_pt_format_name(fmt), (ull)bitmap, ias, oas, (ull)iova);
	expect_phys(pt, iova + size - 1, last_pa + size - 1);
	EXPECT(ap_pt_unmap_pages(pt, iova, size, 1) == size,
	       "%s bm %llx ias %u oas %u: unmap of the last page %llx", ap_pt_format_name(fmt),
	       (ull)bitmap, ias, oas, (ull)iova);
	expect_unmapped(pt, iova);
	ap_pt_free(pt);
	tmem_assert_empty(m);
}

static void test_linux_selftest(void **state)
{
	static const uint64_t bitmaps[] = { BM_4K, BM_16K, BM_64K };
	static const unsigned bits[] = { 32, 36, 40, 42, 44, 48 };
	static const unsigned vtd_ias[] = { 35, 39, 42, 48, 52, 57 };
	static const unsigned vtd_oas[] = { 36, 39, 46, 48, 52 };
	struct tmem *m = tmem_new();
	unsigned b, i, o, configs = 0;

	(void)state;
	for (b = 0; b < 3; b++)
		for (i = 0; i < 6; i++)
			for (o = i; o < 6; o++) {
				selftest_one(m, S1, bitmaps[b], bits[i], bits[o]);
				selftest_one(m, S2, bitmaps[b], bits[i], bits[o]);
				configs++;
			}
	assert_int_equal(configs, 63);
	for (i = 0; i < NELEM(vtd_ias); i++)
		for (o = 0; o < NELEM(vtd_oas); o++)
			selftest_one(m, VTD, BM_ALL, vtd_ias[i], vtd_oas[o]);
	tmem_destroy(m);
}

/* ================================================================ 4. runs and leaves */

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

/* A leaf's descriptor bits but for its address: the golden tables' (the
 * page's, with a block's type 0b01 above the last level for LPAE). */
static uint64_t golden_bits(enum ap_pt_format fmt, unsigned prot, int level)
{
	size_t i;

	if (fmt == VTD) {
		for (i = 0; i < NELEM(vtd_golden); i++)
			if (vtd_golden[i].prot == prot && !vtd_golden[i].snoop &&
			    vtd_golden[i].level == level)
				return vtd_golden[i].pte & 0xfff;
	} else if (fmt == S1) {
		for (i = 0; i < NELEM(lpae_s1_page); i++)
			if (lpae_s1_page[i].prot == prot)
				return (lpae_s1_page[i].pte & ~LPAE_OA_BITS) & (level == 3 ? ~0ull : ~2ull);
	} else {
		for (i = 0; i < NELEM(lpae_s2_page); i++)
			if (lpae_s2_page[i].prot == prot)
				return (lpae_s2_page[i].pte & ~LPAE_OA_BITS) & (level == 3 ? ~0ull : ~2ull);
	}
	fail_msg("no golden for %s prot %#x level %d", ap_pt_format_name(fmt), prot, level);
	return 0;
}

/*
 * generic_pt KUnit's test_mixed: 0x3fe400000..0x4c0600000 with 4K/2M/1G is
 * 14 x 2M + 3 x 1G + 3 x 2M, one map_pages call each run; then unmapped as
 * iommu_unmap would, with the same split.
 */
static void mixed_one(struct tmem *m, const struct fmt *f, unsigned ias)
{
	const uint64_t start = 0x3fe400000ull, end = 0x4c0600000ull;
	struct ap_pt *pt = mkpt(m, f->format, ias, 48, BM_4K);
	struct leafvec lv = { 0 };
	uint64_t calls = 0, iova = start;
	size_t i, n2m = 0, n1g = 0;

	assert_int_equal(map_range(pt, start, start, end - start, RW, &calls), 0);
	assert_int_equal(calls, 3);
	assert_int_equal(ap_pt_leaf_count(pt), 20);
	assert_int_equal(ap_pt_sizes_in_use(pt), SZ_2M | SZ_1G);
	collect(pt, 0, ~0ull, &lv);
	assert_int_equal(lv.n, 20);
	for (i = 0; i < lv.n; i++) {
		uint64_t want = (i < 14 || i >= 17) ? SZ_2M : SZ_1G;
		int level = lvl_of(f, want);

		EXPECT(lv.v[i].iova == iova && lv.v[i].size == want && lv.v[i].pa == iova &&
			       lv.v[i].level == level &&
			       lv.v[i].pte == (iova | golden_bits(f->format, RW, level)),
		       "%s ias %u leaf %zu: iova %llx size %llx pa %llx level %d pte %llx", f->name,
		       ias, i, (ull)lv.v[i].iova, (ull)lv.v[i].size, (ull)lv.v[i].pa, lv.v[i].level,
		       (ull)lv.v[i].pte);
		n2m += want == SZ_2M;
		n1g += want == SZ_1G;
		iova += want;
	}
	assert_int_equal(iova, end);
	assert_int_equal(n2m, 17);
	assert_int_equal(n1g, 3);
	if (f->format == VTD) {
		assert_int_equal(lv.v[0].pte, 0x00000003fe400083ull);
		assert_int_equal(lv.v[14].pte, 0x0000000400000083ull);
		assert_int_equal(lv.v[19].pte, 0x00000004c0400083ull);
	}
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
	iova = start;
	while (iova < end) {
		uint64_t count, pg = ap_pt_pgsize(BM_4K, iova, iova, end - iova, &count);
		uint64_t got = ap_pt_unmap_pages(pt, iova, pg, count);

		assert_true(got > 0);
		iova += got;
	}
	assert_int_equal(iova, end);
	assert_int_equal(ap_pt_leaf_count(pt), 0);
	ap_pt_free(pt);
	tmem_assert_empty(m);
}

static void test_mixed(void **state)
{
	const struct fmt *f;
	struct tmem *m = tmem_new();

	(void)state;
	FOR_EACH_FORMAT(f) {
		mixed_one(m, f, 48);
		if (f->format == VTD) {
			mixed_one(m, f, 39);
			mixed_one(m, f, 57);
		}
	}
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
	const struct fmt *f;
	struct tmem *m = tmem_new();

	(void)state;
	FOR_EACH_FORMAT(f) {
		struct ap_pt *pt = mkpt(m, f->format, 48, 48, BM_4K);
		struct leafvec lv = { 0 };
		unsigned n = 0;

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
		assert_int_equal(lv.v[0].level, f->lvl_1g);
		collect(pt, 1ull << 48, ~0ull, &lv); /* beyond IAS */
		assert_int_equal(lv.n, 0);
		free(lv.v);
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}
	tmem_destroy(m);
}

/*
 * generic_pt KUnit's test_map_table_to_oa: fill a large page's span with
 * small pages, unmap them (half at once, then page by page) leaving an
 * empty table, then map the large page, which turns the empty table into
 * a leaf.
 */
static void table_to_oa(struct tmem *m, const struct fmt *f, unsigned ias, uint64_t small,
			uint64_t large, uint64_t iova)
{
	struct ap_pt *pt = mkpt(m, f->format, ias, 48, BM_4K);
	uint64_t n = large / small, mapped = 0, bytes, k, pa = 0xc0000000ull & ~(large - 1);
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
		       "%s: unmap of small page %llu", f->name, (ull)k);
	assert_int_equal(ap_pt_leaf_count(pt), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes); /* the empty table stays */
	expect_unmapped(pt, iova);
	assert_int_equal(map1(pt, iova, pa, large, RW), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes - SZ_4K);
	assert_int_equal(m->bytes_out, bytes - SZ_4K);
	l = leaf_at(pt, iova + large - 1);
	assert_int_equal(l.size, large);
	assert_int_equal(l.iova, iova);
	assert_int_equal(l.level, lvl_of(f, large));
	assert_int_equal(l.pte, pa | golden_bits(f->format, RW, l.level));
	expect_phys(pt, iova + large - 1, pa + large - 1);
	assert_int_equal(ap_pt_unmap_pages(pt, iova, large, 1), large);
	ap_pt_free(pt);
	tmem_assert_empty(m);
}

static void test_map_table_to_oa(void **state)
{
	static const unsigned widths[] = { 39, 48, 57 };
	const struct fmt *f;
	struct tmem *m = tmem_new();
	size_t i;

	(void)state;
	FOR_EACH_FORMAT(f) {
		for (i = 0; i < 3; i++) {
			unsigned w = f->format == VTD ? widths[i] : 48 - 8 * (unsigned)i;

			table_to_oa(m, f, w, SZ_4K, SZ_2M, 0x40200000ull);
			table_to_oa(m, f, w, SZ_2M, SZ_1G, 0x40000000ull);
			table_to_oa(m, f, w, SZ_4K, SZ_2M, (1ull << w) - SZ_2M);
		}
	}
	tmem_destroy(m);
}

/* ================================================================ 5. semantics */

/* Narrow tables: a root that uses part of its page (LPAE 32-bit: 4 of 512
 * entries; VT-d 35-bit: 32 of 512). */
static const struct {
	enum ap_pt_format fmt;
	unsigned ias, oas;
} narrow[] = { { S1, 32, 40 }, { S2, 32, 40 }, { VTD, 35, 39 } };

static void test_map_semantics(void **state)
{
	const struct fmt *f;
	struct tmem *m = tmem_new();
	struct ap_pt *pt;
	uint64_t mapped;
	size_t i;

	(void)state;
	FOR_EACH_FORMAT(f) {
		pt = mkpt(m, f->format, 48, 48, BM_4K);
		check_tree_map_rules(m, pt);
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}

	for (i = 0; i < NELEM(narrow); i++) {
		const uint64_t top = 1ull << narrow[i].ias, out = 1ull << narrow[i].oas;
		const struct fmt *nf = narrow[i].fmt == VTD ? &formats[2] : &formats[0];

		/* OAS refuses its first PA beyond; IAS its first input beyond. */
		pt = mkpt(m, narrow[i].fmt, narrow[i].ias, narrow[i].oas, BM_4K);
		assert_int_equal(map1(pt, 0, out, SZ_4K, RW), -ERANGE);
		assert_int_equal(map1(pt, 0, out - SZ_4K, SZ_4K, RW), 0);
		assert_int_equal(map1(pt, top, 0, SZ_4K, RW), -ERANGE);
		assert_int_equal(map1(pt, top - SZ_4K, 0, SZ_4K, RW), 0);
		expect_unmapped(pt, top);
		/* Root slot 3 holds a live leaf: a run over it writes nothing. */
		assert_int_equal(map1(pt, 3 * SZ_1G + SZ_4K, 0, SZ_4K, RW), 0);
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

		/* A run of 1G pages stops at 2^ias; so does an io-pgtable-arm
		 * unmap, while generic_pt unmaps nothing of a range reaching
		 * beyond it. */
		pt = mkpt(m, narrow[i].fmt, narrow[i].ias, narrow[i].oas, BM_4K);
		mapped = 0;
		assert_int_equal(ap_pt_map_pages(pt, top - SZ_2G, 0, SZ_1G, 5, RW, &mapped), 0);
		assert_int_equal(mapped, SZ_2G);
		expect_phys(pt, top - SZ_1G + 5, SZ_1G + 5);
		expect_phys(pt, top - 1, SZ_2G - 1);
		assert_int_equal(ap_pt_leaf_count(pt), 2);
		expect_unmap(pt, nf, top - SZ_2G, SZ_1G, 5, by_rule(nf, SZ_2G, 0));
		expect_unmap(pt, nf, top - SZ_2G, SZ_1G, 2, by_rule(nf, 0, SZ_2G));
		assert_int_equal(ap_pt_leaf_count(pt), 0);
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}

	/* LPAE's concatenated S2 PGD: runs stop at each granule page of the PGD,
	 * and so do unmaps. */
	pt = mkpt(m, S2, 40, 40, BM_4K);
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 511 * SZ_1G, 0, SZ_1G, 3, RW, &mapped), 0);
	assert_int_equal(mapped, SZ_1G);
	expect_unmapped(pt, 512 * SZ_1G);
	assert_int_equal(ap_pt_map_pages(pt, 512 * SZ_1G, SZ_1G, SZ_1G, 2, RW, &mapped), 0);
	assert_int_equal(mapped, 3 * SZ_1G);
	expect_phys(pt, 513 * SZ_1G + 7, SZ_2G + 7);
	assert_int_equal(ap_pt_unmap_pages(pt, 511 * SZ_1G, SZ_1G, 3), SZ_1G);
	assert_int_equal(ap_pt_unmap_pages(pt, 512 * SZ_1G, SZ_1G, 3), SZ_2G);
	assert_int_equal(ap_pt_leaf_count(pt), 0);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/*
 * Unmap, by each format's Linux rule (pgtable.h).  io-pgtable-arm: entries
 * of the page size's level, a table there taken whole, holes and all;
 * nothing when a larger leaf or a hole is on the way.  generic_pt: the
 * range at every level, stopping at the first hole anywhere; a leaf taken
 * whole when the range starts at its first byte or ends inside it.
 */
static void unmap_semantics_one(struct tmem *m, const struct fmt *f)
{
	struct ap_pt *pt = mkpt(m, f->format, 48, 48, BM_4K);
	uint64_t bytes, mapped;

	/* Never split a leaf.  From inside: nothing, by either rule. */
	assert_int_equal(map1(pt, 0x200000, 0x80000000, SZ_2M, RW), 0);
	expect_unmap(pt, f, 0x201000, SZ_4K, 1, 0);
	expect_unmap(pt, f, 0x201000, SZ_4K, 511, 0);
	expect_unmap(pt, f, 0x3ff000, SZ_4K, 1, 0);
	assert_int_equal(ap_pt_leaf_count(pt), 1);
	expect_phys(pt, 0x3fffff, 0x801fffff);
	/* From its first byte with less than the leaf: io-pgtable-arm takes
	 * nothing, generic_pt the whole leaf (its test_unmap_split). */
	expect_unmap(pt, f, 0x200000, SZ_4K, 1, by_rule(f, 0, SZ_2M));
	assert_int_equal(ap_pt_leaf_count(pt), by_rule(f, 1, 0));
	if (f->generic_pt)
		assert_int_equal(map1(pt, 0x200000, 0x80000000, SZ_2M, RW), 0);
	expect_unmap(pt, f, 0x200000, SZ_4K, 512, by_rule(f, 0, SZ_2M));
	if (f->generic_pt)
		assert_int_equal(map1(pt, 0x200000, 0x80000000, SZ_2M, RW), 0);
	expect_phys(pt, 0x3fffff, 0x801fffff);
	expect_unmap(pt, f, 0x200000, SZ_2M, 1, SZ_2M);
	expect_unmapped(pt, 0x200000);
	assert_int_equal(ap_pt_leaf_count(pt), 0);
	expect_unmap(pt, f, 0x200000, SZ_2M, 1, 0);
	/* Nor a 1G leaf. */
	assert_int_equal(map1(pt, SZ_1G, 0, SZ_1G, RW), 0);
	expect_unmap(pt, f, SZ_1G + SZ_2M, SZ_2M, 1, 0);
	expect_unmap(pt, f, SZ_1G + SZ_2M, SZ_2M, 511, 0);
	expect_unmap(pt, f, SZ_1G, SZ_2M, 1, by_rule(f, 0, SZ_1G));
	if (f->generic_pt)
		assert_int_equal(map1(pt, SZ_1G, 0, SZ_1G, RW), 0);
	expect_unmap(pt, f, SZ_1G, SZ_4K, 1, by_rule(f, 0, SZ_1G));
	if (f->generic_pt)
		assert_int_equal(map1(pt, SZ_1G, 0, SZ_1G, RW), 0);
	expect_unmap(pt, f, SZ_1G, SZ_1G, 1, SZ_1G);
	assert_int_equal(ap_pt_leaf_count(pt), 0);

	/* A 1G unmap at 0, where the 1G entry holds the table of a 2M leaf
	 * at 0x200000 and nothing at 0: io-pgtable-arm frees that table
	 * whole; generic_pt meets the hole at 0 first. */
	assert_int_equal(map1(pt, 0x200000, 0x80000000, SZ_2M, RW), 0);
	bytes = ap_pt_table_bytes(pt);
	expect_unmap(pt, f, 0, SZ_1G, 1, by_rule(f, SZ_1G, 0));
	assert_int_equal(ap_pt_leaf_count(pt), by_rule(f, 0, 1));
	assert_int_equal(ap_pt_table_bytes(pt), by_rule(f, bytes - SZ_4K, bytes));
	assert_int_equal(m->bytes_out, ap_pt_table_bytes(pt));
	if (f->generic_pt)
		expect_unmap(pt, f, 0x200000, SZ_2M, 1, SZ_2M);
	expect_unmapped(pt, 0x200000);

	/* A hole at the page size's level stops both rules. */
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 0x1000, 0x1000, SZ_4K, 3, RW, &mapped), 0);
	assert_int_equal(map1(pt, 0x5000, 0x5000, SZ_4K, RW), 0);
	expect_unmap(pt, f, 0x1000, SZ_4K, 8, 3 * SZ_4K);
	expect_unmapped(pt, 0x3000);
	expect_phys(pt, 0x5000, 0x5000);
	expect_unmap(pt, f, 0x4000, SZ_4K, 2, 0);
	expect_phys(pt, 0x5000, 0x5000);
	expect_unmap(pt, f, 0x5000, SZ_4K, 1, SZ_4K);
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 0x400000, 0, SZ_2M, 2, RW, &mapped), 0);
	assert_int_equal(map1(pt, 0xa00000, 0, SZ_2M, RW), 0);
	expect_unmap(pt, f, 0x400000, SZ_2M, 4, 2 * SZ_2M);
	expect_phys(pt, 0xa00000, 0);
	expect_unmap(pt, f, 0xa00000, SZ_2M, 1, SZ_2M);
	assert_int_equal(ap_pt_leaf_count(pt), 0);

	/* A 2M unmap over a table full of 4K leaves: all of it, and the table
	 * goes, by either rule. */
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 0x40000000, 0x7000000, SZ_4K, 512, PR_W, &mapped), 0);
	assert_int_equal(mapped, SZ_2M);
	assert_int_equal(ap_pt_leaf_count(pt), 512);
	assert_int_equal(ap_pt_sizes_in_use(pt), SZ_4K);
	bytes = ap_pt_table_bytes(pt);
	expect_unmap(pt, f, 0x40000000, SZ_2M, 1, SZ_2M);
	assert_int_equal(ap_pt_table_bytes(pt), bytes - SZ_4K);
	assert_int_equal(m->bytes_out, bytes - SZ_4K);
	assert_int_equal(ap_pt_leaf_count(pt), 0);
	assert_int_equal(ap_pt_sizes_in_use(pt), 0);
	expect_unmapped(pt, 0x40000000);

	/* A 1G unmap over 2M and 4K leaves covering it all: both tables go. */
	bytes = ap_pt_table_bytes(pt);
	assert_int_equal(map_range(pt, SZ_2G, SZ_2G, SZ_1G - SZ_2M, RW, NULL), 0);
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 3 * SZ_1G - SZ_2M, 0, SZ_4K, 512, RW, &mapped), 0);
	assert_int_equal(ap_pt_leaf_count(pt), 511 + 512);
	assert_int_equal(ap_pt_sizes_in_use(pt), SZ_4K | SZ_2M);
	assert_int_equal(ap_pt_table_bytes(pt), bytes + 2 * SZ_4K);
	expect_unmap(pt, f, SZ_2G, SZ_1G, 1, SZ_1G);
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	assert_int_equal(ap_pt_leaf_count(pt), 0);

	/* The same with holes: a 2M leaf and, two entries on, a table holding
	 * one 4K leaf past its own hole.  io-pgtable-arm takes both tables
	 * whole; generic_pt stops at the first hole. */
	bytes = ap_pt_table_bytes(pt);
	assert_int_equal(map1(pt, 5 * SZ_1G, 0, SZ_2M, RW), 0);
	assert_int_equal(map1(pt, 5 * SZ_1G + SZ_4M + SZ_4K, 0x1000, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes + 2 * SZ_4K);
	expect_unmap(pt, f, 5 * SZ_1G, SZ_1G, 1, by_rule(f, SZ_1G, SZ_2M));
	assert_int_equal(ap_pt_leaf_count(pt), by_rule(f, 0, 1));
	assert_int_equal(ap_pt_sizes_in_use(pt), by_rule(f, 0, SZ_4K));
	assert_int_equal(ap_pt_table_bytes(pt), by_rule(f, bytes, bytes + 2 * SZ_4K));
	if (f->generic_pt)
		expect_unmap(pt, f, 5 * SZ_1G + SZ_4M + SZ_4K, SZ_4K, 1, SZ_4K);
	expect_unmapped(pt, 5 * SZ_1G + SZ_4M + SZ_4K);

	/* The issue's example: 4K at 0x0 and at 0x5000 (here in the table at
	 * 0x60000000), then 2M at its start: io-pgtable-arm unmaps both and
	 * reports 2M, generic_pt stops at the hole after the first. */
	assert_int_equal(map1(pt, 0x60000000, 0x1000, SZ_4K, RW), 0);
	assert_int_equal(map1(pt, 0x60005000, 0x2000, SZ_4K, RW), 0);
	bytes = ap_pt_table_bytes(pt);
	expect_unmap(pt, f, 0x60000000, SZ_2M, 1, by_rule(f, SZ_2M, SZ_4K));
	if (f->generic_pt)
		expect_phys(pt, 0x60005000, 0x2000);
	else
		expect_unmapped(pt, 0x60005000);
	assert_int_equal(ap_pt_table_bytes(pt), by_rule(f, bytes - SZ_4K, bytes));
	/* A 2M entry whose table starts with a hole: nothing by either rule
	 * (io-pgtable-arm: the entry is empty now; generic_pt: the hole). */
	expect_unmap(pt, f, 0x60000000, SZ_2M, 1, 0);
	if (f->generic_pt)
		expect_unmap(pt, f, 0x60005000, SZ_4K, 1, SZ_4K);
	assert_int_equal(ap_pt_leaf_count(pt), 0);

	/* A 2M unmap over a partly filled table: 10 leaves, a hole, a leaf. */
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 0x60000000, 0, SZ_4K, 10, RW, &mapped), 0);
	assert_int_equal(map1(pt, 0x60000000 + 20 * SZ_4K, 0, SZ_4K, RW), 0);
	expect_unmap(pt, f, 0x60000000, SZ_2M, 1, by_rule(f, SZ_2M, 10 * SZ_4K));
	assert_int_equal(ap_pt_leaf_count(pt), by_rule(f, 0, 1));
	expect_unmapped(pt, 0x60000000 + 9 * SZ_4K);
	if (f->generic_pt) {
		expect_phys(pt, 0x60000000 + 20 * SZ_4K, 0);
		expect_unmap(pt, f, 0x60000000, SZ_2M, 1, 0);
		assert_int_equal(ap_pt_leaf_count(pt), 1);
		expect_unmap(pt, f, 0x60000000 + 20 * SZ_4K, SZ_4K, 1, SZ_4K);
	}

	/* A range that ends inside a leaf: generic_pt takes the leaf whole;
	 * io-pgtable-arm stops at the end of the table page. */
	mapped = 0;
	assert_int_equal(ap_pt_map_pages(pt, 0x1000, 0x1000, SZ_4K, 511, RW, &mapped), 0);
	assert_int_equal(map1(pt, 0x200000, 0x80000000, SZ_2M, RW), 0);
	expect_unmap(pt, f, 0x1000, SZ_4K, 512, by_rule(f, 511 * SZ_4K, 511 * SZ_4K + SZ_2M));
	if (!f->generic_pt) {
		expect_unmap(pt, f, 0x200000, SZ_4K, 1, 0);
		expect_unmap(pt, f, 0x200000, SZ_2M, 1, SZ_2M);
	}
	assert_int_equal(ap_pt_leaf_count(pt), 0);

	/* A range across table pages: generic_pt is not clipped by them. */
	assert_int_equal(map_range(pt, 0x10000000 - 100 * SZ_4K, 0x10000000 - 100 * SZ_4K,
				   600 * SZ_4K, RW, NULL), 0);
	expect_unmap(pt, f, 0x10000000 - 100 * SZ_4K, SZ_4K, 600,
		     by_rule(f, 100 * SZ_4K, 600 * SZ_4K));
	if (!f->generic_pt)
		expect_unmap(pt, f, 0x10000000, SZ_4K, 500, 500 * SZ_4K);
	assert_int_equal(ap_pt_leaf_count(pt), 0);

	/* A range reaching beyond 2^ias: generic_pt unmaps none of it. */
	assert_int_equal(map1(pt, (1ull << 48) - SZ_4K, 0, SZ_4K, RW), 0);
	expect_unmap(pt, f, (1ull << 48) - SZ_4K, SZ_4K, 2, by_rule(f, SZ_4K, 0));
	if (f->generic_pt)
		expect_unmap(pt, f, (1ull << 48) - SZ_4K, SZ_4K, 1, SZ_4K);
	expect_unmap(pt, f, 1ull << 48, SZ_4K, 1, 0);
	assert_int_equal(ap_pt_leaf_count(pt), 0);
	assert_int_equal(ap_pt_sizes_in_use(pt), 0);
	ap_pt_free(pt);
	tmem_assert_empty(m);
}

static void test_unmap_semantics(void **state)
{
	const struct fmt *f;
	struct tmem *m = tmem_new();

	(void)state;
	FOR_EACH_FORMAT(f)
		unmap_semantics_one(m, f);
	tmem_destroy(m);
}

/* The descriptor of the leaf holding iova (0: none). */
static int note_pte(void *arg, const struct ap_pt_leaf *leaf)
{
	*(uint64_t *)arg = leaf->pte;
	return 1;
}

static uint64_t leaf_pte(const struct ap_pt *pt, uint64_t iova)
{
	uint64_t pte = 0;

	ap_pt_for_each_leaf(pt, iova, iova, note_pte, &pte);
	return pte;
}

/*
 * ap_pt_map_one_kept(): one leaf into an empty slot of the table this
 * thread used last, 4K into a last-level table and 2M into a level above,
 * the descriptor ap_pt_map_pages() writes; everything else false with
 * nothing written.
 */
static void map_one_kept_one(struct tmem *m, const struct fmt *f)
{
	struct ap_pt *pt = mkpt(m, f->format, 48, 48, BM_4K);
	struct ap_pt *ref = mkpt(m, f->format, 48, 48, BM_4K);
	const uint64_t pa = 0x80000000ull;

	assert_false(ap_pt_map_one_kept(pt, 0x1000, pa + SZ_4K, SZ_4K, RW));
	assert_int_equal(ap_pt_leaf_count(pt), 0);
	assert_int_equal(map1(pt, 0, pa, SZ_4K, RW), 0);
	assert_true(ap_pt_map_one_kept(pt, 0x1000, pa + SZ_4K, SZ_4K, RW));
	expect_phys(pt, 0x1234, pa + 0x1234);
	assert_int_equal(map1(ref, 0x1000, pa + SZ_4K, SZ_4K, RW), 0);
	assert_int_equal(leaf_pte(pt, 0x1000), leaf_pte(ref, 0x1000));
	/* taken, another table, or what a map refuses: nothing */
	assert_false(ap_pt_map_one_kept(pt, 0x1000, pa, SZ_4K, RW));
	expect_phys(pt, 0x1000, pa + SZ_4K);
	assert_false(ap_pt_map_one_kept(pt, SZ_2M, pa, SZ_4K, RW));
	assert_false(ap_pt_map_one_kept(pt, 0x2000, pa, SZ_4K, 0));
	assert_false(ap_pt_map_one_kept(pt, 0x2000, pa, 2 * SZ_4K, RW));
	assert_false(ap_pt_map_one_kept(pt, 0x2000, 1ull << 48, SZ_4K, RW));
	assert_int_equal(ap_pt_leaf_count(pt), 2);
	expect_unmapped(pt, 0x2000);
	expect_unmapped(pt, SZ_2M);
	/* a 2M block beside another in their level's table */
	assert_int_equal(map1(pt, SZ_1G, pa, SZ_2M, RW | AP_PROT_CACHE), 0);
	assert_true(ap_pt_map_one_kept(pt, SZ_1G + SZ_2M, pa + SZ_2M, SZ_2M, RW | AP_PROT_CACHE));
	expect_phys(pt, SZ_1G + SZ_2M + 0x1234, pa + SZ_2M + 0x1234);
	assert_int_equal(map1(ref, SZ_1G + SZ_2M, pa + SZ_2M, SZ_2M, RW | AP_PROT_CACHE), 0);
	assert_int_equal(leaf_pte(pt, SZ_1G + SZ_2M), leaf_pte(ref, SZ_1G + SZ_2M));
	assert_int_equal(ap_pt_sizes_in_use(pt), SZ_4K | SZ_2M);
	assert_int_equal(ap_pt_leaf_count(pt), 4);
	ap_pt_free(pt);
	ap_pt_free(ref);
}

static void test_map_one_kept(void **state)
{
	const struct fmt *f;
	struct tmem *m = tmem_new();

	(void)state;
	FOR_EACH_FORMAT(f)
		map_one_kept_one(m, f);
	tmem_destroy(m);
}

/*
 * A root handed to a smaller walker is pinned: no block replaces it and no
 * unmap frees it, or the walker would follow freed memory.  LPAE: a 64K
 * table whose 4T level-1 entries are a page size (the pinned root of a
 * 32-bit walker is a level-2 table in one); VT-d: the PDPT of a 39-bit
 * walker in PML4E 0, which a range over all of it covers.
 */
static const struct {
	enum ap_pt_format fmt;
	unsigned ias, oas;
	uint64_t bitmap, big, small;
	unsigned walker_ias;
	int walker_start;
} pinned[] = {
	{ S1, 52, 52, BM_64K | SZ_4T, SZ_4T, SZ_512M, 32, 2 },
	{ VTD, 48, 48, BM_ALL, SZ_512G, SZ_1G, 39, 3 },
};

static void test_walker_root_pinned(void **state)
{
	struct tmem *m = tmem_new();
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(pinned); i++) {
		struct ap_pt *pt = mkpt(m, pinned[i].fmt, pinned[i].ias, pinned[i].oas,
					pinned[i].bitmap);
		uint64_t n = pinned[i].big / pinned[i].small, mapped = 0, bytes;
		int lvl = pinned[i].walker_start;
		struct ap_pt_walk_cfg wc;

		assert_int_equal(ap_pt_walk_cfg_for_ias(pt, pinned[i].walker_ias, &wc), 0);
		assert_int_equal(ap_pt_start_level(&wc), lvl);
		bytes = ap_pt_table_bytes(pt);
		/* A block over the walker's (empty) root is refused. */
		if (pinned[i].bitmap & pinned[i].big) {
			assert_int_equal(ap_pt_map_pages(pt, 0, 0, pinned[i].big, 1, RW, &mapped),
					 -EEXIST);
			assert_int_equal(mapped, 0);
			assert_int_equal(ap_pt_table_bytes(pt), bytes);
		}
		/* Fill the whole span with the smaller pages, then unmap it in
		 * one: every leaf goes, the pinned table stays. */
		assert_int_equal(ap_pt_map_pages(pt, 0, 0, pinned[i].small, n, RW, &mapped), 0);
		assert_int_equal(mapped, pinned[i].big);
		walk_ok(&wc, m, 0x12345678, AP_ACCESS_READ, 0x12345678, lvl);
		if (pinned[i].bitmap & pinned[i].big)
			assert_int_equal(ap_pt_unmap_pages(pt, 0, pinned[i].big, 1), pinned[i].big);
		else
			assert_int_equal(ap_pt_unmap_pages(pt, 0, pinned[i].small, n), pinned[i].big);
		assert_int_equal(ap_pt_leaf_count(pt), 0);
		assert_int_equal(ap_pt_table_bytes(pt), bytes);
		walk_fault(&wc, m, 0x12345678, AP_ACCESS_READ, AP_FAULT_TRANSLATION, lvl);
		assert_int_equal(map1(pt, pinned[i].small, 0x80000000, pinned[i].small, RW), 0);
		walk_ok(&wc, m, pinned[i].small + 4, AP_ACCESS_READ, 0x80000004, lvl);
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}
	tmem_destroy(m);
}

/* Map never follows a descriptor that is neither empty nor a table (LPAE:
 * type 0b10; VT-d: PS in a PML4E), and checks every page's output address
 * against OAS, not just the first. */
static void test_map_refuses_what_it_cannot_follow(void **state)
{
	const struct fmt *f;
	struct tmem *m = tmem_new();

	(void)state;
	FOR_EACH_FORMAT(f) {
		/* (4K stage 2 at 48 bits takes no OAS of 40 or 42) */
		unsigned oas = f->format == S2 ? 44 : 40;
		struct ap_pt *pt = mkpt(m, f->format, 48, oas, BM_4K);
		uint64_t mapped = 0, bytes = ap_pt_table_bytes(pt);

		wr_desc(m, root_pa(pt), 1, f->generic_pt ? 0x0000000000000083ull
							 : 0x0000000040000002ull);
		assert_int_equal(ap_pt_map_pages(pt, 1ull << 39, 0x1000, SZ_4K, 1, RW, &mapped),
				 -EEXIST);
		assert_int_equal(mapped, 0);
		assert_int_equal(ap_pt_table_bytes(pt), bytes);
		/* Nor does unmap. */
		expect_unmap(pt, f, 1ull << 39, SZ_4K, 1, 0);
		expect_unmap(pt, f, 1ull << 39, SZ_1G, 1, 0);
		wr_desc(m, root_pa(pt), 1, 0);
		assert_int_equal(ap_pt_map_pages(pt, 0, (1ull << oas) - SZ_4K, SZ_4K, 2, RW, &mapped),
				 -ERANGE);
		assert_int_equal(mapped, 0);
		assert_int_equal(ap_pt_leaf_count(pt), 0);
		assert_int_equal(ap_pt_map_pages(pt, 0, (1ull << oas) - SZ_8K, SZ_4K, 2, RW, &mapped),
				 0);
		assert_int_equal(mapped, SZ_8K);
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}
	tmem_destroy(m);
}

/* ================================================================ 6. walks */

/*
 * Hand-built tables, one set per format, and what a walk of each address
 * with each access must answer: the output and leaf level, or the fault
 * and the level it is reported at (-1: any).  The walker reads only through
 * the provider, so a descriptor pointing at memory nobody backs is an
 * external fault, not a crash.
 */
#define BIG (1ull << 40) /* the first output address beyond an OAS of 40 */
#define RD AP_ACCESS_READ
#define WR AP_ACCESS_WRITE
#define XN AP_ACCESS_EXEC
#define PV AP_ACCESS_PRIV
#define NOTAB (-1)

/* A descriptor written by hand: value, ORed with the address of table
 * `ref` unless ref is NOTAB. */
struct wdesc {
	int table;
	unsigned idx;
	uint64_t value;
	int ref;
};

#define W_OK(iova_, access_, pa_, level_) { iova_, access_, AP_FAULT_NONE, pa_, level_, 0, 0, 0, 0, 0 }
#define W_FAULT(iova_, access_, kind_, level_) { iova_, access_, kind_, 0, level_, 0, 0, 0, 0, 0 }

struct wprobe {
	uint64_t iova;
	unsigned access;
	enum ap_fault_kind fault; /* AP_FAULT_NONE: translates */
	uint64_t pa;
	int level;
	/* when leaf_size is set, the leaf the walk reports (faults too) */
	uint64_t leaf_size, leaf_iova, leaf_pa, leaf_pte;
	unsigned leaf_prot;
};

/* One walker configuration over the tables: its root is table root_table,
 * or root_pa when root_table is NOTAB. */
struct wscene {
	enum ap_pt_format fmt;
	unsigned ias, oas;
	int root_table;
	uint64_t root_pa;
	int start; /* ap_pt_start_level() of it */
	const struct wdesc *desc; /* written first */
	size_t ndesc;
	const struct wprobe *probe;
	size_t nprobe;
};

#define SCENE(fmt_, ias_, oas_, root_, pa_, start_, desc_, probe_) \
	{ fmt_, ias_, oas_, root_, pa_, start_, desc_, NELEM(desc_), probe_, NELEM(probe_) }
#define SCENE_NO_DESC(fmt_, ias_, oas_, root_, pa_, start_, probe_) \
	{ fmt_, ias_, oas_, root_, pa_, start_, NULL, 0, probe_, NELEM(probe_) }

/* ---- LPAE: l0..l3 at indices 0..3, stage 1, 4K granule, ias 48, oas 40 */

static const struct wdesc lpae_desc[] = {
	{ 0, 0, 3, 1 }, { 1, 0, 3, 2 }, { 2, 0, 3, 3 },
	{ 3, 1, 0x0000000080001e43ull, NOTAB }, /* rw, unprivileged */
	{ 3, 3, 0x0000000080003a43ull, NOTAB }, /* AF clear */
	{ 3, 4, 0x0000000080004ec3ull, NOTAB }, /* read-only */
	{ 3, 5, 0x0000000080005e03ull, NOTAB }, /* AP[1] clear: privileged only */
	{ 3, 6, 0x0000000080006e41ull, NOTAB }, /* block type at L3 */
	{ 3, 7, BIG | 0xe43, NOTAB },           /* output beyond OAS */
	{ 3, 8, 0x0060000080008e43ull, NOTAB }, /* UXN+PXN */
	{ 3, 9, 0x0000000080009e42ull, NOTAB }, /* valid bit clear */
	{ 3, 10, 0x002000008000ae43ull, NOTAB }, /* PXN only */
	{ 3, 11, 0x004000008000be43ull, NOTAB }, /* UXN only */
	{ 2, 1, 0x0000000080200e41ull, NOTAB }, /* 2M block */
	{ 2, 3, BIG | 3, 3 },                   /* next table beyond OAS */
	{ 2, 4, 0x30000000ull | 3, NOTAB },     /* next table below the arena */
	{ 2, 5, (ARENA_BASE + ARENA_SIZE - SZ_2M) | 3, NOTAB }, /* unallocated */
	{ 2, 6, 0x0000000080000002ull, NOTAB }, /* reserved type 0b10 */
	{ 1, 1, 0x00000000c0000ec1ull, NOTAB }, /* 1G block, read-only */
	{ 0, 1, 0x0000000000000e41ull, NOTAB }, /* 512G block: not in a 4K L0 */
};

static const struct wprobe lpae_probes[] = {
	/* The good page, in detail. */
	{ 0x1123, RD, AP_FAULT_NONE, 0x80001123, 3, SZ_4K, 0x1000, 0x80001000,
	  0x0000000080001e43ull, RW },
	W_OK(0x1fff, WR, 0x80001fff, 3),
	W_OK(0x1000, RD | WR, 0x80001000, 3),
	W_OK(0x1000, RD | PV, 0x80001000, 3),
	W_OK(0x1000, XN, 0x80001000, 3),
	W_FAULT(0x2000, RD, AP_FAULT_TRANSLATION, 3),
	W_FAULT(0x3000, RD, AP_FAULT_ACCESS_FLAG, 3),
	W_FAULT(0x3000, RD | PV, AP_FAULT_ACCESS_FLAG, 3),
	W_OK(0x4010, RD, 0x80004010, 3),
	W_FAULT(0x4010, WR, AP_FAULT_PERMISSION, 3),
	W_FAULT(0x4010, RD | WR, AP_FAULT_PERMISSION, 3),
	W_FAULT(0x4010, WR | PV, AP_FAULT_PERMISSION, 3),
	W_FAULT(0x5000, RD, AP_FAULT_PERMISSION, 3),
	W_FAULT(0x5000, WR, AP_FAULT_PERMISSION, 3),
	W_OK(0x5008, RD | PV, 0x80005008, 3),
	W_OK(0x5008, WR | PV, 0x80005008, 3),
	{ 0x5000, PV, AP_FAULT_NONE, 0x80005000, 3, SZ_4K, 0x5000, 0x80005000,
	  0x0000000080005e03ull, RW | PR_P },
	W_FAULT(0x6000, RD | PV, AP_FAULT_TRANSLATION, 3),
	W_FAULT(0x7000, RD | PV, AP_FAULT_ADDRESS_SIZE, 3),
	{ 0x8000, RD, AP_FAULT_NONE, 0x80008000, 3, SZ_4K, 0x8000, 0x80008000,
	  0x0060000080008e43ull, RW | PR_N },
	W_FAULT(0x8000, XN, AP_FAULT_PERMISSION, 3),
	W_FAULT(0x8000, XN | PV, AP_FAULT_PERMISSION, 3),
	W_FAULT(0x9000, RD | PV, AP_FAULT_TRANSLATION, 3),
	W_OK(0xa000, XN, 0x8000a000, 3),
	W_FAULT(0xa000, XN | PV, AP_FAULT_PERMISSION, 3),
	W_FAULT(0xb000, XN, AP_FAULT_PERMISSION, 3),
	W_OK(0xb000, XN | PV, 0x8000b000, 3),
	/* Level 2. */
	W_OK(0x201234, RD | WR, 0x80201234, 2),
	{ 0x3fffff, RD, AP_FAULT_NONE, 0x803fffff, 2, SZ_2M, 0x200000, 0x80200000,
	  0x0000000080200e41ull, RW },
	W_FAULT(0x400000, RD, AP_FAULT_TRANSLATION, 2),
	W_FAULT(0x600000, RD, AP_FAULT_ADDRESS_SIZE, 2), /* the L2 descriptor holding it */
	W_FAULT(0x800000, RD, AP_FAULT_EXTERNAL, 3),
	W_FAULT(0xa00000, RD, AP_FAULT_EXTERNAL, 3),
	W_FAULT(0xc00000, RD, AP_FAULT_TRANSLATION, 2),
	/* Level 1. */
	W_OK(SZ_1G + 0x12345, RD, 0xc0012345, 1),
	W_FAULT(SZ_1G + 0x12345, WR, AP_FAULT_PERMISSION, 1),
	W_FAULT(SZ_2G, RD, AP_FAULT_TRANSLATION, 1),
	/* Level 0: a block is not a thing there with a 4K granule. */
	W_FAULT(1ull << 39, RD | PV, AP_FAULT_TRANSLATION, 0),
	W_FAULT(2ull << 39, RD, AP_FAULT_TRANSLATION, 0),
	/* Input beyond IAS. */
	W_FAULT(1ull << 48, RD, AP_FAULT_ADDRESS_SIZE, -1),
	W_FAULT(~0ull, RD, AP_FAULT_ADDRESS_SIZE, -1),
};

/* The same tables walked with a smaller IAS, and roots nobody can use. */
static const struct wprobe lpae_probes_ias40[] = {
	W_OK(0x1000, RD, 0x80001000, 3),
	W_FAULT(1ull << 40, RD, AP_FAULT_ADDRESS_SIZE, -1),
};
static const struct wprobe lpae_probes_root_big[] = {
	W_FAULT(0x1000, RD, AP_FAULT_ADDRESS_SIZE, 0),
};
static const struct wprobe lpae_probes_root_unbacked[] = {
	W_FAULT(0x1000, RD, AP_FAULT_EXTERNAL, 0),
};

/* Stage 2, 4K, ias = oas = 40: a 2-page concatenated PGD at L1 (table 4). */
static const struct wdesc lpae_s2_desc[] = {
	{ 4, 513, 0x00000000c000077dull, NOTAB }, /* r, cache, 1G */
	{ 4, 2, 0x00600001000007fdull, NOTAB },   /* rw, cache, XN */
};
static const struct wprobe lpae_s2_probes[] = {
	{ 513 * SZ_1G + 0x42, RD, AP_FAULT_NONE, 0xc0000042, 1, SZ_1G, 513 * SZ_1G, 0xc0000000,
	  0x00000000c000077dull, PR_R | PR_C },
	W_OK(513 * SZ_1G + 0x42, XN, 0xc0000042, 1),
	W_FAULT(513 * SZ_1G, WR, AP_FAULT_PERMISSION, 1),
	W_FAULT(513 * SZ_1G, WR | PV, AP_FAULT_PERMISSION, 1),
	W_OK(2 * SZ_1G + 1, RD | WR, 0x100000001ull, 1),
	W_FAULT(2 * SZ_1G + 1, XN, AP_FAULT_PERMISSION, 1),
	W_FAULT(0, RD, AP_FAULT_TRANSLATION, 1),
	W_FAULT(512 * SZ_1G, RD, AP_FAULT_TRANSLATION, 1),
	W_FAULT(1ull << 40, RD, AP_FAULT_ADDRESS_SIZE, -1),
};

static const struct wscene lpae_scenes[] = {
	SCENE(S1, 48, 40, 0, 0, 0, lpae_desc, lpae_probes),
	SCENE_NO_DESC(S1, 40, 40, 0, 0, 0, lpae_probes_ias40),
	SCENE_NO_DESC(S1, 48, 40, NOTAB, BIG, 0, lpae_probes_root_big),
	SCENE_NO_DESC(S1, 48, 40, NOTAB, 0x30000000, 0, lpae_probes_root_unbacked),
	SCENE(S2, 40, 40, 4, 0, 1, lpae_s2_desc, lpae_s2_probes),
};

/* ---- VT-d: l4, l3, l2, l1, l1b, l5 at indices 0..5, ias 48, oas 40 */

static const struct wdesc vtd_desc[] = {
	{ 0, 0, 3, 1 }, { 1, 0, 3, 2 }, { 2, 0, 3, 3 },
	/* PTEs: iova = index * 4K */
	{ 3, 1, 0x0000000080001003ull, NOTAB },  /* rw */
	{ 3, 2, 0x0000000080002001ull, NOTAB },  /* read-only */
	{ 3, 3, 0x0000000080003002ull, NOTAB },  /* write-only */
	{ 3, 4, 0x0000000080004800ull, NOTAB },  /* SNP, neither R nor W: not present */
	{ 3, 5, 0x0000000080005083ull, NOTAB },  /* PS in a PTE: reserved */
	{ 3, 6, BIG | 0x3, NOTAB },              /* output beyond OAS */
	{ 3, 7, 0x0000000080007803ull, NOTAB },  /* rw, snoop */
	{ 3, 8, 0x0000000080008f7full, NOTAB },  /* every bit but PS below bit 12 */
	{ 3, 9, 0x8010000080009001ull, NOTAB },  /* bits 63 and 52: not address */
	/* PDEs: iova = index * 2M */
	{ 2, 1, 0x0000000080200083ull, NOTAB },  /* 2M rw */
	{ 2, 2, 0x0000000080400081ull, NOTAB },  /* 2M read-only */
	{ 2, 3, BIG | 3, 3 },                    /* next table beyond OAS */
	{ 2, 4, 0x30000000ull | 3, NOTAB },      /* next table below the arena */
	{ 2, 5, (ARENA_BASE + ARENA_SIZE - SZ_2M) | 3, NOTAB }, /* unallocated */
	{ 2, 6, 1, 4 },                          /* table entry: read only */
	{ 2, 7, 2, 4 },                          /* table entry: write only */
	{ 2, 8, 0x0000000080e00082ull, NOTAB },  /* 2M write-only */
	{ 2, 9, 0x0000000081200080ull, NOTAB },  /* PS alone: not present */
	{ 2, 10, BIG | 0x83, NOTAB },            /* 2M output beyond OAS */
	{ 4, 0, 0x000000008000c003ull, NOTAB },  /* rw */
	/* PDPEs: iova = index * 1G */
	{ 1, 1, 0x00000000c0000083ull, NOTAB },  /* 1G rw */
	{ 1, 2, 0x00000000c0000081ull, NOTAB },  /* 1G read-only */
	/* PML4Es: iova = index * 512G */
	{ 0, 1, 0x0000000000000083ull, NOTAB },  /* PS in a PML4E: reserved */
	{ 0, 3, 1, 1 },                          /* read-only 512G region */
};

static const struct wprobe vtd_probes[] = {
	/* The good page, in detail. */
	{ 0x1123, RD, AP_FAULT_NONE, 0x80001123, 1, SZ_4K, 0x1000, 0x80001000,
	  0x0000000080001003ull, RW },
	W_OK(0x1fff, WR, 0x80001fff, 1),
	W_OK(0x1000, RD | WR, 0x80001000, 1),
	W_OK(0x1000, RD | WR | XN | PV, 0x80001000, 1),
	W_OK(0x1000, 0, 0x80001000, 1),
	/* Read-only and write-only pages; exec and priv play no part. */
	W_OK(0x2010, RD, 0x80002010, 1),
	W_OK(0x2010, RD | XN | PV, 0x80002010, 1),
	W_FAULT(0x2010, WR, AP_FAULT_PERMISSION, 1),
	W_FAULT(0x2010, RD | WR, AP_FAULT_PERMISSION, 1),
	W_OK(0x3010, WR, 0x80003010, 1),
	W_OK(0x3010, XN, 0x80003010, 1),
	W_OK(0x3010, PV, 0x80003010, 1),
	W_FAULT(0x3010, RD, AP_FAULT_PERMISSION, 1),
	W_FAULT(0x3010, RD | PV, AP_FAULT_PERMISSION, 1),
	/* a refused access still reports the leaf */
	{ 0x3000, RD, AP_FAULT_PERMISSION, 0, 1, SZ_4K, 0x3000, 0x80003000,
	  0x0000000080003002ull, PR_W },
	W_FAULT(0x4000, PV, AP_FAULT_TRANSLATION, 1),
	W_FAULT(0x5000, PV, AP_FAULT_TRANSLATION, 1),
	W_FAULT(0x6000, PV, AP_FAULT_ADDRESS_SIZE, 1),
	{ 0x7000, RD | WR, AP_FAULT_NONE, 0x80007000, 1, SZ_4K, 0x7000, 0x80007000,
	  0x0000000080007803ull, RW | PR_C },
	{ 0x8abc, RD | WR, AP_FAULT_NONE, 0x80008abc, 1, SZ_4K, 0x8000, 0x80008000,
	  0x0000000080008f7full, RW | PR_C },
	W_OK(0x9abc, RD, 0x80009abc, 1),
	W_FAULT(0x9abc, WR, AP_FAULT_PERMISSION, 1),
	W_FAULT(0xa000, PV, AP_FAULT_TRANSLATION, 1),
	/* Level 2. */
	W_OK(0x201234, RD | WR, 0x80201234, 2),
	{ 0x3fffff, RD, AP_FAULT_NONE, 0x803fffff, 2, SZ_2M, 0x200000, 0x80200000,
	  0x0000000080200083ull, RW },
	W_OK(0x400000, RD, 0x80400000, 2),
	W_FAULT(0x400000, WR, AP_FAULT_PERMISSION, 2),
	W_FAULT(0x600000, RD, AP_FAULT_ADDRESS_SIZE, 2), /* the PDE holding it */
	W_FAULT(0x800000, RD, AP_FAULT_EXTERNAL, 1),
	W_FAULT(0xa00000, RD, AP_FAULT_EXTERNAL, 1),
	/* R and W of a table entry govern all it maps. */
	W_OK(0xc00010, RD, 0x8000c010, 1),
	W_FAULT(0xc00010, WR, AP_FAULT_PERMISSION, 2),
	W_FAULT(0xc00010, RD | WR, AP_FAULT_PERMISSION, 2),
	W_OK(0xe00010, WR, 0x8000c010, 1),
	W_FAULT(0xe00010, RD, AP_FAULT_PERMISSION, 2),
	W_FAULT(0xc01000, PV, AP_FAULT_TRANSLATION, 1), /* PTE 1 is empty */
	W_OK(0x1000000, WR, 0x80e00000, 2),
	W_FAULT(0x1000000, RD, AP_FAULT_PERMISSION, 2),
	W_FAULT(0x1200000, PV, AP_FAULT_TRANSLATION, 2),
	W_FAULT(0x1400000, PV, AP_FAULT_ADDRESS_SIZE, 2),
	/* Level 3. */
	W_OK(SZ_1G + 0x12345, RD | WR, 0xc0012345, 3),
	W_OK(SZ_2G + 0x12345, RD, 0xc0012345, 3),
	W_FAULT(SZ_2G, WR, AP_FAULT_PERMISSION, 3),
	W_FAULT(3 * SZ_1G, RD, AP_FAULT_TRANSLATION, 3),
	/* Level 4: PS reserved, empty, read-only region. */
	W_FAULT(SZ_512G, PV, AP_FAULT_TRANSLATION, 4),
	W_FAULT(2 * SZ_512G, RD, AP_FAULT_TRANSLATION, 4),
	W_OK(3 * SZ_512G + SZ_1G + 8, RD, 0xc0000008, 3),
	W_FAULT(3 * SZ_512G + SZ_1G + 8, WR, AP_FAULT_PERMISSION, 4),
	W_OK(3 * SZ_512G + 0x1000, RD, 0x80001000, 1),
	/* Input beyond the width. */
	W_FAULT(1ull << 48, RD, AP_FAULT_ADDRESS_SIZE, 4),
	W_FAULT(~0ull, RD, AP_FAULT_ADDRESS_SIZE, 4),
};

/* The same tables at the same depth with a smaller width; 3 levels from
 * the PDPT (a 1G page at the root); 5 levels through a PML5 table (5). */
static const struct wprobe vtd_probes_ias40[] = {
	W_OK(0x1000, RD, 0x80001000, 1),
	W_FAULT(1ull << 40, RD, AP_FAULT_ADDRESS_SIZE, 4),
};
static const struct wprobe vtd_probes_39[] = {
	W_OK(0x1000, RD, 0x80001000, 1),
	W_OK(SZ_1G + 7, WR, 0xc0000007, 3),
	W_FAULT(SZ_512G, RD, AP_FAULT_ADDRESS_SIZE, 3),
};
static const struct wdesc vtd_desc_57[] = {
	{ 5, 0, 3, 0 },                         /* PML5E 0 -> the same PML4 */
	{ 5, 1, 0x0000000000000083ull, NOTAB }, /* PS in a PML5E: reserved */
};
static const struct wprobe vtd_probes_57[] = {
	W_OK(0x1000, RD, 0x80001000, 1),
	W_OK(0x201000, RD, 0x80201000, 2),
	W_FAULT(3 * SZ_512G + SZ_1G, WR, AP_FAULT_PERMISSION, 4),
	W_FAULT(1ull << 48, RD, AP_FAULT_TRANSLATION, 5),
	W_FAULT(2ull << 48, RD, AP_FAULT_TRANSLATION, 5),
	W_FAULT(1ull << 57, RD, AP_FAULT_ADDRESS_SIZE, 5),
};
static const struct wprobe vtd_probes_root_big[] = {
	W_FAULT(0x1000, RD, AP_FAULT_ADDRESS_SIZE, 4),
};
static const struct wprobe vtd_probes_root_unbacked[] = {
	W_FAULT(0x1000, RD, AP_FAULT_EXTERNAL, 4),
};

static const struct wscene vtd_scenes[] = {
	SCENE(VTD, 48, 40, 0, 0, 4, vtd_desc, vtd_probes),
	SCENE_NO_DESC(VTD, 40, 40, 0, 0, 4, vtd_probes_ias40),
	SCENE_NO_DESC(VTD, 39, 40, 1, 0, 3, vtd_probes_39),
	SCENE(VTD, 57, 40, 5, 0, 5, vtd_desc_57, vtd_probes_57),
	SCENE_NO_DESC(VTD, 48, 40, NOTAB, BIG, 4, vtd_probes_root_big),
	SCENE_NO_DESC(VTD, 48, 40, NOTAB, 0x30000000, 4, vtd_probes_root_unbacked),
};

/* Walker configurations no walk can use (the tables' root, table 0). */
static const struct ap_pt_walk_cfg unusable[] = {
	{ S1, 12, 48, 39, 0 }, { S1, 13, 48, 40, 0 }, { S1, 12, 53, 40, 0 },
	{ (enum ap_pt_format)9, 12, 48, 40, 0 },
	{ VTD, 16, 48, 40, 0 }, { VTD, 12, 30, 40, 0 }, { VTD, 12, 58, 40, 0 },
	{ VTD, 12, 48, 31, 0 }, { VTD, 12, 48, 53, 0 },
};

static const struct {
	const struct wscene *scene;
	size_t nscene;
	size_t table_bytes[6];
	int stale_level; /* a walk of scene 0 once every table is freed */
} hand[] = {
	{ lpae_scenes, NELEM(lpae_scenes), { SZ_4K, SZ_4K, SZ_4K, SZ_4K, SZ_8K }, 0 },
	{ vtd_scenes, NELEM(vtd_scenes), { SZ_4K, SZ_4K, SZ_4K, SZ_4K, SZ_4K, SZ_4K }, 4 },
};

static void walk_probe(const struct ap_pt_walk_cfg *wc, struct tmem *m, const struct wprobe *p,
		       size_t n)
{
	struct ap_pt_walk_result res;
	int rc = ap_pt_walk(wc, &m->mem, p->iova, p->access, &res);

	if (p->fault == AP_FAULT_NONE) {
		EXPECT(rc == 0 && res.fault == AP_FAULT_NONE && res.pa == p->pa &&
			       res.level == p->level,
		       "%s probe %zu: walk %llx access %#x: rc %d fault %s pa %llx level %d, want "
		       "pa %llx level %d", ap_pt_format_name(wc->format), n, (ull)p->iova,
		       p->access, rc, ap_fault_kind_name(res.fault), (ull)res.pa, res.level,
		       (ull)p->pa, p->level);
	} else {
		EXPECT(rc == -EFAULT && res.fault == p->fault &&
			       (p->level < 0 || res.level == p->level),
		       "%s probe %zu: walk %llx access %#x: rc %d fault %s level %d, want %s level "
		       "%d", ap_pt_format_name(wc->format), n, (ull)p->iova, p->access, rc,
		       ap_fault_kind_name(res.fault), res.level, ap_fault_kind_name(p->fault),
		       p->level);
	}
	if (p->leaf_size)
		EXPECT(res.leaf.size == p->leaf_size && res.leaf.iova == p->leaf_iova &&
			       res.leaf.pa == p->leaf_pa && res.leaf.pte == p->leaf_pte &&
			       res.leaf.prot == p->leaf_prot &&
			       res.leaf.level == (p->level < 0 ? res.level : p->level),
		       "%s probe %zu: leaf %llx+%llx -> %llx pte %016llx prot %#x level %d",
		       ap_pt_format_name(wc->format), n, (ull)res.leaf.iova, (ull)res.leaf.size,
		       (ull)res.leaf.pa, (ull)res.leaf.pte, res.leaf.prot, res.leaf.level);
}

static void test_walk_hand_built(void **state)
{
	size_t h, s, k;

	(void)state;
	for (h = 0; h < NELEM(hand); h++) {
		struct tmem *m = tmem_new();
		uint64_t pa[6] = { 0 };
		struct ap_pt_walk_cfg wc;
		struct ap_pt_walk_result res;

		for (k = 0; k < 6 && hand[h].table_bytes[k]; k++)
			pa[k] = hand_table(m, hand[h].table_bytes[k]);
		for (s = 0; s < hand[h].nscene; s++) {
			const struct wscene *sc = &hand[h].scene[s];

			for (k = 0; k < sc->ndesc; k++)
				wr_desc(m, pa[sc->desc[k].table], sc->desc[k].idx,
					sc->desc[k].value |
						(sc->desc[k].ref == NOTAB ? 0 : pa[sc->desc[k].ref]));
			wc = (struct ap_pt_walk_cfg){ sc->fmt, 12, sc->ias, sc->oas,
						      sc->root_table == NOTAB ? sc->root_pa
									      : pa[sc->root_table] };
			assert_int_equal(ap_pt_start_level(&wc), sc->start);
			for (k = 0; k < sc->nprobe; k++)
				walk_probe(&wc, m, &sc->probe[k], k);
		}
		/* Unusable configurations and arguments. */
		for (k = 0; k < NELEM(unusable); k++) {
			wc = unusable[k];
			wc.root = pa[0];
			if (hand[h].scene[0].fmt == VTD ? wc.format == VTD : wc.format != VTD)
				EXPECT(ap_pt_walk(&wc, &m->mem, 0x1000, RD, &res) == -EINVAL,
				       "unusable configuration %zu walks", k);
		}
		wc = (struct ap_pt_walk_cfg){ hand[h].scene[0].fmt, 12, 48, 40, pa[0] };
		assert_int_equal(ap_pt_walk(&wc, NULL, 0x1000, RD, &res), -EINVAL);
		assert_int_equal(ap_pt_walk(&wc, &m->mem, 0x1000, RD, NULL), -EINVAL);
		walk_probe(&wc, m, &hand[h].scene[0].probe[0], 0);
		/* Freed memory is unbacked: a stale root faults. */
		for (k = 0; k < 6 && hand[h].table_bytes[k]; k++)
			hand_free(m, pa[k], hand[h].table_bytes[k]);
		walk_fault(&wc, m, 0x1000, RD, AP_FAULT_EXTERNAL, hand[h].stale_level);
		tmem_assert_empty(m);
		tmem_destroy(m);
	}
}

/* ================================================================ 7. smaller widths */

/*
 * A walker narrower than the table enters it deeper, through index 0 of the
 * levels above; missing tables on that path are allocated, all or nothing,
 * and stay (pinned).  w1 enters one level down, w2 further.
 */
static const struct {
	enum ap_pt_format fmt;
	unsigned ias, w1, w2;
	int s1, s2;
	unsigned w2_tables;  /* tables w2 adds below w1's root */
	unsigned same_start; /* a smaller width the table's own start level takes */
	unsigned too_narrow; /* a width no walker of the format takes */
	unsigned map_tables; /* tables the maps below add */
} enters[] = {
	{ S1, 48, 32, 21, 1, 3, 2, 40, 12, 6 },
	{ S2, 48, 32, 21, 1, 3, 2, 40, 12, 6 },
	{ VTD, 57, 48, 39, 4, 3, 1, 52, 30, 12 },
};

static const uint64_t enter_probes[] = {
	0, 0x1000, 0x3fff, 0x5fff, 0x6000, SZ_1G + 5, SZ_2G - 1, 0x80200000, 0x803fffff,
	0x80400000, 0xffffffffull, 0x100000000ull, 5 * SZ_1G, 5 * SZ_1G + 0xfff,
	SZ_512G - 1, SZ_512G, SZ_512G + 0x1000, (1ull << 48) - 1, 1ull << 48,
	(1ull << 48) + 0x2000,
};

/* A walker cannot enter past something not a table: LPAE a 1G leaf at 0
 * (ias 30 would enter below it), VT-d a PS entry in PML4E 0 (hand-written:
 * no map makes one). */
static const struct {
	enum ap_pt_format fmt;
	unsigned ias, refused, accepted;
	int accepted_start;
	uint64_t hand; /* 0: a 1G leaf at 0 instead */
} blocked[] = {
	{ S1, 48, 30, 32, 1, 0 },
	{ S2, 48, 30, 32, 1, 0 },
	{ VTD, 48, 39, 0, 0, 0x0000000000000083ull },
};

/* Missing tables allocated all or nothing; a map then uses them. */
static const struct {
	enum ap_pt_format fmt;
	unsigned ias, walker;
	unsigned ntables; /* the walker's path needs */
	int start, leaf_level;
	unsigned map_tables; /* a 4K map at 0x3000 adds */
} missing[] = {
	{ S1, 48, 21, 3, 3, 3, 0 },
	{ S2, 48, 21, 3, 3, 3, 0 },
	{ VTD, 57, 39, 2, 3, 1, 2 },
};

/* Part of the path present: only the missing tail is allocated. */
static const struct {
	enum ap_pt_format fmt;
	unsigned ias, walker;
	uint64_t premap;
	unsigned added;
	int leaf_level;
} partial[] = {
	{ S1, 48, 21, SZ_1G + 0x1000, 2, 3 },
	{ VTD, 57, 39, SZ_512G + 0x1000, 1, 1 },
};

static void test_walk_cfg_for_ias(void **state)
{
	const size_t np = NELEM(enter_probes);
	struct tmem *m = tmem_new();
	struct ap_pt_walk_cfg own, w1, w2, again;
	struct ap_pt *pt;
	uint64_t bytes, t;
	size_t i, k;

	(void)state;
	for (i = 0; i < NELEM(enters); i++) {
		pt = mkpt(m, enters[i].fmt, enters[i].ias, 48, BM_4K);
		ap_pt_get_walk_cfg(pt, &own);
		bytes = ap_pt_table_bytes(pt);

		/* One level down: index 0 of the root is empty, a table comes. */
		assert_int_equal(ap_pt_walk_cfg_for_ias(pt, enters[i].w1, &w1), 0);
		assert_int_equal(w1.format, enters[i].fmt);
		assert_int_equal(w1.ias, enters[i].w1);
		assert_int_equal(w1.oas, 48);
		assert_int_equal(w1.granule_shift, 12);
		assert_int_equal(ap_pt_start_level(&w1), enters[i].s1);
		assert_int_equal(ap_pt_table_bytes(pt), bytes + SZ_4K);
		assert_int_equal(m->bytes_out, bytes + SZ_4K);
		assert_int_equal(rd_desc(m, own.root, 0), w1.root | 3);
		assert_int_equal(ap_pt_walk_cfg_for_ias(pt, enters[i].w1, &again), 0);
		assert_int_equal(again.root, w1.root);
		assert_int_equal(ap_pt_table_bytes(pt), bytes + SZ_4K);
		/* Further down: a chain through index 0 of w1's root. */
		assert_int_equal(ap_pt_walk_cfg_for_ias(pt, enters[i].w2, &w2), 0);
		assert_int_equal(ap_pt_start_level(&w2), enters[i].s2);
		assert_int_equal(ap_pt_table_bytes(pt), bytes + (1 + enters[i].w2_tables) * SZ_4K);
		for (t = w1.root, k = 0; k < enters[i].w2_tables; k++)
			t = desc_addr(rd_desc(m, t, 0));
		assert_int_equal(t, w2.root);
		/* Asking again allocates nothing. */
		assert_int_equal(ap_pt_walk_cfg_for_ias(pt, enters[i].w2 - 4, &again), 0);
		assert_int_equal(again.root, w2.root);
		assert_int_equal(again.ias, enters[i].w2 - 4);
		assert_int_equal(ap_pt_table_bytes(pt), bytes + (1 + enters[i].w2_tables) * SZ_4K);
		/* Same start level: same root, smaller width. */
		assert_int_equal(ap_pt_walk_cfg_for_ias(pt, enters[i].same_start, &again), 0);
		assert_int_equal(again.root, own.root);
		assert_int_equal(again.ias, enters[i].same_start);
		assert_int_equal(ap_pt_start_level(&again), ap_pt_start_level(&own));
		/* Not below the table's own: its configuration, ias clamped. */
		assert_int_equal(ap_pt_walk_cfg_for_ias(pt, enters[i].ias, &again), 0);
		assert_int_equal(again.root, own.root);
		assert_int_equal(again.ias, enters[i].ias);
		assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 64, &again), 0);
		assert_int_equal(again.root, own.root);
		assert_int_equal(again.ias, enters[i].ias);
		assert_int_equal(ap_pt_walk_cfg_for_ias(pt, enters[i].too_narrow, &again), -EINVAL);

		/* The map code uses those tables: mappings show through every
		 * walker. */
		bytes = ap_pt_table_bytes(pt);
		assert_int_equal(map_range(pt, 0x1000, 0x80001000, 0x5000, RW, NULL), 0);
		assert_int_equal(map1(pt, SZ_1G, 0x100000000ull, SZ_1G, PR_R), 0);
		assert_int_equal(map1(pt, 0x80200000, 0x7fe00000, SZ_2M, RW), 0);
		assert_int_equal(map1(pt, 5 * SZ_1G, 0x3000, SZ_4K, PR_W), 0);
		assert_int_equal(map1(pt, SZ_512G, 0x5000, SZ_4K, RW), 0);
		assert_int_equal(map1(pt, 0, 0, SZ_4K, PR_R | PR_P), 0);
		if (enters[i].ias > 48)
			assert_int_equal(map1(pt, 1ull << 48, 0x6000, SZ_4K, RW), 0);
		assert_int_equal(ap_pt_table_bytes(pt), bytes + enters[i].map_tables * SZ_4K);
		agree_below(pt, m, &own, enter_probes, np);
		agree_below(pt, m, &w1, enter_probes, np);
		agree_below(pt, m, &w2, enter_probes, np);
		expect_phys(pt, 5 * SZ_1G, 0x3000);
		walk_ok(&w1, m, SZ_1G + 5, AP_ACCESS_READ, 0x100000005ull, lvl_of(&formats[enters[i].fmt == VTD ? 2 : 0], SZ_1G));
		walk_ok(&own, m, SZ_512G + 5, AP_ACCESS_WRITE, 0x5005,
			enters[i].fmt == VTD ? 1 : 3);
		walk_fault(&w1, m, 1ull << enters[i].w1, AP_ACCESS_READ, AP_FAULT_ADDRESS_SIZE,
			   enters[i].fmt == VTD ? enters[i].s1 : -1);
		walk_fault(&w2, m, 1ull << enters[i].w2, AP_ACCESS_READ, AP_FAULT_ADDRESS_SIZE,
			   enters[i].fmt == VTD ? enters[i].s2 : -1);
		if (enters[i].ias > 48)
			walk_ok(&own, m, (1ull << 48) + 5, AP_ACCESS_READ, 0x6005, 1);
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}

	for (i = 0; i < NELEM(blocked); i++) {
		pt = mkpt(m, blocked[i].fmt, blocked[i].ias, 48, BM_4K);
		if (blocked[i].hand)
			wr_desc(m, root_pa(pt), 0, blocked[i].hand);
		else
			assert_int_equal(map1(pt, 0, 0, SZ_1G, RW), 0);
		bytes = ap_pt_table_bytes(pt);
		assert_int_equal(ap_pt_walk_cfg_for_ias(pt, blocked[i].refused, &w1), -EINVAL);
		assert_int_equal(ap_pt_table_bytes(pt), bytes);
		if (blocked[i].accepted) {
			assert_int_equal(ap_pt_walk_cfg_for_ias(pt, blocked[i].accepted, &w1), 0);
			assert_int_equal(ap_pt_start_level(&w1), blocked[i].accepted_start);
			agree_below(pt, m, &w1, enter_probes, 14);
		}
		if (blocked[i].hand)
			wr_desc(m, root_pa(pt), 0, 0);
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}

	for (i = 0; i < NELEM(missing); i++) {
		unsigned fail;

		pt = mkpt(m, missing[i].fmt, missing[i].ias, 48, BM_4K);
		bytes = ap_pt_table_bytes(pt);
		for (fail = 2; fail <= missing[i].ntables; fail++) {
			m->fail_in = (int)fail;
			assert_int_equal(ap_pt_walk_cfg_for_ias(pt, missing[i].walker, &w1), -ENOMEM);
			m->fail_in = 0;
			assert_int_equal(ap_pt_table_bytes(pt), bytes);
			assert_int_equal(m->bytes_out, bytes);
			assert_int_equal(rd_desc(m, root_pa(pt), 0), 0);
		}
		assert_int_equal(ap_pt_walk_cfg_for_ias(pt, missing[i].walker, &w1), 0);
		assert_int_equal(ap_pt_start_level(&w1), missing[i].start);
		assert_int_equal(ap_pt_table_bytes(pt), bytes + missing[i].ntables * SZ_4K);
		assert_int_equal(map1(pt, 0x3000, 0x77000, SZ_4K, RW), 0);
		assert_int_equal(ap_pt_table_bytes(pt),
				 bytes + (missing[i].ntables + missing[i].map_tables) * SZ_4K);
		walk_ok(&w1, m, 0x3004, AP_ACCESS_READ, 0x77004, missing[i].leaf_level);
		walk_fault(&w1, m, 1ull << missing[i].walker, AP_ACCESS_READ, AP_FAULT_ADDRESS_SIZE,
			   -1);
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}

	for (i = 0; i < NELEM(partial); i++) {
		pt = mkpt(m, partial[i].fmt, partial[i].ias, 48, BM_4K);
		assert_int_equal(map1(pt, partial[i].premap, 0x1000, SZ_4K, RW), 0);
		bytes = ap_pt_table_bytes(pt);
		assert_int_equal(ap_pt_walk_cfg_for_ias(pt, partial[i].walker, &w1), 0);
		assert_int_equal(ap_pt_table_bytes(pt), bytes + partial[i].added * SZ_4K);
		assert_int_equal(map1(pt, 0x1000, 0x5000, SZ_4K, RW), 0);
		walk_ok(&w1, m, 0x1001, AP_ACCESS_READ, 0x5001, partial[i].leaf_level);
		agree_below(pt, m, &w1, enter_probes, np);
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}

	/* LPAE stage 2 with a concatenated root: the same start level for ias
	 * 32, so the same root. */
	pt = mkpt(m, S2, 40, 40, BM_4K);
	ap_pt_get_walk_cfg(pt, &own);
	assert_int_equal(map1(pt, 0x80200000, 0x7fe00000, SZ_2M, RW), 0);
	assert_int_equal(map1(pt, 0x1000, 0x80001000, SZ_4K, RW), 0);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 32, &w1), 0);
	assert_int_equal(w1.root, own.root);
	assert_int_equal(ap_pt_start_level(&w1), 1);
	agree_below(pt, m, &w1, enter_probes, 14);
	ap_pt_free(pt);
	tmem_assert_empty(m);

	/* A concatenated root (16K stage 2, 48/48: two tables at level 1) is
	 * entered through its entry 0 by a 32-bit walker starting at level 2. */
	pt = mkpt(m, S2, 48, 48, BM_16K);
	ap_pt_get_walk_cfg(pt, &own);
	assert_int_equal(ap_pt_start_level(&own), 1);
	assert_int_equal(map1(pt, 0x4000, 0x80004000, SZ_16K, RW), 0);
	assert_int_equal(map1(pt, 0x2000000, 0x82000000, SZ_32M, RW), 0);
	assert_int_equal(ap_pt_walk_cfg_for_ias(pt, 32, &w1), 0);
	assert_int_equal(ap_pt_start_level(&w1), 2);
	assert_int_equal(w1.root, desc_addr(rd_desc(m, own.root, 0)));
	walk_ok(&w1, m, 0x4008, AP_ACCESS_READ, 0x80004008, 3);
	walk_ok(&w1, m, 0x2000010, AP_ACCESS_WRITE, 0x82000010, 2);
	agree_below(pt, m, &w1, enter_probes, 14);
	ap_pt_free(pt);
	tmem_assert_empty(m);
	tmem_destroy(m);
}

/*
 * A map transaction gives back the tables a failed multi-call map made, and
 * only those; outside one, tables stay as in Linux.  3 MiB of 4K pages from
 * `base` need nalloc new tables (LPAE: an L3 below 2 GiB, then an L2 and
 * L3 above; VT-d from 512G - 2M: a PD and PT below 512G, then a PDPT, PD
 * and PT above): fail each allocation in turn.
 */
static const struct {
	enum ap_pt_format fmt;
	uint64_t base;
	unsigned nalloc;
} txns[] = { { S1, 0x7fe00000, 3 }, { S2, 0x7fe00000, 3 }, { VTD, SZ_512G - SZ_2M, 5 } };

static void test_map_transaction(void **state)
{
	const uint64_t len = 3 * SZ_2M / 2;
	struct tmem *m = tmem_new();
	size_t t;

	(void)state;
	for (t = 0; t < NELEM(txns); t++) {
		struct ap_pt *pt = mkpt(m, txns[t].fmt, 48, 48, BM_4K);
		uint64_t root_only = ap_pt_table_bytes(pt), kept, i, base = txns[t].base;
		int err;

		/* Empty tables left by earlier unmaps stay through a rollback. */
		assert_int_equal(map1(pt, 0x40000000, 0x1000, SZ_4K, RW), 0);
		assert_int_equal(ap_pt_unmap_pages(pt, 0x40000000, SZ_4K, 1), SZ_4K);
		kept = ap_pt_table_bytes(pt);
		assert_int_equal(kept, root_only + 3 * SZ_4K);
		for (i = 1; i <= txns[t].nalloc + 3; i++) {
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
				assert_true(i > txns[t].nalloc);
				assert_int_equal(ap_pt_unmap_pages(pt, base, SZ_4K, 512) +
							 ap_pt_unmap_pages(pt, base + SZ_2M, SZ_4K, 256),
						 len);
				/* kept, Linux-style; but generic_pt frees the last-level
				 * table the 512-page unmap covers */
				assert_int_equal(ap_pt_table_bytes(pt),
						 kept + (txns[t].nalloc - (txns[t].fmt == VTD)) * SZ_4K);
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
		assert_int_equal(i, txns[t].nalloc + 1);
		ap_pt_free(pt);
		tmem_assert_empty(m);
	}
	tmem_destroy(m);
}

/* ================================================================ 8. differential */

static const unsigned rand_prots[] = {
	PR_R | PR_W,
	PR_R,
	PR_W,
	PR_W | PR_C,
	PR_R | PR_N | PR_P,
	PR_R | PR_W | PR_M | PR_N,
};

static const unsigned rand_access[] = {
	RD, WR, RD | WR, PV, RD | XN | PV, WR | PV, XN, RD | PV,
};

/* The randomized runs: LPAE at ias = oas = 40 (the windows of ptmodel.h's
 * rrun_windows() cross 2^39, the L0 / PGD page, and end at 2^40; stage 2's
 * 1G level is a concatenated PGD there), VT-d at every depth. */
static const struct {
	enum ap_pt_format fmt;
	unsigned ias, oas;
	bool snoop;
	unsigned nops;
	bool window; /* the memory as a linear window with leaf counts */
} runs[] = {
	{ S1, 40, 40, false, 60000, false },
	{ S2, 40, 40, false, 40000, false },
	{ VTD, 39, 46, false, 20000, false }, /* 3 levels, 1G pages in the root */
	{ VTD, 48, 48, true, 20000, false },  /* 4 levels, snooping */
	{ VTD, 57, 52, false, 15000, false }, /* 5 levels */
	{ VTD, 35, 39, false, 10000, false }, /* a root using 32 of 512 entries */
	{ S1, 40, 40, false, 30000, true },
	{ S2, 40, 40, false, 20000, true },
	{ VTD, 48, 48, false, 20000, true },
};

static void rrun_for(struct rrun *r, enum ap_pt_format fmt, unsigned ias, unsigned oas,
		     bool snoop)
{
	*r = (struct rrun){ .fmt = fmt, .ias = ias, .oas = oas, .snoop = snoop,
			    .pa_span = 1ull << (oas < 40 ? oas : 40) >> (fmt == VTD ? 0 : 1),
			    .prots = rand_prots, .nprots = NELEM(rand_prots) };
	rrun_windows(r);
}

static int model_level(enum ap_pt_format fmt, uint64_t size)
{
	return leaf_level(fmt, size);
}

/*
 * One probe: iova_to_phys against the model, and a hardware walk with an
 * access against both: the address when the leaf allows the access, a
 * permission fault at the leaf's level when it does not (the leaf reported
 * either way), a translation fault where the model has nothing.
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

		EXPECT(got && pa == want, "op %u: probe %llx: got %d pa %llx, model pa %llx", op,
		       (ull)addr, got, (ull)pa, (ull)want);
		EXPECT(res.level == model_level(r->fmt, l->size) && res.leaf.iova == l->iova &&
			       res.leaf.size == l->size && res.leaf.pa == l->pa &&
			       res.leaf.prot == rrun_decoded(r, l->prot),
		       "op %u: walk %llx: level %d leaf %llx+%llx -> %llx prot %#x; model %llx+%llx "
		       "-> %llx prot %#x", op, (ull)addr, res.level, (ull)res.leaf.iova,
		       (ull)res.leaf.size, (ull)res.leaf.pa, res.leaf.prot, (ull)l->iova,
		       (ull)l->size, (ull)l->pa, l->prot);
		if (allowed(r->fmt, l->prot, access))
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
	return rand_access[rnd_below(NELEM(rand_access))];
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

static void run_random(enum ap_pt_format fmt, unsigned ias, unsigned oas, bool snoop,
		       bool window, unsigned seed, unsigned nops)
{
	struct tmem *m = tmem_new();
	struct ap_pt *pt;
	struct ap_pt_walk_cfg wc;
	struct model md = { 0 };
	struct leafvec lv = { 0 };
	struct rstats st = { 0 };
	struct rrun r;
	char name[80];
	unsigned op;

	if (window)
		tmem_window(m);
	pt = mkpt_full(m, fmt, ias, oas, BM_4K, 0, true, snoop ? AP_PT_QUIRK_VTD_SNOOP : 0);
	rrun_for(&r, fmt, ias, oas, snoop);
	ap_pt_get_walk_cfg(pt, &wc);
	model_init(&md, pt);
	rnd_seed(seed);
	for (op = 0; op < nops; op++) {
		random_op(&r, pt, &wc, m, &md, &st, op);
		if (op % 1000 == 999)
			full_compare(&r, pt, &md, m, &lv, op);
	}
	full_compare(&r, pt, &md, m, &lv, nops);
	snprintf(name, sizeof(name), "%s ias %u oas %u%s%s", ap_pt_format_name(fmt), ias, oas,
		 snoop ? " snoop" : "", window ? " window" : "");
	rstats_report(name, nops, &st, m);
	teardown(pt, &md, m, &lv);
	model_free(&md);
	free(lv.v);
	tmem_destroy(m);
}

static void test_random_differential(void **state)
{
	unsigned seed = seed_from_env("APERTURE_PT_SEED", 20240611u);
	size_t i;

	(void)state;
	printf("seed=%u (set APERTURE_PT_SEED to change)\n", seed);
	for (i = 0; i < NELEM(runs); i++)
		run_random(runs[i].fmt, runs[i].ias, runs[i].oas, runs[i].snoop, runs[i].window,
			   seed + (unsigned)i, runs[i].nops);
}

/*
 * A populated table, then a million walks at random addresses and with
 * random accesses, each checked against the model, for every format.
 */
static void test_walk_million(void **state)
{
	const unsigned nprobes = 1000000;
	unsigned seed = seed_from_env("APERTURE_PT_SEED", 20240611u) + 100;
	const struct fmt *f;

	(void)state;
	FOR_EACH_FORMAT(f) {
		struct tmem *m = tmem_new();
		struct ap_pt *pt = mkpt(m, f->format, 48, 48, BM_4K);
		struct ap_pt_walk_cfg wc;
		struct model md = { 0 };
		struct leafvec lv = { 0 };
		struct rstats st = { 0 };
		struct rrun r;
		unsigned op, i, hits = 0, perms = 0, holes = 0;

		rrun_for(&r, f->format, 48, 48, false);
		ap_pt_get_walk_cfg(pt, &wc);
		model_init(&md, pt);
		rnd_seed(seed);
		for (op = 0; op < 3000; op++)
			random_op(&r, pt, &wc, m, &md, &st, op);
		/* then maps only, for a crowded table (unmaps of whole tables
		 * thin it out) */
		for (i = 0; md.n < 2000 && i < 100000; i++) {
			uint64_t size = pick_pgsize(), iova = pick_iova(&r, size);
			uint64_t pa = rnd_below(r.pa_span / size) * size;
			unsigned prot = rand_prots[rnd_below(NELEM(rand_prots))];

			if (model_overlaps(&md, iova, iova + size))
				continue;
			assert_int_equal(map1(pt, iova, pa, size, prot), 0);
			model_insert(&md, iova, pa, size, 1, prot);
		}
		full_compare(&r, pt, &md, m, &lv, op);
		assert_true(md.n >= 2000);
		for (i = 0; i < nprobes; i++) {
			unsigned access = pick_access();
			const struct mleaf *l;
			struct ap_pt_walk_result res;
			uint64_t addr;
			int rc;

			if (i & 1) {
				l = &md.v[rnd_below(md.n)]; /* inside a live leaf */
				addr = l->iova + rnd_below(l->size);
			} else {
				addr = pick_iova(&r, SZ_4K) + rnd_below(SZ_4K);
			}
			l = model_find(&md, addr);
			rc = ap_pt_walk(&wc, &m->mem, addr, access, &res);
			if (!l) {
				EXPECT(rc == -EFAULT && res.fault == AP_FAULT_TRANSLATION,
				       "%s probe %u: unmapped %llx: rc %d (%s)", f->name, i, (ull)addr,
				       rc, ap_fault_kind_name(res.fault));
				holes++;
			} else if (!allowed(f->format, l->prot, access)) {
				EXPECT(rc == -EFAULT && res.fault == AP_FAULT_PERMISSION &&
					       res.level == lvl_of(f, l->size),
				       "%s probe %u: %llx access %#x over prot %#x: rc %d (%s) level %d",
				       f->name, i, (ull)addr, access, l->prot, rc,
				       ap_fault_kind_name(res.fault), res.level);
				perms++;
			} else {
				EXPECT(rc == 0 && res.pa == l->pa + (addr - l->iova) &&
					       res.level == lvl_of(f, l->size),
				       "%s probe %u: %llx access %#x: rc %d (%s) pa %llx level %d, model "
				       "%llx", f->name, i, (ull)addr, access, rc,
				       ap_fault_kind_name(res.fault), (ull)res.pa, res.level,
				       (ull)(l->pa + (addr - l->iova)));
				hits++;
			}
		}
		printf("%s walk agreement: %u leaves, %u probes: %u translated, %u permission, "
		       "%u translation faults\n", f->name, (unsigned)md.n, nprobes, hits, perms,
		       holes);
		assert_true(hits > nprobes / 4 && perms > nprobes / 20 && holes > nprobes / 20);
		teardown(pt, &md, m, &lv);
		model_free(&md);
		free(lv.v);
		tmem_destroy(m);
	}
}

/* ================================================================ 11. own-table walks */

/*
 * ap_pt_walk_table() and ap_pt_iova_to_phys() walk a table's own tables
 * through the level descriptions it holds when the memory is a window
 * (tmem_window), and leave anything unusual to the format's walker.  Both
 * must answer exactly as ap_pt_walk() over the same memory, whatever the
 * tables hold: a populated table, then one descriptor on the path of a
 * mapped address damaged at a time (each bit a walker looks at, address
 * bits inside and beyond the window and the output size), every access
 * value compared, the leaf reported with a fault too.
 */
struct path_rec {
	const struct ap_pt_mem *inner;
	uint64_t pa[8];
	unsigned n;
};

static void *path_map(void *cookie, uint64_t pa, size_t len)
{
	struct path_rec *r = cookie;

	if (r->n < NELEM(r->pa))
		r->pa[r->n++] = pa;
	return r->inner->map(r->inner->cookie, pa, len);
}

/* The descriptors the format's walker reads for addr, root first. */
static unsigned walk_path(const struct ap_pt_walk_cfg *wc, const struct tmem *m, uint64_t addr,
			  uint64_t *pa)
{
	struct path_rec r = { .inner = &m->mem };
	struct ap_pt_mem mem = { .cookie = &r, .alloc = m->mem.alloc, .free = m->mem.free,
				 .map = path_map };
	struct ap_pt_walk_result res;
	unsigned i;

	(void)ap_pt_walk(wc, &mem, addr, AP_ACCESS_READ, &res);
	for (i = 0; i < r.n; i++)
		pa[i] = r.pa[i];
	return r.n;
}

static bool same_result(const struct ap_pt_walk_result *a, const struct ap_pt_walk_result *b)
{
	return a->fault == b->fault && a->level == b->level && a->pa == b->pa &&
	       a->allowed == b->allowed && a->leaf.iova == b->leaf.iova &&
	       a->leaf.size == b->leaf.size && a->leaf.pa == b->leaf.pa &&
	       a->leaf.pte == b->leaf.pte && a->leaf.level == b->leaf.level &&
	       a->leaf.prot == b->leaf.prot;
}

static unsigned same_walks(const struct ap_pt *pt, const struct ap_pt_walk_cfg *wc,
			   struct tmem *m, uint64_t addr, const char *what)
{
	struct ap_pt_walk_result a, b;
	unsigned access, translated = 0;
	uint64_t pa = 0;
	bool got;
	int ra, rb;

	for (access = 0; access < 16; access++) {
		ra = ap_pt_walk_table(pt, wc, addr, access, &a);
		rb = ap_pt_walk(wc, &m->mem, addr, access, &b);
		EXPECT(ra == rb && same_result(&a, &b),
		       "%s: %llx access %#x: own walk rc %d %s level %d pa %llx allowed %#x, "
		       "walker rc %d %s level %d pa %llx allowed %#x", what, (ull)addr, access, ra,
		       ap_fault_kind_name(a.fault), a.level, (ull)a.pa, a.allowed, rb,
		       ap_fault_kind_name(b.fault), b.level, (ull)b.pa, b.allowed);
		translated += rb == 0;
	}
	got = ap_pt_iova_to_phys(pt, addr, &pa);
	rb = ap_pt_walk(wc, &m->mem, addr, AP_ACCESS_PRIV, &b);
	EXPECT(got == (rb == 0) && (!got || pa == b.pa),
	       "%s: iova_to_phys %llx: %d pa %llx, walker rc %d %s pa %llx", what, (ull)addr, got,
	       (ull)pa, rb, ap_fault_kind_name(b.fault), (ull)b.pa);
	return translated;
}

static const struct {
	enum ap_pt_format fmt;
	unsigned ias, oas;
	uint64_t bitmap;
	uint64_t leaf[3][2]; /* iova, size (0: none) */
} own_walks[] = {
	{ S1, 48, 48, BM_4K, { { 0x5000, SZ_4K }, { 0x40200000, SZ_2M }, { 0x80000000, SZ_1G } } },
	{ S1, 39, 40, BM_4K, { { 0x7000, SZ_4K }, { 0x40000000, SZ_1G }, { 0 } } },
	{ S1, 48, 48, BM_16K, { { 0x14000, SZ_16K }, { 0x42000000, SZ_32M }, { 0 } } },
	{ S1, 48, 52, BM_64K, { { 0x30000, SZ_64K }, { 0x60000000, SZ_512M }, { 0 } } },
	{ S2, 40, 40, BM_4K, { { 0x9000, SZ_4K }, { 0x40600000, SZ_2M }, { 0xc0000000, SZ_1G } } },
	{ VTD, 39, 46, BM_4K, { { 0x3000, SZ_4K }, { 0x40400000, SZ_2M }, { 0x80000000, SZ_1G } } },
	{ VTD, 48, 48, BM_4K, { { 0x3000, SZ_4K }, { 0x40400000, SZ_2M }, { 0x80000000, SZ_1G } } },
	{ VTD, 57, 52, BM_4K, { { 0x3000, SZ_4K }, { 0x40400000, SZ_2M }, { 0x80000000, SZ_1G } } },
};

/* type, valid, AP/HAP, NS, AF, nG, address (low, in and beyond the window,
 * beyond 40 and 48 bits), PXN/UXN, table attributes; VT-d: R, W, PS, SNP */
static const unsigned damage_bits[] = { 0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 21, 26, 30, 41,
					47, 50, 51, 53, 54, 59, 61, 63 };

static void test_walk_own_tables(void **state)
{
	size_t c, k, b;

	(void)state;
	for (c = 0; c < NELEM(own_walks); c++) {
		struct tmem *m = tmem_new();
		struct ap_pt *pt;
		struct ap_pt_walk_cfg wc;
		unsigned translated = 0, changed = 0;
		char what[96];

		tmem_window(m);
		pt = mkpt(m, own_walks[c].fmt, own_walks[c].ias, own_walks[c].oas,
			  own_walks[c].bitmap);
		ap_pt_get_walk_cfg(pt, &wc);
		for (k = 0; k < 3 && own_walks[c].leaf[k][1]; k++) {
			uint64_t size = own_walks[c].leaf[k][1];

			assert_int_equal(map1(pt, own_walks[c].leaf[k][0], SZ_1G * 3 + k * size, size,
					      k == 1 ? PR_R : RW),
					 0);
		}
		for (k = 0; k < 3 && own_walks[c].leaf[k][1]; k++) {
			uint64_t addr = own_walks[c].leaf[k][0] + 0x123 * 8, path[8];
			unsigned n = walk_path(&wc, m, addr, path), d;

			snprintf(what, sizeof(what), "%s ias %u intact", ap_pt_format_name(wc.format),
				 wc.ias);
			translated += same_walks(pt, &wc, m, addr, what);
			same_walks(pt, &wc, m, addr + own_walks[c].leaf[k][1], what);
			for (d = 0; d < n; d++) {
				uint64_t *slot = tmem_map(m, path[d], 8), keep;

				assert_non_null(slot);
				keep = *slot;
				for (b = 0; b < NELEM(damage_bits); b++) {
					*slot = keep ^ (1ull << damage_bits[b]);
					snprintf(what, sizeof(what), "%s ias %u leaf %zu, descriptor %u bit %u",
						 ap_pt_format_name(wc.format), wc.ias, k, d,
						 damage_bits[b]);
					changed += same_walks(pt, &wc, m, addr, what) != 16;
				}
				*slot = keep;
			}
		}
		/* the damage reached every kind of answer */
		assert_true(translated > 0 && changed > 0);
		ap_pt_free(pt);
		tmem_assert_empty(m);
		tmem_destroy(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_leaves),
		cmocka_unit_test(test_golden_tables),
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_alloc_rules),
		cmocka_unit_test(test_linux_selftest),
		cmocka_unit_test(test_pgsize),
		cmocka_unit_test(test_mixed),
		cmocka_unit_test(test_leaf_iteration),
		cmocka_unit_test(test_map_table_to_oa),
		cmocka_unit_test(test_map_semantics),
		cmocka_unit_test(test_unmap_semantics),
		cmocka_unit_test(test_map_one_kept),
		cmocka_unit_test(test_walker_root_pinned),
		cmocka_unit_test(test_map_refuses_what_it_cannot_follow),
		cmocka_unit_test(test_walk_hand_built),
		cmocka_unit_test(test_walk_cfg_for_ias),
		cmocka_unit_test(test_map_transaction),
		cmocka_unit_test(test_random_differential),
		cmocka_unit_test(test_walk_million),
		cmocka_unit_test(test_walk_own_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
