/* SPDX-License-Identifier: MIT */
/*
 * bench/vfio_scale.c - the "vfio-scale" section of the benchmarks: the VFIO
 * container's bookkeeping with hundreds of thousands of live mappings.
 *
 *   4K   262,144 MAP_DMAs of 4 KiB, one call each, at consecutive IOVAs
 *        (1 GiB of the program's memory, page by page), then one UNMAP_DMA
 *        over all of them;
 *   2M   349,184 MAP_DMAs of 2 MiB at consecutive IOVAs, all of them pieces
 *        of one 1 GiB buffer (each piece mapped 682 times), then one
 *        UNMAP_DMA over all of them.
 *
 * For each: the cost of one MAP_DMA while 1k mappings are live and while
 * the last 1k of the row go in (it must not grow with the count: the
 * container and the core's RAM index are balanced trees), and the time of
 * the one bulk UNMAP_DMA.  Wall-clock time and the thread's CPU time are
 * both printed: the machine is shared, and CPU time is what the code
 * costs.  A device DMA checks one random mapping before the unmap and
 * that it faults after.  --quick runs 16,384 maps a row.
 */
#include "bench.h"

#include <aperture/aperture.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <linux/vfio.h>

#define SZ_4K (1ull << 12)
#define SZ_2M (1ull << 21)
#define SZ_1G (1ull << 30)
#define SCALE_IOVA 0x100000000ull /* 4 GiB: above the SW_MSI window */
#define WINDOW 1024ull            /* maps per timed window */

struct clocks {
	uint64_t wall, cpu;
};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct clocks now(void)
{
	return (struct clocks){ clock_ns(CLOCK_MONOTONIC), clock_ns(CLOCK_THREAD_CPUTIME_ID) };
}

static struct clocks since(struct clocks t0)
{
	struct clocks t = now();

	return (struct clocks){ t.wall - t0.wall, t.cpu - t0.cpu };
}

struct scale_rig {
	struct ap_ctx *ctx;
	struct ap_device *dev;
	int container, group;
};

static int rig_fail(struct scale_rig *r, const char *what)
{
	fprintf(stderr, "ap-bench: vfio-scale: %s: %s\n", what,
		r->ctx ? ap_ctx_error(r->ctx) : "no context");
	return -1;
}

/* A TYPE1v2 container holding one group behind a 48-bit SMMUv3, with
 * room for `entries` mappings and no locked-memory limit. */
static int rig_setup(struct scale_rig *r, uint32_t entries)
{
	struct ap_iommu_config cfg;
	struct ap_iommu *iommu;
	char path[32];

	r->container = r->group = -1;
	r->ctx = ap_ctx_new();
	if (!r->ctx)
		return rig_fail(r, "ap_ctx_new");
	ap_iommu_config_init(&cfg, AP_IOMMU_ARM_SMMU_V3);
	if (ap_iommu_new(r->ctx, "smmu0", &cfg, &iommu) ||
	    ap_device_new(r->ctx, "dev", iommu, 1, AP_GROUP_OWN, &r->dev) ||
	    ap_vfio_set_dma_entry_limit(r->ctx, entries) ||
	    ap_vfio_set_memlock_limit(r->ctx, UINT64_MAX))
		return rig_fail(r, "setting up the machine");
	r->container = ap_vfio_open(r->ctx, "/dev/vfio/vfio");
	snprintf(path, sizeof(path), "/dev/vfio/%d", ap_device_group_id(r->dev));
	r->group = ap_vfio_open(r->ctx, path);
	if (r->container < 0 || r->group < 0 ||
	    ap_vfio_ioctl(r->ctx, r->group, VFIO_GROUP_SET_CONTAINER, &r->container) ||
	    ap_vfio_ioctl(r->ctx, r->container, VFIO_SET_IOMMU,
			  (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU))
		return rig_fail(r, "opening the container");
	return 0;
}

static void rig_free(struct scale_rig *r)
{
	if (r->group >= 0)
		ap_vfio_close(r->ctx, r->group);
	if (r->container >= 0)
		ap_vfio_close(r->ctx, r->container);
	ap_ctx_free(r->ctx);
}

struct scale_row {
	const char *name;
	uint64_t size, n;     /* n maps of size bytes */
	uint64_t buf_len;     /* the buffer they are pieces of */
	uint8_t *raw;         /* its mapping, raw_len bytes */
	size_t raw_len;
	char skipped[160];
	struct clocks map_low, map_high, unmap; /* per window of WINDOW maps, and the one unmap */
};

static int map_one(struct scale_rig *r, uint64_t iova, const uint8_t *va, uint64_t size)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uint64_t)(uintptr_t)va, .iova = iova, .size = size,
	};

	return ap_vfio_ioctl(r->ctx, r->container, VFIO_IOMMU_MAP_DMA, &m);
}

