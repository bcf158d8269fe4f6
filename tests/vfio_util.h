/* SPDX-License-Identifier: MIT */
/*
 * VFIO test helpers shared by test_vfio.c, test_vfio_errno.c and
 * test_vfio_model.c: names of errnos, the ioctl convention (-1 and errno)
 * turned into an errno, a machine of IOMMU instances and devices, a
 * container with groups in it, MAP/UNMAP/DIRTY_PAGES wrappers, and
 * GET_INFO as a real user does it, with its capability chain walked and
 * checked.  Include after <cmocka.h>.
 */
#ifndef AP_TEST_VFIO_UTIL_H
#define AP_TEST_VFIO_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <linux/vfio.h>

#include <aperture/core.h>
#include <aperture/vfio.h>

#include "expect.h"

#define PG 0x1000ull
#define SZ_64K 0x10000ull
#define SZ_1M 0x100000ull
#define TOP48 ((1ull << 48) - 1)
#define SW_MSI_START 0x8000000ull /* an SMMU's software MSI window */
#define SW_MSI_END 0x80fffffull
#define VTD_MSI_START 0xfee00000ull /* VT-d's interrupt window */
#define VTD_MSI_END 0xfeefffffull
#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define R_ VFIO_DMA_MAP_FLAG_READ
#define W_ VFIO_DMA_MAP_FLAG_WRITE
#define INFO_SZ ((uint32_t)sizeof(struct vfio_iommu_type1_info))

/* ------------------------------------------------------------ errno */

static inline const char *ename(int e)
{
	static char other[32];

	switch (e) {
	case 0: return "success";
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	case ENOMEM: return "ENOMEM";
	case ENOSPC: return "ENOSPC";
	case EEXIST: return "EEXIST";
	case ENOENT: return "ENOENT";
	case EBUSY: return "EBUSY";
	case EPERM: return "EPERM";
	case ENODEV: return "ENODEV";
	case EOVERFLOW: return "EOVERFLOW";
	case EACCES: return "EACCES";
	case EBADF: return "EBADF";
	case EBADFD: return "EBADFD";
	case ENOTTY: return "ENOTTY";
	default:
		snprintf(other, sizeof(other), "errno %d", e);
		return other;
	}
}

/* errno of an ioctl: 0 on success; the ioctl convention is -1 and errno. */
static inline int verr(struct ap_ctx *ctx, int fd, unsigned long req, void *arg)
{
	int r;

	errno = 0;
	r = ap_vfio_ioctl(ctx, fd, req, arg);
	if (r >= 0)
		return 0;
	EXPECT(r == -1, "ioctl 0x%lx returned %d: failures must return -1 and set errno", req, r);
	EXPECT(errno != 0, "ioctl 0x%lx returned -1 with errno 0", req);
	return errno;
}

