/* test_vector_store_filter.c: the attribute filters of vector store searches
 * (src/serve/vector_store_filter.c): each comparison (eq, ne, gt, gte, lt, lte, in, nin) on
 * strings, numbers (integer and real alike) and booleans, mismatched types and missing keys, and
 * compound and/or filters nested, against a truth table written out by hand here; malformed
 * filters refused with a 400 naming the exact field; attributes within OpenAI's limits accepted,
 * the rest refused naming the key. */
#include <stdio.h>
#include <string.h>

#include "serve/vector_store_filter.h"
#include "test.h"

static const char *ATTRS = "{\"topic\": \"banking\", \"year\": 2023, \"score\": 0.5, \"public\": true, \"date\": "
                           "\"2024-03-01\"}";

/* Whether the filter (JSON text, checked first) passes ATTRS. */
static bool matches(const char *filter) {
    json_t *f = json_loads(filter, 0, NULL), *a = json_loads(ATTRS, 0, NULL);
    ApiError e = {0};
    if (!f || vs_filter_check(f, "filters", &e)) {
        fprintf(stderr, "  filter refused: %s (%s)\n", filter, e.message);
        json_decref(f), json_decref(a);
        return false;
    }
    bool ok = vs_filter_match(f, a);
    json_decref(f), json_decref(a);
    return ok;
}

TEST(vector_store_filter_comparisons) {
    static const struct {
        const char *filter;
        bool want;
    } CASES[] = {
        {"{\"type\":\"eq\",\"key\":\"topic\",\"value\":\"banking\"}", true},
        {"{\"type\":\"eq\",\"key\":\"topic\",\"value\":\"Banking\"}", false},
        {"{\"type\":\"ne\",\"key\":\"topic\",\"value\":\"banking\"}", false},
        {"{\"type\":\"ne\",\"key\":\"topic\",\"value\":\"news\"}", true},
        {"{\"type\":\"eq\",\"key\":\"year\",\"value\":2023.0}", true},  /* numbers by value */
        {"{\"type\":\"eq\",\"key\":\"year\",\"value\":\"2023\"}", false}, /* a string is not a number */
        {"{\"type\":\"ne\",\"key\":\"year\",\"value\":\"2023\"}", true},
        {"{\"type\":\"eq\",\"key\":\"public\",\"value\":true}", true},
        {"{\"type\":\"eq\",\"key\":\"public\",\"value\":1}", false},    /* nor a boolean */
        {"{\"type\":\"gt\",\"key\":\"year\",\"value\":2022}", true},
        {"{\"type\":\"gt\",\"key\":\"year\",\"value\":2023}", false},
        {"{\"type\":\"gte\",\"key\":\"year\",\"value\":2023}", true},
        {"{\"type\":\"lt\",\"key\":\"score\",\"value\":0.75}", true},
        {"{\"type\":\"lt\",\"key\":\"score\",\"value\":0.5}", false},
        {"{\"type\":\"lte\",\"key\":\"score\",\"value\":0.5}", true},
        {"{\"type\":\"gte\",\"key\":\"date\",\"value\":\"2024-01-01\"}", true}, /* strings by bytes */
        {"{\"type\":\"lt\",\"key\":\"date\",\"value\":\"2024-03-01\"}", false},
        {"{\"type\":\"gt\",\"key\":\"topic\",\"value\":5}", false},            /* types differ: no match */
        {"{\"type\":\"in\",\"key\":\"topic\",\"value\":[\"news\",\"banking\"]}", true},
        {"{\"type\":\"in\",\"key\":\"year\",\"value\":[\"x\",2023]}", true},
        {"{\"type\":\"in\",\"key\":\"topic\",\"value\":[]}", false},
        {"{\"type\":\"nin\",\"key\":\"topic\",\"value\":[\"news\",\"banking\"]}", false},
        {"{\"type\":\"nin\",\"key\":\"topic\",\"value\":[\"news\"]}", true},
        /* a missing key matches only ne and nin */
        {"{\"type\":\"eq\",\"key\":\"nope\",\"value\":\"x\"}", false},
        {"{\"type\":\"lt\",\"key\":\"nope\",\"value\":1}", false},
        {"{\"type\":\"in\",\"key\":\"nope\",\"value\":[\"x\"]}", false},
        {"{\"type\":\"ne\",\"key\":\"nope\",\"value\":\"x\"}", true},
        {"{\"type\":\"nin\",\"key\":\"nope\",\"value\":[\"x\"]}", true},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        bool got = matches(CASES[i].filter);
        if (got != CASES[i].want) fprintf(stderr, "  %s: got %d\n", CASES[i].filter, got);
        CHECK(got == CASES[i].want);
    }
}

