/* ftune_grammar.c: FtGrammar, the public face of response formats compiled for constrained
 * decoding (ftune.h); the compiling is model/json_schema.c's, the matching model/constrain.c's. */
#include <stdlib.h>

#include "../model/json_schema.h"
#include "ftune_internal.h"

static int grammar_make(const char *schema, size_t len, bool strict, FtGrammar **out, FtError *err) {
    if (!out) return ft_err_set(err, FT_ERR_ARG, "no place for the grammar");
    *out = NULL;
    FtGrammar *g = calloc(1, sizeof *g);
    if (!g) return ft_err_set(err, FT_ERR_NOMEM, "out of memory");
    Err e = {0};
    if (schema ? json_schema_compile(schema, len, strict, &g->g, &e) : json_object_grammar(&g->g, &e)) {
        ft_grammar_free(g);
        return ft_err_from(err, &e);
    }
    *out = g;
    return 0;
}

int ft_grammar_from_json_schema(const char *schema, size_t len, bool strict, FtGrammar **out, FtError *err) {
    if (!schema) return ft_err_set(err, FT_ERR_ARG, "ft_grammar_from_json_schema: no schema");
    return grammar_make(schema, len, strict, out, err);
}

int ft_grammar_json_object(FtGrammar **out, FtError *err) { return grammar_make(NULL, 0, false, out, err); }

int ft_grammar_choices(const char *const *choices, int n, FtGrammar **out, FtError *err) {
    if (!out) return ft_err_set(err, FT_ERR_ARG, "no place for the grammar");
    *out = NULL;
    FtGrammar *g = calloc(1, sizeof *g);
    if (!g) return ft_err_set(err, FT_ERR_NOMEM, "out of memory");
    Err e = {0};
    if (grammar_choices(&g->g, choices, n, &e)) {
        ft_grammar_free(g);
        return ft_err_from(err, &e);
    }
    *out = g;
    return 0;
}

void ft_grammar_free(FtGrammar *g) {
    if (!g) return;
    grammar_free(&g->g);
    free(g);
}
