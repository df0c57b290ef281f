/* test_validate.c: the pieces of `ftune validate` one by one: the line JSON reader against Jansson
 * (accepts exactly the same documents), its canonical hash, UTF-8 checking, the JSONL reader
 * (BOM, CRLF, missing final newline, lines across chunks, lines over the limit), the epochs rule
 * and the summaries, the problem cap, file-level limits, the JSON report, the real
 * support-triage dataset, and per-example token counts against token_counts.json (jinja2 +
 * HF tokenizers, written by tests/data/validate/make_token_golden.py). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/dataset_rules.h"
#include "data/dataset_stats.h"
#include "data/example_messages.h"
#include "data/example_tokens.h"
#include "data/jdoc.h"
#include "data/jsonl_reader.h"
#include "model/text_model.h"
#include "data/utf8_check.h"
#include "data/validate.h"
#include "test.h"

#define TMP_PATH_MAX 128

static void tmp_path(char *buf, const char *name) {
    snprintf(buf, TMP_PATH_MAX, "/tmp/ftune_test_validate_%d_%s", (int)getpid(), name);
}

static int write_file(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    fclose(f);
    return w == len ? 0 : -1;
}

static bool jansson_accepts(const char *s, size_t len) {
    json_error_t je;
    json_t *j = json_loadb(s, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    json_decref(j);
    return j != NULL;
}

TEST(validate_jdoc_agrees_with_jansson) {
    static const char *const DOCS[] = {"{}",
                                       "[]",
                                       " [1, 2.5, -0, 1e5, 1E-3, true, false, null] ",
                                       "[1,]",
                                       "[,1]",
                                       "{\"a\":1,}",
                                       "{\"a\" 1}",
                                       "{\"a\":}",
                                       "{\"a\":1,\"a\":2}",
                                       "{\"a\":1,\"\\u0061\":2}",
                                       "{\"a\":{\"a\":1},\"b\":{\"a\":2}}",
                                       "\"x\"",
                                       "1",
                                       "-",
                                       "-01",
                                       "01",
                                       "1.",
                                       ".5",
                                       "1e",
                                       "1e+",
                                       "0x10",
                                       "1e400",
                                       "-1e400",
                                       "1e-400",
                                       "9223372036854775807",
                                       "9223372036854775808",
                                       "-9223372036854775808",
                                       "-9223372036854775809",
                                       "[\"\\ud800\"]",
                                       "[\"\\udc00\"]",
                                       "[\"\\ud83d\\ude00\"]",
                                       "[\"\\ud83d\\u0041\"]",
                                       "[\"\\u0000\"]",
                                       "[\"a\\u00e9b\"]",
                                       "[\"\\x\"]",
                                       "[\"\\u12\"]",
                                       "[\"a\tb\"]",
                                       "[\"a\\tb\"]",
                                       "[tru]",
                                       "[true]",
                                       "[truex]",
                                       "[nul]",
                                       "[null",
                                       "\"abc",
                                       "",
                                       "  ",
                                       "[1] x",
                                       "[1] [2]",
                                       "{\"a\":[{\"b\":[]}]}",
                                       "[\"\\/\\\\\\\"\\b\\f\\n\\r\\t\"]",
                                       "\xEF\xBB\xBF{}",
                                       "[\"caf\xC3\xA9\"]",
                                       "{\"\\u0000\":1}",
                                       "[1.5E+3]",
                                       "[-]",
                                       "{\"k\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":"
                                       "9,\"k10\":10,\"k11\":11,\"k12\":12,"
                                       "\"k13\":13,\"k14\":14,\"k15\":15,\"k16\":16,\"k17\":17,\"k3\":18}",
                                       NULL};
    JDoc d;
    jdoc_init(&d, 1000);
    for (int i = 0; DOCS[i]; i++) {
        size_t len = strlen(DOCS[i]);
        bool ours = jdoc_parse(&d, DOCS[i], len) == JDOC_OK, theirs = jansson_accepts(DOCS[i], len);
        if (ours != theirs)
            test_fail(__FILE__, __LINE__, "'%s': jdoc %s, Jansson %s (%s)", DOCS[i], ours ? "accepts" : "rejects",
                      theirs ? "accepts" : "rejects", d.err_msg);
    }
    /* The eight-byte string scan: a stop byte at every offset of a long string. */
    static const char *const STOPS[] = {"\"", "\\", "\\n", "\x01", "\x1f", "\t", "\x7f", "\xC3\xA9", " ", "\\u00e9"};
    for (size_t k = 0; k < sizeof STOPS / sizeof STOPS[0]; k++)
        for (int pos = 0; pos < 24; pos++) {
            char doc[64];
            int n = snprintf(doc, sizeof doc, "[\"%.*s%s%.*s\"]", pos, "abcdefghijklmnopqrstuvwxyz", STOPS[k], 24 - pos,
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
            json_error_t je;
            json_t *j = json_loadb(doc, (size_t)n, JSON_DECODE_ANY, &je);
            bool ours = jdoc_parse(&d, doc, (size_t)n) == JDOC_OK;
            if (ours != (j != NULL)) test_fail(__FILE__, __LINE__, "'%s': jdoc and Jansson disagree", doc);
            if (ours && j) {
                size_t len;
                const char *v = jdoc_str(&d, jdoc_first(&d, 0), &len);
                json_t *str = json_array_get(j, 0);
                CHECK(len == json_string_length(str) && memcmp(v, json_string_value(str), len) == 0);
            }
            json_decref(j);
        }
    /* Nesting: Jansson allows 2048 nested values. */
    jdoc_free(&d);
    jdoc_init(&d, 10000);
    char deep[2 * 2100 + 1];
    for (int depth = 2046; depth <= 2050; depth++) {
        int n = 0;
        for (int k = 0; k < depth; k++) deep[n++] = '[';
        for (int k = 0; k < depth; k++) deep[n++] = ']';
        deep[n] = 0;
        CHECK_EQ_INT(jdoc_parse(&d, deep, (size_t)n) == JDOC_OK, jansson_accepts(deep, (size_t)n));
    }
    jdoc_free(&d);
}

