/* test_ops_backward.c: every backward kernel against central finite differences of its forward,
 * on L = sum(dy * f(x)) with a random dy. */
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "tensor/ops.h"
#include "tensor/ops_backward.h"
#include "test.h"

#define FD_EPS 1e-2f

static void fill(Rng *r, float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = (rng_uniform(r) * 2 - 1) * scale;
}

static double dotp(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Checks analytic gradient g against finite differences of loss() for every element of x. */
typedef double (*LossFn)(void *ctx);
static void check_grad(const char *what, float *x, size_t n, const float *g, LossFn loss, void *ctx) {
    double max_err = 0, max_g = 1e-3;
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + FD_EPS;
        double lp = loss(ctx);
        x[i] = keep - FD_EPS;
        double lm = loss(ctx);
        x[i] = keep;
        double num = (lp - lm) / (2 * FD_EPS);
        max_err = fmax(max_err, fabs(num - g[i]));
        max_g = fmax(max_g, fabs(g[i]));
    }
    if (max_err > 2e-3 * max_g + 1e-4)
        test_fail(__FILE__, __LINE__, "%s: max |analytic - numeric| %g (max |grad| %g)", what, max_err, max_g);
}

typedef struct {
    float *x, *w, *y, *dy, *rstd;
    int T, C;
} NormCtx;

static double norm_loss(void *p) {
    NormCtx *c = p;
    op_rmsnorm_save(c->y, c->rstd, c->x, c->w, c->T, c->C, 1e-5f);
    return dotp(c->y, c->dy, (size_t)c->T * c->C);
}

TEST(backward_rmsnorm_matches_finite_differences) {
    Rng r;
    rng_seed(&r, 11);
    enum { T = 3, C = 16 };
    float x[T * C], w[C], y[T * C], dy[T * C], rstd[T], dx[T * C] = {0};
    fill(&r, x, T * C, 1), fill(&r, w, C, 1), fill(&r, dy, T * C, 1);
    NormCtx c = {x, w, y, dy, rstd, T, C};
    norm_loss(&c);
    float y2[T * C];
    op_rmsnorm(y2, x, w, T, C, 1e-5f);
    CHECK(memcmp(y, y2, sizeof y) == 0); /* the saving variant computes the same */
    op_rmsnorm_backward(dx, dy, x, w, rstd, T, C);
    check_grad("rmsnorm dx", x, T * C, dx, norm_loss, &c);
}

typedef struct {
    float *x, *y, *dy, *inv_freq;
    int *pos, T, H, hd;
} RopeCtx;

static double rope_loss(void *p) {
    RopeCtx *c = p;
    size_t n = (size_t)c->T * c->H * c->hd;
    memcpy(c->y, c->x, n * sizeof(float));
    op_rope(c->y, c->pos, c->inv_freq, c->T, c->H, c->hd);
    return dotp(c->y, c->dy, n);
}

TEST(backward_rope_matches_finite_differences) {
    Rng r;
    rng_seed(&r, 12);
    enum { T = 4, H = 2, HD = 8, N = T * H * HD };
    float x[N], y[N], dy[N], dx[N], inv_freq[HD / 2], cs[T * HD];
    int pos[T] = {0, 3, 17, 100};
    fill(&r, x, N, 1), fill(&r, dy, N, 1);
    rope_inv_freq(inv_freq, HD, 10000.0f, NULL);
    RopeCtx c = {x, y, dy, inv_freq, pos, T, H, HD};
    memcpy(dx, dy, sizeof dx);
    rope_table(cs, pos, inv_freq, T, HD); /* training's backward, from the forward's table */
    op_rope_table_backward(dx, cs, T, H, HD);
    check_grad("rope dx", x, N, dx, rope_loss, &c);
}

typedef struct {
    float *g, *u, *h, *dh;
    size_t n;
} SwiCtx;

