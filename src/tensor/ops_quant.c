/* ops_quant.c: the type table, dequantization of the plain and 32-weight block types, the matvec
 * driver and its naive twin (see ops_quant.h). Blocks (little-endian, f16 = IEEE half):
 *   F32 / F16 / BF16: one value per element
 *   Q8_0 (34 B): f16 d, 32 x int8 q                           x = d q
 *   Q4_0 (18 B): f16 d, 16 B of nibbles: low nibble of byte j is value j, high nibble value j+16
 *                                                             x = d (q - 8)
 *   Q4_1 (20 B): f16 d, f16 m, nibbles as Q4_0                x = d q + m
 *   Q5_0 (22 B): f16 d, u32 qh, nibbles as Q4_0; bit j of qh is bit 4 of value j
 *                                                             x = d (q - 16)
 *   Q5_1 (24 B): f16 d, f16 m, u32 qh, nibbles as Q5_0        x = d q + m
 * The K-quants are in ops_quant_k.c, the SIMD row kernels in ops_quant_rows.c. Every product in
 * a dequantization (d q here, d sc and (d sc) q in the K-quants) is exact in fp32 (an fp16 d has
 * 11 significant bits, the integers at most 7 + 6), so the one rounding is the final + m (- dmin m),
 * the same one gguf's numpy reference makes: the values are bit-identical to it (golden test),
 * FMA contraction or not. n must be a multiple of the block size (ops_quant.h). */
#include <math.h>
#include <string.h>

#include "../core/scratch.h"
#include "ops_quant_impl.h"

typedef struct {
    uint32_t type;
    uint16_t elems, bytes; /* per block */
} TypeInfo;

static const TypeInfo TYPES[] = {
    {QUANT_F32, 1, 4},    {QUANT_F16, 1, 2},    {QUANT_BF16, 1, 2},   {QUANT_Q8_0, 32, 34},
    {QUANT_Q4_0, 32, 18}, {QUANT_Q4_1, 32, 20}, {QUANT_Q5_0, 32, 22}, {QUANT_Q5_1, 32, 24},
    {QUANT_Q4_K, 256, 144}, {QUANT_Q5_K, 256, 176}, {QUANT_Q6_K, 256, 210},
};

static const TypeInfo *type_info(uint32_t t) {
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (TYPES[i].type == t) return &TYPES[i];
    return NULL;
}

bool quant_type_supported(uint32_t t) { return type_info(t) != NULL; }
size_t quant_block_elems(uint32_t t) { return type_info(t) ? type_info(t)->elems : 0; }
size_t quant_block_bytes(uint32_t t) { return type_info(t) ? type_info(t)->bytes : 0; }

size_t quant_row_bytes(uint32_t t, size_t n) {
    const TypeInfo *ti = type_info(t);
    return ti ? n / ti->elems * ti->bytes : 0;
}

