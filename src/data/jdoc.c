/* jdoc.c: the line JSON reader: recursive descent over a NUL-terminated buffer into a flat node
 * array, with string escapes decoded into one scratch buffer sized for the whole line (so that
 * string pointers never move during a parse), and the duplicate-key check done per object once
 * its members are read. */
#include "jdoc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8_check.h"

#define JDOC_NODES_INITIAL 256
#define JDOC_SMALL_OBJECT 16 /* members compared pairwise; larger objects are sorted */

struct JDocKey {
    uint64_t hash;
    const char *p;
    uint32_t len;
};

typedef struct {
    JDoc *d;
    const char *s; /* current position */
    const char *begin, *end;
    size_t depth;
    int status;
} Parser;

/* 1 for the bytes that stop the fast string scan: '"', '\\' and control characters. */
static const unsigned char STRING_STOP[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

void jdoc_init(JDoc *d, uint32_t max_nodes) {
    memset(d, 0, sizeof *d);
    d->max_nodes = max_nodes ? max_nodes : 1;
}

void jdoc_free(JDoc *d) {
    if (!d) return;
    free(d->nodes);
    free(d->scratch);
    free(d->keys);
    memset(d, 0, sizeof *d);
}

static int fail(Parser *p, int status, const char *at, const char *fmt, ...) {
    if (p->status) return -1;
    p->status = status;
    p->d->err_pos = (size_t)(at - p->begin);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->d->err_msg, sizeof p->d->err_msg, fmt, ap);
    va_end(ap);
    return -1;
}

static uint32_t node_new(Parser *p, JDocType type, const char *at) {
    JDoc *d = p->d;
    if (d->n_nodes >= d->max_nodes) {
        fail(p, JDOC_TOO_MANY, at, "more than %u JSON values", d->max_nodes);
        return JDOC_NONE;
    }
    if (d->n_nodes == d->cap_nodes) {
        uint32_t cap = d->cap_nodes ? d->cap_nodes * 2 : JDOC_NODES_INITIAL;
        if (cap > d->max_nodes) cap = d->max_nodes;
        JNode *nodes = realloc(d->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) {
            fail(p, JDOC_NOMEM, at, "out of memory");
            return JDOC_NONE;
        }
        d->nodes = nodes;
        d->cap_nodes = cap;
    }
    uint32_t n = d->n_nodes++;
    JNode *x = &d->nodes[n];
    x->start = (uint32_t)(at - p->begin);
    x->len = 0;
    x->next = x->first = JDOC_NONE;
    x->count = 0;
    x->type = (uint8_t)type;
    x->in_scratch = 0;
    return n;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Advances u past bytes that need no attention in a string (not '"', '\\' or a control
 * character), eight at a time while end allows, then one at a time. */
static inline const unsigned char *scan_plain(const unsigned char *u, const unsigned char *end) {
    while (u + 8 <= end) {
        uint64_t w;
        memcpy(&w, u, 8);
        uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
        uint64_t stop = ((q - ONES) & ~q) | ((b - ONES) & ~b) | (w - ONES * 0x20);
        if (stop & ~w & HIGHS) break;
        u += 8;
    }
    while (!STRING_STOP[*u]) u++;
    return u;
}

static inline const char *skip_ws(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    return s;
}

static int hex4(const char *s) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

static char *put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80)
        *o++ = (char)cp;
    else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | cp >> 18);
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* p->s is at the opening quote. The decoded bytes of strings with escapes go to the scratch
 * buffer at *scratch_used. */
