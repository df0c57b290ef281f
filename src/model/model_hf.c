/* model_hf.c: builds a Model from a Hugging Face directory: config.json (a model_type of a table
 * in arch.h: llama, mistral, qwen2), model.safetensors or shards listed in
 * model.safetensors.index.json, tokenizer.json and tokenizer_config.json (chat template,
 * bos/eos). Tensor names come from the architecture's table; weights are already in rotate-half
 * layout. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "model.h"
#include "safetensors.h"

#define HF_MAX_SHARDS 1024
#define HF_MAX_JSON (64u << 20)

typedef struct {
    SafeTensors *shards[HF_MAX_SHARDS];
    int n_shards;
    const ArchDesc *arch;
} HfCtx;

static const StTensor *find_tensor(const HfCtx *ctx, const char *name, const SafeTensors **owner) {
    for (int i = 0; i < ctx->n_shards; i++) {
        const StTensor *t = st_find(ctx->shards[i], name);
        if (t) {
            *owner = ctx->shards[i];
            return t;
        }
    }
    return NULL;
}

static int read_weight(void *vctx, const ArchWeight *w, int layer, float *vec, QuantMatrix *mat, void **owned,
                       int rows, int cols, Err *err) {
    HfCtx *ctx = vctx;
    char name[ARCH_MAX_NAME];
    arch_format_hf_name(w, layer, name, sizeof name);
    const SafeTensors *owner = NULL;
    const StTensor *t = find_tensor(ctx, name, &owner);
    if (!t) return err_set(err, ERR_FORMAT, "%s: missing tensor '%s'", st_path(ctx->shards[0]), name);
    bool ok = cols == 1 ? (t->n_dims == 1 && t->shape[0] == (uint64_t)rows)
                        : (t->n_dims == 2 && t->shape[0] == (uint64_t)rows && t->shape[1] == (uint64_t)cols);
    if (!ok)
        return err_set(err, ERR_FORMAT, "%s: tensor '%s' has %d dims [%llu, %llu], expected [%d, %d]", st_path(owner),
                       name, t->n_dims, (unsigned long long)t->shape[0],
                       (unsigned long long)(t->n_dims > 1 ? t->shape[1] : 1), rows, cols);
    if (vec) return st_tensor_to_f32(t, vec, err) ? err_prefix(err, "%s", st_path(owner)) : 0;
    /* a matrix keeps its dtype, copied out of the mapping (the files close after loading) */
    static const uint32_t types[] = {[ST_F32] = QUANT_F32, [ST_F16] = QUANT_F16, [ST_BF16] = QUANT_BF16};
    if (t->dtype == ST_OTHER)
        return err_set(err, ERR_UNSUPPORTED, "%s: tensor '%s': dtype %s is not supported (F32, F16, BF16 are)",
                       st_path(owner), name, t->dtype_name);
    size_t bytes = quant_row_bytes(types[t->dtype], (size_t)rows * cols);
    unsigned char *copy = malloc(bytes);
    if (!copy) return err_set(err, ERR_NOMEM, "%s: out of memory", st_path(owner));
    memcpy(copy, t->data, bytes);
    *mat = (QuantMatrix){types[t->dtype], copy, rows, cols, NULL, NULL};
    *owned = copy;
    return 0;
}

static int load_json(const char *path, json_t **out, Err *err) {
    char *text;
    size_t len;
    if (file_read_all(path, HF_MAX_JSON, &text, &len, err)) return -1;
    json_error_t je;
    *out = json_loadb(text, len, 0, &je);
    free(text);
    if (!*out) return err_set(err, ERR_FORMAT, "%s: line %d, column %d: %s", path, je.line, je.column, je.text);
    return 0;
}

