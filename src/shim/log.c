/* SPDX-License-Identifier: MIT */
/*
 * The log (`aperture shim --log FILE`): one line per call the shim
 * answered or whose path lies in the launcher's tree, with its result,
 * prefixed by the process ID; and the faults the devices' DMA met.  Each
 * line is one write(2) to a file opened for appending, so the lines of
 * threads and forked children do not mix.
 */
#define _GNU_SOURCE /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's switch */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "shim.h"

bool shim_logging(void)
{
	return shim.log_fd >= 0;
}

void shim_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (shim.log_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "[%d] ", (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(shim.log_fd, line, (size_t)n) < 0)
		return;
}

void shim_result(char *buf, size_t len, long rc, int err)
{
	if (rc >= 0 || !err)
		snprintf(buf, len, "= %ld", rc);
	else if (shim.ctx && *ap_ctx_error(shim.ctx))
		snprintf(buf, len, "= -1 %s (%s)", ap_errno_name(err), ap_ctx_error(shim.ctx));
	else
		snprintf(buf, len, "= -1 %s", ap_errno_name(err));
}

/* ------------------------------------------------------------ requests */

/* Request numbers are per file type: VFIO_IOMMU_GET_INFO and
 * VFIO_DEVICE_GET_PCI_HOT_RESET_INFO are both VFIO_BASE + 12, say. */
struct reqname {
	unsigned kinds; /* 1 << enum shim_kind */
	unsigned long req;
	const char *name;
};

#define C_ (1u << SF_CONTAINER)
#define G_ (1u << SF_GROUP)
#define D_ (1u << SF_DEVICE)

static const struct reqname names[] = {
	{ C_ | G_ | D_, VFIO_GET_API_VERSION, "VFIO_GET_API_VERSION" },
	{ C_, VFIO_CHECK_EXTENSION, "VFIO_CHECK_EXTENSION" },
	{ C_, VFIO_SET_IOMMU, "VFIO_SET_IOMMU" },
	{ G_, VFIO_GROUP_GET_STATUS, "VFIO_GROUP_GET_STATUS" },
	{ G_, VFIO_GROUP_SET_CONTAINER, "VFIO_GROUP_SET_CONTAINER" },
	{ G_, VFIO_GROUP_UNSET_CONTAINER, "VFIO_GROUP_UNSET_CONTAINER" },
	{ G_, VFIO_GROUP_GET_DEVICE_FD, "VFIO_GROUP_GET_DEVICE_FD" },
	{ D_, VFIO_DEVICE_GET_INFO, "VFIO_DEVICE_GET_INFO" },
	{ D_, VFIO_DEVICE_GET_REGION_INFO, "VFIO_DEVICE_GET_REGION_INFO" },
	{ D_, VFIO_DEVICE_GET_IRQ_INFO, "VFIO_DEVICE_GET_IRQ_INFO" },
	{ D_, VFIO_DEVICE_SET_IRQS, "VFIO_DEVICE_SET_IRQS" },
	{ D_, VFIO_DEVICE_RESET, "VFIO_DEVICE_RESET" },
	{ D_, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO" },
	{ D_, VFIO_DEVICE_PCI_HOT_RESET, "VFIO_DEVICE_PCI_HOT_RESET" },
	{ D_, VFIO_DEVICE_IOEVENTFD, "VFIO_DEVICE_IOEVENTFD" },
	{ D_, VFIO_DEVICE_FEATURE, "VFIO_DEVICE_FEATURE" },
	{ C_, VFIO_IOMMU_GET_INFO, "VFIO_IOMMU_GET_INFO" },
	{ C_, VFIO_IOMMU_MAP_DMA, "VFIO_IOMMU_MAP_DMA" },
	{ C_, VFIO_IOMMU_UNMAP_DMA, "VFIO_IOMMU_UNMAP_DMA" },
	{ C_, VFIO_IOMMU_DIRTY_PAGES, "VFIO_IOMMU_DIRTY_PAGES" },
};

static const struct reqname *req_of(unsigned kind, unsigned long req)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].req == req && (names[i].kinds & (1u << kind)))
			return &names[i];
	return NULL;
}

static const char *map_flags(uint32_t f)
{
	switch (f & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)) {
	case VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE:
		return "RW";
	case VFIO_DMA_MAP_FLAG_READ:
		return "R";
	case VFIO_DMA_MAP_FLAG_WRITE:
		return "W";
	default:
		return "-";
	}
}

/* What a request carries, and after it ran what it returned; the argument
 * was checked readable by the caller for struct requests.  By name: the
 * numbers repeat across file types. */
