/* SPDX-License-Identifier: MIT */
/*
 * Translation and DMA: what a device's transaction becomes.  Every refusal is
 * a fault record in the instance's event queue; a DMA moves no byte until
 * every byte of it has a translation into RAM.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "rcu.h"

#define PROT_RW (AP_PROT_READ | AP_PROT_WRITE)

/* An untranslated address, valid up to `limit`: a DMA that starts below
 * the limit and runs past it stops there (bytes saturated at 2^64 - 1). */
static void passthrough(uint64_t iova, uint64_t limit, struct ap_translation *out)
{
	out->pa = iova;
	out->size = limit - iova == UINT64_MAX ? UINT64_MAX : limit - iova + 1;
	out->prot = PROT_RW;
	out->bypass = true;
}

static int refuse_at(const struct ap_device *dev, uint64_t iova, unsigned access,
		     enum ap_fault_kind kind, int level, uint64_t pa, bool record,
		     struct ap_fault *fault)
{
	struct ap_fault f = {
		.kind = kind,
		.sid = dev->sid,
		.iova = iova,
		.access = access,
		.iommu = dev->iommu,
		.pa = pa,
		.level = level,
	};

	if (record)
		ap__fault_record(dev->iommu, &f);
	if (fault)
		*fault = f;
	return -EFAULT;
}

static int refuse(const struct ap_device *dev, uint64_t iova, unsigned access, enum ap_fault_kind kind,
		  int level, bool record, struct ap_fault *fault)
{
	return refuse_at(dev, iova, access, kind, level, 0, record, fault);
}

static bool beyond_input(const struct ap_iommu *iommu, uint64_t iova)
{
	return iommu->cfg.ias < 64 && (iova >> iommu->cfg.ias) != 0;
}

/*
 * An untranslated transaction (unmatched stream passed, identity domain,
 * open aperture): the address goes out as it came in, if the hardware
 * lets it; beyond the kind's bypass limit it is refused with an
 * address-size fault (SMMUv3's F_ADDR_SIZE for bypassed input beyond OAS,
 * VT-d's "address beyond MGAW/AW"; doc/kinds/).
 */
static int bypass(const struct ap_device *dev, uint64_t iova, unsigned access,
		  struct ap_translation *out, struct ap_fault *fault, bool record)
{
	if (iova > dev->iommu->bypass_limit)
		return refuse(dev, iova, access, AP_FAULT_ADDRESS_SIZE, -1, record, fault);
	passthrough(iova, dev->iommu->bypass_limit, out);
	return 0;
}

/* What a walk that found a leaf translates iova to. */
static void walked(const struct ap_pt_walk_result *res, uint64_t iova, struct ap_translation *out)
{
	out->pa = res->pa;
	out->size = res->leaf.size - (iova & (res->leaf.size - 1));
	out->prot = res->leaf.prot;
	out->bypass = false;
}

/* What an IOTLB hit translates its address to. */
static AP_ALWAYS_INLINE void from_hit(const struct ap_iotlb_hit *hit, struct ap_translation *out)
{
	out->pa = hit->pa;
	out->size = hit->size;
	out->prot = hit->prot;
	out->bypass = false;
}

/* Whether lookups through att may probe leaves of 2^shift bytes: a size
 * its IOTLB entries may have (ap_attachment.sizes). */
static bool probable(const struct ap_attachment *att, unsigned shift)
{
	unsigned i;

	for (i = 0; i < att->sizes.n; i++)
		if (att->sizes.shift[i] == shift)
			return true;
	return false;
}

/*
 * The first leaf of its size a walk through att found: from now on
 * lookups probe that size.  The fill needs its set's generation from
 * before a walk (iotlb.h), which the walk that found it did not read, so
 * that walk is not trusted: the generation first, then the walk again
 * (not counted: it happens once per size and attachment).  False when no
 * fill can follow.
 */
static __attribute__((noinline)) bool widen(struct ap_iotlb *tlb, struct ap_attachment *att,
					    uint64_t iova, unsigned access,
					    struct ap_iotlb_probe *probe,
					    struct ap_pt_walk_result *res)
{
	unsigned shift = (unsigned)__builtin_ctzll(res->leaf.size);
	struct ap_pt_walk_result again;

