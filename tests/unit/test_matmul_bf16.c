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
#include "model/infer.h"
#include "model/model.h"
#include "tensor/matmul.h"
#include "tensor/matmul_panels.h"
#include "tensor/matmul_bf16.h"
#include "tensor/precision.h"
#include "tensor/matvec_amx.h"
#include "tensor/quant_bf16.h"
#include "test.h"
#include "test_models.h"
#include "test_weights.h"

/* Whether the bf16 path can run here; otherwise skips the test with the reason. */
/* Whether this CPU and build have the bf16 path (why not in e). */
static bool bf16_path(Err *e) {
    Precision got;
    return precision_resolve(PRECISION_BF16, &got, NULL, e) == 0;
}

static bool bf16_available(void) {
    Err e = {0};
    return bf16_path(&e);
}

/* bf16_available, marking the test skipped (with the reason) where it is not. */
static bool bf16_here(void) {
    Err e = {0};
    if (bf16_path(&e)) return true;
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
        QuantMatrix w = {QUANT_F32, (const unsigned char *)Wd, N, K, Wb, NULL};
        QuantMatrix w32 = {QUANT_F32, (const unsigned char *)Wd, N, K, NULL, NULL};
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

/* The products from weights packed in oneDNN's blocked layout (onednn_pack_bf16, as training packs
 * its base weights) against the naive twin, within the twin's bound (the same operands: only the
 * fp32 accumulation differs), forward with a bias and backward overwriting and accumulating, for
 * row counts other than the one the layout was chosen for. */
TEST(matmul_bf16_packed_matches_twin_within_bound) {
    if (!bf16_here()) return;
    const int shapes[][2] = {{129, 300}, {576, 64}, {96, 1536}}; /* N, K */
    const int rows[] = {1, 5, 37, 200};
    Rng r;
    rng_seed(&r, 13);
    double worst = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int N = shapes[s][0], K = shapes[s][1], wide = N > K ? N : K, n_max = 200;
        float *Wd = malloc((size_t)N * K * sizeof(float)), *Wr = malloc((size_t)N * K * sizeof(float));
        float *x = malloc((size_t)n_max * wide * sizeof(float)), *bias = malloc(N * sizeof(float));
        float *y = malloc((size_t)n_max * wide * sizeof(float)), *y_ref = malloc((size_t)n_max * wide * sizeof(float));
        uint16_t *Wb = malloc((size_t)N * K * sizeof(uint16_t));
        for (size_t i = 0; i < (size_t)N * K; i++) Wd[i] = rng_uniform(&r) * 2 - 1;
        for (int j = 0; j < N; j++) bias[j] = rng_uniform(&r) - 0.5f;
        for (size_t i = 0; i < (size_t)n_max * wide; i++) x[i] = rng_uniform(&r) * 2 - 1;
        bf16_convert(Wb, Wd, (size_t)N * K);
        for (size_t i = 0; i < (size_t)N * K; i++) Wr[i] = bf16_to_f32(Wb[i]);
        OnednnPacked *fwd = onednn_pack_bf16(Wb, N, K, false), *bwd = onednn_pack_bf16(Wb, N, K, true);
        REQUIRE(fwd && bwd);
        CHECK(onednn_packed_source(fwd) == Wb && onednn_packed_source(bwd) == Wb);
        for (size_t ri = 0; ri < sizeof rows / sizeof rows[0]; ri++) {
            int n = rows[ri];
            bf16_matmul_packed(y, x, fwd, bias, n, K);
            bf16_matmul_ref(y_ref, x, Wb, bias, n, N, K);
            worst = fmax(worst, test_matmul_worst_ratio(y, y_ref, x, Wr, n, N, K, false, 1.0, 2, 0));
            for (int beta = 0; beta <= 1; beta++) {
                for (size_t i = 0; i < (size_t)n * K; i++) y[i] = y_ref[i] = rng_uniform(&r);
                bf16_matmul_backward_packed(y, (float)beta, x, bwd, n, N);
                bf16_matmul_backward_ref(y_ref, (float)beta, x, Wb, n, N, K);
                worst = fmax(worst, test_matmul_worst_ratio(y, y_ref, x, Wr, n, N, K, true, 1.0, 2, 0));
            }
        }
        onednn_packed_free(fwd);
        onednn_packed_free(bwd);
        free(Wd), free(Wr), free(x), free(bias), free(y), free(y_ref), free(Wb);
    }
    printf("    worst %.3f of the twin bound\n", worst);
    CHECK(worst <= 1.0);
}

