/* head_bf16.h: the vocabulary head and its cross-entropy on the bf16 path, fused a block of the
 * vocabulary at a time. The unfused way (op_matmul, op_cross_entropy_rows, op_matmul_backward)
 * writes a chunk's logits (rows x vocab fp32: 50 MB for 256 rows of SmolLM2's 49,152 tokens) to
 * memory and streams them through four more passes (the softmax's three and the bf16 conversion of
 * the gradient), which cost more than the products. Here each block of HEAD_BF16_BLOCK vocabulary
 * rows is multiplied into a cache-sized block of logits that the loss reads at once, in one sweep:
 * each row keeps its running maximum, its sum of exp (rescaled when the maximum grows, summed in
 * double across blocks), its argmax and its target's logit; with the backward, the block's exp
 * terms exp(z - running max), rounded to bf16 (the target's left out), are multiplied by the
 * block's weights into dx, which is rescaled with the maximum, as flash attention rescales its
 * output, and finished once the sum is known: dx = g / sum * dx + g (p_target - 1) w_target. So
 * the logits are computed once, not again for the gradient, and the target's term, the one that
 * nearly cancels when the model is sure, is not rounded to bf16 at all.
 * Arithmetic: products of bf16(x) and bf16(W) accumulated in fp32, softmax and loss in fp32 (the
 * loss summed in double), each other token's gradient term carrying one bf16 rounding (as
 * op_matmul_backward rounds its operand). The loss is the unfused path's up to the order of sums.
 * Needs the head's bf16 copy (w->bf16) and oneDNN (matmul_bf16.h). */
#ifndef FTUNE_HEAD_BF16_H
#define FTUNE_HEAD_BF16_H

#include "../tensor/ops_quant.h"

#define HEAD_BF16_BLOCK 1024 /* vocabulary rows per block: 1 MiB of fp32 logits per 256 rows */

typedef struct HeadBf16 HeadBf16;

/* Scratch for up to max_rows rows of dim values; NULL when out of memory. */
HeadBf16 *head_bf16_new(int max_rows, int dim);
void head_bf16_free(HeadBf16 *h); /* NULL is a no-op */
/* Packs each vocabulary block of w's bf16 copy for oneDNN (onednn.h) once, for the products of
 * head_bf16_loss with that copy (others run from the plain copy); two more copies of the head in
 * memory. Nothing where w has no bf16 copy or oneDNN cannot. */
void head_bf16_pack(HeadBf16 *h, const QuantMatrix *w);

/* The cross-entropy of logits = x (n, dim) W^T, W = w (vocab, dim) with w->bf16 set, against
 * targets (n), as op_cross_entropy_rows computes it on those logits: returns the summed loss,
 * writes each row's loss into row_loss (may be NULL) and the count of rows whose first argmax is
 * the target into *n_correct. With dx (n, dim) not NULL, dx = d(sum of row losses scaled by
 * grad_scale, times row_scale[i] when given)/dx; dx may be x. n <= max_rows. */
double head_bf16_loss(HeadBf16 *h, const float *x, int n, const QuantMatrix *w, const int *targets, float grad_scale,
                      const float *row_scale, double *row_loss, int *n_correct, float *dx);

#endif
