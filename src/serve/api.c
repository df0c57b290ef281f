/* api.c: errors, JSON responses, typed field reads and the API shapes of stored records (see
 * api.h). Shapes follow ../shared/spec/openai-api-facts.md: every documented field is present,
 * null where the API allows it. */
#include "api.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/utf8_check.h"

int api_fail(ApiError *e, int status, const char *type, const char *param, const char *code, const char *fmt, ...) {
    if (!e) return -1;
    e->status = status;
    e->type = type;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    snprintf(e->code, sizeof e->code, "%s", code ? code : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

int api_bad_param(ApiError *e, const char *param, const char *fmt, ...) {
    char detail[API_MESSAGE_MAX - 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return api_fail(e, 400, "invalid_request_error", param, "invalid_value", "Invalid value for '%s': %s", param,
                    detail);
}

int api_missing_param(ApiError *e, const char *param) {
    return api_fail(e, 400, "invalid_request_error", param, "missing_required_parameter",
                    "Missing required parameter: '%s'.", param);
}

static json_t *string_or_null(const char *s) { return s && s[0] ? json_string(s) : json_null(); }

/* s as a JSON string whatever its bytes: an id from a URL or a name cut mid-character may hold
 * invalid UTF-8, which JSON cannot carry: such bytes become U+FFFD. */
static json_t *text_json(const char *s) {
    size_t n;
    char *fixed = utf8_repair(s, strlen(s), &n);
    json_t *j = fixed ? json_stringn(fixed, n) : NULL;
    free(fixed);
    return j ? j : json_string("");
}

static json_t *text_or_null(const char *s) { return s && s[0] ? text_json(s) : json_null(); }

char *api_error_json(const ApiError *e, size_t *len) {
    json_t *err = json_pack("{s:o, s:s, s:o, s:o}", "message", text_json(e->message), "type",
                            e->type ? e->type : "invalid_request_error", "param", text_or_null(e->param), "code",
                            text_or_null(e->code));
    json_t *root = err ? json_pack("{s:o}", "error", err) : NULL;
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!text) /* out of memory: still a valid OpenAI-shaped body */
        text = strdup("{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,"
                      "\"code\":null}}");
    if (len) *len = text ? strlen(text) : 0;
    return text;
}

void api_json(Ctx *c, int status, json_t *obj) {
    char *text = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(obj);
    if (!text) {
        api_errorf(c, 500, "server_error", NULL, NULL, "the response could not be encoded");
        return;
    }
    http_respond(c->res, status, "application/json", text, strlen(text));
}

void api_error(Ctx *c, const ApiError *e) {
    size_t len;
    char *text = api_error_json(e, &len);
    http_respond(c->res, e->status, "application/json", text, len);
}

void api_errorf(Ctx *c, int status, const char *type, const char *param, const char *code, const char *fmt, ...) {
    ApiError e = {.status = status, .type = type};
    snprintf(e.param, sizeof e.param, "%s", param ? param : "");
    snprintf(e.code, sizeof e.code, "%s", code ? code : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    api_error(c, &e);
}

bool api_visible(const Ctx *c, const char *owner) { return !owner[0] || strcmp(owner, c->project) == 0; }

void api_note_cause(Ctx *c, const char *what, const Err *err) {
    snprintf(c->req->cause, sizeof c->req->cause, "%s: %s", what, err && err->msg[0] ? err->msg : "internal error");
}

void api_server_error(Ctx *c, const char *what, const Err *err) {
    api_note_cause(c, what, err);
    api_errorf(c, 500, "server_error", NULL, NULL,
               "%s: the server had an error while processing your request (request id %s; its log has the cause).",
               what, c->req->request_id);
}

json_t *api_parse_object(const char *body, size_t len, ApiError *e) {
    if (!body || len == 0) {
        api_fail(e, 400, "invalid_request_error", NULL, NULL,
                 "We could not parse the JSON body of your request: the body is empty. (HINT: send a JSON object "
                 "with Content-Type: application/json.)");
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        api_fail(e, 400, "invalid_request_error", NULL, NULL,
                 "We could not parse the JSON body of your request: %s at line %d, column %d.", je.text, je.line,
                 je.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        api_fail(e, 400, "invalid_request_error", NULL, NULL,
                 "The request body must be a JSON object.");
        return NULL;
    }
    return root;
}

static const char *json_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

int api_field_string(json_t *obj, const char *key, bool null_ok, const char **out, ApiError *e) {
    json_t *v = json_object_get(obj, key);
    if (!v || (null_ok && json_is_null(v))) return 1;
    if (!json_is_string(v)) return api_bad_param(e, key, "expected a string, but got %s instead.", json_type_name(v));
    *out = json_string_value(v);
    return 0;
}

int api_field_int(json_t *obj, const char *key, long long min, long long max, long long *out, ApiError *e) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return 1;
    long long x;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) && fabs(json_real_value(v)) < 9e18) {
        x = (long long)json_real_value(v);
    } else {
        return api_bad_param(e, key, "expected an integer, but got %s instead.", json_type_name(v));
    }
    if (x < min || x > max) return api_bad_param(e, key, "%lld is out of range: expected %lld to %lld.", x, min, max);
    *out = x;
    return 0;
}

int api_field_number(json_t *obj, const char *key, double min, double max, double *out, ApiError *e) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return 1;
    if (!json_is_number(v)) return api_bad_param(e, key, "expected a number, but got %s instead.", json_type_name(v));
    double x = json_number_value(v);
    if (!(x >= min && x <= max)) return api_bad_param(e, key, "%g is out of range: expected %g to %g.", x, min, max);
    *out = x;
    return 0;
}

