/* nearest.h: the k most similar examples of a pool of chat examples, by sentence embeddings: the
 * classic retrieval baseline for classification (retrieved few-shot examples before each test
 * example) and what `ftune dataset add-context` writes into a training file. An example's text is
 * its user turns joined by newlines; similarity is the cosine of the encoder's unit vectors, the
 * pool's vectors one contiguous matrix multiplied by the query's. Ties go to the earlier example. */
#ifndef FTUNE_NEAREST_H
#define FTUNE_NEAREST_H

#include <jansson.h>

#include "../core/err.h"
#include "../ftune.h"

typedef struct {
    FtEncoder *enc;
    int dim;
    long n;
    float *vecs;        /* n x dim */
    json_t **examples;  /* n message arrays (references taken) */
    int threads;
} NearestIndex;

/* Embeds every example of the pool (messages arrays; a new reference is taken to each) with the
 * encoder in encoder_dir. */
int nearest_build(const char *encoder_dir, json_t *const *examples, long n, int threads, NearestIndex *out, Err *err);
void nearest_free(NearestIndex *ix);
/* The user turns of messages joined by "\n" (heap). */
char *nearest_text(json_t *messages);
/* The k (at most ix->n, fewer when skip excludes one) nearest examples to messages' text, most
 * similar first, into out; skip (-1: none) is an index not to return (the example itself).
 * Returns how many, or -1 with err. */
int nearest_find(const NearestIndex *ix, json_t *messages, int k, long skip, long *out, Err *err);

#endif
