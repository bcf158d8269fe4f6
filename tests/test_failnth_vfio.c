/* SPDX-License-Identifier: MIT */
/*
 * Allocation-failure injection through the VFIO API and the scenario
 * executor, in the manner of Linux's iommufd fail_nth selftest: each step
 * runs with ap_ctx_fail_nth(ctx, n) for n = 1, 2, ... until it completes
 * without the injected failure firing, and must then succeed.
 *
 * VFIO steps that can fail must, after every injected failure, have
 * returned -1 with errno ENOMEM and a reason that says so, hold exactly the
 * memory they held before (ap_ctx_mem_stats) and have changed nothing
 * observable: the handles (GET_STATUS on each), each container's state, its
 * groups, domains, usable IOVA ranges and the bytes VFIO_IOMMU_GET_INFO
 * writes (DMA_AVAIL, IOVA ranges, page sizes), the core's domains
 * (geometry, page sizes, leaves, translations at probe IOVAs), the devices'
 * attachments and translations, and RAM.  Dirty bits cannot be read
 * without clearing them, so the dirty flows check them once at the end.
 *
 * Steps that cannot fail (closing a group, UNSET_CONTAINER) run on a fresh
 * machine for every n and must end exactly where the same step ends
 * without injection.
 *
 * Scenario texts run on a fresh context for every n: each injected failure
 * must stop the run with an error whose message mentions memory, and the
 * context must hold nothing that ap_ctx_free() does not give back (the
 * suite runs under valgrind and ASan for that).
 *
 * Each flow prints its number of injection points.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "domsnap.h"
#include <aperture/pci.h>

#include "vfio_util.h"
#include "failnth.h"

#define SZ_2M 0x200000ull
#define MEM_BYTES (32ull << 20) /* the test's process memory, 2 MiB-aligned */

#define MAXC 12     /* containers */
#define MAXG 8      /* groups of a container */
#define MAXDOMS 8   /* domains of a container */
#define MAXR 16     /* IOVA ranges of a container */
#define MAXH 16     /* handles probed with GET_STATUS */
#define MAXDEV 8
#define MAXDOM 16
#define MAXRAM 48
#define MAXPROBE 12
#define INFO_MAX 512


/* ------------------------------------------------------------ the machine */

/*
 * Three instances (a 48-bit and a 32-bit SMMUv3, a VT-d unit) and five
 * devices, each in its own group; the process memory VFIO maps.
 */
struct rig {
	struct ap_ctx *ctx;
	struct ap_device *a48, *b48, *c32, *vtd, *vtd2;
	uint8_t *map_base; /* mmap'd, MEM_BYTES + 2M */
	uint8_t *mem;      /* 2 MiB-aligned inside it */
	unsigned nprobe;
	uint64_t probe[MAXPROBE];
};

static void rig_probe(struct rig *rig, uint64_t iova)
{
	assert_true(rig->nprobe < MAXPROBE);
	rig->probe[rig->nprobe++] = iova;
}

static struct rig *rig_new(void)
{
	struct rig *rig = calloc(1, sizeof(*rig));
	struct ap_domain *warm = NULL;
	struct ap_iommu *s48, *s32, *vtd;

	assert_non_null(rig);
	rig->ctx = mk_ctx();
	s48 = mk_smmu(rig->ctx, "smmu48", 48);
	s32 = mk_smmu(rig->ctx, "smmu32", 32);
	vtd = mk_vtd(rig->ctx, "vtd");
	rig->a48 = mk_dev(rig->ctx, "a48", s48, 0x10, AP_GROUP_OWN);
	rig->b48 = mk_dev(rig->ctx, "b48", s48, 0x11, AP_GROUP_OWN);
	rig->c32 = mk_dev(rig->ctx, "c32", s32, 0x20, AP_GROUP_OWN);
	rig->vtd = mk_dev(rig->ctx, "vtd0", vtd, 0x30, AP_GROUP_OWN);
	rig->vtd2 = mk_dev(rig->ctx, "vtd1", vtd, 0x31, AP_GROUP_OWN);
	/* the first paging domain chooses the table window for good: do it now */
	assert_int_equal(ap_domain_new(rig->ctx, "warm", s48, AP_DOMAIN_PAGING, &warm), 0);
	assert_int_equal(ap_domain_free(warm), 0);
	rig->map_base = buf_alloc(MEM_BYTES + SZ_2M);
	rig->mem = (uint8_t *)(((uintptr_t)rig->map_base + SZ_2M - 1) & ~(uintptr_t)(SZ_2M - 1));
	return rig;
}

static void rig_free(struct rig *rig)
{
	ap_ctx_free(rig->ctx);
	munmap(rig->map_base, MEM_BYTES + SZ_2M);
	free(rig);
}

static int rig_setup(void **state)
{
	*state = rig_new();
	return 0;
}

static int rig_teardown(void **state)
{
	rig_free(*state);
	return 0;
}

/* A container with the groups of the n devices in it; the group handles
 * go to groups[]. */
static int rig_container(struct rig *rig, struct ap_device *const *devs, unsigned n, int *groups)
{
	int c = open_container(rig->ctx);

	for (unsigned i = 0; i < n; i++) {
		groups[i] = open_group(rig->ctx, devs[i]);
		join_container(rig->ctx, groups[i], c);
	}
	return c;
}

/* MAP_DMA of the test's memory at offset off, which must succeed. */
static void rig_map(struct rig *rig, int c, uint64_t off, uint64_t iova, uint64_t size)
{
	int e = map_dma(rig->ctx, c, rig->mem + off, iova, size, RW);

	EXPECT(e == 0, "MAP_DMA 0x%llx+0x%llx: %s (%s)", (ull)iova, (ull)size, ename(e),
	       ap_ctx_error(rig->ctx));
}

/* dev's DMA at iova reaches the test's memory at offset off. */
static void dma_lands(struct rig *rig, struct ap_device *dev, uint64_t iova, uint64_t off)
{
	uint8_t v = (uint8_t)(0x5a ^ iova >> 12), back = 0;

	EXPECT(ap_dma_write(dev, iova, &v, 1, NULL) == 0, "%s: DMA write at 0x%llx faulted",
	       ap_device_name(dev), (ull)iova);
	EXPECT(rig->mem[off] == v, "%s: DMA write at 0x%llx missed offset 0x%llx",
	       ap_device_name(dev), (ull)iova, (ull)off);
	EXPECT(ap_dma_read(dev, iova, &back, 1, NULL) == 0 && back == v,
	       "%s: DMA read at 0x%llx", ap_device_name(dev), (ull)iova);
}

