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

/* Inference's LoRA terms of projection t of layer l added to y (n rows of its outputs) from x: the
 * blocks of rows of one adapter (lora_apply_rows), all of them in one parallel loop (rows of many
 * adapters interleave in a step). */
static void lora_rows(const LayerCtx *c, int l, LoraTarget t, float *y, const float *x) {
#pragma omp parallel for schedule(static) if (c->n_lora_blocks > 1)
    for (int b = 0; b < c->n_lora_blocks; b++) {
        const LoraRowBlock *blk = &c->lora_blocks[b];
        const Lora *lo = c->adapters[blk->adapter];
        lora_apply_rows(y, x, blk->rows, blk->n, lora_pair(lo, l, t), lo->scale);
    }
}

/* Training's LoRA terms of projection t of layer l added to y from x (n, K), keeping the
 * intermediates in a->u: with dropout from its own dropped-out copy of x; without, from the
 * intermediates lora_train_a made for t's whole group. */
static void lora_train(const LayerCtx *c, int l, LoraTarget t, float *y, const float *x, int K, LayerActs *a) {
    const Lora *lo = c->adapters[c->uniform_adapter >= 0 ? c->uniform_adapter : 0];
    const LoraPair *p = lora_pair(lo, l, t);
    if (!p->A) return;
    LoraTarget members[LORA_GROUP_MAX];
    int r = lo->cfg.rank, ld = lora_group(&lo->cfg, t, members) * r;
    if (ld == r) { /* alone in its group: its intermediates are packed already */
        if (c->dropout > 0) lora_apply(y, layer_lora_input(c, x, l, t, K), p, lo->scale, a->u[t], r, c->n);
        else lora_apply_b(y, a->u[t], r, p, lo->scale, c->n);
        return;
    }
    if (c->dropout > 0) {
        lora_apply(y, layer_lora_input(c, x, l, t, K), p, lo->scale, c->lora_u, r, c->n);
        lora_copy_columns(a->u[t], ld, c->lora_u, r, c->n, r);
        return;
    }
    lora_copy_columns(c->lora_u, r, a->u[t], ld, c->n, r);
    lora_apply_b(y, c->lora_u, r, p, lo->scale, c->n);
}

/* Without dropout, the intermediates x A_i^T of every adapted projection of t's group (which reads
 * x) in one product (lora_apply_a). */
static void lora_train_a(const LayerCtx *c, int l, LoraTarget t, const float *x, LayerActs *a) {
    const Lora *lo = c->adapters[c->uniform_adapter >= 0 ? c->uniform_adapter : 0];
    LoraTarget members[LORA_GROUP_MAX];
    int g = lora_group(&lo->cfg, t, members);
    if (!g || c->dropout > 0) return;
    const LoraPair *p[LORA_GROUP_MAX];
    for (int i = 0; i < g; i++) p[i] = lora_pair(lo, l, members[i]);
    lora_apply_a(a->u[members[0]], x, p, g, c->lora_a, c->n);
}

void layer_matmul(float *y, const float *x, const QuantMatrix *w, const float *bias, int n, int n_decode,
                  bool inference) {
    if (!inference) {
        op_matmul(y, x, w, bias, n);
        return;
    }
    op_matmul_inference(y, x, w, bias, n, n_decode);
}

/* ys[i] = x ws[i]^T + biases[i] + LoRA(x) for the projections ts[0..nt) of layer l, which read the
 * same x (n, K): a group of lora_group's. Where training has a packed bf16 copy of every weight the
 * model runs on, or inference multiplies every one of them on AMX tiles, x is rounded to bf16 once
 * for all of them. Each projection's LoRA term is added right after its base product, while its
 * output is still in cache. */
