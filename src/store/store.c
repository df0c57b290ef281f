/* store.c: opening the data directory and ftune.db (WAL, synchronous=FULL, foreign keys, busy
 * timeout, schema version 6), random ids, and the SQLite helpers the per-resource files share
 * (store_files.c, store_jobs.c, store_events.c, store_aliases.c, store_projects.c). Version 1
 * databases are migrated (checkpoint directories recorded relative to the data directory), version
 * 1 and 2 ones get the jobs' base_model, parent_model and name_base columns (version 3), and
 * version 1 to 3 ones the projects and keys tables and a project column on files and jobs, their
 * rows in the default project (version 4: store_projects_schema), and version 1 to 4 ones the
 * jobs' method and beta columns (DPO) and the responses table (version 5: store_responses_schema),
 * and version 1 to 5 ones the Evals API's tables (version 6: store_evals_schema); a database newer
 * than this build is refused. */
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

#define STORE_SCHEMA_VERSION 6
#define STORE_STR_(x) #x
#define STORE_STR(x) STORE_STR_(x)

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

/* ---- SQLite helpers ---- */

int store_sql_error(Store *s, const char *what, Err *err) {
    s->last_err = sqlite3_extended_errcode(s->db);
    return err_set(err, ERR_IO, "%s: %s: %s", s->db_path, what, sqlite3_errmsg(s->db));
}

int store_prepare(Store *s, const char *sql, sqlite3_stmt **st, const char *what, Err *err) {
    *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) return store_sql_error(s, what, err);
    return 0;
}

int store_run(Store *s, sqlite3_stmt *st, const char *what, Err *err) {
    int rc = sqlite3_step(st);
    if ((rc & 0xff) == SQLITE_FULL && s->use_reserve && store_reserve_release(s->dir)) {
        fprintf(stderr, "ftune: %s: the disk is full: released the reserve (%s/%s) to %s\n", s->db_path, s->dir,
                STORE_RESERVE_FILE, what);
        sqlite3_reset(st);
        rc = sqlite3_step(st);
    }
    int ret = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : store_sql_error(s, what, err);
    sqlite3_finalize(st);
    return ret;
}

int store_run_one(Store *s, sqlite3_stmt *st, const char *what, Err *err) {
    if (store_run(s, st, what, err)) return -1;
    return sqlite3_changes(s->db) > 0 ? 0 : STORE_NOT_FOUND;
}

int store_run_child(Store *s, sqlite3_stmt *st, const char *job_id, const char *what, Err *err) {
    if (store_run(s, st, what, err) == 0) return 0;
    if (s->last_err != SQLITE_CONSTRAINT_FOREIGNKEY) return -1;
    err_set(err, ERR_ARG, "%s: %s: no such job %s", s->db_path, what, job_id);
    return STORE_NOT_FOUND;
}

void store_bind_text(sqlite3_stmt *st, int i, const char *v) {
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

void store_bind_opt_text(sqlite3_stmt *st, int i, const char *v) { store_bind_text(st, i, v && *v ? v : NULL); }

void store_bind_opt_int(sqlite3_stmt *st, int i, long long v, long long null_value) {
    if (v == null_value)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int64(st, i, v);
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

void store_col_text(sqlite3_stmt *st, int i, char *dst, size_t size) {
    store_copy(dst, size, (const char *)sqlite3_column_text(st, i));
}

long long store_col_int(sqlite3_stmt *st, int i, long long null_value) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? null_value : sqlite3_column_int64(st, i);
}

int store_get_one(Store *s, sqlite3_stmt *st, StoreRowFn read, void *rec, const char *what, Err *err) {
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW) {
        read(st, rec);
        ret = 0;
    } else if (rc == SQLITE_DONE) {
        ret = STORE_NOT_FOUND;
    } else {
        ret = store_sql_error(s, what, err);
    }
    sqlite3_finalize(st);
    return ret;
}

int store_collect(Store *s, sqlite3_stmt *st, StoreRowFn read, size_t rec_size, int limit, void **out, int *n,
                  bool *has_more, const char *what, Err *err) {
    char *items = NULL;
    int count = 0, cap = 0, rc;
    *has_more = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == limit) {
            *has_more = true;
            rc = SQLITE_DONE;
            break;
        }
        if (count == cap) {
            int grown = cap ? cap * 2 : 16;
            if (grown > limit) grown = limit;
            char *p = fault_realloc(items, (size_t)grown * rec_size);
            if (!p) {
                free(items);
                sqlite3_finalize(st);
                return err_set(err, ERR_NOMEM, "%s: %s: out of memory for %d rows", s->db_path, what, grown);
            }
            items = p;
            cap = grown;
        }
        read(st, items + (size_t)count * rec_size);
        count++;
    }
    if (rc != SQLITE_DONE) {
        free(items);
        store_sql_error(s, what, err);
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    *out = items;
    *n = count;
    return 0;
}

static void read_keys(sqlite3_stmt *st, void *rec) {
    long long *keys = rec;
    keys[0] = sqlite3_column_int64(st, 0);
    keys[1] = sqlite3_column_count(st) > 1 ? sqlite3_column_int64(st, 1) : 0;
}

int store_cursor(Store *s, const char *sql, const char *id, const char *job_id, long long *key0, long long *key1,
                 Err *err) {
    sqlite3_stmt *st;
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

int store_prepare_buf(Store *s, const SqlBuf *b, sqlite3_stmt **st, const char *what, Err *err) {
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
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) return store_sql_error(s, what, err);
    return 0;
}

