/* routes_jobs.c: /v1/fine_tuning/jobs: create (checks that the model and files exist; the
 * worker validates the files' contents), list with metadata filters, retrieve, cancel, pause,
 * resume, events and checkpoints. A job's model may be a base model, a fine-tuned, checkpoint or
 * --adapter model (its adapter is trained further), or an alias of one: the job keeps the name
 * asked for in `model` and records the local base model, the model it continues and the start of
 * its ft: name, resolved once here (re-pointing an alias later does not move a created job).
 * Query parameters other than each endpoint's own are refused (400 naming them). Status changes are atomic transitions in the store; the worker
 * notices them between training steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../worker/registry.h"
#include "requests.h"
#include "routes.h"

#define JOBS_LIST_MAX 100
#define EVENTS_LIST_MAX 1000
#define CHECKPOINTS_LIST_DEFAULT 10

static void job_not_found(Ctx *c, const char *id) {
    api_errorf(c, 404, "invalid_request_error", "fine_tune_id", "fine_tune_not_found",
               "No such fine-tuning job: %s", id);
}

/* Refuses a new job (429) while max jobs of the request's project are already validating or
 * queued (max <= 0: no bound): one project filling its queue does not stop another's jobs.
 * Checked before the insert: requests racing on several HTTP threads may pass it together. */
static int check_queue_room(Ctx *c, int max, ApiError *e) {
    static const char *const waiting[] = {"validating_files", "queued"};
    long long counts[2];
    Err err = {0};
    if (max <= 0) return 0;
    if (store_job_count_by_status(c->store, c->project, waiting, 2, counts, &err)) {
        api_note_cause(c, "the jobs could not be counted", &err);
        return api_fail(e, 500, "server_error", NULL, NULL, "The jobs could not be counted (request id %s).",
                        c->req->request_id);
    }
    if (counts[0] + counts[1] < max) return 0;
    return api_fail(e, 429, "invalid_request_error", NULL, "too_many_queued_jobs",
                    "%lld fine-tuning jobs of this project are already waiting (the server's limit is %d per project): wait for some to start, or "
                    "cancel some, before creating another.",
                    counts[0] + counts[1], max);
}

/* Checks that a job's file exists in the request's project with purpose fine-tune (400 naming
 * param otherwise). */
static int check_job_file(Ctx *c, const char *id, const char *param, ApiError *e) {
    FileRecord f;
    Err err = {0};
    int rc = store_file_get(c->store, id, &f, &err);
    if (rc == 0 && !api_visible(c, f.project)) rc = STORE_NOT_FOUND;
    if (rc == STORE_NOT_FOUND)
        return api_fail(e, 400, "invalid_request_error", param, "invalid_file_id", "File '%s' does not exist.", id);
    if (rc) {
        api_note_cause(c, "the file could not be read", &err);
        return api_fail(e, 500, "server_error", NULL, NULL, "The file could not be read (request id %s).",
                        c->req->request_id);
    }
    if (strcmp(f.purpose, "fine-tune") != 0)
        return api_fail(e, 400, "invalid_request_error", param, "invalid_file_purpose",
                        "File '%s' has purpose '%s'; fine-tuning files must be uploaded with purpose 'fine-tune'.",
                        id, f.purpose);
    return 0;
}

/* The job's model: a base model trains a new adapter on it, named after what was asked (an alias
 * keeps its name: ft:<alias>:...); a fine-tuned, checkpoint or --adapter model continues that
 * adapter on its base, named as the model it continues was (ft:<its name base>:...). */
static int resolve_job_model(Ctx *c, JobRecord *job, ApiError *e) {
    ModelInfo m;
    Err err = {0};
    int rc = registry_resolve(c->store, c->srv->cfg.model_dirs, c->srv->cfg.n_model_dirs, job->model, &m, &err);
    if (rc == STORE_NOT_FOUND) {
        char msg[3 * STORE_NAME_MAX];
        registry_missing_text(job->model, &m, msg, sizeof msg);
        return api_fail(e, 404, "invalid_request_error", "model", "model_not_found", "%s", msg);
    }
    if (rc) return api_fail(e, 500, "server_error", NULL, NULL, "the model could not be looked up: %s", err.msg);
    if (m.embedding)
        return api_fail(e, 400, "invalid_request_error", "model", "model_not_available",
                        "Model %s is an embedding model and is not available for fine-tuning (ftune fine-tunes chat "
                        "models).", job->model);
    snprintf(job->base_model, sizeof job->base_model, "%s", m.base_id);
    if (m.kind == MODEL_BASE) {
        snprintf(job->name_base, sizeof job->name_base, "%s", job->model);
        return 0;
    }
    snprintf(job->parent_model, sizeof job->parent_model, "%s", m.id);
    if (m.kind == MODEL_ADAPTER) {
        snprintf(job->name_base, sizeof job->name_base, "%s", m.base_id);
        return 0;
    }
    JobRecord *parent = malloc(sizeof *parent);
    rc = parent ? store_job_get(c->store, m.job_id, parent, &err) : err_set(&err, ERR_NOMEM, "out of memory");
    if (!rc) snprintf(job->name_base, sizeof job->name_base, "%s", parent->name_base[0] ? parent->name_base : parent->model);
    free(parent);
    if (rc) return api_fail(e, 500, "server_error", NULL, NULL, "the model's job could not be read: %s", err.msg);
    return 0;
}

