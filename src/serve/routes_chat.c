/* routes_chat.c: POST /v1/chat/completions. The HTTP thread parses and checks the request,
 * resolves the model (base, fine-tuned, checkpoint, --adapter, or an alias of one: the reply then
 * names the model that answered) and queues it on the inference thread; the callbacks below run
 * there and turn text into either server-sent events (chat.completion.chunk, optional usage
 * chunk, data: [DONE]) or one chat.completion body, handed back through an HttpStream. Errors
 * after the stream started are sent as a data: {"error": ...} event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../data/utf8_check.h"
#include "generation.h"
#include "requests.h"
#include "routes.h"

typedef struct {
    HttpStream *stream;
    Metrics *metrics;
    bool sse, include_usage;
    bool wrote;                           /* an event went out: errors from now on are events */
    char id[STORE_ID_MAX];
    char model[STORE_NAME_MAX];
    long long created;
    int n;
    bool started[REQ_MAX_CHOICES];
    char *text[REQ_MAX_CHOICES];          /* non-streaming: each choice's text */
    size_t len[REQ_MAX_CHOICES], cap[REQ_MAX_CHOICES];
    const char *finish[REQ_MAX_CHOICES];
    bool logprobs;
    json_t *lp[REQ_MAX_CHOICES];          /* non-streaming: each choice's logprobs.content */
    long prompt_tokens, completion_tokens, cached_tokens;
    /* tools (rendered: tool_choice is not none): each choice's text is kept, streamed only as far as
     * it cannot be a tool call, and read into content and calls when it ends */
    bool tools;
    int max_calls;                        /* 1 when parallel_tool_calls is false */
    const FtToolSyntax *syntax;           /* the model's, written by the inference thread */
    size_t sent[REQ_MAX_CHOICES];         /* streaming: bytes of text sent as content */
    FtToolReply reply[REQ_MAX_CHOICES];   /* each choice's text read for calls */
} ChatCall;

static void call_free(ChatCall *call) {
    for (int i = 0; i < REQ_MAX_CHOICES; i++) {
        free(call->text[i]);
        json_decref(call->lp[i]);
        ft_tool_reply_free(&call->reply[i]);
    }
    free(call);
}

/* Appends to choice's text. Non-zero when out of memory. */
static int append_text(ChatCall *call, int choice, const char *text, size_t len) {
    if (call->len[choice] + len + 1 > call->cap[choice]) {
        size_t cap = call->cap[choice] ? call->cap[choice] * 2 : 256;
        while (cap < call->len[choice] + len + 1) cap *= 2;
        char *b = realloc(call->text[choice], cap);
        if (!b) return 1;
        call->text[choice] = b;
        call->cap[choice] = cap;
    }
    memcpy(call->text[choice] + call->len[choice], text, len);
    call->len[choice] += len;
    call->text[choice][call->len[choice]] = 0;
    return 0;
}

/* OpenAI's tool_calls entries of a reply: {"id": "call_...", "type": "function", "function": {"name",
 * "arguments"}}, with "index" when streamed. */
static json_t *tool_calls_json(const FtToolReply *r, bool with_index) {
    json_t *a = json_array();
    for (int k = 0; k < r->n_calls; k++) {
        char id[STORE_ID_MAX];
        store_new_id("call_", id, sizeof id);
        json_t *c = json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id, "type", "function", "function", "name",
                              r->calls[k].name, "arguments", r->calls[k].arguments);
        if (with_index) json_object_set_new(c, "index", json_integer(k));
        json_array_append_new(a, c);
    }
    return a;
}

/* {"token", "logprob", "bytes"} of one token, as OpenAI's logprobs entries. */
static json_t *token_json(const InferToken *t) {
    size_t n;
    char *clean = utf8_repair(t->text, t->len, &n); /* "bytes" keeps the exact bytes */
    json_t *bytes = json_array();
    for (size_t i = 0; i < t->len; i++) json_array_append_new(bytes, json_integer((unsigned char)t->text[i]));
    json_t *o = json_pack("{s:s%, s:f, s:o}", "token", clean ? clean : "", clean ? n : 0, "logprob",
                          (double)t->logprob, "bytes", bytes);
    free(clean);
    return o;
}

