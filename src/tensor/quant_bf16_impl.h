/* quant_bf16_impl.h: shared by quant_bf16.c and the bf16 decode kernels (matvec_bf16.c,
 * matvec_amx.c) only: 32 stored values converted to bf16 in one AVX-512 register, for the 32-weight
 * block types and F16 (quant_bf16_fast's types). Each value is d q, or d q + m for the types with a min (d q is exact in fp32: an fp16 d
 * has 11 significant bits, q at most 8, so FMA or not gives the one rounding of + m), rounded to
 * nearest even; a value of these types is
 * 0 or at least 2^-24 in magnitude, so VCVTNE2PS2BF16's flush of fp32 subnormals never applies and
 * the result equals quant_dequantize's value rounded by f32_to_bf16. Functions carry BF16_TARGET:
 * call them only where the CPU has AVX512-BF16. */
#ifndef FTUNE_QUANT_BF16_IMPL_H
#define FTUNE_QUANT_BF16_IMPL_H

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <string.h>

#include "ops_quant_impl.h"

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16,f16c")))

/* Bytes of 32 stored values of the types bf16_block32 takes: a block, or 32 halves of F16. */
static inline size_t bf16_block32_bytes(uint32_t type) { return type == QUANT_F16 ? 64 : quant_block_bytes(type); }

/* An fp16 scalar at p in every lane. */
BF16_TARGET static inline __m512 bf16_impl_half(const unsigned char *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _mm512_cvtph_ps(_mm256_set1_epi16((short)h));
}

/* lo (values 0..15) and hi (16..31) as d q, rounded into one register in element order. */
BF16_TARGET static inline __m512bh bf16_impl_scale(__m512i lo, __m512i hi, __m512 d) {
    return _mm512_cvtne2ps_pbh(_mm512_mul_ps(d, _mm512_cvtepi32_ps(hi)), _mm512_mul_ps(d, _mm512_cvtepi32_ps(lo)));
}

/* lo and hi as d q + m (the one rounding), rounded into one register in element order. */
BF16_TARGET static inline __m512bh bf16_impl_scale_min(__m512i lo, __m512i hi, __m512 d, __m512 m) {
    __m512 a = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(lo), m), b = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(hi), m);
    return _mm512_cvtne2ps_pbh(b, a);
}

/* 16 bytes of nibbles: value j's low nibble in lo, value j + 16's in hi; qh's bits add 16 (Q5). */
BF16_TARGET static inline void bf16_impl_nibbles(const unsigned char *q, const unsigned char *qh_p, __m512i *lo,
                                                 __m512i *hi) {
    __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)q));
    *lo = _mm512_and_si512(v, _mm512_set1_epi32(15));
    *hi = _mm512_srli_epi32(v, 4);
    if (qh_p) {
        uint32_t qh;
        memcpy(&qh, qh_p, 4);
        *lo = _mm512_mask_or_epi32(*lo, (__mmask16)(qh & 0xffff), *lo, _mm512_set1_epi32(16));
        *hi = _mm512_mask_or_epi32(*hi, (__mmask16)(qh >> 16), *hi, _mm512_set1_epi32(16));
    }
}

/* The 32 values of the block at p (F16: the 32 halves at p) in bf16. type is a constant after
 * inlining. */
BF16_TARGET static inline __attribute__((always_inline)) __m512bh bf16_block32(uint32_t type, const unsigned char *p) {
    __m512i lo, hi;
    switch (type) {
    case QUANT_F16:
        return _mm512_cvtne2ps_pbh(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 32))),
                                   _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)));
    case QUANT_Q8_0:
        lo = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p + 2)));
        hi = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p + 18)));
        return bf16_impl_scale(lo, hi, bf16_impl_half(p));
    case QUANT_Q4_0:
        bf16_impl_nibbles(p + 2, NULL, &lo, &hi);
        return bf16_impl_scale(_mm512_sub_epi32(lo, _mm512_set1_epi32(8)), _mm512_sub_epi32(hi, _mm512_set1_epi32(8)),
                               bf16_impl_half(p));
    case QUANT_Q4_1:
        bf16_impl_nibbles(p + 4, NULL, &lo, &hi);
        return bf16_impl_scale_min(lo, hi, bf16_impl_half(p), bf16_impl_half(p + 2));
    case QUANT_Q5_0:
        bf16_impl_nibbles(p + 6, p + 2, &lo, &hi);
        return bf16_impl_scale(_mm512_sub_epi32(lo, _mm512_set1_epi32(16)),
                               _mm512_sub_epi32(hi, _mm512_set1_epi32(16)), bf16_impl_half(p));
    default: /* QUANT_Q5_1 */
        bf16_impl_nibbles(p + 8, p + 4, &lo, &hi);
        return bf16_impl_scale_min(lo, hi, bf16_impl_half(p), bf16_impl_half(p + 2));
    }
}
#endif

#endif
