/* SPDX-License-Identifier: MIT */
/*
 * IOMMU kinds as modules: the registry, options as text (a round trip for
 * random configurations of every kind), capability checks and what each
 * kind answers (tags, capabilities, reserved windows, register views); the
 * arm-smmu kind's context banks and stream match registers; and the core's
 * RAM placement against a brute-force model.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <aperture/aperture.h>

#include "expect.h"
#include "failnth.h"
#include "rng.h"

#define SEED 20261202u

/* ------------------------------------------------------------ registry */

static void test_registry(void **state)
{
	enum ap_iommu_kind k, seen[8];
	struct ap_iommu_config c;
	struct ap_ctx *ctx = ap_ctx_new();
	char name[32], text[256];
	unsigned n = 0, i;

	(void)state;
	for (k = ap_iommu_kind_next(0); k; k = ap_iommu_kind_next(k)) {
		assert_true(n < 8);
		for (i = 0; i < n; i++)
			assert_int_not_equal(seen[i], k);
		seen[n++] = k;
		assert_int_equal(ap_iommu_kind_from_name(ap_iommu_kind_name(k)), k);
		ap_iommu_config_init(&c, k);
		assert_int_equal(c.kind, k);
		/* the defaults are a valid instance, and nothing to write */
		snprintf(name, sizeof(name), "k%u", (unsigned)k);
		EXPECT(!ap_iommu_new(ctx, name, &c, NULL), "defaults of %s: %s",
		       ap_iommu_kind_name(k), ap_ctx_error(ctx));
		assert_int_equal(ap_iommu_config_format(&c, text, sizeof(text)), 0);
		assert_string_equal(text, "");
		assert_true(strstr(ap_iommu_config_usage(k), "ias=N") != NULL);
	}
	assert_int_equal(n, 4);
	assert_int_equal(ap_iommu_kind_next((enum ap_iommu_kind)77), 0);
	assert_string_equal(ap_iommu_config_usage((enum ap_iommu_kind)77), "");
	ap_iommu_config_init(&c, (enum ap_iommu_kind)77);
	assert_int_equal(c.kind, 0);
	assert_int_equal(ap_iommu_new(ctx, "nokind", &c, NULL), -EINVAL);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ options */

struct option_values {
	const char *key;
	const char *values[8];
};

static const struct option_values generic_opts[] = {
	{ "ias", { "32", "39", "40", "48", "0x30" } },
	{ "oas", { "32", "36", "40", "44", "48" } },
	{ "pgsizes", { "4K", "4K,2M", "4K,2M,1G", "64K,512M", "4K,64K", "16K,32M" } },
	{ "unmatched", { "abort", "bypass" } },
	{ "aperture", { "forced", "open" } },
	{ "evtq", { "1", "128", "4096" } },
	{ "coherent", { "yes", "no" } },
	{ "hostpage", { "4K", "16K", "64K" } },
	{ "iotlb", { "off", "2", "4096", "1M" } },
};

static const struct option_values v3_opts[] = { { "stage", { "1", "2" } } };
static const struct option_values vtd_opts[] = {
	{ "stage", { "2" } },
	{ "sagaw", { "39", "48", "57", "39,48", "48,57", "39,48,57" } },
};
static const struct option_values smmu_opts[] = {
	{ "stage", { "1", "2" } },
	{ "context-banks", { "1", "8", "128" } },
	{ "s2-context-banks", { "0", "1", "4" } },
	{ "smrs", { "0", "1", "48", "128" } },
	{ "streamid-bits", { "1", "10", "15", "16" } },
};
static const struct option_values virtio_opts[] = {
	{ "domain-start", { "0", "1", "100" } },
	{ "domain-end", { "0", "255", "0xffffffff" } },
	{ "bypass", { "0", "1" } },
	{ "msi", { "none", "0xfee00000,1M", "0x8000000,64K" } },
};
static const char *const smmu_models[] = { "smmu-v1", "smmu-v2", "mmu-400", "mmu-401",
					   "mmu-500" };

static size_t nvalues(const struct option_values *o)
{
	size_t n = 0;

	while (n < 8 && o->values[n])
		n++;
	return n;
}

static void set_random(struct ap_iommu_config *c, const struct option_values *opts, size_t n)
{
	const struct option_values *o = &opts[rnd_below(n)];
	const char *v = o->values[rnd_below(nvalues(o))];

	EXPECT(!ap_iommu_config_set(c, o->key, v, NULL), "%s=%s on %s", o->key, v,
	       ap_iommu_kind_name(c->kind));
}

/* Parse the words of `text` into a fresh configuration of `kind`. */
static void parse_words(enum ap_iommu_kind kind, const char *text, struct ap_iommu_config *out)
{
	char buf[512], *save = NULL, *w;

	ap_iommu_config_init(out, kind);
	snprintf(buf, sizeof(buf), "%s", text);
	for (w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(w, '=');

		assert_non_null(eq);
		*eq = '\0';
		EXPECT(!ap_iommu_config_set(out, w, eq + 1, NULL), "reading back %s=%s", w, eq + 1);
	}
}

/* Whatever options set, ap_iommu_config_format writes what reads back to
 * the same configuration. */
static void test_options_round_trip(void **state)
{
	enum ap_iommu_kind kinds[] = { AP_IOMMU_ARM_SMMU_V3, AP_IOMMU_INTEL_VTD, AP_IOMMU_ARM_SMMU,
				       AP_IOMMU_VIRTIO_IOMMU };
	unsigned iter;

	(void)state;
	rnd_seed(SEED);
	print_message("seed %u\n", SEED);
	for (iter = 0; iter < 3000; iter++) {
		enum ap_iommu_kind k = kinds[rnd_below(4)];
		struct ap_iommu_config c, back;
		char text[512];
		size_t len, n = rnd_below(6);

		ap_iommu_config_init(&c, k);
		if (k == AP_IOMMU_ARM_SMMU && chance(70))
			assert_int_equal(ap_iommu_config_set(&c, "model",
							     smmu_models[rnd_below(5)], NULL), 0);
		while (n--) {
			if (chance(50))
				set_random(&c, generic_opts, sizeof(generic_opts) / sizeof(generic_opts[0]));
			else if (k == AP_IOMMU_ARM_SMMU_V3)
				set_random(&c, v3_opts, 1);
			else if (k == AP_IOMMU_INTEL_VTD)
				set_random(&c, vtd_opts, 2);
			else if (k == AP_IOMMU_VIRTIO_IOMMU)
				set_random(&c, virtio_opts,
					   sizeof(virtio_opts) / sizeof(virtio_opts[0]));
			else
				set_random(&c, smmu_opts, sizeof(smmu_opts) / sizeof(smmu_opts[0]));
		}
		len = ap_iommu_config_format(&c, text, sizeof(text));
		assert_int_equal(len, strlen(text));
		parse_words(k, text, &back);
		EXPECT(!memcmp(&c, &back, sizeof(c)), "iteration %u: %s options '%s' read back "
		       "differently", iter, ap_iommu_kind_name(k), text);
	}
}

/* A short buffer gets a terminated prefix, and the length it would need. */
static void test_options_format_short(void **state)
{
	struct ap_iommu_config c;
	char full[256], small[8];
	size_t need;

	(void)state;
	ap_iommu_config_init(&c, AP_IOMMU_INTEL_VTD);
	assert_int_equal(ap_iommu_config_set(&c, "sagaw", "39,57", NULL), 0);
	assert_int_equal(ap_iommu_config_set(&c, "ias", "57", NULL), 0);
	need = ap_iommu_config_format(&c, full, sizeof(full));
	assert_string_equal(full, "sagaw=39,57 ias=57");
	assert_int_equal(ap_iommu_config_format(&c, small, sizeof(small)), need);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, full, sizeof(small) - 1);
	assert_int_equal(ap_iommu_config_format(&c, NULL, 0), need);
}

