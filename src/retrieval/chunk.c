/* chunk.c: static chunking by tokens (retrieval.h). Each whitespace-separated word is tokenized on
 * its own (BERT splits at whitespace, so the counts add up exactly), then chunks are taken greedily
 * by words with the overlap walked back from each chunk's end. */
#include <stdlib.h>
#include <string.h>

#include "retrieval.h"

typedef struct {
    size_t start, end;
    int32_t *ids;
    int n;
} Word;

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

void retrieval_chunks_free(TextChunk *c, int n) {
    for (int i = 0; c && i < n; i++) free(c[i].ids);
    free(c);
}

static void words_free(Word *w, int n) {
    for (int i = 0; i < n; i++) ft_free(w[i].ids);
    free(w);
}

/* The words of text with their tokens. */
static int split_words(const FtEncoder *enc, const char *text, size_t len, Word **out, int *n, Err *err) {
    size_t cap = 0;
    Word *w = NULL;
    int count = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && is_space(text[i])) i++;
        size_t start = i;
        while (i < len && !is_space(text[i])) i++;
        if (i == start) break;
        if ((size_t)count == cap) {
            cap = cap ? 2 * cap : 256;
            Word *nw = realloc(w, cap * sizeof *w);
            if (!nw) {
                words_free(w, count);
                return err_set(err, ERR_NOMEM, "out of memory for %zu words", cap);
            }
            w = nw;
        }
        FtError fe = {0};
        Word *x = &w[count];
        x->start = start;
        x->end = i;
        if (ft_encoder_tokenize(enc, text + start, i - start, &x->ids, &x->n, &fe)) {
            words_free(w, count);
            return err_set(err, fe.code, "%s", fe.msg);
        }
        count++;
    }
    *out = w;
    *n = count;
    return 0;
}

int retrieval_chunk(const FtEncoder *enc, const char *text, size_t len, int max_tokens, int overlap, TextChunk **out,
                    int *n, Err *err) {
    *out = NULL;
    *n = 0;
    if (max_tokens < 1 || overlap < 0 || overlap >= max_tokens)
        return err_set(err, ERR_ARG, "chunking: %d tokens with %d of overlap", max_tokens, overlap);
    Word *w;
    int n_words;
    if (split_words(enc, text, len, &w, &n_words, err)) return -1;
    TextChunk *c = NULL;
    int count = 0, cap = 0;
    for (int first = 0; first < n_words;) {
        int last = first, tokens = w[first].n; /* words [first, last] */
        while (last + 1 < n_words && tokens + w[last + 1].n <= max_tokens) tokens += w[++last].n;
        if (count == cap) {
            cap = cap ? 2 * cap : 16;
            TextChunk *nc = realloc(c, (size_t)cap * sizeof *c);
            if (!nc) goto nomem;
            c = nc;
        }
        TextChunk *x = &c[count];
        x->start = w[first].start;
        x->end = w[last].end;
        x->n_ids = tokens;
        x->ids = malloc(((size_t)tokens + 1) * sizeof *x->ids);
        if (!x->ids) goto nomem;
        count++;
        for (int i = first, at = 0; i <= last; at += w[i].n, i++) memcpy(x->ids + at, w[i].ids, (size_t)w[i].n * sizeof *x->ids);
        if (last + 1 >= n_words) break;
        int next = last + 1, back = 0; /* the words of the last `overlap` tokens start the next chunk */
        while (next - 1 > first && back + w[next - 1].n <= overlap) back += w[--next].n;
        first = next;
    }
    words_free(w, n_words);
    *out = c;
    *n = count;
    return 0;
nomem:
    words_free(w, n_words);
    retrieval_chunks_free(c, count);
    return err_set(err, ERR_NOMEM, "out of memory for %d chunks", cap);
}
