/* store_context.c: retrieved context from a server's vector store (see store_context.h). */
#include "store_context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../retrieval/nearest.h"

static bool is_system(json_t *m) {
    const char *role = json_string_value(json_object_get(m, "role"));
    return role && (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0);
}

/* obj's string field key, or "". */
static const char *text_of(json_t *obj, const char *key) {
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : "";
}

/* The search hits of a results page as the context text (heap), best first. */
static char *context_text(json_t *page) {
    size_t cap = sizeof STORE_CONTEXT_HEADER, i, j;
    json_t *hit, *part, *data = json_object_get(page, "data");
    json_array_foreach(data, i, hit) {
        cap += strlen(text_of(hit, "filename")) + 8;
        json_array_foreach(json_object_get(hit, "content"), j, part) {
            cap += strlen(text_of(part, "text")) + 1;
        }
    }
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t n = (size_t)snprintf(out, cap, "%s", STORE_CONTEXT_HEADER);
    json_array_foreach(data, i, hit) {
        n += (size_t)snprintf(out + n, cap - n, "\n\n[%s]", text_of(hit, "filename"));
        json_array_foreach(json_object_get(hit, "content"), j, part) {
            n += (size_t)snprintf(out + n, cap - n, " %s", text_of(part, "text"));
        }
    }
    return out;
}

/* msgs with context at the end of their leading system message (a new one when there is none). */
json_t *store_context_add(json_t *msgs, const char *context) {
    json_t *out = json_deep_copy(msgs), *first = json_array_get(out, 0);
    json_t *content = first && is_system(first) ? json_object_get(first, "content") : NULL;
    if (json_is_string(content)) {
        size_t len = json_string_length(content) + strlen(context) + 3;
        char *joined = malloc(len);
        if (!joined) return json_decref(out), NULL;
        snprintf(joined, len, "%s\n\n%s", json_string_value(content), context);
        json_object_set_new(first, "content", json_string(joined));
        free(joined);
    } else if (json_is_array(content)) {
        json_array_append_new(content, json_pack("{s:s, s:s}", "type", "text", "text", context));
    } else {
        json_array_insert_new(out, 0, json_pack("{s:s, s:s}", "role", "system", "content", context));
    }
    return out;
}

/* The context for one example's messages from the store's search; NULL with err. */
char *store_context_search(EvalHttp *h, const char *base_url, const char *store, json_t *msgs, int k, Err *err) {
    char *query = nearest_text(msgs), path[512], error[512];
    if (!query) return err_set(err, ERR_NOMEM, "out of memory"), NULL;
    if (!query[0]) {
        free(query);
        return err_set(err, ERR_FORMAT, "no user turn to search with"), NULL;
    }
    json_t *body = json_pack("{s:s, s:i}", "query", query, "max_num_results", k), *page = NULL;
    free(query);
    snprintf(path, sizeof path, "/vector_stores/%s/search", store);
    long status;
    bool fatal;
    char *text = NULL;
    if (eval_http_json(h, "POST", base_url, path, body, &status, &page, error, sizeof error, &fatal))
        err_set(err, ERR_IO, "%s", error);
    else if (status != 200)
        err_set(err, status >= 500 ? ERR_IO : ERR_FORMAT, "vector store %s: HTTP %ld: %s", store, status,
                eval_http_error_message(page));
    else if (!json_is_array(json_object_get(page, "data")))
        err_set(err, ERR_FORMAT, "vector store %s: the search answer is not a results page", store);
    else if (!(text = context_text(page)))
        err_set(err, ERR_NOMEM, "out of memory");
    json_decref(body);
    json_decref(page);
    return text;
}

