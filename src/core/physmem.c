/*
 * Physical memory of a context: RAM regions the caller registers (DMA lands
 * there) and the table pool (page tables live there).  Both are reachable by
 * physical address; only RAM is reachable by DMA.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

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

/* Index of the first region that ends at or above pa (nram if none). */
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
 * registering many regions (one per VFIO mapping) stays linear. */
static int ram_reserve(struct ap_ctx *ctx)
{
	struct ap_ram *grown;
	size_t cap = ctx->ram_cap ? ctx->ram_cap * 2 : 8;

	if (ctx->nram < ctx->ram_cap)
		return 0;
	grown = ap__zalloc(ctx, cap * sizeof(*grown));
	if (!grown)
		return ap__err(ctx, -ENOMEM, "out of memory");
	if (ctx->nram)
		memcpy(grown, ctx->ram, ctx->nram * sizeof(*grown));
	ap__free(ctx, ctx->ram);
	ctx->ram = grown;
	ctx->ram_cap = cap;
	return 0;
}

static int ram_insert(struct ap_ctx *ctx, uint64_t pa, uint64_t size, void *host, bool owned)
{
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
	memmove(ctx->ram + at + 1, ctx->ram + at, (ctx->nram - at) * sizeof(*ctx->ram));
	ctx->ram[at] = (struct ap_ram){ .pa = pa, .size = size, .host = host, .owned = owned };
	ctx->nram++;
	return 0;
}

int ap_ram_remove(struct ap_ctx *ctx, uint64_t pa)
{
	size_t at = ram_lower_bound(ctx, pa);

	if (at == ctx->nram || ctx->ram[at].pa != pa)
		return ap__err(ctx, -ENOENT, "no RAM region starts at 0x%llx",
			       (unsigned long long)pa);
	if (ctx->ram[at].owned)
		ap__free(ctx, ctx->ram[at].host);
	ctx->nram--;
	memmove(ctx->ram + at, ctx->ram + at + 1, (ctx->nram - at) * sizeof(*ctx->ram));
	return 0;
}

int ap_ram_add(struct ap_ctx *ctx, uint64_t pa, uint64_t size, void *host)
{
	return ram_insert(ctx, pa, size, host, false);
}

int ap_ram_alloc(struct ap_ctx *ctx, uint64_t pa, uint64_t size, void **host)
{
	void *mem;
	int err;

	err = ram_place_check(ctx, pa, size);
	if (err)
		return err;
	if (size > SIZE_MAX - 4096)
		return ap__err(ctx, -EINVAL, "RAM size 0x%llx cannot be allocated",
			       (unsigned long long)size);
	mem = ap__zalloc(ctx, (size_t)size);
	if (!mem)
		return ap__err(ctx, -ENOMEM, "cannot allocate 0x%llx bytes of RAM",
			       (unsigned long long)size);
	err = ram_insert(ctx, pa, size, mem, true);
	if (err) {
		ap__free(ctx, mem);
		return err;
	}
	if (host)
		*host = mem;
	return 0;
}

