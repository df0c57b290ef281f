/* store_projects.c: projects and their API keys (schema version 3): the tables, the default
 * project that older rows migrate to, and keys stored as the SHA-256 digest of their secret. A key
 * is found by its digest (an indexed lookup: the digest's bytes tell a timing attacker nothing
 * about the secret), then the digest is compared once more in constant time. This file does not
 * authenticate requests or decide what a key may do (src/serve/auth.c does). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "../core/digest.h"
#include "store_internal.h"

#define PROJECT_COLS "id, name, created_at"
#define KEY_COLS "id, project, name, redacted, admin, created_at, revoked_at, hash"
#define KEY_PREFIX_PROJECT "sk-proj-"
#define KEY_PREFIX_ADMIN "sk-admin-"

/* The tables; the project columns of files and jobs are added by add_project_column. */
static const char PROJECTS_SQL[] =
    "CREATE TABLE IF NOT EXISTS projects ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS api_keys ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " project TEXT REFERENCES projects(id),"   /* NULL: an admin key */
    " name TEXT,"
    " redacted TEXT NOT NULL,"
    " admin INTEGER NOT NULL DEFAULT 0,"
    " hash TEXT NOT NULL UNIQUE,"                /* hex SHA-256 of the secret */
    " created_at INTEGER NOT NULL,"
    " revoked_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS api_keys_project ON api_keys(project);";
/* the default project, unless it is there */
static const char DEFAULT_PROJECT_SQL[] =
    "INSERT INTO projects (id, name, created_at) SELECT '" STORE_DEFAULT_PROJECT "', '" STORE_DEFAULT_PROJECT_NAME
    "', ?1 WHERE NOT EXISTS (SELECT 1 FROM projects WHERE id = '" STORE_DEFAULT_PROJECT "')";

static void read_flag(DbStmt *st, void *rec) { *(bool *)rec = db_column_int64(st, 0) != 0; }

/* Adds table.project (rows that exist: the default project) unless the table has it already, so
 * that this step can run on every open whatever the recorded version. No REFERENCES clause:
 * SQLite refuses one on an added column with a non-NULL default. */
static int add_project_column(Store *s, const char *table, Err *err) {
    bool has = false;
    if (db_has_column(s->db, table, "project", &has)) return store_sql_error(s, "read columns", err);
    if (has) return 0;
    char sql[256];
    snprintf(sql, sizeof sql,
             "ALTER TABLE %s ADD COLUMN project TEXT NOT NULL DEFAULT '" STORE_DEFAULT_PROJECT "';"
             "CREATE INDEX IF NOT EXISTS %s_project ON %s(project, seq);",
             table, table, table); /* table is one of two constant names */
    return store_exec(s, sql, "add project column", err);
}

int store_projects_schema(Store *s, Err *err) {
    if (store_exec(s, PROJECTS_SQL, "create projects", err)) return -1;
    DbStmt *st;
    if (store_prepare(s, DEFAULT_PROJECT_SQL, &st, "create the default project", err)) return -1;
    db_bind_int64(st, 1, store_now());
    if (store_run(s, st, "create the default project", err)) return -1;
    if (add_project_column(s, "files", err) || add_project_column(s, "jobs", err)) return -1;
    return 0;
}

/* ---- projects ---- */

static void read_project(DbStmt *st, void *rec) {
    ProjectRecord *p = rec;
    store_col_text(st, 0, p->id, sizeof p->id);
    store_col_text(st, 1, p->name, sizeof p->name);
    p->created_at = store_col_int(st, 2, 0);
}

int store_project_get(Store *s, const char *ref, ProjectRecord *out, Err *err) {
    DbStmt *st;
    if (store_prepare(s, "SELECT " PROJECT_COLS " FROM projects WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1",
                      &st, "get project", err))
        return -1;
    store_bind_text(st, 1, ref);
    return store_get_one(s, st, read_project, out, "get project", err);
}

