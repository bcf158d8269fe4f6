/* SPDX-License-Identifier: MIT */
/*
 * Randomized acceptance test of the VFIO type1 container against a model
 * of type1 v2's rules (doc/vfio.md §1.2,
 * §1.4, §1.5, §1.6), written from the spec, not from the implementation.
 *
 * Machine: two 48-bit SMMUs and a 48-bit VT-d unit; group 0 (two devices)
 * and group 1 behind the SMMUs (SW_MSI window 0x8000000 + 1 MiB), group 2
 * behind VT-d (MSI window 0xfee00000-0xfeefffff).  Group 0 stays in the
 * container; groups 1 and 2 leave and rejoin at random.  A small entry
 * limit and a memlock limit make ENOSPC and ENOMEM frequent.
 *
 * Each step is a MAP_DMA, an UNMAP_DMA (exact, spanning, bisecting,
 * unaligned, wrapping, UNMAP_ALL), a device DMA, a group leaving or
 * joining, or a GET_INFO; the model predicts the return value and errno,
 * the size written back, DMA_AVAIL and the IOVA ranges, and which bytes of
 * the test's own buffer a DMA reads or writes (unmapped IOVA faults, a
 * write through a read-only mapping faults and moves nothing).
 *
 * Seed and length: printed at start; override with
 *   test_vfio_model [SEED [STEPS]]   or   APERTURE_SEED=... APERTURE_STEPS=...
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "rng.h"
#include "vfio_util.h"

#define BUF_SIZE (4 * SZ_1M)  /* the test's memory, then ... */
#define GUARD SZ_1M           /* ... a PROT_NONE guard */
#define ENTRY_LIMIT 24
#define MEMLOCK (2 * SZ_1M)
#define MAXE ENTRY_LIMIT
#define NGROUPS 3
#define NDEVS 4

static uint64_t g_seed = 0x5eed2026a9e77e5ull;
static unsigned g_steps = 6000;
static unsigned map_errs[160], unmap_errs[160]; /* outcomes seen, by errno */

/* ------------------------------------------------------------ the model */

struct ment {
	uint64_t iova, size, off; /* off: offset of vaddr in the buffer */
	uint32_t flags;
};

struct resv {
	uint64_t start, end;
};

static const struct resv group_resv[NGROUPS] = {
	{ SW_MSI_START, SW_MSI_END },
	{ SW_MSI_START, SW_MSI_END },
	{ VTD_MSI_START, VTD_MSI_END },
};

struct model {
	struct ment m[MAXE];
	unsigned n;
	uint64_t charged;
	bool member[NGROUPS];
};

static int cmp_ment(const void *a, const void *b)
{
	const struct ment *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

static void model_sort(struct model *md)
{
	qsort(md->m, md->n, sizeof(md->m[0]), cmp_ment);
}

static int model_find(const struct model *md, uint64_t iova)
{
	unsigned i;

	for (i = 0; i < md->n; i++)
		if (iova >= md->m[i].iova && iova - md->m[i].iova < md->m[i].size)
			return (int)i;
	return -1;
}

static bool model_overlaps(const struct model *md, uint64_t iova, uint64_t last)
{
	unsigned i;

	for (i = 0; i < md->n; i++)
		if (iova <= md->m[i].iova + md->m[i].size - 1 && md->m[i].iova <= last)
			return true;
	return false;
}

/* Inside one node of the IOVA list: the aperture minus members' windows. */
static bool model_fits(const struct model *md, uint64_t iova, uint64_t last)
{
	unsigned g;

	if (last > TOP48)
		return false;
	for (g = 0; g < NGROUPS; g++)
		if (md->member[g] && iova <= group_resv[g].end && group_resv[g].start <= last)
			return false;
	return true;
}

/* The IOVA ranges the container should report, sorted. */
static unsigned model_ranges(const struct model *md, struct vfio_iova_range *r)
{
	struct resv cut[NGROUPS];
	unsigned n = 0, k = 0, g, i, j;
	uint64_t start = 0;

	for (g = 0; g < NGROUPS; g++) {
		bool dup = false;

		if (!md->member[g])
			continue;
		for (i = 0; i < n; i++)
			dup |= cut[i].start == group_resv[g].start;
		if (!dup)
			cut[n++] = group_resv[g];
	}
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (cut[j].start < cut[i].start) {
				struct resv t = cut[i];

				cut[i] = cut[j];
				cut[j] = t;
			}
	for (i = 0; i < n; i++) {
		r[k].start = start;
		r[k].end = cut[i].start - 1;
		k++;
		start = cut[i].end + 1;
	}
	r[k].start = start;
	r[k].end = TOP48;
	return k + 1;
}

/* ------------------------------------------------------------ the machine */

struct rig {
	struct ap_ctx *ctx;
	struct ap_device *dev[NDEVS];
	int devgroup[NDEVS]; /* model group index of each device */
	int c;
	int g[NGROUPS];
	uint8_t *mem;    /* BUF_SIZE + GUARD */
	uint8_t *shadow; /* what mem should hold */
	struct model md;
	unsigned step;
	const char *op;
};

static struct rig *R;

#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			print_error("step %u (%s), seed 0x%llx: ", R->step, R->op,         \
				    (ull)g_seed);                                          \
			print_error(__VA_ARGS__);                                          \
			print_error("\n");                                                 \
			fail_msg("model mismatch: %s", #cond);                             \
		}                                                                          \
	} while (0)

