/* routes_evals.c: the Evals API: /v1/evals (create, list, retrieve, update, delete), its runs
 * (create, list, retrieve, cancel, delete; carried out by eval_runner.c) and their output items,
 * and the graders endpoints /v1/fine_tuning/alpha/graders/run and /validate. Bodies are checked by
 * eval_request.c; records are the API objects as the store keeps them (store_evals.c). Each
 * project sees its own evals only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/clock.h"
#include "../eval/grading.h"
#include "eval_request.h"
#include "eval_runner.h"
#include "generation.h"
#include "routes.h"

#define EVAL_LIST_MAX 100

static const char *KIND_NAME[] = {"eval", "eval run", "output item"};

static void not_found(Ctx *c, EvalKind kind, const char *id) {
    api_errorf(c, 404, "invalid_request_error", NULL, "not_found", "No %s found with id '%s'.", KIND_NAME[kind], id);
}

/* The record id of kind, as the request's project sees it (and, for a run or item, under the
 * path's parent ids); its body parsed into *obj. False after answering 404 or 500. */
static bool load(Ctx *c, EvalKind kind, const char *id, const char *parent, EvalObject *rec, json_t **obj) {
    Err err = {0};
    int rc = store_eval_get(c->store, kind, id, rec, &err);
    if (rc == 0 && (!api_visible(c, rec->project) || (parent && strcmp(rec->parent, parent) != 0))) {
        store_eval_clear(rec);
        rc = STORE_NOT_FOUND;
    }
    if (rc == STORE_NOT_FOUND) {
        not_found(c, kind, id);
        return false;
    }
    if (rc) {
        api_server_error(c, "the eval record could not be read", &err);
        return false;
    }
    *obj = json_loads(rec->body, 0, NULL);
    if (!*obj) {
        store_eval_clear(rec);
        api_errorf(c, 500, "server_error", NULL, NULL, "the stored %s is not JSON", KIND_NAME[kind]);
        return false;
    }
    return true;
}

/* Stores obj (its id, status) as a new record of kind and answers it with status. */
static void put_and_answer(Ctx *c, EvalKind kind, json_t *obj, const char *parent, const char *status) {
    EvalObject o = {.item_index = -1, .created_at = json_integer_value(json_object_get(obj, "created_at"))};
    snprintf(o.id, sizeof o.id, "%s", json_string_value(json_object_get(obj, "id")));
    snprintf(o.project, sizeof o.project, "%s", c->project);
    snprintf(o.parent, sizeof o.parent, "%s", parent ? parent : "");
    snprintf(o.status, sizeof o.status, "%s", status ? status : "");
    o.body = json_dumps(obj, JSON_COMPACT);
    Err err = {0};
    int rc = o.body ? store_eval_put(c->store, kind, &o, &err) : err_set(&err, ERR_NOMEM, "out of memory");
    free(o.body);
    if (rc) {
        json_decref(obj);
        api_server_error(c, "the record could not be stored", &err);
        return;
    }
    api_json(c, 201, obj);
}

/* ---- lists ---- */

static void list(Ctx *c, EvalKind kind, const char *parent, const char *const *allowed, int n_allowed,
                 const char *default_order, const char *status_param, const char *const *statuses, int n_statuses) {
    if (api_query_refused(c, allowed, n_allowed)) return;
    ApiError e;
    int limit;
    if (api_query_limit(c->req, API_LIST_DEFAULT, EVAL_LIST_MAX, &limit, &e)) {
        api_error(c, &e);
        return;
    }
    const char *order = http_query(c->req, "order"), *order_by = http_query(c->req, "order_by");
    if (!order || !order[0]) order = default_order;
    if (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
        api_errorf(c, 400, "invalid_request_error", "order", "invalid_value", "order must be asc or desc, not '%s'.", order);
        return;
    }
    if (order_by && order_by[0] && strcmp(order_by, "created_at") != 0) {
        api_errorf(c, 400, "invalid_request_error", "order_by", "unsupported_parameter",
                   "order_by '%s' is not supported by this server: evals are listed by created_at.", order_by);
        return;
    }
    const char *status = status_param ? http_query(c->req, status_param) : NULL;
    if (status && status[0]) {
        bool ok = false;
        for (int i = 0; i < n_statuses && !ok; i++) ok = strcmp(status, statuses[i]) == 0;
        if (!ok) {
            api_errorf(c, 400, "invalid_request_error", status_param, "invalid_value", "'%s' is not a %s to filter by.",
                       status, status_param);
            return;
        }
    } else {
        status = NULL;
    }
    const char *after = http_query(c->req, "after");
    EvalListQuery q = {.project = c->project, .parent = parent, .status = status, .after = after && after[0] ? after : NULL,
                       .limit = limit, .ascending = strcmp(order, "asc") == 0};
    EvalObject *items;
    int n;
    bool more;
    Err err = {0};
    int rc = store_eval_list(c->store, kind, &q, &items, &n, &more, &err);
    if (api_list_failed(c, rc, after, KIND_NAME[kind], &err)) return;
    json_t *data = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = json_loads(items[i].body, 0, NULL);
        if (o) json_array_append_new(data, o);
    }
    json_t *res = api_list(data, more);
    json_object_set_new(res, "first_id", n ? json_string(items[0].id) : json_null());
    json_object_set_new(res, "last_id", n ? json_string(items[n - 1].id) : json_null());
    store_eval_list_free(items, n);
    api_json(c, 200, res);
}

