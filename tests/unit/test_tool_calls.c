/* test_tool_calls.c: tool calling below the server: Python-style JSON (json_py.c, the templates'
 * tojson; expected strings are Python's json.dumps output), reading calls out of replies
 * (tool_calls.c: well-formed, malformed, several calls, text before a call, the streaming
 * hold-back), the grammar of required calls (tool_grammar.c) run byte by byte, and training and
 * serving rendering a call alike. The rendering of tools through the templates is checked against
 * jinja2 in test_chat_template.c's goldens. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/example_messages.h"
#include "data/example_tokens.h"
#include "model/constrain.h"
#include "model/text_model.h"
#include "model/tool_grammar.h"
#include "model/vocab_trie.h"
#include "test.h"
#include "text/json_py.h"
#include "text/tool_calls.h"

static char *dumps(const char *json, bool compact) {
    char *out = NULL;
    Err e = {0};
    if (json_py_dumps(json, strlen(json), compact, &out, NULL, &e)) return NULL;
    return out;
}

TEST(json_py_writes_what_python_json_dumps_writes) {
    /* python3 -c 'import json; print(json.dumps(json.loads(S)))' for each S */
    struct { const char *in, *want; } cases[] = {
        {"[0.1,1e-5,1e16,100,1E2,-0.0,2.5e-7,1.7976931348623157e308,5e-324,123456789.123,-1e-4,1e15,"
         "12345678901234567.0]",
         "[0.1, 1e-05, 1e+16, 100, 100.0, -0.0, 2.5e-07, 1.7976931348623157e+308, 5e-324, 123456789.123, "
         "-0.0001, 1000000000000000.0, 1.2345678901234568e+16]"},
        {"{\"b\" : 1,\"a\":{ }, \"c\":[ ],\"d\":[true,false,null]}", "{\"b\": 1, \"a\": {}, \"c\": [], \"d\": [true, false, null]}"},
        {"\"tab\\there\\u0001\\u001f\\/\\\\ <>&'\\\" \\u00e9 \\ud83d\\ude00 \\u2028\\u007f\"",
         "\"tab\\there\\u0001\\u001f/\\\\ <>&'\\\" \xc3\xa9 \xf0\x9f\x98\x80 \xe2\x80\xa8\x7f\""},
        {"-9223372036854775808", "-9223372036854775808"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = dumps(cases[i].in, false);
        CHECK(got && strcmp(got, cases[i].want) == 0);
        if (got && strcmp(got, cases[i].want) != 0) printf("    got  %s\n    want %s\n", got, cases[i].want);
        free(got);
    }
    char *c = dumps("{\"a\": [1, 2.50], \"b\": {\"c\": \"d\"}}", true);
    CHECK(c && strcmp(c, "{\"a\":[1,2.5],\"b\":{\"c\":\"d\"}}") == 0);
    free(c);
    char *out = NULL;
    Err e = {0};
    CHECK(json_py_dumps("{\"a\":", 5, false, &out, NULL, &e) == -1 && e.code == ERR_ARG && !out);
    CHECK(json_py_dumps("[123456789012345678901234]", 26, false, &out, NULL, &e) == -1 && e.code == ERR_ARG);
    CHECK(json_py_dumps_string("a\"b\n", 4, &out, NULL, &e) == 0 && strcmp(out, "\"a\\\"b\\n\"") == 0);
    free(out);
}

static int parse(const char *text, int max_calls, ToolReply *r) {
    Err e = {0};
    return tool_reply_parse(&tool_syntax_hermes, text, strlen(text), max_calls, r, &e);
}

TEST(tool_reply_reads_one_call) {
    ToolReply r;
    REQUIRE(parse("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2.50, "
                  "\"opts\": {\"unit\": \"celsius\"}}}\n</tool_call>", 8, &r) == 0);
    CHECK(r.n_calls == 1 && r.content_len == 0 && strcmp(r.content, "") == 0);
    if (r.n_calls == 1) {
        CHECK(strcmp(r.calls[0].name, "get_weather") == 0);
        CHECK(strcmp(r.calls[0].arguments, "{\"city\":\"Paris\",\"days\":2.5,\"opts\":{\"unit\":\"celsius\"}}") == 0);
    }
    tool_reply_free(&r);
    /* a stop string may cut the closing marker; arguments may be given as a JSON string */
    REQUIRE(parse("<tool_call>\n{\"name\": \"now\", \"arguments\": \"{}\"}\n", 8, &r) == 0);
    CHECK(r.n_calls == 1 && r.n_calls && strcmp(r.calls[0].arguments, "{}") == 0);
    tool_reply_free(&r);
}

