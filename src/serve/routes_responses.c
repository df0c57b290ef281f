/* routes_responses.c: the Responses API: POST /v1/responses (answered whole or streamed as
 * server-sent events: response_call.h), GET /v1/responses/{id}, DELETE /v1/responses/{id}, GET
 * /v1/responses/{id}/input_items and POST /v1/responses/{id}/cancel (a 400: nothing runs in the
 * background). A response request becomes the same generation request as a chat completion (one
 * choice): the same model resolution and --max-tokens bound (generation.h), the same inference
 * queue. Its prompt is the instructions, then, with previous_response_id, that response's input
 * items and output, then its own input. Responses belong to the project that created them: another
 * project's id is a 404. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "generation.h"
#include "response_call.h"
#include "response_request.h"
#include "routes.h"

#define INPUT_ITEMS_LIMIT_MAX 100

/* ---- create ---- */

/* The fields of the Response object fixed when it is created. */
static json_t *skeleton_json(const ResponseRequest *rr, const ResponseCall *call, const char *model) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(call->id));
    json_object_set_new(o, "object", json_string("response"));
    json_object_set_new(o, "created_at", json_integer(call->created_at));
    json_object_set_new(o, "status", json_string("in_progress"));
    json_object_set_new(o, "background", json_false());
    json_object_set_new(o, "completed_at", json_null());
    json_object_set_new(o, "error", json_null());
    json_object_set_new(o, "incomplete_details", json_null());
    json_object_set_new(o, "instructions", rr->instructions ? json_string(rr->instructions) : json_null());
    json_object_set_new(o, "max_output_tokens", rr->max_output_tokens ? json_integer(rr->max_output_tokens) : json_null());
    json_object_set_new(o, "max_tool_calls", json_null());
    json_object_set_new(o, "model", json_string(model));
    json_object_set_new(o, "output", json_array());
    json_object_set_new(o, "parallel_tool_calls", json_boolean(rr->parallel_tool_calls));
    json_object_set_new(o, "previous_response_id", call->previous[0] ? json_string(call->previous) : json_null());
    json_object_set_new(o, "prompt_cache_key", rr->prompt_cache_key ? json_string(rr->prompt_cache_key) : json_null());
    json_object_set_new(o, "reasoning", json_pack("{s:n, s:n}", "effort", "summary"));
    json_object_set_new(o, "safety_identifier", rr->safety_identifier ? json_string(rr->safety_identifier) : json_null());
    json_object_set_new(o, "service_tier", json_string("default"));
    json_object_set_new(o, "store", json_boolean(rr->store));
    json_object_set_new(o, "temperature", json_real(rr->temperature));
    json_object_set_new(o, "text", json_incref(rr->text));
    json_object_set_new(o, "tool_choice", json_string("auto"));
    json_object_set_new(o, "tools", json_array());
    json_object_set_new(o, "top_logprobs", json_integer(0));
    json_object_set_new(o, "top_p", json_real(rr->top_p));
    json_object_set_new(o, "truncation", json_string("disabled"));
    json_object_set_new(o, "usage", json_null());
    json_object_set_new(o, "user", rr->user ? json_string(rr->user) : json_null());
    json_object_set_new(o, "metadata", rr->metadata ? json_deep_copy(rr->metadata) : json_object());
    return o;
}

/* A stored response of the caller's project, or -1 after answering 404 (naming param) or 500. */
static int load_response(Ctx *c, const char *id, const char *param, ResponseRecord *rec) {
    Err err = {0};
    int rc = store_response_get(c->store, id, rec, &err);
    if (rc == 0 && !api_visible(c, rec->project)) {
        store_response_clear(rec);
        rc = STORE_NOT_FOUND;
    }
    if (rc == 0) return 0;
    if (rc == STORE_NOT_FOUND) {
        bool prev = param && strcmp(param, "previous_response_id") == 0;
        api_errorf(c, 404, "invalid_request_error", param, prev ? "previous_response_not_found" : NULL,
                   "%s with id '%.100s' not found.", prev ? "Previous response" : "Response", id);
    } else {
        api_server_error(c, "the response could not be read", &err);
    }
    return -1;
}

/* The conversation a response continues: previous_response_id's input items and output, with
 * this request's input items after them (each given an id). NULL after answering. */