TEST(validate_jdoc_values_and_hash) {
    JDoc d;
    jdoc_init(&d, 1000);
    const char *a = "{\"role\": \"user\", \"content\": \"caf\\u00e9\\n\", \"n\": [1, 2]}";
    REQUIRE(jdoc_parse(&d, a, strlen(a)) == JDOC_OK);
    uint32_t content = jdoc_get(&d, 0, "content");
    REQUIRE(content != JDOC_NONE);
    size_t len;
    const char *s = jdoc_str(&d, content, &len);
    CHECK(len == 6 && memcmp(s, "caf\xC3\xA9\n", 6) == 0);
    CHECK(jdoc_str_eq(&d, jdoc_get(&d, 0, "role"), "user"));
    CHECK_EQ_INT(jdoc_size(&d, jdoc_get(&d, 0, "n")), 2);
    CHECK_EQ_INT(jdoc_get(&d, 0, "missing"), JDOC_NONE);
    uint64_t h1 = jdoc_hash(&d, 0);
    const char *b =
        "{\"n\":[1,2],\"content\":\"caf\xC3\xA9\\n\",  \"role\":\"\\u0075ser\"}"; /* reordered, re-escaped */
    REQUIRE(jdoc_parse(&d, b, strlen(b)) == JDOC_OK);
    CHECK(jdoc_hash(&d, 0) == h1);
    const char *c = "{\"n\":[2,1],\"content\":\"caf\xC3\xA9\\n\",\"role\":\"user\"}"; /* array order matters */
    REQUIRE(jdoc_parse(&d, c, strlen(c)) == JDOC_OK);
    CHECK(jdoc_hash(&d, 0) != h1);
    const char *many = "[1,2,3,4,5]";
    JDoc small;
    jdoc_init(&small, 3);
    CHECK_EQ_INT(jdoc_parse(&small, many, strlen(many)), JDOC_TOO_MANY);
    jdoc_free(&small);
    jdoc_free(&d);
}

