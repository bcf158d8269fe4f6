/* SPDX-License-Identifier: MIT */
/*
 * Randomized differential test of the core against an independent model.
 *
 * The model is plain data: per domain a sorted array of live leaves (it
 * splits every map itself by the greedy rule: at each position the largest
 * supported size to which both IOVA and PA are aligned and which fits in
 * what is left) and, for the ARM domains, which 2M and 1G entries hold a
 * table; its own geometry, page sizes and OAS, which narrow as instances
 * join; per group its domain; a shadow copy of every RAM byte.  Unmap
 * follows Linux's iommu_unmap: pieces of the size iommu_pgsize() picks
 * (computed here independently), each by the domain's format rule:
 * io-pgtable-arm's for the SMMU domains (a table at the piece's level goes
 * whole, holes and all), generic_pt's for the VT-d one (a hole anywhere
 * stops it, a leaf the range starts at or ends inside goes whole).
 *
 * Every operation (map, unmap, attach, detach, DMA read/write, domain
 * re-creation) is applied to both and the outcomes must agree: return
 * codes, bytes unmapped, fault records.  After every operation sample
 * probes check that mapped bytes translate to the model's PA with the
 * model's permissions and that EVERY unmapped or out-of-aperture address
 * faults (nothing bypasses unless the model says it is an explicit bypass),
 * and that DMA moved exactly the predicted bytes or, on a fault, none.  A
 * full comparison (every leaf, geometry, attachments, fault counters, all
 * RAM) runs periodically and at the end.
 *
 *   test_differential [SEED [OPS]]     or AP_DIFF_SEED / AP_DIFF_OPS
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aperture/core.h>

#define SZ_4K 0x1000ull
#define SZ_64K 0x10000ull
#define SZ_2M 0x200000ull
#define SZ_1G 0x40000000ull
#define SZ_4G 0x100000000ull
#define RW (AP_PROT_READ | AP_PROT_WRITE)
#define FULL_CHECK_EVERY 2000
#define LEAF_SOFT_CAP 40000

static uint64_t g_seed = 20240611;
static unsigned long g_ops = 300000;
static unsigned long g_op;      /* current operation number */
static char g_desc[320];        /* what the current operation is */

#define FAIL(...)                                                                     \
	do {                                                                          \
		char m_[512];                                                         \
		snprintf(m_, sizeof(m_), __VA_ARGS__);                                \
		fail_msg("seed=%" PRIu64 " op#%lu [%s]: %s (rerun: test_differential %" \
			 PRIu64 " %lu)",                                              \
			 g_seed, g_op, g_desc, m_, g_seed, g_op + 1);                 \
	} while (0)

#define EXPECT_EQ(what, got, want)                                                       \
	do {                                                                             \
		uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want);                    \
		if (g_ != w_)                                                            \
			FAIL("%s: got 0x%" PRIx64 " (%" PRId64 "), model 0x%" PRIx64     \
			     " (%" PRId64 ")",                                           \
			     what, g_, (int64_t)g_, w_, (int64_t)w_);                    \
	} while (0)

/* ------------------------------------------------------------ random */

static uint64_t rng;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(unsigned pct)
{
	return below(100) < pct;
}

/* ------------------------------------------------------------ the machine */

struct ram_def {
	uint64_t pa, size;
};

static const struct ram_def ram_defs[] = {
	{ 0x0, 0x400000 },              /* 0 .. 4M   */
	{ 0x800000, 0x200000 },         /* 8M .. 10M */
	{ 0x1000000, 0x400000 },        /* 16M .. 20M */
	{ 0x100000000ull, 0x200000 },   /* 4G: beyond a 32-bit OAS */
	{ 0x10000000000ull, 0x200000 }, /* 1T: beyond a 40-bit OAS */
};
#define NRAM (sizeof(ram_defs) / sizeof(ram_defs[0]))

struct inst_def {
	const char *name;
	enum ap_iommu_kind kind;
	unsigned ias, oas;
	uint64_t pgsizes, host;
	bool force;
	enum ap_unmatched unmatched;
};

static const struct inst_def inst_defs[] = {
	{ "s48", AP_IOMMU_ARM_SMMU_V3, 48, 48, SZ_4K | SZ_2M | SZ_1G, SZ_4K, true,
	  AP_UNMATCHED_ABORT },
	{ "s40", AP_IOMMU_ARM_SMMU_V3, 40, 40, SZ_4K | SZ_2M | SZ_1G, SZ_4K, true,
	  AP_UNMATCHED_ABORT },
	{ "s32", AP_IOMMU_ARM_SMMU_V3, 32, 36, SZ_4K | SZ_2M, SZ_4K, true, AP_UNMATCHED_ABORT },
	{ "open40", AP_IOMMU_ARM_SMMU_V3, 40, 44, SZ_4K | SZ_2M | SZ_1G, SZ_4K, false,
	  AP_UNMATCHED_BYPASS },
	{ "g64k", AP_IOMMU_ARM_SMMU_V3, 48, 48, SZ_64K | (1ull << 29), SZ_64K, true,
	  AP_UNMATCHED_ABORT },
	{ "v48", AP_IOMMU_INTEL_VTD, 48, 48, SZ_4K | SZ_2M | SZ_1G, SZ_4K, true,
	  AP_UNMATCHED_ABORT },
};
#define NINST (sizeof(inst_defs) / sizeof(inst_defs[0]))

struct dev_def {
	const char *name;
	unsigned inst;
	uint32_t sid;
	int group; /* index into the model's groups */
};

static const struct dev_def dev_defs[] = {
	{ "a0", 0, 1, 0 }, { "a1", 0, 2, 1 }, { "a2", 0, 3, 1 }, { "b0", 1, 1, 2 },
	{ "c0", 2, 1, 3 }, { "c1", 2, 2, 4 }, { "d0", 3, 1, 5 }, { "e0", 4, 1, 6 },
	{ "f0", 5, 1, 7 },
};
#define NDEV (sizeof(dev_defs) / sizeof(dev_defs[0]))
#define NGROUP 8

struct dom_def {
	const char *name;
	unsigned owner;
	enum ap_domain_type type;
};

static const struct dom_def dom_defs[] = {
	{ "pg48", 0, AP_DOMAIN_PAGING },
	{ "pg40", 1, AP_DOMAIN_PAGING },
	{ "vt48", 5, AP_DOMAIN_PAGING },
	{ "blocked", 0, AP_DOMAIN_BLOCKED },
	{ "ident", 1, AP_DOMAIN_IDENTITY },
};
#define NDOM (sizeof(dom_defs) / sizeof(dom_defs[0]))
#define NPAGING 3 /* the first NPAGING domains */

/* ------------------------------------------------------------ the model */

struct mleaf {
	uint64_t iova, size, pa;
	unsigned prot;
};

/* An ARM domain's table in a 2M or 1G entry: [base, base + span). */
struct mtable {
	uint64_t base, span;
};

struct mdom {
	struct ap_domain *real;
	struct mleaf *lv;
	size_t n, cap;
	uint64_t by_shift[64];
	struct mtable *tv; /* sorted by base, larger span first */
	size_t nt, tcap;
	bool vtd;          /* generic_pt's rules; else io-pgtable-arm's */
	unsigned table_ias;
	uint64_t geo_end;
	bool force;
	uint64_t pgsizes;
	unsigned oas;
	unsigned att[NINST];
	unsigned ndev;
};

struct mgroup {
	int dom; /* -1: none */
	unsigned ndev;
	unsigned inst;
};

