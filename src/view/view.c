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

/* The records waiting in the event queue, oldest first. */
static void show_faults(FILE *out, const struct ap_iommu *i)
{
	struct ap_fault f;
	char what[96];

	for (unsigned n = 0; !ap_iommu_fault_peek(i, n, &f); n++)
		fprintf(out, "  %-12s fault %-12s sid 0x%x iova 0x%llx %s\n", "",
			ap_fault_kind_name(f.kind), f.sid, (unsigned long long)f.iova,
			ap__view_fault_detail(&f, what, sizeof(what)));
}

static void show_iommu(FILE *out, const struct ap_iommu *i)
{
	const struct ap_iommu_config *c = ap_iommu_get_config(i);
	struct ap_iommu_fact facts[8];
	size_t n, k;
	char pg[96];

	fprintf(out, "  %-12s %-12s %3u %3u %5u  %-22s %-9s %-8s %3u/%-5u %llu\n", ap_iommu_name(i),
		ap_iommu_kind_name(c->kind), c->ias, c->oas, ap__view_stage(i),
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
	show_faults(out, i);
	if (ap_iommu_fault_overflow(i))
		fprintf(out, "  %-12s !! event queue overflowed: fault records were lost\n", "");
}

static void show_device(FILE *out, const struct ap_device *d)
{
	const struct ap_domain *dom = ap_device_domain(d);
	enum ap_bypass b = ap_device_bypasses(d);
	struct ap_resv r;
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
	for (size_t n = 0; !ap_device_resv(d, n, &r); n++)
		fprintf(out, "  %-12s reserved 0x%016llx-0x%016llx %s\n", "",
			(unsigned long long)r.start, (unsigned long long)r.end,
			ap_resv_type_name(r.type));
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
	struct ap_vfio_mapping m;
	struct ap_domain *dom;
	uint64_t start, end;
	char label[64], pg[96], b[32];
	int group;

	ap_vfio_container_info(ctx, index, &ci);
	container_label(&ci, label, sizeof(label));
	fprintf(out, "  %-12s %s, groups", label, ap__view_container_type(ci.iommu));
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
	for (uint64_t from = 0; !ap_vfio_container_mapping(ctx, index, from, &m);) {
		fprintf(out, "  %-12s map  0x%016llx-0x%016llx %s%s pa 0x%llx vaddr 0x%llx%s\n", "",
			(unsigned long long)m.iova, (unsigned long long)(m.iova + m.size - 1),
			m.prot & AP_PROT_READ ? "r" : "-", m.prot & AP_PROT_WRITE ? "w" : "-",
			(unsigned long long)m.pa, (unsigned long long)m.vaddr,
			m.vaddr_valid ? "" : " (vaddr invalid)");
		from = m.iova + m.size;
		if (!from)
			break;
	}
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

static const char *const object_names[] = {
	[AP_OBJECT_ANY] = "any",       [AP_OBJECT_IOMMU] = "iommu",
	[AP_OBJECT_DEVICE] = "device", [AP_OBJECT_DOMAIN] = "domain",
	[AP_OBJECT_CONTAINER] = "container",
};

enum ap_object_type ap_object_type_from_name(const char *name)
{
	for (unsigned t = AP_OBJECT_IOMMU; name && t <= AP_OBJECT_CONTAINER; t++)
		if (!strcmp(object_names[t], name))
			return (enum ap_object_type)t;
	return AP_OBJECT_ANY;
}

const char *ap_object_type_name(enum ap_object_type type)
{
	return (unsigned)type <= AP_OBJECT_CONTAINER ? object_names[type] : "?";
}

/* Every object of `type` (or of any type) called name, each under its
 * heading; false if there is none. */
static bool show_named(struct ap_ctx *ctx, FILE *out, enum ap_object_type type,
		       const char *name)
{
	bool any = type == AP_OBJECT_ANY, found = false;
	struct ap_iommu *i;
	struct ap_device *d;
	struct ap_domain *dom;
	size_t index;

	if ((any || type == AP_OBJECT_IOMMU) && (i = ap_iommu_find(ctx, name))) {
		iommu_header(out);
		show_iommu(out, i);
		ap__view_virtio(ctx, out, i);
		found = true;
	}
	if ((any || type == AP_OBJECT_DEVICE) && (d = ap_device_find(ctx, name))) {
		device_header(out);
		show_device(out, d);
		found = true;
	}
	if ((any || type == AP_OBJECT_DOMAIN) && (dom = ap_domain_find(ctx, name))) {
		fprintf(out, "domains\n");
		show_domain(ctx, out, dom);
		found = true;
	}
	if ((any || type == AP_OBJECT_CONTAINER) && ap__view_container_named(ctx, name, &index)) {
		fprintf(out, "VFIO containers\n");
		show_container(ctx, out, index);
		found = true;
	}
	return found;
}

/* Whether anything of `type` is called name (for an out of NULL). */
static bool exists(struct ap_ctx *ctx, enum ap_object_type type, const char *name)
{
	bool any = type == AP_OBJECT_ANY;
	size_t index;

	return ((any || type == AP_OBJECT_IOMMU) && ap_iommu_find(ctx, name)) ||
	       ((any || type == AP_OBJECT_DEVICE) && ap_device_find(ctx, name)) ||
	       ((any || type == AP_OBJECT_DOMAIN) && ap_domain_find(ctx, name)) ||
	       ((any || type == AP_OBJECT_CONTAINER) && ap__view_container_named(ctx, name, &index));
}

static void show_all(struct ap_ctx *ctx, FILE *out)
{
	struct ap_iommu *i;
	struct ap_device *d;
	struct ap_domain *dom;

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
}

int ap_show_as(struct ap_ctx *ctx, FILE *out, enum ap_view_format format,
	       enum ap_object_type type, const char *name)
{
	if (!ctx || (unsigned)format > AP_VIEW_JSON || (unsigned)type > AP_OBJECT_CONTAINER)
		return -EINVAL;
	/* the same answer with or without output: a script that shows an
	 * object runs the same under `aperture show` as under `run` */
	if (name && !exists(ctx, type, name))
		return -ENOENT;
	if (!out)
		return 0;
	if (format == AP_VIEW_JSON)
		return ap__view_show_json(ctx, out, type, name);
	if (name)
		show_named(ctx, out, type, name);
	else
		show_all(ctx, out);
	return 0;
}

int ap_show(struct ap_ctx *ctx, FILE *out, const char *name)
{
	return ap_show_as(ctx, out, AP_VIEW_TEXT, AP_OBJECT_ANY, name);
}

/* "leaf lvl=%d iova=0x%llx size=0x%llx pte=0x%016llx\n", formatted by hand
 * (ap__fmt_hex). */
static int dump_leaf(void *arg, const struct ap_pt_leaf *leaf)
{
	char line[128], *p = line;

	memcpy(p, "leaf lvl=", 9);
	p += 9;
	p += ap__fmt_dec(p, leaf->level);
	memcpy(p, " iova=0x", 8);
	p += 8;
	p += ap__fmt_hex(p, leaf->iova, 1);
	memcpy(p, " size=0x", 8);
	p += 8;
	p += ap__fmt_hex(p, leaf->size, 1);
	memcpy(p, " pte=0x", 7);
	p += 7;
	p += ap__fmt_hex(p, leaf->pte, 16);
	*p++ = '\n';
	(void)fwrite(line, 1, (size_t)(p - line), arg); /* an error stays in the stream */
	return 0;
}

/* ------------------------------------------------------------ ranges */

struct fold {
	struct ap__range r;
	bool open;
	int (*fn)(void *arg, const struct ap__range *r);
	void *arg;
};

/* A leaf continues the run when it maps the next IOVA to the next PA at
 * the same level with the same bits: its descriptor is the last one plus
 * the leaf size (both formats keep the output address in place). */
static int fold_leaf(void *arg, const struct ap_pt_leaf *leaf)
{
	struct fold *f = arg;
	struct ap__range *r = &f->r;
	int rc;

	if (f->open && leaf->level == r->level && leaf->size == r->leaf_size &&
	    leaf->iova == r->iova + r->count * r->leaf_size &&
	    leaf->pa == r->pa + r->count * r->leaf_size && leaf->pte == r->last_pte + leaf->size) {
		r->count++;
		r->last_pte = leaf->pte;
		return 0;
	}
	if (f->open && (rc = f->fn(f->arg, r)))
		return rc;
	*r = (struct ap__range){ .iova = leaf->iova, .pa = leaf->pa, .leaf_size = leaf->size,
				 .count = 1, .level = leaf->level, .pte = leaf->pte,
				 .last_pte = leaf->pte, .prot = leaf->prot };
	f->open = true;
	return 0;
}

int ap__view_ranges(const struct ap_pt *pt, int (*fn)(void *arg, const struct ap__range *r),
		    void *arg)
{
	struct fold f = { .fn = fn, .arg = arg };
	int rc = ap_pt_for_each_leaf(pt, 0, UINT64_MAX, fold_leaf, &f);

	if (!rc && f.open)
		rc = fn(arg, &f.r);
	return rc;
}

struct range_text {
	FILE *out;
	enum ap_pt_format format;
};

static int range_line(void *arg, const struct ap__range *r)
{
	const struct range_text *t = arg;
	struct ap_pte_field f[AP_PTE_FIELDS_MAX];
	uint64_t bytes = r->count * r->leaf_size;
	size_t n = ap__pte_fields(t->format, r->pte, f, AP_PTE_FIELDS_MAX);
	char sz[32];

	fprintf(t->out, "range iova=0x%llx-0x%llx pa=0x%llx-0x%llx %llux%s lvl=%d pte=0x%016llx",
		(unsigned long long)r->iova, (unsigned long long)(r->iova + bytes - 1),
		(unsigned long long)r->pa, (unsigned long long)(r->pa + bytes - 1),
		(unsigned long long)r->count, ap_format_size(r->leaf_size, sz, sizeof(sz)),
		r->level, (unsigned long long)r->pte);
	for (size_t k = 0; k < n && k < AP_PTE_FIELDS_MAX; k++)
		fprintf(t->out, f[k].meaning[0] ? " %s=%llu(%s)" : " %s=%llu", f[k].name,
			(unsigned long long)f[k].value, f[k].meaning);
	fputc('\n', t->out);
	return 0;
}

int ap_dump_as(const struct ap_domain *dom, FILE *out, enum ap_view_format format,
	       unsigned flags)
{
	const struct ap_pt *pt = dom ? ap_domain_pt(dom) : NULL;
	struct ap_pt_walk_cfg w;
	struct range_text t;

	if (!pt || (unsigned)format > AP_VIEW_JSON || (flags & ~(unsigned)AP_DUMP_RANGES))
		return -EINVAL;
	if (!out)
		return 0;
	if (format == AP_VIEW_JSON)
		return ap__view_dump_json(dom, out, flags);
	if (!(flags & AP_DUMP_RANGES)) {
		ap_pt_for_each_leaf(pt, 0, UINT64_MAX, dump_leaf, out);
		return 0;
	}
	ap_pt_get_walk_cfg(pt, &w);
	t = (struct range_text){ out, w.format };
	ap__view_ranges(pt, range_line, &t);
	return 0;
}

int ap_dump(const struct ap_domain *dom, FILE *out)
{
	return ap_dump_as(dom, out, AP_VIEW_TEXT, 0);
}

int ap__view_audit(struct ap_ctx *ctx, void (*fn)(void *arg, const struct ap__finding *f),
		   void *arg)
{
	struct ap__finding f;
	struct ap_iommu *i;
	struct ap_device *d;
	char text[320];
	int findings = 0;

	for (i = ap_iommu_next(ctx, NULL); i; i = ap_iommu_next(ctx, i)) {
		f = (struct ap__finding){ .iommu = i };
		if (ap_iommu_unmatched(i) == AP_UNMATCHED_BYPASS) {
			const char *why = ap__view_virtio_bypass(ctx, i);

			findings++;
			f.kind = "unmatched";
			snprintf(text, sizeof(text), "passes unmatched streams: a device without a "
				 "domain reaches memory untranslated%s%s%s", why ? " (virtio-iommu: " : "",
				 why ? why : "", why ? ")" : "");
			f.text = text;
			fn(arg, &f);
		}
		if (!ap_iommu_get_config(i)->force_aperture) {
			findings++;
			f.kind = "open-aperture";
			f.text = "leaves its aperture open: DMA outside a domain's aperture reaches "
				 "memory untranslated";
			fn(arg, &f);
		}
	}
	for (d = ap_device_next(ctx, NULL); d; d = ap_device_next(ctx, d)) {
		enum ap_bypass b = ap_device_bypasses(d);

		if (b == AP_BYPASS_NONE)
			continue;
		findings++;
		f = (struct ap__finding){ .iommu = ap_device_iommu(d), .device = d,
					  .kind = ap__view_bypass_kind(b), .text = ap_bypass_reason(b) };
		fn(arg, &f);
	}
	return findings;
}

static void audit_line(void *arg, const struct ap__finding *f)
{
	if (f->device)
		fprintf(arg, "BYPASS  device %s (sid 0x%x on %s): %s\n", ap_device_name(f->device),
			ap_device_sid(f->device), ap_iommu_name(f->iommu), f->text);
	else
		fprintf(arg, "BYPASS  iommu %s %s\n", ap_iommu_name(f->iommu), f->text);
}

static void audit_none(void *arg, const struct ap__finding *f)
{
	(void)arg;
	(void)f;
}

int ap_audit_as(struct ap_ctx *ctx, FILE *out, enum ap_view_format format)
{
	int findings;

	if (!ctx || (unsigned)format > AP_VIEW_JSON)
		return -EINVAL;
	if (out && format == AP_VIEW_JSON)
		return ap__view_audit_json(ctx, out);
	findings = ap__view_audit(ctx, out ? audit_line : audit_none, out);
	if (out && !findings)
		fprintf(out, "no bypass: every DMA in this machine is translated or faults\n");
	return findings;
}

int ap_audit(struct ap_ctx *ctx, FILE *out)
{
	return ap_audit_as(ctx, out, AP_VIEW_TEXT);
}
