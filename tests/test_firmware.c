/* SPDX-License-Identifier: MIT */
/*
 * The firmware importers against real tables and hostile ones.
 *
 * Real tables (../shared/real-inputs, read at run time, never copied): the
 * expected values were written from `iasl -d` disassemblies (acpica-tools
 * 20200925, Debian 12) -- offsets in the comments are the disassembly's --
 * except where that iasl cannot decode a subtable (DMAR SATC/SIDP of the
 * NUC14, IORT RMR of the CIX Sky1: "Unknown ... subtable type"), where
 * they come from a byte-level reading of its raw dump, also given.  The
 * devicetree excerpts are compiled with cpp and dtc at run time.
 *
 * Hostile tables are written here (tests/fwtab.h), each damaged in one
 * way; every refusal must name the table, the byte offset and the field,
 * and leave the description as it was.  Fail-nth runs every importer on
 * every real input with each allocation failing in turn.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <aperture/aperture.h>

#include "expect.h"
#include "fwtab.h"


struct fx {
	struct ap_ctx *ctx;
	struct ap_fw *fw;
};

static struct fx fresh(void)
{
	struct fx f = { ap_ctx_new(), NULL };

	assert_non_null(f.ctx);
	assert_int_equal(ap_fw_new(f.ctx, &f.fw), 0);
	return f;
}

static void done(struct fx *f)
{
	ap_fw_free(f->fw);
	ap_ctx_free(f->ctx);
}

typedef int (*import_fn)(struct ap_fw *, const void *, size_t);

static void import_file(struct fx *f, import_fn fn, const char *path)
{
	size_t len;
	void *buf = tw_load(path, &len);
	int rc = fn(f->fw, buf, len);

	EXPECT(rc == 0, "%s: rc %d: %s", path, rc, ap_fw_error(f->fw));
	free(buf);
}

static const struct ap_fw_desc *D(const struct fx *f)
{
	return ap_fw_desc(f->fw);
}

static int unit_at(const struct fx *f, uint64_t base)
{
	for (size_t i = 0; i < D(f)->n_units; i++)
		if (D(f)->units[i].base == base)
			return (int)i;
	fail_msg("no unit at 0x%llx", (ull)base);
	return -1;
}

static int dev_named(const struct fx *f, const char *name)
{
	for (size_t i = 0; i < D(f)->n_devs; i++)
		if (!strcmp(D(f)->devs[i].name, name))
			return (int)i;
	fail_msg("no device %s", name);
	return -1;
}

static size_t count_devs(const struct fx *f, enum ap_fw_dev_type type, unsigned flags)
{
	size_t n = 0;

	for (size_t i = 0; i < D(f)->n_devs; i++)
		n += D(f)->devs[i].type == type && (D(f)->devs[i].flags & flags) == flags;
	return n;
}

/* Streams of device `dev` on unit `unit`, and the sum of their IDs. */
static size_t streams_of(const struct fx *f, int dev, int unit, uint64_t *ids)
{
	size_t n = 0;

	*ids = 0;
	for (size_t i = 0; i < D(f)->n_streams; i++)
		if (D(f)->streams[i].dev == dev && D(f)->streams[i].unit == unit) {
			n++;
			*ids += D(f)->streams[i].count;
		}
	return n;
}

static bool has_resv(const struct fx *f, int dev, uint64_t start, uint64_t size,
		     enum ap_resv_type type)
{
	for (size_t i = 0; i < D(f)->n_resv; i++) {
		const struct ap_fw_resv *r = &D(f)->resv[i];

		if (r->dev == dev && r->start == start && r->size == size && r->type == type)
			return true;
	}
	return false;
}

/* ------------------------------------------------------------ real DMAR */

static void test_dmar_r820(void **state)
{
	struct fx f = fresh();
	const struct ap_fw_table *t;
	static const uint64_t bases[4] = { 0xCF000000, 0xC8000000, 0xC4000000, 0xDF100000 };
	int a, b;

	(void)state;
	import_file(&f, ap_fw_add_dmar, REAL "dmar-dell-poweredge-r820.dat");
	t = &D(&f)->tables[0];
	assert_string_equal(t->signature, "DMAR");
	assert_int_equal(t->haw, 0x2D + 1);               /* [024h] Host Address Width : 2D */
	assert_int_equal(t->flags, 0x03);                 /* [025h] Flags : 03 */
	assert_int_equal(t->count[0], 4);                 /* DRHD at 030h 078h 098h 0B8h */
	assert_int_equal(t->count[1], 3);                 /* RMRR at 0E0h 108h 128h */
	assert_int_equal(t->count[2], 1);                 /* ATSR at 148h */
	assert_int_equal(t->count[3], 0);                 /* no RHSA */
	assert_int_equal(D(&f)->n_units, 4);
	for (int i = 0; i < 4; i++) {
		const struct ap_fw_unit *u = &D(&f)->units[unit_at(&f, bases[i])];

		assert_int_equal(u->kind, AP_FW_VTD);
		/* only [0BCh] Flags : 01, the last DRHD, includes all PCI */
		assert_int_equal(!!(u->flags & AP_FW_UNIT_PCI_ALL), i == 3);
		assert_int_equal(u->caps.oas, 46);
		assert_false(u->caps.from_regs);
	}
	/* [045h] bus 40 path 05,04 is an IOAPIC of DRHD 0; 40:05.0 an endpoint */
	assert_int_equal(D(&f)->devs[dev_named(&f, "0000:40:05.0")].unit, unit_at(&f, 0xCF000000));
	assert_int_equal(D(&f)->devs[dev_named(&f, "0000:80:05.0")].unit, unit_at(&f, 0xC8000000));
	assert_int_equal(D(&f)->devs[dev_named(&f, "0000:c0:05.0")].unit, unit_at(&f, 0xC4000000));
	assert_int_equal(count_devs(&f, AP_FW_DEV_IOAPIC, 0), 5);
	assert_int_equal(count_devs(&f, AP_FW_DEV_HPET, 0), 1);
	/* ATSR [148h]: 8 bridge scopes, 00:{01.0,02.0,02.2,03.0} and 40:{...} */
	assert_int_equal(count_devs(&f, AP_FW_DEV_PCI_BRIDGE, AP_FW_DEV_ATS), 8);
	/* RMRRs: [0E8h] BF458000-BF46FFFF for 00:1a.0 and 00:1d.0, then
	 * BF450000-BF450FFF (1a.0) and BF452000-BF452FFF (1d.0) */
	a = dev_named(&f, "0000:00:1a.0");
	b = dev_named(&f, "0000:00:1d.0");
	assert_int_equal(D(&f)->n_resv, 4);
	assert_true(has_resv(&f, a, 0xBF458000, 0x18000, AP_RESV_DIRECT));
	assert_true(has_resv(&f, b, 0xBF458000, 0x18000, AP_RESV_DIRECT));
	assert_true(has_resv(&f, a, 0xBF450000, 0x1000, AP_RESV_DIRECT));
	assert_true(has_resv(&f, b, 0xBF452000, 0x1000, AP_RESV_DIRECT));
	/* RMRR devices no DRHD names belong to the INCLUDE_PCI_ALL unit */
	assert_int_equal(D(&f)->devs[a].unit, unit_at(&f, 0xDF100000));
	done(&f);
}

static void test_dmar_surface(void **state)
{
	struct fx f = fresh();
	static const char *const andd[] = { "\\_SB.PCI0.I2C0", "\\_SB.PCI0.I2C1",
					    "\\_SB.PCI0.I2C2", "\\_SB.PCI0.I2C3",
					    "\\_SB.PCI0.UA00" };
	static const unsigned ids[] = { 1, 2, 3, 4, 9 };
	/* their PCI Paths 15,00 15,01 15,02 15,03 1E,00 on bus 0: the
	 * requester IDs the unit sees (Linux's dmar_acpi_insert_dev_scope) */
	static const unsigned rids[] = { 0xa8, 0xa9, 0xaa, 0xab, 0xf0 };
	int gpu, xhci;

	(void)state;
	import_file(&f, ap_fw_add_dmar, REAL "dmar-microsoft-surface-pro.dat");
	assert_int_equal(D(&f)->tables[0].haw, 39);
	assert_int_equal(D(&f)->tables[0].flags, 0x01);
	assert_int_equal(D(&f)->tables[0].count[0], 2);
	assert_int_equal(D(&f)->tables[0].count[1], 2);
	assert_int_equal(D(&f)->tables[0].count[4], 5); /* ANDD at 0D0h..140h */
	/* [064h..08Ch]: namespace scopes enum 1,2,3,4,9 in DRHD FED91000 */
	for (int i = 0; i < 5; i++) {
		const struct ap_fw_dev *d = &D(&f)->devs[dev_named(&f, andd[i])];

		assert_int_equal(d->type, AP_FW_DEV_ACPI);
		assert_int_equal(d->enum_id, ids[i]);
		assert_int_equal(d->rid, rids[i]);
		assert_int_equal(d->unit, unit_at(&f, 0xFED91000));
		assert_true(d->flags & AP_FW_DEV_DMA);
	}
	gpu = dev_named(&f, "0000:00:02.0");
	xhci = dev_named(&f, "0000:00:14.0");
	assert_int_equal(D(&f)->devs[gpu].unit, unit_at(&f, 0xFED90000));
	assert_int_equal(D(&f)->devs[xhci].unit, unit_at(&f, 0xFED91000));
	assert_true(has_resv(&f, xhci, 0x3E2E0000, 0x20000, AP_RESV_DIRECT));
	assert_true(has_resv(&f, gpu, 0x8D000000, 0x2800000, AP_RESV_DIRECT));
	done(&f);
}

