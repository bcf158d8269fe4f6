/* SPDX-License-Identifier: MIT */
/*
 * Acceptance tests of the VFIO type1 container (include/aperture/vfio.h),
 * written from the behaviour spec (doc/vfio.md §1, §2.5), not from the
 * implementation:
 *
 *   - a program that reads like a real VFIO user: container and group,
 *     viability, TYPE1v2, GET_INFO with a too-small then a right-sized
 *     buffer and the capability chain, a buffer of its own mapped, device
 *     DMA into it, unmap, and the device faulting afterwards;
 *   - GET_INFO at every argsz (nothing written past argsz, chain layout);
 *   - heterogeneous containers: a 48-bit and a 32-bit SMMU (refused while a
 *     mapping lies above 4 GiB, with nothing changed; accepted otherwise,
 *     with the IOVA ranges shrinking), VT-d's MSI window, reserved regions;
 *   - reserved regions: SW_MSI, VT-d's MSI window, a device's own regions
 *     (RESERVED/MSI cut out, DIRECT_RELAXABLE not), overlapping and edge
 *     regions, a group whose regions leave nothing;
 *   - page sizes: the AND of the domains, 64K-only containers, a group
 *     refused because it cannot map an existing mapping;
 *   - group lifecycle: unset, close, last group leaving, close order, two
 *     containers; permissions; aliases; a 6 MiB mapping;
 *   - dirty tracking: pages a device wrote through ap_dma_write() are
 *     dirty, pages it only read are not (our documented difference from
 *     Linux, whose type1 reports every pinned page).
 *
 * Every test builds its own context; the buffers are the test's own memory
 * (mmap), freed after the context.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vfio_util.h"

#define SZ_2M 0x200000ull
#define SZ_1G 0x40000000ull
#define SZ_4G 0x100000000ull
#define TOP32 0xffffffffull

/* ------------------------------------------------------------ helpers */

#define MAP_OK(ctx, c, va, iova, size, flags)                                                 \
	do {                                                                                  \
		int e_ = map_dma((ctx), (c), (va), (iova), (size), (flags));                  \
		EXPECT(e_ == 0, "MAP_DMA iova 0x%llx size 0x%llx: %s (%s)", (ull)(iova),      \
		       (ull)(size), strerror(e_), ap_ctx_error(ctx));                         \
	} while (0)

static void unmap_expect(struct ap_ctx *ctx, int c, uint64_t iova, uint64_t size, uint64_t want)
{
	uint64_t got = ~0ull;
	int e = unmap_dma(ctx, c, iova, size, 0, &got);

	EXPECT(e == 0, "UNMAP_DMA iova 0x%llx size 0x%llx: %s", (ull)iova, (ull)size, strerror(e));
	EXPECT(got == want, "UNMAP_DMA iova 0x%llx size 0x%llx unmapped 0x%llx, expected 0x%llx",
	       (ull)iova, (ull)size, (ull)got, (ull)want);
}

static void fill(void *p, size_t len, unsigned seed)
{
	uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8));
}

/* The device reads len bytes at iova and they equal expect. */
static void dma_read_is(struct ap_device *dev, uint64_t iova, const void *expect, size_t len)
{
	uint8_t tmp[256];
	struct ap_fault f;
	int r;

	assert_true(len <= sizeof(tmp));
	memset(tmp, 0, sizeof(tmp));
	memset(&f, 0, sizeof(f));
	r = ap_dma_read(dev, iova, tmp, len, &f);
	EXPECT(r == 0, "%s: DMA read at 0x%llx faulted (%d, kind %s)", ap_device_name(dev),
	       (ull)iova, r, ap_fault_kind_name(f.kind));
	EXPECT(memcmp(tmp, expect, len) == 0, "%s: DMA read at 0x%llx read other bytes",
	       ap_device_name(dev), (ull)iova);
}

/* The device's DMA at iova faults (both directions), kind `kind` unless NONE. */
static void dma_faults(struct ap_device *dev, uint64_t iova, enum ap_fault_kind kind)
{
	uint8_t tmp[8] = { 0 };
	struct ap_fault f;
	int r;

	memset(&f, 0, sizeof(f));
	r = ap_dma_read(dev, iova, tmp, sizeof(tmp), &f);
	EXPECT(r == -EFAULT, "%s: DMA read at 0x%llx should fault, got %d", ap_device_name(dev),
	       (ull)iova, r);
	if (kind != AP_FAULT_NONE)
		EXPECT(f.kind == kind, "%s: fault at 0x%llx kind %s, expected %s",
		       ap_device_name(dev), (ull)iova, ap_fault_kind_name(f.kind),
		       ap_fault_kind_name(kind));
	EXPECT(f.iova == iova, "fault iova 0x%llx, expected 0x%llx", (ull)f.iova, (ull)iova);
	r = ap_dma_write(dev, iova, tmp, sizeof(tmp), &f);
	EXPECT(r == -EFAULT, "%s: DMA write at 0x%llx should fault, got %d",
	       ap_device_name(dev), (ull)iova, r);
}

/* ------------------------------------------------------------ a VFIO user */

