/* export_gguf.c: LoRA adapters and merged models as GGUF files (see export_gguf.h). Tensor names
 * and shapes come from the architecture table (arch.h); a merged model's matrices are merged and
 * quantized a block of rows at a time while the file is written (lazy tensors of gguf_write.h),
 * so that memory holds a block, not the model. */
#include "export_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../tensor/matmul.h"
#include "../tensor/quantize.h"
#include "gguf.h"
#include "gguf_write.h"

#define EXPORT_ROW_BLOCK 256 /* rows dequantized, merged and quantized at a time (rounded to whole heads) */

/* GGML file types (llama.h's LLAMA_FTYPE_*) for general.file_type. */
static uint32_t file_type_of(uint32_t type) {
    switch (type) {
    case QUANT_F32: return 0;
    case QUANT_F16: return 1;
    case QUANT_Q4_0: return 2;
    case QUANT_Q8_0: return 7;
    case QUANT_Q4_K: return 14; /* MOSTLY_Q4_K_S: every matrix Q4_K */
    default: return 0;
    }
}

int export_gguf_type(const char *name, uint32_t *type, Err *err) {
    static const struct {
        const char *name;
        uint32_t type;
    } types[] = {{"f32", QUANT_F32}, {"f16", QUANT_F16}, {"q8_0", QUANT_Q8_0}, {"q4_0", QUANT_Q4_0}, {"q4_k", QUANT_Q4_K}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(name, types[i].name) == 0) {
            *type = types[i].type;
            return 0;
        }
    return err_set(err, ERR_ARG, "unknown GGUF type '%s' (f32, f16, q8_0, q4_0 and q4_k are written)", name);
}

/* Whether weight w's rows are stored in GGUF's RoPE pair order for this architecture. */
static bool rope_permuted(const Model *m, const ArchWeight *w) {
    return w->rope && arch_describe(m->cfg.arch)->gguf_rope_permuted;
}

static int out_row(const Model *m, const ArchWeight *w, int r) {
    return rope_permuted(m, w) ? model_gguf_rope_row(r, m->cfg.head_dim) : r;
}

/* --- the adapter --- */

int model_export_gguf_adapter(const Model *m, const Lora *lora, const char *out_path, Err *err) {
    const ModelConfig *c = &m->cfg;
    const ArchDesc *a = arch_describe(c->arch);
    if (lora->n_layer != c->n_layer)
        return err_set(err, ERR_ARG, "the adapter has %d layers, the model %d", lora->n_layer, c->n_layer);
    GgufWriter *w;
    if (gguf_writer_new(&w, err)) return -1;
    int rc = gguf_writer_add_str(w, "general.architecture", a->name, err) ||
             gguf_writer_add_str(w, "general.type", "adapter", err) ||
             gguf_writer_add_str(w, "adapter.type", "lora", err) ||
             /* llama.cpp scales by alpha / r: the alpha that gives this adapter's scale (rsLoRA's
              * alpha / sqrt(r) included) */
             gguf_writer_add_f32(w, "adapter.lora.alpha", lora->scale * (float)lora->cfg.rank, err);
    char name[ARCH_MAX_NAME + 16], base[ARCH_MAX_NAME];
    for (int l = 0; !rc && l < c->n_layer; l++)
        for (int t = 0; !rc && t < LORA_N_TARGETS; t++) {
            const LoraPair *p = lora_pair(lora, l, (LoraTarget)t);
            const ArchWeight *aw = arch_find_lora_weight(a, (LoraTarget)t);
            if (!p->A || !aw) continue;
            arch_format_gguf_name(aw, l, base, sizeof base);
            snprintf(name, sizeof name, "%s.lora_a", base);
            uint64_t ne_a[2] = {(uint64_t)p->in, (uint64_t)p->rank}, ne_b[2] = {(uint64_t)p->rank, (uint64_t)p->out};
            rc = gguf_writer_add_tensor(w, name, QUANT_F32, 2, ne_a, p->A, (size_t)p->rank * p->in * sizeof(float),
                                        false, err);
            size_t row = (size_t)p->rank * sizeof(float);
            float *b = rc ? NULL : malloc((size_t)p->out * row);
            if (!rc && !b) rc = err_set(err, ERR_NOMEM, "out of memory");
            for (int r = 0; !rc && r < p->out; r++)
                memcpy(b + (size_t)out_row(m, aw, r) * p->rank, p->B + (size_t)r * p->rank, row);
            snprintf(name, sizeof name, "%s.lora_b", base);
            if (!rc) rc = gguf_writer_add_tensor(w, name, QUANT_F32, 2, ne_b, b, (size_t)p->out * row, true, err);
        }
    if (!rc) rc = gguf_writer_write(w, out_path, err);
    gguf_writer_free(w);
    return rc ? -1 : 0;
}

/* --- the merged model --- */

