/* SPDX-License-Identifier: MIT */
/*
 * The container flow of a typical VFIO driver, checked step by step: API
 * version, extensions before and after the IOMMU, group viability,
 * SET_CONTAINER, SET_IOMMU (a second one refused), GET_INFO twice with
 * the capability chain, IOVA ranges respected (a page at each end of each
 * range maps, a page outside every range does not), MAP/UNMAP with the
 * size written back, UNMAP_ALL, and the close order.
 */
// shim-test: vtd.scn smmu.scn
#include "cr.h"

int main(int argc, char **argv)
{
	const char *bdf = cr_bdf(argc, argv);
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	struct cr v, again;
	uint64_t done, total = 0;
	char path[64];
	void *buf = cr_buffer(16 * PAGE);

	memset(&v, 0, sizeof(v));
	v.container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	CHECK(v.container >= 0, "open container");
	CHECK(ioctl(v.container, VFIO_GET_API_VERSION) == VFIO_API_VERSION, "API version");
	CHECK(ioctl(v.container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1, "TYPE1v2");
	CHECK(ioctl(v.container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) == 1, "TYPE1");
	CHECK(ioctl(v.container, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU) == 0, "no SPAPR");
	snprintf(path, sizeof(path), "/dev/vfio/%d", cr_group_of(bdf));
	v.group = open(path, O_RDWR);
	CHECK(v.group >= 0, "open %s", path);
	CHECK(!ioctl(v.group, VFIO_GROUP_GET_STATUS, &st), "GET_STATUS");
	CHECK(st.flags == VFIO_GROUP_FLAGS_VIABLE, "flags 0x%x before SET_CONTAINER", st.flags);
	/* a container without an IOMMU maps nothing and has no info */
	CHECK(ioctl(v.container, VFIO_IOMMU_GET_INFO, &info) == -1 && errno == EINVAL,
	      "GET_INFO without an IOMMU");
	CHECK(!ioctl(v.group, VFIO_GROUP_SET_CONTAINER, &v.container), "SET_CONTAINER");
	CHECK(!ioctl(v.group, VFIO_GROUP_GET_STATUS, &st), "GET_STATUS");
	CHECK(st.flags == (VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET),
	      "flags 0x%x after SET_CONTAINER", st.flags);
	CHECK(cr_map(&v, buf, 0x100000, PAGE) == EINVAL, "MAP_DMA before SET_IOMMU");
	CHECK(!ioctl(v.container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), "SET_IOMMU");
	CHECK(ioctl(v.container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == -1 && errno == EINVAL,
	      "second SET_IOMMU");
	CHECK(ioctl(v.container, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL) == 1, "UNMAP_ALL");

	/* GET_INFO twice: the same answer */
	cr_info(&v);
	again = v;
	cr_info(&again);
	CHECK(again.pgsizes == v.pgsizes && again.nranges == v.nranges &&
		      !memcmp(again.ranges, v.ranges, v.nranges * sizeof(v.ranges[0])),
	      "GET_INFO changed between calls");
	CHECK(v.pgsizes & PAGE, "no 4K pages (0x%llx)", (unsigned long long)v.pgsizes);

	/* each end of each usable range maps; just outside does not */
	for (unsigned i = 0; i < v.nranges; i++) {
		uint64_t lo = (v.ranges[i].start + PAGE - 1) & ~(PAGE - 1);
		uint64_t hi = (v.ranges[i].end + 1 - PAGE) & ~(PAGE - 1);

		CHECK(!cr_map(&v, buf, lo, PAGE), "map 0x%llx, start of range %u",
		      (unsigned long long)lo, i);
		CHECK(!cr_unmap(&v, lo, PAGE, 0, &done) && done == PAGE, "unmap start");
		CHECK(!cr_map(&v, buf, hi, PAGE), "map 0x%llx, top of range %u",
		      (unsigned long long)hi, i);
		CHECK(!cr_unmap(&v, hi, PAGE, 0, &done) && done == PAGE, "unmap top");
		if (v.ranges[i].end < UINT64_MAX - PAGE)
			CHECK(cr_map(&v, buf, v.ranges[i].end + 1, PAGE) == EINVAL,
			      "map just past range %u (0x%llx)", i,
			      (unsigned long long)v.ranges[i].end + 1);
	}

	/* MAP, UNMAP (size back), UNMAP_ALL */
	for (unsigned i = 0; i < 3; i++) {
		uint64_t iova = cr_iova(&v, 4 * PAGE, i);

		CHECK(!cr_map(&v, (char *)buf + 4 * PAGE * i, iova, 4 * PAGE), "map %u", i);
		total += 4 * PAGE;
	}
	CHECK(cr_unmap(&v, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &done) == 0 && done == total,
	      "UNMAP_ALL unmapped 0x%llx, expected 0x%llx", (unsigned long long)done,
	      (unsigned long long)total);
	CHECK(cr_unmap(&v, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &done) == 0 && done == 0,
	      "second UNMAP_ALL");
	CHECK(cr_unmap(&v, 0x1000, 0, VFIO_DMA_UNMAP_FLAG_ALL, &done) == EINVAL,
	      "UNMAP_ALL with an iova");

	CHECK(!close(v.group), "close group");
	CHECK(!close(v.container), "close container");
	printf("container flow: %u IOVA range(s), page sizes 0x%llx\n", v.nranges,
	       (unsigned long long)v.pgsizes);
	return 0;
}
