/* SPDX-License-Identifier: MIT */
/*
 * arm-smmu: the Arm SMMUv1 and SMMUv2 architectures (CoreLink MMU-400,
 * MMU-401, MMU-500), as Linux's arm-smmu driver uses them
 * (doc/kinds/arm-smmu.md).  Where it differs from arm-smmu-v3:
 *   - a domain is translated by a context bank, one per domain and
 *     instance; banks 0..NUMS2CB-1 do stage 2 only, so a stage-1 domain
 *     takes the lowest free bank from NUMS2CB up and a stage-2 domain the
 *     lowest from 0; none free is -ENOSPC (arm_smmu_init_domain_context);
 *     ASID = bank, VMID = bank + 1, as Linux derives them;
 *   - streams are matched by stream match registers, an ID and a mask of
 *     ignored bits (or, without SMRs, the stream ID indexes its entry):
 *     a device whose (ID, mask) an entry wholly covers shares that entry,
 *     and with it the group of its devices; any other overlap is -EINVAL;
 *     no free entry is -ENOSPC (arm_smmu_find_sme, arm_smmu_device_group);
 *   - unmatched streams follow sCR0.USFCFG, which Linux sets from its
 *     disable_bypass parameter (default: fault).
 * Its IOTLB tags are bank + 1, so that 0 stays "no tag".
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "kind.h"

#define SZ_4K (1ull << 12)
#define SZ_16K (1ull << 14)
#define SZ_64K (1ull << 16)
#define PG_4K (SZ_4K | (1ull << 21) | (1ull << 30)) /* AArch32-L, AArch64 4K */
#define PG_16K (SZ_16K | (1ull << 25))
#define PG_64K (SZ_64K | (1ull << 29))

#define MAX_BANKS 128 /* ID1.NUMCB is 8 bits, the architecture stops at 128 */
#define MAX_SMRS 128  /* ID0.NUMSMRG likewise */

/* What each implementation's ID registers can say. */
struct smmu_model {
	const char *name;
	uint64_t pgsizes;     /* the table formats it has, as page sizes */
	uint64_t def_pgsizes; /* our default */
	enum ap_arm_smmu_model id;
	unsigned version;     /* 1 or 2: the architecture */
	unsigned stages;      /* bit 1: stage 1 (ID0.S1TS), bit 2: stage 2 (S2TS) */
	unsigned max_s1_ias, max_ias, max_oas;
	/* our defaults for what firmware or registers would say: small
	 * counts, so that exhaustion scenarios stay short */
	unsigned stage, ias, oas, banks, s2_banks, smrs;
};

/*
 * SMMUv1 walks AArch32 long-descriptor tables (4K granule; Linux's
 * ARM_32_LPAE formats: stage-1 input 32 bits, stage-2 input and every
 * output 40 bits); MMU-401 translates stage 2 only and adds the 64K
 * granule (Linux's ARM_SMMU_V1_64K).  SMMUv2 walks AArch64 tables of the
 * granules ID2 lists, up to 48 bits in and out; MMU-500 has 4K and 64K.
 * doc/kinds/arm-smmu.md gives the sources.
 */
static const struct smmu_model models[] = {
	{ .name = "smmu-v1", .id = AP_ARM_SMMU_V1, .version = 1, .stages = 6,
	  .pgsizes = PG_4K, .max_s1_ias = 32, .max_ias = 40, .max_oas = 40,
	  .stage = 1, .ias = 32, .oas = 40, .banks = 8, .s2_banks = 0, .smrs = 16,
	  .def_pgsizes = PG_4K },
	{ .name = "smmu-v2", .id = AP_ARM_SMMU_V2, .version = 2, .stages = 6,
	  .pgsizes = PG_4K | PG_16K | PG_64K, .max_s1_ias = 48, .max_ias = 48, .max_oas = 48,
	  .stage = 1, .ias = 48, .oas = 48, .banks = 8, .s2_banks = 0, .smrs = 16,
	  .def_pgsizes = PG_4K },
	{ .name = "mmu-400", .id = AP_ARM_MMU_400, .version = 1, .stages = 6,
	  .pgsizes = PG_4K, .max_s1_ias = 32, .max_ias = 40, .max_oas = 40,
	  .stage = 1, .ias = 32, .oas = 40, .banks = 8, .s2_banks = 0, .smrs = 16,
	  .def_pgsizes = PG_4K },
	{ .name = "mmu-401", .id = AP_ARM_MMU_401, .version = 1, .stages = 4,
	  .pgsizes = PG_4K | PG_64K, .max_s1_ias = 32, .max_ias = 40, .max_oas = 40,
	  .stage = 2, .ias = 40, .oas = 40, .banks = 8, .s2_banks = 8, .smrs = 16,
	  .def_pgsizes = PG_4K | PG_64K },
	{ .name = "mmu-500", .id = AP_ARM_MMU_500, .version = 2, .stages = 6,
	  .pgsizes = PG_4K | PG_64K, .max_s1_ias = 48, .max_ias = 48, .max_oas = 48,
	  .stage = 1, .ias = 48, .oas = 48, .banks = 8, .s2_banks = 0, .smrs = 32,
	  .def_pgsizes = PG_4K | PG_64K },
};

