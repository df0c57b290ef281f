/* eval_prompts.c: `ftune eval`'s inputs: chat JSONL files, a candidate's prompt style and the
 * messages it sends per example (see eval_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../data/jsonl_reader.h"
#include "../data/validate.h"
#include "eval_internal.h"
#include "store_context.h"

/* Reads a chat JSONL file (the project's JSONL reader: line numbers, BOM, CRLF) into a list of
 * message arrays, one per non-blank line. */
int eval_read_chat_jsonl(const char *path, long limit, json_t ***out, long *n_out, Err *err) {
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


/* The distinct final assistant answers of a chat JSONL, in order of first appearance. */
static int labels_load(const char *path, json_t **out, Err *err) {
    json_t **examples;
    long n;
    if (eval_read_chat_jsonl(path, 0, &examples, &n, err)) return -1;
    json_t *labels = json_array();
    int rc = 0;
    for (long i = 0; i < n; i++) {
        json_t *last = json_array_get(examples[i], json_array_size(examples[i]) - 1);
        json_t *role = json_object_get(last, "role"), *content = json_object_get(last, "content");
        if (!rc && (!json_is_string(role) || strcmp(json_string_value(role), "assistant") != 0 || !json_is_string(content)))
            rc = err_set(err, ERR_FORMAT, "%s: example %ld: the last message is not an assistant answer (a label)", path,
                         i + 1);
        bool seen = false;
        for (size_t k = 0; !rc && k < json_array_size(labels) && !seen; k++)
            seen = json_equal(json_array_get(labels, k), content);
        if (!rc && !seen) json_array_append(labels, content);
        json_decref(examples[i]);
    }
    free(examples);
    if (!rc && json_array_size(labels) == 0) rc = err_set(err, ERR_FORMAT, "%s: no labels", path);
    if (rc) json_decref(labels);
    else *out = labels;
    return rc;
}

/* The labels as what the candidate's generation takes: a grammar, or a response format. */
static int labels_constraint(EvalPromptStyle *ps, bool remote, Err *err) {
    size_t n = json_array_size(ps->labels);
    if (remote) {
        ps->response_format = json_pack("{s:s, s:{s:s, s:b, s:{s:s, s:{s:{s:s, s:O}}, s:[s], s:b}}}", "type", "json_schema",
                                        "json_schema", "name", "label", "strict", 1, "schema", "type", "object",
                                        "properties", "label", "type", "string", "enum", ps->labels, "required", "label",
                                        "additionalProperties", 0);
        return ps->response_format ? 0 : err_set(err, ERR_NOMEM, "out of memory");
    }
    const char **choices = calloc(n, sizeof *choices);
    if (!choices) return err_set(err, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) choices[i] = json_string_value(json_array_get(ps->labels, i));
    FtError fe = {0};
    int rc = ft_grammar_choices(choices, (int)n, &ps->grammar, &fe);
    free(choices);
    return rc ? err_set(err, fe.code, "%s", fe.msg) : 0;
}

/* The candidate's retrieval pool, embedded. */
static int pool_load(const EvalCandidate *c, const EvalRunOptions *o, EvalPromptStyle *ps, Err *err) {
    json_t **pool;
    long n;
    if (eval_read_chat_jsonl(c->retrieve_file, 0, &pool, &n, err)) return -1;
    ps->nearest = calloc(1, sizeof *ps->nearest);
    int rc = ps->nearest ? nearest_build(o->embedding_model, pool, n, o->threads, ps->nearest, err)
                         : err_set(err, ERR_NOMEM, "out of memory");
    if (rc) {
        free(ps->nearest);
        ps->nearest = NULL;
    }
    for (long i = 0; i < n; i++) json_decref(pool[i]);
    free(pool);
    ps->k = o->k > 0 ? o->k : 3;
    return rc;
}

int eval_style_load(const EvalCandidate *c, const EvalRunOptions *o, EvalPromptStyle *ps, Err *err) {
    memset(ps, 0, sizeof *ps);
    size_t len;
    if (c->system_file[0] && file_read_all(c->system_file, (size_t)1 << 24, &ps->system, &len, err)) return -1;
    if (ps->system)
        while (len > 0 && (ps->system[len - 1] == '\n' || ps->system[len - 1] == '\r')) ps->system[--len] = 0;
    if (c->fewshot_file[0] && eval_read_chat_jsonl(c->fewshot_file, 0, &ps->fewshot, &ps->n_fewshot, err)) return -1;
    if (c->labels_file[0] && (labels_load(c->labels_file, &ps->labels, err) || labels_constraint(ps, c->base_url[0], err)))
        return -1;
    if (c->retrieve_file[0] && pool_load(c, o, ps, err)) return -1;
    if (c->retrieve_store[0]) {
        ps->store_http = calloc(1, sizeof *ps->store_http);
        if (!ps->store_http) return err_set(err, ERR_NOMEM, "out of memory");
        bool own_url = c->store_url[0] != 0;
        if (eval_http_open(ps->store_http, own_url ? c->store_api_key : c->api_key, err)) {
            free(ps->store_http);
            ps->store_http = NULL;
            return -1;
        }
        ps->store = c->retrieve_store;
        ps->store_url = own_url ? c->store_url : c->base_url;
        ps->k = o->k > 0 ? o->k : 3;
    }
    return 0;
}

void eval_style_free(EvalPromptStyle *ps) {
    free(ps->system);
    json_decref(ps->labels);
    json_decref(ps->response_format);
    ft_grammar_free(ps->grammar);
    if (ps->nearest) nearest_free(ps->nearest);
    free(ps->nearest);
    if (ps->store_http) eval_http_close(ps->store_http);
    free(ps->store_http);
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
static void append_turns(json_t *out, json_t *example) {
    for (size_t k = 0; k < json_array_size(example); k++)
        if (!is_system(json_array_get(example, k))) json_array_append(out, json_array_get(example, k));
}

json_t *eval_build_prompt(const EvalPromptStyle *ps, json_t *prompt, Err *err) {
    long near[64];
    int n_near = 0;
    if (ps->nearest && (n_near = nearest_find(ps->nearest, prompt, ps->k < 64 ? ps->k : 64, -1, near, err)) < 0)
        return NULL;
    json_t *out = json_array();
    if (ps->system) {
        json_array_append_new(out, json_pack("{s:s, s:s}", "role", "system", "content", ps->system));
    } else {
        for (size_t k = 0; k < json_array_size(prompt); k++)
            if (is_system(json_array_get(prompt, k))) json_array_append(out, json_array_get(prompt, k));
    }
    for (long f = 0; f < ps->n_fewshot; f++) append_turns(out, ps->fewshot[f]);
    for (int j = n_near - 1; j >= 0; j--) append_turns(out, ps->nearest->examples[near[j]]);
    append_turns(out, prompt);
    if (!ps->store_http) return out;
    int k = ps->k < STORE_CONTEXT_MAX_K ? ps->k : STORE_CONTEXT_MAX_K;
    char *context = store_context_search(ps->store_http, ps->store_url, ps->store, prompt, k, err);
    json_t *with = context ? store_context_add(out, context) : NULL;
    if (context && !with) err_set(err, ERR_NOMEM, "out of memory");
    free(context);
    json_decref(out);
    return with;
}

char *eval_label_of_reply(const char *reply) {
    json_t *doc = json_loads(reply, 0, NULL), *label = json_object_get(doc, "label");
    char *out = json_is_string(label) ? strdup(json_string_value(label)) : NULL;
    json_decref(doc);
    return out;
}
