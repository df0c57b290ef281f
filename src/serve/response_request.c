/* response_request.c: the body of POST /v1/responses and a response's prompt messages (see
 * response_request.h). */
#include "response_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output_format.h"

#define PARAM_MAX 96

/* Every field of a create request that ftune reads; anything else is refused by name. */
static const char *const RESPONSE_FIELDS[] = {
    "model", "input", "instructions", "previous_response_id", "text", "max_output_tokens", "temperature", "top_p",
    "metadata", "store", "stream", "stream_options", "user", "safety_identifier", "prompt_cache_key",
    "parallel_tool_calls", "tool_choice", "tools", "reasoning", "include", "background", "truncation",
    "service_tier", "top_logprobs", "max_tool_calls", "prompt", "conversation", "context_management", "moderation",
    "prompt_cache_retention", "prompt_cache_options"};

/* Fields ftune knows but does not implement, with the values that ask for nothing (besides null,
 * false, 0, [] and {}) and why they are refused otherwise. */
typedef struct {
    const char *key;
    const char *neutral[2];
    const char *why;
} Unsupported;

static const Unsupported UNSUPPORTED[] = {
    {"tools", {NULL, NULL}, " yet (the model's replies are not parsed for tool calls)"},
    {"tool_choice", {"none", "auto"}, " (there are no tools)"},
    {"max_tool_calls", {NULL, NULL}, " (there are no tools)"},
    {"reasoning", {NULL, NULL}, " (the models served do not reason)"},
    {"include", {NULL, NULL}, " (a response has no extra data to include)"},
    {"background", {NULL, NULL}, ": responses are generated while the request waits or streams"},
    {"truncation", {"disabled", NULL}, ": an input longer than the model's context is a 400"},
    {"service_tier", {"auto", "default"}, " (one tier)"},
    {"top_logprobs", {NULL, NULL}, " for responses"},
    {"prompt", {NULL, NULL}, " (stored prompt templates)"},
    {"conversation", {NULL, NULL}, ": continue a response with previous_response_id"},
    {"context_management", {NULL, NULL}, ""},
    {"moderation", {NULL, NULL}, ""},
    {"prompt_cache_retention", {NULL, NULL}, " (the prefix cache keeps prompts while it has room)"},
    {"prompt_cache_options", {NULL, NULL}, " (the prefix cache keeps prompts while it has room)"},
};

/* The first key of obj outside fields[0..n): a 400 unknown_parameter naming prefix.key. */
static int check_item_fields(json_t *obj, const char *prefix, const char *const *fields, size_t n, ApiError *e) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++) known = strcmp(key, fields[i]) == 0;
        if (!known) {
            char param[PARAM_MAX];
            snprintf(param, sizeof param, "%s.%.40s", prefix, key);
            return api_fail(e, 400, "invalid_request_error", param, "unknown_parameter",
                            "Unrecognized request argument supplied: %s", param);
        }
    }
    return 0;
}

static bool is_role(const char *role, const char *name) { return strcmp(role, name) == 0; }

