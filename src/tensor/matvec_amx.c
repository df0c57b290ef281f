/* matvec_amx.c: inference's bf16 products on AMX tiles (Intel Sapphire Rapids and later), for
 * matvec_bf16.c: y (n, N) = xb (n, K) W^T with xb already bf16. TDPBF16PS multiplies a tile of 16
 * rows x 32 values by a tile of 32 values x 16 columns (packed in pairs, "VNNI" order) into 16 x 16
 * fp32 sums: each sum takes only one weight row and one x row, in the same order whichever operand
 * each is, so a row's result is the same whatever shares its tile (unused rows are zeros) or its
 * call. Two layouts, by the number of rows:
 * - narrow (n <= 16, decode steps): groups of AMX_GROUP weight rows converted once into A tiles
 *   (quant_rows_bf16's bits, or copied from the bf16 copy), x packed into one B tile per step, three
 *   sums in flight; the sums come out weight-major and are scattered into y;
 * - wide (n > 16, prompt rows): groups of AMX_WIDE weight rows converted into B tiles (the pairs of
 *   16 weight rows transposed), x read as A tiles straight from its rows, two A and two B tiles for
 *   four sums a step (half the tile loads per sum), and the sums stored straight into y's rows:
 *   no packing of x and no scatter, whose cost grew with the rows.
 * A weight multiplied by many calls can have its B tiles made once (amx_pack_tiles, w->amx_tiles):
 * then every n takes the wide layout and reads them (same sums, no conversion on the call).
 * The process asks Linux for the tile state once (arch_prctl); where that fails the caller keeps
 * VDPBF16PS, for the whole process. */
#include "matvec_amx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/cpu_features.h"
#include "../core/scratch.h"
#include "quant_bf16.h"
#include "quant_bf16_impl.h"

#define AMX_ROWS 16   /* weight rows per A tile, and x rows per B tile */
#define AMX_GROUP 48  /* weight rows per group: three A tiles */
#define AMX_K 32      /* bf16 values of K per tile step */
#define AMX_WIDE 32   /* weight rows per group of the wide layout: two B tiles */

/* groups of AMX_WIDE weight rows, each steps x 1024 values (wide_group's B tiles) */
size_t amx_tiles_elems(int rows, int cols) {
    return (size_t)((rows + AMX_WIDE - 1) / AMX_WIDE) * ((cols + AMX_K - 1) / AMX_K) * 1024;
}

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#include <immintrin.h>
#include <omp.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512bf16,f16c")))

static bool amx_ok;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static void amx_init(void) {
    amx_ok = cpu_features()->amx_bf16 && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

bool amx_matvec_available(void) {
    pthread_once(&amx_once, amx_init);
    return amx_ok;
}

/* Palette 1, every tile 16 rows of 64 bytes. Narrow: tiles 0 .. 2 are C (16 weight rows x 16 x rows
 * in fp32), 3 .. 5 are A (16 weight rows x 32 bf16), 6 is B (16 pairs of K x 16 x rows). Wide:
 * 0 .. 3 are C (16 x rows x 16 weight rows), 4 and 5 A (16 x rows x 32 bf16), 6 and 7 B (16 pairs
 * of K x 16 weight rows). */
typedef struct __attribute__((packed, aligned(64))) {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} TileConfig;

AMX_TARGET static void configure(void) {
    TileConfig c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++) c.colsb[t] = 64, c.rows[t] = 16;
    _tile_loadconfig(&c);
}

/* Chunk c of x (n, K) bf16 into its B tiles: step s (32 values of K) at packed + s * 512 values,
 * row r holding for each of the chunk's x rows t the pair K = 32 s + 2 r, + 1 (moved as one 32-bit
 * word); rows of x beyond n and K beyond K are zeros. */
static void pack_chunk(uint16_t *packed, const uint16_t *x, int n, int K, int steps, int c) {
    memset(packed, 0, (size_t)steps * 512 * sizeof(uint16_t));
    int t1 = (c + 1) * AMX_ROWS < n ? (c + 1) * AMX_ROWS : n;
    for (int t = c * AMX_ROWS; t < t1; t++) {
        uint16_t *col = packed + (t % AMX_ROWS) * 2;
        const uint16_t *row = x + (size_t)t * K;
        int k = 0;
        for (; k + 1 < K; k += 2) memcpy(col + (size_t)(k / AMX_K) * 512 + (k % AMX_K / 2) * 32, row + k, 4);
        if (k < K) col[(size_t)(k / AMX_K) * 512 + (k % AMX_K / 2) * 32] = row[k];
    }
}

