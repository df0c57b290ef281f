/* inference.c: the inference thread and its queue (see inference.h). The thread keeps one chat
 * session (ftune.h) for the current base model and up to INFERENCE_MAX_ADAPTERS adapters loaded for
 * it; switching to another base model frees both. */
#include "inference.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char dir[4096];
    FtAdapter *adapter;
    unsigned long used;
} CachedAdapter;

struct Inference {
    ModelCache *cache;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    InferRequest *head, *tail;
    int queued;
    bool stopping;
    int threads;
    char forget[INFERENCE_MAX_ADAPTERS][4096]; /* adapters to drop before the next request */
    int n_forget;
    /* owned by the thread */
    const FtModel *model;
    FtSession *session;
    CachedAdapter adapters[INFERENCE_MAX_ADAPTERS];
    unsigned long clock;
};

static void request_free(InferRequest *r) {
    json_decref(r->owner);
    free(r->msgs);
    free(r);
}

static void request_refuse(InferRequest *r, int status, const char *message) {
    r->cb.on_done(r->user, status, message);
    request_free(r);
}

static void drop_adapters(Inference *inf) {
    for (int i = 0; i < INFERENCE_MAX_ADAPTERS; i++) {
        ft_adapter_free(inf->adapters[i].adapter);
        memset(&inf->adapters[i], 0, sizeof inf->adapters[i]);
    }
}

/* Makes base_path the current model (loading it and a fresh session when it changes). */
static int use_model(Inference *inf, const char *base_path, Err *err) {
    FtModelInfo info;
    if (inf->model) ft_model_info(inf->model, &info);
    if (inf->model && strcmp(info.path, base_path) == 0) return 0;
    drop_adapters(inf);
    ft_session_free(inf->session);
    inf->session = NULL;
    model_cache_put(inf->cache, inf->model);
    inf->model = NULL;
    if (model_cache_get(inf->cache, base_path, &inf->model, err)) return -1;
    /* the model's context, at most INFERENCE_MAX_SEQ positions */
    FtError fe = {0};
    if (ft_session_new(inf->model, INFERENCE_MAX_SEQ, inf->threads, &inf->session, &fe)) {
        model_cache_put(inf->cache, inf->model);
        inf->model = NULL;
        return err_set(err, fe.code, "%s", fe.msg);
    }
    return 0;
}

/* The adapter in dir for the current model, loaded on first use (least recently used dropped). */
static int use_adapter(Inference *inf, const char *dir, const FtAdapter **out, Err *err) {
    *out = NULL;
    if (!dir[0]) return 0;
    int slot = 0; /* an empty slot, else the least recently used */
    for (int i = 0; i < INFERENCE_MAX_ADAPTERS; i++) {
        CachedAdapter *a = &inf->adapters[i];
        if (a->adapter && strcmp(a->dir, dir) == 0) {
            a->used = ++inf->clock;
            *out = a->adapter;
            return 0;
        }
        if (inf->adapters[slot].adapter && (!a->adapter || a->used < inf->adapters[slot].used)) slot = i;
    }
    FtAdapter *l;
    FtError fe = {0};
    if (ft_adapter_load(inf->model, dir, &l, &fe)) return err_set(err, fe.code, "%s", fe.msg);
    ft_adapter_free(inf->adapters[slot].adapter);
    snprintf(inf->adapters[slot].dir, sizeof inf->adapters[slot].dir, "%s", dir);
    inf->adapters[slot].adapter = l;
    inf->adapters[slot].used = ++inf->clock;
    *out = l;
    return 0;
}

typedef struct {
    InferRequest *r;
    int choice;
} PieceCtx;

static int on_piece(const char *piece, size_t len, void *user) {
    PieceCtx *p = user;
    return p->r->cb.on_piece(p->r->user, p->choice, piece, len);
}

