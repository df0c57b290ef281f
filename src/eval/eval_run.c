/* eval_run.c: loading the held-out set and running one candidate over it (see eval_run.h). A local
 * candidate reaches the engine through the public API (ftune.h): one chat session per candidate,
 * reused for every example. */
#include "eval_run.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/fileio.h"
#include "../data/jsonl_reader.h"
#include "../data/validate.h"
#include "../ftune.h"

/* ---- the held-out set ---- */

/* Reads a chat JSONL file (the project's JSONL reader: line numbers, BOM, CRLF) into a list of
 * message arrays, one per non-blank line. */
static int read_chat_jsonl(const char *path, long limit, json_t ***out, long *n_out, Err *err) {
    JsonlReader *rd;
    if (jsonl_open(path, VALIDATE_LINE_MAX, &rd, err)) return -1;
    json_t **list = NULL;
    long n = 0, cap = 0;
    JsonlLine line;
    int rc = 0, more;
    while (!rc && (limit <= 0 || n < limit) && (more = jsonl_next(rd, &line, err)) != 0) {
        if (more < 0) {
            rc = -1;
            break;
        }
        if (line.too_long) {
            rc = err_set(err, ERR_FORMAT, "%s: line %ld: longer than %zu bytes", path, line.number, VALIDATE_LINE_MAX);
            break;
        }
        size_t k = 0;
        while (k < line.len && (line.text[k] == ' ' || line.text[k] == '\t')) k++;
        if (k == line.len) continue;
        json_error_t je;
        json_t *ex = json_loadb(line.text, line.len, 0, &je);
        json_t *msgs = ex ? json_object_get(ex, "messages") : NULL;
        if (!ex) rc = err_set(err, ERR_FORMAT, "%s: line %ld: not JSON: %s", path, line.number, je.text);
        else if (!json_is_array(msgs) || json_array_size(msgs) == 0)
            rc = err_set(err, ERR_FORMAT, "%s: line %ld: no \"messages\" list", path, line.number);
        if (!rc && n == cap) {
            cap = cap ? cap * 2 : 256;
            json_t **grown = realloc(list, cap * sizeof *list);
            if (!grown) rc = err_set(err, ERR_NOMEM, "out of memory");
            else list = grown;
        }
        if (!rc) {
            json_incref(msgs);
            list[n++] = msgs;
        }
        json_decref(ex);
    }
    jsonl_close(rd);
    if (rc) {
        for (long i = 0; i < n; i++) json_decref(list[i]);
        free(list);
        return -1;
    }
    *out = list;
    *n_out = n;
    return 0;
}

