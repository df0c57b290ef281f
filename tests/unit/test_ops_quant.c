/* test_ops_quant.c: the typed-weight layer (tensor/ops_quant.h). Dequantization against PyPI gguf's
 * numpy reference, bit for bit, through the golden files of scripts/golden_quant.py; a few
 * hand-computed blocks; and every fast matvec kernel against its naive twin (dequantize, then a
 * double-precision dot product) within a bound derived from fp32 rounding (see matvec test). */
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/rng.h"
#include "tensor/ops_quant.h"
#include "tensor/ops_quant_impl.h"
#include "test.h"
#include "test_weights.h"

typedef struct {
    const char *name;
    uint32_t type;
    size_t elems, bytes;
    int keep_from, keep_to; /* bytes of a block that are scales / mins, not quantized values */
} TypeCase;

static const TypeCase CASES[] = {
    {"F32", QUANT_F32, 1, 4, 0, 0},       {"F16", QUANT_F16, 1, 2, 0, 0},
    {"BF16", QUANT_BF16, 1, 2, 0, 0},     {"Q8_0", QUANT_Q8_0, 32, 34, 0, 2},
    {"Q4_0", QUANT_Q4_0, 32, 18, 0, 2},   {"Q4_1", QUANT_Q4_1, 32, 20, 0, 4},
    {"Q5_0", QUANT_Q5_0, 32, 22, 0, 2},   {"Q5_1", QUANT_Q5_1, 32, 24, 0, 4},
    {"Q4_K", QUANT_Q4_K, 256, 144, 0, 16}, {"Q5_K", QUANT_Q5_K, 256, 176, 0, 16},
    {"Q6_K", QUANT_Q6_K, 256, 210, 192, 210},
};
#define N_CASES (int)(sizeof CASES / sizeof CASES[0])

TEST(quant_type_table) {
    for (int i = 0; i < N_CASES; i++) {
        const TypeCase *c = &CASES[i];
        CHECK(quant_type_supported(c->type));
        CHECK_EQ_INT(quant_block_elems(c->type), c->elems);
        CHECK_EQ_INT(quant_block_bytes(c->type), c->bytes);
        CHECK_EQ_INT(quant_row_bytes(c->type, 4 * 256), 4 * 256 / c->elems * c->bytes);
    }
    CHECK(!quant_type_supported(10) && !quant_type_supported(11) && !quant_type_supported(99));
    CHECK_EQ_INT(quant_block_bytes(10), 0);
    CHECK_EQ_INT(QUANT_BLOCK, 32);
}

TEST(quant_dequantize_hand_computed_blocks) {
    /* Q4_1 block: d = 0.5 (fp16 0x3800), m = -1 (0xbc00), byte j = (j % 16) | ((15 - j % 16) << 4) */
    unsigned char b[20] = {0x00, 0x38, 0x00, 0xbc};
    for (int j = 0; j < 16; j++) b[4 + j] = (unsigned char)(j | ((15 - j) << 4));
    float out[256];
    quant_dequantize(QUANT_Q4_1, b, 32, out);
    CHECK(out[0] == -1.0f);          /* 0.5 * 0 - 1 */
    CHECK(out[3] == 0.5f);           /* 0.5 * 3 - 1 */
    CHECK(out[16] == 6.5f);          /* 0.5 * 15 - 1 */
    CHECK(out[31] == -1.0f);         /* 0.5 * 0 - 1 */
    /* Q8_0 block: d = 2 (0x4000), q = -3 */
    unsigned char c[34] = {0x00, 0x40};
    memset(c + 2, 0xfd, 32);
    quant_dequantize(QUANT_Q8_0, c, 32, out);
    CHECK(out[0] == -6.0f && out[31] == -6.0f);
    /* Q4_0 block: d = 1, nibble 0 is -8 */
    unsigned char z[18] = {0x00, 0x3c};
    quant_dequantize(QUANT_Q4_0, z, 32, out);
    CHECK(out[5] == -8.0f);
    /* Q5_0 block: d = 1, qh bit 3 set, nibbles 0: value 3 is 16 - 16 = 0, the others -16 */
    unsigned char f[22] = {0x00, 0x3c, 0x08};
    quant_dequantize(QUANT_Q5_0, f, 32, out);
    CHECK(out[3] == 0.0f && out[2] == -16.0f && out[19] == -16.0f);
    /* Q4_K super-block: d = 1, dmin = 0.5; sub-block 5 has sc = 3 | 1 << 4 = 19 (byte 9 low nibble 3,
     * byte 1 top bits 01) and m = 2 | 2 << 4 = 34 (byte 9 high nibble 2, byte 5 top bits 10);
     * value 5*32 + 7 lives in the high nibble of byte 16 + 64 + 7, set to 9: 19 * 9 - 17 = 154 */
    unsigned char k[144] = {0x00, 0x3c, 0x00, 0x38};
    k[4 + 1] = 0x40;
    k[4 + 5] = 0x80;
    k[4 + 9] = 0x23;
    k[16 + 64 + 7] = 0x90;
    quant_dequantize(QUANT_Q4_K, k, 256, out);
    CHECK(out[5 * 32 + 7] == 154.0f);
    CHECK(out[5 * 32 + 8] == -17.0f); /* q = 0: -dmin m */
    CHECK(out[4 * 32 + 7] == 0.0f);   /* sub-block 4: sc = m = 0 */
}

