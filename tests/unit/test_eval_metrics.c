/* test_eval_metrics.c: the statistics behind `ftune eval` against hand-computed values and the
 * output of scripts/reference_eval_metrics.py (statsmodels, scipy, scikit-learn, numpy and exact
 * rational arithmetic), whose lines are quoted next to the numbers they gave. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "eval/metrics.h"
#include "test.h"

/* ---- normalisation --------------------------------------------------------------------------- */

static void check_norm(const char *in, EvalNorm mode, const char *want) {
    char buf[64];
    Err err = {0};
    if (eval_normalise_answer(in, mode, buf, sizeof buf, &err) != 0) {
        test_fail(__FILE__, __LINE__, "normalise(%d) failed: %s", (int)mode, err.msg);
        return;
    }
    if (strcmp(buf, want) != 0)
        test_fail(__FILE__, __LINE__, "normalise(%d): got '%s', want '%s'", (int)mode, buf, want);
    char *dup = eval_normalise_answer_dup(in, mode);
    if (!dup || strcmp(dup, want) != 0) test_fail(__FILE__, __LINE__, "normalise_dup(%d) differs", (int)mode);
    free(dup);
}

TEST(test_eval_normalise_answer) {
    check_norm("  Paris\n", EVAL_NORM_NONE, "  Paris\n");
    check_norm("  Paris\n", EVAL_NORM_TRIM, "Paris");
    check_norm("  Paris\n", EVAL_NORM_TRIM_CASEFOLD, "paris");
    check_norm("\t\r\n Yes \v\f", EVAL_NORM_TRIM, "Yes");
    check_norm("\t\r\n Yes \v\f", EVAL_NORM_TRIM_CASEFOLD, "yes");
    check_norm("NEGATIVE", EVAL_NORM_TRIM_CASEFOLD, "negative");
    check_norm("   ", EVAL_NORM_TRIM, "");
    check_norm("", EVAL_NORM_TRIM_CASEFOLD, "");
    check_norm("a\tb  C", EVAL_NORM_TRIM_CASEFOLD, "a\tb  c"); /* inner whitespace is kept */
    /* UTF-8 is untouched: a leading no-break space (C2 A0) is not ASCII whitespace and
     * "É" (C3 89) keeps its case; only the ASCII letters fold. */
    check_norm("\xc2\xa0\xc3\x84rger \xc3\x89T\xc3\x89 Stra\xc3\x9f" "e\t", EVAL_NORM_TRIM_CASEFOLD,
               "\xc2\xa0\xc3\x84rger \xc3\x89t\xc3\x89 stra\xc3\x9f" "e");

    /* the buffer must hold the result and its NUL */
    char small[6];
    Err err = {0};
    CHECK(eval_normalise_answer("  Paris ", EVAL_NORM_TRIM, small, sizeof small, &err) == 0);
    CHECK(strcmp(small, "Paris") == 0);
    CHECK(eval_normalise_answer(" London ", EVAL_NORM_TRIM, small, sizeof small, &err) == -1);
    CHECK_EQ_INT(err.code, ERR_ARG);
    CHECK(small[0] == 0);
    CHECK(eval_normalise_answer("x", (EvalNorm)7, small, sizeof small, &err) == -1);
    CHECK(eval_normalise_answer_dup("x", (EvalNorm)7) == NULL);
}

/* ---- accuracy -------------------------------------------------------------------------------- */