TEST(tool_reply_keeps_text_before_calls_and_reads_several) {
    ToolReply r;
    REQUIRE(parse("Let me check both cities.\n\n<tool_call>\n{\"name\": \"w\", \"arguments\": {\"city\": \"Paris\"}}\n"
                  "</tool_call>\n<tool_call>{\"name\":\"w\",\"arguments\":{\"city\":\"Rome\"}}</tool_call>\n",
                  8, &r) == 0);
    CHECK(r.n_calls == 2);
    CHECK(strcmp(r.content, "Let me check both cities.") == 0 && r.content_len == 25);
    if (r.n_calls == 2) {
        CHECK(strcmp(r.calls[0].arguments, "{\"city\":\"Paris\"}") == 0);
        CHECK(strcmp(r.calls[1].name, "w") == 0 && strcmp(r.calls[1].arguments, "{\"city\":\"Rome\"}") == 0);
    }
    tool_reply_free(&r);
}

TEST(tool_reply_malformed_calls_are_text) {
    const char *bad[] = {
        "<tool_call>\n{\"name\": \"w\", \"arguments\": {\"city\": }\n</tool_call>",     /* bad JSON */
        "<tool_call>\n{\"arguments\": {}}\n</tool_call>",                                /* no name */
        "<tool_call>\n{\"name\": 3, \"arguments\": {}}\n</tool_call>",                   /* name not a string */
        "<tool_call>\n{\"name\": \"w\", \"arguments\": [1]}\n</tool_call>",              /* arguments not an object */
        "<tool_call>\n{\"name\": \"w\", \"arguments\": \"{oops\"}\n</tool_call>",        /* a string of no object */
        "<tool_call>\n{\"name\": \"w\", \"arguments\": {}, \"x\": 1}\n</tool_call>",     /* an extra key */
        "<tool_call>\n{\"name\": \"w\", \"arguments\": {}}\n</tool_call> and then text", /* text after the calls */
        "<tool_call>\n{\"name\": \"w\", \"arguments\": {}}<tool_call>{\"name\": \"w\", \"arguments\": {}}", /* no close */
        "<tool_call>\n",                                                                 /* nothing */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ToolReply r;
        REQUIRE(parse(bad[i], 8, &r) == 0);
        CHECK(r.n_calls == 0 && r.calls == NULL);
        CHECK(r.content_len == strlen(bad[i]) && strcmp(r.content, bad[i]) == 0);
        tool_reply_free(&r);
    }
    /* more calls than allowed (parallel_tool_calls false): text */
    ToolReply r;
    const char *two = "<tool_call>{\"name\":\"a\",\"arguments\":{}}</tool_call><tool_call>{\"name\":\"b\",\"arguments\":{}}"
                      "</tool_call>";
    REQUIRE(parse(two, 1, &r) == 0);
    CHECK(r.n_calls == 0 && strcmp(r.content, two) == 0);
    tool_reply_free(&r);
    REQUIRE(parse(two, 2, &r) == 0);
    CHECK(r.n_calls == 2);
    tool_reply_free(&r);
    REQUIRE(parse("plain answer, no call", 8, &r) == 0);
    CHECK(r.n_calls == 0 && strcmp(r.content, "plain answer, no call") == 0);
    tool_reply_free(&r);
}

