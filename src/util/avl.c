/* SPDX-License-Identifier: MIT */
/*
 * The AVL tree of avl.h.  Heights and counts are kept in every node; a
 * change walks from the changed node to the root, fixing both and rotating
 * where the heights of two siblings differ by two.
 *
 * Stores that a concurrent reader may see (links, counts, the root) are
 * atomic with release order; the order of the stores in a rotation keeps a
 * reader from seeing two nodes that point at each other for longer than
 * one store.
 */
#include <stdint.h>

#include "avl.h"

static void set_link(struct ap_avl_node *n, int dir, struct ap_avl_node *child)
{
	__atomic_store_n(&n->link[dir], child, __ATOMIC_RELEASE);
}

static int height(const struct ap_avl_node *n)
{
	return n ? n->height : 0;
}

/* Height and count of n from its children's. */
static void update(struct ap_avl_node *n)
{
	int hl = height(n->link[0]), hr = height(n->link[1]);
	size_t count = 1 + ap__avl_count(n->link[0]) + ap__avl_count(n->link[1]);

	n->height = 1 + (hl > hr ? hl : hr);
	if (count != n->count)
		__atomic_store_n(&n->count, count, __ATOMIC_RELEASE);
}

/* Make `now` take `old`'s place under `parent` (or as the root). */
static void replace_child(struct ap_avl *t, struct ap_avl_node *parent, struct ap_avl_node *old,
			  struct ap_avl_node *now)
{
	if (!parent)
		__atomic_store_n(&t->root, now, __ATOMIC_RELEASE);
	else
		set_link(parent, parent->link[1] == old, now);
}

/*
 * Rotate x down in direction dir: its child on the other side, y, takes its
 * place and x becomes y's child on side dir.  Returns y.
 */
static struct ap_avl_node *rotate(struct ap_avl *t, struct ap_avl_node *x, int dir)
{
	struct ap_avl_node *y = x->link[!dir], *b = y->link[dir], *p = x->parent;

	/* x lets go of y before y takes x: never a cycle of two */
	set_link(x, !dir, b);
	if (b)
		b->parent = x;
	set_link(y, dir, x);
	x->parent = y;
	replace_child(t, p, x, y);
	y->parent = p;
	update(x);
	update(y);
	return y;
}

/* Balance n's subtree if its sides differ by two; the subtree's root. */
static struct ap_avl_node *balance(struct ap_avl *t, struct ap_avl_node *n)
{
	int bf = height(n->link[0]) - height(n->link[1]);

	if (bf > 1) {
		struct ap_avl_node *l = n->link[0];

		if (height(l->link[0]) < height(l->link[1]))
			rotate(t, l, 0);
		return rotate(t, n, 1);
	}
	if (bf < -1) {
		struct ap_avl_node *r = n->link[1];

		if (height(r->link[1]) < height(r->link[0]))
			rotate(t, r, 1);
		return rotate(t, n, 0);
	}
	return n;
}

/* From n up to the root: fix heights and counts, rebalance. */
static void retrace(struct ap_avl *t, struct ap_avl_node *n)
{
	while (n) {
		update(n);
		n = balance(t, n)->parent;
	}
}

void ap__avl_insert(struct ap_avl *t, struct ap_avl_node *parent, int dir,
		    struct ap_avl_node *node)
{
	node->link[0] = node->link[1] = NULL;
	node->parent = parent;
	node->count = 1;
	node->height = 1;
	/* published by the release store below, with its fields */
	if (parent)
		set_link(parent, dir, node);
	else
		__atomic_store_n(&t->root, node, __ATOMIC_RELEASE);
	retrace(t, parent);
}

void ap__avl_erase(struct ap_avl *t, struct ap_avl_node *z)
{
	struct ap_avl_node *fix, *y;

	if (!z->link[0] || !z->link[1]) {
		struct ap_avl_node *child = z->link[0] ? z->link[0] : z->link[1];

		fix = z->parent;
		if (child)
			child->parent = fix;
		replace_child(t, fix, z, child);
		retrace(t, fix);
		return;
	}
	/* two children: z's successor y (no left child) takes z's place */
	for (y = z->link[1]; y->link[0]; y = y->link[0])
		;
	if (y->parent == z) {
		fix = y;
	} else {
		struct ap_avl_node *yp = y->parent, *yr = y->link[1];

		fix = yp;
		set_link(yp, 0, yr);
		if (yr)
			yr->parent = yp;
		set_link(y, 1, z->link[1]);
		z->link[1]->parent = y;
	}
	set_link(y, 0, z->link[0]);
	z->link[0]->parent = y;
	y->height = z->height;
	y->parent = z->parent;
	replace_child(t, z->parent, z, y);
	retrace(t, fix);
}

static struct ap_avl_node *extreme(struct ap_avl_node *n, int dir)
{
	while (n && n->link[dir])
		n = n->link[dir];
	return n;
}

struct ap_avl_node *ap__avl_first(const struct ap_avl *t)
{
	return extreme(t->root, 0);
}

struct ap_avl_node *ap__avl_last(const struct ap_avl *t)
{
	return extreme(t->root, 1);
}

/* The in-order neighbour of n in direction dir. */
static struct ap_avl_node *step(const struct ap_avl_node *n, int dir)
{
	const struct ap_avl_node *p;

	if (n->link[dir])
		return extreme(n->link[dir], !dir);
	for (p = n->parent; p && p->link[dir] == n; p = p->parent)
		n = p;
	return (struct ap_avl_node *)(uintptr_t)p;
}

struct ap_avl_node *ap__avl_next(const struct ap_avl_node *n)
{
	return step(n, 1);
}

struct ap_avl_node *ap__avl_prev(const struct ap_avl_node *n)
{
	return step(n, 0);
}

struct ap_avl_node *ap__avl_at(const struct ap_avl *t, size_t index)
{
	struct ap_avl_node *n = ap__avl_root(t);

	for (unsigned steps = 0; n && steps < AP_AVL_MAX_STEPS; steps++) {
		struct ap_avl_node *l = ap__avl_child(n, 0);
		size_t left = ap__avl_count(l);

		if (index < left) {
			n = l;
		} else if (index == left) {
			return n;
		} else {
			index -= left + 1;
			n = ap__avl_child(n, 1);
		}
	}
	return NULL;
}

void ap__avl_drain(struct ap_avl *t, void (*fn)(struct ap_avl_node *node, void *arg), void *arg)
{
	struct ap_avl_node *n = t->root;

	__atomic_store_n(&t->root, NULL, __ATOMIC_RELEASE);
	while (n) {
		struct ap_avl_node *p;

		if (n->link[0]) {
			n = n->link[0];
			continue;
		}
		if (n->link[1]) {
			n = n->link[1];
			continue;
		}
		/* a leaf: cut it from its parent, then hand it over */
		p = n->parent;
		if (p)
			p->link[p->link[1] == n] = NULL;
		fn(n, arg);
		n = p;
	}
}
