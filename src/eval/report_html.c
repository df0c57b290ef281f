/* report_html.c: `ftune eval --html`: one self-contained page (inline CSS and SVG, no scripts, no
 * external assets) that reads offline: the verdict, the summary table, bar charts of accuracy
 * (with 95% CI whiskers) and of mean prompt tokens, the paired comparisons and, when the answers
 * are labels, a confusion-matrix heat map and a per-label table per candidate. Every piece of text
 * from the user's data is HTML-escaped. Stable hooks for tests: svg#chart-accuracy,
 * svg#chart-prompt-tokens, rect.bar (with data-value), svg.confusion[data-candidate], rect.cell.
 * It computes nothing beyond layout: the numbers come from eval_summarise. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "eval.h"

#define HTML_HEAT_LABELS_MAX 25 /* labels (most frequent first) in a heat map */
#define HTML_CHART_NAME_CHARS 30 /* code points of a candidate name in a bar chart */
#define HTML_AXIS_CHARS 18       /* code points of a label on a heat map axis */
#define HTML_TABLE_NAME_CHARS 60 /* code points in a table's first column */

/* Bar chart geometry (px): name column, plot width, row height, bar height, margins. */
enum { BAR_LEFT = 230, BAR_PLOT = 430, BAR_RIGHT = 100, BAR_ROW = 30, BAR_H = 18, BAR_TOP = 8, BAR_AXIS = 26 };
/* Heat map geometry (px): room for the row and column labels. */
enum { HEAT_LEFT = 150, HEAT_TOP = 120 };

