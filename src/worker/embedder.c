/* embedder.c: the embedding thread (see embedder.h): its queue, its loaded encoders, and the work of
 * one request: check it whole (lengths, token ids), then embed it a group at a time, round robin
 * with the other waiting requests. */
#include "embedder.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ftune.h"

typedef struct {
    char path[4096];
    FtEncoder *enc;
    unsigned long long used; /* LRU clock */
} LoadedEncoder;

struct Embedder {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    EmbedRequest *head, *tail;
    int queued;
    bool stopping;
    int n_threads;    /* the configured budget */
    FtPrecision precision; /* of every encoder loaded */
    int threads_now;  /* what the next group uses (embedder_set_threads), under mu */
    Store *store;     /* the tasks' connection (NULL without a data directory) */
    LoadedEncoder models[EMBEDDER_MAX_MODELS];
    unsigned long long clock;
};

static void request_free(EmbedRequest *r) {
    json_decref(r->owner);
    free(r->texts);
    free(r->text_lens);
    if (r->ids)
        for (int i = 0; i < r->n; i++) free(r->ids[i]);
    free(r->ids);
    free(r->n_ids);
    free(r->vecs);
    free(r);
}

static void finish(EmbedRequest *r, int status, const char *code, const char *param, const char *message, int dim) {
    if (r->task) r->task(r->task_arg, NULL, 0, NULL, message ? message : "the task could not run");
    else r->cb.on_done(r->user, status, code, param, message, status ? NULL : r->vecs, status ? 0 : r->n, dim, r->tokens);
    request_free(r);
}

/* The encoder at path, loaded on first use (the least recently used one dropped when all are taken). */
static FtEncoder *encoder_for(Embedder *e, const char *path, FtError *err) {
    LoadedEncoder *slot = &e->models[0];
    for (int i = 0; i < EMBEDDER_MAX_MODELS; i++) {
        LoadedEncoder *m = &e->models[i];
        if (m->enc && !strcmp(m->path, path)) {
            m->used = ++e->clock;
            return m->enc;
        }
        if (!m->enc || (slot->enc && m->used < slot->used)) slot = m;
    }
    ft_encoder_free(slot->enc);
    memset(slot, 0, sizeof *slot);
    if (ft_encoder_load(path, &slot->enc, err)) return NULL;
    if (ft_encoder_set_precision(slot->enc, e->precision, NULL, err)) {
        ft_encoder_free(slot->enc);
        slot->enc = NULL;
        return NULL;
    }
    snprintf(slot->path, sizeof slot->path, "%s", path);
    slot->used = ++e->clock;
    return slot->enc;
}

/* First sight of r: tokenize its texts, check every input against the model. 0, or -1 after
 * answering. */
static int prepare(EmbedRequest *r, const FtEncoder *enc) {
    FtEncoderInfo info;
    ft_encoder_info(enc, &info);
    char msg[512];
    if (r->texts) {
        r->ids = calloc((size_t)r->n, sizeof *r->ids);
        r->n_ids = calloc((size_t)r->n, sizeof *r->n_ids);
        if (!r->ids || !r->n_ids) return finish(r, 500, NULL, NULL, "out of memory", 0), -1;
        for (int i = 0; i < r->n; i++) {
            FtError err = {0};
            if (ft_encoder_tokenize(enc, r->texts[i], r->text_lens[i], &r->ids[i], &r->n_ids[i], &err))
                return finish(r, 500, NULL, NULL, err.msg, 0), -1;
        }
    }
    r->tokens = 0;
    for (int i = 0; i < r->n; i++) {
        char param[32] = "input";
        if (r->n > 1) snprintf(param, sizeof param, "input[%d]", i);
        if (r->n_ids[i] > info.max_tokens) {
            snprintf(msg, sizeof msg,
                     "This model's maximum context length is %d tokens per input (%d with the [CLS] and [SEP] it "
                     "adds), however %s has %d tokens. Please reduce the length of the input.",
                     info.max_tokens, info.max_tokens + 2, param, r->n_ids[i]);
            return finish(r, 400, "context_length_exceeded", param, msg, 0), -1;
        }
        for (int k = 0; k < r->n_ids[i]; k++)
            if (r->ids[i][k] >= info.n_vocab) {
                snprintf(msg, sizeof msg, "Invalid value for '%s[%d]': token id %d is outside the model's vocabulary "
                         "(0 to %d).", param, k, (int)r->ids[i][k], info.n_vocab - 1);
                return finish(r, 400, "invalid_value", param, msg, 0), -1;
            }
        r->tokens += r->n_ids[i];
    }
    if (r->tokens > EMBEDDER_MAX_REQUEST_TOKENS) {
        snprintf(msg, sizeof msg, "Requested %lld tokens, max %d tokens per request.", r->tokens,
                 EMBEDDER_MAX_REQUEST_TOKENS);
        return finish(r, 400, "max_tokens_per_request", "input", msg, 0), -1;
    }
    r->vecs = malloc((size_t)r->n * info.dim * sizeof(float));
    if (!r->vecs) return finish(r, 500, NULL, NULL, "out of memory for the vectors", 0), -1;
    return 0;
}

