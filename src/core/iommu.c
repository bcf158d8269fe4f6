/* SPDX-License-Identifier: MIT */
/*
 * IOMMU instances: capabilities as hardware exposes them, and the bounded
 * event queue every refused transaction lands in.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define LPAE_PGSIZES ((1ull << 12) | (1ull << 21) | (1ull << 30) | (1ull << 14) | \
		      (1ull << 25) | (1ull << 16) | (1ull << 29) | (1ull << 42))
#define LPAE_GRANULES ((1ull << 12) | (1ull << 14) | (1ull << 16))
#define VTD_PGSIZES ((1ull << 12) | (1ull << 21) | (1ull << 30))
#define VTD_SAGAW_ALL 0xeu /* AGAW 1..3: 3-, 4- and 5-level tables */

static const char *const kind_names[] = {
	[AP_IOMMU_ARM_SMMU_V3] = "arm-smmu-v3",
	[AP_IOMMU_INTEL_VTD] = "intel-vtd",
};

enum ap_iommu_kind ap_iommu_kind_from_name(const char *name)
{
	size_t i;

	for (i = 1; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (kind_names[i] && name && !strcmp(kind_names[i], name))
			return (enum ap_iommu_kind)i;
	return 0;
}

const char *ap_iommu_kind_name(enum ap_iommu_kind kind)
{
	if ((size_t)kind < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[kind])
		return kind_names[kind];
	return "?";
}

void ap_iommu_config_init(struct ap_iommu_config *cfg, enum ap_iommu_kind kind)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kind = kind;
	cfg->ias = 48;
	cfg->oas = 48;
	cfg->pgsize_bitmap = (1ull << 12) | (1ull << 21) | (1ull << 30);
	cfg->stage = kind == AP_IOMMU_INTEL_VTD ? 2 : 1;
	cfg->unmatched = AP_UNMATCHED_ABORT;
	cfg->force_aperture = true;
	cfg->coherent_walk = true;
	cfg->evtq_size = 128;
	cfg->host_page_size = 4096;
	cfg->iotlb_entries = AP_IOTLB_DEFAULT_ENTRIES;
}

static bool oas_valid(unsigned oas)
{
	return oas == 32 || oas == 36 || oas == 40 || oas == 42 || oas == 44 || oas == 48 ||
	       oas == 52;
}

static int vtd_check(struct ap_ctx *ctx, const struct ap_iommu_config *c)
{
	if (c->ias < 32 || c->ias > 57)
		return ap__err(ctx, -EINVAL, "ias=%u: a VT-d input width (MGAW) is 32..57 bits",
			       c->ias);
	if (c->oas < 32 || c->oas > 52)
		return ap__err(ctx, -EINVAL, "oas=%u: a VT-d host address width is 32..52 bits",
			       c->oas);
	if (c->stage != 2)
		return ap__err(ctx, -EOPNOTSUPP,
			       "stage=%u: only VT-d second-level tables are modelled", c->stage);
	if (!(c->pgsize_bitmap & (1ull << 12)) || (c->pgsize_bitmap & ~VTD_PGSIZES))
		return ap__err(ctx, -EINVAL, "pgsizes: VT-d has 4K pages and 2M, 1G superpages");
	if (c->sagaw & ~VTD_SAGAW_ALL)
		return ap__err(ctx, -EINVAL, "sagaw: VT-d walks 39-, 48- and 57-bit tables only");
	return 0;
}

static int smmu_check(struct ap_ctx *ctx, const struct ap_iommu_config *c)
{
	if (c->ias < 32 || c->ias > 52)
		return ap__err(ctx, -EINVAL, "ias=%u: an SMMU input size is 32..52 bits", c->ias);
	if (!oas_valid(c->oas))
		return ap__err(ctx, -EINVAL,
			       "oas=%u: an SMMU output size is one of 32,36,40,42,44,48,52", c->oas);
	if (c->stage != 1 && c->stage != 2)
		return ap__err(ctx, -EINVAL, "stage=%u: stage is 1 or 2", c->stage);
	if (!c->pgsize_bitmap || (c->pgsize_bitmap & ~LPAE_PGSIZES))
		return ap__err(ctx, -EINVAL,
			       "pgsizes: an SMMU supports 4K,2M,1G,16K,32M,64K,512M,4T only");
	if (!(c->pgsize_bitmap & LPAE_GRANULES))
		return ap__err(ctx, -EINVAL, "pgsizes: no translation granule (4K, 16K or 64K)");
	if (c->sagaw)
		return ap__err(ctx, -EINVAL, "sagaw is a VT-d capability");
	return 0;
}