/* One matrix to merge and quantize when the file is written (a lazy tensor of the writer). */
typedef struct MergeCtx MergeCtx;
typedef struct {
    MergeCtx *x;
    const ArchWeight *aw;
    int layer;
    const QuantMatrix *mat;
    uint32_t type; /* the type it is written in */
} MatrixJob;

struct MergeCtx {
    const Model *m;
    const Lora *lora;
    uint32_t type;
    GgufWriter *w;
    int block;            /* rows per block: a multiple of head_dim, so q/k rows permute within one */
    float *rows;          /* (block, widest row) scratch */
    unsigned char *out;   /* (block, widest row in F32) bytes of quantized rows */
    MatrixJob *jobs;      /* one per matrix */
    int n_jobs;
    Err *err;
};

/* The type a matrix with rows of cols values is written in: the asked one when its blocks fit,
 * else llama.cpp's quantizer's fallback (Q4_K: Q5_0), else F16. */
static uint32_t fitting_type(uint32_t type, int cols) {
    if (cols % (int)quant_block_elems(type) == 0) return type;
    if (type == QUANT_Q4_K && cols % 32 == 0) return QUANT_Q5_0;
    return QUANT_F16;
}

/* GgufProduce: the matrix's rows, a block at a time: dequantized, merged (W + scale B A), put in
 * GGUF's row order, quantized. */
static int produce_matrix(void *vjob, GgufSink *sink, Err *err) {
    const MatrixJob *j = vjob;
    const MergeCtx *x = j->x;
    const QuantMatrix *mat = j->mat;
    int rows = mat->rows, cols = mat->cols;
    size_t row_bytes = quant_row_bytes(j->type, (size_t)cols);
    const LoraPair *p =
        x->lora && j->aw->lora != ARCH_NO_LORA ? lora_pair(x->lora, j->layer, (LoraTarget)j->aw->lora) : NULL;
    for (int r0 = 0; r0 < rows; r0 += x->block) {
        int nr = rows - r0 < x->block ? rows - r0 : x->block;
#pragma omp parallel for schedule(static)
        for (int i = 0; i < nr; i++) op_matrix_row(x->rows + (size_t)i * cols, mat, r0 + i);
        if (p && p->A && lora_merge_rows(x->rows, p, x->lora->scale, r0, nr, err)) return -1;
        /* rows are quantized independently: the same bytes with any number of threads; a q/k row
         * moves within its head, so within the block */
#pragma omp parallel for schedule(static)
        for (int i = 0; i < nr; i++)
            quant_quantize(j->type, x->rows + (size_t)i * cols, (size_t)cols,
                           x->out + (size_t)(out_row(x->m, j->aw, r0 + i) - r0) * row_bytes);
        gguf_sink_write(sink, x->out, (size_t)nr * row_bytes);
    }
    return 0;
}

static int merge_matrix(MergeCtx *x, const ArchWeight *aw, int layer, const QuantMatrix *mat, const char *name) {
    uint32_t type = fitting_type(x->type, mat->cols);
    if (type != x->type)
        fprintf(stderr, "note: %s has rows of %d values, not a multiple of %s's blocks: written as %s\n", name,
                mat->cols, ggml_type_name(x->type), ggml_type_name(type));
    MatrixJob *j = &x->jobs[x->n_jobs++];
    *j = (MatrixJob){x, aw, layer, mat, type};
    uint64_t ne[2] = {(uint64_t)mat->cols, (uint64_t)mat->rows};
    return gguf_writer_add_tensor_lazy(x->w, name, type, 2, ne, produce_matrix, j, x->err);
}

static int merge_weight(void *vctx, const ArchWeight *aw, int layer) {
    MergeCtx *x = vctx;
    char name[ARCH_MAX_NAME];
    arch_format_gguf_name(aw, layer, name, sizeof name);
    const QuantMatrix *mat = model_matrix(x->m, aw, layer);
    if (mat) return merge_matrix(x, aw, layer, mat, name);
    int rows = (int)arch_dim_size(aw->rows, &x->m->cfg);
    const float *v = model_vector(x->m, aw, layer);
    float *out = malloc((size_t)rows * sizeof(float));
    if (!out) return err_set(x->err, ERR_NOMEM, "out of memory");
    for (int r = 0; r < rows; r++) out[out_row(x->m, aw, r)] = v[r];
    uint64_t ne[1] = {(uint64_t)rows};
    return gguf_writer_add_tensor(x->w, name, QUANT_F32, 1, ne, out, (size_t)rows * sizeof(float), true, x->err);
}

/* Every key of the source but those the new file states itself. */
static int copy_metadata(GgufWriter *w, const Gguf *src, Err *err) {
    for (int i = 0; i < gguf_n_kv(src); i++) {
        const GgufKV *kv = gguf_kv(src, i);
        if (strcmp(kv->key, "general.alignment") == 0 || strcmp(kv->key, "general.file_type") == 0 ||
            strcmp(kv->key, "general.quantization_version") == 0)
            continue;
        if (gguf_writer_copy_kv(w, kv, err)) return -1;
    }
    return 0;
}