/* op_matmul takes the bf16 copy for any row count, one row included; op_matmul_decode (generated
 * tokens) reads it too where the CPU has AVX512-BF16 (bf16_matvec_rows), else the stored bytes. */
TEST(matmul_bf16_copy_is_used_for_every_row_count) {
    enum { N = 64, K = 96, ROWS = 6 };
    float W[N * K], x[ROWS * K], y[ROWS * N], y32[ROWS * N];
    uint16_t Wb[N * K];
    Rng r;
    rng_seed(&r, 4);
    for (int i = 0; i < N * K; i++) W[i] = rng_uniform(&r) - 0.5f;
    for (int i = 0; i < ROWS * K; i++) x[i] = rng_uniform(&r) - 0.5f;
    memset(Wb, 0, sizeof Wb); /* a zero copy: its use shows as a zero product */
    QuantMatrix w = {QUANT_F32, (const unsigned char *)W, N, K, Wb, NULL}, w32 = {QUANT_F32, (const unsigned char *)W, N, K, NULL, NULL};
    op_matmul_decode(y32, x, &w32, NULL, ROWS);
    CHECK(y32[0] != 0.0f);
    if (!bf16_here()) return;
    op_matmul(y, x, &w, NULL, 1);
    int zeros = 0;
    for (int j = 0; j < N; j++) zeros += y[j] == 0.0f;
    CHECK_EQ_INT(zeros, N);
    if (!bf16_matvec_available()) {
        test_skip("no AVX512-BF16: decode rows stay on the stored bytes at bf16");
        return;
    }
    for (int n = 1; n <= ROWS; n++) {
        op_matmul_decode(y, x, &w, NULL, n);
        zeros = 0;
        for (int j = 0; j < n * N; j++) zeros += y[j] == 0.0f;
        CHECK_EQ_INT(zeros, n * N);
    }
}

/* The conversion behind the copies and the decode kernel: each value of every stored type is
 * quant_dequantize's value rounded by f32_to_bf16 (the in-register conversion of the 32-weight
 * blocks and F16 where the CPU has AVX512-BF16, one value at a time elsewhere). */
TEST(quant_rows_bf16_is_the_rounded_dequantization) {
    const uint32_t types[] = {QUANT_F32, QUANT_F16, QUANT_BF16, QUANT_Q8_0, QUANT_Q4_0, QUANT_Q4_1,
                              QUANT_Q5_0, QUANT_Q5_1, QUANT_Q4_K, QUANT_Q5_K, QUANT_Q6_K};
    enum { ROWS = 5, K = 512 };
    Rng r;
    rng_seed(&r, 21);
    float *row = malloc(K * sizeof(float));
    uint16_t *out = malloc((size_t)ROWS * K * sizeof(uint16_t));
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t bytes = quant_row_bytes(types[i], K) * ROWS;
        unsigned char *data = malloc(bytes);
        test_random_weights(&r, types[i], data, bytes);
        QuantMatrix w = {types[i], data, ROWS, K, NULL, NULL};
        quant_rows_bf16(out, &w, 1, ROWS - 1);
        int bad = 0;
        for (int j = 1; j < ROWS; j++) {
            op_matrix_row(row, &w, j);
            for (int k = 0; k < K; k++) bad += out[(size_t)(j - 1) * K + k] != f32_to_bf16(row[k]);
        }
        if (bad) printf("    type %u: %d values differ\n", types[i], bad);
        CHECK_EQ_INT(bad, 0);
        free(data);
    }
    free(row), free(out);
}

