/* SPDX-License-Identifier: MIT */
/*
 * examples/vfio.c - a VFIO program against aperture's type1 container: the
 * calls and structs of <linux/vfio.h>, with ap_vfio_open/ioctl/close in
 * place of open/ioctl/close.  It maps a buffer of its own for DMA, a device
 * of the modelled machine writes into it, and it unmaps it again.
 *
 * Build it against an installed aperture and run it:
 *   cc vfio.c $(pkg-config --cflags --libs aperture) -o vfio && ./vfio
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <linux/vfio.h>

#include <aperture/aperture.h>

#define BUF_SIZE (64u << 10)
#define IOVA 0x100000ull

static void fail(struct ap_ctx *ctx, const char *what)
{
	fprintf(stderr, "vfio: %s: %s (%s)\n", what, strerror(errno), ap_ctx_error(ctx));
	exit(1);
}

int main(void)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config cfg;
	struct ap_iommu *smmu;
	struct ap_device *nic;
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	const char data[] = "written by the device";
	uint8_t *buf;
	int c, g;

	if (!ctx)
		return 1;
	/* the machine: one SMMUv3 and a device in group 3 behind it */
	ap_iommu_config_init(&cfg, AP_IOMMU_ARM_SMMU_V3);
	if (ap_iommu_new(ctx, "smmu", &cfg, &smmu) ||
	    ap_device_new(ctx, "nic", smmu, 0x10, 3, &nic))
		fail(ctx, "building the machine");
	/* MAP_DMA charges the locked-memory limit, ulimit -l by default */
	ap_vfio_set_memlock_limit(ctx, 16u << 20);

	/* what a VFIO driver does: container, group, IOMMU type */
	c = ap_vfio_open(ctx, "/dev/vfio/vfio");
	g = ap_vfio_open(ctx, "/dev/vfio/3");
	if (c < 0 || g < 0)
		fail(ctx, "open");
	if (ap_vfio_ioctl(ctx, c, VFIO_GET_API_VERSION, NULL) != VFIO_API_VERSION ||
	    !ap_vfio_ioctl(ctx, c, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU))
		fail(ctx, "no type1v2");
	if (ap_vfio_ioctl(ctx, g, VFIO_GROUP_GET_STATUS, &st) ||
	    !(st.flags & VFIO_GROUP_FLAGS_VIABLE))
		fail(ctx, "group not viable");
	if (ap_vfio_ioctl(ctx, g, VFIO_GROUP_SET_CONTAINER, &c) ||
	    ap_vfio_ioctl(ctx, c, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU))
		fail(ctx, "set container / IOMMU");
	if (ap_vfio_ioctl(ctx, c, VFIO_IOMMU_GET_INFO, &info))
		fail(ctx, "GET_INFO");
	printf("IOMMU page sizes 0x%llx\n", (unsigned long long)info.iova_pgsizes);

	/* our own memory, mapped for the device's DMA */
	buf = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		fail(ctx, "mmap");
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)buf,
		.iova = IOVA,
		.size = BUF_SIZE,
	};
	if (ap_vfio_ioctl(ctx, c, VFIO_IOMMU_MAP_DMA, &map))
		fail(ctx, "MAP_DMA");

	/* the device writes at the IOVA: the bytes land in our buffer */
	if (ap_dma_write(nic, IOVA + 0x100, data, sizeof(data), NULL))
		fail(ctx, "device DMA");
	if (memcmp(buf + 0x100, data, sizeof(data))) {
		fprintf(stderr, "vfio: the device's write is not in the buffer\n");
		return 1;
	}
	printf("buffer at +0x100: \"%s\"\n", (const char *)buf + 0x100);

	/* unmapped again, the same DMA faults */
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap), .iova = IOVA, .size = BUF_SIZE,
	};
	if (ap_vfio_ioctl(ctx, c, VFIO_IOMMU_UNMAP_DMA, &unmap) || unmap.size != BUF_SIZE)
		fail(ctx, "UNMAP_DMA");
	if (ap_dma_write(nic, IOVA, data, sizeof(data), NULL) != -EFAULT) {
		fprintf(stderr, "vfio: DMA after UNMAP_DMA did not fault\n");
		return 1;
	}
	printf("after UNMAP_DMA the device's DMA faults\n");

	ap_vfio_close(ctx, g);
	ap_vfio_close(ctx, c);
	ap_ctx_free(ctx);
	munmap(buf, BUF_SIZE);
	return 0;
}
