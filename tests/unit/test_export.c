/* test_export.c: a model with an adapter merged in and exported as a Hugging Face directory,
 * loaded back, computes the same logits as the base model with the adapter applied unmerged;
 * from a GGUF source (stories260K, llama with un-permuted q/k) and a Hugging Face one (tiny
 * Qwen2, biases, tokenizer files copied). */
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/rng.h"
#include "model/export.h"
#include "model/infer.h"
#include "test.h"

static void check_export(const char *src, const char *out) {
    Err err = {0};
    Model *m, *merged;
    if (model_load(src, &m, &err)) {
        test_skip("model not available");
        return;
    }
    LoraConfig cfg = {4, 8.0f, 0.0f, LORA_ALL_TARGETS};
    Lora *l;
    REQUIRE(lora_new(m, &cfg, &l, &err) == 0);
    lora_init(l, 3);
    Rng r;
    rng_seed(&r, 4);
    for (size_t i = 0; i < l->n_params; i++) l->params[i] += (rng_uniform(&r) - 0.5f) * 0.2f;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", out);
    REQUIRE(system(cmd) == 0);
    if (model_export_merged(m, l, out, &err)) {
        test_fail(__FILE__, __LINE__, "%s", err.msg);
        return;
    }
    REQUIRE(model_load(out, &merged, &err) == 0);
    CHECK_EQ_INT(merged->cfg.n_layer, m->cfg.n_layer);
    CHECK_EQ_INT(merged->cfg.qkv_bias, m->cfg.qkv_bias);
    CHECK_EQ_INT(tok_vocab_size(merged->tok), tok_vocab_size(m->tok));
    CHECK_EQ_INT(chat_template_kind(merged->tmpl), chat_template_kind(m->tmpl));
    static const int32_t ids[] = {1, 30, 40, 50, 60, 70, 80, 90};
    enum { N = sizeof ids / sizeof ids[0] };
    InferState *a, *b;
    REQUIRE(infer_new(m, 16, 2, &a, &err) == 0 && infer_new(merged, 16, 2, &b, &err) == 0);
    REQUIRE(infer_set_lora(a, l, &err) == 0);
    int V = m->cfg.vocab;
    float *la = malloc((size_t)N * V * sizeof(float)), *lb = malloc((size_t)N * V * sizeof(float));
    REQUIRE(infer_forward(a, ids, N, la, &err) == 0 && infer_forward(b, ids, N, lb, &err) == 0);
    double mx = 0, ref = 0;
    for (int i = 0; i < N * V; i++) {
        mx = fmax(mx, fabs(la[i] - lb[i]));
        ref = fmax(ref, fabs(la[i]));
    }
    printf("    %s: merged vs unmerged max |logit diff| %.2g (max |logit| %.3g)\n", src, mx, ref);
    CHECK(mx <= 1e-4 * ref);
    free(la);
    free(lb);
    infer_free(a);
    infer_free(b);
    lora_free(l);
    model_free(merged);
    model_free(m);
    REQUIRE(system(cmd) == 0); /* the export is large for a real model: do not leave it behind */
}

TEST(export_merged_from_gguf_matches_unmerged_adapter) {
    /* SmolLM2: GGUF llama (q/k stored permuted), tied embeddings, tokenizer.json written from GGUF */
    const char *s = test_model("nonexistent", "SmolLM2-135M-Instruct.Q4_1.gguf");
    if (s) check_export(s, "/tmp/ftune_export_smollm2");
    else test_skip("SmolLM2 GGUF not fetched");
}

TEST(export_refuses_sentencepiece_gguf_tokenizers) {
    const char *p = test_model("models/stories260K/stories260K.gguf", "stories260K.gguf");
    if (!p) { test_skip("stories260K not available"); return; }
    /* stories260K has a SentencePiece tokenizer: tokenizer.json cannot be written from it yet */
    Err err = {0};
    Model *m;
    REQUIRE(model_load(p, &m, &err) == 0);
    REQUIRE(system("rm -rf /tmp/ftune_export_spm") == 0);
    CHECK(model_export_merged(m, NULL, "/tmp/ftune_export_spm", &err) == -1);
    CHECK(err.code == ERR_UNSUPPORTED);
    CHECK(!file_is_dir("/tmp/ftune_export_spm")); /* refused before anything was written */
    model_free(m);
}

TEST(export_merged_from_hf_matches_unmerged_adapter) {
    if (!file_is_dir("models/tiny-qwen2")) { test_skip("tiny-qwen2 not written"); return; }
    check_export("models/tiny-qwen2", "/tmp/ftune_export_qwen2");
}
