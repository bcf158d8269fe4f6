/* SPDX-License-Identifier: MIT */
/*
 * examples/threads.c - a device model on its own thread doing DMA while the
 * main thread maps and unmaps, as in a VMM whose device threads run beside
 * the vIOMMU's mapping requests.  The data path (ap_dma_read/write,
 * ap_translate) may run on any number of threads beside ap_map and
 * ap_unmap; unmap is strict, so once it returns no DMA can use the old
 * mapping.  The device thread sees each page either mapped (the DMA lands)
 * or not (it faults): never a half-done state.
 *
 * Build it against an installed aperture and run it:
 *   cc threads.c $(pkg-config --cflags --libs aperture) -o threads && ./threads
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aperture/aperture.h>

#define RAM_PA 0x80000000ull
#define IOVA 0x200000ull
#define ROUNDS 200

struct device_model {
	struct ap_device *dev;
	atomic_bool stop;
	atomic_ulong landed, faulted, wrong;
};

/* Let the device run until it has seen the state we just made. */
static void wait_for(atomic_ulong *counter, unsigned long past)
{
	while (atomic_load(counter) == past)
		sched_yield();
}

/* The device: reads a word at IOVA again and again. */
static void *device_thread(void *arg)
{
	struct device_model *m = arg;
	uint64_t word;

	while (!atomic_load(&m->stop)) {
		int err = ap_dma_read(m->dev, IOVA, &word, sizeof(word), NULL);

		if (err == -EFAULT)
			atomic_fetch_add(&m->faulted, 1);
		else if (err || word != 0x1122334455667788ull)
			atomic_fetch_add(&m->wrong, 1);
		else
			atomic_fetch_add(&m->landed, 1);
	}
	return NULL;
}

int main(void)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config cfg;
	struct ap_iommu *smmu;
	struct ap_domain *dom;
	struct device_model m = { .stop = false };
	uint64_t *ram, unmapped;
	pthread_t t;

	if (!ctx)
		return 1;
	ap_iommu_config_init(&cfg, AP_IOMMU_ARM_SMMU_V3);
	if (ap_ram_alloc(ctx, RAM_PA, 1 << 20, (void **)&ram) ||
	    ap_iommu_new(ctx, "smmu", &cfg, &smmu) ||
	    ap_device_new(ctx, "dev", smmu, 1, AP_GROUP_OWN, &m.dev) ||
	    ap_domain_new(ctx, "dom", smmu, AP_DOMAIN_PAGING, &dom) || ap_attach(dom, m.dev)) {
		fprintf(stderr, "threads: %s\n", ap_ctx_error(ctx));
		return 1;
	}
	ram[0] = 0x1122334455667788ull; /* what the device should read */
	if (pthread_create(&t, NULL, device_thread, &m))
		return 1;
	/* the mapping thread: map, let the device land a read, unmap, let it
	 * fault; again.  The device never stops in between. */
	for (int i = 0; i < ROUNDS; i++) {
		unsigned long landed = atomic_load(&m.landed), faulted;

		if (ap_map(dom, IOVA, RAM_PA, 4096, AP_PROT_READ)) {
			fprintf(stderr, "threads: map: %s\n", ap_ctx_error(ctx));
			return 1;
		}
		wait_for(&m.landed, landed);
		faulted = atomic_load(&m.faulted);
		if (ap_unmap(dom, IOVA, 4096, &unmapped) || unmapped != 4096) {
			fprintf(stderr, "threads: unmap: %s\n", ap_ctx_error(ctx));
			return 1;
		}
		wait_for(&m.faulted, faulted);
	}
	atomic_store(&m.stop, true);
	pthread_join(t, NULL);
	printf("device DMA: %lu landed, %lu faulted, %lu wrong\n", atomic_load(&m.landed),
	       atomic_load(&m.faulted), atomic_load(&m.wrong));
	/* after the last unmap returned, the same DMA faults */
	uint64_t word;
	if (atomic_load(&m.wrong) || ap_dma_read(m.dev, IOVA, &word, sizeof(word), NULL) != -EFAULT) {
		fprintf(stderr, "threads: a DMA read something it should not have\n");
		return 1;
	}
	ap_ctx_free(ctx);
	return 0;
}
