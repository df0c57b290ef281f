/* ops_quant_rows.c: SIMD row kernels (one row . x) for F32, F16, BF16 and the 32-weight block
 * types (layouts in ops_quant.c). Per block the quantized integers are converted exactly to fp32
 * and multiplied with x in 8 or 16 lanes; the block's scale d multiplies that partial sum once,
 * and a min m enters as m * sum(x over the block), with the sums precomputed once per matvec.
 * With AVX-512 the nibbles are taken apart in 32-bit lanes and Q4_0 / Q5_0's offsets (8, 16)
 * become such a min; with AVX2 they are assembled in bytes and the offsets subtracted there. Two
 * accumulators alternate between blocks to hide the FMA latency, and the weights are prefetched
 * ahead. On AVX2 the 32-block types run one kernel for 1 to 4 rows of x against one weight row
 * (rows_blocks: each block converted once for all of them, each row's arithmetic the same for any
 * row count). Without AVX2 the table is empty and ops_quant.c's generic kernel runs. */
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

/* No multi-row kernel here: block_dot takes the nibbles apart in 32-bit lanes already. */
QuantRowsDot quant_rows_dot_32(uint32_t type) {
    (void)type;
    return NULL;
}
#else
/* AVX2: the nibbles (and qh bits) assemble into 32 bytes in element order; Q4_0 and Q5_0 subtract
 * their offset in the bytes. Up to QUANT_ROWS_MAX rows of x against one weight row: each block's
 * integers are converted to fp32 once for all of them, and each row's FMAs run in the same order
 * whatever the row count, so a row gets the same bits alone or beside others. */
typedef struct {
    VF w[4]; /* the block's 32 values, 8 a vector, in element order */
    float d, m;
} BlockFloats;

static inline __attribute__((always_inline)) BlockFloats block_floats(uint32_t type, const unsigned char *p) {
    BlockFloats b = {.d = quant_rdh(p), .m = 0};
    __m256i q;
    bool sign = true;
    switch (type) {
    case QUANT_Q8_0: q = _mm256_loadu_si256((const __m256i *)(p + 2)); break;
    case QUANT_Q4_0: q = _mm256_sub_epi8(unpack_nibbles(p + 2), QI8(8)); break;
    case QUANT_Q4_1:
        b.m = quant_rdh(p + 2), sign = false;
        q = unpack_nibbles(p + 4);
        break;
    case QUANT_Q5_0: q = _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles(p + 6), unpack_qh(p + 2)), QI8(16)); break;
    default: /* QUANT_Q5_1 */
        b.m = quant_rdh(p + 2), sign = false;
        q = _mm256_or_si256(unpack_nibbles(p + 8), unpack_qh(p + 4));
    }
    __m128i half[2] = {_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)};
    for (int h = 0; h < 2; h++) { /* vf_fma16_i8 / vf_fma16_u8's conversions */
        __m128i lo = half[h], hi = _mm_srli_si128(half[h], 8);
        b.w[2 * h] = _mm256_cvtepi32_ps(sign ? _mm256_cvtepi8_epi32(lo) : _mm256_cvtepu8_epi32(lo));
        b.w[2 * h + 1] = _mm256_cvtepi32_ps(sign ? _mm256_cvtepi8_epi32(hi) : _mm256_cvtepu8_epi32(hi));
    }
    return b;
}

/* vf_dot32_i8 / vf_dot32_u8 on converted values: x[0..31] . w, as lanes, in their order. */
static inline VF block_floats_dot(const float *x, const BlockFloats *b) {
    VF acc = vf_fma(vf_loadx(x), b->w[0], vf_zero());
    acc = vf_fma(vf_loadx(x + 8), b->w[1], acc);
    acc = vf_fma(vf_loadx(x + 16), b->w[2], acc);
    return vf_fma(vf_loadx(x + 24), b->w[3], acc);
}

