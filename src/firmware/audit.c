/* SPDX-License-Identifier: MIT */
/*
 * src/firmware/audit.c - every way the description lets DMA reach memory
 * untranslated, enumerated in a fixed order: units first (pass-through
 * capable, unmatched streams passing), then devices (no IOMMU, identity
 * group, no group on a host that shows groups), then direct regions.
 */
#include <stdio.h>
#include <string.h>

#include "fw_internal.h"

static uint64_t reach(const struct ap_fw_dev *d)
{
	return d->addr_bits && d->addr_bits < 64 ? (1ull << d->addr_bits) - 1 : UINT64_MAX;
}

static const char *unit_why(const struct ap_fw_unit *u, unsigned which)
{
	if (which == 0 && u->caps.pass_through)
		return "ECAP.PT: the unit can pass DMA through untranslated (a passthrough context)";
	if (which == 1 && u->caps.clientpd)
		return "sCR0.CLIENTPD=1: the SMMU passes every stream untranslated";
	if (which == 2 && u->caps.unmatched_bypass && !u->caps.clientpd)
		return "unmatched streams pass untranslated (sCR0.USFCFG=0 / arm-smmu "
		       "disable_bypass=0)";
	return NULL;
}

static const struct ap_fw_group *group_of(const struct ap_fw *fw, int id)
{
	for (size_t i = 0; i < FW_N(fw, FV_GROUP); i++)
		if (((const struct ap_fw_group *)fw_at(fw, FV_GROUP, i))->id == id)
			return fw_at(fw, FV_GROUP, i);
	return NULL;
}

static const char *dev_why(const struct ap_fw *fw, const struct ap_fw_dev *d)
{
	const struct ap_fw_group *g;

	if (!(d->flags & AP_FW_DEV_DMA))
		return NULL;
	if (d->group >= 0 && (g = group_of(fw, d->group)) && !strcmp(g->type, "identity"))
		return "its IOMMU group is identity (passthrough): DMA is not translated";
	/* whatever a table says of it, a function the running host put in no
	 * group is translated by nothing (an IOMMU the kernel does not use) */
	if (d->group < 0 && (d->flags & AP_FW_DEV_HOST))
		return FW_N(fw, FV_UNIT) ? "a DMA-capable PCI device in no IOMMU group: nothing "
					   "translates its DMA"
					 : "no IOMMU: the device reaches all memory";
	if (d->unit < 0 && d->origin != AP_FW_SYSFS)
		return "no IOMMU translates its DMA";
	return NULL;
}

static const char *resv_why(const struct ap_fw_resv *r)
{
	if (r->type != AP_RESV_DIRECT && r->type != AP_RESV_DIRECT_RELAXABLE)
		return NULL;
	switch (r->origin) {
	case AP_FW_DMAR: return "RMRR: firmware keeps this range identity-mapped";
	case AP_FW_IORT: return "IORT RMR: these streams get bypass entries for the range";
	case AP_FW_DT: return "iommu-addresses: a 1:1 (direct) region";
	default: return "a direct (1:1) reserved region";
	}
}

int ap_fw_bypass(const struct ap_fw *fw, size_t index, struct ap_fw_bypass *out)
{
	size_t k = 0;

	if (!fw || !out)
		return -EINVAL;
	for (size_t i = 0; i < FW_N(fw, FV_UNIT); i++)
		for (unsigned w = 0; w < 3; w++) {
			const struct ap_fw_unit *u = FW_UNIT(fw, i);
			const char *why = unit_why(u, w);

			if (why && k++ == index) {
				snprintf(out->who, sizeof(out->who), "%s", u->name);
				out->why = why;
				out->start = 0;
				out->end = UINT64_MAX;
				return 0;
			}
		}
	for (size_t i = 0; i < FW_N(fw, FV_DEV); i++) {
		const struct ap_fw_dev *d = FW_DEV(fw, i);
		const char *why = dev_why(fw, d);

		if (why && k++ == index) {
			snprintf(out->who, sizeof(out->who), "%s", d->name);
			out->why = why;
			out->start = 0;
			out->end = reach(d);
			return 0;
		}
	}
	for (size_t i = 0; i < FW_N(fw, FV_RESV); i++) {
		const struct ap_fw_resv *r = fw_at(fw, FV_RESV, i);
		const char *why = resv_why(r);

		if (why && k++ == index) {
			if (r->dev >= 0)
				snprintf(out->who, sizeof(out->who), "%s", FW_DEV(fw, (size_t)r->dev)->name);
			else
				snprintf(out->who, sizeof(out->who), "%s sid 0x%x..0x%x",
					 FW_UNIT(fw, (size_t)r->unit)->name, r->sid_base,
					 r->sid_base + r->sid_count - 1);
			out->why = why;
			out->start = r->start;
			out->end = r->start + r->size - 1;
			return 0;
		}
	}
	return -ENOENT;
}

bool ap_fw_no_iommu(const struct ap_fw *fw)
{
	return !fw || FW_N(fw, FV_UNIT) == 0;
}
