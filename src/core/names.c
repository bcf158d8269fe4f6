/* SPDX-License-Identifier: MIT */
/*
 * The names the library speaks in, one home for all of them: its version,
 * numbers as people write them, errno, fault, reserved-region, domain and
 * bypass names.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

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
	{ EBADFD, "EBADFD" },       { EMFILE, "EMFILE" },       { ENODATA, "ENODATA" },
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

static const char *const fault_names[AP_FAULT_KIND_COUNT] = {
	[AP_FAULT_NONE] = "none",
	[AP_FAULT_BAD_STREAM] = "bad-stream",
	[AP_FAULT_TRANSLATION] = "translation",
	[AP_FAULT_ADDRESS_SIZE] = "address-size",
	[AP_FAULT_ACCESS_FLAG] = "access-flag",
	[AP_FAULT_PERMISSION] = "permission",
	[AP_FAULT_EXTERNAL] = "external",
};

const char *ap_fault_kind_name(enum ap_fault_kind kind)
{
	return (unsigned)kind < AP_FAULT_KIND_COUNT ? fault_names[kind] : "?";
}

enum ap_fault_kind ap_fault_kind_from_name(const char *name)
{
	unsigned k;

	for (k = 1; name && k < AP_FAULT_KIND_COUNT; k++)
		if (!strcmp(fault_names[k], name))
			return (enum ap_fault_kind)k;
	return AP_FAULT_NONE;
}

static const char *const resv_names[] = {
	[AP_RESV_DIRECT] = "direct",
	[AP_RESV_DIRECT_RELAXABLE] = "direct-relaxable",
	[AP_RESV_RESERVED] = "reserved",
	[AP_RESV_MSI] = "msi",
	[AP_RESV_SW_MSI] = "sw-msi",
};

#define RESV_TYPES (sizeof(resv_names) / sizeof(resv_names[0]))

const char *ap_resv_type_name(enum ap_resv_type type)
{
	return (unsigned)type < RESV_TYPES ? resv_names[type] : "?";
}

int ap_resv_type_from_name(const char *name)
{
	unsigned t;

	for (t = 0; name && t < RESV_TYPES; t++)
		if (!strcmp(resv_names[t], name))
			return (int)t;
	return -1;
}

/* "4K,2M,1G" for a pgsize bitmap, "-" for none. */
const char *ap_format_pgsizes(uint64_t bitmap, char *buf, size_t len)
{
	size_t at = 0;
	unsigned b;

	buf[0] = '\0';
	for (b = 0; b < 64 && at < len; b++) {
		if (!(bitmap & (1ull << b)))
			continue;
		at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? "," : "",
				       ap_format_size(1ull << b, (char[16]){ 0 }, 16));
	}
	if (!at)
		snprintf(buf, len, "-");
	return buf;
}

/* Shortest exact spelling of a size: "4K", "2M", "0x1800". */
const char *ap_format_size(uint64_t size, char *buf, size_t len)
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


/* "4K,2M,1G": power-of-two sizes, as a bitmap; -EINVAL for anything else. */
int ap_parse_pgsizes(const char *s, uint64_t *bitmap)
{
	char buf[256], *save = NULL, *item;
	uint64_t v, bits = 0;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (ap_parse_size(item, &v) || !v || (v & (v - 1)))
			return -EINVAL;
		bits |= v;
	}
	if (!bits)
		return -EINVAL;
	*bitmap = bits;
	return 0;
}

const char *ap_domain_type_name(enum ap_domain_type type)
{
	switch (type) {
	case AP_DOMAIN_BLOCKED: return "blocked";
	case AP_DOMAIN_IDENTITY: return "identity";
	case AP_DOMAIN_PAGING: return "paging";
	default: return "?";
	}
}

const char *ap_bypass_reason(enum ap_bypass b)
{
	switch (b) {
	case AP_BYPASS_UNMATCHED:
		return "no domain, and its IOMMU passes unmatched streams: DMA is NOT translated";
	case AP_BYPASS_IDENTITY:
		return "identity domain: IOVA == PA, every address reaches memory";
	case AP_BYPASS_OPEN_APERTURE:
		return "its IOMMU leaves the aperture open: DMA outside it is NOT translated";
	default:
		return "";
	}
}
