/* SPDX-License-Identifier: MIT */
/*
 * The descriptors one walk reads, root first: what a page-table dump that
 * shows every level of a mapping prints (Linux's VT-d debugfs
 * domain_translation_struct, say).  Read through the memory provider as the
 * walker reads them, for any format.
 */
#include "pt_internal.h"

unsigned ap_pt_path(const struct ap_pt *pt, uint64_t iova, struct ap_pt_path_entry *out,
		    unsigned max)
{
	const struct ap_pt_tree_fmt *f = pt->tree;
	const uint64_t *table = pt->root;
	unsigned n = 0;

	if (!max || (pt->cfg.ias < 64 && iova >> pt->cfg.ias))
		return 0;
	for (unsigned d = 0; d < pt->levels && table && n < max; d++) {
		const struct ap_pt_level *L = &pt->lvl[d];
		uint64_t pte = ap_pte_read(&table[(iova >> L->shift) & L->index_mask]);

		out[n++] = (struct ap_pt_path_entry){ .level = L->num, .pte = pte };
		if (!ap_pt_is_table(f, pte, L->num) || d + 1 == pt->levels)
			break;
		table = pt->mem.map(pt->mem.cookie, ap_pt_pte_to_oa(f, pt->granule_shift, pte),
				    (size_t)1 << pt->granule_shift);
	}
	return n;
}
