/* SPDX-License-Identifier: MIT */
/*
 * What scenario `vfio` commands need beyond the VFIO API: names for the
 * containers a script opens, the group handles it holds, and the process
 * memory it maps.  All of it lives in the context's frontend slot
 * "scenario", so that it outlives the run (`aperture show` runs a script,
 * then prints) and goes with the context.  Every request goes through
 * ap_vfio_ioctl(), the code path a real VFIO user takes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "scn_internal.h"

#define SCN_KEY "scenario"

struct scn_container {
	char name[64];
	int fd;
};

struct scn_group {
	int id, fd, container_fd;
};

struct scn_mem {
	void *base;
	size_t len;
};

struct scn_vfio {
	struct ap_ctx *ctx;          /* whose allocator holds the arrays */
	struct scn_container *c;
	size_t nc;
	struct scn_group *g;
	size_t ng;
	struct scn_mem *m;
	size_t nm;
};

static void scn_destroy(void *arg)
{
	struct scn_vfio *s = arg;

	for (size_t i = 0; i < s->nm; i++)
		munmap(s->m[i].base, s->m[i].len);
	ap_mem_free(s->ctx, s->c);
	ap_mem_free(s->ctx, s->g);
	ap_mem_free(s->ctx, s->m);
	ap_mem_free(s->ctx, s);
}

static struct scn_vfio *scn_state(struct ap_ctx *ctx, bool create)
{
	struct scn_vfio *s = ap_ctx_frontend(ctx, SCN_KEY);

	if (s || !create)
		return s;
	s = ap_mem_alloc(ctx, sizeof(*s));
	if (!s) {
		ap_ctx_set_error(ctx, "out of memory for the scenario's VFIO state");
		return NULL;
	}
	s->ctx = ctx;
	if (ap_ctx_set_frontend(ctx, SCN_KEY, s, scn_destroy)) {
		ap_mem_free(ctx, s);
		s = NULL;
	}
	return s;
}

/* Room for one more element at index n; -ENOMEM (with the reason set) and
 * the array unchanged when out of memory. */
static int grow(struct ap_ctx *ctx, void **arr, size_t n, size_t elem)
{
	void *p = ap_mem_realloc(ctx, *arr, (n + 1) * elem);

	if (!p) {
		ap_ctx_set_error(ctx, "out of memory for the scenario's VFIO bookkeeping");
		return -ENOMEM;
	}
	*arr = p;
	return 0;
}

/* The failure of a VFIO call, as a negative errno (its reason is already in
 * the context). */
static int vfio_errno(void)
{
	return errno ? -errno : -EIO;
}

static const struct scn_container *container_named(struct ap_ctx *ctx, const char *name)
{
	struct scn_vfio *s = scn_state(ctx, false);

	for (size_t i = 0; s && i < s->nc; i++)
		if (!strcmp(s->c[i].name, name))
			return &s->c[i];
	ap_ctx_set_error(ctx, "no VFIO container called '%s' (vfio open NAME first)", name);
	return NULL;
}

const char *ap__scn_vfio_name(struct ap_ctx *ctx, int fd)
{
	struct scn_vfio *s = scn_state(ctx, false);

	for (size_t i = 0; s && fd >= 0 && i < s->nc; i++)
		if (s->c[i].fd == fd)
			return s->c[i].name;
	return NULL;
}

/* ------------------------------------------------------------ commands */

int ap__scn_vfio_open(struct ap_ctx *ctx, const char *name)
{
	struct scn_vfio *s = scn_state(ctx, true);
	struct scn_container *c;
	int fd;

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < s->nc; i++)
		if (!strcmp(s->c[i].name, name)) {
			ap_ctx_set_error(ctx, "a VFIO container called '%s' is open", name);
			return -EEXIST;
		}
	if (strlen(name) >= sizeof(c->name)) {
		ap_ctx_set_error(ctx, "container name '%s' is too long", name);
		return -EINVAL;
	}
	fd = ap_vfio_open(ctx, "/dev/vfio/vfio");
	if (fd < 0)
		return vfio_errno();
	if (grow(ctx, (void **)&s->c, s->nc, sizeof(*s->c))) {
		ap_vfio_close(ctx, fd);
		return -ENOMEM;
	}
	c = &s->c[s->nc++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->fd = fd;
	ap_vfio_set_label(ctx, fd, name); /* for the views; the name fits */
	return 0;
}

static struct scn_group *group_held(struct scn_vfio *s, int id)
{
	for (size_t i = 0; s && i < s->ng; i++)
		if (s->g[i].id == id)
			return &s->g[i];
	return NULL;
}

/*
 * Open /dev/vfio/N and put the group in the container.  Here, as in open
 * and map, the script's own bookkeeping grows after the VFIO call, so that
 * the call's errors come first (an `expect error ENOMEM` is about VFIO's).
 */
