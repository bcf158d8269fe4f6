/* SPDX-License-Identifier: MIT */
/*
 * Firmware in, machines out: every real table imported, applied to a
 * context and written as a scenario; running that scenario must give the
 * same `show` as the imported context.  The founding thread's machine
 * from an IORT and ID registers written here.  And the bypass audit on
 * sysfs fixtures.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <aperture/aperture.h>

#include "expect.h"
#include "fwtab.h"


static char *show_of(struct ap_ctx *ctx)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	ap_show(ctx, f, NULL);
	fclose(f);
	return text;
}

/* Apply the description to ctx; the scenario it writes (the caller frees
 * it).  The test fails, with the reason, if apply does. */
static char *apply_text(struct ap_fw *fw, struct ap_ctx *ctx, const char *what)
{
	char *scn = NULL;
	size_t slen = 0;
	FILE *f = open_memstream(&scn, &slen);
	int rc;

	assert_non_null(f);
	rc = ap_fw_apply(fw, ctx, f);
	fclose(f);
	EXPECT(rc == 0, "%s: apply: %s", what, ap_fw_error(fw));
	return scn;
}

/* Import, apply, write; run the scenario; compare the two shows. */
static void round_trip(int (*fn)(struct ap_fw *, const void *, size_t), const void *buf,
		       size_t len, const char *what)
{
	struct ap_ctx *a = ap_ctx_new(), *b = ap_ctx_new();
	struct ap_fw *fw;
	char *scn, *sa, *sb;
	int rc;

	assert_int_equal(ap_fw_new(a, &fw), 0);
	EXPECT(fn(fw, buf, len) == 0, "%s: %s", what, ap_fw_error(fw));
	scn = apply_text(fw, a, what);
	rc = ap_scenario_exec(b, scn);
	EXPECT(rc == 0, "%s: the written scenario fails: %s\n%s", what, ap_ctx_error(b), scn);
	sa = show_of(a);
	sb = show_of(b);
	EXPECT(!strcmp(sa, sb), "%s: show differs\n--- imported\n%s\n--- from scenario\n%s", what,
	       sa, sb);
	/* Arm SMMUv1/v2 units need the arm-smmu kind; a build without it
	 * imports none of them (the scenario says so in a comment). */
	EXPECT(ap_iommu_next(a, NULL) != NULL || !ap_iommu_kind_from_name("arm-smmu"),
	       "%s: no instance imported", what);
	print_message("round trip %s: %zu bytes of scenario\n", what, strlen(scn));
	free(sa);
	free(sb);
	free(scn);
	ap_fw_free(fw);
	ap_ctx_free(a);
	ap_ctx_free(b);
}

static void test_round_trip_real(void **state)
{
	(void)state;
	assert_true(build_dtb(REAL "juno-base-iommu.dtsi", "build/juno.dtb"));
	assert_true(build_dtb(REAL "fsl-ls1028a-iommu.dtsi", "build/ls1028a.dtb"));
	for (size_t i = 0; i < TW_REAL_INPUTS; i++) {
		size_t len;
		void *buf = tw_load(tw_real_inputs[i].path, &len);

		round_trip(tw_real_inputs[i].fn, buf, len, tw_real_inputs[i].path);
		free(buf);
	}
}

/* The seed machine from firmware: two SMMUv3 whose ID registers give 48-
 * and 32-bit input sizes (stage 2 only, IDR5.OAS 48 and 32), a NIC and a
 * GPU as named components, a rogue stream; then the attach part of
 * tools/aperture/default.scn, with its expectations. */
