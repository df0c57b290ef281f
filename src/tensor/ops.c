/* ops.c: the fast kernels of ops.h: OpenBLAS sgemm/sgemv for linear layers, OpenMP loops with
 * vectorisable inner loops for the rest. Each has a naive twin in ops_ref.c. */
#include "dot_fixed.h"
#include "fast_exp.h"
#include "ops.h"
#include "ops_backward.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>


int ops_threads(int n) { return n > 0 ? n : omp_get_num_procs(); }

void op_linear(float *y, const float *x, const float *w, const float *bias, int T, int K, int N) {
    if (T == 1) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, w, K, x, 1, 0.0f, y, 1);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, N, K, 1.0f, x, K, w, K, 0.0f, y, N);
    }
    if (bias)
        for (int t = 0; t < T; t++)
            for (int n = 0; n < N; n++) y[(size_t)t * N + n] += bias[n];
}

void op_rmsnorm_save(float *y, float *rstd, const float *x, const float *weight, int T, int C, float eps) {
#pragma omp parallel for if (T > 4)
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * C;
        float *yr = y + (size_t)t * C;
        float ss = 0;
#pragma omp simd reduction(+ : ss)
        for (int c = 0; c < C; c++) ss += xr[c] * xr[c];
        float r = 1.0f / sqrtf(ss / C + eps);
        if (rstd) rstd[t] = r;
        for (int c = 0; c < C; c++) yr[c] = xr[c] * r * weight[c];
    }
}

void op_rmsnorm(float *y, const float *x, const float *weight, int T, int C, float eps) {
    op_rmsnorm_save(y, NULL, x, weight, T, C, eps);
}

void rope_inv_freq(float *inv_freq, int head_dim, float theta, const float *freq_factors) {
    for (int i = 0; i < head_dim / 2; i++) {
        double f = 1.0 / pow((double)theta, (2.0 * i) / head_dim);
        if (freq_factors) f /= freq_factors[i];
        inv_freq[i] = (float)f;
    }
}

/* Rotates each (i, i + hd/2) pair by +angle (forward) or -angle (the transpose, for backward). */
static void rope_rotate(float *x, const int *pos, const float *inv_freq, int T, int n_heads, int head_dim, float dir) {
    int half = head_dim / 2;
#pragma omp parallel for if (T > 4)
    for (int t = 0; t < T; t++) {
        float c[half], s[half];
        for (int i = 0; i < half; i++) {
            double ang = (double)pos[t] * inv_freq[i];
            c[i] = (float)cos(ang);
            s[i] = dir * (float)sin(ang);
        }
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * head_dim;
            for (int i = 0; i < half; i++) {
                float a = v[i], b = v[i + half];
                v[i] = a * c[i] - b * s[i];
                v[i + half] = a * s[i] + b * c[i];
            }
        }
    }
}

void op_rope(float *x, const int *pos, const float *inv_freq, int T, int n_heads, int head_dim) {
    rope_rotate(x, pos, inv_freq, T, n_heads, head_dim, 1.0f);
}

void op_rope_backward(float *dx, const int *pos, const float *inv_freq, int T, int n_heads, int head_dim) {
    rope_rotate(dx, pos, inv_freq, T, n_heads, head_dim, -1.0f);
}

void op_softmax(float *x, int n) {
    float mx = x[0];
#pragma omp simd reduction(max : mx)
    for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < n; i++) {
        x[i] = fast_expf(x[i] - mx);
        sum += x[i];
    }
    float inv = 1.0f / sum;
#pragma omp simd
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void op_swiglu(float *h, const float *gate, const float *up, size_t n) {
#pragma omp parallel for simd if (parallel : n > 65536)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        h[i] = g / (1.0f + fast_expf(-g)) * up[i];
    }
}

/* Softmax of s[0..n) in place, its sum taken in an order fixed by n alone (lane j % 16). */
static void softmax_fixed(float *s, int n) {
    float mx = s[0];
    for (int i = 1; i < n; i++) mx = s[i] > mx ? s[i] : mx;
    for (int i = 0; i < n; i++) s[i] = fast_expf(s[i] - mx);
    v16 acc = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) acc += load16(s + i);
    if (i < n) {
        v16 tail = {0};
        memcpy(&tail, s + i, (size_t)(n - i) * sizeof(float));
        acc += tail;
    }
    float inv = 1.0f / lanes_sum(acc);
    for (int k = 0; k < n; k++) s[k] *= inv;
}

/* o (hd) = sum over j < n of p[j] v_j (row j of v at stride vs), each element summed in the order of
 * j; 64 values at a time kept in registers. */
static void weighted_sum(float *o, const float *p, const float *v, size_t vs, int n, int hd) {
    int d0 = 0;
    for (; d0 + 64 <= hd; d0 += 64) {
        v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (int j = 0; j < n; j++) {
            const float *vj = v + (size_t)j * vs + d0;
            v16 pj = {0};
            pj += p[j];
            a0 += pj * load16(vj);
            a1 += pj * load16(vj + 16);
            a2 += pj * load16(vj + 32);
            a3 += pj * load16(vj + 48);
        }
        memcpy(o + d0, &a0, sizeof a0);
        memcpy(o + d0 + 16, &a1, sizeof a1);
        memcpy(o + d0 + 32, &a2, sizeof a2);
        memcpy(o + d0 + 48, &a3, sizeof a3);
    }
    if (d0 == hd) return;
    memset(o + d0, 0, (size_t)(hd - d0) * sizeof(float));
    for (int j = 0; j < n; j++)
        for (int d = d0; d < hd; d++) o[d] += p[j] * v[(size_t)j * vs + d];
}

/* Each (query, head) on its own: scores over the visible keys, softmax, the weighted sum of values,
 * every sum in an order fixed by the query's position alone. So a query's output is the same to the
 * bit however the rows are chunked or batched (how many queries share the call, where the call
 * starts), which the bf16 path needs: there a difference in the last bit can round an input to a
 * different bf16 value. scratch: n_threads * (start + T) floats. */
void op_attention(float *out, const float *q, const float *k_cache, const float *v_cache, int start, int T,
                  int n_head, int n_kv, int hd, float *scratch) {
    int group = n_head / n_kv, kvs = n_kv * hd, ctx = start + T;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (T * n_head > 1)
    for (int t = 0; t < T; t++)
        for (int h = 0; h < n_head; h++) {
            float *sc = scratch + (size_t)omp_get_thread_num() * ctx;
            int visible = start + t + 1, kh = h / group;
            const float *qv = q + ((size_t)t * n_head + h) * hd, *kc = k_cache + (size_t)kh * hd,
                        *vc = v_cache + (size_t)kh * hd;
            for (int j = 0; j < visible; j++) sc[j] = dot_fixed(qv, kc + (size_t)j * kvs, hd) * scale;
            softmax_fixed(sc, visible);
            weighted_sum(out + ((size_t)t * n_head + h) * hd, sc, vc, (size_t)kvs, visible, hd);
        }
}
