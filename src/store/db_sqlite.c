/* db_sqlite.c: db.h over the SQLite C API: the connection setup (WAL, synchronous=FULL, foreign
 * keys, busy timeout, retried opens), statements, extended error codes mapped to DbError, the
 * schema version in PRAGMA user_version, columns from pragma_table_info, PRAGMA quick_check. Each
 * function of db.h starts here and passes a PostgreSQL connection or statement on to db_pg.c. The
 * only file of the store that calls sqlite3_* (besides store_fault.c's fault-injection hooks). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/fault.h"
#include "db.h"

#define DB_OPEN_RETRIES 100 /* 20 ms apart: 2 s */

struct Db {
    DbKind kind; /* DB_SQLITE: db_pg.c's Db starts with the same field */
    sqlite3 *conn;
    DbError err;
    bool oom; /* the last failure was this layer's own allocation, not SQLite's */
};

struct DbStmt {
    DbKind kind;
    Db *db;
    sqlite3_stmt *st;
};

/* db_pg.c's entry points: db.h's functions dispatch on the kind. */
#include "db_pg.h"

static DbError map_error(int code) {
    switch (code) {
    case SQLITE_OK: return DB_OK;
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY: return DB_UNIQUE;
    case SQLITE_CONSTRAINT_FOREIGNKEY: return DB_FOREIGN_KEY;
    default: break;
    }
    switch (code & 0xff) {
    case SQLITE_CONSTRAINT: return DB_CONSTRAINT;
    case SQLITE_FULL: return DB_FULL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return DB_BUSY;
    default: return DB_ERROR;
    }
}

static int fail(Db *db) {
    db->oom = false;
    db->err = map_error(sqlite3_extended_errcode(db->conn));
    if (db->err == DB_OK) db->err = DB_ERROR;
    return -1;
}

bool db_is_postgres_url(const char *target) {
    return target && (strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0);
}

/* ---- statements ---- */

int db_prepare(Db *db, const char *sql, DbStmt **out) {
    *out = NULL;
    if (db->kind == DB_POSTGRES) return dbpg_prepare(db, sql, out);
    DbStmt *st = fault_calloc(1, sizeof *st);
    if (!st) {
        db->err = DB_ERROR;
        db->oom = true;
        return -1;
    }
    st->kind = DB_SQLITE;
    st->db = db;
    if (sqlite3_prepare_v2(db->conn, sql, -1, &st->st, NULL) != SQLITE_OK) {
        free(st);
        return fail(db);
    }
    *out = st;
    return 0;
}

void db_bind_text(DbStmt *st, int i, const char *v) {
    if (st->kind == DB_POSTGRES) dbpg_bind(st, i, v, false);
    else if (v) sqlite3_bind_text(st->st, i, v, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st->st, i);
}

void db_bind_int64(DbStmt *st, int i, long long v) {
    if (st->kind == DB_POSTGRES) {
        char text[32];
        snprintf(text, sizeof text, "%lld", v);
        dbpg_bind(st, i, text, true);
    } else {
        sqlite3_bind_int64(st->st, i, v);
    }
}

void db_bind_null_int(DbStmt *st, int i) {
    if (st->kind == DB_POSTGRES) dbpg_bind(st, i, NULL, true);
    else sqlite3_bind_null(st->st, i);
}

int db_step(DbStmt *st) {
    if (st->kind == DB_POSTGRES) return dbpg_step(st);
    int rc = sqlite3_step(st->st);
    if (rc == SQLITE_ROW) return DB_ROW;
    if (rc == SQLITE_DONE) return DB_DONE;
    fail(st->db);
    return DB_FAIL;
}

void db_reset(DbStmt *st) {
    if (st->kind == DB_POSTGRES) dbpg_reset(st);
    else sqlite3_reset(st->st);
}

void db_finalize(DbStmt *st) {
    if (!st) return;
    if (st->kind == DB_POSTGRES) {
        dbpg_finalize(st);
        return;
    }
    sqlite3_finalize(st->st);
    free(st);
}

const char *db_column_text(DbStmt *st, int i) {
    if (st->kind == DB_POSTGRES) return dbpg_column_text(st, i);
    return (const char *)sqlite3_column_text(st->st, i);
}

long long db_column_int64(DbStmt *st, int i) {
    if (st->kind == DB_POSTGRES) return dbpg_column_int64(st, i);
    return sqlite3_column_int64(st->st, i);
}

bool db_column_is_null(DbStmt *st, int i) {
    if (st->kind == DB_POSTGRES) return dbpg_column_text(st, i) == NULL;
    return sqlite3_column_type(st->st, i) == SQLITE_NULL;
}

int db_column_count(DbStmt *st) {
    if (st->kind == DB_POSTGRES) return dbpg_column_count(st);
    return sqlite3_column_count(st->st);
}

long long db_changes(Db *db) {
    if (db->kind == DB_POSTGRES) return dbpg_changes(db);
    return sqlite3_changes(db->conn);
}

/* ---- connection ---- */

DbKind db_kind(const Db *db) { return db->kind; }

DbError db_error(const Db *db) { return db->kind == DB_POSTGRES ? dbpg_error(db) : db->err; }

const char *db_errmsg(const Db *db) {
    if (db->kind == DB_POSTGRES) return dbpg_errmsg(db);
    return db->oom ? "out of memory" : sqlite3_errmsg(db->conn);
}

