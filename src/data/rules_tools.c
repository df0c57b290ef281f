/* rules_tools.c: the rules for tool definitions (tools, the legacy functions), an assistant's
 * tool calls and legacy function call: shapes, function names, unique call ids, JSON arguments,
 * and parallel_tool_calls. Which tool message answers which call is checked in dataset_rules.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_internal.h"

static const char *const KEYS_TOOL_CALL[] = {"id", "type", "function", NULL};
static const char *const KEYS_CALLED_FUNCTION[] = {"name", "arguments", NULL};
static const char *const KEYS_TOOL_DEF[] = {"type", "function", NULL};
static const char *const KEYS_FUNCTION_DEF[] = {"name", "description", "parameters", "strict", NULL};

/* --- tools and functions (definitions) --- */

/* A FunctionObject: {name, description?, parameters?, strict?}. Registers its name. */
static void check_function_def(RuleCtx *c, uint32_t fn, int index, const char *code) {
    ExampleRules *r = c->r;
    const JDoc *d = r->d;
    rule_check_keys(c, fn, KEYS_FUNCTION_DEF, "a function definition", KEYS_STRICT);
    uint32_t name = rule_get_string(c, fn, "name", code, "missing (a function needs a name)");
    if (name != JDOC_NONE) {
        size_t len;
        const char *s = jdoc_str(d, name, &len);
        char q[RULE_QUOTE_BUF];
        rule_push_key(r, "name");
        if (!rule_valid_function_name(s, len)) {
            rule_report(c, VALIDATE_ERROR, code,
                        "%s is not a valid function name (1 to %d letters, digits, '_' or '-')",
                        rule_quote_str(d, name, q), TOOL_NAME_MAX);
        } else {
            IdSlot *seen = rule_idset_find(r->tool_names, s, len);
            if (seen)
                rule_report(c, VALIDATE_ERROR, "duplicate_tool_name", "%s is already defined by tools[%d]",
                            rule_quote_str(d, name, q), seen->where);
            else if (rule_idset_add(r->tool_names, s, len, index, 0))
                c->nomem = true;
        }
        json_path_pop(&r->path);
    }
    rule_get_string(c, fn, "description", NULL, NULL);
    uint32_t params = jdoc_get(d, fn, "parameters");
    if (params != JDOC_NONE && jdoc_type(d, params) != JDOC_OBJECT) {
        rule_push_key(r, "parameters");
        rule_report(c, VALIDATE_ERROR, "invalid_type", "expected an object (a JSON Schema), got %s",
                    jdoc_type_phrase(jdoc_type(d, params)));
        json_path_pop(&r->path);
    }
    uint32_t strict = jdoc_get(d, fn, "strict");
    if (strict != JDOC_NONE && jdoc_type(d, strict) != JDOC_TRUE && jdoc_type(d, strict) != JDOC_FALSE &&
        jdoc_type(d, strict) != JDOC_NULL) {
        rule_push_key(r, "strict");
        rule_report(c, VALIDATE_ERROR, "invalid_type", "expected a boolean, got %s",
                    jdoc_type_phrase(jdoc_type(d, strict)));
        json_path_pop(&r->path);
    }
}

