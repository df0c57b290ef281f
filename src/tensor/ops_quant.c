/* ops_quant.c: quantized block formats and matrix-vector kernels (see ops_quant.h). Blocks:
 *   Q8_0: f16 d, 32 x int8 q                 x = d q
 *   Q4_0: f16 d, 16 bytes (low nibbles are x[0..15], high nibbles x[16..31])   x = d (q - 8)
 *   Q4_1: f16 d, f16 m, 16 bytes as Q4_0     x = d q + m
 * Per block, the dot product with x runs on the integer values, then the scale (and min) apply
 * once: Q8_0 d sum(x q); Q4_0 d (sum(x q) - 8 sum(x)); Q4_1 d sum(x q) + m sum(x).
 * Rows are split across OpenMP threads; inner loops are written to vectorise. */
#include "ops_quant.h"

#include "../core/half.h"

static inline uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

bool quant_type_supported(uint32_t t) { return t == QUANT_Q8_0 || t == QUANT_Q4_0 || t == QUANT_Q4_1; }

size_t quant_block_bytes(uint32_t t) { return t == QUANT_Q8_0 ? 34 : t == QUANT_Q4_0 ? 18 : 20; }

void quant_dequantize(uint32_t type, const unsigned char *p, size_t n, float *out) {
    size_t bb = quant_block_bytes(type);
    for (size_t b = 0; b < n / QUANT_BLOCK; b++, p += bb, out += QUANT_BLOCK) {
        float d = fp16_to_f32(rd16(p));
        if (type == QUANT_Q8_0) {
            for (int j = 0; j < 32; j++) out[j] = d * (float)(int8_t)p[2 + j];
        } else if (type == QUANT_Q4_0) {
            for (int j = 0; j < 16; j++) {
                out[j] = d * (float)((p[2 + j] & 0x0f) - 8);
                out[j + 16] = d * (float)((p[2 + j] >> 4) - 8);
            }
        } else {
            float m = fp16_to_f32(rd16(p + 2));
            for (int j = 0; j < 16; j++) {
                out[j] = d * (float)(p[4 + j] & 0x0f) + m;
                out[j + 16] = d * (float)(p[4 + j] >> 4) + m;
            }
        }
    }
}

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* eight unsigned/signed bytes to eight floats */
static inline __m256 u8_to_ps(__m128i b) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b)); }
static inline __m256 i8_to_ps(__m128i b) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)); }

/* Block dot products as 8-lane partial sums: the caller scales them by the block's d and sums
 * the lanes once per row. */
static inline __m256 dot_q8_v(const float *x, const int8_t *q) {
    __m128i a = _mm_loadu_si128((const __m128i *)q), b = _mm_loadu_si128((const __m128i *)(q + 16));
    __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(x), i8_to_ps(a));
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8), i8_to_ps(_mm_srli_si128(a, 8)), acc);
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + 16), i8_to_ps(b), acc);
    return _mm256_fmadd_ps(_mm256_loadu_ps(x + 24), i8_to_ps(_mm_srli_si128(b, 8)), acc);
}

static inline __m256 dot_q4_v(const float *x, const unsigned char *q) {
    __m128i bytes = _mm_loadu_si128((const __m128i *)q), mask = _mm_set1_epi8(0x0f);
    __m128i lo = _mm_and_si128(bytes, mask), hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
    __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(x), u8_to_ps(lo));
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8), u8_to_ps(_mm_srli_si128(lo, 8)), acc);
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + 16), u8_to_ps(hi), acc);
    return _mm256_fmadd_ps(_mm256_loadu_ps(x + 24), u8_to_ps(_mm_srli_si128(hi, 8)), acc);
}

/* One row: sum over blocks of d * dot (+ the Q4_0/Q4_1 offset terms, as scalars). */
static inline float row_dot(uint32_t type, const unsigned char *p, const float *x, const float *xsum, int nb,
                            size_t bb) {
    __m256 acc = _mm256_setzero_ps();
    float off = 0;
    for (int b = 0; b < nb; b++, p += bb, x += QUANT_BLOCK) {
        __m256 d = _mm256_set1_ps(fp16_to_f32(rd16(p)));
        if (type == QUANT_Q8_0) {
            acc = _mm256_fmadd_ps(d, dot_q8_v(x, (const int8_t *)(p + 2)), acc);
        } else if (type == QUANT_Q4_0) {
            acc = _mm256_fmadd_ps(d, dot_q4_v(x, p + 2), acc);
            off -= 8.0f * _mm256_cvtss_f32(d) * xsum[b];
        } else {
            acc = _mm256_fmadd_ps(d, dot_q4_v(x, p + 4), acc);
            off += fp16_to_f32(rd16(p + 2)) * xsum[b];
        }
    }
    return hsum8(acc) + off;
}
#else
static inline float dot_q8(const float *x, const int8_t *q) {
    float acc = 0;
    for (int j = 0; j < QUANT_BLOCK; j++) acc += x[j] * (float)q[j];
    return acc;
}

static inline float dot_q4(const float *x, const unsigned char *q) {
    float acc = 0;
    for (int j = 0; j < 16; j++) acc += x[j] * (float)(q[j] & 0x0f) + x[j + 16] * (float)(q[j] >> 4);
    return acc;
}

static inline float row_dot(uint32_t type, const unsigned char *p, const float *x, const float *xsum, int nb,
                            size_t bb) {
    float acc = 0;
    for (int b = 0; b < nb; b++, p += bb, x += QUANT_BLOCK) {
        float d = fp16_to_f32(rd16(p));
        if (type == QUANT_Q8_0) acc += d * dot_q8(x, (const int8_t *)(p + 2));
        else if (type == QUANT_Q4_0) acc += d * (dot_q4(x, p + 2) - 8.0f * xsum[b]);
        else acc += d * dot_q4(x, p + 4) + fp16_to_f32(rd16(p + 2)) * xsum[b];
    }
    return acc;
}
#endif

void op_matvec_quant(float *y, const float *x, const QuantMatrix *w, const float *bias) {
    int nb = w->cols / QUANT_BLOCK;
    size_t bb = quant_block_bytes(w->type), row_bytes = (size_t)nb * bb;
    float xsum[nb]; /* sum of x over each block, for the offsets of Q4_0 / Q4_1 */
    for (int b = 0; b < nb; b++) {
        float s = 0;
        for (int j = 0; j < QUANT_BLOCK; j++) s += x[b * QUANT_BLOCK + j];
        xsum[b] = s;
    }
#pragma omp parallel for schedule(static)
    for (int r = 0; r < w->rows; r++)
        y[r] = row_dot(w->type, w->data + (size_t)r * row_bytes, x, xsum, nb, bb) + (bias ? bias[r] : 0.0f);
}

void op_matvec_quant_ref(float *y, const float *x, const QuantMatrix *w, const float *bias) {
    float row[w->cols];
    size_t row_bytes = (size_t)(w->cols / QUANT_BLOCK) * quant_block_bytes(w->type);
    for (int r = 0; r < w->rows; r++) {
        quant_dequantize(w->type, w->data + (size_t)r * row_bytes, (size_t)w->cols, row);
        double acc = bias ? bias[r] : 0.0;
        for (int c = 0; c < w->cols; c++) acc += (double)row[c] * x[c];
        y[r] = (float)acc;
    }
}
