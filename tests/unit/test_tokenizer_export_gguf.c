/* test_tokenizer_export_gguf.c: tok_export_gguf. SmolLM2's tokenizer.json written as GGUF metadata
 * equals the metadata llama.cpp's convert_hf_to_gguf.py wrote into the SmolLM2 GGUF (tokens, token
 * types, merges, pre-tokenizer name); tiny Qwen2's, read back by tok_load_gguf, encodes the golden
 * corpus to the same ids as tokenizer.json does; a SentencePiece tokenizer is refused. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "model/gguf.h"
#include "model/gguf_write.h"
#include "text/tokenizer.h"
#include "test.h"

/* t's metadata written into a GGUF file and opened (NULL on failure, with a test failure). */
static Gguf *export_and_open(const Tokenizer *t, int n_vocab, const char *name) {
    GgufWriter *w;
    Err err = {0};
    char path[256];
    snprintf(path, sizeof path, "/tmp/ftune_test_tok_gguf_%d_%s.gguf", (int)getpid(), name);
    Gguf *g = NULL;
    if (gguf_writer_new(&w, &err) || tok_export_gguf(t, n_vocab, w, &err) || gguf_writer_write(w, path, &err) ||
        gguf_open(path, &g, &err))
        test_fail(__FILE__, __LINE__, "%s: %s", name, err.msg);
    gguf_writer_free(w);
    unlink(path);
    return g;
}

static bool same_strings(const GgufKV *a, const GgufKV *b) {
    if (!a || !b || a->arr_type != GGUF_TYPE_STRING || b->arr_type != GGUF_TYPE_STRING || a->arr_len != b->arr_len)
        return false;
    for (uint64_t i = 0; i < a->arr_len; i++)
        if (a->arr_str_len[i] != b->arr_str_len[i] || memcmp(a->arr_str[i], b->arr_str[i], a->arr_str_len[i]))
            return false;
    return true;
}

TEST(tok_export_gguf_smollm2_equals_llama_cpp_converter) {
    const char *p = test_model("nonexistent", "SmolLM2-135M-Instruct.Q4_1.gguf");
    const char *tj = "models/smollm2-135m-instruct-tokenizer/tokenizer.json";
    if (!p || !file_exists(tj)) { test_skip("SmolLM2 GGUF or tokenizer.json not fetched"); return; }
    Err err = {0};
    Gguf *ref;
    Tokenizer *t;
    REQUIRE(gguf_open(p, &ref, &err) == 0);
    REQUIRE(tok_load_hf(tj, NULL, &t, &err) == 0);
    Gguf *g = export_and_open(t, tok_vocab_size(t), "smollm2");
    REQUIRE(g);
    CHECK(strcmp(gguf_get_str(g, "tokenizer.ggml.model", ""), "gpt2") == 0);
    CHECK(strcmp(gguf_get_str(g, "tokenizer.ggml.pre", ""), gguf_get_str(ref, "tokenizer.ggml.pre", "?")) == 0);
    CHECK(same_strings(gguf_find(g, "tokenizer.ggml.tokens"), gguf_find(ref, "tokenizer.ggml.tokens")));
    CHECK(same_strings(gguf_find(g, "tokenizer.ggml.merges"), gguf_find(ref, "tokenizer.ggml.merges")));
    const GgufKV *a = gguf_find(g, "tokenizer.ggml.token_type"), *b = gguf_find(ref, "tokenizer.ggml.token_type");
    REQUIRE(a && b && a->arr_len == b->arr_len);
    int differ = 0;
    for (uint64_t i = 0; i < a->arr_len; i++) differ += gguf_arr_int(a, i) != gguf_arr_int(b, i);
    CHECK_EQ_INT(differ, 0);
    CHECK_EQ_INT(gguf_get_int(g, "tokenizer.ggml.add_bos_token", -1), 0);
    gguf_close(g);
    gguf_close(ref);
    tok_free(t);
}

TEST(tok_export_gguf_qwen2_round_trips_the_corpus) {
    if (!file_is_dir("models/tiny-qwen2")) { test_skip("tiny-qwen2 not written"); return; }
    Err err = {0};
    Tokenizer *a, *b;
    REQUIRE(tok_load_hf("models/tiny-qwen2/tokenizer.json", "models/tiny-qwen2/tokenizer_config.json", &a, &err) == 0);
    Gguf *g = export_and_open(a, tok_vocab_size(a) + 5, "qwen2");
    REQUIRE(g);
    CHECK(strcmp(gguf_get_str(g, "tokenizer.ggml.pre", ""), "qwen2") == 0);
    const GgufKV *tokens = gguf_find(g, "tokenizer.ggml.tokens");
    REQUIRE(tokens && tokens->arr_len == (uint64_t)tok_vocab_size(a) + 5);
    CHECK(strcmp(tokens->arr_str[tokens->arr_len - 1], "[PAD563]") == 0); /* padding rows, as the converter's */
    REQUIRE(tok_load_gguf(g, &b, &err) == 0);
    json_t *corpus = json_load_file(test_path("tests/golden/tokenizer/corpus.json"), JSON_ALLOW_NUL, NULL);
    REQUIRE(corpus);
    json_t *strings = json_is_array(corpus) ? corpus : json_object_get(corpus, "strings");
    int mismatches = 0, n = 0;
    for (size_t i = 0; i < json_array_size(strings); i++) {
        json_t *e = json_array_get(strings, i);
        json_t *s = json_is_string(e) ? e : json_object_get(e, "text");
        if (!json_is_string(s)) continue;
        int32_t *x, *y;
        int nx, ny;
        if (tok_encode(a, json_string_value(s), json_string_length(s), false, true, &x, &nx, &err) ||
            tok_encode(b, json_string_value(s), json_string_length(s), false, true, &y, &ny, &err)) {
            mismatches++;
            continue;
        }
        n++;
        if (nx != ny || memcmp(x, y, (size_t)nx * sizeof(int32_t)) != 0) {
            if (mismatches < 3) test_fail(__FILE__, __LINE__, "corpus string %zu encodes differently", i);
            mismatches++;
        }
        free(x);
        free(y);
    }
    CHECK(n >= 300);
    CHECK_EQ_INT(mismatches, 0);
    json_decref(corpus);
    tok_free(b);
    gguf_close(g);
    tok_free(a);
}

TEST(tok_export_gguf_refuses_sentencepiece) {
    const char *p = test_model("models/stories260K/stories260K.gguf", "stories260K.gguf");
    if (!p) { test_skip("stories260K not available"); return; }
    Err err = {0};
    Gguf *g;
    Tokenizer *t;
    GgufWriter *w;
    REQUIRE(gguf_open(p, &g, &err) == 0 && tok_load_gguf(g, &t, &err) == 0 && gguf_writer_new(&w, &err) == 0);
    CHECK(tok_export_gguf(t, tok_vocab_size(t), w, &err) == -1 && err.code == ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "SentencePiece") != NULL);
    gguf_writer_free(w);
    tok_free(t);
    gguf_close(g);
}