int api_check_fields_at(json_t *obj, const char *at, const char *const *fields, size_t n, ApiError *e) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++) known = strcmp(key, fields[i]) == 0;
        if (known) continue;
        char param[160];
        snprintf(param, sizeof param, "%s%s%s", at ? at : "", at && *at ? "." : "", key);
        return api_fail(e, 400, "invalid_request_error", param, "unknown_parameter",
                        "Unrecognized request argument supplied: %s", param);
    }
    return 0;
}

int api_check_fields(json_t *obj, const char *const *fields, size_t n, ApiError *e) {
    return api_check_fields_at(obj, NULL, fields, n, e);
}

int api_refuse_unless_neutral(json_t *obj, const char *key, const char *const *neutral, int n_neutral, const char *why,
                              ApiError *e) {
    json_t *v = json_object_get(obj, key);
    bool ok = !v || json_is_null(v) || json_is_false(v) || (json_is_number(v) && json_number_value(v) == 0) ||
              (json_is_array(v) && json_array_size(v) == 0) || (json_is_object(v) && json_object_size(v) == 0);
    for (int i = 0; i < n_neutral && !ok && json_is_string(v); i++) ok = strcmp(json_string_value(v), neutral[i]) == 0;
    if (ok) return 0;
    return api_fail(e, 400, "invalid_request_error", key, "unsupported_parameter", "%s is not supported by this server%s.",
                    key, why);
}

int api_check_metadata(json_t *md, const char *param, ApiError *e) {
    if (!md || json_is_null(md)) return 0;
    if (!json_is_object(md)) return api_bad_param(e, param, "expected an object of string values.");
    if (json_object_size(md) > API_METADATA_PAIRS)
        return api_bad_param(e, param, "at most %d key-value pairs are allowed.", API_METADATA_PAIRS);
    const char *key;
    json_t *v;
    json_object_foreach(md, key, v) {
        if (strlen(key) > API_METADATA_KEY_MAX)
            return api_bad_param(e, param, "keys are at most %d characters.", API_METADATA_KEY_MAX);
        if (!json_is_string(v) || json_string_length(v) > API_METADATA_VALUE_MAX)
            return api_bad_param(e, param, "values must be strings of at most %d characters.", API_METADATA_VALUE_MAX);
    }
    return 0;
}

int api_field_bool(json_t *obj, const char *key, bool *out, ApiError *e) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return 1;
    if (!json_is_boolean(v)) return api_bad_param(e, key, "expected a boolean, but got %s instead.", json_type_name(v));
    *out = json_is_true(v);
    return 0;
}

int api_query_limit(const HttpRequest *req, int def, int max, int *out, ApiError *e) {
    const char *s = http_query(req, "limit");
    *out = def;
    if (!s) return 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > max)
        return api_bad_param(e, "limit", "expected an integer from 1 to %d, got '%.40s'.", max, s);
    *out = (int)v;
    return 0;
}

typedef struct {
    const char *const *allowed;
    int n;
    char unknown[128];
} QueryCheck;

static void check_query_key(void *user, const char *key, const char *value) {
    (void)value;
    QueryCheck *q = user;
    if (q->unknown[0]) return;
    for (int i = 0; i < q->n; i++) {
        size_t len = strlen(q->allowed[i]);
        bool prefix = len && q->allowed[i][len - 1] == '[';
        if (prefix ? strncmp(key, q->allowed[i], len) == 0 : strcmp(key, q->allowed[i]) == 0) return;
    }
    snprintf(q->unknown, sizeof q->unknown, "%s", key[0] ? key : "(empty)");
}

bool api_query_refused(Ctx *c, const char *const *allowed, int n) {
    QueryCheck q = {allowed, n, ""};
    http_query_each(c->req, check_query_key, &q);
    if (!q.unknown[0]) return false;
    api_errorf(c, 400, "invalid_request_error", q.unknown, "unknown_parameter",
               "Unrecognized query parameter: %s", q.unknown);
    return true;
}

bool api_list_failed(Ctx *c, int rc, const char *after, const char *what, const Err *err) {
    if (rc == STORE_NOT_FOUND) {
        api_errorf(c, 400, "invalid_request_error", "after", NULL, "No such item in %s: %s", what, after);
    } else if (rc) {
        char msg[96];
        snprintf(msg, sizeof msg, "the %s could not be listed", what);
        api_server_error(c, msg, err);
    }
    return rc != 0;
}

