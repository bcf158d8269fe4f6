/* SPDX-License-Identifier: MIT */
/*
 * src/firmware/apply.c - a description made into a machine: one instance
 * per unit (capabilities set through ap_iommu_config_set(), the keys the
 * scenario language uses), one device per stream range (its first stream
 * ID; the devices of one firmware device share a group), reserved regions
 * on the devices they name; and the same machine written as a scenario.
 * Then the audit: every way the description lets DMA bypass translation.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fw_internal.h"

struct apply {
	struct ap_fw *fw;
	struct ap_ctx *ctx;
	FILE *out;
	struct ap_iommu **inst;  /* per unit, NULL: not made */
	int *group;              /* per unit, the current device's group */
	int next_group;
};

/* A name the core and the scenario language take: no blanks, '#', '=',
 * ','; a leading ACPI root backslash kept. */
static void clean_name(char *dst, size_t size, const char *src, const char *suffix)
{
	size_t n = 0;

	for (; *src && n + 1 < size; src++)
		dst[n++] = (char)((*src <= ' ' || *src == '#' || *src == '=' || *src == ',' ||
				   *src > '~') ? '_' : *src);
	dst[n] = '\0';
	if (suffix && n + strlen(suffix) < size)
		strcat(dst, suffix);
}

static int set(struct apply *a, struct ap_iommu_config *cfg, const char *key, const char *val)
{
	const char *expected = NULL;
	int rc = ap_iommu_config_set(cfg, key, val, &expected);

	if (rc == -ENOENT)
		return 0; /* a key this kind does not have */
	if (rc)
		return ap__fw_err(a->fw, "%s=%s: %s", key, val, expected ? expected : "refused");
	return 0;
}

/* An SMMUv1/v2's ID1 banks and ID0 stream mapping: every field, since the
 * model's defaults are not what this unit's registers say (smrs 0 is
 * stream indexing, ID0.SMS = 0). */
static int arm_smmu_ids(struct apply *a, const struct ap_fw_caps *c, struct ap_iommu_config *cfg)
{
	const struct {
		const char *key;
		unsigned value;
	} ids[] = {
		{ "context-banks", c->context_banks },
		{ "s2-context-banks", c->s2_context_banks },
		{ "smrs", c->stream_match ? c->smrs : 0 },
		{ "streamid-bits", c->sid_bits },
	};
	char num[32];
	int rc;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(num, sizeof(num), "%u", ids[i].value);
		if ((rc = set(a, cfg, ids[i].key, num)))
			return rc;
	}
	return 0;
}

static int unit_config(struct apply *a, const struct ap_fw_unit *u, struct ap_iommu_config *cfg)
{
	const struct ap_fw_caps *c = &u->caps;
	char num[32], list[96];
	int rc;

	ap_iommu_config_init(cfg, ap_iommu_kind_from_name(ap_fw_unit_kind_name(u->kind)));
	/* an arm-smmu model first: it sets the defaults the rest overrides */
	if (u->kind == AP_FW_ARM_SMMU && u->model != AP_FW_SMMU_THUNDERX &&
	    (rc = set(a, cfg, "model", ap_fw_smmu_model_name(u->model))))
		return rc;
	snprintf(num, sizeof(num), "%u", c->ias);
	if ((rc = set(a, cfg, "ias", num)))
		return rc;
	snprintf(num, sizeof(num), "%u", c->oas);
	if ((rc = set(a, cfg, "oas", num)))
		return rc;
	ap_format_pgsizes(c->pgsizes, list, sizeof(list));
	if ((rc = set(a, cfg, "pgsizes", list)) ||
	    (rc = set(a, cfg, "coherent", c->coherent ? "yes" : "no")) ||
	    (rc = set(a, cfg, "unmatched", c->unmatched_bypass || c->clientpd ? "bypass" : "abort")))
		return rc;
	if (u->kind == AP_FW_ARM_SMMU && (rc = arm_smmu_ids(a, c, cfg)))
		return rc;
	if (u->kind != AP_FW_VTD) {
		snprintf(num, sizeof(num), "%u", c->stage);
		return set(a, cfg, "stage", num);
	}
	list[0] = '\0';
	for (unsigned agaw = 1; agaw <= 3; agaw++)
		if (c->sagaw & (1u << agaw))
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%u",
				 list[0] ? "," : "", 30 + 9 * agaw);
	return list[0] ? set(a, cfg, "sagaw", list) : 0;
}

