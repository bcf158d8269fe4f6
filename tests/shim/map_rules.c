/* SPDX-License-Identifier: MIT */
/*
 * Type1 v2 mapping rules a driver meets: a live mapping cannot be mapped
 * again (EEXIST), whole or in part; mappings unmapped in reverse order and
 * in a checkerboard each give back their size; a partial unmap that would
 * split a mapping is EINVAL (v2); a page at the very top of the last IOVA
 * range maps and unmaps; ranges that wrap past 2^64 are EOVERFLOW for
 * both MAP and UNMAP; unaligned and empty requests are EINVAL.
 */
// shim-test: vtd.scn smmu.scn
#include "cr.h"

#define N 16

int main(int argc, char **argv)
{
	struct cr v;
	uint8_t *buf = cr_buffer(N * PAGE);
	uint64_t base, done, top;

	cr_open(&v, cr_bdf(argc, argv), VFIO_TYPE1v2_IOMMU);
	base = cr_iova(&v, N * PAGE, 0);

	/* remapping a live mapping, whole or overlapping, is EEXIST */
	CHECK(!cr_map(&v, buf, base, 4 * PAGE), "map");
	CHECK(cr_map(&v, buf, base, 4 * PAGE) == EEXIST, "the same mapping again");
	CHECK(cr_map(&v, buf, base + PAGE, PAGE) == EEXIST, "a page inside it");
	CHECK(cr_map(&v, buf, base + 3 * PAGE, 2 * PAGE) == EEXIST, "overlapping its end");
	/* v2 never splits: unmapping its second page is EINVAL, nothing changes */
	CHECK(cr_unmap(&v, base + PAGE, PAGE, 0, &done) == EINVAL, "split unmap");
	CHECK(!cr_unmap(&v, base, 4 * PAGE, 0, &done) && done == 4 * PAGE, "whole unmap");

	/* N pages, unmapped from the last to the first */
	for (int i = 0; i < N; i++)
		CHECK(!cr_map(&v, buf + i * PAGE, base + i * PAGE, PAGE), "map page %d", i);
	for (int i = N - 1; i >= 0; i--) {
		CHECK(!cr_unmap(&v, base + i * PAGE, PAGE, 0, &done) && done == PAGE,
		      "reverse unmap of page %d gave 0x%llx", i, (unsigned long long)done);
		CHECK(!cr_unmap(&v, base + i * PAGE, PAGE, 0, &done) && done == 0,
		      "unmapping page %d again", i);
	}
	/* checkerboard: even pages, then odd ones */
	for (int i = 0; i < N; i++)
		CHECK(!cr_map(&v, buf + i * PAGE, base + i * PAGE, PAGE), "map page %d", i);
	for (int parity = 0; parity < 2; parity++)
		for (int i = parity; i < N; i += 2)
			CHECK(!cr_unmap(&v, base + i * PAGE, PAGE, 0, &done) && done == PAGE,
			      "checkerboard unmap of page %d", i);
	/* an unmap over the emptied range finds nothing */
	CHECK(!cr_unmap(&v, base, N * PAGE, 0, &done) && done == 0, "empty range");

	/* the page at the top of the last range */
	top = (v.ranges[v.nranges - 1].end & ~(PAGE - 1));
	CHECK(!cr_map(&v, buf, top, PAGE), "map the top page 0x%llx", (unsigned long long)top);
	CHECK(!cr_unmap(&v, top, PAGE, 0, &done) && done == PAGE, "unmap the top page");
	/* a range that wraps past 2^64 */
	CHECK(cr_map(&v, buf, 0xfffffffffffff000ull, 2 * PAGE) == EOVERFLOW, "MAP wrapping");
	CHECK(cr_unmap(&v, 0xfffffffffffff000ull, 2 * PAGE, 0, &done) == EOVERFLOW,
	      "UNMAP wrapping");
	/* unaligned, empty */
	CHECK(cr_map(&v, buf, base + 0x800, PAGE) == EINVAL, "unaligned IOVA");
	CHECK(cr_map(&v, buf + 0x800, base, PAGE) == EINVAL, "unaligned vaddr");
	CHECK(cr_map(&v, buf, base, 0x800) == EINVAL, "unaligned size");
	CHECK(cr_map(&v, buf, base, 0) == EINVAL, "size 0");
	CHECK(cr_unmap(&v, base, 0x800, 0, &done) == EINVAL, "unaligned unmap");
	printf("map rules: base 0x%llx, top 0x%llx\n", (unsigned long long)base,
	       (unsigned long long)top);
	return 0;
}
