/* SPDX-License-Identifier: MIT */
/*
 * bench/bench.c - aperture's benchmark suite, on the public API only.
 *
 * What it measures, each figure the median of several timed runs after a
 * warm-up that also calibrates the iteration count:
 *
 *   iotlb        the IOTLB and threads: a translation that hits, against one
 *                L1-resident load; a miss (a full walk, no IOTLB) for each
 *                table depth; translations on 1 and 2 threads; 4K map+unmap
 *                pairs on 1 and 2 threads over disjoint ranges of one
 *                attached domain (strict invalidation included).
 *   translate    ap_translate() on pre-generated random addresses inside a
 *                domain's mapped range (4K pages, small and large sets, and
 *                2M blocks), against two baselines over the same address
 *                stream: a sorted-array binary search of the same mappings
 *                (an "interval map" model) and one L1-resident load.
 *   map/unmap    4K map+unmap pairs cycling through many addresses; 4K and
 *                2M maps and unmaps in batches, timed separately.
 *   table bytes  table memory per mapped 4K page, and context memory
 *                (ap_ctx_mem_stats) per mapping.
 *   DMA copy     ap_dma_read/ap_dma_write of 64 B .. 2 MiB through 4K pages
 *                and through 2M blocks, against memcpy of the same bytes.
 *   formats      the page-table layer alone (ap_pt_*, no context, no device)
 *                for each format and granule: map and unmap of the smallest
 *                page one call each, ap_pt_walk of random mapped addresses
 *                (against the 4K stage-1 walk and the binary search of the
 *                same leaves), and map/unmap of the largest block.
 *   devices      ap_device_new() of 1k, 10k and 100k devices behind one
 *                instance, each in a group of its own (no group number
 *                given: the lowest free one), time per device at each
 *                count; the three should match (each add is O(1) expected).
 *   vfio         VFIO_IOMMU_MAP_DMA/UNMAP_DMA of the caller's own memory
 *                (mmap'd; 4K, 2M and 1G pieces) through a TYPE1v2 container
 *                holding one arm-smmu-v3 group: N maps then N unmaps, and
 *                map+unmap pairs at one IOVA, against ap_map/ap_unmap of the
 *                same sizes on a plain paging domain.
 *   vfio-scale   VFIO with hundreds of thousands of mappings: the cost of one
 *                MAP_DMA at 1k and at 256k live mappings, and one UNMAP_DMA
 *                of them all (bench/vfio_scale.c).
 *   virtio       virtio-iommu MAP+UNMAP request round trips through the
 *                request queue (a guest driver's rings in guest RAM, one
 *                notify per request and both in one notify), against
 *                ap_map+ap_unmap of the same sizes on the same domain.
 *
 * Results are accumulated into a volatile sink so that no work is optimised
 * away; every measured answer is checked once before it is timed.
 */
#include "bench.h"

#include <aperture/aperture.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_iommu.h>
#include <linux/virtio_ring.h>

#define SZ_4K (1ull << 12)
#define SZ_2M (1ull << 21)
#define PROT_RW (AP_PROT_READ | AP_PROT_WRITE)
#define MAX_RUNS 15

/* Addresses the benchmarks use.  Tables live in the context's default
 * window (256 MiB below 4 GiB); DMA RAM sits above it. */
#define IOVA_4K_SMALL 0x0040000000ull   /* 1 GiB */
#define IOVA_4K_LARGE 0x0100000000ull   /* 4 GiB */
#define IOVA_2M 0x8000000000ull         /* 512 GiB */
#define PA_MAPPED 0x2000000000ull       /* 128 GiB: not RAM, translate only */
#define DMA_RAM_PA 0x100000000ull       /* 4 GiB */
#define DMA_RAM_SIZE (64ull << 20)
#define DMA_IOVA_4K 0x10000000ull
#define DMA_IOVA_2M 0x40000000ull
#define GOLDEN 0x9E3779B1ull            /* odd, and prime to 10^6 */

/* Keep the compiler from dropping or merging a copy into p. */
#define CLOBBER(p) __asm__ __volatile__("" : : "r"(p) : "memory")

enum section {
	SEC_TRANSLATE = 1u << 0,
	SEC_MAP = 1u << 1,
	SEC_TABLE = 1u << 2,
	SEC_DMA = 1u << 3,
	SEC_FORMATS = 1u << 4,
	SEC_VFIO = 1u << 5,
	SEC_IOTLB = 1u << 6,
	SEC_VIRTIO = 1u << 7,
	SEC_VFIO_SCALE = 1u << 8,
	SEC_DEVICES = 1u << 9,
	SEC_ALL = (1u << 10) - 1,
};

static const char *const section_names[] = { "translate", "map", "table", "dma", "formats",
					      "vfio", "iotlb", "virtio", "vfio-scale", "devices" };

/* One figure, for --json: what the text report prints, as numbers. */
struct figure {
	const char *section;
	char name[96];
	double value;
	const char *unit;
};

#define MAX_FIGURES 256

struct bench {
	FILE *out;          /* the text report (/dev/null with --json) */
	FILE *json;         /* --json: where the document goes, else NULL */
	const char *section; /* the section running, for figures */
	struct figure fig[MAX_FIGURES];
	int nfig;
	unsigned sections; /* enum section */
	bool quick;
	uint64_t seed;
	uint64_t target_ns; /* length of one timed run */
	int runs;           /* timed runs per figure (odd) */
	volatile uint64_t sink;
	int failures;
};

/* Record a figure for --json (the text report prints it itself). */
static void figure(struct bench *b, const char *name, double value, const char *unit)
{
	if (b->nfig < MAX_FIGURES) {
		b->fig[b->nfig] = (struct figure){ b->section, "", value, unit };
		snprintf(b->fig[b->nfig].name, sizeof(b->fig[b->nfig].name), "%s", name);
	}
	b->nfig++;
}

/* figure() for the sections in files of their own (ap_bench_figure_fn). */
static void figure_cb(void *arg, const char *name, double value, const char *unit)
{
	figure(arg, name, value, unit);
}

/* One measured operation: do it `iters` times, return a checksum. */
typedef uint64_t (*bench_fn)(void *arg, uint64_t iters);

/* ------------------------------------------------------------ helpers */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* A permutation of 0..n-1 (GOLDEN is prime to every n used here), so that
 * consecutive IOVA pages land on scattered physical pages. */
static uint64_t scatter(uint64_t i, uint64_t n)
{
	return (i * GOLDEN) % n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void *xmalloc(size_t size)
{
	void *p = malloc(size);

	if (!p) {
		fprintf(stderr, "ap-bench: out of memory (%zu bytes)\n", size);
		exit(1);
	}
	return p;
}

static int fail(struct bench *b, const char *fmt_what, const char *detail)
{
	fprintf(stderr, "ap-bench: %s%s%s\n", fmt_what, detail ? ": " : "",
		detail ? detail : "");
	b->failures++;
	return -1;
}

/* A library call that must succeed during setup. */
static int need(struct bench *b, struct ap_ctx *ctx, int err, const char *what)
{
	char msg[160];

	if (!err)
		return 0;
	snprintf(msg, sizeof(msg), "%s failed (%s)", what, strerror(-err));
	return fail(b, msg, ctx ? ap_ctx_error(ctx) : NULL);
}

/*
 * Median time of one iteration in ns.  Warm-up doubles the count until a
 * run lasts target_ns (that also brings caches, tables and branch
 * predictors to steady state), then `runs` timed runs of that count.
 */
/* Iterations of fn that take about the run time asked for. */
static uint64_t calibrate(struct bench *b, bench_fn fn, void *arg)
{
	uint64_t iters = 1, t;

	for (;;) {
		t = now_ns();
		b->sink += fn(arg, iters);
		t = now_ns() - t;
		if (t >= b->target_ns || iters >= (1ull << 40))
			return iters;
		if (t < b->target_ns / 64)
			iters *= 8;
		else
			iters *= 2;
	}
}

/* One timed run of fn, per iteration. */
static double time_run(struct bench *b, bench_fn fn, void *arg, uint64_t iters)
{
	uint64_t t = now_ns();

	b->sink += fn(arg, iters);
	t = now_ns() - t;
	return (double)t / (double)iters;
}

static double measure(struct bench *b, bench_fn fn, void *arg)
{
	double samples[MAX_RUNS];
	uint64_t iters = calibrate(b, fn, arg);
	int r;

	for (r = 0; r < b->runs; r++)
		samples[r] = time_run(b, fn, arg, iters);
	return median(samples, b->runs);
}

/*
 * What fn costs per iteration beyond base: the two timed alternately,
 * EXCESS_ROUNDS x runs rounds, and the median of each round's difference
 * (*t: the median of fn's own times).  Alternation cancels the drift of a
 * shared machine's speed, which two medians taken one after the other
 * do not: a difference of a few ns needs that.
 */
#define EXCESS_ROUNDS 3

static double measure_excess(struct bench *b, bench_fn base, void *base_arg, bench_fn fn,
			     void *arg, double *t)
{
	double diff[EXCESS_ROUNDS * MAX_RUNS], own[EXCESS_ROUNDS * MAX_RUNS];
	uint64_t n_base = calibrate(b, base, base_arg), n = calibrate(b, fn, arg);
	int r, rounds = EXCESS_ROUNDS * b->runs;

	for (r = 0; r < rounds; r++) {
		double t_base = time_run(b, base, base_arg, n_base);

		own[r] = time_run(b, fn, arg, n);
		diff[r] = own[r] - t_base;
	}
	*t = median(own, rounds);
	return median(diff, rounds);
}

/* A context with one 48-bit SMMUv3 instance (4K|2M|1G, stage 1). */
static struct ap_ctx *machine(struct bench *b, struct ap_iommu **iommu)
{
	struct ap_iommu_config cfg;
	struct ap_ctx *ctx = ap_ctx_new();

	if (!ctx) {
		fail(b, "ap_ctx_new failed", NULL);
		return NULL;
	}
	ap_iommu_config_init(&cfg, AP_IOMMU_ARM_SMMU_V3);
	if (need(b, ctx, ap_iommu_new(ctx, "smmu0", &cfg, iommu), "ap_iommu_new")) {
		ap_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

/* A paging domain attached to a new device with stream `sid`. */
static int domain_with_device(struct bench *b, struct ap_ctx *ctx, struct ap_iommu *iommu,
			      const char *name, uint32_t sid, struct ap_domain **dom,
			      struct ap_device **dev)
{
	char dname[32];

	snprintf(dname, sizeof(dname), "dev-%s", name);
	if (need(b, ctx, ap_domain_new(ctx, name, iommu, AP_DOMAIN_PAGING, dom),
		 "ap_domain_new") ||
	    need(b, ctx, ap_device_new(ctx, dname, iommu, sid, AP_GROUP_OWN, dev),
		 "ap_device_new") ||
	    need(b, ctx, ap_attach(*dom, *dev), "ap_attach"))
		return -1;
	return 0;
}

/* ------------------------------------------------------------ machine */

static void print_machine(struct bench *b)
{
	char line[512], model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *colon = strchr(line, ':');

			if (!colon || (strncmp(line, "model name", 10) &&
				       strncmp(line, "Processor", 9)))
				continue;
			colon++;
			while (*colon == ' ' || *colon == '\t')
				colon++;
			colon[strcspn(colon, "\n")] = '\0';
			snprintf(model, sizeof(model), "%s", colon);
			break;
		}
		fclose(f);
	}
	fprintf(b->out, "aperture %s benchmarks%s\n", AP_VERSION_STRING,
		b->quick ? " (--quick: small counts, rough figures)" : "");
	fprintf(b->out, "machine: %s, %ld online CPU(s)", model, sysconf(_SC_NPROCESSORS_ONLN));
	f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fgets(line, sizeof(line), f)) {
			line[strcspn(line, " ")] = '\0';
			fprintf(b->out, ", load average %s at start", line);
		}
		fclose(f);
	}
	fputc('\n', b->out);
#ifdef __VERSION__
	fprintf(b->out, "compiler: %s\n", __VERSION__);
#endif
	fprintf(b->out, "seed %" PRIu64 "; each figure is the median of %d runs of >= %.0f ms\n",
		b->seed, b->runs, (double)b->target_ns / 1e6);
}

/* ------------------------------------------------------------ translate */

/* One mapping of the interval-map model. */
struct ival {
	uint64_t iova, size, pa;
};

struct xlate_set {
	const char *label;
	struct ap_device *dev;
	struct ival *iv;   /* sorted by iova */
	size_t niv;
	uint64_t *addr;    /* pre-generated random IOVAs */
	uint64_t *expect;  /* their physical addresses */
	size_t naddr;      /* a power of two */
	const uint64_t *l1; /* 4 KiB table for the load baseline */
	size_t pos;
	uint64_t errors;
};

static uint64_t run_translate(void *arg, uint64_t iters)
{
	struct xlate_set *s = arg;
	size_t pos = s->pos, mask = s->naddr - 1;
	uint64_t acc = 0, i;

	for (i = 0; i < iters; i++) {
		struct ap_translation t;

		if (ap_translate(s->dev, s->addr[pos], AP_ACCESS_READ, &t, NULL))
			s->errors++;
		else
			acc += t.pa;
		pos = (pos + 1) & mask;
	}
	s->pos = pos;
	return acc;
}

/* The same stream through ap_translate_batch(), BATCH addresses a call
 * (the last call the rest of iters; naddr is a multiple of BATCH, and a
 * batch starts at one). */
