/* SPDX-License-Identifier: MIT */
/*
 * The container's usable IOVA: the intersection of its domains' apertures
 * minus the non-relaxable reserved regions of its groups, as a sorted list
 * of ranges with inclusive ends (type1's iova_list, reported as the
 * IOVA_RANGE capability).  An empty list means "no restriction" (type1
 * before its first domain).  Every change is made on a copy, so that a
 * refused attach leaves the container's list as it was.
 */
#include <errno.h>
#include <string.h>

#include "vfio_internal.h"

/* Room for `want` ranges; on failure the list is as it was. */
int ap__iova_list_reserve(struct vstate *vs, struct iova_list *l, size_t want)
{
	struct vfio_iova_range *grown;

	if (want <= l->cap)
		return 0;
	grown = ap_mem_realloc(vs->ctx, l->r, want * sizeof(*grown));
	if (!grown)
		return ap__vfio_fail(vs, -ENOMEM, "out of memory for the IOVA list");
	l->r = grown;
	l->cap = want;
	return 0;
}

int ap__iova_list_copy(struct vstate *vs, const struct type1 *t, struct iova_list *out)
{
	int err;

	*out = (struct iova_list){ NULL, 0, 0 };
	if (!t->niovas)
		return 0;
	err = ap__iova_list_reserve(vs, out, t->niovas);
	if (err)
		return err;
	memcpy(out->r, t->iovas, t->niovas * sizeof(*out->r));
	out->n = t->niovas;
	return 0;
}

/* Narrow the list to [start, end]; an empty list becomes that range. */
int ap__iova_list_clip(struct vstate *vs, struct iova_list *l, uint64_t start, uint64_t end)
{
	size_t i, kept = 0;
	int err;

	if (!l->n) {
		err = ap__iova_list_reserve(vs, l, 1);
		if (err)
			return err;
		l->r[0] = (struct vfio_iova_range){ start, end };
		l->n = 1;
		return 0;
	}
	for (i = 0; i < l->n; i++) {
		struct vfio_iova_range x = l->r[i];

		if (x.end < start || x.start > end)
			continue;
		if (x.start < start)
			x.start = start;
		if (x.end > end)
			x.end = end;
		l->r[kept++] = x;
	}
	l->n = kept;
	return 0;
}

/* Cut [start, end] out of the list, splitting a range it falls inside (the
 * one case that needs room for one more range). */
static int cut(struct vstate *vs, struct iova_list *l, uint64_t start, uint64_t end)
{
	size_t i = 0;
	int err;

	while (i < l->n) {
		struct vfio_iova_range x = l->r[i];

		if (end < x.start || start > x.end) {
			i++;
			continue;
		}
		if (start > x.start && end < x.end) {
			err = ap__iova_list_reserve(vs, l, l->n < l->cap ? l->cap : 2 * l->n);
			if (err)
				return err;
			memmove(l->r + i + 2, l->r + i + 1, (l->n - i - 1) * sizeof(*l->r));
			l->r[i].end = start - 1;
			l->r[i + 1] = (struct vfio_iova_range){ end + 1, x.end };
			l->n++;
			i += 2;
		} else if (start > x.start) {
			l->r[i++].end = start - 1;
		} else if (end < x.end) {
			l->r[i++].start = end + 1;
		} else {
			memmove(l->r + i, l->r + i + 1, (l->n - i - 1) * sizeof(*l->r));
			l->n--;
		}
	}
	return 0;
}

/* Every region of the group's devices that must not be mapped: all but
 * DIRECT_RELAXABLE, which Linux lets VFIO drop. */
static bool must_exclude(const struct ap_resv *r)
{
	return r->type != AP_RESV_DIRECT_RELAXABLE;
}

int ap__iova_list_exclude_resv(struct vstate *vs, struct iova_list *l, const struct vgroup *g)
{
	struct ap_device *d;
	struct ap_resv resv;
	int err = 0;

	for (d = ap_device_next(vs->ctx, NULL); d && !err; d = ap_device_next(vs->ctx, d)) {
		if (ap_device_group_id(d) != g->id)
			continue;
		for (size_t i = 0; !err && !ap_device_resv(d, i, &resv); i++)
			if (must_exclude(&resv))
				err = cut(vs, l, resv.start, resv.end);
	}
	if (!err && !l->n)
		err = ap__vfio_fail(vs, -EINVAL, "group %d: no usable IOVA would be left (aperture "
				    "minus reserved regions)", g->id);
	return err;
}

/* The regions ap__iova_list_exclude_resv() cuts for the group: each adds at
 * most one range, so a list rebuilt from one range never needs more than
 * one plus their sum over its groups. */
size_t ap__iova_list_resv_count(const struct vgroup *g)
{
	struct ap_ctx *ctx = g->vs->ctx;
	struct ap_device *d;
	struct ap_resv resv;
	size_t n = 0;

	for (d = ap_device_next(ctx, NULL); d; d = ap_device_next(ctx, d)) {
		if (ap_device_group_id(d) != g->id)
			continue;
		for (size_t i = 0; !ap_device_resv(d, i, &resv); i++)
			n += must_exclude(&resv);
	}
	return n;
}

/*
 * vfio_iommu_aper_conflict(): a new aperture conflicts when it misses the
 * list's span entirely, or would leave out a mapping below its start or
 * above its end.  force_aperture plays no part, as in Linux.
 */
bool ap__iova_list_aperture_conflict(const struct type1 *t, uint64_t start, uint64_t end)
{
	const struct vfio_iova_range *first, *last;

	if (!t->niovas)
		return false;
	first = &t->iovas[0];
	last = &t->iovas[t->niovas - 1];
	if (start > last->end || end < first->start)
		return true;
	if (start > first->start && ap__dma_find(t, first->start, start - 1))
		return true;
	if (end < last->end && ap__dma_find(t, end + 1, last->end))
		return true;
	return false;
}

bool ap__iova_list_resv_conflict(const struct type1 *t, const struct vgroup *g)
{
	struct ap_ctx *ctx = g->vs->ctx;
	struct ap_device *d;
	struct ap_resv r;

	for (d = ap_device_next(ctx, NULL); d; d = ap_device_next(ctx, d)) {
		if (ap_device_group_id(d) != g->id)
			continue;
		for (size_t i = 0; !ap_device_resv(d, i, &r); i++)
			if (must_exclude(&r) && ap__dma_find(t, r.start, r.end))
				return true;
	}
	return false;
}

/* [start, last] lies within one range of the list (or the list is empty). */
bool ap__iova_list_fits(const struct type1 *t, uint64_t start, uint64_t last)
{
	for (size_t i = 0; i < t->niovas; i++)
		if (start >= t->iovas[i].start && last <= t->iovas[i].end)
			return true;
	return !t->niovas;
}
