/* test_arch.c: the architecture tables (model/arch.h): every role named in both formats, names and
 * shapes resolved for layer 3 of both architectures, LoRA targets mapped to PEFT module names, and
 * the weights visited in file order with the presence conditions applied. */
#include <string.h>

#include "model/arch.h"
#include "model/model.h"
#include "test.h"

static const ModelArch ARCHS[] = {ARCH_LLAMA, ARCH_QWEN2};

TEST(arch_every_role_has_both_names_once) {
    for (size_t i = 0; i < sizeof ARCHS / sizeof ARCHS[0]; i++) {
        const ArchDesc *a = arch_describe(ARCHS[i]);
        CHECK_EQ_INT(a->arch, ARCHS[i]);
        CHECK_EQ_INT(a->n_weights, W_COUNT);
        for (int r = 0; r < W_COUNT; r++) {
            const ArchWeight *w = arch_find_weight(a, r);
            REQUIRE(w != NULL);
            CHECK(w->hf_name && w->hf_name[0] && w->gguf_name && w->gguf_name[0]);
            /* a per-layer pattern takes the layer, a global one does not */
            CHECK_EQ_INT(strstr(w->hf_name, "%d") != NULL, w->per_layer);
            CHECK_EQ_INT(strstr(w->gguf_name, "%d") != NULL, w->per_layer);
            int n = 0;
            for (int j = 0; j < a->n_weights; j++) n += a->weights[j].role == (WeightRole)r;
            CHECK_EQ_INT(n, 1);
        }
    }
}

TEST(arch_names_resolve_for_layer_3) {
    static const struct { WeightRole role; const char *hf, *gguf; } want[] = {
        {W_TOK_EMBD, "model.embed_tokens.weight", "token_embd.weight"},
        {W_OUT_NORM, "model.norm.weight", "output_norm.weight"},
        {W_OUTPUT, "lm_head.weight", "output.weight"},
        {W_ATTN_NORM, "model.layers.3.input_layernorm.weight", "blk.3.attn_norm.weight"},
        {W_Q, "model.layers.3.self_attn.q_proj.weight", "blk.3.attn_q.weight"},
        {W_K, "model.layers.3.self_attn.k_proj.weight", "blk.3.attn_k.weight"},
        {W_V, "model.layers.3.self_attn.v_proj.weight", "blk.3.attn_v.weight"},
        {W_Q_BIAS, "model.layers.3.self_attn.q_proj.bias", "blk.3.attn_q.bias"},
        {W_K_BIAS, "model.layers.3.self_attn.k_proj.bias", "blk.3.attn_k.bias"},
        {W_V_BIAS, "model.layers.3.self_attn.v_proj.bias", "blk.3.attn_v.bias"},
        {W_O, "model.layers.3.self_attn.o_proj.weight", "blk.3.attn_output.weight"},
        {W_FFN_NORM, "model.layers.3.post_attention_layernorm.weight", "blk.3.ffn_norm.weight"},
        {W_GATE, "model.layers.3.mlp.gate_proj.weight", "blk.3.ffn_gate.weight"},
        {W_UP, "model.layers.3.mlp.up_proj.weight", "blk.3.ffn_up.weight"},
        {W_DOWN, "model.layers.3.mlp.down_proj.weight", "blk.3.ffn_down.weight"},
    };
    for (size_t i = 0; i < sizeof ARCHS / sizeof ARCHS[0]; i++) {
        const ArchDesc *a = arch_describe(ARCHS[i]);
        for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
            char name[ARCH_MAX_NAME];
            const ArchWeight *w = arch_find_weight(a, want[k].role);
            REQUIRE(w != NULL);
            arch_format_hf_name(w, 3, name, sizeof name);
            if (strcmp(name, want[k].hf)) test_fail(__FILE__, __LINE__, "%s: '%s' != '%s'", a->name, name, want[k].hf);
            arch_format_gguf_name(w, 3, name, sizeof name);
            if (strcmp(name, want[k].gguf))
                test_fail(__FILE__, __LINE__, "%s: '%s' != '%s'", a->name, name, want[k].gguf);
        }
    }
}

TEST(arch_shapes_follow_the_config) {
    ModelConfig c = {.arch = ARCH_QWEN2, .n_layer = 5, .dim = 64, .n_head = 4, .n_kv_head = 2, .head_dim = 16,
                     .ffn_dim = 160, .vocab = 559};
    static const struct { WeightRole role; size_t rows, cols; } want[] = {
        {W_TOK_EMBD, 559, 64}, {W_OUTPUT, 559, 64}, {W_OUT_NORM, 64, 1}, {W_Q, 64, 64}, {W_K, 32, 64},
        {W_V, 32, 64},         {W_O, 64, 64},       {W_Q_BIAS, 64, 1},   {W_K_BIAS, 32, 1}, {W_GATE, 160, 64},
        {W_UP, 160, 64},       {W_DOWN, 64, 160},   {W_ATTN_NORM, 64, 1}};
    const ArchDesc *a = arch_describe(ARCH_QWEN2);
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        const ArchWeight *w = arch_find_weight(a, want[k].role);
        REQUIRE(w != NULL);
        CHECK_EQ_INT(arch_dim_size(w->rows, &c), want[k].rows);
        CHECK_EQ_INT(arch_dim_size(w->cols, &c), want[k].cols);
    }
}

