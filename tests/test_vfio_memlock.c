/* SPDX-License-Identifier: MIT */
/*
 * The locked-memory limit of MAP_DMA (vfio.h, "Memory"), as type1's
 * vfio_lock_acct applies it:
 *
 *  - a caller with CAP_IPC_LOCK in its effective set is not held to
 *    RLIMIT_MEMLOCK (its pages are still counted);
 *  - a caller without it is, and the refusal is ENOMEM with a reason that
 *    names the locked-memory limit (not "out of memory") in one number
 *    base;
 *  - a limit set with ap_vfio_set_memlock_limit() holds for every caller,
 *    with CAP_IPC_LOCK or not, and the reason says where it came from.
 *
 * Capabilities and limits are the process's: each case runs in a child
 * (fork) that lowers its own RLIMIT_MEMLOCK and drops or raises
 * CAP_IPC_LOCK in its effective set (capset(2)), so the test process keeps
 * its own.  A case that needs CAP_IPC_LOCK in the permitted set is skipped,
 * and says so, where the test runs without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

#include "vfio_util.h"

#define LIMIT (64 * 1024ull) /* the child's RLIMIT_MEMLOCK */

enum { CHILD_OK = 0, CHILD_FAIL = 1, CHILD_SKIP = 77 };

static int capget_self(struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return (int)syscall(SYS_capget, &hdr, data);
}

/* CAP_IPC_LOCK into (on) or out of the effective set; -1 if not permitted. */
static int set_ipc_lock(bool on)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	unsigned i = CAP_TO_INDEX(CAP_IPC_LOCK);
	uint32_t bit = CAP_TO_MASK(CAP_IPC_LOCK);

	memset(data, 0, sizeof(data));
	if (capget_self(data))
		return -1;
	if (on && !(data[i].permitted & bit))
		return -1;
	data[i].effective = on ? data[i].effective | bit : data[i].effective & ~bit;
	return (int)syscall(SYS_capset, &hdr, data);
}

struct rig {
	struct ap_ctx *ctx;
	int c, g;
	uint8_t *mem;
};

static void rig_open(struct rig *r, bool set_limit, uint64_t limit)
{
	struct ap_device *dev;

	r->ctx = ap_ctx_new(); /* not mk_ctx(): that lifts the limit */
	assert_non_null(r->ctx);
	if (set_limit)
		assert_int_equal(ap_vfio_set_memlock_limit(r->ctx, limit), 0);
	dev = mk_dev(r->ctx, "dev", mk_smmu(r->ctx, "smmu", 48), 1, 4);
	r->c = open_type1v2(r->ctx, dev, &r->g);
	r->mem = buf_alloc(4 * LIMIT);
}

static void rig_close(struct rig *r)
{
	ap_ctx_free(r->ctx);
	munmap(r->mem, 4 * LIMIT);
}

/* In the child: report and leave. */
#define CHILD_CHECK(cond, ...)                                                            \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "child: " __VA_ARGS__);                           \
			fprintf(stderr, "\n");                                            \
			_exit(CHILD_FAIL);                                                \
		}                                                                         \
	} while (0)

/* A refusal over the limit: ENOMEM, its reason as it must read. */
static void child_expect_limit(struct rig *r, uint64_t iova, uint64_t size, const char *source,
			       uint64_t limit, uint64_t pinned)
{
	char want[256];
	int e = map_dma(r->ctx, r->c, r->mem, iova, size, RW);
	const char *why = ap_ctx_error(r->ctx);

	snprintf(want, sizeof(want), "VFIO_IOMMU_MAP_DMA: 0x%llx more bytes would pass the "
		 "locked-memory limit of 0x%llx bytes (%s): 0x%llx are pinned", (ull)size,
		 (ull)limit, source, (ull)pinned);
	CHILD_CHECK(e == ENOMEM, "MAP_DMA of 0x%llx over the limit: %s, wanted ENOMEM", (ull)size,
		    ename(e));
	CHILD_CHECK(!strcmp(why, want), "reason \"%s\", wanted \"%s\"", why, want);
	CHILD_CHECK(!strstr(why, "out of memory"), "reason says out of memory: %s", why);
}

