/* train_step.c: forward with saved activations and backward over packed sequences (see
 * train_step.h). The forward is the engine's one block (model/layer.c) asked to keep every
 * activation; the backward is its exact reverse, layer by layer:
 *   x_mid = x_in + o(att(rope(q(xn1)), rope(k(xn1)), v(xn1))),  xn1 = rmsnorm(x_in)
 *   x_out = x_mid + down(silu(gate(xn2)) * up(xn2)),             xn2 = rmsnorm(x_mid)
 * Base weights get no gradient. The head runs only on the trained positions, in chunks, so a
 * large vocabulary costs memory for a chunk only. */
#include "train_step.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fault.h"
#include "../model/arch.h"
#include "../model/layer.h"
#include "../tensor/matmul.h"
#include "../tensor/matmul_bf16.h"
#include "../tensor/ops.h"
#include "../tensor/ops_backward.h"
#include "head_bf16.h"
#include "lora_grad.h"

/* trained positions per head matmul: the typed head is dequantized (fp32) or its packed blocks read
 * (bf16) once per chunk; 512 rather than 256 took bf16 training 7-9% faster (bench/RESULTS.md) for
 * 48 MiB more of fp32 logits, which the bf16 path never touches */
#define HEAD_CHUNK 512

struct TrainState {
    const Model *m;
    Lora *lora;
    LoraConfig sized;     /* the adapter shape the buffers are sized for (rank 0: none) */
    int max_len, max_rows;
    float *arena;
    LayerActs *acts;      // (n_layer)
    float **x_in;         // (n_layer + 1) each (R, C): the input of each layer, then the final residual
    float *xn_final, *rstd_final;
    /* backward scratch */
    float *dx, *dxn, *dq, *dk, *dv, *datt, *dgate, *dup, *dh, *dP, *head, *gather, *inv_freq, *drop_x;
    float *rope_cs;       // (R, head_dim) the batch's RoPE cos and sin (rope_table), once for every layer and both passes
    float *du;            // (R, LORA_GROUP_MAX * r) a group's scale dy_i B_i side by side, as its u
    float *lora_u;        // (R, r) one projection's u or du, packed (LayerCtx.lora_u)
    float *lora_a, *lora_da; // (LORA_GROUP_MAX * r, max(C, qd, F)) x2: a group's stacked A factors and their gradient
    float *dbt;           // (r, max(C, qd, F)) lora_grad_b's scratch: one projection's dB transposed
    int *pos, *rows, *targets;
    int *row_seq;         // (R) the batch index of the sequence a trained row belongs to
    float *row_scale;     // (R) that sequence's gradient weight
    double *row_loss;     // (HEAD_CHUNK) -log p(target) of the rows of a head chunk
    const float *seq_weight; /* of the current train_batch_weighted call, or NULL */
    double *seq_nll;         /* of the current call, or NULL */
    RowRun *runs;
    HeadBf16 *head_bf16;  /* the head's scratch on the bf16 path (head_bf16.h) */
    /* on the bf16 path: each projection's bf16 weight packed for oneDNN (onednn.h), forward packs
     * [layer * LORA_N_TARGETS + target], then the backward ones; NULL where not packed */
    OnednnPacked **packs;
    LayerCtx lc;
    uint64_t drop_seed;   /* for train_sequence */
};

void train_state_free(TrainState *s) {
    if (!s) return;
    free(s->arena);
    free(s->acts);
    free(s->x_in);
    free(s->pos);
    free(s->rows);
    free(s->targets);
    free(s->row_seq);
    free(s->row_scale);
    free(s->row_loss);
    free(s->runs);
    head_bf16_free(s->head_bf16);
    for (int i = 0; s->packs && i < 2 * s->m->cfg.n_layer * LORA_N_TARGETS; i++) onednn_packed_free(s->packs[i]);
    free(s->packs);
    free(s);
}

/* Projection t's weight in layer l. */
static const QuantMatrix *projection_weight(const Model *m, int l, LoraTarget t) {
    const ArchWeight *aw = arch_find_lora_weight(arch_describe(m->cfg.arch), t);
    return (const QuantMatrix *)((const char *)&m->layers[l] + aw->slot);
}

/* On the bf16 path, packs every projection's bf16 weight, and the head's (head_bf16_pack), once for
 * the forward and the backward products (twice the bf16 copies' memory, for products 15-30%
 * faster). A weight oneDNN cannot pack (or a failed allocation) stays on its plain copy. */
