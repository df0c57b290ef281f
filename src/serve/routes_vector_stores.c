/* routes_vector_stores.c: OpenAI's vector stores API subset: /v1/vector_stores (create, list,
 * retrieve, modify, delete), /v1/vector_stores/{id}/files (attach, list, retrieve, update
 * attributes, detach, content: the uploaded text of a completed file as one text part) and
 * /v1/vector_stores/{id}/search (file batches: routes_vector_store_batches.c).
 * A store belongs to the project that created it (another project's is 404) and embeds with the
 * first embedding model of the models directories, fixed at creation. Attaching records the files
 * in_progress and queues their chunking and embedding on the embedding thread as one task
 * (vector_store_tasks.c), which ends each completed or failed: clients poll, as with OpenAI (the
 * SDK's create_and_poll). A search is queued there too and answers through a deferred response;
 * it makes the store active (last_active_at). A store with expires_after {anchor: last_active_at,
 * days} is expired from last_active_at + days on: reported so (status expired, expires_at), it
 * refuses searches and new files (400 vector_store_expired), and its expiry cannot be changed any
 * more, as OpenAI's. Files of purpose assistants or user_data only; chunking_strategy auto (800
 * tokens, 400 of overlap) or static; rewrite_query true is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/fileio.h"
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

json_t *vs_counts_json(const VectorFileCounts *n) {
    return json_pack("{s:i, s:i, s:i, s:i, s:i}", "in_progress", n->in_progress, "completed", n->completed, "failed",
                     n->failed, "cancelled", n->cancelled, "total",
                     n->in_progress + n->completed + n->failed + n->cancelled);
}

/* When the store expires (0: never). */
static long long expires_at(const VectorStoreRecord *v) {
    return v->expires_days ? v->last_active_at + (long long)v->expires_days * VS_SECONDS_PER_DAY : 0;
}

bool vs_expired(const VectorStoreRecord *v) { return expires_at(v) && (long long)time(NULL) >= expires_at(v); }

static json_t *store_json(const VectorStoreRecord *v) {
    const char *status = vs_expired(v) ? "expired" : v->counts.in_progress ? "in_progress" : "completed";
    json_t *expires = v->expires_days ? json_pack("{s:s, s:i}", "anchor", "last_active_at", "days", v->expires_days)
                                      : json_null();
    return json_pack("{s:s, s:s, s:I, s:o, s:I, s:o, s:s, s:o, s:o, s:I, s:o}", "id", v->id, "object", "vector_store",
                     "created_at", (json_int_t)v->created_at, "name", v->name[0] ? json_string(v->name) : json_null(),
                     "usage_bytes", (json_int_t)v->counts.usage_bytes, "file_counts", vs_counts_json(&v->counts),
                     "status", status, "expires_after", expires, "expires_at",
                     v->expires_days ? json_integer(expires_at(v)) : json_null(), "last_active_at",
                     (json_int_t)v->last_active_at, "metadata", object_or_empty(v->metadata));
}

json_t *vs_file_json(const VectorFileRecord *f) {
    json_t *err = f->last_error[0] ? json_pack("{s:s, s:s}", "code", "server_error", "message", f->last_error)
                                   : json_null();
    return json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:o, s:{s:s, s:{s:i, s:i}}, s:o}", "id", f->file_id, "object",
                     "vector_store.file", "usage_bytes", (json_int_t)f->usage_bytes, "created_at",
                     (json_int_t)f->created_at, "vector_store_id", f->store_id, "status", f->status, "last_error",
                     err, "chunking_strategy", "type", "static", "static", "max_chunk_size_tokens", f->chunk_max,
                     "chunk_overlap_tokens", f->chunk_overlap, "attributes", object_or_empty(f->attributes));
}

/* ---- lookups ---- */

