/* graders.h: the pure grading functions behind the Evals API's testing criteria and
 * /v1/fine_tuning/alpha/graders/run: OpenAI's `string_check` and `text_similarity` graders.
 * Each takes the already rendered input and reference texts (UTF-8, NUL-terminated) and returns a
 * score; it does no template rendering, no HTTP, no storage and keeps no state, so it is safe to
 * call from any thread. Pass/fail (score >= pass_threshold) is the caller's business.
 *
 * string_check (OpenAI's graders guide): `eq` 1 if input equals reference, `ne` 1 if it does not,
 * `like` 1 if input contains reference (case-sensitive), `ilike` 1 if input contains reference
 * ignoring case; 0 otherwise. eq, ne and like compare bytes. ilike compares with Unicode simple
 * case folding (PCRE2 caseless literal matching in UTF mode: "É" matches "é", "K" matches the
 * Kelvin sign; "ß" does not match "SS") after utf8_repair (each invalid byte one U+FFFD; so on
 * invalid UTF-8 a `like` hit on part of a character is no `ilike` hit). An empty reference is
 * contained in every input.
 *
 * text_similarity: OpenAI does not publish its metric implementations, so each metric follows
 * the standard reference implementation exactly (checked against it on the goldens
 * tests/golden/graders/cases.jsonl written by scripts/reference_graders.py):
 *   fuzzy_match  rapidfuzz.fuzz.ratio(input, reference) / 100: the normalised Indel similarity
 *                1 - (len1 + len2 - 2 * LCS) / (len1 + len2) over Unicode code points (1.0 when
 *                both are empty). No preprocessing (rapidfuzz's default processor=None).
 *   bleu         sacrebleu.sentence_bleu(input, [reference]).score / 100 with sacrebleu 2.x's
 *                defaults: the 13a tokenizer (mteval-v13a: rstrip, "<skipped>" and "-\n"
 *                removed, newlines to spaces, &quot; &amp; &lt; &gt; unescaped, punctuation
 *                split off, periods and commas split unless next to digits, a dash after a
 *                digit split), no lowercasing, 4-gram BLEU with the closest reference length
 *                brevity penalty, 'exp' smoothing (mteval's: 1 / 2^k for the k-th order with no
 *                match) and the effective order (orders with no n-gram in the input dropped).
 *   rouge_1..5   rouge_score.rouge_scorer.RougeScorer(['rougeN'], use_stemmer=False)
 *                .score(reference, input)['rougeN'].fmeasure: n-gram overlap F1 over
 *                rouge-score's default tokens (Python str.lower(), then maximal runs of
 *                [a-z0-9]; other characters separate tokens).
 *   rouge_l      the same with 'rougeL': F1 of the token-level longest common subsequence.
 * Scores above 1 by rounding (sacrebleu's 1.0000000000000004 for identical texts) become 1.
 * Not supported (grader_similarity_metric returns -1): cosine, gleu, meteor.
 *
 * text_similarity decodes its texts from UTF-8 as Python's bytes.decode('utf-8', errors='replace') does: each
 * maximal ill-formed subsequence (Unicode's recommended practice) becomes one U+FFFD. JSON
 * request bodies are valid UTF-8, so this only matters to direct callers.
 * Limits: each text may hold at most GRADER_TEXT_MAX_CHARS code points (the longest common
 * subsequences are O(n * m / 64) word operations); longer text is refused with ERR_ARG. */
#ifndef FTUNE_EVAL_GRADERS_H
#define FTUNE_EVAL_GRADERS_H

#include "../core/err.h"

/* The longest input or reference text (in Unicode code points) a grader accepts. */
#define GRADER_TEXT_MAX_CHARS 100000

typedef enum { STRING_CHECK_EQ, STRING_CHECK_NE, STRING_CHECK_LIKE, STRING_CHECK_ILIKE } StringCheckOp;

/* Parses an operation name ("eq", "ne", "like", "ilike"): 0, or -1 if name is none of them. */
int grader_string_check_op(const char *name, StringCheckOp *op);
/* The name of op ("eq", ...), or "?" for a value outside the enum. */
const char *grader_string_check_op_name(StringCheckOp op);
/* Sets *score to 1.0 or 0.0 as op says of (input, reference). Returns 0, or -1 with err set when
 * op is outside the enum (ERR_ARG) or memory runs out (ERR_NOMEM, ilike only). */
int grader_string_check(StringCheckOp op, const char *input, const char *reference, double *score, Err *err);

typedef enum {
    SIM_FUZZY_MATCH,
    SIM_BLEU,
    SIM_ROUGE_1,
    SIM_ROUGE_2,
    SIM_ROUGE_3,
    SIM_ROUGE_4,
    SIM_ROUGE_5,
    SIM_ROUGE_L,
} SimilarityMetric;

/* Parses an evaluation_metric name ("fuzzy_match", "bleu", "rouge_1".."rouge_5", "rouge_l"): 0,
 * or -1 when the name is unknown or not supported here (cosine, gleu, meteor: see
 * grader_similarity_metric_known to tell those apart). */
int grader_similarity_metric(const char *name, SimilarityMetric *m);
/* 1 if name is one of OpenAI's evaluation metrics (supported or not), else 0. */
int grader_similarity_metric_known(const char *name);
/* The name of m ("fuzzy_match", ...), or "?" for a value outside the enum. */
const char *grader_similarity_metric_name(SimilarityMetric m);
/* Scores input against reference with metric m into *score, in [0, 1]. Returns 0, or -1 with err
 * set: ERR_ARG for m outside the enum or a text longer than GRADER_TEXT_MAX_CHARS, ERR_NOMEM. */
int grader_text_similarity(SimilarityMetric m, const char *input, const char *reference, double *score, Err *err);

#endif
