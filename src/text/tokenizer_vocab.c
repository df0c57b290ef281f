/* tokenizer_vocab.c: the Tokenizer's tables: vocabulary arrays, the text -> id hash map, the
 * (id, id) -> merge hash map, byte-token lookup, the added-token matching sets, and the
 * constructor/destructor plus per-call scratch. It does not parse files (tokenizer_load_*.c)
 * nor run any algorithm (tokenizer_bpe.c, tokenizer_spm.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

#define MAP_MIN_CAP 16u
#define PAIR_EMPTY UINT64_MAX
#define FNV_OFFSET 1469598103934665603ull
#define FNV_PRIME 1099511628211ull

uint64_t tok_hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= FNV_PRIME;
    }
    return h ^ (h >> 29);
}

static uint64_t hash_pair(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

static uint32_t cap_for(size_t n) {
    uint32_t cap = MAP_MIN_CAP;
    while (cap < 2 * n) cap <<= 1;
    return cap;
}

int tok_strmap_build(const Tokenizer *t, TokStrMap *m, bool first_wins, Err *err) {
    m->cap = cap_for((size_t)t->n_vocab);
    m->slots = malloc((size_t)m->cap * sizeof *m->slots);
    if (!m->slots) return err_set(err, ERR_NOMEM, "tokenizer: out of memory for the vocabulary map");
    memset(m->slots, 0xff, (size_t)m->cap * sizeof *m->slots);
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (!t->text[id]) continue;
        uint32_t mask = m->cap - 1, h = (uint32_t)tok_hash_bytes(t->text[id], t->text_len[id]) & mask;
        for (;; h = (h + 1) & mask) {
            int32_t e = m->slots[h];
            if (e < 0) {
                m->slots[h] = id;
                break;
            }
            if (t->text_len[e] == t->text_len[id] && !memcmp(t->text[e], t->text[id], t->text_len[id])) {
                if (!first_wins) m->slots[h] = id;
                break;
            }
        }
    }
    return 0;
}

int32_t tok_strmap_get(const Tokenizer *t, const TokStrMap *m, const char *s, size_t n) {
    if (!m->cap) return -1;
    uint32_t mask = m->cap - 1, h = (uint32_t)tok_hash_bytes(s, n) & mask;
    for (;; h = (h + 1) & mask) {
        int32_t e = m->slots[h];
        if (e < 0) return -1;
        if (t->text_len[e] == n && !memcmp(t->text[e], s, n)) return e;
    }
}

void tok_strmap_free(TokStrMap *m) {
    free(m->slots);
    m->slots = NULL;
    m->cap = 0;
}

int tok_pairmap_init(TokPairMap *m, size_t n_expected, Err *err) {
    if (n_expected > TOK_MAX_MERGES)
        return err_set(err, ERR_UNSUPPORTED, "tokenizer: %zu merges (limit %d)", n_expected, TOK_MAX_MERGES);
    m->cap = cap_for(n_expected);
    m->n = 0;
    m->slots = malloc((size_t)m->cap * sizeof *m->slots);
    if (!m->slots) return err_set(err, ERR_NOMEM, "tokenizer: out of memory for the merge table");
    for (uint32_t i = 0; i < m->cap; i++) m->slots[i].key = PAIR_EMPTY;
    return 0;
}

void tok_pairmap_put(TokPairMap *m, int32_t a, int32_t b, int32_t rank, int32_t id, bool first_wins) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint32_t mask = m->cap - 1, h = (uint32_t)hash_pair(key) & mask;
    for (;; h = (h + 1) & mask) {
        TokPairSlot *s = &m->slots[h];
        if (s->key == PAIR_EMPTY) {
            s->key = key;
            s->rank = rank;
            s->id = id;
            m->n++;
            return;
        }
        if (s->key == key) {
            if (!first_wins) {
                s->rank = rank;
                s->id = id;
            }
            return;
        }
    }
}

const TokPairSlot *tok_pairmap_get(const TokPairMap *m, int32_t a, int32_t b) {
    if (!m->cap) return NULL;
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint32_t mask = m->cap - 1, h = (uint32_t)hash_pair(key) & mask;
    for (;; h = (h + 1) & mask) {
        const TokPairSlot *s = &m->slots[h];
        if (s->key == key) return s;
        if (s->key == PAIR_EMPTY) return NULL;
    }
}

void tok_pairmap_free(TokPairMap *m) {
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

int tok_vocab_alloc(Tokenizer *t, int32_t n, bool with_scores, Err *err) {
    if (n <= 0 || n > TOK_MAX_VOCAB)
        return err_set(err, ERR_FORMAT, "tokenizer: vocabulary size %d outside 1..%d", (int)n, TOK_MAX_VOCAB);
    t->n_vocab = n;
    t->text = calloc((size_t)n, sizeof *t->text);
    t->text_len = calloc((size_t)n, sizeof *t->text_len);
    t->attr = calloc((size_t)n, 1);
    if (with_scores) t->score = calloc((size_t)n, sizeof *t->score);
    if (!t->text || !t->text_len || !t->attr || (with_scores && !t->score))
        return err_set(err, ERR_NOMEM, "tokenizer: out of memory for %d tokens", (int)n);
    return 0;
}

int tok_vocab_set(Tokenizer *t, int32_t id, const char *s, size_t n, Err *err) {
    if (id < 0 || id >= t->n_vocab) return err_set(err, ERR_FORMAT, "token id %d out of range", (int)id);
    if (n > TOK_MAX_TOKEN_BYTES)
        return err_set(err, ERR_FORMAT, "token %d is %zu bytes (limit %d)", (int)id, n, TOK_MAX_TOKEN_BYTES);
    char *c = malloc(n + 1);
    if (!c) return err_set(err, ERR_NOMEM, "tokenizer: out of memory");
    memcpy(c, s, n);
    c[n] = 0;
    free(t->text[id]);
    t->text[id] = c;
    t->text_len[id] = (uint32_t)n;
    return 0;
}

int tok_merge_add(Tokenizer *t, const char *a, size_t na, const char *b, size_t nb, int32_t rank,
                  bool first_wins, bool strict, Err *err) {
    int32_t ia = tok_strmap_get(t, &t->vocab, a, na), ib = tok_strmap_get(t, &t->vocab, b, nb);
    int32_t ir = -1;
    if (ia >= 0 && ib >= 0 && na + nb <= TOK_MAX_TOKEN_BYTES) {
        char stack[256];
        char *buf = na + nb <= sizeof stack ? stack : malloc(na + nb);
        if (!buf) return err_set(err, ERR_NOMEM, "tokenizer: out of memory");
        memcpy(buf, a, na);
        memcpy(buf + na, b, nb);
        ir = tok_strmap_get(t, &t->vocab, buf, na + nb);
        if (buf != stack) free(buf);
    }
    if (ia < 0 || ib < 0 || ir < 0) {
        if (strict)
            return err_set(err, ERR_FORMAT, "merge %d (\"%.*s\" \"%.*s\") names a token that is not in the vocabulary",
                           (int)rank, (int)(na > 64 ? 64 : na), a, (int)(nb > 64 ? 64 : nb), b);
        return 0;
    }
    tok_pairmap_put(&t->merges, ia, ib, rank, ir, first_wins);
    return 0;
}

void tok_fill_byte_ids(Tokenizer *t) {
    for (int b = 0; b < 256; b++) {
        char s[8];
        size_t n;
        if (t->byte_level) {
            n = tok_utf8_encode(tok_byte_to_cp((unsigned char)b), s);
        } else {
            snprintf(s, sizeof s, "<0x%02X>", b);
            n = 6;
        }
        t->byte_id[b] = tok_strmap_get(t, &t->vocab, s, n);
    }
}

/* Orders indices of added tokens by first byte, then longest first, then id. */
static int cmp_added(const void *pa, const void *pb, void *arg) {
    const Tokenizer *t = arg;
    const TokAdded *a = &t->added[*(const int32_t *)pa], *b = &t->added[*(const int32_t *)pb];
    unsigned ca = (unsigned char)a->text[0], cb = (unsigned char)b->text[0];
    if (ca != cb) return ca < cb ? -1 : 1;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int build_set(Tokenizer *t, TokAddedSet *set, int which, Err *err) {
    /* which: 0 = non-normalized, 1 = normalized */
    set->idx = malloc(((size_t)t->n_added + 1) * sizeof *set->idx);
    if (!set->idx) return err_set(err, ERR_NOMEM, "tokenizer: out of memory");
    set->n = 0;
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].len > 0 && (int)t->added[i].normalized == which) set->idx[set->n++] = i;
    qsort_r(set->idx, (size_t)set->n, sizeof *set->idx, cmp_added, t);
    int k = 0;
    for (int b = 0; b < 256; b++) {
        set->bucket[b] = k;
        while (k < set->n && (unsigned char)t->added[set->idx[k]].text[0] == b) k++;
    }
    set->bucket[256] = k;
    return 0;
}