TEST(validate_utf8_check) {
    struct {
        const char *s;
        size_t bad;
    } cases[] = {
        {"plain ascii text that is longer than eight bytes", 48},
        {"caf\xC3\xA9", 5},
        {"\xF0\x9F\x98\x80 emoji", 10},
        {"a\xFF", 1},
        {"a\xC0\x80", 1},         /* overlong NUL */
        {"a\xE0\x80\x80", 1},     /* overlong */
        {"a\xED\xA0\x80", 1},     /* surrogate */
        {"a\xF4\x90\x80\x80", 1}, /* above U+10FFFF */
        {"abcdefgh\xC3", 8},      /* cut off */
        {"abcdefghij\x80", 10},   /* stray continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_EQ_INT(utf8_find_invalid(cases[i].s, strlen(cases[i].s)), cases[i].bad);
    CHECK_EQ_INT(utf8_count_chars("caf\xC3\xA9!", 6), 5);
}

TEST(validate_jsonl_reader_lines) {
    char path[TMP_PATH_MAX];
    tmp_path(path, "lines.jsonl");
    const char data[] = "\xEF\xBB\xBF{\"a\":1}\r\n\r\n  \n{\"b\":2}\n{\"c\":3}";
    REQUIRE(write_file(path, data, sizeof data - 1) == 0);
    JsonlReader *r;
    Err err = {0};
    REQUIRE(jsonl_open(path, 1024, &r, &err) == 0);
    const char *want[] = {"{\"a\":1}", "", "  ", "{\"b\":2}", "{\"c\":3}"};
    JsonlLine line;
    for (int i = 0; i < 5; i++) {
        REQUIRE(jsonl_next(r, &line, &err) == 1);
        CHECK_EQ_INT(line.number, i + 1);
        CHECK(line.text && strcmp(line.text, want[i]) == 0);
        CHECK_EQ_INT(line.had_bom, i == 0);
    }
    CHECK_EQ_INT(jsonl_next(r, &line, &err), 0);
    jsonl_close(r);
    unlink(path);
    CHECK(jsonl_open("/nonexistent/file.jsonl", 1024, &r, &err) == -1 && err.code == ERR_IO);
    CHECK(jsonl_open("/tmp", 1024, &r, &err) == -1 && strstr(err.msg, "directory"));
}

TEST(validate_jsonl_reader_long_lines) {
    /* Lines longer than a read chunk are joined; lines over the limit are skipped but counted. */
    char path[TMP_PATH_MAX];
    tmp_path(path, "long.jsonl");
    size_t big = JSONL_CHUNK * 2 + 123, huge = JSONL_CHUNK * 5 + 7;
    size_t total = big + 1 + 3 + 1 + huge + 1 + 2;
    char *data = malloc(total);
    REQUIRE(data != NULL);
    size_t o = 0;
    memset(data + o, 'x', big), o += big, data[o++] = '\n';
    memcpy(data + o, "abc\n", 4), o += 4;
    memset(data + o, 'y', huge), o += huge, data[o++] = '\n';
    memcpy(data + o, "ok", 2), o += 2;
    REQUIRE(write_file(path, data, o) == 0);
    free(data);
    JsonlReader *r;
    Err err = {0};
    REQUIRE(jsonl_open(path, JSONL_CHUNK * 3, &r, &err) == 0);
    JsonlLine line;
    REQUIRE(jsonl_next(r, &line, &err) == 1);
    CHECK(!line.too_long && line.len == big && line.text[0] == 'x' && line.text[big - 1] == 'x');
    REQUIRE(jsonl_next(r, &line, &err) == 1);
    CHECK(line.text && strcmp(line.text, "abc") == 0);
    REQUIRE(jsonl_next(r, &line, &err) == 1);
    CHECK(line.too_long && line.len == huge && line.text == NULL && line.number == 3);
    REQUIRE(jsonl_next(r, &line, &err) == 1);
    CHECK(line.text && strcmp(line.text, "ok") == 0 && line.number == 4);
    CHECK_EQ_INT(jsonl_next(r, &line, &err), 0);
    jsonl_close(r);
    unlink(path);
}

TEST(validate_auto_epochs_rule) {
    /* openai-api-facts.md §3.7: N=10 -> 10, N=5 -> 20; 3 between 34 and 8333; floor 1 above. */
    CHECK_EQ_INT(validate_auto_epochs(1), 25);
    CHECK_EQ_INT(validate_auto_epochs(5), 20);
    CHECK_EQ_INT(validate_auto_epochs(10), 10);
    CHECK_EQ_INT(validate_auto_epochs(33), 3);
    CHECK_EQ_INT(validate_auto_epochs(34), 3);
    CHECK_EQ_INT(validate_auto_epochs(300), 3);
    CHECK_EQ_INT(validate_auto_epochs(8333), 3);
    CHECK_EQ_INT(validate_auto_epochs(8334), 2);
    CHECK_EQ_INT(validate_auto_epochs(30000), 1);
    CHECK_EQ_INT(validate_auto_epochs(0), 0);
}

TEST(validate_summaries_match_numpy) {
    uint32_t v[] = {7, 1, 3, 9, 5, 2}; /* numpy: median 4.0, percentile(90) 8.0 */
    ValidateDist d;
    stats_summarise(v, 6, &d);
    CHECK_NEAR(d.min, 1, 0);
    CHECK_NEAR(d.max, 9, 0);
    CHECK_NEAR(d.mean, 27.0 / 6, 1e-9);
    CHECK_NEAR(d.median, 4.0, 1e-9);
    CHECK_NEAR(d.p90, 8.0, 1e-9);
    uint32_t w[] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110}; /* median 60, p90 100 */
    stats_summarise(w, 11, &d);
    CHECK_NEAR(d.median, 60, 1e-9);
    CHECK_NEAR(d.p90, 100, 1e-9);
}

