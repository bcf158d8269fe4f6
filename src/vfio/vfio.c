/* SPDX-License-Identifier: MIT */
/*
 * The VFIO layer's entry points: the per-context state (kept in the
 * context's frontend slot "vfio"), handles that behave like file
 * descriptors, open/ioctl/close with the ioctl(2) convention, the tunables
 * and the read-only views for tools.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include <aperture/pci.h>

#include "vfio_internal.h"

#define VFIO_DEV_DIR "/dev/vfio/"

/* ------------------------------------------------------------ locks */

void ap__vlock_init(struct vlock *l)
{
	pthread_mutex_init(&l->m, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->next = l->serving = 0;
}

void ap__vlock_destroy(struct vlock *l)
{
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->m);
}

void ap__vlock_lock(struct vlock *l)
{
	uint64_t ticket;

	pthread_mutex_lock(&l->m);
	ticket = l->next++;
	while (ticket != l->serving)
		pthread_cond_wait(&l->cv, &l->m);
	pthread_mutex_unlock(&l->m);
}

void ap__vlock_unlock(struct vlock *l)
{
	pthread_mutex_lock(&l->m);
	l->serving++;
	/* every waiter checks its ticket; the one served next goes */
	if (l->next != l->serving)
		pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->m);
}

/* ------------------------------------------------------------ state */

int ap__vfio_fail(struct vstate *vs, int err, const char *fmt, ...)
{
	char msg[480];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ap_ctx_set_error(vs->ctx, "%s", msg);
	return err;
}

/* Handles that stand for the objects of kind `kind`: their table
 * references go (the context is being freed: no call is in flight). */
static void drop_handles(struct vstate *vs, enum vhandle_kind kind)
{
	for (size_t fd = 0; fd < vs->nh; fd++) {
		struct vhandle *h = vs->h[fd];

		if (h && h->kind == kind) {
			vs->h[fd] = NULL;
			ap__vfio_handle_put(vs, h);
		}
	}
}

static void state_destroy(void *arg)
{
	struct vstate *vs = arg;
	struct ap_ctx *ctx = vs->ctx;

	/* Devices, then groups: closing them releases the groups and
	 * containers they hold. */
	ap_ctx_set_dma_write_observer(ctx, NULL, NULL);
	drop_handles(vs, VH_DEVICE);
	ap__vdevice_destroy_all(vs);
	drop_handles(vs, VH_GROUP);
	drop_handles(vs, VH_CONTAINER);
	ap__vlock_destroy(&vs->ctl_lock);
	pthread_mutex_destroy(&vs->acct_lock);
	pthread_mutex_destroy(&vs->h_lock);
	ap_mem_free(ctx, vs->h);
	ap_mem_free(ctx, vs);
}

static uint64_t host_page_size(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 ? (uint64_t)page : 4096;
}

/* Two threads' first VFIO calls on one context: one makes the state. */
static pthread_mutex_t state_create_lock = PTHREAD_MUTEX_INITIALIZER;

static struct vstate *state_create(struct ap_ctx *ctx)
{
	struct vstate *vs = ap_mem_alloc(ctx, sizeof(*vs));

	if (!vs) {
		ap_ctx_set_error(ctx, "out of memory for the VFIO state");
		return NULL;
	}
	vs->ctx = ctx;
	vs->dma_entry_limit = VFIO_DEFAULT_DMA_ENTRIES;
	vs->host_page = host_page_size();
	ap__vlock_init(&vs->ctl_lock);
	pthread_mutex_init(&vs->acct_lock, NULL);
	pthread_mutex_init(&vs->h_lock, NULL);
	if (ap_ctx_set_frontend(ctx, VFIO_FRONTEND_KEY, vs, state_destroy)) {
		ap__vlock_destroy(&vs->ctl_lock);
		pthread_mutex_destroy(&vs->acct_lock);
		pthread_mutex_destroy(&vs->h_lock);
		ap_mem_free(ctx, vs);
		return NULL;
	}
	ap_ctx_set_dma_write_observer(ctx, ap__dirty_observe, vs);
	return vs;
}

/* The context's VFIO state; created on first use when `create`. */
struct vstate *ap__vfio_state(struct ap_ctx *ctx, bool create)
{
	struct vstate *vs = ap_ctx_frontend(ctx, VFIO_FRONTEND_KEY);

