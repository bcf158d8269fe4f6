/* SPDX-License-Identifier: MIT */
/*
 * VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA, with the checks of Linux
 * 6.18's vfio_dma_do_map / vfio_dma_do_unmap in their order and with their
 * errno values, over the container's mappings (type1's vfio_dma tree, here
 * an array sorted by IOVA).  A mapping is pinned process memory (pin.c)
 * mapped at its IOVA in every domain of the container.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "vfio_internal.h"

#define MAP_MINSZ (offsetof(struct vfio_iommu_type1_dma_map, size) + sizeof(uint64_t))
#define UNMAP_MINSZ (offsetof(struct vfio_iommu_type1_dma_unmap, size) + sizeof(uint64_t))
#define MAP_FLAGS (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR)
#define UNMAP_FLAGS (VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL | \
		     VFIO_DMA_UNMAP_FLAG_VADDR)

/* ------------------------------------------------------------ the set */

/* Index of the first mapping that ends at or above addr. */
size_t ap__dma_lower_bound(const struct type1 *t, uint64_t addr)
{
	size_t lo = 0, hi = t->ndmas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct vdma *d = t->dmas[mid];

		if (d->iova + (d->size - 1) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The lowest mapping overlapping [start, last], or NULL. */
struct vdma *ap__dma_find(const struct type1 *t, uint64_t start, uint64_t last)
{
	size_t i = ap__dma_lower_bound(t, start);

	return i < t->ndmas && t->dmas[i]->iova <= last ? t->dmas[i] : NULL;
}

/* Take d out of the first n domains (each holds it whole: no leaf is cut). */
static void unmap_domains(struct vcontainer *c, const struct vdma *d, size_t n)
{
	uint64_t done;

	while (n--)
		ap_unmap(c->t1.domains[n]->dom, d->iova, d->size, &done);
}

/* Take mapping i out of every domain, unpin it and forget it. */
static void dma_remove_at(struct vcontainer *c, size_t i)
{
	struct type1 *t = &c->t1;
	struct vdma *d = t->dmas[i];

	unmap_domains(c, d, t->ndomains);
	ap_ram_remove(c->vs->ctx, d->pa);
	c->locked -= d->size;
	c->vs->locked -= d->size;
	if (d->vaddr_invalid)
		t->vaddr_invalid--;
	memmove(t->dmas + i, t->dmas + i + 1, (t->ndmas - i - 1) * sizeof(*t->dmas));
	t->ndmas--;
	t->dma_avail++;
	ap_mem_free(c->vs->ctx, d->bitmap);
	ap_mem_free(c->vs->ctx, d);
}

void ap__dma_remove_all(struct vcontainer *c)
{
	while (c->t1.ndmas)
		dma_remove_at(c, c->t1.ndmas - 1);
}

/* Every mapping into a domain a group is about to get (type1's replay). */
int ap__dma_replay(struct vcontainer *c, struct ap_domain *dom)
{
	const struct type1 *t = &c->t1;

	for (size_t i = 0; i < t->ndmas; i++) {
		const struct vdma *d = t->dmas[i];
		int err = ap_map(dom, d->iova, d->pa, d->size, d->prot | AP_PROT_CACHE);

		if (err)
			return ap__vfio_fail(c->vs, err, "replaying mapping 0x%llx-0x%llx into '%s': %s",
					     (unsigned long long)d->iova,
					     (unsigned long long)(d->iova + d->size - 1),
					     ap_domain_name(dom), ap_ctx_error(c->vs->ctx));
	}
	return 0;
}

/* ------------------------------------------------------------ MAP_DMA */

/* Map d in every domain; on failure none keeps it. */
static int map_domains(struct vcontainer *c, const struct vdma *d)
{
	const struct type1 *t = &c->t1;

	for (size_t i = 0; i < t->ndomains; i++) {
		int err = ap_map(t->domains[i]->dom, d->iova, d->pa, d->size,
				 d->prot | AP_PROT_CACHE);

		if (err) {
			unmap_domains(c, d, i);
			return err;
		}
	}
	return 0;
}

/* The pages themselves, before anything changes: mapped, within the
 * locked-memory limit, and accessible as the device will access them. */
static int pin_check(struct vcontainer *c, uint64_t vaddr, uint64_t size, unsigned prot)
{
	struct vstate *vs = c->vs;
	uint64_t limit = ap__vfio_memlock_limit(c);
	int err;

	err = ap__pin_check_mapped(vs, vaddr, size);
	if (err)
		return err;
	if (vs->locked > limit || size > limit - vs->locked)
		return ap__vfio_fail(vs, -ENOMEM, "RLIMIT_MEMLOCK (%llu bytes) exceeded: %llu are "
				     "pinned, 0x%llx more asked", (unsigned long long)limit,
				     (unsigned long long)vs->locked, (unsigned long long)size);
	return ap__pin_populate(vs, vaddr, size, prot & AP_PROT_WRITE);
}

/* What a new mapping installs: the mapping, and a bigger array for the
 * container's list when it is full. */
struct map_plan {
	struct vdma *d;
	struct vdma **dmas;
	size_t dmas_cap;
};

static void map_plan_drop(struct vstate *vs, struct map_plan *p)
{
	if (p->d)
		ap_mem_free(vs->ctx, p->d->bitmap);
	ap_mem_free(vs->ctx, p->d);
	ap_mem_free(vs->ctx, p->dmas);
}

/* Allocations that cannot wait for the domains: the mapping and its dirty
 * bitmap (whose page-count check comes after the map, as Linux's). */
static int map_plan_room(struct vcontainer *c, struct map_plan *p)
{
	return ap__vdma_array_room(c->vs, c->t1.ndmas, c->t1.dmas_cap, &p->dmas, &p->dmas_cap);
}

/* Install a mapping that every domain holds and RAM backs; nothing fails. */
static void map_commit(struct vcontainer *c, struct map_plan *p)
{
	struct type1 *t = &c->t1;
	struct vstate *vs = c->vs;
	struct vdma *d = p->d;
	size_t at;

	ap__vdma_array_install(vs, &t->dmas, t->ndmas, &t->dmas_cap, &p->dmas, p->dmas_cap);
	at = ap__dma_lower_bound(t, d->iova);
	memmove(t->dmas + at + 1, t->dmas + at, (t->ndmas - at) * sizeof(*t->dmas));
	t->dmas[at] = d;
	t->ndmas++;
	t->dma_avail--;
	c->locked += d->size;
	vs->locked += d->size;
	p->d = NULL;
}

/*
 * Steps 10-12 of vfio_dma_do_map: pin, map everywhere, track; all or
 * nothing.  The physical address is chosen first and registered as RAM
 * last, after the domains hold the mapping and every array has room: the
 * core's RAM list may grow on that registration, and a failure after it
 * would leave the core holding more memory than before the call.
 */
static int map_new(struct vcontainer *c, uint64_t iova, uint64_t size, uint64_t vaddr,
		   unsigned prot)
{
	struct type1 *t = &c->t1;
	struct vstate *vs = c->vs;
	struct map_plan p = { 0 };
	uint64_t pa;
	int err;

	err = pin_check(c, vaddr, size, prot);
	if (!err)
		err = ap__pin_place(c, iova, size, &pa);
	if (err)
		return err;
	p.d = ap_mem_alloc(vs->ctx, sizeof(*p.d));
	if (!p.d)
		return ap__vfio_fail(vs, -ENOMEM, "out of memory for a DMA mapping");
	*p.d = (struct vdma){ .iova = iova, .size = size, .vaddr = vaddr, .pa = pa, .prot = prot,
			      .c = c };
	err = map_domains(c, p.d);
	if (err) {
		map_plan_drop(vs, &p);
		return err;
	}
	if (t->dirty_tracking)
		err = ap__dirty_bitmap_alloc(c, p.d);
	if (!err)
		err = map_plan_room(c, &p);
	if (!err)
		err = ap__pin_register(vs, p.d, vaddr);
	if (err) {
		unmap_domains(c, p.d, t->ndomains);
		map_plan_drop(vs, &p);
		return err;
	}
	map_commit(c, &p);
	map_plan_drop(vs, &p);
	return 0;
}

/*
 * MAP_DMA(VADDR): the mapping keeps its pages (DMA never stopped) and takes
 * the new address.  Linux only moves the locked-memory charge; we check the
 * new memory too, because our device DMA goes through the process's
 * address.
 */
static int map_vaddr(struct vcontainer *c, struct vdma *d, uint64_t vaddr)
{
	struct ap_ctx *ctx = c->vs->ctx;
	int err;

	err = ap__pin_check_mapped(c->vs, vaddr, d->size);
	if (!err)
		err = ap__pin_populate(c->vs, vaddr, d->size, d->prot & AP_PROT_WRITE);
	if (err)
		return err;
	ap_ram_remove(ctx, d->pa);
	err = ap__pin_register(c->vs, d, vaddr);
	if (err) {
		ap__pin_register(c->vs, d, d->vaddr);
		return err;
	}
	d->vaddr = vaddr;
	d->vaddr_invalid = false;
	c->t1.vaddr_invalid--;
	return 0;
}

/* Steps 1-5: what can be refused before the container is looked at. */
static int map_args(struct vcontainer *c, const struct vfio_iommu_type1_dma_map *m,
		    unsigned *prot)
{
	struct vstate *vs = c->vs;
	bool set_vaddr = m->flags & VFIO_DMA_MAP_FLAG_VADDR;
	uint64_t end;

	if (m->argsz < MAP_MINSZ || (m->flags & ~MAP_FLAGS))
		return ap__vfio_fail(vs, -EINVAL, "VFIO_IOMMU_MAP_DMA: argsz %u < %zu or unknown "
				     "flags 0x%x", m->argsz, (size_t)MAP_MINSZ, m->flags);
	if (m->vaddr > UINTPTR_MAX || m->size > SIZE_MAX)
		return ap__vfio_fail(vs, -EOVERFLOW, "VFIO_IOMMU_MAP_DMA: vaddr or size does not fit "
				     "this host");
	if (!m->size)
		return ap__vfio_fail(vs, -EINVAL, "VFIO_IOMMU_MAP_DMA: size 0");
	if (__builtin_add_overflow(m->iova, m->size - 1, &end) ||
	    __builtin_add_overflow(m->vaddr, m->size - 1, &end))
		return ap__vfio_fail(vs, -EOVERFLOW, "VFIO_IOMMU_MAP_DMA: iova 0x%llx or vaddr 0x%llx "
				     "+ size 0x%llx wraps past 2^64", (unsigned long long)m->iova,
				     (unsigned long long)m->vaddr, (unsigned long long)m->size);
	*prot = (m->flags & VFIO_DMA_MAP_FLAG_READ ? AP_PROT_READ : 0) |
		(m->flags & VFIO_DMA_MAP_FLAG_WRITE ? AP_PROT_WRITE : 0);
	if (!*prot == !set_vaddr)
		return ap__vfio_fail(vs, -EINVAL, "VFIO_IOMMU_MAP_DMA: flags need READ and/or WRITE, "
				     "or VADDR alone");
	return 0;
}

int ap__dma_map_ioctl(struct vcontainer *c, void *arg)
{
	const struct vfio_iommu_type1_dma_map *m = arg;
	struct type1 *t = &c->t1;
	uint64_t pgsize = ap__vcontainer_min_pgsize(c), last;
	struct vdma *d;
	unsigned prot = 0;
	int err;

	if (!m)
		return ap__vfio_fail(c->vs, -EFAULT, "VFIO_IOMMU_MAP_DMA needs a struct");
	err = map_args(c, m, &prot);
	if (err)
		return err;
	if ((m->size | m->iova | m->vaddr) & (pgsize - 1))
		return ap__vfio_fail(c->vs, -EINVAL, "VFIO_IOMMU_MAP_DMA: iova 0x%llx, vaddr 0x%llx "
				     "and size 0x%llx must be 0x%llx-aligned", (unsigned long long)m->iova,
				     (unsigned long long)m->vaddr, (unsigned long long)m->size,
				     (unsigned long long)pgsize);
	last = m->iova + (m->size - 1);
	d = ap__dma_find(t, m->iova, last);
	if (m->flags & VFIO_DMA_MAP_FLAG_VADDR) {
		if (!d)
			return ap__vfio_fail(c->vs, -ENOENT, "VFIO_IOMMU_MAP_DMA(VADDR): no mapping at "
					     "0x%llx", (unsigned long long)m->iova);
		if (!d->vaddr_invalid || d->iova != m->iova || d->size != m->size)
			return ap__vfio_fail(c->vs, -EINVAL, "VFIO_IOMMU_MAP_DMA(VADDR): the mapping "
					     "at 0x%llx must be exactly the one whose vaddr was "
					     "invalidated", (unsigned long long)m->iova);
		return map_vaddr(c, d, m->vaddr);
	}
	if (d)
		return ap__vfio_fail(c->vs, -EEXIST, "VFIO_IOMMU_MAP_DMA: 0x%llx-0x%llx overlaps the "
				     "mapping at 0x%llx", (unsigned long long)m->iova,
				     (unsigned long long)last, (unsigned long long)d->iova);
	if (!t->dma_avail)
		return ap__vfio_fail(c->vs, -ENOSPC, "VFIO_IOMMU_MAP_DMA: the container holds its "
				     "limit of %u mappings", c->dma_entry_limit);
	if (!ap__iova_list_fits(t, m->iova, last))
		return ap__vfio_fail(c->vs, -EINVAL, "VFIO_IOMMU_MAP_DMA: 0x%llx-0x%llx is not inside "
				     "one usable IOVA range (aperture minus reserved regions)",
				     (unsigned long long)m->iova, (unsigned long long)last);
	return map_new(c, m->iova, m->size, m->vaddr, prot);
}

/* ------------------------------------------------------------ UNMAP_DMA */

struct unmap_req {
	uint64_t iova, last;
	uint32_t flags;
	struct vfio_bitmap bitmap;
	uint64_t unmapped;
};

/* Steps 3-5 of vfio_dma_do_unmap: range, dirty bitmap and (v2) no bisect. */
static int unmap_range(struct vcontainer *c, const struct vfio_iommu_type1_dma_unmap *u,
		       struct unmap_req *r)
{
	const struct type1 *t = &c->t1;
	uint64_t pgsize = ap__vcontainer_min_pgsize(c);
	const struct vdma *d;

	if (u->iova & (pgsize - 1))
		return ap__vfio_fail(c->vs, -EINVAL, "VFIO_IOMMU_UNMAP_DMA: iova 0x%llx is not "
				     "0x%llx-aligned", (unsigned long long)u->iova,
				     (unsigned long long)pgsize);
	r->iova = u->iova;
	if (u->flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		if (u->iova || u->size)
			return ap__vfio_fail(c->vs, -EINVAL, "VFIO_IOMMU_UNMAP_DMA(ALL) needs iova and "
					     "size 0");
		r->last = UINT64_MAX;
	} else if (!u->size || (u->size & (pgsize - 1))) {
		return ap__vfio_fail(c->vs, -EINVAL, "VFIO_IOMMU_UNMAP_DMA: size 0x%llx is 0 or not "
				     "0x%llx-aligned", (unsigned long long)u->size,
				     (unsigned long long)pgsize);
	} else if (__builtin_add_overflow(u->iova, u->size - 1, &r->last)) {
		return ap__vfio_fail(c->vs, -EOVERFLOW, "VFIO_IOMMU_UNMAP_DMA: 0x%llx + 0x%llx wraps "
				     "past 2^64", (unsigned long long)u->iova,
				     (unsigned long long)u->size);
	}
	if ((u->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) &&
	    (!t->dirty_tracking || r->bitmap.pgsize != pgsize))
		return ap__vfio_fail(c->vs, -EINVAL, "VFIO_IOMMU_UNMAP_DMA(GET_DIRTY_BITMAP): dirty "
				     "tracking is off, or bitmap.pgsize is not 0x%llx",
				     (unsigned long long)pgsize);
	if (!t->v2 || (u->flags & VFIO_DMA_UNMAP_FLAG_ALL))
		return 0;
	d = ap__dma_find(t, r->iova, r->iova);
	if (d && d->iova != r->iova)
		return ap__vfio_fail(c->vs, -EINVAL, "VFIO_IOMMU_UNMAP_DMA: 0x%llx is inside the "
				     "mapping at 0x%llx (type1v2 never splits one)",
				     (unsigned long long)r->iova, (unsigned long long)d->iova);
	d = ap__dma_find(t, r->last, r->last);
	if (d && d->iova + (d->size - 1) != r->last)
		return ap__vfio_fail(c->vs, -EINVAL, "VFIO_IOMMU_UNMAP_DMA: 0x%llx is inside the "
				     "mapping at 0x%llx (type1v2 never splits one)",
				     (unsigned long long)r->last, (unsigned long long)d->iova);
	return 0;
}

/* UNMAP_DMA(VADDR): mark instead of remove; one already marked undoes the
 * marks this call made. */
static int invalidate_vaddrs(struct vcontainer *c, struct unmap_req *r)
{
	struct type1 *t = &c->t1;
	size_t first = ap__dma_lower_bound(t, r->iova), i;

	for (i = first; i < t->ndmas && t->dmas[i]->iova <= r->last; i++) {
		struct vdma *d = t->dmas[i];

		if (!t->v2 && r->iova > d->iova)
			break;
		if (d->vaddr_invalid) {
			while (i-- > first) {
				t->dmas[i]->vaddr_invalid = false;
				t->vaddr_invalid--;
			}
			r->unmapped = 0;
			return ap__vfio_fail(c->vs, -EINVAL, "VFIO_IOMMU_UNMAP_DMA(VADDR): the vaddr of "
					     "the mapping at 0x%llx is already invalid",
					     (unsigned long long)d->iova);
		}
		d->vaddr_invalid = true;
		t->vaddr_invalid++;
		r->unmapped += d->size;
	}
	return 0;
}

/* Remove the mappings in range, in IOVA order, reporting dirty pages first. */
static int remove_range(struct vcontainer *c, struct unmap_req *r)
{
	struct type1 *t = &c->t1;
	size_t i = ap__dma_lower_bound(t, r->iova);
	int err;

	if ((r->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) &&
	    i < t->ndmas && t->dmas[i]->iova <= r->last) {
		err = ap__dirty_user_bitmap_ok(c, &r->bitmap, r->iova, r->last);
		if (err)
			return err;
	}
	while (i < t->ndmas && t->dmas[i]->iova <= r->last) {
		struct vdma *d = t->dmas[i];

		if (!t->v2 && r->iova > d->iova)
			break;
		if (r->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP)
			ap__dirty_report(d, r->iova, r->bitmap.data);
		r->unmapped += d->size;
		dma_remove_at(c, i);
	}
	return 0;
}

int ap__dma_unmap_ioctl(struct vcontainer *c, void *arg)
{
	struct vfio_iommu_type1_dma_unmap *u = arg;
	struct unmap_req r = { 0 };
	int err;

	if (!u)
		return ap__vfio_fail(c->vs, -EFAULT, "VFIO_IOMMU_UNMAP_DMA needs a struct");
	if (u->argsz < UNMAP_MINSZ || (u->flags & ~UNMAP_FLAGS))
		return ap__vfio_fail(c->vs, -EINVAL, "VFIO_IOMMU_UNMAP_DMA: argsz %u < %zu or unknown "
				     "flags 0x%x", u->argsz, (size_t)UNMAP_MINSZ, u->flags);
	if ((u->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) &&
	    (u->flags & (VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)))
		return ap__vfio_fail(c->vs, -EINVAL, "VFIO_IOMMU_UNMAP_DMA: GET_DIRTY_BITMAP goes with "
				     "neither ALL nor VADDR");
	r.flags = u->flags;
	if (u->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
		if (u->argsz < UNMAP_MINSZ + sizeof(r.bitmap))
			return ap__vfio_fail(c->vs, -EINVAL, "VFIO_IOMMU_UNMAP_DMA(GET_DIRTY_BITMAP): "
					     "argsz %u leaves out the struct vfio_bitmap", u->argsz);
		memcpy(&r.bitmap, u->data, sizeof(r.bitmap));
		err = ap__dirty_check_user_bitmap(c, &r.bitmap, u->size);
		if (err)
			return err;
	}
	err = unmap_range(c, u, &r);
	if (!err)
		err = u->flags & VFIO_DMA_UNMAP_FLAG_VADDR ? invalidate_vaddrs(c, &r)
							    : remove_range(c, &r);
	if (err)
		return err; /* as Linux: on error the struct is not written back */
	u->size = r.unmapped;
	return 0;
}
