/* fuzz/tokenizer.c: a bounded, deterministic fuzz run of the tokenizer under ASan/UBSan.
 * Usage: build/fuzz_tokenizer [ITERATIONS] (default 2000). Each iteration encodes and decodes a
 * pseudo-random or mutated byte string with the stories260K (SentencePiece), SmolLM2
 * (byte-level BPE, from GGUF and tokenizer.json) and all-MiniLM-L6-v2 (WordPiece) tokenizers,
 * checks that ids are in range and that valid text round-trips (not WordPiece's: it lowercases and
 * drops accents and spaces), and feeds a mutated tokenizer.json (BPE or WordPiece) to the loader. Models that are
 * absent are skipped with a message; the run fails (exit 1) on a broken invariant and the
 * sanitizers abort on memory errors. It is not coverage-guided (no libFuzzer needed). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "model/gguf.h"
#include "text/tokenizer.h"

#define DEFAULT_ITERATIONS 2000
#define SEED 0x5eed70c3u
#define MAX_INPUT 512     /* bytes of one generated text */
#define MAX_JSON (1 << 16) /* bytes of one mutated tokenizer.json */
#define N_TOKENIZERS 4

static uint64_t rng_state = SEED;

static uint64_t rnd(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static const char *SEEDS[] = {
    "Hello, world! How are you today?",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "<s>Once upon a time</s> there was a <unk> cat.",
    "caf\xc3\xa9 na\xc3\xafve \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9",
    "def f(x):\n\treturn x ** 2  # comment\r\n",
    "1234567890 3.14159 -42 1,000,000",
    "   leading and trailing spaces   \n\n\n",
    "\xe2\x96\x81\xe2\x96\x81 lower blocks and <0x41> byte spellings",
    "e\xcc\x81 combining \xd8\xa7\xd9\x84\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a\xd8\xa9 \xd7\xa2\xd7\x91\xd7\xa8\xd7\x99\xd7\xaa",
};
static const char *SNIPPETS[] = {"<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>", "<unk>",
                                 "\xe2\x96\x81", " ", "  ", "\n", "\r\n", "\t", "'s", "123", "\xc3\xa9",
                                 "\xf0\x9f\x98\x80", "\xe2\x80\x8d", "\xcc\x81", "\xff", "\xc3", "\xe2\x82",
                                 "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "\x00"};
#define N_SEEDS (sizeof SEEDS / sizeof SEEDS[0])
#define N_SNIPPETS (sizeof SNIPPETS / sizeof SNIPPETS[0])

static size_t insert(char *buf, size_t n, size_t cap, size_t at, const char *s, size_t k) {
    if (n + k > cap) return n;
    memmove(buf + at + k, buf + at, n - at);
    memcpy(buf + at, s, k);
    return n + k;
}

/* A random or mutated input of at most cap bytes. */
static size_t make_input(char *buf, size_t cap) {
    size_t n = 0;
    if (below(4) == 0) { /* raw random bytes */
        n = below(cap / 4);
        for (size_t i = 0; i < n; i++) buf[i] = (char)rnd();
        return n;
    }
    const char *seed = SEEDS[below(N_SEEDS)];
    n = strlen(seed);
    memcpy(buf, seed, n);
    int muts = 1 + (int)below(8);
    for (int m = 0; m < muts; m++) {
        size_t at = below(n + 1);
        switch (below(6)) {
        case 0: if (n) buf[below(n)] ^= (char)(1u << below(8)); break;
        case 1: { char ch = (char)rnd(); n = insert(buf, n, cap, at, &ch, 1); break; }
        case 2: if (n) { size_t k = below(n - at + 1); memmove(buf + at, buf + at + k, n - at - k); n -= k; } break;
        case 3: { const char *s = SNIPPETS[below(N_SNIPPETS)]; n = insert(buf, n, cap, at, s, strlen(s) ? strlen(s) : 1); break; }
        case 4: /* duplicate a chunk */
            if (n && n * 2 <= cap) {
                char chunk[MAX_INPUT];
                size_t a = below(n), k = below(n - a) + 1;
                memcpy(chunk, buf + a, k);
                n = insert(buf, n, cap, at, chunk, k);
            }
            break;
        default: { const char *s = SEEDS[below(N_SEEDS)]; n = insert(buf, n, cap, at, s, strlen(s)); break; }
        }
    }
    return n;
}

static int valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char b = s[i];
        size_t k = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
        if (!k || i + k > n) return 0;
        uint32_t cp = k == 1 ? b : k == 2 ? b & 0x1Fu : k == 3 ? b & 0x0Fu : b & 0x07u;
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + j] & 0x3Fu);
        }
        if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k;
    }
    return 1;
}

