/* cmd_keys.c: `ftune keys create|list|revoke`: API keys and projects in a data directory's store,
 * with or without a server running on it (a running server reads keys on every request: a new
 * key works and a revoked one stops at once). `create` prints the secret on stdout, alone on its
 * line, once: only its SHA-256 digest is kept. A project named by --project is made when missing
 * (said on stderr). The HTTP face of the same store is routes_admin.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../core/fileio.h"
#include "../store/store.h"
#include "args.h"
#include "cli.h"

#define KEYS_DATA_DEFAULT "ftune-data" /* as ftune serve's --data */
#define KEYS_LIST_PAGE 1000

static const char *const KEYS_OPTIONS[] = {"data", "database", "project", "name", "admin", NULL};
static const char *const KEYS_FLAGS[] = {"admin", NULL};

static void usage(void) {
    fprintf(stderr,
            "usage: ftune keys create --project P [--name N] [--data DIR] [--database URI]\n"
            "       ftune keys create --admin [--name N] [--data DIR] [--database URI]\n"
            "       ftune keys list [--project P] [--data DIR] [--database URI]\n"
            "       ftune keys revoke KEY_ID [--data DIR] [--database URI]\n"
            "Manages the API keys of `ftune serve --data DIR` (default ./" KEYS_DATA_DEFAULT "), running or not\n"
            "(or of a server with --database URI: pass the same URI).\n"
            "A project key (sk-proj-...) sees only its project's files, fine-tuning jobs and fine-tuned models;\n"
            "an admin key (sk-admin-...) only manages projects and keys (/v1/organization/...). P is a project's\n"
            "name or id; `create` makes the project when no project has that name. The server's --api-key keys\n"
            "act in the project named '" STORE_DEFAULT_PROJECT_NAME "' (id " STORE_DEFAULT_PROJECT "), which also holds what was\n"
            "created before projects. Once any key exists, every request needs a key. `create` prints the key\n"
            "once on stdout; only its digest is stored. `revoke` stops a key at once, running server included.\n");
}

static void print_time(long long t, char *out, size_t size) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, size, "%Y-%m-%d %H:%M:%SZ", &tm);
}

/* The project named (or with the id) ref, made when missing and make is true. */
static int find_project(Store *s, const char *ref, bool make, ProjectRecord *p) {
    Err err = {0};
    int rc = store_project_get(s, ref, p, &err);
    if (rc == STORE_NOT_FOUND && make) {
        rc = store_project_create(s, ref, p, &err);
        if (rc == 0) fprintf(stderr, "ftune keys: created project '%s' (%s)\n", p->name, p->id);
        if (rc == STORE_CONFLICT) rc = store_project_get(s, ref, p, &err); /* made meanwhile */
    }
    if (rc == STORE_NOT_FOUND) fprintf(stderr, "ftune keys: no project named '%s' (or with that id)\n", ref);
    else if (rc) fprintf(stderr, "ftune keys: %s\n", err.msg);
    return rc;
}

static int keys_create(Store *s, const Args *a) {
    const char *project = args_get(a, "project"), *name = args_get(a, "name");
    bool admin = args_has(a, "admin");
    if (admin == (project != NULL)) {
        fprintf(stderr, "ftune keys create: pass either --project P or --admin\n");
        return EXIT_BAD_INPUT;
    }
    if (name && (!name[0] || strlen(name) >= STORE_NAME_MAX)) {
        fprintf(stderr, "ftune keys create: --name must have 1 to %d bytes\n", STORE_NAME_MAX - 1);
        return EXIT_BAD_INPUT;
    }
    ProjectRecord p;
    if (project) {
        if (!project[0] || strlen(project) >= STORE_NAME_MAX) {
            fprintf(stderr, "ftune keys create: --project must have 1 to %d bytes\n", STORE_NAME_MAX - 1);
            return EXIT_BAD_INPUT;
        }
        if (find_project(s, project, true, &p)) return 1;
    }
    KeyRecord k;
    char secret[STORE_KEY_SECRET_MAX];
    Err err = {0};
    if (store_key_create(s, project ? p.id : NULL, name, &k, secret, &err)) {
        fprintf(stderr, "ftune keys create: %s\n", err.msg);
        return 1;
    }
    printf("%s\n", secret);
    fflush(stdout);
    memset(secret, 0, sizeof secret);
    if (admin) fprintf(stderr, "ftune keys: created admin key %s: keep it now, it is not shown again\n", k.id);
    else
        fprintf(stderr, "ftune keys: created key %s of project '%s' (%s): keep it now, it is not shown again\n", k.id,
                p.name, p.id);
    return 0;
}

