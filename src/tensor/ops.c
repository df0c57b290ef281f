/* ops.c: the fast kernels of ops.h: OpenBLAS sgemm/sgemv for linear layers, OpenMP loops with
 * vectorisable inner loops for the rest. Each has a naive twin in ops_ref.c. */
#include "fast_exp.h"
#include "ops.h"
#include "ops_backward.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#define ATTENTION_GEMM_MIN_T 8 /* from this many queries on, attention runs on sgemm */

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
#pragma omp parallel for simd if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        h[i] = g / (1.0f + fast_expf(-g)) * up[i];
    }
}

/* One query at a time: T small (decoding). Per (query, head): scores = K_h q * scale and
 * out = V_h^T softmax(scores), both as single-threaded sgemv inside the parallel loop (OpenBLAS
 * does not nest threads). scratch: n_threads * (start + T). */
static void attention_rows(float *out, const float *q, const float *k_cache, const float *v_cache, int start, int T,
                           int n_head, int n_kv, int hd, float *scratch) {
    int group = n_head / n_kv, kvs = n_kv * hd;
    float scale = 1.0f / sqrtf((float)hd);
    int ctx = start + T;
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
    for (int t = 0; t < T; t++)
        for (int h = 0; h < n_head; h++) {
            float *sc = scratch + (size_t)omp_get_thread_num() * ctx;
            int visible = start + t + 1, kh = h / group;
            cblas_sgemv(CblasRowMajor, CblasNoTrans, visible, hd, scale, k_cache + (size_t)kh * hd, kvs,
                        q + ((size_t)t * n_head + h) * hd, 1, 0.0f, sc, 1);
            op_softmax(sc, visible);
            cblas_sgemv(CblasRowMajor, CblasTrans, visible, hd, 1.0f, v_cache + (size_t)kh * hd, kvs, sc, 1, 0.0f,
                        out + ((size_t)t * n_head + h) * hd, 1);
        }
}

/* A block of queries (prefill), head by head on sgemm: S (T, ctx) = Q_h K_h^T * scale, causal
 * mask, row softmax, O_h = P V_h. Heads are strided views into q, the caches and out.
 * scratch: T * (start + T). */
static void attention_gemm(float *out, const float *q, const float *k_cache, const float *v_cache, int start, int T,
                           int n_head, int n_kv, int hd, float *scratch) {
    int group = n_head / n_kv, ctx = start + T, qs = n_head * hd, kvs = n_kv * hd;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < n_head; h++) {
        int kh = h / group;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, ctx, hd, scale, q + (size_t)h * hd, qs,
                    k_cache + (size_t)kh * hd, kvs, 0.0f, scratch, ctx);
#pragma omp parallel for schedule(static)
        for (int t = 0; t < T; t++) {
            float *row = scratch + (size_t)t * ctx;
            int visible = start + t + 1; /* causal: keys 0..start+t */
            op_softmax(row, visible);
            memset(row + visible, 0, (size_t)(ctx - visible) * sizeof(float));
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, ctx, 1.0f, scratch, ctx,
                    v_cache + (size_t)kh * hd, kvs, 0.0f, out + (size_t)h * hd, qs);
    }
}

void op_attention(float *out, const float *q, const float *k_cache, const float *v_cache, int start, int T,
                  int n_head, int n_kv, int hd, float *scratch) {
    if (T >= ATTENTION_GEMM_MIN_T)
        attention_gemm(out, q, k_cache, v_cache, start, T, n_head, n_kv, hd, scratch);
    else
        attention_rows(out, q, k_cache, v_cache, start, T, n_head, n_kv, hd, scratch);
}