static const char CSS[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2430;max-width:1040px;"
    "margin:2em auto;padding:0 1em}\n"
    "h1{font-size:1.6em;margin:0 0 .2em}h2{font-size:1.2em;margin:1.8em 0 .5em;border-bottom:1px solid #dde2ea;"
    "padding-bottom:.2em}\n"
    ".meta,.note{color:#5a6472}.note{font-size:.9em}.error{color:#b3261e}\n"
    ".verdict{background:#fff6d6;border-left:5px solid #e0a800;padding:.8em 1em;font-size:1.05em;border-radius:4px}\n"
    "table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:.5em 0}\n"
    "th,td{padding:.3em .7em;border-bottom:1px solid #e5e8ee;text-align:right}\n"
    "th:first-child,td:first-child{text-align:left;overflow-wrap:anywhere}th{background:#f3f5f8;font-weight:600}\n"
    "svg{display:block;margin:.5em 0;max-width:100%;height:auto}svg text{font:12px system-ui,sans-serif;fill:#1d2430}\n"
    "rect.bar{fill:#3b73b9}rect.bar.tokens{fill:#6a8e3a}.ci{stroke:#1d2430;stroke-width:1.5}.grid{stroke:#e5e8ee}\n"
    "rect.cell{stroke:#fff}rect.cell.diag{stroke:#1d2430;stroke-width:1.5}svg text.axis{font-weight:600}\n";

/* Writes s with & < > " ' escaped (for text and attribute values alike). */
static void esc(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* At most max_chars code points of s (… where cut), escaped. */
static void esc_clip(FILE *f, const char *s, size_t max_chars) {
    char buf[4 * HTML_TABLE_NAME_CHARS + 8];
    eval_clip(s, max_chars, buf, sizeof buf);
    esc(f, buf);
}

static void html_table(FILE *f, const EvalTable *t) {
    fputs("<table>\n<thead><tr><th>", f);
    esc(f, t->first_header);
    for (int j = 0; j < t->n_cols; j++) fprintf(f, "</th><th>%s", t->headers[j]);
    fputs("</th></tr></thead>\n<tbody>\n", f);
    for (int i = 0; i < t->n_rows; i++) {
        fputs("<tr><td>", f);
        esc_clip(f, t->first[i], HTML_TABLE_NAME_CHARS);
        for (int j = 0; j < t->n_cols; j++) fprintf(f, "</td><td>%s", t->cells[i][j]);
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
}

/* ---- bar charts ------------------------------------------------------------------------------- */

/* The smallest of 1, 2, 5 times a power of ten that is >= x (x > 0). */
static double nice_ceiling(double x) {
    double p = pow(10, floor(log10(x)));
    return x <= p ? p : x <= 2 * p ? 2 * p : x <= 5 * p ? 5 * p : 10 * p;
}

typedef struct {
    const char *id, *title, *bar_class;
    double v[EVAL_MAX_CANDIDATES], lo[EVAL_MAX_CANDIDATES], hi[EVAL_MAX_CANDIDATES]; /* lo/hi NaN: no whisker */
    double vmax;
    bool percent; /* values in [0, 1] shown as % */
} BarChart;

static void value_text(char *buf, size_t cap, const BarChart *c, double v) {
    snprintf(buf, cap, c->percent ? "%.1f%%" : "%.0f", c->percent ? 100 * v : v);
}

static void bar_row(FILE *f, const BarChart *c, const EvalCandidate *cand, int i) {
    double y = BAR_TOP + i * BAR_ROW, mid = y + BAR_ROW / 2.0, v = c->v[i];
    fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", BAR_LEFT - 8, mid + 4);
    esc_clip(f, cand->name, HTML_CHART_NAME_CHARS);
    fputs("</text>\n", f);
    if (!isfinite(v)) {
        fprintf(f, "<text class=\"note\" x=\"%d\" y=\"%.1f\">%s</text>\n", BAR_LEFT + 4, mid + 4,
                cand->error[0] ? "could not run" : "no data");
        return;
    }
    char label[32];
    value_text(label, sizeof label, c, v);
    double scale = BAR_PLOT / c->vmax, end = v;
    fprintf(f, "<rect class=\"%s\" x=\"%d\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" data-value=\"%.6g\"><title>",
            c->bar_class, BAR_LEFT, mid - BAR_H / 2.0, v * scale, BAR_H, v);
    esc(f, cand->name);
    fprintf(f, ": %s</title></rect>\n", label);
    if (isfinite(c->lo[i]) && isfinite(c->hi[i])) {
        double x0 = BAR_LEFT + c->lo[i] * scale, x1 = BAR_LEFT + c->hi[i] * scale;
        fprintf(f, "<path class=\"ci\" d=\"M%.2f %.1fV%.1fM%.2f %.1fH%.2fM%.2f %.1fV%.1f\"/>\n", x0, mid - 5, mid + 5,
                x0, mid, x1, x1, mid - 5, mid + 5);
        end = fmax(v, c->hi[i]);
    }
    fprintf(f, "<text x=\"%.2f\" y=\"%.1f\">%s</text>\n", BAR_LEFT + end * scale + 6, mid + 4, label);
}

static void bar_chart(FILE *f, const BarChart *c, const EvalReport *r) {
    int w = BAR_LEFT + BAR_PLOT + BAR_RIGHT, h = BAR_TOP + r->n_cands * BAR_ROW + BAR_AXIS;
    fprintf(f, "<svg id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "role=\"img\" aria-label=\"%s\">\n",
            c->id, w, h, w, h, c->title);
    for (int k = 0; k <= 4; k++) {
        double x = BAR_LEFT + BAR_PLOT * k / 4.0;
        char tick[32];
        value_text(tick, sizeof tick, c, c->vmax * k / 4);
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", x, BAR_TOP, x, h - BAR_AXIS);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x, h - 8, tick);
    }
    for (int i = 0; i < r->n_cands; i++) bar_row(f, c, &r->cands[i], i);
    fputs("</svg>\n", f);
}

static void charts(FILE *f, const EvalReport *r) {
    BarChart acc = {"chart-accuracy", "accuracy per candidate with 95% confidence interval", "bar", .vmax = 1,
                    .percent = true};
    BarChart tok = {"chart-prompt-tokens", "mean prompt tokens per request", "bar tokens", .vmax = 0};
    for (int i = 0; i < r->n_cands; i++) {
        const EvalCandidate *c = &r->cands[i];
        acc.v[i] = c->accuracy.accuracy, acc.lo[i] = c->accuracy.lo, acc.hi[i] = c->accuracy.hi;
        tok.v[i] = c->mean_prompt_tokens, tok.lo[i] = tok.hi[i] = NAN;
        if (isfinite(tok.v[i])) tok.vmax = fmax(tok.vmax, tok.v[i]);
    }
    tok.vmax = tok.vmax > 0 ? nice_ceiling(tok.vmax) : 1;
    fputs("<h2>Accuracy</h2>\n<p class=\"note\">Exact match over the examples attempted (a failed request counts as "
          "wrong); the whiskers are the 95% Wilson interval.</p>\n",
          f);
    bar_chart(f, &acc, r);
    fputs("<h2>Prompt tokens per request</h2>\n<p class=\"note\">Mean over the requests that succeeded: what each "
          "candidate pays for every answer.</p>\n",
          f);
    bar_chart(f, &tok, r);
}

/* ---- confusion heat maps ---------------------------------------------------------------------- */

/* Column p of row e in a heat map showing the first k labels: the last column gathers "other" and,
 * when capped, the predictions of labels not shown. */
static long heat_count(const EvalLabels *l, int k, int e, int p) {
    const long *row = l->counts + (size_t)e * (size_t)(l->n_labels + 1);
    if (p < k) return row[p];
    long sum = 0;
    for (int q = k; q <= l->n_labels; q++) sum += row[q];
    return sum;
}

static const char *heat_name(const EvalLabels *l, int k, int p) {
    return p < k ? l->labels[p] : k < l->n_labels ? "other / not shown" : "other";
}

static void heat_cell(FILE *f, const EvalLabels *l, int k, int e, int p, int size) {
    long n = heat_count(l, k, e, p), support = l->stats[e].support;
    double share = support > 0 ? (double)n / (double)support : 0; /* row-normalised */
    int x = HEAT_LEFT + p * size, y = HEAT_TOP + e * size;
    fprintf(f, "<rect class=\"cell%s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" data-count=\"%ld\" "
               "fill=\"rgb(%d,%d,%d)\"><title>expected ",
            e == p ? " diag" : "", x, y, size, size, n, (int)lround(255 - 224 * share), (int)lround(255 - 160 * share),
            (int)lround(255 - 87 * share));
    esc(f, l->labels[e]);
    fputs(", predicted ", f);
    esc(f, heat_name(l, k, p));
    fprintf(f, ": %ld (%.0f%% of the row)</title></rect>", n, 100 * share);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" style=\"fill:%s\">%ld</text>\n", x + size / 2.0,
            y + size / 2.0 + 4, share > 0.55 ? "#fff" : n ? "#1d2430" : "#b8bec8", n);
}

static void heat_map(FILE *f, const EvalCandidate *c) {
    const EvalLabels *l = &c->labels;
    int k = l->n_labels < HTML_HEAT_LABELS_MAX ? l->n_labels : HTML_HEAT_LABELS_MAX, size = k <= 12 ? 34 : 26;
    int w = HEAT_LEFT + (k + 1) * size + 90, h = HEAT_TOP + k * size + 10;
    fputs("<svg class=\"confusion\" data-candidate=\"", f);
    esc(f, c->name);
    fprintf(f, "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
               "aria-label=\"confusion matrix\">\n",
            w, h, w, h);
    fprintf(f, "<text class=\"axis\" x=\"%d\" y=\"14\">predicted \xe2\x86\x92</text>\n", HEAT_LEFT);
    fprintf(f, "<text class=\"axis\" x=\"%d\" y=\"%d\" text-anchor=\"end\">expected \xe2\x86\x93</text>\n",
            HEAT_LEFT - 6, HEAT_TOP - 6);
    for (int p = 0; p <= k; p++) {
        fprintf(f, "<text transform=\"translate(%.1f %d) rotate(-45)\">", HEAT_LEFT + (p + 0.5) * size, HEAT_TOP - 6);
        esc_clip(f, heat_name(l, k, p), HTML_AXIS_CHARS);
        fputs("</text>\n", f);
    }
    for (int e = 0; e < k; e++) {
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", HEAT_LEFT - 6, HEAT_TOP + (e + 0.5) * size + 4);
        esc_clip(f, l->labels[e], HTML_AXIS_CHARS);
        fputs("</text>\n", f);
        for (int p = 0; p <= k; p++) heat_cell(f, l, k, e, p, size);
    }
    fputs("</svg>\n", f);
}

static void labels_section(FILE *f, const EvalCandidate *c) {
    const EvalLabels *l = &c->labels;
    EvalTable t;
    fputs("<h2>Labels: ", f);
    esc(f, c->name);
    fprintf(f, "</h2>\n<p class=\"note\">Macro precision %.3f, recall %.3f, F1 %.3f; %ld predictions were not a "
               "label (column \xe2\x80\x9cother\xe2\x80\x9d). Rows are the expected labels, shaded by the share of "
               "the row.",
            l->macro_precision, l->macro_recall, l->macro_f1, l->n_other);
    if (l->n_labels > HTML_HEAT_LABELS_MAX)
        fprintf(f, " Showing the %d most frequent of %d labels; predictions of the others are in the last column.",
                HTML_HEAT_LABELS_MAX, l->n_labels);
    fputs("</p>\n", f);
    heat_map(f, c);
    int more = eval_table_labels(l, EVAL_TABLE_ROWS, &t);
    html_table(f, &t);
    if (more > 0) fprintf(f, "<p class=\"note\">%d more labels are in the JSON report.</p>\n", more);
}

/* ---- the page --------------------------------------------------------------------------------- */

static void page(FILE *f, const EvalReport *r) {
    EvalTable t;
    const char *base = strrchr(r->data_path, '/');
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>ftune eval: ",
          f);
    esc(f, base ? base + 1 : r->data_path);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>ftune eval</h1>\n<p class=\"meta\">Data <code>",
            CSS);
    esc(f, r->data_path);
    fprintf(f, "</code> \xc2\xb7 %ld examples \xc2\xb7 answers normalised: %s \xc2\xb7 baseline: ", r->n,
            eval_norm_name(r->norm));
    esc(f, r->n_cands > 0 ? r->cands[0].name : "none");
    fputs("</p>\n<div class=\"verdict\" id=\"verdict\">", f);
    esc(f, r->verdict);
    fputs("</div>\n<h2>Summary</h2>\n", f);
    eval_table_summary(r, &t);
    html_table(f, &t);
    for (int i = 0; i < r->n_cands; i++) {
        if (!r->cands[i].error[0]) continue;
        fputs("<p class=\"error\">", f);
        esc(f, r->cands[i].name);
        fputs(" could not run: ", f);
        esc(f, r->cands[i].error);
        fputs("</p>\n", f);
    }
    charts(f, r);
    if (r->n_cands > 1) {
        fputs("<h2>Paired comparison with the baseline</h2>\n<p class=\"note\">On the examples both attempted: "
              "difference in accuracy points with Newcombe's 95% interval, and the exact McNemar test.</p>\n",
              f);
        eval_table_paired(r, &t);
        html_table(f, &t);
    }
    for (int i = 0; i < r->n_cands; i++)
        if (r->cands[i].has_labels) labels_section(f, &r->cands[i]);
    fputs("<p class=\"note\">Written by ftune eval.</p>\n</body>\n</html>\n", f);
}

int eval_report_write_html(const EvalReport *r, const char *path, Err *err) {
    AtomicFile af;
    if (file_atomic_open(&af, path, err)) return -1;
    page(af.fp, r);
    return file_atomic_commit(&af, err);
}
