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

/* Does a word character (\w) end s[0..end) / start s[start..n)? */
static int word_at(TokCtx *c, const pcre2_code *re, const char *s, size_t n, size_t from) {
    size_t ms, me;
    return tok_regex_next(c, re, s, n, from, &ms, &me);
}

static int single_word_ok(TokCtx *c, const char *s, size_t n, size_t start, size_t stop) {
    const Tokenizer *t = c->t;
    if (!t->re_word_end || !t->re_word_start) return 1;
    if (start > 0) {
        int r = word_at(c, t->re_word_end, s, start, 0);
        if (r < 0) return -1;
        if (r) return 0;
    }
    if (stop < n) {
        int r = word_at(c, t->re_word_start, s + stop, n - stop, 0);
        if (r < 0) return -1;
        if (r) return 0;
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

static int split_llama(TokCtx *c, const char *s, size_t n, bool parse_special, TokPieceFn emit, void *user) {
    const Tokenizer *t = c->t;
    size_t cap = 16, nf = 1;
    Frag *f = malloc(cap * sizeof *f);
    if (!f) return err_set(c->err, ERR_NOMEM, "tokenizer: out of memory (special tokens)");
    f[0] = (Frag){0, n, -1};
    for (int k = 0; k < t->n_added; k++) {
        const TokAdded *a = &t->added[k];
        if (a->len == 0 || (a->special && !parse_special)) continue;
        for (size_t i = 0; i < nf; i++) {
            if (f[i].id >= 0) continue;
            const char *hit = memmem(s + f[i].a, f[i].b - f[i].a, a->text, a->len);
            if (!hit) continue;
            /* replace fragment i by: text before, token, text after (rescanned next round) */
            if (nf + 2 > cap) {
                cap *= 2;
                Frag *nfp = realloc(f, cap * sizeof *f);
                if (!nfp) {
                    free(f);
                    return err_set(c->err, ERR_NOMEM, "tokenizer: out of memory (special tokens)");
                }
                f = nfp;
            }
            size_t ms = (size_t)(hit - s), me = ms + a->len;
            Frag before = {f[i].a, ms, -1}, tok = {ms, me, a->id}, after = {me, f[i].b, -1};
            int add = (before.a < before.b) + 1 + (after.a < after.b);
            memmove(&f[i + add], &f[i + 1], (nf - i - 1) * sizeof *f);
            size_t j = i;
            if (before.a < before.b) f[j++] = before;
            f[j++] = tok;
            if (after.a < after.b) f[j++] = after;
            nf += (size_t)add - 1;
            i = j - 1 - (after.a < after.b); /* continue with the "after" fragment */
        }
    }
    int rc = 0;
    for (size_t i = 0; i < nf && !rc; i++)
        rc = emit(c, user, s + f[i].a, f[i].b - f[i].a, f[i].id, f[i].a == 0);
    free(f);
    return rc;
}

int tok_split_added(TokCtx *c, const TokAddedSet *set, const char *s, size_t n, bool parse_special,
                    bool at_start, TokPieceFn emit, void *user) {
    if (c->t->added_style == TOK_ADDED_LLAMA) return split_llama(c, s, n, parse_special, emit, user);
    return split_hf(c, set, s, n, parse_special, at_start, emit, user);
}
