/* SPDX-License-Identifier: MIT */
/*
 * vfio-pci device handles through the library API (VFIO_GROUP_GET_DEVICE_FD
 * and the device requests, ap_vfio_pread/pwrite/mmap), checked against
 * what Linux's vfio-pci answers (doc/pci-ioat.md, include/aperture/vfio.h):
 *
 *   - GET_DEVICE_FD's refusals in Linux's order (no name, no such device in
 *     the group, no IOMMU yet) and two handles on one function;
 *   - GET_INFO, GET_REGION_INFO (config at index 7 without MMAP, BARs at
 *     index << 40, the MSI-X-mappable capability and the short-argsz
 *     protocol, no ROM, no VGA), GET_IRQ_INFO;
 *   - config space through pread/pwrite (sizing a BAR, the MSI-X capability
 *     only SET_IRQS writes), BAR mmap and its refusals;
 *   - SET_IRQS: MSI-X eventfds a DMA completion signals, loopback, INTx
 *     with automasking and unmask, every refusal, disable;
 *   - a DMA engine copy into the test's own memory mapped with MAP_DMA, and
 *     one to an unmapped IOVA that halts the channel and faults;
 *   - lifetimes: a group closed while its device is open, UNSET_CONTAINER
 *     refused, RESET keeping MSI-X; allocation failures in GET_DEVICE_FD;
 *   - threads opening, using and closing device handles while another
 *     closes the group's handle under them (TSan runs it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include <aperture/pci.h>

#include "vfio_util.h"

#define BDF "0000:00:04.0"
#define REGION(i) ((uint64_t)(i) << 40)
#define CFG REGION(VFIO_PCI_CONFIG_REGION_INDEX)

/* A VT-d unit, an I/OAT function in group 3, a generic function in group
 * 4, and a container with group 3 in it (type1v2). */
struct rig {
	struct ap_ctx *ctx;
	struct ap_iommu *iommu;
	struct ap_device *dev, *other;
	struct ap_pci *pci;
	int c, g;
};

static void rig_init(struct rig *r, bool with_iommu)
{
	struct ap_pci_config pc;

	r->ctx = mk_ctx();
	r->iommu = mk_vtd(r->ctx, "vtd");
	r->dev = mk_dev(r->ctx, "ioat", r->iommu, 0x20, 3);
	r->other = mk_dev(r->ctx, "nic", r->iommu, 0x300, 4);
	ap_pci_config_init(&pc, AP_PCI_IOAT);
	assert_int_equal(ap_pci_new(r->ctx, BDF, r->dev, &pc, &r->pci), 0);
	ap_pci_config_init(&pc, AP_PCI_GENERIC);
	assert_int_equal(ap_pci_new(r->ctx, "0000:03:00.0", r->other, &pc, NULL), 0);
	r->c = open_container(r->ctx);
	r->g = open_group(r->ctx, r->dev);
	join_container(r->ctx, r->g, r->c);
	if (with_iommu)
		set_type1v2(r->ctx, r->c);
}

static int get_device(struct rig *r, const char *name)
{
	int fd = ap_vfio_ioctl(r->ctx, r->g, VFIO_GROUP_GET_DEVICE_FD, (void *)(uintptr_t)name);

	EXPECT(fd >= 0, "GET_DEVICE_FD %s: %s (%s)", name, ename(errno), ap_ctx_error(r->ctx));
	return fd;
}

static uint32_t rd32(struct rig *r, int d, uint64_t off)
{
	uint32_t v = 0;

	assert_int_equal(ap_vfio_pread(r->ctx, d, &v, 4, off), 4);
	return v;
}

static void wr32(struct rig *r, int d, uint64_t off, uint32_t v)
{
	assert_int_equal(ap_vfio_pwrite(r->ctx, d, &v, 4, off), 4);
}

/* ------------------------------------------------------------ open */

