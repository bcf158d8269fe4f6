/* SPDX-License-Identifier: MIT */
/*
 * arm-smmu-v3: the Arm SMMUv3 architecture, as Linux's arm-smmu-v3 driver
 * uses it (doc/kinds/arm-smmu-v3.md).  Domains translate at stage 1 (or 2)
 * through ARM LPAE tables of the instance's input size; ASIDs and VMIDs are
 * 16 bits, allocated from 1; every device gets the software MSI window.
 */
#include <errno.h>
#include <string.h>

#include "kind.h"

/* IDR5: GRAN4K {4K,2M,1G}, GRAN16K {16K,32M}, GRAN64K {64K,512M}; a 52-bit
 * OAS adds 4T blocks of the 64K granule. */
#define SMMUV3_PGSIZES ((1ull << 12) | (1ull << 21) | (1ull << 30) | (1ull << 14) | \
			(1ull << 25) | (1ull << 16) | (1ull << 29) | (1ull << 42))

static void v3_init(struct ap_iommu_config *cfg)
{
	cfg->smmuv3.stage = 1;
}

static int v3_set(struct ap_iommu_config *cfg, const char *key, const char *value,
		  const char **expected)
{
	unsigned v;

	if (strcmp(key, "stage"))
		return -ENOENT;
	*expected = "stage=1|2";
	if (ap__parse_u32(value, &v))
		return -EINVAL;
	cfg->smmuv3.stage = v;
	return 0;
}

static size_t v3_format(const struct ap_iommu_config *cfg, char *buf, size_t len, size_t at)
{
	if (cfg->smmuv3.stage != 1)
		at = ap__word(buf, len, at, "stage=%u", cfg->smmuv3.stage);
	return at;
}

static int v3_check(struct ap_ctx *ctx, const struct ap_iommu_config *c)
{
	if (c->ias < 32 || c->ias > 52)
		return ap__err(ctx, -EINVAL, "ias=%u: an SMMU input size is 32..52 bits", c->ias);
	if (!ap__lpae_oas_valid(c->oas))
		return ap__err(ctx, -EINVAL,
			       "oas=%u: an SMMU output size is one of 32,36,40,42,44,48,52", c->oas);
	if (c->smmuv3.stage != 1 && c->smmuv3.stage != 2)
		return ap__err(ctx, -EINVAL, "stage=%u: stage is 1 or 2", c->smmuv3.stage);
	return ap__lpae_check_pgsizes(ctx, "SMMUv3", c->pgsize_bitmap, SMMUV3_PGSIZES);
}

static enum ap_pt_format v3_format_of(const struct ap_iommu_config *cfg)
{
	return ap__lpae_format(cfg->smmuv3.stage);
}

static unsigned v3_table_ias(const struct ap_iommu_config *cfg)
{
	return cfg->ias;
}

/* A stage-1 domain's context descriptor, or a stage-2 domain's STE: the
 * instance translates at the one stage its domains use. */
static bool v3_walks(const struct ap_iommu_config *cfg, enum ap_pt_format fmt)
{
	return fmt == v3_format_of(cfg);
}

static void v3_tag_range(const struct ap_iommu *iommu, unsigned *first, unsigned *end)
{
	(void)iommu;
	*first = 1; /* Linux's ASID and VMID allocators start at 1 */
	*end = 1u << 16;
}

static const char *v3_tag_name(const struct ap_iommu_config *cfg)
{
	return cfg->smmuv3.stage == 2 ? "VMID" : "ASID";
}

static void v3_reg_view(const struct ap_iommu *iommu, uint16_t tag, const struct ap_pt_regs *r,
			struct ap_reg_view *out)
{
	static const char *const s1[3] = { "TTBR0", "TCR", "MAIR" };
	static const char *const s2[3] = { "VTTBR", "VTCR", NULL };

	(void)iommu;
	(void)tag;
	out->n = 0;
	ap__lpae_reg_view(r, r->format == AP_PT_ARM_LPAE_S2 ? s2 : s1, out);
}

const struct ap_iommu_model ap__model_smmuv3 = {
	.kind = AP_IOMMU_ARM_SMMU_V3,
	.name = "arm-smmu-v3",
	.usage = "stage=1|2",
	.config_init = v3_init,
	.config_set = v3_set,
	.config_format = v3_format,
	.check = v3_check,
	.format = v3_format_of,
	.table_ias = v3_table_ias,
	.walks_format = v3_walks,
	.tag_range = v3_tag_range,
	.tag_name = v3_tag_name,
	.bypass_limit = ap__lpae_bypass_limit,
	.resv = ap__lpae_resv,
	.capable = ap__lpae_capable,
	.reg_view = v3_reg_view,
};
