/* SPDX-License-Identifier: MIT */
/*
 * The IOTLB (iotlb.h): fills after walks, and invalidation by range, by tag
 * and of everything.  Lookups are inline in iotlb.h, for the hit path.
 */
#include <sched.h>
#include <stddef.h>

#include "iotlb.h"

#define KEY_SHIFT_MASK 0x3full

__thread unsigned ap__iotlb_tls_shard __attribute__((tls_model("initial-exec")));
static unsigned next_shard;

/* Threads take shards in turn; the 65th shares with the first. */
unsigned ap__iotlb_pick_shard(void)
{
	unsigned s = __atomic_fetch_add(&next_shard, 1, __ATOMIC_RELAXED) % AP_IOTLB_STAT_SHARDS;

	ap__iotlb_tls_shard = s + 1;
	return s;
}

int ap__iotlb_init(struct ap_iotlb *t, unsigned entries, void *(*zalloc)(void *, size_t),
		   void *cookie)
{
	unsigned nsets = entries / AP_IOTLB_WAYS;

	t->set_mask = 0;
	t->sets = NULL;
	if (!nsets)
		return 0;
	t->sets = zalloc(cookie, nsets * sizeof(*t->sets));
	if (!t->sets)
		return -1;
	t->set_mask = nsets - 1;
	return 0;
}

void ap__iotlb_sizes(struct ap_iotlb_sizes *p, uint64_t pgsizes)
{
	p->n = 0;
	while (pgsizes && p->n < AP_IOTLB_MAX_SIZES) {
		p->shift[p->n++] = (uint8_t)__builtin_ctzll(pgsizes);
		pgsizes &= pgsizes - 1;
	}
}

void ap__iotlb_fill_begin(struct ap_iotlb *t, uint64_t shifts, struct ap_iotlb_probe *p,
			  uint16_t tag, uint64_t iova)
{
	unsigned n = 0;

	for (; shifts && n < AP_IOTLB_MAX_SIZES; shifts &= shifts - 1, n++) {
		p->shift[n] = (uint8_t)__builtin_ctzll(shifts);
		p->set[n] = ap__iotlb_set(t, tag, iova, p->shift[n]);
		p->gen[n] = __atomic_load_n(&p->set[n]->gen, __ATOMIC_SEQ_CST);
	}
	p->n = n;
}

void ap__iotlb_fill(struct ap_iotlb *t, const struct ap_iotlb_probe *p, uint16_t tag,
		    uint64_t base, unsigned shift, uint64_t pa, unsigned prot, uint16_t allowed)
{
	unsigned i;

	for (i = 0; i < p->n && p->shift[i] != shift; i++)
		;
	if (i == p->n)
		return; /* no generation from before the walk: cannot be exact */
	if (ap__iotlb_fill_set(p->set[i], p->gen[i], tag, base | shift, pa, prot, allowed))
		ap__iotlb_count(&ap__iotlb_shard(t)->fills);
}

static bool key_overlaps(uint64_t key, uint64_t first, uint64_t last)
{
	uint64_t base = key & ~KEY_SHIFT_MASK;
	uint64_t end = base + ((1ull << (key & KEY_SHIFT_MASK)) - 1);

	return base <= last && first <= end;
}

/*
 * Empty the way if it holds one of tag's entries (any tag when tag is 0)
 * overlapping [first, last].  A way being written is waited for: its
 * writer checked the set's generation before we bumped it, so what it
 * writes may be what we must drop.
 */
bool ap__iotlb_drop_way(struct ap_iotlb_way *w, uint16_t tag, uint64_t first, uint64_t last)
{
	unsigned spins = 0;

	for (;;) {
		uint64_t meta = __atomic_load_n(&w->meta, __ATOMIC_SEQ_CST);
		uint64_t key, emptied;

		if (meta & 1) {
			if (++spins % 64 == 0)
				sched_yield(); /* its writer may be preempted */
			continue;
		}
		if (!ap__iotlb_meta_tag(meta) || (tag && ap__iotlb_meta_tag(meta) != tag))
			return false;
		key = __atomic_load_n(&w->key, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&w->meta, __ATOMIC_RELAXED) != meta)
			continue;
		if (!key_overlaps(key, first, last))
			return false;
		emptied = ap__iotlb_meta_of(ap__iotlb_meta_seq(meta) + 2, 0, 0);
		if (__atomic_compare_exchange_n(&w->meta, &meta, emptied, false, __ATOMIC_SEQ_CST,
						__ATOMIC_RELAXED))
			return true;
	}
}

static uint64_t drop_in_set(struct ap_iotlb_set *set, uint16_t tag, uint64_t first,
			    uint64_t last)
{
	uint64_t n = 0;
	unsigned w;

	__atomic_add_fetch(&set->gen, 1, __ATOMIC_SEQ_CST);
	for (w = 0; w < AP_IOTLB_WAYS; w++)
		n += ap__iotlb_drop_way(&set->way[w], tag, first, last);
	return n;
}

static uint64_t drop_everywhere(struct ap_iotlb *t, uint16_t tag, uint64_t first,
				uint64_t last)
{
	uint64_t n = 0, s;

	for (s = 0; s <= t->set_mask; s++)
		n += drop_in_set(&t->sets[s], tag, first, last);
	return n;
}


/*
 * Range invalidation, page by page of each size removed, as SMMUv3's range
 * TLBI commands go; past one probe per set it costs less to invalidate the
 * whole tag in one pass over the sets, as Linux's SMMUv3 driver switches to
 * invalidating the whole ASID or VMID beyond its command limit.
 */
void ap__iotlb_invalidate(struct ap_iotlb *t, const struct ap_iotlb_sizes *p, uint16_t tag,
			  uint64_t first, uint64_t last, uint64_t sizes)
{
	uint64_t dropped = 0, page, probes = 0;
	unsigned i;

	if (!t->sets || !tag)
		return;
	/* One leaf (a page-sized unmap): one set, the common case. */
	if (!(sizes & (sizes - 1)) && last - first == sizes - 1 && !(first & (sizes - 1))) {
		unsigned s = (unsigned)__builtin_ctzll(sizes);

		for (i = 0; i < p->n && p->shift[i] != s; i++)
			;
		if (i < p->n)
			ap__iotlb_count_invalidation(t, drop_in_set(ap__iotlb_set(t, tag, first, s), tag,
							  first, last));
		return;
	}
	for (i = 0; i < p->n; i++)
		if (sizes >> p->shift[i] & 1)
			probes += (last >> p->shift[i]) - (first >> p->shift[i]) + 1;
	if (probes > t->set_mask) {
		ap__iotlb_count_invalidation(t, drop_everywhere(t, tag, 0, UINT64_MAX));
		return;
	}
	for (i = 0; i < p->n; i++) {
		unsigned s = p->shift[i];

		if (!(sizes >> s & 1))
			continue;
		for (page = first >> s; page <= last >> s; page++)
			dropped += drop_in_set(ap__iotlb_set(t, tag, page << s, s), tag, first,
					       last);
	}
	ap__iotlb_count_invalidation(t, dropped);
}

void ap__iotlb_invalidate_tag(struct ap_iotlb *t, uint16_t tag)
{
	if (!t->sets || !tag)
		return;
	ap__iotlb_count_invalidation(t, drop_everywhere(t, tag, 0, UINT64_MAX));
}

void ap__iotlb_invalidate_all(struct ap_iotlb *t)
{
	if (!t->sets)
		return;
	ap__iotlb_count_invalidation(t, drop_everywhere(t, 0, 0, UINT64_MAX));
}
