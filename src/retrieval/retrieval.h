/* retrieval.h: the computing pieces of vector stores, over the public encoder API (ftune.h):
 * static chunking of a text by the embedding model's own tokens, a chunk's embedding (a text longer
 * than the model's window is embedded window by window and the windows' vectors averaged), and the
 * hybrid ranking of a store's chunks for a query: exact cosine over the store's vectors as one
 * matrix-vector product, merged with SQLite FTS5's BM25 scores. It does not store anything
 * (store.h: store_vs_*) nor know HTTP. */
#ifndef FTUNE_RETRIEVAL_H
#define FTUNE_RETRIEVAL_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "../ftune.h"

#define RETRIEVAL_CHUNK_TOKENS 800     /* OpenAI's default static chunking: max_chunk_size_tokens */
#define RETRIEVAL_CHUNK_OVERLAP 400    /* and chunk_overlap_tokens */
#define RETRIEVAL_CHUNK_MIN 100        /* max_chunk_size_tokens' range, as OpenAI's */
#define RETRIEVAL_CHUNK_MAX 4096
#define RETRIEVAL_SEMANTIC_WEIGHT 0.7  /* a hit's score: 0.7 x cosine (clipped at 0) ... */
#define RETRIEVAL_LEXICAL_WEIGHT 0.3   /* ... + 0.3 x its BM25 / the best BM25 among the query's hits */
#define RETRIEVAL_MAX_RESULTS 50       /* max_num_results' bound, as OpenAI's */

/* A chunk: bytes [start, end) of the text, and its tokens (heap). */
typedef struct TextChunk {
    size_t start, end;
    int32_t *ids;
    int n_ids;
} TextChunk;

/* Cuts text (UTF-8) into chunks of at most max_tokens tokens of enc's tokenizer, whole words
 * (split at ASCII whitespace, where BERT's tokenizer always splits, so a chunk's tokens are its
 * words' tokens), each chunk after the first starting at the first word of the previous chunk's
 * last `overlap` tokens (always after the previous chunk's first word). A single word longer
 * than max_tokens is a chunk of its own. No chunk for a text without words. *out heap (free with
 * retrieval_chunks_free). ERR_NOMEM; the tokenizer's errors. */
int retrieval_chunk(const FtEncoder *enc, const char *text, size_t len, int max_tokens, int overlap, TextChunk **out,
                    int *n, Err *err);
void retrieval_chunks_free(TextChunk *c, int n);

/* The embeddings of n token sequences into out (n, dim): each cut into windows of the model's
 * max_tokens, every window embedded (one batched call), a sequence's vector the token-weighted
 * mean of its windows' vectors, normalised. An empty sequence is embedded as the empty text. */
int retrieval_embed(const FtEncoder *enc, const int32_t *const *ids, const int *n_ids, int n, int n_threads,
                    float *out, Err *err);

typedef struct {
    int64_t id;
    float score, semantic, lexical;
} RankHit;

/* The best k (at most n) of n chunks for query vector q (dim): semantic = vecs (n, dim) q, the
 * cosine of unit vectors, clipped at 0; lexical = the chunk's BM25 (fts_ids / fts_scores, n_fts of
 * them, higher better) over the best one's, 0 when it is not among them; score = the weights above.
 * Ties by id. ids ascending. allow (NULL: every chunk): the n_allow ids (ascending) the hits are
 * taken from, the others skipped. out: k hits (at most n), best first; returns their number.
 * scratch: n floats. */
int retrieval_rank(const float *vecs, const int64_t *ids, int n, int dim, const float *q, const int64_t *fts_ids,
                   const double *fts_scores, int n_fts, const int64_t *allow, int n_allow, int k, RankHit *out,
                   float *scratch);

#endif
