/* bench_lora_rows.c: inference's LoRA terms over every adapted projection of a model, for n rows
 * spread round-robin over A random rank-R adapters (every projection adapted, as ftune trains by
 * default): each row alone (lora_apply_row) against the rows of one adapter in blocks
 * (lora_apply_rows, what a step runs). Prints the milliseconds of one pass as 1-thread CPU time.
 * Usage: bench_lora_rows MODEL [rows] [adapters] [rank] [reps] */
#include <stdio.h>
#include <stdlib.h>

#include "core/clock.h"
#include "core/rng.h"
#include "model/lora.h"
#include "model/model.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_lora_rows MODEL [rows] [adapters] [rank] [reps]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 32, n_ad = argc > 3 ? atoi(argv[3]) : 3, rank = argc > 4 ? atoi(argv[4]) : 8;
    int reps = argc > 5 ? atoi(argv[5]) : 5;
    if (n < 1 || n_ad < 1 || n_ad > 16 || rank < 1) return 2;
    Err err = {0};
    Model *m;
    if (model_load(argv[1], &m, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    Lora *ad[16];
    Rng r;
    rng_seed(&r, 1);
    LoraConfig cfg = {rank, 2.0f * rank, 0.0f, LORA_ALL_TARGETS};
    for (int a = 0; a < n_ad; a++) {
        if (lora_new(m, &cfg, &ad[a], &err)) return fprintf(stderr, "%s\n", err.msg), 1;
        for (size_t i = 0; i < ad[a]->n_params; i++) ad[a]->params[i] = (rng_uniform(&r) - 0.5f) * 0.02f;
        if (lora_prepare_rows(ad[a], &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    }
    int wide = m->cfg.dim > m->cfg.ffn_dim ? m->cfg.dim : m->cfg.ffn_dim;
    if (m->cfg.n_head * m->cfg.head_dim > wide) wide = m->cfg.n_head * m->cfg.head_dim;
    float *x = malloc(sizeof(float) * n * wide), *y = calloc((size_t)n * wide, sizeof(float));
    for (size_t i = 0; i < (size_t)n * wide; i++) x[i] = rng_uniform(&r) - 0.5f;
    int *rows = malloc(sizeof(int) * n), n_pairs = m->cfg.n_layer * LORA_N_TARGETS;
    double best_row = 1e9, best_block = 1e9;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = clock_cpu_s();
        for (int i = 0; i < n_pairs; i++)
            for (int t = 0; t < n; t++) {
                const LoraPair *p = &ad[t % n_ad]->pairs[i];
                if (p->A) lora_apply_row(y + (size_t)t * p->out, x + (size_t)t * p->in, p, 1.0f);
            }
        double t1 = clock_cpu_s();
        for (int i = 0; i < n_pairs; i++)
            for (int a = 0; a < n_ad; a++) {
                int k = 0;
                for (int t = a; t < n; t += n_ad) rows[k++] = t;
                lora_apply_rows(y, x, rows, k, &ad[a]->pairs[i], 1.0f);
            }
        double t2 = clock_cpu_s();
        if (t1 - t0 < best_row) best_row = t1 - t0;
        if (t2 - t1 < best_block) best_block = t2 - t1;
    }
    printf("# %s: %d rows over %d rank-%d adapters, %d adapted projections; 1-thread CPU ms a pass\n", argv[1], n, n_ad,
           rank, n_pairs);
    printf("row by row %.2f ms, in blocks of %d rows of one adapter %.2f ms (%.2fx)\n", best_row * 1e3, LORA_ROW_BLOCK,
           best_block * 1e3, best_row / best_block);
    free(x), free(y), free(rows);
    for (int a = 0; a < n_ad; a++) lora_free(ad[a]);
    model_free(m);
    return 0;
}
