/* ops_encoder.c: the fast kernels an encoder (BERT) adds to ops.h: LayerNorm with bias, exact
 * GELU (x Phi(x), Phi from fast_erf.h, vectorised), and bidirectional attention within one sequence (no cache, no causal mask: every token
 * sees every token of its own sequence). OpenMP over rows (and heads); naive twins in ops_ref.c.
 * Padding masks are not needed: the encoder packs sequences and calls attention per sequence. */
#include <math.h>
#include <omp.h>

#include "fast_erf.h"
#include "ops.h"

void op_layernorm(float *y, const float *x, const float *weight, const float *bias, int T, int C, float eps) {
#pragma omp parallel for if (T > 4)
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * C;
        float *yr = y + (size_t)t * C;
        float sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int c = 0; c < C; c++) sum += xr[c];
        float mean = sum / C, var = 0;
#pragma omp simd reduction(+ : var)
        for (int c = 0; c < C; c++) var += (xr[c] - mean) * (xr[c] - mean);
        float r = 1.0f / sqrtf(var / C + eps);
#pragma omp simd
        for (int c = 0; c < C; c++) yr[c] = (xr[c] - mean) * r * weight[c] + bias[c];
    }
}

void op_gelu(float *x, size_t n) {
#pragma omp parallel for simd if (n > 65536)
    for (size_t i = 0; i < n; i++) x[i] *= fast_normal_cdf(x[i]);
}

void op_attention_full(float *out, const float *q, const float *k, const float *v, int T, int n_head, int hd,
                       float *scratch) {
    int C = n_head * hd;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for collapse(2) if ((size_t)T * T * n_head > 16384)
    for (int h = 0; h < n_head; h++)
        for (int i = 0; i < T; i++) {
            float *s = scratch + (size_t)omp_get_thread_num() * T;
            const float *qi = q + (size_t)i * C + (size_t)h * hd;
            for (int j = 0; j < T; j++) {
                const float *kj = k + (size_t)j * C + (size_t)h * hd;
                float d = 0;
#pragma omp simd reduction(+ : d)
                for (int e = 0; e < hd; e++) d += qi[e] * kj[e];
                s[j] = d * scale;
            }
            op_softmax(s, T);
            float *o = out + (size_t)i * C + (size_t)h * hd;
            for (int e = 0; e < hd; e++) o[e] = 0;
            for (int j = 0; j < T; j++) {
                const float *vj = v + (size_t)j * C + (size_t)h * hd;
                float p = s[j];
#pragma omp simd
                for (int e = 0; e < hd; e++) o[e] += p * vj[e];
            }
        }
}
