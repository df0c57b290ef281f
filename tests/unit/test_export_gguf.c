/* test_export_gguf.c: GGUF exports (model/export_gguf.h, export_modelfile.h).
 *  - An adapter GGUF read back through gguf.c holds the LoRA factors: A as it is, B with q/k rows
 *    in GGUF's RoPE pair order for Llama (stories260K) and in Hugging Face order for Qwen2.
 *  - A merged F32 export computes the logits of the base with the adapter unmerged.
 *  - The merged F16 export of stories260K with the committed adapter is byte-identical to the file
 *    scripts/golden_gguf_export.py ran in llama.cpp, and ftune's logits on it are within
 *    LLAMA_CPP_F16_BOUND of llama.cpp's (tests/golden/gguf_export/).
 *  - Modelfiles: ChatML translated (SmolLM2: default system message, stop tokens), plain refused. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/digest.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "model/export_gguf.h"
#include "model/export_modelfile.h"
#include "model/gguf.h"
#include "model/infer.h"
#include "model/peft.h"
#include "test.h"

/* ftune's fp32 forward against llama.cpp's on the same F16 file: llama.cpp rounds activations to
 * fp16 for its F16 matrix products, so the two differ by about an fp16 step of the logits;
 * measured 0.0007 of the largest |logit| (stories260K), bound with margin. */
#define LLAMA_CPP_F16_BOUND 0.004

static Lora *random_lora(const Model *m, uint64_t seed) {
    LoraConfig cfg = {4, 8.0f, 0.0f, LORA_ALL_TARGETS};
    Lora *l;
    Err err = {0};
    if (lora_new(m, &cfg, &l, &err)) return NULL;
    lora_init(l, seed);
    Rng r;
    rng_seed(&r, seed + 1);
    for (size_t i = 0; i < l->n_params; i++) l->params[i] += (rng_uniform(&r) - 0.5f) * 0.2f;
    return l;
}

static void tmp_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "/tmp/ftune_test_export_gguf_%d_%s", (int)getpid(), name);
}

static void check_adapter_round_trip(const char *model_path, bool permuted) {
    Err err = {0};
    Model *m;
    if (model_load(model_path, &m, &err)) {
        test_skip("model not available");
        return;
    }
    Lora *l = random_lora(m, 7);
    REQUIRE(l);
    char out[256];
    tmp_path(out, sizeof out, "adapter.gguf");
    REQUIRE(model_export_gguf_adapter(m, l, out, &err) == 0);
    Gguf *g;
    REQUIRE(gguf_open(out, &g, &err) == 0);
    CHECK(strcmp(gguf_get_str(g, "general.type", ""), "adapter") == 0);
    CHECK(strcmp(gguf_get_str(g, "adapter.type", ""), "lora") == 0);
    CHECK(strcmp(gguf_get_str(g, "general.architecture", ""), arch_describe(m->cfg.arch)->name) == 0);
    CHECK(gguf_get_float(g, "adapter.lora.alpha", 0) == 8.0);
    CHECK_EQ_INT(gguf_n_tensors(g), 2 * LORA_N_TARGETS * m->cfg.n_layer);
    int hd = m->cfg.head_dim, moved = 0;
    for (int layer = 0; layer < m->cfg.n_layer; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraPair *p = lora_pair(l, layer, (LoraTarget)t);
            const ArchWeight *w = arch_find_lora_weight(arch_describe(m->cfg.arch), (LoraTarget)t);
            char base[ARCH_MAX_NAME], name[ARCH_MAX_NAME + 16];
            arch_format_gguf_name(w, layer, base, sizeof base);
            snprintf(name, sizeof name, "%s.lora_a", base);
            const GgufTensor *a = gguf_find_tensor(g, name);
            snprintf(name, sizeof name, "%s.lora_b", base);
            const GgufTensor *b = gguf_find_tensor(g, name);
            REQUIRE(a && b && a->type == QUANT_F32 && b->type == QUANT_F32);
            CHECK(a->ne[0] == (uint64_t)p->in && a->ne[1] == (uint64_t)p->rank);
            CHECK(b->ne[0] == (uint64_t)p->rank && b->ne[1] == (uint64_t)p->out);
            CHECK(memcmp(a->data, p->A, (size_t)p->in * p->rank * sizeof(float)) == 0);
            for (int r = 0; r < p->out; r++) {
                int gr = permuted && w->rope ? model_gguf_rope_row(r, hd) : r;
                moved += gr != r;
                if (memcmp(b->data + (size_t)gr * p->rank * sizeof(float), p->B + (size_t)r * p->rank,
                           (size_t)p->rank * sizeof(float)) != 0) {
                    test_fail(__FILE__, __LINE__, "%s row %d is not B's row %d", name, gr, r);
                    break;
                }
            }
        }
    CHECK(permuted ? moved > 0 : moved == 0);
    gguf_close(g);
    unlink(out);
    lora_free(l);
    model_free(m);
}

