/* bench_attention_train.c: the attention of training (op_attention_save + op_attention_backward,
 * attention_train.h) on every path this CPU runs, for S sequences of T rows through L layers, as
 * train_step.c calls it (SmolLM2-135M's batch 8 x 128 by default). Prints each path's CPU time
 * (robust to a busy machine) of one step's forward and backward, and the GFLOP/s of the products
 * below the causal diagonal (the work the kernels do). With threads > 1 (one sequence split among
 * them, as a pass of a single sequence runs) it prints wall time instead. Usage:
 * bench_attention_train [reps] [T S n_head n_kv hd layers threads] (defaults 5 128 8 9 3 64 30 1). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/clock.h"
#include "tensor/attention_train.h"

static float *filled(size_t n, unsigned mul) {
    float *x = malloc(n * sizeof(float));
    if (x)
        for (size_t i = 0; i < n; i++) x[i] = (float)((i * mul) % 1000) / 1000.0f - 0.5f;
    return x;
}

int main(int argc, char **argv) {
    int a[8] = {5, 128, 8, 9, 3, 64, 30, 1};
    for (int i = 1; i < argc && i <= 8; i++) a[i - 1] = atoi(argv[i]);
    int reps = a[0], T = a[1], S = a[2], nh = a[3], nkv = a[4], hd = a[5], layers = a[6], threads = a[7];
    if (reps < 1 || T < 1 || S < 1 || nh < 1 || nkv < 1 || nh % nkv || hd < 1 || layers < 1 || threads < 1) {
        fprintf(stderr, "usage: bench_attention_train [reps] [T S n_head n_kv hd layers threads]\n");
        return 2;
    }
    omp_set_num_threads(threads);
    double (*clock)(void) = threads > 1 ? omp_get_wtime : clock_cpu_s;
    size_t qn = (size_t)T * nh * hd, kn = (size_t)T * nkv * hd, pn = (size_t)nh * T * T;
    float *q = filled(qn, 69069u), *k = filled(kn, 2654435761u), *v = filled(kn, 40503u),
          *dout = filled(qn, 1103515245u);
    float *out = malloc(qn * sizeof(float)), *probs = malloc(pn * sizeof(float)), *dq = malloc(qn * sizeof(float));
    float *dk = malloc(kn * sizeof(float)), *dv = malloc(kn * sizeof(float));
    float *scratch = malloc(attention_train_scratch(T, nh, nkv) * sizeof(float));
    if (!q || !k || !v || !dout || !out || !probs || !dq || !dk || !dv || !scratch) return 1;
    /* the products below the diagonal: 2 forward, 4 backward, each nh * hd * T(T+1)/2 multiply-adds */
    double flop = 2.0 * nh * hd * (T * (T + 1.0) / 2) * S * layers;
    printf("# training attention of one step: %d sequences of %d rows, %d layers; %d heads, %d kv heads, head %d; "
           "%d thread(s), %s, best of %d\n", S, T, layers, nh, nkv, hd, threads, threads > 1 ? "wall time" : "CPU time",
           reps);
    for (int p = ATTENTION_PORTABLE; p <= ATTENTION_AVX512; p++) {
        if (!attention_train_path_ok((AttentionPath)p, T, hd)) {
            printf("%-8s skipped (not on this CPU or shape)\n", attention_train_path_name((AttentionPath)p));
            continue;
        }
        double best_f = 1e9, best_b = 1e9;
        for (int r = 0; r < reps + 1; r++) {
            double f = 0, b = 0;
            for (int i = 0; i < S * layers; i++) {
                double t0 = clock();
                attention_train_forward((AttentionPath)p, out, probs, q, k, v, T, nh, nkv, hd);
                double t1 = clock();
                attention_train_backward((AttentionPath)p, dq, dk, dv, dout, probs, q, k, v, T, nh, nkv, hd, scratch);
                f += t1 - t0, b += clock() - t1;
            }
            if (r && f < best_f) best_f = f;
            if (r && b < best_b) best_b = b;
        }
        printf("%-8s forward %.1f ms (%.0f GFLOP/s)  backward %.1f ms (%.0f GFLOP/s)  total %.1f ms\n",
               attention_train_path_name((AttentionPath)p), best_f * 1e3, 2 * flop / best_f * 1e-9, best_b * 1e3,
               4 * flop / best_b * 1e-9, (best_f + best_b) * 1e3);
    }
    free(q), free(k), free(v), free(dout), free(out), free(probs), free(dq), free(dk), free(dv), free(scratch);
    return 0;
}
