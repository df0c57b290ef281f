/* fuzz json_schema: mutated JSON Schemas through the structured-outputs compiler
 * (model/json_schema.c), and mutated documents through the matcher of each schema that compiles
 * (model/constrain.c), under ASan/UBSan. Every schema is either compiled or refused with a
 * message; the matcher takes a document byte by byte until it refuses one, and whenever the bytes
 * taken form a complete value, that text must parse as JSON (the grammar only produces JSON).
 * matcher_accepts must agree with matcher_advance. Usage: build/fuzz_json_schema [ITERATIONS]
 * (default 2000). */
#include <jansson.h>

#include "fuzz_util.h"
#include "model/constrain.h"
#include "model/json_schema.h"

#define SEED 0x15c4e3au
#define BODY_MAX 2048

static const char *const SCHEMAS[] = {
    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":[\"integer\",\"null\"]},"
    "\"c\":{\"enum\":[\"x\",\"xy\",1.5,true]},\"d\":{\"type\":\"array\",\"items\":{\"type\":\"number\"},\"minItems\":1,"
    "\"maxItems\":3}},\"required\":[\"a\",\"b\",\"c\",\"d\"],\"additionalProperties\":false}",
    "{\"type\":\"object\",\"properties\":{\"t\":{\"$ref\":\"#/$defs/n\"}},\"required\":[\"t\"],\"additionalProperties\":"
    "false,\"$defs\":{\"n\":{\"type\":\"object\",\"properties\":{\"v\":{\"anyOf\":[{\"type\":\"boolean\"},{\"const\":"
    "\"k\"}]},\"k\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/n\"}}},\"required\":[\"v\",\"k\"],"
    "\"additionalProperties\":false}}}",
};
static const char *const DOCS[] = {
    "{\"a\":\"h\\u00e9\\n\xc3\xa9\",\"b\":null,\"c\":\"xy\",\"d\":[1,-2.5e3]}",
    "{\n  \"t\": {\"v\": true, \"k\": [{\"v\":\"k\",\"k\":[]}]}\n}",
    "{\"x\": [1, {\"y\": null}, \"z\", false], \"w\": {}}",
};
#define N_SCHEMAS (sizeof SCHEMAS / sizeof SCHEMAS[0])
#define N_DOCS (sizeof DOCS / sizeof DOCS[0])

static const VocabTrie NO_VOCAB = {0};

static void run_doc(const Grammar *g, const unsigned char *doc, size_t len) {
    Matcher *m;
    Err e = {0};
    if (matcher_new(g, &NO_VOCAB, &m, &e)) {
        fprintf(stderr, "matcher_new: %s\n", e.msg);
        exit(1);
    }
    size_t taken = 0;
    for (; taken < len; taken++) {
        bool ok = matcher_accepts(m, (const char *)doc + taken, 1);
        int rc = matcher_advance(m, (const char *)doc + taken, 1, &e);
        if (ok != (rc == 0)) {
            fprintf(stderr, "matcher_accepts and matcher_advance disagree at byte %zu\n", taken);
            exit(1);
        }
        if (rc) break;
    }
    if (matcher_accepting(m)) {
        json_error_t je;
        json_t *v = json_loadb((const char *)doc, taken, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!v) {
            fprintf(stderr, "a complete value that is not JSON (%s): %.*s\n", je.text, (int)taken, doc);
            exit(1);
        }
        json_decref(v);
    }
    matcher_free(m);
}

int main(int argc, char **argv) {
    long iters = fuzz_iterations(argc, argv);
    Rng r;
    rng_seed(&r, SEED);
    unsigned char buf[BODY_MAX + 1], doc[BODY_MAX + 1];
    long compiled = 0;
    for (long it = 0; it < iters; it++) {
        const char *seed = SCHEMAS[it % N_SCHEMAS];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        if (it % 4) len = fuzz_mutate(&r, buf, len, BODY_MAX, 0); /* every 4th: the seed as is */
        char *text = malloc(len + 1);
        memcpy(text, buf, len);
        text[len] = 0;
        Grammar g;
        Err e = {0};
        bool strict = rng_next(&r) % 2;
        int rc = it % 7 == 6 ? json_object_grammar(&g, &e) : json_schema_compile(text, len, strict, &g, &e);
        if (rc && !e.msg[0]) {
            fprintf(stderr, "refused without a message: %s\n", text);
            exit(1);
        }
        if (!rc) {
            compiled++;
            for (int d = 0; d < 3; d++) {
                const char *ds = d < (int)N_DOCS ? DOCS[(it + d) % N_DOCS] : DOCS[0];
                size_t dl = strlen(ds);
                memcpy(doc, ds, dl);
                if (d) dl = fuzz_mutate(&r, doc, dl, BODY_MAX, 0);
                run_doc(&g, doc, dl);
            }
        }
        grammar_free(&g);
        free(text);
    }
    printf("fuzz_json_schema: %ld schemas, %ld compiled\n", iters, compiled);
    return 0;
}
