/* kv_cache.h: the key/value cache of many sequences, apart from any per-batch scratch. A cache
 * holds n_slots sequence slots of up to `capacity` positions each; a slot is allocated for a
 * sequence, filled by the forward pass (forward.h) at the positions of its rows, forked to share
 * a prompt prefix, reset or freed. Memory is allocated once at creation: (layers, slots,
 * capacity, n_kv*hd) floats for K and the same for V. Not thread-safe: one owner (the
 * inference thread or one command) drives it. */
#ifndef FTUNE_KV_CACHE_H
#define FTUNE_KV_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"

struct Model;

typedef struct KvCache {
    int n_layer;
    int kv_dim;    /* n_kv_head * head_dim */
    int n_slots;
    int capacity;  /* positions per slot */
    float *k;      // (L, n_slots, capacity, kv_dim)
    float *v;      // (L, n_slots, capacity, kv_dim)
    int *len;      // (n_slots) positions filled; -1 when the slot is free
} KvCache;

/* A cache of n_slots sequences of up to capacity positions for model m. ERR_ARG for sizes out of
 * range, ERR_NOMEM naming the size when it cannot be allocated. Every slot starts free. */
int kv_cache_new(const struct Model *m, int n_slots, int capacity, KvCache **out, Err *err);
void kv_cache_free(KvCache *c); /* NULL is a no-op */

/* A free slot, now in use and empty; -1 when every slot is taken. */
int kv_slot_alloc(KvCache *c);
/* Gives the slot back (its contents are forgotten). */
void kv_slot_free(KvCache *c, int slot);
/* Empties the slot, keeping it allocated. */
void kv_slot_reset(KvCache *c, int slot);
/* Truncates the slot to its first n positions (n <= its length). */
void kv_slot_truncate(KvCache *c, int slot, int n);
/* Copies the first n positions of src into dst (allocated; n <= src's length), so that dst
 * continues from a shared prefix. */
void kv_slot_fork(KvCache *c, int src, int dst, int n);
static inline int kv_slot_len(const KvCache *c, int slot) { return c->len[slot]; }

/* The (capacity, kv_dim) K or V rows of a slot in one layer. */
static inline float *kv_slot_k(const KvCache *c, int layer, int slot) {
    return c->k + ((size_t)layer * c->n_slots + slot) * c->capacity * c->kv_dim;
}
static inline float *kv_slot_v(const KvCache *c, int layer, int slot) {
    return c->v + ((size_t)layer * c->n_slots + slot) * c->capacity * c->kv_dim;
}

#endif
