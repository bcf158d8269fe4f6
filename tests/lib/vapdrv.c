/* SPDX-License-Identifier: MIT */
/*
 * aperture's virtio-iommu as a vdriver transport (see vapdrv.h).
 */
#include "vapdrv.h"

#include <string.h>

static void t_mem_read(void *arg, uint64_t pa, void *buf, size_t len)
{
	struct vapdrv *a = arg;
	void *p = ap_ram_ptr(a->ctx, pa, len);

	if (!p) {
		a->mem_fault = true;
		memset(buf, 0, len);
		return;
	}
	memcpy(buf, p, len);
}

static void t_mem_write(void *arg, uint64_t pa, const void *buf, size_t len)
{
	struct vapdrv *a = arg;
	void *p = ap_ram_ptr(a->ctx, pa, len);

	if (!p) {
		a->mem_fault = true;
		return;
	}
	memcpy(p, buf, len);
}

static uint64_t t_device_features(void *arg)
{
	struct vapdrv *a = arg;

	return ap_viommu_device_features(a->v);
}

static void t_driver_features(void *arg, uint64_t f)
{
	struct vapdrv *a = arg;

	ap_viommu_set_driver_features(a->v, f);
}

static uint8_t t_get_status(void *arg)
{
	struct vapdrv *a = arg;

	return ap_viommu_status(a->v);
}

static void t_set_status(void *arg, uint8_t s)
{
	struct vapdrv *a = arg;

	if (s == 0)
		memset(a->pending, 0, sizeof(a->pending));
	ap_viommu_set_status(a->v, s);
}

static uint32_t t_config_read(void *arg, unsigned off, unsigned len)
{
	struct vapdrv *a = arg;
	uint8_t b[4] = { 0 };

	ap_viommu_config_read(a->v, off, b, len);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void t_config_write(void *arg, unsigned off, unsigned len, uint32_t v)
{
	struct vapdrv *a = arg;
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	ap_viommu_config_write(a->v, off, b, len);
}

static uint8_t t_generation(void *arg)
{
	struct vapdrv *a = arg;

	return (uint8_t)ap_viommu_config_generation(a->v);
}

static uint16_t t_queue_max(void *arg, unsigned q)
{
	struct vapdrv *a = arg;

	return ap_viommu_queue_max(a->v, q);
}

static void t_queue_setup(void *arg, unsigned q, uint16_t size, uint64_t desc, uint64_t avail,
			  uint64_t used)
{
	struct vapdrv *a = arg;

	if (q < AP_VIOMMU_NQUEUES)
		a->pending[q] = (struct ap_viommu_queue){ size, desc, avail, used };
}

static void t_queue_enable(void *arg, unsigned q)
{
	struct vapdrv *a = arg;

	if (q < AP_VIOMMU_NQUEUES)
		ap_viommu_queue_enable(a->v, q, &a->pending[q]);
}

static void t_notify(void *arg, unsigned q)
{
	struct vapdrv *a = arg;

	a->notify_rc = ap_viommu_queue_notify(a->v, q);
}

void vapdrv_transport(struct vapdrv *a, struct ap_ctx *ctx, struct ap_viommu *v,
		      struct vdrv_transport *t)
{
	memset(a, 0, sizeof(*a));
	a->ctx = ctx;
	a->v = v;
	memset(t, 0, sizeof(*t));
	t->arg = a;
	t->mem_read = t_mem_read;
	t->mem_write = t_mem_write;
	t->device_features = t_device_features;
	t->driver_features = t_driver_features;
	t->get_status = t_get_status;
	t->set_status = t_set_status;
	t->config_read = t_config_read;
	t->config_write = t_config_write;
	t->config_generation = t_generation;
	t->queue_max = t_queue_max;
	t->queue_setup = t_queue_setup;
	t->queue_enable = t_queue_enable;
	t->notify = t_notify;
}
