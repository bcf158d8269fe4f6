/*
 * The container's usable IOVA: the intersection of its domains' apertures
 * minus the non-relaxable reserved regions of its groups, as a sorted list
 * of ranges with inclusive ends (type1's iova_list, reported as the
 * IOVA_RANGE capability).  An empty list means "no restriction" (type1
 * before its first domain).  Every change is made on a copy, so that a
 * refused attach leaves the container's list as it was.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vfio_internal.h"

int ap__iova_list_copy(struct vstate *vs, const struct type1 *t, struct vfio_iova_range **out,
		       size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!t->niovas)
		return 0;
	*out = malloc(t->niovas * sizeof(**out));
	if (!*out)
		return ap__vfio_fail(vs, -ENOMEM, "out of memory");
	memcpy(*out, t->iovas, t->niovas * sizeof(**out));
	*n = t->niovas;
	return 0;
}

/* Narrow the list to [start, end]; an empty list becomes that range. */
int ap__iova_list_clip(struct vstate *vs, struct vfio_iova_range **r, size_t *n, uint64_t start,
		       uint64_t end)
{
	size_t i, kept = 0;

	if (!*n) {
		*r = malloc(sizeof(**r));
		if (!*r)
			return ap__vfio_fail(vs, -ENOMEM, "out of memory");
		(*r)[0] = (struct vfio_iova_range){ start, end };
		*n = 1;
		return 0;
	}
	for (i = 0; i < *n; i++) {
		struct vfio_iova_range x = (*r)[i];

		if (x.end < start || x.start > end)
			continue;
		if (x.start < start)
			x.start = start;
		if (x.end > end)
			x.end = end;
		(*r)[kept++] = x;
	}
	*n = kept;
	return 0;
}

/* Cut [start, end] out of the list, splitting a range it falls inside. */
static int cut(struct vstate *vs, struct vfio_iova_range **r, size_t *n, uint64_t start,
	       uint64_t end)
{
	size_t i = 0;

	while (i < *n) {
		struct vfio_iova_range x = (*r)[i];

		if (end < x.start || start > x.end) {
			i++;
			continue;
		}
		if (start > x.start && end < x.end) {
			struct vfio_iova_range *grown = realloc(*r, (*n + 1) * sizeof(**r));

			if (!grown)
				return ap__vfio_fail(vs, -ENOMEM, "out of memory");
			*r = grown;
			memmove(grown + i + 2, grown + i + 1, (*n - i - 1) * sizeof(*grown));
			grown[i].end = start - 1;
			grown[i + 1] = (struct vfio_iova_range){ end + 1, x.end };
			(*n)++;
			i += 2;
		} else if (start > x.start) {
			(*r)[i++].end = start - 1;
		} else if (end < x.end) {
			(*r)[i++].start = end + 1;
		} else {
			memmove(*r + i, *r + i + 1, (*n - i - 1) * sizeof(**r));
			(*n)--;
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

int ap__iova_list_exclude_resv(struct vstate *vs, struct vfio_iova_range **r, size_t *n,
			       const struct vgroup *g)
{
	struct ap_device *d;
	struct ap_resv resv;
	int err = 0;

	for (d = ap_device_next(vs->ctx, NULL); d && !err; d = ap_device_next(vs->ctx, d)) {
		if (ap_device_group_id(d) != g->id)
			continue;
		for (size_t i = 0; !err && !ap_device_resv(d, i, &resv); i++)
			if (must_exclude(&resv))
				err = cut(vs, r, n, resv.start, resv.end);
	}
	if (!err && !*n)
		err = ap__vfio_fail(vs, -EINVAL, "group %d: no usable IOVA would be left (aperture "
				    "minus reserved regions)", g->id);
	return err;
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
