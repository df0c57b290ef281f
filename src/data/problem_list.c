/* problem_list.c: capped problem lists, JSON path formatting and safe quoting of client text. */
#include "problem_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBLEM_LIST_FIRST_BLOCK 64 /* problems allocated at first; the array doubles up to the cap */

static bool is_ident(const char *s, size_t n) {
    if (n == 0 || n > PROBLEM_QUOTE_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

void json_path_format(const JsonPath *p, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = 0;
    int n = p->n < JSON_PATH_DEPTH ? p->n : JSON_PATH_DEPTH;
    for (int i = 0; i < n && len + 1 < cap; i++) {
        const JsonPathSeg *s = &p->seg[i];
        int w;
        if (!s->key) {
            w = snprintf(buf + len, cap - len, "[%ld]", s->index);
        } else if (is_ident(s->key, s->key_len)) {
            w = snprintf(buf + len, cap - len, "%s%.*s", i ? "." : "", (int)s->key_len, s->key);
        } else {
            char q[PROBLEM_QUOTE_MAX * 6 + 8];
            w = snprintf(buf + len, cap - len, "[%s]", problem_quote(q, sizeof q, s->key, s->key_len));
        }
        if (w < 0) break;
        len += (size_t)w < cap - len ? (size_t)w : cap - len - 1;
    }
    if (p->n > JSON_PATH_DEPTH && len + 4 < cap) snprintf(buf + len, cap - len, "...");
}

char *problem_quote(char *buf, size_t cap, const char *s, size_t len) {
    size_t o = 0, i = 0;
    bool cut = false;
    if (cap < 8) {
        if (cap) buf[0] = 0;
        return buf;
    }
    buf[o++] = '"';
    while (i < len) {
        if (i >= PROBLEM_QUOTE_MAX) {
            cut = true;
            break;
        }
        unsigned char c = (unsigned char)s[i];
        size_t clen = 1;
        if (c >= 0x80) { /* copy a whole UTF-8 sequence (the input is valid UTF-8) */
            clen = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            if (i + clen > len) clen = len - i;
        }
        char esc[8];
        const char *piece = s + i;
        size_t plen = clen;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            piece = esc;
            plen = 2;
        } else if (c < 0x20 || c == 0x7F) {
            const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            if (named)
                snprintf(esc, sizeof esc, "%s", named);
            else
                snprintf(esc, sizeof esc, "\\u%04x", c);
            piece = esc;
            plen = strlen(esc);
        }
        if (o + plen + 5 >= cap) {
            cut = true;
            break;
        }
        memcpy(buf + o, piece, plen);
        o += plen;
        i += clen;
    }
    buf[o++] = '"';
    if (cut && o + 4 <= cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = 0;
    return buf;
}

void problem_list_init(ProblemList *pl, long cap) {
    memset(pl, 0, sizeof *pl);
    pl->cap = cap < 0 ? 0 : cap;
}

void problem_list_free(ProblemList *pl) {
    free(pl->errors);
    free(pl->warnings);
    memset(pl, 0, sizeof *pl);
}

static void fill(ValidateProblem *p, long line, ValidateSeverity sev, const char *code, const char *path,
                 const char *message) {
    p->line = line;
    p->severity = sev;
    p->code = code;
    snprintf(p->path, sizeof p->path, "%s", path ? path : "");
    snprintf(p->message, sizeof p->message, "%s", message ? message : "");
}

void problem_list_add(ProblemList *pl, long line, ValidateSeverity sev, const char *code, const char *path,
                      const char *message) {
    bool err = sev == VALIDATE_ERROR;
    if (err)
        pl->total_errors++;
    else
        pl->total_warnings++;
    ValidateProblem **arr = err ? &pl->errors : &pl->warnings;
    long *n = err ? &pl->n_errors : &pl->n_warnings;
    if (*n >= pl->cap) return;
    if (!*arr) {
        long first = pl->cap < PROBLEM_LIST_FIRST_BLOCK ? pl->cap : PROBLEM_LIST_FIRST_BLOCK;
        *arr = malloc((size_t)first * sizeof **arr);
        if (!*arr) {
            pl->nomem = true;
            return;
        }
    } else if ((*n & (*n - 1)) == 0 && *n >= PROBLEM_LIST_FIRST_BLOCK) { /* a power of two past the first block: grow */
        long want = *n * 2 > pl->cap ? pl->cap : *n * 2;
        ValidateProblem *a = realloc(*arr, (size_t)want * sizeof **arr);
        if (!a) {
            pl->nomem = true;
            return;
        }
        *arr = a;
    }
    fill(&(*arr)[(*n)++], line, sev, code, path, message);
}

typedef struct {
    long line, order;
} SortKey;

static int by_line(const void *a, const void *b) {
    const SortKey *x = a, *y = b;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order); /* stable: keep the order found */
}

/* Sorts n problems from src by line (stably) into dst. */
static int sort_into(ValidateProblem *dst, const ValidateProblem *src, long n) {
    if (n == 0) return 0;
    SortKey *k = malloc((size_t)n * sizeof *k);
    if (!k) return -1;
    for (long i = 0; i < n; i++) {
        k[i].line = src[i].line;
        k[i].order = i;
    }
    qsort(k, (size_t)n, sizeof *k, by_line);
    for (long i = 0; i < n; i++) dst[i] = src[k[i].order];
    free(k);
    return 0;
}

int problem_list_take(ProblemList *pl, ValidateProblem **out, long *n_out) {
    *out = NULL;
    *n_out = 0;
    long n_err = pl->n_errors, n_warn = pl->n_warnings;
    if (n_err > pl->cap) n_err = pl->cap;
    if (n_warn > pl->cap - n_err) n_warn = pl->cap - n_err;
    if (n_err + n_warn == 0) return pl->nomem ? -1 : 0;
    ValidateProblem *all = malloc((size_t)(n_err + n_warn) * sizeof *all);
    if (!all || sort_into(all, pl->errors, n_err) || sort_into(all + n_err, pl->warnings, n_warn)) {
        free(all);
        return -1;
    }
    *out = all;
    *n_out = n_err + n_warn;
    return pl->nomem ? -1 : 0;
}