#define NMODELS (sizeof(models) / sizeof(models[0]))

static const struct smmu_model *model_of(enum ap_arm_smmu_model id)
{
	size_t i;

	for (i = 0; i < NMODELS; i++)
		if (models[i].id == id)
			return &models[i];
	return NULL;
}

/* One stream-map entry: an SMR, or (stream indexing) a stream ID. */
struct sme {
	uint32_t id, mask;
	unsigned count;         /* devices that use it; 0: free */
	struct ap_group *group; /* theirs */
};

struct smmu_state {
	struct sme *smr; /* cfg.arm_smmu.smrs entries, or NULL (indexing) */
};

/* ------------------------------------------------------------ configuration */

static void model_defaults(struct ap_iommu_config *cfg, const struct smmu_model *m)
{
	cfg->arm_smmu.model = m->id;
	cfg->arm_smmu.stage = m->stage;
	cfg->arm_smmu.context_banks = m->banks;
	cfg->arm_smmu.s2_context_banks = m->s2_banks;
	cfg->arm_smmu.smrs = m->smrs;
	cfg->arm_smmu.streamid_bits = 15;
	cfg->ias = m->ias;
	cfg->oas = m->oas;
	cfg->pgsize_bitmap = m->def_pgsizes;
}

static void smmu_init(struct ap_iommu_config *cfg)
{
	model_defaults(cfg, model_of(AP_ARM_MMU_500));
}

/* Whether cfg still holds its model's defaults for everything a model
 * sets: a model= after options it would overwrite is refused. */
static bool at_model_defaults(const struct ap_iommu_config *cfg)
{
	const struct smmu_model *m = model_of(cfg->arm_smmu.model);
	struct ap_iommu_config d = *cfg;

	if (!m)
		return false;
	model_defaults(&d, m);
	return !memcmp(&d.arm_smmu, &cfg->arm_smmu, sizeof(d.arm_smmu)) && d.ias == cfg->ias &&
	       d.oas == cfg->oas && d.pgsize_bitmap == cfg->pgsize_bitmap;
}

static int set_model(struct ap_iommu_config *cfg, const char *value, const char **expected)
{
	size_t i;

	for (i = 0; i < NMODELS; i++) {
		if (strcmp(models[i].name, value))
			continue;
		if (!at_model_defaults(cfg)) {
			*expected = "model= before ias, oas, pgsizes and the arm-smmu options, "
				    "whose defaults it sets";
			return -EINVAL;
		}
		model_defaults(cfg, &models[i]);
		return 0;
	}
	return -EINVAL;
}

/* model= first: it sets the model's defaults for the options after it. */
static int smmu_set(struct ap_iommu_config *cfg, const char *key, const char *value,
		    const char **expected)
{
	static const struct {
		const char *key, *expected;
		size_t off;
	} nums[] = {
		{ "stage", "stage=1|2", offsetof(struct ap_arm_smmu_config, stage) },
		{ "context-banks", "context-banks=N (1..128)",
		  offsetof(struct ap_arm_smmu_config, context_banks) },
		{ "s2-context-banks", "s2-context-banks=N",
		  offsetof(struct ap_arm_smmu_config, s2_context_banks) },
		{ "smrs", "smrs=N (0: stream indexing, else 1..128)",
		  offsetof(struct ap_arm_smmu_config, smrs) },
		{ "streamid-bits", "streamid-bits=N (1..16)",
		  offsetof(struct ap_arm_smmu_config, streamid_bits) },
	};
	size_t i;

	if (!strcmp(key, "model")) {
		*expected = "model=smmu-v1|smmu-v2|mmu-400|mmu-401|mmu-500";
		return set_model(cfg, value, expected);
	}
	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (!strcmp(key, nums[i].key)) {
			*expected = nums[i].expected;
			return ap__parse_u32(value, (unsigned *)((char *)&cfg->arm_smmu + nums[i].off));
		}
	}
	return -ENOENT;
}