/* tools: [{type: "function", function: {...}}]; functions (deprecated): [{name, ...}]. */
void rule_check_tool_list(RuleCtx *c, uint32_t list, const char *key, bool legacy_functions) {
    ExampleRules *r = c->r;
    const JDoc *d = r->d;
    if (list == JDOC_NONE || jdoc_type(d, list) == JDOC_NULL) return;
    rule_push_key(r, key);
    if (jdoc_type(d, list) != JDOC_ARRAY) {
        rule_report(c, VALIDATE_ERROR, "invalid_type", "expected a list of %s, got %s",
                    legacy_functions ? "functions" : "tools", jdoc_type_phrase(jdoc_type(d, list)));
        json_path_pop(&r->path);
        return;
    }
    int i = 0;
    for (uint32_t t = jdoc_first(d, list); t != JDOC_NONE; t = jdoc_next(d, t), i++) {
        json_path_index(&r->path, i);
        if (jdoc_type(d, t) != JDOC_OBJECT) {
            rule_report(c, VALIDATE_ERROR, "invalid_tool", "expected %s object, got %s",
                        legacy_functions ? "a function" : "a tool", jdoc_type_phrase(jdoc_type(d, t)));
        } else if (legacy_functions) {
            check_function_def(c, t, i, "invalid_tool");
        } else {
            rule_check_keys(c, t, KEYS_TOOL_DEF, "a tool", KEYS_STRICT);
            uint32_t type = jdoc_get(d, t, "type");
            char q[RULE_QUOTE_BUF];
            rule_push_key(r, "type");
            if (type == JDOC_NONE)
                rule_report(c, VALIDATE_ERROR, "invalid_tool", "missing (must be \"function\")");
            else if (!jdoc_str_eq(d, type, "function"))
                rule_report(c, VALIDATE_ERROR, "invalid_tool", "must be \"function\", got %s",
                            rule_quote_value(d, type, q));
            json_path_pop(&r->path);
            uint32_t fn = jdoc_get(d, t, "function");
            rule_push_key(r, "function");
            if (fn == JDOC_NONE) {
                rule_report(c, VALIDATE_ERROR, "invalid_tool", "missing (a tool needs its function definition)");
            } else if (jdoc_type(d, fn) != JDOC_OBJECT) {
                rule_report(c, VALIDATE_ERROR, "invalid_type", "expected an object, got %s",
                            jdoc_type_phrase(jdoc_type(d, fn)));
            } else {
                check_function_def(c, fn, i, "invalid_tool");
            }
            json_path_pop(&r->path);
        }
        json_path_pop(&r->path);
    }
    json_path_pop(&r->path);
}

/* --- tool calls --- */

/* Warns when a call's arguments are not JSON text. */
static void check_arguments_json(RuleCtx *c, uint32_t args) {
    ExampleRules *r = c->r;
    size_t len;
    const char *s = jdoc_str(r->d, args, &len);
    if (len + 1 > r->args_cap) {
        char *b = realloc(r->args_buf, len + 1);
        if (!b) {
            c->nomem = true;
            return;
        }
        r->args_buf = b;
        r->args_cap = len + 1;
    }
    memcpy(r->args_buf, s, len);
    r->args_buf[len] = 0;
    int rc = jdoc_parse(&r->args_doc, r->args_buf, len);
    if (rc == JDOC_NOMEM)
        c->nomem = true;
    else if (rc != JDOC_OK)
        rule_report(c, VALIDATE_WARNING, "invalid_tool_arguments", "not valid JSON (%s at byte %zu)",
                    r->args_doc.err_msg, r->args_doc.err_pos);
}

/* The called function {name, arguments} of a tool call or a legacy function_call. */
void rule_check_called_function(RuleCtx *c, uint32_t fn, const char *code) {
    ExampleRules *r = c->r;
    const JDoc *d = r->d;
    rule_check_keys(c, fn, KEYS_CALLED_FUNCTION, "a called function", KEYS_STRICT);
    uint32_t name = rule_get_string(c, fn, "name", code, "missing (the name of the function called)");
    char q[RULE_QUOTE_BUF];
    if (name != JDOC_NONE) {
        size_t len;
        const char *s = jdoc_str(d, name, &len);
        rule_push_key(r, "name");
        if (!rule_valid_function_name(s, len))
            rule_report(c, VALIDATE_ERROR, code,
                        "%s is not a valid function name (1 to %d letters, digits, '_' or '-')",
                        rule_quote_str(d, name, q), TOOL_NAME_MAX);
        else if (r->tool_names->n > 0 && !rule_idset_find(r->tool_names, s, len))
            rule_report(c, VALIDATE_WARNING, "unknown_tool", "%s is not one of the tools defined in this example",
                        rule_quote_str(d, name, q));
        json_path_pop(&r->path);
    }
    uint32_t args = jdoc_get(d, fn, "arguments");
    rule_push_key(r, "arguments");
    if (args == JDOC_NONE)
        rule_report(c, VALIDATE_ERROR, code, "missing (the arguments as JSON text, e.g. \"{}\")");
    else if (jdoc_type(d, args) != JDOC_STRING)
        rule_report(c, VALIDATE_ERROR, "invalid_type", "expected a string (the arguments as JSON text), got %s",
                    jdoc_type_phrase(jdoc_type(d, args)));
    else
        check_arguments_json(c, args);
    json_path_pop(&r->path);
}

