/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_api_seq.c - libFuzzer target: sequences of core operations
 * checked against a plain interval model.
 *
 * The input bytes decode into operations on one context: IOMMU instances
 * (arm-smmu-v3 and intel-vtd with assorted ias/oas/page sizes/stages,
 * forced or open apertures, abort or bypass), devices in groups, paging,
 * identity and blocked domains, attach/replace/detach, domain free,
 * ap_map/ap_unmap with all sorts of sizes and alignments, ap_translate
 * (and, for every fourth, ap_translate_batch, which must agree with it),
 * ap_dma_read/write, and allocation failures injected into the next
 * operation.
 *
 * The model is the harness's own: per domain the intervals mapped
 * (iova, size, pa, prot), per group the domain it is on.  The oracles:
 *   - nothing bypasses: a translation or DMA the model says is unmapped, or
 *     lacks the permission, faults (-EFAULT) whenever the device's instance
 *     forces its aperture and aborts unmatched streams (inside the aperture
 *     it must fault whatever the instance);
 *   - a mapped IOVA with the permission translates to the model's PA, and
 *     DMA there moves exactly the bytes of that RAM;
 *   - a failed call changes nothing the model can see (a failed map maps
 *     nothing, a failed attach moves no group and narrows no geometry);
 *   - a map over a live mapping fails, one the rules allow succeeds;
 *     what an unmap reports is unmapped afterwards; by io-pgtable-arm's
 *     rule (LPAE) it never exceeds the size asked (a table it takes whole
 *     may hold holes), by generic_pt's (VT-d) every byte of it was mapped
 *     (a superpage it takes whole may end past the size asked);
 *   - geometry only narrows, and always holds every mapping.
 * A broken oracle prints what it saw and aborts, so libFuzzer keeps the
 * input.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aperture/core.h>

#include "fuzz_input.h"

#define MAX_IOMMUS 4
#define MAX_DEVS 8
#define MAX_DOMS 6
#define MAX_MAPS 48
#define MAX_GROUPS 64
#define MAX_OPS 200
#define MAX_DMA 12288
#define MAX_LEAVES 16384         /* a map bigger than this is skipped */
#define SZ_4K 0x1000ull
#define SZ_2M 0x200000ull
#define SZ_1G 0x40000000ull
#define RAM0 0x40000000ull         /* 256 KiB of RAM here */
#define RAM0_SIZE 0x40000ull
#define RAM1 0x100200000ull        /* and 64 KiB above 4 GiB */
#define RAM1_SIZE 0x10000ull
/* The page-table window: 64 MiB, 16384 frames, more than the model's
 * limits let an input fill (6 domains of 48 maps of at most MAX_LEAVES
 * leaves: about 10,000 frames); a window this size is set up and torn
 * down at every input, and the library keeps a count per frame of it.
 * A window that fills anyway fails a map with ENOMEM, which the map's
 * oracle accepts. */
#define TW_BASE 0xf0000000ull
#define TW_SIZE 0x4000000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void bug(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void bug(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_api_seq: oracle broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

/* ------------------------------------------------------------ the model */

struct mmap_ent {
	uint64_t iova, size, pa;
	unsigned prot;
};

struct mdom {
	struct ap_domain *d;        /* NULL: free slot */
	enum ap_domain_type type;
	struct ap_geometry geo;     /* last geometry seen (only narrows) */
	struct mmap_ent m[MAX_MAPS];
	int n;
};

struct mdev {
	struct ap_device *d;
	struct ap_iommu *iommu;
	int group;
};

struct world {
	struct ap_ctx *ctx;
	struct ap_iommu *iommus[MAX_IOMMUS];
	int niommus;
	struct mdev devs[MAX_DEVS];
	int ndevs;
	struct mdom doms[MAX_DOMS];
	struct ap_domain *group_dom[MAX_GROUPS]; /* the model's attachments */
	uint8_t *ram0, *ram1;
	bool armed;                 /* an allocation failure is injected */
	unsigned serial;
	unsigned translations;      /* checked so far: every 4th is batched too */
};

/* Did an injected allocation failure hit the operation running now? */
static bool fired(const struct world *w)
{
	return w->armed && ap_ctx_fail_fired(w->ctx);
}

static const struct mmap_ent *lookup(const struct mdom *md, uint64_t iova)
{
	for (int i = 0; i < md->n; i++)
		if (iova >= md->m[i].iova && iova - md->m[i].iova < md->m[i].size)
			return &md->m[i];
	return NULL;
}

/* Does [iova, iova+size) overlap anything mapped? (size > 0, no wrap) */
static bool overlaps(const struct mdom *md, uint64_t iova, uint64_t size)
{
	for (int i = 0; i < md->n; i++)
		if (iova <= md->m[i].iova + (md->m[i].size - 1) &&
		    md->m[i].iova <= iova + (size - 1))
			return true;
	return false;
}

/* Remove [iova, iova+size) from the model, splitting intervals. */
static void model_remove(struct mdom *md, uint64_t iova, uint64_t size)
{
	uint64_t end = iova + size; /* size > 0 and no wrap: checked by caller */

	for (int i = 0; i < md->n; i++) {
		struct mmap_ent e = md->m[i];
		uint64_t eend = e.iova + e.size;

		if (eend <= iova || e.iova >= end)
			continue;
		md->m[i] = md->m[--md->n];
		i--;
		if (e.iova < iova && md->n < MAX_MAPS)
			md->m[md->n++] = (struct mmap_ent){ e.iova, iova - e.iova, e.pa, e.prot };
		if (eend > end && md->n < MAX_MAPS)
			md->m[md->n++] = (struct mmap_ent){ end, eend - end, e.pa + (end - e.iova),
							    e.prot };
	}
}