/* Writes n copies of a bad line and 10 good examples, validates with the given cap. */
TEST(validate_problem_cap_errors_first) {
    char path[TMP_PATH_MAX];
    tmp_path(path, "cap.jsonl");
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    for (int i = 0; i < 12; i++) /* 12 examples with an unknown top-level key (warnings) */
        fprintf(f,
                "{\"messages\":[{\"role\":\"user\",\"content\":\"q%d\"},{\"role\":\"assistant\",\"content\":\"a\"}],"
                "\"id\":%d}\n",
                i, i);
    for (int i = 0; i < 30; i++) fprintf(f, "[]\n"); /* 30 errors after them */
    fclose(f);
    ValidateOptions opt;
    validate_options_default(&opt);
    opt.max_problems = 20;
    ValidateReport rep;
    Err err = {0};
    REQUIRE(validate_file(path, &opt, &rep, &err) == 0);
    CHECK_EQ_INT(rep.errors, 30);
    CHECK_EQ_INT(rep.warnings, 12);
    CHECK_EQ_INT(rep.n_problems, 20);
    for (long i = 0; i < rep.n_problems; i++) CHECK(rep.problems[i].severity == VALIDATE_ERROR);
    CHECK_EQ_INT(rep.problems[0].line, 13);
    char verdict[256];
    CHECK(strcmp(validate_verdict(&rep, verdict, sizeof verdict),
                 "invalid: 30 errors in 30 of 42 examples, 12 warnings") == 0);
    validate_report_free(&rep);
    opt.max_problems = 0;
    REQUIRE(validate_file(path, &opt, &rep, &err) == 0);
    CHECK_EQ_INT(rep.n_problems, 0);
    CHECK_EQ_INT(rep.errors, 30);
    validate_report_free(&rep);
    unlink(path);
}

TEST(validate_file_limits_and_errors) {
    char path[TMP_PATH_MAX];
    tmp_path(path, "limits.jsonl");
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    for (int i = 0; i < 10; i++)
        fprintf(f,
                "{\"messages\":[{\"role\":\"user\",\"content\":\"q%d\"},{\"role\":\"assistant\",\"content\":\"a\"}]}\n",
                i);
    fclose(f);
    ValidateOptions opt;
    validate_options_default(&opt);
    opt.max_file_bytes = 100;
    ValidateReport rep;
    Err err = {0};
    REQUIRE(validate_file(path, &opt, &rep, &err) == 0);
    CHECK_EQ_INT(rep.errors, 1);
    REQUIRE(rep.n_problems == 1);
    CHECK(strcmp(rep.problems[0].code, "file_too_large") == 0 && rep.problems[0].line == 0);
    CHECK_EQ_INT(rep.valid_examples, 10);
    validate_report_free(&rep);
    /* Unreadable inputs are failures of the call, not problems of the data. */
    validate_options_default(&opt);
    CHECK(validate_file("/nonexistent/data.jsonl", &opt, &rep, &err) == -1 && err.code == ERR_IO);
    validate_report_free(&rep);
    CHECK(validate_file("/tmp", &opt, &rep, &err) == -1 && err.code == ERR_IO);
    validate_report_free(&rep);
    opt.max_problems = -1;
    CHECK(validate_file(path, &opt, &rep, &err) == -1 && err.code == ERR_ARG);
    validate_report_free(&rep);
    unlink(path);
}

