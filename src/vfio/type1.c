/* SPDX-License-Identifier: MIT */
/*
 * The type1 backend's groups and domains, as drivers/vfio/vfio_iommu_type1.c
 * (vfio_iommu_type1_attach_group / _detach_group): a group gets a domain
 * allocated for its own IOMMU instance; the aperture and reserved regions
 * of that domain must agree with the mappings already made; then the group
 * joins an existing domain of the container if the core lets it (the
 * core's attach rules decide what is compatible), or keeps the new one with
 * every mapping replayed into it.  A refusal changes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vfio_internal.h"

int ap__type1_check_extension(const struct vcontainer *c, unsigned long ext)
{
	bool backend = c && c->type;

	switch (ext) {
	case VFIO_TYPE1_IOMMU:
	case VFIO_TYPE1v2_IOMMU:
	case VFIO_UNMAP_ALL:
		return 1;
	case VFIO_UPDATE_VADDR:
		return backend;
	case VFIO_DMA_CC_IOMMU:
		/* every domain enforces coherency: here, every instance walks coherently */
		if (!backend)
			return 0;
		for (size_t i = 0; i < c->ngroups; i++) {
			const struct ap_iommu *iommu = ap_device_iommu(ap__vgroup_device(c->groups[i]));

			if (!ap_iommu_get_config(iommu)->coherent_walk)
				return 0;
		}
		return 1;
	default:
		return 0;
	}
}

int ap__type1_open(struct vcontainer *c, unsigned long type)
{
	if (type != VFIO_TYPE1_IOMMU && type != VFIO_TYPE1v2_IOMMU)
		return ap__vfio_fail(c->vs, -EINVAL, "VFIO_SET_IOMMU: type1 has no mode %lu", type);
	memset(&c->t1, 0, sizeof(c->t1));
	c->t1.v2 = type == VFIO_TYPE1v2_IOMMU;
	c->t1.dma_avail = c->dma_entry_limit;
	c->t1.pgsize_bitmap = ~(c->vs->host_page - 1); /* PAGE_MASK: no domain yet */
	return 0;
}

void ap__type1_release(struct vcontainer *c)
{
	struct ap_ctx *ctx = c->vs->ctx;
	struct type1 *t = &c->t1;

	ap__dma_remove_all(c);
	for (size_t i = 0; i < t->ndomains; i++) {
		ap_domain_free(t->domains[i]->dom);
		ap_mem_free(ctx, t->domains[i]);
	}
	ap_mem_free(ctx, t->domains);
	ap_mem_free(ctx, t->iovas);
	ap_mem_free(ctx, t->iovas_spare);
	memset(t, 0, sizeof(*t));
}

/* The smallest output size of the container's domains: pinned pages must
 * get physical addresses every instance can emit. */
unsigned ap__type1_min_oas(const struct vcontainer *c)
{
	unsigned oas = 64;

	for (size_t i = 0; i < c->t1.ndomains; i++) {
		unsigned o = ap_domain_oas(c->t1.domains[i]->dom);

		if (o < oas)
			oas = o;
	}
	return oas;
}

/*
 * The page sizes every domain can map (extra: one more domain's, or ~0),
 * with sizes below the host page hidden behind it, as
 * vfio_update_pgsize_bitmap().
 */
static uint64_t pgsizes_with(const struct vcontainer *c, uint64_t extra)
{
	uint64_t bitmap = extra, page = c->vs->host_page;

	for (size_t i = 0; i < c->t1.ndomains; i++)
		bitmap &= ap_domain_pgsizes(c->t1.domains[i]->dom);
	if (bitmap & (page - 1))
		bitmap = (bitmap & ~(page - 1)) | page;
	return bitmap;
}

/* ------------------------------------------------------------ attach */

