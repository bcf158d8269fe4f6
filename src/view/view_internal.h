/* SPDX-License-Identifier: MIT */
/* Inside the view layer: helpers its files share. */
#ifndef AP_VIEW_INTERNAL_H
#define AP_VIEW_INTERNAL_H

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

#endif
