/* SPDX-License-Identifier: MIT */
/*
 * Domains: allocated for one instance, attachable to devices on several.
 * The geometry and page sizes a domain reports always hold for every device
 * attached to it; map and unmap follow Linux's iommu_map/iommu_unmap.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "kinds/kind.h"
#include "rcu.h"

#define PROT_ALL (AP_PROT_READ | AP_PROT_WRITE | AP_PROT_CACHE | AP_PROT_NOEXEC | \
		  AP_PROT_MMIO | AP_PROT_PRIV)

static uint64_t input_end(unsigned ias)
{
	return ias >= 64 ? UINT64_MAX : (1ull << ias) - 1;
}

static unsigned min_u(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

static int paging_init(struct ap_ctx *ctx, struct ap_domain *dom)
{
	const struct ap_iommu_config *ic = &dom->owner->cfg;
	struct ap_pt_cfg cfg = {
		.format = dom->owner->model->format(ic),
		.ias = dom->owner->model->table_ias(ic),
		.oas = ic->oas,
		.pgsize_bitmap = ic->pgsize_bitmap,
		.host_page_size = ic->host_page_size,
		.coherent_walk = ic->coherent_walk,
	};
	bool had_window = ctx->pool.size != 0;
	int err;

	err = ap__pool_ensure(ctx);
	if (err)
		return err;
	err = ap_pt_alloc(&cfg, &ctx->ptmem, &dom->pt);
	if (err && !had_window)
		ap__pool_forget(ctx); /* a failed call chooses no window */
	if (err == -ENOMEM)
		return ap__err(ctx, err, "out of memory for the page table");
	if (err)
		return ap__err(ctx, err, "%s cannot build a %s table with these capabilities",
			       dom->owner->name, ap_pt_format_name(cfg.format));
	ap_pt_get_cfg(dom->pt, &cfg);
	dom->pgsizes = cfg.pgsize_bitmap;
	dom->oas = cfg.oas;
	dom->geo = (struct ap_geometry){ 0, input_end(min_u(cfg.ias, ic->ias)), ic->force_aperture };
	return 0;
}

int ap_domain_new(struct ap_ctx *ctx, const char *name, struct ap_iommu *iommu,
		  enum ap_domain_type type, struct ap_domain **out)
{
	struct ap_domain *dom;
	int err;

	err = ap__check_name(ctx, "domain", name);
	if (err)
		return err;
	if (!iommu || iommu->ctx != ctx)
		return ap__err(ctx, -EINVAL, "domain '%s' needs an IOMMU of this context", name);
	if (type != AP_DOMAIN_BLOCKED && type != AP_DOMAIN_IDENTITY && type != AP_DOMAIN_PAGING)
		return ap__err(ctx, -EINVAL, "unknown domain type %d", (int)type);
	if (ap_domain_find(ctx, name))
		return ap__err(ctx, -EEXIST, "a domain called '%s' exists", name);
	dom = ap__zalloc(ctx, sizeof(*dom));
	if (!dom)
		return ap__err(ctx, -ENOMEM, "out of memory");
	dom->ctx = ctx;
	pthread_mutex_init(&dom->excl_lock, NULL);
	strcpy(dom->name, name);
	dom->type = type;
	dom->owner = iommu;
	dom->oas = iommu->cfg.oas;
	if (type == AP_DOMAIN_PAGING) {
		err = paging_init(ctx, dom);
		if (err) {
			pthread_mutex_destroy(&dom->excl_lock);
			ap__free(ctx, dom);
			return err;
		}
	} else if (type == AP_DOMAIN_IDENTITY) {
		dom->geo = (struct ap_geometry){ 0, UINT64_MAX, false };
	} else {
		dom->geo = (struct ap_geometry){ 0, 0, true };
	}
	AP_APPEND(ctx->domains, dom);
	if (out)
		*out = dom;
	return 0;
}

static void attachment_free(struct ap_ctx *ctx, struct ap_attachment *a)
{
	if (a->tag)
		ap__tag_free(a->iommu, a->tag);
	ap__free(ctx, a);
}

static void domain_release(struct ap_ctx *ctx, struct ap_domain *dom)
{
	while (dom->attached) {
		struct ap_attachment *a = dom->attached;

		dom->attached = a->next;
		attachment_free(ctx, a);
	}
	ap_pt_free(dom->pt);
	pthread_mutex_destroy(&dom->excl_lock);
	ap__free(ctx, dom);
}

