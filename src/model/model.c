/* model.c: format-independent model loading: dispatch by path, the parameter layout in one
 * allocation of the fp32 vectors, matrices read in their stored type (the architecture's weights
 * in table order, see arch.h), configuration checks, and freeing. The GGUF and Hugging Face readers live in
 * model_gguf.c and model_hf.c. */
#include "model.h"

#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "gguf.h"

const char *model_arch_name(ModelArch a) { return arch_describe(a)->name; }

void model_free(Model *m) {
    if (!m) return;
    free(m->vectors);
    free(m->bf16);
    free(m->tiles);
    free(m->layers);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
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

float *model_vector(const Model *m, const ArchWeight *w, int layer) {
    if (arch_weight_is_matrix(w)) return NULL;
    const char *base = w->per_layer ? (const char *)&m->layers[layer] : (const char *)m;
    return *(float *const *)(base + w->slot);
}

const QuantMatrix *model_matrix(const Model *m, const ArchWeight *w, int layer) {
    if (!arch_weight_is_matrix(w)) return NULL;
    const char *base = w->per_layer ? (const char *)&m->layers[layer] : (const char *)m;
    return (const QuantMatrix *)(base + w->slot);
}

typedef struct {
    const ArchWeight *w;
    int layer;
    float *vec;       /* a vector's place in m->vectors, or NULL */
    QuantMatrix *mat; /* a matrix's view in m, or NULL */
    size_t rows, cols;
} WeightRead;

typedef struct {
    Model *m;
    float *next;      /* the next free float in m->vectors */
    WeightRead *todo; /* NULL while only counting */
    size_t n_floats, n_params;
    int n;
} Layout;

/* Counts (todo NULL) or places and lists one weight. */
static int layout_weight(void *vctx, const ArchWeight *w, int layer) {
    Layout *lay = vctx;
    const ModelConfig *c = &lay->m->cfg;
    size_t rows = arch_dim_size(w->rows, c), cols = arch_dim_size(w->cols, c);
    bool matrix = arch_weight_is_matrix(w);
    if (lay->todo) {
        char *base = w->per_layer ? (char *)&lay->m->layers[layer] : (char *)lay->m;
        WeightRead *r = &lay->todo[lay->n];
        *r = (WeightRead){w, layer, NULL, NULL, rows, cols};
        if (matrix) {
            r->mat = (QuantMatrix *)(base + w->slot);
        } else {
            *(float **)(base + w->slot) = r->vec = lay->next;
            lay->next += rows;
        }
    }
    if (!matrix) lay->n_floats += rows;
    lay->n_params += rows * cols;
    lay->n++;
    return 0;
}

int model_alloc_and_read(Model *m, WeightReader read, void *ctx, Err *err) {
    const ModelConfig *c = &m->cfg;
    if (check_config(c, m->path, err)) return -1;
    const ArchDesc *a = arch_describe(c->arch);
    Layout lay = {m, NULL, NULL, 0, 0, 0};
    arch_visit_weights(a, c, layout_weight, &lay);
    m->vectors = malloc(lay.n_floats * sizeof(float));
    m->layers = calloc(c->n_layer, sizeof(LayerWeights));
    m->owned = calloc((size_t)lay.n, sizeof(void *));
    WeightRead *todo = malloc((size_t)lay.n * sizeof *todo);
    if (!m->vectors || !m->layers || !m->owned || !todo) {
        free(todo);
        return err_set(err, ERR_NOMEM, "%s: out of memory", m->path);
    }
    m->n_params = lay.n_params;
    m->n_owned = lay.n;
    lay = (Layout){m, m->vectors, todo, 0, 0, 0};
    arch_visit_weights(a, c, layout_weight, &lay);
    int n = lay.n, failed = 0;
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n; i++) {
        Err e = {0};
        int rc;
        if (__atomic_load_n(&failed, __ATOMIC_RELAXED)) continue;
        rc = read(ctx, todo[i].w, todo[i].layer, todo[i].vec, todo[i].mat, &m->owned[i], (int)todo[i].rows,
                  (int)todo[i].cols, &e);
        if (rc) {
#pragma omp critical
            {
                if (!failed && err) *err = e;
                failed = 1;
            }
        }
    }
    free(todo);
    if (c->tied_embeddings) m->output = m->tok_embd;
    return failed ? -1 : 0;
}

int model_load(const char *path, Model **out, Err *err) {
    *out = NULL;
    Model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    m->precision = PRECISION_FP32;
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