static void test_user_flow(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	struct ap_iommu *smmu = mk_smmu(ctx, "smmu0", 48);
	struct ap_device *nic = mk_dev(ctx, "nic", smmu, 0x10, AP_GROUP_OWN);
	const uint64_t iova = 0x100000, size = 16 * PG;
	uint8_t *buf, data[200], back[200];
	struct info_view v;
	struct ap_fault f;
	int container, group;

	(void)state;
	buf = buf_alloc(size);
	fill(buf, size, 1);

	container = open_container(ctx);
	assert_int_equal(ap_vfio_ioctl(ctx, container, VFIO_GET_API_VERSION, NULL),
			 VFIO_API_VERSION);
	assert_int_equal(ap_vfio_ioctl(ctx, container, VFIO_CHECK_EXTENSION,
				       (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU), 1);

	group = open_group(ctx, nic);
	EXPECT(group_flags(ctx, group) == VFIO_GROUP_FLAGS_VIABLE,
	       "a fresh group: flags 0x%x, expected VIABLE only", group_flags(ctx, group));
	/* before the group is in a container the device's DMA goes nowhere */
	dma_faults(nic, iova, AP_FAULT_NONE);

	join_container(ctx, group, container);
	EXPECT(group_flags(ctx, group) == (VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET),
	       "flags 0x%x after SET_CONTAINER", group_flags(ctx, group));
	/* claimed, no IOMMU yet: blocked, not passed through (§1.2) */
	dma_faults(nic, iova, AP_FAULT_NONE);
	set_type1v2(ctx, container);

	get_info(ctx, container, &v);
	EXPECT(v.pgsizes == (PG | SZ_2M | SZ_1G), "iova_pgsizes 0x%llx, expected 4K|2M|1G",
	       (ull)v.pgsizes);
	EXPECT(v.dma_avail == 65535, "DMA_AVAIL %u, expected the default 65535", v.dma_avail);
	expect_ranges(&v, 2, (const uint64_t[]){ 0, SW_MSI_START - 1, SW_MSI_END + 1, TOP48 });

	MAP_OK(ctx, container, buf, iova, size, RW);
	EXPECT(dma_avail(ctx, container) == 65534, "DMA_AVAIL after one map");

	/* the device reads what the program wrote ... */
	dma_read_is(nic, iova + 0x1234, buf + 0x1234, 200);
	dma_read_is(nic, iova, buf, 16);
	dma_read_is(nic, iova + size - 16, buf + size - 16, 16);
	/* ... a read across pages ... */
	dma_read_is(nic, iova + 3 * PG - 100, buf + 3 * PG - 100, 200);
	/* ... and the program sees what the device wrote */
	fill(data, sizeof(data), 77);
	assert_int_equal(ap_dma_write(nic, iova + 5 * PG - 50, data, sizeof(data), NULL), 0);
	assert_memory_equal(buf + 5 * PG - 50, data, sizeof(data));
	buf[9 * PG + 3] = 0x3c;
	dma_read_is(nic, iova + 9 * PG + 3, buf + 9 * PG + 3, 1);
	/* past the end of the mapping faults, and a DMA that straddles the
	 * end copies nothing */
	dma_faults(nic, iova + size, AP_FAULT_TRANSLATION);
	dma_faults(nic, iova - PG, AP_FAULT_TRANSLATION);
	memcpy(back, buf + size - 100, 100);
	fill(data, sizeof(data), 78);
	assert_int_equal(ap_dma_write(nic, iova + size - 100, data, 200, NULL), -EFAULT);
	assert_memory_equal(buf + size - 100, back, 100);

	unmap_expect(ctx, container, iova, size, size);
	EXPECT(dma_avail(ctx, container) == 65535, "DMA_AVAIL after the unmap");
	memset(&f, 0, sizeof(f));
	assert_int_equal(ap_dma_read(nic, iova + 0x1234, back, 4, &f), -EFAULT);
	assert_int_equal(f.kind, AP_FAULT_TRANSLATION);
	assert_int_equal(f.iova, iova + 0x1234);
	assert_int_equal(f.sid, 0x10);
	dma_faults(nic, iova, AP_FAULT_TRANSLATION);

	assert_int_equal(ap_vfio_close(ctx, group), 0);
	assert_int_equal(ap_vfio_close(ctx, container), 0);
	ap_ctx_free(ctx);
	munmap(buf, size);
}

/* GET_INFO at every argsz: < 16 EINVAL; short of the caps, argsz = needed,
 * cap_offset 0 and nothing written past min(argsz, 24); then the chain. */
static void test_get_info_argsz_sweep(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	struct ap_iommu *smmu = mk_smmu(ctx, "smmu0", 48);
	struct ap_device *dev = mk_dev(ctx, "dev", smmu, 1, 0);
	struct info_view v;
	uint8_t buf[512];
	uint32_t a, i;
	int c, g;

	(void)state;
	c = open_type1v2(ctx, dev, &g);
	get_info(ctx, c, &v);
	assert_true(v.needed + 64 <= sizeof(buf));

	for (a = 0; a < v.needed + 32; a++) {
		struct vfio_iommu_type1_info *info = (struct vfio_iommu_type1_info *)buf;
		int e;

		memset(buf, 0xa5, sizeof(buf));
		memset(buf, 0, a < INFO_SZ ? a : INFO_SZ);
		info->argsz = a;
		e = verr(ctx, c, VFIO_IOMMU_GET_INFO, info);
		if (a < offsetof(struct vfio_iommu_type1_info, cap_offset)) {
			EXPECT(e == EINVAL, "GET_INFO argsz %u: %s, expected EINVAL", a,
			       e ? strerror(e) : "success");
			continue;
		}
		EXPECT(e == 0, "GET_INFO argsz %u: %s", a, strerror(e));
		EXPECT(info->iova_pgsizes == v.pgsizes, "argsz %u: pgsizes", a);
		EXPECT(info->flags == (VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS),
		       "argsz %u: flags 0x%x", a, info->flags);
		if (a < v.needed) {
			uint32_t written = a < INFO_SZ ? a : INFO_SZ;

			EXPECT(info->argsz == v.needed, "argsz %u: written back %u, expected %u", a,
			       info->argsz, v.needed);
			if (a >= INFO_SZ)
				EXPECT(info->cap_offset == 0, "argsz %u: cap_offset %u", a,
				       info->cap_offset);
			for (i = written; i < sizeof(buf); i++)
				EXPECT(buf[i] == 0xa5, "argsz %u: byte %u written", a, i);
		} else {
			EXPECT(info->argsz == a, "argsz %u: changed to %u", a, info->argsz);
			EXPECT(info->cap_offset == INFO_SZ, "argsz %u: cap_offset %u", a,
			       info->cap_offset);
			for (i = v.needed; i < sizeof(buf); i++)
				EXPECT(buf[i] == 0xa5, "argsz %u: byte %u written past the chain", a,
				       i);
		}
	}
	assert_int_equal(ap_vfio_close(ctx, g), 0);
	assert_int_equal(ap_vfio_close(ctx, c), 0);
	ap_ctx_free(ctx);
}

/* ---------------------------------------------------- heterogeneous container */

struct het {
	struct ap_ctx *ctx;
	struct ap_device *d48, *d32;
	int c, g48, g32;
};

static void het_init(struct het *h)
{
	struct ap_iommu *s48, *s32;

	h->ctx = mk_ctx();
	s48 = mk_smmu(h->ctx, "smmu48", 48);
	s32 = mk_smmu(h->ctx, "smmu32", 32);
	h->d48 = mk_dev(h->ctx, "nic", s48, 0x10, 3);
	h->d32 = mk_dev(h->ctx, "gpu", s32, 0x20, 7);
	h->c = open_container(h->ctx);
	h->g48 = open_group(h->ctx, h->d48);
	h->g32 = open_group(h->ctx, h->d32);
}

static void het_fini(struct het *h)
{
	assert_int_equal(ap_vfio_close(h->ctx, h->g32), 0);
	assert_int_equal(ap_vfio_close(h->ctx, h->g48), 0);
	assert_int_equal(ap_vfio_close(h->ctx, h->c), 0);
	ap_ctx_free(h->ctx);
}

static void test_hetero_refused_above_4g(void **state)
{
	struct het h;
	struct info_view before, after;
	uint8_t *buf;
	const uint64_t low = 0x200000, high = 5 * SZ_1G;

	(void)state;
	buf = buf_alloc(4 * SZ_64K);
	fill(buf, 4 * SZ_64K, 2);
	het_init(&h);
	join_container(h.ctx, h.g48, h.c);
	set_type1v2(h.ctx, h.c);
	MAP_OK(h.ctx, h.c, buf, low, SZ_64K, RW);
	MAP_OK(h.ctx, h.c, buf + SZ_64K, high, SZ_64K, RW);
	get_info(h.ctx, h.c, &before);

	/* §1.2 step 4: a mapping above the newcomer's aperture end: EINVAL */
	IOCTL_ERR(h.ctx, h.g32, VFIO_GROUP_SET_CONTAINER, &h.c, EINVAL);

	/* ... and nothing changed */
	EXPECT(group_flags(h.ctx, h.g32) == VFIO_GROUP_FLAGS_VIABLE,
	       "refused group: flags 0x%x", group_flags(h.ctx, h.g32));
	get_info(h.ctx, h.c, &after);
	expect_ranges(&after, 2, (const uint64_t[]){ 0, SW_MSI_START - 1, SW_MSI_END + 1, TOP48 });
	EXPECT(after.dma_avail == before.dma_avail, "DMA_AVAIL %u -> %u", before.dma_avail,
	       after.dma_avail);
	EXPECT(after.pgsizes == before.pgsizes, "pgsizes changed");
	dma_read_is(h.d48, low + 0x10, buf + 0x10, 32);
	dma_read_is(h.d48, high + 0x20, buf + SZ_64K + 0x20, 32);
	dma_faults(h.d32, low, AP_FAULT_NONE);
	dma_faults(h.d32, high, AP_FAULT_NONE);
	/* the refused group is free: another container takes it */
	{
		int c2 = open_container(h.ctx);

		join_container(h.ctx, h.g32, c2);
		set_type1v2(h.ctx, c2);
		MAP_OK(h.ctx, c2, buf + 3 * SZ_64K, low, SZ_64K, VFIO_DMA_MAP_FLAG_READ);
		dma_read_is(h.d32, low + 8, buf + 3 * SZ_64K + 8, 8);
		dma_read_is(h.d48, low + 8, buf + 8, 8);
		IOCTL_OK(h.ctx, h.g32, VFIO_GROUP_UNSET_CONTAINER, NULL);
		assert_int_equal(ap_vfio_close(h.ctx, c2), 0);
	}
	/* the IOVA list still allows a new mapping above 4 GiB */
	MAP_OK(h.ctx, h.c, buf + 2 * SZ_64K, high + SZ_1M, SZ_64K, RW);
	dma_read_is(h.d48, high + SZ_1M, buf + 2 * SZ_64K, 16);

	/* remove what lies above 4 GiB: now the 32-bit group joins, sees the
	 * low mapping (replay), and the ranges shrink */
	unmap_expect(h.ctx, h.c, high, SZ_2M, 2 * SZ_64K);
	join_container(h.ctx, h.g32, h.c);
	EXPECT(group_flags(h.ctx, h.g32) == (VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET),
	       "flags");
	get_info(h.ctx, h.c, &after);
	expect_ranges(&after, 2, (const uint64_t[]){ 0, SW_MSI_START - 1, SW_MSI_END + 1, TOP32 });
	dma_read_is(h.d32, low + 0x40, buf + 0x40, 64);
	dma_read_is(h.d48, low + 0x40, buf + 0x40, 64);
	dma_faults(h.d32, high, AP_FAULT_NONE);
	EXPECT(map_dma(h.ctx, h.c, buf + SZ_64K, high, SZ_64K, RW) == EINVAL,
	       "map above 4 GiB with a 32-bit group in the container");
	het_fini(&h);
	munmap(buf, 4 * SZ_64K);
}

static void test_hetero_accepted_below_4g(void **state)
{
	struct het h;
	struct info_view v;
	uint8_t *buf, data[64];
	const uint64_t top = TOP32 + 1 - SZ_64K;
	int e;

	(void)state;
	buf = buf_alloc(4 * SZ_64K);
	fill(buf, 4 * SZ_64K, 3);
	het_init(&h);
	/* both groups before SET_IOMMU */
	join_container(h.ctx, h.g48, h.c);
	join_container(h.ctx, h.g32, h.c);
	set_type1v2(h.ctx, h.c);
	get_info(h.ctx, h.c, &v);
	expect_ranges(&v, 2, (const uint64_t[]){ 0, SW_MSI_START - 1, SW_MSI_END + 1, TOP32 });
	EXPECT(v.pgsizes == (PG | SZ_2M | SZ_1G), "pgsizes 0x%llx", (ull)v.pgsizes);

	/* the last page below 4 GiB maps; a byte more does not */
	MAP_OK(h.ctx, h.c, buf, top, SZ_64K, RW);
	e = map_dma(h.ctx, h.c, buf + SZ_64K, TOP32 + 1 - PG, 2 * PG, RW);
	EXPECT(e == EEXIST, "overlapping the top mapping: %s, expected EEXIST", strerror(e));
	e = map_dma(h.ctx, h.c, buf + SZ_64K, SZ_4G, PG, RW);
	EXPECT(e == EINVAL, "above 4 GiB: %s, expected EINVAL", e ? strerror(e) : "success");
	e = map_dma(h.ctx, h.c, buf + SZ_64K, SW_MSI_START, PG, RW);
	EXPECT(e == EINVAL, "in the SW_MSI window: %s, expected EINVAL", e ? strerror(e) : "success");
	MAP_OK(h.ctx, h.c, buf + SZ_64K, SW_MSI_START - SZ_64K, SZ_64K, RW);
	MAP_OK(h.ctx, h.c, buf + 2 * SZ_64K, SW_MSI_END + 1, SZ_64K, RW);

	/* both devices DMA through every mapping */
	dma_read_is(h.d32, TOP32 - 15, buf + SZ_64K - 16, 16);
	dma_read_is(h.d48, TOP32 - 15, buf + SZ_64K - 16, 16);
	fill(data, sizeof(data), 9);
	assert_int_equal(ap_dma_write(h.d32, SW_MSI_END + 1 + 0x100, data, sizeof(data), NULL), 0);
	assert_memory_equal(buf + 2 * SZ_64K + 0x100, data, sizeof(data));
	dma_read_is(h.d48, SW_MSI_START - 64, buf + 2 * SZ_64K - 64, 64);
	dma_faults(h.d32, SW_MSI_START, AP_FAULT_NONE);
	dma_faults(h.d48, SW_MSI_START, AP_FAULT_NONE);

	/* the 32-bit group leaves: mappings stay for the other; the reported
	 * ranges and what MAP accepts agree */
	IOCTL_OK(h.ctx, h.g32, VFIO_GROUP_UNSET_CONTAINER, NULL);
	dma_faults(h.d32, top, AP_FAULT_NONE);
	dma_read_is(h.d48, top, buf, 16);
	get_info(h.ctx, h.c, &v);
	EXPECT(v.nr == 2 && v.r[0].start == 0 && v.r[0].end == SW_MSI_START - 1 &&
		       v.r[1].start == SW_MSI_END + 1 && (v.r[1].end == TOP32 || v.r[1].end == TOP48),
	       "ranges after the 32-bit group left");
	e = map_dma(h.ctx, h.c, buf + 3 * SZ_64K, SZ_4G, SZ_64K, RW);
	EXPECT(e == (v.r[1].end == TOP48 ? 0 : EINVAL),
	       "map above 4 GiB: %s, but the ranges end at 0x%llx", e ? strerror(e) : "success",
	       (ull)v.r[1].end);
	if (e == 0)
		dma_read_is(h.d48, SZ_4G, buf + 3 * SZ_64K, 16);
	het_fini(&h);
	munmap(buf, 4 * SZ_64K);
}

/* A 32-bit group joins a live container whose mappings all lie below 4 GiB:
 * accepted, and it sees the existing mappings. */
static void test_hetero_join_later(void **state)
{
	struct het h;
	struct info_view v;
	uint8_t *buf;

	(void)state;
	buf = buf_alloc(SZ_64K);
	fill(buf, SZ_64K, 4);
	het_init(&h);
	join_container(h.ctx, h.g48, h.c);
	set_type1v2(h.ctx, h.c);
	MAP_OK(h.ctx, h.c, buf, 0xfff00000, SZ_64K, VFIO_DMA_MAP_FLAG_READ);
	MAP_OK(h.ctx, h.c, buf, TOP32 + 1 - PG, PG, RW); /* ends exactly at 4 GiB */
	join_container(h.ctx, h.g32, h.c);
	dma_read_is(h.d32, TOP32 - 7, buf + PG - 8, 8);
	unmap_expect(h.ctx, h.c, TOP32 + 1 - PG, PG, PG);
	get_info(h.ctx, h.c, &v);
	expect_ranges(&v, 2, (const uint64_t[]){ 0, SW_MSI_START - 1, SW_MSI_END + 1, TOP32 });
	EXPECT(v.dma_avail == 65534, "DMA_AVAIL %u", v.dma_avail);
	dma_read_is(h.d32, 0xfff00000 + 0x800, buf + 0x800, 128);
	/* the mapping is read-only for both */
	assert_int_equal(ap_dma_write(h.d32, 0xfff00000, buf, 8, NULL), -EFAULT);
	assert_int_equal(ap_dma_write(h.d48, 0xfff00000, buf, 8, NULL), -EFAULT);
	unmap_expect(h.ctx, h.c, 0xfff00000, SZ_64K, SZ_64K);
	dma_faults(h.d32, 0xfff00000, AP_FAULT_NONE);
	dma_faults(h.d48, 0xfff00000, AP_FAULT_NONE);
	het_fini(&h);
	munmap(buf, SZ_64K);
}

/* VT-d reserves its interrupt window 0xfee00000-0xfeefffff (§2.5). */
static void test_vtd_ranges(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	struct ap_iommu *vtd = mk_vtd(ctx, "dmar0");
	struct ap_iommu *s32 = mk_smmu(ctx, "smmu32", 32);
	struct ap_device *ssd = mk_dev(ctx, "ssd", vtd, 0x100, 1);
	struct ap_device *gpu = mk_dev(ctx, "gpu", s32, 0x20, 2);
	struct info_view v;
	uint8_t *buf;
	int c, g1, g2, e;

	(void)state;
	buf = buf_alloc(SZ_64K);
	fill(buf, SZ_64K, 5);
	c = open_type1v2(ctx, ssd, &g1);
	get_info(ctx, c, &v);
	expect_ranges(&v, 2, (const uint64_t[]){ 0, VTD_MSI_START - 1, VTD_MSI_END + 1, TOP48 });
	e = map_dma(ctx, c, buf, VTD_MSI_START + SZ_64K, PG, RW);
	EXPECT(e == EINVAL, "map in the VT-d MSI window: %s", e ? strerror(e) : "success");
	e = map_dma(ctx, c, buf, VTD_MSI_START - PG, 2 * PG, RW);
	EXPECT(e == EINVAL, "map across the VT-d MSI window start: %s", e ? strerror(e) : "success");
	MAP_OK(ctx, c, buf, VTD_MSI_START - SZ_64K, SZ_64K, RW);
	dma_read_is(ssd, VTD_MSI_START - 32, buf + SZ_64K - 32, 32);
	/* SW_MSI of an SMMU is not reserved for a VT-d-only container */
	MAP_OK(ctx, c, buf, SW_MSI_START, PG, VFIO_DMA_MAP_FLAG_READ);
	dma_read_is(ssd, SW_MSI_START + 8, buf + 8, 8);

	/* a 32-bit SMMU group cannot join while its SW_MSI window is mapped
	 * (§1.2 step 5: a reserved region overlapping a mapping: EINVAL) */
	g2 = open_group(ctx, gpu);
	IOCTL_ERR(ctx, g2, VFIO_GROUP_SET_CONTAINER, &c, EINVAL);
	get_info(ctx, c, &v);
	expect_ranges(&v, 2, (const uint64_t[]){ 0, VTD_MSI_START - 1, VTD_MSI_END + 1, TOP48 });
	unmap_expect(ctx, c, SW_MSI_START, PG, PG);
	/* now it joins: aperture 32 bits, both windows cut out */
	join_container(ctx, g2, c);
	get_info(ctx, c, &v);
	expect_ranges(&v, 3,
		      (const uint64_t[]){ 0, SW_MSI_START - 1, SW_MSI_END + 1, VTD_MSI_START - 1,
					  VTD_MSI_END + 1, TOP32 });
	dma_read_is(gpu, VTD_MSI_START - 32, buf + SZ_64K - 32, 32);
	assert_int_equal(ap_vfio_close(ctx, g2), 0);
	assert_int_equal(ap_vfio_close(ctx, g1), 0);
	assert_int_equal(ap_vfio_close(ctx, c), 0);
	ap_ctx_free(ctx);
	munmap(buf, SZ_64K);
}

/* A 39-bit VT-d unit: the aperture, and so the last range, ends at 2^39-1. */
static void test_vtd39_ranges(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	struct ap_iommu_config cfg;
	struct ap_iommu *vtd;
	struct ap_device *dev;
	struct info_view v;
	uint8_t *buf;
	int c, g, e;

	(void)state;
	buf = buf_alloc(SZ_64K);
	fill(buf, SZ_64K, 51);
	ap_iommu_config_init(&cfg, AP_IOMMU_INTEL_VTD);
	cfg.ias = 39;
	vtd = mk_iommu_cfg(ctx, "dmar39", &cfg);
	dev = mk_dev(ctx, "nvme", vtd, 8, AP_GROUP_OWN);
	c = open_type1v2(ctx, dev, &g);
	get_info(ctx, c, &v);
	expect_ranges(&v, 2, (const uint64_t[]){ 0, VTD_MSI_START - 1, VTD_MSI_END + 1,
						 (1ull << 39) - 1 });
	MAP_OK(ctx, c, buf, (1ull << 39) - SZ_64K, SZ_64K, RW);
	dma_read_is(dev, (1ull << 39) - 16, buf + SZ_64K - 16, 16);
	e = map_dma(ctx, c, buf, 1ull << 39, PG, RW);
	EXPECT(e == EINVAL, "map at 2^39 on a 39-bit unit: %s", e ? strerror(e) : "success");
	assert_int_equal(ap_vfio_close(ctx, g), 0);
	assert_int_equal(ap_vfio_close(ctx, c), 0);
	ap_ctx_free(ctx);
	munmap(buf, SZ_64K);
}

/* A device's own reserved regions: RESERVED and MSI are cut out of the
 * ranges, DIRECT_RELAXABLE is not (§1.2 step 6). */
static void test_device_resv_ranges(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	struct ap_iommu *smmu = mk_smmu(ctx, "smmu0", 48);
	struct ap_device *a = mk_dev(ctx, "a", smmu, 1, 4);
	struct ap_device *b = mk_dev(ctx, "b", smmu, 2, 4); /* same group */
	struct info_view v;
	uint8_t *buf;
	int c, g, e;

	(void)state;
	buf = buf_alloc(SZ_64K);
	fill(buf, SZ_64K, 6);
	assert_int_equal(ap_device_add_resv(a, 0x40000000, SZ_1M, AP_RESV_RESERVED), 0);
	assert_int_equal(ap_device_add_resv(b, 0x50000000, SZ_1M, AP_RESV_DIRECT_RELAXABLE), 0);
	assert_int_equal(ap_device_add_resv(b, 0x60000000, 2 * SZ_1M, AP_RESV_MSI), 0);
	c = open_type1v2(ctx, a, &g);
	get_info(ctx, c, &v);
	expect_ranges(&v, 4,
		      (const uint64_t[]){ 0, SW_MSI_START - 1, SW_MSI_END + 1, 0x3fffffff,
					  0x40100000, 0x5fffffff, 0x60200000, TOP48 });
	e = map_dma(ctx, c, buf, 0x400ff000, PG, RW);
	EXPECT(e == EINVAL, "map in a RESERVED region: %s", e ? strerror(e) : "success");
	e = map_dma(ctx, c, buf, 0x601ff000, 2 * PG, RW);
	EXPECT(e == EINVAL, "map across an MSI region's end: %s", e ? strerror(e) : "success");
	/* DIRECT_RELAXABLE is ignored: mappable, and DMA goes to the buffer */
	MAP_OK(ctx, c, buf, 0x50000000, SZ_64K, RW);
	dma_read_is(b, 0x50000000 + 0x100, buf + 0x100, 64);
	dma_read_is(a, 0x50000000 + 0x100, buf + 0x100, 64);
	assert_int_equal(ap_vfio_close(ctx, g), 0);
	assert_int_equal(ap_vfio_close(ctx, c), 0);
	ap_ctx_free(ctx);
	munmap(buf, SZ_64K);
}

/* Reserved regions at the edges: overlapping regions are cut as one, a
 * region at 0 or at the aperture's end trims the first or last range, one
 * beyond the aperture changes nothing; a DIRECT_RELAXABLE region of a
 * newcomer may overlap a mapping; regions that leave nothing refuse the
 * group (§1.2 steps 5 and 6). */
static void test_resv_edges(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	struct ap_iommu *smmu = mk_smmu(ctx, "smmu0", 48);
	struct ap_device *a = mk_dev(ctx, "a", smmu, 1, 1);
	struct ap_device *b = mk_dev(ctx, "b", smmu, 2, 2);
	struct ap_device *all = mk_dev(ctx, "all", smmu, 3, 3);
	struct info_view v;
	uint8_t *buf;
	int c, ga, gb, gall, e;

	(void)state;
	buf = buf_alloc(SZ_64K);
	fill(buf, SZ_64K, 31);
	assert_int_equal(ap_device_add_resv(a, 0, SZ_64K, AP_RESV_RESERVED), 0);
	assert_int_equal(ap_device_add_resv(a, SW_MSI_START + SZ_1M / 2, SZ_1M, AP_RESV_RESERVED), 0);
	assert_int_equal(ap_device_add_resv(a, TOP48 + 1 - SZ_1M, SZ_1M, AP_RESV_MSI), 0);
	assert_int_equal(ap_device_add_resv(a, 1ull << 50, SZ_1M, AP_RESV_RESERVED), 0);
	assert_int_equal(ap_device_add_resv(b, 0x50000000, SZ_1M, AP_RESV_DIRECT_RELAXABLE), 0);
	assert_int_equal(ap_device_add_resv(all, 0, 1ull << 48, AP_RESV_RESERVED), 0);

	c = open_type1v2(ctx, a, &ga);
	get_info(ctx, c, &v);
	expect_ranges(&v, 2,
		      (const uint64_t[]){ SZ_64K, SW_MSI_START - 1, SW_MSI_START + SZ_1M / 2 + SZ_1M,
					  TOP48 - SZ_1M });
	e = map_dma(ctx, c, buf, 0, PG, RW);
	EXPECT(e == EINVAL, "map at 0 (reserved): %s", e ? strerror(e) : "success");
	e = map_dma(ctx, c, buf, SW_MSI_END + 1, PG, RW);
	EXPECT(e == EINVAL, "map just above SW_MSI, inside the overlapping region: %s",
	       e ? strerror(e) : "success");
	e = map_dma(ctx, c, buf, TOP48 + 1 - PG, PG, RW);
	EXPECT(e == EINVAL, "map at the aperture's last page (MSI region): %s",
	       e ? strerror(e) : "success");
	MAP_OK(ctx, c, buf, SZ_64K, PG, RW);
	MAP_OK(ctx, c, buf, TOP48 + 1 - SZ_1M - PG, PG, RW);

	/* a DIRECT_RELAXABLE region over a mapping does not refuse a group */
	MAP_OK(ctx, c, buf, 0x50000000, SZ_64K, RW);
	gb = open_group(ctx, b);
	join_container(ctx, gb, c);
	dma_read_is(b, 0x50000000 + 0x20, buf + 0x20, 32);
	get_info(ctx, c, &v);
	EXPECT(v.nr == 2, "DIRECT_RELAXABLE cut the ranges: %u ranges", v.nr);

	/* a group whose reserved regions cover the whole aperture */
	gall = open_group(ctx, all);
	IOCTL_ERR(ctx, gall, VFIO_GROUP_SET_CONTAINER, &c, EINVAL);
	get_info(ctx, c, &v);
	EXPECT(v.nr == 2 && v.dma_avail == 65532, "a refused group changed the container");
	{
		int c2 = open_container(ctx);

		join_container(ctx, gall, c2);
		IOCTL_ERR(ctx, c2, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU, EINVAL);
		IOCTL_OK(ctx, gall, VFIO_GROUP_UNSET_CONTAINER, NULL);
		assert_int_equal(ap_vfio_close(ctx, c2), 0);
	}
	assert_int_equal(ap_vfio_close(ctx, gall), 0);
	assert_int_equal(ap_vfio_close(ctx, gb), 0);
	assert_int_equal(ap_vfio_close(ctx, ga), 0);
	assert_int_equal(ap_vfio_close(ctx, c), 0);
	ap_ctx_free(ctx);
	munmap(buf, SZ_64K);
}

/* ------------------------------------------------------------ lifecycle */

static void test_group_lifecycle(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	struct ap_iommu *s0 = mk_smmu(ctx, "smmu0", 48);
	struct ap_iommu *s1 = mk_smmu(ctx, "smmu1", 48);
	struct ap_device *a = mk_dev(ctx, "a", s0, 1, AP_GROUP_OWN);
	struct ap_device *b = mk_dev(ctx, "b", s1, 1, AP_GROUP_OWN);
	uint8_t *buf;
	int c, ga, gb, e;

	(void)state;
	buf = buf_alloc(SZ_64K);
	fill(buf, SZ_64K, 7);
	c = open_container(ctx);
	ga = open_group(ctx, a);
	gb = open_group(ctx, b);
	join_container(ctx, ga, c);
	join_container(ctx, gb, c);
	set_type1v2(ctx, c);
	MAP_OK(ctx, c, buf, 0x10000000, SZ_64K, RW);
	dma_read_is(a, 0x10000000, buf, 32);
	dma_read_is(b, 0x10000000, buf, 32);

	/* b leaves: a keeps its mapping, b's DMA faults */
	IOCTL_OK(ctx, gb, VFIO_GROUP_UNSET_CONTAINER, NULL);
	EXPECT(group_flags(ctx, gb) == VFIO_GROUP_FLAGS_VIABLE, "b still in a container");
	dma_faults(b, 0x10000000, AP_FAULT_NONE);
	dma_read_is(a, 0x10000000, buf, 32);
	EXPECT(dma_avail(ctx, c) == 65534, "DMA_AVAIL after b left");
	/* b comes back into the live container and sees the mapping (replay) */
	join_container(ctx, gb, c);
	dma_read_is(b, 0x10000100, buf + 0x100, 32);

	/* closing a group's handle takes it out of its container */
	assert_int_equal(ap_vfio_close(ctx, gb), 0);
	dma_faults(b, 0x10000000, AP_FAULT_NONE);
	gb = open_group(ctx, b);
	EXPECT(group_flags(ctx, gb) == VFIO_GROUP_FLAGS_VIABLE, "reopened group in a container");

	/* the last group leaves: the container loses its IOMMU and mappings */
	IOCTL_OK(ctx, ga, VFIO_GROUP_UNSET_CONTAINER, NULL);
	dma_faults(a, 0x10000000, AP_FAULT_NONE);
	e = map_dma(ctx, c, buf, 0x20000000, PG, RW);
	EXPECT(e == EINVAL, "MAP_DMA on a container with no IOMMU: %s", e ? strerror(e) : "success");
	{
		struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };

		IOCTL_ERR(ctx, c, VFIO_IOMMU_GET_INFO, &info, EINVAL);
	}
	/* back: a fresh type1 with nothing mapped */
	join_container(ctx, ga, c);
	set_type1v2(ctx, c);
	EXPECT(dma_avail(ctx, c) == 65535, "a fresh IOMMU has every entry (got %u)",
	       dma_avail(ctx, c));
	dma_faults(a, 0x10000000, AP_FAULT_TRANSLATION);
	unmap_expect(ctx, c, 0x10000000, SZ_64K, 0);
	MAP_OK(ctx, c, buf, 0x10000000, SZ_64K, RW);
	dma_read_is(a, 0x10000000, buf, 32);

	assert_int_equal(ap_vfio_close(ctx, ga), 0);
	assert_int_equal(ap_vfio_close(ctx, gb), 0);
	assert_int_equal(ap_vfio_close(ctx, c), 0);
	ap_ctx_free(ctx);
	munmap(buf, SZ_64K);
}

