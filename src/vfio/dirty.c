/* SPDX-License-Identifier: MIT */
/*
 * Dirty page tracking: VFIO_IOMMU_DIRTY_PAGES (START, STOP, GET_BITMAP) and
 * UNMAP_DMA's GET_DIRTY_BITMAP, with type1's bitmap rules: one bit per page
 * of the container's smallest page size, bit i standing for page i from the
 * requested IOVA, a request that never splits a mapping, and a mapping's
 * bits cleared once reported.
 *
 * Where we differ from Linux, on purpose: type1 cannot see what devices
 * write, so while any IOMMU-backed group is in the container it reports
 * every pinned page dirty.  We see every device write (the core calls
 * ap__dirty_observe() for each piece ap_dma_write() copies), so we report the
 * pages devices actually wrote.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "vfio_internal.h"

#define DIRTY_MINSZ (offsetof(struct vfio_iommu_type1_dirty_bitmap, flags) + sizeof(uint32_t))
#define DIRTY_FLAGS (VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP | \
		     VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP)

/* access_ok(): the range lies in the user half of the address space. */
static bool user_range_ok(const void *p, uint64_t size)
{
	uint64_t a = (uint64_t)(uintptr_t)p, end;
	uint64_t top = UINTPTR_MAX > (1ull << 63) ? 1ull << 63 : (uint64_t)UINTPTR_MAX + 1;

	return !__builtin_add_overflow(a, size, &end) && end <= top;
}

/* type1's verify_bitmap_size() and the access_ok() before it. */
int ap__dirty_check_user_bitmap(struct vcontainer *c, const struct vfio_bitmap *b, uint64_t size)
{
	uint64_t npages;

	if (!user_range_ok(b->data, b->size))
		return ap__vfio_fail(c->vs, -EINVAL, "bitmap.data %p + 0x%llx is not user memory",
				     (void *)b->data, (unsigned long long)b->size);
	if (!b->pgsize)
		return ap__vfio_fail(c->vs, -EINVAL, "bitmap.pgsize is 0");
	npages = size >> __builtin_ctzll(b->pgsize);
	if (!npages || !b->size || b->size > VFIO_DIRTY_BITMAP_BYTES(VFIO_DIRTY_PAGES_MAX) ||
	    b->size < VFIO_DIRTY_BITMAP_BYTES(npages))
		return ap__vfio_fail(c->vs, -EINVAL, "bitmap.size 0x%llx does not fit %llu pages "
				     "(needs 0x%llx, at most 0x%llx)", (unsigned long long)b->size,
				     (unsigned long long)npages,
				     (unsigned long long)VFIO_DIRTY_BITMAP_BYTES(npages),
				     (unsigned long long)VFIO_DIRTY_BITMAP_BYTES(VFIO_DIRTY_PAGES_MAX));
	return 0;
}

/* ------------------------------------------------------------ per mapping */

/* A zeroed bitmap at the container's smallest page size, with one spare
 * word so that reports can read 64 bits at any offset; published under
 * the dirty lock, for the observer. */
int ap__dirty_bitmap_alloc(struct vcontainer *c, struct vdma *d)
{
	unsigned shift = (unsigned)__builtin_ctzll(ap__vcontainer_min_pgsize(c));
	uint64_t npages = d->size >> shift, *bitmap;

	if (npages > VFIO_DIRTY_PAGES_MAX)
		return ap__vfio_fail(c->vs, -EINVAL, "mapping at 0x%llx has more than INT_MAX pages "
				     "to track", (unsigned long long)d->iova);
	bitmap = ap_mem_alloc(c->vs->ctx, VFIO_DIRTY_BITMAP_BYTES(npages) + sizeof(uint64_t));
	if (!bitmap)
		return ap__vfio_fail(c->vs, -ENOMEM, "out of memory for a dirty bitmap");
	pthread_mutex_lock(&c->dirty_lock);
	d->bitmap_shift = shift;
	__atomic_store_n(&d->bitmap, bitmap, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&c->dirty_lock);
	return 0;
}

static void bitmap_clear_all(struct vdma *d)
{
	uint64_t npages = d->size >> d->bitmap_shift;

	memset(d->bitmap, 0, VFIO_DIRTY_BITMAP_BYTES(npages) + sizeof(uint64_t));
}

/* 64 bits of a mapping's bitmap from bit `from` on. */
static uint64_t bits_at(const uint64_t *bm, uint64_t from)
{
	uint64_t q = from / 64, r = from % 64;

	return r ? bm[q] >> r | bm[q + 1] << (64 - r) : bm[q];
}

/*
 * Copy d's bits into the user's bitmap, bit 0 standing for `base`, then
 * clear them (update_user_bitmap): bits of the first word below d's keep
 * what they held; the rest of the words d touches are overwritten.  Under
 * the dirty lock: devices set bits meanwhile.
 */