static void test_get_device_fd(void **state)
{
	struct rig r;
	int d1, d2;

	(void)state;
	rig_init(&r, false);
	IOCTL_ERR(r.ctx, r.g, VFIO_GROUP_GET_DEVICE_FD, NULL, EFAULT);
	IOCTL_ERR(r.ctx, r.g, VFIO_GROUP_GET_DEVICE_FD, "0000:00:05.0", ENODEV);
	/* the generic function is in group 4, not this one */
	IOCTL_ERR(r.ctx, r.g, VFIO_GROUP_GET_DEVICE_FD, "0000:03:00.0", ENODEV);
	/* vfio-pci matches the full name, not a short form */
	IOCTL_ERR(r.ctx, r.g, VFIO_GROUP_GET_DEVICE_FD, "00:04.0", ENODEV);
	/* the container has no IOMMU yet */
	IOCTL_ERR(r.ctx, r.g, VFIO_GROUP_GET_DEVICE_FD, BDF, EINVAL);
	set_type1v2(r.ctx, r.c);
	d1 = get_device(&r, BDF);
	d2 = get_device(&r, BDF);
	assert_true(d1 != d2);
	assert_ptr_equal(ap_vfio_device_pci(r.ctx, d1), r.pci);
	assert_ptr_equal(ap_vfio_device_pci(r.ctx, d2), r.pci);
	assert_null(ap_vfio_device_pci(r.ctx, r.g));
	/* device requests on other handles, and the other way round */
	IOCTL_ERR(r.ctx, r.c, VFIO_DEVICE_RESET, NULL, ENOTTY);
	IOCTL_ERR(r.ctx, d1, VFIO_GROUP_GET_STATUS, NULL, ENOTTY);
	IOCTL_ERR(r.ctx, d1, 0x3b7f, NULL, ENOTTY);
	assert_int_equal(ap_vfio_close(r.ctx, d1), 0);
	assert_int_equal(ap_vfio_close(r.ctx, d1), -1);
	assert_int_equal(errno, EBADF);
	/* the other handle still works */
	assert_int_equal(rd32(&r, d2, CFG) & 0xffff, 0x8086);
	assert_int_equal(ap_vfio_close(r.ctx, d2), 0);
	/* a group outside any container */
	{
		int g4 = open_group(r.ctx, r.other);

		IOCTL_ERR(r.ctx, g4, VFIO_GROUP_GET_DEVICE_FD, "0000:03:00.0", EINVAL);
	}
	ap_ctx_free(r.ctx);
}

/* ------------------------------------------------------------ info */