int ap__scn_vfio_add(struct ap_ctx *ctx, const char *name, int id)
{
	const struct scn_container *c = container_named(ctx, name);
	struct scn_vfio *s = scn_state(ctx, false);
	char path[32];
	int fd, container_fd;

	if (!c)
		return -ENOENT;
	if (group_held(s, id)) {
		ap_ctx_set_error(ctx, "group %d is already in container '%s'", id,
				 ap__scn_vfio_name(ctx, group_held(s, id)->container_fd));
		return -EBUSY;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", id);
	fd = ap_vfio_open(ctx, path);
	if (fd < 0)
		return vfio_errno();
	container_fd = c->fd;
	if (ap_vfio_ioctl(ctx, fd, VFIO_GROUP_SET_CONTAINER, &container_fd)) {
		int err = vfio_errno();

		ap_vfio_close(ctx, fd);
		return err;
	}
	if (grow(ctx, (void **)&s->g, s->ng, sizeof(*s->g))) {
		ap_vfio_close(ctx, fd); /* takes the group out again; cannot fail */
		return -ENOMEM;
	}
	s->g[s->ng++] = (struct scn_group){ id, fd, c->fd };
	return 0;
}

/* UNSET_CONTAINER, then close the group, as a program would. */
int ap__scn_vfio_remove(struct ap_ctx *ctx, const char *name, int id)
{
	const struct scn_container *c = container_named(ctx, name);
	struct scn_vfio *s = scn_state(ctx, false);
	struct scn_group *g = group_held(s, id);
	int err = 0;

	if (!c)
		return -ENOENT;
	if (!g || g->container_fd != c->fd) {
		ap_ctx_set_error(ctx, "group %d is not in container '%s'", id, name);
		return -EINVAL;
	}
	if (ap_vfio_ioctl(ctx, g->fd, VFIO_GROUP_UNSET_CONTAINER, NULL))
		err = vfio_errno();
	ap_vfio_close(ctx, g->fd);
	*g = s->g[--s->ng];
	return err;
}

int ap__scn_vfio_iommu(struct ap_ctx *ctx, const char *name, unsigned long type)
{
	const struct scn_container *c = container_named(ctx, name);

	if (!c)
		return -ENOENT;
	if (ap_vfio_ioctl(ctx, c->fd, VFIO_SET_IOMMU, (void *)(uintptr_t)type))
		return vfio_errno();
	return 0;
}

/* The container's smallest page, or the host's before it has an IOMMU. */
static uint64_t map_alignment(struct ap_ctx *ctx, int fd)
{
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	long page = sysconf(_SC_PAGESIZE);
	uint64_t align = page > 0 ? (uint64_t)page : 4096;

	if (!ap_vfio_ioctl(ctx, fd, VFIO_IOMMU_GET_INFO, &info) && info.iova_pgsizes) {
		uint64_t min = info.iova_pgsizes & -info.iova_pgsizes;

		if (min > align)
			align = min;
	}
	return align;
}

/* "Process memory" for a mapping: page-aligned anonymous memory, aligned to
 * the container's smallest page, that lives as long as the context. */
static void *mem_new(struct ap_ctx *ctx, uint64_t size, uint64_t align, struct scn_mem *out)
{
	size_t len = (size_t)(size + align);
	uint8_t *base;
	uintptr_t at;

	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		ap_ctx_set_error(ctx, "cannot allocate 0x%llx bytes of process memory",
				 (unsigned long long)size);
		return NULL;
	}
	/* large pages where the kernel has them: pinning faults every page in */
	madvise(base, len, MADV_HUGEPAGE);
	*out = (struct scn_mem){ base, len };
	at = ((uintptr_t)base + (uintptr_t)(align - 1)) & ~(uintptr_t)(align - 1);
	return (void *)at;
}

int ap__scn_vfio_map(struct ap_ctx *ctx, const char *name, uint64_t iova, uint64_t size,
		     unsigned prot)
{
	const struct scn_container *c = container_named(ctx, name);
	struct scn_vfio *s = scn_state(ctx, false);
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map), .iova = iova, .size = size };
	struct scn_mem mem = { NULL, 0 };
	void *va;

	if (!c)
		return -ENOENT;
	va = size ? mem_new(ctx, size, map_alignment(ctx, c->fd), &mem) : NULL;
	if (size && !va)
		return -ENOMEM;
	map.vaddr = (uint64_t)(uintptr_t)va;
	map.flags = (prot & AP_PROT_READ ? VFIO_DMA_MAP_FLAG_READ : 0) |
		    (prot & AP_PROT_WRITE ? VFIO_DMA_MAP_FLAG_WRITE : 0);
	if (ap_vfio_ioctl(ctx, c->fd, VFIO_IOMMU_MAP_DMA, &map)) {
		int err = vfio_errno();

		if (va)
			munmap(mem.base, mem.len);
		return err;
	}
	if (grow(ctx, (void **)&s->m, s->nm, sizeof(*s->m))) {
		struct vfio_iommu_type1_dma_unmap undo = {
			.argsz = sizeof(undo), .iova = iova, .size = size,
		};

		ap_vfio_ioctl(ctx, c->fd, VFIO_IOMMU_UNMAP_DMA, &undo);
		munmap(mem.base, mem.len);
		ap_ctx_set_error(ctx, "out of memory for the scenario's VFIO bookkeeping");
		return -ENOMEM;
	}
	s->m[s->nm++] = mem;
	return 0;
}

