/* embedder.h: the embedding thread behind /v1/embeddings. HTTP threads submit requests to its queue
 * and return at once (the answer goes through the request's on_done, on this thread). The thread
 * keeps the encoders it loaded (up to EMBEDDER_MAX_MODELS, least recently used dropped), tokenizes a
 * request's texts, refuses it whole when an input is too long or a token id is outside the
 * vocabulary, then embeds it in packed groups of at most EMBEDDER_CHUNK_TOKENS tokens; between
 * groups a request with more to do goes behind the others waiting, so a request of 2048 long texts
 * delays a one-text request by one group, not by all of it. It runs beside the inference thread with
 * the same compute budget (ftune serve --threads; one thread while a job trains, as inference) and
 * the same precision (ftune serve --precision); it does not know HTTP or JSON. */
#ifndef FTUNE_EMBEDDER_H
#define FTUNE_EMBEDDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/err.h"
#include "../ftune.h"
#include "../store/store.h"

#define EMBEDDER_MAX_QUEUE 256        /* waiting requests; more are refused (503) */
#define EMBEDDER_MAX_MODELS 4         /* encoders kept loaded */
#define EMBEDDER_CHUNK_TOKENS 8192    /* tokens of one forward pass of a request */
#define EMBEDDER_MAX_REQUEST_TOKENS 300000 /* tokens of one request, as OpenAI's */

typedef struct {
    /* Called exactly once, last: status 0 with n vectors of dim floats (valid during the call) and
     * the request's tokens; else an HTTP status (400, 500, 503) with an OpenAI error code and param
     * (may be NULL) and a message. The callee frees its user data here. */
    void (*on_done)(void *user, int status, const char *code, const char *param, const char *message,
                    const float *vecs, int n, int dim, long long tokens);
    /* True when the client has gone: the request is dropped before its next group (may be NULL). */
    bool (*cancelled)(void *user);
} EmbedCallbacks;

/* A task run on the embedding thread with the encoder of its model loaded (vector stores: chunking
 * and embedding a file, embedding a query and searching): enc and s (the thread's own store
 * connection) are valid during the call; error is non-NULL instead when the encoder could not be
 * loaded or the thread is stopping (enc NULL). A task does a bounded step of its work and returns
 * 1 to be called again after the requests waiting behind it (a long file does not hold the thread),
 * or 0 when it is done and has freed arg (always 0 when given an error). */
typedef int (*EmbedTaskFn)(void *arg, const FtEncoder *enc, int n_threads, Store *s, const char *error);

typedef struct EmbedRequest {
    char model_path[4096];    /* the encoder's folder */
    int n;                    /* inputs */
    const char **texts;       /* heap (strings owned by owner), or NULL for token inputs */
    size_t *text_lens;        /* heap, with texts */
    int32_t **ids;            /* heap arrays of text tokens (freed with the request), or NULL for text
                               * inputs; the thread tokenizes texts into them */
    int *n_ids;               /* heap */
    json_t *owner;            /* released with the request (may be NULL) */
    EmbedCallbacks cb;
    void *user;
    EmbedTaskFn task;         /* set: a task (embedder_submit_task) rather than inputs */
    void *task_arg;
    /* the thread's own progress */
    int done;                 /* inputs embedded so far */
    float *vecs;              /* (n, dim) */
    long long tokens;
    struct EmbedRequest *next;
} EmbedRequest;

typedef struct Embedder Embedder;

/* n_threads: compute threads of each forward pass (<= 0: every core); precision: what every encoder
 * it loads runs at (ft_encoder_set_precision; ftune serve passes its resolved --precision); data_dir
 * (may be NULL) and database (NULL: SQLite in data_dir): where the tasks' store connection is
 * opened (store_open). */
int embedder_start(int n_threads, FtPrecision precision, const char *data_dir, const char *database, Embedder **out,
                   Err *err);
/* Answers every queued request with 503 and stops the thread (NULL is a no-op). */
void embedder_stop(Embedder *e);
/* Threads of the forward passes from the next group on: n, or (n <= 0) the start's n_threads. The
 * job worker lowers it to 1 while a training job shares the cores. Thread-safe. */
void embedder_set_threads(Embedder *e, int n);
/* Queues r (taken in every case: a full queue or a stopping thread answers 503 at once). */
void embedder_submit(Embedder *e, EmbedRequest *r);
/* Queues fn(arg, ...) with the encoder at model_path: 0, or -1 when the queue is full or the thread
 * stopping (fn is not called: arg is still the caller's). A task runs whole, between two groups of
 * other requests; when the encoder cannot be loaded fn gets the error (and the store), when the
 * thread stops before it runs fn gets an error and no store. */
int embedder_submit_task(Embedder *e, const char *model_path, EmbedTaskFn fn, void *arg);

#endif
