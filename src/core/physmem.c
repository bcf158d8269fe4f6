/* SPDX-License-Identifier: MIT */
/*
 * Physical memory of a context: RAM regions the caller registers (DMA lands
 * there) and the table pool (page tables live there).  Both are reachable by
 * physical address; only RAM is reachable by DMA.
 *
 * Threads.  DMA and table walks read both while other threads add and
 * remove RAM and allocate and free tables:
 *   - RAM regions are nodes of an AVL tree by address (src/util/avl.h), so
 *     that adding or removing one is O(log n) however many there are (VFIO
 *     registers one per mapping).  Writers (serialised by ram_lock) change
 *     the tree between two bumps of ram_seq, a seqlock: a reader descends
 *     without a lock and retries a search that found nothing while ram_seq
 *     moved (a rotation may have hidden the region for a moment).  A node's
 *     region never changes while the node is linked; a region a search
 *     finds is one that was registered during the search.
 *   - A removed region's node and memory, and a freed table frame, go back
 *     only after a grace period (rcu.h): DMA and walks run inside
 *     read-side sections, and a reader may still be inside the node.
 *   - The pool's bitmap and chunks change under pool_lock; walkers read
 *     them with atomic loads.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"
#include "rcu.h"

#define POOL_DEFAULT_SIZE (256ull << 20)
#define POOL_MAX_SIZE (16ull << 30)
#define POOL_LIMIT (1ull << 48) /* LPAE 4K/16K table descriptors hold 47:12 */
#define FOUR_GIB (1ull << 32)
#define CHUNK_BYTES (1ull << AP_POOL_CHUNK_SHIFT)
#define FRAMES_PER_CHUNK (1u << (AP_POOL_CHUNK_SHIFT - AP_FRAME_SHIFT))

/* A RAM region in the context's tree. */
struct ap_ram_node {
	struct ap_avl_node node;
	struct ap_ram r;              /* fixed while linked */
	struct ap_ram_node *gone;        /* writers: removals waiting for a grace period */
	bool doomed;                  /* writers: picked by ap_ram_remove_many() */
};

#define RAM_NODE(n) AP_AVL_ENTRY(n, struct ap_ram_node, node)

static bool ranges_overlap(uint64_t a, uint64_t asize, uint64_t b, uint64_t bsize)
{
	return a <= b + (bsize - 1) && b <= a + (asize - 1);
}

/* The lowest region that ends at or above pa (NULL if none).  Writers only
 * (under ram_lock). */
static struct ap_ram_node *ram_lower_bound(const struct ap_ctx *ctx, uint64_t pa)
{
	struct ap_avl_node *n = ctx->ram.root;
	struct ap_ram_node *best = NULL;

	while (n) {
		struct ap_ram_node *x = RAM_NODE(n);

		if (x->r.pa + (x->r.size - 1) < pa) {
			n = n->link[1];
		} else {
			best = x;
			n = n->link[0];
		}
	}
	return best;
}

/* The region that starts at pa, or NULL.  Writers only. */
static struct ap_ram_node *ram_at(const struct ap_ctx *ctx, uint64_t pa)
{
	struct ap_ram_node *x = ram_lower_bound(ctx, pa);

	return x && x->r.pa == pa ? x : NULL;
}

static bool ram_overlaps(const struct ap_ctx *ctx, uint64_t pa, uint64_t size)
{
	const struct ap_ram_node *x = ram_lower_bound(ctx, pa);

	return x && ranges_overlap(x->r.pa, x->r.size, pa, size);
}

static void ram_write_begin(struct ap_ctx *ctx)
{
	/* the tree's stores are releases: a reader that sees one sees this */
	__atomic_store_n(&ctx->ram_seq, ctx->ram_seq + 1, __ATOMIC_RELAXED);
}

static void ram_write_end(struct ap_ctx *ctx)
{
	__atomic_store_n(&ctx->ram_seq, ctx->ram_seq + 1, __ATOMIC_RELEASE);
	/* A DMA's hint (ap__ram_host) is stale from here.  Stamped after the
	 * change, not before: a search that read the stamp before it may
	 * still find a region this change unlinked, and must keep that
	 * region with an old stamp, never with this one (its memory goes
	 * once the section of that DMA has ended). */
	__atomic_store_n(&ctx->ram_stamp, ap__ram_stamp_new(), __ATOMIC_SEQ_CST);
}

