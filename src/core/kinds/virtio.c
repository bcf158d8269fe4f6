/* SPDX-License-Identifier: MIT */
/*
 * virtio-iommu: the paravirtual IOMMU of virtio 1.2 §5.13, as a device of
 * src/virtio presents it to a guest (doc/kinds/virtio-iommu.md).  Its
 * capabilities are what its configuration space says: page_size_mask is
 * pgsizes, input_range [0, 2^ias - 1], domain_range and the boot value of
 * `bypass` are its own, and every endpoint reports the platform's MSI
 * doorbell.  There is no architected table: domains keep the guest's
 * mappings in ARM LPAE stage-2 tables, which only aperture walks, chosen
 * because their leaves grant read and write separately, exactly as MAP's
 * flags do (stage 1 cannot say "write, not read").
 *
 * Unmatched streams are unattached endpoints.  They are blocked (abort)
 * until a driver both is offered and accepts bypass, and only the device
 * changes that (ap_iommu_set_unmatched), so the instance's own
 * `unmatched` must be abort: no endpoint bypasses before a driver asked.
 */
#include <errno.h>
#include <string.h>

#include "kind.h"

/* The LPAE granules and their block sizes (52-bit OAS adds 4T blocks). */
#define VIRTIO_PGSIZES ((1ull << 12) | (1ull << 21) | (1ull << 30) | (1ull << 14) | \
			(1ull << 25) | (1ull << 16) | (1ull << 29) | (1ull << 42))
/* x86's interrupt window, which QEMU's virtio-iommu reports on q35 too. */
#define X86_MSI_START 0xfee00000ull
#define X86_MSI_SIZE 0x100000ull

static void vi_init(struct ap_iommu_config *cfg)
{
	cfg->virtio.domain_start = 0;
	cfg->virtio.domain_end = UINT32_MAX;
	cfg->virtio.bypass = 0;
	cfg->virtio.msi_start = X86_MSI_START;
	cfg->virtio.msi_size = X86_MSI_SIZE;
}

/* msi=none, or msi=START,SIZE. */
static int parse_msi(const char *value, uint64_t *start, uint64_t *size)
{
	const char *comma = strchr(value, ',');
	char first[64];

	if (!strcmp(value, "none")) {
		*start = 0;
		*size = 0;
		return 0;
	}
	if (!comma || (size_t)(comma - value) >= sizeof(first))
		return -EINVAL;
	memcpy(first, value, (size_t)(comma - value));
	first[comma - value] = '\0';
	if (ap_parse_size(first, start) || ap_parse_size(comma + 1, size) || !*size)
		return -EINVAL;
	return 0;
}

static int vi_set(struct ap_iommu_config *cfg, const char *key, const char *value,
		  const char **expected)
{
	struct ap_virtio_iommu_config v = cfg->virtio;
	int err;

	if (!strcmp(key, "domain-start")) {
		*expected = "domain-start=N";
		err = ap__parse_u32(value, &v.domain_start);
	} else if (!strcmp(key, "domain-end")) {
		*expected = "domain-end=N";
		err = ap__parse_u32(value, &v.domain_end);
	} else if (!strcmp(key, "bypass")) {
		*expected = "bypass=0|1";
		err = ap__parse_u32(value, &v.bypass);
	} else if (!strcmp(key, "msi")) {
		*expected = "msi=none|START,SIZE";
		err = parse_msi(value, &v.msi_start, &v.msi_size);
	} else {
		return -ENOENT;
	}
	if (!err)
		cfg->virtio = v;
	return err ? -EINVAL : 0;
}

static size_t vi_format(const struct ap_iommu_config *cfg, char *buf, size_t len, size_t at)
{
	const struct ap_virtio_iommu_config *v = &cfg->virtio;

	if (v->domain_start != 0)
		at = ap__word(buf, len, at, "domain-start=%u", v->domain_start);
	if (v->domain_end != UINT32_MAX)
		at = ap__word(buf, len, at, "domain-end=%u", v->domain_end);
	if (v->bypass != 0)
		at = ap__word(buf, len, at, "bypass=%u", v->bypass);
	if (!v->msi_size)
		at = ap__word(buf, len, at, "msi=none");
	else if (v->msi_start != X86_MSI_START || v->msi_size != X86_MSI_SIZE)
		at = ap__word(buf, len, at, "msi=0x%llx,0x%llx", (unsigned long long)v->msi_start,
			      (unsigned long long)v->msi_size);
	return at;
}

