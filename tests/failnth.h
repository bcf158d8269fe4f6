/* SPDX-License-Identifier: MIT */
/*
 * The allocation-failure driver the fail-nth tests share (core, VFIO,
 * kinds): run a step with the n-th allocation of the context failing,
 * n = 1, 2, ..., until a run makes no failing allocation, which must then
 * succeed.  After every injected failure the step must have failed with
 * ENOMEM, said so ("memory" in ap_ctx_error()), and changed nothing: the
 * caller's snapshot taken before it equals the one after.  Include after
 * <cmocka.h> and "expect.h".
 */
#ifndef AP_TEST_FAILNTH_H
#define AP_TEST_FAILNTH_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <aperture/core.h>

struct failnth_flow {
	const char *name;
	struct ap_ctx *ctx;
	int (*step)(void *arg); /* 0, or a negative errno */
	void *arg;
	/* Optional: take the snapshot before a run; compare after a failed one. */
	void (*before)(void *snap);
	void (*unchanged)(void *snap, const char *flow, unsigned long n);
	void *snap;
};

/* Flows run and injection points met in this test program. */
static unsigned long failnth_flows, failnth_points;

static inline unsigned long failnth_run(const struct failnth_flow *f)
{
	unsigned long n;

	for (n = 1;; n++) {
		const char *why;
		bool fired;
		int rc;

		if (f->before)
			f->before(f->snap);
		ap_ctx_fail_nth(f->ctx, n);
		rc = f->step(f->arg);
		fired = ap_ctx_fail_fired(f->ctx);
		ap_ctx_fail_nth(f->ctx, 0);
		why = ap_ctx_error(f->ctx);
		if (!fired) {
			EXPECT(rc == 0, "%s: failed with %d without an injected failure (n=%lu): %s",
			       f->name, rc, n, why);
			break;
		}
		EXPECT(rc == -ENOMEM, "%s: injected failure %lu gave %d, not -ENOMEM (%s)", f->name,
		       n, rc, why);
		EXPECT(strstr(why, "memory") != NULL,
		       "%s: injected failure %lu: the reason '%s' does not say memory", f->name, n,
		       why);
		if (f->unchanged)
			f->unchanged(f->snap, f->name, n);
	}
	printf("  %-58s %lu injection point%s\n", f->name, n - 1, n - 1 == 1 ? "" : "s");
	failnth_flows++;
	failnth_points += n - 1;
	return n - 1;
}

#endif /* AP_TEST_FAILNTH_H */
