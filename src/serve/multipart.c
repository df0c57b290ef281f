/* multipart.c: multipart/form-data (RFC 7578, RFC 2046) for file uploads. The boundary comes out
 * of the request's Content-Type; the body is split in one linear pass: memmem finds each
 * "\r\n--boundary" (which starts with the only CR in it, so a false match is skipped whole), and
 * only header blocks (at most MULTIPART_MAX_HEADER_BYTES each) are read line by line.
 *
 * Leniencies, as other servers have them: a body may start with "--boundary" or with a preamble;
 * a part's header block may end its lines with a bare LF; the boundary line may carry trailing
 * spaces; a part with no content may put its delimiter right after the header block (Go does the
 * same); "--boundaryX" that is not followed by a line end or "--" is content, not a delimiter.
 * Everything after the close delimiter is ignored. Names and filenames must be UTF-8 without NUL
 * bytes (they end up in JSON). It does not allocate; it does not unfold header lines, decode
 * Content-Transfer-Encoding or percent-decode plain filename="..." values beyond the WHATWG
 * escapes %22, %0D and %0A. */
#include "multipart.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../data/utf8_check.h"

#define BOUNDARY_LEN_MAX (MULTIPART_BOUNDARY_MAX - 1)
#define DASHES_LEN 2 /* the "--" before a boundary */
#define CRLF_LEN 2
#define DELIM_MAX (CRLF_LEN + DASHES_LEN + BOUNDARY_LEN_MAX)
#define SHOW_MAX 48 /* bytes of client text quoted in a message */
#define SHOW_BUF (SHOW_MAX + 4)
#define FORM_DATA "multipart/form-data"

/* A run of bytes in the body or a header value: not NUL-terminated, may contain NUL. */
typedef struct {
    const char *s;
    size_t n;
} Span;

/* One `; name=value` parameter of a header value. For a quoted string, value is what lies between
 * the quotes, backslash escapes still in it. */
typedef struct {
    Span name, value;
    bool quoted;
} Param;

enum { PARAM_BAD = -1, PARAM_END = 0, PARAM_OK = 1 };

/* What follows a "--boundary" match. */
enum { DELIM_NONE, DELIM_NEXT, DELIM_CLOSE, DELIM_TRUNCATED };

typedef struct {
    const unsigned char *body;
    size_t len;
    unsigned char delim[DELIM_MAX]; /* "\r\n--" boundary */
    size_t delim_len;
    Err *err;
} Parser;

/* The Content-Disposition parameters this parser reads. */
enum { DISP_NAME, DISP_FILENAME, DISP_FILENAME_EXT, DISP_N };
static const char *const DISP_PARAMS[DISP_N] = {"name", "filename", "filename*"};

/* ---- small text helpers ---- */

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

static bool span_ieq(Span a, const char *lit) {
    size_t n = strlen(lit);
    if (a.n != n) return false;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(a.s[i]) != ascii_lower(lit[i])) return false;
    return true;
}

static Span span_trim(Span a) {
    while (a.n && is_ows(a.s[0])) a.s++, a.n--;
    while (a.n && is_ows(a.s[a.n - 1])) a.n--;
    return a;
}

/* Client text made safe for an error message: printable ASCII only (other bytes become '?'),
 * cut to SHOW_MAX bytes with "...". Returns buf. */