/* out[i] = weight row p . x[i] for i < nr (a constant after inlining); xsum[i]: x[i]'s block sums. */
static inline __attribute__((always_inline)) void rows_blocks(uint32_t type, size_t bb, const unsigned char *p,
                                                              const float *const *x, const float *const *xsum,
                                                              int nr, int cols, float *out) {
    VF acc0[QUANT_ROWS_MAX], acc1[QUANT_ROWS_MAX];
    float off0[QUANT_ROWS_MAX], off1[QUANT_ROWS_MAX];
    for (int i = 0; i < nr; i++) acc0[i] = acc1[i] = vf_zero(), off0[i] = off1[i] = 0;
    int nb = cols / QUANT_BLOCK, b = 0;
    for (; b + 1 < nb; b += 2, p += 2 * bb) {
        quant_prefetch(p, 2 * bb);
        BlockFloats w0 = block_floats(type, p), w1 = block_floats(type, p + bb);
        for (int i = 0; i < nr; i++) {
            acc0[i] = vf_fma(vf_set1(w0.d), block_floats_dot(x[i] + (size_t)b * QUANT_BLOCK, &w0), acc0[i]);
            off0[i] += w0.m * xsum[i][b];
            acc1[i] = vf_fma(vf_set1(w1.d), block_floats_dot(x[i] + (size_t)(b + 1) * QUANT_BLOCK, &w1), acc1[i]);
            off1[i] += w1.m * xsum[i][b + 1];
        }
    }
    if (b < nb) {
        BlockFloats w0 = block_floats(type, p);
        for (int i = 0; i < nr; i++) {
            acc0[i] = vf_fma(vf_set1(w0.d), block_floats_dot(x[i] + (size_t)b * QUANT_BLOCK, &w0), acc0[i]);
            off0[i] += w0.m * xsum[i][b];
        }
    }
    for (int i = 0; i < nr; i++) out[i] = vf_sum(vf_add(acc0[i], acc1[i])) + (off0[i] + off1[i]);
}

/* The one-row kernel: rows_blocks for one row. */
static inline __attribute__((always_inline)) float row_blocks(uint32_t type, size_t bb, const unsigned char *p,
                                                              const float *x, const float *xsum, int cols) {
    float out;
    rows_blocks(type, bb, p, &x, &xsum, 1, cols, &out);
    return out;
}

/* The QuantRowsDot of a 32-block type: rows_blocks instantiated for each row count. */
#define ROWS_DOT(name, type, bb)                                                                                 \
    static void name(const unsigned char *p, const float *const *x, const float *const *xs, int nr, int cols, \
                     float *out) {                                                                               \
        switch (nr) {                                                                                            \
        case 1: rows_blocks(type, bb, p, x, xs, 1, cols, out); break;                                            \
        case 2: rows_blocks(type, bb, p, x, xs, 2, cols, out); break;                                            \
        case 3: rows_blocks(type, bb, p, x, xs, 3, cols, out); break;                                            \
        default: rows_blocks(type, bb, p, x, xs, 4, cols, out); break;                                           \
        }                                                                                                        \
    }
ROWS_DOT(rows_q8_0, QUANT_Q8_0, 34)
ROWS_DOT(rows_q4_0, QUANT_Q4_0, 18)
ROWS_DOT(rows_q4_1, QUANT_Q4_1, 20)
ROWS_DOT(rows_q5_0, QUANT_Q5_0, 22)
ROWS_DOT(rows_q5_1, QUANT_Q5_1, 24)

QuantRowsDot quant_rows_dot_32(uint32_t type) {
    switch (type) {
    case QUANT_Q8_0: return rows_q8_0;
    case QUANT_Q4_0: return rows_q4_0;
    case QUANT_Q4_1: return rows_q4_1;
    case QUANT_Q5_0: return rows_q5_0;
    case QUANT_Q5_1: return rows_q5_1;
    default: return NULL;
    }
}
#endif

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
QuantRowsDot quant_rows_dot_32(uint32_t type) {
    (void)type;
    return NULL;
}

QuantRowDot quant_row_dot_32(uint32_t type) {
    (void)type;
    return NULL;
}
#endif
