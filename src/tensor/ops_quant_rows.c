/* ops_quant_rows.c: SIMD row kernels (one row . x) for F32, F16, BF16 and the 32-weight block
 * types (layouts in ops_quant.c). Per block the quantized integers are converted exactly to fp32
 * and multiplied with x in 8 or 16 lanes; the block's scale d multiplies that partial sum once,
 * and a min m enters as m * sum(x over the block), with the sums precomputed once per matvec.
 * With AVX-512 the nibbles are taken apart in 32-bit lanes and Q4_0 / Q5_0's offsets (8, 16)
 * become such a min; with AVX2 they are assembled in bytes and the offsets subtracted there. Two
 * accumulators alternate between blocks to hide the FMA latency, and the weights are prefetched
 * ahead. Without AVX2 the table is empty and ops_quant.c's generic kernel runs. */
#include <string.h>

#include "ops_quant_impl.h"

#ifdef QUANT_SIMD

#if !defined(__AVX512F__)
/* 16 bytes of nibbles to 32 bytes in element order: low nibbles are values 0..15, high 16..31. */
static inline __m256i unpack_nibbles(const unsigned char *p) {
    __m128i b = _mm_loadu_si128((const __m128i *)p), m = _mm_set1_epi8(0x0f);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m), _mm_and_si128(b, m));
}

/* The 32 bits of Q5's qh to 32 bytes: 0x10 where bit j is set, else 0. */
static inline __m256i unpack_qh(const unsigned char *p) {
    uint32_t qh;
    memcpy(&qh, p, 4);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh),
                                    _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                     2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit), QI8(0x10));
}
#endif

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
#else
/* AVX2: the nibbles (and qh bits) assemble into 32 bytes in element order; Q4_0 and Q5_0 subtract
 * their offset in the bytes. */
static inline __attribute__((always_inline)) VF block_dot(uint32_t type, const unsigned char *p, const float *x,
                                                          float *d, float *m) {
    *d = quant_rdh(p);
    *m = 0;
    switch (type) {
    case QUANT_Q8_0:
        return vf_dot32_i8(x, _mm256_loadu_si256((const __m256i *)(p + 2)));
    case QUANT_Q4_0:
        return vf_dot32_i8(x, _mm256_sub_epi8(unpack_nibbles(p + 2), QI8(8)));
    case QUANT_Q4_1:
        *m = quant_rdh(p + 2);
        return vf_dot32_u8(x, unpack_nibbles(p + 4));
    case QUANT_Q5_0:
        return vf_dot32_i8(x, _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles(p + 6), unpack_qh(p + 2)), QI8(16)));
    default: /* QUANT_Q5_1 */
        *m = quant_rdh(p + 2);
        return vf_dot32_u8(x, _mm256_or_si256(unpack_nibbles(p + 8), unpack_qh(p + 4)));
    }
}
#endif

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

QuantRowDot quant_row_dot_32(uint32_t type) {
    switch (type) {
    case QUANT_F32: return row_f32;
    case QUANT_F16: return row_f16;
    case QUANT_BF16: return row_bf16;
    case QUANT_Q8_0: return row_q8_0;
    case QUANT_Q4_0: return row_q4_0;
    case QUANT_Q4_1: return row_q4_1;
    case QUANT_Q5_0: return row_q5_0;
    case QUANT_Q5_1: return row_q5_1;
    default: return NULL;
    }
}

#else
QuantRowDot quant_row_dot_32(uint32_t type) {
    (void)type;
    return NULL;
}
#endif
