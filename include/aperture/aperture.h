/* SPDX-License-Identifier: MIT */
/*
 * aperture/aperture.h - the whole public API of aperture, a userspace IOMMU.
 *
 *   aperture/types.h     prot, access and fault vocabulary
 *   aperture/pgtable.h   page-table formats (build, walk)
 *   aperture/core.h      context, RAM, instances, devices, domains, DMA
 *   aperture/pci.h       emulated PCI functions (config space, BARs, a DMA engine)
 *   aperture/vfio.h      the VFIO type1 container and vfio-pci devices
 *   aperture/virtio_iommu.h  a virtio-iommu device over split virtqueues
 *   aperture/view.h      show, dump and audit a machine
 *   aperture/scenario.h  the scenario language
 *   aperture/firmware.h  machine descriptions from ACPI DMAR/IORT, devicetree, sysfs
 *
 * Start with ap_ctx_new(); everything hangs off a context and is freed with
 * ap_ctx_free().
 */
#ifndef APERTURE_APERTURE_H
#define APERTURE_APERTURE_H

#include <aperture/types.h>
#include <aperture/pgtable.h>
#include <aperture/core.h>
#include <aperture/pci.h>
#include <aperture/vfio.h>
#include <aperture/virtio_iommu.h>
#include <aperture/view.h>
#include <aperture/scenario.h>
#include <aperture/firmware.h>

#endif /* APERTURE_APERTURE_H */