TEST(tool_text_safe_len_holds_back_a_possible_call) {
    struct { const char *text; size_t want; } cases[] = {
        {"Hello world", 11}, {"Hello <tool", 5}, {"Hello <", 5}, {"Hello\n", 5}, {"a < b", 5},
        {"abc<tool_call>\n{\"name\"", 3}, {"<tool_call>", 0}, {"x <tool_cal y", 13}, {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = tool_text_safe_len(&tool_syntax_hermes, cases[i].text, strlen(cases[i].text));
        CHECK(got == cases[i].want);
        if (got != cases[i].want) printf("    '%s': %zu, want %zu\n", cases[i].text, got, cases[i].want);
    }
}

static const VocabTrie NO_VOCAB = {0};

/* 1: a valid prefix; 2: complete; 3: complete and nothing may follow; 0: refused. */
static int feed(const Grammar *g, const char *text) {
    Matcher *m;
    Err e = {0};
    if (matcher_new(g, &NO_VOCAB, &m, &e)) return -1;
    int rc = matcher_advance(m, text, strlen(text), &e) ? 0 : matcher_finished(m) ? 3 : matcher_accepting(m) ? 2 : 1;
    matcher_free(m);
    return rc;
}

static const char *const TOOLS[] = {
    "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\",\"properties\":"
    "{\"city\":{\"type\":\"string\"},\"unit\":{\"enum\":[\"celsius\",\"fahrenheit\"]}},\"required\":[\"city\"]}}}",
    "{\"type\":\"function\",\"function\":{\"name\":\"now\"}}",
};

TEST(tool_grammar_constrains_calls_to_the_schema) {
    Grammar g;
    Err e = {0};
    REQUIRE(tool_grammar_compile(&tool_syntax_hermes, TOOLS, 2, NULL, false, &g, &e) == 0);
    const char *w = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}"
                    "\n</tool_call>";
    CHECK(feed(&g, w) == 3);
    CHECK(feed(&g, "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>") == 3);
    CHECK(feed(&g, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"") == 1);
    CHECK(feed(&g, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": 3") == 0);   /* not a string */
    CHECK(feed(&g, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"town\"") == 0);    /* no such property */
    CHECK(feed(&g, "<tool_call>\n{\"name\": \"get_time\"") == 0);                                   /* no such function */
    CHECK(feed(&g, "Sure! <tool_call>") == 0);                                                     /* text first */
    grammar_free(&g);

    /* a named function only; parallel: one or more calls */
    REQUIRE(tool_grammar_compile(&tool_syntax_hermes, TOOLS, 2, "now", true, &g, &e) == 0);
    const char *now = "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>";
    CHECK(feed(&g, now) == 2);
    char two[256];
    snprintf(two, sizeof two, "%s\n%s", now, now);
    CHECK(feed(&g, two) == 2);
    CHECK(feed(&g, "<tool_call>\n{\"name\": \"get_weather\"") == 0);
    grammar_free(&g);
}

TEST(tool_grammar_refuses_bad_tools_naming_them) {
    Grammar g;
    Err e = {0};
    CHECK(tool_grammar_compile(&tool_syntax_hermes, TOOLS, 2, "missing", false, &g, &e) == -1 && e.code == ERR_ARG);
    CHECK(strstr(e.msg, "missing") != NULL);
    grammar_free(&g);
    const char *bad[] = {"{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\","
                         "\"properties\":{\"s\":{\"type\":\"string\",\"minLength\":3}}}}}"};
    e = (Err){0};
    CHECK(tool_grammar_compile(&tool_syntax_hermes, bad, 1, NULL, false, &g, &e) == -1 && e.code == ERR_UNSUPPORTED);
    CHECK(strstr(e.msg, "tool 0 (f)") && strstr(e.msg, "minLength"));
    grammar_free(&g);
    const char *not_fn[] = {"{\"type\":\"retrieval\"}"};
    e = (Err){0};
    CHECK(tool_grammar_compile(&tool_syntax_hermes, not_fn, 1, NULL, false, &g, &e) == -1 && e.code == ERR_ARG);
    grammar_free(&g);
}

TEST(json_py_indent_writes_what_python_json_dumps_indent_4_writes) {
    /* python3 -c 'import json; print(json.dumps(json.loads(S), indent=4))' */
    const char *in = "{\"a\": [1, 2.50, {}], \"b\": {\"c\": [], \"d\": {\"e\": null}}, \"f\": \"\u00e9\\n\"}";
    const char *want = "{\n    \"a\": [\n        1,\n        2.5,\n        {}\n    ],\n    \"b\": {\n        \"c\": [],\n"
                       "        \"d\": {\n            \"e\": null\n        }\n    },\n    \"f\": \"\xc3\xa9\\n\"\n}";
    char *out = NULL;
    Err e = {0};
    REQUIRE(json_py_dumps_indent(in, strlen(in), 4, &out, NULL, &e) == 0);
    CHECK(strcmp(out, want) == 0);
    if (strcmp(out, want) != 0) printf("    got  %s\n    want %s\n", out, want);
    free(out);
    CHECK(json_py_dumps_indent("7", 1, 4, &out, NULL, &e) == 0 && strcmp(out, "7") == 0);
    free(out);
    CHECK(json_py_dumps_indent("[1", 2, 4, &out, NULL, &e) == -1 && e.code == ERR_ARG && !out);
    CHECK(json_py_dumps_indent("[1]", 3, 0, &out, NULL, &e) == -1 && e.code == ERR_ARG);
}

