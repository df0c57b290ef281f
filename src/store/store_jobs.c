/* store_jobs.c: fine-tuning job rows: create, get, whole-row and conditional updates, atomic
 * status transitions, the worker's flags, the queue head, paged lists with a metadata filter,
 * counts by status (of one project or all) and the lookup of a fine-tuned model's job. A conditional write (transition,
 * update_if) is a single UPDATE, so of two racing writers exactly one wins. Metadata is kept as
 * JSON object text and only looked into (SQLite's JSON1, PostgreSQL's jsonb) when a list is filtered; this file
 * does not validate it. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

/* On PostgreSQL: metadata text as jsonb, NULL where it is not JSON (rows are written by callers
 * that validate it, but the store does not rely on that). */
static const char PG_JSONB_FUNCTION[] =
    "CREATE OR REPLACE FUNCTION ftune_jsonb(t TEXT) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $f$ "
    "BEGIN RETURN t::jsonb; EXCEPTION WHEN others THEN RETURN NULL; END $f$";

int store_jobs_schema(Store *s, Err *err) {
    if (db_kind(s->db) != DB_POSTGRES) return 0;
    return store_exec(s, PG_JSONB_FUNCTION, "create ftune_jsonb", err);
}

/* The condition "the job's metadata has key ? with value ?", the one place the dialects' JSON
 * differs. SQLite: json_each compares decoded keys (SQLite 3.40's json_extract paths cannot name
 * a key that holds '"' and compare the key's raw escaped text). PostgreSQL: jsonb_each_text of
 * an object. */
static const char *metadata_pair_sql(Store *s) {
    if (db_kind(s->db) == DB_POSTGRES)
        return " AND EXISTS (SELECT 1 FROM jsonb_each_text(CASE WHEN jsonb_typeof(ftune_jsonb(jobs.metadata)) = "
               "'object' THEN ftune_jsonb(jobs.metadata) END) WHERE key = ? AND value = ?)";
    return " AND EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(jobs.metadata) THEN "
           "jobs.metadata END) WHERE key = ? AND value = ?)";
}

/* Column order shared by every SELECT (read_job) and by INSERT/UPDATE parameters (bind_job). */
#define JOB_COLS                                                                                      \
    "id, created_at, model, training_file, validation_file, suffix, seed, status, n_epochs, "        \
    "batch_size, lr_multiplier, metadata, fine_tuned_model, finished_at, trained_tokens, "           \
    "estimated_finish, result_file, error_code, error_param, error_message, step, total_steps, "     \
    "model_deleted, base_model, parent_model, name_base, method, beta, worker, resume_dir"
/* What SELECTs read: JOB_COLS, the project (column 30), which only an INSERT writes, and the lease
 * (column 31), which only store_workers.c writes. */
#define JOB_READ_COLS JOB_COLS ", project, lease_expires_at"