TEST(test_eval_accuracy_wilson) {
    EvalAccuracy a;
    REQUIRE(eval_accuracy(7, 10, &a, NULL) == 0);
    CHECK(a.defined);
    CHECK_NEAR(a.accuracy, 0.7, 1e-15);
    /* By hand, z^2 = 3.841459: centre = (7 + 1.920729) / 13.841459 = 0.644491,
     * half = 1.959964 * sqrt(7 * 3 / 10 + 0.960365) / 13.841459 = 1.959964 * 1.749390 / 13.841459
     *      = 0.247715, so [0.3968, 0.8922]. Reference: lo=0.39677814746114537 hi=0.8922087325936989 */
    CHECK_NEAR(a.lo, 0.3968, 1e-4);
    CHECK_NEAR(a.hi, 0.8922, 1e-4);
    CHECK_NEAR(a.lo, 0.39677814746114537, 1e-12);
    CHECK_NEAR(a.hi, 0.8922087325936989, 1e-12);

    /* the ends are exact: 0 of 10 has hi = z^2 / (10 + z^2) = 3.841459 / 13.841459 */
    REQUIRE(eval_accuracy(0, 10, &a, NULL) == 0);
    CHECK(a.lo == 0.0);
    CHECK_NEAR(a.hi, 0.27753279986288926, 1e-12);
    REQUIRE(eval_accuracy(10, 10, &a, NULL) == 0);
    CHECK(a.hi == 1.0);
    CHECK_NEAR(a.lo, 0.7224672001371106, 1e-12);
    REQUIRE(eval_accuracy(1, 1, &a, NULL) == 0); /* lo = 1 / (1 + z^2) */
    CHECK_NEAR(a.lo, 0.2065493143772374, 1e-12);
    CHECK(a.hi == 1.0);
    REQUIRE(eval_accuracy(0, 1, &a, NULL) == 0);
    CHECK_NEAR(a.hi, 0.7934506856227627, 1e-12);
    REQUIRE(eval_accuracy(50, 100, &a, NULL) == 0); /* symmetric about 0.5 */
    CHECK_NEAR(a.lo, 0.4038315303659956, 1e-12);
    CHECK_NEAR(a.hi, 0.5961684696340044, 1e-12);
    REQUIRE(eval_accuracy(873, 1000, &a, NULL) == 0);
    CHECK_NEAR(a.lo, 0.8509252474282143, 1e-12);
    CHECK_NEAR(a.hi, 0.8922199907415616, 1e-12);
}

TEST(test_eval_accuracy_edge_cases) {
    EvalAccuracy a;
    Err err = {0};
    REQUIRE(eval_accuracy(0, 0, &a, &err) == 0);
    CHECK(!a.defined);
    CHECK(isnan(a.accuracy) && isnan(a.lo) && isnan(a.hi));
    CHECK(eval_accuracy(11, 10, &a, &err) == -1);
    CHECK_EQ_INT(err.code, ERR_ARG);
    CHECK(eval_accuracy(-1, 10, &a, &err) == -1);
    CHECK(eval_accuracy(0, -1, &a, &err) == -1);
    double lo, hi;
    eval_wilson_interval(1, 0, EVAL_Z95, &lo, &hi);
    CHECK(isnan(lo) && isnan(hi));
}

/* ---- labels ---------------------------------------------------------------------------------- */

/* 10 examples, 3 labels by support: pos (4), neg (3), neutral (3; "neg" < "neutral").
 *   expected  pos pos pos pos   neg neg neg  neutral neutral neutral
 *   predicted pos pos neg maybe neg neg pos  neutral neg     unsure
 * Confusion (rows expected, columns pos neg neutral other):
 *   pos     2 1 0 1        column totals: pos 3, neg 4, neutral 1, other 2
 *   neg     1 2 0 0
 *   neutral 0 1 1 1
 * pos:     P = 2/3, R = 2/4, F1 = 2*2 / (2*2 + 1 + 2) = 4/7
 * neg:     P = 2/4, R = 2/3, F1 = 4 / (4 + 2 + 1) = 4/7
 * neutral: P = 1/1, R = 1/3, F1 = 2 / (2 + 0 + 2) = 1/2
 * macro P = (2/3 + 1/2 + 1) / 3 = 13/18, R = (1/2 + 2/3 + 1/3) / 3 = 1/2,
 * F1 = (4/7 + 4/7 + 1/2) / 3 = 23/42; accuracy 5/10. "maybe" and "unsure" are misses for pos and
 * neutral and false positives for nobody. The reference (scikit-learn) agrees. */
