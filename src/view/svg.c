/* SPDX-License-Identifier: MIT */
/*
 * The machine as a picture (SVG): one bar per instance's input range and
 * per domain's aperture on a common address axis, mapped extents coloured
 * by page size and shaded by permission, reserved regions and MSI windows,
 * and a mark where each queued fault hit.
 *
 * IOVA spaces run from a few KiB to 2^57, with mappings of 4 KiB beside
 * apertures of 256 TiB, so the axis is logarithmic: each power of two gets
 * the same width, addresses below 4 KiB sit at the left edge, and a tick
 * every 4 bits names the address.  A domain's row shows the range its owner
 * gave it as a dashed outline and its aperture as the bar: when a narrower
 * instance joins, the bar ends short of the outline.
 *
 * Every element carries a class (and data- attributes) naming what it is,
 * and a <title> that a browser shows on hover, so that tools and tests can
 * read the picture as well as people.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "view_internal.h"

#define WIDTH 1280.0
#define X0 330.0        /* the bars start here; labels to the left */
#define X1 1250.0
#define TOP 96.0        /* the first row */
#define ROW 62.0        /* row pitch */
#define BAR 18.0        /* bar height */
#define MIN_BITS 12     /* the axis starts at 4 KiB */
#define MAX_RESV 64     /* reserved regions drawn per row */
#define SECTION_GAP 14.0 /* above a section heading */
#define HEAD_GAP 26.0    /* from a heading to its first bar: room for labels */

struct lanes {
	double end[2];
	double y[2];
};

struct svg {
	FILE *f;
	struct ap_ctx *ctx;
	unsigned bits;  /* the axis ends at 2^bits */
	double y;       /* top of the row being drawn */
	struct lanes below; /* the labels under a domain's bar */
};

/* ------------------------------------------------------------ text */

static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f)
				fputc(*s, f);
			else
				fprintf(f, "&#x%x;", (unsigned char)*s);
		}
	}
}

static void text(struct svg *s, double x, double y, const char *cls, const char *t)
{
	fprintf(s->f, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\">", cls, x, y);
	esc(s->f, t);
	fputs("</text>\n", s->f);
}

/* Small labels beside marks, so that the picture reads without hovering:
 * two lanes a row side (a second line when the first is taken there), and
 * none where both would run into the labels before (marks come in address
 * order). */
static void lanes_init(struct lanes *l, double y0, double y1)
{
	*l = (struct lanes){ { 0, 0 }, { y0, y1 } };
}

static void small_label(struct svg *s, struct lanes *l, double x, double limit, const char *cls,
			const char *t)
{
	double w = 5.4 * (double)strlen(t);

	for (int k = 0; k < 2; k++) {
		/* the first lane runs between the marks: stop short of the next */
		if (x < l->end[k] + 6 || (k == 0 && x + w > limit))
			continue;
		fprintf(s->f, "<text class=\"small %s\" x=\"%.1f\" y=\"%.1f\">", cls, x, l->y[k]);
		esc(s->f, t);
		fputs("</text>\n", s->f);
		l->end[k] = x + w;
		return;
	}
}

static void title(struct svg *s, const char *t)
{
	fputs("<title>", s->f);
	esc(s->f, t);
	fputs("</title>", s->f);
}

/* ------------------------------------------------------------ the axis */

/* Where address a (a bound: up to 2^64) sits on the axis. */
static double xpos(const struct svg *s, double a)
{
	double b = a <= 4096.0 ? MIN_BITS : log2(a);

	if (b > s->bits)
		b = s->bits;
	return X0 + (X1 - X0) * (b - MIN_BITS) / (s->bits - MIN_BITS);
}

/* The extent [start, last] (inclusive) as x and width, at least w_min. */
static void span(const struct svg *s, uint64_t start, uint64_t last, double w_min, double *x,
		 double *w)
{
	double a = xpos(s, (double)start), b = xpos(s, (double)last + 1.0);

	*x = a;
	*w = b - a < w_min ? w_min : b - a;
}

static const char *tick_name(unsigned bit, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";

	snprintf(buf, len, "%llu%c", 1ull << (bit % 10), units[bit / 10 - 1]);
	return buf;
}

