/* SPDX-License-Identifier: MIT */
/*
 * fuzz/mkseeds.c - writes the seed corpora of the firmware fuzz targets
 * (fuzz/corpus/fuzz_{dmar,iort,dtb,sysfs}) with the tests' table writer,
 * so that no third-party table is copied into the repository:
 *
 *   cc -Iinclude -Itests fuzz/mkseeds.c -o build/mkseeds && build/mkseeds fuzz/corpus
 *
 * The DTB seeds are compiled by dtc from the sources written here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fwtab.h"

static void out(const char *dir, const char *name, const void *b, size_t n)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (!fp || fwrite(b, 1, n, fp) != n) {
		perror(path);
		exit(1);
	}
	fclose(fp);
}

/* Every DMAR structure type, scopes of every kind. */
static void dmar_full(struct tw *t)
{
	size_t at;

	tw_dmar(t, 46, 3);
	tw_drhd(t, 0, 0xfed90000, 0, 2, 0);
	at = t->n;                                   /* DRHD, INCLUDE_PCI_ALL, with */
	P16(t, 0); P16(t, 16 + 8 + 8 + 8 + 10); P8(t, 1); P8(t, 0); P16(t, 0); P64(t, 0xfed91000);
	P8(t, 3); P8(t, 8); P16(t, 0); P8(t, 2); P8(t, 0xf0); P8(t, 0x1f); P8(t, 0);  /* IOAPIC */
	P8(t, 4); P8(t, 8); P16(t, 0); P8(t, 0); P8(t, 0); P8(t, 0x1f); P8(t, 0);     /* HPET */
	P8(t, 5); P8(t, 8); P16(t, 0); P8(t, 1); P8(t, 0); P8(t, 0x15); P8(t, 0);     /* ACPI */
	P8(t, 2); P8(t, 10); P16(t, 0); P8(t, 0); P8(t, 0); P8(t, 0x1c); P8(t, 0);    /* bridge, */
	P8(t, 0); P8(t, 0);                                                           /* 2 hops */
	(void)at;
	tw_rmrr(t, 0x3e2e0000, 0x3e2fffff, 0, 0x14, 0);
	P16(t, 2); P16(t, 16); P8(t, 1); P8(t, 0); P16(t, 0);                         /* ATSR */
	P8(t, 2); P8(t, 8); P16(t, 0); P8(t, 0); P8(t, 0); P8(t, 0x1c); P8(t, 0);
	P16(t, 3); P16(t, 20); P32(t, 0); P64(t, 0xfed91000); P32(t, 1);             /* RHSA */
	P16(t, 4); P16(t, 24); P8(t, 0); P8(t, 0); P8(t, 0); P8(t, 1);               /* ANDD */
	memcpy(t->b + t->n, "\\_SB.PCI0.I2C0\0\0", 16);
	t->n += 16;
	P16(t, 5); P16(t, 16); P8(t, 1); P8(t, 0); P16(t, 0);                         /* SATC */
	P8(t, 1); P8(t, 8); P16(t, 0); P8(t, 0); P8(t, 0); P8(t, 2); P8(t, 0);
	P16(t, 6); P16(t, 16); P16(t, 0); P16(t, 0);                                  /* SIDP */
	P8(t, 1); P8(t, 8); P8(t, 0x1f); P8(t, 0); P8(t, 0); P8(t, 0); P8(t, 2); P8(t, 0);
	P16(t, 9); P16(t, 8); P32(t, 0);                                              /* unknown */
	tw_seal(t);
}

/* ITS, two SMMUv3, an SMMUv2, a root complex, named components, an RMR;
 * table revision 5. */
static void iort_full(struct tw *t)
{
	size_t its, s0, s1, s2;

	tw_iort(t, 5, 8);
	its = tw_its(t);
	s0 = tw_smmuv3(t, 0x2b400000, 1);
	s1 = tw_smmuv3(t, 0x2b500000, 1);
	s2 = t->n;
	tw_node(t, 3, 16 + 60, 0, 0, 0, 0);          /* SMMUv2, MMU-500 */
	P64(t, 0x15000000); P64(t, 0x100000); P32(t, 3); P32(t, 2);
	for (int i = 0; i < 9; i++)
		P32(t, 0);
	tw_rc(t, 0, 48, 0, 0xffff, 0, (uint32_t)s0);
	tw_nc(t, "\\_SB.DMA0", 40, 0, 0, 0x10, (uint32_t)s1, 1);
	tw_nc(t, "\\_SB.GPU0", 36, 0x30000, 3, 0x400, (uint32_t)s2, 0);
	tw_node(t, 6, 16 + 12 + 20 + 20, 3, 0, 1, 28); /* RMR */
	P32(t, 1); P32(t, 1); P32(t, 48);
	tw_map(t, 0, 0, 0x10, (uint32_t)s1, 1);
	P64(t, 0x84800000); P64(t, 0x800000); P32(t, 0);
	(void)its;
	tw_seal(t);
}

