/* metrics.h: counters for GET /metrics in the Prometheus text format: requests by method, route
 * and status, request latency histograms by route, chat tokens, embedding inputs and tokens, and (read from the store when
 * rendered) fine-tuning jobs by status, and the chat scheduler's gauges (live sequences, queued
 * requests, batch rows per step, prefix-cache hits, loaded adapters). Thread-safe. */
#ifndef FTUNE_METRICS_H
#define FTUNE_METRICS_H

#include <stddef.h>

#include "../store/store.h"
#include "../worker/inference.h"

typedef struct Metrics Metrics;

Metrics *metrics_new(void);
void metrics_free(Metrics *m); /* NULL is a no-op */
/* route: the route pattern (a static string; bounded label values), or "unmatched". */
void metrics_record_request(Metrics *m, const char *method, const char *route, int status, double seconds);
void metrics_add_chat(Metrics *m, long prompt_tokens, long completion_tokens);
void metrics_add_embeddings(Metrics *m, long inputs, long tokens);
/* The exposition text (heap, caller frees), with the scheduler's gauges when sched is non-NULL. */
char *metrics_render(Metrics *m, Store *s, const InferStats *sched, size_t *len);

#endif