static void axis(struct svg *s, double bottom)
{
	char name[16];

	fprintf(s->f, "<g class=\"axis\">\n");
	for (unsigned b = MIN_BITS; b <= s->bits; b += 4) {
		double x = xpos(s, ldexp(1.0, (int)b));

		fprintf(s->f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
			x, TOP - 14, x, bottom);
		text(s, x, TOP - 18, "tick", b < 64 ? tick_name(b, name, sizeof(name)) : "2^64");
	}
	text(s, X0, TOP - 34, "axis-label",
	     "IOVA (log scale: each power of two the same width; below 4K at the left edge)");
	fprintf(s->f, "</g>\n");
}

/* ------------------------------------------------------------ marks */

static const char *resv_class(enum ap_resv_type t)
{
	return t == AP_RESV_MSI || t == AP_RESV_SW_MSI ? "msi" :
	       t == AP_RESV_RESERVED ? "reserved" : "direct";
}

static void resv_mark(struct svg *s, const struct ap_resv *r, struct lanes *l)
{
	char t[200];
	double x, w;

	span(s, r->start, r->end, 2.0, &x, &w);
	snprintf(t, sizeof(t), "%s region 0x%" PRIx64 "-0x%" PRIx64, ap_resv_type_name(r->type),
		 r->start, r->end);
	fprintf(s->f, "<rect class=\"resv %s\" data-type=\"%s\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
		"height=\"%.1f\">", resv_class(r->type), ap_resv_type_name(r->type), x, s->y - 3, w,
		BAR + 6);
	title(s, t);
	fputs("</rect>\n", s->f);
	small_label(s, l, x + w + 2, X1 + 100, "resv-label", ap_resv_type_name(r->type));
}

static int resv_before(const void *a, const void *b)
{
	const struct ap_resv *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start ? 1 : (int)x->type - (int)y->type;
}

/* A row's reserved regions: those of its devices, each drawn once, in
 * address order. */
static void resv_marks(struct svg *s, const struct ap_iommu *iommu, const struct ap_domain *dom,
		       struct lanes *l)
{
	struct ap_resv seen[MAX_RESV] = { { 0, 0, AP_RESV_DIRECT } };
	size_t nseen = 0;
	struct ap_device *d;
	struct ap_resv r;

	for (d = ap_device_next(s->ctx, NULL); d; d = ap_device_next(s->ctx, d)) {
		if ((iommu && ap_device_iommu(d) != iommu) || (dom && ap_device_domain(d) != dom))
			continue;
		for (size_t n = 0; !ap_device_resv(d, n, &r); n++) {
			size_t k;

			for (k = 0; k < nseen; k++)
				if (seen[k].start == r.start && seen[k].end == r.end &&
				    seen[k].type == r.type)
					break;
			if (k == nseen && nseen < MAX_RESV)
				seen[nseen++] = r;
		}
	}
	qsort(seen, nseen, sizeof(seen[0]), resv_before);
	for (size_t k = 0; k < nseen; k++)
		resv_mark(s, &seen[k], l);
}

/* A queued record, by where it hit (the queue is in time order). */
struct fault_mark {
	uint64_t iova;
	unsigned index;
};

