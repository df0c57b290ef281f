/* tokenizer_added.c: finds added/special tokens in the text before the model runs, in one of
 * two styles. HF (AddedVocabulary): leftmost-longest matches scanning left to right, with the
 * lstrip / rstrip / single_word options; special tokens are skipped when parse_special is
 * false. llama.cpp (tokenizer_st_partition): tokens taken longest first, each splitting every
 * remaining text fragment at all its occurrences; control tokens only with parse_special.
 * It does not normalize or tokenize the text between matches (the caller's emit does). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/* Unicode White_Space (what Rust's regex \s matches, used by HF's lstrip/rstrip). */
static bool is_white_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

/* Start of the run of white space that ends at s[end]. */
static size_t space_run_before(const char *s, size_t end) {
    size_t i = end;
    while (i > 0) {
        size_t j = i - 1;
        while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80 && i - j < TOK_UTF8_MAX) j--;
        uint32_t cp;
        size_t k = tok_utf8_decode((const unsigned char *)s + j, i - j, &cp);
        if (j + k != i || !is_white_space(cp)) break;
        i = j;
    }
    return i;
}

/* End of the run of white space that starts at s[start]. */
static size_t space_run_after(const char *s, size_t n, size_t start) {
    size_t i = start;
    while (i < n) {
        uint32_t cp;
        size_t k = tok_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (!is_white_space(cp)) break;
        i += k;
    }
    return i;
}

/* Is the character at s[at] a word character (\w)? The text here is the raw input, so the
 * character is decoded and re-encoded first: PCRE2 only ever sees valid UTF-8. */
static int word_char_at(TokCtx *c, const char *s, size_t n, size_t at) {
    uint32_t cp;
    size_t k = tok_utf8_decode((const unsigned char *)s + at, n - at, &cp);
    if ((k == 1 && (unsigned char)s[at] >= 0x80) || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
    char ch[TOK_UTF8_MAX];
    size_t m = tok_utf8_encode(cp, ch), ms, me;
    return tok_regex_next(c, c->t->re_word, ch, m, 0, &ms, &me);
}

/* HF single_word: no word character right before start nor right after stop. */
static int single_word_ok(TokCtx *c, const char *s, size_t n, size_t start, size_t stop) {
    if (!c->t->re_word) return 1;
    if (start > 0) {
        size_t j = start - 1;
        while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80 && start - j < TOK_UTF8_MAX) j--;
        int r = word_char_at(c, s, start, j);
        if (r) return r < 0 ? -1 : 0;
    }
    if (stop < n) {
        int r = word_char_at(c, s, n, stop);
        if (r) return r < 0 ? -1 : 0;
    }
    return 1;
}

static int split_hf(TokCtx *c, const TokAddedSet *set, const char *s, size_t n, bool parse_special,
                    bool at_start, TokPieceFn emit, void *user) {
    const Tokenizer *t = c->t;
    size_t start_offset = 0, pos = 0;
    while (pos < n && set->n > 0) {
        unsigned char b = (unsigned char)s[pos];
        const TokAdded *hit = NULL;
        for (int k = set->bucket[b]; k < set->bucket[b + 1]; k++) {
            const TokAdded *a = &t->added[set->idx[k]];
            if (a->len <= n - pos && !memcmp(s + pos, a->text, a->len)) {
                hit = a;
                break;
            }
        }
        if (!hit) {
            pos++;
            continue;
        }
        size_t start = pos, stop = pos + hit->len;
        pos = stop;
        if (hit->special && !parse_special) continue;
        if (hit->single_word) {
            int r = single_word_ok(c, s, n, start, stop);
            if (r < 0) return -1;
            if (!r) continue;
        }
        if (hit->lstrip) {
            size_t ns = space_run_before(s, start);
            start = ns > start_offset ? ns : start_offset;
        }
        if (hit->rstrip) pos = stop = space_run_after(s, n, stop);
        if (start_offset < start && emit(c, user, s + start_offset, start - start_offset, -1, at_start && start_offset == 0))
            return -1;
        if (emit(c, user, s + start, stop - start, hit->id, false)) return -1;
        start_offset = stop;
    }
    if (start_offset < n && emit(c, user, s + start_offset, n - start_offset, -1, at_start && start_offset == 0))
        return -1;
    return 0;
}

typedef struct {
    size_t a, b;
    int32_t id; /* -1 for text */
} Frag;

typedef struct {
    Frag *v;
    size_t n, cap;
} Frags;

static int frag_push(TokCtx *c, Frags *f, size_t a, size_t b, int32_t id) {
    if (id < 0 && a >= b) return 0;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        Frag *v = realloc(f->v, cap * sizeof *v);
        if (!v) return err_set(c->err, ERR_NOMEM, "tokenizer: out of memory (special tokens)");
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = (Frag){a, b, id};
    return 0;
}

/* Each token in turn (longest first) splits every text fragment at all its occurrences; one
 * pass per token rebuilds the fragment list, so the cost is O(tokens x text). */
static int split_llama(TokCtx *c, const char *s, size_t n, bool parse_special, TokPieceFn emit, void *user) {
    const Tokenizer *t = c->t;
    Frags cur = {0}, nxt = {0};
    int rc = frag_push(c, &cur, 0, n, -1);
    for (int k = 0; k < t->n_added && !rc; k++) {
        const TokAdded *a = &t->added[k];
        if (a->len == 0 || (a->special && !parse_special)) continue;
        nxt.n = 0;
        for (size_t i = 0; i < cur.n && !rc; i++) {
            Frag f = cur.v[i];
            if (f.id >= 0) {
                rc = frag_push(c, &nxt, f.a, f.b, f.id);
                continue;
            }
            size_t pos = f.a;
            const char *hit;
            while (!rc && pos < f.b && (hit = memmem(s + pos, f.b - pos, a->text, a->len))) {
                size_t ms = (size_t)(hit - s);
                rc = frag_push(c, &nxt, pos, ms, -1);
                if (!rc) rc = frag_push(c, &nxt, ms, ms + a->len, a->id);
                pos = ms + a->len;
            }
            if (!rc) rc = frag_push(c, &nxt, pos, f.b, -1);
        }
        Frags tmp = cur;
        cur = nxt;
        nxt = tmp;
    }
    for (size_t i = 0; i < cur.n && !rc; i++)
        rc = emit(c, user, s + cur.v[i].a, cur.v[i].b - cur.v[i].a, cur.v[i].id, cur.v[i].a == 0);
    free(cur.v);
    free(nxt.v);
    return rc;
}

int tok_split_added(TokCtx *c, const TokAddedSet *set, const char *s, size_t n, bool parse_special,
                    bool at_start, TokPieceFn emit, void *user) {
    if (c->t->added_style == TOK_ADDED_LLAMA) return split_llama(c, s, n, parse_special, emit, user);
    return split_hf(c, set, s, n, parse_special, at_start, emit, user);
}
