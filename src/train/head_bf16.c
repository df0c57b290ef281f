/* head_bf16.c: the fused vocabulary head and cross-entropy of head_bf16.h. */
#include "head_bf16.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "../core/half.h"
#include "../tensor/fast_exp.h"
#include "../tensor/matmul_bf16.h"
#include "../tensor/onednn.h"

typedef struct {
    double sum;         /* sum of exp(z - max) over the blocks seen */
    float max;          /* the largest logit seen */
    float best_val;     /* = max; kept apart so that the argmax is the first maximal index */
    int best;           /* its index */
    float target_logit;
} RowStat;

struct HeadBf16 {
    int max_rows, dim;
    float *logits;  /* (max_rows, HEAD_BF16_BLOCK) one block, then its exp terms (block_stats) */
    uint16_t *grad; /* (max_rows, HEAD_BF16_BLOCK) the exp terms in bf16, the gradient's operand */
    uint16_t *xb;   /* (max_rows, dim) the rows in bf16 */
    RowStat *st;    /* (max_rows) */
    /* each vocabulary block's weights packed for oneDNN (head_bf16_pack), forward and backward,
     * NULL where not packed */
    OnednnPacked **fwd, **bwd;
    int n_blocks;
};

/* The block of vocabulary rows v0.. as packed for the forward or the backward product, where it
 * was packed from the copy wb being multiplied; else NULL. */
static const OnednnPacked *block_pack(const HeadBf16 *h, bool backward, int v0, const uint16_t *wb) {
    int b = v0 / HEAD_BF16_BLOCK;
    if (b >= h->n_blocks) return NULL;
    const OnednnPacked *p = backward ? h->bwd[b] : h->fwd[b];
    return p && onednn_packed_source(p) == wb ? p : NULL;
}

/* logits (n, nb) = xb W_block^T */
static void block_logits(const HeadBf16 *h, int n, int nb, int v0, const uint16_t *wb, int C) {
    const OnednnPacked *p = block_pack(h, false, v0, wb);
    if (p) onednn_matmul_packed(p, n, h->xb, NULL, 0.0f, h->logits);
    else bf16_matmul_rounded(h->logits, h->xb, wb, NULL, n, nb, C);
}

HeadBf16 *head_bf16_new(int max_rows, int dim) {
    HeadBf16 *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->max_rows = max_rows;
    h->dim = dim;
    h->logits = malloc((size_t)max_rows * HEAD_BF16_BLOCK * sizeof(float));
    h->grad = malloc((size_t)max_rows * HEAD_BF16_BLOCK * sizeof(uint16_t));
    h->xb = malloc((size_t)max_rows * dim * sizeof(uint16_t));
    h->st = malloc((size_t)max_rows * sizeof(RowStat));
    if (!h->logits || !h->grad || !h->xb || !h->st) {
        head_bf16_free(h);
        return NULL;
    }
    return h;
}

void head_bf16_pack(HeadBf16 *h, const QuantMatrix *w) {
    if (!w->bf16 || !onednn_built() || h->fwd) return;
    int C = w->cols, V = w->rows, n = (V + HEAD_BF16_BLOCK - 1) / HEAD_BF16_BLOCK;
    if (!(h->fwd = calloc(n, sizeof *h->fwd)) || !(h->bwd = calloc(n, sizeof *h->bwd))) {
        free(h->fwd);
        h->fwd = NULL;
        return;
    }
    h->n_blocks = n;
    for (int b = 0; b < n; b++) {
        int v0 = b * HEAD_BF16_BLOCK, nb = V - v0 < HEAD_BF16_BLOCK ? V - v0 : HEAD_BF16_BLOCK;
        h->fwd[b] = onednn_pack_bf16(w->bf16 + (size_t)v0 * C, nb, C, false);
        h->bwd[b] = onednn_pack_bf16(w->bf16 + (size_t)v0 * C, nb, C, true);
    }
}

void head_bf16_free(HeadBf16 *h) {
    if (!h) return;
    for (int b = 0; b < h->n_blocks; b++) onednn_packed_free(h->fwd[b]), onednn_packed_free(h->bwd[b]);
    free(h->fwd);
    free(h->bwd);
    free(h->logits);
    free(h->grad);
    free(h->xb);
    free(h->st);
    free(h);
}