/* iasl 20200925 stops at [068h] "Unknown DMAR subtable type 0x5"; read from
 * its raw dump: 0068: 05 00 18 00 01 .. (SATC, flags 1, scopes 00:02.0 and
 * 00:0b.0); 0080: 06 00 18 00 (SIDP) with scope flags 1F and 1C. */
static void test_dmar_nuc14(void **state)
{
	struct fx f = fresh();
	int gpu, npu;

	(void)state;
	import_file(&f, ap_fw_add_dmar, REAL "dmar-asus-nuc14rvh-b.dat");
	assert_int_equal(D(&f)->tables[0].haw, 0x29 + 1);
	assert_int_equal(D(&f)->tables[0].flags, AP_FW_DMAR_INTR_REMAP |
			 AP_FW_DMAR_DMA_CTRL_PLATFORM_OPT_IN);
	assert_int_equal(D(&f)->tables[0].count[0], 2);
	assert_int_equal(D(&f)->tables[0].count[1], 0);
	assert_int_equal(D(&f)->tables[0].count[5], 1);
	assert_int_equal(D(&f)->tables[0].count[6], 1);
	assert_int_equal(D(&f)->n_resv, 0);
	gpu = dev_named(&f, "0000:00:02.0");
	npu = dev_named(&f, "0000:00:0b.0");
	assert_int_equal(D(&f)->devs[gpu].unit, unit_at(&f, 0xFC800000));
	assert_int_equal(D(&f)->devs[npu].unit, unit_at(&f, 0xFC801000));
	for (int d = 0; d < 2; d++)
		assert_true((D(&f)->devs[d ? npu : gpu].flags &
			     (AP_FW_DEV_ATS | AP_FW_DEV_ATC_REQ | AP_FW_DEV_SIDP)) ==
			    (AP_FW_DEV_ATS | AP_FW_DEV_ATC_REQ | AP_FW_DEV_SIDP));
	done(&f);
}

/* ------------------------------------------------------------ real IORT */

static void test_iort_altra(void **state)
{
	struct fx f = fresh();
	static const unsigned segs[6] = { 12, 13, 0, 2, 4, 5 };
	char name[16];

	(void)state;
	import_file(&f, ap_fw_add_iort, REAL "iort-ampere-altra-ava.dat");
	assert_int_equal(D(&f)->tables[0].revision, 0);
	assert_int_equal(D(&f)->tables[0].nodes, 18);    /* [024h] Node Count : 12 */
	assert_int_equal(D(&f)->tables[0].count[0], 6);  /* ITS groups 030h..0A8h */
	assert_int_equal(D(&f)->tables[0].count[2], 6);  /* root complexes */
	assert_int_equal(D(&f)->tables[0].count[4], 6);  /* SMMUv3 */
	assert_int_equal(D(&f)->n_units, 6);
	assert_int_equal(D(&f)->units[unit_at(&f, 0x33FFE0000000)].kind, AP_FW_SMMUV3);
	for (int i = 0; i < 6; i++) {
		const struct ap_fw_dev *d;
		uint64_t ids;
		int dev;

		snprintf(name, sizeof(name), "pci%04x", segs[i]);
		dev = dev_named(&f, name);
		d = &D(&f)->devs[dev];
		assert_int_equal(d->segment, segs[i]);
		assert_int_equal(d->addr_bits, 64);       /* Memory Size Limit : 40 (hex) */
		assert_true(d->flags & AP_FW_DEV_COHERENT);
		/* ID Count FFFF = 0x10000 IDs, to the SMMUv3 the RC references */
		assert_int_equal(streams_of(&f, dev, d->unit, &ids), 1);
		assert_int_equal(ids, 0x10000);
	}
	/* [0F0h] RC segment 12 -> Output Reference 210h, the SMMUv3 at 33FFE0000000 */
	assert_int_equal(D(&f)->devs[dev_named(&f, "pci000c")].unit, unit_at(&f, 0x33FFE0000000));
	done(&f);
}

static void test_iort_x13s(void **state)
{
	struct fx f = fresh();
	int smmu500 = -1, gpu_smmu, v3, gpu, limit_notes = 0;
	uint64_t ids;

	(void)state;
	import_file(&f, ap_fw_add_iort, REAL "iort-lenovo-thinkpad-x13s.dat");
	assert_int_equal(D(&f)->tables[0].nodes, 23);    /* Node Count : 17 (hex) */
	assert_int_equal(D(&f)->tables[0].count[0], 1);
	assert_int_equal(D(&f)->tables[0].count[1], 12);
	assert_int_equal(D(&f)->tables[0].count[2], 7);
	assert_int_equal(D(&f)->tables[0].count[3], 2);
	assert_int_equal(D(&f)->tables[0].count[4], 1);
	smmu500 = unit_at(&f, 0x15000000);                /* [040h], Span 100000, Model 3 */
	gpu_smmu = unit_at(&f, 0x3DA0000);                /* [50Ch], Span 20000 */
	v3 = unit_at(&f, 0x14F80000);
	assert_int_equal(D(&f)->units[smmu500].kind, AP_FW_ARM_SMMU);
	assert_int_equal(D(&f)->units[smmu500].model, AP_FW_SMMU_MMU500);
	assert_int_equal(D(&f)->units[smmu500].span, 0x100000);
	assert_int_equal(D(&f)->units[gpu_smmu].span, 0x20000);
	assert_int_equal(D(&f)->units[v3].kind, AP_FW_SMMUV3);
	for (unsigned s = 0; s < 7; s++) {
		char name[16];
		int dev;

		snprintf(name, sizeof(name), "pci%04x", s);
		dev = dev_named(&f, name);
		/* [5BBh] node Revision 00: Linux ignores [5D8h] Memory Size Limit 24 */
		assert_int_equal(D(&f)->devs[dev].addr_bits, 0);
		assert_int_equal(streams_of(&f, dev, v3, &ids), 1);
		assert_int_equal(ids, 0x10000);
		/* [61Ch] Output Base 00010000 for segment 1, and so on */
		for (size_t i = 0; i < D(&f)->n_streams; i++)
			if (D(&f)->streams[i].dev == dev)
				assert_int_equal(D(&f)->streams[i].out_base, s * 0x10000u);
	}
	for (size_t i = 0; i < D(&f)->n_notes; i++)
		limit_notes += strstr(D(&f)->notes[i].text, "revision 0 holds a Memory Address Size "
				      "Limit of 36 bits") != NULL;
	assert_int_equal(limit_notes, 7);
	/* [748h] GPU0: Mapping Count 42 (hex): 20 to 4FCh (GPU SMMU), the rest to 030h */
	gpu = dev_named(&f, "\\_SB.GPU0");
	assert_int_equal(D(&f)->devs[gpu].addr_bits, 40);   /* [75Ch] Limit : 28 */
	assert_int_equal(streams_of(&f, gpu, gpu_smmu, &ids), 20);
	assert_int_equal(streams_of(&f, gpu, smmu500, &ids), 66 - 20);
	done(&f);
}

/* iasl 20200925 prints "Unknown IORT node type 0x6" for the RMR node; its
 * fields are read from the raw dump: type 06, revision 3, flags 0x11, one
 * descriptor 0x84800000 + 0x800000, 10 mappings to the second SMMUv3. */