TEST(validate_line_over_the_limit) {
    /* One line longer than VALIDATE_LINE_MAX: reported with its length, never buffered whole. */
    char path[TMP_PATH_MAX];
    tmp_path(path, "hugeline.jsonl");
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs("{\"messages\":[{\"role\":\"user\",\"content\":\"", f);
    char *chunk = malloc(1 << 20);
    REQUIRE(chunk != NULL);
    memset(chunk, 'a', 1 << 20);
    size_t chunks = VALIDATE_LINE_MAX / (1 << 20) + 1;
    for (size_t i = 0; i < chunks; i++) fwrite(chunk, 1, 1 << 20, f);
    free(chunk);
    fputs("\"}]}\n", f);
    fclose(f);
    ValidateOptions opt;
    validate_options_default(&opt);
    ValidateReport rep;
    Err err = {0};
    REQUIRE(validate_file(path, &opt, &rep, &err) == 0);
    CHECK_EQ_INT(rep.errors, 2); /* the line, and fewer than 10 examples */
    bool found = false;
    for (long i = 0; i < rep.n_problems; i++)
        found |= strcmp(rep.problems[i].code, "line_too_long") == 0 && rep.problems[i].line == 1;
    CHECK(found);
    validate_report_free(&rep);
    unlink(path);
}

TEST(validate_report_json) {
    ValidateOptions opt;
    validate_options_default(&opt);
    ValidateReport rep;
    Err err = {0};
    REQUIRE(validate_file("tests/data/validate/many_problems.jsonl", &opt, &rep, &err) == 0);
    json_t *j = validate_report_to_json(&rep);
    REQUIRE(j != NULL);
    CHECK(json_is_false(json_object_get(j, "valid")));
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "errors")), 6);
    json_t *problems = json_object_get(j, "problems");
    CHECK_EQ_INT(json_array_size(problems), 7);
    json_t *p1 = json_array_get(problems, 1);
    CHECK(strcmp(json_string_value(json_object_get(p1, "code")), "unknown_role") == 0);
    CHECK(strcmp(json_string_value(json_object_get(p1, "path")), "messages[1].role") == 0);
    CHECK(strcmp(json_string_value(json_object_get(p1, "text")),
                 "line 2: messages[1].role: unknown role \"assistnat\"") == 0);
    json_t *stats = json_object_get(j, "statistics");
    CHECK(json_is_null(json_object_get(stats, "tokens_per_example")));
    CHECK(json_is_string(json_object_get(j, "token_counts")));
    json_decref(j);
    validate_report_free(&rep);
}

TEST(validate_real_dataset) {
    if (access("../shared/data/support-triage/train.jsonl", R_OK) != 0) {
        test_skip("../shared/data/support-triage is not here");
        return;
    }
    ValidateOptions opt;
    validate_options_default(&opt);
    TextModel *tm = NULL;
    const char *model = test_model("models/SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct.Q4_1.gguf");
    Err err = {0};
    if (model && text_model_load(model, &tm, &err) == 0) opt.model = tm;
    const char *files[] = {"../shared/data/support-triage/train.jsonl",
                           "../shared/data/support-triage/validation.jsonl"};
    long want[] = {300, 90};
    for (int i = 0; i < 2; i++) {
        ValidateReport rep;
        REQUIRE(validate_file(files[i], &opt, &rep, &err) == 0);
        CHECK_EQ_INT(rep.errors, 0);
        CHECK_EQ_INT(rep.examples, want[i]);
        CHECK_EQ_INT(rep.valid_examples, want[i]);
        CHECK_NEAR(rep.messages.mean, 3, 0);
        CHECK_EQ_INT(rep.n_epochs, 3);
        if (tm) {
            CHECK(rep.have_tokens && rep.tokens.min > 0 && rep.assistant_tokens.min >= 2);
            CHECK_EQ_INT(rep.max_length, tm->context_length);
            CHECK(rep.trained_tokens == rep.dataset_tokens * 3);
        }
        validate_report_free(&rep);
    }
    text_model_free(tm);
}

