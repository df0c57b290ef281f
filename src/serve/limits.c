/* limits.c: the per-key token buckets of limits.h, in an array searched by key id (a server has
 * tens of keys, not millions; only keys that authenticated reach it). */
#include "limits.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char key[LIMITS_KEY_MAX];
    double tokens;
    double at; /* when tokens was last brought up to date */
} Bucket;

struct RateLimiter {
    pthread_mutex_t mu;
    double capacity, per_second;
    Bucket *buckets;
    int n, cap;
};

RateLimiter *rate_limiter_new(int per_minute) {
    if (per_minute <= 0) return NULL;
    RateLimiter *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    pthread_mutex_init(&r->mu, NULL);
    r->capacity = per_minute;
    r->per_second = per_minute / 60.0;
    return r;
}

void rate_limiter_free(RateLimiter *r) {
    if (!r) return;
    pthread_mutex_destroy(&r->mu);
    free(r->buckets);
    free(r);
}

/* The bucket of key, made full when new; NULL without memory. Called with r->mu held. */
static Bucket *find_bucket(RateLimiter *r, const char *key, double now) {
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->buckets[i].key, key) == 0) return &r->buckets[i];
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 16;
        Bucket *b = realloc(r->buckets, (size_t)cap * sizeof *b);
        if (!b) return NULL;
        r->buckets = b;
        r->cap = cap;
    }
    Bucket *b = &r->buckets[r->n++];
    snprintf(b->key, sizeof b->key, "%s", key);
    b->tokens = r->capacity;
    b->at = now;
    return b;
}

int rate_limiter_take(RateLimiter *r, const char *key, double now) {
    if (!r) return 0;
    pthread_mutex_lock(&r->mu);
    Bucket *b = find_bucket(r, key ? key : "", now);
    int wait = 0;
    if (b) {
        b->tokens = fmin(r->capacity, b->tokens + (now - b->at) * r->per_second);
        b->at = now;
        if (b->tokens >= 1) b->tokens -= 1;
        else wait = (int)ceil((1 - b->tokens) / r->per_second);
    }
    pthread_mutex_unlock(&r->mu);
    return wait;
}
