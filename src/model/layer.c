/* layer.c: the transformer block over a batch of rows (see layer.h). */
#include "layer.h"

#include <omp.h>
#include <string.h>

#include "../tensor/ops.h"
#include "../tensor/ops_backward.h"
#include "../tensor/matmul.h"
#include "../tensor/matmul_bf16.h"

void layer_ctx_prepare(LayerCtx *c) {
    if (c->n_adapters <= 0) {
        c->uniform_adapter = -1;
        return;
    }
    if (!c->row_adapter) {
        c->uniform_adapter = 0;
        return;
    }
    int a0 = c->row_adapter[0] < c->n_adapters ? c->row_adapter[0] : -1;
    c->uniform_adapter = a0 < 0 ? -1 : a0;
    for (int i = 1; i < c->n; i++) {
        int a = c->row_adapter[i] < c->n_adapters ? c->row_adapter[i] : -1;
        if ((a < 0 ? -1 : a) != c->uniform_adapter) {
            c->uniform_adapter = -2;
            return;
        }
    }
}

int layer_lora_blocks(const LayerCtx *c, LoraRowBlock *blocks) {
    int nb = 0;
    for (int a = 0; a < c->n_adapters; a++) {
        LoraRowBlock *cur = NULL;
        for (int i = 0; i < c->n; i++) {
            if ((c->row_adapter ? c->row_adapter[i] : 0) != a) continue;
            if (!cur || cur->n == LORA_ROW_BLOCK) cur = &blocks[nb++], cur->adapter = a, cur->n = 0;
            cur->rows[cur->n++] = i;
        }
    }
    return nb;
}

/* Whether element i (index within its sequence's (n, K) input) of the LoRA input of (layer, t) is
 * kept by dropout p: a stateless hash, so the backward pass regenerates the forward's mask. */
static inline bool drop_keep(uint64_t seed, int layer, int t, size_t i, float p) {
    uint64_t z = seed ^ ((uint64_t)(layer * LORA_N_TARGETS + t) << 40) ^ (uint64_t)i;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0) >= p;
}

const float *layer_lora_input(const LayerCtx *c, const float *x, int l, LoraTarget t, int K) {
    float p = c->dropout;
    if (!(p > 0)) return x;
    float inv = 1.0f / (1.0f - p);
    for (int r = 0; r < c->n_runs; r++) {
        const RowRun *run = &c->runs[r];
        size_t off = (size_t)run->row0 * K, cnt = (size_t)run->n * K;
        for (size_t i = 0; i < cnt; i++)
            c->drop_x[off + i] = drop_keep(run->drop_seed, l, t, i, p) ? x[off + i] * inv : 0.0f;
    }
    return c->drop_x;
}

void layer_lora_input_backward(const LayerCtx *c, float *dx, const float *g, int l, LoraTarget t, int K) {
    float p = c->dropout, inv = 1.0f / (1.0f - p);
    for (int r = 0; r < c->n_runs; r++) {
        const RowRun *run = &c->runs[r];
        size_t off = (size_t)run->row0 * K, cnt = (size_t)run->n * K;
        for (size_t i = 0; i < cnt; i++)
            if (drop_keep(run->drop_seed, l, t, i, p)) dx[off + i] += g[off + i] * inv;
    }
}

/* The LoRA terms of projection t of layer l added to y (n rows of its outputs) from x (n, K).
 * Inference: the blocks of rows of one adapter (lora_apply_rows), all of them in one parallel loop
 * (rows of many adapters interleave in a step). Training (one adapter): as two matrix products,
 * u (n, r) keeping x A^T for the backward pass. */
static void lora_rows(const LayerCtx *c, int l, LoraTarget t, float *y, const float *x, float *u, int K) {
    if (c->uniform_adapter == -1) return;
    if (c->kv) {
#pragma omp parallel for schedule(static) if (c->n_lora_blocks > 1)
        for (int b = 0; b < c->n_lora_blocks; b++) {
            const LoraRowBlock *blk = &c->lora_blocks[b];
            const Lora *lo = c->adapters[blk->adapter];
            lora_apply_rows(y, x, blk->rows, blk->n, lora_pair(lo, l, t), lo->scale);
        }
        return;
    }
    const Lora *lo = c->adapters[c->uniform_adapter >= 0 ? c->uniform_adapter : 0];
    const LoraPair *p = lora_pair(lo, l, t);
    if (!p->A) return;
    lora_apply(y, layer_lora_input(c, x, l, t, K), p, lo->scale, u, c->n);
}

void layer_matmul(float *y, const float *x, const QuantMatrix *w, const float *bias, int n, int n_decode,
                  bool inference) {
    if (!inference) {
        op_matmul(y, x, w, bias, n);
        return;
    }
    op_matmul_inference(y, x, w, bias, n, n_decode);
}

/* y = x W^T + bias + LoRA(x) for projection t of layer l; from its packed bf16 copy where training
 * has one for the copy the model runs on. */
static void projection(const LayerCtx *c, int l, LoraTarget t, float *y, const float *x, const QuantMatrix *w,
                       const float *bias, float *u) {
    const OnednnPacked *p = c->packs ? c->packs[l * LORA_N_TARGETS + t] : NULL;
    if (p && w->bf16 && onednn_packed_source(p) == w->bf16) bf16_matmul_packed(y, x, p, bias, c->n, w->cols);
    else layer_matmul(y, x, w, bias, c->n, c->n_decode, c->kv != NULL);
    lora_rows(c, l, t, y, x, u, w->cols);
}

