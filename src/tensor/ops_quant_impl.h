/* ops_quant_impl.h: shared by the ops_quant*.c files only (not a public header): the row-kernel
 * signature, the K-quant dequantizer, and the SIMD helpers the fast kernels are written in. The
 * helpers work on VF, a vector of fp32 lanes: 16 with AVX-512, else 8 with AVX2 + FMA + F16C.
 * AVX-512's one-row kernels get quantized values as 16 or 32 bytes (unsigned or signed integers)
 * in element order, or already widened to int32 lanes, and each helper multiplies them, converted
 * exactly to fp32, with as many x and adds to an accumulator; AVX2's multi-row kernels take blocks
 * apart as 32-bit lanes (rows_nibbles, rows_high_bits) and multiply dequantized weights with each
 * row (rows_fma32). Without AVX2 none of this is compiled and the generic kernel in ops_quant.c
 * runs. */
#ifndef FTUNE_OPS_QUANT_IMPL_H
#define FTUNE_OPS_QUANT_IMPL_H

#include <stdint.h>

#include "../core/half.h"
#include "ops_quant.h"

/* One row's dot product: row (cols values in the type's blocks) . x (cols); xsum (cols/32) holds
 * the sums of x over each 32 values (used by the types with a min / offset). */
typedef float (*QuantRowDot)(const unsigned char *row, const float *x, const float *xsum, int cols);

/* ops_quant_k.c: nblocks super-blocks of Q4_K / Q5_K / Q6_K to fp32 (256 values each). */
void quant_dequantize_k(uint32_t type, const unsigned char *src, size_t nblocks, float *out);
/* ops_quant_k.c: the eight 6-bit scales and mins packed in a Q4_K / Q5_K block's 12 bytes s. */
void quant_scale_min_k4(const unsigned char *s, uint8_t sc[8], uint8_t m[8]);
/* The SIMD row kernel for a type, or NULL where this build has none. */
QuantRowDot quant_row_dot_k(uint32_t type);  /* ops_quant_k.c: Q4_K, Q5_K, Q6_K */
QuantRowDot quant_row_dot_32(uint32_t type); /* ops_quant_rows.c: F32, F16, BF16, (AVX-512) 32-blocks */
/* nr <= QUANT_ROWS_MAX rows of x against one weight row at once: out[i] = row . x[i], each row's
 * bits the same whatever nr is, with x[i] in the order quant_rows_layout_x gives (the 32-block
 * types and K-quants on AVX2, where the one-row kernel is this one; NULL elsewhere). */
#define QUANT_ROWS_MAX 4
typedef void (*QuantRowsDot)(const unsigned char *row, const float *const *x, int nr, int cols, float *out);
QuantRowsDot quant_rows_dot_32(uint32_t type); /* ops_quant_rows.c */
QuantRowsDot quant_rows_dot_k(uint32_t type);  /* ops_quant_k.c */
/* x (cols, a multiple of 32) into out in the order the QuantRowsDot kernels read it: within each 32
 * values, element 4l + k at 8k + l (the order in which the per-lane shifts take a block apart). */
void quant_rows_layout_x(float *out, const float *x, int cols);

static inline uint16_t quant_rd16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline float quant_rdh(const unsigned char *p) { return fp16_to_f32(quant_rd16(p)); }

/* Software prefetch of the weight stream this far ahead: in a matvec the weights are read once,
 * and the hardware prefetcher alone leaves K-quant rows streamed from DRAM 2x slower (measured). */
#define QUANT_PREFETCH_BYTES 2048

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define QUANT_SIMD 1
#include <immintrin.h>

#define QI8(c) _mm256_set1_epi8((char)(c))

/* always_inline: as a called function GCC deems it pure and deletes the call */
static inline __attribute__((always_inline)) void quant_prefetch(const unsigned char *p, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch((const char *)p + QUANT_PREFETCH_BYTES + o, _MM_HINT_T0);
}

