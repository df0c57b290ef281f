/* test_ops.c: every fast kernel against its naive `_ref` twin on random inputs of awkward sizes. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "tensor/dot_fixed.h"
#include "tensor/fast_erf.h"
#include "tensor/fast_exp.h"
#include "tensor/ops.h"
#include "test.h"

static float *randn(Rng *r, size_t n, float scale) {
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = (rng_uniform(r) * 2 - 1) * scale;
    return x;
}

static double max_rel_diff(const float *a, const float *b, size_t n) {
    double mx = 0, ref = 1e-6;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > mx) mx = d;
        if (fabs(b[i]) > ref) ref = fabs(b[i]);
    }
    return mx / ref;
}

TEST(ops_linear_matches_ref) {
    Rng r;
    rng_seed(&r, 1);
    omp_set_num_threads(2);
    int shapes[][3] = {{1, 37, 19}, {7, 64, 172}, {33, 100, 3}, {5, 1, 1}};
    for (size_t s = 0; s < 4; s++) {
        int T = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
        float *x = randn(&r, (size_t)T * K, 1), *w = randn(&r, (size_t)N * K, 0.5f), *b = randn(&r, N, 1);
        float *y = malloc((size_t)T * N * sizeof(float)), *y_ref = malloc((size_t)T * N * sizeof(float));
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            op_linear(y, x, w, with_bias ? b : NULL, T, K, N);
            op_linear_ref(y_ref, x, w, with_bias ? b : NULL, T, K, N);
            CHECK(max_rel_diff(y, y_ref, (size_t)T * N) < 1e-5);
        }
        free(x), free(w), free(b), free(y), free(y_ref);
    }
}

TEST(ops_rmsnorm_rope_swiglu_match_ref) {
    Rng r;
    rng_seed(&r, 2);
    int T = 9, C = 48, H = 3, hd = 16;
    float *x = randn(&r, (size_t)T * C, 2), *w = randn(&r, C, 1);
    float *a = malloc((size_t)T * C * sizeof(float)), *b = malloc((size_t)T * C * sizeof(float));
    op_rmsnorm(a, x, w, T, C, 1e-5f);
    op_rmsnorm_ref(b, x, w, T, C, 1e-5f);
    CHECK(max_rel_diff(a, b, (size_t)T * C) < 1e-5);

    float inv_freq[8];
    int pos[9] = {0, 1, 2, 7, 100, 511, 4000, 3, 9};
    rope_inv_freq(inv_freq, hd, 10000.0f, NULL);
    CHECK_NEAR(inv_freq[0], 1.0, 1e-7);
    CHECK_NEAR(inv_freq[1], pow(10000.0, -2.0 / 16), 1e-7);
    memcpy(a, x, (size_t)T * C * sizeof(float));
    memcpy(b, x, (size_t)T * C * sizeof(float));
    op_rope(a, pos, inv_freq, T, H, hd);
    op_rope_ref(b, pos, inv_freq, T, H, hd);
    CHECK(max_rel_diff(a, b, (size_t)T * C) < 1e-5);
    /* position 0 is the identity */
    CHECK(memcmp(a, x, (size_t)C * sizeof(float)) == 0);
    /* the angles tabled once (inference's layers) rotate to the same bits */
    float cs[9 * 16];
    rope_table(cs, pos, inv_freq, T, hd);
    memcpy(b, x, (size_t)T * C * sizeof(float));
    op_rope_table(b, cs, T, H, hd);
    CHECK(memcmp(a, b, (size_t)T * C * sizeof(float)) == 0);

    float *u = randn(&r, (size_t)T * C, 3);
    op_swiglu(a, x, u, (size_t)T * C);
    op_swiglu_ref(b, x, u, (size_t)T * C);
    CHECK(max_rel_diff(a, b, (size_t)T * C) < 1e-5);
    free(x), free(w), free(a), free(b), free(u);
}

