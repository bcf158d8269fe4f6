/* SPDX-License-Identifier: MIT */
/*
 * The views as JSON, for tools: one document per call, laid out as the
 * schemas in doc/json-schema/ say (show-v1, dump-v1, audit-v1).  Addresses,
 * sizes and descriptors are strings of hex ("0x1000"), since JSON numbers
 * lose 64-bit values in most readers; counts and bit fields are numbers.
 * A change that breaks a reader gets a new schema version.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <linux/vfio.h>

#include "view_internal.h"

#define JW_DEPTH 16

/* A small streaming writer: two-space indents, one member a line. */
struct jw {
	FILE *f;
	int depth;
	bool first[JW_DEPTH];
};

/* Whether s needs no escape: then it is written whole. */
static bool jw_plain(const char *s, size_t *len)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (s[n] == '"' || s[n] == '\\' || (unsigned char)s[n] < 0x20 ||
		    (unsigned char)s[n] >= 0x7f)
			return false;
	*len = n;
	return true;
}

static void jw_string(FILE *f, const char *s)
{
	size_t len;

	fputc('"', f);
	if (jw_plain(s, &len)) {
		(void)fwrite(s, 1, len, f); /* an error stays in f (ferror) */
		fputc('"', f);
		return;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f) /* names are ASCII; say any other byte */
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* The separator, indent and key of the next value. */
static void jw_key(struct jw *w, const char *key)
{
	static const char spaces[] = "                                "; /* 2 * JW_DEPTH */

	if (w->depth > 0) {
		fputs(w->first[w->depth] ? "\n" : ",\n", w->f);
		w->first[w->depth] = false;
		(void)fwrite(spaces, 1, 2 * (size_t)w->depth, w->f); /* depth < JW_DEPTH */
	}
	if (key) {
		jw_string(w->f, key);
		fputs(": ", w->f);
	}
}

static void jw_open(struct jw *w, const char *key, char c)
{
	jw_key(w, key);
	fputc(c, w->f);
	if (w->depth + 1 < JW_DEPTH)
		w->depth++;
	w->first[w->depth] = true;
}

static void jw_close(struct jw *w, char c)
{
	bool empty = w->first[w->depth];

	w->depth--;
	if (!empty)
		fprintf(w->f, "\n%*s", 2 * w->depth, "");
	fputc(c, w->f);
	if (!w->depth)
		fputc('\n', w->f);
}

static void jw_obj(struct jw *w, const char *key)
{
	jw_open(w, key, '{');
}

static void jw_obj_end(struct jw *w)
{
	jw_close(w, '}');
}

static void jw_arr(struct jw *w, const char *key)
{
	jw_open(w, key, '[');
}

static void jw_arr_end(struct jw *w)
{
	jw_close(w, ']');
}

static void jw_str(struct jw *w, const char *key, const char *v)
{
	jw_key(w, key);
	if (v)
		jw_string(w->f, v);
	else
		fputs("null", w->f);
}

/* Numbers are formatted by hand (ap__fmt_hex): a dump writes several for
 * every leaf. */
static void jw_hex(struct jw *w, const char *key, uint64_t v)
{
	char s[24] = "\"0x";
	size_t n = 3 + ap__fmt_hex(s + 3, v, 1);

	jw_key(w, key);
	s[n++] = '"';
	(void)fwrite(s, 1, n, w->f);
}

static void jw_uint(struct jw *w, const char *key, uint64_t v)
{
	char s[24];
	size_t n = ap__fmt_udec(s, v);

	jw_key(w, key);
	(void)fwrite(s, 1, n, w->f);
}

static void jw_int(struct jw *w, const char *key, int64_t v)
{
	char s[24];
	size_t n = ap__fmt_dec(s, v);

	jw_key(w, key);
	(void)fwrite(s, 1, n, w->f);
}

static void jw_bool(struct jw *w, const char *key, bool v)
{
	jw_key(w, key);
	fputs(v ? "true" : "false", w->f);
}

static void jw_null(struct jw *w, const char *key)
{
	jw_key(w, key);
	fputs("null", w->f);
}

/* ["4K", "2M"]: a page-size bitmap as sizes people read. */
static void jw_pgsizes(struct jw *w, const char *key, uint64_t bitmap)
{
	char sz[32];

	jw_arr(w, key);
	for (unsigned b = 0; b < 64; b++)
		if (bitmap >> b & 1)
			jw_str(w, NULL, ap_format_size(1ull << b, sz, sizeof(sz)));
	jw_arr_end(w);
}

static void jw_prot(struct jw *w, const char *key, unsigned prot)
{
	static const char letters[] = "rwcnmp";
	char s[8];
	size_t n = 0;

	for (unsigned b = 0; b < 6; b++)
		if (prot >> b & 1)
			s[n++] = letters[b];
	s[n] = '\0';
	jw_str(w, key, s);
}

/* ------------------------------------------------------------ show */

static void json_ram(struct jw *w, struct ap_ctx *ctx)
{
	uint64_t base, size;

	jw_arr(w, "ram");
	for (size_t n = 0; !ap_ram_region(ctx, n, &base, &size); n++) {
		jw_obj(w, NULL);
		jw_hex(w, "base", base);
		jw_hex(w, "size", size);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	ap_ctx_get_table_window(ctx, &base, &size);
	if (!size) {
		jw_null(w, "table_window");
		return;
	}
	jw_obj(w, "table_window");
	jw_hex(w, "base", base);
	jw_hex(w, "size", size);
	jw_obj_end(w);
}

static void json_fault(struct jw *w, const struct ap_fault *f)
{
	jw_obj(w, NULL);
	jw_str(w, "kind", ap_fault_kind_name(f->kind));
	jw_uint(w, "sid", f->sid);
	jw_hex(w, "iova", f->iova);
	jw_bool(w, "write", f->access & AP_ACCESS_WRITE);
	jw_bool(w, "exec", f->access & AP_ACCESS_EXEC);
	jw_bool(w, "priv", f->access & AP_ACCESS_PRIV);
	if (f->level >= 0)
		jw_int(w, "level", f->level);
	else
		jw_null(w, "level");
	if (f->kind == AP_FAULT_EXTERNAL)
		jw_hex(w, "pa", f->pa);
	else
		jw_null(w, "pa");
	jw_obj_end(w);
}

static void json_iommu(struct jw *w, const struct ap_iommu *i)
{
	const struct ap_iommu_config *c = ap_iommu_get_config(i);
	struct ap_iommu_fact facts[8];
	struct ap_iotlb_stats t;
	struct ap_fault f;
	size_t n;

	jw_obj(w, NULL);
	jw_str(w, "name", ap_iommu_name(i));
	jw_str(w, "kind", ap_iommu_kind_name(c->kind));
	jw_uint(w, "ias", c->ias);
	jw_uint(w, "oas", c->oas);
	jw_uint(w, "stage", ap__view_stage(i));
	jw_str(w, "table_format", ap_pt_format_name(ap_iommu_domain_format(i)));
	jw_pgsizes(w, "pgsizes", c->pgsize_bitmap);
	jw_str(w, "unmatched", ap_iommu_unmatched(i) == AP_UNMATCHED_BYPASS ? "bypass" : "abort");
	jw_str(w, "aperture", c->force_aperture ? "forced" : "open");
	jw_bool(w, "coherent_walk", c->coherent_walk);
	n = ap_iommu_facts(i, facts, sizeof(facts) / sizeof(facts[0]));
	jw_obj(w, "facts");
	for (size_t k = 0; k < n && k < sizeof(facts) / sizeof(facts[0]); k++)
		jw_str(w, facts[k].key, facts[k].value);
	jw_obj_end(w);
	ap_iommu_iotlb_stats(i, &t);
	jw_obj(w, "iotlb");
	jw_uint(w, "entries", t.entries);
	jw_uint(w, "hits", t.hits);
	jw_uint(w, "misses", t.misses);
	jw_uint(w, "walks", t.walks);
	jw_uint(w, "fills", t.fills);
	jw_uint(w, "invalidations", t.invalidations);
	jw_uint(w, "dropped", t.dropped);
	jw_obj_end(w);
	jw_obj(w, "event_queue");
	jw_uint(w, "size", c->evtq_size);
	jw_uint(w, "pending", ap_iommu_fault_pending(i));
	jw_bool(w, "overflow", ap_iommu_fault_overflow(i));
	jw_uint(w, "faults_total", ap_iommu_fault_count(i, AP_FAULT_NONE));
	jw_arr(w, "records");
	for (unsigned k = 0; !ap_iommu_fault_peek(i, k, &f); k++)
		json_fault(w, &f);
	jw_arr_end(w);
	jw_obj_end(w);
	jw_obj_end(w);
}

static void json_device(struct jw *w, const struct ap_device *d)
{
	const struct ap_domain *dom = ap_device_domain(d);
	enum ap_bypass b = ap_device_bypasses(d);
	struct ap_resv r;

	jw_obj(w, NULL);
	jw_str(w, "name", ap_device_name(d));
	jw_str(w, "iommu", ap_iommu_name(ap_device_iommu(d)));
	jw_uint(w, "sid", ap_device_sid(d));
	jw_uint(w, "sid_mask", ap_device_sid_mask(d));
	jw_uint(w, "group", (uint64_t)ap_device_group_id(d));
	jw_str(w, "domain", dom ? ap_domain_name(dom) : NULL);
	if (b == AP_BYPASS_NONE) {
		jw_null(w, "bypass");
	} else {
		jw_obj(w, "bypass");
		jw_str(w, "kind", ap__view_bypass_kind(b));
		jw_str(w, "reason", ap_bypass_reason(b));
		jw_obj_end(w);
	}
	jw_arr(w, "reserved");
	for (size_t n = 0; !ap_device_resv(d, n, &r); n++) {
		jw_obj(w, NULL);
		jw_hex(w, "start", r.start);
		jw_hex(w, "end", r.end);
		jw_str(w, "type", ap_resv_type_name(r.type));
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

static void json_regs(struct jw *w, const struct ap_reg_view *v)
{
	static const char *const styles[] = { "hex", "field", "dec" };

	jw_arr(w, "registers");
	for (unsigned k = 0; k < v->n && k < AP_REG_VIEW_MAX; k++) {
		jw_obj(w, NULL);
		jw_str(w, "name", v->f[k].name);
		if (v->f[k].style == AP_REG_HEX)
			jw_hex(w, "value", v->f[k].value);
		else
			jw_uint(w, "value", v->f[k].value);
		jw_str(w, "style", styles[v->f[k].style < 3 ? v->f[k].style : 0]);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void json_domain(struct jw *w, struct ap_ctx *ctx, const struct ap_domain *dom)
{
	const struct ap_pt *pt = ap_domain_pt(dom);
	struct ap_pt_walk_cfg wc;
	struct ap_geometry g;
	struct ap_reg_view v;
	struct ap_iommu *i;
	struct ap_device *d;

	jw_obj(w, NULL);
	jw_str(w, "name", ap_domain_name(dom));
	jw_str(w, "type", ap_domain_type_name(ap_domain_type(dom)));
	jw_str(w, "owner", ap_iommu_name(ap_domain_owner(dom)));
	if (!pt) {
		jw_null(w, "paging");
	} else {
		ap_domain_geometry(dom, &g);
		ap_pt_get_walk_cfg(pt, &wc);
		jw_obj(w, "paging");
		jw_obj(w, "aperture");
		jw_hex(w, "start", g.start);
		jw_hex(w, "end", g.end);
		jw_bool(w, "forced", g.force);
		jw_obj_end(w);
		jw_pgsizes(w, "pgsizes", ap_domain_pgsizes(dom));
		jw_uint(w, "oas", ap_domain_oas(dom));
		jw_str(w, "format", ap_pt_format_name(wc.format));
		jw_uint(w, "granule", 1ull << wc.granule_shift);
		jw_hex(w, "root", wc.root);
		jw_int(w, "start_level", ap_pt_start_level(&wc));
		jw_uint(w, "leaves", ap_pt_leaf_count(pt));
		jw_uint(w, "table_bytes", ap_pt_table_bytes(pt));
		jw_arr(w, "walkers");
		for (i = ap_iommu_next(ctx, NULL); i; i = ap_iommu_next(ctx, i)) {
			if (ap_domain_reg_view(dom, i, &v))
				continue;
			jw_obj(w, NULL);
			jw_str(w, "iommu", ap_iommu_name(i));
			json_regs(w, &v);
			jw_obj_end(w);
		}
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_arr(w, "devices");
	for (d = ap_device_next(ctx, NULL); d; d = ap_device_next(ctx, d)) {
		if (ap_device_domain(d) != dom)
			continue;
		jw_obj(w, NULL);
		jw_str(w, "device", ap_device_name(d));
		jw_str(w, "iommu", ap_iommu_name(ap_device_iommu(d)));
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

static void json_container(struct jw *w, struct ap_ctx *ctx, size_t index)
{
	struct ap_vfio_container_info ci;
	struct ap_vfio_mapping m;
	struct ap_domain *dom;
	uint64_t start, end;
	int group;

	ap_vfio_container_info(ctx, index, &ci);
	jw_obj(w, NULL);
	jw_str(w, "label", ci.label[0] ? ci.label : NULL);
	if (ci.fd >= 0)
		jw_int(w, "fd", ci.fd);
	else
		jw_null(w, "fd");
	jw_str(w, "iommu", ci.iommu ? ap__view_container_type(ci.iommu) : NULL);
	jw_arr(w, "groups");
	for (size_t n = 0; !ap_vfio_container_group(ctx, index, n, &group); n++)
		jw_uint(w, NULL, (uint64_t)group);
	jw_arr_end(w);
	jw_pgsizes(w, "pgsizes", ci.pgsizes);
	jw_uint(w, "dma_avail", ci.dma_avail);
	jw_uint(w, "locked", ci.locked);
	jw_bool(w, "dirty_tracking", ci.dirty_tracking);
	jw_arr(w, "domains");
	for (size_t n = 0; (dom = ap_vfio_container_domain(ctx, index, n)); n++)
		jw_str(w, NULL, ap_domain_name(dom));
	jw_arr_end(w);
	jw_arr(w, "iova");
	for (size_t n = 0; !ap_vfio_container_iova(ctx, index, n, &start, &end); n++) {
		jw_obj(w, NULL);
		jw_hex(w, "start", start);
		jw_hex(w, "end", end);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_arr(w, "mappings");
	for (uint64_t from = 0; !ap_vfio_container_mapping(ctx, index, from, &m);) {
		jw_obj(w, NULL);
		jw_hex(w, "iova", m.iova);
		jw_hex(w, "size", m.size);
		jw_hex(w, "pa", m.pa);
		jw_hex(w, "vaddr", m.vaddr);
		jw_prot(w, "prot", m.prot);
		jw_bool(w, "vaddr_valid", m.vaddr_valid);
		jw_obj_end(w);
		from = m.iova + m.size;
		if (!from)
			break;
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

int ap__view_show_json(struct ap_ctx *ctx, FILE *out, enum ap_object_type type,
		       const char *name)
{
	struct jw w = { .f = out };
	struct ap_vfio_container_info ci;
	bool any = type == AP_OBJECT_ANY;
	struct ap_iommu *i;
	struct ap_device *d;
	struct ap_domain *dom;

	jw_obj(&w, NULL);
	jw_str(&w, "schema", "aperture-show/1");
	jw_str(&w, "version", ap_version());
	if (!name)
		json_ram(&w, ctx);
	jw_arr(&w, "iommus");
	for (i = ap_iommu_next(ctx, NULL); i; i = ap_iommu_next(ctx, i))
		if (!name || ((any || type == AP_OBJECT_IOMMU) && !strcmp(ap_iommu_name(i), name)))
			json_iommu(&w, i);
	jw_arr_end(&w);
	jw_arr(&w, "devices");
	for (d = ap_device_next(ctx, NULL); d; d = ap_device_next(ctx, d))
		if (!name || ((any || type == AP_OBJECT_DEVICE) && !strcmp(ap_device_name(d), name)))
			json_device(&w, d);
	jw_arr_end(&w);
	jw_arr(&w, "domains");
	for (dom = ap_domain_next(ctx, NULL); dom; dom = ap_domain_next(ctx, dom))
		if (!name || ((any || type == AP_OBJECT_DOMAIN) && !strcmp(ap_domain_name(dom), name)))
			json_domain(&w, ctx, dom);
	jw_arr_end(&w);
	jw_arr(&w, "containers");
	for (size_t c = 0; !ap_vfio_container_info(ctx, c, &ci); c++)
		if (!name || ((any || type == AP_OBJECT_CONTAINER) && !strcmp(ci.label, name)))
			json_container(&w, ctx, c);
	jw_arr_end(&w);
	jw_obj_end(&w);
	return 0;
}

/* ------------------------------------------------------------ dump */

static int json_leaf(void *arg, const struct ap_pt_leaf *leaf)
{
	struct jw *w = arg;

	jw_obj(w, NULL);
	jw_int(w, "level", leaf->level);
	jw_hex(w, "iova", leaf->iova);
	jw_hex(w, "size", leaf->size);
	jw_hex(w, "pa", leaf->pa);
	jw_hex(w, "pte", leaf->pte);
	jw_prot(w, "prot", leaf->prot);
	jw_obj_end(w);
	return 0;
}

struct json_ranges {
	struct jw *w;
	enum ap_pt_format format;
};

static int json_range(void *arg, const struct ap__range *r)
{
	const struct json_ranges *j = arg;
	struct ap_pte_field f[AP_PTE_FIELDS_MAX];
	size_t n = ap__pte_fields(j->format, r->pte, f, AP_PTE_FIELDS_MAX);
	struct jw *w = j->w;

	jw_obj(w, NULL);
	jw_hex(w, "iova", r->iova);
	jw_hex(w, "pa", r->pa);
	jw_hex(w, "size", r->count * r->leaf_size);
	jw_uint(w, "count", r->count);
	jw_hex(w, "leaf_size", r->leaf_size);
	jw_int(w, "level", r->level);
	jw_hex(w, "pte", r->pte);
	jw_prot(w, "prot", r->prot);
	jw_arr(w, "fields");
	for (size_t k = 0; k < n && k < AP_PTE_FIELDS_MAX; k++) {
		jw_obj(w, NULL);
		jw_str(w, "name", f[k].name);
		jw_uint(w, "value", f[k].value);
		jw_str(w, "meaning", f[k].meaning[0] ? f[k].meaning : NULL);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
	return 0;
}

int ap__view_dump_json(const struct ap_domain *dom, FILE *out, unsigned flags)
{
	const struct ap_pt *pt = ap_domain_pt(dom);
	struct jw w = { .f = out };
	struct ap_pt_walk_cfg wc;
	struct json_ranges jr = { &w, 0 };

	ap_pt_get_walk_cfg(pt, &wc);
	jw_obj(&w, NULL);
	jw_str(&w, "schema", "aperture-dump/1");
	jw_str(&w, "version", ap_version());
	jw_str(&w, "domain", ap_domain_name(dom));
	jw_str(&w, "format", ap_pt_format_name(wc.format));
	jw_uint(&w, "granule", 1ull << wc.granule_shift);
	if (flags & AP_DUMP_RANGES) {
		jr.format = wc.format;
		jw_arr(&w, "ranges");
		ap__view_ranges(pt, json_range, &jr);
	} else {
		jw_arr(&w, "leaves");
		ap_pt_for_each_leaf(pt, 0, UINT64_MAX, json_leaf, &w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	return 0;
}

/* ------------------------------------------------------------ audit */

static void json_finding(void *arg, const struct ap__finding *f)
{
	struct jw *w = arg;

	jw_obj(w, NULL);
	jw_str(w, "kind", f->kind);
	jw_str(w, "iommu", ap_iommu_name(f->iommu));
	jw_str(w, "device", f->device ? ap_device_name(f->device) : NULL);
	if (f->device)
		jw_uint(w, "sid", ap_device_sid(f->device));
	else
		jw_null(w, "sid");
	jw_str(w, "reason", f->text);
	jw_obj_end(w);
}

int ap__view_audit_json(struct ap_ctx *ctx, FILE *out)
{
	struct jw w = { .f = out };
	int n;

	jw_obj(&w, NULL);
	jw_str(&w, "schema", "aperture-audit/1");
	jw_str(&w, "version", ap_version());
	jw_arr(&w, "findings");
	n = ap__view_audit(ctx, json_finding, &w);
	jw_arr_end(&w);
	jw_bool(&w, "bypass_found", n > 0);
	jw_obj_end(&w);
	return n;
}
