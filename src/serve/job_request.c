/* job_request.c: the body of POST /v1/fine_tuning/jobs (see requests.h). Hyperparameter ranges
 * are checked by the same function that resolves them when the job runs (hyperparams.h). The
 * method object is OpenAI's current form ("supervised", or "dpo" with its beta); the deprecated
 * top-level hyperparameters are accepted alone, or beside method when both say the same.
 * "reinforcement" is refused by name (no grader runs here). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../train/hyperparams.h"
#include "requests.h"

static const char *const JOB_FIELDS[] = {"model", "training_file", "validation_file", "suffix", "seed",
                                         "hyperparameters", "method", "metadata", "integrations"};
static const char *const HYPER_NAMES[] = {"n_epochs", "batch_size", "learning_rate_multiplier"};

/* One hyperparameter: "auto" or a number, written to text; its range is checked by resolving it. */
static int parse_hyper(json_t *hp, int which, const char *prefix, char *text, size_t cap, ApiError *e) {
    const char *name = HYPER_NAMES[which];
    char param[96];
    snprintf(param, sizeof param, "%s.%s", prefix, name);
    json_t *v = json_object_get(hp, name);
    snprintf(text, cap, "auto");
    if (!v || json_is_null(v) || (json_is_string(v) && strcmp(json_string_value(v), "auto") == 0)) return 0;
    if (which < 2 && json_is_integer(v))
        snprintf(text, cap, "%lld", (long long)json_integer_value(v));
    else if (which == 2 && json_is_number(v))
        snprintf(text, cap, "%.17g", json_number_value(v));
    else
        return api_bad_param(e, param, "expected \"auto\" or %s.", which < 2 ? "an integer" : "a number");
    const char *args[3] = {NULL, NULL, NULL};
    args[which] = text;
    Hyperparams out;
    Err err = {0};
    if (hyperparams_resolve(1000, args[0], args[1], args[2], &out, &err)) return api_bad_param(e, param, "%s.", err.msg);
    return 0;
}

/* DPO's beta: "auto" or a number in (0, 2], written to job->beta. */
static int parse_beta(json_t *hp, const char *prefix, JobRecord *job, ApiError *e) {
    char param[96];
    snprintf(param, sizeof param, "%s.beta", prefix);
    json_t *v = json_object_get(hp, "beta");
    snprintf(job->beta, sizeof job->beta, "auto");
    if (!v || json_is_null(v) || (json_is_string(v) && strcmp(json_string_value(v), "auto") == 0)) return 0;
    if (!json_is_number(v)) return api_bad_param(e, param, "expected \"auto\" or a number.");
    snprintf(job->beta, sizeof job->beta, "%.17g", json_number_value(v));
    double beta;
    Err err = {0};
    if (hyperparams_resolve_beta(job->beta, &beta, &err)) return api_bad_param(e, param, "%s.", err.msg);
    return 0;
}

/* hp: a method's (or the top-level) hyperparameters; dpo: beta is one of them. */
static int parse_hyperparameters(json_t *hp, const char *prefix, bool dpo, JobRecord *job, ApiError *e) {
    if (dpo) snprintf(job->beta, sizeof job->beta, "auto");
    if (!hp || json_is_null(hp)) return 0;
    if (!json_is_object(hp)) return api_bad_param(e, prefix, "expected an object.");
    const char *key;
    json_t *v;
    json_object_foreach(hp, key, v) {
        if (strcmp(key, "n_epochs") && strcmp(key, "batch_size") && strcmp(key, "learning_rate_multiplier") &&
            (!dpo || strcmp(key, "beta")))
            return api_fail(e, 400, "invalid_request_error", prefix, "unknown_parameter",
                            "Unrecognized hyperparameter supplied: %s (expected n_epochs, batch_size, "
                            "learning_rate_multiplier%s)",
                            key, dpo ? ", beta" : "");
    }
    if (dpo && parse_beta(hp, prefix, job, e)) return -1;
    if (parse_hyper(hp, 0, prefix, job->n_epochs, sizeof job->n_epochs, e) ||
        parse_hyper(hp, 1, prefix, job->batch_size, sizeof job->batch_size, e) ||
        parse_hyper(hp, 2, prefix, job->lr_multiplier, sizeof job->lr_multiplier, e))
        return -1;
    return 0;
}

