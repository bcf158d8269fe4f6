/* SPDX-License-Identifier: MIT */
/*
 * Allocation-failure injection, in the manner of Linux's iommufd fail_nth
 * selftest: every flow runs with ap_ctx_fail_nth(ctx, n) for n = 1, 2, ...
 * until it completes without the injected failure firing.  After every
 * injected failure the call must return -ENOMEM, hold no more memory than
 * before (ap_ctx_mem_stats) and have changed nothing observable: objects
 * and their names, mappings (leaf digest, ap_domain_iova_to_phys, leaf
 * count), geometry, page sizes, OAS, attachments, translations, RAM, the
 * table window and the event queues.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <aperture/core.h>

#include "domsnap.h"
#include "expect.h"
#include "failnth.h"

#define SZ_4K 0x1000ull
#define SZ_2M 0x200000ull
#define SZ_1G 0x40000000ull
#define SZ_4G 0x100000000ull
#define RW (AP_PROT_READ | AP_PROT_WRITE)
#define CHUNK_FRAMES 512 /* the table pool takes host memory 2 MiB at a time */

/* ------------------------------------------------------------ snapshots */

#define MAXO 16
#define MAXPROBE 8

struct probes {
	unsigned niova, npa;
	uint64_t iova[MAXPROBE];
	uint64_t pa[MAXPROBE];
};

struct snap {
	uint64_t allocs, bytes, wbase, wsize;
	unsigned niommu, ndev, ndom;
	struct {
		const struct ap_iommu *p;
		char name[64];
		unsigned pending;
		uint64_t faults;
	} iommu[MAXO];
	struct {
		const struct ap_device *p;
		char name[64];
		int group;
		const struct ap_domain *dom;
		enum ap_bypass bypass;
		bool ok[MAXPROBE];
		uint64_t pa[MAXPROBE];
	} dev[MAXO];
	struct domsnap dom[MAXO];
	const void *ram[MAXPROBE];
};

static void snap_take(struct ap_ctx *ctx, const struct probes *pr, struct snap *s)
{
	struct ap_iommu *i;
	struct ap_device *d;
	struct ap_domain *m;
	unsigned k;

	memset(s, 0, sizeof(*s));
	ap_ctx_mem_stats(ctx, &s->allocs, &s->bytes);
	ap_ctx_get_table_window(ctx, &s->wbase, &s->wsize);
	for (i = ap_iommu_next(ctx, NULL); i; i = ap_iommu_next(ctx, i)) {
		assert_true(s->niommu < MAXO);
		s->iommu[s->niommu].p = i;
		snprintf(s->iommu[s->niommu].name, 64, "%s", ap_iommu_name(i));
		s->iommu[s->niommu].pending = ap_iommu_fault_pending(i);
		s->iommu[s->niommu].faults = ap_iommu_fault_count(i, AP_FAULT_NONE);
		s->niommu++;
	}
	for (d = ap_device_next(ctx, NULL); d; d = ap_device_next(ctx, d)) {
		assert_true(s->ndev < MAXO);
		s->dev[s->ndev].p = d;
		snprintf(s->dev[s->ndev].name, 64, "%s", ap_device_name(d));
		s->dev[s->ndev].group = ap_device_group_id(d);
		s->dev[s->ndev].dom = ap_device_domain(d);
		s->dev[s->ndev].bypass = ap_device_bypasses(d);
		for (k = 0; k < pr->niova; k++)
			s->dev[s->ndev].ok[k] =
				ap_device_iova_to_phys(d, pr->iova[k], &s->dev[s->ndev].pa[k]);
		s->ndev++;
	}
	for (m = ap_domain_next(ctx, NULL); m; m = ap_domain_next(ctx, m)) {
		assert_true(s->ndom < MAXO);
		domsnap_take(m, pr->iova, pr->niova, &s->dom[s->ndom++]);
	}
	for (k = 0; k < pr->npa; k++)
		s->ram[k] = ap_ram_ptr(ctx, pr->pa[k], 1);
}

