/* SPDX-License-Identifier: MIT */
/*
 * Container handles (/dev/vfio/vfio), as Linux's drivers/vfio/container.c:
 * the requests every container answers (API version, extensions,
 * SET_IOMMU), groups joining and leaving, and the container's lifetime: it
 * lives while its handle is open or a group holds it, and its IOMMU backend
 * lives from SET_IOMMU until the last group leaves.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "vfio_internal.h"

static void container_destroy(struct vcontainer *c)
{
	ap__vlock_destroy(&c->lock);
	pthread_mutex_destroy(&c->dirty_lock);
	ap_mem_free(c->vs->ctx, c->groups);
	ap_mem_free(c->vs->ctx, c);
}

int ap__vcontainer_open(struct vstate *vs)
{
	struct vcontainer *c = ap_mem_alloc(vs->ctx, sizeof(*c));
	struct vcontainer **pp;
	int fd;

	if (!c)
		return ap__vfio_fail(vs, -ENOMEM, "out of memory for a VFIO container");
	c->vs = vs;
	c->fd = -1;
	ap__vlock_init(&c->lock);
	pthread_mutex_init(&c->dirty_lock, NULL);
	ap__vlock_lock(&vs->ctl_lock);
	c->dma_entry_limit = vs->dma_entry_limit;
	c->memlock_limit = vs->memlock_limit;
	c->memlock_set = vs->memlock_set;
	fd = ap__vfio_handle_new(vs, VH_CONTAINER, c);
	if (fd < 0) {
		ap__vlock_unlock(&vs->ctl_lock);
		container_destroy(c);
		return fd;
	}
	c->fd = fd;
	c->serial = vs->next_serial++;
	for (pp = &vs->containers; *pp; pp = &(*pp)->next)
		;
	*pp = c;
	ap__vlock_unlock(&vs->ctl_lock);
	return fd;
}

/* Under ctl_lock, once neither a handle nor a group holds it. */
void ap__vcontainer_free(struct vcontainer *c)
{
	struct vcontainer **pp;

	for (pp = &c->vs->containers; *pp != c; pp = &(*pp)->next)
		;
	*pp = c->next;
	c->vs->view_c = NULL; /* the indexes behind it moved */
	container_destroy(c);
}

/* The handle's last reference went: the container lives on while a group
 * holds it. */
void ap__vcontainer_release_handle(struct vcontainer *c)
{
	struct vstate *vs = c->vs;

	ap__vlock_lock(&vs->ctl_lock);
	c->fd = -1;
	if (!c->ngroups)
		ap__vcontainer_free(c);
	ap__vlock_unlock(&vs->ctl_lock);
}

/* The smallest page a mapping must be aligned to. */
uint64_t ap__vcontainer_min_pgsize(const struct vcontainer *c)
{
	return c->t1.pgsize_bitmap & -c->t1.pgsize_bitmap;
}

/* ------------------------------------------------------------ groups */

/*
 * SET_CONTAINER (under ctl_lock): claim the group's DMA, attach it to the
 * backend if there is one, and keep it (newest first, as Linux's
 * group_list).  The longer list is allocated first and installed last, so
 * that a refusal leaves the container exactly as it was, its memory
 * included.
 */
static int attach_group_locked(struct vcontainer *c, struct vgroup *g)
{
	struct ap_ctx *ctx = c->vs->ctx;
	struct vgroup **list = ap_mem_alloc(ctx, (c->ngroups + 1) * sizeof(*list));
	int err;

	if (!list)
		return ap__vfio_fail(c->vs, -ENOMEM, "out of memory for the container's groups");
	err = ap__vgroup_claim(g);
	if (!err && c->type) {
		err = ap__type1_attach_group(c, g);
		if (err)
			ap__vgroup_release(g);
	}
	if (err) {
		ap_mem_free(ctx, list);
		return err;
	}
	list[0] = g;
	if (c->ngroups)
		memcpy(list + 1, c->groups, c->ngroups * sizeof(*list));
	ap_mem_free(ctx, c->groups);
	c->groups = list;
	c->ngroups++;
	g->c = c;
	return 0;
}

int ap__vcontainer_attach_group(struct vcontainer *c, struct vgroup *g)
{
	int err;

	ap__vlock_lock(&c->lock);
	err = attach_group_locked(c, g);
	ap__vlock_unlock(&c->lock);
	return err;
}

