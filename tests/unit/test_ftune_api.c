/* test_ftune_api.c: the public engine API (ftune.h) on stories260K, through its handles only: the
 * model's description, a tokenize/detokenize round trip, a batch of two sequences in two cache
 * slots equal to each sequence decoded alone, a forked slot continuing as its source, errors for
 * bad input, ft_generate_chat against the internal generate_chat (the one place the test reaches
 * behind the header: it is the reference `ftune chat` used before it became an API client), and
 * a tiny ft_train run whose adapter ft_adapter_load accepts and ft_generate_chat applies, with its
 * report, on_ready hook and failure stages, a tokenizer loaded without weights, and chat sessions
 * reused for many replies. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftune.h"
#include "model/generate.h"
#include "test.h"

static FtModel *load_stories(void) {
    const char *p = test_model("models/stories260K/stories260K.gguf", "stories260K.gguf");
    if (!p) {
        test_skip("stories260K.gguf not available");
        return NULL;
    }
    FtModel *m = NULL;
    FtError err = {0};
    if (ft_model_load(p, &m, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
    return m;
}

static const char *in_path(const FtModel *m) {
    FtModelInfo in;
    ft_model_info(m, &in);
    return in.path;
}

TEST(ftune_api_info_and_tokens) {
    FtModel *m = load_stories();
    if (!m) return;
    FtModelInfo in;
    ft_model_info(m, &in);
    CHECK(strcmp(in.architecture, "llama") == 0);
    CHECK(strcmp(in.format, "gguf") == 0);
    CHECK_EQ_INT(in.n_layer, 5);
    CHECK_EQ_INT(in.hidden_size, 64);
    CHECK_EQ_INT(in.n_head, 8);
    CHECK_EQ_INT(in.n_kv_head, 4);
    CHECK_EQ_INT(in.head_dim, 8);
    CHECK_EQ_INT(in.vocab, 512);
    CHECK_EQ_INT(in.context_length, 2048);
    CHECK_EQ_INT(in.n_params, 292800);
    CHECK(strcmp(in.tensor_types, "F32 x48") == 0);
    CHECK(strcmp(in.chat_template, "plain") == 0);
    CHECK_EQ_INT(in.bos_id, 1);
    CHECK_EQ_INT(in.eos_id, 2);
    CHECK_EQ_INT(in.end_of_turn_id, -1);
    CHECK(strcmp(ft_token_text(m, 1), "<s>") == 0);
    CHECK(ft_token_text(m, 512) == NULL && ft_token_text(m, -1) == NULL);

    const char *text = "Once upon a time, there was a little cat.";
    int32_t *ids;
    int n;
    FtError err = {0};
    REQUIRE(ft_tokenize(m, text, strlen(text), true, false, &ids, &n, &err) == 0);
    CHECK(n > 5);
    CHECK_EQ_INT(ids[0], in.bos_id);
    char *back;
    size_t len;
    REQUIRE(ft_detokenize(m, ids, n, true, &back, &len, &err) == 0);
    CHECK(strcmp(back, text) == 0);
    CHECK_EQ_INT(len, strlen(text));
    ft_free(back);
    /* parse_special: "<s>" is the BOS token only when asked for */
    int32_t *sp;
    int nsp;
    REQUIRE(ft_tokenize(m, "<s>", 3, false, true, &sp, &nsp, &err) == 0);
    CHECK(nsp == 1 && sp[0] == 1);
    ft_free(sp);
    REQUIRE(ft_tokenize(m, "<s>", 3, false, false, &sp, &nsp, &err) == 0);
    CHECK(nsp > 1);
    ft_free(sp);
    /* bad input */
    int32_t bad = 512;
    CHECK(ft_detokenize(m, &bad, 1, false, &back, NULL, &err) == -1);
    CHECK_EQ_INT(err.code, FT_ERR_ARG);
    CHECK(ft_tokenize(m, NULL, 0, false, false, &sp, &nsp, &err) == -1 && err.code == FT_ERR_ARG);
    ft_free(ids);
    ft_model_free(m);
    ft_model_free(NULL);
}

/* A tokenizer without its weights: from the GGUF file it gives the model's own ids; from a Hugging
 * Face directory and from its tokenizer.json the same ids as the GGUF build of that model. */