static const struct ap_ram *ram_find(const struct ap_ctx *ctx, uint64_t pa)
{
	size_t lo = 0, hi = ctx->nram;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ap_ram *r = &ctx->ram[mid];

		if (pa < r->pa)
			hi = mid;
		else if (pa - r->pa >= r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

int ap_ram_region(const struct ap_ctx *ctx, size_t index, uint64_t *pa, uint64_t *size)
{
	if (index >= ctx->nram)
		return -ENOENT;
	*pa = ctx->ram[index].pa;
	*size = ctx->ram[index].size;
	return 0;
}

uint64_t ap__ram_span(struct ap_ctx *ctx, uint64_t pa, uint8_t **host)
{
	const struct ap_ram *r = ram_find(ctx, pa);

	if (!r)
		return 0;
	*host = r->host + (pa - r->pa);
	return r->size - (pa - r->pa);
}

void *ap_ram_ptr(struct ap_ctx *ctx, uint64_t pa, uint64_t len)
{
	const struct ap_ram *r = ram_find(ctx, pa);

	if (!r || len > r->size - (pa - r->pa))
		return NULL;
	return r->host + (pa - r->pa);
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

int ap_ctx_set_table_window(struct ap_ctx *ctx, uint64_t base, uint64_t size)
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

void ap_ctx_get_table_window(const struct ap_ctx *ctx, uint64_t *base, uint64_t *size)
{
	*base = ctx->pool.base;
	*size = ctx->pool.size;
}

int ap__pool_ensure(struct ap_ctx *ctx)
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

static bool frames_free(const struct ap_pool *p, uint64_t first, uint64_t n)
{
	uint64_t i;

	for (i = first; i < first + n; i++)
		if (p->used[i / 64] & (1ull << (i % 64)))
			return false;
	return true;
}

static void frames_mark(struct ap_pool *p, uint64_t first, uint64_t n, bool used)
{
	uint64_t i;

	for (i = first; i < first + n; i++) {
		if (used)
			p->used[i / 64] |= 1ull << (i % 64);
		else
			p->used[i / 64] &= ~(1ull << (i % 64));
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
		if (n == 1 && p->used[i / 64] == ~0ull) {
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

static void *pool_alloc(void *cookie, size_t size, uint64_t *pa)
{
	struct ap_ctx *ctx = cookie;
	struct ap_pool *p = &ctx->pool;
	uint64_t n = 1, first;
	struct ap_pool_chunk *c;
	uint8_t *host;

	while ((n << AP_FRAME_SHIFT) < size)
		n <<= 1;
	if (n > FRAMES_PER_CHUNK || ap__pool_ensure(ctx))
		return NULL;
	first = frames_find(p, n);
	if (first == UINT64_MAX)
		return NULL;
	c = &p->chunks[first / FRAMES_PER_CHUNK];
	if (!c->host) {
		c->host = ap__alloc_pages(ctx, CHUNK_BYTES);
		if (!c->host)
			return NULL;
	}
	frames_mark(p, first, n, true);
	c->frames += (uint32_t)n;
	p->frames_used += n;
	if (n == 1 && first == p->hint)
		p->hint = first + 1;
	host = c->host + ((first % FRAMES_PER_CHUNK) << AP_FRAME_SHIFT);
	memset(host, 0, n << AP_FRAME_SHIFT);
	*pa = p->base + (first << AP_FRAME_SHIFT);
	return host;
}

static void pool_free(void *cookie, void *table, uint64_t pa, size_t size)
{
	struct ap_ctx *ctx = cookie;
	struct ap_pool *p = &ctx->pool;
	uint64_t first = (pa - p->base) >> AP_FRAME_SHIFT, n = 1;
	struct ap_pool_chunk *c = &p->chunks[first / FRAMES_PER_CHUNK];

	(void)table;
	while ((n << AP_FRAME_SHIFT) < size)
		n <<= 1;
	frames_mark(p, first, n, false);
	c->frames -= (uint32_t)n;
	p->frames_used -= n;
	if (first < p->hint)
		p->hint = first;
	if (!c->frames) {
		ap__free_pages(ctx, c->host, CHUNK_BYTES);
		c->host = NULL;
	}
}

void *ap__phys_map(struct ap_ctx *ctx, uint64_t pa, size_t len)
{
	const struct ap_pool *p = &ctx->pool;
	uint64_t off = pa - p->base;

	if (pa >= p->base && off < p->size) {
		uint64_t frame = off >> AP_FRAME_SHIFT;
		const struct ap_pool_chunk *c = &p->chunks[frame / FRAMES_PER_CHUNK];
		uint64_t in_chunk = off & (CHUNK_BYTES - 1);

		if (!c->host || len > CHUNK_BYTES - in_chunk ||
		    !(p->used[frame / 64] & (1ull << (frame % 64))))
			return NULL;
		return c->host + in_chunk;
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
