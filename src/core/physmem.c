/* SPDX-License-Identifier: MIT */
/*
 * Physical memory of a context: RAM regions the caller registers (DMA lands
 * there) and the table pool (page tables live there).  Both are reachable by
 * physical address; only RAM is reachable by DMA.
 *
 * Threads.  DMA and table walks read both while other threads add and
 * remove RAM and allocate and free tables:
 *   - The RAM array is a seqlock: writers (serialised by ram_lock) change
 *     it between two bumps of ram_seq, every field stored atomically; a
 *     reader retries a lookup that ran while ram_seq moved.  An array
 *     outgrown is retired, not freed: a reader may still be searching it.
 *   - A removed region's memory, a freed table frame and a retired array go
 *     back only after a grace period (rcu.h): DMA and walks run inside
 *     read-side sections.
 *   - The pool's bitmap and chunks change under pool_lock; walkers read
 *     them with atomic loads.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rcu.h"

#define POOL_DEFAULT_SIZE (256ull << 20)
#define POOL_MAX_SIZE (16ull << 30)
#define POOL_LIMIT (1ull << 48) /* LPAE 4K/16K table descriptors hold 47:12 */
#define FOUR_GIB (1ull << 32)
#define CHUNK_BYTES (1ull << AP_POOL_CHUNK_SHIFT)
#define FRAMES_PER_CHUNK (1u << (AP_POOL_CHUNK_SHIFT - AP_FRAME_SHIFT))

static bool ranges_overlap(uint64_t a, uint64_t asize, uint64_t b, uint64_t bsize)
{
	return a <= b + (bsize - 1) && b <= a + (asize - 1);
}

/* Index of the first region that ends at or above pa (nram if none).
 * Writers only (under ram_lock). */
static size_t ram_lower_bound(const struct ap_ctx *ctx, uint64_t pa)
{
	size_t lo = 0, hi = ctx->nram;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ap_ram *r = &ctx->ram[mid];

		if (r->pa + (r->size - 1) < pa)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool ram_overlaps(const struct ap_ctx *ctx, uint64_t pa, uint64_t size)
{
	size_t i = ram_lower_bound(ctx, pa);

	return i < ctx->nram && ranges_overlap(ctx->ram[i].pa, ctx->ram[i].size, pa, size);
}

/*
 * A region's fields, stored so that a seqlock reader may read them: stores
 * with release and loads with acquire order them against ram_seq without
 * fences (which ThreadSanitizer cannot follow): a reader that sees a new
 * field sees the odd ram_seq stored before it.
 */
static void ram_store(struct ap_ram *dst, const struct ap_ram *src)
{
	__atomic_store_n(&dst->pa, src->pa, __ATOMIC_RELEASE);
	__atomic_store_n(&dst->size, src->size, __ATOMIC_RELEASE);
	__atomic_store_n(&dst->host, src->host, __ATOMIC_RELEASE);
	__atomic_store_n(&dst->owner_kind, src->owner_kind, __ATOMIC_RELEASE);
	__atomic_store_n(&dst->owner, src->owner, __ATOMIC_RELEASE);
	__atomic_store_n(&dst->owned, src->owned, __ATOMIC_RELEASE);
}

static void ram_load(struct ap_ram *dst, const struct ap_ram *src)
{
	dst->pa = __atomic_load_n(&src->pa, __ATOMIC_ACQUIRE);
	dst->size = __atomic_load_n(&src->size, __ATOMIC_ACQUIRE);
	dst->host = __atomic_load_n(&src->host, __ATOMIC_ACQUIRE);
	dst->owner_kind = __atomic_load_n(&src->owner_kind, __ATOMIC_ACQUIRE);
	dst->owner = __atomic_load_n(&src->owner, __ATOMIC_ACQUIRE);
	dst->owned = __atomic_load_n(&src->owned, __ATOMIC_ACQUIRE);
}

static void ram_write_begin(struct ap_ctx *ctx)
{
	__atomic_store_n(&ctx->ram_seq, ctx->ram_seq + 1, __ATOMIC_RELAXED);
}

static void ram_write_end(struct ap_ctx *ctx)
{
	__atomic_store_n(&ctx->ram_seq, ctx->ram_seq + 1, __ATOMIC_RELEASE);
}

/* Move n regions from src to dst (either direction), field by field. */
static void ram_move(struct ap_ram *dst, struct ap_ram *src, size_t n)
{
	size_t i;

	if (dst < src) {
		for (i = 0; i < n; i++)
			ram_store(&dst[i], &src[i]);
	} else {
		for (i = n; i--;)
			ram_store(&dst[i], &src[i]);
	}
}

/*
 * The region holding pa, copied out (false if none), as one consistent
 * snapshot whatever writers do meanwhile.  For DMA: the host memory stays
 * valid while the caller's read-side section lasts.
 */
static bool ram_lookup(const struct ap_ctx *ctx, uint64_t pa, struct ap_ram *out)
{
	for (;;) {
		unsigned seq = __atomic_load_n(&ctx->ram_seq, __ATOMIC_ACQUIRE);
		/* the count first: the array seen after it holds at least
		 * that many (arrays only grow, and a grown one is published
		 * before the count that needs it) */
		size_t lo = 0, hi = __atomic_load_n(&ctx->nram, __ATOMIC_ACQUIRE);
		const struct ap_ram *ram = __atomic_load_n(&ctx->ram, __ATOMIC_ACQUIRE);
		bool found = false;

		if (seq & 1)
			continue;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			ram_load(out, &ram[mid]);
			if (pa < out->pa) {
				hi = mid;
			} else if (pa - out->pa >= out->size) {
				lo = mid + 1;
			} else {
				found = true;
				break;
			}
		}
		if (__atomic_load_n(&ctx->ram_seq, __ATOMIC_RELAXED) == seq)
			return found;
	}
}

