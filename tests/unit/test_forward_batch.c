/* test_forward_batch.c: the batched forward pass against one sequence at a time. A batch mixing
 * three sequences (a continuation after a cached prefix, a fresh prompt, a single decode row),
 * two different adapters and the base model gives every row the logits that sequence gets when
 * run alone through infer.h, to fp32 rounding (the matmuls differ only in their blocking); a
 * forked slot continues exactly as its source; bad batches are refused with nothing run. On
 * stories260K (llama, GGUF) and the tiny Qwen2 (q/k/v biases, Hugging Face layout). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/rng.h"
#include "model/forward.h"
#include "model/infer.h"
#include "test.h"
#include "test_models.h"

/* An adapter with random A and B (B = 0 would make it a no-op). */
static Lora *random_adapter(const Model *m, int rank, uint64_t seed) {
    LoraConfig cfg = {rank, 2.0f * rank, 0.0f, LORA_ALL_TARGETS};
    Lora *l;
    Err err = {0};
    if (lora_new(m, &cfg, &l, &err)) return NULL;
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < l->n_params; i++) l->params[i] = (rng_uniform(&r) - 0.5f) * 0.1f;
    return l;
}

/* Logits (n, V) of ids[0..n) run alone from position 0 with adapter a (or none). */
static float *alone(const Model *m, const int32_t *ids, int n, const Lora *a) {
    InferState *st;
    Err err = {0};
    float *out = malloc((size_t)n * m->cfg.vocab * sizeof(float));
    if (infer_new(m, 64, 2, &st, &err) || infer_set_lora(st, a, &err) || infer_forward(st, ids, n, out, &err))
        test_fail(__FILE__, __LINE__, "%s", err.msg);
    infer_free(st);
    return out;
}