static void test_iort_cix(void **state)
{
	struct fx f = fresh();
	int s1, dpu0;
	uint64_t ids;
	size_t rmr = 0;

	(void)state;
	import_file(&f, ap_fw_add_iort, REAL "iort-cix-sky1-orion-o6.dat");
	assert_int_equal(D(&f)->tables[0].revision, 5);
	assert_int_equal(D(&f)->tables[0].nodes, 19);
	assert_int_equal(D(&f)->tables[0].count[1], 14);
	assert_int_equal(D(&f)->tables[0].count[4], 2);
	assert_int_equal(D(&f)->tables[0].count[6], 1);
	s1 = unit_at(&f, 0xB1B0000);                      /* [0ECh] second SMMUv3 */
	(void)unit_at(&f, 0xB010000);
	dpu0 = dev_named(&f, "\\_SB_.DPU0");
	assert_int_equal(D(&f)->devs[dpu0].addr_bits, 40); /* [13Ch] Limit : 28 */
	assert_true(streams_of(&f, dpu0, s1, &ids) >= 1);
	for (size_t i = 0; i < D(&f)->n_resv; i++) {
		const struct ap_fw_resv *r = &D(&f)->resv[i];

		assert_int_equal(r->unit, s1);
		assert_int_equal(r->start, 0x84800000);
		assert_int_equal(r->size, 0x800000);
		/* flags 0x11: bit 0 remapping permitted -> relaxable */
		assert_int_equal(r->type, AP_RESV_DIRECT_RELAXABLE);
		rmr += r->sid_count;
	}
	assert_int_equal(rmr, 10);
	done(&f);
}

/* ------------------------------------------------------------ devicetree */

static void test_dt_juno(void **state)
{
	struct fx f = fresh();
	int dma, pcie, ohci, ehci;
	uint64_t ids;

	(void)state;
	assert_true(build_dtb(REAL "juno-base-iommu.dtsi", "build/juno.dtb"));
	import_file(&f, ap_fw_add_dtb, "build/juno.dtb");
	assert_int_equal(D(&f)->n_units, 7);             /* one mmu-400, six mmu-401 */
	assert_int_equal(D(&f)->units[unit_at(&f, 0x2b400000)].model, AP_FW_SMMU_MMU400);
	assert_int_equal(D(&f)->units[unit_at(&f, 0x7fb00000)].model, AP_FW_SMMU_MMU401);
	dma = dev_named(&f, "/dma@7ff00000");           /* PL330: 9 stream IDs */
	assert_int_equal(streams_of(&f, dma, D(&f)->devs[dma].unit, &ids), 9);
	ohci = dev_named(&f, "/ohci@7ffb0000");
	ehci = dev_named(&f, "/ehci@7ffc0000");
	assert_int_equal(D(&f)->devs[ohci].unit, D(&f)->devs[ehci].unit);
	pcie = dev_named(&f, "/pcie@40000000");
	assert_int_equal(D(&f)->devs[pcie].type, AP_FW_DEV_ROOT_COMPLEX);
	for (size_t i = 0; i < D(&f)->n_streams; i++)
		if (D(&f)->streams[i].dev == pcie) {
			/* iommu-map-mask = <0>: every RID becomes stream 0 */
			assert_true(D(&f)->streams[i].in_masked);
			assert_int_equal(D(&f)->streams[i].in_mask, 0);
			assert_int_equal(D(&f)->streams[i].out_base, 0);
		}
	done(&f);
}

static void test_dt_ls1028a(void **state)
{
	struct fx f = fresh();
	int smmu, ecam = -1;

	(void)state;
	assert_true(build_dtb(REAL "fsl-ls1028a-iommu.dtsi", "build/ls1028a.dtb"));
	import_file(&f, ap_fw_add_dtb, "build/ls1028a.dtb");
	assert_int_equal(D(&f)->n_units, 1);
	smmu = 0;
	assert_int_equal(D(&f)->units[smmu].model, AP_FW_SMMU_MMU500);
	assert_int_equal(D(&f)->units[smmu].smr_mask, 0x7c00);
	assert_int_equal(count_devs(&f, AP_FW_DEV_ROOT_COMPLEX, 0), 3);
	for (size_t i = 0; i < D(&f)->n_streams; i++)
		if (D(&f)->streams[i].out_base == 0x17)
			ecam = (int)i;
	assert_true(ecam >= 0);                          /* iommu-map = <0 &smmu 0x17 0xe> */
	assert_int_equal(D(&f)->streams[ecam].count, 0xe);
	done(&f);
}

/* ------------------------------------------------------------ registers */

static const struct ap_fw_unit *regs_unit(struct fx *f, const char *regs)
{
	struct tw t;

	tw_dmar(&t, 46, 1);
	tw_drhd(&t, 1, 0xfed90000, 0, 2, 0);
	tw_seal(&t);
	assert_int_equal(ap_fw_add_dmar(f->fw, t.b, t.n), 0);
	EXPECT(ap_fw_add_regs(f->fw, regs, strlen(regs), "test.regs") == 0, "%s",
	       ap_fw_error(f->fw));
	return &D(f)->units[0];
}

/* VT-d spec 11.4.2: MGAW bits 21:16 (+1), SAGAW 12:8, SLLPS 37:34, ND 2:0;
 * 11.4.3: C bit 0, DT bit 2, PT bit 6. */
static void test_regs_vtd(void **state)
{
	struct fx f = fresh();
	uint64_t cap = (38ull << 16) | (1ull << 9) | (1ull << 34) | 2; /* MGAW 39, 3-level, 2M, ND 2 */
	uint64_t ecap = 1 | (1 << 6);                                  /* C, PT */
	char text[128];
	const struct ap_fw_unit *u;

	(void)state;
	snprintf(text, sizeof(text), "# a comment\n0xfed90000 CAP=0x%llx ecap=0x%llx\n",
		 (ull)cap, (ull)ecap);
	u = regs_unit(&f, text);
	assert_true(u->caps.from_regs);
	assert_int_equal(u->caps.mgaw, 39);
	assert_int_equal(u->caps.sagaw, 1u << 1);
	assert_int_equal(u->caps.ias, 39);
	assert_int_equal(u->caps.oas, 46);
	assert_int_equal(u->caps.pgsizes, (1ull << 12) | (1ull << 21));
	assert_int_equal(u->caps.domains, 256);
	assert_true(u->caps.coherent);
	assert_true(u->caps.pass_through);
	done(&f);

	/* SAGAW 4- and 5-level with MGAW 48: Linux's agaw is 5-level (57
	 * bits), capped to MGAW */
	f = fresh();
	cap = (47ull << 16) | (3ull << 10) | (3ull << 34);
	snprintf(text, sizeof(text), "0xfed90000 CAP=0x%llx ECAP=0\n", (ull)cap);
	u = regs_unit(&f, text);
	assert_int_equal(u->caps.ias, 48);
	assert_int_equal(u->caps.pgsizes, (1ull << 12) | (1ull << 21) | (1ull << 30));
	assert_false(u->caps.pass_through);
	assert_false(u->caps.coherent);
	done(&f);
}

static const struct ap_fw_unit *smmuv3_regs(struct fx *f, const char *regs)
{
	struct tw t;

	tw_iort(&t, 0, 1);
	tw_smmuv3(&t, 0x2b400000, 1);
	tw_seal(&t);
	assert_int_equal(ap_fw_add_iort(f->fw, t.b, t.n), 0);
	EXPECT(ap_fw_add_regs(f->fw, regs, strlen(regs), "t") == 0, "%s", ap_fw_error(f->fw));
	return &D(f)->units[0];
}

/* SMMUv3 spec 6.3.1 IDR0: S2P 0, S1P 1, TTF 3:2; 6.3.6 IDR5: OAS 2:0,
 * GRAN4K 4, GRAN16K 5, GRAN64K 6, VAX 11:10.  Linux: stage 1 in 48 (52
 * with VAX and 64K) out max(OAS, 40 if AArch32); stage 2 that in, OAS out. */
static void test_regs_smmuv3(void **state)
{
	struct fx f = fresh();
	const struct ap_fw_unit *u;

	(void)state;
	u = smmuv3_regs(&f, "0x2b400000 IDR0=0xb IDR5=0x55 IDR1=0x10\n"); /* S1P|S2P, AArch64 */
	assert_true(u->caps.from_regs);
	assert_int_equal(u->caps.stage, 1);
	assert_int_equal(u->caps.ias, 48);
	assert_int_equal(u->caps.oas, 48);
	assert_int_equal(u->caps.sid_bits, 16);
	assert_int_equal(u->caps.pgsizes, (1ull << 12) | (1ull << 21) | (1ull << 30) |
			 (1ull << 16) | (1ull << 29));
	assert_true(u->caps.coherent);                    /* IORT COHACC override */
	done(&f);

	f = fresh();
	u = smmuv3_regs(&f, "0x2b400000 IDR0=0x9 IDR5=0x10\n");  /* S2P only, OAS 32 */
	assert_int_equal(u->caps.stage, 2);
	assert_int_equal(u->caps.ias, 32);
	assert_int_equal(u->caps.oas, 32);
	done(&f);

	f = fresh();
	u = smmuv3_regs(&f, "0x2b400000 IDR0=0xd IDR5=0x412\n"); /* S2P, AArch32+64, OAS 40, VAX */
	assert_int_equal(u->caps.stage, 2);
	assert_int_equal(u->caps.ias, 40);
	done(&f);

	f = fresh();
	u = smmuv3_regs(&f, "0x2b400000 IDR0=0xa IDR5=0x456\n"); /* S1P, VAX, 64K, OAS 52 */
	assert_int_equal(u->caps.ias, 52);
	assert_int_equal(u->caps.oas, 52);
	done(&f);
}

