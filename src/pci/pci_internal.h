/* SPDX-License-Identifier: MIT */
/*
 * Inside the PCI layer: a function's state, the per-context list and
 * runner, and the ops a device model implements.  Sits on the core's
 * public API only.
 */
#ifndef AP_PCI_INTERNAL_H
#define AP_PCI_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <aperture/pci.h>

#define PCI_FRONTEND_KEY "pci"
#define PCI_CFG_MAX 4096
#define PCI_PENDING_MAX 8 /* interrupts and faults a poll may queue */

struct ap_pci;

/* What differs between models; a model with no engine leaves poll NULL. */
struct pci_model_ops {
	enum ap_pci_model model;
	const char *name;
	void (*defaults)(struct ap_pci_config *cfg);
	/* Check what the model needs of cfg; -EINVAL with the message set. */
	int (*check)(struct ap_ctx *ctx, const struct ap_pci_config *cfg);
	/* Allocate the model's state (pci->model) and lay out its registers in
	 * configuration space (values and masks). */
	int (*init)(struct ap_pci *pci);
	void (*fini)(struct ap_pci *pci);
	/* BAR registers and engine to power-on state (lock held). */
	void (*reset)(struct ap_pci *pci);
	/* One look at the registers (lock held); the work done. */
	int (*poll)(struct ap_pci *pci);
};

extern const struct pci_model_ops ap__pci_generic_ops;
extern const struct pci_model_ops ap__pci_ioat_ops;

struct pci_state;

/* Something a poll found to tell a handler, once the lock is dropped. */
struct pci_event {
	bool is_fault;
	enum ap_pci_irq irq;
	unsigned vector;
	struct ap_fault fault;
};

struct ap_pci {
	struct ap_pci *next;
	struct pci_state *ps;
	struct ap_ctx *ctx;
	char name[13];
	uint16_t domain, rid;
	struct ap_device *dev;
	struct ap_pci_config cfg;
	const struct pci_model_ops *ops;
	void *model;                   /* the model's own state */
	pthread_mutex_t lock;

	size_t cfg_size;
	uint8_t config[PCI_CFG_MAX];   /* current registers */
	uint8_t wmask[PCI_CFG_MAX];    /* bits a write may change */
	uint8_t w1cmask[PCI_CFG_MAX];  /* bits a write of 1 clears */
	uint32_t cap_msix, cap_pcie, cap_pm;

	void *bar_mem[AP_PCI_BARS];    /* what the model reads and writes */
	void *bar_own[AP_PCI_BARS];    /* what the context allocated, or NULL */

	ap_pci_irq_fn irq_fn;
	void *irq_arg;
	ap_pci_fault_fn fault_fn;
	void *fault_arg;
	struct pci_event pending[PCI_PENDING_MAX];
	unsigned npending;
	struct ap_pci_stats stats;     /* updated under the lock, read relaxed */
};

/* The runner thread of a context. */
struct pci_runner {
	pthread_t thread;
	pthread_mutex_t mu;            /* held for each round */
	bool running;
	bool stop;                     /* atomic */
	ap_pci_hook_fn hook;
	void *hook_arg;
};

/* The PCI state of one context (frontend slot "pci"). */
struct pci_state {
	struct ap_ctx *ctx;
	struct ap_pci *head, *tail;
	uint64_t next_bar32, next_bar64; /* where firmware puts the next BAR */
	struct pci_runner runner;
};

/* Counters are read without the lock (ap_pci_get_stats). */
#define PCI_STAT_ADD(pci, field, n) __atomic_add_fetch(&(pci)->stats.field, (n), __ATOMIC_RELAXED)

/* pci.c */
struct pci_state *ap__pci_state(struct ap_ctx *ctx, bool create);
int ap__pci_fail(struct ap_ctx *ctx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Queue an interrupt or a fault for delivery after the poll (lock held). */
void ap__pci_raise(struct ap_pci *pci, enum ap_pci_irq irq, unsigned vector);
void ap__pci_report_fault(struct ap_pci *pci, const struct ap_fault *fault);
/* Whether the function may master the bus (command register), and
 * whether MSI-X is enabled and not masked (lock held). */
bool ap__pci_bus_master(const struct ap_pci *pci);
bool ap__pci_msix_on(const struct ap_pci *pci);
bool ap__pci_intx_on(const struct ap_pci *pci);

/* config.c */
void ap__pci_config_build(struct ap_pci *pci);
void ap__pci_cfg_set(struct ap_pci *pci, uint32_t off, unsigned len, uint32_t val,
		     uint32_t wmask, uint32_t w1c);
uint32_t ap__pci_cfg_get(const struct ap_pci *pci, uint32_t off, unsigned len);
int ap__pci_config_check(struct ap_ctx *ctx, const struct ap_pci_config *cfg);
void ap__pci_config_after_reset(struct ap_pci *pci);

#endif /* AP_PCI_INTERNAL_H */