TEST(ftune_api_tokenizer) {
    FtModel *m = load_stories();
    if (!m) return;
    FtError err = {0};
    FtTokenizer *t = NULL;
    REQUIRE(ft_tokenizer_load(in_path(m), &t, &err) == 0);
    const char *text = "Once upon a time, <s> a cat.";
    int32_t *a, *b;
    int na, nb;
    REQUIRE(ft_tokenize(m, text, strlen(text), true, true, &a, &na, &err) == 0);
    REQUIRE(ft_tokenizer_encode(t, text, strlen(text), true, true, &b, &nb, &err) == 0);
    CHECK(na == nb && na > 3 && memcmp(a, b, (size_t)na * sizeof *a) == 0);
    ft_free(a);
    ft_free(b);
    CHECK(ft_tokenizer_encode(t, NULL, 0, true, true, &b, &nb, &err) == -1 && err.code == FT_ERR_ARG);
    CHECK(ft_tokenize(NULL, text, 1, true, true, &b, &nb, &err) == -1 && err.code == FT_ERR_ARG);
    ft_tokenizer_free(t);
    ft_tokenizer_free(NULL);
    ft_model_free(m);

    const char *dir = test_model("models/smollm2-135m-instruct-tokenizer", "smollm2-135m-instruct-tokenizer");
    if (dir) {
        char json[4200];
        snprintf(json, sizeof json, "%s/tokenizer.json", dir);
        const char *paths[2] = {dir, json};
        for (int i = 0; i < 2; i++) {
            REQUIRE(ft_tokenizer_load(paths[i], &t, &err) == 0);
            int32_t *ids;
            int n;
            REQUIRE(ft_tokenizer_encode(t, "<|im_start|>user", 16, false, true, &ids, &n, &err) == 0);
            CHECK(n == 2 && ids[0] == 1 && ids[1] == 4093); /* as SmolLM2-135M-Instruct.Q4_1.gguf */
            ft_free(ids);
            ft_tokenizer_free(t);
        }
    }
    /* errors name the file; nothing to free */
    t = (FtTokenizer *)1;
    CHECK(ft_tokenizer_load("/nonexistent/tokenizer.gguf", &t, &err) == -1 && t == NULL);
    CHECK(err.code == FT_ERR_IO && strstr(err.msg, "/nonexistent/tokenizer.gguf") != NULL);
    char bad[] = "/tmp/ftune_api_tok_XXXXXX";
    int fd = mkstemp(bad);
    REQUIRE(fd >= 0);
    CHECK(write(fd, "not a gguf file", 15) == 15);
    close(fd);
    CHECK(ft_tokenizer_load(bad, &t, &err) == -1 && err.code == FT_ERR_FORMAT && strstr(err.msg, "bad magic") != NULL);
    unlink(bad);
    CHECK(ft_tokenizer_load(NULL, &t, &err) == -1 && err.code == FT_ERR_ARG);
}

TEST(ftune_api_load_errors) {
    FtModel *m = (FtModel *)1;
    FtError err = {0};
    CHECK(ft_model_load("/nonexistent/model.gguf", &m, &err) == -1);
    CHECK(m == NULL);
    CHECK(err.code != FT_OK && strstr(err.msg, "/nonexistent/model.gguf") != NULL);
    CHECK(ft_model_load(NULL, &m, &err) == -1 && err.code == FT_ERR_ARG);
    CHECK(ft_model_load("x", NULL, NULL) == -1); /* a NULL FtError is allowed */
}

static double max_abs(const float *x, size_t n) {
    double r = 0;
    for (size_t i = 0; i < n; i++) r = fmax(r, fabs(x[i]));
    return r;
}

