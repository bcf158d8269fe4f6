/* SPDX-License-Identifier: MIT */
/*
 * The PCI layer's objects: the per-context list of functions (frontend
 * slot "pci"), their configuration from text, creation, BAR memory, polls,
 * resets and the handlers a poll's interrupts and faults go to.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci_internal.h"

static const struct pci_model_ops *const models[] = { &ap__pci_generic_ops,
						      &ap__pci_ioat_ops };

int ap__pci_fail(struct ap_ctx *ctx, int err, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ap_ctx_set_error(ctx, "%s", msg);
	return err;
}

/* ------------------------------------------------------------ state */

static void function_free(struct ap_pci *pci)
{
	if (pci->ops->fini)
		pci->ops->fini(pci);
	for (unsigned n = 0; n < AP_PCI_BARS; n++)
		ap_mem_free(pci->ctx, pci->bar_own[n]);
	pthread_mutex_destroy(&pci->lock);
	ap_mem_free(pci->ctx, pci);
}

static void state_destroy(void *arg)
{
	struct pci_state *ps = arg;
	struct ap_pci *pci, *next;

	ap_pci_stop(ps->ctx);
	for (pci = ps->head; pci; pci = next) {
		next = pci->next;
		function_free(pci);
	}
	pthread_mutex_destroy(&ps->runner.mu);
	ap_mem_free(ps->ctx, ps);
}

struct pci_state *ap__pci_state(struct ap_ctx *ctx, bool create)
{
	struct pci_state *ps = ap_ctx_frontend(ctx, PCI_FRONTEND_KEY);

	if (ps || !create)
		return ps;
	ps = ap_mem_alloc(ctx, sizeof(*ps));
	if (!ps) {
		ap_ctx_set_error(ctx, "out of memory for the PCI state");
		return NULL;
	}
	ps->ctx = ctx;
	ps->next_bar32 = 0xc0000000ull;
	ps->next_bar64 = 1ull << 39;
	pthread_mutex_init(&ps->runner.mu, NULL);
	if (ap_ctx_set_frontend(ctx, PCI_FRONTEND_KEY, ps, state_destroy)) {
		pthread_mutex_destroy(&ps->runner.mu);
		ap_mem_free(ctx, ps);
		return NULL;
	}
	return ps;
}

