/* SPDX-License-Identifier: MIT */
/*
 * The guest's mappings of one domain: disjoint inclusive ranges in an AVL
 * tree keyed by start.  A virtio-iommu "mapping" is what one MAP request
 * created (§5.13.6.6), which the core's leaves do not remember, so UNMAP
 * needs this to know what a range would split.  Nodes are the caller's
 * (allocated through the context), the tree only links them.
 *
 * Insert and remove walk down recording the links they pass, then
 * rebalance back up that path: an AVL tree of n nodes is at most
 * 1.44 log2(n + 2) deep, so 96 links cover any tree memory can hold.
 */
#include "virtio_internal.h"

#define ITREE_MAX_DEPTH 96

static int height(const struct vmap *n)
{
	return n ? n->height : 0;
}

static void fix_height(struct vmap *n)
{
	int l = height(n->left), r = height(n->right);

	n->height = (l > r ? l : r) + 1;
}

static struct vmap *rotate_right(struct vmap *n)
{
	struct vmap *l = n->left;

	n->left = l->right;
	l->right = n;
	fix_height(n);
	fix_height(l);
	return l;
}

static struct vmap *rotate_left(struct vmap *n)
{
	struct vmap *r = n->right;

	n->right = r->left;
	r->left = n;
	fix_height(n);
	fix_height(r);
	return r;
}

static struct vmap *balance(struct vmap *n)
{
	int b;

	fix_height(n);
	b = height(n->left) - height(n->right);
	if (b > 1) {
		if (height(n->left->left) < height(n->left->right))
			n->left = rotate_left(n->left);
		return rotate_right(n);
	}
	if (b < -1) {
		if (height(n->right->right) < height(n->right->left))
			n->right = rotate_right(n->right);
		return rotate_left(n);
	}
	return n;
}

/* Rebalance every node on the recorded path, deepest first. */
static void rebalance(struct vmap **path[], int depth)
{
	while (depth-- > 0)
		*path[depth] = balance(*path[depth]);
}

void ap__itree_insert(struct vmap **root, struct vmap *n)
{
	struct vmap **path[ITREE_MAX_DEPTH];
	struct vmap **link = root;
	int depth = 0;

	while (*link && depth < ITREE_MAX_DEPTH) {
		path[depth++] = link;
		link = n->start < (*link)->start ? &(*link)->left : &(*link)->right;
	}
	n->left = n->right = NULL;
	n->height = 1;
	*link = n;
	rebalance(path, depth);
}

void ap__itree_remove(struct vmap **root, struct vmap *n)
{
	struct vmap **path[ITREE_MAX_DEPTH];
	struct vmap **link = root, **at;
	int depth = 0, mine;

	while (*link && *link != n && depth < ITREE_MAX_DEPTH) {
		path[depth++] = link;
		link = n->start < (*link)->start ? &(*link)->left : &(*link)->right;
	}
	if (!n || *link != n)
		return;
	if (!n->right) {
		*link = n->left;
		rebalance(path, depth);
		return;
	}
	/* Replace n by the smallest node of its right subtree. */
	mine = depth;
	path[depth++] = link;
	at = &n->right;
	while ((*at)->left && depth < ITREE_MAX_DEPTH) {
		path[depth++] = at;
		at = &(*at)->left;
	}
	{
		struct vmap *min = *at;

		*at = min->right;
		min->left = n->left;
		min->right = n->right;
		*link = min;
		/* The links recorded below n lead through n's old right
		 * link, which now belongs to min. */
		if (depth > mine + 1)
			path[mine + 1] = &min->right;
	}
	rebalance(path, depth);
}

struct vmap *ap__itree_first_from(struct vmap *root, uint64_t addr)
{
	struct vmap *best = NULL;

	/* Ranges are disjoint, so ordering by start orders the ends too. */
	while (root) {
		if (root->end >= addr) {
			best = root;
			root = root->left;
		} else {
			root = root->right;
		}
	}
	return best;
}

struct vmap *ap__itree_find(struct vmap *root, uint64_t addr)
{
	struct vmap *n = ap__itree_first_from(root, addr);

	return n && n->start <= addr ? n : NULL;
}

struct vmap *ap__itree_next(struct vmap *root, const struct vmap *n)
{
	return n->end == UINT64_MAX ? NULL : ap__itree_first_from(root, n->end + 1);
}

bool ap__itree_overlaps(struct vmap *root, uint64_t start, uint64_t end)
{
	struct vmap *n = ap__itree_first_from(root, start);

	return n && n->start <= end;
}

void ap__itree_destroy(struct ap_ctx *ctx, struct vmap *root)
{
	/* Rotate left children up until the root has none, then free it:
	 * every node once, no stack. */
	while (root) {
		struct vmap *l = root->left;

		if (l) {
			root->left = l->right;
			l->right = root;
			root = l;
		} else {
			struct vmap *r = root->right;

			ap_mem_free(ctx, root);
			root = r;
		}
	}
}
