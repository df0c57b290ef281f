/* matvec_bf16.c: bf16_matvec_rows, the product of inference's decode rows at bf16 precision: y (n, N)
 * = bf16(x) (n, K) W^T + bias, W the weight in bf16, on AVX512-BF16's VDPBF16PS (pairs of bf16
 * products, exact in fp32, added into 16 fp32 lanes). Each (row, output) is one 16-lane accumulator
 * over K in steps of 32 (a zero-filled tail), then one horizontal sum: the same operations whatever
 * n is and whichever rows share the call, so a sequence's decode does not depend on its batch.
 * Outputs go in groups of GROUP_OUT weight rows against GROUP_IN rows of x at a time (the weight
 * rows stay in L1 while every x row passes), so the weights are read once per call and n rows cost
 * little more than one. Few rows are limited by reading the weights: they convert them in registers
 * from the stored bytes (a Q4_1 row is 3.2x smaller than bf16); more rows read the bf16 copy. Both
 * are quant_rows_bf16's bits (quant_bf16_impl.h), so the choice changes no result. */
#include "matmul_bf16.h"

#include <stdlib.h>

#include "../core/cpu_features.h"
#include "onednn.h"
#include "quant_bf16.h"

#define GROUP_OUT 4 /* weight rows per tile */
#define GROUP_IN 4  /* x rows per tile: 16 accumulators */
#define COPY_ROWS 4 /* from this many x rows on, the bf16 copy is read instead of converting */

bool bf16_matvec_available(void) { return cpu_features()->avx512_bf16; }

#if defined(__x86_64__) && defined(__GNUC__)
#include "quant_bf16_impl.h"

/* 32 bf16 values at p, the last ones zero beyond rem (< 32) when rem is not 0. */
BF16_TARGET static inline __m512bh load32(const uint16_t *p, int rem) {
    __m512i v = rem ? _mm512_maskz_loadu_epi16((__mmask32)((1u << rem) - 1), p) : _mm512_loadu_si512(p);
    return (__m512bh)v;
}

/* y[t * ldy + o] for o < n_out, t < n_in: the tile's products, each its own accumulator, the
 * weights' 32 values at k from the bf16 rows wb (row stride K) or, when type is not QUANT_BF16,
 * converted in registers from the stored rows ws (row stride row_bytes; K a multiple of 32). type,
 * n_in and n_out are constants after inlining. */
BF16_TARGET static inline __attribute__((always_inline)) void tile(float *y, int ldy, const uint16_t *x, int K,
                                                                   uint32_t type, const uint16_t *wb,
                                                                   const unsigned char *ws, size_t row_bytes,
                                                                   int n_in, int n_out) {
    __m512 acc[GROUP_IN][GROUP_OUT];
    for (int t = 0; t < GROUP_IN; t++)
        for (int o = 0; o < GROUP_OUT; o++) acc[t][o] = _mm512_setzero_ps();
    size_t step = type == QUANT_F16 ? 64 : quant_block_bytes(type);
    for (int k = 0, b = 0; k < K; k += 32, b++) {
        int rem = K - k < 32 ? K - k : 0;
        __m512bh wv[GROUP_OUT];
        for (int o = 0; o < n_out; o++) {
            if (type == QUANT_BF16) {
                wv[o] = load32(wb + (size_t)o * K + k, rem);
            } else {
                const unsigned char *p = ws + (size_t)o * row_bytes + (size_t)b * step;
                _mm_prefetch((const char *)p + QUANT_PREFETCH_BYTES, _MM_HINT_T0); /* weights stream from memory */
                wv[o] = bf16_block32(type, p);
            }
        }
        for (int t = 0; t < n_in; t++) {
            __m512bh xv = load32(x + (size_t)t * K + k, rem);
            for (int o = 0; o < n_out; o++) acc[t][o] = _mm512_dpbf16_ps(acc[t][o], xv, wv[o]);
        }
    }
    for (int t = 0; t < n_in; t++)
        for (int o = 0; o < n_out; o++) y[(size_t)t * ldy + o] = _mm512_reduce_add_ps(acc[t][o]);
}