	if (!probable(att, shift))
		return false;
	__atomic_fetch_or(&att->filled, 1ull << shift, __ATOMIC_SEQ_CST);
	ap__iotlb_fill_begin(tlb, 1ull << shift, probe, att->tag, iova);
	if (ap_pt_walk_table(att->dom->pt, &att->walk, iova, access, &again))
		return false; /* unmapped meanwhile: the first walk answers */
	*res = again;
	return true;
}

/* A walk of the domain's tables, as the instance's hardware would walk
 * them; on success the leaf goes into the IOTLB unless an invalidation
 * passed meanwhile (iotlb.h). */
static int walk(const struct ap_device *dev, struct ap_attachment *att, uint64_t iova,
		unsigned access, struct ap_translation *out, struct ap_fault *fault, bool record)
{
	struct ap_iotlb *tlb = &dev->iommu->tlb;
	struct ap_pt_walk_result res;
	struct ap_iotlb_probe probe;
	uint64_t filled = 0;

	if (tlb->sets) {
		filled = __atomic_load_n(&att->filled, __ATOMIC_SEQ_CST);
		ap__iotlb_fill_begin(tlb, filled, &probe, att->tag, iova);
	}
	if (ap_pt_walk_table(att->dom->pt, &att->walk, iova, access, &res))
		return refuse(dev, iova, access, res.fault, res.level, record, fault);
	if (tlb->sets && ((filled & res.leaf.size) ||
			  widen(tlb, att, iova, access, &probe, &res)))
		ap__iotlb_fill(tlb, &probe, att->tag, res.leaf.iova,
			       (unsigned)__builtin_ctzll(res.leaf.size), res.leaf.pa, res.leaf.prot,
			       res.allowed);
	walked(&res, iova, out);
	return 0;
}

/*
 * The hit path: a paging domain, inside its aperture, and an IOTLB entry
 * that allows the access.  Small enough to inline into every caller; all
 * else (and the miss count) is translate()'s.  Inside a read-side section:
 * the attachment stays valid until it ends.
 */
enum lookup { HIT, MISS, OTHER };

/* What a miss found: the attachment, and the set it probed when it
 * probed one size only (`probed`, the sizes it probed).  Callers that do
 * not go on to translate_miss() pass none. */
struct missed {
	struct ap_attachment *att;
	struct ap_iotlb_set *set;
	uint64_t probed;
};

/* Whether iova may be in att's IOTLB entries: a paging domain on an
 * instance with an IOTLB, and inside the aperture. */
static AP_ALWAYS_INLINE bool cached_here(const struct ap_attachment *att, uint64_t iova)
{
	return att && att->sets && iova >= __atomic_load_n(&att->geo_start, __ATOMIC_RELAXED) &&
	       iova <= __atomic_load_n(&att->geo_end, __ATOMIC_RELAXED);
}

/* The log2 of the one leaf size lookups probe when `filled` (an
 * attachment's) names one; -1 when it names none or several. */
static AP_ALWAYS_INLINE int one_size(uint64_t filled)
{
	return filled && !(filled & (filled - 1)) ? __builtin_ctzll(filled) : -1;
}

static AP_ALWAYS_INLINE enum lookup translate_hit(const struct ap_device *dev, uint64_t iova,
						   unsigned access, struct ap_translation *out,
						   struct missed *m)
{
	struct ap_attachment *att = __atomic_load_n(&dev->att, __ATOMIC_ACQUIRE);
	struct ap_iotlb_hit hit;
	uint64_t filled;
	int shift;

	if (!cached_here(att, iova))
		return OTHER;
	filled = __atomic_load_n(&att->filled, __ATOMIC_RELAXED);
	shift = one_size(filled);
	if (shift >= 0) {
		/* one size: its one set, without the loop */
		struct ap_iotlb_set *set = ap__iotlb_set_in(att->sets, att->set_mask, att->tag,
							    iova, (unsigned)shift);

		if (!ap__iotlb_set_hit(set, att->tag, iova, (unsigned)shift, access, &hit)) {
			if (m)
				*m = (struct missed){ att, set, filled };
			return MISS;
		}
	} else if (!ap__iotlb_lookup(att->sets, att->set_mask, filled, att->tag, iova, access,
				     &hit)) {
		if (m)
			*m = (struct missed){ att, NULL, filled };
		return MISS;
	}
	ap__iotlb_count(&ap__iotlb_shard_in(att->shards)->hits);
	from_hit(&hit, out);
	return HIT;
}

