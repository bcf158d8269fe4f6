/* SPDX-License-Identifier: MIT */
/*
 * An intrusive AVL tree with subtree counts: insert, erase, neighbours and
 * the index-th node in O(log n).  It knows no keys: a caller descends the
 * tree itself (ap__avl_child) to find where a node goes or what it looks for,
 * as with Linux's rbtree, so one implementation serves every index of the
 * library (the core's RAM regions by physical address, a VFIO container's
 * mappings by IOVA).
 *
 * Threads.  Writers must be serialised by the caller.  Every link and count
 * a writer changes is stored atomically with release order, and a node's
 * fields are set before the store that links it, so a reader may descend
 * while a writer works, through ap__avl_root/ap__avl_child/ap__avl_count
 * (acquire loads), provided that
 *   - it detects a concurrent change and retries (a seqlock around the
 *     writer, as physmem.c does): a rotation can hide a node for a moment;
 *   - it bounds its steps (AP_AVL_MAX_STEPS): a rotation seen half done may
 *     lead a descent in a circle until the writer finishes;
 *   - an erased node's memory stays readable until every such reader has
 *     finished (RCU): an erased node keeps its links into the tree.
 */
#ifndef AP_UTIL_AVL_H
#define AP_UTIL_AVL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* More than the height of any AVL tree that fits in memory (1.44 log2 n). */
#define AP_AVL_MAX_STEPS 128

struct ap_avl_node {
	struct ap_avl_node *link[2]; /* [0] lower keys, [1] higher */
	struct ap_avl_node *parent;  /* writers only */
	size_t count;                /* nodes in this subtree, itself included */
	int height;                  /* writers only; a leaf is 1 */
};

struct ap_avl {
	struct ap_avl_node *root;
};

/* The struct a node is embedded in (const or not: the caller knows). */
#define AP_AVL_ENTRY(node, type, member) \
	((type *)(uintptr_t)((const char *)(node) - offsetof(type, member)))

/* Readers' loads (acquire); writers may use them too. */
static inline struct ap_avl_node *ap__avl_root(const struct ap_avl *t)
{
	return __atomic_load_n(&t->root, __ATOMIC_ACQUIRE);
}

static inline struct ap_avl_node *ap__avl_child(const struct ap_avl_node *n, int dir)
{
	return __atomic_load_n(&n->link[dir], __ATOMIC_ACQUIRE);
}

static inline size_t ap__avl_count(const struct ap_avl_node *n)
{
	return n ? __atomic_load_n(&n->count, __ATOMIC_ACQUIRE) : 0;
}

/* Nodes in the tree. */
static inline size_t ap__avl_size(const struct ap_avl *t)
{
	return ap__avl_count(ap__avl_root(t));
}

/*
 * Link `node` as child `dir` (0 or 1) of `parent`, which has none there (or
 * as the root of an empty tree: parent NULL), then rebalance.  The caller
 * found the place by descending with its own key order.
 */
void ap__avl_insert(struct ap_avl *t, struct ap_avl_node *parent, int dir,
		    struct ap_avl_node *node);

/* Unlink `node` and rebalance; node's own links are left as they were. */
void ap__avl_erase(struct ap_avl *t, struct ap_avl_node *node);

/* In-order neighbours and ends; NULL past either end.  Writers only (they
 * follow parent links). */
struct ap_avl_node *ap__avl_first(const struct ap_avl *t);
struct ap_avl_node *ap__avl_last(const struct ap_avl *t);
struct ap_avl_node *ap__avl_next(const struct ap_avl_node *n);
struct ap_avl_node *ap__avl_prev(const struct ap_avl_node *n);

/* The index-th node in order (0-based), NULL past the last.  Safe for
 * readers under the rules above (returns NULL if it ran out of steps). */
struct ap_avl_node *ap__avl_at(const struct ap_avl *t, size_t index);

/*
 * Empty the tree, calling fn on every node, children before their parent
 * (so fn may free the node).  O(n), no allocation.
 */
void ap__avl_drain(struct ap_avl *t, void (*fn)(struct ap_avl_node *node, void *arg), void *arg);

#endif /* AP_UTIL_AVL_H */