TEST(test_eval_labels_three_labels_and_other) {
    const char *exp[] = {"pos", "pos", "pos", "pos", "neg", "neg", "neg", "neutral", "neutral", "neutral"};
    const char *pred[] = {"pos", "pos", "neg", "maybe", "neg", "neg", "pos", "neutral", "neg", "unsure"};
    EvalLabels l;
    Err err = {0};
    REQUIRE(eval_labels_build(exp, pred, 10, &l, &err) == 0);
    REQUIRE(l.n_labels == 3);
    CHECK(strcmp(l.labels[0], "pos") == 0);
    CHECK(strcmp(l.labels[1], "neg") == 0);
    CHECK(strcmp(l.labels[2], "neutral") == 0);
    const long want[3][4] = {{2, 1, 0, 1}, {1, 2, 0, 0}, {0, 1, 1, 1}};
    for (int e = 0; e < 3; e++)
        for (int p = 0; p < 4; p++) CHECK_EQ_INT(l.counts[e * 4 + p], want[e][p]);
    CHECK_EQ_INT(l.n, 10);
    CHECK_EQ_INT(l.n_other, 2);
    CHECK_EQ_INT(l.correct, 5);
    CHECK(l.defined);
    CHECK_NEAR(l.accuracy, 0.5, 1e-15);

    const long support[3] = {4, 3, 3}, predicted[3] = {3, 4, 1}, tp[3] = {2, 2, 1};
    const double P[3] = {2.0 / 3, 0.5, 1.0}, R[3] = {0.5, 2.0 / 3, 1.0 / 3}, F[3] = {4.0 / 7, 4.0 / 7, 0.5};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(l.stats[i].support, support[i]);
        CHECK_EQ_INT(l.stats[i].predicted, predicted[i]);
        CHECK_EQ_INT(l.stats[i].tp, tp[i]);
        CHECK_NEAR(l.stats[i].precision, P[i], 1e-15);
        CHECK_NEAR(l.stats[i].recall, R[i], 1e-15);
        CHECK_NEAR(l.stats[i].f1, F[i], 1e-15);
    }
    CHECK_NEAR(l.macro_precision, 13.0 / 18, 1e-15); /* reference 0.7222222222222222 */
    CHECK_NEAR(l.macro_recall, 0.5, 1e-15);          /* reference 0.49999999999999994 */
    CHECK_NEAR(l.macro_f1, 23.0 / 42, 1e-15);        /* reference 0.5476190476190476 */
    CHECK(eval_answers_are_labels(l.n, l.n_labels)); /* 10 >= 2 * 3 */
    long d = 0;
    CHECK(eval_count_distinct(exp, 10, &d, NULL) == 0);
    CHECK_EQ_INT(d, 3);
    CHECK(eval_count_distinct(pred, 10, &d, NULL) == 0);
    CHECK_EQ_INT(d, 5);
    eval_labels_free(&l);
    CHECK(l.labels == NULL && l.counts == NULL && l.n_labels == 0);
    eval_labels_free(&l); /* twice is fine */
    eval_labels_free(NULL);
}

/* A label that is never predicted has precision 0 (zero_division=0), recall 0, F1 0.
 *   expected  b a b a;  predicted a a a zzz.  Labels a (2), b (2) by string on the tie.
 *   a: tp 1, predicted 3, P = 1/3, R = 1/2, F1 = 2 / (2 + 2 + 1) = 0.4;  b: all 0.
 *   macro P = 1/6, R = 1/4, F1 = 0.2; accuracy 1/4 (scikit-learn agrees). */
TEST(test_eval_labels_never_predicted_label) {
    const char *exp[] = {"b", "a", "b", "a"};
    const char *pred[] = {"a", "a", "a", "zzz"};
    EvalLabels l;
    REQUIRE(eval_labels_build(exp, pred, 4, &l, NULL) == 0);
    REQUIRE(l.n_labels == 2);
    CHECK(strcmp(l.labels[0], "a") == 0 && strcmp(l.labels[1], "b") == 0);
    const long want[2][3] = {{1, 0, 1}, {2, 0, 0}};
    for (int e = 0; e < 2; e++)
        for (int p = 0; p < 3; p++) CHECK_EQ_INT(l.counts[e * 3 + p], want[e][p]);
    CHECK_NEAR(l.stats[0].precision, 1.0 / 3, 1e-15);
    CHECK_NEAR(l.stats[0].recall, 0.5, 1e-15);
    CHECK_NEAR(l.stats[0].f1, 0.4, 1e-15);
    CHECK_EQ_INT(l.stats[1].predicted, 0);
    CHECK(l.stats[1].precision == 0 && l.stats[1].recall == 0 && l.stats[1].f1 == 0);
    CHECK_NEAR(l.macro_precision, 1.0 / 6, 1e-15);
    CHECK_NEAR(l.macro_recall, 0.25, 1e-15);
    CHECK_NEAR(l.macro_f1, 0.2, 1e-15);
    CHECK_NEAR(l.accuracy, 0.25, 1e-15);
    CHECK_EQ_INT(l.n_other, 1);
    eval_labels_free(&l);
}

