/* SPDX-License-Identifier: MIT */
/*
 * Errno acceptance tests of the VFIO type1 container (include/aperture/
 * vfio.h), table-driven, from the behaviour spec (doc/vfio.md §1.1-§1.7), not from the implementation.
 *
 * Every check of MAP_DMA (§1.4) and UNMAP_DMA (§1.6) in its order, with
 * combined cases where two checks fail at once and the earlier must win;
 * DIRTY_PAGES flag, range and bitmap-size rules (§1.7); the entry limit,
 * the memlock limit, EFAULT for memory that is not there; UNMAP_ALL; VADDR;
 * the container and group state machine (§1.1, §1.2); and our own bypass
 * refusals (vfio.h: EPERM for an open aperture, unmatched-bypass, a DIRECT
 * reserved region; DIRECT_RELAXABLE is accepted).
 *
 * Each table row starts from a fresh machine: one SMMU (48-bit), one group,
 * a type1v2 container with four mappings:
 *   A [0x200000, +64K)  B [0x210000, +64K)  C [0x400000, +128K)
 *   D [0x7ff0000, +64K) (ends where the SMMU's SW_MSI window 0x8000000 starts)
 * After a failure nothing may have changed (mappings, DMA_AVAIL, what the
 * device can reach); after a success the effect is checked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/resource.h>
#include <unistd.h>

#include "vfio_util.h"

#define VA_ VFIO_DMA_MAP_FLAG_VADDR
#define U_DIRTY VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP
#define U_ALL VFIO_DMA_UNMAP_FLAG_ALL
#define U_VADDR VFIO_DMA_UNMAP_FLAG_VADDR
#define D_START VFIO_IOMMU_DIRTY_PAGES_FLAG_START
#define D_STOP VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP
#define D_GET VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP
#define WRAP 0xfffffffffffff000ull /* the last page of the 64-bit space */

/* ------------------------------------------------------------ helpers */

#define IS(expr, want, ...)                                                               \
	do {                                                                              \
		int e_ = (expr);                                                          \
		if (e_ != (want)) {                                                       \
			print_error(__VA_ARGS__);                                         \
			fail_msg("%s: expected %s, got %s", #expr, ename(want), ename(e_)); \
		}                                                                         \
	} while (0)

static struct ap_iommu *mk_iommu(struct ap_ctx *ctx, const char *name, enum ap_iommu_kind kind,
				 bool force_aperture, enum ap_unmatched unmatched)
{
	struct ap_iommu_config c;

	ap_iommu_config_init(&c, kind);
	c.force_aperture = force_aperture;
	c.unmatched = unmatched;
	return mk_iommu_cfg(ctx, name, &c);
}

/* Every row of cases through run (false: the row gave another errno, said
 * already); the test fails after all rows, with how many. */
#define RUN_TABLE(cases, run)                                                     \
	do {                                                                      \
		size_t i_, bad_ = 0, n_ = sizeof(cases) / sizeof((cases)[0]);     \
		for (i_ = 0; i_ < n_; i_++)                                       \
			bad_ += !run(&(cases)[i_]);                               \
		if (bad_)                                                         \
			fail_msg("%zu of %zu rows gave another errno", bad_, n_); \
	} while (0)

static int check_ext(struct ap_ctx *ctx, int container, unsigned long ext)
{
	return ap_vfio_ioctl(ctx, container, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)ext);
}

/* ------------------------------------------------------------ the fixture */

#define BUF_SIZE (4 * SZ_1M)
#define OFF_NONE (1 * SZ_1M) /* one PROT_NONE page */
#define OFF_RO (3 * SZ_1M)   /* 64 KiB PROT_READ */
#define FREE_VA 0x50000ull   /* buffer offset no baseline mapping uses */

enum fx_kind {
	FX_MAIN = 0,     /* default entry limit, memlock unlimited */
	FX_FULL,         /* entry limit 4: no entry left */
	FX_MEMLOCK,      /* memlock 0x60000: 64 KiB left */
	FX_FULL_MEMLOCK, /* entry limit 4 and memlock 0x50000: nothing left */
	FX_TRACK,        /* FX_MAIN with dirty tracking started */
	FX_V1,           /* FX_MAIN but VFIO_TYPE1_IOMMU */
};

struct base_map {
	uint64_t iova, size, va;
};

static const struct base_map base[] = {
	{ 0x200000, SZ_64K, 0 },               /* A */
	{ 0x210000, SZ_64K, SZ_64K },          /* B */
	{ 0x400000, 2 * SZ_64K, 2 * SZ_64K },  /* C */
	{ 0x7ff0000, SZ_64K, 4 * SZ_64K },     /* D */
};
#define NBASE 4
#define BASE_BYTES 0x50000ull

struct fx {
	enum fx_kind kind;
	struct ap_ctx *ctx;
	struct ap_device *dev;
	int c, g;
	uint8_t *buf;
	uint32_t limit;
};

static void fx_init(struct fx *f, enum fx_kind kind)
{
	struct ap_iommu *smmu;
	unsigned i;

	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->buf = buf_alloc(BUF_SIZE);
	for (i = 0; i < BUF_SIZE; i += 64)
		f->buf[i] = (uint8_t)(i >> 6);
	assert_int_equal(mprotect(f->buf + OFF_NONE, PG, PROT_NONE), 0);
	assert_int_equal(mprotect(f->buf + OFF_RO, SZ_64K, PROT_READ), 0);

	f->ctx = ap_ctx_new();
	assert_non_null(f->ctx);
	f->limit = 65535;
	if (kind == FX_FULL || kind == FX_FULL_MEMLOCK)
		f->limit = NBASE;
	ap_vfio_set_dma_entry_limit(f->ctx, f->limit);
	ap_vfio_set_memlock_limit(f->ctx, kind == FX_MEMLOCK	     ? BASE_BYTES + SZ_64K
					  : kind == FX_FULL_MEMLOCK ? BASE_BYTES
								    : UINT64_MAX);
	smmu = mk_smmu(f->ctx, "smmu0", 48);
	f->dev = mk_dev(f->ctx, "dev", smmu, 0x42, 5);
	f->c = open_container(f->ctx);
	f->g = open_group(f->ctx, f->dev);
	IS(set_container(f->ctx, f->g, f->c), 0, "fixture\n");
	IS(set_iommu(f->ctx, f->c, kind == FX_V1 ? VFIO_TYPE1_IOMMU : VFIO_TYPE1v2_IOMMU), 0,
	   "fixture: %s\n", ap_ctx_error(f->ctx));
	for (i = 0; i < NBASE; i++)
		IS(map_dma(f->ctx, f->c, f->buf + base[i].va, base[i].iova, base[i].size, RW), 0,
		   "fixture mapping %u: %s\n", i, ap_ctx_error(f->ctx));
	if (kind == FX_TRACK)
		IS(dirty_flags(f->ctx, f->c, D_START), 0, "fixture: START\n");
}

static void fx_fini(struct fx *f)
{
	assert_int_equal(ap_vfio_close(f->ctx, f->g), 0);
	assert_int_equal(ap_vfio_close(f->ctx, f->c), 0);
	ap_ctx_free(f->ctx);
	munmap(f->buf, BUF_SIZE);
}

/* Is the IOVA page translatable for the device (no fault recorded)? */
static bool reaches(const struct fx *f, uint64_t iova)
{
	uint64_t pa;

	return ap_device_iova_to_phys(f->dev, iova, &pa);
}

/* Baseline mapping i is live and reads the buffer (DMA), or is gone. */
static void base_check(const struct fx *f, unsigned i, bool live, const char *what)
{
	uint8_t tmp[64];
	int r;

	r = ap_dma_read(f->dev, base[i].iova + base[i].size - 64, tmp, 64, NULL);
	if (live) {
		EXPECT(r == 0, "%s: mapping %c no longer reachable", what, 'A' + i);
		EXPECT(memcmp(tmp, f->buf + base[i].va + base[i].size - 64, 64) == 0,
		       "%s: mapping %c reads other bytes", what, 'A' + i);
	} else {
		EXPECT(r == -EFAULT, "%s: mapping %c still reachable", what, 'A' + i);
		EXPECT(!reaches(f, base[i].iova), "%s: mapping %c still translates", what, 'A' + i);
	}
}

static void all_base_live(const struct fx *f, const char *what)
{
	unsigned i;

	for (i = 0; i < NBASE; i++)
		base_check(f, i, true, what);
}

static bool overlaps_base(uint64_t iova, uint64_t size)
{
	unsigned i;

	for (i = 0; i < NBASE; i++)
		if (iova < base[i].iova + base[i].size && base[i].iova < iova + size)
			return true;
	return false;
}

/* ------------------------------------------------------------ MAP_DMA table */

#define ARGSZ_ZERO 0xffffffffu /* .argsz: 0 means sizeof, this means 0 */
#define ABS 1                  /* .abs: .va is an absolute address */

struct map_case {
	const char *name;
	enum fx_kind fx;
	uint32_t argsz;
	uint32_t flags;
	int abs;
	uint64_t va; /* offset into the buffer unless abs */
	uint64_t iova, size;
	int err;
};

/* the valid request the rows perturb: flags RW, va FREE_VA, iova 0x600000, 64 KiB */
#define OKREQ .flags = RW, .va = FREE_VA, .iova = 0x600000, .size = SZ_64K

