/* SPDX-License-Identifier: MIT */
/*
 * The Intel I/OAT DMA engine of Crystal Beach 3 (8086:2021), the subset
 * that Linux's drivers/dma/ioat and the VFIO selftests' userspace driver
 * program: one channel whose descriptors are fetched from DMA memory and
 * whose copies go through the IOMMU (ap_dma_read/ap_dma_write on the
 * function's device).  doc/pci-ioat.md lists every register, where the
 * layout comes from, and where a polled model differs from the silicon.
 *
 * The BAR is plain memory a driver stores to, so the engine cannot see a
 * write that leaves a register's value unchanged.  It therefore treats the
 * two registers a driver rewrites with the same value as consumed: when the
 * channel halts or suspends, CHAINADDR reads all ones (never a descriptor
 * address: those are 64-byte aligned, and 0 is a valid one) and DMACOUNT
 * 0, so the next chain address and doorbell the driver writes are new.
 */
#include <errno.h>
#include <string.h>

#include "pci_internal.h"

/* BAR0: device registers. */
#define REG_CHANCNT 0x00    /* 8-bit: number of channels */
#define REG_XFERCAP 0x01    /* 8-bit: log2 of the largest copy */
#define REG_GENCTRL 0x02    /* 8-bit */
#define REG_INTRCTRL 0x03   /* 8-bit */
#define REG_ATTNSTATUS 0x04 /* 32-bit: a bit per channel with an interrupt */
#define REG_CBVER 0x08      /* 8-bit: major << 4 | minor */
#define REG_DMACAP 0x10     /* 32-bit: optional operations */

#define INTRCTRL_MASTER_INT_EN 0x01
#define INTRCTRL_MSIX_VECTOR_CONTROL 0x08

/* Channel 0 sits at 0x80 (0x80 bytes a channel, after the device's). */
#define CH 0x80
#define CH_CTRL (CH + 0x00)     /* 16-bit */
#define CH_CMD (CH + 0x04)      /* 8-bit */
#define CH_DMACOUNT (CH + 0x06) /* 16-bit: the doorbell */
#define CH_STS (CH + 0x08)      /* 64-bit: completed descriptor | status */
#define CH_CHAINADDR (CH + 0x10)
#define CH_CMPADDR (CH + 0x18)  /* completion write-back address */
#define CH_CDAR (CH + 0x20)     /* current descriptor address */
#define CH_ERR (CH + 0x28)      /* 32-bit */
#define CH_ERRMASK (CH + 0x2c)

#define CTRL_INT_REARM 0x0001
#define CTRL_ERR_COMPLETION_EN 0x0004
#define CTRL_ERR_INT_EN 0x0010

#define CMD_RESET 0x20
#define CMD_RESUME 0x10
#define CMD_ABORT 0x08
#define CMD_SUSPEND 0x04

#define STS_ACTIVE 0x0
#define STS_DONE 0x1
#define STS_SUSPENDED 0x2
#define STS_HALTED 0x3

#define ERR_SRC_ADDR 0x0001
#define ERR_DEST_ADDR 0x0002
#define ERR_NEXT_ADDR 0x0004
#define ERR_NEXT_DESC_ALIGN 0x0008
#define ERR_CHAIN_ADDR_VALUE 0x0010
#define ERR_READ_DATA 0x0100
#define ERR_WRITE_DATA 0x0200
#define ERR_CONTROL 0x0400
#define ERR_LENGTH 0x0800
#define ERR_COMPLETION_ADDR 0x1000

/* Descriptor control bits and the one operation modelled. */
#define DESC_INT_EN 0x00000001u
#define DESC_COMPL_WRITE 0x00000008u
#define DESC_NULL 0x00000020u
#define DESC_OP_SHIFT 24
#define OP_COPY 0x00

/* Configuration-space error registers. */
#define CFG_DMAUNCERRSTS 0x148
#define CFG_CHANERR_INT 0x180
#define CFG_CHANERRMSK_INT 0x184

#define IOAT_VERSION 0x33  /* 3.3: Sky Lake-E */
#define IOAT_XFERCAP_LOG 20 /* the model's largest copy: 1 MiB */
#define DESC_SIZE 64
#define POLL_BUDGET 4096   /* descriptors per poll, so commands get a look */
#define CHAIN_TAKEN UINT64_MAX /* CHAINADDR once consumed */

