/* routes_responses.c: the Responses API: POST /v1/responses (answered whole or streamed as
 * server-sent events), GET /v1/responses/{id}, DELETE /v1/responses/{id}, GET
 * /v1/responses/{id}/input_items and POST /v1/responses/{id}/cancel (a 400: no background responses). A response request becomes the same generation request as a chat
 * completion (one choice): the same model resolution and --max-tokens bound (generation.h), the
 * same inference queue. Its prompt is the instructions, then, with previous_response_id, that
 * response's input items and output, then its own input. The inference thread's callbacks below
 * build the Response object and its events (response.created, response.in_progress,
 * response.output_item.added, response.content_part.added, response.output_text.delta..., then
 * the .done events and response.completed, or response.incomplete when max_output_tokens cut it,
 * or response.failed), each with its sequence_number. A stored response (store, the default) is
 * written by the store thread (store_thread.h) before its last event or its body goes out, so a
 * client holding the answer finds it; the inference thread never waits on the database.
 * Responses belong to the project that created them: another project's id is a 404. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../data/utf8_check.h"
#include "generation.h"
#include "response_request.h"
#include "routes.h"
#include "store_thread.h"

#define INPUT_ITEMS_LIMIT_MAX 100

typedef struct {
    HttpStream *stream;
    Metrics *metrics;
    StoreThread *writer;
    bool sse, store;
    bool started;             /* SSE: the opening events went out (errors from now on are events) */
    int seq;                  /* the next event's sequence_number */
    char id[STORE_ID_MAX];    /* resp_... */
    char item_id[STORE_ID_MAX]; /* msg_...: the output message */
    char project[STORE_ID_MAX];
    char previous[STORE_ID_MAX];
    long long created_at;
    json_t *skeleton;         /* the Response object's fields fixed at creation */
    json_t *context;          /* the input items (previous conversation, then this input), for storage */
    char *text;               /* the output text, as sent (UTF-8 repaired piece by piece) */
    size_t len, cap;
    bool cut;                 /* max_output_tokens (or the context) ended it */
    long input_tokens, output_tokens, cached_tokens;
    /* what the store task sends after the write */
    json_t *final;            /* the Response object to store and answer */
    int fail_status;          /* non-zero: answer this error instead (nothing stored) */
    char fail_code[48];
    char fail_message[512];
} ResponseCall;

static void call_free(ResponseCall *call) {
    json_decref(call->skeleton);
    json_decref(call->context);
    json_decref(call->final);
    free(call->text);
    free(call);
}

/* ---- the Response object and its events ---- */

static json_t *output_text_part(const char *text, size_t len) {
    return json_pack("{s:s, s:s%, s:[], s:[]}", "type", "output_text", "text", text ? text : "", text ? len : 0,
                     "annotations", "logprobs");
}

/* The output message item: status in_progress (no content yet), completed or incomplete. */
static json_t *output_item(const ResponseCall *call, const char *status, bool with_text) {
    json_t *content = json_array();
    if (with_text) json_array_append_new(content, output_text_part(call->text, call->len));
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", call->item_id, "type", "message", "status", status, "role",
                     "assistant", "content", content);
}

static json_t *usage_json(const ResponseCall *call) {
    return json_pack("{s:I, s:{s:I, s:i}, s:I, s:{s:i}, s:I}", "input_tokens", (json_int_t)call->input_tokens,
                     "input_tokens_details", "cached_tokens", (json_int_t)call->cached_tokens, "cache_write_tokens", 0,
                     "output_tokens", (json_int_t)call->output_tokens, "output_tokens_details", "reasoning_tokens", 0,
                     "total_tokens", (json_int_t)(call->input_tokens + call->output_tokens));
}

/* The Response object in status (in_progress: no output, no usage yet). */
static json_t *response_json(const ResponseCall *call, const char *status, const char *error_message) {
    json_t *o = json_deep_copy(call->skeleton);
    if (!o) return NULL;
    bool done = strcmp(status, "in_progress") != 0, failed = strcmp(status, "failed") == 0;
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "completed_at", strcmp(status, "completed") == 0 ? json_integer(time(NULL)) : json_null());
    json_object_set_new(o, "error", failed ? json_pack("{s:s, s:s}", "code", "server_error", "message",
                                                       error_message ? error_message : "generation failed")
                                           : json_null());
    json_object_set_new(o, "incomplete_details", strcmp(status, "incomplete") == 0
                                                     ? json_pack("{s:s}", "reason", "max_output_tokens")
                                                     : json_null());
    json_t *output = json_array();
    if (done && !failed) json_array_append_new(output, output_item(call, status, true));
    json_object_set_new(o, "output", output);
    json_object_set_new(o, "usage", done && !failed ? usage_json(call) : json_null());
    return o;
}

