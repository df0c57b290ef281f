/* matvec_amx.c: the decode rows' bf16 product on AMX tiles (Intel Sapphire Rapids and later), for
 * matvec_bf16.c: y (n, N) = xb (n, K) W^T with xb already bf16. TDPBF16PS multiplies a tile A of 16
 * weight rows x 32 values by a tile B of 32 values x 16 rows of x (packed in pairs, "VNNI" order)
 * into a tile C of 16 x 16 fp32 sums: each C element takes only its weight row and its x row, so a
 * row's result is the same whatever shares its tile (unused rows are zeros) or its call. Groups of
 * AMX_GROUP weight rows are converted once into a per-thread buffer in tile order (quant_rows_bf16's
 * bits, or copied from the bf16 copy) and multiplied with each chunk of 16 x rows, three A tiles
 * a step so that three sums are in flight (one sum alone waits on the last one's latency). The
 * process asks Linux for the tile state once (arch_prctl); where that fails the caller keeps
 * VDPBF16PS, for the whole process. */
#include "matvec_amx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/cpu_features.h"
#include "quant_bf16.h"
#include "quant_bf16_impl.h"

#define AMX_ROWS 16   /* weight rows per A tile, and x rows per B tile */
#define AMX_GROUP 48  /* weight rows per group: three A tiles */
#define AMX_K 32      /* bf16 values of K per tile step */

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#include <immintrin.h>
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

/* Palette 1: tiles 0 .. 2 are C (16 weight rows x 16 x rows in fp32), 3 .. 5 are A (16 weight
 * rows x 32 bf16), 6 is B (16 pairs of K x 16 x rows, 64 bytes a row). */
typedef struct __attribute__((packed, aligned(64))) {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} TileConfig;

AMX_TARGET static void configure(void) {
    TileConfig c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 7; t++) c.colsb[t] = 64, c.rows[t] = 16;
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

static __thread uint16_t *x_tiles, *w_tiles; /* x in B tiles (the caller's), weights in A tiles (each thread's) */
static __thread size_t x_tiles_cap, w_tiles_cap;

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

/* y[t][j0 + o] (+ bias) from a C tile's sums c[o][t], o < n_out, for the x rows t0 .. t0 + n_in - 1. */
static void scatter(float *y, int N, const float *c, int j0, int n_out, int t0, int n_in, const float *bias) {
    for (int t = 0; t < n_in; t++)
        for (int o = 0; o < n_out; o++) y[(size_t)(t0 + t) * N + j0 + o] = c[o * AMX_ROWS + t] + (bias ? bias[j0 + o] : 0.0f);
}

/* The three C tiles' sums to y rows t0 .. t0 + n_in - 1, through c (AMX_GROUP x 16 floats). */
AMX_TARGET static void store_sums(float *y, int N, float *c, int j0, int n_out, int t0, int n_in, const float *bias) {
    _tile_stored(0, c, AMX_ROWS * (int)sizeof(float));
    _tile_stored(1, c + AMX_ROWS * AMX_ROWS, AMX_ROWS * (int)sizeof(float));
    _tile_stored(2, c + 2 * AMX_ROWS * AMX_ROWS, AMX_ROWS * (int)sizeof(float));
    scatter(y, N, c, j0, n_out, t0, n_in, bias);
}

AMX_TARGET void amx_matvec_rows(float *y, const uint16_t *xb, const QuantMatrix *w, const float *bias, int n) {
    int N = w->rows, K = w->cols, steps = (K + AMX_K - 1) / AMX_K;
    int chunks = (n + AMX_ROWS - 1) / AMX_ROWS, n_groups = (N + AMX_GROUP - 1) / AMX_GROUP;
    uint16_t *packed = bf16_thread_buffer(&x_tiles, &x_tiles_cap, (size_t)chunks * steps * 512, "x in tiles");
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
            uint16_t *a = bf16_thread_buffer(&w_tiles, &w_tiles_cap, (size_t)steps * AMX_GROUP * AMX_K, "bf16 weight tiles");
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
#else
bool amx_matvec_available(void) { return false; }

void amx_matvec_rows(float *y, const uint16_t *xb, const QuantMatrix *w, const float *bias, int n) {
    (void)y, (void)xb, (void)w, (void)bias, (void)n;
    abort(); /* amx_matvec_available() is false: never called */
}
#endif
