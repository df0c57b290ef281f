/* arch.c: the architecture tables (see arch.h) and the lookups over them. Qwen2 is Llama with
 * q/k/v biases always on; Llama has the same bias rows, present only when its configuration asks
 * for them (attention_bias), so both share one weight list. */
#include "arch.h"

#include <stdio.h>
#include <string.h>

#include "model.h"

#define LAYER(field) offsetof(LayerWeights, field)
#define GLOBAL(field) offsetof(Model, field)

/* Hugging Face file order: embeddings, each block, final norm and head. */
static const ArchWeight LLAMA_WEIGHTS[] = {
    {W_TOK_EMBD, "model.embed_tokens.weight", "token_embd.weight", ARCH_DIM_V, ARCH_DIM_C, false, ARCH_ALWAYS,
     false, ARCH_NO_LORA, NULL, GLOBAL(tok_embd)},
    {W_ATTN_NORM, "model.layers.%d.input_layernorm.weight", "blk.%d.attn_norm.weight", ARCH_DIM_C, ARCH_DIM_ONE,
     true, ARCH_ALWAYS, false, ARCH_NO_LORA, NULL, LAYER(attn_norm)},
    {W_FFN_NORM, "model.layers.%d.post_attention_layernorm.weight", "blk.%d.ffn_norm.weight", ARCH_DIM_C,
     ARCH_DIM_ONE, true, ARCH_ALWAYS, false, ARCH_NO_LORA, NULL, LAYER(ffn_norm)},
    {W_Q, "model.layers.%d.self_attn.q_proj.weight", "blk.%d.attn_q.weight", ARCH_DIM_Q, ARCH_DIM_C, true,
     ARCH_ALWAYS, true, LORA_Q, "self_attn.q_proj", LAYER(wq)},
    {W_K, "model.layers.%d.self_attn.k_proj.weight", "blk.%d.attn_k.weight", ARCH_DIM_KV, ARCH_DIM_C, true,
     ARCH_ALWAYS, true, LORA_K, "self_attn.k_proj", LAYER(wk)},
    {W_V, "model.layers.%d.self_attn.v_proj.weight", "blk.%d.attn_v.weight", ARCH_DIM_KV, ARCH_DIM_C, true,
     ARCH_ALWAYS, false, LORA_V, "self_attn.v_proj", LAYER(wv)},
    {W_O, "model.layers.%d.self_attn.o_proj.weight", "blk.%d.attn_output.weight", ARCH_DIM_C, ARCH_DIM_Q, true,
     ARCH_ALWAYS, false, LORA_O, "self_attn.o_proj", LAYER(wo)},
    {W_GATE, "model.layers.%d.mlp.gate_proj.weight", "blk.%d.ffn_gate.weight", ARCH_DIM_F, ARCH_DIM_C, true,
     ARCH_ALWAYS, false, LORA_GATE, "mlp.gate_proj", LAYER(w_gate)},
    {W_UP, "model.layers.%d.mlp.up_proj.weight", "blk.%d.ffn_up.weight", ARCH_DIM_F, ARCH_DIM_C, true, ARCH_ALWAYS,
     false, LORA_UP, "mlp.up_proj", LAYER(w_up)},
    {W_DOWN, "model.layers.%d.mlp.down_proj.weight", "blk.%d.ffn_down.weight", ARCH_DIM_C, ARCH_DIM_F, true,
     ARCH_ALWAYS, false, LORA_DOWN, "mlp.down_proj", LAYER(w_down)},
    {W_Q_BIAS, "model.layers.%d.self_attn.q_proj.bias", "blk.%d.attn_q.bias", ARCH_DIM_Q, ARCH_DIM_ONE, true,
     ARCH_IF_QKV_BIAS, true, ARCH_NO_LORA, NULL, LAYER(bq)},
    {W_K_BIAS, "model.layers.%d.self_attn.k_proj.bias", "blk.%d.attn_k.bias", ARCH_DIM_KV, ARCH_DIM_ONE, true,
     ARCH_IF_QKV_BIAS, true, ARCH_NO_LORA, NULL, LAYER(bk)},
    {W_V_BIAS, "model.layers.%d.self_attn.v_proj.bias", "blk.%d.attn_v.bias", ARCH_DIM_KV, ARCH_DIM_ONE, true,
     ARCH_IF_QKV_BIAS, false, ARCH_NO_LORA, NULL, LAYER(bv)},
    {W_OUT_NORM, "model.norm.weight", "output_norm.weight", ARCH_DIM_C, ARCH_DIM_ONE, false, ARCH_ALWAYS, false,
     ARCH_NO_LORA, NULL, GLOBAL(out_norm)},
    {W_OUTPUT, "lm_head.weight", "output.weight", ARCH_DIM_V, ARCH_DIM_C, false, ARCH_IF_UNTIED, false,
     ARCH_NO_LORA, NULL, GLOBAL(output)},
};
#define N_LLAMA_WEIGHTS ((int)(sizeof LLAMA_WEIGHTS / sizeof LLAMA_WEIGHTS[0]))