void route_jobs_create(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    JobRecord *job = malloc(sizeof *job);
    ApiError e;
    Err err = {0};
    if (!job) {
        api_errorf(c, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    if (job_request_parse(c->req->body, c->req->body_len, job, &e) || resolve_job_model(c, job, &e) ||
        check_job_file(c, job->training_file, "training_file", &e) ||
        (job->validation_file[0] && check_job_file(c, job->validation_file, "validation_file", &e)) ||
        check_queue_room(c, c->srv->cfg.max_queued_jobs, &e)) {
        api_error(c, &e);
    } else {
        store_new_id("ftjob-", job->id, sizeof job->id);
        snprintf(job->project, sizeof job->project, "%s", c->project);
        job->created_at = (long long)time(NULL);
        snprintf(job->status, sizeof job->status, "validating_files");
        if (job->seed < 0) job->seed = (long long)(store_random_u64() % 2147483648ull); /* OpenAI's 0..2^31-1 */
        char msg[STORE_ID_MAX + 40];
        snprintf(msg, sizeof msg, "Created fine-tuning job: %s", job->id);
        if (store_job_create(c->store, job, &err)) {
            api_server_error(c, "the job could not be stored", &err);
        } else {
            /* the job is stored (it will run): it is acknowledged even if its first event is lost
             * (a 500 here made clients retry and create it twice) */
            if (store_event_add(c->store, job->id, "info", "message", msg, NULL, NULL, &err))
                fprintf(stderr, "ftune serve: job %s: its creation event could not be recorded: %s\n", job->id,
                        err.msg);
            jobs_notify(c->srv->jobs);
            api_json(c, 200, api_job_json(job));
        }
    }
    free(job);
}

typedef struct {
    const char *keys[REQ_METADATA_PAIRS], *values[REQ_METADATA_PAIRS];
    char key_buf[REQ_METADATA_PAIRS][REQ_METADATA_KEY_MAX + 1];
    int n;
    bool null_filter, bad;
} MetadataFilter;

/* Collects metadata[key]=value query arguments, and metadata=null. */
static void collect_filter(void *user, const char *key, const char *value) {
    MetadataFilter *f = user;
    size_t n = strlen(key);
    if (strcmp(key, "metadata") == 0) {
        if (value && strcmp(value, "null") == 0) f->null_filter = true;
        else f->bad = true;
        return;
    }
    if (strncmp(key, "metadata[", 9) != 0) return;
    if (n < 11 || key[n - 1] != ']' || f->n >= REQ_METADATA_PAIRS || n - 10 > REQ_METADATA_KEY_MAX) {
        /* metadata[]=x (an empty key), metadata[k (unclosed) or too many: refused, never an unfiltered list */
        f->bad = true;
        return;
    }
    snprintf(f->key_buf[f->n], sizeof f->key_buf[0], "%.*s", (int)(n - 10), key + 9);
    f->keys[f->n] = f->key_buf[f->n];
    f->values[f->n] = value ? value : "";
    f->n++;
}

static const char *const LIST_QUERY[] = {"after", "limit", "metadata", "metadata["};

void route_jobs_list(Ctx *c) {
    ApiError e;
    if (api_query_refused(c, LIST_QUERY, 4)) return;
    int limit;
    if (api_query_limit(c->req, API_LIST_DEFAULT, JOBS_LIST_MAX, &limit, &e)) {
        api_error(c, &e);
        return;
    }
    MetadataFilter f = {0};
    http_query_each(c->req, collect_filter, &f);
    if (f.bad) {
        api_errorf(c, 400, "invalid_request_error", "metadata", NULL,
                   "Filter with metadata[KEY]=VALUE (at most %d pairs, keys of at most %d characters) or "
                   "metadata=null.", REQ_METADATA_PAIRS, REQ_METADATA_KEY_MAX);
        return;
    }
    const char *after = http_query(c->req, "after");
    JobRecord *jobs;
    int n;
    bool more;
    Err err = {0};
    int rc = store_job_list(c->store, c->project, after, limit, f.keys, f.values, f.n, f.null_filter, &jobs, &n, &more, &err);
    if (api_list_failed(c, rc, after, "fine-tuning jobs", &err)) return;
    json_t *data = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(data, api_job_json(&jobs[i]));
    free(jobs);
    api_json(c, 200, api_list(data, more));
}

/* Loads the job named by the path into a heap record (NULL after answering 404/500; another
 * project's job is a 404). */
static JobRecord *load_job(Ctx *c) {
    JobRecord *job = malloc(sizeof *job);
    Err err = {0};
    int rc = job ? store_job_get(c->store, c->req->params[0], job, &err) : err_set(&err, ERR_NOMEM, "out of memory");
    if (rc == 0 && !api_visible(c, job->project)) rc = STORE_NOT_FOUND;
    if (rc == 0) return job;
    free(job);
    if (rc == STORE_NOT_FOUND) job_not_found(c, c->req->params[0]);
    else api_server_error(c, "the job could not be read", &err);
    return NULL;
}

void route_jobs_get(Ctx *c) {
    if (api_query_refused(c, NULL, 0)) return;
    JobRecord *job = load_job(c);
    if (!job) return;
    api_json(c, 200, api_job_json(job));
    free(job);
}

/* Moves the job from one of `from` to `to`, records `event`, and answers with the job. */
static void change_status(Ctx *c, const char *const *from, int n_from, const char *to, const char *verb,
                          const char *event) {
    char current[STORE_ID_MAX] = "";
    Err err = {0};
    const char *id = c->req->params[0];
    if (api_query_refused(c, NULL, 0)) return;
    JobRecord *mine = load_job(c); /* 404 unless the job is the request's project's */
    if (!mine) return;
    free(mine);
    int rc = store_job_transition(c->store, id, from, n_from, to, current, &err);
    if (rc == STORE_NOT_FOUND) {
        job_not_found(c, id);
        return;
    }
    if (rc == STORE_CONFLICT) {
        api_errorf(c, 400, "invalid_request_error", NULL, "invalid_job_status",
                   "Job %s cannot be %s: its status is '%s'.", id, verb, current);
        return;
    }
    if (rc) {
        api_server_error(c, "the job could not be updated", &err);
        return;
    }
    store_event_add(c->store, id, "info", "message", event, NULL, NULL, &err);
    JobRecord *job = load_job(c);
    if (!job) return;
    if (strcmp(to, "cancelled") == 0) {
        job->finished_at = (long long)time(NULL);
        job->estimated_finish = 0;
        store_job_update_if(c->store, job, "cancelled", &err);
    }
    jobs_notify(c->srv->jobs);
    api_json(c, 200, api_job_json(job));
    free(job);
}

void route_jobs_cancel(Ctx *c) {
    static const char *const from[] = {"validating_files", "queued", "running", "paused"};
    change_status(c, from, 4, "cancelled", "cancelled", "The job has been cancelled");
}

void route_jobs_pause(Ctx *c) {
    static const char *const from[] = {"running", "queued"};
    change_status(c, from, 2, "paused", "paused", "The job has been paused");
}

void route_jobs_resume(Ctx *c) {
    static const char *const from[] = {"paused"};
    change_status(c, from, 1, "queued", "resumed", "The job has been resumed and queued");
}

/* Answers 404 unless the job in the path exists. */
static bool job_exists(Ctx *c) {
    JobRecord *job = load_job(c);
    free(job);
    return job != NULL;
}

void route_jobs_events(Ctx *c) {
    ApiError e;
    int limit;
    if (api_query_refused(c, LIST_QUERY, 2)) return;
    if (api_query_limit(c->req, API_LIST_DEFAULT, EVENTS_LIST_MAX, &limit, &e)) {
        api_error(c, &e);
        return;
    }
    if (!job_exists(c)) return;
    const char *after = http_query(c->req, "after");
    EventRecord *events;
    int n;
    bool more;
    Err err = {0};
    int rc = store_event_list(c->store, c->req->params[0], after, limit, &events, &n, &more, &err);
    if (api_list_failed(c, rc, after, "events", &err)) return;
    json_t *data = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(data, api_event_json(&events[i]));
    free(events);
    api_json(c, 200, api_list(data, more));
}

void route_jobs_checkpoints(Ctx *c) {
    ApiError e;
    int limit;
    if (api_query_refused(c, LIST_QUERY, 2)) return;
    if (api_query_limit(c->req, CHECKPOINTS_LIST_DEFAULT, JOBS_LIST_MAX, &limit, &e)) {
        api_error(c, &e);
        return;
    }
    if (!job_exists(c)) return;
    const char *after = http_query(c->req, "after");
    CheckpointRecord *list;
    int n;
    bool more;
    Err err = {0};
    int rc = store_checkpoint_list(c->store, c->req->params[0], after, limit, &list, &n, &more, &err);
    if (api_list_failed(c, rc, after, "checkpoints", &err)) return;
    json_t *data = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(data, api_checkpoint_json(&list[i]));
    json_t *out = api_list(data, more);
    json_object_set_new(out, "first_id", n ? json_string(list[0].id) : json_null());
    json_object_set_new(out, "last_id", n ? json_string(list[n - 1].id) : json_null());
    free(list);
    api_json(c, 200, out);
}
