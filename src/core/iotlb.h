/* SPDX-License-Identifier: MIT */
/*
 * The IOTLB of one IOMMU instance: leaf translations cached at their real
 * size (4K, 2M, 1G, ...) with the access values they allow, tagged by the
 * domain's ASID/VMID (SMMU) or domain ID (VT-d) on that instance.
 *
 * Set-associative: a set is one cache line of two ways.  A translation of
 * size 2^s for iova lives in set hash(tag, iova >> s, s); a lookup probes the
 * sets of the leaf sizes its attachment has filled (ap_attachment.filled),
 * smallest first: a domain mapped with 4K pages only costs one set a miss,
 * not one per size its tables could hold.  The bit of a size is set before
 * the first entry of that size is filled, and a fill reads the bits (with
 * a sequentially consistent load) before its walk (translate.c).  So an
 * unmap that cleared descriptors, issued a sequentially consistent fence
 * and then finds a size's bit clear knows that no entry of that size is
 * cached for the domain on that instance and that no walk still in flight
 * read what it cleared (walks read descriptors sequentially consistently,
 * pgtable.h): it sends that instance no invalidation (domain.c).  A
 * domain nobody translated through costs an unmap a fence, not a set.
 *
 * Readers take no lock.  Each way is a seqlock: its `meta` word holds a
 * sequence number (odd while a writer owns the way) with the tag and the
 * allowed access values, and a reader that sees meta change under it treats
 * the way as a miss.  Writers own a way by compare-and-swap of meta.
 *
 * Strict invalidation needs one more thing: a walk that read a descriptor
 * before an unmap cleared it must not put the old translation into the
 * IOTLB after the unmap's invalidation has passed.  Every set has a
 * generation that invalidation bumps before it looks at the set's ways; a
 * filler reads the generations of its candidate sets before it walks and
 * gives up the fill if the one it fills has moved on.  Both sides use
 * sequentially consistent operations, so either the filler sees the new
 * generation or the invalidation sees the filler's way (and waits for it).
 */
#ifndef AP_CORE_IOTLB_H
#define AP_CORE_IOTLB_H

#include <stdbool.h>
#include <stdint.h>

/* For the probes of the hit path (see ap__iotlb_lookup()). */
#define AP_ALWAYS_INLINE inline __attribute__((always_inline))

#define AP_IOTLB_WAYS 2
#define AP_IOTLB_STAT_SHARDS 64
#define AP_IOTLB_MAX_SIZES 8 /* leaf sizes one lookup probes, at most */

struct ap_iotlb_way {
	/* bits 0-31 sequence (odd: being written), 32-47 tag (0: empty),
	 * 48-63 allowed access values */
	uint64_t meta;
	uint64_t key; /* iova of the leaf's first byte | log2 of its size */
	uint64_t pa;  /* output of the leaf's first byte | its prot (bits 0-7) */
};

/* The fields of a way's meta and pa words, as laid out above. */
#define AP_IOTLB_PA_PROT_MASK 0xffull

static inline uint64_t ap__iotlb_meta_of(uint32_t seq, uint16_t tag, uint16_t allowed)
{
	return seq | ((uint64_t)tag << 32) | ((uint64_t)allowed << 48);
}

static inline uint32_t ap__iotlb_meta_seq(uint64_t meta)
{
	return (uint32_t)meta;
}

static inline uint16_t ap__iotlb_meta_tag(uint64_t meta)
{
	return (uint16_t)(meta >> 32);
}

static inline uint16_t ap__iotlb_meta_allowed(uint64_t meta)
{
	return (uint16_t)(meta >> 48);
}

struct ap_iotlb_set {
	struct ap_iotlb_way way[AP_IOTLB_WAYS];
	uint32_t gen;    /* bumped by every invalidation that looks here */
	uint32_t victim; /* next way to replace */
} __attribute__((aligned(64)));

/* Per-thread counters, one cache line each, so readers never share one. */
struct ap_iotlb_shard {
	uint64_t hits, misses, walks, fills, invalidations, dropped;
} __attribute__((aligned(64)));