/* Closing the handles ends the container's use of the memory (vfio.h):
 * container first, group still in it, then the group; afterwards DMA
 * faults and the program may unmap its buffer. */
static void test_close_order(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	struct ap_iommu *smmu = mk_smmu(ctx, "smmu0", 48);
	struct ap_device *dev = mk_dev(ctx, "dev", smmu, 1, AP_GROUP_OWN);
	uint8_t *buf, tmp[8];
	int c, g;

	(void)state;
	buf = buf_alloc(SZ_64K);
	fill(buf, SZ_64K, 41);
	c = open_type1v2(ctx, dev, &g);
	MAP_OK(ctx, c, buf, 0x100000, SZ_64K, RW);
	dma_read_is(dev, 0x100000, buf, 8);
	assert_int_equal(ap_vfio_close(ctx, c), 0);
	assert_int_equal(ap_vfio_close(ctx, g), 0);
	dma_faults(dev, 0x100000, AP_FAULT_NONE);
	munmap(buf, SZ_64K);
	assert_int_equal(ap_dma_read(dev, 0x100000, tmp, 8, NULL), -EFAULT);
	assert_int_equal(ap_dma_write(dev, 0x100000, tmp, 8, NULL), -EFAULT);
	/* the group opens again, into a fresh container */
	c = open_type1v2(ctx, dev, &g);
	EXPECT(dma_avail(ctx, c) == 65535, "a fresh container inherited mappings");
	dma_faults(dev, 0x100000, AP_FAULT_TRANSLATION);
	assert_int_equal(ap_vfio_close(ctx, g), 0);
	assert_int_equal(ap_vfio_close(ctx, c), 0);
	ap_ctx_free(ctx);
}