/* One content part of message `index` (role given), normalised into parts. */
static int parse_part(json_t *part, const char *role, const char *param, json_t *parts, ApiError *e) {
    static const char *const TEXT_FIELDS[] = {"type", "text", "annotations", "logprobs"};
    json_t *type = json_is_object(part) ? json_object_get(part, "type") : NULL;
    if (!json_is_string(type)) return api_bad_param(e, param, "expected an object with a 'type'.");
    const char *t = json_string_value(type);
    bool assistant = is_role(role, "assistant");
    char sub[PARAM_MAX];
    if (strcmp(t, "input_text") == 0 || (assistant && strcmp(t, "output_text") == 0)) {
        if (check_item_fields(part, param, TEXT_FIELDS, strcmp(t, "input_text") == 0 ? 2 : 4, e)) return -1;
        json_t *text = json_object_get(part, "text");
        snprintf(sub, sizeof sub, "%s.text", param);
        if (!json_is_string(text)) return api_bad_param(e, sub, "expected a string.");
        json_t *ann = json_object_get(part, "annotations");
        snprintf(sub, sizeof sub, "%s.annotations", param);
        if (ann && !json_is_null(ann) && !(json_is_array(ann) && json_array_size(ann) == 0))
            return api_fail(e, 400, "invalid_request_error", sub, "unsupported_parameter",
                            "Annotations are not supported by this server.");
        json_t *norm = assistant ? json_pack("{s:s, s:O, s:[]}", "type", "output_text", "text", text, "annotations")
                                 : json_pack("{s:s, s:O}", "type", "input_text", "text", text);
        if (!norm || json_array_append_new(parts, norm)) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        return 0;
    }
    snprintf(sub, sizeof sub, "%s.type", param);
    if (strcmp(t, "input_image") == 0 || strcmp(t, "input_file") == 0 || strcmp(t, "input_audio") == 0)
        return api_fail(e, 400, "invalid_request_error", sub, "unsupported_content",
                        "Content parts of type '%s' are not supported: ftune serves text-only models.", t);
    return api_bad_param(e, sub, "'%.40s' is not a content part a%s %s message may have (expected %s).", t,
                         assistant ? "n" : "", role, assistant ? "'output_text' or 'input_text'" : "'input_text'");
}

/* Input item i, normalised and appended to r->input. */
static int parse_item(json_t *item, size_t i, ResponseRequest *r, ApiError *e) {
    static const char *const ITEM_FIELDS[] = {"type", "role", "content", "id", "status", "phase"};
    char param[32], sub[PARAM_MAX];
    snprintf(param, sizeof param, "input[%zu]", i);
    if (!json_is_object(item)) return api_bad_param(e, param, "expected an object (a message).");
    json_t *type = json_object_get(item, "type");
    snprintf(sub, sizeof sub, "%s.type", param);
    if (type && !json_is_string(type)) return api_bad_param(e, sub, "expected a string.");
    if (type && strcmp(json_string_value(type), "message") != 0)
        return api_fail(e, 400, "invalid_request_error", sub, "unsupported_value",
                        "Input items of type '%.40s' are not supported by this server: only messages.",
                        json_string_value(type));
    if (check_item_fields(item, param, ITEM_FIELDS, sizeof ITEM_FIELDS / sizeof ITEM_FIELDS[0], e)) return -1;
    json_t *role = json_object_get(item, "role"), *content = json_object_get(item, "content"),
           *id = json_object_get(item, "id"), *status = json_object_get(item, "status"),
           *phase = json_object_get(item, "phase");
    snprintf(sub, sizeof sub, "%s.role", param);
    if (!role)
        return api_missing_param(e, sub);
    const char *rl = json_is_string(role) ? json_string_value(role) : "";
    if (!is_role(rl, "user") && !is_role(rl, "assistant") && !is_role(rl, "system") && !is_role(rl, "developer"))
        return api_bad_param(e, sub, "expected one of user, assistant, system, developer.");
    snprintf(sub, sizeof sub, "%s.id", param);
    if (id && !json_is_null(id) &&
        (!json_is_string(id) || json_string_length(id) == 0 || json_string_length(id) > RESPONSE_ITEM_ID_MAX))
        return api_bad_param(e, sub, "expected an id of 1 to %d characters.", RESPONSE_ITEM_ID_MAX);
    snprintf(sub, sizeof sub, "%s.status", param);
    if (status && !json_is_null(status) && !json_is_string(status)) return api_bad_param(e, sub, "expected a string.");
    snprintf(sub, sizeof sub, "%s.phase", param);
    if (phase && !json_is_null(phase))
        return api_fail(e, 400, "invalid_request_error", sub, "unsupported_parameter",
                        "phase is not supported by this server.");
    snprintf(sub, sizeof sub, "%s.content", param);
    if (!content)
        return api_missing_param(e, sub);
    json_t *parts = json_array();
    json_t *norm = json_pack("{s:s, s:s, s:o}", "type", "message", "role", rl, "content", parts);
    if (!norm) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    if (json_is_string(id)) json_object_set(norm, "id", id);
    json_array_append_new(r->input, norm);
    if (json_is_string(content)) {
        json_t *p = json_pack("{s:s, s:O}", "type", is_role(rl, "assistant") ? "output_text" : "input_text", "text",
                              content);
        if (p && is_role(rl, "assistant")) json_object_set_new(p, "annotations", json_array());
        if (!p || json_array_append_new(parts, p)) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        return 0;
    }
    if (!json_is_array(content) || json_array_size(content) == 0)
        return api_bad_param(e, sub, "expected a string or a non-empty array of content parts.");
    for (size_t j = 0; j < json_array_size(content); j++) {
        char pp[64];
        snprintf(pp, sizeof pp, "%s.content[%zu]", param, j);
        if (parse_part(json_array_get(content, j), rl, pp, parts, e)) return -1;
    }
    return 0;
}