/* A miss of translate_hit(): the walk, straight away (what translate_slow()
 * would check again translate_hit() has checked).  Few instructions lie
 * between the lookup's load of its set and the walk's loads, so that the
 * processor can have both in flight at once. */
static __attribute__((noinline)) int translate_miss(const struct ap_device *dev,
						    const struct missed *m, uint64_t iova,
						    unsigned access, struct ap_translation *out,
						    struct ap_fault *fault, bool record)
{
	struct ap_attachment *att = m->att;
	struct ap_iotlb_shard *sh = ap__iotlb_shard_in(att->shards);
	uint64_t filled = __atomic_load_n(&att->filled, __ATOMIC_SEQ_CST);
	struct ap_iotlb_set *set = m->set;
	struct ap_pt_walk_result res;
	struct ap_iotlb_probe probe;
	unsigned shift;
	uint32_t gen;

	ap__iotlb_count(&sh->misses);
	ap__iotlb_count(&sh->walks);
	if (!set || filled != m->probed)
		return walk(dev, att, iova, access, out, fault, record);
	/* One size probed (the common case): the set the lookup probed,
	 * and its generation before the walk (iotlb.h). */
	shift = (unsigned)__builtin_ctzll(filled);
	gen = __atomic_load_n(&set->gen, __ATOMIC_SEQ_CST);
	if (ap_pt_walk_table(att->dom->pt, &att->walk, iova, access, &res))
		return refuse(dev, iova, access, res.fault, res.level, record, fault);
	if (res.leaf.size == filled) { /* (one bit: the leaf's size) */
		if (ap__iotlb_fill_set(set, gen, att->tag, res.leaf.iova | shift, res.leaf.pa,
				       res.leaf.prot, res.allowed))
			ap__iotlb_count(&sh->fills);
	} else if (widen(&dev->iommu->tlb, att, iova, access, &probe, &res)) {
		ap__iotlb_fill(&dev->iommu->tlb, &probe, att->tag, res.leaf.iova,
			       (unsigned)__builtin_ctzll(res.leaf.size), res.leaf.pa, res.leaf.prot,
			       res.allowed);
	}
	walked(&res, iova, out);
	return 0;
}

/* What translate_hit() did not answer: anything but a paging domain, the
 * aperture, and the walk after a miss.  Out of line, so that the hit path
 * spills nothing for it. */
static __attribute__((noinline)) int translate_slow(const struct ap_device *dev, uint64_t iova,
						    unsigned access, struct ap_translation *out,
						    struct ap_fault *fault, bool record)
{
	struct ap_attachment *att = __atomic_load_n(&dev->att, __ATOMIC_ACQUIRE);
	const struct ap_domain *dom;

	if (!att) {
		if (ap_iommu_unmatched(dev->iommu) == AP_UNMATCHED_BYPASS)
			return bypass(dev, iova, access, out, fault, record);
		return refuse(dev, iova, access, AP_FAULT_BAD_STREAM, -1, record, fault);
	}
	dom = att->dom;
	if (dom->type == AP_DOMAIN_BLOCKED)
		return refuse(dev, iova, access, AP_FAULT_TRANSLATION, -1, record, fault);
	if (dom->type == AP_DOMAIN_IDENTITY)
		return bypass(dev, iova, access, out, fault, record);
	if (iova < __atomic_load_n(&dom->geo.start, __ATOMIC_RELAXED) ||
	    iova > __atomic_load_n(&dom->geo.end, __ATOMIC_RELAXED)) {
		/* An open aperture passes what lies beyond the instance's own
		 * input range; the part a shared domain narrowed away faults. */
		if (!dev->iommu->cfg.force_aperture && beyond_input(dev->iommu, iova))
			return bypass(dev, iova, access, out, fault, record);
		return refuse(dev, iova, access, AP_FAULT_ADDRESS_SIZE, -1, record, fault);
	}
	if (dev->iommu->tlb.sets)
		ap__iotlb_count(&ap__iotlb_shard(&dev->iommu->tlb)->misses);
	ap__iotlb_count(&ap__iotlb_shard(&dev->iommu->tlb)->walks);
	return walk(dev, att, iova, access, out, fault, record);
}

