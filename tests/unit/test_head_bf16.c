/* test_head_bf16.c: the fused bf16 head and cross-entropy (train/head_bf16.h) against a reference
 * in double on the same bf16-rounded operands, and against the unfused bf16 path (op_matmul,
 * op_cross_entropy_rows, op_matmul_backward). Bounds, with u = 2^-24 (fp32) and b = 2^-8:
 *  - logits: the fused kernel's fp32 sums of exact bf16 products are off by at most
 *    e_z = (K + 2) u max_row sum_k |x_k w_k| (as in test_matmul_bf16.c);
 *  - loss: log-sum-exp moves by at most e_z with the logits, the target's logit by e_z; fast_expf
 *    (4 ulp) and the fp32 block sums add (HEAD_BF16_BLOCK + 8) u relative to the sum of exp, so
 *    |loss - ref| <= 2 e_z + (HEAD_BF16_BLOCK + 8) u;
 *  - dx = sum_v g_v W_v, g_v = g (p_v - [v = target]): each g_v carries p_v's error: exp of a
 *    logit off by e_z over a sum of exp off by e_z and the sums' and fast_expf's relative error (and
 *    the fused kernel's rescalings, one rounding each per block), g p_v (2 e_z + (HEAD_BF16_BLOCK +
 *    16) u); then one rounding to bf16 (b |g_v|: 8 significant bits), which the fused kernel takes
 *    for every token but the target (its term, g (p_t - 1) W_t, is added in fp32) and the unfused
 *    path for the target too; the fp32 accumulation over the vocabulary adds (V + 2) u sum_v
 *    |g_v w_vk|. The fused kernel is held to its own bound, which a bf16 rounding of the target's
 *    term would break where the target is confident (the rows whose target is the argmax).
 * The vocabulary (2,500) spans two full blocks and a partial one; some targets are the argmax so
 * that n_correct counts something. The same with the head packed for oneDNN (head_bf16_pack, as
 * training packs it). Skips where this CPU or build has no bf16 path. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "core/rng.h"
#include "tensor/matmul.h"
#include "tensor/matmul_bf16.h"
#include "tensor/ops_backward.h"
#include "tensor/precision.h"
#include "test.h"
#include "train/head_bf16.h"

enum { N_ROWS = 37, DIM = 64, VOCAB = 2500 };

TEST(head_bf16_matches_double_reference_and_unfused_path) {
    Precision got;
    Err e = {0};
    if (precision_resolve(PRECISION_BF16, &got, NULL, &e)) {
        test_skip(e.msg);
        return;
    }
    const double u = 1.0 / 16777216, b = 1.0 / 256;
    Rng r;
    rng_seed(&r, 21);
    float *x = malloc(N_ROWS * DIM * sizeof(float)), *W = malloc((size_t)VOCAB * DIM * sizeof(float));
    uint16_t *Wb = malloc((size_t)VOCAB * DIM * sizeof(uint16_t));
    double *z = malloc((size_t)VOCAB * sizeof(double));
    for (int i = 0; i < VOCAB * DIM; i++) W[i] = (rng_uniform(&r) * 2 - 1) * 0.5f;
    for (int i = 0; i < N_ROWS * DIM; i++) x[i] = rng_uniform(&r) * 2 - 1;
    bf16_convert(Wb, W, (size_t)VOCAB * DIM);
    QuantMatrix w = {QUANT_F32, (const unsigned char *)W, VOCAB, DIM, Wb, NULL};
    int targets[N_ROWS];
    float row_scale[N_ROWS];
    const float grad_scale = 0.01f;
    double loss_ref[N_ROWS], loss_tol[N_ROWS];
    double *dx_ref = calloc(N_ROWS * DIM, sizeof(double)), *dx_tol = calloc(N_ROWS * DIM, sizeof(double)),
           *dx_tol_unfused = calloc(N_ROWS * DIM, sizeof(double));
    int correct_ref = 0;
    for (int i = 0; i < N_ROWS; i++) {
        /* the logits from the rounded operands, in double, and their error scale */
        double mx = -INFINITY, e_z = 0;
        int best = 0;
        for (int v = 0; v < VOCAB; v++) {
            double s = 0, s_abs = 0;
            for (int k = 0; k < DIM; k++) {
                double p = (double)bf16_to_f32(f32_to_bf16(x[i * DIM + k])) * bf16_to_f32(Wb[(size_t)v * DIM + k]);
                s += p, s_abs += fabs(p);
            }
            z[v] = s;
            e_z = fmax(e_z, (DIM + 2) * u * s_abs);
            if (s > mx) mx = s, best = v;
        }
        targets[i] = i % 3 == 0 ? best : (int)(rng_next(&r) % VOCAB);
        row_scale[i] = 0.5f + rng_uniform(&r);
        correct_ref += best == targets[i];
        double sum = 0;
        for (int v = 0; v < VOCAB; v++) sum += exp(z[v] - mx);
        loss_ref[i] = log(sum) - (z[targets[i]] - mx);
        loss_tol[i] = 2 * e_z + (HEAD_BF16_BLOCK + 8) * u;
        double g = (double)grad_scale * row_scale[i];
        for (int v = 0; v < VOCAB; v++) {
            double p = exp(z[v] - mx) / sum, gv = g * (p - (v == targets[i]));
            double tol_v = g * p * (2 * e_z + (HEAD_BF16_BLOCK + 16) * u) + (VOCAB + 2) * u * fabs(gv);
            double rounding = b * fabs(gv); /* the bf16 rounding of the term */
            for (int k = 0; k < DIM; k++) {
                double wv = bf16_to_f32(Wb[(size_t)v * DIM + k]);
                dx_ref[i * DIM + k] += gv * wv;
                dx_tol[i * DIM + k] += (tol_v + (v == targets[i] ? 0 : rounding)) * fabs(wv);
                dx_tol_unfused[i * DIM + k] += (tol_v + rounding) * fabs(wv);
            }
        }
    }

    HeadBf16 *h = head_bf16_new(N_ROWS, DIM);
    REQUIRE(h);
    float *dx = malloc(N_ROWS * DIM * sizeof(float));
    double row_loss[N_ROWS];
    int correct = -1;
    double total = head_bf16_loss(h, x, N_ROWS, &w, targets, grad_scale, row_scale, row_loss, &correct, dx);
    double total_ref = 0, total_tol = 0, worst_loss = 0, worst_dx = 0;
    for (int i = 0; i < N_ROWS; i++) {
        total_ref += loss_ref[i], total_tol += loss_tol[i];
        worst_loss = fmax(worst_loss, fabs(row_loss[i] - loss_ref[i]) / loss_tol[i]);
    }
    for (int i = 0; i < N_ROWS * DIM; i++) {
        worst_dx = fmax(worst_dx, fabs(dx[i] - dx_ref[i]) / (dx_tol[i] + 1e-30));
    }
    printf("    loss worst %.3f of its bound, dx worst %.3f of its bound\n", worst_loss, worst_dx);
    CHECK_EQ_INT(correct, correct_ref);
    CHECK(correct > 0);
    CHECK(worst_loss <= 1.0);
    CHECK(worst_dx <= 1.0);
    CHECK(fabs(total - total_ref) <= total_tol);

    /* without the backward: the same loss; with dx = x (train_step passes one buffer for both) */
    int correct2 = -1;
    double row_loss2[N_ROWS];
    CHECK(head_bf16_loss(h, x, N_ROWS, &w, targets, grad_scale, row_scale, row_loss2, &correct2, NULL) == total);
    CHECK_EQ_INT(correct2, correct);
    float *x2 = malloc(N_ROWS * DIM * sizeof(float));
    memcpy(x2, x, N_ROWS * DIM * sizeof(float));
    head_bf16_loss(h, x2, N_ROWS, &w, targets, grad_scale, row_scale, NULL, NULL, x2);
    CHECK(memcmp(x2, dx, N_ROWS * DIM * sizeof(float)) == 0);

    /* the unfused bf16 path: same argmax, loss and gradient within the same bounds */
    float *logits = malloc((size_t)N_ROWS * VOCAB * sizeof(float));
    double row_loss3[N_ROWS];
    int correct3 = -1;
    op_matmul(logits, x, &w, NULL, N_ROWS);
    op_cross_entropy_rows(logits, targets, N_ROWS, VOCAB, grad_scale, row_scale, row_loss3, &correct3);
    op_matmul_backward(x2, 0.0f, logits, &w, N_ROWS);
    CHECK_EQ_INT(correct3, correct);
    double worst_unfused = 0;
    for (int i = 0; i < N_ROWS; i++) worst_unfused = fmax(worst_unfused, fabs(row_loss3[i] - row_loss[i]) / (2 * loss_tol[i]));
    for (int i = 0; i < N_ROWS * DIM; i++)
        worst_unfused = fmax(worst_unfused, fabs(x2[i] - dx[i]) / (dx_tol[i] + dx_tol_unfused[i] + 1e-30));
    printf("    fused against unfused: worst %.3f of the sum of their bounds\n", worst_unfused);
    CHECK(worst_unfused <= 1.0);

    /* packed: the same loss, argmax and gradient within the reference's bounds */
    HeadBf16 *hp = head_bf16_new(N_ROWS, DIM);
    REQUIRE(hp);
    head_bf16_pack(hp, &w);
    double row_loss4[N_ROWS], worst_packed = 0;
    int correct4 = -1;
    head_bf16_loss(hp, x, N_ROWS, &w, targets, grad_scale, row_scale, row_loss4, &correct4, x2);
    CHECK_EQ_INT(correct4, correct);
    for (int i = 0; i < N_ROWS; i++) worst_packed = fmax(worst_packed, fabs(row_loss4[i] - loss_ref[i]) / loss_tol[i]);
    for (int i = 0; i < N_ROWS * DIM; i++)
        worst_packed = fmax(worst_packed, fabs(x2[i] - dx_ref[i]) / (dx_tol[i] + 1e-30));
    printf("    packed: worst %.3f of the bounds\n", worst_packed);
    CHECK(worst_packed <= 1.0);
    head_bf16_free(hp);

    head_bf16_free(h);
    free(x), free(W), free(Wb), free(z), free(dx_ref), free(dx_tol), free(dx_tol_unfused), free(dx), free(x2), free(logits);
}