	if (vs || !create)
		return vs;
	pthread_mutex_lock(&state_create_lock);
	vs = ap_ctx_frontend(ctx, VFIO_FRONTEND_KEY);
	/* device handles sit on the PCI layer, which must outlive this state */
	if (!vs && ap_pci_init(ctx))
		ap_ctx_set_error(ctx, "out of memory for the PCI state");
	else if (!vs)
		vs = state_create(ctx);
	pthread_mutex_unlock(&state_create_lock);
	return vs;
}

/*
 * A domain for the layer's own use, named `base`, or `base.1`, `base.2`...
 * when a domain of the context already has the name.
 */
int ap__vfio_domain_new(struct vstate *vs, const char *base, struct ap_iommu *iommu,
			enum ap_domain_type type, struct ap_domain **out)
{
	char name[64];
	unsigned n;
	int err = -EEXIST;

	snprintf(name, sizeof(name), "%s", base);
	for (n = 1; err == -EEXIST && n < 1000; n++) {
		err = ap_domain_new(vs->ctx, name, iommu, type, out);
		snprintf(name, sizeof(name), "%s.%u", base, n);
	}
	return err;
}

/* ------------------------------------------------------------ handles */

/* The lowest free handle, as open(2) picks file descriptors.  The object
 * must be ready for calls: another thread may use the number at once. */
int ap__vfio_handle_new(struct vstate *vs, enum vhandle_kind kind, void *obj)
{
	struct vhandle *h = ap_mem_alloc(vs->ctx, sizeof(*h));
	size_t fd;

	if (!h)
		return ap__vfio_fail(vs, -ENOMEM, "out of memory for a VFIO handle");
	*h = (struct vhandle){ kind, obj, 1 };
	pthread_mutex_lock(&vs->h_lock);
	for (fd = 0; fd < vs->nh && vs->h[fd]; fd++)
		;
	if (fd == vs->nh) {
		size_t n = vs->nh ? vs->nh * 2 : 8;
		struct vhandle **grown = NULL;

		if (fd < INT32_MAX) /* the new tail comes zeroed: free */
			grown = ap_mem_realloc(vs->ctx, vs->h, n * sizeof(*grown));
		if (!grown) {
			pthread_mutex_unlock(&vs->h_lock);
			ap_mem_free(vs->ctx, h);
			if (fd >= INT32_MAX)
				return ap__vfio_fail(vs, -EMFILE, "too many open VFIO handles");
			return ap__vfio_fail(vs, -ENOMEM, "out of memory for VFIO handles");
		}
		vs->h = grown;
		vs->nh = n;
	}
	vs->h[fd] = h;
	pthread_mutex_unlock(&vs->h_lock);
	return (int)fd;
}

/* The handle fd stands for, held for the caller (NULL if not open). */
struct vhandle *ap__vfio_handle_get(struct vstate *vs, int fd)
{
	struct vhandle *h = NULL;

	if (!vs || fd < 0)
		return NULL;
	pthread_mutex_lock(&vs->h_lock);
	if ((size_t)fd < vs->nh && vs->h[fd]) {
		h = vs->h[fd];
		h->refs++;
	}
	pthread_mutex_unlock(&vs->h_lock);
	return h;
}

/* One more reference on a handle the caller holds. */
void ap__vfio_handle_hold(struct vstate *vs, struct vhandle *h)
{
	pthread_mutex_lock(&vs->h_lock);
	h->refs++;
	pthread_mutex_unlock(&vs->h_lock);
}

/* Let go of h; the last reference releases its object (no lock held). */
void ap__vfio_handle_put(struct vstate *vs, struct vhandle *h)
{
	unsigned refs;

	pthread_mutex_lock(&vs->h_lock);
	refs = --h->refs;
	pthread_mutex_unlock(&vs->h_lock);
	if (refs)
		return;
	switch (h->kind) {
	case VH_GROUP:
		ap__vgroup_release_handle(h->obj);
		break;
	case VH_CONTAINER:
		ap__vcontainer_release_handle(h->obj);
		break;
	case VH_DEVICE:
		ap__vdevice_release_handle(h->obj);
		break;
	}
	ap_mem_free(vs->ctx, h);
}

/* close(2): the number is free at once; the object goes with the last
 * call still using it. */
