/* test_tokenizer.c: the tokenizer against the committed reference ids in tests/golden/tokenizer/
 * (written by scripts/golden_tokenizer.py with HF tokenizers and llama-cpp-python): identical
 * ids for every corpus string with and without add_special / parse_special, decode(encode(x))
 * round trips, HF's decode with and without skip_special, and clear errors (no crash) for bad
 * tokenizer.json files and GGUF tokenizer metadata. Fixtures that are absent are skipped. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/gguf.h"
#include "test.h"
#include "text/tokenizer.h"

#define GOLDEN_DIR "tests/golden/tokenizer/"
#define SHOW_TEXT 100 /* characters of a failing string shown */
#define SHOW_IDS 12   /* ids shown around a mismatch */

typedef struct {
    const char *golden;      /* file name under GOLDEN_DIR, without .json */
    const char *kind;        /* "hf" or "gguf" */
    const char *shared_rel;  /* test_model arguments */
    const char *local_name;
    const char *config;      /* tokenizer_config.json or NULL */
} Fixture;

static const Fixture FIXTURES[] = {
    {"smollm2_hf", "hf", "models/smollm2-135m-instruct-tokenizer/tokenizer.json",
     "smollm2-135m-instruct-tokenizer/tokenizer.json", NULL},
    {"smollm2_gguf", "gguf", "models/SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct.Q4_1.gguf", NULL},
    {"stories260k_gguf", "gguf", "models/stories260K/stories260K.gguf", "stories260K.gguf", NULL},
    {"tiny_qwen2_hf", "hf", "models/tiny-qwen2/tokenizer.json", "tiny-qwen2/tokenizer.json",
     "models/tiny-qwen2/tokenizer_config.json"},
    {"qwen2_nfc_hf", "hf", NULL, "tests/data/tokenizer_qwen2_nfc.json", NULL},
    {"spm_legacy_hf", "hf", NULL, "tests/data/tokenizer_spm_legacy.json", NULL},
    {"spm_metaspace_hf", "hf", NULL, "tests/data/tokenizer_spm_metaspace.json", NULL},
    {"llama3_style_hf", "hf", NULL, "tests/data/tokenizer_llama3_style.json", NULL},
    {"qwen2_pre_gguf", "gguf", NULL, "tests/data/tokenizer_qwen2_pre.gguf", NULL},
    {"llama_bpe_pre_gguf", "gguf", NULL, "tests/data/tokenizer_llama_bpe_pre.gguf", NULL},
    {"minilm_hf", "hf", "models/all-MiniLM-L6-v2/tokenizer.json", "all-MiniLM-L6-v2/tokenizer.json", NULL},
};

static const Fixture *fixture(const char *name) {
    for (size_t i = 0; i < sizeof FIXTURES / sizeof FIXTURES[0]; i++)
        if (!strcmp(FIXTURES[i].golden, name)) return &FIXTURES[i];
    return NULL;
}

static const char *fixture_path(const Fixture *f) {
    if (!f->shared_rel) return access(f->local_name, R_OK) == 0 ? f->local_name : NULL;
    return test_model(f->shared_rel, f->local_name);
}

