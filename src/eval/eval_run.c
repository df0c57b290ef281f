/* eval_run.c: loading the held-out set and running one candidate over it (see eval_run.h). A local
 * candidate reaches the engine through the public API (ftune.h): one chat session per candidate,
 * reused for every example. */
#include "eval_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../ftune.h"
#include "eval_internal.h"

/* ---- the held-out set ---- */

int eval_set_load(EvalReport *r, const char *path, long limit, bool prompts_only, EvalSet *set, Err *err) {
    memset(set, 0, sizeof *set);
    snprintf(r->data_path, sizeof r->data_path, "%s", path);
    json_t **all;
    long n;
    if (eval_read_chat_jsonl(path, limit > 0 ? limit : EVAL_MAX_EXAMPLES, &all, &n, err)) return -1;
    if (n == 0) {
        free(all);
        return err_set(err, ERR_FORMAT, "%s: no examples", path);
    }
    r->expected = calloc(n, sizeof(char *));
    r->expected_norm = calloc(n, sizeof(char *));
    set->prompts = all;
    set->n = r->n = n;
    if (!r->expected || !r->expected_norm) return err_set(err, ERR_NOMEM, "out of memory");
    for (long i = 0; i < n; i++) {
        json_t *msgs = all[i];
        long last = -1;
        for (size_t k = 0; k < json_array_size(msgs); k++) {
            json_t *role = json_object_get(json_array_get(msgs, k), "role");
            if (json_is_string(role) && strcmp(json_string_value(role), "assistant") == 0) last = (long)k;
        }
        /* a prompt to record an answer to may end before any assistant message (all of it is the
         * prompt) or with one (replaced by the answer recorded) */
        long size = (long)json_array_size(msgs);
        bool unanswered = prompts_only && last != size - 1;
        if (unanswered) last = size;
        json_t *content = last < size ? json_object_get(json_array_get(msgs, last), "content") : NULL;
        const char *answer = unanswered ? "" : json_is_string(content) ? json_string_value(content) : NULL;
        if (last < 1 || !answer)
            return err_set(err, ERR_FORMAT,
                           "%s: example %ld: needs a prompt followed by an assistant message whose content is a string "
                           "(the expected answer)",
                           path, i + 1);
        r->expected[i] = strdup(answer);
        r->expected_norm[i] = eval_normalise_answer_dup(r->expected[i], r->norm);
        if (!r->expected[i] || !r->expected_norm[i]) return err_set(err, ERR_NOMEM, "out of memory");
        json_t *prompt = json_array();
        for (long k = 0; k < last; k++) json_array_append(prompt, json_array_get(msgs, k));
        json_decref(msgs);
        all[i] = prompt;
    }
    return 0;
}

void eval_set_free(EvalSet *set) {
    for (long i = 0; set->prompts && i < set->n; i++) json_decref(set->prompts[i]);
    free(set->prompts);
    memset(set, 0, sizeof *set);
}

/* ---- generating one answer ---- */

typedef struct {
    FtModel *model;       /* local */
    FtAdapter *adapter;   /* or NULL */
    FtSession *session;
    EvalHttp http;        /* remote */
} Runner;

typedef struct {
    char *text;
    int prompt_tokens, completion_tokens;
    char error[512];
    bool fatal;           /* the candidate cannot go on (endpoint unreachable, model unknown) */
} Answer;

static int local_answer(Runner *rn, json_t *msgs, const EvalPromptStyle *ps, const EvalRunOptions *o, Answer *a) {
    size_t n = json_array_size(msgs);
    FtChatMessage *cm = calloc(n ? n : 1, sizeof *cm);
    if (!cm) return -1;
    for (size_t k = 0; k < n; k++) {
        json_t *m = json_array_get(msgs, k), *content = json_object_get(m, "content");
        cm[k].role = json_string_value(json_object_get(m, "role"));
        cm[k].content = json_is_string(content) ? json_string_value(content) : "";
        if (!cm[k].role) cm[k].role = "user";
    }
    FtGenParams p;
    ft_gen_params_default(rn->model, &p);
    p.max_tokens = o->max_tokens;
    p.temperature = o->temperature;
    p.seed = o->seed;
    p.grammar = ps->grammar;
    FtGenResult res;
    FtError err = {0};
    int rc = ft_session_generate_chat(rn->session, rn->adapter, cm, (int)n, &p, NULL, NULL, &res, &err);
    free(cm);
    if (rc) {
        snprintf(a->error, sizeof a->error, "%s", err.msg);
        return 0;
    }
    a->text = res.text; /* taken over: released with free */
    a->prompt_tokens = res.n_prompt;
    a->completion_tokens = res.n_completion;
    return 0;
}