/* op_attention vs op_attention_ref for T queries after `start` cached positions. */
static void check_attention(uint64_t seed, int n_head, int n_kv, int hd, int start, int T) {
    Rng r;
    rng_seed(&r, seed);
    omp_set_num_threads(2);
    int ctx = start + T;
    float *q = randn(&r, (size_t)T * n_head * hd, 1), *k = randn(&r, (size_t)ctx * n_kv * hd, 1),
          *v = randn(&r, (size_t)ctx * n_kv * hd, 1);
    float *o = malloc((size_t)T * n_head * hd * sizeof(float)), *o_ref = malloc((size_t)T * n_head * hd * sizeof(float));
    float *scratch = malloc((size_t)64 * ctx * sizeof(float));
    op_attention(o, q, k, v, start, T, n_head, n_kv, hd, scratch);
    op_attention_ref(o_ref, q, k, v, start, T, n_head, n_kv, hd, scratch);
    if (max_rel_diff(o, o_ref, (size_t)T * n_head * hd) >= 1e-5)
        test_fail(__FILE__, __LINE__, "attention T=%d start=%d differs from the reference", T, start);
    if (start == 0 && T == 1) CHECK(max_rel_diff(o, v, hd) < 1e-6); /* one key: its value */
    free(q), free(k), free(v), free(o), free(o_ref), free(scratch);
}

TEST(ops_attention_matches_ref) {
    check_attention(3, 6, 2, 8, 5, 4);   /* after a cached prefix */
    check_attention(3, 6, 2, 8, 0, 1);
    check_attention(4, 4, 2, 16, 7, 21);
    check_attention(5, 4, 4, 16, 0, 40);
    check_attention(6, 4, 2, 64, 3, 30); /* a head size of 16-lane sums */
    check_attention(7, 14, 2, 64, 9, 12); /* 7 heads a kv head: groups of 3, 3 and 1 */
    check_attention(8, 10, 2, 80, 4, 9); /* 5 heads a kv head, values beyond the 64-value blocks */
}

/* A query's output does not depend on how its sequence is chunked: 37 queries in one call, and
 * the same in calls of 1, 12 and 24 queries (with more threads than one), agree to the bit. */
static void check_attention_chunking(int hd) {
    enum { NH = 4, NKV = 2, CTX = 37 };
    int qd = NH * hd, kvd = NKV * hd;
    float *q = malloc(sizeof(float) * CTX * qd), *k = malloc(sizeof(float) * CTX * kvd),
          *v = malloc(sizeof(float) * CTX * kvd), *whole = malloc(sizeof(float) * CTX * qd),
          *parts = malloc(sizeof(float) * CTX * qd), *scratch = malloc(sizeof(float) * 64 * CTX);
    Rng r;
    rng_seed(&r, (uint64_t)hd);
    for (int i = 0; i < CTX * qd; i++) q[i] = rng_uniform(&r) * 2 - 1;
    for (int i = 0; i < CTX * kvd; i++) k[i] = rng_uniform(&r) * 2 - 1, v[i] = rng_uniform(&r) * 2 - 1;
    op_attention(whole, q, k, v, 0, CTX, NH, NKV, hd, scratch);
    int cuts[] = {0, 1, 13, CTX};
    for (int c = 0; c < 3; c++)
        op_attention(parts + (size_t)cuts[c] * qd, q + (size_t)cuts[c] * qd, k, v, cuts[c], cuts[c + 1] - cuts[c], NH,
                     NKV, hd, scratch);
    CHECK(memcmp(whole, parts, sizeof(float) * CTX * qd) == 0);
    free(q), free(k), free(v), free(whole), free(parts), free(scratch);
}

TEST(ops_attention_is_the_same_however_chunked) {
    check_attention_chunking(8);
    check_attention_chunking(64);
}

/* lanes_sum4 (attention's scores, four keys at once) adds each vector's lanes as lanes_sum does
 * (a key's score at the end of a context, where dot_fixed takes it alone): the same bits, on values
 * of mixed magnitudes where a different order would round differently. */
