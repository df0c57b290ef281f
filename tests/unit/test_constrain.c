/* test_constrain.c: structured outputs' pieces. The schema compiler (json_schema.c): the strict
 * subset compiles, each keyword outside it is refused by name with its JSON pointer, OpenAI's
 * strict rules are enforced, left recursion through $ref is refused. The matcher (constrain.c) fed
 * byte by byte: valid prefixes accepted, invalid bytes refused, completion detected, $ref
 * recursion, anyOf, enums sharing prefixes, string escapes and UTF-8, the number grammar, bounded
 * whitespace. The token mask over a real vocabulary (SmolLM2's tokenizer) equals a brute-force
 * check of every token, and is the same from the cache. */
#include <stdlib.h>
#include <string.h>

#include "model/constrain.h"
#include "model/json_schema.h"
#include "model/vocab_trie.h"
#include "test.h"

static const VocabTrie NO_VOCAB = {0}; /* byte-level tests need no tokens */

static int compile(const char *schema, bool strict, Grammar *g, Err *e) {
    memset(e, 0, sizeof *e);
    return json_schema_compile(schema, strlen(schema), strict, g, e);
}

/* 1: text is a valid prefix; 2: and a complete value; 3: complete and nothing may follow; 0: refused. */
static int feed(const Grammar *g, const char *text) {
    Matcher *m;
    Err e = {0};
    if (matcher_new(g, &NO_VOCAB, &m, &e)) return -1;
    int rc = matcher_advance(m, text, strlen(text), &e) ? 0 : matcher_finished(m) ? 3 : matcher_accepting(m) ? 2 : 1;
    matcher_free(m);
    return rc;
}

#define OBJ(props, req) "{\"type\":\"object\",\"properties\":{" props "},\"required\":[" req "],\"additionalProperties\":false}"

TEST(json_schema_compiles_the_strict_subset) {
    const char *ok[] = {
        OBJ("\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"number\"},\"c\":{\"type\":\"integer\"},\"d\":{\"type\":"
            "\"boolean\"},\"e\":{\"type\":\"null\"}",
            "\"a\",\"b\",\"c\",\"d\",\"e\""),
        OBJ("\"a\":{\"enum\":[\"x\",\"y\",1,null]},\"b\":{\"const\":\"k\"},\"c\":{\"type\":[\"string\",\"null\"]}",
            "\"a\",\"b\",\"c\""),
        OBJ("\"a\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":1,\"maxItems\":4}", "\"a\""),
        OBJ("\"a\":{\"anyOf\":[{\"type\":\"string\"},{\"$ref\":\"#/$defs/n\"}]}", "\"a\"") /* + $defs below */,
        "{\"type\":\"object\",\"properties\":{\"t\":{\"$ref\":\"#\"}},\"required\":[],\"additionalProperties\":false}",
        OBJ("", ""),
    };
    Grammar g;
    Err e;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        bool strict = i != 4; /* #4 leaves a property out of required: only without strict */
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", ok[i]);
        if (i == 3) snprintf(buf + strlen(buf) - 1, sizeof buf - strlen(buf) + 1, ",\"$defs\":{\"n\":{\"type\":\"number\","
                                                                                 "\"description\":\"d\",\"title\":\"t\"}}}");
        int rc = compile(buf, strict, &g, &e);
        if (rc) test_fail(__FILE__, __LINE__, "schema %zu refused: %s", i, e.msg);
        grammar_free(&g);
    }
}

TEST(json_schema_refuses_each_unsupported_keyword_by_name_and_path) {
    const char *kw[] = {"minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
                        "multipleOf", "allOf", "oneOf", "not", "if", "patternProperties", "uniqueItems",
                        "prefixItems", "contains", "default", "examples", "$id", "dependentRequired"};
    Grammar g;
    Err e;
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++) {
        char buf[512], want[128];
        snprintf(buf, sizeof buf, OBJ("\"x\":{\"type\":\"object\",\"properties\":{\"y/z\":{\"type\":\"string\",\"%s\":1}},"
                                      "\"required\":[\"y/z\"],\"additionalProperties\":false}", "\"x\""), kw[i]);
        snprintf(want, sizeof want, "'%s' at #/properties/x/properties/y~1z is not supported", kw[i]);
        int rc = compile(buf, true, &g, &e);
        CHECK(rc != 0);
        CHECK_EQ_INT(e.code, ERR_UNSUPPORTED);
        if (!strstr(e.msg, want)) test_fail(__FILE__, __LINE__, "%s: message '%s'", kw[i], e.msg);
        grammar_free(&g);
    }
}