static int make_units(struct apply *a)
{
	const struct ap_fw_desc *d = ap_fw_desc(a->fw);

	for (size_t i = 0; i < d->n_units; i++) {
		const struct ap_fw_unit *u = &d->units[i];
		struct ap_iommu_config cfg;
		char name[64], opts[256];
		int rc;

		if (!ap_iommu_kind_from_name(ap_fw_unit_kind_name(u->kind))) {
			if (a->out)
				fprintf(a->out, "# %s (%s at 0x%" PRIx64 "): this build has no %s kind\n",
					u->name, ap_fw_unit_kind_name(u->kind), u->base,
					ap_fw_unit_kind_name(u->kind));
			continue;
		}
		if ((rc = unit_config(a, u, &cfg)))
			return rc;
		clean_name(name, sizeof(name), u->name, NULL);
		if ((rc = ap_iommu_new(a->ctx, name, &cfg, &a->inst[i])))
			return rc == -ENOMEM ? ap__fw_nomem(a->fw)
					     : ap__fw_err(a->fw, "%s: %s", name, ap_ctx_error(a->ctx));
		if (a->out) {
			ap_iommu_config_format(&cfg, opts, sizeof(opts));
			fprintf(a->out, "iommu  %s %s %s  # %s at 0x%" PRIx64 "%s\n", name,
				ap_fw_unit_kind_name(u->kind), opts, ap_fw_origin_name(u->origin),
				u->base, u->caps.from_regs ? "" : ", capabilities assumed");
		}
	}
	return 0;
}

/* One core device; `k` numbers the streams of one firmware device. */
static int make_device(struct apply *a, size_t di, int unit, uint32_t sid, unsigned k,
		       uint64_t count, int group)
{
	const struct ap_fw_dev *fd = &ap_fw_desc(a->fw)->devs[di];
	char name[64], suffix[16];
	int rc;

	snprintf(suffix, sizeof(suffix), ".%u", k);
	clean_name(name, sizeof(name), fd->name, k ? suffix : NULL);
	if (ap_device_find(a->ctx, name))
		return 0;
	struct ap_device *dev = NULL;

	rc = ap_device_new(a->ctx, name, a->inst[unit], sid, group, &dev);
	/* arm-smmu: a stream another device's match register covers joins
	 * that device's group, as Linux groups them */
	if (rc == -EINVAL && ap_iommu_get_config(a->inst[unit])->kind == ap_iommu_kind_from_name("arm-smmu")) {
		rc = ap_device_new(a->ctx, name, a->inst[unit], sid, AP_GROUP_OWN, &dev);
		if (!rc)
			group = ap_device_group_id(dev);
	}
	if (rc == -ENOSPC || rc == -EEXIST) {
		/* more streams than the unit's (assumed) stream match registers;
		 * or a requester ID another device already is (a DMAR ACPI
		 * namespace device and its PCI function): one requester */
		if (a->out)
			fprintf(a->out, "# %s sid=0x%x: %s\n", name, sid, ap_ctx_error(a->ctx));
		return 0;
	}
	if (rc)
		return rc == -ENOMEM ? ap__fw_nomem(a->fw)
				     : ap__fw_err(a->fw, "%s: %s", name, ap_ctx_error(a->ctx));
	if (a->out) {
		fprintf(a->out, "device %s %s sid=0x%x group=%d", name,
			ap_iommu_name(a->inst[unit]), sid, group);
		if (count > 1)
			fprintf(a->out, "  # IDs 0x%x..0x%" PRIx64, sid, sid + count - 1);
		fputc('\n', a->out);
	}
	return 0;
}

