/* SPDX-License-Identifier: MIT */
/*
 * vfio-pci device handles (VFIO_GROUP_GET_DEVICE_FD), as Linux's
 * drivers/vfio/group.c and drivers/vfio/pci/vfio_pci_core.c and
 * vfio_pci_intrs.c answer them, over the PCI layer's functions:
 * GET_INFO, GET_REGION_INFO (BARs at index << 40, ROM, config at index 7,
 * the MSI-X-mappable capability), GET_IRQ_INFO, SET_IRQS (INTx, MSI-X, ERR
 * and REQ with eventfds, loopback), RESET, GET_PCI_HOT_RESET_INFO and
 * DEVICE_FEATURE; and the accesses a device file takes (pread/pwrite of a
 * region, mmap of a BAR).
 *
 * One struct vdevice per PCI function, made on its first open and kept
 * with the VFIO state (the interrupt handler the PCI layer calls points at
 * it, from the runner thread); every open handle points at it and holds a
 * reference on the handle of the group it came through, as Linux's device
 * file holds the group's: a group its user closed stays open (and in its
 * container) until its last device handle goes.  Opening and releasing
 * run under ctl_lock; the device's own lock guards the interrupt state,
 * which that handler reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include <aperture/pci.h>

#include "vfio_internal.h"

#define REGION_SHIFT 40
#define REGION_POS_MASK ((1ull << REGION_SHIFT) - 1)
#define IRQ_NONE (-1)
#define NAME_MAX_LEN 4096 /* GET_DEVICE_FD copies at most a page */

#define OFFSETOFEND(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

struct vdevice {
	struct vdevice *next;
	struct vstate *vs;
	struct ap_pci *pci;
	struct vgroup *g;           /* the group it was opened through */
	struct vhandle *gh;         /* that group's handle, held by each open */
	unsigned opens;             /* handles open on it (under ctl_lock) */
	pthread_mutex_t lock;       /* the interrupt state below */
	int irq_type;               /* IRQ_NONE or VFIO_PCI_{INTX,MSIX}_IRQ_INDEX */
	int intx_trigger;           /* our duplicate of the user's eventfd, or -1 */
	int intx_unmask;
	bool intx_masked;
	int *msix;                  /* one eventfd (or -1) per vector */
	unsigned nmsix;
	int err_trigger, req_trigger;
};

/* ------------------------------------------------------------ eventfds */

/* A reference of our own on the user's eventfd, as the kernel takes one:
 * EBADF for no file, EINVAL for a file that is not an eventfd. */
static int eventfd_get(struct vstate *vs, int fd, int *out)
{
	char path[40], link[64];
	ssize_t n;
	int dup;

	if (fcntl(fd, F_GETFD) < 0)
		return ap__vfio_fail(vs, -EBADF, "fd %d is not open", fd);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n >= 0) {
		link[n] = '\0';
		if (strcmp(link, "anon_inode:[eventfd]"))
			return ap__vfio_fail(vs, -EINVAL, "fd %d is not an eventfd (%s)", fd, link);
	}
	dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup < 0)
		return ap__vfio_fail(vs, -errno, "cannot hold eventfd %d: %s", fd, strerror(errno));
	*out = dup;
	return 0;
}

