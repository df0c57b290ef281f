/* ftune_generate.c: chat sessions (a sequence state of model/infer.h kept for many replies) and
 * replies through model/generate.h's generate_chat on them, with the adapter applied unmerged;
 * ft_generate_chat is one reply on a session made for it. It converts the public parameter and
 * result structs and checks them at the boundary; rendering, tokenizing, sampling and stop
 * handling stay in generate.c. */
#include <stdlib.h>
#include <string.h>

#include "../model/generate.h"
#include "ftune_internal.h"

#define FT_GEN_DEFAULT_CTX 4096 /* positions when the caller leaves n_ctx at 0 (as `ftune chat`) */

_Static_assert(FT_GEN_MAX_STOP == GEN_MAX_STOP, "the public stop lists are as long as the internal ones");
_Static_assert((int)FT_FINISH_STOP == (int)FINISH_STOP && (int)FT_FINISH_LENGTH == (int)FINISH_LENGTH,
               "finish reasons mirror generate.h");

void ft_gen_params_default(const FtModel *m, FtGenParams *p) {
    GenParams g;
    gen_params_default(m->model, &g);
    memset(p, 0, sizeof *p);
    p->max_tokens = g.max_tokens;
    p->temperature = g.sampling.temperature;
    p->top_p = g.sampling.top_p;
    p->top_k = g.sampling.top_k;
    p->seed = g.sampling.seed;
    p->n_stop_ids = g.n_stop_ids;
    memcpy(p->stop_ids, g.stop_ids, sizeof g.stop_ids);
}

int ft_gen_params_convert(const FtModel *m, const FtGenParams *p, GenParams *g, FtError *err) {
    memset(g, 0, sizeof *g);
    if (p->n_stop < 0 || p->n_stop > FT_GEN_MAX_STOP)
        return ft_err_set(err, FT_ERR_ARG, "%d stop strings (at most %d)", p->n_stop, FT_GEN_MAX_STOP);
    if (p->n_stop_ids < 0 || p->n_stop_ids > FT_GEN_MAX_STOP)
        return ft_err_set(err, FT_ERR_ARG, "%d stop tokens (at most %d)", p->n_stop_ids, FT_GEN_MAX_STOP);
    for (int i = 0; i < p->n_stop; i++)
        if (!p->stop[i] || !*p->stop[i]) return ft_err_set(err, FT_ERR_ARG, "stop string %d is empty", i);
    for (int i = 0; i < p->n_stop_ids; i++)
        if (p->stop_ids[i] < 0 || p->stop_ids[i] >= m->info.vocab)
            return ft_err_set(err, FT_ERR_ARG, "stop token %d is outside the vocabulary (%d)", p->stop_ids[i],
                              m->info.vocab);
    g->max_tokens = p->max_tokens;
    g->sampling = (SamplerParams){p->temperature, p->top_p, p->top_k, p->seed};
    g->n_stop = p->n_stop;
    for (int i = 0; i < p->n_stop; i++) g->stop[i] = p->stop[i];
    g->n_stop_ids = p->n_stop_ids;
    memcpy(g->stop_ids, p->stop_ids, sizeof g->stop_ids);
    g->logprobs = p->logprobs;
    g->top_logprobs = p->top_logprobs;
    if (p->n_logit_bias < 0 || (p->n_logit_bias > 0 && (!p->logit_bias_ids || !p->logit_bias_values)))
        return ft_err_set(err, FT_ERR_ARG, "%d logit biases without their arrays", p->n_logit_bias);
    g->frequency_penalty = p->frequency_penalty;
    g->presence_penalty = p->presence_penalty;
    g->bias_ids = p->logit_bias_ids;
    g->bias_values = p->logit_bias_values;
    g->n_bias = p->n_logit_bias;
    if (p->grammar) {
        g->grammar = &p->grammar->g;
        if (!(g->trie = ft_model_trie(m, err))) return -1;
    }
    return 0;
}

void ft_session_free(FtSession *s) {
    if (!s) return;
    infer_free(s->st);
    free(s);
}

int ft_session_ctx(const FtSession *s) { return s->st->max_seq; }

void ft_session_set_threads(FtSession *s, int n_threads) { infer_set_threads(s->st, n_threads); }

int ft_session_threads(const FtSession *s) { return s->st->n_threads; }

int ft_session_new(const FtModel *m, int n_ctx, int n_threads, FtSession **out, FtError *err) {
    if (!out) return ft_err_set(err, FT_ERR_ARG, "ft_session_new: no place for the session");
    *out = NULL;
    if (!m) return ft_err_set(err, FT_ERR_ARG, "ft_session_new: no model");
    int ctx = n_ctx > 0 ? n_ctx : FT_GEN_DEFAULT_CTX;
    if (ctx > m->info.context_length) ctx = m->info.context_length;
    Err e = {0};
    InferState *st;
    if (infer_new(m->model, ctx, n_threads, &st, &e)) return ft_err_from(err, &e);
    FtSession *s = malloc(sizeof *s);
    if (!s) {
        infer_free(st);
        return ft_err_set(err, FT_ERR_NOMEM, "out of memory");
    }
    *s = (FtSession){m, st};
    *out = s;
    return 0;
}