/* Keep an outgrown array until the next grace period. */
static int ram_retire(struct ap_ctx *ctx, struct ap_ram *old)
{
	struct ap_retired *r;

	if (!old)
		return 0;
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->p = old;
	r->next = ctx->retired;
	__atomic_store_n(&ctx->retired, r, __ATOMIC_RELAXED); /* see ap__reclaim_pending */
	return 0;
}

/* ------------------------------------------------------------------ RAM */

/* Why RAM cannot go at [pa, pa+size), or 0. */
static int ram_place_check(struct ap_ctx *ctx, uint64_t pa, uint64_t size)
{
	if (!size)
		return ap__err(ctx, -EINVAL, "RAM needs a size");
	if (pa + (size - 1) < pa)
		return ap__err(ctx, -EINVAL, "RAM at 0x%llx + 0x%llx wraps the address space",
			       (unsigned long long)pa, (unsigned long long)size);
	if (ram_overlaps(ctx, pa, size))
		return ap__err(ctx, -EADDRINUSE, "RAM at 0x%llx overlaps registered RAM",
			       (unsigned long long)pa);
	if (ctx->pool.size && ranges_overlap(ctx->pool.base, ctx->pool.size, pa, size))
		return ap__err(ctx, -EADDRINUSE,
			       "RAM at 0x%llx overlaps the page-table window 0x%llx-0x%llx",
			       (unsigned long long)pa, (unsigned long long)ctx->pool.base,
			       (unsigned long long)(ctx->pool.base + ctx->pool.size - 1));
	return 0;
}

/* Room for one more region.  The array grows by doubling, so that a layer
 * registering many regions (one per VFIO mapping) stays linear; the old
 * array is retired, since readers may be searching it. */
static int ram_reserve(struct ap_ctx *ctx)
{
	struct ap_ram *grown;
	size_t cap = ctx->ram_cap ? ctx->ram_cap * 2 : 8;

	if (ctx->nram < ctx->ram_cap)
		return 0;
	grown = ap__zalloc(ctx, cap * sizeof(*grown));
	if (!grown)
		return ap__err(ctx, -ENOMEM, "out of memory");
	if (ram_retire(ctx, ctx->ram)) {
		ap__free(ctx, grown);
		return ap__err(ctx, -ENOMEM, "out of memory");
	}
	if (ctx->nram)
		memcpy(grown, ctx->ram, ctx->nram * sizeof(*grown));
	__atomic_store_n(&ctx->ram, grown, __ATOMIC_RELEASE);
	ctx->ram_cap = cap;
	return 0;
}