int ap_pci_init(struct ap_ctx *ctx)
{
	if (!ctx)
		return -EINVAL;
	return ap__pci_state(ctx, true) ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------ configuration */

static const struct pci_model_ops *model_ops(enum ap_pci_model model)
{
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		if (models[i]->model == model)
			return models[i];
	return NULL;
}

enum ap_pci_model ap_pci_model_from_name(const char *name)
{
	for (size_t i = 0; name && i < sizeof(models) / sizeof(models[0]); i++)
		if (!strcmp(models[i]->name, name))
			return models[i]->model;
	return 0;
}

const char *ap_pci_model_name(enum ap_pci_model model)
{
	const struct pci_model_ops *ops = model_ops(model);

	return ops ? ops->name : "?";
}

void ap_pci_config_init(struct ap_pci_config *cfg, enum ap_pci_model model)
{
	const struct pci_model_ops *ops = model_ops(model);

	memset(cfg, 0, sizeof(*cfg));
	ap__pci_generic_ops.defaults(cfg);
	if (!ops) {
		cfg->model = 0;
		return;
	}
	ops->defaults(cfg);
}

static int parse_u(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "16K,mmap,64,prefetch" */
static int parse_bar(const char *value, uint64_t *size, unsigned *flags)
{
	char buf[64], *save = NULL, *word;
	int err;

	if (strlen(value) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, value);
	word = strtok_r(buf, ",", &save);
	if (!word)
		return -EINVAL;
	err = ap_parse_size(word, size);
	if (err)
		return -EINVAL;
	*flags = 0;
	while ((word = strtok_r(NULL, ",", &save))) {
		if (!strcmp(word, "mmap"))
			*flags |= AP_PCI_BAR_MMAP;
		else if (!strcmp(word, "64"))
			*flags |= AP_PCI_BAR_64;
		else if (!strcmp(word, "prefetch"))
			*flags |= AP_PCI_BAR_PREFETCH;
		else
			return -EINVAL;
	}
	if (!*size)
		*flags = 0;
	return 0;
}

/* MSI-X table and PBA in the middle of the first BAR that holds both, as
 * devices that keep registers in the low half do. */
static void place_msix(struct ap_pci_config *cfg)
{
	uint64_t tbl = (uint64_t)cfg->msix * 16, pba = ((uint64_t)cfg->msix + 63) / 64 * 8;

	for (unsigned n = 0; n < AP_PCI_BARS; n++) {
		uint64_t half = cfg->bar_size[n] / 2;

		if (cfg->bar_size[n] && half >= 8 && tbl + pba <= half) {
			cfg->msix_bar = n;
			cfg->msix_table_offset = (uint32_t)half;
			cfg->msix_pba_offset = (uint32_t)((half + tbl + 7) & ~7ull);
			return;
		}
	}
	cfg->msix_bar = AP_PCI_BARS; /* none: ap_pci_new() says so */
}

struct num_key {
	const char *key, *form;
	uint64_t max;
	size_t off, size;
};

#define NUM_KEY(k, field, max_) { k, k "=N", max_, offsetof(struct ap_pci_config, field), \
				  sizeof(((struct ap_pci_config *)0)->field) }

static const struct num_key num_keys[] = {
	NUM_KEY("vendor", vendor, 0xffff),
	NUM_KEY("device", device, 0xffff),
	NUM_KEY("subsystem-vendor", subsystem_vendor, 0xffff),
	NUM_KEY("subsystem-device", subsystem_device, 0xffff),
	NUM_KEY("class", class_code, 0xffffff),
	NUM_KEY("revision", revision, 0xff),
	NUM_KEY("pin", intx_pin, 4),
};

static void store(void *field, size_t size, uint64_t v)
{
	if (size == 1)
		*(uint8_t *)field = (uint8_t)v;
	else if (size == 2)
		*(uint16_t *)field = (uint16_t)v;
	else
		*(uint32_t *)field = (uint32_t)v;
}

int ap_pci_config_set(struct ap_pci_config *cfg, const char *key, const char *value,
		      const char **expected)
{
	static const char bar_form[] = "barN=SIZE[,mmap][,64][,prefetch]";
	uint64_t v;

	if (expected)
		*expected = "";
	if (!cfg || !key || !value)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(num_keys) / sizeof(num_keys[0]); i++) {
		if (strcmp(key, num_keys[i].key))
			continue;
		if (expected)
			*expected = num_keys[i].form;
		if (parse_u(value, num_keys[i].max, &v))
			return -EINVAL;
		store((char *)cfg + num_keys[i].off, num_keys[i].size, v);
		return 0;
	}
	if (!strncmp(key, "bar", 3) && key[3] >= '0' && key[3] <= '5' && !key[4]) {
		unsigned n = (unsigned)(key[3] - '0'), flags;

		if (expected)
			*expected = bar_form;
		if (parse_bar(value, &v, &flags))
			return -EINVAL;
		cfg->bar_size[n] = v;
		cfg->bar_flags[n] = flags;
		return 0;
	}
	if (!strcmp(key, "msix")) {
		if (expected)
			*expected = "msix=N";
		if (parse_u(value, 2048, &v))
			return -EINVAL;
		cfg->msix = (unsigned)v;
		if (cfg->model != AP_PCI_IOAT)
			place_msix(cfg);
		return 0;
	}
	return -ENOENT;
}

/* ------------------------------------------------------------ addresses */

/* A hex field of at most `digits` digits ending at `end` (a character, or
 * '\0'); the position after it, or NULL. */
static const char *hex_field(const char *s, unsigned digits, char end, unsigned *out)
{
	unsigned v = 0, n = 0;

	for (; *s && *s != end && n < digits; s++, n++) {
		char c = *s;
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
						    : 16u;

		if (d > 15)
			return NULL;
		v = v * 16 + d;
	}
	if (!n || *s != end)
		return NULL;
	*out = v;
	return end ? s + 1 : s;
}

int ap_pci_parse_bdf(const char *text, char name[13], uint16_t *domain, uint16_t *rid)
{
	unsigned d = 0, b, s, f;
	const char *p = text;

	if (!text)
		return -EINVAL;
	/* DDDD:BB:DD.F has two colons, BB:DD.F one */
	if (strchr(text, ':') != strrchr(text, ':') && !(p = hex_field(p, 4, ':', &d)))
		return -EINVAL;
	if (!(p = hex_field(p, 2, ':', &b)) || !(p = hex_field(p, 2, '.', &s)) ||
	    !hex_field(p, 1, '\0', &f) || s > 31 || f > 7)
		return -EINVAL;
	if (name)
		snprintf(name, 13, "%04x:%02x:%02x.%u", d, b, s, f);
	if (domain)
		*domain = (uint16_t)d;
	if (rid)
		*rid = (uint16_t)(b << 8 | s << 3 | f);
	return 0;
}