/* The blocks of a golden file (scripts/golden_quant.py) dequantize to exactly gguf's floats. */
TEST(quant_dequantize_bit_identical_to_gguf_reference) {
    for (int i = 0; i < N_CASES; i++) {
        const TypeCase *c = &CASES[i];
        char path[256];
        snprintf(path, sizeof path, "tests/golden/quant/%s.bin", c->name);
        char *buf = NULL;
        size_t len = 0;
        Err err = {0};
        if (file_read_all(test_path(path), 1 << 20, &buf, &len, &err)) {
            test_fail(__FILE__, __LINE__, "%s", err.msg);
            continue;
        }
        uint32_t hdr[5];
        REQUIRE(len >= 20);
        memcpy(hdr, buf, 20);
        size_t n = hdr[3], nbytes = hdr[4];
        REQUIRE(memcmp(buf, "FTQG", 4) == 0 && hdr[1] == 1 && hdr[2] == c->type);
        REQUIRE(len == 20 + nbytes + 4 * n && n % c->elems == 0);
        CHECK_EQ_INT(quant_row_bytes(c->type, n), nbytes);
        float *out = malloc(n * sizeof(float));
        quant_dequantize(c->type, (const unsigned char *)buf + 20, n, out);
        const char *expect = buf + 20 + nbytes;
        if (memcmp(out, expect, n * sizeof(float)) != 0) {
            for (size_t j = 0; j < n; j++) {
                float e;
                memcpy(&e, expect + 4 * j, 4);
                if (memcmp(&out[j], &e, 4) != 0) {
                    test_fail(__FILE__, __LINE__, "%s [%zu]: %.9g, gguf %.9g", c->name, j, out[j], e);
                    break;
                }
            }
        }
        free(out);
        free(buf);
    }
}

/* y = W x in fp32 (any order of summation) against the reference's double sum of the dequantized
 * weights. Both evaluate sum_i x_i (D q_i - M) with D, M the block's fp32 scale and min (or
 * offset), each term passing through at most 2 cols + 8 roundings (the reference rounds each
 * weight twice and its result once; the kernel rounds the block sums, the scaling, the
 * accumulators, the lane reduction and the min term), so by the standard bound
 *   |y - y_ref| <= gamma(2 cols + 8) * sum_i |x_i| (|D q_i| + |M|) + u |y_ref|,
 *   gamma(k) = k u / (1 - k u), u = 2^-24,
 * and sum_i |x_i| (|D q_i| + |M|) <= sum_i |x_i| (|w_i| + 2 |z_i|) =: B, with z_i the value the
 * block gives when its quantized bits are zeroed (-M, m or the offset, 0 for the plain types). */
static void check_matvec(const TypeCase *c, int rows, int cols, Rng *r) {
    size_t row_bytes = quant_row_bytes(c->type, (size_t)cols), bytes = (size_t)rows * row_bytes;
    unsigned char *data = malloc(bytes), *zeroed = malloc(bytes);
    float *x = malloc(cols * sizeof(float)), *bias = malloc(rows * sizeof(float));
    float *y = malloc(rows * sizeof(float)), *y_ref = malloc(rows * sizeof(float));
    float *w = malloc(cols * sizeof(float)), *z = malloc(cols * sizeof(float));
    test_random_weights(r, c->type, data, bytes);
    memset(zeroed, 0, bytes);
    for (size_t off = 0; off < bytes; off += c->bytes)
        memcpy(zeroed + off + c->keep_from, data + off + c->keep_from, c->keep_to - c->keep_from);
    for (int i = 0; i < cols; i++) x[i] = rng_uniform(r) * 2 - 1;
    for (int i = 0; i < rows; i++) bias[i] = rng_uniform(r) * 2 - 1;
    QuantMatrix m = {c->type, data, rows, cols, NULL, NULL};
    op_matvec_quant(y, x, &m, bias);
    op_matvec_quant_ref(y_ref, x, &m, bias);
    double k = 2.0 * cols + 8, u = 1.0 / (1 << 24), gamma = k * u / (1 - k * u), worst = 0;
    for (int i = 0; i < rows; i++) {
        quant_dequantize(c->type, data + (size_t)i * row_bytes, (size_t)cols, w);
        quant_dequantize(c->type, zeroed + (size_t)i * row_bytes, (size_t)cols, z);
        double b = fabs(bias[i]);
        for (int j = 0; j < cols; j++) b += fabs(x[j]) * (fabs(w[j]) + 2 * fabs(z[j]));
        double tol = gamma * b + u * fabs(y_ref[i]), diff = fabs((double)y[i] - y_ref[i]);
        if (!(diff <= tol)) {
            test_fail(__FILE__, __LINE__, "%s %dx%d row %d: %.9g vs ref %.9g (diff %g > bound %g)", c->name, rows, cols,
                      i, y[i], y_ref[i], diff, tol);
            break;
        }
        worst = fmax(worst, diff / b);
    }
    if (getenv("FTUNE_TEST_VERBOSE"))
        printf("  %s %dx%d: max |y - y_ref| / B = %.3g (bound %.3g)\n", c->name, rows, cols, worst, gamma);
    free(data), free(zeroed), free(x), free(bias), free(y), free(y_ref), free(w), free(z);
}

