/* head_bf16.c: the fused vocabulary head and cross-entropy of head_bf16.h. */
#include "head_bf16.h"

#include <math.h>
#include <stdlib.h>

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
    float *logits;  /* (max_rows, HEAD_BF16_BLOCK) one block, then its gradient */
    uint16_t *grad; /* (max_rows, HEAD_BF16_BLOCK) the block's gradient in bf16 */
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

/* Folds the logits z (nb) of vocabulary rows v0.. into a row's statistics. */
static void block_stats(RowStat *st, const float *z, int nb, int v0, int target) {
    float bm = -INFINITY;
#pragma omp simd reduction(max : bm)
    for (int j = 0; j < nb; j++) bm = z[j] > bm ? z[j] : bm;
    if (bm > st->best_val) {
        int j = 0;
        while (j < nb - 1 && z[j] != bm) j++;
        st->best_val = bm;
        st->best = v0 + j;
    }
    if (bm > st->max) {
        if (st->sum > 0) st->sum *= exp((double)st->max - bm);
        st->max = bm;
    }
    float m = st->max, acc = 0; /* each term <= 1: a block sums in fp32, the blocks in double */
#pragma omp simd reduction(+ : acc)
    for (int j = 0; j < nb; j++) acc += fast_expf(z[j] - m);
    st->sum += acc;
    if (target >= v0 && target < v0 + nb) st->target_logit = z[target - v0];
}

/* z (nb) becomes the gradient of the row's scaled loss g: g softmax(z) - g [j = target]. */
static void block_grad(float *z, int nb, int v0, const RowStat *st, float g, int target) {
    float m = st->max, c = (float)(g / st->sum);
#pragma omp simd
    for (int j = 0; j < nb; j++) z[j] = fast_expf(z[j] - m) * c;
    if (target >= v0 && target < v0 + nb) z[target - v0] -= g;
}

double head_bf16_loss(HeadBf16 *h, const float *x, int n, const QuantMatrix *w, const int *targets, float grad_scale,
                      const float *row_scale, double *row_loss, int *n_correct, float *dx) {
    int C = w->cols, V = w->rows;
    bf16_convert(h->xb, x, (size_t)n * C);
    for (int i = 0; i < n; i++) h->st[i] = (RowStat){0, -INFINITY, -INFINITY, 0, 0};
    for (int v0 = 0; v0 < V; v0 += HEAD_BF16_BLOCK) {
        int nb = V - v0 < HEAD_BF16_BLOCK ? V - v0 : HEAD_BF16_BLOCK;
        block_logits(h, n, nb, v0, w->bf16 + (size_t)v0 * C, C);
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++) block_stats(&h->st[i], h->logits + (size_t)i * nb, nb, v0, targets[i]);
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
    if (!dx) return total;
    for (int v0 = 0; v0 < V; v0 += HEAD_BF16_BLOCK) {
        int nb = V - v0 < HEAD_BF16_BLOCK ? V - v0 : HEAD_BF16_BLOCK;
        const uint16_t *wb = w->bf16 + (size_t)v0 * C;
        block_logits(h, n, nb, v0, wb, C);
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++)
            block_grad(h->logits + (size_t)i * nb, nb, v0, &h->st[i],
                       row_scale ? grad_scale * row_scale[i] : grad_scale, targets[i]);
        bf16_convert(h->grad, h->logits, (size_t)n * nb);
        const OnednnPacked *p = block_pack(h, true, v0, wb);
        if (p) onednn_matmul_packed(p, n, h->grad, NULL, v0 ? 1.0f : 0.0f, dx);
        else bf16_matmul_backward_rounded(dx, v0 ? 1.0f : 0.0f, h->grad, wb, n, nb, C);
    }
    return total;
}