#define BATCH 64

static uint64_t run_translate_batch(void *arg, uint64_t iters)
{
	struct xlate_set *s = arg;
	size_t pos = s->pos & ~(size_t)(BATCH - 1), mask = s->naddr - 1, done, k;
	struct ap_translation t[BATCH];
	uint64_t acc = 0, i;

	for (i = 0; i < iters; i += BATCH) {
		size_t n = iters - i < BATCH ? (size_t)(iters - i) : BATCH;

		if (ap_translate_batch(s->dev, &s->addr[pos], n, AP_ACCESS_READ, t, &done, NULL))
			s->errors++;
		for (k = 0; k < done; k++)
			acc += t[k].pa;
		pos = (pos + BATCH) & mask;
	}
	s->pos = pos;
	return acc;
}

static inline bool ival_lookup(const struct ival *iv, size_t n, uint64_t x, uint64_t *pa)
{
	size_t lo = 0, hi = n;

	if (!n || x < iv[0].iova)
		return false;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (iv[mid].iova <= x)
			lo = mid;
		else
			hi = mid;
	}
	if (x - iv[lo].iova >= iv[lo].size)
		return false;
	*pa = iv[lo].pa + (x - iv[lo].iova);
	return true;
}

static uint64_t run_ival(void *arg, uint64_t iters)
{
	struct xlate_set *s = arg;
	size_t pos = s->pos, mask = s->naddr - 1;
	uint64_t acc = 0, i, pa;

	for (i = 0; i < iters; i++) {
		if (ival_lookup(s->iv, s->niv, s->addr[pos], &pa))
			acc += pa;
		else
			s->errors++;
		pos = (pos + 1) & mask;
	}
	s->pos = pos;
	return acc;
}

static uint64_t run_l1(void *arg, uint64_t iters)
{
	struct xlate_set *s = arg;
	size_t pos = s->pos, mask = s->naddr - 1;
	uint64_t acc = 0, i;

	for (i = 0; i < iters; i++) {
		acc += s->l1[(s->addr[pos] >> 12) & 511];
		pos = (pos + 1) & mask;
	}
	s->pos = pos;
	return acc;
}

/* The interval model of n pages of pgsize at iova, page i at PA_MAPPED +
 * scatter(i) pages, and s->naddr random addresses inside them. */
static void model_setup(struct xlate_set *s, uint64_t iova, uint64_t pgsize, uint64_t n,
			uint64_t *rng)
{
	uint64_t i;

	s->iv = xmalloc(n * sizeof(*s->iv));
	s->niv = n;
	for (i = 0; i < n; i++)
		s->iv[i] = (struct ival){ iova + i * pgsize, pgsize,
					  PA_MAPPED + scatter(i, n) * pgsize };
	s->addr = xmalloc(s->naddr * sizeof(*s->addr));
	s->expect = xmalloc(s->naddr * sizeof(*s->expect));
	for (i = 0; i < s->naddr; i++) {
		uint64_t r = splitmix64(rng);
		uint64_t page = (r >> 20) % n, off = r & (pgsize - 1);

		s->addr[i] = iova + page * pgsize + off;
		s->expect[i] = PA_MAPPED + scatter(page, n) * pgsize + off;
	}
}

/* The model, then its pages mapped into dom, one ap_map() each. */
static int xlate_setup(struct bench *b, struct ap_ctx *ctx, struct ap_domain *dom,
		       struct xlate_set *s, uint64_t iova, uint64_t pgsize, uint64_t n,
		       uint64_t *rng)
{
	uint64_t i;

	model_setup(s, iova, pgsize, n, rng);
	for (i = 0; i < n; i++)
		if (need(b, ctx, ap_map(dom, s->iv[i].iova, s->iv[i].pa, pgsize, PROT_RW),
			 "ap_map"))
			return -1;
	return 0;
}

/* Every answer of both lookups, once, before any timing. */
static int xlate_check(struct bench *b, struct xlate_set *s, uint64_t past_end)
{
	struct ap_translation t = { 0 };
	struct ap_fault f;
	uint64_t pa;
	size_t i;

	for (i = 0; i < s->naddr; i++) {
		if (ap_translate(s->dev, s->addr[i], AP_ACCESS_READ, &t, NULL) ||
		    t.pa != s->expect[i] || t.bypass) {
			fprintf(stderr, "ap-bench: translate %s: iova 0x%" PRIx64
				" gave 0x%" PRIx64 ", expected 0x%" PRIx64 "\n",
				s->label, s->addr[i], t.pa, s->expect[i]);
			b->failures++;
			return -1;
		}
		if (!ival_lookup(s->iv, s->niv, s->addr[i], &pa) || pa != s->expect[i])
			return fail(b, "interval-map model gave a wrong answer", s->label);
	}
	if (ap_translate(s->dev, past_end, AP_ACCESS_READ, &t, &f) != -EFAULT ||
	    f.kind != AP_FAULT_TRANSLATION)
		return fail(b, "translate of an unmapped IOVA did not fault", s->label);
	return 0;
}

static void xlate_free(struct xlate_set *s)
{
	free(s->iv);
	free(s->addr);
	free(s->expect);
}

static int bench_translate(struct bench *b)
{
	struct {
		const char *label;
		uint64_t iova, pgsize, n;
	} sets[3] = {
		{ "4K pages, 4096 mapped", IOVA_4K_SMALL, SZ_4K, 4096 },
		{ "4K pages, 262144 mapped", IOVA_4K_LARGE, SZ_4K, 262144 },
		{ "2M blocks, 512 mapped", IOVA_2M, SZ_2M, 512 },
	};
	static const char *const names[3] = { "x4k-small", "x4k-large", "x2m" };
	uint64_t rng = b->seed, *l1 = xmalloc(512 * sizeof(*l1));
	char name[96];
	struct ap_iommu *iommu;
	struct ap_ctx *ctx = machine(b, &iommu);
	int i, err = 0;

	if (!ctx) {
		free(l1);
		return -1;
	}
	if (b->quick) {
		sets[1].n = 32768;
		sets[1].label = "4K pages, 32768 mapped";
	}
	for (i = 0; i < 512; i++)
		l1[i] = splitmix64(&rng);
	fprintf(b->out, "\ntranslate (ap_translate, read access, random IOVA inside the mapped range;\n"
		"  interval map = binary search of a sorted array of the same mappings;\n"
		"  L1 load = one load from a 4 KiB table per address, same address stream)\n");
	fprintf(b->out, "  %-26s %10s %14s %8s %10s %8s\n", "mappings", "ns/op",
		"interval ns/op", "ratio", "L1 ns/op", "ratio");
	for (i = 0; i < 3 && !err; i++) {
		struct xlate_set s = { 0 };
		struct ap_domain *dom;
		double t_x, t_iv, t_l1;

		s.label = sets[i].label;
		s.l1 = l1;
		s.naddr = b->quick ? 1u << 14 : 1u << 16;
		err = domain_with_device(b, ctx, iommu, names[i], (uint32_t)i + 1, &dom, &s.dev);
		if (!err)
			err = xlate_setup(b, ctx, dom, &s, sets[i].iova, sets[i].pgsize,
					  sets[i].n, &rng);
		if (!err)
			err = xlate_check(b, &s, sets[i].iova + sets[i].n * sets[i].pgsize);
		if (!err) {
			t_x = measure(b, run_translate, &s);
			t_iv = measure(b, run_ival, &s);
			t_l1 = measure(b, run_l1, &s);
			if (s.errors)
				err = fail(b, "a timed lookup failed", s.label);
			fprintf(b->out, "  %-26s %10.1f %14.1f %7.1fx %10.2f %7.0fx\n", s.label, t_x,
				t_iv, t_x / t_iv, t_l1, t_x / t_l1);
			snprintf(name, sizeof(name), "%s: ap_translate", s.label);
			figure(b, name, t_x, "ns/op");
			snprintf(name, sizeof(name), "%s: interval-map search", s.label);
			figure(b, name, t_iv, "ns/op");
			snprintf(name, sizeof(name), "%s: L1 load", s.label);
			figure(b, name, t_l1, "ns/op");
		}
		xlate_free(&s);
	}
	free(l1);
	ap_ctx_free(ctx);
	return err;
}

/* 4K map+unmap pairs cycling through n addresses (also the threads' work). */
struct mu_state {
	struct ap_domain *dom;
	uint64_t iova, pa, n; /* n: addresses cycled through, a power of two */
	uint64_t pos;
	uint64_t errors;
};

static uint64_t run_map_unmap(void *arg, uint64_t iters)
{
	struct mu_state *m = arg;
	uint64_t pos = m->pos, acc = 0, i;

	for (i = 0; i < iters; i++) {
		uint64_t iova = m->iova + pos * SZ_4K, got = 0;

		if (ap_map(m->dom, iova, m->pa + pos * SZ_4K, SZ_4K, PROT_RW) ||
		    ap_unmap(m->dom, iova, SZ_4K, &got) || got != SZ_4K)
			m->errors++;
		acc += got;
		pos = (pos + 1) & (m->n - 1);
	}
	m->pos = pos;
	return acc;
}

/* ------------------------------------------------------------ IOTLB and threads */

#define HIT_PAGES 64 /* a working set every IOTLB here holds */
#define THREAD_MS_FULL 400
#define THREAD_MS_QUICK 40

/* A context with one instance of `kind`, `ias` bits and an IOTLB of
 * `entries` (0: none), a paging domain and a device on it. */
static struct ap_ctx *iotlb_machine(struct bench *b, enum ap_iommu_kind kind, unsigned ias,
				    unsigned entries, struct ap_domain **dom,
				    struct ap_device **dev)
{
	struct ap_iommu_config cfg;
	struct ap_iommu *iommu;
	struct ap_ctx *ctx = ap_ctx_new();

