/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_vfio_ioctl.c - libFuzzer target: ap_vfio_open/ioctl/close.
 *
 * Each input is a program run against a fresh context whose machine has
 * one device behind each of several kinds of IOMMU instance (a 48-bit and
 * a 32-bit SMMUv3, a 64K-granule one, a VT-d unit, one that passes unmatched
 * streams, one whose aperture is open, one without coherent walks), two
 * devices sharing a group, and reserved regions the input may add.  Each
 * group (an instance and its devices, with their reserved regions) is made
 * when the input first opens it or does DMA from one of its devices, with
 * the same names and group number whenever that is.  The input bytes then
 * pick, one after another: opening a container (while the run has room to
 * keep its handle) or a group (also by paths that name nothing), closing
 * handles, every container and group request with every argsz class (too
 * small, exact, large) and fuzzer-chosen fields, MAP_DMA of process memory,
 * UNMAP_DMA and DIRTY_PAGES with dirty bitmaps, requests by raw number with
 * raw payloads, device DMA through whatever the container mapped, the
 * library's views (once an input, of the groups made so far), and
 * allocation failures injected at the n-th allocation.
 *
 * Process memory.  MAP_DMA's vaddr and dirty bitmaps point into one region
 * the harness owns for its lifetime: 16 MiB with 4 MiB of PROT_NONE below
 * it; within it [0, 8M) is read-write, [8M, 9M) read-only, the rest
 * PROT_NONE, so the fuzzer can ask for memory that is mapped, read-only,
 * absent, or straddles those.  A few addresses outside it (NULL, the
 * kernel half, the top of the address space) are offered too; never an
 * arbitrary address, which could be the harness's own heap.
 *
 * Oracles: the sanitizers (every argument buffer is exactly as large as
 * the request may touch, so a read or write beyond argsz is caught), the
 * ioctl convention (0 or more, or -1 with errno set), and GET_INFO's
 * capability chain (inside argsz, 8-aligned, going forwards).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <linux/vfio.h>

#include <aperture/aperture.h>

#include "fuzz_input.h"
#include "fuzz_sink.h"

#define MIB (1ull << 20)
#define REGION_SIZE (16 * MIB)
#define REGION_BELOW (4 * MIB)      /* PROT_NONE under the region */
#define RW_END (8 * MIB)
#define RO_END (9 * MIB)
#define MAX_FDS 24
#define MAX_DEVS 8
#define MAX_ARG 65536               /* largest argument buffer the harness makes */
#define MAX_OPS 256
#define TW_BASE 0xf0000000ull       /* where the default window would go */
#define TW_SIZE (16 * MIB)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ------------------------------------------------------------ process memory */

static uint8_t *region; /* REGION_SIZE bytes, 2 MiB aligned */

