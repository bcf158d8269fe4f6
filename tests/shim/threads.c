/* SPDX-License-Identifier: MIT */
/*
 * Two threads mapping at once: each maps and unmaps its own 4K pages in
 * disjoint IOVA windows of one container, many times; every call
 * succeeds with the size it asked for, and at the end the container holds
 * nothing.
 */
// shim-test: vtd.scn smmu.scn
#include <pthread.h>

#include "cr.h"

#define ROUNDS 300
#define PAGES 8

struct worker {
	struct cr *v;
	uint64_t base;
	uint8_t *buf;
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < PAGES; i++)
			if (cr_map(w->v, w->buf + i * PAGE, w->base + i * PAGE, PAGE))
				w->failures++;
		for (int i = 0; i < PAGES; i++) {
			uint64_t done = 0;

			if (cr_unmap(w->v, w->base + i * PAGE, PAGE, 0, &done) || done != PAGE)
				w->failures++;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct cr v;
	struct worker w[2];
	pthread_t t[2];
	uint64_t done;

	cr_open(&v, cr_bdf(argc, argv), VFIO_TYPE1v2_IOMMU);
	for (int i = 0; i < 2; i++) {
		w[i] = (struct worker){ &v, cr_iova(&v, PAGES * PAGE, (unsigned)i),
					cr_buffer(PAGES * PAGE), 0 };
		CHECK(!pthread_create(&t[i], NULL, work, &w[i]), "thread %d", i);
	}
	for (int i = 0; i < 2; i++) {
		CHECK(!pthread_join(t[i], NULL), "join");
		CHECK(!w[i].failures, "thread %d: %d failed calls", i, w[i].failures);
	}
	CHECK(!cr_unmap(&v, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &done) && done == 0,
	      "left 0x%llx mapped", (unsigned long long)done);
	printf("threads: 2 x %d x %d maps and unmaps\n", ROUNDS, PAGES);
	return 0;
}
