/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the clean-room VFIO programs in tests/shim/: plain C on the
 * system's <linux/vfio.h>, using only what a VFIO program uses (open,
 * readlink, ioctl, mmap, pread/pwrite, eventfd); no aperture header.  Each
 * program runs under `aperture shim` (tools/run-shim-tests) exactly as it
 * would on a host with a VFIO-bound device.
 *
 * CHECK(cond, ...) prints the file, line and a message and exits 1.
 */
#ifndef CR_H
#define CR_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfio.h>

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,  \
				__LINE__, #cond);                               \
			fprintf(stderr, __VA_ARGS__);                           \
			fprintf(stderr, " (errno %d: %s)\n", errno, strerror(errno)); \
			exit(1);                                                \
		}                                                               \
	} while (0)

#define PAGE 4096ull
#define DEFAULT_BDF "0000:00:04.0"
#define CFG_OFFSET ((off_t)VFIO_PCI_CONFIG_REGION_INDEX << 40)

static inline const char *cr_bdf(int argc, char **argv)
{
	return argc > 1 ? argv[1] : DEFAULT_BDF;
}

/* The IOMMU group of a PCI function, from sysfs, as VFIO programs find it. */
static inline int cr_group_of(const char *bdf)
{
	char path[128], link[256], *base;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	CHECK(n > 0, "readlink %s", path);
	link[n] = '\0';
	base = strrchr(link, '/');
	return atoi(base ? base + 1 : link);
}

struct cr {
	int container, group, device;
	uint64_t pgsizes;
	unsigned nranges;
	struct vfio_iova_range ranges[16];
};

/* GET_INFO as drivers do it: once with the bare struct, then with the
 * size the kernel asked for; the capability chain walked. */
static inline void cr_info(struct cr *v)
{
	struct vfio_iommu_type1_info small = { .argsz = sizeof(small) };
	struct vfio_iommu_type1_info *info;
	uint32_t off;
	unsigned hops = 0;
	bool ranges = false;

	CHECK(!ioctl(v->container, VFIO_IOMMU_GET_INFO, &small), "GET_INFO");
	CHECK(small.flags & VFIO_IOMMU_INFO_PGSIZES, "no page sizes");
	CHECK(small.argsz > sizeof(small), "GET_INFO asked for no capability room");
	info = calloc(1, small.argsz);
	CHECK(info, "calloc");
	info->argsz = small.argsz;
	CHECK(!ioctl(v->container, VFIO_IOMMU_GET_INFO, info), "GET_INFO with argsz %u",
	      small.argsz);
	CHECK(info->flags & VFIO_IOMMU_INFO_CAPS, "no capabilities");
	v->pgsizes = info->iova_pgsizes;
	for (off = info->cap_offset; off; hops++) {
		struct vfio_info_cap_header *h = (void *)((char *)info + off);

		CHECK(hops < 16 && off >= sizeof(*info) && off + sizeof(*h) <= info->argsz,
		      "capability chain broken at %u", off);
		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			struct vfio_iommu_type1_info_cap_iova_range *r = (void *)h;

			CHECK(r->nr_iovas > 0 && r->nr_iovas <= 16, "%u IOVA ranges", r->nr_iovas);
			v->nranges = r->nr_iovas;
			for (unsigned i = 0; i < r->nr_iovas; i++) {
				v->ranges[i] = r->iova_ranges[i];
				CHECK(v->ranges[i].start < v->ranges[i].end, "range %u empty", i);
				CHECK(!i || v->ranges[i].start > v->ranges[i - 1].end,
				      "ranges overlap or are unsorted");
			}
			ranges = true;
		}
		off = h->next;
	}
	CHECK(ranges, "no IOVA_RANGE capability");
	free(info);
}

/* The usual start of a driver: container, group (viable), the group in
 * the container, type1 v2 (or `type`), the IOVA ranges. */
static inline void cr_open(struct cr *v, const char *bdf, unsigned long type)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];

	memset(v, 0, sizeof(*v));
	v->container = open("/dev/vfio/vfio", O_RDWR);
	CHECK(v->container >= 0, "open /dev/vfio/vfio");
	CHECK(ioctl(v->container, VFIO_GET_API_VERSION) == VFIO_API_VERSION, "API version");
	snprintf(path, sizeof(path), "/dev/vfio/%d", cr_group_of(bdf));
	v->group = open(path, O_RDWR);
	CHECK(v->group >= 0, "open %s", path);
	CHECK(!ioctl(v->group, VFIO_GROUP_GET_STATUS, &st), "GROUP_GET_STATUS");
	CHECK(st.flags & VFIO_GROUP_FLAGS_VIABLE, "group not viable (flags 0x%x)", st.flags);
	CHECK(!ioctl(v->group, VFIO_GROUP_SET_CONTAINER, &v->container), "SET_CONTAINER");
	CHECK(ioctl(v->container, VFIO_CHECK_EXTENSION, type) > 0, "extension %lu", type);
	CHECK(!ioctl(v->container, VFIO_SET_IOMMU, type), "SET_IOMMU %lu", type);
	cr_info(v);
	v->device = -1;
}

