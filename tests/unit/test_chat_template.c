/* test_chat_template.c: the native chat-template renderer against jinja2's renderings of real
 * templates (tests/golden/chat_template/NAME.json, written by scripts/golden_chat_template.py from
 * tests/data/chat_templates/NAME.jinja), plus recognition, constant extraction, the plain fallback
 * and argument errors. Every golden case must render byte-identically or fail where jinja2 (or
 * ftune's documented policy) fails. */
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "text/chat_template.h"

#define GOLDEN_DIR "tests/golden/chat_template"
#define GOLDEN_FILES_MIN 10 /* smollm2, qwen1.5, qwen2.5, llama3, llama3.1, llama3.2, llama2, 3 x mistral */
#define GOLDEN_CASES_MIN 15
#define PATH_MAX_LEN 512
#define MAX_CASE_MSGS 64

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) buf[n] = 0;
    fclose(f);
    return buf;
}

/* Prints where got and want first differ, with a little context on both sides. */
static void report_diff(const char *file, const char *case_name, const char *got, size_t got_len,
                        const char *want, size_t want_len) {
    size_t i = 0;
    while (i < got_len && i < want_len && got[i] == want[i]) i++;
    size_t from = i > 20 ? i - 20 : 0;
    int gl = (int)((got_len - from) < 60 ? got_len - from : 60);
    int wl = (int)((want_len - from) < 60 ? want_len - from : 60);
    test_fail(__FILE__, __LINE__, "%s: case '%s' differs at byte %zu (got %zu bytes, want %zu)\n"
              "      got : ...%.*s...\n      want: ...%.*s...",
              file, case_name, i, got_len, want_len, gl, got + from, wl, want + from);
}