/* vfio_util.h's verr() on the rig's context, failing with the step. */
static int rig_verr(int fd, unsigned long req, void *arg)
{
	int r;

	errno = 0;
	r = ap_vfio_ioctl(R->ctx, fd, req, arg);
	if (r >= 0)
		return 0;
	CHECK(r == -1 && errno != 0, "ioctl returned %d, errno %d", r, errno);
	return errno;
}

static void rig_init(struct rig *rig)
{
	struct ap_iommu *s0, *s1, *v0;
	char path[32];
	int i;

	memset(rig, 0, sizeof(*rig));
	R = rig;
	rig->op = "setup";
	rig->mem = buf_alloc(BUF_SIZE + GUARD);
	assert_int_equal(mprotect(rig->mem + BUF_SIZE, GUARD, PROT_NONE), 0);
	rig->shadow = malloc(BUF_SIZE);
	assert_non_null(rig->shadow);
	for (i = 0; i < (int)BUF_SIZE; i += 8) {
		uint64_t v = rnd();

		memcpy(rig->mem + i, &v, 8);
	}
	memcpy(rig->shadow, rig->mem, BUF_SIZE);

	rig->ctx = ap_ctx_new();
	assert_non_null(rig->ctx);
	ap_vfio_set_dma_entry_limit(rig->ctx, ENTRY_LIMIT);
	ap_vfio_set_memlock_limit(rig->ctx, MEMLOCK);
	s0 = mk_smmu(rig->ctx, "smmu0", 48);
	s1 = mk_smmu(rig->ctx, "smmu1", 48);
	v0 = mk_vtd(rig->ctx, "dmar0");
	rig->dev[0] = mk_dev(rig->ctx, "a0", s0, 0x10, 10);
	rig->dev[1] = mk_dev(rig->ctx, "a1", s0, 0x11, 10);
	rig->dev[2] = mk_dev(rig->ctx, "b0", s1, 0x10, 11);
	rig->dev[3] = mk_dev(rig->ctx, "c0", v0, 0x10, 12);
	rig->devgroup[0] = 0;
	rig->devgroup[1] = 0;
	rig->devgroup[2] = 1;
	rig->devgroup[3] = 2;

	rig->c = open_container(rig->ctx);
	for (i = 0; i < NGROUPS; i++) {
		snprintf(path, sizeof(path), "/dev/vfio/%d", 10 + i);
		rig->g[i] = ap_vfio_open(rig->ctx, path);
		CHECK(rig->g[i] >= 0, "open %s: %s", path, ename(errno));
		CHECK(rig_verr(rig->g[i], VFIO_GROUP_SET_CONTAINER, &rig->c) == 0,
		      "SET_CONTAINER %d: %s", i, ap_ctx_error(rig->ctx));
		rig->md.member[i] = true;
	}
	CHECK(rig_verr(rig->c, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU) == 0,
	      "SET_IOMMU: %s", ap_ctx_error(rig->ctx));
}

static void rig_fini(struct rig *rig)
{
	int i;

	for (i = 0; i < NGROUPS; i++)
		assert_int_equal(ap_vfio_close(rig->ctx, rig->g[i]), 0);
	assert_int_equal(ap_vfio_close(rig->ctx, rig->c), 0);
	ap_ctx_free(rig->ctx);
	munmap(rig->mem, BUF_SIZE + GUARD);
	free(rig->shadow);
	R = NULL;
}

/* ------------------------------------------------------------ GET_INFO */

/* GET_INFO, its chain checked (vfio_util.h), against the model: DMA_AVAIL
 * and the IOVA ranges. */
static void check_info(struct rig *rig)
{
	struct vfio_iova_range want[NGROUPS + 1];
	unsigned nwant = model_ranges(&rig->md, want), i;
	struct info_view v;

	rig->op = "GET_INFO";
	get_info(rig->ctx, rig->c, &v);
	CHECK(v.dma_avail == ENTRY_LIMIT - rig->md.n, "DMA_AVAIL %u, model %u", v.dma_avail,
	      ENTRY_LIMIT - rig->md.n);
	CHECK(v.nr == nwant, "%u IOVA ranges, model %u", v.nr, nwant);
	for (i = 0; i < nwant; i++)
		CHECK(v.r[i].start == want[i].start && v.r[i].end == want[i].end,
		      "range %u [0x%llx, 0x%llx], model [0x%llx, 0x%llx]", i, (ull)v.r[i].start,
		      (ull)v.r[i].end, (ull)want[i].start, (ull)want[i].end);
}

