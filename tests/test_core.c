/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the core (include/aperture/core.h): context and RAM,
 * instance configuration, names, devices and groups, domain geometry and
 * page sizes, heterogeneous attach, the map/unmap errno contract, DMA into
 * RAM, every fault kind with its record, the event queue, bypass, domain
 * lifetime and the page-table window; and what layers above build on:
 * frontend state, RAM removal, the DMA write observer, ap_replace().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <aperture/core.h>

#define SZ_4K 0x1000ull
#define SZ_64K 0x10000ull
#define SZ_2M 0x200000ull
#define SZ_1G 0x40000000ull
#define SZ_4G 0x100000000ull
#define PG_4K_2M_1G (SZ_4K | SZ_2M | SZ_1G)
#define RW (AP_PROT_READ | AP_PROT_WRITE)

/* ------------------------------------------------------------ helpers */

static struct ap_iommu *mk_iommu(struct ap_ctx *ctx, const char *name, unsigned ias,
				 unsigned oas, uint64_t pgsizes)
{
	struct ap_iommu_config c;
	struct ap_iommu *iommu = NULL;

	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	c.ias = ias;
	c.oas = oas;
	c.pgsize_bitmap = pgsizes;
	assert_int_equal(ap_iommu_new(ctx, name, &c, &iommu), 0);
	assert_non_null(iommu);
	return iommu;
}

static struct ap_iommu *mk_iommu_cfg(struct ap_ctx *ctx, const char *name,
				     const struct ap_iommu_config *c)
{
	struct ap_iommu *iommu = NULL;

	assert_int_equal(ap_iommu_new(ctx, name, c, &iommu), 0);
	return iommu;
}

static struct ap_device *mk_dev(struct ap_ctx *ctx, const char *name, struct ap_iommu *iommu,
				uint32_t sid, int group)
{
	struct ap_device *dev = NULL;

	assert_int_equal(ap_device_new(ctx, name, iommu, sid, group, &dev), 0);
	assert_non_null(dev);
	return dev;
}

static struct ap_domain *mk_dom(struct ap_ctx *ctx, const char *name, struct ap_iommu *iommu,
				enum ap_domain_type type)
{
	struct ap_domain *dom = NULL;

	assert_int_equal(ap_domain_new(ctx, name, iommu, type, &dom), 0);
	assert_non_null(dom);
	return dom;
}

static void *mk_ram(struct ap_ctx *ctx, uint64_t pa, uint64_t size)
{
	void *host = NULL;

	assert_int_equal(ap_ram_alloc(ctx, pa, size, &host), 0);
	assert_non_null(host);
	return host;
}

static void check_geo(const struct ap_domain *dom, uint64_t start, uint64_t end, bool force)
{
	struct ap_geometry g;

	ap_domain_geometry(dom, &g);
	assert_int_equal(g.start, start);
	assert_int_equal(g.end, end);
	assert_int_equal(g.force, force);
}

#define MAX_LEAVES 64
struct leaves {
	unsigned n;
	struct ap_pt_leaf l[MAX_LEAVES];
};

static int collect(void *arg, const struct ap_pt_leaf *leaf)
{
	struct leaves *ls = arg;

	if (ls->n < MAX_LEAVES)
		ls->l[ls->n] = *leaf;
	ls->n++;
	return 0;
}

static void get_leaves(const struct ap_domain *dom, struct leaves *ls)
{
	memset(ls, 0, sizeof(*ls));
	ap_pt_for_each_leaf(ap_domain_pt(dom), 0, UINT64_MAX, collect, ls);
	assert_int_equal(ls->n, ap_pt_leaf_count(ap_domain_pt(dom)));
}

static void check_fault(const struct ap_fault *f, enum ap_fault_kind kind,
			const struct ap_device *dev, uint64_t iova, unsigned access, int level,
			uint64_t pa)
{
	assert_int_equal(f->kind, kind);
	assert_int_equal(f->sid, ap_device_sid(dev));
	assert_int_equal(f->iova, iova);
	assert_int_equal(f->access, access);
	assert_ptr_equal(f->iommu, ap_device_iommu(dev));
	assert_int_equal(f->level, level);
	assert_int_equal(f->pa, pa);
}

/* The record just returned must be the oldest pending one. */
static void pop_same(struct ap_iommu *iommu, const struct ap_fault *f)
{
	struct ap_fault q;

	assert_true(ap_iommu_fault_pop(iommu, &q));
	assert_int_equal(q.kind, f->kind);
	assert_int_equal(q.sid, f->sid);
	assert_int_equal(q.iova, f->iova);
	assert_int_equal(q.access, f->access);
	assert_ptr_equal(q.iommu, f->iommu);
	assert_int_equal(q.level, f->level);
	assert_int_equal(q.pa, f->pa);
}

/* ------------------------------------------------------------ context, RAM */

static void test_ram(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	static uint8_t ext[3 * SZ_4K];
	uint64_t allocs0, bytes0, allocs, bytes;
	uint8_t *a, *p;
	size_t i;

	(void)state;
	assert_non_null(ctx);
	assert_string_equal(ap_ctx_error(ctx), "");
	ap_ctx_mem_stats(ctx, &allocs0, &bytes0);
	a = mk_ram(ctx, 0x100000, 0x10000);
	for (i = 0; i < 0x10000; i++)
		assert_int_equal(a[i], 0);
	ap_ctx_mem_stats(ctx, &allocs, &bytes);
	assert_true(allocs > allocs0);
	assert_true(bytes >= bytes0 + 0x10000);

	/* overlaps, at either edge, inside and around */
	assert_int_equal(ap_ram_add(ctx, 0x100000, 0x1000, ext), -EADDRINUSE);
	assert_true(strlen(ap_ctx_error(ctx)) > 0);
	assert_int_equal(ap_ram_add(ctx, 0xff000, 0x2000, ext), -EADDRINUSE);
	assert_int_equal(ap_ram_add(ctx, 0x10f000, 0x2000, ext), -EADDRINUSE);
	assert_int_equal(ap_ram_add(ctx, 0x0, 0x1000000, ext), -EADDRINUSE);
	assert_int_equal(ap_ram_alloc(ctx, 0x108000, 0x1000, NULL), -EADDRINUSE);
	assert_int_equal(ap_ram_alloc(ctx, 0xff000, 0x2000, NULL), -EADDRINUSE);
	/* adjacent on both sides is fine */
	assert_int_equal(ap_ram_add(ctx, 0xff000, 0x1000, ext), 0);
	assert_int_equal(ap_ram_add(ctx, 0x110000, 0x2000, ext + SZ_4K), 0);
	/* invalid */
	assert_int_equal(ap_ram_add(ctx, 0x200000, 0, ext), -EINVAL);
	assert_int_equal(ap_ram_add(ctx, 0x200000, 0x1000, NULL), -EINVAL);
	assert_int_equal(ap_ram_add(ctx, UINT64_MAX - 0xfff, 0x2000, ext), -EINVAL);
	assert_int_equal(ap_ram_alloc(ctx, 0x200000, 0, NULL), -EINVAL);
	assert_int_equal(ap_ram_alloc(ctx, UINT64_MAX - 0xfff, 0x2000, NULL), -EINVAL);
	/* the very top of the address space is a valid place */
	assert_int_equal(ap_ram_add(ctx, UINT64_MAX - 0xfff, 0x1000, ext + 2 * SZ_4K), 0);

	/* ap_ram_ptr: the whole range in one region */
	assert_ptr_equal(ap_ram_ptr(ctx, 0x100000, 1), a);
	assert_ptr_equal(ap_ram_ptr(ctx, 0x10ffff, 1), a + 0xffff);
	assert_ptr_equal(ap_ram_ptr(ctx, 0x100000, 0x10000), a);
	assert_null(ap_ram_ptr(ctx, 0x10ffff, 2)); /* crosses into the next region */
	assert_null(ap_ram_ptr(ctx, 0x100000, 0x10001));
	assert_ptr_equal(ap_ram_ptr(ctx, 0xff800, 0x10), ext + 0x800);
	assert_null(ap_ram_ptr(ctx, 0xff800, 0x1000)); /* two adjacent regions */
	assert_null(ap_ram_ptr(ctx, 0x200000, 1));     /* hole */
	assert_null(ap_ram_ptr(ctx, 0xfe000, 1));
	assert_ptr_equal(ap_ram_ptr(ctx, 0x111000, 0x1000), ext + 2 * SZ_4K);
	assert_ptr_equal(ap_ram_ptr(ctx, UINT64_MAX, 1), ext + 2 * SZ_4K + 0xfff);
	p = ap_ram_ptr(ctx, 0x100010, 4);
	assert_non_null(p);
	p[0] = 0x5a;
	assert_int_equal(a[0x10], 0x5a);
	ap_ctx_free(ctx);
	ap_ctx_free(NULL);
}

/* ------------------------------------------------------------ instances */

static void test_iommu_config(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c, bad;
	const struct ap_iommu_config *got;
	struct ap_iommu *iommu = NULL, *out;
	static const unsigned good_oas[] = { 32, 36, 40, 42, 44, 48 };
	char name[16];
	size_t i;

	(void)state;
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(c.kind, AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(c.ias, 48);
	assert_int_equal(c.oas, 48);
	assert_int_equal(c.pgsize_bitmap, PG_4K_2M_1G);
	assert_int_equal(c.smmuv3.stage, 1);
	assert_int_equal(c.unmatched, AP_UNMATCHED_ABORT);
	assert_true(c.force_aperture);
	assert_int_equal(c.evtq_size, 128);
	assert_int_equal(c.host_page_size, 4096);
	assert_int_equal(ap_iommu_kind_from_name("arm-smmu-v3"), AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(ap_iommu_kind_from_name("intel-vtd-nope"), 0);
	assert_int_equal(ap_iommu_kind_from_name(NULL), 0);
	assert_string_equal(ap_iommu_kind_name(AP_IOMMU_ARM_SMMU_V3), "arm-smmu-v3");
	assert_string_equal(ap_iommu_kind_name((enum ap_iommu_kind)99), "?");

#define BAD(field, value)                                                         \
	do {                                                                      \
		bad = c;                                                          \
		bad.field = value;                                                \
		out = (struct ap_iommu *)0x1;                                     \
		assert_int_equal(ap_iommu_new(ctx, "bad", &bad, &out), -EINVAL);  \
		assert_ptr_equal(out, (struct ap_iommu *)0x1);                    \
		assert_true(strlen(ap_ctx_error(ctx)) > 0);                       \
	} while (0)
	BAD(kind, (enum ap_iommu_kind)0);
	BAD(kind, (enum ap_iommu_kind)7);
	BAD(ias, 0);
	BAD(ias, 31);
	BAD(ias, 53);
	BAD(ias, 64);
	BAD(oas, 0);
	BAD(oas, 33);
	BAD(oas, 39);
	BAD(oas, 56);
	BAD(smmuv3.stage, 0);
	BAD(smmuv3.stage, 3);
	BAD(pgsize_bitmap, 0);
	BAD(pgsize_bitmap, 1ull << 13);             /* 8K: no such size */
	BAD(pgsize_bitmap, SZ_4K | (1ull << 20));   /* 1M */
	BAD(pgsize_bitmap, SZ_2M);                  /* no granule */
	BAD(pgsize_bitmap, SZ_2M | SZ_1G);
	BAD(unmatched, (enum ap_unmatched)2);
	BAD(evtq_size, 0);
	BAD(evtq_size, 65537);
	BAD(host_page_size, 0);
	BAD(host_page_size, 2048);
	BAD(host_page_size, 6000);
#undef BAD
	assert_int_equal(ap_iommu_new(ctx, "nocfg", NULL, &out), -EINVAL);
	assert_null(ap_iommu_next(ctx, NULL)); /* nothing was created */

	/* the edges that are valid */
	for (i = 0; i < sizeof(good_oas) / sizeof(good_oas[0]); i++) {
		bad = c;
		bad.oas = good_oas[i];
		snprintf(name, sizeof(name), "oas%u", good_oas[i]);
		assert_int_equal(ap_iommu_new(ctx, name, &bad, NULL), 0);
	}
	bad = c;
	bad.ias = 32;
	bad.evtq_size = 1;
	assert_int_equal(ap_iommu_new(ctx, "ias32", &bad, NULL), 0);
	bad.ias = 48;
	bad.evtq_size = 65536;
	bad.pgsize_bitmap = SZ_4K | (1ull << 14) | (1ull << 25) | SZ_64K | (1ull << 29) | SZ_2M |
			    SZ_1G;
	bad.unmatched = AP_UNMATCHED_BYPASS;
	bad.force_aperture = false;
	bad.host_page_size = SZ_64K;
	assert_int_equal(ap_iommu_new(ctx, "all", &bad, &iommu), 0);
	got = ap_iommu_get_config(iommu);
	assert_memory_equal(got, &bad, sizeof(bad));
	assert_string_equal(ap_iommu_name(iommu), "all");
	assert_ptr_equal(ap_iommu_find(ctx, "all"), iommu);
	assert_null(ap_iommu_find(ctx, "none"));
	assert_null(ap_iommu_find(ctx, NULL));
	/* creation order */
	out = ap_iommu_next(ctx, NULL);
	assert_string_equal(ap_iommu_name(out), "oas32");
	for (i = 1; i < 6; i++)
		out = ap_iommu_next(ctx, out);
	assert_string_equal(ap_iommu_name(out), "oas48");
	out = ap_iommu_next(ctx, out);
	assert_string_equal(ap_iommu_name(out), "ias32");
	out = ap_iommu_next(ctx, out);
	assert_ptr_equal(out, iommu);
	assert_null(ap_iommu_next(ctx, out));
	/* the caller's struct is copied, not kept */
	bad.ias = 40;
	assert_int_equal(ap_iommu_get_config(iommu)->ias, 48);
	ap_ctx_free(ctx);
}

static void test_names(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *iommu;
	char n63[64], n64[65];
	static const char *const bad[] = { "", "a b", "a#b", "a=b", "a,b", "a\tb",
					   "a\nb", "\x7f", "caf\xc3\xa9" };
	size_t i;

	(void)state;
	memset(n63, 'x', 63);
	n63[63] = 0;
	memset(n64, 'y', 64);
	n64[64] = 0;
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ap_iommu_new(ctx, bad[i], &c, NULL), -EINVAL);
	assert_int_equal(ap_iommu_new(ctx, NULL, &c, NULL), -EINVAL);
	assert_int_equal(ap_iommu_new(ctx, n64, &c, NULL), -EINVAL);
	assert_int_equal(ap_iommu_new(ctx, n63, &c, &iommu), 0);
	assert_ptr_equal(ap_iommu_find(ctx, n63), iommu);
	assert_int_equal(ap_iommu_new(ctx, "smmu-0_a.b:c/d", &c, NULL), 0);
	assert_int_equal(ap_iommu_new(ctx, n63, &c, NULL), -EEXIST);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ap_device_new(ctx, bad[i], iommu, 1, AP_GROUP_OWN, NULL), -EINVAL);
		assert_int_equal(ap_domain_new(ctx, bad[i], iommu, AP_DOMAIN_BLOCKED, NULL),
				 -EINVAL);
	}
	assert_int_equal(ap_device_new(ctx, n64, iommu, 1, AP_GROUP_OWN, NULL), -EINVAL);
	assert_int_equal(ap_domain_new(ctx, n64, iommu, AP_DOMAIN_BLOCKED, NULL), -EINVAL);
	assert_null(ap_device_next(ctx, NULL));
	assert_null(ap_domain_next(ctx, NULL));
	/* names are unique per kind; kinds have their own namespaces */
	mk_dev(ctx, n63, iommu, 1, AP_GROUP_OWN);
	assert_int_equal(ap_device_new(ctx, n63, iommu, 2, AP_GROUP_OWN, NULL), -EEXIST);
	mk_dom(ctx, n63, iommu, AP_DOMAIN_BLOCKED);
	assert_int_equal(ap_domain_new(ctx, n63, iommu, AP_DOMAIN_IDENTITY, NULL), -EEXIST);
	assert_string_equal(ap_device_name(ap_device_find(ctx, n63)), n63);
	assert_string_equal(ap_domain_name(ap_domain_find(ctx, n63)), n63);
	assert_null(ap_device_find(ctx, "x"));
	assert_null(ap_domain_find(ctx, NULL));
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ devices */

