/* SPDX-License-Identifier: MIT */
/*
 * A leaf descriptor's bits, named as the architecture names them, for
 * `dump --ranges`: ARM VMSAv8-64 stage 1 and stage 2 (doc/formats/
 * arm-lpae.md) and VT-d second level (doc/formats/vtd-sl.md).  The output
 * address is left out: the range says it.
 */
#include <stdio.h>

#include "view_internal.h"

static uint64_t bits(uint64_t pte, unsigned hi, unsigned lo)
{
	return (pte >> lo) & ((2ull << (hi - lo)) - 1);
}

static void add(struct ap_pte_field *f, size_t max, size_t *n, const char *name, uint64_t value,
		const char *meaning)
{
	if (*n < max)
		f[*n] = (struct ap_pte_field){ name, value, meaning };
	(*n)++;
}

/* What Linux's MAIR gives each index (arm-lpae.md): 0 Normal NC, 1 Normal
 * WB, 2 Device-nGnRE, 3 Normal inner NC outer WB. */
static const char *attr_index(uint64_t i)
{
	static const char *const names[] = { "normal-nc", "normal-wb", "device-nGnRE",
					     "normal-inc-owb" };

	return i < 4 ? names[i] : "";
}

static const char *mem_attr(uint64_t m)
{
	if (m == 0x1)
		return "device-nGnRE";
	if (m == 0xf)
		return "normal-wb";
	if (m == 0x5)
		return "normal-nc";
	return "";
}

static const char *shareability(uint64_t sh)
{
	static const char *const names[] = { "non", "reserved", "outer", "inner" };

	return names[sh & 3];
}

static void lpae_s1(uint64_t pte, struct ap_pte_field *f, size_t max, size_t *n)
{
	static const char *const ap[] = { "rw,priv", "rw", "ro,priv", "ro" };

	add(f, max, n, "AttrIndx", bits(pte, 4, 2), attr_index(bits(pte, 4, 2)));
	add(f, max, n, "NS", bits(pte, 5, 5), "");
	add(f, max, n, "AP", bits(pte, 7, 6), ap[bits(pte, 7, 6)]);
	add(f, max, n, "SH", bits(pte, 9, 8), shareability(bits(pte, 9, 8)));
	add(f, max, n, "AF", bits(pte, 10, 10), "");
	add(f, max, n, "nG", bits(pte, 11, 11), "");
	add(f, max, n, "PXN", bits(pte, 53, 53), "");
	add(f, max, n, "UXN", bits(pte, 54, 54), "");
}

static void lpae_s2(uint64_t pte, struct ap_pte_field *f, size_t max, size_t *n)
{
	static const char *const s2ap[] = { "none", "r", "w", "rw" };

	add(f, max, n, "MemAttr", bits(pte, 5, 2), mem_attr(bits(pte, 5, 2)));
	add(f, max, n, "S2AP", bits(pte, 7, 6), s2ap[bits(pte, 7, 6)]);
	add(f, max, n, "SH", bits(pte, 9, 8), shareability(bits(pte, 9, 8)));
	add(f, max, n, "AF", bits(pte, 10, 10), "");
	add(f, max, n, "XN", bits(pte, 54, 53), "");
}

static void vtd_sl(uint64_t pte, struct ap_pte_field *f, size_t max, size_t *n)
{
	add(f, max, n, "R", bits(pte, 0, 0), "");
	add(f, max, n, "W", bits(pte, 1, 1), "");
	add(f, max, n, "X", bits(pte, 2, 2), "");
	add(f, max, n, "EMT", bits(pte, 5, 3), "");
	add(f, max, n, "IPAT", bits(pte, 6, 6), "");
	add(f, max, n, "PS", bits(pte, 7, 7), "");
	add(f, max, n, "A", bits(pte, 8, 8), "");
	add(f, max, n, "D", bits(pte, 9, 9), "");
	add(f, max, n, "SNP", bits(pte, 11, 11), "");
}

size_t ap__pte_fields(enum ap_pt_format format, uint64_t pte, struct ap_pte_field *f,
		      size_t max)
{
	size_t n = 0;

	if (format == AP_PT_ARM_LPAE_S1 || format == AP_PT_ARM_LPAE_S2)
		add(f, max, &n, "type", bits(pte, 1, 0), bits(pte, 1, 0) == 3 ? "page" : "block");
	if (format == AP_PT_ARM_LPAE_S1)
		lpae_s1(pte, f, max, &n);
	else if (format == AP_PT_ARM_LPAE_S2)
		lpae_s2(pte, f, max, &n);
	else if (format == AP_PT_INTEL_VTD_SL)
		vtd_sl(pte, f, max, &n);
	return n;
}
