/* eval_http.h: JSON requests to an OpenAI-compatible endpoint (eval_http.c): what `ftune eval`'s
 * remote candidates and Evals API runs send, and what `ftune dataset add-context --store` searches
 * a vector store with. One libcurl handle with a bearer key, reused; no retries of its own. */
#ifndef FTUNE_EVAL_HTTP_H
#define FTUNE_EVAL_HTTP_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"

/* JSON over HTTP with a bearer key (libcurl; one handle, reused). */
typedef struct {
    CURL *curl;
    struct curl_slist *headers;
} EvalHttp;

int eval_http_open(EvalHttp *h, const char *api_key, Err *err);
void eval_http_close(EvalHttp *h);
/* method "GET", "POST" or "DELETE" to base_url + path, body (may be NULL) as JSON. Returns 0 with
 * *status and *out (the answer parsed, NULL when it is not JSON) when the server answered;
 * -1 when it could not be reached (error filled, *fatal when no retry can help: refused, unknown
 * host, a malformed URL). */
int eval_http_json(EvalHttp *h, const char *method, const char *base_url, const char *path, json_t *body, long *status,
                   json_t **out, char *error, size_t cap, bool *fatal);
/* The error message of an OpenAI-shaped error answer, or "(no error message)". */
const char *eval_http_error_message(json_t *answer);

#endif