/* Loads the tokenizer of a fixture; NULL (and a skip) when its file is absent. */
static Tokenizer *load_fixture(const Fixture *f) {
    const char *p = fixture_path(f);
    if (!p) {
        char why[256];
        snprintf(why, sizeof why, "%s not available", f->local_name);
        test_skip(why);
        return NULL;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s", p);
    Tokenizer *t = NULL;
    Err err = {0};
    int rc;
    if (!strcmp(f->kind, "hf")) {
        const char *cfg = f->config && access(f->config, R_OK) == 0 ? f->config : NULL;
        rc = tok_load_hf(path, cfg, &t, &err);
    } else {
        Gguf *g = NULL;
        rc = gguf_open(path, &g, &err);
        if (!rc) rc = tok_load_gguf(g, &t, &err);
        gguf_close(g); /* the tokenizer keeps its own copy */
    }
    if (rc) {
        test_fail(__FILE__, __LINE__, "loading %s: %s", path, err.msg);
        return NULL;
    }
    return t;
}

/* Prints s C-escaped (and truncated) into out. */
static const char *escaped(const char *s, size_t n, char *out, size_t cap) {
    size_t m = 0;
    for (size_t i = 0; i < n && m + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= SHOW_TEXT) {
            m += (size_t)snprintf(out + m, cap - m, "...");
            break;
        }
        if (c == '\n') m += (size_t)snprintf(out + m, cap - m, "\\n");
        else if (c == '\r') m += (size_t)snprintf(out + m, cap - m, "\\r");
        else if (c == '\t') m += (size_t)snprintf(out + m, cap - m, "\\t");
        else if (c == '"' || c == '\\') m += (size_t)snprintf(out + m, cap - m, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) m += (size_t)snprintf(out + m, cap - m, "\\x%02x", c);
        else out[m++] = (char)c;
    }
    out[m] = 0;
    return out;
}

static const char *ids_str(const int32_t *ids, int n, int from, char *out, size_t cap) {
    size_t m = 0;
    int start = from > 2 ? from - 2 : 0;
    if (start > 0) m += (size_t)snprintf(out + m, cap - m, "... ");
    for (int i = start; i < n && i < start + SHOW_IDS && m + 16 < cap; i++)
        m += (size_t)snprintf(out + m, cap - m, "%d ", (int)ids[i]);
    if (start + SHOW_IDS < n) snprintf(out + m, cap - m, "... (%d ids)", n);
    return out;
}

/* The text of a case: "text" (may hold NUL) or "hex" (raw bytes). Heap copy in *buf. */
static int case_text(json_t *c, char **buf, size_t *len) {
    json_t *text = json_object_get(c, "text"), *hex = json_object_get(c, "hex");
    if (json_is_string(text)) {
        *len = json_string_length(text);
        *buf = malloc(*len + 1);
        memcpy(*buf, json_string_value(text), *len + 1);
        return 0;
    }
    if (!json_is_string(hex)) return -1;
    const char *h = json_string_value(hex);
    *len = strlen(h) / 2;
    *buf = malloc(*len + 1);
    for (size_t i = 0; i < *len; i++) {
        unsigned v = 0;
        sscanf(h + 2 * i, "%2x", &v);
        (*buf)[i] = (char)v;
    }
    (*buf)[*len] = 0;
    return 0;
}

typedef struct {
    int strings, mismatches, roundtrip_fail;
} Stats;

/* Compares tok_encode with one golden id list; reports only the first mismatch per golden. */
static void check_ids(const char *golden, Tokenizer *t, const char *text, size_t len, json_t *want,
                      bool add, bool parse, const char *mode, Stats *st) {
    int32_t *ids = NULL;
    int n = 0;
    Err err = {0};
    char esc[512], a[512], b[512];
    if (tok_encode(t, text, len, add, parse, &ids, &n, &err)) {
        if (st->mismatches++ == 0)
            test_fail(__FILE__, __LINE__, "%s: encode failed on \"%s\" (%s): %s", golden,
                      escaped(text, len, esc, sizeof esc), mode, err.msg);
        return;
    }
    int nw = (int)json_array_size(want);
    int32_t *w = malloc(((size_t)nw + 1) * sizeof *w);
    for (int i = 0; i < nw; i++) w[i] = (int32_t)json_integer_value(json_array_get(want, (size_t)i));
    int diff = -1;
    for (int i = 0; i < (n > nw ? n : nw); i++)
        if (i >= n || i >= nw || ids[i] != w[i]) {
            diff = i;
            break;
        }
    if (diff >= 0 && (st->mismatches++ == 0 || getenv("TOK_GOLDEN_VERBOSE")))
        test_fail(__FILE__, __LINE__, "%s: first mismatch on \"%s\" (%s) at id %d:\n      want %s\n      got  %s",
                  golden, escaped(text, len, esc, sizeof esc), mode, diff, ids_str(w, nw, diff, a, sizeof a),
                  ids_str(ids, n, diff, b, sizeof b));
    free(w);
    free(ids);
}

