/* SPDX-License-Identifier: MIT */
/*
 * Allocation-failure injection over the virtio-iommu device, with the
 * fail-nth driver the other layers use (failnth.h): every flow runs with
 * the n-th allocation failing, n = 1, 2, ..., until a run makes no failing
 * allocation, which must then succeed.  After each injected failure:
 *
 *   - the call says so: -ENOMEM from the API, VIRTIO_IOMMU_S_NOMEM in a
 *     request's status (virtio 1.2 §5.13.6: "Insufficient resources"),
 *     and the context's reason says memory;
 *   - nothing observable changed: the guest's domains and their aperture
 *     domains, which endpoint is where, every probed page's translation,
 *     the leaves of the domains, the device status and queues;
 *   - the context holds no more allocations than before (capacity a
 *     growing array kept is not an allocation).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_config.h>

#include "domsnap.h"
#include "expect.h"
#include "failnth.h"
#include "lib/vmachine.h"

#define K4 0x1000ull
#define M2 0x200000ull
#define NPROBE 6

static const uint64_t probe_iova[NPROBE] = { 0x10000, 0x11000, 0x200000, 0x3ff000,
					     0x40000000, 0x12345000 };

struct vsnap {
	uint64_t allocs;
	uint8_t status;
	bool qen[2];
	unsigned ndoms;
	struct ap_viommu_domain_info dom[8];
	struct domsnap leaves[8];
	int64_t ep_dom[VM_NEP];
	const struct ap_domain *core_dom[VM_NEP];
	bool ok[VM_NEP][NPROBE];
	uint64_t pa[VM_NEP][NPROBE];
};

static void vsnap_take(struct vmachine *m, struct vsnap *s)
{
	unsigned e, k;
	uint64_t bytes;

	memset(s, 0, sizeof(*s));
	ap_ctx_mem_stats(m->ctx, &s->allocs, &bytes);
	s->status = ap_viommu_status(m->v);
	s->qen[0] = ap_viommu_queue_enabled(m->v, 0);
	s->qen[1] = ap_viommu_queue_enabled(m->v, 1);
	while (s->ndoms < 8 && !ap_viommu_domain_info(m->v, s->ndoms, &s->dom[s->ndoms])) {
		domsnap_take(s->dom[s->ndoms].dom, probe_iova, NPROBE, &s->leaves[s->ndoms]);
		s->ndoms++;
	}
	for (e = 0; e < VM_NEP; e++) {
		s->ep_dom[e] = ap_viommu_endpoint_domain(m->v, vm_ep_ids[e]);
		s->core_dom[e] = ap_device_domain(m->ep[e]);
		for (k = 0; k < NPROBE; k++)
			s->ok[e][k] = ap_device_iova_to_phys(m->ep[e], probe_iova[k], &s->pa[e][k]);
	}
}

static void vsnap_same(struct vmachine *m, const struct vsnap *a, const char *what,
		       unsigned long n)
{
	struct vsnap b;
	unsigned i, e, k;

	vsnap_take(m, &b);
	EXPECT(b.allocs <= a->allocs, "%s, fail_nth %lu: %llu allocations, %llu before", what, n,
	       (ull)b.allocs, (ull)a->allocs);
	EXPECT(b.status == a->status && b.qen[0] == a->qen[0] && b.qen[1] == a->qen[1],
	       "%s, fail_nth %lu: status or queues changed", what, n);
	EXPECT(b.ndoms == a->ndoms, "%s, fail_nth %lu: %u domains, %u before", what, n, b.ndoms,
	       a->ndoms);
	for (i = 0; i < a->ndoms; i++) {
		EXPECT(!memcmp(&a->dom[i], &b.dom[i], sizeof(a->dom[i])),
		       "%s, fail_nth %lu: domain %u changed", what, n, a->dom[i].id);
		EXPECT(domsnap_same_shape(&a->leaves[i], &b.leaves[i]) &&
			       domsnap_same_mappings(&a->leaves[i], &b.leaves[i]),
		       "%s, fail_nth %lu: the mappings of domain %u changed", what, n, a->dom[i].id);
	}
	for (e = 0; e < VM_NEP; e++) {
		EXPECT(a->ep_dom[e] == b.ep_dom[e] && a->core_dom[e] == b.core_dom[e],
		       "%s, fail_nth %lu: endpoint 0x%x moved", what, n, vm_ep_ids[e]);
		for (k = 0; k < NPROBE; k++)
			EXPECT(a->ok[e][k] == b.ok[e][k] && (!a->ok[e][k] || a->pa[e][k] == b.pa[e][k]),
			       "%s, fail_nth %lu: endpoint 0x%x iova 0x%llx translates differently",
			       what, n, vm_ep_ids[e], (ull)probe_iova[k]);
	}
}

/* The shared driver's snapshot hooks, over one machine. */
struct vflow {
	struct vmachine m;
	struct vsnap snap;
	int (*op)(struct vmachine *m);
};

