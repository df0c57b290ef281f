/* test_lora_group.c: training's merged LoRA products for a group of projections that read one
 * input (lora_apply_a and _b, lora_grad_b, lora_grad_a_group: q, k, v and gate, up) against the
 * per-projection products they replace and against double-precision sums.
 *
 * Tolerance: every result is a chain of fp32 dot products (u = x A^T over K terms, then y += s u B^T
 * over r; du = s dy B over N, then dA = du^T x over n and dx += du A over g r; dB = s u^T dy over
 * n), and a chain of m sequential roundings errs by at most about m 2^-24 times the sum of the
 * terms' magnitudes (the standard gamma_m bound; oneDNN's blocked sums only shorten the chains).
 * Each element is checked against (m + 2) 2^-24 times its own sum of |terms|, computed in double,
 * m the chain's total length; merged and per-projection results, each within that of the exact
 * value, are within twice of each other. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/lora.h"
#include "tensor/matmul.h"
#include "test.h"
#include "train/lora_grad.h"

enum { G = 3, R = 8, N_ROWS = 53, K_IN = 72 };
static const int OUT[G] = {72, 24, 24}; /* q, k, v of a small grouped-query model; not whole vectors of 16 */
#define EPS (1.0 / (1 << 24))

typedef struct {
    Lora l;
    LoraPair pairs[G];
    const LoraPair *p[G];
    float params[G * R * (K_IN + 72)], grads[G * R * (K_IN + 72)];
} Fixture;

static void fill(Rng *r, float *v, size_t n, float amp) {
    for (size_t i = 0; i < n; i++) v[i] = (rng_uniform(r) * 2 - 1) * amp;
}

static void fixture(Fixture *f, Rng *r) {
    memset(f, 0, sizeof *f);
    float *p = f->params;
    for (int i = 0; i < G; i++) {
        f->pairs[i] = (LoraPair){.A = p, .B = p + R * K_IN, .in = K_IN, .out = OUT[i], .rank = R};
        p += R * (K_IN + OUT[i]);
        f->p[i] = &f->pairs[i];
    }
    fill(r, f->params, (size_t)(p - f->params), 0.5f);
    fill(r, f->grads, (size_t)(p - f->params), 0.1f); /* gradients accumulate onto what is there */
    f->l = (Lora){.params = f->params, .grads = f->grads, .pairs = f->pairs, .scale = 2.0f, .n_layer = 1};
}

/* scale * sum_i a[i sa] b[i sb] over len terms in double into *sum, the sum of the terms' |.| into *mag. */
static void dot_exact(const float *a, int sa, const float *b, int sb, int len, double scale, double *sum, double *mag) {
    *sum = *mag = 0;
    for (int i = 0; i < len; i++) {
        double v = scale * a[(size_t)i * sa] * b[(size_t)i * sb];
        *sum += v, *mag += fabs(v);
    }
}

static double worst_ratio; /* the largest |got - want| / bound seen by check() */

static void check(const float *got, const double *want, const double *bound, size_t n, double factor, const char *what) {
    for (size_t i = 0; i < n; i++) {
        double err = fabs(got[i] - want[i]), b = factor * bound[i];
        if (b > 0 && err / b > worst_ratio) worst_ratio = err / b;
        if (!(err <= b)) {
            printf("    %s[%zu]: %.9g vs %.9g, bound %.3g\n", what, i, got[i], want[i], b);
            CHECK(err <= b);
            return;
        }
    }
}

/* u_want (n, G R) = x A_i^T side by side in double, u_mag the sums of |terms|. */
static void u_exact(const Fixture *f, const float *x, double *u_want, double *u_mag) {
    for (int t = 0; t < N_ROWS; t++)
        for (int c = 0; c < G * R; c++) {
            dot_exact(x + t * K_IN, 1, f->p[c / R]->A + (size_t)(c % R) * K_IN, 1, K_IN, 1.0, &u_want[t * G * R + c],
                      &u_mag[t * G * R + c]);
        }
}