/* What a group's attach will install, prepared before anything changes. */
struct attach_plan {
	struct ap_domain *fresh;         /* allocated for the group's instance */
	struct iova_list iovas;          /* the container's list with it */
	struct vfio_iova_range *spare;   /* as much room again, for detaches */
	struct vdomain *vd;              /* the fresh domain, if it is kept */
	struct vdomain **domains;        /* room for the domain list with it */
};

static void plan_drop(struct ap_ctx *ctx, struct attach_plan *p)
{
	if (p->fresh)
		ap_domain_free(p->fresh);
	ap_mem_free(ctx, p->iovas.r);
	ap_mem_free(ctx, p->spare);
	ap_mem_free(ctx, p->vd);
	ap_mem_free(ctx, p->domains);
}

/* "vfio<C>.d<N>", N the lowest free: a refused group's name is reused. */
static void domain_name(const struct vcontainer *c, char *buf, size_t len)
{
	for (unsigned n = 0;; n++) {
		snprintf(buf, len, "vfio%u.d%u", c->serial, n);
		if (!ap_domain_find(c->vs->ctx, buf))
			return;
	}
}

/*
 * A detach rebuilds the list from the remaining groups' reserved regions
 * and, closing a handle, must not fail: room for the largest list any set
 * of the container's groups can leave, and a spare list as large to build
 * it in, are made when a group attaches.
 */
static int plan_detach_room(struct vcontainer *c, struct vgroup *g, struct attach_plan *p)
{
	size_t need = 1 + ap__iova_list_resv_count(g);
	int err;

	for (size_t i = 0; i < c->ngroups; i++)
		if (c->groups[i] != g)
			need += ap__iova_list_resv_count(c->groups[i]);
	if (need < p->iovas.n)
		need = p->iovas.n;
	err = ap__iova_list_reserve(c->vs, &p->iovas, need);
	if (err)
		return err;
	p->spare = ap_mem_alloc(c->vs->ctx, p->iovas.cap * sizeof(*p->spare));
	if (!p->spare)
		return ap__vfio_fail(c->vs, -ENOMEM, "out of memory for the IOVA list");
	return 0;
}

/* Steps 3-6 of Linux's attach: a domain for the group's instance, and the
 * IOVA list the container would have with it. */
static int plan_iovas(struct vcontainer *c, struct vgroup *g, struct attach_plan *p)
{
	struct ap_iommu *iommu = ap_device_iommu(ap__vgroup_device(g));
	struct type1 *t = &c->t1;
	struct ap_geometry geo;
	char name[48];
	int err;

	domain_name(c, name, sizeof(name));
	err = ap__vfio_domain_new(c->vs, name, iommu, AP_DOMAIN_PAGING, &p->fresh);
	if (err)
		return err;
	ap_domain_geometry(p->fresh, &geo);
	if (ap__iova_list_aperture_conflict(t, geo.start, geo.end))
		return ap__vfio_fail(c->vs, -EINVAL,
				     "group %d: its aperture 0x%llx-0x%llx leaves out IOVA the container "
				     "uses (a mapping, or all of its range)", g->id,
				     (unsigned long long)geo.start, (unsigned long long)geo.end);
	if (ap__iova_list_resv_conflict(t, g))
		return ap__vfio_fail(c->vs, -EINVAL,
				     "group %d: one of its reserved regions overlaps a mapping", g->id);
	err = ap__iova_list_copy(c->vs, t, &p->iovas);
	if (!err)
		err = ap__iova_list_clip(c->vs, &p->iovas, geo.start, geo.end);
	if (!err)
		err = ap__iova_list_exclude_resv(c->vs, &p->iovas, g);
	if (!err)
		err = plan_detach_room(c, g, p);
	return err;
}

/*
 * Step 9: the newest domain the core lets the group join (*out, NULL if
 * none).  A refusal means "not compatible, try the next"; running out of
 * memory is no verdict on compatibility, and fails the attach rather than
 * give the group a domain of its own it would not have had otherwise.
 */