struct ioat {
	unsigned state;        /* STS_* */
	bool latched;          /* a chain address is taken */
	uint64_t chain;        /* the CHAINADDR value taken */
	uint64_t next;         /* the descriptor to run next */
	uint16_t count;        /* descriptors run since the chain was taken */
	uint64_t completed;    /* the last completed descriptor */
	bool armed;            /* INT_REARM seen since the last interrupt */
	uint8_t *bounce;       /* one copy's worth: read whole, then write */
};

/* ------------------------------------------------------------ registers */

static uint8_t *reg(struct ap_pci *pci, uint32_t off)
{
	return (uint8_t *)pci->bar_mem[0] + off;
}

static uint8_t ld8(struct ap_pci *pci, uint32_t off)
{
	return __atomic_load_n(reg(pci, off), __ATOMIC_ACQUIRE);
}

static uint16_t ld16(struct ap_pci *pci, uint32_t off)
{
	return __atomic_load_n((uint16_t *)(void *)reg(pci, off), __ATOMIC_ACQUIRE);
}

static uint64_t ld64(struct ap_pci *pci, uint32_t off)
{
	return __atomic_load_n((uint64_t *)(void *)reg(pci, off), __ATOMIC_ACQUIRE);
}

static void st8(struct ap_pci *pci, uint32_t off, uint8_t v)
{
	__atomic_store_n(reg(pci, off), v, __ATOMIC_RELEASE);
}

static void st16(struct ap_pci *pci, uint32_t off, uint16_t v)
{
	__atomic_store_n((uint16_t *)(void *)reg(pci, off), v, __ATOMIC_RELEASE);
}

static void st32(struct ap_pci *pci, uint32_t off, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)reg(pci, off), v, __ATOMIC_RELEASE);
}