static void report_locked(struct vdma *d, uint64_t base, __u64 *user)
{
	uint64_t nbits = d->size >> d->bitmap_shift;
	uint64_t first = (d->iova - base) >> d->bitmap_shift;
	uint64_t w0 = first / 64, wl = (first + nbits - 1) / 64, shift = first % 64;
	/* bitmap.data need not be 8-aligned (Linux copies with copy_to_user):
	 * go through memcpy, not a __u64 access */
	unsigned char *out = (unsigned char *)user;
	uint64_t word;

	for (uint64_t w = w0; w <= wl; w++) {
		if (w == w0 && shift) {
			memcpy(&word, out + w * 8, sizeof(word));
			word = (word & ((1ull << shift) - 1)) | d->bitmap[0] << shift;
		} else {
			word = bits_at(d->bitmap, w * 64 - first);
		}
		memcpy(out + w * 8, &word, sizeof(word));
	}
	bitmap_clear_all(d);
}

void ap__dirty_report(struct vdma *d, uint64_t base, __u64 *user)
{
	pthread_mutex_lock(&d->c->dirty_lock);
	report_locked(d, base, user);
	pthread_mutex_unlock(&d->c->dirty_lock);
}

/* The highest mapping that starts at or below addr, or NULL. */
static const struct vdma *last_before(const struct type1 *t, uint64_t addr)
{
	const struct ap_avl_node *n = t->dmas.root;
	const struct vdma *best = NULL;

	while (n) {
		const struct vdma *d = AP_AVL_ENTRY(n, struct vdma, node);

		if (d->iova <= addr) {
			best = d;
			n = n->link[1];
		} else {
			n = n->link[0];
		}
	}
	return best;
}

/* The words a report of [iova, last] will write are the process's to
 * write; EFAULT otherwise, before anything changes. */
int ap__dirty_user_bitmap_ok(struct vcontainer *c, const struct vfio_bitmap *b, uint64_t iova,
			     uint64_t last)
{
	const struct type1 *t = &c->t1;
	const struct vdma *d0 = ap__dma_find(t, iova, last), *dl;
	unsigned shift = (unsigned)__builtin_ctzll(b->pgsize);
	uint64_t w0, wl, addr;

	/* the last mapping that starts in range */
	dl = last_before(t, last);
	if (!d0 || !dl)
		return 0;
	w0 = ((d0->iova - iova) >> shift) / 64;
	wl = ((dl->iova + (dl->size - 1) - iova) >> shift) / 64;
	addr = (uint64_t)(uintptr_t)b->data + w0 * 8;
	if (ap__pin_check_mapped(c->vs, addr, (wl - w0 + 1) * 8) ||
	    ap__pin_populate(c->vs, addr, (wl - w0 + 1) * 8, true))
		return ap__vfio_fail(c->vs, -EFAULT, "bitmap.data %p cannot be written by this process",
				     (void *)b->data);
	return 0;
}

/* ------------------------------------------------------------ the observer */

/*
 * The core copied len bytes of device DMA to pa: mark the pages.  Inside
 * the DMA, on the device's thread: the mapping found by its physical
 * address stays while the DMA lasts (an unmap frees it only after a grace
 * period), and only the dirty lock is taken, which no one holds while
 * waiting for DMA.
 */
void ap__dirty_observe(void *arg, const struct ap_device *dev, uint64_t iova, uint64_t pa,
		       size_t len)
{
	struct vdma *d = ap__pin_lookup_pa(arg, pa);
	uint64_t off, b, last;

	(void)dev;
	(void)iova;
	if (!d || !len || !__atomic_load_n(&d->bitmap, __ATOMIC_ACQUIRE))
		return; /* not tracking: no lock taken */
	pthread_mutex_lock(&d->c->dirty_lock);
	if (d->bitmap) {
		off = pa - d->pa;
		last = off + len - 1 < d->size ? off + len - 1 : d->size - 1;
		for (b = off >> d->bitmap_shift; b <= last >> d->bitmap_shift; b++)
			d->bitmap[b / 64] |= 1ull << (b % 64);
	}
	pthread_mutex_unlock(&d->c->dirty_lock);
}

/* ------------------------------------------------------------ DIRTY_PAGES */

/* Free the bitmaps of the mappings from d up to (not including) end; the
 * observer no longer finds them once the lock is let go. */