static void test_info(void **state)
{
	struct rig r;
	struct vfio_device_info di;
	struct vfio_irq_info ii;
	int d;

	(void)state;
	rig_init(&r, true);
	d = get_device(&r, BDF);
	memset(&di, 0xee, sizeof(di));
	di.argsz = 15;
	IOCTL_ERR(r.ctx, d, VFIO_DEVICE_GET_INFO, &di, EINVAL);
	di.argsz = 16; /* up to num_irqs: cap_offset is left alone */
	IOCTL_OK(r.ctx, d, VFIO_DEVICE_GET_INFO, &di);
	assert_int_equal(di.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(di.num_regions, VFIO_PCI_NUM_REGIONS);
	assert_int_equal(di.num_irqs, VFIO_PCI_NUM_IRQS);
	assert_int_equal(di.cap_offset, 0xeeeeeeee);
	di.argsz = sizeof(di);
	IOCTL_OK(r.ctx, d, VFIO_DEVICE_GET_INFO, &di);
	assert_int_equal(di.cap_offset, 0);

	/* interrupts: INTA, no MSI, one MSI-X vector, error and request */
	for (uint32_t i = 0; i < VFIO_PCI_NUM_IRQS; i++) {
		static const uint32_t count[] = { 1, 0, 1, 1, 1 };
		static const uint32_t flags[] = {
			VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED,
			VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE,
			VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE,
			VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE,
			VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE,
		};

		ii = (struct vfio_irq_info){ .argsz = sizeof(ii), .index = i };
		IOCTL_OK(r.ctx, d, VFIO_DEVICE_GET_IRQ_INFO, &ii);
		EXPECT(ii.count == count[i] && ii.flags == flags[i],
		       "IRQ index %u: count %u flags 0x%x", i, ii.count, ii.flags);
	}
	ii = (struct vfio_irq_info){ .argsz = sizeof(ii), .index = 5 };
	IOCTL_ERR(r.ctx, d, VFIO_DEVICE_GET_IRQ_INFO, &ii, EINVAL);
	ii = (struct vfio_irq_info){ .argsz = 15, .index = 0 };
	IOCTL_ERR(r.ctx, d, VFIO_DEVICE_GET_IRQ_INFO, &ii, EINVAL);
	IOCTL_ERR(r.ctx, d, VFIO_DEVICE_GET_IRQ_INFO, NULL, EFAULT);
	ap_ctx_free(r.ctx);
}

static void test_region_info(void **state)
{
	struct rig r;
	uint8_t buf[64];
	struct vfio_region_info *ri = (void *)buf;
	struct vfio_info_cap_header *cap = (void *)(buf + sizeof(*ri));
	int d;

	(void)state;
	rig_init(&r, true);
	d = get_device(&r, BDF);
	/* config: index 7, 4 KiB, read/write, never mmap */
	*ri = (struct vfio_region_info){ .argsz = sizeof(*ri),
					 .index = VFIO_PCI_CONFIG_REGION_INDEX };
	IOCTL_OK(r.ctx, d, VFIO_DEVICE_GET_REGION_INFO, ri);
	assert_int_equal(ri->size, 4096);
	assert_int_equal(ri->offset, CFG);
	assert_int_equal(ri->flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
	/* BAR0 holds the MSI-X table: a capability, which a short argsz asks
	 * room for */
	*ri = (struct vfio_region_info){ .argsz = sizeof(*ri), .index = 0, .cap_offset = 77 };
	IOCTL_OK(r.ctx, d, VFIO_DEVICE_GET_REGION_INFO, ri);
	assert_int_equal(ri->size, 16 << 10);
	assert_int_equal(ri->offset, 0);
	assert_int_equal(ri->flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
					    VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS);
	assert_int_equal(ri->argsz, sizeof(*ri) + sizeof(*cap));
	assert_int_equal(ri->cap_offset, 0);
	memset(buf, 0xcc, sizeof(buf));
	*ri = (struct vfio_region_info){ .argsz = sizeof(*ri) + sizeof(*cap), .index = 0 };
	IOCTL_OK(r.ctx, d, VFIO_DEVICE_GET_REGION_INFO, ri);
	assert_int_equal(ri->cap_offset, sizeof(*ri));
	assert_int_equal(cap->id, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
	assert_int_equal(cap->version, 1);
	assert_int_equal(cap->next, 0);
	assert_int_equal(buf[sizeof(*ri) + sizeof(*cap)], 0xcc);
	/* BAR1 (BAR0's upper half), BAR2..5, ROM: no region */
	for (uint32_t i = 1; i <= VFIO_PCI_ROM_REGION_INDEX; i++) {
		*ri = (struct vfio_region_info){ .argsz = sizeof(*ri), .index = i };
		IOCTL_OK(r.ctx, d, VFIO_DEVICE_GET_REGION_INFO, ri);
		EXPECT(ri->size == 0 && ri->flags == 0 && ri->offset == REGION(i),
		       "region %u: size 0x%llx flags 0x%x offset 0x%llx", i, (ull)ri->size,
		       ri->flags, (ull)ri->offset);
	}
	*ri = (struct vfio_region_info){ .argsz = sizeof(*ri),
					 .index = VFIO_PCI_VGA_REGION_INDEX };
	IOCTL_ERR(r.ctx, d, VFIO_DEVICE_GET_REGION_INFO, ri, EINVAL);
	*ri = (struct vfio_region_info){ .argsz = sizeof(*ri), .index = 9 };
	IOCTL_ERR(r.ctx, d, VFIO_DEVICE_GET_REGION_INFO, ri, EINVAL);
	*ri = (struct vfio_region_info){ .argsz = sizeof(*ri) - 1, .index = 0 };
	IOCTL_ERR(r.ctx, d, VFIO_DEVICE_GET_REGION_INFO, ri, EINVAL);
	ap_ctx_free(r.ctx);
}

/* ------------------------------------------------------------ regions */

static void test_config_and_mmap(void **state)
{
	struct rig r;
	uint32_t v, msix;
	uint8_t b[8];
	uint8_t *bar;
	int d;

	(void)state;
	rig_init(&r, true);
	d = get_device(&r, BDF);
	assert_int_equal(rd32(&r, d, CFG), 0x20218086);
	/* vfio-pci's open enables memory decoding, not bus mastering */
	assert_int_equal(rd32(&r, d, CFG + PCI_COMMAND) & 0x7, PCI_COMMAND_MEMORY);
	/* sizing BAR0 through the region */
	v = rd32(&r, d, CFG + PCI_BASE_ADDRESS_0);
	wr32(&r, d, CFG + PCI_BASE_ADDRESS_0, 0xffffffff);
	assert_int_equal(rd32(&r, d, CFG + PCI_BASE_ADDRESS_0), 0xffffc004);
	wr32(&r, d, CFG + PCI_BASE_ADDRESS_0, v);
	/* the MSI-X capability is written only through SET_IRQS */
	msix = ap_pci_find_capability(r.pci, PCI_CAP_ID_MSIX);
	wr32(&r, d, CFG + msix, 0xffffffff);
	assert_int_equal(rd32(&r, d, CFG + msix) >> 16, 0);
	/* reads are clipped at the region's end; past it is EINVAL */
	assert_int_equal(ap_vfio_pread(r.ctx, d, b, 8, CFG + 4092), 4);
	assert_int_equal(ap_vfio_pread(r.ctx, d, b, 1, CFG + 4096), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ap_vfio_pread(r.ctx, d, b, 1, REGION(6)), -1);
	assert_int_equal(ap_vfio_pread(r.ctx, d, b, 1, REGION(9)), -1);
	assert_int_equal(ap_vfio_pread(r.ctx, r.g, b, 1, CFG), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ap_vfio_pread(r.ctx, 99, b, 1, CFG), -1);
	assert_int_equal(errno, EBADF);
	/* the BAR: reads through the region see the registers (CBVER 0x33) */
	assert_int_equal(ap_vfio_pread(r.ctx, d, b, 1, REGION(0) + 8), 1);
	assert_int_equal(b[0], 0x33);
	bar = ap_vfio_mmap(r.ctx, d, REGION(0), 16 << 10);
	assert_ptr_equal(bar, ap_pci_bar(r.pci, 0, NULL));
	assert_ptr_equal(ap_vfio_mmap(r.ctx, d, REGION(0) + 0x1000, 0x1000), bar + 0x1000);
	assert_null(ap_vfio_mmap(r.ctx, d, CFG, 4096));
	assert_int_equal(errno, EINVAL);
	assert_null(ap_vfio_mmap(r.ctx, d, REGION(0) + 0x10, 0x1000));
	assert_null(ap_vfio_mmap(r.ctx, d, REGION(0), (16 << 10) + 4096));
	assert_null(ap_vfio_mmap(r.ctx, d, REGION(2), 4096));
	ap_ctx_free(r.ctx);
}

/* ------------------------------------------------------------ interrupts */

static int set_irqs(struct rig *r, int d, uint32_t flags, uint32_t index, uint32_t start,
		    uint32_t count, const int32_t *fds)
{
	uint8_t buf[sizeof(struct vfio_irq_set) + 4 * 8];
	struct vfio_irq_set *s = (void *)buf;

	assert_true(count <= 8);
	*s = (struct vfio_irq_set){ .argsz = (uint32_t)(sizeof(*s) + 4 * count), .flags = flags,
				    .index = index, .start = start, .count = count };
	if (fds)
		memcpy(s->data, fds, 4 * count);
	return verr(r->ctx, d, VFIO_DEVICE_SET_IRQS, s);
}

#define MSIX_EVENTFD (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)

static uint64_t drain(int efd)
{
	uint64_t n = 0;

	if (read(efd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static void test_msix(void **state)
{
	struct rig r;
	int d, efd, other, pfd[2];
	int32_t fds[2] = { -1, -1 };

	(void)state;
	rig_init(&r, true);
	d = get_device(&r, BDF);
	efd = eventfd(0, EFD_NONBLOCK);
	assert_true(efd >= 0);
	assert_int_equal(pipe(pfd), 0);
	/* refusals: not an eventfd, no file, past the vectors, no data room,
	 * two data types, masking MSI-X, MSI (no vectors) */
	fds[0] = pfd[0];
	assert_int_equal(set_irqs(&r, d, MSIX_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, fds), EINVAL);
	assert_false(ap_pci_msix_enabled(r.pci));
	fds[0] = 999;
	assert_int_equal(set_irqs(&r, d, MSIX_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, fds), EBADF);
	fds[0] = efd;
	assert_int_equal(set_irqs(&r, d, MSIX_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 1, 1, fds), EINVAL);
	assert_int_equal(set_irqs(&r, d, MSIX_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, fds), EINVAL);
	assert_int_equal(set_irqs(&r, d, MSIX_EVENTFD | VFIO_IRQ_SET_DATA_BOOL,
				  VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, fds), EINVAL);
	assert_int_equal(set_irqs(&r, d, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
				  VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, NULL), ENOTTY);
	assert_int_equal(set_irqs(&r, d, MSIX_EVENTFD, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, fds), EINVAL);
	assert_int_equal(set_irqs(&r, d, MSIX_EVENTFD, 7, 0, 1, fds), EINVAL);
	assert_int_equal(set_irqs(&r, d, MSIX_EVENTFD | (1u << 9), VFIO_PCI_MSIX_IRQ_INDEX, 0, 1,
				  fds), EINVAL);
	/* loopback before enabling: EINVAL */
	assert_int_equal(set_irqs(&r, d, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
				  VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, NULL), EINVAL);
	/* enable: MSI-X is on in the function, and our copy of the eventfd
	 * outlives the caller's */
	other = dup(efd);
	fds[0] = other;
	assert_int_equal(set_irqs(&r, d, MSIX_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, fds), 0);
	close(other);
	assert_true(ap_pci_msix_enabled(r.pci));
	assert_true(rd32(&r, d, CFG + ap_pci_find_capability(r.pci, PCI_CAP_ID_MSIX)) &
		    ((uint32_t)PCI_MSIX_FLAGS_ENABLE << 16));
	/* INTx cannot come on beside it */
	assert_int_equal(set_irqs(&r, d, MSIX_EVENTFD, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, fds), EINVAL);
	/* loopback */
	assert_int_equal(set_irqs(&r, d, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
				  VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, NULL), 0);
	assert_int_equal(drain(efd), 1);
	/* a reset keeps the vectors (vfio-pci restores the state) */
	IOCTL_OK(r.ctx, d, VFIO_DEVICE_RESET, NULL);
	assert_true(ap_pci_msix_enabled(r.pci));
	/* disable: count 0, DATA_NONE */
	assert_int_equal(set_irqs(&r, d, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
				  VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL), 0);
	assert_false(ap_pci_msix_enabled(r.pci));
	close(efd);
	close(pfd[0]);
	close(pfd[1]);
	ap_ctx_free(r.ctx);
}

static void test_intx_and_single(void **state)
{
	struct rig r;
	int d, efd, err_fd;
	int32_t fd;
	uint8_t yes = 1;

	(void)state;
	rig_init(&r, true);
	d = get_device(&r, BDF);
	efd = eventfd(0, EFD_NONBLOCK);
	err_fd = eventfd(0, EFD_NONBLOCK);
	fd = efd;
	/* masking INTx before it is enabled */
	assert_int_equal(set_irqs(&r, d, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
				  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL), EINVAL);
	assert_int_equal(set_irqs(&r, d, MSIX_EVENTFD, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd), 0);
	assert_int_equal(set_irqs(&r, d, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
				  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL), 0);
	assert_int_equal(drain(efd), 1);
	assert_int_equal(set_irqs(&r, d, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK,
				  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd), ENOTTY);
	assert_int_equal(set_irqs(&r, d, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
				  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL), 0);
	/* MSI-X while INTx is on */
	assert_int_equal(set_irqs(&r, d, MSIX_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &fd), EINVAL);
	/* the error eventfd: set, loop back with a bool, release */
	fd = err_fd;
	assert_int_equal(set_irqs(&r, d, MSIX_EVENTFD, VFIO_PCI_ERR_IRQ_INDEX, 0, 1, &fd), 0);
	{
		uint8_t buf[sizeof(struct vfio_irq_set) + 4];
		struct vfio_irq_set *s = (void *)buf;

		*s = (struct vfio_irq_set){ .argsz = sizeof(buf),
					    .flags = VFIO_IRQ_SET_DATA_BOOL |
						     VFIO_IRQ_SET_ACTION_TRIGGER,
					    .index = VFIO_PCI_ERR_IRQ_INDEX, .count = 1 };
		memcpy(s->data, &yes, 1);
		IOCTL_OK(r.ctx, d, VFIO_DEVICE_SET_IRQS, s);
	}
	assert_int_equal(drain(err_fd), 1);
	fd = -1;
	assert_int_equal(set_irqs(&r, d, MSIX_EVENTFD, VFIO_PCI_ERR_IRQ_INDEX, 0, 1, &fd), 0);
	assert_int_equal(set_irqs(&r, d, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
				  VFIO_PCI_REQ_IRQ_INDEX, 0, 1, NULL), ENOTTY);
	/* disable INTx */
	assert_int_equal(set_irqs(&r, d, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
				  VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL), 0);
	close(efd);
	close(err_fd);
	ap_ctx_free(r.ctx);
}

/* ------------------------------------------------------------ DMA */

static void mmio8(uint8_t *bar, uint32_t off, uint8_t v) { *(volatile uint8_t *)(bar + off) = v; }
static void mmio16(uint8_t *bar, uint32_t off, uint16_t v) { *(volatile uint16_t *)(void *)(bar + off) = v; }
static void mmio64(uint8_t *bar, uint32_t off, uint64_t v) { *(volatile uint64_t *)(void *)(bar + off) = v; }
static uint64_t rmmio64(uint8_t *bar, uint32_t off) { return *(volatile uint64_t *)(void *)(bar + off); }
static uint32_t rmmio32(uint8_t *bar, uint32_t off) { return *(volatile uint32_t *)(void *)(bar + off); }

/* The device copies from the test's own buffer to another part of it,
 * through the IOVAs MAP_DMA gave them; an interrupt arrives on the
 * eventfd.  Then a copy from an unmapped IOVA halts the channel, writes
 * nothing and sends nothing. */
static void test_dma_through_the_iommu(void **state)
{
	struct rig r;
	uint8_t *mem = buf_alloc(4 * PG), *bar;
	uint32_t desc[16];
	uint16_t cmd;
	int d, efd;
	int32_t fd;
	struct ap_fault f;

	(void)state;
	rig_init(&r, true);
	assert_int_equal(map_dma(r.ctx, r.c, mem, 0x100000, 4 * PG, RW), 0);
	d = get_device(&r, BDF);
	bar = ap_vfio_mmap(r.ctx, d, 0, 16 << 10);
	assert_non_null(bar);
	efd = eventfd(0, EFD_NONBLOCK);
	fd = efd;
	assert_int_equal(set_irqs(&r, d, MSIX_EVENTFD, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &fd), 0);
	assert_int_equal(ap_vfio_pread(r.ctx, d, &cmd, 2, CFG + PCI_COMMAND), 2);
	cmd |= PCI_COMMAND_MASTER;
	assert_int_equal(ap_vfio_pwrite(r.ctx, d, &cmd, 2, CFG + PCI_COMMAND), 2);
	mmio8(bar, 0x84, 0x20);
	ap_pci_poll(r.pci);
	mmio8(bar, 0x03, 0x08);
	for (int i = 0; i < 256; i++)
		mem[PG + i] = (uint8_t)(i * 7 + 3);
	memset(desc, 0, sizeof(desc));
	desc[0] = 256;                         /* size */
	desc[1] = 1;                           /* INT_EN */
	desc[2] = 0x100000 + PG;               /* source */
	desc[4] = 0x100000 + 2 * PG;           /* destination */
	desc[6] = 0x100000;                    /* next: itself */
	memcpy(mem, desc, sizeof(desc));
	mmio64(bar, 0x90, 0x100000);
	mmio16(bar, 0x80, 0x0009);
	mmio16(bar, 0x86, 1);
	ap_pci_poll(r.pci);
	assert_int_equal(rmmio64(bar, 0x88) & 7, 1); /* DONE */
	assert_memory_equal(mem + 2 * PG, mem + PG, 256);
	assert_int_equal(drain(efd), 1);
	/* from an unmapped IOVA: halted, READ_DATA_ERR, CDAR the descriptor,
	 * the destination untouched, no interrupt; the IOMMU saw it */
	mmio8(bar, 0x84, 0x04);
	ap_pci_poll(r.pci);
	memset(mem + 3 * PG, 0x5a, PG);
	desc[2] = 0x900000;
	desc[4] = 0x100000 + 3 * PG;
	memcpy(mem, desc, sizeof(desc));
	mmio64(bar, 0x90, 0x100000);
	mmio16(bar, 0x80, 0x0009);
	mmio16(bar, 0x86, 1);
	ap_pci_poll(r.pci);
	assert_int_equal(rmmio64(bar, 0x88) & 7, 3);
	assert_int_equal(rmmio32(bar, 0xa8), 0x100);
	assert_int_equal(rmmio64(bar, 0xa0), 0x100000);
	for (int i = 0; i < (int)PG; i++)
		assert_int_equal(mem[3 * PG + i], 0x5a);
	assert_int_equal(drain(efd), 0);
	assert_true(ap_iommu_fault_pop(r.iommu, &f));
	assert_int_equal(f.iova, 0x900000);
	assert_int_equal(f.sid, 0x20);
	close(efd);
	ap_ctx_free(r.ctx);
	munmap(mem, 4 * PG);
}

/* ------------------------------------------------------------ lifetimes */

static void test_lifetimes(void **state)
{
	struct rig r;
	int d, g2;

	(void)state;
	rig_init(&r, true);
	d = get_device(&r, BDF);
	/* the device holds the group in its container */
	IOCTL_ERR(r.ctx, r.g, VFIO_GROUP_UNSET_CONTAINER, NULL, EBUSY);
	assert_int_equal(ap_vfio_close(r.ctx, r.g), 0);
	IOCTL_ERR(r.ctx, r.g, VFIO_GROUP_GET_STATUS, NULL, EBADF);
	assert_int_equal(ap_vfio_open(r.ctx, "/dev/vfio/3"), -1);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(rd32(&r, d, CFG) & 0xffff, 0x8086);
	assert_true(ap_device_domain(r.dev) != NULL);
	/* the last device handle lets the group go */
	assert_int_equal(ap_vfio_close(r.ctx, d), 0);
	assert_null(ap_device_domain(r.dev));
	g2 = ap_vfio_open(r.ctx, "/dev/vfio/3");
	assert_true(g2 >= 0);
	/* the container can take it again */
	join_container(r.ctx, g2, r.c);
	ap_ctx_free(r.ctx);
}

#define THREADS 4
#define ROUNDS 300

struct worker {
	struct rig *r;
	unsigned opened;   /* device handles it got */
	unsigned refused;  /* GET_DEVICE_FD after the group handle closed */
	unsigned wrong;    /* answers that were neither */
};

/* Open a device handle, read its vendor ID and BAR0's size, close it. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct ap_ctx *ctx = w->r->ctx;

	for (unsigned i = 0; i < ROUNDS; i++) {
		struct vfio_region_info ri = { .argsz = sizeof(ri), .index = 0 };
		uint16_t vendor = 0;
		int d = ap_vfio_ioctl(ctx, w->r->g, VFIO_GROUP_GET_DEVICE_FD, BDF);

		if (d < 0) {
			/* the number is closed, or (handles are numbered as file
			 * descriptors are) already another thread's device */
			if (errno == EBADF || errno == ENOTTY)
				w->refused++;
			else
				w->wrong++;
			continue;
		}
		__atomic_add_fetch(&w->opened, 1, __ATOMIC_RELAXED);
		if (ap_vfio_pread(ctx, d, &vendor, 2, CFG) != 2 || vendor != 0x8086 ||
		    ap_vfio_ioctl(ctx, d, VFIO_DEVICE_GET_REGION_INFO, &ri) || ri.size != 16384)
			w->wrong++;
		if (ap_vfio_close(ctx, d))
			w->wrong++;
	}
	return NULL;
}

/* The group's handle is closed while threads open devices through it: a
 * call that got the handle first finishes (its device holds the group),
 * later ones are refused, and the last device handle lets the group go. */
static void test_threads(void **state)
{
	struct rig r;
	struct worker w[THREADS];
	pthread_t t[THREADS];
	unsigned opened = 0, refused = 0;
	uint16_t cmd = 0xffff;
	int g2;

	(void)state;
	rig_init(&r, true);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .r = &r };
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	while (!__atomic_load_n(&w[0].opened, __ATOMIC_RELAXED))
		sched_yield();
	assert_int_equal(ap_vfio_close(r.ctx, r.g), 0);
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].wrong, 0);
		opened += w[i].opened;
		refused += w[i].refused;
	}
	print_message("threads: %u device handles opened, %u refused after the group closed\n",
		      opened, refused);
	assert_int_equal(opened + refused, THREADS * ROUNDS);
	assert_true(opened > 0);
	/* every handle is gone: the function is disabled, the group free */
	ap_pci_config_read(r.pci, PCI_COMMAND, &cmd, 2);
	assert_int_equal(cmd, 0);
	assert_null(ap_device_domain(r.dev));
	g2 = ap_vfio_open(r.ctx, "/dev/vfio/3");
	assert_true(g2 >= 0);
	join_container(r.ctx, g2, r.c);
	ap_ctx_free(r.ctx);
}

