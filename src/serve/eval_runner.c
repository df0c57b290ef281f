/* eval_runner.c: the Evals API's runs carried out (see eval_runner.h). */
#include "eval_runner.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/clock.h"
#include "../core/fileio.h"
#include "../data/utf8_check.h"
#include "../eval/eval_template.h"
#include "../eval/grading.h"
#include "eval_request.h"
#include "generation.h"
#include "server.h"

#define EVAL_FILE_MAX ((size_t)1 << 30)

/* One row generating on the inference thread. Written by its callbacks under the runner's mutex. */
typedef struct {
    struct EvalRunner *runner;
    bool busy, done;
    long long index;
    json_t *input;  /* the rendered messages */
    char *text;     /* the answer (heap) */
    int status;     /* on_done's: 0 = answered */
    char message[256];
    const char *finish;
    long prompt, completion, cached;
} GenSlot;

struct EvalRunner {
    Server *srv;
    Store *store;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;     /* the runner waits on it: work, a generation done, stop */
    pthread_cond_t released; /* callers wait on it: the current run changed */
    bool work, stop, started;
    char current[STORE_ID_MAX];
    char current_eval[STORE_ID_MAX];
    bool cancel_current;
    GenSlot slots[EVAL_RUNNER_WINDOW];
    char node[STORE_WORKER_MAX]; /* this node's id: it holds the runs it carries out by a lease */
    long long lease_ms;
};


/* What a run has produced so far. */
typedef struct {
    long total, errored, failed, passed;
    long invocations, prompt, completion, cached;
    size_t n_crit;
    long crit_passed[EVAL_MAX_CRITERIA], crit_failed[EVAL_MAX_CRITERIA];
} Tally;

/* A run being carried out. */
typedef struct {
    EvalRunner *r;
    json_t *run, *eval;   /* the API objects */
    json_t *criteria;     /* borrowed from eval */
    json_t *item_schema;  /* borrowed from eval (may be NULL) */
    json_t *ds;           /* borrowed from run: its data_source */
    json_t *rows;         /* [{"item", "sample"}] */
    bool *stored;         /* rows whose output item exists */
    Tally t;
    long long saved_at;   /* when the run (and its lease) was last written, Unix ms */
    const char *model;    /* completions: the model asked for (in run) */
    ModelInfo m;
    char project[STORE_ID_MAX];
} Run;

/* ---- inference callbacks (the inference thread) ---- */

/* The current run is being cancelled, or the server stops. */
static bool cancelled(EvalRunner *r) {
    pthread_mutex_lock(&r->mu);
    bool c = r->cancel_current || r->stop;
    pthread_mutex_unlock(&r->mu);
    return c;
}

static int on_piece(void *user, int choice, const char *text, size_t len, const InferLogprob *lp, int n_lp) {
    (void)choice, (void)text, (void)len, (void)lp, (void)n_lp;
    return cancelled(((GenSlot *)user)->runner);
}

static void on_choice_done(void *user, int choice, const FtGenResult *res, int cached) {
    (void)choice;
    GenSlot *g = user;
    pthread_mutex_lock(&g->runner->mu);
    free(g->text);
    size_t n; /* a model can emit bytes that are not UTF-8: U+FFFD for them, as a chat completion has */
    g->text = utf8_repair(res->text ? res->text : "", res->text ? res->len : 0, &n);
    g->finish = res->finish == FT_FINISH_LENGTH ? "length" : "stop";
    g->prompt = res->n_prompt;
    g->completion = res->n_completion;
    g->cached = cached;
    pthread_mutex_unlock(&g->runner->mu);
}

static void on_done(void *user, int status, const char *code, const char *message) {
    GenSlot *g = user;
    pthread_mutex_lock(&g->runner->mu);
    g->status = status ? status : (g->text ? 0 : 500);
    snprintf(g->message, sizeof g->message, "%s%s%s", code ? code : "", code ? ": " : "", message ? message : "");
    g->done = true;
    pthread_cond_broadcast(&g->runner->cond);
    pthread_mutex_unlock(&g->runner->mu);
}

