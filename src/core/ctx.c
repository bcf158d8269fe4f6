/* SPDX-License-Identifier: MIT */
/*
 * The context: error messages, the one allocator every object goes through
 * (so that failure injection and leak accounting see every allocation), and
 * the context's lifetime.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

/* Every block carries its size in front, so that frees can be accounted,
 * and how far in front of the header its allocation starts (0, or more
 * for a cache-line-aligned block). */
struct alloc_hdr {
	size_t size;
	size_t lead; /* also keeps the payload 16-byte aligned */
};

#define CACHE_LINE ((size_t)64)

/*
 * Error explanations belong to the thread that failed: two threads calling
 * into one context (maps of disjoint ranges, DMA) must not read each
 * other's, or a torn mix of both.  Each thread keeps the explanations of
 * the last ERR_SLOTS contexts it failed on, keyed by the context's serial
 * number (never reused, unlike its address), in a block of its own that
 * goes at the thread's exit.  The block is plain malloc: it outlives any
 * one context, so it is no context's memory, and failure injection must
 * not take away the words that explain a failure.
 */
#define ERR_SLOTS 8

struct err_slot {
	uint64_t ctx_serial; /* 0: free */
	uint64_t stamp;      /* when it was last written, for eviction */
	char msg[512];
};

struct err_block {
	uint64_t clock;
	struct err_slot slot[ERR_SLOTS];
};

static __thread struct err_block *err_block __attribute__((tls_model("initial-exec")));
static __thread bool err_lost __attribute__((tls_model("initial-exec")));
static pthread_key_t err_key;
static pthread_once_t err_once = PTHREAD_ONCE_INIT;
static bool err_key_ok;
static uint64_t ctx_serials;

static void err_block_free(void *block)
{
	free(block);
	err_block = NULL;
}

static void err_key_init(void)
{
	err_key_ok = !pthread_key_create(&err_key, err_block_free);
}

/* This thread's block, made on its first failure (NULL if it cannot be). */
static struct err_block *thread_errors(bool create)
{
	if (err_block || !create)
		return err_block;
	pthread_once(&err_once, err_key_init);
	err_block = calloc(1, sizeof(*err_block));
	if (err_block && err_key_ok)
		pthread_setspecific(err_key, err_block); /* freed at the thread's exit */
	return err_block;
}

/* The slot for ctx in this thread; with `create`, the least recently
 * written one is taken over if ctx has none. */
static struct err_slot *error_slot(const struct ap_ctx *ctx, bool create)
{
	struct err_block *b = thread_errors(create);
	struct err_slot *oldest;

	if (!b)
		return NULL;
	oldest = &b->slot[0];
	for (int i = 0; i < ERR_SLOTS; i++) {
		if (b->slot[i].ctx_serial == ctx->serial)
			return &b->slot[i];
		if (b->slot[i].stamp < oldest->stamp)
			oldest = &b->slot[i];
	}
	if (!create)
		return NULL;
	oldest->ctx_serial = ctx->serial;
	oldest->msg[0] = '\0';
	return oldest;
}