static void test_devices_groups(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new(), *other = ap_ctx_new();
	struct ap_iommu *s1, *s2, *foreign;
	struct ap_device *a, *b, *c, *d, *e, *out;
	struct ap_domain *dom;

	(void)state;
	s1 = mk_iommu(ctx, "s1", 48, 48, PG_4K_2M_1G);
	s2 = mk_iommu(ctx, "s2", 48, 48, PG_4K_2M_1G);
	foreign = mk_iommu(other, "s1", 48, 48, PG_4K_2M_1G);

	a = mk_dev(ctx, "a", s1, 0x10, AP_GROUP_OWN);
	assert_int_equal(ap_device_group_id(a), 0);
	assert_int_equal(ap_device_sid(a), 0x10);
	assert_ptr_equal(ap_device_iommu(a), s1);
	assert_null(ap_device_domain(a));
	/* sid clash on the same instance; the same sid elsewhere is fine */
	out = (struct ap_device *)0x1;
	assert_int_equal(ap_device_new(ctx, "a2", s1, 0x10, AP_GROUP_OWN, &out), -EEXIST);
	assert_ptr_equal(out, (struct ap_device *)0x1);
	b = mk_dev(ctx, "b", s2, 0x10, 2);
	assert_int_equal(ap_device_group_id(b), 2);
	c = mk_dev(ctx, "c", s1, 0x11, AP_GROUP_OWN); /* lowest unused: 1 */
	assert_int_equal(ap_device_group_id(c), 1);
	d = mk_dev(ctx, "d", s1, 0x12, AP_GROUP_OWN); /* 0, 1, 2 are taken */
	assert_int_equal(ap_device_group_id(d), 3);
	/* a group's devices sit behind one instance */
	assert_int_equal(ap_device_new(ctx, "x", s2, 0x20, 0, NULL), -EINVAL);
	assert_int_equal(ap_device_new(ctx, "x", s1, 0x20, 2, NULL), -EINVAL);
	assert_int_equal(ap_device_new(ctx, "x", s1, 0x20, -2, NULL), -EINVAL);
	assert_int_equal(ap_device_new(ctx, "x", NULL, 0x20, 0, NULL), -EINVAL);
	assert_int_equal(ap_device_new(ctx, "x", foreign, 0x20, AP_GROUP_OWN, NULL), -EINVAL);
	assert_null(ap_device_find(ctx, "x"));
	/* joining an existing group */
	e = mk_dev(ctx, "e", s1, 0x13, 0);
	assert_int_equal(ap_device_group_id(e), 0);

	/* attach moves the whole group */
	dom = mk_dom(ctx, "dom", s1, AP_DOMAIN_PAGING);
	assert_int_equal(ap_attach(dom, e), 0);
	assert_ptr_equal(ap_device_domain(a), dom);
	assert_ptr_equal(ap_device_domain(e), dom);
	assert_null(ap_device_domain(c));
	/* no device may join a group while it is attached (core.h: -EBUSY) */
	assert_int_equal(ap_device_new(ctx, "late", s1, 0x14, 0, NULL), -EBUSY);
	assert_null(ap_device_find(ctx, "late"));
	assert_int_equal(ap_detach(a), 0);
	assert_null(ap_device_domain(e));
	assert_int_equal(ap_detach(a), -EINVAL);
	mk_dev(ctx, "late", s1, 0x14, 0);
	/* iteration in creation order */
	out = ap_device_next(ctx, NULL);
	assert_ptr_equal(out, a);
	out = ap_device_next(ctx, out);
	assert_ptr_equal(out, b);
	out = ap_device_next(ctx, out);
	assert_ptr_equal(out, c);
	ap_ctx_free(ctx);
	ap_ctx_free(other);
}

/* ------------------------------------------------------------ domains */

static void test_domain_geometry(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new(), *other = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *s48, *s40, *s32, *open, *multi, *multi64, *foreign;
	struct ap_domain *dom, *out;

	(void)state;
	s48 = mk_iommu(ctx, "s48", 48, 48, PG_4K_2M_1G);
	s40 = mk_iommu(ctx, "s40", 40, 40, SZ_4K | SZ_2M);
	s32 = mk_iommu(ctx, "s32", 32, 36, PG_4K_2M_1G);
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	c.force_aperture = false;
	c.ias = 44;
	open = mk_iommu_cfg(ctx, "open", &c);
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	c.pgsize_bitmap = PG_4K_2M_1G | SZ_64K | (1ull << 29) | (1ull << 14) | (1ull << 25);
	multi = mk_iommu_cfg(ctx, "multi", &c);
	c.host_page_size = SZ_64K;
	multi64 = mk_iommu_cfg(ctx, "multi64", &c);
	foreign = mk_iommu(other, "f", 48, 48, PG_4K_2M_1G);

	dom = mk_dom(ctx, "d48", s48, AP_DOMAIN_PAGING);
	check_geo(dom, 0, (1ull << 48) - 1, true);
	assert_int_equal(ap_domain_pgsizes(dom), PG_4K_2M_1G);
	assert_int_equal(ap_domain_oas(dom), 48);
	assert_int_equal(ap_domain_type(dom), AP_DOMAIN_PAGING);
	assert_ptr_equal(ap_domain_owner(dom), s48);
	assert_non_null(ap_domain_pt(dom));
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(dom)), 0);

	dom = mk_dom(ctx, "d40", s40, AP_DOMAIN_PAGING);
	check_geo(dom, 0, (1ull << 40) - 1, true);
	assert_int_equal(ap_domain_pgsizes(dom), SZ_4K | SZ_2M);
	assert_int_equal(ap_domain_oas(dom), 40);
	dom = mk_dom(ctx, "d32", s32, AP_DOMAIN_PAGING);
	check_geo(dom, 0, 0xffffffffull, true);
	assert_int_equal(ap_domain_oas(dom), 36);
	dom = mk_dom(ctx, "dopen", open, AP_DOMAIN_PAGING);
	check_geo(dom, 0, (1ull << 44) - 1, false);
	/* page sizes are restricted to one granule, the host page size first */
	dom = mk_dom(ctx, "dmulti", multi, AP_DOMAIN_PAGING);
	assert_int_equal(ap_domain_pgsizes(dom), PG_4K_2M_1G);
	dom = mk_dom(ctx, "dmulti64", multi64, AP_DOMAIN_PAGING);
	assert_int_equal(ap_domain_pgsizes(dom), SZ_64K | (1ull << 29));

	dom = mk_dom(ctx, "ident", s32, AP_DOMAIN_IDENTITY);
	assert_int_equal(ap_domain_type(dom), AP_DOMAIN_IDENTITY);
	assert_null(ap_domain_pt(dom));
	assert_int_equal(ap_map(dom, 0, 0, SZ_4K, RW), -EINVAL);
	dom = mk_dom(ctx, "blk", s32, AP_DOMAIN_BLOCKED);
	assert_int_equal(ap_domain_type(dom), AP_DOMAIN_BLOCKED);
	assert_null(ap_domain_pt(dom));
	assert_int_equal(ap_map(dom, 0, 0, SZ_4K, RW), -EINVAL);

	out = (struct ap_domain *)0x1;
	assert_int_equal(ap_domain_new(ctx, "x", s48, (enum ap_domain_type)3, &out), -EINVAL);
	assert_int_equal(ap_domain_new(ctx, "x", NULL, AP_DOMAIN_PAGING, &out), -EINVAL);
	assert_int_equal(ap_domain_new(ctx, "x", foreign, AP_DOMAIN_PAGING, &out), -EINVAL);
	assert_ptr_equal(out, (struct ap_domain *)0x1);
	assert_null(ap_domain_find(ctx, "x"));
	/* iteration in creation order */
	out = ap_domain_next(ctx, NULL);
	assert_string_equal(ap_domain_name(out), "d48");
	out = ap_domain_next(ctx, out);
	assert_string_equal(ap_domain_name(out), "d40");
	ap_ctx_free(ctx);
	ap_ctx_free(other);
}

/* 48-bit domain, 32-bit newcomer: the aperture shrinks, or the attach is refused. */
static void test_hetero_attach(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *big, *small;
	struct ap_device *db, *ds, *ds2;
	struct ap_domain *dom;
	struct ap_translation tb, ts;
	uint8_t buf[16], back[16];
	uint64_t pa, n;
	uint8_t *ram;

	(void)state;
	ram = mk_ram(ctx, 0x80000000, 0x400000);
	big = mk_iommu(ctx, "big", 48, 48, PG_4K_2M_1G);
	small = mk_iommu(ctx, "small", 32, 48, PG_4K_2M_1G);
	db = mk_dev(ctx, "db", big, 1, AP_GROUP_OWN);
	ds = mk_dev(ctx, "ds", small, 1, AP_GROUP_OWN);
	ds2 = mk_dev(ctx, "ds2", small, 2, AP_GROUP_OWN);
	dom = mk_dom(ctx, "dom", big, AP_DOMAIN_PAGING);
	assert_int_equal(ap_attach(dom, db), 0);
	assert_int_equal(ap_attach(dom, db), 0); /* again: nothing to do */
	check_geo(dom, 0, (1ull << 48) - 1, true);

	/* a mapping at 4 GiB would be stranded: refused, nothing changes */
	assert_int_equal(ap_map(dom, SZ_4G, 0x80000000, SZ_4K, RW), 0);
	assert_int_equal(ap_attach(dom, ds), -EADDRINUSE);
	assert_true(strlen(ap_ctx_error(ctx)) > 0);
	check_geo(dom, 0, (1ull << 48) - 1, true);
	assert_int_equal(ap_domain_pgsizes(dom), PG_4K_2M_1G);
	assert_null(ap_device_domain(ds));
	assert_ptr_equal(ap_device_domain(db), dom);
	assert_int_equal(ap_translate(ds, 0x1000, AP_ACCESS_READ, NULL, NULL), -EFAULT);
	assert_true(ap_iommu_fault_pop(small, NULL)); /* bad stream: still unattached */
	/* a mapping just below 4 GiB is fine */
	assert_int_equal(ap_unmap(dom, SZ_4G, SZ_4K, &n), 0);
	assert_int_equal(n, SZ_4K);
	assert_int_equal(ap_map(dom, SZ_4G - SZ_4K, 0x80001000, SZ_4K, RW), 0);
	assert_int_equal(ap_map(dom, 0x10000, 0x80000000, SZ_4K, RW), 0);
	assert_int_equal(ap_attach(dom, ds), 0);
	check_geo(dom, 0, 0xffffffffull, true);
	assert_int_equal(ap_domain_pgsizes(dom), PG_4K_2M_1G);
	assert_ptr_equal(ap_device_domain(ds), dom);
	/* the aperture holds for everyone: no new mapping above it */
	assert_int_equal(ap_map(dom, SZ_4G, 0x80000000, SZ_4K, RW), -ERANGE);
	assert_int_equal(ap_map(dom, SZ_4G - SZ_4K, 0x80000000, 2 * SZ_4K, RW), -ERANGE);
	/* both instances walk the same tables */
	assert_int_equal(ap_translate(db, 0x10010, AP_ACCESS_READ, &tb, NULL), 0);
	assert_int_equal(ap_translate(ds, 0x10010, AP_ACCESS_READ, &ts, NULL), 0);
	assert_int_equal(tb.pa, 0x80000010);
	assert_int_equal(ts.pa, 0x80000010);
	assert_int_equal(ap_translate(ds, SZ_4G - 1, AP_ACCESS_READ, &ts, NULL), 0);
	assert_int_equal(ts.pa, 0x80001fff);
	/* mappings made after the attach are seen through both */
	assert_int_equal(ap_map(dom, 0x40000000, 0x80200000, SZ_2M, RW), 0);
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(ap_dma_write(ds, 0x40000100, buf, sizeof(buf), NULL), 0);
	assert_int_equal(ap_dma_read(db, 0x40000100, back, sizeof(back), NULL), 0);
	assert_memory_equal(back, buf, sizeof(buf));
	assert_memory_equal(ram + 0x200100, buf, sizeof(buf));
	/* the big instance now faults above 4 GiB on the aperture */
	{
		struct ap_fault f;

		assert_int_equal(ap_translate(db, SZ_4G, AP_ACCESS_READ, NULL, &f), -EFAULT);
		check_fault(&f, AP_FAULT_ADDRESS_SIZE, db, SZ_4G, AP_ACCESS_READ, -1, 0);
		pop_same(big, &f);
	}
	/* a second group through the same instance */
	assert_int_equal(ap_attach(dom, ds2), 0);
	/* detach never widens */
	assert_int_equal(ap_detach(ds), 0);
	assert_int_equal(ap_detach(ds2), 0);
	check_geo(dom, 0, 0xffffffffull, true);
	assert_int_equal(ap_map(dom, SZ_4G, 0x80000000, SZ_4K, RW), -ERANGE);
	assert_int_equal(ap_detach(db), 0);
	check_geo(dom, 0, 0xffffffffull, true);
	assert_true(ap_domain_iova_to_phys(dom, 0x10000, &pa));
	assert_int_equal(pa, 0x80000000);
	assert_false(ap_domain_iova_to_phys(dom, 0x11000, &pa));
	ap_ctx_free(ctx);
}

