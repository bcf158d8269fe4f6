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

/* Human-readable state: everything, or the one object called `name`
 * (instance, device, domain or VFIO container label, looked up in that
 * order).  out NULL prints nothing.  -EINVAL without a context; -ENOENT if
 * no object has that name. */
AP_API int ap_show(struct ap_ctx *ctx, FILE *out, const char *name);

/*
 * One line per live leaf of a paging domain, in IOVA order:
 *   leaf lvl=L iova=0x... size=0x... pte=0x%016llx
 * with L the architectural level (ARM 0..3, 3 the last; VT-d 1 the 4K
 * level).  -EINVAL for a domain that is not paging.
 */
AP_API int ap_dump(const struct ap_domain *dom, FILE *out);

/*
 * Every way DMA can bypass translation in this machine: instances that pass
 * unmatched streams or leave their aperture open, devices with no domain on
 * them, identity domains.  One line each to out (if not NULL), or a line
 * saying there is none.  Returns the number of findings (0: nothing
 * bypasses).
 */
AP_API int ap_audit(struct ap_ctx *ctx, FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* APERTURE_VIEW_H */
