/* routes_embeddings.c: POST /v1/embeddings. The HTTP thread parses the body
 * (embedding_request.h), resolves the model (an embedding model: a base model folder whose
 * config.json is an encoder's; any other model is a 400), hands the inputs to the embedding thread
 * (src/worker/embedder.h) and returns; the thread answers through a deferred HttpStream, as chat
 * completions do. The answer is OpenAI's: {"object": "list", "data": [{"object": "embedding",
 * "index", "embedding": floats or base64 of little-endian float32}], "model", "usage":
 * {"prompt_tokens", "total_tokens"}}, where tokens are the inputs' own ([CLS]/[SEP] not counted). */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "../worker/embedder.h"
#include "embedding_request.h"
#include "generation.h"
#include "routes.h"

#define EMBED_FLOAT_DIGITS 9 /* significant digits of a float in JSON: enough to round-trip float32 */

typedef struct {
    HttpStream *stream;
    Metrics *metrics;
    bool base64;
    char model[STORE_NAME_MAX];
} EmbedCall;

/* Base64 of dim little-endian float32 values (x86 is little-endian, as the format). */
static json_t *base64_vector(const float *v, int dim) {
    size_t n = (size_t)dim * sizeof(float);
    char *b = malloc(4 * ((n + 2) / 3) + 1);
    if (!b) return NULL;
    EVP_EncodeBlock((unsigned char *)b, (const unsigned char *)v, (int)n);
    json_t *s = json_string(b);
    free(b);
    return s;
}

static json_t *float_vector(const float *v, int dim) {
    json_t *a = json_array();
    for (int k = 0; a && k < dim; k++) json_array_append_new(a, json_real(v[k]));
    return a;
}

static void on_done(void *user, int status, const char *code, const char *param, const char *message,
                    const float *vecs, int n, int dim, long long tokens) {
    EmbedCall *call = user;
    char *body = NULL;
    size_t len = 0;
    if (status) {
        ApiError e = {.status = status, .type = status >= 500 ? "server_error" : "invalid_request_error"};
        snprintf(e.message, sizeof e.message, "%s", message ? message : "the embeddings could not be computed");
        if (code) snprintf(e.code, sizeof e.code, "%s", code);
        if (param) snprintf(e.param, sizeof e.param, "%s", param);
        if (status >= 500) http_stream_cause(call->stream, e.message);
        body = api_error_json(&e, &len);
    } else {
        metrics_add_embeddings(call->metrics, n, (long)tokens);
        json_t *data = json_array();
        for (int i = 0; i < n; i++) {
            const float *v = vecs + (size_t)i * dim;
            json_array_append_new(data, json_pack("{s:s, s:i, s:o}", "object", "embedding", "index", i, "embedding",
                                                  call->base64 ? base64_vector(v, dim) : float_vector(v, dim)));
        }
        json_t *obj = json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list", "data", data, "model", call->model,
                                "usage", "prompt_tokens", (json_int_t)tokens, "total_tokens", (json_int_t)tokens);
        body = obj ? json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(EMBED_FLOAT_DIGITS)) : NULL;
        json_decref(obj);
        len = body ? strlen(body) : 0;
        if (!body) http_stream_cause(call->stream, "out of memory writing the embeddings");
    }
    http_stream_finish(call->stream, body ? (status ? status : 200) : 500, body, len);
    free(call);
}

static bool is_cancelled(void *user) { return http_stream_cancelled(((EmbedCall *)user)->stream); }

void route_embeddings(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    EmbeddingRequest er;
    ApiError e;
    if (embedding_request_parse(c->req->body, c->req->body_len, &er, &e)) {
        embedding_request_free(&er);
        api_error(c, &e);
        return;
    }
    ModelInfo m;
    if (generation_lookup_model(c, er.model, &m)) {
        embedding_request_free(&er);
        return;
    }
    if (!m.embedding) {
        api_errorf(c, 400, "invalid_request_error", "model", "model_not_supported",
                   "'%s' is not an embedding model: it cannot be used with /v1/embeddings (embedding models are the "
                   "sentence-transformers folders in the models directories, such as all-MiniLM-L6-v2).", er.model);
        embedding_request_free(&er);
        return;
    }
    EmbedCall *call = calloc(1, sizeof *call);
    EmbedRequest *r = calloc(1, sizeof *r);
    HttpStream *stream = http_stream_new();
    if (!call || !r || !stream) {
        free(call);
        free(r);
        free(stream);
        embedding_request_free(&er);
        api_errorf(c, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    call->stream = stream;
    call->metrics = c->srv->metrics;
    call->base64 = er.base64;
    snprintf(call->model, sizeof call->model, "%s", generation_model_name(&m, er.model));
    snprintf(r->model_path, sizeof r->model_path, "%s", m.base_path);
    r->n = er.n_inputs; /* the request's from now on: */
    r->texts = er.texts;
    r->text_lens = er.text_lens;
    r->ids = er.ids;
    r->n_ids = er.n_ids;
    r->owner = er.root;
    memset(&er, 0, sizeof er);
    r->cb = (EmbedCallbacks){on_done, is_cancelled};
    r->user = call;
    c->res->stream = stream;
    c->res->stream_sse = false;
    embedder_submit(c->srv->embedder, r);
}
