/* matvec_bf16.c: bf16_matvec_rows, the product of inference's decode rows at bf16 precision: y (n, N)
 * = bf16(x) (n, K) W^T + bias, W the weight in bf16, on AMX tiles where the CPU has them
 * (matvec_amx.c), else here on AVX512-BF16's VDPBF16PS (pairs of bf16
 * products, exact in fp32, added into 16 fp32 lanes). Each (row, output) is one 16-lane accumulator
 * over K in steps of 32 (a zero-filled tail), then one horizontal sum: the same operations whatever
 * n is and whichever rows share the call, so a sequence's decode does not depend on its batch.
 * Outputs go in groups of GROUP_OUT weight rows against GROUP_IN rows of x at a time (the weight
 * rows stay in L1 while every x row passes), so the weights are read once per call and n rows cost
 * little more than one. Reading the weights is what limits few rows, so the types quant_rows_bf16
 * converts in registers are converted from their stored bytes (a Q4_1 row is 3.2x smaller than
 * bf16), a group of rows at a time into L1, and only the others read the bf16 copy: both are
 * quant_rows_bf16's bits, so the choice changes no result. */
#include "matmul_bf16.h"

#include <stdlib.h>

#include "../core/cpu_features.h"
#include "../core/scratch.h"
#include "matvec_amx.h"
#include "onednn.h"
#include "quant_bf16.h"

#define GROUP_OUT 4 /* weight rows per tile */
#define GROUP_IN 4  /* x rows per tile: 16 accumulators */

bool bf16_matvec_available(void) { return cpu_features()->avx512_bf16; }

#if defined(__x86_64__) && defined(__GNUC__)
#include "quant_bf16_impl.h"

/* 32 bf16 values at p, the last ones zero beyond rem (< 32) when rem is not 0. */
BF16_TARGET static inline __m512bh load32(const uint16_t *p, int rem) {
    __m512i v = rem ? _mm512_maskz_loadu_epi16((__mmask32)((1u << rem) - 1), p) : _mm512_loadu_si512(p);
    return (__m512bh)v;
}

/* y[t * ldy + o] for o < n_out, t < n_in: the tile's products, each its own accumulator, the
 * weights' 32 values at k from the bf16 rows w (row stride K). n_in and n_out are constants after
 * inlining. */
BF16_TARGET static inline __attribute__((always_inline)) void tile(float *y, int ldy, const uint16_t *x,
                                                                   const uint16_t *w, int K, int n_in, int n_out) {
    __m512 acc[GROUP_IN][GROUP_OUT];
    for (int t = 0; t < GROUP_IN; t++)
        for (int o = 0; o < GROUP_OUT; o++) acc[t][o] = _mm512_setzero_ps();
    for (int k = 0; k < K; k += 32) {
        int rem = K - k < 32 ? K - k : 0;
        __m512bh wv[GROUP_OUT];
        for (int o = 0; o < n_out; o++) wv[o] = load32(w + (size_t)o * K + k, rem);
        for (int t = 0; t < n_in; t++) {
            __m512bh xv = load32(x + (size_t)t * K + k, rem);
            for (int o = 0; o < n_out; o++) acc[t][o] = _mm512_dpbf16_ps(acc[t][o], xv, wv[o]);
        }
    }
    for (int t = 0; t < n_in; t++)
        for (int o = 0; o < n_out; o++) y[(size_t)t * ldy + o] = _mm512_reduce_add_ps(acc[t][o]);
}

/* The tile's shapes: the full one and one x row against a full group unrolled into registers, else
 * the general loop. */
BF16_TARGET static void tile_any(float *y, int ldy, const uint16_t *x, const uint16_t *w, int K, int n_in, int n_out) {
    if (n_in == GROUP_IN && n_out == GROUP_OUT) tile(y, ldy, x, w, K, GROUP_IN, GROUP_OUT);
    else if (n_in == 1 && n_out == GROUP_OUT) tile(y, ldy, x, w, K, 1, GROUP_OUT);
    else tile(y, ldy, x, w, K, n_in, n_out);
}

static __thread Scratch group_rows; /* each thread's GROUP_OUT converted weight rows */

/* The VDPBF16PS kernel on xb already in bf16. */
static void dp_matvec_rows(float *y, const uint16_t *xb, const QuantMatrix *w, const float *bias, int n) {
    int N = w->rows, K = w->cols;
    bool convert = quant_bf16_fast(w->type);
    int n_groups = (N + GROUP_OUT - 1) / GROUP_OUT;
#pragma omp parallel for schedule(static)
    for (int g = 0; g < n_groups; g++) {
        int j0 = g * GROUP_OUT, n_out = N - j0 < GROUP_OUT ? N - j0 : GROUP_OUT;
        const uint16_t *wg = w->bf16 + (size_t)j0 * K;
        if (convert) { /* the group's rows, converted into L1 once for all x rows */
            uint16_t *buf = scratch_get(&group_rows, (size_t)GROUP_OUT * K * sizeof(uint16_t), "bf16 weight rows");
            quant_rows_bf16(buf, w, j0, n_out);
            wg = buf;
        }
        for (int t0 = 0; t0 < n; t0 += GROUP_IN) {
            int n_in = n - t0 < GROUP_IN ? n - t0 : GROUP_IN;
            tile_any(y + (size_t)t0 * N + j0, N, xb + (size_t)t0 * K, wg, K, n_in, n_out);
        }
        if (bias)
            for (int t = 0; t < n; t++)
                for (int o = 0; o < n_out; o++) y[(size_t)t * N + j0 + o] += bias[j0 + o];
    }
}

void bf16_matvec_rows_with(Bf16DecodeKernel kernel, float *y, const float *x, const QuantMatrix *w, const float *bias,
                           int n) {
    uint16_t *xb = onednn_bf16_buffer((size_t)n * w->cols);
    bf16_convert(xb, x, (size_t)n * w->cols);
    if (kernel == BF16_DECODE_AMX) amx_matvec_rows(y, xb, w, bias, n);
    else dp_matvec_rows(y, xb, w, bias, n);
}

void bf16_matvec_rows(float *y, const float *x, const QuantMatrix *w, const float *bias, int n) {
    bf16_matvec_rows_with(amx_matvec_available() ? BF16_DECODE_AMX : BF16_DECODE_VDPBF16PS, y, x, w, bias, n);
}
#else
void bf16_matvec_rows_with(Bf16DecodeKernel kernel, float *y, const float *x, const QuantMatrix *w, const float *bias,
                           int n) {
    (void)kernel, (void)y, (void)x, (void)w, (void)bias, (void)n;
    abort(); /* bf16_matvec_available() is false: never called */
}

void bf16_matvec_rows(float *y, const float *x, const QuantMatrix *w, const float *bias, int n) {
    bf16_matvec_rows_with(BF16_DECODE_VDPBF16PS, y, x, w, bias, n);
}
#endif
