/* ftune_decode.c: the public sequence cache (slots of model/kv_cache.h) and the batched forward
 * pass (model/forward.h) behind ft_engine_decode. It checks what the internal functions leave to
 * their callers (slot ranges and states, handles of another model) so that every bad argument gets
 * FT_ERR_ARG; the forward pass itself validates the rows. It does not sample or detokenize. */
#include <stdlib.h>

#include "ftune_internal.h"

int ft_cache_new(const FtModel *m, int n_slots, int capacity, FtCache **out, FtError *err) {
    if (!out) return ft_err_set(err, FT_ERR_ARG, "ft_cache_new: no place for the cache");
    *out = NULL;
    if (!m) return ft_err_set(err, FT_ERR_ARG, "ft_cache_new: no model");
    FtCache *c = calloc(1, sizeof *c);
    if (!c) return ft_err_set(err, FT_ERR_NOMEM, "out of memory");
    Err e = {0};
    if (kv_cache_new(m->model, n_slots, capacity, &c->kv, &e)) {
        free(c);
        return ft_err_from(err, &e);
    }
    c->owner = m;
    *out = c;
    return 0;
}

void ft_cache_free(FtCache *c) {
    if (!c) return;
    kv_cache_free(c->kv);
    free(c);
}

int ft_cache_slots(const FtCache *c) { return c->kv->n_slots; }
int ft_cache_capacity(const FtCache *c) { return c->kv->capacity; }

/* 0 when slot is an allocated slot of c, else -1 with err naming what (the caller) and why. */
static int check_slot(const FtCache *c, int slot, const char *what, FtError *err) {
    if (!c) return ft_err_set(err, FT_ERR_ARG, "%s: no cache", what);
    if (slot < 0 || slot >= c->kv->n_slots)
        return ft_err_set(err, FT_ERR_ARG, "%s: sequence slot %d is outside the cache's %d slots", what, slot,
                          c->kv->n_slots);
    if (c->kv->len[slot] < 0) return ft_err_set(err, FT_ERR_ARG, "%s: sequence slot %d is not allocated", what, slot);
    return 0;
}

int ft_cache_seq_alloc(FtCache *c, int *slot, FtError *err) {
    if (!c || !slot) return ft_err_set(err, FT_ERR_ARG, "ft_cache_seq_alloc: NULL argument");
    *slot = kv_slot_alloc(c->kv);
    if (*slot < 0) return ft_err_set(err, FT_ERR_ARG, "every one of the cache's %d sequence slots is in use", c->kv->n_slots);
    return 0;
}

int ft_cache_seq_free(FtCache *c, int slot, FtError *err) {
    if (check_slot(c, slot, "ft_cache_seq_free", err)) return -1;
    kv_slot_free(c->kv, slot);
    return 0;
}

int ft_cache_seq_truncate(FtCache *c, int slot, int n, FtError *err) {
    if (check_slot(c, slot, "ft_cache_seq_truncate", err)) return -1;
    if (n < 0 || n > kv_slot_len(c->kv, slot))
        return ft_err_set(err, FT_ERR_ARG, "ft_cache_seq_truncate: %d positions, but slot %d holds %d", n, slot,
                          kv_slot_len(c->kv, slot));
    kv_slot_truncate(c->kv, slot, n);
    return 0;
}

int ft_cache_seq_fork(FtCache *c, int src, int dst, int n, FtError *err) {
    if (check_slot(c, src, "ft_cache_seq_fork", err) || check_slot(c, dst, "ft_cache_seq_fork", err)) return -1;
    if (src == dst) return ft_err_set(err, FT_ERR_ARG, "ft_cache_seq_fork: source and destination are both slot %d", src);
    if (n < 0 || n > kv_slot_len(c->kv, src))
        return ft_err_set(err, FT_ERR_ARG, "ft_cache_seq_fork: %d positions, but slot %d holds %d", n, src,
                          kv_slot_len(c->kv, src));
    Err e = {0};
    if (kv_slot_fork(c->kv, src, dst, n, &e)) return ft_err_from(err, &e);
    return 0;
}

