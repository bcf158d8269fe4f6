/* SPDX-License-Identifier: MIT */
/*
 * A userspace driver for the Intel I/OAT DMA engine (Crystal Beach 3,
 * 8086:2021) on a VFIO device: BAR0 mmapped, MSI-X vector 0 routed to an
 * eventfd, copies by a self-linked descriptor.  Checked: a copy lands and
 * interrupts; a copy from an IOVA nobody mapped halts the channel with a
 * read error (CHANSTS HALTED, CHANERR, CDAR naming the descriptor), writes
 * nothing and does not interrupt; so does a copy to an unmapped IOVA, with
 * a write error; a copy from a buffer after its UNMAP_DMA faults the same
 * way; after a reset the engine works again; a run of many copies.
 */
// shim-test: vtd.scn smmu.scn
#include <poll.h>
#include <sys/eventfd.h>

#include "cr.h"

#define CHANERR_READ 0x100
#define CHANERR_WRITE 0x200

/* An interrupt arrived on the eventfd within ms milliseconds. */
static bool got_irq(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t n;

	if (poll(&p, 1, ms) != 1)
		return false;
	CHECK(read(efd, &n, sizeof(n)) == sizeof(n) && n >= 1, "eventfd read");
	return true;
}

static void msix_to(struct cr *v, int efd)
{
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_MSIX_IRQ_INDEX };
	char buf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	struct vfio_irq_set *s = (void *)buf;
	int32_t fd = efd;

	CHECK(!ioctl(v->device, VFIO_DEVICE_GET_IRQ_INFO, &ii), "IRQ info");
	CHECK(ii.count >= 1 && (ii.flags & VFIO_IRQ_INFO_EVENTFD), "MSI-X count %u", ii.count);
	*s = (struct vfio_irq_set){ .argsz = sizeof(buf),
				    .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
				    .index = VFIO_PCI_MSIX_IRQ_INDEX, .start = 0, .count = 1 };
	memcpy(s->data, &fd, sizeof(fd));
	CHECK(!ioctl(v->device, VFIO_DEVICE_SET_IRQS, s), "SET_IRQS MSI-X");
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

