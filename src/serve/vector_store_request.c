/* vector_store_request.c: the vector store request bodies (see vector_store_request.h). */
#include "vector_store_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../retrieval/retrieval.h"
#include "vector_store_filter.h"

static const char *const CREATE_FIELDS[] = {"name", "file_ids", "metadata", "chunking_strategy", "expires_after",
                                            "description"};
static const char *const MODIFY_FIELDS[] = {"name", "metadata", "expires_after"};
static const char *const ATTACH_FIELDS[] = {"file_id", "chunking_strategy", "attributes"};
static const char *const BATCH_FIELDS[] = {"file_ids", "files", "chunking_strategy", "attributes"};
static const char *const SEARCH_FIELDS[] = {"query", "max_num_results", "filters", "ranking_options", "rewrite_query"};

/* chunking_strategy: absent, null, {"type": "auto"} or {"type": "static", "static":
 * {"max_chunk_size_tokens": 100..4096, "chunk_overlap_tokens": 0..max/2}}. */
static int parse_chunking(json_t *cs, const char *at, int *max, int *overlap, ApiError *e) {
    char param[96]; /* at.chunking_strategy..., or chunking_strategy... at the top level (at "") */
    const char *dot = at[0] ? "." : "";
    *max = RETRIEVAL_CHUNK_TOKENS;
    *overlap = RETRIEVAL_CHUNK_OVERLAP;
    if (!cs || json_is_null(cs)) return 0;
    const char *type = json_string_value(json_object_get(cs, "type"));
    snprintf(param, sizeof param, "%s%schunking_strategy", at, dot);
    if (!json_is_object(cs) || !type || (strcmp(type, "auto") && strcmp(type, "static")))
        return api_bad_param(e, param, "expected {\"type\": \"auto\"} or {\"type\": \"static\", ...}.");
    if (!strcmp(type, "auto")) return json_object_size(cs) == 1 ? 0 : api_bad_param(e, param, "auto takes no other field.");
    json_t *st = json_object_get(cs, "static");
    json_t *m = json_object_get(st, "max_chunk_size_tokens"), *o = json_object_get(st, "chunk_overlap_tokens");
    snprintf(param, sizeof param, "%s%schunking_strategy.static.max_chunk_size_tokens", at, dot);
    if (!json_is_integer(m) || json_integer_value(m) < RETRIEVAL_CHUNK_MIN || json_integer_value(m) > RETRIEVAL_CHUNK_MAX)
        return api_bad_param(e, param, "expected an integer from %d to %d.", RETRIEVAL_CHUNK_MIN, RETRIEVAL_CHUNK_MAX);
    snprintf(param, sizeof param, "%s%schunking_strategy.static.chunk_overlap_tokens", at, dot);
    if (!json_is_integer(o) || json_integer_value(o) < 0 || json_integer_value(o) > json_integer_value(m) / 2)
        return api_bad_param(e, param, "expected an integer from 0 to half of max_chunk_size_tokens (%lld).",
                             (long long)json_integer_value(m) / 2);
    *max = (int)json_integer_value(m);
    *overlap = (int)json_integer_value(o);
    return 0;
}

/* expires_after: absent or null (*days 0), or {"anchor": "last_active_at", "days": 1..365}. */
static int parse_expires(json_t *x, int *days, ApiError *e) {
    static const char *const FIELDS[] = {"anchor", "days"};
    *days = 0;
    if (!x || json_is_null(x)) return 0;
    if (!json_is_object(x))
        return api_bad_param(e, "expires_after", "expected {\"anchor\": \"last_active_at\", \"days\": 1..%d}.",
                             VS_EXPIRES_DAYS_MAX);
    const char *anchor = NULL;
    long long d = 0;
    if (api_check_fields_at(x, "expires_after", FIELDS, 2, e)) return -1;
    int rc = api_field_string(x, "anchor", false, &anchor, e);
    if (rc > 0) return api_missing_param(e, "expires_after.anchor");
    if (rc < 0 || strcmp(anchor, "last_active_at"))
        return api_bad_param(e, "expires_after.anchor", "the only anchor is 'last_active_at'.");
    if (!json_object_get(x, "days")) return api_missing_param(e, "expires_after.days");
    json_t *dv = json_object_get(x, "days");
    if (!json_is_integer(dv) || (d = json_integer_value(dv)) < 1 || d > VS_EXPIRES_DAYS_MAX)
        return api_bad_param(e, "expires_after.days", "expected an integer from 1 to %d.", VS_EXPIRES_DAYS_MAX);
    *days = (int)d;
    return 0;
}