struct ap_iotlb {
	struct ap_iotlb_set *sets;
	uint32_t set_mask;      /* sets - 1; no sets: no IOTLB */
	struct ap_iotlb_shard shard[AP_IOTLB_STAT_SHARDS];
};

/* A hit: what the cached leaf gives for the address looked up. */
struct ap_iotlb_hit {
	uint64_t pa;    /* translated address */
	uint64_t size;  /* bytes from it to the end of the leaf */
	unsigned prot;  /* enum ap_prot of the leaf */
};

/* The leaf sizes a lookup probes (log2, smallest first). */
struct ap_iotlb_sizes {
	unsigned n;
	uint8_t shift[AP_IOTLB_MAX_SIZES];
};

/* For a fill: the sets of the sizes a lookup probed for one IOVA, and
 * their generations as they were before the walk. */
struct ap_iotlb_probe {
	unsigned n;
	uint8_t shift[AP_IOTLB_MAX_SIZES];
	uint32_t gen[AP_IOTLB_MAX_SIZES];
	struct ap_iotlb_set *set[AP_IOTLB_MAX_SIZES];
};

/* This thread's counter shard + 1 (0: not chosen yet). */
extern __thread unsigned ap__iotlb_tls_shard __attribute__((tls_model("initial-exec")));
unsigned ap__iotlb_pick_shard(void);

/* This thread's shard of an IOTLB's `shards` array. */
static inline struct ap_iotlb_shard *ap__iotlb_shard_in(struct ap_iotlb_shard *shards)
{
	unsigned s = ap__iotlb_tls_shard;

	return &shards[s ? s - 1 : ap__iotlb_pick_shard()];
}

static inline struct ap_iotlb_shard *ap__iotlb_shard(struct ap_iotlb *t)
{
	return ap__iotlb_shard_in(t->shard);
}

/* Counters: this thread's shard only, so plain relaxed load and store;
 * threads beyond the shard count share, and may lose a count, never more. */
