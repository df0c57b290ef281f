/* tokenizer_pretok.c: normalizers (NFC, Prepend, Replace; BertNormalizer in tokenizer_bert.c) and pre-tokenizers (regex Split with
 * HF's five delimiter behaviours, Digits as a \p{N} split, ByteLevel with its GPT-2 regex and
 * prefix space, Metaspace) over one text segment, then the model on every resulting word.
 * Regexes are PCRE2 with UTF and Unicode properties. It does not match added tokens
 * (tokenizer_added.c) and does not merge anything (tokenizer_bpe.c). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

#define REGEX_ERR_MSG 256 /* bytes of a PCRE2 error message kept */

/* GPT-2 (HF ByteLevel use_regex, llama.cpp "gpt-2" and "smollm"). */
const char *const tok_regex_gpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
/* Llama 3 as adapted by llama.cpp (case-insensitive contractions spelled out). */
const char *const tok_regex_llama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/* Qwen2 as adapted by llama.cpp (single digits). */
const char *const tok_regex_qwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* The same two as Hugging Face's tokenizer.json spells them (Qwen2, Llama 3). */
const char *const tok_regex_hf_qwen2 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";
const char *const tok_regex_hf_llama3 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

int tok_regex_compile(const char *pattern, size_t len, bool literal, pcre2_code **out, Err *err) {
    if (len > TOK_MAX_REGEX_BYTES)
        return err_set(err, ERR_UNSUPPORTED, "pre-tokenizer regex is %zu bytes (limit %d)", len, TOK_MAX_REGEX_BYTES);
    int ec = 0;
    PCRE2_SIZE eo = 0;
    uint32_t opts = literal ? PCRE2_UTF | PCRE2_LITERAL : PCRE2_UTF | PCRE2_UCP;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, len, opts, &ec, &eo, NULL);
    if (!re) {
        PCRE2_UCHAR msg[REGEX_ERR_MSG];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return err_set(err, ERR_UNSUPPORTED, "regex /%.*s/ does not compile at offset %zu: %s",
                       (int)(len > 120 ? 120 : len), pattern, (size_t)eo, (const char *)msg);
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* interpreted matching if JIT is unavailable */
    *out = re;
    return 0;
}

int tok_regex_next(TokCtx *c, const pcre2_code *re, const char *s, size_t n, size_t pos, size_t *ms,
                   size_t *me) {
    if (!c->md) {
        c->md = pcre2_match_data_create(1, NULL);
        if (!c->md) return err_set(c->err, ERR_NOMEM, "tokenizer: out of memory (regex match data)");
    }
    int rc = pcre2_match(re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, c->md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, c->md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[REGEX_ERR_MSG];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return err_set(c->err, ERR_ARG, "tokenizer: regex matching failed at byte %zu: %s", pos, (const char *)msg);
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
    *ms = ov[0];
    *me = ov[1];
    return 1;
}

char *tok_regex_shadow(const char *s, size_t n, bool *err_nomem) {
    *err_nomem = false;
    const unsigned char *u = (const unsigned char *)s;
    const unsigned char *p = memchr(u, 0xED, n);
    bool any = false;
    for (; p && !any; p = memchr(p + 1, 0xED, n - (size_t)(p + 1 - u)))
        any = (size_t)(p - u) + 2 < n && p[1] >= 0xA0 && p[1] <= 0xBF;
    if (!any) return NULL;
    char *c = malloc(n + 1);
    if (!c) {
        *err_nomem = true;
        return NULL;
    }
    memcpy(c, s, n);
    c[n] = 0;
    for (size_t i = 0; i + 2 < n; i++)
        if (u[i] == 0xED && u[i + 1] >= 0xA0 && u[i + 1] <= 0xBF) {
            memcpy(c + i, "\xef\xbf\xbd", 3);
            i += 2;
        }
    return c;
}

/* ---- span lists ---- */
typedef struct {
    TokSpan *v;
    bool *first; /* span starts the original input (Metaspace "first") */
    size_t n, cap;
} Spans;

static int spans_push(TokCtx *c, Spans *s, size_t a, size_t b, bool first) {
    if (a >= b) return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        TokSpan *v = realloc(s->v, cap * sizeof *v);
        if (v) s->v = v;
        bool *f = realloc(s->first, cap * sizeof *f);
        if (f) s->first = f;
        if (!v || !f) return err_set(c->err, ERR_NOMEM, "tokenizer: out of memory (pre-tokenizer)");
        s->cap = cap;
    }
    s->v[s->n] = (TokSpan){a, b};
    s->first[s->n] = first;
    s->n++;
    return 0;
}

