/* SPDX-License-Identifier: MIT */
/*
 * What a domain looks like from outside, for the fail-nth tests: its name,
 * type, geometry, page sizes and OAS, its leaves (count, sizes and a digest
 * of every descriptor) and what a set of probe IOVAs translate to.  A
 * failed call must leave all of it as it was.  Include after <cmocka.h>.
 */
#ifndef AP_TEST_DOMSNAP_H
#define AP_TEST_DOMSNAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <aperture/core.h>

#define DOMSNAP_PROBES 12

struct domsnap {
	const struct ap_domain *p;
	char name[64];
	enum ap_domain_type type;
	struct ap_geometry geo;
	uint64_t pgsizes, leaves, sizes, digest;
	unsigned oas;
	bool ok[DOMSNAP_PROBES];
	uint64_t pa[DOMSNAP_PROBES];
};

static inline uint64_t domsnap_mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

static inline int domsnap_digest_leaf(void *arg, const struct ap_pt_leaf *l)
{
	uint64_t *h = arg;

	*h = domsnap_mix(*h, l->iova);
	*h = domsnap_mix(*h, l->size);
	*h = domsnap_mix(*h, l->pa);
	*h = domsnap_mix(*h, l->pte);
	*h = domsnap_mix(*h, (uint64_t)l->level);
	return 0;
}

/* Snapshot domain m, probing the first n of iova (n <= DOMSNAP_PROBES). */
static inline void domsnap_take(const struct ap_domain *m, const uint64_t *iova, unsigned n,
				struct domsnap *s)
{
	const struct ap_pt *pt = ap_domain_pt(m);
	unsigned k;

	assert_true(n <= DOMSNAP_PROBES);
	memset(s, 0, sizeof(*s));
	s->p = m;
	snprintf(s->name, sizeof(s->name), "%s", ap_domain_name(m));
	s->type = ap_domain_type(m);
	ap_domain_geometry(m, &s->geo);
	s->pgsizes = ap_domain_pgsizes(m);
	s->oas = ap_domain_oas(m);
	if (pt) {
		s->leaves = ap_pt_leaf_count(pt);
		s->sizes = ap_pt_sizes_in_use(pt);
		ap_pt_for_each_leaf(pt, 0, UINT64_MAX, domsnap_digest_leaf, &s->digest);
	}
	for (k = 0; k < n; k++)
		s->ok[k] = ap_domain_iova_to_phys(m, iova[k], &s->pa[k]);
}

/* Same type, geometry, page sizes and OAS. */
static inline bool domsnap_same_shape(const struct domsnap *a, const struct domsnap *b)
{
	return a->type == b->type && !memcmp(&a->geo, &b->geo, sizeof(a->geo)) &&
	       a->pgsizes == b->pgsizes && a->oas == b->oas;
}

/* Same leaves, and the probes translate the same. */
static inline bool domsnap_same_mappings(const struct domsnap *a, const struct domsnap *b)
{
	return a->leaves == b->leaves && a->sizes == b->sizes && a->digest == b->digest &&
	       !memcmp(a->ok, b->ok, sizeof(a->ok)) && !memcmp(a->pa, b->pa, sizeof(a->pa));
}

#endif /* AP_TEST_DOMSNAP_H */