static const struct map_case map_cases[] = {
	{ "valid request", FX_MAIN, 0, OKREQ, .err = 0 },
	{ "argsz larger than the struct", FX_MAIN, .argsz = 64, OKREQ, .err = 0 },
	{ "READ only", FX_MAIN, .flags = R_, .va = FREE_VA, .iova = 0x600000, .size = PG, .err = 0 },
	{ "WRITE only", FX_MAIN, .flags = W_, .va = FREE_VA, .iova = 0x600000, .size = PG, .err = 0 },
	/* §1.4.1 */
	{ "1: argsz short by one", FX_MAIN, .argsz = 31, OKREQ, .err = EINVAL },
	{ "1: argsz 0", FX_MAIN, .argsz = ARGSZ_ZERO, OKREQ, .err = EINVAL },
	{ "1: unknown flag bit 3", FX_MAIN, .flags = RW | 8, .va = FREE_VA, .iova = 0x600000,
	  .size = SZ_64K, .err = EINVAL },
	{ "1: unknown flag bit 31", FX_MAIN, .flags = RW | 0x80000000u, .va = FREE_VA,
	  .iova = 0x600000, .size = SZ_64K, .err = EINVAL },
	{ "1+4: argsz short, iova wraps (EINVAL wins)", FX_MAIN, .argsz = 31, .flags = RW,
	  .va = FREE_VA, .iova = WRAP, .size = 2 * PG, .err = EINVAL },
	{ "1+4: unknown flag, iova wraps (EINVAL wins)", FX_MAIN, .flags = RW | 8, .va = FREE_VA,
	  .iova = WRAP, .size = 2 * PG, .err = EINVAL },
	{ "1+7: unknown flag over a mapping (EINVAL wins)", FX_MAIN, .flags = RW | 8, .va = FREE_VA,
	  .iova = 0x200000, .size = SZ_64K, .err = EINVAL },
	{ "1+11: unknown flag, no memory (EINVAL wins)", FX_MAIN, .flags = RW | 8, .va = OFF_NONE,
	  .iova = 0x600000, .size = PG, .err = EINVAL },
	/* §1.4.3 */
	{ "3: size 0", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = 0x600000, .size = 0,
	  .err = EINVAL },
	{ "3+4: size 0 at iova 0 (EINVAL, not EOVERFLOW)", FX_MAIN, .flags = RW, .va = FREE_VA,
	  .iova = 0, .size = 0, .err = EINVAL },
	{ "3+7: size 0 on a mapping (EINVAL, not EEXIST)", FX_MAIN, .flags = RW, .va = FREE_VA,
	  .iova = 0x200000, .size = 0, .err = EINVAL },
	{ "3+5: size 0, flags 0", FX_MAIN, .flags = 0, .va = FREE_VA, .iova = 0x600000, .size = 0,
	  .err = EINVAL },
	/* §1.4.4 */
	{ "4: iova + size wraps", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = WRAP,
	  .size = 2 * PG, .err = EOVERFLOW },
	{ "4: size wraps from a low iova", FX_MAIN, .flags = RW, .abs = ABS, .va = 0x10000,
	  .iova = 0x600000, .size = WRAP, .err = EOVERFLOW },
	{ "4: vaddr + size wraps", FX_MAIN, .flags = RW, .abs = ABS, .va = WRAP,
	  .iova = 0x600000, .size = 2 * PG, .err = EOVERFLOW },
	{ "4: iova ends at 2^64-1: no wrap, outside the aperture", FX_MAIN, .flags = RW,
	  .va = FREE_VA, .iova = WRAP, .size = PG, .err = EINVAL },
	{ "4: vaddr ends at 2^64-1: no wrap, no memory", FX_MAIN, .flags = RW, .abs = ABS,
	  .va = WRAP, .iova = 0x600000, .size = PG, .err = EFAULT },
	{ "4+5: wrap, flags 0 (EOVERFLOW wins)", FX_MAIN, .flags = 0, .va = FREE_VA, .iova = WRAP,
	  .size = 2 * PG, .err = EOVERFLOW },
	{ "4+5: wrap, VADDR|READ (EOVERFLOW wins)", FX_MAIN, .flags = VA_ | R_, .va = FREE_VA,
	  .iova = WRAP, .size = 2 * PG, .err = EOVERFLOW },
	{ "4+6: wrap, unaligned iova (EOVERFLOW wins)", FX_MAIN, .flags = RW, .va = FREE_VA,
	  .iova = WRAP + 0x800, .size = PG, .err = EOVERFLOW },
	{ "4+6: wrap, unaligned size (EOVERFLOW wins)", FX_MAIN, .flags = RW, .va = FREE_VA,
	  .iova = WRAP, .size = PG + 0x800, .err = EOVERFLOW },
	{ "4+7: vaddr wraps, over a mapping (EOVERFLOW wins)", FX_MAIN, .flags = RW, .abs = ABS,
	  .va = WRAP, .iova = 0x200000, .size = 2 * PG, .err = EOVERFLOW },
	{ "4+8: vaddr wraps, no entry left (EOVERFLOW wins)", FX_FULL, .flags = RW, .abs = ABS,
	  .va = WRAP, .iova = 0x600000, .size = 2 * PG, .err = EOVERFLOW },
	/* §1.4.5 */
	{ "5: flags 0", FX_MAIN, .flags = 0, .va = FREE_VA, .iova = 0x600000, .size = SZ_64K,
	  .err = EINVAL },
	{ "5: VADDR|READ", FX_MAIN, .flags = VA_ | R_, .va = FREE_VA, .iova = 0x200000,
	  .size = SZ_64K, .err = EINVAL },
	{ "5: VADDR|WRITE", FX_MAIN, .flags = VA_ | W_, .va = FREE_VA, .iova = 0x200000,
	  .size = SZ_64K, .err = EINVAL },
	{ "5: VADDR|READ|WRITE", FX_MAIN, .flags = VA_ | RW, .va = FREE_VA, .iova = 0x600000,
	  .size = SZ_64K, .err = EINVAL },
	{ "5+6: flags 0, unaligned iova", FX_MAIN, .flags = 0, .va = FREE_VA, .iova = 0x600800,
	  .size = SZ_64K, .err = EINVAL },
	{ "5+7: flags 0 over a mapping (EINVAL, not EEXIST)", FX_MAIN, .flags = 0, .va = FREE_VA,
	  .iova = 0x200000, .size = SZ_64K, .err = EINVAL },
	{ "5+8: flags 0, no entry left (EINVAL, not ENOSPC)", FX_FULL, .flags = 0, .va = FREE_VA,
	  .iova = 0x600000, .size = SZ_64K, .err = EINVAL },
	{ "5+11: flags 0, no memory (EINVAL, not EFAULT)", FX_MAIN, .flags = 0, .va = OFF_NONE,
	  .iova = 0x600000, .size = PG, .err = EINVAL },
	/* §1.4.6 */
	{ "6: iova unaligned", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = 0x600800,
	  .size = SZ_64K, .err = EINVAL },
	{ "6: size unaligned", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = 0x600000,
	  .size = SZ_64K + 0x800, .err = EINVAL },
	{ "6: size 1", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = 0x600000, .size = 1,
	  .err = EINVAL },
	{ "6: vaddr unaligned", FX_MAIN, .flags = RW, .va = FREE_VA + 0x800, .iova = 0x600000,
	  .size = SZ_64K, .err = EINVAL },
	{ "6+7: unaligned iova over a mapping (EINVAL, not EEXIST)", FX_MAIN, .flags = RW,
	  .va = FREE_VA, .iova = 0x200800, .size = SZ_64K, .err = EINVAL },
	{ "6+7: unaligned vaddr over a mapping (EINVAL, not EEXIST)", FX_MAIN, .flags = RW,
	  .va = 1, .iova = 0x200000, .size = SZ_64K, .err = EINVAL },
	{ "6+8: unaligned, no entry left (EINVAL, not ENOSPC)", FX_FULL, .flags = RW,
	  .va = FREE_VA, .iova = 0x600000, .size = 0x800, .err = EINVAL },
	{ "6+11: unaligned size, no memory (EINVAL, not EFAULT)", FX_MAIN, .flags = RW,
	  .va = OFF_NONE, .iova = 0x600000, .size = 0x800, .err = EINVAL },
	{ "6+7: VADDR unaligned, no mapping (EINVAL, not ENOENT)", FX_MAIN, .flags = VA_,
	  .va = FREE_VA, .iova = 0x600800, .size = SZ_64K, .err = EINVAL },
	/* §1.4.7 */
	{ "7: exactly a mapping", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = 0x200000,
	  .size = SZ_64K, .err = EEXIST },
	{ "7: over a mapping's head", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = 0x1f0000,
	  .size = 0x11000, .err = EEXIST },
	{ "7: over a mapping's tail", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = 0x41f000,
	  .size = 2 * PG, .err = EEXIST },
	{ "7: inside a mapping", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = 0x204000,
	  .size = PG, .err = EEXIST },
	{ "7: across two adjacent mappings", FX_MAIN, .flags = RW, .va = FREE_VA,
	  .iova = 0x20f000, .size = 2 * PG, .err = EEXIST },
	{ "7: enclosing mappings", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = 0x100000,
	  .size = 0x400000, .err = EEXIST },
	{ "7: adjacent below A", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = 0x1f0000,
	  .size = SZ_64K, .err = 0 },
	{ "7: adjacent above B", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = 0x220000,
	  .size = SZ_64K, .err = 0 },
	{ "7: between B and C exactly", FX_MAIN, .flags = RW, .va = OFF_NONE + PG, .iova = 0x220000,
	  .size = 0x1e0000, .err = 0 },
	{ "7: same vaddr as A at another iova", FX_MAIN, .flags = RW, .va = 0, .iova = 0x600000,
	  .size = SZ_64K, .err = 0 },
	{ "7+9: over D and into SW_MSI (EEXIST, not EINVAL)", FX_MAIN, .flags = RW, .va = FREE_VA,
	  .iova = 0x7ff0000, .size = 0x20000, .err = EEXIST },
	{ "7+8: over a mapping, no entry left (EEXIST, not ENOSPC)", FX_FULL, .flags = RW,
	  .va = FREE_VA, .iova = 0x200000, .size = SZ_64K, .err = EEXIST },
	{ "7+11: over a mapping, no memory (EEXIST, not EFAULT)", FX_MAIN, .flags = RW,
	  .va = OFF_NONE, .iova = 0x204000, .size = PG, .err = EEXIST },
	{ "7+11: over a mapping, over memlock (EEXIST, not ENOMEM)", FX_MEMLOCK, .flags = RW,
	  .va = FREE_VA, .iova = 0x200000, .size = 4 * SZ_64K, .err = EEXIST },
	{ "7: VADDR, no mapping there", FX_MAIN, .flags = VA_, .va = FREE_VA, .iova = 0x600000,
	  .size = SZ_64K, .err = ENOENT },
	{ "7: VADDR on a mapping whose vaddr is valid", FX_MAIN, .flags = VA_, .va = FREE_VA,
	  .iova = 0x200000, .size = SZ_64K, .err = EINVAL },
	{ "7: VADDR over part of a valid mapping", FX_MAIN, .flags = VA_, .va = FREE_VA,
	  .iova = 0x200000, .size = PG, .err = EINVAL },
	{ "7+8: VADDR, no mapping, no entry left (ENOENT, not ENOSPC)", FX_FULL, .flags = VA_,
	  .va = FREE_VA, .iova = 0x600000, .size = SZ_64K, .err = ENOENT },
	/* §1.4.8 */
	{ "8: no entry left", FX_FULL, OKREQ, .err = ENOSPC },
	{ "8+9: no entry left, outside the aperture (ENOSPC wins)", FX_FULL, .flags = RW,
	  .va = FREE_VA, .iova = 1ull << 48, .size = SZ_64K, .err = ENOSPC },
	{ "8+9: no entry left, in SW_MSI (ENOSPC wins)", FX_FULL, .flags = RW, .va = FREE_VA,
	  .iova = SW_MSI_START, .size = PG, .err = ENOSPC },
	{ "8+11: no entry left, no memory (ENOSPC wins)", FX_FULL, .flags = RW, .va = OFF_NONE,
	  .iova = 0x600000, .size = PG, .err = ENOSPC },
	{ "8+11: no entry left, over memlock (ENOSPC wins)", FX_FULL_MEMLOCK, OKREQ,
	  .err = ENOSPC },
	/* §1.4.9 */
	{ "9: beyond the aperture", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = 1ull << 48,
	  .size = PG, .err = EINVAL },
	{ "9: far beyond the aperture", FX_MAIN, .flags = RW, .va = FREE_VA,
	  .iova = 0x8000000000000000ull, .size = PG, .err = EINVAL },
	{ "9: across the aperture's end", FX_MAIN, .flags = RW, .va = FREE_VA,
	  .iova = (1ull << 48) - PG, .size = 2 * PG, .err = EINVAL },
	{ "9: the aperture's last page", FX_MAIN, .flags = RW, .va = FREE_VA,
	  .iova = (1ull << 48) - PG, .size = PG, .err = 0 },
	{ "9: page 0", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = 0, .size = PG, .err = 0 },
	{ "9: SW_MSI's first page", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = SW_MSI_START,
	  .size = PG, .err = EINVAL },
	{ "9: SW_MSI's last page", FX_MAIN, .flags = RW, .va = FREE_VA,
	  .iova = SW_MSI_END + 1 - PG, .size = PG, .err = EINVAL },
	{ "9: across SW_MSI's end", FX_MAIN, .flags = RW, .va = FREE_VA,
	  .iova = SW_MSI_END + 1 - PG, .size = 2 * PG, .err = EINVAL },
	{ "9: SW_MSI and beyond", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = SW_MSI_START,
	  .size = 2 * SZ_1M, .err = EINVAL },
	{ "9: just above SW_MSI", FX_MAIN, .flags = RW, .va = FREE_VA, .iova = SW_MSI_END + 1,
	  .size = SZ_64K, .err = 0 },
	{ "9+11: outside the aperture, no memory (EINVAL, not EFAULT)", FX_MAIN, .flags = RW,
	  .va = OFF_NONE, .iova = 1ull << 48, .size = PG, .err = EINVAL },
	{ "9+11: in SW_MSI, over memlock (EINVAL, not ENOMEM)", FX_MEMLOCK, .flags = RW,
	  .va = FREE_VA, .iova = SW_MSI_START, .size = 2 * SZ_64K, .err = EINVAL },
	/* §1.4.11 */
	{ "11: a PROT_NONE page", FX_MAIN, .flags = RW, .va = OFF_NONE, .iova = 0x600000,
	  .size = PG, .err = EFAULT },
	{ "11: running into a PROT_NONE page", FX_MAIN, .flags = RW, .va = OFF_NONE - 4 * PG,
	  .iova = 0x600000, .size = SZ_64K, .err = EFAULT },
	{ "11: READ only, a PROT_NONE page", FX_MAIN, .flags = R_, .va = OFF_NONE,
	  .iova = 0x600000, .size = PG, .err = EFAULT },
	{ "11: vaddr 0", FX_MAIN, .flags = RW, .abs = ABS, .va = 0, .iova = 0x600000,
	  .size = PG, .err = EFAULT },
	{ "11: a kernel address", FX_MAIN, .flags = RW, .abs = ABS, .va = 0xffff800000000000ull,
	  .iova = 0x600000, .size = PG, .err = EFAULT },
	{ "11: device-writable map of read-only memory", FX_MAIN, .flags = RW, .va = OFF_RO,
	  .iova = 0x600000, .size = SZ_64K, .err = EFAULT },
	{ "11: device-read-only map of read-only memory", FX_MAIN, .flags = R_, .va = OFF_RO,
	  .iova = 0x600000, .size = SZ_64K, .err = 0 },
	{ "11: exactly up to memlock", FX_MEMLOCK, OKREQ, .err = 0 },
	{ "11: one page over memlock", FX_MEMLOCK, .flags = RW, .va = FREE_VA, .iova = 0x600000,
	  .size = SZ_64K + PG, .err = ENOMEM },
	{ "11: over memlock, same vaddr as A (charged again)", FX_MEMLOCK, .flags = RW, .va = 0, .iova = 0x600000, .size = 2 * SZ_64K,
	  .err = ENOMEM },
};