static void read_job(DbStmt *st, void *rec) {
    JobRecord *j = rec;
    store_col_text(st, 0, j->id, sizeof j->id);
    j->created_at = store_col_int(st, 1, 0);
    store_col_text(st, 2, j->model, sizeof j->model);
    store_col_text(st, 3, j->training_file, sizeof j->training_file);
    store_col_text(st, 4, j->validation_file, sizeof j->validation_file);
    store_col_text(st, 5, j->suffix, sizeof j->suffix);
    j->seed = store_col_int(st, 6, 0);
    store_col_text(st, 7, j->status, sizeof j->status);
    store_col_text(st, 8, j->n_epochs, sizeof j->n_epochs);
    store_col_text(st, 9, j->batch_size, sizeof j->batch_size);
    store_col_text(st, 10, j->lr_multiplier, sizeof j->lr_multiplier);
    store_col_text(st, 11, j->metadata, sizeof j->metadata);
    store_col_text(st, 12, j->fine_tuned_model, sizeof j->fine_tuned_model);
    j->finished_at = store_col_int(st, 13, 0);
    j->trained_tokens = store_col_int(st, 14, -1);
    j->estimated_finish = store_col_int(st, 15, 0);
    store_col_text(st, 16, j->result_file, sizeof j->result_file);
    store_col_text(st, 17, j->error_code, sizeof j->error_code);
    store_col_text(st, 18, j->error_param, sizeof j->error_param);
    store_col_text(st, 19, j->error_message, sizeof j->error_message);
    j->step = store_col_int(st, 20, 0);
    j->total_steps = store_col_int(st, 21, 0);
    j->model_deleted = store_col_int(st, 22, 0) != 0;
    store_col_text(st, 23, j->base_model, sizeof j->base_model);
    store_col_text(st, 24, j->parent_model, sizeof j->parent_model);
    store_col_text(st, 25, j->name_base, sizeof j->name_base);
    store_col_text(st, 26, j->method, sizeof j->method);
    if (!j->method[0]) snprintf(j->method, sizeof j->method, "supervised"); /* rows before schema 5 */
    store_col_text(st, 27, j->beta, sizeof j->beta);
    store_col_text(st, 28, j->worker, sizeof j->worker);
    store_col_text(st, 29, j->resume_dir, sizeof j->resume_dir);
    store_col_text(st, 30, j->project, sizeof j->project);
    j->lease_expires_at = store_col_int(st, 31, 0);
}

/* Binds ?1..?30 in JOB_COLS order; the records' "" / 0 / -1 "null" values become SQL NULL. */
static void bind_job(DbStmt *st, const JobRecord *j) {
    store_bind_text(st, 1, j->id);
    db_bind_int64(st, 2, j->created_at);
    store_bind_text(st, 3, j->model);
    store_bind_text(st, 4, j->training_file);
    store_bind_opt_text(st, 5, j->validation_file);
    store_bind_opt_text(st, 6, j->suffix);
    db_bind_int64(st, 7, j->seed);
    store_bind_text(st, 8, j->status);
    store_bind_opt_text(st, 9, j->n_epochs);
    store_bind_opt_text(st, 10, j->batch_size);
    store_bind_opt_text(st, 11, j->lr_multiplier);
    store_bind_opt_text(st, 12, j->metadata);
    store_bind_opt_text(st, 13, j->fine_tuned_model);
    store_bind_opt_int(st, 14, j->finished_at, 0);
    store_bind_opt_int(st, 15, j->trained_tokens, -1);
    store_bind_opt_int(st, 16, j->estimated_finish, 0);
    store_bind_opt_text(st, 17, j->result_file);
    store_bind_opt_text(st, 18, j->error_code);
    store_bind_opt_text(st, 19, j->error_param);
    store_bind_opt_text(st, 20, j->error_message);
    db_bind_int64(st, 21, j->step);
    db_bind_int64(st, 22, j->total_steps);
    db_bind_int64(st, 23, j->model_deleted);
    store_bind_opt_text(st, 24, j->base_model);
    store_bind_opt_text(st, 25, j->parent_model);
    store_bind_opt_text(st, 26, j->name_base);
    store_bind_opt_text(st, 27, j->method);
    store_bind_opt_text(st, 28, j->beta);
    store_bind_opt_text(st, 29, j->worker);
    store_bind_opt_text(st, 30, j->resume_dir);
}

/* Prepares sql, binds ?1 = text and runs it as a one-row query into out. */
static int get_job_where(Store *s, const char *sql, const char *text, JobRecord *out, const char *what, Err *err) {
    DbStmt *st;
    if (store_prepare(s, sql, &st, what, err)) return -1;
    store_bind_text(st, 1, text);
    return store_get_one(s, st, read_job, out, what, err);
}

/* UPDATE of every column but id (?1); store_job_update_if adds a condition on the status. */
#define JOB_UPDATE                                                                                    \
    "UPDATE jobs SET created_at = ?2, model = ?3, training_file = ?4, validation_file = ?5, "        \
    "suffix = ?6, seed = ?7, status = ?8, n_epochs = ?9, batch_size = ?10, lr_multiplier = ?11, "    \
    "metadata = ?12, fine_tuned_model = ?13, finished_at = ?14, trained_tokens = ?15, "              \
    "estimated_finish = ?16, result_file = ?17, error_code = ?18, error_param = ?19, "               \
    "error_message = ?20, step = ?21, total_steps = ?22, model_deleted = ?23, base_model = ?24, "       \
    "parent_model = ?25, name_base = ?26, method = ?27, beta = ?28, worker = ?29, resume_dir = ?30 WHERE id = ?1"

