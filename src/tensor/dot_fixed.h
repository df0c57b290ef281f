/* dot_fixed.h: sums whose order is fixed by their length alone, for inference kernels whose result
 * for one row must not depend on what else is computed with it (ops.c's attention): 16 lanes take every 16th product in turn, then the lanes are added pairwise in a
 * fixed order. GCC vector extensions, so the same code runs on AVX2 and AVX-512. */
#ifndef FTUNE_DOT_FIXED_H
#define FTUNE_DOT_FIXED_H

#include <string.h>

typedef float v16 __attribute__((vector_size(64)));
typedef float v8 __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));

/* The sum of v's 16 lanes in one fixed order: halves added pairwise (lane i + lane i+8, then +4, +2,
 * +1). */
static inline float lanes_sum(v16 v) {
    v8 a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) + __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    v4 b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
    float c0 = b[0] + b[2], c1 = b[1] + b[3];
    return c0 + c1;
}

static inline v16 load16(const float *p) {
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* a . b over n values in an order fixed by n alone: 16 lanes take every 16th product in turn, then
 * lanes_sum; a plain running sum when n is not a multiple of 16. */
static inline float dot_fixed(const float *a, const float *b, int n) {
    if (n % 16) {
        float s = 0;
        for (int i = 0; i < n; i++) s += a[i] * b[i];
        return s;
    }
    v16 acc = {0};
    for (int i = 0; i < n; i += 16) acc += load16(a + i) * load16(b + i);
    return lanes_sum(acc);
}

#endif