static int pragma_text(Store *s, const char *sql, char *out, size_t size, Err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, sql, &st, sql, err)) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) store_col_text(st, 0, out, size);
    int ret = rc == SQLITE_ROW ? 0 : store_sql_error(s, sql, err);
    sqlite3_finalize(st);
    return ret;
}

/* Adds the TEXT columns cols[0..n) to jobs where missing (each is added once, whatever the version
 * said). */
static int add_job_columns(Store *s, const char *const *cols, size_t n, const char *what, Err *err) {
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st;
        if (store_prepare(s, "SELECT 1 FROM pragma_table_info('jobs') WHERE name = ?1", &st, "read job columns", err))
            return -1;
        store_bind_text(st, 1, cols[i]);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc == SQLITE_ROW) continue;
        if (rc != SQLITE_DONE) return store_sql_error(s, "read job columns", err);
        char sql[128]; /* the column names are the constants above */
        snprintf(sql, sizeof sql, "ALTER TABLE jobs ADD COLUMN %s TEXT", cols[i]);
        if (store_exec(s, sql, what, err)) return -1;
    }
    return 0;
}

/* Adds version 3's job columns and fills them for the jobs written before. */
static int migrate_2_to_3(Store *s, Err *err) {
    if (add_job_columns(s, MIGRATE_2_TO_3_COLUMNS, sizeof MIGRATE_2_TO_3_COLUMNS / sizeof MIGRATE_2_TO_3_COLUMNS[0],
                        "migrate schema 2 to 3", err))
        return -1;
    return store_exec(s, MIGRATE_2_TO_3_SQL, "migrate schema 2 to 3", err);
}

/* Creates the schema or checks its version, in one write transaction so that two processes
 * opening a new database at once do not race. */
static int ensure_schema(Store *s, Err *err) {
    if (store_exec(s, "BEGIN IMMEDIATE", "begin schema transaction", err)) return -1;
    char version[32] = "";
    int rc = pragma_text(s, "PRAGMA user_version", version, sizeof version, err);
    long v = rc ? 0 : strtol(version, NULL, 10);
    if (rc == 0 && v > STORE_SCHEMA_VERSION)
        rc = err_set(err, ERR_UNSUPPORTED, "%s: schema version %ld is newer than this build's (%d)", s->db_path, v,
                     STORE_SCHEMA_VERSION);
    /* the jobs table of an older database lacks version 3's columns: added before SCHEMA_SQL,
     * whose CREATE TABLE IF NOT EXISTS leaves an existing table as it is */
    if (rc == 0 && v >= 1 && v < 3) rc = migrate_2_to_3(s, err);
    if (rc == 0 && v >= 1 && v < 5)
        rc = add_job_columns(s, MIGRATE_4_TO_5_COLUMNS, sizeof MIGRATE_4_TO_5_COLUMNS / sizeof MIGRATE_4_TO_5_COLUMNS[0],
                             "migrate schema 4 to 5", err);
    if (rc == 0) rc = store_exec(s, SCHEMA_SQL, "create schema", err);
    if (rc == 0 && v == 1) rc = store_exec(s, MIGRATE_1_TO_2_SQL, "migrate schema 1 to 2", err);
    /* version 4 (idempotent itself, but run only on older databases: an open of a current one
     * writes nothing, so that a server restarts on a full disk) */
    if (rc == 0 && v < 4) rc = store_projects_schema(s, err);
    if (rc == 0 && v < 5) rc = store_responses_schema(s, err); /* version 5: stored responses */
    if (rc == 0 && v < 6) rc = store_evals_schema(s, err);     /* version 6: the Evals API */
    if (rc == 0 && v < STORE_SCHEMA_VERSION)
        rc = store_exec(s, "PRAGMA user_version = " STORE_STR(STORE_SCHEMA_VERSION), "set schema version", err);
    if (rc == 0) return store_exec(s, "COMMIT", "commit schema", err);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

#define STORE_OPEN_RETRIES 100 /* 20 ms apart: 2 s */

static int open_db(Store *s, Err *err) {
    if (sqlite3_open_v2(s->db_path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        if (!s->db) return err_set(err, ERR_NOMEM, "%s: cannot open: out of memory", s->db_path);
        return err_set(err, ERR_IO, "%s: cannot open: %s", s->db_path, sqlite3_errmsg(s->db));
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
    char mode[16] = "";
    if (pragma_text(s, "PRAGMA journal_mode=WAL", mode, sizeof mode, err)) return -1;
    if (strcmp(mode, "wal") != 0)
        return err_set(err, ERR_IO, "%s: cannot use WAL mode (journal mode is %s)", s->db_path, mode);
    /* FULL: a committed transaction survives a kill -9 or a power cut */
    if (store_exec(s, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", "set pragmas", err)) return -1;
    return ensure_schema(s, err);
}

int store_open(const char *data_dir, Store **out, Err *err) {
    *out = NULL;
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
    if (file_make_dirs(s->dir, 0700, err) || file_make_dirs(s->files_dir, 0700, err)) { /* uploads are private */
        store_close(s);
        return -1;
    }
    /* Connections that create a new database at the same moment can find it locked while one of
     * them switches it to WAL (SQLite does not always call the busy handler there): try again. */
    for (int attempt = 0;; attempt++) {
        if (!open_db(s, err)) break;
        int code = s->db ? sqlite3_errcode(s->db) & 0xff : SQLITE_OK;
        sqlite3_close(s->db);
        s->db = NULL;
        if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) || attempt >= STORE_OPEN_RETRIES) {
            store_close(s);
            return -1;
        }
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    *out = s;
    return 0;
}

void store_close(Store *s) {
    if (!s) return;
    sqlite3_close(s->db);
    free(s);
}

const char *store_data_dir(const Store *s) { return s->dir; }