TEST(quant_matvec_matches_ref_for_every_type) {
    Rng r;
    rng_seed(&r, 9);
    for (int i = 0; i < N_CASES; i++) {
        const TypeCase *c = &CASES[i];
        /* rows prime (not a multiple of any thread count); several blocks per row, odd counts too */
        if (c->elems == 1) {
            check_matvec(c, 37, 77, &r); /* a tail shorter than a vector */
            check_matvec(c, 37, 1000, &r);
        } else if (c->elems == 32) {
            check_matvec(c, 37, 96, &r);
            check_matvec(c, 41, 1024, &r);
        } else {
            check_matvec(c, 37, 768, &r);
            check_matvec(c, 3, 2048, &r);
        }
    }
}

TEST(quant_unsupported_type_gives_nan) {
    unsigned char blk[256] = {0};
    float out[32], y[2], x[32] = {0};
    quant_dequantize(11, blk, 32, out);
    CHECK(isnan(out[0]) && isnan(out[31]));
    QuantMatrix m = {11, blk, 2, 32, NULL, NULL};
    op_matvec_quant(y, x, &m, NULL);
    CHECK(isnan(y[0]) && isnan(y[1]));
}

/* The multi-row kernel (several decode rows against one weight row, each block dequantized once)
 * gives every row the bits it gets alone, for 1 to QUANT_ROWS_MAX rows and an even and an odd
 * number of blocks: what keeps a generated token's row the same whatever else a step carries. Its
 * accuracy against the reference is quant_matvec_matches_ref_for_every_type's (op_matvec_rows runs
 * it wherever it exists). */
TEST(quant_rows_dot_gives_each_row_its_one_row_bits) {
    Rng r;
    rng_seed(&r, 31);
    int checked = 0;
    for (int c = 0; c < N_CASES; c++) {
        QuantRowsDot rows = quant_rows_dot_32(CASES[c].type);
        if (!rows) rows = quant_rows_dot_k(CASES[c].type);
        if (!rows) continue;
        int step = CASES[c].elems == 256 ? 256 : 32, K0 = step == 256 ? 512 : 576;
        for (int K = K0; K <= K0 + step; K += step) {
            size_t bytes = quant_row_bytes(CASES[c].type, (size_t)K);
            unsigned char *w = malloc(bytes);
            float *x = malloc(sizeof(float) * QUANT_ROWS_MAX * K), *xl = malloc(sizeof(float) * QUANT_ROWS_MAX * K);
            test_random_weights(&r, CASES[c].type, w, bytes);
            const float *xp[QUANT_ROWS_MAX];
            for (int i = 0; i < QUANT_ROWS_MAX; i++) {
                for (int k = 0; k < K; k++) x[(size_t)i * K + k] = rng_uniform(&r) * 2 - 1;
                quant_rows_layout_x(xl + (size_t)i * K, x + (size_t)i * K, K);
                xp[i] = xl + (size_t)i * K;
            }
            for (int nr = 1; nr <= QUANT_ROWS_MAX; nr++) {
                float out[QUANT_ROWS_MAX];
                rows(w, xp, nr, K, out);
                for (int i = 0; i < nr; i++) {
                    float one;
                    rows(w, &xp[i], 1, K, &one);
                    CHECK(memcmp(&one, &out[i], sizeof one) == 0);
                    checked++;
                }
            }
            free(w), free(x), free(xl);
        }
    }
    if (!checked)
        test_skip("no multi-row kernel in this build (AVX-512 or no AVX2): decode rows take the one-row kernel");
    else printf("    %d rows of 8 block types, 1-%d rows a call: each row's bits alone\n", checked, QUANT_ROWS_MAX);
}