static void set_error(struct ap_ctx *ctx, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void set_error(struct ap_ctx *ctx, const char *fmt, va_list ap)
{
	struct err_slot *slot = error_slot(ctx, true);

	err_lost = !slot;
	if (!slot)
		return;
	slot->stamp = ++err_block->clock;
	vsnprintf(slot->msg, sizeof(slot->msg), fmt, ap);
}

int ap__err(struct ap_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(ctx, fmt, ap);
	va_end(ap);
	return err;
}

void ap_ctx_set_error(struct ap_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(ctx, fmt, ap);
	va_end(ap);
}

const char *ap_ctx_error(const struct ap_ctx *ctx)
{
	const struct err_slot *slot;

	if (!ctx)
		return "no context";
	slot = error_slot(ctx, false);
	if (slot)
		return slot->msg;
	return err_lost ? "(no memory to keep this thread's error message)" : "";
}

/* True if this allocation is the one the test asked to fail.  Threads may
 * allocate at once (map and unmap of one domain run in parallel): the
 * countdown is atomic, so exactly one allocation takes the failure. */
static bool inject_failure(struct ap_ctx *ctx)
{
	unsigned long n = __atomic_load_n(&ctx->fail_nth, __ATOMIC_RELAXED);

	while (n) {
		if (__atomic_compare_exchange_n(&ctx->fail_nth, &n, n - 1, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
			if (n != 1)
				return false;
			__atomic_store_n(&ctx->fail_fired, true, __ATOMIC_RELAXED);
			return true;
		}
	}
	return false;
}

static void account(struct ap_ctx *ctx, int64_t allocs, int64_t bytes)
{
	__atomic_add_fetch(&ctx->live_allocs, (uint64_t)allocs, __ATOMIC_RELAXED);
	__atomic_add_fetch(&ctx->live_bytes, (uint64_t)bytes, __ATOMIC_RELAXED);
}

void *ap__zalloc(struct ap_ctx *ctx, size_t size)
{
	struct alloc_hdr *h;

	if (inject_failure(ctx) || size > SIZE_MAX - sizeof(*h))
		return NULL;
	h = calloc(1, sizeof(*h) + size);
	if (!h)
		return NULL;
	h->size = size;
	account(ctx, 1, (int64_t)size);
	return h + 1;
}

/*
 * Anonymous mappings of up to SPARE_MAP_MAX bytes given back are kept, a
 * few for the whole process, for the next request of the same length and
 * flags: emptied by MADV_DONTNEED, their pages go back to the system and
 * read as zero again, as a fresh mapping's, and the next user is spared an
 * mmap and the last one a munmap (a program that makes context after
 * context, a test suite or a fuzzer, pays both for every IOTLB and every
 * bank of RAM otherwise).  A kept mapping holds address space, no memory.
 */
#define SPARE_MAPS 8
#define SPARE_MAP_MAX ((size_t)4 << 20)
#define LINES_MAP_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS)
#define RAM_MAP_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)

static pthread_mutex_t spare_map_lock = PTHREAD_MUTEX_INITIALIZER;
static struct spare_map {
	void *p;
	size_t len;
	int flags;
} spare_maps[SPARE_MAPS];

/* Zeroed anonymous memory: a kept mapping, or a fresh one (NULL if none). */
static void *anon_map(size_t len, int flags)
{
	void *p = NULL;

	pthread_mutex_lock(&spare_map_lock);
	for (unsigned i = 0; i < SPARE_MAPS && !p; i++)
		if (spare_maps[i].p && spare_maps[i].len == len && spare_maps[i].flags == flags) {
			p = spare_maps[i].p;
			spare_maps[i].p = NULL;
		}
	pthread_mutex_unlock(&spare_map_lock);
	if (p)
		return p;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Keep the mapping, emptied, if there is room; else unmap it. */
static void anon_unmap(void *p, size_t len, int flags)
{
	bool kept = false;

	if (len <= SPARE_MAP_MAX && !madvise(p, len, MADV_DONTNEED)) {
		pthread_mutex_lock(&spare_map_lock);
		for (unsigned i = 0; i < SPARE_MAPS && !kept; i++)
			if (!spare_maps[i].p) {
				spare_maps[i] = (struct spare_map){ p, len, flags };
				kept = true;
			}
		pthread_mutex_unlock(&spare_map_lock);
	}
	if (!kept)
		munmap(p, len);
}

/* Not zeroed: for an array whose every element is written before it is
 * read (clearing a large one costs its pages). */
void *ap__alloc(struct ap_ctx *ctx, size_t size)
{
	struct alloc_hdr *h;

	if (inject_failure(ctx) || size > SIZE_MAX - sizeof(*h))
		return NULL;
	h = malloc(sizeof(*h) + size);
	if (!h)
		return NULL;
	h->size = size;
	h->lead = 0;
	account(ctx, 1, (int64_t)size);
	return h + 1;
}

/* Blocks this large come straight from mmap: fresh anonymous pages read as
 * zero and cost nothing until touched, so a big IOTLB that sees little use
 * (most instances a test or a fuzzer makes) is neither cleared nor backed.
 * Their header says so with this lead. */
#define MMAP_MIN ((size_t)64 << 10)
#define MMAP_LEAD SIZE_MAX

/* Zeroed, and aligned to a cache line: for what threads share per line
 * (IOTLB sets, per-thread counters).  Freed with ap__free(). */
void *ap__zalloc_lines(struct ap_ctx *ctx, size_t size)
{
	struct alloc_hdr *h;
	char *base;

	if (inject_failure(ctx) || size > SIZE_MAX - 2 * CACHE_LINE)
		return NULL;
	if (size >= MMAP_MIN) {
		base = anon_map(CACHE_LINE + size, LINES_MAP_FLAGS);
		if (!base)
			return NULL;
	} else {
		/* aligned_alloc wants a multiple of the alignment */
		base = aligned_alloc(CACHE_LINE,
				     (CACHE_LINE + size + CACHE_LINE - 1) & ~(CACHE_LINE - 1));
		if (!base)
			return NULL;
		memset(base, 0, CACHE_LINE + size);
	}
	h = (struct alloc_hdr *)(base + CACHE_LINE) - 1;
	h->size = size;
	h->lead = size >= MMAP_MIN ? MMAP_LEAD : CACHE_LINE - sizeof(*h);
	account(ctx, 1, (int64_t)size);
	/* cppcheck-suppress memleak ; base is reached again through h->lead */
	return h + 1;
}

void ap__free(struct ap_ctx *ctx, void *p)
{
	struct alloc_hdr *h;

	if (!p)
		return;
	h = (struct alloc_hdr *)p - 1;
	account(ctx, -1, -(int64_t)h->size);
	if (h->lead == MMAP_LEAD)
		anon_unmap((char *)(h + 1) - CACHE_LINE, CACHE_LINE + h->size, LINES_MAP_FLAGS);
	else
		free((char *)h - h->lead);
}

/* Grow or shrink (not a cache-line-aligned block); the new tail is zeroed.
 * On failure p is untouched. */
static void *zrealloc(struct ap_ctx *ctx, void *p, size_t size)
{
	struct alloc_hdr *h, *g;
	size_t old;

	if (!p)
		return ap__zalloc(ctx, size);
	if (inject_failure(ctx) || size > SIZE_MAX - sizeof(*h))
		return NULL;
	h = (struct alloc_hdr *)p - 1;
	old = h->size;
	g = realloc(h, sizeof(*g) + size);
	if (!g)
		return NULL;
	if (size > old)
		memset((char *)(g + 1) + old, 0, size - old);
	g->size = size;
	account(ctx, 0, (int64_t)size - (int64_t)old);
	return g + 1;
}

void *ap_mem_alloc(struct ap_ctx *ctx, size_t size)
{
	return ctx ? ap__zalloc(ctx, size ? size : 1) : NULL;
}

void *ap_mem_realloc(struct ap_ctx *ctx, void *p, size_t size)
{
	return ctx ? zrealloc(ctx, p, size ? size : 1) : NULL;
}

void ap_mem_free(struct ap_ctx *ctx, void *p)
{
	if (ctx)
		ap__free(ctx, p);
}

/* Memory the context's own mappings provide (the table window) is counted
 * and open to failure injection as allocations are. */
bool ap__charge(struct ap_ctx *ctx, size_t size)
{
	if (inject_failure(ctx))
		return false;
	account(ctx, 1, (int64_t)size);
	return true;
}

void ap__uncharge(struct ap_ctx *ctx, size_t size)
{
	account(ctx, -1, -(int64_t)size);
}

/* RAM the context backs is anonymous memory reserved, not committed: a
 * page costs host memory only once something touches it, as a machine's
 * RAM costs nothing until used, so a script may describe more RAM than the
 * host has (MAP_NORESERVE: no swap is set aside for it either).  Fresh
 * anonymous pages read as zero.  Counted and failed like every other
 * allocation. */
void *ap__alloc_ram(struct ap_ctx *ctx, uint64_t size)
{
	void *p;

	if (inject_failure(ctx) || !size || size > SIZE_MAX / 2)
		return NULL;
	p = anon_map((size_t)size, RAM_MAP_FLAGS);
	if (!p)
		return NULL;
	account(ctx, 1, (int64_t)size);
	return p;
}

void ap__free_ram(struct ap_ctx *ctx, void *p, uint64_t size)
{
	if (!p)
		return;
	account(ctx, -1, -(int64_t)size);
	anon_unmap(p, (size_t)size, RAM_MAP_FLAGS);
}

int ap__check_name(struct ap_ctx *ctx, const char *what, const char *name)
{
	size_t len = name ? strlen(name) : 0;
	size_t i;

	if (len == 0 || len >= AP_NAME_MAX)
		return ap__err(ctx, -EINVAL, "%s name must be 1..%d characters", what,
			       AP_NAME_MAX - 1);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		/* say which byte, and why: a name is printable ASCII */
		if (c > '~')
			return ap__err(ctx, -EINVAL, "%s name has byte 0x%02x at offset %zu, which "
				       "is not ASCII: names are printable ASCII without blanks",
				       what, c, i);
		if (c < ' ' || c == 0x7f)
			return ap__err(ctx, -EINVAL, "%s name has control character 0x%02x at "
				       "offset %zu: names are printable ASCII without blanks",
				       what, c, i);
		if (c == ' ' || c == '#' || c == '=' || c == ',')
			return ap__err(ctx, -EINVAL,
				       "%s name '%s' may not contain blanks, '#', '=' or ','",
				       what, name);
	}
	return 0;
}

struct ap_ctx *ap_ctx_new(void)
{
	struct ap_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	ctx->serial = __atomic_add_fetch(&ctx_serials, 1, __ATOMIC_RELAXED);
	ctx->ram_stamp = ap__ram_stamp_new();
	pthread_mutex_init(&ctx->ram_lock, NULL);
	pthread_mutex_init(&ctx->pool_lock, NULL);
	ap__pool_init_mem(ctx);
	return ctx;
}

int ap_ctx_set_frontend(struct ap_ctx *ctx, const char *key, void *state,
			void (*destroy)(void *state))
{
	struct ap_frontend *f;
	int err;

	err = ap__check_name(ctx, "frontend key", key);
	if (err)
		return err;
	if (!state)
		return ap__err(ctx, -EINVAL, "frontend '%s' needs a state", key);
	if (ap_ctx_frontend(ctx, key))
		return ap__err(ctx, -EEXIST, "frontend '%s' already has its state", key);
	f = ap__zalloc(ctx, sizeof(*f));
	if (!f)
		return ap__err(ctx, -ENOMEM, "out of memory");
	strcpy(f->key, key);
	f->state = state;
	f->destroy = destroy;
	f->next = ctx->frontends;
	/* published whole: a layer may look its state up from other threads */
	__atomic_store_n(&ctx->frontends, f, __ATOMIC_RELEASE);
	return 0;
}

void *ap_ctx_frontend(const struct ap_ctx *ctx, const char *key)
{
	const struct ap_frontend *f;

	for (f = __atomic_load_n(&ctx->frontends, __ATOMIC_ACQUIRE); f && key; f = f->next)
		if (!strcmp(f->key, key))
			return f->state;
	return NULL;
}

/* Newest first, while every core object still exists. */
static void frontends_free(struct ap_ctx *ctx)
{
	while (ctx->frontends) {
		struct ap_frontend *f = ctx->frontends;

		ctx->frontends = f->next;
		if (f->destroy)
			f->destroy(f->state);
		ap__free(ctx, f);
	}
}

void ap_ctx_set_dma_write_observer(struct ap_ctx *ctx, ap_dma_write_observer fn, void *arg)
{
	/* arg before fn: a DMA that sees the new fn sees its arg (installing
	 * one while devices DMA is fine; see core.h for replacing one) */
	__atomic_store_n(&ctx->dma_write_arg, fn ? arg : NULL, __ATOMIC_RELAXED);
	__atomic_store_n(&ctx->dma_write_fn, fn, __ATOMIC_RELEASE);
}

void ap_ctx_free(struct ap_ctx *ctx)
{
	if (!ctx)
		return;
	/* nothing translates any more: the IOTLBs go without invalidations */
	ctx->freeing = true;
	frontends_free(ctx);
	ap__domains_free(ctx);
	ap__devices_free(ctx);
	ap__iommus_free(ctx);
	ap__physmem_free(ctx);
	pthread_mutex_destroy(&ctx->pool_lock);
	pthread_mutex_destroy(&ctx->ram_lock);
	free(ctx);
}

void ap_ctx_fail_nth(struct ap_ctx *ctx, unsigned long n)
{
	__atomic_store_n(&ctx->fail_fired, false, __ATOMIC_RELAXED);
	__atomic_store_n(&ctx->fail_nth, n, __ATOMIC_RELAXED);
}

bool ap_ctx_fail_fired(const struct ap_ctx *ctx)
{
	return __atomic_load_n(&ctx->fail_fired, __ATOMIC_RELAXED);
}

void ap_ctx_mem_stats(const struct ap_ctx *ctx, uint64_t *allocations, uint64_t *bytes)
{
	if (allocations)
		*allocations = __atomic_load_n(&ctx->live_allocs, __ATOMIC_RELAXED);
	if (bytes)
		*bytes = __atomic_load_n(&ctx->live_bytes, __ATOMIC_RELAXED);
}