/* Prepares sql, binds the job's columns (and ?31 = status when non-NULL) and runs it; with
 * must_exist, STORE_NOT_FOUND when no row changed. */
static int write_job(Store *s, const char *sql, const JobRecord *job, const char *status, bool must_exist,
                     const char *what, Err *err) {
    DbStmt *st;
    if (store_prepare(s, sql, &st, what, err)) return -1;
    bind_job(st, job);
    if (status) store_bind_text(st, 31, status);
    return must_exist ? store_run_one(s, st, what, err) : store_run(s, st, what, err);
}

int store_job_create(Store *s, const JobRecord *job, Err *err) {
    if (!job->project[0]) return err_set(err, ERR_ARG, "%s: job %s: a new job needs a project", s->db_path, job->id);
    /* ?31 is the project here (write_job binds it where updates bind a status) */
    int rc = write_job(s,
                       "INSERT INTO jobs (" JOB_COLS ", project) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                       "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, "
                       "?30, ?31)",
                       job, job->project, false, "insert job", err);
    if (rc == 0) db_notify(s->db, STORE_JOBS_CHANNEL); /* a wake-up lost is made up by the workers' polls */
    return rc;
}

int store_job_get(Store *s, const char *id, JobRecord *out, Err *err) {
    return get_job_where(s, "SELECT " JOB_READ_COLS " FROM jobs WHERE id = ?1", id, out, "get job", err);
}

int store_job_update(Store *s, const JobRecord *job, Err *err) {
    return write_job(s, JOB_UPDATE, job, NULL, true, "update job", err);
}

static void read_status(DbStmt *st, void *rec) { store_col_text(st, 0, rec, STORE_ID_MAX); }

/* After a conditional write changed nothing: STORE_NOT_FOUND when job id is gone, else
 * STORE_CONFLICT with its status in current (if non-NULL). */
static int job_not_written(Store *s, const char *id, char current[STORE_ID_MAX], Err *err) {
    char status[STORE_ID_MAX];
    DbStmt *st;
    if (store_prepare(s, "SELECT status FROM jobs WHERE id = ?1", &st, "get job status", err)) return -1;
    store_bind_text(st, 1, id);
    int rc = store_get_one(s, st, read_status, status, "get job status", err);
    if (rc) return rc;
    if (current) memcpy(current, status, STORE_ID_MAX);
    return STORE_CONFLICT;
}

int store_job_update_if(Store *s, const JobRecord *job, const char *status, Err *err) {
    int rc = write_job(s, JOB_UPDATE " AND status = ?31 AND COALESCE(worker, '') = COALESCE(?29, '')", job, status,
                       true, "update job", err);
    return rc == STORE_NOT_FOUND ? job_not_written(s, job->id, NULL, err) : rc;
}

int store_job_transition(Store *s, const char *id, const char *const *from, int n_from, const char *to,
                         char current[STORE_ID_MAX], Err *err) {
    if (n_from < 0 || n_from > STORE_STATUSES_MAX)
        return err_set(err, ERR_ARG, "%s: job %s: %d statuses to move from (at most %d)", s->db_path, id, n_from,
                       STORE_STATUSES_MAX);
    SqlBuf b = {.len = 0};
    sqlbuf_add(&b, "UPDATE jobs SET status = ?1 WHERE id = ?2 AND status IN (");
    for (int i = 0; i < n_from; i++) sqlbuf_add(&b, i ? ", ?" : "?"); /* ?3, ?4, ... */
    sqlbuf_add(&b, ")");
    DbStmt *st;
    if (store_prepare_buf(s, &b, &st, "move job", err)) return -1;
    store_bind_text(st, 1, to);
    store_bind_text(st, 2, id);
    for (int i = 0; i < n_from; i++) store_bind_text(st, 3 + i, from[i]);
    int rc = store_run_one(s, st, "move job", err);
    if (rc == 0) db_notify(s->db, STORE_JOBS_CHANNEL); /* queued, cancelled, paused: the workers look */
    return rc == STORE_NOT_FOUND ? job_not_written(s, id, current, err) : rc;
}