static void st64(struct ap_pci *pci, uint32_t off, uint64_t v)
{
	__atomic_store_n((uint64_t *)(void *)reg(pci, off), v, __ATOMIC_RELEASE);
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* ------------------------------------------------------------ channel state */

static void set_status(struct ap_pci *pci, struct ioat *io, unsigned state)
{
	io->state = state;
	st64(pci, CH_STS, (io->completed & ~0x3full) | state);
}

/* Halted or suspended: the channel lets go of its chain, and the driver's
 * next CHAINADDR and DMACOUNT writes must be seen however equal to the
 * last ones they are (see the top of the file). */
static void stop_channel(struct ap_pci *pci, struct ioat *io, unsigned state)
{
	io->latched = false;
	io->count = 0;
	st64(pci, CH_CHAINADDR, CHAIN_TAKEN);
	st16(pci, CH_DMACOUNT, 0);
	set_status(pci, io, state);
}

static void channel_reset(struct ap_pci *pci, struct ioat *io)
{
	io->completed = 0;
	io->armed = false;
	st16(pci, CH_CTRL, 0);
	st64(pci, CH_CDAR, 0);
	st32(pci, CH_ERR, 0);
	__atomic_and_fetch((uint32_t *)(void *)reg(pci, REG_ATTNSTATUS), ~1u, __ATOMIC_RELEASE);
	stop_channel(pci, io, STS_HALTED);
}

static void ioat_reset(struct ap_pci *pci)
{
	struct ioat *io = pci->model;

	memset(pci->bar_mem[0], 0, (size_t)pci->cfg.bar_size[0]);
	st8(pci, REG_CHANCNT, 1);
	st8(pci, REG_XFERCAP, IOAT_XFERCAP_LOG);
	st8(pci, REG_CBVER, IOAT_VERSION);
	st32(pci, REG_DMACAP, 0);
	channel_reset(pci, io);
	/* the error registers in configuration space */
	ap__pci_cfg_set(pci, CFG_DMAUNCERRSTS, 4, 0, 0, 0xffffffff);
	ap__pci_cfg_set(pci, CFG_CHANERR_INT, 4, 0, 0, 0xffffffff);
	ap__pci_cfg_set(pci, CFG_CHANERRMSK_INT, 4, 0, 0xffffffff, 0);
}

/* ------------------------------------------------------------ interrupts */

static void interrupt(struct ap_pci *pci, struct ioat *io)
{
	uint8_t intr = ld8(pci, REG_INTRCTRL);

	io->armed = false;
	__atomic_and_fetch((uint16_t *)(void *)reg(pci, CH_CTRL), (uint16_t)~CTRL_INT_REARM,
			   __ATOMIC_RELEASE);
	if (!(intr & (INTRCTRL_MSIX_VECTOR_CONTROL | INTRCTRL_MASTER_INT_EN)))
		return;
	__atomic_or_fetch((uint32_t *)(void *)reg(pci, REG_ATTNSTATUS), 1u, __ATOMIC_RELEASE);
	if (ap__pci_msix_on(pci))
		ap__pci_raise(pci, AP_PCI_IRQ_MSIX, 0);
	else if (ap__pci_intx_on(pci))
		ap__pci_raise(pci, AP_PCI_IRQ_INTX, 0);
}

/* ------------------------------------------------------------ DMA */

/* Device DMA through the IOMMU; a refusal is reported and becomes `err`. */
static unsigned dma(struct ap_pci *pci, bool write, uint64_t iova, void *buf, size_t len,
		    unsigned err, unsigned wrap_err)
{
	struct ap_fault f;
	int rc;

	memset(&f, 0, sizeof(f));
	rc = write ? ap_dma_write(pci->dev, iova, buf, len, &f)
		   : ap_dma_read(pci->dev, iova, buf, len, &f);
	if (!rc)
		return 0;
	if (rc == -EFAULT) {
		ap__pci_report_fault(pci, &f);
		return err;
	}
	return wrap_err;
}

/* Completion write-back: the channel status, to CHANCMP. */
static unsigned write_completion(struct ap_pci *pci)
{
	uint64_t addr = ld64(pci, CH_CMPADDR), sts = ld64(pci, CH_STS);
	uint8_t le[8];

	if (!addr)
		return 0;
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(sts >> (8 * i));
	return dma(pci, true, addr, le, sizeof(le), ERR_COMPLETION_ADDR, ERR_COMPLETION_ADDR);
}

static void halt(struct ap_pci *pci, struct ioat *io, unsigned err)
{
	uint16_t ctrl = ld16(pci, CH_CTRL);

	__atomic_or_fetch((uint32_t *)(void *)reg(pci, CH_ERR), err, __ATOMIC_RELEASE);
	stop_channel(pci, io, STS_HALTED);
	if (ctrl & CTRL_ERR_COMPLETION_EN)
		write_completion(pci);
	if (ctrl & CTRL_ERR_INT_EN)
		interrupt(pci, io);
}

struct desc {
	uint32_t size, ctl;
	uint64_t src, dst, next;
};

/* Fetch the descriptor at io->next; 0 or the error. */
static unsigned fetch(struct ap_pci *pci, struct ioat *io, struct desc *d)
{
	uint8_t raw[DESC_SIZE];
	unsigned err;

	if (io->next & (DESC_SIZE - 1))
		return io->count ? ERR_NEXT_DESC_ALIGN : ERR_CHAIN_ADDR_VALUE;
	err = dma(pci, false, io->next, raw, sizeof(raw), ERR_NEXT_ADDR, ERR_NEXT_ADDR);
	if (err)
		return err;
	d->size = le32(raw);
	d->ctl = le32(raw + 4);
	d->src = le64(raw + 8);
	d->dst = le64(raw + 16);
	d->next = le64(raw + 24);
	return 0;
}

/* A copy: the whole source is read before a byte is written, so a copy
 * that faults anywhere writes nothing. */
static unsigned run(struct ap_pci *pci, struct ioat *io, const struct desc *d)
{
	unsigned err;

	if (d->ctl >> DESC_OP_SHIFT != OP_COPY)
		return ERR_CONTROL;
	if (d->ctl & DESC_NULL)
		return 0;
	if (!d->size || d->size > (1u << IOAT_XFERCAP_LOG))
		return ERR_LENGTH;
	err = dma(pci, false, d->src, io->bounce, d->size, ERR_READ_DATA, ERR_SRC_ADDR);
	if (!err)
		err = dma(pci, true, d->dst, io->bounce, d->size, ERR_WRITE_DATA, ERR_DEST_ADDR);
	if (!err)
		PCI_STAT_ADD(pci, bytes, d->size);
	return err;
}

/* Run one descriptor; false if the channel halted. */
static bool step(struct ap_pci *pci, struct ioat *io, uint16_t doorbell)
{
	struct desc d;
	unsigned err;

	st64(pci, CH_CDAR, io->next);
	err = fetch(pci, io, &d);
	if (!err)
		err = run(pci, io, &d);
	if (err) {
		halt(pci, io, err);
		return false;
	}
	io->completed = io->next;
	io->next = d.next;
	io->count++;
	PCI_STAT_ADD(pci, descriptors, 1);
	set_status(pci, io, io->count == doorbell ? STS_DONE : STS_ACTIVE);
	if ((d.ctl & DESC_COMPL_WRITE) && (err = write_completion(pci))) {
		halt(pci, io, err);
		return false;
	}
	if ((d.ctl & DESC_INT_EN) && io->armed)
		interrupt(pci, io);
	return true;
}

/* ------------------------------------------------------------ commands */

static int command(struct ap_pci *pci, struct ioat *io, uint8_t cmd)
{
	if (cmd & CMD_RESET)
		channel_reset(pci, io);
	else if (cmd & CMD_ABORT)
		stop_channel(pci, io, STS_HALTED);
	else if ((cmd & CMD_SUSPEND) && io->state != STS_HALTED)
		stop_channel(pci, io, STS_SUSPENDED);
	/* RESUME and the version-1 START/APPEND are not modelled: cleared */
	st8(pci, CH_CMD, 0);
	return 1;
}

static int ioat_poll(struct ap_pci *pci)
{
	struct ioat *io = pci->model;
	uint8_t cmd = ld8(pci, CH_CMD);
	int work = 0;
	uint16_t doorbell;

	if (cmd)
		work += command(pci, io, cmd);
	if (ld16(pci, CH_CTRL) & CTRL_INT_REARM)
		io->armed = true;
	if (io->state == STS_HALTED || io->state == STS_SUSPENDED) {
		uint64_t chain = ld64(pci, CH_CHAINADDR);

		if (chain != CHAIN_TAKEN && (!io->latched || chain != io->chain)) {
			io->latched = true;
			io->chain = io->next = chain;
			io->count = 0;
		}
	}
	/* a function that may not master the bus issues no DMA: it waits */
	if (!io->latched || !ap__pci_bus_master(pci))
		return work;
	doorbell = ld16(pci, CH_DMACOUNT);
	for (int budget = POLL_BUDGET; io->count != doorbell && budget; budget--) {
		work++;
		if (!step(pci, io, doorbell) || ld8(pci, CH_CMD))
			break;
	}
	return work;
}

/* ------------------------------------------------------------ model */

static void ioat_defaults(struct ap_pci_config *cfg)
{
	cfg->model = AP_PCI_IOAT;
	cfg->vendor = 0x8086;
	cfg->device = 0x2021;
	cfg->subsystem_vendor = 0x8086;
	cfg->subsystem_device = 0x0000;
	cfg->class_code = 0x088000; /* base system peripheral, other */
	cfg->revision = 0x04;
	cfg->intx_pin = 1;
	cfg->pcie = true;
	cfg->bar_size[0] = 16 << 10;
	cfg->bar_flags[0] = AP_PCI_BAR_64 | AP_PCI_BAR_MMAP;
	cfg->msix = 1;
	cfg->msix_bar = 0;
	cfg->msix_table_offset = 0x2000;
	cfg->msix_pba_offset = 0x3000;
}

static int ioat_check(struct ap_ctx *ctx, const struct ap_pci_config *cfg)
{
	if (cfg->bar_size[0] < 0x1000 || !cfg->pcie)
		return ap__pci_fail(ctx, -EINVAL, "an ioat function needs BAR0 of 4K or more for its "
				    "registers and PCI Express for its error registers");
	return 0;
}

static int ioat_init(struct ap_pci *pci)
{
	struct ioat *io = ap_mem_alloc(pci->ctx, sizeof(*io));

	if (!io)
		return ap__pci_fail(pci->ctx, -ENOMEM, "out of memory for the ioat engine of %s",
				    pci->name);
	io->bounce = ap_mem_alloc(pci->ctx, (size_t)1 << IOAT_XFERCAP_LOG);
	if (!io->bounce) {
		ap_mem_free(pci->ctx, io);
		return ap__pci_fail(pci->ctx, -ENOMEM, "out of memory for the ioat copy buffer of %s",
				    pci->name);
	}
	pci->model = io;
	return 0;
}

static void ioat_fini(struct ap_pci *pci)
{
	struct ioat *io = pci->model;

	if (!io)
		return;
	ap_mem_free(pci->ctx, io->bounce);
	ap_mem_free(pci->ctx, io);
	pci->model = NULL;
}

const struct pci_model_ops ap__pci_ioat_ops = {
	.model = AP_PCI_IOAT,
	.name = "ioat",
	.defaults = ioat_defaults,
	.check = ioat_check,
	.init = ioat_init,
	.fini = ioat_fini,
	.reset = ioat_reset,
	.poll = ioat_poll,
};
