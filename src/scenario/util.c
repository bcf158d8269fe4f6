/* SPDX-License-Identifier: MIT */
/*
 * Small parsers and names shared by the scenario language and the tools.
 */
#include <errno.h>
#include <string.h>

#include <aperture/aperture.h>

#include "scn_internal.h"

const char *ap_version(void)
{
	return AP_VERSION_STRING;
}

int ap_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	unsigned base = 10;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
		if (!*p)
			return -EINVAL;
	}
	for (; *p; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	if (p == s || (base == 16 && p == s + 2))
		return -EINVAL;
	if (*p) {
		switch (*p) {
		case 'K': mult = 1ull << 10; break;
		case 'M': mult = 1ull << 20; break;
		case 'G': mult = 1ull << 30; break;
		case 'T': mult = 1ull << 40; break;
		default: return -EINVAL;
		}
		if (p[1])
			return -EINVAL;
	}
	if (v && mult > UINT64_MAX / v)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

static const struct {
	int err;
	const char *name;
} errnos[] = {
	{ EPERM, "EPERM" },         { ENOENT, "ENOENT" },       { EIO, "EIO" },
	{ ENXIO, "ENXIO" },         { E2BIG, "E2BIG" },         { EBADF, "EBADF" },
	{ EAGAIN, "EAGAIN" },       { ENOMEM, "ENOMEM" },       { EACCES, "EACCES" },
	{ EFAULT, "EFAULT" },       { EBUSY, "EBUSY" },         { EEXIST, "EEXIST" },
	{ ENODEV, "ENODEV" },       { EINVAL, "EINVAL" },       { ENOTTY, "ENOTTY" },
	{ ENOSPC, "ENOSPC" },       { ERANGE, "ERANGE" },       { ENAMETOOLONG, "ENAMETOOLONG" },
	{ ENOSYS, "ENOSYS" },       { EPROTO, "EPROTO" },       { EOVERFLOW, "EOVERFLOW" },
	{ EOPNOTSUPP, "EOPNOTSUPP" }, { EADDRINUSE, "EADDRINUSE" }, { EDOM, "EDOM" },
	{ EBADFD, "EBADFD" },       { EMFILE, "EMFILE" },
};

int ap_errno_from_name(const char *name)
{
	size_t i;

	for (i = 0; name && i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (!strcmp(errnos[i].name, name))
			return errnos[i].err;
	return 0;
}

const char *ap_errno_name(int err)
{
	size_t i;

	if (err < 0)
		err = -err;
	for (i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (errnos[i].err == err)
			return errnos[i].name;
	return "E?";
}

/* "4K,2M,1G" for a pgsize bitmap, "-" for none. */
const char *ap__fmt_pgsizes(uint64_t bitmap, char *buf, size_t len)
{
	size_t at = 0;
	unsigned b;

	buf[0] = '\0';
	for (b = 0; b < 64 && at < len; b++) {
		if (!(bitmap & (1ull << b)))
			continue;
		at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? "," : "",
				       ap__fmt_size(1ull << b, (char[16]){ 0 }, 16));
	}
	if (!at)
		snprintf(buf, len, "-");
	return buf;
}

/* Shortest exact spelling of a size: "4K", "2M", "0x1800". */
const char *ap__fmt_size(uint64_t size, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u;

	for (u = 3; u >= 0; u--) {
		uint64_t unit = 1ull << (10 * (u + 1));

		if (size >= unit && !(size & (unit - 1))) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(size / unit), units[u]);
			return buf;
		}
	}
	snprintf(buf, len, size < 1024 ? "%llu" : "0x%llx", (unsigned long long)size);
	return buf;
}

/* "1.5 GiB" style, for humans. */
const char *ap__fmt_bytes(uint64_t bytes, char *buf, size_t len)
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