TEST(test_eval_labels_edge_cases) {
    EvalLabels l;
    Err err = {0};
    REQUIRE(eval_labels_build(NULL, NULL, 0, &l, &err) == 0);
    CHECK(!l.defined && l.n_labels == 0 && l.labels == NULL);
    CHECK(isnan(l.accuracy) && isnan(l.macro_f1));
    eval_labels_free(&l);
    const char *exp[] = {"x", NULL};
    const char *pred[] = {"x", "y"};
    CHECK(eval_labels_build(exp, pred, 2, &l, &err) == -1);
    CHECK_EQ_INT(err.code, ERR_ARG);
    CHECK(l.labels == NULL);
    CHECK(eval_labels_build(pred, pred, -1, &l, &err) == -1);
    long d = -1;
    CHECK(eval_count_distinct(NULL, 0, &d, NULL) == 0);
    CHECK_EQ_INT(d, 0);

    /* too many distinct answers for a confusion matrix */
    long n = EVAL_LABELS_MAX_BUILD + 1;
    char (*text)[32] = malloc((size_t)n * sizeof *text);
    const char **s = malloc((size_t)n * sizeof *s);
    REQUIRE(text && s);
    for (long i = 0; i < n; i++) {
        snprintf(text[i], sizeof text[i], "answer %ld", i);
        s[i] = text[i];
    }
    CHECK(eval_labels_build(s, s, n, &l, &err) == -1);
    CHECK_EQ_INT(err.code, ERR_ARG);
    CHECK(eval_labels_build(s, s, n - 1, &l, &err) == 0);
    CHECK_EQ_INT(l.n_labels, EVAL_LABELS_MAX_BUILD);
    CHECK_NEAR(l.accuracy, 1.0, 0);
    CHECK_NEAR(l.macro_f1, 1.0, 0);
    eval_labels_free(&l);
    free(s);
    free(text);
}

TEST(test_eval_answers_are_labels) {
    CHECK(eval_answers_are_labels(10, 3));
    CHECK(eval_answers_are_labels(100, 50));   /* exactly 2 per label, 50 labels */
    CHECK(!eval_answers_are_labels(99, 50));   /* fewer than 2 per label on average */
    CHECK(eval_answers_are_labels(385, 77));   /* BANKING77's intents, 5 held out each */
    CHECK(eval_answers_are_labels(300, 150));  /* CLINC150's intents, 2 each */
    CHECK(!eval_answers_are_labels(1000, 151)); /* too many labels */
    CHECK(!eval_answers_are_labels(100, 1));   /* a single label says nothing beyond accuracy */
    CHECK(!eval_answers_are_labels(0, 0));
    CHECK(!eval_answers_are_labels(200, 180)); /* free-form answers */
}

/* ---- paired comparison ----------------------------------------------------------------------- */

