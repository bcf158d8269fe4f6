/* SPDX-License-Identifier: MIT */
/*
 * "Pinning" process memory, in a userspace model of the machine: the caller's
 * pages must exist with the access the device is given (type1's
 * pin_user_pages faults them in, and fails with EFAULT otherwise), and they
 * are given physical addresses of the model: a RAM region at an address the
 * container chooses, below every instance's output size and congruent with
 * the IOVA modulo the largest page the mapping can use, so that the IOMMU
 * can map it with large pages as Linux does for physically contiguous
 * memory.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "vfio_internal.h"

#define MINCORE_PAGES 4096 /* pages looked at per mincore(2) */

#ifndef MADV_POPULATE_READ /* C libraries older than Linux 5.14's advice */
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

/* ------------------------------------------------------------ process memory */

/* Every page of [start, start+len) is mapped: mincore(2) says ENOMEM for a
 * range with a hole. */
static bool range_mapped(uint64_t start, uint64_t len, uint64_t page)
{
	unsigned char vec[MINCORE_PAGES];
	uint64_t chunk = (uint64_t)MINCORE_PAGES * page;

	while (len) {
		uint64_t n = len < chunk ? len : chunk;

		if (mincore((void *)(uintptr_t)start, (size_t)n, vec))
			return false;
		start += n;
		len -= n;
	}
	return true;
}

/*
 * Fault the pages in for the access the device gets, as pinning does; this
 * refuses a range the process cannot read (or, for a device that writes,
 * write).  Kernels before 5.14 have no MADV_POPULATE_*: there only mapping
 * is checked.
 */
static bool range_populated(uint64_t start, uint64_t len, bool write)
{
	int advice = write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ;

	if (!madvise((void *)(uintptr_t)start, (size_t)len, advice))
		return true;
	return errno == EINVAL && madvise((void *)(uintptr_t)start, 0, advice);
}

/* Every page of [vaddr, vaddr+size) is mapped in the process; EFAULT if
 * not (the caller checked that the range does not wrap). */
int ap__pin_check_mapped(struct vstate *vs, uint64_t vaddr, uint64_t size)
{
	uint64_t page = vs->host_page;
	uint64_t start = vaddr & ~(page - 1);
	uint64_t end = (vaddr + size - 1) | (page - 1);

	if (end > UINTPTR_MAX || !range_mapped(start, end - start + 1, page))
		return ap__vfio_fail(vs, -EFAULT, "vaddr 0x%llx-0x%llx is not all mapped in this "
				     "process", (unsigned long long)vaddr,
				     (unsigned long long)(vaddr + size - 1));
	return 0;
}

/* Fault the mapped range in for the device's access, as pinning does;
 * EFAULT if the process itself may not read (or write) it. */
int ap__pin_populate(struct vstate *vs, uint64_t vaddr, uint64_t size, bool write)
{
	uint64_t page = vs->host_page;
	uint64_t start = vaddr & ~(page - 1);
	uint64_t end = (vaddr + size - 1) | (page - 1);

	if (!range_populated(start, end - start + 1, write))
		return ap__vfio_fail(vs, -EFAULT, "vaddr 0x%llx-0x%llx cannot be %s by this process",
				     (unsigned long long)vaddr, (unsigned long long)(vaddr + size - 1),
				     write ? "written" : "read");
	return 0;
}

/* ------------------------------------------------------------ physical placement */

