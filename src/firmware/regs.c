/* SPDX-License-Identifier: MIT */
/*
 * src/firmware/regs.c - capabilities from ID registers, decoded as the
 * architecture specifications define the fields and as Linux's drivers
 * use them: VT-d CAP/ECAP (VT-d spec, 11.4.2 and 11.4.3), SMMUv3
 * IDR0/IDR1/IDR5 (SMMUv3 spec, 6.3.1/6.3.2/6.3.6), SMMUv2 ID0/ID1/ID2 and
 * sCR0 (SMMU architecture v2, 10.6).  And the `BASE REG=VALUE` text that
 * carries such values.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fw_internal.h"

#define SZ_4K (1ull << 12)
#define SZ_16K (1ull << 14)
#define SZ_64K (1ull << 16)
#define SZ_2M (1ull << 21)
#define SZ_32M (1ull << 25)
#define SZ_512M (1ull << 29)
#define SZ_1G (1ull << 30)

static uint64_t field(uint64_t v, unsigned hi, unsigned lo)
{
	return (v >> lo) & ((1ull << (hi - lo + 1)) - 1);
}

static bool have(const struct ap_fw_unit *u, enum ap_fw_reg r)
{
	return u->have & (1u << r);
}

static unsigned clamp_oas(unsigned haw)
{
	if (haw == 0)
		return 48;
	return haw < 32 ? 32 : haw > 52 ? 52 : haw;
}

/* VT-d: the deepest table SAGAW offers (at most 5 levels, 57 bits), and
 * no wider than MGAW, is the domain's input width (Linux's agaw choice). */
static void decode_vtd(struct ap_fw_unit *u)
{
	struct ap_fw_caps *c = &u->caps;
	uint64_t cap = u->regs[AP_FW_REG_CAP], ecap = u->regs[AP_FW_REG_ECAP];
	unsigned width = 0;

	c->stage = 2;
	c->stages = 2;
	c->oas = clamp_oas(u->haw);
	c->from_regs = have(u, AP_FW_REG_CAP) && have(u, AP_FW_REG_ECAP);
	if (!have(u, AP_FW_REG_CAP)) {
		c->mgaw = 48;
		c->sagaw = 1u << 2;
		c->ias = 48;
		c->pgsizes = SZ_4K | SZ_2M | SZ_1G;
		c->domains = 65536;
	} else {
		c->mgaw = (unsigned)field(cap, 21, 16) + 1;
		c->sagaw = (unsigned)field(cap, 12, 8);
		for (int agaw = 3; agaw >= 0; agaw--)
			if (c->sagaw & (1u << agaw)) {
				width = 30 + 9 * (unsigned)agaw;
				break;
			}
		c->ias = width < c->mgaw ? width : c->mgaw;
		c->pgsizes = SZ_4K | (field(cap, 34, 34) ? SZ_2M : 0) |
			     (field(cap, 35, 35) ? SZ_1G : 0);
		c->domains = 1u << (4 + 2 * field(cap, 2, 0));
	}
	if (have(u, AP_FW_REG_ECAP)) {
		c->coherent = field(ecap, 0, 0);
		c->ats = field(ecap, 2, 2);
		c->pass_through = field(ecap, 6, 6);
	} else {
		c->coherent = true;
	}
}

/* SMMUv3 IDR5.OAS, and SMMUv2's ID2 size fields (whose values above 5
 * all mean 48). */
static unsigned smmuv3_oas(unsigned enc)
{
	static const unsigned bits[] = { 32, 36, 40, 42, 44, 48, 52 };

	return enc < 7 ? bits[enc] : 48; /* Linux: "unknown output address size" -> 48 */
}

static unsigned smmuv2_size(unsigned enc)
{
	static const unsigned bits[] = { 32, 36, 40, 42, 44 };

	return enc < 5 ? bits[enc] : 48;
}

static uint64_t granules(bool g4k, bool g16k, bool g64k)
{
	return (g4k ? SZ_4K | SZ_2M | SZ_1G : 0) | (g16k ? SZ_16K | SZ_32M : 0) |
	       (g64k ? SZ_64K | SZ_512M : 0);
}