static const char *json_str_or_null(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Runs one golden file; returns the number of cases run. */
static int run_golden(const char *path) {
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) {
        test_fail(__FILE__, __LINE__, "%s: %s (line %d)", path, jerr.text, jerr.line);
        return 0;
    }
    const char *tpl_path = json_str_or_null(doc, "template_file");
    char *source = tpl_path ? slurp(tpl_path) : NULL;
    int n_run = 0;
    if (!source) {
        test_fail(__FILE__, __LINE__, "%s: cannot read template_file", path);
        json_decref(doc);
        return 0;
    }
    ChatTemplate *ct = NULL;
    Err err = {0};
    if (chat_template_new(source, json_str_or_null(doc, "bos_token"), json_str_or_null(doc, "eos_token"),
                          &ct, &err) != 0) {
        test_fail(__FILE__, __LINE__, "%s: template not recognised: %s", path, err.msg);
        free(source);
        json_decref(doc);
        return 0;
    }
    const char *want_kind = json_str_or_null(doc, "expected_kind");
    const char *want_variant = json_str_or_null(doc, "expected_variant");
    if (!want_kind || strcmp(chat_template_kind_name(chat_template_kind(ct)), want_kind) != 0 ||
        !want_variant || strcmp(chat_template_variant(ct), want_variant) != 0)
        test_fail(__FILE__, __LINE__, "%s: recognised as %s/%s, want %s/%s", path,
                  chat_template_kind_name(chat_template_kind(ct)), chat_template_variant(ct),
                  want_kind ? want_kind : "?", want_variant ? want_variant : "?");

    json_t *cases = json_object_get(doc, "cases");
    size_t ci;
    json_t *c;
    int reported = 0;
    json_array_foreach(cases, ci, c) {
        const char *name = json_str_or_null(c, "name");
        json_t *jm = json_object_get(c, "messages");
        ChatMessage msgs[MAX_CASE_MSGS] = {0};
        ChatToolCall calls[MAX_CASE_MSGS];
        char *tools[MAX_CASE_MSGS];
        int n = 0, n_calls = 0, n_tools = 0;
        size_t mi;
        json_t *m;
        json_array_foreach(jm, mi, m) {
            if (n == MAX_CASE_MSGS) break;
            msgs[n].role = json_str_or_null(m, "role");
            msgs[n].content = json_str_or_null(m, "content");
            if (!msgs[n].content) msgs[n].content = ""; /* an assistant's null content */
            size_t k;
            json_t *tc;
            msgs[n].tool_calls = calls + n_calls;
            json_array_foreach(json_object_get(m, "tool_calls"), k, tc) {
                if (n_calls == MAX_CASE_MSGS) break;
                json_t *fn = json_object_get(tc, "function");
                calls[n_calls++] = (ChatToolCall){json_str_or_null(fn, "name"), json_str_or_null(fn, "arguments")};
                msgs[n].n_tool_calls++;
            }
            n++;
        }
        json_t *t;
        json_array_foreach(json_object_get(c, "tools"), mi, t) /* the tools as JSON text, keys in order */
            if (n_tools < MAX_CASE_MSGS) tools[n_tools++] = json_dumps(t, JSON_COMPACT);
        bool gen = json_is_true(json_object_get(c, "add_generation_prompt"));
        bool want_error = json_is_true(json_object_get(c, "expect_error"));
        bool tool_case = n_tools > 0 || n_calls > 0;
        char *got = NULL;
        size_t got_len = 0;
        Err rerr = {0};
        int rc = chat_template_render_tools(ct, msgs, n, (const char *const *)tools, n_tools, gen, &got, &got_len, &rerr);
        for (int i = 0; i < n_tools; i++) free(tools[i]);
        n_run++;
        if (want_error) {
            if (rc == 0 && reported++ < 3)
                test_fail(__FILE__, __LINE__, "%s: case '%s' rendered, but the template (%s) fails: %s",
                          path, name, json_str_or_null(c, "error_source"), json_str_or_null(c, "error"));
            else if (rc != 0 && tool_case && rerr.code != ERR_UNSUPPORTED && rerr.code != ERR_ARG)
                test_fail(__FILE__, __LINE__, "%s: case '%s' error code %d, want ERR_UNSUPPORTED", path, name, rerr.code);
            else if (rc != 0 && !tool_case && rerr.code != ERR_ARG)
                test_fail(__FILE__, __LINE__, "%s: case '%s' error code %d, want ERR_ARG", path, name, rerr.code);
        } else {
            json_t *jw = json_object_get(c, "expected");
            const char *want = json_string_value(jw);
            size_t want_len = json_string_length(jw);
            if (rc != 0) {
                if (reported++ < 3)
                    test_fail(__FILE__, __LINE__, "%s: case '%s' failed: %s", path, name, rerr.msg);
            } else if (got_len != want_len || memcmp(got, want, want_len) != 0 || strlen(got) != got_len) {
                if (reported++ < 3) report_diff(path, name, got, got_len, want, want_len);
            }
        }
        free(got);
    }
    chat_template_free(ct);
    free(source);
    json_decref(doc);
    return n_run;
}

TEST(chat_template_golden_all_cases_byte_identical) {
    DIR *d = opendir(GOLDEN_DIR);
    if (!d) { test_skip(GOLDEN_DIR " not found (run from the repository root)"); return; }
    int n_files = 0, n_cases = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0) continue;
        char path[PATH_MAX_LEN];
        snprintf(path, sizeof path, "%s/%s", GOLDEN_DIR, e->d_name);
        int n = run_golden(path);
        if (n < GOLDEN_CASES_MIN) test_fail(__FILE__, __LINE__, "%s: only %d cases", path, n);
        n_files++;
        n_cases += n;
    }
    closedir(d);
    CHECK(n_files >= GOLDEN_FILES_MIN);
    printf("    %d golden files, %d cases\n", n_files, n_cases);
}

/* ---------------------------------------------------------------------------------------------
 * Recognition and constants. */

static ChatTemplate *make(const char *src, const char *bos, const char *eos) {
    ChatTemplate *ct = NULL;
    Err err = {0};
    if (chat_template_new(src, bos, eos, &ct, &err) != 0) {
        test_fail(__FILE__, __LINE__, "chat_template_new: %s", err.msg);
        return NULL;
    }
    return ct;
}