static int ram_insert_locked(struct ap_ctx *ctx, uint64_t pa, uint64_t size, void *host,
			     const void *owner_kind, void *owner, bool owned)
{
	struct ap_ram r = { .pa = pa, .size = size, .host = host, .owner_kind = owner_kind,
			    .owner = owner, .owned = owned };
	size_t at;
	int err = ram_place_check(ctx, pa, size);

	if (err)
		return err;
	if (!host)
		return ap__err(ctx, -EINVAL, "RAM needs host memory");
	err = ram_reserve(ctx);
	if (err)
		return err;
	at = ram_lower_bound(ctx, pa);
	ram_write_begin(ctx);
	ram_move(ctx->ram + at + 1, ctx->ram + at, ctx->nram - at);
	ram_store(&ctx->ram[at], &r);
	__atomic_store_n(&ctx->nram, ctx->nram + 1, __ATOMIC_RELEASE);
	ram_write_end(ctx);
	return 0;
}

static int ram_insert(struct ap_ctx *ctx, uint64_t pa, uint64_t size, void *host,
		      const void *owner_kind, void *owner, bool owned)
{
	int err;

	pthread_mutex_lock(&ctx->ram_lock);
	err = ram_insert_locked(ctx, pa, size, host, owner_kind, owner, owned);
	pthread_mutex_unlock(&ctx->ram_lock);
	return err;
}

/* Take the region at `at` out of the array; what it was goes to *out. */
static void ram_cut(struct ap_ctx *ctx, size_t at, struct ap_ram *out)
{
	*out = ctx->ram[at];
	ram_write_begin(ctx);
	__atomic_store_n(&ctx->nram, ctx->nram - 1, __ATOMIC_RELEASE);
	ram_move(ctx->ram + at, ctx->ram + at + 1, ctx->nram - at);
	ram_write_end(ctx);
}

int ap_ram_remove(struct ap_ctx *ctx, uint64_t pa)
{
	struct ap_ram gone;
	size_t at;

	if (ap__rcu_reading())
		return ap__err(ctx, -EDEADLK,
			       "RAM cannot be removed from inside a DMA (a write observer)");
	pthread_mutex_lock(&ctx->ram_lock);
	at = ram_lower_bound(ctx, pa);
	if (at == ctx->nram || ctx->ram[at].pa != pa) {
		pthread_mutex_unlock(&ctx->ram_lock);
		return ap__err(ctx, -ENOENT, "no RAM region starts at 0x%llx",
			       (unsigned long long)pa);
	}
	ram_cut(ctx, at, &gone);
	if (pa < ctx->ram_hint)
		ctx->ram_hint = pa; /* its room is free again */
	pthread_mutex_unlock(&ctx->ram_lock);
	/* A DMA that found the region before it went may still be copying:
	 * the region is the caller's again only once every such DMA ended. */
	ap__rcu_synchronize();
	if (gone.owned)
		ap__free(ctx, gone.host);
	ap__reclaim(ctx);
	return 0;
}

int ap_ram_add(struct ap_ctx *ctx, uint64_t pa, uint64_t size, void *host)
{
	return ram_insert(ctx, pa, size, host, NULL, NULL, false);
}

int ap_ram_add_owned(struct ap_ctx *ctx, uint64_t pa, uint64_t size, void *host,
		     const void *owner_kind, void *owner)
{
	return ram_insert(ctx, pa, size, host, owner_kind, owner, false);
}

int ap_ram_lookup(const struct ap_ctx *ctx, uint64_t pa, struct ap_ram_info *out)
{
	struct ap_ram r;
	bool found;

	if (!ctx || !out)
		return -EINVAL;
	ap__rcu_read_lock(); /* an outgrown array it searches stays */
	found = ram_lookup(ctx, pa, &r);
	ap__rcu_read_unlock();
	if (!found)
		return -ENOENT;
	*out = (struct ap_ram_info){ r.pa, r.size, r.host, r.owner_kind, r.owner };
	return 0;
}