/* SMMU v2 arch 10.6: ID0 NUMSMRG 7:0, NUMSIDB 12:9, CTTW 14, SMS 27, S2TS
 * 29, S1TS 30; ID1 NUMCB 7:0, NUMS2CB 23:16; ID2 IAS 3:0, OAS 7:4, UBS
 * 11:8, PTFS_4K 12, 16K 13, 64K 14; sCR0 CLIENTPD 0, USFCFG 10. */
static void test_regs_smmuv2(void **state)
{
	struct fx f = fresh();
	const struct ap_fw_unit *u;
	size_t len;
	void *buf = tw_load(REAL "iort-lenovo-thinkpad-x13s.dat", &len);
	const char *regs = "0x15000000 ID0=0x68005e80 ID1=0x00080040 ID2=0x5542 SCR0=0\n";

	(void)state;
	assert_int_equal(ap_fw_add_iort(f.fw, buf, len), 0);
	assert_int_equal(ap_fw_add_regs(f.fw, regs, strlen(regs), "t"), 0);
	u = &D(&f)->units[unit_at(&f, 0x15000000)];
	assert_true(u->caps.from_regs);
	assert_true(u->caps.stream_match);
	assert_int_equal(u->caps.smrs, 0x80);
	assert_int_equal(u->caps.sid_bits, 15);
	assert_int_equal(u->caps.context_banks, 0x40);
	assert_int_equal(u->caps.s2_context_banks, 8);
	assert_int_equal(u->caps.stage, 1);
	assert_int_equal(u->caps.ias, 48);               /* UBS 5 */
	assert_int_equal(u->caps.oas, 40);               /* ID2.IAS 2 */
	assert_int_equal(u->caps.pgsizes, (1ull << 12) | (1ull << 21) | (1ull << 30) |
			 (1ull << 16) | (1ull << 29));
	assert_true(u->caps.unmatched_bypass);           /* USFCFG = 0 */
	/* other units of the table keep their assumed defaults */
	assert_false(D(&f)->units[unit_at(&f, 0x3DA0000)].caps.from_regs);
	free(buf);
	done(&f);
}

static void expect_regs_error(const char *text, const char *needle)
{
	struct fx f = fresh();
	int rc = ap_fw_add_regs(f.fw, text, strlen(text), "bad.regs");

	EXPECT(rc == -EINVAL && strstr(ap_fw_error(f.fw), needle),
	       "%s: rc %d, error \"%s\", wanted \"%s\"", text, rc, ap_fw_error(f.fw), needle);
	assert_int_equal(D(&f)->n_notes + D(&f)->n_units, 0);
	done(&f);
}

static void test_regs_errors(void **state)
{
	(void)state;
	expect_regs_error("0x1000 CAP=0x2f0000\n", "bad.regs:1: CAP=0x2f0000: SAGAW is 0");
	expect_regs_error("\n0x1000 IDR0=0x8\n", "bad.regs:2: IDR0=0x8: neither S1P nor S2P");
	expect_regs_error("0x1000 IDR5=0x5\n", "no translation granule");
	expect_regs_error("0x1000 FOO=1\n", "unknown register \"FOO\"");
	expect_regs_error("zz CAP=1\n", "bad.regs:1: \"zz\" is not a base address");
	expect_regs_error("0x1000\n", "no REG=VALUE");
	expect_regs_error("0x1000 IDR1=0x100000000\n", "32-bit register");
	expect_regs_error("0x1000 ID0=0x0\n", "neither S1TS nor S2TS");
	/* Linux's arm_smmu_device_cfg_probe() refuses these with -ENODEV */
	expect_regs_error("0x1000 ID0=0x68000000\n", "ID0=0x68000000: SMS is set and NUMSMRG is 0");
	expect_regs_error("0x1000 ID1=0x00090008\n", "ID1=0x90008: NUMS2CB 9 is more than NUMCB 8");
}

/* An MMU-401 (Linux's ARM_SMMU_V1_64K) has the AArch64 64K granule on top
 * of SMMUv1's AArch32 long format, whatever ID2 says (SMMUv1's ID2 has no
 * PTFS fields). */
static void test_regs_mmu401(void **state)
{
	static const char regs[] = "0x2b500000 ID0=0x28001e08 ID1=0x00040004 ID2=0x0022\n";
	const uint64_t pg4k = (1ull << 12) | (1ull << 21) | (1ull << 30);
	const uint64_t pg64k = (1ull << 16) | (1ull << 29);
	struct fx f = fresh();
	struct tw t;

	(void)state;
	tw_iort(&t, 0, 2);
	tw_smmu2(&t, 0x2b400000, AP_FW_SMMU_MMU400);
	tw_smmu2(&t, 0x2b500000, AP_FW_SMMU_MMU401);
	tw_seal(&t);
	assert_int_equal(ap_fw_add_iort(f.fw, t.b, t.n), 0);
	assert_int_equal(D(&f)->units[0].caps.pgsizes, pg4k);
	assert_int_equal(D(&f)->units[1].caps.pgsizes, pg4k | pg64k);
	assert_int_equal(ap_fw_add_regs(f.fw, regs, strlen(regs), "t"), 0);
	assert_true(D(&f)->units[1].caps.from_regs);
	assert_int_equal(D(&f)->units[1].caps.pgsizes, pg4k | pg64k);
	done(&f);
}

/* ------------------------------------------------------------ hostile */

/* Import must fail with -EINVAL naming `needle`, and change nothing. */
static void expect_refused(import_fn fn, const void *buf, size_t len, const char *needle)
{
	struct fx f = fresh();
	uint64_t allocs0, bytes0, allocs1, bytes1;
	int rc;

	ap_ctx_mem_stats(f.ctx, &allocs0, &bytes0);
	rc = fn(f.fw, buf, len);
	ap_ctx_mem_stats(f.ctx, &allocs1, &bytes1);
	EXPECT(rc == -EINVAL && strstr(ap_fw_error(f.fw), needle),
	       "rc %d, error \"%s\", wanted \"%s\"", rc, ap_fw_error(f.fw), needle);
	assert_int_equal(D(&f)->n_units + D(&f)->n_devs + D(&f)->n_streams + D(&f)->n_resv +
			 D(&f)->n_notes + D(&f)->n_tables, 0);
	assert_true(allocs1 <= allocs0 + 8); /* arrays may stay allocated, nothing grows */
	done(&f);
}

