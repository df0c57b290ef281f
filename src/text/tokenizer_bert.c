/* tokenizer_bert.c: the BERT pieces of a Hugging Face tokenizer.json, as PyPI `tokenizers` runs
 * them: BertNormalizer (clean_text, handle_chinese_chars, strip_accents, lowercase, in that
 * order), BertPreTokenizer (split at whitespace, which is dropped, and around each punctuation
 * character), the WordPiece model (greedy longest match first, continuations spelled with "##",
 * a word with an unmatchable part or longer than max_input_chars_per_word is one [UNK]) and the
 * WordPiece decoder. Character classes and mappings come from tokenizer_bert_data.c, generated
 * from the reference by scripts/gen_tokenizer_bert_unicode.py. It does not load tokenizer.json
 * (tokenizer_load_hf.c) nor match added tokens (tokenizer_added.c). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

#define HANGUL_SBASE 0xAC00u /* Hangul syllables decompose algorithmically (Unicode 3.12) */
#define HANGUL_LBASE 0x1100u
#define HANGUL_VBASE 0x1161u
#define HANGUL_TBASE 0x11A7u
#define HANGUL_VCOUNT 21u
#define HANGUL_TCOUNT 28u
#define HANGUL_SCOUNT 11172u
#define BERT_MAX_EXPAND 8 /* code points one input code point can become (decomposition, then lowercase) */

static uint8_t char_flags(uint32_t cp) {
    int lo = 0, hi = tok_bert_n_ranges - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < tok_bert_ranges[mid].first) hi = mid - 1;
        else if (cp > tok_bert_ranges[mid].last) lo = mid + 1;
        else return tok_bert_ranges[mid].flags;
    }
    return 0;
}

static const TokBertMap *map_find(const TokBertMap *m, int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < m[mid].cp) hi = mid - 1;
        else if (cp > m[mid].cp) lo = mid + 1;
        else return &m[mid];
    }
    return NULL;
}

/* Growable output of the normalizer. */
typedef struct {
    char *p;
    size_t n, cap;
} Out;

static int out_cp(TokCtx *c, Out *o, uint32_t cp) {
    if (o->n + TOK_UTF8_MAX + 1 > o->cap) {
        size_t cap = o->cap * 2 + 64;
        char *p = realloc(o->p, cap);
        if (!p) return err_set(c->err, ERR_NOMEM, "tokenizer: out of memory (BertNormalizer)");
        o->p = p;
        o->cap = cap;
    }
    o->n += tok_utf8_encode(cp, o->p + o->n);
    return 0;
}

/* strip_accents of one code point: its decomposition without nonspacing marks (n may be 0). */
static int strip_cp(uint32_t cp, uint8_t flags, uint32_t *dst) {
    if (flags & TOK_BERT_F_MARK) return 0;
    if (cp >= HANGUL_SBASE && cp < HANGUL_SBASE + HANGUL_SCOUNT) {
        uint32_t s = cp - HANGUL_SBASE, t = s % HANGUL_TCOUNT;
        dst[0] = HANGUL_LBASE + s / (HANGUL_VCOUNT * HANGUL_TCOUNT);
        dst[1] = HANGUL_VBASE + (s % (HANGUL_VCOUNT * HANGUL_TCOUNT)) / HANGUL_TCOUNT;
        if (!t) return 2;
        dst[2] = HANGUL_TBASE + t;
        return 3;
    }
    const TokBertMap *m = map_find(tok_bert_strip, tok_bert_n_strip, cp);
    if (!m) {
        dst[0] = cp;
        return 1;
    }
    int n = m->n < BERT_MAX_EXPAND ? m->n : BERT_MAX_EXPAND;
    for (int i = 0; i < n; i++) dst[i] = tok_bert_strip_pool[m->at + i];
    return n;
}

static int lower_out(TokCtx *c, Out *o, uint32_t cp) {
    const TokBertMap *m = map_find(tok_bert_lower, tok_bert_n_lower, cp);
    if (!m) return out_cp(c, o, cp);
    for (int i = 0; i < m->n; i++)
        if (out_cp(c, o, tok_bert_lower_pool[m->at + i])) return -1;
    return 0;
}

int tok_bert_normalize(TokCtx *c, const TokNormStep *st, const char *s, size_t n, char **out, size_t *out_len) {
    Out o = {0};
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += tok_utf8_decode(u + i, n - i, &cp);
        uint8_t f = char_flags(cp);
        if (st->bert & TOK_BERT_CLEAN) {
            if (cp == 0 || cp == 0xFFFD || (f & TOK_BERT_F_CONTROL)) continue;
            if (f & TOK_BERT_F_SPACE) cp = ' ';
        }
        bool cjk = (st->bert & TOK_BERT_CJK) && (f & TOK_BERT_F_CJK);
        if (cjk && out_cp(c, &o, ' ')) goto fail;
        uint32_t parts[BERT_MAX_EXPAND];
        int np = 1;
        parts[0] = cp;
        if (st->bert & TOK_BERT_STRIP) np = strip_cp(cp, char_flags(cp), parts);
        for (int k = 0; k < np; k++)
            if ((st->bert & TOK_BERT_LOWER) ? lower_out(c, &o, parts[k]) : out_cp(c, &o, parts[k])) goto fail;
        if (cjk && out_cp(c, &o, ' ')) goto fail;
    }
    if (out_cp(c, &o, 0)) goto fail; /* room for the terminator */
    o.n--;
    *out = o.p;
    *out_len = o.n;
    return 0;