TEST(export_gguf_adapter_llama_permutes_q_k_rows_of_b) {
    const char *p = test_model("models/stories260K/stories260K.gguf", "stories260K.gguf");
    if (p) check_adapter_round_trip(p, true);
    else test_skip("stories260K not available");
}

TEST(export_gguf_adapter_qwen2_keeps_hf_rows) {
    if (!file_is_dir("models/tiny-qwen2")) { test_skip("tiny-qwen2 not written"); return; }
    check_adapter_round_trip("models/tiny-qwen2", false);
}

/* max |a - b| / max |b| over n values */
static double rel_diff(const float *a, const float *b, size_t n) {
    double mx = 0, ref = 0;
    for (size_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs((double)a[i] - b[i]));
        ref = fmax(ref, fabs((double)b[i]));
    }
    return mx / ref;
}

TEST(export_gguf_merged_f32_matches_unmerged_adapter) {
    const char *p = test_model("models/stories260K/stories260K.gguf", "stories260K.gguf");
    if (!p) { test_skip("stories260K not available"); return; }
    Err err = {0};
    Model *m, *merged;
    REQUIRE(model_load(p, &m, &err) == 0);
    Lora *l = random_lora(m, 3);
    REQUIRE(l);
    char out[256];
    tmp_path(out, sizeof out, "merged.gguf");
    REQUIRE(model_export_gguf_merged(m, l, QUANT_F32, out, &err) == 0);
    REQUIRE(model_load(out, &merged, &err) == 0);
    CHECK_EQ_INT(tok_vocab_size(merged->tok), tok_vocab_size(m->tok));
    static const int32_t ids[] = {1, 30, 40, 50, 60, 70, 80, 90};
    enum { N = sizeof ids / sizeof ids[0] };
    InferState *a, *b;
    REQUIRE(infer_new(m, 16, 1, &a, &err) == 0 && infer_new(merged, 16, 1, &b, &err) == 0);
    REQUIRE(infer_set_lora(a, l, &err) == 0);
    size_t n = (size_t)N * m->cfg.vocab;
    float *la = malloc(n * sizeof(float)), *lb = malloc(n * sizeof(float));
    REQUIRE(infer_forward(a, ids, N, la, &err) == 0 && infer_forward(b, ids, N, lb, &err) == 0);
    double d = rel_diff(lb, la, n);
    printf("    merged F32 GGUF vs unmerged adapter: max |logit diff| %.2g of the largest\n", d);
    CHECK(d <= 1e-4);
    free(la);
    free(lb);
    infer_free(a);
    infer_free(b);
    model_free(merged);
    lora_free(l);
    model_free(m);
    unlink(out);
}

