/* SPDX-License-Identifier: MIT */
/*
 * aperture/pci.h - emulated PCI functions that do DMA through the IOMMU.
 *
 * A PCI function sits on a device of the core (its requester: the stream
 * the IOMMU sees) and has what a driver finds on real hardware: a type-0
 * configuration space whose BARs size correctly and whose capability list
 * holds MSI-X, Power Management and PCI Express; memory BARs backed by host
 * memory; interrupts; and, for a model with an engine, DMA that goes through
 * ap_dma_read()/ap_dma_write() of its device, so that a driver's mapping
 * mistake becomes a fault status in the function's registers and a fault
 * record in the IOMMU's event queue, as on hardware.
 *
 * Models:
 *   generic  configuration space and BARs only (a function a program may
 *            open, size and map, that never does DMA by itself).
 *   ioat     the Intel I/OAT DMA engine of Crystal Beach 3 (8086:2021,
 *            "Sky Lake-E CBDMA"), the subset Linux's drivers/dma/ioat and
 *            the VFIO selftests' userspace driver program: one channel,
 *            CHANCTRL/CHANCMD/DMACOUNT/CHANSTS/CHAINADDR/CHANCMP/CDAR/
 *            CHANERR, memory-copy and null descriptors, completion by
 *            polled status, by completion write-back and by MSI-X.  The
 *            registers, their offsets and every deviation of the model are
 *            in doc/pci-ioat.md.
 *
 * Registers are plain memory.  A BAR is host memory that a driver reads
 * and writes with ordinary loads and stores (through a VFIO mmap, say); a
 * model with an engine looks at it when ap_pci_poll() runs, and writes its
 * status back there.  ap_pci_start() runs that on a thread of the context.
 *
 * Ownership and errors as in core.h: everything belongs to the context and
 * goes with it; int functions return 0 or a negative errno and change
 * nothing on failure, with a reason in ap_ctx_error().
 *
 * Threads.  Configuration accesses, BAR accesses through ap_pci_bar_read/
 * write, polls and resets of one function are serialised by a lock of the
 * function, so any thread may make them.  Creating functions, setting BAR
 * backing, handlers, and starting or stopping the runner are the control
 * path: one thread, not while the runner polls (stop it first).
 */
#ifndef APERTURE_PCI_H
#define APERTURE_PCI_H

#include <aperture/core.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ap_pci;

enum ap_pci_model {
	AP_PCI_GENERIC = 1, /* "generic" */
	AP_PCI_IOAT = 2,    /* "ioat": Intel I/OAT (CB3) DMA engine */
};

#define AP_PCI_BARS 6

/* BAR flags. */
enum ap_pci_bar_flags {
	AP_PCI_BAR_64 = 1u << 0,       /* a 64-bit memory BAR (takes two slots) */
	AP_PCI_BAR_PREFETCH = 1u << 1, /* prefetchable */
	AP_PCI_BAR_MMAP = 1u << 2,     /* a VFIO user may mmap it (size >= 4K) */
};

/*
 * What a function is.  BARs are memory BARs, sizes powers of two from 16
 * bytes to 1 GiB (a 64-bit BAR n uses slot n+1 too, which must then be
 * unused).  MSI-X: `msix` vectors (0: no MSI-X capability), their table and
 * pending-bit array in BAR `msix_bar` at the offsets given (8-byte aligned,
 * inside the BAR).  intx_pin: 0 (none) or 1..4 (INTA..INTD).
 */
struct ap_pci_config {
	enum ap_pci_model model;
	uint16_t vendor, device;
	uint16_t subsystem_vendor, subsystem_device;
	uint32_t class_code; /* base class, subclass, programming interface */
	uint8_t revision;
	uint8_t intx_pin;
	bool pcie;           /* PCI Express capability, 4 KiB config space */
	uint64_t bar_size[AP_PCI_BARS];
	unsigned bar_flags[AP_PCI_BARS];
	unsigned msix;       /* 0..2048 vectors */
	unsigned msix_bar;
	uint32_t msix_table_offset, msix_pba_offset;
};

/* A model's defaults.  generic: vendor 0x1b36 (Red Hat, QEMU's vendor for
 * emulated test devices) device 0x0005, class 0xff0000, no BAR, no MSI-X,
 * conventional PCI, INTA.  ioat: 8086:2021 rev 4, class 0x088000, PCI
 * Express, BAR0 16 KiB 64-bit mmap-able, one MSI-X vector with its table at
 * 0x2000 and PBA at 0x3000 of BAR0, INTA.  An unknown model gets generic's
 * values and model 0, which ap_pci_new() refuses. */
AP_API void ap_pci_config_init(struct ap_pci_config *cfg, enum ap_pci_model model);

