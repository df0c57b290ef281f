/* scheduler.c: continuous batching on the inference thread (see inference.h). Sequence slots,
 * twice as many as live sequences may be, hold either a live sequence or, once it ended, the keys
 * and values of its prompt (the prefix cache, evicted least recently used first when memory or a
 * slot is needed). Admission is first come, first served: the oldest waiting request gets slots as
 * soon as there are enough, with its reply's key/value memory reserved up front, so that a step
 * never runs out. A step puts one decode row per generating sequence first, then prompt chunks,
 * shortest remaining prompt first, except that the oldest prompt always gets a share, so that
 * short requests pass long ones without starving them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inference_internal.h"

#define OLDEST_SHARE 4 /* the oldest prompt gets at least 1/OLDEST_SHARE of a step's prompt rows */

int sched_slots_new(Inference *inf, Err *err) {
    inf->n_slots = ft_cache_slots(inf->kv);
    inf->slots = calloc((size_t)inf->n_slots, sizeof *inf->slots);
    inf->chunk = calloc((size_t)inf->n_slots, sizeof *inf->chunk);
    inf->rows = malloc(4 * INFERENCE_BATCH_ROWS * sizeof *inf->rows);
    inf->want = malloc(INFERENCE_BATCH_ROWS);
    if (!inf->slots || !inf->chunk || !inf->rows || !inf->want) return err_set(err, ERR_NOMEM, "out of memory");
    for (int s = 0; s < inf->n_slots; s++) inf->slots[s].adapter = -1;
    return 0;
}

void sched_slots_free(Inference *inf) {
    for (int s = 0; inf->slots && s < inf->n_slots; s++) {
        ft_reply_free(inf->slots[s].reply);
        free(inf->slots[s].tokens);
    }
    free(inf->slots);
    free(inf->chunk);
    free(inf->rows);
    free(inf->want);
    inf->slots = NULL;
    inf->chunk = NULL;
    inf->rows = NULL;
    inf->want = NULL;
    inf->n_slots = 0;
}

static void stats_update(Inference *inf) {
    int live = inf->n_live_seqs, loaded = 0;
    for (int i = 0; i < INFERENCE_MAX_ADAPTERS; i++) loaded += inf->adapters[i].adapter != NULL;
    size_t kv = inf->kv ? ft_cache_bytes(inf->kv) : 0;
    pthread_mutex_lock(&inf->mu);
    inf->stats.live_seqs = live;
    inf->stats.loaded_adapters = loaded;
    inf->stats.kv_bytes = kv;
    inf->stats.queued = inf->queued + (inf->next_up != NULL);
    pthread_mutex_unlock(&inf->mu);
}

/* ---- slots ---- */

/* Makes slot s free (no memory). */
static void slot_evict(Inference *inf, int s) {
    Slot *sl = &inf->slots[s];
    if (sl->state != SLOT_FREE) ft_cache_seq_free(inf->kv, s, NULL);
    sl->state = SLOT_FREE;
    sl->n_tokens = 0;
    sl->adapter = -1;
}

void sched_forget_adapter(Inference *inf, int adapter) {
    for (int s = 0; s < inf->n_slots; s++)
        if (inf->slots[s].state == SLOT_IDLE && inf->slots[s].adapter == adapter) slot_evict(inf, s);
}

/* The least recently used idle slot other than keep, or -1. */
static int lru_idle(const Inference *inf, int keep) {
    int best = -1;
    for (int s = 0; s < inf->n_slots; s++)
        if (s != keep && inf->slots[s].state == SLOT_IDLE && (best < 0 || inf->slots[s].used < inf->slots[best].used))
            best = s;
    return best;
}

static int copy_tokens(Slot *sl, const int32_t *ids, int n) {
    if (n > sl->cap_tokens) {
        int32_t *t = realloc(sl->tokens, (size_t)n * sizeof *t);
        if (!t) return -1;
        sl->tokens = t;
        sl->cap_tokens = n;
    }
    memcpy(sl->tokens, ids, (size_t)n * sizeof *ids);
    sl->n_tokens = n;
    return 0;
}