/* ------------------------------------------------------------ placement */

/* What occupies addr (RAM or the table window): its last byte.  Under
 * ram_lock. */
static bool occupied(const struct ap_ctx *ctx, uint64_t addr, uint64_t *last)
{
	size_t i;

	if (ctx->pool.size && addr >= ctx->pool.base && addr - ctx->pool.base < ctx->pool.size) {
		*last = ctx->pool.base + (ctx->pool.size - 1);
		return true;
	}
	i = ram_lower_bound(ctx, addr);
	if (i < ctx->nram && ctx->ram[i].pa <= addr) {
		*last = ctx->ram[i].pa + (ctx->ram[i].size - 1);
		return true;
	}
	return false;
}

/* The lowest address >= x congruent to phase modulo align; false on wrap. */
static bool congruent_up(uint64_t x, uint64_t align, uint64_t phase, uint64_t *out)
{
	uint64_t base = x & ~(align - 1);

	if (base + phase < x) {
		if (base > UINT64_MAX - align)
			return false;
		base += align;
	}
	*out = base + phase;
	return true;
}

/* The first occupant of [p, last] (RAM or the window): its last byte. */
static bool first_in(const struct ap_ctx *ctx, uint64_t p, uint64_t last, uint64_t *end)
{
	size_t i = ram_lower_bound(ctx, p);
	bool ram = i < ctx->nram && ctx->ram[i].pa <= last;
	bool win = ctx->pool.size && ranges_overlap(ctx->pool.base, ctx->pool.size, p,
						    last - p + 1);

	if (win && (!ram || ctx->pool.base < ctx->ram[i].pa))
		*end = ctx->pool.base + (ctx->pool.size - 1);
	else if (ram)
		*end = ctx->ram[i].pa + (ctx->ram[i].size - 1);
	return ram || win;
}

/* Under ram_lock: the room, from the lowest address that may be free. */
static int place_locked(struct ap_ctx *ctx, uint64_t size, uint64_t align, uint64_t phase,
			uint64_t limit, uint64_t *pa)
{
	uint64_t x, last, p;

	while (occupied(ctx, ctx->ram_hint, &last) && last < UINT64_MAX)
		ctx->ram_hint = last + 1; /* nothing is free below it */
	for (x = ctx->ram_hint;;) {
		if (!congruent_up(x, align, phase, &p) || p > limit || limit - p < size - 1)
			return -ENOSPC;
		if (!first_in(ctx, p, p + (size - 1), &last)) {
			*pa = p;
			return 0;
		}
		if (last == UINT64_MAX)
			return -ENOSPC;
		x = last + 1;
	}
}

int ap_ram_place(struct ap_ctx *ctx, uint64_t size, uint64_t align, uint64_t phase,
		 uint64_t limit, uint64_t *pa)
{
	int err;

	if (!ctx || !pa)
		return -EINVAL;
	if (!size || !align || (align & (align - 1)) || phase >= align)
		return ap__err(ctx, -EINVAL, "placing RAM needs a size, a power-of-two alignment "
			       "and a phase below it");
	pthread_mutex_lock(&ctx->ram_lock);
	err = place_locked(ctx, size, align, phase, limit, pa);
	pthread_mutex_unlock(&ctx->ram_lock);
	if (err)
		return ap__err(ctx, err, "no room for 0x%llx bytes of RAM below 0x%llx",
			       (unsigned long long)size, (unsigned long long)limit);
	return 0;
}

int ap_ram_alloc(struct ap_ctx *ctx, uint64_t pa, uint64_t size, void **host)
{
	void *mem;
	int err;

	if (size > SIZE_MAX - 4096)
		return ap__err(ctx, -EINVAL, "RAM size 0x%llx cannot be allocated",
			       (unsigned long long)size);
	pthread_mutex_lock(&ctx->ram_lock);
	err = ram_place_check(ctx, pa, size);
	pthread_mutex_unlock(&ctx->ram_lock);
	if (err)
		return err;
	mem = ap__zalloc(ctx, (size_t)size);
	if (!mem)
		return ap__err(ctx, -ENOMEM, "out of memory for 0x%llx bytes of RAM",
			       (unsigned long long)size);
	err = ram_insert(ctx, pa, size, mem, NULL, NULL, true);
	if (err) {
		ap__free(ctx, mem);
		return err;
	}
	if (host)
		*host = mem;
	return 0;
}