/* Sends event obj (taken) with the next sequence number: "event: TYPE\ndata: JSON\n\n". Returns
 * non-zero when the client has gone. */
static int send_event(ResponseCall *call, const char *type, json_t *obj) {
    if (!obj) return -1;
    json_t *ev = json_pack("{s:s}", "type", type);
    json_object_update(ev, obj);
    json_decref(obj);
    json_object_set_new(ev, "sequence_number", json_integer(call->seq++));
    char *data = json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(ev);
    if (!data) return -1;
    size_t n = strlen(data), tl = strlen(type);
    char *buf = malloc(n + tl + 20);
    int rc = -1;
    if (buf) {
        int w = snprintf(buf, n + tl + 20, "event: %s\ndata: %s\n\n", type, data);
        rc = http_stream_write(call->stream, buf, (size_t)w);
    }
    free(buf);
    free(data);
    return rc;
}

static json_t *part_event(const ResponseCall *call, json_t *part) {
    return json_pack("{s:s, s:i, s:i, s:o}", "item_id", call->item_id, "output_index", 0, "content_index", 0, "part",
                     part);
}

/* response.created, response.in_progress, the output item and its content part, once. */
static int start_events(ResponseCall *call) {
    if (call->started) return 0;
    call->started = true;
    return send_event(call, "response.created", json_pack("{s:o}", "response", response_json(call, "in_progress", NULL))) ||
           send_event(call, "response.in_progress",
                      json_pack("{s:o}", "response", response_json(call, "in_progress", NULL))) ||
           send_event(call, "response.output_item.added",
                      json_pack("{s:i, s:o}", "output_index", 0, "item", output_item(call, "in_progress", false))) ||
           send_event(call, "response.content_part.added", part_event(call, output_text_part("", 0)));
}

static int on_piece(void *user, int choice, const char *text, size_t len, const InferLogprob *lp, int n_lp) {
    (void)choice, (void)lp, (void)n_lp;
    ResponseCall *call = user;
    size_t n;
    char *clean = utf8_repair(text, len, &n); /* a model can emit bytes that are not UTF-8 */
    if (!clean) return 1;
    if (call->len + n + 1 > call->cap) {
        size_t cap = call->cap ? call->cap * 2 : 256;
        while (cap < call->len + n + 1) cap *= 2;
        char *b = realloc(call->text, cap);
        if (!b) {
            free(clean);
            return 1;
        }
        call->text = b;
        call->cap = cap;
    }
    memcpy(call->text + call->len, clean, n);
    call->len += n;
    call->text[call->len] = 0;
    int rc = 0;
    if (call->sse && n)
        rc = start_events(call) ||
             send_event(call, "response.output_text.delta",
                        json_pack("{s:s, s:i, s:i, s:s%, s:[]}", "item_id", call->item_id, "output_index", 0,
                                  "content_index", 0, "delta", clean, n, "logprobs"));
    free(clean);
    return rc || http_stream_cancelled(call->stream) ? 1 : 0;
}

static void on_choice_done(void *user, int choice, const FtGenResult *res, int cached) {
    (void)choice;
    ResponseCall *call = user;
    call->cut = res->finish == FT_FINISH_LENGTH;
    call->input_tokens = res->n_prompt;
    call->output_tokens = res->n_completion;
    call->cached_tokens = cached;
}

static bool is_cancelled(void *user) { return http_stream_cancelled(((ResponseCall *)user)->stream); }