static void check_decode(const char *golden, Tokenizer *t, json_t *ids_json, bool skip, const char *want,
                         size_t want_len, const char *label, Stats *st) {
    int n = (int)json_array_size(ids_json);
    int32_t *ids = malloc(((size_t)n + 1) * sizeof *ids);
    for (int i = 0; i < n; i++) ids[i] = (int32_t)json_integer_value(json_array_get(ids_json, (size_t)i));
    char *out = NULL;
    size_t len = 0;
    Err err = {0};
    char e1[512], e2[512];
    int rc = tok_decode(t, ids, n, skip, &out, &len, &err);
    if (rc || len != want_len || memcmp(out, want, len)) {
        if (st->roundtrip_fail++ == 0 || getenv("TOK_GOLDEN_VERBOSE"))
            test_fail(__FILE__, __LINE__, "%s: %s of \"%s\" gave \"%s\"%s%s", golden, label,
                      escaped(want, want_len, e1, sizeof e1), rc ? "" : escaped(out, len, e2, sizeof e2),
                      rc ? " error: " : "", rc ? err.msg : "");
    }
    free(out);
    free(ids);
}

static void run_golden(const char *name) {
    const Fixture *f = fixture(name);
    REQUIRE(f);
    char gpath[256];
    snprintf(gpath, sizeof gpath, GOLDEN_DIR "%s.json", name);
    json_error_t je;
    json_t *root = json_load_file(gpath, JSON_ALLOW_NUL, &je);
    if (!root) {
        test_fail(__FILE__, __LINE__, "%s:%d: %s", gpath, je.line, je.text);
        return;
    }
    Tokenizer *t = load_fixture(f);
    if (!t) {
        json_decref(root);
        return;
    }
    json_t *cases = json_object_get(root, "cases");
    CHECK(json_array_size(cases) >= 300);
    bool spm_gguf = !strcmp(f->kind, "gguf") && !strcmp(tok_model_name(t), "SentencePiece BPE");
    Stats st = {0};
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        char *text = NULL;
        size_t len = 0;
        if (case_text(c, &text, &len)) {
            test_fail(__FILE__, __LINE__, "%s: case %zu has no text", gpath, i);
            continue;
        }
        st.strings++;
        /* each list is stored only where it differs from the previous one */
        json_t *add = json_object_get(c, "add");
        json_t *noadd = json_object_get(c, "noadd") ? json_object_get(c, "noadd") : add;
        json_t *noparse = json_object_get(c, "noparse") ? json_object_get(c, "noparse") : noadd;
        check_ids(name, t, text, len, add, true, true, "add_special, parse_special", &st);
        check_ids(name, t, text, len, noadd, false, true, "parse_special", &st);
        check_ids(name, t, text, len, noparse, false, false, "plain", &st);
        if (!strcmp(f->kind, "hf")) {
            /* HF's decode (stored where it differs from the text / from the plain decode) */
            json_t *dec = json_object_get(c, "decoded"), *dec_skip = json_object_get(c, "decoded_skip");
            if (json_object_get(c, "decode_note")) {
                /* HF decodes this text's non-ASCII added token byte-wise; not compared */
            } else {
                const char *d = json_is_string(dec) ? json_string_value(dec) : text;
                size_t dl = json_is_string(dec) ? json_string_length(dec) : len;
                check_decode(name, t, noparse, false, d, dl, "decode", &st);
                check_decode(name, t, noadd, true,
                             json_is_string(dec_skip) ? json_string_value(dec_skip) : d,
                             json_is_string(dec_skip) ? json_string_length(dec_skip) : dl, "decode(skip_special)", &st);
            }
        } else if (json_object_get(c, "text") && !(spm_gguf && memmem(text, len, "\xe2\x96\x81", 3))) {
            /* llama.cpp goldens: decode(encode(x)) == x for valid UTF-8 (raw invalid bytes become
             * U+FFFD in byte-level BPE; SentencePiece cannot tell U+2581 in the text from an
             * escaped space) */
            check_decode(name, t, noparse, false, text, len, "round trip", &st);
        }
        free(text);
    }
    if (st.mismatches || st.roundtrip_fail)
        fprintf(stderr, "    %s: %d id mismatches over %d strings x 3 modes, %d decode failures\n", name, st.mismatches,
                st.strings, st.roundtrip_fail);
    tok_free(t);
    json_decref(root);
}