static void eventfd_put(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void eventfd_signal(int fd)
{
	uint64_t one = 1;
	ssize_t n;

	do
		n = write(fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
}

/* ------------------------------------------------------------ interrupts */

/* The PCI layer's interrupt handler: the function signalled; the eventfd
 * VFIO routed it to, if any, is written (INTx masks itself, as vfio-pci's
 * automasked INTx does). */
static void on_irq(void *arg, struct ap_pci *pci, enum ap_pci_irq type, unsigned vector)
{
	struct vdevice *d = arg;
	int fd = -1;

	(void)pci;
	pthread_mutex_lock(&d->lock);
	if (type == AP_PCI_IRQ_MSIX && d->irq_type == VFIO_PCI_MSIX_IRQ_INDEX && vector < d->nmsix)
		fd = d->msix[vector];
	else if (type == AP_PCI_IRQ_INTX && d->irq_type == VFIO_PCI_INTX_IRQ_INDEX &&
		 !d->intx_masked) {
		fd = d->intx_trigger;
		d->intx_masked = true;
	}
	if (fd >= 0)
		eventfd_signal(fd);
	pthread_mutex_unlock(&d->lock);
}

/* Every vector released, MSI-X off in the function; lock held. */
static void irqs_disable(struct vdevice *d)
{
	for (unsigned i = 0; i < d->nmsix; i++)
		eventfd_put(&d->msix[i]);
	eventfd_put(&d->intx_trigger);
	eventfd_put(&d->intx_unmask);
	d->intx_masked = false;
	if (d->irq_type == VFIO_PCI_MSIX_IRQ_INDEX)
		ap_pci_msix_set_enabled(d->pci, false);
	d->irq_type = IRQ_NONE;
}

/* ------------------------------------------------------------ open and close */

static struct ap_pci *function_named(struct vgroup *g, const char *name)
{
	struct ap_ctx *ctx = g->vs->ctx;
	struct ap_pci *pci = ap_pci_find(ctx, name);

	/* vfio-pci matches the device's name exactly */
	if (!pci || strcmp(ap_pci_name(pci), name) ||
	    ap_device_group_id(ap_pci_device(pci)) != g->id)
		return NULL;
	return pci;
}

static struct vdevice *vdevice_of(struct vstate *vs, const struct ap_pci *pci)
{
	for (struct vdevice *d = vs->devices; d; d = d->next)
		if (d->pci == pci)
			return d;
	return NULL;
}

static struct vdevice *vdevice_new(struct vstate *vs, struct ap_pci *pci)
{
	struct vdevice *d = ap_mem_alloc(vs->ctx, sizeof(*d));
	const struct ap_pci_config *cfg = ap_pci_get_config(pci);

	if (!d)
		return NULL;
	d->nmsix = cfg->msix;
	d->msix = ap_mem_alloc(vs->ctx, (cfg->msix ? cfg->msix : 1) * sizeof(int));
	if (!d->msix) {
		ap_mem_free(vs->ctx, d);
		return NULL;
	}
	for (unsigned i = 0; i < d->nmsix; i++)
		d->msix[i] = -1;
	d->vs = vs;
	d->pci = pci;
	d->irq_type = IRQ_NONE;
	d->intx_trigger = d->intx_unmask = d->err_trigger = d->req_trigger = -1;
	pthread_mutex_init(&d->lock, NULL);
	d->next = vs->devices;
	vs->devices = d;
	return d;
}

/* A device no handle ever pointed at goes again (its first open failed). */
static void vdevice_unlink_free(struct vstate *vs, struct vdevice *d)
{
	struct vdevice **pp;

	for (pp = &vs->devices; *pp != d; pp = &(*pp)->next)
		;
	*pp = d->next;
	ap_pci_set_irq_handler(d->pci, NULL, NULL);
	pthread_mutex_destroy(&d->lock);
	ap_mem_free(vs->ctx, d->msix);
	ap_mem_free(vs->ctx, d);
}

/* vfio-pci's first open: the function is reset and enabled (memory
 * decoding on, bus mastering left to the user), its interrupts routed
 * here. */
static void first_open(struct vdevice *d)
{
	uint16_t cmd;

	ap_pci_reset(d->pci);
	ap_pci_config_read(d->pci, PCI_COMMAND, &cmd, 2);
	cmd |= PCI_COMMAND_MEMORY;
	ap_pci_config_write(d->pci, PCI_COMMAND, &cmd, 2);
	ap_pci_set_irq_handler(d->pci, on_irq, d);
}

static void last_close(struct vdevice *d);

static int device_open_locked(struct vstate *vs, struct vhandle *gh, const char *name)
{
	struct vgroup *g = gh->obj;
	struct ap_pci *pci = function_named(g, name);
	struct vdevice *d;
	bool made;
	int fd;

	if (!pci)
		return ap__vfio_fail(vs, -ENODEV, "group %d has no device called '%s'", g->id, name);
	if (!g->c || !g->c->type)
		return ap__vfio_fail(vs, -EINVAL, "group %d: %s; a device is opened once the "
				     "group's container has an IOMMU (VFIO_SET_IOMMU)", g->id,
				     g->c ? "its container has no IOMMU set" : "not in a container");
	d = vdevice_of(vs, pci);
	made = !d;
	if (made && !(d = vdevice_new(vs, pci)))
		return ap__vfio_fail(vs, -ENOMEM, "out of memory for VFIO device %s", name);
	if (!d->opens)
		first_open(d);
	fd = ap__vfio_handle_new(vs, VH_DEVICE, d);
	if (fd < 0) {
		if (!d->opens)
			last_close(d);
		if (made)
			vdevice_unlink_free(vs, d);
		return fd;
	}
	d->opens++;
	d->g = g;
	d->gh = gh;
	g->ndevices++;
	ap__vfio_handle_hold(vs, gh);
	return fd;
}

/* gh: the group's handle, which the caller holds for the call. */
int ap__vdevice_open(struct vstate *vs, struct vhandle *gh, const char *name)
{
	int fd;

	if (!name)
		return ap__vfio_fail(vs, -EFAULT, "VFIO_GROUP_GET_DEVICE_FD needs a device name");
	if (strnlen(name, NAME_MAX_LEN) == NAME_MAX_LEN)
		return ap__vfio_fail(vs, -EINVAL, "VFIO_GROUP_GET_DEVICE_FD: name longer than a page");
	ap__vlock_lock(&vs->ctl_lock);
	fd = device_open_locked(vs, gh, name);
	ap__vlock_unlock(&vs->ctl_lock);
	return fd;
}

/* vfio-pci's last close: interrupts off, bus mastering off, the function
 * reset and disabled. */
static void last_close(struct vdevice *d)
{
	uint16_t cmd = 0;

	pthread_mutex_lock(&d->lock);
	irqs_disable(d);
	eventfd_put(&d->err_trigger);
	eventfd_put(&d->req_trigger);
	pthread_mutex_unlock(&d->lock);
	ap_pci_reset(d->pci);
	ap_pci_config_write(d->pci, PCI_COMMAND, &cmd, 2);
}

/* A handle's last reference went; the group's handle is let go after
 * ctl_lock is dropped (its release takes it). */
void ap__vdevice_release_handle(struct vdevice *d)
{
	struct vstate *vs = d->vs;
	struct vhandle *gh;

	ap__vlock_lock(&vs->ctl_lock);
	gh = d->gh;
	d->g->ndevices--;
	if (!--d->opens) {
		last_close(d);
		d->g = NULL;
		d->gh = NULL;
	}
	ap__vlock_unlock(&vs->ctl_lock);
	ap__vfio_handle_put(vs, gh);
}

/* The context is being freed and every device handle is closed. */
void ap__vdevice_destroy_all(struct vstate *vs)
{
	/* no interrupt may arrive while the devices go */
	ap_pci_stop(vs->ctx);
	while (vs->devices)
		vdevice_unlink_free(vs, vs->devices);
}

/* ------------------------------------------------------------ info */

static int get_info(struct vdevice *d, struct vfio_device_info *info)
{
	const size_t minsz = OFFSETOFEND(struct vfio_device_info, num_irqs);

	if (!info)
		return ap__vfio_fail(d->vs, -EFAULT, "VFIO_DEVICE_GET_INFO needs a struct");
	if (info->argsz < minsz)
		return ap__vfio_fail(d->vs, -EINVAL, "VFIO_DEVICE_GET_INFO: argsz %u < %zu",
				     info->argsz, minsz);
	info->flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	info->num_regions = VFIO_PCI_NUM_REGIONS;
	info->num_irqs = VFIO_PCI_NUM_IRQS;
	if (info->argsz >= sizeof(*info))
		info->cap_offset = 0;
	return 0;
}

static bool bar_mmapable(const struct vdevice *d, unsigned bar)
{
	const struct ap_pci_config *cfg = ap_pci_get_config(d->pci);
	long page = sysconf(_SC_PAGESIZE);

	return (cfg->bar_flags[bar] & AP_PCI_BAR_MMAP) &&
	       cfg->bar_size[bar] >= (uint64_t)(page > 0 ? page : 4096);
}

/* A BAR's size: 0 for none and for the upper half of a 64-bit BAR. */
static uint64_t bar_size(const struct vdevice *d, unsigned bar)
{
	return ap_pci_get_config(d->pci)->bar_size[bar];
}

static int get_region_info(struct vdevice *d, struct vfio_region_info *info)
{
	const size_t minsz = OFFSETOFEND(struct vfio_region_info, offset);
	const struct ap_pci_config *cfg = ap_pci_get_config(d->pci);
	struct vfio_info_cap_header cap = { .id = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
					    .version = 1 };
	bool with_cap = false;

	if (!info)
		return ap__vfio_fail(d->vs, -EFAULT, "VFIO_DEVICE_GET_REGION_INFO needs a struct");
	if (info->argsz < minsz)
		return ap__vfio_fail(d->vs, -EINVAL, "VFIO_DEVICE_GET_REGION_INFO: argsz %u < %zu",
				     info->argsz, minsz);
	info->offset = (uint64_t)info->index << REGION_SHIFT;
	info->flags = 0;
	info->size = 0;
	switch (info->index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		info->size = ap_pci_config_size(d->pci);
		info->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		break;
	case VFIO_PCI_BAR0_REGION_INDEX:
	case VFIO_PCI_BAR1_REGION_INDEX:
	case VFIO_PCI_BAR2_REGION_INDEX:
	case VFIO_PCI_BAR3_REGION_INDEX:
	case VFIO_PCI_BAR4_REGION_INDEX:
	case VFIO_PCI_BAR5_REGION_INDEX:
		info->size = bar_size(d, info->index);
		if (!info->size)
			break;
		info->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		if (bar_mmapable(d, info->index)) {
			info->flags |= VFIO_REGION_INFO_FLAG_MMAP;
			with_cap = cfg->msix && cfg->msix_bar == info->index;
		}
		break;
	case VFIO_PCI_ROM_REGION_INDEX:
		break; /* no expansion ROM */
	case VFIO_PCI_VGA_REGION_INDEX:
		return ap__vfio_fail(d->vs, -EINVAL, "%s is not a VGA device", ap_pci_name(d->pci));
	default:
		return ap__vfio_fail(d->vs, -EINVAL, "VFIO_DEVICE_GET_REGION_INFO: no region %u",
				     info->index);
	}
	if (with_cap) {
		info->flags |= VFIO_REGION_INFO_FLAG_CAPS;
		if (info->argsz < sizeof(*info) + sizeof(cap)) {
			info->argsz = (uint32_t)(sizeof(*info) + sizeof(cap));
			info->cap_offset = 0;
		} else {
			memcpy(info + 1, &cap, sizeof(cap));
			info->cap_offset = sizeof(*info);
		}
	}
	return 0;
}

/* vfio_pci_get_irq_count(): INTx if the function has a pin, MSI from an
 * MSI capability (the models have none), MSI-X from the table size. */
static unsigned irq_count(const struct vdevice *d, uint32_t index)
{
	const struct ap_pci_config *cfg = ap_pci_get_config(d->pci);

	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		return cfg->intx_pin ? 1 : 0;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		return cfg->msix;
	case VFIO_PCI_ERR_IRQ_INDEX:
		return cfg->pcie ? 1 : 0;
	case VFIO_PCI_REQ_IRQ_INDEX:
		return 1;
	default:
		return 0;
	}
}

static int get_irq_info(struct vdevice *d, struct vfio_irq_info *info)
{
	const size_t minsz = OFFSETOFEND(struct vfio_irq_info, count);

	if (!info)
		return ap__vfio_fail(d->vs, -EFAULT, "VFIO_DEVICE_GET_IRQ_INFO needs a struct");
	if (info->argsz < minsz || info->index >= VFIO_PCI_NUM_IRQS)
		return ap__vfio_fail(d->vs, -EINVAL, "VFIO_DEVICE_GET_IRQ_INFO: argsz %u or index %u",
				     info->argsz, info->index);
	if (info->index == VFIO_PCI_ERR_IRQ_INDEX && !ap_pci_get_config(d->pci)->pcie)
		return ap__vfio_fail(d->vs, -EINVAL, "%s is not PCI Express: no error interrupt",
				     ap_pci_name(d->pci));
	info->flags = VFIO_IRQ_INFO_EVENTFD;
	info->count = irq_count(d, info->index);
	if (info->index == VFIO_PCI_INTX_IRQ_INDEX)
		info->flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	else
		info->flags |= VFIO_IRQ_INFO_NORESIZE;
	return 0;
}

/* ------------------------------------------------------------ SET_IRQS */

struct irqset {
	uint32_t flags, index, start, count;
	const uint8_t *data;
};

static bool loopback_fires(const struct irqset *s, unsigned i)
{
	return (s->flags & VFIO_IRQ_SET_DATA_NONE) || s->data[i];
}

static int32_t fd_at(const struct irqset *s, unsigned i)
{
	int32_t fd;

	memcpy(&fd, s->data + 4 * (size_t)i, sizeof(fd));
	return fd;
}

/* One vector's eventfd (fd < 0 releases it). */
static int msix_set_vector(struct vdevice *d, unsigned v, int32_t fd)
{
	eventfd_put(&d->msix[v]);
	return fd < 0 ? 0 : eventfd_get(d->vs, fd, &d->msix[v]);
}

static int msix_set_block(struct vdevice *d, const struct irqset *s)
{
	unsigned j;
	int err = 0;

	for (j = s->start; j < s->start + s->count && !err; j++)
		err = msix_set_vector(d, j, fd_at(s, j - s->start));
	if (err)
		for (unsigned i = s->start; i < j; i++)
			eventfd_put(&d->msix[i]);
	return err;
}

/* vfio_pci_set_msi_trigger() for MSI-X. */
static int msix_trigger(struct vdevice *d, const struct irqset *s)
{
	int err;

	if (d->irq_type == VFIO_PCI_MSIX_IRQ_INDEX && !s->count &&
	    (s->flags & VFIO_IRQ_SET_DATA_NONE)) {
		irqs_disable(d);
		return 0;
	}
	if (d->irq_type != VFIO_PCI_MSIX_IRQ_INDEX && d->irq_type != IRQ_NONE)
		return ap__vfio_fail(d->vs, -EINVAL, "MSI-X: another interrupt type is enabled");
	if (s->flags & VFIO_IRQ_SET_DATA_EVENTFD) {
		if (d->irq_type == VFIO_PCI_MSIX_IRQ_INDEX)
			return msix_set_block(d, s);
		d->irq_type = VFIO_PCI_MSIX_IRQ_INDEX;
		ap_pci_msix_set_enabled(d->pci, true);
		err = msix_set_block(d, s);
		if (err)
			irqs_disable(d);
		return err;
	}
	if (d->irq_type != VFIO_PCI_MSIX_IRQ_INDEX)
		return ap__vfio_fail(d->vs, -EINVAL, "MSI-X is not enabled");
	for (unsigned i = 0; i < s->count; i++)
		if (d->msix[s->start + i] >= 0 && loopback_fires(s, i))
			eventfd_signal(d->msix[s->start + i]);
	return 0;
}

static int intx_single(struct vdevice *d, const struct irqset *s)
{
	if (d->irq_type != VFIO_PCI_INTX_IRQ_INDEX || s->start || s->count != 1)
		return ap__vfio_fail(d->vs, -EINVAL, "INTx is not enabled, or start/count not 0/1");
	return 0;
}

static int intx_mask(struct vdevice *d, const struct irqset *s, bool mask)
{
	int32_t fd;
	int err = intx_single(d, s);

	if (err)
		return err;
	if (!(s->flags & VFIO_IRQ_SET_DATA_EVENTFD)) {
		if (loopback_fires(s, 0))
			d->intx_masked = mask;
		return 0;
	}
	if (mask)
		return ap__vfio_fail(d->vs, -ENOTTY, "INTx: masking by eventfd is not supported");
	/* an unmask eventfd: kept, as vfio-pci's virqfd; the model's INTx
	 * unmasks through ACTION_UNMASK */
	fd = fd_at(s, 0);
	eventfd_put(&d->intx_unmask);
	return fd < 0 ? 0 : eventfd_get(d->vs, fd, &d->intx_unmask);
}

static int intx_trigger(struct vdevice *d, const struct irqset *s)
{
	if (d->irq_type == VFIO_PCI_INTX_IRQ_INDEX && !s->count &&
	    (s->flags & VFIO_IRQ_SET_DATA_NONE)) {
		irqs_disable(d);
		return 0;
	}
	if ((d->irq_type != VFIO_PCI_INTX_IRQ_INDEX && d->irq_type != IRQ_NONE) || s->start ||
	    s->count != 1)
		return ap__vfio_fail(d->vs, -EINVAL, "INTx: another interrupt type is enabled, or "
				     "start/count not 0/1");
	if (s->flags & VFIO_IRQ_SET_DATA_EVENTFD) {
		int32_t fd = fd_at(s, 0);
		int err;

		eventfd_put(&d->intx_trigger);
		if (fd < 0) {
			irqs_disable(d);
			return 0;
		}
		err = eventfd_get(d->vs, fd, &d->intx_trigger);
		if (!err) {
			d->irq_type = VFIO_PCI_INTX_IRQ_INDEX;
			d->intx_masked = false;
		}
		return err;
	}
	if (d->irq_type != VFIO_PCI_INTX_IRQ_INDEX)
		return ap__vfio_fail(d->vs, -EINVAL, "INTx is not enabled");
	if (d->intx_trigger >= 0 && loopback_fires(s, 0))
		eventfd_signal(d->intx_trigger);
	return 0;
}

/* vfio_pci_set_ctx_trigger_single(): the error and request eventfds. */
static int single_trigger(struct vdevice *d, int *slot, const struct irqset *s)
{
	if (s->flags & VFIO_IRQ_SET_DATA_NONE) {
		if (*slot >= 0 && s->count)
			eventfd_signal(*slot);
		else if (*slot >= 0)
			eventfd_put(slot);
		return 0;
	}
	if (!s->count)
		return ap__vfio_fail(d->vs, -EINVAL, "SET_IRQS: count 0 with data");
	if (s->flags & VFIO_IRQ_SET_DATA_BOOL) {
		if (s->data[0] && *slot >= 0)
			eventfd_signal(*slot);
		return 0;
	}
	if (fd_at(s, 0) == -1) {
		eventfd_put(slot);
		return 0;
	}
	if (fd_at(s, 0) >= 0) {
		int fd = -1, err = eventfd_get(d->vs, fd_at(s, 0), &fd);

		if (err)
			return err;
		eventfd_put(slot);
		*slot = fd;
	}
	return 0;
}

/* vfio_set_irqs_validate_and_prepare(): the header, then the data's size. */
static int irqset_check(struct vdevice *d, const struct vfio_irq_set *hdr, struct irqset *s)
{
	const size_t minsz = OFFSETOFEND(struct vfio_irq_set, count);
	uint32_t max, size;

	if (hdr->argsz < minsz || hdr->index >= VFIO_PCI_NUM_IRQS ||
	    hdr->count >= UINT32_MAX - hdr->start ||
	    (hdr->flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)))
		return ap__vfio_fail(d->vs, -EINVAL, "VFIO_DEVICE_SET_IRQS: bad argsz, index, count "
				     "or flags");
	max = irq_count(d, hdr->index);
	if (hdr->start >= max || hdr->start + hdr->count > max)
		return ap__vfio_fail(d->vs, -EINVAL, "VFIO_DEVICE_SET_IRQS: vectors %u..%u of index "
				     "%u, which has %u", hdr->start, hdr->start + hdr->count,
				     hdr->index, max);
	switch (hdr->flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
	case VFIO_IRQ_SET_DATA_NONE:
		size = 0;
		break;
	case VFIO_IRQ_SET_DATA_BOOL:
		size = 1;
		break;
	case VFIO_IRQ_SET_DATA_EVENTFD:
		size = 4;
		break;
	default:
		return ap__vfio_fail(d->vs, -EINVAL, "VFIO_DEVICE_SET_IRQS: one data type, please");
	}
	if (size && hdr->argsz - minsz < (uint64_t)hdr->count * size)
		return ap__vfio_fail(d->vs, -EINVAL, "VFIO_DEVICE_SET_IRQS: argsz %u holds no %u "
				     "entries of %u bytes", hdr->argsz, hdr->count, size);
	*s = (struct irqset){ hdr->flags, hdr->index, hdr->start, hdr->count, hdr->data };
	return 0;
}

