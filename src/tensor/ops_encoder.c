/* ops_encoder.c: the fast kernels an encoder (BERT) adds to ops.h: LayerNorm with bias, exact
 * GELU (x Phi(x), Phi from fast_erf.h, vectorised), and bidirectional attention within each
 * sequence (no cache, no causal mask: every token sees every token of its own sequence). OpenMP
 * over rows, and for attention over (sequence, head) pairs, so a batch of short texts keeps every
 * thread busy; threads are forked only for enough work. Naive twins in ops_ref.c. Padding masks are
 * not needed: the encoder packs sequences end to end and attention keeps to each one. */
#include <math.h>
#include <omp.h>

#include "fast_erf.h"
#include "ops.h"

void op_layernorm(float *y, const float *x, const float *weight, const float *bias, int T, int C, float eps) {
#pragma omp parallel for if ((size_t)T * C > 65536)
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
#pragma omp parallel for simd if (parallel : n > 65536)
    for (size_t i = 0; i < n; i++) x[i] *= fast_normal_cdf(x[i]);
}

/* Row i of head h of one sequence (T rows, C wide, from q, k, v, into out): scores into s (T). */
static inline void attend_row(float *out, const float *q, const float *k, const float *v, int T, int C, int hd, int h,
                              int i, float scale, float *s) {
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

void op_attention_full(float *out, const float *q, const float *k, const float *v, const int *start, const int *len,
                       int n_seq, int n_head, int hd, float *scratch) {
    int C = n_head * hd, max_T = 0;
    float scale = 1.0f / sqrtf((float)hd);
    size_t work = 0;
    for (int i = 0; i < n_seq; i++) {
        work += (size_t)len[i] * len[i] * n_head;
        if (len[i] > max_T) max_T = len[i];
    }
#pragma omp parallel for schedule(dynamic) if (work > 16384)
    for (int task = 0; task < n_seq * n_head; task++) {
        int i = task / n_head, h = task % n_head;
        size_t off = (size_t)start[i] * C;
        float *s = scratch + (size_t)omp_get_thread_num() * max_T;
        for (int r = 0; r < len[i]; r++) attend_row(out + off, q + off, k + off, v + off, len[i], C, hd, h, r, scale, s);
    }
}
