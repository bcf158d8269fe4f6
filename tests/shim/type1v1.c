/* SPDX-License-Identifier: MIT */
/*
 * Type1 (v1) unmap rules, as long-standing VFIO correctness tests check
 * them: 4K mappings unmap one by one and a second unmap of each succeeds
 * with size 0; a 2M mapping cannot be mapped again; unmapped in 4K steps
 * from the top, every step succeeds, those inside it unmap nothing, and
 * the step at its first page removes it whole, so the sizes sum to 2M; an
 * unmap that covers part of a mapping from its start removes all of it.
 */
// shim-test: vtd.scn smmu.scn
#include "cr.h"

#define SZ_2M 0x200000ull

int main(int argc, char **argv)
{
	struct cr v;
	uint8_t *raw = cr_buffer(2 * SZ_2M), *buf;
	uint64_t base, done, sum = 0;

	buf = (uint8_t *)(((uintptr_t)raw + SZ_2M - 1) & ~(uintptr_t)(SZ_2M - 1));
	cr_open(&v, cr_bdf(argc, argv), VFIO_TYPE1_IOMMU);
	base = cr_iova(&v, SZ_2M, 0);

	for (unsigned i = 0; i < 512; i++)
		CHECK(!cr_map(&v, buf + i * PAGE, base + i * PAGE, PAGE), "map 4K #%u", i);
	for (unsigned i = 0; i < 512; i++) {
		CHECK(cr_map(&v, buf + i * PAGE, base + i * PAGE, PAGE) == EEXIST, "remap #%u", i);
		CHECK(!cr_unmap(&v, base + i * PAGE, PAGE, 0, &done) && done == PAGE, "unmap #%u", i);
		CHECK(!cr_unmap(&v, base + i * PAGE, PAGE, 0, &done) && done == 0, "re-unmap #%u", i);
	}

	CHECK(!cr_map(&v, buf, base, SZ_2M), "map 2M");
	CHECK(cr_map(&v, buf, base, SZ_2M) == EEXIST, "remap 2M");
	CHECK(!cr_unmap(&v, base, SZ_2M, 0, &done) && done == SZ_2M, "unmap 2M");
	CHECK(!cr_map(&v, buf, base, SZ_2M), "map 2M again");
	for (int i = 511; i >= 0; i--) {
		CHECK(!cr_unmap(&v, base + (uint64_t)i * PAGE, PAGE, 0, &done),
		      "unmap step %d", i);
		CHECK(done == (i ? 0 : SZ_2M), "step %d unmapped 0x%llx", i,
		      (unsigned long long)done);
		sum += done;
	}
	CHECK(sum == SZ_2M, "the steps unmapped 0x%llx", (unsigned long long)sum);

	/* a v1 unmap from a mapping's start takes it whole */
	CHECK(!cr_map(&v, buf, base, SZ_2M), "map 2M");
	CHECK(!cr_unmap(&v, base, PAGE, 0, &done) && done == SZ_2M, "v1 partial unmap gave 0x%llx",
	      (unsigned long long)done);
	printf("type1 v1 unmap rules hold\n");
	return 0;
}