static void spans_free(Spans *s) {
    free(s->v);
    free(s->first);
    memset(s, 0, sizeof *s);
}

/* Appends the part [x, y) (a match or not) to the context's scratch list. */
static int part_push(TokCtx *c, size_t x, size_t y, bool is_match) {
    if (c->n_parts == c->parts_cap) {
        size_t cap = c->parts_cap ? c->parts_cap * 2 : 64;
        TokSpan *v = realloc(c->parts, cap * sizeof *v);
        if (v) c->parts = v;
        bool *m = realloc(c->part_match, cap * sizeof *m);
        if (m) c->part_match = m;
        if (!v || !m) return err_set(c->err, ERR_NOMEM, "tokenizer: out of memory (pre-tokenizer)");
        c->parts_cap = cap;
    }
    c->parts[c->n_parts] = (TokSpan){x, y};
    c->part_match[c->n_parts++] = is_match;
    return 0;
}

/* Splits buf[a,b) by re with HF's delimiter behaviour, appending the pieces to out. */
static int split_span(TokCtx *c, const pcre2_code *re, TokSplitBehavior beh, bool invert, const char *buf,
                      size_t a, size_t b, bool first, Spans *out) {
    /* parts: (start, end, is_match) covering [a, b), relative to a */
    size_t prev = 0, pos = 0, n = b - a;
    const char *s = buf + a;
    c->n_parts = 0;
    while (pos <= n) {
        size_t ms, me;
        int r = tok_regex_next(c, re, s, n, pos, &ms, &me);
        if (r < 0) return -1;
        if (r == 0) break;
        if (me == ms) { /* empty match: ignore it and move one character on */
            if (ms >= n) break;
            pos = ms + tok_utf8_len((unsigned char)s[ms]);
            continue;
        }
        if (ms > prev && part_push(c, prev, ms, invert)) return -1;
        if (part_push(c, ms, me, !invert)) return -1;
        prev = pos = me;
    }
    if (prev < n && part_push(c, prev, n, invert)) return -1;
    const TokSpan *parts = c->parts;
    const bool *is_match = c->part_match;
    size_t n_parts = c->n_parts;
    /* fold the parts per behaviour into pieces */
    TokSpan cur = {0, 0};
    bool have = false, prev_match = false;
    switch (beh) {
    case TOK_SPLIT_ISOLATED:
    case TOK_SPLIT_REMOVED:
        for (size_t i = 0; i < n_parts; i++)
            if ((beh == TOK_SPLIT_ISOLATED || !is_match[i]) &&
                spans_push(c, out, a + parts[i].start, a + parts[i].end, first && parts[i].start == 0))
                return -1;
        return 0;
    case TOK_SPLIT_MERGED_PREV:
    case TOK_SPLIT_CONTIGUOUS:
        /* MergedWithPrevious: a match (not right after another) joins the piece before it;
         * Contiguous: consecutive parts of the same kind join */
        for (size_t i = 0; i < n_parts; i++) {
            bool m = is_match[i];
            bool join = beh == TOK_SPLIT_MERGED_PREV ? (m && !prev_match) : (m == prev_match);
            if (join && have) {
                cur.end = parts[i].end;
            } else {
                if (have && spans_push(c, out, a + cur.start, a + cur.end, first && cur.start == 0)) return -1;
                cur = parts[i];
                have = true;
            }
            prev_match = m;
        }
        return have ? spans_push(c, out, a + cur.start, a + cur.end, first && cur.start == 0) : 0;
    case TOK_SPLIT_MERGED_NEXT: {
        /* walking backwards: a match (not right before another) joins the piece after it */
        size_t first_out = out->n;
        for (size_t k = n_parts; k-- > 0;) {
            bool m = is_match[k];
            if (m && !prev_match && have) {
                cur.start = parts[k].start;
            } else {
                if (have && spans_push(c, out, a + cur.start, a + cur.end, first && cur.start == 0)) return -1;
                cur = parts[k];
                have = true;
            }
            prev_match = m;
        }
        if (have && spans_push(c, out, a + cur.start, a + cur.end, first && cur.start == 0)) return -1;
        for (size_t i = first_out, j = out->n; i + 1 < j; i++, j--) { /* back into text order */
            TokSpan tv = out->v[i];
            out->v[i] = out->v[j - 1];
            out->v[j - 1] = tv;
            bool tf = out->first[i];
            out->first[i] = out->first[j - 1];
            out->first[j - 1] = tf;
        }
        return 0;
    }
    }
    return 0;
}