/* ------------------------------------------------------------ snapshots */

struct csnap {
	struct ap_vfio_container_info ci;
	int group[MAXG];
	char dom[MAXDOMS][64];
	const struct ap_domain *domp[MAXDOMS];
	uint64_t iova[MAXR][2];
	int info_err;
	uint32_t info_len;
	uint8_t info[INFO_MAX];
};

struct snap {
	uint64_t allocs, bytes, wbase, wsize;
	unsigned nc, ndev, ndom, nram;
	struct csnap c[MAXC];
	struct {
		int err;
		uint32_t flags;
	} h[MAXH];
	struct {
		char name[64], dom[64];
		int group;
		enum ap_bypass bypass;
		bool ok[MAXPROBE];
		uint64_t pa[MAXPROBE];
	} dev[MAXDEV];
	struct domsnap dom[MAXDOM];
	uint64_t ram[MAXRAM][2];
};

/* The bytes GET_INFO writes with the argsz it asks for (0 if no IOMMU). */
static void snap_info(struct ap_ctx *ctx, int fd, struct csnap *cs)
{
	struct vfio_iommu_type1_info probe = { .argsz = INFO_SZ };
	struct vfio_iommu_type1_info *info = (void *)cs->info;

	if (fd < 0 || !cs->ci.iommu)
		return;
	cs->info_err = verr(ctx, fd, VFIO_IOMMU_GET_INFO, &probe);
	if (cs->info_err)
		return;
	assert_true(probe.argsz <= INFO_MAX);
	cs->info_len = probe.argsz;
	info->argsz = probe.argsz;
	cs->info_err = verr(ctx, fd, VFIO_IOMMU_GET_INFO, info);
}

static void snap_containers(struct ap_ctx *ctx, struct snap *s)
{
	for (s->nc = 0; !ap_vfio_container_info(ctx, s->nc, &s->c[s->nc].ci); s->nc++) {
		struct csnap *cs = &s->c[s->nc];
		const struct ap_domain *d;

		assert_true(s->nc + 1 < MAXC);
		assert_true(cs->ci.ngroups <= MAXG && cs->ci.ndomains <= MAXDOMS &&
			    cs->ci.niovas <= MAXR);
		for (size_t n = 0; n < cs->ci.ngroups; n++)
			assert_int_equal(ap_vfio_container_group(ctx, s->nc, n, &cs->group[n]), 0);
		for (size_t n = 0; (d = ap_vfio_container_domain(ctx, s->nc, n)); n++) {
			cs->domp[n] = d;
			snprintf(cs->dom[n], 64, "%s", ap_domain_name(d));
		}
		for (size_t n = 0; n < cs->ci.niovas; n++)
			assert_int_equal(ap_vfio_container_iova(ctx, s->nc, n, &cs->iova[n][0],
								&cs->iova[n][1]), 0);
		snap_info(ctx, cs->ci.fd, cs);
	}
}

static void snap_core(struct ap_ctx *ctx, const struct rig *rig, struct snap *s)
{
	struct ap_device *d;
	struct ap_domain *m;

	for (d = ap_device_next(ctx, NULL); d; d = ap_device_next(ctx, d)) {
		assert_true(s->ndev < MAXDEV);
		snprintf(s->dev[s->ndev].name, 64, "%s", ap_device_name(d));
		snprintf(s->dev[s->ndev].dom, 64, "%s",
			 ap_device_domain(d) ? ap_domain_name(ap_device_domain(d)) : "");
		s->dev[s->ndev].group = ap_device_group_id(d);
		s->dev[s->ndev].bypass = ap_device_bypasses(d);
		for (unsigned k = 0; k < rig->nprobe; k++)
			s->dev[s->ndev].ok[k] =
				ap_device_iova_to_phys(d, rig->probe[k], &s->dev[s->ndev].pa[k]);
		s->ndev++;
	}
	for (m = ap_domain_next(ctx, NULL); m; m = ap_domain_next(ctx, m)) {
		assert_true(s->ndom < MAXDOM);
		domsnap_take(m, rig->probe, rig->nprobe, &s->dom[s->ndom++]);
	}
	for (s->nram = 0; !ap_ram_region(ctx, s->nram, &s->ram[s->nram][0], &s->ram[s->nram][1]);
	     s->nram++)
		assert_true(s->nram + 1 < MAXRAM);
}

/* Everything observable; the memory counts first, before the probes'
 * own ioctls allocate and free. */
static void snap_take(const struct rig *rig, struct snap *s)
{
	struct ap_ctx *ctx = rig->ctx;

	memset(s, 0, sizeof(*s));
	ap_ctx_mem_stats(ctx, &s->allocs, &s->bytes);
	ap_ctx_get_table_window(ctx, &s->wbase, &s->wsize);
	for (int fd = 0; fd < MAXH; fd++) {
		struct vfio_group_status st = { .argsz = sizeof(st) };

		s->h[fd].err = verr(ctx, fd, VFIO_GROUP_GET_STATUS, &st);
		s->h[fd].flags = s->h[fd].err ? 0 : st.flags;
	}
	snap_containers(ctx, s);
	snap_core(ctx, rig, s);
}

#define SAME(field, what)                                                                 \
	EXPECT(a->field == b->field, "%s, n=%lu: %s changed from 0x%llx to 0x%llx", flow, n, \
	       what, (ull)a->field, (ull)b->field)