/* ------------------------------------------------------------ functions */

struct ap_pci *ap_pci_find(struct ap_ctx *ctx, const char *bdf)
{
	struct pci_state *ps = ctx ? ap__pci_state(ctx, false) : NULL;
	char name[13];

	if (!ps || ap_pci_parse_bdf(bdf, name, NULL, NULL))
		return NULL;
	for (struct ap_pci *pci = ps->head; pci; pci = pci->next)
		if (!strcmp(pci->name, name))
			return pci;
	return NULL;
}

struct ap_pci *ap_pci_of_device(struct ap_ctx *ctx, const struct ap_device *dev)
{
	struct pci_state *ps = ctx ? ap__pci_state(ctx, false) : NULL;

	for (struct ap_pci *pci = ps ? ps->head : NULL; pci; pci = pci->next)
		if (pci->dev == dev)
			return pci;
	return NULL;
}

struct ap_pci *ap_pci_next(struct ap_ctx *ctx, struct ap_pci *prev)
{
	struct pci_state *ps;

	if (prev)
		return prev->next;
	ps = ctx ? ap__pci_state(ctx, false) : NULL;
	return ps ? ps->head : NULL;
}

static int alloc_bars(struct ap_pci *pci)
{
	for (unsigned n = 0; n < AP_PCI_BARS; n++) {
		if (!pci->cfg.bar_size[n])
			continue;
		pci->bar_own[n] = ap_mem_alloc(pci->ctx, (size_t)pci->cfg.bar_size[n]);
		if (!pci->bar_own[n])
			return ap__pci_fail(pci->ctx, -ENOMEM, "out of memory for BAR%u of %s", n,
					    pci->name);
		pci->bar_mem[n] = pci->bar_own[n];
	}
	return 0;
}

static int check_new(struct ap_ctx *ctx, const char *bdf, const char *name,
		     const struct ap_device *dev, const struct ap_pci_config *cfg)
{
	const struct ap_pci *taken;

	if (!model_ops(cfg->model))
		return ap__pci_fail(ctx, -EINVAL, "%s: unknown PCI model %d", name, cfg->model);
	taken = ap_pci_find(ctx, bdf);
	if (taken)
		return ap__pci_fail(ctx, -EEXIST, "PCI address %s is taken", name);
	if (ap_pci_of_device(ctx, dev))
		return ap__pci_fail(ctx, -EEXIST, "device '%s' already has a PCI function",
				    ap_device_name(dev));
	if (model_ops(cfg->model)->check) {
		int err = model_ops(cfg->model)->check(ctx, cfg);

		if (err)
			return err;
	}
	return ap__pci_config_check(ctx, cfg);
}

int ap_pci_new(struct ap_ctx *ctx, const char *bdf, struct ap_device *dev,
	       const struct ap_pci_config *cfg, struct ap_pci **out)
{
	struct pci_state *ps;
	struct ap_pci *pci;
	char name[13];
	uint16_t domain, rid;
	int err;

	if (!ctx || !dev || !cfg)
		return -EINVAL;
	if (ap_pci_parse_bdf(bdf, name, &domain, &rid))
		return ap__pci_fail(ctx, -EINVAL, "'%s' is not a PCI address (DDDD:BB:DD.F or "
				    "BB:DD.F)", bdf);
	err = check_new(ctx, bdf, name, dev, cfg);
	if (err)
		return err;
	ps = ap__pci_state(ctx, true);
	if (!ps)
		return -ENOMEM;
	pci = ap_mem_alloc(ctx, sizeof(*pci));
	if (!pci)
		return ap__pci_fail(ctx, -ENOMEM, "out of memory for PCI function %s", name);
	pci->ps = ps;
	pci->ctx = ctx;
	memcpy(pci->name, name, sizeof(name));
	pci->domain = domain;
	pci->rid = rid;
	pci->dev = dev;
	pci->cfg = *cfg;
	pci->ops = model_ops(cfg->model);
	pthread_mutex_init(&pci->lock, NULL);
	err = alloc_bars(pci);
	if (!err) {
		uint64_t next32 = ps->next_bar32, next64 = ps->next_bar64;

		ap__pci_config_build(pci);
		err = pci->ops->init ? pci->ops->init(pci) : 0;
		if (err) {
			ps->next_bar32 = next32;
			ps->next_bar64 = next64;
		}
	}
	if (err) {
		for (unsigned n = 0; n < AP_PCI_BARS; n++)
			ap_mem_free(ctx, pci->bar_own[n]);
		pthread_mutex_destroy(&pci->lock);
		ap_mem_free(ctx, pci);
		return err;
	}
	pci->ops->reset(pci);
	if (ps->tail)
		ps->tail->next = pci;
	else
		ps->head = pci;
	ps->tail = pci;
	if (out)
		*out = pci;
	return 0;
}

