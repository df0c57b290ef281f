/* model.c: format-independent model loading: dispatch by path, the parameter layout in one
 * allocation, configuration checks, and freeing. The GGUF and Hugging Face readers live in
 * model_gguf.c and model_hf.c. */
#include "model.h"

#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "gguf.h"

const char *model_arch_name(ModelArch a) { return a == ARCH_QWEN2 ? "qwen2" : "llama"; }

void model_free(Model *m) {
    if (!m) return;
    free(m->params);
    free(m->layers);
    free(m->rope_factors);
    free(m->path);
    free(m->format);
    free(m->tensor_types);
    text_model_free(m->text);
    gguf_close(m->source);
    free(m);
}

static int check_config(const ModelConfig *c, const char *path, Err *err) {
    if (c->n_layer <= 0 || c->n_layer > MODEL_MAX_LAYERS || c->dim <= 0 || c->dim > MODEL_MAX_DIM ||
        c->n_head <= 0 || c->n_kv_head <= 0 || c->head_dim <= 0 || c->ffn_dim <= 0 || c->ffn_dim > 16 * MODEL_MAX_DIM ||
        c->vocab <= 0 || c->vocab > (1 << 24))
        return err_set(err, ERR_FORMAT,
                       "%s: implausible model configuration (layers %d, dim %d, heads %d/%d, head_dim %d, ffn %d, vocab %d)",
                       path, c->n_layer, c->dim, c->n_head, c->n_kv_head, c->head_dim, c->ffn_dim, c->vocab);
    if (c->n_head % c->n_kv_head)
        return err_set(err, ERR_FORMAT, "%s: %d attention heads is not a multiple of %d key/value heads", path,
                       c->n_head, c->n_kv_head);
    if (c->head_dim % 2) return err_set(err, ERR_FORMAT, "%s: head dimension %d is odd", path, c->head_dim);
    if (!(c->rms_eps > 0) || !(c->rope_theta > 0))
        return err_set(err, ERR_FORMAT, "%s: rms_norm_eps and rope_theta must be positive", path);
    return 0;
}

int model_alloc_and_read(Model *m, WeightReader read, void *ctx, Err *err) {
    const ModelConfig *c = &m->cfg;
    if (check_config(c, m->path, err)) return -1;
    size_t C = c->dim, F = c->ffn_dim, V = c->vocab, Q = (size_t)c->n_head * c->head_dim,
           KV = (size_t)c->n_kv_head * c->head_dim;
    size_t per_layer = C + Q * C + 2 * KV * C + C * Q + C + 3 * F * C + (c->qkv_bias ? Q + 2 * KV : 0);
    size_t total = V * C + C + (c->tied_embeddings ? 0 : V * C) + per_layer * c->n_layer;
    m->params = malloc(total * sizeof(float));
    m->layers = calloc(c->n_layer, sizeof(LayerWeights));
    if (!m->params || !m->layers)
        return err_set(err, ERR_NOMEM, "%s: cannot allocate %zu MiB for the weights", m->path, total * 4 >> 20);
    m->n_params = total;
    float *p = m->params;
#define TAKE(ptr, n) do { (ptr) = p; p += (n); } while (0)
    TAKE(m->tok_embd, V * C);
    TAKE(m->out_norm, C);
    if (c->tied_embeddings) m->output = m->tok_embd;
    else TAKE(m->output, V * C);
    for (int l = 0; l < c->n_layer; l++) {
        LayerWeights *w = &m->layers[l];
        TAKE(w->attn_norm, C);
        TAKE(w->wq, Q * C);
        TAKE(w->wk, KV * C);
        TAKE(w->wv, KV * C);
        if (c->qkv_bias) {
            TAKE(w->bq, Q);
            TAKE(w->bk, KV);
            TAKE(w->bv, KV);
        }
        TAKE(w->wo, C * Q);
        TAKE(w->ffn_norm, C);
        TAKE(w->w_gate, F * C);
        TAKE(w->w_up, F * C);
        TAKE(w->w_down, C * F);
    }
#undef TAKE
    struct { WeightRole role; int layer; float *dst; size_t rows, cols; } todo[3 + MODEL_MAX_LAYERS * 12];
    int n = 0;
#define ADD(r, l, d, nr, nc) do { todo[n].role = r; todo[n].layer = l; todo[n].dst = d; todo[n].rows = nr; todo[n].cols = nc; n++; } while (0)
    ADD(W_TOK_EMBD, -1, m->tok_embd, V, C);
    ADD(W_OUT_NORM, -1, m->out_norm, C, 1);
    if (!c->tied_embeddings) ADD(W_OUTPUT, -1, m->output, V, C);
    for (int l = 0; l < c->n_layer; l++) {
        LayerWeights *w = &m->layers[l];
        ADD(W_ATTN_NORM, l, w->attn_norm, C, 1);
        ADD(W_Q, l, w->wq, Q, C);
        ADD(W_K, l, w->wk, KV, C);
        ADD(W_V, l, w->wv, KV, C);
        if (c->qkv_bias) {
            ADD(W_Q_BIAS, l, w->bq, Q, 1);
            ADD(W_K_BIAS, l, w->bk, KV, 1);
            ADD(W_V_BIAS, l, w->bv, KV, 1);
        }
        ADD(W_O, l, w->wo, C, Q);
        ADD(W_FFN_NORM, l, w->ffn_norm, C, 1);
        ADD(W_GATE, l, w->w_gate, F, C);
        ADD(W_UP, l, w->w_up, F, C);
        ADD(W_DOWN, l, w->w_down, C, F);
    }
#undef ADD
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n; i++) {
        Err e = {0};
        int rc;
        if (__atomic_load_n(&failed, __ATOMIC_RELAXED)) continue;
        rc = read(ctx, todo[i].role, todo[i].layer, todo[i].dst, (int)todo[i].rows, (int)todo[i].cols, &e);
        if (rc) {
#pragma omp critical
            {
                if (!failed && err) *err = e;
                failed = 1;
            }
        }
    }
    return failed ? -1 : 0;
}

int model_load(const char *path, Model **out, Err *err) {
    *out = NULL;
    Model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    int rc;
    if (file_is_dir(path)) {
        rc = model_load_hf(path, m, err);
    } else if (file_exists(path)) {
        rc = model_load_gguf(path, m, err);
    } else {
        rc = err_set(err, ERR_IO, "%s: no such model file or directory", path);
    }
    if (!rc && text_model_load(path, &m->text, err) == 0) {
        m->tok = m->text->tok;
        m->tmpl = m->text->tmpl;
        if (tok_vocab_size(m->tok) > m->cfg.vocab)
            rc = err_set(err, ERR_FORMAT, "%s: the tokenizer has %d tokens but the embeddings only %d", path,
                         tok_vocab_size(m->tok), m->cfg.vocab);
    } else {
        rc = -1;
    }
    if (rc) {
        model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}