static inline int cr_map(struct cr *v, void *vaddr, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)vaddr, .iova = iova, .size = size,
	};

	return ioctl(v->container, VFIO_IOMMU_MAP_DMA, &m) ? errno : 0;
}

/* UNMAP_DMA; the size the kernel wrote back in *done. */
static inline int cr_unmap(struct cr *v, uint64_t iova, uint64_t size, uint32_t flags,
			   uint64_t *done)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .flags = flags, .iova = iova, .size = size,
	};
	int rc = ioctl(v->container, VFIO_IOMMU_UNMAP_DMA, &u) ? errno : 0;

	if (done)
		*done = u.size;
	return rc;
}

/* An IOVA of `size`, aligned to it, inside one usable range. */
static inline uint64_t cr_iova(const struct cr *v, uint64_t size, unsigned skip)
{
	for (unsigned i = 0; i < v->nranges; i++) {
		uint64_t a = (v->ranges[i].start + size - 1) & ~(size - 1);

		while (a >= v->ranges[i].start && a + size - 1 <= v->ranges[i].end) {
			if (!skip--)
				return a;
			a += size;
		}
	}
	CHECK(0, "no IOVA of 0x%llx in the ranges", (unsigned long long)size);
	return 0;
}

static inline void *cr_buffer(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED, "mmap %zu", size);
	return p;
}

/* ------------------------------------------------------------ the device */

static inline uint32_t cr_cfg32(const struct cr *v, unsigned off)
{
	uint32_t x = 0;

	CHECK(pread(v->device, &x, 4, CFG_OFFSET + off) == 4, "config read 0x%x", off);
	return x;
}

static inline void cr_cfg16_write(const struct cr *v, unsigned off, uint16_t x)
{
	CHECK(pwrite(v->device, &x, 2, CFG_OFFSET + off) == 2, "config write 0x%x", off);
}

/* The device, its config region (index 7, never mmap-able), BAR0 mapped. */
static inline volatile uint8_t *cr_device(struct cr *v, const char *bdf, size_t *bar_size)
{
	struct vfio_device_info di = { .argsz = sizeof(di) };
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	void *bar;

	v->device = ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	CHECK(v->device >= 0, "GET_DEVICE_FD %s", bdf);
	CHECK(!ioctl(v->device, VFIO_DEVICE_GET_INFO, &di), "DEVICE_GET_INFO");
	CHECK(di.flags & VFIO_DEVICE_FLAGS_PCI, "not a PCI device");
	CHECK(di.num_regions >= VFIO_PCI_CONFIG_REGION_INDEX + 1, "%u regions", di.num_regions);
	ri.index = VFIO_PCI_CONFIG_REGION_INDEX;
	CHECK(!ioctl(v->device, VFIO_DEVICE_GET_REGION_INFO, &ri), "config region info");
	CHECK(!(ri.flags & VFIO_REGION_INFO_FLAG_MMAP), "config space is mmap-able");
	CHECK(ri.offset == (uint64_t)CFG_OFFSET, "config at 0x%llx", (unsigned long long)ri.offset);
	ri = (struct vfio_region_info){ .argsz = sizeof(ri), .index = 0 };
	CHECK(!ioctl(v->device, VFIO_DEVICE_GET_REGION_INFO, &ri), "BAR0 region info");
	CHECK(ri.flags & VFIO_REGION_INFO_FLAG_MMAP, "BAR0 is not mmap-able");
	bar = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, v->device, (off_t)ri.offset);
	CHECK(bar != MAP_FAILED, "mmap BAR0");
	if (bar_size)
		*bar_size = ri.size;
	return bar;
}

/* ------------------------------------------------------------ I/OAT */

/*
 * The Intel I/OAT (Crystal Beach 3) programming model, as a userspace
 * driver uses it: BAR0 holds the device registers and, from 0x80, those of
 * channel 0; a copy is a 64-byte descriptor in DMA memory whose address
 * goes to CHAINADDR; DMACOUNT is the doorbell; CHANSTS reports progress.
 */
#define IOAT_INTRCTRL 0x03
#define IOAT_CBVER 0x08
#define IOAT_CHANCTRL 0x80
#define IOAT_CHANCMD 0x84
#define IOAT_DMACOUNT 0x86
#define IOAT_CHANSTS 0x88
#define IOAT_CHAINADDR 0x90
#define IOAT_CDAR 0xa0
#define IOAT_CHANERR 0xa8
#define IOAT_CMD_RESET 0x20
#define IOAT_CMD_SUSPEND 0x04
#define IOAT_ST_DONE 1
#define IOAT_ST_SUSPENDED 2
#define IOAT_ST_HALTED 3

