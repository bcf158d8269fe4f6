/* SPDX-License-Identifier: MIT */
/*
 * A small writer of ACPI tables for the firmware tests and the fuzz seed
 * generator: bytes appended little-endian, then the header's Length and
 * Checksum fixed up.  Real tables are never copied into the repository;
 * what the tests need beyond them is built here.
 */
#ifndef AP_TEST_FWTAB_H
#define AP_TEST_FWTAB_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tw {
	uint8_t b[8192];
	size_t n;
};

static inline void tw_put(struct tw *t, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes && t->n < sizeof(t->b); i++)
		t->b[t->n++] = (uint8_t)(v >> (8 * i));
}
#define P8(t, v) tw_put(t, v, 1)
#define P16(t, v) tw_put(t, v, 2)
#define P32(t, v) tw_put(t, v, 4)
#define P64(t, v) tw_put(t, v, 8)

static inline void tw_set(struct tw *t, size_t at, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		t->b[at + i] = (uint8_t)(v >> (8 * i));
}

/* The 36-byte ACPI header; tw_seal() fills Length and Checksum. */
static inline void tw_header(struct tw *t, const char *sig, uint8_t rev)
{
	t->n = 0;
	memcpy(t->b, sig, 4);
	t->n = 4;
	P32(t, 0);
	P8(t, rev);
	P8(t, 0);
	memcpy(t->b + t->n, "APTEST", 6);
	t->n += 6;
	memcpy(t->b + t->n, "FIRMWARE", 8);
	t->n += 8;
	P32(t, 1);
	memcpy(t->b + t->n, "APER", 4);
	t->n += 4;
	P32(t, 1);
}

static inline void tw_seal(struct tw *t)
{
	uint8_t sum = 0;

	tw_set(t, 4, t->n, 4);
	t->b[9] = 0;
	for (size_t i = 0; i < t->n; i++)
		sum = (uint8_t)(sum + t->b[i]);
	t->b[9] = (uint8_t)(0x100 - sum);
}

/* DMAR header: HAW byte is width - 1. */
static inline void tw_dmar(struct tw *t, unsigned width, uint8_t flags)
{
	tw_header(t, "DMAR", 1);
	P8(t, width - 1);
	P8(t, flags);
	for (int i = 0; i < 10; i++)
		P8(t, 0);
}

/* A DRHD with one PCI endpoint scope bus:dev.fn; returns its offset. */
static inline size_t tw_drhd(struct tw *t, uint8_t flags, uint64_t base, int bus, int dev, int fn)
{
	size_t at = t->n;

	P16(t, 0);
	P16(t, bus >= 0 ? 24 : 16);
	P8(t, flags);
	P8(t, 0);
	P16(t, 0);
	P64(t, base);
	if (bus >= 0) {
		P8(t, 1); P8(t, 8); P16(t, 0); P8(t, 0); P8(t, (uint8_t)bus);
		P8(t, (uint8_t)dev); P8(t, (uint8_t)fn);
	}
	return at;
}

static inline size_t tw_rmrr(struct tw *t, uint64_t base, uint64_t end, int bus, int dev, int fn)
{
	size_t at = t->n;

	P16(t, 1);
	P16(t, 32);
	P16(t, 0);
	P16(t, 0);
	P64(t, base);
	P64(t, end);
	P8(t, 1); P8(t, 8); P16(t, 0); P8(t, 0); P8(t, (uint8_t)bus);
	P8(t, (uint8_t)dev); P8(t, (uint8_t)fn);
	return at;
}

/* IORT: header with node count, node offset 48; nodes follow. */
static inline void tw_iort(struct tw *t, uint8_t rev, uint32_t nodes)
{
	tw_header(t, "IORT", rev);
	P32(t, nodes);
	P32(t, 48);
	P32(t, 0);
}

static inline void tw_node(struct tw *t, uint8_t type, uint16_t len, uint8_t rev, uint32_t id,
			   uint32_t nmaps, uint32_t mapoff)
{
	P8(t, type);
	P16(t, len);
	P8(t, rev);
	P32(t, id);
	P32(t, nmaps);
	P32(t, mapoff);
}

static inline void tw_map(struct tw *t, uint32_t in, uint32_t count_minus_1, uint32_t out,
			  uint32_t ref, uint32_t flags)
{
	P32(t, in);
	P32(t, count_minus_1);
	P32(t, out);
	P32(t, ref);
	P32(t, flags);
}

/* An ITS group node with one ITS (24 bytes). */
static inline size_t tw_its(struct tw *t)
{
	size_t at = t->n;

	tw_node(t, 0, 24, 1, 0, 0, 0);
	P32(t, 1);
	P32(t, 0);
	return at;
}

/* An SMMUv3 node (node revision 2, 68 bytes, no mappings); flags bit 0 is
 * COHACC. */
static inline size_t tw_smmuv3(struct tw *t, uint64_t base, uint32_t flags)
{
	size_t at = t->n;

	tw_node(t, 4, 68, 2, 0, 0, 0);
	P64(t, base);
	P32(t, flags);
	P32(t, 0);
	P64(t, 0);
	P32(t, 0);                 /* model */
	for (int i = 0; i < 4; i++)
		P32(t, 0x100 + i); /* event, pri, gerr, sync GSIVs: wired */
	P32(t, 0);                 /* proximity */
	P32(t, 0);                 /* DeviceID mapping index */
	return at;
}

/* An SMMUv1/v2 node (node revision 0, 76 bytes: its fields and the
 * global interrupt array, no context interrupts, no mappings). */
