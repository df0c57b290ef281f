/* attention_train.c: causal GQA attention of training (see attention_train.h). Per kv head: the
 * scores of its group's query heads (only the tiles at or below the diagonal), a softmax per row
 * in place (zeros past the diagonal), then the probabilities times V; the backward computes dP =
 * dO V^T the same way, dS = P (dP - rowsum(P dP)) scale per row, dq = dS K, and dK = sum_g dS_g^T
 * q_g, dV = sum_g P_g^T dO_g over the group, each kv head's rows written once. */
#include "attention_train.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include <omp.h>
#include <stdbool.h>

#include "core/cpu_features.h"
#include "ops.h"

#define ATT_R 6      /* rows (or keys) of one register tile */
#define ATT_DMAX 256 /* the largest head size of the kernels (their transposed block lives on the stack) */
#define ATT_TB 32    /* rows of one block of the P^T A products */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define ATT_KERNELS 1

#define ATT512 __attribute__((target("avx512f")))
/* 2^n for integral n (in range), and y where x >= lo, else 0: att_exp's two instruction-set steps. */
ATT512 static inline __m512 att_pow2i_avx512(__m512 n) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
}
ATT512 static inline __m512 att_zero_below_avx512(__m512 x, __m512 lo, __m512 y) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ), y);
}
/* The n (< 16: the rest `fill`) floats at p; stores of the first n lanes. */
ATT512 static inline __m512 att_load_tail_avx512(const float *p, int n, float fill) {
    if (n >= 16) return _mm512_loadu_ps(p);
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), (__mmask16)((1u << n) - 1), p);
}
ATT512 static inline void att_store_tail_avx512(float *p, __m512 x, int n) {
    if (n >= 16) _mm512_storeu_ps(p, x);
    else _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), x);
}
ATT512 static inline float att_hmax_avx512(__m512 x) { return _mm512_reduce_max_ps(x); }
ATT512 static inline float att_hsum_avx512(__m512 x) { return _mm512_reduce_add_ps(x); }

#define ATT_SUFFIX _avx512
#define ATT_TARGET ATT512
#define ATT_VEC __m512
#define ATT_VW 16
#define ATT_NV 4
#define ATT_LOAD _mm512_loadu_ps
#define ATT_STORE _mm512_storeu_ps
#define ATT_FMA _mm512_fmadd_ps
#define ATT_SET1 _mm512_set1_ps
#define ATT_ZERO _mm512_setzero_ps()
#define ATT_ADD _mm512_add_ps
#define ATT_SUB _mm512_sub_ps
#define ATT_MUL _mm512_mul_ps
#define ATT_MAX _mm512_max_ps
#define ATT_MIN _mm512_min_ps
#define ATT_ROUND(x) _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#include "attention_train_impl.h"
#undef ATT_SUFFIX
#undef ATT_TARGET
#undef ATT_VEC
#undef ATT_VW
#undef ATT_NV
#undef ATT_LOAD
#undef ATT_STORE
#undef ATT_FMA
#undef ATT_SET1
#undef ATT_ZERO
#undef ATT_ADD
#undef ATT_SUB
#undef ATT_MUL
#undef ATT_MAX
#undef ATT_MIN
#undef ATT_ROUND

#define ATT256 __attribute__((target("avx2,fma")))
ATT256 static inline __m256 att_pow2i_avx2(__m256 n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}
ATT256 static inline __m256 att_zero_below_avx2(__m256 x, __m256 lo, __m256 y) {
    return _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), y);
}
ATT256 static inline __m256i att_tail_mask_avx2(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
ATT256 static inline __m256 att_load_tail_avx2(const float *p, int n, float fill) {
    if (n >= 8) return _mm256_loadu_ps(p);
    __m256i m = att_tail_mask_avx2(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
ATT256 static inline void att_store_tail_avx2(float *p, __m256 x, int n) {
    if (n >= 8) _mm256_storeu_ps(p, x);
    else _mm256_maskstore_ps(p, att_tail_mask_avx2(n), x);
}
ATT256 static inline float att_hmax_avx2(__m256 x) {
    __m128 a = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    a = _mm_max_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_max_ss(a, _mm_shuffle_ps(a, a, 1)));
}
ATT256 static inline float att_hsum_avx2(__m256 x) {
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_add_ss(a, _mm_shuffle_ps(a, a, 1)));
}

#define ATT_SUFFIX _avx2
#define ATT_TARGET ATT256
#define ATT_VEC __m256
#define ATT_VW 8
#define ATT_NV 2 /* 6 x 2 accumulators of 16 registers */
#define ATT_LOAD _mm256_loadu_ps
#define ATT_STORE _mm256_storeu_ps
#define ATT_FMA _mm256_fmadd_ps
#define ATT_SET1 _mm256_set1_ps
#define ATT_ZERO _mm256_setzero_ps()
#define ATT_ADD _mm256_add_ps
#define ATT_SUB _mm256_sub_ps
#define ATT_MUL _mm256_mul_ps
#define ATT_MAX _mm256_max_ps
#define ATT_MIN _mm256_min_ps
#define ATT_ROUND(x) _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#include "attention_train_impl.h"
#endif

static int path_width(AttentionPath path) { return path == ATTENTION_AVX512 ? 16 : path == ATTENTION_AVX2 ? 8 : 1; }

bool attention_train_path_ok(AttentionPath path, int T, int hd) {
    if (path == ATTENTION_PORTABLE) return true;
#ifdef ATT_KERNELS
    const CpuFeatures *f = cpu_features();
    bool cpu = path == ATTENTION_AVX512 ? f->avx512f : f->avx2 && f->fma;
    return cpu && T >= ATT_R && hd <= ATT_DMAX && hd % path_width(path) == 0;
#else
    (void)T, (void)hd;
    return false;
#endif
}

AttentionPath attention_train_path(int T, int hd) {
    if (attention_train_path_ok(ATTENTION_AVX512, T, hd)) return ATTENTION_AVX512;
    if (attention_train_path_ok(ATTENTION_AVX2, T, hd)) return ATTENTION_AVX2;
    return ATTENTION_PORTABLE;
}

const char *attention_train_path_name(AttentionPath path) {
    return path == ATTENTION_AVX512 ? "avx512" : path == ATTENTION_AVX2 ? "avx2" : "portable";
}

size_t attention_train_scratch(int T, int n_head, int n_kv) { return (size_t)(n_head / n_kv) * T * T; }

/* The rows of P (T, T) turned into softmax(row[0..t]) with zeros past t. */
static void softmax_rows(float *P, int T) {
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        float *row = P + (size_t)t * T;
        op_softmax(row, t + 1);
        memset(row + t + 1, 0, (size_t)(T - t - 1) * sizeof(float));
    }
}

