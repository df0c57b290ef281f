/* routes_models.c: /v1/models: base models from the models directories, the adapters served by
 * `--adapter`, fine-tuned models of succeeded jobs, checkpoints (retrieve only, as OpenAI lists
 * them under their job) and aliases (object "model" with the extra field "alias_for": the id of
 * the model the alias names now; listed when that model exists). Only fine-tuned models can be
 * deleted (an --adapter model and an alias are configuration: DELETE on an alias is refused, never
 * applied to its target); a deleted model stops resolving at once (its checkpoints too) and its
 * job's directory (adapter, checkpoints) is removed from disk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../worker/registry.h"
#include "routes.h"

/* A model, or an alias (m->alias set): then id is the alias and alias_for its target. */
static json_t *model_json(const ModelInfo *m) {
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:n}", "id", m->alias[0] ? m->alias : m->id, "object", "model",
                          "created", (json_int_t)m->created, "owned_by",
                          m->kind == MODEL_BASE ? "system" : API_ORG_ID, "shutdown_date");
    if (m->alias[0]) json_object_set_new(o, "alias_for", json_string(m->id));
    return o;
}

static void model_not_found(Ctx *c, const char *id, const ModelInfo *m) {
    char msg[3 * STORE_NAME_MAX];
    registry_missing_text(id, m, msg, sizeof msg);
    api_errorf(c, 404, "invalid_request_error", "model", "model_not_found", "%s", msg);
}

/* Appends the aliases whose name is no real model's and whose target exists (-1 on a store error). */
static int list_aliases(Ctx *c, json_t *data, Err *err) {
    RegistryAlias *list;
    int n;
    if (registry_list_aliases(c->store, &list, &n, err)) return -1;
    const char *const *dirs = c->srv->cfg.model_dirs;
    int n_dirs = c->srv->cfg.n_model_dirs, rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        ModelInfo m;
        int own = registry_resolve_model(c->store, dirs, n_dirs, list[i].rec.name, &m, err);
        int target = own == STORE_NOT_FOUND ? registry_resolve_model(c->store, dirs, n_dirs, list[i].rec.target, &m, err)
                                            : own;
        if (own < 0 || target < 0) rc = -1;
        if (own != STORE_NOT_FOUND || target != 0) continue;
        snprintf(m.alias, sizeof m.alias, "%s", list[i].rec.name);
        m.created = list[i].rec.updated_at;
        json_array_append_new(data, model_json(&m));
    }
    free(list);
    return rc;
}