int vs_create_request_parse(const char *body, size_t len, VsCreateRequest *r, ApiError *e) {
    memset(r, 0, sizeof *r);
    r->root = api_parse_object(body, len, e);
    if (!r->root) return -1;
    json_t *root = r->root, *ids = json_object_get(root, "file_ids"), *md = json_object_get(root, "metadata");
    const char *description = NULL;
    if (api_check_fields(root, CREATE_FIELDS, sizeof CREATE_FIELDS / sizeof CREATE_FIELDS[0], e) ||
        api_field_string(root, "name", true, &r->name, e) < 0 ||
        api_field_string(root, "description", true, &description, e) < 0 || api_check_metadata(md, "metadata", e) ||
        parse_chunking(json_object_get(root, "chunking_strategy"), "", &r->chunk_max, &r->chunk_overlap, e) ||
        parse_expires(json_object_get(root, "expires_after"), &r->expires_days, e))
        return -1;
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

int vs_modify_request_parse(const char *body, size_t len, VsModifyRequest *r, ApiError *e) {
    memset(r, 0, sizeof *r);
    r->root = api_parse_object(body, len, e);
    if (!r->root) return -1;
    json_t *root = r->root, *md = json_object_get(root, "metadata");
    if (api_check_fields(root, MODIFY_FIELDS, sizeof MODIFY_FIELDS / sizeof MODIFY_FIELDS[0], e) ||
        api_field_string(root, "name", true, &r->name, e) < 0 || api_check_metadata(md, "metadata", e) ||
        parse_expires(json_object_get(root, "expires_after"), &r->expires_days, e))
        return -1;
    if (r->name && strlen(r->name) >= VS_NAME_MAX)
        return api_fail(e, 400, "invalid_request_error", "name", "invalid_value", "Invalid 'name': at most %d bytes.",
                        VS_NAME_MAX - 1);
    r->has_name = json_object_get(root, "name") != NULL;
    r->has_metadata = md != NULL;
    r->has_expires = json_object_get(root, "expires_after") != NULL;
    r->metadata = md && !json_is_null(md) ? md : NULL;
    return 0;
}

/* One file to attach: obj at `at` ("" for a request's top level, "files[3]" in a batch). */
static int parse_attach(json_t *obj, const char *at, VsAttachRequest *r, ApiError *e) {
    char param[64];
    json_t *attrs = json_object_get(obj, "attributes");
    if (!json_is_object(obj)) return api_bad_param(e, at, "expected an object with a file_id.");
    if (at[0] ? api_check_fields_at(obj, at, ATTACH_FIELDS, 3, e) : api_check_fields(obj, ATTACH_FIELDS, 3, e)) return -1;
    snprintf(param, sizeof param, "%s%sfile_id", at, at[0] ? "." : "");
    json_t *id = json_object_get(obj, "file_id");
    if (!id || json_is_null(id)) return api_missing_param(e, param);
    if (!json_is_string(id) || json_string_length(id) == 0) return api_bad_param(e, param, "expected a file id.");
    r->file_id = json_string_value(id);
    snprintf(param, sizeof param, "%s%sattributes", at, at[0] ? "." : "");
    if (vs_check_attributes(attrs, param, e)) return -1;
    r->attributes = attrs && !json_is_null(attrs) ? attrs : NULL;
    return parse_chunking(json_object_get(obj, "chunking_strategy"), at, &r->chunk_max, &r->chunk_overlap, e);
}

int vs_attach_request_parse(const char *body, size_t len, VsAttachRequest *r, ApiError *e) {
    memset(r, 0, sizeof *r);
    r->root = api_parse_object(body, len, e);
    if (!r->root) return -1;
    return parse_attach(r->root, "", r, e);
}

int vs_batch_request_parse(const char *body, size_t len, VsBatchRequest *r, ApiError *e) {
    memset(r, 0, sizeof *r);
    r->root = api_parse_object(body, len, e);
    if (!r->root) return -1;
    json_t *root = r->root, *ids = json_object_get(root, "file_ids"), *files = json_object_get(root, "files");
    json_t *attrs = json_object_get(root, "attributes"), *cs = json_object_get(root, "chunking_strategy");
    if (api_check_fields(root, BATCH_FIELDS, sizeof BATCH_FIELDS / sizeof BATCH_FIELDS[0], e)) return -1;
    if (ids && json_is_null(ids)) ids = NULL;
    if (files && json_is_null(files)) files = NULL;
    if (!ids && !files) return api_missing_param(e, "file_ids");
    if (ids && files)
        return api_bad_param(e, "files", "'file_ids' and 'files' are mutually exclusive: give one of them.");
    json_t *list = ids ? ids : files;
    const char *name = ids ? "file_ids" : "files";
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > VS_MAX_BATCH_FILES)
        return api_bad_param(e, name, "expected an array of 1 to %d %s.", VS_MAX_BATCH_FILES,
                             ids ? "file ids" : "files ({\"file_id\", \"attributes\", \"chunking_strategy\"})");
    if (files && attrs && !json_is_null(attrs))
        return api_bad_param(e, "attributes", "with 'files', give each file its own attributes.");
    if (files && cs && !json_is_null(cs))
        return api_bad_param(e, "chunking_strategy", "with 'files', give each file its own chunking_strategy.");
    VsAttachRequest shared = {0};
    if (ids && (vs_check_attributes(attrs, "attributes", e) ||
                parse_chunking(cs, "", &shared.chunk_max, &shared.chunk_overlap, e)))
        return -1;
    shared.attributes = attrs && !json_is_null(attrs) ? attrs : NULL;
    r->files = calloc(json_array_size(list), sizeof *r->files);
    if (!r->files) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        char at[32];
        snprintf(at, sizeof at, "%s[%zu]", name, i);
        if (ids) {
            if (!json_is_string(item) || json_string_length(item) == 0) return api_bad_param(e, at, "expected a file id.");
            r->files[i] = shared;
            r->files[i].file_id = json_string_value(item);
        } else if (parse_attach(item, at, &r->files[i], e)) {
            return -1;
        }
        r->n++;
    }
    return 0;
}