/* Builds the messages of a golden example the way validation does. */
static int golden_messages(json_t *example, JDoc *d, char **text, ExampleMessages *em) {
    *text = json_dumps(example, JSON_COMPACT);
    if (!*text || jdoc_parse(d, *text, strlen(*text)) != JDOC_OK) return -1;
    example_messages_reset(em);
    return example_messages_add_tools(em, d, 0, NULL) ||
           example_messages_add_list(em, d, jdoc_get(d, 0, "messages"), EXAMPLE_TRAIN_WEIGHT, NULL);
}

/* The validation preview (ValidateOptions.preview_examples) of a reference model's examples: the
 * segments put together are the reference token ids decoded (ids from Hugging Face's tokenizer on
 * the Jinja rendering), its token count theirs, and the trained segments are the assistant's reply
 * (single_turn: "billing" and the end of turn). */
static void check_previews(const char *key, json_t *model, TextModel *tm) {
    Err err = {0};
    json_t *cases = json_object_get(model, "cases");
    char path[TMP_PATH_MAX];
    tmp_path(path, "preview.jsonl");
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        char *line = json_dumps(json_object_get(c, "example"), JSON_COMPACT);
        fprintf(f, "%s\n", line);
        free(line);
    }
    fclose(f);
    ValidateOptions opt;
    validate_options_default(&opt);
    opt.model = tm;
    opt.min_examples = 0;
    opt.preview_examples = VALIDATE_PREVIEW_MAX;
    ValidateReport rep;
    REQUIRE(validate_file(path, &opt, &rep, &err) == 0);
    CHECK_EQ_INT(rep.n_previews, (long)json_array_size(cases));
    for (long k = 0; k < rep.n_previews && k < (long)json_array_size(cases); k++) {
        const ValidatePreview *p = &rep.previews[k];
        json_t *ref = json_array_get(cases, (size_t)k), *ids = json_object_get(ref, "ids");
        const char *name = json_string_value(json_object_get(ref, "name"));
        int n = (int)json_array_size(ids);
        int32_t *want_ids = malloc(sizeof *want_ids * (size_t)n);
        for (int t = 0; t < n; t++) want_ids[t] = (int32_t)json_integer_value(json_array_get(ids, (size_t)t));
        char *want = NULL, joined[8192] = "", trained[8192] = "";
        REQUIRE(tok_decode(tm->tok, want_ids, n, false, &want, NULL, &err) == 0);
        for (int g = 0; g < p->n_segments; g++) {
            strncat(joined, p->text[g], sizeof joined - strlen(joined) - 1);
            if (p->trained[g]) strncat(trained, p->text[g], sizeof trained - strlen(trained) - 1);
            if (g > 0 && p->trained[g] == p->trained[g - 1])
                test_fail(__FILE__, __LINE__, "%s/%s: segments %d and %d have the same mask", key, name, g - 1, g);
        }
        if (strcmp(joined, want) != 0)
            test_fail(__FILE__, __LINE__, "%s/%s: preview text differs from the reference ids decoded", key, name);
        CHECK_EQ_INT(p->line, k + 1);
        CHECK_EQ_INT(p->n_tokens, n);
        CHECK(p->n_segments >= 2 && !p->trained[0] && trained[0]);
        if (strcmp(name, "single_turn") == 0) CHECK(strncmp(trained, "billing", 7) == 0 && strlen(trained) > 7);
        free(want);
        free(want_ids);
    }
    json_t *j = validate_report_to_json(&rep);
    json_t *pv = json_object_get(j, "preview");
    CHECK(json_array_size(pv) == (size_t)rep.n_previews &&
          json_is_true(json_object_get(json_array_get(json_object_get(json_array_get(pv, 0), "segments"), 1), "trained")));
    json_decref(j);
    validate_report_free(&rep);
    unlink(path);
}