static int parse_llama(const char *text, ToolReply *r) {
    Err e = {0};
    return tool_reply_parse(&tool_syntax_llama3_json, text, strlen(text), 8, r, &e);
}

/* Llama 3.1+: a reply that is one {"name", "parameters"} object (after an optional <|python_tag|>)
 * is a call; anything else is text. */
TEST(tool_reply_llama_reads_a_bare_call) {
    ToolReply r;
    const char *calls[] = {
        "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 2.50}}",
        "  <|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 2.5}}\n",
        "<|python_tag|> {\"parameters\": \"{\\\"city\\\": \\\"Paris\\\", \\\"days\\\": 2.5}\", \"name\": \"get_weather\"}",
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        REQUIRE(parse_llama(calls[i], &r) == 0);
        CHECK(r.n_calls == 1 && r.content_len == 0 && strcmp(r.content, "") == 0);
        if (r.n_calls == 1) {
            CHECK(strcmp(r.calls[0].name, "get_weather") == 0);
            CHECK(strcmp(r.calls[0].arguments, "{\"city\":\"Paris\",\"days\":2.5}") == 0);
        }
        tool_reply_free(&r);
    }
    const char *texts[] = {
        "Sure: {\"name\": \"f\", \"parameters\": {}}",          /* text first */
        "{\"name\": \"f\", \"parameters\": {}} and more",        /* text after */
        "{\"name\": \"f\", \"arguments\": {}}",                  /* Hermes keys */
        "{\"name\": \"f\", \"parameters\": [1]}",                /* arguments not an object */
        "{\"name\": \"f\", \"parameters\": {}}{\"name\": \"g\", \"parameters\": {}}", /* two */
        "{\"name\": \"f\", \"parameters\": {",                   /* cut off */
        "<|python_tag|>print(1)", "plain answer", "",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        REQUIRE(parse_llama(texts[i], &r) == 0);
        CHECK(r.n_calls == 0 && strcmp(r.content, texts[i]) == 0);
        tool_reply_free(&r);
    }
}

