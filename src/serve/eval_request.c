/* eval_request.c: the Evals API's and the graders endpoints' request bodies (see eval_request.h). */
#include "eval_request.h"

#include <stdio.h>
#include <string.h>

#include "../eval/eval_template.h"
#include "../eval/graders.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define PARAM_MAX 160

/* at.key into out (PARAM_MAX bytes; a longer path is cut). */
static void join(char *out, const char *at, const char *key) {
    if (snprintf(out, PARAM_MAX, "%s.%s", at, key) >= PARAM_MAX) out[PARAM_MAX - 1] = 0;
}

/* at[i] into out, as join. */
static void join_index(char *out, const char *at, size_t i) {
    if (snprintf(out, PARAM_MAX, "%s[%zu]", at, i) >= PARAM_MAX) out[PARAM_MAX - 1] = 0;
}

/* A string field at at.key: 0 present, 1 absent (or null), -1 wrong type (e filled). */
static int string_at(json_t *o, const char *at, const char *key, bool required, const char **out, ApiError *e) {
    char param[PARAM_MAX];
    join(param, at, key);
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return required ? api_missing_param(e, param) : 1;
    if (!json_is_string(v)) return api_bad_param(e, param, "expected a string.");
    *out = json_string_value(v);
    return 0;
}

/* A template at at.key: a string whose {{...}} references are well formed. */
static int template_at(json_t *o, const char *at, const char *key, ApiError *e) {
    const char *t = "";
    int rc = string_at(o, at, key, true, &t, e);
    if (rc) return -1;
    Err err = {0};
    if (eval_template_check(t, &err)) {
        char param[PARAM_MAX];
        join(param, at, key);
        return api_bad_param(e, param, "%s.", err.msg);
    }
    return 0;
}

static int unsupported(ApiError *e, const char *param, const char *fmt, const char *what) {
    char msg[API_MESSAGE_MAX - 64];
    snprintf(msg, sizeof msg, fmt, what);
    return api_fail(e, 400, "invalid_request_error", param, "unsupported_parameter", "%s", msg);
}

int eval_grader_check(json_t *g, const char *param, bool in_eval, ApiError *e) {
    if (!json_is_object(g)) return api_bad_param(e, param, "expected a grader object.");
    const char *type = "", *value = "";
    char p[PARAM_MAX];
    join(p, param, "type");
    if (string_at(g, param, "type", true, &type, e)) return -1;
    if (strcmp(type, "string_check") == 0) {
        static const char *const F[] = {"type", "name", "input", "reference", "operation"};
        StringCheckOp op;
        if (api_check_fields_at(g, param, F, N(F), e) || string_at(g, param, "name", true, &value, e) ||
            template_at(g, param, "input", e) || template_at(g, param, "reference", e) ||
            string_at(g, param, "operation", true, &value, e))
            return -1;
        join(p, param, "operation");
        if (grader_string_check_op(value, &op)) return api_bad_param(e, p, "'%s' is not one of eq, ne, like, ilike.", value);
        return 0;
    }
    if (strcmp(type, "text_similarity") == 0) {
        static const char *const F[] = {"type", "name", "input", "reference", "evaluation_metric", "pass_threshold"};
        SimilarityMetric m;
        if (api_check_fields_at(g, param, F, N(F), e) || string_at(g, param, "name", true, &value, e) ||
            template_at(g, param, "input", e) || template_at(g, param, "reference", e) ||
            string_at(g, param, "evaluation_metric", true, &value, e))
            return -1;
        join(p, param, "evaluation_metric");
        if (grader_similarity_metric(value, &m) && grader_similarity_metric_known(value))
            return unsupported(e, p, "evaluation_metric '%s' is not supported by this server (supported: fuzzy_match, "
                                     "bleu, rouge_1 to rouge_5, rouge_l).", value);
        if (grader_similarity_metric(value, &m))
            return api_bad_param(e, p, "'%s' is not an evaluation metric.", value);
        json_t *t = json_object_get(g, "pass_threshold");
        join(p, param, "pass_threshold");
        if (in_eval && !t) return api_missing_param(e, p);
        if (t && !json_is_number(t)) return api_bad_param(e, p, "expected a number.");
        return 0;
    }
    static const char *const MODEL_GRADERS[] = {"label_model", "score_model", "python", "multi"};
    for (size_t i = 0; i < N(MODEL_GRADERS); i++)
        if (strcmp(type, MODEL_GRADERS[i]) == 0)
            return unsupported(e, p, "'%s' graders are not supported by this server (supported: string_check, "
                                     "text_similarity).", type);
    return api_bad_param(e, p, "'%s' is not a grader type.", type);
}

