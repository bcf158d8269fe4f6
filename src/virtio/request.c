/* SPDX-License-Identifier: MIT */
/*
 * The request queue (virtio 1.2 §5.13.6): ATTACH, DETACH, MAP, UNMAP and
 * PROBE on aperture's domains and devices, through the core's public API
 * only.  Every rule cites the paragraph of §5.13.6 it follows; the choices
 * the spec leaves to the device are listed in doc/virtio-iommu.md.
 *
 * A request that fails changes nothing: checks come first, allocations
 * before the core is touched, and the one core call that can fail is
 * undone by the path that made it.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "virtio_internal.h"

/* ------------------------------------------------------------ lookups */

static size_t dom_slot(const struct ap_viommu *v, uint32_t id)
{
	size_t lo = 0, hi = v->ndoms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->doms[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct vdom *ap__viommu_find_dom(const struct ap_viommu *v, uint32_t id)
{
	size_t i = dom_slot(v, id);

	return i < v->ndoms && v->doms[i]->id == id ? v->doms[i] : NULL;
}

static size_t ep_slot(const struct ap_viommu *v, uint32_t id)
{
	size_t lo = 0, hi = v->neps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->eps[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct vep *ap__viommu_find_ep(const struct ap_viommu *v, uint32_t id)
{
	size_t i = ep_slot(v, id);

	return i < v->neps && v->eps[i]->id == id ? v->eps[i] : NULL;
}

/* The device behind our instance whose stream ID is the endpoint ID. */
static struct ap_device *device_of(const struct ap_viommu *v, uint32_t id)
{
	struct vep *ep = ap__viommu_find_ep(v, id);
	struct ap_device *d = NULL;

	if (ep)
		return ep->dev;
	while ((d = ap_device_next(v->ctx, d)))
		if (ap_device_iommu(d) == v->iommu && ap_device_sid(d) == id)
			return d;
	return NULL;
}

/* Make room for one more pointer in a sorted array. */
static int grow(struct ap_ctx *ctx, void ***arr, size_t n, size_t *cap)
{
	void **p;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 8;
	p = ap_mem_realloc(ctx, *arr, c * sizeof(*p));
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

/* An array left empty goes back, so that a request that failed holds no
 * more memory than before it. */
static void shrink_if_empty(struct ap_ctx *ctx, void ***arr, size_t n, size_t *cap)
{
	if (n)
		return;
	ap_mem_free(ctx, *arr);
	*arr = NULL;
	*cap = 0;
}

static void ep_insert(struct ap_viommu *v, struct vep *ep)
{
	size_t i = ep_slot(v, ep->id);

	memmove(&v->eps[i + 1], &v->eps[i], (v->neps - i) * sizeof(*v->eps));
	v->eps[i] = ep;
	v->neps++;
}

/* Undo endpoint_get() for a request that failed. */
static void ep_forget(struct ap_viommu *v, struct vep *ep)
{
	size_t i = ep_slot(v, ep->id);

	memmove(&v->eps[i], &v->eps[i + 1], (v->neps - i - 1) * sizeof(*v->eps));
	v->neps--;
	ap_mem_free(v->ctx, ep);
	shrink_if_empty(v->ctx, (void ***)&v->eps, v->neps, &v->eps_cap);
}

/* The endpoint record of a device, made on first use (*created): NULL
 * with *status = S_NOENT (no such device) or S_NOMEM. */
static struct vep *endpoint_get(struct ap_viommu *v, uint32_t id, uint8_t *status,
				bool *created)
{
	struct vep *ep = ap__viommu_find_ep(v, id);
	struct ap_device *dev;

	*created = false;
	if (ep)
		return ep;
	dev = device_of(v, id);
	if (!dev) {
		*status = VIRTIO_IOMMU_S_NOENT;
		return NULL;
	}
	*status = VIRTIO_IOMMU_S_NOMEM;
	ep = ap_mem_alloc(v->ctx, sizeof(*ep));
	if (!ep || grow(v->ctx, (void ***)&v->eps, v->neps, &v->eps_cap)) {
		ap_mem_free(v->ctx, ep);
		ap_ctx_set_error(v->ctx, "virtio-iommu: out of memory for endpoint 0x%x", id);
		return NULL;
	}
	ep->id = id;
	ep->dev = dev;
	ep_insert(v, ep);
	*created = true;
	return ep;
}

/* ------------------------------------------------------------ domains */

static struct vdom *dom_create(struct ap_viommu *v, uint32_t id, bool bypass, uint8_t *status)
{
	char name[96];
	struct vdom *d;
	size_t i;
	int err;

	*status = VIRTIO_IOMMU_S_NOMEM;
	d = ap_mem_alloc(v->ctx, sizeof(*d));
	if (!d || grow(v->ctx, (void ***)&v->doms, v->ndoms, &v->doms_cap)) {
		ap_mem_free(v->ctx, d);
		ap_ctx_set_error(v->ctx, "virtio-iommu: out of memory for domain %u", id);
		return NULL;
	}
	snprintf(name, sizeof(name), "%s.vd%u", ap_iommu_name(v->iommu), id);
	err = ap_domain_new(v->ctx, name, v->iommu, bypass ? AP_DOMAIN_IDENTITY : AP_DOMAIN_PAGING,
			    &d->dom);
	if (err) {
		/* A name the embedder took is the device's problem, not the
		 * guest's parameters. */
		*status = err == -ENOMEM || err == -ENOSPC ? VIRTIO_IOMMU_S_NOMEM
							  : VIRTIO_IOMMU_S_DEVERR;
		ap_mem_free(v->ctx, d);
		shrink_if_empty(v->ctx, (void ***)&v->doms, v->ndoms, &v->doms_cap);
		return NULL;
	}
	d->id = id;
	d->bypass = bypass;
	i = dom_slot(v, id);
	memmove(&v->doms[i + 1], &v->doms[i], (v->ndoms - i) * sizeof(*v->doms));
	v->doms[i] = d;
	v->ndoms++;
	return d;
}

/* §5.13.6.4: a domain whose last endpoint left ceases to exist. */
static void dom_destroy(struct ap_viommu *v, struct vdom *d)
{
	size_t i = dom_slot(v, d->id);

	memmove(&v->doms[i], &v->doms[i + 1], (v->ndoms - i - 1) * sizeof(*v->doms));
	v->ndoms--;
	shrink_if_empty(v->ctx, (void ***)&v->doms, v->ndoms, &v->doms_cap);
	ap__itree_destroy(v->ctx, d->maps);
	/* Nothing is attached any more, so this cannot be refused. */
	ap_domain_free(d->dom);
	ap_mem_free(v->ctx, d);
}

/* Another endpoint of dev's group the guest attached, other than skip. */
static struct vep *attached_mate(const struct ap_viommu *v, const struct vep *skip)
{
	int group = ap_device_group_id(skip->dev);
	size_t i;

	for (i = 0; i < v->neps; i++) {
		struct vep *e = v->eps[i];

		if (e != skip && e->dom && ap_device_group_id(e->dev) == group)
			return e;
	}
	return NULL;
}

void ap__viommu_domains_reset(struct ap_viommu *v)
{
	size_t i;

	for (i = 0; i < v->neps; i++) {
		struct vep *e = v->eps[i];

		if (e->dom && ap_device_domain(e->dev))
			ap_detach(e->dev);
		e->dom = NULL;
	}
	while (v->ndoms)
		dom_destroy(v, v->doms[v->ndoms - 1]);
}

/* ------------------------------------------------------------ reserved regions */

/* The RESV_MEM subtype a reserved region of the core is reported as. */
static uint8_t resv_subtype(enum ap_resv_type t)
{
	return t == AP_RESV_MSI ? VIRTIO_IOMMU_RESV_MEM_T_MSI : VIRTIO_IOMMU_RESV_MEM_T_RESERVED;
}

/*
 * The endpoint's RESV_MEM properties in order (§5.13.6.8.1): the core's
 * regions sorted by start, overlapping ones merged (MSI only if all parts
 * were), and only the first MSI region reported as MSI.  Calls fn for
 * each; returns how many there are.
 */
static size_t resv_props(const struct ap_device *dev,
			 void (*fn)(void *arg, size_t i, const struct virtio_iommu_probe_resv_mem *p),
			 void *arg)
{
	struct virtio_iommu_probe_resv_mem cur;
	bool have = false, msi_given = false;
	struct ap_resv r;
	size_t i, n = 0;

	memset(&cur, 0, sizeof(cur));
	for (i = 0; ap_device_resv(dev, i, &r) == 0; i++) {
		uint8_t sub = resv_subtype(r.type);

		if (have && r.start <= le64toh(cur.end)) {
			if (r.end > le64toh(cur.end))
				cur.end = htole64(r.end);
			if (sub != cur.subtype)
				cur.subtype = VIRTIO_IOMMU_RESV_MEM_T_RESERVED;
			continue;
		}
		if (have) {
			if (fn)
				fn(arg, n, &cur);
			n++;
		}
		if (sub == VIRTIO_IOMMU_RESV_MEM_T_MSI && msi_given)
			sub = VIRTIO_IOMMU_RESV_MEM_T_RESERVED;
		msi_given |= sub == VIRTIO_IOMMU_RESV_MEM_T_MSI;
		cur.head.type = htole16(VIRTIO_IOMMU_PROBE_T_RESV_MEM);
		cur.head.length = htole16(sizeof(cur) - sizeof(cur.head));
		cur.subtype = sub;
		cur.start = htole64(r.start);
		cur.end = htole64(r.end);
		have = true;
	}
	if (have) {
		if (fn)
			fn(arg, n, &cur);
		n++;
	}
	return n;
}

struct resv_hit {
	uint64_t start, end;
	bool hit;
};

static void resv_overlap(void *arg, size_t i, const struct virtio_iommu_probe_resv_mem *p)
{
	struct resv_hit *h = arg;

	(void)i;
	if (le64toh(p->start) <= h->end && h->start <= le64toh(p->end))
		h->hit = true;
}

/* Whether [start, end] touches a region an endpoint of d reports. */
static bool hits_resv(const struct ap_viommu *v, const struct vdom *d, uint64_t start,
		      uint64_t end)
{
	struct resv_hit h = { start, end, false };
	size_t i;

	for (i = 0; i < v->neps && !h.hit; i++)
		if (v->eps[i]->dom == d)
			resv_props(v->eps[i]->dev, resv_overlap, &h);
	return h.hit;
}

/* Whether a mapping of d touches a region of ep (the attach check). */
static bool maps_hit_resv(const struct ap_viommu *v, const struct vdom *d, const struct vep *ep)
{
	const struct vmap *m;

	(void)v;
	for (m = ap__itree_first_from(d->maps, 0); m; m = ap__itree_next(d->maps, m)) {
		struct resv_hit h = { m->start, m->end, false };

		resv_props(ep->dev, resv_overlap, &h);
		if (h.hit)
			return true;
	}
	return false;
}

/* ------------------------------------------------------------ the requests */

static bool zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* A core error as a request status. */
static uint8_t status_of(int err)
{
	switch (err) {
	case 0:
		return VIRTIO_IOMMU_S_OK;
	case -ERANGE:
		return VIRTIO_IOMMU_S_RANGE;
	case -ENOMEM:
	case -ENOSPC:
		return VIRTIO_IOMMU_S_NOMEM;
	case -EINVAL:
	case -EEXIST:
		return VIRTIO_IOMMU_S_INVAL;
	default:
		return VIRTIO_IOMMU_S_DEVERR;
	}
}

/* Put ep's group on d in the core: attach, or move it from where it is. */
static int core_attach(struct vdom *d, struct vep *ep)
{
	struct ap_domain *cur = ap_device_domain(ep->dev);

	if (cur == d->dom)
		return 0;
	return cur ? ap_replace(d->dom, ep->dev) : ap_attach(d->dom, ep->dev);
}

/*
 * Put endpoint ep in domain dom_id (made if new), in the core; *out is
 * the domain.  The device's own records of who is where are the caller's
 * to update.  On failure nothing changed.
 */
static uint8_t attach_to(struct ap_viommu *v, struct vep *ep, uint32_t dom_id, bool bypass,
			 struct vdom **out)
{
	struct vdom *d = ap__viommu_find_dom(v, dom_id);
	bool created = false;
	uint8_t status;
	int err;

	/* §5.13.6.3.2: the bypass flag must match an existing domain. */
	if (d && d->bypass != bypass)
		return VIRTIO_IOMMU_S_INVAL;
	*out = d;
	if (d && ep->dom == d)
		return VIRTIO_IOMMU_S_OK;
	/* §5.13.6.3: endpoints that cannot be isolated (one group) share a
	 * domain; the device cannot split them, so UNSUPP. */
	{
		struct vep *mate = attached_mate(v, ep);

		if (mate && mate->dom != d)
			return VIRTIO_IOMMU_S_UNSUPP;
	}
	/* §5.13.6.3.2: properties incompatible with the domain's (a mapping
	 * over one of the endpoint's reserved regions) are UNSUPP. */
	if (d && !d->bypass && maps_hit_resv(v, d, ep))
		return VIRTIO_IOMMU_S_UNSUPP;
	if (!d) {
		d = dom_create(v, dom_id, bypass, &status);
		if (!d)
			return status;
		created = true;
	}
	err = core_attach(d, ep);
	if (err) {
		if (created)
			dom_destroy(v, d);
		/* The instance cannot walk this domain (another granule,
		 * aperture): incompatible properties, §5.13.6.3.2. */
		return err == -ENOMEM || err == -ENOSPC ? VIRTIO_IOMMU_S_NOMEM
		       : err == -EINVAL || err == -EADDRINUSE ? VIRTIO_IOMMU_S_UNSUPP
							      : VIRTIO_IOMMU_S_DEVERR;
	}
	*out = d;
	return VIRTIO_IOMMU_S_OK;
}

/* §5.13.6.3 ATTACH. */
static uint8_t do_attach(struct ap_viommu *v, const struct virtio_iommu_req_attach *r)
{
	uint32_t dom_id = le32toh(r->domain), ep_id = le32toh(r->endpoint);
	uint32_t flags = le32toh(r->flags);
	bool bypass = flags & VIRTIO_IOMMU_ATTACH_F_BYPASS, ep_created;
	struct vdom *d, *old;
	struct vep *ep;
	uint8_t status;

	/* §5.13.6.3.2: reserved not zero, or a flag the device does not
	 * recognise (F_BYPASS exists only with BYPASS_CONFIG negotiated,
	 * §5.13.6.3), MUST be rejected with S_INVAL. */
	if (!zero(r->reserved, sizeof(r->reserved)) || (flags & ~VIRTIO_IOMMU_ATTACH_F_BYPASS) ||
	    (bypass && !viommu_has(v, VIRTIO_IOMMU_F_BYPASS_CONFIG)))
		return VIRTIO_IOMMU_S_INVAL;
	/* §5.13.6: domain_range bounds the domain field when offered. */
	if ((v->cfg.features & AP_VIOMMU_FEATURE(VIRTIO_IOMMU_F_DOMAIN_RANGE)) &&
	    (dom_id < v->domain_start || dom_id > v->domain_end))
		return VIRTIO_IOMMU_S_RANGE;
	ep = endpoint_get(v, ep_id, &status, &ep_created);
	if (!ep)
		return status;
	status = attach_to(v, ep, dom_id, bypass, &d);
	if (status != VIRTIO_IOMMU_S_OK) {
		if (ep_created)
			ep_forget(v, ep);
		return status;
	}
	if (ep->dom == d)
		return VIRTIO_IOMMU_S_OK;
	/* §5.13.6.3.2: moving is a DETACH from the old domain, then ATTACH. */
	old = ep->dom;
	ep->dom = d;
	d->nep++;
	v->st.endpoints_attached += old ? 0 : 1;
	if (old && --old->nep == 0)
		dom_destroy(v, old);
	return VIRTIO_IOMMU_S_OK;
}

/* §5.13.6.4 DETACH. */
static uint8_t do_detach(struct ap_viommu *v, const struct virtio_iommu_req_detach *r)
{
	uint32_t dom_id = le32toh(r->domain), ep_id = le32toh(r->endpoint);
	struct vep *ep = ap__viommu_find_ep(v, ep_id);
	struct vdom *d;

	/* §5.13.6.4.2: reserved is ignored; an endpoint that does not exist
	 * is NOENT (MUST); one that is not attached to that domain INVAL. */
	if (!ep)
		return device_of(v, ep_id) ? VIRTIO_IOMMU_S_INVAL : VIRTIO_IOMMU_S_NOENT;
	d = ep->dom;
	if (!d || d->id != dom_id)
		return VIRTIO_IOMMU_S_INVAL;
	/* The group stays on the domain while another of its endpoints is. */
	if (!attached_mate(v, ep) && ap_device_domain(ep->dev)) {
		int err = ap_detach(ep->dev);

		if (err)
			return VIRTIO_IOMMU_S_DEVERR;
	}
	ep->dom = NULL;
	v->st.endpoints_attached--;
	if (--d->nep == 0)
		dom_destroy(v, d);
	return VIRTIO_IOMMU_S_OK;
}

/* Nodes for mappings: a few kept from UNMAPs, so that a guest that maps
 * and unmaps all day does not allocate all day. */
#define SPARE_NODES 64

static struct vmap *map_node(struct ap_viommu *v)
{
	struct vmap *m = v->spare;

	if (!m)
		return ap_mem_alloc(v->ctx, sizeof(*m));
	v->spare = m->left;
	v->nspare--;
	return m;
}

static void map_node_put(struct ap_viommu *v, struct vmap *m)
{
	if (v->nspare >= SPARE_NODES) {
		ap_mem_free(v->ctx, m);
		return;
	}
	m->left = v->spare;
	v->spare = m;
	v->nspare++;
}

static unsigned prot_of(uint32_t flags)
{
	unsigned prot = 0;

	if (flags & VIRTIO_IOMMU_MAP_F_READ)
		prot |= AP_PROT_READ;
	if (flags & VIRTIO_IOMMU_MAP_F_WRITE)
		prot |= AP_PROT_WRITE;
	/* MMIO is a memory type (§5.13.6.5); everything else is normal,
	 * cacheable memory. */
	prot |= flags & VIRTIO_IOMMU_MAP_F_MMIO ? AP_PROT_MMIO : AP_PROT_CACHE;
	return prot;
}

/* §5.13.6.5 MAP. */
static uint8_t do_map(struct ap_viommu *v, const struct virtio_iommu_req_map *r)
{
	uint32_t dom_id = le32toh(r->domain), flags = le32toh(r->flags);
	uint64_t vs = le64toh(r->virt_start), ve = le64toh(r->virt_end);
	uint64_t ps = le64toh(r->phys_start), size;
	struct vmap *m;
	struct vdom *d;

	/* §5.13.6.5: only with VIRTIO_IOMMU_F_MAP_UNMAP. */
	if (!viommu_has(v, VIRTIO_IOMMU_F_MAP_UNMAP))
		return VIRTIO_IOMMU_S_UNSUPP;
	/* §5.13.6.5.2: unknown flags (MMIO without F_MMIO negotiated) INVAL. */
	if ((flags & ~VIRTIO_IOMMU_MAP_F_MASK) ||
	    ((flags & VIRTIO_IOMMU_MAP_F_MMIO) && !viommu_has(v, VIRTIO_IOMMU_F_MMIO)))
		return VIRTIO_IOMMU_S_INVAL;
	d = ap__viommu_find_dom(v, dom_id);
	if (!d)
		return VIRTIO_IOMMU_S_NOENT;
	if (d->bypass)
		return VIRTIO_IOMMU_S_INVAL;
	/* §5.13.6.5.1: virt_end MUST be greater than virt_start. */
	if (ve < vs)
		return VIRTIO_IOMMU_S_INVAL;
	/* §5.13.6.5.2: start, phys and end + 1 on the page granularity. */
	if ((vs | ps | (ve + 1)) & (v->granule - 1))
		return VIRTIO_IOMMU_S_RANGE;
	/* §5.13.6: a mapping outside input_range fails. */
	size = ve - vs + 1;
	if (vs < v->input_start || ve > v->input_end || size == 0 || ps + (size - 1) < ps)
		return VIRTIO_IOMMU_S_RANGE;
	/* §5.13.6.5.2: a mapping already in the range: INVAL. */
	if (ap__itree_overlaps(d->maps, vs, ve))
		return VIRTIO_IOMMU_S_INVAL;
	/* §5.13.6.8.1.2: reject a MAP over a RESV_MEM region. */
	if (hits_resv(v, d, vs, ve))
		return VIRTIO_IOMMU_S_INVAL;
	m = map_node(v);
	if (!m) {
		ap_ctx_set_error(v->ctx, "virtio-iommu: out of memory for a mapping");
		return VIRTIO_IOMMU_S_NOMEM;
	}
	/* A mapping that allows neither read nor write has no leaves: it
	 * holds its range and every access faults. */
	if (flags & (VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE)) {
		int err = ap_map(d->dom, vs, ps, size, prot_of(flags));

		if (err) {
			/* Not kept as a spare: a failed request holds no more
			 * than before it. */
			ap_mem_free(v->ctx, m);
			return status_of(err);
		}
	}
	m->start = vs;
	m->end = ve;
	m->phys = ps;
	m->flags = flags;
	ap__itree_insert(&d->maps, m);
	d->nmaps++;
	return VIRTIO_IOMMU_S_OK;
}

/* §5.13.6.6 UNMAP. */
static uint8_t do_unmap(struct ap_viommu *v, const struct virtio_iommu_req_unmap *r)
{
	uint32_t dom_id = le32toh(r->domain);
	uint64_t vs = le64toh(r->virt_start), ve = le64toh(r->virt_end);
	struct vmap *m, *edge;
	uint8_t status = VIRTIO_IOMMU_S_OK;
	struct vdom *d;

	if (!viommu_has(v, VIRTIO_IOMMU_F_MAP_UNMAP))
		return VIRTIO_IOMMU_S_UNSUPP;
	/* §5.13.6.6.2: reserved is not checked (the device MAY). */
	d = ap__viommu_find_dom(v, dom_id);
	if (!d)
		return VIRTIO_IOMMU_S_NOENT;
	if (d->bypass)
		return VIRTIO_IOMMU_S_INVAL;
	if (ve < vs)
		return VIRTIO_IOMMU_S_INVAL;
	/* §5.13.6.6.2: a range that would split a mapping is RANGE, and
	 * removes nothing.  Only the mappings at either end can be split. */
	edge = ap__itree_find(d->maps, vs);
	if (edge && edge->start < vs)
		return VIRTIO_IOMMU_S_RANGE;
	edge = ap__itree_find(d->maps, ve);
	if (edge && edge->end > ve)
		return VIRTIO_IOMMU_S_RANGE;
	/* Everything inside goes; holes are fine (example (1), (7)). */
	for (m = ap__itree_first_from(d->maps, vs); m && m->start <= ve;) {
		struct vmap *next = ap__itree_next(d->maps, m);

		if (m->flags & (VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE)) {
			uint64_t size = m->end - m->start + 1, done = 0;

			/* The leaves of one MAP lie inside its range, so the
			 * core unmaps it whole. */
			if (ap_unmap(d->dom, m->start, size, &done) || done != size)
				status = VIRTIO_IOMMU_S_DEVERR;
		}
		ap__itree_remove(&d->maps, m);
		d->nmaps--;
		map_node_put(v, m);
		m = next;
	}
	return status;
}

/* ------------------------------------------------------------ PROBE */

struct probe_out {
	struct ap_viommu *v;
	const struct vq *vq;
	const struct vchain *c;
};

static void probe_emit(void *arg, size_t i, const struct virtio_iommu_probe_resv_mem *p)
{
	struct probe_out *o = arg;

	ap__vq_write(o->v, o->vq, o->c, i * sizeof(*p), p, sizeof(*p));
}

static void write_zeroes(struct ap_viommu *v, const struct vq *vq, const struct vchain *c,
			 uint64_t off, uint64_t len)
{
	static const uint8_t zeroes[256];

	while (len) {
		size_t n = len < sizeof(zeroes) ? (size_t)len : sizeof(zeroes);

		ap__vq_write(v, vq, c, off, zeroes, n);
		off += n;
		len -= n;
	}
}

/* §5.13.6.7 PROBE: properties and tail written here; the used length. */
static uint32_t do_probe(struct ap_viommu *v, const struct vq *vq, const struct vchain *c,
			 const struct virtio_iommu_req_probe *r, uint8_t *status)
{
	uint64_t psize = v->cfg.probe_size, written = 0;
	struct virtio_iommu_req_tail tail;
	struct ap_device *dev;
	size_t nprops;

	memset(&tail, 0, sizeof(tail));
	/* §5.13.6.7.2: a properties buffer smaller than probe_size: no
	 * property, INVAL, the tail at the end of what the driver gave. */
	if (c->wr_len < psize + sizeof(tail)) {
		psize = c->wr_len - sizeof(tail);
		*status = VIRTIO_IOMMU_S_INVAL;
	} else {
		dev = device_of(v, le32toh(r->endpoint));
		nprops = dev ? resv_props(dev, NULL, NULL) : 0;
		if (!dev) {
			*status = VIRTIO_IOMMU_S_NOENT;
		} else if (nprops * sizeof(struct virtio_iommu_probe_resv_mem) > psize) {
			/* More properties than probe_size holds. */
			*status = VIRTIO_IOMMU_S_INVAL;
		} else {
			struct probe_out o = { v, vq, c };

			resv_props(dev, probe_emit, &o);
			written = nprops * sizeof(struct virtio_iommu_probe_resv_mem);
			*status = VIRTIO_IOMMU_S_OK;
		}
	}
	/* §5.13.6.7.2: the rest of properties is zero (an empty property
	 * ends the list). */
	write_zeroes(v, vq, c, written, psize - written);
	tail.status = *status;
	ap__vq_write(v, vq, c, psize, &tail, sizeof(tail));
	return (uint32_t)(psize + sizeof(tail));
}

/* ------------------------------------------------------------ dispatch */

/* Bytes of device-readable request a type needs (its struct up to the
 * tail), or 0 for a type this device does not recognise. */
static size_t request_size(uint8_t type)
{
	switch (type) {
	case VIRTIO_IOMMU_T_ATTACH:
		return offsetof(struct virtio_iommu_req_attach, tail);
	case VIRTIO_IOMMU_T_DETACH:
		return offsetof(struct virtio_iommu_req_detach, tail);
	case VIRTIO_IOMMU_T_MAP:
		return offsetof(struct virtio_iommu_req_map, tail);
	case VIRTIO_IOMMU_T_UNMAP:
		return offsetof(struct virtio_iommu_req_unmap, tail);
	case VIRTIO_IOMMU_T_PROBE:
		return sizeof(struct virtio_iommu_req_probe);
	default:
		return 0;
	}
}

static uint8_t run(struct ap_viommu *v, const uint8_t *req)
{
	switch (req[0]) {
	case VIRTIO_IOMMU_T_ATTACH: {
		struct virtio_iommu_req_attach r;

		memcpy(&r, req, offsetof(struct virtio_iommu_req_attach, tail));
		return do_attach(v, &r);
	}
	case VIRTIO_IOMMU_T_DETACH: {
		struct virtio_iommu_req_detach r;

		memcpy(&r, req, offsetof(struct virtio_iommu_req_detach, tail));
		return do_detach(v, &r);
	}
	case VIRTIO_IOMMU_T_MAP: {
		struct virtio_iommu_req_map r;

		memcpy(&r, req, offsetof(struct virtio_iommu_req_map, tail));
		return do_map(v, &r);
	}
	default: {
		struct virtio_iommu_req_unmap r;

		memcpy(&r, req, offsetof(struct virtio_iommu_req_unmap, tail));
		return do_unmap(v, &r);
	}
	}
}

/* Return a chain unwritten: what §5.13.6 says for a request the device
 * cannot parse or whose type it does not recognise. */
static void unparsed(struct ap_viommu *v, struct vq *vq, const struct vchain *c)
{
	ap__vq_push(v, vq, c->head, 0);
	v->st.requests++;
	v->st.unparsed++;
}

static void handle(struct ap_viommu *v, struct vq *vq, const struct vchain *c)
{
	struct virtio_iommu_req_tail tail;
	uint8_t req[VIOMMU_REQ_MAX];
	uint32_t used = sizeof(tail);
	size_t need;

	memset(&tail, 0, sizeof(tail));
	memset(req, 0, sizeof(req));
	/* No room for a tail, or no readable header: the device cannot
	 * parse it. */
	if (c->wr_len < sizeof(tail) || c->rd_len < sizeof(struct virtio_iommu_req_head) ||
	    ap__vq_read(v, vq, c, req, sizeof(struct virtio_iommu_req_head)))
		return unparsed(v, vq, c);
	need = request_size(req[0]);
	/* §5.13.6.2: an unknown type is not written, used length 0; so is
	 * PROBE when F_PROBE is not negotiated (§5.13.6.7.2). */
	if (!need || (req[0] == VIRTIO_IOMMU_T_PROBE && !viommu_has(v, VIRTIO_IOMMU_F_PROBE)))
		return unparsed(v, vq, c);
	/* Where the status goes must be writable before anything runs: a
	 * request whose outcome cannot be told is not carried out. */
	if (req[0] == VIRTIO_IOMMU_T_PROBE)
		used = c->wr_len < v->cfg.probe_size + sizeof(tail)
			       ? (uint32_t)c->wr_len
			       : v->cfg.probe_size + (uint32_t)sizeof(tail);
	if (!ap__vq_writable(v, vq, c, used))
		return unparsed(v, vq, c);
	if (c->rd_len < need)
		tail.status = VIRTIO_IOMMU_S_INVAL; /* shorter than its type */
	else if (ap__vq_read(v, vq, c, req, need))
		tail.status = VIRTIO_IOMMU_S_IOERR; /* a buffer outside RAM */
	else if (req[0] != VIRTIO_IOMMU_T_PROBE)
		tail.status = run(v, req);
	if (req[0] == VIRTIO_IOMMU_T_PROBE && tail.status == VIRTIO_IOMMU_S_OK) {
		struct virtio_iommu_req_probe pr;

		memcpy(&pr, req, sizeof(pr));
		used = do_probe(v, vq, c, &pr, &tail.status);
	} else {
		/* The tail follows the request's fields (for PROBE, the
		 * properties, zeroed). */
		write_zeroes(v, vq, c, 0, used - sizeof(tail));
		ap__vq_write(v, vq, c, used - sizeof(tail), &tail, sizeof(tail));
	}
	ap__vq_push(v, vq, c->head, used);
	v->st.requests++;
	v->st.status[tail.status]++;
}

void ap__viommu_process_requests(struct ap_viommu *v)
{
	struct vq *vq = &v->q[AP_VIOMMU_REQUESTQ];
	uint16_t before;

	if (ap__vq_begin(v, vq))
		return;
	before = vq->used_idx;
	for (;;) {
		struct vchain c;

		while (!v->needs_reset && ap__vq_pop(v, vq, &c) > 0)
			handle(v, vq, &c);
		if (v->needs_reset || !ap__vq_settle(v, vq))
			break;
	}
	ap__vq_end(v, vq, AP_VIOMMU_REQUESTQ, before);
}
