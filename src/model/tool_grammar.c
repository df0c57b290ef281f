/* tool_grammar.c: tool-call grammars (see tool_grammar.h). The calls' object is one JSON Schema
 * (anyOf over the allowed functions, each {name: const, arguments: parameters}, the tools' $defs
 * gathered at its root) compiled by json_schema.c; the markers and the repetition are rules added
 * to that grammar. */
#include "tool_grammar.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "json_schema.h"

/* The function object of tool i, or NULL with err set. */
static json_t *tool_function(json_t *tool, int i, Err *err) {
    json_t *type = json_object_get(tool, "type"), *fn = json_object_get(tool, "function");
    if (!json_is_object(tool) || !json_is_string(type) || strcmp(json_string_value(type), "function") != 0 ||
        !json_is_object(fn) || !json_is_string(json_object_get(fn, "name"))) {
        err_set(err, ERR_ARG, "tool %d is not {\"type\": \"function\", \"function\": {\"name\": ...}}", i);
        return NULL;
    }
    return fn;
}

/* {"type": "object", "properties": {NAME_KEY: {"const": name}, ARGS_KEY: params}, ...} of one
 * function; its $defs move to defs. */
static json_t *call_schema(const ToolSyntax *syn, json_t *fn, json_t *defs, int i, Err *err) {
    const char *name = json_string_value(json_object_get(fn, "name"));
    json_t *params = json_object_get(fn, "parameters");
    json_t *p = json_is_object(params) ? json_deep_copy(params)
                                       : json_pack("{s:s, s:{}, s:b}", "type", "object", "properties",
                                                   "additionalProperties", 0);
    if (!p) {
        err_set(err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    json_t *d = json_object_get(p, "$defs");
    if (json_is_object(d)) {
        const char *k;
        json_t *v;
        json_object_foreach(d, k, v) {
            json_t *have = json_object_get(defs, k);
            if (have && !json_equal(have, v)) {
                json_decref(p);
                err_set(err, ERR_ARG, "tool %d (%s): $defs/%s differs from another tool's", i, name, k);
                return NULL;
            }
            json_object_set(defs, k, v);
        }
        json_object_del(p, "$defs");
    }
    json_t *props = json_object();
    json_object_set_new(props, syn->name_key, json_pack("{s:s}", "const", name));
    json_object_set_new(props, syn->args_key, p);
    return json_pack("{s:s, s:o, s:[s, s], s:b}", "type", "object", "properties", props, "required", syn->name_key,
                     syn->args_key, "additionalProperties", 0);
}

/* Checks one function's parameters alone, so that an error names the tool and a path inside it. */
static int check_parameters(json_t *fn, int i, Err *err) {
    json_t *params = json_object_get(fn, "parameters");
    if (!params || json_is_null(params)) return 0;
    const char *name = json_string_value(json_object_get(fn, "name"));
    if (!json_is_object(params)) return err_set(err, ERR_ARG, "tool %d (%s): parameters is not an object", i, name);
    char *text = json_dumps(params, JSON_COMPACT);
    if (!text) return err_set(err, ERR_NOMEM, "out of memory");
    Grammar g;
    Err e = {0};
    int rc = json_schema_compile(text, strlen(text), false, &g, &e);
    grammar_free(&g);
    free(text);
    if (rc) return err_set(err, e.code, "tool %d (%s): %s", i, name, e.msg);
    return 0;
}

static int build_schema(const ToolSyntax *syn, const char *const *tools, int n_tools, const char *function,
                        char **text, Err *err) {
    json_t *any = json_array(), *defs = json_object();
    int rc = -1;
    for (int i = 0; i < n_tools; i++) {
        json_error_t je;
        json_t *tool = json_loads(tools[i], 0, &je);
        if (!tool) {
            err_set(err, ERR_ARG, "tool %d is not valid JSON: %s", i, je.text);
            goto done;
        }
        json_t *fn = tool_function(tool, i, err), *call = NULL;
        bool wanted = fn && (!function || strcmp(json_string_value(json_object_get(fn, "name")), function) == 0);
        if (wanted && !check_parameters(fn, i, err)) call = call_schema(syn, fn, defs, i, err);
        json_decref(tool);
        if (!fn || (wanted && !call)) goto done;
        if (call) json_array_append_new(any, call);
    }
    if (json_array_size(any) == 0) {
        err_set(err, ERR_ARG, function ? "no tool is the function '%s'" : "no tools%s", function ? function : "");
        goto done;
    }
    json_t *root = json_pack("{s:O}", "anyOf", any);
    if (json_object_size(defs)) json_object_set(root, "$defs", defs);
    *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    rc = *text ? 0 : err_set(err, ERR_NOMEM, "out of memory");
done:
    json_decref(any);
    json_decref(defs);
    return rc;
}

int tool_grammar_compile(const ToolSyntax *syn, const char *const *tools, int n_tools, const char *function,
                         bool parallel, Grammar *out, Err *err) {
    grammar_init(out);
    if (n_tools < 1 || n_tools > TOOL_GRAMMAR_MAX_TOOLS)
        return err_set(err, ERR_ARG, "%d tools: between 1 and %d are allowed", n_tools, TOOL_GRAMMAR_MAX_TOOLS);
    char *schema = NULL;
    if (build_schema(syn, tools, n_tools, function, &schema, err)) return -1;
    int rc = json_schema_compile(schema, strlen(schema), false, out, err);
    free(schema);
    if (rc) return -1;
    /* call ::= open object close;  calls ::= call | call sep calls. A syntax without a separator
     * (Llama's bare call) has one call per reply and no markers: the object is the reply. */
    if (!syn->sep) return grammar_check(out, err);
    GBody b = {0};
    int object = out->root, call = grammar_declare(out, "tool call", err), calls = -1;
    if (call < 0 || gbody_bytes(out, &b, syn->open, strlen(syn->open), err) || gbody_ref(&b, object, err) ||
        gbody_bytes(out, &b, syn->close, strlen(syn->close), err) || grammar_define(out, call, &b, err))
        goto fail;
    if (parallel) {
        calls = grammar_declare(out, "tool calls", err);
        if (calls < 0 || gbody_ref(&b, call, err) || gbody_alt(&b, err) || gbody_ref(&b, call, err) ||
            gbody_bytes(out, &b, syn->sep, strlen(syn->sep), err) || gbody_ref(&b, calls, err) ||
            grammar_define(out, calls, &b, err))
            goto fail;
    }
    out->root = parallel ? calls : call;
    gbody_free(&b);
    return grammar_check(out, err);
fail:
    gbody_free(&b);
    return -1;
}