#if defined(__AVX512F__)
typedef __m512 VF;
#define VF_LANES 16
static inline VF vf_zero(void) { return _mm512_setzero_ps(); }
static inline VF vf_set1(float a) { return _mm512_set1_ps(a); }
static inline VF vf_add(VF a, VF b) { return _mm512_add_ps(a, b); }
static inline VF vf_fma(VF a, VF b, VF c) { return _mm512_fmadd_ps(a, b, c); }
static inline float vf_sum(VF v) { return _mm512_reduce_add_ps(v); }
static inline VF vf_loadx(const float *x) { return _mm512_loadu_ps(x); }
static inline VF vf_load_f16(const unsigned char *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }
static inline VF vf_load_bf16(const unsigned char *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}
/* acc + x[0..15] * q (16 unsigned / signed bytes) */
static inline VF vf_fma16_u8(const float *x, __m128i q, VF acc) {
    return _mm512_fmadd_ps(_mm512_loadu_ps(x), _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q)), acc);
}
static inline VF vf_fma16_i8(const float *x, __m128i q, VF acc) {
    return _mm512_fmadd_ps(_mm512_loadu_ps(x), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), acc);
}
/* x[0..15] . a + x[16..31] . b, for integers already widened to 32-bit lanes */
static inline VF vf_dot32_epi32(const float *x, __m512i a, __m512i b) {
    return _mm512_fmadd_ps(_mm512_loadu_ps(x + 16), _mm512_cvtepi32_ps(b),
                           _mm512_mul_ps(_mm512_loadu_ps(x), _mm512_cvtepi32_ps(a)));
}
/* x[0..31] . q (32 unsigned / signed bytes), as lanes to be summed later */
static inline VF vf_dot32_u8(const float *x, __m256i q) {
    return vf_fma16_u8(x + 16, _mm256_extracti128_si256(q, 1), vf_fma16_u8(x, _mm256_castsi256_si128(q), vf_zero()));
}
static inline VF vf_dot32_i8(const float *x, __m256i q) {
    return vf_fma16_i8(x + 16, _mm256_extracti128_si256(q, 1), vf_fma16_i8(x, _mm256_castsi256_si128(q), vf_zero()));
}
/* 16 bytes widened to 16 int32 lanes */
static inline __m512i widen16_u8(const unsigned char *p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)); }
#else
typedef __m256 VF;
#define VF_LANES 8
static inline VF vf_zero(void) { return _mm256_setzero_ps(); }
static inline VF vf_set1(float a) { return _mm256_set1_ps(a); }
static inline VF vf_add(VF a, VF b) { return _mm256_add_ps(a, b); }
static inline VF vf_fma(VF a, VF b, VF c) { return _mm256_fmadd_ps(a, b, c); }
static inline float vf_sum(VF v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline VF vf_loadx(const float *x) { return _mm256_loadu_ps(x); }
static inline VF vf_load_f16(const unsigned char *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline VF vf_load_bf16(const unsigned char *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}
#endif

#if !defined(__AVX512F__)
/* The multi-row kernels' pieces (QuantRowsDot, AVX2). 32 weight bytes read as eight 32-bit lanes,
 * lane l holding bytes 4l..4l+3 (16 nibble bytes: loaded twice over): shifted right by s in lanes
 * 0-3 and t in lanes 4-7, masked to 4 bits. With s = 8k (and t = 8k, or 8k + 4 for the high
 * nibbles of 16 bytes), the lanes hold elements 4l + k: vector k of quant_rows_layout_x's order. */
static inline __attribute__((always_inline)) __m256i rows_nibbles(__m256i v, int s, int t) {
    __m256i r = s == t ? _mm256_srli_epi32(v, s) : _mm256_srlv_epi32(v, _mm256_setr_epi32(s, s, s, s, t, t, t, t));
    return _mm256_and_si256(r, _mm256_set1_epi32(15));
}

/* Each lane's bits from bit j on, moved to bit 4 and masked (16: a fifth bit; 48: a fifth and
 * sixth): the high bits of the elements rows_nibbles took apart. */
static inline __attribute__((always_inline)) __m256i rows_high_bits(__m256i v, int j, int mask) {
    return _mm256_and_si256(j <= 4 ? _mm256_slli_epi32(v, 4 - j) : _mm256_srli_epi32(v, j - 4),
                            _mm256_set1_epi32(mask));
}

/* acc0[i], acc1[i] += x[i][off..off+32) (rows layout) times a block's dequantized weights w[0..3],
 * for i < nr, vectors 0 and 2 into acc0, 1 and 3 into acc1: each row's FMAs in the same order
 * whatever nr is. */
static inline __attribute__((always_inline)) void rows_fma32(VF *acc0, VF *acc1, const float *const *x, size_t off,
                                                             int nr, const VF w[4]) {
    for (int i = 0; i < nr; i++) {
        const float *xb = x[i] + off;
        acc0[i] = vf_fma(vf_loadx(xb), w[0], acc0[i]);
        acc1[i] = vf_fma(vf_loadx(xb + 8), w[1], acc1[i]);
        acc0[i] = vf_fma(vf_loadx(xb + 16), w[2], acc0[i]);
        acc1[i] = vf_fma(vf_loadx(xb + 24), w[3], acc1[i]);
    }
}

/* The QuantRowsDot name: kernel(type, bb, row, x, nr, cols, out), an always-inline function,
 * instantiated for each row count so that nr is a constant in each. */
#define QUANT_ROWS_DOT(name, kernel, type, bb)                                                      \
    static void name(const unsigned char *p, const float *const *x, int nr, int cols, float *out) { \
        switch (nr) {                                                                               \
        case 1: kernel(type, bb, p, x, 1, cols, out); break;                                        \
        case 2: kernel(type, bb, p, x, 2, cols, out); break;                                        \
        case 3: kernel(type, bb, p, x, 3, cols, out); break;                                        \
        default: kernel(type, bb, p, x, 4, cols, out); break;                                       \
        }                                                                                           \
    }
#endif

/* 8 bytes at p widened to 8 int32 lanes, as signed or unsigned integers. */
static inline __m256i widen8(const unsigned char *p, bool sign) {
    __m128i b = _mm_loadl_epi64((const __m128i *)p);
    return sign ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
}

#endif /* AVX2 */

#endif
