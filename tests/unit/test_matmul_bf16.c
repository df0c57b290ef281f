/* test_matmul_bf16.c: the bf16 compute path (tensor/matmul_bf16.h, precision.h) against the fp32
 * reference. Bounds, with u = 2^-24 (fp32) and b = 2^-8 (bf16's unit roundoff: 8 significant bits,
 * round to nearest):
 *  - against its naive twin (the same bf16-rounded operands, summed in double): products of two
 *    bf16 values are exact in fp32, so only the fp32 accumulation differs: (K + 2) u sum|x_k w_k|
 *    plus u |y| for the final rounding and the bias;
 *  - against the fp32 reference on the unrounded operands: each product also carries the rounding
 *    of both factors, |x w - bf16(x) bf16(w)| <= (2b + b^2) |x w|, so the bound grows by
 *    (2b + b^2) sum|x_k w_k|.
 * Runs where this CPU and build have a bf16 path, and says so when it skips. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "model/model.h"
#include "tensor/matmul.h"
#include "tensor/matmul_bf16.h"
#include "tensor/precision.h"
#include "test.h"
#include "test_models.h"
#include "test_weights.h"

/* Whether the bf16 path can run here; otherwise skips the test with the reason. */
static bool bf16_here(void) {
    Precision got;
    Err e = {0};
    if (precision_resolve(PRECISION_BF16, &got, NULL, &e) == 0) return true;
    test_skip(e.msg);
    return false;
}

TEST(bf16_rounding_is_nearest_even) {
    const struct { float f; uint16_t h; } cases[] = {
        {1.0f, 0x3f80},
        {1.0f + 1.0f / 256, 0x3f80},          /* halfway, even below */
        {1.0f + 3.0f / 256, 0x3f82},          /* halfway, even above */
        {1.0f + 1.0f / 256 + 1.0f / 65536, 0x3f81}, /* just above halfway */
        {-2.5f, 0xc020},
        {INFINITY, 0x7f80},
        {3.4028235e38f, 0x7f80},              /* FLT_MAX rounds up to infinity */
        {1e-40f, 0x0001},                     /* subnormals round too */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) CHECK(f32_to_bf16(cases[i].f) == cases[i].h);
    uint16_t nan = f32_to_bf16(NAN);
    CHECK((nan & 0x7f80) == 0x7f80 && (nan & 0x7f));
    /* bf16_convert (vector instructions where the CPU has them) agrees with the scalar rounding;
     * VCVTNEPS2BF16 treats subnormal inputs as zero, so for those a signed zero is right too */
    enum { N = 10007 };
    float *src = malloc(N * sizeof(float));
    uint16_t *dst = malloc(N * sizeof(uint16_t));
    Rng r;
    rng_seed(&r, 3);
    for (int i = 0; i < N; i++) {
        uint32_t bits = (uint32_t)(rng_uniform(&r) * 4294967295.0);
        if (i % 3 == 0) bits = (bits & 0xffff0000u) | 0x8000u; /* exact ties */
        memcpy(&src[i], &bits, 4);
        if (isnan(src[i])) src[i] = 1.0f;
    }
    bf16_convert(dst, src, N);
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += dst[i] != f32_to_bf16(src[i]) && !(fpclassify(src[i]) == FP_SUBNORMAL && (dst[i] & 0x7fff) == 0);
    CHECK(bad == 0);
    free(src), free(dst);
}