static int handle_close(struct vstate *vs, int fd)
{
	struct vhandle *h = NULL;

	if (!vs || fd < 0)
		return -EBADF;
	pthread_mutex_lock(&vs->h_lock);
	if ((size_t)fd < vs->nh) {
		h = vs->h[fd];
		vs->h[fd] = NULL;
	}
	pthread_mutex_unlock(&vs->h_lock);
	if (!h)
		return -EBADF;
	ap__vfio_handle_put(vs, h);
	return 0;
}

/* ------------------------------------------------------------ entry points */

/* The ioctl(2) convention: a negative errno becomes -1 with errno set. */
static int syscall_result(int rc)
{
	if (rc >= 0)
		return rc;
	errno = -rc;
	return -1;
}

/* "N" of "/dev/vfio/N": decimal as the kernel names the nodes, or -1. */
static int group_number(const char *name)
{
	long n = 0;
	const char *p;

	if (!*name || (name[0] == '0' && name[1]))
		return -1;
	for (p = name; *p; p++) {
		if (*p < '0' || *p > '9' || n > (INT32_MAX - (*p - '0')) / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	return (int)n;
}

int ap_vfio_open(struct ap_ctx *ctx, const char *path)
{
	struct vstate *vs;
	int id;

	if (!ctx)
		return syscall_result(-EINVAL);
	if (!path)
		return syscall_result(-EFAULT);
	vs = ap__vfio_state(ctx, true);
	if (!vs)
		return syscall_result(-ENOMEM);
	if (!strcmp(path, VFIO_DEV_DIR "vfio"))
		return syscall_result(ap__vcontainer_open(vs));
	id = strncmp(path, VFIO_DEV_DIR, strlen(VFIO_DEV_DIR)) ? -1
		: group_number(path + strlen(VFIO_DEV_DIR));
	if (id < 0)
		return syscall_result(ap__vfio_fail(vs, -ENOENT, "%s: no such VFIO device (expected "
						    "/dev/vfio/vfio or /dev/vfio/N)", path));
	return syscall_result(ap__vgroup_open(vs, id));
}

static struct vhandle *handle_or_fail(struct ap_ctx *ctx, int fd)
{
	struct vhandle *h = ap__vfio_handle_get(ap__vfio_state(ctx, false), fd);

	if (!h)
		ap_ctx_set_error(ctx, "VFIO handle %d is not open", fd);
	return h;
}

int ap_vfio_ioctl(struct ap_ctx *ctx, int fd, unsigned long request, void *arg)
{
	struct vhandle *h;
	int rc = -ENOTTY;

	if (!ctx)
		return syscall_result(-EINVAL);
	h = handle_or_fail(ctx, fd);
	if (!h)
		return syscall_result(-EBADF);
	switch (h->kind) {
	case VH_GROUP:
		/* a device handle holds its group's handle (device.c) */
		if (request == VFIO_GROUP_GET_DEVICE_FD)
			rc = ap__vdevice_open(ap__vfio_state(ctx, false), h, arg);
		else
			rc = ap__vgroup_ioctl(h->obj, request, arg);
		break;
	case VH_CONTAINER:
		rc = ap__vcontainer_ioctl(h->obj, request, arg);
		break;
	case VH_DEVICE:
		rc = ap__vdevice_ioctl(h->obj, request, arg);
		break;
	}
	ap__vfio_handle_put(ap__vfio_state(ctx, false), h);
	return syscall_result(rc);
}

int ap_vfio_close(struct ap_ctx *ctx, int fd)
{
	int err;

	if (!ctx)
		return syscall_result(-EINVAL);
	err = handle_close(ap__vfio_state(ctx, false), fd);
	if (err)
		ap_ctx_set_error(ctx, "VFIO handle %d is not open", fd);
	return syscall_result(err);
}

/* ------------------------------------------------------------ tunables */

/* The tunables live in the VFIO state, which the first of them may have to
 * allocate: a setting that cannot be kept is an error, never dropped.
 * Containers read them when they open, under ctl_lock. */
int ap_vfio_set_dma_entry_limit(struct ap_ctx *ctx, uint32_t limit)
{
	struct vstate *vs;

	if (!ctx)
		return -EINVAL;
	vs = ap__vfio_state(ctx, true);
	if (!vs)
		return -ENOMEM;
	ap__vlock_lock(&vs->ctl_lock);
	vs->dma_entry_limit = limit;
	ap__vlock_unlock(&vs->ctl_lock);
	return 0;
}

uint32_t ap_vfio_dma_entry_limit(struct ap_ctx *ctx)
{
	struct vstate *vs = ctx ? ap__vfio_state(ctx, false) : NULL;
	uint32_t limit;

	if (!vs)
		return VFIO_DEFAULT_DMA_ENTRIES;
	ap__vlock_lock(&vs->ctl_lock);
	limit = vs->dma_entry_limit;
	ap__vlock_unlock(&vs->ctl_lock);
	return limit;
}

int ap_vfio_set_memlock_limit(struct ap_ctx *ctx, uint64_t bytes)
{
	struct vstate *vs;

	if (!ctx)
		return -EINVAL;
	vs = ap__vfio_state(ctx, true);
	if (!vs)
		return -ENOMEM;
	ap__vlock_lock(&vs->ctl_lock);
	vs->memlock_limit = bytes;
	vs->memlock_set = true;
	ap__vlock_unlock(&vs->ctl_lock);
	return 0;
}

/* CAP_IPC_LOCK in the calling thread's effective set, read now as Linux's
 * capable() is at each MAP_DMA.  A kernel that will not say: not held. */
static bool can_lock_memory(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective & CAP_TO_MASK(CAP_IPC_LOCK);
}

/*
 * The limit a MAP_DMA is held to, as type1's vfio_lock_acct: a limit set
 * with ap_vfio_set_memlock_limit() holds for every caller; otherwise a
 * caller with CAP_IPC_LOCK has none, and any other the process's
 * RLIMIT_MEMLOCK, read now.  *what names it for the error message.
 */
static uint64_t memlock_limit(const struct vcontainer *c, const char **what)
{
	struct rlimit rl;

	if (c->memlock_set) {
		*what = "set with ap_vfio_set_memlock_limit()";
		return c->memlock_limit;
	}
	*what = "RLIMIT_MEMLOCK; CAP_IPC_LOCK would lift it";
	if (can_lock_memory() || getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return UINT64_MAX;
	return (uint64_t)rl.rlim_cur;
}

/*
 * Charge a new mapping's size to the locked memory every container of the
 * context shares (the process's locked_vm), within the limit: ENOMEM over
 * it, with nothing charged.  Unlimited callers are charged too, as Linux
 * counts their pages.  ap__vfio_uncharge() gives it back.
 */
int ap__vfio_charge(struct vcontainer *c, uint64_t size)
{
	struct vstate *vs = c->vs;
	const char *what;
	uint64_t limit = memlock_limit(c, &what), locked;

	pthread_mutex_lock(&vs->acct_lock);
	locked = vs->locked;
	if (locked <= limit && size <= limit - locked)
		vs->locked += size;
	pthread_mutex_unlock(&vs->acct_lock);
	if (locked > limit || size > limit - locked)
		return ap__vfio_fail(vs, -ENOMEM, "VFIO_IOMMU_MAP_DMA: 0x%llx more bytes would pass the "
				     "locked-memory limit of 0x%llx bytes (%s): 0x%llx are pinned",
				     (unsigned long long)size, (unsigned long long)limit, what,
				     (unsigned long long)locked);
	return 0;
}

void ap__vfio_uncharge(struct vstate *vs, uint64_t size)
{
	pthread_mutex_lock(&vs->acct_lock);
	vs->locked -= size;
	pthread_mutex_unlock(&vs->acct_lock);
}

/* ------------------------------------------------------------ views */

/* The index-th container, under ctl_lock (NULL past the last): from the
 * one found last when it is not past index (new containers go at the end,
 * so its index holds until one leaves), else from the head. */
static struct vcontainer *container_at(struct vstate *vs, size_t index)
{
	struct vcontainer *c = vs->containers;
	size_t at = 0;

	if (vs->view_c && vs->view_index <= index) {
		c = vs->view_c;
		at = vs->view_index;
	}
	for (; c && at < index; c = c->next)
		at++;
	if (c) {
		vs->view_c = c;
		vs->view_index = index;
	}
	return c;
}

/* The views run under ctl_lock and the container's lock: a consistent
 * picture while other threads map and attach. */
static struct vcontainer *view_lock(struct ap_ctx *ctx, size_t index, struct vstate **vsp)
{
	struct vstate *vs = ctx ? ap__vfio_state(ctx, false) : NULL;
	struct vcontainer *c;

	*vsp = vs;
	if (!vs)
		return NULL;
	ap__vlock_lock(&vs->ctl_lock);
	c = container_at(vs, index);
	if (!c) {
		ap__vlock_unlock(&vs->ctl_lock);
		return NULL;
	}
	ap__vlock_lock(&c->lock);
	return c;
}

static void view_unlock(struct vstate *vs, struct vcontainer *c)
{
	ap__vlock_unlock(&c->lock);
	ap__vlock_unlock(&vs->ctl_lock);
}

int ap_vfio_set_label(struct ap_ctx *ctx, int fd, const char *label)
{
	struct vstate *vs = ctx ? ap__vfio_state(ctx, false) : NULL;
	struct vhandle *h = ap__vfio_handle_get(vs, fd);
	int err = 0;

	if (!h)
		return -EBADF;
	if (h->kind != VH_CONTAINER) {
		err = -EBADF;
	} else if (!label || !*label || strlen(label) >= sizeof(((struct vcontainer *)0)->label)) {
		err = -EINVAL;
	} else {
		struct vcontainer *c = h->obj;

		ap__vlock_lock(&vs->ctl_lock);
		strcpy(c->label, label);
		ap__vlock_unlock(&vs->ctl_lock);
	}
	ap__vfio_handle_put(vs, h);
	return err;
}

int ap_vfio_container_info(struct ap_ctx *ctx, size_t index, struct ap_vfio_container_info *out)
{
	struct vstate *vs;
	struct vcontainer *c = out ? view_lock(ctx, index, &vs) : NULL;

	if (!c)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->fd = c->fd;
	memcpy(out->label, c->label, sizeof(out->label));
	out->iommu = c->type;
	out->ngroups = c->ngroups;
	out->locked = c->locked;
	if (c->type) {
		out->pgsizes = c->t1.pgsize_bitmap;
		out->ndomains = c->t1.ndomains;
		out->niovas = c->t1.niovas;
		out->mappings = c->t1.ndmas;
		out->dma_avail = c->t1.dma_avail;
		out->dirty_tracking = c->t1.dirty_tracking;
	}
	view_unlock(vs, c);
	return 0;
}

int ap_vfio_container_group(struct ap_ctx *ctx, size_t index, size_t n, int *group)
{
	struct vstate *vs;
	struct vcontainer *c = group ? view_lock(ctx, index, &vs) : NULL;
	int err = -ENOENT;

	if (!c)
		return -ENOENT;
	/* the container keeps its newest group first; views list them in order */
	if (n < c->ngroups) {
		*group = c->groups[c->ngroups - 1 - n]->id;
		err = 0;
	}
	view_unlock(vs, c);
	return err;
}

struct ap_domain *ap_vfio_container_domain(struct ap_ctx *ctx, size_t index, size_t n)
{
	struct vstate *vs;
	struct vcontainer *c = view_lock(ctx, index, &vs);
	struct ap_domain *dom = NULL;

	if (!c)
		return NULL;
	if (n < c->t1.ndomains)
		dom = c->t1.domains[c->t1.ndomains - 1 - n]->dom;
	view_unlock(vs, c);
	return dom;
}

int ap_vfio_container_iova(struct ap_ctx *ctx, size_t index, size_t n, uint64_t *start,
			   uint64_t *end)
{
	struct vstate *vs;
	struct vcontainer *c = start && end ? view_lock(ctx, index, &vs) : NULL;
	int err = -ENOENT;

	if (!c)
		return -ENOENT;
	if (n < c->t1.niovas) {
		*start = c->t1.iovas[n].start;
		*end = c->t1.iovas[n].end;
		err = 0;
	}
	view_unlock(vs, c);
	return err;
}

int ap_vfio_container_mapping(struct ap_ctx *ctx, size_t index, uint64_t from,
			      struct ap_vfio_mapping *out)
{
	struct vstate *vs;
	struct vcontainer *c = out ? view_lock(ctx, index, &vs) : NULL;
	const struct vdma *d;
	int err = -ENOENT;

	if (!c)
		return -ENOENT;
	d = c->type ? ap__dma_first(&c->t1, from) : NULL;
	if (d) {
		*out = (struct ap_vfio_mapping){ .iova = d->iova, .size = d->size,
						 .vaddr = d->vaddr, .pa = d->pa, .prot = d->prot,
						 .vaddr_valid = !d->vaddr_invalid };
		err = 0;
	}
	view_unlock(vs, c);
	return err;
}
