/* SPDX-License-Identifier: MIT */
/*
 * Views for people: show (state, aligned, hex where hardware people expect
 * hex), dump (one line per leaf: a contract that tools compare bit for bit)
 * and audit (every way DMA can bypass translation).
 */
#include <errno.h>
#include <string.h>

#include <linux/vfio.h>

#include <aperture/view.h>

#include "view_internal.h"

static void show_ram(struct ap_ctx *ctx, FILE *out)
{
	uint64_t base, size;
	size_t n;
	char b[32];

	fprintf(out, "RAM\n");
	for (n = 0; !ap_ram_region(ctx, n, &base, &size); n++)
		fprintf(out, "  0x%016llx-0x%016llx %s\n", (unsigned long long)base,
			(unsigned long long)(base + size - 1), ap__view_bytes(size, b, sizeof(b)));
	if (!n)
		fprintf(out, "  none registered\n");
	ap_ctx_get_table_window(ctx, &base, &size);
	fprintf(out, "page tables: ");
	if (size)
		fprintf(out, "0x%016llx-0x%016llx (%s window)\n", (unsigned long long)base,
			(unsigned long long)(base + size - 1), ap__view_bytes(size, b, sizeof(b)));
	else
		fprintf(out, "no window yet (chosen with the first paging domain)\n");
}

static void show_iotlb(FILE *out, const struct ap_iommu *i)
{
	struct ap_iotlb_stats s;

	ap_iommu_iotlb_stats(i, &s);
	if (!s.entries) {
		fprintf(out, "  %-12s no IOTLB: %llu walks\n", "", (unsigned long long)s.walks);
		return;
	}
	fprintf(out, "  %-12s iotlb %u entries: %llu hits, %llu misses, %llu walks, "
		"%llu invalidations (%llu entries dropped)\n", "", s.entries, (unsigned long long)s.hits,
		(unsigned long long)s.misses, (unsigned long long)s.walks,
		(unsigned long long)s.invalidations, (unsigned long long)s.dropped);
}

/* The stage column: what the table format of its domains translates. */
static unsigned stage_of(const struct ap_iommu *i)
{
	return ap_iommu_domain_format(i) == AP_PT_ARM_LPAE_S1 ? 1 : 2;
}

static void show_iommu(FILE *out, const struct ap_iommu *i)
{
	const struct ap_iommu_config *c = ap_iommu_get_config(i);
	struct ap_iommu_fact facts[8];
	size_t n, k;
	char pg[96];

	fprintf(out, "  %-12s %-12s %3u %3u %5u  %-22s %-9s %-8s %3u/%-5u %llu\n", ap_iommu_name(i),
		ap_iommu_kind_name(c->kind), c->ias, c->oas, stage_of(i),
		ap_format_pgsizes(c->pgsize_bitmap, pg, sizeof(pg)),
		ap_iommu_unmatched(i) == AP_UNMATCHED_BYPASS ? "BYPASS" : "abort",
		c->force_aperture ? "forced" : "OPEN", ap_iommu_fault_pending(i), c->evtq_size,
		(unsigned long long)ap_iommu_fault_count(i, AP_FAULT_NONE));
	n = ap_iommu_facts(i, facts, sizeof(facts) / sizeof(facts[0]));
	for (k = 0; k < n && k < sizeof(facts) / sizeof(facts[0]); k++)
		fprintf(out, "  %-12s %s %s\n", "", facts[k].key, facts[k].value);
	if (!c->coherent_walk)
		fprintf(out, "  %-12s non-coherent table walks\n", "");
	show_iotlb(out, i);
	if (ap_iommu_fault_overflow(i))
		fprintf(out, "  %-12s !! event queue overflowed: fault records were lost\n", "");
}

static void show_device(FILE *out, const struct ap_device *d)
{
	const struct ap_domain *dom = ap_device_domain(d);
	enum ap_bypass b = ap_device_bypasses(d);
	char where[96];

	if (dom)
		snprintf(where, sizeof(where), "%s (%s)", ap_domain_name(dom),
			 ap_domain_type_name(ap_domain_type(dom)));
	else
		snprintf(where, sizeof(where), "-");
	fprintf(out, "  %-12s %-12s 0x%08x %5d  %s\n", ap_device_name(d),
		ap_iommu_name(ap_device_iommu(d)), ap_device_sid(d), ap_device_group_id(d), where);
	if (b != AP_BYPASS_NONE)
		fprintf(out, "  %-12s !! BYPASS: %s\n", "", ap_bypass_reason(b));
}

/* "TTBR0 0x... TCR 0x... (T0SZ 16 TG0 0 ...) MAIR 0x...": a register's
 * decoded fields follow it in parentheses. */