static AP_ALWAYS_INLINE int translate(const struct ap_device *dev, uint64_t iova, unsigned access,
				      struct ap_translation *out, struct ap_fault *fault,
				      bool record)
{
	struct missed m;
	enum lookup got = translate_hit(dev, iova, access, out, &m);

	if (__builtin_expect(got == HIT, 1))
		return 0;
	if (got == MISS)
		return translate_miss(dev, &m, iova, access, out, fault, record);
	return translate_slow(dev, iova, access, out, fault, record);
}

int ap_translate(struct ap_device *dev, uint64_t iova, unsigned access,
		 struct ap_translation *out, struct ap_fault *fault)
{
	struct ap_translation t;
	int err;

	if (!dev)
		return -EINVAL;
	ap__rcu_read_lock();
	err = translate(dev, iova, access, out ? out : &t, fault, true);
	ap__rcu_read_unlock();
	return err;
}

/* One address of a batch that batch_hits() could not answer from the
 * IOTLB: the whole of translate(), out of the batch's loop. */
static __attribute__((noinline)) int batch_one(const struct ap_device *dev, uint64_t iova,
					       unsigned access, struct ap_translation *out,
					       struct ap_fault *fault)
{
	return translate(dev, iova, access, out, fault, true);
}

/*
 * The batch's run of hits when the attachment's lookups probe one leaf
 * size of 2^shift bytes (the common case: a domain mapped with one page
 * size): per address the aperture, one set and its ways, and the output.
 * It stops at the first address it cannot answer (returned; n if none),
 * so that its loop calls nothing and keeps everything in registers.
 * Always inlined with a constant shift (batch_hits()).  Inside the
 * batch's read-side section, which keeps `att` valid.
 */
static AP_ALWAYS_INLINE size_t batch_hits_of(const struct ap_attachment *att,
					     const unsigned shift, const uint64_t *iova,
					     size_t n, unsigned access, struct ap_translation *out)
{
	struct ap_iotlb_set *sets = att->sets;
	uint64_t start = __atomic_load_n(&att->geo_start, __ATOMIC_RELAXED);
	uint64_t end = __atomic_load_n(&att->geo_end, __ATOMIC_RELAXED);
	uint32_t mask = att->set_mask;
	uint16_t tag = att->tag;
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t a = iova[i];
		struct ap_iotlb_hit hit;

		if (a < start || a > end ||
		    !ap__iotlb_set_hit(ap__iotlb_set_in(sets, mask, tag, a, shift), tag, a, shift,
				       access, &hit))
			break;
		from_hit(&hit, &out[i]);
	}
	if (i)
		ap__iotlb_count_n(&ap__iotlb_shard_in(att->shards)->hits, i);
	return i;
}

/* batch_hits_of() with the usual page sizes as constants, each its own
 * function (its own registers), and any other size as it comes. */
static __attribute__((noinline)) size_t batch_hits_4k(const struct ap_attachment *att,
						      const uint64_t *iova, size_t n,
						      unsigned access, struct ap_translation *out)
{
	return batch_hits_of(att, 12, iova, n, access, out);
}

static __attribute__((noinline)) size_t batch_hits_2m(const struct ap_attachment *att,
						      const uint64_t *iova, size_t n,
						      unsigned access, struct ap_translation *out)
{
	return batch_hits_of(att, 21, iova, n, access, out);
}

static __attribute__((noinline)) size_t batch_hits_any(const struct ap_attachment *att,
						       unsigned shift, const uint64_t *iova,
						       size_t n, unsigned access,
						       struct ap_translation *out)
{
	return batch_hits_of(att, shift, iova, n, access, out);
}

/* The run of hits at iova[0] through dev's attachment: 0 if its lookups
 * probe other than one size. */
static size_t batch_hits(const struct ap_device *dev, const uint64_t *iova, size_t n,
			 unsigned access, struct ap_translation *out)
{
	const struct ap_attachment *att = __atomic_load_n(&dev->att, __ATOMIC_ACQUIRE);
	int shift;

	if (!att || !att->sets)
		return 0;
	shift = one_size(__atomic_load_n(&att->filled, __ATOMIC_RELAXED));
	if (shift < 0)
		return 0;
	if (shift == 12)
		return batch_hits_4k(att, iova, n, access, out);
	if (shift == 21)
		return batch_hits_2m(att, iova, n, access, out);
	return batch_hits_any(att, (unsigned)shift, iova, n, access, out);
}

