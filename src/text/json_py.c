/* json_py.c: Python-style JSON serialisation (see json_py.h). Values are parsed with Jansson
 * (which keeps object keys in their order) and written into a growing buffer. */
#include "json_py.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} Buf;

static void put(Buf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) {
            b->failed = true;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = 0;
}

static void put_str(Buf *b, const char *s) { put(b, s, strlen(s)); }

/* Python's json string encoder with ensure_ascii=False: only '"', '\\' and characters below 0x20
 * are escaped. */
static void put_quoted(Buf *b, const char *s, size_t n) {
    put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20) {
                snprintf(u, sizeof u, "\\u%04x", c);
                esc = u;
            }
        }
        if (!esc) continue;
        put(b, s + run, i - run);
        put_str(b, esc);
        run = i + 1;
    }
    put(b, s + run, n - run);
    put(b, "\"", 1);
}

/* repr(float): the shortest %e digits that read back to d, laid out as Python's float_repr_style
 * 'short' does (fixed notation for decimal exponents -4 <= e < 16, else d.ddde+XX). */
static void put_real(Buf *b, double d) {
    char e[40];
    for (int prec = 0; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, d);
        if (strtod(e, NULL) == d) break;
    }
    /* e is [-]D[.DDD]e[+-]XX */
    const char *p = e;
    bool neg = *p == '-';
    if (neg) p++;
    char digits[24];
    int nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    int exp10 = atoi(p + 1); /* value = 0.D1D2... x 10^(exp10 + 1) */
    int decpt = exp10 + 1;
    char out[64];
    int k = 0;
    if (neg) out[k++] = '-';
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            out[k++] = '0';
            out[k++] = '.';
            for (int i = 0; i < -decpt; i++) out[k++] = '0';
            for (int i = 0; i < nd; i++) out[k++] = digits[i];
        } else {
            for (int i = 0; i < decpt; i++) out[k++] = i < nd ? digits[i] : '0';
            out[k++] = '.';
            if (nd > decpt)
                for (int i = decpt; i < nd; i++) out[k++] = digits[i];
            else
                out[k++] = '0';
        }
        out[k] = 0;
    } else {
        out[k++] = digits[0];
        if (nd > 1) {
            out[k++] = '.';
            for (int i = 1; i < nd; i++) out[k++] = digits[i];
        }
        snprintf(out + k, sizeof out - (size_t)k, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    }
    put_str(b, out);
}

/* A line break and the indentation of nesting level depth (json.dumps with indent). */
static void put_newline(Buf *b, int indent, int depth) {
    put(b, "\n", 1);
    for (int i = 0; i < indent * depth; i++) put(b, " ", 1);
}

/* indent > 0: json.dumps(indent=indent): items on their own lines, separators (",", ": "). */
static int put_value(Buf *b, json_t *v, bool compact, int indent, int depth, Err *err) {
    if (depth > JSON_PY_MAX_DEPTH) return err_set(err, ERR_ARG, "JSON nested deeper than %d levels", JSON_PY_MAX_DEPTH);
    const char *item_sep = compact || indent > 0 ? "," : ", ", *key_sep = compact ? ":" : ": ";
    char num[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        put(b, "{", 1);
        const char *key;
        json_t *x;
        bool first = true;
        json_object_foreach(v, key, x) {
            if (!first) put_str(b, item_sep);
            first = false;
            if (indent > 0) put_newline(b, indent, depth + 1);
            put_quoted(b, key, strlen(key));
            put_str(b, key_sep);
            if (put_value(b, x, compact, indent, depth + 1, err)) return -1;
        }
        if (indent > 0 && !first) put_newline(b, indent, depth);
        put(b, "}", 1);
        break;
    }
    case JSON_ARRAY:
        put(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) put_str(b, item_sep);
            if (indent > 0) put_newline(b, indent, depth + 1);
            if (put_value(b, json_array_get(v, i), compact, indent, depth + 1, err)) return -1;
        }
        if (indent > 0 && json_array_size(v) > 0) put_newline(b, indent, depth);
        put(b, "]", 1);
        break;
    case JSON_STRING: put_quoted(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        put_str(b, num);
        break;
    case JSON_REAL: put_real(b, json_real_value(v)); break;
    case JSON_TRUE: put_str(b, "true"); break;
    case JSON_FALSE: put_str(b, "false"); break;
    case JSON_NULL: put_str(b, "null"); break;
    }
    return 0;
}

static int finish(Buf *b, char **out, size_t *out_len, Err *err) {
    if (b->failed || !b->buf) {
        free(b->buf);
        return err_set(err, ERR_NOMEM, "out of memory writing JSON");
    }
    *out = b->buf;
    if (out_len) *out_len = b->len;
    return 0;
}

static int dumps(const char *text, size_t len, bool compact, int indent, char **out, size_t *out_len, Err *err) {
    *out = NULL;
    if (out_len) *out_len = 0;
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v) return err_set(err, ERR_ARG, "not valid JSON: %s (at byte %d)", je.text, je.position);
    Buf b = {0};
    int rc = put_value(&b, v, compact, indent, 0, err);
    json_decref(v);
    if (rc) {
        free(b.buf);
        return -1;
    }
    return finish(&b, out, out_len, err);
}

int json_py_dumps(const char *text, size_t len, bool compact, char **out, size_t *out_len, Err *err) {
    return dumps(text, len, compact, 0, out, out_len, err);
}

int json_py_dumps_indent(const char *text, size_t len, int indent, char **out, size_t *out_len, Err *err) {
    if (indent < 1 || indent > JSON_PY_MAX_INDENT) return err_set(err, ERR_ARG, "JSON indent %d is not 1..%d", indent, JSON_PY_MAX_INDENT);
    return dumps(text, len, false, indent, out, out_len, err);
}

int json_py_dumps_string(const char *s, size_t len, char **out, size_t *out_len, Err *err) {
    *out = NULL;
    if (out_len) *out_len = 0;
    Buf b = {0};
    put_quoted(&b, s, len);
    return finish(&b, out, out_len, err);
}
