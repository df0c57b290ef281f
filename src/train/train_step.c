/* train_step.c: forward with saved activations and backward for one sequence (see
 * train_step.h). Layer by layer, forward:
 *   xn1 = rmsnorm(x_in); q,k,v = lin(xn1) (+LoRA, +bias), rope(q,k); att = attention(q,k,v)
 *   x_mid = x_in + lin_o(att); xn2 = rmsnorm(x_mid); h = silu(lin_gate(xn2)) * lin_up(xn2)
 *   x_out = x_mid + lin_down(h)
 * and the exact reverse for the gradients; base weights get none. The head runs only on the
 * trained positions, in chunks, so a large vocabulary costs memory for a chunk only. */
#include "train_step.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "../tensor/ops.h"
#include "../tensor/ops_backward.h"

#define HEAD_CHUNK 64 /* trained positions per head matmul */

typedef struct {
    float *x_in, *xn1, *rstd1, *q, *k, *v, *probs, *att, *x_mid, *xn2, *rstd2, *gate, *up, *h;
    float *u[LORA_N_TARGETS]; // (T, r) LoRA intermediates, NULL when not adapted
} LayerActs;

struct TrainState {
    const Model *m;
    Lora *lora;
    int max_len;
    float *arena;
    LayerActs *acts; // n_layer
    float *x_final, *xn_final, *rstd_final;
    /* backward scratch */
    float *dx, *dxn, *dq, *dk, *dv, *datt, *dgate, *dup, *dh, *dP, *du, *head, *gather, *inv_freq;
    int *positions, *rows, *targets;
    float *drop_x;       // (T, max(C, qd, F)) the LoRA branch's input after dropout
    uint64_t drop_seed;  /* dropout masks are a hash of (seed, layer, projection, element) */
    bool training;       /* dropout applies in training passes only */
};

void train_state_free(TrainState *s) {
    if (!s) return;
    free(s->arena);
    free(s->acts);
    free(s->positions);
    free(s->rows);
    free(s->targets);
    free(s);
}

int train_state_new(const Model *m, Lora *lora, int max_len, TrainState **out, Err *err) {
    *out = NULL;
    const ModelConfig *c = &m->cfg;
    if (max_len < 2) return err_set(err, ERR_ARG, "sequences need at least 2 tokens");
    size_t T = max_len, C = c->dim, F = c->ffn_dim, qd = (size_t)c->n_head * c->head_dim,
           kvd = (size_t)c->n_kv_head * c->head_dim, r = lora ? lora->cfg.rank : 0, V = c->vocab;
    int n_lora = 0;
    for (int t = 0; t < LORA_N_TARGETS; t++) n_lora += lora && (lora->cfg.targets & (1u << t));
    size_t per_layer = 4 * T * C + 2 * T + 2 * T * qd + 2 * T * kvd + (size_t)c->n_head * T * T + 3 * T * F +
                       (size_t)n_lora * T * r;
    size_t total = per_layer * c->n_layer + 2 * T * C + T + /* final */
                   2 * T * C + 2 * T * qd + 2 * T * kvd + 3 * T * F + T * T + T * (r ? r : 1) + HEAD_CHUNK * V + HEAD_CHUNK * C +
                   (size_t)c->head_dim / 2 + (lora && lora->cfg.dropout > 0 ? T * (C + qd + F) : 0);
    TrainState *s = calloc(1, sizeof *s);
    if (!s) return err_set(err, ERR_NOMEM, "out of memory");
    s->m = m;
    s->lora = lora;
    s->max_len = max_len;
    s->arena = malloc(total * sizeof(float));
    s->acts = calloc(c->n_layer, sizeof(LayerActs));
    s->positions = malloc(T * sizeof(int));
    s->rows = malloc(T * sizeof(int));
    s->targets = malloc(T * sizeof(int));
    if (!s->arena || !s->acts || !s->positions || !s->rows || !s->targets) {
        train_state_free(s);
        return err_set(err, ERR_NOMEM, "cannot allocate %zu MiB of activations for sequences of %d tokens",
                       total * sizeof(float) >> 20, max_len);
    }
    float *p = s->arena;
#define TAKE(ptr, n) do { (ptr) = p; p += (n); } while (0)
    for (int l = 0; l < c->n_layer; l++) {
        LayerActs *a = &s->acts[l];
        TAKE(a->x_in, T * C); TAKE(a->xn1, T * C); TAKE(a->rstd1, T);
        TAKE(a->q, T * qd); TAKE(a->k, T * kvd); TAKE(a->v, T * kvd);
        TAKE(a->probs, (size_t)c->n_head * T * T); TAKE(a->att, T * qd);
        TAKE(a->x_mid, T * C); TAKE(a->xn2, T * C); TAKE(a->rstd2, T);
        TAKE(a->gate, T * F); TAKE(a->up, T * F); TAKE(a->h, T * F);
        for (int t = 0; t < LORA_N_TARGETS; t++)
            if (lora && (lora->cfg.targets & (1u << t))) TAKE(a->u[t], T * r);
    }
    TAKE(s->x_final, T * C); TAKE(s->xn_final, T * C); TAKE(s->rstd_final, T);
    TAKE(s->dx, T * C); TAKE(s->dxn, T * C); TAKE(s->dq, T * qd); TAKE(s->datt, T * qd);
    TAKE(s->dk, T * kvd); TAKE(s->dv, T * kvd); TAKE(s->dgate, T * F); TAKE(s->dup, T * F); TAKE(s->dh, T * F);
    TAKE(s->dP, T * T); TAKE(s->du, T * (r ? r : 1)); TAKE(s->head, HEAD_CHUNK * V); TAKE(s->gather, HEAD_CHUNK * C);
    TAKE(s->inv_freq, (size_t)c->head_dim / 2);
    size_t max_k = C > qd ? C : qd;
    if (F > max_k) max_k = F;
    if (lora && lora->cfg.dropout > 0) TAKE(s->drop_x, T * max_k);
#undef TAKE
    rope_inv_freq(s->inv_freq, c->head_dim, c->rope_theta, m->rope_factors);
    *out = s;
    return 0;
}

