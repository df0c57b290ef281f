/* model_gguf.c: builds a Model from a GGUF file: configuration from `<arch>.*` metadata, weights
 * (named by the architecture's table, arch.h): matrices used where they lie in the file's mapping,
 * in their stored type, except llama q/k, whose rows are copied from GGUF's interleaved-pair RoPE
 * order back to Hugging Face's rotate-half order; vectors as fp32. Tokenizer and chat template
 * from `tokenizer.*` metadata. */
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

/* Copies rows (row_bytes each) from GGUF's interleaved-pair order back to Hugging Face's. */
static void unpermute_rows(unsigned char *dst, const unsigned char *src, int rows, int head_dim, size_t row_bytes) {
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * row_bytes, src + (size_t)model_gguf_rope_row(r, head_dim) * row_bytes, row_bytes);
}

static int read_weight(void *vctx, const ArchWeight *w, int layer, float *vec, QuantMatrix *mat, void **owned,
                       int rows, int cols, Err *err) {
    GgufCtx *ctx = vctx;
    char name[ARCH_MAX_NAME];
    arch_format_gguf_name(w, layer, name, sizeof name);
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
    bool permuted = ctx->permuted_qk && w->rope;
    int hd = ctx->cfg->head_dim;
    if (vec) {
        if (gguf_tensor_to_f32(t, vec, err)) return err_prefix(err, "%s", path);
        if (permuted) {
            float tmp[rows];
            memcpy(tmp, vec, sizeof tmp);
            unpermute_rows((unsigned char *)vec, (const unsigned char *)tmp, rows, hd, sizeof(float));
        }
        return 0;
    }
    if (!quant_type_supported(t->type) || cols % (int)quant_block_elems(t->type))
        return err_set(err, ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, which is not supported", path, name,
                       ggml_type_name(t->type));
    *mat = (QuantMatrix){t->type, t->data, rows, cols, NULL, NULL};
    if (permuted) { /* the rows move, whole: a copy in Hugging Face order */
        size_t row_bytes = quant_row_bytes(t->type, (size_t)cols);
        unsigned char *copy = malloc((size_t)rows * row_bytes);
        if (!copy) return err_set(err, ERR_NOMEM, "%s: out of memory", path);
        unpermute_rows(copy, t->data, rows, hd, row_bytes);
        mat->data = copy;
        *owned = copy;
    }
    return 0;
}

static int read_config(const Gguf *g, ModelConfig *c, Err *err) {
    const char *path = gguf_path(g);
    const char *arch = gguf_get_str(g, "general.architecture", NULL);
    if (!arch) return err_set(err, ERR_FORMAT, "%s: no general.architecture in the metadata", path);
    const ArchDesc *a = arch_find_gguf(arch);
    char key[128];
    if (!a) {
        arch_list_names(false, key, sizeof key);
        return err_set(err, ERR_UNSUPPORTED, "%s: unsupported architecture '%s' (%s are supported)", path, arch, key);
    }
    c->arch = a->arch;
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
    char name[ARCH_MAX_NAME];
    arch_format_gguf_name(arch_find_weight(a, W_TOK_EMBD), -1, name, sizeof name);
    const GgufTensor *emb = gguf_find_tensor(g, name);
    if (!emb || emb->n_dims != 2) return err_set(err, ERR_FORMAT, "%s: missing tensor '%s'", path, name);
    c->vocab = (int)emb->ne[1];
    arch_format_gguf_name(arch_find_weight(a, W_OUTPUT), -1, name, sizeof name);
    c->tied_embeddings = gguf_find_tensor(g, name) == NULL;
    arch_format_gguf_name(arch_find_weight(a, W_Q_BIAS), 0, name, sizeof name);
    c->qkv_bias = gguf_find_tensor(g, name) != NULL;
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
    GgufCtx ctx = {g, &m->cfg, arch_describe(m->cfg.arch)->gguf_rope_permuted};
    if (model_alloc_and_read(m, read_weight, &ctx, err)) goto done;
    m->source = g; /* the matrices point into the mapping: the model keeps it */
    g = NULL;
    rc = 0;
done:
    gguf_close(g);
    return rc;
}