/* The rows of dP (T, T) turned into dS = P (dP - sum_j P dP) scale over [0, t], zeros past t. */
static void softmax_backward_rows(float *dP, const float *P, int T, float scale) {
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        const float *pr = P + (size_t)t * T;
        float *dr = dP + (size_t)t * T, dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int j = 0; j <= t; j++) dot += pr[j] * dr[j];
#pragma omp simd
        for (int j = 0; j <= t; j++) dr[j] = pr[j] * (dr[j] - dot) * scale;
        memset(dr + t + 1, 0, (size_t)(T - t - 1) * sizeof(float));
    }
}

static void forward_portable(float *out, float *probs, const float *q, const float *k, const float *v, int T,
                             int n_head, int n_kv, int hd) {
    int group = n_head / n_kv, qs = n_head * hd, kvs = n_kv * hd;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < n_head; h++) {
        int kh = h / group;
        float *P = probs + (size_t)h * T * T; // (T, T)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, q + (size_t)h * hd, qs,
                    k + (size_t)kh * hd, kvs, 0.0f, P, T);
        softmax_rows(P, T);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, P, T, v + (size_t)kh * hd, kvs, 0.0f,
                    out + (size_t)h * hd, qs);
    }
}

static void backward_portable(float *dq, float *dk, float *dv, const float *dout, const float *probs, const float *q,
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
        softmax_backward_rows(dP, P, T, scale);
        /* S = q k^T: dq = dS k; dk += dS^T q */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, dP, T, k + (size_t)kh * hd, kvs, 0.0f,
                    dq + (size_t)h * hd, qs);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, dP, T, q + (size_t)h * hd, qs, 1.0f,
                    dk + (size_t)kh * hd, kvs);
    }
}

#ifdef ATT_KERNELS
/* The kernels of one instruction set, by name. */
typedef struct {
    void (*softmax_rows)(float *, int, int, int, int);
    void (*softmax_backward_rows)(float *, const float *, int, int, float, int, int);
    void (*dots)(float *, size_t, const float *, size_t, size_t, int, const float *, size_t, int, int, float, int, int);
    void (*rows_mat)(float *, size_t, const float *, const float *, size_t, int, int, int, int);
    void (*cols_rows)(float *, size_t, const float *, size_t, const float *, size_t, size_t, int, int, int, int, int);
} AttKernels;

static AttKernels kernels(AttentionPath path) {
    if (path == ATTENTION_AVX512)
        return (AttKernels){att_softmax_rows_avx512, att_softmax_backward_rows_avx512, att_dots_avx512,
                            att_rows_mat_avx512, att_cols_rows_avx512};
    return (AttKernels){att_softmax_rows_avx2, att_softmax_backward_rows_avx2, att_dots_avx2, att_rows_mat_avx2,
                        att_cols_rows_avx2};
}

/* Threads for one sequence: inside a parallel region (train_step runs one sequence a thread) one;
 * outside, up to all of them, each with at least ATT_SPLIT rows. */
#define ATT_SPLIT 32
static int seq_threads(int T) {
    int n = omp_in_parallel() ? 1 : omp_get_max_threads(), most = T / ATT_SPLIT;
    return n < most ? n : most > 1 ? most : 1;
}

/* Part i of n of [0, T) with about equal causal work: rows (work of row t ~ t + 1: the bounds are
 * T sqrt(i/n)) or keys (work of key j ~ T - j: T (1 - sqrt(1 - i/n))), on multiples of ATT_R, each
 * part at least ATT_R long (T >= n ATT_R). */