TEST(ops_lanes_sum4_is_lanes_sum) {
    Rng r;
    rng_seed(&r, 44);
    int differ = 0;
    for (int trial = 0; trial < 1000; trial++) {
        float lanes[4][16];
        for (int u = 0; u < 4; u++)
            for (int i = 0; i < 16; i++) lanes[u][i] = (rng_uniform(&r) * 2 - 1) * powf(2.0f, (float)(rng_uniform(&r) * 40 - 20));
        v16 v[4] = {load16(lanes[0]), load16(lanes[1]), load16(lanes[2]), load16(lanes[3])};
        v4 s = lanes_sum4(v[0], v[1], v[2], v[3]);
        for (int u = 0; u < 4; u++) {
            float one = lanes_sum(v[u]);
            differ += memcmp(&one, &s[u], sizeof one) != 0;
        }
    }
    CHECK(differ == 0);
}

TEST(ops_softmax_sums_to_one) {
    float x[5] = {1000, 1001, -5, 0, 1001};
    op_softmax(x, 5);
    CHECK_NEAR(x[0] + x[1] + x[2] + x[3] + x[4], 1.0, 1e-6);
    CHECK_NEAR(x[1], x[4], 0);
    CHECK(x[1] > x[0]);
}

/* fast_expf against libm's exp in double over its whole range: within 4 ulp (2^-22 relative), 0
 * below the underflow point, and the same in a vectorised loop as called one at a time. */
TEST(ops_fast_exp_within_4_ulp) {
    double worst = 0;
    for (float x = -87.0f; x < 88.0f; x += 3.1e-4f) worst = fmax(worst, fabs(fast_expf(x) - exp((double)x)) / exp((double)x));
    printf("    worst relative error %.3g (%.2f ulp)\n", worst, worst * (1 << 23));
    CHECK(worst <= 1.0 / (1 << 22));
    CHECK(fast_expf(-100.0f) == 0.0f);
    CHECK(fast_expf(0.0f) == 1.0f);
    float v[333], o[333];
    for (int i = 0; i < 333; i++) v[i] = -50.0f + 0.3f * i;
#pragma omp simd
    for (int i = 0; i < 333; i++) o[i] = fast_expf(v[i]);
    for (int i = 0; i < 333; i++) CHECK(o[i] == fast_expf(v[i]));
}

/* fast_normal_cdf (GELU's factor) against Phi in double (libm's erfc) over [-16, 16]: within 1.2e-7
 * everywhere (2 ulp of values near 1; the fits' own errors, fast_erf.h, give at most about 1e-7),
 * and in the small tail below -sqrt 2 (down to -13, where Phi leaves fp32's normal range) within
 * 8e-7 + 1.5e-7 x^2 relatively: R's 3e-7 and fast_expf's 4 ulp (4.8e-7), plus the error of its
 * argument -z^2 = -x^2 / 2 (up to five roundings of 2^-24 relative: the 1/sqrt 2 constant, z, z^2,
 * and fast_expf's reduction; 5 x 2^-24 x^2 / 2 = 1.5e-7 x^2; 1e-7 x^2 is seen). Monotone, 0.5 at 0, 0 and 1 far out, the same in a vectorised
 * loop. */
TEST(ops_fast_normal_cdf_within_bound) {
    double worst_abs = 0, worst_tail = 0;
    float prev = 0;
    int not_monotone = 0;
    for (float x = -16.0f; x < 16.0f; x += 3.3e-5f) {
        double ref = 0.5 * erfc(-(double)x / sqrt(2.0)), got = fast_normal_cdf(x);
        worst_abs = fmax(worst_abs, fabs(got - ref));
        if (x < -1.4142135f && x > -13.0f) worst_tail = fmax(worst_tail, fabs(got - ref) / ref / (8e-7 + 1.5e-7 * x * x));
        not_monotone += got < prev;
        prev = (float)got;
    }
    printf("    worst absolute error %.3g, tail %.2f of its bound\n", worst_abs, worst_tail);
    CHECK(worst_abs <= 1.2e-7);
    CHECK(worst_tail <= 1.0);
    CHECK_EQ_INT(not_monotone, 0);
    CHECK(fast_normal_cdf(0.0f) == 0.5f && fast_normal_cdf(-30.0f) == 0.0f && fast_normal_cdf(30.0f) == 1.0f);
    float v[333], o[333];
    for (int i = 0; i < 333; i++) v[i] = -12.0f + 0.073f * i;
#pragma omp simd
    for (int i = 0; i < 333; i++) o[i] = fast_normal_cdf(v[i]);
    for (int i = 0; i < 333; i++) CHECK(o[i] == fast_normal_cdf(v[i]));
}

