/* Deterministic pseudo-random numbers (Marsaglia's xorshift64, and Vigna's xorshift64*). */
#include "rng.h"

uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) / (double)(1ull << 53);
}

uint64_t rng_star(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}