static bool is_cancelled(void *user) { return cancelled(((GenSlot *)user)->runner); }

/* ---- the run's object ---- */

static json_t *tally_usage(const Run *run) {
    json_t *list = json_array();
    if (run->t.invocations > 0)
        json_array_append_new(
            list, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "model_name", run->model, "invocation_count",
                            (json_int_t)run->t.invocations, "prompt_tokens", (json_int_t)run->t.prompt,
                            "completion_tokens", (json_int_t)run->t.completion, "total_tokens",
                            (json_int_t)(run->t.prompt + run->t.completion), "cached_tokens", (json_int_t)run->t.cached));
    return list;
}

/* Writes the run's counts and status, renewing this node's lease. A run that is no longer this
 * node's (cancelled through another node, or taken over after a lapse) is let go: its current run
 * is cancelled here and nothing more is written (0). STORE_NOT_FOUND when the run was deleted. */
static int save_run(Run *run, const char *status, json_t *error, Err *err) {
    json_t *o = run->run, *crit = json_array();
    for (size_t i = 0; i < run->t.n_crit; i++) {
        const char *name = json_string_value(json_object_get(json_array_get(run->criteria, i), "name"));
        json_array_append_new(crit, json_pack("{s:s, s:I, s:I}", "testing_criteria", name ? name : "", "passed",
                                              (json_int_t)run->t.crit_passed[i], "failed",
                                              (json_int_t)run->t.crit_failed[i]));
    }
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "result_counts",
                        json_pack("{s:I, s:I, s:I, s:I}", "total", (json_int_t)run->t.total, "errored",
                                  (json_int_t)run->t.errored, "failed", (json_int_t)run->t.failed, "passed",
                                  (json_int_t)run->t.passed));
    json_object_set_new(o, "per_model_usage", tally_usage(run));
    json_object_set_new(o, "per_testing_criteria_results", crit);
    json_object_set_new(o, "error", error ? error : json_null());
    char *body = json_dumps(o, JSON_COMPACT);
    if (!body) return err_set(err, ERR_NOMEM, "out of memory");
    run->saved_at = clock_wall_ms();
    int rc = store_eval_run_save(run->r->store, json_string_value(json_object_get(o, "id")), run->r->node,
                                 run->saved_at + run->r->lease_ms, status, body, err);
    free(body);
    if (rc == STORE_CONFLICT) {
        pthread_mutex_lock(&run->r->mu);
        run->r->cancel_current = true;
        pthread_mutex_unlock(&run->r->mu);
        return 0;
    }
    return rc;
}

/* Adds a stored output item's outcome to the tally (a resumed run counts what it had done). */
static void tally_item(Tally *t, json_t *item) {
    json_t *sample = json_object_get(item, "sample"), *results = json_object_get(item, "results");
    json_t *error = json_object_get(sample, "error"), *usage = json_object_get(sample, "usage");
    const char *status = json_string_value(json_object_get(item, "status"));
    t->total++;
    if (json_is_object(error)) t->errored++;
    else if (status && strcmp(status, "pass") == 0) t->passed++;
    else t->failed++;
    for (size_t i = 0; i < json_array_size(results) && i < t->n_crit; i++) {
        if (json_is_true(json_object_get(json_array_get(results, i), "passed"))) t->crit_passed[i]++;
        else t->crit_failed[i]++;
    }
    if (json_is_object(usage)) {
        t->invocations++;
        t->prompt += (long)json_integer_value(json_object_get(usage, "prompt_tokens"));
        t->completion += (long)json_integer_value(json_object_get(usage, "completion_tokens"));
        t->cached += (long)json_integer_value(json_object_get(usage, "cached_tokens"));
    }
}

/* ---- rows ---- */

