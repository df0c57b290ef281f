/* layer.h: the one transformer block (Llama/Qwen2: RMSNorm, q/k/v (+bias) projections, rotate-half
 * RoPE, grouped-query causal attention, o projection, RMSNorm, SwiGLU MLP) over a batch of rows,
 * shared by inference (forward.c: rows of many sequences reading and writing a KV cache) and
 * training (train/train_step.c: the packed sequences of a batch, keeping every activation for the
 * backward pass). Rows are grouped in runs: consecutive rows of one sequence at consecutive
 * positions; attention reads each run's own sequence. LoRA terms are applied per adapter: every
 * row may name its own adapter, and rows of different adapters share the base-weight matmuls.
 * Internal to the engine (model/ and train/); the public entry points are forward.h and
 * train_step.h. */
#ifndef FTUNE_LAYER_H
#define FTUNE_LAYER_H

#include <stdint.h>

#include "../tensor/onednn.h"
#include "kv_cache.h"
#include "lora.h"
#include "model.h"

/* Consecutive rows of one sequence at consecutive positions. */
typedef struct {
    int row0, n;         /* rows row0 .. row0+n-1 of the batch */
    int pos0;            /* position of row row0 */
    int slot;            /* KV cache slot it reads and extends (inference; unused in training) */
    uint64_t drop_seed;  /* LoRA dropout masks of this sequence (training) */
    size_t probs_off;    /* offset of its (n_head, n, n) attention probabilities in LayerActs.probs */
} RowRun;

/* Up to LORA_ROW_BLOCK rows of one adapter whose LoRA terms inference applies together. */
typedef struct {
    int adapter, n;
    int rows[LORA_ROW_BLOCK];
} LoraRowBlock;

/* Where one layer writes its results. Inference points these at scratch reused by every layer
 * (probs and rstd NULL, h == gate, xn2 == xn1); training gives each layer its own. */
typedef struct {
    float *xn1, *rstd1;   // (n, C), (n)      attention RMSNorm output and 1/rms
    float *q, *k, *v;     // (n, qd), (n, kvd) x2, after RoPE (q, k)
    float *probs;         // (n_head, sum n_run^2) attention probabilities, per run (training only)
    float *att;           // (n, qd) attention output
    float *x_mid;         // (n, C) residual stream after attention
    float *xn2, *rstd2;   // (n, C), (n)
    float *gate, *up, *h; // (n, F) x3; h = silu(gate) * up
    float *u[LORA_N_TARGETS]; // (n, r) LoRA intermediates x A^T (training: kept for backward), rows as
                              // wide as their group's (lora_group): u[t] its columns of them
} LayerActs;

/* What a layer pass needs beyond the weights. */
typedef struct {
    const Model *m;
    int n;                   /* rows */
    int n_decode;            /* the first n_decode rows are generated tokens (see forward.h) */
    const RowRun *runs;
    int n_runs;
    KvCache *kv;             /* inference: the cache the runs' slots live in; NULL for training */
    const Lora *const *adapters; /* adapters rows may use */
    const int32_t *row_adapter;  // (n) index into adapters, -1 = none; NULL: every row uses adapters[0]
    int n_adapters;
    int uniform_adapter;     /* set by layer_ctx_prepare: -1 none, >= 0 all rows that one, -2 mixed */
    const LoraRowBlock *lora_blocks; /* inference: the rows with an adapter in blocks (layer_lora_blocks) */
    int n_lora_blocks;
    float dropout;           /* LoRA dropout probability (training passes only), else 0 */
    const float *rope_cs;    // (n, hd) the rows' RoPE cos and sin (rope_table), made once for every layer
    /* training on the bf16 path: each projection's base weight packed for the forward product
     * (onednn.h), [layer * LORA_N_TARGETS + target], NULL entries (or NULL) where not packed */
    OnednnPacked *const *packs;
    /* scratch */
    float *scores;           /* attention scores with a cache: threads * OP_ATTENTION_HEADS * (the last position + 1) */
    float *drop_x;           // (n, max(C, qd, F)) the LoRA input after dropout (training with dropout)
    float *lora_a;           // (LORA_GROUP_MAX * r, max(C, qd, F)) a group's stacked A factors (training)
    float *lora_u;           // (n, r) one projection's LoRA intermediates, packed (training)
} LayerCtx;

/* Sets c->uniform_adapter from the rows' adapters. */
void layer_ctx_prepare(LayerCtx *c);
/* Writes the rows that use an adapter into blocks (room for c->n), adapter by adapter, each
 * adapter's rows in row order and LORA_ROW_BLOCK to a block; returns how many blocks. */
int layer_lora_blocks(const LayerCtx *c, LoraRowBlock *blocks);

/* Runs block `l` on x_in (n, C) into x_out (n, C) (may equal x_in), writing what a says. With a
 * cache, each run's keys and values are stored in its slot at its positions and attention reads
 * the slot from position 0 (the caller extends the slot's length once every layer has run); without,
 * a->probs must hold every run's probabilities. */
void layer_forward(const LayerCtx *c, int l, const float *x_in, float *x_out, LayerActs *a);

/* y (n, N) = x (n, K) W^T + bias. Inference: op_matmul_inference (the first n_decode rows are
 * generated tokens; each row's result independent of the batch); training: op_matmul on every row. */
void layer_matmul(float *y, const float *x, const QuantMatrix *w, const float *bias, int n, int n_decode,
                  bool inference);

/* The LoRA branch's input for projection t of layer l: x (n, K) itself, or with dropout the
 * inverted-dropout copy in c->drop_x (mask: a hash of the run's seed, layer, projection and the
 * element's index within its sequence, so the backward pass regenerates it). */
const float *layer_lora_input(const LayerCtx *c, const float *x, int l, LoraTarget t, int K);

/* Backward of layer_lora_input with dropout: dx (n, K) += g (n, K) through the same mask, scaled. */
void layer_lora_input_backward(const LayerCtx *c, float *dx, const float *g, int l, LoraTarget t, int K);

#endif
