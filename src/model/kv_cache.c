/* kv_cache.c: sequence slots of keys and values (see kv_cache.h). */
#include "kv_cache.h"

#include <stdlib.h>
#include <string.h>

#include "model.h"

#define KV_MAX_SLOTS 4096

void kv_cache_free(KvCache *c) {
    if (!c) return;
    free(c->k);
    free(c->v);
    free(c->len);
    free(c);
}

int kv_cache_new(const Model *m, int n_slots, int capacity, KvCache **out, Err *err) {
    *out = NULL;
    if (n_slots <= 0 || n_slots > KV_MAX_SLOTS)
        return err_set(err, ERR_ARG, "the cache needs 1 to %d sequence slots, not %d", KV_MAX_SLOTS, n_slots);
    if (capacity <= 0) return err_set(err, ERR_ARG, "context size must be positive");
    KvCache *c = calloc(1, sizeof *c);
    if (!c) return err_set(err, ERR_NOMEM, "out of memory");
    c->n_layer = m->cfg.n_layer;
    c->kv_dim = m->cfg.n_kv_head * m->cfg.head_dim;
    c->n_slots = n_slots;
    c->capacity = capacity;
    size_t n = (size_t)c->n_layer * n_slots * capacity * c->kv_dim;
    c->k = malloc(n * sizeof(float));
    c->v = malloc(n * sizeof(float));
    c->len = malloc((size_t)n_slots * sizeof(int));
    if (!c->k || !c->v || !c->len) {
        kv_cache_free(c);
        return err_set(err, ERR_NOMEM, "cannot allocate a %zu MiB key/value cache (%d slots of %d positions)",
                       2 * n * sizeof(float) >> 20, n_slots, capacity);
    }
    for (int s = 0; s < n_slots; s++) c->len[s] = -1;
    *out = c;
    return 0;
}

int kv_slot_alloc(KvCache *c) {
    for (int s = 0; s < c->n_slots; s++)
        if (c->len[s] < 0) {
            c->len[s] = 0;
            return s;
        }
    return -1;
}

void kv_slot_free(KvCache *c, int slot) { c->len[slot] = -1; }
void kv_slot_reset(KvCache *c, int slot) { c->len[slot] = 0; }

void kv_slot_truncate(KvCache *c, int slot, int n) {
    if (n < c->len[slot]) c->len[slot] = n < 0 ? 0 : n;
}

void kv_slot_fork(KvCache *c, int src, int dst, int n) {
    if (n > c->len[src]) n = c->len[src];
    for (int l = 0; l < c->n_layer && src != dst; l++) {
        memcpy(kv_slot_k(c, l, dst), kv_slot_k(c, l, src), (size_t)n * c->kv_dim * sizeof(float));
        memcpy(kv_slot_v(c, l, dst), kv_slot_v(c, l, src), (size_t)n * c->kv_dim * sizeof(float));
    }
    c->len[dst] = n;
}