static int set_irqs_locked(struct vdevice *d, const struct irqset *s)
{
	uint32_t action = s->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;

	switch (s->index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_MASK)
			return intx_mask(d, s, true);
		if (action == VFIO_IRQ_SET_ACTION_UNMASK)
			return intx_mask(d, s, false);
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
			return intx_trigger(d, s);
		break;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
			return msix_trigger(d, s);
		break; /* vfio-pci has no MSI-X masking */
	case VFIO_PCI_ERR_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
			return single_trigger(d, &d->err_trigger, s);
		break;
	case VFIO_PCI_REQ_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
			return single_trigger(d, &d->req_trigger, s);
		break;
	default:
		break;
	}
	return ap__vfio_fail(d->vs, -ENOTTY, "VFIO_DEVICE_SET_IRQS: action 0x%x on index %u is "
			     "not supported", action, s->index);
}

static int set_irqs(struct vdevice *d, const struct vfio_irq_set *hdr)
{
	struct irqset s = { 0 };
	int err;

	if (!hdr)
		return ap__vfio_fail(d->vs, -EFAULT, "VFIO_DEVICE_SET_IRQS needs a struct");
	err = irqset_check(d, hdr, &s);
	if (err)
		return err;
	pthread_mutex_lock(&d->lock);
	err = set_irqs_locked(d, &s);
	pthread_mutex_unlock(&d->lock);
	return err;
}