static void test_dmar_hostile(void **state)
{
	struct tw t, u;
	size_t at;

	(void)state;
	tw_dmar(&t, 39, 1);
	tw_drhd(&t, 1, 0xfed91000, 0, 0x14, 0);
	tw_seal(&t);
	u = t;
	u.b[9] ^= 1;
	expect_refused(ap_fw_add_dmar, u.b, u.n, "DMAR +0x9: Checksum");
	expect_refused(ap_fw_add_dmar, t.b, t.n - 1, "DMAR +0x4: Length 72 runs past the 71 bytes");
	expect_refused(ap_fw_add_dmar, t.b, 20, "DMAR +0x0: 20 bytes, shorter than");
	u = t;
	memcpy(u.b, "DMAX", 4);
	expect_refused(ap_fw_add_dmar, u.b, u.n, "DMAR +0x0: Signature");

	/* zero-length structure */
	tw_dmar(&t, 39, 1);
	at = tw_drhd(&t, 1, 0xfed91000, 0, 0x14, 0);
	tw_set(&t, at + 2, 0, 2);
	tw_seal(&t);
	expect_refused(ap_fw_add_dmar, t.b, t.n, "DMAR +0x32: Length of a type-0 structure is 0");
	/* shorter than its header */
	tw_dmar(&t, 39, 1);
	at = tw_drhd(&t, 1, 0xfed91000, -1, 0, 0);
	tw_set(&t, at + 2, 8, 2);
	t.n = at + 8;
	tw_seal(&t);
	expect_refused(ap_fw_add_dmar, t.b, t.n, "DMAR +0x32: DRHD Length 8 is shorter than its 16");
	/* a structure running past the table */
	tw_dmar(&t, 39, 1);
	at = tw_drhd(&t, 1, 0xfed91000, 0, 0x14, 0);
	tw_set(&t, at + 2, 200, 2);
	tw_seal(&t);
	expect_refused(ap_fw_add_dmar, t.b, t.n, "runs past the table end");
	/* a scope leaving its DRHD */
	tw_dmar(&t, 39, 1);
	at = tw_drhd(&t, 1, 0xfed91000, 0, 0x14, 0);
	tw_set(&t, at + 17, 10, 1);
	tw_seal(&t);
	expect_refused(ap_fw_add_dmar, t.b, t.n, "DMAR +0x41: device scope Length 10 runs past "
		       "the end of the DRHD at +0x30");
	/* a scope shorter than its header, and a half path entry */
	tw_set(&t, at + 17, 4, 1);
	tw_seal(&t);
	expect_refused(ap_fw_add_dmar, t.b, t.n, "DMAR +0x41: device scope Length 4 is shorter");
	tw_set(&t, at + 17, 7, 1);
	tw_seal(&t);
	expect_refused(ap_fw_add_dmar, t.b, t.n, "half a path entry");
	/* base address 0, a bad HAW, an inverted RMRR */
	tw_dmar(&t, 39, 1);
	tw_drhd(&t, 1, 0, 0, 0x14, 0);
	tw_seal(&t);
	expect_refused(ap_fw_add_dmar, t.b, t.n, "DMAR +0x38: DRHD Register Base Address is 0");
	tw_dmar(&t, 8, 1);
	tw_seal(&t);
	expect_refused(ap_fw_add_dmar, t.b, t.n, "DMAR +0x24: Host Address Width 8");
	tw_dmar(&t, 39, 1);
	tw_drhd(&t, 1, 0xfed91000, 0, 0x14, 0);
	tw_rmrr(&t, 0x2000, 0xfff, 0, 0x14, 0);
	tw_seal(&t);
	expect_refused(ap_fw_add_dmar, t.b, t.n, "RMRR End Address 0xfff is below");
	/* nor a region of 2^64 bytes, which no size can hold */
	tw_dmar(&t, 39, 1);
	tw_drhd(&t, 1, 0xfed91000, 0, 0x14, 0);
	tw_rmrr(&t, 0, UINT64_MAX, 0, 0x14, 0);
	tw_seal(&t);
	expect_refused(ap_fw_add_dmar, t.b, t.n, "DMAR +0x50: RMRR Base Address 0x0 to End "
		       "Address 0xffffffffffffffff covers the whole address space");
}

/* A copy of every array a description shows, to prove that a failed
 * import left it exactly as it was. */
struct desc_snap {
	size_t n[7];
	void *mem[7];
};

static void desc_arrays(const struct fx *f, const void *p[7], size_t n[7], size_t size[7])
{
	const struct ap_fw_desc *d = D(f);
	const void *ps[7] = { d->units, d->devs, d->streams, d->resv, d->groups, d->notes,
			      d->tables };
	size_t ns[7] = { d->n_units, d->n_devs, d->n_streams, d->n_resv, d->n_groups,
			 d->n_notes, d->n_tables };
	size_t ss[7] = { sizeof(*d->units), sizeof(*d->devs), sizeof(*d->streams),
			 sizeof(*d->resv), sizeof(*d->groups), sizeof(*d->notes),
			 sizeof(*d->tables) };

	memcpy(p, ps, sizeof(ps));
	memcpy(n, ns, sizeof(ns));
	memcpy(size, ss, sizeof(ss));
}

static void snap_take(const struct fx *f, struct desc_snap *s)
{
	const void *p[7];
	size_t size[7];

	desc_arrays(f, p, s->n, size);
	for (int i = 0; i < 7; i++) {
		s->mem[i] = malloc(s->n[i] * size[i] + 1);
		assert_non_null(s->mem[i]);
		if (s->n[i])
			memcpy(s->mem[i], p[i], s->n[i] * size[i]);
	}
}

static void snap_check(const struct fx *f, struct desc_snap *s, const char *what)
{
	static const char *const names[7] = { "units", "devices", "streams", "reserved regions",
					      "groups", "notes", "tables" };
	const void *p[7];
	size_t n[7], size[7];

	desc_arrays(f, p, n, size);
	for (int i = 0; i < 7; i++) {
		EXPECT(n[i] == s->n[i] && (!n[i] || !memcmp(p[i], s->mem[i], n[i] * size[i])),
		       "%s: the failed import changed the %s", what, names[i]);
		free(s->mem[i]);
	}
}

/* A failed import that had already changed what earlier imports made
 * (a device's unit, a unit's register values) undoes that too: the
 * description is exactly as it was, and no device names a unit that the
 * roll-back removed. */
static void test_failed_import_changes_nothing(void **state)
{
	struct fx f = fresh();
	struct desc_snap s;
	struct tw t;
	const char *ok = "0xfed90000 CAP=0xc0020e60262 ECAP=0xf050da\n";
	const char *bad = "0xfed90000 CAP=0xd2008c40660462 ECAP=0xf050df\n0x1000 FOO=1\n";

	(void)state;
	/* 00:14.0 is named by an RMRR only: no unit yet */
	tw_dmar(&t, 46, 1);
	tw_drhd(&t, 0, 0xfed90000, -1, 0, 0);
	tw_rmrr(&t, 0x1000, 0x1fff, 0, 0x14, 0);
	tw_seal(&t);
	assert_int_equal(ap_fw_add_dmar(f.fw, t.b, t.n), 0);
	assert_int_equal(ap_fw_add_regs(f.fw, ok, strlen(ok), "ok.regs"), 0);
	assert_int_equal(D(&f)->devs[dev_named(&f, "0000:00:14.0")].unit, -1);

	/* a second table's DRHD takes 00:14.0, then an RMRR is refused */
	snap_take(&f, &s);
	tw_dmar(&t, 46, 1);
	tw_drhd(&t, 0, 0xfed91000, 0, 0x14, 0);
	tw_rmrr(&t, 0x2000, 0xfff, 0, 0x14, 0);
	tw_seal(&t);
	assert_int_equal(ap_fw_add_dmar(f.fw, t.b, t.n), -EINVAL);
	snap_check(&f, &s, "DMAR");

	/* a register set extended, then a bad line */
	snap_take(&f, &s);
	assert_int_equal(ap_fw_add_regs(f.fw, bad, strlen(bad), "bad.regs"), -EINVAL);
	snap_check(&f, &s, "regs");
	done(&f);
}

static void test_dmar_warnings(void **state)
{
	struct fx f = fresh();
	struct tw t;
	bool unknown = false, rmrr = false;

	(void)state;
	tw_dmar(&t, 39, 1);
	tw_drhd(&t, 1, 0xfed91000, 0, 0x14, 0);
	tw_rmrr(&t, 0x1800, 0x27ff, 0, 0x14, 0);         /* not page aligned */
	P16(&t, 0x77); P16(&t, 8); P32(&t, 0);             /* unknown type 0x77 */
	tw_seal(&t);
	assert_int_equal(ap_fw_add_dmar(f.fw, t.b, t.n), 0);
	for (size_t i = 0; i < D(&f)->n_notes; i++) {
		unknown |= strstr(D(&f)->notes[i].text, "type 119 is unknown; skipped, as Linux does") != NULL;
		rmrr |= D(&f)->notes[i].level == AP_FW_WARNING &&
			strstr(D(&f)->notes[i].text, "bad RMRR") != NULL;
	}
	assert_true(unknown);
	assert_true(rmrr);
	assert_int_equal(D(&f)->tables[0].unknown, 1);
	done(&f);
}