/* Prompt positions of slot s whose keys and values are computed and valid for a prefix. */
static int cached_positions(const Slot *sl) {
    switch (sl->state) {
    case SLOT_IDLE: return sl->n_tokens;
    case SLOT_PREFILL: return sl->n_past;
    case SLOT_DECODE: return sl->n_tokens;
    default: return 0;
    }
}

/* The slot sharing the longest prefix with ids (same adapter), and that length (at most n - 1, so
 * that the last prompt token still runs and gives logits). */
static int best_prefix(const Inference *inf, const int32_t *ids, int n, int adapter, int *len) {
    int best = -1;
    *len = 0;
    for (int s = 0; s < inf->n_slots; s++) {
        const Slot *sl = &inf->slots[s];
        if (sl->adapter != adapter) continue;
        int lim = cached_positions(sl);
        if (lim > n - 1) lim = n - 1;
        int k = 0;
        while (k < lim && sl->tokens[k] == ids[k]) k++;
        if (k > *len) *len = k, best = s;
    }
    return best;
}

/* ---- requests ---- */

static void live_unlink(Inference *inf, Live *lv) {
    for (Live **p = &inf->live; *p; p = &(*p)->next)
        if (*p == lv) {
            *p = lv->next;
            return;
        }
}

/* Ends the sequence in slot s: its slot keeps the prompt's keys and values (the prefix cache). */
static void seq_release(Inference *inf, int s) {
    Slot *sl = &inf->slots[s];
    ft_reply_free(sl->reply);
    sl->reply = NULL;
    int keep = sl->state == SLOT_PREFILL ? sl->n_past : sl->state == SLOT_DECODE ? sl->n_tokens : 0;
    if (sl->adapter >= 0) inf->adapters[sl->adapter].pins--;
    sl->live = NULL;
    inf->n_live_seqs--;
    if (keep > 0) {
        ft_cache_seq_truncate(inf->kv, s, keep, NULL);
        sl->n_tokens = keep;
        sl->state = SLOT_IDLE;
        sl->used = ++inf->clock;
    } else {
        slot_evict(inf, s);
    }
}

/* Ends request lv with status (0: done), releasing the slots of its unfinished choices. */
static void live_end(Inference *inf, Live *lv, int status, const char *message) {
    for (int c = 0; c < lv->r->n_choices; c++) {
        Slot *sl = &inf->slots[lv->slots[c]];
        if (sl->live == lv) seq_release(inf, lv->slots[c]);
    }
    live_unlink(inf, lv);
    lv->r->cb.on_done(lv->r->user, status, NULL, message);
    inference_request_free(lv->r);
    free(lv);
}

void sched_fail_all(Inference *inf, int status, const char *message) {
    while (inf->live) live_end(inf, inf->live, status, message);
    stats_update(inf);
}

/* ---- admission ---- */

/* Pops the next waiting request into inf->next_up; false when the queue is empty. */
static bool take_next(Inference *inf) {
    if (inf->next_up) return true;
    pthread_mutex_lock(&inf->mu);
    InferRequest *r = inf->head;
    if (r) {
        inf->head = r->next;
        if (!inf->head) inf->tail = NULL;
        inf->queued--;
    }
    pthread_mutex_unlock(&inf->mu);
    inf->next_up = r;
    return r != NULL;
}

/* A load error for the client: the server's log gets it whole, the client without the directories
 * of the server's paths ("/srv/data/jobs/x/adapter_model.safetensors: ..." becomes
 * "adapter_model.safetensors: ..."). */
static void client_message(const char *msg, char *out, size_t size) {
    fprintf(stderr, "ftune serve: a chat request failed: %s\n", msg);
    size_t o = 0;
    for (const char *p = msg; *p && o + 1 < size; p++) {
        bool token_start = p == msg || p[-1] == ' ' || p[-1] == '\'' || p[-1] == '(';
        const char *end = p + strcspn(p, " :'),"), *base = p;
        for (const char *q = p; token_start && q < end; q++)
            if (*q == '/') base = q + 1;
        if (base > p) { /* a path: skip its directories */
            p = base - 1;
            continue;
        }
        out[o++] = *p;
    }
    out[o] = 0;
}