static uint32_t parse_string(Parser *p, size_t *scratch_used) {
    const char *q = p->s + 1, *start = q;
    uint32_t n = node_new(p, JDOC_STRING, start);
    if (n == JDOC_NONE) return n;
    const unsigned char *u = scan_plain((const unsigned char *)q, (const unsigned char *)p->end);
    q = (const char *)u;
    if (*q == '"') {
        p->d->nodes[n].len = (uint32_t)(q - start);
        p->s = q + 1;
        return n;
    }
    /* Escapes (or an error): decode into the scratch buffer. */
    char *o0 = p->d->scratch + *scratch_used, *o = o0;
    memcpy(o, start, (size_t)(q - start));
    o += q - start;
    for (;;) {
        unsigned char c = (unsigned char)*q;
        if (c == '"') break;
        if (c == '\\') {
            char e = q[1];
            switch (e) {
            case '"':
            case '\\':
            case '/':
                *o++ = e;
                q += 2;
                break;
            case 'b':
                *o++ = '\b';
                q += 2;
                break;
            case 'f':
                *o++ = '\f';
                q += 2;
                break;
            case 'n':
                *o++ = '\n';
                q += 2;
                break;
            case 'r':
                *o++ = '\r';
                q += 2;
                break;
            case 't':
                *o++ = '\t';
                q += 2;
                break;
            case 'u': {
                int v = hex4(q + 2);
                if (v < 0) return fail(p, JDOC_SYNTAX, q, "invalid escape"), JDOC_NONE;
                q += 6;
                uint32_t cp = (uint32_t)v;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    int v2 = q[0] == '\\' && q[1] == 'u' ? hex4(q + 2) : -1;
                    if (v2 < 0xDC00 || v2 > 0xDFFF) return fail(p, JDOC_SYNTAX, q, "invalid Unicode escape"), JDOC_NONE;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)v2 - 0xDC00);
                    q += 6;
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return fail(p, JDOC_SYNTAX, q, "invalid Unicode escape"), JDOC_NONE;
                } else if (cp == 0) {
                    return fail(p, JDOC_SYNTAX, q, "\\u0000 is not allowed"), JDOC_NONE;
                }
                o = put_utf8(o, cp);
                break;
            }
            default: return fail(p, JDOC_SYNTAX, q, "invalid escape"), JDOC_NONE;
            }
            continue;
        }
        if (c < 0x20) {
            if (c == 0 && q >= p->end) return fail(p, JDOC_SYNTAX, q, "premature end of input"), JDOC_NONE;
            return fail(p, JDOC_SYNTAX, q, "control character 0x%x in a string", c), JDOC_NONE;
        }
        u = (const unsigned char *)q;
        do *o++ = (char)*u++;
        while (!STRING_STOP[*u]);
        q = (const char *)u;
    }
    JNode *x = &p->d->nodes[n];
    x->in_scratch = 1;
    x->start = (uint32_t)(o0 - p->d->scratch);
    x->len = (uint32_t)(o - o0);
    *o++ = 0;
    *scratch_used += (size_t)(o - o0);
    p->s = q + 1;
    return n;
}

static inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

static uint32_t parse_number(Parser *p) {
    const char *s = p->s, *t = s;
    bool real = false;
    if (*t == '-') t++;
    if (*t == '0') {
        t++;
    } else if (*t >= '1' && *t <= '9') {
        while (is_digit(*t)) t++;
    } else {
        return fail(p, JDOC_SYNTAX, s, "invalid token"), JDOC_NONE;
    }
    if (*t == '.') {
        t++;
        if (!is_digit(*t)) return fail(p, JDOC_SYNTAX, t, "invalid number"), JDOC_NONE;
        while (is_digit(*t)) t++;
        real = true;
    }
    if (*t == 'e' || *t == 'E') {
        t++;
        if (*t == '+' || *t == '-') t++;
        if (!is_digit(*t)) return fail(p, JDOC_SYNTAX, t, "invalid number"), JDOC_NONE;
        while (is_digit(*t)) t++;
        real = true;
    }
    errno = 0;
    if (real) {
        double v = strtod(s, NULL);
        if (errno == ERANGE && isinf(v)) return fail(p, JDOC_SYNTAX, s, "real number overflow"), JDOC_NONE;
    } else {
        (void)strtoll(s, NULL, 10);
        if (errno == ERANGE) return fail(p, JDOC_SYNTAX, s, "too big integer"), JDOC_NONE;
    }
    uint32_t n = node_new(p, real ? JDOC_REAL : JDOC_INT, s);
    if (n == JDOC_NONE) return n;
    p->d->nodes[n].len = (uint32_t)(t - s);
    p->s = t;
    return n;
}

static uint32_t parse_value(Parser *p, size_t *scratch_used);

static int key_cmp(const void *a, const void *b) {
    const JDocKey *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(x->p, y->p, x->len);
}

