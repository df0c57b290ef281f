/* limits.h: the server's request-rate limit, per API key: a token bucket of `per_minute` requests
 * refilled continuously (so a burst of a minute's worth is allowed, then one request every
 * 60/per_minute seconds). A request over it gets 429 with Retry-After (server.c). Buckets are named
 * by key id (never the secret), made when a key is first seen: keys created while the server runs
 * get theirs. The bound on queued jobs is a count in the store per project, checked by routes_jobs.c.
 * Thread-safe. */
#ifndef FTUNE_LIMITS_H
#define FTUNE_LIMITS_H

#define LIMITS_QUEUED_JOBS_DEFAULT 100 /* a project's jobs validating or queued at once (--max-queued-jobs) */
#define LIMITS_RATE_DEFAULT 0          /* requests per minute per API key; 0 = no limit (--rate-limit) */
#define LIMITS_KEY_MAX 64              /* bytes of a key id, NUL included */

typedef struct RateLimiter RateLimiter;

/* A limiter of per_minute requests for each key; NULL when per_minute <= 0 (no limit) or out of
 * memory. */
RateLimiter *rate_limiter_new(int per_minute);
void rate_limiter_free(RateLimiter *r); /* NULL is a no-op */
/* Takes one request for the key named key ("" for requests without one) at time now (monotonic
 * seconds): 0 when allowed (always, for a NULL limiter, or when no memory is left for a new
 * key's bucket), else the whole seconds until one will be (>= 1). */
int rate_limiter_take(RateLimiter *r, const char *key, double now);

#endif