static void decode_smmuv3(struct ap_fw_unit *u)
{
	struct ap_fw_caps *c = &u->caps;
	uint64_t idr0 = u->regs[AP_FW_REG_IDR0], idr1 = u->regs[AP_FW_REG_IDR1];
	uint64_t idr5 = u->regs[AP_FW_REG_IDR5];
	unsigned smmu_ias, smmu_oas;

	c->from_regs = have(u, AP_FW_REG_IDR0) && have(u, AP_FW_REG_IDR5);
	c->coherent = u->flags & AP_FW_UNIT_COHACC;
	c->stages = 1 | 2;
	c->sid_bits = 16;
	if (have(u, AP_FW_REG_IDR0)) {
		c->stages = (field(idr0, 1, 1) ? 1 : 0) | (field(idr0, 0, 0) ? 2 : 0);
		c->ats = field(idr0, 10, 10);
	}
	if (have(u, AP_FW_REG_IDR1))
		c->sid_bits = (unsigned)field(idr1, 5, 0);
	smmu_oas = have(u, AP_FW_REG_IDR5) ? smmuv3_oas((unsigned)field(idr5, 2, 0)) : 48;
	c->pgsizes = have(u, AP_FW_REG_IDR5)
		     ? granules(field(idr5, 4, 4), field(idr5, 5, 5), field(idr5, 6, 6))
		     : SZ_4K | SZ_2M | SZ_1G;
	/* TTF = AArch32+AArch64 makes Linux start from a 40-bit IPA. */
	smmu_ias = have(u, AP_FW_REG_IDR0) && field(idr0, 3, 2) == 3 ? 40 : 0;
	if (smmu_oas > smmu_ias)
		smmu_ias = smmu_oas;
	if (c->stages & 1) {
		c->stage = 1;
		c->ias = field(idr5, 11, 10) == 1 && (c->pgsizes & SZ_64K) ? 52 : 48;
		c->oas = smmu_ias;
	} else {
		c->stage = 2;
		c->ias = smmu_ias;
		c->oas = smmu_oas;
	}
}

static bool smmu_v1(const struct ap_fw_unit *u)
{
	return u->model == AP_FW_SMMU_GENERIC_V1 || u->model == AP_FW_SMMU_MMU400 ||
	       u->model == AP_FW_SMMU_MMU401;
}

static void decode_arm_smmu(struct ap_fw_unit *u, bool bypass_param)
{
	struct ap_fw_caps *c = &u->caps;
	uint64_t id0 = u->regs[AP_FW_REG_ID0], id1 = u->regs[AP_FW_REG_ID1];
	uint64_t id2 = u->regs[AP_FW_REG_ID2], scr0 = u->regs[AP_FW_REG_SCR0];
	unsigned va = 48, ipa = 48, pa = 48;

	c->from_regs = have(u, AP_FW_REG_ID0) && have(u, AP_FW_REG_ID1) && have(u, AP_FW_REG_ID2);
	c->coherent = u->flags & AP_FW_UNIT_COHACC;
	/* MMU-400 and MMU-401 translate stage 2 only */
	c->stages = u->model == AP_FW_SMMU_MMU400 || u->model == AP_FW_SMMU_MMU401 ? 2 : 1 | 2;
	c->context_banks = 128; /* MMU-500's maximum */
	c->smrs = 128;
	c->stream_match = true;
	c->sid_bits = 15;
	/* AArch32 long format (v1) or AArch64 4K; an MMU-401 (Linux's
	 * ARM_SMMU_V1_64K) adds AArch64 64K, which SMMUv1's ID2 cannot say */
	c->pgsizes = SZ_4K | SZ_2M | SZ_1G |
		     (u->model == AP_FW_SMMU_MMU401 ? SZ_64K | SZ_512M : 0);
	if (have(u, AP_FW_REG_ID0)) {
		c->stages = (field(id0, 30, 30) ? 1 : 0) | (field(id0, 29, 29) ? 2 : 0);
		c->stream_match = field(id0, 27, 27);
		c->sid_bits = field(id0, 8, 8) ? 16 : (unsigned)field(id0, 12, 9);
		c->smrs = c->stream_match ? (unsigned)field(id0, 7, 0) : 0;
	}
	if (have(u, AP_FW_REG_ID1)) {
		c->context_banks = (unsigned)field(id1, 7, 0);
		c->s2_context_banks = (unsigned)field(id1, 23, 16);
	}
	if (have(u, AP_FW_REG_ID2)) {
		ipa = smmuv2_size((unsigned)field(id2, 3, 0));
		pa = smmuv2_size((unsigned)field(id2, 7, 4));
		va = smmu_v1(u) ? ipa : smmuv2_size((unsigned)field(id2, 11, 8));
		if (!smmu_v1(u))
			c->pgsizes = granules(field(id2, 12, 12), field(id2, 13, 13),
					      field(id2, 14, 14));
	}
	if (smmu_v1(u)) { /* Linux's ARM_32_LPAE formats: 32-bit VA, 40-bit IPA/PA */
		va = va < 32 ? va : 32;
		ipa = ipa < 40 ? ipa : 40;
		pa = pa < 40 ? pa : 40;
	}
	if (c->stages & 1) {
		c->stage = 1;
		c->ias = va;
		c->oas = ipa;
	} else {
		c->stage = 2;
		c->ias = ipa;
		c->oas = pa;
	}
	c->unmatched_bypass = bypass_param;
	if (have(u, AP_FW_REG_SCR0)) {
		c->clientpd = field(scr0, 0, 0);
		c->unmatched_bypass = !field(scr0, 10, 10);
	}
}