static int fault_before(const void *a, const void *b)
{
	const struct fault_mark *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

#define MAX_FAULT_MARKS 1024

static void fault_marks(struct svg *s, const struct ap_iommu *i)
{
	static struct fault_mark m[MAX_FAULT_MARKS]; /* views run on one thread */
	char t[200], detail[96];
	struct ap_fault f;
	struct lanes l;
	unsigned n;

	lanes_init(&l, s->y - 4, s->y - 15);
	for (n = 0; n < MAX_FAULT_MARKS && !ap_iommu_fault_peek(i, n, &f); n++)
		m[n] = (struct fault_mark){ f.iova, n };
	qsort(m, n, sizeof(m[0]), fault_before);
	for (unsigned k = 0; k < n; k++) {
		double x = xpos(s, (double)m[k].iova + 0.5);

		if (ap_iommu_fault_peek(i, m[k].index, &f))
			break;
		snprintf(t, sizeof(t), "%s fault: sid 0x%x, iova 0x%" PRIx64 ", %s",
			 ap_fault_kind_name(f.kind), f.sid, f.iova,
			 ap__view_fault_detail(&f, detail, sizeof(detail)));
		fprintf(s->f, "<path class=\"fault\" data-kind=\"%s\" data-iova=\"0x%" PRIx64 "\" "
			"d=\"M%.1f %.1f l-5 -9 h10 z\">", ap_fault_kind_name(f.kind), f.iova, x,
			s->y - 1);
		title(s, t);
		fputs("</path>\n", s->f);
		small_label(s, &l, x + 6,
			    k + 1 < n ? xpos(s, (double)m[k + 1].iova + 0.5) - 6 : X1 + 100,
			    "fault-label", ap_fault_kind_name(f.kind));
	}
}

/* ------------------------------------------------------------ rows */

static void iommu_row(struct svg *s, const struct ap_iommu *i)
{
	const struct ap_iommu_config *c = ap_iommu_get_config(i);
	bool bypass = ap_iommu_unmatched(i) == AP_UNMATCHED_BYPASS;
	struct lanes l;
	char t[200];
	double x, w;

	fprintf(s->f, "<g class=\"iommu\" data-name=\"");
	esc(s->f, ap_iommu_name(i));
	fprintf(s->f, "\">\n");
	snprintf(t, sizeof(t), "iommu %s", ap_iommu_name(i));
	text(s, 12, s->y + 8, "name", t);
	snprintf(t, sizeof(t), "%s, ias %u, oas %u", ap_iommu_kind_name(c->kind), c->ias, c->oas);
	text(s, 12, s->y + 24, "detail", t);
	span(s, 0, c->ias >= 64 ? UINT64_MAX : (1ull << c->ias) - 1, 2.0, &x, &w);
	fprintf(s->f, "<rect class=\"input-range%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		"height=\"%.1f\">", bypass ? " bypass" : "", x, s->y, w, BAR);
	snprintf(t, sizeof(t), "input range of %s: 0x0-0x%llx (%u bits)", ap_iommu_name(i),
		 c->ias >= 64 ? ~0ull : (unsigned long long)((1ull << c->ias) - 1), c->ias);
	title(s, t);
	fputs("</rect>\n", s->f);
	if (bypass)
		text(s, x + 6, s->y + 13, "bypass-note",
		     "BYPASS: a stream with no domain reaches memory untranslated");
	if (!c->force_aperture && c->ias < s->bits) {
		span(s, 1ull << c->ias, s->bits >= 64 ? UINT64_MAX : (1ull << s->bits) - 1, 2.0, &x,
		     &w);
		fprintf(s->f, "<rect class=\"open-beyond\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			"height=\"%.1f\"><title>beyond the input range: DMA passes untranslated "
			"(aperture open)</title></rect>\n", x, s->y, w, BAR);
	}
	lanes_init(&l, s->y + BAR + 10, s->y + BAR + 20);
	resv_marks(s, i, NULL, &l);
	fault_marks(s, i);
	fprintf(s->f, "</g>\n");
	s->y += ROW;
}

static const char *size_class(uint64_t size)
{
	switch (size) {
	case 1ull << 12: return "s4K";
	case 1ull << 14: return "s16K";
	case 1ull << 16: return "s64K";
	case 1ull << 21: return "s2M";
	case 1ull << 25: return "s32M";
	case 1ull << 29: return "s512M";
	case 1ull << 30: return "s1G";
	default: return "sother";
	}
}

static const char *prot_class(unsigned prot)
{
	bool r = prot & AP_PROT_READ, w = prot & AP_PROT_WRITE;

	return r && w ? "rw" : r ? "ro" : "wo";
}

static int extent(void *arg, const struct ap__range *r)
{
	struct svg *s = arg;
	uint64_t bytes = r->count * r->leaf_size;
	char t[240], sz[32], total[32];
	double x, w;

	span(s, r->iova, r->iova + bytes - 1, 1.5, &x, &w);
	ap_format_size(r->leaf_size, sz, sizeof(sz));
	snprintf(t, sizeof(t), "0x%" PRIx64 "-0x%" PRIx64 " -> pa 0x%" PRIx64 ": %" PRIu64 " x %s "
		 "(%s), %s%s", r->iova, r->iova + bytes - 1, r->pa, r->count, sz,
		 ap__view_bytes(bytes, total, sizeof(total)), prot_class(r->prot),
		 r->prot & AP_PROT_CACHE ? ", cacheable" : "");
	fprintf(s->f, "<rect class=\"extent %s %s\" data-pgsize=\"%s\" data-prot=\"%s\" "
		"data-iova=\"0x%" PRIx64 "\" data-size=\"0x%" PRIx64 "\" x=\"%.2f\" y=\"%.1f\" "
		"width=\"%.2f\" height=\"%.1f\">", size_class(r->leaf_size), prot_class(r->prot), sz,
		prot_class(r->prot), r->iova, bytes, x, s->y + 2, w, BAR - 4);
	title(s, t);
	fputs("</rect>\n", s->f);
	snprintf(t, sizeof(t), "%" PRIu64 "x%s %s", r->count, sz, prot_class(r->prot));
	small_label(s, &s->below, x, X1 + 100, "extent-label", t);
	return 0;
}

static void domain_row(struct svg *s, const struct ap_domain *dom)
{
	const struct ap_iommu *owner = ap_domain_owner(dom);
	unsigned ias = ap_iommu_get_config(owner)->ias;
	const struct ap_pt *pt = ap_domain_pt(dom);
	struct ap_device *d;
	struct ap_geometry g;
	struct lanes l;
	char t[240];
	size_t at;
	double x, w;

	ap_domain_geometry(dom, &g);
	fprintf(s->f, "<g class=\"domain\" data-name=\"");
	esc(s->f, ap_domain_name(dom));
	fprintf(s->f, "\" data-type=\"%s\">\n", ap_domain_type_name(ap_domain_type(dom)));
	snprintf(t, sizeof(t), "domain %s", ap_domain_name(dom));
	text(s, 12, s->y + 8, "name", t);
	at = (size_t)snprintf(t, sizeof(t), "%s, owner %s",
			      ap_domain_type_name(ap_domain_type(dom)), ap_iommu_name(owner));
	for (d = ap_device_next(s->ctx, NULL); d && at < sizeof(t); d = ap_device_next(s->ctx, d))
		if (ap_device_domain(d) == dom)
			at += (size_t)snprintf(t + at, sizeof(t) - at, "%s%s@%s",
					       strchr(t, ';') ? " " : "; ", ap_device_name(d),
					       ap_iommu_name(ap_device_iommu(d)));
	text(s, 12, s->y + 24, "detail", t);
	/* what the owner gave it, and what holds now */
	span(s, 0, ias >= 64 ? UINT64_MAX : (1ull << ias) - 1, 2.0, &x, &w);
	fprintf(s->f, "<rect class=\"owner-range\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		"height=\"%.1f\">", x, s->y - 4, w, BAR + 8);
	snprintf(t, sizeof(t), "the range its owner %s gave it: 0x0-0x%llx", ap_iommu_name(owner),
		 ias >= 64 ? ~0ull : (unsigned long long)((1ull << ias) - 1));
	title(s, t);
	fputs("</rect>\n", s->f);
	if (ap_domain_type(dom) == AP_DOMAIN_PAGING) {
		span(s, g.start, g.end, 2.0, &x, &w);
		fprintf(s->f, "<rect class=\"aperture%s\" data-start=\"0x%" PRIx64 "\" data-end=\"0x%"
			PRIx64 "\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">",
			g.force ? "" : " open", g.start, g.end, x, s->y, w, BAR);
		snprintf(t, sizeof(t), "aperture 0x%" PRIx64 "-0x%" PRIx64 " (%s)", g.start, g.end,
			 g.force ? "forced" : "open");
		title(s, t);
		fputs("</rect>\n", s->f);
		if (x + w < X1 - 120)
			text(s, x + w + 4, s->y + 13, "aperture-label", t);
	} else {
		fprintf(s->f, "<rect class=\"%s-domain\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			"height=\"%.1f\"><title>%s domain: %s</title></rect>\n",
			ap_domain_type_name(ap_domain_type(dom)), x, s->y, w, BAR,
			ap_domain_type_name(ap_domain_type(dom)),
			ap_domain_type(dom) == AP_DOMAIN_IDENTITY ? "IOVA = PA everywhere (bypass)"
								  : "every DMA faults");
	}
	lanes_init(&s->below, s->y + BAR + 10, s->y + BAR + 20);
	if (pt)
		ap__view_ranges(pt, extent, s);
	lanes_init(&l, s->y - 7, s->y - 17);
	resv_marks(s, NULL, dom, &l);
	fprintf(s->f, "</g>\n");
	s->y += ROW;
}

/* ------------------------------------------------------------ the page */

static const char style[] =
	"<style>\n"
	"text { font-family: 'DejaVu Sans', Verdana, sans-serif; fill: #222; }\n"
	".heading { font-size: 20px; font-weight: bold; }\n"
	".section { font-size: 15px; font-weight: bold; fill: #444; }\n"
	".name { font-size: 13px; font-weight: bold; }\n"
	".detail { font-size: 11px; fill: #555; }\n"
	".detail.bypass { fill: #c0392b; font-weight: bold; }\n"
	".tick { font-size: 11px; text-anchor: middle; fill: #666; }\n"
	".axis-label, .note { font-size: 11px; fill: #666; }\n"
	".legend-text { font-size: 11px; }\n"
	".grid { stroke: #ddd; stroke-width: 1; }\n"
	".input-range { fill: #eef1f5; stroke: #8795a8; stroke-width: 1; }\n"
	".input-range.bypass { stroke: #c0392b; stroke-width: 2; stroke-dasharray: 6 3; }\n"
	".open-beyond { fill: url(#hatch-red); stroke: #c0392b; stroke-width: 1; }\n"
	".owner-range { fill: none; stroke: #8795a8; stroke-width: 1.2; stroke-dasharray: 5 4; }\n"
	".aperture { fill: #eef1f5; stroke: #34495e; stroke-width: 1.5; }\n"
	".aperture.open { stroke: #c0392b; stroke-dasharray: 6 3; }\n"
	".identity-domain { fill: url(#hatch-red); stroke: #c0392b; }\n"
	".blocked-domain { fill: #d5d8dc; stroke: #7f8c8d; }\n"
	".extent { stroke-width: 0.8; }\n"
	".extent.rw { fill-opacity: 1; }\n"
	".extent.ro { fill-opacity: 0.45; stroke-dasharray: 3 2; }\n"
	".extent.wo { fill-opacity: 0.75; stroke-dasharray: 1 2; }\n"
	".s4K { fill: #4e79a7; stroke: #2c4a6e; }\n"
	".s16K { fill: #76b7b2; stroke: #3f7f7a; }\n"
	".s64K { fill: #9c755f; stroke: #5f4536; }\n"
	".s2M { fill: #59a14f; stroke: #2f6a28; }\n"
	".s32M { fill: #edc948; stroke: #a68a1c; }\n"
	".s512M { fill: #ff9da7; stroke: #b85f69; }\n"
	".s1G { fill: #b07aa1; stroke: #71466a; }\n"
	".sother { fill: #bab0ac; stroke: #6b6360; }\n"
	".resv { fill-opacity: 0.35; stroke-width: 1.5; }\n"
	".resv.msi { fill: #f28e2b; stroke: #b35f0c; }\n"
	".resv.reserved { fill: #555; stroke: #222; }\n"
	".resv.direct { fill: #e15759; stroke: #a02b2d; }\n"
	".fault { fill: #d62728; stroke: #7f1010; stroke-width: 0.8; }\n"
	".small { font-size: 9.5px; }\n"
	".resv-label { fill: #b35f0c; }\n"
	".bypass-note { font-size: 11px; font-weight: bold; fill: #c0392b; }\n"
	".aperture-label { font-size: 10.5px; fill: #34495e; }\n"
	".fault-label { fill: #b22222; }\n"
	".extent-label { fill: #444; }\n"
	"</style>\n";

static const char defs[] =
	"<defs><pattern id=\"hatch-red\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
	"patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#fdecea\"/>"
	"<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#e15759\" stroke-width=\"2\"/>"
	"</pattern></defs>\n";

static void legend_box(struct svg *s, double x, double y, const char *cls, const char *label)
{
	fprintf(s->f, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"22\" height=\"11\"/>\n", cls,
		x, y - 9);
	text(s, x + 27, y, "legend-text", label);
}

static void legend(struct svg *s, double y)
{
	static const struct {
		const char *cls, *label;
	} row1[] = {
		{ "extent s4K rw", "4K pages" },  { "extent s16K rw", "16K" },
		{ "extent s64K rw", "64K" },      { "extent s2M rw", "2M blocks" },
		{ "extent s32M rw", "32M" },      { "extent s512M rw", "512M" },
		{ "extent s1G rw", "1G" },
	}, row2[] = {
		{ "extent s4K rw", "read-write" }, { "extent s4K ro", "read-only" },
		{ "extent s4K wo", "write-only" }, { "resv msi", "MSI window" },
		{ "resv reserved", "reserved" },   { "resv direct", "direct (1:1)" },
		{ "open-beyond", "bypass" },
	};
	double x;

	fprintf(s->f, "<g class=\"legend\">\n");
	for (size_t k = 0; k < sizeof(row1) / sizeof(row1[0]); k++)
		legend_box(s, 12.0 + 110.0 * (double)k, y, row1[k].cls, row1[k].label);
	x = 12.0;
	for (size_t k = 0; k < sizeof(row2) / sizeof(row2[0]); k++) {
		x = 12.0 + 110.0 * (double)k;
		legend_box(s, x, y + 20, row2[k].cls, row2[k].label);
	}
	x += 110.0; /* the fault mark after the last entry */
	fprintf(s->f, "<path class=\"fault\" d=\"M%.1f %.1f l-5 -9 h10 z\"/>\n", x + 11, y + 20);
	text(s, x + 27, y + 20, "legend-text", "fault (queued record)");
	text(s, 12, y + 40, "note",
	     "Dashed outline: the range the domain's owner gave it; the bar: its aperture now "
	     "(narrower when a smaller instance joined).  Hover for details.");
	fprintf(s->f, "</g>\n");
}

int ap_draw_svg(struct ap_ctx *ctx, FILE *out, const char *caption)
{
	struct svg s = { .f = out, .ctx = ctx, .bits = 32 };
	unsigned niommu = 0, ndom = 0;
	struct ap_iommu *i;
	struct ap_domain *dom;
	double height;

	if (!ctx || !out)
		return -EINVAL;
	for (i = ap_iommu_next(ctx, NULL); i; i = ap_iommu_next(ctx, i), niommu++)
		if (ap_iommu_get_config(i)->ias > s.bits)
			s.bits = ap_iommu_get_config(i)->ias;
	s.bits = (s.bits + 3) / 4 * 4;
	if (s.bits > 64)
		s.bits = 64;
	for (dom = ap_domain_next(ctx, NULL); dom; dom = ap_domain_next(ctx, dom))
		ndom++;
	/* the rows, two section headings, the legend's three lines */
	height = TOP + 16 + HEAD_GAP + ROW * (niommu + ndom) + SECTION_GAP + HEAD_GAP + 8 + 40 + 24;
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		"viewBox=\"0 0 %.0f %.0f\">\n", WIDTH, height, WIDTH, height);
	fprintf(out, "<title>");
	esc(out, caption ? caption : "aperture");
	fprintf(out, "</title>\n%s%s", style, defs);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n",
		WIDTH, height);
	text(&s, 12, 28, "heading", caption ? caption : "aperture");
	axis(&s, TOP + 16 + HEAD_GAP + ROW * (niommu + ndom) + SECTION_GAP + HEAD_GAP - 20);
	s.y = TOP + 16;
	text(&s, 12, s.y - 4, "section", "IOMMU instances: input range, reserved windows, faults");
	s.y += HEAD_GAP;
	for (i = ap_iommu_next(ctx, NULL); i; i = ap_iommu_next(ctx, i))
		iommu_row(&s, i);
	s.y += SECTION_GAP;
	text(&s, 12, s.y - 4, "section", "domains: aperture and mappings");
	s.y += HEAD_GAP;
	for (dom = ap_domain_next(ctx, NULL); dom; dom = ap_domain_next(ctx, dom))
		domain_row(&s, dom);
	legend(&s, s.y + 8);
	fprintf(out, "</svg>\n");
	return 0;
}
