/* inference.c: the inference thread (see inference.h): its queue, its loop (admit, step, sleep
 * when nothing is live), the current base model with its cache and engine, and the LRU of loaded
 * adapters. The scheduling itself is in scheduler.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inference_internal.h"

void inference_request_free(InferRequest *r) {
    json_decref(r->owner);
    free(r->msgs);
    free((void *)r->params.logit_bias_ids);
    free((void *)r->params.logit_bias_values);
    ft_grammar_free((FtGrammar *)r->params.grammar);
    for (int i = 0; i < r->tools.n_defs; i++) free(r->tools.defs[i]);
    free(r->tools.defs);
    free(r->tools.calls);
    free(r);
}

static void request_refuse(InferRequest *r, int status, const char *message) {
    r->cb.on_done(r->user, status, NULL, message);
    inference_request_free(r);
}

/* Unloads adapter entry i and forgets the keys and values computed with it. */
static void adapter_drop(Inference *inf, int i) {
    CachedAdapter *a = &inf->adapters[i];
    if (a->adapter) sched_forget_adapter(inf, i);
    ft_adapter_free(a->adapter);
    memset(a, 0, sizeof *a);
}

/* Frees the current model's slots, engine, cache and adapters. */
static void drop_model(Inference *inf) {
    for (int i = 0; i < INFERENCE_MAX_ADAPTERS; i++) adapter_drop(inf, i);
    sched_slots_free(inf);
    ft_engine_free(inf->engine);
    ft_cache_free(inf->kv);
    free(inf->logits);
    inf->engine = NULL;
    inf->kv = NULL;
    inf->logits = NULL;
    model_cache_put(inf->cache, inf->model);
    inf->model = NULL;
}

int inference_use_model(Inference *inf, const char *base_path, Err *err) {
    FtModelInfo info;
    if (inf->model) ft_model_info(inf->model, &info);
    if (inf->model && strcmp(info.path, base_path) == 0) return 0;
    drop_model(inf);
    if (model_cache_get(inf->cache, base_path, &inf->model, err)) return -1;
    ft_model_info(inf->model, &info);
    inf->ctx = info.context_length > 0 && info.context_length < INFERENCE_MAX_SEQ ? info.context_length : INFERENCE_MAX_SEQ;
    inf->vocab = info.vocab;
    FtError fe = {0};
    int seqs = inf->cfg.max_seqs;
    if (ft_cache_new(inf->model, 2 * seqs, inf->ctx, &inf->kv, &fe) ||
        ft_engine_new(inf->model, INFERENCE_BATCH_ROWS, inf->ctx, inf->cfg.n_threads, &inf->engine, &fe)) {
        drop_model(inf);
        return err_set(err, fe.code, "%s", fe.msg);
    }
    inf->logits = malloc((size_t)seqs * inf->vocab * sizeof(float));
    if (!inf->logits || sched_slots_new(inf, err)) {
        drop_model(inf);
        return err->code ? -1 : err_set(err, ERR_NOMEM, "out of memory");
    }
    return 0;
}

int inference_use_adapter(Inference *inf, const char *dir, Err *err) {
    if (!dir[0]) return -1;
    size_t total = 0;
    for (int i = 0; i < INFERENCE_MAX_ADAPTERS; i++) {
        CachedAdapter *a = &inf->adapters[i];
        if (a->adapter && strcmp(a->dir, dir) == 0) {
            a->used = ++inf->clock;
            return i;
        }
        total += a->bytes;
    }
    FtAdapter *l;
    FtError fe = {0};
    if (ft_adapter_load(inf->model, dir, &l, &fe)) {
        err_set(err, fe.code, "%s", fe.msg);
        return -2;
    }
    size_t bytes = ft_adapter_bytes(l), bound = (size_t)INFERENCE_ADAPTER_MIB << 20;
    /* room: an empty entry, else drop unpinned adapters, least recently used first, until it fits */
    int slot = -1;
    for (;;) {
        int lru = -1;
        slot = -1;
        for (int i = 0; i < INFERENCE_MAX_ADAPTERS; i++) {
            CachedAdapter *a = &inf->adapters[i];
            if (!a->adapter && slot < 0) slot = i;
            if (a->adapter && !a->pins && (lru < 0 || a->used < inf->adapters[lru].used)) lru = i;
        }
        if (slot >= 0 && total + bytes <= bound) break;
        if (lru < 0) break;
        total -= inf->adapters[lru].bytes;
        adapter_drop(inf, lru);
    }
    if (slot < 0) { /* every entry pinned by live sequences: the caller waits */
        ft_adapter_free(l);
        err_set(err, ERR_UNSUPPORTED, "every adapter slot is in use");
        return -3;
    }
    snprintf(inf->adapters[slot].dir, sizeof inf->adapters[slot].dir, "%s", dir);
    inf->adapters[slot].adapter = l;
    inf->adapters[slot].bytes = bytes;
    inf->adapters[slot].used = ++inf->clock;
    return slot;
}