static void refuse_next(Inference *inf, int status, const char *code, const char *message) {
    InferRequest *r = inf->next_up;
    inf->next_up = NULL;
    r->cb.on_done(r->user, status, code, message);
    inference_request_free(r);
}

/* The generation parameters of choice i of r for the current model. */
static FtGenParams choice_params(const Inference *inf, const InferRequest *r, int i) {
    FtGenParams p;
    ft_gen_params_default(inf->model, &p); /* the model's end-of-turn and EOS ids */
    p.max_tokens = r->params.max_tokens;
    p.temperature = r->params.temperature;
    p.top_p = r->params.top_p;
    p.top_k = r->params.top_k;
    p.seed = r->params.seed + (uint64_t)i;
    p.n_stop = r->params.n_stop;
    for (int k = 0; k < p.n_stop; k++) p.stop[k] = r->params.stop[k];
    p.logprobs = r->params.logprobs;
    p.top_logprobs = r->params.top_logprobs;
    p.frequency_penalty = r->params.frequency_penalty;
    p.presence_penalty = r->params.presence_penalty;
    p.logit_bias_ids = r->params.logit_bias_ids;
    p.logit_bias_values = r->params.logit_bias_values;
    p.n_logit_bias = r->params.n_logit_bias;
    p.grammar = r->params.grammar; /* each choice has its own matcher over the shared grammar */
    return p;
}

/* Result of trying to admit next_up. */
typedef enum { ADMIT_DONE, ADMIT_WAIT, ADMIT_REFUSED } Admit;

/* Places next_up (whose prompt is ids, n tokens: each slot keeps a copy) into slots. */
static Admit place(Inference *inf, const int32_t *ids, int n, int adapter) {
    InferRequest *r = inf->next_up;
    int nc = r->n_choices;
    if (inf->n_live_seqs + nc > inf->cfg.max_seqs) return ADMIT_WAIT;
    /* each choice's slot holds the prompt and its reply: reserve that much now */
    int need = n + (r->params.max_tokens > 0 ? r->params.max_tokens : INFERENCE_DEFAULT_MAX_TOKENS);
    if (need > inf->ctx) need = inf->ctx;
    size_t pos_bytes = ft_cache_position_bytes(inf->kv), want = (size_t)nc * need * pos_bytes;
    if (want > inf->cfg.kv_bytes) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "this request needs %zu MiB of key/value cache (%d choices of %d positions), more than the server's "
                 "bound of %zu MiB: lower max_tokens or n",
                 want >> 20, nc, need, inf->cfg.kv_bytes >> 20);
        refuse_next(inf, 400, "invalid_value", msg);
        return ADMIT_REFUSED;
    }
    int hit_len, src = best_prefix(inf, ids, n, adapter, &hit_len);
    /* memory and slots: evict idle slots (least recently used, sparing the prefix source) */
    int free_slots = 0;
    for (int s = 0; s < inf->n_slots; s++) free_slots += inf->slots[s].state == SLOT_FREE;
    /* an idle slot is taken over only when all it holds is the shared prefix; else it is copied,
     * so that a longer cached prompt stays for the next request that has it */
    bool take_src = src >= 0 && inf->slots[src].state == SLOT_IDLE && inf->slots[src].n_tokens == hit_len;
    while (ft_cache_bytes(inf->kv) + want > inf->cfg.kv_bytes || free_slots + take_src < nc) {
        int v = lru_idle(inf, src);
        if (v < 0) return ADMIT_WAIT;
        slot_evict(inf, v);
        free_slots++;
    }
    Live *lv = calloc(1, sizeof *lv);
    if (!lv) return ADMIT_WAIT;
    *lv = (Live){.r = r, .cached = hit_len, .n_left = nc};
    for (int c = 0; c < nc; c++) {
        int s = -1;
        if (c == 0 && take_src) {
            s = src;
            ft_cache_seq_truncate(inf->kv, s, hit_len, NULL);
        } else {
            ft_cache_seq_alloc(inf->kv, &s, NULL); /* a cache slot that is free is a SLOT_FREE slot */
            if (c == 0 && hit_len > 0 && ft_cache_seq_fork(inf->kv, src, s, hit_len, NULL)) hit_len = lv->cached = 0;
        }
        Slot *sl = &inf->slots[s];
        FtGenParams p = choice_params(inf, r, c);
        p.max_tokens = need - n;
        FtError fe = {0};
        if (ft_cache_seq_reserve(inf->kv, s, need, &fe) || copy_tokens(sl, ids, n) ||
            ft_reply_new(inf->model, &p, n, inf->ctx, &sl->reply, &fe)) {
            /* undo: the slots taken so far go back, the request is refused */
            for (int d = 0; d < c; d++) {
                seq_release(inf, lv->slots[d]);
                slot_evict(inf, lv->slots[d]);
            }
            ft_reply_free(sl->reply);
            sl->reply = NULL;
            slot_evict(inf, s);
            free(lv);
            refuse_next(inf, fe.code == FT_ERR_ARG ? 400 : 500, NULL, fe.msg[0] ? fe.msg : "out of memory");
            return ADMIT_REFUSED;
        }
        sl->state = c == 0 ? SLOT_PREFILL : SLOT_FORK_WAIT;
        sl->adapter = adapter;
        sl->live = lv;
        sl->choice = c;
        sl->n_past = c == 0 ? hit_len : 0;
        sl->lp_sent = 0;
        lv->slots[c] = s;
        if (adapter >= 0) inf->adapters[adapter].pins++;
        inf->n_live_seqs++;
    }
    Live **tail = &inf->live;
    while (*tail) tail = &(*tail)->next;
    *tail = lv;
    inf->next_up = NULL;
    pthread_mutex_lock(&inf->mu);
    inf->stats.cached_tokens += hit_len;
    inf->stats.prompt_tokens += n;
    pthread_mutex_unlock(&inf->mu);
    return ADMIT_DONE;
}