/* bf16_matvec_rows's two kernels (VDPBF16PS; AMX where the CPU has it) against their naive twin
 * (bf16_matmul_ref: the same bf16 operands summed in double) within the twin bound of the header
 * comment, for each stored type (converted from the stored bytes or read from the copy), row counts
 * within and across tiles, K with a tail; and each row computed alone has the same bits. */
TEST(matvec_bf16_matches_twin_within_bound) {
    if (!bf16_matvec_available()) {
        test_skip("no AVX512-BF16 on this CPU: the bf16 decode kernel is not used here");
        return;
    }
    const uint32_t types[] = {QUANT_F32, QUANT_F16, QUANT_Q8_0, QUANT_Q4_1, QUANT_Q5_0, QUANT_Q4_K};
    enum { MAX_ROWS = 48 };
    const int ns[] = {1, 3, 4, 9, 16, 17, 33, MAX_ROWS}; /* narrow (<= 16 rows) and wide layouts, whole and partial chunks */
    Rng r;
    rng_seed(&r, 31);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        int N = 70, K = types[i] == QUANT_Q4_K ? 512 : types[i] == QUANT_F32 ? 200 : 320; /* F32: a tail of 8 */
        size_t bytes = quant_row_bytes(types[i], (size_t)K) * N;
        unsigned char *data = malloc(bytes);
        test_random_weights(&r, types[i], data, bytes);
        uint16_t *Wb = malloc((size_t)N * K * sizeof(uint16_t));
        float *Wr = malloc((size_t)N * K * sizeof(float)), *x = malloc((size_t)MAX_ROWS * K * sizeof(float));
        float *bias = malloc(N * sizeof(float)), *y = malloc((size_t)MAX_ROWS * N * sizeof(float));
        float *y_ref = malloc((size_t)MAX_ROWS * N * sizeof(float));
        QuantMatrix w = {types[i], data, N, K, NULL, NULL};
        quant_rows_bf16(Wb, &w, 0, N);
        w.bf16 = Wb;
        for (size_t e = 0; e < (size_t)N * K; e++) Wr[e] = bf16_to_f32(Wb[e]);
        for (int j = 0; j < N; j++) bias[j] = rng_uniform(&r) - 0.5f;
        for (size_t e = 0; e < (size_t)MAX_ROWS * K; e++) x[e] = rng_uniform(&r) * 2 - 1;
        for (int kernel = 0; kernel < 2; kernel++) {
            if (kernel == BF16_DECODE_AMX && !amx_matvec_available()) {
                if (i == 0) test_skip("no AMX tiles granted here: the AMX decode kernel is not used");
                continue;
            }
            double worst = 0;
            for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
                bf16_matvec_rows_with((Bf16DecodeKernel)kernel, y, x, &w, bias, ns[k]);
                bf16_matmul_ref(y_ref, x, Wb, bias, ns[k], N, K);
                worst = fmax(worst, test_matmul_worst_ratio(y, y_ref, x, Wr, ns[k], N, K, false, 1.0, 2, 0));
                /* each row alone gives the bits it had among the others */
                float alone[70];
                int moved = 0;
                for (int t = 0; t < ns[k]; t += 4) {
                    bf16_matvec_rows_with((Bf16DecodeKernel)kernel, alone, x + (size_t)t * K, &w, bias, 1);
                    moved += memcmp(alone, y + (size_t)t * N, N * sizeof(float)) != 0;
                }
                CHECK_EQ_INT(moved, 0);
            }
            printf("    %s, type %u, %d x %d: worst %.3f of the twin bound\n", kernel ? "AMX" : "VDPBF16PS", types[i],
                   N, K, worst);
            CHECK(worst <= 1.0);
        }
        free(data), free(Wb), free(Wr), free(x), free(bias), free(y), free(y_ref);
    }
}

/* Weights laid out once in the AMX kernel's tiles (amx_pack_tiles, w->amx_tiles, as an encoder's
 * layers at bf16) give the bits the kernel gives laying them out on the call, for every row count
 * (the narrow layout's few rows included) and shapes with partial groups and a K tail, so the twin
 * bound above holds for them too. */
