/* test_attention_train.c: every path of training attention this CPU runs (attention_train.h:
 * portable, AVX2, AVX-512) against a naive reference in double, forward (out, probs) and backward
 * (dq, dk, dv), over shapes that reach every branch of the kernels: T below the kernels' 6 rows,
 * T = 6, T not a multiple of the row tile or the column block, GQA groups of 1, 2, 3 and 8, head
 * sizes with and without a chunk tail (16, 24, 64, 80); and the kernels at 1 and at 4 threads
 * (outside a parallel region they split a sequence's rows and keys among the threads). Each buffer
 * has a guard zone after it that must come back untouched (the kernels' tails store only what
 * they own).
 *
 * Tolerance, per element: a sum of n fp32 products has an error of at most about n u sum|terms|
 * (u = 2^-24). Every output here is a chain of such sums: the score s (length hd), the softmax
 * (length T: its max, sum and 1/sum) and the product with V or K or q (length T, or T times the
 * group for dk, dv), so the bound is c u (hd + G T) A, with A the element's reference computed on
 * absolute values (|p| |v| for out, p (|dP| + |rowsum(p dP)|) for dS, ...) and a factor (1 + M)
 * for the score's absolute error turned into p's relative error by exp (M = the largest
 * sum_d |scale q_d k_d|). c = 4 covers the few chained roundings (fast exp: 4 ulp); the worst
 * error found is printed as a fraction of the bound. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "core/rng.h"
#include "tensor/attention_train.h"
#include "test.h"

#define GUARD 64
#define GUARD_VALUE 1234.5f
#define U 5.9604644775390625e-8 /* 2^-24 */

static float *guarded(size_t n) {
    float *x = malloc((n + GUARD) * sizeof(float));
    for (size_t i = 0; i < n + GUARD; i++) x[i] = GUARD_VALUE;
    return x;
}

static int guard_intact(const float *x, size_t n) {
    for (size_t i = n; i < n + GUARD; i++)
        if (x[i] != GUARD_VALUE) return 0;
    return 1;
}

typedef struct {
    double *out, *out_a, *probs, *dq, *dq_a, *dk, *dk_a, *dv, *dv_a, M;
} Ref;

/* The reference in double, with each output's absolute-value twin (the A of the header). */
static Ref reference(const float *q, const float *k, const float *v, const float *dout, int T, int nh, int nkv,
                     int hd) {
    int G = nh / nkv, qs = nh * hd, kvs = nkv * hd;
    double scale = 1.0 / sqrt((double)hd);
    Ref r = {calloc((size_t)T * qs, 8), calloc((size_t)T * qs, 8), calloc((size_t)nh * T * T, 8),
             calloc((size_t)T * qs, 8), calloc((size_t)T * qs, 8), calloc((size_t)T * kvs, 8),
             calloc((size_t)T * kvs, 8), calloc((size_t)T * kvs, 8), calloc((size_t)T * kvs, 8), 0};
    double *dp = malloc((size_t)T * 8), *dp_a = malloc((size_t)T * 8), *ds = malloc((size_t)T * 8),
           *ds_a = malloc((size_t)T * 8);
    for (int h = 0; h < nh; h++) {
        int kh = h / G;
        for (int t = 0; t < T; t++) {
            const float *qt = q + (size_t)t * qs + h * hd, *dot = dout + (size_t)t * qs + h * hd;
            double *p = r.probs + ((size_t)h * T + t) * T, mx = -INFINITY, sum = 0, rowdot = 0, rowdot_a = 0;
            for (int j = 0; j <= t; j++) {
                const float *kj = k + (size_t)j * kvs + kh * hd;
                double s = 0, sa = 0;
                for (int d = 0; d < hd; d++) s += (double)qt[d] * kj[d], sa += fabs((double)qt[d] * kj[d]);
                p[j] = s * scale;
                if (sa * scale > r.M) r.M = sa * scale;
                if (p[j] > mx) mx = p[j];
            }
            for (int j = 0; j <= t; j++) sum += p[j] = exp(p[j] - mx);
            for (int j = 0; j <= t; j++) p[j] /= sum;
            for (int j = 0; j <= t; j++) {
                const float *vj = v + (size_t)j * kvs + kh * hd;
                dp[j] = dp_a[j] = 0;
                for (int d = 0; d < hd; d++) {
                    size_t o = (size_t)t * qs + h * hd + d;
                    r.out[o] += p[j] * vj[d], r.out_a[o] += p[j] * fabs(vj[d]);
                    dp[j] += (double)dot[d] * vj[d], dp_a[j] += fabs((double)dot[d] * vj[d]);
                    r.dv[(size_t)j * kvs + kh * hd + d] += p[j] * dot[d];
                    r.dv_a[(size_t)j * kvs + kh * hd + d] += p[j] * fabs(dot[d]);
                }
                rowdot += p[j] * dp[j], rowdot_a += p[j] * dp_a[j];
            }
            for (int j = 0; j <= t; j++) {
                ds[j] = p[j] * (dp[j] - rowdot) * scale, ds_a[j] = p[j] * (dp_a[j] + rowdot_a) * scale;
                const float *kj = k + (size_t)j * kvs + kh * hd;
                for (int d = 0; d < hd; d++) {
                    size_t o = (size_t)t * qs + h * hd + d, oj = (size_t)j * kvs + kh * hd + d;
                    r.dq[o] += ds[j] * kj[d], r.dq_a[o] += ds_a[j] * fabs(kj[d]);
                    r.dk[oj] += ds[j] * qt[d], r.dk_a[oj] += ds_a[j] * fabs(qt[d]);
                }
            }
        }
    }
    free(dp), free(dp_a), free(ds), free(ds_a);
    return r;
}

