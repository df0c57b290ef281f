/* test_eval_report.c: eval_summarise and the three reports on a report built by hand: 2 candidates,
 * 12 examples of 3 labels (one of them `<script>&"`, to check escaping), one failed request. The
 * expected numbers are counted by hand in the comments next to the data. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "eval/eval.h"
#include "test.h"

#define N 12
#define X "<script>&\""
/* Normalised (trim + case fold): 4 x billing, 4 x refund, 4 x X. Label order (support ties broken by
 * strcmp): X, billing, refund. */
static const char *const EXPECTED[N] = {" Billing", "billing", "billing", "billing", "refund", "refund",
                                        "refund",   "refund",  X,         X,         X,        X};
/* Right on 0 2 4 7 8 10 11 (7 of 12); 3 is no label ("other"); 6 failed (also "other"). */
static const char *const BASE[N] = {"billing", "refund", "billing", "I think billing", "refund", "billing",
                                    NULL,      "refund", X,         "refund",          X,        X};
/* Right on all but 7 and 11 (10 of 12). Paired with BASE: both right 0 2 4 8 10 (5), only base
 * right 7 11 (b = 2), only tuned right 1 3 5 6 9 (c = 5), neither 0. */
static const char *const TUNED[N] = {"billing", "billing", "billing", "billing", "refund", "refund",
                                     "refund",  "billing", X,         X,         X,        "REFUND "};

/* Candidate c's per-example arrays for n examples, zeroed. */
static void alloc_results(EvalCandidate *c, long n) {
    c->predictions = calloc(n, sizeof *c->predictions);
    c->correct = calloc(n, sizeof *c->correct);
    c->failed = calloc(n, sizeof *c->failed);
    c->prompt_tokens = calloc(n, sizeof *c->prompt_tokens);
    c->completion_tokens = calloc(n, sizeof *c->completion_tokens);
    c->latency_s = calloc(n, sizeof *c->latency_s);
    if (!c->predictions || !c->correct || !c->failed || !c->prompt_tokens || !c->completion_tokens || !c->latency_s)
        test_fail(__FILE__, __LINE__, "out of memory");
}

/* Candidate c from predictions (NULL = failed request); latency lat0 + i dlat, prompt tokens
 * tok0 + i dtok. */
static void fill(EvalReport *r, EvalCandidate *c, const char *name, const char *const *pred, double lat0, double dlat,
                 int tok0, int dtok, int completion, double wall) {
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->model, sizeof c->model, "models/%s.gguf", name);
    alloc_results(c, N);
    for (long i = 0; i < N; i++) {
        c->failed[i] = pred[i] == NULL;
        c->latency_s[i] = c->failed[i] ? NAN : lat0 + (double)i * dlat;
        if (c->failed[i]) {
            c->n_failed++;
            snprintf(c->first_failure, sizeof c->first_failure, "example %ld: HTTP 500", i);
            continue;
        }
        c->predictions[i] = strdup(pred[i]);
        char *p = eval_normalise_answer_dup(pred[i], r->norm), *e = eval_normalise_answer_dup(EXPECTED[i], r->norm);
        c->correct[i] = strcmp(p, e) == 0;
        free(p);
        free(e);
        c->prompt_tokens[i] = tok0 + (int)i * dtok;
        c->completion_tokens[i] = completion;
    }
    c->n_done = N;
    c->wall_s = wall;
    r->n_cands++;
}

static void build(EvalReport *r) {
    memset(r, 0, sizeof *r);
    snprintf(r->data_path, sizeof r->data_path, "data/support/validation.jsonl");
    r->norm = EVAL_NORM_TRIM_CASEFOLD;
    r->n = N;
    r->expected = calloc(N, sizeof *r->expected);
    for (int i = 0; i < N; i++) r->expected[i] = strdup(EXPECTED[i]);
    fill(r, &r->cands[0], "base + long prompt", BASE, 1.0, 0.1, 700, 1, 3, 22.0);
    fill(r, &r->cands[1], "fine-tuned", TUNED, 0.10, 0.02, 46, 0, 2, 2.4);
}

static const long BASE_COUNTS[3][4] = {{3, 0, 1, 0}, {0, 2, 1, 1}, {0, 1, 2, 1}}; /* rows X, billing, refund */
static const long TUNED_COUNTS[3][4] = {{3, 0, 1, 0}, {0, 4, 0, 0}, {0, 1, 3, 0}};

static void check_counts(const EvalLabels *l, const long want[3][4]) {
    REQUIRE(l->n_labels == 3);
    for (int e = 0; e < 3; e++)
        for (int p = 0; p < 4; p++) CHECK_EQ_INT(l->counts[e * 4 + p], want[e][p]);
}

