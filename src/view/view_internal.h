/* SPDX-License-Identifier: MIT */
/* Inside the view layer: helpers its files share. */
#ifndef AP_VIEW_INTERNAL_H
#define AP_VIEW_INTERNAL_H

#include <stdio.h>

#include <aperture/core.h>
#include <aperture/vfio.h>

/* "1.5 GiB" style. */
const char *ap__view_bytes(uint64_t bytes, char *buf, size_t len);

#endif