static void projections(const LayerCtx *c, int l, const LoraTarget *ts, int nt, float *const *ys, const float *x,
                        const QuantMatrix *const *ws, const float *const *biases, LayerActs *a) {
    int n = c->n, K = ws[0]->cols;
    const OnednnPacked *pk[LORA_GROUP_MAX];
    bool packed = c->packs != NULL, lora = c->uniform_adapter != -1, train = lora && !c->kv;
    for (int i = 0; i < nt && packed; i++) {
        pk[i] = c->packs[l * LORA_N_TARGETS + ts[i]];
        packed = pk[i] && ws[i]->bf16 && onednn_packed_source(pk[i]) == ws[i]->bf16;
    }
    bool rounds = !packed && c->kv;
    for (int i = 0; i < nt && rounds; i++) rounds = op_matmul_inference_rounds(ws[i]);
    uint16_t *xb = NULL;
    if (packed || rounds) {
        xb = onednn_bf16_buffer((size_t)n * K);
        bf16_convert(xb, x, (size_t)n * K);
    }
    if (train) lora_train_a(c, l, ts[0], x, a);
    for (int i = 0; i < nt; i++) {
        if (packed) bf16_matmul_packed_rounded(ys[i], xb, pk[i], biases[i], n);
        else if (rounds) op_matmul_inference_xb(ys[i], xb, ws[i], biases[i], n);
        else layer_matmul(ys[i], x, ws[i], biases[i], n, c->n_decode, c->kv != NULL);
        if (train) lora_train(c, l, ts[i], ys[i], x, K, a);
        else if (lora) lora_rows(c, l, ts[i], ys[i], x);
    }
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
    for (int r = 0; r < c->n_runs; r++)
        if (c->runs[r].pos0 + c->runs[r].n > ctx) ctx = c->runs[r].pos0 + c->runs[r].n;
    /* every (row, kv head) of every run in one team: one fork and join a layer instead of one a
     * run, and the short runs of decode rows share the threads */
    size_t per_thread = (size_t)OP_ATTENTION_HEADS * ctx;
    int n_kv = cf->n_kv_head;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int r = 0; r < c->n_runs; r++) { /* the runs' keys and values into their slots first */
            const RowRun *run = &c->runs[r];
            size_t k0 = (size_t)run->row0 * kvd;
            float *kc = kv_slot_k(c->kv, l, run->slot), *vc = kv_slot_v(c->kv, l, run->slot);
            memcpy(kc + (size_t)run->pos0 * kvd, a->k + k0, (size_t)run->n * kvd * sizeof(float));
            memcpy(vc + (size_t)run->pos0 * kvd, a->v + k0, (size_t)run->n * kvd * sizeof(float));
        }
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

/* y += x elementwise (the residual stream), split over the threads where it is large. */
static void add_rows(float *y, const float *x, size_t n) {
#pragma omp parallel for simd if (parallel : n > 65536)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void layer_forward(const LayerCtx *c, int l, const float *x_in, float *x_out, LayerActs *a) {
    const Model *m = c->m;
    const ModelConfig *cf = &m->cfg;
    const LayerWeights *w = &m->layers[l];
    int n = c->n, C = cf->dim, F = cf->ffn_dim, hd = cf->head_dim;
    op_rmsnorm_save(a->xn1, a->rstd1, x_in, w->attn_norm, n, C, cf->rms_eps);
    static const LoraTarget qkv[] = {LORA_Q, LORA_K, LORA_V}, o[] = {LORA_O}, gate_up[] = {LORA_GATE, LORA_UP},
                            down[] = {LORA_DOWN};
    projections(c, l, qkv, 3, (float *[]){a->q, a->k, a->v}, a->xn1, (const QuantMatrix *[]){&w->wq, &w->wk, &w->wv},
                (const float *[]){w->bq, w->bk, w->bv}, a);
    op_rope_table(a->q, c->rope_cs, n, cf->n_head, hd);
    op_rope_table(a->k, c->rope_cs, n, cf->n_kv_head, hd);
    attention(c, l, a);
    projections(c, l, o, 1, &a->x_mid, a->att, (const QuantMatrix *[]){&w->wo}, (const float *[]){NULL}, a);
    add_rows(a->x_mid, x_in, (size_t)n * C);
    op_rmsnorm_save(a->xn2, a->rstd2, a->x_mid, w->ffn_norm, n, C, cf->rms_eps);
    projections(c, l, gate_up, 2, (float *[]){a->gate, a->up}, a->xn2,
                (const QuantMatrix *[]){&w->w_gate, &w->w_up}, (const float *[]){NULL, NULL}, a);
    op_swiglu(a->h, a->gate, a->up, (size_t)n * F);
    projections(c, l, down, 1, &x_out, a->h, (const QuantMatrix *[]){&w->w_down}, (const float *[]){NULL}, a);
    add_rows(x_out, a->x_mid, (size_t)n * C);
}
