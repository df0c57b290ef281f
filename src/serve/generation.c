/* generation.c: model resolution and the token bound shared by chat completions and responses
 * (see generation.h). */
#include "generation.h"

#include <stdio.h>
#include <string.h>

#include "server.h"

void generation_chat_request(ChatRequest *cr, const ModelInfo *m, InferRequest *r) {
    snprintf(r->base_path, sizeof r->base_path, "%s", m->base_path);
    snprintf(r->adapter_dir, sizeof r->adapter_dir, "%s", m->adapter_dir);
    r->msgs = cr->msgs;
    r->n_msgs = cr->n_msgs;
    r->tools = (InferTools){.defs = cr->tools, .n_defs = cr->n_tools, .choice = cr->tool_choice,
                            .function = cr->tool_function, .parallel = cr->parallel_tool_calls,
                            .calls = cr->tool_calls};
    r->owner = cr->root;
    r->n_choices = cr->n;
    FtGenParams *p = &r->params;
    p->max_tokens = (int)cr->max_tokens;
    p->temperature = (float)cr->temperature;
    p->top_p = cr->top_p > 0 ? (float)cr->top_p : 1.0f;
    if (cr->top_p == 0) p->temperature = 0; /* top_p 0 keeps only the most likely token */
    p->seed = cr->has_seed ? (uint64_t)cr->seed : store_random_u64();
    for (int i = 0; i < cr->n_stop; i++) p->stop[i] = cr->stop[i];
    p->n_stop = cr->n_stop;
    p->logprobs = cr->logprobs;
    p->top_logprobs = cr->top_logprobs;
    p->frequency_penalty = (float)cr->frequency_penalty;
    p->presence_penalty = (float)cr->presence_penalty;
    p->logit_bias_ids = cr->bias_ids;
    p->logit_bias_values = cr->bias_values;
    p->n_logit_bias = cr->n_bias;
    p->grammar = cr->grammar; /* shared by the request's choices */
    /* the request's from now on */
    cr->msgs = NULL;
    cr->n_msgs = 0;
    cr->tools = NULL;
    cr->n_tools = 0;
    cr->tool_calls = NULL;
    cr->root = NULL;
    cr->bias_ids = NULL;
    cr->bias_values = NULL;
    cr->grammar = NULL;
}

int generation_resolve_model(Ctx *c, const char *name, ModelInfo *m) {
    if (generation_lookup_model(c, name, m)) return -1;
    if (!m->embedding) return 0;
    api_errorf(c, 400, "invalid_request_error", "model", "model_not_supported",
               "'%s' is an embedding model: it cannot generate text. Use it with /v1/embeddings.", name);
    return -1;
}

int generation_find_model(const Server *srv, Store *s, const char *project, const char *name, ModelInfo *m, Err *err) {
    int rc = registry_resolve(s, srv->cfg.model_dirs, srv->cfg.n_model_dirs, name, m, err);
    if (rc == 0 && m->project[0] && strcmp(m->project, project) != 0) rc = STORE_NOT_FOUND; /* another project's */
    return rc;
}

int generation_lookup_model(Ctx *c, const char *name, ModelInfo *m) {
    Err err = {0};
    int rc = generation_find_model(c->srv, c->store, c->project, name, m, &err);
    if (rc == 0) return 0;
    if (rc == STORE_NOT_FOUND) {
        char msg[3 * STORE_NAME_MAX];
        registry_missing_text(name, m, msg, sizeof msg);
        api_errorf(c, 404, "invalid_request_error", "model", "model_not_found", "%s", msg);
    } else {
        api_server_error(c, "the model could not be looked up", &err);
    }
    return -1;
}

int generation_max_tokens(Ctx *c, long long asked, const char *param, long long *out) {
    int cap = c->srv->cfg.max_tokens; /* the server's bound on a reply (--max-tokens) */
    if (cap > 0 && asked > cap) {
        api_errorf(c, 400, "invalid_request_error", param, "invalid_value",
                   "%s is too large: %lld. This server allows at most %d completion tokens (ftune serve "
                   "--max-tokens).", param, asked, cap);
        return -1;
    }
    *out = asked ? asked : generation_default_max_tokens(c->srv);
    return 0;
}

long long generation_default_max_tokens(const Server *srv) {
    int cap = srv->cfg.max_tokens;
    return cap <= 0 ? 0 : cap < INFERENCE_DEFAULT_MAX_TOKENS ? cap : INFERENCE_DEFAULT_MAX_TOKENS;
}

const char *generation_model_name(const ModelInfo *m, const char *name) { return m->alias[0] ? m->id : name; }