/* Run fn in a child; its exit status. */
static int in_child(void (*fn)(void))
{
	pid_t pid;
	int st = 0;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		fn();
		_exit(CHILD_OK);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void lower_rlimit(void)
{
	struct rlimit rl = { LIMIT, LIMIT };

	CHILD_CHECK(!setrlimit(RLIMIT_MEMLOCK, &rl), "setrlimit: %s", strerror(errno));
}

/* ------------------------------------------------------------ the cases */

/* Without CAP_IPC_LOCK: RLIMIT_MEMLOCK holds, shared by containers. */
static void child_without_cap(void)
{
	struct rig r;

	lower_rlimit();
	CHILD_CHECK(!set_ipc_lock(false), "dropping CAP_IPC_LOCK: %s", strerror(errno));
	rig_open(&r, false, 0);
	CHILD_CHECK(map_dma(r.ctx, r.c, r.mem, 0x100000, LIMIT - PG, RW) == 0, "map under the limit: %s",
		    ap_ctx_error(r.ctx));
	child_expect_limit(&r, 0x200000, 2 * PG, "RLIMIT_MEMLOCK; CAP_IPC_LOCK would lift it", LIMIT,
			   LIMIT - PG);
	CHILD_CHECK(map_dma(r.ctx, r.c, r.mem + LIMIT, 0x200000, PG, RW) == 0,
		    "map of exactly the rest: %s", ap_ctx_error(r.ctx));
	rig_close(&r);
}

static void test_rlimit_without_cap(void **state)
{
	(void)state;
	assert_int_equal(in_child(child_without_cap), CHILD_OK);
}

/* With CAP_IPC_LOCK: no limit, though the pages are counted. */
static void child_with_cap(void)
{
	struct ap_vfio_container_info ci;
	struct rig r;

	lower_rlimit();
	if (set_ipc_lock(true))
		_exit(CHILD_SKIP);
	rig_open(&r, false, 0);
	CHILD_CHECK(map_dma(r.ctx, r.c, r.mem, 0x100000, 4 * LIMIT, RW) == 0,
		    "map of 4x RLIMIT_MEMLOCK with CAP_IPC_LOCK: %s", ap_ctx_error(r.ctx));
	CHILD_CHECK(!ap_vfio_container_info(r.ctx, 0, &ci) && ci.locked == 4 * LIMIT,
		    "pinned bytes not counted");
	/* the capability is read at each map: without it the next is refused */
	CHILD_CHECK(!set_ipc_lock(false), "dropping CAP_IPC_LOCK: %s", strerror(errno));
	child_expect_limit(&r, 0x800000, PG, "RLIMIT_MEMLOCK; CAP_IPC_LOCK would lift it", LIMIT,
			   4 * LIMIT);
	rig_close(&r);
}

static void test_cap_ipc_lock_lifts_rlimit(void **state)
{
	int rc;

	(void)state;
	rc = in_child(child_with_cap);
	if (rc == CHILD_SKIP) {
		print_message("  skipped: CAP_IPC_LOCK is not in this process's permitted set\n");
		return;
	}
	assert_int_equal(rc, CHILD_OK);
}

/* A limit set with ap_vfio_set_memlock_limit() holds with CAP_IPC_LOCK. */
static void child_set_limit(void)
{
	struct rig r;

	if (set_ipc_lock(true))
		_exit(CHILD_SKIP);
	rig_open(&r, true, 2 * PG);
	CHILD_CHECK(map_dma(r.ctx, r.c, r.mem, 0x100000, 2 * PG, RW) == 0, "map up to the limit: %s",
		    ap_ctx_error(r.ctx));
	child_expect_limit(&r, 0x200000, PG, "set with ap_vfio_set_memlock_limit()", 2 * PG,
			   2 * PG);
	rig_close(&r);
}

static void child_set_limit_nocap(void)
{
	struct rig r;

	CHILD_CHECK(!set_ipc_lock(false), "dropping CAP_IPC_LOCK: %s", strerror(errno));
	lower_rlimit();
	/* the set limit replaces RLIMIT_MEMLOCK too: above it here */
	rig_open(&r, true, 2 * LIMIT);
	CHILD_CHECK(map_dma(r.ctx, r.c, r.mem, 0x100000, 2 * LIMIT, RW) == 0,
		    "map above RLIMIT_MEMLOCK, within the set limit: %s", ap_ctx_error(r.ctx));
	child_expect_limit(&r, 0x200000, PG, "set with ap_vfio_set_memlock_limit()", 2 * LIMIT,
			   2 * LIMIT);
	rig_close(&r);
}

static void test_set_limit_holds_for_everyone(void **state)
{
	int rc;

	(void)state;
	assert_int_equal(in_child(child_set_limit_nocap), CHILD_OK);
	rc = in_child(child_set_limit);
	if (rc == CHILD_SKIP) {
		print_message("  skipped the CAP_IPC_LOCK half: not in the permitted set\n");
		return;
	}
	assert_int_equal(rc, CHILD_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rlimit_without_cap),
		cmocka_unit_test(test_cap_ipc_lock_lifts_rlimit),
		cmocka_unit_test(test_set_limit_holds_for_everyone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