/* UNSET_CONTAINER or the group's close (under ctl_lock): the last group
 * out takes the backend with it, and a closed container with no group
 * goes. */
void ap__vcontainer_detach_group(struct vgroup *g)
{
	struct vcontainer *c = g->c;
	bool gone;
	size_t i;

	ap__vlock_lock(&c->lock);
	if (c->type)
		ap__type1_detach_group(c, g, true);
	ap__vgroup_release(g);
	for (i = 0; c->groups[i] != g; i++)
		;
	memmove(c->groups + i, c->groups + i + 1, (c->ngroups - i - 1) * sizeof(*c->groups));
	c->ngroups--;
	g->c = NULL;
	if (!c->ngroups && c->type) {
		ap__type1_release(c);
		c->type = 0;
	}
	gone = !c->ngroups && c->fd < 0;
	ap__vlock_unlock(&c->lock);
	if (gone)
		ap__vcontainer_free(c);
}

/* ------------------------------------------------------------ SET_IOMMU */

/*
 * Attach every group, newest first; a failure detaches the ones attached
 * and releases the backend, leaving the container as it was.
 */
static int set_iommu(struct vcontainer *c, unsigned long type)
{
	size_t i;
	int err;

	if (!c->ngroups)
		return ap__vfio_fail(c->vs, -EINVAL, "VFIO_SET_IOMMU: the container has no group");
	if (c->type)
		return ap__vfio_fail(c->vs, -EINVAL, "VFIO_SET_IOMMU: the IOMMU is already set");
	if (ap__type1_check_extension(NULL, type) <= 0)
		return ap__vfio_fail(c->vs, -ENODEV, "VFIO_SET_IOMMU: no IOMMU backend offers "
				     "type %lu (type1: %d or %d)", type, VFIO_TYPE1_IOMMU,
				     VFIO_TYPE1v2_IOMMU);
	err = ap__type1_open(c, type);
	if (err)
		return err;
	for (i = 0; i < c->ngroups; i++) {
		err = ap__type1_attach_group(c, c->groups[i]);
		if (err)
			break;
	}
	if (err) {
		while (i--)
			ap__type1_detach_group(c, c->groups[i], false);
		ap__type1_release(c);
		return err;
	}
	c->type = type;
	return 0;
}

/* Requests for the backend, under the container's lock. */
static int backend_ioctl(struct vcontainer *c, unsigned long request, void *arg)
{
	/* without a backend Linux answers EINVAL */
	if (!c->type)
		return ap__vfio_fail(c->vs, -EINVAL, "ioctl 0x%lx: the container has no IOMMU yet "
				     "(VFIO_SET_IOMMU first)", request);
	switch (request) {
	case VFIO_IOMMU_GET_INFO:
		return ap__info_ioctl(c, arg);
	case VFIO_IOMMU_MAP_DMA:
		return ap__dma_map_ioctl(c, arg);
	case VFIO_IOMMU_UNMAP_DMA:
		return ap__dma_unmap_ioctl(c, arg);
	case VFIO_IOMMU_DIRTY_PAGES:
		return ap__dirty_ioctl(c, arg);
	default:
		return ap__vfio_fail(c->vs, -ENOTTY, "ioctl 0x%lx is not a type1 request", request);
	}
}

int ap__vcontainer_ioctl(struct vcontainer *c, unsigned long request, void *arg)
{
	int rc;

	switch (request) {
	case VFIO_GET_API_VERSION:
		return VFIO_API_VERSION;
	case VFIO_SET_IOMMU: /* attaches groups: the control path */
		ap__vlock_lock(&c->vs->ctl_lock);
		ap__vlock_lock(&c->lock);
		rc = set_iommu(c, (unsigned long)(uintptr_t)arg);
		ap__vlock_unlock(&c->lock);
		ap__vlock_unlock(&c->vs->ctl_lock);
		return rc;
	case VFIO_CHECK_EXTENSION:
		ap__vlock_lock(&c->lock);
		rc = ap__type1_check_extension(c, (unsigned long)(uintptr_t)arg);
		ap__vlock_unlock(&c->lock);
		return rc;
	default:
		ap__vlock_lock(&c->lock);
		rc = backend_ioctl(c, request, arg);
		ap__vlock_unlock(&c->lock);
		return rc;
	}
}