/* A device write at a random mapped IOVA lands in the buffer; after the
 * unmap (check_gone) the same IOVA faults. */
static int check_lands(struct scale_rig *r, const struct scale_row *row, const uint8_t *buf,
		       uint64_t *rng, uint64_t *iova)
{
	uint64_t k, off, v;

	*rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
	k = (*rng >> 20) % row->n;
	off = (*rng >> 7) % (row->size - 8);
	v = *rng;
	*iova = SCALE_IOVA + k * row->size + off;
	if (ap_dma_write(r->dev, *iova, &v, sizeof(v), NULL) ||
	    memcmp(buf + (k * row->size) % row->buf_len + off, &v, sizeof(v))) {
		fprintf(stderr, "ap-bench: vfio-scale: %s: a device write at IOVA 0x%" PRIx64
			" did not land in the buffer\n", row->name, *iova);
		return -1;
	}
	return 0;
}

static int row_run(struct scale_rig *r, struct scale_row *row, uint8_t *buf, uint64_t *rng)
{
	struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = SCALE_IOVA,
						.size = row->n * row->size };
	struct ap_vfio_container_info info;
	struct clocks t = now();
	uint64_t i, iova, tmp;

	for (i = 0; i < row->n; i++) {
		if (i == WINDOW)
			t = now();
		if (i == 2 * WINDOW)
			row->map_low = since(t);
		if (i == row->n - WINDOW)
			t = now();
		if (map_one(r, SCALE_IOVA + i * row->size, buf + (i * row->size) % row->buf_len,
			    row->size)) {
			fprintf(stderr, "ap-bench: vfio-scale: %s: MAP_DMA %" PRIu64 " failed: %s\n",
				row->name, i, ap_ctx_error(r->ctx));
			return -1;
		}
	}
	row->map_high = since(t);
	if (check_lands(r, row, buf, rng, &iova))
		return -1;
	t = now();
	if (ap_vfio_ioctl(r->ctx, r->container, VFIO_IOMMU_UNMAP_DMA, &u)) {
		fprintf(stderr, "ap-bench: vfio-scale: %s: UNMAP_DMA failed: %s\n", row->name,
			ap_ctx_error(r->ctx));
		return -1;
	}
	row->unmap = since(t);
	if (u.size != row->n * row->size || ap_vfio_container_info(r->ctx, 0, &info) ||
	    info.mappings || info.locked ||
	    ap_dma_read(r->dev, iova, &tmp, sizeof(tmp), NULL) != -EFAULT) {
		fprintf(stderr, "ap-bench: vfio-scale: %s: the unmap reported 0x%llx bytes or left "
			"mappings, locked memory or a translation behind\n", row->name,
			(unsigned long long)u.size);
		return -1;
	}
	return 0;
}

/* The row's buffer, aligned to its piece size and populated. */
static uint8_t *row_buf(struct scale_row *row)
{
	size_t total = (size_t)(row->buf_len + row->size);
	uint8_t *raw = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			    0), *p;

	row->raw = raw;
	row->raw_len = total;
	if (raw == MAP_FAILED) {
		snprintf(row->skipped, sizeof(row->skipped), "mmap of %.2f GiB: %s",
			 (double)total / (double)SZ_1G, strerror(errno));
		return NULL;
	}
	p = (uint8_t *)(((uintptr_t)raw + (row->size - 1)) & ~(uintptr_t)(row->size - 1));
	if (row->size > SZ_4K)
		madvise(p, (size_t)row->buf_len, MADV_HUGEPAGE); /* a wish: THP may be off */
	memset(p, 0x5a, (size_t)row->buf_len);
	return p;
}

