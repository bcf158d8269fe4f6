/* SPDX-License-Identifier: MIT */
/*
 * Inside the VFIO layer: the objects behind the handles and the helpers the
 * files of src/vfio share.  Everything here sits on the core's public API;
 * the structs and constants of the uapi come from the system's
 * <linux/vfio.h>.
 *
 * Errors inside the layer are negative errno values with the context's
 * error message set; only the three entry points of vfio.c turn them into
 * -1 and errno.
 *
 * Locks, as Linux's VFIO takes them (QEMU and multi-threaded drivers call
 * from several threads), outermost first; a thread holds them in this
 * order only:
 *   vs->ctl_lock     groups joining and leaving containers, SET_IOMMU,
 *                    opening and releasing handles' objects, the list of
 *                    containers and open groups, labels, tunables: what
 *                    creates, attaches and frees the core's domains (its
 *                    control path, one thread at a time).  Linux: the group
 *                    and container locks.
 *   c->lock          one container's IOMMU backend: MAP/UNMAP, GET_INFO,
 *                    DIRTY_PAGES, CHECK_EXTENSION, and attach and detach of
 *                    its groups (under ctl_lock).  Linux: type1's iommu->lock.
 *   c->dirty_lock    the dirty bitmaps of its mappings; the DMA write
 *                    observer takes it inside device DMA, on any thread, so
 *                    nothing waits for DMA (a grace period) while holding it.
 *   vs->acct_lock    the locked-memory charge shared by every container.
 *   vs->h_lock       the handle table and handles' reference counts.
 * The last three are leaves.  A handle's object is released when its last
 * reference goes (ap_vfio_close, or the call that was using it when it was
 * closed), never with a lock held.
 */
#ifndef AP_VFIO_INTERNAL_H
#define AP_VFIO_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/vfio.h>

#include <aperture/vfio.h>

#include "../util/avl.h"

#define VFIO_FRONTEND_KEY "vfio"

/* Type1's dma_entry_limit default (U16_MAX) and DIRTY_BITMAP_PAGES_MAX. */
#define VFIO_DEFAULT_DMA_ENTRIES 65535u
#define VFIO_DIRTY_PAGES_MAX ((uint64_t)INT32_MAX)
#define VFIO_DIRTY_BITMAP_BYTES(n) ((((n) + 63) / 64) * 8)

struct vstate;
struct vcontainer;

/*
 * A lock that serves waiters in the order they came (a ticket lock), for
 * the two that long calls hold: a pthread mutex lets a thread that unlocks
 * and locks again at once (a loop of MAP_DMAs) keep another (a GET_INFO)
 * waiting for as long as the loop runs; Linux's mutexes hand the lock to a
 * waiter that has starved.
 */
struct vlock {
	pthread_mutex_t m;
	pthread_cond_t cv;
	uint64_t next, serving; /* under m */
};

/* One MAP_DMA: process memory [vaddr, vaddr+size) registered as RAM at pa
 * and mapped at iova in every domain of the container. */
struct vdma {
	struct ap_avl_node node; /* in the container's tree, by iova */
	uint64_t iova, size, vaddr, pa;
	unsigned prot;          /* AP_PROT_READ | AP_PROT_WRITE, as asked */
	bool vaddr_invalid;     /* UNMAP_DMA(VADDR) until MAP_DMA(VADDR) */
	uint64_t *bitmap;       /* dirty pages while tracking, else NULL (set under
				   the container's dirty_lock; a NULL test may go
				   without it) */
	unsigned bitmap_shift;  /* log2 of the page size a bit stands for */
	struct vcontainer *c;
};

/* A domain the container made, and how many of its groups are on it. */
struct vdomain {
	struct ap_domain *dom;
	unsigned ngroups;
};

/* An open /dev/vfio/N (under ctl_lock). */
struct vgroup {
	struct vgroup *next;       /* the state's open groups */
	struct vstate *vs;
	int id;                    /* the core's group number */
	struct vcontainer *c;      /* SET_CONTAINER, or NULL */
	struct ap_domain *blocked; /* DMA ownership claimed: the group sits here
				      until type1 gives it a paging domain */
	struct vdomain *vd;        /* type1's domain for it, or NULL */
	unsigned ndevices;         /* device handles opened through it: they
				      hold its handle (and so its container) */
};

