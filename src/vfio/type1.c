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
#include <stdlib.h>
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
	struct type1 *t = &c->t1;

	ap__dma_remove_all(c);
	for (size_t i = 0; i < t->ndomains; i++) {
		ap_domain_free(t->domains[i]->dom);
		free(t->domains[i]);
	}
	free(t->domains);
	free(t->iovas);
	free(t->dmas);
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
	struct vfio_iova_range *iovas;   /* the container's list with it */
	size_t niovas;
	struct vdomain *vd;              /* the fresh domain, if it is kept */
};

static void plan_drop(struct attach_plan *p)
{
	if (p->fresh)
		ap_domain_free(p->fresh);
	free(p->iovas);
	free(p->vd);
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
	err = ap__iova_list_copy(c->vs, t, &p->iovas, &p->niovas);
	if (!err)
		err = ap__iova_list_clip(c->vs, &p->iovas, &p->niovas, geo.start, geo.end);
	if (!err)
		err = ap__iova_list_exclude_resv(c->vs, &p->iovas, &p->niovas, g);
	return err;
}

/* Step 9: the newest domain the core lets the group join, or NULL. */
static struct vdomain *join_existing(struct vcontainer *c, struct vgroup *g)
{
	struct ap_device *dev = ap__vgroup_device(g);

	for (size_t i = 0; i < c->t1.ndomains; i++)
		if (!ap_replace(c->t1.domains[i]->dom, dev))
			return c->t1.domains[i];
	return NULL;
}

/* Step 10: the group keeps its own domain, holding every mapping. */
static int take_fresh(struct vcontainer *c, struct vgroup *g, struct attach_plan *p)
{
	struct vdomain **grown;
	int err;

	if (!pgsizes_with(c, ap_domain_pgsizes(p->fresh)))
		return ap__vfio_fail(c->vs, -EINVAL,
				     "group %d: %s shares no page size with the container's domains "
				     "(a rule of ours: type1 would be left with none)", g->id,
				     ap_iommu_name(ap_device_iommu(ap__vgroup_device(g))));
	grown = realloc(c->t1.domains, (c->t1.ndomains + 1) * sizeof(*grown));
	if (!grown)
		return ap__vfio_fail(c->vs, -ENOMEM, "out of memory");
	c->t1.domains = grown;
	p->vd = calloc(1, sizeof(*p->vd));
	if (!p->vd)
		return ap__vfio_fail(c->vs, -ENOMEM, "out of memory");
	err = ap__dma_replay(c, p->fresh);
	if (err)
		return err;
	err = ap_replace(p->fresh, ap__vgroup_device(g));
	if (err)
		return err;
	p->vd->dom = p->fresh;
	p->fresh = NULL;
	memmove(c->t1.domains + 1, c->t1.domains, c->t1.ndomains * sizeof(*c->t1.domains));
	c->t1.domains[0] = p->vd;
	c->t1.ndomains++;
	return 0;
}

int ap__type1_attach_group(struct vcontainer *c, struct vgroup *g)
{
	struct type1 *t = &c->t1;
	struct attach_plan p = { 0 };
	struct vdomain *vd;
	int err;

	if (t->vaddr_invalid)
		return ap__vfio_fail(c->vs, -EBUSY, "group %d: a mapping's vaddr is invalid "
				     "(VFIO_UPDATE_VADDR in progress)", g->id);
	err = ap__vgroup_refuse_bypass(g);
	if (!err)
		err = plan_iovas(c, g, &p);
	if (err) {
		plan_drop(&p);
		return err;
	}
	vd = join_existing(c, g);
	if (!vd) {
		err = take_fresh(c, g, &p);
		if (err) {
			plan_drop(&p);
			return err;
		}
		vd = p.vd;
		p.vd = NULL;
	}
	free(t->iovas);
	t->iovas = p.iovas;
	t->niovas = p.niovas;
	p.iovas = NULL;
	plan_drop(&p);
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

/* Reserved regions may be shared, so the list is rebuilt from the
 * remaining groups' (vfio_iommu_resv_refresh); on failure it stays. */
static void resv_refresh(struct vcontainer *c)
{
	struct type1 *t = &c->t1;
	struct vfio_iova_range *r = NULL;
	size_t n = 0;
	int err;

	if (!t->niovas)
		return;
	err = ap__iova_list_clip(c->vs, &r, &n, t->iovas[0].start, t->iovas[t->niovas - 1].end);
	for (size_t i = 0; !err && i < c->ngroups; i++)
		if (c->groups[i]->vd)
			err = ap__iova_list_exclude_resv(c->vs, &r, &n, c->groups[i]);
	if (err) {
		free(r);
		return;
	}
	free(t->iovas);
	t->iovas = r;
	t->niovas = n;
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
	free(vd);
	aperture_expand(t);
	t->pgsize_bitmap = pgsizes_with(c, UINT64_MAX);
}

void ap__type1_detach_group(struct vcontainer *c, struct vgroup *g)
{
	struct vdomain *vd = g->vd;

	ap__vgroup_reblock(g);
	g->vd = NULL;
	if (!--vd->ngroups)
		domain_drop(c, vd);
	resv_refresh(c);
}
