/* vector_stores.h: what the vector store routes (routes_vector_stores.c) hand to the embedding
 * thread (vector_store_tasks.c): attaching a file and searching a store, as EmbedTaskFn tasks. */
#ifndef FTUNE_VECTOR_STORES_H
#define FTUNE_VECTOR_STORES_H

#include <jansson.h>

#include "../worker/embedder.h"
#include "api.h"

/* A file to chunk and embed into a store (its row is in_progress until the task ends it). */
typedef struct {
    char store_id[STORE_ID_MAX];
    char file_id[STORE_ID_MAX];
    char blob_path[4096];
    int chunk_max, chunk_overlap;
} VsIngest;

/* A search whose answer goes to a deferred HTTP response. */
typedef struct {
    HttpStream *stream;
    char store_id[STORE_ID_MAX];
    json_t *queries;      /* the query as given, as an array of strings (echoed as search_query) */
    char *text;           /* heap: the queries joined by spaces: what is embedded and matched */
    int max_results;
    double score_threshold;
} VsSearch;

/* EmbedTaskFn tasks; each frees its argument. */
void vs_ingest_task(void *arg, const FtEncoder *enc, int n_threads, Store *s, const char *error);
void vs_search_task(void *arg, const FtEncoder *enc, int n_threads, Store *s, const char *error);
void vs_search_free(VsSearch *q);

#endif