static size_t smmu_format(const struct ap_iommu_config *cfg, char *buf, size_t len, size_t at)
{
	const struct ap_arm_smmu_config *a = &cfg->arm_smmu;
	const struct smmu_model *m = model_of(a->model);
	struct ap_iommu_config d;

	if (!m)
		return at;
	memset(&d, 0, sizeof(d));
	model_defaults(&d, m);
	if (m->id != AP_ARM_MMU_500)
		at = ap__word(buf, len, at, "model=%s", m->name);
	if (a->stage != d.arm_smmu.stage)
		at = ap__word(buf, len, at, "stage=%u", a->stage);
	if (a->context_banks != d.arm_smmu.context_banks)
		at = ap__word(buf, len, at, "context-banks=%u", a->context_banks);
	if (a->s2_context_banks != d.arm_smmu.s2_context_banks)
		at = ap__word(buf, len, at, "s2-context-banks=%u", a->s2_context_banks);
	if (a->smrs != d.arm_smmu.smrs)
		at = ap__word(buf, len, at, "smrs=%u", a->smrs);
	if (a->streamid_bits != d.arm_smmu.streamid_bits)
		at = ap__word(buf, len, at, "streamid-bits=%u", a->streamid_bits);
	return at;
}

/* ID2.IAS/OAS/UBS encode 32, 36, 40, 42, 44 or 48 bits. */
static bool id2_size(unsigned bits)
{
	return bits == 32 || bits == 36 || bits == 40 || bits == 42 || bits == 44 || bits == 48;
}

static int check_sizes(struct ap_ctx *ctx, const struct ap_iommu_config *c,
		       const struct smmu_model *m)
{
	unsigned max_ias = c->arm_smmu.stage == 1 ? m->max_s1_ias : m->max_ias;

	if (!id2_size(c->ias) || c->ias > max_ias)
		return ap__err(ctx, -EINVAL, "ias=%u: a stage-%u %s input size is one of "
			       "32,36,40,42,44,48 up to %u bits", c->ias, c->arm_smmu.stage, m->name,
			       max_ias);
	if (!id2_size(c->oas) || c->oas > m->max_oas)
		return ap__err(ctx, -EINVAL, "oas=%u: an %s output size is one of 32,36,40,42,44,48 "
			       "up to %u bits", c->oas, m->name, m->max_oas);
	return 0;
}

static int check_streams(struct ap_ctx *ctx, const struct ap_arm_smmu_config *a)
{
	if (a->context_banks < 1 || a->context_banks > MAX_BANKS)
		return ap__err(ctx, -EINVAL, "context-banks=%u: ID1.NUMCB is 1..128",
			       a->context_banks);
	if (a->s2_context_banks > a->context_banks)
		return ap__err(ctx, -EINVAL, "s2-context-banks=%u: more stage-2-only banks than the "
			       "%u there are (Linux refuses such an SMMU)", a->s2_context_banks,
			       a->context_banks);
	if (a->smrs > MAX_SMRS)
		return ap__err(ctx, -EINVAL, "smrs=%u: ID0.NUMSMRG is at most 128 (0: stream "
			       "indexing)", a->smrs);
	if (a->streamid_bits < 1 || a->streamid_bits > 16)
		return ap__err(ctx, -EINVAL, "streamid-bits=%u: stream IDs are 1..16 bits",
			       a->streamid_bits);
	return 0;
}

static int smmu_check(struct ap_ctx *ctx, const struct ap_iommu_config *c)
{
	const struct ap_arm_smmu_config *a = &c->arm_smmu;
	const struct smmu_model *m = model_of(a->model);
	int err;

	if (!m)
		return ap__err(ctx, -EINVAL, "arm-smmu model %d is none of smmu-v1, smmu-v2, "
			       "mmu-400, mmu-401, mmu-500", (int)a->model);
	if (a->stage != 1 && a->stage != 2)
		return ap__err(ctx, -EINVAL, "stage=%u: stage is 1 or 2", a->stage);
	if (!(m->stages & (1u << a->stage)))
		return ap__err(ctx, -EINVAL, "stage=%u: an %s has no stage-%u translation "
			       "(ID0.S%uTS)", a->stage, m->name, a->stage, a->stage);
	err = check_sizes(ctx, c, m);
	if (!err)
		err = ap__lpae_check_pgsizes(ctx, m->name, c->pgsize_bitmap, m->pgsizes);
	if (!err)
		err = check_streams(ctx, a);
	return err;
}

