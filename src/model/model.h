/* model.h: a loaded decoder-only transformer (Llama or Qwen2 architecture) with its tokenizer
 * and chat template: configuration, the weight matrices in the type the file stores them in (no
 * hidden fp32 copy: a GGUF's matrices are read where they lie in its mapping), fp32 vectors, and
 * the loaders for GGUF files and Hugging Face directories. Weights are always held in Hugging Face
 * layout (GGUF llama q/k rows are un-permuted at load), so every model uses rotate-half RoPE and
 * LoRA adapters line up with PEFT module names. The forward pass lives in forward.h / layer.h. */
#ifndef FTUNE_MODEL_H
#define FTUNE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "../tensor/ops_quant.h"
#include "../tensor/precision.h"
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

/* Matrices keep the type they are stored in (tensor/ops_quant.h: F32, F16, BF16, Q8_0 ... Q6_K),
 * in Hugging Face layout (out, in) with rows in Hugging Face order; vectors are fp32. */
typedef struct {
    float *attn_norm;   // (C)
    QuantMatrix wq;     // (n_head*hd, C)
    QuantMatrix wk;     // (n_kv*hd, C)
    QuantMatrix wv;     // (n_kv*hd, C)
    float *bq;          // (n_head*hd) or NULL
    float *bk;          // (n_kv*hd) or NULL
    float *bv;          // (n_kv*hd) or NULL
    QuantMatrix wo;     // (C, n_head*hd)
    float *ffn_norm;    // (C)
    QuantMatrix w_gate; // (F, C)
    QuantMatrix w_up;   // (F, C)
    QuantMatrix w_down; // (C, F)
} LayerWeights;

typedef struct Model {
    ModelConfig cfg;
    char *path;           /* what was loaded */
    char *format;         /* "gguf" or "huggingface" */
    char *tensor_types;   /* summary of the stored types, e.g. "Q4_1 x210, F32 x61, Q8_0 x1" */
    size_t n_params;      /* parameters of every weight */
    float *vectors;       /* one allocation holding the fp32 vectors (norms, biases) */
    QuantMatrix tok_embd; // (V, C)
    LayerWeights *layers; // n_layer
    float *out_norm;      // (C)
    QuantMatrix output;   // (V, C); the same as tok_embd when tied
    float *rope_factors;  // (hd/2) or NULL: llama3-style frequency factors
    void **owned;         /* matrix data the model allocated (copies the file's mapping could not serve) */
    int n_owned;
    void *source;         /* the open GGUF file that matrices point into, or NULL */
    Precision precision;  /* of the base-weight products: fp32 (as loaded) or bf16 (model_set_precision) */
    uint16_t *bf16;       /* one allocation holding the matrices' bf16 copies, or NULL */
    uint16_t *tiles;      /* one allocation holding the matrices' AMX tile layouts, or NULL */
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

/* Sets the arithmetic of the base-weight products (tensor/precision.h; auto resolves first): bf16
 * gives every matrix a bf16 copy (w->bf16; a BF16-stored matrix is its own copy), kept beside the
 * stored bytes, which small batches (decoding) still read; fp32 drops them. why (may be NULL,
 * PRECISION_WHY_MAX bytes) receives the reason for the choice. Call before the model is shared:
 * it changes the matrices. ERR_UNSUPPORTED when bf16 is asked for and unavailable, ERR_NOMEM. */
int model_set_precision(Model *m, Precision want, char *why, Err *err);

/* For a model that serves many rows a step (a server's scheduler, an evaluation): on the bf16 path
 * where the CPU has AMX tiles, lays out every multiplied matrix once in the AMX kernel's tiles
 * (w->amx_tiles, 2 bytes a parameter more), which its wide products then read instead of laying
 * out the weights on every call; the same sums, so no output changes. Elsewhere, or already done,
 * nothing. model_set_precision drops the layouts with the copies. ERR_NOMEM. */
int model_lay_out_tiles(Model *m, Err *err);

/* Where weight w of layer (-1 for a global weight) lives in m: a vector's fp32 data (NULL for a
 * matrix), a matrix's typed view (NULL for a vector). */
float *model_vector(const Model *m, const ArchWeight *w, int layer);
const QuantMatrix *model_matrix(const Model *m, const ArchWeight *w, int layer);
static inline bool arch_weight_is_matrix(const ArchWeight *w) { return w->cols != ARCH_DIM_ONE; }

/* --- used by the format-specific loaders (model_gguf.c, model_hf.c) --- */

/* Reads weight w (from the architecture's table) of layer (-1 for a global one), `rows` x `cols`
 * in Hugging Face layout: a vector (cols 1) as
 * fp32 into vec; a matrix into *mat in its stored type, pointing into the file's mapping, or into
 * memory the reader allocated and hands over in *owned (else NULL). Returns 0, or -1 (err
 * filled, naming the tensor) when it is missing, misshapen, of an unsupported type or unreadable.
 * Called from several threads at once for different weights. */
typedef int (*WeightReader)(void *ctx, const ArchWeight *w, int layer, float *vec, QuantMatrix *mat, void **owned,
                            int rows, int cols, Err *err);

/* Allocates m->vectors for m->cfg and reads every weight of its architecture's table (arch.h)
 * through read. */
int model_alloc_and_read(Model *m, WeightReader read, void *ctx, Err *err);

/* GGUF's llama conversion stores each head's rows for interleaved-pair RoPE: Hugging Face row
 * r = h*head_dim + s*(head_dim/2) + i (s in {0,1}) of q or k (and their biases) is GGUF row
 * h*head_dim + 2i + s. The loader undoes it (model_gguf.c), the GGUF export redoes it. */
static inline int model_gguf_rope_row(int r, int head_dim) {
    int half = head_dim / 2, j = r % head_dim;
    return r - j + 2 * (j % half) + j / half;
}

int model_load_gguf(const char *path, Model *m, Err *err);
int model_load_hf(const char *dir, Model *m, Err *err);

#endif