typedef struct {
    const char *name;
    Tokenizer *t;
    const char *lacks; /* bytes the vocabulary has no token for (text with them cannot round-trip) */
    int spm;
    int lossy; /* the text does not round-trip (WordPiece) */
} Tok;

static int failures;

static void fail(const char *what, const Tok *k, const char *text, size_t n) {
    failures++;
    if (failures > 5) return;
    fprintf(stderr, "FAIL %s (%s) on %zu bytes:", what, k->name, n);
    for (size_t i = 0; i < n && i < 64; i++) fprintf(stderr, " %02x", (unsigned char)text[i]);
    fputc('\n', stderr);
}

static void exercise(const Tok *k, const char *text, size_t n) {
    bool add = rnd() & 1, parse = rnd() & 1;
    int32_t *ids = NULL;
    int m = 0;
    Err err = {0};
    if (tok_encode(k->t, text, n, add, parse, &ids, &m, &err)) {
        fail("encode", k, text, n);
        return;
    }
    int vocab = tok_vocab_size(k->t);
    for (int i = 0; i < m; i++)
        if (ids[i] < 0 || ids[i] >= vocab) fail("id out of range", k, text, n);
    char *out = NULL;
    size_t len = 0;
    if (tok_decode(k->t, ids, m, rnd() & 1, &out, &len, &err)) fail("decode", k, text, n);
    free(out);
    free(ids);
    /* round trip: valid UTF-8, specials not parsed, nothing the vocabulary cannot spell */
    if (k->lossy || !valid_utf8((const unsigned char *)text, n) || memchr(text, 0, n)) return;
    for (const char *p = k->lacks; *p; p++)
        if (memchr(text, *p, n)) return;
    if (k->spm && memmem(text, n, "\xe2\x96\x81", 3)) return;
    if (tok_encode(k->t, text, n, false, false, &ids, &m, &err)) {
        fail("encode (round trip)", k, text, n);
        return;
    }
    if (tok_decode(k->t, ids, m, false, &out, &len, &err) || len != n || memcmp(out, text, n))
        fail("round trip", k, text, n);
    free(out);
    free(ids);
}

static const char *find(const char *a, const char *b) {
    if (access(a, R_OK) == 0) return a;
    if (access(b, R_OK) == 0) return b;
    return NULL;
}

/* ---- tokenizer.json mutation ---- */

static const char *const JSON_SNIPPETS[] = {
    "{", "}", "[", "]", ",", ":", "\"", "null", "true", "-1", "99999999999", "\"type\": \"BPE\"",
    "\"Sequence\"", "\"Split\"", "\"ByteLevel\"", "\"Metaspace\"", "\"Digits\"", "\"NFC\"", "\"Prepend\"",
    "\"Replace\"", "\"TemplateProcessing\"", "{\"Regex\": \"(\"}", "{\"String\": \"\"}", "\"merges\"",
    "\"vocab\"", "\"added_tokens\"", "[\"a\", \"b\"]", "\"a b\"", "\"\\u0000\"", "\"\\ud800\"", "\"<0x41>\"",
    "\"WordPiece\"", "\"BertNormalizer\"", "\"BertPreTokenizer\"", "\"##\"", "\"[UNK]\"",
};

#define MAX_NODES 512

typedef struct {
    json_t *parent;
    const char *key; /* object member, or NULL for an array element */
    size_t index;
} Slot;

static void collect(json_t *v, Slot *slots, int *n) {
    const char *key;
    json_t *child;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, key, child) {
            if (*n < MAX_NODES) slots[(*n)++] = (Slot){v, key, 0};
            collect(child, slots, n);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child) {
            if (*n < MAX_NODES) slots[(*n)++] = (Slot){v, NULL, i};
            collect(child, slots, n);
        }
    }
}

static json_t *random_value(void) {
    switch (below(9)) {
    case 0: return json_null();
    case 1: return json_true();
    case 2: return json_integer(-1);
    case 3: return json_integer((json_int_t)below(20));
    case 4: return json_integer(1ll << 40);
    case 5: return json_object();
    case 6: return json_array();
    case 7: return json_string("a b");
    default: {
        const char *s = JSON_SNIPPETS[below(sizeof JSON_SNIPPETS / sizeof JSON_SNIPPETS[0])];
        return json_stringn(s, strlen(s));
    }
    }
}