static int join_existing(struct vcontainer *c, struct vgroup *g, struct vdomain **out)
{
	struct ap_device *dev = ap__vgroup_device(g);

	*out = NULL;
	for (size_t i = 0; i < c->t1.ndomains; i++) {
		struct ap_domain *dom = c->t1.domains[i]->dom;
		int err = ap_replace(dom, dev);

		if (!err) {
			*out = c->t1.domains[i];
			return 0;
		}
		if (err == -ENOMEM)
			return ap__vfio_fail(c->vs, err, "group %d: joining '%s': %s", g->id,
					     ap_domain_name(dom), ap_ctx_error(c->vs->ctx));
	}
	return 0;
}

/* Step 10: the group keeps its own domain, holding every mapping.  The
 * longer domain list is made first and installed last. */
static int take_fresh(struct vcontainer *c, struct vgroup *g, struct attach_plan *p)
{
	struct ap_ctx *ctx = c->vs->ctx;
	struct type1 *t = &c->t1;
	int err;

	if (!pgsizes_with(c, ap_domain_pgsizes(p->fresh)))
		return ap__vfio_fail(c->vs, -EINVAL,
				     "group %d: %s shares no page size with the container's domains "
				     "(a rule of ours: type1 would be left with none)", g->id,
				     ap_iommu_name(ap_device_iommu(ap__vgroup_device(g))));
	p->domains = ap_mem_alloc(ctx, (t->ndomains + 1) * sizeof(*p->domains));
	p->vd = ap_mem_alloc(ctx, sizeof(*p->vd));
	if (!p->domains || !p->vd)
		return ap__vfio_fail(c->vs, -ENOMEM, "out of memory for the container's domains");
	err = ap__dma_replay(c, p->fresh);
	if (err)
		return err;
	err = ap_replace(p->fresh, ap__vgroup_device(g));
	if (err)
		return err;
	p->vd->dom = p->fresh;
	p->fresh = NULL;
	p->domains[0] = p->vd;
	if (t->ndomains)
		memcpy(p->domains + 1, t->domains, t->ndomains * sizeof(*t->domains));
	ap_mem_free(ctx, t->domains);
	t->domains = p->domains;
	p->domains = NULL;
	t->ndomains++;
	return 0;
}

int ap__type1_attach_group(struct vcontainer *c, struct vgroup *g)
{
	struct type1 *t = &c->t1;
	struct attach_plan p = { 0 };
	struct vdomain *vd = NULL;
	int err;

	if (t->vaddr_invalid)
		return ap__vfio_fail(c->vs, -EBUSY, "group %d: a mapping's vaddr is invalid "
				     "(VFIO_UPDATE_VADDR in progress)", g->id);
	err = ap__vgroup_refuse_bypass(g);
	if (!err)
		err = plan_iovas(c, g, &p);
	if (!err)
		err = join_existing(c, g, &vd);
	if (!err && !vd)
		err = take_fresh(c, g, &p);
	if (err) {
		plan_drop(c->vs->ctx, &p);
		return err;
	}
	if (!vd) { /* take_fresh() installed the group's own domain */
		vd = p.vd;
		p.vd = NULL;
	}
	ap_mem_free(c->vs->ctx, t->iovas);
	ap_mem_free(c->vs->ctx, t->iovas_spare);
	t->iovas = p.iovas.r;
	t->niovas = p.iovas.n;
	t->iovas_cap = p.iovas.cap;
	t->iovas_spare = p.spare;
	p.iovas.r = NULL;
	p.spare = NULL;
	plan_drop(c->vs->ctx, &p);
	vd->ngroups++;
	g->vd = vd;
	t->pgsize_bitmap = pgsizes_with(c, UINT64_MAX);
	return 0;
}

/* ------------------------------------------------------------ detach */

/* A domain went: the list's outer bounds become what the remaining
 * domains allow, as vfio_iommu_aper_expand(). */
