/* tokenizer_bpe.c: byte-pair encoding of one pre-tokenized word with merge ranks, as HF
 * tokenizers' BPE model and llama.cpp's BPE session do it: start from one symbol per byte
 * (byte-level) or per character (with <0xXX> byte fallback or <unk>), then repeatedly apply the
 * lowest-ranked merge, leftmost first, using a binary heap over a linked list of symbols:
 * O(n log n) in the word length. It does not split text into words (tokenizer_pretok.c). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

#define SYM_DEAD (-2) /* sym_prev of a symbol merged into its left neighbour */

typedef struct {
    int32_t rank;
    int32_t pos; /* left symbol */
} Cand;

static bool cand_less(Cand a, Cand b) { return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos); }

static void heap_push(Cand *h, size_t *n, Cand x) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(x, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static Cand heap_pop(Cand *h, size_t *n) {
    Cand top = h[0], x = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        Cand best = x;
        if (l < *n && cand_less(h[l], best)) {
            m = l;
            best = h[l];
        }
        if (r < *n && cand_less(h[r], best)) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = x;
    return top;
}

/* Looks the whole word up (ignore_merges): the byte-level form is the mapped characters. */
static int32_t whole_word_id(TokCtx *c, const char *s, size_t n) {
    const Tokenizer *t = c->t;
    if (!t->byte_level) return tok_strmap_get(t, &t->vocab, s, n);
    size_t need = n * 2 + 1; /* mapped characters are U+0021..U+0143: at most 2 bytes */
    if (need > c->word_cap) {
        char *w = realloc(c->word_buf, need);
        if (!w) return -1;
        c->word_buf = w;
        c->word_cap = need;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += tok_utf8_encode(tok_byte_to_cp((unsigned char)s[i]), c->word_buf + m);
    return tok_strmap_get(t, &t->vocab, c->word_buf, m);
}

/* Initial symbols; returns their count. */
static size_t initial_symbols(TokCtx *c, const char *s, size_t n) {
    const Tokenizer *t = c->t;
    int32_t *sym = c->sym_id;
    size_t m = 0;
    int32_t unk_pending = 0; /* 1 when an <unk> waits to be emitted (fuse_unk) */
    for (size_t i = 0; i < n;) {
        size_t k = t->byte_level ? 1 : tok_utf8_len((unsigned char)s[i]);
        if (k > n - i) k = n - i;
        int32_t id = t->byte_level ? t->byte_id[(unsigned char)s[i]] : tok_strmap_get(t, &t->vocab, s + i, k);
        if (id >= 0) {
            if (unk_pending) sym[m++] = t->unk_id;
            unk_pending = 0;
            sym[m++] = id;
        } else {
            bool done = false;
            if (t->byte_fallback && !t->byte_level) {
                bool all = true;
                for (size_t j = 0; j < k; j++) all = all && t->byte_id[(unsigned char)s[i + j]] >= 0;
                if (all) {
                    for (size_t j = 0; j < k; j++) sym[m++] = t->byte_id[(unsigned char)s[i + j]];
                    done = true;
                }
            }
            if (!done && t->unk_id >= 0) {
                if (unk_pending && !t->fuse_unk) sym[m++] = t->unk_id;
                unk_pending = 1;
            } else if (!done && t->unknown_blocks) {
                if (unk_pending) sym[m++] = t->unk_id;
                unk_pending = 0;
                sym[m++] = -1; /* a barrier: merges with nothing, emits nothing */
            }
        }
        i += k;
    }
    if (unk_pending) sym[m++] = t->unk_id;
    return m;
}

static int try_push(TokCtx *c, Cand *h, size_t *hn, int32_t left) {
    const Tokenizer *t = c->t;
    if (left < 0) return 0;
    int32_t right = c->sym_next[left];
    if (right < 0) return 0;
    if (c->sym_id[left] < 0 || c->sym_id[right] < 0) return 0;
    const TokPairSlot *p = tok_pairmap_get(&t->merges, c->sym_id[left], c->sym_id[right]);
    if (!p) return 0;
    heap_push(h, hn, (Cand){p->rank, left});
    return 0;
}

int tok_bpe_word(TokCtx *c, const char *s, size_t n, TokIds *out) {
    const Tokenizer *t = c->t;
    if (n == 0) return 0;
    if (t->ignore_merges) {
        int32_t id = whole_word_id(c, s, n);
        if (id >= 0) return tok_ids_push(out, id, c->err);
    }
    if (tok_ctx_reserve_syms(c, n + 1)) return -1;
    size_t m = initial_symbols(c, s, n);
    if (m == 0) return 0;
    if (m == 1) return c->sym_id[0] >= 0 ? tok_ids_push(out, c->sym_id[0], c->err) : 0;
    for (size_t i = 0; i < m; i++) {
        c->sym_prev[i] = (int32_t)i - 1;
        c->sym_next[i] = i + 1 < m ? (int32_t)i + 1 : -1;
    }
    /* each merge pushes at most two candidates: m - 1 initial + 2 (m - 1) */
    if (tok_ctx_reserve_heap(c, 3 * m, sizeof(Cand))) return -1;
    Cand *h = c->heap;
    size_t hn = 0;
    for (size_t i = 0; i + 1 < m; i++) try_push(c, h, &hn, (int32_t)i);
    while (hn) {
        Cand x = heap_pop(h, &hn);
        int32_t l = x.pos;
        if (c->sym_prev[l] == SYM_DEAD) continue;
        int32_t r = c->sym_next[l];
        if (r < 0) continue;
        const TokPairSlot *p = tok_pairmap_get(&t->merges, c->sym_id[l], c->sym_id[r]);
        if (!p || p->rank != x.rank) continue; /* stale: the pair changed since it was queued */
        c->sym_id[l] = p->id;
        c->sym_next[l] = c->sym_next[r];
        if (c->sym_next[r] >= 0) c->sym_prev[c->sym_next[r]] = l;
        c->sym_prev[r] = SYM_DEAD;
        if (c->sym_prev[l] >= 0) try_push(c, h, &hn, c->sym_prev[l]);
        try_push(c, h, &hn, l);
    }
    for (int32_t i = 0; i >= 0; i = c->sym_next[i])
        if (c->sym_id[i] >= 0 && tok_ids_push(out, c->sym_id[i], c->err)) return -1;
    return 0;
}