int ap_domain_free(struct ap_domain *dom)
{
	struct ap_ctx *ctx;
	struct ap_domain **pp;

	if (!dom)
		return 0;
	ctx = dom->ctx;
	if (dom->ndev)
		return ap__err(ctx, -EBUSY, "domain '%s' still has %u device(s) attached",
			       dom->name, dom->ndev);
	for (pp = &ctx->domains; *pp != dom; pp = &(*pp)->next)
		;
	*pp = dom->next;
	domain_release(ctx, dom);
	ap__reclaim(ctx); /* its tables, once no walk can be inside them */
	return 0;
}

void ap__domains_free(struct ap_ctx *ctx)
{
	while (ctx->domains) {
		struct ap_domain *d = ctx->domains;

		ctx->domains = d->next;
		domain_release(ctx, d);
	}
}

struct ap_domain *ap_domain_find(struct ap_ctx *ctx, const char *name)
{
	struct ap_domain *d;

	for (d = ctx->domains; d && name; d = d->next)
		if (!strcmp(d->name, name))
			return d;
	return NULL;
}

struct ap_domain *ap_domain_next(struct ap_ctx *ctx, struct ap_domain *prev)
{
	return prev ? prev->next : ctx->domains;
}

const char *ap_domain_name(const struct ap_domain *dom)
{
	return dom->name;
}

enum ap_domain_type ap_domain_type(const struct ap_domain *dom)
{
	return dom->type;
}

struct ap_iommu *ap_domain_owner(const struct ap_domain *dom)
{
	return dom->owner;
}

void ap_domain_geometry(const struct ap_domain *dom, struct ap_geometry *out)
{
	*out = dom->geo;
}

uint64_t ap_domain_pgsizes(const struct ap_domain *dom)
{
	return dom->pgsizes;
}

unsigned ap_domain_oas(const struct ap_domain *dom)
{
	return dom->oas;
}

int ap_domain_regs(const struct ap_domain *dom, const struct ap_iommu *iommu,
		   struct ap_pt_regs *out)
{
	const struct ap_attachment *att;
	struct ap_pt_walk_cfg own;

	if (!dom || !iommu || !out || dom->type != AP_DOMAIN_PAGING)
		return -EINVAL;
	att = ap__attachment_of(dom, iommu);
	if (att)
		return ap_pt_get_regs(&att->walk, iommu->cfg.coherent_walk, out);
	if (iommu != dom->owner)
		return -EINVAL;
	ap_pt_get_walk_cfg(dom->pt, &own);
	return ap_pt_get_regs(&own, iommu->cfg.coherent_walk, out);
}

int ap_domain_reg_view(const struct ap_domain *dom, const struct ap_iommu *iommu,
		       struct ap_reg_view *out)
{
	const struct ap_attachment *att;
	struct ap_pt_regs regs;
	int err = ap_domain_regs(dom, iommu, &regs);

	if (err || !out)
		return err ? err : -EINVAL;
	att = ap__attachment_of(dom, iommu);
	iommu->model->reg_view(iommu, att ? att->tag : 0, &regs, out);
	return 0;
}

const struct ap_pt *ap_domain_pt(const struct ap_domain *dom)
{
	return dom->pt;
}

int ap_domain_tag(const struct ap_domain *dom, const struct ap_iommu *iommu)
{
	const struct ap_attachment *att = dom && iommu ? ap__attachment_of(dom, iommu) : NULL;

	if (!att || !att->tag)
		return -ENOENT;
	return iommu->model->tag_value ? iommu->model->tag_value(iommu, att->tag) : att->tag;
}

struct ap_attachment *ap__attachment_of(const struct ap_domain *dom, const struct ap_iommu *iommu)
{
	struct ap_attachment *a;

	for (a = dom->attached; a; a = a->next)
		if (a->iommu == iommu)
			return a;
	return NULL;
}

/* ------------------------------------------------------------ attach */

static int first_leaf(void *arg, const struct ap_pt_leaf *leaf)
{
	*(struct ap_pt_leaf *)arg = *leaf;
	return 1;
}

struct oas_probe {
	uint64_t limit;
	struct ap_pt_leaf leaf;
};

static int leaf_beyond_oas(void *arg, const struct ap_pt_leaf *leaf)
{
	struct oas_probe *p = arg;

	if (leaf->pa + (leaf->size - 1) <= p->limit)
		return 0;
	p->leaf = *leaf;
	return 1;
}

/* The input width `iommu` walks the domain's tables with: the kind's
 * answer, or (any width can be programmed) the smaller of the two. */