static bool run_map_case(const struct map_case *mc)
{
	struct fx f;
	struct vfio_iommu_type1_dma_map m;
	uint32_t avail0, avail1;
	int e;

	fx_init(&f, mc->fx);
	avail0 = dma_avail(f.ctx, f.c);
	EXPECT(avail0 == f.limit - NBASE, "[%s] fixture DMA_AVAIL %u", mc->name, avail0);
	memset(&m, 0, sizeof(m));
	m.argsz = mc->argsz == 0 ? sizeof(m) : mc->argsz == ARGSZ_ZERO ? 0 : mc->argsz;
	m.flags = mc->flags;
	m.vaddr = mc->abs ? mc->va : (uint64_t)(uintptr_t)(f.buf + mc->va);
	m.iova = mc->iova;
	m.size = mc->size;
	{
		/* argsz may claim more than the struct: give it room */
		uint8_t room[64];

		memset(room, 0, sizeof(room));
		memcpy(room, &m, sizeof(m));
		e = verr(f.ctx, f.c, VFIO_IOMMU_MAP_DMA, room);
	}
	if (e != mc->err) {
		print_error("MAP_DMA [%s]: flags 0x%x iova 0x%llx size 0x%llx: expected %s, got %s (%s)\n",
			    mc->name, mc->flags, (ull)mc->iova, (ull)mc->size, ename(mc->err),
			    ename(e), ap_ctx_error(f.ctx));
		fx_fini(&f);
		return false;
	}
	avail1 = dma_avail(f.ctx, f.c);
	all_base_live(&f, mc->name);
	if (e) {
		EXPECT(avail1 == avail0, "[%s] failed MAP changed DMA_AVAIL %u -> %u", mc->name,
		       avail0, avail1);
		if (mc->iova <= TOP48 && (mc->iova & (PG - 1)) == 0 && mc->size >= PG &&
		    !overlaps_base(mc->iova, PG))
			EXPECT(!reaches(&f, mc->iova), "[%s] failed MAP left iova 0x%llx mapped",
			       mc->name, (ull)mc->iova);
	} else {
		uint64_t got = 0;
		uint8_t tmp[64];

		EXPECT(avail1 == avail0 - 1, "[%s] MAP: DMA_AVAIL %u -> %u", mc->name, avail0, avail1);
		if (mc->flags & R_) {
			EXPECT(ap_dma_read(f.dev, mc->iova + mc->size - 64, tmp, 64, NULL) == 0,
			       "[%s] new mapping not readable", mc->name);
			EXPECT(memcmp(tmp, (const uint8_t *)(uintptr_t)m.vaddr + mc->size - 64, 64) == 0,
			       "[%s] new mapping reads other bytes", mc->name);
		}
		EXPECT(unmap_dma(f.ctx, f.c, mc->iova, mc->size, 0, &got) == 0 && got == mc->size,
		       "[%s] unmapping the new mapping: 0x%llx", mc->name, (ull)got);
		EXPECT(!reaches(&f, mc->iova), "[%s] still mapped after unmap", mc->name);
		EXPECT(dma_avail(f.ctx, f.c) == avail0, "[%s] DMA_AVAIL after unmap", mc->name);
	}
	fx_fini(&f);
	return true;
}

static void test_map_table(void **state)
{
	(void)state;
	RUN_TABLE(map_cases, run_map_case);
}

/* ---------------------------------------------------------- UNMAP_DMA table */

struct unmap_case {
	const char *name;
	enum fx_kind fx;
	uint32_t argsz; /* 0: the struct (+ the bitmap with U_DIRTY); ARGSZ_ZERO: 0 */
	uint32_t flags;
	uint64_t iova, size;
	/* with U_DIRTY: the vfio_bitmap */
	uint64_t pgsize, bmsize;
	int err;
	uint64_t unmapped; /* bytes, on success */
};

#define BM4K .pgsize = PG, .bmsize = 512

static const struct unmap_case unmap_cases[] = {
	{ "exactly A", FX_MAIN, .iova = 0x200000, .size = SZ_64K, .unmapped = SZ_64K },
	{ "argsz larger than the struct", FX_MAIN, .argsz = 64, .iova = 0x200000, .size = SZ_64K,
	  .unmapped = SZ_64K },
	/* §1.6.1 */
	{ "1: argsz short by one", FX_MAIN, .argsz = 23, .iova = 0x200000, .size = SZ_64K,
	  .err = EINVAL },
	{ "1: argsz 0", FX_MAIN, .argsz = ARGSZ_ZERO, .iova = 0x200000, .size = SZ_64K,
	  .err = EINVAL },
	{ "1: unknown flag bit 3", FX_MAIN, .flags = 8, .iova = 0x200000, .size = SZ_64K,
	  .err = EINVAL },
	{ "1+3: unknown flag, wrap (EINVAL, not EOVERFLOW)", FX_MAIN, .flags = 8, .iova = WRAP,
	  .size = 2 * PG, .err = EINVAL },
	{ "1+3: argsz short, wrap (EINVAL, not EOVERFLOW)", FX_MAIN, .argsz = 20, .iova = WRAP,
	  .size = 2 * PG, .err = EINVAL },
	{ "1: GET_DIRTY_BITMAP|ALL", FX_TRACK, .flags = U_DIRTY | U_ALL, BM4K, .err = EINVAL },
	{ "1: GET_DIRTY_BITMAP|VADDR", FX_TRACK, .flags = U_DIRTY | U_VADDR, .iova = 0x200000,
	  .size = SZ_64K, BM4K, .err = EINVAL },
	/* §1.6.2 */
	{ "2: dirty, argsz without the bitmap", FX_TRACK, .argsz = 24 + 23, .flags = U_DIRTY,
	  .iova = 0x200000, .size = SZ_64K, BM4K, .err = EINVAL },
	{ "2+3: dirty, argsz without the bitmap, wrap (EINVAL wins)", FX_TRACK, .argsz = 24,
	  .flags = U_DIRTY, .iova = WRAP, .size = 2 * PG, BM4K, .err = EINVAL },
	{ "2: dirty, bitmap size 0", FX_TRACK, .flags = U_DIRTY, .iova = 0x200000, .size = SZ_64K,
	  .pgsize = PG, .bmsize = 0, .err = EINVAL },
	{ "2: dirty, bitmap over 256 MiB", FX_TRACK, .flags = U_DIRTY, .iova = 0x200000,
	  .size = SZ_64K, .pgsize = PG, .bmsize = (256ull << 20) + 8, .err = EINVAL },
	{ "2: dirty, bitmap one word short", FX_TRACK, .flags = U_DIRTY, .iova = 0x200000,
	  .size = 0x220000, .pgsize = PG, .bmsize = 64, .err = EINVAL },
	{ "2: dirty, bitmap exactly big enough", FX_TRACK, .flags = U_DIRTY, .iova = 0x200000,
	  .size = 0x220000, .pgsize = PG, .bmsize = 72, .unmapped = 4 * SZ_64K },
	{ "2: dirty, no whole page at pgsize", FX_TRACK, .flags = U_DIRTY, .iova = 0x200000,
	  .size = SZ_64K, .pgsize = 1ull << 20, .bmsize = 8, .err = EINVAL },
	{ "2+3: dirty, bitmap too small for a wrapping range (EINVAL wins)", FX_TRACK,
	  .flags = U_DIRTY, .iova = 2 * PG, .size = WRAP, .pgsize = PG, .bmsize = 8,
	  .err = EINVAL },
	{ "2: dirty, bitmap.data not user memory", FX_TRACK, .flags = U_DIRTY, .iova = 0x200000,
	  .size = SZ_64K, .pgsize = 1, .bmsize = 8, .err = EINVAL },
	/* §1.6.3 */
	{ "3: iova unaligned", FX_MAIN, .iova = 0x200800, .size = SZ_64K, .err = EINVAL },
	{ "3: size 0", FX_MAIN, .iova = 0x200000, .size = 0, .err = EINVAL },
	{ "3: size 0 at iova 0 (EINVAL, not EOVERFLOW)", FX_MAIN, .iova = 0, .size = 0,
	  .err = EINVAL },
	{ "3: size unaligned", FX_MAIN, .iova = 0x200000, .size = SZ_64K + 0x800, .err = EINVAL },
	{ "3: wrap", FX_MAIN, .iova = WRAP, .size = 2 * PG, .err = EOVERFLOW },
	{ "3: size wraps from a low iova", FX_MAIN, .iova = 2 * PG, .size = WRAP,
	  .err = EOVERFLOW },
	{ "3: ends at 2^64-1: no wrap, nothing there", FX_MAIN, .iova = WRAP, .size = PG },
	{ "3+5: unaligned iova, wrap (EINVAL wins)", FX_MAIN, .iova = WRAP + 0x800, .size = 2 * PG,
	  .err = EINVAL },
	{ "3: unaligned size, wrap (EINVAL wins)", FX_MAIN, .iova = WRAP, .size = PG + 0x800,
	  .err = EINVAL },
	{ "3+5: wrap, would bisect A (EOVERFLOW wins)", FX_MAIN, .iova = 0x204000, .size = WRAP,
	  .err = EOVERFLOW },
	{ "3: ALL with iova", FX_MAIN, .flags = U_ALL, .iova = 0x200000, .err = EINVAL },
	{ "3: ALL with size", FX_MAIN, .flags = U_ALL, .size = SZ_64K, .err = EINVAL },
	{ "3: ALL with unaligned iova", FX_MAIN, .flags = U_ALL, .iova = 0x800, .err = EINVAL },
	{ "3: ALL", FX_MAIN, .flags = U_ALL, .unmapped = BASE_BYTES },
	/* §1.6.4 */
	{ "4: dirty, tracking off", FX_MAIN, .flags = U_DIRTY, .iova = 0x200000, .size = SZ_64K,
	  BM4K, .err = EINVAL },
	{ "4: dirty, pgsize 8K", FX_TRACK, .flags = U_DIRTY, .iova = 0x200000, .size = SZ_64K,
	  .pgsize = 2 * PG, .bmsize = 8, .err = EINVAL },
	{ "4: dirty, pgsize 64K", FX_TRACK, .flags = U_DIRTY, .iova = 0x200000, .size = SZ_64K,
	  .pgsize = SZ_64K, .bmsize = 8, .err = EINVAL },
	{ "4: dirty, pgsize 2K", FX_TRACK, .flags = U_DIRTY, .iova = 0x200000, .size = SZ_64K,
	  .pgsize = PG / 2, .bmsize = 8, .err = EINVAL },
	{ "4: dirty, A", FX_TRACK, .flags = U_DIRTY, .iova = 0x200000, .size = SZ_64K, BM4K,
	  .unmapped = SZ_64K },
	{ "4+5: dirty, tracking off, would bisect", FX_MAIN, .flags = U_DIRTY, .iova = 0x200000,
	  .size = PG, BM4K, .err = EINVAL },
	/* §1.6.5 */
	{ "5: starts inside A", FX_MAIN, .iova = 0x204000, .size = 0xc000, .err = EINVAL },
	{ "5: ends inside A", FX_MAIN, .iova = 0x200000, .size = 0x8000, .err = EINVAL },
	{ "5: one page of A", FX_MAIN, .iova = 0x200000, .size = PG, .err = EINVAL },
	{ "5: from inside A into B", FX_MAIN, .iova = 0x208000, .size = SZ_64K, .err = EINVAL },
	{ "5: A and half of B", FX_MAIN, .iova = 0x200000, .size = 0x18000, .err = EINVAL },
	{ "5: from a hole into C", FX_MAIN, .iova = 0x300000, .size = 0x108000, .err = EINVAL },
	{ "5: from inside B into a hole", FX_MAIN, .iova = 0x218000, .size = SZ_64K,
	  .err = EINVAL },
	{ "5: everything but D's last page", FX_MAIN, .iova = 0, .size = 0x7fff000,
	  .err = EINVAL },
	{ "5: A and B", FX_MAIN, .iova = 0x200000, .size = 2 * SZ_64K, .unmapped = 2 * SZ_64K },
	{ "5: holes, A, B and C", FX_MAIN, .iova = 0x1f0000, .size = 0x240000,
	  .unmapped = 4 * SZ_64K },
	{ "5: a hole only", FX_MAIN, .iova = 0x300000, .size = SZ_64K, .unmapped = 0 },
	{ "5: beyond the aperture", FX_MAIN, .iova = 1ull << 48, .size = PG, .unmapped = 0 },
	{ "5: the whole space but the last page", FX_MAIN, .iova = 0, .size = WRAP,
	  .unmapped = BASE_BYTES },
	{ "5: page 1 to 2^64-1", FX_MAIN, .iova = PG, .size = WRAP, .unmapped = BASE_BYTES },
	{ "5: D only", FX_MAIN, .iova = 0x7000000, .size = 0x2000000, .unmapped = SZ_64K },
};

