/* SPDX-License-Identifier: MIT */
/*
 * bench/compare.c - the table-operation workloads of issue 14, on the public
 * API only, so that the same file builds against this tree's library and
 * against an older one (tools/bench-compare builds it twice and runs the two
 * binaries alternately).  It uses nothing of struct ap_iommu_config but what
 * ap_iommu_config_init() fills and ias/oas, so that it compiles against the
 * headers before and after that struct grew per-kind fields.
 *
 * Every workload is a 48-bit stage-1 SMMUv3 domain with 4K|2M|1G pages:
 *
 *   map4k       ap_map of one 4K page per call, 65,536 consecutive IOVAs
 *               (scattered PAs), into a domain attached to nothing
 *   unmap4k     ap_unmap of those pages, one call each
 *   pair4k      ap_map + ap_unmap of one 4K page at one IOVA, repeated
 *   walk        ap_domain_iova_to_phys of random pages among 65,536 mapped
 *   miss        ap_translate by an attached device over a random order of
 *               65,536 mapped pages: every access misses the 4096-entry
 *               IOTLB (the walk and the fill)
 *   map2m       ap_map of one 2M block per call (16,384 blocks)
 *   unmap2m     ap_unmap of those blocks, one call each
 *   map64m      one ap_map of 64 MiB that only 4K leaves can map (the PA is
 *               4K off the IOVA's 2M alignment): 16,384 leaves
 *   unmap64m    one ap_unmap of those 64 MiB
 *   unmap4k_att as unmap4k, in a domain attached to a device (so every
 *               unmap invalidates the instance's IOTLB, strictly)
 *
 * Output: one line per workload, "NAME NS_PER_OP" (ns per call, or per
 * translation), each the median of its rounds; a check failure prints
 * "FAILED ..." on stderr and exits 1.
 */
#include <aperture/aperture.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SZ_4K (1ull << 12)
#define SZ_2M (1ull << 21)
#define SZ_64M (64ull << 20)
#define PROT_RW (AP_PROT_READ | AP_PROT_WRITE)
#define N4K 65536ull
#define N2M 16384ull
#define IOVA_4K 0x40000000ull     /* 1 GiB */
#define IOVA_PAIR 0x7fe00000ull
#define IOVA_2M 0x8000000000ull   /* 512 GiB */
#define IOVA_64M 0x4000000000ull  /* 256 GiB */
#define PA_BASE 0x2000000000ull   /* 128 GiB: translated, never touched */
#define GOLDEN 0x9E3779B1ull      /* odd: i * GOLDEN mod 2^k permutes */
#define MAX_ROUNDS 31

static int rounds = 9;
static unsigned long long sink;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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

static void die(struct ap_ctx *ctx, const char *what)
{
	fprintf(stderr, "FAILED %s%s%s\n", what, ctx ? ": " : "", ctx ? ap_ctx_error(ctx) : "");
	exit(1);
}

/* A permutation of 0..n-1 for n a power of two. */
static uint64_t scatter(uint64_t i, uint64_t n)
{
	return (i * GOLDEN) & (n - 1);
}

struct machine {
	struct ap_ctx *ctx;
	struct ap_iommu *iommu;
	unsigned ndom;
};

static void machine_init(struct machine *m)
{
	struct ap_iommu_config cfg;

	m->ctx = ap_ctx_new();
	if (!m->ctx)
		die(NULL, "ap_ctx_new");
	ap_iommu_config_init(&cfg, AP_IOMMU_ARM_SMMU_V3);
	cfg.ias = 48;
	cfg.oas = 48;
	if (ap_iommu_new(m->ctx, "smmu", &cfg, &m->iommu))
		die(m->ctx, "ap_iommu_new");
	m->ndom = 0;
}

/* A paging domain, attached to a new device when dev is not NULL. */
static struct ap_domain *domain(struct machine *m, struct ap_device **dev)
{
	struct ap_domain *dom;
	char name[32];

	snprintf(name, sizeof(name), "d%u", m->ndom);
	if (ap_domain_new(m->ctx, name, m->iommu, AP_DOMAIN_PAGING, &dom))
		die(m->ctx, "ap_domain_new");
	if (dev) {
		snprintf(name, sizeof(name), "dev%u", m->ndom);
		if (ap_device_new(m->ctx, name, m->iommu, m->ndom + 1, AP_GROUP_OWN, dev) ||
		    ap_attach(dom, *dev))
			die(m->ctx, "device");
	}
	m->ndom++;
	return dom;
}

static void map_pages(struct ap_domain *dom, uint64_t iova, uint64_t pgsize, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		if (ap_map(dom, iova + i * pgsize, PA_BASE + scatter(i, n) * pgsize, pgsize, PROT_RW))
			die(NULL, "ap_map");
}