static json_t *api_error_object(const char *code, const char *message) {
    return json_pack("{s:s, s:s}", "code", code, "message", message);
}

/* The rows of an uploaded JSONL file: each line {"item": {...}, "sample": {...}}. */
static int file_rows(Run *run, const char *file_id, Err *err) {
    FileRecord f;
    int rc = store_file_get(run->r->store, file_id, &f, err);
    if (rc == STORE_NOT_FOUND || (rc == 0 && strcmp(f.project, run->project) != 0))
        return err_set(err, ERR_ARG, "file %s no longer exists", file_id);
    if (rc) return -1;
    char path[4096], *data;
    size_t len;
    store_file_path(run->r->store, file_id, path, sizeof path);
    if (file_read_all(path, EVAL_FILE_MAX, &data, &len, err)) return -1;
    run->rows = json_array();
    long line = 0;
    for (char *p = data, *nl; p && *p && !rc; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl) *nl = 0;
        line++;
        size_t n = strlen(p);
        while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t')) p[--n] = 0;
        if (!n) continue;
        json_error_t je;
        json_t *row = json_loads(p, 0, &je);
        json_t *item = json_object_get(row, "item"), *sample = json_object_get(row, "sample");
        if (!row) rc = err_set(err, ERR_FORMAT, "%s line %ld: not JSON: %s", file_id, line, je.text);
        else if (!json_is_object(item))
            rc = err_set(err, ERR_FORMAT, "%s line %ld: expected an object with an \"item\" object", file_id, line);
        else if (sample && !json_is_object(sample) && !json_is_null(sample))
            rc = err_set(err, ERR_FORMAT, "%s line %ld: \"sample\" must be an object", file_id, line);
        else json_array_append(run->rows, row);
        json_decref(row);
    }
    free(data);
    if (!rc && json_array_size(run->rows) == 0) rc = err_set(err, ERR_FORMAT, "%s holds no rows", file_id);
    return rc;
}

/* What is wrong with item against the eval's item schema (required fields, their JSON types), or
 * NULL. */