static void check_containers(const struct snap *a, const struct snap *b, bool same_ctx,
			     const char *flow, unsigned long n)
{
	SAME(nc, "the number of containers");
	for (unsigned i = 0; i < a->nc; i++) {
		const struct csnap *x = &a->c[i], *y = &b->c[i];

		EXPECT(!memcmp(&x->ci, &y->ci, sizeof(x->ci)),
		       "%s, n=%lu: container %u changed: iommu %lu->%lu groups %zu->%zu domains "
		       "%zu->%zu ranges %zu->%zu mappings %llu->%llu avail %u->%u locked "
		       "0x%llx->0x%llx dirty %d->%d", flow, n, i, x->ci.iommu, y->ci.iommu,
		       x->ci.ngroups, y->ci.ngroups, x->ci.ndomains, y->ci.ndomains, x->ci.niovas,
		       y->ci.niovas, (ull)x->ci.mappings, (ull)y->ci.mappings, x->ci.dma_avail,
		       y->ci.dma_avail, (ull)x->ci.locked, (ull)y->ci.locked,
		       x->ci.dirty_tracking, y->ci.dirty_tracking);
		EXPECT(!memcmp(x->group, y->group, sizeof(x->group)),
		       "%s, n=%lu: container %u: its groups changed", flow, n, i);
		EXPECT(!memcmp(x->dom, y->dom, sizeof(x->dom)),
		       "%s, n=%lu: container %u: its domains changed", flow, n, i);
		EXPECT(!same_ctx || !memcmp(x->domp, y->domp, sizeof(x->domp)),
		       "%s, n=%lu: container %u: a domain was replaced", flow, n, i);
		EXPECT(!memcmp(x->iova, y->iova, sizeof(x->iova)),
		       "%s, n=%lu: container %u: its IOVA ranges changed", flow, n, i);
		EXPECT(x->info_err == y->info_err && x->info_len == y->info_len &&
			       !memcmp(x->info, y->info, x->info_len),
		       "%s, n=%lu: container %u: VFIO_IOMMU_GET_INFO says something else", flow,
		       n, i);
	}
}

static void check_core(const struct snap *a, const struct snap *b, bool same_ctx,
		       const char *flow, unsigned long n)
{
	SAME(wbase, "the table window");
	SAME(ndev, "the number of devices");
	SAME(ndom, "the number of domains");
	SAME(nram, "the number of RAM regions");
	for (unsigned i = 0; i < a->ndev; i++)
		EXPECT(!memcmp(&a->dev[i], &b->dev[i], sizeof(a->dev[i])),
		       "%s, n=%lu: device %s changed (domain '%s' -> '%s', or its translations)",
		       flow, n, a->dev[i].name, a->dev[i].dom, b->dev[i].dom);
	for (unsigned i = 0; i < a->ndom; i++) {
		EXPECT(!strcmp(a->dom[i].name, b->dom[i].name), "%s, n=%lu: domain '%s' became '%s'",
		       flow, n, a->dom[i].name, b->dom[i].name);
		EXPECT(!same_ctx || a->dom[i].p == b->dom[i].p, "%s, n=%lu: domain '%s' replaced",
		       flow, n, a->dom[i].name);
		EXPECT(domsnap_same_shape(&a->dom[i], &b->dom[i]),
		       "%s, n=%lu: domain '%s': type, geometry, page sizes or OAS changed", flow, n,
		       a->dom[i].name);
		EXPECT(domsnap_same_mappings(&a->dom[i], &b->dom[i]),
		       "%s, n=%lu: domain '%s': mappings changed (%llu leaves -> %llu)", flow, n,
		       a->dom[i].name, (ull)a->dom[i].leaves, (ull)b->dom[i].leaves);
	}
	EXPECT(!memcmp(a->ram, b->ram, sizeof(a->ram)), "%s, n=%lu: RAM regions changed", flow, n);
}

static void snap_check(const struct snap *a, const struct snap *b, bool same_ctx,
		       const char *flow, unsigned long n)
{
	EXPECT(a->allocs == b->allocs && a->bytes == b->bytes,
	       "%s, n=%lu: the context holds %llu allocations / %llu bytes, before %llu / %llu",
	       flow, n, (ull)b->allocs, (ull)b->bytes, (ull)a->allocs, (ull)a->bytes);
	for (int fd = 0; fd < MAXH; fd++)
		EXPECT(a->h[fd].err == b->h[fd].err && a->h[fd].flags == b->h[fd].flags,
		       "%s, n=%lu: handle %d: GET_STATUS %s/0x%x, before %s/0x%x", flow, n, fd,
		       ename(b->h[fd].err), b->h[fd].flags, ename(a->h[fd].err), a->h[fd].flags);
	check_containers(a, b, same_ctx, flow, n);
	check_core(a, b, same_ctx, flow, n);
}

/* ------------------------------------------------------------ the drivers */

/* A step: 0 or the errno of the call that failed. */
typedef int (*step_fn)(struct rig *rig, void *arg);

static void count_points(const char *flow, unsigned long points)
{
	printf("  %-58s %lu injection point%s\n", flow, points, points == 1 ? "" : "s");
	failnth_flows++;
	failnth_points += points;
}

/* The shared driver (failnth.h), with this file's snapshot of the rig;
 * steps answer as VFIO does, a positive errno. */
struct vfio_flow {
	struct rig *rig;
	step_fn fn;
	void *arg;
	struct snap before, after;
};

static int vfio_step(void *p)
{
	struct vfio_flow *vf = p;

	return -vf->fn(vf->rig, vf->arg);
}

static void vfio_before(void *p)
{
	struct vfio_flow *vf = p;

	snap_take(vf->rig, &vf->before);
}

static void vfio_unchanged(void *p, const char *flow, unsigned long n)
{
	struct vfio_flow *vf = p;

	snap_take(vf->rig, &vf->after);
	snap_check(&vf->before, &vf->after, true, flow, n);
}

/*
 * Run a step that may fail with the n-th allocation failing, n = 1, 2, ...,
 * until it runs without the failure firing; it must then succeed.  Returns
 * the number of injection points.
 */
static unsigned long run_flow(struct rig *rig, const char *flow, step_fn fn, void *arg)
{
	static struct vfio_flow vf; /* snapshots are large */
	struct failnth_flow f = { flow, rig->ctx, vfio_step, &vf, vfio_before, vfio_unchanged,
				  &vf };

	vf.rig = rig;
	vf.fn = fn;
	vf.arg = arg;
	return failnth_run(&f);
}

/*
 * A step that cannot fail (it closes or leaves): on a fresh machine from
 * setup() for every n, it must succeed and end exactly where it ends
 * without injection.
 */
static unsigned long run_infallible(const char *flow, void (*setup)(struct rig *rig, int *fds),
				    int (*fn)(struct rig *rig, const int *fds))
{
	static struct snap want, got;
	struct rig *rig = rig_new();
	unsigned long n;
	int fds[8];

	setup(rig, fds);
	assert_int_equal(fn(rig, fds), 0);
	snap_take(rig, &want);
	rig_free(rig);
	for (n = 1;; n++) {
		bool fired;
		int e;

		rig = rig_new();
		setup(rig, fds);
		ap_ctx_fail_nth(rig->ctx, n);
		e = fn(rig, fds);
		fired = ap_ctx_fail_fired(rig->ctx);
		ap_ctx_fail_nth(rig->ctx, 0);
		EXPECT(e == 0, "%s, n=%lu: %s (%s)", flow, n, ename(e), ap_ctx_error(rig->ctx));
		snap_take(rig, &got);
		snap_check(&want, &got, false, flow, n);
		rig_free(rig);
		if (!fired)
			break;
	}
	count_points(flow, n - 1);
	return n - 1;
}