	if (!ctx) {
		fail(b, "ap_ctx_new failed", NULL);
		return NULL;
	}
	ap_iommu_config_init(&cfg, kind);
	cfg.ias = ias;
	if (kind == AP_IOMMU_INTEL_VTD)
		cfg.vtd.sagaw = ias <= 39 ? 2 : ias <= 48 ? 4 : 8;
	cfg.iotlb_entries = entries;
	if (need(b, ctx, ap_iommu_new(ctx, "mmu", &cfg, &iommu), "ap_iommu_new") ||
	    domain_with_device(b, ctx, iommu, "d", 1, dom, dev)) {
		ap_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

/* The translate set of n 4K pages at IOVA_4K_SMALL, checked. */
static int iotlb_set(struct bench *b, struct ap_ctx *ctx, struct ap_domain *dom,
		     struct ap_device *dev, struct xlate_set *s, uint64_t n, const uint64_t *l1,
		     uint64_t *rng, const char *label)
{
	memset(s, 0, sizeof(*s));
	s->label = label;
	s->dev = dev;
	s->l1 = l1;
	s->naddr = b->quick ? 1u << 12 : 1u << 14;
	if (xlate_setup(b, ctx, dom, s, IOVA_4K_SMALL, SZ_4K, n, rng))
		return -1;
	return xlate_check(b, s, IOVA_4K_SMALL + n * SZ_4K);
}

/* 64-byte DMA reads or writes (`write`) through the hit set's pages, on
 * the same page stream as run_translate(); page n's DMA is the n-th 64
 * bytes of it (modulo 64), so that the bytes moved are 64 lines on 64
 * different L1 sets: the figure is the DMA's own cost, not that of
 * bringing RAM into the cache, which no IOMMU can change. */
struct dma64_state {
	struct xlate_set *s;
	bool write;
	uint8_t buf[64];
};

static uint64_t run_dma64(void *arg, uint64_t iters)
{
	struct dma64_state *d = arg;
	struct xlate_set *s = d->s;
	size_t pos = s->pos, mask = s->naddr - 1;
	uint64_t acc = 0, i;

	for (i = 0; i < iters; i++) {
		uint64_t iova = (s->addr[pos] & ~(SZ_4K - 1)) | ((s->addr[pos] >> 12) & 63) << 6;
		int err = d->write ? ap_dma_write(s->dev, iova, d->buf, 64, NULL) :
				     ap_dma_read(s->dev, iova, d->buf, 64, NULL);

		s->errors += err != 0;
		CLOBBER(d->buf);
		acc += d->buf[i & 63];
		pos = (pos + 1) & mask;
	}
	s->pos = pos;
	return acc;
}

/* The hit set's pages backed by RAM, and 64 B DMAs through them measured
 * against the hit itself, alternately: what a DMA costs beyond its
 * translation. */
static int dma_beside_hit(struct bench *b, struct ap_ctx *ctx, struct xlate_set *s)
{
	struct dma64_state rd = { .s = s }, wr = { .s = s, .write = true };
	double t_rd, t_wr, x_rd, x_wr;
	void *host;

	if (need(b, ctx, ap_ram_alloc(ctx, PA_MAPPED, HIT_PAGES * SZ_4K, &host), "ap_ram_alloc"))
		return -1;
	x_rd = measure_excess(b, run_translate, s, run_dma64, &rd, &t_rd);
	x_wr = measure_excess(b, run_translate, s, run_dma64, &wr, &t_wr);
	if (s->errors)
		return fail(b, "a timed 64 B DMA failed", NULL);
	figure(b, "64 B DMA read through a hit", t_rd, "ns/op");
	figure(b, "64 B DMA write through a hit", t_wr, "ns/op");
	figure(b, "64 B DMA read through a hit: excess over the hit", x_rd, "ns/op");
	figure(b, "64 B DMA write through a hit: excess over the hit", x_wr, "ns/op");
	fprintf(b->out, "  64 B DMA through a hit: read %6.2f ns/op (+%.2f), write %6.2f ns/op "
		"(+%.2f) over the hit, alternated   (target <= +3 ns)\n", t_rd, x_rd, t_wr, x_wr);
	return 0;
}

/* Hits: HIT_PAGES pages, every translation after the first round hits. */
static int iotlb_hit(struct bench *b, const uint64_t *l1, uint64_t *rng)
{
	struct ap_domain *dom;
	struct ap_device *dev;
	struct xlate_set s;
	struct ap_iotlb_stats st;
	struct ap_ctx *ctx = iotlb_machine(b, AP_IOMMU_ARM_SMMU_V3, 48, AP_IOTLB_DEFAULT_ENTRIES,
					   &dom, &dev);
	double t_hit, t_batch, t_l1;
	int err;

	if (!ctx)
		return -1;
	err = iotlb_set(b, ctx, dom, dev, &s, HIT_PAGES, l1, rng, "hit");
	if (!err) {
		t_hit = measure(b, run_translate, &s);
		t_batch = measure(b, run_translate_batch, &s);
		t_l1 = measure(b, run_l1, &s);
		ap_iommu_iotlb_stats(ap_iommu_find(ctx, "mmu"), &st);
		if (s.errors || st.hits < 10 * st.walks)
			err = fail(b, "the hit benchmark did not hit", NULL);
		figure(b, "IOTLB hit", t_hit, "ns/op");
		figure(b, "IOTLB hit, batch of 64", t_batch, "ns/op");
		figure(b, "IOTLB hit: L1 load", t_l1, "ns/op");
		fprintf(b->out, "  IOTLB hit (%d pages, 4K)        %8.2f ns/op   L1 load %5.2f ns/op"
			"   ratio %5.1fx   (%.4f%% walks)\n", HIT_PAGES, t_hit, t_l1, t_hit / t_l1,
			100.0 * (double)st.walks / (double)(st.hits + st.walks));
		fprintf(b->out, "  IOTLB hit, ap_translate_batch of %d %6.2f ns/op   L1 load %5.2f ns/op"
			"   ratio %5.1fx   (target <= 5x)\n", BATCH, t_batch, t_l1, t_batch / t_l1);
		if (!err)
			err = dma_beside_hit(b, ctx, &s);
	}
	xlate_free(&s);
	ap_ctx_free(ctx);
	return err;
}

/* Misses: no IOTLB, so every translation is a full walk, for each depth. */
static int iotlb_miss(struct bench *b, const uint64_t *l1, uint64_t *rng)
{
	static const struct {
		const char *label;
		enum ap_iommu_kind kind;
		unsigned ias, levels;
	} cases[] = {
		{ "SMMU S1 4K, 39-bit", AP_IOMMU_ARM_SMMU_V3, 39, 3 },
		{ "SMMU S1 4K, 48-bit", AP_IOMMU_ARM_SMMU_V3, 48, 4 },
		{ "VT-d, 39-bit", AP_IOMMU_INTEL_VTD, 39, 3 },
		{ "VT-d, 48-bit", AP_IOMMU_INTEL_VTD, 48, 4 },
		{ "VT-d, 57-bit", AP_IOMMU_INTEL_VTD, 57, 5 },
	};
	char name[96];
	unsigned i;
	int err = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]) && !err; i++) {
		struct ap_domain *dom;
		struct ap_device *dev;
		struct xlate_set s;
		struct ap_ctx *ctx = iotlb_machine(b, cases[i].kind, cases[i].ias, 0, &dom, &dev);
		double t_walk, t_l1;

		if (!ctx)
			return -1;
		err = iotlb_set(b, ctx, dom, dev, &s, 4096, l1, rng, cases[i].label);
		if (!err) {
			t_walk = measure(b, run_translate, &s);
			t_l1 = measure(b, run_l1, &s);
			if (s.errors)
				err = fail(b, "a timed walk failed", cases[i].label);
			snprintf(name, sizeof(name), "miss, %u-level walk: %s", cases[i].levels,
				 cases[i].label);
			figure(b, name, t_walk, "ns/op");
			fprintf(b->out, "  miss, %u-level walk: %-20s %7.2f ns/op   ratio to L1 "
				"%5.1fx\n", cases[i].levels, cases[i].label, t_walk, t_walk / t_l1);
		}
		xlate_free(&s);
		ap_ctx_free(ctx);
	}
	return err;
}

/* Threads that each run one operation in a loop until told to stop. */
struct worker {
	pthread_t tid;
	const int *stop;
	uint64_t (*fn)(void *arg, uint64_t iters);
	void *arg;
	uint64_t ops, sink;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (!__atomic_load_n(w->stop, __ATOMIC_ACQUIRE)) {
		w->sink += w->fn(w->arg, 256);
		w->ops += 256;
	}
	return NULL;
}

/* Operations per second of `nthreads` workers running fn(args[i]) for the
 * bench's thread time; -1 if a thread cannot start. */
static double throughput(struct bench *b, unsigned nthreads,
			 uint64_t (*fn)(void *arg, uint64_t iters), void **args)
{
	struct worker w[2];
	int stop = 0;
	uint64_t t0, ops = 0;
	unsigned i;

	for (i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ .stop = &stop, .fn = fn, .arg = args[i] };
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i])) {
			__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
			while (i--)
				pthread_join(w[i].tid, NULL);
			return -1;
		}
	}
	t0 = now_ns();
	while (now_ns() - t0 < (b->quick ? THREAD_MS_QUICK : THREAD_MS_FULL) * 1000000ull)
		usleep(1000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		ops += w[i].ops;
		b->sink += w[i].sink;
	}
	return (double)ops * 1e9 / (double)(now_ns() - t0);
}

/* The best of three runs: threads scale only when the machine lets them. */
static double best_throughput(struct bench *b, unsigned nthreads,
			      uint64_t (*fn)(void *arg, uint64_t iters), void **args)
{
	double best = 0;
	int r;

	for (r = 0; r < 3; r++) {
		double t = throughput(b, nthreads, fn, args);

		if (t < 0)
			return t;
		if (t > best)
			best = t;
	}
	return best;
}

/* Translations (hits) on one and two threads, each its own address stream
 * over the same domain. */
static int iotlb_scaling(struct bench *b, const uint64_t *l1, uint64_t *rng)
{
	struct ap_domain *dom;
	struct ap_device *dev;
	struct xlate_set s[2];
	void *args[2] = { &s[0], &s[1] };
	struct ap_ctx *ctx = iotlb_machine(b, AP_IOMMU_ARM_SMMU_V3, 48, AP_IOTLB_DEFAULT_ENTRIES,
					   &dom, &dev);
	double one, two;
	int err;

	if (!ctx)
		return -1;
	err = iotlb_set(b, ctx, dom, dev, &s[0], HIT_PAGES, l1, rng, "thread 0");
	s[1] = s[0];
	s[1].pos = s[0].naddr / 2;
	if (!err) {
		one = best_throughput(b, 1, run_translate, args);
		two = best_throughput(b, 2, run_translate, args);
		if (one < 0 || two < 0 || s[0].errors || s[1].errors)
			err = fail(b, "the translate threads failed", NULL);
		figure(b, "translate (hits), 1 thread", one, "ops/s");
		figure(b, "translate (hits), 2 threads", two, "ops/s");
		fprintf(b->out, "  translate (hits), 1 thread %8.1f M/s   2 threads %8.1f M/s"
			"   scaling %4.2fx\n", one / 1e6, two / 1e6, two / one);
	}
	xlate_free(&s[0]);
	ap_ctx_free(ctx);
	return err;
}

/* 4K map+unmap pairs on 1 and 2 threads, each over a range of its own in
 * one attached domain; the ranges share their upper tables. */
static int iotlb_map_scaling(struct bench *b)
{
	struct ap_domain *dom;
	struct ap_device *dev;
	struct mu_state mu[2];
	void *args[2] = { &mu[0], &mu[1] };
	struct ap_ctx *ctx = iotlb_machine(b, AP_IOMMU_ARM_SMMU_V3, 48, AP_IOTLB_DEFAULT_ENTRIES,
					   &dom, &dev);
	double one, two;
	unsigned i;
	int err = 0;

	if (!ctx)
		return -1;
	for (i = 0; i < 2; i++)
		mu[i] = (struct mu_state){ .dom = dom, .iova = IOVA_4K_SMALL + i * SZ_2M * 64,
					   .pa = PA_MAPPED + i * SZ_2M * 64, .n = 4096 };
	one = best_throughput(b, 1, run_map_unmap, args);
	two = best_throughput(b, 2, run_map_unmap, args);
	if (one < 0 || two < 0 || mu[0].errors || mu[1].errors)
		err = fail(b, "the map/unmap threads failed", NULL);
	figure(b, "4K map+unmap, 1 thread", one, "pairs/s");
	figure(b, "4K map+unmap, 2 threads", two, "pairs/s");
	fprintf(b->out, "  4K map+unmap, 1 thread %8.2f M pairs/s   2 threads %8.2f M pairs/s"
		"   scaling %4.2fx\n", one / 1e6, two / 1e6, two / one);
	ap_ctx_free(ctx);
	return err;
}

static int bench_iotlb(struct bench *b)
{
	uint64_t rng = b->seed ^ 0x107b, *l1 = xmalloc(512 * sizeof(*l1));
	int i, err;

	for (i = 0; i < 512; i++)
		l1[i] = splitmix64(&rng);
	fprintf(b->out, "\nIOTLB and threads (ap_translate, read access; L1 load = one load from a\n"
		"  4 KiB table per address, same address stream; threads: ops/s over %d ms,\n"
		"  best of 3, on this %ld-CPU machine)\n",
		b->quick ? THREAD_MS_QUICK : THREAD_MS_FULL, sysconf(_SC_NPROCESSORS_ONLN));
	err = iotlb_hit(b, l1, &rng);
	if (!err)
		err = iotlb_miss(b, l1, &rng);
	if (!err)
		err = iotlb_scaling(b, l1, &rng);
	if (!err)
		err = iotlb_map_scaling(b);
	free(l1);
	return err;
}

/* ------------------------------------------------------------ map/unmap */


/*
 * n maps of pgsize (one ap_map each, consecutive IOVAs, scattered PAs),
 * then n unmaps, timed separately; one warm-up round, then b->runs rounds.
 * With dom NULL, the same at the page-table layer: one ap_pt_map_pages and
 * one ap_pt_unmap_pages of one page each, on pt.
 */
static int batch(struct bench *b, struct ap_domain *dom, struct ap_pt *pt, uint64_t iova,
		 uint64_t pgsize, uint64_t n, double *map_ns, double *unmap_ns)
{
	double ms[MAX_RUNS], us[MAX_RUNS];
	uint64_t i, t, got;
	int r;

	for (r = -1; r < b->runs; r++) {
		uint64_t bad = 0;

		t = now_ns();
		for (i = 0; i < n; i++) {
			uint64_t pa = PA_MAPPED + scatter(i, n) * pgsize;

			if (dom)
				bad += ap_map(dom, iova + i * pgsize, pa, pgsize, PROT_RW) != 0;
			else
				bad += ap_pt_map_pages(pt, iova + i * pgsize, pa, pgsize, 1,
						       PROT_RW, NULL) != 0;
		}
		t = now_ns() - t;
		if (r >= 0)
			ms[r] = (double)t / (double)n;
		t = now_ns();
		for (i = 0; i < n; i++) {
			got = 0;
			if (dom)
				ap_unmap(dom, iova + i * pgsize, pgsize, &got);
			else
				got = ap_pt_unmap_pages(pt, iova + i * pgsize, pgsize, 1);
			bad += got != pgsize;
		}
		t = now_ns() - t;
		if (r >= 0)
			us[r] = (double)t / (double)n;
		if (bad)
			return fail(b, "a batch map or unmap failed", NULL);
	}
	*map_ns = median(ms, b->runs);
	*unmap_ns = median(us, b->runs);
	return 0;
}

static void print_rate(struct bench *b, const char *what, double ns)
{
	figure(b, what, ns, "ns/op");
	fprintf(b->out, "  %-50s %8.1f ns/op %12.0f ops/s\n", what, ns, 1e9 / ns);
}

