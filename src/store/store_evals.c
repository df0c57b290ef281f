/* store_evals.c: the Evals API's records (see store.h, "evals"): evals, their runs and the runs'
 * output items, each one row with the columns lists filter on (project, parent, status, item
 * index) and the API object itself as JSON text, which the store does not read. Deleting an eval
 * deletes its runs and their items; deleting a run deletes its items. The tables are schema version
 * 6's (store_evals_schema, run by ensure_schema on older databases). Runs carried out by several API
 * nodes are claimed and leased (worker and lease_expires_at, schema version 8). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

int store_evals_schema(Store *s, Err *err) {
    return store_exec(s,
                      "CREATE TABLE IF NOT EXISTS evals ("
                      " seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, project TEXT NOT NULL,"
                      " parent TEXT, created_at INTEGER NOT NULL, status TEXT, item_index INTEGER,"
                      " body TEXT NOT NULL);"
                      "CREATE TABLE IF NOT EXISTS eval_runs ("
                      " seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, project TEXT NOT NULL,"
                      " parent TEXT NOT NULL, created_at INTEGER NOT NULL, status TEXT, item_index INTEGER,"
                      " body TEXT NOT NULL);"
                      "CREATE INDEX IF NOT EXISTS eval_runs_parent ON eval_runs (parent);"
                      "CREATE TABLE IF NOT EXISTS eval_items ("
                      " seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, project TEXT NOT NULL,"
                      " parent TEXT NOT NULL, created_at INTEGER NOT NULL, status TEXT, item_index INTEGER,"
                      " body TEXT NOT NULL, UNIQUE (parent, item_index));",
                      "create the evals tables", err);
}

/* The table of each kind: constant SQL fragments only. */
static const char *const TABLE[] = {"evals", "eval_runs", "eval_items"};

#define EVAL_COLS "id, project, parent, created_at, status, item_index, body"

static void read_row(DbStmt *st, void *rec) {
    EvalObject *o = rec;
    store_col_text(st, 0, o->id, sizeof o->id);
    store_col_text(st, 1, o->project, sizeof o->project);
    store_col_text(st, 2, o->parent, sizeof o->parent);
    o->created_at = store_col_int(st, 3, 0);
    store_col_text(st, 4, o->status, sizeof o->status);
    o->item_index = store_col_int(st, 5, -1);
    o->body = store_col_heap_text(st, 6);
}

static int bad_kind(Store *s, EvalKind kind, Err *err) {
    if (kind >= EVAL_OBJ_EVAL && kind <= EVAL_OBJ_ITEM) return 0;
    return err_set(err, ERR_ARG, "%s: no such kind of eval record (%d)", s->db_path, (int)kind);
}