static void test_reset_and_features(void **state)
{
	struct rig r;
	struct vfio_pci_hot_reset_info hri = { .argsz = sizeof(hri) };
	struct vfio_device_feature feat = { .argsz = sizeof(feat),
					    .flags = VFIO_DEVICE_FEATURE_GET |
						     VFIO_DEVICE_FEATURE_MIGRATION };
	uint8_t *bar;
	int d;

	(void)state;
	rig_init(&r, true);
	d = get_device(&r, BDF);
	bar = ap_vfio_mmap(r.ctx, d, 0, 4096);
	mmio64(bar, 0x98, 0x1234000);
	mmio8(bar, 0x84, 0x04);
	IOCTL_OK(r.ctx, d, VFIO_DEVICE_RESET, NULL);
	assert_int_equal(rmmio64(bar, 0x88) & 7, 3); /* power-on: HALTED */
	assert_int_equal(bar[0x84], 0);
	IOCTL_ERR(r.ctx, d, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hri, ENODEV);
	hri.argsz = 4;
	IOCTL_ERR(r.ctx, d, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hri, EINVAL);
	IOCTL_ERR(r.ctx, d, VFIO_DEVICE_FEATURE, &feat, ENOTTY);
	feat.flags |= 1u << 20;
	IOCTL_ERR(r.ctx, d, VFIO_DEVICE_FEATURE, &feat, EINVAL);
	feat.argsz = 4;
	feat.flags = VFIO_DEVICE_FEATURE_GET;
	IOCTL_ERR(r.ctx, d, VFIO_DEVICE_FEATURE, &feat, EINVAL);
	ap_ctx_free(r.ctx);
}

