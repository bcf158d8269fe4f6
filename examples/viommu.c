/* SPDX-License-Identifier: MIT */
/*
 * examples/viommu.c - a virtio-iommu for a VMM, with aperture.
 *
 * What a VMM author copies: the device side is a handful of calls.
 *
 *   1. Guest RAM is registered with the context (guest-physical address =
 *      aperture physical address), an IOMMU instance of kind virtio-iommu
 *      is created, and every emulated PCI device behind it becomes an
 *      endpoint whose stream ID is its requester ID (bus << 8 | devfn).
 *   2. ap_viommu_new() makes the virtio device.  The VMM's virtio
 *      transport (virtio-pci, virtio-mmio) forwards its registers:
 *      features, status, device configuration, queue addresses, and the
 *      notify register (ap_viommu_queue_notify); the device's interrupts
 *      come back through the callback of ap_viommu_set_irq().
 *   3. Device emulation threads do DMA with ap_dma_read/ap_dma_write on
 *      their endpoint: the access is translated by what the guest mapped,
 *      and faults where it did not map anything.  Faults are reported to
 *      the guest by ap_viommu_report_faults() (any thread).
 *
 * Here one thread plays the guest's virtio-iommu driver (it would be the
 * guest kernel, its register accesses trapping into the VMM's transport),
 * and another thread plays an emulated NIC that writes a received packet
 * into guest memory.  The guest maps a buffer, the NIC's write lands in
 * it; the guest unmaps it, the NIC's next write faults, and the guest
 * reads the fault from its event queue.
 *
 * Build: cc viommu.c $(pkg-config --cflags --libs aperture) -lpthread
 */
#include <endian.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_iommu.h>
#include <linux/virtio_ring.h>

#include <aperture/aperture.h>

#define GUEST_RAM 0x40000000ull  /* guest-physical base of guest RAM */
#define GUEST_RAM_SIZE (16 << 20)
#define NIC_RID 0x0010           /* the NIC at 00:02.0 */
#define QSIZE 16

/* Where the guest driver keeps its things, in guest RAM. */
#define RQ_DESC (GUEST_RAM + 0x0000)
#define RQ_AVAIL (GUEST_RAM + 0x1000)
#define RQ_USED (GUEST_RAM + 0x2000)
#define EQ_DESC (GUEST_RAM + 0x3000)
#define EQ_AVAIL (GUEST_RAM + 0x4000)
#define EQ_USED (GUEST_RAM + 0x5000)
#define REQ_BUF (GUEST_RAM + 0x6000)  /* one request at a time */
#define EVT_BUF (GUEST_RAM + 0x7000)  /* event buffers, 64 bytes apart */
#define RX_BUF (GUEST_RAM + 0x800000) /* the buffer the guest gives the NIC */
#define RX_IOVA 0x10000000ull         /* where the guest maps it for the NIC */

static struct ap_ctx *ctx;
static struct ap_viommu *viommu;
static struct ap_device *nic;

/* ------------------------------------------------------------ interrupts */

/* The VMM would inject an MSI into the guest; here the guest thread waits
 * on a condition variable. */
static pthread_mutex_t irq_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t irq_cond = PTHREAD_COND_INITIALIZER;
static unsigned irq_count[2];

/* Called by the device, with its lock held: only signal. */
static void on_irq(void *arg, int queue)
{
	(void)arg;
	if (queue < 0)
		return; /* a configuration change: not expected here */
	pthread_mutex_lock(&irq_lock);
	irq_count[queue]++;
	pthread_cond_broadcast(&irq_cond);
	pthread_mutex_unlock(&irq_lock);
}

static void wait_irq(int queue, unsigned seen)
{
	pthread_mutex_lock(&irq_lock);
	while (irq_count[queue] == seen)
		pthread_cond_wait(&irq_cond, &irq_lock);
	pthread_mutex_unlock(&irq_lock);
}

static unsigned irqs(int queue)
{
	unsigned n;

	pthread_mutex_lock(&irq_lock);
	n = irq_count[queue];
	pthread_mutex_unlock(&irq_lock);
	return n;
}

/* ------------------------------------------------------------ the emulated NIC */

/* The NIC thread receives "packets" to write at an IOVA the guest gave it
 * and reports what happened, as a device model thread in a VMM would. */
static pthread_mutex_t nic_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t nic_cond = PTHREAD_COND_INITIALIZER;
static int nic_job;       /* 0 idle, 1 a packet to write, -1 stop */
static uint64_t nic_iova;
static int nic_result;    /* what ap_dma_write said */

static void *nic_thread(void *arg)
{
	static const char packet[] = "hello from the NIC";

	(void)arg;
	pthread_mutex_lock(&nic_lock);
	for (;;) {
		struct ap_fault f;

		while (nic_job == 0)
			pthread_cond_wait(&nic_cond, &nic_lock);
		if (nic_job < 0)
			break;
		pthread_mutex_unlock(&nic_lock);
		/* DMA through the IOMMU: translated by the guest's mappings. */
		nic_result = ap_dma_write(nic, nic_iova, packet, sizeof(packet), &f);
		if (nic_result)
			ap_viommu_report_faults(viommu); /* into the guest's event queue */
		pthread_mutex_lock(&nic_lock);
		nic_job = 0;
		pthread_cond_broadcast(&nic_cond);
	}
	pthread_mutex_unlock(&nic_lock);
	return NULL;
}

