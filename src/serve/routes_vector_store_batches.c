/* routes_vector_store_batches.c: OpenAI's vector store file batches: POST
 * /v1/vector_stores/{id}/file_batches (file_ids with shared attributes and chunking_strategy, or
 * files each with their own; at most 2000), GET .../file_batches/{batch_id}, POST .../cancel and
 * GET .../files (filter by status, paged). A batch's files are attached as the store's files are
 * (vs_attach_files: in one transaction, processed one after the other by one task), each row
 * carrying the batch's id. Its status: in_progress while a file is, then cancelled when cancel was
 * asked, failed when every file failed, completed otherwise. Cancelling marks the files not
 * processed yet cancelled (their processing keeps nothing); a batch that is no longer in progress
 * cannot be cancelled (400). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "routes.h"
#include "vector_stores.h"

static const char *batch_status(const VectorBatchRecord *b) {
    const VectorFileCounts *n = &b->counts;
    int total = n->in_progress + n->completed + n->failed + n->cancelled;
    return n->in_progress ? "in_progress"
           : b->cancelled ? "cancelled"
           : total && n->failed == total ? "failed"
                                          : "completed";
}

static json_t *batch_json(const VectorBatchRecord *b) {
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:o}", "id", b->id, "object", "vector_store.files_batch", "created_at",
                     (json_int_t)b->created_at, "vector_store_id", b->store_id, "status", batch_status(b),
                     "file_counts", vs_counts_json(&b->counts));
}

/* The batch named by the path (params[1]) of v; answers 404/500 itself when not. */
static int load_batch(Ctx *c, const VectorStoreRecord *v, VectorBatchRecord *b) {
    Err err = {0};
    int rc = store_vs_batch_get(c->store, v->id, c->req->params[1], b, &err);
    if (rc == STORE_NOT_FOUND)
        api_errorf(c, 404, "invalid_request_error", "batch_id", NULL, "No file batch found with id '%s' in vector store '%s'.",
                   c->req->params[1], v->id);
    else if (rc)
        api_server_error(c, "the file batch could not be read", &err);
    return rc;
}

void route_vector_store_batches_create(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    VectorStoreRecord v;
    if (vs_load_store(c, &v)) return;
    ApiError e;
    VsBatchRequest br;
    char batch_id[STORE_ID_MAX];
    store_new_id("vsfb_", batch_id, sizeof batch_id);
    int rc = vs_batch_request_parse(c->req->body, c->req->body_len, &br, &e);
    if (!rc)
        rc = vs_attach_files(c, &v, br.files, br.n, batch_id,
                             json_object_get(br.root, "files") && !json_is_null(json_object_get(br.root, "files"))
                                 ? "files"
                                 : "file_ids",
                             (long long)time(NULL), &e);
    vs_batch_request_free(&br);
    if (rc) {
        api_error(c, &e);
        return;
    }
    VectorBatchRecord b;
    Err err = {0};
    if (store_vs_batch_get(c->store, v.id, batch_id, &b, &err)) {
        api_server_error(c, "the file batch could not be read", &err);
        return;
    }
    api_json(c, 200, batch_json(&b));
}

void route_vector_store_batches_get(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    VectorStoreRecord v;
    VectorBatchRecord b;
    if (vs_load_store(c, &v) == 0 && load_batch(c, &v, &b) == 0) api_json(c, 200, batch_json(&b));
}

void route_vector_store_batches_cancel(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    VectorStoreRecord v;
    VectorBatchRecord b;
    if (vs_load_store(c, &v) || load_batch(c, &v, &b)) return;
    if (strcmp(batch_status(&b), "in_progress")) {
        api_errorf(c, 400, "invalid_request_error", "batch_id", "batch_not_in_progress",
                   "File batch %s is %s: only a batch in progress can be cancelled.", b.id, batch_status(&b));
        return;
    }
    Err err = {0};
    if (store_vs_batch_cancel(c->store, v.id, b.id, &err) < 0 || store_vs_batch_get(c->store, v.id, b.id, &b, &err) < 0) {
        api_server_error(c, "the file batch could not be cancelled", &err);
        return;
    }
    api_json(c, 200, batch_json(&b));
}

void route_vector_store_batches_files(Ctx *c) {
    VectorStoreRecord v;
    VectorBatchRecord b;
    if (vs_load_store(c, &v) == 0 && load_batch(c, &v, &b) == 0) vs_list_files(c, b.id);
}