/* ------------------------------------------------------------ MAP_DMA */

/* IOVA windows the ops aim at. */
struct window {
	uint64_t base, size;
};

static const struct window windows[] = {
	{ 0x7c00000, 8 * SZ_1M },                /* around SW_MSI */
	{ 0xfea00000, 6 * SZ_1M },               /* around VT-d's MSI window */
	{ (1ull << 48) - SZ_1M, SZ_1M + SZ_1M / 4 }, /* the aperture's end */
	{ 0ull - 64 * PG, 64 * PG },             /* the end of the 64-bit space */
};

static uint64_t pick_iova(void)
{
	unsigned w = (unsigned)rnd_below(100);
	const struct window *win = w < 50 ? &windows[0] : w < 88 ? &windows[1]
					   : w < 96 ? &windows[2] : &windows[3];

	return win->base + rnd_below(win->size / PG) * PG;
}

static uint64_t pick_size(void)
{
	unsigned w = (unsigned)rnd_below(100);

	if (w < 60)
		return (1 + rnd_below(16)) * PG;
	if (w < 85)
		return (17 + rnd_below(48)) * PG;
	if (w < 95)
		return (65 + rnd_below(192)) * PG;
	if (w < 97)
		return 0;
	if (w < 99)
		return (1 + rnd_below(16)) * PG + 0x800;
	return 0ull - (1 + rnd_below(64)) * PG; /* enormous: wraps */
}

static int model_map(struct model *md, uint32_t flags, uint64_t vaddr, uint64_t base_va,
		     uint64_t iova, uint64_t size, bool *either_ok)
{
	uint64_t last = iova + size - 1;
	bool bad, over;

	*either_ok = false;
	if (flags & ~(uint32_t)(R_ | W_ | VFIO_DMA_MAP_FLAG_VADDR))
		return EINVAL;
	if (size == 0)
		return EINVAL;
	if (last < iova || vaddr + size - 1 < vaddr)
		return EOVERFLOW;
	if (!(flags & RW))
		return EINVAL;
	if ((iova | size | vaddr) & (PG - 1))
		return EINVAL;
	if (model_overlaps(md, iova, last))
		return EEXIST;
	if (md->n == ENTRY_LIMIT)
		return ENOSPC;
	if (!model_fits(md, iova, last))
		return EINVAL;
	bad = vaddr < base_va || vaddr - base_va > BUF_SIZE || size > BUF_SIZE - (vaddr - base_va);
	over = md->charged + size > MEMLOCK;
	if (bad && over) {
		*either_ok = true; /* which one pinning meets first is not specified */
		return EFAULT;
	}
	if (bad)
		return EFAULT;
	if (over)
		return ENOMEM;
	return 0;
}

static void op_map(struct rig *rig)
{
	struct vfio_iommu_type1_dma_map m;
	uint64_t base_va = (uint64_t)(uintptr_t)rig->mem;
	uint64_t iova = pick_iova(), size = pick_size(), off = 0, vaddr;
	uint32_t flags;
	unsigned w = (unsigned)rnd_below(100);
	bool either;
	int want, e;

	rig->op = "MAP_DMA";
	flags = w < 70 ? RW : w < 82 ? R_ : w < 94 ? W_ : w < 97 ? 0 : RW | 8;
	if (chance(3))
		iova += 1 + rnd_below(PG - 1);
	/* an existing mapping's neighbourhood, to make overlaps common */
	if (rig->md.n && chance(30)) {
		const struct ment *x = &rig->md.m[rnd_below(rig->md.n)];

		iova = x->iova + (rnd_below(2 * x->size / PG + 8) * PG) - 4 * PG;
	}
	if (size <= BUF_SIZE) {
		off = rnd_below((BUF_SIZE + 64 * PG - size) / PG + 1) * PG;
		if (off + size > BUF_SIZE + GUARD)
			off = BUF_SIZE + GUARD - size;
	}
	vaddr = base_va + off;
	if (chance(2))
		vaddr += 1 + rnd_below(PG - 1);
	if (chance(2))
		vaddr = 0ull - (1 + rnd_below(8)) * PG; /* near the top: wraps or no memory */
	want = model_map(&rig->md, flags, vaddr, base_va, iova, size, &either);

	memset(&m, 0, sizeof(m));
	m.argsz = sizeof(m);
	m.flags = flags;
	m.vaddr = vaddr;
	m.iova = iova;
	m.size = size;
	e = rig_verr(rig->c, VFIO_IOMMU_MAP_DMA, &m);
	if (either)
		CHECK(e == EFAULT || e == ENOMEM,
		      "MAP flags 0x%x iova 0x%llx size 0x%llx off 0x%llx: %s, model EFAULT or ENOMEM",
		      flags, (ull)iova, (ull)size, (ull)off, ename(e));
	else
		CHECK(e == want,
		      "MAP flags 0x%x iova 0x%llx size 0x%llx vaddr off 0x%llx: %s, model %s (%s)",
		      flags, (ull)iova, (ull)size, (ull)(vaddr - base_va), ename(e), ename(want),
		      ap_ctx_error(rig->ctx));
	map_errs[e < 160 ? e : 0]++;
	if (e == 0) {
		struct ment *x = &rig->md.m[rig->md.n++];

		x->iova = iova;
		x->size = size;
		x->off = off;
		x->flags = flags;
		rig->md.charged += size;
		model_sort(&rig->md);
	}
}