static void test_seed_machine(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_fw *fw;
	struct tw t;
	size_t s0, s1;
	static const char regs[] = "0x2b400000 IDR0=0x9 IDR5=0x15\n"  /* S2P, AArch64; OAS 48, 4K */
				   "0x2b500000 IDR0=0x9 IDR5=0x10\n"; /* S2P, AArch64; OAS 32, 4K */
	static const char script[] =
		"ram    0x80000000 64M\n"
		"domain dma0 smmuv3_0\n"
		"expect geometry 0x0 0xffffffffffff forced\n"
		"expect pgsizes 4K,2M,1G\n"
		"attach dma0 \\_SB.NIC0\n"
		"map    dma0 0x100000000 0x80000000 2M rw\n"
		"attach dma0 \\_SB.GPU0\n"
		"expect error EADDRINUSE\n"
		"expect geometry 0x0 0xffffffffffff forced\n"
		"unmap  dma0 0x100000000 2M\n"
		"expect unmapped 2M\n"
		"attach dma0 \\_SB.GPU0\n"
		"expect ok\n"
		"expect geometry 0x0 0xffffffff forced\n"
		"map    dma0 0x100000000 0x80000000 4K rw\n"
		"expect error ERANGE\n"
		"map    dma0 0x10000 0x80000000 64K rw\n"
		"map    dma0 0x200000 0x80200000 2M r\n"
		"dma    \\_SB.NIC0 write 0x10000 4096\n"
		"expect pa 0x80000000\n"
		"dma    \\_SB.GPU0 read 0x10000 4096\n"
		"expect pa 0x80000000\n"
		"dma    \\_SB.GPU0 write 0x200000 64\n"
		"expect fault permission\n"
		"dma    \\_SB.NIC0 read 0x40000 16\n"
		"expect fault translation\n"
		"dma    \\_SB.NIC0 read 0x100000000 16\n"
		"expect fault address-size\n"
		"dma    \\_SB.ROGU read 0x10000 16\n"
		"expect fault bad-stream\n";

	(void)state;
	tw_iort(&t, 0, 5);
	s0 = tw_smmuv3(&t, 0x2b400000, 1);
	s1 = tw_smmuv3(&t, 0x2b500000, 1);
	tw_nc(&t, "\\_SB.NIC0", 48, 0, 0, 0x10, (uint32_t)s0, 1);
	tw_nc(&t, "\\_SB.GPU0", 32, 0, 0, 0x20, (uint32_t)s1, 1);
	tw_nc(&t, "\\_SB.ROGU", 48, 0, 0, 0x99, (uint32_t)s0, 1);
	tw_seal(&t);
	assert_int_equal(ap_fw_new(ctx, &fw), 0);
	assert_int_equal(ap_fw_add_iort(fw, t.b, t.n), 0);
	assert_int_equal(ap_fw_add_regs(fw, regs, strlen(regs), "seed.regs"), 0);
	assert_int_equal(ap_fw_desc(fw)->units[0].caps.ias, 48);
	assert_int_equal(ap_fw_desc(fw)->units[1].caps.ias, 32);
	EXPECT(ap_fw_apply(fw, ctx, NULL) == 0, "%s", ap_fw_error(fw));
	EXPECT(ap_scenario_exec(ctx, script) == 0, "%s", ap_ctx_error(ctx));
	ap_fw_free(fw);
	ap_ctx_free(ctx);
}

/* What an SMMUv1/v2's ID registers say reaches the instance: the number
 * of stage-2-only context banks, stream indexing (ID0.SMS = 0) and the
 * stream ID width; and the written scenario reads back to the same. */