TEST(tok_golden_smollm2_hf) { run_golden("smollm2_hf"); }
TEST(tok_golden_smollm2_gguf) { run_golden("smollm2_gguf"); }
TEST(tok_golden_stories260k_gguf) { run_golden("stories260k_gguf"); }
TEST(tok_golden_tiny_qwen2_hf) { run_golden("tiny_qwen2_hf"); }
TEST(tok_golden_qwen2_nfc_hf) { run_golden("qwen2_nfc_hf"); }
TEST(tok_golden_spm_legacy_hf) { run_golden("spm_legacy_hf"); }
TEST(tok_golden_spm_metaspace_hf) { run_golden("spm_metaspace_hf"); }
TEST(tok_golden_llama3_style_hf) { run_golden("llama3_style_hf"); }
TEST(tok_golden_qwen2_pre_gguf) { run_golden("qwen2_pre_gguf"); }
TEST(tok_golden_llama_bpe_pre_gguf) { run_golden("llama_bpe_pre_gguf"); }
TEST(tok_golden_minilm_hf) { run_golden("minilm_hf"); } /* WordPiece */

/* ---- behaviour on the real files ---- */

TEST(tok_smollm2_special_tokens_and_accessors) {
    Tokenizer *t = load_fixture(fixture("smollm2_gguf"));
    if (!t) return;
    CHECK_EQ_INT(tok_vocab_size(t), 49152);
    CHECK(strcmp(tok_model_name(t), "byte-level BPE") == 0);
    CHECK_EQ_INT(tok_find_token(t, "<|im_start|>"), 1);
    CHECK_EQ_INT(tok_find_token(t, "<|im_end|>"), 2);
    CHECK_EQ_INT(tok_find_token(t, "no such token at all"), -1);
    CHECK(tok_is_special(t, 2));
    CHECK(!tok_is_special(t, 100));
    CHECK_EQ_INT(tok_bos_id(t), 1);
    CHECK_EQ_INT(tok_eos_id(t), 2);
    CHECK(!tok_adds_bos(t));
    CHECK(strcmp(tok_token_text(t, 2), "<|im_end|>") == 0);
    CHECK(tok_token_text(t, -1) == NULL && tok_token_text(t, 49152) == NULL);
    /* skip_special drops control tokens only */
    const char *text = "<|im_start|>user\nHi<|im_end|>";
    int32_t *ids;
    int n;
    Err err = {0};
    REQUIRE(tok_encode(t, text, strlen(text), false, true, &ids, &n, &err) == 0);
    CHECK(n >= 3 && ids[0] == 1 && ids[n - 1] == 2);
    char *out;
    size_t len;
    REQUIRE(tok_decode(t, ids, n, true, &out, &len, &err) == 0);
    CHECK(strcmp(out, "user\nHi") == 0 && len == 7);
    free(out);
    REQUIRE(tok_decode(t, ids, n, false, &out, &len, &err) == 0);
    CHECK(strcmp(out, text) == 0);
    free(out);
    free(ids);
    /* bad ids are an error, not a crash */
    int32_t bad[2] = {5, 1 << 30};
    CHECK(tok_decode(t, bad, 2, false, &out, &len, &err) == -1 && err.code == ERR_ARG);
    tok_free(t);
}

