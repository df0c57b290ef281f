/* dot_fixed.h: sums whose order is fixed by their length alone, for inference kernels whose result
 * for one row must not depend on what else is computed with it (ops.c's attention, lora_rows.c):
 * 16 lanes take every 16th product in turn, then the lanes are added pairwise in a fixed order.
 * GCC vector extensions, one 16-lane type for AVX2 and AVX-512 (below). */
#ifndef FTUNE_DOT_FIXED_H
#define FTUNE_DOT_FIXED_H

#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

typedef float v8 __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));

/* 16 lanes of fp32. One AVX-512 register where the build targets AVX-512; elsewhere two 8-lane
 * halves (lanes 0-7 and 8-15), as GCC keeps a 64-byte vector type in memory without AVX-512 and
 * moved it lane by lane through the stack (attention ran 3-4x slower on AVX2 that way; a 64-byte
 * copy into the pair went through the stack too, so the halves load and store one at a time). The
 * same lanes and the same operations either way, so the same bits. Use the functions below, not
 * operators, on it. */
#if defined(__AVX512F__)
typedef float v16 __attribute__((vector_size(64)));
static inline v16 zero16(void) { return (v16){0}; }
static inline v16 splat16(float x) { return (v16){0} + x; }
static inline v16 add16(v16 a, v16 b) { return a + b; }
static inline v16 scale16(v16 a, float x) { return a * x; }
static inline v16 load16(const float *p) {
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void store16(float *p, v16 v) { memcpy(p, &v, sizeof v); }
#else
typedef struct { v8 lo, hi; } v16;
static inline v16 zero16(void) { return (v16){{0}, {0}}; }
static inline v16 splat16(float x) { return (v16){(v8){0} + x, (v8){0} + x}; }
static inline v16 add16(v16 a, v16 b) { return (v16){a.lo + b.lo, a.hi + b.hi}; }
static inline v16 scale16(v16 a, float x) { return (v16){a.lo * x, a.hi * x}; }
static inline v16 load16(const float *p) {
    v16 v;
    memcpy(&v.lo, p, sizeof v.lo);
    memcpy(&v.hi, p + 8, sizeof v.hi);
    return v;
}
static inline void store16(float *p, v16 v) {
    memcpy(p, &v.lo, sizeof v.lo);
    memcpy(p + 8, &v.hi, sizeof v.hi);
}
#endif

/* Lanes i and i + 8 added: the first step of lanes_sum. */
static inline v8 halves_sum(v16 v) {
#if defined(__AVX512F__)
    return __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) + __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
#else
    return v.lo + v.hi;
#endif
}

/* The sum of v's 16 lanes in one fixed order: halves added pairwise (lane i + lane i+8, then +4, +2,
 * +1). */
static inline float lanes_sum(v16 v) {
    v8 a = halves_sum(v);
    v4 b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
    float c0 = b[0] + b[2], c1 = b[1] + b[3];
    return c0 + c1;
}

/* lanes_sum of four vectors at once, the same additions in the same order for each (so the same
 * bits), but shuffled side by side: four sums for about the cost of one and a half. */
static inline v4 lanes_sum4(v16 v0, v16 v1, v16 v2, v16 v3) {
#if defined(__AVX512F__)
    /* lanes 0-7: v0's lane i + lane i+8; lanes 8-15: v1's (then v2, v3) */
    v16 a01 = __builtin_shufflevector(v0, v1, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
              __builtin_shufflevector(v0, v1, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    v16 a23 = __builtin_shufflevector(v2, v3, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
              __builtin_shufflevector(v2, v3, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    /* lanes 4u .. 4u+3: vector u's a[i] + a[i+4] */
    v16 b = __builtin_shufflevector(a01, a23, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
            __builtin_shufflevector(a01, a23, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    /* lanes 2u, 2u+1: b[0] + b[2], b[1] + b[3] (lanes_sum's c0, c1) */
    v8 c = __builtin_shufflevector(b, b, 0, 1, 4, 5, 8, 9, 12, 13) + __builtin_shufflevector(b, b, 2, 3, 6, 7, 10, 11, 14, 15);
    return __builtin_shufflevector(c, c, 0, 2, 4, 6) + __builtin_shufflevector(c, c, 1, 3, 5, 7);
#else
    /* the same steps on 8-lane vectors: a_u = halves_sum(v_u); b (u's a[i] + a[i+4] in lanes
     * 4u .. 4u+3 of b01 and b23); c, then c0 + c1 */
    v8 a0 = halves_sum(v0), a1 = halves_sum(v1), a2 = halves_sum(v2), a3 = halves_sum(v3);
    v8 b01 = __builtin_shufflevector(a0, a1, 0, 1, 2, 3, 8, 9, 10, 11) + __builtin_shufflevector(a0, a1, 4, 5, 6, 7, 12, 13, 14, 15);
    v8 b23 = __builtin_shufflevector(a2, a3, 0, 1, 2, 3, 8, 9, 10, 11) + __builtin_shufflevector(a2, a3, 4, 5, 6, 7, 12, 13, 14, 15);
    v8 c = __builtin_shufflevector(b01, b23, 0, 1, 4, 5, 8, 9, 12, 13) + __builtin_shufflevector(b01, b23, 2, 3, 6, 7, 10, 11, 14, 15);
    return __builtin_shufflevector(c, c, 0, 2, 4, 6) + __builtin_shufflevector(c, c, 1, 3, 5, 7);
#endif
}

/* acc + a * b in one rounding per lane where the CPU fuses multiply and add (this build's target:
 * AVX-512F, or FMA on the two 8-lane halves), else a multiply and an add. ISO C mode keeps GCC from
 * contracting a * b + c itself, so the kernels that want the fused form ask for it here, and a
 * build's sums are the same whichever rows share the call either way. */
static inline v16 fma16(v16 acc, v16 a, v16 b) {
#if defined(__AVX512F__)
    return (v16)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)acc);
#elif defined(__FMA__)
    return (v16){(v8)_mm256_fmadd_ps((__m256)a.lo, (__m256)b.lo, (__m256)acc.lo),
                 (v8)_mm256_fmadd_ps((__m256)a.hi, (__m256)b.hi, (__m256)acc.hi)};
#else
    return (v16){acc.lo + a.lo * b.lo, acc.hi + a.hi * b.hi};
#endif
}

/* One lane of fma16: acc + a * b fused exactly where fma16 fuses (a scalar loop that must give a
 * vector loop's bits), else a multiply and an add. */
static inline float fma1(float acc, float a, float b) {
#if defined(__AVX512F__) || defined(__FMA__)
    return __builtin_fmaf(a, b, acc);
#else
    return acc + a * b;
#endif
}

/* a . b over n values in an order fixed by n alone: 16 lanes take every 16th product in turn
 * (fma16, as attention's four-key blocks take theirs), then lanes_sum; a plain running sum when n
 * is not a multiple of 16. */
static inline float dot_fixed(const float *a, const float *b, int n) {
    if (n % 16) {
        float s = 0;
        for (int i = 0; i < n; i++) s += a[i] * b[i];
        return s;
    }
    v16 acc = zero16();
    for (int i = 0; i < n; i += 16) acc = fma16(acc, load16(a + i), load16(b + i));
    return lanes_sum(acc);
}

#endif