/* The logprobs.content entries of n tokens. */
static json_t *logprobs_json(const InferLogprob *lp, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        json_t *e = token_json(&lp[i].token), *top = json_array();
        for (int j = 0; j < lp[i].n_top; j++) json_array_append_new(top, token_json(&lp[i].top[j]));
        json_object_set_new(e, "top_logprobs", top);
        json_array_append_new(a, e);
    }
    return a;
}

/* Sends one SSE event holding obj (taken). Returns non-zero when the client has gone. */
static int send_event(ChatCall *call, json_t *obj) {
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!text) return -1;
    size_t n = strlen(text);
    char *ev = malloc(n + 9);
    int rc = -1;
    if (ev) {
        memcpy(ev, "data: ", 6);
        memcpy(ev + 6, text, n);
        memcpy(ev + 6 + n, "\n\n", 3);
        rc = http_stream_write(call->stream, ev, n + 8);
        if (!rc) call->wrote = true;
    }
    free(ev);
    free(text);
    return rc;
}

/* A chat.completion.chunk with one choice's delta (taken), logprobs content (taken; NULL: none)
 * and finish reason. */
static json_t *chunk(ChatCall *call, int index, json_t *delta, json_t *lp, const char *finish) {
    json_t *lpo = lp ? json_pack("{s:o, s:n}", "content", lp, "refusal") : json_null();
    json_t *choice = json_pack("{s:i, s:o, s:o, s:o}", "index", index, "delta", delta, "logprobs", lpo,
                               "finish_reason", finish ? json_string(finish) : json_null());
    json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:n, s:[o]}", "id", call->id, "object", "chat.completion.chunk",
                          "created", (json_int_t)call->created, "model", call->model, "system_fingerprint", "choices",
                          choice);
    if (call->include_usage) json_object_set_new(c, "usage", json_null());
    return c;
}

static int start_choice(ChatCall *call, int choice) {
    if (call->started[choice]) return 0;
    call->started[choice] = true;
    return send_event(call, chunk(call, choice, json_pack("{s:s, s:s}", "role", "assistant", "content", ""),
                                  call->logprobs ? json_array() : NULL, NULL));
}

/* Streaming with tools: sends the text that cannot be part of a tool call. */
static int send_safe_text(ChatCall *call, int choice, size_t upto) {
    if (upto <= call->sent[choice]) return 0;
    size_t n;
    char *clean = utf8_repair(call->text[choice] + call->sent[choice], upto - call->sent[choice], &n);
    int rc = !clean || start_choice(call, choice) ||
             send_event(call, chunk(call, choice, json_pack("{s:s%}", "content", clean, n), NULL, NULL));
    free(clean);
    call->sent[choice] = upto;
    return rc;
}

static int on_piece(void *user, int choice, const char *text, size_t len, const InferLogprob *lp, int n_lp) {
    ChatCall *call = user;
    if (call->sse && call->tools) { /* (logprobs are refused with tools when streaming) */
        if (append_text(call, choice, text, len)) return 1;
        size_t safe = ft_tool_text_safe_len(call->syntax, call->text[choice], call->len[choice]);
        return send_safe_text(call, choice, safe) ? 1 : 0;
    }
    if (call->sse) {
        size_t n;
        char *clean = utf8_repair(text, len, &n); /* a model can emit bytes that are not UTF-8 */
        int rc = !clean || start_choice(call, choice) ||
                 send_event(call, chunk(call, choice, json_pack("{s:s%}", "content", clean, n),
                                        call->logprobs ? logprobs_json(lp, n_lp) : NULL, NULL));
        free(clean);
        return rc ? 1 : 0;
    }
    if (call->logprobs && n_lp) {
        if (!call->lp[choice]) call->lp[choice] = json_array();
        json_array_extend(call->lp[choice], logprobs_json(lp, n_lp));
    }
    if (append_text(call, choice, text, len)) return 1;
    return http_stream_cancelled(call->stream) ? 1 : 0;
}

