/* bench_decode_rows.c: inference's products (op_matmul_inference) over every weight matrix of a
 * model: n = 1, 2, 4, 8, 16, 32 decode rows at once, what one step of the scheduler pays for n
 * generating sequences without attention or sampling; with "prompt", n = 16 .. 512 prompt rows. Prints per n the milliseconds of one pass over the model
 * and rows/s, as CPU time on 1 thread (robust to a busy machine) and as wall time on the given
 * threads. "tiles" lays the matrices out in the AMX kernel's tiles first (model_lay_out_tiles, as
 * the server does). Usage: bench_decode_rows MODEL [fp32|bf16|auto] [threads] [reps] [decode|prompt]
 * [tiles] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "model/arch.h"
#include "model/model.h"
#include "tensor/matmul.h"

typedef struct {
    Model *m;
    const QuantMatrix *mats[1024];
    int n;
} Mats;

static int collect(void *ctx, const ArchWeight *w, int layer) {
    Mats *s = ctx;
    const QuantMatrix *q = model_matrix(s->m, w, layer);
    /* the products a step runs: not the embeddings (a row lookup), and the head below */
    if (q && w->role != W_TOK_EMBD && w->role != W_OUTPUT && s->n < 1024) s->mats[s->n++] = q;
    return 0;
}

/* seconds of one pass of n rows over every matrix: best of reps, by clock */
static double pass_s(const Mats *s, float *x, float *y, int n, int reps, double (*clock)(void), bool prompt) {
    double best = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = clock();
        for (int i = 0; i < s->n; i++) op_matmul_inference(y, x, s->mats[i], NULL, n, prompt ? 0 : n);
        double dt = clock() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_decode_rows MODEL [fp32|bf16|auto] [threads] [reps] [decode|prompt] [tiles]\n");
        return 2;
    }
    Err err = {0};
    Model *m;
    Precision prec = PRECISION_FP32;
    char why[PRECISION_WHY_MAX] = "";
    if ((argc > 2 && precision_parse(argv[2], &prec, &err)) || model_load(argv[1], &m, &err) ||
        model_set_precision(m, prec, why, &err) ||
        (argc > 6 && strcmp(argv[6], "tiles") == 0 && model_lay_out_tiles(m, &err))) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int threads = argc > 3 ? atoi(argv[3]) : 2, reps = argc > 4 ? atoi(argv[4]) : 5;
    bool prompt = argc > 5 && strcmp(argv[5], "prompt") == 0;
    Mats s = {.m = m};
    arch_visit_weights(arch_describe(m->cfg.arch), &m->cfg, collect, &s);
    s.mats[s.n++] = &m->output; /* the head, tied to the embeddings or not */
    int kmax = 0, nmax = 0;
    for (int i = 0; i < s.n; i++) {
        if (s.mats[i]->cols > kmax) kmax = s.mats[i]->cols;
        if (s.mats[i]->rows > nmax) nmax = s.mats[i]->rows;
    }
    int maxn = prompt ? 512 : 32;
    float *x = malloc((size_t)maxn * kmax * sizeof(float)), *y = malloc((size_t)maxn * nmax * sizeof(float));
    for (size_t i = 0; i < (size_t)maxn * kmax; i++) x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    printf("# %s rows, %s, precision %s%s, %d matrices; cpu: 1 thread CPU time, wall: %d threads\n",
           prompt ? "prompt" : "decode", argv[1], why, m->tiles ? ", weights in AMX tiles" : "", s.n, threads);
    printf("| rows | cpu ms/pass | cpu rows/s | wall ms/pass | wall rows/s |\n|---:|---:|---:|---:|---:|\n");
    int decode_ns[] = {1, 2, 4, 8, 16, 32}, prompt_ns[] = {16, 64, 128, 256, 512};
    for (size_t k = 0; k < (prompt ? 5 : 6); k++) {
        int n = prompt ? prompt_ns[k] : decode_ns[k];
        omp_set_num_threads(1);
        pass_s(&s, x, y, n, 1, clock_cpu_s, prompt);
        double c = pass_s(&s, x, y, n, reps, clock_cpu_s, prompt);
        omp_set_num_threads(threads);
        double w = pass_s(&s, x, y, n, reps, clock_now_s, prompt);
        printf("| %d | %.2f | %.0f | %.2f | %.0f |\n", n, c * 1e3, n / c, w * 1e3, n / w);
    }
    free(x), free(y);
    model_free(m);
    return 0;
}