static void show_regs(FILE *out, const char *iommu, const struct ap_reg_view *v)
{
	unsigned k;

	fprintf(out, "  %-12s %-10s", "", iommu);
	for (k = 0; k < v->n; k++) {
		const struct ap_reg_field *f = &v->f[k];
		bool first = f->style == AP_REG_FIELD && (!k || v->f[k - 1].style != AP_REG_FIELD);
		bool last = f->style == AP_REG_FIELD && (k + 1 == v->n ||
							 v->f[k + 1].style != AP_REG_FIELD);

		if (f->style == AP_REG_HEX)
			fprintf(out, " %s 0x%0*llx", f->name, (int)f->digits,
				(unsigned long long)f->value);
		else
			fprintf(out, " %s%s %llu%s", first ? "(" : "", f->name,
				(unsigned long long)f->value, last ? ")" : "");
	}
	fprintf(out, "\n");
}

static void show_domain(struct ap_ctx *ctx, FILE *out, const struct ap_domain *dom)
{
	const struct ap_pt *pt = ap_domain_pt(dom);
	struct ap_geometry g;
	struct ap_device *d;
	char pg[96], tb[32];

	ap_domain_geometry(dom, &g);
	fprintf(out, "  %-12s %-8s owner %s\n", ap_domain_name(dom),
		ap_domain_type_name(ap_domain_type(dom)), ap_iommu_name(ap_domain_owner(dom)));
	if (pt) {
		struct ap_pt_walk_cfg w;

		ap_pt_get_walk_cfg(pt, &w);
		fprintf(out, "  %-12s aperture 0x%016llx-0x%016llx %s, pgsizes %s, oas %u\n", "",
			(unsigned long long)g.start, (unsigned long long)g.end,
			g.force ? "forced" : "open",
			ap_format_pgsizes(ap_domain_pgsizes(dom), pg, sizeof(pg)), ap_domain_oas(dom));
		fprintf(out, "  %-12s %s, %u KiB granule, root 0x%llx (level %d), %llu leaves, "
			"%s of tables\n", "", ap_pt_format_name(w.format),
			(1u << w.granule_shift) >> 10, (unsigned long long)w.root,
			ap_pt_start_level(&w), (unsigned long long)ap_pt_leaf_count(pt),
			ap__view_bytes(ap_pt_table_bytes(pt), tb, sizeof(tb)));
	}
	if (pt) {
		struct ap_iommu *i;
		struct ap_reg_view v;

		for (i = ap_iommu_next(ctx, NULL); i; i = ap_iommu_next(ctx, i))
			if (!ap_domain_reg_view(dom, i, &v))
				show_regs(out, ap_iommu_name(i), &v);
	}
	fprintf(out, "  %-12s devices:", "");
	for (d = ap_device_next(ctx, NULL); d; d = ap_device_next(ctx, d))
		if (ap_device_domain(d) == dom)
			fprintf(out, " %s@%s", ap_device_name(d), ap_iommu_name(ap_device_iommu(d)));
	fprintf(out, "\n");
}

/* ------------------------------------------------------------ VFIO containers */

static const char *container_type(unsigned long iommu)
{
	if (iommu == VFIO_TYPE1v2_IOMMU)
		return "type1v2";
	if (iommu == VFIO_TYPE1_IOMMU)
		return "type1";
	return "no IOMMU set";
}

static void container_label(const struct ap_vfio_container_info *ci, char *buf, size_t len)
{
	if (ci->label[0])
		snprintf(buf, len, "%s", ci->label);
	else if (ci->fd >= 0)
		snprintf(buf, len, "fd %d", ci->fd);
	else
		snprintf(buf, len, "(closed)");
}

static void show_container(struct ap_ctx *ctx, FILE *out, size_t index)
{
	struct ap_vfio_container_info ci;
	struct ap_domain *dom;
	uint64_t start, end;
	char label[64], pg[96], b[32];
	int group;

	ap_vfio_container_info(ctx, index, &ci);
	container_label(&ci, label, sizeof(label));
	fprintf(out, "  %-12s %s, groups", label, container_type(ci.iommu));
	for (size_t n = 0; !ap_vfio_container_group(ctx, index, n, &group); n++)
		fprintf(out, " %d", group);
	fprintf(out, "%s\n", ci.ngroups ? "" : " none");
	if (!ci.iommu)
		return;
	fprintf(out, "  %-12s pgsizes %s, %llu mappings (%u DMA entries left), %s pinned%s\n", "",
		ap_format_pgsizes(ci.pgsizes, pg, sizeof(pg)), (unsigned long long)ci.mappings,
		ci.dma_avail, ap__view_bytes(ci.locked, b, sizeof(b)),
		ci.dirty_tracking ? ", dirty tracking on" : "");
	fprintf(out, "  %-12s domains:", "");
	for (size_t n = 0; (dom = ap_vfio_container_domain(ctx, index, n)); n++)
		fprintf(out, " %s", ap_domain_name(dom));
	fprintf(out, "\n");
	for (size_t n = 0; !ap_vfio_container_iova(ctx, index, n, &start, &end); n++)
		fprintf(out, "  %-12s iova 0x%016llx-0x%016llx\n", "", (unsigned long long)start,
			(unsigned long long)end);
}