int vs_attributes_request_parse(const char *body, size_t len, VsAttributesRequest *r, ApiError *e) {
    static const char *const FIELDS[] = {"attributes"};
    memset(r, 0, sizeof *r);
    r->root = api_parse_object(body, len, e);
    if (!r->root) return -1;
    json_t *attrs = json_object_get(r->root, "attributes");
    if (api_check_fields(r->root, FIELDS, 1, e)) return -1;
    if (!attrs) return api_missing_param(e, "attributes");
    if (vs_check_attributes(attrs, "attributes", e)) return -1;
    r->attributes = json_is_null(attrs) ? NULL : attrs;
    return 0;
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
    if (f && !json_is_null(f)) {
        if (vs_filter_check(f, "filters", e)) return -1;
        q->filters = json_incref(f);
    }
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

/* The request structs that own their JSON through root: released and zeroed. */
static void free_root(json_t *root, void *r, size_t size) {
    json_decref(root);
    memset(r, 0, size);
}

void vs_create_request_free(VsCreateRequest *r) { free_root(r->root, r, sizeof *r); }
void vs_attach_request_free(VsAttachRequest *r) { free_root(r->root, r, sizeof *r); }
void vs_modify_request_free(VsModifyRequest *r) { free_root(r->root, r, sizeof *r); }
void vs_attributes_request_free(VsAttributesRequest *r) { free_root(r->root, r, sizeof *r); }

void vs_batch_request_free(VsBatchRequest *r) {
    free(r->files);
    free_root(r->root, r, sizeof *r);
}

void vs_search_request_free(VsSearchRequest *r) {
    json_decref(r->queries);
    json_decref(r->filters);
    free(r->text);
    memset(r, 0, sizeof *r);
}
