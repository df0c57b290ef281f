/* bench_train.c: LoRA training speed of ftune: rank 8, alpha 16 on all seven projections of a
 * model, batch 8 x 128 random tokens with the loss on every position, one AdamW step per batch.
 * Reports training tokens/s (best and median of 5 steps after 2 warm-up steps), the process's CPU
 * seconds per timed step (user + system over all threads: on a machine others load too, wall time
 * swings with their load while the CPU time of a 1-thread run stays put), peak RSS, this
 * machine's sgemm rate and the model FLOPs utilisation (4N: forward + input gradients, as frozen
 * base weights need no weight gradients; 6N: the usual estimate). One JSON object, the same
 * fields as bench/torch_train_bench.py prints, for a side-by-side run.
 * Usage: bench_train MODEL [threads] [tokens per packed pass] [precision: fp32 (default), bf16,
 * auto]; FTUNE_BENCH_STEPS=N times N < 5 steps (big models); FTUNE_BENCH_TARGETS=q_proj,... adapts
 * those projections only (what LoRA on all seven costs, side by side). The MFU fields are always
 * against the fp32 sgemm rate. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/clock.h"
#include "core/rng.h"
#include "tensor/ops.h"
#include "train/adamw.h"
#include "train/train_step.h"

#define BATCH 8
#define SEQ 128
#define WARMUP 2
#define TIMED_MAX 5

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double sgemm_gflops(int T, int K, int N) {
    float *x = calloc((size_t)T * K, 4), *w = calloc((size_t)N * K, 4), *y = calloc((size_t)T * N, 4);
    double best = 1e9;
    for (int r = 0; r < 10; r++) {
        double t0 = clock_now_s();
        op_linear(y, x, w, NULL, T, K, N);
        double dt = clock_now_s() - t0;
        best = dt < best ? dt : best;
    }
    free(x), free(w), free(y);
    return 2.0 * T * K * N / best / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_train MODEL [threads] [tokens per packed pass] [fp32|bf16|auto]\n");
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    int pack_rows = argc > 3 ? atoi(argv[3]) : TRAIN_PACK_ROWS;
    omp_set_num_threads(threads);
    Err err = {0};
    Model *m;
    Lora *lora;
    TrainState *ts;
    LoraConfig lc = {8, 16.0f, 0.0f, LORA_ALL_TARGETS};
    const char *targets_env = getenv("FTUNE_BENCH_TARGETS"); /* e.g. "q_proj": what LoRA on all costs */
    Precision prec = PRECISION_FP32;
    char why[PRECISION_WHY_MAX] = "";
    if ((argc > 4 && precision_parse(argv[4], &prec, &err)) ||
        (targets_env && lora_parse_targets(targets_env, &lc.targets, &err)) || model_load(argv[1], &m, &err) ||
        model_set_precision(m, prec, why, &err) || lora_new(m, &lc, &lora, &err) ||
        train_state_new(m, lora, SEQ, pack_rows, &ts, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    lora_init(lora, 1);
    Rng r;
    rng_seed(&r, 2);
    int32_t ids[BATCH][SEQ];
    uint8_t mask[SEQ];
    memset(mask, 1, SEQ);
    for (int b = 0; b < BATCH; b++)
        for (int t = 0; t < SEQ; t++) ids[b][t] = (int32_t)(rng_next(&r) % (uint64_t)m->cfg.vocab);
    AdamWConfig adam = {1e-4f, 0.9f, 0.999f, 1e-8f, 0.0f, 1.0f};
    const char *steps_env = getenv("FTUNE_BENCH_STEPS"); /* fewer timed steps on big models */
    int TIMED = steps_env && atoi(steps_env) > 0 && atoi(steps_env) <= TIMED_MAX ? atoi(steps_env) : TIMED_MAX;
    double times[TIMED_MAX], cpu0 = 0;
    for (int step = 0; step < WARMUP + TIMED; step++) {
        double t0 = clock_now_s();
        StepStats st = {0};
        TrainSeq seqs[BATCH];
        for (int b = 0; b < BATCH; b++) seqs[b] = (TrainSeq){ids[b], mask, SEQ, 0};
        if (train_batch(ts, seqs, BATCH, 1.0f / (BATCH * (SEQ - 1)), true, &st, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        adamw_clip_grads(lora, adam.clip_norm);
        adamw_step(lora, &adam, adam.lr, step + 1);
        if (step >= WARMUP) times[step - WARMUP] = clock_now_s() - t0;
        if (step == WARMUP - 1) cpu0 = clock_cpu_s();
    }
    double cpu_step = (clock_cpu_s() - cpu0) / TIMED;
    qsort(times, TIMED, sizeof(double), cmp_double);
    const ModelConfig *c = &m->cfg;
    double n_matmul = (double)c->n_layer * ((double)c->dim * c->head_dim * (2 * c->n_head + 2 * c->n_kv_head) +
                                            3.0 * c->dim * c->ffn_dim) +
                      (double)c->vocab * c->dim;
    double tok_s = BATCH * SEQ / times[0], gemm = sgemm_gflops(SEQ, c->dim, c->ffn_dim),
           gemm_big = sgemm_gflops(BATCH * SEQ, c->dim, c->ffn_dim);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"engine\": \"ftune\", \"precision\": \"%s\", \"threads\": %d, \"pack_rows\": %d, \"batch\": %d, \"seq\": %d, \"step_s_best\": %.3f, "
           "\"step_s_median\": %.3f, \"cpu_s_per_step\": %.3f, \"tokens_per_s\": %.1f, \"peak_rss_mib\": %.0f, \"sgemm_gflops_128\": %.1f, "
           "\"sgemm_gflops_1024\": %.1f, \"mfu_4n\": %.3f, \"mfu_6n\": %.3f}\n",
           why, threads, pack_rows, BATCH, SEQ, times[0], times[TIMED / 2], cpu_step, tok_s, ru.ru_maxrss / 1024.0, gemm, gemm_big,
           4 * n_matmul * tok_s / (gemm_big * 1e9), 6 * n_matmul * tok_s / (gemm_big * 1e9));
    train_state_free(ts);
    lora_free(lora);
    model_free(m);
    return 0;
}
