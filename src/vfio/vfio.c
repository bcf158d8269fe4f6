/* SPDX-License-Identifier: MIT */
/*
 * The VFIO layer's entry points: the per-context state (kept in the
 * context's frontend slot "vfio"), handles that behave like file
 * descriptors, open/ioctl/close with the ioctl(2) convention, the tunables
 * and the read-only views for tools.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <aperture/pci.h>

#include "vfio_internal.h"

#define VFIO_DEV_DIR "/dev/vfio/"

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

static void state_destroy(void *arg)
{
	struct vstate *vs = arg;
	struct ap_ctx *ctx = vs->ctx;

	/* Devices, then groups: closing them releases the containers they hold. */
	ap_ctx_set_dma_write_observer(ctx, NULL, NULL);
	ap__vdevice_destroy_all(vs);
	for (size_t fd = 0; fd < vs->nh; fd++)
		if (vs->h[fd].kind == VH_GROUP || vs->h[fd].kind == VH_HELD)
			ap__vgroup_close(vs->h[fd].obj);
	for (size_t fd = 0; fd < vs->nh; fd++)
		if (vs->h[fd].kind == VH_CONTAINER)
			ap__vcontainer_close(vs->h[fd].obj);
	ap_mem_free(ctx, vs->h);
	ap_mem_free(ctx, vs);
}

static uint64_t host_page_size(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 ? (uint64_t)page : 4096;
}

/* The context's VFIO state; created on first use when `create`. */
struct vstate *ap__vfio_state(struct ap_ctx *ctx, bool create)
{
	struct vstate *vs = ap_ctx_frontend(ctx, VFIO_FRONTEND_KEY);

	if (vs || !create)
		return vs;
	/* device handles sit on the PCI layer, which must outlive this state */
	if (ap_pci_init(ctx)) {
		ap_ctx_set_error(ctx, "out of memory for the PCI state");
		return NULL;
	}
	vs = ap_mem_alloc(ctx, sizeof(*vs));
	if (!vs) {
		ap_ctx_set_error(ctx, "out of memory for the VFIO state");
		return NULL;
	}
	vs->ctx = ctx;
	vs->dma_entry_limit = VFIO_DEFAULT_DMA_ENTRIES;
	vs->host_page = host_page_size();
	if (ap_ctx_set_frontend(ctx, VFIO_FRONTEND_KEY, vs, state_destroy)) {
		ap_mem_free(ctx, vs);
		return NULL;
	}
	ap_ctx_set_dma_write_observer(ctx, ap__dirty_observe, vs);
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

/*
 * Arrays of mappings grow in two steps, so that a change that fails after
 * making room leaves the old array, and the memory the context holds, as
 * they were: ap__vdma_array_room() allocates a bigger array (*room, NULL
 * if the n entries leave room in cap already), and the change installs it
 * with ap__vdma_array_install() once nothing can fail, or frees it.
 */
int ap__vdma_array_room(struct vstate *vs, size_t n, size_t cap, struct vdma ***room,
			size_t *room_cap)
{
	*room = NULL;
	*room_cap = cap;
	if (n < cap)
		return 0;
	*room_cap = cap ? cap * 2 : 16;
	*room = ap_mem_alloc(vs->ctx, *room_cap * sizeof(**room));
	if (!*room)
		return ap__vfio_fail(vs, -ENOMEM, "out of memory for the list of DMA mappings");
	return 0;
}

/* Move the n entries of *arr into *room (if any), which takes its place. */
void ap__vdma_array_install(struct vstate *vs, struct vdma ***arr, size_t n, size_t *cap,
			    struct vdma ***room, size_t room_cap)
{
	if (!*room)
		return;
	if (n)
		memcpy(*room, *arr, n * sizeof(**arr));
	ap_mem_free(vs->ctx, *arr);
	*arr = *room;
	*cap = room_cap;
	*room = NULL;
}

/* ------------------------------------------------------------ handles */

/* The lowest free handle, as open(2) picks file descriptors. */
int ap__vfio_handle_new(struct vstate *vs, enum vhandle_kind kind, void *obj)
{
	size_t fd;

	for (fd = 0; fd < vs->nh && vs->h[fd].kind != VH_FREE; fd++)
		;
	if (fd == vs->nh) {
		size_t n = vs->nh ? vs->nh * 2 : 8;
		struct vhandle *grown;

		if (fd >= INT32_MAX)
			return ap__vfio_fail(vs, -EMFILE, "too many open VFIO handles");
		/* the new tail comes zeroed: VH_FREE */
		grown = ap_mem_realloc(vs->ctx, vs->h, n * sizeof(*grown));
		if (!grown)
			return ap__vfio_fail(vs, -ENOMEM, "out of memory for VFIO handles");
		vs->h = grown;
		vs->nh = n;
	}
	vs->h[fd] = (struct vhandle){ kind, obj };
	return (int)fd;
}

void ap__vfio_handle_free(struct vstate *vs, int fd)
{
	vs->h[fd] = (struct vhandle){ VH_FREE, NULL };
}

struct vhandle *ap__vfio_handle(struct vstate *vs, int fd)
{
	if (!vs || fd < 0 || (size_t)fd >= vs->nh || vs->h[fd].kind == VH_FREE ||
	    vs->h[fd].kind == VH_HELD)
		return NULL;
	return &vs->h[fd];
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
	struct vhandle *h = ap__vfio_handle(ap__vfio_state(ctx, false), fd);