static __thread Scratch x_tiles, w_tiles; /* x in B tiles (the caller's), weights in A tiles (each thread's) */

/* n_out rows of stored blocks from base (row_bytes apart) converted into A tiles, step by step so
 * that the stores run in order (row by row they would land a tile row apart and evict each other),
 * prefetching the next group's next_bytes bytes at next meanwhile. type is a constant after
 * inlining. */
AMX_TARGET static inline __attribute__((always_inline)) void convert_group(uint16_t *buf, uint32_t type,
                                                                           const unsigned char *base, size_t row_bytes,
                                                                           int n_out, int steps,
                                                                           const unsigned char *next, size_t next_bytes) {
    size_t step_bytes = bf16_block32_bytes(type), pf = 0;
    for (int s = 0; s < steps; s++)
        for (int o = 0; o < n_out; o++) {
            if (pf < next_bytes) _mm_prefetch((const char *)next + pf, _MM_HINT_T0), pf += 64;
            const unsigned char *p = base + (size_t)o * row_bytes + (size_t)s * step_bytes;
            _mm512_store_si512(buf + ((size_t)s * AMX_GROUP + o) * AMX_K, (__m512i)bf16_block32(type, p));
        }
}

/* AMX_GROUP rows from j0 of w in bf16 into A tiles: step s, row o at buf + (s * AMX_GROUP + o) * 32,
 * zeros beyond the matrix and K. The types quant_bf16_fast takes convert a block at a time
 * (quant_bf16_impl.h: quant_rows_bf16's bits); the others copy from w->bf16. */
AMX_TARGET static void group_tiles(uint16_t *buf, const QuantMatrix *w, int j0, int n_out, int steps, bool convert) {
    int K = w->cols;
    if (n_out < AMX_GROUP || K % AMX_K) memset(buf, 0, (size_t)steps * AMX_GROUP * AMX_K * sizeof(uint16_t));
    if (!convert) {
        for (int o = 0; o < n_out; o++) {
            const uint16_t *src = w->bf16 + (size_t)(j0 + o) * K;
            for (int s = 0; s < steps; s++) {
                int cnt = K - s * AMX_K < AMX_K ? K - s * AMX_K : AMX_K;
                memcpy(buf + ((size_t)s * AMX_GROUP + o) * AMX_K, src + (size_t)s * AMX_K, (size_t)cnt * sizeof(uint16_t));
            }
        }
        return;
    }
    size_t row_bytes = quant_row_bytes(w->type, (size_t)K);
    const unsigned char *base = w->data + (size_t)j0 * row_bytes, *next = base + (size_t)n_out * row_bytes;
    int next_rows = w->rows - (j0 + n_out) < AMX_GROUP ? w->rows - (j0 + n_out) : AMX_GROUP;
    size_t next_bytes = (size_t)next_rows * row_bytes;
    switch (w->type) {
    case QUANT_F16: convert_group(buf, QUANT_F16, base, row_bytes, n_out, steps, next, next_bytes); break;
    case QUANT_Q8_0: convert_group(buf, QUANT_Q8_0, base, row_bytes, n_out, steps, next, next_bytes); break;
    case QUANT_Q4_0: convert_group(buf, QUANT_Q4_0, base, row_bytes, n_out, steps, next, next_bytes); break;
    case QUANT_Q4_1: convert_group(buf, QUANT_Q4_1, base, row_bytes, n_out, steps, next, next_bytes); break;
    case QUANT_Q5_0: convert_group(buf, QUANT_Q5_0, base, row_bytes, n_out, steps, next, next_bytes); break;
    default: convert_group(buf, QUANT_Q5_1, base, row_bytes, n_out, steps, next, next_bytes); break;
    }
}

/* y[t0 + t][j0 + o] (+ bias) = c[t * t_step + o * o_step] for t < n_in, o < n_out: a C tile's sums,
 * weight-major (narrow layout: t_step 1, o_step 16) or x-major (wide: t_step 16, o_step 1). A sum is
 * written as it is where there is no bias, so both layouts give the same bits. */
