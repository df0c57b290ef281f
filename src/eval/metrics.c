/* metrics.c: answer normalisation, accuracy with the Wilson interval, the paired comparison
 * (Newcombe's interval and the exact McNemar test), the verdict line and latency summaries.
 * Label metrics live in metrics_labels.c. Pure functions: no I/O, no global state. The binomial
 * probabilities use Loader's saddle-point form (Stirling-series remainders and the deviance
 * term bd0) so that the McNemar p-value keeps its relative precision for large counts, where
 * differences of lgamma values would lose about 1e-10. */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- answer normalisation ------------------------------------------------------------------ */

static bool is_ascii_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* The span [*start, *start + *len) of s that mode keeps. */
static void norm_span(const char *s, EvalNorm mode, size_t *start, size_t *len) {
    size_t a = 0, b = strlen(s);
    if (mode != EVAL_NORM_NONE) {
        while (a < b && is_ascii_space((unsigned char)s[a])) a++;
        while (b > a && is_ascii_space((unsigned char)s[b - 1])) b--;
    }
    *start = a;
    *len = b - a;
}

static void norm_copy(const char *src, size_t len, EvalNorm mode, char *out) {
    for (size_t i = 0; i < len; i++) {
        char ch = src[i];
        if (mode == EVAL_NORM_TRIM_CASEFOLD && ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        out[i] = ch;
    }
    out[len] = 0;
}

static bool norm_valid(EvalNorm mode) {
    return mode == EVAL_NORM_NONE || mode == EVAL_NORM_TRIM || mode == EVAL_NORM_TRIM_CASEFOLD;
}

int eval_normalise_answer(const char *s, EvalNorm mode, char *out, size_t cap, Err *err) {
    if (out && cap > 0) out[0] = 0;
    if (!s || !out) return err_set(err, ERR_ARG, "eval_normalise_answer: NULL string or buffer");
    if (!norm_valid(mode)) return err_set(err, ERR_ARG, "eval_normalise_answer: unknown mode %d", (int)mode);
    size_t start, len;
    norm_span(s, mode, &start, &len);
    if (len + 1 > cap)
        return err_set(err, ERR_ARG, "eval_normalise_answer: %zu bytes do not fit in a buffer of %zu", len + 1, cap);
    norm_copy(s + start, len, mode, out);
    return 0;
}

char *eval_normalise_answer_dup(const char *s, EvalNorm mode) {
    if (!s || !norm_valid(mode)) return NULL;
    size_t start, len;
    norm_span(s, mode, &start, &len);
    char *out = malloc(len + 1);
    if (!out) return NULL;
    norm_copy(s + start, len, mode, out);
    return out;
}

/* ---- accuracy -------------------------------------------------------------------------------- */

void eval_wilson_interval(long k, long n, double z, double *lo, double *hi) {
    if (n <= 0 || k < 0 || k > n || !(z > 0)) {
        *lo = *hi = NAN;
        return;
    }
    /* centre = (k + z^2/2) / (n + z^2), half = z sqrt(k (n - k) / n + z^2 / 4) / (n + z^2):
     * the textbook (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n) times n/n. */
    double dn = (double)n, dk = (double)k, z2 = z * z, denom = dn + z2;
    double centre = (dk + z2 / 2) / denom;
    double half = z * sqrt(dk * (dn - dk) / dn + z2 / 4) / denom;
    *lo = k == 0 ? 0.0 : fmax(0.0, centre - half);
    *hi = k == n ? 1.0 : fmin(1.0, centre + half);
}

int eval_accuracy(long correct, long n, EvalAccuracy *out, Err *err) {
    if (n < 0 || correct < 0 || correct > n)
        return err_set(err, ERR_ARG, "eval_accuracy: %ld correct of %ld is not a count", correct, n);
    out->correct = correct;
    out->n = n;
    out->defined = n > 0;
    if (n == 0) {
        out->accuracy = out->lo = out->hi = NAN;
        return 0;
    }
    out->accuracy = (double)correct / (double)n;
    eval_wilson_interval(correct, n, EVAL_Z95, &out->lo, &out->hi);
    return 0;
}

/* ---- binomial probabilities (Loader 2000, "Fast and accurate computation of binomial
 * probabilities") -------------------------------------------------------------------------- */

/* stirlerr(n) = log(n!) - log(sqrt(2 pi n) (n/e)^n), the Stirling-series remainder. */
static double stirlerr(double n) {
    const double S0 = 1.0 / 12, S1 = 1.0 / 360, S2 = 1.0 / 1260, S3 = 1.0 / 1680, S4 = 1.0 / 1188;
    if (n <= 15) return lgamma(n + 1) - (n + 0.5) * log(n) + n - 0.5 * log(2 * M_PI);
    double nn = n * n;
    if (n > 500) return (S0 - S1 / nn) / n;
    if (n > 80) return (S0 - (S1 - S2 / nn) / nn) / n;
    if (n > 35) return (S0 - (S1 - (S2 - S3 / nn) / nn) / nn) / n;
    return (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / n;
}

/* bd0(x, np) = x log(x / np) + np - x, without cancellation when x is close to np. */
static double bd0(double x, double np) {
    if (fabs(x - np) < 0.1 * (x + np)) {
        double v = (x - np) / (x + np), s = (x - np) * v, ej = 2 * x * v;
        v = v * v;
        for (int j = 1; j < 1000; j++) {
            ej *= v;
            double s1 = s + ej / (2 * j + 1);
            if (s1 == s) return s1;
            s = s1;
        }
        return s;
    }
    return x * log(x / np) + np - x;
}

/* log P(X = k) for X ~ Binomial(n, 1/2), 0 <= k <= n. */
static double log_binom_half_pmf(long k, long n) {
    if (k == 0 || k == n) return -(double)n * M_LN2;
    double dk = (double)k, dn = (double)n, half = dn / 2;
    double lc = stirlerr(dn) - stirlerr(dk) - stirlerr(dn - dk) - bd0(dk, half) - bd0(dn - dk, half);
    double lf = log(2 * M_PI) + log(dk) + log1p(-dk / dn);
    return lc - 0.5 * lf;
}

/* Up to this many discordant pairs the p-value is summed exactly in integers. */
#define MCNEMAR_EXACT_N 50

double eval_mcnemar_exact_p(long b, long c) {
    if (b < 0 || c < 0) return NAN;
    if (b == c) return 1.0; /* includes b + c == 0; 2 P(X <= n/2) >= 1 */
    long n = b + c, m = b < c ? b : c;
    if (n <= MCNEMAR_EXACT_N) {
        /* binomial coefficients are integers below 2^53 here, so the sum and the result
         * (a dyadic rational) are exact: b=1, c=9 gives 22 / 1024 = 0.021484375 */
        double coef = 1, sum = 0;
        for (long k = 0; k <= m; k++) {
            sum += coef;
            coef = coef * (double)(n - k) / (double)(k + 1);
        }
        double p = ldexp(sum, (int)(1 - n));
        return p < 1 ? p : 1.0;
    }
    /* P(X <= m) = pmf(m) * sum_{k <= m} pmf(k) / pmf(m); with m < n/2 the ratio
     * pmf(k - 1) / pmf(k) = k / (n - k + 1) is below 1, so the terms only shrink. */
    double sum = 0, t = 1;
    for (long k = m; k >= 0; k--) {
        sum += t;
        if (k == 0) break;
        t *= (double)k / (double)(n - k + 1);
        if (t < sum * 1e-17) break;
    }
    double p = 2 * exp(log_binom_half_pmf(m, n)) * sum;
    return p < 1 ? p : 1.0;
}

/* ---- paired comparison ----------------------------------------------------------------------- */

int eval_paired_from_counts(long both, long b, long c, long neither, EvalPaired *out, Err *err) {
    if (both < 0 || b < 0 || c < 0 || neither < 0)
        return err_set(err, ERR_ARG, "eval_paired_from_counts: negative count (%ld, %ld, %ld, %ld)", both, b, c,
                       neither);
    long n = both + b + c + neither;
    *out = (EvalPaired){.n = n, .both = both, .b = b, .c = c, .neither = neither, .defined = n > 0};
    out->p_value = eval_mcnemar_exact_p(b, c);
    if (n == 0) {
        out->acc_a = out->acc_b = out->diff = out->diff_lo = out->diff_hi = NAN;
        return 0;
    }
    double dn = (double)n;
    double pa = (double)(both + b) / dn, pb = (double)(both + c) / dn;
    out->acc_a = pa;
    out->acc_b = pb;
    out->diff = (double)(c - b) / dn;
    double la, ua, lb, ub;
    eval_wilson_interval(both + b, n, EVAL_Z95, &la, &ua);
    eval_wilson_interval(both + c, n, EVAL_Z95, &lb, &ub);
    /* psi: the phi coefficient of the table with Newcombe's correction of ad - bc. Products in
     * double: the counts can be large enough for their 4-fold product to overflow a long. */
    double psi = 0;
    if (both + b > 0 && c + neither > 0 && both + c > 0 && b + neither > 0) {
        double d = (double)both * (double)neither - (double)b * (double)c;
        if (d > dn / 2)
            d -= dn / 2;
        else if (d >= 0)
            d = 0;
        psi = d / sqrt((double)(both + b) * (double)(c + neither) * (double)(both + c) * (double)(b + neither));
    }
    double db = pb - lb, ea = ua - pa; /* lower: B's distance down, A's distance up */
    double eb = ub - pb, da = pa - la; /* upper: B's distance up, A's distance down */
    double lo = out->diff - sqrt(fmax(0.0, db * db - 2 * psi * db * ea + ea * ea));
    double hi = out->diff + sqrt(fmax(0.0, eb * eb - 2 * psi * eb * da + da * da));
    out->diff_lo = fmax(-1.0, lo);
    out->diff_hi = fmin(1.0, hi);
    return 0;
}

int eval_paired_compare(const bool *correct_a, const bool *correct_b, long n, EvalPaired *out, Err *err) {
    if (n < 0) return err_set(err, ERR_ARG, "eval_paired_compare: negative count %ld", n);
    if (n > 0 && (!correct_a || !correct_b)) return err_set(err, ERR_ARG, "eval_paired_compare: NULL results");
    long cnt[2][2] = {{0, 0}, {0, 0}}; /* [A right][B right] */
    for (long i = 0; i < n; i++) cnt[correct_a[i] ? 1 : 0][correct_b[i] ? 1 : 0]++;
    return eval_paired_from_counts(cnt[1][1], cnt[1][0], cnt[0][1], cnt[0][0], out, err);
}

const char *eval_format_verdict(const EvalPaired *r, double alpha, const char *name_a, const char *name_b,
                                char *buf, size_t cap) {
    if (!buf || cap == 0) return buf;
    char pbuf[32];
    double p = r->p_value;
    if (p < 1e-4)
        snprintf(pbuf, sizeof pbuf, "p < 0.0001");
    else
        snprintf(pbuf, sizeof pbuf, "p = %.2g", p);
    if (r->n > 0 && p < alpha && r->b != r->c) {
        const char *winner = r->c > r->b ? name_b : name_a;
        snprintf(buf, cap, "%s is better (%s)", winner ? winner : (r->c > r->b ? "B" : "A"), pbuf);
    } else {
        snprintf(buf, cap, "no significant difference (%s)", pbuf);
    }
    return buf;
}

/* ---- latency ------------------------------------------------------------------------------- */

double eval_percentile_sorted(const double *sorted, long n, double q) {
    if (n <= 0 || !(q >= 0 && q <= 100)) return NAN;
    double h = (double)(n - 1) * (q / 100);
    double fl = floor(h);
    long i = (long)fl;
    if (i >= n - 1) return sorted[n - 1];
    double a = sorted[i], b = sorted[i + 1], t = h - fl, d = b - a;
    /* numpy's _lerp: from the nearer end, so that t = 1 gives b exactly */
    return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int eval_latency_summarise(const double *v, long n, EvalLatency *out, Err *err) {
    if (n < 0 || (n > 0 && !v)) return err_set(err, ERR_ARG, "eval_latency_summarise: bad array (n = %ld)", n);
    for (long i = 0; i < n; i++)
        if (!isfinite(v[i])) return err_set(err, ERR_ARG, "eval_latency_summarise: value %ld is not finite", i);
    *out = (EvalLatency){.n = n, .defined = n > 0};
    if (n == 0) {
        out->mean = out->p50 = out->p95 = out->min = out->max = NAN;
        return 0;
    }
    double *s = malloc((size_t)n * sizeof *s);
    if (!s) return err_set(err, ERR_NOMEM, "eval_latency_summarise: out of memory for %ld values", n);
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double sum = 0;
    for (long i = 0; i < n; i++) sum += s[i];
    out->mean = sum / (double)n;
    out->p50 = eval_percentile_sorted(s, n, 50);
    out->p95 = eval_percentile_sorted(s, n, 95);
    out->min = s[0];
    out->max = s[n - 1];
    free(s);
    return 0;
}