static int nic_receive(uint64_t iova)
{
	pthread_mutex_lock(&nic_lock);
	nic_iova = iova;
	nic_job = 1;
	pthread_cond_broadcast(&nic_cond);
	while (nic_job)
		pthread_cond_wait(&nic_cond, &nic_lock);
	pthread_mutex_unlock(&nic_lock);
	return nic_result;
}

/* ------------------------------------------------------------ the guest driver */

/* Guest memory, as the guest kernel sees it. */
static void *gpa(uint64_t pa, size_t len)
{
	return ap_ram_ptr(ctx, pa, len);
}

static uint16_t avail_idx[2], used_seen[2];

static void put_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct vring_desc d = { htole64(addr), htole32(len), htole16(flags), htole16(next) };

	memcpy(gpa(table + 16 * i, 16), &d, 16);
}

/* Make descriptor chain `head` available on queue q (virtio 1.2 §2.7.13)
 * and notify the device, as the guest's write to the notify register. */
static void publish(unsigned q, uint16_t head)
{
	uint16_t *avail = gpa(q ? EQ_AVAIL : RQ_AVAIL, 4 + 2 * QSIZE);

	avail[2 + avail_idx[q] % QSIZE] = htole16(head);
	avail_idx[q]++;
	__atomic_store_n(&avail[1], htole16(avail_idx[q]), __ATOMIC_RELEASE);
	ap_viommu_queue_notify(viommu, q);
}

/* The next used entry of queue q, if any: its length. */
static int take_used(unsigned q, uint32_t *len)
{
	struct vring_used *used = gpa(q ? EQ_USED : RQ_USED, 4 + 8 * QSIZE);
	uint16_t idx = le16toh(__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE));

	if (idx == used_seen[q])
		return 0;
	*len = le32toh(used->ring[used_seen[q] % QSIZE].len);
	used_seen[q]++;
	return 1;
}

/* One request: `len` device-readable bytes, then `wlen` device-writable
 * ones (the tail, or PROBE's properties and tail).  Returns the status. */
static int request(const void *req, size_t len, size_t wlen)
{
	unsigned seen = irqs(0);
	uint8_t *buf = gpa(REQ_BUF, len + wlen);
	uint32_t used;

	memcpy(buf, req, len);
	memset(buf + len, 0, wlen);
	put_desc(RQ_DESC, 0, REQ_BUF, (uint32_t)len, VRING_DESC_F_NEXT, 1);
	put_desc(RQ_DESC, 1, REQ_BUF + len, (uint32_t)wlen, VRING_DESC_F_WRITE, 0);
	publish(0, 0);
	wait_irq(0, seen); /* the used-buffer interrupt */
	if (!take_used(0, &used) || used < 4)
		return -1;
	return buf[len + wlen - 4]; /* the tail ends the writable part */
}

