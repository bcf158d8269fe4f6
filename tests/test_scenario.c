/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the scenario layer through its public API: number and errno
 * parsing, running text in a context, error messages naming FILE:LINE, and
 * the show/dump/audit views.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <linux/vfio.h>

#include <aperture/aperture.h>

static void test_parse_size(void **state)
{
	static const struct {
		const char *text;
		int err;
		uint64_t value;
	} cases[] = {
		{ "0", 0, 0 },
		{ "4096", 0, 4096 },
		{ "0x1000", 0, 0x1000 },
		{ "0X1f", 0, 0x1f },
		{ "4K", 0, 4096 },
		{ "2M", 0, 2u << 20 },
		{ "1G", 0, 1u << 30 },
		{ "3T", 0, 3ull << 40 },
		{ "0x10K", 0, 16 << 10 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "0xffffffffffffffff", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "0x10000000000000000", -ERANGE, 0 },
		{ "16777216T", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "0x", -EINVAL, 0 },
		{ "K", -EINVAL, 0 },
		{ "4k", -EINVAL, 0 },
		{ "4KB", -EINVAL, 0 },
		{ "12ab", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ " 1", -EINVAL, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;
		int err = ap_parse_size(cases[i].text, &v);

		if (err != cases[i].err)
			fail_msg("ap_parse_size(\"%s\") = %d, want %d", cases[i].text, err,
				 cases[i].err);
		if (!err && v != cases[i].value)
			fail_msg("ap_parse_size(\"%s\") gave 0x%llx", cases[i].text,
				 (unsigned long long)v);
	}
	assert_int_equal(ap_parse_size(NULL, NULL), -EINVAL);
}

static void test_errno_names(void **state)
{
	static const char *const names[] = { "EINVAL", "EEXIST", "ERANGE", "EADDRINUSE",
					     "EBUSY", "ENOENT", "ENOMEM", "EPERM",
					     "EFAULT", "EOVERFLOW", "ENOSPC", "EPROTO" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int err = ap_errno_from_name(names[i]);

		assert_true(err > 0);
		assert_string_equal(ap_errno_name(err), names[i]);
		assert_string_equal(ap_errno_name(-err), names[i]);
	}
	assert_int_equal(ap_errno_from_name("EINVAL"), EINVAL);
	assert_int_equal(ap_errno_from_name("EADDRINUSE"), EADDRINUSE);
	assert_int_equal(ap_errno_from_name("einval"), 0);
	assert_int_equal(ap_errno_from_name(NULL), 0);
	assert_string_equal(ap_errno_name(99999), "E?");
	assert_int_equal(ap_fault_kind_from_name("bad-stream"), AP_FAULT_BAD_STREAM);
	assert_string_equal(ap_fault_kind_name(AP_FAULT_ADDRESS_SIZE), "address-size");
	assert_int_equal(ap_fault_kind_from_name("nope"), AP_FAULT_NONE);
}

/* Objects a script creates stay in the context for the API and later runs. */
static void test_exec_builds_context(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_device *dev;
	struct ap_geometry g;
	uint8_t buf[8];
	uint8_t *ram;

	(void)state;
	assert_int_equal(ap_scenario_run(ctx, "a", "ram 0x80000000 1M\n"
					 "iommu s arm-smmu-v3 ias=36 oas=40\n"
					 "device d s sid=7 group=3\n"
					 "domain dom s\n"
					 "attach dom d\n"
					 "map dom 0x1000 0x80002000 4K rw\n"
					 "dma d write 0x1004 4\n", NULL, 0),
			 0);
	dev = ap_device_find(ctx, "d");
	assert_non_null(dev);
	assert_int_equal(ap_device_sid(dev), 7);
	assert_int_equal(ap_device_group_id(dev), 3);
	ap_domain_geometry(ap_domain_find(ctx, "dom"), &g);
	assert_int_equal(g.end, (1ull << 36) - 1);
	/* The scenario's write pattern is 0xa5 ^ (iova & 0xff). */
	ram = ap_ram_ptr(ctx, 0x80002004, 4);
	assert_non_null(ram);
	assert_int_equal(ram[0], 0xa5 ^ 0x04);
	assert_int_equal(ram[3], 0xa5 ^ 0x07);
	assert_int_equal(ram[-1], 0);
	assert_int_equal(ap_dma_read(dev, 0x1004, buf, 4, NULL), 0);
	assert_memory_equal(buf, ram, 4);
	/* A second run sees what the first made. */
	assert_int_equal(ap_scenario_run(ctx, "b", "unmap dom 0x1000 4K\nexpect unmapped 4K\n"
					 "dma d read 0x1000 4\nexpect fault translation\n",
					 NULL, 0),
			 0);
	ap_ctx_free(ctx);
}

static void expect_failure(const char *text, int want, const char *message)
{
	struct ap_ctx *ctx = ap_ctx_new();
	int rc = ap_scenario_run(ctx, "t.scn", text, NULL, 0);

	if (rc != want || !strstr(ap_ctx_error(ctx), message))
		fail_msg("script:\n%s\nrc %d (want %d), message '%s' (want '%s')", text, rc, want,
			 ap_ctx_error(ctx), message);
	ap_ctx_free(ctx);
}

static void test_errors_name_file_and_line(void **state)
{
	(void)state;
	expect_failure("\n\nbogus\n", -EINVAL, "t.scn:3: expected a command");
	expect_failure("iommu s arm-smmu-v3\nexpect error EEXIST\n", -EPROTO,
		       "t.scn:2: expected error EEXIST, got ok");
	expect_failure("iommu s arm-smmu-v3 # comment\niommu s arm-smmu-v3\n", -EEXIST,
		       "t.scn:2: iommu failed with EEXIST");
	expect_failure("iommu s arm-smmu-v3\niommu s arm-smmu-v3\nexpect ok\n", -EPROTO,
		       "t.scn:3: expected ok, got error EEXIST");
	expect_failure("ram 1 2 3\n", -EINVAL, "t.scn:1: expected 'ram PA SIZE', got 3 arguments");
	expect_failure("iommu s arm-smmu-v3 pgsizes=4K,3K\n", -EINVAL,
		       "t.scn:1: expected a pgsizes LIST of power-of-two sizes such as 4K,2M,1G, "
		       "got '4K,3K'");
	expect_failure("iommu s arm-smmu-v3 unmatched=maybe\n", -EINVAL,
		       "expected unmatched=abort|bypass, got 'maybe'");
	expect_failure("device d nowhere sid=1\nexpect error ENOENT\nexpect geometry 0 1\n",
		       -EPROTO, "t.scn:3: expected geometry 0 1, got no domain named before it");
	expect_failure("iommu s arm-smmu-v3\ndevice d s group=1\n", -EINVAL, "sid= is missing");
	expect_failure("iommu s arm-smmu-v3\ndevice d s sid=0x100000000\n", -EINVAL,
		       "expected a 32-bit stream ID");
	expect_failure("iommu s arm-smmu-v3\ndevice d s sid=1\ndma d read 0 0\n", -EINVAL,
		       "expected LEN 1..256M");
	expect_failure("expect fault sideways\n", -EINVAL, "expected a fault KIND");
	/* values are never clamped or taken for "unset" behind the user's back */
	expect_failure("iommu s arm-smmu-v3 ias=4294967344\n", -EINVAL,
		       "expected ias below 2^32, got '4294967344'");
	expect_failure("iommu s arm-smmu-v3 ias=4294967295\n", -EINVAL, "ias=4294967295");
	expect_failure("iommu s arm-smmu-v3\ndevice d s sid=0xffffffffffffffff\n", -EINVAL,
		       "expected a 32-bit stream ID, got 0xffffffffffffffff");
	expect_failure("iommu s arm-smmu-v3\ndevice d s sid=1 group=0xffffffffffffffff\n",
		       -EINVAL, "expected a group number below 2^31");
}

/* A scenario must not half-run a malformed line: nothing it names appears. */
static void test_malformed_line_changes_nothing(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	uint64_t allocs, allocs_after;

	(void)state;
	assert_int_equal(ap_scenario_run(ctx, "x", "iommu s arm-smmu-v3\n", NULL, 0), 0);
	ap_ctx_mem_stats(ctx, &allocs, NULL);
	assert_int_equal(ap_scenario_run(ctx, "x", "iommu t arm-smmu-v3 ias=40 oops\n", NULL, 0),
			 -EINVAL);
	assert_null(ap_iommu_find(ctx, "t"));
	assert_int_equal(ap_scenario_run(ctx, "x", "device d s sid=1 group=x\n", NULL, 0),
			 -EINVAL);
	assert_null(ap_device_find(ctx, "d"));
	ap_ctx_mem_stats(ctx, &allocs_after, NULL);
	assert_int_equal(allocs, allocs_after);
	ap_ctx_free(ctx);
}

static char *capture(struct ap_ctx *ctx, const char *text, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	*rc = ap_scenario_run(ctx, "c", text, out, AP_SCENARIO_ECHO);
	fclose(out);
	return buf;
}

static void test_show_dump_audit(void **state)
{
	static const char text[] = "ram 0x80000000 1M\n"
				   "iommu s arm-smmu-v3\n"
				   "iommu p arm-smmu-v3 unmatched=bypass\n"
				   "iommu o arm-smmu-v3 aperture=open\n"
				   "device d s sid=0x10\n"
				   "device leak p sid=0x11\n"
				   "domain dom s\n"
				   "attach dom d\n"
				   "map dom 0x40001000 0x40001000 4K rw\n"
				   "dump dom\n"
				   "show leak\n";
	struct ap_ctx *ctx = ap_ctx_new();
	char *out, *audit = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	(void)state;
	out = capture(ctx, text, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "\nleaf lvl=3 iova=0x40001000 size=0x1000 "
				    "pte=0x0000000040001e43\n"));
	assert_non_null(strstr(out, "BYPASS"));
	assert_non_null(strstr(out, "   9  map dom 0x40001000 0x40001000 4K rw"));
	free(out);
	f = open_memstream(&audit, &len);
	assert_int_equal(ap_audit(ctx, f), 3); /* bypass unit, open unit, leak */
	fclose(f);
	assert_non_null(strstr(audit, "iommu p passes unmatched streams"));
	assert_non_null(strstr(audit, "iommu o leaves its aperture open"));
	assert_non_null(strstr(audit, "device leak"));
	free(audit);
	/* no output changes no answer: a script runs the same under show */
	assert_int_equal(ap_show(ctx, NULL, "nothing-called-this"), -ENOENT);
	f = fopen("/dev/null", "w");
	assert_int_equal(ap_show(ctx, f, "nothing-called-this"), -ENOENT);
	assert_int_equal(ap_show(ctx, f, NULL), 0);
	fclose(f);
	ap_ctx_free(ctx);
}

