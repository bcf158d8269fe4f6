/* SPDX-License-Identifier: MIT */
/*
 * VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA, with the checks of Linux
 * 6.18's vfio_dma_do_map / vfio_dma_do_unmap in their order and with their
 * errno values, over the container's mappings (type1's vfio_dma rb-tree,
 * here an AVL tree by IOVA: map, unmap and lookup O(log n), an unmap of k
 * mappings O(k log n)).  A mapping is pinned process memory (pin.c) mapped
 * at its IOVA in every domain of the container.
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

#define VDMA(n) AP_AVL_ENTRY(n, struct vdma, node)

static uint64_t dma_last(const struct vdma *d)
{
	return d->iova + (d->size - 1);
}

/* The lowest mapping that ends at or above addr, or NULL.  Mappings never
 * overlap, so their ends are in the order of their starts. */
struct vdma *ap__dma_first(const struct type1 *t, uint64_t addr)
{
	struct ap_avl_node *n = t->dmas.root;
	struct vdma *best = NULL;

	while (n) {
		struct vdma *d = VDMA(n);

		if (dma_last(d) < addr) {
			n = n->link[1];
		} else {
			best = d;
			n = n->link[0];
		}
	}
	return best;
}

struct vdma *ap__dma_next(const struct vdma *d)
{
	struct ap_avl_node *n = ap__avl_next(&d->node);

	return n ? VDMA(n) : NULL;
}

/* The lowest mapping overlapping [start, last], or NULL. */
struct vdma *ap__dma_find(const struct type1 *t, uint64_t start, uint64_t last)
{
	struct vdma *d = ap__dma_first(t, start);

	return d && d->iova <= last ? d : NULL;
}

/* Link a mapping that overlaps none. */
static void dma_link(struct type1 *t, struct vdma *d)
{
	struct ap_avl_node *parent = NULL, *n = t->dmas.root;
	int dir = 0;

	while (n) {
		parent = n;
		dir = d->iova > VDMA(n)->iova;
		n = n->link[dir];
	}
	ap__avl_insert(&t->dmas, parent, dir, &d->node);
	t->ndmas++;
	t->dma_avail--;
}

/* Take d out of the first n domains (each holds it whole: no leaf is cut). */
static void unmap_domains(struct vcontainer *c, const struct vdma *d, size_t n)
{
	uint64_t done;

	while (n--)
		ap_unmap(c->t1.domains[n]->dom, d->iova, d->size, &done);
}

/*
 * Mappings on their way out: out of the domains and the tree, their RAM
 * and memory given back a batch at a time, so that unmapping many waits
 * once per batch for DMA in flight (ap_ram_remove_many), not once per
 * mapping.
 */
#define REMOVAL_BATCH 256

struct removal {
	size_t n;
	uint64_t pa[REMOVAL_BATCH];
	struct vdma *d[REMOVAL_BATCH];
};

/* Their RAM goes once DMA that translated through them before they were
 * unmapped has landed (ap_ram_remove_many waits for it); then no DMA can
 * reach them, and no write observer can hold one it found by the physical
 * address: they go. */
static void removal_flush(struct vcontainer *c, struct removal *rm)
{
	struct ap_ctx *ctx = c->vs->ctx;

	/* cannot fail: each address starts a region registered once */
	ap_ram_remove_many(ctx, rm->pa, rm->n);
	for (size_t i = 0; i < rm->n; i++) {
		ap_mem_free(ctx, rm->d[i]->bitmap);
		ap_mem_free(ctx, rm->d[i]);
	}
	rm->n = 0;
}

/* Take d out of every domain and the tree, unpin it, and queue it. */
static void dma_remove(struct vcontainer *c, struct vdma *d, struct removal *rm)
{
	struct type1 *t = &c->t1;

	unmap_domains(c, d, t->ndomains);
	ap__avl_erase(&t->dmas, &d->node);
	t->ndmas--;
	t->dma_avail++;
	c->locked -= d->size;
	ap__vfio_uncharge(c->vs, d->size);
	if (d->vaddr_invalid)
		t->vaddr_invalid--;
	rm->pa[rm->n] = d->pa;
	rm->d[rm->n++] = d;
	if (rm->n == REMOVAL_BATCH)
		removal_flush(c, rm);
}

void ap__dma_remove_all(struct vcontainer *c)
{
	struct removal rm;
	struct ap_avl_node *n;

	rm.n = 0;
	while ((n = ap__avl_last(&c->t1.dmas)))
		dma_remove(c, VDMA(n), &rm);
	removal_flush(c, &rm);
}

