/* summarise.c: turns the per-example results of `ftune eval` into the report's numbers: per
 * candidate accuracy (Wilson interval), latency percentiles, mean token counts, throughput and,
 * when the expected answers are labels, the confusion matrix and per-label scores; then the paired
 * comparison of every candidate with candidate 0 (the baseline) and the plain-English verdict.
 * It runs no model and does no I/O; the statistics themselves are metrics.c. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

static bool ran(const EvalCandidate *c) { return c->error[0] == 0; }

/* A failed request is a wrong answer: the accuracy is over every example attempted, so a
 * candidate cannot look better by failing on the hard examples. */
static bool right(const EvalCandidate *c, long i) { return c->correct[i] && !c->failed[i]; }

static double mean_ok(const int *v, const EvalCandidate *c) {
    double sum = 0;
    long k = 0;
    for (long i = 0; i < c->n_done; i++)
        if (!c->failed[i]) sum += v[i], k++;
    return k ? sum / (double)k : NAN;
}

static int summarise_latency(EvalCandidate *c, long n_ok, Err *err) {
    double *v = malloc(sizeof *v * (size_t)(n_ok ? n_ok : 1));
    if (!v) return err_set(err, ERR_NOMEM, "out of memory");
    long k = 0;
    for (long i = 0; i < c->n_done; i++)
        if (!c->failed[i]) v[k++] = c->latency_s[i];
    int rc = eval_latency_summarise(v, k, &c->latency, err);
    free(v);
    return rc;
}

static void free_strings(char **s, long n) {
    for (long i = 0; s && i < n; i++) free(s[i]);
    free(s);
}

/* The candidate's predictions normalised as the expected answers are (heap array of n_done heap
 * strings); a failed request predicts "", which is no label ("other"). */
static char **normalised_predictions(const EvalReport *r, const EvalCandidate *c, Err *err) {
    long n = c->n_done;
    char **pred = calloc((size_t)(n ? n : 1), sizeof *pred);
    bool ok = pred != NULL;
    for (long i = 0; i < n && ok; i++) {
        const char *p = c->failed[i] || !c->predictions[i] ? "" : c->predictions[i];
        ok = (pred[i] = eval_normalise_answer_dup(p, r->norm)) != NULL;
    }
    if (ok) return pred;
    free_strings(pred, n);
    err_set(err, ERR_NOMEM, "out of memory");
    return NULL;
}

/* correct[] (exact match after normalisation) and, when the answers are labels, the confusion
 * matrix against the expected answers of the examples attempted. */
static int score_predictions(const EvalReport *r, EvalCandidate *c, Err *err) {
    char **pred = normalised_predictions(r, c, err);
    if (!pred) return -1;
    for (long i = 0; i < c->n_done; i++) c->correct[i] = !c->failed[i] && strcmp(pred[i], r->expected_norm[i]) == 0;
    int rc = 0;
    eval_labels_free(&c->labels); /* summarising twice must not leak */
    if (r->labels)
        rc = eval_labels_build((const char *const *)r->expected_norm, (const char *const *)pred, c->n_done, &c->labels,
                               err);
    c->has_labels = r->labels && rc == 0;
    free_strings(pred, c->n_done);
    return rc;
}

static int summarise_candidate(const EvalReport *r, EvalCandidate *c, Err *err) {
    if (!ran(c)) { /* every number undefined (NaN), so that the reports need no special case */
        c->mean_prompt_tokens = c->mean_completion_tokens = c->throughput = NAN;
        c->has_labels = false;
        return eval_accuracy(0, 0, &c->accuracy, err) || eval_latency_summarise(NULL, 0, &c->latency, err) ? -1 : 0;
    }
    if (score_predictions(r, c, err)) return -1;
    long n = c->n_done, n_ok = 0, k = 0;
    for (long i = 0; i < n; i++) k += right(c, i), n_ok += !c->failed[i];
    c->n_failed = n - n_ok; /* as counted from failed[], which everything here follows */
    if (eval_accuracy(k, n, &c->accuracy, err) || summarise_latency(c, n_ok, err)) return -1;
    c->mean_prompt_tokens = mean_ok(c->prompt_tokens, c);
    c->mean_completion_tokens = mean_ok(c->completion_tokens, c);
    c->throughput = c->wall_s > 0 ? (double)n_ok / c->wall_s : NAN;
    return 0;
}

