/* vector_stores.h: what the vector store routes (routes_vector_stores.c, routes_vector_store_batches.c)
 * share, and what they hand to the embedding thread (vector_store_tasks.c): attaching files and
 * searching a store, as EmbedTaskFn tasks. */
#ifndef FTUNE_VECTOR_STORES_H
#define FTUNE_VECTOR_STORES_H

#include <jansson.h>

#include "../worker/embedder.h"
#include "api.h"
#include "vector_store_request.h"

/* Files to chunk and embed into a store, one after the other (a single attach, a create's
 * file_ids, a file batch): each file's row is in_progress until the task ends it, and a file whose
 * row is gone or no longer in_progress (detached, its batch cancelled) is skipped. The task's
 * progress is the current file's. */
typedef struct {
    char file_id[STORE_ID_MAX];
    int chunk_max, chunk_overlap;
} VsIngestFile;

typedef struct {
    char store_id[STORE_ID_MAX];
    VsIngestFile *files;    /* n_files (heap) */
    int n_files, cur;       /* the file being processed */
    /* progress on files[cur] (the task's): */
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

#define VS_SECONDS_PER_DAY 86400
#define VS_MAX_FILE_BYTES ((size_t)64 << 20) /* the largest file a store takes */

/* ---- shared by the routes (routes_vector_stores.c) ---- */

/* The store named by the path's first parameter (the caller's project's); answers 404/500 itself
 * when not. */
int vs_load_store(Ctx *c, VectorStoreRecord *v);
/* Whether v has expired (expires_after days after its last activity). */
bool vs_expired(const VectorStoreRecord *v);
/* An uploaded file id as something a store takes: the caller's, purpose assistants or user_data
 * (404/400 naming param otherwise). */
int vs_check_file(Ctx *c, const char *id, const char *param, ApiError *e);
/* Attaches n files to v at now (with batch_id, recorded as a new batch, when not NULL): a file
 * listed twice is attached once; each checked (vs_check_file), recorded in_progress in one
 * transaction and queued as one task. -1 with e naming the file (list_param[i], or file_id when
 * list_param is NULL): a 400 for one attached already or an expired store, a 503 when the embedding
 * queue is full (nothing is kept). files' entries are reordered. */
int vs_attach_files(Ctx *c, const VectorStoreRecord *v, VsAttachRequest *files, int n, const char *batch_id,
                    const char *list_param, long long now, ApiError *e);
/* Answers GET of the path's store's files (of batch_id only when not NULL): limit, order, after
 * and filter (a status); -1 after an error answer. */
int vs_list_files(Ctx *c, const char *batch_id);
json_t *vs_file_json(const VectorFileRecord *f);
json_t *vs_counts_json(const VectorFileCounts *n); /* file_counts */

/* EmbedTaskFn tasks; each frees its argument. */
int vs_ingest_task(void *arg, const FtEncoder *enc, int n_threads, Store *s, const char *error);
int vs_search_task(void *arg, const FtEncoder *enc, int n_threads, Store *s, const char *error);
void vs_search_free(VsSearch *q);

#endif