static char *render(const ChatTemplate *ct, const ChatMessage *m, int n, bool gen) {
    char *out = NULL;
    Err err = {0};
    if (chat_template_render(ct, m, n, gen, &out, NULL, &err) != 0) {
        test_fail(__FILE__, __LINE__, "render: %s", err.msg);
        return NULL;
    }
    return out;
}

static void expect_unsupported(const char *src, const char *what) {
    ChatTemplate *ct = NULL;
    Err err = {0};
    int rc = chat_template_new(src, "<s>", "</s>", &ct, &err);
    if (rc == 0 || err.code != ERR_UNSUPPORTED || ct != NULL || err.msg[0] == 0)
        test_fail(__FILE__, __LINE__, "%s: rc %d code %d (%s), want ERR_UNSUPPORTED", what, rc, err.code, err.msg);
    chat_template_free(ct);
}

TEST(chat_template_unknown_templates_are_unsupported) {
    /* google/gemma-7b-it (real template, not a supported family) */
    expect_unsupported("{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}",
                       "gemma");
    /* Zephyr / TinyLlama-chat: writes newlines outside tags */
    expect_unsupported("{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}",
                       "zephyr");
    /* ChatML that writes a newline after each turn's tag: same literals, different output */
    expect_unsupported("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>'}}\n{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
                       "chatml with raw newline");
    /* ChatML with an extra feature (a date variable) */
    expect_unsupported("{{ date_string }}{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
                       "chatml with extra name");
    /* Llama 3 header spelled differently */
    expect_unsupported("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n' }}{% endif %}",
                       "llama3 single newline");
    /* Llama 3 without trim */
    expect_unsupported("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
                       "llama3 without trim");
    /* Equivalent output but not token for token one of the references: rejected, not guessed. */
    expect_unsupported("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
                       "chatml with merged literal");
    /* A one-token logic change: messages[0] -> message[0] */
    expect_unsupported("{% for message in messages %}{% if loop.first and message[0]['role'] != 'system' %}{{ '<|im_start|>system\nX<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
                       "chatml logic change");
    expect_unsupported("{{ messages }}", "trivial");
    expect_unsupported("Hello {{ name }}", "text outside tags");
    expect_unsupported("   ", "whitespace only");

    Err err = {0};
    ChatTemplate *ct = NULL;
    CHECK(chat_template_new("{% for message in messages %}", NULL, NULL, &ct, &err) != 0);
    CHECK(ct == NULL);
    err = (Err){0};
    CHECK(chat_template_new("{{ 'unterminated }}", NULL, NULL, &ct, &err) != 0);
    CHECK(err.code == ERR_FORMAT);
    err = (Err){0};
    CHECK(chat_template_new("{# never closed", NULL, NULL, &ct, &err) != 0);
    CHECK(err.code == ERR_FORMAT);
}

static const char SMOLLM2_TPL_PATH[] = "tests/data/chat_templates/smollm2-135m-instruct.jinja";

TEST(chat_template_smollm2_default_system_is_extracted) {
    char *src = slurp(SMOLLM2_TPL_PATH);
    if (!src) { test_skip("SmolLM2 template file not found"); return; }
    ChatTemplate *ct = make(src, NULL, NULL);
    REQUIRE(ct);
    CHECK(chat_template_kind(ct) == CHAT_TEMPLATE_CHATML);
    REQUIRE(chat_template_default_system(ct));
    CHECK(strcmp(chat_template_default_system(ct),
                 "You are a helpful AI assistant named SmolLM, trained by Hugging Face") == 0);
    CHECK(!chat_template_adds_bos(ct));
    CHECK(strcmp(chat_template_end_of_turn(ct), "<|im_end|>") == 0);
    chat_template_free(ct);

    /* A fine-tune that changed the default: the new text is what gets rendered. */
    const char *old = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
    char *at = strstr(src, old);
    REQUIRE(at);
    char edited[2048];
    snprintf(edited, sizeof edited, "%.*sYou are Bob.%s", (int)(at - src), src, at + strlen(old));
    ct = make(edited, NULL, NULL);
    REQUIRE(ct);
    ChatMessage m[] = {{.role = "user", .content = "hi"}};
    char *out = render(ct, m, 1, true);
    CHECK(out && strcmp(out, "<|im_start|>system\nYou are Bob.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
                             "<|im_start|>assistant\n") == 0);
    free(out);
    chat_template_free(ct);
    free(src);
}