static void pack_weights(TrainState *s) {
    const Model *m = s->m;
    int n = m->cfg.n_layer * LORA_N_TARGETS;
    if (m->precision != PRECISION_BF16 || !onednn_built()) return;
    head_bf16_pack(s->head_bf16, &m->output);
    if (!(s->packs = calloc(2 * (size_t)n, sizeof *s->packs))) return;
    for (int l = 0; l < m->cfg.n_layer; l++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const QuantMatrix *w = projection_weight(m, l, (LoraTarget)t);
            if (!w->bf16) continue;
            s->packs[l * LORA_N_TARGETS + t] = onednn_pack_bf16(w->bf16, w->rows, w->cols, false);
            s->packs[n + l * LORA_N_TARGETS + t] = onednn_pack_bf16(w->bf16, w->rows, w->cols, true);
        }
}

int train_state_new(const Model *m, Lora *lora, int max_len, int max_rows, TrainState **out, Err *err) {
    *out = NULL;
    const ModelConfig *c = &m->cfg;
    if (max_len < 2) return err_set(err, ERR_ARG, "sequences need at least 2 tokens");
    if (max_rows < max_len) max_rows = max_len;
    size_t R = max_rows, C = c->dim, F = c->ffn_dim, qd = (size_t)c->n_head * c->head_dim,
           kvd = (size_t)c->n_kv_head * c->head_dim, r = lora ? lora->cfg.rank : 0, V = c->vocab, L = max_len;
    size_t wide = C > qd ? C : qd;
    if (F > wide) wide = F;
    int n_lora = 0;
    for (int t = 0; t < LORA_N_TARGETS; t++) n_lora += lora && (lora->cfg.targets & (1u << t));
    /* attention probabilities: n_head * sum(len^2) <= n_head * max_len * rows */
    size_t per_layer = 4 * R * C + 2 * R + 2 * R * qd + 2 * R * kvd + (size_t)c->n_head * R * L + 3 * R * F +
                       (size_t)n_lora * R * r;
    int n_threads = omp_get_max_threads();
    size_t att_scratch = op_attention_backward_scratch(max_len, c->n_head, c->n_kv_head); /* a thread's dP */
    size_t total = per_layer * c->n_layer + R * C /* final residual */ + R * C + R + /* final norm */
                   2 * R * C + 2 * R * qd + 2 * R * kvd + 3 * R * F + (size_t)n_threads * att_scratch + HEAD_CHUNK * V +
                   HEAD_CHUNK * C + (size_t)c->head_dim / 2 + R * c->head_dim + (lora && lora->cfg.dropout > 0 ? R * wide : 0) +
                   LORA_GROUP_MAX * r * (R + 2 * wide) + r * wide + R * r;
    TrainState *s = fault_calloc(1, sizeof *s);
    if (!s) return err_set(err, ERR_NOMEM, "out of memory");
    s->m = m;
    s->lora = lora;
    if (lora) s->sized = lora->cfg;
    s->max_len = max_len;
    s->max_rows = max_rows;
    s->arena = fault_malloc(total * sizeof(float));
    s->acts = fault_calloc(c->n_layer, sizeof(LayerActs));
    s->x_in = fault_calloc(c->n_layer + 1, sizeof(float *));
    s->pos = fault_malloc(R * sizeof(int));
    s->rows = fault_malloc(R * sizeof(int));
    s->targets = fault_malloc(R * sizeof(int));
    s->runs = fault_malloc(R * sizeof(RowRun));
    s->row_seq = fault_malloc(R * sizeof(int));
    s->row_scale = fault_malloc(R * sizeof(float));
    s->row_loss = fault_malloc(HEAD_CHUNK * sizeof(double));
    s->head_bf16 = head_bf16_new(HEAD_CHUNK, c->dim);
    if (!s->arena || !s->acts || !s->x_in || !s->pos || !s->rows || !s->targets || !s->runs || !s->row_seq ||
        !s->row_scale || !s->row_loss || !s->head_bf16) {
        train_state_free(s);
        return err_set(err, ERR_NOMEM, "cannot allocate %zu MiB of activations for %d tokens per pass",
                       total * sizeof(float) >> 20, max_rows);
    }
    float *p = s->arena;
#define TAKE(ptr, n) do { (ptr) = p; p += (n); } while (0)
    for (int l = 0; l < c->n_layer; l++) {
        LayerActs *a = &s->acts[l];
        TAKE(s->x_in[l], R * C); TAKE(a->xn1, R * C); TAKE(a->rstd1, R);
        TAKE(a->q, R * qd); TAKE(a->k, R * kvd); TAKE(a->v, R * kvd);
        TAKE(a->probs, (size_t)c->n_head * R * L); TAKE(a->att, R * qd);
        TAKE(a->x_mid, R * C); TAKE(a->xn2, R * C); TAKE(a->rstd2, R);
        TAKE(a->gate, R * F); TAKE(a->up, R * F); TAKE(a->h, R * F);
        for (int t = 0; t < LORA_N_TARGETS && lora; t++) { /* each group's side by side (lora_group) */
            LoraTarget members[LORA_GROUP_MAX];
            int g = lora_group(&lora->cfg, (LoraTarget)t, members);
            if (g && members[0] == (LoraTarget)t) {
                TAKE(a->u[t], R * g * r);
                for (int i = 1; i < g; i++) a->u[members[i]] = a->u[t] + i * r;
            }
        }
    }
    TAKE(s->x_in[c->n_layer], R * C); TAKE(s->xn_final, R * C); TAKE(s->rstd_final, R);
    TAKE(s->dx, R * C); TAKE(s->dxn, R * C); TAKE(s->dq, R * qd); TAKE(s->datt, R * qd);
    TAKE(s->dk, R * kvd); TAKE(s->dv, R * kvd); TAKE(s->dgate, R * F); TAKE(s->dup, R * F); TAKE(s->dh, R * F);
    TAKE(s->dP, (size_t)n_threads * att_scratch); TAKE(s->head, HEAD_CHUNK * V); TAKE(s->gather, HEAD_CHUNK * C);
    TAKE(s->du, LORA_GROUP_MAX * r * R); TAKE(s->lora_a, LORA_GROUP_MAX * r * wide); TAKE(s->lora_da, LORA_GROUP_MAX * r * wide);
    TAKE(s->dbt, r * wide); TAKE(s->lora_u, R * r);
    TAKE(s->inv_freq, (size_t)c->head_dim / 2); TAKE(s->rope_cs, R * c->head_dim);
    if (lora && lora->cfg.dropout > 0) TAKE(s->drop_x, R * wide);
#undef TAKE
    rope_inv_freq(s->inv_freq, c->head_dim, c->rope_theta, m->rope_factors);
    pack_weights(s);
    *out = s;
    return 0;
}

