/* SPDX-License-Identifier: MIT */
/*
 * Test support shared by the page-table tests: size constants, EXPECT (from
 * expect.h), and a simulated physical memory for tables.
 *
 * The memory is an arena at a fake physical base, handing out naturally
 * aligned, zeroed blocks and counting every allocation, so that each test can
 * assert that ap_pt_free() gives everything back and that
 * ap_pt_table_bytes() tells the truth.  map() answers only for memory that
 * is currently allocated, so a walk that follows a stale or bogus
 * descriptor sees an unbacked address.  Include after <cmocka.h>.
 */
#ifndef AP_TEST_TMEM_H
#define AP_TEST_TMEM_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aperture/pgtable.h>

#include "expect.h"

#define SZ_4K 0x1000ull
#define SZ_8K 0x2000ull
#define SZ_16K 0x4000ull
#define SZ_64K 0x10000ull
#define SZ_2M 0x200000ull
#define SZ_4M 0x400000ull
#define SZ_32M 0x2000000ull
#define SZ_512M 0x20000000ull
#define SZ_1G 0x40000000ull
#define SZ_2G 0x80000000ull
#define SZ_4T (1ull << 42)

#define BM_4K (SZ_4K | SZ_2M | SZ_1G)
#define BM_16K (SZ_16K | SZ_32M)
#define BM_64K (SZ_64K | SZ_512M)

#define RW (AP_PROT_READ | AP_PROT_WRITE)

/* ================================================================ memory */

#define ARENA_BASE 0x40000000ull
#define ARENA_SIZE (32ull << 20)
#define UNIT_SHIFT 6 /* 64-byte allocation unit: the smallest LPAE PGD */
#define NUNITS (ARENA_SIZE >> UNIT_SHIFT)
#define MAX_CLASS 20 /* 1 MiB: larger than any concatenated PGD */
#define POISON 0xa5

struct tmem {
	uint8_t *arena;
	uint8_t *cls;     /* per unit: log2(size)+1 at the start of a live block */
	uint64_t bump;    /* offset of the first never-used byte */
	uint64_t freelist[MAX_CLASS + 1]; /* offset+1 of a free block, 0: none */
	uint64_t allocs, frees, bytes_out, peak_bytes;
	uint64_t handle_allocs, handle_frees;
	int fail_in;      /* >0: the fail_in-th table allocation from now fails */
	bool fail_handle; /* zalloc returns NULL */
	uint16_t *frame_counts; /* tmem_window()'s */
	struct ap_pt_mem mem;
};

static inline unsigned size_class(size_t size)
{
	unsigned c = UNIT_SHIFT;

	while ((1ull << c) < size)
		c++;
	return c;
}

static inline void *tmem_alloc(void *cookie, size_t size, uint64_t *pa)
{
	struct tmem *m = cookie;
	unsigned c = size_class(size);
	uint64_t bsz = 1ull << c, off;

	assert_true(size > 0);
	assert_true(size == bsz); /* LPAE asks for powers of two only */
	assert_true(c <= MAX_CLASS);
	if (m->fail_in > 0 && --m->fail_in == 0)
		return NULL;
	if (m->freelist[c]) {
		off = m->freelist[c] - 1;
		memcpy(&m->freelist[c], m->arena + off, sizeof(uint64_t));
	} else {
		off = (m->bump + bsz - 1) & ~(bsz - 1);
		if (off + bsz > ARENA_SIZE)
			return NULL;
		m->bump = off + bsz;
	}
	memset(m->arena + off, 0, bsz);
	m->cls[off >> UNIT_SHIFT] = (uint8_t)(c + 1);
	m->allocs++;
	m->bytes_out += bsz;
	if (m->bytes_out > m->peak_bytes)
		m->peak_bytes = m->bytes_out;
	*pa = ARENA_BASE + off;
	return m->arena + off;
}

static inline void tmem_free(void *cookie, void *table, uint64_t pa, size_t size)
{
	struct tmem *m = cookie;
	unsigned c = size_class(size);
	uint64_t off = pa - ARENA_BASE;

	EXPECT(pa >= ARENA_BASE && off < ARENA_SIZE, "free of pa %llx outside the arena",
	       (ull)pa);
	EXPECT((uint8_t *)table == m->arena + off, "free: pointer and pa %llx disagree",
	       (ull)pa);
	EXPECT(m->cls[off >> UNIT_SHIFT] == c + 1,
	       "free of pa %llx size %zu: not a live block of that size", (ull)pa, size);
	m->cls[off >> UNIT_SHIFT] = 0;
	memset(m->arena + off, POISON, 1ull << c);
	off++;
	memcpy(m->arena + off - 1, &m->freelist[c], sizeof(uint64_t));
	m->freelist[c] = off;
	m->frees++;
	m->bytes_out -= 1ull << c;
}