static void test_apply_arm_smmu_ids(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new(), *again = ap_ctx_new();
	const struct ap_iommu_config *c;
	struct ap_fw *fw;
	struct tw t;
	char *scn;
	size_t s0, s1;
	/* unit 0: MMU-500, S1TS|S2TS, indexing, 10-bit IDs; 8 banks, 4 of
	 * them stage 2 only.  unit 1: MMU-401, S2TS, 8 SMRs; 4 banks, all
	 * stage 2 only */
	static const char regs[] = "0x2b400000 ID0=0x60001400 ID1=0x00040008 ID2=0x1555\n"
				   "0x2b500000 ID0=0x28001e08 ID1=0x00040004 ID2=0x0022\n";

	(void)state;
	tw_iort(&t, 0, 4);
	s0 = tw_smmu2(&t, 0x2b400000, 3);
	s1 = tw_smmu2(&t, 0x2b500000, 4);
	tw_nc(&t, "\\_SB.DMA0", 48, 0, 0, 0x3ff, (uint32_t)s0, 1);
	tw_nc(&t, "\\_SB.DMA1", 40, 0, 0, 0x7, (uint32_t)s1, 1);
	tw_seal(&t);
	assert_int_equal(ap_fw_new(ctx, &fw), 0);
	assert_int_equal(ap_fw_add_iort(fw, t.b, t.n), 0);
	EXPECT(ap_fw_add_regs(fw, regs, strlen(regs), "ids.regs") == 0, "%s", ap_fw_error(fw));
	scn = apply_text(fw, ctx, "apply");
	c = ap_iommu_get_config(ap_iommu_find(ctx, "smmu_0"));
	assert_int_equal(c->arm_smmu.model, AP_ARM_MMU_500);
	assert_int_equal(c->arm_smmu.context_banks, 8);
	assert_int_equal(c->arm_smmu.s2_context_banks, 4);
	assert_int_equal(c->arm_smmu.smrs, 0);
	assert_int_equal(c->arm_smmu.streamid_bits, 10);
	c = ap_iommu_get_config(ap_iommu_find(ctx, "smmu_1"));
	assert_int_equal(c->arm_smmu.model, AP_ARM_MMU_401);
	assert_int_equal(c->arm_smmu.context_banks, 4);
	assert_int_equal(c->arm_smmu.s2_context_banks, 4);
	assert_int_equal(c->arm_smmu.smrs, 8);
	EXPECT(ap_scenario_exec(again, scn) == 0, "%s\n%s", ap_ctx_error(again), scn);
	c = ap_iommu_get_config(ap_iommu_find(again, "smmu_0"));
	assert_int_equal(c->arm_smmu.s2_context_banks, 4);
	assert_int_equal(c->arm_smmu.smrs, 0);
	assert_int_equal(c->arm_smmu.streamid_bits, 10);
	free(scn);
	ap_fw_free(fw);
	ap_ctx_free(ctx);
	ap_ctx_free(again);
}

/* DMAR device scopes whose path crosses a bridge (two hops from the start
 * bus): the bus the endpoint sits on is the bridge's secondary bus, which
 * only PCI config space knows, so the table gives no requester ID.  Two
 * such endpoints behind two root ports (both 00.0 on their buses) must
 * not make the import fail; they are left out of the machine with a
 * comment, and a one-hop endpoint is still made. */
static void test_apply_dmar_bridge_paths(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new(), *again = ap_ctx_new();
	struct ap_fw *fw;
	struct tw t;
	char *scn;

	(void)state;
	tw_dmar(&t, 46, 1);
	P16(&t, 0); P16(&t, 16 + 10 + 10 + 8); P8(&t, 0); P8(&t, 0); P16(&t, 0);
	P64(&t, 0xfed90000);
	P8(&t, 1); P8(&t, 10); P16(&t, 0); P8(&t, 0); P8(&t, 0);  /* 00:1c.0 -> 00.0 */
	P8(&t, 0x1c); P8(&t, 0); P8(&t, 0); P8(&t, 0);
	P8(&t, 1); P8(&t, 10); P16(&t, 0); P8(&t, 0); P8(&t, 0);  /* 00:1d.0 -> 00.0 */
	P8(&t, 0x1d); P8(&t, 0); P8(&t, 0); P8(&t, 0);
	P8(&t, 1); P8(&t, 8); P16(&t, 0); P8(&t, 0); P8(&t, 0);   /* 00:02.0 */
	P8(&t, 2); P8(&t, 0);
	tw_seal(&t);
	assert_int_equal(ap_fw_new(ctx, &fw), 0);
	EXPECT(ap_fw_add_dmar(fw, t.b, t.n) == 0, "%s", ap_fw_error(fw));
	assert_int_equal(ap_fw_desc(fw)->n_devs, 3);
	scn = apply_text(fw, ctx, "apply");
	assert_non_null(ap_device_find(ctx, "0000:00:02.0"));
	assert_int_equal(ap_device_sid(ap_device_find(ctx, "0000:00:02.0")), 0x10);
	assert_null(ap_device_find(ctx, "0000:00:1c.0/00.0"));
	assert_null(ap_device_find(ctx, "0000:00:1d.0/00.0"));
	EXPECT(strstr(scn, "# 0000:00:1c.0/00.0: behind a bridge") &&
	       strstr(scn, "# 0000:00:1d.0/00.0: behind a bridge"), "%s", scn);
	EXPECT(ap_scenario_exec(again, scn) == 0, "%s\n%s", ap_ctx_error(again), scn);
	free(scn);
	ap_fw_free(fw);
	ap_ctx_free(ctx);
	ap_ctx_free(again);
}