TEST(json_schema_enforces_strict_rules) {
    struct {
        const char *schema, *needle;
        bool strict;
    } cases[] = {
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"a\"]}", "'additionalProperties' is required", true},
        {OBJ("\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"string\"}", "\"a\""), "Missing 'b'", true},
        {"{\"type\":\"array\",\"items\":{\"type\":\"string\"}}", "type: \"object\"", true},
        {"{\"anyOf\":[{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}]}", "type: \"object\"", true},
        {"{\"type\":\"object\",\"properties\":{},\"additionalProperties\":true}", "'additionalProperties' at #", false},
        {OBJ("\"a\":{\"$ref\":\"#/$defs/missing\"}", "\"a\""), "does not point into this schema", true},
        {OBJ("\"a\":{\"$ref\":\"https://example.com/s\"}", "\"a\""), "only local references", true},
        {OBJ("\"a\":{\"$ref\":\"#/$defs/l\"}", "\"a\"") "", "left recursion", true},
        {OBJ("\"a\":{\"type\":\"strin\"}", "\"a\""), "'strin' is not a JSON Schema type", true},
        {OBJ("\"a\":{\"type\":\"array\"}", "\"a\""), "'items' is required", true},
        {OBJ("\"a\":{\"description\":\"no type\"}", "\"a\""), "says nothing of its value", true},
        {OBJ("\"a\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"maxItems\":100000}", "\"a\""), "'maxItems'", true},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"b\"],\"additionalProperties\":false}", "names 'b'", true},
        {"not json", "not valid JSON", true},
        {"true", "must be a JSON Schema object", true},
    };
    Grammar g;
    Err e;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", cases[i].schema);
        if (strstr(cases[i].needle, "left recursion")) /* a $defs entry that starts with itself */
            snprintf(buf + strlen(buf) - 1, sizeof buf - strlen(buf) + 1,
                     ",\"$defs\":{\"l\":{\"anyOf\":[{\"$ref\":\"#/$defs/l\"},{\"type\":\"null\"}]}}}");
        int rc = compile(buf, cases[i].strict, &g, &e);
        CHECK(rc != 0);
        if (!strstr(e.msg, cases[i].needle)) test_fail(__FILE__, __LINE__, "case %zu: '%s' not in '%s'", i, cases[i].needle, e.msg);
        grammar_free(&g);
    }
}

TEST(matcher_objects_prefixes_completion_and_order) {
    Grammar g;
    Err e;
    REQUIRE(compile(OBJ("\"name\":{\"type\":\"string\"},\"ok\":{\"type\":\"boolean\"}", "\"name\",\"ok\""), true, &g, &e) == 0);
    CHECK_EQ_INT(feed(&g, ""), 1);
    CHECK_EQ_INT(feed(&g, "{"), 1);
    CHECK_EQ_INT(feed(&g, "{\"name\":\"x\",\"ok\":tr"), 1);
    CHECK_EQ_INT(feed(&g, "{\"name\":\"x\",\"ok\":true}"), 3);
    CHECK_EQ_INT(feed(&g, "{\"name\": \"x\",\n  \"ok\": false\n}"), 3);
    CHECK_EQ_INT(feed(&g, "{\"ok\":true"), 0);                  /* the schema's order */
    CHECK_EQ_INT(feed(&g, "{\"name\":\"x\"}"), 0);              /* every property */
    CHECK_EQ_INT(feed(&g, "{\"name\":\"x\",\"ok\":true,"), 0);  /* no additional ones */
    CHECK_EQ_INT(feed(&g, "{\"name\":\"x\",\"ok\":true} "), 0); /* nothing after the value */
    CHECK_EQ_INT(feed(&g, " {"), 0);
    CHECK_EQ_INT(feed(&g, "{\n                "), 1);           /* 16 spaces of indentation */
    CHECK_EQ_INT(feed(&g, "{\n                 "), 0);          /* not 17: whitespace is bounded */
    CHECK_EQ_INT(feed(&g, "{  "), 0);
    grammar_free(&g);
}

