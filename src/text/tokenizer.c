/* tokenizer.c: tok_encode / tok_decode and the accessors of tokenizer.h. Encoding: the text is
 * split at added/special tokens (tokenizer_added.c); each text piece is made valid UTF-8 (BPE),
 * normalized and pre-tokenized, and the model turns each word into ids (tokenizer_pretok.c,
 * tokenizer_bpe.c), or, for SentencePiece vocabularies, escaped and run through llama.cpp's
 * algorithm (tokenizer_spm.c); the post-processor's ids go around the result. Decoding maps
 * each id back to bytes. Loading lives in tokenizer_load_hf.c and tokenizer_load_gguf.c. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

#define SPM_SPACE "\xe2\x96\x81" /* U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's space */
#define SPM_SPACE_LEN 3

typedef struct {
    TokIds *out;
    bool parse_special;
    bool prev_special; /* SPM: the previous piece was a token (or the start) */
} EncState;

/* SPM fragment: optional leading space, spaces escaped, then llama.cpp's SPM algorithm. */
static int encode_spm_piece(TokCtx *c, EncState *st, const char *s, size_t n) {
    const Tokenizer *t = c->t;
    size_t spaces = 0;
    for (size_t i = 0; i < n; i++) spaces += s[i] == ' ';
    bool lead = t->add_space_prefix && st->prev_special;
    size_t len = n + (spaces + lead) * (SPM_SPACE_LEN - 1) + lead;
    char *buf = malloc(len + 1);
    if (!buf) return err_set(c->err, ERR_NOMEM, "tokenizer: out of memory (%zu bytes)", len);
    size_t m = 0;
    if (lead) {
        memcpy(buf, SPM_SPACE, SPM_SPACE_LEN);
        m = SPM_SPACE_LEN;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            memcpy(buf + m, SPM_SPACE, SPM_SPACE_LEN);
            m += SPM_SPACE_LEN;
        } else {
            buf[m++] = s[i];
        }
    }
    st->prev_special = false;
    int rc = tok_spm_fragment(c, buf, m, st->out);
    free(buf);
    return rc;
}

static int emit_normalized(TokCtx *c, void *user, const char *s, size_t n, int32_t id, bool is_first) {
    EncState *st = user;
    if (id >= 0) return tok_ids_push(st->out, id, c->err);
    return tok_encode_segment(c, s, n, is_first, st->out);
}

static int emit_piece(TokCtx *c, void *user, const char *s, size_t n, int32_t id, bool is_first) {
    EncState *st = user;
    const Tokenizer *t = c->t;
    if (id >= 0) {
        st->prev_special = true;
        return tok_ids_push(st->out, id, c->err);
    }
    if (n == 0) return 0;
    if (t->model == TOK_MODEL_SPM) return encode_spm_piece(c, st, s, n);
    char *clean = NULL, *norm = NULL;
    size_t clean_len = 0, norm_len = 0;
    int rc = -1;
    /* llama.cpp keeps surrogates; HF never sees them (Python strings), so they become U+FFFD,
     * keeping the text valid UTF-8 for the normalizers and the added-token regexes */
    if (tok_utf8_sanitize(s, n, t->added_style == TOK_ADDED_LLAMA, &clean, &clean_len, c->err)) return -1;
    if (t->n_norm == 0 && t->set_norm.n == 0) {
        rc = tok_encode_segment(c, clean, clean_len, is_first, st->out);
    } else if (!tok_normalize(c, clean, clean_len, &norm, &norm_len)) {
        if (t->set_norm.n > 0)
            rc = tok_split_added(c, &t->set_norm, norm, norm_len, st->parse_special, is_first, emit_normalized, st);
        else
            rc = tok_encode_segment(c, norm, norm_len, is_first, st->out);
    }
    free(clean);
    free(norm);
    return rc;
}

int tok_encode(const Tokenizer *t, const char *text, size_t len, bool add_special, bool parse_special,
               int32_t **ids, int *n, Err *err) {
    if (!t || !ids || !n || (!text && len)) return err_set(err, ERR_ARG, "tok_encode: missing argument");
    *ids = NULL;
    *n = 0;
    if (len > TOK_MAX_TEXT_BYTES)
        return err_set(err, ERR_ARG, "tok_encode: text of %zu bytes is longer than the limit (%zu)", len,
                       (size_t)TOK_MAX_TEXT_BYTES);
    if (!text) text = "";
    TokCtx c = {.t = t, .err = err};
    TokIds out = {0};
    EncState st = {.out = &out, .parse_special = parse_special, .prev_special = true};
    int rc = 0;
    if (add_special)
        for (int i = 0; i < t->n_prefix && !rc; i++) rc = tok_ids_push(&out, t->prefix[i], err);
    if (!rc) rc = tok_split_added(&c, &t->set_raw, text, len, parse_special, true, emit_piece, &st);
    if (add_special)
        for (int i = 0; i < t->n_suffix && !rc; i++) rc = tok_ids_push(&out, t->suffix[i], err);
    tok_ctx_free(&c);
    if (!rc && out.n > (size_t)INT_MAX) rc = err_set(err, ERR_ARG, "tok_encode: too many tokens");
    if (rc) {
        free(out.v);
        return -1;
    }
    if (!out.v) { /* empty result: still hand back a freeable array */
        out.v = malloc(sizeof *out.v);
        if (!out.v) return err_set(err, ERR_NOMEM, "tok_encode: out of memory");
    }
    *ids = out.v;
    *n = (int)out.n;
    return 0;
}

/* ---- decoding ---- */

typedef struct {
    char *p;
    size_t n, cap;
} Buf;

