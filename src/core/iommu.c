/* SPDX-License-Identifier: MIT */
/*
 * IOMMU instances: capabilities as hardware exposes them, and the bounded
 * event queue every refused transaction lands in.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "kinds/kind.h"

/* ------------------------------------------------------------ kinds */

enum ap_iommu_kind ap_iommu_kind_from_name(const char *name)
{
	const struct ap_iommu_model *m = ap__model_by_name(name);

	return m ? m->kind : 0;
}

const char *ap_iommu_kind_name(enum ap_iommu_kind kind)
{
	const struct ap_iommu_model *m = ap__model(kind);

	return m ? m->name : "?";
}

enum ap_iommu_kind ap_iommu_kind_next(enum ap_iommu_kind prev)
{
	const struct ap_iommu_model *m = ap__model_next(prev ? ap__model(prev) : NULL);

	return prev && !ap__model(prev) ? 0 : m ? m->kind : 0;
}

/* ------------------------------------------------------------ configuration */

#define GENERIC_USAGE "ias=N oas=N pgsizes=LIST unmatched=abort|bypass aperture=forced|open " \
		      "evtq=N coherent=yes|no hostpage=SIZE iotlb=N|off"

void ap_iommu_config_init(struct ap_iommu_config *cfg, enum ap_iommu_kind kind)
{
	const struct ap_iommu_model *m = ap__model(kind);

	memset(cfg, 0, sizeof(*cfg));
	cfg->kind = m ? kind : 0;
	cfg->ias = 48;
	cfg->oas = 48;
	cfg->pgsize_bitmap = (1ull << 12) | (1ull << 21) | (1ull << 30);
	cfg->unmatched = AP_UNMATCHED_ABORT;
	cfg->force_aperture = true;
	cfg->coherent_walk = true;
	cfg->evtq_size = 128;
	cfg->host_page_size = 4096;
	cfg->iotlb_entries = AP_IOTLB_DEFAULT_ENTRIES;
	if (m && m->config_init)
		m->config_init(cfg);
}

static int parse_word(const char *value, const char *yes, const char *no, bool *out)
{
	if (!strcmp(value, yes) || !strcmp(value, no)) {
		*out = !strcmp(value, yes);
		return 0;
	}
	return -EINVAL;
}

/* A number below 2^32; *expected says what went wrong. */
static int parse_u32(const char *key, const char *value, unsigned *out, const char **expected)
{
	static const char *const bad[][2] = {
		{ "ias", "ias (decimal or 0x hex, optional K M G T)" },
		{ "oas", "oas (decimal or 0x hex, optional K M G T)" },
		{ "evtq", "evtq (decimal or 0x hex, optional K M G T)" },
		{ "iotlb", "iotlb=N|off" },
	};
	static const char *const big[][2] = {
		{ "ias", "ias below 2^32" }, { "oas", "oas below 2^32" },
		{ "evtq", "evtq below 2^32" }, { "iotlb", "iotlb below 2^32" },
	};
	uint64_t v;
	int err = ap_parse_size(value, &v);
	size_t i;

	for (i = 0; i < 4 && strcmp(bad[i][0], key); i++)
		;
	if (!err && v > UINT32_MAX)
		err = -ERANGE;
	if (err)
		*expected = i < 4 ? (err == -ERANGE ? big[i][1] : bad[i][1]) : "a number below 2^32";
	if (err)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* The options every kind has. */
static int generic_set(struct ap_iommu_config *cfg, const char *key, const char *value,
		       const char **expected)
{
	bool b;
	int err;

	if (!strcmp(key, "ias"))
		return parse_u32(key, value, &cfg->ias, expected);
	if (!strcmp(key, "oas"))
		return parse_u32(key, value, &cfg->oas, expected);
	if (!strcmp(key, "evtq"))
		return parse_u32(key, value, &cfg->evtq_size, expected);
	if (!strcmp(key, "pgsizes")) {
		*expected = "a pgsizes LIST of power-of-two sizes such as 4K,2M,1G";
		return ap_parse_pgsizes(value, &cfg->pgsize_bitmap);
	}
	if (!strcmp(key, "hostpage")) {
		*expected = "hostpage=SIZE (decimal or 0x hex, optional K M G T)";
		return ap_parse_size(value, &cfg->host_page_size) ? -EINVAL : 0;
	}
	if (!strcmp(key, "iotlb")) {
		if (!strcmp(value, "off")) {
			cfg->iotlb_entries = 0;
			return 0;
		}
		return parse_u32(key, value, &cfg->iotlb_entries, expected);
	}
	if (!strcmp(key, "unmatched")) {
		*expected = "unmatched=abort|bypass";
		err = parse_word(value, "bypass", "abort", &b);
		if (!err)
			cfg->unmatched = b ? AP_UNMATCHED_BYPASS : AP_UNMATCHED_ABORT;
		return err;
	}
	if (!strcmp(key, "aperture")) {
		*expected = "aperture=forced|open";
		return parse_word(value, "forced", "open", &cfg->force_aperture);
	}
	if (!strcmp(key, "coherent")) {
		*expected = "coherent=yes|no";
		return parse_word(value, "yes", "no", &cfg->coherent_walk);
	}
	return -ENOENT;
}

int ap_iommu_config_set(struct ap_iommu_config *cfg, const char *key, const char *value,
			const char **expected)
{
	const struct ap_iommu_model *m = cfg ? ap__model(cfg->kind) : NULL;
	struct ap_iommu_config was;
	const char *exp = "a known option";
	int err;

	if (!cfg || !key || !value)
		return -EINVAL;
	was = *cfg;
	err = generic_set(cfg, key, value, &exp);
	if (err == -ENOENT && m && m->config_set)
		err = m->config_set(cfg, key, value, &exp);
	if (err)
		*cfg = was; /* a half-parsed value leaves nothing behind */
	if (expected)
		*expected = exp;
	return err;
}

/* cfg's defaults once `words` (key=value, what the kind wrote) are read:
 * the baseline a reader of the whole text compares the rest against (an
 * arm-smmu model= changes the defaults of ias, oas and pgsizes). */
static void defaults_after(const struct ap_iommu_config *cfg, const char *words,
			   struct ap_iommu_config *d)
{
	char copy[512], *save = NULL, *w;

	ap_iommu_config_init(d, cfg->kind);
	snprintf(copy, sizeof(copy), "%s", words);
	for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(w, '=');

		if (eq) {
			*eq = '\0';
			ap_iommu_config_set(d, w, eq + 1, NULL);
		}
	}
}

