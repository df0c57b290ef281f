/* metrics.c: in-memory counters and their Prometheus text rendering (see metrics.h). */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_MAX_SERIES 256 /* (method, route, status) combinations kept */
#define METRICS_MAX_ROUTES 64
static const double BUCKETS[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define N_BUCKETS (int)(sizeof BUCKETS / sizeof BUCKETS[0])

typedef struct {
    const char *method, *route;
    int status;
    unsigned long long count;
} Series;

typedef struct {
    const char *route;
    unsigned long long buckets[N_BUCKETS];
    unsigned long long count;
    double sum;
} Histogram;

struct Metrics {
    pthread_mutex_t mu;
    Series series[METRICS_MAX_SERIES];
    int n_series;
    Histogram hist[METRICS_MAX_ROUTES];
    int n_hist;
    unsigned long long chat_requests, prompt_tokens, completion_tokens;
    unsigned long long embedding_requests, embedding_inputs, embedding_tokens;
};

Metrics *metrics_new(void) {
    Metrics *m = calloc(1, sizeof *m);
    if (m) pthread_mutex_init(&m->mu, NULL);
    return m;
}

void metrics_free(Metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* Methods outside this list are counted as "OTHER" (label values stay bounded). */
static const char *method_label(const char *method) {
    static const char *const known[] = {"GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(method, known[i]) == 0) return known[i];
    return "OTHER";
}

void metrics_record_request(Metrics *m, const char *method, const char *route, int status, double seconds) {
    method = method_label(method);
    pthread_mutex_lock(&m->mu);
    Series *s = NULL;
    for (int i = 0; i < m->n_series && !s; i++)
        if (m->series[i].status == status && m->series[i].route == route && m->series[i].method == method)
            s = &m->series[i];
    if (!s && m->n_series < METRICS_MAX_SERIES) {
        s = &m->series[m->n_series++];
        *s = (Series){method, route, status, 0};
    }
    if (s) s->count++;
    Histogram *h = NULL;
    for (int i = 0; i < m->n_hist && !h; i++)
        if (m->hist[i].route == route) h = &m->hist[i];
    if (!h && m->n_hist < METRICS_MAX_ROUTES) {
        h = &m->hist[m->n_hist++];
        memset(h, 0, sizeof *h);
        h->route = route;
    }
    if (h) {
        for (int b = 0; b < N_BUCKETS; b++)
            if (seconds <= BUCKETS[b]) h->buckets[b]++;
        h->count++;
        h->sum += seconds;
    }
    pthread_mutex_unlock(&m->mu);
}

void metrics_add_chat(Metrics *m, long prompt_tokens, long completion_tokens) {
    pthread_mutex_lock(&m->mu);
    m->chat_requests++;
    m->prompt_tokens += (unsigned long long)prompt_tokens;
    m->completion_tokens += (unsigned long long)completion_tokens;
    pthread_mutex_unlock(&m->mu);
}

void metrics_add_embeddings(Metrics *m, long inputs, long tokens) {
    pthread_mutex_lock(&m->mu);
    m->embedding_requests++;
    m->embedding_inputs += (unsigned long long)inputs;
    m->embedding_tokens += (unsigned long long)tokens;
    pthread_mutex_unlock(&m->mu);
}

typedef struct {
    char *buf;
    size_t len, cap;
} Text;

static void text_add(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(Text *t, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (t->buf && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 8192;
        while (cap < t->len + (size_t)n + 1) cap *= 2;
        char *b = realloc(t->buf, cap);
        if (!b) return;
        t->buf = b;
        t->cap = cap;
    }
}

/* The inference scheduler's gauges and counters (inference.h: InferStats). */
static void render_scheduler(Text *t, const InferStats *st) {
    text_add(t, "# HELP ftune_scheduler_live_sequences Chat sequences being prefilled or decoded.\n"
                "# TYPE ftune_scheduler_live_sequences gauge\nftune_scheduler_live_sequences %d\n"
                "# HELP ftune_scheduler_queued_requests Chat requests waiting for a sequence slot.\n"
                "# TYPE ftune_scheduler_queued_requests gauge\nftune_scheduler_queued_requests %d\n"
                "# HELP ftune_scheduler_loaded_adapters Adapters loaded for the current base model.\n"
                "# TYPE ftune_scheduler_loaded_adapters gauge\nftune_scheduler_loaded_adapters %d\n"
                "# HELP ftune_scheduler_kv_cache_bytes Key/value cache memory held (live and cached prefixes).\n"
                "# TYPE ftune_scheduler_kv_cache_bytes gauge\nftune_scheduler_kv_cache_bytes %zu\n",
             st->live_seqs, st->queued, st->loaded_adapters, st->kv_bytes);
    text_add(t, "# HELP ftune_scheduler_steps_total Batched forward steps run.\n"
                "# TYPE ftune_scheduler_steps_total counter\nftune_scheduler_steps_total %lld\n"
                "# HELP ftune_scheduler_batch_rows_total Rows over every step (divided by steps: rows per step).\n"
                "# TYPE ftune_scheduler_batch_rows_total counter\nftune_scheduler_batch_rows_total %lld\n"
                "# HELP ftune_scheduler_decode_rows_total Of those rows, decode rows (one per generating sequence).\n"
                "# TYPE ftune_scheduler_decode_rows_total counter\nftune_scheduler_decode_rows_total %lld\n"
                "# HELP ftune_scheduler_prompt_tokens_total Prompt tokens of admitted sequences.\n"
                "# TYPE ftune_scheduler_prompt_tokens_total counter\nftune_scheduler_prompt_tokens_total %lld\n"
                "# HELP ftune_scheduler_prefix_cache_hit_tokens_total Of those, tokens taken from the prefix cache.\n"
                "# TYPE ftune_scheduler_prefix_cache_hit_tokens_total counter\n"
                "ftune_scheduler_prefix_cache_hit_tokens_total %lld\n",
             st->steps, st->rows, st->decode_rows, st->prompt_tokens, st->cached_tokens);
}

char *metrics_render(Metrics *m, Store *s, const InferStats *sched, size_t *len) {
    Text t = {0};
    pthread_mutex_lock(&m->mu);
    text_add(&t, "# HELP ftune_http_requests_total HTTP requests answered, by method, route and status.\n"
                 "# TYPE ftune_http_requests_total counter\n");
    for (int i = 0; i < m->n_series; i++)
        text_add(&t, "ftune_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n",
                 m->series[i].method, m->series[i].route, m->series[i].status, m->series[i].count);
    text_add(&t, "# HELP ftune_http_request_duration_seconds Time from request to response, by route.\n"
                 "# TYPE ftune_http_request_duration_seconds histogram\n");
    for (int i = 0; i < m->n_hist; i++) {
        const Histogram *h = &m->hist[i];
        for (int b = 0; b < N_BUCKETS; b++)
            text_add(&t, "ftune_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", h->route,
                     BUCKETS[b], h->buckets[b]);
        text_add(&t, "ftune_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", h->route, h->count);
        text_add(&t, "ftune_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", h->route, h->sum);
        text_add(&t, "ftune_http_request_duration_seconds_count{route=\"%s\"} %llu\n", h->route, h->count);
    }
    text_add(&t, "# HELP ftune_chat_completions_total Chat completions generated.\n"
                 "# TYPE ftune_chat_completions_total counter\nftune_chat_completions_total %llu\n"
                 "# HELP ftune_chat_prompt_tokens_total Prompt tokens of chat completions.\n"
                 "# TYPE ftune_chat_prompt_tokens_total counter\nftune_chat_prompt_tokens_total %llu\n"
                 "# HELP ftune_chat_completion_tokens_total Tokens generated by chat completions.\n"
                 "# TYPE ftune_chat_completion_tokens_total counter\nftune_chat_completion_tokens_total %llu\n",
             m->chat_requests, m->prompt_tokens, m->completion_tokens);
    text_add(&t, "# HELP ftune_embedding_requests_total Embedding requests answered.\n"
                 "# TYPE ftune_embedding_requests_total counter\nftune_embedding_requests_total %llu\n"
                 "# HELP ftune_embedding_inputs_total Inputs embedded by embedding requests.\n"
                 "# TYPE ftune_embedding_inputs_total counter\nftune_embedding_inputs_total %llu\n"
                 "# HELP ftune_embedding_tokens_total Tokens of the inputs of embedding requests.\n"
                 "# TYPE ftune_embedding_tokens_total counter\nftune_embedding_tokens_total %llu\n",
             m->embedding_requests, m->embedding_inputs, m->embedding_tokens);
    pthread_mutex_unlock(&m->mu);
    static const char *const statuses[] = {"validating_files", "queued", "running", "paused",
                                           "succeeded", "failed", "cancelled"};
    enum { N_STATUS = sizeof statuses / sizeof statuses[0] };
    long long counts[N_STATUS];
    Err err = {0};
    if (s && store_job_count_by_status(s, NULL, statuses, N_STATUS, counts, &err) == 0) {
        text_add(&t, "# HELP ftune_fine_tuning_jobs Fine-tuning jobs by status.\n# TYPE ftune_fine_tuning_jobs gauge\n");
        for (int i = 0; i < N_STATUS; i++)
            text_add(&t, "ftune_fine_tuning_jobs{status=\"%s\"} %lld\n", statuses[i], counts[i]);
    }
    if (sched) render_scheduler(&t, sched);
    *len = t.len;
    return t.buf;
}