	if (!h)
		ap_ctx_set_error(ctx, "VFIO handle %d is not open", fd);
	return h;
}

int ap_vfio_ioctl(struct ap_ctx *ctx, int fd, unsigned long request, void *arg)
{
	struct vhandle *h;

	if (!ctx)
		return syscall_result(-EINVAL);
	h = handle_or_fail(ctx, fd);
	if (!h)
		return syscall_result(-EBADF);
	if (h->kind == VH_GROUP)
		return syscall_result(ap__vgroup_ioctl(h->obj, request, arg));
	if (h->kind == VH_DEVICE)
		return syscall_result(ap__vdevice_ioctl(h->obj, request, arg));
	return syscall_result(ap__vcontainer_ioctl(h->obj, request, arg));
}

int ap_vfio_close(struct ap_ctx *ctx, int fd)
{
	struct vhandle *h;

	if (!ctx)
		return syscall_result(-EINVAL);
	h = handle_or_fail(ctx, fd);
	if (!h)
		return syscall_result(-EBADF);
	if (h->kind == VH_GROUP)
		ap__vgroup_close(h->obj);
	else if (h->kind == VH_DEVICE)
		ap__vdevice_close(ap__vfio_state(ctx, false), fd, h->obj);
	else
		ap__vcontainer_close(h->obj);
	return 0;
}

/* ------------------------------------------------------------ tunables */

/* The tunables live in the VFIO state, which the first of them may have to
 * allocate: a setting that cannot be kept is an error, never dropped. */
int ap_vfio_set_dma_entry_limit(struct ap_ctx *ctx, uint32_t limit)
{
	struct vstate *vs;

	if (!ctx)
		return -EINVAL;
	vs = ap__vfio_state(ctx, true);
	if (!vs)
		return -ENOMEM;
	vs->dma_entry_limit = limit;
	return 0;
}

uint32_t ap_vfio_dma_entry_limit(struct ap_ctx *ctx)
{
	struct vstate *vs = ctx ? ap__vfio_state(ctx, false) : NULL;

	return vs ? vs->dma_entry_limit : VFIO_DEFAULT_DMA_ENTRIES;
}

int ap_vfio_set_memlock_limit(struct ap_ctx *ctx, uint64_t bytes)
{
	struct vstate *vs;

	if (!ctx)
		return -EINVAL;
	vs = ap__vfio_state(ctx, true);
	if (!vs)
		return -ENOMEM;
	vs->memlock_limit = bytes;
	vs->memlock_set = true;
	return 0;
}

/* The limit a MAP_DMA is held to: the tunable, or the process's rlimit read
 * now (as type1 reads RLIMIT_MEMLOCK on every map). */
uint64_t ap__vfio_memlock_limit(const struct vcontainer *c)
{
	struct rlimit rl;

	if (c->memlock_set)
		return c->memlock_limit;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return UINT64_MAX;
	return (uint64_t)rl.rlim_cur;
}

/* ------------------------------------------------------------ views */

static struct vcontainer *container_at(struct ap_ctx *ctx, size_t index)
{
	struct vstate *vs = ctx ? ap__vfio_state(ctx, false) : NULL;
	struct vcontainer *c;

	for (c = vs ? vs->containers : NULL; c && index; c = c->next)
		index--;
	return c;
}

int ap_vfio_set_label(struct ap_ctx *ctx, int fd, const char *label)
{
	struct vstate *vs = ctx ? ap_ctx_frontend(ctx, VFIO_FRONTEND_KEY) : NULL;
	struct vhandle *h = vs ? ap__vfio_handle(vs, fd) : NULL;
	struct vcontainer *c;

	if (!h || h->kind != VH_CONTAINER)
		return -EBADF;
	if (!label || !*label || strlen(label) >= sizeof(c->label))
		return -EINVAL;
	c = h->obj;
	strcpy(c->label, label);
	return 0;
}

int ap_vfio_container_info(struct ap_ctx *ctx, size_t index, struct ap_vfio_container_info *out)
{
	const struct vcontainer *c = container_at(ctx, index);

	if (!c || !out)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->fd = c->fd;
	memcpy(out->label, c->label, sizeof(out->label));
	out->iommu = c->type;
	out->ngroups = c->ngroups;
	out->locked = c->locked;
	if (!c->type)
		return 0;
	out->pgsizes = c->t1.pgsize_bitmap;
	out->ndomains = c->t1.ndomains;
	out->niovas = c->t1.niovas;
	out->mappings = c->t1.ndmas;
	out->dma_avail = c->t1.dma_avail;
	out->dirty_tracking = c->t1.dirty_tracking;
	return 0;
}

int ap_vfio_container_group(struct ap_ctx *ctx, size_t index, size_t n, int *group)
{
	const struct vcontainer *c = container_at(ctx, index);

	/* the container keeps its newest group first; views list them in order */
	if (!c || n >= c->ngroups || !group)
		return -ENOENT;
	*group = c->groups[c->ngroups - 1 - n]->id;
	return 0;
}

struct ap_domain *ap_vfio_container_domain(struct ap_ctx *ctx, size_t index, size_t n)
{
	const struct vcontainer *c = container_at(ctx, index);

	if (!c || n >= c->t1.ndomains)
		return NULL;
	return c->t1.domains[c->t1.ndomains - 1 - n]->dom;
}

int ap_vfio_container_iova(struct ap_ctx *ctx, size_t index, size_t n, uint64_t *start,
			   uint64_t *end)
{
	const struct vcontainer *c = container_at(ctx, index);

	if (!c || n >= c->t1.niovas || !start || !end)
		return -ENOENT;
	*start = c->t1.iovas[n].start;
	*end = c->t1.iovas[n].end;
	return 0;
}