static void snap_check(struct ap_ctx *ctx, const struct probes *pr, const struct snap *a,
		       const char *flow, unsigned long n)
{
	struct snap b;
	unsigned k;

	snap_take(ctx, pr, &b);
	if (b.allocs != a->allocs || b.bytes != a->bytes)
		fail_msg("%s, n=%lu: memory held %llu/%llu allocations/bytes, before %llu/%llu",
			 flow, n, (unsigned long long)b.allocs, (unsigned long long)b.bytes,
			 (unsigned long long)a->allocs, (unsigned long long)a->bytes);
	assert_int_equal(b.wbase, a->wbase);
	assert_int_equal(b.wsize, a->wsize);
	assert_int_equal(b.niommu, a->niommu);
	assert_int_equal(b.ndev, a->ndev);
	assert_int_equal(b.ndom, a->ndom);
	for (k = 0; k < a->niommu; k++) {
		assert_ptr_equal(b.iommu[k].p, a->iommu[k].p);
		assert_ptr_equal(ap_iommu_find(ctx, a->iommu[k].name), a->iommu[k].p);
		assert_int_equal(b.iommu[k].pending, a->iommu[k].pending);
		assert_int_equal(b.iommu[k].faults, a->iommu[k].faults);
	}
	for (k = 0; k < a->ndev; k++) {
		assert_ptr_equal(b.dev[k].p, a->dev[k].p);
		assert_ptr_equal(ap_device_find(ctx, a->dev[k].name), a->dev[k].p);
		assert_int_equal(b.dev[k].group, a->dev[k].group);
		assert_ptr_equal(b.dev[k].dom, a->dev[k].dom);
		assert_int_equal(b.dev[k].bypass, a->dev[k].bypass);
		assert_memory_equal(b.dev[k].ok, a->dev[k].ok, sizeof(a->dev[k].ok));
		assert_memory_equal(b.dev[k].pa, a->dev[k].pa, sizeof(a->dev[k].pa));
	}
	for (k = 0; k < a->ndom; k++) {
		assert_ptr_equal(b.dom[k].p, a->dom[k].p);
		assert_ptr_equal(ap_domain_find(ctx, a->dom[k].name), a->dom[k].p);
		EXPECT(domsnap_same_shape(&b.dom[k], &a->dom[k]),
		       "%s, n=%lu: domain '%s': type, geometry, page sizes or OAS changed", flow, n,
		       a->dom[k].name);
		EXPECT(domsnap_same_mappings(&b.dom[k], &a->dom[k]),
		       "%s, n=%lu: domain '%s': mappings changed (%llu leaves -> %llu)", flow, n,
		       a->dom[k].name, (ull)a->dom[k].leaves, (ull)b.dom[k].leaves);
	}
	for (k = 0; k < pr->npa; k++)
		assert_ptr_equal(b.ram[k], a->ram[k]);
}

/* ------------------------------------------------------------ the driver */

typedef int (*flow_fn)(struct ap_ctx *ctx, void *arg);

/* The shared driver (failnth.h), with this file's snapshot of the core. */
struct core_flow {
	struct ap_ctx *ctx;
	flow_fn fn;
	void *arg;
	const struct probes *pr;
	struct snap before;
};

static int core_step(void *p)
{
	struct core_flow *cf = p;

	return cf->fn(cf->ctx, cf->arg);
}

static void core_before(void *p)
{
	struct core_flow *cf = p;

	snap_take(cf->ctx, cf->pr, &cf->before);
}

static void core_unchanged(void *p, const char *flow, unsigned long n)
{
	struct core_flow *cf = p;

	snap_check(cf->ctx, cf->pr, &cf->before, flow, n);
}

static unsigned long run_flow(struct ap_ctx *ctx, const char *flow, flow_fn fn, void *arg,
			      const struct probes *pr)
{
	static struct core_flow cf; /* a snapshot is large */
	struct failnth_flow f = { flow, ctx, core_step, &cf, core_before, core_unchanged, &cf };

	cf.ctx = ctx;
	cf.fn = fn;
	cf.arg = arg;
	cf.pr = pr;
	return failnth_run(&f);
}

