/* SPDX-License-Identifier: MIT */
/*
 * The virtio-iommu devices of a machine, for show and audit: what the
 * driver negotiated, whether unattached endpoints bypass and why, the
 * guest's domains, and what the queues did.
 */
#include <linux/virtio_config.h>
#include <linux/virtio_iommu.h>

#include <aperture/virtio_iommu.h>

#include "view_internal.h"

static void show_status(FILE *out, uint8_t s)
{
	static const struct {
		uint8_t bit;
		const char *name;
	} bits[] = {
		{ VIRTIO_CONFIG_S_ACKNOWLEDGE, "ACKNOWLEDGE" }, { VIRTIO_CONFIG_S_DRIVER, "DRIVER" },
		{ VIRTIO_CONFIG_S_FEATURES_OK, "FEATURES_OK" }, { VIRTIO_CONFIG_S_DRIVER_OK, "DRIVER_OK" },
		{ VIRTIO_CONFIG_S_NEEDS_RESET, "NEEDS_RESET" }, { VIRTIO_CONFIG_S_FAILED, "FAILED" },
	};
	size_t i;

	fprintf(out, "status 0x%02x (", s);
	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (s & bits[i].bit)
			fprintf(out, "%s%s", s & (bits[i].bit - 1) ? " " : "", bits[i].name);
	fprintf(out, "%s)", s ? "" : "reset");
}

static void show_features(FILE *out, uint64_t f)
{
	static const char *const names[] = { "INPUT_RANGE", "DOMAIN_RANGE", "MAP_UNMAP", "BYPASS",
					     "PROBE", "MMIO", "BYPASS_CONFIG" };
	unsigned b;

	fprintf(out, "0x%llx", (unsigned long long)f);
	for (b = 0; b < sizeof(names) / sizeof(names[0]); b++)
		if (f & (1ull << b))
			fprintf(out, " %s", names[b]);
}

static void show_device(FILE *out, const struct ap_viommu *v)
{
	struct ap_viommu_domain_info di;
	struct ap_viommu_stats st;
	uint8_t status = ap_viommu_status(v);
	size_t i;

	ap_viommu_stats(v, &st);
	fprintf(out, "  %-12s ", ap_iommu_name(ap_viommu_iommu(v)));
	show_status(out, status);
	fprintf(out, "\n  %-12s offers   ", "");
	show_features(out, ap_viommu_device_features(v));
	if (status & VIRTIO_CONFIG_S_FEATURES_OK) {
		fprintf(out, "\n  %-12s accepted ", "");
		show_features(out, ap_viommu_driver_features(v));
	}
	fprintf(out, "\n");
	if (ap_viommu_bypass(v))
		fprintf(out, "  %-12s !! unattached endpoints BYPASS: %s\n", "",
			ap_viommu_bypass_reason(v));
	else
		fprintf(out, "  %-12s unattached endpoints are blocked\n", "");
	fprintf(out, "  %-12s %llu requests: %llu ok, %llu failed, %llu returned unwritten; "
		"%llu faults reported, %llu lost\n", "", (unsigned long long)st.requests,
		(unsigned long long)st.status[VIRTIO_IOMMU_S_OK],
		(unsigned long long)(st.requests - st.unparsed - st.status[VIRTIO_IOMMU_S_OK]),
		(unsigned long long)st.unparsed, (unsigned long long)st.events,
		(unsigned long long)st.events_lost);
	for (i = 0; !ap_viommu_domain_info(v, i, &di); i++)
		fprintf(out, "  %-12s domain %u: %s (%s), %u endpoint%s, %llu mapping%s\n", "", di.id,
			ap_domain_name(di.dom), di.bypass ? "bypass" : "paging", di.endpoints,
			di.endpoints == 1 ? "" : "s", (unsigned long long)di.mappings,
			di.mappings == 1 ? "" : "s");
	if (st.needs_reset)
		fprintf(out, "  %-12s !! NEEDS_RESET: %s\n", "", st.needs_reset);
}

void ap__view_virtio(struct ap_ctx *ctx, FILE *out, const struct ap_iommu *only)
{
	struct ap_viommu *v = NULL;
	bool first = true;

	while ((v = ap_viommu_next(ctx, v))) {
		if (only && ap_viommu_iommu(v) != only)
			continue;
		if (first)
			fprintf(out, "virtio-iommu devices\n");
		first = false;
		show_device(out, v);
	}
}

const char *ap__view_virtio_bypass(struct ap_ctx *ctx, const struct ap_iommu *iommu)
{
	struct ap_viommu *v = ap_viommu_of(ctx, iommu);

	return v && ap_viommu_bypass(v) ? ap_viommu_bypass_reason(v) : NULL;
}