/* Structure-aware: parse, change one node (delete it or give it another value), dump. */
static char *mutate_tree(const char *base, size_t len) {
    json_t *root = json_loadb(base, len, 0, NULL);
    if (!root) return NULL;
    static Slot slots[MAX_NODES];
    int n = 0;
    collect(root, slots, &n);
    int muts = 1 + (int)below(3);
    for (int m = 0; m < muts && n > 0; m++) {
        Slot *s = &slots[below((size_t)n)];
        bool del = below(3) == 0;
        if (s->key) {
            if (del) json_object_del(s->parent, s->key);
            else json_object_set_new(s->parent, s->key, random_value());
        } else if (s->index < json_array_size(s->parent)) {
            if (del) json_array_remove(s->parent, s->index);
            else json_array_set_new(s->parent, s->index, random_value());
        }
        n = 0; /* the tree changed: collect again */
        collect(root, slots, &n);
    }
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return out;
}

static void fuzz_loader(const char *base, size_t base_len, const char *path) {
    static char buf[MAX_JSON];
    size_t n = base_len < MAX_JSON / 2 ? base_len : MAX_JSON / 2;
    memcpy(buf, base, n);
    char *tree = below(2) ? mutate_tree(base, base_len) : NULL;
    bool structural = tree != NULL;
    if (tree) {
        n = strlen(tree) < MAX_JSON ? strlen(tree) : MAX_JSON;
        memcpy(buf, tree, n);
        free(tree);
    }
    int muts = structural ? 0 : 1 + (int)below(4);
    for (int m = 0; m < muts; m++) {
        size_t at = below(n + 1);
        switch (below(4)) {
        case 0: if (n) buf[below(n)] = (char)rnd(); break;
        case 1: if (n) { size_t k = below(16); if (k > n - at) k = n - at; memmove(buf + at, buf + at + k, n - at - k); n -= k; } break;
        case 2: { const char *s = JSON_SNIPPETS[below(sizeof JSON_SNIPPETS / sizeof JSON_SNIPPETS[0])];
                  n = insert(buf, n, MAX_JSON, at, s, strlen(s)); break; }
        default: n = at; break; /* truncate */
        }
    }
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(buf, 1, n, f);
    fclose(f);
    Tokenizer *t = NULL;
    Err err = {0};
    if (tok_load_hf(path, NULL, &t, &err) == 0) {
        char text[MAX_INPUT];
        for (int i = 0; i < 3; i++) {
            size_t tn = make_input(text, sizeof text);
            int32_t *ids = NULL;
            int m = 0;
            if (tok_encode(t, text, tn, rnd() & 1, rnd() & 1, &ids, &m, &err) == 0) {
                char *out = NULL;
                size_t len;
                (void)tok_decode(t, ids, m, rnd() & 1, &out, &len, &err);
                free(out);
                free(ids);
            }
        }
        tok_free(t);
    } else if (!err.msg[0]) {
        failures++;
        fprintf(stderr, "FAIL loader returned an error without a message\n");
    }
}

/* A small valid tokenizer.json to mutate (every pipeline stage present). */
static const char BASE_JSON[] =
    "{\"version\": \"1.0\", \"added_tokens\": [{\"id\": 6, \"content\": \"<s>\", \"special\": true,"
    " \"normalized\": false, \"single_word\": false, \"lstrip\": false, \"rstrip\": false}, {\"id\": 7, \"content\": \"hey\", \"single_word\": true, \"lstrip\": true,"
    " \"rstrip\": true, \"normalized\": true, \"special\": false}],"
    " \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}, {\"type\": \"Prepend\","
    " \"prepend\": \"_\"}, {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"_\"}]},"
    " \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\", \"individual_digits\":"
    " true}, {\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\p{L}+\"}, \"behavior\": \"MergedWithNext\","
    " \"invert\": false}, {\"type\": \"Metaspace\", \"replacement\": \"_\", \"prepend_scheme\": \"first\"}]},"
    " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\","
    " \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"pair\": [], \"special_tokens\": {\"<s>\": {\"id\":"
    " \"<s>\", \"ids\": [6], \"tokens\": [\"<s>\"]}}},"
    " \"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Replace\", \"pattern\": {\"String\":"
    " \"\\u2581\"}, \"content\": \" \"}, {\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}, {\"type\": \"Strip\","
    " \"content\": \" \", \"start\": 1, \"stop\": 0}]},"
    " \"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"byte_fallback\": true, \"fuse_unk\": true,"
    " \"vocab\": {\"<unk>\": 0, \"a\": 1, \"b\": 2, \"ab\": 3, \"_\": 4, \"<0x41>\": 5, \"_ab\": 8},"
    " \"merges\": [\"a b\", [\"_\", \"ab\"]]}}";

