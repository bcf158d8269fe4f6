/* SPDX-License-Identifier: MIT */
/*
 * The VT-d page-table dump Linux's debugfs gives (and VFIO's DMA-mapping
 * selftests read): /sys/kernel/debug/iommu/intel/<BDF>/
 * domain_translation_struct, one line per present leaf, "0x<IOVA page>
 * |" then the entry at each level.  A 4K mapping ends at a non-zero PTE;
 * a 2M one (memory and IOVA 2M-aligned) at the PDE, with no PTE column;
 * after UNMAP_DMA the IOVA is gone, and the file is still there.
 */
// shim-test: vtd.scn
#include "cr.h"

#define SZ_2M 0x200000ull
#define DUMP "/sys/kernel/debug/iommu/intel/%s/domain_translation_struct"

/* The entries of the line for iova, or 0 if there is none. */
static int lookup(const char *bdf, uint64_t iova, uint64_t e[6])
{
	char path[128], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), DUMP, bdf);
	f = fopen(path, "r");
	CHECK(f, "fopen %s", path);
	CHECK(fgets(line, sizeof(line), f) && !strncmp(line, "Device ", 7), "header: %s", line);
	CHECK(fgets(line, sizeof(line), f) && strstr(line, "IOVA_PFN"), "columns: %s", line);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long pfn, v[5] = { 0 };
		int got = sscanf(line, "0x%llx |\t0x%llx\t0x%llx\t0x%llx\t0x%llx\t0x%llx", &pfn, &v[0],
				 &v[1], &v[2], &v[3], &v[4]);

		if (got >= 4 && pfn == iova / PAGE) {
			for (int i = 0; i < 5; i++)
				e[5 - i] = v[i]; /* e[5] PML5E ... e[1] PTE */
			n = got - 1;
		}
	}
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	const char *bdf = cr_bdf(argc, argv);
	struct cr v;
	uint8_t *raw = cr_buffer(2 * SZ_2M), *big;
	uint64_t small_iova, big_iova, e[6], done;
	int n;

	CHECK(!access("/sys/kernel/debug/iommu/intel", F_OK), "no VT-d debugfs");
	big = (uint8_t *)(((uintptr_t)raw + SZ_2M - 1) & ~(uintptr_t)(SZ_2M - 1));
	cr_open(&v, bdf, VFIO_TYPE1v2_IOMMU);
	small_iova = cr_iova(&v, PAGE, 0);
	big_iova = cr_iova(&v, SZ_2M, 1);

	CHECK(!cr_map(&v, raw, small_iova, PAGE), "map 4K");
	memset(e, 0, sizeof(e));
	n = lookup(bdf, small_iova, e);
	CHECK(n == 5, "4K leaf: %d columns", n);
	CHECK(e[1] != 0 && e[2] != 0 && e[3] != 0, "4K leaf: PTE 0x%llx PDE 0x%llx",
	      (unsigned long long)e[1], (unsigned long long)e[2]);

	CHECK(!cr_map(&v, big, big_iova, SZ_2M), "map 2M");
	memset(e, 0, sizeof(e));
	n = lookup(bdf, big_iova, e);
	CHECK(n == 4 && e[2] != 0 && e[1] == 0, "2M leaf: %d columns, PDE 0x%llx PTE 0x%llx", n,
	      (unsigned long long)e[2], (unsigned long long)e[1]);
	CHECK(e[2] & 0x80, "2M leaf without PS: 0x%llx", (unsigned long long)e[2]);

	CHECK(!cr_unmap(&v, big_iova, SZ_2M, 0, &done) && done == SZ_2M, "unmap 2M");
	CHECK(!cr_unmap(&v, small_iova, PAGE, 0, &done) && done == PAGE, "unmap 4K");
	CHECK(lookup(bdf, big_iova, e) == 0 && lookup(bdf, small_iova, e) == 0,
	      "IOVAs still in the dump");
	printf("debugfs: 4K and 2M leaves as Linux prints them\n");
	return 0;
}