TEST(arch_lora_targets_map_to_peft_modules) {
    static const char *const modules[LORA_N_TARGETS] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                                        "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                                        "mlp.down_proj"};
    static const WeightRole roles[LORA_N_TARGETS] = {W_Q, W_K, W_V, W_O, W_GATE, W_UP, W_DOWN};
    for (size_t i = 0; i < sizeof ARCHS / sizeof ARCHS[0]; i++) {
        const ArchDesc *a = arch_describe(ARCHS[i]);
        int n_targets = 0;
        for (int j = 0; j < a->n_weights; j++) {
            const ArchWeight *w = &a->weights[j];
            CHECK_EQ_INT(w->lora == ARCH_NO_LORA, w->lora_module == NULL);
            if (w->lora == ARCH_NO_LORA) continue;
            n_targets++;
            /* the PEFT module is the Hugging Face name of the matrix, within its layer */
            char hf[ARCH_MAX_NAME], want[ARCH_MAX_NAME];
            arch_format_hf_name(w, 7, hf, sizeof hf);
            snprintf(want, sizeof want, "model.layers.7.%s.weight", w->lora_module);
            CHECK(strcmp(hf, want) == 0);
            CHECK(w->cols != ARCH_DIM_ONE);
        }
        CHECK_EQ_INT(n_targets, LORA_N_TARGETS);
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const ArchWeight *w = arch_find_lora_weight(a, t);
            REQUIRE(w != NULL);
            CHECK_EQ_INT(w->role, roles[t]);
            CHECK(strcmp(w->lora_module, modules[t]) == 0);
            /* lora_target_module answers for every architecture */
            CHECK(strcmp(lora_target_module(t), modules[t]) == 0);
        }
    }
    CHECK(strcmp(lora_target_name(LORA_GATE), "gate_proj") == 0);
    CHECK(strcmp(lora_target_name(LORA_N_TARGETS), "?") == 0);
}

TEST(arch_lookup_by_name) {
    char buf[128];
    CHECK(arch_find_gguf("llama") == arch_describe(ARCH_LLAMA));
    CHECK(arch_find_gguf("qwen2") == arch_describe(ARCH_QWEN2));
    CHECK(arch_find_gguf("mistral") == NULL);
    CHECK(arch_find_hf("mistral") == arch_describe(ARCH_LLAMA));
    CHECK(arch_find_hf("qwen2") == arch_describe(ARCH_QWEN2));
    CHECK(arch_find_hf("gpt_neox") == NULL);
    arch_list_names(false, buf, sizeof buf);
    CHECK(strcmp(buf, "llama and qwen2") == 0);
    arch_list_names(true, buf, sizeof buf);
    CHECK(strcmp(buf, "llama, mistral and qwen2") == 0);
    CHECK(strcmp(model_arch_name(ARCH_QWEN2), "qwen2") == 0);
    CHECK(arch_describe(ARCH_QWEN2)->qkv_bias && !arch_describe(ARCH_LLAMA)->qkv_bias);
}

typedef struct {
    char names[64][ARCH_MAX_NAME];
    int n;
} Visited;

static int collect(void *ctx, const ArchWeight *w, int layer) {
    Visited *v = ctx;
    if (v->n < 64) arch_format_hf_name(w, layer, v->names[v->n], sizeof v->names[0]);
    v->n++;
    return 0;
}

TEST(arch_visit_in_file_order_with_conditions) {
    ModelConfig c = {.arch = ARCH_LLAMA, .n_layer = 2, .tied_embeddings = true, .qkv_bias = false};
    static Visited v;
    v.n = 0;
    CHECK_EQ_INT(arch_visit_weights(arch_describe(c.arch), &c, collect, &v), 0);
    CHECK_EQ_INT(v.n, 1 + 2 * 9 + 1); /* no biases, no head */
    CHECK(strcmp(v.names[0], "model.embed_tokens.weight") == 0);
    CHECK(strcmp(v.names[1], "model.layers.0.input_layernorm.weight") == 0);
    CHECK(strcmp(v.names[10], "model.layers.1.input_layernorm.weight") == 0);
    CHECK(strcmp(v.names[v.n - 1], "model.norm.weight") == 0);
    c.tied_embeddings = false;
    c.qkv_bias = true;
    v.n = 0;
    arch_visit_weights(arch_describe(c.arch), &c, collect, &v);
    CHECK_EQ_INT(v.n, 1 + 2 * 12 + 2);
    CHECK(strcmp(v.names[12], "model.layers.0.self_attn.v_proj.bias") == 0);
    CHECK(strcmp(v.names[v.n - 1], "lm_head.weight") == 0);
}