static void print_ns(FILE *out, const char *what, struct clocks c, uint64_t per)
{
	fprintf(out, "  %-34s %10.0f %10.0f\n", what, (double)c.wall / (double)per,
		(double)c.cpu / (double)per);
}

/* The row's figures for --json: per-call MAP_DMA at both ends, the bulk
 * unmap. */
static void row_figures(const struct scale_row *row, ap_bench_figure_fn fig, void *arg)
{
	char name[96];

	snprintf(name, sizeof(name), "%s MAP_DMA, 1k-2k live (CPU)", row->name);
	fig(arg, name, (double)row->map_low.cpu / (double)WINDOW, "ns/op");
	snprintf(name, sizeof(name), "%s MAP_DMA, last 1k of %" PRIu64 "k live (CPU)", row->name,
		 row->n / 1024);
	fig(arg, name, (double)row->map_high.cpu / (double)WINDOW, "ns/op");
	snprintf(name, sizeof(name), "%s UNMAP_DMA of %" PRIu64 " mappings (CPU)", row->name,
		 row->n);
	fig(arg, name, (double)row->unmap.cpu / 1e9, "s");
	snprintf(name, sizeof(name), "%s UNMAP_DMA of %" PRIu64 " mappings (wall)", row->name,
		 row->n);
	fig(arg, name, (double)row->unmap.wall / 1e9, "s");
}

static void row_print(FILE *out, const struct scale_row *row)
{
	char what[64];

	fprintf(out, "\n  %s: %" PRIu64 " MAP_DMAs of %s, then one UNMAP_DMA of all\n", row->name,
		row->n, row->size == SZ_4K ? "4 KiB" : "2 MiB");
	if (row->skipped[0]) {
		fprintf(out, "  skipped: %s\n", row->skipped);
		return;
	}
	fprintf(out, "  %-34s %10s %10s\n", "", "wall ns", "CPU ns");
	print_ns(out, "MAP_DMA, 1k-2k live (per call)", row->map_low, WINDOW);
	snprintf(what, sizeof(what), "MAP_DMA, last 1k of %" PRIu64 "k live", row->n / 1024);
	print_ns(out, what, row->map_high, WINDOW);
	fprintf(out, "  %-34s %10.2f %10.2f\n", "ratio (last 1k / 1k-2k)",
		(double)row->map_high.wall / (double)row->map_low.wall,
		(double)row->map_high.cpu / (double)row->map_low.cpu);
	fprintf(out, "  %-34s %8.3f s %8.3f s   (%.0f ns CPU per mapping)\n",
		"UNMAP_DMA of all", (double)row->unmap.wall / 1e9, (double)row->unmap.cpu / 1e9,
		(double)row->unmap.cpu / (double)row->n);
}

int ap_bench_vfio_scale(FILE *out, bool quick, uint64_t seed, ap_bench_figure_fn fig, void *arg)
{
	struct scale_row rows[2] = {
		{ .name = "4K", .size = SZ_4K, .n = quick ? 16384 : 262144 },
		{ .name = "2M", .size = SZ_2M, .n = quick ? 16384 : 349184, .buf_len = SZ_1G },
	};
	uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 1;
	int err = 0;

	rows[0].buf_len = rows[0].n * SZ_4K;
	if (quick)
		rows[1].buf_len = 64 * SZ_2M;
	fprintf(out, "\nvfio-scale (MAP_DMA one call per piece at consecutive IOVAs from 0x%llx, "
		"then one UNMAP_DMA\n  over all: TYPE1v2 container, one arm-smmu-v3 group, "
		"memlock unlimited; the\n  buffer populated first; ns per MAP_DMA over %d calls "
		"at each end)\n", SCALE_IOVA, (int)WINDOW);
	for (size_t k = 0; k < 2 && !err; k++) {
		struct scale_row *row = &rows[k];
		struct scale_rig r;
		uint8_t *buf = row_buf(row);

		if (!buf) {
			row_print(out, row);
			continue;
		}
		err = rig_setup(&r, (uint32_t)row->n);
		if (!err)
			err = row_run(&r, row, buf, &rng);
		rig_free(&r);
		munmap(row->raw, row->raw_len);
		if (!err) {
			row_print(out, row);
			row_figures(row, fig, arg);
		}
	}
	fflush(out);
	return err;
}
