/* chat_request_tools.c: the tool-calling fields of POST /v1/chat/completions (see requests.h):
 * tools, tool_choice, parallel_tool_calls, and the tool_calls and tool_call_id of messages. Shapes
 * are checked here, with 400s naming the field; whether the model's template renders tools is known
 * only once the model is loaded (the inference thread refuses it then). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "requests.h"

static const char NAME_CHARS[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";

static bool good_name(const char *s) {
    size_t n = strlen(s);
    return n > 0 && n <= REQ_TOOL_NAME_MAX && strspn(s, NAME_CHARS) == n;
}

/* One tool: {"type": "function", "function": {"name", "description"?, "parameters"?, "strict"?}}. */
static int check_tool(json_t *tool, int i, ApiError *e) {
    static const char *const TOOL_FIELDS[] = {"type", "function"};
    static const char *const FN_FIELDS[] = {"name", "description", "parameters", "strict"};
    char param[96];
    ApiError fe = {0};
    snprintf(param, sizeof param, "tools[%d]", i);
    if (!json_is_object(tool)) return api_bad_param(e, param, "expected an object.");
    if (api_check_fields(tool, TOOL_FIELDS, 2, &fe)) return api_bad_param(e, param, "%s", fe.message);
    json_t *type = json_object_get(tool, "type"), *fn = json_object_get(tool, "function");
    snprintf(param, sizeof param, "tools[%d].type", i);
    if (!json_is_string(type) || strcmp(json_string_value(type), "function") != 0)
        return api_fail(e, 400, "invalid_request_error", param, "unsupported_parameter",
                        "Only tools of type 'function' are supported by this server.");
    snprintf(param, sizeof param, "tools[%d].function", i);
    if (!json_is_object(fn)) return api_bad_param(e, param, "expected an object with a 'name'.");
    if (api_check_fields(fn, FN_FIELDS, sizeof FN_FIELDS / sizeof FN_FIELDS[0], &fe))
        return api_bad_param(e, param, "%s", fe.message);
    json_t *name = json_object_get(fn, "name"), *desc = json_object_get(fn, "description"),
           *params = json_object_get(fn, "parameters"), *strict = json_object_get(fn, "strict");
    snprintf(param, sizeof param, "tools[%d].function.name", i);
    if (!json_is_string(name) || !good_name(json_string_value(name)))
        return api_bad_param(e, param, "expected a name of 1 to %d letters, digits, underscores and dashes.",
                             REQ_TOOL_NAME_MAX);
    snprintf(param, sizeof param, "tools[%d].function.description", i);
    if (desc && !json_is_null(desc) && !json_is_string(desc)) return api_bad_param(e, param, "expected a string.");
    snprintf(param, sizeof param, "tools[%d].function.parameters", i);
    if (params && !json_is_null(params) && !json_is_object(params))
        return api_bad_param(e, param, "expected a JSON Schema object.");
    snprintf(param, sizeof param, "tools[%d].function.strict", i);
    if (strict && !json_is_null(strict) && !json_is_boolean(strict)) return api_bad_param(e, param, "expected a boolean.");
    return 0;
}

/* A function the model may be forced to call: its parameters must compile for constrained decoding. */
static int check_constrainable(json_t *tool, int i, ApiError *e) {
    json_t *fn = json_object_get(tool, "function"), *params = json_object_get(fn, "parameters");
    if (!json_is_object(params)) return 0;
    char *text = json_dumps(params, JSON_COMPACT);
    if (!text) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    FtGrammar *g = NULL;
    FtError err = {0};
    int rc = ft_grammar_from_json_schema(text, strlen(text), json_is_true(json_object_get(fn, "strict")), &g, &err);
    free(text);
    ft_grammar_free(g);
    if (!rc) return 0;
    if (err.code == FT_ERR_NOMEM) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    char param[96];
    snprintf(param, sizeof param, "tools[%d].function.parameters", i);
    return api_fail(e, 400, "invalid_request_error", param, "invalid_function_parameters",
                    "Invalid schema for function '%s': %s. A call is forced by tool_choice, and ftune constrains "
                    "its arguments to the schema.", json_string_value(json_object_get(fn, "name")), err.msg);
}

