/* chat_request.c: the body of POST /v1/chat/completions (see requests.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output_format.h"
#include "requests.h"

static const char *const ROLES[] = {"system", "developer", "user", "assistant", "tool", "function"};

/* Joins the text parts of an array content into one string stored back in the message. */
static int join_parts(json_t *msg, json_t *parts, int index, ApiError *e) {
    size_t total = 0;
    for (size_t j = 0; j < json_array_size(parts); j++) {
        json_t *part = json_array_get(parts, j);
        char param[96];
        snprintf(param, sizeof param, "messages[%d].content[%zu]", index, j);
        json_t *type = json_is_object(part) ? json_object_get(part, "type") : NULL;
        if (!json_is_string(type)) return api_bad_param(e, param, "expected an object with a 'type'.");
        if (strcmp(json_string_value(type), "text") != 0)
            return api_fail(e, 400, "invalid_request_error", param, "unsupported_content",
                            "Content parts of type '%s' are not supported: ftune serves text-only models.",
                            json_string_value(type));
        json_t *text = json_object_get(part, "text");
        if (!json_is_string(text)) return api_bad_param(e, param, "a text part needs a string 'text'.");
        total += json_string_length(text);
    }
    char *joined = malloc(total + 1);
    if (!joined) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    size_t at = 0;
    for (size_t j = 0; j < json_array_size(parts); j++) {
        json_t *text = json_object_get(json_array_get(parts, j), "text");
        memcpy(joined + at, json_string_value(text), json_string_length(text));
        at += json_string_length(text);
    }
    joined[at] = 0;
    json_object_set_new(msg, "content", json_stringn_nocheck(joined, at));
    free(joined);
    return 0;
}

static int parse_messages(json_t *root, ChatRequest *r, ApiError *e) {
    json_t *msgs = json_object_get(root, "messages");
    if (!msgs)
        return api_missing_param(e, "messages");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0)
        return api_bad_param(e, "messages", "expected a non-empty array of messages.");
    size_t n = json_array_size(msgs);
    if (n > REQ_MAX_MESSAGES) return api_bad_param(e, "messages", "at most %d messages.", REQ_MAX_MESSAGES);
    r->msgs = calloc(n, sizeof *r->msgs);
    if (!r->msgs) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(msgs, i);
        char param[64];
        snprintf(param, sizeof param, "messages[%zu]", i);
        if (!json_is_object(m)) return api_bad_param(e, param, "expected an object.");
        json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
        snprintf(param, sizeof param, "messages[%zu].role", i);
        bool known = false;
        for (size_t k = 0; json_is_string(role) && k < sizeof ROLES / sizeof ROLES[0]; k++)
            known |= strcmp(json_string_value(role), ROLES[k]) == 0;
        if (!known)
            return api_bad_param(e, param, "expected one of system, developer, user, assistant, tool.");
        if (strcmp(json_string_value(role), "function") == 0) /* deprecated; no chat template renders it */
            return api_bad_param(e, param, "the deprecated 'function' role is not supported: send a function's "
                                           "result as a 'tool' message.");
        snprintf(param, sizeof param, "messages[%zu].content", i);
        bool assistant = strcmp(json_string_value(role), "assistant") == 0;
        if (json_is_array(content)) {
            if (join_parts(m, content, (int)i, e)) return -1;
        } else if (!json_is_string(content) && !(assistant && (!content || json_is_null(content)))) {
            return api_bad_param(e, param, "expected a string or an array of text parts.");
        }
        content = json_object_get(m, "content");
        r->msgs[i].role = json_string_value(role);
        r->msgs[i].content = json_is_string(content) ? json_string_value(content) : "";
    }
    r->n_msgs = (int)n;
    return 0;
}

static int parse_stop(json_t *root, ChatRequest *r, ApiError *e) {
    json_t *stop = json_object_get(root, "stop");
    if (!stop || json_is_null(stop)) return 0;
    if (json_is_string(stop)) {
        if (json_string_length(stop) == 0) return api_bad_param(e, "stop", "an empty stop string.");
        r->stop[r->n_stop++] = json_string_value(stop);
        return 0;
    }
    if (!json_is_array(stop) || json_array_size(stop) > REQ_MAX_STOP)
        return api_bad_param(e, "stop", "expected a string or an array of up to %d strings.", REQ_MAX_STOP);
    for (size_t i = 0; i < json_array_size(stop); i++) {
        json_t *s = json_array_get(stop, i);
        if (!json_is_string(s) || json_string_length(s) == 0)
            return api_bad_param(e, "stop", "expected non-empty strings.");
        r->stop[r->n_stop++] = json_string_value(s);
    }
    return 0;
}

