/* store.c: opening the data directory and the database (ftune.db in it through db_sqlite.c, or
 * PostgreSQL through db_pg.c; schema version 9 either way: a new database gets it in one
 * transaction), random ids, and the statement helpers the per-resource files share (store_files.c,
 * store_jobs.c, store_events.c, store_aliases.c, store_projects.c, ...). Version 1
 * databases are migrated (checkpoint directories recorded relative to the data directory), version
 * 1 and 2 ones get the jobs' base_model, parent_model and name_base columns (version 3), and
 * version 1 to 3 ones the projects and keys tables and a project column on files and jobs, their
 * rows in the default project (version 4: store_projects_schema), and version 1 to 4 ones the
 * jobs' method and beta columns (DPO) and the responses table (version 5: store_responses_schema),
 * and version 1 to 5 ones the Evals API's tables (version 6: store_evals_schema), and version 1 to 6
 * ones the vector store tables (version 7: store_vectors_schema), and version 1 to 7 ones the workers
 * table and the jobs' worker, lease and resume columns (version 8: store_workers_schema), and
 * version 1 to 8 ones vector store expiry and file batches (version 9: store_vectors_batches_schema);
 * a database newer than this build is refused. Those migrations are SQLite's: PostgreSQL support
 * began at 6. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/fault.h"
#include "../core/fileio.h"
#include "store_internal.h"

#define STORE_SCHEMA_VERSION 9

/* Constant DDL: each resource has a seq rowid (stable order, even within one second) and a
 * unique text id. Optional values are NULL in the database and "" / 0 / -1 in the records. */
static const char SCHEMA_SQL[] =
    "CREATE TABLE IF NOT EXISTS files ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " bytes INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " filename TEXT NOT NULL,"
    " purpose TEXT NOT NULL,"
    " expires_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS files_purpose ON files(purpose);"
    "CREATE TABLE IF NOT EXISTS jobs ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL,"
    " model TEXT NOT NULL,"
    " training_file TEXT NOT NULL,"
    " validation_file TEXT,"
    " suffix TEXT,"
    " seed INTEGER NOT NULL,"
    " status TEXT NOT NULL,"
    " n_epochs TEXT, batch_size TEXT, lr_multiplier TEXT,"
    " metadata TEXT,"
    " fine_tuned_model TEXT,"
    " finished_at INTEGER, trained_tokens INTEGER, estimated_finish INTEGER,"
    " result_file TEXT, error_code TEXT, error_param TEXT, error_message TEXT,"
    " step INTEGER NOT NULL DEFAULT 0, total_steps INTEGER NOT NULL DEFAULT 0,"
    " model_deleted INTEGER NOT NULL DEFAULT 0,"
    " base_model TEXT, parent_model TEXT, name_base TEXT,"
    " method TEXT, beta TEXT);"
    "CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);"
    "CREATE INDEX IF NOT EXISTS jobs_fine_tuned_model ON jobs(fine_tuned_model);"
    "CREATE TABLE IF NOT EXISTS events ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
    " created_at INTEGER NOT NULL,"
    " level TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " message TEXT NOT NULL,"
    " data TEXT);"
    "CREATE INDEX IF NOT EXISTS events_job ON events(job_id);"
    "CREATE TABLE IF NOT EXISTS checkpoints ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
    " created_at INTEGER NOT NULL,"
    " step INTEGER NOT NULL,"
    " model TEXT NOT NULL,"
    " metrics TEXT,"
    " dir TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS checkpoints_job ON checkpoints(job_id, step);"
    "CREATE INDEX IF NOT EXISTS checkpoints_model ON checkpoints(model);"
    /* model aliases (store_aliases.c), schema version 3 */
    "CREATE TABLE IF NOT EXISTS aliases ("
    " name TEXT PRIMARY KEY,"
    " target TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);";

/* Version 1 recorded a checkpoint's directory as the server was given it (absolute, or relative to
 * the working directory it was started from); version 2 records it relative to the data
 * directory. Every checkpoint directory is jobs/<job id>/checkpoint-<step> (trainer.c). */