static json_t *build_context(Ctx *c, const ResponseRequest *rr) {
    json_t *ctx = json_array();
    if (!ctx) return NULL;
    if (rr->previous_response_id) {
        ResponseRecord prev;
        if (load_response(c, rr->previous_response_id, "previous_response_id", &prev)) {
            json_decref(ctx);
            return NULL;
        }
        json_t *input = json_loads(prev.input, 0, NULL), *body = json_loads(prev.body, 0, NULL);
        store_response_clear(&prev);
        json_t *output = json_object_get(body, "output");
        if (!json_is_array(input) || !json_is_array(output)) {
            json_decref(input);
            json_decref(body);
            json_decref(ctx);
            Err err = {0};
            err_set(&err, ERR_FORMAT, "stored response %s is not valid JSON", rr->previous_response_id);
            api_server_error(c, "the previous response could not be read", &err);
            return NULL;
        }
        json_array_extend(ctx, input);
        json_array_extend(ctx, output);
        json_decref(input);
        json_decref(body);
    }
    for (size_t i = 0; i < json_array_size(rr->input); i++) {
        json_t *item = json_deep_copy(json_array_get(rr->input, i));
        if (item && !json_object_get(item, "id")) {
            char id[STORE_ID_MAX];
            store_new_id("msg_", id, sizeof id);
            json_object_set_new(item, "id", json_string(id));
        }
        if (item) json_object_set_new(item, "status", json_string("completed"));
        if (!item || json_array_append_new(ctx, item)) {
            json_decref(ctx);
            api_errorf(c, 500, "server_error", NULL, NULL, "out of memory");
            return NULL;
        }
    }
    return ctx;
}

