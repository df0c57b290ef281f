/* routes_files_validation.c: GET /v1/files/{id}/validation[?method=supervised|dpo][&model=ID]
 * [&max_problems=N][&preview=N]: an uploaded file checked by the same library call as `ftune
 * validate` and a job's validating_files stage (src/data/validate.h), answered as `ftune validate
 * --json` prints it (every problem with its line and JSON path, the statistics, the auto epochs),
 * with the file's id in place of its server path. With model (any model id: base, fine-tuned,
 * checkpoint, adapter, alias), tokens are counted with that model's tokenizer and chat template,
 * read without its weights, and preview=N adds the first N valid examples as that template renders
 * them, cut into trained and untrained segments. An ftune extension (OpenAI has no such endpoint),
 * for the web console's upload page. It does not store the report: each call reads the file again,
 * on the HTTP thread (as an upload's own JSONL check does), loading no weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/validate.h"
#include "../model/text_model.h"
#include "../worker/registry.h"
#include "routes.h"

#define VALIDATION_PROBLEMS_MAX 1000 /* problems listed per call (all are counted) */

/* The model named by id as a TextModel of its base (tokenizer, template); answers 404/400/500 and
 * returns NULL when it cannot. */
static TextModel *load_text_model(Ctx *c, const char *id) {
    ModelInfo m;
    Err err = {0};
    int rc = registry_resolve(c->store, c->srv->cfg.model_dirs, c->srv->cfg.n_model_dirs, id, &m, &err);
    if (rc == 0 && !api_visible(c, m.project)) rc = STORE_NOT_FOUND;
    if (rc == STORE_NOT_FOUND) {
        char msg[3 * STORE_NAME_MAX];
        registry_missing_text(id, &m, msg, sizeof msg);
        api_errorf(c, 404, "invalid_request_error", "model", "model_not_found", "%s", msg);
        return NULL;
    }
    if (rc) {
        api_server_error(c, "the model could not be looked up", &err);
        return NULL;
    }
    TextModel *tm = NULL;
    if (text_model_load(m.base_path, &tm, &err)) api_server_error(c, "the model's tokenizer could not be read", &err);
    return tm;
}

/* The query parameter name as an integer 0..max into *out (unchanged when absent); answers 400 and
 * returns -1 when it is not one. */
static int query_count(Ctx *c, const char *name, long max, long *out) {
    const char *text = http_query(c->req, name);
    if (!text) return 0;
    char *end;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < 0 || v > max) {
        ApiError e;
        api_bad_param(&e, name, "expected an integer from 0 to %ld.", max);
        api_error(c, &e);
        return -1;
    }
    *out = v;
    return 0;
}

void route_files_validation(Ctx *c) {
    static const char *const allowed[] = {"method", "model", "max_problems", "preview"};
    if (api_query_refused(c, allowed, 4)) return;
    ValidateOptions opt;
    validate_options_default(&opt);
    ApiError e;
    const char *method = http_query(c->req, "method"), *model = http_query(c->req, "model");
    if (method && strcmp(method, "dpo") == 0) opt.method = VALIDATE_DPO;
    else if (method && strcmp(method, "supervised") != 0) {
        api_bad_param(&e, "method", "expected 'supervised' or 'dpo'.");
        api_error(c, &e);
        return;
    }
    if (query_count(c, "max_problems", VALIDATION_PROBLEMS_MAX, &opt.max_problems) ||
        query_count(c, "preview", VALIDATE_PREVIEW_MAX, &opt.preview_examples))
        return;
    if (opt.preview_examples && !(model && model[0])) {
        api_bad_param(&e, "preview", "needs a model (the examples are rendered with its chat template).");
        api_error(c, &e);
        return;
    }
    FileRecord f;
    if (route_files_load(c, &f)) return;
    TextModel *tm = NULL;
    if (model && model[0] && !(tm = load_text_model(c, model))) return;
    opt.model = tm;
    char path[4096];
    store_file_path(c->store, f.id, path, sizeof path);
    ValidateReport rep;
    Err err = {0};
    int rc = validate_file(path, &opt, &rep, &err);
    json_t *o = rc ? NULL : validate_report_to_json(&rep);
    validate_report_free(&rep);
    text_model_free(tm);
    if (rc) {
        api_server_error(c, "the file could not be read", &err);
        return;
    }
    if (!o) {
        api_errorf(c, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    /* the file's id and the model's, never the server's paths */
    json_object_set_new(o, "object", json_string("file.validation"));
    json_object_set_new(o, "file", json_string(f.id));
    json_t *m = json_object_get(o, "model");
    if (json_is_object(m)) {
        json_object_del(m, "path");
        json_object_set_new(m, "id", json_string(model));
    }
    api_json(c, 200, o);
}