/* The container labelled `name`, as an index. */
static bool container_named(struct ap_ctx *ctx, const char *name, size_t *index)
{
	struct ap_vfio_container_info ci;

	for (*index = 0; !ap_vfio_container_info(ctx, *index, &ci); (*index)++)
		if (!strcmp(ci.label, name))
			return true;
	return false;
}

static void show_containers(struct ap_ctx *ctx, FILE *out)
{
	struct ap_vfio_container_info ci;

	if (ap_vfio_container_info(ctx, 0, &ci))
		return;
	fprintf(out, "VFIO containers\n");
	for (size_t i = 0; !ap_vfio_container_info(ctx, i, &ci); i++)
		show_container(ctx, out, i);
}

static void iommu_header(FILE *out)
{
	fprintf(out, "IOMMUs\n  %-12s %-12s %3s %3s %5s  %-22s %-9s %-8s %-9s %s\n", "name", "kind",
		"ias", "oas", "stage", "pgsizes", "unmatched", "aperture", "events", "faults");
}

static void device_header(FILE *out)
{
	fprintf(out, "devices\n  %-12s %-12s %-10s %5s  %s\n", "name", "iommu", "sid", "group",
		"domain");
}

int ap_show(struct ap_ctx *ctx, FILE *out, const char *name)
{
	struct ap_iommu *i;
	struct ap_device *d;
	struct ap_domain *dom;
	size_t index;

	if (!ctx)
		return -EINVAL;
	if (!out)
		return 0;
	if (name) {
		if ((i = ap_iommu_find(ctx, name))) {
			iommu_header(out);
			show_iommu(out, i);
			ap__view_virtio(ctx, out, i);
		} else if ((d = ap_device_find(ctx, name))) {
			device_header(out);
			show_device(out, d);
		} else if ((dom = ap_domain_find(ctx, name))) {
			fprintf(out, "domains\n");
			show_domain(ctx, out, dom);
		} else if (container_named(ctx, name, &index)) {
			fprintf(out, "VFIO containers\n");
			show_container(ctx, out, index);
		} else {
			return -ENOENT;
		}
		return 0;
	}
	show_ram(ctx, out);
	iommu_header(out);
	for (i = ap_iommu_next(ctx, NULL); i; i = ap_iommu_next(ctx, i))
		show_iommu(out, i);
	device_header(out);
	for (d = ap_device_next(ctx, NULL); d; d = ap_device_next(ctx, d))
		show_device(out, d);
	fprintf(out, "domains\n");
	for (dom = ap_domain_next(ctx, NULL); dom; dom = ap_domain_next(ctx, dom))
		show_domain(ctx, out, dom);
	show_containers(ctx, out);
	ap__view_virtio(ctx, out, NULL);
	return 0;
}

static int dump_leaf(void *arg, const struct ap_pt_leaf *leaf)
{
	fprintf(arg, "leaf lvl=%d iova=0x%llx size=0x%llx pte=0x%016llx\n", leaf->level,
		(unsigned long long)leaf->iova, (unsigned long long)leaf->size,
		(unsigned long long)leaf->pte);
	return 0;
}

int ap_dump(const struct ap_domain *dom, FILE *out)
{
	const struct ap_pt *pt = dom ? ap_domain_pt(dom) : NULL;

	if (!pt)
		return -EINVAL;
	if (out)
		ap_pt_for_each_leaf(pt, 0, UINT64_MAX, dump_leaf, out);
	return 0;
}

int ap_audit(struct ap_ctx *ctx, FILE *out)
{
	struct ap_iommu *i;
	struct ap_device *d;
	int findings = 0;

	for (i = ap_iommu_next(ctx, NULL); i; i = ap_iommu_next(ctx, i)) {
		const struct ap_iommu_config *c = ap_iommu_get_config(i);

		if (ap_iommu_unmatched(i) == AP_UNMATCHED_BYPASS) {
			const char *why = ap__view_virtio_bypass(ctx, i);

			findings++;
			if (out)
				fprintf(out, "BYPASS  iommu %s passes unmatched streams: a device "
					"without a domain reaches memory untranslated%s%s%s\n",
					ap_iommu_name(i), why ? " (virtio-iommu: " : "", why ? why : "",
					why ? ")" : "");
		}
		if (!c->force_aperture) {
			findings++;
			if (out)
				fprintf(out, "BYPASS  iommu %s leaves its aperture open: DMA outside a "
					"domain's aperture reaches memory untranslated\n", ap_iommu_name(i));
		}
	}
	for (d = ap_device_next(ctx, NULL); d; d = ap_device_next(ctx, d)) {
		enum ap_bypass b = ap_device_bypasses(d);

		if (b == AP_BYPASS_NONE)
			continue;
		findings++;
		if (out)
			fprintf(out, "BYPASS  device %s (sid 0x%x on %s): %s\n", ap_device_name(d),
				ap_device_sid(d), ap_iommu_name(ap_device_iommu(d)), ap_bypass_reason(b));
	}
	if (out && !findings)
		fprintf(out, "no bypass: every DMA in this machine is translated or faults\n");
	return findings;
}