/* Number of RAM regions of the context (the core hands them out by index). */
static size_t ram_count(struct ap_ctx *ctx)
{
	uint64_t pa, size;
	size_t lo = 0, hi = 1;

	while (!ap_ram_region(ctx, hi - 1, &pa, &size)) {
		lo = hi;
		hi *= 2;
	}
	while (lo < hi) { /* regions [0, lo) exist, [hi - 1] does not */
		size_t mid = lo + (hi - lo) / 2;

		if (!ap_ram_region(ctx, mid, &pa, &size))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The RAM region holding an address at or above `addr` first: false if none. */
static bool ram_from(struct ap_ctx *ctx, size_t n, uint64_t addr, uint64_t *pa, uint64_t *end)
{
	size_t lo = 0, hi = n;
	uint64_t p, s;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		ap_ram_region(ctx, mid, &p, &s);
		if (p + (s - 1) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == n)
		return false;
	ap_ram_region(ctx, lo, pa, &s);
	*end = *pa + (s - 1);
	return true;
}

/* What already occupies `addr` (RAM or the table window): its last byte. */
static bool occupied(struct ap_ctx *ctx, size_t n, uint64_t addr, uint64_t *last)
{
	uint64_t wbase, wsize, pa, end;

	ap_ctx_get_table_window(ctx, &wbase, &wsize);
	if (wsize && addr >= wbase && addr - wbase < wsize) {
		*last = wbase + (wsize - 1);
		return true;
	}
	if (ram_from(ctx, n, addr, &pa, &end) && pa <= addr) {
		*last = end;
		return true;
	}
	return false;
}

/* The lowest address >= x that is congruent to rem modulo align; false on wrap. */
static bool congruent_up(uint64_t x, uint64_t align, uint64_t rem, uint64_t *out)
{
	uint64_t base = x & ~(align - 1);

	if (base + rem < x) {
		if (base > UINT64_MAX - align)
			return false;
		base += align;
	}
	*out = base + rem;
	return true;
}

/*
 * The lowest free [p, p+size) with p = rem (mod align), at or below `top`
 * (inclusive), clear of RAM and of the table window.
 */
static bool find_gap(struct vstate *vs, uint64_t rem, uint64_t align, uint64_t size,
		     uint64_t top, uint64_t *out)
{
	struct ap_ctx *ctx = vs->ctx;
	size_t n = ram_count(ctx);
	uint64_t x, last, wbase, wsize, pa, end;

	while (occupied(ctx, n, vs->pa_hint, &last) && last < UINT64_MAX)
		vs->pa_hint = last + 1; /* nothing free below the hint */
	ap_ctx_get_table_window(ctx, &wbase, &wsize);
	for (x = vs->pa_hint;;) {
		uint64_t p;

		if (!congruent_up(x, align, rem, &p) || p > top || top - p < size - 1)
			return false;
		last = p + (size - 1);
		if (wsize && p <= wbase + (wsize - 1) && wbase <= last) {
			x = wbase + wsize;
		} else if (ram_from(ctx, n, p, &pa, &end) && pa <= last) {
			if (end == UINT64_MAX)
				return false;
			x = end + 1;
		} else {
			*out = p;
			return true;
		}
		if (!x)
			return false;
	}
}

int ap__pin_place(struct vcontainer *c, uint64_t iova, uint64_t size, uint64_t *pa)
{
	unsigned oas = ap__type1_min_oas(c);
	uint64_t top = oas >= 64 ? UINT64_MAX : (1ull << oas) - 1;
	uint64_t sizes = c->t1.pgsize_bitmap, align;

	/* the largest page the mapping could use first, then smaller ones */
	for (align = 1ull << 63; align; align >>= 1) {
		if (!(sizes & align) || align > size)
			continue;
		if (find_gap(c->vs, iova & (align - 1), align, size, top, pa))
			return 0;
	}
	return ap__vfio_fail(c->vs, -ENOMEM, "no room for 0x%llx bytes of pinned memory in the "
			     "%u-bit physical address space every IOMMU of the container reaches",
			     (unsigned long long)size, oas);
}

/* A region went away: its addresses are free again. */
void ap__pin_forget(struct vstate *vs, uint64_t pa)
{
	if (pa < vs->pa_hint)
		vs->pa_hint = pa;
}

/* ------------------------------------------------------------ pa index */

/* Index of the first mapping whose physical range ends at or above pa. */
static size_t pa_lower_bound(const struct vstate *vs, uint64_t pa)
{
	size_t lo = 0, hi = vs->npa;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct vdma *d = vs->by_pa[mid];

		if (d->pa + (d->size - 1) < pa)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The caller made room first (ap__vdma_array_room), so that a mapping is
 * indexed without failing. */
void ap__pin_index_add(struct vstate *vs, struct vdma *d)
{
	size_t at = pa_lower_bound(vs, d->pa);

	memmove(vs->by_pa + at + 1, vs->by_pa + at, (vs->npa - at) * sizeof(*vs->by_pa));
	vs->by_pa[at] = d;
	vs->npa++;
}

void ap__pin_index_remove(struct vstate *vs, struct vdma *d)
{
	size_t at = pa_lower_bound(vs, d->pa);

	memmove(vs->by_pa + at, vs->by_pa + at + 1, (vs->npa - at - 1) * sizeof(*vs->by_pa));
	vs->npa--;
}

/* The mapping whose pinned memory holds physical address pa, or NULL. */
struct vdma *ap__pin_lookup_pa(const struct vstate *vs, uint64_t pa)
{
	size_t at = pa_lower_bound(vs, pa);

	if (at < vs->npa && vs->by_pa[at]->pa <= pa)
		return vs->by_pa[at];
	return NULL;
}
