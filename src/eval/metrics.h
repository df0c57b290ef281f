/* metrics.h: the statistics behind `ftune eval`, which compares candidate models (say a
 * fine-tuned model and the base model with a long prompt) on the same held-out chat set:
 *   - answer normalisation before comparing (none / trim / trim + ASCII case fold);
 *   - accuracy with its 95% Wilson score interval;
 *   - label metrics when the answers are a small set of labels: confusion matrix, per-label
 *     precision / recall / F1, macro averages;
 *   - a paired comparison of two candidates on the same examples: the accuracy difference with
 *     Newcombe's hybrid score interval for paired data, and the exact McNemar test;
 *   - latency summaries (mean, p50, p95).
 * Everything here is a pure function of its arguments: no I/O, no global state, no model calls,
 * safe to call from any thread. It does not decide what counts as a correct answer beyond exact
 * string equality after normalisation, and it does not format tables (the eval command does).
 * Undefined quantities (accuracy of zero examples, ...) are NaN with a `defined` flag false,
 * never a division by zero. Reference values for the tests: scripts/reference_eval_metrics.py. */
#ifndef FTUNE_EVAL_METRICS_H
#define FTUNE_EVAL_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"

/* The two-sided 95% normal quantile, scipy.stats.norm.ppf(0.975). */
#define EVAL_Z95 1.959963984540054
/* The answers are treated as labels when there are at most this many distinct expected
 * answers (BANKING77's 77 intents and CLINC150's 150 included) ... */
#define EVAL_LABELS_MAX_DISTINCT 150
/* ... and each distinct expected answer appears at least this many times on average. */
#define EVAL_LABELS_MIN_PER_LABEL 2
/* eval_labels_build refuses more distinct expected answers than this (its confusion matrix is
 * n_labels x (n_labels + 1) counts). */
#define EVAL_LABELS_MAX_BUILD 1024
/* The significance level of the verdict in `ftune eval`. */
#define EVAL_ALPHA 0.05

/* ---- answer normalisation ------------------------------------------------------------------ */

typedef enum {
    EVAL_NORM_NONE = 0,      /* compare the bytes as they are */
    EVAL_NORM_TRIM,          /* drop leading and trailing ASCII whitespace (" \t\n\v\f\r") */
    EVAL_NORM_TRIM_CASEFOLD, /* trim, then map ASCII 'A'-'Z' to 'a'-'z'; every other byte
                                (UTF-8 included: "É" stays "É") is kept as is */
} EvalNorm;

/* Writes the normalised form of the NUL-terminated s into out (cap bytes, NUL-terminated).
 * The result is never longer than s. Errors: ERR_ARG when mode is unknown or out is too small
 * (out then holds an empty string when cap > 0). */
int eval_normalise_answer(const char *s, EvalNorm mode, char *out, size_t cap, Err *err);
/* The same into a new malloc'd string that the caller frees; NULL when out of memory or mode is
 * unknown. */
char *eval_normalise_answer_dup(const char *s, EvalNorm mode);

/* ---- accuracy -------------------------------------------------------------------------------- */

typedef struct {
    long correct, n;
    bool defined;  /* false when n == 0: accuracy, lo and hi are then NaN */
    double accuracy; /* correct / n */
    double lo, hi;   /* 95% Wilson score interval, within [0, 1] */
} EvalAccuracy;

/* Wilson score interval for k successes of n at normal quantile z (z > 0), clamped to [0, 1]
 * and exact at the ends (k == 0 gives lo = 0, k == n gives hi = 1). Requires 0 <= k <= n and
 * n > 0; otherwise sets both to NaN. */
void eval_wilson_interval(long k, long n, double z, double *lo, double *hi);

/* Accuracy of correct out of n with its 95% Wilson interval (z = EVAL_Z95). n == 0 is not an
 * error: out->defined is false and the numbers are NaN. Errors: ERR_ARG when n < 0, correct < 0
 * or correct > n. */
int eval_accuracy(long correct, long n, EvalAccuracy *out, Err *err);

/* ---- labels ---------------------------------------------------------------------------------- */

/* When the expected answers form a small closed set, eval reports per-label tables. The label
 * set is the distinct expected answers; a prediction that is none of them falls in one "other"
 * column: it is a miss for its expected label's recall and a false positive for no label. */
typedef struct {
    long support;    /* examples whose expected answer is this label (always >= 1) */
    long predicted;  /* examples predicted as this label (column total, "other" excluded) */
    long tp;         /* expected and predicted this label */
    double precision; /* tp / predicted; 0 when predicted == 0 (scikit-learn's zero_division=0) */
    double recall;    /* tp / support */
    double f1;        /* 2 tp / (2 tp + fp + fn) = harmonic mean of P and R; 0 when P + R == 0 */
} EvalLabelStats;

typedef struct {
    long n;       /* examples */
    int n_labels; /* distinct expected answers */
    char **labels; /* (n_labels) owned copies, by descending support, then by strcmp order */
    long *counts;  /* (n_labels, n_labels + 1) row-major: counts[e * (n_labels + 1) + p] examples
                      expected labels[e] and predicted labels[p]; column p == n_labels = other */
    EvalLabelStats *stats; /* (n_labels) */
    long n_other;  /* predictions that are not a label (the sum of the last column) */
    long correct;  /* predicted == expected */
    bool defined;  /* false when n == 0: accuracy and the macro averages are NaN */
    double accuracy; /* correct / n (the micro average) */
    double macro_precision, macro_recall, macro_f1; /* unweighted means over labels with
                                                       support > 0, that is over all labels */
} EvalLabels;

