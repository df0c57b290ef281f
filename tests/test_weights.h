/* test_weights.h: random but valid typed weights (tensor/ops_quant.h) for kernel tests. */
#ifndef FTUNE_TEST_WEIGHTS_H
#define FTUNE_TEST_WEIGHTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

/* Fills `bytes` bytes of type-`type` data with random values: quantized bits uniformly random,
 * fp16 scale fields (d, m, dmin) finite with exponents 2^-6 .. 2^1, F32 elements in [-1, 1),
 * F16 / BF16 elements of modest magnitude. */
void test_random_weights(Rng *r, uint32_t type, unsigned char *data, size_t bytes);

/* The worst ratio |got - ref| / bound over the products y (n, out) of a matmul test: forward
 * y = x W^T (out N, inner K) or backward dx = dy W (out K, inner N), with Wd (N, K) in fp32 and
 * bound = ((a inner + b) u + per_term) sum_k |x_k w_k| + u |ref|, u = 2^-24. */
double test_matmul_worst_ratio(const float *got, const float *ref, const float *x, const float *Wd, int n, int N, int K,
                               bool backward, double a, double b, double per_term);

#endif
