/* vector_store_request.h: the bodies of POST /v1/vector_stores (create), POST /v1/vector_stores/{id}
 * (modify), POST /v1/vector_stores/{id}/files (attach), POST .../files/{file_id} (attributes), POST
 * .../file_batches and POST .../search parsed into plain structs, pure functions of the JSON like
 * requests.h (no store: the routes check that files and stores exist), so that the fuzz target
 * drives them directly. Refused with 400s naming the field: unknown fields, wrong types, chunking
 * out of OpenAI's ranges, attributes and filters that are not OpenAI's (vector_store_filter.h),
 * and rewrite_query true (not implemented). */
#ifndef FTUNE_VECTOR_STORE_REQUEST_H
#define FTUNE_VECTOR_STORE_REQUEST_H

#include <jansson.h>

#include "api.h"

#define VS_MAX_FILE_IDS 500  /* file_ids of one create, as OpenAI's */
#define VS_NAME_MAX 256      /* bytes of a store's name, NUL included */
#define VS_DEFAULT_RESULTS 10
#define VS_MAX_BATCH_FILES 2000 /* files of one file batch, as OpenAI's */
#define VS_EXPIRES_DAYS_MAX 365 /* expires_after.days: 1..365 */

typedef struct {
    json_t *root;            /* owns what follows */
    const char *name;        /* NULL = none */
    json_t *file_ids;        /* NULL or an array of strings (at most VS_MAX_FILE_IDS) */
    json_t *metadata;        /* NULL or an object (api_check_metadata) */
    int chunk_max, chunk_overlap;
    int expires_days;        /* expires_after.days, 0 = none */
} VsCreateRequest;

typedef struct {
    json_t *root;
    bool has_name, has_metadata, has_expires; /* the fields given (null included) */
    const char *name;        /* NULL = null */
    json_t *metadata;        /* NULL = null */
    int expires_days;        /* 0 = null (never expires) */
} VsModifyRequest;

typedef struct {
    json_t *root;
    const char *file_id;
    json_t *attributes;      /* NULL or an object (vs_check_attributes) */
    int chunk_max, chunk_overlap;
} VsAttachRequest;

/* A file batch: file_ids with the batch's attributes and chunking, or files with their own. */
typedef struct {
    json_t *root;
    int n;
    VsAttachRequest *files;  /* n (heap; their root NULL: root owns their JSON) */
} VsBatchRequest;

/* POST .../files/{file_id}: attributes (required, null clears them). */
typedef struct {
    json_t *root;
    json_t *attributes;      /* NULL = null */
} VsAttributesRequest;

typedef struct {
    json_t *queries;         /* (owned) the query as an array of non-empty strings */
    char *text;              /* heap: the queries joined by spaces */
    int max_results;         /* 1..RETRIEVAL_MAX_RESULTS, default VS_DEFAULT_RESULTS */
    double score_threshold;  /* ranking_options.score_threshold, 0..1 (default 0) */
    json_t *filters;         /* (owned) NULL, or a filter checked by vs_filter_check */
} VsSearchRequest;

/* Each fills r (to be freed also on failure) or returns -1 with e. */
int vs_create_request_parse(const char *body, size_t len, VsCreateRequest *r, ApiError *e);
int vs_modify_request_parse(const char *body, size_t len, VsModifyRequest *r, ApiError *e);
int vs_attach_request_parse(const char *body, size_t len, VsAttachRequest *r, ApiError *e);
int vs_batch_request_parse(const char *body, size_t len, VsBatchRequest *r, ApiError *e);
int vs_attributes_request_parse(const char *body, size_t len, VsAttributesRequest *r, ApiError *e);
int vs_search_request_parse(const char *body, size_t len, VsSearchRequest *r, ApiError *e);
void vs_create_request_free(VsCreateRequest *r);
void vs_attach_request_free(VsAttachRequest *r);
void vs_batch_request_free(VsBatchRequest *r);
void vs_modify_request_free(VsModifyRequest *r);
void vs_attributes_request_free(VsAttributesRequest *r);
void vs_search_request_free(VsSearchRequest *r);

#endif