static int config_check(struct ap_ctx *ctx, const struct ap_iommu_config *c)
{
	int err;

	if (c->kind == AP_IOMMU_ARM_SMMU_V3)
		err = smmu_check(ctx, c);
	else if (c->kind == AP_IOMMU_INTEL_VTD)
		err = vtd_check(ctx, c);
	else
		err = ap__err(ctx, -EINVAL, "unknown IOMMU kind %d", (int)c->kind);
	if (err)
		return err;
	if (c->unmatched != AP_UNMATCHED_ABORT && c->unmatched != AP_UNMATCHED_BYPASS)
		return ap__err(ctx, -EINVAL, "unmatched must be abort or bypass");
	if (c->evtq_size < 1 || c->evtq_size > 65536)
		return ap__err(ctx, -EINVAL, "event queue size %u: 1..65536", c->evtq_size);
	if (c->host_page_size < 4096 || (c->host_page_size & (c->host_page_size - 1)))
		return ap__err(ctx, -EINVAL, "host page size must be a power of two >= 4K");
	if (c->iotlb_entries && (c->iotlb_entries < AP_IOTLB_WAYS || c->iotlb_entries > 1u << 20 ||
				 (c->iotlb_entries & (c->iotlb_entries - 1))))
		return ap__err(ctx, -EINVAL,
			       "IOTLB of %u entries: 0 (none) or a power of two, 2..1048576",
			       c->iotlb_entries);
	return 0;
}

static void *iotlb_zalloc(void *ctx, size_t size)
{
	return ap__zalloc_lines(ctx, size);
}

static void iommu_release(struct ap_ctx *ctx, struct ap_iommu *iommu)
{
	pthread_mutex_destroy(&iommu->evtq_lock);
	ap__free(ctx, iommu->tlb.sets);
	ap__free(ctx, iommu->evtq);
	ap__free(ctx, iommu);
}

int ap_iommu_new(struct ap_ctx *ctx, const char *name, const struct ap_iommu_config *cfg,
		 struct ap_iommu **out)
{
	struct ap_iommu *iommu;
	int err;

	err = ap__check_name(ctx, "IOMMU", name);
	if (err)
		return err;
	if (!cfg)
		return ap__err(ctx, -EINVAL, "no IOMMU configuration");
	if (ap_iommu_find(ctx, name))
		return ap__err(ctx, -EEXIST, "an IOMMU called '%s' exists", name);
	err = config_check(ctx, cfg);
	if (err)
		return err;
	iommu = ap__zalloc_lines(ctx, sizeof(*iommu)); /* its counters share no line */
	if (!iommu)
		return ap__err(ctx, -ENOMEM, "out of memory");
	pthread_mutex_init(&iommu->evtq_lock, NULL);
	iommu->evtq = ap__zalloc(ctx, cfg->evtq_size * sizeof(*iommu->evtq));
	if (!iommu->evtq || ap__iotlb_init(&iommu->tlb, cfg->iotlb_entries, iotlb_zalloc, ctx)) {
		iommu_release(ctx, iommu);
		return ap__err(ctx, -ENOMEM, "out of memory");
	}
	iommu->ctx = ctx;
	strcpy(iommu->name, name);
	iommu->cfg = *cfg;
	AP_APPEND(ctx->iommus, iommu);
	if (out)
		*out = iommu;
	return 0;
}

struct ap_iommu *ap_iommu_find(struct ap_ctx *ctx, const char *name)
{
	struct ap_iommu *i;

	for (i = ctx->iommus; i && name; i = i->next)
		if (!strcmp(i->name, name))
			return i;
	return NULL;
}

struct ap_iommu *ap_iommu_next(struct ap_ctx *ctx, struct ap_iommu *prev)
{
	return prev ? prev->next : ctx->iommus;
}

const char *ap_iommu_name(const struct ap_iommu *iommu)
{
	return iommu->name;
}

const struct ap_iommu_config *ap_iommu_get_config(const struct ap_iommu *iommu)
{
	return &iommu->cfg;
}

void ap__iommus_free(struct ap_ctx *ctx)
{
	while (ctx->iommus) {
		struct ap_iommu *i = ctx->iommus;

		ctx->iommus = i->next;
		iommu_release(ctx, i);
	}
}

/* ------------------------------------------------------------ tags */

/*
 * The lowest free tag: ASIDs and VMIDs from 1, as Linux's SMMUv3 driver
 * allocates them; VT-d domain IDs from 2 (Linux keeps 0 and 1 back).
 * -ENOSPC when all 16 bits are taken.
 */