/* n maps of pgsize, one call each, then n unmaps: each pass timed. */
static void batch(struct ap_domain *dom, uint64_t iova, uint64_t pgsize, uint64_t n,
		  double *map_ns, double *unmap_ns)
{
	double ms[MAX_ROUNDS] = { 0 }, us[MAX_ROUNDS] = { 0 };
	uint64_t i, t, got, bad;
	int r;

	for (r = -1; r < rounds; r++) {
		t = now_ns();
		map_pages(dom, iova, pgsize, n);
		t = now_ns() - t;
		if (r >= 0)
			ms[r] = (double)t / (double)n;
		bad = 0;
		t = now_ns();
		for (i = 0; i < n; i++) {
			got = 0;
			ap_unmap(dom, iova + i * pgsize, pgsize, &got);
			bad += got != pgsize;
		}
		t = now_ns() - t;
		if (r >= 0)
			us[r] = (double)t / (double)n;
		if (bad || ap_pt_leaf_count(ap_domain_pt(dom)))
			die(NULL, "unmap");
	}
	*map_ns = median(ms, rounds);
	*unmap_ns = median(us, rounds);
}

static double pair(struct ap_domain *dom)
{
	double v[MAX_ROUNDS] = { 0 };
	uint64_t i, t, got, bad = 0, n = 1u << 18;
	int r;

	for (r = -1; r < rounds; r++) {
		t = now_ns();
		for (i = 0; i < n; i++) {
			got = 0;
			bad += ap_map(dom, IOVA_PAIR, PA_BASE, SZ_4K, PROT_RW) != 0;
			ap_unmap(dom, IOVA_PAIR, SZ_4K, &got);
			bad += got != SZ_4K;
		}
		t = now_ns() - t;
		if (r >= 0)
			v[r] = (double)t / (double)n;
	}
	if (bad)
		die(NULL, "pair");
	return median(v, rounds);
}

/* A random order of the n mapped pages (IOVAs inside them). */
static uint64_t *random_order(uint64_t n)
{
	uint64_t *a = malloc(n * sizeof(*a)), i, s = 1;

	if (!a)
		die(NULL, "malloc");
	for (i = 0; i < n; i++)
		a[i] = i;
	for (i = n - 1; i > 0; i--) {
		uint64_t j, x;

		s = s * 6364136223846793005ull + 1442695040888963407ull;
		j = (s >> 33) % (i + 1);
		x = a[i];
		a[i] = a[j];
		a[j] = x;
	}
	for (i = 0; i < n; i++)
		a[i] = IOVA_4K + a[i] * SZ_4K + (a[i] & 0xff8);
	return a;
}

static uint64_t expect_pa(uint64_t iova)
{
	uint64_t page = (iova - IOVA_4K) / SZ_4K;

	return PA_BASE + scatter(page, N4K) * SZ_4K + (iova & (SZ_4K - 1));
}

static double walk(struct ap_domain *dom, const uint64_t *order)
{
	double v[MAX_ROUNDS] = { 0 };
	uint64_t i, t, pa, acc = 0, bad = 0;
	int r, pass;

	for (i = 0; i < N4K; i++)
		if (!ap_domain_iova_to_phys(dom, order[i], &pa) || pa != expect_pa(order[i]))
			die(NULL, "iova_to_phys");
	for (r = -1; r < rounds; r++) {
		t = now_ns();
		for (pass = 0; pass < 4; pass++)
			for (i = 0; i < N4K; i++) {
				bad += !ap_domain_iova_to_phys(dom, order[i], &pa);
				acc += pa;
			}
		t = now_ns() - t;
		if (r >= 0)
			v[r] = (double)t / (double)(4 * N4K);
	}
	if (bad)
		die(NULL, "iova_to_phys");
	sink += acc;
	return median(v, rounds);
}