static struct ap_iommu *mk_iommu(struct ap_ctx *ctx, const char *name, unsigned ias)
{
	struct ap_iommu_config c;
	struct ap_iommu *iommu = NULL;

	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	c.ias = ias;
	assert_int_equal(ap_iommu_new(ctx, name, &c, &iommu), 0);
	return iommu;
}

static uint64_t pool_frames(struct ap_ctx *ctx)
{
	struct ap_domain *m;
	uint64_t bytes = 0;

	for (m = ap_domain_next(ctx, NULL); m; m = ap_domain_next(ctx, m))
		if (ap_domain_pt(m))
			bytes += ap_pt_table_bytes(ap_domain_pt(m));
	return bytes / SZ_4K;
}

/*
 * Use up the first pool chunk until `left` frames are free in it, with 4K
 * tables of a filler domain (one last-level table per 2 MiB slot, all
 * under one level-2 table), so that the next tables need new host memory.
 * Every table in the context must be one 4 KiB frame.
 */
static void fill_chunk0(struct ap_ctx *ctx, struct ap_domain *filler, uint64_t left)
{
	uint64_t allocs0, allocs, k;

	ap_ctx_mem_stats(ctx, &allocs0, NULL);
	for (k = 0; pool_frames(ctx) < CHUNK_FRAMES - left; k++) {
		assert_true(k < 512);
		assert_int_equal(ap_map(filler, 0x7f0000000000ull + k * SZ_2M, 0x1000, SZ_4K, RW), 0);
	}
	assert_int_equal(pool_frames(ctx), CHUNK_FRAMES - left);
	ap_ctx_mem_stats(ctx, &allocs, NULL);
	assert_int_equal(allocs, allocs0); /* all in the first chunk */
}

/* ------------------------------------------------------------ flows */

struct iommu_args {
	const char *name;
	struct ap_iommu_config cfg;
};

static int flow_iommu_new(struct ap_ctx *ctx, void *arg)
{
	struct iommu_args *a = arg;

	return ap_iommu_new(ctx, a->name, &a->cfg, NULL);
}

static void test_iommu_new(void **state)
{
	struct ap_ctx *ctx = *state;
	struct probes pr = { 0 };
	struct iommu_args a = { .name = "smmu0" };

	ap_iommu_config_init(&a.cfg, AP_IOMMU_ARM_SMMU_V3);
	/* the instance, its event queue, its IOTLB */
	assert_int_equal(run_flow(ctx, "ap_iommu_new", flow_iommu_new, &a, &pr), 3);
	assert_non_null(ap_iommu_find(ctx, "smmu0"));
	a.name = "smmu1";
	a.cfg.evtq_size = 65536;
	assert_int_equal(run_flow(ctx, "ap_iommu_new (second, big queue)", flow_iommu_new, &a,
				  &pr),
			 3);
}

struct dev_args {
	const char *name;
	struct ap_iommu *iommu;
	uint32_t sid;
	int group;
};

static int flow_device_new(struct ap_ctx *ctx, void *arg)
{
	struct dev_args *a = arg;

	return ap_device_new(ctx, a->name, a->iommu, a->sid, a->group, NULL);
}

static void test_device_new(void **state)
{
	struct ap_ctx *ctx = *state;
	struct probes pr = { 0 };
	struct dev_args a;

	a.iommu = mk_iommu(ctx, "smmu", 48);
	a.name = "dev0";
	a.sid = 1;
	a.group = AP_GROUP_OWN;
	/* the device, its group, and the first table of each of the three
	 * indexes (devices by name and by stream, groups by number) */
	assert_int_equal(run_flow(ctx, "ap_device_new (own group)", flow_device_new, &a, &pr), 5);
	assert_int_equal(ap_device_group_id(ap_device_find(ctx, "dev0")), 0);
	a.name = "dev1";
	a.sid = 2;
	a.group = 0;
	assert_int_equal(run_flow(ctx, "ap_device_new (existing group)", flow_device_new, &a,
				  &pr),
			 1);
	a.name = "dev2";
	a.sid = 3;
	a.group = 5;
	assert_int_equal(run_flow(ctx, "ap_device_new (new numbered group)", flow_device_new, &a,
				  &pr),
			 2);
	assert_int_equal(ap_device_group_id(ap_device_find(ctx, "dev2")), 5);
}

