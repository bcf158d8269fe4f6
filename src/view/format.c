/* SPDX-License-Identifier: MIT */
/*
 * Formatting for people, shared by the views.
 */
#include <stdio.h>
#include <string.h>

#include <linux/vfio.h>

#include "view_internal.h"

/* "1.5 GiB" style, for humans. */
const char *ap__view_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	if (u == 0 || v == (double)(uint64_t)v)
		snprintf(buf, len, "%llu %s", (unsigned long long)v, units[u]);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

const char *ap__view_access(unsigned access, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", access & AP_ACCESS_WRITE ? "write" : "read",
		 access & AP_ACCESS_EXEC ? "+exec" : "", access & AP_ACCESS_PRIV ? "+priv" : "");
	return buf;
}

const char *ap__view_fault_detail(const struct ap_fault *f, char *buf, size_t len)
{
	char acc[32];

	ap__view_access(f->access, acc, sizeof(acc));
	if (f->kind == AP_FAULT_EXTERNAL)
		snprintf(buf, len, "%s, pa 0x%llx", acc, (unsigned long long)f->pa);
	else if (f->level >= 0)
		snprintf(buf, len, "%s, level %d", acc, f->level);
	else
		snprintf(buf, len, "%s", acc);
	return buf;
}

/* The stage column: what the table format of its domains translates. */
unsigned ap__view_stage(const struct ap_iommu *i)
{
	return ap_iommu_domain_format(i) == AP_PT_ARM_LPAE_S1 ? 1 : 2;
}

const char *ap__view_container_type(unsigned long iommu)
{
	if (iommu == VFIO_TYPE1v2_IOMMU)
		return "type1v2";
	if (iommu == VFIO_TYPE1_IOMMU)
		return "type1";
	return "no IOMMU set";
}

/* The container labelled `name`, as an index. */
bool ap__view_container_named(struct ap_ctx *ctx, const char *name, size_t *index)
{
	struct ap_vfio_container_info ci;

	for (*index = 0; !ap_vfio_container_info(ctx, *index, &ci); (*index)++)
		if (!strcmp(ci.label, name))
			return true;
	return false;
}

const char *ap__view_bypass_kind(enum ap_bypass b)
{
	switch (b) {
	case AP_BYPASS_UNMATCHED: return "unmatched";
	case AP_BYPASS_IDENTITY: return "identity";
	case AP_BYPASS_OPEN_APERTURE: return "open-aperture";
	default: return "none";
	}
}