/* Causal attention of every run: with a cache, the run's keys and values are appended to its slot
 * first and its queries read the slot from position 0; without (training), they read the run's own
 * rows and keep the probabilities, one sequence per thread (their small matmuls then run
 * single-threaded, which scales better than splitting each one). */
static void attention(const LayerCtx *c, int l, LayerActs *a) {
    const ModelConfig *cf = &c->m->cfg;
    int hd = cf->head_dim, qd = cf->n_head * hd, kvd = cf->n_kv_head * hd;
    if (!c->kv) {
#pragma omp parallel for schedule(dynamic, 1) if (c->n_runs > 1)
        for (int r = 0; r < c->n_runs; r++) {
            const RowRun *run = &c->runs[r];
            size_t q0 = (size_t)run->row0 * qd, k0 = (size_t)run->row0 * kvd;
            op_attention_save(a->att + q0, a->probs + run->probs_off, a->q + q0, a->k + k0, a->v + k0, run->n,
                              cf->n_head, cf->n_kv_head, hd);
        }
        return;
    }
    int ctx = 0;
    for (int r = 0; r < c->n_runs; r++) {
        const RowRun *run = &c->runs[r];
        size_t k0 = (size_t)run->row0 * kvd;
        float *kc = kv_slot_k(c->kv, l, run->slot), *vc = kv_slot_v(c->kv, l, run->slot);
        memcpy(kc + (size_t)run->pos0 * kvd, a->k + k0, (size_t)run->n * kvd * sizeof(float));
        memcpy(vc + (size_t)run->pos0 * kvd, a->v + k0, (size_t)run->n * kvd * sizeof(float));
        if (run->pos0 + run->n > ctx) ctx = run->pos0 + run->n;
    }
    /* every (row, kv head) of every run in one team: one fork and join a layer instead of one a
     * run, and the short runs of decode rows share the threads */
    size_t per_thread = (size_t)OP_ATTENTION_HEADS * ctx;
    int n_kv = cf->n_kv_head;
#pragma omp parallel
    {
        float *scratch = c->scores + (size_t)omp_get_thread_num() * per_thread;
        for (int r = 0; r < c->n_runs; r++) {
            const RowRun *run = &c->runs[r];
            const float *kc = kv_slot_k(c->kv, l, run->slot), *vc = kv_slot_v(c->kv, l, run->slot);
#pragma omp for schedule(dynamic, 1) collapse(2) nowait
            for (int t = 0; t < run->n; t++)
                for (int kh = 0; kh < n_kv; kh++) {
                    size_t q0 = (size_t)(run->row0 + t) * qd;
                    op_attention_query(a->att + q0, a->q + q0, kc, vc, run->pos0 + t, kh, cf->n_head, n_kv, hd, scratch);
                }
        }
    }
}

void layer_forward(const LayerCtx *c, int l, const float *x_in, float *x_out, LayerActs *a) {
    const Model *m = c->m;
    const ModelConfig *cf = &m->cfg;
    const LayerWeights *w = &m->layers[l];
    int n = c->n, C = cf->dim, F = cf->ffn_dim, hd = cf->head_dim;
    op_rmsnorm_save(a->xn1, a->rstd1, x_in, w->attn_norm, n, C, cf->rms_eps);
    projection(c, l, LORA_Q, a->q, a->xn1, &w->wq, w->bq, a->u[LORA_Q]);
    projection(c, l, LORA_K, a->k, a->xn1, &w->wk, w->bk, a->u[LORA_K]);
    projection(c, l, LORA_V, a->v, a->xn1, &w->wv, w->bv, a->u[LORA_V]);
    if (c->rope_cs) {
        op_rope_table(a->q, c->rope_cs, n, cf->n_head, hd);
        op_rope_table(a->k, c->rope_cs, n, cf->n_kv_head, hd);
    } else {
        op_rope(a->q, c->pos, c->inv_freq, n, cf->n_head, hd);
        op_rope(a->k, c->pos, c->inv_freq, n, cf->n_kv_head, hd);
    }
    attention(c, l, a);
    projection(c, l, LORA_O, a->x_mid, a->att, &w->wo, NULL, a->u[LORA_O]);
    for (size_t i = 0; i < (size_t)n * C; i++) a->x_mid[i] += x_in[i];
    op_rmsnorm_save(a->xn2, a->rstd2, a->x_mid, w->ffn_norm, n, C, cf->rms_eps);
    projection(c, l, LORA_GATE, a->gate, a->xn2, &w->w_gate, NULL, a->u[LORA_GATE]);
    projection(c, l, LORA_UP, a->up, a->xn2, &w->w_up, NULL, a->u[LORA_UP]);
    op_swiglu(a->h, a->gate, a->up, (size_t)n * F);
    projection(c, l, LORA_DOWN, x_out, a->h, &w->w_down, NULL, a->u[LORA_DOWN]);
    for (size_t i = 0; i < (size_t)n * C; i++) x_out[i] += a->x_mid[i];
}