TEST(tok_stories260k_bos_and_byte_fallback) {
    Tokenizer *t = load_fixture(fixture("stories260k_gguf"));
    if (!t) return;
    CHECK(strcmp(tok_model_name(t), "SentencePiece BPE") == 0);
    CHECK(tok_adds_bos(t));
    CHECK_EQ_INT(tok_bos_id(t), 1);
    CHECK_EQ_INT(tok_eos_id(t), 2);
    int32_t *ids;
    int n;
    Err err = {0};
    REQUIRE(tok_encode(t, "", 0, true, true, &ids, &n, &err) == 0);
    CHECK(n == 1 && ids[0] == 1); /* "" with add_special is just BOS */
    free(ids);
    /* a character outside the 512-token vocabulary becomes its UTF-8 bytes */
    const char *text = "\xe4\xbd\xa0";
    REQUIRE(tok_encode(t, text, strlen(text), false, false, &ids, &n, &err) == 0);
    REQUIRE(n == 4); /* the space prefix, then 3 byte tokens */
    CHECK(strcmp(tok_token_text(t, ids[1]), "<0xE4>") == 0);
    CHECK(strcmp(tok_token_text(t, ids[3]), "<0xA0>") == 0);
    char *out;
    size_t len;
    REQUIRE(tok_decode(t, ids, n, false, &out, &len, &err) == 0);
    CHECK(strcmp(out, text) == 0);
    free(out);
    free(ids);
    /* an incomplete sequence decodes to its bytes */
    int32_t half[1] = {tok_find_token(t, "<0xE4>")};
    REQUIRE(half[0] >= 0);
    REQUIRE(tok_decode(t, half, 1, false, &out, &len, &err) == 0);
    CHECK(len == 1 && (unsigned char)out[0] == 0xE4);
    free(out);
    tok_free(t);
}

TEST(tok_round_trip_mixed_text) {
    Tokenizer *t = load_fixture(fixture("smollm2_hf"));
    if (!t) return;
    /* a long mixed text: decode(encode(x)) == x, and the encoding is stable in pieces */
    const char *parts[] = {"Hello, world! ", "caf\xc3\xa9 ", "\xe4\xbd\xa0\xe5\xa5\xbd ", "12345 ",
                           "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9 ", "\t\n  ", "x = f(y) * 2;\r\n"};
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    for (int i = 0; len + 64 < cap; i++) {
        const char *p = parts[(i * 7 + i / 3) % 7];
        memcpy(text + len, p, strlen(p));
        len += strlen(p);
    }
    int32_t *ids;
    int n;
    Err err = {0};
    REQUIRE(tok_encode(t, text, len, true, false, &ids, &n, &err) == 0);
    CHECK(n > 1000);
    char *out;
    size_t olen;
    REQUIRE(tok_decode(t, ids, n, false, &out, &olen, &err) == 0);
    CHECK(olen == len && memcmp(out, text, len) == 0);
    free(out);
    free(ids);
    /* a very long single word (worst case for the merge loop) still round-trips */
    size_t wl = 200000;
    char *word = malloc(wl);
    for (size_t i = 0; i < wl; i++) word[i] = "abcab"[i % 5];
    REQUIRE(tok_encode(t, word, wl, false, false, &ids, &n, &err) == 0);
    REQUIRE(tok_decode(t, ids, n, false, &out, &olen, &err) == 0);
    CHECK(olen == wl && memcmp(out, word, wl) == 0);
    free(out);
    free(ids);
    free(word);
    free(text);
    tok_free(t);
}

TEST(tok_hf_bos_eos_from_config_and_template) {
    Tokenizer *t = load_fixture(fixture("tiny_qwen2_hf")); /* with its tokenizer_config.json */
    if (t) {
        CHECK_EQ_INT(tok_bos_id(t), -1); /* "bos_token": null */
        CHECK_EQ_INT(tok_eos_id(t), tok_find_token(t, "<|im_end|>"));
        CHECK(!tok_adds_bos(t));
        CHECK(tok_is_special(t, tok_find_token(t, "<|im_start|>")));
        Err err = {0};
        CHECK(tok_set_bos_eos(t, 1 << 20, 0, &err) == -1 && err.code == ERR_ARG);
        CHECK(tok_set_bos_eos(t, 3, 4, &err) == 0 && tok_bos_id(t) == 3 && tok_eos_id(t) == 4);
        tok_free(t);
    }
    t = load_fixture(fixture("llama3_style_hf"));
    if (t) {
        CHECK(tok_adds_bos(t));
        CHECK_EQ_INT(tok_bos_id(t), tok_find_token(t, "<|begin_of_text|>"));
        tok_free(t);
    }
    t = load_fixture(fixture("spm_legacy_hf"));
    if (t) {
        CHECK(tok_adds_bos(t));
        CHECK_EQ_INT(tok_bos_id(t), 1);
        CHECK_EQ_INT(tok_eos_id(t), 2);
        CHECK(strcmp(tok_model_name(t), "BPE") == 0);
        tok_free(t);
    }
}