/* Renders r's prompt (with its tools unless tool_choice is none) into ids; with tools, sets up the
 * grammar of a forced call or, for at most one call, a stop after it, and tells the request the
 * model's tool-call syntax. 0, or -1 with r refused. */
static int request_prompt(Inference *inf, InferRequest *r, int32_t **ids, int *n) {
    InferTools *t = &r->tools;
    FtError fe = {0};
    const FtToolSyntax *syn = ft_model_tool_syntax(inf->model);
    if (t->n_defs > 0 && !syn) {
        FtModelInfo info;
        ft_model_info(inf->model, &info);
        char msg[256];
        snprintf(msg, sizeof msg, "tools are not supported by this model: its chat template (%s) renders no tool "
                 "definitions", info.chat_template_variant);
        refuse_next(inf, 400, "unsupported_parameter", msg);
        return -1;
    }
    bool render = t->n_defs > 0 && t->choice != FT_TOOL_CHOICE_NONE;
    const char *const *defs = (const char *const *)t->defs;
    if (ft_chat_prompt_tools(inf->model, r->msgs, r->n_msgs, render ? defs : NULL, render ? t->n_defs : 0, ids, n,
                             &fe)) {
        refuse_next(inf, fe.code == FT_ERR_ARG || fe.code == FT_ERR_UNSUPPORTED ? 400 : 500, NULL, fe.msg);
        return -1;
    }
    if (render && !t->prepared) {
        bool forced = t->choice == FT_TOOL_CHOICE_REQUIRED || t->choice == FT_TOOL_CHOICE_FUNCTION;
        FtGrammar *g = NULL;
        if (forced && ft_grammar_tool_calls(inf->model, defs, t->n_defs,
                                            t->choice == FT_TOOL_CHOICE_FUNCTION ? t->function : NULL, t->parallel,
                                            &g, &fe)) {
            ft_free(*ids);
            refuse_next(inf, fe.code == FT_ERR_NOMEM ? 500 : 400, "unsupported_parameter", fe.msg);
            return -1;
        }
        if (g) {
            ft_grammar_free((FtGrammar *)r->params.grammar);
            r->params.grammar = g;
        }
        if (!forced && !t->parallel && ft_tool_call_close(syn) && r->params.n_stop < FT_GEN_MAX_STOP) /* one call: stop after it */
            r->params.stop[r->params.n_stop++] = ft_tool_call_close(syn);
        t->prepared = true;
    }
    if (render && t->syntax_out) *t->syntax_out = syn;
    return 0;
}

