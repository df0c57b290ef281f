/* infer.c: Llama/Qwen2 forward pass (RMSNorm, rotate-half RoPE, grouped-query causal attention,
 * SwiGLU MLP, tied or separate head) over a KV cache, on the kernels of tensor/ops.h. */
#include "infer.h"

#include <stdlib.h>
#include <string.h>

#include "../tensor/ops.h"
#include "../tensor/ops_quant.h"
#include "lora.h"

void infer_free(InferState *s) {
    if (!s) return;
    free(s->k_cache);
    free(s->v_cache);
    free(s->x);
    free(s->xb);
    free(s->q);
    free(s->att);
    free(s->hb);
    free(s->hb2);
    free(s->scores);
    free(s->logits);
    free(s->inv_freq);
    free(s->positions);
    free(s->lora_u);
    free(s);
}

int infer_new(const Model *m, int max_seq, int n_threads, InferState **out, Err *err) {
    *out = NULL;
    const ModelConfig *c = &m->cfg;
    if (max_seq <= 0) return err_set(err, ERR_ARG, "context size must be positive");
    ops_set_threads(n_threads);
    InferState *s = calloc(1, sizeof *s);
    if (!s) return err_set(err, ERR_NOMEM, "out of memory");
    s->model = m;
    s->max_seq = max_seq;
    s->n_threads = ops_get_threads();
    size_t kv = (size_t)c->n_kv_head * c->head_dim, qd = (size_t)c->n_head * c->head_dim, T = INFER_MAX_CHUNK;
    s->k_cache = malloc((size_t)c->n_layer * max_seq * kv * sizeof(float));
    s->v_cache = malloc((size_t)c->n_layer * max_seq * kv * sizeof(float));
    s->x = malloc(T * c->dim * sizeof(float));
    s->xb = malloc(T * c->dim * sizeof(float));
    s->q = malloc(T * qd * sizeof(float));
    s->att = malloc(T * qd * sizeof(float));
    s->hb = malloc(T * c->ffn_dim * sizeof(float));
    s->hb2 = malloc(T * c->ffn_dim * sizeof(float));
    size_t score_rows = (size_t)(s->n_threads > INFER_MAX_CHUNK ? s->n_threads : INFER_MAX_CHUNK);
    s->scores = malloc(score_rows * max_seq * sizeof(float));
    s->logits = malloc((size_t)c->vocab * sizeof(float));
    s->inv_freq = malloc((size_t)c->head_dim / 2 * sizeof(float));
    s->positions = malloc(T * sizeof(int));
    if (!s->k_cache || !s->v_cache || !s->x || !s->xb || !s->q || !s->att || !s->hb || !s->hb2 || !s->scores ||
        !s->logits || !s->inv_freq || !s->positions) {
        infer_free(s);
        return err_set(err, ERR_NOMEM, "cannot allocate the inference state for %d positions", max_seq);
    }
    rope_inv_freq(s->inv_freq, c->head_dim, c->rope_theta, m->rope_factors);
    *out = s;
    return 0;
}

void infer_reset(InferState *s) { s->pos = 0; }

int infer_set_lora(InferState *s, const Lora *lora, Err *err) {
    free(s->lora_u);
    s->lora_u = NULL;
    s->lora = NULL;
    s->pos = 0;
    if (!lora) return 0;
    if (lora->n_layer != s->model->cfg.n_layer)
        return err_set(err, ERR_ARG, "the adapter has %d layers, the model %d", lora->n_layer, s->model->cfg.n_layer);
    if (!(s->lora_u = malloc((size_t)INFER_MAX_CHUNK * lora->cfg.rank * sizeof(float))))
        return err_set(err, ERR_NOMEM, "out of memory");
    s->lora = lora;
    return 0;
}

/* Undoes GGUF's llama q/k row order on one token's projection v (n_heads * hd):
 * v[h][s*hd/2 + i] = stored[h][2i + s]. tmp holds hd floats. */
static void unpermute_heads(float *v, int n_heads, int hd, float *tmp) {
    int half = hd / 2;
    for (int h = 0; h < n_heads; h++) {
        float *head = v + (size_t)h * hd;
        memcpy(tmp, head, (size_t)hd * sizeof(float));
        for (int i = 0; i < half; i++) {
            head[i] = tmp[2 * i];
            head[half + i] = tmp[2 * i + 1];
        }
    }
}

/* y (T, N) = x (T, K) W^T + bias (+ the adapter's LoRA term for projection t of layer l): from the
 * quantized blocks when decoding one token and the file has them (memory traffic is what limits
 * decoding), else sgemm/sgemv on the fp32 weights. */