static int parse_input(json_t *root, ResponseRequest *r, ApiError *e) {
    json_t *input = json_object_get(root, "input");
    if (!input || json_is_null(input))
        return api_missing_param(e, "input");
    r->input = json_array();
    if (!r->input) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    if (json_is_string(input)) {
        json_t *m = json_pack("{s:s, s:s, s:[{s:s, s:O}]}", "type", "message", "role", "user", "content", "type",
                              "input_text", "text", input);
        if (!m || json_array_append_new(r->input, m)) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        return 0;
    }
    if (!json_is_array(input) || json_array_size(input) == 0)
        return api_bad_param(e, "input", "expected a string or a non-empty array of input items.");
    if (json_array_size(input) > RESPONSE_MAX_ITEMS)
        return api_bad_param(e, "input", "at most %d input items.", RESPONSE_MAX_ITEMS);
    for (size_t i = 0; i < json_array_size(input); i++)
        if (parse_item(json_array_get(input, i), i, r, e)) return -1;
    return 0;
}

/* text: {"format": {"type": "text" | "json_object" | "json_schema", ...}, "verbosity"}. */
static int parse_text(json_t *root, ResponseRequest *r, ApiError *e) {
    static const char *const TEXT_FIELDS[] = {"format", "verbosity"};
    static const char *const SCHEMA_FIELDS[] = {"type", "name", "schema", "strict", "description"};
    static const char *const MEDIUM[] = {"medium"};
    json_t *text = json_object_get(root, "text"), *format = NULL;
    if (text && !json_is_null(text)) {
        if (!json_is_object(text)) return api_bad_param(e, "text", "expected an object.");
        if (check_item_fields(text, "text", TEXT_FIELDS, 2, e)) return -1;
        if (api_refuse_unless_neutral(text, "verbosity", MEDIUM, 1, " (only \"medium\")", e)) {
            snprintf(e->param, sizeof e->param, "text.verbosity");
            return -1;
        }
        format = json_object_get(text, "format");
    }
    if (format && json_is_null(format)) format = NULL;
    const char *t = "text";
    if (format) {
        json_t *type = json_is_object(format) ? json_object_get(format, "type") : NULL;
        if (!json_is_string(type)) return api_bad_param(e, "text.format", "expected an object with a 'type'.");
        t = json_string_value(type);
        bool schema = strcmp(t, "json_schema") == 0;
        if (strcmp(t, "text") != 0 && strcmp(t, "json_object") != 0 && !schema)
            return api_bad_param(e, "text.format.type", "expected 'text', 'json_object' or 'json_schema', got '%.40s'.",
                                 t);
        if (check_item_fields(format, "text.format", SCHEMA_FIELDS, schema ? 5 : 1, e)) return -1;
        if (schema) {
            if (!json_object_get(format, "schema"))
                return api_missing_param(e, "text.format.schema");
            if (output_format_compile_schema(format, "text.format", "text.format.schema", &r->grammar, e)) return -1;
        } else if (strcmp(t, "json_object") == 0) {
            r->json_object = true;
            if (output_format_json_object(&r->grammar, e)) return -1;
        }
    }
    r->text = json_pack("{s:o, s:s}", "format", format ? json_deep_copy(format) : json_pack("{s:s}", "type", "text"),
                        "verbosity", "medium");
    if (!r->text) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    return 0;
}