int ft_cache_seq_len(const FtCache *c, int slot) {
    if (!c || slot < 0 || slot >= c->kv->n_slots) return -1;
    return kv_slot_len(c->kv, slot);
}

int ft_engine_new(const FtModel *m, int max_rows, int max_ctx, int n_threads, FtEngine **out, FtError *err) {
    if (!out) return ft_err_set(err, FT_ERR_ARG, "ft_engine_new: no place for the engine");
    *out = NULL;
    if (!m) return ft_err_set(err, FT_ERR_ARG, "ft_engine_new: no model");
    FtEngine *e = calloc(1, sizeof *e);
    if (!e) return ft_err_set(err, FT_ERR_NOMEM, "out of memory");
    Err ie = {0};
    if (forward_new(m->model, max_rows, max_ctx, n_threads, &e->fwd, &ie)) {
        free(e);
        return ft_err_from(err, &ie);
    }
    e->owner = m;
    *out = e;
    return 0;
}

void ft_engine_free(FtEngine *e) {
    if (!e) return;
    forward_free(e->fwd);
    free(e);
}

int ft_engine_max_rows(const FtEngine *e) { return forward_max_rows(e->fwd); }
int ft_engine_threads(const FtEngine *e) { return forward_threads(e->fwd); }
void ft_engine_set_threads(FtEngine *e, int n_threads) { forward_set_threads(e->fwd, n_threads); }

int ft_engine_decode(FtEngine *e, FtCache *c, const FtBatch *b, const FtAdapter *const *adapters, int n_adapters,
                     float *logits, FtError *err) {
    if (!e || !c || !b) return ft_err_set(err, FT_ERR_ARG, "ft_engine_decode: NULL argument");
    if (c->owner != e->owner) return ft_err_set(err, FT_ERR_ARG, "the cache was made for another model");
    if (b->n > 0 && (!b->token || !b->pos || !b->seq))
        return ft_err_set(err, FT_ERR_ARG, "the batch has no token, position or slot array");
    if (n_adapters < 0 || n_adapters > FT_BATCH_MAX_ADAPTERS || (n_adapters > 0 && !adapters))
        return ft_err_set(err, FT_ERR_ARG, "%d adapters (0 to %d, with their list)", n_adapters, FT_BATCH_MAX_ADAPTERS);
    const Lora *loras[FT_BATCH_MAX_ADAPTERS];
    for (int i = 0; i < n_adapters; i++) {
        if (!adapters[i]) return ft_err_set(err, FT_ERR_ARG, "adapter %d is NULL", i);
        if (adapters[i]->owner != e->owner) return ft_err_set(err, FT_ERR_ARG, "adapter %d was loaded for another model", i);
        loras[i] = adapters[i]->lora;
    }
    if (!logits && b->n > 0) {
        bool wants = !b->logits;
        for (int i = 0; i < b->n && !wants; i++) wants = b->logits[i] != 0;
        if (wants) return ft_err_set(err, FT_ERR_ARG, "rows ask for logits but no logits buffer was given");
    }
    FwdBatch fb = {b->n, b->token, b->pos, b->seq, b->adapter, b->logits, b->n_decode};
    Err ie = {0};
    if (forward_batch(e->fwd, c->kv, &fb, loras, n_adapters, logits, &ie)) return ft_err_from(err, &ie);
    return 0;
}

int ft_cache_seq_reserve(FtCache *c, int slot, int n, FtError *err) {
    if (check_slot(c, slot, "ft_cache_seq_reserve", err)) return -1;
    Err e = {0};
    return kv_slot_reserve(c->kv, slot, n, &e) ? ft_err_from(err, &e) : 0;
}

int ft_cache_seq_room(const FtCache *c, int slot) {
    if (!c || slot < 0 || slot >= c->kv->n_slots) return 0;
    return kv_slot_room(c->kv, slot);
}

size_t ft_cache_bytes(const FtCache *c) { return kv_cache_bytes(c->kv); }
size_t ft_cache_position_bytes(const FtCache *c) { return kv_position_bytes(c->kv); }