struct dom_args {
	const char *name;
	struct ap_iommu *iommu;
	enum ap_domain_type type;
};

static int flow_domain_new(struct ap_ctx *ctx, void *arg)
{
	struct dom_args *a = arg;

	return ap_domain_new(ctx, a->name, a->iommu, a->type, NULL);
}

static void test_domain_new(void **state)
{
	struct ap_ctx *ctx = *state;
	struct probes pr = { 0 };
	struct dom_args a;
	uint64_t base, size;
	unsigned long points;

	a.iommu = mk_iommu(ctx, "smmu", 48);
	a.name = "blocked";
	a.type = AP_DOMAIN_BLOCKED;
	assert_int_equal(run_flow(ctx, "ap_domain_new blocked", flow_domain_new, &a, &pr), 1);
	a.name = "ident";
	a.type = AP_DOMAIN_IDENTITY;
	assert_int_equal(run_flow(ctx, "ap_domain_new identity", flow_domain_new, &a, &pr), 1);
	/* the first paging domain also chooses the table window */
	ap_ctx_get_table_window(ctx, &base, &size);
	assert_int_equal(size, 0);
	a.name = "first";
	a.type = AP_DOMAIN_PAGING;
	points = run_flow(ctx, "ap_domain_new paging (first: table window)", flow_domain_new, &a,
			  &pr);
	/* domain, window bitmap, chunk array, leaf counts, table handle,
	 * first chunk */
	assert_true(points >= 6);
	ap_ctx_get_table_window(ctx, &base, &size);
	assert_true(size > 0);
	a.name = "second";
	points = run_flow(ctx, "ap_domain_new paging (second)", flow_domain_new, &a, &pr);
	assert_true(points >= 2);
	a.iommu = mk_iommu(ctx, "smmu32", 32);
	a.name = "third";
	points = run_flow(ctx, "ap_domain_new paging (32-bit)", flow_domain_new, &a, &pr);
	assert_true(points >= 2);
}

static int flow_set_window(struct ap_ctx *ctx, void *arg)
{
	(void)arg;
	return ap_ctx_set_table_window(ctx, 0x200000000ull, 0x4000000);
}

static void test_table_window(void **state)
{
	struct ap_ctx *ctx = *state;
	struct probes pr = { 0 };
	uint64_t base, size;

	/* the frame bitmap, the chunk array and the per-frame leaf counts */
	assert_int_equal(run_flow(ctx, "ap_ctx_set_table_window", flow_set_window, NULL, &pr), 3);
	ap_ctx_get_table_window(ctx, &base, &size);
	assert_int_equal(base, 0x200000000ull);
}

struct map_args {
	struct ap_domain *dom;
	uint64_t iova, pa, size;
};

static int flow_map(struct ap_ctx *ctx, void *arg)
{
	struct map_args *a = arg;

	(void)ctx;
	return ap_map(a->dom, a->iova, a->pa, a->size, RW);
}

/*
 * A map that needs a level-1, two level-2 and two level-3 tables, with one
 * frame left in the first pool chunk: the rest needs a new chunk.
 */
