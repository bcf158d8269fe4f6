/* SPDX-License-Identifier: MIT */
/*
 * ARM LPAE leaf descriptors for every prot, as a 4K page at 0x40001000, for
 * stage 1 and stage 2: literals worked out by hand from the bit table of
 * doc/formats/arm-lpae.md (what each prot letter becomes), none computed by
 * a formula that mirrors the implementation.
 * Shared by test_pgtable.c and test_pgtable_matrix.c.
 */
#ifndef AP_TEST_LPAE_GOLDEN_H
#define AP_TEST_LPAE_GOLDEN_H

#include <stdint.h>

#include <aperture/pgtable.h>

#define R AP_PROT_READ
#define W AP_PROT_WRITE
#define C AP_PROT_CACHE
#define N AP_PROT_NOEXEC
#define M AP_PROT_MMIO
#define P AP_PROT_PRIV

/*
 * Stage 1: type 0b11 | AF 0x400 | nG 0x800 = 0xc03; AP[1] 0x40 unless p;
 * AP[2] 0x80 for r without w; AttrIndx 2 (0x8) for m, else 1 (0x4) for c;
 * SH 0x300 with c, else 0x200; n sets bits 53 and 54.
 */
static const struct {
	unsigned prot;
	uint64_t pte;
} lpae_s1_page[] = {
	{ R, 0x0000000040001ec3ull },
	{ R | C, 0x0000000040001fc7ull },
	{ R | M, 0x0000000040001ecbull },
	{ R | C | M, 0x0000000040001fcbull },
	{ R | P, 0x0000000040001e83ull },
	{ R | C | P, 0x0000000040001f87ull },
	{ R | M | P, 0x0000000040001e8bull },
	{ R | C | M | P, 0x0000000040001f8bull },
	{ R | N, 0x0060000040001ec3ull },
	{ R | C | N, 0x0060000040001fc7ull },
	{ R | M | N, 0x0060000040001ecbull },
	{ R | C | M | N, 0x0060000040001fcbull },
	{ R | P | N, 0x0060000040001e83ull },
	{ R | C | P | N, 0x0060000040001f87ull },
	{ R | M | P | N, 0x0060000040001e8bull },
	{ R | C | M | P | N, 0x0060000040001f8bull },

	{ W, 0x0000000040001e43ull },
	{ W | C, 0x0000000040001f47ull },
	{ W | M, 0x0000000040001e4bull },
	{ W | C | M, 0x0000000040001f4bull },
	{ W | P, 0x0000000040001e03ull },
	{ W | C | P, 0x0000000040001f07ull },
	{ W | M | P, 0x0000000040001e0bull },
	{ W | C | M | P, 0x0000000040001f0bull },
	{ W | N, 0x0060000040001e43ull },
	{ W | C | N, 0x0060000040001f47ull },
	{ W | M | N, 0x0060000040001e4bull },
	{ W | C | M | N, 0x0060000040001f4bull },
	{ W | P | N, 0x0060000040001e03ull },
	{ W | C | P | N, 0x0060000040001f07ull },
	{ W | M | P | N, 0x0060000040001e0bull },
	{ W | C | M | P | N, 0x0060000040001f0bull },

	{ R | W, 0x0000000040001e43ull },
	{ R | W | C, 0x0000000040001f47ull },
	{ R | W | M, 0x0000000040001e4bull },
	{ R | W | C | M, 0x0000000040001f4bull },
	{ R | W | P, 0x0000000040001e03ull },
	{ R | W | C | P, 0x0000000040001f07ull },
	{ R | W | M | P, 0x0000000040001e0bull },
	{ R | W | C | M | P, 0x0000000040001f0bull },
	{ R | W | N, 0x0060000040001e43ull },
	{ R | W | C | N, 0x0060000040001f47ull },
	{ R | W | M | N, 0x0060000040001e4bull },
	{ R | W | C | M | N, 0x0060000040001f4bull },
	{ R | W | P | N, 0x0060000040001e03ull },
	{ R | W | C | P | N, 0x0060000040001f07ull },
	{ R | W | M | P | N, 0x0060000040001e0bull },
	{ R | W | C | M | P | N, 0x0060000040001f0bull },
};

/*
 * Stage 2: type 0b11 | AF 0x400 = 0x403; S2AP read 0x40, write 0x80;
 * MemAttr device 0x04, else cacheable 0x3c, else NC 0x14; SH as stage 1;
 * no nG; n sets bits 53 and 54; p has no encoding.
 */
static const struct {
	unsigned prot;
	uint64_t pte;
} lpae_s2_page[] = {
	{ R, 0x0000000040001657ull },
	{ R | C, 0x000000004000177full },
	{ R | M, 0x0000000040001647ull },
	{ R | C | M, 0x0000000040001747ull },
	{ R | P, 0x0000000040001657ull },
	{ R | C | P, 0x000000004000177full },
	{ R | M | P, 0x0000000040001647ull },
	{ R | C | M | P, 0x0000000040001747ull },
	{ R | N, 0x0060000040001657ull },
	{ R | C | N, 0x006000004000177full },
	{ R | M | N, 0x0060000040001647ull },
	{ R | C | M | N, 0x0060000040001747ull },
	{ R | P | N, 0x0060000040001657ull },
	{ R | C | P | N, 0x006000004000177full },
	{ R | M | P | N, 0x0060000040001647ull },
	{ R | C | M | P | N, 0x0060000040001747ull },

	{ W, 0x0000000040001697ull },
	{ W | C, 0x00000000400017bfull },
	{ W | M, 0x0000000040001687ull },
	{ W | C | M, 0x0000000040001787ull },
	{ W | P, 0x0000000040001697ull },
	{ W | C | P, 0x00000000400017bfull },
	{ W | M | P, 0x0000000040001687ull },
	{ W | C | M | P, 0x0000000040001787ull },
	{ W | N, 0x0060000040001697ull },
	{ W | C | N, 0x00600000400017bfull },
	{ W | M | N, 0x0060000040001687ull },
	{ W | C | M | N, 0x0060000040001787ull },
	{ W | P | N, 0x0060000040001697ull },
	{ W | C | P | N, 0x00600000400017bfull },
	{ W | M | P | N, 0x0060000040001687ull },
	{ W | C | M | P | N, 0x0060000040001787ull },

	{ R | W, 0x00000000400016d7ull },
	{ R | W | C, 0x00000000400017ffull },
	{ R | W | M, 0x00000000400016c7ull },
	{ R | W | C | M, 0x00000000400017c7ull },
	{ R | W | P, 0x00000000400016d7ull },
	{ R | W | C | P, 0x00000000400017ffull },
	{ R | W | M | P, 0x00000000400016c7ull },
	{ R | W | C | M | P, 0x00000000400017c7ull },
	{ R | W | N, 0x00600000400016d7ull },
	{ R | W | C | N, 0x00600000400017ffull },
	{ R | W | M | N, 0x00600000400016c7ull },
	{ R | W | C | M | N, 0x00600000400017c7ull },
	{ R | W | P | N, 0x00600000400016d7ull },
	{ R | W | C | P | N, 0x00600000400017ffull },
	{ R | W | M | P | N, 0x00600000400016c7ull },
	{ R | W | C | M | P | N, 0x00600000400017c7ull },
};

#undef R
#undef W
#undef C
#undef N
#undef M
#undef P

#endif /* AP_TEST_LPAE_GOLDEN_H */
