/* SPDX-License-Identifier: MIT */
/*
 * Threads on one domain (core.h, "Threads"):
 *
 *  - the stale-entry proof, in the spirit of Linux's IOTLB-emulation checks:
 *    readers translate and DMA all the time while a writer maps and unmaps;
 *    each slot's state is a sequence log (even: mapped at its version's
 *    address; odd: unmapped) that the writer advances only after ap_map or
 *    ap_unmap returned.  A reader that saw the same log entry before and
 *    after its transaction must see exactly that state: a fault for an
 *    unmapped slot, the version's address (and its bytes, for DMA) for a
 *    mapped one.  Per page size: 4K, 2M and 1G.
 *  - parallel writers of disjoint ranges that share tables, each against
 *    its own interval model, with readers beside them;
 *  - a failing map (rolled back alone) beside a writer filling the same
 *    tables;
 *  - a device moved between two domains while it translates: never a
 *    bypass, never a fault, always one domain's answer;
 *  - RAM removed and added back beside DMA into it;
 *  - two writers racing to hang the same new tables: the loser keeps nothing;
 *  - a fresh attachment's first walk of each page size beside the unmap of
 *    the leaf it walks: never a stale entry.
 *
 * Time-bounded with fixed seeds: AP_STRESS_MS (default 300) per phase;
 * `make stress` runs it for longer.  Each phase also asserts it checked
 * enough, so that a slow machine cannot pass it vacuously.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <aperture/core.h>

#include "expect.h"

#define SZ_4K 0x1000ull
#define SZ_2M 0x200000ull
#define SZ_1G 0x40000000ull
#define RW (AP_PROT_READ | AP_PROT_WRITE)

#define SLOTS 8
#define VERSIONS 4 /* output addresses a slot cycles through */
#define READERS 2
#define RAM_PA 0x100000000ull
#define FAKE_PA 0x4000000000ull /* 1G pages: translation only */