static int parse_tool_choice(json_t *root, ChatRequest *r, ApiError *e) {
    json_t *tc = json_object_get(root, "tool_choice");
    r->tool_choice = FT_TOOL_CHOICE_AUTO;
    if (!tc || json_is_null(tc)) return 0;
    if (r->n_tools == 0)
        return api_bad_param(e, "tool_choice", "'tool_choice' is only allowed when 'tools' are specified.");
    if (json_is_string(tc)) {
        const char *s = json_string_value(tc);
        if (strcmp(s, "auto") == 0) r->tool_choice = FT_TOOL_CHOICE_AUTO;
        else if (strcmp(s, "none") == 0) r->tool_choice = FT_TOOL_CHOICE_NONE;
        else if (strcmp(s, "required") == 0) r->tool_choice = FT_TOOL_CHOICE_REQUIRED;
        else return api_bad_param(e, "tool_choice", "expected 'none', 'auto', 'required' or a function, got '%.40s'.", s);
        return 0;
    }
    static const char *const TC_FIELDS[] = {"type", "function"};
    ApiError fe = {0};
    json_t *type = json_is_object(tc) ? json_object_get(tc, "type") : NULL, *fn = json_object_get(tc, "function");
    if (!json_is_string(type) || strcmp(json_string_value(type), "function") != 0 || !json_is_object(fn) ||
        !json_is_string(json_object_get(fn, "name")))
        return api_bad_param(e, "tool_choice", "expected 'none', 'auto', 'required' or {\"type\": \"function\", "
                                               "\"function\": {\"name\": ...}}.");
    if (api_check_fields(tc, TC_FIELDS, 2, &fe)) return api_bad_param(e, "tool_choice", "%s", fe.message);
    if (json_object_size(fn) != 1) return api_bad_param(e, "tool_choice.function", "expected only a 'name'.");
    const char *name = json_string_value(json_object_get(fn, "name"));
    for (int i = 0; i < r->n_tools; i++) {
        json_t *t = json_array_get(json_object_get(root, "tools"), (size_t)i);
        if (strcmp(json_string_value(json_object_get(json_object_get(t, "function"), "name")), name) == 0) {
            r->tool_choice = FT_TOOL_CHOICE_FUNCTION;
            r->tool_function = name;
            return 0;
        }
    }
    return api_bad_param(e, "tool_choice.function.name", "no tool is the function '%.64s'.", name);
}

int chat_request_parse_tools(json_t *root, ChatRequest *r, ApiError *e) {
    r->parallel_tool_calls = true;
    if (api_field_bool(root, "parallel_tool_calls", &r->parallel_tool_calls, e) < 0) return -1;
    json_t *tools = json_object_get(root, "tools");
    if (tools && !json_is_null(tools)) {
        if (!json_is_array(tools) || json_array_size(tools) > REQ_MAX_TOOLS)
            return api_bad_param(e, "tools", "expected an array of up to %d tools.", REQ_MAX_TOOLS);
        size_t n = json_array_size(tools);
        r->tools = calloc(n ? n : 1, sizeof *r->tools);
        if (!r->tools) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        for (size_t i = 0; i < n; i++) {
            json_t *tool = json_array_get(tools, i);
            if (check_tool(tool, (int)i, e)) return -1;
            for (size_t k = 0; k < i; k++)
                if (json_equal(json_object_get(json_object_get(json_array_get(tools, k), "function"), "name"),
                               json_object_get(json_object_get(tool, "function"), "name"))) {
                    char param[64];
                    snprintf(param, sizeof param, "tools[%zu].function.name", i);
                    return api_bad_param(e, param, "two tools are named '%s'.",
                                         json_string_value(json_object_get(json_object_get(tool, "function"), "name")));
                }
            if (!(r->tools[i] = json_dumps(tool, JSON_COMPACT)))
                return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
            r->n_tools = (int)i + 1;
        }
    }
    if (parse_tool_choice(root, r, e)) return -1;
    for (int i = 0; i < r->n_tools; i++) {
        json_t *tool = json_array_get(tools, (size_t)i);
        bool forced = r->tool_choice == FT_TOOL_CHOICE_REQUIRED ||
                      (r->tool_choice == FT_TOOL_CHOICE_FUNCTION &&
                       strcmp(json_string_value(json_object_get(json_object_get(tool, "function"), "name")),
                              r->tool_function) == 0);
        if (forced && check_constrainable(tool, i, e)) return -1;
    }
    bool forced = r->tool_choice == FT_TOOL_CHOICE_REQUIRED || r->tool_choice == FT_TOOL_CHOICE_FUNCTION;
    json_t *rf = json_object_get(root, "response_format"), *rft = json_object_get(rf, "type");
    if (forced && json_is_string(rft) && strcmp(json_string_value(rft), "text") != 0)
        return api_bad_param(e, "tool_choice", "a forced tool call cannot be combined with a 'response_format' of "
                                               "type '%s': both constrain the reply.", json_string_value(rft));
    if (r->n_tools > 0 && r->tool_choice != FT_TOOL_CHOICE_NONE && json_is_true(json_object_get(root, "stream")) &&
        json_is_true(json_object_get(root, "logprobs")))
        return api_fail(e, 400, "invalid_request_error", "logprobs", "unsupported_parameter",
                        "logprobs are not supported by this server when streaming with tools (the text of a reply "
                        "is held back until it is known whether it is a tool call).");
    return 0;
}