static struct mdom *mdom_of(struct world *w, const struct ap_domain *d)
{
	for (int i = 0; i < MAX_DOMS; i++)
		if (d && w->doms[i].d == d)
			return &w->doms[i];
	return NULL;
}

/* Host memory for physical [pa, pa+len) in the harness's RAM, or NULL. */
static uint8_t *ram_host(struct world *w, uint64_t pa, uint64_t len)
{
	if (pa >= RAM0 && pa - RAM0 < RAM0_SIZE && len <= RAM0_SIZE - (pa - RAM0))
		return w->ram0 + (pa - RAM0);
	if (pa >= RAM1 && pa - RAM1 < RAM1_SIZE && len <= RAM1_SIZE - (pa - RAM1))
		return w->ram1 + (pa - RAM1);
	return NULL;
}

/* Is any byte of [pa, pa+len) RAM or the table window?  (Then a missing
 * host pointer does not mean "external".) */
static bool touches_memory(uint64_t pa, uint64_t len)
{
	uint64_t end = pa + len - 1;

	if (end < pa)
		return true;
	return (pa <= RAM0 + RAM0_SIZE - 1 && end >= RAM0) ||
	       (pa <= RAM1 + RAM1_SIZE - 1 && end >= RAM1) ||
	       (pa <= TW_BASE + TW_SIZE - 1 && end >= TW_BASE);
}

/* ------------------------------------------------------------ checks */

/* ap_device_domain() agrees with the model for every device. */
static void check_attachments(struct world *w, const char *after)
{
	for (int i = 0; i < w->ndevs; i++) {
		struct ap_domain *want = w->group_dom[w->devs[i].group];

		if (ap_device_domain(w->devs[i].d) != want)
			bug("after %s: device %s is on %s, the model says %s", after,
			    ap_device_name(w->devs[i].d),
			    ap_device_domain(w->devs[i].d) ? ap_domain_name(ap_device_domain(w->devs[i].d)) : "nothing",
			    want ? ap_domain_name(want) : "nothing");
	}
}

/* Geometry never widens and always holds every mapping. */
static void check_geometry(struct world *w, const char *after)
{
	for (int i = 0; i < MAX_DOMS; i++) {
		struct mdom *md = &w->doms[i];
		struct ap_geometry g;

		if (!md->d || md->type != AP_DOMAIN_PAGING)
			continue;
		ap_domain_geometry(md->d, &g);
		if (g.start < md->geo.start || g.end > md->geo.end)
			bug("after %s: %s geometry widened from [0x%llx, 0x%llx] to [0x%llx, 0x%llx]",
			    after, ap_domain_name(md->d), (unsigned long long)md->geo.start,
			    (unsigned long long)md->geo.end, (unsigned long long)g.start,
			    (unsigned long long)g.end);
		md->geo = g;
		for (int k = 0; k < md->n; k++)
			if (md->m[k].iova < g.start || md->m[k].iova + (md->m[k].size - 1) > g.end)
				bug("after %s: %s maps 0x%llx+0x%llx outside its aperture [0x%llx, 0x%llx]",
				    after, ap_domain_name(md->d), (unsigned long long)md->m[k].iova,
				    (unsigned long long)md->m[k].size, (unsigned long long)g.start,
				    (unsigned long long)g.end);
	}
}

/* The domain's own view (ap_domain_iova_to_phys) at iova agrees with the model. */
static void check_point(const struct mdom *md, uint64_t iova, const char *after)
{
	const struct mmap_ent *e = lookup(md, iova);
	uint64_t pa = 0;
	bool got = ap_domain_iova_to_phys(md->d, iova, &pa);

	if (e && (!got || pa != e->pa + (iova - e->iova)))
		bug("after %s: %s iova 0x%llx should map to 0x%llx, got %s 0x%llx", after,
		    ap_domain_name(md->d), (unsigned long long)iova,
		    (unsigned long long)(e->pa + (iova - e->iova)), got ? "pa" : "nothing",
		    (unsigned long long)pa);
	if (!e && got)
		bug("after %s: %s iova 0x%llx is unmapped in the model but maps to 0x%llx", after,
		    ap_domain_name(md->d), (unsigned long long)iova, (unsigned long long)pa);
}

/* Sample points of [iova, iova+size): both ends, the first and last pages,
 * a few in between, and the bytes just outside. */
static void check_range(const struct mdom *md, uint64_t iova, uint64_t size, const char *after)
{
	uint64_t last;

	if (!size || md->type != AP_DOMAIN_PAGING)
		return;
	last = iova + (size - 1) < iova ? UINT64_MAX : iova + (size - 1);
	for (uint64_t k = 0; k < 4; k++) {
		check_point(md, iova + k * SZ_4K > last ? last : iova + k * SZ_4K, after);
		check_point(md, last - k * SZ_4K < iova ? iova : last - k * SZ_4K, after);
		check_point(md, iova + (last - iova) / 4 * k, after);
	}
	if (iova)
		check_point(md, iova - 1, after);
	if (last != UINT64_MAX)
		check_point(md, last + 1, after);
}