TEST(tool_text_safe_len_llama_holds_back_what_may_be_a_call) {
    struct { const char *text; size_t want; } cases[] = {
        {"Hello {x}", 9}, {"", 0}, {"  ", 0}, {"{\"name\"", 0}, {" {", 0}, {"<|python", 0},
        {"<|python_tag|>{\"na", 0}, {"<|python_tag|>print", 19}, {"<|pyx", 5}, {"x", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = tool_text_safe_len(&tool_syntax_llama3_json, cases[i].text, strlen(cases[i].text));
        CHECK(got == cases[i].want);
        if (got != cases[i].want) printf("    '%s': %zu, want %zu\n", cases[i].text, got, cases[i].want);
    }
}

TEST(tool_grammar_llama_is_one_bare_call) {
    Grammar g;
    Err e = {0};
    REQUIRE(tool_grammar_compile(&tool_syntax_llama3_json, TOOLS, 2, NULL, true, &g, &e) == 0); /* parallel: still one */
    CHECK(feed(&g, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}") == 3);
    CHECK(feed(&g, "{\"name\": \"now\", \"parameters\": {}}") == 3);
    CHECK(feed(&g, "{\"name\": \"now\", \"parameters\": {}}\n{") == 0);                 /* no second call */
    CHECK(feed(&g, "{\"name\": \"now\", \"arguments\"") == 0);                           /* Llama's key */
    CHECK(feed(&g, "{\"name\": \"get_weather\", \"parameters\": {\"city\": 3") == 0);
    CHECK(feed(&g, "<tool_call>") == 0);
    grammar_free(&g);
    REQUIRE(tool_grammar_compile(&tool_syntax_llama3_json, TOOLS, 2, "get_weather", false, &g, &e) == 0);
    CHECK(feed(&g, "{\"name\": \"now\"") == 0);
    CHECK(feed(&g, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"") == 1);
    grammar_free(&g);
}

/* Training and serving agree: an example with tools and a tool call, tokenized for training
 * (example_tokenize), starts with the prompt the server renders for the same conversation up to the
 * call (chat_template_render_tools, as ft_chat_prompt_tools), and its trained tokens after it are
 * the call as the model must write it: they read back (tool_reply_parse) as the same call. */
TEST(tool_training_and_serving_render_alike) {
    const char *path = "models/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf";
    if (access(path, R_OK) != 0) {
        test_skip("models/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf missing");
        return;
    }
    TextModel *tm;
    Err err = {0};
    REQUIRE(text_model_load(path, &tm, &err) == 0);
    REQUIRE(chat_template_tool_syntax(tm->tmpl) != NULL);
    const char *tool = "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": "
                       "\"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}}";
    char line[2048];
    snprintf(line, sizeof line,
             "{\"tools\": [%s], \"messages\": [{\"role\": \"user\", \"content\": \"Weather in Paris?\"}, "
             "{\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"call_1\", \"type\": "
             "\"function\", \"function\": {\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\":\\\"Paris\\\"}\"}}]}, "
             "{\"role\": \"tool\", \"tool_call_id\": \"call_1\", \"content\": \"18 C\"}, "
             "{\"role\": \"assistant\", \"content\": \"It is 18 C.\", \"weight\": 0}]}",
             tool);
    JDoc d;
    jdoc_init(&d, 10000);
    REQUIRE(jdoc_parse(&d, line, strlen(line)) == JDOC_OK);
    ExampleMessages em;
    example_messages_init(&em);
    REQUIRE(example_messages_add_tools(&em, &d, 0, &err) == 0);
    REQUIRE(example_messages_add_list(&em, &d, jdoc_get(&d, 0, "messages"), EXAMPLE_TRAIN_WEIGHT, &err) == 0);
    CHECK(em.n_tools == 1 && em.n == 4 && em.msgs[1].n_tool_calls == 1);
    int32_t *ids = NULL, *prompt = NULL;
    uint8_t *mask = NULL;
    ExampleTokenCounts counts;
    REQUIRE(example_tokenize(tm, &em, 0, &ids, &mask, &counts, &err) == 0);

    /* the server's prompt for the user turn, with the tool (JSON as the client wrote it) */
    ChatMessage user = {.role = "user", .content = "Weather in Paris?"};
    char *text = NULL;
    size_t len;
    int n_prompt = 0;
    REQUIRE(chat_template_render_tools(tm->tmpl, &user, 1, &tool, 1, true, &text, &len, &err) == 0);
    REQUIRE(tok_encode(tm->tok, text, len, false, true, &prompt, &n_prompt, &err) == 0);
    CHECK(n_prompt > 0 && n_prompt < counts.n_tokens);
    bool same_prefix = n_prompt < counts.n_tokens && memcmp(ids, prompt, (size_t)n_prompt * sizeof *ids) == 0;
    CHECK(same_prefix);
    for (int i = 0; i < n_prompt && i < counts.n_tokens; i++) CHECK(mask[i] == 0);
    int end = n_prompt;
    while (end < counts.n_tokens && mask[end]) end++;
    CHECK(end > n_prompt && end - n_prompt == counts.n_trained);
    char *call_text = NULL;
    REQUIRE(tok_decode(tm->tok, ids + n_prompt, end - n_prompt, true, &call_text, NULL, &err) == 0);
    ToolReply r;
    REQUIRE(tool_reply_parse(&tool_syntax_hermes, call_text, strlen(call_text), 1, &r, &err) == 0);
    CHECK(r.n_calls == 1 && r.content_len == 0);
    if (r.n_calls == 1) {
        CHECK(strcmp(r.calls[0].name, "get_weather") == 0);
        CHECK(strcmp(r.calls[0].arguments, "{\"city\":\"Paris\"}") == 0);
    }
    if (r.n_calls != 1) printf("    trained text: '%s'\n", call_text);
    tool_reply_free(&r);
    free(call_text);
    free(text);
    free(prompt);
    free(ids);
    free(mask);
    example_messages_free(&em);
    jdoc_free(&d);
    text_model_free(tm);
}
