/* encoder_load.c: reads a sentence-transformers BERT folder into an Encoder (encoder.h): the
 * hyper-parameters from config.json, the sequence bound from sentence_bert_config.json, pooling
 * from 1_Pooling/config.json, normalisation from modules.json, the weights from model.safetensors
 * (F32, F16 or BF16, converted to fp32 into one allocation; names with or without a "bert."
 * prefix), and the tokenizer from tokenizer.json. Every shape is checked. No forward pass here
 * (encoder.c). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "encoder.h"
#include "safetensors.h"

#define PATH_CAP 4200

/* Parses dir/name into *root, which must be an object (or an array when array); 1 when the file
 * does not exist (root NULL). */
static int read_json(const char *dir, const char *name, bool array, json_t **root, Err *err) {
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *root = NULL;
    if (!file_exists(path)) return 1;
    char *text = NULL;
    size_t len = 0;
    if (file_read_all(path, ENCODER_MAX_JSON, &text, &len, err)) return -1;
    json_error_t je;
    *root = json_loadb(text, len, 0, &je);
    free(text);
    if (!*root) return err_set(err, ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", path, je.line, je.column, je.text);
    if (array ? !json_is_array(*root) : !json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return err_set(err, ERR_FORMAT, "%s: not a JSON %s", path, array ? "array" : "object");
    }
    return 0;
}

static int config_int(json_t *cfg, const char *dir, const char *key, int lo, int hi, int *out, Err *err) {
    json_t *v = json_object_get(cfg, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return err_set(err, ERR_FORMAT, "%s/config.json: \"%s\" must be an integer in %d..%d", dir, key, lo, hi);
    *out = (int)json_integer_value(v);
    return 0;
}

static int read_config(Encoder *e, const char *dir, Err *err) {
    json_t *cfg;
    int rc = read_json(dir, "config.json", false, &cfg, err);
    if (rc) return rc < 0 ? -1 : err_set(err, ERR_IO, "%s/config.json: no such file", dir);
    EncoderConfig *c = &e->cfg;
    const char *mt = json_string_value(json_object_get(cfg, "model_type"));
    const char *act = json_string_value(json_object_get(cfg, "hidden_act"));
    const char *pos = json_string_value(json_object_get(cfg, "position_embedding_type"));
    json_t *eps = json_object_get(cfg, "layer_norm_eps");
    if (!mt || strcmp(mt, "bert"))
        rc = err_set(err, ERR_UNSUPPORTED, "%s/config.json: model_type \"%s\" is not an encoder ftune runs (bert)", dir,
                     mt ? mt : "");
    else if (act && strcmp(act, "gelu"))
        rc = err_set(err, ERR_UNSUPPORTED, "%s/config.json: hidden_act \"%s\" is not supported (gelu)", dir, act);
    else if (pos && strcmp(pos, "absolute"))
        rc = err_set(err, ERR_UNSUPPORTED, "%s/config.json: position_embedding_type \"%s\" is not supported (absolute)",
                     dir, pos);
    else if (config_int(cfg, dir, "num_hidden_layers", 1, ENCODER_MAX_LAYERS, &c->n_layer, err) ||
             config_int(cfg, dir, "hidden_size", 1, ENCODER_MAX_DIM, &c->n_embd, err) ||
             config_int(cfg, dir, "num_attention_heads", 1, ENCODER_MAX_DIM, &c->n_head, err) ||
             config_int(cfg, dir, "intermediate_size", 1, 4 * ENCODER_MAX_DIM, &c->n_ff, err) ||
             config_int(cfg, dir, "vocab_size", 1, 1 << 24, &c->n_vocab, err) ||
             config_int(cfg, dir, "max_position_embeddings", 1, ENCODER_MAX_POSITIONS, &c->n_pos, err))
        rc = -1;
    else if (c->n_embd % c->n_head)
        rc = err_set(err, ERR_FORMAT, "%s/config.json: hidden_size %d is not a multiple of num_attention_heads %d", dir,
                     c->n_embd, c->n_head);
    c->n_types = 2;
    if (!rc && json_object_get(cfg, "type_vocab_size") &&
        config_int(cfg, dir, "type_vocab_size", 1, 1 << 16, &c->n_types, err))
        rc = -1;
    c->ln_eps = json_is_number(eps) ? (float)json_number_value(eps) : 1e-12f;
    c->max_seq = c->n_pos;
    json_decref(cfg);
    return rc;
}

/* sentence_bert_config.json's max_seq_length, 1_Pooling's mode, modules.json's Normalize. */
static int read_sentence_config(Encoder *e, const char *dir, Err *err) {
    json_t *st, *pool;
    int rc = read_json(dir, "sentence_bert_config.json", false, &st, err);
    if (rc < 0) return -1;
    if (!rc) {
        json_t *m = json_object_get(st, "max_seq_length");
        if (json_is_integer(m) && json_integer_value(m) >= 3 && json_integer_value(m) <= e->cfg.n_pos)
            e->cfg.max_seq = (int)json_integer_value(m);
        else if (m)
            rc = err_set(err, ERR_FORMAT, "%s/sentence_bert_config.json: max_seq_length must be in 3..%d", dir, e->cfg.n_pos);
        json_decref(st);
        if (rc) return -1;
    }
    e->cfg.pooling = ENCODER_POOL_MEAN;
    rc = read_json(dir, "1_Pooling/config.json", false, &pool, err);
    if (rc < 0) return -1;
    if (!rc) {
        static const char *const others[] = {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                                             "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"};
        bool mean = json_is_true(json_object_get(pool, "pooling_mode_mean_tokens"));
        bool cls = json_is_true(json_object_get(pool, "pooling_mode_cls_token"));
        for (size_t i = 0; i < sizeof others / sizeof others[0] && !rc; i++)
            if (json_is_true(json_object_get(pool, others[i])))
                rc = err_set(err, ERR_UNSUPPORTED, "%s/1_Pooling/config.json: %s is not supported (mean or CLS pooling)",
                             dir, others[i]);
        if (!rc && mean == cls)
            rc = err_set(err, ERR_UNSUPPORTED, "%s/1_Pooling/config.json: exactly one of mean and CLS pooling must be on",
                         dir);
        e->cfg.pooling = cls ? ENCODER_POOL_CLS : ENCODER_POOL_MEAN;
        json_decref(pool);
        if (rc) return -1;
    }
    return 0;
}

/* modules.json: the pipeline's modules; normalised when it has Normalize (and always without the
 * file, as OpenAI's embeddings are). */
static int read_modules(Encoder *e, const char *dir, Err *err) {
    json_t *mods;
    int rc = read_json(dir, "modules.json", true, &mods, err);
    e->cfg.normalize = rc == 1;
    if (rc) return rc < 0 ? -1 : 0;
    size_t i;
    json_t *m;
    json_array_foreach(mods, i, m) {
        const char *ty = json_string_value(json_object_get(m, "type"));
        const char *base = ty && strrchr(ty, '.') ? strrchr(ty, '.') + 1 : ty ? ty : "";
        if (!strcmp(base, "Normalize")) e->cfg.normalize = true;
        else if (strcmp(base, "Transformer") && strcmp(base, "Pooling") && !rc)
            rc = err_set(err, ERR_UNSUPPORTED,
                         "%s/modules.json: module %zu of type \"%s\" is not supported (Transformer, Pooling, Normalize)",
                         dir, i, ty ? ty : "");
    }
    json_decref(mods);
    return rc;
}

typedef struct {
    const SafeTensors *st;
    float *next; /* where the next weight goes in params */
    const char *dir;
} WeightReader;

/* Copies tensor name (rows, cols; cols 0 for a vector) into the allocation. */
static int take(WeightReader *w, const char *name, int rows, int cols, const float **out, Err *err) {
    char prefixed[256];
    const StTensor *t = st_find(w->st, name);
    if (!t) {
        snprintf(prefixed, sizeof prefixed, "bert.%s", name);
        t = st_find(w->st, prefixed);
    }
    if (!t) return err_set(err, ERR_FORMAT, "%s/model.safetensors: tensor '%s' is missing", w->dir, name);
    bool ok = cols ? t->n_dims == 2 && t->shape[0] == (uint64_t)rows && t->shape[1] == (uint64_t)cols
                   : t->n_dims == 1 && t->shape[0] == (uint64_t)rows;
    if (!ok)
        return err_set(err, ERR_FORMAT, "%s/model.safetensors: tensor '%s' does not have the shape config.json gives: (%d, %d)",
                       w->dir, name, rows, cols);
    if (st_tensor_to_f32(t, w->next, err)) return err_prefix(err, "%s/model.safetensors", w->dir);
    *out = w->next;
    w->next += (size_t)rows * (cols ? cols : 1);
    return 0;
}

/* take for a matrix: an F32 QuantMatrix over the copied values (no bf16 copy yet). */
static int take_matrix(WeightReader *w, const char *name, int rows, int cols, QuantMatrix *out, Err *err) {
    const float *data;
    if (take(w, name, rows, cols, &data, err)) return -1;
    *out = (QuantMatrix){.type = QUANT_F32, .data = (const unsigned char *)data, .rows = rows, .cols = cols};
    return 0;
}

static int read_weights(Encoder *e, const char *dir, Err *err) {
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    SafeTensors *st;
    if (st_open(path, &st, err)) return -1;
    const EncoderConfig *c = &e->cfg;
    size_t C = (size_t)c->n_embd, F = (size_t)c->n_ff;
    e->n_params = ((size_t)c->n_vocab + c->n_pos + c->n_types + 2) * C +
                  (size_t)c->n_layer * (4 * C * C + 4 * C + 2 * C * F + F + C + 4 * C);
    e->params = malloc(e->n_params * sizeof(float));
    if (!e->params) {
        st_close(st);
        return err_set(err, ERR_NOMEM, "%s: out of memory for %zu parameters", dir, e->n_params);
    }
    WeightReader w = {st, e->params, dir};
    int rc = take(&w, "embeddings.word_embeddings.weight", c->n_vocab, c->n_embd, &e->tok_emb, err) ||
             take(&w, "embeddings.position_embeddings.weight", c->n_pos, c->n_embd, &e->pos_emb, err) ||
             take(&w, "embeddings.token_type_embeddings.weight", c->n_types, c->n_embd, &e->type_emb, err) ||
             take(&w, "embeddings.LayerNorm.weight", c->n_embd, 0, &e->emb_ln_w, err) ||
             take(&w, "embeddings.LayerNorm.bias", c->n_embd, 0, &e->emb_ln_b, err);
    for (int l = 0; l < c->n_layer && !rc; l++) {
        EncoderLayer *L = &e->layers[l];
        char n[24][96];
        static const char *const parts[] = {
            "attention.self.query.weight",   "attention.self.query.bias",    "attention.self.key.weight",
            "attention.self.key.bias",       "attention.self.value.weight",  "attention.self.value.bias",
            "attention.output.dense.weight", "attention.output.dense.bias",  "attention.output.LayerNorm.weight",
            "attention.output.LayerNorm.bias", "intermediate.dense.weight",  "intermediate.dense.bias",
            "output.dense.weight",           "output.dense.bias",            "output.LayerNorm.weight",
            "output.LayerNorm.bias"};
        for (int i = 0; i < 16; i++) snprintf(n[i], sizeof n[i], "encoder.layer.%d.%s", l, parts[i]);
        int Ci = c->n_embd, Fi = c->n_ff;
        rc = take_matrix(&w, n[0], Ci, Ci, &L->q_w, err) || take(&w, n[1], Ci, 0, &L->q_b, err) ||
             take_matrix(&w, n[2], Ci, Ci, &L->k_w, err) || take(&w, n[3], Ci, 0, &L->k_b, err) ||
             take_matrix(&w, n[4], Ci, Ci, &L->v_w, err) || take(&w, n[5], Ci, 0, &L->v_b, err) ||
             take_matrix(&w, n[6], Ci, Ci, &L->o_w, err) || take(&w, n[7], Ci, 0, &L->o_b, err) ||
             take(&w, n[8], Ci, 0, &L->ln1_w, err) || take(&w, n[9], Ci, 0, &L->ln1_b, err) ||
             take_matrix(&w, n[10], Fi, Ci, &L->ff1_w, err) || take(&w, n[11], Fi, 0, &L->ff1_b, err) ||
             take_matrix(&w, n[12], Ci, Fi, &L->ff2_w, err) || take(&w, n[13], Ci, 0, &L->ff2_b, err) ||
             take(&w, n[14], Ci, 0, &L->ln2_w, err) || take(&w, n[15], Ci, 0, &L->ln2_b, err);
    }
    st_close(st);
    return rc ? -1 : 0;
}

static int read_tokenizer(Encoder *e, const char *dir, Err *err) {
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    /* tokenizer_config.json is not read: BertTokenizer's names no bos/eos, the post-processor's count */
    if (tok_load_hf(path, NULL, &e->tok, err)) return -1;
    e->cls_id = tok_bos_id(e->tok);
    e->sep_id = tok_eos_id(e->tok);
    if (e->cls_id < 0 || e->sep_id < 0 || !tok_adds_bos(e->tok))
        return err_set(err, ERR_UNSUPPORTED, "%s: the post-processor does not put [CLS] ... [SEP] around a text", path);
    if (tok_vocab_size(e->tok) > e->cfg.n_vocab)
        return err_set(err, ERR_FORMAT, "%s: %d tokens, more than the model's vocab_size %d", path,
                       tok_vocab_size(e->tok), e->cfg.n_vocab);
    return 0;
}

int encoder_load(const char *dir, Encoder **out, Err *err) {
    if (!dir || !out) return err_set(err, ERR_ARG, "encoder_load: missing argument");
    *out = NULL;
    if (!file_is_dir(dir)) return err_set(err, ERR_IO, "%s: not a directory", dir);
    Encoder *e = calloc(1, sizeof *e);
    if (!e) return err_set(err, ERR_NOMEM, "out of memory");
    snprintf(e->path, sizeof e->path, "%s", dir);
    e->precision = PRECISION_FP32;
    if (read_config(e, dir, err) || read_sentence_config(e, dir, err) || read_modules(e, dir, err) ||
        read_tokenizer(e, dir, err) || read_weights(e, dir, err)) {
        encoder_free(e);
        return -1;
    }
    *out = e;
    return 0;
}

void encoder_free(Encoder *e) {
    if (!e) return;
    tok_free(e->tok);
    free(e->params);
    free(e->bf16);
    free(e);
}