enum expect { MUST_FAULT, MUST_PASS, EITHER };

/* What a device's access at iova must do, by the model; *pa for MUST_PASS
 * (and for EITHER, when a success must still land there: *pa_known). */
static enum expect expected(struct world *w, const struct mdev *dv, uint64_t iova,
			    unsigned access, uint64_t *pa, bool *pa_known)
{
	const struct ap_iommu_config *cfg = ap_iommu_get_config(dv->iommu);
	struct ap_domain *d = w->group_dom[dv->group];
	const struct mdom *md = mdom_of(w, d);
	const struct mmap_ent *e;

	*pa_known = false;
	if (!d)
		return cfg->unmatched == AP_UNMATCHED_ABORT ? MUST_FAULT : EITHER;
	if (md->type == AP_DOMAIN_BLOCKED)
		return MUST_FAULT;
	if (md->type == AP_DOMAIN_IDENTITY) {
		*pa = iova;
		*pa_known = true;
		return EITHER;
	}
	e = lookup(md, iova);
	if (!e) {
		struct ap_geometry g;

		ap_domain_geometry(d, &g);
		if (cfg->force_aperture || (iova >= g.start && iova <= g.end))
			return MUST_FAULT;
		return EITHER; /* an open aperture: outside it DMA bypasses */
	}
	*pa = e->pa + (iova - e->iova);
	*pa_known = true;
	if (e->prot & AP_PROT_PRIV)
		return EITHER; /* stage 1 refuses unprivileged access, stage 2 ignores it */
	if ((access & AP_ACCESS_WRITE) && !(e->prot & AP_PROT_WRITE))
		return MUST_FAULT;
	if ((access & AP_ACCESS_READ) && !(e->prot & AP_PROT_READ))
		return EITHER; /* write-only: some formats cannot say it */
	return MUST_PASS;
}

/* ap_translate_batch() of the address twice says what ap_translate() said,
 * for both (its hits come from its own loop, its misses from the walk). */
static void check_batch(const struct mdev *dv, uint64_t iova, unsigned access, int rc,
			const struct ap_translation *t, const struct ap_fault *f)
{
	uint64_t two[2] = { iova, iova };
	struct ap_translation bt[2];
	struct ap_fault bf;
	size_t done = 9, i;
	int brc = ap_translate_batch(dv->d, two, 2, access, bt, &done, &bf);

	if (brc != rc || done != (rc ? 0u : 2u))
		bug("batch %s 0x%llx: returned %d with %zu done, ap_translate returned %d",
		    ap_device_name(dv->d), (unsigned long long)iova, brc, done, rc);
	if (rc && (bf.kind != f->kind || bf.iova != f->iova || bf.level != f->level))
		bug("batch %s 0x%llx: fault %s at 0x%llx level %d, ap_translate's %s at 0x%llx "
		    "level %d", ap_device_name(dv->d), (unsigned long long)iova,
		    ap_fault_kind_name(bf.kind), (unsigned long long)bf.iova, bf.level,
		    ap_fault_kind_name(f->kind), (unsigned long long)f->iova, f->level);
	for (i = 0; i < done; i++)
		if (bt[i].pa != t->pa || bt[i].size != t->size || bt[i].prot != t->prot ||
		    bt[i].bypass != t->bypass)
			bug("batch %s 0x%llx: entry %zu pa 0x%llx size 0x%llx, ap_translate's pa "
			    "0x%llx size 0x%llx", ap_device_name(dv->d), (unsigned long long)iova, i,
			    (unsigned long long)bt[i].pa, (unsigned long long)bt[i].size,
			    (unsigned long long)t->pa, (unsigned long long)t->size);
}

static void check_translate(struct world *w, const struct mdev *dv, uint64_t iova,
			    unsigned access)
{
	struct ap_translation t;
	struct ap_fault f;
	uint64_t pa = 0;
	bool pa_known;
	enum expect want = expected(w, dv, iova, access, &pa, &pa_known);
	int rc = ap_translate(dv->d, iova, access, &t, &f);

	if (rc != 0 && rc != -EFAULT)
		bug("translate %s 0x%llx returned %d", ap_device_name(dv->d),
		    (unsigned long long)iova, rc);
	if (want == MUST_FAULT && rc == 0)
		bug("translate %s iova 0x%llx access %u: the model says unmapped or refused, "
		    "got pa 0x%llx (bypass %d)", ap_device_name(dv->d), (unsigned long long)iova,
		    access, (unsigned long long)t.pa, t.bypass);
	if (want == MUST_PASS && rc)
		bug("translate %s iova 0x%llx access %u: the model maps it to 0x%llx, got fault %s",
		    ap_device_name(dv->d), (unsigned long long)iova, access,
		    (unsigned long long)pa, ap_fault_kind_name(f.kind));
	if (rc == 0 && pa_known && t.pa != pa)
		bug("translate %s iova 0x%llx: pa 0x%llx, the model says 0x%llx",
		    ap_device_name(dv->d), (unsigned long long)iova, (unsigned long long)t.pa,
		    (unsigned long long)pa);
	if (w->translations++ % 4 == 0) /* a quarter: keeps the input rate */
		check_batch(dv, iova, access, rc, &t, &f);
}

/* ------------------------------------------------------------ choices */