int store_job_oldest(Store *s, const char *status, JobRecord *out, Err *err) {
    return get_job_where(s, "SELECT " JOB_READ_COLS " FROM jobs WHERE status = ?1 ORDER BY seq ASC LIMIT 1", status, out,
                         "get oldest job", err);
}

int store_job_list(Store *s, const char *project, const char *after, int limit, const char *const *keys,
                   const char *const *values, int n_filter, bool metadata_null, JobRecord **out, int *n, bool *has_more,
                   Err *err) {
    *out = NULL;
    *n = 0;
    *has_more = false;
    if (n_filter < 0 || n_filter > STORE_FILTER_MAX)
        return err_set(err, ERR_ARG, "%s: list jobs: %d metadata filters (at most %d)", s->db_path, n_filter,
                       STORE_FILTER_MAX);
    long long after_seq = LLONG_MAX;
    if (after) {
        /* another project's job is an unknown cursor, as it is an unknown job */
        int rc = store_cursor(s, project ? "SELECT seq FROM jobs WHERE id = ?1 AND project = ?2" : "SELECT seq FROM jobs WHERE id = ?1",
                              after, project, &after_seq, NULL, err);
        if (rc) return rc;
    }
    SqlBuf b = {.len = 0};
    sqlbuf_add(&b, "SELECT " JOB_READ_COLS " FROM jobs WHERE seq < ?1");
    if (metadata_null) sqlbuf_add(&b, " AND (metadata IS NULL OR metadata = '')");
    sqlbuf_add(&b, " AND (?2 IS NULL OR project = ?2)"); /* always there: the filters' ? follow ?2 */
    for (int i = 0; i < n_filter; i++) sqlbuf_add(&b, metadata_pair_sql(s)); /* ?3, ?4, ... */
    sqlbuf_add(&b, " ORDER BY seq DESC");
    DbStmt *st;
    if (store_prepare_buf(s, &b, &st, "list jobs", err)) return -1;
    db_bind_int64(st, 1, after_seq);
    store_bind_text(st, 2, project);
    for (int i = 0; i < n_filter; i++) {
        store_bind_text(st, 3 + 2 * i, keys[i]);
        store_bind_text(st, 4 + 2 * i, values[i]);
    }
    void *items;
    if (store_collect(s, st, read_job, sizeof **out, store_clamp_limit(limit), &items, n, has_more, "list jobs", err))
        return -1;
    *out = items;
    return 0;
}

int store_job_count_by_status(Store *s, const char *project, const char *const *statuses, int n, long long *counts,
                              Err *err) {
    for (int i = 0; i < n; i++) counts[i] = 0;
    DbStmt *st;
    if (store_prepare(s, "SELECT status, count(*) FROM jobs WHERE ?1 IS NULL OR project = ?1 GROUP BY status", &st,
                      "count jobs", err))
        return -1;
    store_bind_text(st, 1, project);
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        const char *status = (const char *)db_column_text(st, 0);
        for (int i = 0; i < n; i++)
            if (status && strcmp(status, statuses[i]) == 0) counts[i] = db_column_int64(st, 1);
    }
    int ret = rc == DB_DONE ? 0 : store_sql_error(s, "count jobs", err);
    db_finalize(st);
    return ret;
}

int store_job_by_model(Store *s, const char *name, JobRecord *out, Err *err) {
    return get_job_where(s,
                         "SELECT " JOB_READ_COLS " FROM jobs WHERE fine_tuned_model = ?1 AND status = 'succeeded' "
                         "AND model_deleted = 0 ORDER BY seq DESC LIMIT 1",
                         name, out, "find job by model", err);
}