/* Whether n examples with n_distinct distinct expected answers should be reported as labels:
 * 2 <= n_distinct <= EVAL_LABELS_MAX_DISTINCT and n >= EVAL_LABELS_MIN_PER_LABEL * n_distinct
 * (free-form answers have about as many distinct answers as examples; one label says nothing
 * beyond accuracy). */
bool eval_answers_are_labels(long n, long n_distinct);

/* Counts the distinct strings of s[0..n) (compared with strcmp) into *out. Allocates scratch.
 * Errors: ERR_ARG (n < 0, a NULL string), ERR_NOMEM. */
int eval_count_distinct(const char *const *s, long n, long *out, Err *err);

/* Builds the label set, confusion matrix and per-label statistics from n pairs of
 * NUL-terminated strings (already normalised; compared with strcmp). *out is overwritten and
 * owns its arrays afterwards: release with eval_labels_free. n == 0 gives an empty, undefined
 * result. On failure *out is left empty (safe to free). Errors: ERR_ARG (n < 0, a NULL string,
 * more than EVAL_LABELS_MAX_BUILD distinct expected answers), ERR_NOMEM. */
int eval_labels_build(const char *const *expected, const char *const *predicted, long n, EvalLabels *out,
                      Err *err);
/* Frees what eval_labels_build allocated and zeroes *l; NULL or an already freed / zeroed
 * EvalLabels is a no-op. */
void eval_labels_free(EvalLabels *l);

/* ---- paired comparison of two candidates ----------------------------------------------------- */

/* Candidates A and B answered the same n examples. Of those:
 *   both = A right and B right, b = A right and B wrong, c = A wrong and B right,
 *   neither = both wrong.
 * diff = acc_B - acc_A = (c - b) / n, with a 95% interval by Newcombe's method 10 (Newcombe
 * 1998, Stat Med 17:2635-50: the "hybrid score" or square-and-add interval for paired data),
 * built from the Wilson intervals (lA, uA), (lB, uB) of the two accuracies and the phi
 * correlation psi of the 2x2 table:
 *   lo = diff - sqrt((pB - lB)^2 - 2 psi (pB - lB)(uA - pA) + (uA - pA)^2)
 *   hi = diff + sqrt((uB - pB)^2 - 2 psi (uB - pB)(pA - lA) + (pA - lA)^2)
 *   psi = D / sqrt((both + b)(c + neither)(both + c)(b + neither)), with Newcombe's correction
 *   D = ad - bc - n/2 when ad - bc > n/2, 0 when 0 <= ad - bc <= n/2, ad - bc when negative
 *   (a = both, d = neither), and psi = 0 when a margin is 0.
 * p_value is the exact two-sided McNemar test (eval_mcnemar_exact_p). The interval and the test
 * are different methods and can disagree at the margin; the verdict follows the test. */
typedef struct {
    long n, both, b, c, neither;
    bool defined;       /* false when n == 0: the accuracies and the interval are NaN */
    double acc_a, acc_b;
    double diff;        /* acc_b - acc_a */
    double diff_lo, diff_hi; /* 95% Newcombe interval, within [-1, 1] */
    double p_value;     /* exact McNemar; 1 when b + c == 0 (and when n == 0) */
} EvalPaired;

/* Exact two-sided McNemar p-value: X ~ Binomial(b + c, 1/2), p = min(1, 2 P(X <= min(b, c))),
 * 1 when b + c == 0. Exact (integer binomial coefficients) for b + c <= 50; beyond, Loader's
 * saddle-point form of the largest term times a downward recurrence, no overflow for any counts:
 * within 3.3e-13 relative of exact rational values on a sweep of 1777 cases up to b + c = 1e5.
 * A p below the smallest double reads as 0. Returns NaN for negative counts. */
double eval_mcnemar_exact_p(long b, long c);

/* The comparison from the four counts of the paired 2x2 table. Errors: ERR_ARG on a negative
 * count. */
int eval_paired_from_counts(long both, long b, long c, long neither, EvalPaired *out, Err *err);
/* The comparison from per-example results: correct_a[i], correct_b[i] for i in [0, n) (either
 * may be NULL only when n == 0). Errors: ERR_ARG (n < 0, NULL arrays). */
int eval_paired_compare(const bool *correct_a, const bool *correct_b, long n, EvalPaired *out, Err *err);

/* One-line verdict at significance level alpha (e.g. EVAL_ALPHA), written to buf (cap bytes,
 * always NUL-terminated, truncated if short):
 *   "<name_b> is better (p = 0.0003)" when p_value < alpha and c > b,
 *   "<name_a> is better (p = 0.0003)" when p_value < alpha and b > c,
 *   "no significant difference (p = 0.41)" otherwise (also when n == 0).
 * p is printed with two significant digits, as "p < 0.0001" below that. Returns buf. */
const char *eval_format_verdict(const EvalPaired *r, double alpha, const char *name_a, const char *name_b,
                                char *buf, size_t cap);

/* ---- latency ------------------------------------------------------------------------------- */

typedef struct {
    long n;
    bool defined; /* false when n == 0: the rest is NaN */
    double mean, p50, p95, min, max;
} EvalLatency;

/* The q-th percentile (0 <= q <= 100) of sorted[0..n) (ascending), by linear interpolation
 * between the closest ranks, numpy.percentile's default method="linear": h = (n - 1) q / 100,
 * result = x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]). NaN when n == 0. */
double eval_percentile_sorted(const double *sorted, long n, double q);

/* Mean, p50, p95, min and max of v[0..n) (seconds or any unit); v is not modified (a sorted
 * copy is malloc'd and freed). Errors: ERR_ARG (n < 0, v NULL with n > 0, a NaN or infinite
 * value), ERR_NOMEM. */
int eval_latency_summarise(const double *v, long n, EvalLatency *out, Err *err);

#endif