void train_state_set_dropout_seed(TrainState *s, uint64_t seed) { s->drop_seed = seed; }

/* Whether element i of the LoRA input of (layer, t) is kept by dropout: a stateless hash, so that
 * the backward pass regenerates the forward's mask instead of storing it. */
static inline bool drop_keep(uint64_t seed, int layer, int t, size_t i, float p) {
    uint64_t z = seed ^ ((uint64_t)(layer * LORA_N_TARGETS + t) << 40) ^ (uint64_t)i;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0) >= p;
}

/* The LoRA branch's input: x itself, or (with dropout p) x with elements zeroed and the rest
 * scaled by 1/(1-p), as PEFT's lora_dropout does, in s->drop_x. */
static const float *lora_input(TrainState *s, const float *x, int layer, LoraTarget t, int T, int K) {
    float p = s->training ? s->lora->cfg.dropout : 0.0f;
    if (!(p > 0)) return x;
    float inv = 1.0f / (1.0f - p);
    for (size_t i = 0; i < (size_t)T * K; i++)
        s->drop_x[i] = drop_keep(s->drop_seed, layer, t, i, p) ? x[i] * inv : 0.0f;
    return s->drop_x;
}

/* y (T, N) = x W^T + bias + LoRA(x), saving the LoRA intermediate in u. */
static void lin_fwd(TrainState *s, float *y, const float *x, const float *w, const float *bias, int layer,
                    LoraTarget t, float *u, int T, int K, int N) {
    op_linear(y, x, w, bias, T, K, N);
    if (u) lora_apply(y, lora_input(s, x, layer, t, T, K), lora_pair(s->lora, layer, t), s->lora->scale, u, T);
}

/* Given dy (T, N) of y = lin(x): dx (T, K) = dy W (+ LoRA part), overwritten or accumulated
 * (beta 0 or 1), and the LoRA factor gradients accumulated, scaled by the state's step. */
static void lin_bwd(TrainState *s, float *dx, float beta, const float *dy, const float *x, const float *w, int layer,
                    LoraTarget t, const float *u, int T, int K, int N) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, K, N, 1.0f, dy, N, w, K, beta, dx, K);
    if (!u) return;
    const LoraPair *p = lora_pair(s->lora, layer, t);
    int r = p->rank;
    float scale = s->lora->scale, *dA = lora_grad(s->lora, p->A), *dB = lora_grad(s->lora, p->B);
    /* y += scale u B^T with u = x A^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, r, N, scale, dy, N, p->B, r, 0.0f, s->du, r);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, r, T, scale, dy, N, u, r, 1.0f, dB, r);
    const float *xin = lora_input(s, x, layer, t, T, K);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, K, T, 1.0f, s->du, r, xin, K, 1.0f, dA, K);
    float drop = s->lora->cfg.dropout;
    if (!(drop > 0)) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, K, r, 1.0f, s->du, r, p->A, K, 1.0f, dx, K);
        return;
    }
    /* d(dropped input) = du A, then through the mask */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, K, r, 1.0f, s->du, r, p->A, K, 0.0f, s->drop_x, K);
    float inv = 1.0f / (1.0f - drop);
    for (size_t i = 0; i < (size_t)T * K; i++)
        if (drop_keep(s->drop_seed, layer, t, i, drop)) dx[i] += s->drop_x[i] * inv;
}

