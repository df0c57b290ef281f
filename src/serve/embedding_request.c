/* embedding_request.c: POST /v1/embeddings' body (see embedding_request.h). */
#include "embedding_request.h"

#include <stdlib.h>
#include <string.h>

static const char *const EMBEDDING_FIELDS[] = {"model", "input", "encoding_format", "dimensions", "user"};

static int bad_input(ApiError *e, const char *param, const char *what) {
    return api_fail(e, 400, "invalid_request_error", param, "invalid_value", "Invalid value for '%s': %s", param, what);
}

/* A token id: an integer 0..INT32_MAX (the vocabulary is checked with the model). */
static bool token_id(json_t *v, int32_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX) return false;
    *out = (int32_t)json_integer_value(v);
    return true;
}

/* One array of token ids into r->ids[i]. */
static int parse_ids(json_t *arr, EmbeddingRequest *r, int i, const char *param, ApiError *e) {
    size_t n = json_array_size(arr);
    if (n == 0) return bad_input(e, param, "an input may not be an empty array of tokens.");
    r->ids[i] = malloc(n * sizeof(int32_t));
    if (!r->ids[i]) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    r->n_ids[i] = (int)n;
    for (size_t k = 0; k < n; k++)
        if (!token_id(json_array_get(arr, k), &r->ids[i][k])) {
            char p[64];
            snprintf(p, sizeof p, "%s[%zu]", param, k);
            return bad_input(e, p, "expected a token id (an integer from 0 to 2147483647).");
        }
    return 0;
}

static int parse_input(json_t *in, EmbeddingRequest *r, ApiError *e) {
    if (!in || json_is_null(in)) return api_missing_param(e, "input");
    size_t n = json_is_array(in) ? json_array_size(in) : 1;
    if (json_is_array(in) && n == 0) return bad_input(e, "input", "an empty array. Give at least one input.");
    if (n > EMBEDDING_MAX_INPUTS)
        return api_fail(e, 400, "invalid_request_error", "input", "array_above_max_length",
                        "Invalid 'input': array too long. Expected an array with maximum length %d, but got an array "
                        "with length %zu instead.", EMBEDDING_MAX_INPUTS, n);
    json_t *first = json_is_array(in) ? json_array_get(in, 0) : in;
    bool texts = json_is_string(first), flat_ids = json_is_integer(first);
    if (!texts && !flat_ids && !json_is_array(first))
        return bad_input(e, "input", "expected a string, an array of strings, an array of token ids or an array of "
                                     "arrays of token ids.");
    if (flat_ids) n = 1; /* [1, 2, 3]: one input of three tokens */
    r->n_inputs = (int)n;
    if (texts) {
        r->texts = calloc(n, sizeof *r->texts);
        r->text_lens = calloc(n, sizeof *r->text_lens);
    } else {
        r->ids = calloc(n, sizeof *r->ids);
        r->n_ids = calloc(n, sizeof *r->n_ids);
    }
    if (texts ? !r->texts || !r->text_lens : !r->ids || !r->n_ids)
        return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    if (flat_ids) return parse_ids(in, r, 0, "input", e);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_is_array(in) ? json_array_get(in, i) : in;
        char p[32] = "input";
        if (json_is_array(in)) snprintf(p, sizeof p, "input[%zu]", i);
        if (texts) {
            if (!json_is_string(v)) return bad_input(e, p, "expected a string, as the first input is.");
            if (json_string_length(v) == 0) return bad_input(e, p, "an input may not be an empty string.");
            r->texts[i] = json_string_value(v);
            r->text_lens[i] = json_string_length(v);
        } else {
            if (!json_is_array(v)) return bad_input(e, p, "expected an array of token ids, as the first input is.");
            if (parse_ids(v, r, (int)i, p, e)) return -1;
        }
    }
    return 0;
}

int embedding_request_parse(const char *body, size_t len, EmbeddingRequest *r, ApiError *e) {
    memset(r, 0, sizeof *r);
    r->root = api_parse_object(body, len, e);
    if (!r->root) return -1;
    json_t *root = r->root;
    if (api_check_fields(root, EMBEDDING_FIELDS, sizeof EMBEDDING_FIELDS / sizeof EMBEDDING_FIELDS[0], e)) return -1;
    int rc = api_field_string(root, "model", false, &r->model, e);
    if (rc > 0) return api_missing_param(e, "model");
    const char *format = NULL, *user = NULL;
    if (rc < 0 || api_field_string(root, "encoding_format", true, &format, e) < 0 ||
        api_field_string(root, "user", true, &user, e) < 0)
        return -1;
    if (format && strcmp(format, "float") && strcmp(format, "base64"))
        return api_bad_param(e, "encoding_format", "expected 'float' or 'base64', but got '%s' instead.", format);
    r->base64 = format && !strcmp(format, "base64");
    json_t *dims = json_object_get(root, "dimensions");
    if (dims && !json_is_null(dims))
        return api_fail(e, 400, "invalid_request_error", "dimensions", "unsupported_parameter",
                        "This model does not support specifying dimensions: its vectors cannot be shortened (it was "
                        "not trained to keep their meaning in a prefix). Leave 'dimensions' out.");
    return parse_input(json_object_get(root, "input"), r, e);
}

void embedding_request_free(EmbeddingRequest *r) {
    json_decref(r->root);
    free(r->texts);
    free(r->text_lens);
    if (r->ids)
        for (int i = 0; i < r->n_inputs; i++) free(r->ids[i]);
    free(r->ids);
    free(r->n_ids);
    memset(r, 0, sizeof *r);
}