int store_eval_put(Store *s, EvalKind kind, const EvalObject *o, Err *err) {
    if (bad_kind(s, kind, err)) return -1;
    if (!o->id[0] || !o->project[0] || !o->body)
        return err_set(err, ERR_ARG, "%s: an eval record needs an id, a project and a body", s->db_path);
    SqlBuf b = {.len = 0};
    sqlbuf_add(&b, "INSERT INTO ");
    sqlbuf_add(&b, TABLE[kind]);
    sqlbuf_add(&b, " (" EVAL_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    DbStmt *st;
    if (store_prepare_buf(s, &b, &st, "insert eval record", err)) return -1;
    store_bind_text(st, 1, o->id);
    store_bind_text(st, 2, o->project);
    store_bind_opt_text(st, 3, o->parent);
    db_bind_int64(st, 4, o->created_at);
    store_bind_opt_text(st, 5, o->status);
    store_bind_opt_int(st, 6, o->item_index, -1);
    store_bind_text(st, 7, o->body);
    return store_run(s, st, "insert eval record", err);
}

int store_eval_update(Store *s, EvalKind kind, const char *id, const char *status, const char *body, Err *err) {
    if (bad_kind(s, kind, err)) return -1;
    SqlBuf b = {.len = 0};
    sqlbuf_add(&b, "UPDATE ");
    sqlbuf_add(&b, TABLE[kind]);
    sqlbuf_add(&b, " SET status = ?2, body = ?3 WHERE id = ?1");
    DbStmt *st;
    if (store_prepare_buf(s, &b, &st, "update eval record", err)) return -1;
    store_bind_text(st, 1, id);
    store_bind_opt_text(st, 2, status);
    store_bind_text(st, 3, body);
    return store_run_one(s, st, "update eval record", err);
}

int store_eval_get(Store *s, EvalKind kind, const char *id, EvalObject *out, Err *err) {
    memset(out, 0, sizeof *out);
    if (bad_kind(s, kind, err)) return -1;
    SqlBuf b = {.len = 0};
    sqlbuf_add(&b, "SELECT " EVAL_COLS " FROM ");
    sqlbuf_add(&b, TABLE[kind]);
    sqlbuf_add(&b, " WHERE id = ?1");
    DbStmt *st;
    if (store_prepare_buf(s, &b, &st, "get eval record", err)) return -1;
    store_bind_text(st, 1, id);
    int rc = store_get_one(s, st, read_row, out, "get eval record", err);
    if (rc == 0 && !out->body) return err_set(err, ERR_NOMEM, "%s: get eval record: out of memory", s->db_path);
    return rc;
}

int store_eval_list(Store *s, EvalKind kind, const EvalListQuery *q, EvalObject **out, int *n, bool *has_more,
                    Err *err) {
    *out = NULL;
    *n = 0;
    *has_more = false;
    if (bad_kind(s, kind, err)) return -1;
    /* the page starts after the cursor in the list's order: items by (item_index, seq), since rows
     * are stored as they finish, not in their order; the others by seq */
    bool items_order = kind == EVAL_OBJ_ITEM;
    long long after_seq = q->ascending ? 0 : LLONG_MAX, after_index = q->ascending ? LLONG_MIN : LLONG_MAX;
    if (q->after && q->after[0]) {
        SqlBuf c = {.len = 0};
        sqlbuf_add(&c, items_order ? "SELECT seq, item_index FROM " : "SELECT seq FROM ");
        sqlbuf_add(&c, TABLE[kind]);
        sqlbuf_add(&c, " WHERE id = ?1 AND project = ?2");
        if (c.overflow) return err_set(err, ERR_ARG, "list eval records: statement too long");
        int rc = store_cursor(s, c.sql, q->after, q->project, &after_seq, items_order ? &after_index : NULL, err);
        if (rc) return rc;
    }
    SqlBuf b = {.len = 0};
    sqlbuf_add(&b, "SELECT " EVAL_COLS " FROM ");
    sqlbuf_add(&b, TABLE[kind]);
    if (items_order)
        sqlbuf_add(&b, q->ascending ? " WHERE (item_index > ?5 OR (item_index = ?5 AND seq > ?1))"
                                    : " WHERE (item_index < ?5 OR (item_index = ?5 AND seq < ?1))");
    else
        sqlbuf_add(&b, q->ascending ? " WHERE seq > ?1" : " WHERE seq < ?1");
    if (q->project) sqlbuf_add(&b, " AND project = ?2");
    if (q->parent) sqlbuf_add(&b, " AND parent = ?3");
    if (q->status) sqlbuf_add(&b, " AND status = ?4");
    /* items in their data source's order; evals and runs in creation order */
    if (kind == EVAL_OBJ_ITEM) sqlbuf_add(&b, q->ascending ? " ORDER BY item_index ASC, seq ASC" : " ORDER BY item_index DESC, seq DESC");
    else sqlbuf_add(&b, q->ascending ? " ORDER BY seq ASC" : " ORDER BY seq DESC");
    DbStmt *st;
    if (store_prepare_buf(s, &b, &st, "list eval records", err)) return -1;
    db_bind_int64(st, 1, after_seq);
    if (q->project) store_bind_text(st, 2, q->project);
    if (q->parent) store_bind_text(st, 3, q->parent);
    if (q->status) store_bind_text(st, 4, q->status);
    if (items_order) db_bind_int64(st, 5, after_index);
    void *items;
    if (store_collect(s, st, read_row, sizeof **out, store_clamp_limit(q->limit), &items, n, has_more,
                      "list eval records", err))
        return -1;
    *out = items;
    for (int i = 0; i < *n; i++)
        if (!(*out)[i].body) {
            store_eval_list_free(*out, *n);
            *out = NULL;
            *n = 0;
            return err_set(err, ERR_NOMEM, "%s: list eval records: out of memory", s->db_path);
        }
    return 0;
}

/* Deletes the rows of table (constant) where the condition (constant, ?1 = id) holds. */
static int delete_where(Store *s, const char *table, const char *condition, const char *id, bool one, Err *err) {
    SqlBuf b = {.len = 0};
    sqlbuf_add(&b, "DELETE FROM ");
    sqlbuf_add(&b, table);
    sqlbuf_add(&b, " WHERE ");
    sqlbuf_add(&b, condition);
    DbStmt *st;
    if (store_prepare_buf(s, &b, &st, "delete eval records", err)) return -1;
    store_bind_text(st, 1, id);
    return one ? store_run_one(s, st, "delete eval record", err) : store_run(s, st, "delete eval records", err);
}

int store_eval_delete(Store *s, EvalKind kind, const char *id, Err *err) {
    if (bad_kind(s, kind, err)) return -1;
    if (db_begin(s->db)) return store_sql_error(s, "begin delete", err);
    bool was = s->use_reserve; /* a delete frees space: it may spend the reserve on a full disk */
    s->use_reserve = true;
    int rc = 0;
    if (kind == EVAL_OBJ_EVAL) {
        rc = delete_where(s, "eval_items", "parent IN (SELECT id FROM eval_runs WHERE parent = ?1)", id, false, err);
        if (!rc) rc = delete_where(s, "eval_runs", "parent = ?1", id, false, err);
    } else if (kind == EVAL_OBJ_RUN) {
        rc = delete_where(s, "eval_items", "parent = ?1", id, false, err);
    }
    if (!rc) rc = delete_where(s, TABLE[kind], "id = ?1", id, true, err);
    if (!rc) rc = store_exec(s, "COMMIT", "commit delete", err);
    else db_rollback(s->db);
    s->use_reserve = was;
    return rc;
}

void store_eval_clear(EvalObject *o) {
    if (!o) return;
    free(o->body);
    o->body = NULL;
}

void store_eval_list_free(EvalObject *list, int n) {
    for (int i = 0; list && i < n; i++) free(list[i].body);
    free(list);
}

/* ---- runs on several nodes: claims and leases (see store.h) ---- */

static void read_id(DbStmt *st, void *rec) { store_col_text(st, 0, rec, STORE_ID_MAX); }

int store_eval_run_claim(Store *s, const char *worker, long long now_ms, long long lease_ms, EvalObject *out, Err *err) {
    memset(out, 0, sizeof *out);
    char sql[512], id[STORE_ID_MAX];
    snprintf(sql, sizeof sql, "%s%s",
             "SELECT id FROM eval_runs WHERE status = 'queued' OR (status = 'in_progress' AND (lease_expires_at IS "
             "NULL OR lease_expires_at < ?2 OR worker = ?1)) ORDER BY CASE WHEN status = 'in_progress' THEN 0 ELSE 1 "
             "END, seq LIMIT 1",
             db_kind(s->db) == DB_POSTGRES ? " FOR UPDATE SKIP LOCKED" : "");
    if (db_begin(s->db)) return store_sql_error(s, "begin eval run claim", err);
    DbStmt *st;
    int rc = store_prepare(s, sql, &st, "find an eval run to claim", err);
    if (rc == 0) {
        store_bind_text(st, 1, worker);
        db_bind_int64(st, 2, now_ms);
        rc = store_get_one(s, st, read_id, id, "find an eval run to claim", err);
    }
    if (rc == 0)
        rc = store_prepare(s, "UPDATE eval_runs SET worker = ?1, lease_expires_at = ?2 WHERE id = ?3", &st,
                           "claim eval run", err);
    if (rc == 0) {
        store_bind_text(st, 1, worker);
        db_bind_int64(st, 2, now_ms + lease_ms);
        store_bind_text(st, 3, id);
        rc = store_run_one(s, st, "claim eval run", err);
    }
    if (rc == 0) rc = store_eval_get(s, EVAL_OBJ_RUN, id, out, err);
    if (rc == 0 && db_commit(s->db)) rc = store_sql_error(s, "commit eval run claim", err);
    if (rc) {
        store_eval_clear(out);
        db_rollback(s->db);
    }
    return rc;
}

int store_eval_run_save(Store *s, const char *id, const char *worker, long long until, const char *status,
                        const char *body, Err *err) {
    DbStmt *st;
    if (store_prepare(s,
                      "UPDATE eval_runs SET status = ?2, body = ?3, lease_expires_at = ?5 WHERE id = ?1 AND worker = ?4 "
                      "AND status IN ('queued', 'in_progress')",
                      &st, "update eval run", err))
        return -1;
    store_bind_text(st, 1, id);
    store_bind_text(st, 2, status);
    store_bind_text(st, 3, body);
    store_bind_text(st, 4, worker);
    db_bind_int64(st, 5, until);
    int rc = store_run_one(s, st, "update eval run", err);
    if (rc != STORE_NOT_FOUND) return rc;
    EvalObject now;
    rc = store_eval_get(s, EVAL_OBJ_RUN, id, &now, err); /* gone, or changed by another node */
    store_eval_clear(&now);
    return rc == 0 ? STORE_CONFLICT : rc;
}

int store_eval_runs_release(Store *s, const char *worker, Err *err) {
    DbStmt *st;
    if (store_prepare(s, "UPDATE eval_runs SET lease_expires_at = NULL WHERE worker = ?1 AND status = 'in_progress'", &st,
                      "release eval runs", err))
        return -1;
    store_bind_text(st, 1, worker);
    return store_run(s, st, "release eval runs", err);
}