static const char *type_of(json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static bool type_matches(json_t *type, json_t *v) {
    if (json_is_array(type)) {
        for (size_t i = 0; i < json_array_size(type); i++)
            if (type_matches(json_array_get(type, i), v)) return true;
        return false;
    }
    const char *want = json_string_value(type), *got = type_of(v);
    if (!want) return true;
    return strcmp(want, got) == 0 || (strcmp(want, "number") == 0 && strcmp(got, "integer") == 0);
}

static bool schema_problem(json_t *schema, json_t *item, char *out, size_t cap) {
    if (!json_is_object(schema)) return false;
    json_t *required = json_object_get(schema, "required"), *props = json_object_get(schema, "properties");
    for (size_t i = 0; i < json_array_size(required); i++) {
        const char *k = json_string_value(json_array_get(required, i));
        if (k && !json_object_get(item, k)) return snprintf(out, cap, "item lacks the required field '%s'", k), true;
    }
    const char *k;
    json_t *p;
    json_object_foreach(props, k, p) {
        json_t *v = json_object_get(item, k);
        if (v && !type_matches(json_object_get(p, "type"), v))
            return snprintf(out, cap, "item.%s is %s, not what the item schema says", k, type_of(v)), true;
    }
    return false;
}

/* ---- output items ---- */

/* Grades and stores row index with its sample (NULL: the row was not graded, error says why). */
static int store_item(Run *run, long long index, json_t *sample_obj, json_t *namespace_sample, json_t *error, Err *err) {
    json_t *row = json_array_get(run->rows, (size_t)index), *item = json_object_get(row, "item");
    json_t *results = json_array();
    bool all = true;
    char problem[300];
    if (!error && schema_problem(run->item_schema, item, problem, sizeof problem))
        error = api_error_object("invalid_item", problem);
    for (size_t i = 0; !error && i < json_array_size(run->criteria); i++) {
        json_t *g = json_array_get(run->criteria, i);
        double score = 0;
        bool passed = false;
        Err ge = {0};
        if (grading_apply(g, item, namespace_sample, &score, &passed, &ge)) {
            error = api_error_object("invalid_variable", ge.msg);
            break;
        }
        all &= passed;
        json_array_append_new(results, json_pack("{s:O, s:O, s:f, s:b, s:n}", "name", json_object_get(g, "name"), "type",
                                                 json_object_get(g, "type"), "score", score, "passed", passed, "sample"));
    }
    if (error) {
        json_array_clear(results);
        all = false;
    }
    json_object_set_new(sample_obj, "error", error ? error : json_null());
    EvalObject o = {.item_index = index, .created_at = (long long)time(NULL)};
    store_new_id("outputitem_", o.id, sizeof o.id);
    snprintf(o.project, sizeof o.project, "%s", run->project);
    snprintf(o.parent, sizeof o.parent, "%s", json_string_value(json_object_get(run->run, "id")));
    snprintf(o.status, sizeof o.status, "%s", all ? "pass" : "fail");
    json_t *obj = json_pack("{s:s, s:s, s:O, s:O, s:I, s:s, s:I, s:O, s:o, s:O}", "object", "eval.run.output_item", "id",
                            o.id, "run_id", json_object_get(run->run, "id"), "eval_id",
                            json_object_get(run->run, "eval_id"), "created_at", (json_int_t)o.created_at, "status",
                            o.status, "datasource_item_id", (json_int_t)index, "datasource_item", item, "results",
                            results, "sample", sample_obj);
    o.body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    int rc = o.body ? store_eval_put(run->r->store, EVAL_OBJ_ITEM, &o, err) : err_set(err, ERR_NOMEM, "out of memory");
    if (!rc) {
        tally_item(&run->t, obj);
        run->stored[index] = true;
    }
    free(o.body);
    json_decref(obj);
    return rc;
}

static json_t *sampling(const Run *run, const char *key) {
    return json_object_get(json_object_get(run->ds, "sampling_params"), key);
}

/* The sample object of an output item for a generated answer (or a failed generation). */
static json_t *generated_sample(const Run *run, const GenSlot *g) {
    json_t *t = sampling(run, "temperature"), *p = sampling(run, "top_p"), *s = sampling(run, "seed"),
           *mt = sampling(run, "max_completion_tokens");
    json_t *out = json_array();
    if (g->text) json_array_append_new(out, json_pack("{s:s, s:s}", "role", "assistant", "content", g->text));
    return json_pack("{s:O, s:o, s:s, s:s, s:{s:I, s:I, s:I, s:I}, s:f, s:O, s:f, s:I}", "input", g->input, "output",
                     out, "finish_reason", g->finish ? g->finish : "", "model", run->model, "usage", "total_tokens",
                     (json_int_t)(g->prompt + g->completion), "completion_tokens", (json_int_t)g->completion,
                     "prompt_tokens", (json_int_t)g->prompt, "cached_tokens", (json_int_t)g->cached, "temperature",
                     json_is_number(t) ? json_number_value(t) : 1.0, "max_completion_tokens", mt ? mt : json_null(),
                     "top_p", json_is_number(p) ? json_number_value(p) : 1.0, "seed",
                     (json_int_t)(json_is_integer(s) ? json_integer_value(s) : 42));
}

/* ---- completions rows ---- */

/* The messages of row index: the template rendered with its item, or the item's referenced list. */
static json_t *row_messages(Run *run, json_t *item, Err *err) {
    json_t *im = json_object_get(run->ds, "input_messages");
    const char *type = json_string_value(json_object_get(im, "type"));
    if (type && strcmp(type, "item_reference") == 0) {
        const char *ref = json_string_value(json_object_get(im, "item_reference"));
        json_t *v = eval_template_lookup(item, ref + 5);
        if (!json_is_array(v)) return err_set(err, ERR_ARG, "%s is not a list of messages", ref), NULL;
        return json_deep_copy(v);
    }
    json_t *msgs = json_array(), *tmpl = json_object_get(im, "template");
    for (size_t i = 0; i < json_array_size(tmpl); i++) {
        json_t *m = json_array_get(tmpl, i);
        char *content;
        if (eval_template_render(json_string_value(json_object_get(m, "content")), item, NULL, &content, err)) {
            json_decref(msgs);
            return NULL;
        }
        const char *role = json_string_value(json_object_get(m, "role"));
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", strcmp(role, "developer") == 0 ? "system" : role,
                                              "content", content));
        free(content);
    }
    return msgs;
}