#define IOCTL_OK(ctx, fd, req, arg)                                                       \
	do {                                                                              \
		int e_ = verr((ctx), (fd), (req), (arg));                                 \
		EXPECT(e_ == 0, "%s failed: %s (%s)", #req, ename(e_), ap_ctx_error(ctx)); \
	} while (0)

#define IOCTL_ERR(ctx, fd, req, arg, want)                                           \
	do {                                                                         \
		int e_ = verr((ctx), (fd), (req), (arg));                            \
		EXPECT(e_ == (want), "%s: expected %s, got %s", #req, ename(want),   \
		       ename(e_));                                                   \
	} while (0)

/* ------------------------------------------------------------ the machine */

/* A context whose containers may pin without limit. */
static inline struct ap_ctx *mk_ctx(void)
{
	struct ap_ctx *ctx = ap_ctx_new();

	assert_non_null(ctx);
	ap_vfio_set_memlock_limit(ctx, UINT64_MAX);
	return ctx;
}

static inline struct ap_iommu *mk_iommu_cfg(struct ap_ctx *ctx, const char *name,
					    const struct ap_iommu_config *c)
{
	struct ap_iommu *iommu = NULL;

	assert_int_equal(ap_iommu_new(ctx, name, c, &iommu), 0);
	return iommu;
}

/* An SMMUv3 of ias bits (oas 40 below 40 bits, else 48), defaults otherwise. */
static inline struct ap_iommu *mk_smmu(struct ap_ctx *ctx, const char *name, unsigned ias)
{
	struct ap_iommu_config c;

	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	c.ias = ias;
	c.oas = ias < 40 ? 40 : 48;
	return mk_iommu_cfg(ctx, name, &c);
}

/* A VT-d unit with the defaults. */
static inline struct ap_iommu *mk_vtd(struct ap_ctx *ctx, const char *name)
{
	struct ap_iommu_config c;

	ap_iommu_config_init(&c, AP_IOMMU_INTEL_VTD);
	return mk_iommu_cfg(ctx, name, &c);
}

static inline struct ap_device *mk_dev(struct ap_ctx *ctx, const char *name,
				       struct ap_iommu *iommu, uint32_t sid, int group)
{
	struct ap_device *dev = NULL;

	assert_int_equal(ap_device_new(ctx, name, iommu, sid, group, &dev), 0);
	return dev;
}

/* The test's own memory, read-write (munmap it after the context). */
static inline void *buf_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

/* ------------------------------------------------------------ container and groups */

static inline int open_container(struct ap_ctx *ctx)
{
	int fd = ap_vfio_open(ctx, "/dev/vfio/vfio");

	EXPECT(fd >= 0, "open /dev/vfio/vfio: %s (%s)", ename(errno), ap_ctx_error(ctx));
	return fd;
}

/* The handle of dev's group. */
static inline int open_group(struct ap_ctx *ctx, const struct ap_device *dev)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/dev/vfio/%d", ap_device_group_id(dev));
	fd = ap_vfio_open(ctx, path);
	EXPECT(fd >= 0, "open %s: %s (%s)", path, ename(errno), ap_ctx_error(ctx));
	return fd;
}

/* VFIO_GROUP_SET_CONTAINER's errno. */
static inline int set_container(struct ap_ctx *ctx, int group, int container)
{
	return verr(ctx, group, VFIO_GROUP_SET_CONTAINER, &container);
}

/* VFIO_SET_IOMMU's errno. */
static inline int set_iommu(struct ap_ctx *ctx, int container, unsigned long type)
{
	return verr(ctx, container, VFIO_SET_IOMMU, (void *)(uintptr_t)type);
}

/* The group goes into the container, which must accept it. */
static inline void join_container(struct ap_ctx *ctx, int group, int container)
{
	int e = set_container(ctx, group, container);

	EXPECT(e == 0, "SET_CONTAINER: %s (%s)", ename(e), ap_ctx_error(ctx));
}

/* The container takes a type1v2 IOMMU, as it must. */
static inline void set_type1v2(struct ap_ctx *ctx, int container)
{
	int e = set_iommu(ctx, container, VFIO_TYPE1v2_IOMMU);

	EXPECT(e == 0, "SET_IOMMU(TYPE1v2): %s (%s)", ename(e), ap_ctx_error(ctx));
}

/* A VFIO user's start: a container, dev's group in it (*group), type1v2.
 * Returns the container. */
static inline int open_type1v2(struct ap_ctx *ctx, const struct ap_device *dev, int *group)
{
	int c = open_container(ctx);

	*group = open_group(ctx, dev);
	join_container(ctx, *group, c);
	set_type1v2(ctx, c);
	return c;
}

static inline uint32_t group_flags(struct ap_ctx *ctx, int group)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };

	IOCTL_OK(ctx, group, VFIO_GROUP_GET_STATUS, &st);
	return st.flags;
}

/* ------------------------------------------------------------ MAP, UNMAP, DIRTY_PAGES */

/* MAP_DMA's errno. */
static inline int map_dma(struct ap_ctx *ctx, int c, const void *vaddr, uint64_t iova,
			  uint64_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .flags = flags, .vaddr = (uint64_t)(uintptr_t)vaddr,
		.iova = iova, .size = size,
	};

	return verr(ctx, c, VFIO_IOMMU_MAP_DMA, &m);
}