static void flow_before(void *arg)
{
	struct vflow *f = arg;

	vsnap_take(&f->m, &f->snap);
}

static void flow_unchanged(void *arg, const char *flow, unsigned long n)
{
	struct vflow *f = arg;

	vsnap_same(&f->m, &f->snap, flow, n);
}

static int flow_step(void *arg)
{
	struct vflow *f = arg;

	return f->op(&f->m);
}

/* ------------------------------------------------------------ flows */

typedef void (*setup_fn)(struct vmachine *m);
/* The operation under injection: 0, or a negative errno. */
typedef int (*op_fn)(struct vmachine *m);

/* The machine with the driver up.  A paging domain of its own first: the
 * table window and the pool's first chunk are set up once per context and
 * kept, which is not what a failed request may leave behind. */
static void up(struct vmachine *m)
{
	struct ap_domain *warm;

	EXPECT(vm_create(m, NULL, NULL) == 0, "machine");
	EXPECT(ap_domain_new(m->ctx, "warm", m->iommu, AP_DOMAIN_PAGING, &warm) == 0, "warm");
	EXPECT(ap_map(warm, 0, VM_DATA, K4, AP_PROT_READ) == 0, "warm map");
	EXPECT(vm_driver(m, ~0ull, 64) == 0, "driver");
}

static void setup_plain(struct vmachine *m)
{
	up(m);
}

static void setup_attached(struct vmachine *m)
{
	up(m);
	EXPECT(vdrv_attach(&m->d, 1, 0x08, 0) == 0, "attach");
	EXPECT(vdrv_map(&m->d, 1, 0x10000, 0x11fff, VM_DATA, 3) == 0, "map");
}

static void setup_two_domains(struct vmachine *m)
{
	setup_attached(m);
	EXPECT(vdrv_attach(&m->d, 2, 0x10, 0) == 0, "attach");
	EXPECT(vdrv_attach(&m->d, 2, 0x18, 0) == 0, "attach");
}