static int keys_list(Store *s, const Args *a) {
    const char *ref = args_get(a, "project");
    ProjectRecord p;
    if (ref && find_project(s, ref, false, &p)) return 1;
    printf("%-28s %-30s %-20s %-22s %-20s %s\n", "ID", "PROJECT", "NAME", "KEY", "CREATED", "STATUS");
    const char *after = NULL;
    char cursor[STORE_ID_MAX];
    for (bool more = true; more;) {
        KeyRecord *keys;
        int n;
        Err err = {0};
        if (store_key_list(s, ref ? p.id : NULL, after, KEYS_LIST_PAGE, &keys, &n, &more, &err)) {
            fprintf(stderr, "ftune keys list: %s\n", err.msg);
            return 1;
        }
        for (int i = 0; i < n; i++) {
            const KeyRecord *k = &keys[i];
            char created[32], revoked[48] = "active";
            print_time(k->created_at, created, sizeof created);
            if (k->revoked_at) {
                char when[32];
                print_time(k->revoked_at, when, sizeof when);
                snprintf(revoked, sizeof revoked, "revoked %s", when);
            }
            printf("%-28s %-30s %-20s %-22s %-20s %s\n", k->id, k->admin ? "(admin)" : k->project,
                   k->name[0] ? k->name : "-", k->redacted, created, revoked);
        }
        if (n) snprintf(cursor, sizeof cursor, "%s", keys[n - 1].id);
        after = cursor;
        free(keys);
        if (!n) break;
    }
    return 0;
}

static int keys_revoke(Store *s, const char *id) {
    Err err = {0};
    int rc = store_key_revoke(s, id, &err);
    if (rc == STORE_NOT_FOUND) fprintf(stderr, "ftune keys revoke: no key %s\n", id);
    else if (rc == STORE_CONFLICT) fprintf(stderr, "ftune keys revoke: %s was revoked already\n", id);
    else if (rc) fprintf(stderr, "ftune keys revoke: %s\n", err.msg);
    else fprintf(stderr, "ftune keys: revoked %s\n", id);
    return rc == 0 ? 0 : rc == STORE_NOT_FOUND || rc == STORE_CONFLICT ? EXIT_BAD_INPUT : 1;
}

int cmd_keys(int argc, char **argv) {
    Args a;
    int status;
    if (args_parse_command(&a, argc, argv, "keys", KEYS_FLAGS, KEYS_OPTIONS, usage, &status)) return status;
    const char *verb = a.n_positional ? a.positional[0] : "";
    int want = strcmp(verb, "revoke") == 0 ? 2 : 1;
    bool known = strcmp(verb, "create") == 0 || strcmp(verb, "list") == 0 || want == 2;
    if (!known || a.n_positional != want) {
        if (known) fprintf(stderr, "ftune keys %s: %s\n", verb, want == 2 ? "name one KEY_ID" : "takes no argument");
        else fprintf(stderr, "ftune keys: %s%s\n", verb[0] ? "unknown action: " : "an action is needed", verb);
        usage();
        return EXIT_BAD_INPUT;
    }
    if (strcmp(verb, "create") != 0 && (args_has(&a, "admin") || args_get(&a, "name") ||
                                         (want == 2 && args_get(&a, "project")))) {
        fprintf(stderr, "ftune keys %s: --admin, --name%s belong to `create`\n", verb, want == 2 ? ", --project" : "");
        return EXIT_BAD_INPUT;
    }
    const char *dir = args_get(&a, "data") ? args_get(&a, "data") : KEYS_DATA_DEFAULT;
    const char *database = args_get(&a, "database");
    if (database && !store_is_database_url(database)) {
        fprintf(stderr, "ftune keys: --database \"%s\": expected a postgresql:// or postgres:// URI\n", database);
        return EXIT_BAD_INPUT;
    }
    if (strcmp(verb, "create") != 0 && !file_is_dir(dir)) { /* listing or revoking never makes a directory */
        fprintf(stderr, "ftune keys %s: %s: no such data directory\n", verb, dir);
        return EXIT_BAD_INPUT;
    }
    umask(077); /* as ftune serve: the data directory is its owner's alone */
    Store *s;
    Err err = {0};
    /* as ftune serve: never a new database beside the uploads and jobs of a lost one */
    if (store_check_presence(dir, database, &err) || store_open(dir, database, &s, &err)) {
        fprintf(stderr, "ftune keys: %s\n", err.msg);
        return 1;
    }
    int rc = strcmp(verb, "create") == 0 ? keys_create(s, &a)
             : strcmp(verb, "list") == 0 ? keys_list(s, &a)
                                         : keys_revoke(s, a.positional[1]);
    store_close(s);
    return rc;
}