void route_responses_create(Ctx *c) {
    ResponseRequest rr;
    ApiError e;
    if (response_request_parse(c->req->body, c->req->body_len, &rr, &e)) {
        response_request_free(&rr);
        api_error(c, &e);
        return;
    }
    long long max_tokens;
    ModelInfo m;
    json_t *context = NULL, *keep = NULL;
    FtChatMessage *msgs = NULL;
    int n_msgs = 0;
    if (generation_max_tokens(c, rr.max_output_tokens, "max_output_tokens", &max_tokens) ||
        generation_resolve_model(c, rr.model, &m) || !(context = build_context(c, &rr))) {
        response_request_free(&rr);
        return;
    }
    if (response_messages(&rr, context, &msgs, &n_msgs, &keep, &e)) {
        json_decref(context);
        response_request_free(&rr);
        api_error(c, &e);
        return;
    }
    ResponseCall *call = calloc(1, sizeof *call);
    InferRequest *r = calloc(1, sizeof *r);
    HttpStream *stream = http_stream_new();
    json_t *owner = json_array();
    if (!call || !r || !stream || !owner) {
        free(call);
        free(r);
        free(stream);
        free(msgs);
        json_decref(owner);
        json_decref(keep);
        json_decref(context);
        response_request_free(&rr);
        api_errorf(c, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    call->stream = stream;
    call->metrics = c->srv->metrics;
    call->writer = c->srv->responses_writer;
    call->sse = rr.stream;
    call->store = rr.store;
    call->created_at = (long long)time(NULL);
    call->context = context;
    store_new_id("resp_", call->id, sizeof call->id);
    store_new_id("msg_", call->item_id, sizeof call->item_id);
    snprintf(call->project, sizeof call->project, "%s", c->project);
    snprintf(call->previous, sizeof call->previous, "%s", rr.previous_response_id ? rr.previous_response_id : "");
    call->skeleton = skeleton_json(&rr, call, generation_model_name(&m, rr.model));

    snprintf(r->base_path, sizeof r->base_path, "%s", m.base_path);
    snprintf(r->adapter_dir, sizeof r->adapter_dir, "%s", m.adapter_dir);
    r->msgs = msgs;
    r->n_msgs = n_msgs;
    json_array_append(owner, rr.root); /* the messages' strings live in the body and in keep */
    json_array_append_new(owner, keep);
    r->owner = owner;
    r->n_choices = 1;
    FtGenParams *p = &r->params;
    p->max_tokens = (int)max_tokens;
    p->temperature = (float)rr.temperature;
    p->top_p = rr.top_p > 0 ? (float)rr.top_p : 1.0f;
    if (rr.top_p == 0) p->temperature = 0; /* top_p 0 keeps only the most likely token */
    p->seed = store_random_u64();
    p->grammar = rr.grammar; /* the request's from now on */
    rr.grammar = NULL;
    response_request_free(&rr);
    r->cb = RESPONSE_CALLBACKS;
    r->user = call;
    c->res->stream = stream;
    c->res->stream_sse = call->sse;
    inference_submit(c->srv->inference, r);
}

/* ---- retrieve, delete, input items ---- */

void route_responses_get(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    ResponseRecord rec;
    if (load_response(c, c->req->params[0], NULL, &rec)) return;
    json_t *body = json_loads(rec.body, 0, NULL);
    store_response_clear(&rec);
    if (!body) {
        Err err = {0};
        err_set(&err, ERR_FORMAT, "stored response %s is not valid JSON", c->req->params[0]);
        api_server_error(c, "the response could not be read", &err);
        return;
    }
    api_json(c, 200, body);
}

/* Only background responses can be cancelled, and ftune runs none: every response is complete (or
 * being streamed to its client) by the time a client holds its id. */
void route_responses_cancel(Ctx *c) {
    ResponseRecord rec;
    if (load_response(c, c->req->params[0], NULL, &rec)) return;
    store_response_clear(&rec);
    api_errorf(c, 400, "invalid_request_error", NULL, "not_background",
               "Only responses created with background=true can be cancelled: this server runs none in the background.");
}

void route_responses_delete(Ctx *c) {
    const char *id = c->req->params[0];
    ResponseRecord rec;
    if (load_response(c, id, NULL, &rec)) return;
    store_response_clear(&rec);
    Err err = {0};
    int rc = store_response_delete(c->store, id, &err);
    if (rc == STORE_NOT_FOUND) { /* deleted meanwhile */
        api_errorf(c, 404, "invalid_request_error", NULL, NULL, "Response with id '%.100s' not found.", id);
        return;
    }
    if (rc) {
        api_server_error(c, "the response could not be deleted", &err);
        return;
    }
    api_json(c, 200, json_pack("{s:s, s:s, s:b}", "id", id, "object", "response", "deleted", 1));
}

void route_responses_input_items(Ctx *c) {
    static const char *const QUERY[] = {"limit", "order", "after"};
    if (api_query_refused(c, QUERY, 3)) return;
    ApiError e;
    int limit;
    if (api_query_limit(c->req, API_LIST_DEFAULT, INPUT_ITEMS_LIMIT_MAX, &limit, &e)) {
        api_error(c, &e);
        return;
    }
    const char *order = http_query(c->req, "order"), *after = http_query(c->req, "after");
    if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
        api_errorf(c, 400, "invalid_request_error", "order", "invalid_value",
                   "Invalid value for 'order': expected 'asc' or 'desc', got '%.40s'.", order);
        return;
    }
    bool asc = order && strcmp(order, "asc") == 0;
    ResponseRecord rec;
    if (load_response(c, c->req->params[0], NULL, &rec)) return;
    json_t *items = json_loads(rec.input, 0, NULL);
    store_response_clear(&rec);
    if (!json_is_array(items)) {
        json_decref(items);
        Err err = {0};
        err_set(&err, ERR_FORMAT, "stored response %s's input is not valid JSON", c->req->params[0]);
        api_server_error(c, "the input items could not be read", &err);
        return;
    }
    long n = (long)json_array_size(items), start = 0;
    if (after) { /* the position after the item `after` in this order */
        long at = -1;
        for (long i = 0; i < n && at < 0; i++) {
            json_t *id = json_object_get(json_array_get(items, asc ? i : n - 1 - i), "id");
            if (json_is_string(id) && strcmp(json_string_value(id), after) == 0) at = i;
        }
        if (at < 0) {
            json_decref(items);
            api_errorf(c, 400, "invalid_request_error", "after", NULL, "No such item in the input items: %.100s", after);
            return;
        }
        start = at + 1;
    }
    json_t *data = json_array();
    for (long i = start; i < n && i < start + limit; i++) json_array_append(data, json_array_get(items, asc ? i : n - 1 - i));
    bool more = start + limit < n;
    json_t *list = api_list(data, more);
    size_t k = json_array_size(data);
    json_object_set(list, "first_id", k ? json_object_get(json_array_get(data, 0), "id") : json_null());
    json_object_set(list, "last_id", k ? json_object_get(json_array_get(data, k - 1), "id") : json_null());
    json_decref(items);
    api_json(c, 200, list);
}