static const char *show(Span s, char buf[SHOW_BUF]) {
    size_t n = s.n < SHOW_MAX ? s.n : SHOW_MAX, k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.s[i];
        buf[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (s.n > SHOW_MAX) memcpy(buf + k, "...", 3), k += 3;
    buf[k] = 0;
    return buf;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = ascii_lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* ---- header parameters (shared by Content-Type and Content-Disposition) ---- */

static size_t skip_ows(Span s, size_t i) {
    while (i < s.n && is_ows(s.s[i])) i++;
    return i;
}

/* Reads the next `; name=value` parameter of s from *pos (empty parameters, as in ";;" or a
 * trailing ";", are skipped). A token value runs to the next ';' (trailing spaces trimmed); a
 * quoted one to its closing quote. On PARAM_BAD *pos is where the problem is. */
static int param_next(Span s, size_t *pos, Param *p) {
    size_t i = *pos;
    for (;;) {
        i = skip_ows(s, i);
        if (i == s.n) return *pos = i, PARAM_END;
        if (s.s[i] != ';') return *pos = i, PARAM_BAD;
        i = skip_ows(s, i + 1);
        if (i < s.n && s.s[i] != ';') break;
    }
    size_t name0 = i;
    while (i < s.n && s.s[i] != '=' && s.s[i] != ';' && !is_ows(s.s[i])) i++;
    p->name = (Span){s.s + name0, i - name0};
    i = skip_ows(s, i);
    if (p->name.n == 0 || i == s.n || s.s[i] != '=') return *pos = i, PARAM_BAD;
    i = skip_ows(s, i + 1);
    if (i < s.n && s.s[i] == '"') {
        size_t open = i++;
        while (i < s.n && s.s[i] != '"') i += s.s[i] == '\\' ? 2 : 1;
        if (i >= s.n) return *pos = open, PARAM_BAD; /* unterminated quoted string */
        p->value = (Span){s.s + open + 1, i - open - 1};
        p->quoted = true;
        i++;
    } else {
        size_t v0 = i;
        while (i < s.n && s.s[i] != ';') i++;
        p->value = span_trim((Span){s.s + v0, i - v0});
        p->quoted = false;
        if (p->value.n == 0) return *pos = v0, PARAM_BAD;
    }
    *pos = i;
    return PARAM_OK;
}

/* Writes p's value without its backslash escapes into out (size > 0 bytes, NUL-terminated,
 * truncated if need be); returns the full decoded length, like snprintf. */
static size_t param_decode(const Param *p, char *out, size_t size) {
    size_t k = 0;
    for (size_t i = 0; i < p->value.n; i++) {
        char c = p->value.s[i];
        if (p->quoted && c == '\\' && i + 1 < p->value.n) c = p->value.s[++i];
        if (k + 1 < size) out[k] = c;
        k++;
    }
    out[k < size ? k : size - 1] = 0;
    return k;
}

/* ---- the boundary ---- */

/* RFC 2046 bchars: DIGIT / ALPHA / "'()+_,-./:=?" and space (not last). */
static bool is_bchar(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("'()+_,-./:=? ", c) != NULL);
}

static int boundary_check(const char *b, size_t n, int code, Err *err) {
    if (n < 1 || n > BOUNDARY_LEN_MAX)
        return err_set(err, code, "multipart boundary must be 1 to %d characters long (got %zu)", BOUNDARY_LEN_MAX, n);
    for (size_t i = 0; i < n; i++)
        if (!is_bchar(b[i]))
            return err_set(err, code, "multipart boundary has a character RFC 2046 does not allow (0x%02x at %zu)",
                           (unsigned char)b[i], i);
    if (b[n - 1] == ' ') return err_set(err, code, "multipart boundary must not end with a space");
    return 0;
}

int multipart_boundary(const char *content_type, char *out, size_t size, Err *err) {
    char buf[SHOW_BUF];
    if (!content_type || !*content_type)
        return err_set(err, ERR_FORMAT, "the request has no Content-Type; expected " FORM_DATA);
    Span s = {content_type, strlen(content_type)};
    size_t i = skip_ows(s, 0), t0 = i;
    while (i < s.n && s.s[i] != ';' && !is_ows(s.s[i])) i++;
    Span type = {s.s + t0, i - t0};
    if (!span_ieq(type, FORM_DATA))
        return err_set(err, ERR_FORMAT, "Content-Type is '%s', expected " FORM_DATA, show(type, buf));
    Param p, found = {0};
    bool have = false;
    int rc;
    while ((rc = param_next(s, &i, &p)) == PARAM_OK) {
        if (!span_ieq(p.name, "boundary")) continue;
        if (have) return err_set(err, ERR_FORMAT, "Content-Type has more than one boundary parameter");
        found = p, have = true;
    }
    if (rc == PARAM_BAD)
        return err_set(err, ERR_FORMAT, "malformed parameter in Content-Type at byte %zu: '%s'", i,
                       show((Span){s.s + i, s.n - i}, buf));
    if (!have) return err_set(err, ERR_FORMAT, "Content-Type " FORM_DATA " has no boundary parameter");
    char b[MULTIPART_BOUNDARY_MAX];
    size_t n = param_decode(&found, b, sizeof b);
    if (boundary_check(b, n, ERR_FORMAT, err)) return -1;
    if (!out || n + 1 > size)
        return err_set(err, ERR_ARG, "multipart_boundary: output buffer of %zu bytes is too small", size);
    memcpy(out, b, n + 1);
    return 0;
}

/* ---- delimiters ---- */

/* What follows a "--boundary" that ends just before `at`: transport padding and a line end (another
 * part, whose headers begin at *next), "--" (the close delimiter), the end of the body, or anything
 * else (then the match was content). */
static int delim_tail(const Parser *ps, size_t at, size_t *next) {
    const unsigned char *b = ps->body;
    if (at == ps->len) return DELIM_TRUNCATED;
    if (b[at] == '-') {
        if (at + 1 == ps->len) return DELIM_TRUNCATED;
        return b[at + 1] == '-' ? DELIM_CLOSE : DELIM_NONE;
    }
    while (at < ps->len && is_ows((char)b[at])) at++;
    if (at == ps->len) return DELIM_TRUNCATED;
    if (b[at] == '\n') return *next = at + 1, DELIM_NEXT;
    if (b[at] != '\r') return DELIM_NONE;
    if (at + 1 == ps->len) return DELIM_TRUNCATED;
    if (b[at + 1] != '\n') return DELIM_NONE;
    return *next = at + 2, DELIM_NEXT;
}

/* Whether "--boundary" (without the CRLF) starts at body[at] with a delimiter's tail. */
static int dash_boundary_at(const Parser *ps, size_t at, size_t *next) {
    size_t n = ps->delim_len - CRLF_LEN;
    if (ps->len - at < n || memcmp(ps->body + at, ps->delim + CRLF_LEN, n) != 0) return DELIM_NONE;
    return delim_tail(ps, at + n, next);
}

/* The first delimiter ("\r\n--boundary" with a delimiter's tail) at or after from: its kind, where
 * it begins (*at) and where the next part's headers begin (*next); DELIM_NONE when there is none. */
static int find_delim(const Parser *ps, size_t from, size_t *at, size_t *next) {
    while (from < ps->len) {
        const unsigned char *hit = memmem(ps->body + from, ps->len - from, ps->delim, ps->delim_len);
        if (!hit) return DELIM_NONE;
        size_t pos = (size_t)(hit - ps->body);
        int kind = delim_tail(ps, pos + ps->delim_len, next);
        if (kind != DELIM_NONE) return *at = pos, kind;
        /* The delimiter's only CR is its first byte, so no other match starts inside this one. */
        from = pos + ps->delim_len;
    }
    return DELIM_NONE;
}

/* The opening delimiter: "--boundary" at the very start, or after a preamble. */
static int find_opening(const Parser *ps, size_t *next) {
    int kind = dash_boundary_at(ps, 0, next);
    if (kind != DELIM_NONE) return kind;
    size_t at;
    return find_delim(ps, 0, &at, next);
}

/* The delimiter that ends content beginning at `content`; an empty part may have it right after its
 * header block, without the CRLF (RFC 2046 makes the blank line optional). */
static int find_content_end(const Parser *ps, size_t content, size_t *at, size_t *next) {
    int kind = dash_boundary_at(ps, content, next);
    if (kind != DELIM_NONE) return *at = content, kind;
    return find_delim(ps, content, at, next);
}

/* ---- one part's headers ---- */

/* Copies decoded text s[0..n) into out (size bytes, NUL-terminated). ERR_FORMAT when it does not
 * fit, holds a NUL byte, or (utf8) is not UTF-8. */
static int store_text(const Parser *ps, int index, size_t off, const char *what, const char *s, size_t n, char *out,
                      size_t size, bool utf8) {
    if (n >= size)
        return err_set(ps->err, ERR_FORMAT, "part %d: %s at byte %zu is longer than %zu bytes", index, what, off,
                       size - 1);
    if (memchr(s, 0, n))
        return err_set(ps->err, ERR_FORMAT, "part %d: %s at byte %zu contains a NUL byte", index, what, off);
    if (utf8 && utf8_find_invalid(s, n) < n)
        return err_set(ps->err, ERR_FORMAT, "part %d: %s at byte %zu is not valid UTF-8", index, what, off);
    memcpy(out, s, n);
    out[n] = 0;
    return 0;
}

/* Decodes an RFC 5987 ext-value (charset'language'percent-encoded, charset UTF-8 or US-ASCII) in
 * place in buf[0..*n); ERR_FORMAT on another charset or bad percent-encoding. */
static int ext_value_decode(const Parser *ps, int index, size_t off, char *buf, size_t *n) {
    char show_buf[SHOW_BUF];
    char *q1 = memchr(buf, '\'', *n);
    char *q2 = q1 ? memchr(q1 + 1, '\'', *n - (size_t)(q1 + 1 - buf)) : NULL;
    if (!q2)
        return err_set(ps->err, ERR_FORMAT, "part %d: filename* at byte %zu is not charset'language'value (RFC 5987)",
                       index, off);
    Span charset = {buf, (size_t)(q1 - buf)};
    if (!span_ieq(charset, "UTF-8") && !span_ieq(charset, "US-ASCII"))
        return err_set(ps->err, ERR_FORMAT, "part %d: filename* at byte %zu has charset '%s', expected UTF-8", index,
                       off, show(charset, show_buf));
    size_t k = 0;
    for (size_t i = (size_t)(q2 + 1 - buf); i < *n; i++) {
        char c = buf[i];
        if (c == '%') {
            int hi = i + 2 < *n ? hex_value(buf[i + 1]) : -1, lo = i + 2 < *n ? hex_value(buf[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return err_set(ps->err, ERR_FORMAT, "part %d: filename* at byte %zu has a bad percent-encoding", index,
                               off);
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        buf[k++] = c;
    }
    *n = k;
    return 0;
}

/* Browsers and httpx (the WHATWG multipart encoding) write '"', CR and LF in a file name as %22,
 * %0D and %0A; those three are decoded, every other '%' is kept as written. Returns the length. */
static size_t whatwg_unescape(char *s, size_t n) {
    size_t w = 0;
    for (size_t r = 0; r < n; r++) {
        if (s[r] == '%' && r + 2 < n) {
            char code[3] = {s[r + 1], s[r + 2], 0};
            char ch = strcasecmp(code, "22") == 0 ? '"' : strcasecmp(code, "0D") == 0 ? '\r' : strcasecmp(code, "0A") == 0 ? '\n' : 0;
            if (ch) {
                s[w++] = ch;
                r += 2;
                continue;
            }
        }
        s[w++] = s[r];
    }
    return w;
}

/* Content-Disposition: form-data with name (required), filename and filename* (which wins). */
static int parse_disposition(const Parser *ps, int index, size_t off, Span v, MultipartPart *part) {
    char show_buf[SHOW_BUF];
    size_t i = 0;
    while (i < v.n && v.s[i] != ';' && !is_ows(v.s[i])) i++;
    Span type = {v.s, i};
    if (!span_ieq(type, "form-data"))
        return err_set(ps->err, ERR_FORMAT, "part %d: Content-Disposition at byte %zu is '%s', expected form-data",
                       index, off, show(type, show_buf));
    Param p, found[DISP_N];
    memset(found, 0, sizeof found);
    bool seen[DISP_N] = {false};
    int rc;
    while ((rc = param_next(v, &i, &p)) == PARAM_OK) {
        for (int k = 0; k < DISP_N; k++) {
            if (!span_ieq(p.name, DISP_PARAMS[k])) continue;
            if (seen[k])
                return err_set(ps->err, ERR_FORMAT, "part %d: Content-Disposition at byte %zu has %s twice", index, off,
                               DISP_PARAMS[k]);
            found[k] = p, seen[k] = true;
        }
    }
    if (rc == PARAM_BAD)
        return err_set(ps->err, ERR_FORMAT, "part %d: malformed Content-Disposition parameter at byte %zu", index,
                       off + i);
    if (!seen[DISP_NAME])
        return err_set(ps->err, ERR_FORMAT, "part %d: Content-Disposition at byte %zu has no name parameter", index,
                       off);

    /* A decoded value is never longer than its header line, which fits in a header block. */
    char buf[MULTIPART_MAX_HEADER_BYTES];
    size_t n = param_decode(&found[DISP_NAME], buf, sizeof buf);
    if (store_text(ps, index, off, "name", buf, n, part->name, sizeof part->name, true)) return -1;
    if (seen[DISP_FILENAME_EXT]) {
        n = param_decode(&found[DISP_FILENAME_EXT], buf, sizeof buf);
        if (ext_value_decode(ps, index, off, buf, &n)) return -1;
    } else if (seen[DISP_FILENAME]) {
        n = param_decode(&found[DISP_FILENAME], buf, sizeof buf);
        n = whatwg_unescape(buf, n);
    } else {
        return 0;
    }
    part->has_filename = true;
    return store_text(ps, index, off, "filename", buf, n, part->filename, sizeof part->filename, true);
}

typedef struct {
    bool disposition, type;
} SeenHeaders;

/* One header line (line end removed) at byte off. Headers other than Content-Disposition and
 * Content-Type are ignored. */
static int parse_header_line(const Parser *ps, int index, size_t off, Span line, MultipartPart *part,
                             SeenHeaders *seen) {
    const char *colon = memchr(line.s, ':', line.n);
    if (!colon) return err_set(ps->err, ERR_FORMAT, "part %d: header line at byte %zu has no ':'", index, off);
    Span name = span_trim((Span){line.s, (size_t)(colon - line.s)});
    Span value = span_trim((Span){colon + 1, line.n - (size_t)(colon + 1 - line.s)});
    size_t value_off = off + (size_t)(value.s - line.s);
    bool *flag = span_ieq(name, "Content-Disposition") ? &seen->disposition
                 : span_ieq(name, "Content-Type")      ? &seen->type
                                                       : NULL;
    if (!flag) return 0;
    if (*flag)
        return err_set(ps->err, ERR_FORMAT, "part %d: header at byte %zu repeats %s", index, off,
                       flag == &seen->type ? "Content-Type" : "Content-Disposition");
    *flag = true;
    if (flag == &seen->disposition) return parse_disposition(ps, index, value_off, value, part);
    return store_text(ps, index, value_off, "Content-Type", value.s, value.n, part->content_type,
                      sizeof part->content_type, false);
}

/* Reads part `index`'s header block, which begins at byte `at`, into part; *content is where the
 * part's content begins (after the blank line). */
static int parse_headers(const Parser *ps, int index, size_t at, MultipartPart *part, size_t *content) {
    size_t limit = at + MULTIPART_MAX_HEADER_BYTES, end = limit < ps->len ? limit : ps->len;
    size_t dash_len = ps->delim_len - CRLF_LEN;
    SeenHeaders seen = {false, false};
    for (size_t line = at;;) {
        const unsigned char *nl = memchr(ps->body + line, '\n', end - line);
        if (!nl && limit <= ps->len)
            return err_set(ps->err, ERR_FORMAT, "part %d: header block at byte %zu is longer than %d bytes", index, at,
                           MULTIPART_MAX_HEADER_BYTES);
        if (!nl)
            return err_set(ps->err, ERR_FORMAT,
                           "part %d: header block at byte %zu is not ended by a blank line (the body ends at byte %zu)",
                           index, at, ps->len);
        size_t eol = (size_t)(nl - ps->body);
        Span l = {(const char *)ps->body + line, eol - line};
        if (l.n && l.s[l.n - 1] == '\r') l.n--;
        if (l.n == 0) {
            if (!seen.disposition)
                return err_set(ps->err, ERR_FORMAT,
                               "part %d (headers at byte %zu) has no Content-Disposition: form-data", index, at);
            *content = eol + 1;
            return 0;
        }
        if (l.n >= dash_len && memcmp(l.s, ps->delim + CRLF_LEN, dash_len) == 0)
            return err_set(
                ps->err, ERR_FORMAT,
                "part %d: header block at byte %zu is not ended by a blank line (a boundary follows at byte %zu)",
                index, at, line);
        if (is_ows(l.s[0]))
            return err_set(ps->err, ERR_FORMAT, "part %d: folded header line at byte %zu is not supported", index,
                           line);
        if (parse_header_line(ps, index, line, l, part, &seen)) return -1;
        line = eol + 1;
    }
}

/* ---- the body ---- */

int multipart_parse(const unsigned char *body, size_t len, const char *boundary, MultipartPart *parts, int max_parts,
                    int *n_parts, Err *err) {
    if (n_parts) *n_parts = 0;
    if ((!body && len) || !boundary || (!parts && max_parts > 0) || max_parts < 0 || !n_parts)
        return err_set(err, ERR_ARG, "multipart_parse: bad arguments");
    size_t blen = strlen(boundary);
    if (boundary_check(boundary, blen, ERR_ARG, err)) return -1;
    Parser ps = {.body = body, .len = len, .delim_len = CRLF_LEN + DASHES_LEN + blen, .err = err};
    memcpy(ps.delim, "\r\n--", CRLF_LEN + DASHES_LEN);
    memcpy(ps.delim + CRLF_LEN + DASHES_LEN, boundary, blen);

    size_t pos = 0;
    int kind = find_opening(&ps, &pos);
    if (kind == DELIM_NONE)
        return err_set(err, ERR_FORMAT, "multipart body has no opening boundary '--%s' (searched all %zu bytes)",
                       boundary, len);
    if (kind == DELIM_TRUNCATED)
        return err_set(err, ERR_FORMAT, "multipart body is truncated: it ends in its opening boundary line '--%s'",
                       boundary);
    int n = 0;
    while (kind == DELIM_NEXT) {
        if (n == max_parts)
            return err_set(err, ERR_FORMAT, "multipart body has more than %d parts (part %d starts at byte %zu)",
                           max_parts, n + 1, pos);
        MultipartPart *part = &parts[n];
        memset(part, 0, sizeof *part);
        size_t content = 0, at = 0;
        if (parse_headers(&ps, n + 1, pos, part, &content)) return -1;
        kind = find_content_end(&ps, content, &at, &pos);
        if (kind == DELIM_NONE || kind == DELIM_TRUNCATED)
            return err_set(err, ERR_FORMAT,
                           "multipart body is truncated: part %d (content from byte %zu) is not followed by '--%s' or "
                           "the closing '--%s--'",
                           n + 1, content, boundary, boundary);
        part->data = body + content;
        part->len = at - content;
        n++;
    }
    *n_parts = n; /* kind is DELIM_CLOSE */
    return 0;
}

const MultipartPart *multipart_find(const MultipartPart *parts, int n, const char *name) {
    if (!parts || !name) return NULL;
    for (int i = 0; i < n; i++)
        if (strcmp(parts[i].name, name) == 0) return &parts[i];
    return NULL;
}
