/* ops_quant_k.c: GGML's K-quants, 256 weights a super-block in 8 sub-blocks of 32 (16 groups of
 * 16 for Q6_K): dequantization and the SIMD row kernels. Layouts (little-endian, f16 = IEEE half):
 *   Q4_K (144 B): f16 d, f16 dmin, 12 B of 6-bit scales sc[8] and mins m[8] (below), 128 B qs:
 *                 byte 32i + l holds value l of sub-block 2i (low nibble) and of 2i+1 (high)
 *                 value = (d sc_s) q - (dmin m_s)
 *   Q5_K (176 B): f16 d, f16 dmin, 12 B scales as Q4_K, 32 B qh, 128 B qs as Q4_K; bit s of
 *                 qh[l] is bit 4 of value l of sub-block s            value as Q4_K
 *   Q6_K (210 B): 128 B ql, 64 B qh, 16 x int8 scales, f16 d. Half h (128 values): value 32k + l
 *                 (k < 4, l < 32) takes its low 4 bits from ql[64h + 32(k & 1) + l] (low nibble
 *                 for k < 2, high for k >= 2) and bits 4-5 from bits 2k, 2k+1 of qh[32h + l]
 *                 value = (d sc_g) (q - 32), g = index / 16
 * Scales of Q4_K / Q5_K: bytes 0-3 hold sc[0..3] in their low 6 bits, bytes 4-7 m[0..3]; for
 * j = 4..7, sc[j] = (byte j+4 & 15) | (top 2 bits of byte j-4) << 4 and
 * m[j] = (byte j+4 >> 4) | (top 2 bits of byte j) << 4.
 * Dequantization computes (d sc) q - (dmin m) as gguf's numpy reference does; the products are
 * exact in fp32, so the subtraction is the only rounding (see ops_quant.c). The AVX-512 row kernels
 * multiply x by the integers q in fp32 lanes, apply d sc once per sub-block (per 16 for Q6_K) and
 * the mins as dmin * sum_s m_s * sum(x over s); the AVX2 ones take 1 to 4 rows of x at once and
 * dequantize each sub-block exactly before multiplying (as ops_quant_rows.c's 32-block kernels). */
#include <string.h>

#include "ops_quant_impl.h"

void quant_scale_min_k4(const unsigned char *s, uint8_t sc[8], uint8_t m[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        m[j] = s[j + 4] & 63;
        sc[j + 4] = (uint8_t)((s[j + 8] & 15) | (s[j] >> 6) << 4);
        m[j + 4] = (uint8_t)((s[j + 8] >> 4) | (s[j + 4] >> 6) << 4);
    }
}

#ifdef QUANT_SIMD
/* The same values 8 at a time (AVX2): bytes widened to 32-bit lanes in element order, the same
 * exact products and one rounding (an FMA for - m), so the same bits. */
static void dequantize_q45_k(bool five, const unsigned char *p, float *out) {
    float d = quant_rdh(p), dmin = quant_rdh(p + 2);
    uint8_t sc[8], mn[8];
    quant_scale_min_k4(p + 4, sc, mn);
    const unsigned char *qh = p + 16, *qs = five ? p + 48 : p + 16;
    for (int s = 0; s < 8; s++, out += 32) { /* sub-block s: low (even s) or high nibbles of qs[32 (s / 2) + l] */
        __m256 ds = _mm256_set1_ps(d * (float)sc[s]), m = _mm256_set1_ps(-(dmin * (float)mn[s]));
        for (int j = 0; j < 4; j++) {
            __m256i v = widen8(qs + 32 * (s / 2) + 8 * j, false);
            __m256i q = s & 1 ? _mm256_srli_epi32(v, 4) : _mm256_and_si256(v, _mm256_set1_epi32(15));
            if (five) { /* bit s of qh[l] */
                __m256i bit = _mm256_and_si256(_mm256_srli_epi32(widen8(qh + 8 * j, false), s), _mm256_set1_epi32(1));
                q = _mm256_or_si256(q, _mm256_slli_epi32(bit, 4));
            }
            _mm256_storeu_ps(out + 8 * j, _mm256_fmadd_ps(_mm256_cvtepi32_ps(q), ds, m));
        }
    }
}