TEST(matcher_strings_escapes_and_utf8) {
    Grammar g;
    Err e;
    REQUIRE(compile(OBJ("\"s\":{\"type\":\"string\"}", "\"s\""), true, &g, &e) == 0);
    const char *good[] = {"{\"s\":\"plain\"}", "{\"s\":\"\\\"q\\\\ \\/ \\b\\f\\n\\r\\t\"}", "{\"s\":\"\\u00e9\\uD83D\\ude00\"}",
                          "{\"s\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\x9f\xbf \xf4\x8f\xbf\xbf\"}", "{\"s\":\"\"}"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (feed(&g, good[i]) != 3) test_fail(__FILE__, __LINE__, "refused %s", good[i]);
    const char *bad[] = {"{\"s\":\"a\nb",     "{\"s\":\"\\x",       "{\"s\":\"\\u00g",   "{\"s\":\"\xc0\x80",
                         "{\"s\":\"\xed\xa0\x80", "{\"s\":\"\xe0\x80", "{\"s\":\"\xf5",      "{\"s\":\"\x80",
                         "{\"s\":\"\xf4\x90", "{\"s\":\"\x01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (feed(&g, bad[i]) != 0) test_fail(__FILE__, __LINE__, "accepted bad string %zu", i);
    CHECK_EQ_INT(feed(&g, "{\"s\":\"\xe2\x82"), 1); /* an incomplete character is a prefix */
    grammar_free(&g);
}

TEST(matcher_numbers_grammar) {
    Grammar g;
    Err e;
    REQUIRE(compile(OBJ("\"n\":{\"type\":\"number\"},\"i\":{\"type\":\"integer\"}", "\"n\",\"i\""), true, &g, &e) == 0);
    const char *good[] = {"0", "-0", "12", "-3.25", "1e10", "1E+2", "2.5e-3", "0.0", "1234567890123456"};
    const char *bad[] = {"01", "-", ".5", "1.", "+1", "1e", "--1", "1.2.3", "12345678901234567", "0x1", "1e1234"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "{\"n\":%s,\"i\":7}", good[i]);
        if (feed(&g, buf) != 3) test_fail(__FILE__, __LINE__, "refused number %s", good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "{\"n\":%s,\"i\":7}", bad[i]);
        if (feed(&g, buf) == 3) test_fail(__FILE__, __LINE__, "accepted number %s", bad[i]);
    }
    CHECK_EQ_INT(feed(&g, "{\"n\":1,\"i\":-42}"), 3);
    CHECK_EQ_INT(feed(&g, "{\"n\":1,\"i\":1.5"), 0); /* an integer has no fraction */
    CHECK_EQ_INT(feed(&g, "{\"n\":1,\"i\":1e3"), 0);
    grammar_free(&g);
}

TEST(matcher_enums_anyof_arrays_and_recursion) {
    Grammar g;
    Err e;
    REQUIRE(compile("{\"type\":\"object\",\"properties\":{\"e\":{\"enum\":[\"ab\",\"abc\",\"b\\\"q\",12,null]},"
                    "\"u\":{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"object\",\"properties\":{\"k\":{\"const\":true}},"
                    "\"required\":[\"k\"],\"additionalProperties\":false}]},"
                    "\"a\":{\"type\":\"array\",\"items\":{\"type\":[\"string\",\"null\"]},\"minItems\":1,\"maxItems\":2},"
                    "\"t\":{\"$ref\":\"#/$defs/tree\"}},\"required\":[\"e\",\"u\",\"a\",\"t\"],\"additionalProperties\":false,"
                    "\"$defs\":{\"tree\":{\"type\":\"object\",\"properties\":{\"kids\":{\"type\":\"array\",\"items\":"
                    "{\"$ref\":\"#/$defs/tree\"}}},\"required\":[\"kids\"],\"additionalProperties\":false}}}",
                    true, &g, &e) == 0);
    const char *tail = ",\"u\":5,\"a\":[null],\"t\":{\"kids\":[]}}";
    const char *enums[] = {"\"ab\"", "\"abc\"", "\"b\\\"q\"", "12", "null"};
    for (size_t i = 0; i < sizeof enums / sizeof enums[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "{\"e\":%s%s", enums[i], tail);
        if (feed(&g, buf) != 3) test_fail(__FILE__, __LINE__, "refused enum value %s", enums[i]);
    }
    CHECK_EQ_INT(feed(&g, "{\"e\":\"abd"), 0);
    CHECK_EQ_INT(feed(&g, "{\"e\":\"a\""), 0);
    CHECK_EQ_INT(feed(&g, "{\"e\":1,"), 0);
    CHECK_EQ_INT(feed(&g, "{\"e\":\"ab\",\"u\":{\"k\":true},\"a\":[\"x\",null],\"t\":{\"kids\":[{\"kids\":[{\"kids\":[]}]},{\"kids\":[]}]}}"), 3);
    CHECK_EQ_INT(feed(&g, "{\"e\":\"ab\",\"u\":{\"k\":false"), 0);
    CHECK_EQ_INT(feed(&g, "{\"e\":\"ab\",\"u\":1,\"a\":[]"), 0);          /* minItems 1 */
    CHECK_EQ_INT(feed(&g, "{\"e\":\"ab\",\"u\":1,\"a\":[null,null,"), 0); /* maxItems 2 */
    grammar_free(&g);
}

TEST(matcher_json_object_mode) {
    Grammar g;
    Err e = {0};
    REQUIRE(json_object_grammar(&g, &e) == 0);
    CHECK_EQ_INT(feed(&g, "{}"), 3);
    CHECK_EQ_INT(feed(&g, "{\"a\": [1, {\"b\": null}, \"x\", true, -2.5e3], \"c\": {}}"), 3);
    CHECK_EQ_INT(feed(&g, "[1]"), 0);
    CHECK_EQ_INT(feed(&g, "\"s\""), 0);
    CHECK_EQ_INT(feed(&g, "{\"a\":1,}"), 0);
    CHECK_EQ_INT(feed(&g, "{a:1}"), 0);
    grammar_free(&g);
}

/* The mask over SmolLM2's vocabulary equals checking each token alone, at several states; the
 * second time at a state it comes from the cache, the same. */
TEST(matcher_mask_equals_brute_force_on_a_real_vocabulary) {
    const char *dir = test_model("models/smollm2-135m-instruct-tokenizer", "smollm2-135m-instruct-tokenizer");
    if (!dir) {
        test_skip("no smollm2-135m-instruct-tokenizer");
        return;
    }
    char tj[4096];
    snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
    Tokenizer *tok;
    Err e = {0};
    REQUIRE(tok_load_hf(tj, NULL, &tok, &e) == 0);
    VocabTrie *t;
    REQUIRE(vocab_trie_build(tok, tok_vocab_size(tok), &t, &e) == 0);
    Grammar g;
    REQUIRE(compile(OBJ("\"label\":{\"enum\":[\"billing\",\"bug\"]},\"n\":{\"type\":\"integer\"},\"s\":{\"type\":\"string\"}",
                        "\"label\",\"n\",\"s\""), true, &g, &e) == 0);
    const char *steps[] = {"", "{", "\"label\":", " \"b", "ug\"", ", \"n\": 1", "2, \"s\": \"caf", "\xc3", "\xa9", "\"", "}"};
    Matcher *m;
    REQUIRE(matcher_new(&g, t, &m, &e) == 0);
    size_t words = ((size_t)t->vocab + 63) / 64;
    uint64_t *a = malloc(words * 8), *b = malloc(words * 8);
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        if (matcher_advance(m, steps[s], strlen(steps[s]), &e) != 0) test_fail(__FILE__, __LINE__, "step %zu refused", s);
        int n = matcher_mask(m, a, &e), n2 = matcher_mask(m, b, &e);
        CHECK_EQ_INT(n, n2);
        CHECK(memcmp(a, b, words * 8) == 0);
        int brute = 0, diff = 0;
        for (int id = 0; id < t->vocab; id++) {
            bool want = t->len[id] > 0 && matcher_accepts(m, t->text + t->off[id], t->len[id]);
            bool got = (a[id >> 6] >> (id & 63)) & 1;
            brute += want;
            diff += want != got;
        }
        if (diff || brute != n) test_fail(__FILE__, __LINE__, "step %zu: %d tokens differ (mask %d, brute %d)", s, diff, n, brute);
        if (s == 0) CHECK(n > 0 && n < 200);      /* only tokens opening the object */
    }
    CHECK(matcher_finished(m));
    free(a);
    free(b);
    matcher_free(m);
    grammar_free(&g);
    vocab_trie_free(t);
    tok_free(tok);
}