static void test_map_new_tables(void **state)
{
	struct ap_ctx *ctx = *state;
	struct ap_iommu *s;
	struct ap_device *dev;
	struct ap_domain *dom, *filler;
	struct map_args a;
	struct probes pr = { 0 };
	uint64_t pa;
	unsigned long points;

	assert_int_equal(ap_ram_alloc(ctx, 0x40000000, 0x100000, NULL), 0);
	s = mk_iommu(ctx, "smmu", 48);
	assert_int_equal(ap_device_new(ctx, "dev", s, 1, AP_GROUP_OWN, &dev), 0);
	assert_int_equal(ap_domain_new(ctx, "dom", s, AP_DOMAIN_PAGING, &dom), 0);
	assert_int_equal(ap_domain_new(ctx, "filler", s, AP_DOMAIN_PAGING, &filler), 0);
	assert_int_equal(ap_attach(dom, dev), 0);
	assert_int_equal(ap_map(dom, 0x10000, 0x40000000, SZ_4K, RW), 0);
	fill_chunk0(ctx, filler, 1);
	/* 1 GiB - 4K .. 1 GiB + 4K in a fresh 512 GiB slot */
	a.dom = dom;
	a.iova = 0x8000000000ull + SZ_1G - SZ_4K;
	a.pa = 0x40001000;
	a.size = 2 * SZ_4K;
	pr.niova = 4;
	pr.iova[0] = a.iova;
	pr.iova[1] = a.iova + SZ_4K;
	pr.iova[2] = 0x10000;
	pr.iova[3] = a.iova - SZ_4K;
	points = run_flow(ctx, "ap_map (new L1+L2+L3 tables, chunk edge)", flow_map, &a, &pr);
	assert_true(points >= 1);
	assert_true(ap_domain_iova_to_phys(dom, a.iova + SZ_4K + 5, &pa));
	assert_int_equal(pa, 0x40002005);
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(dom)), 3);
}

/*
 * A map of 2 GiB - 4 MiB of 4K pages (iova and pa congruent only modulo
 * 4K) that needs ~1000 new last-level tables: several new pool chunks, each
 * an injection point in the middle of the map, which must then be undone.
 * The level-1 and level-2 tables exist before.
 */
static void test_map_large(void **state)
{
	struct ap_ctx *ctx = *state;
	struct ap_iommu *s;
	struct ap_domain *dom;
	struct map_args a;
	struct probes pr = { 0 };
	uint64_t g1 = 0x8000000000ull, pa, n;
	unsigned long points;

	s = mk_iommu(ctx, "smmu", 48);
	assert_int_equal(ap_domain_new(ctx, "dom", s, AP_DOMAIN_PAGING, &dom), 0);
	assert_int_equal(ap_map(dom, g1, 0x1000, SZ_4K, RW), 0);
	assert_int_equal(ap_map(dom, g1 + 2 * SZ_1G - SZ_2M, 0x1000, SZ_4K, RW), 0);
	a.dom = dom;
	a.iova = g1 + SZ_2M;
	a.pa = 0x100001000ull;
	a.size = 2 * SZ_1G - 2 * SZ_2M;
	pr.niova = 5;
	pr.iova[0] = a.iova;
	pr.iova[1] = a.iova + SZ_1G;
	pr.iova[2] = a.iova + a.size - SZ_4K;
	pr.iova[3] = g1;
	pr.iova[4] = g1 + 2 * SZ_1G - SZ_2M;
	points = run_flow(ctx, "ap_map (2 GiB of 4K pages, ~1000 tables)", flow_map, &a, &pr);
	assert_true(points >= 2);
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(dom)), 2 + a.size / SZ_4K);
	assert_true(ap_domain_iova_to_phys(dom, a.iova + a.size - 1, &pa));
	assert_int_equal(pa, a.pa + a.size - 1);
	assert_int_equal(ap_unmap(dom, a.iova, a.size, &n), 0);
	assert_int_equal(n, a.size);
}

/*
 * The same, into a fresh 1 GiB region, so that a level-2 table is
 * allocated in the middle of the map as well.  A failed map must give that
 * table back too: if it stays (empty) in a pool chunk the failed call
 * allocated, the context holds 2 MiB more than before the call.
 */