fail:
    free(o.p);
    return -1;
}

/* ---- WordPiece ---- */

/* One word: the longest vocabulary entry at each position ("##"-prefixed after the first). */
static int wordpiece_word(TokCtx *c, const char *w, size_t n, TokIds *out) {
    const Tokenizer *t = c->t;
    size_t chars = 0;
    for (size_t i = 0; i < n; i += tok_utf8_len((unsigned char)w[i])) chars++;
    if (chars > (size_t)t->wp_max_chars) return tok_ids_push(out, t->unk_id, c->err);
    if (tok_ctx_reserve_heap(c, n + t->wp_prefix_len + 1, 1)) return -1;
    char *buf = c->heap;
    memcpy(buf, t->wp_prefix, t->wp_prefix_len);
    size_t mark = out->n;
    for (size_t start = 0; start < n;) {
        size_t end = n;
        int32_t id = -1;
        while (end > start) {
            const char *key = w + start;
            size_t klen = end - start;
            if (start > 0) {
                memcpy(buf + t->wp_prefix_len, w + start, end - start);
                key = buf;
                klen += t->wp_prefix_len;
            }
            id = tok_strmap_get(t, &t->vocab, key, klen);
            if (id >= 0) break;
            do end--; /* back to the previous character boundary */
            while (end > start && ((unsigned char)w[end] & 0xC0) == 0x80);
        }
        if (id < 0) { /* an unmatchable part: the whole word is unknown */
            out->n = mark;
            return tok_ids_push(out, t->unk_id, c->err);
        }
        if (tok_ids_push(out, id, c->err)) return -1;
        start = end;
    }
    return 0;
}

int tok_wordpiece_segment(TokCtx *c, const char *s, size_t n, TokIds *out) {
    if (!c->t->bert_pretok) return n ? wordpiece_word(c, s, n, out) : 0;
    const unsigned char *u = (const unsigned char *)s;
    size_t word = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = tok_utf8_decode(u + i, n - i, &cp);
        uint8_t f = char_flags(cp);
        if (f & (TOK_BERT_F_PRE_SPACE | TOK_BERT_F_PRE_PUNCT)) {
            if (i > word && wordpiece_word(c, s + word, i - word, out)) return -1;
            if ((f & TOK_BERT_F_PRE_PUNCT) && !(f & TOK_BERT_F_PRE_SPACE) && wordpiece_word(c, s + i, k, out))
                return -1;
            word = i + k;
        }
        i += k;
    }
    return n > word ? wordpiece_word(c, s + word, n - word, out) : 0;
}

/* ---- decoder ---- */

/* HF's cleanup: these replacements, in this order, on each token's text. */
static const char *const CLEANUP[][2] = {{" .", "."},         {" ?", "?"},     {" !", "!"},    {" ,", ","},
                                         {" ' ", "'"},        {" n't", "n't"}, {" 'm", "'m"},  {" do not", " don't"},
                                         {" 's", "'s"},       {" 've", "'ve"}, {" 're", "'re"}};

/* Replaces every occurrence of from by to in s (length *n, heap); the text only shrinks or stays. */
static void replace_in_place(char *s, size_t *n, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to), r = 0, w = 0;
    while (r < *n) {
        if (r + fl <= *n && !memcmp(s + r, from, fl)) {
            memmove(s + w, to, tl);
            w += tl;
            r += fl;
        } else {
            s[w++] = s[r++];
        }
    }
    *n = w;
    s[w] = 0;
}

int tok_wordpiece_piece(const Tokenizer *t, bool first, const char *s, size_t n, char **out, size_t *out_len,
                        Err *err) {
    char *p = malloc(n + 2);
    if (!p) return err_set(err, ERR_NOMEM, "tok_decode: out of memory");
    size_t m = 0;
    if (!first) {
        if (n >= t->wp_prefix_len && !memcmp(s, t->wp_prefix, t->wp_prefix_len)) {
            s += t->wp_prefix_len;
            n -= t->wp_prefix_len;
        } else {
            p[m++] = ' ';
        }
    }
    memcpy(p + m, s, n);
    m += n;
    p[m] = 0;
    if (t->wp_cleanup)
        for (size_t i = 0; i < sizeof CLEANUP / sizeof CLEANUP[0]; i++) replace_in_place(p, &m, CLEANUP[i][0], CLEANUP[i][1]);
    *out = p;
    *out_len = m;
    return 0;
}