static int walk_width(struct ap_ctx *ctx, const struct ap_iommu *iommu, unsigned tbl_ias,
		      unsigned *out)
{
	if (iommu->model->walk_ias)
		return iommu->model->walk_ias(ctx, iommu, tbl_ias, out);
	*out = min_u(iommu->cfg.ias, tbl_ias);
	return 0;
}

/* The walker checks outputs against its own OAS; the root it enters must
 * not move with that (stage-2 concatenation depends on OAS).  Decided from
 * the shape alone, before any table is allocated for the walker. */
static bool same_start_level(const struct ap_domain *dom, const struct ap_iommu *iommu,
			     unsigned walk_ias)
{
	struct ap_pt_walk_cfg w;
	int start;

	ap_pt_get_walk_cfg(dom->pt, &w);
	if (walk_ias < w.ias)
		w.ias = walk_ias;
	start = ap_pt_start_level(&w);
	w.oas = iommu->cfg.oas;
	return ap_pt_start_level(&w) == start;
}

/* What the domain becomes with `iommu` joining it, or why it cannot. */
struct join {
	struct ap_geometry geo;
	uint64_t pgsizes;
	unsigned oas;
	unsigned walk_ias;
};

static int join_check(struct ap_domain *dom, const struct ap_iommu *iommu, struct join *j)
{
	struct ap_ctx *ctx = dom->ctx;
	const struct ap_iommu_config *ic = &iommu->cfg;
	struct ap_pt_cfg pc;
	struct ap_pt_leaf leaf;
	struct oas_probe probe;
	uint64_t granule, lacking;

	ap_pt_get_cfg(dom->pt, &pc);
	granule = pc.pgsize_bitmap & -pc.pgsize_bitmap;
	if (!iommu->model->walks_format(ic, pc.format))
		return ap__err(ctx, -EINVAL, "%s cannot walk %s tables of domain '%s'", iommu->name,
			       ap_pt_format_name(pc.format), dom->name);
	if (ic->coherent_walk != dom->owner->cfg.coherent_walk)
		return ap__err(ctx, -EINVAL, "%s walks tables %scoherently, domain '%s' does not",
			       iommu->name, ic->coherent_walk ? "" : "non-", dom->name);
	if (walk_width(ctx, iommu, pc.ias, &j->walk_ias))
		return -EINVAL;
	if (!same_start_level(dom, iommu, j->walk_ias))
		return ap__err(ctx, -EINVAL, "%s would start its walk of '%s' at another level",
			       iommu->name, dom->name);
	if (!(ic->pgsize_bitmap & granule))
		return ap__err(ctx, -EINVAL, "%s has no %llu KiB granule for domain '%s'",
			       iommu->name, (unsigned long long)(granule >> 10), dom->name);
	if (ctx->pool.base + (ctx->pool.size - 1) > input_end(ic->oas))
		return ap__err(ctx, -EINVAL,
			       "%s cannot reach the page tables at 0x%llx with %u-bit output",
			       iommu->name, (unsigned long long)ctx->pool.base, ic->oas);
	lacking = ap_pt_sizes_in_use(dom->pt) & ~ic->pgsize_bitmap;
	if (lacking)
		return ap__err(ctx, -EINVAL,
			       "domain '%s' has 0x%llx-byte mappings that %s cannot walk",
			       dom->name, (unsigned long long)(lacking & -lacking), iommu->name);
	j->pgsizes = dom->pgsizes & ic->pgsize_bitmap;
	j->geo = dom->geo;
	j->geo.force = dom->geo.force && ic->force_aperture;
	if (input_end(ic->ias) < j->geo.end) {
		j->geo.end = input_end(ic->ias);
		if (ap_pt_for_each_leaf(dom->pt, j->geo.end + 1, dom->geo.end, first_leaf, &leaf))
			return ap__err(ctx, -EADDRINUSE,
				       "mapping at 0x%llx lies outside %s's aperture 0x0-0x%llx",
				       (unsigned long long)leaf.iova, iommu->name,
				       (unsigned long long)j->geo.end);
	}
	j->oas = ic->oas < dom->oas ? ic->oas : dom->oas;
	probe.limit = input_end(j->oas);
	if (j->oas < dom->oas &&
	    ap_pt_for_each_leaf(dom->pt, 0, UINT64_MAX, leaf_beyond_oas, &probe))
		return ap__err(ctx, -EINVAL,
			       "mapping at 0x%llx outputs 0x%llx, beyond %s's %u-bit OAS",
			       (unsigned long long)probe.leaf.iova,
			       (unsigned long long)probe.leaf.pa, iommu->name, ic->oas);
	return 0;
}

