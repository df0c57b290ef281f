/* lora.h: LoRA adapters for the seven projections of every layer (q, k, v, o, gate, up, down):
 * y = W x + scale * B (A x), A (r, in), B (out, r), scale = alpha / r. Parameters, gradients and
 * the AdamW moments are four parallel contiguous buffers (the only trainable state). Rows are in
 * Hugging Face order, as PEFT stores them. Saving/loading in the PEFT layout is in peft.h. */
#ifndef FTUNE_LORA_H
#define FTUNE_LORA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

struct Model;

typedef enum { LORA_Q, LORA_K, LORA_V, LORA_O, LORA_GATE, LORA_UP, LORA_DOWN, LORA_N_TARGETS } LoraTarget;

#define LORA_ALL_TARGETS ((1u << LORA_N_TARGETS) - 1)
#define LORA_MAX_RANK 1024

typedef struct {
    int rank;
    float alpha;
    float dropout;     /* probability on the LoRA branch's input; 0 = off */
    unsigned targets;  /* bit (1 << LoraTarget) per adapted projection */
} LoraConfig;

typedef struct {
    float *A; // (r, in), NULL when this projection is not adapted
    float *B; // (out, r)
    int in, out, rank;
    float *Bt; // (r, out): B transposed for lora_apply_rows (lora_prepare_rows), else NULL
} LoraPair;

typedef struct Lora {
    LoraConfig cfg;
    float scale;       /* alpha / rank */
    int n_layer;
    LoraPair *pairs;   /* n_layer * LORA_N_TARGETS, index layer * LORA_N_TARGETS + target */
    float *params;     /* every A and B, contiguous */
    float *grads;      /* same layout as params */
    float *adam_m;     /* same layout */
    float *adam_v;     /* same layout */
    size_t n_params;
    float *b_rows;     /* every Bt, contiguous (lora_prepare_rows), or NULL */
} Lora;

/* Allocates adapters shaped for model m (parameters zeroed; see lora_init). ERR_ARG for a bad
 * rank, alpha, dropout or an empty target set. Caller frees with lora_free. */
int lora_new(const struct Model *m, const LoraConfig *cfg, Lora **out, Err *err);
void lora_free(Lora *l); /* NULL is a no-op */

/* PEFT's initialisation: A ~ U(-1/sqrt(in), 1/sqrt(in)) from seed, B = 0 (so the adapted model
 * starts equal to the base model). Clears gradients and moments. */
void lora_init(Lora *l, uint64_t seed);

static inline const LoraPair *lora_pair(const Lora *l, int layer, LoraTarget t) {
    return l ? &l->pairs[layer * LORA_N_TARGETS + t] : NULL;
}
/* The gradient buffer that matches a parameter pointer inside l->params. */
static inline float *lora_grad(const Lora *l, const float *param) { return l->grads + (param - l->params); }

/* Names from the architecture tables (arch.h); "?" for an unknown target. */
const char *lora_target_name(LoraTarget t);   /* "q_proj", ... "down_proj" */
const char *lora_target_module(LoraTarget t); /* PEFT module: "self_attn.q_proj", ... "mlp.down_proj" */
/* Parses a comma-separated list ("q,k,v" or "q_proj,v_proj" or "all") into a target mask. */
int lora_parse_targets(const char *list, unsigned *targets, Err *err);

/* y (T, N) += scale * (x A^T) B^T for one adapted projection; u (T, r) receives x A^T, its rows ldu
 * floats apart (r, or a group's width: lora_group). A no-op when p is NULL or not adapted. */
void lora_apply(float *y, const float *x, const LoraPair *p, float scale, float *u, int ldu, int T);

/* Merging: w (nr, in) += scale * B[r0 .. r0 + nr) A, rows r0.. of the adapted weight (p adapted),
 * each value's sum over the rank in double, in rank order, then added and rounded once: the same
 * bits on every CPU (a library's product differs in the last bit from one CPU to another, and so
 * would the bytes of an exported file). ERR_NOMEM. */
int lora_merge_rows(float *w, const LoraPair *p, float scale, int r0, int nr, Err *err);

/* Training's groups of projections that read one input: q, k, v (the attention norm's output) and
 * gate, up (the MLP norm's); o and down alone. A group's LoRA intermediates x A_i^T lie side by side
 * in one (T, g r) matrix, member i in columns i r .. (i + 1) r, so that one product serves them all.
 * Writes the targets of t's group that cfg adapts into members, in target order, and returns their
 * count g (0: none). */
#define LORA_GROUP_MAX 3
int lora_group(const LoraConfig *cfg, LoraTarget t, LoraTarget members[LORA_GROUP_MAX]);
/* dst (T, r) = src (T, r), rows ldd and lds floats apart: one member's columns of a group's
 * intermediates in or out of a packed copy (oneDNN runs LoRA's products on packed (T, r) operands
 * up to 1.5x faster than on columns of a (T, g r) matrix). */
void lora_copy_columns(float *dst, int ldd, const float *src, int lds, int T, int r);
/* A (g r, in) = the A factors of p[0..g), stacked (every p[i]->in the same). */
void lora_stack_a(float *A, const LoraPair *const *p, int g);
/* lora_apply in halves, for the g adapted projections p[0..g) of one layer that read the same x
 * (T, in): lora_apply_a makes every member's u at once, u (T, g r) = x [A_0; ..; A_{g-1}]^T, in one
 * product that reads x once (the stacked A in a_buf, (g r, in), when g > 1); lora_apply_b then adds
 * y (T, out) += scale * u_i B^T for one member from its columns of u (rows ldu apart). Together
 * equal to g lora_apply calls within fp32 rounding (the same sums, perhaps in another order). */
void lora_apply_a(float *u, const float *x, const LoraPair *const *p, int g, float *a_buf, int T);
void lora_apply_b(float *y, const float *u, int ldu, const LoraPair *p, float scale, int T);
/* Inference's LoRA terms (lora_rows.c), one adapted projection for a few rows of one adapter:
 * y[rows[j]] (out) += scale * B (A x[rows[j]]) (x[rows[j]] of in values), j < n <= LORA_ROW_BLOCK,
 * y and x row-major with out and in values a row. The rows share the reads of A and B, and each
 * row's sums run in an order fixed by the row alone (lanes of 16 over the input, then over the
 * rank in order), so that its result does not depend on the rows beside it (matmul.h says why).
 * A no-op when p is NULL or not adapted. */
#define LORA_ROW_BLOCK 4
void lora_apply_rows(float *y, const float *x, const int *rows, int n, const LoraPair *p, float scale);
/* The same for one row y (out), x (in): the bits lora_apply_rows gives that row. */
void lora_apply_row(float *y, const float *x, const LoraPair *p, float scale);
/* Makes the transposed copies of B that lora_apply_rows reads on vectors (an adapter loaded for
 * inference; its parameters must not change afterwards); without them it gives the same bits,
 * slower. ERR_NOMEM. */
int lora_prepare_rows(Lora *l, Err *err);

#endif