/* One group of r's inputs; 1 when r is complete (answered), 0 when more remains, -1 answered. */
static int step(Embedder *e, EmbedRequest *r) {
    FtError err = {0};
    if (!r->task && r->cb.cancelled && r->cb.cancelled(r->user))
        return finish(r, 499, NULL, NULL, "the client went away", 0), -1;
    FtEncoder *enc = encoder_for(e, r->model_path, &err);
    if (!enc && r->task) {
        r->task(r->task_arg, NULL, 0, e->store, err.msg);
        request_free(r);
        return -1;
    }
    if (!enc) return finish(r, 500, "model_load_failed", "model", err.msg, 0), -1;
    pthread_mutex_lock(&e->mu);
    int threads = e->threads_now;
    pthread_mutex_unlock(&e->mu);
    if (r->task) {
        if (r->task(r->task_arg, enc, threads, e->store, NULL)) return 0; /* more: behind the others */
        request_free(r);
        return 1;
    }
    if (!r->vecs && prepare(r, enc)) return -1;
    FtEncoderInfo info;
    ft_encoder_info(enc, &info);
    int count = 0;
    long long rows = 0;
    while (r->done + count < r->n && (count == 0 || rows + r->n_ids[r->done + count] + 2 <= EMBEDDER_CHUNK_TOKENS))
        rows += r->n_ids[r->done + count++] + 2;
    if (ft_encoder_embed(enc, (const int32_t *const *)r->ids + r->done, r->n_ids + r->done, count, threads,
                         r->vecs + (size_t)r->done * info.dim, &err))
        return finish(r, 500, NULL, NULL, err.msg, 0), -1;
    r->done += count;
    if (r->done < r->n) return 0;
    finish(r, 0, NULL, NULL, NULL, info.dim);
    return 1;
}

static void *run(void *arg) {
    Embedder *e = arg;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->head && !e->stopping) pthread_cond_wait(&e->cv, &e->mu);
        if (e->stopping) break;
        EmbedRequest *r = e->head;
        e->head = r->next;
        if (!e->head) e->tail = NULL;
        r->next = NULL;
        pthread_mutex_unlock(&e->mu);
        int rc = step(e, r);
        pthread_mutex_lock(&e->mu);
        if (rc == 0) { /* more to do: behind the others */
            if (e->tail) e->tail->next = r;
            else e->head = r;
            e->tail = r;
        } else {
            e->queued--;
        }
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

int embedder_start(int n_threads, FtPrecision precision, const char *data_dir, const char *database, Embedder **out,
                   Err *err) {
    Embedder *e = calloc(1, sizeof *e);
    if (!e) return err_set(err, ERR_NOMEM, "out of memory");
    if (data_dir && store_open(data_dir, database, &e->store, err)) {
        free(e);
        return -1;
    }
    e->n_threads = e->threads_now = n_threads;
    e->precision = precision;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    if (pthread_create(&e->thread, NULL, run, e)) {
        pthread_mutex_destroy(&e->mu);
        pthread_cond_destroy(&e->cv);
        store_close(e->store);
        free(e);
        return err_set(err, ERR_NOMEM, "the embedding thread could not be started");
    }
    *out = e;
    return 0;
}

void embedder_set_threads(Embedder *e, int n) {
    pthread_mutex_lock(&e->mu);
    e->threads_now = n > 0 ? n : e->n_threads;
    pthread_mutex_unlock(&e->mu);
}

/* Appends r to the queue; false (r not taken) when it is full or the thread stopping. */
static bool enqueue(Embedder *e, EmbedRequest *r) {
    r->next = NULL;
    pthread_mutex_lock(&e->mu);
    bool ok = !e->stopping && e->queued < EMBEDDER_MAX_QUEUE;
    if (ok) {
        if (e->tail) e->tail->next = r;
        else e->head = r;
        e->tail = r;
        e->queued++;
        pthread_cond_signal(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    return ok;
}

void embedder_submit(Embedder *e, EmbedRequest *r) {
    if (!enqueue(e, r)) finish(r, 503, "server_busy", NULL, "The server has too many embedding requests waiting; retry later.", 0);
}

int embedder_submit_task(Embedder *e, const char *model_path, EmbedTaskFn fn, void *arg) {
    EmbedRequest *r = calloc(1, sizeof *r);
    if (!r) return -1;
    snprintf(r->model_path, sizeof r->model_path, "%s", model_path);
    r->task = fn;
    r->task_arg = arg;
    if (enqueue(e, r)) return 0;
    free(r);
    return -1;
}

void embedder_stop(Embedder *e) {
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->stopping = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    for (EmbedRequest *r = e->head, *next; r; r = next) {
        next = r->next;
        finish(r, 503, NULL, NULL, "The server is stopping.", 0);
    }
    for (int i = 0; i < EMBEDDER_MAX_MODELS; i++) ft_encoder_free(e->models[i].enc);
    store_close(e->store);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e);
}
