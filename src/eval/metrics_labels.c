/* metrics_labels.c: label metrics for `ftune eval` when the expected answers are a small closed
 * set: the label set (distinct expected answers by descending support, then by string), the
 * confusion matrix with one "other" column for predictions outside the set, per-label
 * precision / recall / F1 and macro averages. Strings are compared byte for byte (strcmp):
 * normalising them is the caller's job (eval_normalise_answer). No I/O. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

typedef struct {
    const char *s; /* points into the caller's expected strings during the build */
    long count;
    int rank; /* position in the label order */
} LabelEntry;

static int cmp_str_ptr(const void *x, const void *y) {
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* descending count, then ascending string */
static int cmp_entry_by_support(const void *x, const void *y) {
    const LabelEntry *a = *(const LabelEntry *const *)x, *b = *(const LabelEntry *const *)y;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return strcmp(a->s, b->s);
}

static int cmp_key_entry(const void *key, const void *elem) {
    return strcmp((const char *)key, ((const LabelEntry *)elem)->s);
}

static int check_strings(const char *const *s, long n, const char *what, Err *err) {
    if (n > 0 && !s) return err_set(err, ERR_ARG, "%s: NULL array", what);
    for (long i = 0; i < n; i++)
        if (!s[i]) return err_set(err, ERR_ARG, "%s: string %ld is NULL", what, i);
    return 0;
}

/* A sorted copy of the pointers s[0..n) in *out (caller frees) and the number of distinct
 * strings in *distinct. */
static int sort_strings(const char *const *s, long n, const char ***out, long *distinct, Err *err) {
    *out = NULL;
    *distinct = 0;
    if (n == 0) return 0;
    const char **v = malloc((size_t)n * sizeof *v);
    if (!v) return err_set(err, ERR_NOMEM, "out of memory sorting %ld answers", n);
    memcpy(v, s, (size_t)n * sizeof *v);
    qsort(v, (size_t)n, sizeof *v, cmp_str_ptr);
    long d = 1;
    for (long i = 1; i < n; i++) d += strcmp(v[i - 1], v[i]) != 0;
    *out = v;
    *distinct = d;
    return 0;
}

bool eval_answers_are_labels(long n, long n_distinct) {
    return n_distinct >= 2 && n_distinct <= EVAL_LABELS_MAX_DISTINCT && n >= EVAL_LABELS_MIN_PER_LABEL * n_distinct;
}

int eval_count_distinct(const char *const *s, long n, long *out, Err *err) {
    *out = 0;
    if (n < 0) return err_set(err, ERR_ARG, "eval_count_distinct: negative count %ld", n);
    if (check_strings(s, n, "eval_count_distinct", err)) return -1;
    const char **v;
    if (sort_strings(s, n, &v, out, err)) return -1;
    free(v);
    return 0;
}

void eval_labels_free(EvalLabels *l) {
    if (!l) return;
    if (l->labels)
        for (int i = 0; i < l->n_labels; i++) free(l->labels[i]);
    free(l->labels);
    free(l->counts);
    free(l->stats);
    memset(l, 0, sizeof *l);
}

/* Per-label statistics, accuracy and macro averages from the filled counts. */
static void labels_summarise(EvalLabels *l) {
    int L = l->n_labels;
    long cols = L + 1;
    double sp = 0, sr = 0, sf = 0;
    int averaged = 0;
    for (int e = 0; e < L; e++) {
        EvalLabelStats *st = &l->stats[e];
        for (int p = 0; p <= L; p++) st->support += l->counts[e * cols + p];
        for (int r = 0; r < L; r++) st->predicted += l->counts[r * cols + e];
        st->tp = l->counts[e * cols + e];
        long fp = st->predicted - st->tp, fn = st->support - st->tp;
        st->precision = st->predicted > 0 ? (double)st->tp / (double)st->predicted : 0.0;
        st->recall = st->support > 0 ? (double)st->tp / (double)st->support : 0.0;
        st->f1 = st->tp > 0 ? 2.0 * (double)st->tp / (double)(2 * st->tp + fp + fn) : 0.0;
        l->correct += st->tp;
        l->n_other += l->counts[e * cols + L];
        if (st->support > 0) {
            sp += st->precision;
            sr += st->recall;
            sf += st->f1;
            averaged++;
        }
    }
    l->defined = l->n > 0;
    l->accuracy = l->n > 0 ? (double)l->correct / (double)l->n : NAN;
    l->macro_precision = averaged ? sp / averaged : NAN;
    l->macro_recall = averaged ? sr / averaged : NAN;
    l->macro_f1 = averaged ? sf / averaged : NAN;
}

int eval_labels_build(const char *const *expected, const char *const *predicted, long n, EvalLabels *out,
                      Err *err) {
    memset(out, 0, sizeof *out);
    out->accuracy = out->macro_precision = out->macro_recall = out->macro_f1 = NAN;
    if (n < 0) return err_set(err, ERR_ARG, "eval_labels_build: negative count %ld", n);
    if (check_strings(expected, n, "eval_labels_build: expected", err) ||
        check_strings(predicted, n, "eval_labels_build: predicted", err))
        return -1;
    if (n == 0) return 0;

    const char **sorted = NULL;
    LabelEntry *entries = NULL; /* (n_distinct) in strcmp order, for bsearch */
    LabelEntry **order = NULL;  /* (n_distinct) in label order */
    long distinct;
    int rc = -1;
    if (sort_strings(expected, n, &sorted, &distinct, err)) goto done;
    if (distinct > EVAL_LABELS_MAX_BUILD) {
        err_set(err, ERR_ARG, "eval_labels_build: %ld distinct expected answers (at most %d)", distinct,
                EVAL_LABELS_MAX_BUILD);
        goto done;
    }
    int L = (int)distinct;
    entries = calloc((size_t)L, sizeof *entries);
    order = calloc((size_t)L, sizeof *order);
    out->labels = calloc((size_t)L, sizeof *out->labels);
    out->counts = calloc((size_t)L * (size_t)(L + 1), sizeof *out->counts);
    out->stats = calloc((size_t)L, sizeof *out->stats);
    if (!entries || !order || !out->labels || !out->counts || !out->stats) {
        err_set(err, ERR_NOMEM, "eval_labels_build: out of memory for %d labels", L);
        goto done;
    }
    int k = -1;
    for (long i = 0; i < n; i++) {
        if (i == 0 || strcmp(sorted[i - 1], sorted[i]) != 0) entries[++k].s = sorted[i];
        entries[k].count++;
    }
    for (int i = 0; i < L; i++) order[i] = &entries[i];
    qsort(order, (size_t)L, sizeof *order, cmp_entry_by_support);
    out->n_labels = L; /* from here on eval_labels_free frees what is filled in */
    out->n = n;
    for (int r = 0; r < L; r++) {
        order[r]->rank = r;
        out->labels[r] = strdup(order[r]->s);
        if (!out->labels[r]) {
            err_set(err, ERR_NOMEM, "eval_labels_build: out of memory for label %d", r);
            goto done;
        }
    }
    long cols = L + 1;
    for (long i = 0; i < n; i++) {
        const LabelEntry *e = bsearch(expected[i], entries, (size_t)L, sizeof *entries, cmp_key_entry);
        const LabelEntry *p = bsearch(predicted[i], entries, (size_t)L, sizeof *entries, cmp_key_entry);
        out->counts[e->rank * cols + (p ? p->rank : L)]++;
    }
    labels_summarise(out);
    rc = 0;
done:
    if (rc) eval_labels_free(out);
    free(sorted);
    free(entries);
    free(order);
    return rc;
}
