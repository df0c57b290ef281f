/* bench_constrain.c: what constrained decoding (structured outputs) costs per generated token:
 * the token mask (a walk of the vocabulary's prefix tree through the grammar matcher, or a cached
 * mask) and advancing the matcher over the chosen token, on a real tokenizer. It generates
 * documents of a JSON Schema (a support ticket with an enum, integers, free strings, an array and
 * a nullable field) and of json_object mode by picking, at each step, a random allowed token
 * (uniform, seeded: the worst case for the mask cache is a model that wanders, a real model
 * repeats states more), until the document is complete or MAX_STEPS, and reports the mean and
 * worst time per token, the cache-miss walks' mean, and the build time of the prefix tree. Compare
 * with a decode step of SmolLM2-135M (~8 ms on 2 cores, bench_infer). It asserts nothing.
 * Usage: build/bench_constrain [TOKENIZER_DIR] [DOCS]  (default models/smollm2-135m-instruct-tokenizer, 20) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/rng.h"
#include "model/constrain.h"
#include "model/json_schema.h"
#include "model/vocab_trie.h"

#define MAX_STEPS 400

static const char *TICKET =
    "{\"type\":\"object\",\"properties\":{\"label\":{\"type\":\"string\",\"enum\":[\"billing\",\"bug\",\"feature "
    "request\"]},\"priority\":{\"type\":\"integer\"},\"summary\":{\"type\":\"string\"},\"urgent\":{\"type\":"
    "\"boolean\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"maxItems\":3},\"assignee\":{"
    "\"type\":[\"string\",\"null\"]}},\"required\":[\"label\",\"priority\",\"summary\",\"urgent\",\"tags\","
    "\"assignee\"],\"additionalProperties\":false}";

typedef struct {
    double mask_s, advance_s, worst_s, miss_s;
    long tokens, misses, complete;
} Stats;

/* A random allowed token, or -1 when none is. Prefers tokens that close strings now and then so
 * that documents end: a uniform pick over ~49k tokens stays inside a string almost forever. */
static int32_t pick(Rng *r, const uint64_t *allowed, int vocab, const VocabTrie *t, int step) {
    int n = 0;
    for (int w = 0; w < (vocab + 63) / 64; w++) n += __builtin_popcountll(allowed[w]);
    if (!n) return -1;
    for (int tries = 0; tries < 64 && step % 4 == 3; tries++) { /* every 4th step: a structural token if any */
        int32_t id = (int32_t)(rng_next(r) % (uint64_t)vocab);
        if (!((allowed[id >> 6] >> (id & 63)) & 1)) continue;
        const char *s = t->text + t->off[id];
        if (memchr(s, '"', t->len[id]) || memchr(s, ',', t->len[id]) || memchr(s, '}', t->len[id])) return id;
    }
    int k = (int)(rng_next(r) % (uint64_t)n);
    for (int id = 0; id < vocab; id++)
        if (((allowed[id >> 6] >> (id & 63)) & 1) && k-- == 0) return id;
    return -1;
}

