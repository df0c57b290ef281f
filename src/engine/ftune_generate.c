/* ftune_generate.c: ft_generate_chat, one reply through model/generate.h's generate_chat on a
 * sequence state (model/infer.h) of its own, with the adapter applied unmerged. It converts the
 * public parameter and result structs and checks them at the boundary; rendering, tokenizing,
 * sampling and stop handling stay in generate.c. It keeps no state between calls. */
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

/* Copies p into g; -1 with err naming the bad field. */
static int params_convert(const FtModel *m, const FtGenParams *p, GenParams *g, FtError *err) {
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
    return 0;
}

int ft_generate_chat(const FtModel *m, const FtAdapter *adapter, const FtChatMessage *msgs, int n_msgs,
                     const FtGenParams *p, FtStreamFn stream, void *user, FtGenResult *res, FtError *err) {
    if (!res) return ft_err_set(err, FT_ERR_ARG, "ft_generate_chat: no place for the result");
    memset(res, 0, sizeof *res);
    if (!m || !p || (!msgs && n_msgs > 0)) return ft_err_set(err, FT_ERR_ARG, "ft_generate_chat: NULL argument");
    if (n_msgs <= 0) return ft_err_set(err, FT_ERR_ARG, "no messages to reply to");
    for (int i = 0; i < n_msgs; i++)
        if (!msgs[i].role || !msgs[i].content)
            return ft_err_set(err, FT_ERR_ARG, "message %d has no %s", i, msgs[i].role ? "content" : "role");
    if (adapter && adapter->owner != m) return ft_err_set(err, FT_ERR_ARG, "the adapter was loaded for another model");
    GenParams g;
    if (params_convert(m, p, &g, err)) return -1;
    int ctx = p->n_ctx > 0 ? p->n_ctx : FT_GEN_DEFAULT_CTX;
    if (ctx > m->info.context_length) ctx = m->info.context_length;
    _Static_assert(sizeof(FtChatMessage) == sizeof(ChatMessage), "FtChatMessage mirrors ChatMessage");
    ChatMessage *cm = malloc((size_t)n_msgs * sizeof *cm);
    if (!cm) return ft_err_set(err, FT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n_msgs; i++) cm[i] = (ChatMessage){msgs[i].role, msgs[i].content};
    Err e = {0};
    InferState *st = NULL;
    GenResult gr = {0};
    int rc = infer_new(m->model, ctx, p->n_threads, &st, &e);
    if (!rc && adapter) rc = infer_set_lora(st, adapter->lora, &e);
    if (!rc) rc = generate_chat(st, cm, n_msgs, &g, stream, user, &gr, &e);
    infer_free(st);
    free(cm);
    if (rc) {
        gen_result_free(&gr);
        return ft_err_from(err, &e);
    }
    *res = (FtGenResult){gr.text, gr.len, gr.n_prompt, gr.n_completion, (FtFinishReason)gr.finish};
    return 0;
}

void ft_gen_result_free(FtGenResult *r) {
    if (!r) return;
    free(r->text);
    r->text = NULL;
    r->len = 0;
}
