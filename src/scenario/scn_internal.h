/* Inside the scenario layer: formatting helpers shared by its files. */
#ifndef AP_SCN_INTERNAL_H
#define AP_SCN_INTERNAL_H

#include <stdio.h>

#include <aperture/aperture.h>

const char *ap__fmt_pgsizes(uint64_t bitmap, char *buf, size_t len);
const char *ap__fmt_size(uint64_t size, char *buf, size_t len);
const char *ap__fmt_bytes(uint64_t bytes, char *buf, size_t len);

#endif
