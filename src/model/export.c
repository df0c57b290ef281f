/* export.c: merged Hugging Face model export (see export.h): the architecture's weights (arch.h)
 * in table order under their Hugging Face names as fp32 (matrices dequantized from their stored
 * type), LoRA pairs merged into the matrices they adapt. */
#include "export.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/fileio.h"
#include "../tensor/matmul.h"
#include "safetensors.h"

#define EXPORT_MAX_TOKENIZER_FILE ((size_t)1 << 30)

static int write_text(const char *path, const char *text, Err *err) {
    return file_write_atomic(path, text, strlen(text), err);
}

static int write_json(const char *path, json_t *j, Err *err) {
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!text) return err_set(err, ERR_NOMEM, "out of memory");
    int rc = write_text(path, text, err);
    free(text);
    return rc;
}

static int copy_file(const char *from, const char *to, Err *err) {
    char *data;
    size_t len;
    if (file_read_all(from, EXPORT_MAX_TOKENIZER_FILE, &data, &len, err)) return -1;
    AtomicFile af;
    int rc = file_atomic_open(&af, to, err);
    if (!rc) {
        file_atomic_write(&af, data, len);
        rc = file_atomic_commit(&af, err);
    }
    free(data);
    return rc;
}

static json_t *config_json(const Model *m) {
    const ModelConfig *c = &m->cfg;
    const ArchDesc *a = arch_describe(c->arch);
    int32_t bos = tok_bos_id(m->tok), eos = tok_eos_id(m->tok);
    json_t *j = json_object();
    json_object_set_new(j, "architectures", json_pack("[s]", a->hf_class));
    json_object_set_new(j, "model_type", json_string(a->hf_types[0]));
    json_object_set_new(j, "hidden_size", json_integer(c->dim));
    json_object_set_new(j, "intermediate_size", json_integer(c->ffn_dim));
    json_object_set_new(j, "num_hidden_layers", json_integer(c->n_layer));
    json_object_set_new(j, "num_attention_heads", json_integer(c->n_head));
    json_object_set_new(j, "num_key_value_heads", json_integer(c->n_kv_head));
    json_object_set_new(j, "head_dim", json_integer(c->head_dim));
    json_object_set_new(j, "vocab_size", json_integer(c->vocab));
    json_object_set_new(j, "max_position_embeddings", json_integer(c->max_seq));
    json_object_set_new(j, "rope_theta", json_real(c->rope_theta));
    json_object_set_new(j, "rms_norm_eps", json_real(c->rms_eps));
    json_object_set_new(j, "tie_word_embeddings", json_boolean(c->tied_embeddings));
    json_object_set_new(j, "hidden_act", json_string("silu"));
    if (!a->qkv_bias) json_object_set_new(j, "attention_bias", json_boolean(c->qkv_bias));
    json_object_set_new(j, "bos_token_id", bos >= 0 ? json_integer(bos) : json_null());
    json_object_set_new(j, "eos_token_id", eos >= 0 ? json_integer(eos) : json_null());
    json_object_set_new(j, "torch_dtype", json_string("float32"));
    return j;
}

/* tok_json: the tokenizer.json text made from a GGUF source (NULL for a Hugging Face source). */
static int write_tokenizer(const Model *m, const char *out_dir, const char *tok_json, Err *err) {
    char from[4096], to[4096];
    if (file_is_dir(m->path)) { /* a Hugging Face source: its files as they are */
        static const char *const files[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                            "generation_config.json"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            snprintf(from, sizeof from, "%s/%s", m->path, files[i]);
            snprintf(to, sizeof to, "%s/%s", out_dir, files[i]);
            if (file_exists(from) && copy_file(from, to, err)) return -1;
        }
        return 0;
    }
    snprintf(to, sizeof to, "%s/tokenizer.json", out_dir);
    if (write_text(to, tok_json, err)) return -1;
    int32_t bos = tok_bos_id(m->tok), eos = tok_eos_id(m->tok);
    json_t *tc = json_object();
    json_object_set_new(tc, "tokenizer_class", json_string("PreTrainedTokenizerFast"));
    json_object_set_new(tc, "bos_token", bos >= 0 ? json_string(tok_token_text(m->tok, bos)) : json_null());
    json_object_set_new(tc, "eos_token", eos >= 0 ? json_string(tok_token_text(m->tok, eos)) : json_null());
    json_object_set_new(tc, "add_bos_token", json_boolean(tok_adds_bos(m->tok)));
    json_object_set_new(tc, "model_max_length", json_integer(m->cfg.max_seq));
    if (m->text->chat_template_src) json_object_set_new(tc, "chat_template", json_string(m->text->chat_template_src));
    snprintf(to, sizeof to, "%s/tokenizer_config.json", out_dir);
    return write_json(to, tc, err);
}

