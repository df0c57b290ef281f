/* inference.c: the inference thread and its queue (see inference.h). The thread keeps one
 * inference state for the current base model and up to INFERENCE_MAX_ADAPTERS adapters loaded for
 * it; switching to another base model frees both. */
#include "inference.h"

#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/peft.h"

typedef struct {
    char dir[4096];
    Lora *lora;
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
    const Model *model;
    InferState *state;
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
        lora_free(inf->adapters[i].lora);
        memset(&inf->adapters[i], 0, sizeof inf->adapters[i]);
    }
}

/* Makes base_path the current model (loading it and a fresh state when it changes). */
static int use_model(Inference *inf, const char *base_path, Err *err) {
    if (inf->model && strcmp(inf->model->path, base_path) == 0) return 0;
    drop_adapters(inf);
    infer_free(inf->state);
    inf->state = NULL;
    model_cache_put(inf->cache, inf->model);
    inf->model = NULL;
    if (model_cache_get(inf->cache, base_path, &inf->model, err)) return -1;
    int ctx = inf->model->text->context_length > 0 ? inf->model->text->context_length : 2048;
    if (ctx > INFERENCE_MAX_SEQ) ctx = INFERENCE_MAX_SEQ;
    if (infer_new(inf->model, ctx, inf->threads, &inf->state, err)) {
        model_cache_put(inf->cache, inf->model);
        inf->model = NULL;
        return -1;
    }
    return 0;
}

/* The adapter in dir for the current model, loaded on first use (least recently used dropped). */
static int use_adapter(Inference *inf, const char *dir, const Lora **out, Err *err) {
    *out = NULL;
    if (!dir[0]) return 0;
    int slot = 0; /* an empty slot, else the least recently used */
    for (int i = 0; i < INFERENCE_MAX_ADAPTERS; i++) {
        CachedAdapter *a = &inf->adapters[i];
        if (a->lora && strcmp(a->dir, dir) == 0) {
            a->used = ++inf->clock;
            *out = a->lora;
            return 0;
        }
        if (inf->adapters[slot].lora && (!a->lora || a->used < inf->adapters[slot].used)) slot = i;
    }
    Lora *l;
    if (peft_load(inf->model, dir, &l, err)) return -1;
    lora_free(inf->adapters[slot].lora);
    snprintf(inf->adapters[slot].dir, sizeof inf->adapters[slot].dir, "%s", dir);
    inf->adapters[slot].lora = l;
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
    const Lora *lora;
    if (use_model(inf, r->base_path, &err) || use_adapter(inf, r->adapter_dir, &lora, &err) ||
        infer_set_lora(inf->state, lora, &err)) {
        r->cb.on_done(r->user, 500, err.msg);
        return;
    }
    pthread_mutex_lock(&inf->mu);
    int threads = inf->threads;
    pthread_mutex_unlock(&inf->mu);
    omp_set_num_threads(threads > 0 ? threads : omp_get_num_procs());
    for (int i = 0; i < r->n_choices; i++) {
        GenParams p;
        gen_params_default(inf->model, &p); /* the model's end-of-turn and EOS ids */
        p.max_tokens = r->params.max_tokens;
        p.sampling = r->params.sampling;
        p.sampling.seed = r->params.sampling.seed + (uint64_t)i;
        p.n_stop = r->params.n_stop;
        for (int k = 0; k < p.n_stop; k++) p.stop[k] = r->params.stop[k];
        PieceCtx pc = {r, i};
        GenResult res = {0};
        if (generate_chat(inf->state, r->msgs, r->n_msgs, &p, on_piece, &pc, &res, &err)) {
            r->cb.on_done(r->user, err.code == ERR_ARG ? 400 : 500, err.msg);
            return;
        }
        r->cb.on_choice_done(r->user, i, &res);
        gen_result_free(&res);
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
                if (inf->adapters[i].lora && strcmp(inf->adapters[i].dir, inf->forget[f]) == 0) {
                    lora_free(inf->adapters[i].lora);
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
    infer_free(inf->state);
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