static uint64_t stress_ms(void)
{
	const char *e = getenv("AP_STRESS_MS");
	long v = e ? strtol(e, NULL, 10) : 0;

	return v > 0 ? (uint64_t)v : 300;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* xorshift64*, per thread */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void wait_us(unsigned us)
{
	struct timespec ts = { 0, (long)us * 1000 };

	nanosleep(&ts, NULL);
}

static void wait_ms(unsigned ms)
{
	wait_us(ms * 1000);
}

/* ------------------------------------------------------------ stale entries */

struct stale {
	struct ap_ctx *ctx;
	struct ap_domain *dom;
	struct ap_device *dev;
	uint64_t pgsize, iova, pa_base;
	bool dma;                  /* pa_base is RAM, tagged per page */
	unsigned log[SLOTS];       /* sequence log per slot, atomic */
	int stop;                  /* atomic */
	int failed;                /* atomic: first violation wins the message */
	char why[256];
	uint64_t seed;
	/* checks made, by what the reader saw: atomic */
	uint64_t saw_unmapped, saw_mapped, unstable;
};

/* A slot's sequence log, by phase (log % 4): the writer moves it before
 * and after each call, so a reader that sees one value before and after
 * its transaction knows the slot's state for the whole of it. */
enum { SLOT_UNMAPPED, SLOT_MAPPING, SLOT_MAPPED, SLOT_UNMAPPING };

/* Where the slot points while its log is in mapping `log`. */
static uint64_t slot_pa(const struct stale *s, unsigned slot, unsigned log)
{
	return s->pa_base + (uint64_t)(slot * VERSIONS + (log / 4) % VERSIONS) * s->pgsize;
}

static void violation(struct stale *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void violation(struct stale *s, const char *fmt, ...)
{
	va_list ap;
	int zero = 0;

	if (!__atomic_compare_exchange_n(&s->failed, &zero, 1, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		return;
	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	__atomic_store_n(&s->stop, 1, __ATOMIC_SEQ_CST);
}

/* What a slot's log around a transaction says of the slot: SLOT_UNMAPPED
 * or SLOT_MAPPED for the whole of it, or -1 if it changed meanwhile; each
 * counted. */
static int judged_state(struct stale *s, unsigned before, unsigned after)
{
	if (before != after || before % 4 == SLOT_MAPPING || before % 4 == SLOT_UNMAPPING) {
		__atomic_add_fetch(&s->unstable, 1, __ATOMIC_RELAXED);
		return -1;
	}
	if (before % 4 == SLOT_UNMAPPED) {
		__atomic_add_fetch(&s->saw_unmapped, 1, __ATOMIC_RELAXED);
		return SLOT_UNMAPPED;
	}
	__atomic_add_fetch(&s->saw_mapped, 1, __ATOMIC_RELAXED);
	return SLOT_MAPPED;
}

/* One transaction against one slot, judged by the log around it. */
static void check_once(struct stale *s, uint64_t *rng)
{
	unsigned slot = (unsigned)(next_rand(rng) % SLOTS);
	uint64_t off = (next_rand(rng) % (s->pgsize / 8)) * 8;
	uint64_t iova = s->iova + slot * s->pgsize + off;
	unsigned before = __atomic_load_n(&s->log[slot], __ATOMIC_ACQUIRE), after;
	struct ap_translation t;
	uint64_t word = 0;
	bool use_dma = s->dma && (next_rand(rng) & 1);
	int err, state;

	if (use_dma) /* the tag at the start of the 4 KiB page */
		err = ap_dma_read(s->dev, iova & ~(SZ_4K - 1), &word, sizeof(word), NULL);
	else
		err = ap_translate(s->dev, iova, AP_ACCESS_READ, &t, NULL);
	after = __atomic_load_n(&s->log[slot], __ATOMIC_ACQUIRE);
	state = judged_state(s, before, after);
	if (state < 0)
		return;
	if (state == SLOT_UNMAPPED) {
		if (!err)
			violation(s, "slot %u unmapped (log %u) but %s at 0x%llx succeeded "
				  "(0x%llx): a stale translation", slot, before,
				  use_dma ? "DMA" : "translate", (ull)iova,
				  (ull)(use_dma ? word : t.pa));
		return;
	}
	if (err) {
		violation(s, "slot %u mapped (log %u) but %s at 0x%llx faulted", slot, before,
			  use_dma ? "DMA" : "translate", (ull)iova);
	} else if (use_dma && word != slot_pa(s, slot, before) + (off & ~(SZ_4K - 1))) {
		violation(s, "slot %u (log %u): DMA read tag 0x%llx, want 0x%llx", slot, before,
			  (ull)word, (ull)(slot_pa(s, slot, before) + (off & ~(SZ_4K - 1))));
	} else if (!use_dma && t.pa != slot_pa(s, slot, before) + off) {
		violation(s, "slot %u (log %u): 0x%llx -> 0x%llx, want 0x%llx", slot, before,
			  (ull)iova, (ull)t.pa, (ull)(slot_pa(s, slot, before) + off));
	}
}

/* A batch of up to four transactions on random slots, each judged by its
 * slot's log around the whole batch; the batch stops at its first fault. */
static void check_batch(struct stale *s, uint64_t *rng)
{
	unsigned n = 1 + (unsigned)(next_rand(rng) % 4), slot[4], before[4], i;
	uint64_t iova[4], off[4];
	struct ap_translation t[4];
	size_t done;
	int err;

	for (i = 0; i < n; i++) {
		slot[i] = (unsigned)(next_rand(rng) % SLOTS);
		off[i] = (next_rand(rng) % (s->pgsize / 8)) * 8;
		iova[i] = s->iova + slot[i] * s->pgsize + off[i];
		before[i] = __atomic_load_n(&s->log[slot[i]], __ATOMIC_ACQUIRE);
	}
	err = ap_translate_batch(s->dev, iova, n, AP_ACCESS_READ, t, &done, NULL);
	for (i = 0; i < n && i <= done; i++) {
		int state = judged_state(s, before[i],
					 __atomic_load_n(&s->log[slot[i]], __ATOMIC_ACQUIRE));
		bool translated = i < done;

		if (state < 0)
			continue;
		if (state == SLOT_UNMAPPED) {
			if (translated)
				violation(s, "slot %u unmapped (log %u) but batch entry %u at 0x%llx "
					  "succeeded (0x%llx): a stale translation", slot[i],
					  before[i], i, (ull)iova[i], (ull)t[i].pa);
			continue;
		}
		if (!translated)
			violation(s, "slot %u mapped (log %u) but batch entry %u at 0x%llx "
				  "faulted (%d)", slot[i], before[i], i, (ull)iova[i], err);
		else if (t[i].pa != slot_pa(s, slot[i], before[i]) + off[i])
			violation(s, "slot %u (log %u): batch entry %u 0x%llx -> 0x%llx, want "
				  "0x%llx", slot[i], before[i], i, (ull)iova[i], (ull)t[i].pa,
				  (ull)(slot_pa(s, slot[i], before[i]) + off[i]));
	}
}

static void *stale_reader(void *arg)
{
	struct stale *s = arg;
	uint64_t rng = s->seed ^ (uint64_t)(uintptr_t)&rng;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		if (next_rand(&rng) % 3)
			check_once(s, &rng);
		else
			check_batch(s, &rng);
	}
	return NULL;
}

/* The writer: flip random slots, and log each change once it returned. */
static void *stale_writer(void *arg)
{
	struct stale *s = arg;
	uint64_t rng = s->seed, end = now_ms() + stress_ms();

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE) && now_ms() < end) {
		unsigned slot = (unsigned)(next_rand(&rng) % SLOTS);
		unsigned log = s->log[slot];
		uint64_t iova = s->iova + slot * s->pgsize;
		bool map = log % 4 == SLOT_UNMAPPED;
		int err;

		__atomic_store_n(&s->log[slot], log + 1, __ATOMIC_RELEASE);
		if (map)
			err = ap_map(s->dom, iova, slot_pa(s, slot, log + 2), s->pgsize, RW);
		else
			err = ap_unmap(s->dom, iova, s->pgsize, NULL);
		if (err) {
			violation(s, "writer: %s of slot %u failed: %d", map ? "map" : "unmap",
				  slot, err);
			break;
		}
		__atomic_store_n(&s->log[slot], log + 2, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void stale_setup(struct stale *s, uint64_t pgsize, unsigned iotlb_entries)
{
	struct ap_iommu_config c;
	struct ap_iommu *iommu;
	unsigned i;

	memset(s, 0, sizeof(*s));
	s->ctx = ap_ctx_new();
	assert_non_null(s->ctx);
	s->pgsize = pgsize;
	s->iova = 4 * SZ_1G;
	s->dma = pgsize <= SZ_2M;
	s->pa_base = s->dma ? RAM_PA : FAKE_PA;
	s->seed = 0xc0ffee00ull + pgsize;
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	c.iotlb_entries = iotlb_entries;
	assert_int_equal(ap_iommu_new(s->ctx, "smmu", &c, &iommu), 0);
	assert_int_equal(ap_domain_new(s->ctx, "d", iommu, AP_DOMAIN_PAGING, &s->dom), 0);
	assert_int_equal(ap_device_new(s->ctx, "dev", iommu, 1, AP_GROUP_OWN, &s->dev), 0);
	assert_int_equal(ap_attach(s->dom, s->dev), 0);
	if (s->dma) {
		uint64_t size = SLOTS * VERSIONS * pgsize, p;
		uint8_t *host;

		assert_int_equal(ap_ram_alloc(s->ctx, RAM_PA, size, (void **)&host), 0);
		for (p = 0; p < size; p += SZ_4K) /* each 4 KiB page holds its PA */
			memcpy(host + p, &(uint64_t){ RAM_PA + p }, 8);
	}
	for (i = 0; i < SLOTS; i++) { /* half the slots start mapped */
		s->log[i] = i % 2 ? SLOT_UNMAPPED : SLOT_MAPPED;
		if (s->log[i] == SLOT_MAPPED)
			assert_int_equal(ap_map(s->dom, s->iova + i * pgsize,
						slot_pa(s, i, SLOT_MAPPED), pgsize, RW), 0);
	}
}

static void stale_run(uint64_t pgsize, unsigned iotlb_entries)
{
	pthread_t readers[READERS], writer;
	struct stale s;
	struct ap_iotlb_stats st;
	unsigned i;

	stale_setup(&s, pgsize, iotlb_entries);
	for (i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&readers[i], NULL, stale_reader, &s), 0);
	assert_int_equal(pthread_create(&writer, NULL, stale_writer, &s), 0);
	pthread_join(writer, NULL);
	for (i = 0; i < READERS; i++)
		pthread_join(readers[i], NULL);
	ap_iommu_iotlb_stats(ap_iommu_find(s.ctx, "smmu"), &st);
	print_message("  %4llu KiB pages, IOTLB %4u: seed 0x%llx, %llu stable-unmapped and "
		      "%llu stable-mapped checks (%llu raced), %llu IOTLB hits\n",
		      (ull)(pgsize >> 10), iotlb_entries, (ull)s.seed, (ull)s.saw_unmapped,
		      (ull)s.saw_mapped, (ull)s.unstable, (ull)st.hits);
	EXPECT(!s.failed, "%s", s.why);
	assert_true(s.saw_unmapped >= 100);
	assert_true(s.saw_mapped >= 100);
	if (iotlb_entries)
		assert_true(st.hits > 0);
	ap_ctx_free(s.ctx);
}

static void test_stale_4k(void **state)
{
	(void)state;
	stale_run(SZ_4K, AP_IOTLB_DEFAULT_ENTRIES);
	stale_run(SZ_4K, 4);
}

static void test_stale_2m(void **state)
{
	(void)state;
	stale_run(SZ_2M, AP_IOTLB_DEFAULT_ENTRIES);
}

static void test_stale_1g(void **state)
{
	(void)state;
	stale_run(SZ_1G, AP_IOTLB_DEFAULT_ENTRIES);
}

/* ------------------------------------------------------------ parallel writers */

#define WRITERS 2
#define W_PAGES 256 /* pages per writer, interleaved: they share every table */

struct par {
	struct ap_domain *dom;
	struct ap_device *dev;
	uint64_t base;
	int stop;
	int bad; /* atomic */
	uint64_t ops[WRITERS];
	bool mapped[WRITERS][W_PAGES];
};

struct par_arg {
	struct par *p;
	unsigned id;
};

static uint64_t par_iova(const struct par *p, unsigned w, unsigned i)
{
	return p->base + ((uint64_t)i * WRITERS + w) * SZ_4K;
}

static uint64_t par_pa(unsigned w, unsigned i)
{
	return FAKE_PA + ((uint64_t)i * WRITERS + w) * SZ_4K;
}

static void *par_writer(void *arg)
{
	struct par_arg *a = arg;
	struct par *p = a->p;
	uint64_t rng = 0x5eed0000ull + a->id, end = now_ms() + stress_ms();

	while (now_ms() < end && !__atomic_load_n(&p->bad, __ATOMIC_RELAXED)) {
		unsigned i = (unsigned)(next_rand(&rng) % W_PAGES);
		uint64_t iova = par_iova(p, a->id, i), got = 0;
		int err;

		if (p->mapped[a->id][i]) {
			err = ap_unmap(p->dom, iova, SZ_4K, &got);
			if (err || got != SZ_4K)
				__atomic_store_n(&p->bad, 1, __ATOMIC_RELAXED);
		} else {
			err = ap_map(p->dom, iova, par_pa(a->id, i), SZ_4K, RW);
			if (err)
				__atomic_store_n(&p->bad, 2, __ATOMIC_RELAXED);
		}
		p->mapped[a->id][i] = !p->mapped[a->id][i];
		p->ops[a->id]++;
	}
	return NULL;
}

static void *par_reader(void *arg)
{
	struct par *p = arg;
	uint64_t rng = 0x7eadull;

	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		unsigned w = (unsigned)(next_rand(&rng) % WRITERS);
		unsigned i = (unsigned)(next_rand(&rng) % W_PAGES);
		struct ap_translation t;

		/* whatever the state, a translation that succeeds is right */
		if (!ap_translate(p->dev, par_iova(p, w, i), AP_ACCESS_READ, &t, NULL) &&
		    t.pa != par_pa(w, i))
			__atomic_store_n(&p->bad, 3, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_parallel_disjoint_writers(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *iommu;
	struct par p;
	struct par_arg args[WRITERS];
	pthread_t w[WRITERS], r;
	unsigned i, k;
	uint64_t leaves = 0;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.base = 8 * SZ_1G - SZ_2M / 2; /* straddles a 2M and a 1G boundary */
	ap_iommu_config_init(&c, AP_IOMMU_INTEL_VTD);
	assert_int_equal(ap_iommu_new(ctx, "vtd", &c, &iommu), 0);
	assert_int_equal(ap_domain_new(ctx, "d", iommu, AP_DOMAIN_PAGING, &p.dom), 0);
	assert_int_equal(ap_device_new(ctx, "dev", iommu, 1, AP_GROUP_OWN, &p.dev), 0);
	assert_int_equal(ap_attach(p.dom, p.dev), 0);
	assert_int_equal(pthread_create(&r, NULL, par_reader, &p), 0);
	for (i = 0; i < WRITERS; i++) {
		args[i] = (struct par_arg){ &p, i };
		assert_int_equal(pthread_create(&w[i], NULL, par_writer, &args[i]), 0);
	}
	for (i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);
	__atomic_store_n(&p.stop, 1, __ATOMIC_RELEASE);
	pthread_join(r, NULL);
	print_message("  %llu + %llu map/unmap calls\n", (ull)p.ops[0], (ull)p.ops[1]);
	EXPECT(!p.bad, "failure kind %d", p.bad);
	assert_true(p.ops[0] > 100 && p.ops[1] > 100);
	/* the tables hold exactly what both models say */
	for (i = 0; i < WRITERS; i++) {
		for (k = 0; k < W_PAGES; k++) {
			uint64_t pa = 0;
			bool live = ap_domain_iova_to_phys(p.dom, par_iova(&p, i, k), &pa);

			EXPECT(live == p.mapped[i][k], "writer %u page %u: live %d, model %d", i, k,
			       live, p.mapped[i][k]);
			if (live)
				assert_int_equal(pa, par_pa(i, k));
			leaves += live;
		}
	}
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(p.dom)), leaves);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ rollback beside a writer */

#define RB_FILL (3 * SZ_1G)              /* the filler's pages: [3G, 3G + 256K) */
#define RB_FAIL (3 * SZ_1G + SZ_2M / 2)  /* the failing maps start here ... */
#define RB_BLOCK (3 * SZ_1G + 5 * SZ_2M / 2) /* ... and meet a live page here */

struct rb {
	struct ap_domain *dom;
	int stop;
	uint64_t rollbacks, fills;
	int bad;
};

/* Maps that allocate fresh tables and then fail on a block in the way. */
static void *rb_failer(void *arg)
{
	struct rb *r = arg;
	uint64_t end = now_ms() + stress_ms();

	/* the time, and at least a few rollbacks however slow the machine */
	while ((now_ms() < end || r->rollbacks < 3) && !r->bad && now_ms() < end + 20000) {
		/* RB_BLOCK holds a live page: a map from RB_FAIL up to and
		 * over it allocates tables (some shared with the filler's
		 * range below RB_FAIL), then fails with -EEXIST and must give
		 * back those that hold nothing */
		if (ap_map(r->dom, RB_FAIL, FAKE_PA, RB_BLOCK + SZ_4K - RB_FAIL, RW) != -EEXIST)
			r->bad = 1;
		r->rollbacks++;
		wait_us(50); /* a rollback runs alone: leave the filler room */
	}
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Meanwhile: map and unmap 4K pages at the start of the same range. */
static void *rb_filler(void *arg)
{
	struct rb *r = arg;
	unsigned i = 0;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		uint64_t iova = RB_FILL + (uint64_t)(i % 64) * SZ_4K, pa = 0;

		if (ap_map(r->dom, iova, FAKE_PA + iova, SZ_4K, RW) ||
		    !ap_domain_iova_to_phys(r->dom, iova, &pa) || pa != FAKE_PA + iova ||
		    ap_unmap(r->dom, iova, SZ_4K, NULL))
			r->bad = 2;
		i++;
		r->fills++;
	}
	return NULL;
}

static void test_rollback_beside_writer(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *iommu;
	struct rb r;
	pthread_t a, b;
	uint64_t before;

	(void)state;
	memset(&r, 0, sizeof(r));
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	c.pgsize_bitmap = SZ_4K; /* every page a leaf: many tables per map */
	assert_int_equal(ap_iommu_new(ctx, "smmu", &c, &iommu), 0);
	assert_int_equal(ap_domain_new(ctx, "d", iommu, AP_DOMAIN_PAGING, &r.dom), 0);
	assert_int_equal(ap_map(r.dom, RB_BLOCK, FAKE_PA, SZ_4K, RW), 0);
	before = ap_pt_table_bytes(ap_domain_pt(r.dom));
	assert_int_equal(pthread_create(&a, NULL, rb_failer, &r), 0);
	assert_int_equal(pthread_create(&b, NULL, rb_filler, &r), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	print_message("  %llu rolled-back maps beside %llu map+unmap pairs\n",
		      (ull)r.rollbacks, (ull)r.fills);
	assert_int_equal(r.bad, 0);
	assert_true(r.rollbacks >= 3 && r.fills >= 3);
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(r.dom)), 1);
	/* the filler's tables may stay (emptied by unmap, as in Linux); the
	 * failed maps' own may not */
	assert_true(ap_pt_table_bytes(ap_domain_pt(r.dom)) <= before + SZ_4K);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ replace while translating */

struct mover {
	struct ap_device *dev;
	int stop;
	int bad;
	uint64_t seen_a, seen_b;
};

/* One translation of 0x10000 + off, judged: domain a's, b's, or wrong. */
static void mover_judge(struct mover *m, int err, const struct ap_translation *t, uint64_t off)
{
	if (err || t->bypass)
		m->bad = 1; /* no moment without a domain */
	else if (t->pa == FAKE_PA + off)
		__atomic_add_fetch(&m->seen_a, 1, __ATOMIC_RELAXED);
	else if (t->pa == FAKE_PA + SZ_2M + off)
		__atomic_add_fetch(&m->seen_b, 1, __ATOMIC_RELAXED);
	else
		m->bad = 2;
}

/* Single translations and batches of 8 in turn, while the device moves. */
static void *mover_reader(void *arg)
{
	struct mover *m = arg;
	uint64_t iova[8];
	unsigned i, round = 0;

	for (i = 0; i < 8; i++)
		iova[i] = 0x10000 + i * 8;
	while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
		struct ap_translation t[8];
		size_t done;
		int err;

		if (round++ % 2) {
			err = ap_translate(m->dev, iova[0], AP_ACCESS_READ, &t[0], NULL);
			mover_judge(m, err, &t[0], 0);
			continue;
		}
		err = ap_translate_batch(m->dev, iova, 8, AP_ACCESS_READ, t, &done, NULL);
		if (err || done != 8)
			m->bad = 3;
		for (i = 0; i < done; i++)
			mover_judge(m, 0, &t[i], i * 8);
	}
	return NULL;
}

static void test_replace_while_translating(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *iommu;
	struct ap_domain *a, *b;
	struct mover m;
	pthread_t r;
	uint64_t end;
	unsigned moves = 0;

	(void)state;
	memset(&m, 0, sizeof(m));
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	c.unmatched = AP_UNMATCHED_BYPASS; /* a gap would show as a bypass */
	assert_int_equal(ap_iommu_new(ctx, "smmu", &c, &iommu), 0);
	assert_int_equal(ap_domain_new(ctx, "a", iommu, AP_DOMAIN_PAGING, &a), 0);
	assert_int_equal(ap_domain_new(ctx, "b", iommu, AP_DOMAIN_PAGING, &b), 0);
	assert_int_equal(ap_map(a, 0x10000, FAKE_PA, SZ_4K, RW), 0);
	assert_int_equal(ap_map(b, 0x10000, FAKE_PA + SZ_2M, SZ_4K, RW), 0);
	assert_int_equal(ap_device_new(ctx, "dev", iommu, 1, AP_GROUP_OWN, &m.dev), 0);
	assert_int_equal(ap_attach(a, m.dev), 0);
	assert_int_equal(pthread_create(&r, NULL, mover_reader, &m), 0);
	end = now_ms() + stress_ms();
	/* until the time is up and the reader saw both domains (a slow or
	 * serialising machine, valgrind, may starve it for a while) */
	while (now_ms() < end || moves < 20 || !__atomic_load_n(&m.seen_a, __ATOMIC_RELAXED) ||
	       !__atomic_load_n(&m.seen_b, __ATOMIC_RELAXED)) {
		if (now_ms() > end + 20000)
			break;
		assert_int_equal(ap_replace(moves % 2 ? a : b, m.dev), 0);
		moves++;
		if (moves % 64 == 0)
			wait_ms(1);
	}
	__atomic_store_n(&m.stop, 1, __ATOMIC_RELEASE);
	pthread_join(r, NULL);
	print_message("  %u moves; %llu translations through a, %llu through b\n", moves,
		      (ull)m.seen_a, (ull)m.seen_b);
	assert_int_equal(m.bad, 0);
	assert_true(m.seen_a > 0 && m.seen_b > 0);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ RAM beside DMA */

/* The RAM's sequence log, by phase (log % 4). */
enum { RAM_GONE, RAM_ADDING, RAM_THERE, RAM_REMOVING };

struct ramrace {
	struct ap_ctx *ctx;
	struct ap_device *dev;
	int log; /* atomic */
	int stop;
	int bad;
	uint64_t ok, faulted;
};

static void *ram_dma(void *arg)
{
	struct ramrace *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		uint8_t buf[256];
		struct ap_fault f;
		int before, after, err;

		memset(buf, 0x5a, sizeof(buf));
		before = __atomic_load_n(&r->log, __ATOMIC_ACQUIRE);
		err = ap_dma_write(r->dev, 0x80000, buf, sizeof(buf), &f);
		after = __atomic_load_n(&r->log, __ATOMIC_ACQUIRE);
		if (err) {
			r->faulted++;
			if (f.kind != AP_FAULT_EXTERNAL || (before == after && before % 4 == RAM_THERE))
				r->bad = 1;
		} else {
			r->ok++;
			if (before == after && before % 4 == RAM_GONE)
				r->bad = 2; /* wrote to RAM that was gone */
		}
	}
	return NULL;
}

static void test_ram_remove_beside_dma(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *iommu;
	struct ap_domain *d;
	struct ramrace r;
	pthread_t t;
	uint64_t end;

	(void)state;
	memset(&r, 0, sizeof(r));
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(ap_iommu_new(ctx, "smmu", &c, &iommu), 0);
	assert_int_equal(ap_domain_new(ctx, "d", iommu, AP_DOMAIN_PAGING, &d), 0);
	assert_int_equal(ap_device_new(ctx, "dev", iommu, 1, AP_GROUP_OWN, &r.dev), 0);
	assert_int_equal(ap_attach(d, r.dev), 0);
	assert_int_equal(ap_map(d, 0x80000, RAM_PA, SZ_4K, RW), 0);
	assert_int_equal(pthread_create(&t, NULL, ram_dma, &r), 0);
	end = now_ms() + stress_ms() / 2;
	while (now_ms() < end) {
		__atomic_store_n(&r.log, r.log + 1, __ATOMIC_RELEASE); /* adding */
		assert_int_equal(ap_ram_alloc(ctx, RAM_PA, SZ_4K, NULL), 0);
		__atomic_store_n(&r.log, r.log + 1, __ATOMIC_RELEASE); /* there */
		wait_ms(1);
		__atomic_store_n(&r.log, r.log + 1, __ATOMIC_RELEASE); /* removing */
		assert_int_equal(ap_ram_remove(ctx, RAM_PA), 0);
		__atomic_store_n(&r.log, r.log + 1, __ATOMIC_RELEASE); /* gone */
		wait_ms(1);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	print_message("  %llu DMAs landed, %llu faulted (external)\n", (ull)r.ok,
		      (ull)r.faulted);
	assert_int_equal(r.bad, 0);
	assert_true(r.ok > 0 && r.faulted > 0);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ review regressions */

/* RAM regions added (the array outgrows itself) beside DMA whose lookups
 * miss: a lookup must never read the old array with the new count. */
struct ramgrow {
	struct ap_device *dev;
	int stop;
	uint64_t faults;
	int bad;
};

static void *ramgrow_dma(void *arg)
{
	struct ramgrow *g = arg;

	while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE)) {
		uint8_t buf[64];
		struct ap_fault f;

		if (ap_dma_read(g->dev, 0x90000, buf, sizeof(buf), &f) != -EFAULT ||
		    f.kind != AP_FAULT_EXTERNAL)
			g->bad = 1;
		g->faults++;
	}
	return NULL;
}

static void test_ram_growth_beside_dma(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *iommu;
	struct ap_domain *d;
	struct ramgrow g;
	pthread_t t;
	static uint8_t backing[SZ_4K];
	unsigned i, round;

	(void)state;
	memset(&g, 0, sizeof(g));
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(ap_iommu_new(ctx, "smmu", &c, &iommu), 0);
	assert_int_equal(ap_domain_new(ctx, "d", iommu, AP_DOMAIN_PAGING, &d), 0);
	assert_int_equal(ap_device_new(ctx, "dev", iommu, 1, AP_GROUP_OWN, &g.dev), 0);
	assert_int_equal(ap_attach(d, g.dev), 0);
	/* maps to a PA above every region added: each lookup searches them all */
	assert_int_equal(ap_map(d, 0x90000, 0x80000000000ull, SZ_4K, RW), 0);
	assert_int_equal(pthread_create(&t, NULL, ramgrow_dma, &g), 0);
	for (round = 0; round < 8; round++) {
		for (i = 0; i < 600; i++)
			assert_int_equal(ap_ram_add(ctx, RAM_PA + (uint64_t)i * SZ_2M, SZ_4K, backing),
					 0);
		for (i = 0; i < 600; i++)
			assert_int_equal(ap_ram_remove(ctx, RAM_PA + (uint64_t)i * SZ_2M), 0);
	}
	__atomic_store_n(&g.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	print_message("  %llu faulting DMAs beside 9600 RAM changes\n", (ull)g.faults);
	assert_int_equal(g.bad, 0);
	ap_ctx_free(ctx);
}

/*
 * A write observer maps (inside the DMA's read-side section) while another
 * thread's failing maps roll back alone: the observer's map must not wait
 * for the rollback that waits for it (it fails with -EDEADLK instead).
 */
struct nested {
	struct ap_domain *dom;
	struct ap_device *dev;
	int stop;
	uint64_t maps, deadlk, dmas;
	bool mapped;
	int bad;
};

/* Map a page, and unmap it again (the next time, if refused now). */
static void nested_observer(void *arg, const struct ap_device *dev, uint64_t iova, uint64_t pa,
			    size_t len)
{
	struct nested *n = arg;
	int err;

	(void)dev, (void)iova, (void)pa, (void)len;
	if (!n->mapped) {
		err = ap_map(n->dom, 0x7000000, FAKE_PA, SZ_4K, RW);
		if (!err) {
			n->maps++;
			n->mapped = true;
		} else if (err == -EDEADLK) {
			n->deadlk++;
		} else {
			n->bad = 2;
		}
	}
	if (n->mapped) {
		err = ap_unmap(n->dom, 0x7000000, SZ_4K, NULL);
		if (!err)
			n->mapped = false;
		else if (err == -EDEADLK)
			n->deadlk++;
		else
			n->bad = 1;
	}
}

static void *nested_dma(void *arg)
{
	struct nested *n = arg;
	uint8_t buf[16] = { 0 };

	while (!__atomic_load_n(&n->stop, __ATOMIC_ACQUIRE)) {
		if (ap_dma_write(n->dev, 0x80000, buf, sizeof(buf), NULL))
			n->bad = 3;
		n->dmas++;
	}
	return NULL;
}

static void test_map_from_observer_beside_rollback(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *iommu;
	struct nested n;
	pthread_t t;
	uint64_t end;
	unsigned rollbacks = 0;

	(void)state;
	memset(&n, 0, sizeof(n));
	alarm(120); /* a deadlock fails the test instead of hanging CI */
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	c.pgsize_bitmap = SZ_4K;
	assert_int_equal(ap_iommu_new(ctx, "smmu", &c, &iommu), 0);
	assert_int_equal(ap_domain_new(ctx, "d", iommu, AP_DOMAIN_PAGING, &n.dom), 0);
	assert_int_equal(ap_device_new(ctx, "dev", iommu, 1, AP_GROUP_OWN, &n.dev), 0);
	assert_int_equal(ap_attach(n.dom, n.dev), 0);
	assert_int_equal(ap_ram_alloc(ctx, RAM_PA, SZ_4K, NULL), 0);
	assert_int_equal(ap_map(n.dom, 0x80000, RAM_PA, SZ_4K, RW), 0);
	assert_int_equal(ap_map(n.dom, RB_BLOCK, FAKE_PA, SZ_4K, RW), 0);
	ap_ctx_set_dma_write_observer(ctx, nested_observer, &n);
	assert_int_equal(pthread_create(&t, NULL, nested_dma, &n), 0);
	end = now_ms() + stress_ms();
	while (now_ms() < end || rollbacks < 3) {
		/* allocates tables, then meets RB_BLOCK: rolled back alone */
		assert_int_equal(ap_map(n.dom, RB_FAIL, FAKE_PA, RB_BLOCK + SZ_4K - RB_FAIL, RW),
				 -EEXIST);
		rollbacks++;
	}
	__atomic_store_n(&n.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	alarm(0);
	print_message("  %u rollbacks; observer: %llu maps, %llu refused (EDEADLK) in %llu DMAs\n",
		      rollbacks, (ull)n.maps, (ull)n.deadlk, (ull)n.dmas);
	assert_int_equal(n.bad, 0);
	assert_true(n.dmas > 0);
	ap_ctx_free(ctx);
}

/*
 * Detach of a device whose group shares the attachment with another group:
 * it must still wait for the device's DMA in flight (no attachment is freed,
 * but the promise is about the DMA).
 */
struct slowdma {
	struct ap_device *dev;
	int started, calls;
};

static void slow_observer(void *arg, const struct ap_device *dev, uint64_t iova, uint64_t pa,
			  size_t len)
{
	struct slowdma *s = arg;

	(void)dev, (void)iova, (void)pa, (void)len;
	if (__atomic_add_fetch(&s->calls, 1, __ATOMIC_ACQ_REL) == 1) {
		__atomic_store_n(&s->started, 1, __ATOMIC_RELEASE);
		wait_ms(100);
	}
}

static void *slow_dma(void *arg)
{
	struct slowdma *s = arg;
	uint8_t buf[2 * SZ_4K] = { 0 };

	ap_dma_write(s->dev, 0x10000, buf, sizeof(buf), NULL);
	return NULL;
}

static void test_detach_waits_for_dma_on_shared_attachment(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *iommu;
	struct ap_domain *d;
	struct ap_device *b;
	struct slowdma s;
	pthread_t t;

	(void)state;
	memset(&s, 0, sizeof(s));
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(ap_iommu_new(ctx, "smmu", &c, &iommu), 0);
	assert_int_equal(ap_domain_new(ctx, "d", iommu, AP_DOMAIN_PAGING, &d), 0);
	assert_int_equal(ap_device_new(ctx, "a", iommu, 1, AP_GROUP_OWN, &s.dev), 0);
	assert_int_equal(ap_device_new(ctx, "b", iommu, 2, AP_GROUP_OWN, &b), 0);
	assert_int_equal(ap_attach(d, s.dev), 0);
	assert_int_equal(ap_attach(d, b), 0); /* the same attachment */
	assert_int_equal(ap_ram_alloc(ctx, RAM_PA, 4 * SZ_4K, NULL), 0);
	/* two pages, apart in PA: the write is two stretches */
	assert_int_equal(ap_map(d, 0x10000, RAM_PA, SZ_4K, RW), 0);
	assert_int_equal(ap_map(d, 0x11000, RAM_PA + 2 * SZ_4K, SZ_4K, RW), 0);
	ap_ctx_set_dma_write_observer(ctx, slow_observer, &s);
	assert_int_equal(pthread_create(&t, NULL, slow_dma, &s), 0);
	while (!__atomic_load_n(&s.started, __ATOMIC_ACQUIRE))
		wait_us(100);
	assert_int_equal(ap_detach(s.dev), 0);
	/* the DMA was in flight through the old domain: it has ended */
	assert_int_equal(__atomic_load_n(&s.calls, __ATOMIC_ACQUIRE), 2);
	pthread_join(t, NULL);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ racing to hang a table */

/* Two writers map neighbouring pages of a region with no tables yet: both
 * build the missing tables and race to hang them; the loser throws its own
 * away.  Nothing it allocated for that (the table, the note of it in its
 * transaction) may outlive the domain. */
struct hang {
	struct ap_domain *dom;
	unsigned rounds;
	unsigned arrived; /* a two-thread barrier: arrivals, even per round */
	int bad;
};

static void hang_barrier(struct hang *h)
{
	unsigned me = __atomic_add_fetch(&h->arrived, 1, __ATOMIC_ACQ_REL);
	unsigned goal = (me + 1) & ~1u;

	while (__atomic_load_n(&h->arrived, __ATOMIC_ACQUIRE) < goal)
		;
}

static void hang_round(struct hang *h, unsigned r, unsigned which)
{
	uint64_t iova = (uint64_t)r * SZ_1G + which * SZ_4K;

	if (ap_map(h->dom, iova, FAKE_PA + iova, SZ_4K, RW))
		__atomic_store_n(&h->bad, 1, __ATOMIC_RELAXED);
}

static void *hang_other(void *arg)
{
	struct hang *h = arg;
	unsigned r;

	for (r = 0; r < h->rounds; r++) {
		hang_barrier(h);
		hang_round(h, r, 1);
	}
	return NULL;
}

static void test_lost_table_race_keeps_nothing(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *iommu;
	struct hang h;
	uint64_t allocs0, allocs, pa;
	pthread_t t;
	unsigned r;

	(void)state;
	memset(&h, 0, sizeof(h));
	h.rounds = 2000; /* 1 GiB apart: two new tables a round */
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(ap_iommu_new(ctx, "smmu", &c, &iommu), 0);
	/* the first domain sets up the table pool, which stays with ctx */
	assert_int_equal(ap_domain_new(ctx, "d", iommu, AP_DOMAIN_PAGING, &h.dom), 0);
	assert_int_equal(ap_domain_free(h.dom), 0);
	ap_ctx_mem_stats(ctx, &allocs0, NULL);
	assert_int_equal(ap_domain_new(ctx, "d", iommu, AP_DOMAIN_PAGING, &h.dom), 0);
	assert_int_equal(pthread_create(&t, NULL, hang_other, &h), 0);
	for (r = 0; r < h.rounds; r++) {
		hang_barrier(&h);
		hang_round(&h, r, 0);
	}
	pthread_join(t, NULL);
	assert_int_equal(h.bad, 0);
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(h.dom)), 2 * h.rounds);
	for (r = 0; r < h.rounds; r += 97) {
		assert_true(ap_domain_iova_to_phys(h.dom, (uint64_t)r * SZ_1G + SZ_4K, &pa));
		assert_int_equal(pa, FAKE_PA + (uint64_t)r * SZ_1G + SZ_4K);
	}
	assert_int_equal(ap_domain_free(h.dom), 0);
	ap_ctx_mem_stats(ctx, &allocs, NULL);
	assert_int_equal(allocs, allocs0);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ first fill beside an unmap */

/*
 * A fresh attachment has filled no size, so an unmap may skip its IOTLB
 * (iotlb.h): a reader's first walk of a size races the unmap of the leaf
 * it walks, over and over, each round through a new domain; after both,
 * the leaf must fault, never translate from a stale entry.  Per size.
 */
struct first {
	struct ap_device *dev;
	uint64_t iova;
	unsigned rounds;
	unsigned arrived; /* a two-thread barrier, as struct hang's */
};

static void first_barrier(struct first *f)
{
	unsigned me = __atomic_add_fetch(&f->arrived, 1, __ATOMIC_ACQ_REL);
	unsigned goal = (me + 1) & ~1u;

	while (__atomic_load_n(&f->arrived, __ATOMIC_ACQUIRE) < goal)
		;
}

static void *first_reader(void *arg)
{
	struct first *f = arg;
	struct ap_translation t;
	unsigned r;

	for (r = 0; r < f->rounds; r++) {
		first_barrier(f);
		(void)ap_translate(f->dev, f->iova + (r & 7) * 8, AP_ACCESS_READ, &t, NULL);
		first_barrier(f);
	}
	return NULL;
}

static void test_first_fill_beside_unmap(void **state)
{
	static const uint64_t sizes[] = { SZ_4K, SZ_2M, SZ_1G };
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *iommu;
	struct ap_domain *dom, *old = NULL;
	struct first f;
	unsigned k, r, stale = 0;
	pthread_t t;

	(void)state;
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(ap_iommu_new(ctx, "smmu", &c, &iommu), 0);
	memset(&f, 0, sizeof(f));
	assert_int_equal(ap_device_new(ctx, "dev", iommu, 1, AP_GROUP_OWN, &f.dev), 0);
	f.iova = 4 * SZ_1G;
	f.rounds = 3 * 600;
	assert_int_equal(pthread_create(&t, NULL, first_reader, &f), 0);
	for (r = 0; r < f.rounds; r++) {
		struct ap_translation tr;
		char name[16];
		uint64_t got = 0;

		k = r % 3;
		snprintf(name, sizeof(name), "f%u", r);
		assert_int_equal(ap_domain_new(ctx, name, iommu, AP_DOMAIN_PAGING, &dom), 0);
		assert_int_equal(ap_map(dom, f.iova, FAKE_PA, sizes[k], RW), 0);
		if (old) {
			assert_int_equal(ap_detach(f.dev), 0);
			assert_int_equal(ap_domain_free(old), 0);
		}
		assert_int_equal(ap_attach(dom, f.dev), 0);
		old = dom;
		first_barrier(&f);
		assert_int_equal(ap_unmap(dom, f.iova, sizes[k], &got), 0);
		assert_int_equal(got, sizes[k]);
		first_barrier(&f);
		stale += ap_translate(f.dev, f.iova + (r & 7) * 8, AP_ACCESS_READ, &tr, NULL) == 0;
	}
	pthread_join(t, NULL);
	assert_int_equal(stale, 0);
	ap_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stale_4k),
		cmocka_unit_test(test_stale_2m),
		cmocka_unit_test(test_stale_1g),
		cmocka_unit_test(test_parallel_disjoint_writers),
		cmocka_unit_test(test_rollback_beside_writer),
		cmocka_unit_test(test_replace_while_translating),
		cmocka_unit_test(test_ram_remove_beside_dma),
		cmocka_unit_test(test_ram_growth_beside_dma),
		cmocka_unit_test(test_map_from_observer_beside_rollback),
		cmocka_unit_test(test_detach_waits_for_dma_on_shared_attachment),
		cmocka_unit_test(test_lost_table_race_keeps_nothing),
		cmocka_unit_test(test_first_fill_beside_unmap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