TEST(test_eval_report_summarise) {
    EvalReport r;
    build(&r);
    Err err = {0};
    REQUIRE(eval_summarise(&r, &err) == 0);
    CHECK(r.labels);
    CHECK(strcmp(r.expected_norm[0], "billing") == 0); /* derived from expected when not given */
    const EvalCandidate *a = &r.cands[0], *b = &r.cands[1];

    /* accuracy over all 12 attempted: the failed request counts as wrong */
    CHECK_EQ_INT(a->accuracy.correct, 7);
    CHECK_EQ_INT(a->accuracy.n, 12);
    CHECK_NEAR(a->accuracy.lo, 0.31951131254954973, 1e-12); /* Wilson 7/12 */
    CHECK_NEAR(a->accuracy.hi, 0.8067396863412435, 1e-12);
    CHECK_EQ_INT(b->accuracy.correct, 10);
    CHECK_NEAR(b->accuracy.lo, 0.5519691377470266, 1e-12); /* Wilson 10/12 */

    /* latency and tokens over the 11 requests that worked: 1.0 .. 2.1 without 1.6 */
    CHECK_EQ_INT(a->latency.n, 11);
    CHECK_NEAR(a->latency.p50, 1.5, 1e-12);
    CHECK_NEAR(a->latency.p95, 2.05, 1e-12); /* h = 9.5: (2.0 + 2.1) / 2 */
    CHECK_NEAR(b->latency.p50, 0.21, 1e-12); /* (0.20 + 0.22) / 2 */
    CHECK_NEAR(a->mean_prompt_tokens, (11 * 700 + 66 - 6) / 11.0, 1e-9);
    CHECK_NEAR(b->mean_prompt_tokens, 46, 1e-12);
    CHECK_NEAR(a->mean_completion_tokens, 3, 1e-12);
    CHECK_NEAR(a->throughput, 11 / 22.0, 1e-12);
    CHECK_NEAR(b->throughput, 12 / 2.4, 1e-12);

    /* labels: X first (strcmp order among equal supports), the failure in "other" */
    REQUIRE(a->has_labels && b->has_labels);
    CHECK(strcmp(a->labels.labels[0], X) == 0);
    check_counts(&a->labels, BASE_COUNTS);
    check_counts(&b->labels, TUNED_COUNTS);
    CHECK_EQ_INT(a->labels.n_other, 2);
    CHECK_EQ_INT(a->labels.correct, 7);
    CHECK_NEAR(a->labels.stats[2].precision, 0.5, 1e-12); /* refund: predicted 4 times, right twice */

    /* paired: b = 2, c = 5, McNemar p = 2 (1 + 7 + 21) / 128 */
    const EvalPaired *p = &r.paired[1];
    CHECK_EQ_INT(p->n, 12);
    CHECK_EQ_INT(p->both, 5);
    CHECK_EQ_INT(p->b, 2);
    CHECK_EQ_INT(p->c, 5);
    CHECK_EQ_INT(p->neither, 0);
    CHECK_NEAR(p->diff, 0.25, 1e-12);
    CHECK_NEAR(p->p_value, 58 / 128.0, 1e-12);

    CHECK(strstr(r.verdict, "No significant difference between fine-tuned and base + long prompt: 83.3% vs 58.3% "
                            "exact match (+25.0 points") != NULL);
    CHECK(strstr(r.verdict, "McNemar p = 0.45), with 46 vs 705 prompt tokens per request (15x fewer) and 0.210 s vs "
                            "1.500 s median latency. base + long prompt: 1 of 12 requests failed") != NULL);
    eval_report_free(&r);
    eval_report_free(&r); /* twice: a no-op */
    eval_report_free(NULL);
}

