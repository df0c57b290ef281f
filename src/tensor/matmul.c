/* matmul.c: products with typed weights (see matmul.h). */
#include "matmul.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "../core/scratch.h"
#include "matmul_bf16.h"
#include "matmul_panels.h"
#include "matvec_amx.h"
#include "onednn.h"

static inline const unsigned char *row_ptr(const QuantMatrix *w, int i) {
    return w->data + (size_t)i * quant_row_bytes(w->type, (size_t)w->cols);
}

void op_matrix_row(float *out, const QuantMatrix *w, int i) {
    quant_dequantize(w->type, row_ptr(w, i), (size_t)w->cols, out);
}

/* The calling thread's tile buffer; rows of K floats it can hold. */
static float *tile_buffer(int K, int *rows) {
    static __thread Scratch tile;
    int r = MATMUL_TILE_FLOATS / K;
    *rows = r < 1 ? 1 : r;
    return scratch_get(&tile, (size_t)MATMUL_TILE_FLOATS * sizeof(float), "a matmul tile");
}

/* tile (cnt, K) = rows j0.. of w in fp32, rows split across threads. */
static void dequantize_rows(float *tile, const QuantMatrix *w, int j0, int cnt) {
#pragma omp parallel for schedule(static) if (cnt >= 8)
    for (int j = 0; j < cnt; j++) op_matrix_row(tile + (size_t)j * w->cols, w, j0 + j);
}

static void add_bias(float *y, const float *bias, int n, int N) {
    if (!bias) return;
    for (int t = 0; t < n; t++)
        for (int j = 0; j < N; j++) y[(size_t)t * N + j] += bias[j];
}

/* The product with a non-F32 weight, a dequantized tile of its rows at a time: forward
 * out (n, N)[:, tile] = in (n, K) tile^T; backward out (n, K) = in (n, N)[:, tile] tile + beta out,
 * accumulated over the tiles. */
static void tiled_product(float *out, const float *in, const QuantMatrix *w, bool backward, float beta, int n) {
    int N = w->rows, K = w->cols, tile_rows;
    float *tile = tile_buffer(K, &tile_rows);
    for (int j0 = 0; j0 < N; j0 += tile_rows) {
        int cnt = N - j0 < tile_rows ? N - j0 : tile_rows;
        dequantize_rows(tile, w, j0, cnt);
        if (backward)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, K, cnt, 1.0f, in + j0, N, tile, K,
                        j0 ? 1.0f : beta, out, K);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, cnt, K, 1.0f, in, K, tile, K, 0.0f, out + j0, N);
    }
}

/* The product from the stored weights, the fastest way for n rows. */
static void stored_product(float *y, const float *x, const QuantMatrix *w, const float *bias, int n) {
    int N = w->rows, K = w->cols;
    if (w->type == QUANT_F32) {
        const float *W = (const float *)w->data;
        if (n == 1) cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, W, K, x, 1, 0.0f, y, 1);
        else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, N, K, 1.0f, x, K, W, K, 0.0f, y, N);
    } else if (n <= MATMUL_MATVEC_ROWS) {
        op_matvec_rows(y, x, w, NULL, n);
    } else {
        tiled_product(y, x, w, false, 0.0f, n);
    }
    add_bias(y, bias, n, N);
}

void op_matmul(float *y, const float *x, const QuantMatrix *w, const float *bias, int n) {
    if (w->bf16) bf16_matmul(y, x, w->bf16, bias, n, w->rows, w->cols);
    else stored_product(y, x, w, bias, n);
}

/* rows of src (cnt, K) into dst (MATMUL_PROMPT_BLOCK, K), the rest zeros. */
static void pad_rows(float *dst, const float *src, int cnt, int K) {
    memcpy(dst, src, (size_t)cnt * K * sizeof(float));
    memset(dst + (size_t)cnt * K, 0, (size_t)(MATMUL_PROMPT_BLOCK - cnt) * K * sizeof(float));
}

