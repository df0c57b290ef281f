/* bench_search.c: vector store speed, on a temporary data directory: ingestion (chunks/s of real
 * text: static chunking at 800/400 tokens, embedding, storing with the FTS5 index) and search over
 * N stored chunks (queries/s: the query embedded, BM25 over the FTS5 index, the cosine of every
 * chunk in one sgemv, the fusion), with the store's matrix in memory (as the server keeps it
 * between searches) and read from the database on every query (the first search after a change),
 * and with the matrix in memory restricted by a filter to every other file (the allowed chunk ids
 * read with store_vs_chunks_where on each query, as a search with `filters` does).
 * The N chunks of the search part have random unit vectors and texts of random words (embedding
 * 100k real chunks would time the encoder, which the ingestion figure already does). One JSON line
 * per measure. It asserts nothing. Usage: build/bench_search MODEL_DIR [N_CHUNKS] [THREADS]
 * (default 100000 chunks, every core). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/rng.h"
#include "retrieval/retrieval.h"
#include "store/store.h"

#define QUERIES 50
#define INGEST_WORDS 60000 /* words of real-looking text ingested (about 150 chunks of 800 tokens) */
#define RANDOM_VOCAB 5000

/* store_vs_chunks_where's test for the filtered measure: the even files (file-0, file-2, ...). */
static bool even_file(const char *file_id, const char *attributes, void *user) {
    (void)attributes, (void)user;
    const char *dash = strrchr(file_id, '-');
    return dash && dash[1] >= '0' && dash[1] <= '9' && atoi(dash + 1) % 2 == 0;
}

static const char *const WORDS[] = {"my", "card", "was", "charged", "twice", "for", "the", "same", "order", "and",
                                    "I", "cannot", "log", "in", "since", "update", "please", "help", "refund",
                                    "password", "reset", "email", "never", "arrived", "app", "crashes", "when",
                                    "open", "transfer", "pending", "fee", "abroad", "exchange", "rate", "account"};
#define N_WORDS (sizeof WORDS / sizeof WORDS[0])

static char *text_of(Rng *r, int n_words, bool random_vocab) {
    char *t = malloc((size_t)n_words * 16 + 1);
    size_t m = 0;
    for (int i = 0; i < n_words; i++) {
        if (random_vocab) m += (size_t)sprintf(t + m, "w%llu ", (unsigned long long)(rng_next(r) % RANDOM_VOCAB));
        else m += (size_t)sprintf(t + m, "%s%s", WORDS[rng_next(r) % N_WORDS], i % 17 == 16 ? ".\n" : " ");
    }
    t[m] = 0;
    return t;
}