/* Rewrites every span into a new buffer (ByteLevel prefix space, Metaspace replacement). */
static int rebuild(TokCtx *c, const TokPreStep *st, const char **buf, char **own, Spans *sp) {
    size_t total = 0;
    for (size_t i = 0; i < sp->n; i++) total += sp->v[i].end - sp->v[i].start;
    size_t per = st->kind == TOK_PRE_METASPACE ? st->repl_len : 1;
    char *nb = malloc(total * per + sp->n * per + 1);
    if (!nb) return err_set(c->err, ERR_NOMEM, "tokenizer: out of memory (pre-tokenizer)");
    size_t m = 0;
    for (size_t i = 0; i < sp->n; i++) {
        const char *p = *buf + sp->v[i].start;
        size_t k = sp->v[i].end - sp->v[i].start, start = m;
        if (st->kind == TOK_PRE_BYTELEVEL) {
            if (p[0] != ' ') nb[m++] = ' ';
            memcpy(nb + m, p, k);
            m += k;
        } else {
            bool pre = st->prepend == TOK_PREPEND_ALWAYS || (st->prepend == TOK_PREPEND_FIRST && sp->first[i]);
            bool starts = (k >= 1 && p[0] == ' ') || (k >= st->repl_len && !memcmp(p, st->repl, st->repl_len));
            if (pre && !starts) {
                memcpy(nb + m, st->repl, st->repl_len);
                m += st->repl_len;
            }
            for (size_t j = 0; j < k; j++) {
                if (p[j] == ' ') {
                    memcpy(nb + m, st->repl, st->repl_len);
                    m += st->repl_len;
                } else {
                    nb[m++] = p[j];
                }
            }
        }
        sp->v[i] = (TokSpan){start, m};
    }
    nb[m] = 0;
    free(*own);
    *own = nb;
    *buf = nb;
    return 0;
}

int tok_encode_segment(TokCtx *c, const char *s, size_t n, bool is_first, TokIds *out) {
    const Tokenizer *t = c->t;
    if (n == 0) return 0;
    if (t->model == TOK_MODEL_WORDPIECE) return tok_wordpiece_segment(c, s, n, out);
    const char *buf = s;
    char *own = NULL, *shadow = NULL;
    size_t buf_len = n;
    bool shadow_valid = false;
    Spans sp = {0}, next = {0};
    int rc = -1;
    if (spans_push(c, &sp, 0, n, is_first)) goto done;
    for (int k = 0; k < t->n_pre; k++) {
        const TokPreStep *st = &t->pre[k];
        bool rebuilt = (st->kind == TOK_PRE_BYTELEVEL && st->add_prefix_space) || st->kind == TOK_PRE_METASPACE;
        if (rebuilt) {
            if (rebuild(c, st, &buf, &own, &sp)) goto done;
            buf_len = sp.n ? sp.v[sp.n - 1].end : 0;
            shadow_valid = false;
        }
        if (!st->re) continue;
        if (!shadow_valid) { /* surrogates kept from the input are hidden from PCRE2 */
            bool nomem;
            free(shadow);
            shadow = tok_regex_shadow(buf, buf_len, &nomem);
            if (nomem) {
                err_set(c->err, ERR_NOMEM, "tokenizer: out of memory (pre-tokenizer)");
                goto done;
            }
            shadow_valid = true;
        }
        const char *rbuf = shadow ? shadow : buf;
        TokSplitBehavior beh = st->kind == TOK_PRE_SPLIT       ? st->behavior
                               : st->kind == TOK_PRE_METASPACE ? TOK_SPLIT_MERGED_NEXT
                                                               : TOK_SPLIT_ISOLATED;
        next.n = 0;
        for (size_t i = 0; i < sp.n; i++)
            if (split_span(c, st->re, beh, st->kind == TOK_PRE_SPLIT && st->invert, rbuf, sp.v[i].start,
                           sp.v[i].end, sp.first[i], &next))
                goto done;
        Spans tmp = sp;
        sp = next;
        next = tmp;
    }
    for (size_t i = 0; i < sp.n; i++)
        if (tok_bpe_word(c, buf + sp.v[i].start, sp.v[i].end - sp.v[i].start, out)) goto done;
    rc = 0;
done:
    spans_free(&sp);
    spans_free(&next);
    free(own);
    free(shadow);
    return rc;
}