void ap__fw_caps_decode(struct ap_fw_unit *u, bool bypass_param)
{
	memset(&u->caps, 0, sizeof(u->caps));
	switch (u->kind) {
	case AP_FW_VTD: decode_vtd(u); break;
	case AP_FW_SMMUV3: decode_smmuv3(u); break;
	case AP_FW_ARM_SMMU: decode_arm_smmu(u, bypass_param); break;
	}
}

/* ------------------------------------------------------------ text */

static const char *const reg_names[AP_FW_NREGS] = {
	"CAP", "ECAP", "IDR0", "IDR1", "IDR5", "ID0", "ID1", "ID2", "SCR0",
};

/* Values Linux's drivers refuse outright, whoever reports them: why, in
 * static text or in buf. */
static const char *reg_invalid(enum ap_fw_reg r, uint64_t v, char *buf, size_t size)
{
	switch (r) {
	case AP_FW_REG_CAP:
		if (!field(v, 12, 8))
			return "SAGAW is 0: no table depth (Linux: \"Cannot get a valid agaw\")";
		if (field(v, 21, 16) + 1 < 32)
			return "MGAW is below 32 bits";
		return NULL;
	case AP_FW_REG_IDR0:
		if (!field(v, 1, 0))
			return "neither S1P nor S2P (Linux: \"no translation support!\")";
		if (field(v, 3, 2) < 2)
			return "TTF has no AArch64 table format (Linux: \"AArch64 table format not "
			       "supported!\")";
		return NULL;
	case AP_FW_REG_IDR5:
		return field(v, 6, 4) ? NULL : "no translation granule";
	case AP_FW_REG_ID0:
		if (!field(v, 30, 29))
			return "neither S1TS nor S2TS (Linux: \"no translation support!\")";
		if (field(v, 27, 27) && !field(v, 7, 0))
			return "SMS is set and NUMSMRG is 0 (Linux: \"stream-matching supported, "
			       "but no SMRs present!\")";
		return NULL;
	case AP_FW_REG_ID1:
		if (field(v, 23, 16) > field(v, 7, 0))
			return ap__fw_strf(buf, size, "NUMS2CB %u is more than NUMCB %u (Linux: "
					   "\"impossible number of S2 context banks!\")",
					   (unsigned)field(v, 23, 16), (unsigned)field(v, 7, 0));
		return NULL;
	default:
		return NULL;
	}
}

static int reg_from_name(const char *s, size_t n)
{
	for (int i = 0; i < AP_FW_NREGS; i++)
		if (strlen(reg_names[i]) == n && !strncasecmp(s, reg_names[i], n))
			return i;
	return -1;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
	char buf[40], *end;

	if (n == 0 || n >= sizeof(buf) || *s == '-' || *s == '+')
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	*out = strtoull(buf, &end, 0);
	return !errno && *end == '\0';
}

/* Record one value for the unit at `base`; an earlier set for the same
 * base is extended. */

