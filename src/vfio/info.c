/* SPDX-License-Identifier: MIT */
/*
 * VFIO_IOMMU_GET_INFO, as vfio_iommu_type1_get_info(): the page sizes and a
 * capability chain (MIGRATION, DMA_AVAIL, IOVA_RANGE, in that order), each
 * capability padded to 8 bytes.  A caller whose argsz is too small for the
 * chain gets back the argsz it needs and no capabilities.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "vfio_internal.h"

#define INFO_MINSZ (offsetof(struct vfio_iommu_type1_info, iova_pgsizes) + sizeof(uint64_t))
#define ALIGN8(x) (((x) + 7) & ~(size_t)7)
/* Where the chain starts: the struct, 8-aligned (it has a pad since 6.6). */
#define CAPS_BASE ALIGN8(sizeof(struct vfio_iommu_type1_info))

static size_t migration_size(void)
{
	return ALIGN8(sizeof(struct vfio_iommu_type1_info_cap_migration));
}

static size_t dma_avail_size(void)
{
	return ALIGN8(sizeof(struct vfio_iommu_type1_info_dma_avail));
}

/* The IOVA_RANGE capability is left out when the list is empty. */
static size_t iova_range_size(const struct type1 *t)
{
	if (!t->niovas)
		return 0;
	return ALIGN8(sizeof(struct vfio_iommu_type1_info_cap_iova_range) +
		      t->niovas * sizeof(struct vfio_iova_range));
}

static size_t caps_size(const struct type1 *t)
{
	return migration_size() + dma_avail_size() + iova_range_size(t);
}

/* The chain, into caps (zeroed, caps_size() bytes), its offsets counted
 * from the start of the info struct. */
static void caps_build(const struct vcontainer *c, uint8_t *caps)
{
	const struct type1 *t = &c->t1;
	struct vfio_iommu_type1_info_cap_migration *mig = (void *)caps;
	struct vfio_iommu_type1_info_dma_avail *avail = (void *)(caps + migration_size());
	struct vfio_iommu_type1_info_cap_iova_range *iova =
		(void *)(caps + migration_size() + dma_avail_size());

	mig->header.id = VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION;
	mig->header.version = 1;
	mig->header.next = (uint32_t)(CAPS_BASE + migration_size());
	mig->flags = 0;
	mig->pgsize_bitmap = ap__vcontainer_min_pgsize(c);
	mig->max_dirty_bitmap_size = VFIO_DIRTY_BITMAP_BYTES(VFIO_DIRTY_PAGES_MAX);
	avail->header.id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL;
	avail->header.version = 1;
	avail->avail = t->dma_avail;
	if (!t->niovas)
		return;
	avail->header.next = (uint32_t)(CAPS_BASE + migration_size() + dma_avail_size());
	iova->header.id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE;
	iova->header.version = 1;
	iova->nr_iovas = (uint32_t)t->niovas;
	memcpy(iova->iova_ranges, t->iovas, t->niovas * sizeof(*t->iovas));
}

int ap__info_ioctl(struct vcontainer *c, void *arg)
{
	struct vfio_iommu_type1_info *info = arg, out;
	size_t need = CAPS_BASE + caps_size(&c->t1);
	uint8_t *caps;

	if (!info)
		return ap__vfio_fail(c->vs, -EFAULT, "VFIO_IOMMU_GET_INFO needs a struct");
	if (info->argsz < INFO_MINSZ)
		return ap__vfio_fail(c->vs, -EINVAL, "VFIO_IOMMU_GET_INFO: argsz %u < %zu",
				     info->argsz, (size_t)INFO_MINSZ);
	memset(&out, 0, sizeof(out));
	out.argsz = info->argsz;
	out.flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
	out.iova_pgsizes = c->t1.pgsize_bitmap;
	if (info->argsz < need) {
		out.argsz = (uint32_t)need; /* ask again with this much; no capability now */
	} else {
		caps = ap_mem_alloc(c->vs->ctx, need - CAPS_BASE);
		if (!caps) /* as Linux: nothing is written back */
			return ap__vfio_fail(c->vs, -ENOMEM, "out of memory for the capability chain");
		caps_build(c, caps);
		memcpy((uint8_t *)info + CAPS_BASE, caps, need - CAPS_BASE);
		ap_mem_free(c->vs->ctx, caps);
		out.cap_offset = (uint32_t)CAPS_BASE;
	}
	memcpy(info, &out, info->argsz < sizeof(out) ? info->argsz : sizeof(out));
	return 0;
}
