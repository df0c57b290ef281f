/* graders_rouge.c: ROUGE-N (N = 1..5) and ROUGE-L F-measures exactly as Google's rouge-score
 * package computes them (RougeScorer(types, use_stemmer=False).score(reference, input)), with
 * the same floating-point operations. Its default tokenizer is Python's str.lower() followed by
 * the maximal runs of [a-z0-9]; of all non-ASCII characters only two lowercase into ASCII letters
 * (U+0130 to "i" + U+0307, U+212A KELVIN SIGN to "k"; checked over every code point by
 * scripts/reference_graders.py), so the tokenizer is a per-character map. No stemming, no
 * rougeLsum. */
#include <stdlib.h>

#include "graders_internal.h"

#define ROUGE_SEPARATOR 0u

/* The tokens of text[0..n) as rouge-score finds them, appended to toks[*nt..] (room for n
 * more). The characters live in the heap array *keep (caller frees). */
static int rouge_tokenize(const uint32_t *text, size_t n, uint32_t **keep, GraderToken *toks, size_t *nt, Err *err) {
    uint32_t *m = malloc((2 * n + 1) * sizeof *m);
    if (!m) return err_set(err, ERR_NOMEM, "out of memory tokenizing for rouge");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = text[i];
        if (c >= 'A' && c <= 'Z') {
            m[k++] = c + ('a' - 'A');
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            m[k++] = c;
        } else if (c == 0x212A) { /* KELVIN SIGN lowercases to "k" */
            m[k++] = 'k';
        } else if (c == 0x130) { /* LATIN CAPITAL LETTER I WITH DOT ABOVE: "i" + U+0307 */
            m[k++] = 'i';
            m[k++] = ROUGE_SEPARATOR;
        } else {
            m[k++] = ROUGE_SEPARATOR;
        }
    }
    size_t i = 0;
    while (i < k) {
        while (i < k && m[i] == ROUGE_SEPARATOR) i++;
        size_t start = i;
        while (i < k && m[i] != ROUGE_SEPARATOR) i++;
        if (i > start) toks[(*nt)++] = (GraderToken){m + start, i - start};
    }
    *keep = m;
    return 0;
}

/* rouge_score.scoring.fmeasure */
static double fmeasure(double precision, double recall) {
    return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
}

int grader_rouge(int order, const uint32_t *in, size_t n_in, const uint32_t *ref, size_t n_ref, double *score,
                 Err *err) {
    if (order < 0 || order > GRADER_NGRAM_MAX) return err_set(err, ERR_ARG, "rouge order %d out of range", order);
    uint32_t *keep_in = NULL, *keep_ref = NULL, *ids = NULL;
    size_t cap = n_in + n_ref + 2, nt = 0, n_pred;
    GraderToken *toks = malloc(cap * sizeof *toks);
    int rc = -1;
    ids = malloc(cap * sizeof *ids);
    if (!toks || !ids) {
        err_set(err, ERR_NOMEM, "out of memory tokenizing for rouge");
        goto done;
    }
    if (rouge_tokenize(in, n_in, &keep_in, toks, &nt, err) != 0) goto done;
    n_pred = nt;
    if (rouge_tokenize(ref, n_ref, &keep_ref, toks, &nt, err) != 0) goto done;
    if (grader_tokens_intern(toks, nt, ids, err) != 0) goto done;
    const uint32_t *pred = ids, *target = ids + n_pred;
    size_t n_target = nt - n_pred;
    if (order == 0) { /* _score_lcs */
        *score = 0.0;
        if (n_target > 0 && n_pred > 0) {
            size_t lcs;
            if (grader_lcs(target, n_target, pred, n_pred, &lcs, err) != 0) goto done;
            *score = fmeasure((double)lcs / (double)n_pred, (double)lcs / (double)n_target);
        }
    } else { /* _score_ngrams */
        size_t matches, c_pred = n_pred >= (size_t)order ? n_pred - (size_t)order + 1 : 0;
        size_t c_target = n_target >= (size_t)order ? n_target - (size_t)order + 1 : 0;
        if (grader_ngram_matches(target, n_target, pred, n_pred, order, &matches, err) != 0) goto done;
        double precision = (double)matches / (double)(c_pred > 1 ? c_pred : 1);
        double recall = (double)matches / (double)(c_target > 1 ? c_target : 1);
        *score = fmeasure(precision, recall);
    }
    rc = 0;
done:
    free(keep_in);
    free(keep_ref);
    free(toks);
    free(ids);
    return rc;
}
