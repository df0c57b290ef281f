/* kv_cache.h: the key/value cache of many sequences, apart from any per-batch scratch. A cache
 * holds n_slots sequence slots of up to `capacity` positions each; a slot is allocated for a
 * sequence, filled by the forward pass (forward.h) at the positions of its rows, forked to share
 * a prompt prefix, reset or freed. A slot's memory is allocated as it grows ((layers, positions,
 * n_kv*hd) floats for K and the same for V, doubling up to `capacity`) and released when the slot
 * is freed, so a cache of many slots costs only what its sequences hold; kv_cache_bytes says how
 * much that is. Not thread-safe: one owner (the inference thread or one command) drives it. */
#ifndef FTUNE_KV_CACHE_H
#define FTUNE_KV_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"

struct Model;

#define KV_SPARES 32 /* released slot allocations kept for the next ones of the same size (kv_cache.c) */

typedef struct KvCache {
    int n_layer;
    int kv_dim;    /* n_kv_head * head_dim */
    int n_slots;
    int capacity;  /* positions a slot may grow to */
    float **k;     // (n_slots) each (L, room[slot], kv_dim), NULL while the slot holds no memory
    float **v;     // (n_slots) the same for values
    int *room;     // (n_slots) positions allocated for the slot
    int *len;      // (n_slots) positions filled; -1 when the slot is free
    /* released allocations kept for reuse (kv_cache.c: pages_new), oldest first */
    float *spares[KV_SPARES];
    size_t spare_floats[KV_SPARES];
    int n_spares;
    size_t spare_bytes;
} KvCache;

/* A cache of n_slots sequences of up to capacity positions for model m. ERR_ARG for sizes out of
 * range, ERR_NOMEM. Every slot starts free and holds no memory. */
int kv_cache_new(const struct Model *m, int n_slots, int capacity, KvCache **out, Err *err);
void kv_cache_free(KvCache *c); /* NULL is a no-op */
/* Bytes of keys and values allocated now, over every slot (not counting the spares, at most
 * 64 MiB of released slot memory kept for reuse). */
size_t kv_cache_bytes(const KvCache *c);
/* Bytes one position of one slot takes (keys and values of every layer). */
size_t kv_position_bytes(const KvCache *c);

/* A free slot, now in use and empty; -1 when every slot is taken. */
int kv_slot_alloc(KvCache *c);
/* Gives the slot back: its contents are forgotten and its memory released. */
void kv_slot_free(KvCache *c, int slot);
/* Empties the slot, keeping it allocated (and its memory). */
void kv_slot_reset(KvCache *c, int slot);
/* Truncates the slot to its first n positions (n <= its length), giving back memory when it holds
 * more than twice what remains. */
void kv_slot_truncate(KvCache *c, int slot, int n);
/* Makes room for n positions in the slot (n <= capacity), keeping what it holds: grows to at least
 * n, by doubling where capacity allows. ERR_ARG beyond capacity, ERR_NOMEM naming the size. */
int kv_slot_reserve(KvCache *c, int slot, int n, Err *err);
/* Copies the first n positions of src into dst (allocated; n <= src's length), so that dst
 * continues from a shared prefix. ERR_NOMEM when dst cannot grow to n (dst is then empty). */
int kv_slot_fork(KvCache *c, int src, int dst, int n, Err *err);
static inline int kv_slot_len(const KvCache *c, int slot) { return c->len[slot]; }
static inline int kv_slot_room(const KvCache *c, int slot) { return c->room[slot]; }

/* The (room, kv_dim) K or V rows of a slot in one layer (valid until the slot grows). */
static inline float *kv_slot_k(const KvCache *c, int layer, int slot) {
    return c->k[slot] + (size_t)layer * c->room[slot] * c->kv_dim;
}
static inline float *kv_slot_v(const KvCache *c, int layer, int slot) {
    return c->v[slot] + (size_t)layer * c->room[slot] * c->kv_dim;
}

#endif