/* Two containers are isolated: the same IOVA reaches each one's buffer. */
static void test_two_containers(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	struct ap_iommu *smmu = mk_smmu(ctx, "smmu0", 48);
	struct ap_device *a = mk_dev(ctx, "a", smmu, 1, AP_GROUP_OWN);
	struct ap_device *b = mk_dev(ctx, "b", smmu, 2, AP_GROUP_OWN);
	uint8_t *ba, *bb;
	int ca, cb, ga, gb;

	(void)state;
	ba = buf_alloc(SZ_64K);
	bb = buf_alloc(SZ_64K);
	fill(ba, SZ_64K, 10);
	fill(bb, SZ_64K, 11);
	ca = open_container(ctx);
	cb = open_container(ctx);
	assert_true(ca != cb);
	ga = open_group(ctx, a);
	gb = open_group(ctx, b);
	join_container(ctx, ga, ca);
	join_container(ctx, gb, cb);
	set_type1v2(ctx, ca);
	set_type1v2(ctx, cb);
	/* a group already in one container cannot go into another */
	IOCTL_ERR(ctx, gb, VFIO_GROUP_SET_CONTAINER, &ca, EINVAL);
	MAP_OK(ctx, ca, ba, 0x100000, SZ_64K, RW);
	MAP_OK(ctx, cb, bb, 0x100000, SZ_64K, RW);
	MAP_OK(ctx, cb, bb, 0x300000, PG, RW);
	dma_read_is(a, 0x100010, ba + 0x10, 64);
	dma_read_is(b, 0x100010, bb + 0x10, 64);
	dma_faults(a, 0x300000, AP_FAULT_TRANSLATION);
	EXPECT(dma_avail(ctx, ca) == 65534 && dma_avail(ctx, cb) == 65533, "DMA_AVAIL per container");
	unmap_expect(ctx, ca, 0, 1ull << 40, SZ_64K);
	dma_faults(a, 0x100010, AP_FAULT_TRANSLATION);
	dma_read_is(b, 0x100010, bb + 0x10, 64);
	assert_int_equal(ap_vfio_close(ctx, ga), 0);
	assert_int_equal(ap_vfio_close(ctx, gb), 0);
	assert_int_equal(ap_vfio_close(ctx, ca), 0);
	assert_int_equal(ap_vfio_close(ctx, cb), 0);
	ap_ctx_free(ctx);
	munmap(ba, SZ_64K);
	munmap(bb, SZ_64K);
}