static int remote_answer(Runner *rn, const EvalCandidate *c, json_t *msgs, const EvalPromptStyle *ps,
                         const EvalRunOptions *o, Answer *a) {
    json_t *req = json_pack("{s:s, s:O, s:f, s:i, s:I}", "model", c->model, "messages", msgs, "temperature",
                            (double)o->temperature, "max_tokens", o->max_tokens, "seed", (json_int_t)o->seed);
    if (!req) return -1;
    if (ps->response_format) json_object_set(req, "response_format", ps->response_format);
    long status;
    json_t *root;
    int rc = eval_http_json(&rn->http, "POST", c->base_url, "/chat/completions", req, &status, &root, a->error,
                            sizeof a->error, &a->fatal);
    json_decref(req);
    if (rc) return 0;
    json_t *message = json_object_get(json_array_get(json_object_get(root, "choices"), 0), "message");
    json_t *content = json_object_get(message, "content"), *usage = json_object_get(root, "usage");
    if (status != 200) {
        snprintf(a->error, sizeof a->error, "%.200s/chat/completions: HTTP %ld: %.250s", c->base_url, status,
                 eval_http_error_message(root));
        a->fatal = status == 401 || status == 403 || status == 404;
    } else if (!json_is_string(content) && !json_is_null(content)) {
        snprintf(a->error, sizeof a->error, "%.200s: the response has no choices[0].message.content", c->base_url);
    } else {
        const char *text = json_is_string(content) ? json_string_value(content) : "";
        a->text = ps->response_format ? eval_label_of_reply(text) : strdup(text); /* labels: {"label": ...} */
        if (!a->text) snprintf(a->error, sizeof a->error, "the reply is not {\"label\": ...}: %.200s", text);
        a->prompt_tokens = (int)json_integer_value(json_object_get(usage, "prompt_tokens"));
        a->completion_tokens = (int)json_integer_value(json_object_get(usage, "completion_tokens"));
    }
    json_decref(root);
    return 0;
}

/* Loads what the candidate needs: model + adapter + state, or an HTTP handle. */
static int runner_open(EvalCandidate *c, const EvalRunOptions *o, Runner *rn, Err *err) {
    memset(rn, 0, sizeof *rn);
    if (c->base_url[0]) return eval_http_open(&rn->http, c->api_key, err);
    FtError fe = {0};
    if (ft_model_load(c->model, &rn->model, &fe) ||
        ft_model_set_precision(rn->model, (FtPrecision)o->precision, c->precision, &fe) ||
        ft_model_lay_out_tiles(rn->model, &fe))
        return err_set(err, fe.code, "%s", fe.msg);
    FtModelInfo info;
    ft_model_info(rn->model, &info);
    /* the whole context the model was built for: a held-out prompt is never cut short */
    if ((c->adapter[0] && ft_adapter_load(rn->model, c->adapter, &rn->adapter, &fe)) ||
        ft_session_new(rn->model, info.context_length, o->threads, &rn->session, &fe))
        return err_set(err, fe.code, "%s", fe.msg);
    return 0;
}

static void runner_close(Runner *rn) {
    ft_session_free(rn->session);
    ft_adapter_free(rn->adapter);
    ft_model_free(rn->model);
    eval_http_close(&rn->http);
}

int eval_alloc_results(EvalCandidate *c, long n) {
    c->predictions = calloc(n, sizeof(char *));
    c->correct = calloc(n, sizeof(bool));
    c->failed = calloc(n, sizeof(bool));
    c->prompt_tokens = calloc(n, sizeof(int));
    c->completion_tokens = calloc(n, sizeof(int));
    c->latency_s = calloc(n, sizeof(double));
    return c->predictions && c->correct && c->failed && c->prompt_tokens && c->completion_tokens && c->latency_s ? 0 : -1;
}

int eval_run_candidate(const EvalSet *set, EvalCandidate *c, const EvalRunOptions *o) {
    if (eval_alloc_results(c, set->n)) return -1;
    Err err = {0};
    EvalPromptStyle ps;
    Runner rn = {0};
    if (eval_style_load(c, o, &ps, &err) || runner_open(c, o, &rn, &err)) {
        snprintf(c->error, sizeof c->error, "%s", err.msg);
        runner_close(&rn);
        eval_style_free(&ps);
        return 0;
    }
    /* the examples' time: after the one-time setup (a local model's load, a retrieval pool's
     * embedding); an example's latency includes its retrieval (the query's embedding and search) */
    double t0 = clock_now_s();
    int rc = 0;
    for (long i = 0; i < set->n && !rc && !(o->stop && *o->stop); i++) {
        Err pe = {0};
        double t = clock_now_s();
        json_t *msgs = eval_build_prompt(&ps, set->prompts[i], &pe);
        Answer a = {0};
        if (!msgs) snprintf(a.error, sizeof a.error, "%s", pe.msg); /* retrieval failed: this example fails */
        else rc = c->base_url[0] ? remote_answer(&rn, c, msgs, &ps, o, &a) : local_answer(&rn, msgs, &ps, o, &a);
        c->latency_s[i] = clock_now_s() - t;
        json_decref(msgs);
        if (rc) break;
        if (a.fatal && i == 0) { /* nothing worked: the candidate cannot run */
            snprintf(c->error, sizeof c->error, "%s", a.error);
            break;
        }
        c->n_done = i + 1;
        if (!a.text) {
            c->failed[i] = true;
            if (!c->n_failed++) snprintf(c->first_failure, sizeof c->first_failure, "example %ld: %.450s", i + 1, a.error);
        } else {
            c->predictions[i] = a.text;
            c->prompt_tokens[i] = a.prompt_tokens;
            c->completion_tokens[i] = a.completion_tokens;
        }
        if (o->progress) o->progress(o->user, c, c->n_done, set->n);
    }
    c->wall_s = clock_now_s() - t0;
    runner_close(&rn);
    eval_style_free(&ps);
    return rc;
}