/* ------------------------------------------------------------ reset, features */

/* pci_try_reset_function(): saved state comes back, MSI-X included. */
static void device_reset(struct vdevice *d)
{
	pthread_mutex_lock(&d->lock);
	ap_pci_reset(d->pci);
	if (d->irq_type == VFIO_PCI_MSIX_IRQ_INDEX)
		ap_pci_msix_set_enabled(d->pci, true);
	d->intx_masked = false;
	pthread_mutex_unlock(&d->lock);
}

/* No slot or bus reset for a function on the root bus. */
static int hot_reset_info(struct vdevice *d, struct vfio_pci_hot_reset_info *info)
{
	const size_t minsz = OFFSETOFEND(struct vfio_pci_hot_reset_info, count);

	if (!info)
		return ap__vfio_fail(d->vs, -EFAULT, "GET_PCI_HOT_RESET_INFO needs a struct");
	if (info->argsz < minsz)
		return ap__vfio_fail(d->vs, -EINVAL, "GET_PCI_HOT_RESET_INFO: argsz %u", info->argsz);
	return ap__vfio_fail(d->vs, -ENODEV, "%s: no slot or bus reset (a function on the root "
			     "bus)", ap_pci_name(d->pci));
}

/* The checks of vfio_ioctl_device_feature(); no feature is offered (no
 * migration, not a VF, no DMA logging). */