int main(int argc, char **argv)
{
	const char *bdf = cr_bdf(argc, argv);
	struct cr v;
	volatile uint8_t *bar;
	uint8_t *mem = cr_buffer(64 * PAGE), *src = mem + 16 * PAGE, *dst = mem + 32 * PAGE;
	struct ioat_desc *desc = (void *)mem;
	uint64_t base, unmapped, done;
	unsigned st;
	int efd = eventfd(0, EFD_CLOEXEC);

	CHECK(efd >= 0, "eventfd");
	cr_open(&v, bdf, VFIO_TYPE1v2_IOMMU);
	base = cr_iova(&v, 64 * PAGE, 0);
	unmapped = cr_iova(&v, 64 * PAGE, 1); /* never mapped */
	CHECK(!cr_map(&v, mem, base, 48 * PAGE), "map the buffers");
	bar = cr_device(&v, bdf, NULL);
	ioat_init(&v, bar);
	msix_to(&v, efd);

	/* a copy that lands, with an interrupt */
	fill(src, 8 * PAGE, 1);
	memset(dst, 0, 8 * PAGE);
	st = ioat_copy(bar, desc, base, base + 16 * PAGE, base + 32 * PAGE, 8 * PAGE, true);
	CHECK(st == IOAT_ST_DONE, "copy status %u, CHANERR 0x%x", st, mmio32(bar, IOAT_CHANERR));
	CHECK(!memcmp(src, dst, 8 * PAGE), "the copy did not land");
	CHECK(got_irq(efd, 5000), "no MSI-X after the copy");

	/* from an IOVA nobody mapped: halted, read error, nothing written, no MSI */
	memset(dst, 0x5a, PAGE);
	st = ioat_copy(bar, desc, base, unmapped, base + 32 * PAGE, PAGE, false);
	CHECK(st == IOAT_ST_HALTED, "status %u copying from unmapped IOVA", st);
	CHECK(mmio32(bar, IOAT_CHANERR) & CHANERR_READ, "CHANERR 0x%x", mmio32(bar, IOAT_CHANERR));
	CHECK(mmio64(bar, IOAT_CDAR) == base, "CDAR 0x%llx, the descriptor is at 0x%llx",
	      (unsigned long long)mmio64(bar, IOAT_CDAR), (unsigned long long)base);
	CHECK(desc->src == unmapped, "the failed descriptor's source");
	for (unsigned i = 0; i < PAGE; i++)
		CHECK(dst[i] == 0x5a, "byte %u written by a faulting copy", i);
	CHECK(!got_irq(efd, 100), "an MSI-X for a faulting copy");
	ioat_reset(bar);
	CHECK(mmio32(bar, IOAT_CHANERR) == 0, "CHANERR after reset");

	/* to an unmapped IOVA: a write error */
	st = ioat_copy(bar, desc, base, base + 16 * PAGE, unmapped, PAGE, false);
	CHECK(st == IOAT_ST_HALTED && (mmio32(bar, IOAT_CHANERR) & CHANERR_WRITE),
	      "status %u CHANERR 0x%x copying to an unmapped IOVA", st, mmio32(bar, IOAT_CHANERR));
	ioat_reset(bar);

	/* from a buffer after its UNMAP_DMA */
	CHECK(!cr_map(&v, mem + 48 * PAGE, base + 48 * PAGE, 8 * PAGE), "map a third buffer");
	st = ioat_copy(bar, desc, base, base + 48 * PAGE, base + 32 * PAGE, PAGE, false);
	CHECK(st == IOAT_ST_DONE, "copy from the third buffer: %u", st);
	CHECK(!cr_unmap(&v, base + 48 * PAGE, 8 * PAGE, 0, &done) && done == 8 * PAGE, "unmap it");
	memset(dst, 0x77, PAGE);
	st = ioat_copy(bar, desc, base, base + 48 * PAGE, base + 32 * PAGE, PAGE, false);
	CHECK(st == IOAT_ST_HALTED && (mmio32(bar, IOAT_CHANERR) & CHANERR_READ),
	      "copy after UNMAP_DMA: status %u CHANERR 0x%x", st, mmio32(bar, IOAT_CHANERR));
	CHECK(dst[0] == 0x77 && dst[PAGE - 1] == 0x77, "written after UNMAP_DMA");
	ioat_reset(bar);

	/* many copies through one doorbell, and a last one that interrupts */
	fill(src, PAGE, 9);
	memset(desc, 0, sizeof(*desc));
	desc->size = PAGE;
	desc->src = base + 16 * PAGE;
	desc->dst = base + 32 * PAGE;
	desc->next = base;
	mmio_w64(bar, IOAT_CHAINADDR, base);
	mmio_w16(bar, IOAT_CHANCTRL, 0x0009);
	mmio_w16(bar, IOAT_DMACOUNT, 1000);
	CHECK(ioat_wait(bar, IOAT_ST_DONE, IOAT_ST_HALTED) == IOAT_ST_DONE, "1000 copies");
	CHECK(!memcmp(src, dst, PAGE), "the 1000 copies did not land");
	mmio_w8(bar, IOAT_CHANCMD, IOAT_CMD_SUSPEND);
	ioat_wait(bar, IOAT_ST_SUSPENDED, IOAT_ST_SUSPENDED);
	fill(src, 64, 11);
	st = ioat_copy(bar, desc, base, base + 16 * PAGE, base + 32 * PAGE, 64, true);
	CHECK(st == IOAT_ST_DONE && !memcmp(src, dst, 64), "the last copy");
	CHECK(got_irq(efd, 5000), "no MSI-X after the last copy");

	CHECK(!munmap((void *)(uintptr_t)bar, 16 << 10), "munmap BAR0");
	CHECK(!close(v.device) && !close(efd) && !close(v.group) && !close(v.container), "close");
	printf("ioat: copies land, faults halt the channel and write nothing\n");
	return 0;
}