static void test_iort_hostile(void **state)
{
	struct tw t;
	size_t smmu, nc;

	(void)state;
	/* an output reference outside the table */
	tw_iort(&t, 0, 2);
	smmu = tw_smmuv3(&t, 0x1000000, 0);
	nc = tw_nc(&t, "\\_SB.DEV0", 40, 0, 0, 5, 0x9000, 1);
	(void)nc;
	tw_seal(&t);
	expect_refused(ap_fw_add_iort, t.b, t.n, "Output Reference 0x9000 is not the offset of "
		       "any node (it lies outside the table)");
	/* a reference into the middle of a node */
	tw_iort(&t, 0, 2);
	smmu = tw_smmuv3(&t, 0x1000000, 0);
	tw_nc(&t, "\\_SB.DEV0", 40, 0, 0, 5, (uint32_t)smmu + 4, 1);
	tw_seal(&t);
	expect_refused(ap_fw_add_iort, t.b, t.n, "Output Reference 0x34 is not the offset");
	/* a loop: a named component mapping to itself */
	tw_iort(&t, 0, 1);
	tw_nc(&t, "\\_SB.DEV0", 40, 0, 0, 5, 48, 1);
	tw_seal(&t);
	expect_refused(ap_fw_add_iort, t.b, t.n, "closes a loop");
	/* a loop longer than any depth limit: 70 SMMUv3 nodes, each mapping
	 * its IDs to the next, the last to the first */
	tw_iort(&t, 0, 70);
	for (uint32_t k = 0; k < 70; k++) {
		size_t at = t.n;

		tw_smmuv3(&t, 0x1000000 + k * 0x20000, 0);
		tw_set(&t, at + 1, 68 + 20, 2);
		tw_set(&t, at + 8, 1, 4);
		tw_set(&t, at + 12, 68, 4);
		tw_map(&t, 0, 0, 0, 48 + (k + 1) % 70 * 88, 0);
	}
	tw_seal(&t);
	expect_refused(ap_fw_add_iort, t.b, t.n, "closes a loop");
	/* node length 0, node past the end, node count that cannot fit */
	tw_iort(&t, 0, 1);
	tw_smmuv3(&t, 0x1000000, 0);
	tw_set(&t, 49, 0, 2);
	tw_seal(&t);
	expect_refused(ap_fw_add_iort, t.b, t.n, "IORT +0x31: node Length 0 is shorter than the "
		       "16-byte node header");
	tw_iort(&t, 0, 5);
	tw_smmuv3(&t, 0x1000000, 0);
	tw_seal(&t);
	expect_refused(ap_fw_add_iort, t.b, t.n, "IORT +0x24: Number of IORT Nodes 5 cannot fit");
	tw_iort(&t, 0, 2);
	tw_smmuv3(&t, 0x1000000, 0);
	tw_seal(&t);
	expect_refused(ap_fw_add_iort, t.b, t.n, "IORT +0x74: node 1 of 2 starts past the table end");
	tw_iort(&t, 0, 1);
	tw_smmuv3(&t, 0x1000000, 0);
	tw_set(&t, 49, 200, 2);
	tw_seal(&t);
	expect_refused(ap_fw_add_iort, t.b, t.n, "node Length 200 runs past the table end");
	/* mapping array past the node */
	tw_iort(&t, 0, 2);
	smmu = tw_smmuv3(&t, 0x1000000, 0);
	nc = tw_nc(&t, "\\_SB.DEV0", 40, 0, 0, 5, (uint32_t)smmu, 1);
	tw_set(&t, nc + 8, 3, 4);
	tw_seal(&t);
	expect_refused(ap_fw_add_iort, t.b, t.n, "Mapping Count 3");
	/* the deprecated revision */
	tw_iort(&t, 4, 1);
	tw_smmuv3(&t, 0x1000000, 0);
	tw_seal(&t);
	expect_refused(ap_fw_add_iort, t.b, t.n, "IORT +0x8: Revision 4 (DEN0049E.c)");
	/* a name without its NUL */
	tw_iort(&t, 0, 2);
	smmu = tw_smmuv3(&t, 0x1000000, 0);
	nc = tw_nc(&t, "\\_SB.DEV0", 40, 0, 0, 5, (uint32_t)smmu, 1);
	memset(t.b + nc + 29, 'A', t.n - nc - 29);
	tw_seal(&t);
	expect_refused(ap_fw_add_iort, t.b, t.n, "not NUL-terminated");
}

/* Linux's iort_id_map() rules on a root complex: the count field is
 * count - 1, and a range whose last ID is the next range's first gives
 * that ID to the next one. */
static void test_iort_id_rules(void **state)
{
	struct fx f = fresh();
	struct tw t;
	size_t smmu, rc;
	uint64_t ids;

	(void)state;
	tw_iort(&t, 0, 2);
	smmu = tw_smmuv3(&t, 0x1000000, 1);
	rc = t.n;
	tw_node(&t, 2, 16 + 24 + 40, 1, 0, 2, 40);
	P32(&t, 1); P8(&t, 0); P16(&t, 0); P8(&t, 0); P32(&t, 0); P32(&t, 7);
	P8(&t, 32); P8(&t, 0); P8(&t, 0); P8(&t, 0); P32(&t, 0);
	tw_map(&t, 0x000, 0x100, 0x1000, (uint32_t)smmu, 0); /* IDs 0..0x100: 0x101 of them */
	tw_map(&t, 0x100, 0x0ff, 0x2000, (uint32_t)smmu, 0); /* 0x100..0x1ff */
	tw_seal(&t);
	(void)rc;
	assert_int_equal(ap_fw_add_iort(f.fw, t.b, t.n), 0);
	assert_int_equal(streams_of(&f, 0, 0, &ids), 2);
	assert_int_equal(D(&f)->streams[0].count, 0x100);   /* lost its last ID to the next */
	assert_int_equal(D(&f)->streams[1].count, 0x100);
	assert_int_equal(D(&f)->devs[0].segment, 7);
	assert_int_equal(D(&f)->devs[0].addr_bits, 32);
	done(&f);
}

/* Whether an SMMUv3's DeviceID mapping (its own MSIs) is valid, as Linux's
 * iort_get_id_mapping_index() decides: up to node revision 4 unless every
 * interrupt is a wired GSIV, from revision 5 (IORT E.e) only with flag
 * bit 4 (DeviceID mapping index valid).  A single mapping that is not that
 * index is a firmware bug Linux skips with a warning. */
static bool single_warning(uint8_t node_rev, uint32_t flags)
{
	struct fx f = fresh();
	struct tw t;
	size_t its, smmu;
	bool warned = false;

	tw_iort(&t, 5, 2);
	its = tw_its(&t);
	smmu = tw_smmuv3(&t, 0x1000000, flags);
	tw_set(&t, smmu + 1, 68 + 20, 2);
	tw_set(&t, smmu + 3, node_rev, 1);
	tw_set(&t, smmu + 8, 1, 4);
	tw_set(&t, smmu + 12, 68, 4);
	for (int i = 0; i < 4; i++)
		tw_set(&t, smmu + 44 + 4 * (size_t)i, 0, 4); /* MSIs, no GSIV */
	tw_map(&t, 0, 0, 0x10000, (uint32_t)its, 1);     /* its own DeviceID, single */
	tw_seal(&t);
	EXPECT(ap_fw_add_iort(f.fw, t.b, t.n) == 0, "%s", ap_fw_error(f.fw));
	for (size_t i = 0; i < D(&f)->n_notes; i++)
		warned |= strstr(D(&f)->notes[i].text, "single mapping on a SMMUv3 node") != NULL;
	done(&f);
	return warned;
}

static void test_iort_smmuv3_deviceid_index(void **state)
{
	(void)state;
	assert_false(single_warning(2, 0));      /* revision 2: MSIs make the index valid */
	assert_true(single_warning(5, 0));       /* revision 5: the flag is not set */
	assert_false(single_warning(5, 1u << 4));
}

static void test_dt_hostile(void **state)
{
	static const char dts[] =
		"/dts-v1/;\n/ { #address-cells = <1>; #size-cells = <1>;\n"
		"smmu: iommu@1000 { compatible = \"arm,mmu-500\"; reg = <0x1000 0x1000>; #iommu-cells = <1>; };\n"
		"dev@2000 { reg = <0x2000 0x100>; iommus = <&smmu 5>, <0x77 6>; };\n};\n";
	FILE *fp = fopen("build/fw-bad.dts", "w");
	size_t len;
	void *buf;

	(void)state;
	assert_non_null(fp);
	fputs(dts, fp);
	fclose(fp);
	assert_int_equal(system("dtc -q -I dts -O dtb -o build/fw-bad.dtb build/fw-bad.dts"), 0);
	buf = tw_load("build/fw-bad.dtb", &len);
	expect_refused(ap_fw_add_dtb, buf, len, "(/dev@2000 iommus): entry 1: phandle 0x77 "
		       "resolves to no node");
	((uint8_t *)buf)[7] ^= 0x40;                      /* totalsize */
	expect_refused(ap_fw_add_dtb, buf, len, "DTB +0x0: not a valid devicetree blob");
	expect_refused(ap_fw_add_dtb, buf, 10, "shorter than a devicetree header");
	free(buf);
	/* a version-16 header has no size_dt_struct (bytes 36..39): a 36-byte
	 * blob must not be read past (ASan) */
	buf = malloc(36);
	assert_non_null(buf);
	{
		static const uint32_t hdr[9] = { 0xd00dfeed, 36, 36, 36, 36, 16, 16, 0, 0 };

		for (int i = 0; i < 9; i++)
			for (int k = 0; k < 4; k++)
				((uint8_t *)buf)[4 * i + k] = (uint8_t)(hdr[i] >> (24 - 8 * k));
	}
	expect_refused(ap_fw_add_dtb, buf, 36, "DTB +0x0: not a valid devicetree blob");
	/* nor a version-17 header cut at 36 bytes */
	((uint8_t *)buf)[23] = 17;
	expect_refused(ap_fw_add_dtb, buf, 36, "DTB +0x14: 36 bytes, shorter than the 40-byte "
		       "header of version 17");
	free(buf);
}