/* The deprecated top-level hyperparameters beside method: accepted when they say what
 * method.<type>.hyperparameters says (as already parsed into job), else a 400 naming the first
 * that differs. */
static int check_same_hyperparameters(json_t *legacy, const char *type, const JobRecord *job, ApiError *e) {
    JobRecord *old = calloc(1, sizeof *old);
    if (!old) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    int rc = parse_hyperparameters(legacy, "hyperparameters", false, old, e);
    const char *mine[3] = {old->n_epochs, old->batch_size, old->lr_multiplier};
    const char *theirs[3] = {job->n_epochs[0] ? job->n_epochs : "auto", job->batch_size[0] ? job->batch_size : "auto",
                             job->lr_multiplier[0] ? job->lr_multiplier : "auto"};
    for (int i = 0; i < 3 && !rc; i++)
        if (strcmp(mine[i], theirs[i]) != 0)
            rc = api_fail(e, 400, "invalid_request_error", "hyperparameters", "conflicting_parameters",
                          "hyperparameters.%s (%s) conflicts with method.%s.hyperparameters.%s (%s): pass "
                          "them once, in method.%s.hyperparameters (the top-level 'hyperparameters' is "
                          "deprecated).",
                          HYPER_NAMES[i], mine[i], type, HYPER_NAMES[i], theirs[i], type);
    free(old);
    return rc;
}

static int parse_method(json_t *root, JobRecord *job, ApiError *e) {
    json_t *method = json_object_get(root, "method"), *legacy = json_object_get(root, "hyperparameters");
    snprintf(job->method, sizeof job->method, "supervised");
    if (!method || json_is_null(method)) return parse_hyperparameters(legacy, "hyperparameters", false, job, e);
    if (!json_is_object(method)) return api_bad_param(e, "method", "expected an object.");
    json_t *type = json_object_get(method, "type");
    if (!json_is_string(type)) return api_bad_param(e, "method.type", "expected \"supervised\" or \"dpo\".");
    const char *t = json_string_value(type);
    if (strcmp(t, "reinforcement") == 0)
        return api_fail(e, 400, "invalid_request_error", "method.type", "unsupported_method",
                        "The reinforcement method is not supported by this server: use \"supervised\" or \"dpo\".");
    if (strcmp(t, "supervised") != 0 && strcmp(t, "dpo") != 0)
        return api_bad_param(e, "method.type", "expected \"supervised\" or \"dpo\".");
    bool dpo = strcmp(t, "dpo") == 0;
    snprintf(job->method, sizeof job->method, "%s", t);
    /* the other methods' sections beside the type would be ignored: refused by name */
    const char *key;
    json_t *v;
    json_object_foreach(method, key, v) {
        char param[96];
        snprintf(param, sizeof param, "method.%.80s", key);
        if (strcmp(key, "type") == 0 || strcmp(key, t) == 0) continue;
        if (strcmp(key, "supervised") != 0 && strcmp(key, "dpo") != 0 && strcmp(key, "reinforcement") != 0)
            return api_fail(e, 400, "invalid_request_error", param, "unknown_parameter",
                            "Unrecognized method argument supplied: %s (expected type and %s)", key, t);
        if (!json_is_null(v))
            return api_bad_param(e, param, "a '%s' section cannot be combined with type \"%s\".", key, t);
    }
    char section[32], prefix[64];
    snprintf(section, sizeof section, "method.%s", t);
    snprintf(prefix, sizeof prefix, "method.%s.hyperparameters", t);
    json_t *sub = json_object_get(method, t);
    if (dpo) snprintf(job->beta, sizeof job->beta, "auto");
    if (sub && !json_is_null(sub)) {
        if (!json_is_object(sub)) return api_bad_param(e, section, "expected an object.");
        json_object_foreach(sub, key, v) {
            if (strcmp(key, "hyperparameters") != 0)
                return api_fail(e, 400, "invalid_request_error", section, "unknown_parameter",
                                "Unrecognized argument supplied: %s.%.80s (expected hyperparameters)", section, key);
        }
        if (parse_hyperparameters(json_object_get(sub, "hyperparameters"), prefix, dpo, job, e)) return -1;
    }
    if (!legacy || json_is_null(legacy)) return 0;
    return check_same_hyperparameters(legacy, t, job, e);
}