TEST(chat_template_qwen25_default_system_must_agree) {
    char *src = slurp("tests/data/chat_templates/qwen2.5-instruct.jinja");
    if (!src) { test_skip("qwen2.5 template file not found"); return; }
    const char *dflt = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
    ChatTemplate *ct = make(src, NULL, "<|im_end|>");
    REQUIRE(ct);
    CHECK(strcmp(chat_template_variant(ct), "qwen2.5") == 0);
    CHECK(chat_template_default_system(ct) && strcmp(chat_template_default_system(ct), dflt) == 0);
    chat_template_free(ct);
    /* Change only the first occurrence (the tools branch): the two no longer agree. */
    char *at = strstr(src, dflt);
    REQUIRE(at);
    at[0] = 'W';
    expect_unsupported(src, "qwen2.5 with disagreeing default system messages");
    free(src);
}

TEST(chat_template_reformatted_chatml_is_recognised) {
    /* The generic ChatML template, written with whitespace control, other quotes and escapes, a
     * comment and CRLF line ends: the same tokens, so the same output. */
    const char *src =
        "{#- plain ChatML -#}\r\n"
        "{%- for message in messages -%}\r\n"
        "    {{- \"<|im_start|>\" + message[\"role\"] + '\\x0a' + message['content'] + '<|im_end|>' + \"\\u000a\" -}}\n"
        "{%- endfor -%}\n"
        "{%- if add_generation_prompt -%}\n"
        "    {{- '<|im_start|>assistant\\n' -}}\n"
        "{%- endif -%}\n";
    ChatTemplate *ct = make(src, NULL, NULL);
    REQUIRE(ct);
    CHECK(strcmp(chat_template_variant(ct), "chatml") == 0);
    CHECK(chat_template_default_system(ct) == NULL);
    ChatMessage m[] = {{.role = "developer", .content = "sys"}, {.role = "user", .content = "q"}, {.role = "tool", .content = "r"}};
    char *out = render(ct, m, 3, false);
    CHECK(out && strcmp(out, "<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nq<|im_end|>\n"
                             "<|im_start|>tool\nr<|im_end|>\n") == 0);
    free(out);
    chat_template_free(ct);
}

TEST(chat_template_llama3_defaults_and_markers) {
    char *src = slurp("tests/data/chat_templates/llama3-8b-instruct.jinja");
    if (!src) { test_skip("llama3 template file not found"); return; }
    ChatTemplate *ct = make(src, NULL, NULL); /* no bos given: the family's own */
    REQUIRE(ct);
    CHECK(chat_template_kind(ct) == CHAT_TEMPLATE_LLAMA3);
    CHECK(chat_template_adds_bos(ct));
    CHECK(strcmp(chat_template_end_of_turn(ct), "<|eot_id|>") == 0);
    ChatMessage m[] = {{.role = "user", .content = "  hi  "}};
    char *out = render(ct, m, 1, true);
    CHECK(out && strcmp(out, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
                             "<|start_header_id|>assistant<|end_header_id|>\n\n") == 0);
    free(out);
    Err err = {0};
    ChatMessage t[] = {{.role = "user", .content = "x"}, {.role = "tool", .content = "y"}};
    char *bad = NULL;
    CHECK(chat_template_render(ct, t, 2, true, &bad, NULL, &err) != 0);
    CHECK(bad == NULL && err.code == ERR_ARG && strstr(err.msg, "message 1") != NULL);
    chat_template_free(ct);

    /* The first Llama 3 release appended the assistant header unconditionally. */
    const char *old_src = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}";
    ct = make(old_src, "<|begin_of_text|>", "<|eot_id|>");
    REQUIRE(ct);
    CHECK(strcmp(chat_template_variant(ct), "llama3-always-gen") == 0);
    out = render(ct, m, 1, false);
    CHECK(out && strstr(out, "<|start_header_id|>assistant<|end_header_id|>\n\n") != NULL);
    free(out);
    chat_template_free(ct);
    free(src);
}

