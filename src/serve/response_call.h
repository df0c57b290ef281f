/* response_call.h: a response being generated: the state the inference thread's callbacks keep for
 * one POST /v1/responses, the Response object they build, its server-sent events
 * (response.created, response.in_progress, response.output_item.added,
 * response.content_part.added, response.output_text.delta..., the .done events, then
 * response.completed, response.incomplete when max_output_tokens cut it, or response.failed), each
 * with its sequence_number, and the answer: a stored response (store true) is written by the store
 * thread (store_thread.h) before its body or its last event goes out, so that a client holding the
 * answer finds it, while the inference thread never waits on the database. routes_responses.c
 * makes the call and queues it. */
#ifndef FTUNE_RESPONSE_CALL_H
#define FTUNE_RESPONSE_CALL_H

#include <jansson.h>
#include <stdbool.h>

#include "../worker/inference.h"
#include "http.h"
#include "metrics.h"
#include "store_thread.h"

typedef struct {
    HttpStream *stream;
    Metrics *metrics;
    StoreThread *writer;
    bool sse, store;
    bool started;             /* SSE: the opening events went out (errors from now on are events) */
    int seq;                  /* the next event's sequence_number */
    char id[STORE_ID_MAX];    /* resp_... */
    char item_id[STORE_ID_MAX]; /* msg_...: the output message */
    char project[STORE_ID_MAX];
    char previous[STORE_ID_MAX];
    long long created_at;
    json_t *skeleton;         /* the Response object's fields fixed at creation */
    json_t *context;          /* the input items (previous conversation, then this input), for storage */
    char *text;               /* the output text, as sent (UTF-8 repaired piece by piece) */
    size_t len, cap;
    bool cut;                 /* max_output_tokens (or the context) ended it */
    long input_tokens, output_tokens, cached_tokens;
    /* what the store task sends after the write */
    json_t *final;            /* the Response object to store and answer */
    int fail_status;          /* non-zero: answer this error instead (nothing stored) */
    char fail_code[48];
    char fail_message[512];
} ResponseCall;

/* The inference callbacks of a call (user: the ResponseCall, heap; freed once it has answered). */
extern const InferCallbacks RESPONSE_CALLBACKS;

#endif