/* Queues row index on the inference thread in slot g; an error is the row's (stored errored). */
static int submit_row(Run *run, GenSlot *g, long long index, Err *err) {
    json_t *item = json_object_get(json_array_get(run->rows, (size_t)index), "item");
    memset(g, 0, sizeof *g);
    g->runner = run->r;
    g->index = index;
    g->input = row_messages(run, item, err);
    if (!g->input) return -1;
    json_t *body = json_pack("{s:s, s:O}", "model", run->model, "messages", g->input);
    static const char *const KEYS[] = {"temperature", "top_p", "seed", "max_completion_tokens", "response_format"};
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
        if (sampling(run, KEYS[i]) && !json_is_null(sampling(run, KEYS[i]))) json_object_set(body, KEYS[i], sampling(run, KEYS[i]));
    if (!json_object_get(body, "seed")) json_object_set_new(body, "seed", json_integer(42)); /* OpenAI's default here */
    long long bound = generation_default_max_tokens(run->r->srv);
    if (!json_object_get(body, "max_completion_tokens") && bound > 0)
        json_object_set_new(body, "max_completion_tokens", json_integer(bound));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    ChatRequest cr;
    ApiError e;
    int rc = text ? chat_request_parse(text, strlen(text), &cr, &e) : -1;
    free(text);
    if (rc) {
        chat_request_free(&cr);
        return err_set(err, ERR_ARG, "%s", text ? e.message : "out of memory");
    }
    InferRequest *req = calloc(1, sizeof *req);
    if (!req) {
        chat_request_free(&cr);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    generation_chat_request(&cr, &run->m, req);
    chat_request_free(&cr);
    req->cb = (InferCallbacks){on_piece, on_choice_done, on_done, is_cancelled};
    req->user = g;
    g->busy = true;
    inference_submit(run->r->srv->inference, req);
    return 0;
}

/* A finished slot's row graded and stored (unless the run is being cancelled or stopped). */
static int finish_slot(Run *run, GenSlot *g, Err *err) {
    int rc = 0;
    if (!cancelled(run->r)) {
        json_t *sample = generated_sample(run, g), *ns = g->status == 0 ? grading_sample_of_text(g->text) : NULL;
        json_t *error = g->status == 0 ? NULL : api_error_object("generation_failed", g->message);
        if (ns) json_object_set_new(ns, "model", json_string(run->model));
        rc = store_item(run, g->index, sample, ns, error, err);
        json_decref(ns);
        json_decref(sample);
    }
    json_decref(g->input);
    free(g->text);
    memset(g, 0, sizeof *g);
    return rc;
}

static int run_completions(Run *run, Err *err) {
    EvalRunner *r = run->r;
    size_t n = json_array_size(run->rows), next = 0;
    int rc = 0, busy = 0;
    for (;;) {
        while (!rc && busy < EVAL_RUNNER_WINDOW && next < n && !cancelled(r)) {
            if (run->stored[next]) {
                next++;
                continue;
            }
            GenSlot *g = NULL;
            for (int i = 0; i < EVAL_RUNNER_WINDOW && !g; i++)
                if (!r->slots[i].busy) g = &r->slots[i];
            Err re = {0};
            if (submit_row(run, g, (long long)next, &re) == 0) {
                busy++;
            } else { /* this row cannot be asked: errored */
                json_t *sample = json_pack("{s:o, s:o, s:s}", "input", g->input ? g->input : json_array(), "output",
                                           json_array(), "model", run->model);
                g->input = NULL;
                rc = store_item(run, (long long)next, sample, NULL, api_error_object("invalid_request", re.msg), err);
                json_decref(sample);
                if (!rc) rc = save_run(run, "in_progress", NULL, err);
            }
            next++;
        }
        if (busy == 0) return rc;
        pthread_mutex_lock(&r->mu);
        GenSlot *done = NULL;
        while (!done) {
            for (int i = 0; i < EVAL_RUNNER_WINDOW && !done; i++)
                if (r->slots[i].busy && r->slots[i].done) done = &r->slots[i];
            if (done) break;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&r->cond, &r->mu, &until);
            if (clock_wall_ms() - run->saved_at < r->lease_ms / 3) continue;
            bool going = !r->cancel_current && !r->stop;
            pthread_mutex_unlock(&r->mu); /* slow rows: the lease is renewed meanwhile */
            if (!rc && going) rc = save_run(run, "in_progress", NULL, err);
            pthread_mutex_lock(&r->mu);
            run->saved_at = clock_wall_ms(); /* a failed write is not retried every second */
        }
        pthread_mutex_unlock(&r->mu);
        busy--;
        int frc = finish_slot(run, done, err);
        if (!rc && !frc && !cancelled(r)) frc = save_run(run, "in_progress", NULL, err);
        if (!rc) rc = frc;
    }
}

