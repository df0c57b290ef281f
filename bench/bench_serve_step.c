/* bench_serve_step.c: one step of the serving scheduler at volume, without HTTP or sampling noise:
 * forward_batch over the rows a step of `ftune serve` carries under many short requests (issue 13),
 * on the model as the server holds it (bf16 weights laid out in AMX tiles where the CPU has them,
 * else its precision). The batch: `decode` sequences generating one token each, and `runs` prompts
 * of `rows` new tokens each after a shared prefix of `prefix` cached tokens (the system message),
 * every slot holding prefix + rows + 2 positions before timing. Prints the milliseconds of a step
 * (best and median of reps, wall time on the given threads, and CPU time on 1 thread, which a busy
 * machine disturbs less) and rows/s. Usage: bench_serve_step MODEL [threads] [reps] [runs] [rows]
 * [decode] [prefix] [precision: auto (default), fp32, bf16]; defaults 2 15 7 20 24 26, about what a
 * step carries at 32 triage clients (support-triage's system message is about 26 tokens with the
 * chat template's, a ticket and its template about 20). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "model/forward.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "tensor/precision.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const Err *err) {
    fprintf(stderr, "bench_serve_step: %s\n", err->msg);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_serve_step MODEL [threads] [reps] [runs] [rows] [decode] [prefix] [precision]\n");
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 2, reps = argc > 3 ? atoi(argv[3]) : 15;
    int runs = argc > 4 ? atoi(argv[4]) : 7, rows = argc > 5 ? atoi(argv[5]) : 20;
    int decode = argc > 6 ? atoi(argv[6]) : 24, prefix = argc > 7 ? atoi(argv[7]) : 26;
    int n = runs * rows + decode, slots = runs + decode, ctx = prefix + rows + 2;
    if (threads < 1 || reps < 1 || runs < 0 || rows < 1 || decode < 0 || prefix < 0 || n < 1 || n > 4096) {
        fprintf(stderr, "bench_serve_step: arguments out of range\n");
        return 2;
    }
    Err err = {0};
    Model *m;
    Precision prec = PRECISION_AUTO;
    char why[PRECISION_WHY_MAX] = "";
    if ((argc > 8 && precision_parse(argv[8], &prec, &err)) || model_load(argv[1], &m, &err) ||
        model_set_precision(m, prec, why, &err) || model_lay_out_tiles(m, &err))
        die(&err);
    int vocab = m->cfg.vocab, max_rows = n > ctx ? n : ctx;
    Forward *f;
    KvCache *kv;
    if (forward_new(m, max_rows, ctx, threads, &f, &err) || kv_cache_new(m, slots, ctx, &kv, &err)) die(&err);
    int32_t *tok = malloc(sizeof(int32_t) * 3 * max_rows), *pos = tok + max_rows, *seq = pos + max_rows;
    uint8_t *want = malloc((size_t)max_rows);
    float *logits = malloc(sizeof(float) * (size_t)max_rows * vocab);
    /* every slot filled to ctx - 1 positions, a prompt at a time */
    for (int s = 0; s < slots; s++) {
        if (kv_slot_alloc(kv) != s || kv_slot_reserve(kv, s, ctx, &err)) die(&err);
        for (int i = 0; i < ctx - 1; i++) tok[i] = (int32_t)((i * 7919 + s * 104729) % vocab), pos[i] = i, seq[i] = s;
        FwdBatch b = {ctx - 1, tok, pos, seq, NULL, NULL, 0};
        if (forward_batch(f, kv, &b, NULL, 0, logits, &err)) die(&err);
    }
    /* the step: decode rows first (forward.h), then each prompt's rows after the prefix; logits for
     * every decode row and the last row of each prompt, as the scheduler asks */
    int k = 0;
    for (int s = 0; s < decode; s++, k++)
        tok[k] = (int32_t)((s * 31 + 5) % vocab), pos[k] = ctx - 1, seq[k] = runs + s, want[k] = 1;
    for (int r = 0; r < runs; r++)
        for (int i = 0; i < rows; i++, k++)
            tok[k] = (int32_t)((r * 131 + i * 17) % vocab), pos[k] = prefix + i, seq[k] = r, want[k] = i == rows - 1;
    FwdBatch step = {n, tok, pos, seq, NULL, want, decode};
    double *wall = malloc(sizeof(double) * reps), cpu_best = 1e30;
    forward_set_threads(f, 1);
    for (int r = 0; r < 3; r++) { /* CPU time on 1 thread: best of 3 */
        double t0 = clock_cpu_s();
        if (forward_batch(f, kv, &step, NULL, 0, logits, &err)) die(&err);
        double t = clock_cpu_s() - t0;
        if (t < cpu_best) cpu_best = t;
    }
    forward_set_threads(f, threads);
    if (forward_batch(f, kv, &step, NULL, 0, logits, &err)) die(&err); /* warm-up */
    for (int r = 0; r < reps; r++) {
        double t0 = clock_now_s();
        if (forward_batch(f, kv, &step, NULL, 0, logits, &err)) die(&err);
        wall[r] = clock_now_s() - t0;
    }
    qsort(wall, (size_t)reps, sizeof *wall, cmp_double);
    printf("# serve step: %s, precision %s%s; %d prompts x %d rows after %d cached + %d decode rows = %d rows; %d threads\n",
           argv[1], why, m->tiles ? ", weights in AMX tiles" : "", runs, rows, prefix, decode, n, threads);
    printf("| wall ms best | wall ms median | rows/s (median) | cpu ms, 1 thread |\n|---:|---:|---:|---:|\n");
    printf("| %.2f | %.2f | %.0f | %.2f |\n", wall[0] * 1e3, wall[reps / 2] * 1e3, n / wall[reps / 2], cpu_best * 1e3);
    free(wall), free(logits), free(want), free(tok);
    kv_cache_free(kv);
    forward_free(f);
    model_free(m);
    return 0;
}
