/* sampler.h: picks the next token from logits: greedy at temperature 0, otherwise temperature,
 * top-k and top-p (nucleus) sampling with a seeded generator, so that the same seed gives the same
 * text. Buffers are sized at creation; sampling allocates nothing. */
#ifndef FTUNE_SAMPLER_H
#define FTUNE_SAMPLER_H

#include <stdint.h>

#include "../core/err.h"
#include "../core/rng.h"

typedef struct {
    float temperature; /* 0 = greedy */
    float top_p;       /* (0, 1]; 1 = off */
    int top_k;         /* 0 = off */
    uint64_t seed;
} SamplerParams;

typedef struct {
    int32_t id;
    float p;
} TokenProb;

typedef struct {
    SamplerParams params;
    int vocab;
    Rng rng;
    TokenProb *cand; // (vocab)
} Sampler;

/* Validates params (ERR_ARG naming the bad one) and sizes the buffers. */
int sampler_init(Sampler *s, int vocab, const SamplerParams *params, Err *err);
void sampler_free(Sampler *s);
/* Returns the chosen id from logits (vocab), which it only reads. */
int32_t sampler_sample(Sampler *s, const float *logits);
/* Index of the largest logit (lowest index on ties; a NaN is never the answer unless it is at 0).
 * Vectorized; _ref is the plain loop whose answer it gives. */
int32_t sampler_argmax(const float *logits, int n);
int32_t sampler_argmax_ref(const float *logits, int n);

#endif