/* Status reset, driver present, no queue yet. */
static void setup_no_queues(struct vmachine *m)
{
	up(m);
	ap_viommu_set_status(m->v, 0);
	ap_viommu_set_status(m->v, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
}

/* A request's status as the driver's errno: S_NOMEM is -ENOMEM. */
static int status_op(int st)
{
	if (st == VIRTIO_IOMMU_S_OK)
		return 0;
	EXPECT(st == VIRTIO_IOMMU_S_NOMEM, "status %d, expected OK or NOMEM", st);
	return -ENOMEM;
}

static int op_attach_new(struct vmachine *m)
{
	return status_op(vdrv_attach(&m->d, 5, 0x18, 0));
}

static int op_attach_bypass(struct vmachine *m)
{
	return status_op(vdrv_attach(&m->d, 6, 0x18, 1));
}

static int op_attach_move(struct vmachine *m)
{
	return status_op(vdrv_attach(&m->d, 7, 0x08, 0));
}

static int op_attach_join(struct vmachine *m)
{
	return status_op(vdrv_attach(&m->d, 1, 0x20, 0));
}

static int op_map_4k(struct vmachine *m)
{
	return status_op(vdrv_map(&m->d, 1, 0x3ff000, 0x3fffff, VM_DATA, 3));
}

/* A 2M block with a page beside it, in a part of the table not made yet. */
static int op_map_tables(struct vmachine *m)
{
	return status_op(vdrv_map(&m->d, 1, 0x12200000, 0x12400fff, VM_DATA + M2, 3));
}

static int op_map_no_access(struct vmachine *m)
{
	return status_op(vdrv_map(&m->d, 1, 0x40000000, 0x40000fff, VM_DATA, 0));
}

static int op_unmap(struct vmachine *m)
{
	return status_op(vdrv_unmap(&m->d, 1, 0, ~0ull));
}

static int op_detach(struct vmachine *m)
{
	return status_op(vdrv_detach(&m->d, 2, 0x10));
}

static int op_probe(struct vmachine *m)
{
	uint8_t props[512];

	return status_op(vdrv_probe(&m->d, 0x08, props, sizeof(props)));
}

static int op_queue_enable(struct vmachine *m)
{
	struct ap_viommu_queue q = { 64, VM_RAM + 0x8000, VM_RAM + 0x9000, VM_RAM + 0xa000 };
	return ap_viommu_queue_enable(m->v, 0, &q);
}

static void run_flow(const char *name, setup_fn setup, op_fn op, bool allocates)
{
	static struct vflow f;
	struct failnth_flow flow = { name, NULL, flow_step, &f, flow_before, flow_unchanged, &f };
	unsigned long points;

	memset(&f, 0, sizeof(f));
	setup(&f.m);
	f.op = op;
	flow.ctx = f.m.ctx;
	points = failnth_run(&flow);
	EXPECT(allocates == (points > 0), "%s: %lu allocation points", name, points);
	vm_destroy(&f.m);
}

static void test_requests(void **state)
{
	(void)state;
	run_flow("ATTACH, a new domain", setup_plain, op_attach_new, true);
	run_flow("ATTACH, a new bypass domain", setup_plain, op_attach_bypass, true);
	run_flow("ATTACH, moving to a new one", setup_attached, op_attach_move, true);
	run_flow("ATTACH, joining a domain", setup_attached, op_attach_join, true);
	run_flow("MAP, a page", setup_attached, op_map_4k, true);
	run_flow("MAP, new tables", setup_attached, op_map_tables, true);
	run_flow("MAP, no access", setup_attached, op_map_no_access, true);
	run_flow("UNMAP", setup_attached, op_unmap, false);
	run_flow("DETACH", setup_two_domains, op_detach, false);
	run_flow("PROBE", setup_attached, op_probe, false);
	run_flow("queue enable", setup_no_queues, op_queue_enable, true);
}

/* Creating the device: -ENOMEM and no device, or a device. */
struct newflow {
	struct ap_ctx *ctx;
	struct ap_iommu *iommu;
	uint64_t allocs;
	bool first; /* the context's first device: its record of devices stays */
};

static int new_step(void *arg)
{
	struct newflow *f = arg;
	struct ap_viommu *v = NULL;
	int err = ap_viommu_new(f->ctx, f->iommu, NULL, &v);

	EXPECT(!err == !!v, "a device only on success");
	return err;
}

static void new_before(void *arg)
{
	struct newflow *f = arg;
	uint64_t bytes;

	ap_ctx_mem_stats(f->ctx, &f->allocs, &bytes);
}

static void new_unchanged(void *arg, const char *flow, unsigned long n)
{
	struct newflow *f = arg;
	uint64_t allocs, bytes;

	ap_ctx_mem_stats(f->ctx, &allocs, &bytes);
	EXPECT(!ap_viommu_of(f->ctx, f->iommu), "%s, fail_nth %lu: a device after all", flow, n);
	EXPECT(f->first || allocs <= f->allocs, "%s, fail_nth %lu: %llu allocations, %llu before",
	       flow, n, (ull)allocs, (ull)f->allocs);
}

static void test_device_new(void **state)
{
	unsigned first;

	(void)state;
	/* The first device of a context also makes the context's record of
	 * devices, which stays once made (as the table window does): there
	 * only the answer is checked, and leaks by ASan and valgrind at
	 * ap_ctx_free(). */
	for (first = 0; first < 2; first++) {
		struct newflow f = { .first = first };
		struct failnth_flow flow = { first ? "ap_viommu_new, first device" : "ap_viommu_new",
					     NULL, new_step, &f, new_before, new_unchanged, &f };
		struct vmachine m;
		struct ap_iommu_config ic;

		if (first) {
			f.ctx = ap_ctx_new();
			ap_iommu_config_init(&ic, AP_IOMMU_VIRTIO_IOMMU);
			EXPECT(f.ctx && ap_iommu_new(f.ctx, "v", &ic, &f.iommu) == 0, "instance");
		} else {
			EXPECT(vm_create(&m, NULL, NULL) == 0, "machine");
			ap_viommu_free(m.v);
			f.ctx = m.ctx;
			f.iommu = m.iommu;
		}
		flow.ctx = f.ctx;
		EXPECT(failnth_run(&flow) >= (first ? 3u : 1u), "allocation points");
		ap_ctx_free(f.ctx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_device_new),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