/* UNMAP_DMA; returns errno, *unmapped the size written back. */
static inline int unmap_dma(struct ap_ctx *ctx, int c, uint64_t iova, uint64_t size,
			    uint32_t flags, uint64_t *unmapped)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .flags = flags, .iova = iova, .size = size,
	};
	int e = verr(ctx, c, VFIO_IOMMU_UNMAP_DMA, &u);

	if (unmapped)
		*unmapped = u.size;
	return e;
}

/* DIRTY_PAGES without a bitmap (START, STOP, or a bad combination). */
static inline int dirty_flags(struct ap_ctx *ctx, int c, uint32_t flags)
{
	struct vfio_iommu_type1_dirty_bitmap d = { .argsz = sizeof(d), .flags = flags };

	return verr(ctx, c, VFIO_IOMMU_DIRTY_PAGES, &d);
}

/* ------------------------------------------------------------ GET_INFO */

#define MAX_RANGES 16
struct info_view {
	uint32_t needed;
	uint32_t flags;
	uint64_t pgsizes;
	int ncaps;
	uint16_t order[8];
	bool mig, avail, iova;
	uint32_t mig_flags;
	uint64_t mig_pgsize, mig_max;
	uint32_t dma_avail;
	uint32_t nr;
	struct vfio_iova_range r[MAX_RANGES];
};

/* GET_INFO as a real user does it: a too-small buffer first, then the
 * size the container asks for; walk and check the capability chain. */