static const char MIGRATE_1_TO_2_SQL[] =
    "UPDATE checkpoints SET dir = 'jobs/' || job_id || '/checkpoint-' || step;";

/* Version 3 records, per job, the local base model it trains on, the model it continues (NULL: a
 * new adapter) and the name its ft: model starts with; before it, a job's model was always a base
 * model id, which is all three. The aliases table is made by SCHEMA_SQL. */
static const char *const MIGRATE_2_TO_3_COLUMNS[] = {"base_model", "parent_model", "name_base"};
static const char MIGRATE_2_TO_3_SQL[] =
    "UPDATE jobs SET base_model = model, name_base = model WHERE base_model IS NULL;";

/* Version 5 records a job's training method and DPO's beta; NULL (every job before it) reads as
 * supervised. */
static const char *const MIGRATE_4_TO_5_COLUMNS[] = {"method", "beta"};

/* ---- statement helpers ---- */

int store_sql_error(Store *s, const char *what, Err *err) {
    s->last_err = db_error(s->db);
    return err_set(err, ERR_IO, "%s: %s: %s", s->db_path, what, db_errmsg(s->db));
}

int store_prepare(Store *s, const char *sql, DbStmt **st, const char *what, Err *err) {
    *st = NULL;
    if (db_prepare(s->db, sql, st)) return store_sql_error(s, what, err);
    return 0;
}

int store_run(Store *s, DbStmt *st, const char *what, Err *err) {
    int rc = db_step(st);
    if (rc == DB_FAIL && db_error(s->db) == DB_FULL && s->use_reserve && store_reserve_release(s->dir)) {
        fprintf(stderr, "ftune: %s: the disk is full: released the reserve (%s/%s) to %s\n", s->db_path, s->dir,
                STORE_RESERVE_FILE, what);
        db_reset(st);
        rc = db_step(st);
    }
    int ret = rc != DB_FAIL ? 0 : store_sql_error(s, what, err);
    db_finalize(st);
    return ret;
}

int store_run_one(Store *s, DbStmt *st, const char *what, Err *err) {
    if (store_run(s, st, what, err)) return -1;
    return db_changes(s->db) > 0 ? 0 : STORE_NOT_FOUND;
}

int store_run_child(Store *s, DbStmt *st, const char *job_id, const char *what, Err *err) {
    if (store_run(s, st, what, err) == 0) return 0;
    if (s->last_err != DB_FOREIGN_KEY) return -1;
    err_set(err, ERR_ARG, "%s: %s: no such job %s", s->db_path, what, job_id);
    return STORE_NOT_FOUND;
}

void store_bind_text(DbStmt *st, int i, const char *v) { db_bind_text(st, i, v); }

void store_bind_opt_text(DbStmt *st, int i, const char *v) { store_bind_text(st, i, v && *v ? v : NULL); }

void store_bind_opt_int(DbStmt *st, int i, long long v, long long null_value) {
    if (v == null_value)
        db_bind_null_int(st, i);
    else
        db_bind_int64(st, i, v);
}

void store_copy(char *dst, size_t size, const char *src) {
    if (size == 0) return;
    if (!src) src = "";
    size_t n = strnlen(src, size);
    if (n == size) { /* too long: cut, without splitting a UTF-8 sequence */
        n = size - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--;
    }
    memcpy(dst, src, n);
    dst[n] = 0;
}

void store_col_text(DbStmt *st, int i, char *dst, size_t size) { store_copy(dst, size, db_column_text(st, i)); }

char *store_col_heap_text(DbStmt *st, int i) {
    const char *t = db_column_text(st, i);
    return strdup(t ? t : "");
}

long long store_col_int(DbStmt *st, int i, long long null_value) {
    return db_column_is_null(st, i) ? null_value : db_column_int64(st, i);
}

int store_get_one(Store *s, DbStmt *st, StoreRowFn read, void *rec, const char *what, Err *err) {
    int rc = db_step(st), ret;
    if (rc == DB_ROW) {
        read(st, rec);
        ret = 0;
    } else if (rc == DB_DONE) {
        ret = STORE_NOT_FOUND;
    } else {
        ret = store_sql_error(s, what, err);
    }
    db_finalize(st);
    return ret;
}

