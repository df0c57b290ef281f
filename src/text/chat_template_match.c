/* chat_template_match.c: recognises a model's Jinja chat template. The source is lexed, not
 * evaluated (tags, names, operators, numbers, string literals decoded with Python escapes, and the
 * text between tags after trim_blocks/lstrip_blocks/"-" whitespace control), and its token stream
 * is compared with the reference templates of chat_template_refs.c, binding the default system
 * message where a reference carries the mark. It deliberately does not evaluate Jinja, render
 * anything, or accept a template that is not one of the references up to formatting and the
 * default system message: that is ERR_UNSUPPORTED naming the closest reference. */
#include "chat_template_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Jinja lexing into a token stream. */

typedef enum { TOK_OPEN, TOK_CLOSE, TOK_NAME, TOK_LIT, TOK_NUM, TOK_OP } TokKind;
typedef enum { TAG_NONE, TAG_VAR, TAG_BLOCK, TAG_COMMENT } TagType;

typedef struct {
    TokKind kind;
    TagType tag;     /* for TOK_OPEN */
    size_t off, len; /* text in Scan.arena (names, decoded literals, numbers, operators) */
    size_t at;       /* byte offset in the (normalised) source, for messages */
} Tok;

typedef struct {
    char *src;   /* newline-normalised copy of the source */
    size_t n;
    char *arena; /* token texts, each NUL-terminated */
    size_t arena_len;
    Tok *toks;
    int n_toks;
    size_t emitted_at; /* offset of text outside tags that Jinja would output; SIZE_MAX if none */
} Scan;