static inline void get_info(struct ap_ctx *ctx, int c, struct info_view *v)
{
	struct vfio_iommu_type1_info small;
	uint8_t *buf;
	struct vfio_iommu_type1_info *info;
	uint32_t off;
	unsigned i;

	memset(v, 0, sizeof(*v));
	memset(&small, 0, sizeof(small));
	small.argsz = INFO_SZ;
	small.cap_offset = 0xdeadbeef;
	IOCTL_OK(ctx, c, VFIO_IOMMU_GET_INFO, &small);
	EXPECT(small.flags == (VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS),
	       "GET_INFO flags 0x%x, expected PGSIZES|CAPS", small.flags);
	EXPECT(small.argsz > INFO_SZ, "GET_INFO with a bare struct must ask for more (argsz %u)",
	       small.argsz);
	EXPECT(small.cap_offset == 0, "GET_INFO too small: cap_offset 0x%x, expected 0",
	       small.cap_offset);
	v->needed = small.argsz;

	buf = malloc(v->needed + 64);
	assert_non_null(buf);
	memset(buf, 0xa5, v->needed + 64);
	info = (struct vfio_iommu_type1_info *)buf;
	memset(info, 0, INFO_SZ);
	info->argsz = v->needed;
	IOCTL_OK(ctx, c, VFIO_IOMMU_GET_INFO, info);
	EXPECT(info->argsz == v->needed, "argsz changed from %u to %u with a big enough buffer",
	       v->needed, info->argsz);
	EXPECT(info->flags == (VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS),
	       "flags 0x%x", info->flags);
	EXPECT(info->cap_offset == INFO_SZ, "cap_offset %u, expected %u", info->cap_offset,
	       INFO_SZ);
	EXPECT(info->iova_pgsizes == small.iova_pgsizes, "pgsizes differ between the two calls");
	v->flags = info->flags;
	v->pgsizes = info->iova_pgsizes;
	for (i = 0; i < 64; i++)
		EXPECT(buf[v->needed + i] == 0xa5, "GET_INFO wrote past argsz (byte %u)",
		       v->needed + i);

	off = info->cap_offset;
	while (off) {
		struct vfio_info_cap_header *h;

		EXPECT(v->ncaps < 8, "capability chain does not end");
		EXPECT(off % 8 == 0, "capability at %u is not 8-aligned", off);
		EXPECT(off >= INFO_SZ && off + sizeof(*h) <= v->needed,
		       "capability offset %u outside [%u, %u)", off, INFO_SZ, v->needed);
		h = (struct vfio_info_cap_header *)(buf + off);
		EXPECT(h->version == 1, "capability %u version %u", h->id, h->version);
		EXPECT(h->next == 0 || h->next > off, "capability chain goes backwards");
		v->order[v->ncaps++] = h->id;
		switch (h->id) {
		case VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION: {
			struct vfio_iommu_type1_info_cap_migration *m = (void *)h;

			EXPECT(!v->mig, "two MIGRATION capabilities");
			EXPECT(off + sizeof(*m) <= v->needed, "MIGRATION truncated");
			v->mig = true;
			v->mig_flags = m->flags;
			v->mig_pgsize = m->pgsize_bitmap;
			v->mig_max = m->max_dirty_bitmap_size;
			break;
		}
		case VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL: {
			struct vfio_iommu_type1_info_dma_avail *a = (void *)h;

			EXPECT(!v->avail, "two DMA_AVAIL capabilities");
			EXPECT(off + sizeof(*a) <= v->needed, "DMA_AVAIL truncated");
			v->avail = true;
			v->dma_avail = a->avail;
			break;
		}
		case VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE: {
			struct vfio_iommu_type1_info_cap_iova_range *r = (void *)h;
			uint32_t k;

			EXPECT(!v->iova, "two IOVA_RANGE capabilities");
			EXPECT(off + sizeof(*r) <= v->needed, "IOVA_RANGE truncated");
			v->iova = true;
			v->nr = r->nr_iovas;
			EXPECT(v->nr <= MAX_RANGES, "%u ranges", v->nr);
			EXPECT(off + sizeof(*r) + v->nr * sizeof(r->iova_ranges[0]) <= v->needed,
			       "IOVA_RANGE ranges past argsz");
			for (k = 0; k < v->nr; k++)
				v->r[k] = r->iova_ranges[k];
			break;
		}
		default:
			EXPECT(0, "unknown capability id %u", h->id);
		}
		off = h->next;
	}
	/* §1.3: MIGRATION, DMA_AVAIL, IOVA_RANGE, in that order, each padded to 8 */
	EXPECT(v->ncaps == 3 && v->order[0] == VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION &&
		       v->order[1] == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL &&
		       v->order[2] == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
	       "capability chain: %d caps, order %u %u %u (expected MIGRATION, DMA_AVAIL, "
	       "IOVA_RANGE)", v->ncaps, v->order[0], v->order[1], v->order[2]);
	EXPECT(v->needed == INFO_SZ + 32 + 16 + 16 + 16 * v->nr,
	       "GET_INFO needs %u bytes, expected %u (24 + 32 + 16 + 16 + 16 * %u ranges)",
	       v->needed, INFO_SZ + 32 + 16 + 16 + 16 * v->nr, v->nr);
	EXPECT(v->mig_flags == 0, "MIGRATION flags 0x%x", v->mig_flags);
	EXPECT(v->mig_pgsize == (v->pgsizes & -v->pgsizes),
	       "MIGRATION pgsize_bitmap 0x%llx, expected the smallest size of 0x%llx",
	       (ull)v->mig_pgsize, (ull)v->pgsizes);
	EXPECT(v->mig_max == 256ull << 20, "MIGRATION max_dirty_bitmap_size 0x%llx",
	       (ull)v->mig_max);
	free(buf);
}

/* The IOVA ranges are exactly the n pairs (start, end) in want. */
static inline void expect_ranges(const struct info_view *v, unsigned n, const uint64_t *want)
{
	unsigned i;

	if (v->nr != n) {
		for (i = 0; i < v->nr; i++)
			print_error("  range %u: [0x%llx, 0x%llx]\n", i, (ull)v->r[i].start,
				    (ull)v->r[i].end);
	}
	EXPECT(v->nr == n, "%u IOVA ranges, expected %u", v->nr, n);
	for (i = 0; i < n; i++)
		EXPECT(v->r[i].start == want[2 * i] && v->r[i].end == want[2 * i + 1],
		       "range %u: [0x%llx, 0x%llx], expected [0x%llx, 0x%llx]", i,
		       (ull)v->r[i].start, (ull)v->r[i].end, (ull)want[2 * i],
		       (ull)want[2 * i + 1]);
}

/* DMA_AVAIL, from a checked GET_INFO. */
static inline uint32_t dma_avail(struct ap_ctx *ctx, int c)
{
	struct info_view v;

	get_info(ctx, c, &v);
	return v.dma_avail;
}

#endif /* AP_TEST_VFIO_UTIL_H */
