/* test_retrieval.c: the computing pieces of vector stores (src/retrieval/): the hybrid ranking on
 * vectors and BM25 scores made up so that the answer is known (the cosine part is checked against
 * plain dot products, the fusion against its formula); static chunking with the real
 * all-MiniLM-L6-v2 tokenizer (skipped without models/all-MiniLM-L6-v2): every chunk within the
 * bound, its tokens exactly what the tokenizer gives for its text, consecutive chunks overlapping
 * by at most the overlap and covering every word; chunk embeddings: a short sequence is the
 * encoder's own vector, a long one the normalised token-weighted mean of its windows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "retrieval/retrieval.h"
#include "test.h"

TEST(retrieval_rank_cosine_and_bm25) {
    enum { N = 5, D = 4 };
    /* unit vectors; the query is closest to id 30, then 10 */
    float vecs[N * D] = {0.8f, 0.6f, 0, 0, /* id 10: cos 0.8 */
                         0, 0, 1, 0,       /* id 20: cos 0 */
                         1, 0, 0, 0,       /* id 30: cos 1 */
                         -1, 0, 0, 0,      /* id 40: cos -1, clipped to 0 */
                         0.6f, 0.8f, 0, 0}; /* id 50: cos 0.6 */
    int64_t ids[N] = {10, 20, 30, 40, 50};
    float q[D] = {1, 0, 0, 0}, scratch[N];
    RankHit hits[N];
    int k = retrieval_rank(vecs, ids, N, D, q, NULL, NULL, 0, NULL, 0, 3, hits, scratch);
    CHECK_EQ_INT(k, 3);
    CHECK(hits[0].id == 30 && hits[1].id == 10 && hits[2].id == 50);
    CHECK_NEAR(hits[0].score, RETRIEVAL_SEMANTIC_WEIGHT * 1.0, 1e-6);
    CHECK_NEAR(hits[1].semantic, 0.8, 1e-6);
    /* BM25: id 20 matches the words best, id 50 half as well: lexical 1 and 0.5 */
    int64_t fts_ids[2] = {50, 20};
    double fts_scores[2] = {2.5, 5.0};
    k = retrieval_rank(vecs, ids, N, D, q, fts_ids, fts_scores, 2, NULL, 0, N, hits, scratch);
    CHECK_EQ_INT(k, N);
    CHECK(hits[0].id == 30); /* 0.7 */
    CHECK(hits[1].id == 50); /* 0.7 * 0.6 + 0.3 * 0.5 = 0.57 */
    CHECK_NEAR(hits[1].score, RETRIEVAL_SEMANTIC_WEIGHT * 0.6 + RETRIEVAL_LEXICAL_WEIGHT * 0.5, 1e-6);
    CHECK(hits[2].id == 10); /* 0.56 */
    CHECK(hits[3].id == 20); /* 0.3 */
    CHECK_NEAR(hits[3].lexical, 1.0, 1e-9);
    CHECK(hits[4].id == 40 && hits[4].score == 0); /* no negative scores */
    /* restricted to allowed ids (a search's filters): the others are never returned */
    int64_t allow[3] = {20, 45, 50};
    k = retrieval_rank(vecs, ids, N, D, q, fts_ids, fts_scores, 2, allow, 3, N, hits, scratch);
    CHECK_EQ_INT(k, 2);
    CHECK(hits[0].id == 50 && hits[1].id == 20);
    CHECK_EQ_INT(retrieval_rank(vecs, ids, N, D, q, NULL, NULL, 0, allow, 0, N, hits, scratch), 0);
    /* ties go to the smaller id; k larger than n gives n */
    float same[2 * D] = {1, 0, 0, 0, 1, 0, 0, 0};
    int64_t two[2] = {7, 3};
    k = retrieval_rank(same, two, 2, D, q, NULL, NULL, 0, NULL, 0, 10, hits, scratch);
    CHECK(k == 2 && hits[0].id == 3 && hits[1].id == 7);
    CHECK_EQ_INT(retrieval_rank(vecs, ids, 0, D, q, NULL, NULL, 0, NULL, 0, 3, hits, scratch), 0);
}

