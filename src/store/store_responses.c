/* store_responses.c: stored responses of the Responses API (POST /v1/responses with store true):
 * one row per response with its project, model, status, the response id it continued, the
 * response object as JSON text and its input items as JSON text (the store does not read either).
 * The table is schema version 5's (store_responses_schema, run by ensure_schema on older
 * databases). */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#define RESPONSE_COLS "id, project, created_at, model, status, previous_response_id, body, input"

int store_responses_schema(Store *s, Err *err) {
    return store_exec(s,
                      "CREATE TABLE IF NOT EXISTS responses ("
                      " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                      " id TEXT NOT NULL UNIQUE,"
                      " project TEXT NOT NULL,"
                      " created_at INTEGER NOT NULL,"
                      " model TEXT NOT NULL,"
                      " status TEXT NOT NULL,"
                      " previous_response_id TEXT,"
                      " body TEXT NOT NULL,"
                      " input TEXT NOT NULL);",
                      "create the responses table", err);
}

static void read_response_row(DbStmt *st, void *rec) {
    ResponseRecord *r = rec;
    store_col_text(st, 0, r->id, sizeof r->id);
    store_col_text(st, 1, r->project, sizeof r->project);
    r->created_at = store_col_int(st, 2, 0);
    store_col_text(st, 3, r->model, sizeof r->model);
    store_col_text(st, 4, r->status, sizeof r->status);
    store_col_text(st, 5, r->previous_response_id, sizeof r->previous_response_id);
    r->body = store_col_heap_text(st, 6);
    r->input = store_col_heap_text(st, 7);
}

int store_response_create(Store *s, const ResponseRecord *r, Err *err) {
    if (!r->project[0]) return err_set(err, ERR_ARG, "%s: a response needs a project", s->db_path);
    if (!r->id[0] || !r->body || !r->input) return err_set(err, ERR_ARG, "%s: a response needs an id, a body and input", s->db_path);
    DbStmt *st;
    if (store_prepare(s, "INSERT INTO responses (" RESPONSE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &st,
                      "insert response", err))
        return -1;
    store_bind_text(st, 1, r->id);
    store_bind_text(st, 2, r->project);
    db_bind_int64(st, 3, r->created_at);
    store_bind_text(st, 4, r->model);
    store_bind_text(st, 5, r->status);
    store_bind_opt_text(st, 6, r->previous_response_id);
    store_bind_text(st, 7, r->body);
    store_bind_text(st, 8, r->input);
    return store_run(s, st, "insert response", err);
}

int store_response_get(Store *s, const char *id, ResponseRecord *out, Err *err) {
    memset(out, 0, sizeof *out);
    DbStmt *st;
    if (store_prepare(s, "SELECT " RESPONSE_COLS " FROM responses WHERE id = ?1", &st, "get response", err)) return -1;
    store_bind_text(st, 1, id);
    int rc = store_get_one(s, st, read_response_row, out, "get response", err);
    if (rc == 0 && (!out->body || !out->input)) {
        store_response_clear(out);
        return err_set(err, ERR_NOMEM, "%s: get response: out of memory", s->db_path);
    }
    return rc;
}

int store_response_delete(Store *s, const char *id, Err *err) {
    DbStmt *st;
    if (store_prepare(s, "DELETE FROM responses WHERE id = ?1", &st, "delete response", err)) return -1;
    store_bind_text(st, 1, id);
    bool was = s->use_reserve; /* a delete frees space: it may spend the reserve on a full disk */
    s->use_reserve = true;
    int rc = store_run_one(s, st, "delete response", err);
    s->use_reserve = was;
    return rc;
}

void store_response_clear(ResponseRecord *r) {
    if (!r) return;
    free(r->body);
    free(r->input);
    r->body = NULL;
    r->input = NULL;
}