TEST(matmul_bf16_matches_ref_and_fp32_within_bound) {
    if (!bf16_here()) return;
    const double b = 1.0 / 256;
    const int shapes[][3] = {{5, 129, 300}, {37, 576, 64}, {200, 96, 1536}}; /* n, N, K */
    Rng r;
    rng_seed(&r, 12);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int n = shapes[s][0], N = shapes[s][1], K = shapes[s][2], wide = N > K ? N : K;
        float *x = malloc((size_t)n * wide * sizeof(float)), *Wd = malloc((size_t)N * K * sizeof(float));
        float *bias = malloc(N * sizeof(float)), *y = malloc((size_t)n * wide * sizeof(float));
        float *y_ref = malloc((size_t)n * wide * sizeof(float));
        uint16_t *Wb = malloc((size_t)N * K * sizeof(uint16_t));
        for (size_t i = 0; i < (size_t)N * K; i++) Wd[i] = rng_uniform(&r) * 2 - 1;
        for (int j = 0; j < N; j++) bias[j] = rng_uniform(&r) - 0.5f;
        for (size_t i = 0; i < (size_t)n * wide; i++) x[i] = rng_uniform(&r) * 2 - 1;
        bf16_convert(Wb, Wd, (size_t)N * K);
        QuantMatrix w = {QUANT_F32, (const unsigned char *)Wd, N, K, Wb};
        QuantMatrix w32 = {QUANT_F32, (const unsigned char *)Wd, N, K, NULL};
        float *Wr = malloc((size_t)N * K * sizeof(float)); /* the bf16 weights in fp32, for the twin's bound */
        for (size_t i = 0; i < (size_t)N * K; i++) Wr[i] = bf16_to_f32(Wb[i]);

        /* forward: the oneDNN kernel against its twin, and op_matmul (bf16 copy) against fp32 */
        bf16_matmul(y, x, Wb, bias, n, N, K);
        bf16_matmul_ref(y_ref, x, Wb, bias, n, N, K);
        double twin = test_matmul_worst_ratio(y, y_ref, x, Wr, n, N, K, false, 1.0, 2, 0); /* the same operands */
        op_matmul(y, x, &w, bias, n);
        op_matmul_ref(y_ref, x, &w32, bias, n);
        double fp32 = test_matmul_worst_ratio(y, y_ref, x, Wd, n, N, K, false, 1.0, 2, 2 * b + b * b);
        /* backward, accumulating into dx */
        for (size_t i = 0; i < (size_t)n * K; i++) y[i] = y_ref[i] = rng_uniform(&r);
        bf16_matmul_backward(y, 1.0f, x, Wb, n, N, K);
        bf16_matmul_backward_ref(y_ref, 1.0f, x, Wb, n, N, K);
        twin = fmax(twin, test_matmul_worst_ratio(y, y_ref, x, Wr, n, N, K, true, 1.0, 2, 0));
        for (size_t i = 0; i < (size_t)n * K; i++) y[i] = y_ref[i];
        op_matmul_backward(y, 0.0f, x, &w, n);
        op_matmul_backward_ref(y_ref, 0.0f, x, &w32, n);
        fp32 = fmax(fp32, test_matmul_worst_ratio(y, y_ref, x, Wd, n, N, K, true, 1.0, 2, 2 * b + b * b));
        printf("    n %d, N %d, K %d: worst %.3f of the twin bound, %.3f of the bf16-vs-fp32 bound\n", n, N, K, twin,
               fp32);
        CHECK(twin <= 1.0);
        CHECK(fp32 <= 1.0);
        free(x), free(Wd), free(bias), free(y), free(y_ref), free(Wb), free(Wr);
    }
}

/* op_matmul_decode (generated tokens) reads the stored bytes even where a bf16 copy exists; op_matmul
 * takes the copy for any row count, one row included. */
TEST(matmul_bf16_copy_is_used_for_every_row_count_but_not_by_decode) {
    enum { N = 64, K = 96 };
    float W[N * K], x[MATMUL_MATVEC_ROWS * K], y[MATMUL_MATVEC_ROWS * N], y32[MATMUL_MATVEC_ROWS * N];
    uint16_t Wb[N * K];
    Rng r;
    rng_seed(&r, 4);
    for (int i = 0; i < N * K; i++) W[i] = rng_uniform(&r) - 0.5f;
    for (int i = 0; i < MATMUL_MATVEC_ROWS * K; i++) x[i] = rng_uniform(&r) - 0.5f;
    memset(Wb, 0, sizeof Wb); /* a zero copy: its use shows as a zero product */
    QuantMatrix w = {QUANT_F32, (const unsigned char *)W, N, K, Wb}, w32 = {QUANT_F32, (const unsigned char *)W, N, K, NULL};
    op_matmul_decode(y, x, &w, NULL, MATMUL_MATVEC_ROWS);
    op_matmul_decode(y32, x, &w32, NULL, MATMUL_MATVEC_ROWS);
    CHECK(memcmp(y, y32, sizeof y) == 0);
    CHECK(y[0] != 0.0f);
    if (!bf16_here()) return;
    op_matmul(y, x, &w, NULL, 1);
    int zeros = 0;
    for (int j = 0; j < N; j++) zeros += y[j] == 0.0f;
    CHECK_EQ_INT(zeros, N);
}

/* Inference's entries give a row the same bits whatever shares its call: row 0 computed alone
 * equals row 0 placed at the end of calls of 2 to 40 rows (prompt rows at bf16 where the CPU has
 * it, on a Q8_0 and an F32 weight; decode rows on both). */