TEST(lora_group_forward_equals_per_projection) {
    Rng r;
    rng_seed(&r, 5);
    Fixture f;
    fixture(&f, &r);
    static float x[N_ROWS * K_IN], y0[G][N_ROWS * 72], y_merged[G][N_ROWS * 72], y_alone[G][N_ROWS * 72];
    static float u_merged[N_ROWS * G * R], u_alone[N_ROWS * G * R], a_buf[G * R * K_IN];
    static double want[N_ROWS * 72], bound[N_ROWS * 72], u_want[N_ROWS * G * R], u_mag[N_ROWS * G * R],
        u_bound[N_ROWS * G * R];
    fill(&r, x, sizeof x / sizeof x[0], 1.0f);
    for (int i = 0; i < G; i++) {
        fill(&r, y0[i], (size_t)N_ROWS * OUT[i], 1.0f);
        memcpy(y_merged[i], y0[i], sizeof y0[i]);
        memcpy(y_alone[i], y0[i], sizeof y0[i]);
    }
    float s = f.l.scale, *ym[G] = {y_merged[0], y_merged[1], y_merged[2]};
    worst_ratio = 0;
    lora_apply_a(u_merged, x, f.p, G, a_buf, N_ROWS);
    for (int i = 0; i < G; i++) lora_apply_b(ym[i], u_merged + i * R, G * R, f.p[i], s, N_ROWS);
    for (int i = 0; i < G; i++) lora_apply(y_alone[i], x, f.p[i], s, u_alone + i * R, G * R, N_ROWS);
    u_exact(&f, x, u_want, u_mag);
    for (int k = 0; k < N_ROWS * G * R; k++) u_bound[k] = (K_IN + 2) * EPS * u_mag[k];
    check(u_merged, u_want, u_bound, (size_t)N_ROWS * G * R, 1, "u merged");
    check(u_alone, u_want, u_bound, (size_t)N_ROWS * G * R, 1, "u alone");
    for (int i = 0; i < G; i++) {
        int N = OUT[i];
        /* y = y0 + s u B^T: R + 1 terms, u itself K_IN terms */
        for (int t = 0; t < N_ROWS; t++)
            for (int j = 0; j < N; j++) {
                double sum = y0[i][t * N + j], mag = fabs(sum);
                for (int c = 0; c < R; c++) {
                    int e = t * G * R + i * R + c;
                    double b = (double)s * f.p[i]->B[j * R + c];
                    sum += b * u_want[e], mag += fabs(b) * u_mag[e];
                }
                want[t * N + j] = sum, bound[t * N + j] = (K_IN + R + 4) * EPS * mag;
            }
        check(y_merged[i], want, bound, (size_t)N_ROWS * N, 1, "y merged");
        check(y_alone[i], want, bound, (size_t)N_ROWS * N, 1, "y alone");
        double worst = 0;
        for (int k = 0; k < N_ROWS * N; k++) worst = fmax(worst, fabs(y_merged[i][k] - y_alone[i][k]) / (2 * bound[k]));
        CHECK(worst <= 1);
    }
    printf("    worst error %.3f of its bound\n", worst_ratio);
}

/* The merged backward (lora_grad_b per projection into du side by side, then lora_grad_a_group)
 * against the per-projection products of the dropout path and the exact gradients, both adding to
 * the same non-zero gradients. */
