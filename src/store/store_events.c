/* store_events.c: a job's events (append-only, listed newest first in insertion order, which
 * the seq rowid keeps even within one second) and its checkpoints (listed highest step first).
 * Both belong to a job through a foreign key: adding to a missing job is STORE_NOT_FOUND. A
 * checkpoint's adapter directory on disk is the caller's to create and remove; it is recorded
 * relative to the data directory and returned with the data directory in front. */
#include <limits.h>
#include <string.h>

#include "store_internal.h"

/* ---- events ---- */

#define EVENT_COLS "id, created_at, level, type, message, data"

static void read_event(DbStmt *st, void *rec) {
    EventRecord *e = rec;
    store_col_text(st, 0, e->id, sizeof e->id);
    e->created_at = store_col_int(st, 1, 0);
    store_col_text(st, 2, e->level, sizeof e->level);
    store_col_text(st, 3, e->type, sizeof e->type);
    store_col_text(st, 4, e->message, sizeof e->message);
    store_col_text(st, 5, e->data, sizeof e->data);
}

int store_event_add(Store *s, const char *job_id, const char *level, const char *type, const char *message,
                    const char *data, EventRecord *out, Err *err) {
    char id[STORE_ID_MAX];
    store_new_id("ftevent-", id, sizeof id);
    long long now = store_now();
    DbStmt *st;
    if (store_prepare(s,
                      "INSERT INTO events (id, job_id, created_at, level, type, message, data) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                      &st, "insert event", err))
        return -1;
    store_bind_text(st, 1, id);
    store_bind_text(st, 2, job_id);
    db_bind_int64(st, 3, now);
    store_bind_text(st, 4, level);
    store_bind_text(st, 5, type);
    store_bind_text(st, 6, message);
    store_bind_opt_text(st, 7, data);
    int rc = store_run_child(s, st, job_id, "insert event", err);
    if (rc || !out) return rc;
    store_copy(out->id, sizeof out->id, id);
    out->created_at = now;
    store_copy(out->level, sizeof out->level, level);
    store_copy(out->type, sizeof out->type, type);
    store_copy(out->message, sizeof out->message, message);
    store_copy(out->data, sizeof out->data, data);
    return 0;
}

int store_event_list(Store *s, const char *job_id, const char *after, int limit, EventRecord **out, int *n,
                     bool *has_more, Err *err) {
    *out = NULL;
    *n = 0;
    *has_more = false;
    long long after_seq = LLONG_MAX;
    if (after) {
        int rc = store_cursor(s, "SELECT seq FROM events WHERE id = ?1 AND job_id = ?2", after, job_id, &after_seq,
                              NULL, err);
        if (rc) return rc;
    }
    DbStmt *st;
    if (store_prepare(s, "SELECT " EVENT_COLS " FROM events WHERE job_id = ?1 AND seq < ?2 ORDER BY seq DESC", &st,
                      "list events", err))
        return -1;
    store_bind_text(st, 1, job_id);
    db_bind_int64(st, 2, after_seq);
    void *items;
    if (store_collect(s, st, read_event, sizeof **out, store_clamp_limit(limit), &items, n, has_more, "list events",
                      err))
        return -1;
    *out = items;
    return 0;
}

/* ---- checkpoints ---- */

/* Always selected from "checkpoints c" (store_checkpoint_by_model joins jobs, whose column names
 * overlap). */
#define CKPT_COLS "c.id, c.created_at, c.job_id, c.step, c.model, c.metrics, c.dir"

static void read_checkpoint(DbStmt *st, void *rec) {
    CheckpointRecord *c = rec;
    store_col_text(st, 0, c->id, sizeof c->id);
    c->created_at = store_col_int(st, 1, 0);
    store_col_text(st, 2, c->job_id, sizeof c->job_id);
    c->step = store_col_int(st, 3, 0);
    store_col_text(st, 4, c->model, sizeof c->model);
    store_col_text(st, 5, c->metrics, sizeof c->metrics);
    store_col_text(st, 6, c->dir, sizeof c->dir);
}

/* The records' directories as the server uses them (the data directory in front). */
static void absolute_dirs(const Store *s, CheckpointRecord *list, int n) {
    char path[STORE_TEXT_MAX];
    for (int i = 0; i < n; i++) {
        store_path_absolute(s, list[i].dir, path, sizeof path);
        memcpy(list[i].dir, path, sizeof path);
    }
}

int store_checkpoint_add(Store *s, const char *job_id, long long step, const char *model, const char *metrics,
                         const char *dir, CheckpointRecord *out, Err *err) {
    CheckpointRecord c;
    store_new_id("ftckpt_", c.id, sizeof c.id);
    c.created_at = store_now();
    store_copy(c.job_id, sizeof c.job_id, job_id);
    c.step = step;
    store_copy(c.model, sizeof c.model, model);
    store_copy(c.metrics, sizeof c.metrics, metrics);
    store_copy(c.dir, sizeof c.dir, dir);
    char rel[STORE_TEXT_MAX];
    store_path_relative(s, dir, rel, sizeof rel);
    DbStmt *st;
    if (store_prepare(s,
                      "INSERT INTO checkpoints (id, job_id, created_at, step, model, metrics, dir) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                      &st, "insert checkpoint", err))
        return -1;
    store_bind_text(st, 1, c.id);
    store_bind_text(st, 2, job_id);
    db_bind_int64(st, 3, c.created_at);
    db_bind_int64(st, 4, step);
    store_bind_text(st, 5, model);
    store_bind_opt_text(st, 6, metrics);
    store_bind_text(st, 7, rel);
    int rc = store_run_child(s, st, job_id, "insert checkpoint", err);
    if (rc == 0 && out) *out = c;
    return rc;
}

int store_checkpoint_list(Store *s, const char *job_id, const char *after, int limit, CheckpointRecord **out,
                          int *n, bool *has_more, Err *err) {
    *out = NULL;
    *n = 0;
    *has_more = false;
    long long after_step = LLONG_MAX, after_seq = LLONG_MAX;
    if (after) {
        int rc = store_cursor(s, "SELECT step, seq FROM checkpoints WHERE id = ?1 AND job_id = ?2", after, job_id,
                              &after_step, &after_seq, err);
        if (rc) return rc;
    }
    /* order: step descending, then newest (seq descending); "after" is a (step, seq) pair */
    DbStmt *st;
    if (store_prepare(s,
                      "SELECT " CKPT_COLS " FROM checkpoints c WHERE c.job_id = ?1 "
                      "AND (c.step < ?2 OR (c.step = ?2 AND c.seq < ?3)) ORDER BY c.step DESC, c.seq DESC",
                      &st, "list checkpoints", err))
        return -1;
    store_bind_text(st, 1, job_id);
    db_bind_int64(st, 2, after_step);
    db_bind_int64(st, 3, after_seq);
    void *items;
    if (store_collect(s, st, read_checkpoint, sizeof **out, store_clamp_limit(limit), &items, n, has_more,
                      "list checkpoints", err))
        return -1;
    absolute_dirs(s, items, *n);
    *out = items;
    return 0;
}

int store_checkpoint_by_model(Store *s, const char *name, CheckpointRecord *out, Err *err) {
    DbStmt *st;
    if (store_prepare(s,
                      "SELECT " CKPT_COLS " FROM checkpoints c JOIN jobs j ON j.id = c.job_id "
                      "WHERE c.model = ?1 AND j.model_deleted = 0 ORDER BY c.seq DESC LIMIT 1",
                      &st, "find checkpoint by model", err))
        return -1;
    store_bind_text(st, 1, name);
    int rc = store_get_one(s, st, read_checkpoint, out, "find checkpoint by model", err);
    if (rc == 0) absolute_dirs(s, out, 1);
    return rc;
}

int store_checkpoint_delete(Store *s, const char *id, Err *err) {
    DbStmt *st;
    if (store_prepare(s, "DELETE FROM checkpoints WHERE id = ?1", &st, "delete checkpoint", err)) return -1;
    store_bind_text(st, 1, id);
    bool was = s->use_reserve;
    s->use_reserve = true; /* frees space: allowed on a full disk */
    int rc = store_run_one(s, st, "delete checkpoint", err);
    s->use_reserve = was;
    return rc;
}
