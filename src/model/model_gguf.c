/* model_gguf.c: builds a Model from a GGUF file: configuration from `<arch>.*` metadata, weights
 * dequantized to fp32, llama q/k rows un-permuted from GGUF's interleaved-pair RoPE order back to
 * Hugging Face's rotate-half order, tokenizer and chat template from `tokenizer.*` metadata. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "model.h"

typedef struct {
    const Gguf *g;
    const ModelConfig *cfg;
    bool permuted_qk; /* llama GGUF: q/k rows stored for interleaved-pair rotation */
} GgufCtx;

static void tensor_name(WeightRole role, int layer, char *buf, size_t cap) {
    static const char *names[W_COUNT] = {
        [W_TOK_EMBD] = "token_embd.weight", [W_OUT_NORM] = "output_norm.weight", [W_OUTPUT] = "output.weight",
        [W_ATTN_NORM] = "attn_norm.weight", [W_Q] = "attn_q.weight",        [W_K] = "attn_k.weight",
        [W_V] = "attn_v.weight",            [W_Q_BIAS] = "attn_q.bias",     [W_K_BIAS] = "attn_k.bias",
        [W_V_BIAS] = "attn_v.bias",         [W_O] = "attn_output.weight",   [W_FFN_NORM] = "ffn_norm.weight",
        [W_GATE] = "ffn_gate.weight",       [W_UP] = "ffn_up.weight",       [W_DOWN] = "ffn_down.weight"};
    if (layer < 0) snprintf(buf, cap, "%s", names[role]);
    else snprintf(buf, cap, "blk.%d.%s", layer, names[role]);
}

/* GGUF's llama conversion permutes each head's rows r = s*(hd/2) + i (s in {0,1}) to 2i + s.
 * Undo it: hf[h][s*half + i] = gguf[h][2i + s]. */
static int unpermute_rows(float *w, int n_heads, int head_dim, int cols) {
    int half = head_dim / 2;
    size_t head_size = (size_t)head_dim * cols;
    float *tmp = malloc(head_size * sizeof(float));
    if (!tmp) return -1;
    for (int h = 0; h < n_heads; h++) {
        float *head = w + h * head_size;
        memcpy(tmp, head, head_size * sizeof(float));
        for (int i = 0; i < half; i++)
            for (int s = 0; s < 2; s++)
                memcpy(head + (size_t)(s * half + i) * cols, tmp + (size_t)(2 * i + s) * cols, cols * sizeof(float));
    }
    free(tmp);
    return 0;
}

static int read_weight(void *vctx, WeightRole role, int layer, float *dst, int rows, int cols, Err *err) {
    GgufCtx *ctx = vctx;
    char name[96];
    tensor_name(role, layer, name, sizeof name);
    const GgufTensor *t = gguf_find_tensor(ctx->g, name);
    const char *path = gguf_path(ctx->g);
    if (!t) return err_set(err, ERR_FORMAT, "%s: missing tensor '%s'", path, name);
    /* GGUF ne[0] is the row length (cols); a vector has ne = [rows]. */
    bool ok = cols == 1 ? (t->n_dims == 1 && t->ne[0] == (uint64_t)rows)
                        : (t->n_dims == 2 && t->ne[0] == (uint64_t)cols && t->ne[1] == (uint64_t)rows);
    if (!ok)
        return err_set(err, ERR_FORMAT, "%s: tensor '%s' has shape [%llu, %llu], expected [%d, %d]", path, name,
                       (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], cols == 1 ? rows : cols,
                       cols == 1 ? 1 : rows);
    if (gguf_tensor_to_f32(t, dst, err)) return err_prefix(err, "%s", path);
    if (ctx->permuted_qk && (role == W_Q || role == W_K || role == W_Q_BIAS || role == W_K_BIAS)) {
        int heads = role == W_Q || role == W_Q_BIAS ? ctx->cfg->n_head : ctx->cfg->n_kv_head;
        if (unpermute_rows(dst, heads, ctx->cfg->head_dim, cols))
            return err_set(err, ERR_NOMEM, "%s: out of memory", path);
    }
    return 0;
}

static int read_config(const Gguf *g, ModelConfig *c, Err *err) {
    const char *path = gguf_path(g);
    const char *arch = gguf_get_str(g, "general.architecture", NULL);
    if (!arch) return err_set(err, ERR_FORMAT, "%s: no general.architecture in the metadata", path);
    if (strcmp(arch, "llama") == 0) c->arch = ARCH_LLAMA;
    else if (strcmp(arch, "qwen2") == 0) c->arch = ARCH_QWEN2;
    else return err_set(err, ERR_UNSUPPORTED, "%s: unsupported architecture '%s' (llama and qwen2 are supported)", path, arch);
    char key[128];
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), key)
    c->n_layer = (int)gguf_get_int(g, KEY("block_count"), 0);
    c->dim = (int)gguf_get_int(g, KEY("embedding_length"), 0);
    c->ffn_dim = (int)gguf_get_int(g, KEY("feed_forward_length"), 0);
    c->n_head = (int)gguf_get_int(g, KEY("attention.head_count"), 0);
    c->n_kv_head = (int)gguf_get_int(g, KEY("attention.head_count_kv"), c->n_head);
    c->head_dim = c->n_head > 0 ? (int)gguf_get_int(g, KEY("attention.key_length"), c->dim / c->n_head) : 0;
    c->max_seq = (int)gguf_get_int(g, KEY("context_length"), 2048);
    c->rope_theta = (float)gguf_get_float(g, KEY("rope.freq_base"), 10000.0);
    c->rms_eps = (float)gguf_get_float(g, KEY("attention.layer_norm_rms_epsilon"), 1e-5);
    int rope_dims = (int)gguf_get_int(g, KEY("rope.dimension_count"), c->head_dim);