static void die(const char *what, const char *msg) {
    fprintf(stderr, "bench_search: %s: %s\n", what, msg);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_search MODEL_DIR [N_CHUNKS] [THREADS]\n");
        return 2;
    }
    int n_chunks = argc > 2 ? atoi(argv[2]) : 100000, threads = argc > 3 ? atoi(argv[3]) : 0;
    FtEncoder *enc;
    FtError fe = {0};
    if (ft_encoder_load(argv[1], &enc, &fe)) die("model", fe.msg);
    FtEncoderInfo info;
    ft_encoder_info(enc, &info);
    int dim = info.dim;
    char dir[] = "/tmp/ftune_bench_search_XXXXXX";
    if (!mkdtemp(dir)) die("mkdtemp", "failed");
    Store *s;
    Err err = {0};
    if (store_open(dir, NULL, &s, &err)) die("store", err.msg);
    Rng r;
    rng_seed(&r, 42);
    VectorStoreRecord v = {.created_at = 1, .last_active_at = 1};
    snprintf(v.id, sizeof v.id, "vs_bench");
    snprintf(v.project, sizeof v.project, "proj_default");
    snprintf(v.model, sizeof v.model, "bench");
    if (store_vs_create(s, &v, &err)) die("create", err.msg);

    /* ingestion: chunk, embed, store */
    char *text = text_of(&r, INGEST_WORDS, false);
    double t0 = clock_now_s();
    TextChunk *chunks;
    int n;
    if (retrieval_chunk(enc, text, strlen(text), RETRIEVAL_CHUNK_TOKENS, RETRIEVAL_CHUNK_OVERLAP, &chunks, &n, &err))
        die("chunk", err.msg);
    const int32_t **ids = malloc((size_t)n * sizeof *ids);
    int *n_ids = malloc((size_t)n * sizeof *n_ids);
    float *vecs = malloc((size_t)n * dim * sizeof *vecs);
    VectorChunkIn *rows = malloc((size_t)n * sizeof *rows);
    for (int i = 0; i < n; i++) {
        ids[i] = chunks[i].ids;
        n_ids[i] = chunks[i].n_ids;
        rows[i] = (VectorChunkIn){text + chunks[i].start, chunks[i].end - chunks[i].start, vecs + (size_t)i * dim};
    }
    if (retrieval_embed(enc, ids, n_ids, n, threads, vecs, &err)) die("embed", err.msg);
    VectorFileRecord f = {.created_at = 1, .chunk_max = 800, .chunk_overlap = 400};
    snprintf(f.store_id, sizeof f.store_id, "vs_bench");
    snprintf(f.file_id, sizeof f.file_id, "file-real");
    if (store_vs_file_add(s, &f, &err) || store_vs_file_finish(s, "vs_bench", "file-real", rows, n, dim, NULL, &err))
        die("store", err.msg);
    double t = clock_now_s() - t0;
    printf("{\"measure\": \"ingest\", \"chunks\": %d, \"tokens_per_chunk\": %d, \"chunks_per_s\": %.1f}\n", n,
           RETRIEVAL_CHUNK_TOKENS, n / t);
    fflush(stdout);
    retrieval_chunks_free(chunks, n);
    free(ids), free(n_ids), free(vecs), free(rows), free(text);

    /* n_chunks synthetic chunks, stored in files of 10000 */
    t0 = clock_now_s();
    for (int done = 0, file = 0; done < n_chunks; file++) {
        int m = n_chunks - done < 10000 ? n_chunks - done : 10000;
        float *sv = malloc((size_t)m * dim * sizeof *sv);
        VectorChunkIn *sr = malloc((size_t)m * sizeof *sr);
        char **texts = malloc((size_t)m * sizeof *texts);
        for (int i = 0; i < m; i++) {
            double ss = 0;
            for (int c = 0; c < dim; c++) {
                float x = (float)((rng_next(&r) % 20001) / 10000.0 - 1.0);
                sv[(size_t)i * dim + c] = x;
                ss += (double)x * x;
            }
            for (int c = 0; c < dim; c++) sv[(size_t)i * dim + c] /= (float)sqrt(ss);
            texts[i] = text_of(&r, 60, true);
            sr[i] = (VectorChunkIn){texts[i], strlen(texts[i]), sv + (size_t)i * dim};
        }
        snprintf(f.file_id, sizeof f.file_id, "file-%d", file);
        if (store_vs_file_add(s, &f, &err) || store_vs_file_finish(s, "vs_bench", f.file_id, sr, m, dim, NULL, &err))
            die("store", err.msg);
        for (int i = 0; i < m; i++) free(texts[i]);
        free(texts), free(sv), free(sr);
        done += m;
    }
    printf("{\"measure\": \"store_rows\", \"chunks\": %d, \"chunks_per_s\": %.1f}\n", n_chunks, n_chunks / (clock_now_s() - t0));
    fflush(stdout);

    /* search: in memory, and read from the database each time */
    int64_t *all_ids;
    float *all;
    int total;
    if (store_vs_vectors(s, "vs_bench", dim, &all_ids, &all, &total, &err)) die("read", err.msg);
    float *scratch = malloc((size_t)total * sizeof *scratch), *qv = malloc((size_t)dim * sizeof *qv);
    RankHit hits[10];
    for (int cached = 1; cached >= 0; cached--) {
        t0 = clock_now_s();
        for (int qi = 0; qi < QUERIES; qi++) {
            char q[64];
            snprintf(q, sizeof q, "w%d w%d refund card", qi * 7 % RANDOM_VOCAB, qi * 13 % RANDOM_VOCAB);
            int32_t *qids;
            int nq;
            if (ft_encoder_tokenize(enc, q, strlen(q), &qids, &nq, &fe)) die("tokenize", fe.msg);
            const int32_t *qp = qids;
            if (retrieval_embed(enc, &qp, &nq, 1, threads, qv, &err)) die("embed", err.msg);
            int64_t *ids2 = all_ids, *fts_ids;
            float *vecs2 = all;
            double *fts_scores;
            int n2 = total, n_fts;
            long long count, max_id;
            if (store_vs_version(s, "vs_bench", &count, &max_id, &err)) die("version", err.msg);
            if (!cached && store_vs_vectors(s, "vs_bench", dim, &ids2, &vecs2, &n2, &err)) die("read", err.msg);
            if (store_vs_text_search(s, "vs_bench", q, 200, &fts_ids, &fts_scores, &n_fts, &err)) die("fts", err.msg);
            retrieval_rank(vecs2, ids2, n2, dim, qv, fts_ids, fts_scores, n_fts, NULL, 0, 10, hits, scratch);
            if (!cached) free(ids2), free(vecs2);
            free(fts_ids), free(fts_scores);
            ft_free(qids);
        }
        t = clock_now_s() - t0;
        printf("{\"measure\": \"search\", \"chunks\": %d, \"matrix\": \"%s\", \"queries_per_s\": %.1f}\n", total,
               cached ? "in memory" : "read each query", QUERIES / t);
        fflush(stdout);
    }
    t0 = clock_now_s();
    int kept_total = 0;
    for (int qi = 0; qi < QUERIES; qi++) {
        char q[64];
        snprintf(q, sizeof q, "w%d w%d refund card", qi * 7 % RANDOM_VOCAB, qi * 13 % RANDOM_VOCAB);
        int32_t *qids;
        int nq, n_fts, n_allow;
        if (ft_encoder_tokenize(enc, q, strlen(q), &qids, &nq, &fe)) die("tokenize", fe.msg);
        const int32_t *qp = qids;
        if (retrieval_embed(enc, &qp, &nq, 1, threads, qv, &err)) die("embed", err.msg);
        int64_t *fts_ids, *allow;
        double *fts_scores;
        if (store_vs_text_search(s, "vs_bench", q, 200, &fts_ids, &fts_scores, &n_fts, &err)) die("fts", err.msg);
        if (store_vs_chunks_where(s, "vs_bench", even_file, NULL, &allow, &n_allow, &err)) die("filter", err.msg);
        retrieval_rank(all, all_ids, total, dim, qv, fts_ids, fts_scores, n_fts, allow, n_allow, 10, hits, scratch);
        kept_total = n_allow;
        free(fts_ids), free(fts_scores), free(allow);
        ft_free(qids);
    }
    t = clock_now_s() - t0;
    printf("{\"measure\": \"search\", \"chunks\": %d, \"matrix\": \"in memory, filtered\", \"allowed_chunks\": %d, "
           "\"queries_per_s\": %.1f}\n", total, kept_total, QUERIES / t);
    fflush(stdout);
    free(all_ids), free(all), free(scratch), free(qv);
    store_close(s);
    ft_encoder_free(enc);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_search: could not remove %s\n", dir);
    return 0;
}