typedef struct {
    const Model *m;
    const Lora *lora;
    StWriteTensor *ts;
    char (*names)[ARCH_MAX_NAME];
    int n;
    float **owned; /* dequantized copies, freed by the caller */
    int n_owned;
    Err *err;
} ExportCtx;

/* Adds one weight to the tensor list, merged with its LoRA pair (W + scale * B A) if adapted. */
static int export_weight(void *vctx, const ArchWeight *w, int layer) {
    ExportCtx *x = vctx;
    const ModelConfig *c = &x->m->cfg;
    int rows = (int)arch_dim_size(w->rows, c), cols = (int)arch_dim_size(w->cols, c);
    const float *src = model_vector(x->m, w, layer);
    const QuantMatrix *mat = model_matrix(x->m, w, layer);
    if (mat) { /* written as fp32: dequantized, and merged with its LoRA pair */
        float *full = malloc((size_t)rows * cols * sizeof(float));
        if (!full) return err_set(x->err, ERR_NOMEM, "out of memory");
        x->owned[x->n_owned++] = full;
        for (int i = 0; i < rows; i++) op_matrix_row(full + (size_t)i * cols, mat, i);
        const LoraPair *p = x->lora && w->lora != ARCH_NO_LORA ? lora_pair(x->lora, layer, w->lora) : NULL;
        if (p && p->A && lora_merge_rows(full, p, x->lora->scale, 0, rows, x->err)) return -1;
        src = full;
    }
    arch_format_hf_name(w, layer, x->names[x->n], sizeof x->names[x->n]);
    StWriteTensor *t = &x->ts[x->n++];
    *t = (StWriteTensor){x->names[x->n - 1], src, cols > 1 ? 2 : 1, {(uint64_t)rows, (uint64_t)cols}};
    if (cols <= 1) t->shape[1] = 0;
    return 0;
}

int model_export_merged(const Model *m, const Lora *lora, const char *out_dir, Err *err) {
    const ModelConfig *c = &m->cfg;
    if (lora && lora->n_layer != c->n_layer) return err_set(err, ERR_ARG, "the adapter does not fit this model");
    /* everything that can be refused is refused before anything is written */
    char *tok_json = NULL;
    if (!file_is_dir(m->path) && tok_export_hf(m->tok, &tok_json, err)) return err_prefix(err, "%s", m->path);
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        free(tok_json);
        return err_set(err, ERR_IO, "%s: cannot create: %s", out_dir, strerror(errno));
    }
    const ArchDesc *a = arch_describe(c->arch);
    size_t cap = (size_t)a->n_weights * (c->n_layer + 1);
    ExportCtx x = {m, lora, calloc(cap, sizeof *x.ts), calloc(cap, sizeof *x.names), 0,
                   calloc(cap, sizeof(float *)), 0, err};
    int rc = 0;
    if (!x.ts || !x.names || !x.owned) {
        rc = err_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = arch_visit_weights(a, c, export_weight, &x))) goto done;
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", out_dir);
    static const char *const meta[] = {"format", "pt", NULL};
    if ((rc = st_write(path, x.ts, x.n, meta, err))) goto done;
    snprintf(path, sizeof path, "%s/config.json", out_dir);
    if ((rc = write_json(path, config_json(m), err))) goto done;
    rc = write_tokenizer(m, out_dir, tok_json, err);
done:
    free(tok_json);
    for (int i = 0; i < x.n_owned; i++) free(x.owned[i]);
    free(x.owned);
    free(x.ts);
    free(x.names);
    return rc;
}
