/* SPDX-License-Identifier: MIT */
/* Grace periods (rcu.h). */
#include "rcu.h"

#ifdef AP_TSAN
char ap__rcu_tsan_sync;
#endif

void ap__rcu_synchronize(void)
{
	urcu_bp_synchronize_rcu();
#ifdef AP_TSAN
	__tsan_acquire(&ap__rcu_tsan_sync);
#endif
}
