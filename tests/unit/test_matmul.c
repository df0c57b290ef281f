/* test_matmul.c: products with typed weights (tensor/matmul.h) against their naive twins for every
 * storage type, with 1, 3 (stored-bytes matvec) and 9 (dequantized tiles + sgemm) rows of x and a
 * weight taller than one tile, forward and backward. Both sides use bit-identical dequantized
 * weights, so they differ only in rounding and summation order: each entry must lie within
 *   (2K + 8) u sum_k |x_k w_k| + u |y_ref|,  u = 2^-24,
 * the standard bound for a K-term dot product (with the matvec kernel's few extra roundings). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/matmul.h"
#include "tensor/matmul_panels.h"
#include "tensor/onednn.h"
#include "test.h"
#include "test_weights.h"

static const struct { const char *name; uint32_t type; } TYPES[] = {
    {"F32", QUANT_F32},   {"F16", QUANT_F16},   {"BF16", QUANT_BF16}, {"Q8_0", QUANT_Q8_0},
    {"Q4_0", QUANT_Q4_0}, {"Q4_1", QUANT_Q4_1}, {"Q5_0", QUANT_Q5_0}, {"Q5_1", QUANT_Q5_1},
    {"Q4_K", QUANT_Q4_K}, {"Q5_K", QUANT_Q5_K}, {"Q6_K", QUANT_Q6_K},
};

/* A random N x K weight of the type in *w (its data, to be freed) and its dequantized rows in Wd. */
static unsigned char *random_weight(Rng *r, QuantMatrix *w, uint32_t type, int N, int K, float *Wd) {
    *w = (QuantMatrix){type, NULL, N, K, NULL, NULL};
    size_t bytes = (size_t)N * quant_row_bytes(type, K);
    unsigned char *data = malloc(bytes);
    test_random_weights(r, type, data, bytes);
    w->data = data;
    for (int j = 0; j < N; j++) op_matrix_row(Wd + (size_t)j * K, w, j);
    return data;
}

TEST(matmul_typed_weights_match_ref) {
    const int K = 512, N = MATMUL_TILE_FLOATS / 512 + 37; /* two tiles of rows */
    const int ns[] = {1, 3, 9};
    Rng r;
    rng_seed(&r, 21);
    float *x = malloc((size_t)9 * (N > K ? N : K) * sizeof(float)), *bias = malloc(N * sizeof(float));
    float *Wd = malloc((size_t)N * K * sizeof(float));
    float *y = malloc((size_t)9 * (N > K ? N : K) * sizeof(float)), *y_ref = malloc((size_t)9 * (N > K ? N : K) * sizeof(float));
    for (int j = 0; j < N; j++) bias[j] = rng_uniform(&r) - 0.5f;
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) {
        QuantMatrix w;
        unsigned char *data = random_weight(&r, &w, TYPES[i].type, N, K, Wd);
        double worst = 0;
        for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++) {
            int n = ns[a];
            for (size_t e = 0; e < (size_t)n * N; e++) x[e] = rng_uniform(&r) * 2 - 1;
            op_matmul(y, x, &w, bias, n);
            op_matmul_ref(y_ref, x, &w, bias, n);
            worst = fmax(worst, test_matmul_worst_ratio(y, y_ref, x, Wd, n, N, K, false, 2.0, 8, 0));
            /* backward: dx (n, K) = dy (n, N) W + dx */
            for (size_t e = 0; e < (size_t)n * K; e++) y[e] = y_ref[e] = rng_uniform(&r);
            op_matmul_backward(y, 1.0f, x, &w, n);
            op_matmul_backward_ref(y_ref, 1.0f, x, &w, n);
            worst = fmax(worst, test_matmul_worst_ratio(y, y_ref, x, Wd, n, N, K, true, 2.0, 8, 0));
        }
        printf("    %-5s %d x %d: worst error %.3f of its bound\n", TYPES[i].name, N, K, worst);
        CHECK(worst <= 1.0);
        free(data);
    }
    free(x), free(bias), free(Wd), free(y), free(y_ref);
}

TEST(matmul_row_lookup_is_the_dequantized_row) {
    Rng r;
    rng_seed(&r, 5);
    QuantMatrix w = {QUANT_Q4_K, NULL, 3, 512, NULL, NULL};
    size_t rb = quant_row_bytes(w.type, 512);
    unsigned char *data = malloc(3 * rb);
    test_random_weights(&r, w.type, data, 3 * rb);
    w.data = data;
    float row[512], ref[512];
    op_matrix_row(row, &w, 2);
    quant_dequantize(w.type, data + 2 * rb, 512, ref);
    CHECK(memcmp(row, ref, sizeof row) == 0);
    free(data);
}

/* op_gemm's four transpose cases against the double loop: within the K-term dot-product bound. */
TEST(matmul_gemm_transposes_match_ref) {
    enum { M = 37, N = 29, K = 45 };
    Rng r;
    rng_seed(&r, 9);
    float A[M * K], B[K * N], C[M * N], C_ref[M * N];
    for (int i = 0; i < M * K; i++) A[i] = rng_uniform(&r) - 0.5f;
    for (int i = 0; i < K * N; i++) B[i] = rng_uniform(&r) - 0.5f;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            for (int i = 0; i < M * N; i++) C[i] = C_ref[i] = rng_uniform(&r);
            op_gemm(ta, tb, M, N, K, 0.5f, A, B, 1.0f, C);
            op_gemm_ref(ta, tb, M, N, K, 0.5f, A, B, 1.0f, C_ref);
            double worst = 0;
            for (int i = 0; i < M * N; i++) worst = fmax(worst, fabs(C[i] - C_ref[i]));
            CHECK(worst <= (2.0 * K + 4) / (1 << 24) * (0.25 * K + 1)); /* |a b| <= 1/4, |C| <= 1 */
        }
}

