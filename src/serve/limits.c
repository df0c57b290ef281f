/* limits.c: the per-key token buckets of limits.h. */
#include "limits.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct {
    double tokens;
    double at; /* when tokens was last brought up to date; < 0: never used (a full bucket) */
} Bucket;

struct RateLimiter {
    pthread_mutex_t mu;
    double capacity, per_second;
    int n_keys;
    Bucket buckets[];
};

RateLimiter *rate_limiter_new(int per_minute, int n_keys) {
    if (per_minute <= 0 || n_keys <= 0) return NULL;
    RateLimiter *r = calloc(1, sizeof *r + (size_t)n_keys * sizeof r->buckets[0]);
    if (!r) return NULL;
    pthread_mutex_init(&r->mu, NULL);
    r->capacity = per_minute;
    r->per_second = per_minute / 60.0;
    r->n_keys = n_keys;
    for (int i = 0; i < n_keys; i++) r->buckets[i] = (Bucket){per_minute, -1};
    return r;
}

void rate_limiter_free(RateLimiter *r) {
    if (!r) return;
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int rate_limiter_take(RateLimiter *r, int key, double now) {
    if (!r || key < 0 || key >= r->n_keys) return 0;
    pthread_mutex_lock(&r->mu);
    Bucket *b = &r->buckets[key];
    if (b->at >= 0) b->tokens = fmin(r->capacity, b->tokens + (now - b->at) * r->per_second);
    b->at = now;
    int wait = 0;
    if (b->tokens >= 1) b->tokens -= 1;
    else wait = (int)ceil((1 - b->tokens) / r->per_second);
    pthread_mutex_unlock(&r->mu);
    return wait;
}