TEST(amx_laid_out_tiles_give_the_same_bits) {
    if (!bf16_matvec_available() || !amx_matvec_available()) {
        test_skip("no AMX tiles granted here: weights are not laid out in tiles");
        return;
    }
    enum { MAX_ROWS = 48 };
    const int shapes[][2] = {{70, 200}, {64, 384}, {33, 96}}, ns[] = {1, 3, 16, 17, 31, 33, MAX_ROWS};
    Rng r;
    rng_seed(&r, 41);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int N = shapes[s][0], K = shapes[s][1];
        float *W = malloc((size_t)N * K * sizeof(float)), *x = malloc((size_t)MAX_ROWS * K * sizeof(float));
        float *bias = malloc(N * sizeof(float)), *y = malloc((size_t)MAX_ROWS * N * sizeof(float));
        float *y_tiles = malloc((size_t)MAX_ROWS * N * sizeof(float));
        uint16_t *Wb = malloc((size_t)N * K * sizeof(uint16_t)), *tiles = aligned_alloc(64, amx_tiles_elems(N, K) * sizeof(uint16_t));
        for (size_t e = 0; e < (size_t)N * K; e++) W[e] = rng_uniform(&r) - 0.5f;
        for (size_t e = 0; e < (size_t)MAX_ROWS * K; e++) x[e] = rng_uniform(&r) * 2 - 1;
        for (int j = 0; j < N; j++) bias[j] = rng_uniform(&r) - 0.5f;
        QuantMatrix w = {QUANT_F32, (const unsigned char *)W, N, K, Wb, NULL};
        quant_rows_bf16(Wb, &w, 0, N);
        QuantMatrix wt = w;
        amx_pack_tiles(tiles, &w);
        wt.amx_tiles = tiles;
        int differ = 0;
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
            bf16_matvec_rows_with(BF16_DECODE_AMX, y, x, &w, bias, ns[k]);
            bf16_matvec_rows_with(BF16_DECODE_AMX, y_tiles, x, &wt, ns[k] % 2 ? bias : NULL, ns[k]);
            if (!(ns[k] % 2)) /* without a bias the sums are stored as they are: add it to compare */
                for (int t = 0; t < ns[k]; t++)
                    for (int j = 0; j < N; j++) y_tiles[(size_t)t * N + j] += bias[j];
            differ += memcmp(y, y_tiles, (size_t)ns[k] * N * sizeof(float)) != 0;
        }
        CHECK_EQ_INT(differ, 0);
        free(W), free(x), free(bias), free(y), free(y_tiles), free(Wb), free(tiles);
    }
}

/* op_matmul_inference with the first half of the rows (rounded down) as decode rows: the row under
 * test, last, is a prompt row among decode and prompt rows. */
static void inference_half_decode(float *y, const float *x, const QuantMatrix *w, const float *bias, int n) {
    op_matmul_inference(y, x, w, bias, n, n / 2);
}

