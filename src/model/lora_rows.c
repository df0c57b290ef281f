/* lora_rows.c: inference's LoRA terms for a few rows of one adapter at a time (lora.h): the rows
 * of one adapter in a step share every read of its factors, where row by row each row read them
 * all again. Each row's arithmetic is written out per lane, on dot_fixed.h's vectors of 16 with
 * element-wise operations (fused multiply-adds, fma16): u[i] is 16 partial sums over the input
 * (element k into lane k mod 16, in the order of k), a tail, then lanes_sum's fixed order;
 * y[o] += scale * (the sum over i of B[o][i] u[i], in the order of i). So a row gets the same bits
 * in a block of any size: the kernel is instantiated for 1 .. LORA_ROW_BLOCK rows with the same
 * code. */
#include <stdlib.h>
#include <string.h>

#include "lora.h"

#include "../core/fault.h"
#include "../tensor/dot_fixed.h"

#define LANES 16

/* u[b * r + i] = A[i] . x[b] for the nb rows (nb a constant after inlining). */
static inline __attribute__((always_inline)) void rows_u(float *restrict u, const float *const *xr, int nb,
                                                         const float *restrict A, int r, int K) {
    for (int i = 0; i < r; i++) {
        const float *a = A + (size_t)i * K;
        v16 acc[LORA_ROW_BLOCK];
        for (int b = 0; b < nb; b++) acc[b] = zero16();
        int k = 0;
        for (; k + LANES <= K; k += LANES) {
            v16 av = load16(a + k);
            for (int b = 0; b < nb; b++) acc[b] = fma16(acc[b], av, load16(xr[b] + k));
        }
        for (int b = 0; b < nb; b++) {
            float tail = 0;
            for (int kk = k; kk < K; kk++) tail += a[kk] * xr[b][kk];
            u[b * r + i] = lanes_sum(acc[b]) + tail;
        }
    }
}

/* y[b][o] += scale * sum over i of B[o][i] u[b * r + i], i in order; Bt (r, N) on vectors over o,
 * or B (N, r) itself (the same operations, one output at a time). */
static inline __attribute__((always_inline)) void rows_y(float *const *yr, int nb, const float *restrict u,
                                                         const LoraPair *p, float scale) {
    int r = p->rank, N = p->out, o = 0;
    if (p->Bt) {
        for (; o + LANES <= N; o += LANES) {
            v16 s[LORA_ROW_BLOCK];
            for (int b = 0; b < nb; b++) s[b] = zero16();
            for (int i = 0; i < r; i++) {
                v16 bt = load16(p->Bt + (size_t)i * N + o);
                for (int b = 0; b < nb; b++) s[b] = fma16(s[b], bt, splat16(u[b * r + i]));
            }
            for (int b = 0; b < nb; b++) store16(yr[b] + o, add16(load16(yr[b] + o), scale16(s[b], scale)));
        }
    }
    for (; o < N; o++)
        for (int b = 0; b < nb; b++) {
            float s = 0;
            for (int i = 0; i < r; i++) s = fma1(s, p->Bt ? p->Bt[(size_t)i * N + o] : p->B[(size_t)o * r + i], u[b * r + i]);
            yr[b][o] += scale * s;
        }
}

static inline __attribute__((always_inline)) void rows_block(float *y, const float *x, const int *rows, int nb,
                                                             const LoraPair *p, float scale) {
    int K = p->in, N = p->out;
    const float *xr[LORA_ROW_BLOCK];
    float *yr[LORA_ROW_BLOCK];
    for (int b = 0; b < nb; b++) xr[b] = x + (size_t)rows[b] * K, yr[b] = y + (size_t)rows[b] * N;
    float u[LORA_ROW_BLOCK * LORA_MAX_RANK];
    rows_u(u, xr, nb, p->A, p->rank, K);
    rows_y(yr, nb, u, p, scale);
}

void lora_apply_rows(float *y, const float *x, const int *rows, int n, const LoraPair *p, float scale) {
    if (!p || !p->A) return;
    for (int j = 0; j < n; j += LORA_ROW_BLOCK) {
        switch (n - j < LORA_ROW_BLOCK ? n - j : LORA_ROW_BLOCK) {
        case 1: rows_block(y, x, rows + j, 1, p, scale); break;
        case 2: rows_block(y, x, rows + j, 2, p, scale); break;
        case 3: rows_block(y, x, rows + j, 3, p, scale); break;
        default: rows_block(y, x, rows + j, LORA_ROW_BLOCK, p, scale); break;
        }
    }
}

void lora_apply_row(float *y, const float *x, const LoraPair *p, float scale) {
    const int row0 = 0;
    lora_apply_rows(y, x, &row0, 1, p, scale);
}

int lora_prepare_rows(Lora *l, Err *err) {
    size_t total = 0;
    for (int i = 0; i < l->n_layer * LORA_N_TARGETS; i++)
        if (l->pairs[i].A) total += (size_t)l->pairs[i].rank * l->pairs[i].out;
    free(l->b_rows);
    if (!(l->b_rows = fault_malloc((total ? total : 1) * sizeof(float)))) return err_set(err, ERR_NOMEM, "out of memory");
    float *bt = l->b_rows;
    for (int i = 0; i < l->n_layer * LORA_N_TARGETS; i++) {
        LoraPair *p = &l->pairs[i];
        if (!p->A) continue;
        int r = p->rank, N = p->out;
        p->Bt = bt;
        for (int j = 0; j < r; j++)
            for (int o = 0; o < N; o++) bt[(size_t)j * N + o] = p->B[(size_t)o * r + j];
        bt += (size_t)r * N;
    }
    return 0;
}
