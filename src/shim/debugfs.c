/* SPDX-License-Identifier: MIT */
/*
 * /sys/kernel/debug/iommu/intel/BDF/domain_translation_struct, rendered
 * from the device's real VT-d tables when the program opens it, in the
 * format Linux 6.7+ writes (drivers/iommu/intel/debugfs.c): a line naming
 * the device and its root table, a header, then one line per present leaf
 * with the IOVA's page number and the entry read at each level from PML5E
 * down (PML5E 0 for 4-level tables; the PDE and PTE columns only when the
 * walk reached them).  A device on no paging domain prints nothing, as a
 * context entry that is not present does.
 */
#define _GNU_SOURCE /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's switch */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim.h"

struct render {
	int fd;
	const struct ap_pt *pt;
	unsigned levels; /* what the unit walks: 3, 4 or 5 */
};

static int leaf_line(void *arg, const struct ap_pt_leaf *leaf)
{
	const struct render *r = arg;
	struct ap_pt_path_entry e[6];
	uint64_t path[6] = { 0 };
	unsigned n = ap_pt_path(r->pt, leaf->iova, e, 6);

	for (unsigned i = 0; i < n; i++)
		if (e[i].level >= 1 && (unsigned)e[i].level <= r->levels)
			path[e[i].level] = e[i].pte;
	dprintf(r->fd, "0x%013llx |\t0x%016llx\t0x%016llx\t0x%016llx",
		(unsigned long long)(leaf->iova >> 12), (unsigned long long)path[5],
		(unsigned long long)path[4], (unsigned long long)path[3]);
	if (path[2]) {
		dprintf(r->fd, "\t0x%016llx", (unsigned long long)path[2]);
		if (path[1])
			dprintf(r->fd, "\t0x%016llx", (unsigned long long)path[1]);
	}
	dprintf(r->fd, "\n");
	return 0;
}

int shim_debugfs_render(const char *bdf)
{
	struct ap_pci *pci = ap_pci_find(shim.ctx, bdf);
	struct ap_device *dev = pci ? ap_pci_device(pci) : NULL;
	struct ap_domain *dom = dev ? ap_device_domain(dev) : NULL;
	struct ap_pt_regs regs;
	struct render r;
	int fd = memfd_create("aperture:domain_translation_struct", MFD_CLOEXEC);
	uint16_t rid = ap_pci_rid(pci);

	if (fd < 0)
		return -1;
	if (dom && ap_domain_type(dom) == AP_DOMAIN_PAGING &&
	    ap_iommu_domain_format(ap_device_iommu(dev)) == AP_PT_INTEL_VTD_SL &&
	    !ap_domain_regs(dom, ap_device_iommu(dev), &regs)) {
		r = (struct render){ fd, ap_domain_pt(dom), regs.aw + 2 };
		dprintf(fd, "Device %.4s:%02x:%02x.%x @0x%llx\n", bdf, rid >> 8, (rid >> 3) & 0x1f,
			rid & 7, (unsigned long long)regs.ttbr);
		dprintf(fd, "%-17s\t%-18s\t%-18s\t%-18s\t%-18s\t%-s\n", "IOVA_PFN", "PML5E", "PML4E",
			"PDPE", "PDE", "PTE");
		ap_pt_for_each_leaf(r.pt, 0, UINT64_MAX, leaf_line, &r);
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}