/* One shared Tokenizer, many threads: the same ids as one thread (tok_encode keeps no state). */
TEST(tok_encode_is_thread_safe) {
    Tokenizer *t = load_fixture(fixture("smollm2_hf"));
    if (!t) return;
    json_error_t je;
    json_t *corpus = json_load_file(GOLDEN_DIR "corpus.json", JSON_ALLOW_NUL, &je);
    REQUIRE(json_is_array(corpus));
    int n = (int)json_array_size(corpus);
    int *serial = calloc((size_t)n, sizeof *serial), *parallel = calloc((size_t)n, sizeof *parallel);
    unsigned *hash_s = calloc((size_t)n, sizeof *hash_s), *hash_p = calloc((size_t)n, sizeof *hash_p);
    for (int pass = 0; pass < 2; pass++) {
#pragma omp parallel for schedule(dynamic) if (pass == 1)
        for (int i = 0; i < n; i++) {
            json_t *s = json_array_get(corpus, (size_t)i);
            int32_t *ids = NULL;
            int m = -1;
            Err err = {0};
            unsigned h = 2166136261u;
            if (tok_encode(t, json_string_value(s), json_string_length(s), true, true, &ids, &m, &err) == 0)
                for (int k = 0; k < m; k++) h = (h ^ (unsigned)ids[k]) * 16777619u;
            free(ids);
            (pass ? parallel : serial)[i] = m;
            (pass ? hash_p : hash_s)[i] = h;
        }
    }
    int diff = 0;
    for (int i = 0; i < n; i++) diff += serial[i] != parallel[i] || hash_s[i] != hash_p[i];
    CHECK_EQ_INT(diff, 0);
    free(serial);
    free(parallel);
    free(hash_s);
    free(hash_p);
    json_decref(corpus);
    tok_free(t);
}

/* ---- bad input ---- */

static char tmp_dir[256];

static const char *write_tmp(const char *name, const char *content, size_t len) {
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ftune_tok_XXXXXX");
        if (!mkdtemp(tmp_dir)) return NULL;
    }
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    fwrite(content, 1, len, f);
    fclose(f);
    return path;
}

/* Removes the files write_tmp made and its directory (the next write_tmp makes a new one). */
static void tmp_cleanup(void) {
    if (!tmp_dir[0]) return;
    const char *names[] = {"tokenizer.json", "mini.gguf"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", tmp_dir, names[i]);
        unlink(path);
    }
    rmdir(tmp_dir);
    tmp_dir[0] = 0;
}

static void expect_hf_error(const char *content, int code, const char *needle) {
    const char *p = write_tmp("tokenizer.json", content, strlen(content));
    REQUIRE(p);
    Tokenizer *t = (Tokenizer *)1;
    Err err = {0};
    CHECK(tok_load_hf(p, NULL, &t, &err) == -1);
    CHECK(t == NULL);
    CHECK_EQ_INT(err.code, code);
    if (!strstr(err.msg, needle)) test_fail(__FILE__, __LINE__, "error \"%s\" does not mention \"%s\"", err.msg, needle);
    if (!strstr(err.msg, "tokenizer.json"))
        test_fail(__FILE__, __LINE__, "error \"%s\" does not name the file", err.msg);
    unlink(p);
}

#define MINI_VOCAB "\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}"

