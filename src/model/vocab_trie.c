/* vocab_trie.c: the prefix tree of the vocabulary's token bytes (see vocab_trie.h). Built by
 * sorting the tokens by their bytes: in that order each token adds the nodes below its longest
 * common prefix with the one before, which is the tree's preorder. */
#include "vocab_trie.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void vocab_trie_free(VocabTrie *v) {
    if (!v) return;
    free(v->byte);
    free(v->depth);
    free(v->end);
    free(v->tok_first);
    free(v->toks);
    free(v->off);
    free(v->len);
    free(v->text);
    free(v);
}

/* The bytes that token id adds to a text: decoding [id, id] and [id] tells them apart from a
 * leading space the decoder drops at the start of a text (SentencePiece). */
static int token_bytes(const Tokenizer *t, int32_t id, char **out, size_t *n, Err *err) {
    int32_t two[2] = {id, id};
    char *a, *b;
    size_t la, lb;
    if (tok_decode(t, two, 1, true, &a, &la, err)) return -1;
    if (tok_decode(t, two, 2, true, &b, &lb, err)) {
        free(a);
        return -1;
    }
    free(a);
    size_t k = lb - la; /* = the token's own length */
    memmove(b, b + lb - k, k);
    *out = b;
    *n = k;
    return 0;
}

static int by_bytes(const void *x, const void *y, void *user) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    const VocabTrie *v = user;
    uint32_t la = v->len[a], lb = v->len[b];
    int c = memcmp(v->text + v->off[a], v->text + v->off[b], la < lb ? la : lb);
    if (c) return c;
    if (la != lb) return la < lb ? -1 : 1;
    return a < b ? -1 : a > b;
}

int vocab_trie_build(const Tokenizer *t, int vocab, VocabTrie **out, Err *err) {
    *out = NULL;
    VocabTrie *v = calloc(1, sizeof *v);
    if (!v) return err_set(err, ERR_NOMEM, "out of memory");
    v->vocab = vocab;
    int n_tok = tok_vocab_size(t) < vocab ? tok_vocab_size(t) : vocab;
    size_t cap = 1 << 16, used = 0;
    v->off = calloc((size_t)vocab, sizeof *v->off);
    v->len = calloc((size_t)vocab, sizeof *v->len);
    v->text = malloc(cap);
    v->toks = malloc((size_t)vocab * sizeof *v->toks);
    if (!v->off || !v->len || !v->text || !v->toks) goto nomem;
    int n_text = 0;
    size_t total = 0;
    for (int32_t id = 0; id < n_tok; id++) {
        if (tok_is_special(t, id) || !tok_token_text(t, id)) continue;
        char *b;
        size_t n;
        if (token_bytes(t, id, &b, &n, err)) goto fail;
        if (n > 65535) {
            free(b);
            err_set(err, ERR_ARG, "token %d is %zu bytes long", id, n);
            goto fail;
        }
        if (n && used + n > cap) {
            while (used + n > cap) cap *= 2;
            char *p = realloc(v->text, cap);
            if (!p) {
                free(b);
                goto nomem;
            }
            v->text = p;
        }
        memcpy(v->text + used, b, n);
        free(b);
        v->off[id] = (uint32_t)used;
        v->len[id] = (uint32_t)n;
        used += n;
        total += n;
        if (n) v->toks[n_text++] = id;
    }
    qsort_r(v->toks, (size_t)n_text, sizeof *v->toks, by_bytes, v);
    /* at most one node per byte of every token */
    v->byte = malloc(total + 1);
    v->depth = malloc((total + 1) * sizeof *v->depth);
    v->end = malloc((total + 1) * sizeof *v->end);
    v->tok_first = malloc((total + 2) * sizeof *v->tok_first);
    uint32_t *path = malloc(65536 * sizeof *path); /* node at each depth of the current branch */
    if (!v->byte || !v->depth || !v->end || !v->tok_first || !path) {
        free(path);
        goto nomem;
    }
    int n = 0, open = 0; /* open: depth of the current branch */
    const char *prev = NULL;
    uint32_t prev_len = 0;
    for (int k = 0; k < n_text; k++) {
        int32_t id = v->toks[k];
        const char *s = v->text + v->off[id];
        uint32_t len = v->len[id], lcp = 0;
        while (prev && lcp < len && lcp < prev_len && s[lcp] == prev[lcp]) lcp++;
        while (open > (int)lcp) v->end[path[--open]] = (uint32_t)n; /* close nodes below the common prefix */
        for (uint32_t d = lcp; d < len; d++) {
            v->byte[n] = (uint8_t)s[d];
            v->depth[n] = (uint16_t)(d + 1);
            path[open++] = (uint32_t)n++;
        }
        if (len > (uint32_t)v->max_depth) v->max_depth = (int)len;
        prev = s;
        prev_len = len;
    }
    while (open > 0) v->end[path[--open]] = (uint32_t)n;
    free(path);
    /* tokens of node i: those whose bytes end there; in sorted order they follow the tokens of
     * every node before i in preorder, so counts per node turn into offsets */
    {
        int node = -1, created = 0;
        const char *ps = NULL;
        uint32_t pl = 0;
        for (int i = 0; i <= n; i++) v->tok_first[i] = 0;
        /* replay: each token's node is the last node created by then */
        for (int k = 0; k < n_text; k++) {
            int32_t id = v->toks[k];
            const char *s = v->text + v->off[id];
            uint32_t len = v->len[id], lcp = 0;
            while (ps && lcp < len && lcp < pl && s[lcp] == ps[lcp]) lcp++;
            created += (int)(len - lcp);
            if (len > lcp || !ps || len != pl) node = created - 1;
            v->tok_first[node + 1]++; /* counts, turned into offsets below */
            ps = s;
            pl = len;
        }
        for (int i = 0; i < n; i++) v->tok_first[i + 1] += v->tok_first[i];
    }
    v->n_nodes = n;
    *out = v;
    return 0;
nomem:
    err_set(err, ERR_NOMEM, "out of memory building the vocabulary tree");
fail:
    vocab_trie_free(v);
    return -1;
}