/* Rejects an object with two equal keys (compared decoded). */
static int check_duplicate_keys(Parser *p, uint32_t obj) {
    JDoc *d = p->d;
    uint32_t members = d->nodes[obj].count / 2;
    if (members < 2) return 0;
    const char *at = p->begin + d->nodes[obj].start;
    if (members <= JDOC_SMALL_OBJECT) {
        for (uint32_t a = d->nodes[obj].first; a != JDOC_NONE; a = d->nodes[d->nodes[a].next].next) {
            size_t la, lb;
            const char *sa = jdoc_str(d, a, &la);
            for (uint32_t b = d->nodes[d->nodes[a].next].next; b != JDOC_NONE; b = d->nodes[d->nodes[b].next].next) {
                const char *sb = jdoc_str(d, b, &lb);
                if (la == lb && memcmp(sa, sb, la) == 0) return fail(p, JDOC_SYNTAX, at, "duplicate object key");
            }
        }
        return 0;
    }
    if (members > d->keys_cap) {
        JDocKey *k = realloc(d->keys, (size_t)members * sizeof *k);
        if (!k) return fail(p, JDOC_NOMEM, at, "out of memory");
        d->keys = k;
        d->keys_cap = members;
    }
    uint32_t i = 0;
    for (uint32_t a = d->nodes[obj].first; a != JDOC_NONE; a = d->nodes[d->nodes[a].next].next, i++) {
        size_t len;
        d->keys[i].p = jdoc_str(d, a, &len);
        d->keys[i].len = (uint32_t)len;
        d->keys[i].hash = jdoc_hash_bytes(d->keys[i].p, len, 0);
    }
    qsort(d->keys, members, sizeof *d->keys, key_cmp);
    for (i = 1; i < members; i++)
        if (key_cmp(&d->keys[i - 1], &d->keys[i]) == 0) return fail(p, JDOC_SYNTAX, at, "duplicate object key");
    return 0;
}

static uint32_t parse_container(Parser *p, size_t *scratch_used, bool object) {
    const char *open = p->s;
    uint32_t n = node_new(p, object ? JDOC_OBJECT : JDOC_ARRAY, open);
    if (n == JDOC_NONE) return n;
    p->s = skip_ws(open + 1);
    char close = object ? '}' : ']';
    uint32_t last = JDOC_NONE, count = 0;
    if (*p->s != close) {
        for (;;) {
            if (object) {
                if (*p->s != '"') return fail(p, JDOC_SYNTAX, p->s, "string or '}' expected"), JDOC_NONE;
                uint32_t k = parse_string(p, scratch_used);
                if (k == JDOC_NONE) return k;
                if (last == JDOC_NONE)
                    p->d->nodes[n].first = k;
                else
                    p->d->nodes[last].next = k;
                last = k;
                count++;
                p->s = skip_ws(p->s);
                if (*p->s != ':') return fail(p, JDOC_SYNTAX, p->s, "':' expected"), JDOC_NONE;
                p->s = skip_ws(p->s + 1);
            }
            uint32_t v = parse_value(p, scratch_used);
            if (v == JDOC_NONE) return v;
            if (last == JDOC_NONE)
                p->d->nodes[n].first = v;
            else
                p->d->nodes[last].next = v;
            last = v;
            count++;
            p->s = skip_ws(p->s);
            if (*p->s == ',') {
                p->s = skip_ws(p->s + 1);
                continue;
            }
            if (*p->s == close) break;
            return fail(p, JDOC_SYNTAX, p->s, object ? "'}' expected" : "']' expected"), JDOC_NONE;
        }
    }
    p->s++;
    JNode *x = &p->d->nodes[n];
    x->count = count;
    x->len = (uint32_t)(p->s - open);
    if (object && check_duplicate_keys(p, n)) return JDOC_NONE;
    return n;
}

static uint32_t parse_literal(Parser *p, const char *word, JDocType type) {
    size_t len = strlen(word);
    if (strncmp(p->s, word, len) != 0) return fail(p, JDOC_SYNTAX, p->s, "invalid token"), JDOC_NONE;
    uint32_t n = node_new(p, type, p->s);
    if (n == JDOC_NONE) return n;
    p->d->nodes[n].len = (uint32_t)len;
    p->s += len;
    return n;
}