/* An ACPI namespace device (ANDD) is seen by its unit under the requester
 * ID its scope's path gives, which is often a PCI function's too (an I2C
 * controller at 00:15.0 and its ACPI companion): the unit sees one
 * requester, so the machine gets one device, and the other is a comment. */
static void test_apply_dmar_shared_rid(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_fw *fw;
	struct tw t;
	char *scn;

	(void)state;
	tw_dmar(&t, 46, 1);
	P16(&t, 0); P16(&t, 16 + 8 + 8); P8(&t, 0); P8(&t, 0); P16(&t, 0);
	P64(&t, 0xfed90000);
	P8(&t, 5); P8(&t, 8); P16(&t, 0); P8(&t, 1); P8(&t, 0);   /* namespace, enum 1 */
	P8(&t, 0x15); P8(&t, 0);
	P8(&t, 1); P8(&t, 8); P16(&t, 0); P8(&t, 0); P8(&t, 0);   /* 00:15.0 */
	P8(&t, 0x15); P8(&t, 0);
	P16(&t, 4); P16(&t, 8 + 15); P16(&t, 0); P8(&t, 0); P8(&t, 1);   /* ANDD 1 */
	memcpy(t.b + t.n, "\\_SB.PCI0.I2C0", 15);
	t.n += 15;
	tw_seal(&t);
	assert_int_equal(ap_fw_new(ctx, &fw), 0);
	EXPECT(ap_fw_add_dmar(fw, t.b, t.n) == 0, "%s", ap_fw_error(fw));
	assert_int_equal(ap_fw_desc(fw)->n_devs, 2);
	scn = apply_text(fw, ctx, "apply");
	assert_int_equal(ap_device_sid(ap_device_find(ctx, "\\_SB.PCI0.I2C0")), 0xa8);
	assert_null(ap_device_find(ctx, "0000:00:15.0"));
	EXPECT(strstr(scn, "# 0000:00:15.0 sid=0xa8: stream 0xa8 on dmar0 is already device"),
	       "%s", scn);
	free(scn);
	ap_fw_free(fw);
	ap_ctx_free(ctx);
}

/* The audit on descriptions with each kind of bypass. */
static size_t bypasses(struct ap_fw *fw, const char *needle)
{
	struct ap_fw_bypass b;
	size_t n = 0;

	for (size_t i = 0; !ap_fw_bypass(fw, i, &b); i++)
		n += strstr(b.why, needle) != NULL;
	return n;
}

static void test_audit(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_fw *fw;
	size_t len;
	void *buf;
	struct tw t;
	static const char pt[] = "0xfed91000 CAP=0xc002f0402 ECAP=0x40\n";

	(void)state;
	/* RMRRs of the R820: four direct ranges */
	assert_int_equal(ap_fw_new(ctx, &fw), 0);
	buf = tw_load(REAL "dmar-dell-poweredge-r820.dat", &len);
	assert_int_equal(ap_fw_add_dmar(fw, buf, len), 0);
	free(buf);
	assert_int_equal(bypasses(fw, "RMRR"), 4);
	assert_false(ap_fw_no_iommu(fw));
	ap_fw_free(fw);
	/* CIX: ten RMR streams */
	assert_int_equal(ap_fw_new(ctx, &fw), 0);
	buf = tw_load(REAL "iort-cix-sky1-orion-o6.dat", &len);
	assert_int_equal(ap_fw_add_iort(fw, buf, len), 0);
	free(buf);
	assert_int_equal(bypasses(fw, "IORT RMR"), 10);
	ap_fw_free(fw);
	/* ECAP.PT */
	assert_int_equal(ap_fw_new(ctx, &fw), 0);
	tw_dmar(&t, 39, 1);
	tw_drhd(&t, 1, 0xfed91000, 0, 2, 0);
	tw_seal(&t);
	assert_int_equal(ap_fw_add_dmar(fw, t.b, t.n), 0);
	assert_int_equal(bypasses(fw, "ECAP.PT"), 0);
	assert_int_equal(ap_fw_add_regs(fw, pt, strlen(pt), "pt"), 0);
	assert_int_equal(bypasses(fw, "ECAP.PT"), 1);
	ap_fw_free(fw);
	/* an empty description: no IOMMU */
	assert_int_equal(ap_fw_new(ctx, &fw), 0);
	assert_true(ap_fw_no_iommu(fw));
	ap_fw_free(fw);
	ap_ctx_free(ctx);
}

