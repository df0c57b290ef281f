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

/* cos (head_dim/2) then sin (head_dim/2) of the angles of position pos. */
static void rope_angles(float *cs, int pos, const float *inv_freq, int half) {
    for (int i = 0; i < half; i++) {
        double ang = (double)pos * inv_freq[i];
        cs[i] = (float)cos(ang);
        cs[half + i] = (float)sin(ang);
    }
}

/* Rotates each (i, i + hd/2) pair of one row's n_heads heads by the angles in cs (rope_angles), or
 * by their negatives where dir is -1 (the sines negated, exactly). */
static void rope_apply(float *x, const float *cs, int n_heads, int head_dim, float dir) {
    int half = head_dim / 2;
    const float *c = cs, *s = cs + half;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            float a = v[i], b = v[i + half], sn = dir * s[i];
            v[i] = a * c[i] - b * sn;
            v[i + half] = a * sn + b * c[i];
        }
    }
}

void op_rope(float *x, const int *pos, const float *inv_freq, int T, int n_heads, int head_dim) {
#pragma omp parallel for if (T > 4)
    for (int t = 0; t < T; t++) {
        float cs[head_dim];
        rope_angles(cs, pos[t], inv_freq, head_dim / 2);
        rope_apply(x + (size_t)t * n_heads * head_dim, cs, n_heads, head_dim, 1.0f);
    }
}

void rope_table(float *cs, const int *pos, const float *inv_freq, int T, int head_dim) {
    for (int t = 0; t < T; t++) rope_angles(cs + (size_t)t * head_dim, pos[t], inv_freq, head_dim / 2);
}

static void rope_table_rotate(float *x, const float *cs, int T, int n_heads, int head_dim, float dir) {
#pragma omp parallel for if (T > 4)
    for (int t = 0; t < T; t++)
        rope_apply(x + (size_t)t * n_heads * head_dim, cs + (size_t)t * head_dim, n_heads, head_dim, dir);
}

void op_rope_table(float *x, const float *cs, int T, int n_heads, int head_dim) {
    rope_table_rotate(x, cs, T, n_heads, head_dim, 1.0f);
}

void op_rope_table_backward(float *dx, const float *cs, int T, int n_heads, int head_dim) {
    rope_table_rotate(dx, cs, T, n_heads, head_dim, -1.0f);
}

/* The largest of s[0..n) (n >= 1): the same value in any order. */
static float max_of(const float *s, int n) {
    float mx = s[0];
#pragma omp simd reduction(max : mx)
    for (int i = 1; i < n; i++) mx = s[i] > mx ? s[i] : mx;
    return mx;
}

void op_softmax(float *x, int n) {
    float mx = max_of(x, n), sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < n; i++) {
        x[i] = fast_expf(x[i] - mx);
        sum += x[i];
    }
    float inv = 1.0f / sum;
#pragma omp simd
    for (int i = 0; i < n; i++) x[i] *= inv;
}

/* 16 lanes a vector (GCC otherwise picks 8 on AVX-512 machines): the division and the polynomial
 * are what it costs, not memory, so twice the lanes run about twice as fast; each element's
 * arithmetic is the same either way. */
void op_swiglu(float *h, const float *gate, const float *up, size_t n) {
#pragma omp parallel for simd simdlen(16) if (parallel : n > 65536)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        h[i] = g / (1.0f + fast_expf(-g)) * up[i];
    }
}

/* Softmax of s[0..n) in place, its sum taken in an order fixed by n alone (lane j % 16). */
static void softmax_fixed(float *s, int n) {
    float mx = max_of(s, n);
#pragma omp simd simdlen(16)
    for (int i = 0; i < n; i++) s[i] = fast_expf(s[i] - mx);
    v16 acc = zero16();
    int i = 0;
    for (; i + 16 <= n; i += 16) acc = add16(acc, load16(s + i));
    if (i < n) {
        float tail[16] = {0};
        memcpy(tail, s + i, (size_t)(n - i) * sizeof(float));
        acc = add16(acc, load16(tail));
    }
    float inv = 1.0f / lanes_sum(acc);
    for (int k = 0; k < n; k++) s[k] *= inv;
}

/* Scores of NG query heads (q, hd apart) against keys j0 .. j0 + 3 (rows of k, ks apart) into
 * sc[g * ld + j0 ..]: each dot_fixed's sum (the same lanes, lanes_sum's additions: lanes_sum4)
 * times scale, the 4 * NG sums run side by side so that their additions overlap. hd is a multiple
 * of 16; NG a constant after inlining. */
static inline __attribute__((always_inline)) void scores4(float *sc, size_t ld, const float *q, const float *k,
                                                          size_t ks, int j0, int hd, float scale, int NG) {
    v16 acc[3][4];
    for (int g = 0; g < NG; g++)
        for (int u = 0; u < 4; u++) acc[g][u] = zero16();
    const float *k0 = k + (size_t)j0 * ks;
    for (int i = 0; i < hd; i += 16) {
        v16 kx[4] = {load16(k0 + i), load16(k0 + ks + i), load16(k0 + 2 * ks + i), load16(k0 + 3 * ks + i)};
        for (int g = 0; g < NG; g++) {
            v16 x = load16(q + (size_t)g * hd + i);
            for (int u = 0; u < 4; u++) acc[g][u] = fma16(acc[g][u], x, kx[u]);
        }
    }
    for (int g = 0; g < NG; g++) {
        v4 sums = lanes_sum4(acc[g][0], acc[g][1], acc[g][2], acc[g][3]);
        for (int u = 0; u < 4; u++) sc[(size_t)g * ld + j0 + u] = sums[u] * scale;
    }
}