/* The calling thread's padded block: MATMUL_PROMPT_BLOCK rows of x (cols K) and of y (cols N). */
static void pad_buffers(int K, int N, float **x, float **y) {
    static __thread Scratch pad;
    float *buf = scratch_get(&pad, (size_t)MATMUL_PROMPT_BLOCK * (K + N) * sizeof(float), "a matmul block");
    *x = buf;
    *y = buf + (size_t)MATMUL_PROMPT_BLOCK * K;
}

/* out (n, ldo)[:, 0..cnt) = x (n, K) W^T for an fp32 W (cnt, K), in library calls of exactly
 * MATMUL_PROMPT_BLOCK rows (the last padded with zeros), so that one kernel runs on every row
 * whatever n is. oneDNN where it is built (op_gemm_ld): OpenBLAS's sgemm gives a row other bits
 * at other positions within one call on some CPUs (its Zen kernels: rows 6-11 of every 12), which
 * would make a reply depend on its batch; oneDNN's do not, and run these shapes faster there. */
static void sgemm_row_blocks(float *out, int ldo, const float *x, const float *W, int cnt, int K, int n) {
    int full = n / MATMUL_PROMPT_BLOCK * MATMUL_PROMPT_BLOCK;
    for (int r = 0; r < full; r += MATMUL_PROMPT_BLOCK)
        op_gemm_ld(false, true, MATMUL_PROMPT_BLOCK, cnt, K, 1.0f, x + (size_t)r * K, K, W, K, 0.0f,
                   out + (size_t)r * ldo, ldo);
    if (full == n) return;
    float *px, *py;
    pad_buffers(K, cnt, &px, &py);
    pad_rows(px, x + (size_t)full * K, n - full, K);
    op_gemm_ld(false, true, MATMUL_PROMPT_BLOCK, cnt, K, 1.0f, px, K, W, K, 0.0f, py, cnt);
    for (int r = 0; r < n - full; r++)
        memcpy(out + (size_t)(full + r) * ldo, py + (size_t)r * cnt, (size_t)cnt * sizeof(float));
}

void op_matmul_prompt(float *y, const float *x, const QuantMatrix *w, const float *bias, int n) {
    int N = w->rows, K = w->cols;
    if (w->bf16) {
        int full = n / MATMUL_PROMPT_BLOCK * MATMUL_PROMPT_BLOCK;
        for (int r = 0; r < full; r += MATMUL_PROMPT_BLOCK)
            bf16_matmul(y + (size_t)r * N, x + (size_t)r * K, w->bf16, bias, MATMUL_PROMPT_BLOCK, N, K);
        if (full == n) return;
        float *px, *py; /* the last rows, padded with zeros to a whole block */
        pad_buffers(K, N, &px, &py);
        pad_rows(px, x + (size_t)full * K, n - full, K);
        bf16_matmul(py, px, w->bf16, bias, MATMUL_PROMPT_BLOCK, N, K);
        memcpy(y + (size_t)full * N, py, (size_t)(n - full) * N * sizeof(float));
        return;
    }
    if (matmul_panels_available()) {
        matmul_panels(y, x, w, n);
    } else if (w->type == QUANT_F32) {
        sgemm_row_blocks(y, N, x, (const float *)w->data, N, K, n);
    } else {
        int tile_rows;
        float *tile = tile_buffer(K, &tile_rows);
        for (int j0 = 0; j0 < N; j0 += tile_rows) {
            int cnt = N - j0 < tile_rows ? N - j0 : tile_rows;
            dequantize_rows(tile, w, j0, cnt);
            sgemm_row_blocks(y + j0, N, x, tile, cnt, K, n);
        }
    }
    add_bias(y, bias, n, N);
}

