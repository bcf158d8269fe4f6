/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci (modern) over qtest; see qvirtio.h.
 */
#include "qvirtio.h"

#include <string.h>

#include <linux/pci_regs.h>
#include <linux/virtio_pci.h>

int qvirtio_open(struct qvirtio *v, struct qtest *q, uint16_t device_id, const char **why)
{
	uint64_t bars[6];
	unsigned cap, guard;

	memset(v, 0, sizeof(*v));
	v->q = q;
	v->devfn = qtest_pci_find(q, 0x1af4, device_id);
	if (v->devfn < 0) {
		*why = qtest_failed(q) ? qtest_error(q) : "virtio device not found on bus 0";
		return -1;
	}
	qtest_pci_setup(q, (unsigned)v->devfn, bars);
	if (!(qtest_pci_read(q, (unsigned)v->devfn, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST)) {
		*why = "virtio device has no capability list";
		return -1;
	}
	cap = qtest_pci_read(q, (unsigned)v->devfn, PCI_CAPABILITY_LIST, 1) & 0xfc;
	for (guard = 0; cap && guard < 48; guard++) {
		unsigned id = qtest_pci_read(q, (unsigned)v->devfn, cap, 1);
		unsigned next = qtest_pci_read(q, (unsigned)v->devfn, cap + 1, 1) & 0xfc;

		if (id == PCI_CAP_ID_VNDR) {
			unsigned type = qtest_pci_read(q, (unsigned)v->devfn,
						       cap + VIRTIO_PCI_CAP_CFG_TYPE, 1);
			unsigned bar = qtest_pci_read(q, (unsigned)v->devfn, cap + VIRTIO_PCI_CAP_BAR,
						      1);
			uint32_t off = qtest_pci_read(q, (unsigned)v->devfn,
						      cap + VIRTIO_PCI_CAP_OFFSET, 4);
			uint32_t len = qtest_pci_read(q, (unsigned)v->devfn,
						      cap + VIRTIO_PCI_CAP_LENGTH, 4);
			struct qvirtio_region *r = NULL;

			switch (type) {
			case VIRTIO_PCI_CAP_COMMON_CFG:
				r = &v->common;
				break;
			case VIRTIO_PCI_CAP_NOTIFY_CFG:
				r = &v->notify;
				v->notify_mult = qtest_pci_read(q, (unsigned)v->devfn,
								cap + VIRTIO_PCI_NOTIFY_CAP_MULT, 4);
				break;
			case VIRTIO_PCI_CAP_ISR_CFG:
				r = &v->isr;
				break;
			case VIRTIO_PCI_CAP_DEVICE_CFG:
				r = &v->device;
				break;
			}
			/* §4.1.4.1: the first capability of each type is the
			 * one to use. */
			if (r && !r->present && bar < 6 && bars[bar]) {
				r->addr = bars[bar] + off;
				r->len = len;
				r->present = true;
			}
		}
		cap = next;
	}
	if (qtest_failed(q)) {
		*why = qtest_error(q);
		return -1;
	}
	if (!v->common.present || !v->notify.present || !v->device.present) {
		*why = "virtio device lacks a common, notify or device capability";
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- transport */

static void t_mem_read(void *arg, uint64_t pa, void *buf, size_t len)
{
	struct qvirtio *v = arg;

	qtest_memread(v->q, pa, buf, len);
}

static void t_mem_write(void *arg, uint64_t pa, const void *buf, size_t len)
{
	struct qvirtio *v = arg;

	qtest_memwrite(v->q, pa, buf, len);
}

static uint64_t c_addr(const struct qvirtio *v, unsigned off)
{
	return v->common.addr + off;
}

static uint64_t t_device_features(void *arg)
{
	struct qvirtio *v = arg;
	uint64_t f;

	qtest_writel(v->q, c_addr(v, VIRTIO_PCI_COMMON_DFSELECT), 0);
	f = qtest_readl(v->q, c_addr(v, VIRTIO_PCI_COMMON_DF));
	qtest_writel(v->q, c_addr(v, VIRTIO_PCI_COMMON_DFSELECT), 1);
	return f | (uint64_t)qtest_readl(v->q, c_addr(v, VIRTIO_PCI_COMMON_DF)) << 32;
}

static void t_driver_features(void *arg, uint64_t f)
{
	struct qvirtio *v = arg;

	qtest_writel(v->q, c_addr(v, VIRTIO_PCI_COMMON_GFSELECT), 0);
	qtest_writel(v->q, c_addr(v, VIRTIO_PCI_COMMON_GF), (uint32_t)f);
	qtest_writel(v->q, c_addr(v, VIRTIO_PCI_COMMON_GFSELECT), 1);
	qtest_writel(v->q, c_addr(v, VIRTIO_PCI_COMMON_GF), (uint32_t)(f >> 32));
}

static uint8_t t_get_status(void *arg)
{
	struct qvirtio *v = arg;

	return qtest_readb(v->q, c_addr(v, VIRTIO_PCI_COMMON_STATUS));
}

static void t_set_status(void *arg, uint8_t s)
{
	struct qvirtio *v = arg;

	qtest_writeb(v->q, c_addr(v, VIRTIO_PCI_COMMON_STATUS), s);
}

static uint32_t t_config_read(void *arg, unsigned off, unsigned len)
{
	struct qvirtio *v = arg;
	uint64_t a = v->device.addr + off;

	switch (len) {
	case 1:
		return qtest_readb(v->q, a);
	case 2:
		return qtest_readw(v->q, a);
	default:
		return qtest_readl(v->q, a);
	}
}

static void t_config_write(void *arg, unsigned off, unsigned len, uint32_t val)
{
	struct qvirtio *v = arg;
	uint64_t a = v->device.addr + off;

	switch (len) {
	case 1:
		qtest_writeb(v->q, a, (uint8_t)val);
		break;
	case 2:
		qtest_writew(v->q, a, (uint16_t)val);
		break;
	default:
		qtest_writel(v->q, a, val);
	}
}

static uint8_t t_generation(void *arg)
{
	struct qvirtio *v = arg;

	return qtest_readb(v->q, c_addr(v, VIRTIO_PCI_COMMON_CFGGENERATION));
}

static uint16_t t_queue_max(void *arg, unsigned qi)
{
	struct qvirtio *v = arg;

	qtest_writew(v->q, c_addr(v, VIRTIO_PCI_COMMON_Q_SELECT), (uint16_t)qi);
	return qtest_readw(v->q, c_addr(v, VIRTIO_PCI_COMMON_Q_SIZE));
}

static void t_queue_setup(void *arg, unsigned qi, uint16_t size, uint64_t desc, uint64_t avail,
			  uint64_t used)
{
	struct qvirtio *v = arg;

	qtest_writew(v->q, c_addr(v, VIRTIO_PCI_COMMON_Q_SELECT), (uint16_t)qi);
	qtest_writew(v->q, c_addr(v, VIRTIO_PCI_COMMON_Q_SIZE), size);
	qtest_writel(v->q, c_addr(v, VIRTIO_PCI_COMMON_Q_DESCLO), (uint32_t)desc);
	qtest_writel(v->q, c_addr(v, VIRTIO_PCI_COMMON_Q_DESCHI), (uint32_t)(desc >> 32));
	qtest_writel(v->q, c_addr(v, VIRTIO_PCI_COMMON_Q_AVAILLO), (uint32_t)avail);
	qtest_writel(v->q, c_addr(v, VIRTIO_PCI_COMMON_Q_AVAILHI), (uint32_t)(avail >> 32));
	qtest_writel(v->q, c_addr(v, VIRTIO_PCI_COMMON_Q_USEDLO), (uint32_t)used);
	qtest_writel(v->q, c_addr(v, VIRTIO_PCI_COMMON_Q_USEDHI), (uint32_t)(used >> 32));
}

static void t_queue_enable(void *arg, unsigned qi)
{
	struct qvirtio *v = arg;

	qtest_writew(v->q, c_addr(v, VIRTIO_PCI_COMMON_Q_SELECT), (uint16_t)qi);
	qtest_writew(v->q, c_addr(v, VIRTIO_PCI_COMMON_Q_ENABLE), 1);
}

static void t_notify(void *arg, unsigned qi)
{
	struct qvirtio *v = arg;
	uint16_t off;

	qtest_writew(v->q, c_addr(v, VIRTIO_PCI_COMMON_Q_SELECT), (uint16_t)qi);
	off = qtest_readw(v->q, c_addr(v, VIRTIO_PCI_COMMON_Q_NOFF));
	qtest_writew(v->q, v->notify.addr + (uint64_t)off * v->notify_mult, (uint16_t)qi);
}

static bool t_broken(void *arg)
{
	struct qvirtio *v = arg;

	return qtest_failed(v->q);
}

void qvirtio_transport(struct qvirtio *v, struct vdrv_transport *t)
{
	memset(t, 0, sizeof(*t));
	t->arg = v;
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
	t->broken = t_broken;
}