json_t *api_list(json_t *data, bool has_more) {
    return json_pack("{s:s, s:o, s:b}", "object", "list", "data", data, "has_more", has_more);
}

json_t *api_file_json(const FileRecord *f) {
    return json_pack("{s:s, s:s, s:I, s:I, s:o, s:s, s:s, s:s, s:n}", "id", f->id, "object", "file", "bytes",
                     (json_int_t)f->bytes, "created_at", (json_int_t)f->created_at, "expires_at",
                     f->expires_at ? json_integer(f->expires_at) : json_null(), "filename",
                     f->filename, "purpose", f->purpose, "status", "processed", "status_details");
}

/* A hyperparameter stored as text: "auto" stays a string, numbers become numbers. */
static json_t *hyper_value(const char *text, bool integer) {
    if (!text[0] || strcmp(text, "auto") == 0) return json_string("auto");
    return integer ? json_integer(strtoll(text, NULL, 10)) : json_real(strtod(text, NULL));
}

static json_t *optional_time(long long t) { return t > 0 ? json_integer(t) : json_null(); }

json_t *api_job_json(const JobRecord *j) {
    json_t *hp = json_pack("{s:o, s:o, s:o}", "n_epochs", hyper_value(j->n_epochs, true), "batch_size",
                           hyper_value(j->batch_size, true), "learning_rate_multiplier",
                           hyper_value(j->lr_multiplier, false));
    /* a DPO job shows its hyperparameters (with beta) under method.dpo only, the top-level
     * (deprecated) object being null, as OpenAI's DPO jobs do */
    bool dpo = strcmp(j->method, "dpo") == 0;
    if (dpo) json_object_set_new(hp, "beta", hyper_value(j->beta, false));
    json_t *method = json_pack("{s:s, s:{s:O}}", "type", dpo ? "dpo" : "supervised", dpo ? "dpo" : "supervised",
                               "hyperparameters", hp);
    json_t *error = json_pack("{s:o, s:o, s:o}", "code", string_or_null(j->error_code), "message",
                              j->error_code[0] ? json_string(j->error_message) : json_null(), "param",
                              string_or_null(j->error_param));
    json_t *metadata = j->metadata[0] ? json_loads(j->metadata, 0, NULL) : NULL;
    json_t *results = json_array();
    if (j->result_file[0]) json_array_append_new(results, json_string(j->result_file));
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(j->id));
    json_object_set_new(o, "object", json_string("fine_tuning.job"));
    json_object_set_new(o, "created_at", json_integer(j->created_at));
    json_object_set_new(o, "error", error);
    json_object_set_new(o, "fine_tuned_model", string_or_null(j->fine_tuned_model));
    json_object_set_new(o, "finished_at", optional_time(j->finished_at));
    if (dpo) json_decref(hp);
    json_object_set_new(o, "hyperparameters", dpo ? json_null() : hp);
    json_object_set_new(o, "model", json_string(j->model));
    json_object_set_new(o, "organization_id", json_string(API_ORG_ID));
    json_object_set_new(o, "result_files", results);
    json_object_set_new(o, "status", json_string(j->status));
    json_object_set_new(o, "trained_tokens", j->trained_tokens >= 0 ? json_integer(j->trained_tokens) : json_null());
    json_object_set_new(o, "training_file", json_string(j->training_file));
    json_object_set_new(o, "validation_file", string_or_null(j->validation_file));
    json_object_set_new(o, "seed", json_integer(j->seed));
    json_object_set_new(o, "estimated_finish", optional_time(j->estimated_finish));
    json_object_set_new(o, "integrations", json_null());
    json_object_set_new(o, "metadata", metadata ? metadata : json_null());
    json_object_set_new(o, "method", method);
    json_object_set_new(o, "user_provided_suffix", string_or_null(j->suffix));
    json_object_set_new(o, "usage_metrics", json_null());
    json_object_set_new(o, "shared_with_openai", json_false());
    return o;
}

json_t *api_event_json(const EventRecord *e) {
    json_t *data = e->data[0] ? json_loads(e->data, 0, NULL) : NULL;
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:o}", "id", e->id, "object", "fine_tuning.job.event",
                     "created_at", (json_int_t)e->created_at, "level", e->level, "message", e->message, "type",
                     e->type, "data", data ? data : json_null());
}

json_t *api_checkpoint_json(const CheckpointRecord *k) {
    json_t *metrics = k->metrics[0] ? json_loads(k->metrics, 0, NULL) : NULL;
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:o}", "id", k->id, "object", "fine_tuning.job.checkpoint",
                     "created_at", (json_int_t)k->created_at, "fine_tuned_model_checkpoint", k->model,
                     "fine_tuning_job_id", k->job_id, "step_number", (json_int_t)k->step, "metrics",
                     metrics ? metrics : json_object());
}