int ap_translate_batch(struct ap_device *dev, const uint64_t *iova, size_t n, unsigned access,
		       struct ap_translation *out, size_t *done, struct ap_fault *fault)
{
	size_t i = 0;
	int err = 0;

	if (done)
		*done = 0;
	if (!dev)
		return -EINVAL;
	if (!done || (n && (!iova || !out)))
		return ap__err(dev->ctx, -EINVAL, "a batch of %zu translations needs %s", n,
			       !done ? "a count to return" : !iova ? "its addresses" :
			       "room for its translations");
	ap__rcu_read_lock();
	while (i < n) {
		i += batch_hits(dev, iova + i, n - i, access, out + i);
		if (i == n)
			break;
		/* a miss, or what batch_hits() does not take: translate() whole,
		 * then hits again (a first fill may have made them possible) */
		err = batch_one(dev, iova[i], access, &out[i], fault);
		if (err)
			break;
		i++;
	}
	ap__rcu_read_unlock();
	*done = i;
	return err;
}

bool ap_device_iova_to_phys(const struct ap_device *dev, uint64_t iova, uint64_t *pa)
{
	struct ap_translation t;
	int err;

	if (!dev)
		return false;
	ap__rcu_read_lock();
	err = translate(dev, iova, AP_ACCESS_PRIV, &t, NULL, false);
	ap__rcu_read_unlock();
	if (err)
		return false;
	if (pa)
		*pa = t.pa;
	return true;
}

/*
 * A DMA is checked whole before any byte moves, and the pieces found
 * (each the rest of one leaf, or of one RAM region) are kept as runs:
 * pieces contiguous in IOVA, PA and host memory merge, so that a transfer
 * through many small pages is one memcpy per contiguous stretch, and the
 * copy does not translate again.  Up to DMA_RUNS runs are kept; beyond them
 * the copy translates what is left piece by piece.
 */
#define DMA_RUNS 16

struct dma_run {
	uint64_t off, pa, len; /* off: from the start of the transfer */
	uint8_t *host;
};

struct dma_plan {
	struct dma_run run[DMA_RUNS];
	unsigned n;
	uint64_t planned; /* bytes the runs cover, from offset 0 */
	struct ap_ram ram; /* the last RAM region found (size 0: none) */
	const struct ap_translation *first; /* of offset 0, when dma_fast() had it */
};

/* The piece of a transfer that starts at `at` (at most `left` bytes); its
 * translation `given` when not NULL. */
static int dma_piece(struct ap_device *dev, uint64_t at, uint64_t left, unsigned access,
		     bool record, struct ap_fault *fault, struct ap_ram *ram, uint8_t **host,
		     uint64_t *pa, uint64_t *len, const struct ap_translation *given)
{
	struct ap_translation t = { 0 }; /* every success sets it; the analyser cannot tell */
	uint64_t in;
	int err;

	if (given) {
		t = *given;
	} else {
		err = translate(dev, at, access, &t, fault, record);
		if (err)
			return err;
	}
	/* pages of one transfer mostly land in one region: look it up once */
	if ((!ram->size || t.pa - ram->pa >= ram->size) && !ap__ram_find(dev->ctx, t.pa, ram)) {
		ram->size = 0;
		/* refuse_at() returns -EFAULT: said here too for the static
		 * analyser, which stops following calls five deep */
		(void)refuse_at(dev, at, access, AP_FAULT_EXTERNAL, -1, t.pa, record, fault);
		return -EFAULT;
	}
	in = t.pa - ram->pa;
	*host = ram->host + in;
	*pa = t.pa;
	*len = left;
	if (t.size < *len)
		*len = t.size;
	if (ram->size - in < *len)
		*len = ram->size - in;
	return 0;
}

