/* SPDX-License-Identifier: MIT */
/*
 * What a VFIO program gets for requests the files do not take, as Linux
 * answers them: ENOTTY for an ioctl a file does not know (isatty() is
 * false), EFAULT for a struct that is not there, EINVAL for offsets in no
 * region, ENODEV for mmap of a container, EINVAL for mmap of config space
 * or a private mapping, ENODEV for a device the group has not; a group
 * cannot be opened twice; descriptors survive dup, dup2 and F_DUPFD, and
 * the handle lives until the last one closes; a call that succeeds leaves
 * errno alone.
 */
// shim-test: vtd.scn
#include <termios.h>

#include "cr.h"

int main(int argc, char **argv)
{
	const char *bdf = cr_bdf(argc, argv);
	struct cr v;
	struct termios tio;
	char path[64];
	uint32_t x;
	void *p;
	int d2, d3;

	cr_open(&v, bdf, VFIO_TYPE1v2_IOMMU);
	cr_device(&v, bdf, NULL);
	/* a call that succeeds leaves errno as it was, as system calls do */
	errno = 4242;
	CHECK(ioctl(v.container, VFIO_GET_API_VERSION) == VFIO_API_VERSION && errno == 4242,
	      "errno after a successful ioctl");
	CHECK(pread(v.device, &x, 4, CFG_OFFSET) == 4 && errno == 4242,
	      "errno after a successful pread");
	d2 = dup(v.container);
	CHECK(d2 >= 0 && errno == 4242 && !close(d2) && errno == 4242,
	      "errno after a successful dup and close");
	/* requests a file does not know */
	CHECK(ioctl(v.container, VFIO_GROUP_GET_STATUS, &x) == -1 && errno == ENOTTY,
	      "a group request on the container");
	CHECK(ioctl(v.device, VFIO_IOMMU_DIRTY_PAGES + 7, &x) == -1 && errno == ENOTTY,
	      "an unknown device request");
	CHECK(!isatty(v.container) && errno == ENOTTY, "isatty on the container");
	CHECK(tcgetattr(v.device, &tio) == -1 && errno == ENOTTY, "tcgetattr on the device");
	/* a struct that is not there */
	CHECK(ioctl(v.container, VFIO_IOMMU_GET_INFO, (void *)16) == -1 && errno == EFAULT,
	      "GET_INFO at address 16");
	CHECK(ioctl(v.container, VFIO_IOMMU_MAP_DMA, NULL) == -1 && errno == EFAULT,
	      "MAP_DMA with NULL");
	CHECK(ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, (void *)8) == -1 && errno == EFAULT,
	      "GET_DEVICE_FD with a bad name pointer");
	CHECK(ioctl(v.group, VFIO_GROUP_GET_DEVICE_FD, "0000:00:1f.7") == -1 && errno == ENODEV,
	      "a device the group has not");
	/* regions */
	CHECK(pread(v.device, &x, 4, CFG_OFFSET + 4096) == -1 && errno == EINVAL,
	      "config read past the end");
	CHECK(pread(v.device, &x, 4, (off_t)VFIO_PCI_ROM_REGION_INDEX << 40) == -1 &&
		      errno == EINVAL, "ROM read (no ROM)");
	CHECK(pread(v.device, &x, 4, (off_t)12 << 40) == -1 && errno == EINVAL, "region 12");
	CHECK(pread(v.container, &x, 4, 0) == -1 && errno == EINVAL, "pread on the container");
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, v.device, CFG_OFFSET);
	CHECK(p == MAP_FAILED && errno == EINVAL, "mmap of config space");
	p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, v.device, 0);
	CHECK(p == MAP_FAILED && errno == EINVAL, "private mmap of BAR0");
	p = mmap(NULL, 64 << 10, PROT_READ, MAP_SHARED, v.device, 0);
	CHECK(p == MAP_FAILED && errno == EINVAL, "mmap past the BAR");
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, v.container, 0);
	CHECK(p == MAP_FAILED && errno == ENODEV, "mmap of the container");
	/* a group opens once */
	snprintf(path, sizeof(path), "/dev/vfio/%d", cr_group_of(bdf));
	CHECK(open(path, O_RDWR) == -1 && errno == EBUSY, "second open of the group");
	CHECK(open("/dev/vfio/99", O_RDWR) == -1 && errno == ENOENT, "a group that is not there");
	/* descriptors: dup, dup2, F_DUPFD; the last close releases */
	d2 = dup(v.device);
	d3 = fcntl(v.container, F_DUPFD, 200);
	CHECK(d2 >= 0 && d3 >= 200, "dup");
	CHECK(dup2(v.group, 150) == 150, "dup2");
	CHECK(!close(v.device) && pread(d2, &x, 4, CFG_OFFSET) == 4 && x == 0x20218086,
	      "the duplicate after closing the original");
	CHECK(!close(v.container) && ioctl(d3, VFIO_GET_API_VERSION) == VFIO_API_VERSION,
	      "the container's duplicate");
	CHECK(!close(v.group), "close the group");
	CHECK(open(path, O_RDWR) == -1 && errno == EBUSY, "the group is open through 150");
	CHECK(!close(d2) && !close(150), "close the rest");
	CHECK(ioctl(d3, VFIO_GET_API_VERSION) == VFIO_API_VERSION, "the container lives on");
	v.group = open(path, O_RDWR);
	CHECK(v.group >= 0, "the group opens again once every descriptor is closed");
	CHECK(close(d3) == 0 && close(v.group) == 0, "close");
	CHECK(close(d3) == -1 && errno == EBADF, "double close");
	printf("errors: as Linux answers them\n");
	return 0;
}
