/* SPDX-License-Identifier: MIT */
/*
 * aperture/aperture.h - the whole public API of aperture, a userspace IOMMU.
 *
 *   aperture/types.h     prot, access and fault vocabulary
 *   aperture/pgtable.h   page-table formats (build, walk)
 *   aperture/core.h      context, RAM, instances, devices, domains, DMA
 *   aperture/pci.h       emulated PCI functions (config space, BARs, a DMA engine)
 *   aperture/vfio.h      the VFIO type1 container and vfio-pci devices
 *   aperture/view.h      show, dump and audit a machine
 *   aperture/scenario.h  the scenario language
 *
 * Start with ap_ctx_new(); everything hangs off a context and is freed with
 * ap_ctx_free().
 */
#ifndef APERTURE_APERTURE_H
#define APERTURE_APERTURE_H

#define AP_VERSION_MAJOR 0
#define AP_VERSION_MINOR 1
#define AP_VERSION_PATCH 0
#define AP_VERSION_STRING "0.1.0"

#include <aperture/types.h>
#include <aperture/pgtable.h>
#include <aperture/core.h>
#include <aperture/pci.h>
#include <aperture/vfio.h>
#include <aperture/view.h>
#include <aperture/scenario.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the library actually linked, "0.1.0". */
AP_API const char *ap_version(void);

#ifdef __cplusplus
}
#endif

#endif /* APERTURE_APERTURE_H */