/* Sends what a finished call answers (call->final or the failure) and frees the call. */
static void answer(ResponseCall *call) {
    if (call->sse && call->final && !call->started) start_events(call); /* a reply without text */
    if (call->sse && call->started) {
        const char *status = call->final ? json_string_value(json_object_get(call->final, "status")) : "failed";
        json_t *resp = call->final ? json_incref(call->final) : response_json(call, "failed", call->fail_message);
        if (strcmp(status, "failed") != 0) {
            json_t *item = output_item(call, status, true);
            send_event(call, "response.output_text.done",
                       json_pack("{s:s, s:i, s:i, s:s%, s:[]}", "item_id", call->item_id, "output_index", 0,
                                 "content_index", 0, "text", call->text ? call->text : "", call->text ? call->len : 0,
                                 "logprobs"));
            send_event(call, "response.content_part.done", part_event(call, output_text_part(call->text, call->len)));
            send_event(call, "response.output_item.done", json_pack("{s:i, s:o}", "output_index", 0, "item", item));
        }
        char type[32];
        snprintf(type, sizeof type, "response.%s", status);
        send_event(call, type, json_pack("{s:o}", "response", resp));
        http_stream_finish(call->stream, 200, NULL, 0);
    } else if (call->final) {
        char *body = json_dumps(call->final, JSON_COMPACT | JSON_REAL_PRECISION(10));
        http_stream_finish(call->stream, body ? 200 : 500, body, body ? strlen(body) : 0);
    } else {
        ApiError e = {.status = call->fail_status, .type = call->fail_status >= 500 ? "server_error" : "invalid_request_error"};
        snprintf(e.message, sizeof e.message, "%s", call->fail_message);
        snprintf(e.code, sizeof e.code, "%s", call->fail_code);
        if (strcmp(call->fail_code, "context_length_exceeded") == 0) snprintf(e.param, sizeof e.param, "input");
        size_t len;
        char *body = api_error_json(&e, &len);
        http_stream_finish(call->stream, call->fail_status, body, len);
    }
    call_free(call);
}

/* On the store thread: stores the response, then answers. A failed write is a 500 (nothing was
 * answered yet) or, once streaming, a response.failed event. */
static void store_task(Store *s, void *arg) {
    ResponseCall *call = arg;
    char *body = json_dumps(call->final, JSON_COMPACT | JSON_REAL_PRECISION(10));
    char *input = json_dumps(call->context, JSON_COMPACT);
    ResponseRecord rec = {.created_at = call->created_at, .body = body, .input = input};
    snprintf(rec.id, sizeof rec.id, "%s", call->id);
    snprintf(rec.project, sizeof rec.project, "%s", call->project);
    snprintf(rec.model, sizeof rec.model, "%s", json_string_value(json_object_get(call->final, "model")));
    snprintf(rec.status, sizeof rec.status, "%s", json_string_value(json_object_get(call->final, "status")));
    snprintf(rec.previous_response_id, sizeof rec.previous_response_id, "%s", call->previous);
    Err err = {0};
    int rc = !s ? err_set(&err, ERR_IO, "no database connection") : !body || !input ? err_set(&err, ERR_NOMEM, "out of memory")
                                                                                   : store_response_create(s, &rec, &err);
    free(body);
    free(input);
    if (rc) {
        char cause[600];
        snprintf(cause, sizeof cause, "the response could not be stored: %s", err.msg);
        http_stream_cause(call->stream, cause);
        json_decref(call->final);
        call->final = NULL;
        call->fail_status = 500;
        snprintf(call->fail_message, sizeof call->fail_message,
                 "The response could not be stored (the server's log has the cause).");
    }
    answer(call);
}

static void on_done(void *user, int status, const char *code, const char *message) {
    ResponseCall *call = user;
    if (status >= 500) http_stream_cause(call->stream, message ? message : "generation failed"); /* for the log */
    if (status == 0) {
        metrics_add_chat(call->metrics, call->input_tokens, call->output_tokens);
        call->final = response_json(call, call->cut ? "incomplete" : "completed", NULL);
    } else {
        call->fail_status = status;
        snprintf(call->fail_code, sizeof call->fail_code, "%s", code ? code : "");
        snprintf(call->fail_message, sizeof call->fail_message, "%s", message ? message : "generation failed");
        /* a stream that started shows its id: the failure is a response of its own, stored as such */
        if (call->sse && call->started && status != 499) call->final = response_json(call, "failed", call->fail_message);
    }
    if (call->final && call->store) store_thread_submit(call->writer, store_task, call);
    else answer(call);
}

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
    r->cb = (InferCallbacks){on_piece, on_choice_done, on_done, is_cancelled};
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