static json_t *parse(const char *body, size_t len, const char *const *fields, size_t n, ApiError *e) {
    json_t *root = api_parse_object(body, len, e);
    if (root && api_check_fields(root, fields, n, e)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* name (a string, or absent) and metadata, copied into out. */
static int name_and_metadata(json_t *root, json_t *out, const char *default_name, ApiError *e) {
    json_t *name = json_object_get(root, "name"), *md = json_object_get(root, "metadata");
    if (name && !json_is_string(name) && !json_is_null(name)) return api_bad_param(e, "name", "expected a string.");
    if (api_check_metadata(md, "metadata", e)) return -1;
    if (default_name || json_is_string(name))
        json_object_set_new(out, "name", json_string(json_is_string(name) ? json_string_value(name) : default_name));
    if (default_name || (md && !json_is_null(md))) json_object_set_new(out, "metadata", md && !json_is_null(md) ? json_copy(md) : json_object());
    return 0;
}

/* The sample namespace's schema, as OpenAI shows it when include_sample_schema is true. */
static json_t *sample_schema(void) {
    return json_pack("{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}, s:[s]}", "type", "object", "properties",
                     "model", "type", "string", "output_text", "type", "string", "output_json", "type", "object",
                     "choices", "type", "array", "required", "output_text");
}

static int data_source_config(json_t *c, json_t **out, ApiError *e) {
    if (!c) return api_missing_param(e, "data_source_config");
    if (!json_is_object(c)) return api_bad_param(e, "data_source_config", "expected an object.");
    const char *type = "";
    if (string_at(c, "data_source_config", "type", true, &type, e)) return -1;
    if (strcmp(type, "logs") == 0 || strcmp(type, "stored_completions") == 0)
        return unsupported(e, "data_source_config.type",
                           "'%s' data sources are not supported by this server: it keeps no completion logs (use "
                           "'custom').", type);
    if (strcmp(type, "custom") != 0) return api_bad_param(e, "data_source_config.type", "'%s' is not a data source type.", type);
    static const char *const F[] = {"type", "item_schema", "include_sample_schema"};
    if (api_check_fields_at(c, "data_source_config", F, N(F), e)) return -1;
    json_t *schema = json_object_get(c, "item_schema"), *with_sample = json_object_get(c, "include_sample_schema");
    if (!schema) return api_missing_param(e, "data_source_config.item_schema");
    if (!json_is_object(schema)) return api_bad_param(e, "data_source_config.item_schema", "expected a JSON schema object.");
    if (with_sample && !json_is_boolean(with_sample))
        return api_bad_param(e, "data_source_config.include_sample_schema", "expected a boolean.");
    json_t *props = json_pack("{s:O}", "item", schema), *required = json_pack("[s]", "item");
    if (json_is_true(with_sample)) {
        json_object_set_new(props, "sample", sample_schema());
        json_array_append_new(required, json_string("sample"));
    }
    *out = json_pack("{s:s, s:{s:s, s:o, s:o}}", "type", "custom", "schema", "type", "object", "properties", props,
                     "required", required);
    return *out ? 0 : api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
}

int eval_create_parse(const char *body, size_t len, json_t **out, ApiError *e) {
    static const char *const F[] = {"name", "metadata", "data_source_config", "testing_criteria"};
    *out = NULL;
    json_t *root = parse(body, len, F, N(F), e);
    if (!root) return -1;
    json_t *res = json_object(), *config = NULL, *criteria = json_object_get(root, "testing_criteria");
    int rc = name_and_metadata(root, res, "", e);
    if (!rc) rc = data_source_config(json_object_get(root, "data_source_config"), &config, e);
    if (!rc && !criteria) rc = api_missing_param(e, "testing_criteria");
    if (!rc && (!json_is_array(criteria) || json_array_size(criteria) == 0 || json_array_size(criteria) > EVAL_MAX_CRITERIA))
        rc = api_bad_param(e, "testing_criteria", "expected an array of 1 to %d graders.", EVAL_MAX_CRITERIA);
    for (size_t i = 0; !rc && i < json_array_size(criteria); i++) {
        char param[PARAM_MAX];
        join_index(param, "testing_criteria", i);
        rc = eval_grader_check(json_array_get(criteria, i), param, true, e);
    }
    if (!rc) {
        json_object_set_new(res, "data_source_config", config);
        json_object_set(res, "testing_criteria", criteria);
        *out = res;
    } else {
        json_decref(config);
        json_decref(res);
    }
    json_decref(root);
    return rc;
}

int eval_update_parse(const char *body, size_t len, json_t **out, ApiError *e) {
    static const char *const F[] = {"name", "metadata"};
    json_t *root = parse(body, len, F, N(F), e);
    *out = NULL;
    if (!root) return -1;
    json_t *res = json_object();
    int rc = name_and_metadata(root, res, NULL, e);
    json_decref(root);
    if (rc) json_decref(res);
    else *out = res;
    return rc;
}

/* A jsonl source at param: file_content (rows of {"item": {...}, "sample": {...}}) or file_id. */
static int jsonl_source(json_t *s, const char *param, const char **file_id, ApiError *e) {
    if (!s) return api_missing_param(e, param);
    if (!json_is_object(s)) return api_bad_param(e, param, "expected an object.");
    const char *type = "";
    char p[PARAM_MAX];
    if (string_at(s, param, "type", true, &type, e)) return -1;
    join(p, param, "type");
    if (strcmp(type, "file_id") == 0) {
        static const char *const F[] = {"type", "id"};
        return api_check_fields_at(s, param, F, N(F), e) || string_at(s, param, "id", true, file_id, e) ? -1 : 0;
    }
    if (strcmp(type, "stored_completions") == 0)
        return unsupported(e, p, "'%s' sources are not supported by this server: it keeps no completion logs.", type);
    if (strcmp(type, "file_content") != 0) return api_bad_param(e, p, "'%s' is not a source type (file_content, file_id).", type);
    static const char *const F[] = {"type", "content"};
    if (api_check_fields_at(s, param, F, N(F), e)) return -1;
    json_t *content = json_object_get(s, "content");
    join(p, param, "content");
    if (!content) return api_missing_param(e, p);
    if (!json_is_array(content) || json_array_size(content) == 0 || json_array_size(content) > EVAL_MAX_INLINE_ITEMS)
        return api_bad_param(e, p, "expected an array of 1 to %d rows.", EVAL_MAX_INLINE_ITEMS);
    for (size_t i = 0; i < json_array_size(content); i++) {
        json_t *row = json_array_get(content, i);
        char at[PARAM_MAX];
        join_index(at, p, i);
        static const char *const R[] = {"item", "sample"};
        if (!json_is_object(row)) return api_bad_param(e, at, "expected an object with an item.");
        if (api_check_fields_at(row, at, R, N(R), e)) return -1;
        json_t *item = json_object_get(row, "item"), *sample = json_object_get(row, "sample");
        char q[PARAM_MAX];
        join(q, at, "item");
        if (!json_is_object(item)) return item ? api_bad_param(e, q, "expected an object.") : api_missing_param(e, q);
        join(q, at, "sample");
        if (sample && !json_is_object(sample) && !json_is_null(sample)) return api_bad_param(e, q, "expected an object.");
    }
    *file_id = "";
    return 0;
}

/* input_messages: a template of messages ({role, content} with string content, or EvalItem's
 * {type: message, role, content}) or an item_reference. */
static int input_messages(json_t *im, ApiError *e) {
    const char *P = "data_source.input_messages", *type = "";
    if (!im) return api_missing_param(e, P);
    if (!json_is_object(im)) return api_bad_param(e, P, "expected an object.");
    if (string_at(im, P, "type", true, &type, e)) return -1;
    if (strcmp(type, "item_reference") == 0) {
        static const char *const F[] = {"type", "item_reference"};
        const char *ref = "";
        if (api_check_fields_at(im, P, F, N(F), e) || string_at(im, P, "item_reference", true, &ref, e)) return -1;
        if (strncmp(ref, "item.", 5) != 0 || !ref[5])
            return api_bad_param(e, "data_source.input_messages.item_reference", "expected 'item.<field>', got '%s'.", ref);
        return 0;
    }
    if (strcmp(type, "template") != 0)
        return api_bad_param(e, "data_source.input_messages.type", "'%s' is not one of template, item_reference.", type);
    static const char *const F[] = {"type", "template"};
    if (api_check_fields_at(im, P, F, N(F), e)) return -1;
    json_t *t = json_object_get(im, "template");
    if (!t) return api_missing_param(e, "data_source.input_messages.template");
    if (!json_is_array(t) || json_array_size(t) == 0 || json_array_size(t) > EVAL_MAX_TEMPLATE_MESSAGES)
        return api_bad_param(e, "data_source.input_messages.template", "expected an array of 1 to %d messages.",
                             EVAL_MAX_TEMPLATE_MESSAGES);
    for (size_t i = 0; i < json_array_size(t); i++) {
        json_t *m = json_array_get(t, i);
        char at[PARAM_MAX];
        join_index(at, "data_source.input_messages.template", i);
        static const char *const M[] = {"type", "role", "content"};
        const char *role = "", *mtype = "";
        if (!json_is_object(m)) return api_bad_param(e, at, "expected a message object.");
        if (api_check_fields_at(m, at, M, N(M), e) || string_at(m, at, "role", true, &role, e)) return -1;
        int has_type = string_at(m, at, "type", false, &mtype, e);
        if (has_type < 0) return -1;
        char p[PARAM_MAX];
        join(p, at, "type");
        if (has_type == 0 && strcmp(mtype, "message") != 0) return api_bad_param(e, p, "expected 'message'.");
        join(p, at, "role");
        if (strcmp(role, "system") && strcmp(role, "developer") && strcmp(role, "user") && strcmp(role, "assistant"))
            return api_bad_param(e, p, "'%s' is not one of system, developer, user, assistant.", role);
        json_t *content = json_object_get(m, "content");
        join(p, at, "content");
        if (json_is_object(content)) /* EvalItem's input_text / output_text content */
            return unsupported(e, p, "%s as an object is not supported by this server: give the text as a string.", p);
        if (template_at(m, at, "content", e)) return -1;
    }
    return 0;
}

static int sampling_params(json_t *sp, ApiError *e) {
    const char *P = "data_source.sampling_params";
    if (!sp || json_is_null(sp)) return 0;
    if (!json_is_object(sp)) return api_bad_param(e, P, "expected an object.");
    static const char *const F[] = {"temperature", "top_p", "seed", "max_completion_tokens", "response_format",
                                    "tools", "reasoning_effort"};
    if (api_check_fields_at(sp, P, F, N(F), e)) return -1;
    json_t *v;
    if ((v = json_object_get(sp, "tools")) && !json_is_null(v) && !(json_is_array(v) && json_array_size(v) == 0))
        return unsupported(e, "data_source.sampling_params.tools", "%s are not supported by this server in eval runs "
                           "(the graders read the text of the answer).", "tools");
    if ((v = json_object_get(sp, "reasoning_effort")) && !json_is_null(v))
        return unsupported(e, "data_source.sampling_params.reasoning_effort",
                           "%s is not supported by this server: its models do not reason.", "reasoning_effort");
    /* the values themselves are checked by the chat completion parser each request goes through */
    return 0;
}

int eval_run_parse(const char *body, size_t len, json_t **out, const char **model, const char **file_id, ApiError *e) {
    static const char *const F[] = {"name", "metadata", "data_source"};
    *out = NULL;
    *model = NULL;
    *file_id = "";
    json_t *root = parse(body, len, F, N(F), e);
    if (!root) return -1;
    json_t *res = json_object(), *ds = json_object_get(root, "data_source");
    const char *type = NULL;
    int rc = name_and_metadata(root, res, "", e);
    if (!rc && !ds) rc = api_missing_param(e, "data_source");
    if (!rc && !json_is_object(ds)) rc = api_bad_param(e, "data_source", "expected an object.");
    if (!rc) rc = string_at(ds, "data_source", "type", true, &type, e) ? -1 : 0;
    if (!rc && strcmp(type, "jsonl") == 0) {
        static const char *const D[] = {"type", "source"};
        rc = api_check_fields_at(ds, "data_source", D, N(D), e) ||
                     jsonl_source(json_object_get(ds, "source"), "data_source.source", file_id, e)
                 ? -1
                 : 0;
    } else if (!rc && strcmp(type, "completions") == 0) {
        static const char *const D[] = {"type", "source", "input_messages", "sampling_params", "model"};
        rc = api_check_fields_at(ds, "data_source", D, N(D), e) ||
                     jsonl_source(json_object_get(ds, "source"), "data_source.source", file_id, e) ||
                     input_messages(json_object_get(ds, "input_messages"), e) ||
                     sampling_params(json_object_get(ds, "sampling_params"), e) ||
                     string_at(ds, "data_source", "model", true, model, e)
                 ? -1
                 : 0;
    } else if (!rc && strcmp(type, "responses") == 0) {
        rc = unsupported(e, "data_source.type", "'%s' run data sources are not supported by this server (use "
                                                "'completions').", type);
    } else if (!rc) {
        rc = api_bad_param(e, "data_source.type", "'%s' is not one of jsonl, completions.", type);
    }
    if (!rc) {
        json_object_set(res, "data_source", ds);
        *out = res;
        /* model and file_id point into ds, which res holds */
    } else {
        json_decref(res);
    }
    json_decref(root);
    return rc;
}

int eval_grader_run_parse(const char *body, size_t len, json_t **root, json_t **grader, json_t **item,
                          const char **model_sample, ApiError *e) {
    static const char *const F[] = {"grader", "item", "model_sample"};
    *root = parse(body, len, F, N(F), e);
    if (!*root) return -1;
    *grader = json_object_get(*root, "grader");
    *item = json_object_get(*root, "item");
    json_t *ms = json_object_get(*root, "model_sample");
    int rc = !*grader ? api_missing_param(e, "grader") : eval_grader_check(*grader, "grader", false, e);
    if (!rc && *item && !json_is_object(*item) && !json_is_null(*item)) rc = api_bad_param(e, "item", "expected an object.");
    if (!rc && !ms) rc = api_missing_param(e, "model_sample");
    if (!rc && !json_is_string(ms)) rc = api_bad_param(e, "model_sample", "expected a string.");
    if (!rc) *model_sample = json_string_value(ms);
    if (rc) {
        json_decref(*root);
        *root = NULL;
    }
    return rc;
}

int eval_grader_validate_parse(const char *body, size_t len, json_t **root, json_t **grader, ApiError *e) {
    static const char *const F[] = {"grader"};
    *root = parse(body, len, F, N(F), e);
    if (!*root) return -1;
    *grader = json_object_get(*root, "grader");
    int rc = !*grader ? api_missing_param(e, "grader") : eval_grader_check(*grader, "grader", false, e);
    if (rc) {
        json_decref(*root);
        *root = NULL;
    }
    return rc;
}
