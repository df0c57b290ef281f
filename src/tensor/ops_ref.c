/* ops_ref.c: naive reference versions of the kernels in ops.h: plain loops, no threads, no BLAS.
 * They define what the fast kernels must compute; only the tests and debugging call them. */
#include <math.h>

#include "ops.h"

void op_linear_ref(float *y, const float *x, const float *w, const float *bias, int T, int K, int N) {
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            double acc = bias ? bias[n] : 0.0;
            for (int k = 0; k < K; k++) acc += (double)x[(size_t)t * K + k] * w[(size_t)n * K + k];
            y[(size_t)t * N + n] = (float)acc;
        }
}

void op_rmsnorm_ref(float *y, const float *x, const float *weight, int T, int C, float eps) {
    for (int t = 0; t < T; t++) {
        double ss = 0;
        for (int c = 0; c < C; c++) ss += (double)x[(size_t)t * C + c] * x[(size_t)t * C + c];
        float inv = (float)(1.0 / sqrt(ss / C + eps));
        for (int c = 0; c < C; c++) y[(size_t)t * C + c] = x[(size_t)t * C + c] * inv * weight[c];
    }
}

void op_rope_ref(float *x, const int *pos, const float *inv_freq, int T, int n_heads, int head_dim) {
    int half = head_dim / 2;
    for (int t = 0; t < T; t++)
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * head_dim;
            for (int i = 0; i < half; i++) {
                double ang = (double)pos[t] * inv_freq[i];
                double c = cos(ang), s = sin(ang), a = v[i], b = v[i + half];
                v[i] = (float)(a * c - b * s);
                v[i + half] = (float)(a * s + b * c);
            }
        }
}

void op_swiglu_ref(float *h, const float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double g = gate[i];
        h[i] = (float)(g / (1.0 + exp(-g)) * up[i]);
    }
}

void op_attention_ref(float *out, const float *q, const float *k_cache, const float *v_cache, int start, int T,
                      int n_head, int n_kv, int hd, float *scratch) {
    int group = n_head / n_kv;
    double scale = 1.0 / sqrt((double)hd);
    for (int t = 0; t < T; t++) {
        int p = start + t; /* attends to positions 0..p */
        for (int h = 0; h < n_head; h++) {
            int kh = h / group;
            const float *qv = q + ((size_t)t * n_head + h) * hd;
            double mx = -INFINITY;
            for (int j = 0; j <= p; j++) {
                const float *kv = k_cache + ((size_t)j * n_kv + kh) * hd;
                double s = 0;
                for (int d = 0; d < hd; d++) s += (double)qv[d] * kv[d];
                scratch[j] = (float)(s * scale);
                if (scratch[j] > mx) mx = scratch[j];
            }
            double sum = 0;
            for (int j = 0; j <= p; j++) sum += exp(scratch[j] - mx);
            float *o = out + ((size_t)t * n_head + h) * hd;
            for (int d = 0; d < hd; d++) {
                double acc = 0;
                for (int j = 0; j <= p; j++) acc += exp(scratch[j] - mx) / sum * v_cache[((size_t)j * n_kv + kh) * hd + d];
                o[d] = (float)acc;
            }
        }
    }
}

void op_layernorm_ref(float *y, const float *x, const float *weight, const float *bias, int T, int C, float eps) {
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * C;
        double mean = 0, var = 0;
        for (int c = 0; c < C; c++) mean += xr[c];
        mean /= C;
        for (int c = 0; c < C; c++) var += (xr[c] - mean) * (xr[c] - mean);
        double r = 1.0 / sqrt(var / C + eps);
        for (int c = 0; c < C; c++) y[(size_t)t * C + c] = (float)((xr[c] - mean) * r * weight[c] + bias[c]);
    }
}

void op_gelu_ref(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0))));
}

/* One sequence of T rows. */
static void attention_one_ref(float *out, const float *q, const float *k, const float *v, int T, int n_head, int hd,
                              float *scratch) {
    int C = n_head * hd;
    for (int h = 0; h < n_head; h++)
        for (int i = 0; i < T; i++) {
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < T; j++) {
                double d = 0;
                for (int e = 0; e < hd; e++) d += (double)q[(size_t)i * C + h * hd + e] * k[(size_t)j * C + h * hd + e];
                scratch[j] = (float)(d / sqrt((double)hd));
                if (scratch[j] > mx) mx = scratch[j];
            }
            for (int j = 0; j < T; j++) sum += exp(scratch[j] - mx);
            for (int e = 0; e < hd; e++) {
                double o = 0;
                for (int j = 0; j < T; j++) o += exp(scratch[j] - mx) / sum * v[(size_t)j * C + h * hd + e];
                out[(size_t)i * C + h * hd + e] = (float)o;
            }
        }
}

void op_attention_full_ref(float *out, const float *q, const float *k, const float *v, const int *start,
                           const int *len, int n_seq, int n_head, int hd, float *scratch) {
    size_t C = (size_t)n_head * hd;
    for (int i = 0; i < n_seq; i++)
        attention_one_ref(out + start[i] * C, q + start[i] * C, k + start[i] * C, v + start[i] * C, len[i], n_head, hd,
                          scratch);
}