static double swiglu_loss(void *p) {
    SwiCtx *c = p;
    op_swiglu(c->h, c->g, c->u, c->n);
    return dotp(c->h, c->dh, c->n);
}

TEST(backward_swiglu_matches_finite_differences) {
    Rng r;
    rng_seed(&r, 13);
    enum { N = 40 };
    float g[N], u[N], h[N], dh[N], dg[N], du[N];
    fill(&r, g, N, 3), fill(&r, u, N, 2), fill(&r, dh, N, 1);
    SwiCtx c = {g, u, h, dh, N};
    op_swiglu_backward(dg, du, dh, g, u, N);
    check_grad("swiglu dgate", g, N, dg, swiglu_loss, &c);
    check_grad("swiglu dup", u, N, du, swiglu_loss, &c);
}

typedef struct {
    float *q, *k, *v, *out, *probs, *dout;
    int T, nh, nkv, hd;
} AttCtx;

static double att_loss(void *p) {
    AttCtx *c = p;
    op_attention_save(c->out, c->probs, c->q, c->k, c->v, c->T, c->nh, c->nkv, c->hd);
    return dotp(c->out, c->dout, (size_t)c->T * c->nh * c->hd);
}

TEST(backward_attention_matches_finite_differences_and_forward) {
    Rng r;
    rng_seed(&r, 14);
    enum { T = 5, NH = 4, NKV = 2, HD = 4, QN = T * NH * HD, KN = T * NKV * HD };
    float q[QN], k[KN], v[KN], out[QN], probs[NH * T * T], dout[QN], dq[QN], dk[KN], dv[KN], scratch[T * T];
    fill(&r, q, QN, 1), fill(&r, k, KN, 1), fill(&r, v, KN, 1), fill(&r, dout, QN, 1);
    AttCtx c = {q, k, v, out, probs, dout, T, NH, NKV, HD};
    att_loss(&c);
    /* the same as the inference kernel with an empty cache */
    float ref[QN], sc[64 * T];
    op_attention_ref(ref, q, k, v, 0, T, NH, NKV, HD, sc);
    double mx = 0;
    for (int i = 0; i < QN; i++) mx = fmax(mx, fabs(ref[i] - out[i]));
    CHECK(mx < 1e-5);
    op_attention_backward(dq, dk, dv, dout, probs, q, k, v, T, NH, NKV, HD, scratch);
    check_grad("attention dq", q, QN, dq, att_loss, &c);
    check_grad("attention dk", k, KN, dk, att_loss, &c);
    check_grad("attention dv", v, KN, dv, att_loss, &c);
}

typedef struct {
    float *logits, *work;
    int *targets, n, V;
} CeCtx;

static double ce_loss(void *p) {
    CeCtx *c = p;
    memcpy(c->work, c->logits, (size_t)c->n * c->V * sizeof(float));
    return op_cross_entropy(c->work, c->targets, c->n, c->V, 1.0f, NULL);
}

TEST(backward_cross_entropy_matches_finite_differences) {
    Rng r;
    rng_seed(&r, 15);
    enum { NR = 3, V = 7 };
    float logits[NR * V], work[NR * V], grad[NR * V];
    int targets[NR] = {2, 0, 6}, correct;
    fill(&r, logits, NR * V, 3);
    CeCtx c = {logits, work, targets, NR, V};
    memcpy(grad, logits, sizeof grad);
    double loss = op_cross_entropy(grad, targets, NR, V, 1.0f, &correct);
    CHECK(loss > 0);
    CHECK(correct >= 0 && correct <= NR);
    check_grad("cross-entropy dlogits", logits, NR * V, grad, ce_loss, &c);
    /* a confident right answer costs ~0 */
    float sure[V] = {0, 0, 30, 0, 0, 0, 0};
    int t = 2;
    CHECK(op_cross_entropy(sure, &t, 1, V, 1.0f, &correct) < 1e-9 && correct == 1);
}