/* o_g (64 values from d0, NG heads, hd apart) = sum over j < n of p_g[j] v_j (p_g at p + g * ld,
 * row j of v at stride vs), each element summed in the order of j, 16 values to a vector: one head's
 * arithmetic, for NG heads at once, each value row read once for all of them. */
static inline __attribute__((always_inline)) void weighted64(float *o, const float *p, size_t ld, const float *v,
                                                             size_t vs, int n, int hd, int d0, int NG) {
    v16 a[3][4];
    for (int g = 0; g < NG; g++)
        for (int u = 0; u < 4; u++) a[g][u] = zero16();
    for (int j = 0; j < n; j++) {
        const float *vj = v + (size_t)j * vs + d0;
        v16 x[4] = {load16(vj), load16(vj + 16), load16(vj + 32), load16(vj + 48)};
        for (int g = 0; g < NG; g++) {
            v16 pj = splat16(p[(size_t)g * ld + j]);
            for (int u = 0; u < 4; u++) a[g][u] = fma16(a[g][u], pj, x[u]);
        }
    }
    for (int g = 0; g < NG; g++) memcpy(o + (size_t)g * hd + d0, a[g], sizeof a[g]);
}

/* o (hd) = sum over j < n of p[j] v_j (row j of v at stride vs), each element summed in the order of
 * j (the values from d0 on: those after the 64-value blocks). */
static void weighted_tail(float *o, const float *p, const float *v, size_t vs, int n, int hd, int d0) {
    memset(o + d0, 0, (size_t)(hd - d0) * sizeof(float));
    for (int j = 0; j < n; j++)
        for (int d = d0; d < hd; d++) o[d] += p[j] * v[(size_t)j * vs + d];
}

/* Heads g0 .. g0 + NG - 1 of the group (NG <= 3, a constant after inlining): scores, softmax,
 * weighted sums. */
static inline __attribute__((always_inline)) void attend_heads(float *out, const float *q, const float *kc,
                                                               const float *vc, size_t kvs, int visible, int hd,
                                                               float scale, float *sc, int NG) {
    size_t ld = (size_t)visible;
    int j = 0;
    if (hd % 16 == 0)
        for (; j + 4 <= visible; j += 4) scores4(sc, ld, q, kc, kvs, j, hd, scale, NG);
    for (; j < visible; j++)
        for (int g = 0; g < NG; g++) sc[g * ld + j] = dot_fixed(q + (size_t)g * hd, kc + (size_t)j * kvs, hd) * scale;
    for (int g = 0; g < NG; g++) softmax_fixed(sc + g * ld, visible);
    int d0 = 0;
    for (; d0 + 64 <= hd; d0 += 64) weighted64(out, sc, ld, vc, kvs, visible, hd, d0, NG);
    if (d0 < hd)
        for (int g = 0; g < NG; g++) weighted_tail(out + (size_t)g * hd, sc + g * ld, vc, kvs, visible, hd, d0);
}

void op_attention_query(float *out, const float *q, const float *k_cache, const float *v_cache, int pos, int kh,
                        int n_head, int n_kv, int hd, float *scratch) {
    int group = n_head / n_kv, visible = pos + 1;
    size_t kvs = (size_t)n_kv * hd, h0 = (size_t)kh * group;
    float scale = 1.0f / sqrtf((float)hd);
    const float *kc = k_cache + (size_t)kh * hd, *vc = v_cache + (size_t)kh * hd;
    for (int g = 0; g < group; g += 3) { /* three heads at a time keep their sums in registers */
        float *o = out + (h0 + g) * hd;
        const float *qg = q + (h0 + g) * hd;
        switch (group - g < 3 ? group - g : 3) {
        case 1: attend_heads(o, qg, kc, vc, kvs, visible, hd, scale, scratch, 1); break;
        case 2: attend_heads(o, qg, kc, vc, kvs, visible, hd, scale, scratch, 2); break;
        default: attend_heads(o, qg, kc, vc, kvs, visible, hd, scale, scratch, 3); break;
        }
    }
}

/* Each (query, kv head) on its own: op_attention_query, every sum in an order fixed by the query's
 * position alone. So a query's output is the same to the bit however the rows are chunked or
 * batched (how many queries share the call, where the call starts), which the bf16 path needs:
 * there a difference in the last bit can round an input to a different bf16 value. */
void op_attention(float *out, const float *q, const float *k_cache, const float *v_cache, int start, int T,
                  int n_head, int n_kv, int hd, float *scratch) {
    int ctx = start + T;
    size_t qd = (size_t)n_head * hd, per_thread = (size_t)OP_ATTENTION_HEADS * ctx;
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (T * n_kv > 1)
    for (int t = 0; t < T; t++)
        for (int kh = 0; kh < n_kv; kh++)
            op_attention_query(out + t * qd, q + t * qd, k_cache, v_cache, start + t, kh, n_head, n_kv, hd,
                               scratch + (size_t)omp_get_thread_num() * per_thread);
}