static void test_options_errors(void **state)
{
	static const struct {
		enum ap_iommu_kind kind;
		const char *key, *value;
		int err;
	} cases[] = {
		{ AP_IOMMU_ARM_SMMU_V3, "colour", "blue", -ENOENT },
		{ AP_IOMMU_ARM_SMMU_V3, "sagaw", "48", -ENOENT },
		{ AP_IOMMU_ARM_SMMU_V3, "model", "mmu-500", -ENOENT },
		{ AP_IOMMU_INTEL_VTD, "smrs", "4", -ENOENT },
		{ AP_IOMMU_ARM_SMMU, "sagaw", "48", -ENOENT },
		{ AP_IOMMU_ARM_SMMU_V3, "ias", "forty", -EINVAL },
		{ AP_IOMMU_ARM_SMMU_V3, "ias", "0x100000000", -EINVAL },
		{ AP_IOMMU_ARM_SMMU_V3, "pgsizes", "4K,3K", -EINVAL },
		{ AP_IOMMU_ARM_SMMU_V3, "pgsizes", "", -EINVAL },
		{ AP_IOMMU_ARM_SMMU_V3, "unmatched", "maybe", -EINVAL },
		{ AP_IOMMU_ARM_SMMU_V3, "coherent", "Yes", -EINVAL },
		{ AP_IOMMU_ARM_SMMU_V3, "iotlb", "on", -EINVAL },
		{ AP_IOMMU_INTEL_VTD, "sagaw", "40", -EINVAL },
		{ AP_IOMMU_INTEL_VTD, "sagaw", "39,x", -EINVAL },
		{ AP_IOMMU_INTEL_VTD, "sagaw", ",", -EINVAL },
		{ AP_IOMMU_ARM_SMMU, "model", "mmu-600", -EINVAL },
		{ AP_IOMMU_ARM_SMMU, "context-banks", "-1", -EINVAL },
		{ AP_IOMMU_VIRTIO_IOMMU, "sagaw", "48", -ENOENT },
		{ AP_IOMMU_VIRTIO_IOMMU, "stage", "1", -ENOENT },
		{ AP_IOMMU_VIRTIO_IOMMU, "bypass", "yes", -EINVAL },
		{ AP_IOMMU_VIRTIO_IOMMU, "msi", "0xfee00000", -EINVAL },
		{ AP_IOMMU_VIRTIO_IOMMU, "msi", "0xfee00000,0", -EINVAL },
		{ AP_IOMMU_VIRTIO_IOMMU, "domain-end", "0x100000000", -EINVAL },
		{ AP_IOMMU_INTEL_VTD, "msi", "none", -ENOENT },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ap_iommu_config c, was;
		const char *expected = NULL;

		ap_iommu_config_init(&c, cases[i].kind);
		was = c;
		EXPECT(ap_iommu_config_set(&c, cases[i].key, cases[i].value, &expected) ==
			       cases[i].err, "%s %s=%s", ap_iommu_kind_name(cases[i].kind),
		       cases[i].key, cases[i].value);
		assert_memory_equal(&c, &was, sizeof(c)); /* nothing half-set */
		assert_non_null(expected);
		assert_true(strlen(expected) > 0);
	}
	assert_int_equal(ap_iommu_config_set(NULL, "ias", "48", NULL), -EINVAL);

	/* a model sets the defaults of what follows: after them it would
	 * silently undo them, so it is refused; after other options it is not */
	{
		struct ap_iommu_config c, was;
		const char *expected = NULL;
		static const char *const before[][2] = {
			{ "ias", "40" }, { "pgsizes", "4K" }, { "context-banks", "4" },
			{ "stage", "2" }, { "smrs", "0" },
		};
		size_t k;

		for (k = 0; k < sizeof(before) / sizeof(before[0]); k++) {
			ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU);
			assert_int_equal(ap_iommu_config_set(&c, before[k][0], before[k][1], NULL), 0);
			was = c;
			EXPECT(ap_iommu_config_set(&c, "model", "smmu-v2", &expected) == -EINVAL,
			       "model= after %s=", before[k][0]);
			assert_memory_equal(&c, &was, sizeof(c));
			assert_non_null(strstr(expected, "before"));
		}
		ap_iommu_config_init(&c, AP_IOMMU_ARM_SMMU);
		assert_int_equal(ap_iommu_config_set(&c, "unmatched", "bypass", NULL), 0);
		assert_int_equal(ap_iommu_config_set(&c, "model", "mmu-401", NULL), 0);
		assert_int_equal(c.arm_smmu.model, AP_ARM_MMU_401);
		assert_int_equal(c.unmatched, AP_UNMATCHED_BYPASS);
		/* the same model twice is harmless; another is a change of mind */
		assert_int_equal(ap_iommu_config_set(&c, "model", "mmu-401", NULL), 0);
		assert_int_equal(ap_iommu_config_set(&c, "model", "mmu-500", NULL), 0);
	}
}

