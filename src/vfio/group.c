/* SPDX-License-Identifier: MIT */
/*
 * Group handles (/dev/vfio/N): GET_STATUS, SET_CONTAINER, UNSET_CONTAINER,
 * and what joining a container asks of a group: DMA ownership (Linux's
 * iommu_group_claim_dma_owner, which parks the group on a blocking domain)
 * and, our own rule, an IOMMU that cannot be bypassed.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>

#include "vfio_internal.h"

#define GROUP_STATUS_MINSZ (offsetof(struct vfio_group_status, flags) + sizeof(uint32_t))

/* The first device of group `id` in the context, or NULL if it has none. */
static struct ap_device *group_device(struct ap_ctx *ctx, int id)
{
	struct ap_device *d;

	for (d = ap_device_next(ctx, NULL); d; d = ap_device_next(ctx, d))
		if (ap_device_group_id(d) == id)
			return d;
	return NULL;
}

struct ap_device *ap__vgroup_device(const struct vgroup *g)
{
	return group_device(g->vs->ctx, g->id);
}

/* Under ctl_lock. */
static bool group_is_open(const struct vstate *vs, int id)
{
	for (const struct vgroup *g = vs->groups; g; g = g->next)
		if (g->id == id)
			return true;
	return false;
}

/*
 * Linux registers no VFIO device whose IOMMU lacks IOMMU_CAP_CACHE_COHERENCY
 * (VFIO always maps with IOMMU_CACHE), so such a group has no /dev/vfio/N.
 * The kind answers (arm-smmu-v3 from IDR0.COHACC, arm-smmu from ID0.CTTW,
 * intel-vtd always).
 */
static int refuse_incoherent(struct vstate *vs, const struct ap_device *dev)
{
	const struct ap_iommu *iommu = ap_device_iommu(dev);

	if (ap_iommu_capable(iommu, AP_CAP_CACHE_COHERENCY))
		return 0;
	return ap__vfio_fail(vs, -ENOENT,
			     "/dev/vfio/%d: no VFIO group: %s has no coherent table walks "
			     "(IOMMU_CAP_CACHE_COHERENCY), so Linux registers none of its devices",
			     ap_device_group_id(dev), ap_iommu_name(iommu));
}

static int group_open_locked(struct vstate *vs, int id)
{
	struct ap_device *dev = group_device(vs->ctx, id);
	struct vgroup *g;
	int fd, err;

	if (!dev)
		return ap__vfio_fail(vs, -ENOENT, "/dev/vfio/%d: no IOMMU group %d", id, id);
	if (group_is_open(vs, id))
		return ap__vfio_fail(vs, -EBUSY, "/dev/vfio/%d: the group is already open", id);
	err = refuse_incoherent(vs, dev);
	if (err)
		return err;
	g = ap_mem_alloc(vs->ctx, sizeof(*g));
	if (!g)
		return ap__vfio_fail(vs, -ENOMEM, "out of memory for a VFIO group");
	g->vs = vs;
	g->id = id;
	fd = ap__vfio_handle_new(vs, VH_GROUP, g);
	if (fd < 0) {
		ap_mem_free(vs->ctx, g);
		return fd;
	}
	g->next = vs->groups;
	vs->groups = g;
	return fd;
}

int ap__vgroup_open(struct vstate *vs, int id)
{
	int fd;

	ap__vlock_lock(&vs->ctl_lock);
	fd = group_open_locked(vs, id);
	ap__vlock_unlock(&vs->ctl_lock);
	return fd;
}

/* The handle's last reference went: out of its container, and gone. */
void ap__vgroup_release_handle(struct vgroup *g)
{
	struct vstate *vs = g->vs;
	struct vgroup **pp;

	ap__vlock_lock(&vs->ctl_lock);
	if (g->c)
		ap__vcontainer_detach_group(g);
	for (pp = &vs->groups; *pp != g; pp = &(*pp)->next)
		;
	*pp = g->next;
	ap__vlock_unlock(&vs->ctl_lock);
	ap_mem_free(vs->ctx, g);
}

/* ------------------------------------------------------------ ownership */

/*
 * Take the group's DMA away from "kernel drivers": refused (EPERM, as
 * iommu_group_claim_dma_owner) when a domain the layer did not make owns
 * it; otherwise the group is parked on a blocking domain of its own, so
 * that its DMA faults until type1 gives it a paging domain.
 */
int ap__vgroup_claim(struct vgroup *g)
{
	struct vstate *vs = g->vs;
	struct ap_device *dev = ap__vgroup_device(g);
	struct ap_domain *owner = ap_device_domain(dev);
	char base[48];
	int err;

	if (owner)
		return ap__vfio_fail(vs, -EPERM,
				     "group %d is attached to domain '%s': a driver owns its DMA, "
				     "the group is not viable", g->id, ap_domain_name(owner));
	snprintf(base, sizeof(base), "vfio-blk-g%d", g->id);
	err = ap__vfio_domain_new(vs, base, ap_device_iommu(dev), AP_DOMAIN_BLOCKED, &g->blocked);
	if (err)
		return err;
	err = ap_attach(g->blocked, dev);
	if (err) {
		ap_domain_free(g->blocked);
		g->blocked = NULL;
	}
	return err;
}

/* Give the group's DMA back: off every domain, as it was before the claim. */
void ap__vgroup_release(struct vgroup *g)
{
	struct ap_device *dev = ap__vgroup_device(g);

	if (ap_device_domain(dev))
		ap_detach(dev);
	ap_domain_free(g->blocked);
	g->blocked = NULL;
}

/*
 * Back onto the blocking domain after type1 let go of the group.  Should
 * that fail (no memory for the attachment), the group is left on no domain:
 * its instance aborts unmatched streams (ap__vgroup_refuse_bypass() let it in),
 * so its DMA is refused all the same.
 */