/* An IOVA list being built, with the room allocated for it. */
struct iova_list {
	struct vfio_iova_range *r;
	size_t n, cap;
};

/* The type1 backend of a container (SET_IOMMU to the last group leaving). */
struct type1 {
	bool v2;
	struct vdomain **domains;  /* newest first, as type1's domain_list */
	size_t ndomains;
	struct vfio_iova_range *iovas; /* usable IOVA, sorted, inclusive ends */
	size_t niovas;
	struct vfio_iova_range *iovas_spare; /* where a detach rebuilds the list */
	size_t iovas_cap;          /* room in both for any detach's rebuild */
	struct ap_avl dmas;        /* struct vdma by iova (type1's dma_list rb-tree) */
	size_t ndmas;
	uint32_t dma_avail;
	uint64_t pgsize_bitmap;
	bool dirty_tracking;
	unsigned vaddr_invalid;    /* mappings whose vaddr is invalid */
};

/* An open /dev/vfio/vfio; it lives while its handle is open or a group is
 * in it. */
struct vcontainer {
	struct vcontainer *next;
	struct vstate *vs;
	struct vlock lock;         /* type1's iommu->lock: t1, type, groups */
	pthread_mutex_t dirty_lock; /* the mappings' dirty bitmaps */
	unsigned serial;           /* names its domains: vfio<serial>.d<n> */
	char label[64];            /* ap_vfio_set_label() */
	int fd;                    /* -1 once released */
	unsigned long type;        /* VFIO_TYPE1(v2)_IOMMU, 0 before SET_IOMMU */
	struct type1 t1;
	struct vgroup **groups;    /* newest first, as the container's group_list */
	size_t ngroups;
	uint32_t dma_entry_limit;  /* tunables as they were at open */
	uint64_t memlock_limit;
	bool memlock_set;          /* false: the process's RLIMIT_MEMLOCK */
	uint64_t locked;           /* bytes this container pinned */
};

enum vhandle_kind { VH_CONTAINER = 1, VH_GROUP, VH_DEVICE };

struct vdevice;

/* What a handle number stands for, while the table or a call holds it. */
struct vhandle {
	enum vhandle_kind kind;
	void *obj;
	unsigned refs;             /* under h_lock: the table's, and calls' */
};

/* The VFIO state of one context. */
struct vstate {
	struct ap_ctx *ctx;
	struct vlock ctl_lock;
	pthread_mutex_t acct_lock, h_lock;
	struct vhandle **h;            /* by handle number; NULL: free */
	size_t nh;
	struct vcontainer *containers; /* opening order */
	/* Under ctl_lock: the container the views found last and its index,
	 * where the next view by index starts (views go through the list
	 * in order: one step each, not a walk from the head each time).
	 * NULL once a container leaves the list. */
	struct vcontainer *view_c;
	size_t view_index;
	struct vgroup *groups;         /* open ones */
	unsigned next_serial;
	uint32_t dma_entry_limit;
	uint64_t memlock_limit;
	bool memlock_set;
	uint64_t locked;               /* bytes pinned by every container: the
					  process's locked_vm */
	uint64_t host_page;
	struct vdevice *devices;       /* device.c: every function opened once
					  (under ctl_lock) */
};