/* ------------------------------------------------------------ arm-smmu */

struct smmu_case {
	const char *what;
	const char *opts[4]; /* key=value words, model first */
	int err;
};

static int new_with(struct ap_ctx *ctx, const char *name, enum ap_iommu_kind kind,
		    const char *const *opts, size_t nopts, struct ap_iommu **out)
{
	struct ap_iommu_config c;
	char key[32];
	size_t i;

	ap_iommu_config_init(&c, kind);
	for (i = 0; i < nopts && opts[i]; i++) {
		const char *eq = strchr(opts[i], '=');

		snprintf(key, sizeof(key), "%.*s", (int)(eq - opts[i]), opts[i]);
		assert_int_equal(ap_iommu_config_set(&c, key, eq + 1, NULL), 0);
	}
	return ap_iommu_new(ctx, name, &c, out);
}

static void test_arm_smmu_checks(void **state)
{
	static const struct smmu_case cases[] = {
		{ "mmu-500 defaults", { NULL }, 0 },
		{ "mmu-401 has no stage 1", { "model=mmu-401", "stage=1" }, -EINVAL },
		{ "stage 3", { "stage=3" }, -EINVAL },
		{ "no context bank", { "context-banks=0" }, -EINVAL },
		{ "129 banks", { "context-banks=129" }, -EINVAL },
		{ "more s2 banks than banks", { "context-banks=4", "s2-context-banks=5" }, -EINVAL },
		{ "all banks stage-2 only", { "context-banks=4", "s2-context-banks=4" }, 0 },
		{ "129 SMRs", { "smrs=129" }, -EINVAL },
		{ "stream indexing", { "smrs=0" }, 0 },
		{ "0-bit stream IDs", { "streamid-bits=0" }, -EINVAL },
		{ "17-bit stream IDs", { "streamid-bits=17" }, -EINVAL },
		{ "ias 39 is no ID2 size", { "ias=39" }, -EINVAL },
		{ "ias 52", { "ias=52" }, -EINVAL },
		{ "oas 52", { "oas=52" }, -EINVAL },
		{ "SMMUv1 stage-1 input above 32", { "model=smmu-v1", "ias=36" }, -EINVAL },
		{ "SMMUv1 stage-2 input 40", { "model=smmu-v1", "stage=2", "ias=40" }, 0 },
		{ "SMMUv1 stage-2 input 42", { "model=smmu-v1", "stage=2", "ias=42" }, -EINVAL },
		{ "SMMUv1 output 44", { "model=mmu-400", "oas=44" }, -EINVAL },
		{ "SMMUv1 16K granule", { "model=smmu-v1", "pgsizes=16K" }, -EINVAL },
		{ "MMU-401 64K granule", { "model=mmu-401", "pgsizes=64K,512M" }, 0 },
		{ "MMU-401 stage-2 banks", { "model=mmu-401", "s2-context-banks=0" }, 0 },
		{ "MMU-500 without 16K", { "pgsizes=16K,32M" }, -EINVAL },
		{ "SMMUv2 16K", { "model=smmu-v2", "pgsizes=16K,32M" }, 0 },
		{ "no granule", { "pgsizes=2M" }, -EINVAL },
	};
	struct ap_ctx *ctx = ap_ctx_new();
	char name[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ap_iommu *out = (struct ap_iommu *)0x1;
		int err;

		snprintf(name, sizeof(name), "s%zu", i);
		err = new_with(ctx, name, AP_IOMMU_ARM_SMMU, cases[i].opts, 4, &out);
		EXPECT(err == cases[i].err, "%s: %d (%s)", cases[i].what, err, ap_ctx_error(ctx));
		if (err) {
			assert_ptr_equal(out, (struct ap_iommu *)0x1);
			assert_null(ap_iommu_find(ctx, name));
			assert_true(strlen(ap_ctx_error(ctx)) > 0);
		}
	}
	ap_ctx_free(ctx);
}

