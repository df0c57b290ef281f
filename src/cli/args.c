/* args.c: option parsing for the subcommands. */
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool name_is(const Args *a, int i, const char *name) {
    return (size_t)a->name_lens[i] == strlen(name) && strncmp(a->names[i], name, a->name_lens[i]) == 0;
}

static bool in_list(const char *name, const char *const *list) {
    for (; list && *list; list++)
        if (strcmp(*list, name) == 0) return true;
    return false;
}

int args_parse(Args *a, int argc, char **argv, const char *const *flags) {
    memset(a, 0, sizeof *a);
    bool only_positional = false;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!only_positional && (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0)) {
            /* every command takes --help / -h: a flag named "help" */
            if (a->n == ARGS_MAX) {
                fprintf(stderr, "ftune: too many options\n");
                return -1;
            }
            a->names[a->n] = "help";
            a->name_lens[a->n] = 4;
            a->values[a->n++] = NULL;
            continue;
        }
        if (only_positional || strncmp(s, "--", 2) != 0 || s[2] == 0) {
            if (!only_positional && strcmp(s, "--") == 0) {
                only_positional = true;
                continue;
            }
            if (a->n_positional == ARGS_MAX) {
                fprintf(stderr, "ftune: too many arguments\n");
                return -1;
            }
            a->positional[a->n_positional++] = s;
            continue;
        }
        if (a->n == ARGS_MAX) {
            fprintf(stderr, "ftune: too many options\n");
            return -1;
        }
        const char *name = s + 2, *eq = strchr(name, '=');
        a->names[a->n] = name;
        a->name_lens[a->n] = eq ? (int)(eq - name) : (int)strlen(name);
        if (eq) {
            a->values[a->n] = eq + 1;
        } else if (in_list(name, flags)) {
            a->values[a->n] = NULL;
        } else {
            if (i + 1 >= argc) {
                fprintf(stderr, "ftune: option --%s needs a value\n", name);
                return -1;
            }
            a->values[a->n] = argv[++i];
        }
        a->n++;
    }
    return 0;
}

const char *args_get(const Args *a, const char *name) {
    const char *v = NULL;
    for (int i = 0; i < a->n; i++)
        if (name_is(a, i, name)) v = a->values[i] ? a->values[i] : "";
    return v;
}

bool args_has(const Args *a, const char *name) { return args_get(a, name) != NULL; }

int args_all(const Args *a, const char *name, const char **out, int max) {
    int n = 0;
    size_t len = strlen(name);
    for (int i = 0; i < a->n; i++)
        if ((size_t)a->name_lens[i] == len && strncmp(a->names[i], name, len) == 0 && a->values[i] && n < max)
            out[n++] = a->values[i];
    return n;
}

int args_int(const Args *a, const char *name, long *out, long min, long max) {
    const char *v = args_get(a, name);
    if (!v) return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max) {
        fprintf(stderr, "ftune: --%s: expected an integer from %ld to %ld, got '%s'\n", name, min, max, v);
        return -1;
    }
    *out = x;
    return 0;
}

int args_float(const Args *a, const char *name, double *out, double min, double max) {
    const char *v = args_get(a, name);
    if (!v) return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= min && x <= max)) {
        fprintf(stderr, "ftune: --%s: expected a number from %g to %g, got '%s'\n", name, min, max, v);
        return -1;
    }
    *out = x;
    return 0;
}

int args_check_known(const Args *a, const char *cmd, const char *const *allowed) {
    for (int i = 0; i < a->n; i++) {
        bool known = name_is(a, i, "help");
        for (const char *const *p = allowed; p && *p && !known; p++) known = name_is(a, i, *p);
        if (!known) {
            fprintf(stderr, "ftune %s: unknown option --%.*s\n", cmd, a->name_lens[i], a->names[i]);
            return -1;
        }
    }
    return 0;
}

int args_parse_command(Args *a, int argc, char **argv, const char *cmd, const char *const *flags,
                       const char *const *allowed, void (*usage)(void), int *status) {
    int bad = args_parse(a, argc, argv, flags);
    if (!bad && args_has(a, "help")) {
        usage();
        *status = 0;
        return 1;
    }
    if (bad || args_check_known(a, cmd, allowed)) {
        usage();
        *status = 2; /* EXIT_BAD_INPUT */
        return 1;
    }
    return 0;
}