/* Logits (n, V) of ids run alone in a fresh one-slot cache. */
static float *alone(const FtModel *m, FtEngine *e, const int32_t *ids, int n, int V) {
    FtCache *c;
    FtError err = {0};
    int slot;
    float *out = malloc((size_t)n * V * sizeof(float));
    int32_t pos[16], seq[16];
    uint8_t want[16];
    for (int i = 0; i < n; i++) pos[i] = i, want[i] = 1;
    if (ft_cache_new(m, 1, 64, &c, &err) || ft_cache_seq_alloc(c, &slot, &err)) {
        test_fail(__FILE__, __LINE__, "%s", err.msg);
        return out;
    }
    for (int i = 0; i < n; i++) seq[i] = slot;
    FtBatch b = {n, ids, pos, seq, NULL, want, 0};
    if (ft_engine_decode(e, c, &b, NULL, 0, out, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
    ft_cache_free(c);
    return out;
}

TEST(ftune_api_batch_fork_and_errors) {
    FtModel *m = load_stories();
    if (!m) return;
    FtModelInfo in;
    ft_model_info(m, &in);
    int V = in.vocab;
    FtError err = {0};
    FtEngine *e;
    REQUIRE(ft_engine_new(m, 32, 64, 2, &e, &err) == 0);
    CHECK_EQ_INT(ft_engine_max_rows(e), 32);
    const int32_t A[6] = {1, 40, 95, 300, 7, 211}, B[4] = {1, 500, 3, 77};
    float *ra = alone(m, e, A, 6, V), *rb = alone(m, e, B, 4, V);

    FtCache *c;
    REQUIRE(ft_cache_new(m, 3, 64, &c, &err) == 0);
    CHECK_EQ_INT(ft_cache_slots(c), 3);
    int sa, sb, sf;
    REQUIRE(ft_cache_seq_alloc(c, &sa, &err) == 0 && ft_cache_seq_alloc(c, &sb, &err) == 0);
    CHECK(sa != sb);
    CHECK_EQ_INT(ft_cache_seq_len(c, sa), 0);
    /* both sequences in one batch, every row with logits */
    int32_t tok[10], pos[10], seq[10];
    uint8_t want[10];
    int n = 0;
    for (int i = 0; i < 6; i++) tok[n] = A[i], pos[n] = i, seq[n] = sa, want[n++] = 1;
    for (int i = 0; i < 4; i++) tok[n] = B[i], pos[n] = i, seq[n] = sb, want[n++] = 1;
    float *out = malloc((size_t)10 * V * sizeof(float));
    FtBatch b = {n, tok, pos, seq, NULL, want, 0};
    REQUIRE(ft_engine_decode(e, c, &b, NULL, 0, out, &err) == 0);
    CHECK_EQ_INT(ft_cache_seq_len(c, sa), 6);
    CHECK_EQ_INT(ft_cache_seq_len(c, sb), 4);
    double tol_a = 1e-5 * max_abs(ra, (size_t)6 * V), tol_b = 1e-5 * max_abs(rb, (size_t)4 * V);
    double da = 0, db = 0;
    for (size_t i = 0; i < (size_t)6 * V; i++) da = fmax(da, fabs(out[i] - ra[i]));
    for (size_t i = 0; i < (size_t)4 * V; i++) db = fmax(db, fabs(out[(size_t)6 * V + i] - rb[i]));
    CHECK(da <= tol_a);
    CHECK(db <= tol_b);

    /* fork: the first 3 positions of A, continued with A[3..6), equal A's own logits there */
    REQUIRE(ft_cache_seq_alloc(c, &sf, &err) == 0);
    REQUIRE(ft_cache_seq_fork(c, sa, sf, 3, &err) == 0);
    CHECK_EQ_INT(ft_cache_seq_len(c, sf), 3);
    n = 0;
    for (int i = 3; i < 6; i++) tok[n] = A[i], pos[n] = i, seq[n] = sf, want[n++] = 1;
    FtBatch bf = {n, tok, pos, seq, NULL, want, 0};
    REQUIRE(ft_engine_decode(e, c, &bf, NULL, 0, out, &err) == 0);
    double df = 0;
    for (size_t i = 0; i < (size_t)3 * V; i++) df = fmax(df, fabs(out[i] - ra[(size_t)3 * V + i]));
    CHECK(df <= tol_a);
    CHECK_EQ_INT(ft_cache_seq_len(c, sf), 6);

    /* bad input: every one refused with FT_ERR_ARG and a message */
    int32_t t1 = V, p1 = 6, s1 = sa;
    uint8_t w1 = 1;
    FtBatch bad = {1, &t1, &p1, &s1, NULL, &w1, 0};
    err.code = 0;
    CHECK(ft_engine_decode(e, c, &bad, NULL, 0, out, &err) == -1 && err.code == FT_ERR_ARG);
    CHECK(strstr(err.msg, "outside the vocabulary") != NULL);
    t1 = 5;
    CHECK(ft_cache_seq_free(c, sb, &err) == 0);
    s1 = sb;
    p1 = 0;
    err.code = 0;
    CHECK(ft_engine_decode(e, c, &bad, NULL, 0, out, &err) == -1 && err.code == FT_ERR_ARG);
    CHECK(strstr(err.msg, "not allocated") != NULL);
    s1 = 7;
    CHECK(ft_engine_decode(e, c, &bad, NULL, 0, out, &err) == -1 && err.code == FT_ERR_ARG);
    s1 = sa;
    p1 = 9; /* a gap after 6 cached positions */
    CHECK(ft_engine_decode(e, c, &bad, NULL, 0, out, &err) == -1 && err.code == FT_ERR_ARG);
    p1 = 6;
    CHECK(ft_engine_decode(e, c, &bad, NULL, 0, NULL, &err) == -1 && err.code == FT_ERR_ARG); /* no buffer */
    CHECK_EQ_INT(ft_cache_seq_len(c, sa), 6); /* nothing ran */
    CHECK(ft_cache_seq_free(c, sb, &err) == -1 && err.code == FT_ERR_ARG);
    CHECK(ft_cache_seq_fork(c, sa, sa, 1, &err) == -1 && err.code == FT_ERR_ARG);
    CHECK(ft_cache_seq_fork(c, sa, sf, 7, &err) == -1 && err.code == FT_ERR_ARG);
    CHECK(ft_cache_seq_truncate(c, sa, 2, &err) == 0 && ft_cache_seq_len(c, sa) == 2);
    CHECK(ft_cache_seq_len(c, 99) == -1 && ft_cache_seq_len(c, sb) == -1);
    int s2, s3;
    CHECK(ft_cache_seq_alloc(c, &s2, &err) == 0);
    CHECK(ft_cache_seq_alloc(c, &s3, &err) == -1 && err.code == FT_ERR_ARG); /* full */
    FtCache *bigc = NULL;
    CHECK(ft_cache_new(m, 0, 64, &bigc, &err) == -1 && bigc == NULL && err.code == FT_ERR_ARG);
    FtEngine *e0 = NULL;
    CHECK(ft_engine_new(m, 0, 64, 1, &e0, &err) == -1 && e0 == NULL && err.code == FT_ERR_ARG);
    free(out);
    free(ra);
    free(rb);
    ft_cache_free(c);
    ft_engine_free(e);
    ft_model_free(m);
}

/* The reference: the internal generate_chat on the same model file, as `ftune chat` ran it. */
static char *reference_chat(const char *path, const ChatMessage *msgs, int n, int max_tokens) {
    Model *im;
    InferState *st;
    Err err = {0};
    GenResult r = {0};
    if (model_load(path, &im, &err) || infer_new(im, 2048, 2, &st, &err)) {
        test_fail(__FILE__, __LINE__, "%s", err.msg);
        return NULL;
    }
    GenParams gp;
    gen_params_default(im, &gp);
    gp.max_tokens = max_tokens;
    if (generate_chat(st, msgs, n, &gp, NULL, NULL, &r, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
    infer_free(st);
    model_free(im);
    return r.text;
}

typedef struct {
    char buf[4096];
    size_t len;
} Streamed;

static int collect(const char *piece, size_t len, void *user) {
    Streamed *s = user;
    if (s->len + len < sizeof s->buf) memcpy(s->buf + s->len, piece, len), s->len += len;
    return 0;
}

TEST(ftune_api_generate_chat) {
    FtModel *m = load_stories();
    if (!m) return;
    FtModelInfo in;
    ft_model_info(m, &in);
    FtChatMessage msgs[2] = {{.role = "system", .content = "Be brief."}, {.role = "user", .content = "Once upon a time"}};
    FtGenParams gp;
    ft_gen_params_default(m, &gp);
    CHECK_EQ_INT(gp.max_tokens, 256);
    CHECK(gp.temperature == 0);
    CHECK(gp.n_stop_ids == 1 && gp.stop_ids[0] == in.eos_id);
    gp.max_tokens = 40;
    gp.n_threads = 2;
    FtGenResult r;
    FtError err = {0};
    Streamed s = {0};
    REQUIRE(ft_generate_chat(m, NULL, msgs, 2, &gp, collect, &s, &r, &err) == 0);
    CHECK(r.n_prompt > 0 && r.n_completion > 0 && r.n_completion <= 40);
    CHECK(r.len == strlen(r.text) && r.len > 0);
    CHECK(s.len == r.len && memcmp(s.buf, r.text, r.len) == 0);
    char *ref = reference_chat(in.path, (const ChatMessage *)msgs, 2, 40);
    CHECK(ref && strcmp(ref, r.text) == 0);
    free(ref);
    /* greedy is deterministic: a second call gives the same text */
    FtGenResult r2;
    REQUIRE(ft_generate_chat(m, NULL, msgs, 2, &gp, NULL, NULL, &r2, &err) == 0);
    CHECK(strcmp(r2.text, r.text) == 0);
    ft_gen_result_free(&r2);
    ft_gen_result_free(&r);
    ft_gen_result_free(NULL);
    /* bad input */
    FtChatMessage bad_role[1] = {{.role = "narrator", .content = "hi"}};
    CHECK(ft_generate_chat(m, NULL, bad_role, 1, &gp, NULL, NULL, &r, &err) == -1 && err.code == FT_ERR_ARG);
    CHECK(r.text == NULL);
    CHECK(ft_generate_chat(m, NULL, msgs, 0, &gp, NULL, NULL, &r, &err) == -1 && err.code == FT_ERR_ARG);
    FtGenParams bp = gp;
    bp.top_p = 2;
    bp.temperature = 1;
    CHECK(ft_generate_chat(m, NULL, msgs, 2, &bp, NULL, NULL, &r, &err) == -1 && err.code == FT_ERR_ARG);
    bp = gp;
    bp.stop_ids[0] = 9999;
    CHECK(ft_generate_chat(m, NULL, msgs, 2, &bp, NULL, NULL, &r, &err) == -1 && err.code == FT_ERR_ARG);
    ft_model_free(m);
}

/* One session serves many replies: each equals a fresh ft_generate_chat, whatever came before. */
TEST(ftune_api_session) {
    FtModel *m = load_stories();
    if (!m) return;
    FtError err = {0};
    FtSession *s = NULL, *small = NULL;
    REQUIRE(ft_session_new(m, 0, 2, &s, &err) == 0);
    CHECK_EQ_INT(ft_session_ctx(s), 2048); /* 4096 capped at the model's context */
    CHECK_EQ_INT(ft_session_threads(s), 2);
    ft_session_set_threads(s, 1); /* a job's training takes the other core */
    CHECK_EQ_INT(ft_session_threads(s), 1);
    ft_session_set_threads(s, 64); /* never above what its scratch was made for */
    CHECK_EQ_INT(ft_session_threads(s), 2);
    REQUIRE(ft_session_new(m, 24, 1, &small, &err) == 0);
    CHECK_EQ_INT(ft_session_ctx(small), 24);
    FtChatMessage a[1] = {{.role = "user", .content = "Once upon a time"}}, b[2] = {{.role = "system", .content = "Be brief."}, {.role = "user", .content = "The cat"}};
    FtGenParams gp;
    ft_gen_params_default(m, &gp);
    gp.max_tokens = 24;
    gp.n_threads = 2;
    FtGenResult ra, rb, again, fresh;
    REQUIRE(ft_session_generate_chat(s, NULL, a, 1, &gp, NULL, NULL, &ra, &err) == 0);
    REQUIRE(ft_session_generate_chat(s, NULL, b, 2, &gp, NULL, NULL, &rb, &err) == 0);
    REQUIRE(ft_session_generate_chat(s, NULL, a, 1, &gp, NULL, NULL, &again, &err) == 0);
    REQUIRE(ft_generate_chat(m, NULL, b, 2, &gp, NULL, NULL, &fresh, &err) == 0);
    CHECK(strcmp(ra.text, again.text) == 0 && ra.n_prompt == again.n_prompt);
    CHECK(strcmp(rb.text, fresh.text) == 0 && rb.n_completion == fresh.n_completion);
    /* sampling with a seed: the same seed gives the same text on the session as alone */
    FtGenParams sp = gp;
    sp.temperature = 0.9f;
    sp.seed = 7;
    ft_gen_result_free(&again);
    ft_gen_result_free(&fresh);
    REQUIRE(ft_session_generate_chat(s, NULL, a, 1, &sp, NULL, NULL, &again, &err) == 0);
    REQUIRE(ft_generate_chat(m, NULL, a, 1, &sp, NULL, NULL, &fresh, &err) == 0);
    CHECK(strcmp(again.text, fresh.text) == 0);
    /* a reply stops at the end of a small session's context */
    FtGenResult rs;
    REQUIRE(ft_session_generate_chat(small, NULL, a, 1, &gp, NULL, NULL, &rs, &err) == 0);
    CHECK(rs.n_prompt + rs.n_completion <= 24);
    ft_gen_result_free(&rs);
    /* bad input leaves the session usable */
    FtChatMessage longer[1] = {{.role = "user", .content = "Once upon a time there was a little cat who lived in a big house with a dog"}};
    CHECK(ft_session_generate_chat(small, NULL, longer, 1, &gp, NULL, NULL, &rs, &err) == -1 && err.code == FT_ERR_ARG);
    CHECK(rs.text == NULL);
    CHECK(ft_session_generate_chat(s, NULL, a, 0, &gp, NULL, NULL, &rs, &err) == -1 && err.code == FT_ERR_ARG);
    CHECK(ft_session_generate_chat(NULL, NULL, a, 1, &gp, NULL, NULL, &rs, &err) == -1 && err.code == FT_ERR_ARG);
    REQUIRE(ft_session_generate_chat(s, NULL, b, 2, &gp, NULL, NULL, &rs, &err) == 0);
    CHECK(strcmp(rs.text, rb.text) == 0);
    ft_gen_result_free(&rs);
    FtSession *none = (FtSession *)1;
    CHECK(ft_session_new(NULL, 0, 1, &none, &err) == -1 && none == NULL && err.code == FT_ERR_ARG);
    ft_gen_result_free(&ra);
    ft_gen_result_free(&rb);
    ft_gen_result_free(&again);
    ft_gen_result_free(&fresh);
    ft_session_free(small);
    ft_session_free(s);
    ft_session_free(NULL);
    ft_model_free(m);
}

typedef struct {
    int steps, ready;
    double first_loss, last_loss;
    FtTrainResult plan;
    int stop_when_ready; /* on_ready asks not to train */
} StepLog;

static int on_ready(const FtTrainResult *plan, void *user) {
    StepLog *l = user;
    if (l->steps) test_fail(__FILE__, __LINE__, "on_ready after a step");
    l->ready++;
    l->plan = *plan;
    return l->stop_when_ready;
}

static int on_step(const FtTrainMetrics *mt, const char *ckpt, void *user) {
    (void)ckpt;
    StepLog *l = user;
    if (!l->steps) l->first_loss = mt->train_loss;
    l->last_loss = mt->train_loss;
    l->steps++;
    return 0;
}

/* The whole of a small text file (heap, NUL-terminated); -1 when it cannot be read. */
static int read_text(const char *path, char **out) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char *buf = calloc(1, 1 << 16);
    size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    *out = buf;
    return buf && n > 0 ? 0 : -1;
}

TEST(ftune_api_train) {
    FtModel *m = load_stories();
    if (!m) return;
    char dir[] = "/tmp/ftune_api_XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char train[256], out[256];
    snprintf(train, sizeof train, "%s/train.jsonl", dir);
    snprintf(out, sizeof out, "%s/run", dir);
    FILE *f = fopen(train, "w");
    REQUIRE(f != NULL);
    for (int i = 1; i <= 12; i++)
        fprintf(f,
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Tell me about toy %d.\"}, "
                "{\"role\": \"assistant\", \"content\": \"Toy %d is a red ball.\"}]}\n",
                i, i);
    fclose(f);
    FtTrainParams p;
    ft_train_params_default(&p);
    CHECK_EQ_INT(p.rank, 8);
    p.train_path = train;
    p.out_dir = out;
    p.n_epochs = "1";
    p.batch_size = "4";
    p.rank = 4;
    p.seed = 3;
    p.n_threads = 2;
    StepLog log = {0};
    p.on_ready = on_ready;
    p.on_step = on_step;
    p.user = &log;
    FtTrainResult res;
    FtError err = {0};
    REQUIRE(ft_train(m, &p, &res, &err) == 0);
    CHECK_EQ_INT(res.stage, FT_TRAIN_RUN);
    CHECK_EQ_INT(res.train.n_examples, 12);
    CHECK(res.train.trained_tokens > 0 && res.train.trained_tokens < res.train.tokens);
    CHECK_EQ_INT(res.valid.n_examples, 0);
    CHECK_EQ_INT(res.max_length, 2048); /* the model's context */
    /* on_ready: once, before the first step, with the plan and no progress yet */
    CHECK_EQ_INT(log.ready, 1);
    CHECK_EQ_INT(log.plan.stage, FT_TRAIN_RUN);
    CHECK_EQ_INT(log.plan.total_steps, 3);
    CHECK_EQ_INT(log.plan.batch_size, 4);
    CHECK_EQ_INT(log.plan.train.tokens, res.train.tokens);
    CHECK_EQ_INT(log.plan.step, 0);
    CHECK_EQ_INT(res.n_epochs, 1);
    CHECK_EQ_INT(res.batch_size, 4);
    CHECK_EQ_INT(res.total_steps, 3);
    CHECK_EQ_INT(res.step, 3);
    CHECK_EQ_INT(log.steps, 3);
    CHECK(res.tokens_seen > 0);
    CHECK(isfinite(log.first_loss) && isfinite(log.last_loss));
    FtAdapter *a = NULL;
    if (ft_adapter_load(m, out, &a, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
    if (a) {
        CHECK_EQ_INT(ft_adapter_rank(a), 4);
        CHECK(ft_adapter_alpha(a) == 16.0f);
        FtChatMessage msg[1] = {{.role = "user", .content = "Tell me about toy 3."}};
        FtGenParams gp;
        ft_gen_params_default(m, &gp);
        gp.max_tokens = 8;
        FtGenResult r, on_base, on_adapter;
        CHECK(ft_generate_chat(m, a, msg, 1, &gp, NULL, NULL, &r, &err) == 0);
        /* a session switches between the adapter and the base model from one reply to the next */
        FtGenResult base;
        FtSession *s;
        REQUIRE(ft_generate_chat(m, NULL, msg, 1, &gp, NULL, NULL, &base, &err) == 0);
        REQUIRE(ft_session_new(m, 256, 1, &s, &err) == 0);
        REQUIRE(ft_session_generate_chat(s, a, msg, 1, &gp, NULL, NULL, &on_adapter, &err) == 0);
        REQUIRE(ft_session_generate_chat(s, NULL, msg, 1, &gp, NULL, NULL, &on_base, &err) == 0);
        CHECK(strcmp(on_adapter.text, r.text) == 0 && strcmp(on_base.text, base.text) == 0);
        ft_gen_result_free(&on_adapter);
        ft_gen_result_free(&on_base);
        ft_gen_result_free(&base);
        ft_session_free(s);
        /* an adapter loaded for another model (another handle on the same file) is refused */
        FtModel *other = load_stories();
        FtSession *os = NULL;
        FtGenResult ro;
        if (other && ft_session_new(other, 64, 1, &os, &err) == 0)
            CHECK(ft_session_generate_chat(os, a, msg, 1, &gp, NULL, NULL, &ro, &err) == -1 && err.code == FT_ERR_ARG);
        ft_session_free(os);
        ft_model_free(other);
        ft_gen_result_free(&r);
        /* the adapter in a batch, next to the base model */
        FtEngine *e;
        FtCache *c;
        int s0, s1;
        REQUIRE(ft_engine_new(m, 8, 16, 1, &e, &err) == 0 && ft_cache_new(m, 2, 16, &c, &err) == 0);
        REQUIRE(ft_cache_seq_alloc(c, &s0, &err) == 0 && ft_cache_seq_alloc(c, &s1, &err) == 0);
        int32_t tok[2] = {1, 1}, pos[2] = {0, 0}, seq[2] = {s0, s1}, ad[2] = {0, -1};
        uint8_t want[2] = {1, 1};
        FtBatch b = {2, tok, pos, seq, ad, want, 0};
        const FtAdapter *list[1] = {a};
        float *logits = malloc(2 * 512 * sizeof(float));
        CHECK(ft_engine_decode(e, c, &b, list, 1, logits, &err) == 0);
        ad[0] = 1; /* index past the list */
        CHECK(ft_engine_decode(e, c, &b, list, 1, logits, &err) == -1 && err.code == FT_ERR_ARG);
        free(logits);
        ft_cache_free(c);
        ft_engine_free(e);
    }
    ft_adapter_free(a);
    FtAdapter *none = NULL;
    CHECK(ft_adapter_load(m, dir, &none, &err) == -1 && none == NULL); /* no adapter_config.json there */
    /* the path of the model is the adapter's base model unless the caller names another */
    char cfg_path[400], *cfg = NULL;
    snprintf(cfg_path, sizeof cfg_path, "%s/adapter_config.json", out);
    CHECK(read_text(cfg_path, &cfg) == 0 && strstr(cfg, in_path(m)) != NULL);
    free(cfg);
    FtTrainParams np = p;
    char out2[300];
    snprintf(out2, sizeof out2, "%s/named", dir);
    np.out_dir = out2;
    np.base_model = "stories-base";
    np.on_ready = NULL;
    np.on_step = NULL;
    REQUIRE(ft_train(m, &np, &res, &err) == 0);
    snprintf(cfg_path, sizeof cfg_path, "%s/adapter_config.json", out2);
    CHECK(read_text(cfg_path, &cfg) == 0 && strstr(cfg, "\"stories-base\"") != NULL);
    free(cfg);
    /* on_ready may decline: nothing is trained and that is not an error */
    StepLog decline = {.stop_when_ready = 1};
    np = p;
    snprintf(out2, sizeof out2, "%s/declined", dir);
    np.out_dir = out2;
    np.user = &decline;
    REQUIRE(ft_train(m, &np, &res, &err) == 0);
    CHECK(decline.ready == 1 && decline.steps == 0);
    CHECK(res.stage == FT_TRAIN_RUN && res.step == 0 && res.total_steps == 3);
    CHECK(access(out2, F_OK) != 0);
    /* a length that cuts every assistant reply away leaves nothing to train: refused with the file */
    np = p;
    np.max_length = 8;
    CHECK(ft_train(m, &np, &res, &err) == -1 && err.code == FT_ERR_FORMAT && strstr(err.msg, "nothing to train on"));
    CHECK(res.stage == FT_TRAIN_LOAD_TRAIN);
    /* truncation is reported with the examples' lines (42-43 tokens each; the replies end them) */
    np = p;
    np.max_length = 34;
    np.on_ready = on_ready;
    np.on_step = NULL;
    decline = (StepLog){.stop_when_ready = 1};
    np.user = &decline;
    REQUIRE(ft_train(m, &np, &res, &err) == 0);
    CHECK_EQ_INT(res.max_length, 34);
    CHECK_EQ_INT(res.train.n_truncated, 12);
    CHECK(res.train.truncated_lines[0] == 1 && res.train.truncated_lines[11] == 12);
    /* bad parameters, each with the stage that refused it */
    FtTrainParams bp = p;
    bp.rank = 0;
    CHECK(ft_train(m, &bp, NULL, &err) == -1 && err.code == FT_ERR_ARG);
    CHECK(ft_train_params_check(&bp, &err) == -1 && err.code == FT_ERR_ARG && strstr(err.msg, "rank") != NULL);
    CHECK(ft_train_params_check(&p, &err) == 0);
    bp = p;
    bp.n_epochs = "many";
    CHECK(ft_train(m, &bp, &res, &err) == -1 && err.code == FT_ERR_ARG);
    CHECK(res.stage == FT_TRAIN_RESOLVE && res.train.n_examples == 12);
    bp = p;
    bp.targets = "q,nope";
    CHECK(ft_train(m, &bp, &res, &err) == -1 && err.code == FT_ERR_ARG && res.stage == FT_TRAIN_CHECK);
    CHECK(ft_train_params_check(&bp, &err) == -1 && strstr(err.msg, "nope") != NULL);
    bp = p;
    bp.train_path = "/nonexistent/train.jsonl";
    CHECK(ft_train(m, &bp, &res, &err) == -1 && err.code != FT_OK && res.stage == FT_TRAIN_LOAD_TRAIN);
    bp = p;
    bp.valid_path = "/nonexistent/valid.jsonl";
    CHECK(ft_train(m, &bp, &res, &err) == -1 && res.stage == FT_TRAIN_LOAD_VALID && res.train.n_examples == 12);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    ft_model_free(m);
}