/* ------------------------------------------------------------ UNMAP_DMA */

static int model_unmap(struct model *md, uint32_t flags, uint64_t iova, uint64_t size,
		       uint64_t *unmapped, bool apply)
{
	uint64_t last;
	unsigned i, k;
	int a, b;

	*unmapped = 0;
	if (flags & ~(uint32_t)(VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL |
				VFIO_DMA_UNMAP_FLAG_VADDR))
		return EINVAL;
	if (iova & (PG - 1))
		return EINVAL;
	if (flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		if (iova || size)
			return EINVAL;
		last = ~0ull;
	} else {
		if (size == 0 || (size & (PG - 1)))
			return EINVAL;
		last = iova + size - 1;
		if (last < iova)
			return EOVERFLOW;
		a = model_find(md, iova);
		if (a >= 0 && md->m[a].iova != iova)
			return EINVAL;
		b = model_find(md, last);
		if (b >= 0 && md->m[b].iova + md->m[b].size - 1 != last)
			return EINVAL;
	}
	for (i = 0, k = 0; i < md->n; i++) {
		if (md->m[i].iova >= iova && md->m[i].iova + md->m[i].size - 1 <= last) {
			*unmapped += md->m[i].size;
			if (apply)
				md->charged -= md->m[i].size;
		} else if (apply) {
			md->m[k++] = md->m[i];
		}
	}
	if (apply)
		md->n = k;
	return 0;
}

static void op_unmap(struct rig *rig)
{
	struct vfio_iommu_type1_dma_unmap u;
	struct model *md = &rig->md;
	uint64_t iova, size, want_bytes;
	uint32_t flags = 0;
	unsigned w = (unsigned)rnd_below(100);
	int want, e;

	rig->op = "UNMAP_DMA";
	if (w < 6) {
		flags = VFIO_DMA_UNMAP_FLAG_ALL;
		iova = 0;
		size = 0;
		if (chance(25)) {
			if (chance(50))
				iova = pick_iova() & ~(PG - 1);
			else
				size = pick_size();
		}
	} else if (w < 45 && md->n) {
		const struct ment *x = &md->m[rnd_below(md->n)];

		iova = x->iova;
		size = x->size;
	} else if (w < 65 && md->n) {
		unsigned i = (unsigned)rnd_below(md->n), j = (unsigned)rnd_below(md->n);

		if (i > j) {
			unsigned t = i;

			i = j;
			j = t;
		}
		iova = md->m[i].iova - (chance(50) ? rnd_below(4) * PG : 0);
		size = md->m[j].iova + md->m[j].size - iova + (chance(50) ? rnd_below(4) * PG : 0);
	} else if (w < 85 && md->n) {
		/* bisecting: a page boundary inside a mapping */
		const struct ment *x = &md->m[rnd_below(md->n)];

		iova = x->iova +
		       (x->size > PG && chance(50) ? (1 + rnd_below(x->size / PG - 1)) * PG : 0);
		size = (1 + rnd_below(x->size / PG + 2)) * PG;
	} else {
		iova = pick_iova();
		size = pick_size();
		if (chance(5))
			iova += 1 + rnd_below(PG - 1);
		if (chance(3))
			flags = 8;
	}
	want = model_unmap(md, flags, iova, size, &want_bytes, false);

	memset(&u, 0, sizeof(u));
	u.argsz = sizeof(u);
	u.flags = flags;
	u.iova = iova;
	u.size = size;
	e = rig_verr(rig->c, VFIO_IOMMU_UNMAP_DMA, &u);
	CHECK(e == want, "UNMAP flags 0x%x iova 0x%llx size 0x%llx: %s, model %s", flags,
	      (ull)iova, (ull)size, ename(e), ename(want));
	unmap_errs[e < 160 ? e : 0]++;
	if (e == 0) {
		CHECK(u.size == want_bytes, "UNMAP iova 0x%llx size 0x%llx: unmapped 0x%llx, model 0x%llx",
		      (ull)iova, (ull)size, (ull)u.size, (ull)want_bytes);
		model_unmap(md, flags, iova, size, &want_bytes, true);
	} else {
		CHECK(u.size == size, "failed UNMAP wrote size 0x%llx back", (ull)u.size);
	}
}