/* msgs as the internal ChatMessage array (heap), checked; NULL with err set. */
static ChatMessage *chat_messages(const FtChatMessage *msgs, int n_msgs, FtError *err) {
    if (!msgs && n_msgs > 0) {
        ft_err_set(err, FT_ERR_ARG, "NULL messages");
        return NULL;
    }
    if (n_msgs <= 0) {
        ft_err_set(err, FT_ERR_ARG, "no messages to reply to");
        return NULL;
    }
    for (int i = 0; i < n_msgs; i++)
        if (!msgs[i].role || !msgs[i].content) {
            ft_err_set(err, FT_ERR_ARG, "message %d has no %s", i, msgs[i].role ? "content" : "role");
            return NULL;
        }
    _Static_assert(sizeof(FtChatMessage) == sizeof(ChatMessage), "FtChatMessage mirrors ChatMessage");
    _Static_assert(sizeof(FtToolCall) == sizeof(ChatToolCall), "FtToolCall mirrors ChatToolCall");
    ChatMessage *cm = malloc((size_t)n_msgs * sizeof *cm);
    if (!cm) {
        ft_err_set(err, FT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (int i = 0; i < n_msgs; i++)
        cm[i] = (ChatMessage){msgs[i].role, msgs[i].content, (const ChatToolCall *)msgs[i].tool_calls,
                              msgs[i].n_tool_calls};
    return cm;
}

int ft_chat_prompt(const FtModel *m, const FtChatMessage *msgs, int n_msgs, int32_t **ids, int *n, FtError *err) {
    return ft_chat_prompt_tools(m, msgs, n_msgs, NULL, 0, ids, n, err);
}

int ft_chat_prompt_tools(const FtModel *m, const FtChatMessage *msgs, int n_msgs, const char *const *tools,
                         int n_tools, int32_t **ids, int *n, FtError *err) {
    if (!m || !ids || !n) return ft_err_set(err, FT_ERR_ARG, "ft_chat_prompt: NULL argument");
    *ids = NULL;
    *n = 0;
    ChatMessage *cm = chat_messages(msgs, n_msgs, err);
    if (!cm) return -1;
    Err e = {0};
    int rc = chat_prompt_ids(m->model, cm, n_msgs, tools, n_tools, ids, n, &e);
    free(cm);
    return rc ? ft_err_from(err, &e) : 0;
}

int ft_session_generate_chat(FtSession *s, const FtAdapter *adapter, const FtChatMessage *msgs, int n_msgs,
                             const FtGenParams *p, FtStreamFn stream, void *user, FtGenResult *res, FtError *err) {
    if (!res) return ft_err_set(err, FT_ERR_ARG, "ft_session_generate_chat: no place for the result");
    memset(res, 0, sizeof *res);
    if (!s || !p) return ft_err_set(err, FT_ERR_ARG, "ft_session_generate_chat: NULL argument");
    if (adapter && adapter->owner != s->owner)
        return ft_err_set(err, FT_ERR_ARG, "the adapter was loaded for another model");
    GenParams g;
    if (ft_gen_params_convert(s->owner, p, &g, err)) return -1;
    ChatMessage *cm = chat_messages(msgs, n_msgs, err);
    if (!cm) return -1;
    Err e = {0};
    GenResult gr = {0};
    int rc = infer_set_lora(s->st, adapter ? adapter->lora : NULL, &e);
    if (!rc) rc = generate_chat(s->st, cm, n_msgs, &g, stream, user, &gr, &e);
    free(cm);
    if (rc) {
        gen_result_free(&gr);
        return ft_err_from(err, &e);
    }
    *res = (FtGenResult){gr.text, gr.len, gr.n_prompt, gr.n_completion, (FtFinishReason)gr.finish};
    return 0;
}

int ft_generate_chat(const FtModel *m, const FtAdapter *adapter, const FtChatMessage *msgs, int n_msgs,
                     const FtGenParams *p, FtStreamFn stream, void *user, FtGenResult *res, FtError *err) {
    if (!res) return ft_err_set(err, FT_ERR_ARG, "ft_generate_chat: no place for the result");
    memset(res, 0, sizeof *res);
    if (!m || !p) return ft_err_set(err, FT_ERR_ARG, "ft_generate_chat: NULL argument");
    FtSession *s;
    if (ft_session_new(m, p->n_ctx, p->n_threads, &s, err)) return -1;
    int rc = ft_session_generate_chat(s, adapter, msgs, n_msgs, p, stream, user, res, err);
    ft_session_free(s);
    return rc;
}

void ft_gen_result_free(FtGenResult *r) {
    if (!r) return;
    free(r->text);
    r->text = NULL;
    r->len = 0;
}