TEST(export_gguf_merged_f16_logits_match_llama_cpp) {
    const char *p = test_model("models/stories260K/stories260K.gguf", "stories260K.gguf");
    if (!p) { test_skip("stories260K not available"); return; }
    json_t *g = json_load_file(test_path("tests/golden/gguf_export/merged_f16.json"), 0, NULL);
    REQUIRE(g);
    Err err = {0};
    Model *m, *merged;
    Lora *l;
    REQUIRE(model_load(p, &m, &err) == 0);
    REQUIRE(peft_load(m, test_path("tests/golden/gguf_export/adapter"), &l, &err) == 0);
    char out[256];
    tmp_path(out, sizeof out, "merged_f16.gguf");
    REQUIRE(model_export_gguf_merged(m, l, QUANT_F16, out, &err) == 0);
    char *bytes, hex[DIGEST_SHA256_HEX];
    size_t len;
    REQUIRE(file_read_all(out, 1 << 24, &bytes, &len, &err) == 0);
    digest_sha256_hex(bytes, len, hex);
    free(bytes);
    /* the very file llama.cpp ran (else regenerate with scripts/golden_gguf_export.py) */
    CHECK(strcmp(hex, json_string_value(json_object_get(g, "sha256"))) == 0);
    json_t *jids = json_object_get(g, "ids");
    int n = (int)json_array_size(jids), V = (int)json_integer_value(json_object_get(g, "vocab"));
    REQUIRE(n > 0 && n <= 64 && V == m->cfg.vocab);
    int32_t ids[64];
    for (int i = 0; i < n; i++) ids[i] = (int32_t)json_integer_value(json_array_get(jids, i));
    char *want;
    REQUIRE(file_read_all(test_path("tests/golden/gguf_export/merged_f16_logits.bin"), 1 << 24, &want, &len, &err) == 0);
    REQUIRE(len == (size_t)n * V * sizeof(float));
    REQUIRE(model_load(out, &merged, &err) == 0);
    InferState *s;
    REQUIRE(infer_new(merged, 64, 1, &s, &err) == 0);
    float *got = malloc(len);
    REQUIRE(infer_forward(s, ids, n, got, &err) == 0);
    double d = rel_diff(got, (const float *)want, (size_t)n * V);
    int agree = 0;
    for (int i = 0; i < n; i++) {
        int a = 0, b = 0;
        for (int v = 1; v < V; v++) {
            if (got[(size_t)i * V + v] > got[(size_t)i * V + a]) a = v;
            if (((const float *)want)[(size_t)i * V + v] > ((const float *)want)[(size_t)i * V + b]) b = v;
        }
        agree += a == b;
    }
    printf("    merged F16 GGUF, ftune vs llama.cpp: max |logit diff| %.2g of the largest, argmax %d/%d\n", d, agree, n);
    CHECK(d <= LLAMA_CPP_F16_BOUND);
    CHECK_EQ_INT(agree, n);
    free(got);
    free(want);
    infer_free(s);
    model_free(merged);
    lora_free(l);
    model_free(m);
    json_decref(g);
    unlink(out);
}

TEST(export_modelfile_translates_chatml_and_refuses_plain) {
    const char *s = test_model("nonexistent", "SmolLM2-135M-Instruct.Q4_1.gguf"); /* a static buffer */
    Err err = {0};
    Model *m;
    char *text;
    if (s) {
        REQUIRE(model_load(s, &m, &err) == 0);
        if (export_modelfile_text(m, "smol.gguf", &text, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
        REQUIRE(text);
        CHECK(strstr(text, "FROM ./smol.gguf\n") != NULL);
        CHECK(strstr(text, "TEMPLATE \"\"\"{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n") != NULL);
        CHECK(strstr(text, "SYSTEM \"\"\"You are a helpful AI assistant named SmolLM, trained by Hugging Face\"\"\"") != NULL);
        CHECK(strstr(text, "PARAMETER stop \"<|im_end|>\"\n") != NULL);
        free(text);
        model_free(m);
    } else {
        test_skip("SmolLM2 GGUF not fetched");
    }
    const char *p = test_model("models/stories260K/stories260K.gguf", "stories260K.gguf");
    if (p) {
        REQUIRE(model_load(p, &m, &err) == 0);
        CHECK(export_modelfile_text(m, "x.gguf", &text, &err) == -1 && err.code == ERR_UNSUPPORTED);
        CHECK(strstr(err.msg, "plain") != NULL);
        model_free(m);
    }
}
