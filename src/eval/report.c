/* report.c: `ftune eval`'s report as a fixed-width terminal table and as JSON, plus the tables as
 * text that the terminal and HTML reports share (EvalTable). It reads a summarised EvalReport
 * (eval_summarise) and computes nothing new; the HTML page is report_html.c. The JSON holds every
 * number (NaN as null) and every per-example result; it never holds an API key. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../data/utf8_check.h"
#include "eval.h"

/* Labels shown per candidate in the terminal's label table. */
#define EVAL_PRINT_LABELS_MAX 30
/* Code points of a name or label in the terminal's first column. */
#define EVAL_PRINT_NAME_MAX 32

const char *eval_norm_name(EvalNorm m) {
    return m == EVAL_NORM_TRIM ? "trim" : m == EVAL_NORM_TRIM_CASEFOLD ? "trim+casefold" : "none";
}

size_t eval_clip(const char *s, size_t max_chars, char *out, size_t cap) {
    if (!cap) return 0;
    size_t total = utf8_count_chars(s, strlen(s));
    size_t keep = total <= max_chars ? total : (max_chars ? max_chars - 1 : 0);
    size_t o = 0, chars = 0;
    bool cut = false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) != 0x80) { /* the first byte of a code point */
            if (chars == keep || o + 8 > cap) {
                cut = true;
                break;
            }
            chars++;
        }
        out[o++] = *p < 0x20 || *p == 0x7f ? ' ' : (char)*p;
    }
    if (cut && o + 4 <= cap) {
        memcpy(out + o, "\xe2\x80\xa6", 3); /* … */
        o += 3, chars++;
    }
    out[o] = 0;
    return chars;
}

/* ---- the tables ------------------------------------------------------------------------------- */

static void cellf(char *cell, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cellf(char *cell, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cell, EVAL_CELL_MAX, fmt, ap);
    va_end(ap);
}

/* One number, "-" when undefined. */
static void cell1(char *cell, const char *fmt, double x) {
    if (isfinite(x))
        cellf(cell, fmt, x);
    else
        cellf(cell, "-");
}

/* An interval, "-" when undefined. */
static void cell2(char *cell, const char *fmt, double lo, double hi) {
    if (isfinite(lo) && isfinite(hi))
        cellf(cell, fmt, lo, hi);
    else
        cellf(cell, "-");
}

static void table_init(EvalTable *t, const char *first_header, const char *const *headers, int n_cols) {
    memset(t, 0, sizeof *t);
    t->first_header = first_header;
    t->n_cols = n_cols;
    for (int j = 0; j < n_cols; j++) t->headers[j] = headers[j];
}

void eval_table_summary(const EvalReport *r, EvalTable *t) {
    static const char *const h[] = {"accuracy", "95% CI", "n", "failed", "prompt tok", "compl tok", "p50 ms", "p95 ms",
                                    "ex/s"};
    table_init(t, "candidate", h, 9);
    for (int i = 0; i < r->n_cands && i < EVAL_TABLE_ROWS; i++, t->n_rows++) {
        const EvalCandidate *c = &r->cands[i];
        char(*x)[EVAL_CELL_MAX] = t->cells[i];
        t->first[i] = c->name;
        cell1(x[0], "%.1f%%", 100 * c->accuracy.accuracy);
        cell2(x[1], "%.1f-%.1f%%", 100 * c->accuracy.lo, 100 * c->accuracy.hi);
        cellf(x[2], "%ld", c->n_done);
        cellf(x[3], "%ld", c->n_failed);
        cell1(x[4], "%.1f", c->mean_prompt_tokens);
        cell1(x[5], "%.1f", c->mean_completion_tokens);
        cell1(x[6], "%.0f", 1000 * c->latency.p50);
        cell1(x[7], "%.0f", 1000 * c->latency.p95);
        cell1(x[8], "%.1f", c->throughput);
        if (c->error[0]) cellf(x[0], "not run");
    }
}

int eval_table_labels(const EvalLabels *l, int max_rows, EvalTable *t) {
    static const char *const h[] = {"support", "predicted", "precision", "recall", "F1"};
    table_init(t, "label", h, 5);
    if (max_rows > EVAL_TABLE_ROWS) max_rows = EVAL_TABLE_ROWS;
    for (int k = 0; k < l->n_labels && k < max_rows; k++, t->n_rows++) {
        const EvalLabelStats *s = &l->stats[k];
        char(*x)[EVAL_CELL_MAX] = t->cells[k];
        t->first[k] = l->labels[k];
        cellf(x[0], "%ld", s->support);
        cellf(x[1], "%ld", s->predicted);
        cell1(x[2], "%.3f", s->precision);
        cell1(x[3], "%.3f", s->recall);
        cell1(x[4], "%.3f", s->f1);
    }
    return l->n_labels - t->n_rows;
}

