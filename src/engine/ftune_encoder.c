/* ftune_encoder.c: sentence-embedding models through the public API (ftune.h), thin wrappers over
 * model/encoder.h that check arguments at the boundary. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "ftune_internal.h"

bool ft_is_encoder_dir(const char *path) {
    char cfg[4200];
    if (!path || !file_is_dir(path)) return false;
    snprintf(cfg, sizeof cfg, "%s/config.json", path);
    json_t *root = json_load_file(cfg, 0, NULL);
    const char *mt = json_string_value(json_object_get(root, "model_type"));
    bool yes = mt && !strcmp(mt, "bert");
    json_decref(root);
    return yes;
}

int ft_encoder_load(const char *dir, FtEncoder **out, FtError *err) {
    if (!out) return ft_err_set(err, FT_ERR_ARG, "ft_encoder_load: no place for the encoder");
    *out = NULL;
    if (!dir || !*dir) return ft_err_set(err, FT_ERR_ARG, "ft_encoder_load: no path");
    FtEncoder *fe = calloc(1, sizeof *fe);
    if (!fe) return ft_err_set(err, FT_ERR_NOMEM, "out of memory");
    Err e = {0};
    if (encoder_load(dir, &fe->enc, &e)) {
        free(fe);
        return ft_err_from(err, &e);
    }
    *out = fe;
    return 0;
}

void ft_encoder_free(FtEncoder *e) {
    if (!e) return;
    encoder_free(e->enc);
    free(e);
}

void ft_encoder_info(const FtEncoder *e, FtEncoderInfo *out) {
    const Encoder *x = e->enc;
    *out = (FtEncoderInfo){.path = x->path, .dim = x->cfg.n_embd, .max_tokens = encoder_max_text_tokens(x),
                           .n_vocab = x->cfg.n_vocab, .n_params = x->n_params, .normalized = x->cfg.normalize,
                           .precision = precision_name(x->precision)};
}

int ft_encoder_tokenize(const FtEncoder *e, const char *text, size_t len, int32_t **ids, int *n, FtError *err) {
    if (!e || (!text && len) || !ids || !n) return ft_err_set(err, FT_ERR_ARG, "ft_encoder_tokenize: NULL argument");
    Err x = {0};
    if (encoder_tokenize(e->enc, text ? text : "", len, ids, n, &x)) return ft_err_from(err, &x);
    return 0;
}

int ft_encoder_embed(const FtEncoder *e, const int32_t *const *ids, const int *n_ids, int n, int n_threads,
                     float *out, FtError *err) {
    if (!e) return ft_err_set(err, FT_ERR_ARG, "ft_encoder_embed: no encoder");
    Err x = {0};
    if (encoder_embed(e->enc, ids, n_ids, n, n_threads, out, &x)) return ft_err_from(err, &x);
    return 0;
}