static bool run_unmap_case(const struct unmap_case *uc)
{
	struct fx f;
	uint64_t raw[8];
	struct vfio_iommu_type1_dma_unmap *u = (struct vfio_iommu_type1_dma_unmap *)raw;
	uint64_t *bits;
	uint32_t avail0;
	unsigned i;
	int e;

	fx_init(&f, uc->fx);
	avail0 = dma_avail(f.ctx, f.c);
	bits = calloc(1, 4096);
	assert_non_null(bits);
	memset(raw, 0, sizeof(raw));
	u->argsz = sizeof(*u);
	if (uc->flags & U_DIRTY) {
		struct vfio_bitmap bm = { .pgsize = uc->pgsize, .size = uc->bmsize,
					  .data = (__u64 *)(void *)bits };

		if (uc->pgsize == 1) { /* marks the row whose data is no user memory */
			bm.pgsize = PG;
			bm.data = (__u64 *)(uintptr_t)0xffff800000000000ull;
		}

		memcpy(u->data, &bm, sizeof(bm));
		u->argsz += sizeof(bm);
	}
	if (uc->argsz)
		u->argsz = uc->argsz == ARGSZ_ZERO ? 0 : uc->argsz;
	u->flags = uc->flags;
	u->iova = uc->iova;
	u->size = uc->size;
	e = verr(f.ctx, f.c, VFIO_IOMMU_UNMAP_DMA, u);
	if (e != uc->err) {
		print_error("UNMAP_DMA [%s]: flags 0x%x iova 0x%llx size 0x%llx: expected %s, got %s (%s)\n",
			    uc->name, uc->flags, (ull)uc->iova, (ull)uc->size, ename(uc->err),
			    ename(e), ap_ctx_error(f.ctx));
		free(bits);
		fx_fini(&f);
		return false;
	}
	if (e) {
		/* §1.6.9: on error the struct is not copied back */
		EXPECT(u->size == uc->size, "[%s] failed UNMAP wrote size 0x%llx", uc->name,
		       (ull)u->size);
		EXPECT(dma_avail(f.ctx, f.c) == avail0, "[%s] failed UNMAP changed DMA_AVAIL",
		       uc->name);
		all_base_live(&f, uc->name);
	} else {
		unsigned removed = 0;

		EXPECT(u->size == uc->unmapped, "[%s] unmapped 0x%llx, expected 0x%llx", uc->name,
		       (ull)u->size, (ull)uc->unmapped);
		for (i = 0; i < NBASE; i++) {
			bool gone = (uc->flags & U_ALL) ||
				    (base[i].iova >= uc->iova &&
				     base[i].iova + base[i].size - 1 <= uc->iova + (uc->size - 1));

			base_check(&f, i, !gone, uc->name);
			removed += gone;
		}
		EXPECT(dma_avail(f.ctx, f.c) == avail0 + removed, "[%s] DMA_AVAIL %u, expected %u",
		       uc->name, dma_avail(f.ctx, f.c), avail0 + removed);
		if (uc->flags & U_DIRTY) {
			for (i = 0; i < 512 / 8; i++)
				EXPECT(bits[i] == 0, "[%s] nothing was written, yet dirty word %u = 0x%llx",
				       uc->name, i, (ull)bits[i]);
		}
	}
	free(bits);
	fx_fini(&f);
	return true;
}

static void test_unmap_table(void **state)
{
	(void)state;
	RUN_TABLE(unmap_cases, run_unmap_case);
}

/* ------------------------------------------------------- DIRTY_PAGES table */

enum bm_data { BM_ZEROED = 0, BM_KERNEL, BM_READONLY, BM_256M };

struct dirty_case {
	const char *name;
	enum fx_kind fx;
	uint32_t argsz; /* 0: the header (+ the range with GET) */
	uint32_t flags;
	uint64_t iova, size, pgsize, bmsize;
	int err;
	enum bm_data data; /* where bitmap.data points */
};

static const struct dirty_case dirty_cases[] = {
	{ "START", FX_MAIN, .flags = D_START },
	{ "START when started", FX_TRACK, .flags = D_START },
	{ "STOP", FX_TRACK, .flags = D_STOP },
	{ "STOP when stopped", FX_MAIN, .flags = D_STOP },
	{ "argsz 7", FX_MAIN, .argsz = 7, .flags = D_START, .err = EINVAL },
	{ "argsz 0", FX_MAIN, .argsz = ARGSZ_ZERO, .flags = D_STOP, .err = EINVAL },
	{ "flags 0", FX_MAIN, .flags = 0, .err = EINVAL },
	{ "START|STOP", FX_MAIN, .flags = D_START | D_STOP, .err = EINVAL },
	{ "START|GET_BITMAP", FX_TRACK, .flags = D_START | D_GET, .iova = 0x200000,
	  .size = SZ_64K, .pgsize = PG, .bmsize = 8, .err = EINVAL },
	{ "STOP|GET_BITMAP", FX_TRACK, .flags = D_STOP | D_GET, .iova = 0x200000,
	  .size = SZ_64K, .pgsize = PG, .bmsize = 8, .err = EINVAL },
	{ "unknown flag bit 3", FX_MAIN, .flags = 8, .err = EINVAL },
	{ "START with unknown flag bit 3", FX_MAIN, .flags = D_START | 8, .err = EINVAL },
	{ "GET: A", FX_TRACK, .flags = D_GET, .iova = 0x200000, .size = SZ_64K, .pgsize = PG,
	  .bmsize = 8 },
	{ "GET: A, B and C with the holes", FX_TRACK, .flags = D_GET, .iova = 0x1f0000,
	  .size = 0x240000, .pgsize = PG, .bmsize = 72 },
	{ "GET: a hole only", FX_TRACK, .flags = D_GET, .iova = 0x300000, .size = SZ_64K,
	  .pgsize = PG, .bmsize = 8 },
	{ "GET: argsz without the range", FX_TRACK, .argsz = 8 + 39, .flags = D_GET,
	  .iova = 0x200000, .size = SZ_64K, .pgsize = PG, .bmsize = 8, .err = EINVAL },
	{ "GET: argsz 8", FX_TRACK, .argsz = 8, .flags = D_GET, .iova = 0x200000,
	  .size = SZ_64K, .pgsize = PG, .bmsize = 8, .err = EINVAL },
	{ "GET: wrap", FX_TRACK, .flags = D_GET, .iova = WRAP, .size = 2 * PG, .pgsize = PG,
	  .bmsize = 8, .err = EOVERFLOW },
	{ "GET: wrap, tracking off (EOVERFLOW wins)", FX_MAIN, .flags = D_GET, .iova = WRAP,
	  .size = 2 * PG, .pgsize = PG, .bmsize = 8, .err = EOVERFLOW },
	{ "GET: wrap, pgsize 8K (EOVERFLOW wins)", FX_TRACK, .flags = D_GET, .iova = WRAP,
	  .size = 2 * PG, .pgsize = 2 * PG, .bmsize = 8, .err = EOVERFLOW },
	{ "GET: size 0", FX_TRACK, .flags = D_GET, .iova = 0x200000, .size = 0, .pgsize = PG,
	  .bmsize = 8, .err = EINVAL },
	{ "GET: bitmap size 0", FX_TRACK, .flags = D_GET, .iova = 0x200000, .size = SZ_64K,
	  .pgsize = PG, .bmsize = 0, .err = EINVAL },
	{ "GET: bitmap over 256 MiB", FX_TRACK, .flags = D_GET, .iova = 0x200000,
	  .size = SZ_64K, .pgsize = PG, .bmsize = (256ull << 20) + 8, .err = EINVAL },
	{ "GET: bitmap exactly 256 MiB", FX_TRACK, .flags = D_GET, .iova = 0x200000,
	  .size = SZ_64K, .pgsize = PG, .bmsize = 256ull << 20, .data = BM_256M },
	{ "GET: bitmap one word short", FX_TRACK, .flags = D_GET, .iova = 0x1f0000,
	  .size = 0x240000, .pgsize = PG, .bmsize = 64, .err = EINVAL },
	{ "GET: pgsize 8K", FX_TRACK, .flags = D_GET, .iova = 0x200000, .size = SZ_64K,
	  .pgsize = 2 * PG, .bmsize = 8, .err = EINVAL },
	{ "GET: pgsize 2M", FX_TRACK, .flags = D_GET, .iova = 0x200000, .size = 0x200000,
	  .pgsize = 0x200000, .bmsize = 8, .err = EINVAL },
	{ "GET: iova unaligned", FX_TRACK, .flags = D_GET, .iova = 0x200800, .size = SZ_64K,
	  .pgsize = PG, .bmsize = 8, .err = EINVAL },
	{ "GET: size unaligned", FX_TRACK, .flags = D_GET, .iova = 0x200000,
	  .size = SZ_64K + 0x800, .pgsize = PG, .bmsize = 8, .err = EINVAL },
	{ "GET: tracking off", FX_MAIN, .flags = D_GET, .iova = 0x200000, .size = SZ_64K,
	  .pgsize = PG, .bmsize = 8, .err = EINVAL },
	{ "GET: starts inside A", FX_TRACK, .flags = D_GET, .iova = 0x204000, .size = 0xc000,
	  .pgsize = PG, .bmsize = 8, .err = EINVAL },
	{ "GET: ends inside C", FX_TRACK, .flags = D_GET, .iova = 0x400000, .size = SZ_64K,
	  .pgsize = PG, .bmsize = 8, .err = EINVAL },
	{ "GET: bitmap.data not user memory", FX_TRACK, .flags = D_GET, .iova = 0x200000,
	  .size = SZ_64K, .pgsize = PG, .bmsize = 8, .err = EINVAL, .data = BM_KERNEL },
	{ "GET: bitmap.data read-only", FX_TRACK, .flags = D_GET, .iova = 0x200000,
	  .size = SZ_64K, .pgsize = PG, .bmsize = 8, .err = EFAULT, .data = BM_READONLY },
	{ "GET: bitmap.data not user memory, tracking off (EINVAL)", FX_MAIN, .flags = D_GET,
	  .iova = 0x200000, .size = SZ_64K, .pgsize = PG, .bmsize = 8, .err = EINVAL,
	  .data = BM_KERNEL },
	{ "GET: wrap, bitmap.data not user memory (EOVERFLOW wins)", FX_TRACK, .flags = D_GET,
	  .iova = WRAP, .size = 2 * PG, .pgsize = PG, .bmsize = 8, .err = EOVERFLOW,
	  .data = BM_KERNEL },
	{ "v1: START (EACCES)", FX_V1, .flags = D_START, .err = EACCES },
	{ "v1: flags 0 (EACCES wins)", FX_V1, .flags = 0, .err = EACCES },
	{ "v1: GET", FX_V1, .flags = D_GET, .iova = 0x200000, .size = SZ_64K, .pgsize = PG,
	  .bmsize = 8, .err = EACCES },
};

