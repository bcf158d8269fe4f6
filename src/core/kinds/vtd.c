/* SPDX-License-Identifier: MIT */
/*
 * intel-vtd: an Intel VT-d remapping unit (DRHD) with second-level tables,
 * as Linux's intel-iommu driver uses it (doc/kinds/intel-vtd.md).  Widths:
 * MGAW is the instance's ias, the host address width its oas; SAGAW lists
 * the table depths it walks; domain IDs start at 2; every device gets the
 * interrupt window 0xfee00000-0xfeefffff.
 */
#include <errno.h>
#include <string.h>

#include "kind.h"

#define VTD_PGSIZES ((1ull << 12) | (1ull << 21) | (1ull << 30)) /* 4K, SLLPS 2M 1G */
#define VTD_SAGAW_ALL 0xeu /* AGAW 1..3: 3-, 4- and 5-level tables */

/* Table depth for an input width, and the width a depth covers
 * (AGAW = levels - 2, width = 30 + 9 * AGAW). */
static unsigned levels_for(unsigned width)
{
	return width <= 39 ? 3 : width <= 48 ? 4 : 5;
}

static unsigned width_of(unsigned levels)
{
	return 30 + 9 * (levels - 2);
}

/* The depths it walks: SAGAW, or just the one its width needs. */
static unsigned sagaw_of(const struct ap_iommu_config *c)
{
	return c->vtd.sagaw ? c->vtd.sagaw : 1u << (levels_for(c->ias) - 2);
}

static bool walks_depth(const struct ap_iommu_config *c, unsigned levels)
{
	return (sagaw_of(c) & (1u << (levels - 2))) != 0;
}

static void vtd_init(struct ap_iommu_config *cfg)
{
	cfg->vtd.stage = 2;
	cfg->vtd.sagaw = 0;
}

/* "39,48,57": the table widths, as SAGAW bits. */
static int vtd_set(struct ap_iommu_config *cfg, const char *key, const char *value,
		   const char **expected)
{
	char buf[64], *save = NULL, *item;
	unsigned sagaw = 0, w;

	if (!strcmp(key, "stage")) {
		*expected = "stage=1|2";
		return ap__parse_u32(value, &cfg->vtd.stage);
	}
	if (strcmp(key, "sagaw"))
		return -ENOENT;
	*expected = "sagaw=LIST of 39, 48, 57";
	if (strlen(value) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, value);
	for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (ap__parse_u32(item, &w) || (w != 39 && w != 48 && w != 57))
			return -EINVAL;
		sagaw |= 1u << (levels_for(w) - 2);
	}
	if (!sagaw)
		return -EINVAL;
	cfg->vtd.sagaw = sagaw;
	return 0;
}

static size_t vtd_format(const struct ap_iommu_config *cfg, char *buf, size_t len, size_t at)
{
	unsigned levels;
	bool first = true;

	if (cfg->vtd.stage != 2)
		at = ap__word(buf, len, at, "stage=%u", cfg->vtd.stage);
	if (!cfg->vtd.sagaw)
		return at;
	at = ap__word(buf, len, at, "sagaw=");
	for (levels = 3; levels <= 5; levels++) {
		if (!(cfg->vtd.sagaw & (1u << (levels - 2))))
			continue;
		at = ap__cat(buf, len, at, "%s%u", first ? "" : ",", width_of(levels));
		first = false;
	}
	return at;
}

static int vtd_check(struct ap_ctx *ctx, const struct ap_iommu_config *c)
{
	if (c->ias < 32 || c->ias > 57)
		return ap__err(ctx, -EINVAL, "ias=%u: a VT-d input width (MGAW) is 32..57 bits",
			       c->ias);
	if (c->oas < 32 || c->oas > 52)
		return ap__err(ctx, -EINVAL, "oas=%u: a VT-d host address width is 32..52 bits",
			       c->oas);
	if (c->vtd.stage != 2)
		return ap__err(ctx, -EOPNOTSUPP,
			       "stage=%u: only VT-d second-level tables are modelled", c->vtd.stage);
	if (!(c->pgsize_bitmap & (1ull << 12)) || (c->pgsize_bitmap & ~VTD_PGSIZES))
		return ap__err(ctx, -EINVAL, "pgsizes: VT-d has 4K pages and 2M, 1G superpages");
	if (c->vtd.sagaw & ~VTD_SAGAW_ALL)
		return ap__err(ctx, -EINVAL, "sagaw: VT-d walks 39-, 48- and 57-bit tables only");
	return 0;
}

static enum ap_pt_format vtd_format_of(const struct ap_iommu_config *cfg)
{
	(void)cfg;
	return AP_PT_INTEL_VTD_SL;
}

/* The deepest table SAGAW walks, as Linux picks iommu->agaw; the aperture
 * is then clipped to MGAW. */
