/* bench_embed.c: sentence-embedding throughput of ftune's encoder (texts/s), for batches of 1, 2, 4,
 * ..., 256 texts taken in order from a file of one text per line, each batch size run for at least
 * MIN_SECONDS (whole passes over the texts, tokenization included, as ftune embed and
 * /v1/embeddings do it). One JSON line per batch size: {"impl": "ftune", "batch", "texts_per_s"}.
 * It asserts nothing (bench/, not tests/); bench/embeddings.sh runs it beside sentence-transformers.
 * Usage: build/bench_embed MODEL_DIR TEXTS_FILE [THREADS] */
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
        fprintf(stderr, "usage: bench_embed MODEL_DIR TEXTS_FILE [THREADS]\n");
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
    FtEncoderInfo info;
    ft_encoder_info(enc, &info);
    float *out = malloc((size_t)MAX_BATCH * info.dim * sizeof(float));
    int32_t *ids[MAX_BATCH];
    int n_ids[MAX_BATCH];
    for (int batch = 1; batch <= MAX_BATCH; batch *= 2) {
        long done = 0;
        double t0 = clock_now_s(), t = 0;
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
        printf("{\"impl\": \"ftune\", \"batch\": %d, \"texts_per_s\": %.1f}\n", batch, done / t);
        fflush(stdout);
    }
    free(out);
    ft_encoder_free(enc);
    for (int i = 0; i < n_texts; i++) free(texts[i]);
    return 0;
}
