/* db_pg.h: db_pg.c's side of db.h, called by db_sqlite.c's functions when a Db or DbStmt is
 * PostgreSQL's (its first field, the kind, says so). Nothing else includes it but the unit test of
 * dbpg_translate. */
#ifndef FTUNE_STORE_DB_PG_H
#define FTUNE_STORE_DB_PG_H

#include "db.h"

/* PostgreSQL's spelling of the store's sql: `?N` and `?` as `$N`, the DDL types (see db_pg.c),
 * quoted strings untouched (heap, caller frees; NULL when out of memory); *nparams receives the
 * largest parameter number. */
char *dbpg_translate(const char *sql, int *nparams);
int dbpg_prepare(Db *db, const char *sql, DbStmt **out);
/* v NULL binds NULL; integer: v is a decimal integer, sent as int8 */
void dbpg_bind(DbStmt *st, int i, const char *v, bool integer);
int dbpg_step(DbStmt *st);
void dbpg_reset(DbStmt *st);
void dbpg_finalize(DbStmt *st);
const char *dbpg_column_text(DbStmt *st, int i);
long long dbpg_column_int64(DbStmt *st, int i);
int dbpg_column_count(DbStmt *st);
long long dbpg_changes(Db *db);
DbError dbpg_error(const Db *db);
const char *dbpg_errmsg(const Db *db);
int dbpg_exec(Db *db, const char *sql);
void dbpg_rollback(Db *db);
int dbpg_begin_schema(Db *db);
int dbpg_schema_version(Db *db, long *version);
int dbpg_set_schema_version(Db *db, long version);
int dbpg_listen(Db *db, const char *channel);
int dbpg_wait_notification(Db *db, int timeout_ms);
void dbpg_close(Db *db);

#endif
