/* response_call.c: the Response object, its events and its answer (see response_call.h). */
#include "response_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../data/utf8_check.h"
#include "api.h"

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
        if (!call->final) { /* out of memory: answered as a failure */
            status = 500;
            code = NULL;
            message = "out of memory";
        }
    }
    if (status) {
        call->fail_status = status;
        snprintf(call->fail_code, sizeof call->fail_code, "%s", code ? code : "");
        snprintf(call->fail_message, sizeof call->fail_message, "%s", message ? message : "generation failed");
        /* a stream that started shows its id: the failure is a response of its own, stored as such */
        if (call->sse && call->started && status != 499) call->final = response_json(call, "failed", call->fail_message);
    }
    if (call->final && call->store) store_thread_submit(call->writer, store_task, call);
    else answer(call);
}


const InferCallbacks RESPONSE_CALLBACKS = {on_piece, on_choice_done, on_done, is_cancelled};
