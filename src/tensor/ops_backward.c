/* ops_backward.c: backward kernels for training (see ops_backward.h), OpenMP loops; the
 * attention of training is attention_train.c's (these name its fastest path for the CPU).
 * op_rope_table_backward lives in ops.c beside op_rope_table, whose rotation it reverses, and
 * op_rmsnorm_save beside op_rmsnorm, which is the same computation. */
#include "fast_exp.h"
#include "ops_backward.h"

#include <math.h>
#include <string.h>

#include "attention_train.h"
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
#pragma omp parallel for simd simdlen(16) if (parallel : n > 65536) /* as op_swiglu */
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], sig = 1.0f / (1.0f + fast_expf(-g)), silu = g * sig;
        dup[i] = dh[i] * silu;
        dgate[i] = dh[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
    }
}

void op_attention_save(float *out, float *probs, const float *q, const float *k, const float *v, int T, int n_head,
                       int n_kv, int hd) {
    attention_train_forward(attention_train_path(T, hd), out, probs, q, k, v, T, n_head, n_kv, hd);
}

void op_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *probs, const float *q,
                           const float *k, const float *v, int T, int n_head, int n_kv, int hd, float *scratch) {
    attention_train_backward(attention_train_path(T, hd), dq, dk, dv, dout, probs, q, k, v, T, n_head, n_kv, hd,
                             scratch);
}

size_t op_attention_backward_scratch(int T, int n_head, int n_kv) { return attention_train_scratch(T, n_head, n_kv); }

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
