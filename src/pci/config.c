/* SPDX-License-Identifier: MIT */
/*
 * Configuration space of an emulated function: a type-0 header, memory
 * BARs that answer the all-ones sizing write with their size, and a
 * capability list (MSI-X, PCI Express, Power Management) laid out as the
 * PCI Local Bus and PCI Express Base specifications define the registers.
 * Each byte has a write mask and a write-1-to-clear mask, so a config
 * write is one rule for every register.
 */
#include <errno.h>
#include <string.h>

#include <linux/pci_regs.h>

#include "pci_internal.h"

#define BAR_MIN 16ull
#define BAR_MAX (1ull << 30)
#define MSIX_ENTRY 16u

/* Bits of the command register a memory-only function implements. */
#define CMD_WRITABLE (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | \
		      PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
/* Status bits that record errors and are cleared by writing 1. */
#define STATUS_W1C (PCI_STATUS_DETECTED_PARITY | PCI_STATUS_SIG_SYSTEM_ERROR | \
		    PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_REC_TARGET_ABORT | \
		    PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_PARITY)

void ap__pci_cfg_set(struct ap_pci *pci, uint32_t off, unsigned len, uint32_t val,
		     uint32_t wmask, uint32_t w1c)
{
	for (unsigned i = 0; i < len; i++) {
		pci->config[off + i] = (uint8_t)(val >> (8 * i));
		pci->wmask[off + i] = (uint8_t)(wmask >> (8 * i));
		pci->w1cmask[off + i] = (uint8_t)(w1c >> (8 * i));
	}
}

uint32_t ap__pci_cfg_get(const struct ap_pci *pci, uint32_t off, unsigned len)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)pci->config[off + i] << (8 * i);
	return v;
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* ------------------------------------------------------------ checks */

static int check_bars(struct ap_ctx *ctx, const struct ap_pci_config *cfg)
{
	for (unsigned n = 0; n < AP_PCI_BARS; n++) {
		uint64_t size = cfg->bar_size[n];

		if (!size) {
			if (cfg->bar_flags[n])
				return ap__pci_fail(ctx, -EINVAL, "BAR%u has flags but no size", n);
			continue;
		}
		if (!pow2(size) || size < BAR_MIN || size > BAR_MAX)
			return ap__pci_fail(ctx, -EINVAL, "BAR%u: size 0x%llx is not a power of two "
					    "from 16 bytes to 1G", n, (unsigned long long)size);
		if (cfg->bar_flags[n] & ~(unsigned)(AP_PCI_BAR_64 | AP_PCI_BAR_PREFETCH |
						    AP_PCI_BAR_MMAP))
			return ap__pci_fail(ctx, -EINVAL, "BAR%u: unknown flags 0x%x", n,
					    cfg->bar_flags[n]);
		if (cfg->bar_flags[n] & AP_PCI_BAR_64) {
			if (n == AP_PCI_BARS - 1)
				return ap__pci_fail(ctx, -EINVAL, "BAR%u cannot be 64-bit: it is the "
						    "last slot", n);
			if (cfg->bar_size[n + 1] || cfg->bar_flags[n + 1])
				return ap__pci_fail(ctx, -EINVAL, "BAR%u is 64-bit: BAR%u must be free "
						    "for its upper half", n, n + 1);
			n++;
		}
	}
	return 0;
}