/* ---- normalizers ---- */

static int replace_all(TokCtx *c, const TokNormStep *st, const char *s, size_t n, char **out, size_t *out_len) {
    size_t cap = n + 16, m = 0, prev = 0, pos = 0;
    char *o = malloc(cap);
    if (!o) return err_set(c->err, ERR_NOMEM, "tokenizer: out of memory (normalizer)");
    for (;;) {
        size_t ms = n, me = n;
        int r = pos <= n ? tok_regex_next(c, st->re, s, n, pos, &ms, &me) : 0;
        if (r < 0) {
            free(o);
            return -1;
        }
        if (r == 0) ms = me = n;
        if (r == 1 && me == ms) { /* empty match: skip a character */
            if (ms >= n) {
                ms = me = n;
                r = 0;
            } else {
                pos = ms + tok_utf8_len((unsigned char)s[ms]);
                continue;
            }
        }
        size_t need = m + (ms - prev) + (r ? st->text_len : 0) + 1;
        if (need > cap) {
            while (cap < need) cap *= 2;
            char *no = realloc(o, cap);
            if (!no) {
                free(o);
                return err_set(c->err, ERR_NOMEM, "tokenizer: out of memory (normalizer)");
            }
            o = no;
        }
        memcpy(o + m, s + prev, ms - prev);
        m += ms - prev;
        if (!r) break;
        memcpy(o + m, st->text, st->text_len);
        m += st->text_len;
        prev = pos = me;
    }
    o[m] = 0;
    *out = o;
    *out_len = m;
    return 0;
}

int tok_normalize(TokCtx *c, const char *s, size_t n, char **out, size_t *out_len) {
    const Tokenizer *t = c->t;
    char *cur = malloc(n + 1);
    if (!cur) return err_set(c->err, ERR_NOMEM, "tokenizer: out of memory (normalizer)");
    memcpy(cur, s, n);
    cur[n] = 0;
    size_t len = n;
    for (int k = 0; k < t->n_norm; k++) {
        const TokNormStep *st = &t->norm[k];
        char *nx = NULL;
        size_t nl = 0;
        if (st->kind == TOK_NORM_NFC) {
            if (tok_nfc(cur, len, &nx, &nl, c->err)) goto fail;
        } else if (st->kind == TOK_NORM_BERT) {
            if (tok_bert_normalize(c, st, cur, len, &nx, &nl)) goto fail;
        } else if (st->kind == TOK_NORM_PREPEND) {
            if (len == 0) continue;
            nx = malloc(len + st->text_len + 1);
            if (!nx) {
                err_set(c->err, ERR_NOMEM, "tokenizer: out of memory (normalizer)");
                goto fail;
            }
            memcpy(nx, st->text, st->text_len);
            memcpy(nx + st->text_len, cur, len);
            nl = len + st->text_len;
            nx[nl] = 0;
        } else {
            if (replace_all(c, st, cur, len, &nx, &nl)) goto fail;
        }
        free(cur);
        cur = nx;
        len = nl;
    }
    *out = cur;
    *out_len = len;
    return 0;
fail:
    free(cur);
    return -1;
}
