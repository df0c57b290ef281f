/* bench_infer.c: inference speed of ftune on one model: load time, prefill tokens/s for a prompt
 * of N tokens, decode tokens/s for M new tokens at batch 1 (greedy), peak RSS, and the sgemm rate
 * of this machine at the prefill's matrix shapes, so prefill can be stated as a fraction of it.
 * Prints one JSON object. Usage: bench_infer MODEL [threads] [prompt_tokens] [decode_tokens]
 * [precision: fp32 (default), bf16, auto]; load_s includes making the bf16 weights. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "core/clock.h"
#include "core/rng.h"
#include "model/infer.h"
#include "model/sampler.h"
#include "tensor/ops.h"

/* GFLOP/s of y (T, N) = x (T, K) W^T at the model's MLP shape, best of several runs. */
static double sgemm_gflops(int T, int K, int N) {
    float *x = calloc((size_t)T * K, 4), *w = calloc((size_t)N * K, 4), *y = calloc((size_t)T * N, 4);
    for (size_t i = 0; i < (size_t)N * K; i++) w[i] = (float)(i % 7) * 0.01f;
    for (size_t i = 0; i < (size_t)T * K; i++) x[i] = (float)(i % 5) * 0.01f;
    double best = 1e9;
    for (int r = 0; r < 10; r++) {
        double t0 = clock_now_s();
        op_linear(y, x, w, NULL, T, K, N);
        double dt = clock_now_s() - t0;
        if (dt < best) best = dt;
    }
    free(x), free(w), free(y);
    return 2.0 * T * K * N / best / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_infer MODEL [threads] [prompt_tokens] [decode_tokens] [fp32|bf16|auto]\n");
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 2, n_prompt = argc > 3 ? atoi(argv[3]) : 512,
        n_decode = argc > 4 ? atoi(argv[4]) : 128;
    Err err = {0};
    double t0 = clock_now_s();
    Model *m;
    Precision prec = PRECISION_FP32;
    char why[PRECISION_WHY_MAX] = "";
    if ((argc > 5 && precision_parse(argv[5], &prec, &err)) || model_load(argv[1], &m, &err) ||
        model_set_precision(m, prec, why, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double load_s = clock_now_s() - t0;
    InferState *st;
    if (infer_new(m, n_prompt + n_decode + 1, threads, &st, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    Rng rng;
    rng_seed(&rng, 1);
    int32_t *ids = malloc(n_prompt * sizeof(int32_t));
    for (int i = 0; i < n_prompt; i++) ids[i] = 100 + (int32_t)(rng_next(&rng) % (uint64_t)(m->cfg.vocab - 200));
    /* warm-up: page in weights and spin up threads */
    infer_forward(st, ids, 16, NULL, &err);
    double prefill_best = 1e9, decode_best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        infer_reset(st);
        t0 = clock_now_s();
        if (infer_forward(st, ids, n_prompt, NULL, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double dt = clock_now_s() - t0;
        if (dt < prefill_best) prefill_best = dt;
        t0 = clock_now_s();
        for (int i = 0; i < n_decode; i++) {
            int32_t next = sampler_argmax(st->logits, m->cfg.vocab);
            infer_step(st, next, &err); /* a generated token: a decode row, as generate() runs it */
        }
        dt = clock_now_s() - t0;
        if (dt < decode_best) decode_best = dt;
    }
    const ModelConfig *c = &m->cfg;
    double linear_params = (double)c->n_layer * ((double)c->dim * c->head_dim * (2 * c->n_head + 2 * c->n_kv_head) +
                                                 3.0 * c->dim * c->ffn_dim) +
                           (double)c->vocab * c->dim / n_prompt; /* the head runs on the last token only */
    double prefill_gflops = 2.0 * linear_params * n_prompt / prefill_best / 1e9;
    double peak_sgemm = sgemm_gflops(n_prompt < INFER_MAX_CHUNK ? n_prompt : INFER_MAX_CHUNK, c->dim, c->ffn_dim);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"engine\": \"ftune\", \"precision\": \"%s\", \"model\": \"%s\", \"threads\": %d, \"load_s\": %.3f, "
           "\"prefill_tokens\": %d, \"prefill_tok_s\": %.1f, \"decode_tokens\": %d, \"decode_tok_s\": %.1f, "
           "\"peak_rss_mib\": %.0f, \"prefill_gflops\": %.1f, \"sgemm_gflops\": %.1f, \"prefill_fraction_of_sgemm\": %.2f}\n",
           why, argv[1], threads, load_s, n_prompt, n_prompt / prefill_best, n_decode, n_decode / decode_best,
           ru.ru_maxrss / 1024.0, prefill_gflops, peak_sgemm, prefill_gflops / peak_sgemm);
    free(ids);
    infer_free(st);
    model_free(m);
    return 0;
}