void train_state_set_dropout_seed(TrainState *s, uint64_t seed) { s->drop_seed = seed; }

int train_state_set_lora(TrainState *s, Lora *lora, Err *err) {
    const LoraConfig *had = &s->sized;
    if (lora && (lora->cfg.rank != had->rank || lora->cfg.targets != had->targets ||
                 (lora->cfg.dropout > 0) != (had->dropout > 0)))
        return err_set(err, ERR_ARG, "the adapter's rank, targets or dropout differ from those the state was sized for");
    s->lora = lora;
    return 0;
}

/* dx (n, K) = dy W for projection t of layer l (beta 0: overwritten, 1: accumulated), the base part
 * of its input gradient: from its packed bf16 copy where there is one. */
static void base_bwd(TrainState *s, float *dx, float beta, const float *dy, const QuantMatrix *w, int layer,
                     LoraTarget t) {
    int n = s->lc.n, N = w->rows;
    const OnednnPacked *pk = s->packs ? s->packs[(s->m->cfg.n_layer + layer) * LORA_N_TARGETS + t] : NULL;
    if (pk && w->bf16 && onednn_packed_source(pk) == w->bf16 && n > MATMUL_MATVEC_ROWS)
        bf16_matmul_backward_packed(dx, beta, dy, pk, n, N);
    else op_matmul_backward(dx, beta, dy, w, n);
}

/* Backward of the projections ts[0..nt) of layer l, which read the same x (n, K) (a group of
 * lora_group's), given dys[i] = d(y_i) (n, N_i): dx (n, K) = sum_i dys[i] W_i + their LoRA parts
 * (overwritten), and their LoRA factors' gradients accumulated. With y_i += scale u_i B_i^T,
 * u_i = x' A_i^T (x' the dropped-out x): du_i = scale dy_i B_i, dB_i += scale dy_i^T u_i,
 * dA_i += du_i^T x', dx += du_i A_i. Without dropout the A side is one product for the group. */
