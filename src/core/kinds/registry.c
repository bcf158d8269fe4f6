/* SPDX-License-Identifier: MIT */
/*
 * The kinds this build has.  Adding a kind is its own file in this folder
 * plus one line in AP_KINDS (each line ends in a backslash, so a new one
 * touches no other).
 */
#include <string.h>

#include "kind.h"

#define AP_KINDS(X) \
	X(smmuv3)   \
	X(vtd)      \
	X(arm_smmu) \
	X(virtio)   \
	/* the end of the list */

#define AP_DECLARE(k) extern const struct ap_iommu_model ap__model_##k;
#define AP_ENTRY(k) &ap__model_##k,
AP_KINDS(AP_DECLARE)
static const struct ap_iommu_model *const models[] = { AP_KINDS(AP_ENTRY) };

#define NMODELS (sizeof(models) / sizeof(models[0]))

const struct ap_iommu_model *ap__model(enum ap_iommu_kind kind)
{
	size_t i;

	for (i = 0; i < NMODELS; i++)
		if (models[i]->kind == kind)
			return models[i];
	return NULL;
}

const struct ap_iommu_model *ap__model_by_name(const char *name)
{
	size_t i;

	for (i = 0; name && i < NMODELS; i++)
		if (!strcmp(models[i]->name, name))
			return models[i];
	return NULL;
}

const struct ap_iommu_model *ap__model_next(const struct ap_iommu_model *prev)
{
	size_t i = 0;

	if (prev)
		while (i < NMODELS && models[i++] != prev)
			;
	return i < NMODELS ? models[i] : NULL;
}