static int make_devices(struct apply *a)
{
	const struct ap_fw_desc *d = ap_fw_desc(a->fw);

	for (size_t i = 0; i < d->n_devs; i++) {
		const struct ap_fw_dev *fd = &d->devs[i];
		unsigned k = 0;
		int rc;

		if (!(fd->flags & AP_FW_DEV_DMA))
			continue;
		/* a group's devices sit behind one instance: one group per unit */
		for (size_t u = 0; u < d->n_units; u++)
			a->group[u] = -1;
		for (size_t s = 0; s < d->n_streams; s++) {
			const struct ap_fw_stream *st = &d->streams[s];

			if (st->dev != (int)i || st->unit < 0 || !a->inst[st->unit])
				continue;
			if (a->group[st->unit] < 0)
				a->group[st->unit] = fd->group >= 0 && !k ? fd->group : a->next_group++;
			rc = make_device(a, i, st->unit, st->out_base, k++, st->count,
					 a->group[st->unit]);
			if (rc)
				return rc;
		}
		/* VT-d: the requester ID is what the unit sees */
		if (k || fd->unit < 0 || !a->inst[fd->unit])
			continue;
		if (fd->flags & AP_FW_DEV_BEHIND) {
			if (a->out)
				fprintf(a->out, "# %s: behind a bridge; its requester ID needs the "
					"bridge's secondary bus from PCI config space, so it is left "
					"out\n", fd->name);
			continue;
		}
		if ((rc = make_device(a, i, fd->unit, fd->rid, 0, 1,
				      fd->group >= 0 ? fd->group : a->next_group++)))
			return rc;
	}
	return 0;
}

static int add_resv(struct apply *a, struct ap_device *dev, const struct ap_fw_resv *r)
{
	int rc = ap_device_add_resv(dev, r->start, r->size, r->type);

	if (rc)
		return rc == -ENOMEM ? ap__fw_nomem(a->fw)
				     : ap__fw_err(a->fw, "%s: %s", ap_device_name(dev),
						  ap_ctx_error(a->ctx));
	if (a->out)
		fprintf(a->out, "resv   %s 0x%" PRIx64 " 0x%" PRIx64 " %s\n", ap_device_name(dev),
			r->start, r->size, ap_resv_type_name(r->type));
	return 0;
}

/* The core devices a region applies to: those made from its device, or
 * those on its unit whose stream ID it names. */
static bool resv_hits(const struct apply *a, const struct ap_fw_resv *r, struct ap_device *dev)
{
	const struct ap_fw_desc *d = ap_fw_desc(a->fw);
	char name[64];
	size_t n;

	if (r->dev >= 0) {
		clean_name(name, sizeof(name), d->devs[r->dev].name, NULL);
		n = strlen(name);
		return !strncmp(ap_device_name(dev), name, n) &&
		       (ap_device_name(dev)[n] == '\0' || ap_device_name(dev)[n] == '.');
	}
	return r->unit >= 0 && ap_device_iommu(dev) == a->inst[r->unit] &&
	       ap_device_sid(dev) >= r->sid_base &&
	       ap_device_sid(dev) - r->sid_base < r->sid_count;
}

static int make_resv(struct apply *a)
{
	const struct ap_fw_desc *d = ap_fw_desc(a->fw);

	for (size_t i = 0; i < d->n_resv; i++) {
		struct ap_device *dev = NULL;
		int rc;

		while ((dev = ap_device_next(a->ctx, dev)))
			if (resv_hits(a, &d->resv[i], dev) && (rc = add_resv(a, dev, &d->resv[i])))
				return rc;
	}
	return 0;
}

int ap_fw_apply(struct ap_fw *fw, struct ap_ctx *ctx, FILE *scenario)
{
	struct apply a = { .fw = fw, .ctx = ctx, .out = scenario, .next_group = 1 };
	int rc;

	if (!fw || !ctx)
		return -EINVAL;
	if (ap_iommu_next(ctx, NULL) || ap_device_next(ctx, NULL))
		return ap__fw_err(fw, "the context already holds a machine");
	a.inst = ap_mem_alloc(fw->ctx, (FW_N(fw, FV_UNIT) + 1) * sizeof(struct ap_iommu *));
	a.group = ap_mem_alloc(fw->ctx, (FW_N(fw, FV_UNIT) + 1) * sizeof(*a.group));
	if (!a.inst || !a.group) {
		ap_mem_free(fw->ctx, a.inst);
		ap_mem_free(fw->ctx, a.group);
		return ap__fw_nomem(fw);
	}
	for (size_t i = 0; i < FW_N(fw, FV_DEV); i++)
		if (FW_DEV(fw, i)->group >= a.next_group)
			a.next_group = FW_DEV(fw, i)->group + 1;
	if (scenario)
		fprintf(scenario, "# imported by aperture import\n");
	rc = make_units(&a);
	if (!rc)
		rc = make_devices(&a);
	if (!rc)
		rc = make_resv(&a);
	ap_mem_free(fw->ctx, a.inst);
	ap_mem_free(fw->ctx, a.group);
	return rc;
}