static int feature(struct vdevice *d, const struct vfio_device_feature *f)
{
	const size_t minsz = OFFSETOFEND(struct vfio_device_feature, flags);
	const uint32_t known = VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_GET |
			       VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PROBE;

	if (!f)
		return ap__vfio_fail(d->vs, -EFAULT, "VFIO_DEVICE_FEATURE needs a struct");
	if (f->argsz < minsz || (f->flags & ~known))
		return ap__vfio_fail(d->vs, -EINVAL, "VFIO_DEVICE_FEATURE: argsz or flags");
	if ((f->flags & VFIO_DEVICE_FEATURE_PROBE) && (f->flags & (VFIO_DEVICE_FEATURE_GET |
								    VFIO_DEVICE_FEATURE_SET)) ==
							       (VFIO_DEVICE_FEATURE_GET |
								VFIO_DEVICE_FEATURE_SET))
		return ap__vfio_fail(d->vs, -EINVAL, "VFIO_DEVICE_FEATURE: GET and SET probed");
	return ap__vfio_fail(d->vs, -ENOTTY, "VFIO_DEVICE_FEATURE %u: %s offers no features",
			     f->flags & VFIO_DEVICE_FEATURE_MASK, ap_pci_name(d->pci));
}

int ap__vdevice_ioctl(struct vdevice *d, unsigned long request, void *arg)
{
	switch (request) {
	case VFIO_DEVICE_GET_INFO:
		return get_info(d, arg);
	case VFIO_DEVICE_GET_REGION_INFO:
		return get_region_info(d, arg);
	case VFIO_DEVICE_GET_IRQ_INFO:
		return get_irq_info(d, arg);
	case VFIO_DEVICE_SET_IRQS:
		return set_irqs(d, arg);
	case VFIO_DEVICE_RESET:
		device_reset(d);
		return 0;
	case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
		return hot_reset_info(d, arg);
	case VFIO_DEVICE_FEATURE:
		return feature(d, arg);
	default:
		return ap__vfio_fail(d->vs, -ENOTTY, "ioctl 0x%lx is not a vfio-pci device request",
				     request);
	}
}

