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
 */
#ifndef AP_VFIO_INTERNAL_H
#define AP_VFIO_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/vfio.h>

#include <aperture/vfio.h>

#define VFIO_FRONTEND_KEY "vfio"

/* Type1's dma_entry_limit default (U16_MAX) and DIRTY_BITMAP_PAGES_MAX. */
#define VFIO_DEFAULT_DMA_ENTRIES 65535u
#define VFIO_DIRTY_PAGES_MAX ((uint64_t)INT32_MAX)
#define VFIO_DIRTY_BITMAP_BYTES(n) ((((n) + 63) / 64) * 8)

struct vstate;
struct vcontainer;

/* One MAP_DMA: process memory [vaddr, vaddr+size) registered as RAM at pa
 * and mapped at iova in every domain of the container. */
struct vdma {
	uint64_t iova, size, vaddr, pa;
	unsigned prot;          /* AP_PROT_READ | AP_PROT_WRITE, as asked */
	bool vaddr_invalid;     /* UNMAP_DMA(VADDR) until MAP_DMA(VADDR) */
	uint64_t *bitmap;       /* dirty pages while tracking, else NULL */
	unsigned bitmap_shift;  /* log2 of the page size a bit stands for */
	struct vcontainer *c;
};

/* A domain the container made, and how many of its groups are on it. */
struct vdomain {
	struct ap_domain *dom;
	unsigned ngroups;
};

/* An open /dev/vfio/N. */
struct vgroup {
	struct vstate *vs;
	int id;                    /* the core's group number */
	int fd;
	struct vcontainer *c;      /* SET_CONTAINER, or NULL */
	struct ap_domain *blocked; /* DMA ownership claimed: the group sits here
				      until type1 gives it a paging domain */
	struct vdomain *vd;        /* type1's domain for it, or NULL */
	unsigned ndevices;         /* device handles opened through it: they
				      keep it (and its container) alive */
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
	struct vdma **dmas;        /* sorted by iova */
	size_t ndmas, dmas_cap;
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
	unsigned serial;           /* names its domains: vfio<serial>.d<n> */
	char label[64];            /* ap_vfio_set_label() */
	int fd;                    /* -1 once closed */
	unsigned long type;        /* VFIO_TYPE1(v2)_IOMMU, 0 before SET_IOMMU */
	struct type1 t1;
	struct vgroup **groups;    /* newest first, as the container's group_list */
	size_t ngroups;
	uint32_t dma_entry_limit;  /* tunables as they were at open */
	uint64_t memlock_limit;
	bool memlock_set;          /* false: the process's RLIMIT_MEMLOCK */
	uint64_t locked;           /* bytes this container pinned */
};

/* VH_HELD: a group its user closed while device handles hold it (Linux's
 * device files hold the group file); it answers nothing but stays open. */
enum vhandle_kind { VH_FREE = 0, VH_CONTAINER, VH_GROUP, VH_DEVICE, VH_HELD };

struct vdevice;

struct vhandle {
	enum vhandle_kind kind;
	void *obj;
};

/* The VFIO state of one context. */
struct vstate {
	struct ap_ctx *ctx;
	struct vhandle *h;
	size_t nh;
	struct vcontainer *containers; /* opening order */
	unsigned next_serial;
	uint32_t dma_entry_limit;
	uint64_t memlock_limit;
	bool memlock_set;
	uint64_t locked;               /* bytes pinned by every container: the
					  process's locked_vm */
	uint64_t host_page;
	struct vdevice *devices;       /* device.c: every function opened once */
};

/* vfio.c */
struct vstate *ap__vfio_state(struct ap_ctx *ctx, bool create);
int ap__vfio_fail(struct vstate *vs, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ap__vfio_handle_new(struct vstate *vs, enum vhandle_kind kind, void *obj);
void ap__vfio_handle_free(struct vstate *vs, int fd);
struct vhandle *ap__vfio_handle(struct vstate *vs, int fd);
uint64_t ap__vfio_memlock_limit(const struct vcontainer *c);
int ap__vfio_domain_new(struct vstate *vs, const char *base, struct ap_iommu *iommu,
			enum ap_domain_type type, struct ap_domain **out);
int ap__vdma_array_room(struct vstate *vs, size_t n, size_t cap, struct vdma ***room,
			size_t *room_cap);
void ap__vdma_array_install(struct vstate *vs, struct vdma ***arr, size_t n, size_t *cap,
			    struct vdma ***room, size_t room_cap);

/* group.c */
int ap__vgroup_open(struct vstate *vs, int id);
void ap__vgroup_close(struct vgroup *g);
int ap__vgroup_ioctl(struct vgroup *g, unsigned long request, void *arg);
struct ap_device *ap__vgroup_device(const struct vgroup *g);
int ap__vgroup_refuse_bypass(const struct vgroup *g);
int ap__vgroup_claim(struct vgroup *g);
void ap__vgroup_release(struct vgroup *g);
void ap__vgroup_reblock(struct vgroup *g);

/* device.c */
int ap__vdevice_open(struct vgroup *g, const char *name);
void ap__vdevice_close(struct vstate *vs, int fd, struct vdevice *d);
int ap__vdevice_ioctl(struct vdevice *d, unsigned long request, void *arg);
void ap__vdevice_destroy_all(struct vstate *vs);

/* container.c */
int ap__vcontainer_open(struct vstate *vs);
void ap__vcontainer_close(struct vcontainer *c);
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
size_t ap__dma_lower_bound(const struct type1 *t, uint64_t addr);
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
