/* ftune_reply.c: FtReply, one reply driven by the caller's forward passes (ftune.h), over the
 * internal GenSeq of model/generate.h; and the cache's memory accounting. It checks arguments at the
 * boundary and converts the public structs; sampling, stop handling and logprobs stay in
 * generate.c. */
#include <stdlib.h>
#include <string.h>

#include "ftune_internal.h"

struct FtReply {
    GenSeq seq;
    FtTokenLogprob *logprobs; // (budget) public copies, made as they are asked for
    int n_copied;
};

_Static_assert(FT_MAX_TOP_LOGPROBS == GEN_MAX_TOP_LOGPROBS, "the public logprob bound is the internal one");

int ft_reply_new(const FtModel *m, const FtGenParams *p, int n_prompt, int n_ctx, FtReply **out, FtError *err) {
    if (!out) return ft_err_set(err, FT_ERR_ARG, "ft_reply_new: no place for the reply");
    *out = NULL;
    if (!m || !p) return ft_err_set(err, FT_ERR_ARG, "ft_reply_new: NULL argument");
    GenParams g;
    if (ft_gen_params_convert(m, p, &g, err)) return -1;
    FtReply *r = calloc(1, sizeof *r);
    if (!r) return ft_err_set(err, FT_ERR_NOMEM, "out of memory");
    Err e = {0};
    if (gen_seq_init(&r->seq, m->model, &g, n_prompt, n_ctx, &e)) {
        free(r);
        return ft_err_from(err, &e);
    }
    if (g.logprobs && !(r->logprobs = malloc((size_t)r->seq.budget * sizeof *r->logprobs))) {
        ft_reply_free(r);
        return ft_err_set(err, FT_ERR_NOMEM, "out of memory");
    }
    *out = r;
    return 0;
}

void ft_reply_free(FtReply *r) {
    if (!r) return;
    gen_seq_free(&r->seq);
    free(r->logprobs);
    free(r);
}

int ft_reply_step(FtReply *r, const float *logits, FtStreamFn stream, void *user, int32_t *next, FtError *err) {
    if (!r || !logits || !next) return ft_err_set(err, FT_ERR_ARG, "ft_reply_step: NULL argument");
    Err e = {0};
    int rc = gen_seq_step(&r->seq, logits, stream, user, next, &e);
    return rc < 0 ? ft_err_from(err, &e) : rc;
}

int ft_reply_finish(FtReply *r, FtStreamFn stream, void *user, FtGenResult *res, FtError *err) {
    if (!res) return ft_err_set(err, FT_ERR_ARG, "ft_reply_finish: no place for the result");
    memset(res, 0, sizeof *res);
    if (!r) return ft_err_set(err, FT_ERR_ARG, "ft_reply_finish: no reply");
    Err e = {0};
    GenResult g;
    if (gen_seq_finish(&r->seq, stream, user, &g, &e)) return ft_err_from(err, &e);
    *res = (FtGenResult){g.text, g.len, g.n_prompt, g.n_completion, (FtFinishReason)g.finish};
    return 0;
}

const FtTokenLogprob *ft_reply_logprobs(const FtReply *r, int *n) {
    FtReply *w = (FtReply *)r; /* the public copies are a cache of the internal records */
    *n = 0;
    if (!r->logprobs) return NULL;
    for (; w->n_copied < r->seq.n_logprobs; w->n_copied++) {
        const TokenLogprob *t = &r->seq.logprobs[w->n_copied];
        FtTokenLogprob *o = &w->logprobs[w->n_copied];
        o->id = t->id;
        o->logprob = t->logprob;
        o->n_top = t->n_top;
        for (int j = 0; j < t->n_top; j++) o->top[j] = (FtTopLogprob){t->top[j].id, t->top[j].logprob};
    }
    *n = r->seq.n_logprobs;
    return r->logprobs;
}

int ft_reply_tokens(const FtReply *r) { return r->seq.n_completion; }