/* A walker for `iommu` over the domain's tables, entered for its IAS. */
static int walker_for(struct ap_domain *dom, const struct ap_iommu *iommu,
		      const struct join *j, struct ap_pt_walk_cfg *walk)
{
	struct ap_ctx *ctx = dom->ctx;
	int err;

	err = ap_pt_walk_cfg_for_ias(dom->pt, j->walk_ias, walk);
	if (err == -ENOMEM)
		return ap__err(ctx, err, "out of memory for the page table");
	if (err)
		return ap__err(ctx, -EINVAL, "%s cannot enter domain '%s' tables at %u bits",
			       iommu->name, dom->name, j->walk_ias);
	walk->oas = iommu->cfg.oas; /* join_check made sure the root stays */
	return 0;
}


/* What an attachment of a paging domain needs: its walker, its tag, and
 * the leaf sizes its IOTLB lookups probe (every size the tables can hold). */
static int attachment_paging(struct ap_domain *dom, struct ap_iommu *iommu, const struct join *j,
			     struct ap_attachment *att)
{
	struct ap_pt_cfg pc;
	int err;

	/* the tag first: running out of them must leave the tables as they
	 * were, and the walker's path tables cannot be taken back */
	if (ap__tag_alloc(iommu, &att->tag))
		return ap__err(dom->ctx, -ENOSPC, "%s has no free %s left", iommu->name,
			       ap_iommu_tag_name(iommu));
	err = walker_for(dom, iommu, j, &att->walk);
	if (err) {
		ap__tag_free(iommu, att->tag);
		att->tag = 0;
		return err;
	}
	ap_pt_get_cfg(dom->pt, &pc);
	ap__iotlb_sizes(&att->sizes, pc.pgsize_bitmap);
	att->sets = iommu->tlb.sets;
	att->set_mask = iommu->tlb.set_mask;
	att->shards = iommu->tlb.shard;
	return 0;
}

/* The domain's aperture, into every attachment's copy too. */
static void set_geometry(struct ap_domain *dom, const struct ap_geometry *geo)
{
	struct ap_attachment *a;

	__atomic_store_n(&dom->geo.start, geo->start, __ATOMIC_RELAXED);
	__atomic_store_n(&dom->geo.end, geo->end, __ATOMIC_RELAXED);
	dom->geo.force = geo->force;
	for (a = dom->attached; a; a = a->next) {
		__atomic_store_n(&a->geo_start, geo->start, __ATOMIC_RELAXED);
		__atomic_store_n(&a->geo_end, geo->end, __ATOMIC_RELAXED);
	}
}

/* Put group g on dom through att (NULL, NULL: off any domain).  Each
 * device's translations switch with one pointer store. */
static void group_set(struct ap_ctx *ctx, struct ap_group *g, struct ap_domain *dom,
		      struct ap_attachment *att)
{
	struct ap_device *d;

	g->domain = dom;
	for (d = ctx->devices; d; d = d->next)
		if (d->group == g)
			__atomic_store_n(&d->att, att, __ATOMIC_RELEASE);
}

/* Whether DMA outside the aperture faults for every device that can reach
 * the domain: its owner's and every attached instance's choice.  An open
 * instance that leaves takes its openness with it (the aperture itself
 * never widens again). */
static bool forced_by_all(const struct ap_domain *dom)
{
	const struct ap_attachment *a;
	bool forced = dom->owner->cfg.force_aperture;

	for (a = dom->attached; a && forced; a = a->next)
		forced = a->iommu->cfg.force_aperture;
	return forced;
}

/* Count dev's group off its domain (it must have one); the attachment if
 * that was its last group, unlinked, for retire_attachment(). */
static struct ap_attachment *group_leave(struct ap_device *dev)
{
	struct ap_group *g = dev->group;
	struct ap_domain *dom = g->domain;
	struct ap_attachment *att = dev->att, **pp;

	att->ndev -= g->ndev;
	dom->ndev -= g->ndev;
	if (att->ndev)
		return NULL;
	for (pp = &dom->attached; *pp != att; pp = &(*pp)->next)
		;
	*pp = att->next;
	if (dom->type == AP_DOMAIN_PAGING)
		dom->geo.force = forced_by_all(dom);
	return att;
}

/*
 * After devices moved off an attachment: wait until every translation and
 * DMA that may still use the old one has ended (detach and replace promise
 * that), then free it if no group uses it any more (`att`, unlinked), so
 * that none can fill the IOTLB with its tag after the tag's entries are
 * dropped and the tag is reused.
 */