/* READ and WRITE are from the device's point of view. */
static void test_dma_permissions(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	struct ap_iommu *smmu = mk_smmu(ctx, "smmu0", 48);
	struct ap_device *dev = mk_dev(ctx, "dev", smmu, 1, AP_GROUP_OWN);
	uint8_t *buf, save[64], data[64];
	struct ap_fault f;
	int c, g;

	(void)state;
	buf = buf_alloc(2 * PG);
	fill(buf, 2 * PG, 12);
	c = open_type1v2(ctx, dev, &g);
	MAP_OK(ctx, c, buf, 0x100000, PG, VFIO_DMA_MAP_FLAG_READ);
	MAP_OK(ctx, c, buf + PG, 0x101000, PG, RW);
	dma_read_is(dev, 0x100000, buf, 64);
	memcpy(save, buf, sizeof(save));
	fill(data, sizeof(data), 13);
	memset(&f, 0, sizeof(f));
	assert_int_equal(ap_dma_write(dev, 0x100000, data, sizeof(data), &f), -EFAULT);
	assert_int_equal(f.kind, AP_FAULT_PERMISSION);
	assert_memory_equal(buf, save, sizeof(save));
	/* a write spanning the read-only and the writable page moves nothing */
	memcpy(save, buf + PG - 32, 32);
	assert_int_equal(ap_dma_write(dev, 0x101000 - 32, data, sizeof(data), NULL), -EFAULT);
	assert_memory_equal(buf + PG - 32, save, 32);
	assert_int_equal(ap_dma_write(dev, 0x101000, data, sizeof(data), NULL), 0);
	assert_memory_equal(buf + PG, data, sizeof(data));
	assert_int_equal(ap_vfio_close(ctx, g), 0);
	assert_int_equal(ap_vfio_close(ctx, c), 0);
	ap_ctx_free(ctx);
	munmap(buf, 2 * PG);
}