static int bench_map(struct bench *b)
{
	struct ap_iommu *iommu;
	struct ap_ctx *ctx = machine(b, &iommu);
	struct ap_domain *d_mu, *d_b4, *d_b2;
	struct ap_device *dev;
	struct mu_state m = { 0 };
	uint64_t n4 = b->quick ? 8192 : 65536, n2 = b->quick ? 2048 : 16384;
	double t_pair, t_m4, t_u4, t_m2, t_u2;
	char what[80];
	int err;

	if (!ctx)
		return -1;
	err = domain_with_device(b, ctx, iommu, "mu4k", 1, &d_mu, &dev);
	if (!err)
		err = domain_with_device(b, ctx, iommu, "b4k", 2, &d_b4, &dev);
	if (!err)
		err = domain_with_device(b, ctx, iommu, "b2m", 3, &d_b2, &dev);
	if (err)
		goto out;
	fprintf(b->out, "\nmap / unmap (ap_map, ap_unmap; each domain attached to one device)\n");
	m = (struct mu_state){ .dom = d_mu, .iova = IOVA_4K_SMALL, .pa = PA_MAPPED, .n = n4 };
	t_pair = measure(b, run_map_unmap, &m);
	if (m.errors) {
		err = fail(b, "4K map+unmap failed", ap_ctx_error(ctx));
		goto out;
	}
	snprintf(what, sizeof(what), "4K map+unmap pair, cycling %" PRIu64 " IOVAs", n4);
	print_rate(b, what, t_pair);
	err = batch(b, d_b4, NULL, IOVA_4K_LARGE, SZ_4K, n4, &t_m4, &t_u4);
	if (err)
		goto out;
	snprintf(what, sizeof(what), "4K map, batches of %" PRIu64, n4);
	print_rate(b, what, t_m4);
	snprintf(what, sizeof(what), "4K unmap, batches of %" PRIu64, n4);
	print_rate(b, what, t_u4);
	err = batch(b, d_b2, NULL, IOVA_2M, SZ_2M, n2, &t_m2, &t_u2);
	if (err)
		goto out;
	if (ap_pt_sizes_in_use(ap_domain_pt(d_b2)) != 0) {
		err = fail(b, "2M batch left leaves behind", NULL);
		goto out;
	}
	snprintf(what, sizeof(what), "2M map (2M-aligned IOVA and PA), batches of %" PRIu64, n2);
	print_rate(b, what, t_m2);
	snprintf(what, sizeof(what), "2M unmap, batches of %" PRIu64, n2);
	print_rate(b, what, t_u2);
out:
	ap_ctx_free(ctx);
	return err;
}

/* ------------------------------------------------------------ devices */

/* Add n devices, each in a group of its own; ns per add, or < 0. */
static double devices_add(struct bench *b, uint64_t n)
{
	struct ap_iommu *iommu;
	struct ap_ctx *ctx = machine(b, &iommu);
	struct ap_device *dev = NULL;
	char name[32];
	uint64_t t0, t;
	double ns = -1;

	if (!ctx)
		return -1;
	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "dev%" PRIu64, i);
		if (ap_device_new(ctx, name, iommu, (uint32_t)i, AP_GROUP_OWN, &dev)) {
			fail(b, "adding a device failed", ap_ctx_error(ctx));
			goto out;
		}
	}
	t = now_ns() - t0;
	/* each got the lowest free group, and a lookup by name finds it */
	snprintf(name, sizeof(name), "dev%" PRIu64, n / 2);
	if (ap_device_group_id(dev) != (int)(n - 1) || !ap_device_find(ctx, name) ||
	    ap_device_group_id(ap_device_find(ctx, name)) != (int)(n / 2)) {
		fail(b, "devices got the wrong groups", NULL);
		goto out;
	}
	ns = (double)t / (double)n;
out:
	ap_ctx_free(ctx);
	return ns;
}

static int bench_devices(struct bench *b)
{
	static const uint64_t counts[] = { 1000, 10000, 100000 };
	double ns[3], med[MAX_RUNS];
	int runs = b->quick ? 1 : 3;
	char name[64];

	fprintf(b->out, "\ndevices (ap_device_new behind one instance, each in a group of its own:\n"
		"  the lowest free group number; time per add at each count)\n");
	for (int c = 0; c < 3; c++) {
		for (int r = 0; r < runs; r++) {
			med[r] = devices_add(b, counts[c]);
			if (med[r] < 0)
				return -1;
		}
		ns[c] = median(med, runs);
		snprintf(name, sizeof(name), "%" PRIu64 " devices: per device", counts[c]);
		figure(b, name, ns[c], "ns");
		snprintf(name, sizeof(name), "%" PRIu64 " devices: in all", counts[c]);
		figure(b, name, ns[c] * (double)counts[c] / 1e6, "ms");
		fprintf(b->out, "  %7" PRIu64 " devices %10.1f ms in all %8.0f ns/device %6.2fx the "
			"1k figure\n", counts[c], ns[c] * (double)counts[c] / 1e6, ns[c],
			ns[c] / ns[0]);
	}
	return 0;
}

/* ------------------------------------------------------------ table bytes */

/* Map n distinct 4K pages into a fresh domain; report table and context
 * memory per mapping.  *map_ns gets the fill time per map. */
static int table_bytes_one(struct bench *b, uint64_t n, double *map_ns)
{
	struct ap_iommu *iommu;
	struct ap_ctx *ctx = machine(b, &iommu);
	struct ap_domain *dom;
	const struct ap_pt *pt;
	uint64_t before, after, allocs, tb, i, t, rng = b->seed ^ n, pa;
	char name[64];
	int err = 0;

	if (!ctx)
		return -1;
	ap_ctx_mem_stats(ctx, NULL, &before);
	if (need(b, ctx, ap_domain_new(ctx, "tb", iommu, AP_DOMAIN_PAGING, &dom),
		 "ap_domain_new"))
		goto out_err;
	t = now_ns();
	for (i = 0; i < n; i++) {
		err = ap_map(dom, i * SZ_4K, PA_MAPPED + scatter(i, n) * SZ_4K, SZ_4K, PROT_RW);
		if (err)
			break;
	}
	t = now_ns() - t;
	if (need(b, ctx, err, "ap_map (table bytes)"))
		goto out_err;
	pt = ap_domain_pt(dom);
	tb = ap_pt_table_bytes(pt);
	ap_ctx_mem_stats(ctx, &allocs, &after);
	if (ap_pt_leaf_count(pt) != n || ap_pt_sizes_in_use(pt) != SZ_4K) {
		fail(b, "table-bytes domain holds the wrong leaves", NULL);
		goto out_err;
	}
	for (i = 0; i < 64; i++) {
		uint64_t page = splitmix64(&rng) % n;

		if (!ap_domain_iova_to_phys(dom, page * SZ_4K + 8, &pa) ||
		    pa != PA_MAPPED + scatter(page, n) * SZ_4K + 8) {
			fail(b, "table-bytes domain translates wrongly", NULL);
			goto out_err;
		}
	}
	*map_ns = (double)t / (double)n;
	snprintf(name, sizeof(name), "%" PRIu64 " pages: table bytes per page", n);
	figure(b, name, (double)tb / (double)n, "bytes");
	snprintf(name, sizeof(name), "%" PRIu64 " pages: context bytes per mapping", n);
	figure(b, name, (double)(after - before) / (double)n, "bytes");
	snprintf(name, sizeof(name), "%" PRIu64 " pages: map", n);
	figure(b, name, *map_ns, "ns/op");
	fprintf(b->out, "  %9" PRIu64 " %13" PRIu64 " %9.2f %14" PRIu64 " %9.2f %8" PRIu64
		" %9.0f\n", n, tb, (double)tb / (double)n, after - before,
		(double)(after - before) / (double)n, allocs, *map_ns);
	ap_ctx_free(ctx);
	return 0;
out_err:
	ap_ctx_free(ctx);
	return -1;
}

static int bench_table_bytes(struct bench *b)
{
	double map_ns;

	fprintf(b->out, "\ntable memory per mapped 4K page (one ap_map per page, consecutive IOVAs,\n"
		"  scattered PAs; table = ap_pt_table_bytes, ctx = ap_ctx_mem_stats bytes\n"
		"  the domain added, table pool chunks included; fill = ns per ap_map\n"
		"  into the empty domain, one run, table allocation included)\n");
	fprintf(b->out, "  %9s %13s %9s %14s %9s %8s %9s\n", "pages", "table bytes", "B/page",
		"ctx bytes", "B/map", "allocs", "fill ns");
	if (table_bytes_one(b, b->quick ? 65536 : 262144, &map_ns))
		return -1;
	if (b->quick)
		return 0;
	/* 1,000,000 pages only if that fill takes under about 3 s. */
	if (map_ns * 1e6 > 3e9) {
		fprintf(b->out, "  %9d   skipped: would take %.1f s\n", 1000000, map_ns * 1e6 / 1e9);
		return 0;
	}
	return table_bytes_one(b, 1000000, &map_ns);
}

/* ------------------------------------------------------------ DMA copy */

enum copy_kind { COPY_MEMCPY_RD, COPY_MEMCPY_WR, COPY_DMA_RD, COPY_DMA_WR };

struct copy_state {
	enum copy_kind kind;
	struct ap_device *dev;
	uint64_t iova;
	uint8_t *ram; /* host view of the same bytes */
	uint8_t *buf;
	size_t len;
	uint64_t errors;
};

static uint64_t run_copy(void *arg, uint64_t iters)
{
	struct copy_state *c = arg;
	uint64_t acc = 0, i;

	switch (c->kind) {
	case COPY_MEMCPY_RD:
		for (i = 0; i < iters; i++) {
			memcpy(c->buf, c->ram, c->len);
			CLOBBER(c->buf);
			acc += c->buf[c->len - 1];
		}
		break;
	case COPY_MEMCPY_WR:
		for (i = 0; i < iters; i++) {
			memcpy(c->ram, c->buf, c->len);
			CLOBBER(c->ram);
			acc += c->ram[0];
		}
		break;
	case COPY_DMA_RD:
		for (i = 0; i < iters; i++) {
			c->errors += ap_dma_read(c->dev, c->iova, c->buf, c->len, NULL) != 0;
			CLOBBER(c->buf);
			acc += c->buf[c->len - 1];
		}
		break;
	case COPY_DMA_WR:
		for (i = 0; i < iters; i++) {
			c->errors += ap_dma_write(c->dev, c->iova, c->buf, c->len, NULL) != 0;
			CLOBBER(c->ram);
			acc += c->ram[0];
		}
		break;
	}
	return acc;
}

/* A write then a read through the IOMMU land the right bytes. */
static int dma_check(struct bench *b, struct ap_device *dev, uint64_t iova, uint8_t *ram,
		     uint8_t *buf, size_t len, uint64_t *rng)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)splitmix64(rng);
	if (ap_dma_write(dev, iova, buf, len, NULL) || memcmp(ram, buf, len))
		return fail(b, "ap_dma_write did not land the bytes in RAM", NULL);
	memset(buf, 0, len);
	if (ap_dma_read(dev, iova, buf, len, NULL) || memcmp(ram, buf, len))
		return fail(b, "ap_dma_read did not return the bytes of RAM", NULL);
	return 0;
}

static void print_copy(struct bench *b, const char *dir, size_t len, double t_mem,
		       double t_4k, double t_2m)
{
	char size[32], name[64];

	if (len >= (1u << 20))
		snprintf(size, sizeof(size), "%zu MiB", len >> 20);
	else if (len >= 1024)
		snprintf(size, sizeof(size), "%zu KiB", len >> 10);
	else
		snprintf(size, sizeof(size), "%zu B", len);
	snprintf(name, sizeof(name), "%s %s: memcpy", size, dir);
	figure(b, name, t_mem, "ns/op");
	snprintf(name, sizeof(name), "%s %s: through 4K pages", size, dir);
	figure(b, name, t_4k, "ns/op");
	snprintf(name, sizeof(name), "%s %s: through 2M blocks", size, dir);
	figure(b, name, t_2m, "ns/op");
	fprintf(b->out, "  %-7s %-5s %9.1f %7.2f | %9.1f %7.2f %7.1f%% | %9.1f %7.2f %7.1f%%\n",
		size, dir, t_mem, (double)len / t_mem, t_4k, (double)len / t_4k,
		100.0 * t_mem / t_4k, t_2m, (double)len / t_2m, 100.0 * t_mem / t_2m);
}

static int bench_dma(struct bench *b)
{
	static const size_t sizes[] = { 64, 4096, 65536, 2u << 20 };
	struct ap_iommu *iommu;
	struct ap_ctx *ctx = machine(b, &iommu);
	struct ap_domain *dom;
	struct ap_device *dev;
	uint8_t *ram = NULL, *buf = NULL;
	uint64_t i, rng = b->seed * 3 + 1;
	void *host;
	size_t k;
	int err;

	if (!ctx)
		return -1;
	err = need(b, ctx, ap_ram_alloc(ctx, DMA_RAM_PA, DMA_RAM_SIZE, &host), "ap_ram_alloc");
	if (!err)
		err = domain_with_device(b, ctx, iommu, "dma", 1, &dom, &dev);
	/* The same RAM twice: page by page (4K leaves), and in one map (2M blocks). */
	for (i = 0; !err && i < DMA_RAM_SIZE / SZ_4K; i++)
		err = need(b, ctx, ap_map(dom, DMA_IOVA_4K + i * SZ_4K, DMA_RAM_PA + i * SZ_4K,
					  SZ_4K, PROT_RW), "ap_map (DMA, 4K)");
	if (!err)
		err = need(b, ctx, ap_map(dom, DMA_IOVA_2M, DMA_RAM_PA, DMA_RAM_SIZE, PROT_RW),
			   "ap_map (DMA, 2M)");
	if (!err && !(ap_pt_sizes_in_use(ap_domain_pt(dom)) & SZ_2M))
		err = fail(b, "the 2M DMA window was not mapped with 2M blocks", NULL);
	if (err)
		goto out;
	ram = host;
	buf = aligned_alloc(64, sizes[3]);
	if (!buf) {
		err = fail(b, "out of memory", NULL);
		goto out;
	}
	memset(buf, 0x5a, sizes[3]);
	fprintf(b->out, "\nDMA copy (ap_dma_read/ap_dma_write of RAM registered at 0x%llx, through\n"
		"  4K pages and through 2M blocks, against memcpy of the same host bytes;\n"
		"  ns per copy, GB/s, and %% = memcpy time / DMA time)\n",
		(unsigned long long)DMA_RAM_PA);
	fprintf(b->out, "  %-7s %-5s %9s %7s | %9s %7s %8s | %9s %7s %8s\n", "size", "dir",
		"memcpy", "GB/s", "4K ns", "GB/s", "%memcpy", "2M ns", "GB/s", "%memcpy");
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]) && !err; k++) {
		struct copy_state c = { .dev = dev, .ram = ram, .buf = buf, .len = sizes[k] };
		double t_mem, t_4k, t_2m;
		int dir;

		if (dma_check(b, dev, DMA_IOVA_4K, ram, buf, sizes[k], &rng) ||
		    dma_check(b, dev, DMA_IOVA_2M, ram, buf, sizes[k], &rng)) {
			err = -1;
			break;
		}
		for (dir = 0; dir < 2; dir++) {
			c.kind = dir ? COPY_MEMCPY_WR : COPY_MEMCPY_RD;
			t_mem = measure(b, run_copy, &c);
			c.kind = dir ? COPY_DMA_WR : COPY_DMA_RD;
			c.iova = DMA_IOVA_4K;
			t_4k = measure(b, run_copy, &c);
			c.iova = DMA_IOVA_2M;
			t_2m = measure(b, run_copy, &c);
			print_copy(b, dir ? "write" : "read", sizes[k], t_mem, t_4k, t_2m);
		}
		if (c.errors)
			err = fail(b, "a timed DMA failed", ap_ctx_error(ctx));
	}