TEST(test_eval_mcnemar_exact) {
    /* b=1, c=9: P(X <= 1 | n=10) = (1 + 10) / 1024, p = 22 / 1024 */
    CHECK(eval_mcnemar_exact_p(1, 9) == 0.021484375);
    CHECK(eval_mcnemar_exact_p(9, 1) == 0.021484375);
    CHECK(eval_mcnemar_exact_p(0, 0) == 1.0);
    CHECK(eval_mcnemar_exact_p(10, 10) == 1.0);
    CHECK(eval_mcnemar_exact_p(5, 6) == 1.0); /* 2 * P(X <= 5 | n=11) = 2 * 0.5 */
    CHECK_NEAR(eval_mcnemar_exact_p(3, 0), 0.25, 1e-15);                /* 2 / 8 */
    CHECK_NEAR(eval_mcnemar_exact_p(0, 20), 1.9073486328125e-06, 1e-20); /* 2 / 2^20 */
    /* exact rational value 0.027972423571324383; scipy.stats.binomtest 0.027972423571324654 */
    double p = eval_mcnemar_exact_p(4000, 4200);
    CHECK_NEAR(p / 0.027972423571324383, 1.0, 1e-9);
    CHECK_NEAR(p / 0.027972423571324383, 1.0, 1e-12); /* what Loader's form actually gives */
    /* n = 100000: exact 0.0015823598788515956 */
    p = eval_mcnemar_exact_p(49500, 50500);
    CHECK_NEAR(p / 0.0015823598788515956, 1.0, 1e-9);
    /* no overflow: 2^-100000 underflows to 0 */
    p = eval_mcnemar_exact_p(0, 100000);
    CHECK(p == 0.0);
    CHECK(isnan(eval_mcnemar_exact_p(-1, 3)));
}

static void check_paired(long both, long b, long c, long neither, double diff, double lo, double hi) {
    EvalPaired r;
    Err err = {0};
    if (eval_paired_from_counts(both, b, c, neither, &r, &err) != 0) {
        test_fail(__FILE__, __LINE__, "paired(%ld,%ld,%ld,%ld): %s", both, b, c, neither, err.msg);
        return;
    }
    if (!(fabs(r.diff - diff) <= 1e-12 && fabs(r.diff_lo - lo) <= 1e-12 && fabs(r.diff_hi - hi) <= 1e-12))
        test_fail(__FILE__, __LINE__, "paired(%ld,%ld,%ld,%ld): %.17g [%.17g, %.17g], want %.17g [%.17g, %.17g]", both,
                  b, c, neither, r.diff, r.diff_lo, r.diff_hi, diff, lo, hi);
}

TEST(test_eval_paired_newcombe_interval) {
    /* Cavo et al. (2012) in Fagerland, Lydersen & Laake (2014): published 0.0621 (0.0046 to
     * 0.1186) for the same orientation; psi = (59*80 - 6*16 - 80.5) / sqrt(65*96*75*86). */
    EvalPaired r;
    REQUIRE(eval_paired_from_counts(59, 6, 16, 80, &r, NULL) == 0);
    CHECK_NEAR(r.diff, 0.0621, 5e-5);
    CHECK_NEAR(r.diff_lo, 0.0046, 5e-5);
    CHECK_NEAR(r.diff_hi, 0.1186, 5e-5);
    /* the reference script's lines "a= .. b= .. c= .. d= .. diff= lo= hi=" */
    check_paired(59, 6, 16, 80, 0.06211180124223603, 0.004625113933050047, 0.11862119563870999);
    check_paired(5, 1, 3, 1, 0.20000000000000007, -0.18696208287039134, 0.5210862318923275); /* ad-bc = 2 <= n/2 */
    check_paired(40, 1, 9, 50, 0.08000000000000002, 0.01709591487269363, 0.14114662136239994);
    check_paired(8, 2, 0, 0, -0.19999999999999996, -0.5098375284633582, 0.11235310261222192); /* A 10/10: psi 0 */
    check_paired(3, 2, 2, 3, 0.0, -0.3725136238199143, 0.3725136238199143);
    check_paired(20, 30, 10, 40, -0.2, -0.3129425461262323, -0.07828429094118625);
    check_paired(1, 4, 5, 0, 0.09999999999999998, -0.42491004041462577, 0.5720581133681355); /* psi < 0 */
    check_paired(0, 0, 0, 7, 0.0, -0.3543304350666875, 0.3543304350666875);

    /* both right everywhere: diff 0; each Wilson interval is [0.7225, 1] (10 of 10), psi = 0,
     * so lo = -sqrt(0 + (1 - 0.72247)^2) = -0.27753 and hi = +0.27753 */
    REQUIRE(eval_paired_from_counts(10, 0, 0, 0, &r, NULL) == 0);
    CHECK_NEAR(r.diff_lo, -0.27753279986288926, 1e-12);
    CHECK_NEAR(r.diff_hi, 0.27753279986288926, 1e-12);
    CHECK(r.p_value == 1.0);
}