static void scan_free(Scan *sc) {
    free(sc->src);
    free(sc->arena);
    free(sc->toks);
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

static int hex_val(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t utf8_put(char *dst, uint32_t cp) {
    if (cp < 0x80) { dst[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        dst[0] = (char)(0xC0 | (cp >> 6));
        dst[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xE0 | (cp >> 12));
        dst[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        dst[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    dst[0] = (char)(0xF0 | (cp >> 18));
    dst[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    dst[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    dst[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Appends a token; text (if any) must already be at arena + arena_len, len bytes. */
static int scan_push(Scan *sc, TokKind kind, TagType tag, size_t len, size_t at, Err *err) {
    if (sc->n_toks >= CHAT_TEMPLATE_TOKENS_MAX)
        return err_set(err, ERR_UNSUPPORTED, "chat template: more than %d tokens", CHAT_TEMPLATE_TOKENS_MAX);
    Tok *t = &sc->toks[sc->n_toks++];
    t->kind = kind;
    t->tag = tag;
    t->off = sc->arena_len;
    t->len = len;
    t->at = at;
    sc->arena[sc->arena_len + len] = 0;
    sc->arena_len += len + 1;
    return 0;
}

static int scan_text(Scan *sc, TokKind kind, size_t b, size_t e, Err *err) {
    memcpy(sc->arena + sc->arena_len, sc->src + b, e - b);
    return scan_push(sc, kind, TAG_NONE, e - b, b, err);
}

/* Decodes the body of a Jinja string literal (src[b..e)) the way Jinja does (Python's
 * unicode-escape after newline normalisation) into the arena. Escapes whose meaning is not plain
 * text here (\N{...}, NUL, surrogates, a backslash before non-ASCII) are ERR_UNSUPPORTED. */
static int scan_literal(Scan *sc, size_t b, size_t e, Err *err) {
    const char *s = sc->src;
    char *d = sc->arena + sc->arena_len;
    size_t k = 0;
    for (size_t i = b; i < e;) {
        char c = s[i];
        if (c != '\\') { d[k++] = c; i++; continue; }
        if (i + 1 >= e) return err_set(err, ERR_FORMAT, "chat template: string ends in a backslash at byte %zu", i);
        char x = s[i + 1];
        uint32_t cp = 0;
        int nd = 0;
        i += 2;
        switch (x) {
        case '\\': d[k++] = '\\'; continue;
        case '\'': d[k++] = '\''; continue;
        case '"': d[k++] = '"'; continue;
        case 'a': d[k++] = '\a'; continue;
        case 'b': d[k++] = '\b'; continue;
        case 'f': d[k++] = '\f'; continue;
        case 'n': d[k++] = '\n'; continue;
        case 'r': d[k++] = '\r'; continue;
        case 't': d[k++] = '\t'; continue;
        case 'v': d[k++] = '\v'; continue;
        case '\n': continue; /* line continuation */
        case 'x': nd = 2; break;
        case 'u': nd = 4; break;
        case 'U': nd = 8; break;
        default:
            if (x >= '0' && x <= '7') { /* up to three octal digits */
                cp = (uint32_t)(x - '0');
                for (int t = 0; t < 2 && i < e && s[i] >= '0' && s[i] <= '7'; t++) cp = cp * 8 + (uint32_t)(s[i++] - '0');
                break;
            }
            if ((unsigned char)x >= 0x80 || x == 'N')
                return err_set(err, ERR_UNSUPPORTED, "chat template: unsupported string escape at byte %zu", i - 2);
            d[k++] = '\\'; /* unknown escapes stay as written */
            d[k++] = x;
            continue;
        }
        for (int t = 0; t < nd; t++) {
            int h = i < e ? hex_val(s[i]) : -1;
            if (h < 0) return err_set(err, ERR_FORMAT, "chat template: truncated \\%c escape at byte %zu", x, i);
            cp = cp * 16 + (uint32_t)h;
            i++;
        }
        if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return err_set(err, ERR_UNSUPPORTED, "chat template: unsupported character escape before byte %zu", i);
        k += utf8_put(d + k, cp);
    }
    return scan_push(sc, TOK_LIT, TAG_NONE, k, b - 1, err);
}

/* Applies Jinja's whitespace control (trim_blocks, lstrip_blocks, "-" markers) to the text
 * between two tags and records whether anything of it would be output. */
static void scan_data(Scan *sc, size_t b, size_t e, TagType prev, bool prev_minus, TagType next,
                      bool next_minus, bool next_plus) {
    const char *s = sc->src;
    bool line_start = prev == TAG_NONE; /* the template start counts as a line start */
    if (prev_minus) {
        while (b < e && is_ws(s[b])) b++;
    } else if ((prev == TAG_BLOCK || prev == TAG_COMMENT) && b < e && s[b] == '\n') {
        b++; /* trim_blocks */
        line_start = true;
    }
    if (next_minus) {
        while (e > b && is_ws(s[e - 1])) e--;
    } else if ((next == TAG_BLOCK || next == TAG_COMMENT) && !next_plus) { /* lstrip_blocks */
        size_t l = e;
        while (l > b && s[l - 1] != '\n') l--;
        if (l > b || line_start) {
            bool blank = true;
            for (size_t i = l; i < e; i++)
                if (s[i] != ' ' && s[i] != '\t') { blank = false; break; }
            if (blank) e = l;
        }
    }
    if (e > b && sc->emitted_at == SIZE_MAX) sc->emitted_at = b;
}

static TagType tag_type_at(const char *s, size_t n, size_t i) {
    if (i + 1 >= n || s[i] != '{') return TAG_NONE;
    if (s[i + 1] == '{') return TAG_VAR;
    if (s[i + 1] == '%') return TAG_BLOCK;
    if (s[i + 1] == '#') return TAG_COMMENT;
    return TAG_NONE;
}

static bool is_two_char_op(const char *s) {
    static const char ops[][3] = {"==", "!=", "<=", ">=", "//", "**"};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        if (s[0] == ops[k][0] && s[1] == ops[k][1]) return true;
    return false;
}

/* Lexes the tokens of one {{ }} or {% %} tag starting after its opener at i; sets *end past the
 * closer and *minus when the closer carries "-". */
static int scan_tag(Scan *sc, TagType type, size_t open, size_t i, size_t *end, bool *minus, Err *err) {
    const char *s = sc->src;
    size_t m = sc->n;
    char close = type == TAG_VAR ? '}' : '%';
    int depth = 0;
    if (scan_push(sc, TOK_OPEN, type, 0, open, err)) return -1;
    while (i < m) {
        char c = s[i];
        if (depth == 0 && c == close && i + 1 < m && s[i + 1] == '}') {
            *minus = false;
            *end = i + 2;
            return scan_push(sc, TOK_CLOSE, type, 0, i, err);
        }
        if (depth == 0 && c == '-' && i + 2 < m && s[i + 1] == close && s[i + 2] == '}') {
            *minus = true;
            *end = i + 3;
            return scan_push(sc, TOK_CLOSE, type, 0, i, err);
        }
        if (is_ws(c)) {
            i++;
        } else if (c == '\'' || c == '"') {
            size_t j = i + 1;
            while (j < m && s[j] != c) j += (s[j] == '\\' && j + 1 < m) ? 2 : 1;
            if (j >= m) return err_set(err, ERR_FORMAT, "chat template: unclosed string at byte %zu", i);
            if (scan_literal(sc, i + 1, j, err)) return -1;
            i = j + 1;
        } else if (is_name_start(c)) {
            size_t j = i;
            while (j < m && is_name_char(s[j])) j++;
            if (scan_text(sc, TOK_NAME, i, j, err)) return -1;
            i = j;
        } else if (c >= '0' && c <= '9') {
            size_t j = i;
            while (j < m && (is_name_char(s[j]) || (s[j] == '.' && j + 1 < m && s[j + 1] >= '0' && s[j + 1] <= '9'))) j++;
            if (scan_text(sc, TOK_NUM, i, j, err)) return -1;
            i = j;
        } else if ((unsigned char)c >= 0x80) {
            return err_set(err, ERR_UNSUPPORTED, "chat template: non-ASCII character in a tag at byte %zu", i);
        } else {
            size_t l = i + 1 < m && is_two_char_op(s + i) ? 2 : 1;
            if (c == '(' || c == '[' || c == '{') depth++;
            if ((c == ')' || c == ']' || c == '}') && depth > 0) depth--;
            if (scan_text(sc, TOK_OP, i, i + l, err)) return -1;
            i += l;
        }
    }
    return err_set(err, ERR_FORMAT, "chat template: unclosed tag at byte %zu", open);
}

/* Lexes a whole template. Malformed Jinja (an unclosed tag or string) is ERR_FORMAT. */
static int scan_template(Scan *sc, const char *source, size_t n, Err *err) {
    memset(sc, 0, sizeof *sc);
    sc->emitted_at = SIZE_MAX;
    sc->src = malloc(n + 1);
    sc->arena = malloc(2 * n + 2); /* token texts never exceed their source span, plus a NUL each */
    sc->toks = malloc(sizeof(Tok) * CHAT_TEMPLATE_TOKENS_MAX);
    if (!sc->src || !sc->arena || !sc->toks) return err_set(err, ERR_NOMEM, "chat template: out of memory");
    /* Jinja normalises \r\n and \r to \n, and drops one trailing newline (keep_trailing_newline). */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (source[i] == '\r') {
            sc->src[m++] = '\n';
            if (i + 1 < n && source[i + 1] == '\n') i++;
        } else {
            sc->src[m++] = source[i];
        }
    }
    if (m > 0 && sc->src[m - 1] == '\n') m--;
    sc->src[m] = 0;
    sc->n = m;
    const char *s = sc->src;

    TagType prev = TAG_NONE;
    bool prev_minus = false;
    size_t pos = 0;
    for (;;) {
        size_t open = pos;
        while (open < m && tag_type_at(s, m, open) == TAG_NONE) open++;
        TagType type = open < m ? tag_type_at(s, m, open) : TAG_NONE;
        bool minus = type != TAG_NONE && open + 2 < m && s[open + 2] == '-';
        bool plus = type != TAG_NONE && open + 2 < m && s[open + 2] == '+';
        scan_data(sc, pos, open, prev, prev_minus, type, minus, plus);
        if (type == TAG_NONE) break;
        size_t body = open + 2 + ((minus || plus) ? 1 : 0);
        if (type == TAG_COMMENT) {
            const char *end = strstr(s + body, "#}");
            if (!end) return err_set(err, ERR_FORMAT, "chat template: unclosed comment at byte %zu", open);
            size_t j = (size_t)(end - s);
            prev_minus = j > body && s[j - 1] == '-';
            pos = j + 2;
        } else if (scan_tag(sc, type, open, body, &pos, &prev_minus, err)) {
            return -1;
        }
        prev = type;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Matching against the references. */

static const char *tok_text(const Scan *sc, const Tok *t) { return sc->arena + t->off; }

/* Compares one input token with one reference token, binding the default system message where the
 * reference literal carries the mark. */
static bool tok_match(const Scan *in, const Tok *a, const Scan *ref, const Tok *r, const char **bound,
                      size_t *bound_len) {
    if (a->kind != r->kind || a->tag != r->tag) return false;
    const char *at = tok_text(in, a), *rt = tok_text(ref, r);
    size_t mark_len = strlen(ct_default_system_mark);
    const char *mark = r->kind == TOK_LIT ? strstr(rt, ct_default_system_mark) : NULL;
    if (!mark) return a->len == r->len && memcmp(at, rt, a->len) == 0;
    size_t pre = (size_t)(mark - rt), post = r->len - pre - mark_len;
    if (a->len < pre + post || memcmp(at, rt, pre) != 0 || memcmp(at + a->len - post, mark + mark_len, post) != 0)
        return false;
    const char *x = at + pre;
    size_t xl = a->len - pre - post;
    if (*bound) return xl == *bound_len && memcmp(x, *bound, xl) == 0;
    *bound = x;
    *bound_len = xl;
    return true;
}

/* Number of leading tokens that match (n_toks of both when the whole streams match). */
static int match_prefix(const Scan *in, const Scan *ref, const char **bound, size_t *bound_len) {
    *bound = NULL;
    *bound_len = 0;
    int i = 0;
    while (i < in->n_toks && i < ref->n_toks && tok_match(in, &in->toks[i], ref, &ref->toks[i], bound, bound_len)) i++;
    return i;
}

/* Length of a short one-line excerpt starting at s, for messages. */
static int excerpt_len(const char *s) {
    int n = 0;
    while (n < 40 && s[n] && s[n] != '\n') n++;
    return n;
}

/* Finds the reference the input matches; on success *ref_out is its index and *dsys the default
 * system message (heap, NULL if the reference has none). */
static int recognise(const Scan *in, int *ref_out, char **dsys, Err *err) {
    int best = -1, best_len = -1;
    *dsys = NULL;
    for (int r = 0; r < ct_n_references; r++) {
        Scan ref;
        Err rerr = {0};
        if (scan_template(&ref, ct_references[r].source, strlen(ct_references[r].source), &rerr)) {
            scan_free(&ref);
            return err_set(err, rerr.code, "chat template: reference %s: %s", ct_references[r].name, rerr.msg);
        }
        const char *bound;
        size_t bound_len;
        int len = match_prefix(in, &ref, &bound, &bound_len);
        bool full = len == in->n_toks && len == ref.n_toks;
        if (full && bound) *dsys = ct_str_dup_n(bound, bound_len);
        scan_free(&ref);
        if (full) {
            if (bound && !*dsys) return err_set(err, ERR_NOMEM, "chat template: out of memory");
            *ref_out = r;
            return 0;
        }
        if (len > best_len) {
            best = r;
            best_len = len;
        }
    }
    if (in->n_toks == 0 || best_len == 0)
        return err_set(err, ERR_UNSUPPORTED,
                       "chat template not recognised: it is none of the supported templates (ChatML as in "
                       "SmolLM2/Qwen/OpenHermes, Qwen2.5, Llama 3, Llama 3.1/3.2/3.3, Llama 2, Mistral v0.1/v0.2)");
    if (best_len < in->n_toks)
        return err_set(err, ERR_UNSUPPORTED,
                       "chat template not recognised: closest is the %s template (%s), which it leaves at "
                       "byte %zu ('%.*s')", ct_references[best].name, ct_references[best].models,
                       in->toks[best_len].at, excerpt_len(in->src + in->toks[best_len].at),
                       in->src + in->toks[best_len].at);
    return err_set(err, ERR_UNSUPPORTED,
                   "chat template not recognised: it is a truncated form of the %s template (%s)",
                   ct_references[best].name, ct_references[best].models);
}

int ct_recognise(const char *source, size_t n, const Reference **ref_out, char **dsys, Err *err) {
    Scan sc;
    int r = -1;
    if (scan_template(&sc, source, n, err)) {
        scan_free(&sc);
        return -1;
    }
    if (sc.emitted_at != SIZE_MAX) {
        size_t at = sc.emitted_at;
        scan_free(&sc);
        return err_set(err, ERR_UNSUPPORTED,
                       "chat template not recognised: it writes text outside {{ }} tags (byte %zu), "
                       "which no supported template does", at);
    }
    int rc = recognise(&sc, &r, dsys, err);
    scan_free(&sc);
    if (rc) return -1;
    *ref_out = &ct_references[r];
    return 0;
}