/* The same buffer mapped at two IOVAs: both reach the same bytes (§1.4). */
static void test_alias_and_adjacent(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	struct ap_iommu *smmu = mk_smmu(ctx, "smmu0", 48);
	struct ap_device *dev = mk_dev(ctx, "dev", smmu, 1, AP_GROUP_OWN);
	uint8_t *buf, data[16];
	int c, g;

	(void)state;
	buf = buf_alloc(4 * PG);
	fill(buf, 4 * PG, 14);
	c = open_type1v2(ctx, dev, &g);
	MAP_OK(ctx, c, buf, 0x100000, 2 * PG, RW);
	MAP_OK(ctx, c, buf, 0x900000, 2 * PG, RW);
	/* adjacent mappings are not merged: two entries, unmapped separately */
	MAP_OK(ctx, c, buf + 2 * PG, 0x102000, 2 * PG, RW);
	EXPECT(dma_avail(ctx, c) == 65532, "DMA_AVAIL %u", dma_avail(ctx, c));
	fill(data, sizeof(data), 15);
	assert_int_equal(ap_dma_write(dev, 0x900100, data, sizeof(data), NULL), 0);
	dma_read_is(dev, 0x100100, data, sizeof(data));
	assert_memory_equal(buf + 0x100, data, sizeof(data));
	/* one DMA across the two adjacent mappings */
	dma_read_is(dev, 0x102000 - 8, buf + 2 * PG - 8, 16);
	unmap_expect(ctx, c, 0x102000, 2 * PG, 2 * PG);
	dma_faults(dev, 0x102000, AP_FAULT_TRANSLATION);
	dma_read_is(dev, 0x101ff0, buf + 2 * PG - 16, 16);
	unmap_expect(ctx, c, 0x100000, 0x1000000, 4 * PG);
	EXPECT(dma_avail(ctx, c) == 65535, "DMA_AVAIL %u", dma_avail(ctx, c));
	assert_int_equal(ap_vfio_close(ctx, g), 0);
	assert_int_equal(ap_vfio_close(ctx, c), 0);
	ap_ctx_free(ctx);
	munmap(buf, 4 * PG);
}

/* ------------------------------------------------------------ dirty pages */

/* GET_BITMAP of [iova, iova+size) at pgsize into bits (zeroed first). */
static int get_bitmap(struct ap_ctx *ctx, int c, uint64_t iova, uint64_t size, uint64_t pgsize,
		      uint64_t *bits, size_t words)
{
	uint8_t raw[sizeof(struct vfio_iommu_type1_dirty_bitmap) +
		    sizeof(struct vfio_iommu_type1_dirty_bitmap_get)];
	struct vfio_iommu_type1_dirty_bitmap *d = (struct vfio_iommu_type1_dirty_bitmap *)raw;
	struct vfio_iommu_type1_dirty_bitmap_get g = {
		.iova = iova, .size = size,
		.bitmap = { .pgsize = pgsize, .size = words * 8, .data = (__u64 *)(void *)bits },
	};

	memset(bits, 0, words * 8);
	memset(raw, 0, sizeof(raw));
	d->argsz = sizeof(raw);
	d->flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	memcpy(d->data, &g, sizeof(g));
	return verr(ctx, c, VFIO_IOMMU_DIRTY_PAGES, d);
}

static void expect_bits(const uint64_t *bits, size_t words, const uint64_t *want, const char *what)
{
	size_t i;

	for (i = 0; i < words; i++)
		EXPECT(bits[i] == want[i], "%s: dirty word %zu is 0x%016llx, expected 0x%016llx",
		       what, i, (ull)bits[i], (ull)want[i]);
}