/*
 * Set one property from text, as the scenario language's `pci` options:
 * vendor device subsystem-vendor subsystem-device class revision pin
 * (numbers), barN=SIZE[,mmap][,64][,prefetch] (N 0..5; SIZE 0 removes the
 * BAR) and msix=N (its table and PBA then go at the middle of the first
 * BAR big enough, unless the model placed them).  0; -ENOENT for an
 * unknown key; -EINVAL for a value the key cannot take (cfg unchanged).
 * *expected, if not NULL, gets a static "key=FORM" for the message.
 * Consistency (BAR overlap, MSI-X placement) is checked by ap_pci_new().
 */
AP_API int ap_pci_config_set(struct ap_pci_config *cfg, const char *key, const char *value,
			     const char **expected);

/* "generic", "ioat" -> model, 0 if unknown; and back ("?"). */
AP_API enum ap_pci_model ap_pci_model_from_name(const char *name);
AP_API const char *ap_pci_model_name(enum ap_pci_model model);

/*
 * Parse a PCI address "DDDD:BB:DD.F" or "BB:DD.F" (domain 0) into its
 * canonical name "DDDD:BB:DD.F" (13 bytes with the NUL) and its routing ID
 * bus << 8 | device << 3 | function.  -EINVAL for anything else.
 */
AP_API int ap_pci_parse_bdf(const char *text, char name[13], uint16_t *domain, uint16_t *rid);

/*
 * Add a function at address `bdf` (see ap_pci_parse_bdf) whose DMA is `dev`'s
 * (one function per device).  BAR memory is allocated zeroed by the context
 * and the model's registers take their power-on values.  Errors, with
 * nothing added: -EINVAL (bad address, bad configuration: a BAR size, a
 * 64-bit BAR without room, MSI-X table or PBA outside its BAR or over each
 * other, a model that needs a BAR it lacks), -EEXIST (address taken, or
 * the device already has a function), -ENOMEM.
 */
AP_API int ap_pci_new(struct ap_ctx *ctx, const char *bdf, struct ap_device *dev,
		      const struct ap_pci_config *cfg, struct ap_pci **out);

/*
 * Make the layer's state in ctx now.  A layer built on this one (VFIO's
 * device handles) calls it before making its own state, so that the
 * context, which frees layers newest first, frees that layer before this
 * one.  0, -EINVAL (NULL), -ENOMEM.
 */
AP_API int ap_pci_init(struct ap_ctx *ctx);

/* By canonical or short address, NULL if none; the function of a device,
 * NULL if none; and iteration in creation order (prev NULL starts). */
AP_API struct ap_pci *ap_pci_find(struct ap_ctx *ctx, const char *bdf);
AP_API struct ap_pci *ap_pci_of_device(struct ap_ctx *ctx, const struct ap_device *dev);
AP_API struct ap_pci *ap_pci_next(struct ap_ctx *ctx, struct ap_pci *prev);

AP_API const char *ap_pci_name(const struct ap_pci *pci); /* "0000:00:04.0" */
AP_API uint16_t ap_pci_rid(const struct ap_pci *pci);
AP_API struct ap_device *ap_pci_device(const struct ap_pci *pci);
AP_API const struct ap_pci_config *ap_pci_get_config(const struct ap_pci *pci);
/* 256 for conventional PCI, 4096 for PCI Express. */
AP_API size_t ap_pci_config_size(const struct ap_pci *pci);

/* ------------------------------------------------------------ config space */

/*
 * Read or write configuration space [offset, offset+len) as a driver's
 * config cycles would: reads see the current registers; writes change only
 * the writable bits (BAR address bits, so that writing all ones sizes a
 * BAR; command, MSI-X enable and function mask, power state, device
 * control, ...), clear write-1-to-clear status bits, and act (an FLR
 * through the PCI Express device control register resets the function).
 * -EINVAL when the range leaves configuration space.
 */
AP_API int ap_pci_config_read(struct ap_pci *pci, uint32_t offset, void *buf, size_t len);
AP_API int ap_pci_config_write(struct ap_pci *pci, uint32_t offset, const void *buf,
			       size_t len);

/* Where a capability with ID `cap_id` starts (0 if the function lacks it). */
AP_API uint32_t ap_pci_find_capability(const struct ap_pci *pci, uint8_t cap_id);

/* ------------------------------------------------------------ BARs */

/* Host memory of BAR n and its size (NULL and 0 when there is none). */
AP_API void *ap_pci_bar(const struct ap_pci *pci, unsigned n, uint64_t *size);

