/* tokenizer_spm.c: llama.cpp's SentencePiece-style BPE (tokenizer.ggml.model = "llama") on one
 * text fragment whose spaces are already escaped to U+2581: start from one symbol per UTF-8
 * character (lengths taken from the lead byte, as llama.cpp does, so invalid bytes stay bytes),
 * repeatedly merge the adjacent pair whose concatenation is the vocabulary entry with the
 * highest score (leftmost on ties), then emit each symbol, or its bytes as <0xXX> tokens when
 * it is not in the vocabulary. It does not add the space prefix or BOS (tokenizer.c does). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

typedef struct {
    float score;
    int32_t left, right;
    uint32_t size; /* bytes of the merged text when queued */
} SpmCand;

/* Higher score first; on equal scores the leftmost pair. */
static bool spm_before(SpmCand a, SpmCand b) { return a.score > b.score || (a.score == b.score && a.left < b.left); }

static void spm_push(SpmCand *h, size_t *n, SpmCand x) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!spm_before(x, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static SpmCand spm_pop(SpmCand *h, size_t *n) {
    SpmCand top = h[0], x = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        SpmCand best = x;
        if (l < *n && spm_before(h[l], best)) {
            m = l;
            best = h[l];
        }
        if (r < *n && spm_before(h[r], best)) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = x;
    return top;
}

static void spm_try(TokCtx *c, const char *s, SpmCand *h, size_t *hn, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Tokenizer *t = c->t;
    uint32_t size = c->sym_len[left] + c->sym_len[right];
    int32_t id = tok_strmap_get(t, &t->vocab, s + c->sym_id[left], size);
    if (id < 0) return;
    spm_push(h, hn, (SpmCand){t->score ? t->score[id] : 0.0f, left, right, size});
}

/* The token for one byte: <0xXX>, else the one-byte text, else <unk>; -1 if none. */
static int32_t spm_byte_token(const Tokenizer *t, unsigned char b) {
    if (t->byte_id[b] >= 0) return t->byte_id[b];
    char one = (char)b;
    int32_t id = tok_strmap_get(t, &t->vocab, &one, 1);
    return id >= 0 ? id : t->unk_id;
}

int tok_spm_fragment(TokCtx *c, const char *s, size_t n, TokIds *out) {
    const Tokenizer *t = c->t;
    if (n == 0) return 0;
    if (tok_ctx_reserve_syms(c, n + 1)) return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; m++) {
        size_t k = tok_utf8_len((unsigned char)s[i]);
        if (k > n - i) k = n - i;
        c->sym_id[m] = (int32_t)i; /* start offset */
        c->sym_len[m] = (uint32_t)k;
        c->sym_prev[m] = (int32_t)m - 1;
        c->sym_next[m] = i + k < n ? (int32_t)m + 1 : -1;
        i += k;
    }
    if (tok_ctx_reserve_heap(c, 3 * m, sizeof(SpmCand))) return -1;
    SpmCand *h = c->heap;
    size_t hn = 0;
    for (size_t i = 1; i < m; i++) spm_try(c, s, h, &hn, (int32_t)i - 1, (int32_t)i);
    while (hn) {
        SpmCand x = spm_pop(h, &hn);
        uint32_t ln = c->sym_len[x.left], rn = c->sym_len[x.right];
        if (ln == 0 || rn == 0 || ln + rn != x.size) continue; /* stale */
        c->sym_len[x.left] = ln + rn;
        c->sym_len[x.right] = 0;
        c->sym_next[x.left] = c->sym_next[x.right];
        if (c->sym_next[x.right] >= 0) c->sym_prev[c->sym_next[x.right]] = x.left;
        spm_try(c, s, h, &hn, c->sym_prev[x.left], x.left);
        spm_try(c, s, h, &hn, x.left, c->sym_next[x.left]);
    }
    for (int32_t i = 0; i >= 0; i = c->sym_next[i]) {
        const char *p = s + c->sym_id[i];
        uint32_t k = c->sym_len[i];
        int32_t id = tok_strmap_get(t, &t->vocab, p, k);
        if (id >= 0) {
            if (tok_ids_push(out, id, c->err)) return -1;
            continue;
        }
        for (uint32_t j = 0; j < k; j++) {
            int32_t b = spm_byte_token(t, (unsigned char)p[j]);
            if (b >= 0 && tok_ids_push(out, b, c->err)) return -1;
        }
    }
    return 0;
}
