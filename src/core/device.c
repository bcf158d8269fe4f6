/* SPDX-License-Identifier: MIT */
/*
 * Devices (requesters with a stream ID behind one instance) and the groups
 * they belong to.  A group is the unit of isolation: attach and detach move
 * a whole group.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "kinds/kind.h"

/* ------------------------------------------------------------ indexes */

static uint64_t name_hash(const char *name)
{
	return ap__hash_bytes(name, strlen(name), 0);
}

static uint64_t device_name_hash(const void *obj)
{
	return name_hash(((const struct ap_device *)obj)->name);
}

static bool device_name_match(const void *obj, const void *key)
{
	return !strcmp(((const struct ap_device *)obj)->name, key);
}

struct sid_key {
	const struct ap_iommu *iommu;
	uint32_t sid;
};

static uint64_t sid_hash(const struct ap_iommu *iommu, uint32_t sid)
{
	return ap__hash_mix((uint64_t)(uintptr_t)iommu * 0x9e3779b97f4a7c15ull ^ sid);
}

static uint64_t device_sid_hash(const void *obj)
{
	const struct ap_device *d = obj;

	return sid_hash(d->iommu, d->sid);
}

static bool device_sid_match(const void *obj, const void *key)
{
	const struct ap_device *d = obj;
	const struct sid_key *k = key;

	return d->iommu == k->iommu && d->sid == k->sid;
}

static uint64_t group_id_hash(const void *obj)
{
	return ap__hash_mix((uint64_t)((const struct ap_group *)obj)->id);
}

static bool group_id_match(const void *obj, const void *key)
{
	return ((const struct ap_group *)obj)->id == *(const int *)key;
}

static struct ap_group *group_find(struct ap_ctx *ctx, int id)
{
	return ap__index_find(&ctx->group_ids, ap__hash_mix((uint64_t)id), group_id_match, &id);
}

/* Group numbers are never given back, so the lowest free one only grows:
 * all the adds of a context together walk past each number once. */
static int lowest_free_group(struct ap_ctx *ctx)
{
	while (group_find(ctx, ctx->group_hint))
		ctx->group_hint++;
	return ctx->group_hint;
}

struct ap_device *ap__device_by_sid(struct ap_ctx *ctx, const struct ap_iommu *iommu,
				    uint32_t sid)
{
	struct sid_key k = { iommu, sid };

	return ap__index_find(&ctx->device_sids, sid_hash(iommu, sid), device_sid_match, &k);
}

/* Room in every index for one more device and group, before anything
 * changes: all of it, or (-ENOMEM) none. */
static int index_reserve(struct ap_ctx *ctx)
{
	struct ap_index *ix[3] = { &ctx->device_names, &ctx->device_sids, &ctx->group_ids };
	struct ap_index grown[3];
	int i;

	for (i = 0; i < 3; i++) {
		if (ap__index_prepare(ctx, ix[i], &grown[i])) {
			while (i--)
				ap__index_free(ctx, &grown[i]);
			return ap__err(ctx, -ENOMEM, "out of memory");
		}
	}
	for (i = 0; i < 3; i++)
		ap__index_commit(ctx, ix[i], &grown[i]);
	return 0;
}

/* Where the stream lands: the kind decides, or (a kind that matches
 * exactly) each stream ID is one device's. */
static int stream_match(struct ap_ctx *ctx, struct ap_iommu *iommu,
			const struct ap_device_config *dc, struct ap_stream_match *m)
{
	struct ap_device *other;

	memset(m, 0, sizeof(*m));
	m->slot = -1;
	if (iommu->model->stream_match)
		return iommu->model->stream_match(ctx, iommu, dc->sid, dc->sid_mask, m);
	if (dc->sid_mask)
		return ap__err(ctx, -EINVAL, "%s matches stream IDs exactly: no stream mask",
			       iommu->name);
	other = ap__device_by_sid(ctx, iommu, dc->sid);
	if (other)
		return ap__err(ctx, -EEXIST, "stream 0x%x on %s is already device '%s'", dc->sid,
			       iommu->name, other->name);
	return 0;
}

/* The group a new device joins: the one it names, the one its stream is
 * shared with, or (NULL) a fresh one. */