static void test_audit_clean_machine(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();

	(void)state;
	assert_int_equal(ap_scenario_run(ctx, "x", "iommu s arm-smmu-v3\ndevice d s sid=1\n"
					 "domain i s identity\n", NULL, 0), 0);
	assert_int_equal(ap_audit(ctx, NULL), 0);
	assert_int_equal(ap_scenario_run(ctx, "x", "attach i d\n", NULL, 0), 0);
	assert_int_equal(ap_audit(ctx, NULL), 1);
	ap_ctx_free(ctx);
}

/*
 * `vfio` commands: the containers, groups and memory a script makes outlive
 * the run (as `aperture show FILE` needs), show lists them, a second run
 * uses them, and a malformed vfio line makes nothing.
 */
static void test_vfio_commands(void **state)
{
	static const char text[] = "iommu s arm-smmu-v3\n"
				   "device d s sid=1 group=4\n"
				   "vfio limit memlock unlimited\n"
				   "vfio open box\n"
				   "vfio add box 4\n"
				   "vfio iommu box type1v2\n"
				   "vfio map box 0x200000 2M rw\n";
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_vfio_container_info ci;
	char *out;
	int rc;

	(void)state;
	out = capture(ctx, text, &rc);
	assert_int_equal(rc, 0);
	free(out);
	assert_int_equal(ap_vfio_container_info(ctx, 0, &ci), 0);
	assert_int_equal(ci.iommu, VFIO_TYPE1v2_IOMMU);
	assert_int_equal(ci.mappings, 1);
	out = capture(ctx, "dma d write 0x200010 4\nexpect pa 0x10\nshow box\n"
		      "vfio map box 0x0 2G rw\n", &rc);
	assert_int_equal(rc, -EINVAL); /* over the 1G the script may allocate */
	assert_non_null(strstr(out, "VFIO containers\n  box          type1v2, groups 4\n"));
	assert_non_null(strstr(out, "iova 0x0000000008100000-0x0000ffffffffffff"));
	assert_non_null(strstr(ap_ctx_error(ctx), "c:4: expected SIZE up to 1G"));
	free(out);
	assert_int_equal(ap_vfio_container_info(ctx, 0, &ci), 0);
	assert_int_equal(ci.mappings, 1);
	assert_int_equal(ap_scenario_run(ctx, "x", "vfio iommu box type3\n", NULL, 0), -EINVAL);
	assert_int_equal(ap_scenario_run(ctx, "x", "vfio frob box\n", NULL, 0), -EINVAL);
	assert_non_null(strstr(ap_ctx_error(ctx), "x:1: expected vfio open|add|remove"));
	assert_int_equal(ap_scenario_run(ctx, "x", "vfio unmap box all\nexpect unmapped 2M\n",
					 NULL, 0), 0);
	ap_ctx_free(ctx);
}

static void test_run_file_errors(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();

	(void)state;
	assert_int_equal(ap_scenario_run_file(ctx, "/nonexistent/x.scn", NULL, 0), -ENOENT);
	assert_non_null(strstr(ap_ctx_error(ctx), "/nonexistent/x.scn"));
	assert_int_equal(ap_scenario_run(NULL, "x", "", NULL, 0), -EINVAL);
	assert_int_equal(ap_scenario_run(ctx, "x", NULL, NULL, 0), -EINVAL);
	assert_int_equal(ap_scenario_run(ctx, "x", "", NULL, 0), 0);
	assert_int_equal(ap_scenario_run(ctx, "x", "# only a comment", NULL, 0), 0);
	ap_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_errno_names),
		cmocka_unit_test(test_exec_builds_context),
		cmocka_unit_test(test_errors_name_file_and_line),
		cmocka_unit_test(test_malformed_line_changes_nothing),
		cmocka_unit_test(test_show_dump_audit),
		cmocka_unit_test(test_audit_clean_machine),
		cmocka_unit_test(test_run_file_errors),
		cmocka_unit_test(test_vfio_commands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