/* Every prefix and every single-byte change of every real table: no
 * crash, no read past the buffer (ASan), and failure leaves no trace. */
static void damage_sweep(import_fn fn, const char *path)
{
	size_t len;
	uint8_t *buf = tw_load(path, &len);
	uint8_t *copy = malloc(len);
	unsigned seed = 1234;

	assert_non_null(copy);
	for (size_t n = 0; n < len; n += 7) {
		struct fx f = fresh();

		memcpy(copy, buf, n);
		EXPECT(fn(f.fw, copy, n) == -EINVAL, "%s: prefix of %zu bytes accepted", path, n);
		done(&f);
	}
	print_message("damage sweep %s: seed %u\n", path, seed);
	for (size_t k = 0; k < 400; k++) {
		struct fx f = fresh();
		size_t at;

		seed = seed * 1103515245u + 12345u;
		at = (seed >> 8) % len;
		memcpy(copy, buf, len);
		copy[at] ^= (uint8_t)(1u << (seed & 7));
		/* Fix the checksum so the damage reaches the parser. */
		if (at != 9 && memcmp(copy, "DTB", 3)) {
			uint8_t sum = 0;

			for (size_t i = 0; i < len; i++)
				sum = (uint8_t)(sum + copy[i]);
			copy[9] = (uint8_t)(copy[9] - sum);
		}
		if (fn(f.fw, copy, len))
			assert_int_equal(D(&f)->n_units + D(&f)->n_devs + D(&f)->n_tables, 0);
		done(&f);
	}
	free(copy);
	free(buf);
}

static void test_damage(void **state)
{
	(void)state;
	damage_sweep(ap_fw_add_dmar, REAL "dmar-dell-poweredge-r820.dat");
	damage_sweep(ap_fw_add_dmar, REAL "dmar-microsoft-surface-pro.dat");
	damage_sweep(ap_fw_add_dmar, REAL "dmar-asus-nuc14rvh-b.dat");
	damage_sweep(ap_fw_add_iort, REAL "iort-ampere-altra-ava.dat");
	damage_sweep(ap_fw_add_iort, REAL "iort-cix-sky1-orion-o6.dat");
	damage_sweep(ap_fw_add_iort, REAL "iort-lenovo-thinkpad-x13s.dat");
}

/* ------------------------------------------------------------ sysfs */

static void put_file(const char *root, const char *rel, const void *data, size_t len)
{
	char path[512], cmd[600];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	fwrite(data, 1, len, fp);
	fclose(fp);
}

static void put_text(const char *root, const char *rel, const char *text)
{
	put_file(root, rel, text, strlen(text));
}

static void put_link(const char *root, const char *rel, const char *target)
{
	char path[512], cmd[1200];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\" && ln -sfn '%s' '%s'", path,
		 target, path);
	assert_int_equal(system(cmd), 0);
}

/* A VT-d host: one DRHD, registers in class/iommu, an identity group, a
 * DMA group with a direct region, a PCI device with no group. */
static void make_vtd_host(const char *root)
{
	struct tw t;

	tw_dmar(&t, 46, 1);
	tw_drhd(&t, 1, 0xfed91000, -1, 0, 0);
	tw_rmrr(&t, 0x3e2e0000, 0x3e2fffff, 0, 0x14, 0);
	tw_seal(&t);
	put_file(root, "sys/firmware/acpi/tables/DMAR", t.b, t.n);
	put_text(root, "sys/class/iommu/dmar0/intel-iommu/address", "fed91000\n");
	/* MGAW 48, SAGAW 4-level, 2M+1G; ECAP C, PT */
	put_text(root, "sys/class/iommu/dmar0/intel-iommu/cap", "c002f0402\n");
	put_text(root, "sys/class/iommu/dmar0/intel-iommu/ecap", "f050df\n");
	put_text(root, "sys/kernel/iommu_groups/3/type", "identity\n");
	put_link(root, "sys/kernel/iommu_groups/3/devices/0000:00:02.0",
		 "../../../../bus/pci/devices/0000:00:02.0");
	put_text(root, "sys/kernel/iommu_groups/7/type", "DMA\n");
	put_text(root, "sys/kernel/iommu_groups/7/reserved_regions",
		 "0x000000003e2e0000 0x000000003e2fffff direct\n"
		 "0x00000000fee00000 0x00000000feefffff msi\n");
	put_link(root, "sys/kernel/iommu_groups/7/devices/0000:00:14.0",
		 "../../../../bus/pci/devices/0000:00:14.0");
	put_text(root, "sys/bus/pci/devices/0000:00:02.0/class", "0x030000\n");
	put_link(root, "sys/bus/pci/devices/0000:00:02.0/iommu", "../../../class/iommu/dmar0");
	put_link(root, "sys/bus/pci/devices/0000:00:02.0/iommu_group", "../../../kernel/iommu_groups/3");
	put_text(root, "sys/bus/pci/devices/0000:00:14.0/class", "0x0c0330\n");
	put_link(root, "sys/bus/pci/devices/0000:00:14.0/iommu", "../../../class/iommu/dmar0");
	put_text(root, "sys/bus/pci/devices/0000:00:1f.3/class", "0x040380\n");   /* no group */
	put_text(root, "sys/bus/pci/devices/0000:00:1c.0/class", "0x060400\n");   /* a bridge */
}

static char *tmp_root(void)
{
	char *root = strdup("build/fw-sysfs-XXXXXX");

	assert_non_null(mkdtemp(root));
	return root;
}

static void rm_root(char *root)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	free(root);
}

static void test_sysfs_vtd(void **state)
{
	char *root = tmp_root();
	struct fx f = fresh();
	const struct ap_fw_unit *u;
	const struct ap_fw_dev *gpu, *xhci, *audio;

	(void)state;
	make_vtd_host(root);
	EXPECT(ap_fw_add_sysfs(f.fw, root) == 0, "%s", ap_fw_error(f.fw));
	assert_int_equal(D(&f)->n_units, 1);
	u = &D(&f)->units[0];
	assert_true(u->caps.from_regs);
	assert_true(u->caps.pass_through);               /* ECAP bit 6 */
	assert_int_equal(u->caps.mgaw, 48);
	assert_int_equal(u->caps.sagaw, 1u << 2);
	assert_int_equal(D(&f)->n_groups, 2);
	gpu = &D(&f)->devs[dev_named(&f, "0000:00:02.0")];
	xhci = &D(&f)->devs[dev_named(&f, "0000:00:14.0")];
	audio = &D(&f)->devs[dev_named(&f, "0000:00:1f.3")];
	assert_int_equal(gpu->group, 3);
	assert_int_equal(gpu->unit, 0);
	assert_int_equal(xhci->group, 7);
	assert_int_equal(audio->group, -1);
	assert_true(audio->flags & AP_FW_DEV_DMA);
	for (size_t i = 0; i < D(&f)->n_groups; i++)
		assert_string_equal(D(&f)->groups[i].type, D(&f)->groups[i].id == 3 ? "identity" : "DMA");
	assert_true(has_resv(&f, dev_named(&f, "0000:00:14.0"), 0x3e2e0000, 0x20000, AP_RESV_DIRECT));
	assert_true(has_resv(&f, dev_named(&f, "0000:00:14.0"), 0xfee00000, 0x100000, AP_RESV_MSI));
	for (size_t i = 0; i < D(&f)->n_devs; i++)
		assert_string_not_equal(D(&f)->devs[i].name, "0000:00:1c.0");
	done(&f);

	/* a bad register file refuses the whole import and names the file */
	f = fresh();
	put_text(root, "sys/class/iommu/dmar0/intel-iommu/cap", "c002f0002\n"); /* SAGAW 0 */
	assert_int_equal(ap_fw_add_sysfs(f.fw, root), -EINVAL);
	EXPECT(strstr(ap_fw_error(f.fw), "dmar0/intel-iommu: CAP=0xc002f0002: SAGAW is 0"), "%s",
	       ap_fw_error(f.fw));
	assert_int_equal(D(&f)->n_units + D(&f)->n_devs + D(&f)->n_tables, 0);
	done(&f);
	assert_int_equal(ap_fw_add_sysfs(NULL, root), -EINVAL);

	/* a reserved region of 2^64 bytes is refused, naming the line */
	f = fresh();
	put_text(root, "sys/class/iommu/dmar0/intel-iommu/cap", "c002f0402\n");
	put_text(root, "sys/kernel/iommu_groups/7/reserved_regions",
		 "0x00000000fee00000 0x00000000feefffff msi\n"
		 "0x0000000000000000 0xffffffffffffffff reserved\n");
	assert_int_equal(ap_fw_add_sysfs(f.fw, root), -EINVAL);
	EXPECT(strstr(ap_fw_error(f.fw), "7/reserved_regions:2: covers the whole address space"),
	       "%s", ap_fw_error(f.fw));
	done(&f);
	rm_root(root);
}