/* Inside a read-side section: an outgrown array it reads is not freed
 * under it. */
static int ram_region_at(const struct ap_ctx *ctx, size_t index, uint64_t *pa, uint64_t *size)
{
	for (;;) {
		unsigned seq = __atomic_load_n(&ctx->ram_seq, __ATOMIC_ACQUIRE);
		bool in = index < __atomic_load_n(&ctx->nram, __ATOMIC_ACQUIRE);
		const struct ap_ram *ram = __atomic_load_n(&ctx->ram, __ATOMIC_ACQUIRE);
		struct ap_ram r = { 0 };

		if (seq & 1)
			continue;
		if (in)
			ram_load(&r, &ram[index]);
		if (__atomic_load_n(&ctx->ram_seq, __ATOMIC_RELAXED) != seq)
			continue;
		if (!in)
			return -ENOENT;
		*pa = r.pa;
		*size = r.size;
		return 0;
	}
}

bool ap__ram_find(struct ap_ctx *ctx, uint64_t pa, struct ap_ram *out)
{
	return ram_lookup(ctx, pa, out);
}

int ap_ram_region(const struct ap_ctx *ctx, size_t index, uint64_t *pa, uint64_t *size)
{
	int err;

	ap__rcu_read_lock();
	err = ram_region_at(ctx, index, pa, size);
	ap__rcu_read_unlock();
	return err;
}

void *ap_ram_ptr(struct ap_ctx *ctx, uint64_t pa, uint64_t len)
{
	struct ap_ram r;
	bool found;

	ap__rcu_read_lock(); /* for the array, not the region: that is the caller's */
	found = ram_lookup(ctx, pa, &r);
	ap__rcu_read_unlock();
	if (!found || len > r.size - (pa - r.pa))
		return NULL;
	return r.host + (pa - r.pa);
}

/* ------------------------------------------------------------ table pool */

static int pool_set(struct ap_ctx *ctx, uint64_t base, uint64_t size)
{
	struct ap_pool *p = &ctx->pool;
	uint64_t frames = size >> AP_FRAME_SHIFT;
	uint64_t nchunks = (size + CHUNK_BYTES - 1) >> AP_POOL_CHUNK_SHIFT;

	p->used = ap__zalloc(ctx, ((frames + 63) / 64) * sizeof(uint64_t));
	p->chunks = ap__zalloc(ctx, nchunks * sizeof(*p->chunks));
	if (!p->used || !p->chunks) {
		ap__free(ctx, p->used);
		ap__free(ctx, p->chunks);
		p->used = NULL;
		p->chunks = NULL;
		return ap__err(ctx, -ENOMEM, "out of memory for the page-table window");
	}
	p->base = base;
	p->size = size;
	p->hint = 0;
	return 0;
}

static int set_window_locked(struct ap_ctx *ctx, uint64_t base, uint64_t size)
{
	if (ctx->pool.size)
		return ap__err(ctx, -EBUSY, "the page-table window is already in use");
	if (!size || size > POOL_MAX_SIZE || (base | size) & ((1ull << AP_FRAME_SHIFT) - 1) ||
	    base + (size - 1) < base || base + (size - 1) >= POOL_LIMIT)
		return ap__err(ctx, -EINVAL, "page-table window must be 4 KiB aligned, 4 KiB..16 GiB, "
			       "below 2^48 (where every table descriptor can point)");
	if (ram_overlaps(ctx, base, size))
		return ap__err(ctx, -EADDRINUSE, "page-table window overlaps RAM");
	return pool_set(ctx, base, size);
}