static void retire_attachment(struct ap_ctx *ctx, struct ap_attachment *att)
{
	ap__rcu_synchronize();
	if (att)
		attachment_free(ctx, att);
}

/*
 * Put dev's group on dom.  A group on another domain is refused, or with
 * `replace` moved: it leaves the old domain only once everything that can
 * fail has succeeded, so a failure leaves it where it was.
 */
static int attach_group(struct ap_domain *dom, struct ap_device *dev, bool replace)
{
	struct ap_ctx *ctx;
	struct ap_group *g;
	struct ap_attachment *att, *old;
	struct join j;
	bool moved;
	int err;

	if (!dom || !dev)
		return -EINVAL;
	ctx = dom->ctx;
	if (dev->ctx != ctx)
		return ap__err(ctx, -EINVAL, "device and domain belong to different contexts");
	if (ap__rcu_reading())
		return ap__err(ctx, -EDEADLK, "attach from inside a DMA (a write observer)");
	g = dev->group;
	if (g->domain == dom)
		return 0;
	if (g->domain && !replace)
		return ap__err(ctx, -EBUSY, "group %d of '%s' is attached to '%s': detach first",
			       g->id, dev->name, g->domain->name);
	att = ap__attachment_of(dom, dev->iommu);
	if (att) {
		moved = g->domain != NULL;
		old = moved ? group_leave(dev) : NULL;
		att->ndev += g->ndev;
		dom->ndev += g->ndev;
		group_set(ctx, g, dom, att);
		if (moved)
			retire_attachment(ctx, old);
		return 0;
	}
	memset(&j, 0, sizeof(j));
	j.geo = dom->geo;
	j.pgsizes = dom->pgsizes;
	j.oas = dom->oas;
	if (dom->type == AP_DOMAIN_PAGING) {
		err = join_check(dom, dev->iommu, &j);
		if (err)
			return err;
	}
	att = ap__zalloc(ctx, sizeof(*att));
	if (!att)
		return ap__err(ctx, -ENOMEM, "out of memory");
	att->iommu = dev->iommu;
	att->dom = dom;
	if (dom->type == AP_DOMAIN_PAGING) {
		err = attachment_paging(dom, dev->iommu, &j, att);
		if (err) {
			ap__free(ctx, att);
			return err;
		}
	}
	moved = g->domain != NULL;
	old = moved ? group_leave(dev) : NULL;
	att->ndev = g->ndev;
	AP_APPEND(dom->attached, att);
	set_geometry(dom, &j.geo); /* translations read it without a lock */
	dom->pgsizes = j.pgsizes;
	dom->oas = j.oas;
	dom->ndev += g->ndev;
	group_set(ctx, g, dom, att);
	if (moved)
		retire_attachment(ctx, old);
	return 0;
}

int ap_attach(struct ap_domain *dom, struct ap_device *dev)
{
	return attach_group(dom, dev, false);
}

int ap_replace(struct ap_domain *dom, struct ap_device *dev)
{
	return attach_group(dom, dev, true);
}

int ap_detach(struct ap_device *dev)
{
	struct ap_attachment *old;

	if (!dev)
		return -EINVAL;
	if (!dev->group->domain)
		return ap__err(dev->ctx, -EINVAL, "'%s' is not attached to a domain", dev->name);
	if (ap__rcu_reading())
		return ap__err(dev->ctx, -EDEADLK, "detach from inside a DMA (a write observer)");
	old = group_leave(dev);
	group_set(dev->ctx, dev->group, NULL, NULL);
	retire_attachment(dev->ctx, old);
	return 0;
}

/* ------------------------------------------------------------ map/unmap */

/*
 * Writers of a domain's tables.  Map and unmap run in parallel, each inside
 * a read-side section (the tables they walk may be freed by an overlapping
 * writer).  A failed map's rollback frees tables other writers could be
 * about to fill, so it runs alone: see struct ap_domain.
 */
static __attribute__((noinline)) int writer_wait(struct ap_domain *dom)
{
	/* A writer called from inside a DMA (its write observer) holds a
	 * read-side section the rollback is waiting for: it must not wait. */
	bool nested = ap__rcu_reading();

	for (;;) {
		ap__rcu_read_lock();
		if (!__atomic_load_n(&dom->exclusive, __ATOMIC_ACQUIRE))
			return 0;
		ap__rcu_read_unlock();
		if (nested)
			return ap__err(dom->ctx, -EDEADLK,
				       "'%s' is being rolled back; a write observer cannot wait for it",
				       dom->name);
		pthread_mutex_lock(&dom->excl_lock); /* wait for the rollback */
		pthread_mutex_unlock(&dom->excl_lock);
	}
}