static void bitmaps_free(struct vcontainer *c, struct vdma *d, const struct vdma *end)
{
	pthread_mutex_lock(&c->dirty_lock);
	for (; d != end; d = ap__dma_next(d)) {
		ap_mem_free(c->vs->ctx, d->bitmap);
		__atomic_store_n(&d->bitmap, NULL, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&c->dirty_lock);
}

static int start(struct vcontainer *c)
{
	struct type1 *t = &c->t1;
	struct vdma *d;
	int err = 0;

	if (t->dirty_tracking)
		return 0;
	for (d = ap__dma_first(t, 0); d && !err; d = err ? d : ap__dma_next(d))
		err = ap__dirty_bitmap_alloc(c, d);
	if (err) {
		bitmaps_free(c, ap__dma_first(t, 0), d);
		return err;
	}
	t->dirty_tracking = true;
	return 0;
}

static void stop(struct vcontainer *c)
{
	bitmaps_free(c, ap__dma_first(&c->t1, 0), NULL);
	c->t1.dirty_tracking = false;
}

/* Checks of vfio_iommu_type1_dirty_pages()'s GET_BITMAP, in order. */
static int get_bitmap_args(struct vcontainer *c, const struct vfio_iommu_type1_dirty_bitmap *dirty,
			   struct vfio_iommu_type1_dirty_bitmap_get *range, uint64_t *last)
{
	uint64_t pgsize = ap__vcontainer_min_pgsize(c);
	int err;

	if (dirty->argsz - DIRTY_MINSZ < sizeof(*range))
		return ap__vfio_fail(c->vs, -EINVAL, "GET_BITMAP: argsz %u leaves out the struct "
				     "vfio_iommu_type1_dirty_bitmap_get", dirty->argsz);
	memcpy(range, dirty->data, sizeof(*range));
	if (!range->size)
		return ap__vfio_fail(c->vs, -EINVAL, "GET_BITMAP: size 0");
	if (__builtin_add_overflow(range->iova, range->size - 1, last))
		return ap__vfio_fail(c->vs, -EOVERFLOW, "GET_BITMAP: 0x%llx + 0x%llx wraps past 2^64",
				     (unsigned long long)range->iova, (unsigned long long)range->size);
	err = ap__dirty_check_user_bitmap(c, &range->bitmap, range->size);
	if (err)
		return err;
	if (range->bitmap.pgsize != pgsize || ((range->iova | range->size) & (pgsize - 1)))
		return ap__vfio_fail(c->vs, -EINVAL, "GET_BITMAP: bitmap.pgsize, iova and size must "
				     "be (multiples of) the smallest page size 0x%llx",
				     (unsigned long long)pgsize);
	if (!c->t1.dirty_tracking)
		return ap__vfio_fail(c->vs, -EINVAL, "GET_BITMAP: dirty tracking is off");
	return 0;
}

static int get_bitmap(struct vcontainer *c, const struct vfio_iommu_type1_dirty_bitmap *dirty)
{
	const struct type1 *t = &c->t1;
	struct vfio_iommu_type1_dirty_bitmap_get range = { 0 }; /* get_bitmap_args() fills it */
	struct vdma *d;
	uint64_t last = 0;
	int err;

	err = get_bitmap_args(c, dirty, &range, &last);
	if (err)
		return err;
	d = ap__dma_find(t, range.iova, range.iova);
	if (d && d->iova != range.iova)
		return ap__vfio_fail(c->vs, -EINVAL, "GET_BITMAP: 0x%llx is inside the mapping at "
				     "0x%llx", (unsigned long long)range.iova,
				     (unsigned long long)d->iova);
	d = ap__dma_find(t, last, last);
	if (d && d->iova + (d->size - 1) != last)
		return ap__vfio_fail(c->vs, -EINVAL, "GET_BITMAP: 0x%llx is inside the mapping at "
				     "0x%llx", (unsigned long long)last, (unsigned long long)d->iova);
	err = ap__dirty_user_bitmap_ok(c, &range.bitmap, range.iova, last);
	if (err)
		return err;
	for (d = ap__dma_first(t, range.iova); d && d->iova <= last; d = ap__dma_next(d))
		ap__dirty_report(d, range.iova, range.bitmap.data);
	return 0;
}

int ap__dirty_ioctl(struct vcontainer *c, void *arg)
{
	const struct vfio_iommu_type1_dirty_bitmap *dirty = arg;

	if (!c->t1.v2)
		return ap__vfio_fail(c->vs, -EACCES, "VFIO_IOMMU_DIRTY_PAGES needs type1v2");
	if (!dirty)
		return ap__vfio_fail(c->vs, -EFAULT, "VFIO_IOMMU_DIRTY_PAGES needs a struct");
	if (dirty->argsz < DIRTY_MINSZ || (dirty->flags & ~DIRTY_FLAGS) || !dirty->flags ||
	    (dirty->flags & (dirty->flags - 1)))
		return ap__vfio_fail(c->vs, -EINVAL, "VFIO_IOMMU_DIRTY_PAGES: argsz %u < %zu, or not "
				     "exactly one of START, STOP, GET_BITMAP in flags 0x%x",
				     dirty->argsz, (size_t)DIRTY_MINSZ, dirty->flags);
	if (dirty->flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_START)
		return start(c);
	if (dirty->flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) {
		stop(c);
		return 0;
	}
	return get_bitmap(c, dirty);
}
