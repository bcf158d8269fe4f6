/* SPDX-License-Identifier: MIT */
/*
 * Read-copy-update for the core, from liburcu's "bulletproof" flavour: it
 * needs no thread registration, so that any thread of the embedding program
 * may translate or DMA without telling us first.
 *
 * Readers (translation misses, DMA, map and unmap walking the tables) hold
 * a read-side section while they may touch a table, a RAM region or an
 * attachment that a writer could retire; writers retire those and free
 * them only after ap__rcu_synchronize(), when every section that could
 * have seen them has ended.
 *
 * ThreadSanitizer cannot see liburcu's grace periods (the library is not
 * instrumented), so under TSan the end of a read-side section releases,
 * and the end of a grace period acquires, one sync object: the
 * happens-before edge RCU guarantees, told to the tool.
 */
#ifndef AP_CORE_RCU_H
#define AP_CORE_RCU_H

/*
 * liburcu's short inline read-side primitives, except under UBSan
 * and static analysis (AP_URCU_CALLS, set by `make SANITIZE=1` and
 * tools/lint): liburcu 0.13 places its reader records 32 bytes into a
 * 128-byte-aligned arena though their type asks for 128-byte alignment,
 * harmless but reported in the inline code, and the analyser cannot see that
 * registration sets the reader pointer; the library's own copies are called
 * instead.
 */
#ifndef AP_URCU_CALLS
#define _LGPL_SOURCE 1 /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): liburcu's switch */
#endif
#include <urcu-bp.h>

#if defined(__SANITIZE_THREAD__)
#define AP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define AP_TSAN 1
#endif
#endif

#ifdef AP_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
extern char ap__rcu_tsan_sync;
#endif

#define AP_URCU_INLINE static inline

AP_URCU_INLINE void ap__rcu_read_lock(void)
{
	urcu_bp_read_lock();
}

AP_URCU_INLINE void ap__rcu_read_unlock(void)
{
#ifdef AP_TSAN
	__tsan_release(&ap__rcu_tsan_sync);
#endif
	urcu_bp_read_unlock();
}

/* Whether this thread's reader record exists: then ap__rcu_read_lock()
 * calls nothing (a path that must not call can go elsewhere when not). */
AP_URCU_INLINE bool ap__rcu_registered(void)
{
#ifdef AP_URCU_CALLS
	return true; /* the lock is a call anyway */
#else
	return URCU_TLS(urcu_bp_reader) != NULL;
#endif
}

/* Whether this thread is inside a read-side section (then it must not
 * wait for a grace period: it would wait for itself). */
AP_URCU_INLINE bool ap__rcu_reading(void)
{
	return urcu_bp_read_ongoing() != 0;
}

void ap__rcu_synchronize(void);

#endif /* AP_CORE_RCU_H */
