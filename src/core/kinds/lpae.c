/* SPDX-License-Identifier: MIT */
/*
 * What the kinds that walk ARM VMSAv8-64 long-descriptor tables share
 * (arm-smmu-v3 and arm-smmu): the format a stage uses, the output sizes the
 * architecture encodes, page-size checks, the register view, the MSI
 * window and capabilities Linux's two drivers give alike.
 */
#include <errno.h>

#include "kind.h"

enum ap_pt_format ap__lpae_format(unsigned stage)
{
	return stage == 2 ? AP_PT_ARM_LPAE_S2 : AP_PT_ARM_LPAE_S1;
}

/* The physical address sizes the PARange / IPS / PS encodings have. */
bool ap__lpae_oas_valid(unsigned oas)
{
	return oas == 32 || oas == 36 || oas == 40 || oas == 42 || oas == 44 || oas == 48 ||
	       oas == 52;
}

#define LPAE_GRANULES ((1ull << 12) | (1ull << 14) | (1ull << 16))

static const char *size_name(uint64_t s)
{
	switch (s) {
	case 1ull << 12: return "4K";
	case 1ull << 14: return "16K";
	case 1ull << 16: return "64K";
	case 1ull << 21: return "2M";
	case 1ull << 25: return "32M";
	case 1ull << 29: return "512M";
	case 1ull << 30: return "1G";
	case 1ull << 42: return "4T";
	default: return "?";
	}
}

/* pgsizes within `allowed` (the sizes the kind's granules give) and with at
 * least one translation granule. */
int ap__lpae_check_pgsizes(struct ap_ctx *ctx, const char *kind, uint64_t pgsizes,
			   uint64_t allowed)
{
	char list[96];
	size_t at = 0;
	uint64_t s;

	if (pgsizes && !(pgsizes & ~allowed) && (pgsizes & LPAE_GRANULES))
		return 0;
	for (s = allowed; s; s &= s - 1)
		at = ap__cat(list, sizeof(list), at, "%s%s", at ? "," : "", size_name(s & -s));
	if (!pgsizes || (pgsizes & ~allowed))
		return ap__err(ctx, -EINVAL, "pgsizes: an %s supports %s only", kind, list);
	return ap__err(ctx, -EINVAL, "pgsizes: no translation granule (4K, 16K or 64K)");
}

/*
 * TTBR0, TCR (its fields) and MAIR for stage 1; VTTBR and VTCR (its fields)
 * for stage 2; appended to out.  names: what this kind calls the three
 * registers.
 */
void ap__lpae_reg_view(const struct ap_pt_regs *r, const char *const names[3],
		       struct ap_reg_view *out)
{
	bool s2 = r->format == AP_PT_ARM_LPAE_S2;

	ap__reg_push(out, names[0], r->ttbr, AP_REG_HEX, 16);
	ap__reg_push(out, names[1], r->tcr, AP_REG_HEX, s2 ? 8 : 10);
	ap__reg_push(out, "T0SZ", r->tsz, AP_REG_FIELD, 0);
	if (s2)
		ap__reg_push(out, "SL0", r->sl0, AP_REG_FIELD, 0);
	ap__reg_push(out, "TG0", r->tg, AP_REG_FIELD, 0);
	ap__reg_push(out, s2 ? "PS" : "IPS", r->ps, AP_REG_FIELD, 0);
	ap__reg_push(out, "SH", r->sh, AP_REG_FIELD, 0);
	ap__reg_push(out, "IRGN", r->irgn, AP_REG_FIELD, 0);
	ap__reg_push(out, "ORGN", r->orgn, AP_REG_FIELD, 0);
	if (!s2 && names[2])
		ap__reg_push(out, names[2], r->mair, AP_REG_HEX, 16);
}

/*
 * SMMUv3 aborts a bypassed transaction (STE.Config bypass) whose address is
 * at or above 2^OAS and records F_ADDR_SIZE; IAS plays no part (IHI 0070,
 * "Address sizes").  The SMMUv2 specification's text was not found: its
 * output mask applies to bypass too, and aperture takes the SMMUv3 rule
 * (doc/kinds/arm-smmu.md says so).
 */
uint64_t ap__lpae_bypass_limit(const struct ap_iommu_config *cfg)
{
	return cfg->oas >= 64 ? UINT64_MAX : (1ull << cfg->oas) - 1;
}

/* Linux's arm-smmu-v3 and arm-smmu both reserve a software-managed MSI
 * window for every device (MSI_IOVA_BASE, MSI_IOVA_LENGTH). */
size_t ap__lpae_resv(const struct ap_iommu *iommu, struct ap_resv *out, size_t max)
{
	(void)iommu;
	if (max)
		out[0] = (struct ap_resv){ 0x8000000, 0x80fffff, AP_RESV_SW_MSI };
	return 1;
}

/* CACHE_COHERENCY follows the coherent table walks the hardware reports
 * (SMMUv3 IDR0.COHACC, SMMUv2 ID0.CTTW); the formats have execute-never
 * bits. */
bool ap__lpae_capable(const struct ap_iommu *iommu, enum ap_iommu_cap cap)
{
	if (cap == AP_CAP_CACHE_COHERENCY)
		return iommu->cfg.coherent_walk;
	return cap == AP_CAP_NOEXEC;
}
