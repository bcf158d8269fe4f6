/* SPDX-License-Identifier: MIT */
/*
 * The core's RAM index (a tree read without a lock, physmem.c) while a
 * writer churns it: 256 regions stay registered the whole time, and
 * between them a writer adds and removes thousands of others in random
 * order, one at a time and in batches (ap_ram_remove_many), so that every
 * kind of rotation happens around the stable ones.  Readers look up
 * addresses inside stable regions (always found, with their owner), in
 * holes nothing ever occupies (never found), and in churned slots (found
 * only with the churned region's own bounds and owner), and DMA through a
 * mapping of a stable region.  Run under ThreadSanitizer by `make check
 * TSAN=1`.
 *
 * Time-bounded with a fixed seed: AP_STRESS_MS (default 300).  The writer
 * also keeps going until the readers have made real progress, since a
 * scheduler that serialises threads (valgrind) may not run them at all
 * inside the time bound; past a hard bound of 60 s the test fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <aperture/core.h>

#define SZ_4K 0x1000ull
#define SLOT 0x10000ull          /* one slot per 64 KiB of PA */
#define BASE 0x100000000ull
#define NSLOTS 4096u             /* every 16th stable, the rest churned */
#define READERS 2
#define BATCH 32

typedef unsigned long long ull;

static const char stable_kind[] = "stable", churn_kind[] = "churn";