/*
 * Move BAR n to memory of the caller's (at least the BAR's size, writable,
 * outliving the context or the next call): the current contents are copied
 * there and the model uses it from now on; memory the context had is
 * freed.  For a program that must share the BAR with another mapping (a
 * memfd a VFIO user mmaps).  -EINVAL for a BAR that does not exist or a
 * NULL pointer.
 */
AP_API int ap_pci_bar_set_backing(struct ap_pci *pci, unsigned n, void *mem);

/* Read or write BAR n at [offset, offset+len) through the function (the
 * accesses pread/pwrite of a VFIO region make).  -EINVAL outside it. */
AP_API int ap_pci_bar_read(struct ap_pci *pci, unsigned n, uint64_t offset, void *buf,
			   size_t len);
AP_API int ap_pci_bar_write(struct ap_pci *pci, unsigned n, uint64_t offset, const void *buf,
			    size_t len);

/* ------------------------------------------------------------ engine */

/*
 * Let the model act on what drivers wrote to its registers: commands,
 * doorbells, descriptors (and their DMA), completions and interrupts.
 * Returns how many units of work it did (descriptors, commands), 0 when it
 * was idle.  Interrupts are delivered after the function's lock is
 * released.  A generic function never has work.
 */
AP_API int ap_pci_poll(struct ap_pci *pci);

/*
 * Reset the function (FLR): the model's registers and engine go back to
 * power-on state; configuration space keeps what system software restores
 * after a reset (BARs, command, interrupt line), and MSI-X enable is
 * cleared.
 */
AP_API void ap_pci_reset(struct ap_pci *pci);

/*
 * Enable or disable MSI-X in the function's configuration space, as system
 * software does when a VFIO user enables MSI-X vectors (a user's own writes
 * to the enable bit go through ap_pci_config_write).
 */
AP_API void ap_pci_msix_set_enabled(struct ap_pci *pci, bool enabled);
AP_API bool ap_pci_msix_enabled(struct ap_pci *pci);

/* Interrupts the function signals: MSI-X vector n (when MSI-X is enabled
 * and the function not masked), or its INTx pin (when MSI-X is off and
 * INTx is not disabled in the command register). */
enum ap_pci_irq {
	AP_PCI_IRQ_INTX = 0,
	AP_PCI_IRQ_MSIX = 2,
};
typedef void (*ap_pci_irq_fn)(void *arg, struct ap_pci *pci, enum ap_pci_irq type,
			      unsigned vector);
/* One handler per function (NULL removes it); interrupts with none are
 * dropped. */
AP_API void ap_pci_set_irq_handler(struct ap_pci *pci, ap_pci_irq_fn fn, void *arg);

/* DMA the function's engine was refused: the fault the IOMMU recorded
 * (also in its event queue), reported to one handler per function. */
typedef void (*ap_pci_fault_fn)(void *arg, struct ap_pci *pci, const struct ap_fault *fault);
AP_API void ap_pci_set_fault_handler(struct ap_pci *pci, ap_pci_fault_fn fn, void *arg);

/* What the engine did since the function was created. */
struct ap_pci_stats {
	uint64_t descriptors; /* completed */
	uint64_t bytes;       /* copied */
	uint64_t faults;      /* DMA the IOMMU refused */
	uint64_t irqs;        /* interrupts signalled (delivered or dropped) */
};
AP_API void ap_pci_get_stats(const struct ap_pci *pci, struct ap_pci_stats *out);

/* ------------------------------------------------------------ runner */

/*
 * A thread of the context that polls every function with an engine, as
 * hardware runs on its own: it looks often while there is work and backs
 * off to about a millisecond when idle.  `hook`, if not NULL, is called
 * with true before each round and false after it (a program that must
 * serialise the model with its own calls takes a lock there); a false
 * answer to the first call skips the round (the model is someone else's
 * now, say, after a fork).  Errors:
 * -EBUSY (running), -ENOMEM, -EAGAIN (no thread).  Stop waits for the
 * thread; stopping a stopped runner does nothing.
 */
typedef bool (*ap_pci_hook_fn)(void *arg, bool enter);
AP_API int ap_pci_start(struct ap_ctx *ctx, ap_pci_hook_fn hook, void *arg);
AP_API void ap_pci_stop(struct ap_ctx *ctx);

/*
 * fork(2) around a running runner: prepare (in the parent, before fork)
 * waits until no round is in progress and holds the runner there; parent
 * (after fork, in the parent) lets it go on; child (in the child) gives the
 * child a runner of its own, since threads do not survive fork.  Each is a
 * no-op without a runner.
 */
AP_API void ap_pci_fork_prepare(struct ap_ctx *ctx);
AP_API void ap_pci_fork_parent(struct ap_ctx *ctx);
AP_API void ap_pci_fork_child(struct ap_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* APERTURE_PCI_H */
