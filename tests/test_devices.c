/* SPDX-License-Identifier: MIT */
/*
 * Devices and groups at scale: names, streams and group numbers are found
 * through the core's indexes, and a device added without a group number
 * gets the lowest one no group holds, against a model (a plain array of
 * taken numbers) over a fixed, printed seed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aperture/core.h>

#include "rng.h"

#define N 20000
#define MAX_GROUP (2 * N)

/* The model's answer: the lowest number not taken. */
static int model_lowest(const bool *taken)
{
	int g = 0;

	while (taken[g])
		g++;
	return g;
}

static void test_groups_against_model(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config cfg;
	struct ap_iommu *iommu;
	bool *taken = calloc(MAX_GROUP + 1, sizeof(*taken));
	int *group = calloc(N, sizeof(*group));
	char name[32];

	(void)state;
	rng_state = 0x5eed0015;
	printf("seed 0x%llx\n", (unsigned long long)rng_state);
	assert_non_null(taken);
	assert_non_null(group);
	ap_iommu_config_init(&cfg, AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(ap_iommu_new(ctx, "s", &cfg, &iommu), 0);
	for (int i = 0; i < N; i++) {
		struct ap_device *d;
		/* one device in eight names a group: taken ones join it, fresh
		 * ones leave holes and islands for the lowest-free search */
		bool numbered = rnd_below(8) == 0;
		int want = numbered ? (int)rnd_below(MAX_GROUP) : model_lowest(taken);

		snprintf(name, sizeof(name), "d%d", i);
		assert_int_equal(ap_device_new(ctx, name, iommu, (uint32_t)i,
					       numbered ? want : AP_GROUP_OWN, &d), 0);
		assert_int_equal(ap_device_group_id(d), want);
		taken[want] = true;
		group[i] = want;
	}
	/* every device by name, with its stream and group */
	for (int i = 0; i < N; i++) {
		struct ap_device *d;

		snprintf(name, sizeof(name), "d%d", i);
		d = ap_device_find(ctx, name);
		assert_non_null(d);
		assert_string_equal(ap_device_name(d), name);
		assert_int_equal(ap_device_sid(d), (uint32_t)i);
		assert_int_equal(ap_device_group_id(d), group[i]);
	}
	assert_null(ap_device_find(ctx, "d-none"));
	snprintf(name, sizeof(name), "d%d", N);
	assert_null(ap_device_find(ctx, name));
	/* a name or stream taken is refused, and changes nothing */
	assert_int_equal(ap_device_new(ctx, "d7", iommu, 999999, AP_GROUP_OWN, NULL), -EEXIST);
	assert_int_equal(ap_device_new(ctx, "fresh", iommu, 7, AP_GROUP_OWN, NULL), -EEXIST);
	assert_null(ap_device_find(ctx, "fresh"));
	assert_int_equal(ap_device_new(ctx, "fresh", iommu, 999999, AP_GROUP_OWN, NULL), 0);
	assert_int_equal(ap_device_group_id(ap_device_find(ctx, "fresh")), model_lowest(taken));
	ap_ctx_free(ctx);
	free(taken);
	free(group);
}

/* The same stream ID behind two instances is two devices. */
static void test_streams_per_instance(void **state)
{
	struct ap_ctx *ctx = ap_ctx_new();
	struct ap_iommu_config cfg;
	struct ap_iommu *a, *b;

	(void)state;
	ap_iommu_config_init(&cfg, AP_IOMMU_ARM_SMMU_V3);
	assert_int_equal(ap_iommu_new(ctx, "a", &cfg, &a), 0);
	assert_int_equal(ap_iommu_new(ctx, "b", &cfg, &b), 0);
	for (int i = 0; i < 1000; i++) {
		char na[16], nb[16];

		snprintf(na, sizeof(na), "a%d", i);
		snprintf(nb, sizeof(nb), "b%d", i);
		assert_int_equal(ap_device_new(ctx, na, a, (uint32_t)i, AP_GROUP_OWN, NULL), 0);
		assert_int_equal(ap_device_new(ctx, nb, b, (uint32_t)i, AP_GROUP_OWN, NULL), 0);
	}
	assert_int_equal(ap_device_new(ctx, "again", b, 500, AP_GROUP_OWN, NULL), -EEXIST);
	assert_int_equal(ap_device_group_id(ap_device_find(ctx, "b999")), 1999);
	ap_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_groups_against_model),
		cmocka_unit_test(test_streams_per_instance),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