int store_collect(Store *s, DbStmt *st, StoreRowFn read, size_t rec_size, int limit, void **out, int *n,
                  bool *has_more, const char *what, Err *err) {
    char *items = NULL;
    int count = 0, cap = 0, rc;
    *has_more = false;
    while ((rc = db_step(st)) == DB_ROW) {
        if (count == limit) {
            *has_more = true;
            rc = DB_DONE;
            break;
        }
        if (count == cap) {
            int grown = cap ? cap * 2 : 16;
            if (grown > limit) grown = limit;
            char *p = fault_realloc(items, (size_t)grown * rec_size);
            if (!p) {
                free(items);
                db_finalize(st);
                return err_set(err, ERR_NOMEM, "%s: %s: out of memory for %d rows", s->db_path, what, grown);
            }
            items = p;
            cap = grown;
        }
        read(st, items + (size_t)count * rec_size);
        count++;
    }
    if (rc != DB_DONE) {
        free(items);
        store_sql_error(s, what, err);
        db_finalize(st);
        return -1;
    }
    db_finalize(st);
    *out = items;
    *n = count;
    return 0;
}

static void read_keys(DbStmt *st, void *rec) {
    long long *keys = rec;
    keys[0] = db_column_int64(st, 0);
    keys[1] = db_column_count(st) > 1 ? db_column_int64(st, 1) : 0;
}

int store_cursor(Store *s, const char *sql, const char *id, const char *job_id, long long *key0, long long *key1,
                 Err *err) {
    DbStmt *st;
    if (store_prepare(s, sql, &st, "find page cursor", err)) return -1;
    store_bind_text(st, 1, id);
    if (job_id) store_bind_text(st, 2, job_id);
    long long keys[2] = {0, 0};
    int rc = store_get_one(s, st, read_keys, keys, "find page cursor", err);
    if (rc == STORE_NOT_FOUND) err_set(err, ERR_ARG, "%s: no item %s to list after", s->db_path, id);
    *key0 = keys[0];
    if (key1) *key1 = keys[1];
    return rc;
}

int store_clamp_limit(int limit) { return limit < 1 ? 1 : limit > STORE_LIST_MAX ? STORE_LIST_MAX : limit; }

void sqlbuf_add(SqlBuf *b, const char *fragment) {
    size_t n = strlen(fragment);
    if (b->overflow || b->len + n >= sizeof b->sql) {
        b->overflow = true;
        return;
    }
    memcpy(b->sql + b->len, fragment, n + 1);
    b->len += n;
}

int store_prepare_buf(Store *s, const SqlBuf *b, DbStmt **st, const char *what, Err *err) {
    *st = NULL;
    if (b->overflow) return err_set(err, ERR_ARG, "%s: %s: statement too long", s->db_path, what);
    return store_prepare(s, b->sql, st, what, err);
}

long long store_now(void) { return (long long)time(NULL); }

void store_path_relative(const Store *s, const char *path, char *out, size_t size) {
    size_t n = strlen(s->dir);
    if (strncmp(path, s->dir, n) == 0 && path[n] == '/') path += n + 1;
    store_copy(out, size, path);
}

void store_path_absolute(const Store *s, const char *path, char *out, size_t size) {
    if (path[0] == '/' || !path[0]) store_copy(out, size, path);
    else if (snprintf(out, size, "%s/%s", s->dir, path) >= (int)size && size) out[0] = 0; /* never a cut path */
}

/* ---- ids ---- */

static void random_bytes(unsigned char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            abort(); /* no system random source: ids could repeat, which must never happen */
        }
        got += (size_t)r;
    }
}

