/* routes_vector_stores.c: OpenAI's vector stores API subset: /v1/vector_stores (create, list,
 * retrieve, delete), /v1/vector_stores/{id}/files (attach, list, retrieve, detach) and
 * /v1/vector_stores/{id}/search. A store belongs to the project that created it (another project's
 * is 404) and embeds with the first embedding model of the models directories, fixed at creation.
 * Attaching records the file in_progress and queues its chunking and embedding on the embedding
 * thread (vector_store_tasks.c), which ends it completed or failed: clients poll, as with OpenAI
 * (the SDK's create_and_poll). A search is queued there too and answers through a deferred
 * response. Files of purpose assistants or user_data only; chunking_strategy auto (800 tokens, 400
 * of overlap) or static; expires_after, filters and rewrite_query are refused when set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../retrieval/retrieval.h"
#include "../worker/registry.h"
#include "routes.h"
#include "vector_stores.h"

#define VS_LIST_MAX 100

/* ---- shapes ---- */

static json_t *object_or_empty(const char *text) {
    json_t *o = text[0] ? json_loads(text, 0, NULL) : NULL;
    return o ? o : json_object();
}

static json_t *store_json(const VectorStoreRecord *v) {
    int total = v->n_in_progress + v->n_completed + v->n_failed;
    return json_pack("{s:s, s:s, s:I, s:o, s:I, s:{s:i, s:i, s:i, s:i, s:i}, s:s, s:n, s:n, s:I, s:o}", "id", v->id,
                     "object", "vector_store", "created_at", (json_int_t)v->created_at, "name",
                     v->name[0] ? json_string(v->name) : json_null(), "usage_bytes", (json_int_t)v->usage_bytes,
                     "file_counts", "in_progress", v->n_in_progress, "completed", v->n_completed, "failed",
                     v->n_failed, "cancelled", 0, "total", total, "status",
                     v->n_in_progress ? "in_progress" : "completed", "expires_after", "expires_at",
                     "last_active_at", (json_int_t)v->last_active_at, "metadata", object_or_empty(v->metadata));
}

static json_t *file_json(const VectorFileRecord *f) {
    json_t *err = f->last_error[0] ? json_pack("{s:s, s:s}", "code", "server_error", "message", f->last_error)
                                   : json_null();
    return json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:o, s:{s:s, s:{s:i, s:i}}, s:o}", "id", f->file_id, "object",
                     "vector_store.file", "usage_bytes", (json_int_t)f->usage_bytes, "created_at",
                     (json_int_t)f->created_at, "vector_store_id", f->store_id, "status", f->status, "last_error",
                     err, "chunking_strategy", "type", "static", "static", "max_chunk_size_tokens", f->chunk_max,
                     "chunk_overlap_tokens", f->chunk_overlap, "attributes", object_or_empty(f->attributes));
}

/* ---- lookups ---- */

/* The store named by the path (the caller's project's); answers 404/500 itself when not. */
static int load_store(Ctx *c, VectorStoreRecord *v) {
    Err err = {0};
    int rc = store_vs_get(c->store, c->req->params[0], v, &err);
    if (rc == 0 && !api_visible(c, v->project)) rc = STORE_NOT_FOUND;
    if (rc == STORE_NOT_FOUND)
        api_errorf(c, 404, "invalid_request_error", "vector_store_id", NULL, "No vector store found with id '%s'.",
                   c->req->params[0]);
    else if (rc)
        api_server_error(c, "the vector store could not be read", &err);
    return rc;
}

/* The embedding model new stores use: the first (by id) of the models directories; -1 after a 400. */
static int default_model(Ctx *c, ModelInfo *out) {
    ModelInfo *base;
    int n;
    Err err = {0};
    if (registry_list_base(c->srv->cfg.model_dirs, c->srv->cfg.n_model_dirs, &base, &n, &err)) {
        api_server_error(c, "the models could not be listed", &err);
        return -1;
    }
    int found = -1;
    for (int i = 0; i < n && found < 0; i++)
        if (base[i].embedding) found = i;
    if (found >= 0) *out = base[found];
    free(base);
    if (found < 0)
        api_errorf(c, 400, "invalid_request_error", NULL, "no_embedding_model",
                   "Vector stores need an embedding model, and the models directories have none (scripts/"
                   "fetch_models.sh puts all-MiniLM-L6-v2 in models/).");
    return found < 0 ? -1 : 0;
}