int store_project_create(Store *s, const char *name, ProjectRecord *out, Err *err) {
    if (!name || !name[0] || strlen(name) >= STORE_NAME_MAX)
        return err_set(err, ERR_ARG, "a project name must have 1 to %d bytes", STORE_NAME_MAX - 1);
    ProjectRecord p;
    int rc = store_project_get(s, name, &p, err);
    if (rc != STORE_NOT_FOUND) return rc == 0 ? STORE_CONFLICT : -1;
    store_new_id("proj_", p.id, sizeof p.id);
    store_copy(p.name, sizeof p.name, name);
    p.created_at = store_now();
    DbStmt *st;
    if (store_prepare(s, "INSERT INTO projects (" PROJECT_COLS ") VALUES (?1, ?2, ?3)", &st, "insert project", err))
        return -1;
    store_bind_text(st, 1, p.id);
    store_bind_text(st, 2, p.name);
    db_bind_int64(st, 3, p.created_at);
    if (store_run(s, st, "insert project", err)) /* a racing create of the same name: UNIQUE */
        return s->last_err == DB_UNIQUE ? STORE_CONFLICT : -1;
    if (out) *out = p;
    return 0;
}

int store_project_list(Store *s, const char *after, int limit, ProjectRecord **out, int *n, bool *has_more, Err *err) {
    *out = NULL;
    *n = 0;
    *has_more = false;
    long long after_seq = 0;
    if (after) {
        int rc = store_cursor(s, "SELECT seq FROM projects WHERE id = ?1", after, NULL, &after_seq, NULL, err);
        if (rc) return rc;
    }
    DbStmt *st;
    if (store_prepare(s, "SELECT " PROJECT_COLS " FROM projects WHERE seq > ?1 ORDER BY seq ASC", &st, "list projects",
                      err))
        return -1;
    db_bind_int64(st, 1, after_seq);
    void *items;
    if (store_collect(s, st, read_project, sizeof **out, store_clamp_limit(limit), &items, n, has_more, "list projects",
                      err))
        return -1;
    *out = items;
    return 0;
}

/* ---- keys ---- */

typedef struct {
    KeyRecord key;
    char hash[DIGEST_SHA256_HEX];
} KeyRow;

static void read_key(DbStmt *st, void *rec) {
    KeyRow *r = rec;
    KeyRecord *k = &r->key;
    store_col_text(st, 0, k->id, sizeof k->id);
    store_col_text(st, 1, k->project, sizeof k->project);
    store_col_text(st, 2, k->name, sizeof k->name);
    store_col_text(st, 3, k->redacted, sizeof k->redacted);
    k->admin = store_col_int(st, 4, 0) != 0;
    k->created_at = store_col_int(st, 5, 0);
    k->revoked_at = store_col_int(st, 6, 0);
    store_col_text(st, 7, r->hash, sizeof r->hash);
}

int store_key_create(Store *s, const char *project, const char *name, KeyRecord *out,
                     char secret[STORE_KEY_SECRET_MAX], Err *err) {
    secret[0] = 0;
    if (name && strlen(name) >= STORE_NAME_MAX)
        return err_set(err, ERR_ARG, "a key name must have at most %d bytes", STORE_NAME_MAX - 1);
    KeyRecord k = {.admin = project == NULL, .created_at = store_now()};
    if (project) {
        ProjectRecord p;
        int rc = store_project_get(s, project, &p, err);
        if (rc == STORE_NOT_FOUND || (rc == 0 && strcmp(p.id, project) != 0)) {
            err_set(err, ERR_ARG, "no project with id %s", project);
            return STORE_NOT_FOUND;
        }
        if (rc) return -1;
        store_copy(k.project, sizeof k.project, project);
    }
    store_new_id("key_", k.id, sizeof k.id);
    store_copy(k.name, sizeof k.name, name);
    const char *prefix = project ? KEY_PREFIX_PROJECT : KEY_PREFIX_ADMIN;
    size_t p = strlen(prefix);
    memcpy(secret, prefix, p);
    store_random_alnum(secret + p, STORE_KEY_RANDOM_LEN);
    snprintf(k.redacted, sizeof k.redacted, "%s...%s", prefix, secret + p + STORE_KEY_RANDOM_LEN - 4);
    char hash[DIGEST_SHA256_HEX];
    digest_sha256_hex(secret, strlen(secret), hash);
    DbStmt *st;
    if (store_prepare(s, "INSERT INTO api_keys (" KEY_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7)", &st,
                      "insert key", err)) {
        secret[0] = 0;
        return -1;
    }
    store_bind_text(st, 1, k.id);
    store_bind_opt_text(st, 2, k.project);
    store_bind_opt_text(st, 3, k.name);
    store_bind_text(st, 4, k.redacted);
    db_bind_int64(st, 5, k.admin);
    db_bind_int64(st, 6, k.created_at);
    store_bind_text(st, 7, hash);
    if (store_run(s, st, "insert key", err)) {
        secret[0] = 0;
        return -1;
    }
    if (out) *out = k;
    return 0;
}