static int json_int(json_t *o, const char *k, int dflt) {
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

static double json_num(json_t *o, const char *k, double dflt) {
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

/* Llama 3.1 "llama3" rope scaling as frequency divisors per pair. */
static int llama3_rope_factors(Model *m, json_t *rs, Err *err) {
    int half = m->cfg.head_dim / 2;
    double factor = json_num(rs, "factor", 8), low = json_num(rs, "low_freq_factor", 1),
           high = json_num(rs, "high_freq_factor", 4), old_ctx = json_num(rs, "original_max_position_embeddings", 8192);
    if (!(high > low) || !(factor > 0)) return err_set(err, ERR_FORMAT, "%s: invalid llama3 rope_scaling", m->path);
    if (!(m->rope_factors = malloc(half * sizeof(float)))) return err_set(err, ERR_NOMEM, "out of memory");
    for (int i = 0; i < half; i++) {
        double freq = 1.0 / pow(m->cfg.rope_theta, 2.0 * i / m->cfg.head_dim), wavelen = 2 * M_PI / freq, f;
        if (wavelen < old_ctx / high) f = 1;
        else if (wavelen > old_ctx / low) f = factor;
        else {
            double smooth = (old_ctx / wavelen - low) / (high - low);
            f = freq / ((1 - smooth) * freq / factor + smooth * freq);
        }
        m->rope_factors[i] = (float)f;
    }
    m->cfg.has_rope_factors = true;
    return 0;
}


static int read_config(const char *dir, Model *m, Err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_t *cfg;
    if (load_json(path, &cfg, err)) return -1;
    int rc = -1;
    ModelConfig *c = &m->cfg;
    const char *type = json_string_value(json_object_get(cfg, "model_type"));
    if (!type) {
        err_set(err, ERR_FORMAT, "%s: no model_type", path);
        goto done;
    }
    const ArchDesc *a = arch_find_hf(type);
    if (!a) {
        char names[128];
        arch_list_names(true, names, sizeof names);
        err_set(err, ERR_UNSUPPORTED, "%s: unsupported model_type '%s' (%s are supported)", path, type, names);
        goto done;
    }
    c->arch = a->arch;
    c->dim = json_int(cfg, "hidden_size", 0);
    c->n_layer = json_int(cfg, "num_hidden_layers", 0);
    c->n_head = json_int(cfg, "num_attention_heads", 0);
    c->n_kv_head = json_int(cfg, "num_key_value_heads", c->n_head);
    c->head_dim = json_int(cfg, "head_dim", c->n_head > 0 ? c->dim / c->n_head : 0);
    c->ffn_dim = json_int(cfg, "intermediate_size", 0);
    c->vocab = json_int(cfg, "vocab_size", 0);
    c->max_seq = json_int(cfg, "max_position_embeddings", 2048);
    c->rope_theta = (float)json_num(cfg, "rope_theta", 10000.0);
    c->rms_eps = (float)json_num(cfg, "rms_norm_eps", 1e-6);
    c->tied_embeddings = json_is_true(json_object_get(cfg, "tie_word_embeddings"));
    c->qkv_bias = a->qkv_bias || json_is_true(json_object_get(cfg, "attention_bias"));
    json_t *rs = json_object_get(cfg, "rope_scaling");
    if (json_is_object(rs)) {
        const char *rt = json_string_value(json_object_get(rs, "rope_type"));
        if (!rt) rt = json_string_value(json_object_get(rs, "type"));
        if (rt && strcmp(rt, "llama3") == 0) {
            if (c->head_dim <= 0 || llama3_rope_factors(m, rs, err)) goto done;
        } else if (!rt || strcmp(rt, "default") != 0) {
            err_set(err, ERR_UNSUPPORTED, "%s: rope_scaling type '%s' is not supported", path, rt ? rt : "?");
            goto done;
        }
    }
    rc = 0;
done:
    json_decref(cfg);
    return rc;
}

static int open_shards(const char *dir, HfCtx *ctx, Err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (file_exists(path)) {
        ctx->n_shards = 1;
        return st_open(path, &ctx->shards[0], err);
    }
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    if (!file_exists(path))
        return err_set(err, ERR_IO, "%s: neither model.safetensors nor model.safetensors.index.json is there", dir);
    json_t *idx;
    if (load_json(path, &idx, err)) return -1;
    json_t *map = json_object_get(idx, "weight_map");
    int rc = 0;
    if (!json_is_object(map)) rc = err_set(err, ERR_FORMAT, "%s: no weight_map object", path);
    const char *key;
    json_t *v;
    json_object_foreach(map, key, v) {
        if (rc) break;
        const char *file = json_string_value(v);
        if (!file || strchr(file, '/') || strcmp(file, "..") == 0) {
            rc = err_set(err, ERR_FORMAT, "%s: weight_map entry '%s' is not a file name", path, key);
            break;
        }
        char shard[4096];
        snprintf(shard, sizeof shard, "%s/%s", dir, file);
        bool seen = false;
        for (int i = 0; i < ctx->n_shards && !seen; i++) seen = strcmp(st_path(ctx->shards[i]), shard) == 0;
        if (seen) continue;
        if (ctx->n_shards == HF_MAX_SHARDS) rc = err_set(err, ERR_FORMAT, "%s: more than %d shards", path, HF_MAX_SHARDS);
        else rc = st_open(shard, &ctx->shards[ctx->n_shards], err);
        if (!rc) ctx->n_shards++;
    }
    if (!rc && ctx->n_shards == 0) rc = err_set(err, ERR_FORMAT, "%s: weight_map lists no shard", path);
    json_decref(idx);
    return rc;
}




int model_load_hf(const char *dir, Model *m, Err *err) {
    if (read_config(dir, m, err)) return -1;
    HfCtx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return err_set(err, ERR_NOMEM, "out of memory");
    int rc = -1;
    ctx->arch = arch_describe(m->cfg.arch);
    if (open_shards(dir, ctx, err)) goto done;
    const SafeTensors *owner;
    char head[ARCH_MAX_NAME];
    arch_format_hf_name(arch_find_weight(ctx->arch, W_OUTPUT), -1, head, sizeof head);
    if (!m->cfg.tied_embeddings && !find_tensor(ctx, head, &owner)) m->cfg.tied_embeddings = true;
    if (!(m->format = strdup("huggingface"))) {
        err_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    int counts[4] = {0};
    for (int i = 0; i < ctx->n_shards; i++)
        for (int j = 0; j < st_n_tensors(ctx->shards[i]); j++) counts[st_tensor(ctx->shards[i], j)->dtype]++;
    char buf[256];
    static const char *dn[4] = {"F32", "F16", "BF16", "other"};
    size_t len = 0;
    buf[0] = 0;
    for (int d = 0; d < 4; d++)
        if (counts[d]) len += snprintf(buf + len, sizeof buf - len, "%s%s x%d", len ? ", " : "", dn[d], counts[d]);
    if (!(m->tensor_types = strdup(buf))) {
        err_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    if (model_alloc_and_read(m, read_weight, ctx, err)) goto done;
    rc = 0;
done:
    for (int i = 0; i < ctx->n_shards; i++) st_close(ctx->shards[i]);
    free(ctx);
    return rc;
}