/* With tools, reads the choice's text for calls; when streaming, sends the rest of its content and
 * its calls (each whole, in one delta). */
static void finish_tools(ChatCall *call, int choice) {
    FtToolReply *r = &call->reply[choice];
    FtError fe = {0};
    if (!call->syntax ||
        ft_tool_reply_parse(call->syntax, call->text[choice] ? call->text[choice] : "", call->len[choice],
                            call->max_calls, r, &fe))
        ft_tool_reply_free(r); /* out of memory: the text stays the reply */
    if (r->n_calls > 0) call->finish[choice] = "tool_calls";
    if (!call->sse) return;
    if (r->n_calls == 0) {
        send_safe_text(call, choice, call->len[choice]);
        return;
    }
    if (r->content_len > call->sent[choice]) send_safe_text(call, choice, r->content_len);
    json_t *calls = tool_calls_json(r, true);
    size_t k;
    json_t *c;
    json_array_foreach(calls, k, c) {
        if (start_choice(call, choice) ||
            send_event(call, chunk(call, choice, json_pack("{s:[O]}", "tool_calls", c), NULL, NULL)))
            break;
    }
    json_decref(calls);
}

static void on_choice_done(void *user, int choice, const FtGenResult *res, int cached) {
    ChatCall *call = user;
    call->finish[choice] = res->finish == FT_FINISH_LENGTH ? "length" : "stop";
    call->prompt_tokens = res->n_prompt;
    call->cached_tokens = cached;
    call->completion_tokens += res->n_completion;
    if (call->tools) finish_tools(call, choice);
    if (call->sse && !start_choice(call, choice))
        send_event(call, chunk(call, choice, json_object(), call->logprobs ? json_array() : NULL, call->finish[choice]));
}

static bool is_cancelled(void *user) {
    ChatCall *call = user;
    return http_stream_cancelled(call->stream);
}

static json_t *usage_json(const ChatCall *call) {
    return json_pack("{s:I, s:I, s:I, s:{s:i, s:i}, s:{s:i, s:i, s:i, s:i}}", "prompt_tokens",
                     (json_int_t)call->prompt_tokens, "completion_tokens", (json_int_t)call->completion_tokens,
                     "total_tokens", (json_int_t)(call->prompt_tokens + call->completion_tokens),
                     "prompt_tokens_details", "cached_tokens", (int)call->cached_tokens, "audio_tokens", 0, "completion_tokens_details",
                     "reasoning_tokens", 0, "audio_tokens", 0, "accepted_prediction_tokens", 0,
                     "rejected_prediction_tokens", 0);
}

static json_t *completion_json(const ChatCall *call) {
    json_t *choices = json_array();
    for (int i = 0; i < call->n; i++) {
        size_t n;
        const FtToolReply *r = &call->reply[i];
        bool calls = r->n_calls > 0;
        char *clean = calls ? utf8_repair(r->content, r->content_len, &n)
                            : utf8_repair(call->text[i] ? call->text[i] : "", call->len[i], &n);
        json_t *msg = json_pack("{s:s, s:s%, s:n, s:[]}", "role", "assistant", "content", clean ? clean : "", n,
                                "refusal", "annotations");
        free(clean);
        if (calls) {
            if (r->content_len == 0) json_object_set_new(msg, "content", json_null()); /* as OpenAI's */
            json_object_set_new(msg, "tool_calls", tool_calls_json(r, false));
        }
        json_t *lp = call->logprobs ? json_pack("{s:o, s:n}", "content", call->lp[i] ? json_incref(call->lp[i]) : json_array(),
                                                "refusal")
                                    : json_null();
        json_array_append_new(choices, json_pack("{s:i, s:o, s:o, s:s}", "index", i, "message", msg, "logprobs", lp,
                                                 "finish_reason", call->finish[i] ? call->finish[i] : "stop"));
    }
    return json_pack("{s:s, s:s, s:I, s:s, s:o, s:o, s:s, s:n}", "id", call->id, "object", "chat.completion",
                     "created", (json_int_t)call->created, "model", call->model, "choices", choices, "usage",
                     usage_json(call), "service_tier", "default", "system_fingerprint");
}