const char *ap_pci_name(const struct ap_pci *pci)
{
	return pci ? pci->name : "";
}

uint16_t ap_pci_rid(const struct ap_pci *pci)
{
	return pci ? pci->rid : 0;
}

struct ap_device *ap_pci_device(const struct ap_pci *pci)
{
	return pci ? pci->dev : NULL;
}

const struct ap_pci_config *ap_pci_get_config(const struct ap_pci *pci)
{
	return pci ? &pci->cfg : NULL;
}

size_t ap_pci_config_size(const struct ap_pci *pci)
{
	return pci ? pci->cfg_size : 0;
}

/* ------------------------------------------------------------ BARs */

void *ap_pci_bar(const struct ap_pci *pci, unsigned n, uint64_t *size)
{
	if (size)
		*size = 0;
	if (!pci || n >= AP_PCI_BARS || !pci->bar_mem[n])
		return NULL;
	if (size)
		*size = pci->cfg.bar_size[n];
	return pci->bar_mem[n];
}

int ap_pci_bar_set_backing(struct ap_pci *pci, unsigned n, void *mem)
{
	if (!pci || n >= AP_PCI_BARS || !pci->bar_mem[n] || !mem)
		return -EINVAL;
	pthread_mutex_lock(&pci->lock);
	if (mem != pci->bar_mem[n])
		memcpy(mem, pci->bar_mem[n], (size_t)pci->cfg.bar_size[n]);
	pci->bar_mem[n] = mem;
	ap_mem_free(pci->ctx, pci->bar_own[n]);
	pci->bar_own[n] = NULL;
	pthread_mutex_unlock(&pci->lock);
	return 0;
}

static int bar_range(struct ap_pci *pci, unsigned n, uint64_t offset, size_t len)
{
	uint64_t size = n < AP_PCI_BARS ? pci->cfg.bar_size[n] : 0;

	if (!size || offset > size || len > size - offset)
		return ap__pci_fail(pci->ctx, -EINVAL, "%s: BAR%u access 0x%llx+%zu is outside it",
				    pci->name, n, (unsigned long long)offset, len);
	return 0;
}

/* Byte by byte with relaxed atomics: the engine and a driver's direct
 * stores touch the same memory. */
int ap_pci_bar_read(struct ap_pci *pci, unsigned n, uint64_t offset, void *buf, size_t len)
{
	const uint8_t *src;
	int err;

	if (!pci || (!buf && len))
		return -EINVAL;
	err = bar_range(pci, n, offset, len);
	if (err)
		return err;
	pthread_mutex_lock(&pci->lock);
	src = (const uint8_t *)pci->bar_mem[n] + offset;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = __atomic_load_n(src + i, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&pci->lock);
	return 0;
}

int ap_pci_bar_write(struct ap_pci *pci, unsigned n, uint64_t offset, const void *buf,
		     size_t len)
{
	uint8_t *dst;
	int err;

	if (!pci || (!buf && len))
		return -EINVAL;
	err = bar_range(pci, n, offset, len);
	if (err)
		return err;
	pthread_mutex_lock(&pci->lock);
	dst = (uint8_t *)pci->bar_mem[n] + offset;
	for (size_t i = 0; i < len; i++)
		__atomic_store_n(dst + i, ((const uint8_t *)buf)[i], __ATOMIC_RELAXED);
	pthread_mutex_unlock(&pci->lock);
	return 0;
}

/* ------------------------------------------------------------ engine */