/* Attach of a 32-bit domain to a 48-bit newcomer: the aperture stays 32-bit. */
static void test_hetero_small_owner(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *big, *small;
	struct ap_device *db;
	struct ap_domain *dom;
	struct ap_fault f;
	struct ap_translation t;

	(void)state;
	mk_ram(ctx, 0x80000000, 0x200000);
	big = mk_iommu(ctx, "big", 48, 48, PG_4K_2M_1G);
	small = mk_iommu(ctx, "small", 32, 40, PG_4K_2M_1G);
	db = mk_dev(ctx, "db", big, 7, AP_GROUP_OWN);
	dom = mk_dom(ctx, "dom", small, AP_DOMAIN_PAGING);
	assert_int_equal(ap_map(dom, 0xc0000000, 0x80000000, SZ_1G, RW), 0); /* one 1G block */
	assert_int_equal(ap_attach(dom, db), 0);
	check_geo(dom, 0, 0xffffffffull, true);
	assert_int_equal(ap_domain_oas(dom), 40);
	assert_int_equal(ap_translate(db, 0xc0001234, AP_ACCESS_WRITE, &t, NULL), 0);
	assert_int_equal(t.pa, 0x80001234);
	assert_int_equal(t.size, SZ_1G - 0x1234);
	assert_int_equal(ap_translate(db, SZ_4G + 0x1000, AP_ACCESS_READ, NULL, &f), -EFAULT);
	check_fault(&f, AP_FAULT_ADDRESS_SIZE, db, SZ_4G + 0x1000, AP_ACCESS_READ, -1, 0);
	ap_ctx_free(ctx);
}

static void test_hetero_pgsizes(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *big, *no1g, *only4k, *g64k, *g16k, *oas32, *s2;
	struct ap_device *db, *dn, *d4, *d64, *d16, *do32, *ds2;
	struct ap_domain *dom;
	struct ap_geometry g0, g1;
	struct leaves ls;
	uint64_t n;

	(void)state;
	big = mk_iommu(ctx, "big", 48, 48, PG_4K_2M_1G);
	no1g = mk_iommu(ctx, "no1g", 48, 48, SZ_4K | SZ_2M);
	only4k = mk_iommu(ctx, "only4k", 48, 48, SZ_4K);
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	c.pgsize_bitmap = SZ_64K | (1ull << 29);
	c.host_page_size = SZ_64K;
	g64k = mk_iommu_cfg(ctx, "g64k", &c);
	c.pgsize_bitmap = (1ull << 14) | (1ull << 25);
	c.host_page_size = 1ull << 14;
	g16k = mk_iommu_cfg(ctx, "g16k", &c);
	oas32 = mk_iommu(ctx, "oas32", 48, 32, PG_4K_2M_1G);
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	c.smmuv3.stage = 2;
	s2 = mk_iommu_cfg(ctx, "s2", &c);
	db = mk_dev(ctx, "db", big, 1, AP_GROUP_OWN);
	dn = mk_dev(ctx, "dn", no1g, 1, AP_GROUP_OWN);
	d4 = mk_dev(ctx, "d4", only4k, 1, AP_GROUP_OWN);
	d64 = mk_dev(ctx, "d64", g64k, 1, AP_GROUP_OWN);
	d16 = mk_dev(ctx, "d16", g16k, 1, AP_GROUP_OWN);
	do32 = mk_dev(ctx, "do32", oas32, 1, AP_GROUP_OWN);
	ds2 = mk_dev(ctx, "ds2", s2, 1, AP_GROUP_OWN);
	dom = mk_dom(ctx, "dom", big, AP_DOMAIN_PAGING);
	assert_int_equal(ap_attach(dom, db), 0);

	/* granule, format and stage mismatches: -EINVAL, nothing changes */
	ap_domain_geometry(dom, &g0);
	assert_int_equal(ap_attach(dom, d64), -EINVAL);
	assert_int_equal(ap_attach(dom, d16), -EINVAL);
	assert_int_equal(ap_attach(dom, ds2), -EINVAL);
	assert_null(ap_device_domain(d64));
	assert_null(ap_device_domain(d16));
	assert_null(ap_device_domain(ds2));
	assert_int_equal(ap_domain_pgsizes(dom), PG_4K_2M_1G);

	/* a 1G mapping and a newcomer without 1G: -EINVAL */
	assert_int_equal(ap_map(dom, SZ_1G, SZ_4G, SZ_1G, RW), 0);
	get_leaves(dom, &ls);
	assert_int_equal(ls.n, 1);
	assert_int_equal(ls.l[0].size, SZ_1G);
	assert_int_equal(ls.l[0].level, 1);
	assert_int_equal(ap_attach(dom, dn), -EINVAL);
	assert_null(ap_device_domain(dn));
	assert_int_equal(ap_domain_pgsizes(dom), PG_4K_2M_1G);
	ap_domain_geometry(dom, &g1);
	assert_memory_equal(&g0, &g1, sizeof(g0));
	/* a PA beyond the newcomer's OAS: -EINVAL */
	assert_int_equal(ap_attach(dom, do32), -EINVAL);
	assert_int_equal(ap_domain_oas(dom), 48);
	assert_null(ap_device_domain(do32));
	assert_int_equal(ap_unmap(dom, SZ_1G, SZ_1G, &n), 0);
	assert_int_equal(n, SZ_1G);
	assert_int_equal(ap_map(dom, 0x200000, 0xfffff000, SZ_4K, RW), 0);
	assert_int_equal(ap_attach(dom, do32), 0);
	assert_int_equal(ap_domain_oas(dom), 32);
	assert_int_equal(ap_map(dom, 0x300000, SZ_4G, SZ_4K, RW), -ERANGE);
	assert_int_equal(ap_map(dom, 0x300000, SZ_4G - SZ_4K, 2 * SZ_4K, RW), -ERANGE);

	/* the common subset: 4K|2M, then 4K */
	assert_int_equal(ap_attach(dom, dn), 0);
	assert_int_equal(ap_domain_pgsizes(dom), SZ_4K | SZ_2M);
	assert_int_equal(ap_map(dom, SZ_1G, SZ_1G, SZ_1G, RW), 0); /* 512 x 2M now */
	assert_int_equal(ap_pt_sizes_in_use(ap_domain_pt(dom)), SZ_4K | SZ_2M);
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(dom)), 513);
	assert_int_equal(ap_attach(dom, d4), -EINVAL); /* 2M in use */
	assert_int_equal(ap_domain_pgsizes(dom), SZ_4K | SZ_2M);
	assert_int_equal(ap_unmap(dom, SZ_1G, SZ_1G, &n), 0);
	assert_int_equal(n, SZ_1G);
	assert_int_equal(ap_attach(dom, d4), 0);
	assert_int_equal(ap_domain_pgsizes(dom), SZ_4K);
	assert_int_equal(ap_map(dom, SZ_2M * 8, SZ_2M * 8, SZ_2M, RW), 0);
	assert_int_equal(ap_pt_sizes_in_use(ap_domain_pt(dom)), SZ_4K);
	/* detach everything: page sizes and OAS stay narrowed */
	assert_int_equal(ap_detach(d4), 0);
	assert_int_equal(ap_detach(dn), 0);
	assert_int_equal(ap_detach(do32), 0);
	assert_int_equal(ap_detach(db), 0);
	assert_int_equal(ap_domain_pgsizes(dom), SZ_4K);
	assert_int_equal(ap_domain_oas(dom), 32);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ map/unmap */

