/* eval_http.c: JSON requests to an OpenAI-compatible endpoint (see eval_http.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_http.h"
#include "eval_run.h"

int eval_http_open(EvalHttp *h, const char *api_key, Err *err) {
    memset(h, 0, sizeof *h);
    h->curl = curl_easy_init();
    if (!h->curl) return err_set(err, ERR_NOMEM, "cannot start an HTTP client");
    char auth[300];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", api_key && api_key[0] ? api_key : "unused");
    h->headers = curl_slist_append(h->headers, "Content-Type: application/json");
    h->headers = curl_slist_append(h->headers, auth);
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, (long)EVAL_HTTP_TIMEOUT_S);
    curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
    return 0;
}

void eval_http_close(EvalHttp *h) {
    if (h->curl) curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->headers);
    memset(h, 0, sizeof *h);
}

typedef struct {
    char *buf;
    size_t len;
} Body;

static size_t on_body(char *data, size_t size, size_t nmemb, void *user) {
    Body *b = user;
    size_t n = size * nmemb;
    char *grown = realloc(b->buf, b->len + n + 1);
    if (!grown) return 0;
    memcpy(grown + b->len, data, n);
    b->buf = grown;
    b->len += n;
    b->buf[b->len] = 0;
    return n;
}

int eval_http_json(EvalHttp *h, const char *method, const char *base_url, const char *path, json_t *body, long *status,
                   json_t **out, char *error, size_t cap, bool *fatal) {
    *out = NULL;
    *status = 0;
    *fatal = false;
    char url[2048];
    size_t ul = strlen(base_url);
    snprintf(url, sizeof url, "%.*s%s", (int)(ul && base_url[ul - 1] == '/' ? ul - 1 : ul), base_url, path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !text) return snprintf(error, cap, "out of memory"), -1;
    Body resp = {0};
    curl_easy_setopt(h->curl, CURLOPT_URL, url);
    curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 0L);
    if (text) curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, text);
    else if (strcmp(method, "GET") == 0) curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
    else curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &resp);
    CURLcode cc = curl_easy_perform(h->curl);
    free(text);
    if (cc != CURLE_OK) {
        snprintf(error, cap, "%.200s: %s", url, curl_easy_strerror(cc));
        *fatal = cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_UNSUPPORTED_PROTOCOL ||
                 cc == CURLE_URL_MALFORMAT;
        free(resp.buf);
        return -1;
    }
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status);
    *out = resp.buf ? json_loads(resp.buf, 0, NULL) : NULL;
    free(resp.buf);
    return 0;
}

const char *eval_http_error_message(json_t *answer) {
    json_t *m = json_object_get(json_object_get(answer, "error"), "message");
    return json_is_string(m) ? json_string_value(m) : "(no error message)";
}