/* The generic options that differ from d, appended at `at`. */
static size_t generic_format(const struct ap_iommu_config *cfg, const struct ap_iommu_config *d,
			     char *buf, size_t len, size_t at)
{
	char list[96];

	if (cfg->ias != d->ias)
		at = ap__word(buf, len, at, "ias=%u", cfg->ias);
	if (cfg->oas != d->oas)
		at = ap__word(buf, len, at, "oas=%u", cfg->oas);
	if (cfg->pgsize_bitmap != d->pgsize_bitmap)
		at = ap__word(buf, len, at, "pgsizes=%s",
			      ap_format_pgsizes(cfg->pgsize_bitmap, list, sizeof(list)));
	if (cfg->unmatched != d->unmatched)
		at = ap__word(buf, len, at, "unmatched=%s",
			      cfg->unmatched == AP_UNMATCHED_BYPASS ? "bypass" : "abort");
	if (cfg->force_aperture != d->force_aperture)
		at = ap__word(buf, len, at, "aperture=%s", cfg->force_aperture ? "forced" : "open");
	if (cfg->evtq_size != d->evtq_size)
		at = ap__word(buf, len, at, "evtq=%u", cfg->evtq_size);
	if (cfg->coherent_walk != d->coherent_walk)
		at = ap__word(buf, len, at, "coherent=%s", cfg->coherent_walk ? "yes" : "no");
	if (cfg->host_page_size != d->host_page_size)
		at = ap__word(buf, len, at, "hostpage=%llu", (unsigned long long)cfg->host_page_size);
	if (cfg->iotlb_entries != d->iotlb_entries)
		at = cfg->iotlb_entries ? ap__word(buf, len, at, "iotlb=%u", cfg->iotlb_entries)
					: ap__word(buf, len, at, "iotlb=off");
	return at;
}

/* The kind's own words first: an arm-smmu model= sets the defaults of the
 * rest, which are then written against those. */
size_t ap_iommu_config_format(const struct ap_iommu_config *cfg, char *buf, size_t len)
{
	const struct ap_iommu_model *m = cfg ? ap__model(cfg->kind) : NULL;
	struct ap_iommu_config d;
	char text[512] = "";
	size_t at = 0;

	if (m && m->config_format)
		at = m->config_format(cfg, text, sizeof(text), 0);
	if (m) {
		defaults_after(cfg, at < sizeof(text) ? text : "", &d);
		at = generic_format(cfg, &d, text, sizeof(text), at);
	}
	if (len)
		snprintf(buf, len, "%s", at ? text : "");
	return at;
}