static inline size_t tw_smmu2(struct tw *t, uint64_t base, uint32_t model)
{
	size_t at = t->n;

	tw_node(t, 3, 76, 0, 0, 0, 0);
	P64(t, base);
	P64(t, 0x10000);           /* span */
	P32(t, model);
	P32(t, 0);                 /* flags */
	P32(t, 60);                /* global interrupt array */
	P32(t, 0);                 /* context interrupts */
	P32(t, 0);
	P32(t, 0);                 /* PMU interrupts */
	P32(t, 0);
	for (int i = 0; i < 4; i++)
		P32(t, 0);
	return at;
}

/* A named component with one ID mapping (node revision 4). */
static inline size_t tw_nc(struct tw *t, const char *name, uint8_t limit, uint32_t in,
			   uint32_t count_minus_1, uint32_t out, uint32_t ref, uint32_t flags)
{
	size_t at = t->n, nl = strlen(name) + 1, data = 13 + nl, pad = (4 - (16 + data) % 4) % 4;
	uint16_t len = (uint16_t)(16 + data + pad + 20);

	tw_node(t, 1, len, 4, 0, 1, (uint32_t)(16 + data + pad));
	P32(t, 0);            /* node flags */
	P32(t, 1);            /* CCA: coherent */
	P8(t, 0);
	P16(t, 0);
	P8(t, 0);
	P8(t, limit);
	memcpy(t->b + t->n, name, nl);
	t->n += nl;
	for (size_t i = 0; i < pad; i++)
		P8(t, 0);
	tw_map(t, in, count_minus_1, out, ref, flags);
	return at;
}

/* A root complex (node revision 1) with one ID mapping. */
static inline size_t tw_rc(struct tw *t, uint32_t segment, uint8_t limit, uint32_t in,
			   uint32_t count_minus_1, uint32_t out, uint32_t ref)
{
	size_t at = t->n;

	tw_node(t, 2, 16 + 24 + 20, 1, 0, 1, 40);
	P32(t, 1);    /* CCA */
	P8(t, 0);
	P16(t, 0);
	P8(t, 0);
	P32(t, 0);    /* ATS */
	P32(t, segment);
	P8(t, limit);
	P8(t, 0); P8(t, 0); P8(t, 0);
	P32(t, 0);
	tw_map(t, in, count_minus_1, out, ref, 0);
	return at;
}

/* Compile a .dtsi excerpt as the real-inputs README says, into `out`. */
static inline bool build_dtb(const char *dtsi, const char *out)
{
	char cmd[3 * PATH_MAX], full[PATH_MAX], wrap[PATH_MAX];
	FILE *fp;

	snprintf(wrap, sizeof(wrap), "%s.dts", out);
	if (!realpath(dtsi, full) || !(fp = fopen(wrap, "w")))
		return false;
	fprintf(fp, "/dts-v1/;\n#define GIC_SPI 0\n#define IRQ_TYPE_LEVEL_HIGH 4\n"
		"/ { #address-cells = <2>; #size-cells = <2>;\n"
		"gic: interrupt-controller@2c010000 { compatible = \"arm,gic-400\"; "
		"reg = <0 0x2c010000 0 0x1000>; #interrupt-cells = <3>; interrupt-controller; };\n"
		"v2m_0: v2m@2c1c0000 { compatible = \"arm,gic-v2m-frame\"; msi-controller; "
		"reg = <0 0x2c1c0000 0 0x10000>; };\n"
		"its: msi-controller@6020000 { compatible = \"arm,gic-v3-its\"; msi-controller; "
		"#msi-cells = <1>; reg = <0 0x6020000 0 0x20000>; }; };\n"
		"#include \"%s\"\n", full);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "cpp -nostdinc -undef -x assembler-with-cpp -P %s "
		 "| dtc -q -I dts -O dtb -o %s -", wrap, out);
	return system(cmd) == 0;
}

#ifdef cmocka_unit_test
/* What the firmware tests share (after <cmocka.h>, <aperture/aperture.h>
 * and expect.h). */

/* Every real input, and the importer that reads it; the devicetree ones
 * are compiled by build_dtb() into build/ first. */
#define REAL "../shared/real-inputs/"
struct tw_input {
	int (*fn)(struct ap_fw *, const void *, size_t);
	const char *path;
};
static const struct tw_input tw_real_inputs[] = {
		{ ap_fw_add_dmar, REAL "dmar-dell-poweredge-r820.dat" },
		{ ap_fw_add_dmar, REAL "dmar-microsoft-surface-pro.dat" },
		{ ap_fw_add_dmar, REAL "dmar-asus-nuc14rvh-b.dat" },
		{ ap_fw_add_iort, REAL "iort-ampere-altra-ava.dat" },
		{ ap_fw_add_iort, REAL "iort-cix-sky1-orion-o6.dat" },
		{ ap_fw_add_iort, REAL "iort-lenovo-thinkpad-x13s.dat" },
		{ ap_fw_add_dtb, "build/juno.dtb" },
		{ ap_fw_add_dtb, "build/ls1028a.dtb" },
};
#define TW_REAL_INPUTS (sizeof(tw_real_inputs) / sizeof(tw_real_inputs[0]))

/* A whole file, malloc'd with a NUL after it; the test fails if it cannot
 * be read. */
static inline void *tw_load(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	EXPECT(fp, "cannot open %s (the real inputs live beside the repository)", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}
#endif

#endif