static uint32_t parse_value(Parser *p, size_t *scratch_used) {
    if (++p->depth > JDOC_MAX_DEPTH) return fail(p, JDOC_SYNTAX, p->s, "maximum parsing depth reached"), JDOC_NONE;
    uint32_t n;
    switch (*p->s) {
    case '{': n = parse_container(p, scratch_used, true); break;
    case '[': n = parse_container(p, scratch_used, false); break;
    case '"': n = parse_string(p, scratch_used); break;
    case 't': n = parse_literal(p, "true", JDOC_TRUE); break;
    case 'f': n = parse_literal(p, "false", JDOC_FALSE); break;
    case 'n': n = parse_literal(p, "null", JDOC_NULL); break;
    default:
        if (*p->s == '-' || is_digit(*p->s))
            n = parse_number(p);
        else if (*p->s == 0 && p->s >= p->end)
            n = (fail(p, JDOC_SYNTAX, p->s, "unexpected end of input"), JDOC_NONE);
        else
            n = (fail(p, JDOC_SYNTAX, p->s, "invalid token"), JDOC_NONE);
    }
    p->depth--;
    return n;
}

int jdoc_parse(JDoc *d, const char *text, size_t len) {
    d->text = text;
    d->len = len;
    d->n_nodes = 0;
    d->err_pos = 0;
    d->err_msg[0] = 0;
    Parser p = {d, text, text, text + len, 0, 0};
    if (len > JDOC_TEXT_MAX)
        return fail(&p, JDOC_TOO_MANY, text, "document longer than %u bytes", JDOC_TEXT_MAX), p.status;
    size_t bad = utf8_find_invalid(text, len);
    if (bad < len) return fail(&p, JDOC_BAD_UTF8, text + bad, "invalid UTF-8"), p.status;
    if (len + 1 > d->scratch_cap) {
        char *s = realloc(d->scratch, len + 1);
        if (!s) return fail(&p, JDOC_NOMEM, text, "out of memory"), p.status;
        d->scratch = s;
        d->scratch_cap = len + 1;
    }
    size_t scratch_used = 0;
    p.s = skip_ws(text);
    uint32_t root = parse_value(&p, &scratch_used);
    if (root == JDOC_NONE) return p.status ? p.status : JDOC_SYNTAX;
    p.s = skip_ws(p.s);
    if (p.s != p.end) return fail(&p, JDOC_SYNTAX, p.s, "end of file expected"), p.status;
    return JDOC_OK;
}

const char *jdoc_raw(const JDoc *d, uint32_t n, size_t *len) {
    const JNode *x = &d->nodes[n];
    if (x->type == JDOC_STRING) return jdoc_str(d, n, len);
    *len = x->len;
    return d->text + x->start;
}

/* s[0..len) (no NUL inside: jdoc rejects \u0000) equals the C string c. */
static inline bool bytes_eq(const char *s, size_t len, const char *c) {
    return (len == 0 ? c[0] == 0 : s[0] == c[0] && strncmp(c, s, len) == 0 && c[len] == 0);
}

bool jdoc_str_eq(const JDoc *d, uint32_t n, const char *s) {
    if (n == JDOC_NONE || d->nodes[n].type != JDOC_STRING) return false;
    size_t len;
    const char *v = jdoc_str(d, n, &len);
    return bytes_eq(v, len, s);
}

uint32_t jdoc_get(const JDoc *d, uint32_t obj, const char *key) {
    if (obj == JDOC_NONE || d->nodes[obj].type != JDOC_OBJECT) return JDOC_NONE;
    for (uint32_t k = d->nodes[obj].first; k != JDOC_NONE; k = d->nodes[d->nodes[k].next].next) {
        size_t len;
        const char *s = jdoc_str(d, k, &len);
        if (bytes_eq(s, len, key)) return d->nodes[k].next;
    }
    return JDOC_NONE;
}

int64_t jdoc_int(const JDoc *d, uint32_t n) {
    return d->nodes[n].type == JDOC_INT ? strtoll(d->text + d->nodes[n].start, NULL, 10) : 0;
}