/* The common case inline: no rollback running (whether this section nests
 * in another matters only when one is). */
static inline int writer_enter(struct ap_domain *dom)
{
	ap__rcu_read_lock();
	if (__builtin_expect(!__atomic_load_n(&dom->exclusive, __ATOMIC_ACQUIRE), 1))
		return 0;
	ap__rcu_read_unlock();
	return writer_wait(dom);
}

static void writer_exit(struct ap_domain *dom)
{
	(void)dom;
	ap__rcu_read_unlock();
}

/* One page of a size the domain maps with, aligned to it: what Linux's
 * iommu_pgsize would cut such a range into, found without asking. */
static bool one_page(const struct ap_domain *dom, uint64_t iova, uint64_t pa, uint64_t size)
{
	return (size & dom->pgsizes) && !(size & (size - 1)) && !((iova | pa) & (size - 1));
}

/*
 * Of the leaf sizes an unmap removed, those attachment a's IOTLB may hold,
 * after cleared_fence(): the sizes walks through it have filled.  A fill
 * of a size reads its bit before the walk (translate.c), so a bit still
 * clear here means every walk that could fill that size comes after the
 * fence, and sees the descriptors the unmap cleared (pgtable.h).
 */
static uint64_t cached_sizes(const struct ap_attachment *a, uint64_t removed)
{
	return a->sets && a->tag ? removed & __atomic_load_n(&a->filled, __ATOMIC_RELAXED) : 0;
}