TEST(test_eval_paired_compare_from_results) {
    /* 100 examples: both = 40, b = 1 (A right only), c = 9 (B right only), neither = 50 */
    bool a[100], b[100];
    for (int i = 0; i < 100; i++) {
        a[i] = i < 41;
        b[i] = i < 40 || (i >= 41 && i < 50);
    }
    EvalPaired r;
    REQUIRE(eval_paired_compare(a, b, 100, &r, NULL) == 0);
    CHECK_EQ_INT(r.n, 100);
    CHECK_EQ_INT(r.both, 40);
    CHECK_EQ_INT(r.b, 1);
    CHECK_EQ_INT(r.c, 9);
    CHECK_EQ_INT(r.neither, 50);
    CHECK(r.defined);
    CHECK_NEAR(r.acc_a, 0.41, 1e-15);
    CHECK_NEAR(r.acc_b, 0.49, 1e-15);
    CHECK_NEAR(r.diff, 0.08, 1e-15);
    CHECK_NEAR(r.diff_lo, 0.01709591487269363, 1e-12);
    CHECK_NEAR(r.diff_hi, 0.14114662136239994, 1e-12);
    CHECK(r.p_value == 0.021484375);

    char buf[128];
    eval_format_verdict(&r, EVAL_ALPHA, "base", "ft:smol", buf, sizeof buf);
    CHECK(strcmp(buf, "ft:smol is better (p = 0.021)") == 0);
    eval_format_verdict(&r, 0.01, "base", "ft:smol", buf, sizeof buf);
    CHECK(strcmp(buf, "no significant difference (p = 0.021)") == 0);
    REQUIRE(eval_paired_compare(b, a, 100, &r, NULL) == 0); /* swapped: A is better */
    CHECK_NEAR(r.diff, -0.08, 1e-15);
    CHECK_NEAR(r.diff_lo, -0.14114662136239994, 1e-12);
    CHECK_NEAR(r.diff_hi, -0.01709591487269363, 1e-12);
    eval_format_verdict(&r, EVAL_ALPHA, "ft:smol", "base", buf, sizeof buf);
    CHECK(strcmp(buf, "ft:smol is better (p = 0.021)") == 0);
    REQUIRE(eval_paired_from_counts(0, 0, 20, 0, &r, NULL) == 0);
    eval_format_verdict(&r, EVAL_ALPHA, "A", "B", buf, sizeof buf);
    CHECK(strcmp(buf, "B is better (p < 0.0001)") == 0);
    REQUIRE(eval_paired_from_counts(40, 5, 6, 49, &r, NULL) == 0);
    eval_format_verdict(&r, EVAL_ALPHA, "A", "B", buf, sizeof buf);
    CHECK(strcmp(buf, "no significant difference (p = 1)") == 0);
    char tiny[8];
    eval_format_verdict(&r, EVAL_ALPHA, "A", "B", tiny, sizeof tiny);
    CHECK(strcmp(tiny, "no sign") == 0); /* truncated, terminated */
}

TEST(test_eval_paired_edge_cases) {
    EvalPaired r;
    Err err = {0};
    REQUIRE(eval_paired_compare(NULL, NULL, 0, &r, &err) == 0);
    CHECK(!r.defined);
    CHECK(isnan(r.acc_a) && isnan(r.diff) && isnan(r.diff_lo) && isnan(r.diff_hi));
    CHECK(r.p_value == 1.0);
    char buf[64];
    eval_format_verdict(&r, EVAL_ALPHA, "A", "B", buf, sizeof buf);
    CHECK(strcmp(buf, "no significant difference (p = 1)") == 0);
    CHECK(eval_paired_compare(NULL, NULL, 3, &r, &err) == -1);
    CHECK_EQ_INT(err.code, ERR_ARG);
    CHECK(eval_paired_from_counts(1, -1, 0, 0, &r, &err) == -1);
    /* huge counts: no overflow in the phi product, interval inside [-1, 1] */
    REQUIRE(eval_paired_from_counts(3000000000L, 40000, 42000, 1000000000L, &r, NULL) == 0);
    CHECK(r.diff_lo < r.diff && r.diff < r.diff_hi);
    CHECK(r.diff_lo > -1 && r.diff_hi < 1);
}