TEST(tok_hf_bad_files_give_clear_errors) {
    expect_hf_error("{not json", ERR_FORMAT, "invalid JSON");
    expect_hf_error("", ERR_FORMAT, "invalid JSON");
    expect_hf_error("[1, 2, 3]", ERR_FORMAT, "not a JSON object");
    expect_hf_error("{\"version\": \"1.0\"}", ERR_FORMAT, "model");
    expect_hf_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0]]}}", ERR_UNSUPPORTED, "Unigram");
    expect_hf_error("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}", ERR_FORMAT, "unk_token");
    expect_hf_error("{\"model\": {\"type\": \"BPE\", \"merges\": []}}", ERR_FORMAT, "vocab");
    expect_hf_error("{\"model\": {\"type\": \"BPE\", " MINI_VOCAB "}}", ERR_FORMAT, "merges");
    expect_hf_error("{\"model\": {\"type\": \"BPE\", " MINI_VOCAB ", \"merges\": [\"a c\"]}}", ERR_FORMAT,
                    "not in the vocabulary");
    expect_hf_error("{\"model\": {\"type\": \"BPE\", " MINI_VOCAB ", \"merges\": [\"a b c\"]}}", ERR_FORMAT, "merges[0]");
    expect_hf_error("{\"model\": {\"type\": \"BPE\", " MINI_VOCAB ", \"merges\": [7]}}", ERR_FORMAT, "merges[0]");
    expect_hf_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -4}, \"merges\": []}}", ERR_FORMAT, "id");
    expect_hf_error("{\"model\": {\"type\": \"BPE\", " MINI_VOCAB ", \"merges\": [\"a b\"]}, "
                    "\"pre_tokenizer\": {\"type\": \"Whitespace\"}}",
                    ERR_UNSUPPORTED, "Whitespace");
    expect_hf_error("{\"model\": {\"type\": \"BPE\", " MINI_VOCAB ", \"merges\": [\"a b\"]}, "
                    "\"normalizer\": {\"type\": \"Lowercase\"}}",
                    ERR_UNSUPPORTED, "Lowercase");
    expect_hf_error("{\"model\": {\"type\": \"BPE\", " MINI_VOCAB ", \"merges\": [\"a b\"]}, "
                    "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(unclosed\"}, "
                    "\"behavior\": \"Isolated\"}}",
                    ERR_UNSUPPORTED, "regex");
    expect_hf_error("{\"model\": {\"type\": \"BPE\", " MINI_VOCAB ", \"merges\": [\"a b\"]}, "
                    "\"added_tokens\": [{\"content\": \"x\"}]}",
                    ERR_FORMAT, "added_tokens[0]");
    Tokenizer *t = NULL;
    Err err = {0};
    CHECK(tok_load_hf("/nonexistent/dir/tokenizer.json", NULL, &t, &err) == -1);
    CHECK_EQ_INT(err.code, ERR_IO);
    CHECK(strstr(err.msg, "/nonexistent/dir/tokenizer.json") != NULL);
    tmp_cleanup();
}

TEST(tok_hf_minimal_bpe_works) {
    const char *js = "{\"model\": {\"type\": \"BPE\", " MINI_VOCAB ", \"merges\": [[\"a\", \"b\"]]},"
                     " \"added_tokens\": [{\"id\": 3, \"content\": \"<x>\", \"special\": true}]}";
    const char *p = write_tmp("tokenizer.json", js, strlen(js));
    REQUIRE(p);
    Tokenizer *t = NULL;
    Err err = {0};
    REQUIRE(tok_load_hf(p, NULL, &t, &err) == 0);
    CHECK_EQ_INT(tok_vocab_size(t), 4);
    int32_t *ids;
    int n;
    REQUIRE(tok_encode(t, "abab<x>ba", 9, true, true, &ids, &n, &err) == 0);
    CHECK(n == 5 && ids[0] == 2 && ids[1] == 2 && ids[2] == 3 && ids[3] == 1 && ids[4] == 0);
    free(ids);
    REQUIRE(tok_encode(t, "ab<x>", 5, false, false, &ids, &n, &err) == 0);
    CHECK(n == 1 && ids[0] == 2); /* '<', 'x', '>' are not in the vocabulary: dropped, as HF does */
    free(ids);
    CHECK(tok_encode(t, NULL, 3, false, false, &ids, &n, &err) == -1 && err.code == ERR_ARG);
    tok_free(t);
    tok_free(NULL);
    tmp_cleanup();
}