static struct mdom *pick_dom(struct world *w, struct fin *in)
{
	struct mdom *md = &w->doms[fin_u8(in) % MAX_DOMS];

	return md->d ? md : NULL;
}

static struct mdev *pick_dev(struct world *w, struct fin *in)
{
	return w->ndevs ? &w->devs[fin_u8(in) % w->ndevs] : NULL;
}

/* An IOVA: near a mapping's edges, a small multiple of a page, or odd. */
static uint64_t pick_iova(struct world *w, struct fin *in, const struct mdom *md)
{
	static const uint64_t odd[] = {
		0, 0xfff, 0x8000000, 0xfee00000, 0xffffffff, 1ull << 32, (1ull << 39) - SZ_4K,
		1ull << 39, (1ull << 48) - SZ_2M, (1ull << 48) - SZ_4K, 1ull << 48, 1ull << 52,
		1ull << 57, UINT64_MAX & ~0xfffull, UINT64_MAX,
	};
	uint8_t how = fin_u8(in);

	(void)w;
	if (md && md->n && how < 96) {
		const struct mmap_ent *e = &md->m[fin_u8(in) % md->n];
		static const int64_t delta[] = { 0, -1, 1, -0x1000, 0x1000, 0x10000, -0x10000 };

		switch (how % 3) {
		case 0: return e->iova + (uint64_t)FIN_PICK(in, delta);
		case 1: return e->iova + e->size + (uint64_t)FIN_PICK(in, delta);
		default: return e->iova + (fin_u32(in) % e->size);
		}
	}
	if (how < 176)
		return (uint64_t)fin_u8(in) << (12 + (how % 4) * 3); /* 4K, 32K, 256K, 2M steps */
	if (how < 248)
		return FIN_PICK(in, odd);
	return fin_u64(in);
}

static uint64_t pick_pa(struct fin *in)
{
	static const uint64_t pas[] = {
		RAM0, RAM0 + SZ_4K, RAM0 + 0x10000, RAM0 + 0x100000, RAM1, RAM1 + 0x80000, 0,
		TW_BASE, 0x80000000, (1ull << 32) - SZ_2M, 1ull << 36, (1ull << 40) - SZ_1G,
		(1ull << 48) - SZ_4K, 1ull << 48, 1ull << 52, UINT64_MAX & ~0xfffull,
	};
	uint8_t how = fin_u8(in);

	if (how < 128)
		return RAM0 + ((uint64_t)fin_u16(in) % (RAM0_SIZE / SZ_4K)) * SZ_4K;
	if (how < 240)
		return FIN_PICK(in, pas);
	return fin_u64(in);
}

static uint64_t pick_size(struct fin *in)
{
	static const uint64_t sizes[] = {
		SZ_4K, 2 * SZ_4K, 0x4000, 0x10000, SZ_2M, 2 * SZ_2M, 0x2000000, 0x20000000, SZ_1G,
		0, 1, 0x1800, SZ_2M + SZ_4K, UINT64_MAX & ~0xfffull,
	};
	uint8_t how = fin_u8(in);

	if (how < 128)
		return FIN_PICK(in, sizes);
	if (how < 240)
		return (uint64_t)(fin_u8(in) + 1) << (12 + (how % 3) * 2);
	return fin_u64(in);
}

static unsigned pick_prot(struct fin *in)
{
	static const unsigned prots[] = {
		AP_PROT_READ | AP_PROT_WRITE, AP_PROT_READ, AP_PROT_WRITE,
		AP_PROT_READ | AP_PROT_WRITE | AP_PROT_CACHE, AP_PROT_READ | AP_PROT_NOEXEC,
		AP_PROT_READ | AP_PROT_MMIO, AP_PROT_READ | AP_PROT_PRIV, 0, AP_PROT_CACHE,
	};

	return FIN_PICK(in, prots);
}

/* ------------------------------------------------------------ operations */

/* IOTLB sizes by instance: mostly small, so that a few fills already
 * evict and conflict (4096 entries, the default, never fill up in an input
 * of 200 operations) and an instance costs little to make and to scan;
 * the default size and none at all are among them. */
static unsigned iotlb_size(unsigned serial)
{
	static const unsigned sizes[] = { 2, 4096, 8, 0 };

	return sizes[serial % 4];
}

