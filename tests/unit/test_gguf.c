/* test_gguf.c: the GGUF reader on the real stories260K file and on corrupted copies. */
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "model/gguf.h"
#include "test.h"

TEST(gguf_reads_stories260k_metadata_and_tensors) {
    const char *p = test_model("models/stories260K/stories260K.gguf", "stories260K.gguf");
    if (!p) { test_skip("stories260K.gguf not available"); return; }
    Gguf *g = NULL;
    Err err = {0};
    REQUIRE(gguf_open(p, &g, &err) == 0);
    CHECK_EQ_INT(gguf_version(g), 3);
    CHECK_EQ_INT(gguf_n_tensors(g), 48);
    CHECK(strcmp(gguf_get_str(g, "general.architecture", ""), "llama") == 0);
    CHECK_EQ_INT(gguf_get_int(g, "llama.block_count", 0), 5);
    CHECK_EQ_INT(gguf_get_int(g, "llama.embedding_length", 0), 64);
    CHECK_NEAR(gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", 0), 1e-5, 1e-9);
    const GgufKV *tokens = gguf_find(g, "tokenizer.ggml.tokens");
    REQUIRE(tokens && tokens->type == GGUF_TYPE_ARRAY && tokens->arr_type == GGUF_TYPE_STRING);
    CHECK_EQ_INT(tokens->arr_len, 512);
    CHECK(strcmp(tokens->arr_str[1], "<s>") == 0);
    const GgufTensor *t = gguf_find_tensor(g, "blk.0.ffn_gate.weight");
    REQUIRE(t);
    CHECK_EQ_INT(t->ne[0], 64);
    CHECK_EQ_INT(t->ne[1], 172);
    float *w = malloc(t->n_elements * sizeof(float));
    CHECK(gguf_tensor_to_f32(t, w, &err) == 0);
    float first;
    memcpy(&first, t->data, 4);
    CHECK(w[0] == first);
    free(w);
    gguf_close(g);
}

TEST(gguf_fp16_conversion) {
    CHECK(fp16_to_f32(0x3c00) == 1.0f);
    CHECK(fp16_to_f32(0xc000) == -2.0f);
    CHECK(fp16_to_f32(0x0001) == 5.960464477539063e-08f); /* smallest subnormal */
    CHECK(fp16_to_f32(0x7bff) == 65504.0f);
    CHECK(bf16_to_f32(0x3f80) == 1.0f);
}
