/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_input.h - turning the fuzzer's bytes into choices.
 *
 * Every harness reads its input as a stream of small decisions: a byte, a
 * 64-bit number, one entry of a table.  Past the end of the input every
 * read returns zero, so that a short input is still a complete (if dull)
 * program and libFuzzer's mutations stay local: changing one byte changes
 * one decision.
 */
#ifndef AP_FUZZ_INPUT_H
#define AP_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct fin {
	const uint8_t *p;
	size_t n;
};

static inline int fin_more(const struct fin *in)
{
	return in->n > 0;
}

static inline uint8_t fin_u8(struct fin *in)
{
	uint8_t v;

	if (!in->n)
		return 0;
	v = *in->p++;
	in->n--;
	return v;
}

static inline uint16_t fin_u16(struct fin *in)
{
	return (uint16_t)(fin_u8(in) | (uint16_t)fin_u8(in) << 8);
}

static inline uint32_t fin_u32(struct fin *in)
{
	return (uint32_t)fin_u16(in) | (uint32_t)fin_u16(in) << 16;
}

static inline uint64_t fin_u64(struct fin *in)
{
	return (uint64_t)fin_u32(in) | (uint64_t)fin_u32(in) << 32;
}

/* A number below n (n > 0); one byte when n fits in one. */
static inline unsigned fin_below(struct fin *in, unsigned n)
{
	return n <= 256 ? fin_u8(in) % n : fin_u16(in) % n;
}

/* One entry of a table. */
#define FIN_PICK(in, table) ((table)[fin_below((in), sizeof(table) / sizeof((table)[0]))])

#endif /* AP_FUZZ_INPUT_H */