static void linear(const InferState *s, int l, int t, float *y, const float *x, const float *w, const QuantMatrix *qw,
                   const float *bias, int T, int K, int N) {
    if (T == 1 && qw->data) {
        op_matvec_quant(y, x, qw, NULL);
        int hd = s->model->cfg.head_dim;
        if (s->model->quant_qk_permuted && (t == LORA_Q || t == LORA_K)) {
            float tmp[hd];
            unpermute_heads(y, N / hd, hd, tmp);
        }
        if (bias)
            for (int i = 0; i < N; i++) y[i] += bias[i];
    } else {
        op_linear(y, x, w, bias, T, K, N);
    }
    if (s->lora) lora_apply(y, x, lora_pair(s->lora, l, t), s->lora->scale, s->lora_u, T);
}

/* One chunk of T <= INFER_MAX_CHUNK tokens through every layer; leaves final-normed states in xb. */
static void forward_chunk(InferState *s, const int32_t *tokens, int T) {
    const Model *m = s->model;
    const ModelConfig *c = &m->cfg;
    int C = c->dim, F = c->ffn_dim, hd = c->head_dim, qd = c->n_head * hd, kvd = c->n_kv_head * hd;
    for (int t = 0; t < T; t++) {
        memcpy(s->x + (size_t)t * C, m->tok_embd + (size_t)tokens[t] * C, C * sizeof(float));
        s->positions[t] = s->pos + t;
    }
    for (int l = 0; l < c->n_layer; l++) {
        const LayerWeights *w = &m->layers[l];
        float *kc = s->k_cache + (size_t)l * s->max_seq * kvd; // (max_seq, kvd)
        float *vc = s->v_cache + (size_t)l * s->max_seq * kvd;
        float *k_new = kc + (size_t)s->pos * kvd; // (T, kvd): written in place in the cache
        float *v_new = vc + (size_t)s->pos * kvd;
        op_rmsnorm(s->xb, s->x, w->attn_norm, T, C, c->rms_eps);
        linear(s, l, LORA_Q, s->q, s->xb, w->wq, &w->q_wq, w->bq, T, C, qd);
        linear(s, l, LORA_K, k_new, s->xb, w->wk, &w->q_wk, w->bk, T, C, kvd);
        linear(s, l, LORA_V, v_new, s->xb, w->wv, &w->q_wv, w->bv, T, C, kvd);
        op_rope(s->q, s->positions, s->inv_freq, T, c->n_head, hd);
        op_rope(k_new, s->positions, s->inv_freq, T, c->n_kv_head, hd);
        op_attention(s->att, s->q, kc, vc, s->pos, T, c->n_head, c->n_kv_head, hd, s->scores);
        linear(s, l, LORA_O, s->xb, s->att, w->wo, &w->q_wo, NULL, T, qd, C);
        for (size_t i = 0; i < (size_t)T * C; i++) s->x[i] += s->xb[i];
        op_rmsnorm(s->xb, s->x, w->ffn_norm, T, C, c->rms_eps);
        linear(s, l, LORA_GATE, s->hb, s->xb, w->w_gate, &w->q_gate, NULL, T, C, F);
        linear(s, l, LORA_UP, s->hb2, s->xb, w->w_up, &w->q_up, NULL, T, C, F);
        op_swiglu(s->hb, s->hb, s->hb2, (size_t)T * F);
        linear(s, l, LORA_DOWN, s->xb, s->hb, w->w_down, &w->q_down, NULL, T, F, C);
        for (size_t i = 0; i < (size_t)T * C; i++) s->x[i] += s->xb[i];
    }
    op_rmsnorm(s->xb, s->x, m->out_norm, T, C, c->rms_eps);
    s->pos += T;
}

int infer_forward(InferState *s, const int32_t *tokens, int n, float *all_logits, Err *err) {
    const ModelConfig *c = &s->model->cfg;
    if (n <= 0) return err_set(err, ERR_ARG, "no tokens to run");
    if (n > s->max_seq - s->pos)
        return err_set(err, ERR_ARG, "%d tokens do not fit in the context: %d of %d positions are used", n, s->pos,
                       s->max_seq);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab)
            return err_set(err, ERR_ARG, "token id %d at index %d is outside the vocabulary (%d)", tokens[i], i, c->vocab);
    for (int done = 0; done < n;) {
        int T = n - done < INFER_MAX_CHUNK ? n - done : INFER_MAX_CHUNK;
        forward_chunk(s, tokens + done, T);
        if (all_logits)
            op_linear(all_logits + (size_t)done * c->vocab, s->xb, s->model->output, NULL, T, c->dim, c->vocab);
        done += T;
        if (done == n) {
            if (all_logits) memcpy(s->logits, all_logits + (size_t)(n - 1) * c->vocab, (size_t)c->vocab * sizeof(float));
            else if (s->model->q_output.data)
                op_matvec_quant(s->logits, s->xb + (size_t)(T - 1) * c->dim, &s->model->q_output, NULL);
            else op_linear(s->logits, s->xb + (size_t)(T - 1) * c->dim, s->model->output, NULL, 1, c->dim, c->vocab);
        }
    }
    return 0;
}
