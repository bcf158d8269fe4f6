/* SPDX-License-Identifier: MIT */
/*
 * Formatting for people, shared by the views.
 */
#include <stdio.h>

#include "view_internal.h"

/* "1.5 GiB" style, for humans. */
const char *ap__view_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	if (u == 0 || v == (double)(uint64_t)v)
		snprintf(buf, len, "%llu %s", (unsigned long long)v, units[u]);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

const char *ap__view_access(unsigned access, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", access & AP_ACCESS_WRITE ? "write" : "read",
		 access & AP_ACCESS_EXEC ? "+exec" : "", access & AP_ACCESS_PRIV ? "+priv" : "");
	return buf;
}

const char *ap__view_fault_detail(const struct ap_fault *f, char *buf, size_t len)
{
	char acc[32];

	ap__view_access(f->access, acc, sizeof(acc));
	if (f->kind == AP_FAULT_EXTERNAL)
		snprintf(buf, len, "%s, pa 0x%llx", acc, (unsigned long long)f->pa);
	else if (f->level >= 0)
		snprintf(buf, len, "%s, level %d", acc, f->level);
	else
		snprintf(buf, len, "%s", acc);
	return buf;
}