static int run_jsonl(Run *run, Err *err) {
    int rc = 0;
    for (size_t i = 0; !rc && i < json_array_size(run->rows) && !cancelled(run->r); i++) {
        if (run->stored[i]) continue;
        json_t *given = json_object_get(json_array_get(run->rows, i), "sample");
        json_t *sample = json_is_object(given) ? json_deep_copy(given) : json_object();
        rc = store_item(run, (long long)i, sample, json_is_object(given) ? given : NULL, NULL, err);
        json_decref(sample);
        if (!rc) rc = save_run(run, "in_progress", NULL, err);
    }
    return rc;
}

/* ---- a run ---- */

/* Marks which rows have an output item already and counts them. */
static int load_done(Run *run, Err *err) {
    const char *id = json_string_value(json_object_get(run->run, "id"));
    EvalListQuery q = {.project = run->project, .parent = id, .limit = STORE_LIST_MAX, .ascending = true};
    char after[STORE_ID_MAX] = "";
    for (bool more = true; more;) {
        EvalObject *list;
        int n;
        q.after = after[0] ? after : NULL;
        if (store_eval_list(run->r->store, EVAL_OBJ_ITEM, &q, &list, &n, &more, err)) return -1;
        for (int i = 0; i < n; i++) {
            json_t *o = json_loads(list[i].body, 0, NULL);
            if (o && list[i].item_index >= 0 && (size_t)list[i].item_index < json_array_size(run->rows)) {
                run->stored[list[i].item_index] = true;
                tally_item(&run->t, o);
            }
            json_decref(o);
        }
        if (n) snprintf(after, sizeof after, "%s", list[n - 1].id);
        store_eval_list_free(list, n);
    }
    return 0;
}

