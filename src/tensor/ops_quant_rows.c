/* ops_quant_rows.c: SIMD row kernels for F32, F16, BF16 and the 32-weight block types (layouts
 * in ops_quant.c), with the weights prefetched ahead.
 * - AVX-512, one row . x: per block the nibbles are taken apart in 32-bit lanes, converted exactly
 *   to fp32 and multiplied with x in 16 lanes; the block's scale d multiplies that partial sum once
 *   and a min m (Q4_0 / Q5_0's offsets as m = -8 d, -16 d) enters as m * sum(x over the block),
 *   the sums precomputed once per matvec. Two accumulators alternate between blocks.
 * - AVX2, 1 to 4 rows of x against one weight row (rows_blocks, a QuantRowsDot): the block's bytes
 *   are read as 32-bit lanes and taken apart with per-lane shifts, in an order x is laid out in
 *   beforehand (quant_rows_layout_x), dequantized exactly (quant_dequantize's values) once for all
 *   the rows, and multiplied with each row, whose arithmetic is the same for any row count.
 * Without AVX2 the tables are empty and ops_quant.c's generic kernel runs. */
#include <string.h>

#include "ops_quant_impl.h"

#ifdef QUANT_SIMD

#if defined(__AVX512F__)
/* AVX-512: the 16 nibble bytes widen to int32 lanes once, where the low nibbles (values 0..15)
 * and high nibbles (16..31) are masked and shifted out; qh's bits enter through mask registers,
 * and the offsets of Q4_0 / Q5_0 become a min term (m = -8 d, -16 d). */
static inline __attribute__((always_inline)) VF nibble_dot(const float *x, const unsigned char *q, bool five,
                                                           uint32_t qh) {
    __m512i v = widen16_u8(q), lo = _mm512_and_si512(v, _mm512_set1_epi32(15)), hi = _mm512_srli_epi32(v, 4);
    if (five) {
        lo = _mm512_mask_or_epi32(lo, (__mmask16)(qh & 0xffff), lo, _mm512_set1_epi32(16));
        hi = _mm512_mask_or_epi32(hi, (__mmask16)(qh >> 16), hi, _mm512_set1_epi32(16));
    }
    return vf_dot32_epi32(x, lo, hi);
}

static inline uint32_t rd32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* One block at p against x[0..31]: the lanes of q . x, with the block's scale in *d and its min in
 * *m (0 for the types without one). type is a constant after inlining. */
static inline __attribute__((always_inline)) VF block_dot(uint32_t type, const unsigned char *p, const float *x,
                                                          float *d, float *m) {
    *d = quant_rdh(p);
    switch (type) {
    case QUANT_Q8_0:
        *m = 0;
        return vf_dot32_i8(x, _mm256_loadu_si256((const __m256i *)(p + 2)));
    case QUANT_Q4_0:
        *m = -8.0f * *d;
        return nibble_dot(x, p + 2, false, 0);
    case QUANT_Q4_1:
        *m = quant_rdh(p + 2);
        return nibble_dot(x, p + 4, false, 0);
    case QUANT_Q5_0:
        *m = -16.0f * *d;
        return nibble_dot(x, p + 6, true, rd32(p + 2));
    default: /* QUANT_Q5_1 */
        *m = quant_rdh(p + 2);
        return nibble_dot(x, p + 8, true, rd32(p + 4));
    }
}

static inline __attribute__((always_inline)) float row_blocks(uint32_t type, size_t bb, const unsigned char *p,
                                                              const float *x, const float *xsum, int cols) {
    VF acc0 = vf_zero(), acc1 = vf_zero();
    float off0 = 0, off1 = 0, d, m;
    int nb = cols / QUANT_BLOCK, b = 0;
    for (; b + 1 < nb; b += 2, p += 2 * bb, x += 2 * QUANT_BLOCK) {
        quant_prefetch(p, 2 * bb);
        VF s0 = block_dot(type, p, x, &d, &m);
        acc0 = vf_fma(vf_set1(d), s0, acc0);
        off0 += m * xsum[b];
        VF s1 = block_dot(type, p + bb, x + QUANT_BLOCK, &d, &m);
        acc1 = vf_fma(vf_set1(d), s1, acc1);
        off1 += m * xsum[b + 1];
    }
    if (b < nb) {
        VF s0 = block_dot(type, p, x, &d, &m);
        acc0 = vf_fma(vf_set1(d), s0, acc0);
        off0 += m * xsum[b];
    }
    return vf_sum(vf_add(acc0, acc1)) + (off0 + off1);
}