static inline void ap__iotlb_count_n(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline void ap__iotlb_count(uint64_t *c)
{
	ap__iotlb_count_n(c, 1);
}

static inline struct ap_iotlb_set *ap__iotlb_set_in(struct ap_iotlb_set *sets, uint32_t mask,
						    uint16_t tag, uint64_t iova, unsigned shift)
{
	/* A multiplicative hash: ranges a power of two apart (two threads'
	 * buffers, two domains' identical layouts) must not share sets, as
	 * they would if low page bits picked the set. */
	uint64_t h = ((iova >> shift) ^ ((uint64_t)tag << 40) ^ ((uint64_t)shift << 58)) *
		     0x9e3779b97f4a7c15ull;

	return &sets[(h >> 32) & mask];
}

static inline struct ap_iotlb_set *ap__iotlb_set(const struct ap_iotlb *t, uint16_t tag,
						 uint64_t iova, unsigned shift)
{
	return ap__iotlb_set_in(t->sets, t->set_mask, tag, iova, shift);
}

/* Look iova up in one way; true on a hit allowing `access`.  The tag and
 * the "being written" bit are one masked compare. */
static AP_ALWAYS_INLINE bool ap__iotlb_way_hit(const struct ap_iotlb_way *w, uint16_t tag,
					       uint64_t iova, unsigned shift, unsigned access,
					       struct ap_iotlb_hit *out)
{
	uint64_t meta = __atomic_load_n(&w->meta, __ATOMIC_ACQUIRE);
	uint64_t off = iova & ((1ull << shift) - 1);
	uint64_t key, pa;

	if ((meta & (0xffffull << 32 | 1)) != (uint64_t)tag << 32 ||
	    !(ap__iotlb_meta_allowed(meta) >> (access & 15) & 1))
		return false;
	/* Acquire loads keep the re-read of meta after them (no fence:
	 * free on x86, and visible to ThreadSanitizer). */
	key = __atomic_load_n(&w->key, __ATOMIC_ACQUIRE);
	if (key != ((iova - off) | shift))
		return false;
	pa = __atomic_load_n(&w->pa, __ATOMIC_ACQUIRE);
	if (__atomic_load_n(&w->meta, __ATOMIC_RELAXED) != meta)
		return false;
	out->pa = (pa & ~AP_IOTLB_PA_PROT_MASK) + off;
	out->size = (1ull << shift) - off;
	out->prot = (unsigned)(pa & AP_IOTLB_PA_PROT_MASK);
	return true;
}

/* Look iova up in one set, for leaves of 2^shift bytes. */
static AP_ALWAYS_INLINE bool ap__iotlb_set_hit(const struct ap_iotlb_set *set, uint16_t tag,
					       uint64_t iova, unsigned shift, unsigned access,
					       struct ap_iotlb_hit *out)
{
	_Static_assert(AP_IOTLB_WAYS == 2, "one test a way, written out");
	return ap__iotlb_way_hit(&set->way[0], tag, iova, shift, access, out) ||
	       ap__iotlb_way_hit(&set->way[1], tag, iova, shift, access, out);
}

/*
 * The hit path: probe the sets (of an IOTLB's `sets` and `mask`) of the
 * sizes in `shifts` (bit s: leaves of 2^s bytes) for iova, smallest first.
 * Tag 0 never hits.  Always inlined, like the set and way probes: called
 * out of line, the hit it fills would live in memory, and the caller's
 * 16-byte reload of its two 8-byte stores misses store forwarding (a
 * stall of about 3 ns per translation, seen with perf on ap_translate).
 */
static AP_ALWAYS_INLINE bool ap__iotlb_lookup(struct ap_iotlb_set *sets, uint32_t mask,
					      uint64_t shifts, uint16_t tag, uint64_t iova,
					      unsigned access, struct ap_iotlb_hit *out)
{
	for (; shifts; shifts &= shifts - 1) {
		unsigned shift = (unsigned)__builtin_ctzll(shifts);
		if (ap__iotlb_set_hit(ap__iotlb_set_in(sets, mask, tag, iova, shift), tag, iova,
				      shift, access, out))
			return true;
	}
	return false;
}

int ap__iotlb_init(struct ap_iotlb *t, unsigned entries, void *(*zalloc)(void *, size_t),
		   void *cookie);
/* Sizes a lookup probes for tables whose leaves may be any of pgsizes. */
void ap__iotlb_sizes(struct ap_iotlb_sizes *s, uint64_t pgsizes);
/* Before a walk: the generations of the sets iova could be filled into,
 * those of the sizes in `shifts` (bit s: 2^s bytes). */
void ap__iotlb_fill_begin(struct ap_iotlb *t, uint64_t shifts, struct ap_iotlb_probe *p,
			  uint16_t tag, uint64_t iova);
/* After a walk that found the leaf [base, base + 2^shift) -> pa: filled if
 * its size is one of p's and no invalidation looked at its set since. */
void ap__iotlb_fill(struct ap_iotlb *t, const struct ap_iotlb_probe *p, uint16_t tag,
		    uint64_t base, unsigned shift, uint64_t pa, unsigned prot, uint16_t allowed);
/* The way a fill of `key` takes: the one holding it already, else an
 * empty one, else the set's next victim. */
static inline struct ap_iotlb_way *ap__iotlb_fill_way(struct ap_iotlb_set *set, uint16_t tag,
						      uint64_t key)
{
	struct ap_iotlb_way *empty = NULL;
	unsigned w, v;

	for (w = 0; w < AP_IOTLB_WAYS; w++) {
		uint16_t has = ap__iotlb_meta_tag(__atomic_load_n(&set->way[w].meta, __ATOMIC_RELAXED));

		if (has == tag && __atomic_load_n(&set->way[w].key, __ATOMIC_RELAXED) == key)
			return &set->way[w];
		if (!has && !empty)
			empty = &set->way[w];
	}
	if (empty)
		return empty;
	v = __atomic_load_n(&set->victim, __ATOMIC_RELAXED);
	__atomic_store_n(&set->victim, v + 1, __ATOMIC_RELAXED);
	return &set->way[v % AP_IOTLB_WAYS];
}

/*
 * The fill of one set, whose generation was `gen` before the walk that
 * found the leaf (key: its first byte | log2 of its size): true if the
 * entry went in (the caller counts it).  Inline: every miss runs it.
 */
static inline bool ap__iotlb_fill_set(struct ap_iotlb_set *set, uint32_t gen, uint16_t tag,
				      uint64_t key, uint64_t pa, unsigned prot, uint16_t allowed)
{
	struct ap_iotlb_way *w;
	uint64_t meta;

	if (!tag)
		return false;
	w = ap__iotlb_fill_way(set, tag, key);
	meta = __atomic_load_n(&w->meta, __ATOMIC_RELAXED);
	if ((meta & 1) ||
	    !__atomic_compare_exchange_n(&w->meta, &meta, meta | 1, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_RELAXED))
		return false; /* another writer has the way: skip, the next miss fills */
	if (__atomic_load_n(&set->gen, __ATOMIC_SEQ_CST) != gen) {
		/* An invalidation passed since our walk began: what we read
		 * may be stale.  Leave the way as it was. */
		__atomic_store_n(&w->meta, meta, __ATOMIC_RELEASE);
		return false;
	}
	__atomic_store_n(&w->key, key, __ATOMIC_RELEASE);
	__atomic_store_n(&w->pa, pa | (prot & AP_IOTLB_PA_PROT_MASK), __ATOMIC_RELEASE);
	__atomic_store_n(&w->meta, ap__iotlb_meta_of(ap__iotlb_meta_seq(meta) + 2, tag, allowed),
			 __ATOMIC_RELEASE);
	return true;
}
/* Drop tag's entries that overlap [first, last] and are leaves of a size
 * both in p and in the bitmap `sizes` (the leaves an unmap removed). */
void ap__iotlb_invalidate(struct ap_iotlb *t, const struct ap_iotlb_sizes *p, uint16_t tag,
			  uint64_t first, uint64_t last, uint64_t sizes);
void ap__iotlb_invalidate_tag(struct ap_iotlb *t, uint16_t tag);
/* Out of line for ap__iotlb_invalidate_leaf: a way that may hold what it
 * drops (being written, or tag's), dropped if it overlaps [first, last]. */
bool ap__iotlb_drop_way(struct ap_iotlb_way *w, uint16_t tag, uint64_t first, uint64_t last);

/* An invalidation command and what it dropped, in this thread's shard:
 * parallel unmaps must not share a counter line. */
static inline void ap__iotlb_count_invalidation(struct ap_iotlb *t, uint64_t dropped)
{
	struct ap_iotlb_shard *s = ap__iotlb_shard(t);

	ap__iotlb_count(&s->invalidations);
	if (dropped)
		ap__iotlb_count_n(&s->dropped, dropped);
}

/*
 * ap__iotlb_invalidate() of one leaf, [base, base + 2^shift) of a size
 * `shift` that lookups probe: the common unmap of one page, inline.  The
 * generation bump is the one full barrier strictness needs (iotlb.h); a
 * way is looked at closer only if it may be the leaf's.
 */
static inline void ap__iotlb_invalidate_leaf(struct ap_iotlb *t, uint16_t tag, uint64_t base,
					     unsigned shift)
{
	struct ap_iotlb_set *set = ap__iotlb_set(t, tag, base, shift);
	uint64_t dropped = 0, last = base + ((1ull << shift) - 1);
	unsigned w;

	__atomic_add_fetch(&set->gen, 1, __ATOMIC_SEQ_CST);
	for (w = 0; w < AP_IOTLB_WAYS; w++) {
		uint64_t meta = __atomic_load_n(&set->way[w].meta, __ATOMIC_SEQ_CST);

		if ((meta & 1) || ap__iotlb_meta_tag(meta) == tag)
			dropped += ap__iotlb_drop_way(&set->way[w], tag, base, last);
	}
	ap__iotlb_count_invalidation(t, dropped);
}
void ap__iotlb_invalidate_all(struct ap_iotlb *t);

#endif /* AP_CORE_IOTLB_H */