static void ref_free(Ref *r) {
    free(r->out), free(r->out_a), free(r->probs), free(r->dq), free(r->dq_a), free(r->dk), free(r->dk_a);
    free(r->dv), free(r->dv_a);
}

/* The worst |got - want| / (bound: c u n (1 + M) a) over n elements, or a large number for a NaN. */
static double worst(const float *got, const double *want, const double *a, size_t n, double len, double M) {
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double bound = 4 * U * len * (1 + M) * a[i] + 1e-30;
        double e = fabs(got[i] - want[i]) / bound;
        if (!(e <= w)) w = isnan(e) ? 1e30 : e;
    }
    return w;
}

static void check_shape(AttentionPath path, int T, int nh, int nkv, int hd, int threads, unsigned seed) {
    Rng rng;
    rng_seed(&rng, seed);
    int G = nh / nkv;
    size_t qn = (size_t)T * nh * hd, kn = (size_t)T * nkv * hd, pn = (size_t)nh * T * T,
           sn = attention_train_scratch(T, nh, nkv);
    float *q = malloc(qn * 4), *k = malloc(kn * 4), *v = malloc(kn * 4), *dout = malloc(qn * 4);
    for (size_t i = 0; i < qn; i++) q[i] = rng_uniform(&rng) * 2 - 1, dout[i] = rng_uniform(&rng) * 2 - 1;
    for (size_t i = 0; i < kn; i++) k[i] = rng_uniform(&rng) * 2 - 1, v[i] = rng_uniform(&rng) * 2 - 1;
    float *out = guarded(qn), *probs = guarded(pn), *dq = guarded(qn), *dk = guarded(kn), *dv = guarded(kn),
          *scratch = guarded(sn);
    /* dk and dv are overwritten: start them at garbage */
    for (size_t i = 0; i < kn; i++) dk[i] = dv[i] = 7.0f;
    int keep = omp_get_max_threads();
    omp_set_num_threads(threads);
    attention_train_forward(path, out, probs, q, k, v, T, nh, nkv, hd);
    attention_train_backward(path, dq, dk, dv, dout, probs, q, k, v, T, nh, nkv, hd, scratch);
    omp_set_num_threads(keep);
    Ref r = reference(q, k, v, dout, T, nh, nkv, hd);
    double w_out = worst(out, r.out, r.out_a, qn, hd + T, r.M), w_p = worst(probs, r.probs, r.probs, pn, hd + T, r.M),
           w_dq = worst(dq, r.dq, r.dq_a, qn, hd + T, r.M), w_dk = worst(dk, r.dk, r.dk_a, kn, hd + (double)G * T, r.M),
           w_dv = worst(dv, r.dv, r.dv_a, kn, hd + (double)G * T, r.M);
    int zeros = 1;
    for (int h = 0; h < nh; h++)
        for (int t = 0; t < T; t++)
            for (int j = t + 1; j < T; j++) zeros &= probs[((size_t)h * T + t) * T + j] == 0.0f;
    int guards = guard_intact(out, qn) && guard_intact(probs, pn) && guard_intact(dq, qn) && guard_intact(dk, kn) &&
                 guard_intact(dv, kn) && guard_intact(scratch, sn);
    double w = fmax(fmax(fmax(w_out, w_p), fmax(w_dq, w_dk)), w_dv);
    printf("    %-8s %d thr T %3d heads %d/%d hd %2d: worst error %.3f of the bound (out %.3f probs %.3f dq %.3f "
           "dk %.3f dv %.3f)\n", attention_train_path_name(path), threads, T, nh, nkv, hd, w, w_out, w_p, w_dq, w_dk,
           w_dv);
    if (!(w <= 1) || !zeros || !guards)
        test_fail(__FILE__, __LINE__, "%s T %d heads %d/%d hd %d: worst %.3g of the bound, zeros past t %d, guards %d",
                  attention_train_path_name(path), T, nh, nkv, hd, w, zeros, guards);
    ref_free(&r);
    free(q), free(k), free(v), free(dout), free(out), free(probs), free(dq), free(dk), free(dv);
    free(scratch);
}

TEST(attention_train_every_path_matches_the_double_reference) {
    static const int shapes[][4] = {
        {1, 2, 1, 16},  {5, 4, 2, 16},  {6, 3, 1, 16},  {7, 2, 2, 24},   {37, 6, 2, 80},  {33, 4, 4, 32},
        {70, 8, 1, 24}, {45, 6, 3, 64}, {128, 9, 3, 64}, {100, 4, 2, 16}, {131, 2, 1, 32},
    };
    int ran[3] = {0};
    for (int p = ATTENTION_PORTABLE; p <= ATTENTION_AVX512; p++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int *x = shapes[s];
            if (!attention_train_path_ok((AttentionPath)p, x[0], x[3])) continue;
            check_shape((AttentionPath)p, x[0], x[1], x[2], x[3], 1, 100 + (unsigned)s);
            if (p != ATTENTION_PORTABLE && x[0] >= 64)
                check_shape((AttentionPath)p, x[0], x[1], x[2], x[3], 4, 200 + (unsigned)s);
            ran[p]++;
        }
    CHECK(ran[ATTENTION_PORTABLE] == (int)(sizeof shapes / sizeof shapes[0]));
    for (int p = ATTENTION_AVX2; p <= ATTENTION_AVX512; p++)
        if (!ran[p]) printf("    %s: skipped (this CPU lacks it)\n", attention_train_path_name((AttentionPath)p));
    /* the kernels' limits: short sequences and odd head sizes take the portable path */
    CHECK(attention_train_path(5, 64) == ATTENTION_PORTABLE);
    CHECK(attention_train_path(128, 12) == ATTENTION_PORTABLE);
    CHECK(attention_train_path(128, 512) == ATTENTION_PORTABLE);
}