static inline uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#ifndef QUANT_SIMD
/* One 32-value block of a block type (not F32/F16/BF16) to fp32. */
static void dequantize_block32(uint32_t type, const unsigned char *p, float *out) {
    float d = quant_rdh(p);
    switch (type) {
    case QUANT_Q8_0:
        for (int j = 0; j < 32; j++) out[j] = d * (float)(int8_t)p[2 + j];
        break;
    case QUANT_Q4_0:
        for (int j = 0; j < 16; j++) {
            out[j] = d * (float)((p[2 + j] & 0x0f) - 8);
            out[j + 16] = d * (float)((p[2 + j] >> 4) - 8);
        }
        break;
    case QUANT_Q4_1: {
        float m = quant_rdh(p + 2);
        for (int j = 0; j < 16; j++) {
            out[j] = d * (float)(p[4 + j] & 0x0f) + m;
            out[j + 16] = d * (float)(p[4 + j] >> 4) + m;
        }
        break;
    }
    case QUANT_Q5_0: {
        uint32_t qh = rd32(p + 2);
        for (int j = 0; j < 16; j++) {
            out[j] = d * (float)((int)((p[6 + j] & 0x0f) | ((qh >> j) & 1) << 4) - 16);
            out[j + 16] = d * (float)((int)((p[6 + j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - 16);
        }
        break;
    }
    case QUANT_Q5_1: {
        float m = quant_rdh(p + 2);
        uint32_t qh = rd32(p + 4);
        for (int j = 0; j < 16; j++) {
            out[j] = d * (float)((p[8 + j] & 0x0f) | ((qh >> j) & 1) << 4) + m;
            out[j + 16] = d * (float)((p[8 + j] >> 4) | ((qh >> (j + 16)) & 1) << 4) + m;
        }
        break;
    }
    }
}
#else
/* One 32-value block 8 values at a time (AVX2): bytes widened to 32-bit lanes in element order,
 * the same products (d q exact, and the one rounding of + m: an FMA), so the same bits. */
static void dequantize_block32(uint32_t type, const unsigned char *p, float *out) {
    __m256 d = _mm256_set1_ps(quant_rdh(p));
    __m256i q[4];
    if (type == QUANT_Q8_0) {
        for (int k = 0; k < 4; k++)
            _mm256_storeu_ps(out + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(widen8(p + 2 + 8 * k, true)), d));
        return;
    }
    bool five = type == QUANT_Q5_0 || type == QUANT_Q5_1, min = type == QUANT_Q4_1 || type == QUANT_Q5_1;
    const unsigned char *qs = p + 2 + (min ? 2 : 0) + (five ? 4 : 0);
    __m256i lo = widen8(qs, false), hi = widen8(qs + 8, false), m15 = _mm256_set1_epi32(15);
    q[0] = _mm256_and_si256(lo, m15), q[1] = _mm256_and_si256(hi, m15);
    q[2] = _mm256_srli_epi32(lo, 4), q[3] = _mm256_srli_epi32(hi, 4);
    if (five) { /* bit j of qh is bit 4 of value j */
        __m256i qh = _mm256_set1_epi32((int)rd32(qs - 4)), at = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        for (int k = 0; k < 4; k++) {
            __m256i bit = _mm256_srlv_epi32(qh, _mm256_add_epi32(at, _mm256_set1_epi32(8 * k)));
            q[k] = _mm256_or_si256(q[k], _mm256_slli_epi32(_mm256_and_si256(bit, _mm256_set1_epi32(1)), 4));
        }
    }
    if (min) {
        __m256 m = _mm256_set1_ps(quant_rdh(p + 2));
        for (int k = 0; k < 4; k++) _mm256_storeu_ps(out + 8 * k, _mm256_fmadd_ps(_mm256_cvtepi32_ps(q[k]), d, m));
        return;
    }
    __m256i off = _mm256_set1_epi32(five ? 16 : 8); /* d (q - 8), d (q - 16): exact products */
    for (int k = 0; k < 4; k++)
        _mm256_storeu_ps(out + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q[k], off)), d));
}
#endif

void quant_dequantize(uint32_t type, const unsigned char *p, size_t n, float *out) {
    switch (type) {
    case QUANT_F32:
        memcpy(out, p, n * sizeof(float));
        return;
    case QUANT_F16:
        for (size_t i = 0; i < n; i++) out[i] = quant_rdh(p + 2 * i);
        return;
    case QUANT_BF16:
        for (size_t i = 0; i < n; i++) out[i] = bf16_to_f32(quant_rd16(p + 2 * i));
        return;
    case QUANT_Q4_K: case QUANT_Q5_K: case QUANT_Q6_K:
        quant_dequantize_k(type, p, n / QUANT_BLOCK_K, out);
        return;
    default:
        if (!quant_type_supported(type)) {
            for (size_t i = 0; i < n; i++) out[i] = NAN;
            return;
        }
        size_t bb = quant_block_bytes(type);
        for (size_t b = 0; b < n / QUANT_BLOCK; b++) dequantize_block32(type, p + b * bb, out + b * QUANT_BLOCK);
    }
}

/* The portable kernel: each block dequantized to a stack buffer, then an fp32 dot product. */
static float row_dot_generic(uint32_t type, const unsigned char *p, const float *x, int cols) {
    size_t be = quant_block_elems(type), bb = quant_block_bytes(type);
    size_t step = be == 1 ? QUANT_BLOCK : be; /* plain types: 32 values at a time */
    float buf[QUANT_BLOCK_K], acc = 0;
    for (size_t i = 0; i < (size_t)cols; i += step) {
        size_t n = (size_t)cols - i < step ? (size_t)cols - i : step;
        quant_dequantize(type, p + i / be * bb, n, buf);
        for (size_t j = 0; j < n; j++) acc += buf[j] * x[i + j];
    }
    return acc;
}