/* The uploaded file id as something a store takes: the caller's, purpose assistants or user_data. */
static int check_file(Ctx *c, const char *id, const char *param, ApiError *e) {
    FileRecord f;
    Err err = {0};
    int rc = store_file_get(c->store, id, &f, &err);
    if (rc == 0 && !api_visible(c, f.project)) rc = STORE_NOT_FOUND;
    if (rc == STORE_NOT_FOUND) return api_fail(e, 404, "invalid_request_error", param, NULL, "No such File object: %s", id);
    if (rc) return api_fail(e, 500, "server_error", NULL, NULL, "the file could not be read: %s", err.msg);
    if (strcmp(f.purpose, "assistants") && strcmp(f.purpose, "user_data"))
        return api_fail(e, 400, "invalid_request_error", param, "invalid_file_purpose",
                        "File '%s' has purpose '%s'; vector stores take files uploaded with purpose 'assistants' or "
                        "'user_data'.", id, f.purpose);
    return 0;
}

/* Records file_id in_progress in the store and queues its processing; -1 with e (503 when the
 * embedding thread's queue is full: the row is taken back). */
static int attach(Ctx *c, const VectorStoreRecord *v, const char *file_id, int max, int overlap, json_t *attributes,
                  VectorFileRecord *out, ApiError *e) {
    ModelInfo m;
    Err err = {0};
    if (registry_find_base(c->srv->cfg.model_dirs, c->srv->cfg.n_model_dirs, v->model, &m) != 0 || !m.embedding)
        return api_fail(e, 400, "invalid_request_error", NULL, "model_not_found",
                        "The embedding model of vector store %s, '%s', is no longer in the models directories.", v->id,
                        v->model);
    VectorFileRecord f = {.created_at = (long long)time(NULL), .chunk_max = max, .chunk_overlap = overlap};
    snprintf(f.store_id, sizeof f.store_id, "%s", v->id);
    snprintf(f.file_id, sizeof f.file_id, "%s", file_id);
    snprintf(f.status, sizeof f.status, "in_progress");
    char *attrs = attributes && !json_is_null(attributes) ? json_dumps(attributes, JSON_COMPACT) : NULL;
    if (attrs) snprintf(f.attributes, sizeof f.attributes, "%s", attrs);
    free(attrs);
    int rc = store_vs_file_add(c->store, &f, &err);
    if (rc == STORE_CONFLICT)
        return api_fail(e, 400, "invalid_request_error", "file_id", "file_already_attached",
                        "File %s is already in vector store %s.", file_id, v->id);
    if (rc) return api_fail(e, 500, "server_error", NULL, NULL, "the file could not be attached: %s", err.msg);
    VsIngest *job = calloc(1, sizeof *job);
    if (job) {
        snprintf(job->store_id, sizeof job->store_id, "%s", v->id);
        snprintf(job->file_id, sizeof job->file_id, "%s", file_id);
        store_file_path(c->store, file_id, job->blob_path, sizeof job->blob_path);
        job->chunk_max = max;
        job->chunk_overlap = overlap;
    }
    if (!job || embedder_submit_task(c->srv->embedder, m.base_path, vs_ingest_task, job)) {
        free(job);
        store_vs_file_delete(c->store, v->id, file_id, &err);
        return api_fail(e, 503, "server_error", NULL, "server_busy",
                        "The server has too much embedding work waiting; retry later.");
    }
    *out = f;
    return 0;
}

/* ---- /v1/vector_stores ---- */