static void dequantize_q6_k(const unsigned char *p, float *out) {
    const int8_t *sc = (const int8_t *)(p + 192);
    float d = quant_rdh(p + 208);
    for (int h = 0; h < 2; h++) {
        const unsigned char *ql = p + 64 * h, *qh = p + 128 + 32 * h;
        for (int k = 0; k < 4; k++, out += 32)
            for (int j = 0; j < 4; j++) { /* values 32k + 8j .. + 7 of the half */
                __m256i lo = widen8(ql + 32 * (k & 1) + 8 * j, false), hi = widen8(qh + 8 * j, false);
                lo = k < 2 ? _mm256_and_si256(lo, _mm256_set1_epi32(15)) : _mm256_srli_epi32(lo, 4);
                hi = _mm256_and_si256(_mm256_srli_epi32(hi, 2 * k), _mm256_set1_epi32(3));
                __m256i q = _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32));
                float ds = d * (float)sc[(128 * h + 32 * k + 8 * j) / 16];
                _mm256_storeu_ps(out + 8 * j, _mm256_mul_ps(_mm256_set1_ps(ds), _mm256_cvtepi32_ps(q)));
            }
    }
}
#else
static void dequantize_q45_k(bool five, const unsigned char *p, float *out) {
    float d = quant_rdh(p), dmin = quant_rdh(p + 2);
    uint8_t sc[8], mn[8];
    quant_scale_min_k4(p + 4, sc, mn);
    const unsigned char *qh = p + 16, *qs = five ? p + 48 : p + 16;
    for (int i = 0; i < 4; i++, qs += 32, out += 64) {
        float d1 = d * (float)sc[2 * i], m1 = dmin * (float)mn[2 * i];
        float d2 = d * (float)sc[2 * i + 1], m2 = dmin * (float)mn[2 * i + 1];
        for (int l = 0; l < 32; l++) {
            int h1 = five ? ((qh[l] >> (2 * i)) & 1) << 4 : 0, h2 = five ? ((qh[l] >> (2 * i + 1)) & 1) << 4 : 0;
            out[l] = d1 * (float)((qs[l] & 15) | h1) - m1;
            out[l + 32] = d2 * (float)((qs[l] >> 4) | h2) - m2;
        }
    }
}

static void dequantize_q6_k(const unsigned char *p, float *out) {
    const int8_t *sc = (const int8_t *)(p + 192);
    float d = quant_rdh(p + 208);
    for (int h = 0; h < 2; h++) {
        const unsigned char *ql = p + 64 * h, *qh = p + 128 + 32 * h;
        for (int k = 0; k < 4; k++) {
            for (int l = 0; l < 32; l++) {
                int lo = (k < 2 ? ql[32 * (k & 1) + l] & 15 : ql[32 * (k & 1) + l] >> 4);
                int q = (lo | ((qh[l] >> (2 * k)) & 3) << 4) - 32;
                int idx = 128 * h + 32 * k + l;
                out[idx] = (d * (float)sc[idx / 16]) * (float)q;
            }
        }
    }
}
#endif

void quant_dequantize_k(uint32_t type, const unsigned char *p, size_t nblocks, float *out) {
    size_t bb = quant_block_bytes(type);
    for (size_t b = 0; b < nblocks; b++, p += bb, out += QUANT_BLOCK_K) {
        if (type == QUANT_Q6_K) dequantize_q6_k(p, out);
        else dequantize_q45_k(type == QUANT_Q5_K, p, out);
    }
}

#ifdef QUANT_SIMD

/* The 8 six-bit scales and mins of a Q4_K / Q5_K super-block as 8 floats each (SIMD version of
 * scale_min_k4: the same bit moves on three 32-bit words). */