/* Every field of a chat completion request that ftune reads; anything else (a typo such as
 * "max_tokn", or an option of the API that ftune does not implement) is refused by name. */
static const char *const CHAT_FIELDS[] = {
    "model", "messages", "stop", "temperature", "top_p", "n", "max_tokens", "max_completion_tokens", "stream",
    "stream_options", "seed", "user", "logprobs", "top_logprobs", "response_format", "tool_choice", "tools",
    "parallel_tool_calls", "frequency_penalty", "presence_penalty", "logit_bias", "store", "metadata"};

/* Options ftune cannot honour are refused rather than silently ignored (api_refuse_unless_neutral:
 * absent, null or a neutral value pass). */
static int check_unsupported(json_t *root, ApiError *e) {
    if (api_check_fields(root, CHAT_FIELDS, sizeof CHAT_FIELDS / sizeof CHAT_FIELDS[0], e) ||
        api_refuse_unless_neutral(root, "store", NULL, 0, " (completions are not stored)", e) ||
        api_refuse_unless_neutral(root, "metadata", NULL, 0, " (it belongs to stored completions)", e))
        return -1;
    json_t *user = json_object_get(root, "user");
    if (user && !json_is_null(user) && !json_is_string(user)) return api_bad_param(e, "user", "expected a string.");
    return 0;
}

/* Does any message mention JSON (any case)? OpenAI asks for it with json_object: without an
 * instruction to write JSON a model may emit whitespace until the token limit. */
static bool mentions_json(const ChatRequest *r) {
    for (int i = 0; i < r->n_msgs; i++)
        if (output_format_mentions_json(r->msgs[i].content)) return true;
    return false;
}

/* response_format: text (nothing to do), json_object (any JSON object) or json_schema (the
 * schema in OpenAI's strict subset), both compiled here into r->grammar for constrained decoding. */
static int parse_response_format(json_t *root, ChatRequest *r, ApiError *e) {
    static const char *const RF_FIELDS[] = {"type", "json_schema"};
    static const char *const JS_FIELDS[] = {"name", "description", "schema", "strict"};
    json_t *rf = json_object_get(root, "response_format");
    if (!rf || json_is_null(rf)) return 0;
    json_t *type = json_is_object(rf) ? json_object_get(rf, "type") : NULL;
    if (!json_is_string(type)) return api_bad_param(e, "response_format", "expected an object with a 'type'.");
    const char *t = json_string_value(type);
    if (strcmp(t, "text") != 0 && strcmp(t, "json_object") != 0 && strcmp(t, "json_schema") != 0)
        return api_bad_param(e, "response_format.type", "expected 'text', 'json_object' or 'json_schema', got '%.40s'.", t);
    ApiError fe = {0};
    if (api_check_fields(rf, RF_FIELDS, strcmp(t, "json_schema") == 0 ? 2 : 1, &fe))
        return api_bad_param(e, "response_format", "%s", fe.message);
    if (strcmp(t, "text") == 0) return 0;
    if (strcmp(t, "json_object") == 0) {
        if (!mentions_json(r))
            return api_bad_param(e, "messages", "'messages' must contain the word 'json' in some form, to use "
                                                "'response_format' of type 'json_object'.");
        return output_format_json_object(&r->grammar, e);
    }
    json_t *js = json_object_get(rf, "json_schema");
    if (!js)
        return api_missing_param(e, "response_format.json_schema");
    if (!json_is_object(js)) return api_bad_param(e, "response_format.json_schema", "expected an object.");
    if (api_check_fields(js, JS_FIELDS, sizeof JS_FIELDS / sizeof JS_FIELDS[0], &fe))
        return api_bad_param(e, "response_format.json_schema", "%s", fe.message);
    return output_format_compile_schema(js, "response_format.json_schema", "response_format", &r->grammar, e);
}

/* logit_bias: {"token id": bias}, ids as decimal strings, biases -100..100 (the vocabulary is
 * checked when the model is known). */