/* Returns the number of calls (0 for null or an invalid list). */
int rule_check_tool_calls(RuleCtx *c, uint32_t calls, int msg_index) {
    ExampleRules *r = c->r;
    const JDoc *d = r->d;
    rule_push_key(r, "tool_calls");
    int n = 0;
    if (jdoc_type(d, calls) != JDOC_ARRAY) {
        rule_report(c, VALIDATE_ERROR, "invalid_type", "expected a list of tool calls, got %s",
                    jdoc_type_phrase(jdoc_type(d, calls)));
        json_path_pop(&r->path);
        return 0;
    }
    n = (int)jdoc_size(d, calls);
    if (n == 0) rule_report(c, VALIDATE_WARNING, "empty_tool_calls", "empty list (leave tool_calls out instead)");
    if (n > 1 && r->parallel_off)
        rule_report(c, VALIDATE_ERROR, "parallel_tool_calls_disabled",
                    "%d calls in one message, but parallel_tool_calls is false", n);
    int j = 0;
    for (uint32_t call = jdoc_first(d, calls); call != JDOC_NONE; call = jdoc_next(d, call), j++) {
        json_path_index(&r->path, j);
        if (jdoc_type(d, call) != JDOC_OBJECT) {
            rule_report(c, VALIDATE_ERROR, "invalid_tool_call", "expected a tool call object, got %s",
                        jdoc_type_phrase(jdoc_type(d, call)));
            json_path_pop(&r->path);
            continue;
        }
        rule_check_keys(c, call, KEYS_TOOL_CALL, "a tool call", KEYS_STRICT);
        char q[RULE_QUOTE_BUF];
        uint32_t id =
            rule_get_string(c, call, "id", "invalid_tool_call", "missing (the id that the tool message answers)");
        if (id != JDOC_NONE) {
            size_t len;
            const char *s = jdoc_str(d, id, &len);
            rule_push_key(r, "id");
            IdSlot *seen = len ? rule_idset_find(r->call_ids, s, len) : NULL;
            if (len == 0)
                rule_report(c, VALIDATE_ERROR, "invalid_tool_call", "empty");
            else if (seen)
                rule_report(c, VALIDATE_ERROR, "duplicate_tool_call_id",
                            "%s is already used by messages[%d].tool_calls[%d]", rule_quote_str(d, id, q), seen->where,
                            seen->sub);
            else if (rule_idset_add(r->call_ids, s, len, msg_index, j))
                c->nomem = true;
            json_path_pop(&r->path);
        }
        uint32_t type = jdoc_get(d, call, "type");
        rule_push_key(r, "type");
        if (type == JDOC_NONE)
            rule_report(c, VALIDATE_ERROR, "invalid_tool_call", "missing (must be \"function\")");
        else if (!jdoc_str_eq(d, type, "function"))
            rule_report(c, VALIDATE_ERROR, "invalid_tool_call", "must be \"function\", got %s",
                        rule_quote_value(d, type, q));
        json_path_pop(&r->path);
        uint32_t fn = jdoc_get(d, call, "function");
        rule_push_key(r, "function");
        if (fn == JDOC_NONE)
            rule_report(c, VALIDATE_ERROR, "invalid_tool_call", "missing (the function called: name and arguments)");
        else if (jdoc_type(d, fn) != JDOC_OBJECT)
            rule_report(c, VALIDATE_ERROR, "invalid_type", "expected an object, got %s",
                        jdoc_type_phrase(jdoc_type(d, fn)));
        else
            rule_check_called_function(c, fn, "invalid_tool_call");
        json_path_pop(&r->path);
        json_path_pop(&r->path);
    }
    json_path_pop(&r->path);
    return n;
}