static float row_q8_0(const unsigned char *p, const float *x, const float *xs, int cols) {
    return row_blocks(QUANT_Q8_0, 34, p, x, xs, cols);
}
static float row_q4_0(const unsigned char *p, const float *x, const float *xs, int cols) {
    return row_blocks(QUANT_Q4_0, 18, p, x, xs, cols);
}
static float row_q4_1(const unsigned char *p, const float *x, const float *xs, int cols) {
    return row_blocks(QUANT_Q4_1, 20, p, x, xs, cols);
}
static float row_q5_0(const unsigned char *p, const float *x, const float *xs, int cols) {
    return row_blocks(QUANT_Q5_0, 22, p, x, xs, cols);
}
static float row_q5_1(const unsigned char *p, const float *x, const float *xs, int cols) {
    return row_blocks(QUANT_Q5_1, 24, p, x, xs, cols);
}

#else
/* AVX2: a block's bytes are read as eight 32-bit lanes and taken apart with per-lane shifts, which
 * leaves vector k (of four) holding elements k, 4 + k, ..., 28 + k: x arrives in that order
 * (quant_rows_layout_x). Each value is dequantized exactly (q d + m in one rounding: the values
 * quant_dequantize gives, a zero's sign aside) and multiplied with x; two accumulators alternate.
 * Up to QUANT_ROWS_MAX rows of x against one weight row: each block is dequantized once for all of
 * them, and each row's FMAs run in the same order whatever the row count, so a row gets the same
 * bits alone or beside others. */

/* The block at p dequantized into w[0..3] (vector k: elements 4l + k). type is a constant after
 * inlining. */
static inline __attribute__((always_inline)) void block_weights(uint32_t type, const unsigned char *p, VF w[4]) {
    float d = quant_rdh(p), m = 0;
    __m256i q[4];
    if (type == QUANT_Q8_0) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(p + 2));
        q[0] = _mm256_srai_epi32(_mm256_slli_epi32(v, 24), 24);
        q[1] = _mm256_srai_epi32(_mm256_slli_epi32(v, 16), 24);
        q[2] = _mm256_srai_epi32(_mm256_slli_epi32(v, 8), 24);
        q[3] = _mm256_srai_epi32(v, 24);
    } else {
        int off = type == QUANT_Q4_0 ? 2 : type == QUANT_Q4_1 ? 4 : type == QUANT_Q5_0 ? 6 : 8;
        __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(p + off)));
        for (int k = 0; k < 4; k++) q[k] = rows_nibbles(v, 8 * k, 8 * k + 4);
        if (type == QUANT_Q5_0 || type == QUANT_Q5_1) { /* qh's bit 4l + k is bit 4 of element 4l + k */
            uint32_t qh;
            memcpy(&qh, p + off - 4, 4);
            __m256i spread =
                _mm256_srlv_epi32(_mm256_set1_epi32((int)qh), _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28));
            for (int k = 0; k < 4; k++) q[k] = _mm256_or_si256(q[k], rows_high_bits(spread, k, 16));
        }
        /* the offsets of Q4_0 / Q5_0 as a min: q d - 8 d is (q - 8) d, exactly */
        m = type == QUANT_Q4_0 ? -8.0f * d : type == QUANT_Q5_0 ? -16.0f * d : quant_rdh(p + 2);
    }
    for (int k = 0; k < 4; k++) w[k] = vf_fma(_mm256_cvtepi32_ps(q[k]), vf_set1(d), vf_set1(m));
}

/* out[i] = weight row p . x[i] for i < nr (a constant after inlining), x[i] in the rows layout. */
static inline __attribute__((always_inline)) void rows_blocks(uint32_t type, size_t bb, const unsigned char *p,
                                                              const float *const *x, int nr, int cols, float *out) {
    VF acc0[QUANT_ROWS_MAX], acc1[QUANT_ROWS_MAX];
    for (int i = 0; i < nr; i++) acc0[i] = acc1[i] = vf_zero();
    for (int b = 0; b < cols / QUANT_BLOCK; b++, p += bb) {
        quant_prefetch(p, bb);
        VF w[4];
        block_weights(type, p, w);
        rows_fma32(acc0, acc1, x, (size_t)b * QUANT_BLOCK, nr, w);
    }
    for (int i = 0; i < nr; i++) out[i] = vf_sum(vf_add(acc0[i], acc1[i]));
}

