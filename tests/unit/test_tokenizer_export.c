/* test_tokenizer_export.c: the SmolLM2 GGUF tokenizer written as tokenizer.json and read back by
 * the tokenizer.json loader encodes the whole golden corpus to the same ids as the GGUF one. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "text/tokenizer.h"
#include "test.h"

TEST(tok_export_hf_round_trips_the_smollm2_gguf_tokenizer) {
    const char *p = test_model("nonexistent", "SmolLM2-135M-Instruct.Q4_1.gguf");
    if (!p) { test_skip("SmolLM2 GGUF not fetched"); return; }
    Err err = {0};
    Gguf *g;
    Tokenizer *a, *b;
    REQUIRE(gguf_open(p, &g, &err) == 0);
    REQUIRE(tok_load_gguf(g, &a, &err) == 0);
    gguf_close(g);
    char *json;
    REQUIRE(tok_export_hf(a, &json, &err) == 0);
    FILE *f = fopen("/tmp/ftune_test_tokenizer.json", "w");
    fputs(json, f);
    fclose(f);
    free(json);
    REQUIRE(tok_load_hf("/tmp/ftune_test_tokenizer.json", NULL, &b, &err) == 0);
    CHECK_EQ_INT(tok_vocab_size(a), tok_vocab_size(b));
    json_error_t je;
    json_t *corpus = json_load_file("tests/golden/tokenizer/corpus.json", JSON_ALLOW_NUL, &je);
    REQUIRE(corpus);
    json_t *strings = json_is_array(corpus) ? corpus : json_object_get(corpus, "strings");
    REQUIRE(json_array_size(strings) >= 300);
    int mismatches = 0;
    for (size_t i = 0; i < json_array_size(strings); i++) {
        json_t *e = json_array_get(strings, i);
        const char *s = json_is_string(e) ? json_string_value(e) : json_string_value(json_object_get(e, "text"));
        size_t len = json_is_string(e) ? json_string_length(e) : json_string_length(json_object_get(e, "text"));
        if (!s) continue;
        for (int special = 0; special < 2; special++) {
            int32_t *x, *y;
            int nx, ny;
            if (tok_encode(a, s, len, false, special, &x, &nx, &err) || tok_encode(b, s, len, false, special, &y, &ny, &err)) {
                mismatches++;
                continue;
            }
            if (nx != ny || memcmp(x, y, nx * sizeof(int32_t)) != 0) {
                if (mismatches < 3) test_fail(__FILE__, __LINE__, "string %zu (parse_special %d) differs", i, special);
                mismatches++;
            }
            free(x);
            free(y);
        }
    }
    CHECK_EQ_INT(mismatches, 0);
    json_decref(corpus);
    tok_free(a);
    tok_free(b);
}
