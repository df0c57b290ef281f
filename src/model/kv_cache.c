/* kv_cache.c: sequence slots of keys and values, each growing on demand (see kv_cache.h). */
#include "kv_cache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "model.h"

#define KV_MAX_SLOTS 4096
#define KV_MIN_ROOM 64 /* positions of a slot's first allocation */
#define KV_SPARE_BYTES ((size_t)64 << 20) /* released slot memory kept for reuse, at most (see pages_new) */

/* Takes spare i out of the list: its memory, of *floats floats. */
static float *spare_take(KvCache *c, int i, size_t *floats) {
    float *p = c->spares[i];
    *floats = c->spare_floats[i];
    c->spare_bytes -= *floats * sizeof(float);
    c->n_spares--;
    memmove(c->spares + i, c->spares + i + 1, (size_t)(c->n_spares - i) * sizeof *c->spares);
    memmove(c->spare_floats + i, c->spare_floats + i + 1, (size_t)(c->n_spares - i) * sizeof *c->spare_floats);
    return p;
}

/* Slot memory comes straight from mmap, not malloc: a server's slots grow and shrink by megabytes
 * all the time, and munmap gives pages back at once where malloc's heap would keep them (the
 * process's memory then follows what the cache holds). A few released allocations are kept as
 * spares (at most KV_SPARES of them and KV_SPARE_BYTES in all) and handed to the next request for
 * the same size: a server that frees and allocates a slot for each short request would otherwise
 * fault in, zero and unmap every page of it each time (about 7% of its CPU time under many short
 * requests). A spare holds stale values, which nothing reads: a slot's positions are written
 * before they are attended to. */
static float *pages_new(KvCache *c, size_t floats) {
    for (int i = c->n_spares - 1; i >= 0; i--) /* the latest released first: its pages are warmest */
        if (c->spare_floats[i] == floats) return spare_take(c, i, &floats);
    void *p = mmap(NULL, floats * sizeof(float), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void pages_free(KvCache *c, float *p, size_t floats) {
    if (!p) return;
    size_t bytes = floats * sizeof(float);
    if (bytes > KV_SPARE_BYTES) {
        munmap(p, bytes);
        return;
    }
    while (c->n_spares == KV_SPARES || c->spare_bytes + bytes > KV_SPARE_BYTES) { /* the oldest spares go */
        size_t old;
        float *q = spare_take(c, 0, &old);
        munmap(q, old * sizeof(float));
    }
    c->spares[c->n_spares] = p;
    c->spare_floats[c->n_spares++] = floats;
    c->spare_bytes += bytes;
}

static size_t slot_floats(const KvCache *c, int room) { return (size_t)c->n_layer * room * c->kv_dim; }

static void slot_release(KvCache *c, int s) {
    pages_free(c, c->k[s], slot_floats(c, c->room[s]));
    pages_free(c, c->v[s], slot_floats(c, c->room[s]));
    c->k[s] = c->v[s] = NULL;
    c->room[s] = 0;
}

void kv_cache_free(KvCache *c) {
    if (!c) return;
    for (int s = 0; c->k && c->v && c->room && s < c->n_slots; s++) slot_release(c, s);
    while (c->n_spares) { /* the spare first, then its size: one statement would leave their order unspecified */
        size_t floats;
        float *p = spare_take(c, c->n_spares - 1, &floats);
        munmap(p, floats * sizeof(float));
    }
    free(c->k);
    free(c->v);
    free(c->room);
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
    c->k = calloc((size_t)n_slots, sizeof *c->k);
    c->v = calloc((size_t)n_slots, sizeof *c->v);
    c->room = calloc((size_t)n_slots, sizeof *c->room);
    c->len = malloc((size_t)n_slots * sizeof *c->len);
    if (!c->k || !c->v || !c->room || !c->len) {
        kv_cache_free(c);
        return err_set(err, ERR_NOMEM, "out of memory for a cache of %d slots", n_slots);
    }
    for (int s = 0; s < n_slots; s++) c->len[s] = -1;
    *out = c;
    return 0;
}

size_t kv_position_bytes(const KvCache *c) { return 2 * (size_t)c->n_layer * c->kv_dim * sizeof(float); }

size_t kv_cache_bytes(const KvCache *c) {
    size_t positions = 0;
    for (int s = 0; s < c->n_slots; s++) positions += (size_t)c->room[s];
    return positions * kv_position_bytes(c);
}

int kv_slot_alloc(KvCache *c) {
    for (int s = 0; s < c->n_slots; s++)
        if (c->len[s] < 0) {
            c->len[s] = 0;
            return s;
        }
    return -1;
}

void kv_slot_free(KvCache *c, int slot) {
    c->len[slot] = -1;
    slot_release(c, slot);
}

void kv_slot_reset(KvCache *c, int slot) { c->len[slot] = 0; }

/* Moves slot s into an allocation of `room` positions (>= its length); -1 when out of memory. */
static int slot_move(KvCache *c, int s, int room) {
    size_t layer_old = (size_t)c->room[s] * c->kv_dim, layer_new = (size_t)room * c->kv_dim;
    float *k = pages_new(c, slot_floats(c, room)), *v = pages_new(c, slot_floats(c, room));
    if (!k || !v) {
        pages_free(c, k, slot_floats(c, room));
        pages_free(c, v, slot_floats(c, room));
        return -1;
    }
    size_t keep = (size_t)(c->len[s] > 0 ? c->len[s] : 0) * c->kv_dim * sizeof(float);
    for (int l = 0; l < c->n_layer && keep; l++) {
        memcpy(k + l * layer_new, c->k[s] + l * layer_old, keep);
        memcpy(v + l * layer_new, c->v[s] + l * layer_old, keep);
    }
    slot_release(c, s);
    c->k[s] = k;
    c->v[s] = v;
    c->room[s] = room;
    return 0;
}

void kv_slot_truncate(KvCache *c, int slot, int n) {
    if (n < c->len[slot]) c->len[slot] = n < 0 ? 0 : n;
    int fit = c->len[slot] > KV_MIN_ROOM ? c->len[slot] : KV_MIN_ROOM;
    if (c->room[slot] > 2 * fit) slot_move(c, slot, fit); /* give back what it no longer needs (kept on failure) */
}

int kv_slot_reserve(KvCache *c, int slot, int n, Err *err) {
    if (n <= c->room[slot]) return 0;
    if (n > c->capacity)
        return err_set(err, ERR_ARG, "%d positions exceed the cache's %d per sequence", n, c->capacity);
    int room = c->room[slot] ? 2 * c->room[slot] : KV_MIN_ROOM;
    if (room < n) room = n;
    if (room > c->capacity) room = c->capacity;
    if (slot_move(c, slot, room))
        return err_set(err, ERR_NOMEM, "cannot grow a key/value cache slot to %d positions (%zu MiB)", room,
                       ((size_t)room * kv_position_bytes(c)) >> 20);
    return 0;
}

int kv_slot_fork(KvCache *c, int src, int dst, int n, Err *err) {
    if (n > c->len[src]) n = c->len[src];
    if (src == dst) return 0;
    c->len[dst] = 0; /* nothing of dst's old contents needs keeping while it grows */
    if (kv_slot_reserve(c, dst, n, err)) return -1;
    for (int l = 0; l < c->n_layer; l++) {
        memcpy(kv_slot_k(c, l, dst), kv_slot_k(c, l, src), (size_t)n * c->kv_dim * sizeof(float));
        memcpy(kv_slot_v(c, l, dst), kv_slot_v(c, l, src), (size_t)n * c->kv_dim * sizeof(float));
    }
    c->len[dst] = n;
    return 0;
}