static void forward(TrainState *s, const int32_t *ids, int T) {
    const Model *m = s->m;
    const ModelConfig *c = &m->cfg;
    int C = c->dim, F = c->ffn_dim, hd = c->head_dim, qd = c->n_head * hd, kvd = c->n_kv_head * hd;
    for (int t = 0; t < T; t++) s->positions[t] = t;
    for (int t = 0; t < T; t++) memcpy(s->acts[0].x_in + (size_t)t * C, m->tok_embd + (size_t)ids[t] * C, C * sizeof(float));
    for (int l = 0; l < c->n_layer; l++) {
        const LayerWeights *w = &m->layers[l];
        LayerActs *a = &s->acts[l];
        op_rmsnorm_save(a->xn1, a->rstd1, a->x_in, w->attn_norm, T, C, c->rms_eps);
        lin_fwd(s, a->q, a->xn1, w->wq, w->bq, l, LORA_Q, a->u[LORA_Q], T, C, qd);
        lin_fwd(s, a->k, a->xn1, w->wk, w->bk, l, LORA_K, a->u[LORA_K], T, C, kvd);
        lin_fwd(s, a->v, a->xn1, w->wv, w->bv, l, LORA_V, a->u[LORA_V], T, C, kvd);
        op_rope(a->q, s->positions, s->inv_freq, T, c->n_head, hd);
        op_rope(a->k, s->positions, s->inv_freq, T, c->n_kv_head, hd);
        op_attention_save(a->att, a->probs, a->q, a->k, a->v, T, c->n_head, c->n_kv_head, hd);
        lin_fwd(s, a->x_mid, a->att, w->wo, NULL, l, LORA_O, a->u[LORA_O], T, qd, C);
        for (size_t i = 0; i < (size_t)T * C; i++) a->x_mid[i] += a->x_in[i];
        op_rmsnorm_save(a->xn2, a->rstd2, a->x_mid, w->ffn_norm, T, C, c->rms_eps);
        lin_fwd(s, a->gate, a->xn2, w->w_gate, NULL, l, LORA_GATE, a->u[LORA_GATE], T, C, F);
        lin_fwd(s, a->up, a->xn2, w->w_up, NULL, l, LORA_UP, a->u[LORA_UP], T, C, F);
        op_swiglu(a->h, a->gate, a->up, (size_t)T * F);
        float *x_out = l + 1 < c->n_layer ? s->acts[l + 1].x_in : s->x_final;
        lin_fwd(s, x_out, a->h, w->w_down, NULL, l, LORA_DOWN, a->u[LORA_DOWN], T, F, C);
        for (size_t i = 0; i < (size_t)T * C; i++) x_out[i] += a->x_mid[i];
    }
    op_rmsnorm_save(s->xn_final, s->rstd_final, s->x_final, m->out_norm, T, C, c->rms_eps);
}

/* Loss on the selected rows; with backward, d(loss)/d(xn_final) into s->dxn (zero elsewhere). */
static void head(TrainState *s, int n_rows, float grad_scale, bool backward, StepStats *st) {
    const ModelConfig *c = &s->m->cfg;
    int C = c->dim, V = c->vocab;
    float *g = s->gather; // (HEAD_CHUNK, C) the selected rows
    for (int b = 0; b < n_rows; b += HEAD_CHUNK) {
        int n = n_rows - b < HEAD_CHUNK ? n_rows - b : HEAD_CHUNK;
        for (int i = 0; i < n; i++) memcpy(g + (size_t)i * C, s->xn_final + (size_t)s->rows[b + i] * C, C * sizeof(float));
        op_linear(s->head, g, s->m->output, NULL, n, C, V);
        int correct;
        st->loss_sum += op_cross_entropy(s->head, s->targets + b, n, V, grad_scale, &correct);
        st->n_correct += correct;
        if (!backward) continue;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, C, V, 1.0f, s->head, V, s->m->output, C, 0.0f, g, C);
        for (int i = 0; i < n; i++) memcpy(s->dxn + (size_t)s->rows[b + i] * C, g + (size_t)i * C, C * sizeof(float));
    }
    st->n_tokens += n_rows;
}