/* ------------------------------------------------------------ instance */

static int smmu_instance_init(struct ap_iommu *iommu)
{
	struct smmu_state *st = ap__zalloc(iommu->ctx, sizeof(*st));
	unsigned n = iommu->cfg.arm_smmu.smrs;

	if (!st)
		return -ENOMEM;
	if (n) {
		st->smr = ap__zalloc(iommu->ctx, n * sizeof(*st->smr));
		if (!st->smr) {
			ap__free(iommu->ctx, st);
			return -ENOMEM;
		}
	}
	iommu->kind_state = st;
	return 0;
}

static void smmu_release(struct ap_iommu *iommu)
{
	struct smmu_state *st = iommu->kind_state;

	ap__free(iommu->ctx, st->smr);
	ap__free(iommu->ctx, st);
	iommu->kind_state = NULL;
}

/* ------------------------------------------------------------ domains */

static enum ap_pt_format smmu_format_of(const struct ap_iommu_config *cfg)
{
	return ap__lpae_format(cfg->arm_smmu.stage);
}

static unsigned smmu_table_ias(const struct ap_iommu_config *cfg)
{
	return cfg->ias;
}

/* A context bank translates at the stage its domain was set up for. */
static bool smmu_walks(const struct ap_iommu_config *cfg, enum ap_pt_format fmt)
{
	return fmt == smmu_format_of(cfg);
}

static void smmu_tag_range(const struct ap_iommu *iommu, unsigned *first, unsigned *end)
{
	const struct ap_arm_smmu_config *a = &iommu->cfg.arm_smmu;

	*first = 1 + (a->stage == 1 ? a->s2_context_banks : 0);
	*end = 1 + a->context_banks;
}

static const char *smmu_tag_name(const struct ap_iommu_config *cfg)
{
	(void)cfg;
	return "context bank";
}

/* ASID = bank for stage 1, VMID = bank + 1 for stage 2, as Linux's. */
static int smmu_tag_value(const struct ap_iommu *iommu, uint16_t tag)
{
	return iommu->cfg.arm_smmu.stage == 1 ? tag - 1 : tag;
}

/* ------------------------------------------------------------ streams */

static int match_indexed(struct ap_ctx *ctx, const struct ap_iommu *iommu, uint32_t sid,
			 uint32_t mask, struct ap_stream_match *m)
{
	struct ap_device *d;

	if (mask)
		return ap__err(ctx, -EINVAL, "%s indexes streams (no SMRs): a stream mask cannot "
			       "be matched", iommu->name);
	m->slot = (int)sid;
	d = ap__device_by_sid(ctx, iommu, sid); /* any of them: they share a group */
	if (d) {
		m->shared = true;
		m->group = d->group;
	}
	return 0;
}

/* Linux's arm_smmu_find_sme: an entry that wholly covers (sid, mask) is
 * shared; any other overlap could match one stream twice and is refused;
 * else the first free entry. */
static int match_smr(struct ap_ctx *ctx, const struct ap_iommu *iommu, uint32_t sid,
		     uint32_t mask, struct ap_stream_match *m)
{
	const struct smmu_state *st = iommu->kind_state;
	unsigned i, n = iommu->cfg.arm_smmu.smrs;
	int free_slot = -1;

	for (i = 0; i < n; i++) {
		const struct sme *e = &st->smr[i];

		if (!e->count) {
			if (free_slot < 0)
				free_slot = (int)i;
			continue;
		}
		if ((mask & e->mask) == mask && !((sid ^ e->id) & ~e->mask)) {
			m->slot = (int)i;
			m->shared = true;
			m->group = e->group;
			return 0;
		}
		if (!((sid ^ e->id) & ~(e->mask | mask)))
			return ap__err(ctx, -EINVAL, "stream 0x%x mask 0x%x on %s overlaps SMR %u "
				       "(0x%x mask 0x%x) without being inside it", sid, mask,
				       iommu->name, i, e->id, e->mask);
	}
	if (free_slot < 0)
		return ap__err(ctx, -ENOSPC, "%s has no free stream match register (%u in use)",
			       iommu->name, n);
	m->slot = free_slot;
	return 0;
}