static void test_virtio_iommu_checks(void **state)
{
	static const struct smmu_case cases[] = {
		{ "defaults", { NULL }, 0 },
		{ "unattached endpoints bypass from the start", { "unmatched=bypass" }, -EINVAL },
		{ "an empty domain range", { "domain-start=9", "domain-end=8" }, -EINVAL },
		{ "one domain", { "domain-start=8", "domain-end=8" }, 0 },
		{ "bypass 2", { "bypass=2" }, -EINVAL },
		{ "boot bypass 1", { "bypass=1" }, 0 },
		{ "an MSI window that wraps", { "msi=0xfffffffffff00000,2M" }, -EINVAL },
		{ "no MSI window", { "msi=none" }, 0 },
		{ "ias 31", { "ias=31" }, -EINVAL },
		{ "ias 52", { "ias=52", "pgsizes=64K" }, 0 },
		{ "oas 38", { "oas=38" }, -EINVAL },
		{ "VT-d's page sizes only", { "pgsizes=4K,2M,1G" }, 0 },
		{ "no granule", { "pgsizes=2M" }, -EINVAL },
	};
	struct ap_ctx *ctx = ap_ctx_new();
	char name[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err;

		snprintf(name, sizeof(name), "v%zu", i);
		err = new_with(ctx, name, AP_IOMMU_VIRTIO_IOMMU, cases[i].opts, 4, NULL);
		EXPECT(err == cases[i].err, "%s: %d (%s)", cases[i].what, err, ap_ctx_error(ctx));
	}
	ap_ctx_free(ctx);
}

/* Banks as tags: ASID = bank (stage 1, from NUMS2CB up), VMID = bank + 1
 * (stage 2, from 0); freed with the attachment. */
static void test_arm_smmu_banks_as_tags(void **state)
{
	static const char *const s1[] = { "context-banks=4", "s2-context-banks=2" };
	static const char *const s2[] = { "stage=2", "context-banks=2" };
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *a, *b;
	struct ap_device *dev[3], *w[3];
	struct ap_domain *dom[3], *v[3];
	char name[16];
	int i;

	(void)state;
	assert_int_equal(new_with(ctx, "a", AP_IOMMU_ARM_SMMU, s1, 2, &a), 0);
	assert_int_equal(new_with(ctx, "b", AP_IOMMU_ARM_SMMU, s2, 2, &b), 0);
	assert_string_equal(ap_iommu_tag_name(a), "context bank");
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		assert_int_equal(ap_device_new(ctx, name, a, (uint32_t)i, AP_GROUP_OWN, &dev[i]), 0);
		snprintf(name, sizeof(name), "w%d", i);
		assert_int_equal(ap_device_new(ctx, name, b, (uint32_t)i, AP_GROUP_OWN, &w[i]), 0);
		snprintf(name, sizeof(name), "dom%d", i);
		assert_int_equal(ap_domain_new(ctx, name, a, AP_DOMAIN_PAGING, &dom[i]), 0);
		snprintf(name, sizeof(name), "v%d", i);
		assert_int_equal(ap_domain_new(ctx, name, b, AP_DOMAIN_PAGING, &v[i]), 0);
	}
	assert_int_equal(ap_attach(dom[0], dev[0]), 0);
	assert_int_equal(ap_domain_tag(dom[0], a), 2); /* ASID = bank 2 */
	assert_int_equal(ap_attach(dom[1], dev[1]), 0);
	assert_int_equal(ap_domain_tag(dom[1], a), 3);
	assert_int_equal(ap_attach(dom[2], dev[2]), -ENOSPC);
	assert_int_equal(ap_domain_tag(dom[2], a), -ENOENT);
	assert_null(ap_device_domain(dev[2]));
	assert_int_equal(ap_detach(dev[0]), 0);
	assert_int_equal(ap_attach(dom[2], dev[2]), 0);
	assert_int_equal(ap_domain_tag(dom[2], a), 2); /* the freed bank */

	assert_int_equal(ap_attach(v[0], w[0]), 0);
	assert_int_equal(ap_domain_tag(v[0], b), 1); /* VMID = bank 0 + 1 */
	assert_int_equal(ap_attach(v[1], w[1]), 0);
	assert_int_equal(ap_domain_tag(v[1], b), 2);
	assert_int_equal(ap_attach(v[2], w[2]), -ENOSPC);
	ap_ctx_free(ctx);
}

/* Running out of context banks on a narrower instance changes nothing,
 * not even the path tables its walker would have entered through. */
static void test_arm_smmu_enospc_changes_nothing(void **state)
{
	static const char *const narrow[] = { "model=mmu-400", "ias=32", "context-banks=1" };
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *v3, *mmu;
	struct ap_device *a, *b, *c;
	struct ap_domain *wide, *other;
	struct ap_geometry g0, g1;
	uint64_t bytes, allocs, bytes0, allocs0, tables;

	(void)state;
	assert_int_equal(new_with(ctx, "v3", AP_IOMMU_ARM_SMMU_V3, NULL, 0, &v3), 0);
	assert_int_equal(new_with(ctx, "mmu", AP_IOMMU_ARM_SMMU, narrow, 3, &mmu), 0);
	assert_int_equal(ap_device_new(ctx, "a", v3, 1, AP_GROUP_OWN, &a), 0);
	assert_int_equal(ap_device_new(ctx, "b", mmu, 1, AP_GROUP_OWN, &b), 0);
	assert_int_equal(ap_device_new(ctx, "c", mmu, 2, AP_GROUP_OWN, &c), 0);
	assert_int_equal(ap_domain_new(ctx, "wide", v3, AP_DOMAIN_PAGING, &wide), 0);
	assert_int_equal(ap_domain_new(ctx, "other", mmu, AP_DOMAIN_PAGING, &other), 0);
	assert_int_equal(ap_attach(wide, a), 0);
	assert_int_equal(ap_attach(other, c), 0); /* the one bank */
	tables = ap_pt_table_bytes(ap_domain_pt(wide));
	ap_domain_geometry(wide, &g0);
	ap_ctx_mem_stats(ctx, &allocs0, &bytes0);
	assert_int_equal(ap_attach(wide, b), -ENOSPC);
	ap_ctx_mem_stats(ctx, &allocs, &bytes);
	ap_domain_geometry(wide, &g1);
	assert_int_equal(ap_pt_table_bytes(ap_domain_pt(wide)), tables);
	assert_int_equal(allocs, allocs0);
	assert_int_equal(bytes, bytes0);
	assert_memory_equal(&g0, &g1, sizeof(g0));
	assert_null(ap_device_domain(b));
	ap_ctx_free(ctx);
}