int vs_load_store(Ctx *c, VectorStoreRecord *v) {
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

int vs_check_file(Ctx *c, const char *id, const char *param, ApiError *e) {
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

static int expired_error(const VectorStoreRecord *v, ApiError *e) {
    return api_fail(e, 400, "invalid_request_error", "vector_store_id", "vector_store_expired",
                    "Vector store %s expired at %lld (%d days after its last activity, as its expires_after says); "
                    "create a new vector store.", v->id, expires_at(v), v->expires_days);
}

/* "file_id", or list[i] ("file_ids[3]") for a file given in a list. */
static void item_param(char *out, size_t cap, const char *list, int i) {
    if (list) snprintf(out, cap, "%s[%d]", list, i);
    else snprintf(out, cap, "file_id");
}

/* Drops repeated file ids from files (n of them; the first stays), keeping in at[i] the index the
 * i-th kept one had. Returns how many are kept. */
static int unique_files(VsAttachRequest *files, int n, int *at) {
    int kept = 0;
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (j < kept && strcmp(files[j].file_id, files[i].file_id)) j++;
        if (j < kept) continue;
        at[kept] = i;
        files[kept++] = files[i];
    }
    return kept;
}

int vs_attach_files(Ctx *c, const VectorStoreRecord *v, VsAttachRequest *files, int n, const char *batch_id,
                    const char *list_param, long long now, ApiError *e) {
    ModelInfo m;
    Err err = {0};
    char param[64];
    if (vs_expired(v)) return expired_error(v, e);
    if (registry_find_base(c->srv->cfg.model_dirs, c->srv->cfg.n_model_dirs, v->model, &m) != 0 || !m.embedding)
        return api_fail(e, 400, "invalid_request_error", NULL, "model_not_found",
                        "The embedding model of vector store %s, '%s', is no longer in the models directories.", v->id,
                        v->model);
    int *at = malloc((size_t)n * sizeof *at);
    VectorFileIn *in = malloc((size_t)n * sizeof *in);
    char **attrs = calloc((size_t)n, sizeof *attrs);
    VsIngest *job = calloc(1, sizeof *job);
    VsIngestFile *todo = malloc((size_t)n * sizeof *todo);
    int rc = at && in && attrs && job && todo ? 0 : api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    int kept = rc ? 0 : unique_files(files, n, at);
    for (int i = 0; i < kept && !rc; i++) {
        item_param(param, sizeof param, list_param, at[i]);
        rc = vs_check_file(c, files[i].file_id, param, e);
        attrs[i] = files[i].attributes ? json_dumps(files[i].attributes, JSON_COMPACT) : NULL;
        in[i] = (VectorFileIn){files[i].file_id, attrs[i], files[i].chunk_max, files[i].chunk_overlap};
        todo[i] = (VsIngestFile){.chunk_max = files[i].chunk_max, .chunk_overlap = files[i].chunk_overlap};
        snprintf(todo[i].file_id, sizeof todo[i].file_id, "%s", files[i].file_id);
    }
    int conflict = -1;
    if (!rc) {
        int added = store_vs_files_add(c->store, v->id, now, batch_id, in, kept, &conflict, &err);
        if (added == STORE_CONFLICT) {
            item_param(param, sizeof param, list_param, at[conflict]);
            rc = api_fail(e, 400, "invalid_request_error", param, "file_already_attached",
                          "File %s is already in vector store %s.", files[conflict].file_id, v->id);
        } else if (added) {
            rc = api_fail(e, 500, "server_error", NULL, NULL, "the files could not be attached: %s", err.msg);
        }
    }
    if (!rc) {
        snprintf(job->store_id, sizeof job->store_id, "%s", v->id);
        job->files = todo, job->n_files = kept;
        todo = NULL;
        if (embedder_submit_task(c->srv->embedder, m.base_path, vs_ingest_task, job)) {
            for (int i = 0; i < kept; i++) store_vs_file_delete(c->store, v->id, in[i].file_id, &err);
            todo = job->files;
            rc = api_fail(e, 503, "server_error", NULL, "server_busy",
                          "The server has too much embedding work waiting; retry later.");
        } else {
            job = NULL; /* the task's */
        }
    }
    for (int i = 0; attrs && i < kept; i++) free(attrs[i]);
    free(attrs), free(at), free(in), free(todo), free(job);
    return rc;
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
        if (!rc) rc = vs_check_file(c, json_string_value(id), param, &e);
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
    VectorStoreRecord v = {.created_at = (long long)time(NULL), .expires_days = cr.expires_days};
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
    int n = (int)json_array_size(cr.file_ids);
    VsAttachRequest *files = calloc((size_t)(n ? n : 1), sizeof *files);
    for (int k = 0; files && k < n; k++)
        files[k] = (VsAttachRequest){.file_id = json_string_value(json_array_get(cr.file_ids, (size_t)k)),
                                     .chunk_max = cr.chunk_max, .chunk_overlap = cr.chunk_overlap};
    rc = !files ? api_fail(&e, 500, "server_error", NULL, NULL, "out of memory")
         : n    ? vs_attach_files(c, &v, files, n, NULL, "file_ids", v.created_at, &e)
                : 0;
    free(files);
    vs_create_request_free(&cr);
    if (rc) {
        store_vs_delete(c->store, v.id, &err); /* not created after all */
        api_error(c, &e);
        return;
    }
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
    if (vs_load_store(c, &v) == 0) api_json(c, 200, store_json(&v));
}

void route_vector_stores_modify(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    VectorStoreRecord v;
    if (vs_load_store(c, &v)) return;
    ApiError e;
    VsModifyRequest mr;
    int rc = vs_modify_request_parse(c->req->body, c->req->body_len, &mr, &e);
    if (!rc && mr.has_expires && vs_expired(&v))
        rc = api_fail(&e, 400, "invalid_request_error", "expires_after", "vector_store_expired",
                      "Vector store %s has expired; its expires_after can no longer be changed.", v.id);
    if (rc) {
        vs_modify_request_free(&mr);
        api_error(c, &e);
        return;
    }
    if (mr.has_name) snprintf(v.name, sizeof v.name, "%s", mr.name ? mr.name : "");
    if (mr.has_expires) v.expires_days = mr.expires_days;
    if (mr.has_metadata) {
        char *mdt = mr.metadata ? json_dumps(mr.metadata, JSON_COMPACT) : NULL;
        snprintf(v.metadata, sizeof v.metadata, "%s", mdt ? mdt : "");
        free(mdt);
    }
    vs_modify_request_free(&mr);
    Err err = {0};
    if (store_vs_update(c->store, &v, &err) < 0) {
        api_server_error(c, "the vector store could not be updated", &err);
        return;
    }
    api_json(c, 200, store_json(&v));
}

void route_vector_stores_delete(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    VectorStoreRecord v;
    if (vs_load_store(c, &v)) return;
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
    if (vs_load_store(c, &v)) return;
    ApiError e;
    VsAttachRequest ar;
    long long now = (long long)time(NULL);
    int rc = vs_attach_request_parse(c->req->body, c->req->body_len, &ar, &e);
    if (rc == 0) rc = vs_attach_files(c, &v, &ar, 1, NULL, NULL, now, &e);
    VectorFileRecord f;
    Err err = {0};
    if (rc == 0 && store_vs_file_get(c->store, v.id, ar.file_id, &f, &err) < 0)
        rc = api_fail(&e, 500, "server_error", NULL, NULL, "the vector store file could not be read: %s", err.msg);
    vs_attach_request_free(&ar);
    if (rc) api_error(c, &e);
    else api_json(c, 200, vs_file_json(&f));
}

int vs_list_files(Ctx *c, const char *batch_id) {
    int limit;
    bool asc, more;
    const char *after, *filter = http_query(c->req, "filter");
    if (list_params(c, &limit, &asc, &after)) return -1;
    if (filter && strcmp(filter, "in_progress") && strcmp(filter, "completed") && strcmp(filter, "failed") &&
        strcmp(filter, "cancelled")) {
        api_errorf(c, 400, "invalid_request_error", "filter", "invalid_value",
                   "Invalid 'filter': expected one of in_progress, completed, failed, cancelled.");
        return -1;
    }
    VectorFileRecord *f;
    int n;
    Err err = {0};
    int rc = store_vs_file_list(c->store, c->req->params[0], batch_id, filter, after, limit, asc, &f, &n, &more, &err);
    if (api_list_failed(c, rc, after, "vector store files", &err)) return -1;
    json_t *data = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(data, vs_file_json(&f[i]));
    json_t *list = api_list(data, more);
    json_object_set_new(list, "first_id", n ? json_string(f[0].file_id) : json_null());
    json_object_set_new(list, "last_id", n ? json_string(f[n - 1].file_id) : json_null());
    free(f);
    api_json(c, 200, list);
    return 0;
}

void route_vector_store_files_list(Ctx *c) {
    VectorStoreRecord v;
    if (vs_load_store(c, &v) == 0) vs_list_files(c, NULL);
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
    if (vs_load_store(c, &v) == 0 && load_file(c, &v, &f) == 0) api_json(c, 200, vs_file_json(&f));
}

void route_vector_store_files_update(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    VectorStoreRecord v;
    VectorFileRecord f;
    if (vs_load_store(c, &v) || load_file(c, &v, &f)) return;
    ApiError e;
    VsAttributesRequest ar;
    if (vs_attributes_request_parse(c->req->body, c->req->body_len, &ar, &e)) {
        vs_attributes_request_free(&ar);
        api_error(c, &e);
        return;
    }
    char *text = ar.attributes ? json_dumps(ar.attributes, JSON_COMPACT) : NULL;
    snprintf(f.attributes, sizeof f.attributes, "%s", text ? text : "");
    free(text);
    vs_attributes_request_free(&ar);
    Err err = {0};
    if (store_vs_file_set_attributes(c->store, v.id, f.file_id, f.attributes, &err) < 0) {
        api_server_error(c, "the vector store file could not be updated", &err);
        return;
    }
    api_json(c, 200, vs_file_json(&f));
}

void route_vector_store_files_content(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    VectorStoreRecord v;
    VectorFileRecord f;
    if (vs_load_store(c, &v) || load_file(c, &v, &f)) return;
    if (strcmp(f.status, "completed")) {
        api_errorf(c, 400, "invalid_request_error", "file_id", "file_not_processed",
                   "File %s is %s in vector store %s: its content is there once it is completed.", f.file_id, f.status,
                   v.id);
        return;
    }
    char path[4096];
    char *text = NULL;
    size_t len = 0;
    Err err = {0};
    store_file_path(c->store, f.file_id, path, sizeof path);
    if (file_read_all(path, VS_MAX_FILE_BYTES, &text, &len, &err)) {
        api_server_error(c, "the file's content could not be read", &err);
        return;
    }
    json_t *part = json_pack("{s:s, s:s%}", "type", "text", "text", text, len); /* UTF-8: checked when processed */
    free(text);
    if (!part) {
        api_errorf(c, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    api_json(c, 200, json_pack("{s:s, s:[o], s:b, s:n}", "object", "vector_store.file_content.page", "data", part,
                               "has_more", false, "next_page"));
}

void route_vector_store_files_delete(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    VectorStoreRecord v;
    VectorFileRecord f;
    if (vs_load_store(c, &v) || load_file(c, &v, &f)) return;
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
    if (vs_load_store(c, &v)) return;
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
    if (vs_expired(&v)) {
        vs_search_free(q);
        expired_error(&v, &e);
        api_error(c, &e);
        return;
    }
    Err err = {0};
    if (store_vs_touch(c->store, v.id, (long long)time(NULL), &err) < 0) /* the search goes on without it */
        api_note_cause(c, "the vector store's last_active_at could not be updated", &err);
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
