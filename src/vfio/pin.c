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

/* What marks the RAM regions pinning registers (ap_ram_add_owned). */
static const char pinned_kind[] = "vfio pinned memory";

int ap__pin_place(struct vcontainer *c, uint64_t iova, uint64_t size, uint64_t *pa)
{
	unsigned oas = ap__type1_min_oas(c);
	uint64_t top = oas >= 64 ? UINT64_MAX : (1ull << oas) - 1;
	uint64_t sizes = c->t1.pgsize_bitmap, align;

	/* the largest page the mapping could use first, then smaller ones */
	for (align = 1ull << 63; align; align >>= 1) {
		if (!(sizes & align) || align > size)
			continue;
		if (!ap_ram_place(c->vs->ctx, size, align, iova & (align - 1), top, pa))
			return 0;
	}
	return ap__vfio_fail(c->vs, -ENOMEM, "no room for 0x%llx bytes of pinned memory in the "
			     "%u-bit physical address space every IOMMU of the container reaches",
			     (unsigned long long)size, oas);
}

/* Pinned memory becomes RAM of the context, marked as the mapping's. */
int ap__pin_register(struct vstate *vs, struct vdma *d, uint64_t vaddr)
{
	return ap_ram_add_owned(vs->ctx, d->pa, d->size, (void *)(uintptr_t)vaddr, pinned_kind,
				d);
}

/* The mapping whose pinned memory holds physical address pa, or NULL. */
struct vdma *ap__pin_lookup_pa(const struct vstate *vs, uint64_t pa)
{
	struct ap_ram_info r;

	if (ap_ram_lookup(vs->ctx, pa, &r) || r.owner_kind != pinned_kind)
		return NULL;
	return r.owner;
}
