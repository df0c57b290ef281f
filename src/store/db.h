/* db.h: the small database layer under the store: one connection (Db) to SQLite (db_sqlite.c) or
 * PostgreSQL through libpq (db_pg.c), statements with numbered parameters written `?1`, `?2` (or
 * `?`, numbered as SQLite numbers it: one past the largest so far), bound as text, 64-bit integers
 * or NULL, stepped row by row, and the errors the store tells apart (a unique or foreign-key
 * violation, a full disk, a busy database). SQL text is the store's, in the subset both dialects
 * share; this layer keeps the places where they differ: placeholders ($1 for PostgreSQL), DDL
 * column types (INTEGER PRIMARY KEY AUTOINCREMENT -> an identity column, INTEGER -> BIGINT),
 * BEGIN IMMEDIATE, the schema version (PRAGMA user_version / a schema_version table), the lock
 * that serialises first opens (a write transaction / an advisory lock), column existence and the
 * integrity check (SQLite's quick_check; a no-op that says "ok" on PostgreSQL, which checks its
 * own pages). Not thread-safe: a Db is used by one thread at a time. */
#ifndef FTUNE_STORE_DB_H
#define FTUNE_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"

typedef struct Db Db;
typedef struct DbStmt DbStmt;

typedef enum { DB_SQLITE, DB_POSTGRES } DbKind;

/* What the last failure was, as far as the store cares. */
typedef enum {
    DB_OK = 0,
    DB_ERROR,          /* anything else */
    DB_UNIQUE,         /* a UNIQUE or PRIMARY KEY constraint */
    DB_FOREIGN_KEY,    /* a REFERENCES constraint */
    DB_CONSTRAINT,     /* another constraint (NOT NULL, CHECK) */
    DB_FULL,           /* the disk is full */
    DB_BUSY            /* locked by another connection past the wait */
} DbError;

/* db_step's results. */
#define DB_ROW 1
#define DB_DONE 0
#define DB_FAIL (-1)

/* True when target names a PostgreSQL database (postgresql:// or postgres://). */
bool db_is_postgres_url(const char *target);
/* A SQLite database file in WAL mode, synchronous=FULL, foreign keys on, waiting busy_ms for
 * locks (opening is retried while a new file is being switched to WAL by another connection). */
int db_open_sqlite(const char *path, int busy_ms, Db **out, Err *err);
/* A PostgreSQL connection (libpq connection URI); errors name `display`, the URI without its
 * password. */
int db_open_postgres(const char *url, const char *display, Db **out, Err *err);
void db_close(Db *db); /* NULL is a no-op */
DbKind db_kind(const Db *db);

/* The last failure on db: its kind and message. */
DbError db_error(const Db *db);
const char *db_errmsg(const Db *db);

/* Statements: prepare (0 / -1), bind (index from 1; text NULL binds a text NULL, db_bind_null_int
 * an integer NULL: PostgreSQL types every parameter), step (DB_ROW, DB_DONE,
 * DB_FAIL), reset for stepping again with the same bindings, finalize (NULL is a no-op). */
int db_prepare(Db *db, const char *sql, DbStmt **out);
void db_bind_text(DbStmt *st, int i, const char *v);
void db_bind_int64(DbStmt *st, int i, long long v);
void db_bind_null_int(DbStmt *st, int i);
int db_step(DbStmt *st);
void db_reset(DbStmt *st);
void db_finalize(DbStmt *st);
/* Columns of the current row (from 0): text (NULL for SQL NULL), integer (0 for NULL; true/false
 * read as 1/0), whether NULL, how many. */
const char *db_column_text(DbStmt *st, int i);
long long db_column_int64(DbStmt *st, int i);
bool db_column_is_null(DbStmt *st, int i);
int db_column_count(DbStmt *st);
/* Rows changed by the last INSERT, UPDATE or DELETE stepped on db. */
long long db_changes(Db *db);

/* Constant SQL without parameters, one or more statements: 0 / -1. */
int db_exec(Db *db, const char *sql);
/* A write transaction (SQLite: BEGIN IMMEDIATE, so that writers queue at its start). */
int db_begin(Db *db);
int db_commit(Db *db);
void db_rollback(Db *db);

/* Schema handling. db_begin_schema: a write transaction that also keeps every other connection's
 * db_begin_schema waiting until it ends (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN and a
 * transaction-scoped advisory lock), so that two first opens do not both create the schema. */
int db_begin_schema(Db *db);
int db_schema_version(Db *db, long *version);
int db_set_schema_version(Db *db, long version);
int db_has_column(Db *db, const char *table, const char *column, bool *has);
/* The integrity check: "ok" in first, or the first problem found. */
int db_quick_check(Db *db, char *first, size_t size);

/* Wake-ups between processes (PostgreSQL's LISTEN/NOTIFY; SQLite has none, and its callers poll):
 * db_notify sends a notification on channel (delivered when the sending transaction commits, at
 * once outside one; a no-op on SQLite); db_listen subscribes this connection to channel (again
 * after a lost connection is made anew); db_wait_notification waits up to timeout_ms for one and
 * consumes every one that arrived: 1 when there was one, 0 when the time passed (SQLite: after
 * sleeping timeout_ms), -1 when the connection failed. channel is a constant identifier. */
int db_notify(Db *db, const char *channel);
int db_listen(Db *db, const char *channel);
int db_wait_notification(Db *db, int timeout_ms);

#endif