/* vfio.c */
void ap__vlock_init(struct vlock *l);
void ap__vlock_destroy(struct vlock *l);
void ap__vlock_lock(struct vlock *l);
void ap__vlock_unlock(struct vlock *l);
struct vstate *ap__vfio_state(struct ap_ctx *ctx, bool create);
int ap__vfio_fail(struct vstate *vs, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ap__vfio_handle_new(struct vstate *vs, enum vhandle_kind kind, void *obj);
struct vhandle *ap__vfio_handle_get(struct vstate *vs, int fd);
void ap__vfio_handle_hold(struct vstate *vs, struct vhandle *h);
void ap__vfio_handle_put(struct vstate *vs, struct vhandle *h);
int ap__vfio_charge(struct vcontainer *c, uint64_t size);
void ap__vfio_uncharge(struct vstate *vs, uint64_t size);
int ap__vfio_domain_new(struct vstate *vs, const char *base, struct ap_iommu *iommu,
			enum ap_domain_type type, struct ap_domain **out);

/* group.c */
int ap__vgroup_open(struct vstate *vs, int id);
void ap__vgroup_release_handle(struct vgroup *g);
int ap__vgroup_ioctl(struct vgroup *g, unsigned long request, void *arg);
struct ap_device *ap__vgroup_device(const struct vgroup *g);
int ap__vgroup_refuse_bypass(const struct vgroup *g);
int ap__vgroup_claim(struct vgroup *g);
void ap__vgroup_release(struct vgroup *g);
void ap__vgroup_reblock(struct vgroup *g);

/* device.c */
int ap__vdevice_open(struct vstate *vs, struct vhandle *group, const char *name);
void ap__vdevice_release_handle(struct vdevice *d);
int ap__vdevice_ioctl(struct vdevice *d, unsigned long request, void *arg);
void ap__vdevice_destroy_all(struct vstate *vs);

/* container.c */
int ap__vcontainer_open(struct vstate *vs);
void ap__vcontainer_release_handle(struct vcontainer *c);
int ap__vcontainer_ioctl(struct vcontainer *c, unsigned long request, void *arg);
int ap__vcontainer_attach_group(struct vcontainer *c, struct vgroup *g);
void ap__vcontainer_detach_group(struct vgroup *g);
void ap__vcontainer_free(struct vcontainer *c);
uint64_t ap__vcontainer_min_pgsize(const struct vcontainer *c);

/* type1.c */
int ap__type1_check_extension(const struct vcontainer *c, unsigned long ext);
int ap__type1_open(struct vcontainer *c, unsigned long type);
void ap__type1_release(struct vcontainer *c);
int ap__type1_attach_group(struct vcontainer *c, struct vgroup *g);
void ap__type1_detach_group(struct vcontainer *c, struct vgroup *g, bool leaving);
unsigned ap__type1_min_oas(const struct vcontainer *c);

/* iova.c */
int ap__iova_list_reserve(struct vstate *vs, struct iova_list *l, size_t want);
int ap__iova_list_copy(struct vstate *vs, const struct type1 *t, struct iova_list *out);
int ap__iova_list_clip(struct vstate *vs, struct iova_list *l, uint64_t start, uint64_t end);
int ap__iova_list_exclude_resv(struct vstate *vs, struct iova_list *l, const struct vgroup *g);
size_t ap__iova_list_resv_count(const struct vgroup *g);
bool ap__iova_list_aperture_conflict(const struct type1 *t, uint64_t start, uint64_t end);
bool ap__iova_list_resv_conflict(const struct type1 *t, const struct vgroup *g);
bool ap__iova_list_fits(const struct type1 *t, uint64_t start, uint64_t last);

/* dma.c */
struct vdma *ap__dma_first(const struct type1 *t, uint64_t addr);
struct vdma *ap__dma_next(const struct vdma *d);
struct vdma *ap__dma_find(const struct type1 *t, uint64_t start, uint64_t last);
int ap__dma_map_ioctl(struct vcontainer *c, void *arg);
int ap__dma_unmap_ioctl(struct vcontainer *c, void *arg);
void ap__dma_remove_all(struct vcontainer *c);
int ap__dma_replay(struct vcontainer *c, struct ap_domain *dom);

/* pin.c */
int ap__pin_check_mapped(struct vstate *vs, uint64_t vaddr, uint64_t size);
int ap__pin_populate(struct vstate *vs, uint64_t vaddr, uint64_t size, bool write);
int ap__pin_place(struct vcontainer *c, uint64_t iova, uint64_t size, uint64_t *pa);
int ap__pin_register(struct vstate *vs, struct vdma *d, uint64_t vaddr);
struct vdma *ap__pin_lookup_pa(const struct vstate *vs, uint64_t pa);

/* info.c */
int ap__info_ioctl(struct vcontainer *c, void *arg);

/* dirty.c */
int ap__dirty_ioctl(struct vcontainer *c, void *arg);
int ap__dirty_bitmap_alloc(struct vcontainer *c, struct vdma *d);
int ap__dirty_check_user_bitmap(struct vcontainer *c, const struct vfio_bitmap *b, uint64_t size);
int ap__dirty_user_bitmap_ok(struct vcontainer *c, const struct vfio_bitmap *b, uint64_t iova,
			     uint64_t last);
void ap__dirty_report(struct vdma *d, uint64_t base, __u64 *user);
void ap__dirty_observe(void *arg, const struct ap_device *dev, uint64_t iova, uint64_t pa,
		       size_t len);

#endif /* AP_VFIO_INTERNAL_H */
