/* infer.h: the inference forward pass with a KV cache. Batched prefill runs up to
 * INFER_MAX_CHUNK tokens at a time through sgemm; decoding runs one token through sgemv. All
 * buffers are sized when the state is created: the forward pass allocates nothing. It does not
 * sample (sampler.h) or detokenize (generate.h). */
#ifndef FTUNE_INFER_H
#define FTUNE_INFER_H

#include "model.h"

struct Lora;

#define INFER_MAX_CHUNK 256 /* tokens per prefill step */

typedef struct {
    const Model *model;
    int max_seq;     /* KV cache capacity in positions */
    int pos;         /* positions filled so far */
    float *k_cache;  // (L, max_seq, n_kv*hd)
    float *v_cache;  // (L, max_seq, n_kv*hd)
    float *x;        // (chunk, C) residual stream
    float *xb;       // (chunk, C) normed input
    float *q;        // (chunk, n_head*hd)
    float *att;      // (chunk, n_head*hd) attention output
    float *hb;       // (chunk, F) gate, then swiglu
    float *hb2;      // (chunk, F) up
    float *scores;   // (threads, max_seq) attention scratch
    float *logits;   // (V) logits of the last token of the last forward
    float *inv_freq; // (hd/2)
    int *positions;  // (chunk)
    int n_threads;
    const struct Lora *lora; /* adapter applied on top of the base weights, or NULL */
    float *lora_u;           // (chunk, rank) LoRA intermediate
} InferState;

/* Creates a state for up to max_seq positions (<= the model's context length when that is known).
 * n_threads <= 0 uses every core. Caller frees with infer_free. */
int infer_new(const Model *m, int max_seq, int n_threads, InferState **out, Err *err);
void infer_free(InferState *s); /* NULL is a no-op */

/* Applies a LoRA adapter (not merged: the base weights stay shared) to every later forward, or
 * removes it with NULL. The adapter must have been made for this model; it is not copied. Resets
 * the cache. */
int infer_set_lora(InferState *s, const struct Lora *lora, Err *err);

/* Forgets the cached positions (pos = 0). */
void infer_reset(InferState *s);

/* Runs n tokens at positions s->pos.. and appends them to the cache; afterwards s->logits holds
 * the logits (V) of the last token. When all_logits is non-NULL it receives (n, V) logits, one
 * row per token. Fails (ERR_ARG) when the cache would overflow or a token id is out of range. */
int infer_forward(InferState *s, const int32_t *tokens, int n, float *all_logits, Err *err);

#endif