void eval_table_paired(const EvalReport *r, EvalTable *t) {
    static const char *const h[] = {"n",          "both right", "only baseline", "only this", "neither",
                                    "difference", "95% CI",     "McNemar p"};
    table_init(t, "candidate", h, 8);
    for (int i = 1; i < r->n_cands && t->n_rows < EVAL_TABLE_ROWS; i++, t->n_rows++) {
        const EvalPaired *p = &r->paired[i];
        char(*x)[EVAL_CELL_MAX] = t->cells[t->n_rows];
        t->first[t->n_rows] = r->cands[i].name;
        cellf(x[0], "%ld", p->n);
        cellf(x[1], "%ld", p->both);
        cellf(x[2], "%ld", p->b);
        cellf(x[3], "%ld", p->c);
        cellf(x[4], "%ld", p->neither);
        cell1(x[5], "%+.1f pts", 100 * p->diff);
        cell2(x[6], "%+.1f to %+.1f", 100 * p->diff_lo, 100 * p->diff_hi);
        if (p->defined && p->p_value < 1e-4)
            cellf(x[7], "< 0.0001");
        else
            cell1(x[7], "%.2g", p->defined ? p->p_value : NAN);
    }
}

/* ---- the terminal ----------------------------------------------------------------------------- */

static void print_padded(FILE *out, const char *s, size_t width) {
    char clip[4 * EVAL_PRINT_NAME_MAX + 8];
    size_t chars = eval_clip(s, EVAL_PRINT_NAME_MAX, clip, sizeof clip);
    fprintf(out, "%s%*s", clip, (int)(width > chars ? width - chars : 0), "");
}

static void print_table(FILE *out, const EvalTable *t) {
    char clip[4 * EVAL_PRINT_NAME_MAX + 8];
    size_t w0 = strlen(t->first_header), w[EVAL_TABLE_COLS];
    for (int i = 0; i < t->n_rows; i++) {
        size_t chars = eval_clip(t->first[i], EVAL_PRINT_NAME_MAX, clip, sizeof clip);
        if (chars > w0) w0 = chars;
    }
    for (int j = 0; j < t->n_cols; j++) {
        w[j] = strlen(t->headers[j]);
        for (int i = 0; i < t->n_rows; i++)
            if (strlen(t->cells[i][j]) > w[j]) w[j] = strlen(t->cells[i][j]);
    }
    print_padded(out, t->first_header, w0);
    for (int j = 0; j < t->n_cols; j++) fprintf(out, "  %*s", (int)w[j], t->headers[j]);
    fputc('\n', out);
    for (int i = 0; i < t->n_rows; i++) {
        print_padded(out, t->first[i], w0);
        for (int j = 0; j < t->n_cols; j++) fprintf(out, "  %*s", (int)w[j], t->cells[i][j]);
        fputc('\n', out);
    }
}

void eval_report_print(const EvalReport *r, FILE *out) {
    EvalTable t;
    fprintf(out, "ftune eval: %s, %ld examples, answers compared %s\n\n", r->data_path, r->n,
            r->norm == EVAL_NORM_NONE ? "exactly" : r->norm == EVAL_NORM_TRIM ? "after trimming whitespace"
                                                                              : "after trimming and case folding");
    eval_table_summary(r, &t);
    print_table(out, &t);
    for (int i = 0; i < r->n_cands; i++)
        if (r->cands[i].error[0]) fprintf(out, "  %s could not run: %s\n", r->cands[i].name, r->cands[i].error);
    for (int i = 0; i < r->n_cands; i++) {
        const EvalCandidate *c = &r->cands[i];
        if (!c->has_labels) continue;
        const EvalLabels *l = &c->labels;
        fprintf(out, "\nlabels, %s: macro precision %.3f, recall %.3f, F1 %.3f; predictions not a label: %ld\n",
                c->name, l->macro_precision, l->macro_recall, l->macro_f1, l->n_other);
        int more = eval_table_labels(l, EVAL_PRINT_LABELS_MAX, &t);
        print_table(out, &t);
        if (more > 0) fprintf(out, "... and %d more labels (all of them in --json and --html)\n", more);
    }
    if (r->n_cands > 1) {
        fprintf(out, "\npaired comparison with %s, on the examples both attempted:\n", r->cands[0].name);
        eval_table_paired(r, &t);
        print_table(out, &t);
    }
    fprintf(out, "\n%s\n", r->verdict);
}

/* ---- JSON ------------------------------------------------------------------------------------- */