int ap_ctx_set_table_window(struct ap_ctx *ctx, uint64_t base, uint64_t size)
{
	int err;

	pthread_mutex_lock(&ctx->ram_lock);
	err = set_window_locked(ctx, base, size);
	pthread_mutex_unlock(&ctx->ram_lock);
	return err;
}

void ap_ctx_get_table_window(const struct ap_ctx *ctx, uint64_t *base, uint64_t *size)
{
	*base = ctx->pool.base;
	*size = ctx->pool.size;
}

static int choose_window_locked(struct ap_ctx *ctx)
{
	uint64_t base;

	if (ctx->pool.size)
		return 0;
	for (base = FOUR_GIB - POOL_DEFAULT_SIZE;; base -= POOL_DEFAULT_SIZE) {
		if (!ram_overlaps(ctx, base, POOL_DEFAULT_SIZE))
			return pool_set(ctx, base, POOL_DEFAULT_SIZE);
		if (!base)
			break;
	}
	return ap__err(ctx, -ENOSPC,
		       "no RAM-free 256 MiB window below 4 GiB for page tables; set one");
}

/* The window is chosen by the first paging domain (control plane), before
 * any table exists; RAM changes meanwhile are excluded by ram_lock. */
int ap__pool_ensure(struct ap_ctx *ctx)
{
	int err;

	if (ctx->pool.size)
		return 0;
	pthread_mutex_lock(&ctx->ram_lock);
	err = choose_window_locked(ctx);
	pthread_mutex_unlock(&ctx->ram_lock);
	return err;
}

/* Forget a window that nothing lives in yet (undoes ap__pool_ensure()). */
void ap__pool_forget(struct ap_ctx *ctx)
{
	struct ap_pool *p = &ctx->pool;

	if (!p->size || p->frames_used)
		return;
	ap__free(ctx, p->used);
	ap__free(ctx, p->chunks);
	memset(p, 0, sizeof(*p));
}

/* The bitmap word of frame i: walkers read it without pool_lock. */
static uint64_t used_word(const struct ap_pool *p, uint64_t i)
{
	return __atomic_load_n(&p->used[i / 64], __ATOMIC_RELAXED);
}

static bool frames_free(const struct ap_pool *p, uint64_t first, uint64_t n)
{
	uint64_t i;

	for (i = first; i < first + n; i++)
		if (used_word(p, i) & (1ull << (i % 64)))
			return false;
	return true;
}

static void frames_mark(struct ap_pool *p, uint64_t first, uint64_t n, bool used)
{
	uint64_t i;

	for (i = first; i < first + n; i++) {
		if (used)
			__atomic_or_fetch(&p->used[i / 64], 1ull << (i % 64), __ATOMIC_RELAXED);
		else
			__atomic_and_fetch(&p->used[i / 64], ~(1ull << (i % 64)),
					   __ATOMIC_RELAXED);
	}
}

/*
 * Lowest run of n free frames whose physical address is aligned to n frames
 * (the window base may be only 4 KiB aligned) and which lies in one chunk
 * (host memory is contiguous per chunk only), or UINT64_MAX.
 */
static uint64_t frames_find(const struct ap_pool *p, uint64_t n)
{
	uint64_t total = p->size >> AP_FRAME_SHIFT;
	uint64_t skew = (p->base >> AP_FRAME_SHIFT) & (n - 1);
	uint64_t i = p->hint + ((n - ((p->hint + skew) & (n - 1))) & (n - 1));

	for (; i + n <= total; i += n) {
		if (n == 1 && used_word(p, i) == ~0ull) {
			i |= 63;
			continue;
		}
		if (i / FRAMES_PER_CHUNK != (i + n - 1) / FRAMES_PER_CHUNK)
			continue;
		if (frames_free(p, i, n))
			return i;
	}
	return UINT64_MAX;
}

static uint64_t frames_for(size_t size)
{
	uint64_t n = 1;

	while ((n << AP_FRAME_SHIFT) < size)
		n <<= 1;
	return n;
}