static void run(const char *what, const Grammar *g, const VocabTrie *t, int docs, Stats *st) {
    memset(st, 0, sizeof *st);
    uint64_t *allowed = malloc(((size_t)t->vocab + 63) / 64 * sizeof *allowed);
    Rng r;
    rng_seed(&r, 42);
    for (int d = 0; d < docs; d++) {
        Matcher *m;
        Err e = {0};
        if (matcher_new(g, t, &m, &e)) {
            fprintf(stderr, "%s: %s\n", what, e.msg);
            exit(1);
        }
        for (int step = 0; step < MAX_STEPS && !matcher_finished(m); step++) {
            double t0 = clock_now_s();
            int n = matcher_mask(m, allowed, &e);
            double t1 = clock_now_s();
            int32_t id = pick(&r, allowed, t->vocab, t, step);
            if (n <= 0 || id < 0) break;
            double t2 = clock_now_s();
            matcher_advance(m, t->text + t->off[id], t->len[id], &e);
            double t3 = clock_now_s();
            st->mask_s += t1 - t0;
            st->advance_s += t3 - t2;
            if (t1 - t0 > 50e-6) { /* a walk, not a cache hit */
                st->misses++;
                st->miss_s += t1 - t0;
            }
            if (t1 - t0 + t3 - t2 > st->worst_s) st->worst_s = t1 - t0 + t3 - t2;
            st->tokens++;
        }
        st->complete += matcher_finished(m);
        matcher_free(m);
    }
    free(allowed);
    printf("%-12s %4ld tokens, %2ld/%d documents complete: %.3f ms/token (mask %.3f, advance %.4f), worst %.2f ms, "
           "%ld walks of %.2f ms\n",
           what, st->tokens, st->complete, docs, 1e3 * (st->mask_s + st->advance_s) / st->tokens,
           1e3 * st->mask_s / st->tokens, 1e3 * st->advance_s / st->tokens, 1e3 * st->worst_s, st->misses,
           st->misses ? 1e3 * st->miss_s / st->misses : 0);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "models/smollm2-135m-instruct-tokenizer";
    int docs = argc > 2 ? atoi(argv[2]) : 20;
    char tj[4096], cj[4096];
    snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
    snprintf(cj, sizeof cj, "%s/tokenizer_config.json", dir);
    Tokenizer *tok;
    Err e = {0};
    if (tok_load_hf(tj, cj, &tok, &e) && tok_load_hf(tj, NULL, &tok, &e)) {
        fprintf(stderr, "bench_constrain: %s\n", e.msg);
        return 1;
    }
    double t0 = clock_now_s();
    VocabTrie *t;
    if (vocab_trie_build(tok, tok_vocab_size(tok), &t, &e)) {
        fprintf(stderr, "bench_constrain: %s\n", e.msg);
        return 1;
    }
    printf("tokenizer %s: %d tokens, prefix tree of %d nodes (depth %d) built in %.1f ms\n", dir, t->vocab, t->n_nodes,
           t->max_depth, 1e3 * (clock_now_s() - t0));
    Grammar schema, object;
    t0 = clock_now_s();
    if (json_schema_compile(TICKET, strlen(TICKET), true, &schema, &e) || json_object_grammar(&object, &e)) {
        fprintf(stderr, "bench_constrain: %s\n", e.msg);
        return 1;
    }
    printf("schema compiled in %.3f ms (%d rules, %d elements)\n", 1e3 * (clock_now_s() - t0), schema.n_rules,
           schema.n_elems);
    Stats st;
    run("json_schema", &schema, t, docs, &st);
    run("json_object", &object, t, docs, &st);
    /* what generate.c adds per token besides the mask: -inf over the refused logits */
    float *logits = malloc((size_t)t->vocab * sizeof *logits), *masked = malloc((size_t)t->vocab * sizeof *masked);
    uint64_t *allowed = calloc(((size_t)t->vocab + 63) / 64, sizeof *allowed);
    for (int i = 0; i < t->vocab; i++) logits[i] = (float)(i % 97) * 0.01f;
    for (int i = 0; i < t->vocab; i += 3) allowed[i >> 6] |= 1ull << (i & 63);
    t0 = clock_now_s();
    for (int r = 0; r < 1000; r++)
        for (int i = 0; i < t->vocab; i++)
            masked[i] = (allowed[i >> 6] >> (i & 63)) & 1 ? logits[i] + (float)r * 0 : -1e30f;
    printf("applying a mask to %d logits: %.3f ms/token (%g)\n", t->vocab, (clock_now_s() - t0), (double)masked[7]);
    free(logits);
    free(masked);
    free(allowed);
    grammar_free(&schema);
    grammar_free(&object);
    vocab_trie_free(t);
    tok_free(tok);
    return 0;
}