int store_key_find(Store *s, const char *secret, size_t len, KeyRecord *out, Err *err) {
    char hash[DIGEST_SHA256_HEX];
    digest_sha256_hex(secret, len, hash);
    DbStmt *st;
    if (store_prepare(s, "SELECT " KEY_COLS " FROM api_keys WHERE hash = ?1 AND revoked_at IS NULL", &st, "find key",
                      err))
        return -1;
    store_bind_text(st, 1, hash);
    KeyRow row;
    int rc = store_get_one(s, st, read_key, &row, "find key", err);
    if (rc) return rc;
    if (!digest_equal(row.hash, hash, sizeof hash - 1)) return STORE_NOT_FOUND; /* (the index matched it) */
    *out = row.key;
    return 0;
}

int store_key_get(Store *s, const char *id, KeyRecord *out, Err *err) {
    DbStmt *st;
    if (store_prepare(s, "SELECT " KEY_COLS " FROM api_keys WHERE id = ?1", &st, "get key", err)) return -1;
    store_bind_text(st, 1, id);
    KeyRow row;
    int rc = store_get_one(s, st, read_key, &row, "get key", err);
    if (rc == 0) *out = row.key;
    return rc;
}

int store_key_list(Store *s, const char *project, const char *after, int limit, KeyRecord **out, int *n,
                   bool *has_more, Err *err) {
    *out = NULL;
    *n = 0;
    *has_more = false;
    long long after_seq = 0;
    if (after) {
        int rc = store_cursor(s, "SELECT seq FROM api_keys WHERE id = ?1", after, NULL, &after_seq, NULL, err);
        if (rc) return rc;
    }
    DbStmt *st;
    if (store_prepare(s,
                      project ? "SELECT " KEY_COLS " FROM api_keys WHERE seq > ?1 AND project = ?2 ORDER BY seq ASC"
                              : "SELECT " KEY_COLS " FROM api_keys WHERE seq > ?1 ORDER BY seq ASC",
                      &st, "list keys", err))
        return -1;
    db_bind_int64(st, 1, after_seq);
    if (project) store_bind_text(st, 2, project);
    void *items;
    if (store_collect(s, st, read_key, sizeof(KeyRow), store_clamp_limit(limit), &items, n, has_more, "list keys", err))
        return -1;
    KeyRow *rows = items;
    /* the digests stay here: the records alone go out, in place */
    KeyRecord *keys = (KeyRecord *)rows;
    for (int i = 0; i < *n; i++) memmove(&keys[i], &rows[i].key, sizeof keys[i]);
    *out = keys;
    return 0;
}

int store_key_revoke(Store *s, const char *id, Err *err) {
    DbStmt *st;
    if (store_prepare(s, "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL", &st, "revoke key",
                      err))
        return -1;
    store_bind_text(st, 1, id);
    db_bind_int64(st, 2, store_now());
    int rc = store_run_one(s, st, "revoke key", err);
    if (rc != STORE_NOT_FOUND) return rc;
    KeyRecord k;
    rc = store_key_get(s, id, &k, err);
    return rc == 0 ? STORE_CONFLICT : rc;
}

int store_key_any(Store *s, bool *any, Err *err) {
    DbStmt *st;
    *any = false;
    if (store_prepare(s, "SELECT EXISTS (SELECT 1 FROM api_keys)", &st, "count keys", err)) return -1;
    return store_get_one(s, st, read_flag, any, "count keys", err) == 0 ? 0 : -1;
}