TEST(validate_token_counts_match_reference) {
    json_error_t je;
    json_t *golden = json_load_file("tests/data/validate/token_counts.json", 0, &je);
    REQUIRE(golden != NULL);
    const char *key;
    json_t *model;
    int checked = 0;
    json_object_foreach(json_object_get(golden, "models"), key, model) {
        const char *path = json_string_value(json_object_get(model, "path"));
        if (access(path, R_OK) != 0) {
            fprintf(stderr, "    %s: %s missing, skipped\n", key, path);
            continue;
        }
        TextModel *tm;
        Err err = {0};
        if (text_model_load(path, &tm, &err)) {
            test_fail(__FILE__, __LINE__, "%s: %s", path, err.msg);
            continue;
        }
        CHECK(tm->template_warning == NULL);
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(model, "cases"), i, c) {
            const char *name = json_string_value(json_object_get(c, "name"));
            JDoc d;
            jdoc_init(&d, 10000);
            ExampleMessages em;
            example_messages_init(&em);
            char *text = NULL;
            ExampleTokenCounts counts;
            int32_t *ids = NULL;
            uint8_t *mask = NULL;
            if (golden_messages(json_object_get(c, "example"), &d, &text, &em) ||
                example_tokenize(tm, &em, 0, &ids, &mask, &counts, &err)) {
                test_fail(__FILE__, __LINE__, "%s/%s: %s", key, name, err.msg);
            } else {
                long want_tokens = (long)json_integer_value(json_object_get(c, "tokens"));
                long want_trained = (long)json_integer_value(json_object_get(c, "trained_tokens"));
                if (counts.n_tokens != want_tokens || counts.n_trained != want_trained)
                    test_fail(__FILE__, __LINE__, "%s/%s: %ld tokens, %ld trained; reference %ld, %ld", key, name,
                              counts.n_tokens, counts.n_trained, want_tokens, want_trained);
                json_t *want_ids = json_object_get(c, "ids");
                bool same = json_array_size(want_ids) == (size_t)counts.n_tokens;
                for (long t = 0; same && t < counts.n_tokens; t++)
                    same = json_integer_value(json_array_get(want_ids, (size_t)t)) == ids[t];
                if (!same)
                    test_fail(__FILE__, __LINE__, "%s/%s: token ids differ from one-piece tokenization", key, name);
                long masked = 0;
                for (long t = 0; t < counts.n_tokens; t++) masked += mask[t];
                CHECK_EQ_INT(masked, counts.n_trained);
                /* A limit counts only the trained tokens before it. */
                ExampleTokenCounts cut;
                if (example_tokenize(tm, &em, counts.n_tokens - 1, NULL, NULL, &cut, &err) == 0)
                    CHECK_EQ_INT(cut.n_trained_kept, counts.n_trained - mask[counts.n_tokens - 1]);
                checked++;
            }
            free(ids);
            free(mask);
            free(text);
            example_messages_free(&em);
            jdoc_free(&d);
        }
        check_previews(key, model, tm);
        text_model_free(tm);
    }
    json_decref(golden);
    if (checked == 0) test_skip("no model for the token-count reference");
}

TEST(validate_text_model_loading) {
    TextModel *tm;
    Err err = {0};
    CHECK(text_model_load("/nonexistent/model.gguf", &tm, &err) == -1 && err.code == ERR_IO);
    if (access("models/stories260K.gguf", R_OK) == 0) { /* no template: the plain format */
        REQUIRE(text_model_load("models/stories260K.gguf", &tm, &err) == 0);
        CHECK(strcmp(chat_template_variant(tm->tmpl), "plain") == 0);
        CHECK(tm->context_length > 0);
        text_model_free(tm);
    }
    if (access("models/tiny-qwen2", R_OK) == 0) {
        REQUIRE(text_model_load("models/tiny-qwen2", &tm, &err) == 0);
        CHECK_EQ_INT(tm->context_length, 512);
        CHECK(strcmp(chat_template_variant(tm->tmpl), "qwen2.5") == 0);
        text_model_free(tm);
    }
}

static void ignore_problem(void *ctx, ValidateSeverity sev, const char *code, const char *path, const char *message) {
    (void)sev, (void)code, (void)path, (void)message;
    (*(int *)ctx)++;
}

