/* example_tokens.c: finding the trained spans by prefix rendering and tokenizing the pieces. */
#include "example_tokens.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t start, end; /* byte span of a trained message in the full rendering */
} Span;

static size_t common_prefix(const char *a, size_t na, const char *b, size_t nb) {
    size_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i]) i++;
    return i;
}

/* The last occurrence of needle in hay[0..n), or n when absent or empty. */
static size_t find_last(const char *hay, size_t n, const char *needle) {
    size_t m = strlen(needle);
    if (m == 0 || m > n) return n;
    for (size_t i = n - m + 1; i-- > 0;)
        if (memcmp(hay + i, needle, m) == 0) return i;
    return n;
}

/* The conversation as rendered: messages and the tools' JSON texts. */
typedef struct {
    const ChatMessage *msgs;
    const char *const *tools;
    int n_tools;
} Chat;

static int render(const TextModel *tm, const Chat *c, int n, bool gen, char **text, size_t *len, Err *err) {
    return chat_template_render_tools(tm->tmpl, c->msgs, n, c->tools, c->n_tools, gen, text, len, err);
}

/* Where message i (trained) starts and ends in full. */
static int locate(const TextModel *tm, const Chat *c, int i, const char *full, size_t flen, Span *s, Err *err) {
    const ChatMessage *msgs = c->msgs;
    char *text;
    size_t len;
    if (render(tm, c, i + 1, false, &text, &len, err)) return -1;
    s->end = common_prefix(text, len, full, flen);
    if (i == 0) { /* nothing renders before it: find its text in its own rendering */
        size_t at = find_last(text, s->end, msgs[0].content);
        s->start = at < s->end ? at : 0;
        free(text);
        return 0;
    }
    free(text);
    if (render(tm, c, i, true, &text, &len, err)) return -1;
    s->start = common_prefix(text, len, full, flen);
    free(text);
    return 0;
}

typedef struct {
    int32_t *ids;
    uint8_t *mask;
    size_t n, cap;
    bool keep;
} IdBuf;

static int append_ids(IdBuf *b, const int32_t *ids, int n, bool trained) {
    if (!b->keep) return 0;
    if (b->n + (size_t)n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + (size_t)n) cap *= 2;
        int32_t *i2 = realloc(b->ids, cap * sizeof *i2);
        if (i2) b->ids = i2;
        uint8_t *m2 = realloc(b->mask, cap);
        if (m2) b->mask = m2;
        if (!i2 || !m2) return -1;
        b->cap = cap;
    }
    memcpy(b->ids + b->n, ids, (size_t)n * sizeof *ids);
    memset(b->mask + b->n, trained, (size_t)n);
    b->n += (size_t)n;
    return 0;
}

int example_tokenize(const TextModel *tm, const ExampleMessages *em, long max_tokens, int32_t **ids, uint8_t **mask,
                     ExampleTokenCounts *counts, Err *err) {
    memset(counts, 0, sizeof *counts);
    if (ids) *ids = NULL;
    if (mask) *mask = NULL;
    bool tools = chat_template_tool_syntax(tm->tmpl) != NULL;
    Chat chat = {tools ? em->msgs : em->legacy, tools ? em->tools : NULL, tools ? em->n_tools : 0};
    const bool *trained = em->trained;
    int n = em->n;
    char *full;
    size_t flen;
    if (render(tm, &chat, n, false, &full, &flen, err)) return -1;
    int n_spans = 0;
    for (int i = 0; i < n; i++) n_spans += trained[i];
    Span *spans = n_spans ? malloc((size_t)n_spans * sizeof *spans) : NULL;
    IdBuf buf = {.keep = ids != NULL};
    int rc = -1;
    if (n_spans && !spans) {
        err_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    size_t prev_end = 0;
    for (int i = 0, k = 0; i < n; i++) {
        if (!trained[i]) continue;
        if (locate(tm, &chat, i, full, flen, &spans[k], err)) goto done;
        if (spans[k].start < prev_end) spans[k].start = prev_end; /* keep spans ordered */
        if (spans[k].end < spans[k].start) spans[k].end = spans[k].start;
        prev_end = spans[k].end;
        k++;
    }
    /* Tokenize the pieces: untrained, span 0, untrained, span 1, ..., untrained. */
    size_t pos = 0;
    for (int k = 0; k <= n_spans; k++) {
        size_t piece_end[2] = {k < n_spans ? spans[k].start : flen, k < n_spans ? spans[k].end : flen};
        for (int part = 0; part < (k < n_spans ? 2 : 1); part++) {
            size_t end = piece_end[part];
            bool is_trained = part == 1;
            if (end <= pos) continue;
            int32_t *piece;
            int np;
            if (tok_encode(tm->tok, full + pos, end - pos, false, true, &piece, &np, err)) goto done;
            if (is_trained) {
                long room = max_tokens > 0 ? max_tokens - counts->n_tokens : np;
                counts->n_trained += np;
                counts->n_trained_kept += room <= 0 ? 0 : room < np ? room : np;
            }
            counts->n_tokens += np;
            int arc = append_ids(&buf, piece, np, is_trained);
            free(piece);
            if (arc) {
                err_set(err, ERR_NOMEM, "out of memory");
                goto done;
            }
            pos = end;
        }
    }
    if (ids) {
        *ids = buf.ids;
        buf.ids = NULL;
        if (mask) {
            *mask = buf.mask;
            buf.mask = NULL;
        }
    }
    rc = 0;
done:
    free(buf.ids);
    free(buf.mask);
    free(spans);
    free(full);
    return rc;
}