static void run_request(Inference *inf, InferRequest *r) {
    Err err = {0};
    const FtAdapter *adapter;
    if (use_model(inf, r->base_path, &err) || use_adapter(inf, r->adapter_dir, &adapter, &err)) {
        r->cb.on_done(r->user, 500, err.msg);
        return;
    }
    pthread_mutex_lock(&inf->mu);
    int threads = inf->threads;
    pthread_mutex_unlock(&inf->mu);
    ft_session_set_threads(inf->session, threads); /* one while a job trains, see inference_set_threads */
    for (int i = 0; i < r->n_choices; i++) {
        FtGenParams p;
        ft_gen_params_default(inf->model, &p); /* the model's end-of-turn and EOS ids */
        p.max_tokens = r->params.max_tokens;
        p.temperature = r->params.temperature;
        p.top_p = r->params.top_p;
        p.top_k = r->params.top_k;
        p.seed = r->params.seed + (uint64_t)i;
        p.n_stop = r->params.n_stop;
        for (int k = 0; k < p.n_stop; k++) p.stop[k] = r->params.stop[k];
        PieceCtx pc = {r, i};
        FtGenResult res;
        FtError fe = {0};
        if (ft_session_generate_chat(inf->session, adapter, r->msgs, r->n_msgs, &p, on_piece, &pc, &res, &fe)) {
            r->cb.on_done(r->user, fe.code == FT_ERR_ARG ? 400 : 500, fe.msg);
            return;
        }
        r->cb.on_choice_done(r->user, i, &res);
        ft_gen_result_free(&res);
    }
    r->cb.on_done(r->user, 0, NULL);
}

static void *inference_main(void *arg) {
    Inference *inf = arg;
    for (;;) {
        pthread_mutex_lock(&inf->mu);
        while (!inf->head && !inf->stopping) pthread_cond_wait(&inf->wake, &inf->mu);
        if (!inf->head) {
            pthread_mutex_unlock(&inf->mu);
            break;
        }
        InferRequest *r = inf->head;
        inf->head = r->next;
        if (!inf->head) inf->tail = NULL;
        inf->queued--;
        bool stopping = inf->stopping;
        for (int f = 0; f < inf->n_forget; f++)
            for (int i = 0; i < INFERENCE_MAX_ADAPTERS; i++)
                if (inf->adapters[i].adapter && strcmp(inf->adapters[i].dir, inf->forget[f]) == 0) {
                    ft_adapter_free(inf->adapters[i].adapter);
                    memset(&inf->adapters[i], 0, sizeof inf->adapters[i]);
                }
        inf->n_forget = 0;
        pthread_mutex_unlock(&inf->mu);
        if (stopping) {
            request_refuse(r, 503, "the server is shutting down");
            continue;
        }
        run_request(inf, r);
        request_free(r);
    }
    return NULL;
}

int inference_start(ModelCache *cache, int n_threads, Inference **out, Err *err) {
    Inference *inf = calloc(1, sizeof *inf);
    if (!inf) return err_set(err, ERR_NOMEM, "out of memory");
    inf->cache = cache;
    inf->threads = n_threads;
    pthread_mutex_init(&inf->mu, NULL);
    pthread_cond_init(&inf->wake, NULL);
    if (pthread_create(&inf->thread, NULL, inference_main, inf) != 0) {
        free(inf);
        return err_set(err, ERR_IO, "cannot start the inference thread");
    }
    *out = inf;
    return 0;
}

void inference_stop(Inference *inf) {
    if (!inf) return;
    pthread_mutex_lock(&inf->mu);
    inf->stopping = true;
    pthread_cond_signal(&inf->wake);
    pthread_mutex_unlock(&inf->mu);
    pthread_join(inf->thread, NULL);
    drop_adapters(inf);
    ft_session_free(inf->session);
    model_cache_put(inf->cache, inf->model);
    pthread_cond_destroy(&inf->wake);
    pthread_mutex_destroy(&inf->mu);
    free(inf);
}

void inference_submit(Inference *inf, InferRequest *r) {
    r->next = NULL;
    pthread_mutex_lock(&inf->mu);
    if (inf->stopping || inf->queued >= INFERENCE_MAX_QUEUE) {
        pthread_mutex_unlock(&inf->mu);
        request_refuse(r, 503, "the server is busy: too many chat requests are waiting; retry later");
        return;
    }
    if (inf->tail) inf->tail->next = r;
    else inf->head = r;
    inf->tail = r;
    inf->queued++;
    pthread_cond_signal(&inf->wake);
    pthread_mutex_unlock(&inf->mu);
}

void inference_set_threads(Inference *inf, int n) {
    pthread_mutex_lock(&inf->mu);
    inf->threads = n;
    pthread_mutex_unlock(&inf->mu);
}

void inference_forget_adapter(Inference *inf, const char *dir) {
    pthread_mutex_lock(&inf->mu);
    if (inf->n_forget < INFERENCE_MAX_ADAPTERS)
        snprintf(inf->forget[inf->n_forget++], sizeof inf->forget[0], "%s", dir);
    pthread_mutex_unlock(&inf->mu);
}