/* ------------------------------------------------------------ DMA */

/* Can dev's access of [iova, iova+len) succeed?  1 yes, 0 no, -1 unknown, -2 wraps
 * (a read through a write-only mapping: format-dependent). */
static int model_dma(const struct rig *rig, int d, uint64_t iova, uint64_t len, bool write)
{
	uint64_t p;
	int ok = 1;

	if (iova + len - 1 < iova)
		return -2; /* the core refuses a DMA that wraps: -EINVAL, no fault */
	if (!rig->md.member[rig->devgroup[d]])
		return 0;
	for (p = iova & ~(PG - 1); p <= iova + len - 1; p += PG) {
		int i = model_find(&rig->md, p);

		if (i < 0)
			return 0;
		if (write && !(rig->md.m[i].flags & W_))
			return 0;
		if (!write && !(rig->md.m[i].flags & R_))
			ok = -1;
		if (p + PG < p)
			break;
	}
	return ok;
}

static void op_dma(struct rig *rig)
{
	struct model *md = &rig->md;
	int d = (int)rnd_below(NDEVS);
	bool write = chance(50);
	uint64_t len = 1 + rnd_below(chance(80) ? 64 : 256), iova, j;
	uint8_t data[256], got[256];
	struct ap_fault f;
	int want, r;

	rig->op = write ? "DMA write" : "DMA read";
	if (md->n && chance(75)) {
		const struct ment *x = &md->m[rnd_below(md->n)];

		iova = x->iova + rnd_below(x->size + 64) - 32;
	} else {
		iova = pick_iova() + rnd_below(PG);
	}
	want = model_dma(rig, d, iova, len, write);
	if (want == -1)
		return;
	memset(&f, 0, sizeof(f));
	if (write) {
		for (j = 0; j < len; j++)
			data[j] = (uint8_t)rnd();
		r = ap_dma_write(rig->dev[d], iova, data, len, &f);
	} else {
		memset(got, 0, sizeof(got));
		r = ap_dma_read(rig->dev[d], iova, got, len, &f);
	}
	CHECK(r == (want == -2 ? -EINVAL : want ? 0 : -EFAULT),
	      "%s %s iova 0x%llx len %llu: %d (fault %s), model %s", ap_device_name(rig->dev[d]),
	      rig->op, (ull)iova, (ull)len, r, ap_fault_kind_name(f.kind),
	      want == -2 ? "EINVAL (wraps)" : want ? "lands" : "faults");
	if (want == -2)
		want = 0;
	/* where each byte goes (in order, for aliases) */
	for (j = 0; j < len && want; j++) {
		int i = model_find(md, iova + j);
		uint64_t o = md->m[i].off + (iova + j - md->m[i].iova);

		if (write)
			rig->shadow[o] = data[j];
		else
			CHECK(got[j] == rig->shadow[o],
			      "%s read at iova 0x%llx: byte %llu is 0x%02x, buffer offset 0x%llx holds 0x%02x",
			      ap_device_name(rig->dev[d]), (ull)iova, (ull)j, got[j], (ull)o,
			      rig->shadow[o]);
	}
	if (write) {
		/* the bytes landed where the model says, and nowhere else near */
		for (j = 0; j < len; j++) {
			int i = model_find(md, iova + j);
			uint64_t o;

			if (i < 0)
				continue;
			o = md->m[i].off + (iova + j - md->m[i].iova);
			CHECK(rig->mem[o] == rig->shadow[o],
			      "after %s DMA write at 0x%llx: buffer offset 0x%llx is 0x%02x, model 0x%02x",
			      want ? "a" : "a faulting", (ull)iova, (ull)o, rig->mem[o],
			      rig->shadow[o]);
		}
	}
}

/* ------------------------------------------------------------ groups */

static void op_group(struct rig *rig)
{
	int g = 1 + (int)rnd_below(NGROUPS - 1), e, want = 0;

	if (rig->md.member[g]) {
		rig->op = "UNSET_CONTAINER";
		e = rig_verr(rig->g[g], VFIO_GROUP_UNSET_CONTAINER, NULL);
		CHECK(e == 0, "group %d leaving: %s", g, ename(e));
		rig->md.member[g] = false;
	} else {
		rig->op = "SET_CONTAINER";
		/* §1.2 step 5: its reserved window must not hold a mapping */
		if (model_overlaps(&rig->md, group_resv[g].start, group_resv[g].end))
			want = EINVAL;
		e = rig_verr(rig->g[g], VFIO_GROUP_SET_CONTAINER, &rig->c);
		CHECK(e == want, "group %d joining: %s, model %s (%s)", g, ename(e), ename(want),
		      ap_ctx_error(rig->ctx));
		if (e == 0)
			rig->md.member[g] = true;
	}
	check_info(rig);
}