static void details(const char *name, const void *arg, bool after, int rc, char *buf,
		    size_t len)
{
#define IS(n) (!strcmp(name, #n))
	buf[0] = '\0';
	if (IS(VFIO_CHECK_EXTENSION) || IS(VFIO_SET_IOMMU)) {
		snprintf(buf, len, ", %lu", (unsigned long)(uintptr_t)arg);
	} else if (IS(VFIO_GROUP_SET_CONTAINER)) {
		snprintf(buf, len, ", [%d]", *(const int *)arg);
	} else if (IS(VFIO_GROUP_GET_DEVICE_FD)) {
		snprintf(buf, len, ", \"%.64s\"", (const char *)arg);
	} else if (IS(VFIO_GROUP_GET_STATUS)) {
		if (after && !rc)
			snprintf(buf, len, " {flags=0x%x}", ((const struct vfio_group_status *)arg)->flags);
	} else if (IS(VFIO_IOMMU_MAP_DMA)) {
		const struct vfio_iommu_type1_dma_map *m = arg;

		snprintf(buf, len, " {iova=0x%llx size=0x%llx vaddr=0x%llx flags=%s%s}",
			 (unsigned long long)m->iova, (unsigned long long)m->size,
			 (unsigned long long)m->vaddr, map_flags(m->flags),
			 (m->flags & VFIO_DMA_MAP_FLAG_VADDR) ? "|VADDR" : "");
	} else if (IS(VFIO_IOMMU_UNMAP_DMA)) {
		const struct vfio_iommu_type1_dma_unmap *u = arg;

		snprintf(buf, len, " {iova=0x%llx size=0x%llx flags=0x%x}",
			 (unsigned long long)u->iova, (unsigned long long)u->size, u->flags);
	} else if (IS(VFIO_IOMMU_GET_INFO)) {
		const struct vfio_iommu_type1_info *i = arg;

		if (after && !rc)
			snprintf(buf, len, " {argsz=%u pgsizes=0x%llx}", i->argsz,
				 (unsigned long long)i->iova_pgsizes);
		else
			snprintf(buf, len, " {argsz=%u}", i->argsz);
	} else if (IS(VFIO_DEVICE_GET_INFO)) {
		const struct vfio_device_info *d = arg;

		if (after && !rc)
			snprintf(buf, len, " {flags=0x%x regions=%u irqs=%u}", d->flags,
				 d->num_regions, d->num_irqs);
	} else if (IS(VFIO_DEVICE_GET_REGION_INFO)) {
		const struct vfio_region_info *r = arg;

		if (after && !rc)
			snprintf(buf, len, " {index=%u size=0x%llx offset=0x%llx flags=0x%x}",
				 r->index, (unsigned long long)r->size,
				 (unsigned long long)r->offset, r->flags);
		else
			snprintf(buf, len, " {index=%u}", r->index);
	} else if (IS(VFIO_DEVICE_GET_IRQ_INFO)) {
		const struct vfio_irq_info *i = arg;

		if (after && !rc)
			snprintf(buf, len, " {index=%u count=%u flags=0x%x}", i->index, i->count,
				 i->flags);
		else
			snprintf(buf, len, " {index=%u}", i->index);
	} else if (IS(VFIO_DEVICE_SET_IRQS)) {
		const struct vfio_irq_set *st = arg;

		snprintf(buf, len, " {index=%u start=%u count=%u flags=0x%x}", st->index, st->start,
			 st->count, st->flags);
	}
#undef IS
}

void shim_ioctl_describe(unsigned kind, unsigned long req, const void *arg, bool after, int rc,
			 char *buf, size_t len)
{
	const struct reqname *r = req_of(kind, req);
	char more[160];

	if (!r) {
		snprintf(buf, len, "0x%lx", req);
		return;
	}
	details(r->name, arg, after, rc, more, sizeof(more));
	snprintf(buf, len, "%s%s", r->name, more);
}

/* ------------------------------------------------------------ faults */

void shim_fault_handler(void *arg, struct ap_pci *pci, const struct ap_fault *f)
{
	(void)arg;
	shim_log("dma fault: %s %s iova=0x%llx stream=0x%x: %s fault at %s", ap_pci_name(pci),
		 (f->access & AP_ACCESS_WRITE) ? "write" : "read", (unsigned long long)f->iova,
		 f->sid, ap_fault_kind_name(f->kind), f->iommu ? ap_iommu_name(f->iommu) : "?");
}