static void plan_add(struct dma_plan *p, uint64_t off, uint64_t pa, uint64_t len, uint8_t *host)
{
	struct dma_run *last = p->n ? &p->run[p->n - 1] : NULL;

	if (p->planned != off)
		return; /* the runs are full: the copy finds the rest itself */
	if (last && last->pa + last->len == pa && last->host + last->len == host) {
		last->len += len;
	} else if (p->n < DMA_RUNS) {
		p->run[p->n++] = (struct dma_run){ off, pa, len, host };
	} else {
		return;
	}
	p->planned += len;
}

/* Every piece translates into RAM, or the first fault, recorded. */
static int dma_check(struct ap_device *dev, uint64_t iova, size_t len, unsigned access,
		     struct ap_fault *fault, struct dma_plan *p)
{
	uint64_t done = 0, pa, piece;
	uint8_t *host;
	int err;

	for (; done < len; done += piece) {
		err = dma_piece(dev, iova + done, len - done, access, true, fault, &p->ram, &host,
				&pa, &piece, done ? NULL : p->first);
		if (err)
			return err;
		plan_add(p, done, pa, piece, host);
	}
	return 0;
}

/* Move one stretch: into RAM from `src`, or out of it into `dst`; device
 * writes are reported to the observer.  Inline: the one-copy DMA of dma()
 * runs it too. */
static AP_ALWAYS_INLINE void dma_move(struct ap_device *dev, uint64_t iova, uint8_t *dst,
				       const uint8_t *src, const struct dma_run *r)
{
	if (src) {
		ap_dma_write_observer fn;

		memcpy(r->host, src + r->off, (size_t)r->len);
		fn = __atomic_load_n(&dev->ctx->dma_write_fn, __ATOMIC_ACQUIRE);
		if (fn)
			fn(__atomic_load_n(&dev->ctx->dma_write_arg, __ATOMIC_RELAXED), dev,
			   iova + r->off, r->pa, (size_t)r->len);
	} else {
		memcpy(dst + r->off, r->host, (size_t)r->len);
	}
}

/* Move the bytes of a checked transfer: the planned runs, then the rest
 * translated again piece by piece. */
static int dma_copy(struct ap_device *dev, uint64_t iova, size_t len, unsigned access,
		    uint8_t *dst, const uint8_t *src, struct ap_fault *fault, struct dma_plan *p)
{
	uint64_t done;
	unsigned i;
	int err;

	for (i = 0; i < p->n; i++)
		dma_move(dev, iova, dst, src, &p->run[i]);
	for (done = p->planned; done < len;) {
		struct dma_run r = { .off = done };

		/* Recorded: only an unmap racing this DMA can fault here, and
		 * then the device sees it as a real one would, mid-transfer. */
		err = dma_piece(dev, iova + done, len - done, access, true, fault, &p->ram, &r.host,
				&r.pa, &r.len, NULL);
		if (err)
			return err;
		dma_move(dev, iova, dst, src, &r);
		done += r.len;
	}
	return 0;
}

/*
 * A checked transfer that the fast path (dma()) did not finish, inside the
 * read-side section dma() took, which this ends: the pieces, planned from
 * the first translation when dma() had it (`first`, when first.size is
 * not 0).  `first` comes by value: were its address taken, dma()'s hit
 * would go through memory, and a 16-byte load of two 8-byte stores it
 * made costs a failed store forwarding on every DMA.
 */
static __attribute__((noinline)) int dma_slow(struct ap_device *dev, uint64_t iova, uint8_t *dst,
					      const uint8_t *src, size_t len, unsigned access,
					      struct ap_fault *fault, struct ap_translation first)
{
	struct dma_plan plan;
	int err;

	plan.n = 0;
	plan.planned = 0;
	plan.ram.size = 0;
	plan.first = first.size ? &first : NULL;
	err = dma_check(dev, iova, len, access, fault, &plan);
	if (!err)
		err = dma_copy(dev, iova, len, access, dst, src, fault, &plan);
	ap__rcu_read_unlock();
	return err;
}

static __attribute__((noinline)) int dma_refuse(struct ap_device *dev, uint64_t iova,
						const void *buf, size_t len)
{
	if (!dev)
		return -EINVAL;
	if (!buf)
		return ap__err(dev->ctx, -EINVAL, "DMA of %zu bytes needs a buffer", len);
	return ap__err(dev->ctx, -EINVAL, "DMA at 0x%llx + %zu wraps the address space",
		       (unsigned long long)iova, len);
}

