/* forward.h: the inference forward pass over a batch of rows, in the spirit of llama.cpp's
 * llama_batch: each row is (token, position, sequence slot, adapter, wants logits). Rows of many
 * sequences and many adapters share every base-weight matmul; each row's LoRA term comes from its
 * own adapter and its attention reads its own slot of the KV cache (kv_cache.h). The scratch
 * arena for up to max_rows rows is allocated once, apart from the cache. It does not sample
 * (sampler.h) or detokenize (generate.h). */
#ifndef FTUNE_FORWARD_H
#define FTUNE_FORWARD_H

#include <stdint.h>

#include "kv_cache.h"
#include "lora.h"
#include "model.h"

#define FORWARD_MAX_ROWS 256 /* default rows per forward call (prefill chunk) */

typedef struct {
    int n;                   /* rows */
    const int32_t *token;    // (n) token ids
    const int32_t *pos;      // (n) positions in their sequence
    const int32_t *seq;      // (n) KV cache slot of each row
    const int32_t *adapter;  // (n) index into the adapter list, -1 = base model; NULL: all -1
    const uint8_t *logits;   // (n) 1 = return this row's logits; NULL: only the last row's
    int n_decode;            /* the first n_decode rows are generated tokens (decode rows): their
                              * base-weight products read the stored weights (op_matmul_stored),
                              * the others' take the model's precision (op_matmul), so that no
                              * row's arithmetic depends on what else shares the batch */
} FwdBatch;

typedef struct Forward Forward;

/* Scratch for batches of up to max_rows rows attending over up to max_ctx positions.
 * n_threads <= 0 uses every core. Caller frees with forward_free. */
int forward_new(const Model *m, int max_rows, int max_ctx, int n_threads, Forward **out, Err *err);
void forward_free(Forward *f); /* NULL is a no-op */
int forward_max_rows(const Forward *f);
int forward_threads(const Forward *f); /* threads its kernels use */
/* Changes the budget of the following calls to n_threads (<= 0: every core), at most the count f
 * was made with (its scratch is sized for that). */
void forward_set_threads(Forward *f, int n_threads);

/* Runs the batch. Rows of one sequence must be consecutive with consecutive positions, the first
 * at most the slot's current length (so no hole is left): their keys and values are written
 * there and the slot's length grows to cover them. logits receives (k, V) floats, one row per row
 * that asked for logits, in row order. adapters[i] (n_adapters of them) must have been made for
 * this model. ERR_ARG, with nothing run, for a token, position, slot or adapter out of range. */
int forward_batch(Forward *f, KvCache *kv, const FwdBatch *b, const Lora *const *adapters, int n_adapters,
                  float *logits, Err *err);

#endif
