/* eval_via_api.c: `ftune eval --via-evals-api`: a remote candidate run through the Evals API of its
 * endpoint (ftune serve's, or OpenAI's) instead of one chat completion at a time. The held-out
 * examples become the rows of a run ({"item": {"messages": the prompt as the candidate sends it,
 * "expected": the answer}}), the run asks the candidate's model with the same sampling parameters
 * (and the labels' response format), and its output items give the predictions, which `ftune
 * eval` then scores as it scores any candidate: the numbers are those of the direct path, given
 * the same answers. The eval it creates (name "ftune eval: CANDIDATE", one string_check "exact"
 * criterion) is left on the server to be looked at. A request's latency is not known per row (the
 * server runs rows together): each row gets the run's wall time divided by its rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "eval_internal.h"
#include "eval_run.h"

#define POLL_S 0.2
#define ITEMS_PAGE 100

/* A request whose answer must be 2xx JSON: 0 with *out, else -1 with c->error. */
static int call(EvalHttp *h, EvalCandidate *c, const char *method, const char *path, json_t *body, json_t **out) {
    long status;
    bool fatal;
    char error[512];
    if (eval_http_json(h, method, c->base_url, path, body, &status, out, error, sizeof error, &fatal)) {
        snprintf(c->error, sizeof c->error, "%s", error);
        return -1;
    }
    if (status < 200 || status >= 300 || !*out) {
        if (snprintf(c->error, sizeof c->error, "%.150s%.150s: HTTP %ld: %.180s", c->base_url, path, status,
                     eval_http_error_message(*out)) >= (int)sizeof c->error)
            c->error[sizeof c->error - 1] = 0;
        json_decref(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static json_t *rows_of(const EvalSet *set, const EvalReport *r, const EvalPromptStyle *ps, EvalCandidate *c) {
    json_t *rows = json_array();
    for (long i = 0; i < set->n; i++) {
        Err err = {0};
        json_t *msgs = eval_build_prompt(ps, set->prompts[i], &err);
        if (!msgs) {
            snprintf(c->error, sizeof c->error, "example %ld: %.400s", i + 1, err.msg);
            json_decref(rows);
            return NULL;
        }
        json_array_append_new(rows, json_pack("{s:{s:o, s:s}}", "item", "messages", msgs, "expected", r->expected[i]));
    }
    return rows;
}

static json_t *eval_body(const EvalCandidate *c) {
    char name[EVAL_NAME_MAX + 32];
    snprintf(name, sizeof name, "ftune eval: %s", c->name);
    return json_pack("{s:s, s:{s:s, s:{s:s, s:{s:{s:s}, s:{s:s}}, s:[s, s]}}, s:[{s:s, s:s, s:s, s:s, s:s}]}", "name",
                     name, "data_source_config", "type", "custom", "item_schema", "type", "object", "properties",
                     "messages", "type", "array", "expected", "type", "string", "required", "messages", "expected",
                     "testing_criteria", "type", "string_check", "name", "exact", "input", "{{sample.output_text}}",
                     "reference", "{{item.expected}}", "operation", "eq");
}

static json_t *run_body(const EvalCandidate *c, const EvalPromptStyle *ps, const EvalRunOptions *o, json_t *rows) {
    json_t *sampling = json_pack("{s:f, s:i, s:I}", "temperature", (double)o->temperature, "max_completion_tokens",
                                 o->max_tokens, "seed", (json_int_t)o->seed);
    if (sampling && ps->response_format) json_object_set(sampling, "response_format", ps->response_format);
    return json_pack("{s:s, s:{s:s, s:s, s:{s:s, s:s}, s:o, s:{s:s, s:o}}}", "name", c->name, "data_source", "type",
                     "completions", "model", c->model, "input_messages", "type", "item_reference", "item_reference",
                     "item.messages", "sampling_params", sampling, "source", "type", "file_content", "content", rows);
}

/* Polls the run until it ends; progress from its result counts. */
static int wait_run(EvalHttp *h, EvalCandidate *c, const char *path, const EvalSet *set, const EvalRunOptions *o) {
    for (;;) {
        json_t *run;
        if (call(h, c, "GET", path, NULL, &run)) return -1;
        const char *status = json_string_value(json_object_get(run, "status"));
        long done = (long)json_integer_value(json_object_get(json_object_get(run, "result_counts"), "total"));
        if (o->progress) o->progress(o->user, c, done, set->n);
        const char *why = json_string_value(json_object_get(json_object_get(run, "error"), "message"));
        int rc = 1;
        if (status && strcmp(status, "completed") == 0) {
            rc = 0;
        } else if (!status || strcmp(status, "failed") == 0 || strcmp(status, "canceled") == 0) {
            snprintf(c->error, sizeof c->error, "the run %.200s ended %s: %.200s", path, status ? status : "(no status)",
                     why ? why : "");
            rc = -1;
        }
        json_decref(run);
        if (rc <= 0) return rc;
        if (o->stop && *o->stop) {
            json_t *ignored;
            char cancel[600];
            snprintf(cancel, sizeof cancel, "%s/cancel", path);
            if (call(h, c, "POST", cancel, NULL, &ignored) == 0) json_decref(ignored);
            snprintf(c->error, sizeof c->error, "stopped: the run %.400s was canceled", path);
            return -1;
        }
        clock_sleep_s(POLL_S);
    }
}

/* One output item into the candidate's results. */
static void take_item(EvalCandidate *c, const EvalPromptStyle *ps, const EvalSet *set, json_t *item) {
    json_t *idx = json_object_get(item, "datasource_item_id"), *sample = json_object_get(item, "sample");
    long i = json_is_integer(idx) ? (long)json_integer_value(idx) : -1;
    if (i < 0 || i >= set->n) return;
    json_t *error = json_object_get(sample, "error"), *usage = json_object_get(sample, "usage");
    json_t *content = json_object_get(json_array_get(json_object_get(sample, "output"), 0), "content");
    const char *text = json_is_string(content) ? json_string_value(content) : NULL;
    free(c->predictions[i]);
    c->predictions[i] = !text || json_is_object(error) ? NULL : ps->response_format ? eval_label_of_reply(text) : strdup(text);
    c->failed[i] = !c->predictions[i];
    if (c->failed[i] && !c->n_failed++) {
        const char *why = json_string_value(json_object_get(error, "message"));
        snprintf(c->first_failure, sizeof c->first_failure, "example %ld: %.450s", i + 1,
                 why ? why : text ? text : "no answer");
    }
    c->prompt_tokens[i] = (int)json_integer_value(json_object_get(usage, "prompt_tokens"));
    c->completion_tokens[i] = (int)json_integer_value(json_object_get(usage, "completion_tokens"));
}

static int read_items(EvalHttp *h, EvalCandidate *c, const EvalPromptStyle *ps, const EvalSet *set, const char *run_path) {
    char after[128] = "";
    for (bool more = true; more;) {
        char path[800];
        snprintf(path, sizeof path, "%s/output_items?limit=%d%s%s", run_path, ITEMS_PAGE, after[0] ? "&after=" : "", after);
        json_t *page;
        if (call(h, c, "GET", path, NULL, &page)) return -1;
        json_t *data = json_object_get(page, "data");
        for (size_t k = 0; k < json_array_size(data); k++) take_item(c, ps, set, json_array_get(data, k));
        const char *last = json_string_value(json_object_get(page, "last_id"));
        more = json_is_true(json_object_get(page, "has_more")) && last && json_array_size(data) > 0;
        if (more) snprintf(after, sizeof after, "%s", last);
        json_decref(page);
    }
    return 0;
}

int eval_run_candidate_via_evals(const EvalSet *set, const EvalReport *r, EvalCandidate *c, const EvalRunOptions *o) {
    if (eval_alloc_results(c, set->n)) return -1;
    if (!c->base_url[0]) {
        snprintf(c->error, sizeof c->error, "--via-evals-api needs a candidate with --base-url");
        return 0;
    }
    for (long i = 0; i < set->n; i++) c->failed[i] = true; /* until its output item says otherwise */
    Err err = {0};
    EvalPromptStyle ps;
    EvalHttp h;
    double t0 = clock_now_s();
    if (eval_style_load(c, o, &ps, &err) || eval_http_open(&h, c->api_key, &err)) {
        snprintf(c->error, sizeof c->error, "%s", err.msg);
        eval_style_free(&ps);
        return 0;
    }
    json_t *ev = NULL, *run = NULL, *body = eval_body(c);
    char run_path[512] = "";
    if (body && call(&h, c, "POST", "/evals", body, &ev) == 0) {
        json_decref(body);
        json_t *rows = rows_of(set, r, &ps, c);
        body = rows ? run_body(c, &ps, o, rows) : NULL;
        char runs[300];
        snprintf(runs, sizeof runs, "/evals/%s/runs", json_string_value(json_object_get(ev, "id")));
        if (body && call(&h, c, "POST", runs, body, &run) == 0)
            snprintf(run_path, sizeof run_path, "%s/%s", runs, json_string_value(json_object_get(run, "id")));
    }
    json_decref(body);
    if (run_path[0] && wait_run(&h, c, run_path, set, o) == 0 && read_items(&h, c, &ps, set, run_path) == 0) {
        c->n_done = set->n;
        for (long i = 0; i < set->n; i++) c->latency_s[i] = (clock_now_s() - t0) / (double)set->n;
        fprintf(stderr, "%s: ran as %s on %s\n", c->name, run_path, c->base_url);
    }
    if (c->n_done == 0 && !c->error[0]) snprintf(c->error, sizeof c->error, "out of memory");
    c->wall_s = clock_now_s() - t0;
    json_decref(ev);
    json_decref(run);
    eval_http_close(&h);
    eval_style_free(&ps);
    return 0;
}