int tok_added_build_sets(Tokenizer *t, Err *err) {
    if (build_set(t, &t->set_raw, 0, err) || build_set(t, &t->set_norm, 1, err)) return -1;
    return 0;
}

Tokenizer *tok_new(Err *err) {
    Tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        err_set(err, ERR_NOMEM, "tokenizer: out of memory");
        return NULL;
    }
    t->unk_id = t->bos_id = t->eos_id = -1;
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    return t;
}

int tok_finish(Tokenizer *t, Err *err) {
    tok_fill_byte_ids(t);
    if (tok_added_build_sets(t, err)) return -1;
    return 0;
}

void tok_free(Tokenizer *t) {
    if (!t) return;
    for (int32_t i = 0; i < t->n_vocab; i++) free(t->text[i]);
    free(t->text);
    free(t->text_len);
    free(t->attr);
    free(t->score);
    tok_strmap_free(&t->vocab);
    tok_pairmap_free(&t->merges);
    for (int i = 0; i < t->n_norm; i++) {
        free(t->norm[i].text);
        pcre2_code_free(t->norm[i].re);
    }
    for (int i = 0; i < t->n_pre; i++) pcre2_code_free(t->pre[i].re);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].text);
    free(t->added);
    free(t->set_raw.idx);
    free(t->set_norm.idx);
    pcre2_code_free(t->re_word);
    free(t);
}

