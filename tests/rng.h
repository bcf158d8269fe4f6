/* SPDX-License-Identifier: MIT */
/*
 * The randomized tests' numbers: xorshift64*, small, fast, the same
 * everywhere, so that a printed seed replays a run on any machine.
 * Include after <cmocka.h>.
 */
#ifndef AP_TEST_RNG_H
#define AP_TEST_RNG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t rng_state;

static inline uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* A number below n; 0, drawing nothing, when n is 0. */
static inline uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static inline bool chance(unsigned percent)
{
	return rnd_below(100) < percent;
}

/* Start from seed (a seed of 0 still gives a state that is not 0). */
static inline void rnd_seed(unsigned seed)
{
	rng_state = 0x9e3779b97f4a7c15ull ^ seed;
}

/* The seed in environment variable name, else dflt. */
static inline unsigned seed_from_env(const char *name, unsigned dflt)
{
	const char *env = getenv(name);

	return env ? (unsigned)strtoul(env, NULL, 0) : dflt;
}

#endif /* AP_TEST_RNG_H */
