/* SPDX-License-Identifier: MIT */
/*
 * EXPECT and ull, for every test: a check that explains itself when it
 * fails (cmocka's asserts print only values).  Include after <cmocka.h>.
 */
#ifndef AP_TEST_EXPECT_H
#define AP_TEST_EXPECT_H

/* Fail with a formatted explanation (cmocka's asserts print only values). */
#define EXPECT(cond, ...)                                    \
	do {                                                 \
		if (!(cond)) {                               \
			print_error(__VA_ARGS__);            \
			print_error("\n");                   \
			fail_msg("check failed: %s", #cond); \
		}                                            \
	} while (0)

typedef unsigned long long ull;

#endif /* AP_TEST_EXPECT_H */