/* ------------------------------------------------------------ regions */

/* The device handle fd, held for the caller (errno set when it is none). */
static struct vhandle *device_handle(struct ap_ctx *ctx, int fd)
{
	struct vstate *vs = ctx ? ap__vfio_state(ctx, false) : NULL;
	struct vhandle *h = ap__vfio_handle_get(vs, fd);

	if (!h) {
		if (ctx)
			ap_ctx_set_error(ctx, "VFIO handle %d is not open", fd);
		errno = ctx ? EBADF : EINVAL;
		return NULL;
	}
	if (h->kind != VH_DEVICE) {
		ap__vfio_handle_put(vs, h);
		ap_ctx_set_error(ctx, "VFIO handle %d is not a device", fd);
		errno = EINVAL;
		return NULL;
	}
	return h;
}

/* The region's size, and whether offset lies in it; clips *len. */
static int region_span(struct vdevice *d, uint64_t offset, size_t *len, unsigned *index,
		       uint64_t *pos)
{
	uint64_t size = 0;

	*index = (unsigned)(offset >> REGION_SHIFT);
	*pos = offset & REGION_POS_MASK;
	if (*index == VFIO_PCI_CONFIG_REGION_INDEX)
		size = ap_pci_config_size(d->pci);
	else if (*index <= VFIO_PCI_BAR5_REGION_INDEX)
		size = bar_size(d, *index);
	if (*pos >= size)
		return ap__vfio_fail(d->vs, -EINVAL, "%s: offset 0x%llx is in no region",
				     ap_pci_name(d->pci), (unsigned long long)offset);
	if (*len > size - *pos)
		*len = (size_t)(size - *pos);
	return 0;
}