static inline void scale_min_k4_ps(const unsigned char *s, __m256 *sc, __m256 *m) {
    uint32_t w[3];
    memcpy(w, s, 12);
    uint64_t sc8 = (uint64_t)(w[0] & 0x3f3f3f3f) | (uint64_t)((w[2] & 0x0f0f0f0f) | ((w[0] >> 2) & 0x30303030)) << 32;
    uint64_t m8 = (uint64_t)(w[1] & 0x3f3f3f3f) | (uint64_t)(((w[2] >> 4) & 0x0f0f0f0f) | ((w[1] >> 2) & 0x30303030)) << 32;
    *sc = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)sc8)));
    *m = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)m8)));
}

#if defined(__AVX512F__)
static inline float hsum_ps256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* AVX-512, one row. Q4_K and Q5_K: acc0 takes the even sub-blocks, acc1 the odd ones; the mins
 * accumulate in 8 lanes, one per sub-block. */
static inline __attribute__((always_inline)) float row_q45_k(bool five, const unsigned char *p, const float *x,
                                                             const float *xsum, int cols) {
    VF acc0 = vf_zero(), acc1 = vf_zero();
    __m256 off = _mm256_setzero_ps();
    size_t bb = five ? 176 : 144;
    for (int sb = 0; sb < cols / QUANT_BLOCK_K; sb++, p += bb, x += QUANT_BLOCK_K, xsum += 8) {
        __m256 sc, mn;
        float ds[8];
        quant_prefetch(p, bb);
        scale_min_k4_ps(p + 4, &sc, &mn);
        _mm256_storeu_ps(ds, _mm256_mul_ps(_mm256_set1_ps(quant_rdh(p)), sc)); /* d sc_s, as the reference */
        off = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(quant_rdh(p + 2)), mn), _mm256_loadu_ps(xsum), off);
        const unsigned char *qs = five ? p + 48 : p + 16;
        if (!five) { /* Q4_K: bytes widen to int32 lanes, where the nibbles are masked and shifted
                      * out (for Q5_K the byte path below measured faster) */
            __m512i m15 = _mm512_set1_epi32(15);
            for (int i = 0; i < 4; i++, qs += 32) {
                __m512i v0 = widen16_u8(qs), v1 = widen16_u8(qs + 16);
                __m512i lo0 = _mm512_and_si512(v0, m15), lo1 = _mm512_and_si512(v1, m15);
                __m512i hi0 = _mm512_srli_epi32(v0, 4), hi1 = _mm512_srli_epi32(v1, 4);
                acc0 = vf_fma(vf_set1(ds[2 * i]), vf_dot32_epi32(x + 64 * i, lo0, lo1), acc0);
                acc1 = vf_fma(vf_set1(ds[2 * i + 1]), vf_dot32_epi32(x + 64 * i + 32, hi0, hi1), acc1);
            }
            continue;
        }
        __m256i qh = five ? _mm256_loadu_si256((const __m256i *)(p + 16)) : _mm256_setzero_si256();
        for (int i = 0; i < 4; i++, qs += 32) {
            __m256i b = _mm256_loadu_si256((const __m256i *)qs);
            __m256i lo = _mm256_and_si256(b, QI8(15)), hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), QI8(15));
            if (five) { /* bits 2i, 2i+1 of each qh byte (shifted down by 2 per i) become bit 4 */
                lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(qh, 4), QI8(0x10)));
                hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(qh, 3), QI8(0x10)));
                qh = _mm256_srli_epi16(qh, 2);
            }
            acc0 = vf_fma(vf_set1(ds[2 * i]), vf_dot32_u8(x + 64 * i, lo), acc0);
            acc1 = vf_fma(vf_set1(ds[2 * i + 1]), vf_dot32_u8(x + 64 * i + 32, hi), acc1);
        }
    }
    return vf_sum(vf_add(acc0, acc1)) - hsum_ps256(off);
}

