/* ftune_model.c: the public API's errors, models (load, describe, tokenize, detokenize) and
 * adapters, as thin wrappers over model/model.h, text/tokenizer.h and model/peft.h. It adds only
 * argument checks at the boundary; it does not load or tokenize anything itself. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/export_gguf.h"
#include "../model/peft.h"
#include "ftune_internal.h"

_Static_assert((int)FT_ERR_IO == (int)ERR_IO && (int)FT_ERR_FORMAT == (int)ERR_FORMAT &&
                   (int)FT_ERR_UNSUPPORTED == (int)ERR_UNSUPPORTED && (int)FT_ERR_NOMEM == (int)ERR_NOMEM &&
                   (int)FT_ERR_ARG == (int)ERR_ARG && (int)FT_OK == (int)ERR_OK,
               "FtError codes mirror Err codes");
_Static_assert(FT_ERROR_MSG_MAX == ERR_MSG_MAX, "FtError messages are as long as Err messages");

int ft_err_from(FtError *out, const Err *e) {
    if (out) {
        out->code = e->code ? e->code : FT_ERR_ARG;
        snprintf(out->msg, sizeof out->msg, "%s", e->msg);
    }
    return -1;
}

int ft_err_set(FtError *out, int code, const char *fmt, ...) {
    if (out) {
        out->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(out->msg, sizeof out->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void ft_free(void *p) { free(p); }

static void info_fill(const Model *m, FtModelInfo *o) {
    const ModelConfig *c = &m->cfg;
    const Tokenizer *tok = m->tok;
    memset(o, 0, sizeof *o);
    o->path = m->path;
    o->format = m->format;
    o->architecture = model_arch_name(c->arch);
    o->n_params = m->n_params;
    o->n_layer = c->n_layer;
    o->hidden_size = c->dim;
    o->n_head = c->n_head;
    o->n_kv_head = c->n_kv_head;
    o->head_dim = c->head_dim;
    o->ffn_size = c->ffn_dim;
    o->vocab = c->vocab;
    o->context_length = c->max_seq;
    o->rope_theta = c->rope_theta;
    o->has_rope_factors = c->has_rope_factors;
    o->rms_eps = c->rms_eps;
    o->tied_embeddings = c->tied_embeddings;
    o->qkv_bias = c->qkv_bias;
    o->tensor_types = m->tensor_types;
    o->tokenizer = tok_model_name(tok);
    o->tokenizer_vocab = tok_vocab_size(tok);
    o->bos_id = tok_bos_id(tok);
    o->eos_id = tok_eos_id(tok);
    const char *eot = chat_template_end_of_turn(m->tmpl);
    o->end_of_turn_id = eot ? tok_find_token(tok, eot) : -1;
    o->chat_template = chat_template_kind_name(chat_template_kind(m->tmpl));
    o->chat_template_variant = chat_template_variant(m->tmpl);
    o->template_warning = m->text->template_warning;
    o->precision = precision_name(m->precision);
}

int ft_model_load(const char *path, FtModel **out, FtError *err) {
    if (!out) return ft_err_set(err, FT_ERR_ARG, "ft_model_load: no place for the model");
    *out = NULL;
    if (!path || !*path) return ft_err_set(err, FT_ERR_ARG, "ft_model_load: no model path");
    FtModel *fm = calloc(1, sizeof *fm);
    if (!fm) return ft_err_set(err, FT_ERR_NOMEM, "out of memory");
    Err e = {0};
    if (model_load(path, &fm->model, &e)) {
        free(fm);
        return ft_err_from(err, &e);
    }
    info_fill(fm->model, &fm->info);
    fm->tokenizer.tok = fm->model->tok;
    pthread_mutex_init(&fm->trie_mu, NULL);
    *out = fm;
    return 0;
}

void ft_model_free(FtModel *m) {
    if (!m) return;
    vocab_trie_free(m->trie);
    pthread_mutex_destroy(&m->trie_mu);
    model_free(m->model);
    free(m);
}

const VocabTrie *ft_model_trie(const FtModel *m, FtError *err) {
    FtModel *w = (FtModel *)m; /* the tree is a cache of the read-only tokenizer */
    pthread_mutex_lock(&w->trie_mu);
    Err e = {0};
    if (!w->trie && vocab_trie_build(m->model->tok, m->model->cfg.vocab, &w->trie, &e)) ft_err_from(err, &e);
    const VocabTrie *t = w->trie;
    pthread_mutex_unlock(&w->trie_mu);
    return t;
}

void ft_model_info(const FtModel *m, FtModelInfo *out) { *out = m->info; }

const char *ft_token_text(const FtModel *m, int32_t id) {
    if (!m || id < 0 || id >= tok_vocab_size(m->model->tok)) return NULL;
    return tok_token_text(m->model->tok, id);
}

int ft_tokenize(const FtModel *m, const char *text, size_t len, bool add_special, bool parse_special, int32_t **ids,
                int *n, FtError *err) {
    if (!m) return ft_err_set(err, FT_ERR_ARG, "ft_tokenize: no model");
    return ft_tokenizer_encode(&m->tokenizer, text, len, add_special, parse_special, ids, n, err);
}

int ft_detokenize(const FtModel *m, const int32_t *ids, int n, bool skip_special, char **text, size_t *len,
                  FtError *err) {
    if (!m || !text || (!ids && n > 0)) return ft_err_set(err, FT_ERR_ARG, "ft_detokenize: NULL argument");
    if (n < 0) return ft_err_set(err, FT_ERR_ARG, "ft_detokenize: negative token count %d", n);
    *text = NULL;
    Err e = {0};
    if (tok_decode(m->model->tok, ids, n, skip_special, text, len, &e)) return ft_err_from(err, &e);
    return 0;
}

int ft_adapter_load(const FtModel *m, const char *dir, FtAdapter **out, FtError *err) {
    if (!out) return ft_err_set(err, FT_ERR_ARG, "ft_adapter_load: no place for the adapter");
    *out = NULL;
    if (!m || !dir || !*dir) return ft_err_set(err, FT_ERR_ARG, "ft_adapter_load: no model or adapter directory");
    FtAdapter *a = calloc(1, sizeof *a);
    if (!a) return ft_err_set(err, FT_ERR_NOMEM, "out of memory");
    Err e = {0};
    if (peft_load(m->model, dir, &a->lora, &e) || lora_prepare_rows(a->lora, &e)) { /* inference only: transposes */
        lora_free(a->lora);
        free(a);
        return ft_err_from(err, &e);
    }
    a->owner = m;
    *out = a;
    return 0;
}

void ft_adapter_free(FtAdapter *a) {
    if (!a) return;
    lora_free(a->lora);
    free(a);
}

int ft_adapter_rank(const FtAdapter *a) { return a->lora->cfg.rank; }
float ft_adapter_alpha(const FtAdapter *a) { return a->lora->cfg.alpha; }
size_t ft_adapter_bytes(const FtAdapter *a) { return 2 * a->lora->n_params * sizeof(float); /* factors and their transposes */ }

int ft_adapter_save_gguf(const FtAdapter *a, const char *path, FtError *err) {
    if (!a || !path) return ft_err_set(err, FT_ERR_ARG, "ft_adapter_save_gguf: no adapter or path");
    Err e = {0};
    return model_export_gguf_adapter(a->owner->model, a->lora, path, &e) ? ft_err_from(err, &e) : 0;
}