int ap__tag_alloc(struct ap_iommu *iommu, uint16_t *tag)
{
	unsigned t = iommu->cfg.kind == AP_IOMMU_INTEL_VTD ? 2 : 1;

	for (; t < AP_TAGS; t++) {
		if (!(iommu->tags_used[t / 64] & (1ull << (t % 64)))) {
			iommu->tags_used[t / 64] |= 1ull << (t % 64);
			*tag = (uint16_t)t;
			return 0;
		}
	}
	return -ENOSPC;
}

/* Give a tag back once nothing of it can be in the IOTLB. */
void ap__tag_free(struct ap_iommu *iommu, uint16_t tag)
{
	ap__iotlb_invalidate_tag(&iommu->tlb, tag);
	iommu->tags_used[tag / 64] &= ~(1ull << (tag % 64));
}

/* ------------------------------------------------------------ IOTLB */

void ap_iommu_iotlb_stats(const struct ap_iommu *iommu, struct ap_iotlb_stats *out)
{
	const struct ap_iotlb *t = &iommu->tlb;
	unsigned i;

	memset(out, 0, sizeof(*out));
	out->entries = t->sets ? (t->set_mask + 1) * AP_IOTLB_WAYS : 0;
	for (i = 0; i < AP_IOTLB_STAT_SHARDS; i++) {
		const struct ap_iotlb_shard *s = &t->shard[i];

		out->hits += __atomic_load_n(&s->hits, __ATOMIC_RELAXED);
		out->misses += __atomic_load_n(&s->misses, __ATOMIC_RELAXED);
		out->walks += __atomic_load_n(&s->walks, __ATOMIC_RELAXED);
		out->fills += __atomic_load_n(&s->fills, __ATOMIC_RELAXED);
		out->invalidations += __atomic_load_n(&s->invalidations, __ATOMIC_RELAXED);
		out->dropped += __atomic_load_n(&s->dropped, __ATOMIC_RELAXED);
	}
}

void ap_iommu_iotlb_flush(struct ap_iommu *iommu)
{
	ap__iotlb_invalidate_all(&iommu->tlb);
}

/* ------------------------------------------------------------ events */

/* Faults come from any translating thread: the queue has a lock (faults
 * are the slow path).  Readers of a const instance lock it too: the lock
 * is not part of what const promises. */
static pthread_mutex_t *evtq_mutex(const struct ap_iommu *iommu)
{
	return (pthread_mutex_t *)(uintptr_t)&iommu->evtq_lock;
}

static void evtq_lock(const struct ap_iommu *iommu)
{
	pthread_mutex_lock(evtq_mutex(iommu));
}

static void evtq_unlock(const struct ap_iommu *iommu)
{
	pthread_mutex_unlock(evtq_mutex(iommu));
}

void ap__fault_record(struct ap_iommu *iommu, const struct ap_fault *f)
{
	unsigned size = iommu->cfg.evtq_size;

	evtq_lock(iommu);
	iommu->faults[f->kind]++;
	if (iommu->evtq_count == size)
		iommu->evtq_overflow = true;
	else
		iommu->evtq[(iommu->evtq_head + iommu->evtq_count++) % size] = *f;
	evtq_unlock(iommu);
}

bool ap_iommu_fault_pop(struct ap_iommu *iommu, struct ap_fault *out)
{
	bool got;

	evtq_lock(iommu);
	got = iommu->evtq_count != 0;
	if (got) {
		if (out)
			*out = iommu->evtq[iommu->evtq_head];
		iommu->evtq_head = (iommu->evtq_head + 1) % iommu->cfg.evtq_size;
		iommu->evtq_count--;
	}
	evtq_unlock(iommu);
	return got;
}

unsigned ap_iommu_fault_pending(const struct ap_iommu *iommu)
{
	unsigned n;

	evtq_lock(iommu);
	n = iommu->evtq_count;
	evtq_unlock(iommu);
	return n;
}

bool ap_iommu_fault_overflow(const struct ap_iommu *iommu)
{
	bool o;

	evtq_lock(iommu);
	o = iommu->evtq_overflow;
	evtq_unlock(iommu);
	return o;
}

void ap_iommu_fault_clear_overflow(struct ap_iommu *iommu)
{
	evtq_lock(iommu);
	iommu->evtq_overflow = false;
	evtq_unlock(iommu);
}

uint64_t ap_iommu_fault_count(const struct ap_iommu *iommu, enum ap_fault_kind kind)
{
	uint64_t total = 0;
	unsigned k;

	evtq_lock(iommu);
	if (kind != AP_FAULT_NONE)
		total = (unsigned)kind < AP_FAULT_KIND_COUNT ? iommu->faults[kind] : 0;
	else
		for (k = 1; k < AP_FAULT_KIND_COUNT; k++)
			total += iommu->faults[k];
	evtq_unlock(iommu);
	return total;
}
