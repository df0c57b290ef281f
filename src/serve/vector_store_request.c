/* vector_store_request.c: the vector store request bodies (see vector_store_request.h). */
#include "vector_store_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../retrieval/retrieval.h"

static const char *const CREATE_FIELDS[] = {"name", "file_ids", "metadata", "chunking_strategy", "expires_after",
                                            "description"};
static const char *const ATTACH_FIELDS[] = {"file_id", "chunking_strategy", "attributes"};
static const char *const SEARCH_FIELDS[] = {"query", "max_num_results", "filters", "ranking_options", "rewrite_query"};

/* chunking_strategy: absent, null, {"type": "auto"} or {"type": "static", "static":
 * {"max_chunk_size_tokens": 100..4096, "chunk_overlap_tokens": 0..max/2}}. */
static int parse_chunking(json_t *cs, int *max, int *overlap, ApiError *e) {
    *max = RETRIEVAL_CHUNK_TOKENS;
    *overlap = RETRIEVAL_CHUNK_OVERLAP;
    if (!cs || json_is_null(cs)) return 0;
    const char *type = json_string_value(json_object_get(cs, "type"));
    if (!json_is_object(cs) || !type || (strcmp(type, "auto") && strcmp(type, "static")))
        return api_bad_param(e, "chunking_strategy", "expected {\"type\": \"auto\"} or {\"type\": \"static\", ...}.");
    if (!strcmp(type, "auto")) return json_object_size(cs) == 1 ? 0 : api_bad_param(e, "chunking_strategy", "auto takes no other field.");
    json_t *st = json_object_get(cs, "static");
    json_t *m = json_object_get(st, "max_chunk_size_tokens"), *o = json_object_get(st, "chunk_overlap_tokens");
    if (!json_is_integer(m) || json_integer_value(m) < RETRIEVAL_CHUNK_MIN || json_integer_value(m) > RETRIEVAL_CHUNK_MAX)
        return api_bad_param(e, "chunking_strategy.static.max_chunk_size_tokens", "expected an integer from %d to %d.",
                             RETRIEVAL_CHUNK_MIN, RETRIEVAL_CHUNK_MAX);
    if (!json_is_integer(o) || json_integer_value(o) < 0 || json_integer_value(o) > json_integer_value(m) / 2)
        return api_bad_param(e, "chunking_strategy.static.chunk_overlap_tokens",
                             "expected an integer from 0 to half of max_chunk_size_tokens (%lld).",
                             (long long)json_integer_value(m) / 2);
    *max = (int)json_integer_value(m);
    *overlap = (int)json_integer_value(o);
    return 0;
}

int vs_create_request_parse(const char *body, size_t len, VsCreateRequest *r, ApiError *e) {
    memset(r, 0, sizeof *r);
    r->root = api_parse_object(body, len, e);
    if (!r->root) return -1;
    json_t *root = r->root, *ids = json_object_get(root, "file_ids"), *md = json_object_get(root, "metadata");
    json_t *expires = json_object_get(root, "expires_after");
    const char *description = NULL;
    if (api_check_fields(root, CREATE_FIELDS, sizeof CREATE_FIELDS / sizeof CREATE_FIELDS[0], e) ||
        api_field_string(root, "name", true, &r->name, e) < 0 ||
        api_field_string(root, "description", true, &description, e) < 0 || api_check_metadata(md, "metadata", e) ||
        parse_chunking(json_object_get(root, "chunking_strategy"), &r->chunk_max, &r->chunk_overlap, e))
        return -1;
    if (expires && !json_is_null(expires))
        return api_fail(e, 400, "invalid_request_error", "expires_after", "unsupported_parameter",
                        "expires_after is not supported by this server: vector stores are kept until deleted.");
    if (ids && !json_is_null(ids) && (!json_is_array(ids) || json_array_size(ids) > VS_MAX_FILE_IDS))
        return api_fail(e, 400, "invalid_request_error", "file_ids", "invalid_value",
                        "Invalid value for 'file_ids': expected an array of at most %d file ids.", VS_MAX_FILE_IDS);
    if (r->name && strlen(r->name) >= VS_NAME_MAX)
        return api_fail(e, 400, "invalid_request_error", "name", "invalid_value", "Invalid 'name': at most %d bytes.",
                        VS_NAME_MAX - 1);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) {
        if (!json_is_string(id) || json_string_length(id) == 0) {
            char param[32];
            snprintf(param, sizeof param, "file_ids[%zu]", i);
            return api_bad_param(e, param, "expected a file id.");
        }
    }
    r->file_ids = ids && !json_is_null(ids) ? ids : NULL;
    r->metadata = md && !json_is_null(md) ? md : NULL;
    return 0;
}