static void *pool_alloc_locked(struct ap_ctx *ctx, uint64_t n, uint64_t *pa)
{
	struct ap_pool *p = &ctx->pool;
	uint64_t first = frames_find(p, n);
	struct ap_pool_chunk *c;
	uint8_t *host;

	if (first == UINT64_MAX)
		return NULL;
	c = &p->chunks[first / FRAMES_PER_CHUNK];
	if (!c->host) {
		host = ap__alloc_pages(ctx, CHUNK_BYTES);
		if (!host)
			return NULL;
		__atomic_store_n(&c->host, host, __ATOMIC_RELEASE);
	}
	host = c->host + ((first % FRAMES_PER_CHUNK) << AP_FRAME_SHIFT);
	/* Zeroed with atomic stores: a walker that read this frame before
	 * it was freed (a grace period ago) is gone, but the tools cannot
	 * know that, and a table's words are only ever accessed atomically. */
	for (uint64_t i = 0; i < (n << AP_FRAME_SHIFT) / 8; i++)
		__atomic_store_n((uint64_t *)host + i, 0, __ATOMIC_RELAXED);
	frames_mark(p, first, n, true);
	c->frames += (uint32_t)n;
	p->frames_used += n;
	if (n == 1 && first == p->hint)
		p->hint = first + 1;
	*pa = p->base + (first << AP_FRAME_SHIFT);
	return host;
}

static void *pool_alloc(void *cookie, size_t size, uint64_t *pa)
{
	struct ap_ctx *ctx = cookie;
	uint64_t n = frames_for(size);
	void *host;

	if (n > FRAMES_PER_CHUNK || ap__pool_ensure(ctx))
		return NULL;
	pthread_mutex_lock(&ctx->pool_lock);
	host = pool_alloc_locked(ctx, n, pa);
	pthread_mutex_unlock(&ctx->pool_lock);
	return host;
}

/* Give frames back now: no walker can reach them any more. */
static void pool_release_locked(struct ap_ctx *ctx, uint64_t pa, size_t size)
{
	struct ap_pool *p = &ctx->pool;
	uint64_t first = (pa - p->base) >> AP_FRAME_SHIFT, n = frames_for(size);
	struct ap_pool_chunk *c = &p->chunks[first / FRAMES_PER_CHUNK];

	frames_mark(p, first, n, false);
	c->frames -= (uint32_t)n;
	p->frames_used -= n;
	if (first < p->hint)
		p->hint = first;
	if (!c->frames) {
		uint8_t *host = c->host;

		__atomic_store_n(&c->host, NULL, __ATOMIC_RELAXED);
		ap__free_pages(ctx, host, CHUNK_BYTES);
	}
}

/*
 * A table the layer below has unhooked: walkers that entered it before may
 * still be reading it, so it waits for the next grace period (ap__reclaim).
 * If we cannot even remember it, the frame stays taken (lost to the pool,
 * never reused while someone reads it).
 */
static void pool_free(void *cookie, void *table, uint64_t pa, size_t size)
{
	struct ap_ctx *ctx = cookie;
	struct ap_deferred *grown;

	(void)table;
	pthread_mutex_lock(&ctx->pool_lock);
	if (ctx->ndeferred == ctx->deferred_cap) {
		size_t cap = ctx->deferred_cap ? ctx->deferred_cap * 2 : 64;

		grown = realloc(ctx->deferred, cap * sizeof(*grown));
		if (!grown) {
			pthread_mutex_unlock(&ctx->pool_lock);
			return;
		}
		ctx->deferred = grown;
		ctx->deferred_cap = cap;
	}
	ctx->deferred[ctx->ndeferred] = (struct ap_deferred){ .pa = pa, .size = size };
	__atomic_store_n(&ctx->ndeferred, ctx->ndeferred + 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ctx->pool_lock);
}

static void free_retired(struct ap_ctx *ctx, struct ap_retired *r)
{
	while (r) {
		struct ap_retired *next = r->next;

		ap__free(ctx, r->p);
		free(r);
		r = next;
	}
}

/*
 * Wait for a grace period and give back what was retired before it began:
 * freed tables, outgrown RAM arrays.  Not from inside a read-side section
 * (that would wait for itself): then it is left for a later call.
 */
