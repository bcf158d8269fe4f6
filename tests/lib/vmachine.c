/* SPDX-License-Identifier: MIT */
/*
 * The virtio-iommu test machine (see vmachine.h).
 */
#include "vmachine.h"

#include <stdio.h>
#include <string.h>

const uint32_t vm_ep_ids[VM_NEP] = { 0x08, 0x10, 0x18, 0x20, 0x21 };

static void on_irq(void *arg, int queue)
{
	struct vmachine *m = arg;

	m->irqs[queue + 1]++;
}

int vm_create(struct vmachine *m, const struct ap_viommu_config *cfg,
	      const struct ap_iommu_config *icfg)
{
	struct ap_iommu_config ic;
	unsigned i;
	int err;

	memset(m, 0, sizeof(*m));
	m->ctx = ap_ctx_new();
	if (!m->ctx)
		return -12;
	err = ap_ram_alloc(m->ctx, VM_RAM, VM_RAM_SIZE, (void **)&m->ram);
	if (err)
		return err;
	if (icfg)
		ic = *icfg;
	else
		ap_iommu_config_init(&ic, AP_IOMMU_VIRTIO_IOMMU);
	err = ap_iommu_new(m->ctx, "viommu", &ic, &m->iommu);
	for (i = 0; !err && i < VM_NEP; i++) {
		char name[16];

		snprintf(name, sizeof(name), "ep%02x", vm_ep_ids[i]);
		err = ap_device_new(m->ctx, name, m->iommu, vm_ep_ids[i],
				    vm_ep_ids[i] == 0x21 ? ap_device_group_id(m->ep[3]) : AP_GROUP_OWN,
				    &m->ep[i]);
	}
	if (!err)
		err = ap_viommu_new(m->ctx, m->iommu, cfg, &m->v);
	if (err)
		return err;
	ap_viommu_set_irq(m->v, on_irq, m);
	vapdrv_transport(&m->a, m->ctx, m->v, &m->t);
	return 0;
}

int vm_driver(struct vmachine *m, uint64_t want, uint16_t qsize)
{
	int err = vdrv_init(&m->d, &m->t, VM_RAM, 0x100000, want, qsize, NULL);

	m->d.spins = 1; /* the device answers within the notify */
	return err;
}

void vm_destroy(struct vmachine *m)
{
	ap_ctx_free(m->ctx);
	memset(m, 0, sizeof(*m));
}

void *vm_ptr(struct vmachine *m, uint64_t pa)
{
	return ap_ram_ptr(m->ctx, pa, 1);
}
