/* registry_aliases.c: model aliases (see registry.h): the rule every alias follows (a name that is
 * no model's own, a target that is a model's own id: one level, never an alias of an alias), the
 * `ftune serve --alias NAME=TARGET` table (checked at start-up, fixed for the process) and the
 * lookup that puts the flags before the store's table (`ftune alias`, read on every lookup).
 * It does not write the table: the CLI does, through store.h, after registry_alias_check. */
#include "registry.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/fileio.h"

typedef struct {
    char name[STORE_NAME_MAX];
    char target[STORE_NAME_MAX];
} FlagAlias;

/* Written only by registry_aliases_configure (before any reader thread exists). */
static FlagAlias g_aliases[REGISTRY_MAX_ALIASES];
static int g_n_aliases;
static long long g_configured_at;

static int check_name(Store *s, const char *const *dirs, int n_dirs, const char *name, Err *err) {
    if (!name[0]) return err_set(err, ERR_ARG, "the alias name is empty");
    if (strlen(name) >= STORE_NAME_MAX)
        return err_set(err, ERR_ARG, "the alias name is longer than %d bytes", STORE_NAME_MAX - 1);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p == '/' || *p == ':' || isspace(*p) || iscntrl(*p))
            return err_set(err, ERR_ARG,
                           "the alias name '%s' contains '/', ':', a space or a control character (ft: names "
                           "are the fine-tuned models' own)",
                           name);
    ModelInfo m;
    Err local = {0};
    int rc = registry_resolve_model(s, dirs, n_dirs, name, &m, &local);
    if (rc < 0) return err_set(err, local.code, "%s", local.msg);
    if (rc == 0)
        return err_set(err, ERR_ARG, "'%s' is already a model's own id (%s): an alias cannot shadow it", name,
                       m.kind == MODEL_BASE ? "a base model" : "an --adapter model");
    return 0;
}

int registry_alias_check(Store *s, const char *const *dirs, int n_dirs, const char *name, const char *target,
                         Err *err) {
    if (check_name(s, dirs, n_dirs, name, err)) return -1;
    if (!target[0]) return err_set(err, ERR_ARG, "the alias target is empty");
    if (strlen(target) >= STORE_NAME_MAX)
        return err_set(err, ERR_ARG, "the alias target is longer than %d bytes", STORE_NAME_MAX - 1);
    if (strcmp(name, target) == 0) return err_set(err, ERR_ARG, "the alias '%s' names itself", name);
    ModelInfo m;
    Err local = {0};
    int rc = s || strncmp(target, "ft:", 3) != 0 ? registry_resolve_model(s, dirs, n_dirs, target, &m, &local)
                                                  : STORE_NOT_FOUND;
    if (rc < 0) return err_set(err, local.code, "%s", local.msg);
    if (rc == 0) return 0;
    char next[STORE_NAME_MAX];
    if (registry_alias_target(s, target, next, NULL, &local) == 0)
        return err_set(err, ERR_ARG,
                       "the target '%s' is an alias itself (of '%s'): aliases resolve one level, point '%s' at "
                       "'%s'",
                       target, next, name, next);
    return err_set(err, ERR_ARG,
                   "unknown target '%s': not a base model in the --models directories, a fine-tuned model or "
                   "checkpoint of this data directory, nor an --adapter model",
                   target);
}

int registry_aliases_configure(const char *const *specs, int n, const char *data_dir, const char *database,
                               const char *const *dirs, int n_dirs, Err *err) {
    g_n_aliases = 0;
    g_configured_at = (long long)time(NULL);
    if (n > REGISTRY_MAX_ALIASES) return err_set(err, ERR_ARG, "--alias: %d aliases, at most %d", n, REGISTRY_MAX_ALIASES);
    Store *s = NULL;
    char db[4200];
    snprintf(db, sizeof db, "%s/ftune.db", data_dir);
    bool need_store = false;
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(specs[i], '=');
        need_store |= eq && strncmp(eq + 1, "ft:", 3) == 0;
    }
    if (need_store && (database || file_exists(db)) && store_open(data_dir, database, &s, err)) return err_prefix(err, "--alias");
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        FlagAlias a = {0};
        const char *eq = strchr(specs[i], '=');
        if (!eq) rc = err_set(err, ERR_ARG, "expected NAME=TARGET");
        else if ((size_t)(eq - specs[i]) >= sizeof a.name)
            rc = err_set(err, ERR_ARG, "the alias name is longer than %zu bytes", sizeof a.name - 1);
        if (!rc) {
            snprintf(a.name, sizeof a.name, "%.*s", (int)(eq - specs[i]), specs[i]);
            snprintf(a.target, sizeof a.target, "%s", eq + 1);
            for (int k = 0; k < g_n_aliases && !rc; k++)
                if (strcmp(g_aliases[k].name, a.name) == 0)
                    rc = err_set(err, ERR_ARG, "'%s' is already an earlier --alias (of '%s')", a.name,
                                 g_aliases[k].target);
        }
        /* an earlier flag's name is seen as an alias here: a flag cannot point at another */
        if (!rc) rc = registry_alias_check(s, dirs, n_dirs, a.name, a.target, err);
        if (rc) {
            g_n_aliases = 0;
            err_prefix(err, "--alias '%s'", specs[i]);
        } else {
            g_aliases[g_n_aliases++] = a;
        }
    }
    store_close(s);
    return rc;
}

int registry_alias_target(Store *s, const char *name, char target[STORE_NAME_MAX], bool *from_flag, Err *err) {
    if (from_flag) *from_flag = false;
    for (int i = 0; i < g_n_aliases; i++)
        if (strcmp(g_aliases[i].name, name) == 0) {
            snprintf(target, STORE_NAME_MAX, "%s", g_aliases[i].target);
            if (from_flag) *from_flag = true;
            return 0;
        }
    if (!s) return STORE_NOT_FOUND;
    AliasRecord *a = malloc(sizeof *a);
    if (!a) return err_set(err, ERR_NOMEM, "out of memory");
    int rc = store_alias_get(s, name, a, err);
    if (rc == 0) snprintf(target, STORE_NAME_MAX, "%s", a->target);
    free(a);
    return rc;
}

int registry_list_aliases(Store *s, RegistryAlias **out, int *n, Err *err) {
    *out = NULL;
    *n = 0;
    AliasRecord *table = NULL;
    int n_table = 0;
    if (s && store_alias_list(s, &table, &n_table, err)) return -1;
    RegistryAlias *list = malloc(((size_t)g_n_aliases + (size_t)n_table + 1) * sizeof *list);
    if (!list) {
        free(table);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    int count = 0;
    for (int i = 0; i < g_n_aliases; i++) {
        RegistryAlias *r = &list[count++];
        memset(r, 0, sizeof *r);
        memcpy(r->rec.name, g_aliases[i].name, sizeof r->rec.name); /* same sizes, NUL-terminated */
        memcpy(r->rec.target, g_aliases[i].target, sizeof r->rec.target);
        r->rec.created_at = r->rec.updated_at = g_configured_at;
        r->from_flag = true;
    }
    for (int i = 0; i < n_table; i++) {
        bool shadowed = false;
        for (int k = 0; k < g_n_aliases && !shadowed; k++) shadowed = strcmp(g_aliases[k].name, table[i].name) == 0;
        if (shadowed) continue;
        list[count].rec = table[i];
        list[count++].from_flag = false;
    }
    free(table);
    *out = list;
    *n = count;
    return 0;
}