static struct ap_ctx *ctx;
static struct ap_iommu *iommus[NINST];
static struct ap_device *devs[NDEV];
static struct mdom doms[NDOM];
static struct mgroup groups[NGROUP];
static uint8_t *ram_real[NRAM], *ram_shadow[NRAM];
static uint64_t mfaults[NINST][AP_FAULT_KIND_COUNT];
static struct mleaf *scratch;
static size_t scratch_cap;
static uint64_t window_base, window_size;

/* Operation counters, printed at the end. */
enum {
	C_MAP_OK, C_MAP_EINVAL, C_MAP_ERANGE, C_MAP_EEXIST, C_MAP_ZERO,
	C_UNMAP_ALL, C_UNMAP_PART, C_UNMAP_NONE, C_UNMAP_EINVAL, C_UNMAP_MORE,
	C_UNMAP_TABLES, C_UNMAP_CUT,
	C_ATT_OK, C_ATT_SAME, C_ATT_EBUSY, C_ATT_EADDRINUSE, C_ATT_EINVAL,
	C_DET_OK, C_DET_EINVAL,
	C_DMAR_OK, C_DMAR_FAULT, C_DMAW_OK, C_DMAW_FAULT,
	C_RECREATE, C_FREE_EBUSY,
	C_PROBE_OK, C_PROBE_FAULT, C_PROBE_BYPASS,
	C_FULL_CHECK, C_N
};
static const char *const cnames[C_N] = {
	"map ok", "map EINVAL", "map ERANGE", "map EEXIST", "map size 0",
	"unmap whole", "unmap partial", "unmap nothing", "unmap EINVAL", "unmap beyond size",
	"unmap whole tables", "unmap cutting a leaf",
	"attach ok", "attach same", "attach EBUSY", "attach EADDRINUSE", "attach EINVAL",
	"detach ok", "detach EINVAL",
	"dma read ok", "dma read fault", "dma write ok", "dma write fault",
	"domain re-created", "domain free EBUSY",
	"probe translated", "probe faulted", "probe bypassed",
	"full checks",
};
static unsigned long counts[C_N];
static unsigned long fault_kinds[AP_FAULT_KIND_COUNT];

static unsigned lg2(uint64_t v)
{
	return 63u - (unsigned)__builtin_clzll(v);
}

static uint64_t end_of(unsigned bits)
{
	return bits >= 64 ? UINT64_MAX : (1ull << bits) - 1;
}

static bool is_paging(unsigned d)
{
	return dom_defs[d].type == AP_DOMAIN_PAGING;
}

static void mdom_reset(unsigned d)
{
	struct mdom *m = &doms[d];
	const struct inst_def *o = &inst_defs[dom_defs[d].owner];

	m->n = 0;
	m->nt = 0;
	m->vtd = o->kind == AP_IOMMU_INTEL_VTD;
	m->table_ias = o->ias;
	memset(m->by_shift, 0, sizeof(m->by_shift));
	memset(m->att, 0, sizeof(m->att));
	m->ndev = 0;
	m->oas = o->oas;
	switch (dom_defs[d].type) {
	case AP_DOMAIN_PAGING:
		m->geo_end = end_of(o->ias);
		m->force = o->force;
		m->pgsizes = o->pgsizes; /* all 4K-granule owners: nothing to restrict */
		break;
	case AP_DOMAIN_IDENTITY:
		m->geo_end = UINT64_MAX;
		m->force = false;
		m->pgsizes = 0;
		break;
	default:
		m->geo_end = 0;
		m->force = true;
		m->pgsizes = 0;
		break;
	}
}

