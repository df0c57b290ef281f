/* matmul_bf16.h: the bf16 compute path for products with the frozen base weights: x and W rounded
 * to bfloat16 (8-bit significand), products accumulated in fp32, through oneDNN's matmul primitive
 * (AMX tiles on Intel Sapphire Rapids and later, AVX512-BF16 on AMD Zen 4 and Intel Cooper Lake).
 * W is the caller's bf16 copy of a weight (rows N, cols K, row-major); x is converted to bf16 in a
 * per-thread scratch on each call (onednn.h). Only these products run in bf16: LoRA factors, their
 * gradients, norms, attention, softmax, the loss and the residual stream stay fp32 (matmul.h,
 * ops.h). Without oneDNN at build time (onednn_built() false) they must not be called
 * (tensor/precision.h never selects bf16 then). Each kernel has a naive _ref twin: the same bf16
 * rounding of the inputs, products summed in double. */
#ifndef FTUNE_MATMUL_BF16_H
#define FTUNE_MATMUL_BF16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "onednn.h"
#include "ops_quant.h"

/* dst (n) = src rounded to bf16 (nearest even); where the CPU converts with VCVTNEPS2BF16,
 * subnormal inputs (below 2^-126 in magnitude) become signed zeros, as in oneDNN. */
void bf16_convert(uint16_t *dst, const float *src, size_t n);

/* y (n, N) = bf16(x) (n, K) W^T + bias (N, may be NULL), W (N, K) in bf16. */
void bf16_matmul(float *y, const float *x, const uint16_t *w, const float *bias, int n, int N, int K);
void bf16_matmul_ref(float *y, const float *x, const uint16_t *w, const float *bias, int n, int N, int K);

/* y (n, rows) = bf16(x) (n, cols) W^T + bias for inference's decode rows (matvec_bf16.c), W = w in
 * bf16 (quant_bf16.h's rounding: the values of w->bf16, which must be set): on AVX512-BF16, each
 * row's result the same whatever n is and whichever rows share the call, on AMX tiles where the CPU
 * has them, else VDPBF16PS. Only where bf16_matvec_available() (the CPU has AVX512-BF16); its naive
 * twin is bf16_matmul_ref. */
bool bf16_matvec_available(void);
void bf16_matvec_rows(float *y, const float *x, const QuantMatrix *w, const float *bias, int n);
/* bf16_matvec_rows on a chosen kernel (it takes AMX where amx_matvec_available(), matvec_amx.h), for
 * the tests of each: the two give slightly different sums, each invariant. */
typedef enum { BF16_DECODE_VDPBF16PS, BF16_DECODE_AMX } Bf16DecodeKernel;
void bf16_matvec_rows_with(Bf16DecodeKernel kernel, float *y, const float *x, const QuantMatrix *w, const float *bias,
                           int n);

/* dx (n, K) = bf16(dy) (n, N) W + beta dx (beta 0 or 1), W (N, K) in bf16. */
void bf16_matmul_backward(float *dx, float beta, const float *dy, const uint16_t *w, int n, int N, int K);
void bf16_matmul_backward_ref(float *dx, float beta, const float *dy, const uint16_t *w, int n, int N, int K);

/* bf16_matmul and bf16_matmul_backward on activations the caller has already rounded (xb (n, K),
 * dyb (n, N), e.g. with bf16_convert), for a caller that multiplies one input by many weights or
 * writes its gradients in bf16 directly (train/head_bf16.h). */
void bf16_matmul_rounded(float *y, const uint16_t *xb, const uint16_t *w, const float *bias, int n, int N, int K);
void bf16_matmul_backward_rounded(float *dx, float beta, const uint16_t *dyb, const uint16_t *w, int n, int N, int K);

/* bf16_matmul and bf16_matmul_backward from a weight packed once in oneDNN's blocked layout
 * (onednn_pack_bf16: a forward pack for the first, a backward one for the second): the same
 * products, faster; training packs its base weights so (train_step.c). K and N as above. */
void bf16_matmul_packed(float *y, const float *x, const OnednnPacked *p, const float *bias, int n, int K);
void bf16_matmul_backward_packed(float *dx, float beta, const float *dy, const OnednnPacked *p, int n, int N);
/* bf16_matmul_packed on an input the caller has already rounded (xb (n, K), bf16_convert), for one
 * input multiplied by several weights (training's q, k, v and gate, up: model/layer.c). */
void bf16_matmul_packed_rounded(float *y, const uint16_t *xb, const OnednnPacked *p, const float *bias, int n);

#endif
