/* ftune_tokenizer.c: a tokenizer without its model (ft_tokenizer_load: from a GGUF file's tokenizer
 * keys, a Hugging Face directory or a bare tokenizer.json, through text/tokenizer.h) and encoding,
 * for a loaded model's tokenizer too (ft_tokenize). It reads no weights and no chat template. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../model/gguf.h"
#include "ftune_internal.h"

#define TOKENIZER_PATH_MAX 4096

/* Loads only the tokenizer of a model path. */
static int load_tokenizer(const char *path, Tokenizer **tok, Err *err) {
    char a[TOKENIZER_PATH_MAX], b[TOKENIZER_PATH_MAX];
    if (file_is_dir(path)) {
        snprintf(a, sizeof a, "%s/tokenizer.json", path);
        snprintf(b, sizeof b, "%s/tokenizer_config.json", path);
        return tok_load_hf(a, file_exists(b) ? b : NULL, tok, err);
    }
    size_t n = strlen(path);
    if (n >= 5 && strcmp(path + n - 5, ".json") == 0) return tok_load_hf(path, NULL, tok, err);
    Gguf *g;
    if (gguf_open(path, &g, err)) return -1;
    int rc = tok_load_gguf(g, tok, err);
    if (rc) err_prefix(err, "%s", path);
    gguf_close(g);
    return rc;
}

void ft_tokenizer_free(FtTokenizer *t) {
    if (!t) return;
    tok_free(t->tok);
    free(t);
}

int ft_tokenizer_load(const char *path, FtTokenizer **out, FtError *err) {
    if (!out) return ft_err_set(err, FT_ERR_ARG, "ft_tokenizer_load: no place for the tokenizer");
    *out = NULL;
    if (!path || !*path) return ft_err_set(err, FT_ERR_ARG, "ft_tokenizer_load: no path");
    Err e = {0};
    Tokenizer *tok;
    if (load_tokenizer(path, &tok, &e)) return ft_err_from(err, &e);
    FtTokenizer *t = malloc(sizeof *t);
    if (!t) {
        tok_free(tok);
        return ft_err_set(err, FT_ERR_NOMEM, "out of memory");
    }
    t->tok = tok;
    *out = t;
    return 0;
}

int ft_tokenizer_encode(const FtTokenizer *t, const char *text, size_t len, bool add_special, bool parse_special,
                        int32_t **ids, int *n, FtError *err) {
    if (!t || !text || !ids || !n) return ft_err_set(err, FT_ERR_ARG, "ft_tokenize: NULL argument");
    *ids = NULL;
    *n = 0;
    Err e = {0};
    if (tok_encode(t->tok, text, len, add_special, parse_special, ids, n, &e)) return ft_err_from(err, &e);
    return 0;
}
