/* test_weights.h: random but valid typed weights (tensor/ops_quant.h) for kernel tests. */
#ifndef FTUNE_TEST_WEIGHTS_H
#define FTUNE_TEST_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

/* Fills `bytes` bytes of type-`type` data with random values: quantized bits uniformly random,
 * fp16 scale fields (d, m, dmin) finite with exponents 2^-6 .. 2^1, F32 elements in [-1, 1),
 * F16 / BF16 elements of modest magnitude. */
void test_random_weights(Rng *r, uint32_t type, unsigned char *data, size_t bytes);

#endif
