/* SPDX-License-Identifier: MIT */
/*
 * Regression tests for what the libFuzzer targets (fuzz/) found in the VFIO
 * layer and the core's API.  Each test names the target and the reproducer
 * kept in fuzz/regress/TARGET/.  Some of these bugs only show under the
 * sanitizers (`make check SANITIZE=1`); the tests also check the outcome
 * itself, so a wrong fix fails in every build.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vfio_util.h"

/* DIRTY_PAGES(GET_BITMAP) into words at `data`, which need not be aligned. */
static int get_bitmap_at(struct ap_ctx *ctx, int c, uint64_t iova, uint64_t size, void *data,
			 uint64_t bytes)
{
	uint8_t raw[sizeof(struct vfio_iommu_type1_dirty_bitmap) +
		    sizeof(struct vfio_iommu_type1_dirty_bitmap_get)];
	struct vfio_iommu_type1_dirty_bitmap *d = (struct vfio_iommu_type1_dirty_bitmap *)raw;
	struct vfio_iommu_type1_dirty_bitmap_get g = {
		.iova = iova, .size = size,
		.bitmap = { .pgsize = PG, .size = bytes, .data = data },
	};

	memset(raw, 0, sizeof(raw));
	d->argsz = sizeof(raw);
	d->flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	memcpy(d->data, &g, sizeof(g));
	return verr(ctx, c, VFIO_IOMMU_DIRTY_PAGES, d);
}

/* UNMAP_DMA(GET_DIRTY_BITMAP) with the bitmap at `data`. */
static int unmap_bitmap_at(struct ap_ctx *ctx, int c, uint64_t iova, uint64_t size, void *data,
			   uint64_t bytes)
{
	uint8_t raw[sizeof(struct vfio_iommu_type1_dma_unmap) + sizeof(struct vfio_bitmap)];
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(raw), .flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
		.iova = iova, .size = size,
	};
	struct vfio_bitmap b = { .pgsize = PG, .size = bytes, .data = data };

	memcpy(raw, &u, sizeof(u));
	memcpy(raw + sizeof(u), &b, sizeof(b));
	return verr(ctx, c, VFIO_IOMMU_UNMAP_DMA, raw);
}

static uint64_t word_at(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/*
 * fuzz_vfio_ioctl, fuzz/regress/fuzz_vfio_ioctl/unaligned-dirty-bitmap:
 * a dirty bitmap at an address that is not 8-aligned (Linux accepts any
 * user address: it copies with copy_to_user) was written as __u64 stores,
 * undefined behaviour that UBSan reports.  The words must land at the
 * unaligned address, and the bytes around them stay as they were.
 */
static void test_dirty_bitmap_unaligned(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	struct ap_iommu *smmu = mk_smmu(ctx, "s", 48);
	struct ap_device *dev = mk_dev(ctx, "d", smmu, 1, AP_GROUP_OWN);
	const uint64_t A = 0x100000;
	uint8_t *buf = buf_alloc(128 * PG), one = 1;
	uint8_t store[64] __attribute__((aligned(8)));
	int c, g;

	(void)state;
	c = open_type1v2(ctx, dev, &g);
	EXPECT(map_dma(ctx, c, buf, A, 128 * PG, RW) == 0, "MAP_DMA");
	EXPECT(dirty_flags(ctx, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) == 0, "START");

	/* GET_BITMAP: pages 3 and 70 dirty, bitmap at store + 3 */
	assert_int_equal(ap_dma_write(dev, A + 3 * PG, &one, 1, NULL), 0);
	assert_int_equal(ap_dma_write(dev, A + 70 * PG, &one, 1, NULL), 0);
	memset(store, 0xee, sizeof(store));
	EXPECT(get_bitmap_at(ctx, c, A, 128 * PG, store + 3, 16) == 0, "GET_BITMAP (%s)",
	       ap_ctx_error(ctx));
	EXPECT(word_at(store + 3) == 1ull << 3, "word 0 is 0x%llx", (ull)word_at(store + 3));
	EXPECT(word_at(store + 11) == 1ull << 6, "word 1 is 0x%llx", (ull)word_at(store + 11));
	EXPECT(store[2] == 0xee && store[19] == 0xee, "bytes around the bitmap changed");

	/* UNMAP_DMA(GET_DIRTY_BITMAP): page 5 dirty, bitmap at store + 1 */
	assert_int_equal(ap_dma_write(dev, A + 5 * PG, &one, 1, NULL), 0);
	memset(store, 0xee, sizeof(store));
	EXPECT(unmap_bitmap_at(ctx, c, A, 128 * PG, store + 1, 16) == 0, "UNMAP_DMA (%s)",
	       ap_ctx_error(ctx));
	EXPECT(word_at(store + 1) == 1ull << 5, "word 0 is 0x%llx", (ull)word_at(store + 1));
	EXPECT(word_at(store + 9) == 0, "word 1 is 0x%llx", (ull)word_at(store + 9));
	EXPECT(store[0] == 0xee && store[17] == 0xee, "bytes around the bitmap changed");

	ap_ctx_free(ctx);
	munmap(buf, 128 * PG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dirty_bitmap_unaligned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