static bool run_dirty_case(const struct dirty_case *dc)
{
	struct fx f;
	uint64_t raw[16];
	struct vfio_iommu_type1_dirty_bitmap *d = (struct vfio_iommu_type1_dirty_bitmap *)raw;
	uint64_t *bits;
	void *big = NULL;
	int e;

	fx_init(&f, dc->fx);
	bits = calloc(1, 4096);
	assert_non_null(bits);
	memset(raw, 0, sizeof(raw));
	d->argsz = sizeof(*d);
	d->flags = dc->flags;
	if (dc->flags & D_GET) {
		struct vfio_iommu_type1_dirty_bitmap_get g = {
			.iova = dc->iova, .size = dc->size,
			.bitmap = { .pgsize = dc->pgsize, .size = dc->bmsize,
				    .data = (__u64 *)(void *)bits },
		};

		if (dc->data == BM_KERNEL)
			g.bitmap.data = (__u64 *)(uintptr_t)0xffff800000000000ull;
		else if (dc->data == BM_READONLY)
			g.bitmap.data = (__u64 *)(void *)(f.buf + OFF_RO);
		else if (dc->data == BM_256M) {
			big = mmap(NULL, 256ull << 20, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			assert_true(big != MAP_FAILED);
			g.bitmap.data = (__u64 *)big;
		}

		memcpy(d->data, &g, sizeof(g));
		d->argsz += sizeof(g);
	}
	if (dc->argsz)
		d->argsz = dc->argsz == ARGSZ_ZERO ? 0 : dc->argsz;
	e = verr(f.ctx, f.c, VFIO_IOMMU_DIRTY_PAGES, d);
	if (big)
		munmap(big, 256ull << 20);
	if (e != dc->err) {
		print_error("DIRTY_PAGES [%s]: flags 0x%x: expected %s, got %s (%s)\n", dc->name,
			    dc->flags, ename(dc->err), ename(e), ap_ctx_error(f.ctx));
		free(bits);
		fx_fini(&f);
		return false;
	}
	if (e == 0 && (dc->flags & D_GET)) {
		unsigned i;

		for (i = 0; i < 512; i++)
			EXPECT(bits[i] == 0, "[%s] nothing written, dirty word %u = 0x%llx", dc->name,
			       i, (ull)bits[i]);
	}
	all_base_live(&f, dc->name);
	free(bits);
	fx_fini(&f);
	return true;
}

static void test_dirty_table(void **state)
{
	(void)state;
	RUN_TABLE(dirty_cases, run_dirty_case);
}

/* ------------------------------------------------------ container and group */

static void test_container_states(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	struct ap_iommu *smmu = mk_smmu(ctx, "smmu0", 48);
	struct ap_device *dev = mk_dev(ctx, "dev", smmu, 1, AP_GROUP_OWN);
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	static const unsigned long bad_types[] = {
		0, VFIO_SPAPR_TCE_IOMMU, VFIO_DMA_CC_IOMMU, VFIO_EEH, VFIO_SPAPR_TCE_v2_IOMMU,
		VFIO_NOIOMMU_IOMMU, VFIO_UPDATE_VADDR, 12345,
	};
	uint8_t *buf;
	uint64_t got;
	size_t i;
	int c, g;

	(void)state;
	buf = buf_alloc(SZ_64K);
	c = open_container(ctx);

	/* §1.1: the container answers these itself */
	assert_int_equal(ap_vfio_ioctl(ctx, c, VFIO_GET_API_VERSION, NULL), VFIO_API_VERSION);
	assert_int_equal(check_ext(ctx, c, VFIO_TYPE1_IOMMU), 1);
	assert_int_equal(check_ext(ctx, c, VFIO_TYPE1v2_IOMMU), 1);
	assert_int_equal(check_ext(ctx, c, VFIO_UNMAP_ALL), 1);
	assert_int_equal(check_ext(ctx, c, VFIO_UPDATE_VADDR), 0); /* no backend yet */
	assert_int_equal(check_ext(ctx, c, VFIO_DMA_CC_IOMMU), 0); /* no instance */
	assert_int_equal(check_ext(ctx, c, VFIO_SPAPR_TCE_IOMMU), 0);
	assert_int_equal(check_ext(ctx, c, VFIO_NOIOMMU_IOMMU), 0);
	assert_int_equal(check_ext(ctx, c, VFIO_EEH), 0);
	assert_int_equal(check_ext(ctx, c, 12345), 0);

	/* no groups: SET_IOMMU is EINVAL, whatever the type; everything else
	 * is EINVAL without a backend */
	IS(set_iommu(ctx, c, VFIO_TYPE1v2_IOMMU), EINVAL, "SET_IOMMU, no group\n");
	IS(set_iommu(ctx, c, VFIO_SPAPR_TCE_IOMMU), EINVAL,
	   "SET_IOMMU of an unsupported type, no group (EINVAL wins over ENODEV)\n");
	IS(map_dma(ctx, c, buf, 0x100000, PG, RW), EINVAL, "MAP_DMA, no IOMMU\n");
	IS(unmap_dma(ctx, c, 0x100000, PG, 0, NULL), EINVAL, "UNMAP_DMA, no IOMMU\n");
	IS(unmap_dma(ctx, c, 0, 0, U_ALL, NULL), EINVAL, "UNMAP_DMA ALL, no IOMMU\n");
	IS(verr(ctx, c, VFIO_IOMMU_GET_INFO, &info), EINVAL, "GET_INFO, no IOMMU\n");
	IS(dirty_flags(ctx, c, D_START), EINVAL, "DIRTY_PAGES, no IOMMU\n");
	IS(verr(ctx, c, VFIO_IOMMU_ENABLE, NULL), EINVAL, "SPAPR ENABLE, no IOMMU\n");

	/* a group, still no IOMMU */
	g = open_group(ctx, dev);
	IS(verr(ctx, g, VFIO_GROUP_UNSET_CONTAINER, NULL), EINVAL, "UNSET, no container\n");
	IS(set_container(ctx, g, c), 0, "SET_CONTAINER\n");
	IS(map_dma(ctx, c, buf, 0x100000, PG, RW), EINVAL, "MAP_DMA before SET_IOMMU\n");
	IS(verr(ctx, c, VFIO_IOMMU_GET_INFO, &info), EINVAL, "GET_INFO before SET_IOMMU\n");
	IS(unmap_dma(ctx, c, 0, 0, U_ALL, NULL), EINVAL, "UNMAP_DMA before SET_IOMMU\n");
	IS(dirty_flags(ctx, c, D_START), EINVAL, "DIRTY_PAGES before SET_IOMMU\n");
	/* §1.1: no backend answers the extension: ENODEV */
	for (i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++)
		IS(set_iommu(ctx, c, bad_types[i]), ENODEV, "SET_IOMMU(%lu)\n", bad_types[i]);
	/* type1 answers UNMAP_ALL but cannot open it: the backend's EINVAL */
	IS(set_iommu(ctx, c, VFIO_UNMAP_ALL), EINVAL, "SET_IOMMU(VFIO_UNMAP_ALL)\n");
	/* none of that set anything */
	IS(map_dma(ctx, c, buf, 0x100000, PG, RW), EINVAL, "MAP_DMA after failed SET_IOMMUs\n");

	IS(set_iommu(ctx, c, VFIO_TYPE1v2_IOMMU), 0, "SET_IOMMU: %s\n", ap_ctx_error(ctx));
	IS(set_iommu(ctx, c, VFIO_TYPE1v2_IOMMU), EINVAL, "SET_IOMMU twice\n");
	IS(set_iommu(ctx, c, VFIO_TYPE1_IOMMU), EINVAL, "SET_IOMMU v1 after v2\n");
	IS(set_iommu(ctx, c, VFIO_SPAPR_TCE_IOMMU), EINVAL,
	   "SET_IOMMU of an unsupported type when set (EINVAL wins over ENODEV)\n");
	assert_int_equal(check_ext(ctx, c, VFIO_TYPE1_IOMMU), 1);
	assert_int_equal(check_ext(ctx, c, VFIO_TYPE1v2_IOMMU), 1);
	assert_int_equal(check_ext(ctx, c, VFIO_UNMAP_ALL), 1);
	assert_int_equal(check_ext(ctx, c, VFIO_UPDATE_VADDR), 1);
	assert_int_equal(check_ext(ctx, c, VFIO_SPAPR_TCE_IOMMU), 0);
	/* type1 does not know SPAPR's ENABLE */
	IS(verr(ctx, c, VFIO_IOMMU_ENABLE, NULL), ENOTTY, "SPAPR ENABLE on type1\n");
	IS(map_dma(ctx, c, buf, 0x100000, PG, RW), 0, "MAP_DMA: %s\n", ap_ctx_error(ctx));
	IS(unmap_dma(ctx, c, 0, 0, U_ALL, &got), 0, "UNMAP_DMA ALL\n");
	assert_int_equal(got, PG);

	IS(verr(ctx, g, VFIO_GROUP_UNSET_CONTAINER, NULL), 0, "UNSET\n");
	IS(verr(ctx, g, VFIO_GROUP_UNSET_CONTAINER, NULL), EINVAL, "UNSET twice\n");
	/* the last group left: back to no IOMMU */
	IS(map_dma(ctx, c, buf, 0x100000, PG, RW), EINVAL, "MAP_DMA after the last group left\n");
	IS(set_iommu(ctx, c, VFIO_TYPE1v2_IOMMU), EINVAL, "SET_IOMMU with no group again\n");

	assert_int_equal(ap_vfio_close(ctx, g), 0);
	assert_int_equal(ap_vfio_close(ctx, c), 0);
	ap_ctx_free(ctx);
	munmap(buf, SZ_64K);
}

static void test_group_errors(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *smmu = mk_smmu(ctx, "smmu0", 48);
	struct ap_device *d0 = mk_dev(ctx, "d0", smmu, 1, 0);
	struct ap_device *d1 = mk_dev(ctx, "d1", smmu, 2, 1);
	struct vfio_group_status st;
	static const char *const bad_paths[] = {
		"/dev/vfio/2", "/dev/vfio/99", "/dev/vfio/-1", "/dev/vfio/0x", "/dev/vfio/0 ",
		"/dev/vfio/vfio0", "/dev/vfio/abc", "/dev/null", "", "vfio", "/dev/vfio/2147483648",
	};
	size_t i;
	int c1, c2, g0, g1, fd;

	(void)state;
	(void)d1;
	for (i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		errno = 0;
		fd = ap_vfio_open(ctx, bad_paths[i]);
		EXPECT(fd == -1 && errno == ENOENT, "open \"%s\": %d, %s; expected -1, ENOENT",
		       bad_paths[i], fd, ename(errno));
	}
	c1 = open_container(ctx);
	c2 = open_container(ctx);
	EXPECT(c1 != c2, "two containers share a handle");
	g0 = open_group(ctx, d0);
	errno = 0;
	fd = ap_vfio_open(ctx, "/dev/vfio/0");
	EXPECT(fd == -1 && errno == EBUSY, "second open of group 0: %d, %s", fd, ename(errno));
	g1 = open_group(ctx, d1);
	EXPECT(g1 != g0 && g1 != c1 && g1 != c2, "handles are unique");

	/* GET_STATUS argsz */
	memset(&st, 0, sizeof(st));
	st.argsz = 7;
	IS(verr(ctx, g0, VFIO_GROUP_GET_STATUS, &st), EINVAL, "GET_STATUS argsz 7\n");
	EXPECT(group_flags(ctx, g0) == VFIO_GROUP_FLAGS_VIABLE, "fresh group flags");

	/* SET_CONTAINER: a handle that is not a container; twice; elsewhere */
	IS(set_container(ctx, g0, g1), EBADFD, "SET_CONTAINER with a group as container\n");
	IS(set_container(ctx, g0, c1), 0, "SET_CONTAINER\n");
	IS(set_container(ctx, g0, c1), EINVAL, "SET_CONTAINER twice\n");
	IS(set_container(ctx, g0, c2), EINVAL, "SET_CONTAINER into a second container\n");
	IS(set_container(ctx, g0, g1), EINVAL,
	   "SET_CONTAINER when set, with a group as container (EINVAL wins over EBADFD)\n");
	EXPECT(group_flags(ctx, g0) == (VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET),
	       "flags");
	IS(verr(ctx, g1, VFIO_GROUP_UNSET_CONTAINER, NULL), EINVAL, "UNSET without container\n");
	IS(set_iommu(ctx, c1, VFIO_TYPE1v2_IOMMU), 0, "SET_IOMMU\n");
	/* the second container is still unprivileged */
	IS(set_iommu(ctx, c2, VFIO_TYPE1v2_IOMMU), EINVAL, "SET_IOMMU of an empty container\n");

	/* a container handle that is not open: EBADF (fdget fails) */
	IS(set_container(ctx, g1, 4242), EBADF, "SET_CONTAINER with an unknown handle\n");
	/* a request groups do not know: ENOTTY */
	{
		struct vfio_iommu_type1_dma_map m = { .argsz = sizeof(m) };

		IS(verr(ctx, g1, VFIO_IOMMU_MAP_DMA, &m), ENOTTY, "MAP_DMA on a group handle\n");
	}
	errno = 0;
	fd = ap_vfio_open(ctx, NULL);
	EXPECT(fd == -1 && errno == EFAULT, "open(NULL): %d, %s", fd, ename(errno));
	/* handles that name nothing: EBADF, as for a file descriptor */
	IS(verr(ctx, 4242, VFIO_GET_API_VERSION, NULL), EBADF, "ioctl on an unknown handle\n");
	IS(verr(ctx, -1, VFIO_GET_API_VERSION, NULL), EBADF, "ioctl on handle -1\n");
	errno = 0;
	EXPECT(ap_vfio_close(ctx, 4242) == -1 && errno == EBADF, "close of an unknown handle");

	/* close, then reopen */
	assert_int_equal(ap_vfio_close(ctx, g1), 0);
	errno = 0;
	EXPECT(ap_vfio_close(ctx, g1) == -1 && errno == EBADF, "double close");
	IS(verr(ctx, g1, VFIO_GROUP_GET_STATUS, &st), EBADF, "ioctl on a closed handle\n");
	g1 = open_group(ctx, d1);
	assert_int_equal(ap_vfio_close(ctx, g0), 0);
	g0 = open_group(ctx, d0);
	EXPECT(group_flags(ctx, g0) == VFIO_GROUP_FLAGS_VIABLE,
	       "closing a group took it out of its container");

	assert_int_equal(ap_vfio_close(ctx, g0), 0);
	assert_int_equal(ap_vfio_close(ctx, g1), 0);
	assert_int_equal(ap_vfio_close(ctx, c1), 0);
	assert_int_equal(ap_vfio_close(ctx, c2), 0);
	ap_ctx_free(ctx);
}

/* §1.2: a group whose DMA a driver owns (here: attached to a domain through
 * the core API) is not viable, and SET_CONTAINER is EPERM; a device whose
 * IOMMU walks without coherency has no VFIO group at all (registration is
 * refused), so its group does not open (ENOENT). */
static void test_ownership_and_coherency(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *smmu = mk_smmu(ctx, "smmu0", 48);
	struct ap_iommu_config cfg;
	struct ap_iommu *nc;
	struct ap_device *owned = mk_dev(ctx, "owned", smmu, 1, 1);
	struct ap_device *ncdev;
	struct ap_domain *dom = NULL;
	char path[32];
	int c, g, fd;

	(void)state;
	ap_iommu_config_init(&cfg, AP_IOMMU_ARM_SMMU_V3);
	cfg.coherent_walk = false;
	nc = mk_iommu_cfg(ctx, "noncoherent", &cfg);
	ncdev = mk_dev(ctx, "ncdev", nc, 1, 2);
	assert_int_equal(ap_domain_new(ctx, "kernel-dma", smmu, AP_DOMAIN_PAGING, &dom), 0);
	assert_int_equal(ap_attach(dom, owned), 0);

	c = open_container(ctx);
	g = open_group(ctx, owned);
	EXPECT(!(group_flags(ctx, g) & VFIO_GROUP_FLAGS_VIABLE), "an owned group is viable");
	IS(set_container(ctx, g, c), EPERM, "SET_CONTAINER of an owned group\n");
	assert_int_equal(ap_detach(owned), 0);
	EXPECT(group_flags(ctx, g) & VFIO_GROUP_FLAGS_VIABLE, "released group is not viable");
	IS(set_container(ctx, g, c), 0, "SET_CONTAINER once released\n");

	snprintf(path, sizeof(path), "/dev/vfio/%d", ap_device_group_id(ncdev));
	errno = 0;
	fd = ap_vfio_open(ctx, path);
	EXPECT(fd == -1 && errno == ENOENT, "open %s (no coherent walks): %d, %s", path, fd,
	       ename(errno));
	assert_int_equal(ap_vfio_close(ctx, g), 0);
	assert_int_equal(ap_vfio_close(ctx, c), 0);
	ap_ctx_free(ctx);
}

/* §1.3: GET_INFO needs argsz up to iova_pgsizes (16 bytes): EINVAL below;
 * from there on it succeeds, and asks for the capabilities' size. */
static void test_get_info_argsz(void **state)
{
	struct fx f;
	static const uint32_t bad[] = { 0, 1, 8, 12, 15 };
	struct vfio_iommu_type1_info info;
	size_t i;

	(void)state;
	fx_init(&f, FX_MAIN);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&info, 0, sizeof(info));
		info.argsz = bad[i];
		IS(verr(f.ctx, f.c, VFIO_IOMMU_GET_INFO, &info), EINVAL, "GET_INFO argsz %u\n",
		   bad[i]);
	}
	memset(&info, 0, sizeof(info));
	info.argsz = 16;
	IS(verr(f.ctx, f.c, VFIO_IOMMU_GET_INFO, &info), 0, "GET_INFO argsz 16\n");
	EXPECT(info.argsz > sizeof(info) && (info.flags & VFIO_IOMMU_INFO_CAPS),
	       "argsz 16: argsz %u flags 0x%x", info.argsz, info.flags);
	memset(&info, 0, sizeof(info));
	info.argsz = sizeof(info);
	IS(verr(f.ctx, f.c, VFIO_IOMMU_GET_INFO, &info), 0, "GET_INFO argsz 24\n");
	EXPECT(info.cap_offset == 0, "too small for the caps: cap_offset %u", info.cap_offset);
	fx_fini(&f);
}