/* Sums of x over each 32 values (n_blocks of them), for the types with a min. */
static void block_sums(float *xsum, const float *x, int n_blocks) {
    for (int b = 0; b < n_blocks; b++) {
        float s = 0;
        for (int j = 0; j < QUANT_BLOCK; j++) s += x[b * QUANT_BLOCK + j];
        xsum[b] = s;
    }
}

/* Where the type has a multi-row kernel (QuantRowsDot): every x row in its order once, then each
 * weight row, in cache, against QUANT_ROWS_MAX x rows at a time. */
static void matvec_rows_multi(float *y, const float *x, const QuantMatrix *w, const float *bias, int n,
                              QuantRowsDot rows) {
    int N = w->rows, K = w->cols;
    size_t row_bytes = quant_row_bytes(w->type, (size_t)K);
    static __thread Scratch layout;
    float *xl = scratch_get(&layout, (size_t)n * K * sizeof(float), "decode rows");
    for (int t = 0; t < n; t++) quant_rows_layout_x(xl + (size_t)t * K, x + (size_t)t * K, K);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const unsigned char *row = w->data + (size_t)r * row_bytes;
        for (int t = 0; t < n; t += QUANT_ROWS_MAX) {
            int nr = n - t < QUANT_ROWS_MAX ? n - t : QUANT_ROWS_MAX;
            const float *xp[QUANT_ROWS_MAX];
            float v[QUANT_ROWS_MAX];
            for (int i = 0; i < nr; i++) xp[i] = xl + (size_t)(t + i) * K;
            rows(row, xp, nr, K, v);
            for (int i = 0; i < nr; i++) y[(size_t)(t + i) * N + r] = v[i] + (bias ? bias[r] : 0.0f);
        }
    }
}

void op_matvec_rows(float *y, const float *x, const QuantMatrix *w, const float *bias, int n) {
    int N = w->rows, K = w->cols;
    if (!quant_type_supported(w->type)) {
        for (size_t i = 0; i < (size_t)n * N; i++) y[i] = NAN;
        return;
    }
    QuantRowsDot rows = quant_rows_dot_32(w->type);
    if (!rows) rows = quant_rows_dot_k(w->type);
    if (rows && n > 0) {
        matvec_rows_multi(y, x, w, bias, n, rows);
        return;
    }
    QuantRowDot dot = quant_row_dot_32(w->type);
    if (!dot) dot = quant_row_dot_k(w->type);
    size_t row_bytes = quant_row_bytes(w->type, (size_t)K);
    int nb = K / QUANT_BLOCK > 0 ? K / QUANT_BLOCK : 1;
    float xsum[(size_t)nb * (n > 0 ? n : 1)];
    for (int t = 0; t < n; t++) block_sums(xsum + (size_t)t * nb, x + (size_t)t * K, K / QUANT_BLOCK);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const unsigned char *row = w->data + (size_t)r * row_bytes;
        for (int t = 0; t < n; t++) {
            const float *xt = x + (size_t)t * K;
            float v = dot ? dot(row, xt, xsum + (size_t)t * nb, K) : row_dot_generic(w->type, row, xt, K);
            y[(size_t)t * N + r] = v + (bias ? bias[r] : 0.0f);
        }
    }
}

void op_matvec_quant(float *y, const float *x, const QuantMatrix *w, const float *bias) {
    op_matvec_rows(y, x, w, bias, 1);
}

void op_matvec_quant_ref(float *y, const float *x, const QuantMatrix *w, const float *bias) {
    float row[w->cols];
    size_t row_bytes = quant_row_bytes(w->type, (size_t)w->cols);
    for (int r = 0; r < w->rows; r++) {
        quant_dequantize(w->type, w->data + (size_t)r * row_bytes, (size_t)w->cols, row);
        double acc = bias ? bias[r] : 0.0;
        for (int c = 0; c < w->cols; c++) acc += (double)row[c] * x[c];
        y[r] = (float)acc;
    }
}