static int group_for(struct ap_ctx *ctx, const char *name, struct ap_iommu *iommu,
		     const struct ap_device_config *dc, const struct ap_stream_match *m,
		     struct ap_group **out)
{
	struct ap_group *g = NULL;

	if (dc->group < AP_GROUP_OWN)
		return ap__err(ctx, -EINVAL, "group %d: groups are numbered from 0", dc->group);
	if (dc->group >= 0)
		g = group_find(ctx, dc->group);
	if (m->shared && dc->group >= 0 && g != m->group)
		return ap__err(ctx, -EINVAL, "'%s' shares a stream match entry of %s with group %d, "
			       "so it cannot be in group %d", name, iommu->name, m->group->id,
			       dc->group);
	if (m->shared)
		g = m->group;
	if (g && g->iommu != iommu)
		return ap__err(ctx, -EINVAL, "group %d sits behind %s, not %s", g->id,
			       g->iommu->name, iommu->name);
	if (g && g->domain)
		return ap__err(ctx, -EBUSY, "group %d is attached to '%s': detach it first",
			       g->id, g->domain->name);
	*out = g;
	return 0;
}

int ap_device_add(struct ap_ctx *ctx, const char *name, struct ap_iommu *iommu,
		  const struct ap_device_config *dc, struct ap_device **out)
{
	struct ap_group *g = NULL, *fresh = NULL;
	struct ap_stream_match m;
	struct ap_device *dev;
	int err;

	err = ap__check_name(ctx, "device", name);
	if (err)
		return err;
	if (!iommu || iommu->ctx != ctx || !dc)
		return ap__err(ctx, -EINVAL, "device '%s' needs an IOMMU of this context", name);
	if (ap_device_find(ctx, name))
		return ap__err(ctx, -EEXIST, "a device called '%s' exists", name);
	err = stream_match(ctx, iommu, dc, &m);
	if (!err)
		err = group_for(ctx, name, iommu, dc, &m, &g);
	if (err)
		return err;
	dev = ap__zalloc(ctx, sizeof(*dev));
	fresh = dev && !g ? ap__zalloc(ctx, sizeof(*fresh)) : NULL;
	if (!dev || (!g && !fresh) || index_reserve(ctx)) {
		ap__free(ctx, fresh);
		ap__free(ctx, dev);
		return ap__err(ctx, -ENOMEM, "out of memory");
	}
	if (!g) {
		fresh->id = dc->group >= 0 ? dc->group : lowest_free_group(ctx);
		fresh->iommu = iommu;
		*(ctx->groups_tail ? ctx->groups_tail : &ctx->groups) = fresh;
		ctx->groups_tail = &fresh->next;
		ap__index_insert(&ctx->group_ids, fresh, group_id_hash(fresh));
		g = fresh;
	}
	dev->ctx = ctx;
	strcpy(dev->name, name);
	dev->iommu = iommu;
	dev->sid = dc->sid;
	dev->sid_mask = dc->sid_mask;
	dev->group = g;
	g->ndev++;
	if (iommu->model->stream_bind)
		iommu->model->stream_bind(iommu, &m, dc->sid, dc->sid_mask, g);
	*(ctx->devices_tail ? ctx->devices_tail : &ctx->devices) = dev;
	ctx->devices_tail = &dev->next;
	ap__index_insert(&ctx->device_names, dev, device_name_hash(dev));
	ap__index_insert(&ctx->device_sids, dev, device_sid_hash(dev));
	if (out)
		*out = dev;
	return 0;
}

int ap_device_new(struct ap_ctx *ctx, const char *name, struct ap_iommu *iommu, uint32_t sid,
		  int group, struct ap_device **out)
{
	struct ap_device_config dc = { .sid = sid, .sid_mask = 0, .group = group };

	return ap_device_add(ctx, name, iommu, &dc, out);
}

struct ap_device *ap_device_find(struct ap_ctx *ctx, const char *name)
{
	if (!name)
		return NULL;
	return ap__index_find(&ctx->device_names, name_hash(name), device_name_match, name);
}

struct ap_device *ap_device_next(struct ap_ctx *ctx, struct ap_device *prev)
{
	return prev ? prev->next : ctx->devices;
}

