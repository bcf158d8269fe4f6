/* SPDX-License-Identifier: MIT */
/*
 * MMIO writes that take effect at once.  On a PCI Express device a read
 * that follows a posted write sees its effect (reads do not pass writes):
 * a driver that rings a doorbell and then reads a status register gets the
 * status after the doorbell.  A BAR that is plain shared memory, polled by
 * the devices' thread, gives stale answers in that window.  So the shim
 * write-protects the program's mappings of a BAR: a store faults
 * (SIGSEGV); the handler lifts the protection and sets the trap flag, so
 * the store runs and the CPU stops right after it (SIGTRAP); that handler
 * protects the mapping again and lets the device act on what was written,
 * before the program's next instruction.  Loads are never trapped.
 *
 * x86-64 only (the trap flag); elsewhere the devices' thread alone
 * answers, with the stale window.  A program's own handlers for SIGSEGV
 * and SIGTRAP are kept and called for every fault that is not a BAR
 * store (sigaction and signal are interposed for that).
 */
#define _GNU_SOURCE /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's switch */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "shim.h"

#define MAX_TRAPS 64
#define TRAP_FLAG 0x100 /* EFLAGS.TF */

struct trap {
	uintptr_t start, end;
	int prot;
	struct ap_pci *pci;
};

static struct trap traps[MAX_TRAPS];
static unsigned ntraps;          /* entries in use (never shrinks) */
static bool installed;
static struct sigaction prev_segv, prev_trap;
static __thread const struct trap *stepping;
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);

#if defined(__x86_64__)

static const struct trap *trap_at(uintptr_t addr)
{
	unsigned n = __atomic_load_n(&ntraps, __ATOMIC_ACQUIRE);

	for (unsigned i = 0; i < n; i++) {
		uintptr_t start = __atomic_load_n(&traps[i].start, __ATOMIC_ACQUIRE);

		if (start && addr >= start && addr < traps[i].end)
			return &traps[i];
	}
	return NULL;
}

/* A fault that is not ours goes where it would have gone without us. */
static void chain(const struct sigaction *prev, int sig, siginfo_t *si, void *uc)
{
	if (prev->sa_flags & SA_SIGINFO) {
		prev->sa_sigaction(sig, si, uc);
	} else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
		prev->sa_handler(sig);
	} else {
		struct sigaction dfl = { .sa_handler = SIG_DFL };

		/* the faulting instruction runs again, and the default kills */
		real_sigaction(sig, &dfl, NULL);
		if (sig == SIGTRAP)
			raise(sig);
	}
}

/* The device acts on the store: the engine polled now, as the runner
 * would, in this process (which, writing the BAR, drives the device). */
static void act(const struct trap *t)
{
	int err = errno;

	if (shim_depth)
		return; /* a store by the shim itself (a pread into a BAR mapping) */
	shim_claim();
	shim_calls_enter();
	ap_pci_poll(t->pci);
	shim_calls_leave();
	errno = err;
}

static void on_segv(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	const struct trap *t = trap_at((uintptr_t)si->si_addr);

	if (!t || !t->prot || si->si_code != SEGV_ACCERR || stepping) {
		chain(&prev_segv, sig, si, ucv);
		return;
	}
	mprotect((void *)t->start, t->end - t->start, t->prot);
	stepping = t;
	uc->uc_mcontext.gregs[REG_EFL] |= TRAP_FLAG;
}

static void on_trap(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	const struct trap *t = stepping;

	if (!t) {
		chain(&prev_trap, sig, si, ucv);
		return;
	}
	uc->uc_mcontext.gregs[REG_EFL] &= ~(greg_t)TRAP_FLAG;
	stepping = NULL;
	mprotect((void *)t->start, t->end - t->start, t->prot & ~PROT_WRITE);
	act(t);
}

static void install(void)
{
	struct sigaction sa;

	if (installed)
		return;
	*(void **)&real_sigaction = dlsym(RTLD_NEXT, "sigaction");
	if (!real_sigaction)
		return;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sa.sa_sigaction = on_segv;
	real_sigaction(SIGSEGV, &sa, &prev_segv);
	sa.sa_sigaction = on_trap;
	real_sigaction(SIGTRAP, &sa, &prev_trap);
	installed = true;
}

void shim_trap_add(void *addr, size_t len, int prot, struct ap_pci *pci)
{
	unsigned slot;

	bool protect = (prot & PROT_WRITE) && !getenv("APERTURE_SHIM_NO_TRAP");

	if (protect)
		install();
	for (slot = 0; slot < ntraps && traps[slot].start; slot++)
		;
	if (slot == MAX_TRAPS)
		return;
	traps[slot].end = (uintptr_t)addr + len;
	traps[slot].prot = prot;
	traps[slot].pci = pci;
	__atomic_store_n(&traps[slot].start, (uintptr_t)addr, __ATOMIC_RELEASE);
	if (slot == ntraps)
		__atomic_store_n(&ntraps, slot + 1, __ATOMIC_RELEASE);
	if (protect && installed)
		mprotect(addr, len, prot & ~PROT_WRITE);
	else
		traps[slot].prot = 0; /* recorded, not trapped */
}

bool shim_trap_remove(void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, b = a + len;
	bool hit = false;

	for (unsigned i = 0; i < ntraps; i++)
		if (traps[i].start && traps[i].start < b && a < traps[i].end) {
			__atomic_store_n(&traps[i].start, 0, __ATOMIC_RELEASE);
			hit = true;
		}
	return hit;
}

/* The program's handlers for SIGSEGV and SIGTRAP are remembered and
 * chained while the traps need ours.  Not instrumented by ThreadSanitizer:
 * its runtime calls sigaction while it starts, before instrumented code
 * may run. */
#define NO_TSAN __attribute__((no_sanitize_thread))

NO_TSAN static int keep_ours(int sig, const struct sigaction *act_, struct sigaction *old)
{
	struct sigaction *prev = sig == SIGSEGV ? &prev_segv : &prev_trap;

	if (old)
		*old = *prev;
	if (act_)
		*prev = *act_;
	return 0;
}

NO_TSAN SHIM_EXPORT int sigaction(int sig, const struct sigaction *act_, struct sigaction *old)
{
	if (installed && (sig == SIGSEGV || sig == SIGTRAP))
		return keep_ours(sig, act_, old);
	if (!real_sigaction)
		*(void **)&real_sigaction = dlsym(RTLD_NEXT, "sigaction");
	return real_sigaction(sig, act_, old);
}

NO_TSAN SHIM_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	static sighandler_t (*real_signal)(int, sighandler_t);
	struct sigaction sa, old;

	if (installed && (sig == SIGSEGV || sig == SIGTRAP)) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = handler;
		keep_ours(sig, &sa, &old);
		return old.sa_handler; /* shares its storage with sa_sigaction */
	}
	if (!real_signal)
		*(void **)&real_signal = dlsym(RTLD_NEXT, "signal");
	return real_signal(sig, handler);
}

#else /* no trap flag: the devices' thread answers alone */

void shim_trap_add(void *addr, size_t len, int prot, struct ap_pci *pci)
{
	(void)addr;
	(void)len;
	(void)prot;
	(void)pci;
}

bool shim_trap_remove(void *addr, size_t len)
{
	(void)addr;
	(void)len;
	return false;
}

#endif