static void test_dirty_tracking(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	struct ap_iommu *smmu = mk_smmu(ctx, "smmu0", 48);
	struct ap_device *dev = mk_dev(ctx, "dev", smmu, 1, AP_GROUP_OWN);
	struct ap_device *dev2 = mk_dev(ctx, "dev2", smmu, 2, ap_device_group_id(dev));
	const uint64_t A = 0x1000000, B = 0x1060000; /* 80 and 16 pages, 16 between */
	uint8_t *buf, tmp[16] = { 1, 2, 3 };
	uint64_t bits[4];
	int c, g;

	(void)state;
	buf = buf_alloc(96 * PG);
	c = open_type1v2(ctx, dev, &g);
	MAP_OK(ctx, c, buf, A, 80 * PG, RW);
	MAP_OK(ctx, c, buf + 80 * PG, B, 16 * PG, RW);

	/* not started: GET_BITMAP is EINVAL */
	EXPECT(get_bitmap(ctx, c, A, 80 * PG, PG, bits, 2) == EINVAL, "GET_BITMAP before START");
	/* a write before START is not reported */
	assert_int_equal(ap_dma_write(dev, A + 2 * PG, tmp, 4, NULL), 0);
	EXPECT(dirty_flags(ctx, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) == 0, "START");
	EXPECT(dirty_flags(ctx, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) == 0, "START is idempotent");
	EXPECT(get_bitmap(ctx, c, A, 80 * PG, PG, bits, 2) == 0, "GET_BITMAP");
	expect_bits(bits, 2, (const uint64_t[]){ 0, 0 }, "nothing written since START");

	/* writes dirty pages; reads do not */
	assert_int_equal(ap_dma_write(dev, A + 1 * PG + 5, tmp, 4, NULL), 0);
	assert_int_equal(ap_dma_write(dev2, A + 5 * PG, tmp, 1, NULL), 0);
	assert_int_equal(ap_dma_write(dev, A + 8 * PG - 2, tmp, 4, NULL), 0); /* pages 7, 8 */
	assert_int_equal(ap_dma_write(dev, A + 70 * PG, tmp, 16, NULL), 0);   /* word 1 */
	assert_int_equal(ap_dma_read(dev, A + 3 * PG, tmp, 16, NULL), 0);
	assert_int_equal(ap_dma_read(dev2, A + 64 * PG, tmp, 16, NULL), 0);
	assert_int_equal(ap_dma_write(dev, B + 3 * PG, tmp, 8, NULL), 0);
	/* a faulting write dirties nothing */
	assert_int_equal(ap_dma_write(dev, A + 80 * PG - 4, tmp, 8, NULL), -EFAULT);

	EXPECT(get_bitmap(ctx, c, A, 80 * PG, PG, bits, 2) == 0, "GET_BITMAP");
	expect_bits(bits, 2,
		    (const uint64_t[]){ (1ull << 1) | (1ull << 5) | (1ull << 7) | (1ull << 8),
					1ull << (70 - 64) },
		    "mapping A");
	/* after a report the bits are reset */
	EXPECT(get_bitmap(ctx, c, A, 80 * PG, PG, bits, 2) == 0, "GET_BITMAP again");
	expect_bits(bits, 2, (const uint64_t[]){ 0, 0 }, "mapping A, reported already");

	/* a range covering both mappings and the gap: bit i is page i from iova */
	assert_int_equal(ap_dma_write(dev, A + 79 * PG, tmp, 1, NULL), 0);
	EXPECT(get_bitmap(ctx, c, A, B + 16 * PG - A, PG, bits, 2) == 0, "GET_BITMAP over A and B");
	expect_bits(bits, 2, (const uint64_t[]){ 0, (1ull << (79 - 64)) | (1ull << (96 + 3 - 64)) },
		    "A, gap and B");

	/* UNMAP with GET_DIRTY_BITMAP reports, then unmaps */
	assert_int_equal(ap_dma_write(dev, B + 15 * PG, tmp, 1, NULL), 0);
	{
		uint8_t raw[sizeof(struct vfio_iommu_type1_dma_unmap) + sizeof(struct vfio_bitmap)];
		struct vfio_iommu_type1_dma_unmap *u = (struct vfio_iommu_type1_dma_unmap *)raw;
		struct vfio_bitmap bm = { .pgsize = PG, .size = 8, .data = (__u64 *)(void *)bits };

		memset(bits, 0, sizeof(bits));
		memset(raw, 0, sizeof(raw));
		u->argsz = sizeof(raw);
		u->flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
		u->iova = B;
		u->size = 16 * PG;
		memcpy(u->data, &bm, sizeof(bm));
		IOCTL_OK(ctx, c, VFIO_IOMMU_UNMAP_DMA, u);
		EXPECT(u->size == 16 * PG, "unmapped 0x%llx", (ull)u->size);
		EXPECT(bits[0] == (1ull << 15), "UNMAP dirty bitmap 0x%llx, expected bit 15",
		       (ull)bits[0]);
	}
	dma_faults(dev, B, AP_FAULT_TRANSLATION);

	/* STOP; GET_BITMAP is refused again, START afresh forgets old writes */
	assert_int_equal(ap_dma_write(dev, A + 9 * PG, tmp, 1, NULL), 0);
	EXPECT(dirty_flags(ctx, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) == 0, "STOP");
	EXPECT(dirty_flags(ctx, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) == 0, "STOP is idempotent");
	EXPECT(get_bitmap(ctx, c, A, 80 * PG, PG, bits, 2) == EINVAL, "GET_BITMAP after STOP");
	assert_int_equal(ap_dma_write(dev, A + 10 * PG, tmp, 1, NULL), 0);
	EXPECT(dirty_flags(ctx, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) == 0, "START");
	assert_int_equal(ap_dma_write(dev, A + 11 * PG, tmp, 1, NULL), 0);
	/* a mapping made while tracking is on is tracked too */
	MAP_OK(ctx, c, buf + 80 * PG, B, 16 * PG, RW);
	assert_int_equal(ap_dma_write(dev, B, tmp, 1, NULL), 0);
	EXPECT(get_bitmap(ctx, c, A, 80 * PG, PG, bits, 2) == 0, "GET_BITMAP");
	expect_bits(bits, 2, (const uint64_t[]){ 1ull << 11, 0 }, "after STOP/START");
	EXPECT(get_bitmap(ctx, c, B, 16 * PG, PG, bits, 1) == 0, "GET_BITMAP");
	expect_bits(bits, 1, (const uint64_t[]){ 1 }, "new mapping");

	/* a group behind another instance joins while tracking is on: its
	 * writes are reported too */
	{
		struct ap_iommu *s1 = mk_smmu(ctx, "smmu1", 48);
		struct ap_device *late = mk_dev(ctx, "late", s1, 7, AP_GROUP_OWN);
		int gl = open_group(ctx, late);

		join_container(ctx, gl, c);
		assert_int_equal(ap_dma_write(late, A + 63 * PG, tmp, 2, NULL), 0);
		assert_int_equal(ap_dma_read(late, A + 62 * PG, tmp, 2, NULL), 0);
		EXPECT(get_bitmap(ctx, c, A, 80 * PG, PG, bits, 2) == 0, "GET_BITMAP");
		expect_bits(bits, 2, (const uint64_t[]){ 1ull << 63, 0 }, "write by a late group");
		assert_int_equal(ap_vfio_close(ctx, gl), 0);
	}

	assert_int_equal(ap_vfio_close(ctx, g), 0);
	assert_int_equal(ap_vfio_close(ctx, c), 0);
	ap_ctx_free(ctx);
	munmap(buf, 96 * PG);
}

/* ------------------------------------------------------------ page sizes */

static struct ap_iommu *mk_iommu_pg(struct ap_ctx *ctx, const char *name, enum ap_iommu_kind kind,
				    uint64_t pgsizes)
{
	struct ap_iommu_config c;

	ap_iommu_config_init(&c, kind);
	c.pgsize_bitmap = pgsizes;
	return mk_iommu_cfg(ctx, name, &c);
}

/* §1.3: iova_pgsizes is the AND of the domains' sizes; §1.4 step 6: MAP's
 * alignment is its smallest size; §1.7: the dirty bitmap's pgsize too;
 * §1.8: a group whose domain cannot map an existing mapping is refused. */