/* ---- GGUF metadata errors: a minimal GGUF writer ---- */

typedef struct {
    char *p;
    size_t n, cap;
} Bytes;

static void put(Bytes *b, const void *s, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void put_u32(Bytes *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(Bytes *b, uint64_t v) { put(b, &v, 8); }
static void put_str(Bytes *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void kv_str(Bytes *b, const char *key, const char *v) {
    put_str(b, key);
    put_u32(b, GGUF_TYPE_STRING);
    put_str(b, v);
}
static void kv_strs(Bytes *b, const char *key, const char **v, int n) {
    put_str(b, key);
    put_u32(b, GGUF_TYPE_ARRAY);
    put_u32(b, GGUF_TYPE_STRING);
    put_u64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) put_str(b, v[i]);
}

/* A GGUF with only tokenizer metadata: model, tokens ("a", "b", "ab", "\xc4\xa0"), merges, pre. */
static int open_mini_gguf(const char *model, const char *pre, bool with_tokens, Gguf **g, Err *err) {
    Bytes b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, 0); /* tensors */
    int n_kv = 1 + (with_tokens ? 2 : 0) + (pre ? 1 : 0);
    put_u64(&b, (uint64_t)n_kv);
    kv_str(&b, "tokenizer.ggml.model", model);
    if (with_tokens) {
        const char *toks[] = {"a", "b", "ab", "\xc4\xa0"};
        const char *merges[] = {"a b"};
        kv_strs(&b, "tokenizer.ggml.tokens", toks, 4);
        kv_strs(&b, "tokenizer.ggml.merges", merges, 1);
    }
    if (pre) kv_str(&b, "tokenizer.ggml.pre", pre);
    const char *p = write_tmp("mini.gguf", b.p, b.n);
    free(b.p);
    if (!p) return -1;
    return gguf_open(p, g, err);
}

TEST(tok_gguf_bad_metadata_gives_clear_errors) {
    Gguf *g = NULL;
    Err err = {0};
    Tokenizer *t = NULL;
    REQUIRE(open_mini_gguf("gpt2", "no-such-pre", true, &g, &err) == 0);
    CHECK(tok_load_gguf(g, &t, &err) == -1 && t == NULL);
    CHECK_EQ_INT(err.code, ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "no-such-pre") != NULL);
    gguf_close(g);

    REQUIRE(open_mini_gguf("bert", "default", true, &g, &err) == 0);
    CHECK(tok_load_gguf(g, &t, &err) == -1);
    CHECK_EQ_INT(err.code, ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "bert") != NULL);
    gguf_close(g);

    REQUIRE(open_mini_gguf("gpt2", "default", false, &g, &err) == 0);
    CHECK(tok_load_gguf(g, &t, &err) == -1);
    CHECK_EQ_INT(err.code, ERR_FORMAT);
    CHECK(strstr(err.msg, "tokenizer.ggml.tokens") != NULL);
    gguf_close(g);

    /* the same file with a known pre-tokenizer loads and merges "a b" */
    REQUIRE(open_mini_gguf("gpt2", "gpt-2", true, &g, &err) == 0);
    REQUIRE(tok_load_gguf(g, &t, &err) == 0);
    gguf_close(g);
    int32_t *ids;
    int n;
    REQUIRE(tok_encode(t, "ab a", 4, true, true, &ids, &n, &err) == 0);
    CHECK(n == 3 && ids[0] == 2 && ids[1] == 3 && ids[2] == 0); /* "ab", "Ġ", "a" */
    free(ids);
    tok_free(t);
    CHECK(tok_load_gguf(NULL, &t, &err) == -1 && err.code == ERR_ARG);
    tmp_cleanup();
}
