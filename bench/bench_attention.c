/* bench_attention.c: inference attention (op_attention) over the runs of one serving step, the
 * shape of `bench/serve_load.sh`'s 32 triage clients on SmolLM2-135M: P prompts of T new rows after
 * a cached prefix of S positions, and D decode rows at position S + T + 2, each run against its own
 * cache, as layer.c calls it, times the layers. Prints the milliseconds of one step's attention
 * (all layers) as 1-thread CPU time (robust to a busy machine) and as wall time on the given
 * threads. Usage: bench_attention [threads] [reps] [P T S D] [n_head n_kv hd layers]
 * (defaults 2 5 8 18 28 24 9 3 64 30). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/clock.h"
#include "tensor/ops.h"

int main(int argc, char **argv) {
    int a[10] = {2, 5, 8, 18, 28, 24, 9, 3, 64, 30};
    for (int i = 1; i < argc && i <= 10; i++) a[i - 1] = atoi(argv[i]);
    int threads = a[0], reps = a[1], P = a[2], T = a[3], S = a[4], D = a[5], nh = a[6], nkv = a[7], hd = a[8],
        layers = a[9];
    if (threads < 1 || reps < 1 || P < 0 || T < 1 || S < 0 || D < 0 || nh < 1 || nkv < 1 || nh % nkv || hd < 1 ||
        layers < 1) {
        fprintf(stderr, "usage: bench_attention [threads] [reps] [P T S D] [n_head n_kv hd layers]\n");
        return 2;
    }
    int runs = P + D, ctx = S + T + 3, qd = nh * hd, kvd = nkv * hd;
    float *k = malloc(sizeof(float) * (size_t)runs * ctx * kvd), *v = malloc(sizeof(float) * (size_t)runs * ctx * kvd);
    float *q = malloc(sizeof(float) * (size_t)T * qd), *o = malloc(sizeof(float) * (size_t)T * qd);
    float *scratch = malloc(sizeof(float) * (size_t)(threads > T ? threads : T) * nh * ctx);
    if (!k || !v || !q || !o || !scratch) return 1;
    for (size_t i = 0; i < (size_t)runs * ctx * kvd; i++)
        k[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f, v[i] = (float)((i * 40503u) % 1000) / 1000.0f - 0.5f;
    for (size_t i = 0; i < (size_t)T * qd; i++) q[i] = (float)((i * 69069u) % 1000) / 1000.0f - 0.5f;
    printf("# attention of one step: %d prompts of %d rows after %d cached, %d decode rows; %d heads, %d kv heads, "
           "head %d, %d layers\n", P, T, S, D, nh, nkv, hd, layers);
    for (int pass = 0; pass < 2; pass++) {
        omp_set_num_threads(pass ? threads : 1);
        double (*clock)(void) = pass ? clock_now_s : clock_cpu_s, best = 1e9;
        for (int r = 0; r < reps + 1; r++) {
            double t0 = clock();
            for (int l = 0; l < layers; l++)
                for (int s = 0; s < runs; s++) {
                    const float *kc = k + (size_t)s * ctx * kvd, *vc = v + (size_t)s * ctx * kvd;
                    if (s < P) op_attention(o, q, kc, vc, S, T, nh, nkv, hd, scratch);
                    else op_attention(o, q, kc, vc, S + T + 2, 1, nh, nkv, hd, scratch);
                }
            double dt = clock() - t0;
            if (r && dt < best) best = dt;
        }
        printf("%s: %.2f ms a step\n", pass ? "wall" : "cpu (1 thread)", best * 1e3);
    }
    free(k), free(v), free(q), free(o), free(scratch);
    return 0;
}