struct ioat_desc {
	uint32_t size, ctl;
	uint64_t src, dst, next;
	uint64_t unused[4];
};

static inline uint64_t mmio64(volatile uint8_t *bar, unsigned off)
{
	return __atomic_load_n((volatile uint64_t *)(bar + off), __ATOMIC_ACQUIRE);
}

static inline uint32_t mmio32(volatile uint8_t *bar, unsigned off)
{
	return __atomic_load_n((volatile uint32_t *)(bar + off), __ATOMIC_ACQUIRE);
}

static inline uint8_t mmio8(volatile uint8_t *bar, unsigned off)
{
	return __atomic_load_n(bar + off, __ATOMIC_ACQUIRE);
}

static inline void mmio_w64(volatile uint8_t *bar, unsigned off, uint64_t x)
{
	__atomic_store_n((volatile uint64_t *)(bar + off), x, __ATOMIC_RELEASE);
}

static inline void mmio_w16(volatile uint8_t *bar, unsigned off, uint16_t x)
{
	__atomic_store_n((volatile uint16_t *)(bar + off), x, __ATOMIC_RELEASE);
}

static inline void mmio_w8(volatile uint8_t *bar, unsigned off, uint8_t x)
{
	__atomic_store_n(bar + off, x, __ATOMIC_RELEASE);
}

static inline unsigned ioat_status(volatile uint8_t *bar)
{
	return (unsigned)(mmio64(bar, IOAT_CHANSTS) & 7);
}

/* Poll until CHANSTS says one of the two states; 10 s at most. */
static inline unsigned ioat_wait(volatile uint8_t *bar, unsigned a, unsigned b)
{
	for (long i = 0; i < 1000000; i++) {
		unsigned s = ioat_status(bar);

		if (s == a || s == b)
			return s;
		usleep(10);
	}
	CHECK(0, "channel stuck in status %u", ioat_status(bar));
	return 0;
}

/* Reset the channel and wait for the reset bit to clear: HALTED. */
static inline void ioat_reset(volatile uint8_t *bar)
{
	mmio_w8(bar, IOAT_CHANCMD, IOAT_CMD_RESET);
	for (long i = 0; mmio8(bar, IOAT_CHANCMD) & IOAT_CMD_RESET; i++) {
		CHECK(i < 1000000, "reset does not complete");
		usleep(10);
	}
	CHECK(ioat_status(bar) == IOAT_ST_HALTED, "status %u after reset", ioat_status(bar));
}

/* The driver's bring-up: memory and bus mastering on, reset, MSI-X vector
 * control; CBVER must be a 3.x engine. */
static inline void ioat_init(struct cr *v, volatile uint8_t *bar)
{
	uint8_t ver = mmio8(bar, IOAT_CBVER);

	CHECK(cr_cfg32(v, 0) == 0x20218086, "not an I/OAT 8086:2021");
	CHECK(ver == 0x32 || ver == 0x33, "CBVER 0x%x", ver);
	cr_cfg16_write(v, 0x04, 0x0002 | 0x0004 | 0x0400);
	ioat_reset(bar);
	mmio_w8(bar, IOAT_INTRCTRL, 0x08);
}

/* One copy through a self-linked descriptor at desc (whose IOVA is
 * desc_iova); returns the final status (DONE or HALTED), the channel
 * suspended again when it completed. */
static inline unsigned ioat_copy(volatile uint8_t *bar, struct ioat_desc *desc,
				 uint64_t desc_iova, uint64_t src, uint64_t dst, uint32_t size,
				 bool irq)
{
	unsigned s;

	memset(desc, 0, sizeof(*desc));
	desc->size = size;
	desc->ctl = irq ? 1 : 0;
	desc->src = src;
	desc->dst = dst;
	desc->next = desc_iova;
	mmio_w64(bar, IOAT_CHAINADDR, desc_iova);
	mmio_w16(bar, IOAT_CHANCTRL, 0x0001 | 0x0008);
	mmio_w16(bar, IOAT_DMACOUNT, 1);
	s = ioat_wait(bar, IOAT_ST_DONE, IOAT_ST_HALTED);
	if (s == IOAT_ST_DONE) {
		mmio_w8(bar, IOAT_CHANCMD, IOAT_CMD_SUSPEND);
		ioat_wait(bar, IOAT_ST_SUSPENDED, IOAT_ST_SUSPENDED);
	}
	return s;
}

#endif /* CR_H */