const char *jdoc_type_phrase(JDocType t) {
    switch (t) {
    case JDOC_NULL: return "null";
    case JDOC_FALSE:
    case JDOC_TRUE: return "a boolean";
    case JDOC_INT:
    case JDOC_REAL: return "a number";
    case JDOC_STRING: return "a string";
    case JDOC_ARRAY: return "a list";
    case JDOC_OBJECT: return "an object";
    }
    return "a value";
}

/* --- hashing: splitmix64-style finaliser over 8-byte words --- */

#define HASH_K1 0x9E3779B97F4A7C15ull
#define HASH_K2 0xBF58476D1CE4E5B9ull
#define HASH_K3 0x94D049BB133111EBull

uint64_t jdoc_hash_mix(uint64_t x) {
    x += HASH_K1;
    x = (x ^ (x >> 30)) * HASH_K2;
    x = (x ^ (x >> 27)) * HASH_K3;
    return x ^ (x >> 31);
}

#define HASH_LANES_MIN 32 /* strings this long are hashed in four independent lanes */

static inline uint64_t hash_step(uint64_t h, uint64_t w) {
    h = (h ^ (w * HASH_K1)) * HASH_K2;
    return h ^ (h >> 29);
}

uint64_t jdoc_hash_bytes(const void *data, size_t n, uint64_t seed) {
    const unsigned char *s = data;
    uint64_t h = seed ^ (n * HASH_K3);
    size_t i = 0;
    if (n >= HASH_LANES_MIN) {
        uint64_t l[4] = {h, h + HASH_K1, h + HASH_K2, h + HASH_K3};
        for (; i + 32 <= n; i += 32)
            for (int k = 0; k < 4; k++) {
                uint64_t w;
                memcpy(&w, s + i + 8 * k, 8);
                l[k] = hash_step(l[k], w);
            }
        h = jdoc_hash_mix(l[0]) ^ jdoc_hash_mix(l[1] + HASH_K1) * 3 ^ jdoc_hash_mix(l[2] + HASH_K2) * 5 ^
            jdoc_hash_mix(l[3] + HASH_K3) * 7;
    }
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = hash_step(h, w);
    }
    if (i < n) {
        uint64_t w = 0;
        memcpy(&w, s + i, n - i);
        h = hash_step(h, w);
    }
    return jdoc_hash_mix(h);
}

uint64_t jdoc_hash_array_begin(uint32_t count) { return jdoc_hash_mix(0x54ull ^ count); }
uint64_t jdoc_hash_array_add(uint64_t h, uint64_t element) { return jdoc_hash_mix(h * HASH_K2 + element); }
uint64_t jdoc_hash_member(uint64_t key, uint64_t value) { return jdoc_hash_mix(key * HASH_K3 ^ value); }
uint64_t jdoc_hash_object_end(uint64_t member_sum, uint32_t count) {
    return jdoc_hash_mix(member_sum ^ (0x55ull << 56) ^ count);
}

uint64_t jdoc_hash(const JDoc *d, uint32_t n) {
    const JNode *x = &d->nodes[n];
    switch ((JDocType)x->type) {
    case JDOC_NULL:
    case JDOC_FALSE:
    case JDOC_TRUE: return jdoc_hash_mix(0x51ull + x->type);
    case JDOC_INT:
    case JDOC_REAL: return jdoc_hash_bytes(d->text + x->start, x->len, 0x52);
    case JDOC_STRING: {
        size_t len;
        const char *s = jdoc_str(d, n, &len);
        return jdoc_hash_bytes(s, len, 0x53);
    }
    case JDOC_ARRAY: {
        uint64_t h = jdoc_hash_array_begin(x->count);
        for (uint32_t c = x->first; c != JDOC_NONE; c = d->nodes[c].next) h = jdoc_hash_array_add(h, jdoc_hash(d, c));
        return h;
    }
    case JDOC_OBJECT: {
        uint64_t sum = 0; /* members combined by addition: their order does not matter */
        for (uint32_t k = x->first; k != JDOC_NONE; k = d->nodes[d->nodes[k].next].next)
            sum += jdoc_hash_member(jdoc_hash(d, k), jdoc_hash(d, d->nodes[k].next));
        return jdoc_hash_object_end(sum, x->count);
    }
    }
    return 0;
}