static void part(int T, int n, int i, bool keys, int *a, int *b) {
    int bound[2];
    for (int e = 0; e < 2; e++) {
        int k = i + e;
        double f = keys ? 1 - sqrt(1 - (double)k / n) : sqrt((double)k / n);
        int x = k == n ? T : (int)(f * T) / ATT_R * ATT_R;
        if (x < k * ATT_R) x = k * ATT_R;
        if (k < n && x > T - (n - k) * ATT_R) x = T - (n - k) * ATT_R;
        bound[e] = x;
    }
    *a = bound[0], *b = bound[1];
}

static void forward_kernels(AttKernels K, float *out, float *probs, const float *q, const float *k, const float *v,
                            int T, int n_head, int n_kv, int hd) {
    int G = n_head / n_kv, n = seq_threads(T);
    size_t qs = (size_t)n_head * hd, kvs = (size_t)n_kv * hd, TT = (size_t)T * T;
    float scale = 1.0f / sqrtf((float)hd);
    /* a thread's rows depend on nothing but the same rows: no barrier */
#pragma omp parallel num_threads(n) if (n > 1)
    {
        int ta, tb;
        part(T, omp_get_num_threads(), omp_get_thread_num(), false, &ta, &tb);
        for (int kh = 0; kh < n_kv; kh++) {
            float *P = probs + (size_t)kh * G * TT; // (G, T, T): the group's heads
            K.dots(P, TT, q + (size_t)kh * G * hd, qs, (size_t)hd, G, k + (size_t)kh * hd, kvs, T, hd, scale, ta, tb);
            K.softmax_rows(P, G, T, ta, tb);
            for (int g = 0; g < G; g++)
                K.rows_mat(out + (size_t)(kh * G + g) * hd, qs, P + g * TT, v + (size_t)kh * hd, kvs, T, hd, ta, tb);
        }
    }
}

static void backward_kernels(AttKernels K, float *dq, float *dk, float *dv, const float *dout, const float *probs,
                             const float *q, const float *k, const float *v, int T, int n_head, int n_kv, int hd,
                             float *scratch) {
    int G = n_head / n_kv, n = seq_threads(T);
    size_t qs = (size_t)n_head * hd, kvs = (size_t)n_kv * hd, TT = (size_t)T * T;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel num_threads(n) if (n > 1)
    {
        int m = omp_get_num_threads(), ta, tb, ka, kb;
        part(T, m, omp_get_thread_num(), false, &ta, &tb);
        part(T, m, omp_get_thread_num(), true, &ka, &kb);
        for (int kh = 0; kh < n_kv; kh++) {
            const float *P = probs + (size_t)kh * G * TT, *dO = dout + (size_t)kh * G * hd,
                        *qg = q + (size_t)kh * G * hd;
            float *dS = scratch; // (G, T, T)
            /* out = P V: dP = dO V^T (rows), dV = sum_g P_g^T dO_g (keys) */
            K.dots(dS, TT, dO, qs, (size_t)hd, G, v + (size_t)kh * hd, kvs, T, hd, 1.0f, ta, tb);
            K.cols_rows(dv + (size_t)kh * hd, kvs, P, TT, dO, qs, (size_t)hd, G, T, hd, ka, kb);
            K.softmax_backward_rows(dS, P, G, T, scale, ta, tb);
            /* S = scale q k^T: dq = dS k (rows); dk = sum_g dS_g^T q_g (keys: every row of dS first) */
            for (int g = 0; g < G; g++)
                K.rows_mat(dq + (size_t)(kh * G + g) * hd, qs, dS + g * TT, k + (size_t)kh * hd, kvs, T, hd, ta, tb);
#pragma omp barrier
            K.cols_rows(dk + (size_t)kh * hd, kvs, dS, TT, qg, qs, (size_t)hd, G, T, hd, ka, kb);
#pragma omp barrier
        }
    }
}
#endif

void attention_train_forward(AttentionPath path, float *out, float *probs, const float *q, const float *k,
                             const float *v, int T, int n_head, int n_kv, int hd) {
#ifdef ATT_KERNELS
    if (path != ATTENTION_PORTABLE) {
        forward_kernels(kernels(path), out, probs, q, k, v, T, n_head, n_kv, hd);
        return;
    }
#endif
    (void)path;
    forward_portable(out, probs, q, k, v, T, n_head, n_kv, hd);
}

void attention_train_backward(AttentionPath path, float *dq, float *dk, float *dv, const float *dout,
                              const float *probs, const float *q, const float *k, const float *v, int T, int n_head,
                              int n_kv, int hd, float *scratch) {
#ifdef ATT_KERNELS
    if (path != ATTENTION_PORTABLE) {
        backward_kernels(kernels(path), dq, dk, dv, dout, probs, q, k, v, T, n_head, n_kv, hd, scratch);
        return;
    }
#endif
    (void)path;
    backward_portable(dq, dk, dv, dout, probs, q, k, v, T, n_head, n_kv, hd, scratch);
}