/* Llama 3.1 / 3.2: recognised from the real sources, tool syntax and both end markers; a one-token
 * edit of the date default (or a template without its tools logic) is no longer either. */
TEST(chat_template_llama31_variants_and_markers) {
    const char *files[] = {"tests/data/chat_templates/llama3.1-8b-instruct.jinja",
                           "tests/data/chat_templates/llama3.2-3b-instruct.jinja"};
    const char *variants[] = {"llama3.1", "llama3.2"};
    for (int f = 0; f < 2; f++) {
        char *src = slurp(files[f]);
        REQUIRE(src);
        ChatTemplate *ct = make(src, NULL, NULL);
        REQUIRE(ct);
        CHECK(chat_template_kind(ct) == CHAT_TEMPLATE_LLAMA3 && strcmp(chat_template_variant(ct), variants[f]) == 0);
        CHECK(chat_template_tool_syntax(ct) == &tool_syntax_llama3_json);
        CHECK(strcmp(chat_template_end_of_turn(ct), "<|eot_id|>") == 0);
        CHECK(strcmp(chat_template_end_of_message(ct), "<|eom_id|>") == 0);
        ChatMessage m[] = {{.role = "user", .content = " hi "}};
        char *out = render(ct, m, 1, false);
        CHECK(out && strcmp(out, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge "
                                 "Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user"
                                 "<|end_header_id|>\n\nhi<|eot_id|>") == 0);
        free(out);
        chat_template_free(ct);
        char *edit = strstr(src, "26 Jul 2024");
        REQUIRE(edit);
        edit[0] = '2', edit[1] = '7';
        Err err = {0};
        CHECK(chat_template_new(src, NULL, NULL, &ct, &err) != 0 && err.code == ERR_UNSUPPORTED);
        CHECK(strstr(err.msg, variants[f]) != NULL);
        free(src);
    }
    char *src = slurp("tests/data/chat_templates/llama3-8b-instruct.jinja");
    REQUIRE(src);
    ChatTemplate *ct = make(src, NULL, NULL);
    REQUIRE(ct);
    CHECK(chat_template_tool_syntax(ct) == NULL && chat_template_end_of_message(ct) == NULL);
    chat_template_free(ct);
    free(src);
}

TEST(chat_template_end_of_turn_for_inst_families_is_eos) {
    char *l2 = slurp("tests/data/chat_templates/llama2-chat.jinja");
    char *mi = slurp("tests/data/chat_templates/mistral-7b-instruct-v0.2.jinja");
    if (!l2 || !mi) { free(l2); free(mi); test_skip("template files not found"); return; }
    ChatTemplate *a = make(l2, NULL, NULL), *b = make(mi, "<s>", "</s>");
    REQUIRE(a && b);
    CHECK(strcmp(chat_template_end_of_turn(a), "</s>") == 0);
    CHECK(strcmp(chat_template_end_of_turn(b), "</s>") == 0);
    CHECK(chat_template_adds_bos(a) && chat_template_adds_bos(b));
    CHECK(strcmp(chat_template_kind_name(chat_template_kind(a)), "llama2") == 0);
    CHECK(strcmp(chat_template_kind_name(chat_template_kind(b)), "mistral") == 0);
    chat_template_free(a);
    chat_template_free(b);
    free(l2);
    free(mi);
}

/* ---------------------------------------------------------------------------------------------
 * The plain fallback. */