static inline void *tmem_map(void *cookie, uint64_t pa, size_t len)
{
	struct tmem *m = cookie;
	uint64_t off;
	unsigned c;

	if (pa < ARENA_BASE || pa - ARENA_BASE >= ARENA_SIZE || len == 0)
		return NULL;
	off = pa - ARENA_BASE;
	for (c = UNIT_SHIFT; c <= MAX_CLASS; c++) {
		uint64_t start = off & ~((1ull << c) - 1);

		if (m->cls[start >> UNIT_SHIFT] == c + 1)
			return off + len <= start + (1ull << c) ? m->arena + off : NULL;
	}
	return NULL;
}

static inline void *tmem_zalloc(void *cookie, size_t size)
{
	struct tmem *m = cookie;

	if (m->fail_handle)
		return NULL;
	m->handle_allocs++;
	return calloc(1, size);
}

static inline void tmem_release(void *cookie, void *p)
{
	struct tmem *m = cookie;

	m->handle_frees++;
	free(p);
}

static inline struct tmem *tmem_new(void)
{
	struct tmem *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	m->arena = calloc(1, ARENA_SIZE);
	m->cls = calloc(1, NUNITS);
	assert_non_null(m->arena);
	assert_non_null(m->cls);
	m->mem.cookie = m;
	m->mem.alloc = tmem_alloc;
	m->mem.free = tmem_free;
	m->mem.map = tmem_map;
	m->mem.zalloc = tmem_zalloc;
	m->mem.release = tmem_release;
	return m;
}

/* Everything handed out came back. */
static inline void tmem_assert_empty(const struct tmem *m)
{
	EXPECT(m->allocs == m->frees, "table memory leak: %llu allocs, %llu frees",
	       (ull)m->allocs, (ull)m->frees);
	assert_int_equal(m->bytes_out, 0);
	EXPECT(m->handle_allocs == m->handle_frees, "handle leak: %llu allocs, %llu frees",
	       (ull)m->handle_allocs, (ull)m->handle_frees);
}

/*
 * Offer the arena as a linear window with per-frame leaf counts, as the
 * core's pool does (pgtable.h): the table layer then follows descriptors by
 * a sum and takes whole tables by their count.  A count left wrong would
 * show in ap_pt_leaf_count() after the table goes.
 */
static inline void tmem_window(struct tmem *m)
{
	m->frame_counts = calloc(ARENA_SIZE >> 12, sizeof(uint16_t));
	assert_non_null(m->frame_counts);
	m->mem.window_host = m->arena;
	m->mem.window_pa = ARENA_BASE;
	m->mem.window_size = ARENA_SIZE;
	m->mem.frame_counts = m->frame_counts;
}

static inline void tmem_destroy(struct tmem *m)
{
	free(m->frame_counts);
	free(m->arena);
	free(m->cls);
	free(m);
}

/* A descriptor of a table in test memory, read by hand. */
static inline uint64_t rd_desc(struct tmem *m, uint64_t table_pa, unsigned idx)
{
	uint64_t *p = tmem_map(m, table_pa + 8ull * idx, 8);

	EXPECT(p != NULL, "descriptor at %llx[%u] is not in allocated memory",
	       (ull)table_pa, idx);
	return *p;
}

static inline void wr_desc(struct tmem *m, uint64_t table_pa, unsigned idx, uint64_t v)
{
	uint64_t *p = tmem_map(m, table_pa + 8ull * idx, 8);

	assert_non_null(p);
	*p = v;
}

/* Allocate a table in test memory, outside any ap_pt. */
static inline uint64_t hand_table(struct tmem *m, size_t size)
{
	uint64_t pa = 0;

	assert_non_null(tmem_alloc(m, size, &pa));
	return pa;
}

/* Give back a table allocated with hand_table(). */
static inline void hand_free(struct tmem *m, uint64_t pa, size_t size)
{
	tmem_free(m, tmem_map(m, pa, size), pa, size);
}

#endif /* AP_TEST_TMEM_H */
