/* SPDX-License-Identifier: MIT */
/*
 * Devices (requesters with a stream ID behind one instance) and the groups
 * they belong to.  A group is the unit of isolation: attach and detach move
 * a whole group.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static struct ap_group *group_find(struct ap_ctx *ctx, int id)
{
	struct ap_group *g;

	for (g = ctx->groups; g; g = g->next)
		if (g->id == id)
			return g;
	return NULL;
}

static int lowest_free_group(struct ap_ctx *ctx)
{
	int id = 0;

	while (group_find(ctx, id))
		id++;
	return id;
}

static struct ap_device *device_by_sid(struct ap_ctx *ctx, const struct ap_iommu *iommu,
				       uint32_t sid)
{
	struct ap_device *d;

	for (d = ctx->devices; d; d = d->next)
		if (d->iommu == iommu && d->sid == sid)
			return d;
	return NULL;
}

int ap_device_new(struct ap_ctx *ctx, const char *name, struct ap_iommu *iommu, uint32_t sid,
		  int group, struct ap_device **out)
{
	struct ap_group *g = NULL, *fresh = NULL;
	struct ap_device *dev, *other;
	int err;

	err = ap__check_name(ctx, "device", name);
	if (err)
		return err;
	if (!iommu || iommu->ctx != ctx)
		return ap__err(ctx, -EINVAL, "device '%s' needs an IOMMU of this context", name);
	if (ap_device_find(ctx, name))
		return ap__err(ctx, -EEXIST, "a device called '%s' exists", name);
	other = device_by_sid(ctx, iommu, sid);
	if (other)
		return ap__err(ctx, -EEXIST, "stream 0x%x on %s is already device '%s'", sid,
			       iommu->name, other->name);
	if (group < AP_GROUP_OWN)
		return ap__err(ctx, -EINVAL, "group %d: groups are numbered from 0", group);
	if (group >= 0)
		g = group_find(ctx, group);
	if (g && g->iommu != iommu)
		return ap__err(ctx, -EINVAL, "group %d sits behind %s, not %s", group,
			       g->iommu->name, iommu->name);
	if (g && g->domain)
		return ap__err(ctx, -EBUSY, "group %d is attached to '%s': detach it first",
			       group, g->domain->name);
	dev = ap__zalloc(ctx, sizeof(*dev));
	if (!dev)
		return ap__err(ctx, -ENOMEM, "out of memory");
	if (!g) {
		fresh = ap__zalloc(ctx, sizeof(*fresh));
		if (!fresh) {
			ap__free(ctx, dev);
			return ap__err(ctx, -ENOMEM, "out of memory");
		}
		fresh->id = group >= 0 ? group : lowest_free_group(ctx);
		fresh->iommu = iommu;
		AP_APPEND(ctx->groups, fresh);
		g = fresh;
	}
	dev->ctx = ctx;
	strcpy(dev->name, name);
	dev->iommu = iommu;
	dev->sid = sid;
	dev->group = g;
	g->ndev++;
	AP_APPEND(ctx->devices, dev);
	if (out)
		*out = dev;
	return 0;
}

struct ap_device *ap_device_find(struct ap_ctx *ctx, const char *name)
{
	struct ap_device *d;

	for (d = ctx->devices; d && name; d = d->next)
		if (!strcmp(d->name, name))
			return d;
	return NULL;
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
		return dev->iommu->cfg.unmatched == AP_UNMATCHED_BYPASS ? AP_BYPASS_UNMATCHED
									: AP_BYPASS_NONE;
	if (dom->type == AP_DOMAIN_IDENTITY)
		return AP_BYPASS_IDENTITY;
	if (dom->type == AP_DOMAIN_PAGING && !dev->iommu->cfg.force_aperture)
		return AP_BYPASS_OPEN_APERTURE;
	return AP_BYPASS_NONE;
}

/* ------------------------------------------------------------ reserved */

static const char *const resv_names[] = {
	[AP_RESV_DIRECT] = "direct",
	[AP_RESV_DIRECT_RELAXABLE] = "direct-relaxable",
	[AP_RESV_RESERVED] = "reserved",
	[AP_RESV_MSI] = "msi",
	[AP_RESV_SW_MSI] = "sw-msi",
};

#define RESV_TYPES (sizeof(resv_names) / sizeof(resv_names[0]))

const char *ap_resv_type_name(enum ap_resv_type type)
{
	return (unsigned)type < RESV_TYPES ? resv_names[type] : "?";
}

int ap_resv_type_from_name(const char *name)
{
	unsigned t;

	for (t = 0; name && t < RESV_TYPES; t++)
		if (!strcmp(resv_names[t], name))
			return (int)t;
	return -1;
}

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
	if (!size || start + (size - 1) < start || (unsigned)type >= RESV_TYPES)
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

/* What an instance reserves for each of its devices, as Linux's drivers. */
static bool instance_resv(const struct ap_iommu *iommu, struct ap_resv *out)
{
	if (iommu->cfg.kind == AP_IOMMU_ARM_SMMU_V3)
		*out = (struct ap_resv){ 0x8000000, 0x80fffff, AP_RESV_SW_MSI };
	else if (iommu->cfg.kind == AP_IOMMU_INTEL_VTD)
		*out = (struct ap_resv){ 0xfee00000, 0xfeefffff, AP_RESV_MSI };
	else
		return false;
	return true;
}

int ap_device_resv(const struct ap_device *dev, size_t index, struct ap_resv *out)
{
	const struct ap_resv_node *n = dev->resv;
	struct ap_resv inst = { 0, 0, AP_RESV_RESERVED };
	bool pending = instance_resv(dev->iommu, &inst);

	for (;;) {
		const struct ap_resv *next;

		if (pending && (!n || !resv_before(&n->r, &inst))) {
			next = &inst;
			pending = false;
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
}
