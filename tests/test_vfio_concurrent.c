/* SPDX-License-Identifier: MIT */
/*
 * The VFIO layer called from many threads at once, as QEMU and
 * multi-threaded drivers call it (vfio_internal.h says which lock guards
 * what), under ThreadSanitizer by `make check TSAN=1`:
 *
 *  - two threads map and unmap disjoint IOVA windows of one container,
 *    each against its own model (exact sizes back, EEXIST never, and its
 *    own device DMA landing in its own buffer while its mapping lives);
 *  - a thread asks GET_INFO and CHECK_EXTENSION and collects dirty pages
 *    (GET_BITMAP) of a window that a device thread writes: every page
 *    written before a collection began is reported by then, and no page is
 *    reported that was never written;
 *  - two device threads DMA into the mappers' windows (landing or faulting,
 *    never anything else) and into the dirty window (always landing);
 *  - a thread churns handles: containers opened, probed and closed, and a
 *    second group taken through SET_CONTAINER, SET_IOMMU, a map, a DMA, an
 *    unmap and UNSET_CONTAINER, while a prober calls ioctls on whatever
 *    handle numbers exist (EBADF or an answer, never a crash).
 *
 * Time-bounded with fixed seeds: AP_STRESS_MS (default 300).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "vfio_util.h"

#define WIN_PAGES 256u
#define MAPPERS 2
#define DMA_THREADS 2
#define WIN_BASE(k) (0x100000000ull + (uint64_t)(k) * 0x10000000ull)
#define DIRTY_BASE 0x200000000ull
#define DIRTY_PAGES 64u

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

struct world {
	struct ap_ctx *ctx;
	struct ap_device *dev0, *dev1, *other;
	int c, g;
	uint8_t *buf[MAPPERS];     /* each mapper's memory, WIN_PAGES pages */
	uint8_t *dirty_buf;        /* DIRTY_PAGES pages, mapped the whole time */
	uint64_t end_ms;
	int stop;                  /* atomic: the timed threads are done */
	int bad;                   /* atomic: the first failure's code */
	char why[256];             /* written by the first failure only */
	/* dirty pages: ever[] before the DMA, pending[] after it */
	uint8_t ever[DIRTY_PAGES], pending[DIRTY_PAGES];
	uint64_t maps, unmaps, dmas, infos, bitmaps, churns, probes;
	/* atomic: progress while running */
	uint64_t lives, live_maps, live_bitmaps, live_probes;
};

#define ENOUGH_CAP_MS 240000 /* past the time, waiting for enough calls */

static bool enough(struct world *w)
{
	return __atomic_load_n(&w->lives, __ATOMIC_ACQUIRE) >= 2 &&
	       __atomic_load_n(&w->live_maps, __ATOMIC_ACQUIRE) > 40 &&
	       __atomic_load_n(&w->live_bitmaps, __ATOMIC_ACQUIRE) > 5 &&
	       __atomic_load_n(&w->live_probes, __ATOMIC_ACQUIRE) > 0;
}

