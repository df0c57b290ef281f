/* ops_backward.h: backward passes of the forward kernels in ops.h, for training. Shapes follow the
 * forward functions; `d*` are gradients of the loss with respect to the named tensor. Functions
 * that say "accumulate" add into their output, the others overwrite it. Each is checked against
 * finite differences of its forward in tests/unit/test_ops_backward.c. No allocation. */
#ifndef FTUNE_OPS_BACKWARD_H
#define FTUNE_OPS_BACKWARD_H

#include <stddef.h>

/* y = x * rstd * w (per row, rstd = 1/rms(x)): dx (T, C) accumulate, given dy (T, C), x (T, C),
 * the weight w (C) and rstd (T) saved by op_rmsnorm_save. */
void op_rmsnorm_backward(float *dx, const float *dy, const float *x, const float *w, const float *rstd, int T, int C);
/* op_rmsnorm that also stores rstd (T) for the backward pass (rstd may be NULL). */
void op_rmsnorm_save(float *y, float *rstd, const float *x, const float *weight, int T, int C, float eps);

/* The inverse rotation of op_rope_table (ops.h), in place, by the rows' cos and sin that
 * rope_table made for the forward pass: turns d(rotated) into d(unrotated). */
void op_rope_table_backward(float *dx, const float *cs, int T, int n_heads, int head_dim);

/* h = silu(gate) * up: dgate, dup (n) overwrite, given dh (n). */
void op_swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate, const float *up, size_t n);

/* Causal GQA attention over one sequence (no cache offset), saving the probabilities:
 * q (T, n_head*hd), k, v (T, n_kv*hd) -> out (T, n_head*hd), probs (n_head, T, T) (row t holds
 * zeros past t). All fp32; the products run below the causal diagonal only, in AVX-512 or AVX2
 * kernels where the CPU has them (attention_train.h). */
void op_attention_save(float *out, float *probs, const float *q, const float *k, const float *v, int T, int n_head,
                       int n_kv, int hd);
/* Its backward: dq overwrite, dk and dv overwrite (T, n_kv*hd), given dout. scratch:
 * op_attention_backward_scratch(T, n_head, n_kv) floats. */
void op_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *probs, const float *q,
                           const float *k, const float *v, int T, int n_head, int n_kv, int hd, float *scratch);
/* (n_head / n_kv) * T * T: the dP of one kv head's group of query heads. */
size_t op_attention_backward_scratch(int T, int n_head, int n_kv);

/* Cross-entropy of logits (n, V) against targets (n): returns the sum of -log p[target] and
 * overwrites logits with d(sum)/d(logits) = softmax - onehot, times grad_scale. Writes the number
 * of rows whose argmax equals the target to *n_correct (may be NULL). */
double op_cross_entropy(float *logits, const int *targets, int n, int V, float grad_scale, int *n_correct);

/* The same with a gradient scale per row, grad_scale * row_scale[i] (row_scale NULL: 1), and each
 * row's -log p[target] written to row_loss[i] (may be NULL): what a loss that is a function of
 * per-sequence sums of log-probabilities (DPO) needs. */
double op_cross_entropy_rows(float *logits, const int *targets, int n, int V, float grad_scale,
                             const float *row_scale, double *row_loss, int *n_correct);

#endif