/* ------------------------------------------------------------ limits */

static void test_entry_limit(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	struct ap_iommu *smmu = mk_smmu(ctx, "smmu0", 48);
	struct ap_device *d0 = mk_dev(ctx, "d0", smmu, 1, AP_GROUP_OWN);
	struct ap_device *d1 = mk_dev(ctx, "d1", smmu, 2, AP_GROUP_OWN);
	uint8_t *buf;
	uint64_t got;
	int c1, c2, g0, g1, i;

	(void)state;
	buf = buf_alloc(SZ_64K);
	ap_vfio_set_dma_entry_limit(ctx, 3);
	c1 = open_container(ctx);
	ap_vfio_set_dma_entry_limit(ctx, 5); /* applies to containers opened from now */
	c2 = open_container(ctx);
	g0 = open_group(ctx, d0);
	g1 = open_group(ctx, d1);
	IS(set_container(ctx, g0, c1), 0, "SET_CONTAINER\n");
	IS(set_container(ctx, g1, c2), 0, "SET_CONTAINER\n");
	IS(set_iommu(ctx, c1, VFIO_TYPE1v2_IOMMU), 0, "SET_IOMMU\n");
	IS(set_iommu(ctx, c2, VFIO_TYPE1v2_IOMMU), 0, "SET_IOMMU\n");
	EXPECT(dma_avail(ctx, c1) == 3, "DMA_AVAIL %u, expected 3", dma_avail(ctx, c1));
	EXPECT(dma_avail(ctx, c2) == 5, "DMA_AVAIL %u, expected 5", dma_avail(ctx, c2));

	/* adjacent mappings are not merged: each costs an entry */
	for (i = 0; i < 3; i++)
		IS(map_dma(ctx, c1, buf + i * PG, 0x100000 + i * PG, PG, RW), 0, "map %d\n", i);
	EXPECT(dma_avail(ctx, c1) == 0, "DMA_AVAIL %u, expected 0", dma_avail(ctx, c1));
	IS(map_dma(ctx, c1, buf + 3 * PG, 0x100000 + 3 * PG, PG, RW), ENOSPC, "fourth map\n");
	IS(map_dma(ctx, c1, buf, 0x900000, SZ_64K, RW), ENOSPC, "fourth map, elsewhere\n");
	/* the other container has its own count */
	for (i = 0; i < 5; i++)
		IS(map_dma(ctx, c2, buf, 0x100000 + i * SZ_64K, SZ_64K, RW), 0, "c2 map %d\n", i);
	IS(map_dma(ctx, c2, buf, 0x100000 + 5 * SZ_64K, SZ_64K, RW), ENOSPC, "c2 sixth map\n");
	/* an unmap frees an entry */
	IS(unmap_dma(ctx, c1, 0x101000, PG, 0, &got), 0, "unmap\n");
	assert_int_equal(got, PG);
	EXPECT(dma_avail(ctx, c1) == 1, "DMA_AVAIL %u, expected 1", dma_avail(ctx, c1));
	IS(map_dma(ctx, c1, buf, 0x900000, SZ_64K, RW), 0, "map after an unmap\n");
	IS(map_dma(ctx, c1, buf, 0xa00000, SZ_64K, RW), ENOSPC, "full again\n");
	/* one unmap over several mappings frees them all */
	IS(unmap_dma(ctx, c1, 0x100000, 0x1000000, 0, &got), 0, "unmap all three\n");
	assert_int_equal(got, 2 * PG + SZ_64K);
	EXPECT(dma_avail(ctx, c1) == 3, "DMA_AVAIL %u, expected 3", dma_avail(ctx, c1));
	IS(unmap_dma(ctx, c2, 0, 0, U_ALL, &got), 0, "UNMAP_ALL\n");
	assert_int_equal(got, 5 * SZ_64K);
	EXPECT(dma_avail(ctx, c2) == 5, "DMA_AVAIL %u after UNMAP_ALL", dma_avail(ctx, c2));

	assert_int_equal(ap_vfio_close(ctx, g0), 0);
	assert_int_equal(ap_vfio_close(ctx, g1), 0);
	assert_int_equal(ap_vfio_close(ctx, c1), 0);
	assert_int_equal(ap_vfio_close(ctx, c2), 0);

	/* limit 0: nothing maps */
	ap_vfio_set_dma_entry_limit(ctx, 0);
	c1 = open_type1v2(ctx, d0, &g0);
	EXPECT(dma_avail(ctx, c1) == 0, "DMA_AVAIL with limit 0");
	IS(map_dma(ctx, c1, buf, 0x100000, PG, RW), ENOSPC, "map with limit 0\n");
	assert_int_equal(ap_vfio_close(ctx, g0), 0);
	assert_int_equal(ap_vfio_close(ctx, c1), 0);
	ap_ctx_free(ctx);
	munmap(buf, SZ_64K);
}