static void op_iommu(struct world *w, struct fin *in)
{
	static const unsigned smmu_ias[] = { 48, 32, 36, 40, 44, 39, 52, 33, 31, 53 };
	static const unsigned smmu_oas[] = { 48, 40, 32, 36, 42, 44, 52, 33 };
	static const uint64_t smmu_pg[] = {
		SZ_4K | SZ_2M | SZ_1G, SZ_4K, SZ_4K | SZ_2M, 0x4000 | 0x2000000, 0x10000 | 0x20000000,
		0x4000, 0x10000, SZ_4K | 0x10000, SZ_4K | 0x4000 | 0x10000 | SZ_2M, 0x8000,
	};
	static const unsigned vtd_ias[] = { 48, 39, 57, 32, 40, 56, 58 };
	static const unsigned vtd_oas[] = { 48, 39, 46, 32, 52, 36 };
	static const uint64_t vtd_pg[] = { SZ_4K | SZ_2M | SZ_1G, SZ_4K, SZ_4K | SZ_2M, SZ_2M };
	struct ap_iommu_config c;
	char name[16];
	uint8_t flags;

	if (w->niommus == MAX_IOMMUS)
		return;
	if (fin_u8(in) & 1) {
		ap_iommu_config_init(&c, AP_IOMMU_INTEL_VTD);
		c.ias = FIN_PICK(in, vtd_ias);
		c.oas = FIN_PICK(in, vtd_oas);
		c.pgsize_bitmap = FIN_PICK(in, vtd_pg);
		c.vtd.sagaw = fin_u8(in) % 8;
	} else {
		ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
		c.ias = FIN_PICK(in, smmu_ias);
		c.oas = FIN_PICK(in, smmu_oas);
		c.pgsize_bitmap = FIN_PICK(in, smmu_pg);
		c.smmuv3.stage = fin_u8(in) % 4 == 3 ? 2 : 1;
	}
	flags = fin_u8(in);
	if ((flags & 7) == 1)
		c.unmatched = AP_UNMATCHED_BYPASS;
	if ((flags & 7) == 2)
		c.force_aperture = false;
	if ((flags & 0x18) == 0x18)
		c.coherent_walk = false;
	if (flags & 0x20)
		c.host_page_size = (flags & 0x40) ? 0x10000 : 0x4000;
	if ((flags & 0x80) && (flags & 7) == 3)
		c.evtq_size = 1;
	c.iotlb_entries = iotlb_size(w->serial);
	snprintf(name, sizeof(name), "i%u", w->serial++);
	if (!ap_iommu_new(w->ctx, name, &c, &w->iommus[w->niommus]))
		w->niommus++;
}

static void op_device(struct world *w, struct fin *in)
{
	struct ap_iommu *iommu;
	struct ap_device *d = NULL;
	char name[16];
	uint8_t g = fin_u8(in);
	int group = g < 128 ? AP_GROUP_OWN : g % 4;
	int rc;

	if (!w->niommus || w->ndevs == MAX_DEVS)
		return;
	iommu = w->iommus[fin_u8(in) % w->niommus];
	snprintf(name, sizeof(name), "d%u", w->serial++);
	rc = ap_device_new(w->ctx, name, iommu, fin_u8(in) % 8, group, &d);
	if (rc)
		return;
	if (ap_device_group_id(d) < 0 || ap_device_group_id(d) >= MAX_GROUPS)
		bug("device %s in group %d", name, ap_device_group_id(d));
	/* a device joining a group takes the group's domain: the core refuses
	 * (EBUSY) a group that is attached, so the group has none */
	if (w->group_dom[ap_device_group_id(d)])
		bug("device %s joined group %d, which is attached to %s", name,
		    ap_device_group_id(d), ap_domain_name(w->group_dom[ap_device_group_id(d)]));
	w->devs[w->ndevs++] = (struct mdev){ d, iommu, ap_device_group_id(d) };
}

static void op_domain(struct world *w, struct fin *in)
{
	static const enum ap_domain_type types[] = {
		AP_DOMAIN_PAGING, AP_DOMAIN_PAGING, AP_DOMAIN_PAGING, AP_DOMAIN_IDENTITY,
		AP_DOMAIN_BLOCKED,
	};
	struct mdom *md = &w->doms[fin_u8(in) % MAX_DOMS];
	enum ap_domain_type type = FIN_PICK(in, types);
	char name[16];

	if (md->d || !w->niommus)
		return;
	snprintf(name, sizeof(name), "m%u", w->serial++);
	memset(md, 0, sizeof(*md));
	if (ap_domain_new(w->ctx, name, w->iommus[fin_u8(in) % w->niommus], type, &md->d)) {
		md->d = NULL;
		return;
	}
	md->type = type;
	ap_domain_geometry(md->d, &md->geo);
}

static bool dom_in_use(const struct world *w, const struct ap_domain *d)
{
	for (int g = 0; g < MAX_GROUPS; g++)
		if (w->group_dom[g] == d)
			return true;
	return false;
}

static void op_free(struct world *w, struct fin *in)
{
	struct mdom *md = pick_dom(w, in);
	int rc;

	if (!md)
		return;
	rc = ap_domain_free(md->d);
	if (dom_in_use(w, md->d)) {
		if (rc != -EBUSY)
			bug("freeing attached domain %s returned %d", ap_domain_name(md->d), rc);
		return;
	}
	if (rc && !fired(w))
		bug("freeing idle domain returned %d", rc);
	if (!rc)
		md->d = NULL;
}

static void op_attach(struct world *w, struct fin *in, int how)
{
	struct mdom *md = pick_dom(w, in);
	struct mdev *dv = pick_dev(w, in);
	struct ap_domain *before;
	int rc;

	if (!md || !dv)
		return;
	before = w->group_dom[dv->group];
	if (how == 2) {
		rc = ap_detach(dv->d);
		if (!rc)
			w->group_dom[dv->group] = NULL;
		else if (before)
			bug("detach of an attached device returned %d", rc);
		check_attachments(w, "detach");
		return;
	}
	rc = how ? ap_replace(md->d, dv->d) : ap_attach(md->d, dv->d);
	if (!how && before && before != md->d && rc != -EBUSY)
		bug("attach of a group on another domain returned %d, not -EBUSY", rc);
	if (how && rc == -EBUSY)
		bug("replace returned -EBUSY");
	if (!rc)
		w->group_dom[dv->group] = md->d;
	check_attachments(w, how ? "replace" : "attach");
}

/* About how many leaves mapping size bytes takes: size over the largest
 * page size both addresses are aligned to. */