static int guest_driver(void)
{
	uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_IOMMU_F_MAP_UNMAP) |
			(1ull << VIRTIO_IOMMU_F_PROBE) | (1ull << VIRTIO_IOMMU_F_INPUT_RANGE);
	struct ap_viommu_queue rq = { QSIZE, RQ_DESC, RQ_AVAIL, RQ_USED };
	struct ap_viommu_queue eq = { QSIZE, EQ_DESC, EQ_AVAIL, EQ_USED };
	struct virtio_iommu_req_attach att = { .head.type = VIRTIO_IOMMU_T_ATTACH };
	struct virtio_iommu_req_map map = { .head.type = VIRTIO_IOMMU_T_MAP };
	struct virtio_iommu_req_unmap unmap = { .head.type = VIRTIO_IOMMU_T_UNMAP };
	struct virtio_iommu_req_probe probe = { .head.type = VIRTIO_IOMMU_T_PROBE };
	struct virtio_iommu_probe_resv_mem *prop;
	struct virtio_iommu_fault *fault;
	uint64_t psize = 0;
	unsigned seen, i;
	uint32_t len;
	int st;

	/* Feature negotiation (virtio 1.2 §3.1.1), through the transport. */
	ap_viommu_set_status(viommu, 0);
	ap_viommu_set_status(viommu, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	ap_viommu_set_driver_features(viommu, ap_viommu_device_features(viommu) & want);
	ap_viommu_set_status(viommu, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					     VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(ap_viommu_status(viommu) & VIRTIO_CONFIG_S_FEATURES_OK))
		return fprintf(stderr, "features refused\n"), 1;
	ap_viommu_config_read(viommu, offsetof(struct virtio_iommu_config, probe_size), &psize, 4);
	if (ap_viommu_queue_enable(viommu, 0, &rq) || ap_viommu_queue_enable(viommu, 1, &eq))
		return fprintf(stderr, "queues refused\n"), 1;
	ap_viommu_set_status(viommu, ap_viommu_status(viommu) | VIRTIO_CONFIG_S_DRIVER_OK);

	/* Event buffers for faults (§5.13.6.9). */
	for (i = 0; i < 4; i++) {
		put_desc(EQ_DESC, i, EVT_BUF + 64 * i, sizeof(*fault), VRING_DESC_F_WRITE, 0);
		publish(1, (uint16_t)i);
	}

	/* PROBE the NIC: its reserved regions (the MSI doorbell). */
	probe.endpoint = htole32(NIC_RID);
	st = request(&probe, sizeof(probe), le32toh((uint32_t)psize) + 4);
	prop = gpa(REQ_BUF + sizeof(probe), sizeof(*prop));
	printf("guest: PROBE nic: status %d, RESV_MEM %s 0x%llx-0x%llx\n", st,
	       prop->subtype == VIRTIO_IOMMU_RESV_MEM_T_MSI ? "MSI" : "reserved",
	       (unsigned long long)le64toh(prop->start), (unsigned long long)le64toh(prop->end));

	/* ATTACH the NIC to domain 1, MAP its receive buffer. */
	att.domain = htole32(1);
	att.endpoint = htole32(NIC_RID);
	if ((st = request(&att, offsetof(struct virtio_iommu_req_attach, tail), 4)))
		return fprintf(stderr, "ATTACH: status %d\n", st), 1;
	map.domain = htole32(1);
	map.virt_start = htole64(RX_IOVA);
	map.virt_end = htole64(RX_IOVA + 0xffff);
	map.phys_start = htole64(RX_BUF);
	map.flags = htole32(VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE);
	if ((st = request(&map, offsetof(struct virtio_iommu_req_map, tail), 4)))
		return fprintf(stderr, "MAP: status %d\n", st), 1;

	/* The NIC writes a packet: it lands in the guest's buffer. */
	st = nic_receive(RX_IOVA + 0x100);
	printf("guest: NIC DMA to 0x%llx: %s, buffer holds \"%s\"\n",
	       (unsigned long long)(RX_IOVA + 0x100), st ? "fault" : "ok",
	       (const char *)gpa(RX_BUF + 0x100, 32));
	if (st || strcmp(gpa(RX_BUF + 0x100, 32), "hello from the NIC"))
		return 1;

	/* UNMAP; the NIC's next write faults, and the guest hears of it. */
	unmap.domain = htole32(1);
	unmap.virt_start = htole64(RX_IOVA);
	unmap.virt_end = htole64(RX_IOVA + 0xffff);
	if ((st = request(&unmap, offsetof(struct virtio_iommu_req_unmap, tail), 4)))
		return fprintf(stderr, "UNMAP: status %d\n", st), 1;
	seen = irqs(1);
	if (!nic_receive(RX_IOVA + 0x100))
		return fprintf(stderr, "DMA after UNMAP went through\n"), 1;
	wait_irq(1, seen);
	if (!take_used(1, &len) || len != sizeof(*fault))
		return fprintf(stderr, "no fault event\n"), 1;
	fault = gpa(EVT_BUF, sizeof(*fault));
	printf("guest: fault event: reason %s, endpoint 0x%x, address 0x%llx%s\n",
	       fault->reason == VIRTIO_IOMMU_FAULT_R_MAPPING ? "MAPPING" : "other",
	       le32toh(fault->endpoint), (unsigned long long)le64toh(fault->address),
	       le32toh(fault->flags) & VIRTIO_IOMMU_FAULT_F_WRITE ? " (write)" : "");
	return fault->reason == VIRTIO_IOMMU_FAULT_R_MAPPING && le32toh(fault->endpoint) == NIC_RID &&
			       le64toh(fault->address) == RX_IOVA + 0x100
		       ? 0
		       : 1;
}

/* ------------------------------------------------------------ the VMM */

int main(void)
{
	struct ap_iommu_config cfg;
	struct ap_iommu *iommu;
	pthread_t t;
	int rc;

	ctx = ap_ctx_new();
	if (!ctx || ap_ram_alloc(ctx, GUEST_RAM, GUEST_RAM_SIZE, NULL))
		return 1;
	ap_iommu_config_init(&cfg, AP_IOMMU_VIRTIO_IOMMU);
	if (ap_iommu_new(ctx, "viommu", &cfg, &iommu) ||
	    ap_device_new(ctx, "nic", iommu, NIC_RID, AP_GROUP_OWN, &nic) ||
	    ap_viommu_new(ctx, iommu, NULL, &viommu)) {
		fprintf(stderr, "setup: %s\n", ap_ctx_error(ctx));
		return 1;
	}
	ap_viommu_set_irq(viommu, on_irq, NULL);
	pthread_create(&t, NULL, nic_thread, NULL);

	rc = guest_driver();

	pthread_mutex_lock(&nic_lock);
	nic_job = -1;
	pthread_cond_broadcast(&nic_cond);
	pthread_mutex_unlock(&nic_lock);
	pthread_join(t, NULL);
	ap_ctx_free(ctx);
	printf("%s\n", rc ? "viommu example FAILED" : "viommu example: ok");
	return rc;
}