/* Between clearing descriptors and reading what the IOTLBs may hold. */
static void cleared_fence(void)
{
#ifdef AP_TSAN
	/* ThreadSanitizer refuses fences.  A read-modify-write of a local is
	 * no C11 fence (a compiler may drop it), but as TSan builds it, it is
	 * a locked instruction: the same barrier on x86-64, and TSan cannot
	 * check this protocol either way. */
	unsigned dummy = 0;

	__atomic_fetch_add(&dummy, 0, __ATOMIC_SEQ_CST);
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/* Strict invalidation: drop every IOTLB entry of the domain for
 * [iova, iova + size) that holds a leaf of one of `sizes` (those unmap
 * removed), on every instance it is attached through. */
static void invalidate_range(struct ap_domain *dom, uint64_t iova, uint64_t size,
			     uint64_t sizes)
{
	struct ap_attachment *a;

	if (!size || !dom->attached)
		return;
	cleared_fence();
	for (a = dom->attached; a; a = a->next) {
		uint64_t cached = cached_sizes(a, sizes);

		if (cached)
			ap__iotlb_invalidate(&a->iommu->tlb, &a->sizes, a->tag, iova,
					     iova + (size - 1), cached);
	}
}

/* Unmap [iova, iova + size) as Linux's iommu_unmap: pieces of the size
 * iommu_pgsize picks, each by the format's rule, until one takes nothing;
 * then drop what the IOTLBs hold of it.  The bytes unmapped (on VT-d
 * possibly more than size). */
static uint64_t unmap_run(struct ap_domain *dom, uint64_t iova, uint64_t size)
{
	uint64_t done = 0, removed = 0;

	if (one_page(dom, iova, iova, size)) {
		struct ap_attachment *a;

		done = ap_pt_unmap_pages_sizes(dom->pt, iova, size, 1, &removed);
		if (done != size || removed != size) {
			invalidate_range(dom, iova, done, removed);
			return done;
		}
		/* one leaf: its one set on each instance that may hold it */
		if (dom->attached)
			cleared_fence();
		for (a = dom->attached; a; a = a->next)
			if (cached_sizes(a, size))
				ap__iotlb_invalidate_leaf(&a->iommu->tlb, a->tag, iova,
							  (unsigned)__builtin_ctzll(size));
		return done;
	}
	while (done < size) {
		uint64_t count, got;
		uint64_t pgsize = ap_pt_pgsize(dom->pgsizes, iova + done, iova + done,
					       size - done, &count);

		if (!pgsize)
			break;
		got = ap_pt_unmap_pages_sizes(dom->pt, iova + done, pgsize, count, &removed);
		if (!got)
			break;
		done += got;
	}
	invalidate_range(dom, iova, done, removed);
	return done;
}

/*
 * A failed map's leaves, exactly: the runs the map wrote, found again by the
 * same page-size choice (each lies wholly in what was mapped, so the choice
 * over that shorter length is the same), taken back leaf by leaf, then what
 * the IOTLBs may have cached of them.  Not an unmap by the format's rule,
 * which could take tables that were there before: a failed map leaves the
 * tables as it found them (Linux's iommu_map unmaps by the rule).
 */
static void map_undo(struct ap_domain *dom, struct ap_pt_txn *txn, uint64_t iova, uint64_t pa,
		     uint64_t done)
{
	uint64_t pos = 0, removed = 0;

	while (pos < done) {
		uint64_t count, got;
		uint64_t pgsize = ap_pt_pgsize(dom->pgsizes, iova + pos, pa + pos, done - pos,
					       &count);

		if (!pgsize)
			break;
		got = ap_pt_txn_unmap(txn, iova + pos, pgsize, count, &removed);
		if (!got)
			break;
		pos += got;
	}
	invalidate_range(dom, iova, done, removed);
}

/* A failed map: give back the tables it allocated, alone in the domain
 * (nothing to do, and no need to be alone, if it allocated none: the
 * common -EEXIST). */
static void rollback_alone(struct ap_domain *dom, struct ap_pt_txn *txn)
{
	if (!txn->len || ap__rcu_reading()) {
		ap_pt_txn_end(txn, false); /* inside a DMA it cannot wait: keep them */
		return;
	}
	pthread_mutex_lock(&dom->excl_lock);
	__atomic_store_n(&dom->exclusive, 1, __ATOMIC_SEQ_CST);
	ap__rcu_synchronize(); /* writers already inside are done */
	ap_pt_txn_end(txn, true);
	__atomic_store_n(&dom->exclusive, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&dom->excl_lock);
}

static int map_check(struct ap_domain *dom, uint64_t iova, uint64_t pa, uint64_t size,
		     unsigned prot)
{
	struct ap_ctx *ctx = dom->ctx;
	uint64_t min = dom->pgsizes & -dom->pgsizes;
	uint64_t last = iova + (size - 1);

	if (dom->type != AP_DOMAIN_PAGING)
		return ap__err(ctx, -EINVAL, "domain '%s' is not a paging domain", dom->name);
	if (!(prot & (AP_PROT_READ | AP_PROT_WRITE)) || (prot & ~PROT_ALL))
		return ap__err(ctx, -EINVAL, "a mapping needs read or write permission");
	if ((iova | pa | size) & (min - 1))
		return ap__err(ctx, -EINVAL,
			       "iova 0x%llx, pa 0x%llx and size 0x%llx must be 0x%llx-aligned",
			       (unsigned long long)iova, (unsigned long long)pa,
			       (unsigned long long)size, (unsigned long long)min);
	if (last < iova || iova < dom->geo.start || last > dom->geo.end)
		return ap__err(ctx, -ERANGE,
			       "0x%llx-0x%llx is outside the aperture 0x%llx-0x%llx of '%s'",
			       (unsigned long long)iova, (unsigned long long)last,
			       (unsigned long long)dom->geo.start,
			       (unsigned long long)dom->geo.end, dom->name);
	if (pa + (size - 1) < pa || pa + (size - 1) > input_end(dom->oas))
		return ap__err(ctx, -ERANGE, "pa 0x%llx+0x%llx is beyond the %u-bit output size",
			       (unsigned long long)pa, (unsigned long long)size, dom->oas);
	return 0;
}

/* Map [iova, iova + size) in the pieces iommu_pgsize picks, through txn;
 * on failure the leaves it wrote are taken back (the tables are the
 * caller's to roll back). */
static int map_pieces(struct ap_domain *dom, struct ap_pt_txn *txn, uint64_t iova, uint64_t pa,
		      uint64_t size, unsigned prot)
{
	uint64_t done = 0;
	int err = 0;

	if (one_page(dom, iova, pa, size)) {
		err = ap_pt_txn_map_pages(txn, iova, pa, size, 1, prot, &done);
	} else {
		while (done < size) {
			uint64_t count, mapped = 0;
			uint64_t pgsize = ap_pt_pgsize(dom->pgsizes, iova + done, pa + done,
						       size - done, &count);

			err = ap_pt_txn_map_pages(txn, iova + done, pa + done, pgsize, count, prot,
						  &mapped);
			done += mapped;
			if (err)
				break;
		}
	}
	if (err)
		map_undo(dom, txn, iova, pa, done); /* readers may have cached some */
	return err;
}

/* The common map, one page into a table this thread used last: no
 * transaction, since it allocates nothing (pgtable.h).  False: not done. */
static bool map_one_kept(struct ap_domain *dom, uint64_t iova, uint64_t pa, uint64_t size,
			 unsigned prot)
{
	bool done;

	if (!one_page(dom, iova, pa, size) || writer_enter(dom))
		return false; /* the general path says why, if it must */
	done = ap_pt_map_one_kept(dom->pt, iova, pa, size, prot);
	writer_exit(dom);
	return done;
}

int ap_map(struct ap_domain *dom, uint64_t iova, uint64_t pa, uint64_t size, unsigned prot)
{
	struct ap_ctx *ctx;
	struct ap_pt_txn txn;
	bool retried = false;
	size_t freed_before;
	int err;

	if (!dom)
		return -EINVAL;
	ctx = dom->ctx;
	if (!size && dom->type == AP_DOMAIN_PAGING)
		return 0;
	err = map_check(dom, iova, pa, size, prot);
	if (err)
		return err;
	if (map_one_kept(dom, iova, pa, size, prot)) {
		if (ap__reclaim_due(ctx))
			ap__reclaim(ctx);
		return 0;
	}
	freed_before = __atomic_load_n(&ctx->ndeferred, __ATOMIC_RELAXED);
	for (;;) {
		err = writer_enter(dom);
		if (err)
			return err;
		ap_pt_txn_begin(dom->pt, &txn);
		err = map_pieces(dom, &txn, iova, pa, size, prot);
		/* Ended even with no entry left: a table that lost the race
		 * to hang was forgotten, but the array that noted it stays. */
		if (!err && txn.entries)
			ap_pt_txn_end(&txn, false); /* frees the tables blocks displaced */
		writer_exit(dom);
		if (!err)
			break;
		rollback_alone(dom, &txn); /* a failed map leaves no table behind */
		/* Frames that only wait for a grace period may be what it
		 * lacked: give them back, and try once more. */
		if (err != -ENOMEM || retried ||
		    !__atomic_exchange_n(&ctx->pool_starved, false, __ATOMIC_RELAXED))
			break;
		ap__reclaim(ctx);
		retried = true;
	}
	if (err && __atomic_load_n(&ctx->ndeferred, __ATOMIC_RELAXED) > freed_before)
		ap__reclaim_since(ctx, freed_before); /* a failed map holds no new memory */
	else if (ap__reclaim_due(ctx))
		ap__reclaim(ctx);
	if (!err)
		return 0;
	if (err == -EEXIST)
		return ap__err(ctx, err, "0x%llx-0x%llx overlaps a live mapping of '%s'",
			       (unsigned long long)iova, (unsigned long long)(iova + size - 1),
			       dom->name);
	if (err == -ENOMEM)
		return ap__err(ctx, err, "out of memory for page tables");
	return ap__err(ctx, err, "page table refused the mapping");
}

int ap_unmap(struct ap_domain *dom, uint64_t iova, uint64_t size, uint64_t *unmapped)
{
	uint64_t min, done;

	if (unmapped)
		*unmapped = 0;
	if (!dom)
		return -EINVAL;
	if (dom->type != AP_DOMAIN_PAGING)
		return ap__err(dom->ctx, -EINVAL, "domain '%s' is not a paging domain", dom->name);
	min = dom->pgsizes & -dom->pgsizes;
	if ((iova | size) & (min - 1))
		return ap__err(dom->ctx, -EINVAL, "iova 0x%llx and size 0x%llx must be 0x%llx-aligned",
			       (unsigned long long)iova, (unsigned long long)size,
			       (unsigned long long)min);
	if (iova + size < iova && iova + size != 0)
		return ap__err(dom->ctx, -EINVAL, "0x%llx+0x%llx wraps the address space",
			       (unsigned long long)iova, (unsigned long long)size);
	if (writer_enter(dom))
		return -EDEADLK;
	done = unmap_run(dom, iova, size);
	writer_exit(dom);
	if (ap__reclaim_due(dom->ctx))
		ap__reclaim(dom->ctx); /* tables it freed, in batches */
	if (unmapped)
		*unmapped = done;
	return 0;
}

bool ap_domain_iova_to_phys(const struct ap_domain *dom, uint64_t iova, uint64_t *pa)
{
	if (!dom || dom->type != AP_DOMAIN_PAGING)
		return false;
	if (iova < dom->geo.start || iova > dom->geo.end)
		return false;
	return ap_pt_iova_to_phys(dom->pt, iova, pa);
}