static int prepare(Run *run, Err *err) {
    json_t *source = json_object_get(run->ds, "source");
    const char *type = json_string_value(json_object_get(source, "type"));
    int rc = 0;
    if (type && strcmp(type, "file_id") == 0) {
        rc = file_rows(run, json_string_value(json_object_get(source, "id")), err);
    } else {
        run->rows = json_incref(json_object_get(source, "content"));
    }
    if (!rc && !json_is_array(run->rows)) rc = err_set(err, ERR_FORMAT, "the run has no rows");
    if (!rc) {
        run->stored = calloc(json_array_size(run->rows) + 1, sizeof *run->stored);
        if (!run->stored) rc = err_set(err, ERR_NOMEM, "out of memory");
    }
    if (!rc && run->model) {
        int found = generation_find_model(run->r->srv, run->r->store, run->project, run->model, &run->m, err);
        if (found == STORE_NOT_FOUND) rc = err_set(err, ERR_ARG, "the model '%s' does not exist", run->model);
        else if (found) rc = -1;
    }
    if (!rc) rc = load_done(run, err);
    return rc;
}

static void carry_out(EvalRunner *r, const EvalObject *rec) {
    Run run = {.r = r};
    Err err = {0};
    snprintf(run.project, sizeof run.project, "%s", rec->project);
    run.run = json_loads(rec->body, 0, NULL);
    EvalObject ev;
    int rc = run.run ? store_eval_get(r->store, EVAL_OBJ_EVAL, rec->parent, &ev, &err) : -1;
    if (rc == 0) {
        run.eval = json_loads(ev.body, 0, NULL);
        store_eval_clear(&ev);
    }
    if (!run.eval) {
        json_decref(run.run);
        return; /* its eval is gone (being deleted) */
    }
    run.criteria = json_object_get(run.eval, "testing_criteria");
    run.item_schema = json_object_get(json_object_get(json_object_get(json_object_get(run.eval, "data_source_config"),
                                                                      "schema"), "properties"), "item");
    run.t.n_crit = json_array_size(run.criteria) < EVAL_MAX_CRITERIA ? json_array_size(run.criteria) : EVAL_MAX_CRITERIA;
    run.ds = json_object_get(run.run, "data_source");
    const char *type = json_string_value(json_object_get(run.ds, "type"));
    bool completions = type && strcmp(type, "completions") == 0;
    run.model = completions ? json_string_value(json_object_get(run.ds, "model")) : NULL;
    if (!run.model) run.model = "";
    if (!completions) run.model = NULL;
    rc = prepare(&run, &err);
    if (rc) {
        save_run(&run, "failed", api_error_object(err.code == ERR_IO || err.code == ERR_NOMEM ? "server_error" : "invalid_run", err.msg), NULL);
    } else {
        if (!run.model) run.model = "";
        rc = save_run(&run, "in_progress", NULL, &err);
        if (!rc) rc = completions ? run_completions(&run, &err) : run_jsonl(&run, &err);
        pthread_mutex_lock(&r->mu);
        bool canceled = r->cancel_current, stopping = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (canceled) save_run(&run, "canceled", NULL, NULL);
        else if (stopping) ; /* stays in progress: the next start resumes it */
        else if (rc) save_run(&run, "failed", api_error_object("server_error", err.msg), NULL);
        else save_run(&run, "completed", NULL, NULL);
    }
    json_decref(run.rows);
    free(run.stored);
    json_decref(run.eval);
    json_decref(run.run);
}

/* The next run to carry out, claimed for this node (store_eval_run_claim): one in progress whose
 * node stopped renewing its lease (or this node's own, cut off by a restart), else the oldest
 * queued. Sets r->current. */
static bool pick(EvalRunner *r, EvalObject *out) {
    bool found = false;
    pthread_mutex_lock(&r->mu);
    Err err = {0};
    if (!r->stop && store_eval_run_claim(r->store, r->node, clock_wall_ms(), r->lease_ms, out, &err) == 0) {
        found = true;
        snprintf(r->current, sizeof r->current, "%s", out->id);
        snprintf(r->current_eval, sizeof r->current_eval, "%s", out->parent);
        r->cancel_current = false;
    }
    pthread_mutex_unlock(&r->mu);
    return found;
}

