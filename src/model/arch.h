/* arch.h: one description per model architecture: the weights a model has, by role, each with its
 * Hugging Face and GGUF tensor names, its shape in terms of the configuration, when it is present,
 * where it lives in a Model, and the LoRA target (with its PEFT module name) that adapts it. The
 * loaders (model_gguf.c, model_hf.c), the parameter layout (model.c), the merged export
 * (export.c) and the LoRA code (lora.c, peft.c) read these tables and keep no list of their own:
 * a new architecture is a new table. Configuration keys (config.json, GGUF metadata) stay with
 * the loaders; this file reads no file. */
#ifndef FTUNE_ARCH_H
#define FTUNE_ARCH_H

#include <stdbool.h>
#include <stddef.h>

#include "lora.h"

struct ModelConfig;

typedef enum { ARCH_LLAMA = 0, ARCH_QWEN2 = 1 } ModelArch;

/* The weights a model can have, by role; each table maps them to names and storage. */
typedef enum {
    W_TOK_EMBD, W_OUT_NORM, W_OUTPUT,
    W_ATTN_NORM, W_Q, W_K, W_V, W_Q_BIAS, W_K_BIAS, W_V_BIAS, W_O,
    W_FFN_NORM, W_GATE, W_UP, W_DOWN,
    W_COUNT
} WeightRole;

/* A shape dimension in terms of the configuration. */
typedef enum {
    ARCH_DIM_ONE, /* 1: the cols of a vector */
    ARCH_DIM_C,   /* dim */
    ARCH_DIM_Q,   /* n_head * head_dim */
    ARCH_DIM_KV,  /* n_kv_head * head_dim */
    ARCH_DIM_F,   /* ffn_dim */
    ARCH_DIM_V    /* vocab */
} ArchDim;

/* When a weight is present. */
typedef enum {
    ARCH_ALWAYS,
    ARCH_IF_QKV_BIAS, /* cfg->qkv_bias */
    ARCH_IF_UNTIED    /* !cfg->tied_embeddings (else it shares the token embeddings) */
} ArchWhen;

#define ARCH_NO_LORA (-1)
#define ARCH_MAX_NAME 160 /* room for any formatted tensor name */

typedef struct {
    WeightRole role;
    const char *hf_name;     /* printf pattern; %d is the layer of a per-layer weight */
    const char *gguf_name;   /* the same in GGUF */
    ArchDim rows, cols;      /* Hugging Face layout (out, in); cols ARCH_DIM_ONE for a vector */
    bool per_layer;          /* one per transformer block (else one per model) */
    ArchWhen when;
    bool rope;               /* rows rotated by RoPE, head by head (q, k and their biases) */
    int lora;                /* the LoraTarget adapting this matrix, or ARCH_NO_LORA */
    const char *lora_module; /* its PEFT module name ("self_attn.q_proj"), NULL without a target */
    size_t slot;             /* offset in LayerWeights (per-layer) or Model: a vector's float *, a
                              * matrix's QuantMatrix */
} ArchWeight;

typedef struct {
    ModelArch arch;
    const char *name;            /* display name and GGUF general.architecture */
    const char *const *hf_types; /* config.json model_type values (NULL-terminated); [0] is written */
    const char *hf_class;        /* config.json "architectures" entry */
    bool qkv_bias;               /* always has q/k/v biases (config.json then has no attention_bias) */
    bool gguf_rope_permuted;     /* GGUF conversion stores RoPE rows in interleaved-pair order */
    const ArchWeight *weights;   /* in file order: global weights listed before the first per-layer
                                  * one, then each layer's, then the remaining global ones */
    int n_weights;
} ArchDesc;

/* The description of a; unknown values get Llama's. */
const ArchDesc *arch_describe(ModelArch a);
/* By GGUF general.architecture / config.json model_type; NULL when unsupported. */
const ArchDesc *arch_find_gguf(const char *name);
const ArchDesc *arch_find_hf(const char *model_type);
/* The supported names for messages: "llama and qwen2" (GGUF), "llama, mistral and qwen2" (HF). */
void arch_list_names(bool hf, char *buf, size_t cap);

/* The weight with this role or LoRA target; NULL when the architecture has none. */
const ArchWeight *arch_find_weight(const ArchDesc *a, WeightRole role);
const ArchWeight *arch_find_lora_weight(const ArchDesc *a, LoraTarget t);

bool arch_has_weight(const ArchWeight *w, const struct ModelConfig *c);
size_t arch_dim_size(ArchDim d, const struct ModelConfig *c);
/* Tensor names of w for layer (ignored for a global weight). */
void arch_format_hf_name(const ArchWeight *w, int layer, char *buf, size_t cap);
void arch_format_gguf_name(const ArchWeight *w, int layer, char *buf, size_t cap);

/* Calls visit(ctx, w, layer) for every weight c has, in file order (layer -1 for a global
 * weight); stops at and returns the first non-zero return. */
typedef int (*ArchVisit)(void *ctx, const ArchWeight *w, int layer);
int arch_visit_weights(const ArchDesc *a, const struct ModelConfig *c, ArchVisit visit, void *ctx);

#endif