TEST(lora_group_gradients_equal_per_projection) {
    Rng r;
    rng_seed(&r, 6);
    static Fixture f, f_alone;
    fixture(&f, &r);
    f_alone = f;
    for (int i = 0; i < G; i++) { /* the same factors and gradients in its own buffers */
        f_alone.pairs[i].A = f_alone.params + (f.pairs[i].A - f.params);
        f_alone.pairs[i].B = f_alone.params + (f.pairs[i].B - f.params);
        f_alone.p[i] = &f_alone.pairs[i];
    }
    f_alone.l.params = f_alone.params, f_alone.l.grads = f_alone.grads, f_alone.l.pairs = f_alone.pairs;
    static float x[N_ROWS * K_IN], dy[G][N_ROWS * 72], u[N_ROWS * G * R], dx0[N_ROWS * K_IN], dx[N_ROWS * K_IN],
        dx_alone[N_ROWS * K_IN], du[N_ROWS * G * R], du_alone[N_ROWS * G * R], dbt[R * 72], a_buf[G * R * K_IN],
        da_buf[G * R * K_IN], g0[sizeof f.grads / sizeof f.grads[0]];
    static double du_w[N_ROWS * G * R], du_mag[N_ROWS * G * R], du_b[N_ROWS * G * R];
    static double want[N_ROWS * K_IN], bound[N_ROWS * K_IN];
    memcpy(g0, f.grads, sizeof g0);
    fill(&r, x, sizeof x / sizeof x[0], 1.0f);
    fill(&r, u, sizeof u / sizeof u[0], 1.0f);
    fill(&r, dx0, sizeof dx0 / sizeof dx0[0], 1.0f);
    for (int i = 0; i < G; i++) fill(&r, dy[i], (size_t)N_ROWS * OUT[i], 1.0f);
    memcpy(dx, dx0, sizeof dx);
    memcpy(dx_alone, dx0, sizeof dx);
    float s = f.l.scale;
    worst_ratio = 0;
    for (int i = 0; i < G; i++) lora_grad_b(&f.l, f.p[i], s, dy[i], u + i * R, G * R, du + i * R, G * R, dbt, N_ROWS);
    lora_grad_a_group(&f.l, f.p, G, du, x, dx, a_buf, da_buf, N_ROWS);
    for (int i = 0; i < G; i++) {
        lora_grad_b(&f_alone.l, f_alone.p[i], s, dy[i], u + i * R, G * R, du_alone + i * R, G * R, dbt, N_ROWS);
        op_gemm_ld(true, false, R, K_IN, N_ROWS, 1.0f, du_alone + i * R, G * R, x, K_IN, 1.0f,
                   lora_grad(&f_alone.l, f_alone.p[i]->A), K_IN);
        op_gemm_ld(false, false, N_ROWS, K_IN, R, 1.0f, du_alone + i * R, G * R, f_alone.p[i]->A, K_IN, 1.0f, dx_alone,
                   K_IN);
    }
    /* du = s dy B: OUT[i] terms */
    for (int t = 0; t < N_ROWS; t++)
        for (int c = 0; c < G * R; c++) {
            int i = c / R, N = OUT[i], e = t * G * R + c;
            dot_exact(dy[i] + t * N, 1, f.p[i]->B + c % R, R, N, s, &du_w[e], &du_mag[e]);
            du_b[e] = (N + 2) * EPS * du_mag[e];
        }
    check(du, du_w, du_b, (size_t)N_ROWS * G * R, 1, "du merged");
    check(du_alone, du_w, du_b, (size_t)N_ROWS * G * R, 1, "du alone");
    for (int i = 0; i < G; i++) {
        int N = OUT[i];
        /* dB (N, R) = g0 + s u^T dy: N_ROWS terms and the addition */
        static double wB[72 * R], bB[72 * R];
        static float gB[72 * R], gB_alone[72 * R];
        size_t offB = (size_t)(f.p[i]->B - f.params);
        for (int j = 0; j < N; j++)
            for (int c = 0; c < R; c++) {
                double sum, mag;
                dot_exact(u + i * R + c, G * R, dy[i] + j, N, N_ROWS, s, &sum, &mag);
                int e = j * R + c;
                wB[e] = g0[offB + e] + sum, bB[e] = (N_ROWS + 3) * EPS * (mag + fabs((double)g0[offB + e]));
                gB[e] = f.grads[offB + e], gB_alone[e] = f_alone.grads[offB + e];
            }
        check(gB, wB, bB, (size_t)N * R, 1, "dB merged");
        check(gB_alone, wB, bB, (size_t)N * R, 1, "dB alone");
        /* dA (R, K) = g0 + du^T x: N_ROWS terms of du, itself N terms */
        static double wA[R * K_IN], bA[R * K_IN];
        static float gA[R * K_IN], gA_alone[R * K_IN];
        size_t offA = (size_t)(f.p[i]->A - f.params);
        for (int c = 0; c < R; c++)
            for (int k = 0; k < K_IN; k++) {
                double sum = 0, mag = 0;
                for (int t = 0; t < N_ROWS; t++) {
                    int e = t * G * R + i * R + c;
                    sum += du_w[e] * x[t * K_IN + k], mag += du_mag[e] * fabs((double)x[t * K_IN + k]);
                }
                int e = c * K_IN + k;
                wA[e] = g0[offA + e] + sum, bA[e] = (N_ROWS + N + 4) * EPS * (mag + fabs((double)g0[offA + e]));
                gA[e] = f.grads[offA + e], gA_alone[e] = f_alone.grads[offA + e];
            }
        check(gA, wA, bA, (size_t)R * K_IN, 1, "dA merged");
        check(gA_alone, wA, bA, (size_t)R * K_IN, 1, "dA alone");
    }
    /* dx = dx0 + sum_i du_i A_i: G R + 1 terms of du, itself up to 72 terms */
    for (int t = 0; t < N_ROWS; t++)
        for (int k = 0; k < K_IN; k++) {
            double sum = dx0[t * K_IN + k], mag = fabs(sum);
            for (int c = 0; c < G * R; c++) {
                double a = f.p[c / R]->A[(size_t)(c % R) * K_IN + k];
                sum += du_w[t * G * R + c] * a, mag += du_mag[t * G * R + c] * fabs(a);
            }
            want[t * K_IN + k] = sum, bound[t * K_IN + k] = (G * R + 72 + 4) * EPS * mag;
        }
    check(dx, want, bound, (size_t)N_ROWS * K_IN, 1, "dx merged");
    check(dx_alone, want, bound, (size_t)N_ROWS * K_IN, 1, "dx alone");
    double worst = 0;
    for (int k = 0; k < N_ROWS * K_IN; k++) worst = fmax(worst, fabs(dx[k] - dx_alone[k]) / (2 * bound[k]));
    CHECK(worst <= 1);
    printf("    worst error %.3f of its bound\n", worst_ratio);
}