static void test_map_large_fresh(void **state)
{
	struct ap_ctx *ctx = *state;
	struct ap_iommu *s;
	struct ap_domain *dom;
	struct map_args a;
	struct probes pr = { 0 };
	unsigned long points;

	s = mk_iommu(ctx, "smmu", 48);
	assert_int_equal(ap_domain_new(ctx, "dom", s, AP_DOMAIN_PAGING, &dom), 0);
	a.dom = dom;
	a.iova = 0x8000000000ull;
	a.pa = 0x100001000ull;
	a.size = 2 * SZ_1G;
	pr.niova = 2;
	pr.iova[0] = a.iova;
	pr.iova[1] = a.iova + a.size - SZ_4K;
	points = run_flow(ctx, "ap_map (2 GiB of 4K pages, fresh L2 tables)", flow_map, &a, &pr);
	assert_true(points >= 2);
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(dom)), a.size / SZ_4K);
}

struct attach_args {
	struct ap_domain *dom;
	struct ap_device *dev;
};

static int flow_attach(struct ap_ctx *ctx, void *arg)
{
	struct attach_args *a = arg;

	(void)ctx;
	return ap_attach(a->dom, a->dev);
}

/*
 * A 48-bit domain attached through a 32-bit instance: the walk for that
 * instance starts at a level-1 table under level-0 index 0, which does not
 * exist yet, and the first pool chunk is full.
 */
static void test_attach_subroot(void **state)
{
	struct ap_ctx *ctx = *state;
	struct ap_iommu *big, *small;
	struct ap_device *db, *ds, *ds2;
	struct ap_domain *dom, *filler;
	struct attach_args a;
	struct probes pr = { 0 };
	struct ap_geometry g;
	struct ap_translation t;
	uint8_t byte = 0x5a, back = 0;
	uint64_t tb;
	unsigned long points;

	assert_int_equal(ap_ram_alloc(ctx, 0x40000000, 0x100000, NULL), 0);
	big = mk_iommu(ctx, "big", 48);
	small = mk_iommu(ctx, "small", 32);
	assert_int_equal(ap_device_new(ctx, "db", big, 1, AP_GROUP_OWN, &db), 0);
	assert_int_equal(ap_device_new(ctx, "ds", small, 1, AP_GROUP_OWN, &ds), 0);
	assert_int_equal(ap_device_new(ctx, "ds2", small, 2, AP_GROUP_OWN, &ds2), 0);
	assert_int_equal(ap_domain_new(ctx, "dom", big, AP_DOMAIN_PAGING, &dom), 0);
	assert_int_equal(ap_domain_new(ctx, "filler", big, AP_DOMAIN_PAGING, &filler), 0);
	a.dom = dom;
	a.dev = db;
	pr.niova = 2;
	pr.iova[0] = 0x1000;
	pr.iova[1] = 0x8000000000ull;
	points = run_flow(ctx, "ap_attach (same size)", flow_attach, &a, &pr);
	assert_int_equal(points, 1);
	fill_chunk0(ctx, filler, 0);
	tb = ap_pt_table_bytes(ap_domain_pt(dom));
	a.dev = ds;
	points = run_flow(ctx, "ap_attach (32-bit walk, new sub-root table)", flow_attach, &a, &pr);
	assert_true(points >= 2);
	assert_int_equal(ap_pt_table_bytes(ap_domain_pt(dom)), tb + SZ_4K);
	ap_domain_geometry(dom, &g);
	assert_int_equal(g.end, 0xffffffffull);
	assert_ptr_equal(ap_device_domain(ds), dom);
	/* a second group through the same instance needs only its bookkeeping */
	a.dev = ds2;
	points = run_flow(ctx, "ap_attach (second group, same instance)", flow_attach, &a, &pr);
	assert_int_equal(points, 0);
	/* the sub-root works for both */
	assert_int_equal(ap_map(dom, 0x1000, 0x40000000, SZ_4K, RW), 0);
	assert_int_equal(ap_translate(ds, 0x1008, AP_ACCESS_READ, &t, NULL), 0);
	assert_int_equal(t.pa, 0x40000008);
	assert_int_equal(ap_dma_write(ds2, 0x1010, &byte, 1, NULL), 0);
	assert_int_equal(ap_dma_read(db, 0x1010, &back, 1, NULL), 0);
	assert_int_equal(back, 0x5a);
}