static uint64_t leaves_needed(const struct ap_domain *d, uint64_t iova, uint64_t pa, uint64_t size)
{
	uint64_t pg = ap_domain_pgsizes(d), align = (iova | pa) & -(iova | pa), best = SZ_4K;

	for (int b = 0; b < 64; b++)
		if ((pg >> b & 1) && (align == 0 || (1ull << b) <= align))
			best = 1ull << b;
	return size / best;
}

static void op_map(struct world *w, struct fin *in)
{
	struct mdom *md = pick_dom(w, in);
	uint64_t iova, pa, size, minpg, oas_end;
	struct ap_geometry g;
	unsigned prot;
	bool allowed;
	int rc;

	if (!md)
		return;
	iova = pick_iova(w, in, md);
	pa = pick_pa(in);
	size = pick_size(in);
	prot = pick_prot(in);
	if (fin_u8(in) < 64)
		iova = pa; /* same alignment: large pages */
	if (leaves_needed(md->d, iova, pa, size) > MAX_LEAVES)
		return; /* legal, but slow: the fuzzer would spend its time writing PTEs */
	rc = ap_map(md->d, iova, pa, size, prot);
	if (md->type != AP_DOMAIN_PAGING) {
		if (rc != -EINVAL)
			bug("map on a non-paging domain returned %d", rc);
		return;
	}
	ap_domain_geometry(md->d, &g);
	minpg = ap_domain_pgsizes(md->d) & -ap_domain_pgsizes(md->d);
	oas_end = ap_domain_oas(md->d) >= 64 ? UINT64_MAX : (1ull << ap_domain_oas(md->d)) - 1;
	allowed = size && minpg && !(iova % minpg) && !(pa % minpg) && !(size % minpg) &&
		  iova + (size - 1) >= iova && pa + (size - 1) >= pa &&
		  (prot & (AP_PROT_READ | AP_PROT_WRITE)) && iova >= g.start &&
		  iova + (size - 1) <= g.end && pa + (size - 1) <= oas_end;
	if (rc == 0 && size) {
		if (!allowed || overlaps(md, iova, size))
			bug("map %s 0x%llx -> 0x%llx size 0x%llx prot 0x%x succeeded; the model says "
			    "it %s", ap_domain_name(md->d), (unsigned long long)iova,
			    (unsigned long long)pa, (unsigned long long)size, prot,
			    allowed ? "overlaps a live mapping" : "breaks the rules");
		if (md->n == MAX_MAPS) { /* the model is full: forget this domain's maps */
			uint64_t un;

			for (int i = 0; i < md->n; i++)
				ap_unmap(md->d, md->m[i].iova, md->m[i].size, &un);
			md->n = 0;
			ap_unmap(md->d, iova, size, &un);
			check_range(md, iova, size, "map (reset)");
			return;
		}
		md->m[md->n++] = (struct mmap_ent){ iova, size, pa, prot };
	} else if (rc == 0 && size == 0) {
		return;
	} else if (allowed && !overlaps(md, iova, size) && !fired(w) && rc != -ENOMEM) {
		bug("map %s 0x%llx -> 0x%llx size 0x%llx prot 0x%x failed with %d (%s); the "
		    "model allows it", ap_domain_name(md->d), (unsigned long long)iova,
		    (unsigned long long)pa, (unsigned long long)size, prot, rc,
		    ap_ctx_error(w->ctx));
	}
	check_range(md, iova, size, rc ? "failed map" : "map");
}

static void op_unmap(struct world *w, struct fin *in)
{
	struct mdom *md = pick_dom(w, in);
	uint64_t iova, size, un = 0xdead;
	struct ap_pt_cfg pc;
	bool generic_pt;
	int rc;

	if (!md)
		return;
	iova = pick_iova(w, in, md);
	size = fin_u8(in) < 128 && md->n ? md->m[fin_u8(in) % md->n].size : pick_size(in);
	rc = ap_unmap(md->d, iova, size, &un);
	if (rc) {
		if (un != 0)
			bug("failed unmap (%d) reports 0x%llx unmapped", rc, (unsigned long long)un);
		check_range(md, iova, size, "failed unmap");
		return;
	}
	if (md->type != AP_DOMAIN_PAGING)
		bug("unmap on a non-paging domain succeeded");
	ap_pt_get_cfg(ap_domain_pt(md->d), &pc);
	generic_pt = pc.format == AP_PT_INTEL_VTD_SL;
	if (generic_pt ? un >= size + (1ull << 30) : un > size)
		bug("unmap of 0x%llx reports 0x%llx", (unsigned long long)size,
		    (unsigned long long)un);
	/* generic_pt takes whole leaves from iova and stops at a hole: every
	 * byte it reports was mapped */
	for (uint64_t at = iova; generic_pt && at - iova < un;) {
		const struct mmap_ent *e = lookup(md, at);

		if (!e)
			bug("unmap %s 0x%llx size 0x%llx reports 0x%llx, but 0x%llx was not mapped",
			    ap_domain_name(md->d), (unsigned long long)iova, (unsigned long long)size,
			    (unsigned long long)un, (unsigned long long)at);
		at = e->iova + e->size;
		if (at == 0)
			break;
	}
	if (un)
		model_remove(md, iova, un);
	check_range(md, iova, un ? un : SZ_4K, "unmap");
}

