/* SPDX-License-Identifier: MIT */
/*
 * Small helpers the kinds share: building register views and fact lines,
 * reading and writing option values.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "kind.h"

void ap__reg_push(struct ap_reg_view *v, const char *name, uint64_t value, unsigned style,
		  unsigned digits)
{
	if (v->n < AP_REG_VIEW_MAX)
		v->f[v->n++] = (struct ap_reg_field){ name, value, (uint8_t)style, (uint8_t)digits };
}

/* Fill out[n] (if it fits) with key and the formatted value; n + 1. */
size_t ap__fact(struct ap_iommu_fact *out, size_t max, size_t n, const char *key,
		const char *fmt, ...)
{
	va_list ap;

	if (n < max) {
		snprintf(out[n].key, sizeof(out[n].key), "%s", key);
		va_start(ap, fmt);
		vsnprintf(out[n].value, sizeof(out[n].value), fmt, ap);
		va_end(ap);
	}
	return n + 1;
}

/* A number below 2^32, as ap_parse_size() reads numbers. */
int ap__parse_u32(const char *value, unsigned *out)
{
	uint64_t v;

	if (ap_parse_size(value, &v) || v > UINT32_MAX)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* Append to buf at `at` (snprintf style: returns where the text would end,
 * whether or not it fit). */
size_t ap__cat(char *buf, size_t len, size_t at, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(at < len ? buf + at : NULL, at < len ? len - at : 0, fmt, ap);
	va_end(ap);
	return at + (n > 0 ? (size_t)n : 0);
}

/* Append a word to a space-separated list at `at` (ap__cat's convention). */
size_t ap__word(char *buf, size_t len, size_t at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (at)
		at = ap__cat(buf, len, at, " ");
	va_start(ap, fmt);
	n = vsnprintf(at < len ? buf + at : NULL, at < len ? len - at : 0, fmt, ap);
	va_end(ap);
	return at + (n > 0 ? (size_t)n : 0);
}
