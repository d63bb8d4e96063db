/* Deterministic pseudo-random numbers for the tests, the fake host and the benchmark, defined
 * once: a seed gives the same sequence on every machine and every build. */
#ifndef VMB_RNG_H
#define VMB_RNG_H

#include <stdint.h>

/* Advances the xorshift64 state *S (shifts 13, 7, 17; never seeded 0) and returns it. */
uint64_t rng_next(uint64_t *s);

/* A uniform value in [0, 1) from rng_next (its top 53 bits). */
double rng_unit(uint64_t *s);

/* Advances the xorshift64* state *S (shifts 12, 25, 27; never seeded 0) and returns its output
 * (the state times 2685821657736338717). */
uint64_t rng_star(uint64_t *s);

#endif