QUANT_ROWS_DOT(rows_q8_0, rows_blocks, QUANT_Q8_0, 34)
QUANT_ROWS_DOT(rows_q4_0, rows_blocks, QUANT_Q4_0, 18)
QUANT_ROWS_DOT(rows_q4_1, rows_blocks, QUANT_Q4_1, 20)
QUANT_ROWS_DOT(rows_q5_0, rows_blocks, QUANT_Q5_0, 22)
QUANT_ROWS_DOT(rows_q5_1, rows_blocks, QUANT_Q5_1, 24)

#endif

/* Plain types: VF_LANES values per load, four accumulators, a scalar tail for any cols. */
static inline __attribute__((always_inline)) VF load_plain(uint32_t type, const unsigned char *p, int i) {
    if (type == QUANT_F32) return vf_loadx((const float *)p + i);
    if (type == QUANT_F16) return vf_load_f16(p + 2 * (size_t)i);
    return vf_load_bf16(p + 2 * (size_t)i);
}

static inline __attribute__((always_inline)) float row_plain(uint32_t type, const unsigned char *p,
                                                             const float *x, int cols) {
    VF a0 = vf_zero(), a1 = vf_zero(), a2 = vf_zero(), a3 = vf_zero();
    int i = 0;
    size_t es = type == QUANT_F32 ? 4 : 2;
    for (; i + 4 * VF_LANES <= cols; i += 4 * VF_LANES) {
        quant_prefetch(p + es * (size_t)i, es * 4 * VF_LANES);
        a0 = vf_fma(load_plain(type, p, i), vf_loadx(x + i), a0);
        a1 = vf_fma(load_plain(type, p, i + VF_LANES), vf_loadx(x + i + VF_LANES), a1);
        a2 = vf_fma(load_plain(type, p, i + 2 * VF_LANES), vf_loadx(x + i + 2 * VF_LANES), a2);
        a3 = vf_fma(load_plain(type, p, i + 3 * VF_LANES), vf_loadx(x + i + 3 * VF_LANES), a3);
    }
    for (; i + VF_LANES <= cols; i += VF_LANES) a0 = vf_fma(load_plain(type, p, i), vf_loadx(x + i), a0);
    float acc = vf_sum(vf_add(vf_add(a0, a1), vf_add(a2, a3)));
    for (; i < cols; i++) {
        float v;
        if (type == QUANT_F32) memcpy(&v, p + 4 * (size_t)i, 4);
        else if (type == QUANT_F16) v = quant_rdh(p + 2 * (size_t)i);
        else v = bf16_to_f32(quant_rd16(p + 2 * (size_t)i));
        acc += v * x[i];
    }
    return acc;
}

static float row_f32(const unsigned char *p, const float *x, const float *xs, int cols) {
    (void)xs;
    return row_plain(QUANT_F32, p, x, cols);
}
static float row_f16(const unsigned char *p, const float *x, const float *xs, int cols) {
    (void)xs;
    return row_plain(QUANT_F16, p, x, cols);
}
static float row_bf16(const unsigned char *p, const float *x, const float *xs, int cols) {
    (void)xs;
    return row_plain(QUANT_BF16, p, x, cols);
}

#endif /* QUANT_SIMD */

/* The plain types' one-row kernels wherever there is SIMD; the 32-block types' on AVX-512. */
QuantRowDot quant_row_dot_32(uint32_t type) {
#ifdef QUANT_SIMD
    switch (type) {
    case QUANT_F32: return row_f32;
    case QUANT_F16: return row_f16;
    case QUANT_BF16: return row_bf16;
#if defined(__AVX512F__)
    case QUANT_Q8_0: return row_q8_0;
    case QUANT_Q4_0: return row_q4_0;
    case QUANT_Q4_1: return row_q4_1;
    case QUANT_Q5_0: return row_q5_0;
    case QUANT_Q5_1: return row_q5_1;
#endif
    }
#endif
    (void)type;
    return NULL;
}

/* The 32-block types' multi-row kernels on AVX2 (AVX-512's one-row kernel takes the nibbles apart
 * in 32-bit lanes already). */
QuantRowsDot quant_rows_dot_32(uint32_t type) {
#if defined(QUANT_SIMD) && !defined(__AVX512F__)
    switch (type) {
    case QUANT_Q8_0: return rows_q8_0;
    case QUANT_Q4_0: return rows_q4_0;
    case QUANT_Q4_1: return rows_q4_1;
    case QUANT_Q5_0: return rows_q5_0;
    case QUANT_Q5_1: return rows_q5_1;
    }
#endif
    (void)type;
    return NULL;
}

void quant_rows_layout_x(float *out, const float *x, int cols) {
    for (int b = 0; b + QUANT_BLOCK <= cols; b += QUANT_BLOCK)
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 8; l++) out[b + 8 * k + l] = x[b + 4 * l + k];
}