#undef KEY
    if (rope_dims != c->head_dim)
        return err_set(err, ERR_UNSUPPORTED, "%s: partial rotary embeddings (%d of %d dims) are not supported", path,
                       rope_dims, c->head_dim);
    const GgufTensor *emb = gguf_find_tensor(g, "token_embd.weight");
    if (!emb || emb->n_dims != 2) return err_set(err, ERR_FORMAT, "%s: missing tensor 'token_embd.weight'", path);
    c->vocab = (int)emb->ne[1];
    c->tied_embeddings = gguf_find_tensor(g, "output.weight") == NULL;
    c->qkv_bias = gguf_find_tensor(g, "blk.0.attn_q.bias") != NULL;
    return 0;
}

static int summarize_types(const Gguf *g, Model *m) {
    int counts[64] = {0};
    for (int i = 0; i < gguf_n_tensors(g); i++) {
        uint32_t t = gguf_tensor(g, i)->type;
        counts[t < 64 ? t : 63]++;
    }
    char buf[512] = "";
    size_t len = 0;
    for (int t = 0; t < 64; t++)
        if (counts[t] && len < sizeof buf - 32)
            len += snprintf(buf + len, sizeof buf - len, "%s%s x%d", len ? ", " : "", ggml_type_name(t), counts[t]);
    return (m->tensor_types = strdup(buf)) ? 0 : -1;
}

/* Points the model's quantized views at the file's blocks for every linear weight stored in a
 * supported block type. Returns whether any view was set (the file must then stay open). */
static bool attach_quant_views(const Gguf *g, Model *m) {
    bool any = false;
    char name[96];
    struct { WeightRole role; size_t offset; } roles[] = {
        {W_Q, offsetof(LayerWeights, q_wq)},     {W_K, offsetof(LayerWeights, q_wk)},
        {W_V, offsetof(LayerWeights, q_wv)},     {W_O, offsetof(LayerWeights, q_wo)},
        {W_GATE, offsetof(LayerWeights, q_gate)}, {W_UP, offsetof(LayerWeights, q_up)},
        {W_DOWN, offsetof(LayerWeights, q_down)}};
    for (int l = -1; l < m->cfg.n_layer; l++) {
        for (size_t i = 0; i < (l < 0 ? 1 : sizeof roles / sizeof roles[0]); i++) {
            WeightRole role = l < 0 ? (m->cfg.tied_embeddings ? W_TOK_EMBD : W_OUTPUT) : roles[i].role;
            tensor_name(role, l, name, sizeof name);
            const GgufTensor *t = gguf_find_tensor(g, name);
            if (!t || !quant_type_supported(t->type) || t->n_dims != 2) continue;
            QuantMatrix *q = l < 0 ? &m->q_output : (QuantMatrix *)((char *)&m->layers[l] + roles[i].offset);
            q->type = t->type;
            q->data = t->data;
            q->cols = (int)t->ne[0];
            q->rows = (int)t->ne[1];
            any = true;
        }
    }
    return any;
}

int model_load_gguf(const char *path, Model *m, Err *err) {
    Gguf *g = NULL;
    if (gguf_open(path, &g, err)) return -1;
    int rc = -1;
    if (read_config(g, &m->cfg, err)) goto done;
    m->format = strdup("gguf");
    if (!m->format || summarize_types(g, m)) {
        err_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    const GgufTensor *rf = gguf_find_tensor(g, "rope_freqs.weight");
    if (rf) {
        if (rf->n_elements != (uint64_t)m->cfg.head_dim / 2 || !(m->rope_factors = malloc(rf->n_elements * sizeof(float))) ||
            gguf_tensor_to_f32(rf, m->rope_factors, err)) {
            if (!err || !err->msg[0]) err_set(err, ERR_FORMAT, "%s: bad rope_freqs.weight", path);
            goto done;
        }
        m->cfg.has_rope_factors = true;
    }
    GgufCtx ctx = {g, &m->cfg, m->cfg.arch == ARCH_LLAMA};
    if (model_alloc_and_read(m, read_weight, &ctx, err)) goto done;
    m->quant_qk_permuted = ctx.permuted_qk;
    if (attach_quant_views(g, m)) {
        m->source = g; /* the views point into the mapping: the model keeps it */
        g = NULL;
    }
    rc = 0;
done:
    gguf_close(g);
    return rc;
}