/* A Hugging Face source's metadata as llama.cpp's convert_hf_to_gguf.py writes it: the
 * architecture's hyperparameters, the tokenizer (tok_export_gguf) and the chat template. */
static int hf_metadata(GgufWriter *w, const Model *m, Err *err) {
    const ModelConfig *c = &m->cfg;
    const char *arch = arch_describe(c->arch)->name, *name = strrchr(m->path, '/');
    name = name && name[1] ? name + 1 : m->path;
    char key[128];
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), key)
    if (gguf_writer_add_str(w, "general.architecture", arch, err) || gguf_writer_add_str(w, "general.name", name, err) ||
        gguf_writer_add_u32(w, KEY("context_length"), (uint32_t)c->max_seq, err) ||
        gguf_writer_add_u32(w, KEY("embedding_length"), (uint32_t)c->dim, err) ||
        gguf_writer_add_u32(w, KEY("block_count"), (uint32_t)c->n_layer, err) ||
        gguf_writer_add_u32(w, KEY("feed_forward_length"), (uint32_t)c->ffn_dim, err) ||
        gguf_writer_add_u32(w, KEY("attention.head_count"), (uint32_t)c->n_head, err) ||
        gguf_writer_add_u32(w, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_head, err) ||
        gguf_writer_add_u32(w, KEY("attention.key_length"), (uint32_t)c->head_dim, err) ||
        gguf_writer_add_u32(w, KEY("attention.value_length"), (uint32_t)c->head_dim, err) ||
        gguf_writer_add_u32(w, KEY("rope.dimension_count"), (uint32_t)c->head_dim, err) ||
        gguf_writer_add_f32(w, KEY("rope.freq_base"), c->rope_theta, err) ||
        gguf_writer_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), c->rms_eps, err) ||
        gguf_writer_add_u32(w, KEY("vocab_size"), (uint32_t)c->vocab, err))
        return -1;
#undef KEY
    if (tok_export_gguf(m->tok, c->vocab, w, err)) return err_prefix(err, "%s", m->path);
    const char *tmpl = m->text->chat_template_src;
    return tmpl ? gguf_writer_add_str(w, "tokenizer.chat_template", tmpl, err) : 0;
}

int model_export_gguf_merged(const Model *m, const Lora *lora, uint32_t type, const char *out_path, Err *err) {
    const ModelConfig *c = &m->cfg;
    if (!quant_can_quantize(type) || type == QUANT_BF16)
        return err_set(err, ERR_ARG, "cannot write merged weights as %s", ggml_type_name(type));
    if (lora && lora->n_layer != c->n_layer)
        return err_set(err, ERR_ARG, "the adapter has %d layers, the model %d", lora->n_layer, c->n_layer);
    int widest = c->dim;
    if (c->ffn_dim > widest) widest = c->ffn_dim;
    if (c->n_head * c->head_dim > widest) widest = c->n_head * c->head_dim;
    int block = EXPORT_ROW_BLOCK / c->head_dim * c->head_dim;
    if (block < c->head_dim) block = c->head_dim;
    size_t n_weights = (size_t)arch_describe(c->arch)->n_weights * (size_t)(c->n_layer + 1);
    MergeCtx x = {m, lora, type, NULL, block, malloc((size_t)block * widest * sizeof(float)),
                  malloc((size_t)block * widest * sizeof(float)), calloc(n_weights, sizeof(MatrixJob)), 0, err};
    if (!x.rows || !x.out || !x.jobs) {
        free(x.rows);
        free(x.out);
        free(x.jobs);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    int rc = gguf_writer_new(&x.w, err);
    if (!rc) rc = m->source ? copy_metadata(x.w, m->source, err) : hf_metadata(x.w, m, err);
    if (!rc)
        rc = gguf_writer_add_u32(x.w, "general.file_type", file_type_of(type), err) ||
                     gguf_writer_add_u32(x.w, "general.quantization_version", 2, err)
                 ? -1
                 : 0;
    if (!rc) rc = arch_visit_weights(arch_describe(c->arch), c, merge_weight, &x);
    if (!rc && m->rope_factors) {
        uint64_t ne[1] = {(uint64_t)c->head_dim / 2};
        rc = gguf_writer_add_tensor(x.w, "rope_freqs.weight", QUANT_F32, 1, ne, m->rope_factors,
                                    (size_t)ne[0] * sizeof(float), false, err);
    }
    if (!rc) rc = gguf_writer_write(x.w, out_path, err);
    gguf_writer_free(x.w);
    free(x.rows);
    free(x.out);
    free(x.jobs);
    return rc ? -1 : 0;
}