int tok_ids_push(TokIds *ids, int32_t id, Err *err) {
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 64;
        int32_t *v = realloc(ids->v, cap * sizeof *v);
        if (!v) return err_set(err, ERR_NOMEM, "tokenizer: out of memory for %zu ids", cap);
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return 0;
}

int tok_ctx_reserve_syms(TokCtx *c, size_t n) {
    if (n <= c->sym_cap) return 0;
    size_t cap = c->sym_cap ? c->sym_cap : 64;
    while (cap < n) cap *= 2;
    int32_t *id = realloc(c->sym_id, cap * sizeof *id);
    if (id) c->sym_id = id;
    int32_t *pv = realloc(c->sym_prev, cap * sizeof *pv);
    if (pv) c->sym_prev = pv;
    int32_t *nx = realloc(c->sym_next, cap * sizeof *nx);
    if (nx) c->sym_next = nx;
    uint32_t *ln = realloc(c->sym_len, cap * sizeof *ln);
    if (ln) c->sym_len = ln;
    if (!id || !pv || !nx || !ln) return err_set(c->err, ERR_NOMEM, "tokenizer: out of memory (%zu symbols)", n);
    c->sym_cap = cap;
    return 0;
}

int tok_ctx_reserve_heap(TokCtx *c, size_t n, size_t elem) {
    if (n * elem <= c->heap_cap) return 0;
    size_t cap = c->heap_cap ? c->heap_cap : 1024;
    while (cap < n * elem) cap *= 2;
    void *h = realloc(c->heap, cap);
    if (!h) return err_set(c->err, ERR_NOMEM, "tokenizer: out of memory (merge queue)");
    c->heap = h;
    c->heap_cap = cap;
    return 0;
}

void tok_ctx_free(TokCtx *c) {
    free(c->sym_id);
    free(c->sym_prev);
    free(c->sym_next);
    free(c->sym_len);
    free(c->heap);
    free(c->word_buf);
    free(c->parts);
    free(c->part_match);
    pcre2_match_data_free(c->md);
    memset(c, 0, sizeof *c);
}