void ap__vgroup_reblock(struct vgroup *g)
{
	struct ap_device *dev = ap__vgroup_device(g);

	if (ap_replace(g->blocked, dev))
		ap_detach(dev);
}

/*
 * Our rule, stricter than Linux's type1: no group whose DMA can bypass
 * translation.  Linux reads neither force_aperture nor the unmatched-stream
 * policy; a DIRECT region it refuses too, but with EINVAL when claiming
 * ownership.
 */
int ap__vgroup_refuse_bypass(const struct vgroup *g)
{
	struct ap_ctx *ctx = g->vs->ctx;
	const struct ap_device *first = ap__vgroup_device(g);
	const struct ap_iommu *iommu = ap_device_iommu(first);
	const struct ap_iommu_config *cfg = ap_iommu_get_config(iommu);
	struct ap_device *d;
	struct ap_resv r;

	if (ap_iommu_unmatched(iommu) == AP_UNMATCHED_BYPASS)
		return ap__vfio_fail(g->vs, -EPERM,
				     "group %d: %s passes unmatched streams (unmatched=bypass), so DMA "
				     "can bypass it; aperture's type1 refuses such IOMMUs", g->id,
				     ap_iommu_name(iommu));
	if (!cfg->force_aperture)
		return ap__vfio_fail(g->vs, -EPERM,
				     "group %d: %s leaves its aperture open (aperture=open), so DMA "
				     "outside it bypasses translation; aperture's type1 refuses such "
				     "IOMMUs", g->id, ap_iommu_name(iommu));
	for (d = ap_device_next(ctx, NULL); d; d = ap_device_next(ctx, d)) {
		if (ap_device_group_id(d) != g->id)
			continue;
		for (size_t i = 0; !ap_device_resv(d, i, &r); i++)
			if (r.type == AP_RESV_DIRECT)
				return ap__vfio_fail(g->vs, -EPERM,
						     "group %d: device '%s' needs the direct mapping "
						     "0x%llx-0x%llx (a DIRECT reserved region), an identity "
						     "window; aperture's type1 refuses such groups", g->id,
						     ap_device_name(d), (unsigned long long)r.start,
						     (unsigned long long)r.end);
	}
	return 0;
}

/* ------------------------------------------------------------ ioctls */

static int get_status(struct vgroup *g, struct vfio_group_status *status)
{
	struct ap_device *dev = ap__vgroup_device(g);

	if (!status)
		return ap__vfio_fail(g->vs, -EFAULT, "VFIO_GROUP_GET_STATUS needs a struct");
	if (status->argsz < GROUP_STATUS_MINSZ)
		return ap__vfio_fail(g->vs, -EINVAL, "VFIO_GROUP_GET_STATUS: argsz %u < %zu",
				     status->argsz, (size_t)GROUP_STATUS_MINSZ);
	status->flags = 0;
	if (g->c)
		status->flags = VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE;
	else if (!ap_device_domain(dev))
		status->flags = VFIO_GROUP_FLAGS_VIABLE;
	return 0;
}

/* Under ctl_lock; h is the handle *fdp named when the call began. */
static int set_container(struct vgroup *g, const int *fdp, const struct vhandle *h)
{
	if (!fdp)
		return ap__vfio_fail(g->vs, -EFAULT, "VFIO_GROUP_SET_CONTAINER needs a pointer to a "
				     "container handle");
	if (!h)
		return ap__vfio_fail(g->vs, -EBADF, "VFIO handle %d is not open", *fdp);
	if (g->c)
		return ap__vfio_fail(g->vs, -EINVAL, "group %d is already in a container", g->id);
	if (h->kind != VH_CONTAINER)
		return ap__vfio_fail(g->vs, -EBADFD, "handle %d is not a container", *fdp);
	return ap__vcontainer_attach_group(h->obj, g);
}

static int unset_container(struct vgroup *g)
{
	if (!g->c)
		return ap__vfio_fail(g->vs, -EINVAL, "group %d is in no container", g->id);
	if (g->ndevices)
		return ap__vfio_fail(g->vs, -EBUSY, "group %d has %u device handle%s open", g->id,
				     g->ndevices, g->ndevices == 1 ? "" : "s");
	ap__vcontainer_detach_group(g);
	return 0;
}

static int group_ioctl_locked(struct vgroup *g, unsigned long request, void *arg,
			      const struct vhandle *target)
{
	switch (request) {
	case VFIO_GROUP_GET_STATUS:
		return get_status(g, arg);
	case VFIO_GROUP_SET_CONTAINER:
		return set_container(g, arg, target);
	case VFIO_GROUP_UNSET_CONTAINER:
		return unset_container(g);
	default:
		return ap__vfio_fail(g->vs, -ENOTTY, "ioctl 0x%lx is not a VFIO group request",
				     request);
	}
}

/*
 * Group requests are the control path: under ctl_lock.  The container a
 * SET_CONTAINER names is looked up (and held) before the lock is taken and
 * let go after it is dropped: the last reference to a handle releases its
 * object, which takes ctl_lock.
 */
int ap__vgroup_ioctl(struct vgroup *g, unsigned long request, void *arg)
{
	struct vstate *vs = g->vs;
	struct vhandle *target = NULL;
	int rc;

	if (request == VFIO_GROUP_SET_CONTAINER && arg)
		target = ap__vfio_handle_get(vs, *(const int *)arg);
	ap__vlock_lock(&vs->ctl_lock);
	rc = group_ioctl_locked(g, request, arg, target);
	ap__vlock_unlock(&vs->ctl_lock);
	if (target)
		ap__vfio_handle_put(vs, target);
	return rc;
}