/* ------------------------------------------------------------ steps */

struct open_arg {
	const char *path;
	int fd;
};

static int step_open(struct rig *rig, void *arg)
{
	struct open_arg *a = arg;

	errno = 0;
	a->fd = ap_vfio_open(rig->ctx, a->path);
	if (a->fd >= 0)
		return 0;
	EXPECT(a->fd == -1 && errno, "open %s returned %d, errno %d", a->path, a->fd, errno);
	return errno;
}

struct ioctl_arg {
	int fd;
	unsigned long req;
	void *arg;
};

static int step_ioctl(struct rig *rig, void *arg)
{
	struct ioctl_arg *a = arg;

	return verr(rig->ctx, a->fd, a->req, a->arg);
}

static unsigned long flow_ioctl(struct rig *rig, const char *flow, int fd, unsigned long req,
				void *arg)
{
	struct ioctl_arg a = { fd, req, arg };

	return run_flow(rig, flow, step_ioctl, &a);
}

static unsigned long flow_set_container(struct rig *rig, const char *flow, int group, int c)
{
	return flow_ioctl(rig, flow, group, VFIO_GROUP_SET_CONTAINER, &c);
}

static unsigned long flow_set_iommu(struct rig *rig, const char *flow, int c, unsigned long type)
{
	return flow_ioctl(rig, flow, c, VFIO_SET_IOMMU, (void *)(uintptr_t)type);
}

struct map_arg {
	int c;
	uint64_t off, iova, size;
};

static int step_map(struct rig *rig, void *arg)
{
	struct map_arg *a = arg;

	return map_dma(rig->ctx, a->c, rig->mem + a->off, a->iova, a->size, RW);
}

static unsigned long flow_map(struct rig *rig, const char *flow, int c, uint64_t off,
			      uint64_t iova, uint64_t size)
{
	struct map_arg a = { c, off, iova, size };

	rig_probe(rig, iova);
	rig_probe(rig, iova + size - PG);
	return run_flow(rig, flow, step_map, &a);
}

/* ------------------------------------------------------------ VFIO flows */

/* Containers and groups open; the handle table grows at the ninth. */
static void test_open(void **state)
{
	struct rig *rig = *state;
	struct open_arg a = { "/dev/vfio/vfio", -1 };
	char path[32];

	/* the container, its handle (counted: calls hold it) and the first
	 * handle table */
	assert_int_equal(run_flow(rig, "open /dev/vfio/vfio (first handle)", step_open, &a), 3);
	assert_int_equal(a.fd, 0);
	assert_int_equal(run_flow(rig, "open /dev/vfio/vfio (second)", step_open, &a), 2);
	snprintf(path, sizeof(path), "/dev/vfio/%d", ap_device_group_id(rig->a48));
	a.path = path;
	assert_int_equal(run_flow(rig, "open /dev/vfio/N", step_open, &a), 2);
	assert_int_equal(group_flags(rig->ctx, a.fd), VFIO_GROUP_FLAGS_VIABLE);
	for (int i = 3; i < 8; i++)
		assert_int_equal(open_container(rig->ctx), i);
	a.path = "/dev/vfio/vfio";
	assert_int_equal(run_flow(rig, "open /dev/vfio/vfio (handle table grows)", step_open, &a),
			 3);
	assert_int_equal(a.fd, 8);
}

/*
 * The first VFIO call of a context makes the layer's state: an open that
 * fails may leave that state behind (the core has no way to take a
 * frontend back), or the PCI layer's state, which is made first, but
 * nothing else; a tunable that fails leaves nothing set.
 */
static void test_first_call(void **state)
{
	struct ap_ctx *ref = ap_ctx_new();
	uint64_t base, state_allocs, state_bytes, allocs, bytes, pci_allocs, pci_bytes;
	unsigned long n, open_points = 0, limit_points = 0;
	struct ap_vfio_container_info ci;

	(void)state;
	assert_non_null(ref);
	ap_ctx_mem_stats(ref, &base, &state_bytes);
	assert_int_equal(ap_vfio_set_dma_entry_limit(ref, 7), 0);
	ap_ctx_mem_stats(ref, &state_allocs, &allocs);
	state_allocs -= base;
	state_bytes = allocs - state_bytes;
	ap_ctx_free(ref);
	/* the PCI layer's state, which the VFIO state is made after (device
	 * handles sit on it) and which a failure may leave, like the VFIO one */
	ref = ap_ctx_new();
	assert_non_null(ref);
	ap_ctx_mem_stats(ref, &base, &pci_bytes);
	assert_int_equal(ap_pci_init(ref), 0);
	ap_ctx_mem_stats(ref, &pci_allocs, &allocs);
	pci_allocs -= base;
	pci_bytes = allocs - pci_bytes;
	ap_ctx_free(ref);
	for (n = 1;; n++) {
		struct ap_ctx *ctx = ap_ctx_new();
		uint64_t a0, b0;
		bool fired;
		int fd;

		assert_non_null(ctx);
		ap_ctx_mem_stats(ctx, &a0, &b0);
		ap_ctx_fail_nth(ctx, n);
		errno = 0;
		fd = ap_vfio_open(ctx, "/dev/vfio/vfio");
		fired = ap_ctx_fail_fired(ctx);
		ap_ctx_fail_nth(ctx, 0);
		if (!fired) {
			EXPECT(fd == 0, "first open: %d (%s)", fd, ap_ctx_error(ctx));
			ap_ctx_free(ctx);
			break;
		}
		open_points++;
		EXPECT(fd == -1 && errno == ENOMEM, "first open, n=%lu: %d, %s", n, fd, ename(errno));
		EXPECT(strstr(ap_ctx_error(ctx), "memory"), "first open, n=%lu: reason '%s'", n,
		       ap_ctx_error(ctx));
		EXPECT(ap_vfio_container_info(ctx, 0, &ci) == -ENOENT, "a container after n=%lu", n);
		ap_ctx_mem_stats(ctx, &allocs, &bytes);
		EXPECT((allocs == a0 && bytes == b0) ||
			       (allocs == a0 + pci_allocs && bytes == b0 + pci_bytes) ||
			       (allocs == a0 + state_allocs && bytes == b0 + state_bytes),
		       "first open, n=%lu: %llu/%llu allocations/bytes, before %llu/%llu, the "
		       "VFIO state %llu/%llu", n, (ull)allocs, (ull)bytes, (ull)a0, (ull)b0,
		       (ull)state_allocs, (ull)state_bytes);
		ap_ctx_free(ctx);
	}
	count_points("open /dev/vfio/vfio, first VFIO call of a context", open_points);
	for (n = 1;; n++) {
		struct ap_ctx *ctx = ap_ctx_new();
		uint64_t a0, b0;
		bool fired;
		int e;

		assert_non_null(ctx);
		ap_ctx_mem_stats(ctx, &a0, &b0);
		ap_ctx_fail_nth(ctx, n);
		e = ap_vfio_set_memlock_limit(ctx, 4 * PG);
		fired = ap_ctx_fail_fired(ctx);
		ap_ctx_fail_nth(ctx, 0);
		if (!fired) {
			EXPECT(e == 0, "memlock limit: %d", e);
			ap_ctx_free(ctx);
			break;
		}
		limit_points++;
		EXPECT(e == -ENOMEM, "memlock limit, n=%lu: %d", n, e);
		ap_ctx_mem_stats(ctx, &allocs, &bytes);
		EXPECT((allocs == a0 && bytes == b0) ||
			       (allocs == a0 + pci_allocs && bytes == b0 + pci_bytes),
		       "memlock limit, n=%lu: memory held", n);
		ap_ctx_free(ctx);
	}
	count_points("ap_vfio_set_memlock_limit, first VFIO call", limit_points);
	assert_true(open_points >= 3 && limit_points >= 2);
}

