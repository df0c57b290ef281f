/* vector_stores.h: what the vector store routes (routes_vector_stores.c) hand to the embedding
 * thread (vector_store_tasks.c): attaching a file and searching a store, as EmbedTaskFn tasks. */
#ifndef FTUNE_VECTOR_STORES_H
#define FTUNE_VECTOR_STORES_H

#include <jansson.h>

#include "../worker/embedder.h"
#include "api.h"
#include "vector_store_request.h"

/* A file to chunk and embed into a store (its row is in_progress until the task ends it), with the
 * task's progress. */
typedef struct {
    char store_id[STORE_ID_MAX];
    char file_id[STORE_ID_MAX];
    char blob_path[4096];
    int chunk_max, chunk_overlap;
    /* progress (the task's): */
    bool started;
    char *text;
    size_t len;
    struct TextChunk *chunks;
    int n, next, dim;       /* chunks, the first not embedded yet, floats of a vector */
    float *vecs;            /* (n, dim) */
} VsIngest;

/* The vectors of the stores searched last, kept as their contiguous matrices (up to
 * VS_CACHE_STORES stores and VS_CACHE_BYTES, least recently used dropped) and used while the store's
 * chunks have not changed (store_vs_version), so that a search reads no vectors from the database.
 * Used by the embedding thread only; the server owns it. */
#define VS_CACHE_STORES 4
#define VS_CACHE_BYTES ((size_t)512 << 20)
typedef struct VsMatrixCache VsMatrixCache;
VsMatrixCache *vs_cache_new(void);
void vs_cache_free(VsMatrixCache *c); /* NULL is a no-op */

/* A search whose answer goes to a deferred HTTP response. */
typedef struct {
    HttpStream *stream;
    VsMatrixCache *cache;  /* the server's */
    char store_id[STORE_ID_MAX];
    VsSearchRequest req;   /* its queries are echoed as search_query; its text is embedded and matched */
} VsSearch;

/* EmbedTaskFn tasks; each frees its argument. */
int vs_ingest_task(void *arg, const FtEncoder *enc, int n_threads, Store *s, const char *error);
int vs_search_task(void *arg, const FtEncoder *enc, int n_threads, Store *s, const char *error);
void vs_search_free(VsSearch *q);

#endif
