/* SPDX-License-Identifier: MIT */
/*
 * aperture/types.h - vocabulary shared by every layer of aperture.
 *
 * Protection flags, access flags and fault kinds are used by the page-table
 * formats (which produce them), by the core (which records them) and by the
 * frontends (which print them).  Nothing here allocates or has state.
 */
#ifndef APERTURE_TYPES_H
#define APERTURE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) && !defined(AP_STATIC_BUILD)
#define AP_API __attribute__((visibility("default")))
#else
#define AP_API
#endif

#define AP_VERSION_MAJOR 0
#define AP_VERSION_MINOR 1
#define AP_VERSION_PATCH 0
#define AP_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the library actually linked, "0.1.0". */
AP_API const char *ap_version(void);

/*
 * Mapping protection, with the values of Linux's IOMMU_* flags so that a
 * caller porting code can pass them through unchanged.  A mapping must have
 * AP_PROT_READ or AP_PROT_WRITE (or both); anything else is -EINVAL.
 */
enum ap_prot {
	AP_PROT_READ = 1 << 0,   /* 'r' */
	AP_PROT_WRITE = 1 << 1,  /* 'w' */
	AP_PROT_CACHE = 1 << 2,  /* 'c': cacheable, inner shareable */
	AP_PROT_NOEXEC = 1 << 3, /* 'n': no instruction fetch */
	AP_PROT_MMIO = 1 << 4,   /* 'm': device memory */
	AP_PROT_PRIV = 1 << 5,   /* 'p': privileged transactions only */
};

/*
 * What a transaction asks for.  A DMA read by a device is AP_ACCESS_READ,
 * a DMA write AP_ACCESS_WRITE.  AP_ACCESS_PRIV marks a privileged
 * transaction, AP_ACCESS_EXEC an instruction fetch; plain device DMA is
 * unprivileged data access.
 */
enum ap_access {
	AP_ACCESS_READ = 1 << 0,
	AP_ACCESS_WRITE = 1 << 1,
	AP_ACCESS_EXEC = 1 << 2,
	AP_ACCESS_PRIV = 1 << 3,
};

/*
 * Why a transaction did not complete.  Names follow SMMUv3 events where
 * they fit (F_BAD_STREAMID, F_TRANSLATION, F_ADDR_SIZE, F_ACCESS,
 * F_PERMISSION, F_WALK_EABT / external abort).
 */
enum ap_fault_kind {
	AP_FAULT_NONE = 0,
	AP_FAULT_BAD_STREAM,   /* stream matches no configuration, aborted */
	AP_FAULT_TRANSLATION,  /* no valid translation (or a blocking domain) */
	AP_FAULT_ADDRESS_SIZE, /* IOVA outside the aperture / input size, or
				  an output address beyond the output size */
	AP_FAULT_ACCESS_FLAG,  /* leaf with AF clear */
	AP_FAULT_PERMISSION,   /* leaf does not allow this access */
	AP_FAULT_EXTERNAL,     /* physical address is not backed by RAM */
	AP_FAULT_KIND_COUNT
};

/* "translation", "bad-stream", ...: the names scenarios use. */
AP_API const char *ap_fault_kind_name(enum ap_fault_kind kind);

/* Parse a fault-kind name; returns AP_FAULT_NONE for an unknown name. */
AP_API enum ap_fault_kind ap_fault_kind_from_name(const char *name);

/* Parse "123", "0x1f", "4K", "2M", "1G", "1T"; -EINVAL or -ERANGE. */
AP_API int ap_parse_size(const char *s, uint64_t *out);

/* "4K,2M,1G" (sizes as ap_parse_size reads them, each a power of two) ->
 * a page-size bitmap; -EINVAL otherwise. */
AP_API int ap_parse_pgsizes(const char *s, uint64_t *bitmap);

/* The shortest exact spelling of a size ("4K", "2M", "0x1800"), and of a
 * page-size bitmap ("4K,2M,1G"; "-" for none).  Return buf. */
AP_API const char *ap_format_size(uint64_t size, char *buf, size_t len);
AP_API const char *ap_format_pgsizes(uint64_t bitmap, char *buf, size_t len);

/* Errno <-> name ("EINVAL").  Unknown names give 0; unknown numbers "E?".
 * Either sign of err names the same errno. */
AP_API int ap_errno_from_name(const char *name);
AP_API const char *ap_errno_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* APERTURE_TYPES_H */