/* One assistant message's tool_calls: [{"id", "type": "function", "function": {"name", "arguments"}}]. */
static int parse_calls(json_t *calls, size_t index, FtToolCall *out, ApiError *e) {
    static const char *const CALL_FIELDS[] = {"id", "type", "function"};
    static const char *const FN_FIELDS[] = {"name", "arguments"};
    char param[96];
    for (size_t j = 0; j < json_array_size(calls); j++) {
        json_t *c = json_array_get(calls, j), *fn = json_object_get(c, "function");
        ApiError fe = {0};
        snprintf(param, sizeof param, "messages[%zu].tool_calls[%zu]", index, j);
        if (!json_is_object(c)) return api_bad_param(e, param, "expected an object.");
        if (api_check_fields(c, CALL_FIELDS, 3, &fe)) return api_bad_param(e, param, "%s", fe.message);
        json_t *type = json_object_get(c, "type"), *id = json_object_get(c, "id");
        if (!json_is_string(id)) return api_bad_param(e, param, "expected a string 'id'.");
        if (!json_is_string(type) || strcmp(json_string_value(type), "function") != 0)
            return api_bad_param(e, param, "expected 'type': 'function'.");
        snprintf(param, sizeof param, "messages[%zu].tool_calls[%zu].function", index, j);
        if (!json_is_object(fn)) return api_bad_param(e, param, "expected an object with 'name' and 'arguments'.");
        if (api_check_fields(fn, FN_FIELDS, 2, &fe)) return api_bad_param(e, param, "%s", fe.message);
        json_t *name = json_object_get(fn, "name"), *args = json_object_get(fn, "arguments");
        if (!json_is_string(name) || json_string_length(name) == 0 ||
            strlen(json_string_value(name)) != json_string_length(name))
            return api_bad_param(e, param, "expected a non-empty string 'name'.");
        if (!json_is_string(args) || strlen(json_string_value(args)) != json_string_length(args))
            return api_bad_param(e, param, "expected 'arguments' as a string (JSON text).");
        out[j] = (FtToolCall){json_string_value(name), json_string_value(args)};
    }
    return 0;
}

/* Is id the id of a call of an assistant message before message i? */
static bool answers_a_call(json_t *msgs, size_t i, const char *id) {
    for (size_t k = 0; k < i; k++) {
        json_t *calls = json_object_get(json_array_get(msgs, k), "tool_calls");
        for (size_t j = 0; j < json_array_size(calls); j++)
            if (strcmp(json_string_value(json_object_get(json_array_get(calls, j), "id")), id) == 0) return true;
    }
    return false;
}

int chat_request_parse_message_tools(json_t *msgs, ChatRequest *r, ApiError *e) {
    size_t total = 0;
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        json_t *calls = json_object_get(json_array_get(msgs, i), "tool_calls");
        total += json_is_array(calls) ? json_array_size(calls) : 0;
    }
    if (total && !(r->tool_calls = calloc(total, sizeof *r->tool_calls)))
        return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    size_t at = 0;
    char param[64];
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i), *calls = json_object_get(m, "tool_calls");
        const char *role = r->msgs[i].role;
        snprintf(param, sizeof param, "messages[%zu].tool_calls", i);
        if (calls && !json_is_null(calls)) {
            if (strcmp(role, "assistant") != 0) return api_bad_param(e, param, "only assistant messages have tool calls.");
            if (!json_is_array(calls)) return api_bad_param(e, param, "expected an array.");
            if (parse_calls(calls, i, r->tool_calls + at, e)) return -1;
            r->msgs[i].tool_calls = json_array_size(calls) ? r->tool_calls + at : NULL;
            r->msgs[i].n_tool_calls = (int)json_array_size(calls);
            at += json_array_size(calls);
        }
        json_t *id = json_object_get(m, "tool_call_id");
        snprintf(param, sizeof param, "messages[%zu].tool_call_id", i);
        if (strcmp(role, "tool") != 0) continue;
        if (!json_is_string(id))
            return api_fail(e, 400, "invalid_request_error", param, !id ? "missing_required_parameter" : NULL,
                            "A tool message needs a string 'tool_call_id' (the id of the call it answers).");
        if (!answers_a_call(msgs, i, json_string_value(id)))
            return api_bad_param(e, param, "'%.64s' is the id of no tool call of an earlier assistant message: a tool "
                                           "message answers a call.", json_string_value(id));
    }
    return 0;
}
