/* eval_template.c: `{{item.x}}` / `{{sample.x}}` references checked and rendered (see
 * eval_template.h). */
#include "eval_template.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEMPLATE_PATH_MAX 256

/* The reference between "{{" at p and the next "}}", trimmed, into path; *end past the "}}". */
static int read_ref(const char *p, char *path, size_t cap, const char **end, Err *err) {
    const char *close = strstr(p + 2, "}}");
    if (!close) return err_set(err, ERR_ARG, "'{{' at '%.30s' is not closed by '}}'", p);
    const char *a = p + 2, *b = close;
    while (a < b && (*a == ' ' || *a == '\t')) a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
    if ((size_t)(b - a) >= cap) return err_set(err, ERR_ARG, "the reference '%.40s...' is too long", a);
    memcpy(path, a, (size_t)(b - a));
    path[b - a] = 0;
    *end = close + 2;
    size_t n = strlen(path);
    bool ok = n > 0 && path[0] != '.' && path[n - 1] != '.' && !strstr(path, "..");
    for (size_t i = 0; ok && i < n; i++)
        ok = (path[i] >= 'a' && path[i] <= 'z') || (path[i] >= 'A' && path[i] <= 'Z') || (path[i] >= '0' && path[i] <= '9') ||
             path[i] == '_' || path[i] == '-' || path[i] == '.';
    if (!ok) return err_set(err, ERR_ARG, "'{{%s}}' is not a reference (expected {{item.field}} or {{sample.field}})", path);
    if (strncmp(path, "item.", 5) != 0 && strncmp(path, "sample.", 7) != 0 && strcmp(path, "item") != 0 &&
        strcmp(path, "sample") != 0)
        return err_set(err, ERR_ARG, "'{{%s}}' names neither item nor sample", path);
    return 0;
}

int eval_template_check(const char *tmpl, Err *err) {
    char path[TEMPLATE_PATH_MAX];
    for (const char *p = strstr(tmpl, "{{"); p; p = strstr(p, "{{"))
        if (read_ref(p, path, sizeof path, &p, err)) return -1;
    return 0;
}

json_t *eval_template_lookup(json_t *root, const char *path) {
    json_t *v = root;
    const char *p = path;
    while (v && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char key[TEMPLATE_PATH_MAX];
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        if (json_is_object(v)) {
            v = json_object_get(v, key);
        } else if (json_is_array(v)) {
            char *end;
            long i = strtol(key, &end, 10);
            v = *end || i < 0 ? NULL : json_array_get(v, (size_t)i);
        } else {
            v = NULL;
        }
        p += n + (dot ? 1 : 0);
    }
    return v;
}

typedef struct {
    char *s;
    size_t len, cap;
} Text;

static bool append(Text *t, const char *s, size_t n) {
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        while (cap < t->len + n + 1) cap *= 2;
        char *p = realloc(t->s, cap);
        if (!p) return false;
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = 0;
    return true;
}

int eval_template_render(const char *tmpl, json_t *item, json_t *sample, char **out, Err *err) {
    *out = NULL;
    Text t = {0};
    bool ok = append(&t, "", 0);
    int rc = 0;
    const char *p = tmpl;
    for (const char *q = strstr(p, "{{"); ok && !rc && q; q = strstr(p, "{{")) {
        ok = append(&t, p, (size_t)(q - p));
        char path[TEMPLATE_PATH_MAX];
        if (!ok || (rc = read_ref(q, path, sizeof path, &p, err))) break;
        bool is_item = strncmp(path, "item", 4) == 0;
        json_t *ns = is_item ? item : sample;
        const char *rest = path + (is_item ? 4 : 6);
        if (*rest == '.') rest++;
        json_t *v = ns ? eval_template_lookup(ns, rest) : NULL;
        if (!v) {
            rc = err_set(err, ERR_ARG, "{{%s}}: %s", path, ns ? "no such field" : "no such namespace here");
        } else if (json_is_string(v)) {
            ok = append(&t, json_string_value(v), json_string_length(v));
        } else if (!json_is_null(v)) {
            char *js = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            ok = js && append(&t, js, strlen(js));
            free(js);
        }
    }
    if (ok && !rc) ok = append(&t, p, strlen(p));
    if (!ok && !rc) rc = err_set(err, ERR_NOMEM, "out of memory");
    if (rc) {
        free(t.s);
        return -1;
    }
    *out = t.s;
    return 0;
}