void op_matmul_decode(float *y, const float *x, const QuantMatrix *w, const float *bias, int n) {
    if (w->bf16 && bf16_matvec_available()) bf16_matvec_rows(y, x, w, bias, n);
    else op_matvec_rows(y, x, w, bias, n);
}

bool op_matmul_inference_rounds(const QuantMatrix *w) { return w->bf16 && amx_matvec_available(); }

void op_matmul_inference_xb(float *y, const uint16_t *xb, const QuantMatrix *w, const float *bias, int n) {
    amx_matvec_rows(y, xb, w, bias, n);
}

void op_matmul_inference(float *y, const float *x, const QuantMatrix *w, const float *bias, int n, int n_decode) {
    if (n_decode > n) n_decode = n;
    if (op_matmul_inference_rounds(w)) { /* one kernel for every row: the weights converted once */
        bf16_matvec_rows(y, x, w, bias, n);
        return;
    }
    if (n_decode > 0) op_matmul_decode(y, x, w, bias, n_decode);
    if (n > n_decode)
        op_matmul_prompt(y + (size_t)n_decode * w->rows, x + (size_t)n_decode * w->cols, w, bias, n - n_decode);
}

void op_matmul_backward(float *dx, float beta, const float *dy, const QuantMatrix *w, int n) {
    int N = w->rows, K = w->cols;
    if (w->bf16 && n > MATMUL_MATVEC_ROWS)
        bf16_matmul_backward(dx, beta, dy, w->bf16, n, N, K);
    else if (w->type == QUANT_F32)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, K, N, 1.0f, dy, N, (const float *)w->data, K, beta,
                    dx, K);
    else
        tiled_product(dx, dy, w, true, beta, n);
}

void op_gemm_ld(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                int ldb, float beta, float *C, int ldc) {
    if (onednn_built()) {
        onednn_matmul_ld(ONEDNN_F32, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, NULL, beta, C, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
}

void op_gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, const float *B, float beta,
             float *C) {
    op_gemm_ld(trans_a, trans_b, M, N, K, alpha, A, trans_a ? M : K, B, trans_b ? K : N, beta, C, N);
}

/* --- naive twins: the whole weight dequantized, plain loops in double --- */

void op_gemm_ref(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, const float *B,
                 float beta, float *C) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)(trans_a ? A[(size_t)k * M + i] : A[(size_t)i * K + k]) *
                     (trans_b ? B[(size_t)j * K + k] : B[(size_t)k * N + j]);
            C[(size_t)i * N + j] = (float)(alpha * s + (beta ? beta * C[(size_t)i * N + j] : 0));
        }
}

static float *dequantize_all(const QuantMatrix *w) {
    float *W = malloc((size_t)w->rows * w->cols * sizeof(float));
    if (W)
        for (int j = 0; j < w->rows; j++) op_matrix_row(W + (size_t)j * w->cols, w, j);
    return W;
}

void op_matmul_ref(float *y, const float *x, const QuantMatrix *w, const float *bias, int n) {
    int N = w->rows, K = w->cols;
    float *W = dequantize_all(w);
    if (!W) abort();
    for (int t = 0; t < n; t++)
        for (int j = 0; j < N; j++) {
            double s = bias ? bias[j] : 0;
            for (int k = 0; k < K; k++) s += (double)x[(size_t)t * K + k] * W[(size_t)j * K + k];
            y[(size_t)t * N + j] = (float)s;
        }
    free(W);
}

void op_matmul_backward_ref(float *dx, float beta, const float *dy, const QuantMatrix *w, int n) {
    int N = w->rows, K = w->cols;
    float *W = dequantize_all(w);
    if (!W) abort();
    for (int t = 0; t < n; t++)
        for (int k = 0; k < K; k++) {
            double s = beta ? dx[(size_t)t * K + k] : 0;
            for (int j = 0; j < N; j++) s += (double)dy[(size_t)t * N + j] * W[(size_t)j * K + k];
            dx[(size_t)t * K + k] = (float)s;
        }
    free(W);
}