static void test_pgsizes(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	const uint64_t multi = PG | SZ_64K | SZ_2M | 0x20000000ull | SZ_1G;
	struct ap_iommu *s4 = mk_smmu(ctx, "smmu4k", 48);
	struct ap_iommu *v4 = mk_iommu_pg(ctx, "dmar4k", AP_IOMMU_INTEL_VTD, PG);
	struct ap_iommu *sm = mk_iommu_pg(ctx, "smmu-multi", AP_IOMMU_ARM_SMMU_V3, multi);
	struct ap_iommu *s64 = mk_iommu_pg(ctx, "smmu64k", AP_IOMMU_ARM_SMMU_V3,
					   SZ_64K | 0x20000000ull);
	struct ap_device *d4 = mk_dev(ctx, "d4", s4, 1, 1);
	struct ap_device *dv = mk_dev(ctx, "dv", v4, 1, 2);
	struct ap_device *dm = mk_dev(ctx, "dm", sm, 1, 3);
	struct ap_device *d64 = mk_dev(ctx, "d64", s64, 1, 4);
	struct ap_device *d64b = mk_dev(ctx, "d64b", s64, 2, 5);
	struct info_view v;
	uint8_t *raw, *buf, tmp[8] = { 9 };
	uint64_t bits[1];
	int ca, cb, cc, g4, gv, gm, g64, g64b, e;

	(void)state;
	raw = buf_alloc(4 * SZ_64K);
	buf = (uint8_t *)(((uintptr_t)raw + SZ_64K - 1) & ~(uintptr_t)(SZ_64K - 1));
	fill(buf, 2 * SZ_64K, 21);

	/* 4K|2M|1G and 4K: 4K */
	ca = open_container(ctx);
	g4 = open_group(ctx, d4);
	gv = open_group(ctx, dv);
	join_container(ctx, g4, ca);
	join_container(ctx, gv, ca);
	set_type1v2(ctx, ca);
	get_info(ctx, ca, &v);
	EXPECT(v.pgsizes == PG, "4K|2M|1G with 4K: iova_pgsizes 0x%llx", (ull)v.pgsizes);

	/* several granules: the domain uses one (4K, as io-pgtable restricts
	 * pgsize_bitmap to the granule it picks); a 64K-only group cannot join
	 * while a mapping is only 4K-aligned, and nothing changes */
	cb = open_container(ctx);
	gm = open_group(ctx, dm);
	g64b = open_group(ctx, d64b);
	join_container(ctx, gm, cb);
	set_type1v2(ctx, cb);
	get_info(ctx, cb, &v);
	EXPECT(v.pgsizes == (PG | SZ_2M | SZ_1G), "multi-granule SMMU: iova_pgsizes 0x%llx",
	       (ull)v.pgsizes);
	MAP_OK(ctx, cb, buf + PG, 0x101000, PG, RW);
	IOCTL_ERR(ctx, g64b, VFIO_GROUP_SET_CONTAINER, &cb, EINVAL);
	get_info(ctx, cb, &v);
	EXPECT(v.pgsizes == (PG | SZ_2M | SZ_1G), "refused group changed iova_pgsizes to 0x%llx",
	       (ull)v.pgsizes);
	EXPECT(v.dma_avail == 65534, "DMA_AVAIL %u", v.dma_avail);
	dma_read_is(dm, 0x101010, buf + PG + 0x10, 16);
	dma_faults(d64b, 0x101010, AP_FAULT_NONE);
	EXPECT(group_flags(ctx, g64b) == VFIO_GROUP_FLAGS_VIABLE, "refused group is in a container");

	/* 64K only: MAP and the dirty bitmap work in 64K pages */
	cc = open_type1v2(ctx, d64, &g64);
	get_info(ctx, cc, &v);
	EXPECT(v.pgsizes == (SZ_64K | 0x20000000ull), "64K SMMU: iova_pgsizes 0x%llx",
	       (ull)v.pgsizes);
	EXPECT(v.mig_pgsize == SZ_64K, "MIGRATION pgsize 0x%llx", (ull)v.mig_pgsize);
	e = map_dma(ctx, cc, buf, 0x100000, PG, RW);
	EXPECT(e == EINVAL, "4K map in a 64K container: %s", e ? strerror(e) : "success");
	e = map_dma(ctx, cc, buf, 0x101000, SZ_64K, RW);
	EXPECT(e == EINVAL, "4K-aligned iova in a 64K container: %s", e ? strerror(e) : "success");
	e = map_dma(ctx, cc, buf + PG, 0x100000, SZ_64K, RW);
	EXPECT(e == EINVAL, "4K-aligned vaddr in a 64K container: %s", e ? strerror(e) : "success");
	MAP_OK(ctx, cc, buf, 0x100000, 2 * SZ_64K, RW);
	dma_read_is(d64, 0x100000 + SZ_64K + 0x100, buf + SZ_64K + 0x100, 64);
	/* the 64K group that was refused elsewhere joins here */
	join_container(ctx, g64b, cc);
	dma_read_is(d64b, 0x100000 + 0x40, buf + 0x40, 64);
	EXPECT(dirty_flags(ctx, cc, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) == 0, "START");
	assert_int_equal(ap_dma_write(d64, 0x100000 + SZ_64K + 0x2000, tmp, 1, NULL), 0);
	EXPECT(get_bitmap(ctx, cc, 0x100000, 2 * SZ_64K, PG, bits, 1) == EINVAL,
	       "GET_BITMAP at 4K in a 64K container");
	EXPECT(get_bitmap(ctx, cc, 0x100000, 2 * SZ_64K, SZ_64K, bits, 1) == 0,
	       "GET_BITMAP at 64K");
	EXPECT(bits[0] == 2, "64K dirty bitmap 0x%llx, expected bit 1", (ull)bits[0]);
	unmap_expect(ctx, cc, 0x100000, 2 * SZ_64K, 2 * SZ_64K);

	assert_int_equal(ap_vfio_close(ctx, g4), 0);
	assert_int_equal(ap_vfio_close(ctx, gv), 0);
	assert_int_equal(ap_vfio_close(ctx, gm), 0);
	assert_int_equal(ap_vfio_close(ctx, g64), 0);
	assert_int_equal(ap_vfio_close(ctx, g64b), 0);
	assert_int_equal(ap_vfio_close(ctx, ca), 0);
	assert_int_equal(ap_vfio_close(ctx, cb), 0);
	assert_int_equal(ap_vfio_close(ctx, cc), 0);
	ap_ctx_free(ctx);
	munmap(raw, 4 * SZ_64K);
}

/* A mapping large enough for 2 MiB leaves: DMA lands at every offset. */
static void test_large_mapping(void **state)
{
	struct ap_ctx *ctx = mk_ctx();
	struct ap_iommu *smmu = mk_smmu(ctx, "smmu0", 48);
	struct ap_iommu *vtd = mk_vtd(ctx, "dmar0");
	struct ap_device *a = mk_dev(ctx, "a", smmu, 1, AP_GROUP_OWN);
	struct ap_device *b = mk_dev(ctx, "b", vtd, 1, AP_GROUP_OWN);
	const uint64_t size = 6 * SZ_1M, iova = 0x40000000;
	uint8_t *raw, *buf, data[64];
	uint64_t off;
	int c, ga, gb;

	(void)state;
	raw = buf_alloc(size + SZ_2M);
	buf = (uint8_t *)(((uintptr_t)raw + SZ_2M - 1) & ~(uintptr_t)(SZ_2M - 1));
	fill(buf, size, 22);
	c = open_container(ctx);
	ga = open_group(ctx, a);
	gb = open_group(ctx, b);
	join_container(ctx, ga, c);
	join_container(ctx, gb, c);
	set_type1v2(ctx, c);
	MAP_OK(ctx, c, buf, iova, size, RW);
	for (off = 0; off < size; off += 0x3f000 + 0x123) {
		dma_read_is(a, iova + off, buf + off, 64);
		dma_read_is(b, iova + off, buf + off, 64);
	}
	dma_read_is(a, iova + size - 64, buf + size - 64, 64);
	dma_read_is(b, iova + SZ_2M - 32, buf + SZ_2M - 32, 64);
	fill(data, sizeof(data), 23);
	assert_int_equal(ap_dma_write(b, iova + 4 * SZ_1M - 32, data, 64, NULL), 0);
	assert_memory_equal(buf + 4 * SZ_1M - 32, data, 64);
	/* no bisecting a large mapping either */
	{
		uint64_t got = 0;

		EXPECT(unmap_dma(ctx, c, iova, SZ_2M, 0, &got) == EINVAL,
		       "unmapping the first 2 MiB of a 6 MiB mapping");
	}
	unmap_expect(ctx, c, iova, size, size);
	dma_faults(a, iova + SZ_2M, AP_FAULT_TRANSLATION);
	dma_faults(b, iova + SZ_2M, AP_FAULT_TRANSLATION);
	assert_int_equal(ap_vfio_close(ctx, ga), 0);
	assert_int_equal(ap_vfio_close(ctx, gb), 0);
	assert_int_equal(ap_vfio_close(ctx, c), 0);
	ap_ctx_free(ctx);
	munmap(raw, size + SZ_2M);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_flow),
		cmocka_unit_test(test_get_info_argsz_sweep),
		cmocka_unit_test(test_hetero_refused_above_4g),
		cmocka_unit_test(test_hetero_accepted_below_4g),
		cmocka_unit_test(test_hetero_join_later),
		cmocka_unit_test(test_vtd_ranges),
		cmocka_unit_test(test_vtd39_ranges),
		cmocka_unit_test(test_device_resv_ranges),
		cmocka_unit_test(test_resv_edges),
		cmocka_unit_test(test_group_lifecycle),
		cmocka_unit_test(test_close_order),
		cmocka_unit_test(test_two_containers),
		cmocka_unit_test(test_dma_permissions),
		cmocka_unit_test(test_alias_and_adjacent),
		cmocka_unit_test(test_dirty_tracking),
		cmocka_unit_test(test_pgsizes),
		cmocka_unit_test(test_large_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