TEST(ops_encoder_kernels_match_ref) {
    Rng r;
    rng_seed(&r, 7);
    omp_set_num_threads(2);
    int T = 13, C = 48, H = 3, hd = 16;
    float *x = randn(&r, (size_t)T * C, 3), *w = randn(&r, C, 1), *bias = randn(&r, C, 1);
    for (int c = 0; c < C; c++) x[c] += 50; /* a row far from zero mean */
    float *a = malloc((size_t)T * C * sizeof(float)), *b = malloc((size_t)T * C * sizeof(float));
    op_layernorm(a, x, w, bias, T, C, 1e-12f);
    op_layernorm_ref(b, x, w, bias, T, C, 1e-12f);
    CHECK(max_rel_diff(a, b, (size_t)T * C) < 1e-5);
    memcpy(a, x, (size_t)T * C * sizeof(float));
    memcpy(b, x, (size_t)T * C * sizeof(float));
    for (int i = 0; i < C; i++) a[i] = b[i] = (float)(i - C / 2) / 4; /* -6..6, the curved part */
    op_gelu(a, (size_t)T * C);
    op_gelu_ref(b, (size_t)T * C);
    CHECK(max_rel_diff(a, b, (size_t)T * C) < 1e-6);
    CHECK_NEAR(a[C / 2 + 4], 0.8413447, 1e-6); /* gelu(1) = Phi(1) */
    for (int len = 1; len <= T; len += 6) { /* T=1: attention returns v */
        float *q = randn(&r, (size_t)len * C, 1), *k = randn(&r, (size_t)len * C, 1), *v = randn(&r, (size_t)len * C, 1);
        float *scratch = malloc((size_t)omp_get_max_threads() * len * sizeof(float) + (size_t)len * sizeof(float));
        int zero = 0;
        op_attention_full(a, q, k, v, &zero, &len, 1, H, hd, scratch);
        op_attention_full_ref(b, q, k, v, &zero, &len, 1, H, hd, scratch);
        CHECK(max_rel_diff(a, b, (size_t)len * C) < 1e-5);
        if (len == 1) CHECK(max_rel_diff(a, v, C) < 1e-6);
        free(q), free(k), free(v), free(scratch);
    }
    free(x), free(w), free(bias), free(a), free(b);
    /* sequences packed end to end (enough of them for the threads to share the heads): each
     * attends to its own rows, as the twin, and each row has the bits it has alone */
    enum { NS = 41 };
    int start[NS], lens[NS], R = 0;
    for (int i = 0; i < NS; i++) start[i] = R, lens[i] = 1 + (i * 7) % 15, R += lens[i];
    float *q = randn(&r, (size_t)R * C, 1), *k = randn(&r, (size_t)R * C, 1), *v = randn(&r, (size_t)R * C, 1);
    float *pa = malloc((size_t)R * C * sizeof(float)), *pb = malloc((size_t)R * C * sizeof(float));
    float *scratch = malloc((size_t)omp_get_max_threads() * 16 * sizeof(float));
    op_attention_full(pa, q, k, v, start, lens, NS, H, hd, scratch);
    op_attention_full_ref(pb, q, k, v, start, lens, NS, H, hd, scratch);
    CHECK(max_rel_diff(pa, pb, (size_t)R * C) < 1e-5);
    int moved = 0, zero = 0;
    for (int i = 0; i < NS; i += 5) {
        size_t off = (size_t)start[i] * C;
        op_attention_full(pb, q + off, k + off, v + off, &zero, &lens[i], 1, H, hd, scratch);
        moved += memcmp(pb, pa + off, (size_t)lens[i] * C * sizeof(float)) != 0;
    }
    CHECK_EQ_INT(moved, 0);
    free(q), free(k), free(v), free(pa), free(pb), free(scratch);
}
