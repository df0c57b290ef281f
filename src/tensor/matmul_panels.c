/* matmul_panels.c: row-invariant products for inference's prompt rows on AVX2 (see
 * matmul_panels.h). */
#include "matmul_panels.h"

#include <stdlib.h>
#include <string.h>

#include "../core/scratch.h"
#include "matmul.h"

#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
#include <immintrin.h>

#define PANEL_COLS 16 /* weight rows (outputs) in a panel: two 8-lane vectors */
#define KERNEL_ROWS 6 /* rows of x in one kernel call: 12 accumulators, 2 weight vectors, a broadcast */

bool matmul_panels_available(void) { return true; }

/* The 8 x 8 block r[0..7] (row i in r[i]) transposed in place. */
static inline void transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20), r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20), r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31), r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31), r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* Weight rows j0..j0 + cnt (cnt <= PANEL_COLS; the panel's other columns zero) into panel p (K x
 * PANEL_COLS), dequantized through rows (PANEL_COLS x K) and transposed 8 x 8 at a time. */
static void fill_panel(float *p, float *rows, const QuantMatrix *w, int j0, int cnt) {
    int K = w->cols, k8 = K / 8 * 8;
    for (int j = 0; j < PANEL_COLS; j++) {
        if (j < cnt) op_matrix_row(rows + (size_t)j * K, w, j0 + j);
        else memset(rows + (size_t)j * K, 0, (size_t)K * sizeof(float));
    }
    for (int jb = 0; jb < PANEL_COLS; jb += 8)
        for (int kb = 0; kb < k8; kb += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(rows + (size_t)(jb + i) * K + kb);
            transpose8(r);
            for (int i = 0; i < 8; i++) _mm256_store_ps(p + (size_t)(kb + i) * PANEL_COLS + jb, r[i]);
        }
    for (int k = k8; k < K; k++)
        for (int j = 0; j < PANEL_COLS; j++) p[(size_t)k * PANEL_COLS + j] = rows[(size_t)j * K + k];
}

/* y rows 0..nr (ldy apart), columns 0..PANEL_COLS = x rows 0..nr (K apart) times panel p; nr <=
 * KERNEL_ROWS is a constant after inlining. Accumulators are named one by one: GCC kept an array of
 * them in memory, storing each after every FMA. */
static inline __attribute__((always_inline)) void kernel(int nr, const float *restrict x, int K,
                                                         const float *restrict p, float *restrict y, size_t ldy) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    const float *x0 = x, *x1 = x + (nr > 1) * (size_t)K, *x2 = x + (nr > 2) * 2 * (size_t)K; /* rows past nr */
    const float *x3 = x + (nr > 3) * 3 * (size_t)K, *x4 = x + (nr > 4) * 4 * (size_t)K; /* point at row 0, */
    const float *x5 = x + (nr > 5) * 5 * (size_t)K;                                   /* never past x's end */
    for (int k = 0; k < K; k++) {
        __m256 w0 = _mm256_load_ps(p + (size_t)k * PANEL_COLS), w1 = _mm256_load_ps(p + (size_t)k * PANEL_COLS + 8), b;
#define PANEL_ROW(i)                                 \
    if (nr > i) {                                    \
        b = _mm256_broadcast_ss(x##i + k);           \
        c##i##0 = _mm256_fmadd_ps(b, w0, c##i##0);   \
        c##i##1 = _mm256_fmadd_ps(b, w1, c##i##1);   \
    }
        PANEL_ROW(0) PANEL_ROW(1) PANEL_ROW(2) PANEL_ROW(3) PANEL_ROW(4) PANEL_ROW(5)
#undef PANEL_ROW
    }
#define PANEL_STORE(i)                                 \
    if (nr > i) {                                      \
        _mm256_storeu_ps(y + i * ldy, c##i##0);        \
        _mm256_storeu_ps(y + i * ldy + 8, c##i##1);    \
    }
    PANEL_STORE(0) PANEL_STORE(1) PANEL_STORE(2) PANEL_STORE(3) PANEL_STORE(4) PANEL_STORE(5)
#undef PANEL_STORE
}

static void kernel_rows(int nr, const float *x, int K, const float *p, float *y, size_t ldy) {
    switch (nr) {
    case 1: kernel(1, x, K, p, y, ldy); break;
    case 2: kernel(2, x, K, p, y, ldy); break;
    case 3: kernel(3, x, K, p, y, ldy); break;
    case 4: kernel(4, x, K, p, y, ldy); break;
    case 5: kernel(5, x, K, p, y, ldy); break;
    default: kernel(6, x, K, p, y, ldy); break;
    }
}

static __thread Scratch panel_rows, panel; /* each thread's dequantized rows and their panel */

void matmul_panels(float *y, const float *x, const QuantMatrix *w, int n) {
    int N = w->rows, K = w->cols, n_panels = (N + PANEL_COLS - 1) / PANEL_COLS;
    size_t bytes = (size_t)PANEL_COLS * K * sizeof(float);
    if (n <= 0) return;
#pragma omp parallel for schedule(static)
    for (int pi = 0; pi < n_panels; pi++) {
        int j0 = pi * PANEL_COLS, cnt = N - j0 < PANEL_COLS ? N - j0 : PANEL_COLS;
        float *p = scratch_get(&panel, bytes, "a weight panel");
        fill_panel(p, scratch_get(&panel_rows, bytes, "a weight panel's rows"), w, j0, cnt);
        for (int i = 0; i < n; i += KERNEL_ROWS) {
            int nr = n - i < KERNEL_ROWS ? n - i : KERNEL_ROWS;
            if (cnt == PANEL_COLS) {
                kernel_rows(nr, x + (size_t)i * K, K, p, y + (size_t)i * N + j0, (size_t)N);
                continue;
            }
            float part[KERNEL_ROWS * PANEL_COLS]; /* the last panel's columns past N are dropped */
            kernel_rows(nr, x + (size_t)i * K, K, p, part, PANEL_COLS);
            for (int r = 0; r < nr; r++)
                memcpy(y + (size_t)(i + r) * N + j0, part + r * PANEL_COLS, (size_t)cnt * sizeof(float));
        }
    }
}

#else

bool matmul_panels_available(void) { return false; }

void matmul_panels(float *y, const float *x, const QuantMatrix *w, int n) {
    (void)y, (void)x, (void)w, (void)n;
    abort(); /* callers ask matmul_panels_available() first */
}

#endif
