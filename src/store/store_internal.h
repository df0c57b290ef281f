/* store_internal.h: what the store_*.c files share and nobody else sees: the Store handle and
 * small helpers over the database layer db.h (preparing, binding "" as NULL, copying columns into the
 * fixed-size record fields, paging cursors, collecting rows into a heap array). Values only ever
 * reach SQL as bound parameters; the SQL text is built from constant fragments only. */
#ifndef FTUNE_STORE_INTERNAL_H
#define FTUNE_STORE_INTERNAL_H

#include "db.h"
#include "store.h"

#define STORE_PATH_MAX 4096
#define STORE_SQL_MAX 16384         /* longest statement built from fragments */
#define STORE_FILTER_MAX 64         /* metadata pairs in one job list filter */
#define STORE_STATUSES_MAX 64       /* statuses in one store_job_transition */
#define STORE_ID_RANDOM_LEN 24      /* random characters after an id's prefix */

struct Store {
    Db *db;
    char dir[STORE_PATH_MAX];     /* the data directory */
    char files_dir[STORE_PATH_MAX]; /* <dir>/files: the blobs */
    char db_path[STORE_PATH_MAX]; /* <dir>/ftune.db, or the PostgreSQL URI without its password: for messages */
    DbError last_err;             /* what the last failure was */
    bool use_reserve;             /* a write that finds the disk full may spend the reserve (store_reserve_use) */
};

/* Installs SQLite's fault-injection hooks when FTUNE_FAULT is set (store_fault.c); once per
 * process, before the first connection. */
void store_fault_install(void);
/* Fills err with "<db_path>: <what>: <database message>" (ERR_IO); returns -1. */
int store_sql_error(Store *s, const char *what, Err *err);
/* Adds column name of type (constants, e.g. "TEXT") to table where it is missing, so that a
 * migration step can run whatever the recorded version said; on failure fills err naming what. */
int store_add_column(Store *s, const char *table, const char *name, const char *type, const char *what, Err *err);
/* Runs constant SQL (one or more statements, no parameters); on failure fills err naming what. */
int store_exec(Store *s, const char *sql, const char *what, Err *err);
/* Creates the projects and api_keys tables, the default project, and the project column of files
 * and jobs where it is missing (existing rows: the default project). Inside ensure_schema's
 * transaction. */
int store_projects_schema(Store *s, Err *err);
/* What the job list's metadata filter needs (store_jobs.c): on PostgreSQL a function that reads
 * text as JSON, NULL where it is not; nothing on SQLite (JSON1 is built in). Schema version 6. */
int store_jobs_schema(Store *s, Err *err);
/* Creates the responses table (store_responses.c; schema version 5). Inside ensure_schema's
 * transaction. */
int store_responses_schema(Store *s, Err *err);
/* Creates the evals, eval_runs and eval_items tables (store_evals.c; schema version 6). Inside
 * ensure_schema's transaction. */
int store_evals_schema(Store *s, Err *err);
/* Creates the vector store tables and their FTS5 index (store_vectors.c; schema version 7). Inside
 * ensure_schema's transaction. */
int store_vectors_schema(Store *s, Err *err);
/* Adds the jobs' worker, resume_dir and lease_expires_at columns and creates the workers table
 * (store_workers.c; schema version 8). Inside ensure_schema's transaction. */
int store_workers_schema(Store *s, Err *err);
/* Adds a store's expires_days, the file batches table and each file's batch_id (store_vectors.c;
 * schema version 9). Inside ensure_schema's transaction. */
int store_vectors_batches_schema(Store *s, Err *err);
/* Prepares sql on s; on failure fills err naming what. */
int store_prepare(Store *s, const char *sql, DbStmt **st, const char *what, Err *err);
/* Steps st once expecting no row (INSERT/UPDATE/DELETE) and finalizes it. */
int store_run(Store *s, DbStmt *st, const char *what, Err *err);
/* Like store_run, then STORE_NOT_FOUND when the statement changed no row. */
int store_run_one(Store *s, DbStmt *st, const char *what, Err *err);
/* Like store_run for a row that belongs to job_id (an event, a checkpoint): STORE_NOT_FOUND, with
 * err filled, when there is no such job. */
int store_run_child(Store *s, DbStmt *st, const char *job_id, const char *what, Err *err);

/* Text (NULL binds SQL NULL) and optional text ("" binds NULL too: the records' "" = null). */
void store_bind_text(DbStmt *st, int i, const char *v);
void store_bind_opt_text(DbStmt *st, int i, const char *v);
/* An integer, or SQL NULL when it equals null_value (the records' 0 or -1 = null). */
void store_bind_opt_int(DbStmt *st, int i, long long v, long long null_value);
/* Column i copied into dst (size bytes, NUL-terminated, cut at a UTF-8 boundary); NULL -> "". */
void store_col_text(DbStmt *st, int i, char *dst, size_t size);
/* Column i as a heap string (NULL -> ""; NULL only when out of memory): the caller frees it. */
char *store_col_heap_text(DbStmt *st, int i);
/* Column i as an integer; null_value when it is NULL. */
long long store_col_int(DbStmt *st, int i, long long null_value);
/* Copies src (NULL = "") into dst of size bytes, truncating at a UTF-8 boundary. */
void store_copy(char *dst, size_t size, const char *src);

/* Reads one record from the current row of a statement. */
typedef void (*StoreRowFn)(DbStmt *st, void *rec);
/* Steps st for at most one row into rec: 0, STORE_NOT_FOUND or -1. Finalizes st. */
int store_get_one(Store *s, DbStmt *st, StoreRowFn read, void *rec, const char *what, Err *err);
/* Steps st collecting up to limit records of rec_size bytes into a heap array (*out, caller frees),
 * then looks at one more row for *has_more. Finalizes st. */
int store_collect(Store *s, DbStmt *st, StoreRowFn read, size_t rec_size, int limit, void **out, int *n,
                  bool *has_more, const char *what, Err *err);
/* The paging keys of the item `id`: sql selects one or two integer columns, with ?1 = id and, when
 * job_id is non-NULL, ?2 = job_id. STORE_NOT_FOUND when there is no such item. */
int store_cursor(Store *s, const char *sql, const char *id, const char *job_id, long long *key0, long long *key1,
                 Err *err);
/* A path under the data directory as recorded (relative to it: valid whatever the server's
 * working directory) and back as used (the data directory joined in front; absolute paths stay as
 * they are). */
void store_path_relative(const Store *s, const char *path, char *out, size_t size);
void store_path_absolute(const Store *s, const char *path, char *out, size_t size);
/* Unix seconds now. */
long long store_now(void);
/* limit clamped to 1..STORE_LIST_MAX. */
int store_clamp_limit(int limit);

/* A statement assembled from constant SQL fragments (never values). */
typedef struct {
    char sql[STORE_SQL_MAX];
    size_t len;
    bool overflow;
} SqlBuf;
void sqlbuf_add(SqlBuf *b, const char *fragment);
/* store_prepare of b's statement (an error if it overflowed). */
int store_prepare_buf(Store *s, const SqlBuf *b, DbStmt **st, const char *what, Err *err);

#endif