/* A small valid WordPiece tokenizer.json (BERT's pipeline) to mutate. */
static const char BASE_WP_JSON[] =
    "{\"version\": \"1.0\", \"added_tokens\": [{\"id\": 0, \"content\": \"[UNK]\", \"special\": true, \"normalized\": false},"
    " {\"id\": 1, \"content\": \"[CLS]\", \"special\": true, \"normalized\": false}, {\"id\": 2, \"content\": \"[SEP]\","
    " \"special\": true, \"normalized\": false}],"
    " \"normalizer\": {\"type\": \"BertNormalizer\", \"clean_text\": true, \"handle_chinese_chars\": true,"
    " \"strip_accents\": null, \"lowercase\": true}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"
    " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"[CLS]\","
    " \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"SpecialToken\": {\"id\": \"[SEP]\", \"type_id\": 0}}],"
    " \"pair\": [], \"special_tokens\": {\"[CLS]\": {\"id\": \"[CLS]\", \"ids\": [1], \"tokens\": [\"[CLS]\"]},"
    " \"[SEP]\": {\"id\": \"[SEP]\", \"ids\": [2], \"tokens\": [\"[SEP]\"]}}},"
    " \"decoder\": {\"type\": \"WordPiece\", \"prefix\": \"##\", \"cleanup\": true},"
    " \"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"continuing_subword_prefix\": \"##\","
    " \"max_input_chars_per_word\": 8, \"vocab\": {\"[UNK]\": 0, \"[CLS]\": 1, \"[SEP]\": 2, \"a\": 3, \"b\": 4,"
    " \"##b\": 5, \"ab\": 6, \"##a\": 7, \".\": 8, \"\\u4e2d\": 9}}}";

int main(int argc, char **argv) {
    long iters = argc > 1 ? strtol(argv[1], NULL, 10) : DEFAULT_ITERATIONS;
    if (iters <= 0) iters = DEFAULT_ITERATIONS;
    Tok toks[N_TOKENIZERS];
    int nt = 0;
    Err err = {0};
    Gguf *g1 = NULL, *g2 = NULL;
    Tokenizer *t = NULL;
    const char *smol_lacks = "\x04\x06\x13\x14\x16\x1d\xf1\xf2"; /* bytes with no token in SmolLM2 */
    const char *p = find("../shared/models/stories260K/stories260K.gguf", "models/stories260K.gguf");
    if (p && gguf_open(p, &g1, &err) == 0 && tok_load_gguf(g1, &t, &err) == 0)
        toks[nt++] = (Tok){"stories260K gguf", t, "", 1, 0};
    else
        printf("fuzz_tokenizer: skipping stories260K (%s)\n", p ? err.msg : "not found");
    p = find("models/SmolLM2-135M-Instruct.Q4_1.gguf", "../shared/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if (p && gguf_open(p, &g2, &err) == 0 && tok_load_gguf(g2, &t, &err) == 0)
        toks[nt++] = (Tok){"SmolLM2 gguf", t, smol_lacks, 0, 0};
    else
        printf("fuzz_tokenizer: skipping SmolLM2 GGUF (%s)\n", p ? err.msg : "not found");
    p = find("../shared/models/smollm2-135m-instruct-tokenizer/tokenizer.json",
             "models/smollm2-135m-instruct-tokenizer/tokenizer.json");
    if (p && tok_load_hf(p, NULL, &t, &err) == 0)
        toks[nt++] = (Tok){"SmolLM2 tokenizer.json", t, smol_lacks, 0, 0};
    else
        printf("fuzz_tokenizer: skipping SmolLM2 tokenizer.json (%s)\n", p ? err.msg : "not found");
    p = find("models/all-MiniLM-L6-v2/tokenizer.json", "../shared/models/all-MiniLM-L6-v2/tokenizer.json");
    if (p && tok_load_hf(p, NULL, &t, &err) == 0)
        toks[nt++] = (Tok){"all-MiniLM-L6-v2 WordPiece", t, "", 0, 1};
    else
        printf("fuzz_tokenizer: skipping all-MiniLM-L6-v2 tokenizer.json (%s)\n", p ? err.msg : "not found");
    gguf_close(g1); /* tokenizers keep their own copies */
    gguf_close(g2);

    char json_path[] = "/tmp/ftune_fuzz_tok_XXXXXX";
    int fd = mkstemp(json_path);
    if (fd < 0) {
        perror("mkstemp");
        return 1;
    }
    close(fd);
    static char text[MAX_INPUT];
    for (long it = 0; it < iters; it++) {
        size_t n = make_input(text, sizeof text);
        for (int k = 0; k < nt; k++) exercise(&toks[k], text, n);
        if (it % 4 == 0) fuzz_loader(BASE_JSON, sizeof BASE_JSON - 1, json_path);
        if (it % 4 == 2) fuzz_loader(BASE_WP_JSON, sizeof BASE_WP_JSON - 1, json_path);
    }
    unlink(json_path);
    for (int k = 0; k < nt; k++) tok_free(toks[k].t);
    printf("fuzz_tokenizer: %ld iterations, %d tokenizers, %d failures\n", iters, nt, failures);
    return failures ? 1 : 0;
}