int ap__scn_vfio_unmap(struct ap_ctx *ctx, const char *name, uint64_t iova, uint64_t size,
		       bool all, uint64_t *unmapped)
{
	const struct scn_container *c = container_named(ctx, name);
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.flags = all ? VFIO_DMA_UNMAP_FLAG_ALL : 0,
		.iova = iova,
		.size = size,
	};

	if (!c)
		return -ENOENT;
	if (ap_vfio_ioctl(ctx, c->fd, VFIO_IOMMU_UNMAP_DMA, &unmap))
		return vfio_errno();
	*unmapped = unmap.size;
	return 0;
}

int ap__scn_vfio_dirty(struct ap_ctx *ctx, const char *name, uint32_t flag)
{
	const struct scn_container *c = container_named(ctx, name);
	struct vfio_iommu_type1_dirty_bitmap d = { .argsz = sizeof(d), .flags = flag };

	if (!c)
		return -ENOENT;
	if (ap_vfio_ioctl(ctx, c->fd, VFIO_IOMMU_DIRTY_PAGES, &d))
		return vfio_errno();
	return 0;
}

/* GET_BITMAP over [iova, iova+size): how many pages are dirty. */
int ap__scn_vfio_dirty_count(struct ap_ctx *ctx, const char *name, uint64_t iova,
			     uint64_t size, uint64_t *count)
{
	const struct scn_container *c = container_named(ctx, name);
	uint8_t req[sizeof(struct vfio_iommu_type1_dirty_bitmap) +
		    sizeof(struct vfio_iommu_type1_dirty_bitmap_get)];
	struct vfio_iommu_type1_dirty_bitmap *d = (void *)req;
	struct vfio_iommu_type1_dirty_bitmap_get range;
	uint64_t page, npages, words;
	__u64 *bits;
	int err = 0;

	if (!c)
		return -ENOENT;
	page = map_alignment(ctx, c->fd);
	npages = size / page;
	words = (npages + 63) / 64;
	bits = ap_mem_alloc(ctx, (words ? words : 1) * sizeof(*bits));
	if (!bits) {
		ap_ctx_set_error(ctx, "out of memory for a dirty bitmap");
		return -ENOMEM;
	}
	range = (struct vfio_iommu_type1_dirty_bitmap_get){
		.iova = iova, .size = size,
		.bitmap = { .pgsize = page, .size = words * 8, .data = bits },
	};
	d->argsz = sizeof(req);
	d->flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	memcpy(d->data, &range, sizeof(range));
	if (ap_vfio_ioctl(ctx, c->fd, VFIO_IOMMU_DIRTY_PAGES, d))
		err = vfio_errno();
	*count = 0;
	for (uint64_t w = 0; !err && w < words; w++)
		*count += (uint64_t)__builtin_popcountll(bits[w]);
	ap_mem_free(ctx, bits);
	return err;
}

/* The usable IOVA ranges and page sizes VFIO_IOMMU_GET_INFO reports. */
int ap__scn_vfio_info(struct ap_ctx *ctx, const char *name, uint64_t *pgsizes,
		      struct vfio_iova_range *ranges, size_t max, size_t *n)
{
	const struct scn_container *c = container_named(ctx, name);
	struct vfio_iommu_type1_info probe = { .argsz = sizeof(probe) }, *info;
	const struct vfio_info_cap_header *h;
	int err = 0;

	*n = 0;
	if (!c)
		return -ENOENT;
	if (ap_vfio_ioctl(ctx, c->fd, VFIO_IOMMU_GET_INFO, &probe))
		return vfio_errno();
	info = ap_mem_alloc(ctx, probe.argsz);
	if (!info) {
		ap_ctx_set_error(ctx, "out of memory for VFIO_IOMMU_GET_INFO");
		return -ENOMEM;
	}
	info->argsz = probe.argsz;
	if (ap_vfio_ioctl(ctx, c->fd, VFIO_IOMMU_GET_INFO, info))
		err = vfio_errno();
	*pgsizes = info->iova_pgsizes;
	for (uint32_t off = err ? 0 : info->cap_offset; off; off = h->next) {
		h = (const void *)((const uint8_t *)info + off);
		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			const struct vfio_iommu_type1_info_cap_iova_range *cap = (const void *)h;

			for (*n = 0; *n < cap->nr_iovas && *n < max; (*n)++)
				ranges[*n] = cap->iova_ranges[*n];
		}
	}
	ap_mem_free(ctx, info);
	return err;
}