static bool inside(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static int check_msix(struct ap_ctx *ctx, const struct ap_pci_config *cfg)
{
	uint64_t tbl, pba, bar;

	if (!cfg->msix)
		return 0;
	if (cfg->msix > 2048)
		return ap__pci_fail(ctx, -EINVAL, "msix=%u: at most 2048 vectors", cfg->msix);
	if (cfg->msix_bar >= AP_PCI_BARS || !cfg->bar_size[cfg->msix_bar])
		return ap__pci_fail(ctx, -EINVAL, "MSI-X table in BAR%u, which does not exist",
				    cfg->msix_bar);
	bar = cfg->bar_size[cfg->msix_bar];
	tbl = (uint64_t)cfg->msix * MSIX_ENTRY;
	pba = ((uint64_t)cfg->msix + 63) / 64 * 8;
	if ((cfg->msix_table_offset | cfg->msix_pba_offset) & 7)
		return ap__pci_fail(ctx, -EINVAL, "MSI-X table and PBA must be 8-byte aligned");
	if (!inside(cfg->msix_table_offset, tbl, bar) || !inside(cfg->msix_pba_offset, pba, bar))
		return ap__pci_fail(ctx, -EINVAL, "MSI-X: %u vectors need 0x%llx bytes of table at "
				    "0x%x and 0x%llx of PBA at 0x%x, past the end of BAR%u (0x%llx)",
				    cfg->msix, (unsigned long long)tbl, cfg->msix_table_offset,
				    (unsigned long long)pba, cfg->msix_pba_offset, cfg->msix_bar,
				    (unsigned long long)bar);
	if (cfg->msix_table_offset < cfg->msix_pba_offset + pba &&
	    cfg->msix_pba_offset < cfg->msix_table_offset + tbl)
		return ap__pci_fail(ctx, -EINVAL, "MSI-X table and PBA overlap");
	return 0;
}

int ap__pci_config_check(struct ap_ctx *ctx, const struct ap_pci_config *cfg)
{
	int err = check_bars(ctx, cfg);

	if (!err)
		err = check_msix(ctx, cfg);
	if (!err && cfg->intx_pin > 4)
		err = ap__pci_fail(ctx, -EINVAL, "pin=%u: 0 (none) or 1..4 (INTA..INTD)",
				   cfg->intx_pin);
	return err;
}

/* ------------------------------------------------------------ layout */

/* Addresses firmware gave the BARs: each aligned to its size, 32-bit ones
 * below 4 GiB, 64-bit ones from 512 GiB. */
static uint64_t place_bar(struct pci_state *ps, uint64_t size, bool is64)
{
	uint64_t *next = is64 ? &ps->next_bar64 : &ps->next_bar32;
	uint64_t at = (*next + size - 1) & ~(size - 1);

	*next = at + size;
	return at;
}

static void build_bars(struct ap_pci *pci)
{
	const struct ap_pci_config *cfg = &pci->cfg;

	for (unsigned n = 0; n < AP_PCI_BARS; n++) {
		uint64_t size = cfg->bar_size[n], addr;
		uint32_t flags = 0, off = PCI_BASE_ADDRESS_0 + 4 * n;
		bool is64 = cfg->bar_flags[n] & AP_PCI_BAR_64;

		if (!size)
			continue;
		if (is64)
			flags |= PCI_BASE_ADDRESS_MEM_TYPE_64;
		if (cfg->bar_flags[n] & AP_PCI_BAR_PREFETCH)
			flags |= PCI_BASE_ADDRESS_MEM_PREFETCH;
		addr = place_bar(pci->ps, size, is64);
		/* the address bits below the size read back as 0: sizing */
		ap__pci_cfg_set(pci, off, 4, (uint32_t)addr | flags,
				(uint32_t)~(size - 1) & PCI_BASE_ADDRESS_MEM_MASK, 0);
		if (is64) {
			ap__pci_cfg_set(pci, off + 4, 4, (uint32_t)(addr >> 32),
					(uint32_t)(~(size - 1) >> 32), 0);
			n++;
		}
	}
}

/* Capabilities go where a model puts them (ioat: the offsets of the real
 * function) or, for the generic model, one after another from 0x40. */
static void link_cap(struct ap_pci *pci, uint32_t *prev_next, uint32_t at, uint8_t id)
{
	pci->config[*prev_next] = (uint8_t)at;
	pci->config[at] = id;
	pci->config[at + 1] = 0;
	*prev_next = at + 1;
}

static void build_msix(struct ap_pci *pci, uint32_t at)
{
	const struct ap_pci_config *cfg = &pci->cfg;

	ap__pci_cfg_set(pci, at + PCI_MSIX_FLAGS, 2, cfg->msix - 1,
			PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 0);
	ap__pci_cfg_set(pci, at + PCI_MSIX_TABLE, 4, cfg->msix_table_offset | cfg->msix_bar, 0, 0);
	ap__pci_cfg_set(pci, at + PCI_MSIX_PBA, 4, cfg->msix_pba_offset | cfg->msix_bar, 0, 0);
	pci->cap_msix = at;
}

/* PCI Express capability, version 2: a Root Complex Integrated Endpoint
 * (the I/OAT function's type) or an endpoint, 256-byte payloads,
 * role-based error reporting and Function Level Reset. */
static void build_pcie(struct ap_pci *pci, uint32_t at, bool rc_integrated)
{
	uint16_t type = rc_integrated ? PCI_EXP_TYPE_RC_END : PCI_EXP_TYPE_ENDPOINT;

	ap__pci_cfg_set(pci, at + PCI_EXP_FLAGS, 2, 2 | (type << 4), 0, 0);
	ap__pci_cfg_set(pci, at + PCI_EXP_DEVCAP, 4,
			1 /* 256 bytes */ | PCI_EXP_DEVCAP_RBER | PCI_EXP_DEVCAP_FLR, 0, 0);
	ap__pci_cfg_set(pci, at + PCI_EXP_DEVCTL, 2,
			PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN | 0x2000 /* 512 */,
			0xffff, 0);
	ap__pci_cfg_set(pci, at + PCI_EXP_DEVSTA, 2, 0, 0, 0x000f);
	pci->cap_pcie = at;
}

/* Power Management, version 3, no soft reset on D3hot->D0. */
static void build_pm(struct ap_pci *pci, uint32_t at)
{
	ap__pci_cfg_set(pci, at + PCI_PM_PMC, 2, 3, 0, 0);
	ap__pci_cfg_set(pci, at + PCI_PM_CTRL, 2, PCI_PM_CTRL_NO_SOFT_RESET,
			PCI_PM_CTRL_STATE_MASK, 0);
	pci->cap_pm = at;
}

static void build_caps(struct ap_pci *pci)
{
	const struct ap_pci_config *cfg = &pci->cfg;
	bool ioat = cfg->model == AP_PCI_IOAT;
	uint32_t prev = PCI_CAPABILITY_LIST, at = 0x40;

	if (cfg->msix) {
		at = ioat ? 0x80 : at;
		link_cap(pci, &prev, at, PCI_CAP_ID_MSIX);
		build_msix(pci, at);
		at += PCI_CAP_MSIX_SIZEOF;
	}
	if (cfg->pcie) {
		at = ioat ? 0x90 : at;
		link_cap(pci, &prev, at, PCI_CAP_ID_EXP);
		build_pcie(pci, at, ioat);
		at += PCI_CAP_EXP_ENDPOINT_SIZEOF_V2;
	}
	at = ioat ? 0xe0 : at;
	link_cap(pci, &prev, at, PCI_CAP_ID_PM);
	build_pm(pci, at);
}

void ap__pci_config_build(struct ap_pci *pci)
{
	const struct ap_pci_config *cfg = &pci->cfg;

	pci->cfg_size = cfg->pcie ? 4096 : 256;
	ap__pci_cfg_set(pci, PCI_VENDOR_ID, 2, cfg->vendor, 0, 0);
	ap__pci_cfg_set(pci, PCI_DEVICE_ID, 2, cfg->device, 0, 0);
	ap__pci_cfg_set(pci, PCI_COMMAND, 2, 0, CMD_WRITABLE, 0);
	ap__pci_cfg_set(pci, PCI_STATUS, 2, PCI_STATUS_CAP_LIST, 0, STATUS_W1C);
	ap__pci_cfg_set(pci, PCI_CLASS_REVISION, 4, cfg->class_code << 8 | cfg->revision, 0, 0);
	ap__pci_cfg_set(pci, PCI_CACHE_LINE_SIZE, 1, 0, 0xff, 0);
	/* the latency timer is hardwired to 0 on PCI Express */
	ap__pci_cfg_set(pci, PCI_LATENCY_TIMER, 1, 0, cfg->pcie ? 0 : 0xff, 0);
	ap__pci_cfg_set(pci, PCI_HEADER_TYPE, 1, PCI_HEADER_TYPE_NORMAL, 0, 0);
	build_bars(pci);
	ap__pci_cfg_set(pci, PCI_SUBSYSTEM_VENDOR_ID, 2, cfg->subsystem_vendor, 0, 0);
	ap__pci_cfg_set(pci, PCI_SUBSYSTEM_ID, 2, cfg->subsystem_device, 0, 0);
	/* no expansion ROM: the register is hardwired to 0, so sizing reads 0 */
	ap__pci_cfg_set(pci, PCI_INTERRUPT_LINE, 1, 0, 0xff, 0);
	ap__pci_cfg_set(pci, PCI_INTERRUPT_PIN, 1, cfg->intx_pin, 0, 0);
	build_caps(pci);
}

/* What system software puts back after a reset: BARs, command, interrupt
 * line and device control survive; MSI-X is left disabled and unmasked,
 * the power state is D0. */
void ap__pci_config_after_reset(struct ap_pci *pci)
{
	if (pci->cap_msix)
		pci->config[pci->cap_msix + PCI_MSIX_FLAGS + 1] &=
			(uint8_t)~((PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8);
	if (pci->cap_pm)
		pci->config[pci->cap_pm + PCI_PM_CTRL] &= (uint8_t)~PCI_PM_CTRL_STATE_MASK;
}

/* ------------------------------------------------------------ accesses */

static int range_ok(const struct ap_pci *pci, uint32_t offset, size_t len)
{
	if (offset > pci->cfg_size || len > pci->cfg_size - offset)
		return ap__pci_fail(pci->ctx, -EINVAL, "%s: config access 0x%x+%zu is outside its "
				    "%zu-byte configuration space", pci->name, offset, len,
				    pci->cfg_size);
	return 0;
}

int ap_pci_config_read(struct ap_pci *pci, uint32_t offset, void *buf, size_t len)
{
	int err;

	if (!pci || (!buf && len))
		return -EINVAL;
	err = range_ok(pci, offset, len);
	if (err)
		return err;
	if (!len)
		return 0;
	pthread_mutex_lock(&pci->lock);
	memcpy(buf, pci->config + offset, len);
	pthread_mutex_unlock(&pci->lock);
	return 0;
}

/* Whether a write just asked for a Function Level Reset. */
static bool flr_requested(struct ap_pci *pci)
{
	uint32_t at = pci->cap_pcie + PCI_EXP_DEVCTL;

	if (!pci->cap_pcie || !(ap__pci_cfg_get(pci, at, 2) & PCI_EXP_DEVCTL_BCR_FLR))
		return false;
	pci->config[at + 1] &= (uint8_t)~(PCI_EXP_DEVCTL_BCR_FLR >> 8);
	return true;
}

int ap_pci_config_write(struct ap_pci *pci, uint32_t offset, const void *buf, size_t len)
{
	const uint8_t *v = buf;
	bool flr;
	int err;

	if (!pci || (!buf && len))
		return -EINVAL;
	err = range_ok(pci, offset, len);
	if (err)
		return err;
	pthread_mutex_lock(&pci->lock);
	for (size_t i = 0; i < len; i++) {
		uint8_t *reg = &pci->config[offset + i];
		uint8_t w = pci->wmask[offset + i];

		*reg = (uint8_t)((*reg & ~w) | (v[i] & w));
		*reg &= (uint8_t)~(v[i] & pci->w1cmask[offset + i]);
	}
	flr = flr_requested(pci);
	pthread_mutex_unlock(&pci->lock);
	if (flr)
		ap_pci_reset(pci);
	return 0;
}

uint32_t ap_pci_find_capability(const struct ap_pci *pci, uint8_t cap_id)
{
	uint32_t at;
	unsigned hops = 0;

	if (!pci)
		return 0;
	for (at = pci->config[PCI_CAPABILITY_LIST]; at && hops < 48; hops++) {
		if (pci->config[at] == cap_id)
			return at;
		at = pci->config[at + 1];
	}
	return 0;
}

bool ap__pci_bus_master(const struct ap_pci *pci)
{
	return ap__pci_cfg_get(pci, PCI_COMMAND, 2) & PCI_COMMAND_MASTER;
}

void ap_pci_msix_set_enabled(struct ap_pci *pci, bool enabled)
{
	uint8_t *hi;

	if (!pci || !pci->cap_msix)
		return;
	pthread_mutex_lock(&pci->lock);
	hi = &pci->config[pci->cap_msix + PCI_MSIX_FLAGS + 1];
	if (enabled)
		*hi |= PCI_MSIX_FLAGS_ENABLE >> 8;
	else
		*hi &= (uint8_t)~(PCI_MSIX_FLAGS_ENABLE >> 8);
	pthread_mutex_unlock(&pci->lock);
}

/* With the lock held. */
bool ap__pci_msix_on(const struct ap_pci *pci)
{
	uint32_t flags;

	if (!pci->cap_msix)
		return false;
	flags = ap__pci_cfg_get(pci, pci->cap_msix + PCI_MSIX_FLAGS, 2);
	return (flags & PCI_MSIX_FLAGS_ENABLE) && !(flags & PCI_MSIX_FLAGS_MASKALL);
}

bool ap_pci_msix_enabled(struct ap_pci *pci)
{
	bool on;

	if (!pci || !pci->cap_msix)
		return false;
	pthread_mutex_lock(&pci->lock);
	on = ap__pci_cfg_get(pci, pci->cap_msix + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE;
	pthread_mutex_unlock(&pci->lock);
	return on;
}

/* With the lock held: INTx may be signalled (a pin, not disabled). */
bool ap__pci_intx_on(const struct ap_pci *pci)
{
	return pci->cfg.intx_pin &&
	       !(ap__pci_cfg_get(pci, PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE);
}