static float row_q4_k(const unsigned char *p, const float *x, const float *xsum, int cols) {
    return row_q45_k(false, p, x, xsum, cols);
}
static float row_q5_k(const unsigned char *p, const float *x, const float *xsum, int cols) {
    return row_q45_k(true, p, x, xsum, cols);
}

/* Q6_K: 32 values at a time as int8 q - 32, each 16 scaled by d sc_g. */
static float row_q6_k(const unsigned char *p, const float *x, const float *xsum, int cols) {
    (void)xsum;
    VF acc0 = vf_zero(), acc1 = vf_zero();
    for (int sb = 0; sb < cols / QUANT_BLOCK_K; sb++, p += 210) {
        float ds[16]; /* d sc_g, as the reference */
        quant_prefetch(p, 210);
        __m128i sc = _mm_loadu_si128((const __m128i *)(p + 192));
        __m256 d = _mm256_set1_ps(quant_rdh(p + 208));
        _mm256_storeu_ps(ds, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc))));
        _mm256_storeu_ps(ds + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc, 8)))));
        for (int h = 0; h < 2; h++, x += 128) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(p + 64 * h));
            __m256i b = _mm256_loadu_si256((const __m256i *)(p + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(p + 128 + 32 * h)), m30 = QI8(0x30);
            __m256i q[4] = {
                _mm256_or_si256(_mm256_and_si256(a, QI8(15)), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30)),
                _mm256_or_si256(_mm256_and_si256(b, QI8(15)), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), QI8(15)), _mm256_and_si256(qh, m30)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), QI8(15)),
                                _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30)),
            };
            const float *s = ds + 8 * h;
            for (int k = 0; k < 4; k++) {
                __m256i v = _mm256_sub_epi8(q[k], QI8(32));
                VF lo = vf_fma16_i8(x + 32 * k, _mm256_castsi256_si128(v), vf_zero());
                VF hi = vf_fma16_i8(x + 32 * k + 16, _mm256_extracti128_si256(v, 1), vf_zero());
                acc0 = vf_fma(vf_set1(s[2 * k]), lo, acc0);
                acc1 = vf_fma(vf_set1(s[2 * k + 1]), hi, acc1);
            }
        }
    }
    return vf_sum(vf_add(acc0, acc1));
}

#else
/* AVX2, 1 to QUANT_ROWS_MAX rows: each 32-value sub-block taken apart in quant_rows_layout_x's
 * order and dequantized exactly as quant_dequantize_k does, then multiplied with every row
 * (rows_fma32). Q4_K / Q5_K: sub-block s is the low (even s) or high nibbles of qs[32 (s / 2) + l],
 * with bit s of qh[l] as Q5_K's fifth bit; value = (d sc_s) q - dmin m_s, one rounding. */
static inline __attribute__((always_inline)) void rows_q45_k_block(bool five, const unsigned char *p,
                                                                   const float *const *x, size_t off, int nr,
                                                                   VF *acc0, VF *acc1) {
    __m256 sc, mn;
    float ds[8], dm[8];
    scale_min_k4_ps(p + 4, &sc, &mn);
    _mm256_storeu_ps(ds, _mm256_mul_ps(_mm256_set1_ps(quant_rdh(p)), sc));
    _mm256_storeu_ps(dm, _mm256_mul_ps(_mm256_set1_ps(quant_rdh(p + 2)), mn));
    const unsigned char *qs = five ? p + 48 : p + 16;
    __m256i qh = five ? _mm256_loadu_si256((const __m256i *)(p + 16)) : _mm256_setzero_si256();
    for (int s = 0; s < 8; s++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * (s / 2)));
        VF w[4];
        for (int k = 0; k < 4; k++) {
            __m256i q = rows_nibbles(v, 8 * k + 4 * (s & 1), 8 * k + 4 * (s & 1));
            if (five) q = _mm256_or_si256(q, rows_high_bits(qh, 8 * k + s, 16));
            w[k] = vf_fma(_mm256_cvtepi32_ps(q), vf_set1(ds[s]), vf_set1(-dm[s]));
        }
        rows_fma32(acc0, acc1, x, off + 32 * (size_t)s, nr, w);
    }
}