static int check_unsupported(json_t *root, ResponseRequest *r, ApiError *e) {
    for (size_t i = 0; i < sizeof UNSUPPORTED / sizeof UNSUPPORTED[0]; i++) {
        const Unsupported *u = &UNSUPPORTED[i];
        if (api_refuse_unless_neutral(root, u->key, u->neutral, u->neutral[1] ? 2 : u->neutral[0] ? 1 : 0, u->why, e))
            return -1;
    }
    json_t *so = json_object_get(root, "stream_options");
    if (so && !json_is_null(so)) {
        static const char *const SO_FIELDS[] = {"include_obfuscation"};
        if (!r->stream) return api_bad_param(e, "stream_options", "only allowed when 'stream' is true.");
        if (!json_is_object(so)) return api_bad_param(e, "stream_options", "expected an object.");
        if (check_item_fields(so, "stream_options", SO_FIELDS, 1, e)) return -1;
        bool obfuscation = false;
        if (api_field_bool(so, "include_obfuscation", &obfuscation, e) < 0) {
            snprintf(e->param, sizeof e->param, "stream_options.include_obfuscation");
            return -1;
        }
        if (obfuscation)
            return api_fail(e, 400, "invalid_request_error", "stream_options.include_obfuscation",
                            "unsupported_parameter", "Stream obfuscation is not supported by this server.");
    }
    return 0;
}

/* user, safety_identifier and prompt_cache_key: strings (or null), echoed. */
static int parse_identifiers(json_t *root, ResponseRequest *r, ApiError *e) {
    if (api_field_string(root, "user", true, &r->user, e) < 0 ||
        api_field_string(root, "safety_identifier", true, &r->safety_identifier, e) < 0 ||
        api_field_string(root, "prompt_cache_key", true, &r->prompt_cache_key, e) < 0)
        return -1;
    if (r->safety_identifier && strlen(r->safety_identifier) > RESPONSE_SAFETY_ID_MAX)
        return api_bad_param(e, "safety_identifier", "at most %d characters.", RESPONSE_SAFETY_ID_MAX);
    return 0;
}

int response_request_parse(const char *body, size_t len, ResponseRequest *r, ApiError *e) {
    memset(r, 0, sizeof *r);
    r->temperature = 1;
    r->top_p = 1;
    r->store = true;
    r->parallel_tool_calls = true;
    r->root = api_parse_object(body, len, e);
    if (!r->root) return -1;
    json_t *root = r->root;
    if (api_check_fields(root, RESPONSE_FIELDS, sizeof RESPONSE_FIELDS / sizeof RESPONSE_FIELDS[0], e)) return -1;
    int rc = api_field_string(root, "model", false, &r->model, e);
    if (rc > 0)
        return api_missing_param(e, "model");
    if (rc < 0 || api_field_bool(root, "stream", &r->stream, e) < 0 || check_unsupported(root, r, e) ||
        parse_input(root, r, e) || api_field_string(root, "instructions", true, &r->instructions, e) < 0 ||
        api_field_string(root, "previous_response_id", true, &r->previous_response_id, e) < 0 ||
        api_field_number(root, "temperature", 0, 2, &r->temperature, e) < 0 ||
        api_field_number(root, "top_p", 0, 1, &r->top_p, e) < 0 ||
        api_field_int(root, "max_output_tokens", RESPONSE_MIN_OUTPUT_TOKENS, 1 << 30, &r->max_output_tokens, e) < 0 ||
        api_field_bool(root, "store", &r->store, e) < 0 ||
        api_field_bool(root, "parallel_tool_calls", &r->parallel_tool_calls, e) < 0 || parse_identifiers(root, r, e) ||
        parse_text(root, r, e))
        return -1;
    json_t *store = json_object_get(root, "store");
    if (json_is_null(store)) r->store = true; /* null: the default */
    json_t *md = json_object_get(root, "metadata");
    if (api_check_metadata(md, "metadata", e)) return -1;
    r->metadata = md && !json_is_null(md) ? md : NULL;
    if (r->previous_response_id && !r->previous_response_id[0])
        return api_bad_param(e, "previous_response_id", "expected a response id (resp_...).");
    return 0;
}

