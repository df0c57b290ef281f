/* graders_internal.h: the pieces the graders share (graders*.c only): UTF-8 decoding to code
 * points, Python's whitespace, token interning, n-gram overlap counts and the longest common
 * subsequence of two sequences of 32-bit symbols (code points or token ids). */
#ifndef FTUNE_EVAL_GRADERS_INTERNAL_H
#define FTUNE_EVAL_GRADERS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graders.h"

/* The longest n-gram any metric counts (rouge_5). */
#define GRADER_NGRAM_MAX 5

/* Decodes s as Python's bytes.decode('utf-8', 'replace') does into a heap array *out of *n code
 * points (caller frees; never NULL on success). what names the text in errors ("input"). */
int grader_utf8_decode(const char *s, const char *what, uint32_t **out, size_t *n, Err *err);

/* Python's str.isspace() (the separators of str.split() and str.rstrip()). */
bool grader_is_py_space(uint32_t cp);

/* One token: a run of code points inside some text. */
typedef struct {
    const uint32_t *p;
    size_t len;
} GraderToken;

/* Gives each distinct token (by content) one id, written to ids[i] for toks[i]; ids are < n. */
int grader_tokens_intern(const GraderToken *toks, size_t n, uint32_t *ids, Err *err);

/* The clipped n-gram overlap of two id sequences: the sum over distinct n-grams of
 * min(count in a, count in b), 1 <= order <= GRADER_NGRAM_MAX. */
int grader_ngram_matches(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, int order,
                         size_t *matches, Err *err);

/* The length of a longest common subsequence of a and b (bit-parallel, O(ceil(min/64) * max)
 * word operations, O(na + nb) bytes of scratch). */
int grader_lcs(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, size_t *lcs, Err *err);
/* The same by the textbook O(na * nb) dynamic programme (rouge-score's _lcs_table), the naive
 * twin grader_lcs is tested against. */
int grader_lcs_ref(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, size_t *lcs, Err *err);

/* sacrebleu sentence BLEU / 100 of input against one reference (graders_bleu.c). */
int grader_bleu(const uint32_t *in, size_t n_in, const uint32_t *ref, size_t n_ref, double *score, Err *err);
/* rouge-score F-measure (graders_rouge.c): order 1..5 for rouge_N, 0 for rouge_L. */
int grader_rouge(int order, const uint32_t *in, size_t n_in, const uint32_t *ref, size_t n_ref, double *score,
                 Err *err);

#endif