static int buf_add(Buf *b, const void *s, size_t n, Err *err) {
    if (n > TOK_MAX_DECODE_BYTES - b->n) return err_set(err, ERR_ARG, "tok_decode: output longer than the limit");
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return err_set(err, ERR_NOMEM, "tok_decode: out of memory");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

/* Value of a <0xXX> token text, or -1. */
static int hex_byte(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static int decode_byte_level(Buf *b, const char *s, size_t n, Err *err) {
    size_t mark = b->n;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += tok_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        int byte = tok_cp_to_byte(cp);
        if (byte < 0) { /* not a mapped character: the token's own bytes, as HF does */
            b->n = mark;
            return buf_add(b, s, n, err);
        }
        char ch = (char)byte;
        if (buf_add(b, &ch, 1, err)) return -1;
    }
    return 0;
}

static int decode_spm_text(Buf *b, const char *s, size_t n, Err *err) {
    size_t prev = 0;
    for (size_t i = 0; i + SPM_SPACE_LEN <= n;) {
        if (!memcmp(s + i, SPM_SPACE, SPM_SPACE_LEN)) {
            if (buf_add(b, s + prev, i - prev, err) || buf_add(b, " ", 1, err)) return -1;
            i += SPM_SPACE_LEN;
            prev = i;
        } else {
            i++;
        }
    }
    return buf_add(b, s + prev, n - prev, err);
}

int tok_decode(const Tokenizer *t, const int32_t *ids, int n, bool skip_special, char **out, size_t *len,
               Err *err) {
    if (!t || !out || (!ids && n > 0) || n < 0) return err_set(err, ERR_ARG, "tok_decode: missing argument");
    *out = NULL;
    if (len) *len = 0;
    Buf b = {0};
    int n_out = 0; /* tokens written (the WordPiece decoder puts a space before all but the first) */
    for (int i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_vocab || !t->text[id]) {
            free(b.p);
            return err_set(err, ERR_ARG, "tok_decode: token id %d at position %d is not in the vocabulary (size %d)",
                           (int)id, i, (int)t->n_vocab);
        }
        const char *s = t->text[id];
        size_t k = t->text_len[id];
        uint8_t a = t->attr[id];
        int rc = 0;
        if (t->decoder == TOK_DEC_WORDPIECE) { /* HF passes special tokens through this decoder too */
            if (skip_special && (a & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN))) continue;
            char *piece;
            size_t piece_len;
            rc = tok_wordpiece_piece(t, n_out++ == 0, s, k, &piece, &piece_len, err);
            if (!rc) {
                rc = buf_add(&b, piece, piece_len, err);
                free(piece);
            }
        } else if (a & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN)) {
            if (!skip_special) rc = buf_add(&b, s, k, err);
        } else if (a & TOK_ATTR_USER) {
            rc = buf_add(&b, s, k, err);
        } else if ((a & TOK_ATTR_BYTE) && t->dec_bytes && hex_byte(s, k) >= 0) {
            char byte = (char)hex_byte(s, k);
            rc = buf_add(&b, &byte, 1, err);
        } else if (a & (TOK_ATTR_NORMAL)) {
            switch (t->decoder) {
            case TOK_DEC_BYTE_LEVEL: rc = decode_byte_level(&b, s, k, err); break;
            case TOK_DEC_SPM: rc = decode_spm_text(&b, s, k, err); break;
            case TOK_DEC_PLAIN:
            case TOK_DEC_WORDPIECE: rc = buf_add(&b, s, k, err); break;
            }
        } /* unused / undefined tokens decode to nothing */
        if (rc) {
            free(b.p);
            return -1;
        }
    }
    if (buf_add(&b, "", 0, err)) {
        free(b.p);
        return -1;
    }
    size_t skip = 0;
    while ((int)skip < t->strip_lead && skip < b.n && b.p[skip] == ' ') skip++;
    if (skip) memmove(b.p, b.p + skip, b.n - skip);
    b.n -= skip;
    b.p[b.n] = 0;
    *out = b.p;
    if (len) *len = b.n;
    return 0;
}

/* ---- accessors ---- */

int tok_vocab_size(const Tokenizer *t) { return t ? (int)t->n_vocab : 0; }

const char *tok_token_text(const Tokenizer *t, int32_t id) {
    if (!t || id < 0 || id >= t->n_vocab) return NULL;
    return t->text[id];
}

int32_t tok_find_token(const Tokenizer *t, const char *text) {
    if (!t || !text) return -1;
    size_t n = strlen(text);
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].len == n && !memcmp(t->added[i].text, text, n)) return t->added[i].id;
    return tok_strmap_get(t, &t->vocab, text, n);
}

bool tok_is_special(const Tokenizer *t, int32_t id) {
    if (!t || id < 0 || id >= t->n_vocab) return false;
    return (t->attr[id] & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN)) != 0;
}

int32_t tok_bos_id(const Tokenizer *t) { return t ? t->bos_id : -1; }
int32_t tok_eos_id(const Tokenizer *t) { return t ? t->eos_id : -1; }

bool tok_adds_bos(const Tokenizer *t) {
    return t && t->bos_id >= 0 && t->n_prefix > 0 && t->prefix[0] == t->bos_id;
}

const char *tok_model_name(const Tokenizer *t) { return t ? t->model_name : ""; }

int tok_set_bos_eos(Tokenizer *t, int32_t bos_id, int32_t eos_id, Err *err) {
    if (!t) return err_set(err, ERR_ARG, "tok_set_bos_eos: no tokenizer");
    if (bos_id < -1 || bos_id >= t->n_vocab || eos_id < -1 || eos_id >= t->n_vocab)
        return err_set(err, ERR_ARG, "tok_set_bos_eos: ids %d/%d outside the vocabulary (size %d)", (int)bos_id,
                       (int)eos_id, (int)t->n_vocab);
    t->bos_id = bos_id;
    t->eos_id = eos_id;
    return 0;
}
