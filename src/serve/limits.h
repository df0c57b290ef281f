/* limits.h: the server's request-rate limit, per API key: a token bucket of `per_minute` requests
 * refilled continuously (so a burst of a minute's worth is allowed, then one request every
 * 60/per_minute seconds). A request over it gets 429 with Retry-After (server.c). The bound on
 * queued jobs is a count in the store, checked by routes_jobs.c. Thread-safe. */
#ifndef FTUNE_LIMITS_H
#define FTUNE_LIMITS_H

#define LIMITS_QUEUED_JOBS_DEFAULT 100 /* jobs validating or queued at once (ftune serve --max-queued-jobs) */
#define LIMITS_RATE_DEFAULT 0          /* requests per minute per API key; 0 = no limit (--rate-limit) */

typedef struct RateLimiter RateLimiter;

/* A limiter of per_minute requests for each of n_keys keys (index 0 stands for "no key" when the
 * server has none); NULL when per_minute <= 0 (no limit) or out of memory. */
RateLimiter *rate_limiter_new(int per_minute, int n_keys);
void rate_limiter_free(RateLimiter *r); /* NULL is a no-op */
/* Takes one request for key at time now (monotonic seconds): 0 when allowed (always, for a NULL
 * limiter or a key out of range), else the whole seconds until one will be (>= 1). */
int rate_limiter_take(RateLimiter *r, int key, double now);

#endif