static void backward_pass(TrainState *s, int T) {
    const Model *m = s->m;
    const ModelConfig *c = &m->cfg;
    int C = c->dim, F = c->ffn_dim, hd = c->head_dim, qd = c->n_head * hd, kvd = c->n_kv_head * hd;
    memset(s->dx, 0, (size_t)T * C * sizeof(float));
    op_rmsnorm_backward(s->dx, s->dxn, s->x_final, m->out_norm, s->rstd_final, T, C);
    for (int l = c->n_layer - 1; l >= 0; l--) {
        const LayerWeights *w = &m->layers[l];
        LayerActs *a = &s->acts[l];
        /* MLP: x_out = x_mid + down(h); s->dx holds d(x_out) and becomes d(x_mid) */
        lin_bwd(s, s->dh, 0.0f, s->dx, a->h, w->w_down, l, LORA_DOWN, a->u[LORA_DOWN], T, F, C);
        op_swiglu_backward(s->dgate, s->dup, s->dh, a->gate, a->up, (size_t)T * F);
        lin_bwd(s, s->dxn, 0.0f, s->dgate, a->xn2, w->w_gate, l, LORA_GATE, a->u[LORA_GATE], T, C, F);
        lin_bwd(s, s->dxn, 1.0f, s->dup, a->xn2, w->w_up, l, LORA_UP, a->u[LORA_UP], T, C, F);
        op_rmsnorm_backward(s->dx, s->dxn, a->x_mid, w->ffn_norm, a->rstd2, T, C);
        /* attention: x_mid = x_in + o(att); s->dx becomes d(x_in) */
        lin_bwd(s, s->datt, 0.0f, s->dx, a->att, w->wo, l, LORA_O, a->u[LORA_O], T, qd, C);
        op_attention_backward(s->dq, s->dk, s->dv, s->datt, a->probs, a->q, a->k, a->v, T, c->n_head, c->n_kv_head, hd,
                              s->dP);
        op_rope_backward(s->dq, s->positions, s->inv_freq, T, c->n_head, hd);
        op_rope_backward(s->dk, s->positions, s->inv_freq, T, c->n_kv_head, hd);
        lin_bwd(s, s->dxn, 0.0f, s->dq, a->xn1, w->wq, l, LORA_Q, a->u[LORA_Q], T, C, qd);
        lin_bwd(s, s->dxn, 1.0f, s->dk, a->xn1, w->wk, l, LORA_K, a->u[LORA_K], T, C, kvd);
        lin_bwd(s, s->dxn, 1.0f, s->dv, a->xn1, w->wv, l, LORA_V, a->u[LORA_V], T, C, kvd);
        op_rmsnorm_backward(s->dx, s->dxn, a->x_in, w->attn_norm, a->rstd1, T, C);
    }
    /* the embeddings are frozen: the gradient stops here */
}

int train_sequence(TrainState *s, const int32_t *ids, const uint8_t *mask, int len, float grad_scale, bool backward,
                   StepStats *stats, Err *err) {
    const ModelConfig *c = &s->m->cfg;
    if (len < 2 || len > s->max_len)
        return err_set(err, ERR_ARG, "sequence of %d tokens (2 to %d allowed)", len, s->max_len);
    for (int t = 0; t < len; t++)
        if (ids[t] < 0 || ids[t] >= c->vocab)
            return err_set(err, ERR_ARG, "token id %d at position %d is outside the vocabulary", ids[t], t);
    int n_rows = 0;
    for (int t = 1; t < len; t++)
        if (mask[t]) {
            s->rows[n_rows] = t - 1; /* the position whose output predicts token t */
            s->targets[n_rows] = ids[t];
            n_rows++;
        }
    if (n_rows == 0) return 0; /* nothing trained in this sequence */
    if (backward && !s->lora) return err_set(err, ERR_ARG, "no LoRA adapters to train");
    s->training = backward;
    forward(s, ids, len);
    if (backward) memset(s->dxn, 0, (size_t)len * c->dim * sizeof(float));
    head(s, n_rows, grad_scale, backward, stats);
    if (backward) backward_pass(s, len);
    return 0;
}