static void group_bwd(TrainState *s, int layer, const LoraTarget *ts, int nt, const float *const *dys, float *dx,
                      const float *x) {
    int n = s->lc.n, K = projection_weight(s->m, layer, ts[0])->cols;
    for (int i = 0; i < nt; i++) base_bwd(s, dx, i ? 1.0f : 0.0f, dys[i], projection_weight(s->m, layer, ts[i]), layer, ts[i]);
    LoraTarget members[LORA_GROUP_MAX];
    int g = lora_group(&s->lora->cfg, ts[0], members);
    if (!g) return;
    int r = s->lora->cfg.rank, ld = g * r;
    float scale = s->lora->scale;
    const LoraPair *p[LORA_GROUP_MAX];
    for (int i = 0; i < g; i++) {
        p[i] = lora_pair(s->lora, layer, members[i]);
        const float *dy = NULL;
        for (int j = 0; j < nt; j++)
            if (ts[j] == members[i]) dy = dys[j];
        float *du = g > 1 ? s->lora_u : s->du; /* packed, then into its columns of the group's du */
        lora_grad_b(s->lora, p[i], scale, dy, s->acts[layer].u[members[i]], ld, du, r, s->dbt, n);
        if (g > 1) lora_copy_columns(s->du + i * r, ld, du, r, n, r);
    }
    if (!(s->lc.dropout > 0) && g > 1) {
        lora_grad_a_group(s->lora, p, g, s->du, x, dx, s->lora_a, s->lora_da, n);
        return;
    }
    for (int i = 0; i < g; i++) {
        const float *xin = layer_lora_input(&s->lc, x, layer, members[i], K);
        op_gemm_ld(true, false, r, K, n, 1.0f, s->du + i * r, ld, xin, K, 1.0f, lora_grad(s->lora, p[i]->A), K);
        if (!(s->lc.dropout > 0)) {
            op_gemm_ld(false, false, n, K, r, 1.0f, s->du + i * r, ld, p[i]->A, K, 1.0f, dx, K);
            continue;
        }
        /* d(dropped input) = du A, then back through the mask */
        op_gemm_ld(false, false, n, K, r, 1.0f, s->du + i * r, ld, p[i]->A, K, 0.0f, s->drop_x, K);
        layer_lora_input_backward(&s->lc, dx, s->drop_x, layer, members[i], K);
    }
}

static void forward(TrainState *s, const int32_t *const *ids) {
    const Model *m = s->m;
    const ModelConfig *c = &m->cfg;
    int C = c->dim;
    for (int r = 0; r < s->lc.n_runs; r++) {
        const RowRun *run = &s->runs[r];
        for (int t = 0; t < run->n; t++)
            op_matrix_row(s->x_in[0] + (size_t)(run->row0 + t) * C, &m->tok_embd, ids[r][t]);
    }
    for (int l = 0; l < c->n_layer; l++) layer_forward(&s->lc, l, s->x_in[l], s->x_in[l + 1], &s->acts[l]);
    op_rmsnorm_save(s->xn_final, s->rstd_final, s->x_in[c->n_layer], m->out_norm, s->lc.n, C, c->rms_eps);
}

/* Loss on the selected rows; with backward, d(loss)/d(xn_final) into s->dxn (zero elsewhere). Each
 * row's gradient is scaled by its sequence's weight and its loss added to its sequence's sum when
 * the call asked for them. On the bf16 path the head's product and loss are fused a block of the
 * vocabulary at a time (head_bf16.h). */