out:
	free(buf);
	ap_ctx_free(ctx);
	return err;
}

/* ------------------------------------------------------------ formats */

#define SZ_16K (1ull << 14)
#define SZ_64K (1ull << 16)
#define SZ_32M (1ull << 25)
#define SZ_512M (1ull << 29)
#define SZ_1G (1ull << 30)
#define FMT_IOVA_PAGES IOVA_4K_SMALL     /* 1 GiB: below every IAS used */
#define FMT_IOVA_BLOCKS 0x1000000000ull  /* 64 GiB: clear of the pages */
#define ARENA_PA 0x100000000ull          /* fake physical base of tables */
#define ARENA_SIZE (8ull << 20)
#define ARENA_MIN_SHIFT 6                /* 64 B: the smallest LPAE PGD */
#define ARENA_CLASSES 24

/*
 * Table memory for ap_pt_alloc(): a zeroed arena at physical ARENA_PA.
 * Blocks are powers of two, naturally aligned, bumped off the front; a
 * freed block goes on the list of its size (the link in its first bytes)
 * and is zeroed again when reused.  map() is arithmetic.
 */
struct arena {
	uint8_t *base;
	uint64_t bump;
	uint64_t free_off[ARENA_CLASSES]; /* offset + 1 of a free block; 0: none */
	struct ap_pt_mem mem;
};

static unsigned arena_class(size_t size)
{
	unsigned c = ARENA_MIN_SHIFT;

	while ((1ull << c) < size)
		c++;
	return c;
}

static void *arena_alloc(void *cookie, size_t size, uint64_t *pa)
{
	struct arena *a = cookie;
	unsigned c = arena_class(size);
	uint64_t bsz = 1ull << c, off;

	if (c >= ARENA_CLASSES)
		return NULL;
	if (a->free_off[c]) {
		off = a->free_off[c] - 1;
		memcpy(&a->free_off[c], a->base + off, sizeof(uint64_t));
		memset(a->base + off, 0, bsz);
	} else {
		off = (a->bump + bsz - 1) & ~(bsz - 1);
		if (off + bsz > ARENA_SIZE)
			return NULL;
		a->bump = off + bsz;
	}
	*pa = ARENA_PA + off;
	return a->base + off;
}

static void arena_free(void *cookie, void *table, uint64_t pa, size_t size)
{
	struct arena *a = cookie;
	unsigned c = arena_class(size);

	memcpy(table, &a->free_off[c], sizeof(uint64_t));
	a->free_off[c] = pa - ARENA_PA + 1;
}

static void *arena_map(void *cookie, uint64_t pa, size_t len)
{
	struct arena *a = cookie;
	uint64_t off = pa - ARENA_PA;

	if (pa < ARENA_PA || off > ARENA_SIZE || len > ARENA_SIZE - off)
		return NULL;
	return a->base + off;
}

/* One configuration: the smallest page of pgsizes is the granule. */
struct fmt_case {
	enum ap_pt_format format;
	unsigned ias, oas;
	uint64_t pgsizes, block;
};

static const struct fmt_case fmt_cases[] = {
	{ AP_PT_ARM_LPAE_S1, 48, 48, SZ_4K | SZ_2M | SZ_1G, SZ_2M },
	{ AP_PT_ARM_LPAE_S1, 48, 48, SZ_16K | SZ_32M, SZ_32M },
	{ AP_PT_ARM_LPAE_S1, 48, 48, SZ_64K | SZ_512M, SZ_512M },
	{ AP_PT_ARM_LPAE_S2, 40, 40, SZ_4K | SZ_2M | SZ_1G, SZ_2M }, /* 2 concatenated */
	{ AP_PT_INTEL_VTD_SL, 39, 48, SZ_4K | SZ_2M | SZ_1G, SZ_2M },
	{ AP_PT_INTEL_VTD_SL, 48, 48, SZ_4K | SZ_2M | SZ_1G, SZ_2M },
	{ AP_PT_INTEL_VTD_SL, 57, 48, SZ_4K | SZ_2M | SZ_1G, SZ_2M },
};

/* The walks of one table: the model's address stream through ap_pt_walk. */
struct fmt_walk {
	struct xlate_set s; /* leaves, addresses, expected PAs */
	struct ap_pt_walk_cfg wc;
	const struct ap_pt_mem *mem;
};

static uint64_t run_walk(void *arg, uint64_t iters)
{
	struct fmt_walk *w = arg;
	struct xlate_set *s = &w->s;
	size_t pos = s->pos, mask = s->naddr - 1;
	uint64_t acc = 0, i;

	for (i = 0; i < iters; i++) {
		struct ap_pt_walk_result res;

		if (ap_pt_walk(&w->wc, w->mem, s->addr[pos], AP_ACCESS_READ, &res))
			s->errors++;
		else
			acc += res.pa;
		pos = (pos + 1) & mask;
	}
	s->pos = pos;
	return acc;
}

/* A walk that must give `expect` (or fault with `fault`). */
static int walk_check(struct bench *b, const struct fmt_walk *w, uint64_t iova, uint64_t expect,
		      enum ap_fault_kind fault)
{
	struct ap_pt_walk_result res;
	int err = ap_pt_walk(&w->wc, w->mem, iova, AP_ACCESS_READ, &res);

	if (fault == AP_FAULT_NONE ? !err && res.pa == expect : err == -EFAULT && res.fault == fault)
		return 0;
	fprintf(stderr, "ap-bench: formats %s: walk of iova 0x%" PRIx64 " gave %s 0x%" PRIx64
		", expected %s 0x%" PRIx64 "\n", w->s.label, iova,
		err ? ap_fault_kind_name(res.fault) : "pa", res.pa,
		fault ? ap_fault_kind_name(fault) : "pa", expect);
	b->failures++;
	return -1;
}

static void size_name(char *buf, size_t len, uint64_t size)
{
	if (size >= SZ_1G)
		snprintf(buf, len, "%" PRIu64 "G", size >> 30);
	else if (size >= (1ull << 20))
		snprintf(buf, len, "%" PRIu64 "M", size >> 20);
	else
		snprintf(buf, len, "%" PRIu64 "K", size >> 10);
}

/* One row of the table; *s1_walk is the first row's walk time. */
static int fmt_one(struct bench *b, const struct fmt_case *c, uint64_t *rng, double *s1_walk)
{
	uint64_t n = b->quick ? 8192 : 65536, nblk = b->quick ? 512 : 4096;
	uint64_t page = c->pgsizes & -c->pgsizes, i, t;
	char name[96];
	struct ap_pt_cfg cfg = { .format = c->format, .ias = c->ias, .oas = c->oas,
				 .pgsize_bitmap = c->pgsizes, .host_page_size = page,
				 .coherent_walk = true };
	struct arena a = { .base = malloc(ARENA_SIZE) };
	struct fmt_walk w = { .s.naddr = b->quick ? 1u << 14 : 1u << 16, .mem = &a.mem };
	struct ap_pt *pt = NULL;
	double t_fill, t_map, t_unmap, t_walk, t_iv, t_bmap, t_bunmap;
	char label[64], pg[24], blk[24], msg[96];
	int err, levels;

	a.mem = (struct ap_pt_mem){ .cookie = &a, .alloc = arena_alloc, .free = arena_free,
				    .map = arena_map };
	size_name(pg, sizeof(pg), page);
	size_name(blk, sizeof(blk), c->block);
	snprintf(label, sizeof(label), "%s %s ias %u", ap_pt_format_name(c->format), pg, c->ias);
	w.s.label = label;
	if (!a.base) {
		err = fail(b, "out of memory", NULL);
		goto out;
	}
	memset(a.base, 0, ARENA_SIZE); /* zeroed, and faulted in before any timing */
	err = ap_pt_alloc(&cfg, &a.mem, &pt);
	if (err) {
		snprintf(msg, sizeof(msg), "ap_pt_alloc failed (%s)", strerror(-err));
		err = fail(b, msg, label);
		goto out;
	}
	ap_pt_get_cfg(pt, &cfg);
	ap_pt_get_walk_cfg(pt, &w.wc);
	levels = ap_pt_start_level(&w.wc);
	levels = c->format == AP_PT_INTEL_VTD_SL ? levels : 4 - levels;
	if (cfg.ias != c->ias || (cfg.pgsize_bitmap & -cfg.pgsize_bitmap) != page ||
	    !(cfg.pgsize_bitmap & c->block)) {
		err = fail(b, "ap_pt_alloc restricted the configuration unexpectedly", label);
		goto out;
	}

	/* n pages into the empty table, then the walks over them. */
	model_setup(&w.s, FMT_IOVA_PAGES, page, n, rng);
	t = now_ns();
	for (i = 0; i < n && !err; i++)
		err = ap_pt_map_pages(pt, w.s.iv[i].iova, w.s.iv[i].pa, page, 1, PROT_RW, NULL);
	t = now_ns() - t;
	t_fill = (double)t / (double)n;
	if (err || ap_pt_leaf_count(pt) != n) {
		err = fail(b, "ap_pt_map_pages (fill) failed", label);
		goto out;
	}
	for (i = 0; i < w.s.naddr && !err; i++) {
		uint64_t pa;

		err = walk_check(b, &w, w.s.addr[i], w.s.expect[i], AP_FAULT_NONE);
		if (!err && (!ival_lookup(w.s.iv, w.s.niv, w.s.addr[i], &pa) || pa != w.s.expect[i]))
			err = fail(b, "interval-map model gave a wrong answer", label);
	}
	if (!err)
		err = walk_check(b, &w, FMT_IOVA_PAGES + n * page, 0, AP_FAULT_TRANSLATION);
	if (err)
		goto out;
	t_walk = measure(b, run_walk, &w);
	t_iv = measure(b, run_ival, &w.s);
	if (w.s.errors) {
		err = fail(b, "a timed walk failed", label);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (ap_pt_unmap_pages(pt, w.s.iv[i].iova, page, 1) != page) {
			err = fail(b, "ap_pt_unmap_pages failed", label);
			goto out;
		}
	}

	/* Timed rounds with the tables in place; then the largest block. */
	err = batch(b, NULL, pt, FMT_IOVA_PAGES, page, n, &t_map, &t_unmap);
	if (!err)
		err = batch(b, NULL, pt, FMT_IOVA_BLOCKS, c->block, nblk, &t_bmap, &t_bunmap);
	if (!err && ap_pt_leaf_count(pt))
		err = fail(b, "map/unmap rounds left leaves behind", label);
	for (i = 0; i < nblk && !err; i++) {
		uint64_t iova = FMT_IOVA_BLOCKS + i * c->block, pa = PA_MAPPED + i * c->block;
		uint64_t off = splitmix64(rng) & (c->block - 1);

		if (ap_pt_map_pages(pt, iova, pa, c->block, 1, PROT_RW, NULL))
			err = fail(b, "ap_pt_map_pages (block) failed", label);
		else
			err = walk_check(b, &w, iova + off, pa + off, AP_FAULT_NONE);
	}
	if (!err && ap_pt_sizes_in_use(pt) != c->block)
		err = fail(b, "the blocks were not mapped as blocks", label);
	if (err)
		goto out;
	if (!*s1_walk)
		*s1_walk = t_walk;
	snprintf(name, sizeof(name), "%s %s: map", ap_pt_format_name(c->format), pg);
	figure(b, name, t_map, "ns/op");
	snprintf(name, sizeof(name), "%s %s: unmap", ap_pt_format_name(c->format), pg);
	figure(b, name, t_unmap, "ns/op");
	snprintf(name, sizeof(name), "%s %s: walk", ap_pt_format_name(c->format), pg);
	figure(b, name, t_walk, "ns/op");
	fprintf(b->out, "  %-13s %4s %3u/%-3u %4d %7.1f %7.1f %8.1f %7.1f %7.2fx %8.1f %7.2fx |"
		" %5s %7.1f %8.1f\n", ap_pt_format_name(c->format), pg, cfg.ias, cfg.oas, levels,
		t_fill, t_map, t_unmap, t_walk, t_walk / *s1_walk, t_iv, t_walk / t_iv, blk,
		t_bmap, t_bunmap);
out:
	ap_pt_free(pt);
	xlate_free(&w.s);
	free(a.base);
	return err;
}