TEST(matmul_inference_rows_do_not_depend_on_the_batch) {
    enum { N = 200, K = 256, MAXN = 40 };
    float *W = malloc(sizeof(float) * N * K), *x = malloc(sizeof(float) * MAXN * K), *y = malloc(sizeof(float) * MAXN * N),
          *alone = malloc(sizeof(float) * N), *xx = malloc(sizeof(float) * MAXN * K);
    uint16_t *Wb = malloc(sizeof(uint16_t) * N * K);
    unsigned char *q8 = malloc(quant_row_bytes(QUANT_Q8_0, K) * N);
    Rng r;
    rng_seed(&r, 9);
    for (int i = 0; i < N * K; i++) W[i] = rng_uniform(&r) - 0.5f;
    for (int i = 0; i < MAXN * K; i++) x[i] = rng_uniform(&r) - 0.5f;
    bf16_convert(Wb, W, (size_t)N * K);
    for (size_t b = 0; b < (size_t)N * K / 32; b++) { /* Q8_0 blocks with scale 2^-7 (fp16 0x2000) */
        unsigned char *blk = q8 + b * 34;
        blk[0] = 0x00, blk[1] = 0x20;
        for (int j = 0; j < 32; j++) blk[2 + j] = (unsigned char)(signed char)lrintf(W[b * 32 + j] * 128.0f);
    }
    QuantMatrix wp = {QUANT_F32, (const unsigned char *)W, N, K, bf16_here() ? Wb : NULL},
                wq = {QUANT_Q8_0, q8, N, K, NULL}, wf = {QUANT_F32, (const unsigned char *)W, N, K, NULL};
    struct {
        const QuantMatrix *w;
        void (*fn)(float *, const float *, const QuantMatrix *, const float *, int);
    } cases[] = {{&wp, op_matmul_prompt}, {&wq, op_matmul_prompt}, {&wf, op_matmul_prompt},
                 {&wq, op_matmul_decode}, {&wf, op_matmul_decode}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        cases[k].fn(alone, x, cases[k].w, NULL, 1);
        int bad = 0;
        for (int n = 2; n <= MAXN; n += 3) {
            memcpy(xx, x + K, sizeof(float) * (n - 1) * K); /* other rows first, row 0 last */
            memcpy(xx + (size_t)(n - 1) * K, x, sizeof(float) * K);
            cases[k].fn(y, xx, cases[k].w, NULL, n);
            bad += memcmp(y + (size_t)(n - 1) * N, alone, sizeof(float) * N) != 0;
        }
        CHECK_EQ_INT(bad, 0);
    }
    free(W), free(x), free(y), free(alone), free(xx), free(Wb), free(q8);
}

/* model_set_precision: every matrix's copy is the bf16 rounding of its dequantized rows (tied head
 * shares the embeddings' copy), and fp32 drops them. */
TEST(model_bf16_copies_are_rounded_weights) {
    if (!bf16_here()) return;
    Model *m = test_load_stories260k();
    if (!m) return;
    char why[PRECISION_WHY_MAX];
    Err e = {0};
    REQUIRE(model_set_precision(m, PRECISION_BF16, why, &e) == 0);
    printf("    %s\n", why);
    CHECK(m->precision == PRECISION_BF16);
    const QuantMatrix *mats[] = {&m->layers[0].wq, &m->layers[m->cfg.n_layer - 1].w_down, &m->tok_embd, &m->output};
    float *row = malloc((size_t)m->cfg.ffn_dim * 4 * sizeof(float));
    for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
        const QuantMatrix *q = mats[i];
        REQUIRE(q->bf16);
        int bad = 0;
        for (int j = 0; j < q->rows; j++) {
            op_matrix_row(row, q, j);
            for (int k = 0; k < q->cols; k++) bad += q->bf16[(size_t)j * q->cols + k] != f32_to_bf16(row[k]);
        }
        CHECK(bad == 0);
    }
    free(row);
    REQUIRE(model_set_precision(m, PRECISION_FP32, NULL, &e) == 0);
    CHECK(!m->layers[0].wq.bf16 && !m->output.bf16 && !m->bf16);
    model_free(m);
}

TEST(precision_parse_and_resolve) {
    Precision p;
    Err e = {0};
    CHECK(precision_parse("bf16", &p, &e) == 0 && p == PRECISION_BF16);
    CHECK(precision_parse("fp16", &p, &e) == -1 && e.code == ERR_ARG && strstr(e.msg, "'fp16'"));
    char why[PRECISION_WHY_MAX];
    CHECK(precision_resolve(PRECISION_FP32, &p, why, &e) == 0 && p == PRECISION_FP32);
    CHECK(precision_resolve(PRECISION_AUTO, &p, why, &e) == 0);
    printf("    auto: %s\n", why);
    CHECK(strncmp(why, precision_name(p), 4) == 0);
}