/* ---- evals ---- */

void route_evals_create(Ctx *c) {
    ApiError e;
    json_t *fields;
    if (eval_create_parse(c->req->body, c->req->body_len, &fields, &e)) {
        api_error(c, &e);
        return;
    }
    char id[STORE_ID_MAX];
    store_new_id("eval_", id, sizeof id);
    json_t *obj = json_pack("{s:s, s:s, s:O, s:O, s:O, s:I, s:O}", "object", "eval", "id", id, "name",
                            json_object_get(fields, "name"), "data_source_config",
                            json_object_get(fields, "data_source_config"), "testing_criteria",
                            json_object_get(fields, "testing_criteria"), "created_at", (json_int_t)time(NULL),
                            "metadata", json_object_get(fields, "metadata"));
    json_decref(fields);
    if (!obj) {
        api_errorf(c, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    put_and_answer(c, EVAL_OBJ_EVAL, obj, NULL, NULL);
}

void route_evals_list(Ctx *c) {
    static const char *const Q[] = {"after", "limit", "order", "order_by"};
    list(c, EVAL_OBJ_EVAL, NULL, Q, 4, "asc", NULL, NULL, 0);
}

void route_evals_get(Ctx *c) {
    EvalObject rec;
    json_t *obj;
    if (!load(c, EVAL_OBJ_EVAL, c->req->params[0], NULL, &rec, &obj)) return;
    store_eval_clear(&rec);
    api_json(c, 200, obj);
}

void route_evals_update(Ctx *c) {
    ApiError e;
    json_t *fields, *obj;
    if (eval_update_parse(c->req->body, c->req->body_len, &fields, &e)) {
        api_error(c, &e);
        return;
    }
    EvalObject rec;
    if (!load(c, EVAL_OBJ_EVAL, c->req->params[0], NULL, &rec, &obj)) {
        json_decref(fields);
        return;
    }
    json_object_update(obj, fields);
    json_decref(fields);
    char *body = json_dumps(obj, JSON_COMPACT);
    Err err = {0};
    int rc = body ? store_eval_update(c->store, EVAL_OBJ_EVAL, rec.id, NULL, body, &err) : err_set(&err, ERR_NOMEM, "out of memory");
    free(body);
    store_eval_clear(&rec);
    if (rc) {
        json_decref(obj);
        api_server_error(c, "the eval could not be updated", &err);
        return;
    }
    api_json(c, 200, obj);
}

/* DELETE of an eval (with its runs) or of a run (with its items): a run being carried out is
 * canceled first, and the runner has let go of it when the rows go. */
static void delete_record(Ctx *c, EvalKind kind, const char *id, const char *parent) {
    EvalObject rec;
    json_t *obj;
    if (!load(c, kind, id, parent, &rec, &obj)) return;
    json_decref(obj);
    Err err = {0};
    int rc = kind == EVAL_OBJ_EVAL ? eval_runner_release_eval(c->srv->evals, c->store, rec.id, &err)
                                   : eval_runner_cancel(c->srv->evals, c->store, rec.id, &err);
    if (!rc) rc = store_eval_delete(c->store, kind, rec.id, &err);
    if (rc == STORE_NOT_FOUND) not_found(c, kind, rec.id);
    else if (rc) api_server_error(c, "the record could not be deleted", &err);
    else
        api_json(c, 200, json_pack("{s:s, s:b, s:s}", "object", kind == EVAL_OBJ_EVAL ? "eval.deleted" : "eval.run.deleted",
                                   "deleted", 1, kind == EVAL_OBJ_EVAL ? "eval_id" : "run_id", rec.id));
    store_eval_clear(&rec);
}

void route_evals_delete(Ctx *c) { delete_record(c, EVAL_OBJ_EVAL, c->req->params[0], NULL); }

/* ---- runs ---- */

void route_eval_runs_create(Ctx *c) {
    EvalObject ev;
    json_t *eval;
    if (!load(c, EVAL_OBJ_EVAL, c->req->params[0], NULL, &ev, &eval)) return;
    json_decref(eval);
    ApiError e;
    json_t *fields;
    const char *model, *file_id;
    if (eval_run_parse(c->req->body, c->req->body_len, &fields, &model, &file_id, &e)) {
        store_eval_clear(&ev);
        api_error(c, &e);
        return;
    }
    json_t *ds = json_object_get(fields, "data_source");
    ModelInfo m;
    long long max_tokens = 0;
    json_t *mt = json_object_get(json_object_get(ds, "sampling_params"), "max_completion_tokens");
    bool ok = !model || (generation_resolve_model(c, model, &m) == 0 &&
                         generation_max_tokens(c, json_is_integer(mt) ? json_integer_value(mt) : 0,
                                               "data_source.sampling_params.max_completion_tokens", &max_tokens) == 0);
    if (ok && file_id[0]) {
        FileRecord f;
        Err err = {0};
        int rc = store_file_get(c->store, file_id, &f, &err);
        if (rc == 0 && !api_visible(c, f.project)) rc = STORE_NOT_FOUND;
        if (rc == STORE_NOT_FOUND)
            api_errorf(c, 400, "invalid_request_error", "data_source.source.id", "file_not_found",
                       "No file found with id '%s'.", file_id);
        else if (rc) api_server_error(c, "the file could not be looked up", &err);
        ok = rc == 0;
    }
    if (!ok) {
        json_decref(fields);
        store_eval_clear(&ev);
        return;
    }
    char id[STORE_ID_MAX];
    store_new_id("evalrun_", id, sizeof id);
    char report[256];
    snprintf(report, sizeof report, "/v1/evals/%s/runs/%s", ev.id, id);
    json_t *obj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:I, s:s, s:{s:i, s:i, s:i, s:i}, s:[], s:[], s:O, s:O, s:n}",
                            "object", "eval.run", "id", id, "eval_id", ev.id, "status", "queued", "model",
                            model ? model : "", "name", json_object_get(fields, "name"), "created_at",
                            (json_int_t)time(NULL), "report_url", report, "result_counts", "total", 0, "errored", 0,
                            "failed", 0, "passed", 0, "per_model_usage", "per_testing_criteria_results",
                            "data_source", ds, "metadata", json_object_get(fields, "metadata"), "error");
    json_decref(fields);
    if (!obj) {
        store_eval_clear(&ev);
        api_errorf(c, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    put_and_answer(c, EVAL_OBJ_RUN, obj, ev.id, "queued");
    eval_runner_wake(c->srv->evals);
    store_eval_clear(&ev);
}

void route_eval_runs_list(Ctx *c) {
    static const char *const Q[] = {"after", "limit", "order", "status"};
    static const char *const S[] = {"queued", "in_progress", "completed", "canceled", "failed"};
    EvalObject ev;
    json_t *eval;
    if (!load(c, EVAL_OBJ_EVAL, c->req->params[0], NULL, &ev, &eval)) return;
    json_decref(eval);
    list(c, EVAL_OBJ_RUN, ev.id, Q, 4, "asc", "status", S, 5);
    store_eval_clear(&ev);
}

void route_eval_runs_get(Ctx *c) {
    EvalObject rec;
    json_t *obj;
    if (!load(c, EVAL_OBJ_RUN, c->req->params[1], c->req->params[0], &rec, &obj)) return;
    store_eval_clear(&rec);
    api_json(c, 200, obj);
}

void route_eval_runs_cancel(Ctx *c) {
    EvalObject rec;
    json_t *obj;
    if (!load(c, EVAL_OBJ_RUN, c->req->params[1], c->req->params[0], &rec, &obj)) return;
    json_decref(obj);
    Err err = {0};
    int rc = eval_runner_cancel(c->srv->evals, c->store, rec.id, &err);
    store_eval_clear(&rec);
    if (rc) {
        api_server_error(c, "the run could not be canceled", &err);
        return;
    }
    if (!load(c, EVAL_OBJ_RUN, c->req->params[1], c->req->params[0], &rec, &obj)) return;
    bool finished = strcmp(rec.status, "canceled") != 0;
    store_eval_clear(&rec);
    if (finished) { /* it had ended before: completed or failed runs stay as they are */
        const char *status = json_string_value(json_object_get(obj, "status"));
        api_errorf(c, 409, "invalid_request_error", NULL, "run_already_finished",
                   "The run %s has already ended (%s) and cannot be canceled.", c->req->params[1], status ? status : "?");
        json_decref(obj);
        return;
    }
    api_json(c, 200, obj);
}

void route_eval_runs_delete(Ctx *c) { delete_record(c, EVAL_OBJ_RUN, c->req->params[1], c->req->params[0]); }

/* ---- output items ---- */

void route_eval_items_list(Ctx *c) {
    static const char *const Q[] = {"after", "limit", "order", "status"};
    static const char *const S[] = {"pass", "fail"};
    EvalObject run;
    json_t *obj;
    if (!load(c, EVAL_OBJ_RUN, c->req->params[1], c->req->params[0], &run, &obj)) return;
    json_decref(obj);
    list(c, EVAL_OBJ_ITEM, run.id, Q, 4, "asc", "status", S, 2);
    store_eval_clear(&run);
}

void route_eval_items_get(Ctx *c) {
    EvalObject run, rec;
    json_t *obj;
    if (!load(c, EVAL_OBJ_RUN, c->req->params[1], c->req->params[0], &run, &obj)) return;
    json_decref(obj);
    store_eval_clear(&run);
    if (!load(c, EVAL_OBJ_ITEM, c->req->params[2], c->req->params[1], &rec, &obj)) return;
    store_eval_clear(&rec);
    api_json(c, 200, obj);
}

/* ---- graders ---- */

void route_graders_run(Ctx *c) {
    ApiError e;
    json_t *root, *grader, *item;
    const char *sample_text;
    if (eval_grader_run_parse(c->req->body, c->req->body_len, &root, &grader, &item, &sample_text, &e)) {
        api_error(c, &e);
        return;
    }
    double t0 = clock_now_s(), score = 0;
    bool passed = false;
    json_t *sample = grading_sample_of_text(sample_text), *empty = json_object();
    Err err = {0};
    int rc = grading_apply(grader, json_is_object(item) ? item : empty, sample, &score, &passed, &err);
    double elapsed = clock_now_s() - t0;
    json_decref(sample);
    json_decref(empty);
    json_t *errors = json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:n, s:b, s:n, s:b, s:b, s:b, s:n}",
                               "formula_parse_error", 0, "sample_parse_error", 0, "truncated_observation_error", 0,
                               "unresponsive_reward_error", 0, "invalid_variable_error", rc != 0, "other_error", 0,
                               "python_grader_server_error", 0, "python_grader_server_error_type",
                               "python_grader_runtime_error", 0, "python_grader_runtime_error_details",
                               "model_grader_server_error", 0, "model_grader_refusal_error", 0,
                               "model_grader_parse_error", 0, "model_grader_server_error_details");
    json_t *res = json_pack("{s:f, s:{s:O, s:O, s:o, s:f, s:{}, s:n, s:n}, s:{}, s:{}}", "reward", rc ? 0.0 : score,
                            "metadata", "name", json_object_get(grader, "name"), "type", json_object_get(grader, "type"),
                            "errors", errors, "execution_time", elapsed, "scores", "token_usage", "sampled_model_name",
                            "sub_rewards", "model_grader_token_usage_per_model");
    if (rc && res) json_object_set_new(json_object_get(res, "metadata"), "error_message", json_string(err.msg));
    json_decref(root);
    if (!res) {
        api_errorf(c, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    api_json(c, 200, res);
}

void route_graders_validate(Ctx *c) {
    ApiError e;
    json_t *root, *grader;
    if (eval_grader_validate_parse(c->req->body, c->req->body_len, &root, &grader, &e)) {
        api_error(c, &e);
        return;
    }
    json_t *res = json_pack("{s:O}", "grader", grader);
    json_decref(root);
    api_json(c, 200, res);
}