static int bench_formats(struct bench *b)
{
	uint64_t rng = b->seed * 5 + 2;
	double s1_walk = 0;
	size_t i;
	int err = 0;

	fprintf(b->out, "\npage-table formats (ap_pt_* alone: no context, no device; tables in a\n"
		"  bump arena.  Per format %d pages of its smallest size, one\n"
		"  ap_pt_map_pages each at consecutive IOVAs: fill = into the empty table,\n"
		"  table allocation included, one run; map/unmap = timed rounds with the\n"
		"  tables in place, one call per page; walk = ap_pt_walk, read access, %d\n"
		"  random mapped addresses; vs S1 4K = walk / the first row's walk;\n"
		"  interval = binary search of a sorted array of the same leaves; block =\n"
		"  %d maps/unmaps of the largest block size; all ns per operation)\n",
		b->quick ? 8192 : 65536, b->quick ? 1 << 14 : 1 << 16, b->quick ? 512 : 4096);
	fprintf(b->out, "  %-13s %4s %7s %4s %7s %7s %8s %7s %8s %8s %8s | %5s %7s %8s\n",
		"format", "page", "ias/oas", "lvls", "fill", "map", "unmap", "walk", "vs S1 4K",
		"interval", "vs ival", "block", "map", "unmap");
	for (i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]) && !err; i++)
		err = fmt_one(b, &fmt_cases[i], &rng, &s1_walk);
	return err;
}

/* ------------------------------------------------------------ vfio */

#define VFIO_IOVA 0x100000000ull        /* 4 GiB: 1G-aligned, above the SW_MSI window */
#define VFIO_RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define VFIO_HEADROOM (512ull << 20)    /* memory left to everyone else */
#define VFIO_CHECK_LEN 64

/* One container with one group, and the baseline domain beside it. */
struct vfio_bench {
	struct bench *b;
	struct ap_ctx *ctx;
	struct ap_device *dev;  /* the device of the container's group */
	struct ap_domain *vdom; /* the container's domain */
	struct ap_domain *core; /* baseline: a plain paging domain with a device */
	int container, group;
	uint8_t *buf;           /* this row's memory: n pieces of size */
	uint64_t size, n;
	uint64_t errors;
	uint64_t rng;
};

/* One row of the report. */
struct vfio_row {
	uint64_t size, n;
	char skipped[256];      /* the reason, or "" */
	int thp_pct;            /* of the row's memory in huge pages; -1 unknown */
	double first_map, map, unmap, core_map, core_unmap, pair, core_pair;
};

/* MAP_DMA and UNMAP_DMA as a client writes them: 0 or the errno. */
static int vfio_map(struct vfio_bench *v, uint64_t iova, const uint8_t *vaddr, uint64_t size)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .flags = VFIO_RW, .vaddr = (uint64_t)(uintptr_t)vaddr,
		.iova = iova, .size = size,
	};

	return ap_vfio_ioctl(v->ctx, v->container, VFIO_IOMMU_MAP_DMA, &m) ? errno : 0;
}

static int vfio_unmap(struct vfio_bench *v, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = iova, .size = size };

	if (ap_vfio_ioctl(v->ctx, v->container, VFIO_IOMMU_UNMAP_DMA, &u))
		return errno;
	return u.size == size ? 0 : EIO;
}