/* Drops the adapters a deleted model named, once nothing live uses them. Under mu. */
static void forget_adapters(Inference *inf) {
    int kept = 0;
    for (int f = 0; f < inf->n_forget; f++) {
        bool pinned = false;
        for (int i = 0; i < INFERENCE_MAX_ADAPTERS; i++) {
            CachedAdapter *a = &inf->adapters[i];
            if (!a->adapter || strcmp(a->dir, inf->forget[f]) != 0) continue;
            if (a->pins) pinned = true;
            else adapter_drop(inf, i);
        }
        if (pinned) memmove(inf->forget[kept++], inf->forget[f], sizeof inf->forget[0]);
    }
    inf->n_forget = kept;
}

static void *inference_main(void *arg) {
    Inference *inf = arg;
    for (;;) {
        pthread_mutex_lock(&inf->mu);
        forget_adapters(inf);
        while (!inf->head && !inf->next_up && !inf->live && !inf->stopping) pthread_cond_wait(&inf->wake, &inf->mu);
        bool stopping = inf->stopping;
        int threads = inf->threads;
        pthread_mutex_unlock(&inf->mu);
        if (stopping) break;
        bool live = sched_admit(inf);
        if (!live) continue;
        ft_engine_set_threads(inf->engine, threads); /* one while a job trains, see inference_set_threads */
        sched_step(inf);
    }
    sched_fail_all(inf, 503, "the server is shutting down");
    pthread_mutex_lock(&inf->mu);
    InferRequest *r = inf->next_up ? inf->next_up : NULL;
    inf->next_up = NULL;
    if (r) {
        r->next = inf->head;
        inf->head = r;
    }
    while ((r = inf->head)) {
        inf->head = r->next;
        pthread_mutex_unlock(&inf->mu);
        request_refuse(r, 503, "the server is shutting down");
        pthread_mutex_lock(&inf->mu);
    }
    inf->tail = NULL;
    pthread_mutex_unlock(&inf->mu);
    return NULL;
}

int inference_start(ModelCache *cache, const InferenceConfig *cfg, Inference **out, Err *err) {
    Inference *inf = calloc(1, sizeof *inf);
    if (!inf) return err_set(err, ERR_NOMEM, "out of memory");
    inf->cache = cache;
    inf->cfg = *cfg;
    if (inf->cfg.max_seqs <= 0) inf->cfg.max_seqs = INFERENCE_DEFAULT_SEQS;
    if (inf->cfg.max_seqs > INFERENCE_BATCH_ROWS) inf->cfg.max_seqs = INFERENCE_BATCH_ROWS;
    if (!inf->cfg.kv_bytes) inf->cfg.kv_bytes = (size_t)INFERENCE_DEFAULT_KV_MIB << 20;
    inf->threads = cfg->n_threads;
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
    drop_model(inf);
    pthread_cond_destroy(&inf->wake);
    pthread_mutex_destroy(&inf->mu);
    free(inf);
}

void inference_submit(Inference *inf, InferRequest *r) {
    r->next = NULL;
    pthread_mutex_lock(&inf->mu);
    if (inf->stopping || inf->queued >= INFERENCE_MAX_QUEUE) {
        bool stopping = inf->stopping;
        pthread_mutex_unlock(&inf->mu);
        request_refuse(r, 503, stopping ? "the server is shutting down"
                                         : "the server is busy: too many chat requests are waiting; retry later");
        return;
    }
    if (inf->tail) inf->tail->next = r;
    else inf->head = r;
    inf->tail = r;
    inf->queued++;
    inf->stats.queued = inf->queued;
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

void inference_stats(Inference *inf, InferStats *out) {
    pthread_mutex_lock(&inf->mu);
    *out = inf->stats;
    pthread_mutex_unlock(&inf->mu);
}