/* Every mapping into a domain a group is about to get (type1's replay). */
int ap__dma_replay(struct vcontainer *c, struct ap_domain *dom)
{
	for (const struct vdma *d = ap__dma_first(&c->t1, 0); d; d = ap__dma_next(d)) {
		int err = ap_map(dom, d->iova, d->pa, d->size, d->prot | AP_PROT_CACHE);

		if (err)
			return ap__vfio_fail(c->vs, err, "replaying mapping 0x%llx-0x%llx into '%s': %s",
					     (unsigned long long)d->iova,
					     (unsigned long long)dma_last(d),
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
 * locked-memory limit (and then charged to it), and accessible as the
 * device will access them. */
static int pin_check(struct vcontainer *c, uint64_t vaddr, uint64_t size, unsigned prot)
{
	struct vstate *vs = c->vs;
	int err;

	err = ap__pin_check_mapped(vs, vaddr, size);
	if (!err)
		err = ap__vfio_charge(c, size);
	if (err)
		return err;
	err = ap__pin_populate(vs, vaddr, size, prot & AP_PROT_WRITE);
	if (err)
		ap__vfio_uncharge(vs, size);
	return err;
}

/*
 * A physical address for d and its registration as RAM.  Other containers
 * (and the program itself) add RAM from other threads: an address taken
 * between the choice and the registration is chosen again.
 */
static int pin_register(struct vcontainer *c, struct vdma *d)
{
	int err = -EADDRINUSE;

	for (unsigned tries = 0; err == -EADDRINUSE && tries < 64; tries++) {
		err = ap__pin_place(c, d->iova, d->size, &d->pa);
		if (!err)
			err = ap__pin_register(c->vs, d, d->vaddr);
	}
	return err;
}

/*
 * Steps 10-12 of vfio_dma_do_map: pin, map everywhere, track; all or
 * nothing.  Every allocation comes before the domains get the mapping (a
 * map may take table memory that its unmap keeps), but for the dirty
 * bitmap, whose page-count check comes after the map, as Linux's: the
 * mapping, then its pinned memory registered as RAM at the physical
 * address the container picks, then the map.
 */
static int map_new(struct vcontainer *c, uint64_t iova, uint64_t size, uint64_t vaddr,
		   unsigned prot)
{
	struct type1 *t = &c->t1;
	struct vstate *vs = c->vs;
	struct vdma *d;
	int err;

	err = pin_check(c, vaddr, size, prot);
	if (err)
		return err;
	d = ap_mem_alloc(vs->ctx, sizeof(*d));
	if (!d) {
		ap__vfio_uncharge(vs, size);
		return ap__vfio_fail(vs, -ENOMEM, "out of memory for a DMA mapping");
	}
	*d = (struct vdma){ .iova = iova, .size = size, .vaddr = vaddr, .prot = prot, .c = c };
	err = pin_register(c, d);
	if (err) {
		ap__vfio_uncharge(vs, size);
		ap_mem_free(vs->ctx, d);
		return err;
	}
	err = map_domains(c, d);
	if (!err && t->dirty_tracking) {
		err = ap__dirty_bitmap_alloc(c, d);
		if (err)
			unmap_domains(c, d, t->ndomains);
	}
	if (err) {
		ap_ram_remove(vs->ctx, d->pa);
		ap__vfio_uncharge(vs, size);
		ap_mem_free(vs->ctx, d);
		return err;
	}
	dma_link(t, d);
	c->locked += size;
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
	struct vdma *first = ap__dma_first(t, r->iova), *d;

	for (d = first; d && d->iova <= r->last; d = ap__dma_next(d)) {
		if (!t->v2 && r->iova > d->iova)
			break;
		if (d->vaddr_invalid) {
			for (struct vdma *e = first; e != d; e = ap__dma_next(e)) {
				e->vaddr_invalid = false;
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
	struct vdma *d = ap__dma_first(t, r->iova);
	struct removal rm;
	int err;

	if ((r->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) && d && d->iova <= r->last) {
		err = ap__dirty_user_bitmap_ok(c, &r->bitmap, r->iova, r->last);
		if (err)
			return err;
	}
	rm.n = 0;
	while (d && d->iova <= r->last) {
		struct vdma *next = ap__dma_next(d);

		if (!t->v2 && r->iova > d->iova)
			break;
		if (r->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP)
			ap__dirty_report(d, r->iova, r->bitmap.data);
		r->unmapped += d->size;
		dma_remove(c, d, &rm);
		d = next;
	}
	removal_flush(c, &rm);
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