static void test_memlock(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *smmu = mk_smmu(ctx, "smmu0", 48);
	struct ap_device *dev = mk_dev(ctx, "dev", smmu, 1, AP_GROUP_OWN);
	uint8_t *buf;
	uint64_t got;
	uint32_t avail;
	int c, g;

	(void)state;
	buf = buf_alloc(8 * PG);
	assert_int_equal(mprotect(buf + 6 * PG, PG, PROT_NONE), 0);
	ap_vfio_set_memlock_limit(ctx, 3 * PG);
	c = open_container(ctx);
	ap_vfio_set_memlock_limit(ctx, UINT64_MAX); /* not for the open container */
	g = open_group(ctx, dev);
	IS(set_container(ctx, g, c), 0, "SET_CONTAINER\n");
	IS(set_iommu(ctx, c, VFIO_TYPE1v2_IOMMU), 0, "SET_IOMMU\n");
	avail = dma_avail(ctx, c);

	IS(map_dma(ctx, c, buf, 0x100000, 4 * PG, RW), ENOMEM, "4 pages over a 3-page limit\n");
	EXPECT(!ap_device_iova_to_phys(dev, 0x100000, &got), "ENOMEM left a page mapped");
	EXPECT(dma_avail(ctx, c) == avail, "ENOMEM took an entry");
	IS(map_dma(ctx, c, buf, 0x100000, 2 * PG, RW), 0, "2 pages: %s\n", ap_ctx_error(ctx));
	/* the same memory at a second IOVA is charged again */
	IS(map_dma(ctx, c, buf, 0x200000, 2 * PG, RW), ENOMEM, "2 more pages of the same memory\n");
	IS(map_dma(ctx, c, buf, 0x200000, PG, RW), 0, "the third page\n");
	IS(map_dma(ctx, c, buf + 3 * PG, 0x300000, PG, R_), ENOMEM, "a fourth page, read-only\n");
	/* an unmap gives the charge back */
	IS(unmap_dma(ctx, c, 0x100000, 2 * PG, 0, &got), 0, "unmap\n");
	IS(map_dma(ctx, c, buf + 3 * PG, 0x300000, 2 * PG, RW), 0, "2 pages after the unmap\n");
	IS(unmap_dma(ctx, c, 0, 0, U_ALL, &got), 0, "UNMAP_ALL\n");
	assert_int_equal(got, 3 * PG);
	/* a map that fails half-way (EFAULT) charges nothing */
	IS(map_dma(ctx, c, buf + 4 * PG, 0x400000, 3 * PG, RW), EFAULT, "into the PROT_NONE page\n");
	EXPECT(!ap_device_iova_to_phys(dev, 0x400000, &got), "EFAULT left a page mapped");
	EXPECT(dma_avail(ctx, c) == avail, "EFAULT took an entry");
	IS(map_dma(ctx, c, buf + 3 * PG, 0x400000, 3 * PG, RW), 0,
	   "3 pages after the failed map: %s\n", ap_ctx_error(ctx));

	assert_int_equal(ap_vfio_close(ctx, g), 0);
	assert_int_equal(ap_vfio_close(ctx, c), 0);
	ap_ctx_free(ctx);
	munmap(buf, 8 * PG);
}

/* CAP_IPC_LOCK in this process's effective set (CapEff bit 14). */
static bool has_cap_ipc_lock(void)
{
	char line[256];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return eff & (1ull << 14);
}

/* Without ap_vfio_set_memlock_limit() the limit is the process's
 * RLIMIT_MEMLOCK, or none with CAP_IPC_LOCK (vfio.h; §1.5), whichever
 * this test runs with (test_vfio_memlock drops and raises the capability
 * in children for both). */
static void test_memlock_rlimit(void **state)
{
	struct rlimit old, low;
	struct ap_ctx *ctx;
	struct ap_device *dev;
	uint8_t *buf;
	int c, g, over;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &old), 0);
	low = old;
	low.rlim_cur = 16 * PG;
	if (old.rlim_max != RLIM_INFINITY && old.rlim_max < low.rlim_cur)
		low.rlim_cur = old.rlim_max & ~(PG - 1);
	if (low.rlim_cur < PG)
		skip();
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &low), 0);
	buf = buf_alloc(32 * PG);
	ctx = ap_ctx_new();
	dev = mk_dev(ctx, "dev", mk_smmu(ctx, "smmu0", 48), 1, AP_GROUP_OWN);
	c = open_type1v2(ctx, dev, &g);
	over = has_cap_ipc_lock() ? 0 : ENOMEM;
	IS(map_dma(ctx, c, buf, 0x100000, low.rlim_cur + PG, RW), over,
	   "one page over RLIMIT_MEMLOCK (%llu bytes)\n", (ull)low.rlim_cur);
	if (!over)
		IS(unmap_dma(ctx, c, 0x100000, low.rlim_cur + PG, 0, NULL), 0, "unmap\n");
	IS(map_dma(ctx, c, buf, 0x100000, low.rlim_cur, RW), 0, "up to RLIMIT_MEMLOCK: %s\n",
	   ap_ctx_error(ctx));
	IS(map_dma(ctx, c, buf, 0x900000, PG, RW), over, "a page more\n");
	assert_int_equal(ap_vfio_close(ctx, g), 0);
	assert_int_equal(ap_vfio_close(ctx, c), 0);
	ap_ctx_free(ctx);
	munmap(buf, 32 * PG);
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &old), 0);
}

/* EFAULT for memory that is not there: unmapped, PROT_NONE; nothing left
 * behind; the same request succeeds once the memory is there. */
static void test_efault(void **state)
{
	struct fx f;
	uint8_t *hole;
	uint64_t pa;

	(void)state;
	fx_init(&f, FX_MAIN);
	hole = buf_alloc(4 * PG);
	assert_int_equal(munmap(hole, 4 * PG), 0);
	IS(map_dma(f.ctx, f.c, hole, 0x600000, 4 * PG, RW), EFAULT, "munmap'd memory\n");
	IS(map_dma(f.ctx, f.c, hole + 2 * PG, 0x600000, PG, R_), EFAULT, "munmap'd memory, READ\n");
	IS(map_dma(f.ctx, f.c, f.buf + OFF_NONE - 2 * PG, 0x600000, 3 * PG, RW), EFAULT,
	   "last page PROT_NONE\n");
	EXPECT(!ap_device_iova_to_phys(f.dev, 0x600000, &pa), "first page left mapped");
	EXPECT(!ap_device_iova_to_phys(f.dev, 0x601000, &pa), "second page left mapped");
	EXPECT(dma_avail(f.ctx, f.c) == 65535 - NBASE, "an entry was taken");
	assert_int_equal(mprotect(f.buf + OFF_NONE, PG, PROT_READ | PROT_WRITE), 0);
	IS(map_dma(f.ctx, f.c, f.buf + OFF_NONE - 2 * PG, 0x600000, 3 * PG, RW), 0,
	   "the same request with the memory there: %s\n", ap_ctx_error(f.ctx));
	all_base_live(&f, "efault");
	fx_fini(&f);
}

static void test_unmap_all(void **state)
{
	struct fx f;
	uint64_t got = 77;
	unsigned i;

	(void)state;
	fx_init(&f, FX_MAIN);
	IS(unmap_dma(f.ctx, f.c, 0, 0, U_ALL, &got), 0, "UNMAP_ALL\n");
	EXPECT(got == BASE_BYTES, "UNMAP_ALL unmapped 0x%llx", (ull)got);
	for (i = 0; i < NBASE; i++)
		base_check(&f, i, false, "UNMAP_ALL");
	EXPECT(dma_avail(f.ctx, f.c) == 65535, "DMA_AVAIL after UNMAP_ALL");
	got = 77;
	IS(unmap_dma(f.ctx, f.c, 0, 0, U_ALL, &got), 0, "UNMAP_ALL of nothing\n");
	EXPECT(got == 0, "UNMAP_ALL of nothing unmapped 0x%llx", (ull)got);
	/* the IOVAs are free again */
	IS(map_dma(f.ctx, f.c, f.buf, 0x200000, 2 * SZ_64K, RW), 0, "map over A and B\n");
	IS(unmap_dma(f.ctx, f.c, 0, 0, U_ALL, &got), 0, "UNMAP_ALL\n");
	EXPECT(got == 2 * SZ_64K, "UNMAP_ALL unmapped 0x%llx", (ull)got);
	fx_fini(&f);
}

/* VFIO_UPDATE_VADDR (§1.4 step 7, §1.5, §1.6 step 8). */
static void test_vaddr(void **state)
{
	struct fx f;
	struct ap_device *other;
	uint8_t tmp[64];
	uint64_t got;
	int g2;

	(void)state;
	fx_init(&f, FX_MAIN);
	other = mk_dev(f.ctx, "other", ap_device_iommu(f.dev), 0x99, 9);
	/* invalidate A's vaddr: DMA continues */
	IS(unmap_dma(f.ctx, f.c, 0x200000, SZ_64K, U_VADDR, &got), 0, "UNMAP VADDR A\n");
	EXPECT(got == SZ_64K, "UNMAP VADDR reported 0x%llx", (ull)got);
	EXPECT(dma_avail(f.ctx, f.c) == 65535 - NBASE, "VADDR unmap freed an entry");
	assert_int_equal(ap_dma_read(f.dev, 0x200100, tmp, 64, NULL), 0);
	assert_memory_equal(tmp, f.buf + 0x100, 64);
	/* twice: EINVAL */
	IS(unmap_dma(f.ctx, f.c, 0x200000, SZ_64K, U_VADDR, &got), EINVAL, "UNMAP VADDR A twice\n");
	IS(map_dma(f.ctx, f.c, f.buf, 0x200000, SZ_64K, VA_), 0, "MAP VADDR A: %s\n",
	   ap_ctx_error(f.ctx));
	/* §1.6 step 8: B invalid; VADDR over A and B marks A, meets B, rolls A back */
	IS(unmap_dma(f.ctx, f.c, 0x210000, SZ_64K, U_VADDR, NULL), 0, "UNMAP VADDR B\n");
	IS(unmap_dma(f.ctx, f.c, 0x200000, 2 * SZ_64K, U_VADDR, NULL), EINVAL, "UNMAP VADDR A+B\n");
	IS(map_dma(f.ctx, f.c, f.buf, 0x200000, SZ_64K, VA_), EINVAL,
	   "A's vaddr must be valid again (rolled back): MAP VADDR on A\n");
	IS(map_dma(f.ctx, f.c, f.buf + SZ_64K, 0x210000, SZ_64K, VA_), 0, "MAP VADDR B\n");
	IS(unmap_dma(f.ctx, f.c, 0x200000, SZ_64K, U_VADDR, NULL), 0, "UNMAP VADDR A again\n");
	/* while a vaddr is invalid, no group may join (§1.2 step 1) */
	g2 = open_group(f.ctx, other);
	IS(set_container(f.ctx, g2, f.c), EBUSY, "SET_CONTAINER with an invalid vaddr\n");
	EXPECT(group_flags(f.ctx, g2) == VFIO_GROUP_FLAGS_VIABLE, "refused group is in a container");
	/* a plain map over it is still EEXIST; VADDR with other iova/size EINVAL */
	IS(map_dma(f.ctx, f.c, f.buf + FREE_VA, 0x200000, SZ_64K, RW), EEXIST, "MAP over A\n");
	IS(map_dma(f.ctx, f.c, f.buf, 0x200000, PG, VA_), EINVAL, "MAP VADDR, other size\n");
	IS(map_dma(f.ctx, f.c, f.buf, 0x1f0000, 2 * SZ_64K, VA_), EINVAL, "MAP VADDR, other iova\n");
	/* restore it: the same memory, a new address is the user's business */
	IS(map_dma(f.ctx, f.c, f.buf, 0x200000, SZ_64K, VA_), 0, "MAP VADDR A: %s\n",
	   ap_ctx_error(f.ctx));
	IS(map_dma(f.ctx, f.c, f.buf, 0x200000, SZ_64K, VA_), EINVAL, "MAP VADDR A twice\n");
	IS(set_container(f.ctx, g2, f.c), 0, "SET_CONTAINER once all vaddrs are valid\n");
	assert_int_equal(ap_dma_read(other, 0x200100, tmp, 64, NULL), 0);
	assert_memory_equal(tmp, f.buf + 0x100, 64);
	/* UNMAP VADDR of everything with ALL */
	IS(unmap_dma(f.ctx, f.c, 0, 0, U_ALL | U_VADDR, &got), 0, "UNMAP ALL|VADDR\n");
	EXPECT(got == BASE_BYTES, "UNMAP ALL|VADDR reported 0x%llx", (ull)got);
	all_base_live(&f, "after ALL|VADDR");
	/* an invalid mapping is still unmapped normally */
	IS(unmap_dma(f.ctx, f.c, 0, 0, U_ALL, &got), 0, "UNMAP_ALL\n");
	EXPECT(got == BASE_BYTES, "UNMAP_ALL reported 0x%llx", (ull)got);
	assert_int_equal(ap_vfio_close(f.ctx, g2), 0);
	fx_fini(&f);
}

/* §1.4 step 1, §1.3, §1.6, §1.7, §1.2: an argument that cannot be read is
 * EFAULT (copy_from_user), as ioctl(2) answers for a bad pointer. */
