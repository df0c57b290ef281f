/* model.h: a loaded decoder-only transformer (Llama or Qwen2 architecture) with its tokenizer
 * and chat template: configuration, fp32 weights in one contiguous allocation, and the loaders
 * for GGUF files and Hugging Face directories. Weights are always held in Hugging Face layout
 * (GGUF llama q/k rows are un-permuted at load), so every model uses rotate-half RoPE and LoRA
 * adapters line up with PEFT module names. Inference lives in infer.h. */
#ifndef FTUNE_MODEL_H
#define FTUNE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "../tensor/ops_quant.h"
#include "../text/chat_template.h"
#include "../text/tokenizer.h"
#include "arch.h"
#include "text_model.h"

#define MODEL_MAX_LAYERS 256
#define MODEL_MAX_DIM 65536

typedef struct ModelConfig {
    ModelArch arch;
    int n_layer;   /* transformer blocks */
    int dim;       /* C: hidden size */
    int n_head;    /* query heads */
    int n_kv_head; /* key/value heads (GQA) */
    int head_dim;  /* hd */
    int ffn_dim;   /* F: MLP hidden size */
    int vocab;     /* V */
    int max_seq;   /* context length the model was built for */
    float rope_theta;
    float rms_eps;
    bool tied_embeddings; /* output head shares token embeddings */
    bool qkv_bias;        /* q/k/v projections have biases (qwen2) */
    bool has_rope_factors;
} ModelConfig;

typedef struct {
    float *attn_norm; // (C)
    float *wq;        // (n_head*hd, C)
    float *wk;        // (n_kv*hd, C)
    float *wv;        // (n_kv*hd, C)
    float *bq;        // (n_head*hd) or NULL
    float *bk;        // (n_kv*hd) or NULL
    float *bv;        // (n_kv*hd) or NULL
    float *wo;        // (C, n_head*hd)
    float *ffn_norm;  // (C)
    float *w_gate;    // (F, C)
    float *w_up;      // (F, C)
    float *w_down;    // (C, F)
    /* The same matrices in their stored block format when the file has them quantized (else
     * data == NULL): single-token decoding reads these, at a fraction of the memory traffic.
     * q/k rows are in the file's order (see Model.quant_qk_permuted). */
    QuantMatrix q_wq, q_wk, q_wv, q_wo, q_gate, q_up, q_down;
} LayerWeights;

typedef struct Model {
    ModelConfig cfg;
    char *path;           /* what was loaded */
    char *format;         /* "gguf" or "huggingface" */
    char *tensor_types;   /* summary of the stored types, e.g. "Q4_1 x210, F32 x61, Q8_0 x1" */
    float *params;        /* one allocation holding every weight below */
    size_t n_params;
    float *tok_embd;      // (V, C)
    LayerWeights *layers; // n_layer
    float *out_norm;      // (C)
    float *output;        // (V, C); == tok_embd when tied
    float *rope_factors;  // (hd/2) or NULL: llama3-style frequency factors
    QuantMatrix q_output; /* quantized head (data NULL if none) */
    bool quant_qk_permuted; /* quantized q/k rows are in GGUF's interleaved-pair order */
    void *source;         /* the open GGUF file that quantized views point into, or NULL */
    TextModel *text;      /* tokenizer, chat template, context length (owned) */
    Tokenizer *tok;       /* == text->tok */
    ChatTemplate *tmpl;   /* == text->tmpl */
} Model;

/* Loads a model from a GGUF file or a Hugging Face directory (config.json, model.safetensors or
 * sharded with model.safetensors.index.json, tokenizer.json, tokenizer_config.json). Errors name
 * the file and the problem: bad magic, truncated header, tensor out of bounds, unknown tensor type
 * or architecture, missing or misshapen tensor. Caller frees with model_free. The model is
 * read-only after loading and may be shared by threads. */
int model_load(const char *path, Model **out, Err *err);
void model_free(Model *m); /* NULL is a no-op */

const char *model_arch_name(ModelArch a);

/* Where weight w of layer (-1 for a global weight) lives in m: its fp32 data, and its quantized
 * view (NULL when w has none). */
float *model_weight(const Model *m, const ArchWeight *w, int layer);
QuantMatrix *model_weight_quant(Model *m, const ArchWeight *w, int layer);

/* --- used by the format-specific loaders (model_gguf.c, model_hf.c) --- */

/* Reads one weight (role, layer) of `rows` x `cols` (cols = 1 for vectors) into dst as fp32 in
 * Hugging Face layout. Returns 0, or -1 (err filled, naming the tensor) when it is missing,
 * misshapen or unreadable. Called from several threads at once for different weights. */
typedef int (*WeightReader)(void *ctx, WeightRole role, int layer, float *dst, int rows, int cols, Err *err);

/* Allocates m->params for m->cfg and reads every weight of its architecture's table (arch.h)
 * through read. */
int model_alloc_and_read(Model *m, WeightReader read, void *ctx, Err *err);

int model_load_gguf(const char *path, Model *m, Err *err);
int model_load_hf(const char *dir, Model *m, Err *err);

#endif
