/* test_generate.c: the generation loop on the real stories260K model: greedy text, max_tokens,
 * stop strings (cut before them, also when streamed), seeded sampling, and streaming that adds up
 * to the final text. */
#include <stdlib.h>
#include <string.h>

#include "model/generate.h"
#include "test.h"
#include "test_models.h"

typedef struct {
    char buf[4096];
    size_t len;
    int calls;
} Collected;

static int collect(const char *piece, size_t len, void *user) {
    Collected *c = user;
    if (c->len + len < sizeof c->buf) {
        memcpy(c->buf + c->len, piece, len);
        c->len += len;
    }
    c->calls++;
    return 0;
}

static void run(Model *m, const GenParams *gp, GenResult *res, Collected *col) {
    InferState *st;
    Err err = {0};
    int32_t bos = 1;
    memset(col, 0, sizeof *col);
    if (infer_new(m, 256, 2, &st, &err) || generate(st, &bos, 1, gp, collect, col, res, &err))
        test_fail(__FILE__, __LINE__, "%s", err.msg);
    infer_free(st);
}

TEST(generate_greedy_story_and_limits) {
    Model *m = test_load_stories260k();
    if (!m) return;
    GenParams gp;
    gen_params_default(m, &gp);
    gp.max_tokens = 20;
    GenResult res;
    Collected col;
    run(m, &gp, &res, &col);
    CHECK(strncmp(res.text, "Once upon a time, there was a little girl named Lily", 52) == 0 ||
          strncmp(res.text, " Once upon a time, there was a little girl named Lily", 53) == 0);
    CHECK_EQ_INT(res.n_completion, 20);
    CHECK_EQ_INT(res.finish, FINISH_LENGTH);
    CHECK_EQ_INT(res.n_prompt, 1);
    CHECK(col.len == res.len && memcmp(col.buf, res.text, res.len) == 0); /* the stream adds up */
    CHECK(col.calls > 1);
    gen_result_free(&res);

    gp.max_tokens = 100;
    gp.stop[gp.n_stop++] = "girl";
    run(m, &gp, &res, &col);
    CHECK(strstr(res.text, "girl") == NULL);
    CHECK(strstr(res.text, "a little ") != NULL);
    CHECK_EQ_INT(res.finish, FINISH_STOP);
    CHECK(col.len == res.len && memcmp(col.buf, res.text, res.len) == 0); /* no partial stop leaked */
    gen_result_free(&res);

    /* a held-back prefix of a stop string that never completes is streamed at the end */
    gp.n_stop = 0;
    gp.max_tokens = 6;
    run(m, &gp, &res, &col);
    size_t keep = res.len;
    char tail[8];
    snprintf(tail, sizeof tail, "%.3sZZZ", res.text + res.len - 3); /* starts like the text's end */
    gp.stop[0] = tail;
    gp.n_stop = 1;
    gen_result_free(&res);
    run(m, &gp, &res, &col);
    CHECK_EQ_INT(res.len, keep);
    CHECK(col.len == res.len && memcmp(col.buf, res.text, res.len) == 0);
    gen_result_free(&res);

    /* the same when an end-of-turn token ends it: make the 7th greedy token a stop token */
    InferState *st;
    Err err = {0};
    REQUIRE(infer_new(m, 64, 2, &st, &err) == 0);
    int32_t tok = 1, seventh = -1;
    REQUIRE(infer_forward(st, &tok, 1, NULL, &err) == 0);
    for (int i = 0; i < 7; i++) {
        tok = sampler_argmax(st->logits, m->cfg.vocab);
        seventh = tok;
        REQUIRE(infer_forward(st, &tok, 1, NULL, &err) == 0);
    }
    infer_free(st);
    gp.max_tokens = 50;
    gp.stop_ids[gp.n_stop_ids++] = seventh;
    run(m, &gp, &res, &col);
    CHECK_EQ_INT(res.finish, FINISH_STOP);
    CHECK_EQ_INT(res.len, keep);
    CHECK(col.len == res.len && memcmp(col.buf, res.text, res.len) == 0);
    gen_result_free(&res);
    model_free(m);
}

TEST(generate_same_seed_same_text) {
    Model *m = test_load_stories260k();
    if (!m) return;
    GenParams gp;
    gen_params_default(m, &gp);
    gp.max_tokens = 40;
    gp.sampling.temperature = 1.0f;
    gp.sampling.seed = 1234;
    GenResult a, b, c;
    Collected col;
    run(m, &gp, &a, &col);
    run(m, &gp, &b, &col);
    gp.sampling.seed = 99;
    run(m, &gp, &c, &col);
    CHECK(strcmp(a.text, b.text) == 0);
    CHECK(strcmp(a.text, c.text) != 0);
    gen_result_free(&a);
    gen_result_free(&b);
    gen_result_free(&c);
    model_free(m);
}

TEST(generate_rejects_prompt_longer_than_context) {
    Model *m = test_load_stories260k();
    if (!m) return;
    InferState *st;
    Err err = {0};
    REQUIRE(infer_new(m, 8, 1, &st, &err) == 0);
    int32_t ids[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    GenParams gp;
    gen_params_default(m, &gp);
    GenResult res;
    CHECK(generate(st, ids, 8, &gp, NULL, NULL, &res, &err) == -1);
    CHECK(strstr(err.msg, "context") != NULL);
    int32_t bad = 100000;
    CHECK(infer_forward(st, &bad, 1, NULL, &err) == -1);
    CHECK(strstr(err.msg, "outside the vocabulary") != NULL);
    infer_free(st);
    model_free(m);
}