/* lora_grad_b at other ranks (16, 4, 12) on wider rows (600), against the exact du and dB. */
TEST(lora_grad_b_any_rank_matches_exact) {
    enum { N = 600, RMAX = 16, ROWS = 9 };
    static const int ranks[] = {16, 4, 12};
    Rng r;
    rng_seed(&r, 7);
    static float B[N * RMAX], dB[N * RMAX], dy[ROWS * N], u[ROWS * RMAX], du[ROWS * RMAX], scratch[RMAX * N];
    static double w[N * RMAX], b[N * RMAX];
    for (size_t k = 0; k < sizeof ranks / sizeof ranks[0]; k++) {
        int rk = ranks[k];
        fill(&r, B, N * RMAX, 0.5f), fill(&r, dy, ROWS * N, 1.0f), fill(&r, u, ROWS * RMAX, 1.0f);
        memset(dB, 0, sizeof dB);
        LoraPair p = {.A = NULL, .B = B, .in = 1, .out = N, .rank = rk};
        Lora l = {.params = B, .grads = dB, .scale = 0.5f}; /* lora_grad maps B to dB */
        worst_ratio = 0;
        lora_grad_b(&l, &p, 0.5f, dy, u, RMAX, du, RMAX, scratch, ROWS);
        double sum, mag;
        for (int t = 0; t < ROWS; t++)
            for (int j = 0; j < rk; j++) {
                dot_exact(dy + t * N, 1, B + j, rk, N, 0.5, &sum, &mag);
                w[t * rk + j] = sum, b[t * rk + j] = (N + 2) * EPS * mag;
            }
        float du_packed[ROWS * RMAX];
        for (int t = 0; t < ROWS; t++)
            for (int j = 0; j < rk; j++) du_packed[t * rk + j] = du[t * RMAX + j];
        check(du_packed, w, b, (size_t)ROWS * rk, 1, "du");
        for (int c = 0; c < N; c++)
            for (int j = 0; j < rk; j++) {
                dot_exact(u + j, RMAX, dy + c, N, ROWS, 0.5, &sum, &mag);
                w[c * rk + j] = sum, b[c * rk + j] = (ROWS + 3) * EPS * mag;
            }
        check(dB, w, b, (size_t)N * rk, 1, "dB");
        printf("    rank %d: worst error %.3f of its bound\n", rk, worst_ratio);
    }
}