TEST(validate_example_hashes) {
    /* The rules hash each message once for both hashes; the whole-example hash must still be the
     * canonical jdoc_hash, and the prompt hash must ignore the last assistant turn only. */
    const char *ex[] = {
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"a\"}],\"parallel_"
        "tool_calls\":true}",
        "{\"parallel_tool_calls\":true,\"messages\":[{\"content\":\"hi\",\"role\":\"user\"},{\"role\":\"assistant\","
        "\"content\":\"b\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"a\"}]}",
    };
    JDoc d;
    jdoc_init(&d, 1000);
    ExampleRules rules;
    int n_problems = 0;
    rules_init(&rules, VALIDATE_SUPERVISED, ignore_problem, &n_problems);
    ExampleSummary s[3];
    for (int i = 0; i < 3; i++) {
        REQUIRE(jdoc_parse(&d, ex[i], strlen(ex[i])) == JDOC_OK);
        CHECK_EQ_INT(rules_check_example(&rules, &d, 0, &s[i]), 0);
        CHECK(s[i].example_hash == (jdoc_hash(&d, 0) | 1));
    }
    CHECK_EQ_INT(n_problems, 0);
    CHECK(s[0].prompt_hash == s[1].prompt_hash); /* same prompt, different answer */
    CHECK(s[0].example_hash != s[1].example_hash);
    CHECK(s[0].prompt_hash != s[2].prompt_hash); /* parallel_tool_calls is part of the prompt */
    rules_free(&rules);
    jdoc_free(&d);
}

TEST(validate_template_error_reported) {
    /* A conversation that the model's template cannot express (a tool message under Llama 3; roles
     * out of order under Llama 2) is an error of that example, with the template's reason. */
    const char *tok_model = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
    if (access(tok_model, R_OK) != 0) {
        test_skip("no SmolLM2 GGUF for its tokenizer");
        return;
    }
    TextModel *tm;
    Err err = {0};
    REQUIRE(text_model_load(tok_model, &tm, &err) == 0);
    char *src = NULL;
    FILE *f = fopen("tests/data/chat_templates/llama3-8b-instruct.jinja", "rb");
    REQUIRE(f != NULL);
    src = calloc(1, CHAT_TEMPLATE_SOURCE_MAX + 1);
    size_t n = fread(src, 1, CHAT_TEMPLATE_SOURCE_MAX, f);
    fclose(f);
    REQUIRE(n > 0);
    chat_template_free(tm->tmpl);
    tm->tmpl = NULL;
    REQUIRE(chat_template_new(src, "<|begin_of_text|>", "<|eot_id|>", &tm->tmpl, &err) == 0);
    free(src);
    char path[TMP_PATH_MAX];
    tmp_path(path, "tmpl.jsonl");
    f = fopen(path, "w");
    REQUIRE(f != NULL);
    for (int i = 0; i < 10; i++)
        fprintf(f,
                "{\"messages\":[{\"role\":\"user\",\"content\":\"q%d\"},{\"role\":\"assistant\",\"content\":\"a\"}]}\n",
                i);
    fputs("{\"messages\":[{\"role\":\"user\",\"content\":\"w?\"},{\"role\":\"assistant\",\"content\":null,\"tool_"
          "calls\":[{\"id\":\"c\","
          "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_"
          "id\":\"c\","
          "\"content\":\"x\"},{\"role\":\"assistant\",\"content\":\"y\"}]}\n",
          f);
    fclose(f);
    ValidateOptions opt;
    validate_options_default(&opt);
    opt.model = tm;
    ValidateReport rep;
    REQUIRE(validate_file(path, &opt, &rep, &err) == 0);
    CHECK_EQ_INT(rep.errors, 1);
    CHECK_EQ_INT(rep.valid_examples, 10);
    REQUIRE(rep.n_problems == 1);
    CHECK(rep.problems[0].line == 11 && strcmp(rep.problems[0].code, "template_error") == 0);
    CHECK(strstr(rep.problems[0].message, "the model's chat template cannot render this example: message 2") != NULL);
    CHECK(strcmp(rep.model_template, "llama3") == 0);
    CHECK(rep.tokens.min > 0);
    validate_report_free(&rep);
    unlink(path);
    text_model_free(tm);
}