void ap__pci_raise(struct ap_pci *pci, enum ap_pci_irq irq, unsigned vector)
{
	PCI_STAT_ADD(pci, irqs, 1);
	if (pci->npending < PCI_PENDING_MAX)
		pci->pending[pci->npending++] =
			(struct pci_event){ .irq = irq, .vector = vector };
}

void ap__pci_report_fault(struct ap_pci *pci, const struct ap_fault *fault)
{
	PCI_STAT_ADD(pci, faults, 1);
	if (pci->npending < PCI_PENDING_MAX)
		pci->pending[pci->npending++] =
			(struct pci_event){ .is_fault = true, .fault = *fault };
}

/* Hand what the poll queued to the handlers, outside the lock (a handler
 * may take locks of its own that are held around config accesses). */
static void deliver(struct ap_pci *pci, const struct pci_event *ev, unsigned n,
		    ap_pci_irq_fn irq_fn, void *irq_arg, ap_pci_fault_fn fault_fn,
		    void *fault_arg)
{
	for (unsigned i = 0; i < n; i++) {
		if (ev[i].is_fault && fault_fn)
			fault_fn(fault_arg, pci, &ev[i].fault);
		else if (!ev[i].is_fault && irq_fn)
			irq_fn(irq_arg, pci, ev[i].irq, ev[i].vector);
	}
}

int ap_pci_poll(struct ap_pci *pci)
{
	struct pci_event ev[PCI_PENDING_MAX];
	ap_pci_irq_fn irq_fn;
	ap_pci_fault_fn fault_fn;
	void *irq_arg, *fault_arg;
	unsigned n;
	int work;

	if (!pci || !pci->ops->poll)
		return 0;
	pthread_mutex_lock(&pci->lock);
	work = pci->ops->poll(pci);
	n = pci->npending;
	memcpy(ev, pci->pending, n * sizeof(ev[0]));
	pci->npending = 0;
	irq_fn = pci->irq_fn;
	irq_arg = pci->irq_arg;
	fault_fn = pci->fault_fn;
	fault_arg = pci->fault_arg;
	pthread_mutex_unlock(&pci->lock);
	deliver(pci, ev, n, irq_fn, irq_arg, fault_fn, fault_arg);
	return work;
}

void ap_pci_reset(struct ap_pci *pci)
{
	if (!pci)
		return;
	pthread_mutex_lock(&pci->lock);
	pci->ops->reset(pci);
	ap__pci_config_after_reset(pci);
	pci->npending = 0;
	pthread_mutex_unlock(&pci->lock);
}

void ap_pci_set_irq_handler(struct ap_pci *pci, ap_pci_irq_fn fn, void *arg)
{
	if (!pci)
		return;
	pthread_mutex_lock(&pci->lock);
	pci->irq_fn = fn;
	pci->irq_arg = arg;
	pthread_mutex_unlock(&pci->lock);
}

void ap_pci_set_fault_handler(struct ap_pci *pci, ap_pci_fault_fn fn, void *arg)
{
	if (!pci)
		return;
	pthread_mutex_lock(&pci->lock);
	pci->fault_fn = fn;
	pci->fault_arg = arg;
	pthread_mutex_unlock(&pci->lock);
}

void ap_pci_get_stats(const struct ap_pci *pci, struct ap_pci_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!pci)
		return;
	out->descriptors = __atomic_load_n(&pci->stats.descriptors, __ATOMIC_RELAXED);
	out->bytes = __atomic_load_n(&pci->stats.bytes, __ATOMIC_RELAXED);
	out->faults = __atomic_load_n(&pci->stats.faults, __ATOMIC_RELAXED);
	out->irqs = __atomic_load_n(&pci->stats.irqs, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------ generic */

static void generic_defaults(struct ap_pci_config *cfg)
{
	cfg->model = AP_PCI_GENERIC;
	cfg->vendor = 0x1b36;
	cfg->device = 0x0005;
	cfg->class_code = 0xff0000;
	cfg->intx_pin = 1;
	cfg->msix_bar = AP_PCI_BARS;
}

static void generic_reset(struct ap_pci *pci)
{
	for (unsigned n = 0; n < AP_PCI_BARS; n++)
		if (pci->bar_mem[n])
			memset(pci->bar_mem[n], 0, (size_t)pci->cfg.bar_size[n]);
}

const struct pci_model_ops ap__pci_generic_ops = {
	.model = AP_PCI_GENERIC,
	.name = "generic",
	.defaults = generic_defaults,
	.reset = generic_reset,
};
