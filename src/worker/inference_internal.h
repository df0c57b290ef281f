/* inference_internal.h: the state the inference thread's files share (see inference.h):
 * inference.c (the queue, the thread, the model and the adapters in use) and scheduler.c (sequence
 * slots, the prefix cache, admission and the batched step). Only src/worker/inference*.c and
 * scheduler.c include it. */
#ifndef FTUNE_INFERENCE_INTERNAL_H
#define FTUNE_INFERENCE_INTERNAL_H

#include <pthread.h>

#include "inference.h"

typedef struct {
    char dir[4096];
    FtAdapter *adapter;  /* NULL: an empty entry */
    size_t bytes;
    unsigned long used;  /* LRU clock */
    int pins;            /* live sequences that use it */
} CachedAdapter;

typedef enum {
    SLOT_FREE,      /* no sequence, no memory */
    SLOT_IDLE,      /* no sequence; holds the keys and values of tokens[0..n_tokens) (the prefix cache) */
    SLOT_PREFILL,   /* running its prompt, n_past positions so far */
    SLOT_FORK_WAIT, /* choice > 0 of a request: waits for choice 0's prompt, then forks it */
    SLOT_DECODE,    /* generating: `next` runs at the next step */
} SlotState;

typedef struct Live Live;

typedef struct {
    SlotState state;
    int adapter;        /* index into Inference.adapters, -1 = the base model */
    int32_t *tokens;    /* the prompt (IDLE: the cached prefix) */
    int n_tokens, cap_tokens;
    unsigned long used; /* LRU clock of idle slots */
    Live *live;         /* the request (active states) */
    int choice;
    int n_past;         /* prompt positions computed */
    FtReply *reply;
    int32_t next;
    int lp_sent;        /* logprobs already handed to the callbacks */
} Slot;

/* A request admitted into slots. */
struct Live {
    InferRequest *r;
    int cached;                          /* prompt tokens taken from the prefix cache */
    int slots[INFERENCE_MAX_CHOICES];    /* slot of each choice */
    int n_left;                          /* choices not finished */
    Live *next;
};

struct Inference {
    ModelCache *cache;
    InferenceConfig cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    InferRequest *head, *tail; /* the queue */
    int queued;
    bool stopping;
    int threads;
    char forget[INFERENCE_MAX_ADAPTERS][4096]; /* adapters to drop when unused */
    int n_forget;
    InferStats stats;          /* under mu */
    /* owned by the thread */
    const FtModel *model;
    int ctx, vocab;
    FtCache *kv;
    FtEngine *engine;
    Slot *slots;               /* (n_slots) */
    int n_slots;
    float *logits;             // (max_seqs, vocab)
    int32_t *rows;             // (4, INFERENCE_BATCH_ROWS) token, position, slot, adapter of each row
    uint8_t *want;             // (INFERENCE_BATCH_ROWS)
    int *chunk;                // (n_slots) prompt rows of each slot in this step
    CachedAdapter adapters[INFERENCE_MAX_ADAPTERS];
    unsigned long clock;
    InferRequest *next_up;     /* popped from the queue, waiting for room */
    Live *live;                /* admitted requests, oldest first */
    int n_live_seqs;
};

/* inference.c */
/* Makes base_path the current model, rebuilding the slots; only when no sequence is live. */
int inference_use_model(Inference *inf, const char *base_path, Err *err);
/* The index of the adapter in dir (loaded on first use, least recently used unpinned dropped), or
 * -1 for "" (the base model). -2 with err set on failure. */
int inference_use_adapter(Inference *inf, const char *dir, Err *err);
void inference_request_free(InferRequest *r);

/* scheduler.c */
/* Admits what fits from the queue; returns whether anything is live. */
bool sched_admit(Inference *inf);
/* Runs one batched forward step over the live sequences and hands out what it produced. */
void sched_step(Inference *inf);
/* Ends every live request with status and message (the server stops, or the step failed). */
void sched_fail_all(Inference *inf, int status, const char *message);
/* Allocates the slot table for the current model; frees it (slots' memory included). */
int sched_slots_new(Inference *inf, Err *err);
void sched_slots_free(Inference *inf);
/* Forgets the prefix cache of adapter entry `adapter` (it is being dropped or replaced). */
void sched_forget_adapter(Inference *inf, int adapter);

#endif