static int flow_replace(struct ap_ctx *ctx, void *arg)
{
	struct attach_args *a = arg;

	(void)ctx;
	return ap_replace(a->dom, a->dev);
}

/*
 * ap_replace from a blocking domain to a paging one through a 32-bit
 * instance, as VFIO moves a claimed group: a failure
 * leaves the group on the blocking domain.
 */
static void test_replace(void **state)
{
	struct ap_ctx *ctx = *state;
	struct ap_iommu *big, *small;
	struct ap_device *ds;
	struct ap_domain *dom, *blk;
	struct attach_args a;
	struct probes pr = { 0 };

	big = mk_iommu(ctx, "big", 48);
	small = mk_iommu(ctx, "small", 32);
	assert_int_equal(ap_device_new(ctx, "ds", small, 1, AP_GROUP_OWN, &ds), 0);
	assert_int_equal(ap_domain_new(ctx, "dom", big, AP_DOMAIN_PAGING, &dom), 0);
	assert_int_equal(ap_domain_new(ctx, "blk", small, AP_DOMAIN_BLOCKED, &blk), 0);
	assert_int_equal(ap_attach(blk, ds), 0);
	a.dom = dom;
	a.dev = ds;
	pr.niova = 1;
	pr.iova[0] = 0x1000;
	assert_true(run_flow(ctx, "ap_replace (blocked -> paging, 32-bit walk)", flow_replace, &a,
			     &pr) >= 1);
	assert_ptr_equal(ap_device_domain(ds), dom);
	a.dom = blk;
	assert_int_equal(run_flow(ctx, "ap_replace (back to blocked)", flow_replace, &a, &pr), 1);
	assert_ptr_equal(ap_device_domain(ds), blk);
}

struct ram_args {
	uint64_t pa, size;
};

static int flow_ram_alloc(struct ap_ctx *ctx, void *arg)
{
	struct ram_args *a = arg;

	return ap_ram_alloc(ctx, a->pa, a->size, NULL);
}

static void test_ram_alloc(void **state)
{
	struct ap_ctx *ctx = *state;
	struct probes pr = { 0 };
	struct ram_args a = { 0x100000, 0x10000 };

	pr.npa = 3;
	pr.pa[0] = 0x100000;
	pr.pa[1] = 0x200000;
	pr.pa[2] = 0x80000;
	assert_int_equal(run_flow(ctx, "ap_ram_alloc (first)", flow_ram_alloc, &a, &pr), 2);
	a.pa = 0x80000;
	/* every region takes its memory and its node in the RAM tree */
	assert_int_equal(run_flow(ctx, "ap_ram_alloc (second, sorted before)", flow_ram_alloc, &a,
				  &pr),
			 2);
	a.pa = 0x200000;
	assert_int_equal(run_flow(ctx, "ap_ram_alloc (third)", flow_ram_alloc, &a, &pr), 2);
	assert_non_null(ap_ram_ptr(ctx, 0x80000, 0x10000));
	assert_non_null(ap_ram_ptr(ctx, 0x100000, 0x10000));
	assert_non_null(ap_ram_ptr(ctx, 0x200000, 0x10000));
}

/* The context lives in cmocka's state, so that a failing flow leaks nothing. */
static int ctx_setup(void **state)
{
	*state = ap_ctx_new();
	return *state ? 0 : -1;
}

static int ctx_teardown(void **state)
{
	ap_ctx_free(*state);
	return 0;
}

#define FLOW(fn) cmocka_unit_test_setup_teardown(fn, ctx_setup, ctx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FLOW(test_iommu_new),
		FLOW(test_device_new),
		FLOW(test_domain_new),
		FLOW(test_table_window),
		FLOW(test_map_new_tables),
		FLOW(test_map_large),
		FLOW(test_map_large_fresh),
		FLOW(test_attach_subroot),
		FLOW(test_replace),
		FLOW(test_ram_alloc),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