int db_exec(Db *db, const char *sql) {
    if (db->kind == DB_POSTGRES) return dbpg_exec(db, sql);
    return sqlite3_exec(db->conn, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(db);
}

int db_begin(Db *db) { return db_exec(db, db->kind == DB_POSTGRES ? "BEGIN" : "BEGIN IMMEDIATE"); }
int db_commit(Db *db) { return db_exec(db, "COMMIT"); }

void db_rollback(Db *db) {
    DbError was = db_error(db); /* keep the failure that made the caller roll back */
    if (db->kind == DB_POSTGRES) dbpg_rollback(db);
    else {
        sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
        db->err = was;
    }
}

/* One text value of a one-row statement without parameters. */
static int query_text(Db *db, const char *sql, char *out, size_t size) {
    DbStmt *st;
    if (db_prepare(db, sql, &st)) return -1;
    int rc = db_step(st);
    if (rc == DB_ROW) snprintf(out, size, "%s", db_column_text(st, 0) ? db_column_text(st, 0) : "");
    db_finalize(st);
    if (rc == DB_DONE) return fail(db);
    return rc == DB_ROW ? 0 : -1;
}

int db_begin_schema(Db *db) {
    if (db->kind == DB_POSTGRES) return dbpg_begin_schema(db);
    return db_begin(db);
}

int db_schema_version(Db *db, long *version) {
    if (db->kind == DB_POSTGRES) return dbpg_schema_version(db, version);
    char text[32];
    if (query_text(db, "PRAGMA user_version", text, sizeof text)) return -1;
    *version = strtol(text, NULL, 10);
    return 0;
}

int db_set_schema_version(Db *db, long version) {
    if (db->kind == DB_POSTGRES) return dbpg_set_schema_version(db, version);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %ld", version);
    return db_exec(db, sql);
}

int db_has_column(Db *db, const char *table, const char *column, bool *has) {
    DbStmt *st;
    if (db_prepare(db,
                   db->kind == DB_POSTGRES ? "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                                             "current_schema() AND table_name = ?1 AND column_name = ?2"
                                           : "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
                   &st))
        return -1;
    db_bind_text(st, 1, table);
    db_bind_text(st, 2, column);
    int rc = db_step(st);
    if (rc == DB_ROW) *has = db_column_int64(st, 0) > 0;
    db_finalize(st);
    return rc == DB_ROW ? 0 : -1;
}

int db_quick_check(Db *db, char *first, size_t size) {
    if (db->kind == DB_POSTGRES) { /* PostgreSQL checks its own pages (and reports damage on reads) */
        snprintf(first, size, "ok");
        return 0;
    }
    return query_text(db, "PRAGMA quick_check(1)", first, size);
}

int db_notify(Db *db, const char *channel) {
    if (db->kind != DB_POSTGRES) return 0;
    char sql[96];
    snprintf(sql, sizeof sql, "NOTIFY %s", channel);
    return dbpg_exec(db, sql);
}

int db_listen(Db *db, const char *channel) { return db->kind == DB_POSTGRES ? dbpg_listen(db, channel) : 0; }

int db_wait_notification(Db *db, int timeout_ms) {
    if (db->kind == DB_POSTGRES) return dbpg_wait_notification(db, timeout_ms);
    struct timespec t = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
    return 0;
}

static int open_once(const char *path, int busy_ms, Db *db, Err *err) {
    if (sqlite3_open_v2(path, &db->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        if (!db->conn) return err_set(err, ERR_NOMEM, "%s: cannot open: out of memory", path);
        fail(db);
        return err_set(err, ERR_IO, "%s: cannot open: %s", path, sqlite3_errmsg(db->conn));
    }
    sqlite3_extended_result_codes(db->conn, 1);
    sqlite3_busy_timeout(db->conn, busy_ms);
    char mode[16] = "";
    if (query_text(db, "PRAGMA journal_mode=WAL", mode, sizeof mode))
        return err_set(err, ERR_IO, "%s: PRAGMA journal_mode=WAL: %s", path, sqlite3_errmsg(db->conn));
    if (strcmp(mode, "wal") != 0) return err_set(err, ERR_IO, "%s: cannot use WAL mode (journal mode is %s)", path, mode);
    /* FULL: a committed transaction survives a kill -9 or a power cut */
    if (db_exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON"))
        return err_set(err, ERR_IO, "%s: set pragmas: %s", path, sqlite3_errmsg(db->conn));
    return 0;
}

int db_open_sqlite(const char *path, int busy_ms, Db **out, Err *err) {
    *out = NULL;
    Db *db = fault_calloc(1, sizeof *db);
    if (!db) return err_set(err, ERR_NOMEM, "%s: out of memory", path);
    db->kind = DB_SQLITE;
    /* Connections that create a new database at the same moment can find it locked while one of
     * them switches it to WAL (SQLite does not always call the busy handler there): try again. */
    for (int attempt = 0;; attempt++) {
        db->err = DB_OK;
        if (!open_once(path, busy_ms, db, err)) break;
        DbError e = db->err;
        sqlite3_close(db->conn);
        db->conn = NULL;
        if (e != DB_BUSY || attempt >= DB_OPEN_RETRIES) {
            free(db);
            return -1;
        }
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    *out = db;
    return 0;
}

void db_close(Db *db) {
    if (!db) return;
    if (db->kind == DB_POSTGRES) {
        dbpg_close(db);
        return;
    }
    sqlite3_close(db->conn);
    free(db);
}