static FtEncoder *load_minilm(void) {
    const char *p = test_model("models/all-MiniLM-L6-v2/model.safetensors", "all-MiniLM-L6-v2/model.safetensors");
    if (!p) {
        test_skip("models/all-MiniLM-L6-v2 not available (scripts/fetch_models.sh)");
        return NULL;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", p);
    *strrchr(dir, '/') = 0;
    FtEncoder *e = NULL;
    FtError err = {0};
    if (ft_encoder_load(dir, &e, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
    return e;
}

/* A text of about n_words words with punctuation, numbers, accents and line breaks. */
static char *make_text(int n_words) {
    static const char *const words[] = {"The", "card", "was", "charged", "twice,", "refund", "please!", "Café",
                                        "naïve", "2024-03-15", "unbelievably", "antidisestablishmentarianism",
                                        "(fees)", "東京", "don't", "\n\n##", "ok."};
    size_t cap = (size_t)n_words * 32 + 1, m = 0;
    char *t = malloc(cap);
    for (int i = 0; i < n_words; i++) {
        const char *w = words[(i * 7 + i / 5) % (sizeof words / sizeof words[0])];
        m += (size_t)snprintf(t + m, cap - m, i % 13 == 12 ? "%s\n" : "%s ", w);
    }
    return t;
}

static void check_chunks(const FtEncoder *e, const char *text, int max, int overlap) {
    TextChunk *c;
    int n;
    Err err = {0};
    REQUIRE(retrieval_chunk(e, text, strlen(text), max, overlap, &c, &n, &err) == 0);
    REQUIRE(n > 1);
    for (int i = 0; i < n; i++) {
        CHECK(c[i].n_ids <= max && c[i].n_ids > 0);
        int32_t *ids;
        int m;
        FtError fe = {0};
        REQUIRE(ft_encoder_tokenize(e, text + c[i].start, c[i].end - c[i].start, &ids, &m, &fe) == 0);
        if (m != c[i].n_ids || memcmp(ids, c[i].ids, (size_t)m * sizeof *ids))
            test_fail(__FILE__, __LINE__, "chunk %d: %d tokens, its text has %d (or others)", i, c[i].n_ids, m);
        ft_free(ids);
        if (i > 0) {
            CHECK(c[i].start > c[i - 1].start);      /* progress */
            for (size_t k = c[i - 1].end; k < c[i].start; k++) /* no word skipped */
                if (!strchr(" \n", text[k])) {
                    test_fail(__FILE__, __LINE__, "chunk %d: the text before it has a word not in chunk %d", i, i - 1);
                    break;
                }
            if (c[i].start < c[i - 1].end) {        /* the overlap: at most `overlap` tokens */
                FtError fe2 = {0};
                REQUIRE(ft_encoder_tokenize(e, text + c[i].start, c[i - 1].end - c[i].start, &ids, &m, &fe2) == 0);
                CHECK(m <= overlap);
                ft_free(ids);
            }
        }
    }
    CHECK(c[0].start == 0);
    size_t end = strlen(text);
    while (end && strchr(" \n", text[end - 1])) end--;
    CHECK(c[n - 1].end == end);
    retrieval_chunks_free(c, n);
}

TEST(retrieval_chunks_by_tokens) {
    FtEncoder *e = load_minilm();
    if (!e) return;
    char *text = make_text(2500);
    check_chunks(e, text, RETRIEVAL_CHUNK_TOKENS, RETRIEVAL_CHUNK_OVERLAP);
    check_chunks(e, text, 100, 50);
    check_chunks(e, text, 100, 0);
    TextChunk *c;
    int n;
    Err err = {0};
    CHECK(retrieval_chunk(e, " \n\t ", 4, 800, 400, &c, &n, &err) == 0 && n == 0);
    free(c);
    CHECK(retrieval_chunk(e, "short text", 10, 800, 400, &c, &n, &err) == 0 && n == 1 && c[0].end == 10);
    retrieval_chunks_free(c, n);
    CHECK(retrieval_chunk(e, "x", 1, 100, 100, &c, &n, &err) == -1 && err.code == ERR_ARG);
    free(text);
    ft_encoder_free(e);
}

TEST(retrieval_embed_windows) {
    FtEncoder *e = load_minilm();
    if (!e) return;
    FtEncoderInfo info;
    ft_encoder_info(e, &info);
    char *text = make_text(400);
    int32_t *ids;
    int n;
    FtError fe = {0};
    REQUIRE(ft_encoder_tokenize(e, text, strlen(text), &ids, &n, &fe) == 0);
    int d = info.dim, W = info.max_tokens;
    REQUIRE(n > 2 * W + 37);
    n = 2 * W + 37; /* three windows, the last of 37 tokens */
    float *got = malloc(2 * (size_t)d * sizeof(float)), *want = malloc(3 * (size_t)d * sizeof(float));
    const int32_t *seqs[2] = {ids, ids};
    int lens[2] = {10, n};
    Err err = {0};
    REQUIRE(retrieval_embed(e, seqs, lens, 2, 1, got, &err) == 0);
    /* short: the encoder's own vector */
    REQUIRE(ft_encoder_embed(e, seqs, lens, 1, 1, want, &fe) == 0);
    double mx = 0;
    for (int c = 0; c < d; c++) mx = fmax(mx, fabs(got[c] - want[c]));
    CHECK(mx < 1e-6);
    /* long: three windows, weighted by their tokens, normalised */
    const int32_t *win[3] = {ids, ids + W, ids + 2 * W};
    int wl[3] = {W, W, n - 2 * W};
    REQUIRE(ft_encoder_embed(e, win, wl, 3, 1, want, &fe) == 0);
    double ss = 0, mean[1024];
    for (int c = 0; c < d; c++) {
        mean[c] = (double)wl[0] * want[c] + (double)wl[1] * want[d + c] + (double)wl[2] * want[2 * d + c];
        ss += mean[c] * mean[c];
    }
    mx = 0;
    for (int c = 0; c < d; c++) mx = fmax(mx, fabs(got[d + c] - mean[c] / sqrt(ss)));
    CHECK(mx < 1e-5);
    ft_free(ids);
    free(text), free(got), free(want);
    ft_encoder_free(e);
}