/* Adds value under key, stealing the reference; remembers a failure in *ok. */
static void put(json_t *obj, const char *key, json_t *value, bool *ok) {
    if (!value || json_object_set_new(obj, key, value)) *ok = false;
}

static void push(json_t *arr, json_t *value, bool *ok) {
    if (!value || json_array_append_new(arr, value)) *ok = false;
}

static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static json_t *count(long x) { return json_integer((json_int_t)x); }

/* A string, null for NULL; bytes that are not UTF-8 (a model can emit them) become U+FFFD. */
static json_t *str(const char *s) {
    if (!s) return json_null();
    size_t len = strlen(s);
    if (utf8_find_invalid(s, len) == len) return json_stringn(s, len);
    char *fixed = utf8_repair(s, len, &len);
    json_t *j = fixed ? json_stringn(fixed, len) : NULL;
    free(fixed);
    return j;
}

static json_t *opt_str(const char *s) { return s[0] ? str(s) : json_null(); }

static json_t *accuracy_json(const EvalAccuracy *a) {
    json_t *o = json_object();
    bool ok = o != NULL;
    put(o, "correct", count(a->correct), &ok);
    put(o, "n", count(a->n), &ok);
    put(o, "accuracy", num(a->accuracy), &ok);
    put(o, "ci95_lo", num(a->lo), &ok);
    put(o, "ci95_hi", num(a->hi), &ok);
    return ok ? o : (json_decref(o), NULL);
}

static json_t *latency_json(const EvalLatency *l) {
    json_t *o = json_object();
    bool ok = o != NULL;
    put(o, "n", count(l->n), &ok);
    put(o, "mean_s", num(l->mean), &ok);
    put(o, "p50_s", num(l->p50), &ok);
    put(o, "p95_s", num(l->p95), &ok);
    put(o, "min_s", num(l->min), &ok);
    put(o, "max_s", num(l->max), &ok);
    return ok ? o : (json_decref(o), NULL);
}

static json_t *label_stats_json(const EvalLabels *l, int k) {
    const EvalLabelStats *s = &l->stats[k];
    json_t *o = json_object();
    bool ok = o != NULL;
    put(o, "label", str(l->labels[k]), &ok);
    put(o, "support", count(s->support), &ok);
    put(o, "predicted", count(s->predicted), &ok);
    put(o, "true_positives", count(s->tp), &ok);
    put(o, "precision", num(s->precision), &ok);
    put(o, "recall", num(s->recall), &ok);
    put(o, "f1", num(s->f1), &ok);
    return ok ? o : (json_decref(o), NULL);
}

/* rows: expected labels; columns: predicted labels then "other"; counts[row][column]. */
static json_t *labels_json(const EvalLabels *l) {
    json_t *o = json_object(), *names = json_array(), *cols = json_array(), *counts = json_array(),
           *per = json_array();
    bool ok = o && names && cols && counts && per;
    for (int k = 0; k < l->n_labels; k++) {
        json_t *row = json_array();
        for (int p = 0; p <= l->n_labels; p++) push(row, count(l->counts[k * (l->n_labels + 1) + p]), &ok);
        push(counts, row, &ok);
        push(names, str(l->labels[k]), &ok);
        push(cols, str(l->labels[k]), &ok);
        push(per, label_stats_json(l, k), &ok);
    }
    push(cols, json_string("other"), &ok);
    json_t *cm = json_pack("{s:o, s:o, s:o}", "rows", json_incref(names), "columns", cols, "counts", counts);
    put(o, "labels", names, &ok);
    put(o, "confusion", cm, &ok);
    put(o, "per_label", per, &ok);
    put(o, "n_other", count(l->n_other), &ok);
    put(o, "accuracy", num(l->accuracy), &ok);
    put(o, "macro_precision", num(l->macro_precision), &ok);
    put(o, "macro_recall", num(l->macro_recall), &ok);
    put(o, "macro_f1", num(l->macro_f1), &ok);
    return ok ? o : (json_decref(o), NULL);
}