/* A user's config write: the MSI-X capability is vfio-pci's (written only
 * through SET_IRQS), so its bytes are dropped; the rest reaches the
 * function, and MSI-X stays as SET_IRQS left it (an FLR clears it). */
static int config_write(struct vdevice *d, uint64_t pos, const uint8_t *buf, size_t len)
{
	uint32_t cap = ap_pci_find_capability(d->pci, PCI_CAP_ID_MSIX);
	int err = 0;

	/* byte by byte: configuration writes are byte-enabled anyway */
	for (size_t i = 0; i < len && !err; i++) {
		uint64_t at = pos + i;

		if (!cap || at < cap || at >= cap + PCI_CAP_MSIX_SIZEOF)
			err = ap_pci_config_write(d->pci, (uint32_t)at, buf + i, 1);
	}
	pthread_mutex_lock(&d->lock);
	if (d->irq_type == VFIO_PCI_MSIX_IRQ_INDEX)
		ap_pci_msix_set_enabled(d->pci, true);
	pthread_mutex_unlock(&d->lock);
	return err;
}

/* Under the caller's hold on d's handle. */
static int region_rw_held(struct vdevice *d, void *buf, size_t *len, uint64_t offset, bool write)
{
	unsigned index;
	uint64_t pos;
	int err;

	if (!buf && *len)
		return -EFAULT;
	err = region_span(d, offset, len, &index, &pos);
	if (err)
		return err;
	if (index == VFIO_PCI_CONFIG_REGION_INDEX)
		return write ? config_write(d, pos, buf, *len)
			     : ap_pci_config_read(d->pci, (uint32_t)pos, buf, *len);
	return write ? ap_pci_bar_write(d->pci, index, pos, buf, *len)
		     : ap_pci_bar_read(d->pci, index, pos, buf, *len);
}