/*
 * The region holding pa, copied out (false if none).  Lock-free: inside a
 * read-side section (the node it reads may be removed meanwhile, and is
 * freed only after the section).  A miss is believed only if no writer
 * changed the tree during the search.
 */
static bool ram_lookup(const struct ap_ctx *ctx, uint64_t pa, struct ap_ram *out)
{
	for (;;) {
		unsigned seq = __atomic_load_n(&ctx->ram_seq, __ATOMIC_ACQUIRE);
		const struct ap_avl_node *n;
		unsigned steps;

		if (seq & 1)
			continue;
		n = ap__avl_root(&ctx->ram);
		for (steps = 0; n && steps < AP_AVL_MAX_STEPS; steps++) {
			const struct ap_ram *r = &RAM_NODE(n)->r;

			if (pa < r->pa) {
				n = ap__avl_child(n, 0);
			} else if (pa - r->pa >= r->size) {
				n = ap__avl_child(n, 1);
			} else {
				*out = *r;
				return true;
			}
		}
		/* the child loads are acquires: this load comes after them */
		if (!n && __atomic_load_n(&ctx->ram_seq, __ATOMIC_RELAXED) == seq)
			return false;
	}
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

/* Link a new node for r (its place checked). */
static void ram_link(struct ap_ctx *ctx, struct ap_ram_node *x)
{
	struct ap_avl_node *parent = NULL, *n = ctx->ram.root;
	int dir = 0;

	while (n) {
		parent = n;
		dir = x->r.pa > RAM_NODE(n)->r.pa;
		n = n->link[dir];
	}
	ram_write_begin(ctx);
	ap__avl_insert(&ctx->ram, parent, dir, &x->node);
	ram_write_end(ctx);
}

static int ram_insert_locked(struct ap_ctx *ctx, const struct ap_ram *r)
{
	struct ap_ram_node *x;
	int err = ram_place_check(ctx, r->pa, r->size);

	if (err)
		return err;
	if (!r->host)
		return ap__err(ctx, -EINVAL, "RAM needs host memory");
	x = ap__zalloc(ctx, sizeof(*x));
	if (!x)
		return ap__err(ctx, -ENOMEM, "out of memory for a RAM region");
	x->r = *r;
	ram_link(ctx, x);
	return 0;
}

static int ram_insert(struct ap_ctx *ctx, uint64_t pa, uint64_t size, void *host,
		      const void *owner_kind, void *owner, bool owned)
{
	struct ap_ram r = { .pa = pa, .size = size, .host = host, .owner_kind = owner_kind,
			    .owner = owner, .owned = owned };
	int err;

	pthread_mutex_lock(&ctx->ram_lock);
	err = ram_insert_locked(ctx, &r);
	pthread_mutex_unlock(&ctx->ram_lock);
	return err;
}

/* Unlink x (under ram_lock) and queue it on *gone for after the grace
 * period. */
static void ram_unlink(struct ap_ctx *ctx, struct ap_ram_node *x, struct ap_ram_node **gone)
{
	ram_write_begin(ctx);
	ap__avl_erase(&ctx->ram, &x->node);
	ram_write_end(ctx);
	if (x->r.pa < ctx->ram_hint)
		ctx->ram_hint = x->r.pa; /* its room is free again */
	x->gone = *gone;
	*gone = x;
}

/*
 * After the grace period that followed their unlinking: no DMA can be
 * inside the regions, no search inside the nodes.
 */
static void ram_free_gone(struct ap_ctx *ctx, struct ap_ram_node *gone)
{
	while (gone) {
		struct ap_ram_node *next = gone->gone;

		if (gone->r.owned)
			ap__free_ram(ctx, gone->r.host, gone->r.size);
		ap__free(ctx, gone);
		gone = next;
	}
}


/* Clear the marks of the first n regions of pa[] (all were found). */
static void ram_undoom(struct ap_ctx *ctx, const uint64_t *pa, size_t n)
{
	while (n--)
		ram_at(ctx, pa[n])->doomed = false;
}

/* The nodes unlinked by the last ap_ram_remove_many(), taken for freeing
 * after a grace period that begins later. */
static struct ap_ram_node *graveyard_take(struct ap_ctx *ctx)
{
	struct ap_ram_node *g;

	pthread_mutex_lock(&ctx->ram_lock);
	g = ctx->ram_gone;
	ctx->ram_gone = NULL;
	pthread_mutex_unlock(&ctx->ram_lock);
	return g;
}

/* Unlink the n regions starting at pa[], all or none, onto *gone. */
static int ram_unlink_all(struct ap_ctx *ctx, const uint64_t *pa, size_t n,
			  struct ap_ram_node **gone)
{
	size_t i;

	pthread_mutex_lock(&ctx->ram_lock);
	/* every address first: a list that names a region twice, or none,
	 * changes nothing */
	for (i = 0; i < n; i++) {
		struct ap_ram_node *x = ram_at(ctx, pa[i]);

		if (!x || x->doomed) {
			ram_undoom(ctx, pa, i);
			pthread_mutex_unlock(&ctx->ram_lock);
			if (x)
				return ap__err(ctx, -EINVAL, "RAM at 0x%llx is named twice",
					       (unsigned long long)pa[i]);
			return ap__err(ctx, -ENOENT, "no RAM region starts at 0x%llx",
				       (unsigned long long)pa[i]);
		}
		x->doomed = true;
	}
	for (i = 0; i < n; i++)
		ram_unlink(ctx, ram_at(ctx, pa[i]), gone);
	pthread_mutex_unlock(&ctx->ram_lock);
	return 0;
}

static int removal_allowed(struct ap_ctx *ctx, const uint64_t *pa, size_t n)
{
	if (!ctx || (n && !pa))
		return -EINVAL;
	if (ap__rcu_reading())
		return ap__err(ctx, -EDEADLK,
			       "RAM cannot be removed from inside a DMA (a write observer)");
	return 0;
}

/*
 * Unlink, then wait: a DMA that found the region before it went may still
 * be copying, and the region is the caller's again only once every such
 * DMA ended.  Nodes an earlier ap_ram_remove_many() left go too.
 */
int ap_ram_remove(struct ap_ctx *ctx, uint64_t pa)
{
	struct ap_ram_node *gone = NULL, *old;
	int err = removal_allowed(ctx, &pa, 1);

	if (!err)
		err = ram_unlink_all(ctx, &pa, 1, &gone);
	if (err)
		return err;
	old = graveyard_take(ctx);
	ap__rcu_synchronize();
	ram_free_gone(ctx, gone);
	ram_free_gone(ctx, old);
	ap__reclaim(ctx);
	return 0;
}

/*
 * Wait, then unlink: the caller has unmapped the regions, so the only DMA
 * that can reach them is DMA in flight, which translated before the unmap;
 * once it has ended, nothing can, and the memory is the caller's as soon
 * as the regions are unlinked.  A search may still be passing through
 * their nodes: they are freed after the next grace period (the next
 * removal's, here or in ap_ram_remove, or the context's end).  So a
 * removal costs one wait, not two.
 */
int ap_ram_remove_many(struct ap_ctx *ctx, const uint64_t *pa, size_t n)
{
	struct ap_ram_node *gone = NULL, *old;
	int err = removal_allowed(ctx, pa, n);

	if (err || !n)
		return err;
	old = graveyard_take(ctx);
	ap__rcu_synchronize();
	ram_free_gone(ctx, old);
	err = ram_unlink_all(ctx, pa, n, &gone);
	if (err)
		return err;
	pthread_mutex_lock(&ctx->ram_lock);
	while (gone) {
		struct ap_ram_node *next = gone->gone;

		gone->gone = ctx->ram_gone;
		ctx->ram_gone = gone;
		gone = next;
	}
	pthread_mutex_unlock(&ctx->ram_lock);
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
	ap__rcu_read_lock(); /* a node it searches stays */
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
	const struct ap_ram_node *x;

	if (ctx->pool.size && addr >= ctx->pool.base && addr - ctx->pool.base < ctx->pool.size) {
		*last = ctx->pool.base + (ctx->pool.size - 1);
		return true;
	}
	x = ram_lower_bound(ctx, addr);
	if (x && x->r.pa <= addr) {
		*last = x->r.pa + (x->r.size - 1);
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
	const struct ap_ram_node *x = ram_lower_bound(ctx, p);
	bool ram = x && x->r.pa <= last;
	bool win = ctx->pool.size && ranges_overlap(ctx->pool.base, ctx->pool.size, p,
						    last - p + 1);

	if (win && (!ram || ctx->pool.base < x->r.pa))
		*end = ctx->pool.base + (ctx->pool.size - 1);
	else if (ram)
		*end = x->r.pa + (x->r.size - 1);
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
	mem = ap__alloc_ram(ctx, size);
	if (!mem)
		return ap__err(ctx, -ENOMEM, "out of memory for 0x%llx bytes of RAM",
			       (unsigned long long)size);
	err = ram_insert(ctx, pa, size, mem, NULL, NULL, true);
	if (err) {
		ap__free_ram(ctx, mem, size);
		return err;
	}
	if (host)
		*host = mem;
	return 0;
}

/* Inside a read-side section (a node it reads is not freed under it). */
static int ram_region_at(const struct ap_ctx *ctx, size_t index, uint64_t *pa, uint64_t *size)
{
	for (;;) {
		unsigned seq = __atomic_load_n(&ctx->ram_seq, __ATOMIC_ACQUIRE);
		const struct ap_avl_node *n;
		struct ap_ram r = { 0 };

		if (seq & 1)
			continue;
		n = ap__avl_at(&ctx->ram, index);
		if (n)
			r = RAM_NODE(n)->r;
		if (__atomic_load_n(&ctx->ram_seq, __ATOMIC_ACQUIRE) != seq)
			continue;
		if (!n)
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

__thread struct ap_ram_hint ap__ram_hint __attribute__((tls_model("initial-exec")));

/* From 1: a thread's hint starts zeroed, and matches no context. */
uint64_t ap__ram_stamp_new(void)
{
	static uint64_t stamps;

	return __atomic_add_fetch(&stamps, 1, __ATOMIC_RELAXED);
}

/* ap__ram_host() without a good hint: search, and keep what was found
 * with the stamp read before the search. */
uint8_t *ap__ram_host_find(struct ap_ctx *ctx, uint64_t pa, uint64_t len)
{
	uint64_t stamp = __atomic_load_n(&ctx->ram_stamp, __ATOMIC_ACQUIRE);
	struct ap_ram r;
	uint64_t in;

	if (!ram_lookup(ctx, pa, &r))
		return NULL;
	ap__ram_hint = (struct ap_ram_hint){ stamp, r.pa, r.size, r.host };
	in = pa - r.pa;
	return r.size - in >= len ? r.host + in : NULL;
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

	ap__rcu_read_lock(); /* for the node, not the region: that is the caller's */
	found = ram_lookup(ctx, pa, &r);
	ap__rcu_read_unlock();
	if (!found || len > r.size - (pa - r.pa))
		return NULL;
	return r.host + (pa - r.pa);
}

/* ------------------------------------------------------------ table pool */

/*
 * The window's mapping outlives its context, for the next context that
 * wants one of the same size: a program that makes context after context
 * (a test suite, a fuzzer) then neither maps nor unmaps the window, nor
 * faults its pages in again.  What the last context left in its frames is
 * never read: a frame is cleared as it is handed out (pool_alloc_locked).
 * Only a window whose tables touched few chunks is kept, so that the memory
 * held for nobody stays small; one is kept at most.
 */
#define SPARE_MAX_CHUNKS 16 /* 32 MiB of backed pages */

static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *spare_host;
static size_t spare_bytes;

static uint8_t *window_map(size_t bytes)
{
	uint8_t *host = NULL;
	void *fresh;

	pthread_mutex_lock(&spare_lock);
	if (spare_host && spare_bytes == bytes) {
		host = spare_host;
		spare_host = NULL;
	}
	pthread_mutex_unlock(&spare_lock);
	if (host)
		return host;
	fresh = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		     -1, 0);
	return fresh == MAP_FAILED ? NULL : fresh;
}

/* Keep the mapping as the spare (the one kept before goes), or unmap it. */
static void window_unmap(uint8_t *host, size_t bytes, uint64_t chunks_touched)
{
	uint8_t *drop = host;
	size_t drop_bytes = bytes;

	if (chunks_touched <= SPARE_MAX_CHUNKS) {
		pthread_mutex_lock(&spare_lock);
		drop = spare_host;
		drop_bytes = spare_bytes;
		spare_host = host;
		spare_bytes = bytes;
		pthread_mutex_unlock(&spare_lock);
	}
	if (drop)
		munmap(drop, drop_bytes);
}

/*
 * The window is one mapping, reserved without a commit charge: a page
 * costs memory once a table first touches it, and stays with the context
 * (a chunk given back is counted as freed, and its pages are reused by the
 * next tables without faulting again).  One mapping also makes the host
 * address of a table a sum (ap_pt_mem's linear window), which the table
 * layer's walks use instead of a call per table.
 */
static int pool_set(struct ap_ctx *ctx, uint64_t base, uint64_t size)
{
	struct ap_pool *p = &ctx->pool;
	uint64_t frames = size >> AP_FRAME_SHIFT;
	uint64_t nchunks = (size + CHUNK_BYTES - 1) >> AP_POOL_CHUNK_SHIFT;
	uint8_t *host;

	p->used = ap__zalloc(ctx, ((frames + 63) / 64) * sizeof(uint64_t));
	p->chunks = ap__zalloc(ctx, nchunks * sizeof(*p->chunks));
	/* a frame's count is set as a table takes it (pt_tree.c's
	 * table_alloc), and read only while the table lives: not cleared, so
	 * that a window's pages of counts cost only where tables are */
	p->counts = ap__alloc(ctx, frames * sizeof(*p->counts));
	host = window_map(nchunks * CHUNK_BYTES);
	if (!p->used || !p->chunks || !p->counts || !host) {
		ap__free(ctx, p->used);
		ap__free(ctx, p->chunks);
		ap__free(ctx, p->counts);
		if (host)
			window_unmap(host, nchunks * CHUNK_BYTES, 0);
		p->used = NULL;
		p->chunks = NULL;
		p->counts = NULL;
		return ap__err(ctx, -ENOMEM, "out of memory for the page-table window");
	}
	p->host = host;
	p->host_bytes = nchunks * CHUNK_BYTES;
	p->base = base;
	p->size = size;
	p->hint = 0;
	p->chunks_touched = 0;
	/* the table layer follows descriptors into the window by a sum */
	ctx->ptmem.window_host = host;
	ctx->ptmem.window_pa = base;
	ctx->ptmem.window_size = size;
	ctx->ptmem.frame_counts = p->counts;
	return 0;
}

/* The provider without a window (none chosen, or forgotten). */
static void pool_unset_window(struct ap_ctx *ctx)
{
	ctx->ptmem.window_host = NULL;
	ctx->ptmem.window_pa = 0;
	ctx->ptmem.window_size = 0;
	ctx->ptmem.frame_counts = NULL;
}

static void pool_unmap(struct ap_pool *p)
{
	if (p->host)
		window_unmap(p->host, p->host_bytes, p->chunks_touched);
	p->host = NULL;
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
	ap__free(ctx, p->counts);
	pool_unmap(p);
	memset(p, 0, sizeof(*p));
	pool_unset_window(ctx);
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

/* Under pool_lock, the only writers' lock: a read-modify-write needs no
 * lock prefix, only single-copy-atomic stores for the readers. */
static void frames_mark(struct ap_pool *p, uint64_t first, uint64_t n, bool used)
{
	uint64_t i;

	for (i = first; i < first + n; i++) {
		uint64_t *w = &p->used[i / 64], bit = 1ull << (i % 64);
		uint64_t v = __atomic_load_n(w, __ATOMIC_RELAXED);

		__atomic_store_n(w, used ? v | bit : v & ~bit, __ATOMIC_RELAXED);
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

/* *full: no run of free frames (rather than no host memory). */
static void *pool_alloc_locked(struct ap_ctx *ctx, uint64_t n, uint64_t *pa, bool *full)
{
	struct ap_pool *p = &ctx->pool;
	uint64_t first = frames_find(p, n);
	struct ap_pool_chunk *c;
	uint8_t *host;

	*full = first == UINT64_MAX;
	if (*full)
		return NULL;
	c = &p->chunks[first / FRAMES_PER_CHUNK];
	if (!c->host) {
		if (!ap__charge(ctx, CHUNK_BYTES))
			return NULL;
		p->chunks_touched += !c->touched;
		c->touched = true;
		__atomic_store_n(&c->host, p->host + (first / FRAMES_PER_CHUNK) * CHUNK_BYTES,
				 __ATOMIC_RELEASE);
	}
	host = c->host + ((first % FRAMES_PER_CHUNK) << AP_FRAME_SHIFT);
	/* A frame freed a grace period ago has no reader left.  Under
	 * ThreadSanitizer the words are zeroed atomically, as they are read:
	 * the tool cannot see that the readers are gone. */
#ifdef AP_TSAN
	for (uint64_t i = 0; i < (n << AP_FRAME_SHIFT) / 8; i++)
		__atomic_store_n((uint64_t *)host + i, 0, __ATOMIC_RELAXED);
#else
	memset(host, 0, (size_t)(n << AP_FRAME_SHIFT));
#endif
	frames_mark(p, first, n, true);
	c->frames += (uint32_t)n;
	p->frames_used += n;
	if (n == 1 && first == p->hint)
		p->hint = first + 1;
	*pa = p->base + (first << AP_FRAME_SHIFT);
	return host;
}

/*
 * Frames freed tables wait in (ap__reclaim) may be what a new table needs:
 * outside a read-side section the allocation waits for them; inside one
 * (a map) it cannot, and marks the pool starved so that the map can give
 * them back and try again once it has left its section.
 */
static void *pool_alloc(void *cookie, size_t size, uint64_t *pa)
{
	struct ap_ctx *ctx = cookie;
	uint64_t n = frames_for(size);
	bool full;
	void *host;

	if (n > FRAMES_PER_CHUNK || ap__pool_ensure(ctx))
		return NULL;
	for (;;) {
		pthread_mutex_lock(&ctx->pool_lock);
		host = pool_alloc_locked(ctx, n, pa, &full);
		pthread_mutex_unlock(&ctx->pool_lock);
		if (host || !full || !ap__reclaim_pending(ctx))
			return host;
		if (ap__rcu_reading()) {
			__atomic_store_n(&ctx->pool_starved, true, __ATOMIC_RELAXED);
			return NULL;
		}
		ap__reclaim(ctx);
	}
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
		__atomic_store_n(&c->host, NULL, __ATOMIC_RELAXED);
		ap__uncharge(ctx, CHUNK_BYTES);
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

/*
 * Wait for a grace period and give back the table frames freed before it
 * began (and RAM nodes ap_ram_remove_many() left).  Not from inside a read-side section
 * (that would wait for itself): then it is left for a later call.
 */
void ap__reclaim(struct ap_ctx *ctx)
{
	struct ap_deferred *frees;
	struct ap_ram_node *gone;
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
	if (!n) {
		free(frees);
		return;
	}
	gone = graveyard_take(ctx); /* the grace period serves them too */
	ap__rcu_synchronize();
	ram_free_gone(ctx, gone);
	pthread_mutex_lock(&ctx->pool_lock);
	for (i = 0; i < n; i++)
		pool_release_locked(ctx, frees[i].pa, frees[i].size);
	pthread_mutex_unlock(&ctx->pool_lock);
	free(frees);
}

/*
 * Give back, after a grace period, the table frames freed since ndeferred
 * was `from`: a failed map's own tables, freed while it ran alone in its
 * domain (no other writer added to the list meanwhile).  What other
 * writers freed before stays for the next batch, so that a failed call
 * leaves the context holding exactly what it held before.
 */
void ap__reclaim_since(struct ap_ctx *ctx, size_t from)
{
	size_t i, n;

	if (ap__rcu_reading())
		return;
	ap__rcu_synchronize();
	pthread_mutex_lock(&ctx->pool_lock);
	n = ctx->ndeferred;
	for (i = from; i < n; i++)
		pool_release_locked(ctx, ctx->deferred[i].pa, ctx->deferred[i].size);
	if (from < n)
		__atomic_store_n(&ctx->ndeferred, from, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ctx->pool_lock);
}

/* Hints, read without the locks: a writer that just missed something
 * pending leaves it to the next one (nothing is lost, only delayed).
 * Anything waiting at all: */
bool ap__reclaim_pending(struct ap_ctx *ctx)
{
	return __atomic_load_n(&ctx->ndeferred, __ATOMIC_RELAXED) != 0;
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

static void ram_node_free(struct ap_avl_node *n, void *arg)
{
	struct ap_ram_node *x = RAM_NODE(n);

	if (x->r.owned)
		ap__free_ram(arg, x->r.host, x->r.size);
	ap__free(arg, x);
}

void ap__physmem_free(struct ap_ctx *ctx)
{
	struct ap_pool *p = &ctx->pool;
	size_t i;

	/* Nothing reads any more: what waited for a grace period goes now. */
	free(ctx->deferred);
	ctx->deferred = NULL;
	ctx->ndeferred = ctx->deferred_cap = 0;

	if (p->chunks) {
		for (i = 0; i < (p->size + CHUNK_BYTES - 1) >> AP_POOL_CHUNK_SHIFT; i++)
			if (p->chunks[i].host)
				ap__uncharge(ctx, CHUNK_BYTES);
	}
	ap__free(ctx, p->used);
	ap__free(ctx, p->chunks);
	ap__free(ctx, p->counts);
	pool_unmap(p);
	memset(p, 0, sizeof(*p));
	pool_unset_window(ctx);
	ap__avl_drain(&ctx->ram, ram_node_free, ctx);
	ram_free_gone(ctx, ctx->ram_gone);
	ctx->ram_gone = NULL;
}