const char *ap_device_name(const struct ap_device *dev)
{
	return dev->name;
}

uint32_t ap_device_sid(const struct ap_device *dev)
{
	return dev->sid;
}

uint32_t ap_device_sid_mask(const struct ap_device *dev)
{
	return dev->sid_mask;
}

struct ap_iommu *ap_device_iommu(const struct ap_device *dev)
{
	return dev->iommu;
}

int ap_device_group_id(const struct ap_device *dev)
{
	return dev->group->id;
}

struct ap_domain *ap_device_domain(const struct ap_device *dev)
{
	return dev->group->domain;
}

enum ap_bypass ap_device_bypasses(const struct ap_device *dev)
{
	const struct ap_domain *dom = dev->group->domain;

	if (!dom)
		return ap_iommu_unmatched(dev->iommu) == AP_UNMATCHED_BYPASS ? AP_BYPASS_UNMATCHED
									      : AP_BYPASS_NONE;
	if (dom->type == AP_DOMAIN_IDENTITY)
		return AP_BYPASS_IDENTITY;
	if (dom->type == AP_DOMAIN_PAGING && !dev->iommu->cfg.force_aperture)
		return AP_BYPASS_OPEN_APERTURE;
	return AP_BYPASS_NONE;
}

/* ------------------------------------------------------------ reserved */

static bool resv_before(const struct ap_resv *a, const struct ap_resv *b)
{
	return a->start < b->start || (a->start == b->start && a->type < b->type);
}

int ap_device_add_resv(struct ap_device *dev, uint64_t start, uint64_t size,
		       enum ap_resv_type type)
{
	struct ap_resv_node *n, **pp;

	if (!dev)
		return -EINVAL;
	if (!size || start + (size - 1) < start || (unsigned)type > AP_RESV_SW_MSI)
		return ap__err(dev->ctx, -EINVAL, "a reserved region needs a size, no wrap and "
			       "a known type");
	n = ap__zalloc(dev->ctx, sizeof(*n));
	if (!n)
		return ap__err(dev->ctx, -ENOMEM, "out of memory");
	n->r = (struct ap_resv){ start, start + (size - 1), type };
	for (pp = &dev->resv; *pp && !resv_before(&n->r, &(*pp)->r); pp = &(*pp)->next)
		;
	n->next = *pp;
	*pp = n;
	return 0;
}

#define INSTANCE_RESV_MAX 4 /* windows a kind reserves for every device */

int ap_device_resv(const struct ap_device *dev, size_t index, struct ap_resv *out)
{
	const struct ap_resv_node *n = dev->resv;
	struct ap_resv inst[INSTANCE_RESV_MAX];
	size_t ninst = 0, i = 0;

	if (dev->iommu->model->resv)
		ninst = dev->iommu->model->resv(dev->iommu, inst, INSTANCE_RESV_MAX);
	if (ninst > INSTANCE_RESV_MAX)
		ninst = INSTANCE_RESV_MAX;
	for (;;) { /* merge the device's sorted list with the instance's */
		const struct ap_resv *next;

		if (i < ninst && (!n || !resv_before(&n->r, &inst[i]))) {
			next = &inst[i++];
		} else if (n) {
			next = &n->r;
			n = n->next;
		} else {
			return -ENOENT;
		}
		if (!index--) {
			*out = *next;
			return 0;
		}
	}
}

void ap__devices_free(struct ap_ctx *ctx)
{
	while (ctx->devices) {
		struct ap_device *d = ctx->devices;

		ctx->devices = d->next;
		while (d->resv) {
			struct ap_resv_node *n = d->resv;

			d->resv = n->next;
			ap__free(ctx, n);
		}
		ap__free(ctx, d);
	}
	while (ctx->groups) {
		struct ap_group *g = ctx->groups;

		ctx->groups = g->next;
		ap__free(ctx, g);
	}
	ctx->devices_tail = NULL;
	ctx->groups_tail = NULL;
	ap__index_free(ctx, &ctx->device_names);
	ap__index_free(ctx, &ctx->device_sids);
	ap__index_free(ctx, &ctx->group_ids);
}