/* ------------------------------------------------------------ the run */

static void test_model(void **state)
{
	struct rig rig;
	uint64_t got;
	unsigned counts[5] = { 0 };

	(void)state;
	rng_state = g_seed ? g_seed : 1;
	rig_init(&rig);
	check_info(&rig);
	for (rig.step = 0; rig.step < g_steps; rig.step++) {
		/* phases of 300 steps: mostly filling (to the entry and memlock
		 * limits), then mostly draining */
		bool fill = (rig.step / 300) % 2 == 0;
		unsigned w = (unsigned)rnd_below(100);
		unsigned pmap = fill ? 55 : 22, punmap = fill ? 10 : 40;

		if (w < pmap) {
			op_map(&rig);
			counts[0]++;
		} else if (w < pmap + punmap) {
			op_unmap(&rig);
			counts[1]++;
		} else if (w < 96) {
			op_dma(&rig);
			counts[2]++;
		} else if (w < 98) {
			op_group(&rig);
			counts[3]++;
		} else {
			check_info(&rig);
			counts[4]++;
		}
		if (rig.step % 16 == 0)
			check_info(&rig);
	}
	rig.op = "final UNMAP_ALL";
	{
		struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u),
							.flags = VFIO_DMA_UNMAP_FLAG_ALL };
		uint64_t total = 0;
		unsigned i;

		for (i = 0; i < rig.md.n; i++)
			total += rig.md.m[i].size;
		CHECK(rig_verr(rig.c, VFIO_IOMMU_UNMAP_DMA, &u) == 0, "UNMAP_ALL failed");
		CHECK(u.size == total, "UNMAP_ALL unmapped 0x%llx, model 0x%llx", (ull)u.size,
		      (ull)total);
		got = u.size;
		(void)got;
	}
	print_message("model: %u maps (ok %u, EINVAL %u, EEXIST %u, ENOSPC %u, ENOMEM %u, EFAULT %u, "
		      "EOVERFLOW %u), %u unmaps (ok %u, EINVAL %u, EOVERFLOW %u), %u DMAs, "
		      "%u group changes, %u GET_INFOs\n",
		      counts[0], map_errs[0], map_errs[EINVAL], map_errs[EEXIST], map_errs[ENOSPC],
		      map_errs[ENOMEM], map_errs[EFAULT], map_errs[EOVERFLOW], counts[1],
		      unmap_errs[0], unmap_errs[EINVAL], unmap_errs[EOVERFLOW], counts[2], counts[3],
		      counts[4]);
	rig_fini(&rig);
}

/* ------------------------------------------------------------ at scale */

/*
 * Tens of thousands of live mappings in one container, against a model
 * that keeps the owner of every page of a 256 MiB IOVA window: maps of 1 to
 * 4 pages (EEXIST, ENOSPC at the entry limit), exact and bisecting unmaps,
 * bulk unmaps over thousands of mappings (type1v2: refused when an end
 * cuts a mapping, else every mapping inside goes), device DMA through live
 * and removed mappings, DMA_AVAIL, and the container's mapping count and
 * pinned bytes; phases fill the window to the limit and drain it.  Every
 * mapping aliases a page of a 64-page buffer, as a program's rings do.
 */
#define BIG_PAGES 65536u           /* the window: 256 MiB */
#define BIG_BASE 0x100000000ull    /* at 4 GiB, clear of the SW_MSI window */
#define BIG_LIMIT 16384u           /* DMA entries */
#define BIG_BUF_PAGES 64u

struct big_map {
	uint32_t page, npages, off; /* first page, pages, buffer page it starts at */
};

struct big_model {
	int32_t owner[BIG_PAGES];  /* index into m[], or -1 */
	struct big_map *m;         /* live mappings, unordered */
	uint32_t n;
	uint64_t bytes;
};

static unsigned big_steps = 100000;
static unsigned big_enospc;

static void big_forget(struct big_model *md, int32_t i)
{
	struct big_map *x = &md->m[i], *last = &md->m[md->n - 1];

	for (uint32_t p = 0; p < x->npages; p++)
		md->owner[x->page + p] = -1;
	md->bytes -= (uint64_t)x->npages * PG;
	if (x != last) {
		*x = *last;
		for (uint32_t p = 0; p < x->npages; p++)
			md->owner[x->page + p] = i;
	}
	md->n--;
}

struct big_rig {
	struct ap_ctx *ctx;
	struct ap_device *dev;
	int c, g;
	uint8_t *buf;
	struct big_model *md;
	unsigned step;
};