TEST(chat_template_null_template_is_plain) {
    ChatTemplate *ct = make(NULL, NULL, NULL);
    REQUIRE(ct);
    CHECK(chat_template_kind(ct) == CHAT_TEMPLATE_PLAIN);
    CHECK(strcmp(chat_template_variant(ct), "plain") == 0);
    CHECK(chat_template_end_of_turn(ct) == NULL);
    CHECK(!chat_template_adds_bos(ct));
    ChatMessage m[] = {{.role = "developer", .content = "Be brief."}, {.role = "user", .content = "Hi\nthere"}, {.role = "assistant", .content = ""},
                       {.role = "tool", .content = "{}"}};
    char *out = render(ct, m, 4, true);
    CHECK(out && strcmp(out, "system: Be brief.\nuser: Hi\nthere\nassistant: \ntool: {}\nassistant:") == 0);
    free(out);
    out = render(ct, m, 2, false);
    CHECK(out && strcmp(out, "system: Be brief.\nuser: Hi\nthere\n") == 0);
    free(out);
    chat_template_free(ct);

    ct = make("", "<s>", "</s>"); /* "" is the same as NULL; a known bos is written first */
    REQUIRE(ct);
    CHECK(chat_template_kind(ct) == CHAT_TEMPLATE_PLAIN);
    CHECK(chat_template_adds_bos(ct));
    out = render(ct, m + 1, 1, true);
    CHECK(out && strcmp(out, "<s>user: Hi\nthere\nassistant:") == 0);
    free(out);
    chat_template_free(ct);
}

/* ---------------------------------------------------------------------------------------------
 * Argument errors. */

TEST(chat_template_render_argument_errors) {
    ChatTemplate *ct = make(NULL, NULL, NULL);
    REQUIRE(ct);
    ChatMessage ok[] = {{.role = "user", .content = "x"}};
    char *out = (char *)1;
    size_t len = 7;
    Err err = {0};
    CHECK(chat_template_render(ct, ok, 0, true, &out, &len, &err) != 0);
    CHECK(err.code == ERR_ARG && out == NULL && len == 0);

    ChatMessage bad_role[] = {{.role = "user", .content = "x"}, {.role = "function", .content = "y"}};
    err = (Err){0};
    CHECK(chat_template_render(ct, bad_role, 2, true, &out, NULL, &err) != 0);
    CHECK(err.code == ERR_ARG && strstr(err.msg, "message 1") && strstr(err.msg, "function"));

    ChatMessage null_content[] = {{.role = "user", .content = NULL}};
    err = (Err){0};
    CHECK(chat_template_render(ct, null_content, 1, true, &out, NULL, &err) != 0);
    CHECK(err.code == ERR_ARG && strstr(err.msg, "message 0"));

    err = (Err){0};
    CHECK(chat_template_render(ct, ok, 1, true, NULL, NULL, &err) != 0);
    CHECK(chat_template_render(ct, ok, 1, true, &out, &len, NULL) == 0); /* NULL Err is fine */
    CHECK(out && len == strlen(out) && strcmp(out, "user: x\nassistant:") == 0);
    free(out);
    chat_template_free(ct);
    chat_template_free(NULL);

    char long_tok[CHAT_TEMPLATE_SPECIAL_MAX + 2];
    memset(long_tok, 'a', sizeof long_tok - 1);
    long_tok[sizeof long_tok - 1] = 0;
    err = (Err){0};
    CHECK(chat_template_new(NULL, long_tok, NULL, &ct, &err) != 0 && err.code == ERR_ARG);
}

TEST(chat_template_llama2_reports_message_index_for_order_errors) {
    char *src = slurp("tests/data/chat_templates/llama2-chat.jinja");
    if (!src) { test_skip("llama2 template file not found"); return; }
    ChatTemplate *ct = make(src, "<s>", "</s>");
    REQUIRE(ct);
    ChatMessage m[] = {{.role = "system", .content = "s"}, {.role = "user", .content = "a"}, {.role = "user", .content = "b"}};
    Err err = {0};
    char *out = NULL;
    CHECK(chat_template_render(ct, m, 3, true, &out, NULL, &err) != 0);
    CHECK(err.code == ERR_ARG && strstr(err.msg, "message 2") != NULL);
    ChatMessage d[] = {{.role = "user", .content = "a"}, {.role = "system", .content = "dropped"}, {.role = "user", .content = "b"}};
    err = (Err){0};
    CHECK(chat_template_render(ct, d, 3, true, &out, NULL, &err) != 0);
    CHECK(err.code == ERR_ARG && strstr(err.msg, "message 1") != NULL);
    chat_template_free(ct);
    free(src);
}