static double max_abs(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

static void check_model(Model *m) {
    int V = m->cfg.vocab;
    Err err = {0};
    Rng r;
    rng_seed(&r, 11);
    int32_t A[10], B[5], C[13];
    for (int i = 0; i < 10; i++) A[i] = 1 + (int32_t)(rng_next(&r) % (uint64_t)(V - 1));
    for (int i = 0; i < 5; i++) B[i] = 1 + (int32_t)(rng_next(&r) % (uint64_t)(V - 1));
    for (int i = 0; i < 13; i++) C[i] = 1 + (int32_t)(rng_next(&r) % (uint64_t)(V - 1));
    Lora *ad[2] = {random_adapter(m, 4, 1), random_adapter(m, 2, 2)};
    REQUIRE(ad[0] && ad[1]);
    float *ref_a = alone(m, A, 10, ad[0]), *ref_b = alone(m, B, 5, ad[1]), *ref_c = alone(m, C, 13, NULL);

    Forward *f;
    KvCache *kv;
    REQUIRE(forward_new(m, 32, 64, 2, &f, &err) == 0);
    REQUIRE(kv_cache_new(m, 4, 64, &kv, &err) == 0);
    int sa = kv_slot_alloc(kv), sb = kv_slot_alloc(kv), sc = kv_slot_alloc(kv), sd = kv_slot_alloc(kv);
    const Lora *const adapters[2] = {ad[0], ad[1]};
    /* 1: the prefixes of A (7 tokens, adapter 0) and C (12 tokens, base) in one batch, no logits */
    int32_t tok[32], pos[32], seq[32], which[32];
    uint8_t want[32] = {0};
    int n = 0;
    for (int i = 0; i < 7; i++) tok[n] = A[i], pos[n] = i, seq[n] = sa, which[n++] = 0;
    for (int i = 0; i < 12; i++) tok[n] = C[i], pos[n] = i, seq[n] = sc, which[n++] = -1;
    FwdBatch b1 = {n, tok, pos, seq, which, want, 0};
    REQUIRE(forward_batch(f, kv, &b1, adapters, 2, NULL, &err) == 0);
    CHECK_EQ_INT(kv_slot_len(kv, sa), 7);
    CHECK_EQ_INT(kv_slot_len(kv, sc), 12);
    /* 2: A continues (3 rows, adapter 0), B starts (5 rows, adapter 1), C decodes one row (base) */
    n = 0;
    for (int i = 7; i < 10; i++) tok[n] = A[i], pos[n] = i, seq[n] = sa, which[n] = 0, want[n++] = 1;
    for (int i = 0; i < 5; i++) tok[n] = B[i], pos[n] = i, seq[n] = sb, which[n] = 1, want[n++] = 1;
    tok[n] = C[12], pos[n] = 12, seq[n] = sc, which[n] = -1, want[n++] = 1;
    float *got = malloc((size_t)n * V * sizeof(float));
    FwdBatch b2 = {n, tok, pos, seq, which, want, 0};
    REQUIRE(forward_batch(f, kv, &b2, adapters, 2, got, &err) == 0);
    double scale = max_abs(ref_a, (size_t)10 * V), worst = 0;
    for (int i = 0; i < 3; i++)
        for (int v = 0; v < V; v++) worst = fmax(worst, fabs(got[(size_t)i * V + v] - ref_a[(size_t)(7 + i) * V + v]));
    for (int i = 0; i < 5; i++)
        for (int v = 0; v < V; v++) worst = fmax(worst, fabs(got[(size_t)(3 + i) * V + v] - ref_b[(size_t)i * V + v]));
    for (int v = 0; v < V; v++) worst = fmax(worst, fabs(got[(size_t)8 * V + v] - ref_c[(size_t)12 * V + v]));
    printf("    %s: 9 rows of 3 sequences and 2 adapters, worst |batch - alone| %.2g (max logit %.3g)\n", m->path,
           worst, scale);
    CHECK(worst <= 1e-5 * scale);
    /* the adapters matter: A's rows differ from the base model's */
    float *base_a = alone(m, A, 10, NULL);
    CHECK(fabs(base_a[(size_t)9 * V] - ref_a[(size_t)9 * V]) > 1e-4 * scale ||
          fabs(base_a[(size_t)9 * V + 1] - ref_a[(size_t)9 * V + 1]) > 1e-4 * scale);
    /* 3: a fork of C's first 12 positions decodes C's last token to the same logits */
    REQUIRE(kv_slot_fork(kv, sc, sd, 12, &err) == 0);
    int32_t t1 = C[12], p1 = 12, s1 = sd;
    uint8_t w1 = 1;
    FwdBatch b3 = {1, &t1, &p1, &s1, NULL, &w1, 0};
    REQUIRE(forward_batch(f, kv, &b3, adapters, 2, got, &err) == 0);
    worst = 0;
    for (int v = 0; v < V; v++) worst = fmax(worst, fabs(got[v] - ref_c[(size_t)12 * V + v]));
    CHECK(worst <= 1e-5 * scale);
    /* refused, with the cache untouched: a gap after the cached positions, a free slot, a bad adapter */
    p1 = 20;
    CHECK(forward_batch(f, kv, &b3, adapters, 2, got, &err) != 0 && strstr(err.msg, "gap"));
    kv_slot_free(kv, sb);
    p1 = 5, s1 = sb;
    CHECK(forward_batch(f, kv, &b3, adapters, 2, got, &err) != 0 && strstr(err.msg, "not allocated"));
    int32_t bad = 2;
    s1 = sa, p1 = 10;
    FwdBatch b4 = {1, &t1, &p1, &s1, &bad, &w1, 0};
    CHECK(forward_batch(f, kv, &b4, adapters, 2, got, &err) != 0 && strstr(err.msg, "adapter"));
    CHECK_EQ_INT(kv_slot_len(kv, sa), 10);
    free(got);
    free(base_a);
    free(ref_a), free(ref_b), free(ref_c);
    forward_free(f);
    kv_cache_free(kv);
    lora_free(ad[0]), lora_free(ad[1]);
}

TEST(forward_batch_rows_match_sequences_alone_stories260k) {
    Model *m = test_load_stories260k();
    if (!m) return;
    check_model(m);
    model_free(m);
}

TEST(forward_batch_rows_match_sequences_alone_tiny_qwen2) {
    if (!file_is_dir("models/tiny-qwen2")) { test_skip("models/tiny-qwen2 not written"); return; }
    Model *m;
    Err err = {0};
    REQUIRE(model_load("models/tiny-qwen2", &m, &err) == 0);
    check_model(m);
    model_free(m);
}

/* lora_apply_rows gives each row the same bits in blocks of any size, with the transposed B of an
 * adapter loaded for inference or without it, and a row alone (lora_apply_row) the same again; the
 * sums agree with lora_apply's matrix products (training's) to rounding. */
TEST(lora_rows_transposed_and_batched_agree_bitwise) {
    Model *m = test_load_stories260k();
    if (!m) return;
    Lora *a = random_adapter(m, 4, 5);
    REQUIRE(a);
    const LoraPair *p = lora_pair(a, 0, LORA_GATE);
    int K = p->in, N = p->out, T = 7;
    float *x = malloc(sizeof(float) * T * K), *y1 = calloc((size_t)T * N, sizeof(float)),
          *y2 = calloc((size_t)T * N, sizeof(float)), *y3 = calloc((size_t)N, sizeof(float));
    Rng r;
    rng_seed(&r, 3);
    for (int i = 0; i < T * K; i++) x[i] = rng_uniform(&r) - 0.5f;
    for (int t = 0; t < T; t++) lora_apply_row(y1 + (size_t)t * N, x + (size_t)t * K, p, a->scale);
    Err err = {0};
    REQUIRE(lora_prepare_rows(a, &err) == 0);
    int rows[] = {6, 0, 5, 1, 4, 2, 3}; /* blocks of 4 and 3, out of order */
    lora_apply_rows(y2, x, rows, T, lora_pair(a, 0, LORA_GATE), a->scale);
    lora_apply_row(y3, x + (size_t)(T - 1) * K, lora_pair(a, 0, LORA_GATE), a->scale);
    /* against the sums in double: each within (K + r + 2) eps of the sum of its terms' magnitudes */
    int R = p->rank, bad = 0;
    for (int t = 0; t < T; t++) {
        double u[64], ua[64];
        for (int i = 0; i < R; i++) {
            u[i] = ua[i] = 0;
            for (int k = 0; k < K; k++)
                u[i] += (double)p->A[(size_t)i * K + k] * x[(size_t)t * K + k],
                    ua[i] += fabs((double)p->A[(size_t)i * K + k] * x[(size_t)t * K + k]);
        }
        for (int o = 0; o < N; o++) {
            double s = 0, sa = 0;
            for (int i = 0; i < R; i++) s += p->B[(size_t)o * R + i] * u[i], sa += fabs((double)p->B[(size_t)o * R + i]) * ua[i];
            s *= a->scale, sa *= fabs(a->scale);
            bad += fabs(s - y2[(size_t)t * N + o]) > (K + R + 2) * FLT_EPSILON * sa;
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(memcmp(y1, y2, sizeof(float) * T * N) == 0);
    CHECK(memcmp(y3, y2 + (size_t)(T - 1) * N, sizeof(float) * N) == 0);
    CHECK(y1[0] != 0.0f);
    free(x), free(y1), free(y2), free(y3);
    lora_free(a);
    model_free(m);
}