static void on_done(void *user, int status, const char *code, const char *message) {
    ChatCall *call = user;
    ApiError e = {.status = status, .type = status >= 500 ? "server_error" : "invalid_request_error"};
    if (status >= 500) http_stream_cause(call->stream, message ? message : "generation failed"); /* for the log */
    if (status) { /* (the scheduler's messages name files without their directories) */
        snprintf(e.message, sizeof e.message, "%s", message ? message : "generation failed");
        if (code) snprintf(e.code, sizeof e.code, "%s", code);
        if (code && strcmp(code, "context_length_exceeded") == 0) snprintf(e.param, sizeof e.param, "messages");
        if (code && strcmp(code, "unsupported_parameter") == 0) /* the thread's only one: tools the model cannot */
            snprintf(e.param, sizeof e.param, "tools");
    } else {
        metrics_add_chat(call->metrics, call->prompt_tokens, call->completion_tokens);
    }
    if (call->sse && (call->wrote || !status)) {
        if (status) {
            size_t len;
            char *body = api_error_json(&e, &len);
            send_event(call, json_loads(body, 0, NULL));
            free(body);
        } else if (call->include_usage) {
            json_t *u = json_pack("{s:s, s:s, s:I, s:s, s:n, s:[], s:o}", "id", call->id, "object",
                                  "chat.completion.chunk", "created", (json_int_t)call->created, "model", call->model,
                                  "system_fingerprint", "choices", "usage", usage_json(call));
            send_event(call, u);
        }
        http_stream_write(call->stream, "data: [DONE]\n\n", 14);
        http_stream_finish(call->stream, 200, NULL, 0);
    } else {
        size_t len = 0;
        char *body;
        if (status) {
            body = api_error_json(&e, &len);
        } else {
            json_t *obj = completion_json(call);
            body = json_dumps(obj, JSON_COMPACT);
            json_decref(obj);
            len = body ? strlen(body) : 0;
        }
        http_stream_finish(call->stream, body ? (status ? status : 200) : 500, body, len);
    }
    call_free(call);
}

void route_chat_completions(Ctx *c) {
    ChatRequest cr;
    ApiError e;
    if (chat_request_parse(c->req->body, c->req->body_len, &cr, &e)) {
        chat_request_free(&cr);
        api_error(c, &e);
        return;
    }
    ModelInfo m;
    if (generation_max_tokens(c, cr.max_tokens, cr.max_tokens_param, &cr.max_tokens) ||
        generation_resolve_model(c, cr.model, &m)) {
        chat_request_free(&cr);
        return;
    }
    ChatCall *call = calloc(1, sizeof *call);
    InferRequest *r = calloc(1, sizeof *r);
    HttpStream *stream = http_stream_new();
    if (!call || !r || !stream) {
        free(call);
        free(r);
        free(stream);
        chat_request_free(&cr);
        api_errorf(c, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    call->stream = stream;
    call->metrics = c->srv->metrics;
    call->sse = cr.stream;
    call->include_usage = cr.include_usage;
    call->n = cr.n;
    call->created = (long long)time(NULL);
    store_new_id("chatcmpl-", call->id, sizeof call->id);
    /* an alias answers with the id of the model that replied, as OpenAI names the snapshot */
    snprintf(call->model, sizeof call->model, "%s", generation_model_name(&m, cr.model));

    call->logprobs = cr.logprobs;
    generation_chat_request(&cr, &m, r); /* takes what cr owns */
    r->tools.syntax_out = &call->syntax;
    call->tools = r->tools.n_defs > 0 && r->tools.choice != FT_TOOL_CHOICE_NONE;
    call->max_calls = r->tools.parallel ? INFERENCE_MAX_TOOL_CALLS : 1;
    r->cb = (InferCallbacks){on_piece, on_choice_done, on_done, is_cancelled};
    r->user = call;
    c->res->stream = stream;
    c->res->stream_sse = cr.stream;
    inference_submit(c->srv->inference, r);
}