static double miss(struct ap_ctx *ctx, struct ap_device *dev, const uint64_t *order)
{
	double v[MAX_ROUNDS] = { 0 };
	struct ap_translation tr;
	struct ap_iotlb_stats st0, st1;
	uint64_t i, t, acc = 0, bad = 0;
	int r, pass;

	for (i = 0; i < N4K; i++)
		if (ap_translate(dev, order[i], AP_ACCESS_READ, &tr, NULL) ||
		    tr.pa != expect_pa(order[i]))
			die(ctx, "ap_translate");
	ap_iommu_iotlb_stats(ap_device_iommu(dev), &st0);
	for (r = -1; r < rounds; r++) {
		t = now_ns();
		for (pass = 0; pass < 4; pass++)
			for (i = 0; i < N4K; i++) {
				bad += ap_translate(dev, order[i], AP_ACCESS_READ, &tr, NULL) != 0;
				acc += tr.pa;
			}
		t = now_ns() - t;
		if (r >= 0)
			v[r] = (double)t / (double)(4 * N4K);
	}
	ap_iommu_iotlb_stats(ap_device_iommu(dev), &st1);
	if (bad)
		die(ctx, "ap_translate");
	/* the workload is misses: allow the odd hit of a page still cached */
	if ((st1.hits - st0.hits) * 100 > st1.misses - st0.misses)
		die(NULL, "the miss workload hit the IOTLB");
	sink += acc;
	return median(v, rounds);
}

/*
 * The 64 MiB workloads run in the steady state of a program that maps and
 * unmaps repeatedly: the warm-up rounds take the table pool through a
 * batch of deferred frees (a table freed waits for a grace period, and a
 * library may let a batch of them wait), so that no timed round pays for
 * the first touch of a frame the pool never handed out before.
 */
#define BIG_WARMUP 12

static void big(struct ap_domain *dom, double *map_ns, double *unmap_ns)
{
	double ms[MAX_ROUNDS] = { 0 }, us[MAX_ROUNDS] = { 0 };
	uint64_t t, got;
	int r;

	for (r = -BIG_WARMUP; r < rounds; r++) {
		t = now_ns();
		if (ap_map(dom, IOVA_64M, PA_BASE + SZ_4K, SZ_64M, PROT_RW))
			die(NULL, "ap_map 64M");
		t = now_ns() - t;
		if (r >= 0)
			ms[r] = (double)t;
		if (ap_pt_leaf_count(ap_domain_pt(dom)) != SZ_64M / SZ_4K ||
		    ap_pt_sizes_in_use(ap_domain_pt(dom)) != SZ_4K)
			die(NULL, "64M as 4K leaves");
		got = 0;
		t = now_ns();
		ap_unmap(dom, IOVA_64M, SZ_64M, &got);
		t = now_ns() - t;
		if (r >= 0)
			us[r] = (double)t;
		if (got != SZ_64M || ap_pt_leaf_count(ap_domain_pt(dom)))
			die(NULL, "ap_unmap 64M");
	}
	*map_ns = median(ms, rounds);
	*unmap_ns = median(us, rounds);
}

static bool wanted(const char *only, const char *name)
{
	size_t len = strlen(name);
	const char *p = only;

	if (!only)
		return true;
	while ((p = strstr(p, name))) {
		if ((p == only || p[-1] == ',') && (p[len] == ',' || !p[len]))
			return true;
		p += len;
	}
	return false;
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	struct machine m;
	struct ap_domain *dom;
	struct ap_device *dev;
	uint64_t *order;
	double a, b;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			rounds = 3;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--quick] [--only NAME,...]\n", argv[0]);
			return 2;
		}
	}
	machine_init(&m);
	order = random_order(N4K);
	if (wanted(only, "map4k") || wanted(only, "unmap4k")) {
		batch(domain(&m, NULL), IOVA_4K, SZ_4K, N4K, &a, &b);
		printf("map4k %.3f\nunmap4k %.3f\n", a, b);
	}
	if (wanted(only, "pair4k"))
		printf("pair4k %.3f\n", pair(domain(&m, NULL)));
	if (wanted(only, "walk")) {
		dom = domain(&m, NULL);
		map_pages(dom, IOVA_4K, SZ_4K, N4K);
		printf("walk %.3f\n", walk(dom, order));
	}
	if (wanted(only, "miss")) {
		dom = domain(&m, &dev);
		map_pages(dom, IOVA_4K, SZ_4K, N4K);
		printf("miss %.3f\n", miss(m.ctx, dev, order));
	}
	if (wanted(only, "map2m") || wanted(only, "unmap2m")) {
		batch(domain(&m, NULL), IOVA_2M, SZ_2M, N2M, &a, &b);
		printf("map2m %.3f\nunmap2m %.3f\n", a, b);
	}
	if (wanted(only, "map64m") || wanted(only, "unmap64m")) {
		big(domain(&m, NULL), &a, &b);
		printf("map64m %.1f\nunmap64m %.1f\n", a, b);
	}
	if (wanted(only, "unmap4k_att")) {
		batch(domain(&m, &dev), IOVA_4K, SZ_4K, N4K, &a, &b);
		printf("unmap4k_att %.3f\n", b);
	}
	free(order);
	ap_ctx_free(m.ctx);
	printf("sink %llu\n", sink);
	return 0;
}