void ap__reclaim(struct ap_ctx *ctx)
{
	struct ap_deferred *frees;
	struct ap_retired *retired;
	size_t n, i;

	if (ap__rcu_reading())
		return;
	pthread_mutex_lock(&ctx->pool_lock);
	frees = ctx->deferred;
	n = ctx->ndeferred;
	ctx->deferred = NULL;
	ctx->deferred_cap = 0;
	__atomic_store_n(&ctx->ndeferred, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ctx->pool_lock);
	pthread_mutex_lock(&ctx->ram_lock);
	retired = ctx->retired;
	__atomic_store_n(&ctx->retired, NULL, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ctx->ram_lock);
	if (!n && !retired) {
		free(frees);
		return;
	}
	ap__rcu_synchronize();
	pthread_mutex_lock(&ctx->pool_lock);
	for (i = 0; i < n; i++)
		pool_release_locked(ctx, frees[i].pa, frees[i].size);
	pthread_mutex_unlock(&ctx->pool_lock);
	free(frees);
	free_retired(ctx, retired);
}

/* A hint, read without the locks: a writer that just missed something
 * pending leaves it to the next one (nothing is lost, only delayed). */
bool ap__reclaim_pending(struct ap_ctx *ctx)
{
	return __atomic_load_n(&ctx->ndeferred, __ATOMIC_RELAXED) != 0 ||
	       __atomic_load_n(&ctx->retired, __ATOMIC_RELAXED) != NULL;
}

void *ap__phys_map(struct ap_ctx *ctx, uint64_t pa, size_t len)
{
	const struct ap_pool *p = &ctx->pool;
	uint64_t off = pa - p->base;

	if (pa >= p->base && off < p->size) {
		uint64_t frame = off >> AP_FRAME_SHIFT;
		const struct ap_pool_chunk *c = &p->chunks[frame / FRAMES_PER_CHUNK];
		uint8_t *host = __atomic_load_n(&c->host, __ATOMIC_ACQUIRE);
		uint64_t in_chunk = off & (CHUNK_BYTES - 1);

		if (!host || len > CHUNK_BYTES - in_chunk ||
		    !(used_word(p, frame) & (1ull << (frame % 64))))
			return NULL;
		return host + in_chunk;
	}
	return ap_ram_ptr(ctx, pa, len);
}

static void *pool_map(void *cookie, uint64_t pa, size_t len)
{
	return ap__phys_map(cookie, pa, len);
}

static void *meta_zalloc(void *cookie, size_t size)
{
	return ap__zalloc(cookie, size);
}

static void meta_release(void *cookie, void *ptr)
{
	ap__free(cookie, ptr);
}

void ap__pool_init_mem(struct ap_ctx *ctx)
{
	ctx->ptmem = (struct ap_pt_mem){
		.cookie = ctx,
		.alloc = pool_alloc,
		.free = pool_free,
		.map = pool_map,
		.zalloc = meta_zalloc,
		.release = meta_release,
	};
}

void ap__physmem_free(struct ap_ctx *ctx)
{
	struct ap_pool *p = &ctx->pool;
	size_t i;

	/* Nothing reads any more: what waited for a grace period goes now. */
	free(ctx->deferred);
	ctx->deferred = NULL;
	ctx->ndeferred = ctx->deferred_cap = 0;
	free_retired(ctx, ctx->retired);
	ctx->retired = NULL;

	if (p->chunks) {
		for (i = 0; i < (p->size + CHUNK_BYTES - 1) >> AP_POOL_CHUNK_SHIFT; i++)
			ap__free_pages(ctx, p->chunks[i].host, CHUNK_BYTES);
	}
	ap__free(ctx, p->used);
	ap__free(ctx, p->chunks);
	memset(p, 0, sizeof(*p));
	for (i = 0; i < ctx->nram; i++)
		if (ctx->ram[i].owned)
			ap__free(ctx, ctx->ram[i].host);
	ap__free(ctx, ctx->ram);
	ctx->ram = NULL;
	ctx->nram = 0;
	ctx->ram_cap = 0;
}