/* Folds the logits z (nb) of vocabulary rows v0.. into a row's statistics, and leaves in z each
 * exp(z_j - max) at the row's running maximum (the terms of its sum), 0 at the target. Returns the
 * factor exp(old max - new max) by which the row's earlier terms shrink (1 where the maximum
 * stayed). */
static float block_stats(RowStat *st, float *z, int nb, int v0, int target) {
    float bm = -INFINITY, shrink = 1.0f;
#pragma omp simd reduction(max : bm)
    for (int j = 0; j < nb; j++) bm = z[j] > bm ? z[j] : bm;
    if (bm > st->best_val) {
        int j = 0;
        while (j < nb - 1 && z[j] != bm) j++;
        st->best_val = bm;
        st->best = v0 + j;
    }
    if (bm > st->max) {
        if (st->sum > 0) {
            double f = exp((double)st->max - bm);
            st->sum *= f;
            shrink = (float)f;
        }
        st->max = bm;
    }
    bool has_target = target >= v0 && target < v0 + nb;
    if (has_target) st->target_logit = z[target - v0];
    float m = st->max, acc = 0; /* each term <= 1: a block sums in fp32, the blocks in double */
#pragma omp simd reduction(+ : acc)
    for (int j = 0; j < nb; j++) {
        float e = fast_expf(z[j] - m);
        acc += e;
        z[j] = e;
    }
    st->sum += acc;
    if (has_target) z[target - v0] = 0.0f;
    return shrink;
}

/* dx row (C) = g / sum * u + g (p_target - 1) w_target: u the row's sum over the vocabulary of
 * exp(z_v - max) w_v without the target's term, p_target = exp(z_target - max) / sum in double. */
static void finish_row(float *dx, const RowStat *st, float g, const uint16_t *w_target, int C) {
    float c = (float)(g / st->sum);
    float ct = (float)(g * (exp((double)st->target_logit - st->max) / st->sum - 1.0));
    for (int k = 0; k < C; k++) dx[k] = c * dx[k] + ct * bf16_to_f32(w_target[k]);
}

double head_bf16_loss(HeadBf16 *h, const float *x, int n, const QuantMatrix *w, const int *targets, float grad_scale,
                      const float *row_scale, double *row_loss, int *n_correct, float *dx) {
    int C = w->cols, V = w->rows;
    bf16_convert(h->xb, x, (size_t)n * C);
    for (int i = 0; i < n; i++) h->st[i] = (RowStat){0, -INFINITY, -INFINITY, 0, 0};
    /* one sweep: each block's logits fold into the rows' statistics; with dx, their exp terms
     * (rounded to bf16, as the gradient's product rounds its operand) multiply the block's weights
     * into dx, which holds each row's sum so far at its running maximum: rescaled when the maximum
     * grows, finished (finish_row) once the sum over the whole vocabulary is known. So the logits
     * are computed once, not again for the gradient. */
    for (int v0 = 0; v0 < V; v0 += HEAD_BF16_BLOCK) {
        int nb = V - v0 < HEAD_BF16_BLOCK ? V - v0 : HEAD_BF16_BLOCK;
        const uint16_t *wb = w->bf16 + (size_t)v0 * C;
        block_logits(h, n, nb, v0, wb, C);
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++) {
            float shrink = block_stats(&h->st[i], h->logits + (size_t)i * nb, nb, v0, targets[i]);
            if (dx && v0 && shrink != 1.0f)
                for (int k = 0; k < C; k++) dx[(size_t)i * C + k] *= shrink;
        }
        if (!dx) continue;
        bf16_convert(h->grad, h->logits, (size_t)n * nb);
        const OnednnPacked *p = block_pack(h, true, v0, wb);
        if (p) onednn_matmul_packed(p, n, h->grad, NULL, v0 ? 1.0f : 0.0f, dx);
        else bf16_matmul_backward_rounded(dx, v0 ? 1.0f : 0.0f, h->grad, wb, n, nb, C);
    }
    double total = 0;
    int correct = 0;
    for (int i = 0; i < n; i++) {
        const RowStat *st = &h->st[i];
        double loss = log(st->sum) - ((double)st->target_logit - st->max);
        total += loss;
        if (row_loss) row_loss[i] = loss;
        correct += st->best == targets[i];
    }
    if (n_correct) *n_correct = correct;
    if (dx) {
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++)
            finish_row(dx + (size_t)i * C, &h->st[i], row_scale ? grad_scale * row_scale[i] : grad_scale,
                       w->bf16 + (size_t)targets[i] * C, C);
    }
    return total;
}
