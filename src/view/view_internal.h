/* SPDX-License-Identifier: MIT */
/* Inside the view layer: helpers its files share. */
#ifndef AP_VIEW_INTERNAL_H
#define AP_VIEW_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include <aperture/core.h>
#include <aperture/vfio.h>
#include <aperture/view.h>

/* "1.5 GiB" style. */
const char *ap__view_bytes(uint64_t bytes, char *buf, size_t len);

/* "read, level 3" / "write, pa 0x..." : what a fault record adds to its
 * kind, stream and IOVA. */
const char *ap__view_fault_detail(const struct ap_fault *f, char *buf, size_t len);

/* "r", "rw", "rwx", ... of an access (enum ap_access). */
const char *ap__view_access(unsigned access, char *buf, size_t len);

/* The stage column: what the table format of the instance's domains
 * translates (1 or 2). */
unsigned ap__view_stage(const struct ap_iommu *i);
/* "type1v2", "type1", "no IOMMU set". */
const char *ap__view_container_type(unsigned long iommu);
/* The container labelled `name`, as an index. */
bool ap__view_container_named(struct ap_ctx *ctx, const char *name, size_t *index);
/* "unmatched", "identity", "open-aperture", "none". */
const char *ap__view_bypass_kind(enum ap_bypass b);

/* One way DMA bypasses translation, as audit reports it: an instance
 * (device NULL) or a device behind it. */
struct ap__finding {
	const struct ap_iommu *iommu;
	const struct ap_device *device;
	const char *kind; /* "unmatched", "open-aperture", "identity" */
	const char *text; /* what it lets DMA do */
};
/* Call fn for every finding; returns how many there are. */
int ap__view_audit(struct ap_ctx *ctx, void (*fn)(void *arg, const struct ap__finding *f),
		   void *arg);

/* A run of leaves dump --ranges folds into one line: count leaves of
 * leaf_size at one level, IOVA and PA both consecutive, the same
 * descriptor bits but the output address. */
struct ap__range {
	uint64_t iova, pa, leaf_size, count;
	int level;
	uint64_t pte, last_pte; /* the first leaf's descriptor, the last's */
	unsigned prot;          /* enum ap_prot, decoded from the descriptor */
};
/* Call fn for every run of pt's leaves in IOVA order; stops at (and
 * returns) fn's first non-zero result. */
int ap__view_ranges(const struct ap_pt *pt, int (*fn)(void *arg, const struct ap__range *r),
		    void *arg);

/* ptebits.c: a leaf descriptor's fields, as the architecture names them
 * (the output address left out); fills up to max, returns how many. */
#define AP_PTE_FIELDS_MAX 12
struct ap_pte_field {
	const char *name;    /* "AttrIndx", "S2AP", "R", ... */
	uint64_t value;
	const char *meaning; /* "normal-wb", "rw", ... or "" */
};
size_t ap__pte_fields(enum ap_pt_format format, uint64_t pte, struct ap_pte_field *f,
		      size_t max);

/*
 * Numbers as printf's %llx (at least `width` digits, zero-padded: %0*llx),
 * %llu and %lld would write them, at p, without a NUL; each returns the
 * characters written (at most 20).  For the lines printed once per leaf:
 * fprintf costs several times the formatting (and its format is parsed
 * again by a sanitizer's interceptor), and a domain has many leaves.
 */
static inline size_t ap__fmt_hex(char *p, uint64_t v, unsigned width)
{
	char tmp[16];
	size_t n = 0, i;

	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v || n < width);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

static inline size_t ap__fmt_udec(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

static inline size_t ap__fmt_dec(char *p, int64_t v)
{
	if (v >= 0)
		return ap__fmt_udec(p, (uint64_t)v);
	*p = '-';
	return 1 + ap__fmt_udec(p + 1, 0 - (uint64_t)v);
}

/* json.c: the views as JSON (doc/json-schema/) */
int ap__view_show_json(struct ap_ctx *ctx, FILE *out, enum ap_object_type type,
		       const char *name);
int ap__view_dump_json(const struct ap_domain *dom, FILE *out, unsigned flags);
int ap__view_audit_json(struct ap_ctx *ctx, FILE *out);

/* virtio.c: the virtio-iommu devices (all, or only's), and why an
 * instance's virtio-iommu lets unattached endpoints bypass (NULL: it has
 * none, or they do not). */
void ap__view_virtio(struct ap_ctx *ctx, FILE *out, const struct ap_iommu *only);
const char *ap__view_virtio_bypass(struct ap_ctx *ctx, const struct ap_iommu *iommu);

#endif