static void op_translate(struct world *w, struct fin *in)
{
	struct mdev *dv = pick_dev(w, in);
	static const unsigned acc[] = { AP_ACCESS_READ, AP_ACCESS_WRITE,
					AP_ACCESS_READ | AP_ACCESS_WRITE };

	if (dv)
		check_translate(w, dv, pick_iova(w, in, mdom_of(w, w->group_dom[dv->group])),
				FIN_PICK(in, acc));
}

/* What one piece [at, at+len) of a DMA must do: translation, then RAM. */
static enum expect piece(struct world *w, const struct mdev *dv, uint64_t at, uint64_t len,
			 unsigned access, uint8_t **host)
{
	uint64_t pa = 0;
	bool known;
	enum expect e = expected(w, dv, at, access, &pa, &known);

	*host = NULL;
	if (e == MUST_FAULT || !known)
		return e;
	*host = ram_host(w, pa, len);
	if (*host)
		return e;
	return touches_memory(pa, len) ? EITHER : (e == MUST_PASS ? MUST_FAULT : e);
}

/*
 * RAM0 as every input finds it: zero but for a byte at every 512 that
 * says where it is, so that DMA checks can tell its bytes apart.  Only DMA
 * writes change it (the library keeps its tables in the window), so only
 * the pages they may have written are made again at the next input, not
 * all 256 KiB (which cost 2% of the input rate).
 */
static uint8_t ram0[RAM0_SIZE] __attribute__((aligned(4096)));
static bool ram0_stale[RAM0_SIZE / SZ_4K];

static void ram0_page_init(size_t page)
{
	uint8_t *p = ram0 + page * SZ_4K;

	memset(p, 0, SZ_4K);
	for (size_t i = 0; i < SZ_4K; i += 512)
		p[i] = (uint8_t)((page * SZ_4K + i) >> 9);
	ram0_stale[page] = false;
}

/* Before a DMA write to host [at, at+len) (NULL: not RAM the harness knows). */
static void ram0_dirty(const uint8_t *at, uint64_t len)
{
	if (!at || at < ram0 || at >= ram0 + RAM0_SIZE || !len)
		return;
	for (size_t pg = (size_t)(at - ram0) / SZ_4K; pg <= (size_t)(at - ram0 + len - 1) / SZ_4K &&
						       pg < RAM0_SIZE / SZ_4K; pg++)
		ram0_stale[pg] = true;
}

static void ram0_reset(void)
{
	static bool made;

	for (size_t pg = 0; pg < RAM0_SIZE / SZ_4K; pg++)
		if (!made || ram0_stale[pg])
			ram0_page_init(pg);
	made = true;
}

/* What a DMA writes: byte i is i * 7 + 1, made once (a loop per DMA
 * would cost more than the DMA, every comparison traced for the fuzzer). */
static const uint8_t *dma_pattern(void)
{
	static uint8_t pattern[MAX_DMA];
	static bool made;

	if (!made) {
		for (size_t i = 0; i < MAX_DMA; i++)
			pattern[i] = (uint8_t)(i * 7 + 1);
		made = true;
	}
	return pattern;
}