void store_random_alnum(char *out, size_t n) {
    static const char ALNUM[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char buf[64];
    size_t i = 0;
    while (i < n) {
        random_bytes(buf, sizeof buf);
        /* 248 = 4 * 62: bytes below it map onto the 62 characters evenly; the rest are dropped */
        for (size_t k = 0; k < sizeof buf && i < n; k++)
            if (buf[k] < 248) out[i++] = ALNUM[buf[k] % 62];
    }
    out[n] = 0;
}

uint64_t store_random_u64(void) {
    uint64_t v;
    random_bytes((unsigned char *)&v, sizeof v);
    return v;
}

void store_new_id(const char *prefix, char *out, size_t size) {
    if (size == 0) return;
    size_t p = strlen(prefix);
    if (p > size - 1) p = size - 1;
    memcpy(out, prefix, p);
    size_t n = STORE_ID_RANDOM_LEN;
    if (p + n > size - 1) n = size - 1 - p;
    store_random_alnum(out + p, n);
}

/* ---- open / close ---- */

int store_exec(Store *s, const char *sql, const char *what, Err *err) {
    if (db_exec(s->db, sql)) return store_sql_error(s, what, err);
    return 0;
}

int store_add_column(Store *s, const char *table, const char *name, const char *type, const char *what, Err *err) {
    bool has = false;
    if (db_has_column(s->db, table, name, &has)) return store_sql_error(s, "read columns", err);
    if (has) return 0;
    char sql[256]; /* table, name and type are the callers' constants */
    snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", table, name, type);
    return store_exec(s, sql, what, err);
}

/* Adds the TEXT columns cols[0..n) to jobs where missing. */
static int add_job_columns(Store *s, const char *const *cols, size_t n, const char *what, Err *err) {
    for (size_t i = 0; i < n; i++)
        if (store_add_column(s, "jobs", cols[i], "TEXT", what, err)) return -1;
    return 0;
}

/* Adds version 3's job columns and fills them for the jobs written before. */
static int migrate_2_to_3(Store *s, Err *err) {
    if (add_job_columns(s, MIGRATE_2_TO_3_COLUMNS, sizeof MIGRATE_2_TO_3_COLUMNS / sizeof MIGRATE_2_TO_3_COLUMNS[0],
                        "migrate schema 2 to 3", err))
        return -1;
    return store_exec(s, MIGRATE_2_TO_3_SQL, "migrate schema 2 to 3", err);
}

/* Creates the schema or checks its version, in one write transaction that other first opens wait
 * for (db_begin_schema), so that two processes opening a new database at once do not race. A new
 * database (SQLite or PostgreSQL) gets version 6 in one step; the migrations from 1..5 are for
 * SQLite databases written by older builds. */
static int ensure_schema(Store *s, Err *err) {
    if (db_begin_schema(s->db)) return store_sql_error(s, "begin schema transaction", err);
    long v = 0;
    int rc = db_schema_version(s->db, &v) ? store_sql_error(s, "read schema version", err) : 0;
    if (rc == 0 && v > STORE_SCHEMA_VERSION)
        rc = err_set(err, ERR_UNSUPPORTED, "%s: schema version %ld is newer than this build's (%d)", s->db_path, v,
                     STORE_SCHEMA_VERSION);
    /* the jobs table of an older database lacks version 3's columns: added before SCHEMA_SQL,
     * whose CREATE TABLE IF NOT EXISTS leaves an existing table as it is */
    if (rc == 0 && v >= 1 && v < 3) rc = migrate_2_to_3(s, err);
    if (rc == 0 && v >= 1 && v < 5)
        rc = add_job_columns(s, MIGRATE_4_TO_5_COLUMNS, sizeof MIGRATE_4_TO_5_COLUMNS / sizeof MIGRATE_4_TO_5_COLUMNS[0],
                             "migrate schema 4 to 5", err);
    /* an open of a current database writes nothing, so that a server restarts on a full disk */
    if (rc == 0 && v < STORE_SCHEMA_VERSION) rc = store_exec(s, SCHEMA_SQL, "create schema", err);
    if (rc == 0 && v == 1) rc = store_exec(s, MIGRATE_1_TO_2_SQL, "migrate schema 1 to 2", err);
    if (rc == 0 && v < 4) rc = store_projects_schema(s, err);  /* version 4: projects and keys */
    if (rc == 0 && v < 5) rc = store_responses_schema(s, err); /* version 5: stored responses */
    if (rc == 0 && v < 6) rc = store_evals_schema(s, err);     /* version 6: the Evals API */
    if (rc == 0 && v < 6) rc = store_jobs_schema(s, err);
    if (rc == 0 && v < 7) rc = store_vectors_schema(s, err);   /* version 7: vector stores */
    if (rc == 0 && v < 8) rc = store_workers_schema(s, err);   /* version 8: workers and job leases */
    if (rc == 0 && v < 9) rc = store_vectors_batches_schema(s, err); /* version 9: expiry, file batches */
    if (rc == 0 && v < STORE_SCHEMA_VERSION && db_set_schema_version(s->db, STORE_SCHEMA_VERSION))
        rc = store_sql_error(s, "set schema version", err);
    if (rc == 0) return store_exec(s, "COMMIT", "commit schema", err);
    db_rollback(s->db);
    return -1;
}

#define STORE_OPEN_RETRIES 100 /* 20 ms apart: 2 s */

/* database without its password (postgresql://user:secret@host/db -> postgresql://user@host/db;
 * ?password=secret -> ?password=***), for messages. */
static void display_url(const char *database, char *out, size_t size) {
    const char *scheme = strstr(database, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (colon) snprintf(out, size, "%.*s%s", (int)(colon - database), database, at);
    else snprintf(out, size, "%s", database);
    char *pw = strstr(out, "password=");
    if (pw) {
        pw += strlen("password=");
        char *end = pw + strcspn(pw, "&");
        char rest[STORE_PATH_MAX];
        snprintf(rest, sizeof rest, "%s", end);
        snprintf(pw, size - (size_t)(pw - out), "***%s", rest);
    }
}

static int connect_db(Store *s, const char *database, Err *err) {
    if (database) return db_open_postgres(database, s->db_path, &s->db, err);
    return db_open_sqlite(s->db_path, STORE_BUSY_TIMEOUT_MS, &s->db, err);
}

int store_open(const char *data_dir, const char *database, Store **out, Err *err) {
    *out = NULL;
    if (database && !*database) database = NULL;
    if (database && !db_is_postgres_url(database))
        return err_set(err, ERR_ARG, "--database \"%s\": not a postgresql:// or postgres:// URI", database);
    store_fault_install();
    Store *s = fault_calloc(1, sizeof *s);
    if (!s) return err_set(err, ERR_NOMEM, "%s: out of memory", data_dir);
    /* room for "/files/<id>.tmp" after the directory */
    if (!*data_dir || strlen(data_dir) + sizeof "/files/.tmp" + STORE_ID_MAX > STORE_PATH_MAX ||
        snprintf(s->dir, sizeof s->dir, "%s", data_dir) >= (int)sizeof s->dir ||
        snprintf(s->db_path, sizeof s->db_path, "%s/ftune.db", data_dir) >= (int)sizeof s->db_path ||
        snprintf(s->files_dir, sizeof s->files_dir, "%s/files", data_dir) >= (int)sizeof s->files_dir) {
        free(s);
        return err_set(err, ERR_ARG, "data directory \"%s\": empty or too long", data_dir);
    }
    if (database) display_url(database, s->db_path, sizeof s->db_path);
    if (file_make_dirs(s->dir, 0700, err) || file_make_dirs(s->files_dir, 0700, err)) { /* uploads are private */
        store_close(s);
        return -1;
    }
    /* A schema transaction that finds the database locked past the busy timeout (a new SQLite
     * database being switched to WAL by another connection) is tried again on a new connection. */
    for (int attempt = 0;; attempt++) {
        if (connect_db(s, database, err)) {
            store_close(s);
            return -1;
        }
        if (!ensure_schema(s, err)) break;
        DbError e = db_error(s->db);
        db_close(s->db);
        s->db = NULL;
        if (e != DB_BUSY || attempt >= STORE_OPEN_RETRIES) {
            store_close(s);
            return -1;
        }
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    *out = s;
    return 0;
}

bool store_is_database_url(const char *database) { return db_is_postgres_url(database); }

void store_close(Store *s) {
    if (!s) return;
    db_close(s->db);
    free(s);
}

const char *store_data_dir(const Store *s) { return s->dir; }
