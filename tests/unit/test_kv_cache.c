/* test_kv_cache.c: the key/value cache's reuse of released slot memory (kv_cache.c's spares). A slot
 * freed and allocated again gets the same memory back, still holding the old sequence's keys and
 * values, and a new sequence run in it gives the same logits, to the bit, as in a cache that never
 * held anything; the spares stay within their bounds of count and bytes and are not counted as
 * held memory; freeing the cache gives every mapping back. On stories260K. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/forward.h"
#include "test.h"
#include "test_models.h"

/* Logits (V) of the last of ids[0..n) run from position 0 in slot s of kv. */
static void run_prompt(Forward *f, KvCache *kv, int s, const int32_t *ids, int n, float *logits) {
    int32_t pos[16], seq[16];
    uint8_t want[16] = {0};
    for (int i = 0; i < n; i++) pos[i] = i, seq[i] = s;
    want[n - 1] = 1;
    FwdBatch b = {n, (int32_t *)ids, pos, seq, NULL, want, 0};
    Err err = {0};
    if (forward_batch(f, kv, &b, NULL, 0, logits, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
}

TEST(kv_cache_reuses_released_slots_without_reading_them) {
    Model *m = test_load_stories260k();
    if (!m) return;
    int V = m->cfg.vocab;
    Err err = {0};
    Rng r;
    rng_seed(&r, 5);
    int32_t a[12], b[9];
    for (int i = 0; i < 12; i++) a[i] = 1 + (int32_t)(rng_next(&r) % (uint64_t)(V - 1));
    for (int i = 0; i < 9; i++) b[i] = 1 + (int32_t)(rng_next(&r) % (uint64_t)(V - 1));
    Forward *f;
    KvCache *fresh, *kv;
    REQUIRE(forward_new(m, 16, 256, 2, &f, &err) == 0);
    REQUIRE(kv_cache_new(m, 4, 256, &fresh, &err) == 0 && kv_cache_new(m, 4, 256, &kv, &err) == 0);
    float *want = malloc((size_t)V * sizeof(float)), *got = malloc((size_t)V * sizeof(float));
    REQUIRE(want && got);
    run_prompt(f, fresh, kv_slot_alloc(fresh), b, 9, want);

    int s = kv_slot_alloc(kv);
    run_prompt(f, kv, s, a, 12, got);
    float *k_a = kv->k[s], *v_a = kv->v[s];
    size_t held = kv_cache_bytes(kv);
    CHECK(held > 0);
    kv_slot_free(kv, s);
    CHECK(kv_cache_bytes(kv) == 0); /* spares are not held memory */
    CHECK_EQ_INT(kv->n_spares, 2);
    CHECK(kv->spare_bytes == held);
    /* the next slot of that size gets the same memory, a's keys still in it, and b's logits are
     * those of a cache that never held a */
    int t = kv_slot_alloc(kv);
    run_prompt(f, kv, t, b, 9, got);
    CHECK((kv->k[t] == k_a && kv->v[t] == v_a) || (kv->k[t] == v_a && kv->v[t] == k_a));
    CHECK_EQ_INT(kv->n_spares, 0);
    CHECK(memcmp(got, want, (size_t)V * sizeof(float)) == 0);

    /* slots grown to several sizes and freed: the spares stay within their bounds, and every one
     * of them goes with the cache */
    for (int round = 0; round < 3; round++) {
        int slots[4];
        for (int i = 0; i < 4; i++) {
            slots[i] = i == 0 ? t : kv_slot_alloc(kv);
            REQUIRE(slots[i] >= 0);
            REQUIRE(kv_slot_reserve(kv, slots[i], 1 + 50 * (i + round), &err) == 0);
        }
        for (int i = 0; i < 4; i++) kv_slot_free(kv, slots[i]);
        CHECK(kv->n_spares <= KV_SPARES);
        CHECK(kv->spare_bytes <= ((size_t)64 << 20));
        CHECK(kv_cache_bytes(kv) == 0);
        t = kv_slot_alloc(kv);
    }
    CHECK(kv->n_spares > 0);
    free(want), free(got);
    forward_free(f);
    kv_cache_free(fresh);
    kv_cache_free(kv);
    model_free(m);
}

/* The process's memory mappings (lines of /proc/self/maps). */
static int count_mappings(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    int n = 0, ch;
    while ((ch = fgetc(f)) != EOF) n += ch == '\n';
    fclose(f);
    return n;
}

/* kv_cache_free gives every mapping back, spares of several sizes included, and no other: the
 * process's mappings are what they were before the cache (a spare unmapped with another spare's
 * length would leave one behind, or take a neighbour's pages with it). */
TEST(kv_cache_free_unmaps_exactly_its_spares) {
    Model *m = test_load_stories260k();
    if (!m) return;
    Err err = {0};
    int before = count_mappings();
    REQUIRE(before > 0);
    KvCache *kv;
    REQUIRE(kv_cache_new(m, 8, 4096, &kv, &err) == 0);
    const int sizes[] = {64, 200, 900, 3000, 64, 1500};
    for (int i = 0; i < 6; i++) {
        int s = kv_slot_alloc(kv);
        REQUIRE(s >= 0 && kv_slot_reserve(kv, s, sizes[i], &err) == 0);
    }
    for (int s = 0; s < 6; s++) kv_slot_free(kv, s); /* each slot's grown allocations: spares */
    CHECK(kv->n_spares >= 4);
    kv_cache_free(kv);
    CHECK_EQ_INT(count_mappings(), before);
}