static void put_sums(float *y, int N, const float *c, int t_step, int o_step, int j0, int n_out, int t0, int n_in,
                     const float *bias) {
    for (int t = 0; t < n_in; t++)
        for (int o = 0; o < n_out; o++) {
            float v = c[t * t_step + o * o_step];
            y[(size_t)(t0 + t) * N + j0 + o] = bias ? v + bias[j0 + o] : v;
        }
}

/* The three C tiles' sums to y rows t0 .. t0 + n_in - 1, through c (AMX_GROUP x 16 floats). */
AMX_TARGET static void store_sums(float *y, int N, float *c, int j0, int n_out, int t0, int n_in, const float *bias) {
    _tile_stored(0, c, AMX_ROWS * (int)sizeof(float));
    _tile_stored(1, c + AMX_ROWS * AMX_ROWS, AMX_ROWS * (int)sizeof(float));
    _tile_stored(2, c + 2 * AMX_ROWS * AMX_ROWS, AMX_ROWS * (int)sizeof(float));
    put_sums(y, N, c, 1, AMX_ROWS, j0, n_out, t0, n_in, bias);
}

AMX_TARGET static void narrow_rows(float *y, const uint16_t *xb, const QuantMatrix *w, const float *bias, int n) {
    int N = w->rows, K = w->cols, steps = (K + AMX_K - 1) / AMX_K;
    int chunks = (n + AMX_ROWS - 1) / AMX_ROWS, n_groups = (N + AMX_GROUP - 1) / AMX_GROUP;
    uint16_t *packed = scratch_get(&x_tiles, (size_t)chunks * steps * 512 * sizeof(uint16_t), "x in tiles");
    bool convert = quant_bf16_fast(w->type) && K % AMX_K == 0;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int ch = 0; ch < chunks; ch++) pack_chunk(packed + (size_t)ch * steps * 512, xb, n, K, steps, ch);
        configure();
        float c[AMX_GROUP * AMX_ROWS] __attribute__((aligned(64)));
#pragma omp for schedule(static)
        for (int g = 0; g < n_groups; g++) {
            int j0 = g * AMX_GROUP, n_out = N - j0 < AMX_GROUP ? N - j0 : AMX_GROUP;
            uint16_t *a = scratch_get(&w_tiles, (size_t)steps * AMX_GROUP * AMX_K * sizeof(uint16_t), "bf16 weight tiles");
            group_tiles(a, w, j0, n_out, steps, convert);
            for (int ch = 0; ch < chunks; ch++) { /* three independent sums per step keep the tile unit busy */
                const uint16_t *b = packed + (size_t)ch * steps * 512;
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                for (int s = 0; s < steps; s++) {
                    const uint16_t *as = a + (size_t)s * AMX_GROUP * AMX_K;
                    _tile_loadd(6, b + (size_t)s * 512, 64);
                    _tile_loadd(3, as, 64);
                    _tile_loadd(4, as + AMX_ROWS * AMX_K, 64);
                    _tile_loadd(5, as + 2 * AMX_ROWS * AMX_K, 64);
                    _tile_dpbf16ps(0, 3, 6);
                    _tile_dpbf16ps(1, 4, 6);
                    _tile_dpbf16ps(2, 5, 6);
                }
                int t0 = ch * AMX_ROWS;
                store_sums(y, N, c, j0, n_out, t0, n - t0 < AMX_ROWS ? n - t0 : AMX_ROWS, bias);
            }
        }
        _tile_release(); /* back to the initial state: a thread that sleeps or is switched out then
                          * carries no tile data */
    }
}
/* The 16 x 16 32-bit words of r transposed in place (word j of r[i] to word i of r[j]): three
 * rounds of 16 shuffles, within 128-bit lanes (32-bit then 64-bit interleaves), then across them. */