/* A number from a "Key: value" line of a /proc or /sys file (value * mult). */
static bool read_key(const char *path, const char *key, uint64_t mult, uint64_t *out)
{
	char line[256];
	size_t klen = strlen(key);
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long long val;

		if (!strncmp(line, key, klen) && sscanf(line + klen, " %llu", &val) == 1) {
			*out = (uint64_t)val * mult;
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* Bytes of the process's anonymous memory in transparent huge pages. */
static bool thp_bytes(uint64_t *out)
{
	return read_key("/proc/self/smaps_rollup", "AnonHugePages:", 1024, out);
}

/* Memory the system can still give: MemAvailable, capped by a cgroup v2
 * limit if there is one.  *what names the binding figure. */
static uint64_t mem_available(const char **what)
{
	uint64_t avail = UINT64_MAX, max, cur;

	*what = "unknown";
	if (read_key("/proc/meminfo", "MemAvailable:", 1024, &avail))
		*what = "MemAvailable";
	if (read_key("/sys/fs/cgroup/memory.max", "", 1, &max) && /* "max": no limit */
	    read_key("/sys/fs/cgroup/memory.current", "", 1, &cur)) {
		uint64_t left = cur < max ? max - cur : 0;

		if (left < avail) {
			avail = left;
			*what = "the cgroup's memory.max";
		}
	}
	return avail;
}

/*
 * len bytes of private anonymous memory aligned to `align`, the slack of
 * the over-sized mmap given back; MADV_HUGEPAGE asked for when `huge`.
 * NULL with the reason in why when the memory cannot be had.
 */
static uint8_t *vfio_buf_alloc(uint64_t len, uint64_t align, bool huge, char *why, size_t wlen)
{
	uint64_t need = len + VFIO_HEADROOM, avail, head, tail;
	size_t total = (size_t)(len + (align > SZ_4K ? align : 0));
	const char *what;
	uint8_t *raw, *p;

	avail = mem_available(&what);
	if (avail < need) {
		snprintf(why, wlen, "needs %.2f GiB (+%llu MiB headroom), %s is %.2f GiB",
			 (double)len / (double)SZ_1G, VFIO_HEADROOM >> 20, what,
			 (double)avail / (double)SZ_1G);
		return NULL;
	}
	raw = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED) {
		snprintf(why, wlen, "mmap of %.2f GiB failed: %s", (double)total / (double)SZ_1G,
			 strerror(errno));
		return NULL;
	}
	p = (uint8_t *)(((uintptr_t)raw + (align - 1)) & ~(uintptr_t)(align - 1));
	head = (uint64_t)(p - raw);
	tail = total - head - len;
	if (head)
		munmap(raw, (size_t)head);
	if (tail)
		munmap(p + len, (size_t)tail);
	if (huge)
		madvise(p, (size_t)len, MADV_HUGEPAGE); /* a wish: THP may be off */
	return p;
}

/*
 * The self-check of a row, with all n pieces mapped: a device write to
 * one random IOVA lands in the buffer at the matching offset, a device read
 * there returns what the program wrote, and the container's domain holds
 * leaves of the row's size only.  *iova gets the address checked.
 */
static int vfio_check(struct vfio_bench *v, uint64_t *iova)
{
	uint8_t pat[VFIO_CHECK_LEN], back[VFIO_CHECK_LEN];
	uint64_t k = splitmix64(&v->rng) % v->n;
	uint64_t off = splitmix64(&v->rng) % (v->size - VFIO_CHECK_LEN + 1);
	uint8_t *host = v->buf + k * v->size + off;
	uint64_t sizes = ap_pt_sizes_in_use(ap_domain_pt(v->vdom));
	struct ap_fault f = { 0 };
	size_t i;

	*iova = VFIO_IOVA + k * v->size + off;
	for (i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)splitmix64(&v->rng);
	if (ap_dma_write(v->dev, *iova, pat, sizeof(pat), &f) || memcmp(host, pat, sizeof(pat))) {
		fprintf(stderr, "ap-bench: vfio: device write at IOVA 0x%" PRIx64 " (fault %s) did "
			"not land at buffer offset 0x%" PRIx64 "\n", *iova,
			ap_fault_kind_name(f.kind), k * v->size + off);
		v->b->failures++;
		return -1;
	}
	for (i = 0; i < sizeof(pat); i++)
		host[i] = (uint8_t)splitmix64(&v->rng);
	if (ap_dma_read(v->dev, *iova, back, sizeof(back), &f) ||
	    memcmp(host, back, sizeof(back))) {
		fprintf(stderr, "ap-bench: vfio: device read at IOVA 0x%" PRIx64 " (fault %s) did "
			"not return buffer offset 0x%" PRIx64 "\n", *iova,
			ap_fault_kind_name(f.kind), k * v->size + off);
		v->b->failures++;
		return -1;
	}
	if (sizes != v->size) {
		fprintf(stderr, "ap-bench: vfio: the container's domain maps %" PRIu64 " bytes "
			"with page sizes 0x%" PRIx64 ", expected 0x%" PRIx64 " only\n",
			v->n * v->size, sizes, v->size);
		v->b->failures++;
		return -1;
	}
	return 0;
}

/*
 * (a) n MAP_DMAs at consecutive IOVAs, piece i of the buffer each, then n
 * UNMAP_DMAs in the same order, timed separately; one warm-up round (it
 * faults the pages in, its MAP time is row->first_map, and it runs the
 * self-check), then b->runs rounds.  A 1G row whose memory cannot be had
 * in the warm-up is skipped (row->skipped), not failed.
 */
static int vfio_batch(struct vfio_bench *v, struct vfio_row *row, bool may_skip)
{
	struct bench *b = v->b;
	double ms[MAX_RUNS], us[MAX_RUNS];
	uint64_t i, t, thp0 = 0, thp1 = 0, iova = 0, size = v->size, n = v->n;
	bool thp_known = thp_bytes(&thp0);
	int r, e;

	for (r = -1; r < b->runs; r++) {
		uint64_t bad = 0;

		t = now_ns();
		if (r < 0) {
			for (i = 0; i < n; i++) {
				e = vfio_map(v, VFIO_IOVA + i * size, v->buf + i * size, size);
				if (e)
					break;
			}
		} else {
			for (i = 0; i < n; i++)
				bad += vfio_map(v, VFIO_IOVA + i * size, v->buf + i * size,
						size) != 0;
		}
		t = now_ns() - t;
		if (r < 0 && i < n) {
			char msg[200];

			snprintf(msg, sizeof(msg), "MAP_DMA of piece %" PRIu64 " failed (%s): %s",
				 i, strerror(e), ap_ctx_error(v->ctx));
			while (i--)
				vfio_unmap(v, VFIO_IOVA + i * size, size);
			if (may_skip && (e == ENOMEM || e == EFAULT)) {
				snprintf(row->skipped, sizeof(row->skipped), "%s", msg);
				return 0;
			}
			return fail(b, "vfio", msg);
		}
		if (r < 0) {
			row->first_map = (double)t / (double)n;
			if (thp_known && thp_bytes(&thp1))
				row->thp_pct = (int)((thp1 > thp0 ? thp1 - thp0 : 0) * 100 /
						     (n * size));
			if (vfio_check(v, &iova))
				return -1;
		} else {
			ms[r] = (double)t / (double)n;
		}
		t = now_ns();
		for (i = 0; i < n; i++)
			bad += vfio_unmap(v, VFIO_IOVA + i * size, size) != 0;
		t = now_ns() - t;
		if (r >= 0)
			us[r] = (double)t / (double)n;
		if (bad)
			return fail(b, "vfio: a timed MAP_DMA or UNMAP_DMA failed",
				    ap_ctx_error(v->ctx));
		if (r < 0) {
			struct ap_vfio_container_info info;
			uint8_t tmp[8];

			if (ap_dma_read(v->dev, iova, tmp, sizeof(tmp), NULL) != -EFAULT)
				return fail(b, "vfio: the device still reaches an unmapped IOVA",
					    NULL);
			if (ap_vfio_container_info(v->ctx, 0, &info) || info.mappings ||
			    info.locked)
				return fail(b, "vfio: the container kept mappings or locked memory "
					    "after unmapping them all", NULL);
		}
	}
	row->map = median(ms, b->runs);
	row->unmap = median(us, b->runs);
	return 0;
}

/* (b) MAP_DMA + UNMAP_DMA of the first piece, always at VFIO_IOVA. */
static uint64_t run_vfio_pair(void *arg, uint64_t iters)
{
	struct vfio_bench *v = arg;
	uint64_t i;

	for (i = 0; i < iters; i++)
		v->errors += vfio_map(v, VFIO_IOVA, v->buf, v->size) != 0 ||
			     vfio_unmap(v, VFIO_IOVA, v->size) != 0;
	return i;
}

/* Its baseline: ap_map + ap_unmap of the same size at the same IOVA. */
static uint64_t run_core_pair(void *arg, uint64_t iters)
{
	struct vfio_bench *v = arg;
	uint64_t i, got, acc = 0;

	for (i = 0; i < iters; i++) {
		got = 0;
		v->errors += ap_map(v->core, VFIO_IOVA, PA_MAPPED, v->size, PROT_RW) != 0 ||
			     ap_unmap(v->core, VFIO_IOVA, v->size, &got) != 0 || got != v->size;
		acc += got;
	}
	return acc;
}

static int vfio_row_run(struct vfio_bench *v, struct vfio_row *row)
{
	struct bench *b = v->b;
	bool large = row->size > SZ_4K;
	int err;

	v->size = row->size;
	v->n = row->n;
	row->thp_pct = -1;
	v->buf = vfio_buf_alloc(row->n * row->size, row->size, large, row->skipped,
				sizeof(row->skipped));
	if (!v->buf)
		return 0;
	err = vfio_batch(v, row, row->size >= SZ_1G);
	if (err || row->skipped[0])
		return err;
	err = batch(b, v->core, NULL, VFIO_IOVA, row->size, row->n, &row->core_map,
		    &row->core_unmap);
	if (err)
		return err;
	v->errors = 0;
	row->pair = measure(b, run_vfio_pair, v);
	row->core_pair = measure(b, run_core_pair, v);
	if (v->errors)
		return fail(b, "vfio: a timed map+unmap pair failed", ap_ctx_error(v->ctx));
	return 0;
}

/* A container of TYPE1v2 holding the group of one device, on a 48-bit
 * SMMUv3 (4K|2M|1G); a second device on a plain paging domain. */
static int vfio_setup(struct vfio_bench *v)
{
	struct bench *b = v->b;
	struct ap_iommu_config cfg;
	struct ap_iommu *iommu;
	struct ap_device *core_dev;
	char path[32];

	v->container = v->group = -1;
	v->ctx = ap_ctx_new();
	if (!v->ctx)
		return fail(b, "ap_ctx_new failed", NULL);
	ap_iommu_config_init(&cfg, AP_IOMMU_ARM_SMMU_V3);
	cfg.ias = 48;
	cfg.oas = 48;
	if (need(b, v->ctx, ap_iommu_new(v->ctx, "smmu0", &cfg, &iommu), "ap_iommu_new") ||
	    need(b, v->ctx, ap_device_new(v->ctx, "vfio-dev", iommu, 1, AP_GROUP_OWN, &v->dev),
		 "ap_device_new") ||
	    domain_with_device(b, v->ctx, iommu, "core", 2, &v->core, &core_dev))
		return -1;
	ap_vfio_set_memlock_limit(v->ctx, UINT64_MAX);
	v->container = ap_vfio_open(v->ctx, "/dev/vfio/vfio");
	if (v->container < 0)
		return fail(b, "vfio: open /dev/vfio/vfio failed", ap_ctx_error(v->ctx));
	snprintf(path, sizeof(path), "/dev/vfio/%d", ap_device_group_id(v->dev));
	v->group = ap_vfio_open(v->ctx, path);
	if (v->group < 0)
		return fail(b, "vfio: open of the group failed", ap_ctx_error(v->ctx));
	if (ap_vfio_ioctl(v->ctx, v->group, VFIO_GROUP_SET_CONTAINER, &v->container))
		return fail(b, "vfio: VFIO_GROUP_SET_CONTAINER failed", ap_ctx_error(v->ctx));
	if (ap_vfio_ioctl(v->ctx, v->container, VFIO_SET_IOMMU,
			  (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU))
		return fail(b, "vfio: VFIO_SET_IOMMU(TYPE1v2) failed", ap_ctx_error(v->ctx));
	v->vdom = ap_vfio_container_domain(v->ctx, 0, 0);
	if (!v->vdom)
		return fail(b, "vfio: the container has no domain", NULL);
	return 0;
}

/* ns with one decimal below 10 us, whole ns below 1 ms, then ms or s. */
static void fmt_ns(char *s, size_t len, double ns)
{
	if (ns < 1e4)
		snprintf(s, len, "%.1f", ns);
	else if (ns < 1e6)
		snprintf(s, len, "%.0f", ns);
	else if (ns < 1e9)
		snprintf(s, len, "%.2f ms", ns / 1e6);
	else
		snprintf(s, len, "%.2f s", ns / 1e9);
}

static void vfio_print(struct bench *b, const struct vfio_row *rows, size_t nrows)
{
	char sz[16], f1[24], m[24], cm[24], u[24], cu[24], p[24], cp[24], thp[16];
	char name[96];
	size_t k;

	fprintf(b->out, "  (a) batch: N MAP_DMA, then N UNMAP_DMA in the same order\n");
	fprintf(b->out, "  %-4s %6s %4s %11s | %10s %8s %7s | %10s %8s %7s | %10s %7s\n", "size",
		"N", "THP", "1st MAP", "MAP", "core", "x core", "UNMAP", "core", "x core",
		"mappings/s", "GiB/s");
	for (k = 0; k < nrows; k++) {
		const struct vfio_row *r = &rows[k];
		double cycle = r->map + r->unmap;

		size_name(sz, sizeof(sz), r->size);
		if (r->skipped[0]) {
			fprintf(b->out, "  %-4s %6" PRIu64 "   skipped: %s\n", sz, r->n,
				r->skipped);
			continue;
		}
		if (r->thp_pct < 0)
			snprintf(thp, sizeof(thp), "?");
		else
			snprintf(thp, sizeof(thp), "%d%%", r->thp_pct);
		fmt_ns(f1, sizeof(f1), r->first_map);
		fmt_ns(m, sizeof(m), r->map);
		fmt_ns(cm, sizeof(cm), r->core_map);
		fmt_ns(u, sizeof(u), r->unmap);
		fmt_ns(cu, sizeof(cu), r->core_unmap);
		snprintf(name, sizeof(name), "%s x%" PRIu64 ": MAP_DMA", sz, r->n);
		figure(b, name, r->map, "ns/op");
		snprintf(name, sizeof(name), "%s x%" PRIu64 ": UNMAP_DMA", sz, r->n);
		figure(b, name, r->unmap, "ns/op");
		fprintf(b->out, "  %-4s %6" PRIu64 " %4s %11s | %10s %8s %6.1fx | %10s %8s %6.1fx |"
			" %10.0f %7.1f\n", sz, r->n, thp, f1, m, cm, r->map / r->core_map, u, cu,
			r->unmap / r->core_unmap, 1e9 / cycle,
			(double)r->size / cycle * 1e9 / (double)SZ_1G);
	}
	fprintf(b->out, "  (b) pairs: MAP_DMA + UNMAP_DMA of one piece at one IOVA\n");
	fprintf(b->out, "  %-4s %11s %8s %7s %10s %7s\n", "size", "pair", "core", "x core",
		"pairs/s", "GiB/s");
	for (k = 0; k < nrows; k++) {
		const struct vfio_row *r = &rows[k];

		size_name(sz, sizeof(sz), r->size);
		if (r->skipped[0]) {
			fprintf(b->out, "  %-4s   skipped\n", sz);
			continue;
		}
		fmt_ns(p, sizeof(p), r->pair);
		fmt_ns(cp, sizeof(cp), r->core_pair);
		snprintf(name, sizeof(name), "%s: MAP_DMA+UNMAP_DMA pair", sz);
		figure(b, name, r->pair, "ns/op");
		fprintf(b->out, "  %-4s %11s %8s %6.1fx %10.0f %7.1f\n", sz, p, cp,
			r->pair / r->core_pair, 1e9 / r->pair,
			(double)r->size / r->pair * 1e9 / (double)SZ_1G);
	}
}

static int bench_vfio(struct bench *b)
{
	struct vfio_row rows[3] = {
		{ .size = SZ_4K, .n = b->quick ? 1024 : 16384 },
		{ .size = SZ_2M, .n = b->quick ? 32 : 512 },
		{ .size = SZ_1G, .n = b->quick ? 1 : 4 },
	};
	struct vfio_bench v = { .b = b, .rng = b->seed * 7 + 3 };
	struct ap_vfio_container_info info = { 0 };
	size_t k, done = 0;
	int err;

	err = vfio_setup(&v);
	if (!err)
		ap_vfio_container_info(v.ctx, 0, &info);
	if (!err)
		fprintf(b->out, "\nvfio (VFIO_IOMMU_MAP_DMA / UNMAP_DMA through ap_vfio_ioctl: one "
			"arm-smmu-v3, ias/oas 48,\n"
			"  one device in one group, container TYPE1v2, iova_pgsizes 0x%" PRIx64
			", memlock unlimited;\n"
			"  the program's own memory: one mmap(MAP_PRIVATE|MAP_ANONYMOUS) per size "
			"cut into N\n"
			"  pieces mapped at consecutive IOVAs from 0x%llx, RW; 2M/1G buffers "
			"aligned to\n"
			"  their size with MADV_HUGEPAGE; THP = share of the buffer in huge pages "
			"after\n"
			"  the first round, which populates it (1st MAP, ns per MAP); core = "
			"ap_map/\n"
			"  ap_unmap of the same sizes and IOVAs on a plain paging domain; x core = "
			"VFIO /\n"
			"  core; mappings/s and GiB/s = pieces and bytes mapped and unmapped per "
			"second;\n"
			"  times in ns per operation unless marked ms or s)\n", info.pgsizes,
			VFIO_IOVA);
	for (k = 0; k < 3 && !err; k++, done++) {
		/* The 1G row first populates n GiB: predicted from the 2M row's rate. */
		if (k == 2 && !rows[1].skipped[0]) {
			double pop = rows[1].first_map * (double)(rows[2].n * (SZ_1G / SZ_2M));
			double limit = b->quick ? 0.6e9 : 10e9;

			if (pop > limit) {
				snprintf(rows[2].skipped, sizeof(rows[2].skipped),
					 "populating %" PRIu64 " GiB would take about %.1f s at "
					 "the 2M row's first-MAP rate (%s allows %.1f s)",
					 rows[2].n, pop / 1e9,
					 b->quick ? "--quick" : "the default run", limit / 1e9);
				continue;
			}
		}
		err = vfio_row_run(&v, &rows[k]);
		if (v.buf) {
			if (err) { /* mappings may remain: the context goes first */
				if (v.group >= 0)
					ap_vfio_close(v.ctx, v.group);
				if (v.container >= 0)
					ap_vfio_close(v.ctx, v.container);
				ap_ctx_free(v.ctx);
				v.ctx = NULL;
			}
			munmap(v.buf, (size_t)(rows[k].n * rows[k].size));
			v.buf = NULL;
		}
	}
	if (!err)
		vfio_print(b, rows, done);
	if (v.ctx) {
		if (v.group >= 0)
			ap_vfio_close(v.ctx, v.group);
		if (v.container >= 0)
			ap_vfio_close(v.ctx, v.container);
		ap_ctx_free(v.ctx);
	}
	return err;
}

/* ------------------------------------------------------------ driver */

/* Bring the core out of any low-frequency state before the first figure. */
static void warm_cpu(struct bench *b)
{
	uint64_t end = now_ns() + (b->quick ? 20000000u : 200000000u), x = b->seed;

	while (now_ns() < end) {
		int i;

		for (i = 0; i < 1000; i++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
	}
	b->sink += x;
}

/* ------------------------------------------------------------ virtio-iommu */

/*
 * A guest driver as lean as a real one: its rings and request buffers in
 * guest RAM, reached through host pointers; requests are two descriptors
 * (the request, its tail), made available and notified as the guest's
 * write to the notify register would.
 */
#define VQ_RAM 0x40000000ull
#define VQ_SIZE 64
#define VQ_IOVA 0x100000000ull /* 4 GiB: what the guest maps */
#define VQ_PA (VQ_RAM + (1ull << 21))

struct vq_bench {
	struct ap_ctx *ctx;
	struct ap_viommu *v;
	struct ap_domain *dom;    /* the aperture domain of guest domain 1 */
	uint8_t *ram;             /* guest RAM's host view */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx, used_seen;
	uint64_t size, n, pos;    /* mapping size, IOVAs cycled through */
	unsigned per_notify;      /* requests made available per notify */
	uint64_t errors;
};

static uint8_t *vq_host(struct vq_bench *q, uint64_t pa)
{
	return q->ram + (pa - VQ_RAM);
}

/* Put request r (len bytes) in slot s's buffer and chain, make it
 * available (not yet notified). */
static void vq_put(struct vq_bench *q, unsigned s, const void *r, size_t len)
{
	uint64_t buf = VQ_RAM + 0x10000 + 0x100ull * s;
	size_t d = 2 * (size_t)s;

	memcpy(vq_host(q, buf), r, len);
	q->desc[d] = (struct vring_desc){ buf, (uint32_t)len, VRING_DESC_F_NEXT, (uint16_t)(d + 1) };
	q->desc[d + 1] = (struct vring_desc){ buf + 0x80, 4, VRING_DESC_F_WRITE, 0 };
	q->avail->ring[q->avail_idx % VQ_SIZE] = (uint16_t)(2 * s);
	q->avail_idx++;
}

/* Publish, notify, and take the used entries: the status of each. */
static void vq_kick(struct vq_bench *q, unsigned n)
{
	unsigned k;

	__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
	ap_viommu_queue_notify(q->v, 0);
	for (k = 0; k < n; k++) {
		uint16_t idx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
		uint32_t head;

		if (idx == q->used_seen) {
			q->errors++;
			return;
		}
		head = q->used->ring[q->used_seen % VQ_SIZE].id;
		if (*vq_host(q, VQ_RAM + 0x10000 + 0x100ull * (head / 2) + 0x80) != 0)
			q->errors++;
		q->used_seen++;
	}
}

static void vq_map_req(struct vq_bench *q, struct virtio_iommu_req_map *m, uint64_t iova,
		       uint64_t pa)
{
	memset(m, 0, sizeof(*m));
	m->head.type = VIRTIO_IOMMU_T_MAP;
	m->domain = 1;
	m->virt_start = iova;
	m->virt_end = iova + q->size - 1;
	m->phys_start = pa;
	m->flags = VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE;
}

static void vq_unmap_req(struct vq_bench *q, struct virtio_iommu_req_unmap *u, uint64_t iova)
{
	memset(u, 0, sizeof(*u));
	u->head.type = VIRTIO_IOMMU_T_UNMAP;
	u->domain = 1;
	u->virt_start = iova;
	u->virt_end = iova + q->size - 1;
}

/* MAP then UNMAP of one mapping through the queue, per_notify requests in
 * each notify (1: two round trips; 2: both in one). */
static uint64_t run_vq_pairs(void *arg, uint64_t iters)
{
	struct vq_bench *q = arg;
	struct virtio_iommu_req_map m;
	struct virtio_iommu_req_unmap u;
	uint64_t i;

	for (i = 0; i < iters; i++) {
		uint64_t iova = VQ_IOVA + q->pos * q->size;

		vq_map_req(q, &m, iova, VQ_PA);
		vq_unmap_req(q, &u, iova);
		vq_put(q, 0, &m, offsetof(struct virtio_iommu_req_map, tail));
		if (q->per_notify == 1)
			vq_kick(q, 1);
		vq_put(q, 1, &u, offsetof(struct virtio_iommu_req_unmap, tail));
		vq_kick(q, q->per_notify == 1 ? 1 : 2);
		q->pos = (q->pos + 1) % q->n;
	}
	return q->used_seen;
}

/* The same MAP and UNMAP as the core's own calls on the same domain. */
static uint64_t run_core_pairs(void *arg, uint64_t iters)
{
	struct vq_bench *q = arg;
	uint64_t i, acc = 0;

	for (i = 0; i < iters; i++) {
		uint64_t iova = VQ_IOVA + q->pos * q->size, got = 0;

		if (ap_map(q->dom, iova, VQ_PA, q->size, PROT_RW | AP_PROT_CACHE) ||
		    ap_unmap(q->dom, iova, q->size, &got) || got != q->size)
			q->errors++;
		acc += got;
		q->pos = (q->pos + 1) % q->n;
	}
	return acc;
}

static int vq_setup(struct bench *b, struct vq_bench *q)
{
	struct ap_viommu_queue geo = { VQ_SIZE, VQ_RAM, VQ_RAM + 0x1000, VQ_RAM + 0x2000 };
	struct virtio_iommu_req_attach a = { .head.type = VIRTIO_IOMMU_T_ATTACH, .domain = 1,
					     .endpoint = 0x10 };
	struct ap_iommu_config ic;
	struct ap_iommu *iommu;
	uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_IOMMU_F_MAP_UNMAP);

	q->ctx = ap_ctx_new();
	if (!q->ctx)
		return fail(b, "ap_ctx_new", NULL);
	ap_iommu_config_init(&ic, AP_IOMMU_VIRTIO_IOMMU);
	if (need(b, q->ctx, ap_ram_alloc(q->ctx, VQ_RAM, 16 << 20, (void **)&q->ram), "RAM") ||
	    need(b, q->ctx, ap_iommu_new(q->ctx, "viommu", &ic, &iommu), "ap_iommu_new") ||
	    need(b, q->ctx, ap_device_new(q->ctx, "nic", iommu, 0x10, AP_GROUP_OWN, NULL),
		 "ap_device_new") ||
	    need(b, q->ctx, ap_viommu_new(q->ctx, iommu, NULL, &q->v), "ap_viommu_new"))
		return -1;
	q->desc = (struct vring_desc *)(void *)vq_host(q, geo.desc);
	q->avail = (struct vring_avail *)(void *)vq_host(q, geo.driver);
	q->used = (struct vring_used *)(void *)vq_host(q, geo.device);
	ap_viommu_set_status(q->v, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	ap_viommu_set_driver_features(q->v, want);
	ap_viommu_set_status(q->v, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					   VIRTIO_CONFIG_S_FEATURES_OK);
	if (need(b, q->ctx, ap_viommu_queue_enable(q->v, 0, &geo), "queue enable"))
		return -1;
	ap_viommu_set_status(q->v, ap_viommu_status(q->v) | VIRTIO_CONFIG_S_DRIVER_OK);
	vq_put(q, 0, &a, offsetof(struct virtio_iommu_req_attach, tail));
	vq_kick(q, 1);
	q->dom = ap_viommu_domain(q->v, 1);
	if (q->errors || !q->dom)
		return fail(b, "virtio-iommu ATTACH failed", NULL);
	return 0;
}

static int bench_virtio(struct bench *b)
{
	static const struct {
		uint64_t size;
		const char *name;
	} sizes[] = { { SZ_4K, "4K" }, { SZ_2M, "2M" } };
	struct vq_bench q = { 0 };
	char name[96];
	size_t k;
	int err = vq_setup(b, &q);

	if (err)
		goto out;
	fprintf(b->out, "\nvirtio (a virtio-iommu MAP then UNMAP of one mapping, READ|WRITE, through "
		"the\n  request queue of a 64-entry split ring in guest RAM, against ap_map + "
		"ap_unmap of the\n  same mapping on the same aperture domain; IOVAs cycled "
		"through 1024 of that size;\n  ns per MAP+UNMAP pair)\n");
	fprintf(b->out, "  %-6s %14s %16s %14s %9s %9s\n", "size", "1 per notify",
		"2 per notify", "ap_map+unmap", "x core", "x core");
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		double t1, t2, tc;

		q.size = sizes[k].size;
		q.n = 1024;
		q.per_notify = 1;
		t1 = measure(b, run_vq_pairs, &q);
		q.per_notify = 2;
		t2 = measure(b, run_vq_pairs, &q);
		tc = measure(b, run_core_pairs, &q);
		if (q.errors) {
			err = fail(b, "a virtio-iommu request failed", NULL);
			goto out;
		}
		snprintf(name, sizeof(name), "%s MAP+UNMAP, 1 request per notify", sizes[k].name);
		figure(b, name, t1, "ns/op");
		snprintf(name, sizeof(name), "%s MAP+UNMAP, 2 requests per notify", sizes[k].name);
		figure(b, name, t2, "ns/op");
		snprintf(name, sizeof(name), "%s ap_map+ap_unmap", sizes[k].name);
		figure(b, name, tc, "ns/op");
		fprintf(b->out, "  %-6s %14.1f %16.1f %14.1f %8.2fx %8.2fx\n", sizes[k].name, t1, t2,
			tc, t1 / tc, t2 / tc);
	}
	fprintf(b->out, "  (x core: 1 per notify, then 2 per notify.  What bounds it: per request "
		"the device\n  walks the chain, copies the request in and the status out through "
		"guest memory,\n  keeps the guest's mapping in its own tree, checks the endpoints' "
		"reserved regions\n  and takes its lock; per notify it finds the rings' RAM.  "
		"doc/virtio-iommu.md has\n  the instruction counts.)\n");
out:
	ap_ctx_free(q.ctx);
	return err;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: aperture bench [--quick] [--seed N] [--only LIST] [--json]\n"
		"  --quick      small counts, about 2 s in all (smoke test)\n"
		"  --json       the figures as one JSON document (schema aperture-bench/1)\n"
		"  --seed N     seed of the random address streams (default 1)\n"
		"  --only LIST  comma-separated sections: "
		"iotlb,translate,map,table,dma,formats,devices,vfio,virtio,vfio-scale\n");
}

static int parse_sections(const char *s, unsigned *out)
{
	*out = 0;
	while (s && *s) {
		size_t len = strcspn(s, ","), k;
		bool found = false;

		for (k = 0; k < sizeof(section_names) / sizeof(section_names[0]); k++) {
			if (strlen(section_names[k]) == len && !strncmp(s, section_names[k], len)) {
				*out |= 1u << k;
				found = true;
			}
		}
		if (!found)
			return -1;
		s += len;
		if (*s == ',')
			s++;
	}
	return *out ? 0 : -1;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

/* A string as JSON (the names here are ASCII). */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
		fprintf(f, (*s == '"' || *s == '\\') ? "\\%c" : (unsigned char)*s < 0x20 ? "\\u%04x" : "%c",
			*s);
	fputc('"', f);
}

/* The figures as one JSON document (doc/json-schema/bench-v1.schema.json). */
static void print_json(struct bench *b, FILE *f, bool failed, double total_s)
{
	char line[512], model[256] = "unknown";
	FILE *cpu = fopen("/proc/cpuinfo", "r");

	while (cpu && fgets(line, sizeof(line), cpu)) {
		char *colon = strchr(line, ':');

		if (!colon || (strncmp(line, "model name", 10) && strncmp(line, "Processor", 9)))
			continue;
		for (colon++; *colon == ' ' || *colon == '\t'; colon++)
			;
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(model, sizeof(model), "%s", colon);
		break;
	}
	if (cpu)
		fclose(cpu);
	fprintf(f, "{\n  \"schema\": \"aperture-bench/1\",\n  \"version\": ");
	json_string(f, AP_VERSION_STRING);
	fprintf(f, ",\n  \"machine\": {\n    \"cpu\": ");
	json_string(f, model);
	fprintf(f, ",\n    \"cpus\": %ld\n  },\n  \"compiler\": ", sysconf(_SC_NPROCESSORS_ONLN));
#ifdef __VERSION__
	json_string(f, __VERSION__);
#else
	json_string(f, "unknown");
#endif
	fprintf(f, ",\n  \"seed\": %" PRIu64 ",\n  \"quick\": %s,\n  \"runs\": %d,\n"
		"  \"figures\": [", b->seed, b->quick ? "true" : "false", b->runs);
	for (int i = 0; i < b->nfig && i < MAX_FIGURES; i++) {
		fprintf(f, "%s\n    { \"section\": ", i ? "," : "");
		json_string(f, b->fig[i].section);
		fprintf(f, ", \"name\": ");
		json_string(f, b->fig[i].name);
		if (isfinite(b->fig[i].value))
			fprintf(f, ", \"value\": %.6g, \"unit\": ", b->fig[i].value);
		else
			fprintf(f, ", \"value\": null, \"unit\": ");
		json_string(f, b->fig[i].unit);
		fprintf(f, " }");
	}
	fprintf(f, "%s],\n  \"total_seconds\": %.3f,\n  \"failed\": %s\n}\n",
		b->nfig ? "\n  " : "", total_s, failed ? "true" : "false");
	fflush(f);
}

static int bad_arg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A wrong command line: what is wrong, then the usage; status 2. */
static int bad_arg(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "aperture bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	return 2;
}

int ap_bench_run(FILE *out, int argc, char **argv)
{
	static struct bench b; /* the figures make it large */
	uint64_t t0 = now_ns();
	bool json = false;
	int i, err = 0;

	b = (struct bench){ .out = out, .seed = 1, .sections = SEC_ALL };

	bool seen_seed = false, seen_only = false;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--quick") || !strcmp(a, "--json")) {
			bool *flag = a[2] == 'q' ? &b.quick : &json;

			if (*flag)
				return bad_arg("%s given twice", a);
			*flag = true;
		} else if (!strcmp(a, "--seed") || !strncmp(a, "--seed=", 7)) {
			const char *v = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);

			if (seen_seed)
				return bad_arg("%s given twice", "--seed");
			seen_seed = true;
			if (parse_u64(v, &b.seed))
				return bad_arg("--seed needs a number, got '%s'", v ? v : "");
		} else if (!strcmp(a, "--only") || !strncmp(a, "--only=", 7)) {
			const char *v = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);

			if (seen_only)
				return bad_arg("%s given twice", "--only");
			seen_only = true;
			if (parse_sections(v, &b.sections))
				return bad_arg("--only needs a list of iotlb,translate,map,table,dma,"
					       "formats,devices,vfio,virtio,vfio-scale, got '%s'",
					       v ? v : "");
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(out);
			return 0;
		} else {
			return bad_arg("unknown option '%s'", a);
		}
	}
	if (json) {
		b.json = out;
		b.out = fopen("/dev/null", "w");
		if (!b.out) {
			fprintf(stderr, "aperture bench: cannot open /dev/null\n");
			return 1;
		}
	}
	b.target_ns = b.quick ? 2000000 : 40000000;
	b.runs = b.quick ? 3 : 9;
	print_machine(&b);
	warm_cpu(&b);
	if (!err && (b.sections & SEC_IOTLB))
		err = (b.section = "iotlb", bench_iotlb(&b));
	if (!err && (b.sections & SEC_TRANSLATE))
		err = (b.section = "translate", bench_translate(&b));
	if (!err && (b.sections & SEC_MAP))
		err = (b.section = "map", bench_map(&b));
	if (!err && (b.sections & SEC_TABLE))
		err = (b.section = "table", bench_table_bytes(&b));
	if (!err && (b.sections & SEC_DMA))
		err = (b.section = "dma", bench_dma(&b));
	if (!err && (b.sections & SEC_FORMATS))
		err = (b.section = "formats", bench_formats(&b));
	if (!err && (b.sections & SEC_DEVICES))
		err = (b.section = "devices", bench_devices(&b));
	if (!err && (b.sections & SEC_VFIO))
		err = (b.section = "vfio", bench_vfio(&b));
	if (!err && (b.sections & SEC_VIRTIO))
		err = (b.section = "virtio", bench_virtio(&b));
	/* in a file of its own (bench/vfio_scale.c), its figures through figure_cb */
	if (!err && (b.sections & SEC_VFIO_SCALE)) {
		b.section = "vfio-scale";
		if (ap_bench_vfio_scale(b.out, b.quick, b.seed, figure_cb, &b))
			b.failures++;
	}
	if (b.json) {
		fclose(b.out);
		print_json(&b, b.json, err || b.failures, (double)(now_ns() - t0) / 1e9);
		return err || b.failures ? 1 : 0;
	}
	if (err || b.failures) {
		fprintf(out, "\nFAILED: a setup step or self-check failed (see stderr)\n");
		fflush(out);
		return 1;
	}
	fprintf(out, "\ntotal %.2f s (sink %016" PRIx64 ")\n", (double)(now_ns() - t0) / 1e9,
		(uint64_t)b.sink);
	fflush(out);
	return 0;
}