/* Inference's entries give a row the same bits whatever shares its call: row 0 computed alone
 * equals row 0 placed at the end of calls of 2 to 40 rows (prompt rows at bf16 where the CPU has
 * it, on a Q8_0 and an F32 weight; decode rows on both, and at bf16 on Q8_0, Q4_1 and F32 weights
 * with copies: few rows convert the stored bytes, more read the copy, with the same bits). */
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
    unsigned char *q41 = malloc(quant_row_bytes(QUANT_Q4_1, K) * N);
    test_random_weights(&r, QUANT_Q4_1, q41, quant_row_bytes(QUANT_Q4_1, K) * N);
    uint16_t *Wb8 = malloc(sizeof(uint16_t) * N * K), *Wb41 = malloc(sizeof(uint16_t) * N * K);
    QuantMatrix wp = {QUANT_F32, (const unsigned char *)W, N, K, bf16_available() ? Wb : NULL, NULL},
                wq = {QUANT_Q8_0, q8, N, K, NULL, NULL}, wf = {QUANT_F32, (const unsigned char *)W, N, K, NULL, NULL},
                wq8b = {QUANT_Q8_0, q8, N, K, NULL, NULL}, wq41b = {QUANT_Q4_1, q41, N, K, NULL, NULL};
    quant_rows_bf16(Wb8, &wq8b, 0, N);
    quant_rows_bf16(Wb41, &wq41b, 0, N);
    if (bf16_available()) wq8b.bf16 = Wb8, wq41b.bf16 = Wb41; /* the bf16 path's weights (else fp32: the same as wq) */
    struct {
        const QuantMatrix *w;
        void (*fn)(float *, const float *, const QuantMatrix *, const float *, int);
    } cases[] = {{&wp, inference_half_decode}, {&wq41b, inference_half_decode}, {&wp, op_matmul_prompt}, {&wq, op_matmul_prompt}, {&wf, op_matmul_prompt},
                 {&wq, op_matmul_decode}, {&wf, op_matmul_decode}, {&wq8b, op_matmul_decode},
                 {&wq41b, op_matmul_decode}, {&wp, op_matmul_decode}};
    if (!bf16_available()) printf("    no bf16 path here: the bf16 cases run at fp32\n");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        if (!onednn_built() && !matmul_panels_available() && cases[k].fn != op_matmul_decode) {
            printf("    skipped case %zu: prompt rows go to OpenBLAS in a build without oneDNN, whose kernels give a "
                   "row other bits at other positions on some CPUs\n", k);
            continue;
        }
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
    free(W), free(x), free(y), free(alone), free(xx), free(Wb), free(q8), free(q41), free(Wb8), free(Wb41);
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

/* The logits of a prompt (wide products) and of decode steps (few rows) over infer_forward, with
 * every matrix laid out in tiles (model_lay_out_tiles, as a server does) and without: the same
 * bits; fp32 drops the layouts with the copies. */
static int run_logits(const Model *m, float *prompt_logits, float *step_logits, Err *err) {
    enum { PROMPT = 40 };
    InferState *s;
    if (infer_new(m, 64, 2, &s, err)) return -1;
    int32_t tokens[PROMPT];
    for (int i = 0; i < PROMPT; i++) tokens[i] = (i * 37 + 5) % m->cfg.vocab;
    int rc = infer_forward(s, tokens, PROMPT, prompt_logits, err);
    for (int i = 0; !rc && i < 3; i++) {
        rc = infer_step(s, tokens[i], err);
        memcpy(step_logits + (size_t)i * m->cfg.vocab, s->logits, (size_t)m->cfg.vocab * sizeof(float));
    }
    infer_free(s);
    return rc;
}

TEST(model_tiles_give_the_same_logits) {
    if (!bf16_here()) return;
    if (!amx_matvec_available()) {
        test_skip("no AMX tiles granted here: model_lay_out_tiles does nothing");
        return;
    }
    Model *m = test_load_stories260k();
    if (!m) return;
    Err e = {0};
    REQUIRE(model_set_precision(m, PRECISION_BF16, NULL, &e) == 0);
    size_t V = (size_t)m->cfg.vocab;
    float *a = malloc(43 * V * sizeof(float)), *b = malloc(43 * V * sizeof(float));
    REQUIRE(run_logits(m, a, a + 40 * V, &e) == 0);
    REQUIRE(model_lay_out_tiles(m, &e) == 0);
    CHECK(m->tiles && m->layers[0].wq.amx_tiles && m->layers[m->cfg.n_layer - 1].w_down.amx_tiles && m->output.amx_tiles);
    REQUIRE(run_logits(m, b, b + 40 * V, &e) == 0);
    CHECK(memcmp(a, b, 43 * V * sizeof(float)) == 0);
    REQUIRE(model_set_precision(m, PRECISION_FP32, NULL, &e) == 0);
    CHECK(!m->tiles && !m->layers[0].wq.amx_tiles && !m->output.amx_tiles);
    free(a), free(b);
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
