/* infer.h: one sequence through the batched engine (forward.h) with its own KV cache slot: the
 * simple client for the commands and tests that generate one text at a time. Prefill runs up to
 * INFER_MAX_CHUNK tokens per forward call; decoding one. All buffers are sized when the state is
 * created: the forward pass allocates nothing. It does not sample (sampler.h) or detokenize
 * (generate.h). */
#ifndef FTUNE_INFER_H
#define FTUNE_INFER_H

#include "model.h"

struct Lora;

#define INFER_MAX_CHUNK 512 /* tokens per prefill step */

typedef struct {
    const Model *model;
    int max_seq;     /* KV cache capacity in positions */
    int pos;         /* positions filled so far */
    float *logits;   // (V) logits of the last token of the last forward
    int n_threads;
    const struct Lora *lora; /* adapter applied on top of the base weights, or NULL */
    struct Forward *fwd;     /* the batched engine, one sequence slot */
    struct KvCache *kv;
    int32_t *rows;           // (3, INFER_MAX_CHUNK) positions, slots, adapters of a chunk
    uint8_t *want;           // (INFER_MAX_CHUNK) which rows return logits
} InferState;

/* Creates a state for up to max_seq positions (<= the model's context length when that is known).
 * n_threads <= 0 uses every core. Caller frees with infer_free. */
int infer_new(const Model *m, int max_seq, int n_threads, InferState **out, Err *err);
/* The thread budget of the following forwards (see forward_set_threads). */
void infer_set_threads(InferState *s, int n_threads);
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

/* Runs one generated token (a decode row, forward.h) at position s->pos; s->logits gets its
 * logits. The same failures as infer_forward. */
int infer_step(InferState *s, int32_t token, Err *err);

#endif