static int parse_logit_bias(json_t *root, ChatRequest *r, ApiError *e) {
    json_t *lb = json_object_get(root, "logit_bias");
    if (!lb || json_is_null(lb)) return 0;
    if (!json_is_object(lb)) return api_bad_param(e, "logit_bias", "expected an object mapping token ids to biases.");
    size_t n = json_object_size(lb);
    if (n > REQ_MAX_LOGIT_BIAS) return api_bad_param(e, "logit_bias", "at most %d entries.", REQ_MAX_LOGIT_BIAS);
    r->bias_ids = malloc((n ? n : 1) * sizeof *r->bias_ids);
    r->bias_values = malloc((n ? n : 1) * sizeof *r->bias_values);
    if (!r->bias_ids || !r->bias_values) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach(lb, key, v) {
        char *end;
        long id = strtol(key, &end, 10);
        if (!*key || *end || id < 0 || id > INT32_MAX)
            return api_bad_param(e, "logit_bias", "'%.40s' is not a token id (a non-negative integer).", key);
        if (!json_is_number(v) || json_number_value(v) < -100 || json_number_value(v) > 100)
            return api_bad_param(e, "logit_bias", "the bias of token %ld must be a number from -100 to 100.", id);
        r->bias_ids[r->n_bias] = (int32_t)id;
        r->bias_values[r->n_bias++] = (float)json_number_value(v);
    }
    return 0;
}

int chat_request_parse(const char *body, size_t len, ChatRequest *r, ApiError *e) {
    memset(r, 0, sizeof *r);
    r->temperature = 1;
    r->top_p = 1;
    r->n = 1;
    r->root = api_parse_object(body, len, e);
    if (!r->root) return -1;
    json_t *root = r->root;
    long long n = 1, max_tokens = 0, max_completion = 0;
    int rc = api_field_string(root, "model", false, &r->model, e);
    if (rc > 0)
        return api_missing_param(e, "model");
    if (rc < 0 || parse_messages(root, r, e) ||
        chat_request_parse_message_tools(json_object_get(root, "messages"), r, e) || parse_stop(root, r, e) ||
        check_unsupported(root, e) || chat_request_parse_tools(root, r, e) ||
        api_field_number(root, "temperature", 0, 2, &r->temperature, e) < 0 ||
        api_field_number(root, "top_p", 0, 1, &r->top_p, e) < 0 ||
        api_field_int(root, "n", 1, REQ_MAX_CHOICES, &n, e) < 0 ||
        api_field_int(root, "max_tokens", 1, 1 << 30, &max_tokens, e) < 0 ||
        api_field_int(root, "max_completion_tokens", 1, 1 << 30, &max_completion, e) < 0 ||
        api_field_bool(root, "stream", &r->stream, e) < 0 || api_field_bool(root, "logprobs", &r->logprobs, e) < 0 ||
        api_field_number(root, "frequency_penalty", -2, 2, &r->frequency_penalty, e) < 0 ||
        api_field_number(root, "presence_penalty", -2, 2, &r->presence_penalty, e) < 0 || parse_logit_bias(root, r, e) ||
        parse_response_format(root, r, e))
        return -1;
    long long top = 0;
    rc = api_field_int(root, "top_logprobs", 0, 20, &top, e);
    if (rc < 0) return -1;
    if (rc == 0 && !r->logprobs)
        return api_bad_param(e, "top_logprobs", "'logprobs' must be true when 'top_logprobs' is given.");
    r->top_logprobs = (int)top;
    rc = api_field_int(root, "seed", -(1ll << 62), 1ll << 62, &r->seed, e);
    if (rc < 0) return -1;
    r->has_seed = rc == 0;
    r->n = (int)n;
    r->max_tokens = max_completion ? max_completion : max_tokens;
    r->max_tokens_param = max_completion ? "max_completion_tokens" : "max_tokens";
    json_t *so = json_object_get(root, "stream_options");
    if (so && !json_is_null(so)) {
        if (!r->stream)
            return api_bad_param(e, "stream_options", "only allowed when 'stream' is true.");
        if (!json_is_object(so)) return api_bad_param(e, "stream_options", "expected an object.");
        if (api_field_bool(so, "include_usage", &r->include_usage, e) < 0) return -1;
    }
    return 0;
}

void chat_request_free(ChatRequest *r) {
    json_decref(r->root);
    free(r->msgs);
    free(r->bias_ids);
    free(r->bias_values);
    ft_grammar_free(r->grammar);
    for (int i = 0; i < r->n_tools; i++) free(r->tools[i]);
    free(r->tools);
    free(r->tool_calls);
    memset(r, 0, sizeof *r);
}