/* ---- latency ------------------------------------------------------------------------------- */

static void check_latency(const double *v, long n, double p50, double p95, double mean) {
    EvalLatency s;
    Err err = {0};
    if (eval_latency_summarise(v, n, &s, &err) != 0) {
        test_fail(__FILE__, __LINE__, "latency: %s", err.msg);
        return;
    }
    if (!(s.defined && fabs(s.p50 - p50) <= 1e-12 && fabs(s.p95 - p95) <= 1e-12 && fabs(s.mean - mean) <= 1e-12))
        test_fail(__FILE__, __LINE__, "latency n=%ld: p50 %.17g p95 %.17g mean %.17g, want %.17g %.17g %.17g", n, s.p50,
                  s.p95, s.mean, p50, p95, mean);
}

TEST(test_eval_latency_percentiles) {
    /* n = 1: every percentile is the value */
    const double one[] = {5.0};
    check_latency(one, 1, 5.0, 5.0, 5.0);
    /* 1 2 3 4: p50 at h = 3 * 0.5 = 1.5 -> 2.5; p95 at h = 2.85 -> 3 + 0.85 = 3.85 */
    const double four[] = {4.0, 2.0, 1.0, 3.0};
    check_latency(four, 4, 2.5, 3.85, 2.5);
    /* ties, sorted 1 2 2 2 3 10: p50 at h = 2.5 -> 2; p95 at h = 4.75 -> 3 + 0.75 * 7 = 8.25 */
    const double ties[] = {3.0, 1.0, 2.0, 2.0, 2.0, 10.0};
    check_latency(ties, 6, 2.0, 8.25, 10.0 / 3);
    const double same[] = {7.0, 7.0, 7.0};
    check_latency(same, 3, 7.0, 7.0, 7.0);
    /* numpy: p50=0.44 p95=1.4839999999999995 mean=0.6114285714285714 */
    const double seven[] = {0.12, 0.5, 0.33, 1.7, 0.21, 0.98, 0.44};
    check_latency(seven, 7, 0.44, 1.4839999999999995, 0.6114285714285714);
    /* numpy on [(i*i % 37)/10 for i in 1..41]: p50=1.6 p95=3.4 mean=1.697560975609756 */
    double many[41];
    for (int i = 1; i <= 41; i++) many[i - 1] = (double)(i * i % 37) / 10;
    check_latency(many, 41, 1.6, 3.4, 1.697560975609756);

    EvalLatency s;
    REQUIRE(eval_latency_summarise(seven, 7, &s, NULL) == 0);
    CHECK(s.min == 0.12 && s.max == 1.7);
    CHECK(seven[0] == 0.12 && seven[3] == 1.7); /* the input is not sorted in place */
    const double sorted[] = {1, 2, 3, 4};
    CHECK(eval_percentile_sorted(sorted, 4, 0) == 1);
    CHECK(eval_percentile_sorted(sorted, 4, 100) == 4);
    CHECK(isnan(eval_percentile_sorted(sorted, 4, 101)));
}

TEST(test_eval_latency_edge_cases) {
    EvalLatency s;
    Err err = {0};
    REQUIRE(eval_latency_summarise(NULL, 0, &s, &err) == 0);
    CHECK(!s.defined);
    CHECK(isnan(s.mean) && isnan(s.p50) && isnan(s.p95) && isnan(s.min) && isnan(s.max));
    CHECK(isnan(eval_percentile_sorted(NULL, 0, 50)));
    const double bad[] = {1.0, NAN};
    CHECK(eval_latency_summarise(bad, 2, &s, &err) == -1);
    CHECK_EQ_INT(err.code, ERR_ARG);
    CHECK(eval_latency_summarise(NULL, 2, &s, &err) == -1);
}