int vs_attach_request_parse(const char *body, size_t len, VsAttachRequest *r, ApiError *e) {
    memset(r, 0, sizeof *r);
    r->root = api_parse_object(body, len, e);
    if (!r->root) return -1;
    json_t *root = r->root, *attrs = json_object_get(root, "attributes");
    if (api_check_fields(root, ATTACH_FIELDS, sizeof ATTACH_FIELDS / sizeof ATTACH_FIELDS[0], e)) return -1;
    int rc = api_field_string(root, "file_id", false, &r->file_id, e);
    if (rc > 0 || (rc == 0 && !r->file_id[0])) return api_missing_param(e, "file_id");
    if (rc < 0) return -1;
    if (attrs && !json_is_null(attrs) && (!json_is_object(attrs) || json_object_size(attrs) > API_METADATA_PAIRS))
        return api_bad_param(e, "attributes", "expected an object of at most %d keys.", API_METADATA_PAIRS);
    r->attributes = attrs && !json_is_null(attrs) ? attrs : NULL;
    return parse_chunking(json_object_get(root, "chunking_strategy"), &r->chunk_max, &r->chunk_overlap, e);
}

/* query (a non-empty string or array of them), max_num_results, ranking_options; the rest refused. */
static int parse_search(json_t *root, VsSearchRequest *q, ApiError *e) {
    if (api_check_fields(root, SEARCH_FIELDS, sizeof SEARCH_FIELDS / sizeof SEARCH_FIELDS[0], e)) return -1;
    json_t *query = json_object_get(root, "query");
    if (!query || json_is_null(query)) return api_missing_param(e, "query");
    q->queries = json_is_string(query) ? json_pack("[O]", query) : json_incref(query);
    size_t i, total = 0;
    json_t *s;
    if (!json_is_array(q->queries) || json_array_size(q->queries) == 0)
        return api_bad_param(e, "query", "expected a string or a non-empty array of strings.");
    json_array_foreach(q->queries, i, s) {
        if (!json_is_string(s) || json_string_length(s) == 0)
            return api_bad_param(e, "query", "expected a string or a non-empty array of non-empty strings.");
        total += json_string_length(s) + 1;
    }
    q->text = malloc(total + 1);
    if (!q->text) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    q->text[0] = 0;
    json_array_foreach(q->queries, i, s) {
        if (i) strcat(q->text, " ");
        strcat(q->text, json_string_value(s));
    }
    long long k = VS_DEFAULT_RESULTS;
    if (api_field_int(root, "max_num_results", 1, RETRIEVAL_MAX_RESULTS, &k, e) < 0) return -1;
    q->max_results = (int)k;
    json_t *f = json_object_get(root, "filters"), *rw = json_object_get(root, "rewrite_query");
    if (f && !json_is_null(f))
        return api_fail(e, 400, "invalid_request_error", "filters", "unsupported_parameter",
                        "filters is not supported by this server.");
    if (rw && !json_is_null(rw) && !json_is_false(rw))
        return api_fail(e, 400, "invalid_request_error", "rewrite_query", "unsupported_parameter",
                        "rewrite_query is not supported by this server (only false).");
    json_t *ro = json_object_get(root, "ranking_options");
    if (ro && !json_is_null(ro)) {
        static const char *const RO_FIELDS[] = {"ranker", "score_threshold"};
        const char *ranker = NULL;
        if (!json_is_object(ro)) return api_bad_param(e, "ranking_options", "expected an object.");
        if (api_check_fields(ro, RO_FIELDS, 2, e) || api_field_string(ro, "ranker", true, &ranker, e) < 0 ||
            api_field_number(ro, "score_threshold", 0, 1, &q->score_threshold, e) < 0)
            return -1;
        if (ranker && strcmp(ranker, "auto") && strcmp(ranker, "default-2024-11-15"))
            return api_bad_param(e, "ranking_options.ranker", "expected 'auto' or 'default-2024-11-15'.");
    }
    return 0;
}

int vs_search_request_parse(const char *body, size_t len, VsSearchRequest *r, ApiError *e) {
    memset(r, 0, sizeof *r);
    json_t *root = api_parse_object(body, len, e);
    if (!root) return -1;
    int rc = parse_search(root, r, e);
    json_decref(root);
    return rc;
}

void vs_create_request_free(VsCreateRequest *r) {
    json_decref(r->root);
    memset(r, 0, sizeof *r);
}

void vs_attach_request_free(VsAttachRequest *r) {
    json_decref(r->root);
    memset(r, 0, sizeof *r);
}

void vs_search_request_free(VsSearchRequest *r) {
    json_decref(r->queries);
    free(r->text);
    memset(r, 0, sizeof *r);
}
