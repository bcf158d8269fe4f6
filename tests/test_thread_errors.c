/* SPDX-License-Identifier: MIT */
/*
 * ap_ctx_error() belongs to the calling thread (core.h, "Errors"):
 *
 *  - several threads fail at once in one context, each in its own way
 *    (a map over its own live page: EEXIST naming the page; a DMA that
 *    wraps, of a length only that thread uses: EINVAL naming the length),
 *    and each must read back exactly its own explanation, never another
 *    thread's and never a mix; a thread that has not failed reads "";
 *  - one thread failing in nine contexts keeps the last eight explanations;
 *  - a context freed and a new one made (perhaps at the same address) does
 *    not inherit the old one's explanation.
 *
 * Run under ThreadSanitizer by `make check TSAN=1`.  Time-bounded:
 * AP_STRESS_MS (default 300) for the threaded phase.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <aperture/core.h>

#define SZ_4K 0x1000ull
#define WRITERS 4
#define RW (AP_PROT_READ | AP_PROT_WRITE)
#define RAM_PA 0x100000000ull

typedef unsigned long long ull;

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

struct shared {
	struct ap_ctx *ctx;
	struct ap_domain *dom;
	struct ap_device *dev;
	uint64_t end_ms;
};

struct writer {
	struct shared *s;
	unsigned id;
	uint64_t checks, wrong;
	char first_wrong[600];
};

static void judge(struct writer *w, const char *want)
{
	const char *got = ap_ctx_error(w->s->ctx);

	w->checks++;
	if (strcmp(got, want)) {
		if (!w->wrong)
			snprintf(w->first_wrong, sizeof(w->first_wrong), "thread %u wanted \"%s\", "
				 "read \"%s\"", w->id, want, got);
		w->wrong++;
	}
}

static void *writer(void *arg)
{
	struct writer *w = arg;
	struct shared *s = w->s;
	char want[200];
	uint8_t buf[64];

	judge(w, ""); /* nothing failed on this thread yet */
	for (unsigned i = 0; now_ms() < s->end_ms || i < 50; i++) {
		uint64_t iova = 0x40000000ull * (w->id + 1) + (i % 512) * SZ_4K;
		size_t len = 8 + w->id;

		if (ap_map(s->dom, iova, RAM_PA, SZ_4K, RW)) {
			snprintf(w->first_wrong, sizeof(w->first_wrong), "thread %u: map failed: %s",
				 w->id, ap_ctx_error(s->ctx));
			w->wrong++;
			break;
		}
		if (ap_map(s->dom, iova, RAM_PA, SZ_4K, RW) != -EEXIST)
			w->wrong++;
		snprintf(want, sizeof(want), "0x%llx-0x%llx overlaps a live mapping of 'd'",
			 (ull)iova, (ull)(iova + SZ_4K - 1));
		judge(w, want);
		/* data path: a DMA that wraps is refused, with this thread's length */
		if (ap_dma_read(s->dev, UINT64_MAX - 2, buf, len, NULL) != -EINVAL)
			w->wrong++;
		snprintf(want, sizeof(want), "DMA at 0x%llx + %zu wraps the address space",
			 (ull)(UINT64_MAX - 2), len);
		judge(w, want);
		if (ap_unmap(s->dom, iova, SZ_4K, NULL))
			w->wrong++;
		judge(w, want); /* a call that succeeds leaves it as it was */
	}
	return NULL;
}

static void test_writers_read_their_own(void **state)
{
	struct shared s;
	struct writer w[WRITERS];
	pthread_t t[WRITERS];
	struct ap_iommu_config c;
	struct ap_iommu *iommu;
	uint64_t checks = 0, wrong = 0;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.ctx = ap_ctx_new();
	assert_non_null(s.ctx);
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(ap_iommu_new(s.ctx, "smmu", &c, &iommu), 0);
	assert_int_equal(ap_domain_new(s.ctx, "d", iommu, AP_DOMAIN_PAGING, &s.dom), 0);
	assert_int_equal(ap_device_new(s.ctx, "dev", iommu, 1, AP_GROUP_OWN, &s.dev), 0);
	assert_int_equal(ap_attach(s.dom, s.dev), 0);
	assert_int_equal(ap_ram_alloc(s.ctx, RAM_PA, SZ_4K, NULL), 0);
	/* the main thread's own failure stays its own */
	assert_int_equal(ap_domain_new(s.ctx, "d", iommu, AP_DOMAIN_PAGING, NULL), -EEXIST);
	s.end_ms = now_ms() + stress_ms();
	for (unsigned i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){ .s = &s, .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, writer, &w[i]), 0);
	}
	for (unsigned i = 0; i < WRITERS; i++) {
		pthread_join(t[i], NULL);
		checks += w[i].checks;
		wrong += w[i].wrong;
		if (w[i].wrong)
			print_error("%s\n", w[i].first_wrong);
	}
	print_message("  %d threads, %llu explanations checked\n", WRITERS, (ull)checks);
	assert_int_equal(wrong, 0);
	assert_true(checks >= WRITERS * 150);
	assert_string_equal(ap_ctx_error(s.ctx), "a domain called 'd' exists");
	ap_ctx_free(s.ctx);
}

/* Nine contexts, one thread: the last eight keep their explanations. */
static void test_eight_contexts_kept(void **state)
{
	struct ap_ctx *ctx[9];
	char want[64];

	(void)state;
	for (int i = 0; i < 9; i++) {
		ctx[i] = ap_ctx_new();
		assert_non_null(ctx[i]);
		assert_string_equal(ap_ctx_error(ctx[i]), "");
		ap_ctx_set_error(ctx[i], "context %d failed", i);
	}
	assert_string_equal(ap_ctx_error(ctx[0]), "");
	for (int i = 1; i < 9; i++) {
		snprintf(want, sizeof(want), "context %d failed", i);
		assert_string_equal(ap_ctx_error(ctx[i]), want);
	}
	/* writing one again makes it the newest: the oldest goes next */
	ap_ctx_set_error(ctx[1], "context 1 again");
	ap_ctx_set_error(ctx[0], "context 0 again");
	assert_string_equal(ap_ctx_error(ctx[0]), "context 0 again");
	assert_string_equal(ap_ctx_error(ctx[1]), "context 1 again");
	assert_string_equal(ap_ctx_error(ctx[2]), "");
	for (int i = 0; i < 9; i++)
		ap_ctx_free(ctx[i]);
	assert_string_equal(ap_ctx_error(NULL), "no context");
}

/* A new context, even at a freed one's address, starts with "". */
static void test_new_context_starts_clean(void **state)
{
	(void)state;
	for (int i = 0; i < 16; i++) {
		struct ap_ctx *ctx = ap_ctx_new();

		assert_non_null(ctx);
		assert_string_equal(ap_ctx_error(ctx), "");
		assert_int_equal(ap_ram_remove(ctx, 0x1000), -ENOENT);
		assert_string_equal(ap_ctx_error(ctx), "no RAM region starts at 0x1000");
		ap_ctx_free(ctx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writers_read_their_own),
		cmocka_unit_test(test_eight_contexts_kept),
		cmocka_unit_test(test_new_context_starts_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
