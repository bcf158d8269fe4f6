/* SPDX-License-Identifier: MIT */
/*
 * Hash indexes of objects the control path looks up by key (devices by
 * name and by stream, groups by number), so that adding the n-th device
 * costs O(1) expected instead of a walk of every list.  Open addressing
 * with linear probing over (hash, object) pairs; objects are never taken out
 * (devices and groups live as long as the context).  The table grows by
 * doubling before it is half full; growing is the only allocation, done
 * in two steps (prepare the bigger table, then move in) so that a caller
 * can prepare several and give them all back if one fails: a failed add
 * leaves every structure, and the memory held, as it was.
 */
#include <errno.h>

#include "internal.h"

#define INDEX_MIN_CAP 64

uint64_t ap__hash_bytes(const void *p, size_t len, uint64_t seed)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ull ^ seed; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return ap__hash_mix(h);
}

uint64_t ap__hash_mix(uint64_t x)
{
	x ^= x >> 30; /* splitmix64's finaliser: every input bit moves every output bit */
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void place(struct ap_index_slot *slot, size_t cap, void *obj, uint64_t h)
{
	size_t i = (size_t)h & (cap - 1);

	while (slot[i].obj)
		i = (i + 1) & (cap - 1);
	slot[i] = (struct ap_index_slot){ h, obj };
}

int ap__index_prepare(struct ap_ctx *ctx, const struct ap_index *ix, struct ap_index *grown)
{
	*grown = (struct ap_index){ 0 };
	if ((ix->n + 1) * 2 <= ix->cap)
		return 0;
	grown->cap = ix->cap ? ix->cap * 2 : INDEX_MIN_CAP;
	grown->slot = ap__zalloc(ctx, grown->cap * sizeof(*grown->slot));
	return grown->slot ? 0 : -ENOMEM;
}

void ap__index_commit(struct ap_ctx *ctx, struct ap_index *ix, struct ap_index *grown)
{
	if (!grown->slot)
		return;
	for (size_t i = 0; i < ix->cap; i++)
		if (ix->slot[i].obj)
			place(grown->slot, grown->cap, ix->slot[i].obj, ix->slot[i].hash);
	ap__free(ctx, ix->slot);
	ix->slot = grown->slot;
	ix->cap = grown->cap;
	*grown = (struct ap_index){ 0 };
}

void ap__index_insert(struct ap_index *ix, void *obj, uint64_t h)
{
	place(ix->slot, ix->cap, obj, h);
	ix->n++;
}

/* The hash is kept beside each pointer so that a probe past another key
 * touches no object (each would be a cache miss in a large machine). */
void *ap__index_find(const struct ap_index *ix, uint64_t h,
		     bool (*match)(const void *obj, const void *key), const void *key)
{
	if (!ix->cap)
		return NULL;
	for (size_t i = (size_t)h & (ix->cap - 1); ix->slot[i].obj; i = (i + 1) & (ix->cap - 1))
		if (ix->slot[i].hash == h && match(ix->slot[i].obj, key))
			return ix->slot[i].obj;
	return NULL;
}

void ap__index_free(struct ap_ctx *ctx, struct ap_index *ix)
{
	ap__free(ctx, ix->slot);
	*ix = (struct ap_index){ 0 };
}