bool sched_admit(Inference *inf) {
    while (take_next(inf)) {
        InferRequest *r = inf->next_up;
        if (r->cb.cancelled && r->cb.cancelled(r->user)) {
            refuse_next(inf, 499, NULL, "the client went away");
            continue;
        }
        Err err = {0};
        FtModelInfo info;
        if (inf->model) ft_model_info(inf->model, &info);
        if (!inf->model || strcmp(info.path, r->base_path) != 0) {
            if (inf->live) break; /* another base model: wait for the live sequences to end */
            if (inference_use_model(inf, r->base_path, &err)) {
                char msg[ERR_MSG_MAX];
                client_message(err.msg, msg, sizeof msg);
                refuse_next(inf, 500, NULL, msg);
                continue;
            }
        }
        int adapter = inference_use_adapter(inf, r->adapter_dir, &err);
        if (adapter == -3 && inf->live) break; /* every adapter entry is pinned: wait */
        if (adapter < -1) {
            char msg[ERR_MSG_MAX];
            client_message(err.msg, msg, sizeof msg);
            refuse_next(inf, 500, NULL, msg);
            continue;
        }
        int32_t *ids;
        int n;
        if (request_prompt(inf, r, &ids, &n)) continue;
        if (n >= inf->ctx) {
            char msg[160];
            snprintf(msg, sizeof msg, "the prompt has %d tokens, more than the context of %d allows", n, inf->ctx);
            ft_free(ids);
            refuse_next(inf, 400, "context_length_exceeded", msg);
            continue;
        }
        Admit a = place(inf, ids, n, adapter);
        ft_free(ids);
        if (a == ADMIT_WAIT) {
            if (!inf->live) refuse_next(inf, 503, NULL, "the server cannot make room for this request; retry later");
            break;
        }
    }
    stats_update(inf);
    return inf->live != NULL;
}

/* ---- the step ---- */

typedef struct {
    Inference *inf;
    Slot *sl;
} PieceCtx;

/* Hands a piece of a choice's text, with the logprobs of the tokens it completes, to its request. */
static int on_piece(const char *piece, size_t len, void *user) {
    PieceCtx *pc = user;
    Slot *sl = pc->sl;
    InferRequest *r = sl->live->r;
    int n_lp = 0;
    const FtTokenLogprob *lp = ft_reply_logprobs(sl->reply, &n_lp);
    int k = lp ? n_lp - sl->lp_sent : 0, rc;
    if (k <= 0) return r->cb.on_piece(r->user, sl->choice, piece, len, NULL, 0);
    InferLogprob *out = calloc((size_t)k, sizeof *out);
    char **texts = calloc((size_t)k * (FT_MAX_TOP_LOGPROBS + 1), sizeof *texts);
    if (!out || !texts) {
        free(out);
        free(texts);
        return 1;
    }
    for (int i = 0; i < k; i++) {
        const FtTokenLogprob *t = &lp[sl->lp_sent + i];
        char **tx = texts + (size_t)i * (FT_MAX_TOP_LOGPROBS + 1);
        for (int j = 0; j <= t->n_top; j++) {
            int32_t id = j == 0 ? t->id : t->top[j - 1].id;
            size_t n = 0;
            ft_detokenize(pc->inf->model, &id, 1, false, &tx[j], &n, NULL);
            InferToken tok = {tx[j] ? tx[j] : "", tx[j] ? n : 0, j == 0 ? t->logprob : t->top[j - 1].logprob};
            if (j == 0) out[i].token = tok;
            else out[i].top[j - 1] = tok;
        }
        out[i].n_top = t->n_top;
    }
    rc = r->cb.on_piece(r->user, sl->choice, piece, len, out, k);
    sl->lp_sent = n_lp;
    for (int i = 0; i < k * (FT_MAX_TOP_LOGPROBS + 1); i++) free(texts[i]);
    free(texts);
    free(out);
    return rc;
}