static int smmu_stream_match(struct ap_ctx *ctx, const struct ap_iommu *iommu, uint32_t sid,
			     uint32_t mask, struct ap_stream_match *m)
{
	uint32_t limit = (uint32_t)((1ull << iommu->cfg.arm_smmu.streamid_bits) - 1);

	if (sid & ~limit)
		return ap__err(ctx, -EINVAL, "stream 0x%x is beyond %s's %u-bit stream IDs", sid,
			       iommu->name, iommu->cfg.arm_smmu.streamid_bits);
	if (mask & ~limit)
		return ap__err(ctx, -EINVAL, "SMR mask 0x%x is beyond %s's %u-bit stream IDs", mask,
			       iommu->name, iommu->cfg.arm_smmu.streamid_bits);
	if (!iommu->cfg.arm_smmu.smrs)
		return match_indexed(ctx, iommu, sid, mask, m);
	return match_smr(ctx, iommu, sid, mask, m);
}

static void smmu_stream_bind(struct ap_iommu *iommu, const struct ap_stream_match *m,
			     uint32_t sid, uint32_t mask, struct ap_group *group)
{
	struct smmu_state *st = iommu->kind_state;
	struct sme *e;

	if (!st->smr)
		return; /* indexing: the devices are the entries */
	e = &st->smr[m->slot];
	if (!e->count)
		*e = (struct sme){ .id = sid, .mask = mask, .group = group };
	e->count++;
}

/* ------------------------------------------------------------ the rest */

static void smmu_reg_view(const struct ap_iommu *iommu, uint16_t tag, const struct ap_pt_regs *r,
			  struct ap_reg_view *out)
{
	static const char *const s1[3] = { "CB_TTBR0", "CB_TCR", "CB_MAIR0" };
	static const char *const s2[3] = { "CB_TTBR0", "CB_TCR", NULL };

	(void)iommu;
	out->n = 0;
	if (tag)
		ap__reg_push(out, "CB", tag - 1u, AP_REG_DEC, 0);
	ap__lpae_reg_view(r, r->format == AP_PT_ARM_LPAE_S2 ? s2 : s1, out);
}

/* Banks in use: the tags taken. */
static unsigned banks_used(const struct ap_iommu *iommu)
{
	unsigned t, n = 0;

	for (t = 1; t < 1 + iommu->cfg.arm_smmu.context_banks; t++)
		n += (iommu->tags_used[t / 64] >> (t % 64)) & 1;
	return n;
}

static size_t smmu_facts(const struct ap_iommu *iommu, struct ap_iommu_fact *out, size_t max)
{
	const struct ap_arm_smmu_config *a = &iommu->cfg.arm_smmu;
	const struct smmu_model *m = model_of(a->model);
	const struct smmu_state *st = iommu->kind_state;
	unsigned i, used = 0;
	size_t n = 0;

	n = ap__fact(out, max, n, "model", "%s (SMMUv%u)", m->name, m->version);
	n = ap__fact(out, max, n, "context", "banks: %u of %u in use (%u stage-2 only)",
		     banks_used(iommu), a->context_banks, a->s2_context_banks);
	for (i = 0; st->smr && i < a->smrs; i++)
		used += st->smr[i].count != 0;
	if (a->smrs)
		n = ap__fact(out, max, n, "stream", "match registers: %u of %u in use, %u-bit IDs",
			     used, a->smrs, a->streamid_bits);
	else
		n = ap__fact(out, max, n, "stream", "indexing: %u-bit IDs", a->streamid_bits);
	return n;
}

const struct ap_iommu_model ap__model_arm_smmu = {
	.kind = AP_IOMMU_ARM_SMMU,
	.name = "arm-smmu",
	.usage = "model=smmu-v1|smmu-v2|mmu-400|mmu-401|mmu-500 (first) stage=1|2 "
		 "context-banks=N s2-context-banks=N smrs=N streamid-bits=N",
	.config_init = smmu_init,
	.config_set = smmu_set,
	.config_format = smmu_format,
	.check = smmu_check,
	.init = smmu_instance_init,
	.release = smmu_release,
	.format = smmu_format_of,
	.table_ias = smmu_table_ias,
	.walks_format = smmu_walks,
	.tag_range = smmu_tag_range,
	.tag_name = smmu_tag_name,
	.tag_value = smmu_tag_value,
	.stream_match = smmu_stream_match,
	.stream_bind = smmu_stream_bind,
	.bypass_limit = ap__lpae_bypass_limit,
	.resv = ap__lpae_resv,
	.capable = ap__lpae_capable,
	.reg_view = smmu_reg_view,
	.facts = smmu_facts,
};