/* Each allocation GET_DEVICE_FD makes fails in turn: ENOMEM, no handle,
 * nothing leaked, and the next try works. */
static void test_failnth(void **state)
{
	bool done = false;

	(void)state;
	for (unsigned long n = 1; !done && n < 32; n++) {
		struct rig r;
		uint64_t a0, b0, a1, b1;
		int fd;

		rig_init(&r, true);
		ap_ctx_mem_stats(r.ctx, &a0, &b0);
		ap_ctx_fail_nth(r.ctx, n);
		fd = ap_vfio_ioctl(r.ctx, r.g, VFIO_GROUP_GET_DEVICE_FD, BDF);
		done = !ap_ctx_fail_fired(r.ctx);
		ap_ctx_fail_nth(r.ctx, 0);
		if (done) {
			assert_true(fd >= 0);
		} else {
			assert_int_equal(fd, -1);
			assert_int_equal(errno, ENOMEM);
			ap_ctx_mem_stats(r.ctx, &a1, &b1);
			assert_int_equal(a1, a0);
			assert_int_equal(b1, b0);
			assert_true(get_device(&r, BDF) >= 0);
		}
		ap_ctx_free(r.ctx);
	}
	assert_true(done);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_device_fd),
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_region_info),
		cmocka_unit_test(test_config_and_mmap),
		cmocka_unit_test(test_msix),
		cmocka_unit_test(test_intx_and_single),
		cmocka_unit_test(test_dma_through_the_iommu),
		cmocka_unit_test(test_lifetimes),
		cmocka_unit_test(test_reset_and_features),
		cmocka_unit_test(test_failnth),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