/* Ends choice of slot s: the held-back text goes out, the request hears of it. */
static void seq_finish(Inference *inf, int s) {
    Slot *sl = &inf->slots[s];
    Live *lv = sl->live;
    PieceCtx pc = {inf, sl};
    FtGenResult res;
    FtError fe = {0};
    if (ft_reply_finish(sl->reply, on_piece, &pc, &res, &fe)) {
        live_end(inf, lv, 500, fe.msg);
        return;
    }
    lv->r->cb.on_choice_done(lv->r->user, sl->choice, &res, lv->cached);
    ft_gen_result_free(&res);
    seq_release(inf, s);
    if (--lv->n_left == 0) live_end(inf, lv, 0, NULL);
}

/* Samples slot s's next token from logits; ends the sequence when its reply ended. */
static void seq_sample(Inference *inf, int s, const float *logits) {
    Slot *sl = &inf->slots[s];
    PieceCtx pc = {inf, sl};
    FtError fe = {0};
    int rc = ft_reply_step(sl->reply, logits, on_piece, &pc, &sl->next, &fe);
    if (rc < 0) live_end(inf, sl->live, 500, fe.msg);
    else if (rc > 0) seq_finish(inf, s);
    else sl->state = SLOT_DECODE;
}

/* Choice 0 (slot src) ran its prompt of n positions: the other choices waiting in sibs fork it and
 * sample from the same logits. A sibling no longer waiting (its request ended) is skipped. */
static void fork_siblings(Inference *inf, int src, int n, const int *sibs, int n_sibs, const float *logits) {
    for (int i = 0; i < n_sibs; i++) {
        Slot *sl = &inf->slots[sibs[i]];
        if (sl->state != SLOT_FORK_WAIT) continue;
        FtError fe = {0};
        if (ft_cache_seq_fork(inf->kv, src, sibs[i], n, &fe)) {
            live_end(inf, sl->live, 500, fe.msg);
            continue;
        }
        sl->n_past = n;
        seq_sample(inf, sibs[i], logits);
    }
}

/* Drops the requests whose clients went away. */
static void drop_cancelled(Inference *inf) {
    for (Live *lv = inf->live, *next; lv; lv = next) {
        next = lv->next;
        if (lv->r->cb.cancelled && lv->r->cb.cancelled(lv->r->user)) live_end(inf, lv, 499, "the client went away");
    }
}

/* Chooses this step's prompt rows: inf->chunk[s] for each prefilling slot, within budget. */
static void plan_prompts(Inference *inf, int budget) {
    int order[INFERENCE_BATCH_ROWS], n = 0, oldest = -1;
    for (Live *lv = inf->live; lv; lv = lv->next) {
        int s = lv->slots[0];
        if (inf->slots[s].state != SLOT_PREFILL || n >= INFERENCE_BATCH_ROWS) continue;
        if (oldest < 0) oldest = s;
        order[n++] = s;
    }
    memset(inf->chunk, 0, (size_t)inf->n_slots * sizeof *inf->chunk);
    if (!n || budget <= 0) return;
    int used = 0;
    /* the oldest prompt's share first, then shortest remaining first */
    int share = budget / OLDEST_SHARE > 0 ? budget / OLDEST_SHARE : 1;
    Slot *o = &inf->slots[oldest];
    int left = o->n_tokens - o->n_past;
    inf->chunk[oldest] = left < share ? left : share;
    used = inf->chunk[oldest];
    for (int i = 1; i < n; i++) /* insertion sort by remaining prompt */
        for (int j = i; j > 0; j--) {
            Slot *a = &inf->slots[order[j - 1]], *b = &inf->slots[order[j]];
            if (a->n_tokens - a->n_past <= b->n_tokens - b->n_past) break;
            int t = order[j - 1];
            order[j - 1] = order[j];
            order[j] = t;
        }
    for (int i = 0; i < n && used < budget; i++) {
        Slot *sl = &inf->slots[order[i]];
        int rest = sl->n_tokens - sl->n_past - inf->chunk[order[i]], take = rest < budget - used ? rest : budget - used;
        inf->chunk[order[i]] += take;
        used += take;
    }
}