int ap__fw_regs_set(struct ap_fw *fw, uint64_t base, enum ap_fw_reg r, uint64_t v)
{
	struct fw_regset *s = NULL;

	for (size_t i = 0; i < FW_N(fw, FV_REGS); i++)
		if (((struct fw_regset *)fw_at(fw, FV_REGS, i))->base == base)
			s = fw_at(fw, FV_REGS, i);
	if (!s) {
		s = ap__fw_push(fw, FV_REGS);
		if (!s)
			return -ENOMEM;
		s->base = base;
	}
	s->have |= 1u << r;
	s->regs[r] = v;
	return 0;
}

/* A word [s, s+n) of the form REG=VALUE on line `line`. */
static int reg_word(struct ap_fw *fw, const char *file, unsigned line, uint64_t base,
		    const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	uint64_t v;
	int r;
	char msg[128];
	const char *why;

	if (!eq)
		return ap__fw_err(fw, "%s:%u: \"%.*s\" is not REG=VALUE", file, line, (int)n, s);
	r = reg_from_name(s, (size_t)(eq - s));
	if (r < 0)
		return ap__fw_err(fw, "%s:%u: unknown register \"%.*s\" (CAP ECAP IDR0 IDR1 IDR5 "
				  "ID0 ID1 ID2 SCR0)", file, line, (int)(eq - s), s);
	if (!parse_u64(eq + 1, n - (size_t)(eq - s) - 1, &v))
		return ap__fw_err(fw, "%s:%u: %s value \"%.*s\" is not a number", file, line,
				  reg_names[r], (int)(n - (size_t)(eq - s) - 1), eq + 1);
	if (r >= AP_FW_REG_IDR0 && v > UINT32_MAX)
		return ap__fw_err(fw, "%s:%u: %s is a 32-bit register", file, line, reg_names[r]);
	if ((why = reg_invalid((enum ap_fw_reg)r, v, msg, sizeof(msg))))
		return ap__fw_err(fw, "%s:%u: %s=0x%llx: %s", file, line, reg_names[r],
				  (unsigned long long)v, why);
	return ap__fw_regs_set(fw, base, (enum ap_fw_reg)r, v);
}

static int regs_line(struct ap_fw *fw, const char *file, unsigned line, const char *p,
		     const char *end)
{
	const char *w[16];
	size_t wl[16], n = 0;
	uint64_t base;
	int rc;

	while (p < end) {
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p == end || *p == '#')
			break;
		if (n == 16)
			return ap__fw_err(fw, "%s:%u: too many words", file, line);
		w[n] = p;
		while (p < end && !isspace((unsigned char)*p) && *p != '#')
			p++;
		wl[n] = (size_t)(p - w[n]);
		n++;
	}
	if (n == 0)
		return 0;
	if (!parse_u64(w[0], wl[0], &base))
		return ap__fw_err(fw, "%s:%u: \"%.*s\" is not a base address", file, line,
				  (int)wl[0], w[0]);
	if (n == 1)
		return ap__fw_err(fw, "%s:%u: a base address and no REG=VALUE", file, line);
	for (size_t i = 1; i < n; i++)
		if ((rc = reg_word(fw, file, line, base, w[i], wl[i])))
			return rc;
	return 0;
}

int ap_fw_add_regs(struct ap_fw *fw, const char *text, size_t len, const char *file)
{
	struct fw_mark m;
	const char *p = text, *end = text ? text + len : NULL;
	unsigned line = 1;
	int rc = 0;

	if (!fw || (!text && len))
		return -EINVAL;
	if (!file)
		file = "regs";
	if ((rc = ap__fw_mark(fw, &m)))
		return rc;
	while (p && p < end && !rc) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if (memchr(p, '\0', (size_t)(le - p)))
			rc = ap__fw_err(fw, "%s:%u: a NUL byte", file, line);
		else
			rc = regs_line(fw, file, line, p, le);
		p = le + 1;
		line++;
	}
	return ap__fw_finish(fw, &m, rc);
}

/* For sysfs: one value, validated as the text form is. */
int ap__fw_regs_checked(struct ap_fw *fw, const char *what, uint64_t base, enum ap_fw_reg r,
			uint64_t v)
{
	char msg[128];
	const char *why = reg_invalid(r, v, msg, sizeof(msg));

	if (why)
		return ap__fw_err(fw, "%s: %s=0x%llx: %s", what, reg_names[r],
				  (unsigned long long)v, why);
	return ap__fw_regs_set(fw, base, r, v);
}