/* SET_CONTAINER before the IOMMU: the group's list, its blocking domain. */
static void test_set_container(void **state)
{
	struct rig *rig = *state;
	int c = open_container(rig->ctx), g = open_group(rig->ctx, rig->a48);
	int g2 = open_group(rig->ctx, rig->vtd);

	assert_true(flow_set_container(rig, "SET_CONTAINER (no IOMMU yet)", g, c) >= 3);
	assert_int_equal(group_flags(rig->ctx, g),
			 VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
	assert_non_null(ap_device_domain(rig->a48));
	assert_true(flow_set_container(rig, "SET_CONTAINER (second group, no IOMMU)", g2, c) >= 3);
	assert_int_equal(ap_domain_type(ap_device_domain(rig->vtd)), AP_DOMAIN_BLOCKED);
}

/* SET_IOMMU(TYPE1v2) with one group: its domain, the IOVA list. */
static void test_set_iommu_v2(void **state)
{
	struct rig *rig = *state;
	struct ap_device *devs[] = { rig->a48 };
	int g[1], c = rig_container(rig, devs, 1, g);
	struct info_view v;

	assert_true(flow_set_iommu(rig, "SET_IOMMU TYPE1v2, one group", c, VFIO_TYPE1v2_IOMMU) >=
		    3);
	get_info(rig->ctx, c, &v);
	assert_int_equal(v.nr, 2); /* SMMUv3's software MSI window cut out */
	rig_map(rig, c, 0, 0x100000, PG);
	dma_lands(rig, rig->a48, 0x100000, 0);
}

/* SET_IOMMU(TYPE1) over a 48-bit SMMU, a 32-bit SMMU and a VT-d unit: a
 * failure at any group's attach takes back the ones before it. */
static void test_set_iommu_hetero(void **state)
{
	struct rig *rig = *state;
	struct ap_device *devs[] = { rig->a48, rig->c32, rig->vtd };
	int g[3], c = rig_container(rig, devs, 3, g);
	struct ap_vfio_container_info ci;

	assert_true(flow_set_iommu(rig, "SET_IOMMU TYPE1, three groups on three IOMMUs", c,
				   VFIO_TYPE1_IOMMU) >= 9);
	assert_int_equal(ap_vfio_container_info(rig->ctx, 0, &ci), 0);
	assert_true(ci.ndomains >= 2);
	rig_map(rig, c, 0, 0x100000, PG);
	for (unsigned i = 0; i < 3; i++)
		dma_lands(rig, devs[i], 0x100000 + 8 * i, 8 * i);
}

/*
 * Groups joining a container that holds mappings: one behind the same
 * SMMU (joins the domain), a 32-bit SMMU (joins it too, narrowing it), a
 * VT-d unit (a domain of its own, every mapping replayed into it).
 */
static void test_join_later(void **state)
{
	struct rig *rig = *state;
	struct ap_device *devs[] = { rig->a48 };
	int g[1], c = rig_container(rig, devs, 1, g);
	int gb = open_group(rig->ctx, rig->b48), gc = open_group(rig->ctx, rig->c32);
	int gv = open_group(rig->ctx, rig->vtd);
	struct ap_vfio_container_info ci;
	struct ap_domain *vd;

	set_type1v2(rig->ctx, c);
	rig_map(rig, c, 0, 0x100000, PG);
	rig_map(rig, c, SZ_2M, 0x40000000, 4 * SZ_2M);
	rig_map(rig, c, 12 * SZ_1M, 0x10000000, SZ_64K);
	rig_probe(rig, 0x100000);
	rig_probe(rig, 0x40000000 + 3 * SZ_2M + PG);
	rig_probe(rig, 0x10000000 + PG);
	rig_probe(rig, 0x200000000ull);
	assert_true(flow_set_container(rig, "SET_CONTAINER, joins the existing domain", gb, c) >= 5);
	assert_true(flow_set_container(rig, "SET_CONTAINER, 32-bit SMMU joins and narrows it", gc,
				       c) >= 5);
	assert_true(flow_set_container(rig, "SET_CONTAINER, VT-d: own domain, 3 mappings replayed",
				       gv, c) >= 8);
	assert_int_equal(ap_vfio_container_info(rig->ctx, 0, &ci), 0);
	assert_int_equal(ci.ngroups, 4);
	assert_int_equal(ci.ndomains, 2);
	vd = ap_device_domain(rig->vtd);
	assert_true(ap_pt_sizes_in_use(ap_domain_pt(vd)) & SZ_2M);
	dma_lands(rig, rig->vtd, 0x100000 + 1, 1);
	dma_lands(rig, rig->vtd, 0x40000000 + 3 * SZ_2M + 5, 4 * SZ_2M + 5);
	dma_lands(rig, rig->c32, 0x10000000 + 9, 12 * SZ_1M + 9);
	dma_lands(rig, rig->b48, 0x100000 + 2, 2);
}

struct info_arg {
	int c;
	uint32_t argsz;
	uint8_t buf[INFO_MAX];
};

/* GET_INFO into a buffer that must stay untouched when the call fails. */
static int step_info(struct rig *rig, void *arg)
{
	struct info_arg *a = arg;
	struct vfio_iommu_type1_info *info = (void *)a->buf;
	int e;

	memset(a->buf, 0xa5, sizeof(a->buf));
	memset(info, 0, INFO_SZ);
	info->argsz = a->argsz;
	e = verr(rig->ctx, a->c, VFIO_IOMMU_GET_INFO, info);
	if (e) {
		EXPECT(info->argsz == a->argsz && !info->flags && !info->cap_offset,
		       "a failed GET_INFO wrote its struct");
		for (size_t i = INFO_SZ; i < sizeof(a->buf); i++)
			EXPECT(a->buf[i] == 0xa5, "a failed GET_INFO wrote byte %zu", i);
	}
	return e;
}

/* GET_INFO with the capability chain (its one allocation), and short. */
static void test_get_info(void **state)
{
	struct rig *rig = *state;
	struct ap_device *devs[] = { rig->a48, rig->vtd };
	int g[2], c = rig_container(rig, devs, 2, g);
	struct info_arg a = { .c = c };
	struct info_view v;

	set_type1v2(rig->ctx, c);
	rig_map(rig, c, 0, 0x100000, PG);
	get_info(rig->ctx, c, &v);
	assert_int_equal(v.nr, 3); /* both MSI windows cut out */
	a.argsz = v.needed;
	assert_int_equal(run_flow(rig, "GET_INFO with capabilities", step_info, &a), 1);
	assert_memory_equal(a.buf + INFO_SZ + 32 + 16 + 16, v.r, 3 * sizeof(v.r[0]));
	a.argsz = INFO_SZ;
	assert_int_equal(run_flow(rig, "GET_INFO, argsz too small for them", step_info, &a), 0);
}

/* MAP_DMA into one domain: small, 2M pages, and a 17th, when lists kept
 * in arrays would grow: the container's mappings and the core's RAM
 * regions (which also answer which mapping holds a physical address) are
 * trees, so it takes exactly its mapping and its region's node. */
static void test_map(void **state)
{
	struct rig *rig = *state;
	struct ap_device *devs[] = { rig->a48 };
	int g[1], c = rig_container(rig, devs, 1, g);
	struct ap_domain *dom;

	set_type1v2(rig->ctx, c);
	assert_true(flow_map(rig, "MAP_DMA 4K (first mapping)", c, 0, 0x100000, PG) >= 3);
	assert_true(flow_map(rig, "MAP_DMA 8M of 2M pages", c, SZ_2M, 0x40000000, 4 * SZ_2M) >= 2);
	dom = ap_device_domain(rig->a48);
	assert_true(ap_pt_sizes_in_use(ap_domain_pt(dom)) & SZ_2M);
	for (unsigned i = 0; i < 14; i++)
		rig_map(rig, c, 12 * SZ_1M + i * PG, 0x200000 + i * SZ_64K, PG);
	assert_int_equal(flow_map(rig, "MAP_DMA, the 17th (two nodes, no list grows)", c,
				  14 * SZ_1M, 0x300000, PG), 2);
	dma_lands(rig, rig->a48, 0x100000 + 3, 3);
	dma_lands(rig, rig->a48, 0x40000000 + 7 * SZ_1M, SZ_2M + 7 * SZ_1M);
	dma_lands(rig, rig->a48, 0x300000 + 1, 14 * SZ_1M + 1);
	assert_int_equal(dma_avail(rig->ctx, c), 65535 - 17);
}

/* MAP_DMA into a heterogeneous container: a failure in a later domain
 * takes the mapping out of the earlier ones. */
static void test_map_hetero(void **state)
{
	struct rig *rig = *state;
	struct ap_device *devs[] = { rig->a48, rig->c32, rig->vtd };
	int g[3], c = rig_container(rig, devs, 3, g);
	struct ap_vfio_container_info ci;

	set_type1v2(rig->ctx, c);
	assert_int_equal(ap_vfio_container_info(rig->ctx, 0, &ci), 0);
	assert_true(ci.ndomains >= 2);
	assert_true(flow_map(rig, "MAP_DMA 4K, heterogeneous container", c, 0, 0x100000, PG) >= 3);
	assert_true(flow_map(rig, "MAP_DMA 4M of 2M pages, heterogeneous", c, SZ_2M, 0x40000000,
			     2 * SZ_2M) >= 3);
	for (unsigned i = 0; i < 3; i++) {
		dma_lands(rig, devs[i], 0x100000 + i, i);
		dma_lands(rig, devs[i], 0x40000000 + SZ_2M + i, 2 * SZ_2M + i);
	}
}

#define CHUNK_FRAMES 512 /* table memory comes from the context 2 MiB at a time */

static uint64_t pool_frames(struct ap_ctx *ctx)
{
	struct ap_domain *m;
	uint64_t bytes = 0;

	for (m = ap_domain_next(ctx, NULL); m; m = ap_domain_next(ctx, m))
		if (ap_domain_pt(m))
			bytes += ap_pt_table_bytes(ap_domain_pt(m));
	return bytes / PG;
}

/*
 * Leave `left` table frames free in the first 2 MiB of table memory, with
 * 4K tables of a filler domain (one per 2 MiB slot), so that the domain
 * that maps after the first one needs new memory from the context.
 */
static void fill_chunk0(struct rig *rig, uint64_t left)
{
	struct ap_domain *filler = NULL;
	uint64_t k;

	assert_int_equal(ap_domain_new(rig->ctx, "filler", ap_iommu_find(rig->ctx, "smmu48"),
				       AP_DOMAIN_PAGING, &filler), 0);
	for (k = 0; pool_frames(rig->ctx) < CHUNK_FRAMES - left; k++) {
		assert_true(k < CHUNK_FRAMES);
		assert_int_equal(ap_map(filler, 0x7f0000000000ull + k * SZ_2M, 0x1000, PG,
					AP_PROT_READ | AP_PROT_WRITE), 0);
	}
	assert_int_equal(pool_frames(rig->ctx), CHUNK_FRAMES - left);
}

/*
 * MAP_DMA at a fresh 512 GiB slot of a container with an SMMU and a VT-d
 * domain, when the first domain's three new tables fill the table memory:
 * the second domain needs more, and when that fails the first must give
 * the mapping back.
 */
static void test_map_second_domain(void **state)
{
	struct rig *rig = *state;
	struct ap_device *devs[] = { rig->a48, rig->vtd };
	int g[2], c = rig_container(rig, devs, 2, g);
	struct ap_vfio_container_info ci;

	set_type1v2(rig->ctx, c);
	assert_int_equal(ap_vfio_container_info(rig->ctx, 0, &ci), 0);
	assert_int_equal(ci.ndomains, 2);
	rig_map(rig, c, 0, 0x100000, PG);
	fill_chunk0(rig, 3);
	rig_probe(rig, 0x100000);
	assert_true(flow_map(rig, "MAP_DMA 4K, the second domain needs table memory", c,
			     4 * SZ_1M, 0x8000000000ull, PG) >= 2);
	dma_lands(rig, rig->a48, 0x8000000000ull + 1, 4 * SZ_1M + 1);
	dma_lands(rig, rig->vtd, 0x8000000000ull + 2, 4 * SZ_1M + 2);
}

/* GET_BITMAP over [iova, iova+size) into words[]; errno. */
static int get_bitmap(struct ap_ctx *ctx, int c, uint64_t iova, uint64_t size, uint64_t *words,
		      size_t nwords)
{
	uint8_t req[sizeof(struct vfio_iommu_type1_dirty_bitmap) +
		    sizeof(struct vfio_iommu_type1_dirty_bitmap_get)];
	struct vfio_iommu_type1_dirty_bitmap *d = (void *)req;
	struct vfio_iommu_type1_dirty_bitmap_get range = {
		.iova = iova, .size = size,
		.bitmap = { .pgsize = PG, .size = nwords * 8, .data = (__u64 *)words },
	};

	memset(words, 0, nwords * 8);
	d->argsz = sizeof(req);
	d->flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	memcpy(d->data, &range, sizeof(range));
	return verr(ctx, c, VFIO_IOMMU_DIRTY_PAGES, d);
}

/* MAP_DMA while dirty tracking is on: the new mapping's bitmap too; the
 * pages already dirty stay dirty through the failures. */
static void test_map_dirty(void **state)
{
	struct rig *rig = *state;
	struct ap_device *devs[] = { rig->a48 };
	int g[1], c = rig_container(rig, devs, 1, g);
	uint64_t bits[1];
	uint8_t v = 1;

	set_type1v2(rig->ctx, c);
	rig_map(rig, c, 0, 0x100000, SZ_64K);
	rig_map(rig, c, SZ_64K, 0x110000, SZ_64K);
	assert_int_equal(dirty_flags(rig->ctx, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START), 0);
	assert_int_equal(ap_dma_write(rig->a48, 0x100010, &v, 1, NULL), 0);
	/* the mapping, its RAM region's node and its bitmap: the tables have room */
	assert_int_equal(flow_map(rig, "MAP_DMA 64K while dirty tracking", c, 2 * SZ_64K,
				  0x120000, SZ_64K), 3);
	assert_int_equal(ap_dma_write(rig->a48, 0x121000, &v, 1, NULL), 0);
	assert_int_equal(get_bitmap(rig->ctx, c, 0x100000, 3 * SZ_64K, bits, 1), 0);
	EXPECT(bits[0] == (1ull | 1ull << 33), "dirty bits 0x%llx, expected pages 0 and 33",
	       (ull)bits[0]);
}

struct unmap_arg {
	int c;
	uint64_t iova, size;
	uint32_t flags;
	uint64_t unmapped;
	uint64_t bits[8]; /* GET_DIRTY_BITMAP: 512 pages */
};

static int step_unmap(struct rig *rig, void *arg)
{
	struct unmap_arg *a = arg;
	uint8_t req[sizeof(struct vfio_iommu_type1_dma_unmap) + sizeof(struct vfio_bitmap)];
	struct vfio_iommu_type1_dma_unmap *u = (void *)req;
	struct vfio_bitmap bm = { .pgsize = PG, .size = sizeof(a->bits), .data = (__u64 *)a->bits };
	int e;

	memset(req, 0, sizeof(req));
	memset(a->bits, 0, sizeof(a->bits));
	u->argsz = sizeof(req);
	u->flags = a->flags;
	u->iova = a->iova;
	u->size = a->size;
	memcpy(u->data, &bm, sizeof(bm));
	e = verr(rig->ctx, a->c, VFIO_IOMMU_UNMAP_DMA, u);
	a->unmapped = u->size;
	return e;
}

/* UNMAP_DMA allocates nothing: a range, a dirty bitmap, everything. */
static void test_unmap(void **state)
{
	struct rig *rig = *state;
	struct ap_device *devs[] = { rig->a48, rig->vtd };
	int g[2], c = rig_container(rig, devs, 2, g);
	struct unmap_arg a = { .c = c };
	uint8_t v = 1;

	set_type1v2(rig->ctx, c);
	rig_map(rig, c, 0, 0x100000, SZ_64K);
	rig_map(rig, c, SZ_64K, 0x110000, SZ_64K);
	rig_map(rig, c, SZ_2M, 0x400000, SZ_2M);
	rig_map(rig, c, 4 * SZ_2M, 0x600000, SZ_2M);
	rig_probe(rig, 0x100000);
	rig_probe(rig, 0x110000);
	rig_probe(rig, 0x400000);
	rig_probe(rig, 0x600000);
	a.iova = 0x100000;
	a.size = 0x20000;
	assert_int_equal(run_flow(rig, "UNMAP_DMA, a range of two mappings", step_unmap, &a), 0);
	assert_int_equal(a.unmapped, 0x20000);
	assert_int_equal(dirty_flags(rig->ctx, c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START), 0);
	assert_int_equal(ap_dma_write(rig->vtd, 0x400000 + 5 * PG, &v, 1, NULL), 0);
	a.iova = 0x400000;
	a.size = SZ_2M;
	a.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
	assert_int_equal(run_flow(rig, "UNMAP_DMA with GET_DIRTY_BITMAP", step_unmap, &a), 0);
	assert_int_equal(a.unmapped, SZ_2M);
	assert_int_equal(a.bits[0], 1ull << 5);
	for (unsigned i = 1; i < 8; i++)
		assert_int_equal(a.bits[i], 0);
	a.iova = a.size = 0;
	a.flags = VFIO_DMA_UNMAP_FLAG_ALL;
	assert_int_equal(run_flow(rig, "UNMAP_DMA ALL", step_unmap, &a), 0);
	assert_int_equal(a.unmapped, SZ_2M);
	assert_int_equal(dma_avail(rig->ctx, c), 65535);
}

struct dirty_arg {
	int c;
	uint32_t flag;
	uint64_t bits[2];
};

static int step_dirty(struct rig *rig, void *arg)
{
	struct dirty_arg *a = arg;

	if (a->flag == VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP)
		return get_bitmap(rig->ctx, a->c, 0x100000, 5 * SZ_64K, a->bits, 2);
	return dirty_flags(rig->ctx, a->c, a->flag);
}

/* DIRTY_PAGES START takes a bitmap per mapping: a failure frees the ones
 * made and leaves tracking off; GET_BITMAP and STOP allocate nothing. */
static void test_dirty_pages(void **state)
{
	struct rig *rig = *state;
	struct ap_device *devs[] = { rig->a48 };
	int g[1], c = rig_container(rig, devs, 1, g);
	struct dirty_arg a = { .c = c, .flag = VFIO_IOMMU_DIRTY_PAGES_FLAG_START };
	struct ap_vfio_container_info ci;
	uint8_t v = 1;

	set_type1v2(rig->ctx, c);
	for (unsigned i = 0; i < 5; i++)
		rig_map(rig, c, i * SZ_64K, 0x100000 + i * SZ_64K, SZ_64K);
	assert_int_equal(run_flow(rig, "DIRTY_PAGES START, 5 mappings", step_dirty, &a), 5);
	assert_int_equal(ap_vfio_container_info(rig->ctx, 0, &ci), 0);
	assert_true(ci.dirty_tracking);
	assert_int_equal(ap_dma_write(rig->a48, 0x100000 + 4 * SZ_64K + 2 * PG, &v, 1, NULL), 0);
	a.flag = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	assert_int_equal(run_flow(rig, "DIRTY_PAGES GET_BITMAP", step_dirty, &a), 0);
	assert_int_equal(a.bits[0], 0);
	assert_int_equal(a.bits[1], 1ull << 2);
	a.flag = VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
	assert_int_equal(run_flow(rig, "DIRTY_PAGES STOP", step_dirty, &a), 0);
	assert_int_equal(ap_vfio_container_info(rig->ctx, 0, &ci), 0);
	assert_false(ci.dirty_tracking);
}

/* ------------------------------------------------------------ leaving */

/* fds[0] the container; fds[1..] the groups of a48, b48 and vtd, TYPE1v2,
 * three mappings. */
static void setup_three_groups(struct rig *rig, int *fds)
{
	struct ap_device *devs[] = { rig->a48, rig->b48, rig->vtd };

	fds[0] = rig_container(rig, devs, 3, fds + 1);
	set_type1v2(rig->ctx, fds[0]);
	rig_map(rig, fds[0], 0, 0x100000, PG);
	rig_map(rig, fds[0], SZ_2M, 0x40000000, 2 * SZ_2M);
	rig_map(rig, fds[0], 8 * SZ_1M, 0x10000000, SZ_64K);
	rig_probe(rig, 0x100000);
	rig_probe(rig, 0x40000000 + SZ_2M);
	rig_probe(rig, 0x10000000);
}

/* The same with a48's group alone. */
static void setup_one_group(struct rig *rig, int *fds)
{
	struct ap_device *devs[] = { rig->a48 };

	fds[0] = rig_container(rig, devs, 1, fds + 1);
	set_type1v2(rig->ctx, fds[0]);
	rig_map(rig, fds[0], 0, 0x100000, PG);
	rig_map(rig, fds[0], SZ_2M, 0x40000000, 2 * SZ_2M);
	rig_probe(rig, 0x100000);
	rig_probe(rig, 0x40000000 + SZ_2M);
}

static int close_fd(struct rig *rig, int fd)
{
	errno = 0;
	return ap_vfio_close(rig->ctx, fd) ? errno : 0;
}

static int step_close_first_group(struct rig *rig, const int *fds)
{
	return close_fd(rig, fds[1]);
}

static int step_unset_vtd(struct rig *rig, const int *fds)
{
	return verr(rig->ctx, fds[3], VFIO_GROUP_UNSET_CONTAINER, NULL);
}

static int step_close_b48(struct rig *rig, const int *fds)
{
	return close_fd(rig, fds[2]);
}

static int step_close_container(struct rig *rig, const int *fds)
{
	return close_fd(rig, fds[0]);
}

/* Leaving never fails and needs no memory (the room for the IOVA list it
 * rebuilds was made when the groups attached): the last group takes the
 * mappings and domains, a group with a domain of its own takes that domain
 * and its reserved regions out of the IOVA list. */
static void test_leave(void **state)
{
	(void)state;
	assert_int_equal(run_infallible("close the last group (mappings, domain go)",
					setup_one_group, step_close_first_group), 0);
	assert_int_equal(run_infallible("UNSET_CONTAINER, VT-d group (its domain, MSI hole go)",
					setup_three_groups, step_unset_vtd), 0);
	assert_int_equal(run_infallible("close a group that shares its domain",
					setup_three_groups, step_close_b48), 0);
	assert_int_equal(run_infallible("close the container while groups hold it",
					setup_three_groups, step_close_container), 0);
}

static void test_summary(void **state)
{
	(void)state;
	printf("  VFIO: %lu fail-nth flows, %lu injection points\n", failnth_flows, failnth_points);
	assert_true(failnth_flows >= 20);
}

#define FLOW(fn) cmocka_unit_test_setup_teardown(fn, rig_setup, rig_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FLOW(test_open),
		cmocka_unit_test(test_first_call),
		FLOW(test_set_container),
		FLOW(test_set_iommu_v2),
		FLOW(test_set_iommu_hetero),
		FLOW(test_join_later),
		FLOW(test_get_info),
		FLOW(test_map),
		FLOW(test_map_hetero),
		FLOW(test_map_second_domain),
		FLOW(test_map_dirty),
		FLOW(test_unmap),
		FLOW(test_dirty_pages),
		cmocka_unit_test(test_leave),
		cmocka_unit_test(test_summary),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