/* Reserve the region once: the fuzzer's MAP_DMAs pin it for every run. */
static void region_init(void)
{
	uint8_t *raw;
	uintptr_t base;

	if (region)
		return;
	raw = mmap(NULL, REGION_BELOW + REGION_SIZE + 2 * MIB, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		abort();
	base = ((uintptr_t)raw + REGION_BELOW + 2 * MIB - 1) & ~(uintptr_t)(2 * MIB - 1);
	region = (uint8_t *)base;
	if (mprotect(region, RW_END, PROT_READ | PROT_WRITE) ||
	    mprotect(region + RW_END, RO_END - RW_END, PROT_READ))
		abort();
	/* Pinning faults a range in for the device (MADV_POPULATE_*) at
	 * every MAP_DMA: over 4K pages the kernel walks up to 2048 of them
	 * each time (a twentieth of the run's time), over 2M pages four.
	 * Advice only: without transparent huge pages nothing changes. */
	madvise(region, RW_END, MADV_HUGEPAGE);
}

/* An address for MAP_DMA's vaddr or a bitmap: mostly inside the region
 * (page-aligned or not), sometimes one that is certainly not mapped. */
static uint64_t pick_vaddr(struct fin *in)
{
	static const uint64_t outside[] = {
		0, 0x1000, 1ull << 47, (1ull << 47) - 0x1000, 1ull << 63,
		UINT64_MAX & ~0xfffull, UINT64_MAX,
	};
	uint8_t how = fin_u8(in);
	int64_t off;

	if (how < 16)
		return FIN_PICK(in, outside);
	off = (int64_t)(fin_u16(in) % ((REGION_BELOW + REGION_SIZE) / 0x1000)) * 0x1000 -
	      (int64_t)REGION_BELOW;
	if (how < 32)
		off += fin_u16(in) & 0xfff;
	return (uint64_t)(uintptr_t)region + (uint64_t)off;
}

/* ------------------------------------------------------------ numbers */

static uint64_t pick_iova(struct fin *in)
{
	static const uint64_t iovas[] = {
		0, 0x1000, 0x10000, 0x200000, 0x7fff000, 0x8000000, 0x80ff000, 0x8100000,
		0xfedff000, 0xfee00000, 0xfef00000, 0xffe00000, 0xfffff000, 1ull << 32,
		(1ull << 39) - 0x1000, 1ull << 39, (1ull << 48) - 0x200000, (1ull << 48) - 0x1000,
		1ull << 48, 1ull << 63, UINT64_MAX & ~0xfffull, UINT64_MAX & ~0xffffull,
		UINT64_MAX,
	};
	uint8_t how = fin_u8(in);

	if (how < 128)
		return FIN_PICK(in, iovas);
	if (how < 224)
		return (uint64_t)fin_u8(in) << (how & 1 ? 16 : 12);
	if (how < 240)
		return FIN_PICK(in, iovas) + fin_u16(in);
	return fin_u64(in);
}

static uint64_t pick_size(struct fin *in)
{
	static const uint64_t sizes[] = {
		0, 1, 0x1000, 0x1001, 0x2000, 0x10000, 0x100000, 0x200000, 0x400000, 0x800000,
		0x900000, 0x1000000, 1ull << 32, 1ull << 63, UINT64_MAX & ~0xfffull, UINT64_MAX,
	};
	uint8_t how = fin_u8(in);

	if (how < 128)
		return FIN_PICK(in, sizes);
	if (how < 240)
		return (uint64_t)(fin_u8(in) + 1) << (how & 1 ? 16 : 12);
	return fin_u64(in);
}

/* argsz: a class (0, just short, exact, generous, huge) around minsz..want. */
static uint32_t pick_argsz(struct fin *in, uint32_t minsz, uint32_t want)
{
	switch (fin_u8(in) % 10) {
	case 0: return 0;
	case 1: return minsz - 1;
	case 2: return minsz;
	case 3: return want - 1;
	case 4: return want + fin_u8(in);
	case 5: return fin_u16(in);
	case 6: return fin_u32(in);
	default: return want;
	}
}

/* ------------------------------------------------------------ the machine */

/*
 * The machine, group by group: group g is the g-th entry's instance and
 * its devices.  Making all seven cost more than most inputs' whole program
 * (an instance is a 13 KiB block, its tag bitmap and counters, to allocate,
 * clear and free, and each device grows the context's indexes), and most
 * inputs use one or two groups, so a group is made when the input first
 * uses it: opens /dev/vfio/g, or does DMA from one of its devices.
 * Names and group numbers are the same whatever the order, so a view of
 * the machine names what it did before and the corpus keeps its meaning.
 */
#define NGROUPS 7

struct group_spec {
	const char *iommu;
	enum ap_iommu_kind kind;
	unsigned ias;
	uint64_t pgsizes;
	int twist; /* 1: unmatched streams bypass, 2: open aperture, 3: no coherent walks */
	const char *dev[2]; /* stream IDs 1, 2 */
};

/* Groups 0..6: s48 (two devices), s32, s64k, vtd, bypass, open, non-coherent. */
static const struct group_spec groups[NGROUPS] = {
	{ "s48", AP_IOMMU_ARM_SMMU_V3, 0, 0, 0, { "a0", "a1" } },
	{ "s32", AP_IOMMU_ARM_SMMU_V3, 32, 0, 0, { "b" } },
	{ "s64k", AP_IOMMU_ARM_SMMU_V3, 48, 0x10000ull | 0x20000000ull, 0, { "c" } },
	{ "vtd", AP_IOMMU_INTEL_VTD, 0, 0, 0, { "v" } },
	{ "byp", AP_IOMMU_ARM_SMMU_V3, 0, 0, 1, { "p" } },
	{ "opn", AP_IOMMU_ARM_SMMU_V3, 0, 0, 2, { "o" } },
	{ "nch", AP_IOMMU_ARM_SMMU_V3, 0, 0, 3, { "n" } },
};

/* Device slots in the order the input numbers them: a0 a1 b c v p o n. */
static const uint8_t dev_group[MAX_DEVS] = { 0, 0, 1, 2, 3, 4, 5, 6 };

#define MAX_RESV 3

/* A reserved region the input asked for, added when its device is made. */
struct resv_req {
	unsigned dev;
	uint64_t start, size;
	enum ap_resv_type type;
};

struct run {
	struct ap_ctx *ctx;
	int fds[MAX_FDS];
	size_t nfds;
	struct ap_iommu *iommus[NGROUPS];
	struct ap_device *devs[MAX_DEVS];
	struct resv_req resv[MAX_RESV];
	size_t nresv;
	FILE *out;
	unsigned views; /* op_views so far */
};

/* Views of a state cost more than the requests that built it, so an input
 * prints them once: whatever state a second view would have printed is the
 * first view of the input without the first. */
#define MAX_VIEWS 1

static struct ap_iommu *mk_iommu(struct ap_ctx *ctx, const struct group_spec *gs)
{
	struct ap_iommu_config c;
	struct ap_iommu *iommu = NULL;
	bool first = gs == &groups[0];

	ap_iommu_config_init(&c, gs->kind);
	/* small IOTLBs, which evict after a few fills, on all but the first,
	 * and 256 entries there, more than an input's pages (the default 4096
	 * cost 128 KiB an instance to make and to scan at every detach) */
	c.iotlb_entries = first ? 256 : 8;
	/* and small event queues there too (8 records, not 128): an input's
	 * faults overflow them, and each is 384 bytes to clear, not 6 KiB */
	if (!first)
		c.evtq_size = 8;
	if (gs->ias) {
		c.ias = gs->ias;
		c.oas = gs->ias < 40 ? 40 : c.oas;
	}
	if (gs->pgsizes)
		c.pgsize_bitmap = gs->pgsizes;
	if (gs->twist == 1)
		c.unmatched = AP_UNMATCHED_BYPASS;
	else if (gs->twist == 2)
		c.force_aperture = false;
	else if (gs->twist == 3)
		c.coherent_walk = false;
	ap_iommu_new(ctx, gs->iommu, &c, &iommu);
	return iommu;
}

/* The reserved regions asked for on device slot d, now that it exists. */
static void add_resv(struct run *r, unsigned d)
{
	for (size_t i = 0; i < r->nresv; i++)
		if (r->resv[i].dev == d)
			ap_device_add_resv(r->devs[d], r->resv[i].start, r->resv[i].size,
					   r->resv[i].type);
}

/* The device slot of group g's first device. */
static unsigned first_dev(unsigned g)
{
	unsigned d = 0;

	while (dev_group[d] != g)
		d++;
	return d;
}

/* The group argument for group g's first device: "a group of its own"
 * when that is g (every group below it exists: it is the lowest free
 * number), so that the library's search for one stays fuzzed; else g. */
static int group_arg(const struct run *r, unsigned g)
{
	for (unsigned h = 0; h < g; h++)
		if (!r->devs[first_dev(h)])
			return (int)g;
	return AP_GROUP_OWN;
}

/* Make group g's instance and devices, those not made yet.  An injected
 * allocation failure may land here like anywhere else; what it stopped is
 * made at the next use.  A group exists once its first device does, and
 * a1 is made only after a0. */
static void make_group(struct run *r, unsigned g)
{
	unsigned d = first_dev(g);

	if (!r->iommus[g])
		r->iommus[g] = mk_iommu(r->ctx, &groups[g]);
	if (!r->iommus[g])
		return;
	for (unsigned k = 0; k < 2 && groups[g].dev[k]; k++, d++) {
		if (r->devs[d])
			continue;
		if (ap_device_new(r->ctx, groups[g].dev[k], r->iommus[g], k + 1,
				  k ? (int)g : group_arg(r, g), &r->devs[d]))
			return;
		if (ap_device_group_id(r->devs[d]) != (int)g)
			abort(); /* the harness's numbering, not the library's */
		add_resv(r, d);
	}
}

/* The machine's fixed choices: reserved regions, limits (the instances and
 * devices come at first use). */
static void build_machine(struct run *r, struct fin *in)
{
	uint8_t resv = fin_u8(in);

	/* reserved regions the input asks for, on devices it picks */
	for (int i = 0; i < 3; i++, resv >>= 2)
		if (resv & 3) {
			struct resv_req *q = &r->resv[r->nresv++];

			q->dev = fin_below(in, MAX_DEVS);
			q->start = pick_iova(in);
			q->size = pick_size(in);
			q->type = (enum ap_resv_type)(fin_u8(in) % 6);
		}
	if (fin_u8(in) & 1)
		ap_vfio_set_dma_entry_limit(r->ctx, fin_u8(in) % 8);
	ap_vfio_set_memlock_limit(r->ctx, fin_u8(in) & 1 ? (uint64_t)fin_u8(in) << 16 : UINT64_MAX);
}

/* ------------------------------------------------------------ handles */

static void keep_fd(struct run *r, int fd)
{
	if (fd >= 0 && r->nfds < MAX_FDS)
		r->fds[r->nfds++] = fd;
}

/* A container, while the run can keep its handle: past that no request
 * could name it, and inputs full of zero bytes (the fuzzer's favourite)
 * opened a container a byte, each allocated, shown and torn down for
 * nothing.  Groups still open past it: that makes the group busy. */
static void op_open_container(struct run *r)
{
	if (r->nfds < MAX_FDS)
		keep_fd(r, ap_vfio_open(r->ctx, "/dev/vfio/vfio"));
}

/* A handle to use: one the run opened (perhaps closed since), or not. */
static int pick_fd(struct run *r, struct fin *in)
{
	static const int odd[] = { -1, 0, 1, 2, 3, 7, 1000, 0x7fffffff, -2147483647 - 1 };
	uint8_t how = fin_u8(in);

	if (r->nfds && how < 224)
		return r->fds[how % r->nfds];
	return FIN_PICK(in, odd);
}

static void op_open_group(struct run *r, struct fin *in)
{
	static const char *const odd[] = {
		"/dev/vfio/vfio", "/dev/vfio/", "/dev/vfio/-1", "/dev/vfio/1x", "/dev/vfio/01",
		"/dev/vfio/ 1", "/dev/vfio/99999999999999999999", "/dev/vfio/2147483647",
		"/dev/vfio//1", "/dev/vfio", "", "vfio/1", "/dev/vfio/+1",
	};
	char path[64];
	uint8_t how = fin_u8(in);

	if (how < 200) {
		if (how % 9 < NGROUPS)
			make_group(r, how % 9);
		snprintf(path, sizeof(path), "/dev/vfio/%u", how % 9);
	} else
		snprintf(path, sizeof(path), "%s", FIN_PICK(in, odd));
	keep_fd(r, ap_vfio_open(r->ctx, how == 255 ? NULL : path));
}

/* ------------------------------------------------------------ ioctls */

static void abort_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* An oracle broke: say what, and let libFuzzer keep the input. */
static void abort_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* The ioctl convention holds: success is >= 0, failure -1 with errno. */
static int checked_ioctl(struct run *r, int fd, unsigned long req, void *arg)
{
	int rc;

	errno = 0;
	rc = ap_vfio_ioctl(r->ctx, fd, req, arg);
	if (rc < -1 || (rc == -1 && errno == 0)) {
		fprintf(stderr, "ioctl 0x%lx on %d returned %d, errno %d\n", req, fd, rc, errno);
		abort();
	}
	return rc;
}

/* An argument buffer of exactly max(minsz, argsz) bytes (argsz capped at
 * MAX_ARG): the caller's struct, then one input byte repeated, so that
 * what a request reads beyond its struct is neither zero nor costly. */
static uint8_t *arg_buf(struct fin *in, const void *head, size_t fill, size_t minsz,
			uint32_t argsz, size_t *len)
{
	size_t n = argsz > MAX_ARG ? MAX_ARG : argsz;
	uint8_t *b;

	if (n < minsz)
		n = minsz;
	b = malloc(n);
	if (!b)
		abort();
	memset(b, fin_u8(in), n);
	memcpy(b, head, fill < n ? fill : n);
	*len = n;
	return b;
}

static void op_value_ioctl(struct run *r, struct fin *in, unsigned long req)
{
	static const unsigned long vals[] = {
		VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_NOIOMMU_IOMMU, VFIO_SPAPR_TCE_IOMMU,
		VFIO_TYPE1_NESTING_IOMMU, VFIO_UNMAP_ALL, VFIO_UPDATE_VADDR, 0, 2, 0xffffffff,
		0x1234567890ul,
	};

	checked_ioctl(r, pick_fd(r, in), req, (void *)(uintptr_t)FIN_PICK(in, vals));
}

static void op_set_container(struct run *r, struct fin *in)
{
	int *c = malloc(sizeof(*c));

	if (!c)
		abort();
	*c = pick_fd(r, in);
	checked_ioctl(r, pick_fd(r, in), VFIO_GROUP_SET_CONTAINER, c);
	free(c);
}

static void op_group_status(struct run *r, struct fin *in)
{
	struct vfio_group_status st = { .argsz = pick_argsz(in, 8, sizeof(st)) };
	size_t len;
	uint8_t *b = arg_buf(in, &st, sizeof(st.argsz), sizeof(st), st.argsz, &len);

	checked_ioctl(r, pick_fd(r, in), VFIO_GROUP_GET_STATUS, b);
	free(b);
}

/* A chain that ap_vfio_ioctl() wrote must stay inside argsz and go forwards. */
static void check_info_chain(const uint8_t *b, size_t len)
{
	const struct vfio_iommu_type1_info *info = (const void *)b;
	uint32_t off, n = 0;

	if (len < sizeof(*info) || !(info->flags & VFIO_IOMMU_INFO_CAPS))
		return;
	for (off = info->cap_offset; off; n++) {
		const struct vfio_info_cap_header *h = (const void *)(b + off);

		if (off % 8 || off < sizeof(*info) || off + sizeof(*h) > len || n > 16) {
			fprintf(stderr, "GET_INFO: capability at %u outside [24, %zu)\n", off, len);
			abort();
		}
		if (h->next && h->next <= off) {
			fprintf(stderr, "GET_INFO: capability chain goes backwards at %u\n", off);
			abort();
		}
		off = h->next;
	}
}

static void op_get_info(struct run *r, struct fin *in)
{
	struct vfio_iommu_type1_info info = { .argsz = pick_argsz(in, 16, 24 + 64 + 16 * 4) };
	size_t len;
	uint8_t *b = arg_buf(in, &info, sizeof(info.argsz), 16, info.argsz, &len);

	if (checked_ioctl(r, pick_fd(r, in), VFIO_IOMMU_GET_INFO, b) == 0 &&
	    info.argsz <= MAX_ARG && ((struct vfio_iommu_type1_info *)(void *)b)->argsz <= len)
		check_info_chain(b, len);
	free(b);
}

static uint32_t pick_map_flags(struct fin *in)
{
	static const uint32_t flags[] = {
		VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, VFIO_DMA_MAP_FLAG_READ,
		VFIO_DMA_MAP_FLAG_WRITE, 0, VFIO_DMA_MAP_FLAG_VADDR,
		VFIO_DMA_MAP_FLAG_VADDR | VFIO_DMA_MAP_FLAG_READ, 8, 0xffffffff,
	};

	return FIN_PICK(in, flags);
}

/* The index of the container behind handle fd, and its state. */
static bool container_of_fd(struct run *r, int fd, size_t *idx, struct ap_vfio_container_info *ci)
{
	for (size_t i = 0; !ap_vfio_container_info(r->ctx, i, ci); i++)
		if (ci->fd == fd && fd >= 0) {
			*idx = i;
			return true;
		}
	return false;
}

/* Sample offsets of a range: both ends and a page in the middle. */
static uint64_t sample_off(uint64_t size, int k)
{
	return k == 0 ? 0 : k == 1 ? size - 1 : (size / 2) & ~0xfffull;
}

/* After MAP_DMA succeeded: every domain of the container translates the
 * range to the caller's own memory at vaddr, nothing else. */
static void check_mapped(struct run *r, int fd, uint64_t iova, uint64_t size, uint64_t vaddr)
{
	struct ap_vfio_container_info ci;
	struct ap_domain *dom;
	size_t idx;

	if (!container_of_fd(r, fd, &idx, &ci))
		abort(); /* MAP_DMA succeeded on something that is not a container */
	for (size_t n = 0; (dom = ap_vfio_container_domain(r->ctx, idx, n)); n++)
		for (int k = 0; k < 3; k++) {
			uint64_t off = sample_off(size, k), pa = 0;
			void *host;

			if (!ap_domain_iova_to_phys(dom, iova + off, &pa))
				abort_msg("MAP_DMA 0x%" PRIx64 "+0x%" PRIx64 ": %s does not map iova "
					  "0x%" PRIx64, iova, size, ap_domain_name(dom), iova + off);
			host = ap_ram_ptr(r->ctx, pa, 1);
			if ((uint64_t)(uintptr_t)host != vaddr + off)
				abort_msg("MAP_DMA 0x%" PRIx64 "+0x%" PRIx64 ": iova 0x%" PRIx64
					  " reaches pa 0x%" PRIx64 ", host %p, not vaddr 0x%" PRIx64,
					  iova, size, iova + off, pa, host, vaddr + off);
		}
}

/* After UNMAP_DMA succeeded on a TYPE1v2 container (which never splits a
 * mapping): nothing in the range is left in any domain. */
static void check_unmapped(struct run *r, int fd, uint64_t iova, uint64_t size)
{
	struct ap_vfio_container_info ci;
	struct ap_domain *dom;
	size_t idx;

	if (!size || iova + (size - 1) < iova || !container_of_fd(r, fd, &idx, &ci) ||
	    ci.iommu != VFIO_TYPE1v2_IOMMU)
		return;
	for (size_t n = 0; (dom = ap_vfio_container_domain(r->ctx, idx, n)); n++)
		for (int k = 0; k < 3; k++) {
			uint64_t pa;

			if (ap_domain_iova_to_phys(dom, iova + sample_off(size, k), &pa))
				abort_msg("UNMAP_DMA 0x%" PRIx64 "+0x%" PRIx64 " succeeded, but %s "
					  "still maps iova 0x%" PRIx64 " to 0x%" PRIx64, iova, size,
					  ap_domain_name(dom), iova + sample_off(size, k), pa);
		}
}

static void op_map(struct run *r, struct fin *in)
{
	struct vfio_iommu_type1_dma_map m;
	size_t len;
	uint8_t *b;
	int fd;

	m.argsz = pick_argsz(in, sizeof(m), sizeof(m));
	m.flags = pick_map_flags(in);
	m.vaddr = pick_vaddr(in);
	m.iova = pick_iova(in);
	m.size = pick_size(in);
	b = arg_buf(in, &m, sizeof(m), sizeof(m), m.argsz, &len);
	fd = pick_fd(r, in);
	if (checked_ioctl(r, fd, VFIO_IOMMU_MAP_DMA, b) == 0 && !(m.flags & VFIO_DMA_MAP_FLAG_VADDR))
		check_mapped(r, fd, m.iova, m.size, m.vaddr);
	free(b);
}

static void pick_bitmap(struct fin *in, struct vfio_bitmap *bm)
{
	static const uint64_t pgsizes[] = { 0x1000, 0x10000, 0, 0x2000, 1, 0x200000 };

	bm->pgsize = FIN_PICK(in, pgsizes);
	bm->size = fin_u8(in) & 0x80 ? fin_u64(in) : (uint64_t)fin_u8(in) * 8;
	bm->data = (void *)(uintptr_t)pick_vaddr(in);
}

static void op_unmap(struct run *r, struct fin *in)
{
	static const uint32_t flags[] = {
		0, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, VFIO_DMA_UNMAP_FLAG_ALL,
		VFIO_DMA_UNMAP_FLAG_VADDR, VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR,
		VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL, 8, 0xffffffff,
	};
	struct vfio_iommu_type1_dma_unmap u;
	struct vfio_bitmap bm;
	uint8_t head[sizeof(u) + sizeof(bm)]; /* the struct, then its bitmap */
	size_t len;
	uint8_t *b;
	int fd;

	memset(&u, 0, sizeof(u));
	u.argsz = pick_argsz(in, sizeof(u), sizeof(head));
	u.flags = FIN_PICK(in, flags);
	u.iova = pick_iova(in);
	u.size = pick_size(in);
	pick_bitmap(in, &bm);
	memcpy(head, &u, sizeof(u));
	memcpy(head + sizeof(u), &bm, sizeof(bm));
	b = arg_buf(in, head, sizeof(head), sizeof(u), u.argsz, &len);
	fd = pick_fd(r, in);
	if (checked_ioctl(r, fd, VFIO_IOMMU_UNMAP_DMA, b) == 0 &&
	    !(u.flags & (VFIO_DMA_UNMAP_FLAG_VADDR | VFIO_DMA_UNMAP_FLAG_ALL)))
		check_unmapped(r, fd, u.iova, u.size);
	free(b);
}

static void op_dirty(struct run *r, struct fin *in)
{
	static const uint32_t flags[] = {
		VFIO_IOMMU_DIRTY_PAGES_FLAG_START, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP,
		VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP, 0,
		VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP, 8,
		0xffffffff,
	};
	struct vfio_iommu_type1_dirty_bitmap d;
	struct vfio_iommu_type1_dirty_bitmap_get g;
	uint8_t head[sizeof(d) + sizeof(g)]; /* the struct, then its range */
	size_t len;
	uint8_t *b;

	memset(&d, 0, sizeof(d));
	memset(&g, 0, sizeof(g));
	d.argsz = pick_argsz(in, 8, sizeof(head));
	d.flags = FIN_PICK(in, flags);
	g.iova = pick_iova(in);
	g.size = pick_size(in);
	pick_bitmap(in, &g.bitmap);
	memcpy(head, &d, sizeof(d));
	memcpy(head + sizeof(d), &g, sizeof(g));
	b = arg_buf(in, head, sizeof(head), 8, d.argsz, &len);
	checked_ioctl(r, pick_fd(r, in), VFIO_IOMMU_DIRTY_PAGES, b);
	free(b);
}

/* A request by number with a payload of input bytes.  Requests whose
 * payload holds process addresses (MAP_DMA's vaddr, bitmaps) only go
 * through the builders above, which keep those addresses in the region. */
static void op_raw(struct run *r, struct fin *in)
{
	uint8_t how = fin_u8(in);
	unsigned long req;
	size_t len = fin_u8(in);
	uint8_t *b;

	if (how < 128)
		req = _IO(VFIO_TYPE, VFIO_BASE + (how % 32));
	else
		req = fin_u32(in);
	if (req == VFIO_IOMMU_MAP_DMA || req == VFIO_IOMMU_UNMAP_DMA || req == VFIO_IOMMU_DIRTY_PAGES)
		return;
	b = arg_buf(in, "", 0, 64, (uint32_t)len, &len);
	for (size_t i = 0; i < len && i < 64; i++)
		b[i] = fin_u8(in);
	/* a caller's promises: argsz no larger than the buffer, strings ended */
	if (*(uint32_t *)(void *)b > len)
		*(uint32_t *)(void *)b = (uint32_t)len;
	b[len - 1] = 0;
	checked_ioctl(r, pick_fd(r, in), req, how & 1 ? NULL : b);
	free(b);
}

/* ------------------------------------------------------------ DMA and views */

static void op_dma(struct run *r, struct fin *in)
{
	static uint8_t buf[65536];
	struct ap_fault f;
	struct ap_device *dev;
	uint64_t iova;
	size_t len;
	unsigned d = fin_below(in, MAX_DEVS);
	bool write;

	make_group(r, dev_group[d]);
	dev = r->devs[d];
	iova = pick_iova(in);
	len = fin_u16(in) % (sizeof(buf) + 1);
	write = fin_u8(in) & 1;
	if (!dev) /* an injected failure stopped its making */
		return;
	if (write)
		ap_dma_write(dev, iova, buf, len, &f);
	else
		ap_dma_read(dev, iova, buf, len, &f);
}

static void op_views(struct run *r)
{
	struct ap_vfio_container_info ci;
	struct ap_domain *dom;

	if (r->views++ >= MAX_VIEWS)
		return;
	for (size_t c = 0; !ap_vfio_container_info(r->ctx, c, &ci); c++) {
		int g;
		uint64_t s, e;

		for (size_t n = 0; !ap_vfio_container_group(r->ctx, c, n, &g); n++)
			;
		for (size_t n = 0; (dom = ap_vfio_container_domain(r->ctx, c, n)); n++)
			ap_dump(dom, r->out);
		for (size_t n = 0; !ap_vfio_container_iova(r->ctx, c, n, &s, &e); n++)
			;
	}
	ap_show(r->ctx, r->out, NULL);
	ap_audit(r->ctx, r->out);
}

static void op(struct run *r, struct fin *in)
{
	switch (fin_u8(in) % 20) {
	case 0: op_open_container(r); break;
	case 1: op_open_group(r, in); break;
	case 2: ap_vfio_close(r->ctx, pick_fd(r, in)); break;
	case 3: op_set_container(r, in); break;
	case 4: checked_ioctl(r, pick_fd(r, in), VFIO_GROUP_UNSET_CONTAINER, NULL); break;
	case 5: op_value_ioctl(r, in, VFIO_SET_IOMMU); break;
	case 6: op_value_ioctl(r, in, VFIO_CHECK_EXTENSION); break;
	case 7: checked_ioctl(r, pick_fd(r, in), VFIO_GET_API_VERSION, NULL); break;
	case 8: op_group_status(r, in); break;
	case 9: op_get_info(r, in); break;
	case 10: case 11: op_map(r, in); break;
	case 12: op_unmap(r, in); break;
	case 13: op_dirty(r, in); break;
	case 14: op_raw(r, in); break;
	case 15: op_dma(r, in); break;
	case 16: op_views(r); break;
	case 17: ap_ctx_fail_nth(r->ctx, fin_u8(in) & 1 ? 0 : fin_u8(in) % 24 + 1); break;
	case 18: /* a request whose struct pointer is NULL */
		checked_ioctl(r, pick_fd(r, in), _IO(VFIO_TYPE, VFIO_BASE + fin_u8(in) % 20), NULL);
		break;
	default: /* the everyday sequence, so deep states are a few bytes away */
		op_open_container(r);
		break;
	}
}

/* A container with group 0 (s48) in it and TYPE1v2 set, when the input
 * starts with an odd byte: most interesting requests need one. */
static void quick_start(struct run *r)
{
	int c = ap_vfio_open(r->ctx, "/dev/vfio/vfio");
	int g;

	make_group(r, 0);
	g = ap_vfio_open(r->ctx, "/dev/vfio/0");

	keep_fd(r, c);
	keep_fd(r, g);
	if (c >= 0 && g >= 0 && !ap_vfio_ioctl(r->ctx, g, VFIO_GROUP_SET_CONTAINER, &c))
		ap_vfio_ioctl(r->ctx, c, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	struct run r;

	region_init();
	memset(&r, 0, sizeof(r));
	r.out = fuzz_sink();
	r.ctx = ap_ctx_new();
	if (!r.ctx)
		return 0;
	/* Page tables in a 16 MiB window (4096 tables; an input's mappings
	 * all live in the 16 MiB region, and need a few dozen), not the
	 * default 256 MiB one, whose per-frame counts (128 KiB) were an
	 * allocation ASan backs with fresh pages at every input.  A window
	 * that fills fails a map with ENOMEM, which the harness accepts. */
	if (ap_ctx_set_table_window(r.ctx, TW_BASE, TW_SIZE))
		abort();
	build_machine(&r, &in);
	if (fin_u8(&in) & 1)
		quick_start(&r);
	for (int n = 0; fin_more(&in) && n < MAX_OPS; n++)
		op(&r, &in);
	ap_ctx_fail_nth(r.ctx, 0);
	ap_ctx_free(r.ctx);
	return 0;
}