static void test_map_unmap(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *s;
	struct ap_domain *dom, *blk;
	struct leaves ls;
	uint64_t n, pa;

	(void)state;
	s = mk_iommu(ctx, "s", 40, 40, PG_4K_2M_1G);
	dom = mk_dom(ctx, "dom", s, AP_DOMAIN_PAGING);
	blk = mk_dom(ctx, "blk", s, AP_DOMAIN_BLOCKED);

	/* EINVAL: alignment, prot, not paging */
	assert_int_equal(ap_map(dom, 0x1800, 0x1000, SZ_4K, RW), -EINVAL);
	assert_int_equal(ap_map(dom, 0x1000, 0x1800, SZ_4K, RW), -EINVAL);
	assert_int_equal(ap_map(dom, 0x1000, 0x1000, 0x800, RW), -EINVAL);
	assert_int_equal(ap_map(dom, 0x1000, 0x1000, SZ_4K, 0), -EINVAL);
	assert_int_equal(ap_map(dom, 0x1000, 0x1000, SZ_4K, AP_PROT_CACHE | AP_PROT_NOEXEC),
			 -EINVAL);
	assert_int_equal(ap_map(dom, 0x1000, 0x1000, SZ_4K, AP_PROT_PRIV), -EINVAL);
	assert_int_equal(ap_map(dom, 0x1000, 0x1000, SZ_4K, AP_PROT_READ | (1u << 6)), -EINVAL);
	assert_int_equal(ap_map(blk, 0x1000, 0x1000, SZ_4K, RW), -EINVAL);
	assert_int_equal(ap_map(NULL, 0x1000, 0x1000, SZ_4K, RW), -EINVAL);
	/* ERANGE: aperture, wrap, OAS */
	assert_int_equal(ap_map(dom, 1ull << 40, 0, SZ_4K, RW), -ERANGE);
	assert_int_equal(ap_map(dom, (1ull << 40) - SZ_4K, 0, 2 * SZ_4K, RW), -ERANGE);
	assert_int_equal(ap_map(dom, UINT64_MAX - 0xfff, 0, SZ_4K, RW), -ERANGE);
	assert_int_equal(ap_map(dom, 0x1000, (1ull << 40) - SZ_4K, 2 * SZ_4K, RW), -ERANGE);
	assert_int_equal(ap_map(dom, 0x1000, 1ull << 40, SZ_4K, RW), -ERANGE);
	assert_int_equal(ap_map(dom, 0x1000, UINT64_MAX - 0xfff, 2 * SZ_4K, RW), -ERANGE);
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(dom)), 0);
	/* the last page of the aperture and of the output space are fine */
	assert_int_equal(ap_map(dom, (1ull << 40) - SZ_4K, (1ull << 40) - SZ_4K, SZ_4K, RW), 0);
	assert_true(ap_domain_iova_to_phys(dom, (1ull << 40) - 1, &pa));
	assert_int_equal(pa, (1ull << 40) - 1);
	/* size 0 maps nothing */
	assert_int_equal(ap_map(dom, 0x1000, 0x1000, 0, RW), 0);
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(dom)), 1);
	/* PA 0 is a real address */
	assert_int_equal(ap_map(dom, 0x0, 0x0, SZ_4K, AP_PROT_READ), 0);
	assert_true(ap_domain_iova_to_phys(dom, 0x10, &pa));
	assert_int_equal(pa, 0x10);

	/* Linux's example: 0x1ff000 + 0x402000 -> 4K, 2M, 2M, 4K */
	assert_int_equal(ap_map(dom, 0x1ff000, 0x1ff000, 0x402000, RW), 0);
	get_leaves(dom, &ls);
	assert_int_equal(ls.n, 6);
	assert_int_equal(ls.l[1].iova, 0x1ff000);
	assert_int_equal(ls.l[1].size, SZ_4K);
	assert_int_equal(ls.l[2].iova, 0x200000);
	assert_int_equal(ls.l[2].size, SZ_2M);
	assert_int_equal(ls.l[3].iova, 0x400000);
	assert_int_equal(ls.l[3].size, SZ_2M);
	assert_int_equal(ls.l[4].iova, 0x600000);
	assert_int_equal(ls.l[4].size, SZ_4K);
	assert_int_equal(ls.l[4].pa, 0x600000);
	/* different alignment of iova and pa: 4K pages only */
	assert_int_equal(ap_map(dom, 0x10000000, 0x20001000, SZ_2M, RW), 0);
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(dom)), 6 + 512);
	/* a 1G block where both are 1G aligned */
	assert_int_equal(ap_map(dom, SZ_1G, 3 * SZ_1G, SZ_1G + SZ_2M + SZ_4K, RW), 0);
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(dom)), 6 + 512 + 3);
	assert_int_equal(ap_pt_sizes_in_use(ap_domain_pt(dom)), PG_4K_2M_1G);

	/* EEXIST leaves nothing behind, also when only the tail overlaps */
	n = ap_pt_leaf_count(ap_domain_pt(dom));
	assert_int_equal(ap_map(dom, 0x100000, 0x100000, 0x100000 + SZ_4K, RW), -EEXIST);
	assert_int_equal(ap_map(dom, 0x0, 0x0, SZ_4K, RW), -EEXIST);
	assert_int_equal(ap_map(dom, SZ_1G + SZ_2M, 0, SZ_4K, RW), -EEXIST); /* inside a 1G */
	assert_int_equal(ap_map(dom, 0x0, 0x0, SZ_1G, RW), -EEXIST);          /* over small ones */
	assert_int_equal(ap_map(dom, 0x800000, 0x800000, 0x0f800000, RW), 0); /* to the 4K run */
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(dom)), 6 + 512 + 3 + 124);
	assert_int_equal(ap_unmap(dom, 0x800000, 0x0f800000, &n), 0);
	assert_int_equal(n, 0x0f800000);
	n = ap_pt_leaf_count(ap_domain_pt(dom));
	assert_int_equal(ap_map(dom, 0x800000, 0x800000, 0x10000000, RW), -EEXIST);
	/* maps 2M below 1 GiB, then meets the 1G block: the 2M is undone */
	assert_int_equal(ap_map(dom, 0x3fe00000, 0x3fe00000, 2 * SZ_2M, RW), -EEXIST);
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(dom)), n);
	assert_false(ap_domain_iova_to_phys(dom, 0x800000, &pa));
	assert_false(ap_domain_iova_to_phys(dom, 0xfe00000, &pa));
	assert_false(ap_domain_iova_to_phys(dom, 0x3fe00000, &pa));
	assert_true(ap_domain_iova_to_phys(dom, SZ_1G, &pa));
	assert_int_equal(pa, 3 * SZ_1G);
	assert_true(strlen(ap_ctx_error(ctx)) > 0);

	/* unmap: EINVAL contract */
	n = 77;
	assert_int_equal(ap_unmap(dom, 0x800, SZ_4K, &n), -EINVAL);
	assert_int_equal(n, 0);
	n = 77;
	assert_int_equal(ap_unmap(dom, 0x1000, 0x800, &n), -EINVAL);
	assert_int_equal(n, 0);
	n = 77;
	assert_int_equal(ap_unmap(blk, 0x1000, SZ_4K, &n), -EINVAL);
	assert_int_equal(n, 0);
	assert_int_equal(ap_unmap(dom, UINT64_MAX & ~0xfffull, 2 * SZ_4K, &n), -EINVAL);
	assert_int_equal(ap_unmap(NULL, 0, SZ_4K, &n), -EINVAL);
	/* a hole first: 0 */
	assert_int_equal(ap_unmap(dom, 0x1000, SZ_4K, &n), 0);
	assert_int_equal(n, 0);
	/* never split a leaf: the middle or the head of a 2M block */
	assert_int_equal(ap_unmap(dom, 0x201000, SZ_4K, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ap_unmap(dom, 0x200000, SZ_4K, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ap_unmap(dom, SZ_1G, SZ_2M, &n), 0); /* head of the 1G block */
	assert_int_equal(n, 0);
	/* stops before the leaf it would cut: 4K, then 2M, then not the 2M half */
	assert_int_equal(ap_unmap(dom, 0x1ff000, 0x301000, &n), 0);
	assert_int_equal(n, SZ_4K + SZ_2M);
	assert_true(ap_domain_iova_to_phys(dom, 0x400000, &pa));
	assert_false(ap_domain_iova_to_phys(dom, 0x200000, &pa));
	/* in 2M pieces, as Linux: the 2M block, then the table holding the 4K
	 * page at 0x600000 goes whole (its hole at 0x601000 does not stop a
	 * 2M piece), then the empty slot at 0x800000 stops it */
	assert_int_equal(ap_unmap(dom, 0x400000, 0x800000, &n), 0);
	assert_int_equal(n, 2 * SZ_2M);
	assert_false(ap_domain_iova_to_phys(dom, 0x600000, &pa));
	/* a leaf after the hole stays */
	assert_int_equal(ap_map(dom, 0x20000000, 0x20000000, SZ_4K, RW), 0);
	assert_int_equal(ap_map(dom, 0x20002000, 0x20002000, SZ_4K, RW), 0);
	assert_int_equal(ap_unmap(dom, 0x20000000, 3 * SZ_4K, &n), 0);
	assert_int_equal(n, SZ_4K);
	assert_true(ap_domain_iova_to_phys(dom, 0x20002000, &pa));
	assert_int_equal(ap_unmap(dom, 0x20001000, 2 * SZ_4K, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ap_unmap(dom, 0x20002000, SZ_4K, &n), 0);
	assert_int_equal(n, SZ_4K);
	/* superset of several maps: one 2M piece, its table goes whole */
	assert_int_equal(ap_map(dom, 0x30000000, 0x30000000, 3 * SZ_4K, RW), 0);
	assert_int_equal(ap_map(dom, 0x30003000, 0x50000000, SZ_4K, AP_PROT_READ), 0);
	assert_int_equal(ap_unmap(dom, 0x30000000, SZ_2M, &n), 0);
	assert_int_equal(n, SZ_2M);
	/* the example: 4K at 0x0 and at 0x5000, unmap 2M at 0x0 takes
	 * both and reports 2M, as Linux; 4K pieces stop at the first hole */
	assert_int_equal(ap_map(dom, 0x32000000, 0x1000, SZ_4K, RW), 0);
	assert_int_equal(ap_map(dom, 0x32005000, 0x2000, SZ_4K, RW), 0);
	assert_int_equal(ap_unmap(dom, 0x32000000, 0x1ff000, &n), 0);
	assert_int_equal(n, SZ_4K);
	assert_true(ap_domain_iova_to_phys(dom, 0x32005000, &pa));
	assert_int_equal(ap_map(dom, 0x32000000, 0x1000, SZ_4K, RW), 0);
	assert_int_equal(ap_unmap(dom, 0x32000000, SZ_2M, &n), 0);
	assert_int_equal(n, SZ_2M);
	assert_false(ap_domain_iova_to_phys(dom, 0x32000000, &pa));
	assert_false(ap_domain_iova_to_phys(dom, 0x32005000, &pa));
	/* an unmap the size of a 2M slot that holds a full table of 4K pages */
	assert_int_equal(ap_unmap(dom, 0x10000000, SZ_2M, &n), 0);
	assert_int_equal(n, SZ_2M);
	assert_int_equal(ap_unmap(dom, SZ_1G, SZ_1G + SZ_2M + SZ_4K, &n), 0);
	assert_int_equal(n, SZ_1G + SZ_2M + SZ_4K);
	assert_int_equal(ap_unmap(dom, 0, SZ_4K, NULL), 0);
	assert_int_equal(ap_unmap(dom, 0, 0, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ap_unmap(dom, (1ull << 40) - SZ_4K, SZ_4K, &n), 0);
	assert_int_equal(n, SZ_4K);
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(dom)), 0);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ DMA */

static void test_dma_ram(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *s;
	struct ap_device *dev;
	struct ap_domain *dom;
	uint8_t *r0, *r1, out[3 * 4096 + 64], in[sizeof(out)];
	struct ap_translation t;
	size_t i;

	(void)state;
	r0 = mk_ram(ctx, 0x40000000, 0x100000);
	r1 = mk_ram(ctx, 0x50000000, 0x100000);
	s = mk_iommu(ctx, "s", 48, 44, PG_4K_2M_1G);
	dev = mk_dev(ctx, "dev", s, 0x42, AP_GROUP_OWN);
	dom = mk_dom(ctx, "dom", s, AP_DOMAIN_PAGING);
	assert_int_equal(ap_attach(dom, dev), 0);
	/* iova 0x10000.. -> r0+0x3000, r1+0x7000, r0+0x1000 (scattered) */
	assert_int_equal(ap_map(dom, 0x10000, 0x40003000, SZ_4K, RW), 0);
	assert_int_equal(ap_map(dom, 0x11000, 0x50007000, SZ_4K, RW | AP_PROT_CACHE), 0);
	assert_int_equal(ap_map(dom, 0x12000, 0x40001000, 2 * SZ_4K, AP_PROT_WRITE), 0);

	for (i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(ap_dma_write(dev, 0x10020, out, sizeof(out), NULL), 0);
	assert_memory_equal(ap_ram_ptr(ctx, 0x40003020, 4096 - 0x20), out, 4096 - 0x20);
	assert_memory_equal(ap_ram_ptr(ctx, 0x50007000, 4096), out + 4096 - 0x20, 4096);
	assert_memory_equal(ap_ram_ptr(ctx, 0x40001000, 4096 + 0x20 + 64),
			    out + 2 * 4096 - 0x20, 4096 + 0x20 + 64);
	assert_int_equal(r0[0x3000 + 0x1f], 0);
	assert_int_equal(r1[0x7000 - 1], 0);
	memset(in, 0, sizeof(in));
	/* a 'w'-only mapping is readable: LPAE has no write-only encoding */
	assert_int_equal(ap_dma_read(dev, 0x10020, in, sizeof(in), NULL), 0);
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(ap_translate(dev, 0x12000, AP_ACCESS_READ, &t, NULL), 0);
	assert_int_equal(t.prot & RW, RW);
	assert_false(t.bypass);
	assert_int_equal(t.size, SZ_4K);
	assert_int_equal(ap_translate(dev, 0x11fff, AP_ACCESS_READ, &t, NULL), 0);
	assert_int_equal(t.pa, 0x50007fff);
	assert_int_equal(t.size, 1);
	assert_int_equal(t.prot, RW | AP_PROT_CACHE);
	/* the same bytes through ap_ram_ptr */
	r1[0x7005] = 0xee;
	assert_int_equal(ap_dma_read(dev, 0x11005, in, 1, NULL), 0);
	assert_int_equal(in[0], 0xee);
	/* argument checks */
	assert_int_equal(ap_dma_read(dev, 0x10000, in, 0, NULL), 0);
	assert_int_equal(ap_dma_read(dev, 0x10000, NULL, 0, NULL), 0);
	assert_int_equal(ap_dma_read(dev, 0x10000, NULL, 1, NULL), -EINVAL);
	assert_int_equal(ap_dma_write(dev, 0x10000, NULL, 1, NULL), -EINVAL);
	assert_int_equal(ap_dma_read(dev, UINT64_MAX, in, 2, NULL), -EINVAL);
	assert_int_equal(ap_dma_read(NULL, 0x10000, in, 1, NULL), -EINVAL);
	assert_int_equal(ap_iommu_fault_pending(s), 0);
	assert_int_equal(ap_iommu_fault_count(s, AP_FAULT_NONE), 0);
	/* ap_device_iova_to_phys records nothing */
	{
		uint64_t pa;

		assert_true(ap_device_iova_to_phys(dev, 0x10010, &pa));
		assert_int_equal(pa, 0x40003010);
		assert_false(ap_device_iova_to_phys(dev, 0x20000, &pa));
		assert_int_equal(ap_iommu_fault_pending(s), 0);
	}
	ap_ctx_free(ctx);
}

/*
 * Small DMAs (the fast path's one copy) of every length 1..80 at offsets
 * 0..15 of a page, both ways: exactly the bytes asked for move, none
 * beside them.
 */
static void test_dma_small_lengths(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *s;
	struct ap_device *dev;
	struct ap_domain *dom;
	uint8_t *ram, pat[96], buf[96 + 32];
	size_t len, off, i;

	(void)state;
	ram = mk_ram(ctx, 0x40000000, SZ_4K);
	s = mk_iommu(ctx, "s", 48, 44, PG_4K_2M_1G);
	dev = mk_dev(ctx, "dev", s, 0x42, AP_GROUP_OWN);
	dom = mk_dom(ctx, "dom", s, AP_DOMAIN_PAGING);
	assert_int_equal(ap_attach(dom, dev), 0);
	assert_int_equal(ap_map(dom, 0x10000, 0x40000000, SZ_4K, RW), 0);
	for (i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 13 + 1);
	for (len = 1; len <= 80; len++) {
		for (off = 0; off < 16; off++) {
			memset(ram, 0xa5, 256);
			assert_int_equal(ap_dma_write(dev, 0x10000 + 32 + off, pat, len, NULL), 0);
			assert_memory_equal(ram + 32 + off, pat, len);
			for (i = 0; i < 256; i++)
				if (i < 32 + off || i >= 32 + off + len)
					assert_int_equal(ram[i], 0xa5);
			memset(buf, 0x5a, sizeof(buf));
			assert_int_equal(ap_dma_read(dev, 0x10000 + 32 + off, buf + 16, len, NULL),
					 0);
			assert_memory_equal(buf + 16, pat, len);
			for (i = 0; i < sizeof(buf); i++)
				if (i < 16 || i >= 16 + len)
					assert_int_equal(buf[i], 0x5a);
		}
	}
	ap_ctx_free(ctx);
}

/*
 * A DMA remembers, per thread, the RAM region it found last (so that the
 * next one through the same region searches nothing).  What it remembers
 * must never outlive the region: a region removed and added again at the
 * same address with other memory, RAM removed under a live mapping, and a
 * second context whose RAM sits at the same address each get their own
 * bytes.
 */
static void test_dma_ram_remembered(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new(), *other = ap_ctx_new();
	uint8_t a[SZ_4K], b[SZ_4K], c[SZ_4K], in[8];
	struct ap_device *dev, *dev2;
	struct ap_domain *dom, *dom2;
	struct ap_iommu *s, *s2;
	struct ap_fault f;

	(void)state;
	memset(a, 0xa1, sizeof(a));
	memset(b, 0xb2, sizeof(b));
	memset(c, 0xc3, sizeof(c));
	s = mk_iommu(ctx, "s", 48, 44, PG_4K_2M_1G);
	dev = mk_dev(ctx, "dev", s, 0x42, AP_GROUP_OWN);
	dom = mk_dom(ctx, "dom", s, AP_DOMAIN_PAGING);
	assert_int_equal(ap_attach(dom, dev), 0);
	assert_int_equal(ap_map(dom, 0x10000, 0x40000000, SZ_4K, RW), 0);
	assert_int_equal(ap_ram_add(ctx, 0x40000000, SZ_4K, a), 0);
	assert_int_equal(ap_dma_read(dev, 0x10008, in, 8, NULL), 0);
	assert_int_equal(in[0], 0xa1);
	assert_int_equal(ap_dma_read(dev, 0x10010, in, 8, NULL), 0); /* remembered */
	assert_int_equal(in[7], 0xa1);
	/* the same address, other memory */
	assert_int_equal(ap_ram_remove(ctx, 0x40000000), 0);
	assert_int_equal(ap_ram_add(ctx, 0x40000000, SZ_4K, b), 0);
	assert_int_equal(ap_dma_read(dev, 0x10008, in, 8, NULL), 0);
	assert_int_equal(in[0], 0xb2);
	/* no RAM at all under the mapping: an external fault */
	assert_int_equal(ap_ram_remove(ctx, 0x40000000), 0);
	assert_int_equal(ap_dma_read(dev, 0x10008, in, 8, &f), -EFAULT);
	assert_int_equal(f.kind, AP_FAULT_EXTERNAL);
	assert_int_equal(f.pa, 0x40000008);
	/* another context, RAM at the same address: its own bytes */
	assert_int_equal(ap_ram_add(ctx, 0x40000000, SZ_4K, a), 0);
	assert_int_equal(ap_dma_read(dev, 0x10008, in, 8, NULL), 0);
	assert_int_equal(in[0], 0xa1);
	s2 = mk_iommu(other, "s", 48, 44, PG_4K_2M_1G);
	dev2 = mk_dev(other, "dev", s2, 0x42, AP_GROUP_OWN);
	dom2 = mk_dom(other, "dom", s2, AP_DOMAIN_PAGING);
	assert_int_equal(ap_attach(dom2, dev2), 0);
	assert_int_equal(ap_map(dom2, 0x10000, 0x40000000, SZ_4K, RW), 0);
	/* as many RAM changes as ctx has seen: only the context tells */
	assert_int_equal(ap_ram_add(other, 0x40000000, SZ_4K, c), 0);
	assert_int_equal(ap_ram_remove(other, 0x40000000), 0);
	assert_int_equal(ap_ram_add(other, 0x40000000, SZ_4K, c), 0);
	assert_int_equal(ap_ram_remove(other, 0x40000000), 0);
	assert_int_equal(ap_ram_add(other, 0x40000000, SZ_4K, c), 0);
	assert_int_equal(ap_dma_read(dev2, 0x10008, in, 8, NULL), 0); /* a miss */
	assert_int_equal(in[0], 0xc3);
	assert_int_equal(ap_dma_read(dev2, 0x10008, in, 8, NULL), 0); /* a hit */
	assert_int_equal(in[0], 0xc3);
	assert_int_equal(ap_dma_read(dev, 0x10008, in, 8, NULL), 0);
	assert_int_equal(in[0], 0xa1);
	/* a DMA that one region does not hold whole goes by pieces: the
	 * end of the region faults */
	assert_int_equal(ap_map(dom, 0x11000, 0x40001000, SZ_4K, RW), 0);
	assert_int_equal(ap_dma_read(dev, 0x10ffc, in, 8, &f), -EFAULT);
	assert_int_equal(f.kind, AP_FAULT_EXTERNAL);
	assert_int_equal(f.iova, 0x11000);
	ap_ctx_free(other);
	ap_ctx_free(ctx);
}

static void test_dma_faults(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *s;
	struct ap_device *dev, *lone, *blocked;
	struct ap_domain *dom, *blk;
	struct ap_fault f;
	struct ap_translation t;
	uint8_t buf[64];
	uint64_t wbase, wsize;

	(void)state;
	mk_ram(ctx, 0x40000000, 0x400000);
	s = mk_iommu(ctx, "s", 40, 48, PG_4K_2M_1G);
	dev = mk_dev(ctx, "dev", s, 0x100, AP_GROUP_OWN);
	lone = mk_dev(ctx, "lone", s, 0x101, AP_GROUP_OWN);
	blocked = mk_dev(ctx, "blocked", s, 0x102, AP_GROUP_OWN);
	dom = mk_dom(ctx, "dom", s, AP_DOMAIN_PAGING);
	blk = mk_dom(ctx, "blk", s, AP_DOMAIN_BLOCKED);
	assert_int_equal(ap_attach(dom, dev), 0);
	assert_int_equal(ap_attach(blk, blocked), 0);
	assert_int_equal(ap_map(dom, 0x100000, 0x40000000, SZ_4K, AP_PROT_READ), 0);
	assert_int_equal(ap_map(dom, 0x101000, 0x40001000, SZ_4K, RW | AP_PROT_PRIV), 0);
	assert_int_equal(ap_map(dom, 0x102000, 0x7ff00000, SZ_4K, RW), 0); /* no RAM there */
	assert_int_equal(ap_map(dom, 0x103000, 0x40002000, SZ_4K, RW | AP_PROT_NOEXEC), 0);
	assert_int_equal(ap_map(dom, 0x400000, 0x40200000, SZ_2M, AP_PROT_READ), 0);
	ap_ctx_get_table_window(ctx, &wbase, &wsize);
	assert_true(wsize > 0);
	assert_int_equal(ap_map(dom, 0x104000, wbase, SZ_4K, RW), 0); /* the page tables */

	/* bad stream: no domain, instance aborts unmatched streams */
	memset(&f, 0xff, sizeof(f));
	assert_int_equal(ap_dma_read(lone, 0x100000, buf, 4, &f), -EFAULT);
	check_fault(&f, AP_FAULT_BAD_STREAM, lone, 0x100000, AP_ACCESS_READ, -1, 0);
	pop_same(s, &f);
	assert_int_equal(ap_device_bypasses(lone), AP_BYPASS_NONE);
	/* translation: blocked domain, no walk */
	assert_int_equal(ap_dma_write(blocked, 0x100000, buf, 4, &f), -EFAULT);
	check_fault(&f, AP_FAULT_TRANSLATION, blocked, 0x100000, AP_ACCESS_WRITE, -1, 0);
	pop_same(s, &f);
	/* translation: unmapped, at the level where the walk stopped */
	assert_int_equal(ap_dma_read(dev, 0x105008, buf, 4, &f), -EFAULT);
	check_fault(&f, AP_FAULT_TRANSLATION, dev, 0x105008, AP_ACCESS_READ, 3, 0);
	pop_same(s, &f);
	assert_int_equal(ap_translate(dev, 0x40000000, AP_ACCESS_READ, NULL, &f), -EFAULT);
	check_fault(&f, AP_FAULT_TRANSLATION, dev, 0x40000000, AP_ACCESS_READ, 1, 0);
	pop_same(s, &f);
	assert_int_equal(ap_translate(dev, 0x8000000000ull, AP_ACCESS_READ, NULL, &f), -EFAULT);
	check_fault(&f, AP_FAULT_TRANSLATION, dev, 0x8000000000ull, AP_ACCESS_READ, 0, 0);
	pop_same(s, &f);
	/* address size: outside the (forced) aperture */
	assert_int_equal(ap_dma_read(dev, 1ull << 40, buf, 4, &f), -EFAULT);
	check_fault(&f, AP_FAULT_ADDRESS_SIZE, dev, 1ull << 40, AP_ACCESS_READ, -1, 0);
	pop_same(s, &f);
	/* permission: write to read-only, 4K and 2M leaves */
	assert_int_equal(ap_dma_write(dev, 0x100010, buf, 4, &f), -EFAULT);
	check_fault(&f, AP_FAULT_PERMISSION, dev, 0x100010, AP_ACCESS_WRITE, 3, 0);
	pop_same(s, &f);
	assert_int_equal(ap_dma_write(dev, 0x4ff000, buf, 4, &f), -EFAULT);
	check_fault(&f, AP_FAULT_PERMISSION, dev, 0x4ff000, AP_ACCESS_WRITE, 2, 0);
	pop_same(s, &f);
	/* permission: privileged-only mapping, unprivileged DMA */
	assert_int_equal(ap_dma_read(dev, 0x101000, buf, 4, &f), -EFAULT);
	check_fault(&f, AP_FAULT_PERMISSION, dev, 0x101000, AP_ACCESS_READ, 3, 0);
	pop_same(s, &f);
	assert_int_equal(ap_translate(dev, 0x101000, AP_ACCESS_READ | AP_ACCESS_PRIV, &t, NULL), 0);
	assert_int_equal(t.pa, 0x40001000);
	assert_int_equal(t.prot, RW | AP_PROT_PRIV);
	/* permission: instruction fetch from a no-exec mapping */
	assert_int_equal(ap_translate(dev, 0x103000, AP_ACCESS_EXEC, NULL, &f), -EFAULT);
	check_fault(&f, AP_FAULT_PERMISSION, dev, 0x103000, AP_ACCESS_EXEC, 3, 0);
	pop_same(s, &f);
	assert_int_equal(ap_translate(dev, 0x100000, AP_ACCESS_EXEC, NULL, NULL), 0);
	/* external: a PA with no RAM, and the page-table window */
	assert_int_equal(ap_translate(dev, 0x102000, AP_ACCESS_READ, &t, NULL), 0);
	assert_int_equal(t.pa, 0x7ff00000);
	assert_int_equal(ap_dma_read(dev, 0x102abc, buf, 4, &f), -EFAULT);
	check_fault(&f, AP_FAULT_EXTERNAL, dev, 0x102abc, AP_ACCESS_READ, -1, 0x7ff00abc);
	pop_same(s, &f);
	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(ap_dma_write(dev, 0x104000, buf, 8, &f), -EFAULT);
	check_fault(&f, AP_FAULT_EXTERNAL, dev, 0x104000, AP_ACCESS_WRITE, -1, wbase);
	pop_same(s, &f);
	assert_int_equal(ap_pt_leaf_count(ap_domain_pt(dom)), 6); /* tables intact */

	/* NULL fault pointer still records */
	assert_int_equal(ap_dma_read(dev, 0x105000, buf, 4, NULL), -EFAULT);
	assert_int_equal(ap_iommu_fault_pending(s), 1);
	assert_true(ap_iommu_fault_pop(s, NULL));
	assert_false(ap_iommu_fault_pop(s, &f));
	assert_false(ap_iommu_fault_overflow(s));

	assert_int_equal(ap_iommu_fault_count(s, AP_FAULT_BAD_STREAM), 1);
	assert_int_equal(ap_iommu_fault_count(s, AP_FAULT_TRANSLATION), 5);
	assert_int_equal(ap_iommu_fault_count(s, AP_FAULT_ADDRESS_SIZE), 1);
	assert_int_equal(ap_iommu_fault_count(s, AP_FAULT_PERMISSION), 4);
	assert_int_equal(ap_iommu_fault_count(s, AP_FAULT_EXTERNAL), 2);
	assert_int_equal(ap_iommu_fault_count(s, AP_FAULT_ACCESS_FLAG), 0);
	assert_int_equal(ap_iommu_fault_count(s, AP_FAULT_NONE), 13);
	assert_int_equal(ap_iommu_fault_count(s, (enum ap_fault_kind)99), 0);
	assert_string_equal(ap_fault_kind_name(AP_FAULT_ADDRESS_SIZE), "address-size");
	assert_int_equal(ap_fault_kind_from_name("external"), AP_FAULT_EXTERNAL);
	ap_ctx_free(ctx);
}

/* A DMA that faults anywhere moves no byte. */
static void test_dma_partial(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *s;
	struct ap_device *dev;
	struct ap_domain *dom;
	struct ap_fault f;
	uint8_t *ram, buf[2 * 4096], zero[2 * 4096];
	uint64_t before;

	(void)state;
	ram = mk_ram(ctx, 0x1000000, 0x100000);
	s = mk_iommu(ctx, "s", 48, 48, PG_4K_2M_1G);
	dev = mk_dev(ctx, "dev", s, 5, AP_GROUP_OWN);
	dom = mk_dom(ctx, "dom", s, AP_DOMAIN_PAGING);
	assert_int_equal(ap_attach(dom, dev), 0);
	assert_int_equal(ap_map(dom, 0x10000, 0x1000000, SZ_4K, RW), 0);   /* then a hole */
	assert_int_equal(ap_map(dom, 0x20000, 0x10ff000, SZ_4K, RW), 0);   /* RAM ends here */
	assert_int_equal(ap_map(dom, 0x21000, 0x1100000, SZ_4K, RW), 0);   /* no RAM */
	assert_int_equal(ap_map(dom, 0x30000, 0x1002000, SZ_4K, RW), 0);
	assert_int_equal(ap_map(dom, 0x31000, 0x1003000, SZ_4K, AP_PROT_READ), 0);
	memset(zero, 0, sizeof(zero));
	memset(buf, 0x3c, sizeof(buf));
	before = ap_iommu_fault_count(s, AP_FAULT_NONE);

	/* write across mapped -> unmapped: nothing lands */
	assert_int_equal(ap_dma_write(dev, 0x10800, buf, 4096, &f), -EFAULT);
	check_fault(&f, AP_FAULT_TRANSLATION, dev, 0x11000, AP_ACCESS_WRITE, 3, 0);
	assert_memory_equal(ram, zero, 4096);
	/* read across: the buffer stays untouched */
	assert_int_equal(ap_dma_read(dev, 0x10800, buf, 4096, &f), -EFAULT);
	check_fault(&f, AP_FAULT_TRANSLATION, dev, 0x11000, AP_ACCESS_READ, 3, 0);
	assert_int_equal(buf[0], 0x3c);
	assert_int_equal(buf[4095], 0x3c);
	/* RAM -> no RAM */
	assert_int_equal(ap_dma_write(dev, 0x20ff0, buf, 0x20, &f), -EFAULT);
	check_fault(&f, AP_FAULT_EXTERNAL, dev, 0x21000, AP_ACCESS_WRITE, -1, 0x1100000);
	assert_memory_equal(ram + 0xff000, zero, 4096);
	/* rw -> read-only */
	assert_int_equal(ap_dma_write(dev, 0x30000, buf, 2 * 4096, &f), -EFAULT);
	check_fault(&f, AP_FAULT_PERMISSION, dev, 0x31000, AP_ACCESS_WRITE, 3, 0);
	assert_memory_equal(ram + 0x2000, zero, 2 * 4096);
	/* one record per failed DMA */
	assert_int_equal(ap_iommu_fault_count(s, AP_FAULT_NONE), before + 4);
	assert_int_equal(ap_iommu_fault_pending(s), 4);
	/* and the whole of it works once the hole is filled */
	assert_int_equal(ap_map(dom, 0x11000, 0x1001000, SZ_4K, RW), 0);
	assert_int_equal(ap_dma_write(dev, 0x10800, buf, 4096, &f), 0);
	assert_memory_equal(ram + 0x800, buf, 4096);
	ap_ctx_free(ctx);
}

static void test_evtq_overflow(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *s;
	struct ap_device *dev;
	struct ap_fault f;
	uint8_t b;
	unsigned i;

	(void)state;
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	c.evtq_size = 4;
	s = mk_iommu_cfg(ctx, "s", &c);
	dev = mk_dev(ctx, "dev", s, 9, AP_GROUP_OWN);
	for (i = 0; i < 6; i++)
		assert_int_equal(ap_dma_read(dev, 0x1000 * i, &b, 1, NULL), -EFAULT);
	assert_int_equal(ap_iommu_fault_pending(s), 4);
	assert_true(ap_iommu_fault_overflow(s));
	assert_int_equal(ap_iommu_fault_count(s, AP_FAULT_BAD_STREAM), 6);
	/* oldest first; the two newest were dropped */
	for (i = 0; i < 2; i++) {
		assert_true(ap_iommu_fault_pop(s, &f));
		assert_int_equal(f.iova, 0x1000 * i);
	}
	assert_true(ap_iommu_fault_overflow(s)); /* popping does not clear it */
	/* room again: new records queue behind the old ones (wrapping the ring) */
	assert_int_equal(ap_dma_read(dev, 0xa000, &b, 1, NULL), -EFAULT);
	assert_int_equal(ap_dma_read(dev, 0xb000, &b, 1, NULL), -EFAULT);
	assert_int_equal(ap_dma_read(dev, 0xc000, &b, 1, NULL), -EFAULT); /* dropped */
	assert_int_equal(ap_iommu_fault_pending(s), 4);
	ap_iommu_fault_clear_overflow(s);
	assert_false(ap_iommu_fault_overflow(s));
	for (i = 2; i < 4; i++) {
		assert_true(ap_iommu_fault_pop(s, &f));
		assert_int_equal(f.iova, 0x1000 * i);
	}
	assert_true(ap_iommu_fault_pop(s, &f));
	assert_int_equal(f.iova, 0xa000);
	assert_true(ap_iommu_fault_pop(s, &f));
	assert_int_equal(f.iova, 0xb000);
	assert_false(ap_iommu_fault_pop(s, &f));
	assert_int_equal(ap_iommu_fault_pending(s), 0);
	assert_false(ap_iommu_fault_overflow(s));
	assert_int_equal(ap_iommu_fault_count(s, AP_FAULT_NONE), 9);

	/* a queue of one */
	c.evtq_size = 1;
	s = mk_iommu_cfg(ctx, "one", &c);
	dev = mk_dev(ctx, "dev1", s, 9, AP_GROUP_OWN);
	assert_int_equal(ap_dma_read(dev, 0x1000, &b, 1, NULL), -EFAULT);
	assert_false(ap_iommu_fault_overflow(s));
	assert_int_equal(ap_dma_read(dev, 0x2000, &b, 1, NULL), -EFAULT);
	assert_true(ap_iommu_fault_overflow(s));
	assert_true(ap_iommu_fault_pop(s, &f));
	assert_int_equal(f.iova, 0x1000);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ bypass */

static void test_bypass(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config c;
	struct ap_iommu *byp, *open, *strict;
	struct ap_device *db, *dop, *dst;
	struct ap_domain *ident, *pg, *blk, *spg;
	struct ap_translation t;
	struct ap_fault f;
	uint8_t *ram, buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, back[8];
	uint64_t pa;

	(void)state;
	ram = mk_ram(ctx, 0x200000, 0x100000);
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	c.unmatched = AP_UNMATCHED_BYPASS;
	byp = mk_iommu_cfg(ctx, "byp", &c);
	ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
	c.force_aperture = false;
	c.ias = 32;
	open = mk_iommu_cfg(ctx, "open", &c);
	strict = mk_iommu(ctx, "strict", 48, 48, PG_4K_2M_1G);
	db = mk_dev(ctx, "db", byp, 1, AP_GROUP_OWN);
	dop = mk_dev(ctx, "dop", open, 1, AP_GROUP_OWN);
	dst = mk_dev(ctx, "dst", strict, 1, AP_GROUP_OWN);

	/* unmatched stream, bypass instance: PA == IOVA */
	assert_int_equal(ap_device_bypasses(db), AP_BYPASS_UNMATCHED);
	assert_int_equal(ap_dma_write(db, 0x200010, buf, sizeof(buf), NULL), 0);
	assert_memory_equal(ram + 0x10, buf, sizeof(buf));
	assert_int_equal(ap_translate(db, 0x123456789ull, AP_ACCESS_WRITE, &t, NULL), 0);
	assert_int_equal(t.pa, 0x123456789ull);
	assert_true(t.bypass);
	assert_true(ap_device_iova_to_phys(db, 0x5000, &pa));
	assert_int_equal(pa, 0x5000);
	/* bypass still needs RAM */
	assert_int_equal(ap_dma_read(db, 0x300000, back, 1, &f), -EFAULT);
	check_fault(&f, AP_FAULT_EXTERNAL, db, 0x300000, AP_ACCESS_READ, -1, 0x300000);
	/* the abort instance: no domain faults */
	assert_int_equal(ap_device_bypasses(dst), AP_BYPASS_NONE);
	assert_int_equal(ap_dma_read(dst, 0x200010, back, 1, &f), -EFAULT);
	assert_int_equal(f.kind, AP_FAULT_BAD_STREAM);
	assert_false(ap_device_iova_to_phys(dst, 0x200010, &pa));

	/* identity domain: deliberate 1:1 */
	ident = mk_dom(ctx, "ident", strict, AP_DOMAIN_IDENTITY);
	assert_int_equal(ap_attach(ident, dst), 0);
	assert_int_equal(ap_device_bypasses(dst), AP_BYPASS_IDENTITY);
	assert_int_equal(ap_dma_read(dst, 0x200010, back, sizeof(back), NULL), 0);
	assert_memory_equal(back, buf, sizeof(buf));
	assert_int_equal(ap_translate(dst, 0x200010, AP_ACCESS_READ, &t, NULL), 0);
	assert_true(t.bypass);
	assert_int_equal(ap_detach(dst), 0);

	/* blocked domain on a bypass instance: faults */
	blk = mk_dom(ctx, "blk", byp, AP_DOMAIN_BLOCKED);
	assert_int_equal(ap_attach(blk, db), 0);
	assert_int_equal(ap_device_bypasses(db), AP_BYPASS_NONE);
	assert_int_equal(ap_dma_read(db, 0x200010, back, 1, &f), -EFAULT);
	assert_int_equal(f.kind, AP_FAULT_TRANSLATION);
	assert_int_equal(ap_detach(db), 0);
	assert_int_equal(ap_device_bypasses(db), AP_BYPASS_UNMATCHED);

	/* paging domain, open aperture: outside passes, inside translates */
	pg = mk_dom(ctx, "pg", open, AP_DOMAIN_PAGING);
	check_geo(pg, 0, 0xffffffffull, false);
	assert_int_equal(ap_attach(pg, dop), 0);
	assert_int_equal(ap_device_bypasses(dop), AP_BYPASS_OPEN_APERTURE);
	assert_int_equal(ap_translate(dop, 0x200010, AP_ACCESS_READ, NULL, &f), -EFAULT);
	assert_int_equal(f.kind, AP_FAULT_TRANSLATION); /* inside: unmapped faults */
	assert_int_equal(ap_translate(dop, SZ_4G + 0x10, AP_ACCESS_READ, &t, NULL), 0);
	assert_int_equal(t.pa, SZ_4G + 0x10);
	assert_true(t.bypass);
	assert_int_equal(ap_map(pg, 0x1000, 0x200000, SZ_4K, RW), 0);
	assert_int_equal(ap_dma_read(dop, 0x1010, back, sizeof(back), NULL), 0);
	assert_memory_equal(back, buf, sizeof(buf));
	/* the same domain on a forced instance: the aperture is forced there only */
	spg = pg;
	assert_int_equal(ap_attach(spg, dst), 0);
	assert_int_equal(ap_device_bypasses(dst), AP_BYPASS_NONE);
	check_geo(pg, 0, 0xffffffffull, false);
	assert_int_equal(ap_translate(dst, SZ_4G + 0x10, AP_ACCESS_READ, NULL, &f), -EFAULT);
	assert_int_equal(f.kind, AP_FAULT_ADDRESS_SIZE);
	assert_int_equal(ap_translate(dop, SZ_4G + 0x10, AP_ACCESS_READ, &t, NULL), 0);
	assert_true(t.bypass);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ lifetime */

static void test_domain_free(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *s;
	struct ap_device *a, *b;
	struct ap_domain *dom, *id;
	uint64_t allocs0, bytes0, allocs, bytes;

	(void)state;
	s = mk_iommu(ctx, "s", 48, 48, PG_4K_2M_1G);
	a = mk_dev(ctx, "a", s, 1, 0);
	b = mk_dev(ctx, "b", s, 2, 0);
	mk_dom(ctx, "warm", s, AP_DOMAIN_PAGING); /* chooses the table window */
	ap_ctx_mem_stats(ctx, &allocs0, &bytes0);
	dom = mk_dom(ctx, "dom", s, AP_DOMAIN_PAGING);
	assert_int_equal(ap_map(dom, 0x10000000, 0x10000000, 64 * SZ_2M + SZ_4K, RW), 0);
	assert_int_equal(ap_attach(dom, a), 0);
	assert_int_equal(ap_domain_free(dom), -EBUSY);
	assert_ptr_equal(ap_domain_find(ctx, "dom"), dom);
	assert_int_equal(ap_detach(b), 0); /* the whole group */
	assert_null(ap_device_domain(a));
	assert_int_equal(ap_domain_free(dom), 0);
	assert_null(ap_domain_find(ctx, "dom"));
	ap_ctx_mem_stats(ctx, &allocs, &bytes);
	assert_int_equal(allocs, allocs0);
	assert_int_equal(bytes, bytes0);
	assert_int_equal(ap_domain_free(NULL), 0);
	/* the name can be used again; other domain types free too */
	dom = mk_dom(ctx, "dom", s, AP_DOMAIN_PAGING);
	id = mk_dom(ctx, "id", s, AP_DOMAIN_IDENTITY);
	assert_int_equal(ap_attach(id, a), 0);
	assert_int_equal(ap_domain_free(id), -EBUSY);
	assert_int_equal(ap_detach(a), 0);
	assert_int_equal(ap_domain_free(id), 0);
	assert_int_equal(ap_domain_free(dom), 0);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ table window */

static void test_table_window(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	static uint8_t fake[4096];
	struct ap_iommu *s;
	struct ap_domain *dom;
	struct ap_pt_walk_cfg wc;
	uint64_t base, size;

	(void)state;
	ap_ctx_get_table_window(ctx, &base, &size);
	assert_int_equal(size, 0);
	/* RAM at the top 256 MiB below 4 GiB: the default moves below it */
	assert_int_equal(ap_ram_add(ctx, 0xf8000000, 0x1000, fake), 0);
	s = mk_iommu(ctx, "s", 48, 48, PG_4K_2M_1G);
	mk_dom(ctx, "blk", s, AP_DOMAIN_BLOCKED); /* no table: no window yet */
	ap_ctx_get_table_window(ctx, &base, &size);
	assert_int_equal(size, 0);
	dom = mk_dom(ctx, "dom", s, AP_DOMAIN_PAGING);
	ap_ctx_get_table_window(ctx, &base, &size);
	assert_int_equal(base, 0xe0000000);
	assert_int_equal(size, 0x10000000);
	ap_pt_get_walk_cfg(ap_domain_pt(dom), &wc);
	assert_true(wc.root >= base && wc.root < base + size);
	/* fixed from now on */
	assert_int_equal(ap_ctx_set_table_window(ctx, 0x100000000ull, 0x100000), -EBUSY);
	/* RAM may not go over it */
	assert_int_equal(ap_ram_add(ctx, 0xe8000000, 0x1000, fake), -EADDRINUSE);
	assert_int_equal(ap_ram_alloc(ctx, 0xdffff000, 0x2000, NULL), -EADDRINUSE);
	assert_int_equal(ap_ram_add(ctx, 0xdffff000, 0x1000, fake), 0);
	ap_ctx_free(ctx);

	/* explicit window */
	ctx = ap_ctx_new();
	assert_int_equal(ap_ram_add(ctx, 0x10000000, 0x1000, fake), 0);
	assert_int_equal(ap_ctx_set_table_window(ctx, 0x20000800, 0x100000), -EINVAL);
	assert_int_equal(ap_ctx_set_table_window(ctx, 0x20000000, 0x100800), -EINVAL);
	assert_int_equal(ap_ctx_set_table_window(ctx, 0x20000000, 0), -EINVAL);
	assert_int_equal(ap_ctx_set_table_window(ctx, 0x20000000, (16ull << 30) + 0x1000),
			 -EINVAL);
	assert_int_equal(ap_ctx_set_table_window(ctx, UINT64_MAX - 0xfff, 0x2000), -EINVAL);
	/* table descriptors hold addresses below 2^48 only */
	assert_int_equal(ap_ctx_set_table_window(ctx, 1ull << 48, 0x200000), -EINVAL);
	assert_int_equal(ap_ctx_set_table_window(ctx, (1ull << 48) - 0x1000, 0x2000), -EINVAL);
	assert_int_equal(ap_ctx_set_table_window(ctx, 0x0ff00000, 0x200000), -EADDRINUSE);
	ap_ctx_get_table_window(ctx, &base, &size);
	assert_int_equal(size, 0);
	assert_int_equal(ap_ctx_set_table_window(ctx, 0x30000000, 0x400000), 0);
	ap_ctx_get_table_window(ctx, &base, &size);
	assert_int_equal(base, 0x30000000);
	assert_int_equal(size, 0x400000);
	assert_int_equal(ap_ram_add(ctx, 0x303ff000, 0x1000, fake), -EADDRINUSE);
	s = mk_iommu(ctx, "s", 48, 48, PG_4K_2M_1G);
	dom = mk_dom(ctx, "dom", s, AP_DOMAIN_PAGING);
	ap_pt_get_walk_cfg(ap_domain_pt(dom), &wc);
	assert_true(wc.root >= 0x30000000 && wc.root < 0x30400000);
	assert_int_equal(ap_ctx_set_table_window(ctx, 0x40000000, 0x400000), -EBUSY);
	ap_ctx_free(ctx);

	/* no RAM-free 256 MiB window below 4 GiB: the domain is refused, no window */
	ctx = ap_ctx_new();
	assert_int_equal(ap_ram_add(ctx, 0, SZ_4G, fake), 0); /* never accessed */
	s = mk_iommu(ctx, "s", 48, 48, PG_4K_2M_1G);
	assert_int_equal(ap_domain_new(ctx, "dom", s, AP_DOMAIN_PAGING, &dom), -ENOSPC);
	assert_null(ap_domain_find(ctx, "dom"));
	ap_ctx_get_table_window(ctx, &base, &size);
	assert_int_equal(size, 0);
	assert_int_equal(ap_ctx_set_table_window(ctx, SZ_4G, 0x200000), 0);
	dom = mk_dom(ctx, "dom", s, AP_DOMAIN_PAGING);
	/* tables above 4 GiB: an instance with a 32-bit output cannot walk them */
	{
		struct ap_iommu *o32 = mk_iommu(ctx, "o32", 48, 32, PG_4K_2M_1G);
		struct ap_device *d32 = mk_dev(ctx, "d32", o32, 1, AP_GROUP_OWN);
		struct ap_device *d48 = mk_dev(ctx, "d48", s, 1, AP_GROUP_OWN);
		struct ap_domain *own32 = mk_dom(ctx, "own32", o32, AP_DOMAIN_PAGING);

		assert_int_equal(ap_attach(dom, d32), -EINVAL);
		assert_null(ap_device_domain(d32));
		assert_int_equal(ap_attach(own32, d32), -EINVAL); /* even its own domain */
		assert_int_equal(ap_attach(dom, d48), 0);
		assert_int_equal(ap_map(dom, 0x1000, 0x1000, SZ_4K, RW), 0);
		assert_int_equal(ap_translate(d48, 0x1000, AP_ACCESS_READ, NULL, NULL), 0);
	}
	ap_ctx_free(ctx);
}

/* Minor page faults of this process so far. */
static long minor_faults(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_minflt;
}

/* A context with a 64 MiB window and a domain with `tables` leaf tables
 * (4K pages 2 MiB apart, from iova `at`); the page faults it took. */
static long tables_in_fresh_ctx(struct ap_ctx **out, struct ap_domain **dom, uint64_t at,
				unsigned tables)
{
	long before = minor_faults();
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *s;

	assert_int_equal(ap_ctx_set_table_window(ctx, 0xc0000000, 0x4000000), 0);
	s = mk_iommu(ctx, "s", 48, 48, PG_4K_2M_1G);
	*dom = mk_dom(ctx, "dom", s, AP_DOMAIN_PAGING);
	for (unsigned i = 0; i < tables; i++)
		assert_int_equal(ap_map(*dom, at + i * SZ_2M, 0x1000, SZ_4K, RW), 0);
	*out = ctx;
	return minor_faults() - before;
}

/*
 * A window's pages outlive their context, for the next context with a
 * window of that size: its tables land on pages already backed (no page
 * fault each), and read as empty, whatever the context before left there.
 * A window that touched many chunks (more than 32 MiB) is not kept.
 */
static void test_table_window_reused(void **state)
{
	struct ap_ctx *ctx;
	struct ap_domain *dom;
	uint64_t pa;
	long first, again;

	(void)state;
	first = tables_in_fresh_ctx(&ctx, &dom, 0, 300);
	ap_ctx_free(ctx);
	/* the same frames, other IOVAs: what the first context wrote there
	 * must not show through */
	again = tables_in_fresh_ctx(&ctx, &dom, SZ_1G * 8, 300);
	print_message("page faults for 300 tables: %ld in a fresh window, %ld in a kept one\n",
		      first, again);
	/* the allocator may fault too (ASan's, whose quarantine hands out
	 * fresh memory): count the faults the kept window saves */
	assert_true(first >= 300);
	assert_true(first - again >= 250);
	for (unsigned i = 0; i < 300; i++)
		assert_false(ap_domain_iova_to_phys(dom, i * SZ_2M, &pa));
	assert_true(ap_domain_iova_to_phys(dom, SZ_1G * 8 + 299 * SZ_2M, &pa));
	assert_int_equal(pa, 0x1000);
	ap_ctx_free(ctx);

	/* 17 chunks of 512 tables: too many pages to keep for nobody */
	tables_in_fresh_ctx(&ctx, &dom, 0, 16 * 512 + 1);
	ap_ctx_free(ctx);
	again = tables_in_fresh_ctx(&ctx, &dom, 0, 300);
	assert_true(again >= 300);
	ap_ctx_free(ctx);
}

/* 16K and 64K tables in a window whose base is only 4 KiB aligned. */
static void test_table_window_granules(void **state)
{
	static const uint64_t bases[] = { 0x10001000, 0x10003000, 0x1000f000 };
	static const struct {
		uint64_t pgsizes, host, big;
	} g[] = {
		{ SZ_64K | (1ull << 29), SZ_64K, 1ull << 29 },
		{ (1ull << 14) | (1ull << 25), 1ull << 14, 1ull << 25 },
		{ PG_4K_2M_1G, SZ_4K, SZ_2M },
	};
	size_t bi, gi;

	(void)state;
	for (bi = 0; bi < sizeof(bases) / sizeof(bases[0]); bi++) {
		for (gi = 0; gi < sizeof(g) / sizeof(g[0]); gi++) {
			struct ap_ctx *ctx = ap_ctx_new();
			struct ap_iommu_config c;
			struct ap_iommu *s, *s32;
			struct ap_device *dev, *d32;
			struct ap_domain *dom;
			struct ap_translation t;
			uint8_t *ram, b = 0x99, r = 0;
			uint64_t i, iova, cnt = 0x80000000ull / g[gi].big;

			ram = mk_ram(ctx, 0x40000000, 0x100000);
			assert_int_equal(ap_ctx_set_table_window(ctx, bases[bi], 0x800000), 0);
			ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU_V3);
			c.pgsize_bitmap = g[gi].pgsizes;
			c.host_page_size = g[gi].host;
			s = mk_iommu_cfg(ctx, "s", &c);
			c.ias = 32;
			s32 = mk_iommu_cfg(ctx, "s32", &c);
			dev = mk_dev(ctx, "dev", s, 1, AP_GROUP_OWN);
			d32 = mk_dev(ctx, "d32", s32, 1, AP_GROUP_OWN);
			dom = mk_dom(ctx, "dom", s, AP_DOMAIN_PAGING);
			assert_int_equal(ap_attach(dom, dev), 0);
			/* many tables, one page each, spread over big-block slots */
			if (cnt > 40)
				cnt = 40;
			for (i = 0; i < cnt; i++) {
				iova = 0x80000000ull + i * g[gi].big;
				assert_int_equal(ap_map(dom, iova, 0x40000000, g[gi].host, RW), 0);
			}
			assert_int_equal(ap_attach(dom, d32), 0);
			if (cnt > 40)
				cnt = 40;
			for (i = 0; i < cnt; i++) {
				iova = 0x80000000ull + i * g[gi].big + 0x10;
				assert_int_equal(ap_translate(dev, iova, AP_ACCESS_READ, &t, NULL), 0);
				assert_int_equal(t.pa, 0x40000010);
				assert_int_equal(ap_translate(d32, iova, AP_ACCESS_READ, &t, NULL), 0);
				assert_int_equal(t.pa, 0x40000010);
			}
			assert_int_equal(ap_dma_write(d32, 0x80000000ull + (cnt - 1) * g[gi].big + 7, &b, 1,
						      NULL),
					 0);
			assert_int_equal(ap_dma_read(dev, 0x80000000ull + (cnt / 2) * g[gi].big + 7, &r, 1,
						     NULL),
					 0);
			assert_int_equal(r, 0x99);
			assert_int_equal(ram[7], 0x99);
			ap_ctx_free(ctx);
		}
	}
}

/* ------------------------------------------------------------ for layers above */

static int destroyed[3], destroy_order;

static void destroy_slot(void *state)
{
	int *slot = state;

	*slot = ++destroy_order;
}

/* Frontend state: one slot per key, destructors newest first, at free. */
static void test_frontend_state(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();

	(void)state;
	destroy_order = 0;
	memset(destroyed, 0, sizeof(destroyed));
	assert_null(ap_ctx_frontend(ctx, "vfio"));
	assert_int_equal(ap_ctx_set_frontend(ctx, "vfio", &destroyed[0], destroy_slot), 0);
	assert_int_equal(ap_ctx_set_frontend(ctx, "scenario", &destroyed[1], destroy_slot), 0);
	assert_int_equal(ap_ctx_set_frontend(ctx, "quiet", &destroyed[2], NULL), 0);
	assert_ptr_equal(ap_ctx_frontend(ctx, "vfio"), &destroyed[0]);
	assert_ptr_equal(ap_ctx_frontend(ctx, "scenario"), &destroyed[1]);
	assert_int_equal(ap_ctx_set_frontend(ctx, "vfio", &destroyed[2], destroy_slot), -EEXIST);
	assert_ptr_equal(ap_ctx_frontend(ctx, "vfio"), &destroyed[0]);
	assert_int_equal(ap_ctx_set_frontend(ctx, "", &destroyed[2], NULL), -EINVAL);
	assert_int_equal(ap_ctx_set_frontend(ctx, NULL, &destroyed[2], NULL), -EINVAL);
	assert_int_equal(ap_ctx_set_frontend(ctx, "a b", &destroyed[2], NULL), -EINVAL);
	assert_int_equal(ap_ctx_set_frontend(ctx, "none", NULL, NULL), -EINVAL);
	assert_null(ap_ctx_frontend(ctx, "none"));
	assert_null(ap_ctx_frontend(ctx, NULL));
	ap_ctx_fail_nth(ctx, 1);
	assert_int_equal(ap_ctx_set_frontend(ctx, "late", &destroyed[2], NULL), -ENOMEM);
	assert_null(ap_ctx_frontend(ctx, "late"));
	ap_ctx_free(ctx);
	assert_int_equal(destroyed[1], 1); /* the newest first */
	assert_int_equal(destroyed[0], 2);
	assert_int_equal(destroyed[2], 0);
}

/* A destructor runs while the core objects it may clean up still exist. */
struct uses_core {
	struct ap_ctx *ctx;
	bool saw_device;
};

static void destroy_uses_core(void *state)
{
	struct uses_core *u = state;

	u->saw_device = ap_device_find(u->ctx, "d") != NULL &&
			ap_ram_remove(u->ctx, 0x100000) == 0;
}

static void test_frontend_destroy_before_core(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct uses_core u = { ctx, false };
	struct ap_iommu *s;

	(void)state;
	s = mk_iommu(ctx, "s", 48, 48, PG_4K_2M_1G);
	mk_dev(ctx, "d", s, 1, AP_GROUP_OWN);
	mk_ram(ctx, 0x100000, SZ_64K);
	assert_int_equal(ap_ctx_set_frontend(ctx, "layer", &u, destroy_uses_core), 0);
	ap_ctx_free(ctx);
	assert_true(u.saw_device);
}

/* ap_ram_remove: exactly the region that starts there, its memory freed. */
static void test_ram_remove(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	uint8_t ext[2 * SZ_4K];
	uint64_t allocs0, allocs, pa, size;

	(void)state;
	ap_ctx_mem_stats(ctx, &allocs0, NULL);
	mk_ram(ctx, 0x100000, SZ_64K);
	assert_int_equal(ap_ram_add(ctx, 0x200000, sizeof(ext), ext), 0);
	mk_ram(ctx, 0x300000, SZ_4K);
	assert_int_equal(ap_ram_remove(ctx, 0x100001), -ENOENT);
	assert_int_equal(ap_ram_remove(ctx, 0x180000), -ENOENT);
	assert_int_equal(ap_ram_remove(ctx, 0x200000), 0);
	assert_int_equal(ap_ram_remove(ctx, 0x200000), -ENOENT);
	assert_null(ap_ram_ptr(ctx, 0x200000, 1));
	assert_non_null(ap_ram_ptr(ctx, 0x100000, SZ_64K));
	assert_non_null(ap_ram_ptr(ctx, 0x300000, SZ_4K));
	assert_int_equal(ap_ram_region(ctx, 1, &pa, &size), 0);
	assert_int_equal(pa, 0x300000);
	assert_int_equal(ap_ram_region(ctx, 2, &pa, &size), -ENOENT);
	/* the place can be used again, with other memory */
	assert_int_equal(ap_ram_add(ctx, 0x200000, SZ_4K, ext + SZ_4K), 0);
	assert_ptr_equal(ap_ram_ptr(ctx, 0x200010, 1), ext + SZ_4K + 0x10);
	assert_int_equal(ap_ram_remove(ctx, 0x100000), 0);
	assert_int_equal(ap_ram_remove(ctx, 0x200000), 0);
	assert_int_equal(ap_ram_remove(ctx, 0x300000), 0);
	ap_ctx_mem_stats(ctx, &allocs, NULL);
	assert_int_equal(allocs, allocs0); /* a region's node goes with it */
	ap_ctx_free(ctx);
}

/* ap_ram_remove_many: all or nothing, each region named once. */
static void test_ram_remove_many(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	uint64_t allocs0, allocs, pa, size;
	uint64_t twice[] = { 0x100000, 0x300000, 0x100000 };
	uint64_t missing[] = { 0x100000, 0x200000, 0x180000 };
	uint64_t all[] = { 0x300000, 0x100000, 0x200000 };

	(void)state;
	ap_ctx_mem_stats(ctx, &allocs0, NULL);
	mk_ram(ctx, 0x100000, SZ_64K);
	mk_ram(ctx, 0x200000, SZ_4K);
	mk_ram(ctx, 0x300000, SZ_4K);
	assert_int_equal(ap_ram_remove_many(ctx, NULL, 1), -EINVAL);
	assert_int_equal(ap_ram_remove_many(ctx, NULL, 0), 0);
	assert_int_equal(ap_ram_remove_many(ctx, twice, 3), -EINVAL);
	assert_non_null(strstr(ap_ctx_error(ctx), "twice"));
	assert_int_equal(ap_ram_remove_many(ctx, missing, 3), -ENOENT);
	assert_non_null(strstr(ap_ctx_error(ctx), "0x180000"));
	/* nothing went, and nothing stays marked: the same regions go now */
	assert_int_equal(ap_ram_region(ctx, 2, &pa, &size), 0);
	assert_int_equal(pa, 0x300000);
	assert_non_null(ap_ram_ptr(ctx, 0x100000, SZ_64K));
	assert_int_equal(ap_ram_remove_many(ctx, all, 2), 0);
	assert_null(ap_ram_ptr(ctx, 0x300000, 1));
	assert_null(ap_ram_ptr(ctx, 0x100000, 1));
	assert_int_equal(ap_ram_region(ctx, 0, &pa, &size), 0);
	assert_int_equal(pa, 0x200000);
	assert_int_equal(ap_ram_region(ctx, 1, &pa, &size), -ENOENT);
	assert_int_equal(ap_ram_remove_many(ctx, all + 2, 1), 0);
	/* the last removal's node (and memory ap_ram_alloc gave) go after a
	 * later grace period: the next removal's (the two before went with
	 * this one's) */
	ap_ctx_mem_stats(ctx, &allocs, NULL);
	assert_int_equal(allocs, allocs0 + 2);
	mk_ram(ctx, 0x400000, SZ_4K);
	assert_int_equal(ap_ram_remove(ctx, 0x400000), 0);
	ap_ctx_mem_stats(ctx, &allocs, NULL);
	assert_int_equal(allocs, allocs0);
	ap_ctx_free(ctx);
}

/* Many regions in any order stay sorted and found. */
static void test_ram_many(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	static uint8_t host[SZ_4K];
	uint64_t pa, size, prev = 0;
	unsigned i, n = 3000;

	(void)state;
	for (i = 0; i < n; i++) /* a permutation of 0..n-1 */
		assert_int_equal(ap_ram_add(ctx, (uint64_t)((i * 1117u) % n) * 2 * SZ_4K, SZ_4K,
					    host), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(ap_ram_region(ctx, i, &pa, &size), 0);
		assert_true(i == 0 || pa > prev);
		prev = pa;
		assert_ptr_equal(ap_ram_ptr(ctx, pa + 5, 1), host + 5);
		assert_null(ap_ram_ptr(ctx, pa + SZ_4K, 1));
	}
	assert_int_equal(ap_ram_add(ctx, 2 * SZ_4K + 0x800, SZ_4K, host), -EADDRINUSE);
	for (i = 0; i < n; i += 2)
		assert_int_equal(ap_ram_remove(ctx, (uint64_t)i * 2 * SZ_4K), 0);
	assert_int_equal(ap_ram_region(ctx, n / 2, &pa, &size), -ENOENT);
	assert_null(ap_ram_ptr(ctx, 0, 1));
	assert_non_null(ap_ram_ptr(ctx, 2 * SZ_4K, 1));
	ap_ctx_free(ctx);
}

struct seen_write {
	const struct ap_device *dev;
	uint64_t iova[4], pa[4];
	size_t len[4];
	unsigned n;
};

static void observe(void *arg, const struct ap_device *dev, uint64_t iova, uint64_t pa,
		    size_t len)
{
	struct seen_write *w = arg;

	assert_true(w->n < 4);
	w->dev = dev;
	w->iova[w->n] = iova;
	w->pa[w->n] = pa;
	w->len[w->n++] = len;
}

/* The write observer sees every piece a device writes, after the copy. */
static void test_dma_write_observer(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct seen_write w = { 0 };
	struct ap_iommu *s = mk_iommu(ctx, "s", 48, 48, PG_4K_2M_1G);
	struct ap_device *d = mk_dev(ctx, "d", s, 1, AP_GROUP_OWN);
	struct ap_domain *dom = mk_dom(ctx, "dom", s, AP_DOMAIN_PAGING);
	uint8_t buf[SZ_4K + 16] = { 0 };

	(void)state;
	mk_ram(ctx, 0x100000, SZ_64K);
	mk_ram(ctx, 0x400000, SZ_64K);
	assert_int_equal(ap_map(dom, 0x10000, 0x10f000, SZ_4K, RW), 0);
	assert_int_equal(ap_map(dom, 0x11000, 0x400000, SZ_4K, RW), 0);
	assert_int_equal(ap_attach(dom, d), 0);
	ap_ctx_set_dma_write_observer(ctx, observe, &w);
	assert_int_equal(ap_dma_read(d, 0x10000, buf, 16, NULL), 0);
	assert_int_equal(w.n, 0); /* reads are not writes */
	assert_int_equal(ap_dma_write(d, 0x10ff8, buf, 16, NULL), 0);
	assert_int_equal(w.n, 2); /* two leaves, two RAM regions */
	assert_ptr_equal(w.dev, d);
	assert_int_equal(w.iova[0], 0x10ff8);
	assert_int_equal(w.pa[0], 0x10fff8);
	assert_int_equal(w.len[0], 8);
	assert_int_equal(w.iova[1], 0x11000);
	assert_int_equal(w.pa[1], 0x400000);
	assert_int_equal(w.len[1], 8);
	assert_int_equal(ap_dma_write(d, 0x11ff8, buf, 16, NULL), -EFAULT);
	assert_int_equal(w.n, 2); /* a faulting DMA writes nothing */
	ap_ctx_set_dma_write_observer(ctx, NULL, &w);
	assert_int_equal(ap_dma_write(d, 0x10000, buf, 4, NULL), 0);
	assert_int_equal(w.n, 2);
	ap_ctx_free(ctx);
}

/* ap_replace moves a group in one step; a refusal leaves it where it was. */
static void test_replace(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *s48 = mk_iommu(ctx, "s48", 48, 48, PG_4K_2M_1G);
	struct ap_iommu *s32 = mk_iommu(ctx, "s32", 32, 40, PG_4K_2M_1G);
	struct ap_device *a = mk_dev(ctx, "a", s32, 1, 3);
	struct ap_device *a2 = mk_dev(ctx, "a2", s32, 2, 3);
	struct ap_domain *blk = mk_dom(ctx, "blk", s32, AP_DOMAIN_BLOCKED);
	struct ap_domain *big = mk_dom(ctx, "big", s48, AP_DOMAIN_PAGING);
	struct ap_domain *small = mk_dom(ctx, "small", s32, AP_DOMAIN_PAGING);
	struct ap_translation t;

	(void)state;
	mk_ram(ctx, 0x100000, SZ_64K);
	assert_int_equal(ap_replace(blk, a), 0); /* from no domain: an attach */
	assert_ptr_equal(ap_device_domain(a2), blk);
	assert_int_equal(ap_map(big, 0x100000000ull, 0x100000, SZ_4K, RW), 0);
	assert_int_equal(ap_replace(big, a), -EADDRINUSE); /* strands the mapping */
	assert_ptr_equal(ap_device_domain(a), blk);
	assert_int_equal(ap_translate(a, 0x1000, AP_ACCESS_READ, &t, NULL), -EFAULT);
	assert_int_equal(ap_attach(small, a), -EBUSY);
	assert_int_equal(ap_map(small, 0x1000, 0x100000, SZ_4K, RW), 0);
	assert_int_equal(ap_replace(small, a), 0);
	assert_ptr_equal(ap_device_domain(a2), small);
	assert_int_equal(ap_translate(a2, 0x1000, AP_ACCESS_READ, &t, NULL), 0);
	assert_int_equal(ap_domain_free(blk), 0); /* nothing left on it */
	assert_int_equal(ap_replace(small, a), 0); /* already there */
	assert_int_equal(ap_unmap(big, 0x100000000ull, SZ_4K, NULL), 0);
	assert_int_equal(ap_replace(big, a2), 0); /* a shared move narrows */
	assert_int_equal(ap_domain_free(small), 0);
	assert_int_equal(ap_replace(NULL, a), -EINVAL);
	ap_ctx_free(ctx);
}

/* A failed map leaves the table structure as it found it: an empty table a
 * block displaced on the way is put back, not freed (review finding). */
static void test_failed_map_keeps_tables(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config cfg;
	struct ap_iommu *iommu;
	struct ap_domain *dom;
	const struct ap_pt *pt;
	uint64_t got, bytes, pa;

	(void)state;
	ap_iommu_config_init(&cfg, AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(ap_iommu_new(ctx, "s", &cfg, &iommu), 0);
	assert_int_equal(ap_domain_new(ctx, "d", iommu, AP_DOMAIN_PAGING, &dom), 0);
	pt = ap_domain_pt(dom);
	/* leave an empty L3 table under 0x3fe00000, and a live page at 1 GiB */
	assert_int_equal(ap_map(dom, 0x3fe00000, 0x1000, 0x1000, AP_PROT_READ), 0);
	assert_int_equal(ap_unmap(dom, 0x3fe00000, 0x1000, &got), 0);
	assert_int_equal(ap_map(dom, 0x40000000, 0x1000, 0x1000, AP_PROT_READ), 0);
	bytes = ap_pt_table_bytes(pt);
	/* 2M at 0x3fe00000 replaces the empty table, then 1 GiB collides */
	assert_int_equal(ap_map(dom, 0x3fe00000, 0x7fe00000, 0x400000, AP_PROT_READ), -EEXIST);
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	assert_int_equal(ap_pt_leaf_count(pt), 1);
	assert_false(ap_domain_iova_to_phys(dom, 0x3fe00000, &pa));
	/* the table is back where it was: a 4K map needs no new one */
	assert_int_equal(ap_map(dom, 0x3fe00000, 0x2000, 0x1000, AP_PROT_READ), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes);
	/* and a successful map over it frees it, as Linux does */
	assert_int_equal(ap_unmap(dom, 0x3fe00000, 0x1000, &got), 0);
	assert_int_equal(ap_map(dom, 0x3fe00000, 0x7fe00000, 0x200000, AP_PROT_READ), 0);
	assert_int_equal(ap_pt_table_bytes(pt), bytes - 0x1000);
	ap_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ram),
		cmocka_unit_test(test_iommu_config),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_devices_groups),
		cmocka_unit_test(test_domain_geometry),
		cmocka_unit_test(test_hetero_attach),
		cmocka_unit_test(test_hetero_small_owner),
		cmocka_unit_test(test_hetero_pgsizes),
		cmocka_unit_test(test_map_unmap),
		cmocka_unit_test(test_dma_ram),
		cmocka_unit_test(test_dma_small_lengths),
		cmocka_unit_test(test_dma_ram_remembered),
		cmocka_unit_test(test_dma_faults),
		cmocka_unit_test(test_dma_partial),
		cmocka_unit_test(test_evtq_overflow),
		cmocka_unit_test(test_bypass),
		cmocka_unit_test(test_domain_free),
		cmocka_unit_test(test_table_window),
		cmocka_unit_test(test_table_window_reused),
		cmocka_unit_test(test_table_window_granules),
		cmocka_unit_test(test_frontend_state),
		cmocka_unit_test(test_frontend_destroy_before_core),
		cmocka_unit_test(test_ram_remove),
		cmocka_unit_test(test_ram_remove_many),
		cmocka_unit_test(test_ram_many),
		cmocka_unit_test(test_dma_write_observer),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_failed_map_keeps_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