static void test_null_args(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, FX_MAIN);
	IS(verr(f.ctx, f.c, VFIO_IOMMU_MAP_DMA, NULL), EFAULT, "MAP_DMA(NULL)\n");
	IS(verr(f.ctx, f.c, VFIO_IOMMU_UNMAP_DMA, NULL), EFAULT, "UNMAP_DMA(NULL)\n");
	IS(verr(f.ctx, f.c, VFIO_IOMMU_GET_INFO, NULL), EFAULT, "GET_INFO(NULL)\n");
	IS(verr(f.ctx, f.c, VFIO_IOMMU_DIRTY_PAGES, NULL), EFAULT, "DIRTY_PAGES(NULL)\n");
	IS(verr(f.ctx, f.g, VFIO_GROUP_GET_STATUS, NULL), EFAULT, "GET_STATUS(NULL)\n");
	IS(verr(f.ctx, f.g, VFIO_GROUP_SET_CONTAINER, NULL), EFAULT, "SET_CONTAINER(NULL)\n");
	all_base_live(&f, "NULL arguments");
	fx_fini(&f);
}

/* VADDR restore needs no entry (§1.4 step 7 returns before step 8). */
static void test_vaddr_at_limit(void **state)
{
	struct fx f;
	uint64_t got;

	(void)state;
	fx_init(&f, FX_FULL);
	IS(unmap_dma(f.ctx, f.c, 0x400000, 2 * SZ_64K, U_VADDR, &got), 0, "UNMAP VADDR C\n");
	IS(map_dma(f.ctx, f.c, f.buf + FREE_VA, 0x600000, SZ_64K, RW), ENOSPC, "MAP at the limit\n");
	IS(map_dma(f.ctx, f.c, f.buf + 2 * SZ_64K, 0x400000, 2 * SZ_64K, VA_), 0,
	   "MAP VADDR at the limit: %s\n", ap_ctx_error(f.ctx));
	all_base_live(&f, "VADDR at the limit");
	fx_fini(&f);
}

/* v1 unmap (§1.6 step 6): offset into a mapping unmaps nothing; covering a
 * mapping's first IOVA removes all of it. */
static void test_v1_unmap(void **state)
{
	struct fx f;
	uint64_t got;

	(void)state;
	fx_init(&f, FX_V1);
	IS(unmap_dma(f.ctx, f.c, 0x204000, PG, 0, &got), 0, "v1 unmap inside A\n");
	EXPECT(got == 0, "v1 unmap inside A unmapped 0x%llx", (ull)got);
	base_check(&f, 0, true, "v1");
	IS(unmap_dma(f.ctx, f.c, 0x400000, PG, 0, &got), 0, "v1 unmap C's first page\n");
	EXPECT(got == 2 * SZ_64K, "v1 unmap of C's first page unmapped 0x%llx", (ull)got);
	base_check(&f, 2, false, "v1");
	IS(unmap_dma(f.ctx, f.c, 0x7fe0000, 0x11000, 0, &got), 0, "v1 unmap over D's start\n");
	EXPECT(got == SZ_64K, "v1 unmap over D's start unmapped 0x%llx", (ull)got);
	base_check(&f, 3, false, "v1");
	base_check(&f, 0, true, "v1");
	base_check(&f, 1, true, "v1");
	fx_fini(&f);
}

/* ------------------------------------------------------------ bypass */

enum bypass_reason { BY_OPEN_APERTURE, BY_UNMATCHED, BY_DIRECT, BY_DIRECT_2ND, BY_VTD_OPEN,
		     BY_RELAXABLE };
static const char *const reason_name[] = {
	"force_aperture=false", "unmatched=bypass", "DIRECT region", "DIRECT on 2nd device",
	"VT-d force_aperture=false", "DIRECT_RELAXABLE region (accepted)",
};

/* A machine with a good group (gdev) and a group (bdev) with the reason. */
static void bypass_machine(struct ap_ctx *ctx, enum bypass_reason why, struct ap_device **gdev,
			   struct ap_device **bdev)
{
	struct ap_iommu *good = mk_smmu(ctx, "good", 48);
	struct ap_iommu *bad;

	*gdev = mk_dev(ctx, "gdev", good, 1, 0);
	switch (why) {
	case BY_OPEN_APERTURE:
		bad = mk_iommu(ctx, "bad", AP_IOMMU_ARM_SMMU_V3, false, AP_UNMATCHED_ABORT);
		*bdev = mk_dev(ctx, "bdev", bad, 1, 1);
		break;
	case BY_UNMATCHED:
		bad = mk_iommu(ctx, "bad", AP_IOMMU_ARM_SMMU_V3, true, AP_UNMATCHED_BYPASS);
		*bdev = mk_dev(ctx, "bdev", bad, 1, 1);
		break;
	case BY_DIRECT:
		*bdev = mk_dev(ctx, "bdev", good, 2, 1);
		assert_int_equal(ap_device_add_resv(*bdev, 0x50000000, SZ_1M, AP_RESV_DIRECT), 0);
		break;
	case BY_DIRECT_2ND: {
		struct ap_device *second;

		*bdev = mk_dev(ctx, "bdev", good, 2, 1);
		second = mk_dev(ctx, "bdev2", good, 3, 1);
		assert_int_equal(ap_device_add_resv(second, 0x50000000, PG, AP_RESV_DIRECT), 0);
		break;
	}
	case BY_VTD_OPEN:
		bad = mk_iommu(ctx, "bad", AP_IOMMU_INTEL_VTD, false, AP_UNMATCHED_ABORT);
		*bdev = mk_dev(ctx, "bdev", bad, 1, 1);
		break;
	case BY_RELAXABLE:
		*bdev = mk_dev(ctx, "bdev", good, 2, 1);
		assert_int_equal(ap_device_add_resv(*bdev, 0x50000000, SZ_1M,
						    AP_RESV_DIRECT_RELAXABLE), 0);
		break;
	}
}

static void test_bypass_refused(void **state)
{
	enum bypass_reason why;

	(void)state;
	for (why = BY_OPEN_APERTURE; why <= BY_RELAXABLE; why++) {
		const char *rn = reason_name[why];
		int want = why == BY_RELAXABLE ? 0 : EPERM;
		struct ap_ctx *ctx;
		struct ap_device *gdev, *bdev;
		uint8_t *buf, tmp[16];
		int c, gg, gb;

		buf = buf_alloc(SZ_64K);
		memset(buf, 0x5a, SZ_64K);

		/* (a) the group alone: SET_IOMMU refused, nothing set */
		ctx = mk_ctx();
		bypass_machine(ctx, why, &gdev, &bdev);
		c = open_container(ctx);
		gb = open_group(ctx, bdev);
		IS(set_container(ctx, gb, c), 0, "[%s] SET_CONTAINER before SET_IOMMU\n", rn);
		IS(set_iommu(ctx, c, VFIO_SPAPR_TCE_IOMMU), ENODEV,
		   "[%s] unsupported type (ENODEV before any attach)\n", rn);
		IS(set_iommu(ctx, c, VFIO_TYPE1v2_IOMMU), want, "[%s] SET_IOMMU alone\n", rn);
		if (want) {
			EXPECT(strlen(ap_ctx_error(ctx)) > 0, "[%s] no reason in ap_ctx_error", rn);
			EXPECT(group_flags(ctx, gb) ==
				       (VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET),
			       "[%s] group left the container", rn);
			IS(map_dma(ctx, c, buf, 0x100000, PG, RW), EINVAL,
			   "[%s] MAP_DMA after the refusal (no IOMMU)\n", rn);
			IS(set_iommu(ctx, c, VFIO_TYPE1v2_IOMMU), EPERM, "[%s] SET_IOMMU again\n", rn);
		} else {
			IS(map_dma(ctx, c, buf, 0x50000000, SZ_64K, RW), 0,
			   "[%s] map over the relaxable region\n", rn);
			assert_int_equal(ap_dma_read(bdev, 0x50000010, tmp, 16, NULL), 0);
		}
		IS(verr(ctx, gb, VFIO_GROUP_UNSET_CONTAINER, NULL), 0, "[%s] UNSET\n", rn);
		assert_int_equal(ap_vfio_close(ctx, gb), 0);
		assert_int_equal(ap_vfio_close(ctx, c), 0);
		ap_ctx_free(ctx);

		/* (b) with a good group: SET_IOMMU refused for both */
		ctx = mk_ctx();
		bypass_machine(ctx, why, &gdev, &bdev);
		c = open_container(ctx);
		gg = open_group(ctx, gdev);
		gb = open_group(ctx, bdev);
		IS(set_container(ctx, gg, c), 0, "[%s] SET_CONTAINER good\n", rn);
		IS(set_container(ctx, gb, c), 0, "[%s] SET_CONTAINER bad before SET_IOMMU\n", rn);
		IS(set_iommu(ctx, c, VFIO_TYPE1v2_IOMMU), want, "[%s] SET_IOMMU with both\n", rn);
		if (want) {
			struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };

			IS(verr(ctx, c, VFIO_IOMMU_GET_INFO, &info), EINVAL,
			   "[%s] GET_INFO after the refusal\n", rn);
			EXPECT(ap_dma_read(gdev, 0x100000, tmp, 4, NULL) == -EFAULT,
			       "[%s] good device reaches memory", rn);
			IS(verr(ctx, gb, VFIO_GROUP_UNSET_CONTAINER, NULL), 0, "[%s] UNSET bad\n", rn);
			IS(set_iommu(ctx, c, VFIO_TYPE1v2_IOMMU), 0,
			   "[%s] SET_IOMMU once the bad group left: %s\n", rn, ap_ctx_error(ctx));
		}
		assert_int_equal(ap_vfio_close(ctx, gb), 0);
		assert_int_equal(ap_vfio_close(ctx, gg), 0);
		assert_int_equal(ap_vfio_close(ctx, c), 0);
		ap_ctx_free(ctx);

		/* (c) into a container whose IOMMU is set */
		ctx = mk_ctx();
		bypass_machine(ctx, why, &gdev, &bdev);
		c = open_container(ctx);
		gg = open_group(ctx, gdev);
		gb = open_group(ctx, bdev);
		IS(set_container(ctx, gg, c), 0, "[%s] SET_CONTAINER good\n", rn);
		IS(set_iommu(ctx, c, VFIO_TYPE1v2_IOMMU), 0, "[%s] SET_IOMMU good\n", rn);
		IS(map_dma(ctx, c, buf, 0x100000, SZ_64K, RW), 0, "[%s] map\n", rn);
		IS(set_container(ctx, gb, c), want, "[%s] SET_CONTAINER into a set container\n", rn);
		if (want) {
			EXPECT(strlen(ap_ctx_error(ctx)) > 0, "[%s] no reason in ap_ctx_error", rn);
			EXPECT(group_flags(ctx, gb) == VFIO_GROUP_FLAGS_VIABLE,
			       "[%s] refused group is in the container", rn);
			if (why != BY_UNMATCHED)
				EXPECT(ap_dma_read(bdev, 0x100000, tmp, 4, NULL) == -EFAULT,
				       "[%s] refused device reaches the mapping", rn);
		} else {
			assert_int_equal(ap_dma_read(bdev, 0x100010, tmp, 16, NULL), 0);
			assert_memory_equal(tmp, buf, 16);
		}
		assert_int_equal(ap_dma_read(gdev, 0x100010, tmp, 16, NULL), 0);
		assert_memory_equal(tmp, buf, 16);
		assert_int_equal(dma_avail(ctx, c), 65534);
		assert_int_equal(ap_vfio_close(ctx, gb), 0);
		assert_int_equal(ap_vfio_close(ctx, gg), 0);
		assert_int_equal(ap_vfio_close(ctx, c), 0);
		ap_ctx_free(ctx);
		munmap(buf, SZ_64K);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_container_states),
		cmocka_unit_test(test_group_errors),
		cmocka_unit_test(test_ownership_and_coherency),
		cmocka_unit_test(test_get_info_argsz),
		cmocka_unit_test(test_map_table),
		cmocka_unit_test(test_unmap_table),
		cmocka_unit_test(test_dirty_table),
		cmocka_unit_test(test_entry_limit),
		cmocka_unit_test(test_memlock),
		cmocka_unit_test(test_memlock_rlimit),
		cmocka_unit_test(test_efault),
		cmocka_unit_test(test_unmap_all),
		cmocka_unit_test(test_vaddr),
		cmocka_unit_test(test_vaddr_at_limit),
		cmocka_unit_test(test_null_args),
		cmocka_unit_test(test_v1_unmap),
		cmocka_unit_test(test_bypass_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