void route_vector_stores_create(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    ApiError e;
    VsCreateRequest cr;
    ModelInfo m;
    size_t i;
    json_t *id;
    int rc = vs_create_request_parse(c->req->body, c->req->body_len, &cr, &e);
    json_array_foreach(cr.file_ids, i, id) {
        char param[32];
        snprintf(param, sizeof param, "file_ids[%zu]", i);
        if (!rc) rc = check_file(c, json_string_value(id), param, &e);
    }
    if (rc) {
        vs_create_request_free(&cr);
        api_error(c, &e);
        return;
    }
    if (default_model(c, &m)) {
        vs_create_request_free(&cr);
        return;
    }
    VectorStoreRecord v = {.created_at = (long long)time(NULL)};
    v.last_active_at = v.created_at;
    store_new_id("vs_", v.id, sizeof v.id);
    snprintf(v.project, sizeof v.project, "%s", c->project);
    snprintf(v.name, sizeof v.name, "%s", cr.name ? cr.name : "");
    snprintf(v.model, sizeof v.model, "%s", m.id);
    char *mdt = cr.metadata ? json_dumps(cr.metadata, JSON_COMPACT) : NULL;
    if (mdt) snprintf(v.metadata, sizeof v.metadata, "%s", mdt);
    free(mdt);
    Err err = {0};
    if (store_vs_create(c->store, &v, &err)) {
        vs_create_request_free(&cr);
        api_server_error(c, "the vector store could not be created", &err);
        return;
    }
    json_array_foreach(cr.file_ids, i, id) {
        VectorFileRecord f;
        if (attach(c, &v, json_string_value(id), cr.chunk_max, cr.chunk_overlap, NULL, &f, &e) && e.status != 400) {
            vs_create_request_free(&cr);
            api_error(c, &e);
            return;
        } /* a file_id listed twice is attached once */
    }
    vs_create_request_free(&cr);
    if (store_vs_get(c->store, v.id, &v, &err)) {
        api_server_error(c, "the vector store could not be read", &err);
        return;
    }
    api_json(c, 200, store_json(&v));
}

/* limit (1..100, default 20), order (asc|desc, default desc), after; -1 after a 400. */
static int list_params(Ctx *c, int *limit, bool *asc, const char **after) {
    static const char *const QUERY[] = {"limit", "order", "after", "before", "filter"};
    if (api_query_refused(c, QUERY, 4 + (strstr(c->req->route, "/files") != NULL))) return -1;
    ApiError e;
    const char *order = http_query(c->req, "order");
    if (api_query_limit(c->req, API_LIST_DEFAULT, VS_LIST_MAX, limit, &e)) {
        api_error(c, &e);
        return -1;
    }
    if (order && strcmp(order, "asc") && strcmp(order, "desc")) {
        api_errorf(c, 400, "invalid_request_error", "order", "invalid_value", "Invalid 'order': expected 'asc' or 'desc'.");
        return -1;
    }
    if (http_query(c->req, "before")) {
        api_errorf(c, 400, "invalid_request_error", "before", "unsupported_parameter",
                   "'before' is not supported by this server: page with 'after'.");
        return -1;
    }
    *asc = order && !strcmp(order, "asc");
    *after = http_query(c->req, "after");
    return 0;
}

void route_vector_stores_list(Ctx *c) {
    int limit;
    bool asc, more;
    const char *after;
    if (list_params(c, &limit, &asc, &after)) return;
    VectorStoreRecord *v;
    int n;
    Err err = {0};
    int rc = store_vs_list(c->store, c->project, after, limit, asc, &v, &n, &more, &err);
    if (api_list_failed(c, rc, after, "vector stores", &err)) return;
    json_t *data = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(data, store_json(&v[i]));
    json_t *list = api_list(data, more);
    json_object_set_new(list, "first_id", n ? json_string(v[0].id) : json_null());
    json_object_set_new(list, "last_id", n ? json_string(v[n - 1].id) : json_null());
    free(v);
    api_json(c, 200, list);
}

void route_vector_stores_get(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    VectorStoreRecord v;
    if (load_store(c, &v) == 0) api_json(c, 200, store_json(&v));
}

void route_vector_stores_delete(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    VectorStoreRecord v;
    if (load_store(c, &v)) return;
    Err err = {0};
    int rc = store_vs_delete(c->store, v.id, &err);
    if (rc < 0) {
        api_server_error(c, "the vector store could not be deleted", &err);
        return;
    }
    api_json(c, 200, json_pack("{s:s, s:s, s:b}", "id", v.id, "object", "vector_store.deleted", "deleted", true));
}

/* ---- files ---- */