/*
 * A DMA that one IOTLB hit and one RAM region hold whole, past the hit:
 * one copy, with no plan, then the end of the section its caller took.
 * The RAM and attachment found stay valid until the section ends, whatever
 * other threads unmap, detach or remove meanwhile.
 */
static int dma_one(struct ap_device *dev, uint64_t iova, uint8_t *dst, const uint8_t *src,
		   size_t len, struct ap_fault *fault, struct ap_translation t)
{
	uint8_t *host = ap__ram_host(dev->ctx, t.pa, len);
	struct dma_run r = { 0, t.pa, len, host };

	if (!host)
		return dma_slow(dev, iova, dst, src, len, src ? AP_ACCESS_WRITE : AP_ACCESS_READ,
				fault, t);
	dma_move(dev, iova, dst, src, &r);
	ap__rcu_read_unlock();
	return 0;
}

/* A DMA with checked arguments, inside the read-side section its caller
 * took, which this ends. */
static __attribute__((noinline)) int dma_locked(struct ap_device *dev, uint64_t iova,
						uint8_t *dst, const uint8_t *src, size_t len,
						struct ap_fault *fault)
{
	unsigned access = src ? AP_ACCESS_WRITE : AP_ACCESS_READ;
	struct ap_translation t;

	if (translate_hit(dev, iova, access, &t, NULL) != HIT)
		return dma_slow(dev, iova, dst, src, len, access, fault,
				(struct ap_translation){ 0 });
	if (t.size < len)
		return dma_slow(dev, iova, dst, src, len, access, fault, t);
	return dma_one(dev, iova, dst, src, len, fault, t);
}

/* Any DMA: what dma() leaves (no bytes, refused arguments, more than
 * DMA_INLINE bytes, a thread's first). */
static __attribute__((noinline)) int dma_any(struct ap_device *dev, uint64_t iova, uint8_t *dst,
					     const uint8_t *src, size_t len, struct ap_fault *fault)
{
	if (!len)
		return dev ? 0 : -EINVAL;
	if (!dev || (!dst && !src) || iova + (len - 1) < iova)
		return dma_refuse(dev, iova, dst ? (const void *)dst : src, len);
	ap__rcu_read_lock();
	return dma_locked(dev, iova, dst, src, len, fault);
}

/* A device write's report to the observer, then the end of the section
 * dma() took: out of line, so that dma() makes no call it must come back
 * from (and saves no register for one). */
static __attribute__((noinline)) int dma_observed(struct ap_device *dev, uint64_t iova,
						  uint64_t pa, size_t len, ap_dma_write_observer fn)
{
	fn(__atomic_load_n(&dev->ctx->dma_write_arg, __ATOMIC_RELAXED), dev, iova, pa, len);
	ap__rcu_read_unlock();
	return 0;
}

/*
 * Up to DMA_INLINE bytes, copied inline as glibc's memcpy does it: two
 * copies of the largest power of two not above n, one from each end,
 * overlapping in the middle.  Every load of a pair comes before its
 * stores, as in a memmove.
 */
#define DMA_INLINE 64

/* 16 bytes at any alignment, moved as one vector register (SSE2 on x86-64),
 * never through a copy on the stack. */
typedef uint8_t copy16_t __attribute__((vector_size(16), aligned(1), may_alias));

/* The pairs: the first w bytes and the last w (w <= n <= 2w), loads first. */
static AP_ALWAYS_INLINE void copy_pair32(uint8_t *d, const uint8_t *s, size_t n)
{
	copy16_t a = *(const copy16_t *)s, b = *(const copy16_t *)(s + 16);
	copy16_t c = *(const copy16_t *)(s + n - 32), e = *(const copy16_t *)(s + n - 16);

	*(copy16_t *)d = a;
	*(copy16_t *)(d + 16) = b;
	*(copy16_t *)(d + n - 32) = c;
	*(copy16_t *)(d + n - 16) = e;
}

static AP_ALWAYS_INLINE void copy_pair16(uint8_t *d, const uint8_t *s, size_t n)
{
	copy16_t a = *(const copy16_t *)s, b = *(const copy16_t *)(s + n - 16);

	*(copy16_t *)d = a;
	*(copy16_t *)(d + n - 16) = b;
}