static void *runner_main(void *arg) {
    EvalRunner *r = arg;
    for (;;) {
        EvalObject rec;
        while (pick(r, &rec)) {
            carry_out(r, &rec);
            store_eval_clear(&rec);
            pthread_mutex_lock(&r->mu);
            r->current[0] = r->current_eval[0] = 0;
            r->cancel_current = false;
            pthread_cond_broadcast(&r->released);
            pthread_mutex_unlock(&r->mu);
        }
        pthread_mutex_lock(&r->mu);
        if (!r->work && !r->stop) { /* woken by a run created here; another node's lapsed runs are looked for */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += EVAL_RUNNER_POLL_S;
            pthread_cond_timedwait(&r->cond, &r->mu, &until);
        }
        r->work = false;
        bool stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop) return NULL;
    }
}

int eval_runner_start(Server *srv, EvalRunner **out, Err *err) {
    EvalRunner *r = calloc(1, sizeof *r);
    if (!r) return err_set(err, ERR_NOMEM, "out of memory");
    r->srv = srv;
    snprintf(r->node, sizeof r->node, "%s", srv->node_id);
    r->lease_ms = 1000LL * (srv->cfg.lease_s > 0 ? srv->cfg.lease_s : JOBS_LEASE_DEFAULT_S);
    if (store_open(srv->data_dir, srv->cfg.database, &r->store, err)) {
        free(r);
        return -1;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    pthread_cond_init(&r->released, NULL);
    if (pthread_create(&r->thread, NULL, runner_main, r) != 0) {
        eval_runner_stop(r);
        return err_set(err, ERR_NOMEM, "cannot start the eval runner thread");
    }
    r->started = true;
    *out = r;
    return 0;
}

void eval_runner_wake(EvalRunner *r) {
    pthread_mutex_lock(&r->mu);
    r->work = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

/* Under r->mu: cancels what `match` says (the current run's id or eval id): a current run stops
 * and this waits for it to be let go. */
static void cancel_current_locked(EvalRunner *r, const char *field, const char *id) {
    while (strcmp(field, id) == 0 && field[0]) {
        r->cancel_current = true;
        pthread_cond_broadcast(&r->cond);
        pthread_cond_wait(&r->released, &r->mu);
    }
}

int eval_runner_cancel(EvalRunner *r, Store *s, const char *run_id, Err *err) {
    pthread_mutex_lock(&r->mu);
    int rc = 0;
    if (strcmp(r->current, run_id) == 0) {
        cancel_current_locked(r, r->current, run_id);
    } else {
        EvalObject o;
        rc = store_eval_get(s, EVAL_OBJ_RUN, run_id, &o, err);
        /* queued, or carried out by another node: that node lets it go at its next write */
        if (rc == 0 && (strcmp(o.status, "queued") == 0 || strcmp(o.status, "in_progress") == 0)) {
            json_t *run = json_loads(o.body, 0, NULL);
            json_object_set_new(run, "status", json_string("canceled"));
            char *body = run ? json_dumps(run, JSON_COMPACT) : NULL;
            rc = body ? store_eval_update(s, EVAL_OBJ_RUN, run_id, "canceled", body, err) : err_set(err, ERR_NOMEM, "out of memory");
            free(body);
            json_decref(run);
        }
        if (rc == 0) store_eval_clear(&o);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int eval_runner_release_eval(EvalRunner *r, Store *s, const char *eval_id, Err *err) {
    (void)s, (void)err;
    pthread_mutex_lock(&r->mu);
    cancel_current_locked(r, r->current_eval, eval_id);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

void eval_runner_stop(EvalRunner *r) {
    if (!r) return;
    if (r->started) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
        Err err = {0}; /* a run left in progress goes on at once on another node (or here, restarted) */
        if (store_eval_runs_release(r->store, r->node, &err))
            fprintf(stderr, "ftune serve: cannot release the eval runs: %s\n", err.msg);
    }
    store_close(r->store);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cond);
    pthread_cond_destroy(&r->released);
    free(r);
}