TEST(vector_store_filter_compound) {
    CHECK(matches("{\"type\":\"and\",\"filters\":[{\"type\":\"eq\",\"key\":\"topic\",\"value\":\"banking\"},"
                  "{\"type\":\"gte\",\"key\":\"year\",\"value\":2020}]}"));
    CHECK(!matches("{\"type\":\"and\",\"filters\":[{\"type\":\"eq\",\"key\":\"topic\",\"value\":\"banking\"},"
                   "{\"type\":\"gte\",\"key\":\"year\",\"value\":2024}]}"));
    CHECK(matches("{\"type\":\"or\",\"filters\":[{\"type\":\"eq\",\"key\":\"topic\",\"value\":\"news\"},"
                  "{\"type\":\"eq\",\"key\":\"public\",\"value\":true}]}"));
    CHECK(!matches("{\"type\":\"or\",\"filters\":[{\"type\":\"eq\",\"key\":\"topic\",\"value\":\"news\"},"
                   "{\"type\":\"eq\",\"key\":\"public\",\"value\":false}]}"));
    /* nested: news or (public and not 2023) -> false; banking and (year < 2000 or score <= 0.5) -> true */
    CHECK(!matches("{\"type\":\"or\",\"filters\":[{\"type\":\"eq\",\"key\":\"topic\",\"value\":\"news\"},"
                   "{\"type\":\"and\",\"filters\":[{\"type\":\"eq\",\"key\":\"public\",\"value\":true},"
                   "{\"type\":\"ne\",\"key\":\"year\",\"value\":2023}]}]}"));
    CHECK(matches("{\"type\":\"and\",\"filters\":[{\"type\":\"eq\",\"key\":\"topic\",\"value\":\"banking\"},"
                  "{\"type\":\"or\",\"filters\":[{\"type\":\"lt\",\"key\":\"year\",\"value\":2000},"
                  "{\"type\":\"lte\",\"key\":\"score\",\"value\":0.5}]}]}"));
    CHECK(matches("{\"type\":\"and\",\"filters\":[]}"));
    CHECK(!matches("{\"type\":\"or\",\"filters\":[]}"));
    /* no attributes at all */
    json_t *f = json_loads("{\"type\":\"ne\",\"key\":\"a\",\"value\":1}", 0, NULL);
    CHECK(vs_filter_match(f, NULL));
    json_decref(f);
}

/* body must be refused naming param. */
static void expect_refused(const char *filter, const char *param, int line) {
    json_t *f = json_loads(filter, 0, NULL);
    ApiError e = {0};
    int rc = f ? vs_filter_check(f, "filters", &e) : 0;
    json_decref(f);
    if (!f || rc == 0 || e.status != 400 || strcmp(e.param, param))
        test_fail(__FILE__, line, "%s: rc %d status %d param '%s', expected '%s'", filter, rc, e.status, e.param, param);
}
#define REFUSED(f, p) expect_refused(f, p, __LINE__)

TEST(vector_store_filter_refusals) {
    REFUSED("[1]", "filters");
    REFUSED("{\"key\":\"a\",\"value\":1}", "filters.type");
    REFUSED("{\"type\":3,\"key\":\"a\",\"value\":1}", "filters.type");
    REFUSED("{\"type\":\"like\",\"key\":\"a\",\"value\":1}", "filters.type");
    REFUSED("{\"type\":\"eq\",\"value\":1}", "filters.key");
    REFUSED("{\"type\":\"eq\",\"key\":7,\"value\":1}", "filters.key");
    REFUSED("{\"type\":\"eq\",\"key\":\"a\"}", "filters.value");
    REFUSED("{\"type\":\"eq\",\"key\":\"a\",\"value\":null}", "filters.value");
    REFUSED("{\"type\":\"eq\",\"key\":\"a\",\"value\":[1]}", "filters.value");
    REFUSED("{\"type\":\"gt\",\"key\":\"a\",\"value\":true}", "filters.value");
    REFUSED("{\"type\":\"in\",\"key\":\"a\",\"value\":\"x\"}", "filters.value");
    REFUSED("{\"type\":\"nin\",\"key\":\"a\",\"value\":[\"x\",true]}", "filters.value[1]");
    REFUSED("{\"type\":\"eq\",\"key\":\"a\",\"value\":1,\"extra\":1}", "filters.extra");
    REFUSED("{\"type\":\"and\"}", "filters.filters");
    REFUSED("{\"type\":\"or\",\"filters\":{}}", "filters.filters");
    REFUSED("{\"type\":\"and\",\"filters\":[],\"key\":\"a\"}", "filters.key");
    REFUSED("{\"type\":\"and\",\"filters\":[{\"type\":\"eq\",\"key\":\"a\",\"value\":1},{\"type\":\"or\",\"filters\":"
            "[{\"type\":\"lt\",\"key\":\"b\",\"value\":{}}]}]}",
            "filters.filters[1].filters[0].value");
    /* nested deeper than VS_FILTER_DEPTH */
    char deep[1024] = "";
    for (int i = 0; i <= VS_FILTER_DEPTH; i++) strcat(deep, "{\"type\":\"and\",\"filters\":[");
    for (int i = 0; i <= VS_FILTER_DEPTH; i++) strcat(deep, "]}");
    json_t *f = json_loads(deep, 0, NULL);
    ApiError e = {0};
    CHECK(f && vs_filter_check(f, "filters", &e) == -1 && e.status == 400 && strstr(e.param, ".filters"));
    json_decref(f);
}

TEST(vector_store_filter_attributes) {
    static const struct {
        const char *attrs, *param; /* NULL param: accepted */
    } CASES[] = {
        {"{\"a\":\"x\",\"n\":1.5,\"b\":false}", NULL},
        {"null", NULL},
        {"[]", "attributes"},
        {"{\"a\":[1]}", "attributes.a"},
        {"{\"a\":null}", "attributes.a"},
        {"{\"a\":{}}", "attributes.a"},
        {"{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10,"
         "\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14,\"k15\":15,\"k16\":16}",
         "attributes"},
        {"{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}", "attributes"}, /* 65 */
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        json_t *a = json_loads(CASES[i].attrs, JSON_DECODE_ANY, NULL);
        ApiError e = {0};
        int rc = vs_check_attributes(a, "attributes", &e);
        json_decref(a);
        if (CASES[i].param) CHECK(rc == -1 && e.status == 400 && !strcmp(e.param, CASES[i].param));
        else CHECK(rc == 0);
    }
    char value[600];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = 0;
    json_t *a = json_pack("{s:s}", "long", value);
    ApiError e = {0};
    CHECK(vs_check_attributes(a, "attributes", &e) == -1 && !strcmp(e.param, "attributes.long"));
    json_decref(a);
}
