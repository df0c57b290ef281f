/* ops_backward.c: backward kernels for training (see ops_backward.h), on OpenBLAS for the
 * attention products and OpenMP loops elsewhere. op_rope_backward lives in ops.c beside op_rope,
 * whose rotation it reverses, and
 * op_rmsnorm_save beside op_rmsnorm, which is the same computation. */
#include "fast_exp.h"
#include "ops_backward.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "ops.h"

void op_rmsnorm_backward(float *dx, const float *dy, const float *x, const float *w, const float *rstd, int T, int C) {
    /* y_c = x_c r w_c with r = (mean(x^2) + eps)^-1/2:
     * dx_c = r w_c dy_c - x_c r^3 / C * sum_j(dy_j w_j x_j) */
#pragma omp parallel for if (T > 4)
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * C, *dyr = dy + (size_t)t * C;
        float *dxr = dx + (size_t)t * C, r = rstd[t], dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int c = 0; c < C; c++) dot += dyr[c] * w[c] * xr[c];
        float k = dot * r * r * r / C;
        for (int c = 0; c < C; c++) dxr[c] += r * w[c] * dyr[c] - k * xr[c];
    }
}

void op_swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate, const float *up, size_t n) {
#pragma omp parallel for simd if (parallel : n > 65536)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], sig = 1.0f / (1.0f + fast_expf(-g)), silu = g * sig;
        dup[i] = dh[i] * silu;
        dgate[i] = dh[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
    }
}

void op_attention_save(float *out, float *probs, const float *q, const float *k, const float *v, int T, int n_head,
                       int n_kv, int hd) {
    int group = n_head / n_kv, qs = n_head * hd, kvs = n_kv * hd;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < n_head; h++) {
        int kh = h / group;
        float *P = probs + (size_t)h * T * T; // (T, T)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, q + (size_t)h * hd, qs,
                    k + (size_t)kh * hd, kvs, 0.0f, P, T);
#pragma omp parallel for schedule(static)
        for (int t = 0; t < T; t++) {
            op_softmax(P + (size_t)t * T, t + 1);
            memset(P + (size_t)t * T + t + 1, 0, (size_t)(T - t - 1) * sizeof(float));
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, P, T, v + (size_t)kh * hd, kvs, 0.0f,
                    out + (size_t)h * hd, qs);
    }
}

void op_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *probs, const float *q,
                           const float *k, const float *v, int T, int n_head, int n_kv, int hd, float *scratch) {
    int group = n_head / n_kv, qs = n_head * hd, kvs = n_kv * hd;
    float scale = 1.0f / sqrtf((float)hd);
    memset(dk, 0, (size_t)T * kvs * sizeof(float));
    memset(dv, 0, (size_t)T * kvs * sizeof(float));
    for (int h = 0; h < n_head; h++) {
        int kh = h / group;
        const float *P = probs + (size_t)h * T * T;
        const float *dO = dout + (size_t)h * hd;
        float *dP = scratch; // (T, T)
        /* out = P V: dV += P^T dO; dP = dO V^T */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, P, T, dO, qs, 1.0f, dv + (size_t)kh * hd,
                    kvs);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, 1.0f, dO, qs, v + (size_t)kh * hd, kvs, 0.0f, dP,
                    T);
        /* softmax: dS = P * (dP - sum_j P dP), then the scale of S = scale * q k^T */
#pragma omp parallel for schedule(static)
        for (int t = 0; t < T; t++) {
            const float *pr = P + (size_t)t * T;
            float *dr = dP + (size_t)t * T, dot = 0;
            for (int j = 0; j <= t; j++) dot += pr[j] * dr[j];
            for (int j = 0; j <= t; j++) dr[j] = pr[j] * (dr[j] - dot) * scale;
            for (int j = t + 1; j < T; j++) dr[j] = 0;
        }
        /* S = q k^T: dq = dS k; dk += dS^T q */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, dP, T, k + (size_t)kh * hd, kvs, 0.0f,
                    dq + (size_t)h * hd, qs);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, dP, T, q + (size_t)h * hd, qs, 1.0f,
                    dk + (size_t)kh * hd, kvs);
    }
}

double op_cross_entropy(float *logits, const int *targets, int n, int V, float grad_scale, int *n_correct) {
    return op_cross_entropy_rows(logits, targets, n, V, grad_scale, NULL, NULL, n_correct);
}

double op_cross_entropy_rows(float *logits, const int *targets, int n, int V, float grad_scale,
                             const float *row_scale, double *row_loss, int *n_correct) {
    double total = 0;
    int correct = 0;
#pragma omp parallel for reduction(+ : total, correct) schedule(static)
    for (int i = 0; i < n; i++) {
        float *row = logits + (size_t)i * V;
        int best = 0;
        for (int j = 1; j < V; j++)
            if (row[j] > row[best]) best = j;
        correct += best == targets[i];
        float mx = row[best], target = row[targets[i]];
        /* one exp per logit (vectorised): e_j = exp(z_j - max) <= 1, summed in double */
        double sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < V; j++) {
            float e = fast_expf(row[j] - mx);
            row[j] = e;
            sum += e;
        }
        double loss = log(sum) - (double)(target - mx);
        total += loss;
        if (row_loss) row_loss[i] = loss;
        float g = row_scale ? grad_scale * row_scale[i] : grad_scale;
        float scale = (float)(g / sum);
#pragma omp simd
        for (int j = 0; j < V; j++) row[j] *= scale;
        row[targets[i]] -= g;
    }
    if (n_correct) *n_correct = correct;
    return total;
}
