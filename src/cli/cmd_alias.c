/* cmd_alias.c: `ftune alias set NAME TARGET | rm NAME | list`: the model alias table in a data
 * directory's database (store.h), which a running `ftune serve` on that directory reads on every
 * lookup: a change applies to the next request, without a restart. The command does not take the
 * server's data-directory lock (DATA/lock says one *server* runs there): each change is one SQLite
 * transaction, which WAL mode lets it commit beside the server's connections. A target is checked
 * as the server would (registry_alias_check) against the --models directories and the database;
 * an --adapter model exists only inside a server, so an alias to one is given with `ftune serve
 * --alias` instead. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/fileio.h"
#include "../serve/server.h"
#include "../worker/registry.h"
#include "args.h"
#include "cli.h"

static const char *const ALIAS_OPTIONS[] = {"data", "database", "models", "json", NULL};
static const char *const ALIAS_FLAGS[] = {"json", NULL};

static void usage(void) {
    fprintf(stderr,
            "usage: ftune alias set NAME TARGET [--data DIR] [--database URI] [--models DIR]...\n"
            "       ftune alias rm NAME [--data DIR] [--database URI]\n"
            "       ftune alias list [--data DIR] [--database URI] [--models DIR]... [--json]\n"
            "Model aliases of the server whose data directory is DIR (default ./ftune-data): NAME then stands\n"
            "for TARGET wherever a model id goes (chat, models, the base of a fine-tuning job), from the\n"
            "server's next request on, whether or not it runs. TARGET is a base model in the --models\n"
            "directories (default ./models), or an ft: model or checkpoint of DIR; never another alias. NAME\n"
            "has no '/', ':' or spaces and is no model's own id. `set` on an existing NAME re-points it.\n");
}

/* Opens DIR's database (or the server's --database); with create false, STORE_NOT_FOUND (nothing
 * opened) when there is none. */
static int open_store(const char *dir, const char *database, bool create, Store **s, Err *err) {
    char db[4200];
    snprintf(db, sizeof db, "%s/ftune.db", dir);
    *s = NULL;
    if (!create && !database && !file_exists(db)) return STORE_NOT_FOUND;
    if (store_check_presence(dir, database, err) || store_open(dir, database, s, err)) return -1;
    return 0;
}

static int alias_set(const char *dir, const char *database, const char *const *dirs, int n_dirs, const char *name,
                     const char *target) {
    Store *s;
    Err err = {0};
    if (open_store(dir, database, true, &s, &err)) {
        fprintf(stderr, "ftune alias: %s\n", err.msg);
        return 1;
    }
    AliasRecord old;
    int had = store_alias_get(s, name, &old, &err);
    bool created = false;
    int status = 0;
    if (had < 0 || registry_alias_check(s, dirs, n_dirs, name, target, &err) ||
        store_alias_set(s, name, target, &created, &err)) {
        fprintf(stderr, "ftune alias: %s\n", err.msg);
        status = err.code == ERR_ARG ? EXIT_BAD_INPUT : 1;
    } else if (created || had != 0) {
        printf("%s -> %s\n", name, target);
    } else {
        printf("%s -> %s (was %s)\n", name, target, old.target);
    }
    store_close(s);
    return status;
}

static int alias_rm(const char *dir, const char *database, const char *name) {
    Store *s;
    Err err = {0};
    int rc = open_store(dir, database, false, &s, &err);
    if (rc == 0) rc = store_alias_delete(s, name, &err);
    store_close(s);
    if (rc == STORE_NOT_FOUND) {
        fprintf(stderr, "ftune alias: no alias '%s' in %s\n", name, dir);
        return EXIT_BAD_INPUT;
    }
    if (rc) {
        fprintf(stderr, "ftune alias: %s\n", err.msg);
        return 1;
    }
    printf("removed %s\n", name);
    return 0;
}

static int alias_list(const char *dir, const char *database, const char *const *dirs, int n_dirs, bool as_json) {
    Store *s;
    Err err = {0};
    AliasRecord *list = NULL;
    int n = 0;
    int rc = open_store(dir, database, false, &s, &err);
    if (rc == 0) rc = store_alias_list(s, &list, &n, &err);
    if (rc < 0) {
        store_close(s);
        fprintf(stderr, "ftune alias: %s\n", err.msg);
        return 1;
    }
    json_t *out = json_array();
    for (int i = 0; i < n; i++) {
        ModelInfo m;
        bool found = registry_resolve_model(s, dirs, n_dirs, list[i].target, &m, &err) == 0;
        if (as_json)
            json_array_append_new(out, json_pack("{s:s, s:s, s:b, s:I, s:I}", "name", list[i].name, "target",
                                                 list[i].target, "target_exists", found, "created_at",
                                                 (json_int_t)list[i].created_at, "updated_at",
                                                 (json_int_t)list[i].updated_at));
        else
            printf("%s -> %s%s\n", list[i].name, list[i].target, found ? "" : "  (target missing)");
    }
    if (as_json) {
        char *text = json_dumps(out, JSON_INDENT(2));
        if (text) printf("%s\n", text);
        free(text);
    }
    json_decref(out);
    free(list);
    store_close(s);
    return 0;
}

int cmd_alias(int argc, char **argv) {
    Args a;
    int status;
    if (args_parse_command(&a, argc, argv, "alias", ALIAS_FLAGS, ALIAS_OPTIONS, usage, &status)) return status;
    const char *verb = a.n_positional ? a.positional[0] : "";
    int want = strcmp(verb, "set") == 0 ? 3 : strcmp(verb, "rm") == 0 ? 2 : strcmp(verb, "list") == 0 ? 1 : -1;
    if (want < 0 || a.n_positional != want) {
        if (want < 0 && a.n_positional) fprintf(stderr, "ftune alias: unknown action '%s'\n", verb);
        usage();
        return EXIT_BAD_INPUT;
    }
    umask(077); /* as the server: a database this makes is its owner's alone */
    const char *dir = args_get(&a, "data") ? args_get(&a, "data") : "ftune-data";
    const char *database = args_get(&a, "database");
    if (database && !store_is_database_url(database)) {
        fprintf(stderr, "ftune alias: --database \"%s\": expected a postgresql:// or postgres:// URI\n", database);
        return EXIT_BAD_INPUT;
    }
    const char *dirs[SERVER_MAX_DIRS];
    int n_dirs = args_all(&a, "models", dirs, SERVER_MAX_DIRS);
    if (!n_dirs) dirs[n_dirs++] = "models";
    if (want == 3) return alias_set(dir, database, dirs, n_dirs, a.positional[1], a.positional[2]);
    if (want == 2) return alias_rm(dir, database, a.positional[1]);
    return alias_list(dir, database, dirs, n_dirs, args_has(&a, "json"));
}