static void op_dma(struct world *w, struct fin *in)
{
	static uint8_t buf[MAX_DMA], before[MAX_DMA];
	struct mdev *dv = pick_dev(w, in);
	uint8_t *hosts[8];
	uint64_t iova, lens[8];
	size_t len, n = 0;
	bool write, must_fault = false, must_pass = true, alias = false;
	struct ap_fault f;
	int rc;

	if (!dv)
		return;
	iova = pick_iova(w, in, mdom_of(w, w->group_dom[dv->group])) + (fin_u8(in) & 0x3f) * 64;
	len = fin_u16(in) % MAX_DMA + 1;
	write = fin_u8(in) & 1;
	if (iova + len < iova)
		return;
	for (uint64_t at = iova, end = iova + len; at < end && n < 8; n++) {
		uint64_t next = (at | (SZ_4K - 1)) + 1, l;

		if (next == 0 || next > end) /* the last page of the address space */
			next = end;
		l = next - at;
		enum expect e = piece(w, dv, at, l, write ? AP_ACCESS_WRITE : AP_ACCESS_READ, &hosts[n]);


		lens[n] = l;
		must_fault |= e == MUST_FAULT;
		must_pass &= e == MUST_PASS && hosts[n];
		at = next;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (hosts[i] && hosts[j] && hosts[i] < hosts[j] + lens[j] &&
			    hosts[j] < hosts[i] + lens[i])
				alias = true;
	memcpy(buf, dma_pattern(), len);
	for (size_t i = 0, off = 0; i < n; off += lens[i], i++)
		if (hosts[i])
			memcpy(before + off, hosts[i], lens[i]);
	if (write)
		for (size_t i = 0; i < n; i++)
			ram0_dirty(hosts[i], lens[i]);
	rc = write ? ap_dma_write(dv->d, iova, buf, len, &f) : ap_dma_read(dv->d, iova, buf, len, &f);
	if (rc != 0 && rc != -EFAULT)
		bug("DMA %s 0x%llx+%zu returned %d", ap_device_name(dv->d), (unsigned long long)iova,
		    len, rc);
	if (must_fault && rc == 0)
		bug("DMA %s %s 0x%llx+%zu succeeded; the model says part of it faults",
		    ap_device_name(dv->d), write ? "write" : "read", (unsigned long long)iova, len);
	if (must_pass && rc)
		bug("DMA %s %s 0x%llx+%zu faulted (%s at 0x%llx); the model says it lands",
		    ap_device_name(dv->d), write ? "write" : "read", (unsigned long long)iova, len,
		    ap_fault_kind_name(f.kind), (unsigned long long)f.iova);
	for (size_t i = 0, off = 0; i < n && !alias; off += lens[i], i++) {
		const uint8_t *want = rc ? before + off : buf + off;

		if (!hosts[i] || (!write && rc == 0))
			continue;
		if (memcmp(hosts[i], want, lens[i]))
			bug("DMA %s 0x%llx+%zu (rc %d): RAM behind piece %zu is not what it should be",
			    write ? "write" : "read", (unsigned long long)iova, len, rc, i);
	}
	if (!write && rc == 0 && !alias)
		for (size_t i = 0, off = 0; i < n; off += lens[i], i++)
			if (hosts[i] && memcmp(hosts[i], buf + off, lens[i]))
				bug("DMA read 0x%llx+%zu: bytes of piece %zu differ from RAM",
				    (unsigned long long)iova, len, i);
}

/* Every device at every mapping's edges, both accesses. */
static void op_sweep(struct world *w)
{
	for (int i = 0; i < w->ndevs; i++) {
		const struct mdom *md = mdom_of(w, w->group_dom[w->devs[i].group]);

		check_translate(w, &w->devs[i], 0, AP_ACCESS_READ);
		for (int k = 0; md && k < md->n; k++) {
			const struct mmap_ent *e = &md->m[k];

			check_translate(w, &w->devs[i], e->iova, AP_ACCESS_READ);
			check_translate(w, &w->devs[i], e->iova + e->size - 1, AP_ACCESS_WRITE);
			if (e->iova)
				check_translate(w, &w->devs[i], e->iova - 1, AP_ACCESS_READ);
			if (e->iova + e->size)
				check_translate(w, &w->devs[i], e->iova + e->size, AP_ACCESS_WRITE);
		}
	}
}

static void op(struct world *w, struct fin *in)
{
	uint8_t code = fin_u8(in);
	unsigned long nth = 0;

	if (code >= 240) { /* the next operation's n-th allocation fails */
		nth = code - 239;
		code = fin_u8(in);
	}
	ap_ctx_fail_nth(w->ctx, nth);
	w->armed = nth != 0;
	switch (code % 16) {
	case 0: op_iommu(w, in); break;
	case 1: op_device(w, in); break;
	case 2: op_domain(w, in); break;
	case 3: op_free(w, in); break;
	case 4: op_attach(w, in, 0); break;
	case 5: op_attach(w, in, 1); break;
	case 6: op_attach(w, in, 2); break;
	case 7: case 8: case 9: op_map(w, in); break;
	case 10: op_unmap(w, in); break;
	case 11: case 12: op_translate(w, in); break;
	case 13: case 14: op_dma(w, in); break;
	default: op_sweep(w); break;
	}
	ap_ctx_fail_nth(w->ctx, 0);
	w->armed = false;
	check_attachments(w, "an operation");
	check_geometry(w, "an operation");
}

/* A machine to start from: one SMMU (abort, forced), a device, a paging
 * domain attached, so that short inputs already map and translate. */
static void starter(struct world *w)
{
	struct ap_iommu_config c;
	struct ap_domain *d = NULL;
	struct ap_device *dev = NULL;

	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	c.iotlb_entries = 16;
	if (ap_iommu_new(w->ctx, "s", &c, &w->iommus[0]))
		bug("starter: no SMMU");
	w->niommus = 1;
	if (ap_device_new(w->ctx, "dev", w->iommus[0], 1, AP_GROUP_OWN, &dev) ||
	    ap_domain_new(w->ctx, "dom", w->iommus[0], AP_DOMAIN_PAGING, &d) || ap_attach(d, dev))
		bug("starter: %s", ap_ctx_error(w->ctx));
	w->devs[w->ndevs++] = (struct mdev){ dev, w->iommus[0], ap_device_group_id(dev) };
	w->doms[0].d = d;
	w->doms[0].type = AP_DOMAIN_PAGING;
	ap_domain_geometry(d, &w->doms[0].geo);
	w->group_dom[ap_device_group_id(dev)] = d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	static struct world w;
	/* RAM0 is the harness's own memory (ap_ram_add, ram0_reset()); kept
	 * from input to input, where memory the context allocates would be
	 * fresh pages to fault in each time.  RAM1 is the context's
	 * (ap_ram_alloc), zeroed. */
	void *h1 = NULL;

	memset(&w, 0, sizeof(w));
	ram0_reset();
	w.ctx = ap_ctx_new();
	if (!w.ctx)
		return 0;
	if (ap_ctx_set_table_window(w.ctx, TW_BASE, TW_SIZE) ||
	    ap_ram_add(w.ctx, RAM0, RAM0_SIZE, ram0) || ap_ram_alloc(w.ctx, RAM1, RAM1_SIZE, &h1))
		bug("setup: %s", ap_ctx_error(w.ctx));
	w.ram0 = ram0;
	w.ram1 = h1;
	starter(&w);
	for (int n = 0; fin_more(&in) && n < MAX_OPS; n++)
		op(&w, &in);
	op_sweep(&w);
	ap_ctx_free(w.ctx);
	return 0;
}