/* `audit --host` here: the verdict against what /sys says, read by the
 * test itself (a machine with no IOMMU must say every DMA-capable PCI
 * function reaches all memory). */
static void test_audit_this_host(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_fw *fw;
	struct ap_fw_bypass b;
	size_t n = 0, dma = 0;
	FILE *p = popen("for d in /sys/bus/pci/devices/*; do [ -e \"$d/class\" ] && "
			"cat \"$d/class\"; done; ls /sys/class/iommu 2>/dev/null | wc -l", "r");
	char line[64], last[64] = "0";

	(void)state;
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		if (!strncmp(line, "0x", 2) && strncmp(line, "0x06", 4))
			dma++;
		snprintf(last, sizeof(last), "%s", line);
	}
	pclose(p);
	assert_int_equal(ap_fw_new(ctx, &fw), 0);
	EXPECT(ap_fw_add_sysfs(fw, "/") == 0, "%s", ap_fw_error(fw));
	for (; !ap_fw_bypass(fw, n, &b); n++)
		;
	print_message("this host: %zu DMA-capable PCI functions, %s IOMMU(s), %zu bypass paths\n",
		      dma, strtok(last, "\n"), n);
	if (atoi(last) == 0 && !ap_fw_desc(fw)->n_units) {
		assert_true(ap_fw_no_iommu(fw));
		assert_int_equal(n, dma);
	}
	ap_fw_free(fw);
	ap_ctx_free(ctx);
}

/* The aperture binary beside this test's build directory. */
static char aperture_bin[512];

/* `aperture import --regs F`: an error in F names F and the line, as every
 * text input's errors do. */
static void test_cli_regs_error_names_file(void **state)
{
	struct tw t;
	FILE *fp;
	char cmd[1200], out[512] = "";
	size_t n;

	(void)state;
	tw_dmar(&t, 46, 1);
	tw_drhd(&t, 1, 0xfed90000, -1, 0, 0);
	tw_seal(&t);
	fp = fopen("build/fwcli-test.dmar", "wb");
	assert_non_null(fp);
	fwrite(t.b, 1, t.n, fp);
	fclose(fp);
	fp = fopen("build/fwcli-test.regs", "w");
	assert_non_null(fp);
	fputs("# registers\n0xfed90000 FOO=1\n", fp);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "%s import --dmar build/fwcli-test.dmar "
		 "--regs build/fwcli-test.regs 2>&1", aperture_bin);
	fp = popen(cmd, "r");
	assert_non_null(fp);
	n = fread(out, 1, sizeof(out) - 1, fp);
	out[n] = '\0';
	assert_int_not_equal(pclose(fp), 0);
	EXPECT(strstr(out, "build/fwcli-test.regs:2: unknown register \"FOO\""), "%s", out);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_real),
		cmocka_unit_test(test_seed_machine),
		cmocka_unit_test(test_apply_arm_smmu_ids),
		cmocka_unit_test(test_apply_dmar_bridge_paths),
		cmocka_unit_test(test_apply_dmar_shared_rid),
		cmocka_unit_test(test_audit),
		cmocka_unit_test(test_audit_this_host),
		cmocka_unit_test(test_cli_regs_error_names_file),
	};
	const char *slash = argc ? strrchr(argv[0], '/') : NULL;

	/* BUILD/tests/test_fwimport -> BUILD/aperture */
	snprintf(aperture_bin, sizeof(aperture_bin), "%.*s/../aperture",
		 slash ? (int)(slash - argv[0]) : 1, slash ? argv[0] : ".");

	mkdir("build", 0755); /* scratch files; exists after any build */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
