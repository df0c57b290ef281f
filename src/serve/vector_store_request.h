/* vector_store_request.h: the bodies of POST /v1/vector_stores, POST /v1/vector_stores/{id}/files and
 * POST /v1/vector_stores/{id}/search parsed into plain structs, pure functions of the JSON like
 * requests.h (no store: the routes check that files and stores exist), so that the fuzz target
 * drives them directly. Refused with 400s naming the field: unknown fields, wrong types, chunking
 * out of OpenAI's ranges, and what ftune does not implement when set (expires_after, filters,
 * rewrite_query true). */
#ifndef FTUNE_VECTOR_STORE_REQUEST_H
#define FTUNE_VECTOR_STORE_REQUEST_H

#include <jansson.h>

#include "api.h"

#define VS_MAX_FILE_IDS 500  /* file_ids of one create, as OpenAI's */
#define VS_NAME_MAX 256      /* bytes of a store's name, NUL included */
#define VS_DEFAULT_RESULTS 10

typedef struct {
    json_t *root;            /* owns what follows */
    const char *name;        /* NULL = none */
    json_t *file_ids;        /* NULL or an array of strings (at most VS_MAX_FILE_IDS) */
    json_t *metadata;        /* NULL or an object (api_check_metadata) */
    int chunk_max, chunk_overlap;
} VsCreateRequest;

typedef struct {
    json_t *root;
    const char *file_id;
    json_t *attributes;      /* NULL or an object of at most API_METADATA_PAIRS keys */
    int chunk_max, chunk_overlap;
} VsAttachRequest;

typedef struct {
    json_t *queries;         /* (owned) the query as an array of non-empty strings */
    char *text;              /* heap: the queries joined by spaces */
    int max_results;         /* 1..RETRIEVAL_MAX_RESULTS, default VS_DEFAULT_RESULTS */
    double score_threshold;  /* ranking_options.score_threshold, 0..1 (default 0) */
} VsSearchRequest;

/* Each fills r (to be freed also on failure) or returns -1 with e. */
int vs_create_request_parse(const char *body, size_t len, VsCreateRequest *r, ApiError *e);
int vs_attach_request_parse(const char *body, size_t len, VsAttachRequest *r, ApiError *e);
int vs_search_request_parse(const char *body, size_t len, VsSearchRequest *r, ApiError *e);
void vs_create_request_free(VsCreateRequest *r);
void vs_attach_request_free(VsAttachRequest *r);
void vs_search_request_free(VsSearchRequest *r);

#endif
