/* bench_embed.c: sentence-embedding throughput of ftune's encoder (texts/s), for batches of 1, 2, 4,
 * ..., 256 texts taken in order from a file of one text per line, each batch size run for at least
 * MIN_SECONDS (whole passes over the texts, tokenization included, as ftune embed and
 * /v1/embeddings do it), at the encoder's default precision (auto) or the one named. One JSON line
 * per batch size: {"impl": "ftune", "batch", "precision", "texts_per_s", "texts_per_cpu_s"} (the
 * second per second of the process's CPU time, every thread's: less moved by other work on a shared
 * machine than wall time, though not immune to it). Naming batch sizes runs
 * only those (for profiling one shape). It asserts nothing (bench/, not tests/);
 * bench/embeddings.sh runs it beside sentence-transformers.
 * Usage: build/bench_embed MODEL_DIR TEXTS_FILE [THREADS [auto|fp32|bf16 [BATCH...]]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "ftune.h"

#define MAX_TEXTS 4096
#define MAX_BATCH 256
#define MIN_SECONDS 2.0

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_embed MODEL_DIR TEXTS_FILE [THREADS [auto|fp32|bf16 [BATCH...]]]\n");
        return 2;
    }
    int threads = argc > 3 ? atoi(argv[3]) : 0;
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        fprintf(stderr, "bench_embed: cannot open %s\n", argv[2]);
        return 2;
    }
    static char *texts[MAX_TEXTS];
    int n_texts = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while (n_texts < MAX_TEXTS && (got = getline(&line, &cap, f)) > 0) {
        while (got && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
        if (got) texts[n_texts++] = strdup(line);
    }
    free(line);
    fclose(f);
    FtError err = {0};
    FtEncoder *enc;
    if (!n_texts || ft_encoder_load(argv[1], &enc, &err)) {
        fprintf(stderr, "bench_embed: %s\n", n_texts ? err.msg : "no texts");
        return 2;
    }
    FtPrecision want = FT_PRECISION_AUTO;
    char why[FT_PRECISION_WHY_MAX];
    if ((argc > 4 && ft_precision_parse(argv[4], &want, &err)) || ft_encoder_set_precision(enc, want, why, &err)) {
        fprintf(stderr, "bench_embed: %s\n", err.msg);
        return 2;
    }
    fprintf(stderr, "bench_embed: precision %s\n", why);
    FtEncoderInfo info;
    ft_encoder_info(enc, &info);
    float *out = malloc((size_t)MAX_BATCH * info.dim * sizeof(float));
    int32_t *ids[MAX_BATCH];
    int n_ids[MAX_BATCH];
    int batches[16], n_batches = 0;
    for (int i = 5; i < argc && n_batches < 16; i++) {
        batches[n_batches] = atoi(argv[i]);
        if (batches[n_batches] < 1 || batches[n_batches] > MAX_BATCH) {
            fprintf(stderr, "bench_embed: batch %s is not 1..%d\n", argv[i], MAX_BATCH);
            return 2;
        }
        n_batches++;
    }
    if (!n_batches)
        for (int b = 1; b <= MAX_BATCH; b *= 2) batches[n_batches++] = b;
    for (int bi = 0; bi < n_batches; bi++) {
        int batch = batches[bi];
        long done = 0;
        double t0 = clock_now_s(), t = 0, c0 = clock_cpu_s();
        for (int next = 0; t < MIN_SECONDS; t = clock_now_s() - t0) {
            for (int i = 0; i < batch; i++, next = (next + 1) % n_texts)
                if (ft_encoder_tokenize(enc, texts[next], strlen(texts[next]), &ids[i], &n_ids[i], &err)) {
                    fprintf(stderr, "bench_embed: %s\n", err.msg);
                    return 1;
                }
            if (ft_encoder_embed(enc, (const int32_t *const *)ids, n_ids, batch, threads, out, &err)) {
                fprintf(stderr, "bench_embed: %s\n", err.msg);
                return 1;
            }
            for (int i = 0; i < batch; i++) ft_free(ids[i]);
            done += batch;
        }
        double cpu = clock_cpu_s() - c0;
        printf("{\"impl\": \"ftune\", \"batch\": %d, \"precision\": \"%s\", \"texts_per_s\": %.1f, \"texts_per_cpu_s\": %.1f}\n",
               batch, info.precision, done / t, done / cpu);
        fflush(stdout);
    }
    free(out);
    ft_encoder_free(enc);
    for (int i = 0; i < n_texts; i++) free(texts[i]);
    return 0;
}