static ssize_t region_rw(struct ap_ctx *ctx, int fd, void *buf, size_t len, uint64_t offset,
			 bool write)
{
	struct vhandle *h = device_handle(ctx, fd);
	int err;

	if (!h)
		return -1;
	err = region_rw_held(h->obj, buf, &len, offset, write);
	ap__vfio_handle_put(ap__vfio_state(ctx, false), h);
	if (err) {
		errno = -err;
		return -1;
	}
	return (ssize_t)len;
}

ssize_t ap_vfio_pread(struct ap_ctx *ctx, int fd, void *buf, size_t len, uint64_t offset)
{
	return region_rw(ctx, fd, buf, len, offset, false);
}

ssize_t ap_vfio_pwrite(struct ap_ctx *ctx, int fd, const void *buf, size_t len,
		       uint64_t offset)
{
	return region_rw(ctx, fd, (void *)(uintptr_t)buf, len, offset, true);
}

/* Under the caller's hold on d's handle. */
static void *mmap_held(struct vdevice *d, uint64_t offset, size_t len)
{
	unsigned index = (unsigned)(offset >> REGION_SHIFT);
	uint64_t pos = offset & REGION_POS_MASK, size;
	long page = sysconf(_SC_PAGESIZE);

	if (page <= 0)
		page = 4096;
	if (index > VFIO_PCI_BAR5_REGION_INDEX || !bar_mmapable(d, index) || !len ||
	    (pos & (uint64_t)(page - 1))) {
		ap__vfio_fail(d->vs, -EINVAL, "%s: region %u offset 0x%llx cannot be mmapped",
			      ap_pci_name(d->pci), index, (unsigned long long)pos);
		return NULL;
	}
	size = bar_size(d, index);
	if (pos >= size || len > size - pos) {
		ap__vfio_fail(d->vs, -EINVAL, "%s: mmap of 0x%zx bytes at 0x%llx runs past BAR%u "
			      "(0x%llx)", ap_pci_name(d->pci), len, (unsigned long long)pos, index,
			      (unsigned long long)size);
		return NULL;
	}
	return (uint8_t *)ap_pci_bar(d->pci, index, NULL) + pos;
}

void *ap_vfio_mmap(struct ap_ctx *ctx, int fd, uint64_t offset, size_t len)
{
	struct vhandle *h = device_handle(ctx, fd);
	void *p;

	if (!h)
		return NULL;
	p = mmap_held(h->obj, offset, len);
	ap__vfio_handle_put(ap__vfio_state(ctx, false), h);
	if (!p)
		errno = EINVAL;
	return p;
}

struct ap_pci *ap_vfio_device_pci(struct ap_ctx *ctx, int fd)
{
	struct vstate *vs = ctx ? ap__vfio_state(ctx, false) : NULL;
	struct vhandle *h = ap__vfio_handle_get(vs, fd);
	struct ap_pci *pci = NULL;

	if (!h)
		return NULL;
	if (h->kind == VH_DEVICE)
		pci = ((struct vdevice *)h->obj)->pci; /* the PCI layer outlives VFIO */
	ap__vfio_handle_put(vs, h);
	return pci;
}