#define BCHECK(cond, ...)                                                                 \
	do {                                                                              \
		if (!(cond)) {                                                            \
			print_error("large model, step %u, seed 0x%llx: ", rig->step,      \
				    (ull)g_seed);                                         \
			print_error(__VA_ARGS__);                                         \
			print_error("\n");                                                \
			fail_msg("model mismatch: %s", #cond);                            \
		}                                                                         \
	} while (0)

static void big_map_op(struct big_rig *rig, bool fill)
{
	struct big_model *md = rig->md;
	uint32_t npages = chance(80) ? 1 : 1 + (uint32_t)rnd_below(4);
	uint32_t page = (uint32_t)rnd_below(BIG_PAGES - npages + 1);
	uint32_t off = (uint32_t)rnd_below(BIG_BUF_PAGES - npages + 1);
	bool over = false;
	int want, e;

	(void)fill;
	for (uint32_t p = 0; p < npages; p++)
		over |= md->owner[page + p] >= 0;
	want = over ? EEXIST : md->n == BIG_LIMIT ? ENOSPC : 0;
	e = map_dma(rig->ctx, rig->c, rig->buf + (uint64_t)off * PG, BIG_BASE + (uint64_t)page * PG,
		    (uint64_t)npages * PG, RW);
	BCHECK(e == want, "MAP page %u + %u: %s, model %s (%s)", page, npages, ename(e), ename(want),
	       ap_ctx_error(rig->ctx));
	big_enospc += e == ENOSPC;
	if (e)
		return;
	md->m[md->n] = (struct big_map){ page, npages, off };
	for (uint32_t p = 0; p < npages; p++)
		md->owner[page + p] = (int32_t)md->n;
	md->n++;
	md->bytes += (uint64_t)npages * PG;
}

/* UNMAP_DMA of pages [first, first + count): errno and bytes by the model. */
static void big_unmap_range(struct big_rig *rig, uint32_t first, uint32_t count)
{
	struct big_model *md = rig->md;
	uint32_t last = first + count - 1;
	int32_t a = md->owner[first], b = md->owner[last];
	uint64_t want_bytes = 0, got = 0;
	int want = 0, e;

	if ((a >= 0 && md->m[a].page != first) ||
	    (b >= 0 && md->m[b].page + md->m[b].npages - 1 != last))
		want = EINVAL; /* type1v2 never splits a mapping */
	for (uint32_t p = first; !want && p <= last; p++)
		if (md->owner[p] >= 0 && md->m[md->owner[p]].page == p)
			want_bytes += (uint64_t)md->m[md->owner[p]].npages * PG;
	e = unmap_dma(rig->ctx, rig->c, BIG_BASE + (uint64_t)first * PG, (uint64_t)count * PG, 0,
		      &got);
	BCHECK(e == want, "UNMAP pages %u + %u: %s, model %s", first, count, ename(e), ename(want));
	if (e)
		return;
	BCHECK(got == want_bytes, "UNMAP pages %u + %u: 0x%llx bytes, model 0x%llx", first, count,
	       (ull)got, (ull)want_bytes);
	for (uint32_t p = first; p <= last; p++)
		if (md->owner[p] >= 0)
			big_forget(md, md->owner[p]);
}

static void big_unmap_op(struct big_rig *rig, bool fill)
{
	struct big_model *md = rig->md;
	unsigned w = (unsigned)rnd_below(1000);
	uint32_t first, count;

	if (w < (fill ? 1u : 30u)) { /* bulk: thousands of mappings */
		first = (uint32_t)rnd_below(BIG_PAGES / 2);
		count = 1 + (uint32_t)rnd_below(BIG_PAGES / 2);
	} else if (w < 600 && md->n) { /* one mapping, exactly */
		const struct big_map *x = &md->m[rnd_below(md->n)];

		first = x->page;
		count = x->npages;
	} else { /* a short range: often bisects */
		first = (uint32_t)rnd_below(BIG_PAGES);
		count = 1 + (uint32_t)rnd_below(16);
	}
	if (first + count > BIG_PAGES)
		count = BIG_PAGES - first;
	big_unmap_range(rig, first, count);
}

/* A device write then read at a random page: lands where the model says
 * (in the buffer page the mapping starts at, plus its offset), or faults. */
static void big_dma_op(struct big_rig *rig)
{
	struct big_model *md = rig->md;
	uint32_t page = (uint32_t)rnd_below(BIG_PAGES);
	uint64_t iova = BIG_BASE + (uint64_t)page * PG + rnd_below(PG - 8), v = rnd(), back = 0;
	int32_t i = md->owner[page];
	int r = ap_dma_write(rig->dev, iova, &v, sizeof(v), NULL);

	if (i < 0 || md->owner[(iova + 7 - BIG_BASE) / PG] != i) {
		BCHECK(i >= 0 || r == -EFAULT, "DMA write at unmapped IOVA 0x%llx: %d", (ull)iova, r);
		return;
	}
	BCHECK(r == 0, "DMA write at IOVA 0x%llx (mapping at page %u): %d", (ull)iova,
	       md->m[i].page, r);
	{
		uint64_t o = (uint64_t)md->m[i].off * PG + (iova - BIG_BASE - (uint64_t)md->m[i].page * PG);

		memcpy(&back, rig->buf + o, sizeof(back));
		BCHECK(back == v, "DMA write at IOVA 0x%llx did not land at buffer offset 0x%llx",
		       (ull)iova, (ull)o);
	}
	BCHECK(ap_dma_read(rig->dev, iova, &back, sizeof(back), NULL) == 0 && back == v,
	       "DMA read at IOVA 0x%llx", (ull)iova);
}

static void big_check_counts(struct big_rig *rig)
{
	struct ap_vfio_container_info ci;

	BCHECK(ap_vfio_container_info(rig->ctx, 0, &ci) == 0, "container info");
	BCHECK(ci.mappings == rig->md->n && ci.locked == rig->md->bytes &&
	       ci.dma_avail == BIG_LIMIT - rig->md->n,
	       "container: %llu mappings, 0x%llx pinned, %u available; model %u, 0x%llx, %u",
	       (ull)ci.mappings, (ull)ci.locked, ci.dma_avail, rig->md->n, (ull)rig->md->bytes,
	       BIG_LIMIT - rig->md->n);
	BCHECK(dma_avail(rig->ctx, rig->c) == BIG_LIMIT - rig->md->n, "GET_INFO's DMA_AVAIL");
}

static void test_model_large(void **state)
{
	struct big_rig rig_s = { 0 }, *rig = &rig_s;
	struct big_model *md = calloc(1, sizeof(*md));
	unsigned counts[3] = { 0 }, peak = 0;
	uint64_t got;

	(void)state;
	assert_non_null(md);
	md->m = calloc(BIG_LIMIT, sizeof(*md->m));
	assert_non_null(md->m);
	memset(md->owner, 0xff, sizeof(md->owner));
	rng_state = (g_seed ^ 0x1a26e) ? g_seed ^ 0x1a26e : 1;
	rig->md = md;
	rig->buf = buf_alloc(BIG_BUF_PAGES * PG);
	rig->ctx = mk_ctx();
	ap_vfio_set_dma_entry_limit(rig->ctx, BIG_LIMIT);
	ap_vfio_set_memlock_limit(rig->ctx, UINT64_MAX);
	rig->dev = mk_dev(rig->ctx, "dev", mk_smmu(rig->ctx, "smmu", 48), 0x10, 7);
	rig->c = open_type1v2(rig->ctx, rig->dev, &rig->g);
	for (rig->step = 0; rig->step < big_steps; rig->step++) {
		/* 40,000-step phases: fill to the limit, then drain */
		bool fill = (rig->step / 40000) % 2 == 0;
		unsigned w = (unsigned)rnd_below(100);

		if (w < (fill ? 88u : 30u)) {
			big_map_op(rig, fill);
			counts[0]++;
		} else if (w < (fill ? 91u : 94u)) {
			big_unmap_op(rig, fill);
			counts[1]++;
		} else {
			big_dma_op(rig);
			counts[2]++;
		}
		if (md->n > peak)
			peak = md->n;
		if (rig->step % 4096 == 0)
			big_check_counts(rig);
	}
	big_check_counts(rig);
	BCHECK(unmap_dma(rig->ctx, rig->c, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &got) == 0 &&
	       got == md->bytes, "UNMAP_ALL: 0x%llx bytes, model 0x%llx", (ull)got, (ull)md->bytes);
	md->n = 0;
	md->bytes = 0;
	big_check_counts(rig);
	print_message("large model: %u maps (%u ENOSPC), %u unmaps, %u DMAs, %u mappings at the "
		      "peak (limit %u)\n", counts[0], big_enospc, counts[1], counts[2], peak,
		      BIG_LIMIT);
	assert_int_equal(peak, BIG_LIMIT);
	assert_int_equal(ap_vfio_close(rig->ctx, rig->g), 0);
	assert_int_equal(ap_vfio_close(rig->ctx, rig->c), 0);
	ap_ctx_free(rig->ctx);
	munmap(rig->buf, BIG_BUF_PAGES * PG);
	free(md->m);
	free(md);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_model_large),
	};
	const char *s = getenv("APERTURE_SEED"), *n = getenv("APERTURE_STEPS");

	if (argc > 1)
		s = argv[1];
	if (argc > 2)
		n = argv[2];
	if (s && *s)
		g_seed = strtoull(s, NULL, 0);
	if (n && *n) {
		g_steps = (unsigned)strtoul(n, NULL, 0);
		big_steps = 20 * g_steps;
	}
	printf("test_vfio_model: seed 0x%llx, %u steps (override: test_vfio_model SEED [STEPS], "
	       "or APERTURE_SEED / APERTURE_STEPS)\n", (ull)g_seed, g_steps);
	fflush(stdout);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
