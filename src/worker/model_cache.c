/* model_cache.c: reference-counted, least-recently-used cache of loaded base models (see
 * model_cache.h). Two threads asking for the same model while it loads wait for one load. */
#include "model_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_CACHE_SLOTS 16

typedef struct {
    char *path;
    FtModel *model;    /* NULL while loading */
    int refs;
    unsigned long used;
    bool loading;
} Slot;

struct ModelCache {
    pthread_mutex_t mu;
    pthread_cond_t loaded;
    Slot slots[MODEL_CACHE_SLOTS];
    unsigned long clock;
    FtPrecision precision; /* set on every model after loading */
    bool serving;          /* every model laid out in tiles after loading */
};

int model_cache_new(ModelCache **out, FtPrecision precision, bool serving, Err *err) {
    ModelCache *c = calloc(1, sizeof *c);
    if (!c) return err_set(err, ERR_NOMEM, "out of memory");
    c->precision = precision;
    c->serving = serving;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->loaded, NULL);
    *out = c;
    return 0;
}

void model_cache_free(ModelCache *c) {
    if (!c) return;
    for (int i = 0; i < MODEL_CACHE_SLOTS; i++) {
        ft_model_free(c->slots[i].model);
        free(c->slots[i].path);
    }
    pthread_cond_destroy(&c->loaded);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Frees unreferenced models beyond MODEL_CACHE_KEEP, oldest first. Called with the lock held. */
static void evict(ModelCache *c) {
    for (;;) {
        int loaded = 0, oldest = -1;
        for (int i = 0; i < MODEL_CACHE_SLOTS; i++) {
            Slot *s = &c->slots[i];
            if (!s->path) continue;
            loaded++;
            if (!s->refs && !s->loading && (oldest < 0 || s->used < c->slots[oldest].used)) oldest = i;
        }
        if (loaded <= MODEL_CACHE_KEEP || oldest < 0) return;
        ft_model_free(c->slots[oldest].model);
        free(c->slots[oldest].path);
        memset(&c->slots[oldest], 0, sizeof(Slot));
    }
}

int model_cache_get(ModelCache *c, const char *path, const FtModel **out, Err *err) {
    pthread_mutex_lock(&c->mu);
    for (;;) {
        Slot *s = NULL;
        for (int i = 0; i < MODEL_CACHE_SLOTS && !s; i++)
            if (c->slots[i].path && strcmp(c->slots[i].path, path) == 0) s = &c->slots[i];
        if (s && s->loading) {
            pthread_cond_wait(&c->loaded, &c->mu);
            continue;
        }
        if (s) {
            s->refs++;
            s->used = ++c->clock;
            *out = s->model;
            pthread_mutex_unlock(&c->mu);
            return 0;
        }
        evict(c);
        for (int i = 0; i < MODEL_CACHE_SLOTS && !s; i++)
            if (!c->slots[i].path) s = &c->slots[i];
        if (!s) {
            pthread_mutex_unlock(&c->mu);
            return err_set(err, ERR_UNSUPPORTED, "too many models in use at once (%d)", MODEL_CACHE_SLOTS);
        }
        s->path = strdup(path);
        s->loading = true;
        pthread_mutex_unlock(&c->mu);
        FtModel *m = NULL;
        FtError fe = {0};
        int rc = -1;
        if (!s->path) err_set(err, ERR_NOMEM, "out of memory");
        else if (ft_model_load(path, &m, &fe) || ft_model_set_precision(m, c->precision, NULL, &fe) ||
                 (c->serving && ft_model_lay_out_tiles(m, &fe)))
            err_set(err, fe.code, "%s", fe.msg); /* the same codes */
        else rc = 0;
        if (rc && m) ft_model_free(m), m = NULL;
        pthread_mutex_lock(&c->mu);
        s->loading = false;
        if (rc) {
            free(s->path);
            memset(s, 0, sizeof *s);
        } else {
            s->model = m;
            s->refs = 1;
            s->used = ++c->clock;
            *out = m;
        }
        pthread_cond_broadcast(&c->loaded);
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
}

void model_cache_put(ModelCache *c, const FtModel *m) {
    if (!m) return;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < MODEL_CACHE_SLOTS; i++)
        if (c->slots[i].model == m && c->slots[i].refs > 0) {
            c->slots[i].refs--;
            break;
        }
    evict(c);
    pthread_mutex_unlock(&c->mu);
}