static json_t *candidate_json(const EvalCandidate *c) {
    json_t *o = json_object();
    bool ok = o != NULL;
    put(o, "name", str(c->name), &ok);
    put(o, "model", str(c->model), &ok);
    put(o, "adapter", opt_str(c->adapter), &ok);
    put(o, "base_url", opt_str(c->base_url), &ok);
    put(o, "system_file", opt_str(c->system_file), &ok);
    put(o, "fewshot_file", opt_str(c->fewshot_file), &ok);
    put(o, "labels_file", opt_str(c->labels_file), &ok);
    put(o, "retrieve_file", opt_str(c->retrieve_file), &ok);
    put(o, "retrieve_store", opt_str(c->retrieve_store), &ok);
    put(o, "store_url", opt_str(c->store_url), &ok);
    put(o, "precision", opt_str(c->precision), &ok);
    put(o, "error", opt_str(c->error), &ok);
    put(o, "n_done", count(c->n_done), &ok);
    put(o, "n_failed", count(c->n_failed), &ok);
    put(o, "first_failure", opt_str(c->first_failure), &ok);
    put(o, "wall_s", num(c->wall_s), &ok);
    put(o, "accuracy", accuracy_json(&c->accuracy), &ok);
    put(o, "latency", latency_json(&c->latency), &ok);
    put(o, "mean_prompt_tokens", num(c->mean_prompt_tokens), &ok);
    put(o, "mean_completion_tokens", num(c->mean_completion_tokens), &ok);
    put(o, "throughput_per_s", num(c->throughput), &ok);
    put(o, "labels", c->has_labels ? labels_json(&c->labels) : json_null(), &ok);
    return ok ? o : (json_decref(o), NULL);
}

static json_t *paired_json(const EvalReport *r, int i) {
    const EvalPaired *p = &r->paired[i];
    json_t *o = json_object();
    bool ok = o != NULL;
    put(o, "candidate", str(r->cands[i].name), &ok);
    put(o, "baseline", str(r->cands[0].name), &ok);
    put(o, "n", count(p->n), &ok);
    put(o, "both_right", count(p->both), &ok);
    put(o, "only_baseline_right", count(p->b), &ok);
    put(o, "only_candidate_right", count(p->c), &ok);
    put(o, "neither_right", count(p->neither), &ok);
    put(o, "accuracy_baseline", num(p->acc_a), &ok);
    put(o, "accuracy_candidate", num(p->acc_b), &ok);
    put(o, "difference", num(p->diff), &ok);
    put(o, "difference_ci95_lo", num(p->diff_lo), &ok);
    put(o, "difference_ci95_hi", num(p->diff_hi), &ok);
    put(o, "mcnemar_p", p->defined ? num(p->p_value) : json_null(), &ok);
    return ok ? o : (json_decref(o), NULL);
}

/* What candidate c did on example i; null where it did not get that far. A failed request has no
 * prediction, tokens or latency and is not correct. */
static json_t *result_json(const EvalCandidate *c, long i) {
    if (i >= c->n_done) return json_null();
    bool failed = c->failed[i];
    json_t *o = json_object();
    bool ok = o != NULL;
    put(o, "prediction", str(failed ? NULL : c->predictions[i]), &ok);
    put(o, "correct", json_boolean(c->correct[i] && !failed), &ok);
    put(o, "failed", json_boolean(failed), &ok);
    put(o, "prompt_tokens", failed ? json_null() : count(c->prompt_tokens[i]), &ok);
    put(o, "completion_tokens", failed ? json_null() : count(c->completion_tokens[i]), &ok);
    put(o, "latency_s", failed ? json_null() : num(c->latency_s[i]), &ok);
    return ok ? o : (json_decref(o), NULL);
}

/* examples[i].results[j] is candidate j's result (the order of "candidates"). */
static json_t *example_json(const EvalReport *r, long i) {
    json_t *o = json_object(), *res = json_array();
    bool ok = o && res;
    for (int j = 0; j < r->n_cands; j++) push(res, result_json(&r->cands[j], i), &ok);
    put(o, "index", count(i), &ok);
    put(o, "expected", str(r->expected[i]), &ok);
    put(o, "results", res, &ok);
    return ok ? o : (json_decref(o), NULL);
}

static json_t *report_json(const EvalReport *r) {
    json_t *o = json_object(), *cands = json_array(), *cmp = json_array(), *ex = json_array();
    bool ok = o && cands && cmp && ex;
    put(o, "data", str(r->data_path), &ok);
    put(o, "n", count(r->n), &ok);
    put(o, "normalisation", json_string(eval_norm_name(r->norm)), &ok);
    put(o, "labels", json_boolean(r->labels), &ok);
    put(o, "verdict", str(r->verdict), &ok);
    for (int i = 0; i < r->n_cands; i++) push(cands, candidate_json(&r->cands[i]), &ok);
    for (int i = 1; i < r->n_cands; i++) push(cmp, paired_json(r, i), &ok);
    for (long i = 0; i < r->n; i++) push(ex, example_json(r, i), &ok);
    put(o, "candidates", cands, &ok);
    put(o, "comparisons", cmp, &ok);
    put(o, "examples", ex, &ok);
    return ok ? o : (json_decref(o), NULL);
}

int eval_report_write_json(const EvalReport *r, const char *path, Err *err) {
    json_t *j = report_json(r);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(j);
    if (!text) return err_set(err, ERR_NOMEM, "%s: out of memory building the report", path);
    int rc = file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}