/* A device that shares an SMR shares its group; the API's answers. */
static void test_arm_smmu_smr_groups(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_device_config dc = { .sid = 0x40, .sid_mask = 0x7, .group = 3 };
	struct ap_device *a, *b, *c;
	struct ap_iommu *mmu, *v3;

	(void)state;
	assert_int_equal(new_with(ctx, "mmu", AP_IOMMU_ARM_SMMU, NULL, 0, &mmu), 0);
	assert_int_equal(ap_iommu_new(ctx, "v3", &(struct ap_iommu_config){ 0 }, &v3), -EINVAL);
	assert_int_equal(new_with(ctx, "v3", AP_IOMMU_ARM_SMMU_V3, NULL, 0, &v3), 0);
	assert_int_equal(ap_device_add(ctx, "a", mmu, &dc, &a), 0);
	assert_int_equal(ap_device_sid_mask(a), 0x7);
	dc = (struct ap_device_config){ .sid = 0x45, .sid_mask = 0, .group = AP_GROUP_OWN };
	assert_int_equal(ap_device_add(ctx, "b", mmu, &dc, &b), 0);
	assert_int_equal(ap_device_group_id(b), 3);
	dc.sid = 0x48;
	assert_int_equal(ap_device_add(ctx, "c", mmu, &dc, &c), 0);
	assert_int_not_equal(ap_device_group_id(c), 3);
	/* a kind that matches exactly takes no mask, and one device a stream */
	dc = (struct ap_device_config){ .sid = 1, .sid_mask = 1, .group = AP_GROUP_OWN };
	assert_int_equal(ap_device_add(ctx, "m", v3, &dc, NULL), -EINVAL);
	dc.sid_mask = 0;
	assert_int_equal(ap_device_add(ctx, "m", v3, &dc, NULL), 0);
	assert_int_equal(ap_device_add(ctx, "m2", v3, &dc, NULL), -EEXIST);
	assert_int_equal(ap_device_add(ctx, "m3", v3, NULL, NULL), -EINVAL);
	ap_ctx_free(ctx);
}

/* Every allocation of an arm-smmu instance can fail, leaving nothing. */
struct mem_snap {
	struct ap_ctx *ctx;
	uint64_t allocs, bytes;
};

static void mem_before(void *p)
{
	struct mem_snap *m = p;

	ap_ctx_mem_stats(m->ctx, &m->allocs, &m->bytes);
}

static void mem_unchanged(void *p, const char *flow, unsigned long n)
{
	struct mem_snap *m = p;
	uint64_t allocs, bytes;

	ap_ctx_mem_stats(m->ctx, &allocs, &bytes);
	EXPECT(allocs == m->allocs && bytes == m->bytes && !ap_iommu_find(m->ctx, "mmu"),
	       "%s, n=%lu: something was left behind", flow, n);
}

static int step_new_smmu(void *ctx)
{
	return new_with(ctx, "mmu", AP_IOMMU_ARM_SMMU, NULL, 0, NULL);
}

