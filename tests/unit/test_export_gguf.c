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

/* The text an Ollama TEMPLATE of the shape export_modelfile.c writes ("{{- range .Messages }}BODY
 * {{ end }}SUFFIX", "{{- end }}" trimming the whitespace before it) renders for messages, with
 * {{ .Role }} and {{ .Content }} replaced, as Ollama's Go template engine renders it. */
static char *expand_ollama(const char *tmpl, json_t *msgs) {
    static const char open_tag[] = "{{- range .Messages }}";
    const char *end = strstr(tmpl, "{{ end }}"), *end_trim = strstr(tmpl, "{{- end }}");
    if (strncmp(tmpl, open_tag, sizeof open_tag - 1) != 0 || (!end && !end_trim)) return NULL;
    const char *body = tmpl + sizeof open_tag - 1, *stop = end_trim ? end_trim : end;
    size_t body_len = (size_t)(stop - body);
    if (end_trim)
        while (body_len && strchr(" \t\r\n", body[body_len - 1])) body_len--;
    const char *suffix = stop + (end_trim ? strlen("{{- end }}") : strlen("{{ end }}"));
    size_t cap = 1 << 16, n = 0;
    char *out = calloc(1, cap);
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *content = json_string_value(json_object_get(m, "content"));
        for (const char *p = body; p < body + body_len;) {
            if (!strncmp(p, "{{ .Role }}", 11)) n += (size_t)snprintf(out + n, cap - n, "%s", role), p += 11;
            else if (!strncmp(p, "{{ .Content }}", 14)) n += (size_t)snprintf(out + n, cap - n, "%s", content), p += 14;
            else if (n + 1 < cap) out[n++] = *p++;
        }
    }
    snprintf(out + n, cap - n, "%s", suffix);
    return out;
}

/* Whether text starts or ends with whitespace Python's str.strip() removes (ASCII and Unicode). */
static bool strip_changes(const char *text) {
    static const char *const ws[] = {" ", "\t", "\n", "\r", "\v", "\f", "\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80",
                                     "\xe2\x80\x80", "\xe2\x80\x81", "\xe2\x80\x82", "\xe2\x80\x83", "\xe2\x80\x84",
                                     "\xe2\x80\x85", "\xe2\x80\x86", "\xe2\x80\x87", "\xe2\x80\x88", "\xe2\x80\x89",
                                     "\xe2\x80\x8a", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xaf", "\xe2\x81\x9f",
                                     "\xe3\x80\x80"};
    size_t n = strlen(text);
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        size_t k = strlen(ws[i]);
        if (n >= k && (!memcmp(text, ws[i], k) || !memcmp(text + n - k, ws[i], k))) return true;
    }
    return false;
}

/* The part of a Modelfile line KEY """...""" (heap), or NULL. */
static char *modelfile_block(const char *mf, const char *key) {
    char open_s[32];
    snprintf(open_s, sizeof open_s, "\n%s \"\"\"", key);
    const char *a = strstr(mf, open_s);
    if (!a) return NULL;
    a += strlen(open_s);
    const char *b = strstr(a, "\"\"\"");
    return b ? strndup(a, (size_t)(b - a)) : NULL;
}

/* Every golden chat of the ChatML and Llama 3 templates (jinja2's renderings, tests/golden/
 * chat_template/) that Ollama can express -- system, user and assistant messages, a generation
 * prompt, no tools; for Llama 3 contents without the surrounding whitespace its template strips --
 * renders through the Modelfile's TEMPLATE (with SYSTEM as Ollama adds it when the chat has no
 * system message, and bos as the tokenizer adds it) to the same text. */