static unsigned vtd_table_ias(const struct ap_iommu_config *c)
{
	unsigned levels;

	for (levels = 5; levels > 3 && !walks_depth(c, levels); levels--)
		;
	return width_of(levels);
}

static bool vtd_walks(const struct ap_iommu_config *cfg, enum ap_pt_format fmt)
{
	(void)cfg;
	return fmt == AP_PT_INTEL_VTD_SL;
}

/*
 * A unit walks only the depths its SAGAW lists: the whole table if it can,
 * else the shallowest depth it has that still covers its width, entered
 * through index 0 of the levels above.
 */
static int vtd_walk_ias(struct ap_ctx *ctx, const struct ap_iommu *iommu, unsigned tbl_ias,
			unsigned *out)
{
	const struct ap_iommu_config *c = ap_iommu_get_config(iommu);
	unsigned want = c->ias < tbl_ias ? c->ias : tbl_ias, have = levels_for(tbl_ias), levels;

	if (walks_depth(c, have)) {
		*out = tbl_ias;
		return 0;
	}
	for (levels = levels_for(want); levels < have; levels++) {
		if (walks_depth(c, levels)) {
			*out = width_of(levels);
			return 0;
		}
	}
	return ap__err(ctx, -EINVAL, "%s's SAGAW cannot walk %u-level tables", ap_iommu_name(iommu),
		       have);
}

/*
 * A pass-through context entry (TT = 10b) carries the widest AGAW the unit
 * has in AW, and requests above 2^min(MGAW, AW) - 1 are blocked (fault
 * reason 4h); the output must also fit the host address width.
 */
static uint64_t vtd_bypass_limit(const struct ap_iommu_config *c)
{
	unsigned bits = vtd_table_ias(c);

	if (c->ias < bits)
		bits = c->ias;
	if (c->oas < bits)
		bits = c->oas;
	return (1ull << bits) - 1;
}

static void vtd_tag_range(const struct ap_iommu *iommu, unsigned *first, unsigned *end)
{
	(void)iommu;
	*first = 2; /* Linux keeps domain IDs 0 and 1 back */
	*end = 1u << 16;
}

static const char *vtd_tag_name(const struct ap_iommu_config *cfg)
{
	(void)cfg;
	return "domain ID";
}

/* The interrupt address range, which DMA writes to as MSIs, never
 * translated (Linux's intel-iommu reports it as IOMMU_RESV_MSI). */
static size_t vtd_resv(const struct ap_iommu *iommu, struct ap_resv *out, size_t max)
{
	(void)iommu;
	if (max)
		out[0] = (struct ap_resv){ 0xfee00000, 0xfeefffff, AP_RESV_MSI };
	return 1;
}

/* Linux's intel-iommu always reports CACHE_COHERENCY; second-level leaves
 * have no execute-never control it uses, so no NOEXEC. */
static bool vtd_capable(const struct ap_iommu *iommu, enum ap_iommu_cap cap)
{
	(void)iommu;
	return cap == AP_CAP_CACHE_COHERENCY;
}

static void vtd_reg_view(const struct ap_iommu *iommu, uint16_t tag, const struct ap_pt_regs *r,
			 struct ap_reg_view *out)
{
	(void)iommu;
	(void)tag;
	out->n = 0;
	ap__reg_push(out, "SLPTPTR", r->ttbr, AP_REG_HEX, 16);
	ap__reg_push(out, "AW", r->aw, AP_REG_DEC, 0);
}

static size_t vtd_facts(const struct ap_iommu *iommu, struct ap_iommu_fact *out, size_t max)
{
	const struct ap_iommu_config *c = ap_iommu_get_config(iommu);
	char depths[64];
	size_t at = 0;
	unsigned levels;

	depths[0] = '\0';
	for (levels = 3; levels <= 5; levels++)
		if (walks_depth(c, levels))
			at = ap__cat(depths, sizeof(depths), at, "%s%u-bit/%u-level", at ? " " : "",
				     width_of(levels), levels);
	return ap__fact(out, max, 0, "sagaw", "%s", depths);
}

const struct ap_iommu_model ap__model_vtd = {
	.kind = AP_IOMMU_INTEL_VTD,
	.name = "intel-vtd",
	.usage = "stage=2 sagaw=LIST",
	.config_init = vtd_init,
	.config_set = vtd_set,
	.config_format = vtd_format,
	.check = vtd_check,
	.format = vtd_format_of,
	.table_ias = vtd_table_ias,
	.walks_format = vtd_walks,
	.walk_ias = vtd_walk_ias,
	.tag_range = vtd_tag_range,
	.tag_name = vtd_tag_name,
	.bypass_limit = vtd_bypass_limit,
	.resv = vtd_resv,
	.capable = vtd_capable,
	.reg_view = vtd_reg_view,
	.facts = vtd_facts,
};
