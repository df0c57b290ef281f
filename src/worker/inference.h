/* inference.h: the inference thread behind chat completions. HTTP threads submit requests to
 * its queue and return at once; the thread loads the base model (shared through ModelCache) and
 * the adapter (PEFT directory, kept in memory after first use), and generates every choice on a
 * chat session of the public engine API (ftune.h: the model's own chat template), handing text to
 * the request's callbacks as it is produced. Requests run one at a time in arrival order. It does
 * not know HTTP or JSON. */
#ifndef FTUNE_INFERENCE_H
#define FTUNE_INFERENCE_H

#include <jansson.h>

#include "../ftune.h"
#include "model_cache.h"

#define INFERENCE_MAX_QUEUE 256   /* waiting requests; more are refused (the server answers 503) */
#define INFERENCE_MAX_SEQ 4096    /* KV cache positions per model */
#define INFERENCE_MAX_ADAPTERS 8  /* adapters kept in memory */
#define INFERENCE_MAX_CHOICES 16

typedef struct {
    /* Text of choice `choice`; return non-zero to stop (the client went away). */
    int (*on_piece)(void *user, int choice, const char *text, size_t len);
    /* Choice `choice` is complete. */
    void (*on_choice_done)(void *user, int choice, const FtGenResult *res);
    /* Called exactly once, last: status 0 = every choice done; else an HTTP status (400 for a
     * prompt that does not fit, 500 for a model that cannot be loaded) with a message. The
     * callee frees its user data here. */
    void (*on_done)(void *user, int status, const char *message);
} InferCallbacks;

typedef struct InferRequest {
    char base_path[4096];
    char adapter_dir[4096];     /* "" = the base model alone */
    FtChatMessage *msgs;        /* heap array; strings belong to owner */
    int n_msgs;
    FtGenParams params;         /* max_tokens, temperature, top_p, top_k, seed and stop strings
                                 * (owned by owner); the thread adds the model's end-of-turn ids */
    int n_choices;              /* choice i samples with seed params.seed + i */
    json_t *owner;              /* released with the request (may be NULL) */
    InferCallbacks cb;
    void *user;
    struct InferRequest *next;
} InferRequest;

typedef struct Inference Inference;

int inference_start(ModelCache *cache, int n_threads, Inference **out, Err *err);
/* Finishes every queued request with 503 and stops the thread (NULL is a no-op). */
void inference_stop(Inference *inf);
/* Queues r (taken in every case: on refusal its on_done is called with 503). */
void inference_submit(Inference *inf, InferRequest *r);
/* Threads used for each request from now on (<= 0: every core). The job worker lowers it while
 * a training job shares the cores. */
void inference_set_threads(Inference *inf, int n);
/* Drops a cached adapter (a deleted model). Thread-safe. */
void inference_forget_adapter(Inference *inf, const char *dir);

#endif