/* First leaf whose last byte is >= addr. */
static size_t lower(const struct mdom *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->lv[mid].iova + (m->lv[mid].size - 1) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct mleaf *leaf_at(const struct mdom *m, uint64_t addr)
{
	size_t i = lower(m, addr);

	return i < m->n && m->lv[i].iova <= addr ? &m->lv[i] : NULL;
}

static uint64_t sizes_in_use(const struct mdom *m)
{
	uint64_t b = 0;
	unsigned s;

	for (s = 0; s < 64; s++)
		if (m->by_shift[s])
			b |= 1ull << s;
	return b;
}

static void ensure_cap(struct mleaf **a, size_t *cap, size_t need)
{
	if (need <= *cap)
		return;
	*cap = need * 2 + 64;
	*a = realloc(*a, *cap * sizeof(**a));
	assert_non_null(*a);
}

static int leaf_level(const struct mdom *m, uint64_t size)
{
	if (m->vtd)
		return size == SZ_1G ? 3 : size == SZ_2M ? 2 : 1;
	return size == SZ_1G ? 1 : size == SZ_2M ? 2 : 3;
}

/* What the descriptor of a leaf mapped with prot reads back as: stage 1
 * (always readable, the rest as given), or VT-d (R and W only; the core
 * maps without snooping). */
static unsigned decoded_prot(const struct mdom *m, unsigned prot)
{
	unsigned p = AP_PROT_READ | (prot & (AP_PROT_WRITE | AP_PROT_PRIV | AP_PROT_NOEXEC));

	if (m->vtd)
		return prot & RW;

	if (prot & AP_PROT_MMIO)
		p |= AP_PROT_MMIO;
	else if (prot & AP_PROT_CACHE)
		p |= AP_PROT_CACHE;
	return p;
}

/* ---- the tables of an ARM domain's 2M and 1G entries */

static size_t table_pos(const struct mdom *m, uint64_t base, uint64_t span)
{
	size_t lo = 0, hi = m->nt;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->tv[mid].base < base || (m->tv[mid].base == base && m->tv[mid].span > span))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool table_at(const struct mdom *m, uint64_t base, uint64_t span)
{
	size_t i = table_pos(m, base, span);

	return i < m->nt && m->tv[i].base == base && m->tv[i].span == span;
}

static void table_add(struct mdom *m, uint64_t base, uint64_t span)
{
	size_t i = table_pos(m, base, span);

	if (i < m->nt && m->tv[i].base == base && m->tv[i].span == span)
		return;
	if (m->nt == m->tcap) {
		m->tcap = m->tcap ? 2 * m->tcap : 256;
		m->tv = realloc(m->tv, m->tcap * sizeof(*m->tv));
		assert_non_null(m->tv);
	}
	memmove(m->tv + i + 1, m->tv + i, (m->nt - i) * sizeof(*m->tv));
	m->tv[i] = (struct mtable){ base, span };
	m->nt++;
}

/* The table in entry [base, base + span) and every one below it go. */
static void tables_drop(struct mdom *m, uint64_t base, uint64_t span)
{
	size_t i = table_pos(m, base, span), j = i;

	while (j < m->nt && m->tv[j].base - base < span)
		j++;
	if (j == i)
		return;
	memmove(m->tv + i, m->tv + j, (m->nt - j) * sizeof(*m->tv));
	m->nt -= j - i;
}

/* Leaves [from, to) go. */
static void leaves_drop(struct mdom *m, size_t from, size_t to)
{
	size_t j;

	if (from == to)
		return;
	for (j = from; j < to; j++)
		m->by_shift[lg2(m->lv[j].size)]--;
	memmove(m->lv + from, m->lv + to, (m->n - to) * sizeof(*m->lv));
	m->n -= to - from;
}

/* ---- map / unmap by the model's own rules */

static int model_map(unsigned d, uint64_t iova, uint64_t pa, uint64_t size, unsigned prot,
		     size_t *nleaves)
{
	struct mdom *m = &doms[d];
	uint64_t min, last, pos;
	size_t at, k, n = 0;

	*nleaves = 0;
	if (!is_paging(d))
		return -EINVAL;
	if (!size)
		return 0;
	if (!(prot & RW))
		return -EINVAL;
	min = m->pgsizes & -m->pgsizes;
	if ((iova | pa | size) & (min - 1))
		return -EINVAL;
	last = iova + (size - 1);
	if (last < iova || last > m->geo_end)
		return -ERANGE;
	if (pa + (size - 1) < pa || pa + (size - 1) > end_of(m->oas))
		return -ERANGE;
	at = lower(m, iova);
	if (at < m->n && m->lv[at].iova <= last)
		return -EEXIST;
	for (pos = 0; pos < size;) {
		uint64_t s, best = 0;

		for (s = m->pgsizes; s; s &= s - 1) {
			uint64_t cand = s & -s;

			if (!(((iova + pos) | (pa + pos)) & (cand - 1)) && cand <= size - pos)
				best = cand;
		}
		assert_true(best != 0);
		ensure_cap(&scratch, &scratch_cap, n + 1);
		scratch[n++] = (struct mleaf){ iova + pos, best, pa + pos, prot };
		pos += best;
	}
	ensure_cap(&m->lv, &m->cap, m->n + n);
	memmove(m->lv + at + n, m->lv + at, (m->n - at) * sizeof(*m->lv));
	memcpy(m->lv + at, scratch, n * sizeof(*scratch));
	m->n += n;
	for (k = 0; k < n; k++) {
		const struct mleaf *l = &scratch[k];

		m->by_shift[lg2(l->size)]++;
		/* the tables on its path appear; an empty one where it goes is
		 * replaced */
		tables_drop(m, l->iova, l->size);
		if (l->size < SZ_1G)
			table_add(m, l->iova & ~(SZ_1G - 1), SZ_1G);
		if (l->size < SZ_2M)
			table_add(m, l->iova & ~(SZ_2M - 1), SZ_2M);
	}
	*nleaves = n;
	return 0;
}

/* Linux's iommu_pgsize() with paddr = iova, written from its description:
 * the largest supported size iova is aligned to that fits, and as many as
 * fit, but stopping where the next larger size could take over. */
static uint64_t model_pgsize(uint64_t bitmap, uint64_t iova, uint64_t size, uint64_t *count)
{
	uint64_t pgsize = 0, s, next = 0, n;

	for (s = bitmap; s; s &= s - 1) {
		uint64_t cand = s & -s;

		if (cand <= size && !(iova & (cand - 1)))
			pgsize = cand;
	}
	*count = 0;
	if (!pgsize)
		return 0;
	for (s = bitmap; s; s &= s - 1)
		if ((s & -s) > pgsize) {
			next = s & -s;
			break;
		}
	n = size / pgsize;
	if (next) {
		uint64_t to_next = next - (iova & (next - 1));

		if (to_next + next <= size && to_next / pgsize < n)
			n = to_next / pgsize;
	}
	*count = n;
	return pgsize;
}

/* io-pgtable-arm: entries of pgsize from iova, up to count or the end of
 * the table page: a leaf goes, a table goes whole, an empty entry stops;
 * nothing if a larger leaf holds iova. */
static uint64_t unmap_piece_arm(struct mdom *m, uint64_t iova, uint64_t pgsize, uint64_t count)
{
	uint64_t end = (iova & ~(pgsize * 512 - 1)) + pgsize * 512, s;
	size_t i = lower(m, iova);

	if (iova >> m->table_ias)
		return 0;
	if (i < m->n && m->lv[i].iova <= iova && m->lv[i].size > pgsize)
		return 0;
	if (count < (end - iova) / pgsize)
		end = iova + count * pgsize;
	for (s = iova; s < end; s += pgsize) {
		size_t from = lower(m, s), to = from;

		while (to < m->n && m->lv[to].iova - s < pgsize)
			to++;
		if (to > from && m->lv[from].iova == s && m->lv[from].size == pgsize) {
			leaves_drop(m, from, to);
		} else if (pgsize > SZ_4K && table_at(m, s, pgsize)) {
			leaves_drop(m, from, to);
			tables_drop(m, s, pgsize);
			counts[C_UNMAP_TABLES]++;
		} else {
			break;
		}
	}
	return s - iova;
}

/* generic_pt: [iova, iova + pgsize * count) at every level, nothing unless
 * it lies below 2^ias; on leaves alone: the run of leaves from iova (the
 * first starting there: a range starting inside a leaf takes nothing)
 * while each starts within the range, each whole; a gap is a hole. */
static uint64_t unmap_piece_vtd(struct mdom *m, uint64_t iova, uint64_t pgsize, uint64_t count)
{
	uint64_t last = iova + (pgsize * count - 1), cur = iova;
	size_t from = lower(m, iova), to = from;

	if (last < iova || (last >> m->table_ias))
		return 0;
	while (to < m->n && m->lv[to].iova == cur && cur <= last) {
		cur += m->lv[to].size;
		to++;
	}
	leaves_drop(m, from, to);
	return cur - iova;
}

static int model_unmap(unsigned d, uint64_t iova, uint64_t size, uint64_t *done)
{
	struct mdom *m = &doms[d];
	uint64_t min;

	*done = 0;
	if (!is_paging(d))
		return -EINVAL;
	min = m->pgsizes & -m->pgsizes;
	if ((iova | size) & (min - 1))
		return -EINVAL;
	if (iova + size < iova && iova + size != 0)
		return -EINVAL;
	while (*done < size) {
		uint64_t count, got;
		uint64_t pg = model_pgsize(m->pgsizes, iova + *done, size - *done, &count);

		if (!pg)
			break;
		got = m->vtd ? unmap_piece_vtd(m, iova + *done, pg, count)
			     : unmap_piece_arm(m, iova + *done, pg, count);
		if (!got)
			break;
		*done += got;
	}
	return 0;
}

/* ---- attach / detach */

static int model_attach(unsigned d, unsigned v)
{
	struct mdom *m = &doms[d];
	struct mgroup *g = &groups[dev_defs[v].group];
	const struct inst_def *in = &inst_defs[g->inst];
	uint64_t new_end = m->geo_end, new_pg = m->pgsizes;
	unsigned new_oas = m->oas;
	bool new_force = m->force;

	if (g->dom == (int)d)
		return 1; /* already there: 0, nothing to do */
	if (g->dom >= 0)
		return -EBUSY;
	if (!m->att[g->inst] && is_paging(d)) {
		if (in->kind != inst_defs[dom_defs[d].owner].kind) /* the table format */
			return -EINVAL;
		if (!(in->pgsizes & SZ_4K)) /* the domain's granule */
			return -EINVAL;
		if (sizes_in_use(m) & ~in->pgsizes)
			return -EINVAL;
		if (end_of(in->ias) < m->geo_end) {
			new_end = end_of(in->ias);
			if (m->n && m->lv[m->n - 1].iova + (m->lv[m->n - 1].size - 1) > new_end)
				return -EADDRINUSE;
		}
		if (in->oas < m->oas) {
			size_t k;

			new_oas = in->oas;
			for (k = 0; k < m->n; k++)
				if (m->lv[k].pa + (m->lv[k].size - 1) > end_of(new_oas))
					return -EINVAL;
		}
		new_pg = m->pgsizes & in->pgsizes;
		new_force = m->force && in->force;
	}
	m->geo_end = new_end;
	m->pgsizes = new_pg;
	m->oas = new_oas;
	m->force = new_force;
	m->att[g->inst] += g->ndev;
	m->ndev += g->ndev;
	g->dom = (int)d;
	return 0;
}

static int model_detach(unsigned v)
{
	struct mgroup *g = &groups[dev_defs[v].group];
	struct mdom *m;

	if (g->dom < 0)
		return -EINVAL;
	m = &doms[g->dom];
	m->att[g->inst] -= g->ndev;
	m->ndev -= g->ndev;
	if (is_paging((unsigned)g->dom)) {
		/* open while an open instance can reach it: the owner, or one
		 * still attached; the aperture itself never widens */
		unsigned i, d = (unsigned)g->dom;

		m->force = inst_defs[dom_defs[d].owner].force;
		for (i = 0; i < NINST; i++)
			if (m->att[i] && !inst_defs[i].force)
				m->force = false;
	}
	g->dom = -1;
	return 0;
}

/* ---- translation */

struct mxlate {
	enum ap_fault_kind fault;
	int level;        /* -1 none; -2: a walk fault, any level 0..3 */
	uint64_t pa, size;
	unsigned prot;
	bool bypass;
};

/* Untranslated: out as it came in, unless it is beyond the output size
 * (an SMMUv3 aborts bypassed input at or above 2^OAS with F_ADDR_SIZE). */
static void passthrough(uint64_t iova, const struct inst_def *in, struct mxlate *x)
{
	if (in->oas < 64 && (iova >> in->oas)) {
		x->fault = AP_FAULT_ADDRESS_SIZE;
		x->level = -1;
		return;
	}
	x->fault = AP_FAULT_NONE;
	x->pa = iova;
	/* valid up to the output size: a transfer stops there */
	x->size = in->oas >= 64 ? (iova ? 0 - iova : UINT64_MAX) : (1ull << in->oas) - iova;
	x->prot = RW;
	x->bypass = true;
	x->level = -1;
}

static void model_xlate(unsigned v, uint64_t iova, unsigned access, struct mxlate *x)
{
	const struct mgroup *g = &groups[dev_defs[v].group];
	const struct inst_def *in = &inst_defs[g->inst];
	const struct mdom *m;
	const struct mleaf *l;
	bool priv = access & AP_ACCESS_PRIV;

	memset(x, 0, sizeof(*x));
	x->level = -1;
	if (g->dom < 0) {
		if (in->unmatched == AP_UNMATCHED_BYPASS)
			passthrough(iova, in, x);
		else
			x->fault = AP_FAULT_BAD_STREAM;
		return;
	}
	m = &doms[g->dom];
	if (dom_defs[g->dom].type == AP_DOMAIN_BLOCKED) {
		x->fault = AP_FAULT_TRANSLATION;
		return;
	}
	if (dom_defs[g->dom].type == AP_DOMAIN_IDENTITY) {
		passthrough(iova, in, x);
		return;
	}
	if (iova > m->geo_end) {
		/* An open aperture passes only what lies beyond the instance's
		 * own input range, not what a shared domain narrowed away. */
		if (!in->force && (iova >> in->ias) != 0)
			passthrough(iova, in, x);
		else
			x->fault = AP_FAULT_ADDRESS_SIZE;
		return;
	}
	l = leaf_at(m, iova);
	if (!l) {
		x->fault = AP_FAULT_TRANSLATION;
		x->level = -2;
		return;
	}
	x->level = leaf_level(m, l->size);
	if (l->pa >> in->oas) {
		x->fault = AP_FAULT_ADDRESS_SIZE;
		return;
	}
	/* stage 1: privilege, write, fetch; VT-d second level: read, write */
	if (m->vtd ? ((access & AP_ACCESS_READ) && !(l->prot & AP_PROT_READ)) ||
			     ((access & AP_ACCESS_WRITE) && !(l->prot & AP_PROT_WRITE))
		   : (!priv && (l->prot & AP_PROT_PRIV)) ||
			     ((access & AP_ACCESS_WRITE) && !(l->prot & AP_PROT_WRITE)) ||
			     ((access & AP_ACCESS_EXEC) && (l->prot & AP_PROT_NOEXEC))) {
		x->fault = AP_FAULT_PERMISSION;
		return;
	}
	x->pa = l->pa + (iova - l->iova);
	x->size = l->iova + l->size - iova;
	x->prot = decoded_prot(m, l->prot);
	x->bypass = false;
}

/* Shadow RAM for one physical byte, and how many bytes follow in its region. */
static uint8_t *shadow_at(uint64_t pa, uint64_t *left, unsigned *region)
{
	size_t r;

	for (r = 0; r < NRAM; r++) {
		if (pa >= ram_defs[r].pa && pa - ram_defs[r].pa < ram_defs[r].size) {
			*left = ram_defs[r].size - (pa - ram_defs[r].pa);
			*region = (unsigned)r;
			return ram_shadow[r] + (pa - ram_defs[r].pa);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------ comparing */

static void check_fault_rec(const struct ap_fault *f, unsigned v, enum ap_fault_kind kind,
			    uint64_t iova, unsigned access, int level, uint64_t pa)
{
	EXPECT_EQ("fault kind", f->kind, kind);
	EXPECT_EQ("fault sid", f->sid, dev_defs[v].sid);
	EXPECT_EQ("fault iova", f->iova, iova);
	EXPECT_EQ("fault access", f->access, access);
	if (f->iommu != iommus[dev_defs[v].inst])
		FAIL("fault names instance %p, not %s", (const void *)f->iommu,
		     inst_defs[dev_defs[v].inst].name);
	EXPECT_EQ("fault pa", f->pa, pa);
	if (level == -2) {
		if (f->level < 0 || f->level > 5)
			FAIL("walk fault at level %d", f->level);
	} else {
		EXPECT_EQ("fault level", (int64_t)f->level, (int64_t)level);
	}
}

/* A fault was recorded: it must be the one queued, and counted. */
static void pop_recorded(unsigned v, const struct ap_fault *f)
{
	unsigned inst = dev_defs[v].inst;
	struct ap_fault q;

	mfaults[inst][f->kind]++;
	fault_kinds[f->kind]++;
	if (!ap_iommu_fault_pop(iommus[inst], &q))
		FAIL("no fault queued on %s", inst_defs[inst].name);
	if (q.kind != f->kind || q.iova != f->iova || q.sid != f->sid || q.access != f->access ||
	    q.pa != f->pa || q.level != f->level || q.iommu != f->iommu)
		FAIL("queued fault differs from the returned one");
	if (ap_iommu_fault_pending(iommus[inst]))
		FAIL("%u more faults queued on %s", ap_iommu_fault_pending(iommus[inst]),
		     inst_defs[inst].name);
}

static void probe_translate(unsigned v, uint64_t iova, unsigned access)
{
	struct mxlate x;
	struct ap_translation t;
	struct ap_fault f;
	uint64_t pa = 0;
	bool ok;
	int rc;

	model_xlate(v, iova, access, &x);
	memset(&t, 0, sizeof(t));
	memset(&f, 0, sizeof(f));
	rc = ap_translate(devs[v], iova, access, &t, &f);
	if (x.fault == AP_FAULT_NONE) {
		if (rc)
			FAIL("%s translate 0x%" PRIx64 " acc %u: fault %s, model pa 0x%" PRIx64,
			     dev_defs[v].name, iova, access, ap_fault_kind_name(f.kind), x.pa);
		EXPECT_EQ("translate pa", t.pa, x.pa);
		EXPECT_EQ("translate size", t.size, x.size);
		EXPECT_EQ("translate prot", t.prot, x.prot);
		EXPECT_EQ("translate bypass", t.bypass, x.bypass);
		counts[x.bypass ? C_PROBE_BYPASS : C_PROBE_OK]++;
	} else {
		if (rc != -EFAULT)
			FAIL("%s translate 0x%" PRIx64 " acc %u: rc %d pa 0x%" PRIx64
			     " bypass %d, model faults %s",
			     dev_defs[v].name, iova, access, rc, t.pa, t.bypass,
			     ap_fault_kind_name(x.fault));
		check_fault_rec(&f, v, x.fault, iova, access, x.level, 0);
		pop_recorded(v, &f);
		counts[C_PROBE_FAULT]++;
	}
	/* the access-free query agrees and records nothing */
	model_xlate(v, iova, AP_ACCESS_PRIV, &x);
	ok = ap_device_iova_to_phys(devs[v], iova, &pa);
	EXPECT_EQ("device_iova_to_phys ok", ok, x.fault == AP_FAULT_NONE);
	if (ok)
		EXPECT_EQ("device_iova_to_phys pa", pa, x.pa);
	EXPECT_EQ("pending after iova_to_phys", ap_iommu_fault_pending(iommus[dev_defs[v].inst]),
		  0);
}

static void probe_domain(unsigned d, uint64_t iova)
{
	const struct mdom *m = &doms[d];
	const struct mleaf *l = NULL;
	uint64_t pa = 0;
	bool ok;

	if (is_paging(d) && iova <= m->geo_end)
		l = leaf_at(m, iova);
	ok = ap_domain_iova_to_phys(m->real, iova, &pa);
	if (ok != (l != NULL))
		FAIL("%s iova_to_phys 0x%" PRIx64 ": %s, model %s", dom_defs[d].name, iova,
		     ok ? "mapped" : "unmapped", l ? "mapped" : "unmapped");
	if (l)
		EXPECT_EQ("domain_iova_to_phys pa", pa, l->pa + (iova - l->iova));
}

static void check_counts(unsigned d)
{
	const struct mdom *m = &doms[d];
	const struct ap_pt *pt = ap_domain_pt(m->real);

	if (!is_paging(d))
		return;
	EXPECT_EQ("leaf count", ap_pt_leaf_count(pt), m->n);
	EXPECT_EQ("sizes in use", ap_pt_sizes_in_use(pt), sizes_in_use(m));
}

struct leaf_cmp {
	const struct mdom *m;
	size_t i;
	const char *name;
};

static int cmp_leaf(void *arg, const struct ap_pt_leaf *leaf)
{
	struct leaf_cmp *c = arg;
	const struct mleaf *l;

	if (c->i >= c->m->n)
		FAIL("%s: extra leaf at 0x%" PRIx64, c->name, leaf->iova);
	l = &c->m->lv[c->i++];
	EXPECT_EQ("leaf iova", leaf->iova, l->iova);
	EXPECT_EQ("leaf size", leaf->size, l->size);
	EXPECT_EQ("leaf pa", leaf->pa, l->pa);
	EXPECT_EQ("leaf prot", leaf->prot, decoded_prot(c->m, l->prot));
	EXPECT_EQ("leaf level", leaf->level, leaf_level(c->m, l->size));
	return 0;
}

static void full_check(void)
{
	unsigned d, v, i, k;
	size_t r;

	counts[C_FULL_CHECK]++;
	for (d = 0; d < NDOM; d++) {
		const struct mdom *m = &doms[d];
		struct ap_geometry g;

		ap_domain_geometry(m->real, &g);
		EXPECT_EQ("geometry start", g.start, 0);
		EXPECT_EQ("geometry end", g.end, m->geo_end);
		EXPECT_EQ("geometry force", g.force, m->force);
		EXPECT_EQ("pgsizes", ap_domain_pgsizes(m->real), m->pgsizes);
		EXPECT_EQ("oas", ap_domain_oas(m->real), m->oas);
		if (is_paging(d)) {
			struct leaf_cmp c = { m, 0, dom_defs[d].name };

			ap_pt_for_each_leaf(ap_domain_pt(m->real), 0, UINT64_MAX, cmp_leaf, &c);
			EXPECT_EQ("leaves walked", c.i, m->n);
			check_counts(d);
		}
	}
	for (v = 0; v < NDEV; v++) {
		const struct mgroup *g = &groups[dev_defs[v].group];
		const struct ap_domain *want = g->dom >= 0 ? doms[g->dom].real : NULL;
		enum ap_bypass bp = AP_BYPASS_NONE;

		if (ap_device_domain(devs[v]) != want)
			FAIL("%s is on the wrong domain", dev_defs[v].name);
		if (g->dom < 0)
			bp = inst_defs[g->inst].unmatched == AP_UNMATCHED_BYPASS
				     ? AP_BYPASS_UNMATCHED
				     : AP_BYPASS_NONE;
		else if (dom_defs[g->dom].type == AP_DOMAIN_IDENTITY)
			bp = AP_BYPASS_IDENTITY;
		else if (is_paging((unsigned)g->dom) && !inst_defs[g->inst].force)
			bp = AP_BYPASS_OPEN_APERTURE;
		EXPECT_EQ("bypasses", ap_device_bypasses(devs[v]), bp);
	}
	for (i = 0; i < NINST; i++) {
		for (k = 1; k < AP_FAULT_KIND_COUNT; k++)
			EXPECT_EQ("fault count", ap_iommu_fault_count(iommus[i], k), mfaults[i][k]);
		EXPECT_EQ("pending", ap_iommu_fault_pending(iommus[i]), 0);
		EXPECT_EQ("overflow", ap_iommu_fault_overflow(iommus[i]), 0);
	}
	for (r = 0; r < NRAM; r++)
		if (memcmp(ram_real[r], ram_shadow[r], ram_defs[r].size) != 0)
			FAIL("RAM region %zu differs from the shadow", r);
}

/* ------------------------------------------------------------ generators */

static uint64_t pick_leafy_iova(unsigned d)
{
	const struct mdom *m = &doms[d];
	const struct mleaf *l;

	if (!is_paging(d) || !m->n || chance(30)) {
		switch (below(10)) {
		case 0: case 1: case 2:
			return below(64ull << 20) & ~0xfffull;
		case 3:
			return (SZ_4G - (16ull << 20) + below(32ull << 20)) & ~0xfffull;
		case 4:
			return ((chance(50) ? 1ull << 40 : 1ull << 44) - (16ull << 20) +
				below(32ull << 20)) & ~0xfffull;
		case 5:
			return ((1ull << 48) - (16ull << 20) + below(32ull << 20)) & ~0xfffull;
		case 6: case 7: {
			static const uint64_t hot[] = { SZ_1G, 3 * SZ_1G, 0x8000000000ull,
							0x12340000000ull, 0xff0000000000ull };
			return (hot[below(5)] + below(SZ_1G)) & ~0xfffull;
		}
		case 8:
			return (below(1ull << 48)) & ~0xfffull;
		default:
			return rnd() & ~0xfffull;
		}
	}
	l = &m->lv[below(m->n)];
	switch (below(6)) {
	case 0:
		return l->iova;
	case 1:
		return l->iova - SZ_4K;
	case 2:
		return l->iova + l->size;
	case 3:
		return l->iova + l->size - SZ_4K;
	default:
		return l->iova + (below(l->size) & ~0xfffull);
	}
}

static uint64_t pick_pa(void)
{
	switch (below(15)) {
	case 0: case 1: case 2: case 3: case 4: case 5: case 12: case 13: case 14: {
		const struct ram_def *r = &ram_defs[below(NRAM)];

		return r->pa + (below(r->size + SZ_64K) & ~0xfffull);
	}
	case 6: case 7:
		return (0x400000 + below(0x1800000)) & ~0xfffull; /* holes between RAM */
	case 8:
		return window_base + (below(0x400000) & ~0xfffull); /* the page tables */
	case 9:
		return (SZ_4G - SZ_64K + below(SZ_1G)) & ~0xfffull;
	case 10:
		return ((chance(50) ? 1ull << 36 : 1ull << 40) - SZ_64K + below(SZ_2M)) & ~0xfffull;
	default:
		return (below(1ull << 48)) & ~0xfffull;
	}
}

static unsigned pick_prot(void)
{
	static const unsigned prots[] = {
		AP_PROT_READ, AP_PROT_WRITE, RW, RW, RW, RW | AP_PROT_CACHE,
		AP_PROT_READ | AP_PROT_NOEXEC, RW | AP_PROT_PRIV, AP_PROT_READ | AP_PROT_PRIV,
		RW | AP_PROT_MMIO, AP_PROT_WRITE | AP_PROT_NOEXEC | AP_PROT_CACHE,
	};

	if (chance(2))
		return chance(50) ? 0 : AP_PROT_CACHE | AP_PROT_NOEXEC; /* no r/w: EINVAL */
	return prots[below(sizeof(prots) / sizeof(prots[0]))];
}

static unsigned pick_access(void)
{
	unsigned a = chance(50) ? AP_ACCESS_READ : AP_ACCESS_WRITE;

	if (chance(25))
		a |= AP_ACCESS_PRIV;
	if (chance(8))
		a = AP_ACCESS_EXEC | (chance(50) ? AP_ACCESS_PRIV : 0);
	return a;
}

static unsigned paging_dom(void)
{
	return (unsigned)below(NPAGING);
}

/* ------------------------------------------------------------ operations */

/* Where to map: next to a live leaf (growing runs), into one, or anywhere. */
static uint64_t pick_map_iova(unsigned d)
{
	const struct mdom *m = &doms[d];
	const struct mleaf *l;

	if (!is_paging(d) || !m->n || chance(35))
		return pick_leafy_iova(d);
	l = &m->lv[below(m->n)];
	if (chance(15))
		return l->iova + (below(l->size) & ~0xfffull); /* overlap */
	if (chance(25))
		return l->iova - SZ_4K * (1 + below(16));
	return l->iova + l->size + (chance(50) ? 0 : SZ_4K * below(16));
}

/* A device, mostly one whose group is attached. */
static unsigned pick_dev(void)
{
	unsigned v = (unsigned)below(NDEV), tries;

	for (tries = 0; tries < 8 && chance(80); tries++) {
		if (groups[dev_defs[v].group].dom >= 0)
			break;
		v = (unsigned)below(NDEV);
	}
	return v;
}

static void op_map(void)
{
	unsigned d = chance(97) ? paging_dom() : (unsigned)below(NDOM);
	uint64_t iova = pick_map_iova(d), pa = pick_pa(), size;
	unsigned prot = pick_prot();
	size_t nl;
	int want, rc;

	switch (below(20)) {
	case 0: case 1: case 2: /* whole 2M blocks */
		iova &= ~(SZ_2M - 1);
		pa = (pa & ~(SZ_2M - 1)) | (iova & (SZ_2M - 1));
		size = SZ_2M * (1 + below(4)) + (chance(30) ? SZ_4K * below(4) : 0);
		break;
	case 3: /* 1G, congruent modulo 2M at least */
		iova &= chance(50) ? ~(SZ_1G - 1) : ~(SZ_2M - 1);
		pa = chance(50) ? (pa & ~(SZ_1G - 1)) | (iova & (SZ_1G - 1))
				: (pa & ~(SZ_2M - 1)) | (iova & (SZ_2M - 1));
		size = SZ_1G + (chance(30) ? SZ_2M : 0);
		break;
	case 4: /* crossing a 2M boundary, same offsets */
		pa = (pa & ~(SZ_2M - 1)) | (iova & (SZ_2M - 1));
		size = SZ_4K * (1 + below(1100));
		break;
	case 5:
		size = SZ_4K * (17 + below(240));
		break;
	case 7: /* ending at (or one page around) the top of the aperture or OAS */
		size = SZ_4K * (1 + below(8));
		if (chance(50))
			iova = doms[d].geo_end + 1 - size + SZ_4K * below(3) - SZ_4K;
		else
			pa = end_of(doms[d].oas) + 1 - size + SZ_4K * below(3) - SZ_4K;
		break;
	case 6: /* malformed */
		size = SZ_4K * (1 + below(4));
		switch (below(4)) {
		case 0: iova += 0x800; break;
		case 1: pa += 0x200; break;
		case 2: size = 0x1800; break;
		default: size = 0; break;
		}
		break;
	default:
		size = SZ_4K * (1 + below(16));
		break;
	}
	if (is_paging(d) && size && chance(60)) {
		/* mostly fit into the gap before the next leaf */
		const struct mdom *m = &doms[d];
		size_t at = lower(m, iova);

		if (at < m->n && m->lv[at].iova > iova && m->lv[at].iova - iova < size)
			size = (m->lv[at].iova - iova) & ~0xfffull;
	}
	snprintf(g_desc, sizeof(g_desc), "map %s 0x%" PRIx64 " -> 0x%" PRIx64 " +0x%" PRIx64 " prot 0x%x",
		 dom_defs[d].name, iova, pa, size, prot);
	want = model_map(d, iova, pa, size, prot, &nl);
	rc = ap_map(doms[d].real, iova, pa, size, prot);
	EXPECT_EQ("map rc", rc, want);
	if (want == 0)
		counts[size ? C_MAP_OK : C_MAP_ZERO]++;
	else if (want == -EINVAL)
		counts[C_MAP_EINVAL]++;
	else if (want == -ERANGE)
		counts[C_MAP_ERANGE]++;
	else
		counts[C_MAP_EEXIST]++;
	check_counts(d);
	if (is_paging(d) && size && !(iova & 0xfff)) {
		probe_domain(d, iova);
		probe_domain(d, iova + size - 1);
		probe_domain(d, iova + (below(size) & ~0xfffull));
		probe_domain(d, iova - 1);
		probe_domain(d, iova + size);
	}
}

static void op_unmap(void)
{
	unsigned d = chance(97) ? paging_dom() : (unsigned)below(NDOM);
	const struct mdom *m = &doms[d];
	uint64_t iova, size, done = 0, got = 77;
	int want, rc;

	if (is_paging(d) && m->n && chance(75)) {
		size_t i = below(m->n), k, cnt = 1 + below(4);

		iova = m->lv[i].iova;
		size = 0;
		for (k = i; k < m->n && k < i + cnt; k++)
			size = m->lv[k].iova + m->lv[k].size - iova;
		switch (below(10)) {
		case 0: size += SZ_4K; break;
		case 1: if (size > SZ_4K) size -= SZ_4K; break; /* cuts the last leaf */
		case 2: iova += SZ_4K; break;                   /* may start mid-leaf */
		case 3: size = 1ull << 40; break;               /* until the first hole */
		case 4: /* whole 2M or 1G entries, over tables, holes and all */
		case 5: {
			uint64_t span = chance(70) ? SZ_2M : SZ_1G;

			iova &= ~(span - 1);
			size = span * (1 + below(3));
			break;
		}
		case 6: /* less than the leaf, from its first byte */
			if (m->lv[i].size > SZ_4K) {
				size = chance(50) ? SZ_4K * (1 + below(8)) : SZ_2M;
				if (size >= m->lv[i].size)
					size = SZ_4K;
				counts[C_UNMAP_CUT]++;
			}
			break;
		default: break;
		}
	} else {
		iova = pick_leafy_iova(d);
		size = chance(70) ? SZ_4K * (1 + below(64)) : SZ_2M * (1 + below(8));
		if (chance(5))
			iova |= 0x800;
		if (chance(2))
			size = 0;
	}
	snprintf(g_desc, sizeof(g_desc), "unmap %s 0x%" PRIx64 " +0x%" PRIx64, dom_defs[d].name,
		 iova, size);
	want = model_unmap(d, iova, size, &done);
	rc = ap_unmap(m->real, iova, size, &got);
	EXPECT_EQ("unmap rc", rc, want);
	EXPECT_EQ("unmapped bytes", got, done);
	if (want)
		counts[C_UNMAP_EINVAL]++;
	else if (!done)
		counts[C_UNMAP_NONE]++;
	else
		counts[done == size ? C_UNMAP_ALL : done > size ? C_UNMAP_MORE : C_UNMAP_PART]++;
	check_counts(d);
	if (!want && is_paging(d)) {
		probe_domain(d, iova);
		if (done)
			probe_domain(d, iova + done - 1);
		probe_domain(d, iova + done);
	}
}

static void op_attach(void)
{
	unsigned d = (unsigned)below(NDOM), v = (unsigned)below(NDEV);
	int want, rc;

	snprintf(g_desc, sizeof(g_desc), "attach %s %s", dom_defs[d].name, dev_defs[v].name);
	want = model_attach(d, v);
	rc = ap_attach(doms[d].real, devs[v]);
	EXPECT_EQ("attach rc", rc, want == 1 ? 0 : want);
	switch (want) {
	case 0: counts[C_ATT_OK]++; break;
	case 1: counts[C_ATT_SAME]++; break;
	case -EBUSY: counts[C_ATT_EBUSY]++; break;
	case -EADDRINUSE: counts[C_ATT_EADDRINUSE]++; break;
	default: counts[C_ATT_EINVAL]++; break;
	}
	if (ap_device_domain(devs[v]) != (groups[dev_defs[v].group].dom >= 0
						  ? doms[groups[dev_defs[v].group].dom].real
						  : NULL))
		FAIL("attachment differs");
	{
		struct ap_geometry g;

		ap_domain_geometry(doms[d].real, &g);
		EXPECT_EQ("geometry end", g.end, doms[d].geo_end);
		EXPECT_EQ("geometry force", g.force, doms[d].force);
		EXPECT_EQ("pgsizes", ap_domain_pgsizes(doms[d].real), doms[d].pgsizes);
		EXPECT_EQ("oas", ap_domain_oas(doms[d].real), doms[d].oas);
	}
}

static void op_detach(void)
{
	unsigned v = (unsigned)below(NDEV);
	int want, rc;

	snprintf(g_desc, sizeof(g_desc), "detach %s", dev_defs[v].name);
	want = model_detach(v);
	rc = ap_detach(devs[v]);
	EXPECT_EQ("detach rc", rc, want);
	counts[want ? C_DET_EINVAL : C_DET_OK]++;
	if (ap_device_domain(devs[v]))
		FAIL("still attached");
}

static void op_recreate(void)
{
	unsigned d = (unsigned)below(NDOM);
	struct mdom *m = &doms[d];
	int rc;

	snprintf(g_desc, sizeof(g_desc), "re-create %s", dom_defs[d].name);
	rc = ap_domain_free(m->real);
	if (m->ndev) {
		EXPECT_EQ("domain_free rc", rc, -EBUSY);
		counts[C_FREE_EBUSY]++;
		return;
	}
	EXPECT_EQ("domain_free rc", rc, 0);
	if (ap_domain_find(ctx, dom_defs[d].name))
		FAIL("freed domain still findable");
	m->real = NULL;
	assert_int_equal(ap_domain_new(ctx, dom_defs[d].name, iommus[dom_defs[d].owner],
				       dom_defs[d].type, &m->real),
			 0);
	mdom_reset(d);
	counts[C_RECREATE]++;
}

static void op_dma(void)
{
	static uint8_t buf[4 * 4096], before[4 * 4096];
	unsigned v = pick_dev();
	const struct mgroup *g = &groups[dev_defs[v].group];
	bool write = chance(50);
	unsigned access = write ? AP_ACCESS_WRITE : AP_ACCESS_READ;
	uint64_t iova, addr, last, len;
	struct ap_fault f;
	struct mxlate x;
	bool faulted = false;
	enum ap_fault_kind fk = AP_FAULT_NONE;
	uint64_t fiova = 0, fpa = 0;
	int flevel = -1, rc;
	size_t i;

	if (g->dom >= 0 && doms[g->dom].n && chance(60)) {
		/* inside a leaf, preferably one backed by RAM */
		const struct mdom *m = &doms[g->dom];
		const struct mleaf *l = &m->lv[below(m->n)];
		uint64_t left;
		unsigned region, tries;

		for (tries = 0; tries < 6 && !shadow_at(l->pa, &left, &region); tries++)
			l = &m->lv[below(m->n)];
		iova = l->iova + (below(l->size) & ~0xfffull);
	} else if (g->dom >= 0 && chance(60))
		iova = pick_leafy_iova((unsigned)g->dom);
	else if (chance(60))
		iova = below(0x1400000) & ~0xfffull; /* bypass-able RAM below 20M */
	else
		iova = pick_leafy_iova(0);
	iova += below(4096);
	len = 1 + below(chance(70) ? 256 : sizeof(buf));
	if (chance(3))
		iova = UINT64_MAX - below(64); /* may wrap: EINVAL */
	last = iova + (len - 1);
	snprintf(g_desc, sizeof(g_desc), "dma %s %s 0x%" PRIx64 " len 0x%" PRIx64,
		 dev_defs[v].name, write ? "write" : "read", iova, len);
	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)rnd();
	memcpy(before, buf, len);
	memset(&f, 0, sizeof(f));
	if (last < iova) {
		rc = write ? ap_dma_write(devs[v], iova, buf, len, &f)
			   : ap_dma_read(devs[v], iova, buf, len, &f);
		EXPECT_EQ("wrapping dma rc", rc, -EINVAL);
		EXPECT_EQ("pending after EINVAL", ap_iommu_fault_pending(iommus[dev_defs[v].inst]),
			  0);
		return;
	}

	/* the model: every page translated and in RAM, or the first fault */
	for (addr = iova;;) {
		uint64_t page_last = addr | 0xfff, left = 0;
		unsigned region = 0;

		if (page_last > last)
			page_last = last;
		model_xlate(v, addr, access, &x);
		if (x.fault) {
			faulted = true;
			fk = x.fault;
			fiova = addr;
			flevel = x.level;
			break;
		}
		if (!shadow_at(x.pa, &left, &region)) {
			faulted = true;
			fk = AP_FAULT_EXTERNAL;
			fiova = addr;
			fpa = x.pa;
			flevel = -1;
			break;
		}
		if (page_last == last)
			break;
		addr = page_last + 1;
	}

	rc = write ? ap_dma_write(devs[v], iova, buf, len, &f)
		   : ap_dma_read(devs[v], iova, buf, len, &f);
	if (faulted) {
		if (rc != -EFAULT)
			FAIL("dma rc %d, model faults %s at 0x%" PRIx64, rc, ap_fault_kind_name(fk),
			     fiova);
		check_fault_rec(&f, v, fk, fiova, access, flevel, fpa);
		pop_recorded(v, &f);
		if (memcmp(buf, before, len) != 0)
			FAIL("a faulting DMA read changed the buffer");
		counts[write ? C_DMAW_FAULT : C_DMAR_FAULT]++;
	} else if (rc != 0) {
		FAIL("dma rc %d (%s at 0x%" PRIx64 "), model succeeds", rc,
		     ap_fault_kind_name(f.kind), f.iova);
	} else {
		counts[write ? C_DMAW_OK : C_DMAR_OK]++;
	}
	/* walk the pages again: shadow update (write) or comparison (read) */
	for (addr = iova; !faulted || addr < fiova;) {
		uint64_t page_last = addr | 0xfff, left = 0, n;
		unsigned region = 0;
		uint8_t *sh;

		if (page_last > last)
			page_last = last;
		if (faulted && page_last >= fiova)
			page_last = fiova - 1;
		model_xlate(v, addr, access, &x);
		sh = shadow_at(x.pa, &left, &region);
		assert_non_null(sh);
		n = page_last - addr + 1;
		if (faulted) {
			/* nothing moved: the real RAM still equals the shadow */
			if (memcmp(ram_real[region] + (sh - ram_shadow[region]), sh, n) != 0)
				FAIL("a faulting DMA changed RAM at 0x%" PRIx64, x.pa);
		} else if (write) {
			memcpy(sh, buf + (addr - iova), n);
			if (memcmp(ram_real[region] + (sh - ram_shadow[region]), sh, n) != 0)
				FAIL("DMA write did not land at 0x%" PRIx64, x.pa);
		} else if (memcmp(buf + (addr - iova), sh, n) != 0) {
			FAIL("DMA read returned wrong bytes from 0x%" PRIx64, x.pa);
		}
		if (page_last == last)
			break;
		addr = page_last + 1;
	}
}

/* Sample probes after every operation. */
static void probes(void)
{
	unsigned k;

	for (k = 0; k < 4; k++) {
		unsigned v = pick_dev();
		const struct mgroup *g = &groups[dev_defs[v].group];
		uint64_t iova = g->dom >= 0 && chance(80) ? pick_leafy_iova((unsigned)g->dom)
							  : pick_leafy_iova(0);

		if (chance(50))
			iova += below(4096);
		probe_translate(v, iova, pick_access());
	}
	{
		unsigned d = paging_dom();

		probe_domain(d, pick_leafy_iova(d) + below(4096));
	}
}

/* ------------------------------------------------------------ setup */

static void setup_machine(void)
{
	size_t i;

	ctx = ap_ctx_new();
	assert_non_null(ctx);
	for (i = 0; i < NRAM; i++) {
		void *host = NULL;

		assert_int_equal(ap_ram_alloc(ctx, ram_defs[i].pa, ram_defs[i].size, &host), 0);
		ram_real[i] = host;
		ram_shadow[i] = calloc(1, ram_defs[i].size);
		assert_non_null(ram_shadow[i]);
		/* a recognisable starting pattern */
		for (size_t b = 0; b < ram_defs[i].size; b++)
			ram_real[i][b] = ram_shadow[i][b] = (uint8_t)(b * 131 + i);
	}
	for (i = 0; i < NINST; i++) {
		struct ap_iommu_config c;

		ap_iommu_config_init(&c, inst_defs[i].kind);
		c.ias = inst_defs[i].ias;
		c.oas = inst_defs[i].oas;
		c.pgsize_bitmap = inst_defs[i].pgsizes;
		c.host_page_size = inst_defs[i].host;
		c.force_aperture = inst_defs[i].force;
		c.unmatched = inst_defs[i].unmatched;
		c.evtq_size = 64;
		assert_int_equal(ap_iommu_new(ctx, inst_defs[i].name, &c, &iommus[i]), 0);
	}
	for (i = 0; i < NGROUP; i++) {
		groups[i].dom = -1;
		groups[i].ndev = 0;
	}
	for (i = 0; i < NDEV; i++) {
		groups[dev_defs[i].group].inst = dev_defs[i].inst;
		groups[dev_defs[i].group].ndev++;
		assert_int_equal(ap_device_new(ctx, dev_defs[i].name, iommus[dev_defs[i].inst],
					       dev_defs[i].sid, dev_defs[i].group, &devs[i]),
				 0);
		assert_int_equal(ap_device_group_id(devs[i]), dev_defs[i].group);
	}
	for (i = 0; i < NDOM; i++) {
		assert_int_equal(ap_domain_new(ctx, dom_defs[i].name, iommus[dom_defs[i].owner],
					       dom_defs[i].type, &doms[i].real),
				 0);
		mdom_reset((unsigned)i);
	}
	ap_ctx_get_table_window(ctx, &window_base, &window_size);
	assert_true(window_size > 0);
	full_check();
}

static void teardown_machine(void)
{
	size_t i;

	ap_ctx_free(ctx);
	ctx = NULL;
	for (i = 0; i < NRAM; i++) {
		free(ram_shadow[i]);
		ram_shadow[i] = NULL;
	}
	for (i = 0; i < NDOM; i++) {
		free(doms[i].lv);
		doms[i].lv = NULL;
		doms[i].cap = 0;
		free(doms[i].tv);
		doms[i].tv = NULL;
		doms[i].tcap = 0;
	}
	free(scratch);
	scratch = NULL;
	scratch_cap = 0;
}

static size_t total_leaves(void)
{
	size_t d, n = 0;

	for (d = 0; d < NDOM; d++)
		n += doms[d].n;
	return n;
}

static void test_differential(void **state)
{
	unsigned long op;
	unsigned k;

	(void)state;
	rng = g_seed;
	setup_machine();
	for (op = 0; op < g_ops; op++) {
		unsigned r = (unsigned)below(100);

		g_op = op;
		if (total_leaves() > LEAF_SOFT_CAP && r < 35)
			r += 35; /* too many leaves: unmap instead of map */
		if (r < 33)
			op_map();
		else if (r < 55)
			op_unmap();
		else if (r < 64)
			op_attach();
		else if (r < 69)
			op_detach();
		else if (r < 70)
			op_recreate();
		else
			op_dma();
		probes();
		if ((op + 1) % FULL_CHECK_EVERY == 0)
			full_check();
	}
	snprintf(g_desc, sizeof(g_desc), "final check");
	full_check();
	printf("test_differential: %lu operations, seed %" PRIu64 "\n", g_ops, g_seed);
	for (k = 0; k < C_N; k++)
		printf("  %-20s %lu\n", cnames[k], counts[k]);
	for (k = 1; k < AP_FAULT_KIND_COUNT; k++)
		printf("  fault %-14s %lu\n", ap_fault_kind_name((enum ap_fault_kind)k),
		       fault_kinds[k]);
	printf("  live leaves at end  %zu\n", total_leaves());
	/* the sequences the formats' unmap rules differ on were generated */
	if (g_ops >= 100000) {
		assert_true(counts[C_UNMAP_TABLES] > g_ops / 1000);
		assert_true(counts[C_UNMAP_CUT] > g_ops / 1000);
		assert_true(counts[C_UNMAP_MORE] > g_ops / 1000);
		assert_true(counts[C_MAP_EEXIST] > g_ops / 100);
	}
	teardown_machine();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differential),
	};
	const char *s = argc > 1 ? argv[1] : getenv("AP_DIFF_SEED");
	const char *o = argc > 2 ? argv[2] : getenv("AP_DIFF_OPS");

	if (s && *s)
		g_seed = strtoull(s, NULL, 0);
	if (o && *o)
		g_ops = strtoul(o, NULL, 0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("test_differential: seed %" PRIu64 " ops %lu (rerun: %s SEED OPS, or AP_DIFF_SEED/AP_DIFF_OPS)\n",
	       g_seed, g_ops, argv[0]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
