/* text_model.c: the weight-free loader for GGUF files and Hugging Face directories. */
#include "text_model.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "gguf.h"

#define TEXT_MODEL_PATH_MAX 4096
#define TEXT_MODEL_CONTEXT_MAX ((int64_t)1 << 40) /* larger context lengths are taken as corrupt metadata */

void text_model_free(TextModel *tm) {
    if (!tm) return;
    free(tm->path);
    tok_free(tm->tok);
    chat_template_free(tm->tmpl);
    free(tm->template_warning);
    free(tm->chat_template_src);
    free(tm);
}

/* The model's template, or the plain format with a note when it is not one ftune recognises. */
static int init_template(TextModel *tm, const char *src, const char *bos, const char *eos, Err *err) {
    if (src && !(tm->chat_template_src = strdup(src))) return err_set(err, ERR_NOMEM, "out of memory");
    Err terr = {0};
    if (chat_template_new(src, bos, eos, &tm->tmpl, &terr) == 0) return 0;
    if (terr.code != ERR_UNSUPPORTED) {
        if (err) *err = terr;
        return err_prefix(err, "%s: chat template", tm->path);
    }
    if (!(tm->template_warning = strdup(terr.msg))) return err_set(err, ERR_NOMEM, "out of memory");
    return chat_template_new(NULL, bos, eos, &tm->tmpl, err);
}

static int load_gguf(TextModel *tm, Err *err) {
    Gguf *g;
    if (gguf_open(tm->path, &g, err)) return -1;
    int rc = -1;
    if (tok_load_gguf(g, &tm->tok, err)) {
        err_prefix(err, "%s", tm->path);
        goto done;
    }
    const char *arch = gguf_get_str(g, "general.architecture", NULL);
    if (arch) {
        char key[256];
        snprintf(key, sizeof key, "%s.context_length", arch);
        int64_t ctx = gguf_get_int(g, key, 0);
        tm->context_length = ctx > 0 && ctx < TEXT_MODEL_CONTEXT_MAX ? (long)ctx : 0;
    }
    int32_t bos = tok_bos_id(tm->tok), eos = tok_eos_id(tm->tok);
    rc = init_template(tm, gguf_get_str(g, "tokenizer.chat_template", NULL),
                       bos >= 0 ? tok_token_text(tm->tok, bos) : NULL, eos >= 0 ? tok_token_text(tm->tok, eos) : NULL,
                       err);
done:
    gguf_close(g);
    return rc;
}

static int load_json(const char *path, json_t **out, Err *err) {
    char *text;
    size_t len;
    if (file_read_all(path, TEXT_MODEL_JSON_MAX, &text, &len, err)) return -1;
    json_error_t je;
    *out = json_loadb(text, len, 0, &je);
    free(text);
    if (!*out) return err_set(err, ERR_FORMAT, "%s: line %d, column %d: %s", path, je.line, je.column, je.text);
    return 0;
}

/* bos_token / eos_token: a string or {"content": ...}. */
static const char *token_field(json_t *tc, const char *key) {
    json_t *v = json_object_get(tc, key);
    if (json_is_object(v)) v = json_object_get(v, "content");
    return json_string_value(v);
}

/* chat_template: a string, or a list of {name, template} (the "default" one is used). */
static const char *template_field(json_t *tc) {
    json_t *v = json_object_get(tc, "chat_template");
    if (json_is_string(v)) return json_string_value(v);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        if (name && strcmp(name, "default") == 0) return json_string_value(json_object_get(e, "template"));
    }
    return NULL;
}

/* bos_token_id / eos_token_id in config.json: an integer, or a list whose first entry is used;
 * -2 when absent. */
static int config_token_id(json_t *cfg, const char *key) {
    json_t *v = json_object_get(cfg, key);
    if (json_is_array(v)) v = json_array_get(v, 0);
    return json_is_integer(v) ? (int)json_integer_value(v) : -2;
}

static int load_hf(TextModel *tm, Err *err) {
    char tok_path[TEXT_MODEL_PATH_MAX], tc_path[TEXT_MODEL_PATH_MAX], cfg_path[TEXT_MODEL_PATH_MAX];
    snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", tm->path);
    snprintf(tc_path, sizeof tc_path, "%s/tokenizer_config.json", tm->path);
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", tm->path);
    if (!file_exists(tok_path)) return err_set(err, ERR_IO, "%s: no tokenizer.json in this directory", tm->path);
    bool have_tc = file_exists(tc_path);
    if (tok_load_hf(tok_path, have_tc ? tc_path : NULL, &tm->tok, err)) return -1;
    if (file_exists(cfg_path)) {
        json_t *cfg;
        if (load_json(cfg_path, &cfg, err)) return -1;
        json_t *v = json_object_get(cfg, "max_position_embeddings");
        if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < TEXT_MODEL_CONTEXT_MAX)
            tm->context_length = (long)json_integer_value(v);
        /* tokenizer.json alone does not say which tokens are BOS/EOS: config.json does */
        int bos = config_token_id(cfg, "bos_token_id"), eos = config_token_id(cfg, "eos_token_id");
        int rc = 0;
        if (!have_tc && (bos != -2 || eos != -2))
            rc = tok_set_bos_eos(tm->tok, bos != -2 ? bos : tok_bos_id(tm->tok), eos != -2 ? eos : tok_eos_id(tm->tok), err);
        json_decref(cfg);
        if (rc) return err_prefix(err, "%s", cfg_path);
    }
    json_t *tc = NULL;
    if (have_tc && load_json(tc_path, &tc, err)) return -1;
    int rc = init_template(tm, tc ? template_field(tc) : NULL, tc ? token_field(tc, "bos_token") : NULL,
                           tc ? token_field(tc, "eos_token") : NULL, err);
    json_decref(tc);
    return rc;
}

int text_model_load(const char *path, TextModel **out, Err *err) {
    *out = NULL;
    TextModel *tm = calloc(1, sizeof *tm);
    if (!tm || !(tm->path = strdup(path))) {
        free(tm);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    int rc;
    if (file_is_dir(path))
        rc = load_hf(tm, err);
    else if (file_exists(path))
        rc = load_gguf(tm, err);
    else
        rc = err_set(err, ERR_IO, "%s: no such model file or directory", path);
    if (rc) {
        text_model_free(tm);
        return -1;
    }
    *out = tm;
    return 0;
}
