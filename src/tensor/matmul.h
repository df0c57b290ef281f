/* matmul.h: matrix products with a typed weight (ops_quant.h: F32, F16, BF16, Q8_0 ... Q6_K),
 * the weight kept in its stored type. F32 weights go straight to sgemm. Other types: a few rows
 * are multiplied straight from the stored bytes (op_matvec_quant per row: decoding is limited by
 * memory traffic), more rows dequantize the weight a tile of rows at a time into fp32 scratch and
 * run sgemm on each tile (the dequantization costs O(N K) against the product's O(n N K)). Each
 * has a naive _ref twin on fully dequantized weights. A weight with a bf16 copy (w->bf16, made
 * when the model runs at bf16 precision) takes the bf16 path (matmul_bf16.h) in op_matmul, and in
 * the backward pass for more than MATMUL_MATVEC_ROWS rows. Scratch tiles are per calling thread and
 * grow once; nothing else is allocated.
 *
 * Inference needs more than speed: a sequence's reply must not depend on what shares its batch.
 * Summation order changes the last bit of a product, and at bf16 that bit can round an activation
 * to another bf16 value, which grows into a different reply. So the forward pass of inference uses
 * two row-invariant entries: op_matmul_prompt for prompt rows (on AVX2 without AVX-512, a kernel
 * whose every output is one FMA chain over k, for any row count: matmul_panels.h; elsewhere oneDNN
 * calls of exactly MATMUL_PROMPT_BLOCK rows, the last padded with zeros, since the library picks
 * its kernels and blocking from the call's shape; OpenBLAS's, in a build without oneDNN, are not
 * row-invariant on every CPU) and op_matmul_decode for generated tokens (each row computed as
 * op_matvec_quant computes one row, from the stored bytes, the weight row read once for all; at
 * bf16 on AVX512-BF16, bf16_matvec_rows). Where the CPU has AMX tiles, op_matmul_inference runs
 * both kinds of rows through bf16_matvec_rows's AMX kernel, whose tiles make any row count
 * invariant. */
#ifndef FTUNE_MATMUL_H
#define FTUNE_MATMUL_H

#include "ops_quant.h"

#define MATMUL_TILE_FLOATS (1 << 20) /* fp32 values of one dequantized tile of weight rows (4 MiB);
                                     * holds at least one row of any model (cols <= 16 x 65536) */
#define MATMUL_MATVEC_ROWS 4         /* up to this many rows of x use the stored-bytes matvec */
#define MATMUL_PROMPT_BLOCK 64       /* rows of each library call of op_matmul_prompt (shorter blocks are padded) */

/* y (n, N) = x (n, K) W^T + bias (N, may be NULL), W (N, K) = w (rows N, cols K). */
void op_matmul(float *y, const float *x, const QuantMatrix *w, const float *bias, int n);
void op_matmul_ref(float *y, const float *x, const QuantMatrix *w, const float *bias, int n);
/* op_matmul for inference's prompt rows and generated tokens (decode rows): each row's result is
 * the same whatever n and the other rows are (see the header comment). */
void op_matmul_prompt(float *y, const float *x, const QuantMatrix *w, const float *bias, int n);
void op_matmul_decode(float *y, const float *x, const QuantMatrix *w, const float *bias, int n);
/* A step's rows: the first n_decode are generated tokens, the rest prompt rows. At bf16 where the
 * CPU has AMX tiles, all of them in one bf16_matvec_rows call (its AMX kernel is row-invariant for
 * any n, so prompt rows need no padding, and the weights are converted once for the step); else
 * op_matmul_decode and op_matmul_prompt. */
void op_matmul_inference(float *y, const float *x, const QuantMatrix *w, const float *bias, int n, int n_decode);
/* Whether op_matmul_inference takes w's AMX path, which rounds x to bf16 first: then the products
 * of several such weights that read the same x can share one rounding (bf16_convert) and each
 * call op_matmul_inference_xb, with the same bits. */
bool op_matmul_inference_rounds(const QuantMatrix *w);
void op_matmul_inference_xb(float *y, const uint16_t *xb, const QuantMatrix *w, const float *bias, int n);

/* dx (n, K) = dy (n, N) W + beta dx (beta 0 or 1): the input gradient of op_matmul. */
void op_matmul_backward(float *dx, float beta, const float *dy, const QuantMatrix *w, int n);
void op_matmul_backward_ref(float *dx, float beta, const float *dy, const QuantMatrix *w, int n);

/* C (M, N) = alpha op(A) op(B) + beta C for fp32 operands, row-major and packed: op(A) is (M, K),
 * stored (K, M) when trans_a; op(B) is (K, N), stored (N, K) when trans_b. The one entry to BLAS
 * for model/ and train/ (LoRA factors, their gradients, merges): oneDNN's fp32 matmul where ftune
 * was built with it (about twice OpenBLAS's speed at LoRA's skinny shapes), else OpenBLAS. */
void op_gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, const float *B, float beta,
             float *C);
/* op_gemm on row strides of one's choosing (blocks of columns of wider matrices): lda, ldb, ldc
 * elements between the stored rows of A, B and C (lda >= K, or >= M when trans_a; ldb >= N, or >= K
 * when trans_b; ldc >= N). Its naive twin is op_gemm_ref on packed copies. */
void op_gemm_ld(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                int ldb, float beta, float *C, int ldc);
void op_gemm_ref(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, const float *B,
                 float beta, float *C);

/* out (cols) = row i of w, dequantized (embedding lookup). */
void op_matrix_row(float *out, const QuantMatrix *w, int i);

#endif