int eval_set_load(EvalReport *r, const char *path, long limit, bool prompts_only, EvalSet *set, Err *err) {
    memset(set, 0, sizeof *set);
    snprintf(r->data_path, sizeof r->data_path, "%s", path);
    json_t **all;
    long n;
    if (read_chat_jsonl(path, limit > 0 ? limit : EVAL_MAX_EXAMPLES, &all, &n, err)) return -1;
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

/* ---- a candidate's prompts ---- */

typedef struct {
    char *system;          /* replacement system prompt, or NULL */
    json_t **fewshot;      /* examples' messages (system messages dropped) */
    long n_fewshot;
} PromptStyle;

static int style_load(const EvalCandidate *c, PromptStyle *ps, Err *err) {
    memset(ps, 0, sizeof *ps);
    size_t len;
    if (c->system_file[0] && file_read_all(c->system_file, (size_t)1 << 24, &ps->system, &len, err)) return -1;
    if (ps->system)
        while (len > 0 && (ps->system[len - 1] == '\n' || ps->system[len - 1] == '\r')) ps->system[--len] = 0;
    if (c->fewshot_file[0] && read_chat_jsonl(c->fewshot_file, 0, &ps->fewshot, &ps->n_fewshot, err)) return -1;
    return 0;
}

static void style_free(PromptStyle *ps) {
    free(ps->system);
    for (long i = 0; i < ps->n_fewshot; i++) json_decref(ps->fewshot[i]);
    free(ps->fewshot);
}

static bool is_system(json_t *m) {
    json_t *role = json_object_get(m, "role");
    return json_is_string(role) &&
           (strcmp(json_string_value(role), "system") == 0 || strcmp(json_string_value(role), "developer") == 0);
}

/* The messages sent for one example: system (replaced when the candidate has one), few-shot
 * turns, then the example's own turns. */
static json_t *build_prompt(const PromptStyle *ps, json_t *prompt) {
    json_t *out = json_array();
    if (ps->system) {
        json_array_append_new(out, json_pack("{s:s, s:s}", "role", "system", "content", ps->system));
    } else {
        for (size_t k = 0; k < json_array_size(prompt); k++)
            if (is_system(json_array_get(prompt, k))) json_array_append(out, json_array_get(prompt, k));
    }
    for (long f = 0; f < ps->n_fewshot; f++)
        for (size_t k = 0; k < json_array_size(ps->fewshot[f]); k++)
            if (!is_system(json_array_get(ps->fewshot[f], k))) json_array_append(out, json_array_get(ps->fewshot[f], k));
    for (size_t k = 0; k < json_array_size(prompt); k++)
        if (!is_system(json_array_get(prompt, k))) json_array_append(out, json_array_get(prompt, k));
    return out;
}

/* ---- generating one answer ---- */

typedef struct {
    FtModel *model;       /* local */
    FtAdapter *adapter;   /* or NULL */
    FtSession *session;
    CURL *curl;           /* remote */
    struct curl_slist *headers;
} Runner;

typedef struct {
    char *text;
    int prompt_tokens, completion_tokens;
    char error[512];
    bool fatal;           /* the candidate cannot go on (endpoint unreachable, model unknown) */
} Answer;

static int local_answer(Runner *rn, json_t *msgs, const EvalRunOptions *o, Answer *a) {
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

typedef struct {
    char *buf;
    size_t len;
} Body;

static size_t on_body(char *data, size_t size, size_t nmemb, void *user) {
    Body *b = user;
    size_t n = size * nmemb;
    char *grown = realloc(b->buf, b->len + n + 1);
    if (!grown) return 0;
    memcpy(grown + b->len, data, n);
    b->buf = grown;
    b->len += n;
    b->buf[b->len] = 0;
    return n;
}

static int remote_answer(Runner *rn, const EvalCandidate *c, json_t *msgs, const EvalRunOptions *o, Answer *a) {
    json_t *req = json_pack("{s:s, s:O, s:f, s:i, s:I}", "model", c->model, "messages", msgs, "temperature",
                            (double)o->temperature, "max_tokens", o->max_tokens, "seed", (json_int_t)o->seed);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!body) return -1;
    char url[1100];
    size_t ul = strlen(c->base_url);
    snprintf(url, sizeof url, "%.*s/chat/completions", (int)(ul && c->base_url[ul - 1] == '/' ? ul - 1 : ul),
             c->base_url);
    Body resp = {0};
    curl_easy_setopt(rn->curl, CURLOPT_URL, url);
    curl_easy_setopt(rn->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(rn->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(rn->curl, CURLOPT_WRITEDATA, &resp);
    CURLcode cc = curl_easy_perform(rn->curl);
    free(body);
    long status = 0;
    curl_easy_getinfo(rn->curl, CURLINFO_RESPONSE_CODE, &status);
    json_t *root = cc == CURLE_OK && resp.buf ? json_loads(resp.buf, 0, NULL) : NULL;
    json_t *err_msg = json_object_get(json_object_get(root, "error"), "message");
    json_t *message = json_object_get(json_array_get(json_object_get(root, "choices"), 0), "message");
    json_t *content = json_object_get(message, "content");
    if (cc != CURLE_OK) {
        snprintf(a->error, sizeof a->error, "%.200s: %s", url, curl_easy_strerror(cc));
        a->fatal = cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_UNSUPPORTED_PROTOCOL ||
                   cc == CURLE_URL_MALFORMAT;
    } else if (status != 200) {
        snprintf(a->error, sizeof a->error, "%.200s: HTTP %ld: %.250s", url, status,
                 json_is_string(err_msg) ? json_string_value(err_msg) : "(no error message)");
        a->fatal = status == 401 || status == 403 || status == 404;
    } else if (!json_is_string(content) && !json_is_null(content)) {
        snprintf(a->error, sizeof a->error, "%.200s: the response has no choices[0].message.content", url);
    } else {
        a->text = strdup(json_is_string(content) ? json_string_value(content) : "");
        json_t *usage = json_object_get(root, "usage");
        a->prompt_tokens = (int)json_integer_value(json_object_get(usage, "prompt_tokens"));
        a->completion_tokens = (int)json_integer_value(json_object_get(usage, "completion_tokens"));
    }
    json_decref(root);
    free(resp.buf);
    return 0;
}

/* Loads what the candidate needs: model + adapter + state, or an HTTP handle. */
static int runner_open(EvalCandidate *c, const EvalRunOptions *o, Runner *rn, Err *err) {
    memset(rn, 0, sizeof *rn);
    if (c->base_url[0]) {
        rn->curl = curl_easy_init();
        if (!rn->curl) return err_set(err, ERR_NOMEM, "cannot start an HTTP client");
        char auth[300];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->api_key[0] ? c->api_key : "unused");
        rn->headers = curl_slist_append(rn->headers, "Content-Type: application/json");
        rn->headers = curl_slist_append(rn->headers, auth);
        curl_easy_setopt(rn->curl, CURLOPT_HTTPHEADER, rn->headers);
        curl_easy_setopt(rn->curl, CURLOPT_TIMEOUT, (long)EVAL_HTTP_TIMEOUT_S);
        curl_easy_setopt(rn->curl, CURLOPT_NOSIGNAL, 1L);
        return 0;
    }
    FtError fe = {0};
    if (ft_model_load(c->model, &rn->model, &fe) ||
        ft_model_set_precision(rn->model, (FtPrecision)o->precision, c->precision, &fe))
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
    if (rn->curl) curl_easy_cleanup(rn->curl);
    curl_slist_free_all(rn->headers);
}

static int alloc_results(EvalCandidate *c, long n) {
    c->predictions = calloc(n, sizeof(char *));
    c->correct = calloc(n, sizeof(bool));
    c->failed = calloc(n, sizeof(bool));
    c->prompt_tokens = calloc(n, sizeof(int));
    c->completion_tokens = calloc(n, sizeof(int));
    c->latency_s = calloc(n, sizeof(double));
    return c->predictions && c->correct && c->failed && c->prompt_tokens && c->completion_tokens && c->latency_s ? 0 : -1;
}

int eval_run_candidate(const EvalSet *set, EvalCandidate *c, const EvalRunOptions *o) {
    if (alloc_results(c, set->n)) return -1;
    Err err = {0};
    PromptStyle ps;
    Runner rn = {0};
    double t0 = clock_now_s();
    if (style_load(c, &ps, &err) || runner_open(c, o, &rn, &err)) {
        snprintf(c->error, sizeof c->error, "%s", err.msg);
        runner_close(&rn);
        style_free(&ps);
        return 0;
    }
    int rc = 0;
    for (long i = 0; i < set->n && !rc && !(o->stop && *o->stop); i++) {
        json_t *msgs = build_prompt(&ps, set->prompts[i]);
        Answer a = {0};
        double t = clock_now_s();
        rc = c->base_url[0] ? remote_answer(&rn, c, msgs, o, &a) : local_answer(&rn, msgs, o, &a);
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
    style_free(&ps);
    return rc;
}
