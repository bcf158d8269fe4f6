/* SPDX-License-Identifier: MIT */
/*
 * Allocation-failure injection through the scenario executor: each script
 * runs on a fresh context with ap_ctx_fail_nth(ctx, n) for n = 1, 2, ...
 * until it runs without the failure firing, and must then succeed.  Every
 * injected failure must stop the run with a negative errno and a reason
 * that mentions memory, never crash or pass; the context is freed after
 * each run, so that valgrind and ASan (make valgrind, make check
 * SANITIZE=1) see any block the executor or the layers below it lose.
 * Each script prints its number of injection points.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <aperture/aperture.h>

#include "expect.h"

static unsigned long flows_run, points_total;

/* The core's objects, a DMA that lands, one that faults, unmap, detach. */
static const char core_text[] =
	"ram    0x80000000 16M\n"
	"iommu  smmu48 arm-smmu-v3 ias=48 oas=48\n"
	"iommu  smmu32 arm-smmu-v3 ias=32 oas=40\n"
	"iommu  vtd intel-vtd\n"
	"device nic smmu48 sid=0x10\n"
	"device gpu smmu32 sid=0x20\n"
	"device ssd vtd sid=0x30\n"
	"resv   ssd 0x70000000 64K reserved\n"
	"domain dma0 smmu48\n"
	"domain dvtd vtd\n"
	"domain blk smmu48 blocked\n"
	"attach dma0 nic\n"
	"attach dma0 gpu\n"
	"expect geometry 0x0 0xffffffff forced\n"
	"attach dvtd ssd\n"
	"map    dma0 0x10000 0x80000000 64K rw\n"
	"map    dma0 0x200000 0x80200000 2M rw\n"
	"map    dvtd 0x40000000 0x80400000 4M r\n"
	"dma    gpu write 0x10000 4096\n"
	"expect pa 0x80000000\n"
	"dma    nic read 0x40000 16\n"
	"expect fault translation\n"
	"dma    ssd read 0x40001000 64\n"
	"expect pa 0x80401000\n"
	"unmap  dma0 0x10000 64K\n"
	"expect unmapped 64K\n"
	"detach gpu\n"
	"attach blk gpu\n";

/* A VFIO program's life: limits, a heterogeneous container, GET_INFO,
 * mappings, device DMA, dirty tracking, unmap, a group leaving. */
static const char vfio_text[] =
	"iommu  smmu arm-smmu-v3\n"
	"iommu  vtd intel-vtd\n"
	"device nic smmu sid=1 group=1\n"
	"device nic2 smmu sid=2 group=2\n"
	"device ssd vtd sid=3 group=3\n"
	"vfio   limit memlock unlimited\n"
	"vfio   limit dma-entries 100\n"
	"vfio   open c\n"
	"vfio   add c 1\n"
	"vfio   add c 3\n"
	"vfio   iommu c type1v2\n"
	"expect pgsizes 4K,2M,1G\n"
	"expect iova 0x0-0x7ffffff,0x8100000-0xfedfffff,0xfef00000-0xffffffffffff\n"
	"vfio   map c 0x100000 64K rw\n"
	"vfio   map c 0x400000 4M rw\n"
	"vfio   add c 2\n"
	"dma    ssd write 0x100000 8\n"
	"dma    nic2 read 0x100000 8\n"
	"vfio   dirty c start\n"
	"dma    nic write 0x401000 4096\n"
	"vfio   dirty c 0x400000 4M\n"
	"expect dirty 1\n"
	"vfio   unmap c 0x100000 64K\n"
	"expect unmapped 64K\n"
	"vfio   dirty c stop\n"
	"vfio   remove c 3\n"
	"expect iova 0x0-0x7ffffff,0x8100000-0xffffffffffff\n"
	"vfio   map c 0x800000 2M r\n"
	"vfio   unmap c all\n"
	"expect unmapped 6M\n";

/* Which reason the run gave, for the failure message. */
static void check_failure(struct ap_ctx *ctx, const char *flow, unsigned long n, int rc)
{
	const char *why = ap_ctx_error(ctx);

	EXPECT(rc < 0, "%s: injected failure %lu: the run returned %d", flow, n, rc);
	EXPECT(strstr(why, "memory") != NULL,
	       "%s: injected failure %lu stopped the run with %s: '%s', which does not say "
	       "memory", flow, n, ap_errno_name(rc), why);
}

/*
 * Run `text` (or the file `path`) on a fresh context per n.  Returns the
 * number of injection points.
 */
static unsigned long run_script(const char *flow, const char *text, const char *path)
{
	unsigned long n;

	for (n = 1;; n++) {
		struct ap_ctx *ctx = ap_ctx_new();
		uint64_t allocs, bytes;
		bool fired;
		int rc;

		assert_non_null(ctx);
		ap_ctx_fail_nth(ctx, n);
		rc = text ? ap_scenario_exec(ctx, text) : ap_scenario_run_file(ctx, path, NULL, 0);
		fired = ap_ctx_fail_fired(ctx);
		ap_ctx_fail_nth(ctx, 0);
		if (!fired) {
			EXPECT(rc == 0, "%s: failed with %d without an injected failure (n=%lu): %s",
			       flow, rc, n, ap_ctx_error(ctx));
			ap_ctx_free(ctx);
			break;
		}
		check_failure(ctx, flow, n, rc);
		/* the run's own buffers are given back whichever command failed:
		 * the first allocation is the run's, and after it nothing is held */
		ap_ctx_mem_stats(ctx, &allocs, &bytes);
		EXPECT(n > 1 || (allocs == 0 && bytes == 0),
		       "%s: the run's first allocation failed, and the context holds %llu/%llu "
		       "allocations/bytes", flow, (ull)allocs, (ull)bytes);
		ap_ctx_free(ctx);
	}
	printf("  %-58s %lu injection point%s\n", flow, n - 1, n - 1 == 1 ? "" : "s");
	flows_run++;
	points_total += n - 1;
	return n - 1;
}

/* tests/scenarios/NAME, next to this file. */
static const char *scenario_path(const char *name, char *buf, size_t len)
{
	const char *slash = strrchr(__FILE__, '/');
	int dir = slash ? (int)(slash - __FILE__ + 1) : 0;

	snprintf(buf, len, "%.*sscenarios/%s", dir, __FILE__, name);
	return buf;
}

static void test_core_script(void **state)
{
	(void)state;
	assert_true(run_script("core objects, map, DMA, unmap", core_text, NULL) >= 20);
}

static void test_vfio_script(void **state)
{
	(void)state;
	assert_true(run_script("vfio container life", vfio_text, NULL) >= 40);
}

/* Scripts of the suite, read from their files (the read allocates too). */
static void test_suite_files(void **state)
{
	static const char *const files[] = {
		"heterogeneous.scn", "map-unmap.scn", "vfio-basics.scn",
		"vfio-dirty.scn",    "vfio-hetero.scn", "vfio-limits.scn",
		"virtio-device.scn",
	};
	char path[512], flow[96];

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(flow, sizeof(flow), "file %s", files[i]);
		assert_true(run_script(flow, NULL, scenario_path(files[i], path, sizeof(path))) >= 2);
	}
}

static void test_summary(void **state)
{
	(void)state;
	printf("  scenario: %lu fail-nth flows, %lu injection points\n", flows_run, points_total);
	assert_int_equal(flows_run, 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_script),
		cmocka_unit_test(test_vfio_script),
		cmocka_unit_test(test_suite_files),
		cmocka_unit_test(test_summary),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
