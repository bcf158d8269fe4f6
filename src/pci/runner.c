/* SPDX-License-Identifier: MIT */
/*
 * The runner: one thread per context that polls every function with an
 * engine, as hardware runs beside the CPU.  It looks again at once while
 * there is work, then backs off (yield, then sleeps doubling from 10 us to
 * 1 ms) so that an idle model costs little on a shared machine.  fork(2)
 * support: the thread stops at a round boundary for the fork and the child
 * starts one of its own.
 */
#include <errno.h>
#include <sched.h>
#include <time.h>

#include "pci_internal.h"

#define IDLE_MAX_NS 1000000L
#define IDLE_MIN_NS 10000L

static bool stopping(struct pci_runner *r)
{
	return __atomic_load_n(&r->stop, __ATOMIC_ACQUIRE);
}

/* One look at every function; the work done. */
static int round_once(struct pci_state *ps)
{
	struct pci_runner *r = &ps->runner;
	int work = 0;

	if (r->hook && !r->hook(r->hook_arg, true))
		return 0;
	pthread_mutex_lock(&r->mu);
	for (struct ap_pci *pci = ps->head; pci; pci = pci->next)
		work += ap_pci_poll(pci);
	pthread_mutex_unlock(&r->mu);
	if (r->hook)
		r->hook(r->hook_arg, false);
	return work;
}

static void idle_wait(unsigned idle)
{
	long ns = IDLE_MIN_NS << (idle < 7 ? idle : 7);
	struct timespec ts = { 0, ns < IDLE_MAX_NS ? ns : IDLE_MAX_NS };

	if (!idle)
		sched_yield();
	else
		nanosleep(&ts, NULL);
}

static void *runner_main(void *arg)
{
	struct pci_state *ps = arg;
	unsigned idle = 0;

	while (!stopping(&ps->runner)) {
		if (round_once(ps))
			idle = 0;
		else if (idle < 64)
			idle++;
		idle_wait(idle);
	}
	return NULL;
}

static bool has_engine(const struct pci_state *ps)
{
	for (const struct ap_pci *pci = ps->head; pci; pci = pci->next)
		if (pci->ops->poll)
			return true;
	return false;
}

static int spawn(struct pci_state *ps)
{
	struct pci_runner *r = &ps->runner;

	__atomic_store_n(&r->stop, false, __ATOMIC_RELEASE);
	if (pthread_create(&r->thread, NULL, runner_main, ps))
		return ap__pci_fail(ps->ctx, -EAGAIN, "cannot start the PCI runner thread");
	r->running = true;
	return 0;
}

int ap_pci_start(struct ap_ctx *ctx, ap_pci_hook_fn hook, void *arg)
{
	struct pci_state *ps;

	if (!ctx)
		return -EINVAL;
	ps = ap__pci_state(ctx, true);
	if (!ps)
		return -ENOMEM;
	if (ps->runner.running)
		return ap__pci_fail(ctx, -EBUSY, "the PCI runner is already running");
	ps->runner.hook = hook;
	ps->runner.hook_arg = arg;
	if (!has_engine(ps))
		return 0; /* nothing to run: started, trivially */
	return spawn(ps);
}

void ap_pci_stop(struct ap_ctx *ctx)
{
	struct pci_state *ps = ctx ? ap__pci_state(ctx, false) : NULL;

	if (!ps || !ps->runner.running)
		return;
	__atomic_store_n(&ps->runner.stop, true, __ATOMIC_RELEASE);
	pthread_join(ps->runner.thread, NULL);
	ps->runner.running = false;
}

/* Before fork: every round and every function's lock held, so the child's
 * copy of the model is between operations. */
void ap_pci_fork_prepare(struct ap_ctx *ctx)
{
	struct pci_state *ps = ctx ? ap__pci_state(ctx, false) : NULL;

	if (!ps)
		return;
	pthread_mutex_lock(&ps->runner.mu);
	for (struct ap_pci *pci = ps->head; pci; pci = pci->next)
		pthread_mutex_lock(&pci->lock);
}

void ap_pci_fork_parent(struct ap_ctx *ctx)
{
	struct pci_state *ps = ctx ? ap__pci_state(ctx, false) : NULL;

	if (!ps)
		return;
	for (struct ap_pci *pci = ps->head; pci; pci = pci->next)
		pthread_mutex_unlock(&pci->lock);
	pthread_mutex_unlock(&ps->runner.mu);
}

/* In the child the locks are fresh (their holder, the forking thread, is
 * the child's only thread) and the runner thread is gone: start another. */
void ap_pci_fork_child(struct ap_ctx *ctx)
{
	struct pci_state *ps = ctx ? ap__pci_state(ctx, false) : NULL;

	if (!ps)
		return;
	for (struct ap_pci *pci = ps->head; pci; pci = pci->next)
		pthread_mutex_init(&pci->lock, NULL);
	pthread_mutex_init(&ps->runner.mu, NULL);
	if (ps->runner.running && spawn(ps))
		ps->runner.running = false;
}