TEST(export_modelfile_template_renders_like_the_model_template) {
    static const char *const names[] = {"smollm2-135m-instruct", "qwen2.5-instruct", "qwen1.5-chat",
                                        "chatml-openhermes-2.5", "llama3-8b-instruct", "llama3-8b-instruct-original"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char path[256];
        snprintf(path, sizeof path, "tests/golden/chat_template/%s.json", names[k]);
        json_t *g = json_load_file(test_path(path), 0, NULL);
        REQUIRE(g);
        char *src, *mf;
        size_t len;
        Err err = {0};
        REQUIRE(file_read_all(test_path(json_string_value(json_object_get(g, "template_file"))), 1 << 20, &src, &len,
                              &err) == 0);
        const char *bos = json_string_value(json_object_get(g, "bos_token"));
        const char *eos = json_string_value(json_object_get(g, "eos_token"));
        ChatTemplate *ct;
        REQUIRE(chat_template_new(src, bos, eos, &ct, &err) == 0);
        if (export_modelfile_text(ct, eos, names[k], "m.gguf", &mf, &err)) {
            test_fail(__FILE__, __LINE__, "%s: %s", names[k], err.msg);
            continue;
        }
        CHECK(strstr(mf, "FROM ./m.gguf\n") != NULL);
        char stop[300];
        snprintf(stop, sizeof stop, "PARAMETER stop \"%s\"\n", chat_template_end_of_turn(ct));
        CHECK(strstr(mf, stop) != NULL);
        char *tmpl = modelfile_block(mf, "TEMPLATE"), *sys = modelfile_block(mf, "SYSTEM");
        REQUIRE(tmpl);
        CHECK((sys != NULL) == (chat_template_default_system(ct) != NULL));
        int checked = 0;
        json_t *cases = json_object_get(g, "cases"), *c;
        size_t i;
        json_array_foreach(cases, i, c) {
            json_t *msgs = json_object_get(c, "messages");
            if (!json_is_true(json_object_get(c, "add_generation_prompt")) || json_object_get(c, "tools") ||
                json_is_true(json_object_get(c, "expect_error")) || !json_string_value(json_object_get(c, "expected")))
                continue;
            bool ok = json_array_size(msgs) > 0;
            json_t *m;
            size_t j;
            json_array_foreach(msgs, j, m) {
                const char *role = json_string_value(json_object_get(m, "role"));
                const char *content = json_string_value(json_object_get(m, "content"));
                if (!role || !content || json_object_get(m, "tool_calls") ||
                    (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant")))
                    ok = false;
                else if (chat_template_kind(ct) == CHAT_TEMPLATE_LLAMA3 && strip_changes(content))
                    ok = false; /* Llama 3 strips contents; Ollama passes them as sent */
            }
            if (!ok) continue;
            json_t *with_sys = json_deep_copy(msgs);
            const char *first = json_string_value(json_object_get(json_array_get(msgs, 0), "role"));
            if (sys && strcmp(first, "system") != 0)
                json_array_insert_new(with_sys, 0, json_pack("{s:s, s:s}", "role", "system", "content", sys));
            char *got = expand_ollama(tmpl, with_sys);
            REQUIRE(got);
            char want[1 << 16];
            snprintf(want, sizeof want, "%s", json_string_value(json_object_get(c, "expected")));
            const char *w = want;
            if (chat_template_adds_bos(ct) && !strncmp(w, bos, strlen(bos))) w += strlen(bos); /* the tokenizer's */
            if (strcmp(got, w) != 0)
                test_fail(__FILE__, __LINE__, "%s, %s: Ollama would render\n%s\nthe template renders\n%s", names[k],
                          json_string_value(json_object_get(c, "name")), got, w);
            checked++;
            free(got);
            json_decref(with_sys);
        }
        CHECK(checked >= 5);
        printf("    %s: %d chats render the same through the Modelfile\n", names[k], checked);
        free(tmpl);
        free(sys);
        free(mf);
        free(src);
        chat_template_free(ct);
        json_decref(g);
    }
}

TEST(export_modelfile_refuses_templates_without_translation) {
    static const char *const names[] = {"llama2-chat", "mistral-7b-instruct-v0.2"};
    for (size_t k = 0; k < 3; k++) {
        ChatTemplate *ct;
        Err err = {0};
        char *src = NULL, *mf = NULL;
        size_t len;
        if (k < 2) {
            char path[256];
            snprintf(path, sizeof path, "tests/data/chat_templates/%s.jinja", names[k]);
            REQUIRE(file_read_all(test_path(path), 1 << 20, &src, &len, &err) == 0);
        }
        REQUIRE(chat_template_new(src, "<s>", "</s>", &ct, &err) == 0);
        CHECK(export_modelfile_text(ct, "</s>", "model", "x.gguf", &mf, &err) == -1 && err.code == ERR_UNSUPPORTED);
        CHECK(mf == NULL && strstr(err.msg, "no Ollama translation") != NULL);
        chat_template_free(ct);
        free(src);
    }
}