/* op_gemm_ld's four transpose cases on blocks of columns of wider matrices (rows lda, ldb, ldc
 * apart) against the double loop on packed copies, within the same bound; the columns around the
 * block of C stay untouched. */
TEST(matmul_gemm_strided_matches_ref) {
    enum { M = 21, N = 13, K = 35, PAD = 7 };
    Rng r;
    rng_seed(&r, 10);
    static float A[(M + PAD) * (K + PAD)], B[(K + PAD) * (N + PAD)], C[M * (N + PAD)], C0[M * (N + PAD)];
    float Ap[M * K], Bp[K * N], C_ref[M * N];
    for (size_t i = 0; i < sizeof A / sizeof A[0]; i++) A[i] = rng_uniform(&r) - 0.5f;
    for (size_t i = 0; i < sizeof B / sizeof B[0]; i++) B[i] = rng_uniform(&r) - 0.5f;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int lda = (ta ? M : K) + PAD, ldb = (tb ? K : N) + PAD, ldc = N + PAD;
            for (int i = 0; i < M; i++) /* the packed copies op_gemm_ref reads */
                for (int k = 0; k < K; k++) {
                    if (ta) Ap[k * M + i] = A[k * lda + i];
                    else Ap[i * K + k] = A[i * lda + k];
                }
            for (int k = 0; k < K; k++)
                for (int j = 0; j < N; j++) {
                    if (tb) Bp[j * K + k] = B[j * ldb + k];
                    else Bp[k * N + j] = B[k * ldb + j];
                }
            for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) C[i] = C0[i] = rng_uniform(&r);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) C_ref[i * N + j] = C[i * ldc + j];
            op_gemm_ld(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 1.0f, C, ldc);
            op_gemm_ref(ta, tb, M, N, K, 0.5f, Ap, Bp, 1.0f, C_ref);
            double worst = 0;
            for (int i = 0; i < M; i++) {
                for (int j = 0; j < N; j++) worst = fmax(worst, fabs(C[i * ldc + j] - C_ref[i * N + j]));
                for (int j = N; j < ldc; j++) CHECK(C[i * ldc + j] == C0[i * ldc + j]);
            }
            CHECK(worst <= (2.0 * K + 4) / (1 << 24) * (0.25 * K + 1));
        }
}

/* op_matmul_prompt (inference's prompt rows) for every storage type, on a weight whose row count
 * leaves a part panel (matmul_panels.h: 16 rows a panel) and, for F32, a K that is no multiple of 8:
 * every row of calls of 1 to 14 and 40 rows has the bits of that row computed alone, and lies within
 * the dot-product bound of the header of the double-precision twin. */
TEST(matmul_prompt_rows_any_count_match_ref_and_their_alone_bits) {
    enum { N = 200, MAXN = 40 };
    printf("    prompt rows: %s\n", matmul_panels_available() ? "weight panels (AVX2)" : "library blocks of rows");
    if (!matmul_panels_available() && !onednn_built()) {
        printf("    skipped: prompt rows go to OpenBLAS in a build without oneDNN (not row-invariant on every CPU)\n");
        return;
    }
    Rng r;
    rng_seed(&r, 33);
    float *x = malloc(sizeof(float) * MAXN * 512), *y = malloc(sizeof(float) * MAXN * N);
    float *y_ref = malloc(sizeof(float) * MAXN * N), *alone = malloc(sizeof(float) * MAXN * N);
    float *Wd = malloc(sizeof(float) * N * 512), *bias = malloc(sizeof(float) * N);
    for (int j = 0; j < N; j++) bias[j] = rng_uniform(&r) - 0.5f;
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) {
        int K = TYPES[i].type == QUANT_F32 ? 100 : quant_block_elems(TYPES[i].type) == 256 ? 512 : 256;
        QuantMatrix w;
        unsigned char *data = random_weight(&r, &w, TYPES[i].type, N, K, Wd);
        for (int e = 0; e < MAXN * K; e++) x[e] = rng_uniform(&r) * 2 - 1;
        for (int t = 0; t < MAXN; t++) op_matmul_prompt(alone + (size_t)t * N, x + (size_t)t * K, &w, bias, 1);
        op_matmul_ref(y_ref, x, &w, bias, MAXN);
        double worst = test_matmul_worst_ratio(alone, y_ref, x, Wd, MAXN, N, K, false, 2.0, 8, 0);
        int differ = 0;
        for (int n = 2; n <= MAXN; n = n < 14 ? n + 1 : MAXN + 1) {
            op_matmul_prompt(y, x, &w, bias, n);
            differ += memcmp(y, alone, sizeof(float) * n * N) != 0;
        }
        printf("    %-5s %d x %d: worst error %.3f of its bound, %d of 14 calls with other bits\n", TYPES[i].name, N, K,
               worst, differ);
        CHECK(worst <= 1.0);
        CHECK_EQ_INT(differ, 0);
        free(data);
    }
    free(x), free(y), free(y_ref), free(alone), free(Wd), free(bias);
}