void route_models_list(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    const char *const *dirs = c->srv->cfg.model_dirs;
    int n_dirs = c->srv->cfg.n_model_dirs;
    ModelInfo *base, *adapters = NULL, shadow;
    int n_base, n_adapters;
    Err err = {0};
    if (registry_list_base(dirs, n_dirs, &base, &n_base, &err) ||
        registry_list_adapters(dirs, n_dirs, &adapters, &n_adapters, &err)) {
        free(base);
        api_server_error(c, "the models could not be listed", &err);
        return;
    }
    json_t *data = json_array();
    for (int i = 0; i < n_base; i++) /* a base model copied in under an --adapter name is not served */
        if (registry_find_adapter(dirs, n_dirs, base[i].id, &shadow) != 0) json_array_append_new(data, model_json(&base[i]));
    for (int i = 0; i < n_adapters; i++) json_array_append_new(data, model_json(&adapters[i]));
    free(base);
    free(adapters);
    /* fine-tuned models: every succeeded job's of the request's project, page by page */
    const char *after = NULL;
    char cursor[STORE_ID_MAX];
    for (bool more = true; more;) {
        JobRecord *jobs;
        int n;
        if (store_job_list(c->store, c->project, after, 200, NULL, NULL, 0, false, &jobs, &n, &more, &err)) {
            json_decref(data);
            api_server_error(c, "the models could not be listed", &err);
            return;
        }
        for (int i = 0; i < n; i++) {
            const JobRecord *j = &jobs[i];
            if (strcmp(j->status, "succeeded") != 0 || j->model_deleted || !j->fine_tuned_model[0]) continue;
            ModelInfo m = {.kind = MODEL_FINE_TUNED, .created = j->finished_at};
            snprintf(m.id, sizeof m.id, "%s", j->fine_tuned_model);
            json_array_append_new(data, model_json(&m));
        }
        if (n) snprintf(cursor, sizeof cursor, "%s", jobs[n - 1].id);
        after = cursor;
        free(jobs);
        if (!n) break;
    }
    if (list_aliases(c, data, &err)) {
        json_decref(data);
        api_server_error(c, "the models could not be listed", &err);
        return;
    }
    api_json(c, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

bool route_model_lookup(Ctx *c, const char *id, ModelInfo *m) {
    Err err = {0};
    int rc = registry_resolve(c->store, c->srv->cfg.model_dirs, c->srv->cfg.n_model_dirs, id, m, &err);
    if (rc == 0 && !api_visible(c, m->project)) rc = STORE_NOT_FOUND;
    if (rc == STORE_NOT_FOUND) model_not_found(c, id, m);
    else if (rc) api_server_error(c, "the model could not be looked up", &err);
    return rc == 0;
}

void route_models_get(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    ModelInfo m;
    if (route_model_lookup(c, c->req->params[0], &m)) api_json(c, 200, model_json(&m));
}

void route_models_delete(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    ModelInfo m;
    Err err = {0};
    const char *id = c->req->params[0];
    if (!route_model_lookup(c, id, &m)) return;
    int rc;
    if (m.alias[0]) {
        bool from_flag = false;
        char target[STORE_NAME_MAX];
        registry_alias_target(c->store, id, target, &from_flag, &err);
        api_errorf(c, 403, "invalid_request_error", "model", "model_not_deletable",
                   "'%s' is an alias of '%s', not a model: %s.", id, m.id,
                   from_flag ? "restart the server without its --alias option to remove it"
                             : "remove it with `ftune alias rm` on the server's data directory");
        return;
    }
    if (m.kind != MODEL_FINE_TUNED) {
        api_errorf(c, 403, "invalid_request_error", "model", "model_not_deletable",
                   "Only fine-tuned models can be deleted; '%s' is %s.", id,
                   m.kind == MODEL_BASE      ? "a base model"
                   : m.kind == MODEL_ADAPTER ? "an adapter served by the server's --adapter option (restart the server without it)"
                                             : "a checkpoint (delete its fine-tuned model)");
        return;
    }
    JobRecord *job = malloc(sizeof *job);
    char job_dir[4096];
    registry_job_dir(store_data_dir(c->store), m.job_id, job_dir, sizeof job_dir);
    rc = job ? store_job_get(c->store, m.job_id, job, &err) : err_set(&err, ERR_NOMEM, "out of memory");
    if (!rc) {
        job->model_deleted = true;
        store_reserve_use(c->store, true); /* a delete works on a full disk */
        rc = store_job_update_if(c->store, job, job->status, &err);
        /* full with no reserve left: the adapter's space first, then the row (a crash in between
         * leaves a model whose adapter is gone; deleting it again removes it) */
        if (rc < 0 && file_remove_tree(job_dir, NULL) == 0) rc = store_job_update_if(c->store, job, job->status, &err);
        store_reserve_use(c->store, false);
    }
    free(job);
    if (rc) {
        api_server_error(c, "the model could not be deleted", &err);
        return;
    }
    inference_forget_adapter(c->srv->inference, m.adapter_dir);
    if (file_remove_tree(job_dir, &err)) fprintf(stderr, "ftune serve: deleting a model: %s\n", err.msg);
    api_json(c, 200, json_pack("{s:s, s:s, s:b}", "id", id, "object", "model", "deleted", 1));
}