static int vi_check(struct ap_ctx *ctx, const struct ap_iommu_config *c)
{
	const struct ap_virtio_iommu_config *v = &c->virtio;

	if (c->ias < 32 || c->ias > 52)
		return ap__err(ctx, -EINVAL, "ias=%u: a virtio-iommu input range here is 32..52 bits",
			       c->ias);
	if (!ap__lpae_oas_valid(c->oas))
		return ap__err(ctx, -EINVAL, "oas=%u: a virtio-iommu output size is one of "
					     "32,36,40,42,44,48,52", c->oas);
	if (c->unmatched != AP_UNMATCHED_ABORT)
		return ap__err(ctx, -EINVAL, "unmatched=bypass: a virtio-iommu's unattached "
					     "endpoints bypass only once a driver accepts bypass "
					     "(bypass=1 sets the boot value of its config field)");
	if (v->domain_start > v->domain_end)
		return ap__err(ctx, -EINVAL, "domain-start=%u is above domain-end=%u",
			       v->domain_start, v->domain_end);
	if (v->bypass > 1)
		return ap__err(ctx, -EINVAL, "bypass=%u: the config field holds 0 or 1", v->bypass);
	if (v->msi_size && v->msi_start + (v->msi_size - 1) < v->msi_start)
		return ap__err(ctx, -EINVAL, "msi: the window wraps past 2^64");
	return ap__lpae_check_pgsizes(ctx, "virtio-iommu", c->pgsize_bitmap, VIRTIO_PGSIZES);
}

static enum ap_pt_format vi_format_of(const struct ap_iommu_config *cfg)
{
	(void)cfg;
	return ap__lpae_format(2);
}

static unsigned vi_table_ias(const struct ap_iommu_config *cfg)
{
	return cfg->ias;
}

static bool vi_walks(const struct ap_iommu_config *cfg, enum ap_pt_format fmt)
{
	return fmt == vi_format_of(cfg);
}

/* IOTLB tags are aperture's own: the guest's domain IDs are 32 bits and
 * live in the device (ap_viommu_domain). */
static void vi_tag_range(const struct ap_iommu *iommu, unsigned *first, unsigned *end)
{
	(void)iommu;
	*first = 1;
	*end = 1u << 16;
}

static const char *vi_tag_name(const struct ap_iommu_config *cfg)
{
	(void)cfg;
	return "IOTLB tag";
}

/* The MSI doorbell, which PROBE reports as RESV_MEM T_MSI (§5.13.6.8.1). */
static size_t vi_resv(const struct ap_iommu *iommu, struct ap_resv *out, size_t max)
{
	const struct ap_virtio_iommu_config *v = &ap_iommu_get_config(iommu)->virtio;

	if (!v->msi_size)
		return 0;
	if (max)
		out[0] = (struct ap_resv){ v->msi_start, v->msi_start + v->msi_size - 1, AP_RESV_MSI };
	return 1;
}

/* A MAP has no execute-never flag; coherency is the instance's. */
static bool vi_capable(const struct ap_iommu *iommu, enum ap_iommu_cap cap)
{
	return cap == AP_CAP_CACHE_COHERENCY && ap_iommu_get_config(iommu)->coherent_walk;
}

/* No registers: the guest programs requests, not tables.  What aperture
 * keeps is the table root. */
static void vi_reg_view(const struct ap_iommu *iommu, uint16_t tag, const struct ap_pt_regs *r,
			struct ap_reg_view *out)
{
	(void)iommu;
	(void)tag;
	out->n = 0;
	ap__reg_push(out, "table", r->ttbr, AP_REG_HEX, 16);
}

static size_t vi_facts(const struct ap_iommu *iommu, struct ap_iommu_fact *out, size_t max)
{
	const struct ap_virtio_iommu_config *v = &ap_iommu_get_config(iommu)->virtio;
	size_t n = 0;

	n = ap__fact(out, max, n, "domain-range", "%u..%u", v->domain_start, v->domain_end);
	n = ap__fact(out, max, n, "boot bypass", "%u", v->bypass);
	if (v->msi_size)
		n = ap__fact(out, max, n, "msi", "0x%llx-0x%llx", (unsigned long long)v->msi_start,
			     (unsigned long long)(v->msi_start + v->msi_size - 1));
	else
		n = ap__fact(out, max, n, "msi", "none");
	n = ap__fact(out, max, n, "unattached",
		     ap_iommu_unmatched(iommu) == AP_UNMATCHED_BYPASS
			     ? "BYPASS (a driver accepted bypass)"
			     : "blocked (no driver accepted bypass)");
	return n;
}

const struct ap_iommu_model ap__model_virtio = {
	.kind = AP_IOMMU_VIRTIO_IOMMU,
	.name = "virtio-iommu",
	.usage = "domain-start=N domain-end=N bypass=0|1 msi=none|START,SIZE",
	.config_init = vi_init,
	.config_set = vi_set,
	.config_format = vi_format,
	.check = vi_check,
	.format = vi_format_of,
	.table_ias = vi_table_ias,
	.walks_format = vi_walks,
	.tag_range = vi_tag_range,
	.tag_name = vi_tag_name,
	/* bypass is "the identity function" (§5.13.6) over the guest-physical
	 * space the host gives, the output size: the LPAE rule */
	.bypass_limit = ap__lpae_bypass_limit,
	.resv = vi_resv,
	.capable = vi_capable,
	.reg_view = vi_reg_view,
	.facts = vi_facts,
};