/* w is 8 or 4, never more: a and b hold it (called with constants only,
 * so that even at -O0 the compiler sees no wider copy). */
static AP_ALWAYS_INLINE void copy_pair_word(uint8_t *d, const uint8_t *s, size_t n, size_t w)
{
	uint64_t a, b;

	memcpy(&a, s, w);
	memcpy(&b, s + n - w, w);
	memcpy(d, &a, w);
	memcpy(d + n - w, &b, w);
}

static AP_ALWAYS_INLINE void copy_small(uint8_t *d, const uint8_t *s, size_t n)
{
	if (n > 32) {
		copy_pair32(d, s, n);
	} else if (n >= 16) {
		copy_pair16(d, s, n);
	} else if (n >= 8) {
		copy_pair_word(d, s, n, 8);
	} else if (n >= 4) {
		copy_pair_word(d, s, n, 4);
	} else {
		uint8_t a = s[0], b = s[n / 2], c = s[n - 1];

		d[0] = a;
		d[n / 2] = b;
		d[n - 1] = c;
	}
}

/*
 * dma()'s hit: an attachment whose lookups probe one leaf size, and a
 * thread whose counter shard is chosen; false for anything else (which
 * dma_locked() sees to).
 */
static AP_ALWAYS_INLINE bool dma_hit(const struct ap_device *dev, uint64_t iova, unsigned access,
				     struct ap_iotlb_hit *hit)
{
	struct ap_attachment *att = __atomic_load_n(&dev->att, __ATOMIC_ACQUIRE);
	unsigned shard = ap__iotlb_tls_shard;
	struct ap_iotlb_set *set;
	int shift;

	if (!shard || !cached_here(att, iova))
		return false;
	shift = one_size(__atomic_load_n(&att->filled, __ATOMIC_RELAXED));
	if (shift < 0)
		return false;
	set = ap__iotlb_set_in(att->sets, att->set_mask, att->tag, iova, (unsigned)shift);
	if (!ap__iotlb_set_hit(set, att->tag, iova, (unsigned)shift, access, hit))
		return false;
	ap__iotlb_count(&att->shards[shard - 1].hits);
	return true;
}

/*
 * The common DMA: a few bytes through one IOTLB hit, in the RAM region
 * this thread's hint holds.  Everything else leaves by a jump (dma_any,
 * dma_locked, dma_observed: each ends the section), so that this path
 * calls nothing, copies inline and saves no register.
 */
static AP_ALWAYS_INLINE int dma(struct ap_device *dev, uint64_t iova, uint8_t *dst,
				const uint8_t *src, size_t len, struct ap_fault *fault)
{
	unsigned access = src ? AP_ACCESS_WRITE : AP_ACCESS_READ;
	struct ap_iotlb_hit hit;
	uint8_t *host;

	if (!dev || (!dst && !src) || len - 1 >= DMA_INLINE || iova + (len - 1) < iova ||
	    !ap__rcu_registered())
		return dma_any(dev, iova, dst, src, len, fault);
	ap__rcu_read_lock();
	if (!dma_hit(dev, iova, access, &hit) || hit.size < len)
		return dma_locked(dev, iova, dst, src, len, fault);
	host = ap__ram_hinted(dev->ctx, hit.pa, len);
	if (!host)
		return dma_locked(dev, iova, dst, src, len, fault);
	if (src) {
		ap_dma_write_observer fn;

		copy_small(host, src, len);
		fn = __atomic_load_n(&dev->ctx->dma_write_fn, __ATOMIC_ACQUIRE);
		if (fn)
			return dma_observed(dev, iova, hit.pa, len, fn);
	} else {
		copy_small(dst, host, len);
	}
	ap__rcu_read_unlock();
	return 0;
}

/* Flattened: liburcu's inline unlock too, which the compiler would
 * otherwise call out of line here (it is used often in this file). */
__attribute__((flatten)) int ap_dma_read(struct ap_device *dev, uint64_t iova, void *buf,
					 size_t len, struct ap_fault *fault)
{
	return dma(dev, iova, buf, NULL, len, fault);
}

__attribute__((flatten)) int ap_dma_write(struct ap_device *dev, uint64_t iova,
					  const void *buf, size_t len, struct ap_fault *fault)
{
	return dma(dev, iova, NULL, buf, len, fault);
}