static const char *const LLAMA_HF_TYPES[] = {"llama", "mistral", NULL};
static const char *const QWEN2_HF_TYPES[] = {"qwen2", NULL};

static const ArchDesc ARCHS[] = {
    {ARCH_LLAMA, "llama", LLAMA_HF_TYPES, "LlamaForCausalLM", false, true, LLAMA_WEIGHTS, N_LLAMA_WEIGHTS},
    {ARCH_QWEN2, "qwen2", QWEN2_HF_TYPES, "Qwen2ForCausalLM", true, false, LLAMA_WEIGHTS, N_LLAMA_WEIGHTS},
};
#define N_ARCHS ((int)(sizeof ARCHS / sizeof ARCHS[0]))

const ArchDesc *arch_describe(ModelArch a) {
    for (int i = 0; i < N_ARCHS; i++)
        if (ARCHS[i].arch == a) return &ARCHS[i];
    return &ARCHS[0];
}

const ArchDesc *arch_find_gguf(const char *name) {
    for (int i = 0; i < N_ARCHS; i++)
        if (strcmp(ARCHS[i].name, name) == 0) return &ARCHS[i];
    return NULL;
}

const ArchDesc *arch_find_hf(const char *model_type) {
    for (int i = 0; i < N_ARCHS; i++)
        for (const char *const *t = ARCHS[i].hf_types; *t; t++)
            if (strcmp(*t, model_type) == 0) return &ARCHS[i];
    return NULL;
}

void arch_list_names(bool hf, char *buf, size_t cap) {
    const char *names[16];
    int n = 0;
    for (int i = 0; i < N_ARCHS; i++) {
        if (!hf) names[n++] = ARCHS[i].name;
        else
            for (const char *const *t = ARCHS[i].hf_types; *t && n < 16; t++) names[n++] = *t;
        if (n == 16) break;
    }
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len < cap; i++)
        len += snprintf(buf + len, cap - len, "%s%s", i == 0 ? "" : i == n - 1 ? " and " : ", ", names[i]);
}

const ArchWeight *arch_find_weight(const ArchDesc *a, WeightRole role) {
    for (int i = 0; i < a->n_weights; i++)
        if (a->weights[i].role == role) return &a->weights[i];
    return NULL;
}

const ArchWeight *arch_find_lora_weight(const ArchDesc *a, LoraTarget t) {
    for (int i = 0; i < a->n_weights; i++)
        if (a->weights[i].lora == (int)t) return &a->weights[i];
    return NULL;
}

bool arch_has_weight(const ArchWeight *w, const ModelConfig *c) {
    switch (w->when) {
    case ARCH_IF_QKV_BIAS: return c->qkv_bias;
    case ARCH_IF_UNTIED: return !c->tied_embeddings;
    case ARCH_ALWAYS: break;
    }
    return true;
}

size_t arch_dim_size(ArchDim d, const ModelConfig *c) {
    switch (d) {
    case ARCH_DIM_C: return (size_t)c->dim;
    case ARCH_DIM_Q: return (size_t)c->n_head * c->head_dim;
    case ARCH_DIM_KV: return (size_t)c->n_kv_head * c->head_dim;
    case ARCH_DIM_F: return (size_t)c->ffn_dim;
    case ARCH_DIM_V: return (size_t)c->vocab;
    case ARCH_DIM_ONE: break;
    }
    return 1;
}

void arch_format_hf_name(const ArchWeight *w, int layer, char *buf, size_t cap) {
    snprintf(buf, cap, w->hf_name, layer);
}

void arch_format_gguf_name(const ArchWeight *w, int layer, char *buf, size_t cap) {
    snprintf(buf, cap, w->gguf_name, layer);
}

int arch_visit_weights(const ArchDesc *a, const ModelConfig *c, ArchVisit visit, void *ctx) {
    int first_layer = 0, rc;
    while (first_layer < a->n_weights && !a->weights[first_layer].per_layer) first_layer++;
    for (int i = 0; i < first_layer; i++)
        if (arch_has_weight(&a->weights[i], c) && (rc = visit(ctx, &a->weights[i], -1))) return rc;
    for (int l = 0; l < c->n_layer; l++)
        for (int i = first_layer; i < a->n_weights; i++)
            if (a->weights[i].per_layer && arch_has_weight(&a->weights[i], c) && (rc = visit(ctx, &a->weights[i], l)))
                return rc;
    for (int i = first_layer; i < a->n_weights; i++)
        if (!a->weights[i].per_layer && arch_has_weight(&a->weights[i], c) && (rc = visit(ctx, &a->weights[i], -1)))
            return rc;
    return 0;
}