AMX_TARGET static inline void transpose_16x16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    /* r[4g + j], lane L: words 4L + j of rows 4g .. 4g + 3 */
    for (int g = 0; g < 16; g += 4) {
        r[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
        r[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
        r[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
        r[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
    }
    for (int j = 0; j < 4; j++) { /* row 4L + j: lane L of r[j], r[4 + j], r[8 + j], r[12 + j] */
        __m512i a_lo = _mm512_shuffle_i32x4(r[j], r[4 + j], _MM_SHUFFLE(1, 0, 1, 0));
        __m512i a_hi = _mm512_shuffle_i32x4(r[j], r[4 + j], _MM_SHUFFLE(3, 2, 3, 2));
        __m512i b_lo = _mm512_shuffle_i32x4(r[8 + j], r[12 + j], _MM_SHUFFLE(1, 0, 1, 0));
        __m512i b_hi = _mm512_shuffle_i32x4(r[8 + j], r[12 + j], _MM_SHUFFLE(3, 2, 3, 2));
        t[j] = _mm512_shuffle_i32x4(a_lo, b_lo, _MM_SHUFFLE(2, 0, 2, 0));
        t[4 + j] = _mm512_shuffle_i32x4(a_lo, b_lo, _MM_SHUFFLE(3, 1, 3, 1));
        t[8 + j] = _mm512_shuffle_i32x4(a_hi, b_hi, _MM_SHUFFLE(2, 0, 2, 0));
        t[12 + j] = _mm512_shuffle_i32x4(a_hi, b_hi, _MM_SHUFFLE(3, 1, 3, 1));
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

/* AMX_WIDE rows from j0 of w into B tiles: step s, half h (weight rows j0 + 16 h ..) at
 * buf + (2 s + h) * 512, its row r holding for each of those 16 weight rows o the pair K = 32 s + 2 r,
 * + 1 at r * 32 + 2 o; zeros beyond the matrix and K. Each step's 32 values of a weight row are
 * converted as in group_tiles (type is a constant after inlining; QUANT_BF16 here: copied from
 * w->bf16) and 16 of them transposed at once. */
AMX_TARGET static inline __attribute__((always_inline)) void wide_group(uint16_t *buf, const QuantMatrix *w,
                                                                        uint32_t type, int j0, int n_out, int steps) {
    int K = w->cols;
    size_t row_bytes = type == QUANT_BF16 ? (size_t)K * 2 : quant_row_bytes(type, (size_t)K);
    size_t step_bytes = type == QUANT_BF16 ? 0 : bf16_block32_bytes(type);
    /* the next group's bytes prefetched meanwhile, a line per 32 values converted */
    const char *next = type == QUANT_BF16 ? (const char *)(w->bf16 + (size_t)(j0 + AMX_WIDE) * K)
                                          : (const char *)w->data + (size_t)(j0 + AMX_WIDE) * row_bytes;
    int next_rows = w->rows - (j0 + AMX_WIDE) < AMX_WIDE ? w->rows - (j0 + AMX_WIDE) : AMX_WIDE;
    size_t next_bytes = next_rows > 0 ? (size_t)next_rows * row_bytes : 0, pf = 0;
    for (int s = 0; s < steps; s++)
        for (int h = 0; h < 2; h++) {
            __m512i r[16];
            for (int o = 0; o < 16; o++) {
                if (pf < next_bytes) _mm_prefetch(next + pf, _MM_HINT_T0), pf += 64;
                int j = j0 + 16 * h + o;
                if (16 * h + o >= n_out) r[o] = _mm512_setzero_si512();
                else if (type == QUANT_BF16) {
                    int cnt = K - s * AMX_K < AMX_K ? K - s * AMX_K : AMX_K;
                    r[o] = _mm512_maskz_loadu_epi16((__mmask32)(cnt == 32 ? ~0u : (1u << cnt) - 1),
                                                    w->bf16 + (size_t)j * K + (size_t)s * AMX_K);
                } else
                    r[o] = (__m512i)bf16_block32(type, w->data + (size_t)j * row_bytes + (size_t)s * step_bytes);
            }
            transpose_16x16(r);
            uint16_t *dst = buf + (size_t)(2 * s + h) * 512;
            for (int i = 0; i < 16; i++) _mm512_store_si512(dst + i * 32, r[i]);
        }
}

AMX_TARGET static void wide_tiles(uint16_t *buf, const QuantMatrix *w, int j0, int n_out, int steps, bool convert) {
    switch (convert ? w->type : QUANT_BF16) {
    case QUANT_F16: wide_group(buf, w, QUANT_F16, j0, n_out, steps); break;
    case QUANT_Q8_0: wide_group(buf, w, QUANT_Q8_0, j0, n_out, steps); break;
    case QUANT_Q4_0: wide_group(buf, w, QUANT_Q4_0, j0, n_out, steps); break;
    case QUANT_Q4_1: wide_group(buf, w, QUANT_Q4_1, j0, n_out, steps); break;
    case QUANT_Q5_0: wide_group(buf, w, QUANT_Q5_0, j0, n_out, steps); break;
    case QUANT_Q5_1: wide_group(buf, w, QUANT_Q5_1, j0, n_out, steps); break;
    default: wide_group(buf, w, QUANT_BF16, j0, n_out, steps); break;
    }
}

/* C tile `tile`'s sums (16 x rows from t0, 16 weight rows from j0) into y: stored straight into y's
 * rows when all of them are in y and there is no bias, else through c and only the rows and columns
 * that exist (+ bias). */
#define WIDE_STORE(tile, t0, j0)                                                                                       \
    do {                                                                                                               \
        int n_in_ = n - (t0) < AMX_ROWS ? n - (t0) : AMX_ROWS, n_o_ = N - (j0) < AMX_ROWS ? N - (j0) : AMX_ROWS;    \
        if (n_in_ == AMX_ROWS && n_o_ == AMX_ROWS && !bias)                                                            \
            _tile_stored(tile, y + (size_t)(t0) * N + (j0), N * (int)sizeof(float));                                 \
        else if (n_in_ > 0 && n_o_ > 0) {                                                                              \
            _tile_stored(tile, c, AMX_ROWS * (int)sizeof(float));                                                    \
            put_sums(y, N, c, AMX_ROWS, 1, j0, n_o_, t0, n_in_, bias);                                                 \
        }                                                                                                              \
    } while (0)


/* x rows t0 .. t0 + 31 (x0, x1: their A tiles' rows, stride bytes apart; x1 NULL when only
 * t0 .. t0 + 15 exist) against the 32 weight rows from j0 in B tiles at b: four sums a step. */
AMX_TARGET static void wide_block(float *y, const QuantMatrix *w, const float *bias, int n, const uint16_t *x0,
                                  const uint16_t *x1, int stride, const uint16_t *b, int steps, int t0, int j0) {
    int N = w->rows;
    float c[AMX_ROWS * AMX_ROWS] __attribute__((aligned(64)));
    _tile_zero(0);
    _tile_zero(1);
    if (x1) {
        _tile_zero(2);
        _tile_zero(3);
        for (int s = 0; s < steps; s++) { /* tiles are not renamed: each load waits for the sums
                                           * reading its tile, so loads go between the sums */
            _tile_loadd(4, x0 + (size_t)s * AMX_K, stride);
            _tile_loadd(6, b + (size_t)s * 1024, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_loadd(7, b + (size_t)s * 1024 + 512, 64);
            _tile_dpbf16ps(1, 4, 7);
            _tile_loadd(5, x1 + (size_t)s * AMX_K, stride);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
        WIDE_STORE(2, t0 + AMX_ROWS, j0);
        WIDE_STORE(3, t0 + AMX_ROWS, j0 + AMX_ROWS);
    } else
        for (int s = 0; s < steps; s++) {
            _tile_loadd(4, x0 + (size_t)s * AMX_K, stride);
            _tile_loadd(6, b + (size_t)s * 1024, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_loadd(7, b + (size_t)s * 1024 + 512, 64);
            _tile_dpbf16ps(1, 4, 7);
        }
    WIDE_STORE(0, t0, j0);
    WIDE_STORE(1, t0, j0 + AMX_ROWS);
}

/* The first of chunk ch's 16 rows as A tiles read them (Kp apart): x's own before `full` (there
 * Kp is K), else the padded copy's. */
static inline const uint16_t *chunk_x(const uint16_t *xb, const uint16_t *tail, int full, int Kp, int ch) {
    return ch < full ? xb + (size_t)ch * AMX_ROWS * Kp : tail + (size_t)(ch - full) * AMX_ROWS * Kp;
}

/* Each thread takes a contiguous share of the groups and works through it WIDE_GROUPS groups at a
 * time: converts them, then runs every pair of x chunks against each of them, so that a chunk
 * pair's tiles are read from far once per WIDE_GROUPS groups instead of once per group. */
#define WIDE_GROUPS 4

AMX_TARGET static void wide_rows(float *y, const uint16_t *xb, const QuantMatrix *w, const float *bias, int n) {
    int N = w->rows, K = w->cols, steps = (K + AMX_K - 1) / AMX_K, Kp = steps * AMX_K;
    int chunks = (n + AMX_ROWS - 1) / AMX_ROWS, n_groups = (N + AMX_WIDE - 1) / AMX_WIDE;
    /* x as A tiles: its rows as they are, the chunks before `full`; the rest from a zero-padded copy
     * (all of x when K is not a multiple of 32, else only a last chunk of fewer than 16 rows) */
    const uint16_t *tail = NULL;
    int full = K % AMX_K ? 0 : n / AMX_ROWS;
    if (full < chunks) {
        int t0 = full * AMX_ROWS;
        size_t elems = (size_t)(chunks - full) * AMX_ROWS * Kp;
        uint16_t *pad = scratch_get(&x_tiles, elems * sizeof(uint16_t), "x in tiles");
        memset(pad, 0, elems * sizeof(uint16_t));
        for (int t = t0; t < n; t++) memcpy(pad + (size_t)(t - t0) * Kp, xb + (size_t)t * K, (size_t)K * sizeof(uint16_t));
        tail = pad;
    }
    bool convert = quant_bf16_fast(w->type) && K % AMX_K == 0;
    int stride = Kp * (int)sizeof(uint16_t);
    size_t group_elems = (size_t)steps * 1024;
#pragma omp parallel
    {
        configure();
        int nth = omp_get_num_threads(), tid = omp_get_thread_num();
        int g_end = (int)((long)n_groups * (tid + 1) / nth);
        uint16_t *own = w->amx_tiles ? NULL
                                     : scratch_get(&w_tiles, WIDE_GROUPS * group_elems * sizeof(uint16_t), "bf16 weight tiles");
        for (int g0 = (int)((long)n_groups * tid / nth); g0 < g_end; g0 += WIDE_GROUPS) {
            int ng = g_end - g0 < WIDE_GROUPS ? g_end - g0 : WIDE_GROUPS;
            const uint16_t *b = own ? own : w->amx_tiles + (size_t)g0 * group_elems;
            for (int g = 0; own && g < ng; g++) {
                int j0 = (g0 + g) * AMX_WIDE;
                wide_tiles(own + g * group_elems, w, j0, N - j0 < AMX_WIDE ? N - j0 : AMX_WIDE, steps, convert);
            }
            for (int ch = 0; ch < chunks; ch += 2) {
                const uint16_t *x0 = chunk_x(xb, tail, full, Kp, ch);
                const uint16_t *x1 = ch + 1 < chunks ? chunk_x(xb, tail, full, Kp, ch + 1) : NULL;
                for (int g = 0; g < ng; g++)
                    wide_block(y, w, bias, n, x0, x1, stride, b + g * group_elems, steps, ch * AMX_ROWS,
                               (g0 + g) * AMX_WIDE);
            }
        }
        _tile_release(); /* as in narrow_rows */
    }
}

/* With the weights laid out already, the wide layout for any n: its sums are the narrow layout's
 * bits (one weight row and one x row each, in the same order). */
AMX_TARGET void amx_matvec_rows(float *y, const uint16_t *xb, const QuantMatrix *w, const float *bias, int n) {
    if (n <= AMX_ROWS && !w->amx_tiles) narrow_rows(y, xb, w, bias, n);
    else wide_rows(y, xb, w, bias, n);
}

/* Each group as wide_rows lays it out on a call, from the bf16 copy. */
AMX_TARGET void amx_pack_tiles(uint16_t *dst, const QuantMatrix *w) {
    int steps = (w->cols + AMX_K - 1) / AMX_K, n_groups = (w->rows + AMX_WIDE - 1) / AMX_WIDE;
#pragma omp parallel for schedule(static)
    for (int g = 0; g < n_groups; g++) {
        int j0 = g * AMX_WIDE;
        wide_tiles(dst + (size_t)g * steps * 1024, w, j0, w->rows - j0 < AMX_WIDE ? w->rows - j0 : AMX_WIDE, steps, false);
    }
}
#else
bool amx_matvec_available(void) { return false; }

void amx_matvec_rows(float *y, const uint16_t *xb, const QuantMatrix *w, const float *bias, int n) {
    (void)y, (void)xb, (void)w, (void)bias, (void)n;
    abort(); /* amx_matvec_available() is false: never called */
}

void amx_pack_tiles(uint16_t *dst, const QuantMatrix *w) {
    (void)dst, (void)w;
    abort(); /* as amx_matvec_rows */
}
#endif