void route_vector_store_files_create(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    VectorStoreRecord v;
    if (load_store(c, &v)) return;
    ApiError e;
    VsAttachRequest ar;
    VectorFileRecord f;
    int rc = vs_attach_request_parse(c->req->body, c->req->body_len, &ar, &e);
    if (rc == 0) rc = check_file(c, ar.file_id, "file_id", &e);
    if (rc == 0) rc = attach(c, &v, ar.file_id, ar.chunk_max, ar.chunk_overlap, ar.attributes, &f, &e);
    vs_attach_request_free(&ar);
    if (rc) api_error(c, &e);
    else api_json(c, 200, file_json(&f));
}

void route_vector_store_files_list(Ctx *c) {
    int limit;
    bool asc, more;
    const char *after, *filter = http_query(c->req, "filter");
    if (list_params(c, &limit, &asc, &after)) return;
    if (filter) {
        api_errorf(c, 400, "invalid_request_error", "filter", "unsupported_parameter",
                   "'filter' is not supported by this server: list every file and look at its status.");
        return;
    }
    VectorStoreRecord v;
    if (load_store(c, &v)) return;
    VectorFileRecord *f;
    int n;
    Err err = {0};
    int rc = store_vs_file_list(c->store, v.id, after, limit, asc, &f, &n, &more, &err);
    if (api_list_failed(c, rc, after, "vector store files", &err)) return;
    json_t *data = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(data, file_json(&f[i]));
    json_t *list = api_list(data, more);
    json_object_set_new(list, "first_id", n ? json_string(f[0].file_id) : json_null());
    json_object_set_new(list, "last_id", n ? json_string(f[n - 1].file_id) : json_null());
    free(f);
    api_json(c, 200, list);
}

/* The store's file named by the path; answers 404/500 itself when absent. */
static int load_file(Ctx *c, const VectorStoreRecord *v, VectorFileRecord *f) {
    Err err = {0};
    int rc = store_vs_file_get(c->store, v->id, c->req->params[1], f, &err);
    if (rc == STORE_NOT_FOUND)
        api_errorf(c, 404, "invalid_request_error", "file_id", NULL, "No file found with id '%s' in vector store '%s'.",
                   c->req->params[1], v->id);
    else if (rc)
        api_server_error(c, "the vector store file could not be read", &err);
    return rc;
}

void route_vector_store_files_get(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    VectorStoreRecord v;
    VectorFileRecord f;
    if (load_store(c, &v) == 0 && load_file(c, &v, &f) == 0) api_json(c, 200, file_json(&f));
}

void route_vector_store_files_delete(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    VectorStoreRecord v;
    VectorFileRecord f;
    if (load_store(c, &v) || load_file(c, &v, &f)) return;
    Err err = {0};
    if (store_vs_file_delete(c->store, v.id, f.file_id, &err) < 0) {
        api_server_error(c, "the vector store file could not be deleted", &err);
        return;
    }
    api_json(c, 200, json_pack("{s:s, s:s, s:b}", "id", f.file_id, "object", "vector_store.file.deleted", "deleted", true));
}

/* ---- search ---- */

void route_vector_stores_search(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    VectorStoreRecord v;
    if (load_store(c, &v)) return;
    ApiError e;
    VsSearch *q = calloc(1, sizeof *q);
    if (!q) {
        api_errorf(c, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    if (vs_search_request_parse(c->req->body, c->req->body_len, &q->req, &e)) {
        vs_search_free(q);
        api_error(c, &e);
        return;
    }
    ModelInfo m;
    if (registry_find_base(c->srv->cfg.model_dirs, c->srv->cfg.n_model_dirs, v.model, &m) != 0 || !m.embedding) {
        vs_search_free(q);
        api_errorf(c, 400, "invalid_request_error", NULL, "model_not_found",
                   "The embedding model of vector store %s, '%s', is no longer in the models directories.", v.id, v.model);
        return;
    }
    snprintf(q->store_id, sizeof q->store_id, "%s", v.id);
    q->cache = c->srv->vs_cache;
    HttpStream *stream = q->stream = http_stream_new(); /* q is the task's once submitted */
    if (!stream || embedder_submit_task(c->srv->embedder, m.base_path, vs_search_task, q)) {
        free(stream);
        vs_search_free(q);
        api_errorf(c, 503, "server_error", NULL, "server_busy", "The server has too much embedding work waiting; retry later.");
        return;
    }
    c->res->stream = stream;
    c->res->stream_sse = false;
}
