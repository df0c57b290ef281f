/* store_aliases.c: the model alias table (name -> target model id), written by `ftune alias` and
 * read by the server each time it resolves a model name, so that a change takes effect on the next
 * request without a restart (SQLite's WAL lets the command write while the server reads). Setting
 * an alias is one UPSERT: re-pointing is atomic. This file checks only that names and targets are
 * non-empty text that fits; what they may name is registry.h's business. */
#include <string.h>

#include "store_internal.h"

static void read_alias(DbStmt *st, void *rec) {
    AliasRecord *a = rec;
    store_col_text(st, 0, a->name, sizeof a->name);
    store_col_text(st, 1, a->target, sizeof a->target);
    a->created_at = store_col_int(st, 2, 0);
    a->updated_at = store_col_int(st, 3, 0);
}

/* ERR_ARG unless text is 1..STORE_NAME_MAX-1 bytes. */
static int check_text(Store *s, const char *what, const char *text, Err *err) {
    if (!text || !*text) return err_set(err, ERR_ARG, "%s: alias %s is empty", s->db_path, what);
    if (strlen(text) >= STORE_NAME_MAX)
        return err_set(err, ERR_ARG, "%s: alias %s is longer than %d bytes", s->db_path, what, STORE_NAME_MAX - 1);
    return 0;
}

int store_alias_set(Store *s, const char *name, const char *target, bool *created, Err *err) {
    if (check_text(s, "name", name, err) || check_text(s, "target", target, err)) return -1;
    AliasRecord old;
    int found = store_alias_get(s, name, &old, err);
    if (found < 0) return -1;
    DbStmt *st;
    if (store_prepare(s,
                      "INSERT INTO aliases (name, target, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) "
                      "ON CONFLICT(name) DO UPDATE SET target = excluded.target, updated_at = excluded.updated_at",
                      &st, "set alias", err))
        return -1;
    store_bind_text(st, 1, name);
    store_bind_text(st, 2, target);
    db_bind_int64(st, 3, store_now());
    if (store_run(s, st, "set alias", err)) return -1;
    if (created) *created = found == STORE_NOT_FOUND;
    return 0;
}

int store_alias_get(Store *s, const char *name, AliasRecord *out, Err *err) {
    DbStmt *st;
    if (store_prepare(s, "SELECT name, target, created_at, updated_at FROM aliases WHERE name = ?1", &st, "get alias",
                      err))
        return -1;
    store_bind_text(st, 1, name);
    return store_get_one(s, st, read_alias, out, "get alias", err);
}

int store_alias_delete(Store *s, const char *name, Err *err) {
    DbStmt *st;
    if (store_prepare(s, "DELETE FROM aliases WHERE name = ?1", &st, "delete alias", err)) return -1;
    store_bind_text(st, 1, name);
    return store_run_one(s, st, "delete alias", err);
}

int store_alias_list(Store *s, AliasRecord **out, int *n, Err *err) {
    *out = NULL;
    *n = 0;
    DbStmt *st;
    if (store_prepare(s, "SELECT name, target, created_at, updated_at FROM aliases ORDER BY name", &st,
                      "list aliases", err))
        return -1;
    void *items;
    bool more;
    if (store_collect(s, st, read_alias, sizeof **out, STORE_LIST_MAX, &items, n, &more, "list aliases", err))
        return -1;
    *out = items;
    return 0;
}