/* Q6_K: half h, quarter k of 32 values: low bits from ql[64h + 32 (k & 1) + l] (high nibbles for
 * k >= 2), bits 4-5 from bits 2k, 2k+1 of qh[32h + l]; values 0-15 (lanes 0-3) scaled by d sc_g,
 * 16-31 (lanes 4-7) by d sc_g+1: (d sc) (q - 32) as the reference. */
static inline __attribute__((always_inline)) void rows_q6_k_block(const unsigned char *p, const float *const *x,
                                                                  size_t off, int nr, VF *acc0, VF *acc1) {
    float ds[16], d = quant_rdh(p + 208);
    for (int g = 0; g < 16; g++) ds[g] = d * (float)((const int8_t *)(p + 192))[g];
    for (int h = 0; h < 2; h++) {
        __m256i qh = _mm256_loadu_si256((const __m256i *)(p + 128 + 32 * h));
        for (int k = 0; k < 4; k++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(p + 64 * h + 32 * (k & 1)));
            int g = 8 * h + 2 * k, lo = k >= 2 ? 4 : 0;
            __m256 scale = _mm256_setr_m128(_mm_set1_ps(ds[g]), _mm_set1_ps(ds[g + 1]));
            VF w[4];
            for (int j = 0; j < 4; j++) {
                __m256i q = _mm256_or_si256(rows_nibbles(v, 8 * j + lo, 8 * j + lo),
                                            rows_high_bits(qh, 8 * j + 2 * k, 48));
                w[j] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, _mm256_set1_epi32(32))), scale);
            }
            rows_fma32(acc0, acc1, x, off + 128 * (size_t)h + 32 * (size_t)k, nr, w);
        }
    }
}

static inline __attribute__((always_inline)) void rows_k(uint32_t type, size_t bb, const unsigned char *p,
                                                         const float *const *x, int nr, int cols, float *out) {
    VF acc0[QUANT_ROWS_MAX], acc1[QUANT_ROWS_MAX];
    for (int i = 0; i < nr; i++) acc0[i] = acc1[i] = vf_zero();
    for (int sb = 0; sb < cols / QUANT_BLOCK_K; sb++, p += bb) {
        quant_prefetch(p, bb);
        if (type == QUANT_Q6_K) rows_q6_k_block(p, x, (size_t)sb * QUANT_BLOCK_K, nr, acc0, acc1);
        else rows_q45_k_block(type == QUANT_Q5_K, p, x, (size_t)sb * QUANT_BLOCK_K, nr, acc0, acc1);
    }
    for (int i = 0; i < nr; i++) out[i] = vf_sum(vf_add(acc0[i], acc1[i]));
}

QUANT_ROWS_DOT(rows_q4_k, rows_k, QUANT_Q4_K, 144)
QUANT_ROWS_DOT(rows_q5_k, rows_k, QUANT_Q5_K, 176)
QUANT_ROWS_DOT(rows_q6_k, rows_k, QUANT_Q6_K, 210)

#endif
#endif /* QUANT_SIMD */

/* AVX-512 has the one-row kernels, AVX2 the multi-row ones, other builds neither (ops_quant.c's
 * generic kernel runs). */
QuantRowDot quant_row_dot_k(uint32_t type) {
#if defined(QUANT_SIMD) && defined(__AVX512F__)
    switch (type) {
    case QUANT_Q4_K: return row_q4_k;
    case QUANT_Q5_K: return row_q5_k;
    case QUANT_Q6_K: return row_q6_k;
    }
#endif
    (void)type;
    return NULL;
}

QuantRowsDot quant_rows_dot_k(uint32_t type) {
#if defined(QUANT_SIMD) && !defined(__AVX512F__)
    switch (type) {
    case QUANT_Q4_K: return rows_q4_k;
    case QUANT_Q5_K: return rows_q5_k;
    case QUANT_Q6_K: return rows_q6_k;
    }
#endif
    (void)type;
    return NULL;
}