static void aperture_expand(struct type1 *t)
{
	uint64_t start = 0, end = UINT64_MAX;

	if (!t->niovas)
		return;
	for (size_t i = 0; i < t->ndomains; i++) {
		struct ap_geometry geo;

		ap_domain_geometry(t->domains[i]->dom, &geo);
		if (geo.start > start)
			start = geo.start;
		if (geo.end < end)
			end = geo.end;
	}
	t->iovas[0].start = start;
	t->iovas[t->niovas - 1].end = end;
}

/*
 * Room in both lists for `need` ranges, when groups got reserved regions
 * after they attached; on failure the room stays as it was.
 */
static int iovas_room(struct vcontainer *c, size_t need)
{
	struct type1 *t = &c->t1;
	struct iova_list a = { t->iovas, t->niovas, t->iovas_cap };
	struct iova_list b = { t->iovas_spare, 0, t->iovas_cap };
	int err;

	err = ap__iova_list_reserve(c->vs, &a, need);
	t->iovas = a.r; /* moved, or as it was */
	if (!err)
		err = ap__iova_list_reserve(c->vs, &b, need);
	t->iovas_spare = b.r;
	if (!err)
		t->iovas_cap = need;
	return err;
}

/*
 * Reserved regions may be shared, so the list is rebuilt from the remaining
 * groups' (vfio_iommu_resv_refresh), in the spare list, which has the room
 * (plan_detach_room).  Should it not (a region added to a device since its
 * group attached) and none be left, the old list stays, stricter than
 * needed, as Linux keeps it when its copy cannot be allocated.
 */
static void resv_refresh(struct vcontainer *c)
{
	struct type1 *t = &c->t1;
	struct iova_list l;
	struct vfio_iova_range *old;
	size_t need = 1;
	int err = 0;

	if (!t->niovas)
		return;
	for (size_t i = 0; i < c->ngroups; i++)
		if (c->groups[i]->vd)
			need += ap__iova_list_resv_count(c->groups[i]);
	if (need > t->iovas_cap && iovas_room(c, need))
		return;
	l = (struct iova_list){ t->iovas_spare, 0, t->iovas_cap };
	err = ap__iova_list_clip(c->vs, &l, t->iovas[0].start, t->iovas[t->niovas - 1].end);
	for (size_t i = 0; !err && i < c->ngroups; i++)
		if (c->groups[i]->vd)
			err = ap__iova_list_exclude_resv(c->vs, &l, c->groups[i]);
	if (err)
		return; /* nothing usable left: cannot be, the list only widens */
	old = t->iovas;
	t->iovas = l.r;
	t->niovas = l.n;
	t->iovas_spare = old;
}

static void domain_drop(struct vcontainer *c, struct vdomain *vd)
{
	struct type1 *t = &c->t1;
	size_t i;

	if (t->ndomains == 1)
		ap__dma_remove_all(c); /* the last domain: every mapping goes with it */
	for (i = 0; t->domains[i] != vd; i++)
		;
	memmove(t->domains + i, t->domains + i + 1, (t->ndomains - i - 1) * sizeof(*t->domains));
	t->ndomains--;
	ap_domain_free(vd->dom);
	ap_mem_free(c->vs->ctx, vd);
	aperture_expand(t);
	t->pgsize_bitmap = pgsizes_with(c, UINT64_MAX);
}

/*
 * Off its domain: back onto its blocking domain while it stays in the
 * container (a refused SET_IOMMU), or onto none when it is leaving, which
 * then needs no memory: closing a handle cannot fail.
 */
void ap__type1_detach_group(struct vcontainer *c, struct vgroup *g, bool leaving)
{
	struct vdomain *vd = g->vd;

	if (leaving)
		ap_detach(ap__vgroup_device(g));
	else
		ap__vgroup_reblock(g);
	g->vd = NULL;
	if (!--vd->ngroups)
		domain_drop(c, vd);
	resv_refresh(c);
}
