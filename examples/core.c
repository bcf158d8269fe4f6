/* SPDX-License-Identifier: MIT */
/*
 * examples/core.c - the core in one program: two IOMMU instances of
 * different input sizes, one domain shared by a device behind each, a
 * mapping, DMA through both devices, and a fault read back from the
 * instance's event queue.
 *
 * Build it against an installed aperture and run it:
 *   cc core.c $(pkg-config --cflags --libs aperture) -o core && ./core
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aperture/aperture.h>

/* Every call returns 0 or a negative errno; the context says why. */
static void check(struct ap_ctx *ctx, int err, const char *what)
{
	if (err) {
		fprintf(stderr, "core: %s: %s (%s)\n", what, ap_errno_name(err), ap_ctx_error(ctx));
		exit(1);
	}
}

int main(void)
{
	const uint64_t ram_pa = 0x80000000, iova = 0x10000;
	struct ap_iommu *wide, *narrow;
	struct ap_device *nic, *gpu;
	struct ap_iommu_config cfg;
	struct ap_domain *dom;
	struct ap_geometry g;
	struct ap_fault f, rec;
	char msg[] = "hello through the IOMMU", back[sizeof(msg)] = "";
	uint8_t *ram;
	struct ap_ctx *ctx = ap_ctx_new();

	if (!ctx)
		return 1;
	/* 64 MiB of RAM at 2 GiB; the context owns the memory */
	check(ctx, ap_ram_alloc(ctx, ram_pa, 64 << 20, (void **)&ram), "ap_ram_alloc");

	/* two SMMUv3 instances: one 48-bit, one with a 32-bit input range */
	ap_iommu_config_init(&cfg, AP_IOMMU_ARM_SMMU_V3);
	check(ctx, ap_iommu_new(ctx, "smmu48", &cfg, &wide), "ap_iommu_new smmu48");
	cfg.ias = 32;
	cfg.oas = 40;
	check(ctx, ap_iommu_new(ctx, "smmu32", &cfg, &narrow), "ap_iommu_new smmu32");

	/* a device behind each, each in a group of its own */
	check(ctx, ap_device_new(ctx, "nic", wide, 0x10, AP_GROUP_OWN, &nic), "nic");
	check(ctx, ap_device_new(ctx, "gpu", narrow, 0x20, AP_GROUP_OWN, &gpu), "gpu");

	/* a domain allocated for the wide instance, then shared: attaching
	 * the narrow one shrinks the aperture to what both can use */
	check(ctx, ap_domain_new(ctx, "dma0", wide, AP_DOMAIN_PAGING, &dom), "ap_domain_new");
	check(ctx, ap_attach(dom, nic), "attach nic");
	ap_domain_geometry(dom, &g);
	printf("aperture with nic:      0x%" PRIx64 "-0x%" PRIx64 "\n", g.start, g.end);
	check(ctx, ap_attach(dom, gpu), "attach gpu");
	ap_domain_geometry(dom, &g);
	printf("aperture with nic, gpu: 0x%" PRIx64 "-0x%" PRIx64 "\n", g.start, g.end);

	/* 64 KiB of RAM mapped read-write at IOVA 0x10000 */
	check(ctx, ap_map(dom, iova, ram_pa, 0x10000, AP_PROT_READ | AP_PROT_WRITE), "ap_map");

	/* nic writes through its IOMMU; gpu reads the same bytes through the
	 * other one, which walks the same tables */
	check(ctx, ap_dma_write(nic, iova, msg, sizeof(msg), NULL), "nic DMA write");
	check(ctx, ap_dma_read(gpu, iova, back, sizeof(back), NULL), "gpu DMA read");
	if (memcmp(back, msg, sizeof(msg)) || memcmp(ram, msg, sizeof(msg))) {
		fprintf(stderr, "core: the DMA did not land in RAM\n");
		return 1;
	}
	printf("gpu read back: \"%s\"\n", back);

	/* nothing is mapped at 0x40000: the DMA faults, copies nothing, and
	 * the instance queues a record of it */
	if (ap_dma_read(gpu, 0x40000, back, 16, &f) != -EFAULT) {
		fprintf(stderr, "core: unmapped DMA did not fault\n");
		return 1;
	}
	if (!ap_iommu_fault_pop(narrow, &rec) || rec.kind != f.kind || rec.iova != 0x40000) {
		fprintf(stderr, "core: no fault record in smmu32's event queue\n");
		return 1;
	}
	printf("fault from %s's event queue: %s, sid 0x%x, iova 0x%" PRIx64 ", level %d\n",
	       ap_iommu_name(rec.iommu), ap_fault_kind_name(rec.kind), rec.sid, rec.iova,
	       rec.level);

	ap_ctx_free(ctx); /* frees every object, table and the RAM */
	return 0;
}
