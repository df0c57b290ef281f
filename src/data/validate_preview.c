/* validate_preview.c: renders a valid example for a validation report's preview: tokenized exactly
 * as training tokenizes it (example_tokenize: the ids and the loss mask), then decoded back, cut
 * where the mask changes, so that the text shows what the model reads and which part of it it
 * learns. Special tokens stay as their text. Each cut is placed by decoding the ids before it (and
 * moved back to the start of a UTF-8 character), so the segments put together are the whole
 * decoded text, byte for byte. */
#include "validate_preview.h"

#include <stdlib.h>
#include <string.h>

#include "example_tokens.h"
#include "../model/text_model.h"

void preview_free(ValidatePreview *p) {
    for (int i = 0; i < p->n_segments; i++) free(p->text[i]);
    free(p->text);
    free(p->trained);
    memset(p, 0, sizeof *p);
}

/* Cuts the decoded ids[0..n) into p's segments at the mask's changes. */
static int cut_segments(ValidatePreview *p, const Tokenizer *tok, const int32_t *ids, const uint8_t *mask, long n,
                        Err *err) {
    int runs = 0;
    for (long t = 0; t < n; t++) runs += t == 0 || mask[t] != mask[t - 1];
    p->text = calloc(runs ? runs : 1, sizeof *p->text);
    p->trained = calloc(runs ? runs : 1, sizeof *p->trained);
    if (!p->text || !p->trained) return err_set(err, ERR_NOMEM, "out of memory");
    char *full = NULL;
    size_t full_len = 0, done = 0;
    if (tok_decode(tok, ids, (int)n, false, &full, &full_len, err)) return -1;
    int rc = 0;
    for (long start = 0, t = 1; start < n && !rc; t++) {
        if (t < n && mask[t] == mask[start]) continue;
        char *prefix = NULL;
        size_t end = full_len;
        if (t < n) {
            rc = tok_decode(tok, ids, (int)t, false, &prefix, &end, err);
            free(prefix);
            if (end < done || end > full_len) end = done;
            while (end > done && end < full_len && ((unsigned char)full[end] & 0xC0) == 0x80)
                end--; /* a cut inside a character: the character goes to the next segment */
        }
        char *text = rc ? NULL : malloc(end - done + 1);
        if (!rc && !text) rc = err_set(err, ERR_NOMEM, "out of memory");
        if (rc) break;
        memcpy(text, full + done, end - done);
        text[end - done] = 0;
        p->text[p->n_segments] = text;
        p->trained[p->n_segments++] = mask[start] != 0;
        done = end;
        start = t;
    }
    free(full);
    return rc;
}

int preview_add(ValidateReport *rep, const TextModel *tm, const ExampleMessages *em, long line, Err *err) {
    int32_t *ids = NULL;
    uint8_t *mask = NULL;
    ExampleTokenCounts counts;
    if (example_tokenize(tm, em, 0, &ids, &mask, &counts, err)) return -1;
    ValidatePreview *grown = realloc(rep->previews, (size_t)(rep->n_previews + 1) * sizeof *grown);
    int rc = grown ? 0 : err_set(err, ERR_NOMEM, "out of memory");
    if (!rc) {
        rep->previews = grown;
        ValidatePreview *p = &grown[rep->n_previews++];
        memset(p, 0, sizeof *p);
        p->line = line;
        p->n_tokens = counts.n_tokens;
        rc = cut_segments(p, tm->tok, ids, mask, counts.n_tokens, err);
    }
    free(ids);
    free(mask);
    return rc;
}
