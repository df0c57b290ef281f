/* lora_grad.h: the LoRA factors' gradients of training's backward pass (train_step.c), for a
 * projection y += scale u B^T with u = x A^T: the B side from d(y), the A side from du for a group of
 * projections that read one input (lora_group). Every product fp32 (op_gemm), the gradients
 * accumulated into the adapter's gradient buffer. */
#ifndef FTUNE_LORA_GRAD_H
#define FTUNE_LORA_GRAD_H

#include "../model/lora.h"

/* du (n, r), its rows lddu floats apart, = scale dy B; dB += scale dy^T u (u (n, r) with rows ld
 * apart), computed as u^T dy into dbt (r, out) (oneDNN runs that shape about twice as fast as
 * dy^T u at LoRA's ranks) and added transposed. dy (n, out) is p's output gradient. (A hand-written
 * AVX-512 pass making du and dB^T together from one read of dy measured no faster than these two
 * products on SmolLM2's shapes, so there is none.) */
void lora_grad_b(Lora *l, const LoraPair *p, float scale, const float *dy, const float *u, int ld, float *du,
                 int lddu, float *dbt, int n);

/* The A side of g projections p[0..g) that read the same x (n, in), du (n, g r) their lora_grad_b
 * results side by side: dA_i += du_i^T x and dx (n, in) += sum_i du_i A_i, each as one product for
 * the group (reading x and dx once) with the A factors stacked in a_buf (g r, in) and the stacked
 * gradient in da_buf (g r, in). */
void lora_grad_a_group(Lora *l, const LoraPair *const *p, int g, const float *du, const float *x, float *dx,
                       float *a_buf, float *da_buf, int n);

#endif