const char *ap_iommu_config_usage(enum ap_iommu_kind kind)
{
	static char usage[8][512];
	const struct ap_iommu_model *m = ap__model(kind);
	unsigned k = (unsigned)kind & 7;

	if (!m)
		return "";
	if (!usage[k][0]) /* the same text whichever thread writes it first */
		snprintf(usage[k], sizeof(usage[k]), "%s %s", GENERIC_USAGE, m->usage);
	return usage[k];
}

static int config_check(struct ap_ctx *ctx, const struct ap_iommu_config *c,
			const struct ap_iommu_model *m)
{
	int err;

	if (!m)
		return ap__err(ctx, -EINVAL, "unknown IOMMU kind %d", (int)c->kind);
	err = m->check(ctx, c);
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
	if (iommu->kind_state && iommu->model->release)
		iommu->model->release(iommu);
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
	err = config_check(ctx, cfg, ap__model(cfg->kind));
	if (err)
		return err;
	iommu = ap__zalloc_lines(ctx, sizeof(*iommu)); /* its counters share no line */
	if (!iommu)
		return ap__err(ctx, -ENOMEM, "out of memory");
	pthread_mutex_init(&iommu->evtq_lock, NULL);
	/* a record is written before it is read (evtq_head, evtq_count) */
	iommu->evtq = ap__alloc(ctx, cfg->evtq_size * sizeof(*iommu->evtq));
	if (!iommu->evtq || ap__iotlb_init(&iommu->tlb, cfg->iotlb_entries, iotlb_zalloc, ctx)) {
		iommu_release(ctx, iommu);
		return ap__err(ctx, -ENOMEM, "out of memory");
	}
	iommu->ctx = ctx;
	strcpy(iommu->name, name);
	iommu->cfg = *cfg;
	iommu->model = ap__model(cfg->kind);
	iommu->unmatched = cfg->unmatched;
	iommu->bypass_limit = iommu->model->bypass_limit(cfg);
	if (iommu->model->init && iommu->model->init(iommu)) {
		iommu_release(ctx, iommu);
		return ap__err(ctx, -ENOMEM, "out of memory");
	}
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

enum ap_pt_format ap_iommu_domain_format(const struct ap_iommu *iommu)
{
	return iommu->model->format(&iommu->cfg);
}

const char *ap_iommu_tag_name(const struct ap_iommu *iommu)
{
	return iommu->model->tag_name(&iommu->cfg);
}

enum ap_unmatched ap_iommu_unmatched(const struct ap_iommu *iommu)
{
	return (enum ap_unmatched)__atomic_load_n(&iommu->unmatched, __ATOMIC_ACQUIRE);
}

int ap_iommu_set_unmatched(struct ap_iommu *iommu, enum ap_unmatched unmatched)
{
	if (!iommu || (unmatched != AP_UNMATCHED_ABORT && unmatched != AP_UNMATCHED_BYPASS))
		return -EINVAL;
	__atomic_store_n(&iommu->unmatched, (unsigned)unmatched, __ATOMIC_RELEASE);
	return 0;
}

bool ap_iommu_capable(const struct ap_iommu *iommu, enum ap_iommu_cap cap)
{
	return iommu && iommu->model->capable(iommu, cap);
}

size_t ap_iommu_facts(const struct ap_iommu *iommu, struct ap_iommu_fact *out, size_t max)
{
	return iommu->model->facts ? iommu->model->facts(iommu, out, max) : 0;
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
 * The lowest free tag in the range the kind gives (SMMUv3 ASIDs and VMIDs
 * from 1, VT-d domain IDs from 2, arm-smmu context banks); -ENOSPC when all
 * are taken.
 */
int ap__tag_alloc(struct ap_iommu *iommu, uint16_t *tag)
{
	unsigned t, end;

	iommu->model->tag_range(iommu, &t, &end);
	for (; t < end && t < AP_TAGS; t++) {
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
	/* when the context goes, nothing can use an entry again */
	if (!iommu->ctx->freeing)
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

int ap_iommu_fault_peek(const struct ap_iommu *iommu, unsigned index, struct ap_fault *out)
{
	int err = -ENOENT;

	evtq_lock(iommu);
	if (index < iommu->evtq_count) {
		if (out)
			*out = iommu->evtq[(iommu->evtq_head + index) % iommu->cfg.evtq_size];
		err = 0;
	}
	evtq_unlock(iommu);
	return err;
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
