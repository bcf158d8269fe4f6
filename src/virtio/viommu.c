/* SPDX-License-Identifier: MIT */
/*
 * The virtio-iommu device: its life, its transport-facing registers
 * (features, status, configuration, queues) and its state.  Requests are
 * request.c's, the rings vring.c's, faults event.c's.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "virtio_internal.h"

void ap_viommu_config_init(struct ap_viommu_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* §5.13.3.2: new devices should not offer the legacy F_BYPASS. */
	cfg->features = (VIOMMU_DEVICE_BITS & ~AP_VIOMMU_FEATURE(VIRTIO_IOMMU_F_BYPASS)) |
			VIOMMU_RING_BITS;
	cfg->probe_size = 512;
	cfg->queue_size_max = 256;
}

static int check_config(struct ap_ctx *ctx, const struct ap_viommu_config *c)
{
	uint64_t both = AP_VIOMMU_FEATURE(VIRTIO_IOMMU_F_BYPASS) |
			AP_VIOMMU_FEATURE(VIRTIO_IOMMU_F_BYPASS_CONFIG);

	if (c->features & ~(VIOMMU_DEVICE_BITS | VIOMMU_RING_BITS | VIOMMU_VERSION_1)) {
		ap_ctx_set_error(ctx, "virtio-iommu: features 0x%llx are not ones this device has",
				 (unsigned long long)(c->features &
						      ~(VIOMMU_DEVICE_BITS | VIOMMU_RING_BITS |
							VIOMMU_VERSION_1)));
		return -EINVAL;
	}
	/* §5.13.3.2: devices should not offer both. */
	if ((c->features & both) == both) {
		ap_ctx_set_error(ctx, "virtio-iommu: F_BYPASS and F_BYPASS_CONFIG offered together");
		return -EINVAL;
	}
	if (c->probe_size < 8 || c->probe_size > 65536 || c->probe_size % 4) {
		ap_ctx_set_error(ctx, "virtio-iommu: probe_size %u is not 8..65536 in steps of 4",
				 c->probe_size);
		return -EINVAL;
	}
	if (c->queue_size_max < 2 || (c->queue_size_max & (c->queue_size_max - 1))) {
		ap_ctx_set_error(ctx, "virtio-iommu: queue size %u is not a power of two >= 2",
				 c->queue_size_max);
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------ the context's list */

static void release(struct ap_viommu *v)
{
	size_t i;

	for (i = 0; i < v->ndoms; i++) {
		ap__itree_destroy(v->ctx, v->doms[i]->maps);
		ap_mem_free(v->ctx, v->doms[i]);
	}
	for (i = 0; i < v->neps; i++)
		ap_mem_free(v->ctx, v->eps[i]);
	for (i = 0; i < AP_VIOMMU_NQUEUES; i++)
		ap_mem_free(v->ctx, v->q[i].segs);
	while (v->spare) {
		struct vmap *m = v->spare;

		v->spare = m->left;
		ap_mem_free(v->ctx, m);
	}
	ap_mem_free(v->ctx, v->doms);
	ap_mem_free(v->ctx, v->eps);
	pthread_mutex_destroy(&v->lock);
	ap_mem_free(v->ctx, v);
}

/* At ap_ctx_free(): the core frees its domains itself, we free ours. */
static void state_destroy(void *arg)
{
	struct vstate *vs = arg;
	size_t i;

	for (i = 0; i < vs->ndevs; i++)
		release(vs->devs[i]);
	ap_mem_free(vs->ctx, vs->devs);
	ap_mem_free(vs->ctx, vs);
}

static struct vstate *state(struct ap_ctx *ctx, bool create)
{
	struct vstate *vs = ap_ctx_frontend(ctx, VIOMMU_FRONTEND_KEY);

	if (vs || !create)
		return vs;
	vs = ap_mem_alloc(ctx, sizeof(*vs));
	if (!vs)
		return NULL;
	vs->ctx = ctx;
	if (ap_ctx_set_frontend(ctx, VIOMMU_FRONTEND_KEY, vs, state_destroy)) {
		ap_mem_free(ctx, vs);
		return NULL;
	}
	return vs;
}

struct ap_viommu *ap_viommu_of(struct ap_ctx *ctx, const struct ap_iommu *iommu)
{
	struct vstate *vs = ctx ? state(ctx, false) : NULL;
	size_t i;

	for (i = 0; vs && i < vs->ndevs; i++)
		if (vs->devs[i]->iommu == iommu)
			return vs->devs[i];
	return NULL;
}

struct ap_viommu *ap_viommu_next(struct ap_ctx *ctx, const struct ap_viommu *prev)
{
	struct vstate *vs = ctx ? state(ctx, false) : NULL;
	size_t i = 0;

	if (!vs)
		return NULL;
	if (prev)
		while (i < vs->ndevs && vs->devs[i++] != prev)
			;
	return i < vs->ndevs ? vs->devs[i] : NULL;
}

struct ap_iommu *ap_viommu_iommu(const struct ap_viommu *v)
{
	return v->iommu;
}

/* Whether iommu is one of ctx's instances. */
static bool owns(struct ap_ctx *ctx, const struct ap_iommu *iommu)
{
	struct ap_iommu *i = NULL;

	while ((i = ap_iommu_next(ctx, i)))
		if (i == iommu)
			return true;
	return false;
}

int ap_viommu_new(struct ap_ctx *ctx, struct ap_iommu *iommu, const struct ap_viommu_config *cfg,
		  struct ap_viommu **out)
{
	const struct ap_iommu_config *ic;
	struct ap_viommu_config defaults;
	struct ap_viommu **devs;
	struct ap_viommu *v;
	struct vstate *vs;
	int err;

	if (!cfg) {
		ap_viommu_config_init(&defaults);
		cfg = &defaults;
	}
	if (!ctx || !iommu || !owns(ctx, iommu)) {
		if (ctx)
			ap_ctx_set_error(ctx, "virtio-iommu: the instance is not this context's");
		return -EINVAL;
	}
	ic = ap_iommu_get_config(iommu);
	if (ic->kind != AP_IOMMU_VIRTIO_IOMMU) {
		ap_ctx_set_error(ctx, "virtio-iommu: instance %s is an %s, not a virtio-iommu",
				 ap_iommu_name(iommu), ap_iommu_kind_name(ic->kind));
		return -EINVAL;
	}
	err = check_config(ctx, cfg);
	if (err)
		return err;
	if (ap_viommu_of(ctx, iommu)) {
		ap_ctx_set_error(ctx, "virtio-iommu: instance %s has a device already",
				 ap_iommu_name(iommu));
		return -EEXIST;
	}
	vs = state(ctx, true);
	v = vs ? ap_mem_alloc(ctx, sizeof(*v)) : NULL;
	devs = v ? ap_mem_realloc(ctx, vs->devs, (vs->ndevs + 1) * sizeof(*devs)) : NULL;
	if (!devs) {
		ap_mem_free(ctx, v);
		ap_ctx_set_error(ctx, "virtio-iommu: out of memory");
		return -ENOMEM;
	}
	vs->devs = devs;
	v->ctx = ctx;
	v->iommu = iommu;
	v->vs = vs;
	v->cfg = *cfg;
	v->cfg.features |= VIOMMU_VERSION_1;
	v->page_size_mask = ic->pgsize_bitmap;
	v->granule = ic->pgsize_bitmap & -ic->pgsize_bitmap;
	v->input_start = 0;
	v->input_end = ic->ias >= 64 ? UINT64_MAX : (1ull << ic->ias) - 1;
	v->domain_start = ic->virtio.domain_start;
	v->domain_end = ic->virtio.domain_end;
	v->boot_bypass = (uint8_t)ic->virtio.bypass;
	v->bypass = v->boot_bypass;
	v->faults_base = ap_iommu_fault_count(iommu, AP_FAULT_NONE) - ap_iommu_fault_pending(iommu);
	pthread_mutex_init(&v->lock, NULL);
	vs->devs[vs->ndevs++] = v;
	ap__viommu_update_bypass(v);
	if (out)
		*out = v;
	return 0;
}

void ap_viommu_free(struct ap_viommu *v)
{
	struct vstate *vs;
	size_t i;

	if (!v)
		return;
	vs = v->vs;
	pthread_mutex_lock(&v->lock);
	ap__viommu_domains_reset(v);
	ap_iommu_set_unmatched(v->iommu, AP_UNMATCHED_ABORT);
	pthread_mutex_unlock(&v->lock);
	for (i = 0; i < vs->ndevs && vs->devs[i] != v; i++)
		;
	memmove(&vs->devs[i], &vs->devs[i + 1], (vs->ndevs - i - 1) * sizeof(*vs->devs));
	vs->ndevs--;
	release(v);
}

void ap_viommu_set_irq(struct ap_viommu *v, ap_viommu_irq_fn fn, void *arg)
{
	pthread_mutex_lock(&v->lock);
	v->irq = fn;
	v->irq_arg = arg;
	pthread_mutex_unlock(&v->lock);
}

void ap__viommu_irq(struct ap_viommu *v, int queue)
{
	if (v->irq)
		v->irq(v->irq_arg, queue);
}

void ap__viommu_needs_reset(struct ap_viommu *v, const char *why)
{
	if (v->needs_reset)
		return;
	v->needs_reset = why;
	v->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	/* §2.1.2: with a configuration change notification. */
	ap__viommu_irq(v, -1);
}

/* Bypass of unattached endpoints: offered and accepted (§5.13.6, with
 * aperture's stricter reading; see the header). */
void ap__viommu_update_bypass(struct ap_viommu *v)
{
	bool cfg = viommu_has(v, VIRTIO_IOMMU_F_BYPASS_CONFIG) && v->bypass == 1;
	bool legacy = viommu_has(v, VIRTIO_IOMMU_F_BYPASS);

	v->bypass_active = cfg || legacy;
	v->bypass_reason = cfg ? "the driver accepted VIRTIO_IOMMU_F_BYPASS_CONFIG and bypass is 1"
			   : legacy ? "the driver accepted the legacy VIRTIO_IOMMU_F_BYPASS"
				    : "";
	/* The instance passes unattached endpoints exactly then. */
	ap_iommu_set_unmatched(v->iommu, v->bypass_active ? AP_UNMATCHED_BYPASS
							  : AP_UNMATCHED_ABORT);
}

const char *ap_viommu_bypass_reason(const struct ap_viommu *v)
{
	struct ap_viommu *m = (struct ap_viommu *)(uintptr_t)v;
	const char *r;

	pthread_mutex_lock(&m->lock);
	r = v->bypass_reason;
	pthread_mutex_unlock(&m->lock);
	return r;
}

bool ap_viommu_bypass(const struct ap_viommu *v)
{
	struct ap_viommu *m = (struct ap_viommu *)(uintptr_t)v;
	bool b;

	pthread_mutex_lock(&m->lock);
	b = v->bypass_active;
	pthread_mutex_unlock(&m->lock);
	return b;
}

/* ------------------------------------------------------------ features and status */

uint64_t ap_viommu_device_features(const struct ap_viommu *v)
{
	return v->cfg.features;
}

int ap_viommu_set_driver_features(struct ap_viommu *v, uint64_t features)
{
	int err = 0;

	pthread_mutex_lock(&v->lock);
	/* §3.1.1: features are written before FEATURES_OK, never after. */
	if (v->status & VIRTIO_CONFIG_S_FEATURES_OK)
		err = -EBUSY;
	else
		v->driver_features = features;
	pthread_mutex_unlock(&v->lock);
	return err;
}

uint64_t ap_viommu_driver_features(const struct ap_viommu *v)
{
	struct ap_viommu *m = (struct ap_viommu *)(uintptr_t)v;
	uint64_t f;

	pthread_mutex_lock(&m->lock);
	f = v->driver_features;
	pthread_mutex_unlock(&m->lock);
	return f;
}

uint8_t ap_viommu_status(const struct ap_viommu *v)
{
	struct ap_viommu *m = (struct ap_viommu *)(uintptr_t)v;
	uint8_t s;

	pthread_mutex_lock(&m->lock);
	s = v->status;
	pthread_mutex_unlock(&m->lock);
	return s;
}

/* §2.4: everything but `bypass` goes back to how the device started. */
static void reset(struct ap_viommu *v)
{
	unsigned i;

	ap__viommu_domains_reset(v);
	for (i = 0; i < AP_VIOMMU_NQUEUES; i++) {
		ap_mem_free(v->ctx, v->q[i].segs);
		memset(&v->q[i], 0, sizeof(v->q[i]));
	}
	v->status = 0;
	v->driver_features = 0;
	v->negotiated = 0;
	v->needs_reset = NULL;
	ap__viommu_update_bypass(v);
}

/* §2.2.1: the device accepts a subset of its offer, and as a modern-only
 * device it needs VIRTIO_F_VERSION_1 (§6.1). */
static bool features_ok(const struct ap_viommu *v)
{
	return !(v->driver_features & ~v->cfg.features) &&
	       (v->driver_features & VIOMMU_VERSION_1);
}

void ap_viommu_set_status(struct ap_viommu *v, uint8_t status)
{
	uint8_t add;

	pthread_mutex_lock(&v->lock);
	if (status == 0) {
		reset(v);
		goto out;
	}
	/* Bits are only ever added (§2.1.1: the driver does not clear
	 * them); NEEDS_RESET is the device's to set. */
	add = status & (uint8_t)~v->status & (uint8_t)~VIRTIO_CONFIG_S_NEEDS_RESET;
	if ((add & VIRTIO_CONFIG_S_FEATURES_OK) && !features_ok(v))
		add &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	if (add & VIRTIO_CONFIG_S_FEATURES_OK) {
		v->negotiated = v->driver_features;
		ap__viommu_update_bypass(v);
	}
	if ((add & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !((v->status | add) & VIRTIO_CONFIG_S_FEATURES_OK))
		add &= (uint8_t)~VIRTIO_CONFIG_S_DRIVER_OK; /* §3.1.1 order */
	v->status |= add;
out:
	pthread_mutex_unlock(&v->lock);
}

void ap_viommu_system_reset(struct ap_viommu *v)
{
	pthread_mutex_lock(&v->lock);
	reset(v);
	if (v->bypass != v->boot_bypass) {
		v->bypass = v->boot_bypass;
		v->generation++;
	}
	ap__viommu_update_bypass(v);
	pthread_mutex_unlock(&v->lock);
}

/* ------------------------------------------------------------ configuration */

static void config_image(const struct ap_viommu *v, struct virtio_iommu_config *c)
{
	memset(c, 0, sizeof(*c));
	c->page_size_mask = htole64(v->page_size_mask);
	c->input_range.start = htole64(v->input_start);
	c->input_range.end = htole64(v->input_end);
	c->domain_range.start = htole32(v->domain_start);
	c->domain_range.end = htole32(v->domain_end);
	c->probe_size = htole32(v->cfg.probe_size);
	c->bypass = v->bypass;
}

void ap_viommu_config_read(const struct ap_viommu *v, unsigned offset, void *buf, size_t len)
{
	struct ap_viommu *m = (struct ap_viommu *)(uintptr_t)v;
	struct virtio_iommu_config c;
	size_t n = 0;

	pthread_mutex_lock(&m->lock);
	config_image(v, &c);
	pthread_mutex_unlock(&m->lock);
	if (offset < sizeof(c))
		n = sizeof(c) - offset < len ? sizeof(c) - offset : len;
	memcpy(buf, (const uint8_t *)&c + (offset < sizeof(c) ? offset : 0), n);
	memset((uint8_t *)buf + n, 0, len - n);
}

void ap_viommu_config_write(struct ap_viommu *v, unsigned offset, const void *buf, size_t len)
{
	const size_t at = offsetof(struct virtio_iommu_config, bypass);
	uint8_t val;

	/* §5.13.4.1: only `bypass` is the driver's; the rest is ignored. */
	if (offset > at || len <= at - offset)
		return;
	val = ((const uint8_t *)buf)[at - offset];
	pthread_mutex_lock(&v->lock);
	if (val != v->bypass) {
		if (!viommu_has(v, VIRTIO_IOMMU_F_BYPASS_CONFIG))
			ap__viommu_needs_reset(v, "config bypass written without "
						  "VIRTIO_IOMMU_F_BYPASS_CONFIG negotiated");
		else if (val > 1)
			ap__viommu_needs_reset(v, "config bypass written with a value other than "
						  "0 or 1");
		else {
			v->bypass = val;
			v->generation++;
			ap__viommu_update_bypass(v);
		}
	}
	pthread_mutex_unlock(&v->lock);
}

uint32_t ap_viommu_config_generation(const struct ap_viommu *v)
{
	struct ap_viommu *m = (struct ap_viommu *)(uintptr_t)v;
	uint32_t g;

	pthread_mutex_lock(&m->lock);
	g = v->generation;
	pthread_mutex_unlock(&m->lock);
	return g;
}

/* ------------------------------------------------------------ queues */

uint16_t ap_viommu_queue_max(const struct ap_viommu *v, unsigned q)
{
	return q < AP_VIOMMU_NQUEUES ? v->cfg.queue_size_max : 0;
}

int ap_viommu_queue_enable(struct ap_viommu *v, unsigned q, const struct ap_viommu_queue *g)
{
	struct vseg *segs;
	struct vq *vq;
	int err = 0;

	/* §2.7: a power-of-two size; parts aligned 16, 2 and 4. */
	if (q >= AP_VIOMMU_NQUEUES || !g || !g->size || (g->size & (g->size - 1)) ||
	    g->size > v->cfg.queue_size_max || g->desc % 16 || g->driver % 2 || g->device % 4)
		return -EINVAL;
	pthread_mutex_lock(&v->lock);
	vq = &v->q[q];
	if (vq->enabled || !(v->status & VIRTIO_CONFIG_S_DRIVER) || v->needs_reset) {
		err = -EBUSY;
		goto out;
	}
	segs = ap_mem_alloc(v->ctx, g->size * sizeof(*segs));
	if (!segs) {
		ap_ctx_set_error(v->ctx, "virtio-iommu: out of memory for queue %u", q);
		err = -ENOMEM;
		goto out;
	}
	memset(vq, 0, sizeof(*vq));
	vq->segs = segs;
	vq->size = g->size;
	vq->desc = g->desc;
	vq->avail = g->driver;
	vq->used = g->device;
	vq->enabled = true;
out:
	pthread_mutex_unlock(&v->lock);
	return err;
}

bool ap_viommu_queue_enabled(const struct ap_viommu *v, unsigned q)
{
	struct ap_viommu *m = (struct ap_viommu *)(uintptr_t)v;
	bool e;

	if (q >= AP_VIOMMU_NQUEUES)
		return false;
	pthread_mutex_lock(&m->lock);
	e = v->q[q].enabled;
	pthread_mutex_unlock(&m->lock);
	return e;
}

int ap_viommu_queue_notify(struct ap_viommu *v, unsigned q)
{
	uint16_t before;
	int n;

	if (q >= AP_VIOMMU_NQUEUES)
		return -EINVAL;
	pthread_mutex_lock(&v->lock);
	/* §2.1.2 and §3.1.1: nothing is used before DRIVER_OK, nor while
	 * the device needs a reset. */
	if (!v->q[q].enabled || v->needs_reset || !(v->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		pthread_mutex_unlock(&v->lock);
		return -EBUSY;
	}
	before = v->q[q].used_idx;
	v->ram.size = 0; /* RAM may have changed since the last notify */
	if (q == AP_VIOMMU_REQUESTQ)
		ap__viommu_process_requests(v);
	ap__viommu_report(v);
	n = (uint16_t)(v->q[q].used_idx - before);
	pthread_mutex_unlock(&v->lock);
	return n;
}

int ap_viommu_report_faults(struct ap_viommu *v)
{
	int n;

	pthread_mutex_lock(&v->lock);
	v->ram.size = 0;
	n = ap__viommu_report(v);
	pthread_mutex_unlock(&v->lock);
	return n;
}

/* ------------------------------------------------------------ state */

void ap_viommu_stats(const struct ap_viommu *v, struct ap_viommu_stats *out)
{
	struct ap_viommu *m = (struct ap_viommu *)(uintptr_t)v;
	uint64_t total, pending;

	pthread_mutex_lock(&m->lock);
	*out = v->st;
	out->domains = (unsigned)v->ndoms;
	out->needs_reset = v->needs_reset;
	pthread_mutex_unlock(&m->lock);
	/* Every fault the instance recorded is reported, pending, or lost. */
	total = ap_iommu_fault_count(v->iommu, AP_FAULT_NONE) - v->faults_base;
	pending = ap_iommu_fault_pending(v->iommu);
	out->events_lost = total > out->events + pending ? total - out->events - pending : 0;
	out->event_overflow = out->events_lost > 0;
}

int ap_viommu_domain_info(const struct ap_viommu *v, size_t index,
			  struct ap_viommu_domain_info *out)
{
	struct ap_viommu *m = (struct ap_viommu *)(uintptr_t)v;
	int err = -ENOENT;

	pthread_mutex_lock(&m->lock);
	if (index < v->ndoms) {
		const struct vdom *d = v->doms[index];

		*out = (struct ap_viommu_domain_info){ d->id, d->dom, d->bypass, d->nep, d->nmaps };
		err = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return err;
}

struct ap_domain *ap_viommu_domain(const struct ap_viommu *v, uint32_t id)
{
	struct ap_viommu *m = (struct ap_viommu *)(uintptr_t)v;
	struct vdom *d;

	pthread_mutex_lock(&m->lock);
	d = ap__viommu_find_dom(v, id);
	pthread_mutex_unlock(&m->lock);
	return d ? d->dom : NULL;
}

int64_t ap_viommu_endpoint_domain(const struct ap_viommu *v, uint32_t ep)
{
	struct ap_viommu *m = (struct ap_viommu *)(uintptr_t)v;
	struct vep *e;
	int64_t id;

	pthread_mutex_lock(&m->lock);
	e = ap__viommu_find_ep(v, ep);
	id = e && e->dom ? (int64_t)e->dom->id : -ENOENT;
	pthread_mutex_unlock(&m->lock);
	return id;
}
