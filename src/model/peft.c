/* peft.c: saving and loading LoRA adapters in the PEFT layout (see peft.h). */
#include "peft.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/fault.h"
#include "../core/fileio.h"
#include "safetensors.h"

#define PEFT_MAX_CONFIG (1u << 20)

static void key_name(char *buf, size_t cap, int layer, LoraTarget t, const char *ab) {
    snprintf(buf, cap, "base_model.model.model.layers.%d.%s.%s.weight", layer, lora_target_module(t), ab);
}

int peft_save(const Lora *l, const char *dir, const char *base_model, Err *err) {
    if ((fault_fire(FAULT_WRITE, "peft_save mkdir") || mkdir(dir, 0755) != 0) && errno != EEXIST)
        return err_set(err, ERR_IO, "%s: cannot create: %s", dir, strerror(errno));
    int n = 0, cap = l->n_layer * LORA_N_TARGETS * 2;
    StWriteTensor *ts = fault_calloc(cap, sizeof *ts);
    char (*names)[160] = fault_calloc(cap, sizeof *names);
    if (!ts || !names) {
        free(ts);
        free(names);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    for (int layer = 0; layer < l->n_layer; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraPair *p = lora_pair(l, layer, t);
            if (!p->A) continue;
            key_name(names[n], sizeof names[n], layer, t, "lora_A");
            ts[n] = (StWriteTensor){names[n], p->A, 2, {(uint64_t)p->rank, (uint64_t)p->in}};
            n++;
            key_name(names[n], sizeof names[n], layer, t, "lora_B");
            ts[n] = (StWriteTensor){names[n], p->B, 2, {(uint64_t)p->out, (uint64_t)p->rank}};
            n++;
        }
    char path[4096];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    static const char *const meta[] = {"format", "pt", NULL};
    int rc = st_write(path, ts, n, meta, err);
    free(ts);
    free(names);
    if (rc) return -1;

    json_t *cfg = json_object();
    json_t *targets = json_array();
    for (int t = 0; t < LORA_N_TARGETS; t++)
        if (l->cfg.targets & (1u << t)) json_array_append_new(targets, json_string(lora_target_name(t)));
    json_object_set_new(cfg, "peft_type", json_string("LORA"));
    json_object_set_new(cfg, "task_type", json_string("CAUSAL_LM"));
    json_object_set_new(cfg, "base_model_name_or_path", base_model ? json_string(base_model) : json_null());
    json_object_set_new(cfg, "r", json_integer(l->cfg.rank));
    json_object_set_new(cfg, "lora_alpha", json_real(l->cfg.alpha));
    json_object_set_new(cfg, "lora_dropout", json_real(l->cfg.dropout));
    json_object_set_new(cfg, "target_modules", targets);
    json_object_set_new(cfg, "bias", json_string("none"));
    json_object_set_new(cfg, "fan_in_fan_out", json_false());
    json_object_set_new(cfg, "use_rslora", json_false());
    json_object_set_new(cfg, "use_dora", json_false());
    json_object_set_new(cfg, "inference_mode", json_true());
    json_object_set_new(cfg, "modules_to_save", json_null());
    char *text = json_dumps(cfg, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(cfg);
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    if (!text) return err_set(err, ERR_NOMEM, "out of memory");
    rc = file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

/* target_modules entries: "q_proj" or a full module path ending in it. */
static int parse_target_modules(json_t *list, const char *path, unsigned *targets, Err *err) {
    *targets = 0;
    if (json_is_string(list) && strcmp(json_string_value(list), "all-linear") == 0) {
        *targets = LORA_ALL_TARGETS;
        return 0;
    }
    if (!json_is_array(list)) return err_set(err, ERR_FORMAT, "%s: target_modules must be a list of module names", path);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        const char *name = json_string_value(v);
        if (!name) return err_set(err, ERR_FORMAT, "%s: target_modules[%zu] is not a string", path, i);
        const char *dot = strrchr(name, '.');
        const char *leaf = dot ? dot + 1 : name;
        int found = -1;
        for (int t = 0; t < LORA_N_TARGETS && found < 0; t++)
            if (strcmp(leaf, lora_target_name(t)) == 0) found = t;
        if (found < 0)
            return err_set(err, ERR_UNSUPPORTED, "%s: target module '%s' is not one ftune adapts (q/k/v/o/gate/up/down_proj)",
                           path, name);
        *targets |= 1u << found;
    }
    if (!*targets) return err_set(err, ERR_FORMAT, "%s: target_modules is empty", path);
    return 0;
}

static int read_config(const char *dir, LoraConfig *cfg, bool *rslora, Err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    char *text;
    size_t len;
    if (file_read_all(path, PEFT_MAX_CONFIG, &text, &len, err)) return -1;
    json_error_t je;
    json_t *c = json_loadb(text, len, 0, &je);
    free(text);
    if (!c) return err_set(err, ERR_FORMAT, "%s: line %d, column %d: %s", path, je.line, je.column, je.text);
    int rc = 0;
    const char *type = json_string_value(json_object_get(c, "peft_type"));
    json_t *r = json_object_get(c, "r"), *alpha = json_object_get(c, "lora_alpha");
    const char *bias = json_string_value(json_object_get(c, "bias"));
    if (type && strcmp(type, "LORA") != 0) rc = err_set(err, ERR_UNSUPPORTED, "%s: peft_type %s (only LORA)", path, type);
    else if (!json_is_integer(r)) rc = err_set(err, ERR_FORMAT, "%s: r must be an integer", path);
    else if (json_is_true(json_object_get(c, "fan_in_fan_out")) || json_is_true(json_object_get(c, "use_dora")))
        rc = err_set(err, ERR_UNSUPPORTED, "%s: fan_in_fan_out and DoRA adapters are not supported", path);
    else if (bias && strcmp(bias, "none") != 0)
        rc = err_set(err, ERR_UNSUPPORTED, "%s: bias '%s' is not supported (only \"none\")", path, bias);
    else if (json_object_size(json_object_get(c, "rank_pattern")) || json_object_size(json_object_get(c, "alpha_pattern")))
        rc = err_set(err, ERR_UNSUPPORTED, "%s: rank_pattern / alpha_pattern are not supported", path);
    if (!rc) {
        cfg->rank = (int)json_integer_value(r);
        cfg->alpha = json_is_number(alpha) ? (float)json_number_value(alpha) : 8.0f;
        json_t *d = json_object_get(c, "lora_dropout");
        cfg->dropout = json_is_number(d) ? (float)json_number_value(d) : 0.0f;
        *rslora = json_is_true(json_object_get(c, "use_rslora"));
        rc = parse_target_modules(json_object_get(c, "target_modules"), path, &cfg->targets, err);
    }
    json_decref(c);
    return rc;
}

static int read_factor(const SafeTensors *st, const char *key, float *dst, int rows, int cols, Err *err) {
    const StTensor *t = st_find(st, key);
    if (!t) {
        /* some writers keep the adapter name: ...lora_A.default.weight */
        char alt[200];
        size_t n = strlen(key) - strlen(".weight");
        snprintf(alt, sizeof alt, "%.*s.default.weight", (int)n, key);
        t = st_find(st, alt);
    }
    if (!t) return err_set(err, ERR_FORMAT, "%s: missing tensor '%s'", st_path(st), key);
    if (t->n_dims != 2 || t->shape[0] != (uint64_t)rows || t->shape[1] != (uint64_t)cols)
        return err_set(err, ERR_FORMAT, "%s: tensor '%s' should be [%d, %d]", st_path(st), key, rows, cols);
    return st_tensor_to_f32(t, dst, err) ? err_prefix(err, "%s", st_path(st)) : 0;
}

int peft_load(const Model *m, const char *dir, Lora **out, Err *err) {
    *out = NULL;
    LoraConfig cfg = {0};
    bool rslora = false;
    if (read_config(dir, &cfg, &rslora, err)) return -1;
    Lora *l;
    if (lora_new(m, &cfg, &l, err)) return err_prefix(err, "%s", dir);
    if (rslora) l->scale = cfg.alpha / sqrtf((float)cfg.rank);
    char path[4096];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    SafeTensors *st;
    if (st_open(path, &st, err)) {
        lora_free(l);
        return -1;
    }
    int rc = 0;
    for (int layer = 0; layer < l->n_layer && !rc; layer++)
        for (int t = 0; t < LORA_N_TARGETS && !rc; t++) {
            const LoraPair *p = lora_pair(l, layer, t);
            if (!p->A) continue;
            char key[160];
            key_name(key, sizeof key, layer, t, "lora_A");
            rc = read_factor(st, key, p->A, p->rank, p->in, err);
            key_name(key, sizeof key, layer, t, "lora_B");
            if (!rc) rc = read_factor(st, key, p->B, p->out, p->rank, err);
        }
    st_close(st);
    if (rc) {
        lora_free(l);
        return -1;
    }
    *out = l;
    return 0;
}