void response_request_free(ResponseRequest *r) {
    json_decref(r->root);
    json_decref(r->input);
    json_decref(r->text);
    ft_grammar_free(r->grammar);
    memset(r, 0, sizeof *r);
}

/* The text parts of a message item joined: the part's own string when there is one part, else a
 * new string appended to keep. NULL when out of memory. */
static const char *item_text(json_t *item, json_t *keep) {
    json_t *parts = json_object_get(item, "content");
    if (json_array_size(parts) == 1) {
        const char *t = json_string_value(json_object_get(json_array_get(parts, 0), "text"));
        return t ? t : "";
    }
    size_t total = 0;
    for (size_t j = 0; j < json_array_size(parts); j++)
        total += json_string_length(json_object_get(json_array_get(parts, j), "text"));
    char *joined = malloc(total + 1);
    if (!joined) return NULL;
    size_t at = 0;
    for (size_t j = 0; j < json_array_size(parts); j++) {
        json_t *t = json_object_get(json_array_get(parts, j), "text");
        memcpy(joined + at, json_string_value(t) ? json_string_value(t) : "", json_string_length(t));
        at += json_string_length(t);
    }
    joined[at] = 0;
    json_t *s = json_stringn_nocheck(joined, at);
    free(joined);
    if (!s || json_array_append_new(keep, s)) return NULL;
    return json_string_value(s);
}

int response_messages(const ResponseRequest *r, json_t *context, FtChatMessage **msgs, int *n, json_t **keep,
                      ApiError *e) {
    *msgs = NULL;
    *n = 0;
    *keep = NULL;
    size_t count = json_array_size(context) + (r->instructions ? 1 : 0);
    if (count > RESPONSE_MAX_ITEMS)
        return api_bad_param(e, r->previous_response_id ? "previous_response_id" : "input",
                             "the conversation has %zu messages: at most %d.", count, RESPONSE_MAX_ITEMS);
    FtChatMessage *m = calloc(count ? count : 1, sizeof *m);
    json_t *k = json_pack("[O]", context);
    if (!m || !k) {
        free(m);
        json_decref(k);
        return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    }
    int at = 0;
    bool json_seen = false;
    if (r->instructions) {
        m[at++] = (FtChatMessage){.role = "system", .content = r->instructions};
        json_seen = output_format_mentions_json(r->instructions);
    }
    for (size_t i = 0; i < json_array_size(context); i++) {
        json_t *item = json_array_get(context, i);
        const char *text = item_text(item, k), *role = json_string_value(json_object_get(item, "role"));
        if (!text) {
            free(m);
            json_decref(k);
            return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        }
        m[at++] = (FtChatMessage){.role = role ? role : "user", .content = text};
        json_seen = json_seen || output_format_mentions_json(text);
    }
    if (r->json_object && !json_seen) {
        free(m);
        json_decref(k);
        return api_bad_param(e, "input", "Response input messages must contain the word 'json' in some form to use "
                                         "'text.format' of type 'json_object'.");
    }
    *msgs = m;
    *n = at;
    *keep = k;
    return 0;
}