static void fail_at(struct world *w, int code, const char *what, int e)
{
	int none = 0;

	if (__atomic_compare_exchange_n(&w->bad, &none, code, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		snprintf(w->why, sizeof(w->why), "%s: %s (%s)", what, ename(e),
			 ap_ctx_error(w->ctx));
}

static bool running(struct world *w)
{
	return !__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&w->bad, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------ mappers */

struct mapper {
	struct world *w;
	unsigned k;
	uint64_t rng;
	int8_t owner_start[WIN_PAGES]; /* 1 where a mapping starts */
	uint8_t len[WIN_PAGES];        /* its pages, at its start */
	int8_t used[WIN_PAGES];
};

static void *mapper(void *arg)
{
	struct mapper *m = arg;
	struct world *w = m->w;
	uint64_t n = 0, u = 0;

	while (running(w)) {
		uint32_t p = (uint32_t)(next_rand(&m->rng) % WIN_PAGES);
		uint32_t len = 1 + (uint32_t)(next_rand(&m->rng) % 4);
		bool free_run = p + len <= WIN_PAGES;

		for (uint32_t i = 0; free_run && i < len; i++)
			free_run = !m->used[p + i];
		if (free_run) {
			uint64_t iova = WIN_BASE(m->k) + (uint64_t)p * PG, v = next_rand(&m->rng);
			int e = map_dma(w->ctx, w->c, w->buf[m->k] + (uint64_t)p * PG, iova,
					(uint64_t)len * PG, RW);

			if (e) {
				fail_at(w, 1, "MAP_DMA in a free range", e);
				break;
			}
			__atomic_add_fetch(&w->live_maps, 1, __ATOMIC_RELEASE);
			for (uint32_t i = 0; i < len; i++)
				m->used[p + i] = 1;
			m->owner_start[p] = 1;
			m->len[p] = (uint8_t)len;
			/* the mapping is ours: our device's write lands in our buffer */
			if (ap_dma_write(w->dev0, iova + 8, &v, sizeof(v), NULL) ||
			    memcmp(w->buf[m->k] + (uint64_t)p * PG + 8, &v, sizeof(v))) {
				fail_at(w, 2, "DMA through a live mapping", 0);
				break;
			}
			n++;
		} else if (m->owner_start[p]) {
			uint64_t got = 0;
			int e = unmap_dma(w->ctx, w->c, WIN_BASE(m->k) + (uint64_t)p * PG,
					  (uint64_t)m->len[p] * PG, 0, &got);

			if (e || got != (uint64_t)m->len[p] * PG) {
				fail_at(w, 3, "UNMAP_DMA of a mapping", e);
				break;
			}
			for (uint32_t i = 0; i < m->len[p]; i++)
				m->used[p + i] = 0;
			m->owner_start[p] = 0;
			u++;
		}
		if (next_rand(&m->rng) % 512 == 0) { /* all of the window at once */
			uint64_t got = 0, want = 0;
			int e;

			for (uint32_t i = 0; i < WIN_PAGES; i++)
				want += m->owner_start[i] ? (uint64_t)m->len[i] * PG : 0;
			e = unmap_dma(w->ctx, w->c, WIN_BASE(m->k), WIN_PAGES * PG, 0, &got);
			if (e || got != want) {
				fail_at(w, 4, "UNMAP_DMA of the whole window", e);
				break;
			}
			memset(m->used, 0, sizeof(m->used));
			memset(m->owner_start, 0, sizeof(m->owner_start));
			u++;
		}
	}
	__atomic_add_fetch(&w->maps, n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&w->unmaps, u, __ATOMIC_RELAXED);
	return NULL;
}

/* ------------------------------------------------------------ devices */

struct dma_thread {
	struct world *w;
	struct ap_device *dev;
	uint64_t rng;
	unsigned k;
};

static void *dma_thread(void *arg)
{
	struct dma_thread *d = arg;
	struct world *w = d->w;
	uint64_t n = 0;

	while (running(w)) {
		uint64_t r = next_rand(&d->rng), v = r;
		unsigned k = (unsigned)(r % MAPPERS);
		/* the upper half of a page: the mapper writes the lower */
		uint64_t iova = WIN_BASE(k) + ((r >> 8) % WIN_PAGES) * PG + PG / 2 +
				(r >> 24) % (PG / 2 - 8);
		struct ap_fault f;
		int e;

		/* read from a mapper's window: lands or faults, as the race goes */
		e = ap_dma_read(d->dev, iova, &v, sizeof(v), &f);
		if (e && (e != -EFAULT || f.kind != AP_FAULT_TRANSLATION)) {
			char what[96];

			snprintf(what, sizeof(what), "DMA read at 0x%llx of a mapper's window (fault %s)",
				 (ull)iova, e == -EFAULT ? ap_fault_kind_name(f.kind) : "none");
			fail_at(w, 5, what, -e);
			break;
		}
		/* into the dirty window: always mapped */
		{
			unsigned p = (unsigned)((r >> 20) % DIRTY_PAGES);

			__atomic_store_n(&w->ever[p], 1, __ATOMIC_RELEASE);
			if (ap_dma_write(d->dev, DIRTY_BASE + (uint64_t)p * PG + 16 + 8 * d->k, &v,
					 sizeof(v), NULL)) {
				fail_at(w, 6, "DMA into the dirty window", 0);
				break;
			}
			__atomic_store_n(&w->pending[p], 1, __ATOMIC_RELEASE);
		}
		if (++n % 64 == 0) { /* a device pauses now and then */
			struct timespec ts = { 0, 20 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	__atomic_add_fetch(&w->dmas, n, __ATOMIC_RELAXED);
	return NULL;
}

/* ------------------------------------------------------------ info and dirty */

static int get_dirty(struct world *w, uint64_t *bits)
{
	uint8_t req[sizeof(struct vfio_iommu_type1_dirty_bitmap) +
		    sizeof(struct vfio_iommu_type1_dirty_bitmap_get)];
	struct vfio_iommu_type1_dirty_bitmap *d = (void *)req;
	struct vfio_iommu_type1_dirty_bitmap_get range = {
		.iova = DIRTY_BASE, .size = DIRTY_PAGES * PG,
		.bitmap = { .pgsize = PG, .size = 8, .data = (__u64 *)bits },
	};

	*bits = 0;
	d->argsz = sizeof(req);
	d->flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	memcpy(d->data, &range, sizeof(range));
	return verr(w->ctx, w->c, VFIO_IOMMU_DIRTY_PAGES, d);
}

static void *info_thread(void *arg)
{
	struct world *w = arg;
	uint64_t reported = 0, infos = 0, bitmaps = 0;

	while (running(w)) {
		struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
		uint64_t want = 0, bits, ever = 0;
		int e;

		e = verr(w->ctx, w->c, VFIO_IOMMU_GET_INFO, &info);
		if (e || !(info.flags & VFIO_IOMMU_INFO_PGSIZES) || !(info.iova_pgsizes & PG)) {
			fail_at(w, 7, "GET_INFO", e);
			break;
		}
		if (ap_vfio_ioctl(w->ctx, w->c, VFIO_CHECK_EXTENSION,
				  (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU) != 1) {
			fail_at(w, 8, "CHECK_EXTENSION", errno);
			break;
		}
		infos++;
		for (unsigned p = 0; p < DIRTY_PAGES; p++)
			if (__atomic_exchange_n(&w->pending[p], 0, __ATOMIC_ACQ_REL))
				want |= 1ull << p;
		e = get_dirty(w, &bits);
		for (unsigned p = 0; p < DIRTY_PAGES; p++)
			if (__atomic_load_n(&w->ever[p], __ATOMIC_ACQUIRE))
				ever |= 1ull << p;
		reported |= bits;
		if (e || (want & ~reported) || (bits & ~ever)) {
			fail_at(w, 9, "GET_BITMAP: a written page missing, or one never written", e);
			break;
		}
		__atomic_add_fetch(&w->live_bitmaps, 1, __ATOMIC_RELEASE);
		bitmaps++;
	}
	__atomic_add_fetch(&w->infos, infos, __ATOMIC_RELAXED);
	__atomic_add_fetch(&w->bitmaps, bitmaps, __ATOMIC_RELAXED);
	return NULL;
}

/* ------------------------------------------------------------ handles */

/* Another group's whole life in a container of its own, and a container
 * opened and closed; each step must succeed. */
static void *churn_thread(void *arg)
{
	struct world *w = arg;
	uint64_t n = 0;
	static uint8_t page[PG] __attribute__((aligned(4096)));

	while (running(w)) {
		int c = ap_vfio_open(w->ctx, "/dev/vfio/vfio"), c2, g, e;
		uint64_t got = 0, v = n;

		if (c < 0 || ap_vfio_ioctl(w->ctx, c, VFIO_GET_API_VERSION, NULL) != VFIO_API_VERSION ||
		    ap_vfio_close(w->ctx, c)) {
			fail_at(w, 10, "open, probe and close a container", errno);
			break;
		}
		c2 = ap_vfio_open(w->ctx, "/dev/vfio/vfio");
		/* the group is open until the last call using its old handle
		 * (the prober's) returns, as a file is on Linux: EBUSY then */
		while ((g = ap_vfio_open(w->ctx, "/dev/vfio/9")) < 0 && errno == EBUSY)
			sched_yield();
		if (c2 < 0 || g < 0) {
			fail_at(w, 11, "open the second container and group", errno);
			break;
		}
		e = set_container(w->ctx, g, c2);
		if (!e)
			e = set_iommu(w->ctx, c2, VFIO_TYPE1v2_IOMMU);
		if (!e)
			e = map_dma(w->ctx, c2, page, 0x40000000, PG, RW);
		if (!e && (ap_dma_write(w->other, 0x40000010, &v, sizeof(v), NULL) ||
			   memcmp(page + 0x10, &v, sizeof(v))))
			e = EIO;
		if (!e)
			e = unmap_dma(w->ctx, c2, 0x40000000, PG, 0, &got);
		if (!e)
			e = verr(w->ctx, g, VFIO_GROUP_UNSET_CONTAINER, NULL);
		if (e || got != PG || ap_vfio_close(w->ctx, g) || ap_vfio_close(w->ctx, c2)) {
			fail_at(w, 12, "the second group's life", e);
			break;
		}
		__atomic_add_fetch(&w->lives, 1, __ATOMIC_RELEASE);
		n++;
	}
	__atomic_add_fetch(&w->churns, n, __ATOMIC_RELAXED);
	return NULL;
}

/* Requests on whatever handle numbers exist at the moment. */
static void *prober(void *arg)
{
	struct world *w = arg;
	uint64_t n = 0, rng = 99;

	while (running(w)) {
		int fd = (int)(next_rand(&rng) % 8);
		struct vfio_group_status st = { .argsz = sizeof(st) };
		int r = ap_vfio_ioctl(w->ctx, fd, VFIO_GROUP_GET_STATUS, &st);

		/* a group answers; a container ENOTTY, or EINVAL without an IOMMU */
		if (r && errno != EBADF && errno != ENOTTY && errno != EINVAL) {
			fail_at(w, 13, "GET_STATUS on a handle number", errno);
			break;
		}
		r = ap_vfio_ioctl(w->ctx, fd, VFIO_CHECK_EXTENSION,
				  (void *)(uintptr_t)VFIO_TYPE1_IOMMU);
		if (r < 0 && errno != EBADF && errno != ENOTTY) {
			fail_at(w, 14, "CHECK_EXTENSION on a handle number", errno);
			break;
		}
		__atomic_add_fetch(&w->live_probes, 1, __ATOMIC_RELEASE);
		n++;
	}
	__atomic_add_fetch(&w->probes, n, __ATOMIC_RELAXED);
	return NULL;
}

/* ------------------------------------------------------------ the run */

static void test_threads_on_one_context(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct mapper m[MAPPERS];
	struct dma_thread d[DMA_THREADS];
	pthread_t tm[MAPPERS], td[DMA_THREADS], ti, tc, tp;
	struct ap_iommu *smmu, *smmu2;
	uint64_t got;

	(void)state;
	assert_non_null(w);
	w->ctx = mk_ctx();
	ap_vfio_set_memlock_limit(w->ctx, UINT64_MAX);
	smmu = mk_smmu(w->ctx, "smmu0", 48);
	smmu2 = mk_smmu(w->ctx, "smmu1", 48);
	w->dev0 = mk_dev(w->ctx, "nic0", smmu, 0x10, 5);
	w->dev1 = mk_dev(w->ctx, "nic1", smmu, 0x11, 5);
	w->other = mk_dev(w->ctx, "gpu", smmu2, 0x20, 9);
	w->c = open_type1v2(w->ctx, w->dev0, &w->g);
	for (int k = 0; k < MAPPERS; k++)
		w->buf[k] = buf_alloc(WIN_PAGES * PG);
	w->dirty_buf = buf_alloc(DIRTY_PAGES * PG);
	assert_int_equal(map_dma(w->ctx, w->c, w->dirty_buf, DIRTY_BASE, DIRTY_PAGES * PG, RW), 0);
	assert_int_equal(dirty_flags(w->ctx, w->c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START), 0);

	for (int k = 0; k < MAPPERS; k++) {
		memset(&m[k], 0, sizeof(m[k]));
		m[k].w = w;
		m[k].k = (unsigned)k;
		m[k].rng = 0x1000 + (uint64_t)k;
		assert_int_equal(pthread_create(&tm[k], NULL, mapper, &m[k]), 0);
	}
	for (int k = 0; k < DMA_THREADS; k++) {
		d[k] = (struct dma_thread){ w, k ? w->dev1 : w->dev0, 0x2000 + (uint64_t)k,
					    (unsigned)k };
		assert_int_equal(pthread_create(&td[k], NULL, dma_thread, &d[k]), 0);
	}
	assert_int_equal(pthread_create(&ti, NULL, info_thread, w), 0);
	assert_int_equal(pthread_create(&tc, NULL, churn_thread, w), 0);
	assert_int_equal(pthread_create(&tp, NULL, prober, w), 0);
	/* the time, and enough of each kind of call: unmaps and attaches wait
	 * for grace periods, which readers preempted on a busy machine stretch
	 * (liburcu sleeps 10 ms when one does not end at once) */
	/* (the bound on "enough" is progress, not time: under valgrind, which
	 * runs one thread at a time, 40 maps can take tens of seconds; the cap
	 * only keeps a hung run from hanging CI) */
	w->end_ms = now_ms() + stress_ms();
	while ((now_ms() < w->end_ms || (!enough(w) && now_ms() < w->end_ms + ENOUGH_CAP_MS)) &&
	       !__atomic_load_n(&w->bad, __ATOMIC_RELAXED)) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	for (int k = 0; k < MAPPERS; k++)
		pthread_join(tm[k], NULL);
	for (int k = 0; k < DMA_THREADS; k++)
		pthread_join(td[k], NULL);
	pthread_join(ti, NULL);
	pthread_join(tc, NULL);
	pthread_join(tp, NULL);

	if (w->bad)
		print_error("failure %d: %s\n", w->bad, w->why);
	assert_int_equal(w->bad, 0);
	print_message("  %llu maps, %llu unmaps, %llu DMAs, %llu GET_INFOs, %llu dirty bitmaps, "
		      "%llu group lives, %llu probes\n", (ull)w->maps, (ull)w->unmaps,
		      (ull)w->dmas, (ull)w->infos, (ull)w->bitmaps, (ull)w->churns,
		      (ull)w->probes);
	assert_true(w->maps > 40 && w->dmas > 20 && w->bitmaps > 5 && w->churns >= 2 &&
		    w->probes > 0);
	assert_int_equal(unmap_dma(w->ctx, w->c, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &got), 0);
	assert_int_equal(ap_vfio_close(w->ctx, w->g), 0);
	assert_int_equal(ap_vfio_close(w->ctx, w->c), 0);
	ap_ctx_free(w->ctx);
	for (int k = 0; k < MAPPERS; k++)
		munmap(w->buf[k], WIN_PAGES * PG);
	munmap(w->dirty_buf, DIRTY_PAGES * PG);
	free(w);
}

/* A handle closed while another thread's call is using it: the call
 * finishes on the object, which goes only then; later calls get EBADF. */
struct closer {
	struct ap_ctx *ctx;
	int fd;
	int started, done;
	uint64_t calls, ebadf;
};

static void *caller(void *arg)
{
	struct closer *cl = arg;

	__atomic_store_n(&cl->started, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&cl->done, __ATOMIC_ACQUIRE)) {
		struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };

		if (ap_vfio_ioctl(cl->ctx, cl->fd, VFIO_IOMMU_GET_INFO, &info) && errno == EBADF)
			__atomic_add_fetch(&cl->ebadf, 1, __ATOMIC_RELEASE);
		cl->calls++;
	}
	return NULL;
}

static void test_close_beside_calls(void **state)
{
	struct closer cl = { 0 };
	struct ap_device *dev;
	pthread_t t;
	int g;

	(void)state;
	cl.ctx = mk_ctx();
	dev = mk_dev(cl.ctx, "dev", mk_smmu(cl.ctx, "smmu", 48), 1, 3);
	cl.fd = open_type1v2(cl.ctx, dev, &g);
	assert_int_equal(pthread_create(&t, NULL, caller, &cl), 0);
	while (!__atomic_load_n(&cl.started, __ATOMIC_ACQUIRE))
		;
	assert_int_equal(ap_vfio_close(cl.ctx, g), 0);  /* the group leaves: no IOMMU */
	assert_int_equal(ap_vfio_close(cl.ctx, cl.fd), 0);
	/* until the caller has made a good number of calls after the close
	 * (a count, not a time: under valgrind the spinning caller takes the
	 * one running thread for long stretches) */
	while (__atomic_load_n(&cl.ebadf, __ATOMIC_ACQUIRE) < 1000) {
		struct timespec ts = { 0, 100 * 1000 };

		nanosleep(&ts, NULL);
	}
	__atomic_store_n(&cl.done, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	print_message("  %llu calls, %llu of them after the close (EBADF)\n", (ull)cl.calls,
		      (ull)cl.ebadf);
	assert_true(cl.ebadf >= 1000);
	{
		struct ap_vfio_container_info ci;

		assert_int_equal(ap_vfio_container_info(cl.ctx, 0, &ci), -ENOENT);
	}
	ap_ctx_free(cl.ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_on_one_context),
		cmocka_unit_test(test_close_beside_calls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
