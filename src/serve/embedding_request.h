/* embedding_request.h: the body of POST /v1/embeddings parsed into a plain struct, a pure function
 * of the JSON like requests.h (no models: the route resolves the model, the embedding thread checks
 * lengths and token ids against it), so that the fuzz target drives it directly. Implemented:
 * model, input (a string, an array of strings, an array of token ids, or an array of arrays of token
 * ids; at most EMBEDDING_MAX_INPUTS inputs, none empty), encoding_format (float or base64), user
 * (accepted: an end-user identifier that changes nothing). dimensions is refused (the models ftune
 * embeds with cannot shorten their vectors); any other field is 400 unknown_parameter. */
#ifndef FTUNE_EMBEDDING_REQUEST_H
#define FTUNE_EMBEDDING_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api.h"

#define EMBEDDING_MAX_INPUTS 2048 /* inputs of one request, as OpenAI's */

typedef struct {
    json_t *root;          /* the body; owns the strings below */
    const char *model;
    int n_inputs;
    const char **texts;    /* heap (n_inputs; strings owned by root), or NULL for token inputs */
    size_t *text_lens;     /* heap, with texts */
    int32_t **ids;         /* heap (n_inputs heap arrays), or NULL for text inputs */
    int *n_ids;            /* heap, with ids */
    bool base64;           /* encoding_format "base64" */
} EmbeddingRequest;

/* 400s name the field ("input", "input[3]", "encoding_format", "dimensions"). On failure r is still
 * to be freed. */
int embedding_request_parse(const char *body, size_t len, EmbeddingRequest *r, ApiError *e);
void embedding_request_free(EmbeddingRequest *r); /* also frees texts/ids not taken (set to NULL) */

#endif