/* A candidate that wins clearly, and one that could not run. */
TEST(test_eval_report_verdict) {
    EvalReport r;
    build(&r);
    /* replace the baseline by one that is always wrong: b = 0, c = 10, p = 2 / 1024 */
    EvalCandidate *c0 = &r.cands[0];
    for (int i = 0; i < N; i++) free(c0->predictions[i]), c0->predictions[i] = strdup("a");
    memset(c0->correct, 0, N * sizeof *c0->correct);
    memset(c0->failed, 0, N * sizeof *c0->failed);
    c0->n_failed = 0;
    c0->latency_s[6] = 1.6;
    snprintf(r.cands[2].name, sizeof r.cands[2].name, "broken");
    snprintf(r.cands[2].error, sizeof r.cands[2].error, "model not found: models/broken.gguf");
    r.n_cands = 3;
    Err err = {0};
    REQUIRE(eval_summarise(&r, &err) == 0);
    CHECK(strncmp(r.verdict, "fine-tuned is better than base + long prompt: 83.3% vs 0.0% exact match", 71) == 0);
    CHECK(strstr(r.verdict, "McNemar p = 0.002)") != NULL);
    CHECK(strstr(r.verdict, "broken could not run (model not found: models/broken.gguf).") != NULL);
    CHECK(!r.paired[2].defined);
    CHECK(!r.cands[2].accuracy.defined && isnan(r.cands[2].mean_prompt_tokens));

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    REQUIRE(f != NULL);
    eval_report_print(&r, f);
    fclose(f);
    CHECK(strstr(text, "candidate") && strstr(text, "accuracy") && strstr(text, "p95 ms"));
    CHECK(strstr(text, "broken could not run: model not found") != NULL);
    CHECK(strstr(text, "83.3%") && strstr(text, "55.2-95.3%"));
    CHECK(strstr(text, "paired comparison with base + long prompt") != NULL);
    free(text);
    eval_report_free(&r);
}

TEST(test_eval_report_clip) {
    char out[64];
    CHECK_EQ_INT(eval_clip("billing", 10, out, sizeof out), 7);
    CHECK(strcmp(out, "billing") == 0);
    CHECK_EQ_INT(eval_clip("card_payment_not_recognised", 10, out, sizeof out), 10);
    CHECK(strcmp(out, "card_paym\xe2\x80\xa6") == 0);
    CHECK_EQ_INT(eval_clip("\xc3\x89t\xc3\xa9 \xc3\xa0 Paris", 5, out, sizeof out), 5); /* never cuts a code point */
    CHECK(strcmp(out, "\xc3\x89t\xc3\xa9 \xe2\x80\xa6") == 0);
    CHECK_EQ_INT(eval_clip("a\nb", 10, out, sizeof out), 3);
    CHECK(strcmp(out, "a b") == 0);
}

static char *slurp(const char *path) {
    char *text = NULL;
    size_t len = 0;
    Err err = {0};
    if (file_read_all(path, 1 << 24, &text, &len, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
    return text;
}

static long count_of(const char *hay, const char *needle) {
    long n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static void check_json(const char *path) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    REQUIRE(j != NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "n")), 12);
    CHECK(json_is_true(json_object_get(j, "labels")));
    CHECK(strcmp(json_string_value(json_object_get(j, "normalisation")), "trim+casefold") == 0);
    json_t *a = json_array_get(json_object_get(j, "candidates"), 0);
    json_t *b = json_array_get(json_object_get(j, "candidates"), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(b, "accuracy"), "correct")), 10);
    CHECK_NEAR(json_real_value(json_object_get(json_object_get(a, "latency"), "p95_s")), 2.05, 1e-9);
    CHECK(json_is_null(json_object_get(a, "error")));
    json_t *labels = json_object_get(a, "labels");
    CHECK(strcmp(json_string_value(json_array_get(json_object_get(labels, "labels"), 0)), X) == 0);
    json_t *cm = json_object_get(labels, "confusion");
    CHECK(strcmp(json_string_value(json_array_get(json_object_get(cm, "columns"), 3)), "other") == 0);
    json_t *row = json_array_get(json_object_get(cm, "counts"), 2); /* refund: 0 1 2 1 */
    for (int p = 0; p < 4; p++) CHECK_EQ_INT(json_integer_value(json_array_get(row, (size_t)p)), BASE_COUNTS[2][p]);
    json_t *cmp = json_array_get(json_object_get(j, "comparisons"), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(cmp, "only_baseline_right")), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(cmp, "only_candidate_right")), 5);
    CHECK_NEAR(json_real_value(json_object_get(cmp, "mcnemar_p")), 58 / 128.0, 1e-9);
    json_t *ex = json_array_get(json_object_get(j, "examples"), 6);
    json_t *failed = json_array_get(json_object_get(ex, "results"), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(ex, "index")), 6);
    CHECK(strcmp(json_string_value(json_object_get(ex, "expected")), "refund") == 0);
    CHECK(json_is_true(json_object_get(failed, "failed")) && json_is_false(json_object_get(failed, "correct")));
    CHECK(json_is_null(json_object_get(failed, "prediction")) && json_is_null(json_object_get(failed, "latency_s")));
    json_t *ok = json_array_get(json_object_get(ex, "results"), 1);
    CHECK(strcmp(json_string_value(json_object_get(ok, "prediction")), "refund") == 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(ok, "prompt_tokens")), 46);
    CHECK(strstr(json_string_value(json_object_get(j, "verdict")), "15x fewer") != NULL);
    json_decref(j);
}

