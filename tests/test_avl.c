/* SPDX-License-Identifier: MIT */
/*
 * The AVL tree of src/util/avl.h against a model (a sorted array of keys):
 * random inserts and erases, and after each the tree's invariants (parent
 * links, heights, subtree counts, balance within one) and its contents in
 * order, forwards and backwards, and by index.  The key order is the
 * test's own, as it is each caller's.
 *
 * Seed: printed at start; override with test_avl [SEED [STEPS]].
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/util/avl.h"
#include "rng.h"

typedef unsigned long long ull;

static uint64_t g_seed = 0xa71ee5eedull;
static unsigned g_steps = 40000;

struct item {
	struct ap_avl_node node;
	uint64_t key;
};

#define ITEM(n) AP_AVL_ENTRY(n, struct item, node)

/* ------------------------------------------------------------ the tree's side */

/* Where key goes: *parent and *dir; the item holding it, if any. */
static struct item *descend(struct ap_avl *t, uint64_t key, struct ap_avl_node **parent, int *dir)
{
	struct ap_avl_node *n = ap__avl_root(t);

	*parent = NULL;
	*dir = 0;
	while (n) {
		struct item *it = ITEM(n);

		if (key == it->key)
			return it;
		*parent = n;
		*dir = key > it->key;
		n = ap__avl_child(n, *dir);
	}
	return NULL;
}

/* Checks a subtree; its height. */
static int check_subtree(const struct ap_avl_node *n, const struct ap_avl_node *parent,
			 const uint64_t *lo, const uint64_t *hi)
{
	int hl, hr;
	uint64_t key;

	if (!n)
		return 0;
	key = ITEM(n)->key;
	assert_ptr_equal(n->parent, parent);
	if (lo)
		assert_true(key > *lo);
	if (hi)
		assert_true(key < *hi);
	hl = check_subtree(n->link[0], n, lo, &key);
	hr = check_subtree(n->link[1], n, &key, hi);
	assert_true(hl - hr <= 1 && hr - hl <= 1);
	assert_int_equal(n->height, 1 + (hl > hr ? hl : hr));
	assert_int_equal(n->count,
			 1 + ap__avl_count(n->link[0]) + ap__avl_count(n->link[1]));
	return n->height;
}

/* ------------------------------------------------------------ the model */

struct model {
	uint64_t *k;
	size_t n;
};

static size_t model_lower(const struct model *m, uint64_t key)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->k[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void check_all(struct ap_avl *t, const struct model *m)
{
	struct ap_avl_node *n;
	size_t i;

	check_subtree(t->root, NULL, NULL, NULL);
	assert_int_equal(ap__avl_size(t), m->n);
	for (n = ap__avl_first(t), i = 0; n; n = ap__avl_next(n), i++) {
		assert_true(i < m->n);
		assert_int_equal(ITEM(n)->key, m->k[i]);
	}
	assert_int_equal(i, m->n);
	for (n = ap__avl_last(t); n; n = ap__avl_prev(n))
		assert_int_equal(ITEM(n)->key, m->k[--i]);
	assert_int_equal(i, 0);
	assert_null(ap__avl_at(t, m->n));
}

/* ------------------------------------------------------------ tests */

static void test_empty(void **state)
{
	struct ap_avl t = { NULL };

	(void)state;
	assert_null(ap__avl_first(&t));
	assert_null(ap__avl_last(&t));
	assert_null(ap__avl_at(&t, 0));
	assert_int_equal(ap__avl_size(&t), 0);
}

/* Ascending and descending runs: the cases that unbalance a plain tree. */
static void test_sorted_runs(void **state)
{
	enum { N = 4096 };
	struct item *items = calloc(N, sizeof(*items));
	struct ap_avl t = { NULL };
	struct ap_avl_node *parent;
	int dir;

	(void)state;
	assert_non_null(items);
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < N; i++) {
			items[i].key = pass ? N - i : i;
			assert_null(descend(&t, items[i].key, &parent, &dir));
			ap__avl_insert(&t, parent, dir, &items[i].node);
		}
		check_subtree(t.root, NULL, NULL, NULL);
		/* the height bound of an AVL tree: 1.44 log2(n + 2) */
		assert_true(t.root->height <= 18);
		for (unsigned i = 0; i < N; i++)
			ap__avl_erase(&t, &items[i].node);
		assert_null(t.root);
	}
	free(items);
}

static void count_node(struct ap_avl_node *n, void *arg)
{
	(void)n;
	++*(size_t *)arg;
}

static void test_model(void **state)
{
	enum { POOL = 3000 };
	struct item *items = calloc(POOL, sizeof(*items));
	bool *in = calloc(POOL, sizeof(*in));
	struct model m = { calloc(POOL, sizeof(uint64_t)), 0 };
	struct ap_avl t = { NULL };
	unsigned step, ins = 0, del = 0;
	size_t drained = 0;

	(void)state;
	assert_true(items && in && m.k);
	rng_state = g_seed ? g_seed : 1;
	for (unsigned i = 0; i < POOL; i++)
		items[i].key = rnd() >> 8; /* may repeat: then the insert is refused */
	for (step = 0; step < g_steps; step++) {
		/* phases: grow towards the pool, then shrink */
		bool grow = (step / 2000) % 2 == 0;
		unsigned i = (unsigned)rnd_below(POOL);
		struct ap_avl_node *parent;
		int dir;

		if (!in[i] && chance(grow ? 70 : 30)) {
			struct item *dup = descend(&t, items[i].key, &parent, &dir);
			size_t at = model_lower(&m, items[i].key);

			assert_true((dup != NULL) == (at < m.n && m.k[at] == items[i].key));
			if (dup)
				continue;
			ap__avl_insert(&t, parent, dir, &items[i].node);
			memmove(m.k + at + 1, m.k + at, (m.n - at) * sizeof(*m.k));
			m.k[at] = items[i].key;
			m.n++;
			in[i] = true;
			ins++;
		} else if (in[i]) {
			size_t at = model_lower(&m, items[i].key);

			assert_ptr_equal(descend(&t, items[i].key, &parent, &dir), &items[i]);
			ap__avl_erase(&t, &items[i].node);
			memmove(m.k + at, m.k + at + 1, (m.n - at - 1) * sizeof(*m.k));
			m.n--;
			in[i] = false;
			del++;
		}
		if (step % 97 == 0 || m.n < 8)
			check_all(&t, &m);
		else if (step % 5 == 0)
			check_subtree(t.root, NULL, NULL, NULL);
		if (m.n) {
			size_t k = rnd_below(m.n);

			assert_int_equal(ITEM(ap__avl_at(&t, k))->key, m.k[k]);
		}
	}
	check_all(&t, &m);
	ap__avl_drain(&t, count_node, &drained);
	assert_int_equal(drained, m.n);
	assert_null(t.root);
	print_message("avl: %u inserts, %u erases, %zu left at the end\n", ins, del, m.n);
	free(items);
	free(in);
	free(m.k);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_sorted_runs),
		cmocka_unit_test(test_model),
	};

	if (argc > 1)
		g_seed = strtoull(argv[1], NULL, 0);
	if (argc > 2)
		g_steps = (unsigned)strtoul(argv[2], NULL, 0);
	printf("test_avl: seed 0x%llx, %u steps (override: test_avl SEED [STEPS])\n", (ull)g_seed,
	       g_steps);
	fflush(stdout);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
