/* routes.h: the endpoint handlers, one file per resource (routes_files.c, routes_jobs.c,
 * routes_models.c, routes_chat.c, routes_embeddings.c, routes_vector_stores.c, routes_responses.c,
 * routes_admin.c; routes_console.c: the web console). Each sees only its project's records
 * (api_visible, c->project). Each reads its path parameters from c->req->params and
 * answers through api.h. */
#ifndef FTUNE_ROUTES_H
#define FTUNE_ROUTES_H

#include "api.h"
#include "../worker/registry.h"
#include "server.h"

void route_files_create(Ctx *c);
void route_files_list(Ctx *c);
void route_files_get(Ctx *c);
void route_files_content(Ctx *c);
void route_files_delete(Ctx *c);
/* GET /v1/files/{id}/validation (routes_files_validation.c): the file checked as `ftune validate`
 * checks it. */
void route_files_validation(Ctx *c);
/* The file named by the path's first parameter, when the request's project may see it; answers
 * 404 or 500 itself and returns non-zero otherwise. */
int route_files_load(Ctx *c, FileRecord *f);

/* The web console's pages (routes_console.c): GET / and GET /console/{name}, without a key. */
void route_console_index(Ctx *c);
void route_console_asset(Ctx *c);

void route_jobs_create(Ctx *c);
void route_jobs_list(Ctx *c);
void route_jobs_get(Ctx *c);
void route_jobs_cancel(Ctx *c);
void route_jobs_pause(Ctx *c);
void route_jobs_resume(Ctx *c);
void route_jobs_events(Ctx *c);
void route_jobs_checkpoints(Ctx *c);

void route_models_list(Ctx *c);
void route_models_get(Ctx *c);
void route_models_delete(Ctx *c);
/* The model named id as the request's key may see it (registry_resolve, then api_visible): false
 * when the response is already an error (404 model_not_found, 500). */
bool route_model_lookup(Ctx *c, const char *id, ModelInfo *m);
/* GET /v1/models/{model}/export (routes_model_export.c): an ftune extension */
void route_models_export(Ctx *c);

void route_chat_completions(Ctx *c);

/* /v1/embeddings (routes_embeddings.c) */
void route_embeddings(Ctx *c);

/* /v1/vector_stores and their files and search (routes_vector_stores.c) */
void route_vector_stores_create(Ctx *c);
void route_vector_stores_list(Ctx *c);
void route_vector_stores_get(Ctx *c);
void route_vector_stores_modify(Ctx *c);
void route_vector_stores_delete(Ctx *c);
void route_vector_stores_search(Ctx *c);
void route_vector_store_files_create(Ctx *c);
void route_vector_store_files_list(Ctx *c);
void route_vector_store_files_get(Ctx *c);
void route_vector_store_files_update(Ctx *c);
void route_vector_store_files_content(Ctx *c);
void route_vector_store_files_delete(Ctx *c);
/* file batches (routes_vector_store_batches.c) */
void route_vector_store_batches_create(Ctx *c);
void route_vector_store_batches_get(Ctx *c);
void route_vector_store_batches_cancel(Ctx *c);
void route_vector_store_batches_files(Ctx *c);

/* /v1/responses (routes_responses.c) */
void route_responses_create(Ctx *c);
void route_responses_get(Ctx *c);
void route_responses_delete(Ctx *c);
void route_responses_input_items(Ctx *c);
void route_responses_cancel(Ctx *c);

/* /v1/evals, its runs and output items, and /v1/fine_tuning/alpha/graders (routes_evals.c) */
void route_evals_create(Ctx *c);
void route_evals_list(Ctx *c);
void route_evals_get(Ctx *c);
void route_evals_update(Ctx *c);
void route_evals_delete(Ctx *c);
void route_eval_runs_create(Ctx *c);
void route_eval_runs_list(Ctx *c);
void route_eval_runs_get(Ctx *c);
void route_eval_runs_cancel(Ctx *c);
void route_eval_runs_delete(Ctx *c);
void route_eval_items_list(Ctx *c);
void route_eval_items_get(Ctx *c);
void route_graders_run(Ctx *c);
void route_graders_validate(Ctx *c);

/* /v1/organization/projects and their api_keys (routes_admin.c): admin keys only. */
void route_admin_projects_list(Ctx *c);
void route_admin_projects_create(Ctx *c);
void route_admin_projects_get(Ctx *c);
void route_admin_keys_list(Ctx *c);
void route_admin_keys_create(Ctx *c);
void route_admin_keys_get(Ctx *c);
void route_admin_keys_delete(Ctx *c);

#endif
