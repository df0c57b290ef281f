/* rng.h: a small deterministic random number generator (xoshiro256** seeded through splitmix64),
 * the same sequence on every platform for a given seed. State is caller-owned: no globals. */
#ifndef FTUNE_RNG_H
#define FTUNE_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_next(Rng *r);
/* Uniform in [0, 1) with 24 bits of precision. */
float rng_uniform(Rng *r);

#endif