static void test_sysfs_smmu_bypass(void **state)
{
	char *root = tmp_root();
	struct fx f = fresh();
	size_t len;
	void *buf = tw_load(REAL "iort-lenovo-thinkpad-x13s.dat", &len);

	(void)state;
	put_file(root, "sys/firmware/acpi/tables/IORT", buf, len);
	put_text(root, "sys/module/arm_smmu/parameters/disable_bypass", "N\n");
	EXPECT(ap_fw_add_sysfs(f.fw, root) == 0, "%s", ap_fw_error(f.fw));
	assert_true(D(&f)->units[unit_at(&f, 0x15000000)].caps.unmatched_bypass);
	assert_false(D(&f)->units[unit_at(&f, 0x14F80000)].caps.unmatched_bypass);
	done(&f);
	free(buf);
	rm_root(root);
	f = fresh();
	assert_int_equal(ap_fw_add_sysfs(f.fw, "build/no-such-root"), -ENOENT);
	done(&f);
}

/* A host whose firmware has a DMAR but whose kernel runs without the
 * IOMMU (intel_iommu=off): no groups, no class/iommu.  Every DMA-capable
 * PCI function the host lists is a bypass, the ones a DRHD scope names
 * as much as the others. */
static void test_sysfs_iommu_off(void **state)
{
	char *root = tmp_root();
	struct fx f = fresh();
	struct ap_fw_bypass b;
	struct tw t;
	bool gpu = false, audio = false;
	size_t n = 0;

	(void)state;
	tw_dmar(&t, 46, 1);
	tw_drhd(&t, 0, 0xfed90000, 0, 2, 0);             /* the GPU's own unit */
	tw_drhd(&t, 1, 0xfed91000, -1, 0, 0);            /* the rest */
	tw_seal(&t);
	put_file(root, "sys/firmware/acpi/tables/DMAR", t.b, t.n);
	put_text(root, "sys/bus/pci/devices/0000:00:02.0/class", "0x030000\n");
	put_text(root, "sys/bus/pci/devices/0000:00:1f.3/class", "0x040380\n");
	put_text(root, "sys/bus/pci/devices/0000:00:1c.0/class", "0x060400\n");   /* a bridge */
	EXPECT(ap_fw_add_sysfs(f.fw, root) == 0, "%s", ap_fw_error(f.fw));
	assert_int_equal(D(&f)->devs[dev_named(&f, "0000:00:02.0")].unit, 0);
	for (; !ap_fw_bypass(f.fw, n, &b); n++) {
		gpu |= !strcmp(b.who, "0000:00:02.0") && strstr(b.why, "no IOMMU group");
		audio |= !strcmp(b.who, "0000:00:1f.3") && strstr(b.why, "no IOMMU group");
	}
	assert_true(gpu);
	assert_true(audio);
	assert_int_equal(n, 2);
	done(&f);
	rm_root(root);
}

/* ------------------------------------------------------------ fail-nth */

static void failnth_one(import_fn fn, const void *buf, size_t len, const char *what)
{
	unsigned long n;

	for (n = 1; n < 10000; n++) {
		struct fx f = fresh();
		uint64_t a0, b0, a1, b1;
		int rc;

		ap_ctx_mem_stats(f.ctx, &a0, &b0);
		ap_ctx_fail_nth(f.ctx, n);
		rc = fn(f.fw, buf, len);
		if (!ap_ctx_fail_fired(f.ctx)) {
			assert_int_equal(rc, 0);
			done(&f);
			break;
		}
		EXPECT(rc == -ENOMEM, "%s: allocation %lu failed, rc %d (%s)", what, n, rc,
		       ap_fw_error(f.fw));
		assert_int_equal(D(&f)->n_units + D(&f)->n_devs + D(&f)->n_streams +
				 D(&f)->n_resv + D(&f)->n_notes + D(&f)->n_tables, 0);
		ap_fw_free(f.fw);
		ap_ctx_mem_stats(f.ctx, &a1, &b1);
		assert_int_equal(a1, a0 - 1); /* only the description itself is gone */
		ap_ctx_free(f.ctx);
	}
	print_message("fail-nth %s: %lu allocation points\n", what, n - 1);
}

static void test_failnth(void **state)
{
	(void)state;
	for (size_t i = 0; i < TW_REAL_INPUTS; i++) {
		size_t len;
		void *buf = tw_load(tw_real_inputs[i].path, &len);

		failnth_one(tw_real_inputs[i].fn, buf, len, tw_real_inputs[i].path);
		free(buf);
	}
}

/* Fail-nth on an import onto a description that already holds a table:
 * the roll-back's own copies are allocations too, and every failure
 * leaves the description as the first import made it. */
static void test_failnth_second_import(void **state)
{
	size_t len1, len2;
	void *first = tw_load(REAL "dmar-dell-poweredge-r820.dat", &len1);
	void *second = tw_load(REAL "dmar-microsoft-surface-pro.dat", &len2);
	unsigned long n;

	(void)state;
	for (n = 1; n < 1000; n++) {
		struct fx f = fresh();
		struct desc_snap s;
		int rc;

		assert_int_equal(ap_fw_add_dmar(f.fw, first, len1), 0);
		snap_take(&f, &s);
		ap_ctx_fail_nth(f.ctx, n);
		rc = ap_fw_add_dmar(f.fw, second, len2);
		if (!ap_ctx_fail_fired(f.ctx)) {
			assert_int_equal(rc, 0);
			for (int i = 0; i < 7; i++)
				free(s.mem[i]);
			done(&f);
			break;
		}
		EXPECT(rc == -ENOMEM, "allocation %lu failed, rc %d (%s)", n, rc, ap_fw_error(f.fw));
		snap_check(&f, &s, "fail-nth");
		done(&f);
	}
	print_message("fail-nth second import: %lu allocation points\n", n - 1);
	free(first);
	free(second);
}

static int regs_text(struct ap_fw *fw, const void *buf, size_t len)
{
	return ap_fw_add_regs(fw, buf, len, "t");
}

static char *sysfs_root;

static int sysfs_import(struct ap_fw *fw, const void *buf, size_t len)
{
	(void)buf;
	(void)len;
	return ap_fw_add_sysfs(fw, sysfs_root);
}

static void test_failnth_text(void **state)
{
	static const char regs[] = "0x1000 CAP=0xd2008c40660462 ECAP=0xf050df\n"
				   "0x2000 IDR0=0xb IDR5=0x55\n0x3000 ID0=0x68005e80\n";

	(void)state;
	failnth_one(regs_text, regs, strlen(regs), "regs");
	sysfs_root = tmp_root();
	make_vtd_host(sysfs_root);
	failnth_one(sysfs_import, NULL, 0, "sysfs");
	rm_root(sysfs_root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dmar_r820),
		cmocka_unit_test(test_dmar_surface),
		cmocka_unit_test(test_dmar_nuc14),
		cmocka_unit_test(test_iort_altra),
		cmocka_unit_test(test_iort_x13s),
		cmocka_unit_test(test_iort_cix),
		cmocka_unit_test(test_dt_juno),
		cmocka_unit_test(test_dt_ls1028a),
		cmocka_unit_test(test_regs_vtd),
		cmocka_unit_test(test_regs_smmuv3),
		cmocka_unit_test(test_regs_smmuv2),
		cmocka_unit_test(test_regs_errors),
		cmocka_unit_test(test_regs_mmu401),
		cmocka_unit_test(test_dmar_hostile),
		cmocka_unit_test(test_dmar_warnings),
		cmocka_unit_test(test_failed_import_changes_nothing),
		cmocka_unit_test(test_iort_hostile),
		cmocka_unit_test(test_iort_id_rules),
		cmocka_unit_test(test_iort_smmuv3_deviceid_index),
		cmocka_unit_test(test_dt_hostile),
		cmocka_unit_test(test_damage),
		cmocka_unit_test(test_sysfs_vtd),
		cmocka_unit_test(test_sysfs_smmu_bypass),
		cmocka_unit_test(test_sysfs_iommu_off),
		cmocka_unit_test(test_failnth),
		cmocka_unit_test(test_failnth_text),
		cmocka_unit_test(test_failnth_second_import),
	};

	mkdir("build", 0755); /* scratch files; exists after any build */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