/* The tile from the bf16 copy: full tiles unrolled into registers, else the general loop. */
BF16_TARGET static void tile_copy(float *y, int ldy, const uint16_t *x, const uint16_t *w, int K, int n_in, int n_out) {
    if (n_in == GROUP_IN && n_out == GROUP_OUT) tile(y, ldy, x, K, QUANT_BF16, w, NULL, 0, GROUP_IN, GROUP_OUT);
    else tile(y, ldy, x, K, QUANT_BF16, w, NULL, 0, n_in, n_out);
}

/* The tile converted from the stored bytes, one instance per type (one x row unrolled). */
#define TILE_STORED(name, TYPE)                                                                                    \
    BF16_TARGET static void name(float *y, int ldy, const uint16_t *x, const unsigned char *w, size_t row_bytes, \
                                 int K, int n_in, int n_out) {                                                   \
        for (int o = 0; o < n_out; o++) {                                                                       \
            if (n_in == 1) tile(y + o, ldy, x, K, TYPE, NULL, w + o * row_bytes, row_bytes, 1, 1);                \
            else tile(y + o, ldy, x, K, TYPE, NULL, w + o * row_bytes, row_bytes, n_in, 1);                       \
        }                                                                                                          \
    }
TILE_STORED(tile_f16, QUANT_F16)
TILE_STORED(tile_q8_0, QUANT_Q8_0)
TILE_STORED(tile_q4_0, QUANT_Q4_0)
TILE_STORED(tile_q4_1, QUANT_Q4_1)
TILE_STORED(tile_q5_0, QUANT_Q5_0)
TILE_STORED(tile_q5_1, QUANT_Q5_1)

typedef void (*TileStored)(float *, int, const uint16_t *, const unsigned char *, size_t, int, int, int);

static TileStored tile_stored(uint32_t type) {
    switch (type) {
    case QUANT_F16: return tile_f16;
    case QUANT_Q8_0: return tile_q8_0;
    case QUANT_Q4_0: return tile_q4_0;
    case QUANT_Q4_1: return tile_q4_1;
    case QUANT_Q5_0: return tile_q5_0;
    case QUANT_Q5_1: return tile_q5_1;
    default: return NULL;
    }
}

void bf16_matvec_rows(float *y, const float *x, const QuantMatrix *w, const float *bias, int n) {
    int N = w->rows, K = w->cols;
    uint16_t *xb = onednn_bf16_buffer((size_t)n * K);
    bf16_convert(xb, x, (size_t)n * K);
    TileStored stored = n < COPY_ROWS && K % 32 == 0 && quant_bf16_fast(w->type) ? tile_stored(w->type) : NULL;
    size_t row_bytes = quant_row_bytes(w->type, (size_t)K);
    int n_groups = (N + GROUP_OUT - 1) / GROUP_OUT;
#pragma omp parallel for schedule(static)
    for (int g = 0; g < n_groups; g++) {
        int j0 = g * GROUP_OUT, n_out = N - j0 < GROUP_OUT ? N - j0 : GROUP_OUT;
        for (int t0 = 0; t0 < n; t0 += GROUP_IN) {
            int n_in = n - t0 < GROUP_IN ? n - t0 : GROUP_IN;
            float *yt = y + (size_t)t0 * N + j0;
            const uint16_t *xt = xb + (size_t)t0 * K;
            if (stored) stored(yt, N, xt, w->data + (size_t)j0 * row_bytes, row_bytes, K, n_in, n_out);
            else tile_copy(yt, N, xt, w->bf16 + (size_t)j0 * K, K, n_in, n_out);
        }
        if (bias)
            for (int t = 0; t < n; t++)
                for (int o = 0; o < n_out; o++) y[(size_t)t * N + j0 + o] += bias[j0 + o];
    }
}
#else
void bf16_matvec_rows(float *y, const float *x, const QuantMatrix *w, const float *bias, int n) {
    (void)y, (void)x, (void)w, (void)bias, (void)n;
    abort(); /* bf16_matvec_available() is false: never called */
}
#endif