void sched_step(Inference *inf) {
    drop_cancelled(inf);
    if (!inf->live) {
        stats_update(inf);
        return;
    }
    int32_t *tok = inf->rows, *pos = tok + INFERENCE_BATCH_ROWS, *seq = pos + INFERENCE_BATCH_ROWS,
            *ad = seq + INFERENCE_BATCH_ROWS;
    const FtAdapter *list[INFERENCE_MAX_ADAPTERS];
    int list_index[INFERENCE_MAX_ADAPTERS], n_list = 0;
    for (int i = 0; i < INFERENCE_MAX_ADAPTERS; i++) {
        list_index[i] = -1;
        if (inf->adapters[i].adapter && inf->adapters[i].pins) {
            list_index[i] = n_list;
            list[n_list++] = inf->adapters[i].adapter;
        }
    }
    int n = 0, n_decode = 0;
    for (int s = 0; s < inf->n_slots; s++) { /* decode rows first (forward.h: n_decode) */
        Slot *sl = &inf->slots[s];
        if (sl->state != SLOT_DECODE) continue;
        tok[n] = sl->next;
        pos[n] = ft_cache_seq_len(inf->kv, s);
        seq[n] = s;
        ad[n] = sl->adapter >= 0 ? list_index[sl->adapter] : -1;
        inf->want[n++] = 1;
    }
    n_decode = n;
    plan_prompts(inf, INFERENCE_BATCH_ROWS - n);
    for (int s = 0; s < inf->n_slots; s++) {
        Slot *sl = &inf->slots[s];
        for (int i = 0; i < inf->chunk[s]; i++) {
            int p = sl->n_past + i;
            tok[n] = sl->tokens[p];
            pos[n] = p;
            seq[n] = s;
            ad[n] = sl->adapter >= 0 ? list_index[sl->adapter] : -1;
                inf->want[n++] = p == sl->n_tokens - 1;
        }
    }
    FtBatch b = {n, tok, pos, seq, ad, inf->want, n_decode};
    FtError fe = {0};
    if (n && ft_engine_decode(inf->engine, inf->kv, &b, list, n_list, inf->logits, &fe)) {
        sched_fail_all(inf, 500, fe.msg);
        return;
    }
    pthread_mutex_lock(&inf->mu);
    inf->stats.steps++;
    inf->stats.rows += n;
    inf->stats.decode_rows += n_decode;
    pthread_mutex_unlock(&inf->mu);
    /* hand out the logits, in row order; a sequence's request may end on the way */
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!inf->want[i]) continue;
        const float *lg = inf->logits + (size_t)k++ * inf->vocab;
        int s = seq[i];
        Slot *sl = &inf->slots[s];
        if (!sl->live) continue; /* its request failed earlier in this loop */
        if (sl->state == SLOT_PREFILL) {
            sl->n_past = sl->n_tokens;
            Live *lv = sl->live; /* may end while sampling: note its siblings first */
            int sibs[INFERENCE_MAX_CHOICES], n_sibs = lv->r->n_choices - 1;
            for (int c = 1; c <= n_sibs; c++) sibs[c - 1] = lv->slots[c];
            seq_sample(inf, s, lg);
            fork_siblings(inf, s, sl->n_tokens, sibs, n_sibs, lg);
        } else if (sl->state == SLOT_DECODE) {
            seq_sample(inf, s, lg);
        }
    }
    for (int s = 0; s < inf->n_slots; s++) /* prompts that ran a chunk without finishing */
        if (inf->chunk[s] && inf->slots[s].state == SLOT_PREFILL && inf->slots[s].n_past + inf->chunk[s] < inf->slots[s].n_tokens)
            inf->slots[s].n_past += inf->chunk[s];
    stats_update(inf);
}
