/* ops.h: the fp32 kernels of the forward pass, each with a naive `_ref` twin that the unit tests
 * compare against. Row-major throughout; shapes are given per function. Kernels never allocate
 * and never fail (callers validate shapes). Threading: the fast versions use OpenBLAS and OpenMP
 * internally; call them from one thread at a time per output buffer. */
#ifndef FTUNE_OPS_H
#define FTUNE_OPS_H

#include <stddef.h>

/* y (T, N) = x (T, K) @ W^T, with W (N, K) row-major (a PyTorch Linear weight), + bias (N) if
 * non-NULL. */
void op_linear(float *y, const float *x, const float *w, const float *bias, int T, int K, int N);
void op_linear_ref(float *y, const float *x, const float *w, const float *bias, int T, int K, int N);

/* y (T, C) = x (T, C) / rms(x) * weight (C); y may equal x. */
void op_rmsnorm(float *y, const float *x, const float *weight, int T, int C, float eps);
void op_rmsnorm_ref(float *y, const float *x, const float *weight, int T, int C, float eps);

/* Rotary embedding, rotate-half convention (Hugging Face / GPT-NeoX): for each of the T rows of
 * x (T, n_heads * head_dim), head h, pair i < head_dim/2 at position pos[t]:
 *   (a, b) = (x[i], x[i + head_dim/2]) -> (a cos - b sin, a sin + b cos),
 *   angle = pos * inv_freq[i]. inv_freq (head_dim/2) is precomputed by rope_inv_freq. */
void op_rope(float *x, const int *pos, const float *inv_freq, int T, int n_heads, int head_dim);
void op_rope_ref(float *x, const int *pos, const float *inv_freq, int T, int n_heads, int head_dim);
/* op_rope in two halves, for a pass that rotates many heads at the same positions (inference's
 * layers): rope_table writes each row's cos and sin (cs: (T, head_dim), the cosines of the
 * head_dim/2 angles then their sines), op_rope_table rotates x by them, to the same bits as op_rope. */
void rope_table(float *cs, const int *pos, const float *inv_freq, int T, int head_dim);
void op_rope_table(float *x, const float *cs, int T, int n_heads, int head_dim);

/* inv_freq[i] = 1 / theta^(2i/head_dim) / freq_factors[i] (freq_factors may be NULL). */
void rope_inv_freq(float *inv_freq, int head_dim, float theta, const float *freq_factors);

/* In place on x (N): x = softmax(x). */
void op_softmax(float *x, int n);

/* h (T, F) = silu(gate (T, F)) * up (T, F); h may equal gate. */
void op_swiglu(float *h, const float *gate, const float *up, size_t n);
void op_swiglu_ref(float *h, const float *gate, const float *up, size_t n);

/* Causal grouped-query attention for T new queries at positions start..start+T-1.
 * q (T, n_head*hd); k_cache, v_cache (max_seq, n_kv*hd) hold positions 0..start+T-1;
 * out (T, n_head*hd). scratch: n_threads * OP_ATTENTION_HEADS * (start + T) floats (attention
 * scores). Each query's output is the same to the bit whatever T and start are (its sums run in an
 * order fixed by its position), so that chunking and batching never change a sequence's results. */
#define OP_ATTENTION_HEADS 3 /* query heads whose scores op_attention_query keeps at once */
void op_attention(float *out, const float *q, const float *k_cache, const float *v_cache, int start, int T,
                  int n_head, int n_kv, int hd, float *scratch);
/* One query at position pos (q, out: its row, (n_head*hd)), the query heads of kv head kh only,
 * against positions 0..pos of the caches, serially: what op_attention runs for each (query, kv
 * head), for callers that spread the queries of many sequences over one team of threads. The
 * heads of a group run together (each key and value row read once for up to OP_ATTENTION_HEADS of
 * them) with each head's sums in the same order as alone. scratch: OP_ATTENTION_HEADS * (pos + 1)
 * floats. */
void op_attention_query(float *out, const float *q, const float *k_cache, const float *v_cache, int pos, int kh,
                        int n_head, int n_kv, int hd, float *scratch);
void op_attention_ref(float *out, const float *q, const float *k_cache, const float *v_cache, int start, int T,
                      int n_head, int n_kv, int hd, float *scratch);

/* Encoder kernels (ops_encoder.c; BERT-style models, tests against the _ref twins in ops_ref.c). */
/* y (T, C) = (x - mean(x)) / sqrt(var(x) + eps) * weight (C) + bias (C), per row; y may equal x. */
void op_layernorm(float *y, const float *x, const float *weight, const float *bias, int T, int C, float eps);
void op_layernorm_ref(float *y, const float *x, const float *weight, const float *bias, int T, int C, float eps);
/* In place on x (n): x = x * (1 + erf(x / sqrt 2)) / 2, GELU's exact (erf) form, as BERT's "gelu"
 * (the normal CDF from fast_erf.h: within 1e-7 of it, as libm's erff route is within 6e-8). */
void op_gelu(float *x, size_t n);
void op_gelu_ref(float *x, size_t n);
/* Bidirectional (unmasked) multi-head attention within each of n_seq sequences packed end to end:
 * sequence i is rows start[i] .. start[i] + len[i] - 1 of q, k, v (R, n_head*hd) and out (R,
 * n_head*hd), and attends to its own rows only; scores scaled by 1/sqrt(hd). scratch: max len[i]
 * floats per thread of the caller's team. A row's result depends neither on the threads nor on the
 * other sequences. */
void op_attention_full(float *out, const float *q, const float *k, const float *v, const int *start, const int *len,
                       int n_seq, int n_head, int hd, float *scratch);
void op_attention_full_ref(float *out, const float *q, const float *k, const float *v, const int *start,
                           const int *len, int n_seq, int n_head, int hd, float *scratch);

/* A thread budget: n, or every core when n <= 0. There is no process-wide setting: the kernels run
 * on the calling thread's OpenMP team size (omp_set_num_threads, which OpenBLAS's OpenMP build
 * follows too), which each entry point (forward_batch, trainer_run) sets from its own budget. */
int ops_threads(int n);

#endif
