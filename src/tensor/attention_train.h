/* attention_train.h: causal GQA attention of training over one sequence, forward (saving the
 * probabilities) and backward, behind op_attention_save and op_attention_backward
 * (ops_backward.h, whose contracts these keep). Three paths, all fp32: AVX-512 and AVX2+FMA
 * kernels that compute only the products below the causal diagonal (to the end of the
 * diagonal's tile) and share each kv head's transposed blocks among the query heads of its group,
 * chosen at run time from the CPU's features; and the portable one, full (T, T) OpenBLAS products
 * per head. The kernels need T >= 6 and a head size that is a multiple of their vector (16 or 8
 * floats) up to 256; other shapes take the portable path. Called outside a parallel region, the
 * kernels split the sequence among the threads (by rows, and by keys for dK and dV); inside one
 * (train_step.c's one sequence a thread) they run on the calling thread. */
#ifndef FTUNE_ATTENTION_TRAIN_H
#define FTUNE_ATTENTION_TRAIN_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { ATTENTION_PORTABLE, ATTENTION_AVX2, ATTENTION_AVX512 } AttentionPath;

/* The fastest path this CPU runs for sequences of T rows and heads of hd. */
AttentionPath attention_train_path(int T, int hd);
/* Whether `path` runs on this CPU for these shapes (the portable path always does). */
bool attention_train_path_ok(AttentionPath path, int T, int hd);
const char *attention_train_path_name(AttentionPath path);

/* Scratch floats op_attention_backward needs: (n_head / n_kv) * T * T. */
size_t attention_train_scratch(int T, int n_head, int n_kv);

/* op_attention_save and op_attention_backward on the given path (attention_train_path_ok). */
void attention_train_forward(AttentionPath path, float *out, float *probs, const float *q, const float *k,
                             const float *v, int T, int n_head, int n_kv, int hd);
void attention_train_backward(AttentionPath path, float *dq, float *dk, float *dv, const float *dout,
                              const float *probs, const float *q, const float *k, const float *v, int T, int n_head,
                              int n_kv, int hd, float *scratch);

#endif