static void head(TrainState *s, int n_rows, float grad_scale, bool backward, StepStats *st) {
    const ModelConfig *c = &s->m->cfg;
    int C = c->dim, V = c->vocab;
    float *g = s->gather; // (HEAD_CHUNK, C) the selected rows
    for (int b = 0; b < n_rows; b += HEAD_CHUNK) {
        int n = n_rows - b < HEAD_CHUNK ? n_rows - b : HEAD_CHUNK;
        for (int i = 0; i < n; i++) memcpy(g + (size_t)i * C, s->xn_final + (size_t)s->rows[b + i] * C, C * sizeof(float));
        const QuantMatrix *w = &s->m->output;
        const float *row_scale = s->seq_weight ? s->row_scale + b : NULL;
        int correct;
        if (w->bf16) {
            st->loss_sum += head_bf16_loss(s->head_bf16, g, n, w, s->targets + b, grad_scale, row_scale, s->row_loss,
                                           &correct, backward ? g : NULL);
        } else {
            op_matmul(s->head, g, w, NULL, n);
            st->loss_sum +=
                op_cross_entropy_rows(s->head, s->targets + b, n, V, grad_scale, row_scale, s->row_loss, &correct);
            if (backward) op_matmul_backward(g, 0.0f, s->head, w, n);
        }
        st->n_correct += correct;
        for (int i = 0; s->seq_nll && i < n; i++) s->seq_nll[s->row_seq[b + i]] += s->row_loss[i];
        if (!backward) continue;
        for (int i = 0; i < n; i++) memcpy(s->dxn + (size_t)s->rows[b + i] * C, g + (size_t)i * C, C * sizeof(float));
    }
    st->n_tokens += n_rows;
}

static void backward_pass(TrainState *s) {
    const Model *m = s->m;
    const ModelConfig *c = &m->cfg;
    int n = s->lc.n, C = c->dim, F = c->ffn_dim, hd = c->head_dim, qd = c->n_head * hd, kvd = c->n_kv_head * hd;
    memset(s->dx, 0, (size_t)n * C * sizeof(float));
    op_rmsnorm_backward(s->dx, s->dxn, s->x_in[c->n_layer], m->out_norm, s->rstd_final, n, C);
    static const LoraTarget qkv[] = {LORA_Q, LORA_K, LORA_V}, o[] = {LORA_O}, gate_up[] = {LORA_GATE, LORA_UP},
                            down[] = {LORA_DOWN};
    for (int l = c->n_layer - 1; l >= 0; l--) {
        const LayerWeights *w = &m->layers[l];
        LayerActs *a = &s->acts[l];
        /* MLP: x_out = x_mid + down(h); s->dx holds d(x_out) and becomes d(x_mid) */
        group_bwd(s, l, down, 1, (const float *[]){s->dx}, s->dh, a->h);
        op_swiglu_backward(s->dgate, s->dup, s->dh, a->gate, a->up, (size_t)n * F);
        group_bwd(s, l, gate_up, 2, (const float *[]){s->dgate, s->dup}, s->dxn, a->xn2);
        op_rmsnorm_backward(s->dx, s->dxn, a->x_mid, w->ffn_norm, a->rstd2, n, C);
        /* attention: x_mid = x_in + o(att); s->dx becomes d(x_in) */
        group_bwd(s, l, o, 1, (const float *[]){s->dx}, s->datt, a->att);
        /* one sequence per thread, each with its own dP scratch */
#pragma omp parallel for schedule(dynamic, 1) if (s->lc.n_runs > 1)
        for (int r = 0; r < s->lc.n_runs; r++) {
            const RowRun *run = &s->runs[r];
            size_t q0 = (size_t)run->row0 * qd, k0 = (size_t)run->row0 * kvd;
            float *dP = s->dP + (size_t)omp_get_thread_num() *
                                    op_attention_backward_scratch(s->max_len, c->n_head, c->n_kv_head);
            op_attention_backward(s->dq + q0, s->dk + k0, s->dv + k0, s->datt + q0, a->probs + run->probs_off, a->q + q0,
                                  a->k + k0, a->v + k0, run->n, c->n_head, c->n_kv_head, hd, dP);
        }
        op_rope_table_backward(s->dq, s->rope_cs, n, c->n_head, hd);
        op_rope_table_backward(s->dk, s->rope_cs, n, c->n_kv_head, hd);
        group_bwd(s, l, qkv, 3, (const float *[]){s->dq, s->dk, s->dv}, s->dxn, a->xn1);
        op_rmsnorm_backward(s->dx, s->dxn, s->x_in[l], w->attn_norm, a->rstd1, n, C);
    }
    /* the embeddings are frozen: the gradient stops here */
}

/* Forward (and backward) of seqs[0..n), which fit in max_rows together; idx[i]: seqs[i]'s index in
 * the train_batch_weighted call. */