static void iort_seed_machine(struct tw *t)
{
	size_t s0, s1;

	tw_iort(t, 0, 4);
	s0 = tw_smmuv3(t, 0x2b400000, 1);
	s1 = tw_smmuv3(t, 0x2b500000, 1);
	tw_nc(t, "\\_SB.NIC0", 48, 0, 0, 0x10, (uint32_t)s0, 1);
	tw_nc(t, "\\_SB.GPU0", 32, 0, 0, 0x20, (uint32_t)s1, 1);
	tw_seal(t);
}

static const char dts[] =
	"/dts-v1/;\n/ { #address-cells = <2>; #size-cells = <2>;\n"
	"smmu: iommu@2b400000 { compatible = \"arm,mmu-500\", \"arm,smmu-v2\"; reg = <0 0x2b400000 0 0x10000>;\n"
	"  #iommu-cells = <2>; stream-match-mask = <0x7c00>; dma-coherent; };\n"
	"smmu3: iommu@2b500000 { compatible = \"arm,smmu-v3\"; reg = <0 0x2b500000 0 0x20000>; #iommu-cells = <1>; };\n"
	"other: iommu@2b600000 { compatible = \"vendor,iommu\"; reg = <0 0x2b600000 0 0x1000>; #iommu-cells = <1>; };\n"
	"soc { #address-cells = <1>; #size-cells = <1>; ranges; dma-ranges = <0 0 0 0x40000000>;\n"
	"  dma@7ff00000 { reg = <0x7ff00000 0x1000>; iommus = <&smmu 1 0>, <&smmu 2 0x10>; };\n"
	"  gpu: gpu@7ff10000 { reg = <0x7ff10000 0x1000>; iommus = <&smmu3 5>; memory-region = <&fb>; };\n"
	"  x@7ff20000 { reg = <0x7ff20000 0x1000>; iommus = <&other 1>; }; };\n"
	"pcie@40000000 { device_type = \"pci\"; #address-cells = <3>; #size-cells = <2>;\n"
	"  iommu-map = <0 &smmu3 0x100 0x100>; iommu-map-mask = <0xff>; dma-ranges = <0x02000000 0 0 0 0 1 0>; };\n"
	"reserved-memory { #address-cells = <2>; #size-cells = <2>; ranges;\n"
	"  fb: framebuffer@80000000 { reg = <0 0x80000000 0 0x800000>;\n"
	"    iommu-addresses = <&gpu 0x80000000 0x800000>; }; }; };\n";

int main(int argc, char **argv)
{
	char dir[512], cmd[1200];
	struct tw t;
	FILE *fp;

	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds CORPUS_DIR\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/fuzz_dmar", argv[1]);
	dmar_full(&t);
	out(dir, "full", t.b, t.n);
	tw_dmar(&t, 39, 1);
	tw_drhd(&t, 1, 0xfed91000, 0, 0x14, 0);
	tw_seal(&t);
	out(dir, "minimal", t.b, t.n);
	snprintf(dir, sizeof(dir), "%s/fuzz_iort", argv[1]);
	iort_full(&t);
	out(dir, "full-rev5", t.b, t.n);
	iort_seed_machine(&t);
	out(dir, "seed-machine", t.b, t.n);
	snprintf(dir, sizeof(dir), "%s/fuzz_dtb", argv[1]);
	snprintf(cmd, sizeof(cmd), "%s/seed.dts", dir);
	fp = fopen(cmd, "w");
	if (!fp)
		return 1;
	fputs(dts, fp);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "dtc -q -I dts -O dtb -o %s/full %s/seed.dts && rm %s/seed.dts",
		 dir, dir, dir);
	if (system(cmd))
		return 1;
	snprintf(dir, sizeof(dir), "%s/fuzz_sysfs", argv[1]);
	{
		/* records: selector, length (2 bytes), content */
		uint8_t b[1024];
		size_t n = 0;
		static const struct { uint8_t sel; const char *text; } recs[] = {
			{ 3, "fed91000\n" }, { 4, "c002f0402\n" }, { 5, "f050df\n" },
			{ 9, "identity\n" }, { 11, "DMA\n" },
			{ 12, "0x000000003e2e0000 0x000000003e2fffff direct\n" },
			{ 13, "0x030000\n" }, { 14, "0x0c0330\n" }, { 15, "N\n" },
			{ 16, "" }, { 17, "" }, { 18, "" }, { 19, "" }, { 20, "" },
		};

		for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
			size_t len = strlen(recs[i].text);

			b[n++] = recs[i].sel;
			b[n++] = (uint8_t)len;
			b[n++] = 0;
			memcpy(b + n, recs[i].text, len);
			n += len;
		}
		dmar_full(&t);
		b[n++] = 0;
		b[n++] = (uint8_t)t.n;
		b[n++] = (uint8_t)(t.n >> 8);
		memcpy(b + n, t.b, t.n);
		n += t.n;
		out(dir, "vtd-host", b, n);
	}
	return 0;
}