static void test_arm_smmu_failnth(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct mem_snap m = { ctx, 0, 0 };
	struct failnth_flow f = { "arm-smmu instance", ctx, step_new_smmu, ctx, mem_before,
				  mem_unchanged, &m };

	(void)state;
	/* instance, event queue, IOTLB, its state, its SMRs */
	assert_true(failnth_run(&f) >= 5);
	assert_non_null(ap_iommu_find(ctx, "mmu"));
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ answers */

static void test_capabilities_and_windows(void **state)
{
	static const char *const incoherent[] = { "coherent=no" };
	struct ap_ctx *ctx = ap_ctx_new();
	static const char *const nomsi[] = { "msi=none" };
	struct ap_iommu *v3, *v3nc, *vtd, *mmu, *vio, *vio0;
	struct ap_device *d3, *dv, *dm, *dvio, *dvio0;
	struct ap_resv r;

	(void)state;
	assert_int_equal(new_with(ctx, "vio", AP_IOMMU_VIRTIO_IOMMU, NULL, 0, &vio), 0);
	assert_int_equal(new_with(ctx, "vio0", AP_IOMMU_VIRTIO_IOMMU, nomsi, 1, &vio0), 0);
	assert_true(ap_iommu_capable(vio, AP_CAP_CACHE_COHERENCY));
	assert_false(ap_iommu_capable(vio, AP_CAP_NOEXEC)); /* MAP has no exec flag */
	assert_int_equal(ap_iommu_domain_format(vio), AP_PT_ARM_LPAE_S2);
	assert_int_equal(ap_device_new(ctx, "dvio", vio, 1, AP_GROUP_OWN, &dvio), 0);
	assert_int_equal(ap_device_new(ctx, "dvio0", vio0, 1, AP_GROUP_OWN, &dvio0), 0);
	assert_int_equal(ap_device_resv(dvio, 0, &r), 0);
	assert_true(r.start == 0xfee00000 && r.end == 0xfeefffff && r.type == AP_RESV_MSI);
	assert_int_equal(ap_device_resv(dvio0, 0, &r), -ENOENT);
	assert_int_equal(new_with(ctx, "v3", AP_IOMMU_ARM_SMMU_V3, NULL, 0, &v3), 0);
	assert_int_equal(new_with(ctx, "v3nc", AP_IOMMU_ARM_SMMU_V3, incoherent, 1, &v3nc), 0);
	assert_int_equal(new_with(ctx, "vtd", AP_IOMMU_INTEL_VTD, NULL, 0, &vtd), 0);
	assert_int_equal(new_with(ctx, "mmu", AP_IOMMU_ARM_SMMU, NULL, 0, &mmu), 0);
	assert_true(ap_iommu_capable(v3, AP_CAP_CACHE_COHERENCY));
	assert_false(ap_iommu_capable(v3nc, AP_CAP_CACHE_COHERENCY));
	assert_true(ap_iommu_capable(vtd, AP_CAP_CACHE_COHERENCY));
	assert_true(ap_iommu_capable(mmu, AP_CAP_CACHE_COHERENCY));
	assert_true(ap_iommu_capable(v3, AP_CAP_NOEXEC));
	assert_false(ap_iommu_capable(vtd, AP_CAP_NOEXEC));
	assert_true(ap_iommu_capable(mmu, AP_CAP_NOEXEC));
	assert_false(ap_iommu_capable(NULL, AP_CAP_NOEXEC));
	assert_int_equal(ap_iommu_domain_format(v3), AP_PT_ARM_LPAE_S1);
	assert_int_equal(ap_iommu_domain_format(vtd), AP_PT_INTEL_VTD_SL);
	assert_int_equal(ap_iommu_domain_format(mmu), AP_PT_ARM_LPAE_S1);
	assert_string_equal(ap_iommu_tag_name(v3), "ASID");
	assert_string_equal(ap_iommu_tag_name(vtd), "domain ID");
	assert_int_equal(ap_device_new(ctx, "d3", v3, 1, AP_GROUP_OWN, &d3), 0);
	assert_int_equal(ap_device_new(ctx, "dv", vtd, 1, AP_GROUP_OWN, &dv), 0);
	assert_int_equal(ap_device_new(ctx, "dm", mmu, 1, AP_GROUP_OWN, &dm), 0);
	assert_int_equal(ap_device_resv(d3, 0, &r), 0);
	assert_true(r.start == 0x8000000 && r.end == 0x80fffff && r.type == AP_RESV_SW_MSI);
	assert_int_equal(ap_device_resv(dm, 0, &r), 0);
	assert_true(r.start == 0x8000000 && r.end == 0x80fffff && r.type == AP_RESV_SW_MSI);
	assert_int_equal(ap_device_resv(dv, 0, &r), 0);
	assert_true(r.start == 0xfee00000 && r.end == 0xfeefffff && r.type == AP_RESV_MSI);
	assert_int_equal(ap_device_resv(dv, 1, &r), -ENOENT);
	ap_ctx_free(ctx);
}

/* What unmatched streams do can change at run time, as a driver rewrites
 * sCR0.USFCFG; translations see it, and so do show and audit. */
static void test_unmatched_at_run_time(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *mmu;
	struct ap_device *d;
	struct ap_translation t;
	struct ap_fault f;

	(void)state;
	assert_int_equal(new_with(ctx, "mmu", AP_IOMMU_ARM_SMMU, NULL, 0, &mmu), 0);
	assert_int_equal(ap_device_new(ctx, "d", mmu, 1, AP_GROUP_OWN, &d), 0);
	assert_int_equal(ap_translate(d, 0x1000, AP_ACCESS_READ, &t, &f), -EFAULT);
	assert_int_equal(f.kind, AP_FAULT_BAD_STREAM);
	assert_int_equal(ap_device_bypasses(d), AP_BYPASS_NONE);
	assert_int_equal(ap_audit(ctx, NULL), 0);
	assert_int_equal(ap_iommu_set_unmatched(mmu, AP_UNMATCHED_BYPASS), 0);
	assert_int_equal(ap_iommu_unmatched(mmu), AP_UNMATCHED_BYPASS);
	assert_int_equal(ap_translate(d, 0x1000, AP_ACCESS_READ, &t, &f), 0);
	assert_true(t.bypass && t.pa == 0x1000);
	assert_int_equal(ap_device_bypasses(d), AP_BYPASS_UNMATCHED);
	assert_int_equal(ap_audit(ctx, NULL), 2); /* the instance and the device */
	assert_int_equal(ap_iommu_set_unmatched(mmu, (enum ap_unmatched)2), -EINVAL);
	assert_int_equal(ap_iommu_set_unmatched(NULL, AP_UNMATCHED_ABORT), -EINVAL);
	assert_int_equal(ap_iommu_set_unmatched(mmu, AP_UNMATCHED_ABORT), 0);
	assert_int_equal(ap_translate(d, 0x1000, AP_ACCESS_READ, &t, &f), -EFAULT);
	ap_ctx_free(ctx);
}

static void test_register_views(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu *v3, *vtd, *mmu;
	struct ap_device *d;
	struct ap_domain *dv3, *dvtd, *dmmu;
	struct ap_reg_view v;
	struct ap_pt_regs r;

	(void)state;
	assert_int_equal(new_with(ctx, "v3", AP_IOMMU_ARM_SMMU_V3, NULL, 0, &v3), 0);
	assert_int_equal(new_with(ctx, "vtd", AP_IOMMU_INTEL_VTD, NULL, 0, &vtd), 0);
	assert_int_equal(new_with(ctx, "mmu", AP_IOMMU_ARM_SMMU, NULL, 0, &mmu), 0);
	assert_int_equal(ap_domain_new(ctx, "dv3", v3, AP_DOMAIN_PAGING, &dv3), 0);
	assert_int_equal(ap_domain_new(ctx, "dvtd", vtd, AP_DOMAIN_PAGING, &dvtd), 0);
	assert_int_equal(ap_domain_new(ctx, "dmmu", mmu, AP_DOMAIN_PAGING, &dmmu), 0);

	assert_int_equal(ap_domain_reg_view(dv3, v3, &v), 0);
	assert_int_equal(ap_domain_regs(dv3, v3, &r), 0);
	assert_string_equal(v.f[0].name, "TTBR0");
	assert_int_equal(v.f[0].value, r.ttbr);
	assert_string_equal(v.f[1].name, "TCR");
	assert_int_equal(v.f[1].value, r.tcr);
	assert_string_equal(v.f[v.n - 1].name, "MAIR");
	assert_int_equal(v.f[v.n - 1].value, r.mair);

	assert_int_equal(ap_domain_reg_view(dvtd, vtd, &v), 0);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.f[0].name, "SLPTPTR");
	assert_string_equal(v.f[1].name, "AW");
	assert_int_equal(v.f[1].style, AP_REG_DEC);

	/* the owner before any attach: no bank yet; then bank 0 */
	assert_int_equal(ap_domain_reg_view(dmmu, mmu, &v), 0);
	assert_string_equal(v.f[0].name, "CB_TTBR0");
	assert_int_equal(ap_device_new(ctx, "d", mmu, 1, AP_GROUP_OWN, &d), 0);
	assert_int_equal(ap_attach(dmmu, d), 0);
	assert_int_equal(ap_domain_reg_view(dmmu, mmu, &v), 0);
	assert_string_equal(v.f[0].name, "CB");
	assert_int_equal(v.f[0].value, 0);
	assert_string_equal(v.f[1].name, "CB_TTBR0");
	assert_string_equal(v.f[v.n - 1].name, "CB_MAIR0");

	assert_int_equal(ap_domain_reg_view(dv3, vtd, &v), -EINVAL);
	assert_int_equal(ap_domain_reg_view(dv3, v3, NULL), -EINVAL);
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ permissions */

/*
 * What each table format does with each permission (doc/formats/): a
 * stage-1 leaf is always readable (AP has no write-only encoding), 'p'
 * refuses unprivileged access; stage 2 and VT-d read and write exactly as
 * mapped and have no privilege check; 'n' refuses fetches on LPAE and is
 * ignored on VT-d.  Every kind, every prot, every access.
 */
enum { F_S1, F_S2, F_VTD };

static bool allowed_by(int fmt, unsigned prot, unsigned access)
{
	bool r = access & AP_ACCESS_READ, w = access & AP_ACCESS_WRITE;
	bool x = access & AP_ACCESS_EXEC, priv = access & AP_ACCESS_PRIV;

	switch (fmt) {
	case F_S1:
		if ((prot & AP_PROT_PRIV) && !priv)
			return false;
		if (w && !(prot & AP_PROT_WRITE))
			return false;
		return !(x && (prot & AP_PROT_NOEXEC));
	case F_S2:
		if ((r && !(prot & AP_PROT_READ)) || (w && !(prot & AP_PROT_WRITE)))
			return false;
		return !(x && (prot & AP_PROT_NOEXEC));
	default:
		return !(r && !(prot & AP_PROT_READ)) && !(w && !(prot & AP_PROT_WRITE));
	}
}

static void test_permission_matrix(void **state)
{
	static const struct {
		const char *name;
		enum ap_iommu_kind kind;
		const char *opts[2];
		int fmt;
	} insts[] = {
		{ "v3s1", AP_IOMMU_ARM_SMMU_V3, { NULL }, F_S1 },
		{ "v3s2", AP_IOMMU_ARM_SMMU_V3, { "stage=2" }, F_S2 },
		{ "vtd", AP_IOMMU_INTEL_VTD, { NULL }, F_VTD },
		{ "mmus1", AP_IOMMU_ARM_SMMU, { NULL }, F_S1 },
		{ "mmus2", AP_IOMMU_ARM_SMMU, { "stage=2" }, F_S2 },
		{ "virtio", AP_IOMMU_VIRTIO_IOMMU, { NULL }, F_S2 },
	};
	static const unsigned prots[] = {
		AP_PROT_READ, AP_PROT_WRITE, AP_PROT_READ | AP_PROT_WRITE,
		AP_PROT_READ | AP_PROT_PRIV, AP_PROT_WRITE | AP_PROT_PRIV,
		AP_PROT_READ | AP_PROT_NOEXEC, AP_PROT_READ | AP_PROT_WRITE | AP_PROT_NOEXEC,
		AP_PROT_READ | AP_PROT_WRITE | AP_PROT_PRIV | AP_PROT_NOEXEC,
	};
	struct ap_ctx *ctx = ap_ctx_new();
	size_t i, p;
	unsigned a;

	(void)state;
	for (i = 0; i < sizeof(insts) / sizeof(insts[0]); i++) {
		struct ap_iommu *iommu;
		struct ap_device *dev;
		struct ap_domain *dom;
		char name[16];

		assert_int_equal(new_with(ctx, insts[i].name, insts[i].kind, insts[i].opts, 1, &iommu),
				 0);
		snprintf(name, sizeof(name), "d%zu", i);
		assert_int_equal(ap_device_new(ctx, name, iommu, 1, AP_GROUP_OWN, &dev), 0);
		snprintf(name, sizeof(name), "dom%zu", i);
		assert_int_equal(ap_domain_new(ctx, name, iommu, AP_DOMAIN_PAGING, &dom), 0);
		assert_int_equal(ap_attach(dom, dev), 0);
		for (p = 0; p < sizeof(prots) / sizeof(prots[0]); p++)
			assert_int_equal(ap_map(dom, 0x100000 * (p + 1), 0x80000000, 4096, prots[p]), 0);
		for (p = 0; p < sizeof(prots) / sizeof(prots[0]); p++) {
			for (a = 1; a < 16; a++) { /* every access but "none" */
				struct ap_fault f;
				int err = ap_translate(dev, 0x100000 * (p + 1), a, NULL, &f);
				bool want = allowed_by(insts[i].fmt, prots[p], a);

				EXPECT(want == !err && (!err || f.kind == AP_FAULT_PERMISSION),
				       "%s: prot 0x%x access 0x%x: %s, rule says %s", insts[i].name,
				       prots[p], a, err ? ap_fault_kind_name(f.kind) : "allowed",
				       want ? "allowed" : "permission fault");
			}
		}
	}
	ap_ctx_free(ctx);
}

/* ------------------------------------------------------------ RAM placement */

#define WORLD (64ull << 20) /* the model's address space, in 4K frames */
#define FRAMES (WORLD >> 12)

/* Is [p, p + size) clear of the model's RAM and window? */
static bool model_free(const uint8_t *used, uint64_t p, uint64_t size)
{
	uint64_t f;

	for (f = p >> 12; f < (p + size + 4095) >> 12; f++)
		if (f >= FRAMES || used[f])
			return false;
	return true;
}

static void mark(uint8_t *used, uint64_t pa, uint64_t size, uint8_t v)
{
	uint64_t f;

	for (f = pa >> 12; f < (pa + size) >> 12; f++)
		used[f] = v;
}

/* ap_ram_place finds the lowest room there is, never overlaps, and
 * ap_ram_lookup finds every byte's region and owner. */
static void test_ram_place_against_model(void **state)
{
	static uint8_t used[FRAMES], backing[WORLD]; /* untouched pages cost nothing */
	static int owners[256];
	struct ap_ctx *ctx = ap_ctx_new();
	uint64_t wbase, wsize;
	unsigned iter, nregions = 0;

	(void)state;
	rnd_seed(SEED + 1);
	print_message("seed %u\n", SEED + 1);
	memset(used, 0, sizeof(used));
	assert_int_equal(ap_ctx_set_table_window(ctx, 16ull << 20, 4ull << 20), 0);
	ap_ctx_get_table_window(ctx, &wbase, &wsize);
	mark(used, wbase, wsize, 0xff);
	for (iter = 0; iter < 600; iter++) {
		uint64_t align = 1ull << (12 + rnd_below(10)), size = (1 + rnd_below(64)) << 12;
		uint64_t phase = rnd_below(align >> 12) << 12, limit = rnd_below(WORLD) | 0xfff;
		uint64_t pa = 0, want = UINT64_MAX, p;
		int err;

		/* the lowest congruent start whose range fits below the limit */
		for (p = phase; p + size - 1 <= limit && p < WORLD; p += align) {
			if (model_free(used, p, size)) {
				want = p;
				break;
			}
		}
		err = ap_ram_place(ctx, size, align, phase, limit, &pa);
		EXPECT(err == (want == UINT64_MAX ? -ENOSPC : 0) && (err || pa == want),
		       "iteration %u: place 0x%llx align 0x%llx phase 0x%llx below 0x%llx: %d at "
		       "0x%llx, model 0x%llx", iter, (ull)size, (ull)align, (ull)phase, (ull)limit,
		       err, (ull)pa, (ull)want);
		if (!err && nregions < 256 && chance(70)) {
			owners[nregions] = (int)nregions;
			assert_int_equal(ap_ram_add_owned(ctx, pa, size, backing + pa, owners,
							  &owners[nregions]), 0);
			mark(used, pa, size, (uint8_t)(1 + nregions % 250));
			nregions++;
		}
		if (chance(10)) { /* take one out again: its room is free */
			struct ap_ram_info ri;
			uint64_t probe = rnd_below(WORLD);

			if (!ap_ram_lookup(ctx, probe, &ri) && ri.owner_kind == owners) {
				assert_int_equal(ap_ram_remove(ctx, ri.pa), 0);
				mark(used, ri.pa, ri.size, 0);
			}
		}
	}
	/* every frame: lookup agrees with the model */
	for (uint64_t f = 0; f < FRAMES; f += 7) {
		struct ap_ram_info ri;
		int err = ap_ram_lookup(ctx, f << 12, &ri);
		bool ram = used[f] && used[f] != 0xff;

		EXPECT(ram == !err, "frame 0x%llx: lookup %d, model %u", (ull)f, err, used[f]);
		if (!err) {
			assert_true(ri.pa <= f << 12 && (f << 12) - ri.pa < ri.size);
			assert_ptr_equal(ri.owner_kind, owners);
			assert_non_null(ri.owner);
		}
	}
	assert_int_equal(ap_ram_place(ctx, 0, 4096, 0, WORLD, &wbase), -EINVAL);
	assert_int_equal(ap_ram_place(ctx, 4096, 3, 0, WORLD, &wbase), -EINVAL);
	assert_int_equal(ap_ram_place(ctx, 4096, 4096, 4096, WORLD, &wbase), -EINVAL);
	assert_int_equal(ap_ram_lookup(ctx, 0, NULL), -EINVAL);
	ap_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_options_round_trip),
		cmocka_unit_test(test_options_format_short),
		cmocka_unit_test(test_options_errors),
		cmocka_unit_test(test_arm_smmu_checks),
		cmocka_unit_test(test_virtio_iommu_checks),
		cmocka_unit_test(test_arm_smmu_banks_as_tags),
		cmocka_unit_test(test_arm_smmu_enospc_changes_nothing),
		cmocka_unit_test(test_arm_smmu_smr_groups),
		cmocka_unit_test(test_arm_smmu_failnth),
		cmocka_unit_test(test_capabilities_and_windows),
		cmocka_unit_test(test_unmatched_at_run_time),
		cmocka_unit_test(test_register_views),
		cmocka_unit_test(test_permission_matrix),
		cmocka_unit_test(test_ram_place_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
