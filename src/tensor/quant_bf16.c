/* quant_bf16.c: quant_rows_bf16, a stored weight's rows as bf16: the one conversion behind both the
 * bf16 copies of a model's weights (model_precision.c) and the bf16 decode kernel's weights
 * dequantized on the fly (matvec_bf16.c), so that both give the same bits. Each value is the
 * dequantized fp32 value of quant_dequantize (for the 32-weight blocks its products are exact, so
 * the value has one rounding whichever way it is computed) rounded to nearest even. With
 * AVX512-BF16 the 32-weight blocks and F16 convert in registers (quant_bf16_impl.h); the other
 * types, and CPUs without it, dequantize to fp32 and round one value at a time. */
#include <stdlib.h>
#include <string.h>

#include "../core/cpu_features.h"
#include "ops_quant_impl.h"
#include "quant_bf16.h"
#include "quant_bf16_impl.h"

/* The portable conversion of one row: fp32 values in chunks, each rounded. */
static void row_generic(uint16_t *dst, uint32_t type, const unsigned char *p, int K) {
    size_t be = quant_block_elems(type), bb = quant_block_bytes(type);
    size_t step = be == 1 ? QUANT_BLOCK_K : be;
    float buf[QUANT_BLOCK_K];
    for (size_t i = 0; i < (size_t)K; i += step) {
        size_t n = (size_t)K - i < step ? (size_t)K - i : step;
        quant_dequantize(type, p + i / be * bb, n, buf);
        for (size_t j = 0; j < n; j++) dst[i + j] = f32_to_bf16(buf[j]);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
/* One row of a type quant_bf16_fast takes, 32 values at a time in registers. */
BF16_TARGET static void row_simd(uint16_t *dst, uint32_t type, const unsigned char *p, int K) {
    size_t step = bf16_block32_bytes(type);
    for (int i = 0; i < K; i += 32, p += step) {
        _mm_prefetch((const char *)p + QUANT_PREFETCH_BYTES, _MM_HINT_T0); /* the weights stream from memory */
        _mm512_storeu_si512(dst + i, (__m512i)bf16_block32(type, p));
    }
}
#endif

bool quant_bf16_fast(uint32_t type) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (!cpu_features()->avx512_bf16) return false;
    return type == QUANT_F16 || type == QUANT_Q8_0 || type == QUANT_Q4_0 || type == QUANT_Q4_1 ||
           type == QUANT_Q5_0 || type == QUANT_Q5_1;
#else
    (void)type;
    return false;
#endif
}

void quant_rows_bf16(uint16_t *dst, const QuantMatrix *w, int row0, int cnt) {
    size_t row_bytes = quant_row_bytes(w->type, (size_t)w->cols);
    for (int r = 0; r < cnt; r++) {
        const unsigned char *p = w->data + (size_t)(row0 + r) * row_bytes;
        uint16_t *out = dst + (size_t)r * w->cols;
        if (w->type == QUANT_BF16) {
            memcpy(out, p, (size_t)w->cols * 2);
            continue;
        }
#if defined(__x86_64__) && defined(__GNUC__)
        if (quant_bf16_fast(w->type) && w->cols % 32 == 0) {
            row_simd(out, w->type, p, w->cols);
            continue;
        }
#endif
        row_generic(out, w->type, p, w->cols);
    }
}