static void check_html(const char *path) {
    char *html = slurp(path);
    REQUIRE(html != NULL);
    CHECK(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    CHECK(count_of(html, "<svg id=\"chart-accuracy\"") == 1);
    CHECK(count_of(html, "<svg id=\"chart-prompt-tokens\"") == 1);
    CHECK_EQ_INT(count_of(html, "<svg class=\"confusion\""), 2);
    CHECK(strstr(html, "data-candidate=\"fine-tuned\"") != NULL);
    CHECK_EQ_INT(count_of(html, "<rect class=\"cell"), 2 * 3 * 4); /* 3 labels x (3 + other), twice */
    CHECK_EQ_INT(count_of(html, "<rect class=\"bar"), 4);
    CHECK(strstr(html, "data-value=\"0.583333\"") != NULL);
    CHECK(strstr(html, "&lt;script&gt;&amp;&quot;") != NULL);
    CHECK(strstr(html, "<script") == NULL);
    CHECK(count_of(html, "http") == count_of(html, "http://www.w3.org/2000/svg")); /* no external asset */
    CHECK(strstr(html, "class=\"verdict\"") != NULL);
    free(html);
}

TEST(test_eval_report_files) {
    char dir[] = "/tmp/ftune_test_eval_report_XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char json_path[128], html_path[128];
    snprintf(json_path, sizeof json_path, "%s/report.json", dir);
    snprintf(html_path, sizeof html_path, "%s/report.html", dir);
    EvalReport r;
    build(&r);
    Err err = {0};
    REQUIRE(eval_summarise(&r, &err) == 0);
    CHECK(eval_report_write_json(&r, json_path, &err) == 0);
    CHECK(eval_report_write_html(&r, html_path, &err) == 0);
    check_json(json_path);
    check_html(html_path);
    CHECK(eval_report_write_json(&r, "/nonexistent/dir/report.json", &err) == -1);
    CHECK_EQ_INT(err.code, ERR_IO);
    eval_report_free(&r);
    file_remove_tree(dir, NULL);
}

/* BANKING77's shape: 385 examples of 77 labels, 5 each. They are labels (per-label scores, the
 * confusion matrix) and the HTML report's label table lists all 77, the terminal's the first 30. */
TEST(test_eval_report_77_labels) {
    enum { L = 77, PER = 5, M = L * PER };
    EvalReport r;
    memset(&r, 0, sizeof r);
    snprintf(r.data_path, sizeof r.data_path, "data/banking77/validation.jsonl");
    r.norm = EVAL_NORM_TRIM;
    r.n = M;
    r.expected = calloc(M, sizeof *r.expected);
    EvalCandidate *c = &r.cands[0];
    snprintf(c->name, sizeof c->name, "fine-tuned");
    REQUIRE(r.expected != NULL);
    alloc_results(c, M);
    long right = 0;
    for (int i = 0; i < M; i++) {
        char name[32];
        snprintf(name, sizeof name, "intent_%02d", i % L);
        r.expected[i] = strdup(name);
        c->predictions[i] = strdup(i % PER == 0 ? "not a label" : name); /* example 0 of each label wrong */
        c->correct[i] = i % PER != 0;
        right += c->correct[i];
        c->prompt_tokens[i] = 40;
        c->completion_tokens[i] = 8;
        c->latency_s[i] = 0.3;
    }
    c->n_done = M;
    c->wall_s = 120;
    r.n_cands = 1;
    Err err = {0};
    REQUIRE(eval_summarise(&r, &err) == 0);
    CHECK(r.labels && c->has_labels);
    CHECK_EQ_INT(c->labels.n_labels, L);
    CHECK_EQ_INT(c->labels.n_other, M / PER);
    CHECK_EQ_INT(right, M - M / PER);

    char dir[] = "/tmp/ftune_test_eval_77_XXXXXX", path[128];
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/report.html", dir);
    REQUIRE(eval_report_write_html(&r, path, &err) == 0);
    char *html = slurp(path);
    REQUIRE(html != NULL);
    for (int k = 0; k < L; k++) {
        char cell[48];
        snprintf(cell, sizeof cell, "<tr><td>intent_%02d</td>", k);
        CHECK_EQ_INT(count_of(html, cell), 1);
    }
    CHECK(strstr(html, "more labels are in the JSON report") == NULL);
    free(html);
    snprintf(path, sizeof path, "%s/report.txt", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    eval_report_print(&r, f);
    fclose(f);
    char *text = slurp(path);
    REQUIRE(text != NULL);
    CHECK(strstr(text, "labels, fine-tuned: macro precision") != NULL);
    CHECK(strstr(text, "... and 47 more labels") != NULL);
    free(text);
    eval_report_free(&r);
    file_remove_tree(dir, NULL);
}
