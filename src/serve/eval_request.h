/* eval_request.h: the request bodies of the Evals API (POST /v1/evals, POST /v1/evals/{id},
 * POST /v1/evals/{id}/runs) and of the graders endpoints (/v1/fine_tuning/alpha/graders/run and
 * /validate) checked and put in the shape ftune stores and answers, with OpenAI-shaped errors that
 * name the bad field by its path (testing_criteria[1].operation). Pure functions of the body text:
 * no store, no models (the routes check that files and models exist), so that a fuzz target can
 * drive them.
 *
 * Supported: a `custom` data source config; `string_check` graders (eq, ne, like, ilike) and
 * `text_similarity` graders (graders.h's metrics); runs with a `jsonl` data source (file_content
 * or file_id) or a `completions` one (a `template` of messages or an `item_reference`, the model,
 * sampling_params temperature, top_p, seed, max_completion_tokens and response_format). Refused
 * with a 400 naming them: the `logs` and `stored_completions` configs, `responses` run data
 * sources, model-based and python graders (label_model, score_model, python, multi), sampling
 * tools and reasoning_effort (no model here reasons), and every field OpenAI does not define. */
#ifndef FTUNE_EVAL_REQUEST_H
#define FTUNE_EVAL_REQUEST_H

#include <jansson.h>
#include <stdbool.h>

#include "api.h"

#define EVAL_MAX_CRITERIA 32
#define EVAL_MAX_TEMPLATE_MESSAGES 64
#define EVAL_MAX_INLINE_ITEMS 100000

/* POST /v1/evals: *out = {"name", "metadata", "data_source_config" (as the Eval object shows it:
 * {"type": "custom", "schema": {"type": "object", "properties": {"item": ..., "sample": ...},
 * "required": [...]}}), "testing_criteria"} (a new reference). */
int eval_create_parse(const char *body, size_t len, json_t **out, ApiError *e);
/* POST /v1/evals/{id}: *out holds the fields given of name and metadata. */
int eval_update_parse(const char *body, size_t len, json_t **out, ApiError *e);
/* POST /v1/evals/{id}/runs: *out = {"name", "metadata", "data_source"} with the data source's
 * defaults filled in; *model the completions model (NULL for jsonl), *file_id the file to read
 * ("" when inline). */
int eval_run_parse(const char *body, size_t len, json_t **out, const char **model, const char **file_id, ApiError *e);
/* One grader object at param (e.g. "testing_criteria[0]" or "grader"); in_eval: a testing
 * criterion (text_similarity then needs pass_threshold). */
int eval_grader_check(json_t *g, const char *param, bool in_eval, ApiError *e);
/* POST /v1/fine_tuning/alpha/graders/run: the grader, the item (an object, may be NULL) and the
 * model sample text, borrowed from *root (a new reference the caller releases). */
int eval_grader_run_parse(const char *body, size_t len, json_t **root, json_t **grader, json_t **item,
                          const char **model_sample, ApiError *e);
/* POST /v1/fine_tuning/alpha/graders/validate: *root as above, *grader borrowed from it. */
int eval_grader_validate_parse(const char *body, size_t len, json_t **root, json_t **grader, ApiError *e);

#endif
