/* SPDX-License-Identifier: MIT */
/*
 * VFIO files opened before main, from a constructor (as a library's
 * constructor might, before the shim's own has run): the container opened
 * there works in main, and so does everything after it.
 */
// shim-test: vtd.scn
#include "cr.h"

static int early_container = -1, early_errno;

__attribute__((constructor(101))) static void early(void)
{
	early_container = open("/dev/vfio/vfio", O_RDWR);
	early_errno = errno;
}

int main(int argc, char **argv)
{
	struct cr v;

	CHECK(early_container >= 0, "open in a constructor: errno %d", early_errno);
	CHECK(ioctl(early_container, VFIO_GET_API_VERSION) == VFIO_API_VERSION,
	      "the early container");
	CHECK(ioctl(early_container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1,
	      "the early container's extensions");
	cr_open(&v, cr_bdf(argc, argv), VFIO_TYPE1v2_IOMMU);
	CHECK(!close(early_container), "close the early container");
	printf("constructor: a container opened before main works\n");
	return 0;
}
