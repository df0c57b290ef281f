/* matmul_bf16.c: the products of matmul_bf16.h through oneDNN (onednn.h): the activations are
 * rounded into the thread's bf16 buffer; the forward's weights are W^T (op(B) of a B stored (N, K)),
 * the backward's W itself. */
#include "matmul_bf16.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/half.h"
#include "onednn.h"

#if defined(__AVX512BF16__)
#include <immintrin.h>
#endif

#define CONVERT_CHUNK 4096 /* elements a thread converts at a time */

/* Rounds to nearest even like f32_to_bf16 (VCVTNEPS2BF16 does the same, NaNs quieted). */
void bf16_convert(uint16_t *dst, const float *src, size_t n) {
    long n_chunks = (long)((n + CONVERT_CHUNK - 1) / CONVERT_CHUNK);
#pragma omp parallel for schedule(static) if (n_chunks > 8)
    for (long c = 0; c < n_chunks; c++) {
        size_t i = (size_t)c * CONVERT_CHUNK, end = i + CONVERT_CHUNK < n ? i + CONVERT_CHUNK : n;
#if defined(__AVX512BF16__)
        for (; i + 16 <= end; i += 16)
            _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + i)));
#endif
        for (; i < end; i++) dst[i] = f32_to_bf16(src[i]);
    }
}

/* --- naive twins --- */

void bf16_matmul_ref(float *y, const float *x, const uint16_t *w, const float *bias, int n, int N, int K) {
    for (int t = 0; t < n; t++)
        for (int j = 0; j < N; j++) {
            double s = bias ? bias[j] : 0;
            for (int k = 0; k < K; k++)
                s += (double)bf16_to_f32(f32_to_bf16(x[(size_t)t * K + k])) * bf16_to_f32(w[(size_t)j * K + k]);
            y[(size_t)t * N + j] = (float)s;
        }
}

void bf16_matmul_backward_ref(float *dx, float beta, const float *dy, const uint16_t *w, int n, int N, int K) {
    for (int t = 0; t < n; t++)
        for (int k = 0; k < K; k++) {
            double s = beta ? dx[(size_t)t * K + k] : 0;
            for (int j = 0; j < N; j++)
                s += (double)bf16_to_f32(f32_to_bf16(dy[(size_t)t * N + j])) * bf16_to_f32(w[(size_t)j * K + k]);
            dx[(size_t)t * K + k] = (float)s;
        }
}

void bf16_matmul_rounded(float *y, const uint16_t *xb, const uint16_t *w, const float *bias, int n, int N, int K) {
    onednn_matmul(ONEDNN_BF16, false, true, n, N, K, 1.0f, xb, w, bias, 0.0f, y);
}

void bf16_matmul(float *y, const float *x, const uint16_t *w, const float *bias, int n, int N, int K) {
    uint16_t *xb = onednn_bf16_buffer((size_t)n * K);
    bf16_convert(xb, x, (size_t)n * K);
    bf16_matmul_rounded(y, xb, w, bias, n, N, K);
}

void bf16_matmul_backward_rounded(float *dx, float beta, const uint16_t *dyb, const uint16_t *w, int n, int N, int K) {
    onednn_matmul(ONEDNN_BF16, false, false, n, K, N, 1.0f, dyb, w, NULL, beta, dx);
}

void bf16_matmul_backward(float *dx, float beta, const float *dy, const uint16_t *w, int n, int N, int K) {
    uint16_t *dyb = onednn_bf16_buffer((size_t)n * N);
    bf16_convert(dyb, dy, (size_t)n * N);
    bf16_matmul_backward_rounded(dx, beta, dyb, w, n, N, K);
}

void bf16_matmul_packed_rounded(float *y, const uint16_t *xb, const OnednnPacked *p, const float *bias, int n) {
    onednn_matmul_packed(p, n, xb, bias, 0.0f, y);
}

void bf16_matmul_packed(float *y, const float *x, const OnednnPacked *p, const float *bias, int n, int K) {
    uint16_t *xb = onednn_bf16_buffer((size_t)n * K);
    bf16_convert(xb, x, (size_t)n * K);
    bf16_matmul_packed_rounded(y, xb, p, bias, n);
}

void bf16_matmul_backward_packed(float *dx, float beta, const float *dy, const OnednnPacked *p, int n, int N) {
    uint16_t *dyb = onednn_bf16_buffer((size_t)n * N);
    bf16_convert(dyb, dy, (size_t)n * N);
    onednn_matmul_packed(p, n, dyb, NULL, beta, dx);
}
