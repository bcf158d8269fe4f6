/* SPDX-License-Identifier: MIT */
/*
 * aperture/view.h - views of a machine for people and tools: show (its
 * state), dump (one line per page-table leaf, a format tools compare bit
 * for bit) and audit (every way DMA can bypass translation).
 *
 * Views read a context through the public API of the core and of the VFIO
 * layer; they change nothing, and they know objects by the names the
 * objects carry (a VFIO container by its label, ap_vfio_set_label()).
 * Output goes to a stdio stream the caller owns.
 */
#ifndef APERTURE_VIEW_H
#define APERTURE_VIEW_H

#include <stdio.h>

#include <aperture/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How a view is written: for people, or as one JSON document for tools,
 * whose layout doc/json-schema/ describes and versions (its "schema"
 * member names the schema, such as "aperture-show/1"). */
enum ap_view_format {
	AP_VIEW_TEXT = 0,
	AP_VIEW_JSON = 1,
};

/* The kinds of object a name can belong to; names are unique per kind
 * only, so one name may be an IOMMU, a device, a domain and a container. */
enum ap_object_type {
	AP_OBJECT_ANY = 0,
	AP_OBJECT_IOMMU = 1,
	AP_OBJECT_DEVICE = 2,
	AP_OBJECT_DOMAIN = 3,
	AP_OBJECT_CONTAINER = 4, /* a VFIO container, by its label */
};

/* "iommu", "device", "domain", "container" -> type; AP_OBJECT_ANY for any
 * other word.  And back ("any" for AP_OBJECT_ANY). */
AP_API enum ap_object_type ap_object_type_from_name(const char *name);
AP_API const char *ap_object_type_name(enum ap_object_type type);

/*
 * The state of the machine: RAM and the page-table window; IOMMUs with
 * their IOTLB counters and the fault records queued; devices with their
 * reserved regions; domains with their registers; VFIO containers with
 * their mappings.  With a name, only the objects of `type` called `name`
 * (AP_OBJECT_ANY: every kind of object with that name, each under its
 * heading).  -EINVAL without a context or for a bad format or type;
 * -ENOENT if no such object exists (whether or not out is NULL, which
 * prints nothing).
 */
AP_API int ap_show_as(struct ap_ctx *ctx, FILE *out, enum ap_view_format format,
		      enum ap_object_type type, const char *name);

/* ap_show_as(ctx, out, AP_VIEW_TEXT, AP_OBJECT_ANY, name). */
AP_API int ap_show(struct ap_ctx *ctx, FILE *out, const char *name);

/*
 * One line per live leaf of a paging domain, in IOVA order:
 *   leaf lvl=L iova=0x... size=0x... pte=0x%016llx
 * with L the architectural level (ARM 0..3, 3 the last; VT-d 1 the 4K
 * level).  -EINVAL for a domain that is not paging.  This format is a
 * contract: it does not change.
 */
AP_API int ap_dump(const struct ap_domain *dom, FILE *out);

enum ap_dump_flags {
	/* Fold runs of leaves (same level and size, IOVA and output address
	 * consecutive, the same descriptor bits but the address) into one
	 * line each, with the descriptor's fields decoded:
	 *   range iova=0xA-0xB pa=0xC-0xD NxSIZE lvl=L pte=0x%016llx NAME=V(MEANING) ...
	 * for people (the layout may grow); JSON has the same, structured. */
	AP_DUMP_RANGES = 1u << 0,
};

/* ap_dump() as text or JSON, with flags (enum ap_dump_flags).  -EINVAL for
 * a domain that is not paging, or a bad format or flag; out NULL prints
 * nothing. */
AP_API int ap_dump_as(const struct ap_domain *dom, FILE *out, enum ap_view_format format,
		      unsigned flags);

/*
 * Every way DMA can bypass translation in this machine: instances that pass
 * unmatched streams or leave their aperture open, devices with no domain on
 * them, identity domains.  One line each to out (if not NULL), or a line
 * saying there is none.  Returns the number of findings (0: nothing
 * bypasses).
 */
AP_API int ap_audit(struct ap_ctx *ctx, FILE *out);

/* ap_audit() as text or JSON; -EINVAL for a bad format or no context. */
AP_API int ap_audit_as(struct ap_ctx *ctx, FILE *out, enum ap_view_format format);

/*
 * The machine as a picture: an SVG document with one bar per instance's
 * input range (its reserved windows and where its queued faults hit) and
 * one per domain's aperture (the range its owner gave it dashed around it,
 * so a shrink shows; mapped extents coloured by page size and shaded by
 * permission; its devices' reserved regions), on a logarithmic address
 * axis.  caption (NULL: "aperture") heads it.  Every element has a class
 * naming what it is and a <title> with the details.  -EINVAL without a
 * context or a stream.
 */
AP_API int ap_draw_svg(struct ap_ctx *ctx, FILE *out, const char *caption);

#ifdef __cplusplus
}
#endif

#endif /* APERTURE_VIEW_H */