static void run_pack(TrainState *s, const TrainSeq *seqs, const int *idx, int n, float grad_scale, bool backward,
                     StepStats *st) {
    const ModelConfig *c = &s->m->cfg;
    const int32_t *ids[n];
    int rows = 0, n_rows = 0;
    size_t probs = 0;
    for (int i = 0; i < n; i++) {
        const TrainSeq *q = &seqs[i];
        s->runs[i] = (RowRun){.row0 = rows, .n = q->len, .pos0 = 0, .drop_seed = q->dropout_seed,
                              .probs_off = probs};
        ids[i] = q->ids;
        for (int t = 0; t < q->len; t++) s->pos[rows + t] = t;
        for (int t = 1; t < q->len; t++)
            if (q->mask[t]) {
                s->rows[n_rows] = rows + t - 1; /* the row whose output predicts token t */
                s->row_seq[n_rows] = idx[i];
                s->row_scale[n_rows] = s->seq_weight ? s->seq_weight[idx[i]] : 1.0f;
                s->targets[n_rows++] = q->ids[t];
            }
        rows += q->len;
        probs += (size_t)c->n_head * q->len * q->len;
    }
    rope_table(s->rope_cs, s->pos, s->inv_freq, rows, c->head_dim);
    const Lora *adapters[1] = {s->lora};
    s->lc = (LayerCtx){.m = s->m, .n = rows, .runs = s->runs, .n_runs = n, .adapters = adapters,
                       .n_adapters = s->lora ? 1 : 0, .dropout = backward && s->lora ? s->lora->cfg.dropout : 0.0f,
                       .rope_cs = s->rope_cs, .drop_x = s->drop_x, .lora_a = s->lora_a, .lora_u = s->lora_u,
                       .packs = s->packs};
    layer_ctx_prepare(&s->lc);
    forward(s, ids);
    if (backward) memset(s->dxn, 0, (size_t)rows * c->dim * sizeof(float));
    head(s, n_rows, grad_scale, backward, st);
    if (backward) backward_pass(s);
    s->lc.adapters = NULL;
}

int train_batch(TrainState *s, const TrainSeq *seqs, int n, float grad_scale, bool backward, StepStats *stats,
                Err *err) {
    return train_batch_weighted(s, seqs, n, NULL, grad_scale, backward, stats, NULL, err);
}

int train_batch_weighted(TrainState *s, const TrainSeq *seqs, int n, const float *weight, float grad_scale,
                         bool backward, StepStats *stats, double *nll, Err *err) {
    const ModelConfig *c = &s->m->cfg;
    if (backward && !s->lora) return err_set(err, ERR_ARG, "no LoRA adapters to train");
    for (int i = 0; i < n; i++) {
        if (seqs[i].len < 2 || seqs[i].len > s->max_len)
            return err_set(err, ERR_ARG, "sequence of %d tokens (2 to %d allowed)", seqs[i].len, s->max_len);
        for (int t = 0; t < seqs[i].len; t++)
            if (seqs[i].ids[t] < 0 || seqs[i].ids[t] >= c->vocab)
                return err_set(err, ERR_ARG, "token id %d at position %d is outside the vocabulary", seqs[i].ids[t], t);
    }
    if (nll) memset(nll, 0, (size_t)n * sizeof *nll);
    s->seq_weight = weight;
    s->seq_nll = nll;
    TrainSeq pack[s->max_rows / 2 + 1];
    int pack_idx[s->max_rows / 2 + 1];
    int k = 0, rows = 0;
    for (int i = 0; i <= n; i++) {
        bool trained = false;
        for (int t = 1; i < n && t < seqs[i].len && !trained; t++) trained = seqs[i].mask[t];
        if (i < n && !trained) continue; /* nothing to learn or measure in it */
        if (k && (i == n || rows + seqs[i].len > s->max_rows)) {
            run_pack(s, pack, pack_idx, k, grad_scale, backward, stats);
            k = rows = 0;
        }
        if (i < n) {
            pack_idx[k] = i;
            pack[k++] = seqs[i];
            rows += seqs[i].len;
        }
    }
    s->seq_weight = NULL;
    s->seq_nll = NULL;
    return 0;
}

int train_sequence(TrainState *s, const int32_t *ids, const uint8_t *mask, int len, float grad_scale, bool backward,
                   StepStats *stats, Err *err) {
    TrainSeq q = {ids, mask, len, s->drop_seed};
    return train_batch(s, &q, 1, grad_scale, backward, stats, err);
}