static uint64_t stress_ms(void)
{
	const char *e = getenv("AP_STRESS_MS");
	long v = e ? strtol(e, NULL, 10) : 0;

	return v > 0 ? (uint64_t)v : 300;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static bool is_stable(unsigned slot)
{
	return slot % 16 == 0;
}

/* A slot's region: its start, 4K-aligned inside the slot, and size. */
static uint64_t slot_pa(unsigned slot)
{
	return BASE + slot * SLOT + (slot % 7) * SZ_4K;
}

static uint64_t slot_size(unsigned slot)
{
	return SZ_4K * (1 + slot % 3);
}

struct race {
	struct ap_ctx *ctx;
	struct ap_device *dev;
	uint8_t *host;   /* backing for every region (never touched but by DMA) */
	int stop;        /* atomic */
	int bad;         /* atomic */
	uint64_t progress; /* atomic: lookups done by all readers so far */
};

struct reader {
	struct race *r;
	uint64_t rng, lookups, found_churn;
};

static void report(struct race *r, int code, uint64_t pa)
{
	if (!__atomic_load_n(&r->bad, __ATOMIC_RELAXED))
		fprintf(stderr, "RAM race: check %d failed at PA 0x%llx\n", code, (ull)pa);
	__atomic_store_n(&r->bad, code, __ATOMIC_RELAXED);
}

static void check_one(struct reader *rd)
{
	struct race *r = rd->r;
	uint64_t *rng = &rd->rng;
	unsigned slot = (unsigned)(next_rand(rng) % NSLOTS);
	uint64_t pa = slot_pa(slot), size = slot_size(slot);
	struct ap_ram_info ri;
	uint64_t probe;
	int err;

	switch (next_rand(rng) % 3) {
	case 0: /* inside the slot's region */
		probe = pa + next_rand(rng) % size;
		err = ap_ram_lookup(r->ctx, probe, &ri);
		if (is_stable(slot)) {
			if (err || ri.pa != pa || ri.size != size || ri.owner_kind != stable_kind ||
			    ri.owner != (void *)(uintptr_t)slot)
				report(r, 1, probe);
		} else if (!err) {
			rd->found_churn++;
			if (ri.pa != pa || ri.size != size || ri.owner_kind != churn_kind ||
			    ri.owner != (void *)(uintptr_t)slot)
				report(r, 2, probe);
		} else if (err != -ENOENT) {
			report(r, 3, probe);
		}
		break;
	case 1: /* the hole after it: nothing is ever there */
		probe = pa + size + next_rand(rng) % (SLOT - size - (slot % 7) * SZ_4K);
		if (ap_ram_lookup(r->ctx, probe, &ri) != -ENOENT)
			report(r, 4, probe);
		break;
	default: /* DMA through the mapping of the first stable region */
		{
			uint8_t b[16];
			struct ap_fault f;

			if (ap_dma_read(r->dev, 0x10000 + next_rand(rng) % (SZ_4K - 16), b,
					sizeof(b), &f))
				report(r, 5, 0);
		}
		break;
	}
	rd->lookups++;
}

static void *reader(void *arg)
{
	struct reader *rd = arg;

	while (!__atomic_load_n(&rd->r->stop, __ATOMIC_ACQUIRE)) {
		for (int i = 0; i < 256; i++)
			check_one(rd);
		__atomic_fetch_add(&rd->r->progress, 256, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int add_slot(struct race *r, unsigned slot, const char *kind)
{
	return ap_ram_add_owned(r->ctx, slot_pa(slot), slot_size(slot), r->host, kind,
				(void *)(uintptr_t)slot);
}

static void test_ram_tree_beside_readers(void **state)
{
	struct race r;
	struct reader rd[READERS];
	pthread_t t[READERS];
	struct ap_iommu_config c;
	struct ap_iommu *iommu;
	struct ap_domain *d;
	bool *there = calloc(NSLOTS, sizeof(*there));
	uint64_t rng = 0x5eedull, end, hard_end, changes = 0, batches = 0, lookups = 0,
		 churn = 0;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.ctx = ap_ctx_new();
	r.host = calloc(1, 3 * SZ_4K);
	assert_true(r.ctx && r.host && there);
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(ap_iommu_new(r.ctx, "smmu", &c, &iommu), 0);
	assert_int_equal(ap_domain_new(r.ctx, "d", iommu, AP_DOMAIN_PAGING, &d), 0);
	assert_int_equal(ap_device_new(r.ctx, "dev", iommu, 1, AP_GROUP_OWN, &r.dev), 0);
	assert_int_equal(ap_attach(d, r.dev), 0);
	for (unsigned s = 0; s < NSLOTS; s += 16)
		assert_int_equal(add_slot(&r, s, stable_kind), 0);
	assert_int_equal(ap_map(d, 0x10000, slot_pa(0), SZ_4K, AP_PROT_READ | AP_PROT_WRITE), 0);
	for (int i = 0; i < READERS; i++) {
		rd[i] = (struct reader){ &r, 0x1234567ull * (uint64_t)(i + 1), 0, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, reader, &rd[i]), 0);
	}
	end = now_ms() + stress_ms();
	hard_end = end + 60000;
	while ((now_ms() < end || changes < 2000 ||
		__atomic_load_n(&r.progress, __ATOMIC_RELAXED) < 4096) && now_ms() < hard_end) {
		unsigned slot = (unsigned)(next_rand(&rng) % NSLOTS);

		if (is_stable(slot))
			continue;
		if (!there[slot]) {
			assert_int_equal(add_slot(&r, slot, churn_kind), 0);
			there[slot] = true;
		} else if (next_rand(&rng) % 4) {
			assert_int_equal(ap_ram_remove(r.ctx, slot_pa(slot)), 0);
			there[slot] = false;
		} else { /* a batch of present churned slots from here on */
			uint64_t pa[BATCH];
			size_t n = 0;

			for (unsigned s = slot; s < NSLOTS && n < BATCH; s++)
				if (there[s]) {
					pa[n++] = slot_pa(s);
					there[s] = false;
				}
			assert_int_equal(ap_ram_remove_many(r.ctx, pa, n), 0);
			batches++;
		}
		if (++changes % 64 == 0)
			sched_yield();
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < READERS; i++) {
		pthread_join(t[i], NULL);
		lookups += rd[i].lookups;
		churn += rd[i].found_churn;
	}
	print_message("  %llu RAM changes (%llu batch removals), %llu lookups, %llu of them "
		      "found a churned region\n", (ull)changes, (ull)batches, (ull)lookups,
		      (ull)churn);
	assert_int_equal(__atomic_load_n(&r.bad, __ATOMIC_RELAXED), 0);
	assert_true(lookups > 1000 && churn > 0);
	ap_ctx_free(r.ctx);
	free(r.host);
	free(there);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ram_tree_beside_readers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