/* Candidate i against candidate 0 on the examples both attempted (each attempts a prefix). */
static int compare_with_baseline(EvalReport *r, int i, Err *err) {
    const EvalCandidate *a = &r->cands[0], *b = &r->cands[i];
    if (!ran(a) || !ran(b)) return eval_paired_from_counts(0, 0, 0, 0, &r->paired[i], err);
    long n = a->n_done < b->n_done ? a->n_done : b->n_done;
    bool *ra = malloc(sizeof *ra * (size_t)(n ? n : 1)), *rb = malloc(sizeof *rb * (size_t)(n ? n : 1));
    int rc = ra && rb ? 0 : err_set(err, ERR_NOMEM, "out of memory");
    for (long k = 0; k < n && !rc; k++) ra[k] = right(a, k), rb[k] = right(b, k);
    if (!rc) rc = eval_paired_compare(ra, rb, n, &r->paired[i], err);
    free(ra);
    free(rb);
    return rc;
}

/* ---- the verdict ------------------------------------------------------------------------------ */

static void appendf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t cap, const char *fmt, ...) {
    size_t len = strlen(buf);
    if (len + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}

/* ", with 46 vs 708 prompt tokens per request (15x fewer)"; nothing when either is unknown. */
static void append_tokens(char *buf, size_t cap, double tb, double ta) {
    if (isnan(ta) || isnan(tb)) return;
    appendf(buf, cap, ", with %.0f vs %.0f prompt tokens per request", tb, ta);
    double hi = fmax(ta, tb), lo = fmin(ta, tb);
    if (lo <= 0 || hi / lo < 1.05)
        appendf(buf, cap, " (about the same)");
    else
        appendf(buf, cap, hi / lo >= 10 ? " (%.0fx %s)" : " (%.1fx %s)", hi / lo, tb < ta ? "fewer" : "more");
}

static void append_comparison(const EvalReport *r, int i, char *buf, size_t cap) {
    const EvalCandidate *a = &r->cands[0], *b = &r->cands[i];
    const EvalPaired *p = &r->paired[i];
    if (!p->defined) {
        appendf(buf, cap, "%s and %s have no examples in common. ", b->name, a->name);
        return;
    }
    bool sig = p->p_value < EVAL_ALPHA && p->b != p->c;
    if (sig)
        appendf(buf, cap, "%s is %s than %s", b->name, p->c > p->b ? "better" : "worse", a->name);
    else
        appendf(buf, cap, "No significant difference between %s and %s", b->name, a->name);
    char pbuf[32];
    snprintf(pbuf, sizeof pbuf, p->p_value < 1e-4 ? "p < 0.0001" : "p = %.2g", p->p_value);
    appendf(buf, cap, ": %.1f%% vs %.1f%% exact match (%+.1f points, 95%% CI %+.1f to %+.1f, McNemar %s)",
            100 * p->acc_b, 100 * p->acc_a, 100 * p->diff, 100 * p->diff_lo, 100 * p->diff_hi, pbuf);
    append_tokens(buf, cap, b->mean_prompt_tokens, a->mean_prompt_tokens);
    if (b->latency.defined && a->latency.defined)
        appendf(buf, cap, "%s %.3f s vs %.3f s median latency",
                isnan(a->mean_prompt_tokens) || isnan(b->mean_prompt_tokens) ? ", with" : " and", b->latency.p50,
                a->latency.p50);
    appendf(buf, cap, ". ");
}

static void append_alone(const EvalCandidate *c, char *buf, size_t cap) {
    const EvalAccuracy *a = &c->accuracy;
    if (!a->defined)
        appendf(buf, cap, "%s answered no examples. ", c->name);
    else
        appendf(buf, cap, "%s: %.1f%% exact match (95%% CI %.1f%% to %.1f%%, n = %ld). ", c->name, 100 * a->accuracy,
                100 * a->lo, 100 * a->hi, a->n);
}

static void make_verdict(EvalReport *r) {
    char *buf = r->verdict;
    size_t cap = sizeof r->verdict;
    buf[0] = 0;
    bool base_ok = r->n_cands > 0 && ran(&r->cands[0]), others_ok = false;
    for (int i = 1; i < r->n_cands; i++) others_ok |= ran(&r->cands[i]);
    for (int i = 0; i < r->n_cands; i++) {
        const EvalCandidate *c = &r->cands[i];
        if (!ran(c)) {
            appendf(buf, cap, "%s could not run (%s). ", c->name, c->error);
            continue;
        }
        if (i > 0 && base_ok)
            append_comparison(r, i, buf, cap);
        else if (i > 0 || !others_ok)
            append_alone(c, buf, cap);
    }
    for (int i = 0; i < r->n_cands; i++) {
        const EvalCandidate *c = &r->cands[i];
        bool why = c->first_failure[0] != 0;
        if (ran(c) && c->n_failed > 0)
            appendf(buf, cap, "%s: %ld of %ld requests failed, counted as wrong%s%.120s%s. ", c->name, c->n_failed,
                    c->n_done, why ? " (first: " : "", c->first_failure, why ? ")" : "");
    }
    size_t len = strlen(buf);
    if (len && buf[len - 1] == ' ') buf[len - 1] = 0;
}

/* ---- public ----------------------------------------------------------------------------------- */

/* Normalises the expected answers when the caller has not (expected_norm NULL), then decides
 * whether they are labels. */
static int decide_labels(EvalReport *r, Err *err) {
    if (!r->expected_norm && r->n > 0 && !(r->expected_norm = calloc((size_t)r->n, sizeof *r->expected_norm)))
        return err_set(err, ERR_NOMEM, "out of memory");
    for (long i = 0; i < r->n; i++)
        if (!r->expected_norm[i] && !(r->expected_norm[i] = eval_normalise_answer_dup(r->expected[i], r->norm)))
            return err_set(err, ERR_NOMEM, "out of memory");
    long distinct = 0;
    if (eval_count_distinct((const char *const *)r->expected_norm, r->n, &distinct, err)) return -1;
    r->labels = eval_answers_are_labels(r->n, distinct);
    return 0;
}

int eval_summarise(EvalReport *r, Err *err) {
    if (decide_labels(r, err)) return -1;
    for (int i = 0; i < r->n_cands; i++) {
        EvalCandidate *c = &r->cands[i];
        if (summarise_candidate(r, c, err)) return err_prefix(err, "%s", c->name);
    }
    for (int i = 1; i < r->n_cands; i++)
        if (compare_with_baseline(r, i, err)) return -1;
    make_verdict(r);
    return 0;
}


void eval_report_free(EvalReport *r) {
    if (!r) return;
    for (int i = 0; i < r->n_cands && i < EVAL_MAX_CANDIDATES; i++) {
        EvalCandidate *c = &r->cands[i];
        free_strings(c->predictions, r->n);
        free(c->correct);
        free(c->failed);
        free(c->prompt_tokens);
        free(c->completion_tokens);
        free(c->latency_s);
        eval_labels_free(&c->labels);
        c->predictions = NULL, c->correct = c->failed = NULL, c->prompt_tokens = c->completion_tokens = NULL;
        c->latency_s = NULL, c->has_labels = false;
    }
    free_strings(r->expected, r->n);
    free_strings(r->expected_norm, r->n);
    r->expected = r->expected_norm = NULL;
}