static int parse_metadata(json_t *root, JobRecord *job, ApiError *e) {
    json_t *md = json_object_get(root, "metadata");
    job->metadata[0] = 0;
    if (!md || json_is_null(md)) return 0;
    if (api_check_metadata(md, "metadata", e)) return -1;
    char *text = json_dumps(md, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text || strlen(text) >= sizeof job->metadata) {
        free(text);
        return api_bad_param(e, "metadata", "too large.");
    }
    snprintf(job->metadata, sizeof job->metadata, "%s", text);
    free(text);
    return 0;
}

static int parse_suffix(json_t *root, JobRecord *job, ApiError *e) {
    const char *s;
    int rc = api_field_string(root, "suffix", true, &s, e);
    job->suffix[0] = 0;
    if (rc) return rc < 0 ? -1 : 0;
    size_t n = strlen(s);
    if (n < 1 || n > REQ_SUFFIX_MAX) return api_bad_param(e, "suffix", "expected 1 to %d characters.", REQ_SUFFIX_MAX);
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_' || ch == '.'))
            return api_bad_param(e, "suffix", "only letters, digits, '-', '_' and '.' are allowed.");
    }
    snprintf(job->suffix, sizeof job->suffix, "%s", s);
    return 0;
}

static int required_id(json_t *root, const char *key, char *out, size_t cap, ApiError *e) {
    const char *s;
    int rc = api_field_string(root, key, false, &s, e);
    if (rc < 0) return -1;
    if (rc > 0 || !s[0]) return api_missing_param(e, key);
    if (strlen(s) >= cap) return api_bad_param(e, key, "too long.");
    snprintf(out, cap, "%s", s);
    return 0;
}

int job_request_parse(const char *body, size_t len, JobRecord *job, ApiError *e) {
    memset(job, 0, sizeof *job);
    job->seed = -1;
    job->trained_tokens = -1;
    json_t *root = api_parse_object(body, len, e);
    if (!root) return -1;
    const char *vf = NULL;
    long long seed = -1;
    int rc = api_check_fields(root, JOB_FIELDS, sizeof JOB_FIELDS / sizeof JOB_FIELDS[0], e);
    if (!rc) rc = required_id(root, "model", job->model, sizeof job->model, e);
    if (!rc) rc = required_id(root, "training_file", job->training_file, sizeof job->training_file, e);
    if (!rc && api_field_string(root, "validation_file", true, &vf, e) < 0) rc = -1;
    if (!rc && vf) {
        if (strlen(vf) >= sizeof job->validation_file) rc = api_bad_param(e, "validation_file", "too long.");
        else snprintf(job->validation_file, sizeof job->validation_file, "%s", vf);
    }
    if (!rc) rc = parse_suffix(root, job, e);
    if (!rc && api_field_int(root, "seed", 0, 2147483647, &seed, e) < 0) rc = -1;
    job->seed = seed;
    if (!rc) rc = parse_method(root, job, e);
    if (!rc) rc = parse_metadata(root, job, e);
    json_t *integ = json_object_get(root, "integrations");
    if (!rc && integ && !json_is_null(integ) && !(json_is_array(integ) && json_array_size(integ) == 0))
        rc = api_fail(e, 400, "invalid_request_error", "integrations", "unsupported_parameter",
                      "Integrations (wandb) are not supported by this server.");
    if (!rc && !job->n_epochs[0]) {
        snprintf(job->n_epochs, sizeof job->n_epochs, "auto");
        snprintf(job->batch_size, sizeof job->batch_size, "auto");
        snprintf(job->lr_multiplier, sizeof job->lr_multiplier, "auto");
    }
    json_decref(root);
    return rc;
}
