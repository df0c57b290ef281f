/* inference.h: the inference thread behind chat completions, a continuous-batching scheduler.
 * HTTP threads submit requests to its queue and return at once. Each step the thread admits
 * waiting requests into free sequence slots (within a bound on live sequences and on key/value
 * memory), runs their prompts in chunks together with one decode row per live sequence in one
 * batched forward pass (ftune.h: ft_engine_decode; rows of the base model and of many adapters
 * share the base-weight products), samples each sequence with its own parameters, hands its text to
 * the request's callbacks, and frees slots as sequences finish or their clients leave. A slot keeps
 * its prompt's keys and values after its sequence ends, so a later request that begins with the
 * same tokens (same model and adapter) continues from them instead of recomputing them (the prefix
 * cache); n > 1 choices fork one prefilled prompt. Adapters (PEFT directories) are loaded on first
 * use and kept in an LRU bounded in count and bytes. One base model is active at a time: a request
 * for another waits until the live sequences of the current one end. It does not know HTTP or
 * JSON. */
#ifndef FTUNE_INFERENCE_H
#define FTUNE_INFERENCE_H

#include <jansson.h>

#include "../ftune.h"
#include "model_cache.h"

#define INFERENCE_MAX_QUEUE 256      /* waiting requests; more are refused (the server answers 503) */
#define INFERENCE_MAX_SEQ 4096       /* positions of a sequence (capped at the model's context) */
#define INFERENCE_MAX_CHOICES 16
#define INFERENCE_MAX_TOOL_CALLS 16 /* calls read out of one reply (more: the reply is text) */
#define INFERENCE_DEFAULT_MAX_TOKENS 1024 /* a reply's bound when the request sets none: its key/value
                                           * memory is reserved when it is admitted */
#define INFERENCE_DEFAULT_SEQS 32    /* live sequences at once (ftune serve --parallel) */
#define INFERENCE_DEFAULT_KV_MIB 2048 /* key/value memory bound (ftune serve --kv-cache-mib) */
#define INFERENCE_BATCH_ROWS 256     /* rows of one forward step: decode rows, then prompt chunks */
#define INFERENCE_MAX_ADAPTERS 16    /* adapters kept loaded */
#define INFERENCE_ADAPTER_MIB 512    /* and their bytes */

typedef struct {
    int max_seqs;        /* live sequences at once (<= 0: INFERENCE_DEFAULT_SEQS) */
    size_t kv_bytes;     /* key/value memory of every slot, live and cached (0: the default) */
    int n_threads;       /* <= 0: every core */
} InferenceConfig;

/* A generated token's log-probability with its text (valid during the callback only). */
typedef struct {
    const char *text;  /* the token's bytes (not NUL-terminated; may be a partial UTF-8 character) */
    size_t len;
    float logprob;
} InferToken;

typedef struct {
    InferToken token;
    int n_top;
    InferToken top[FT_MAX_TOP_LOGPROBS];
} InferLogprob;

typedef struct {
    /* Text of choice `choice` with the logprobs of the tokens it completes (n_lp of them; 0
     * unless asked for); return non-zero to stop (the client went away). */
    int (*on_piece)(void *user, int choice, const char *text, size_t len, const InferLogprob *lp, int n_lp);
    /* Choice `choice` is complete; cached: prompt tokens that came from the prefix cache. */
    void (*on_choice_done)(void *user, int choice, const FtGenResult *res, int cached);
    /* Called exactly once, last: status 0 = every choice done; else an HTTP status (400 for a
     * prompt that does not fit, 499 when the client went away, 500 for a model that cannot be
     * loaded, 503 when the server is busy or stopping) with an OpenAI error code (may be NULL) and a
     * message. The callee frees its user data here. */
    void (*on_done)(void *user, int status, const char *code, const char *message);
    /* True when the client has gone: its sequences are dropped at the next step (may be NULL). */
    bool (*cancelled)(void *user);
} InferCallbacks;

/* A request's tools (OpenAI's tools, tool_choice, parallel_tool_calls). */
typedef struct {
    char **defs;                /* heap: n_defs JSON texts of OpenAI tools, each heap (freed with the
                                 * request); 0: none */
    int n_defs;
    FtToolChoice choice;        /* none: the tools are not rendered; required / a function: the reply
                                 * is constrained to calls (ft_grammar_tool_calls) */
    const char *function;       /* FT_TOOL_CHOICE_FUNCTION: its name (owned by owner) */
    bool parallel;              /* false: at most one call */
    FtToolCall *calls;          /* heap: the messages' tool calls (msgs point into it; freed with the
                                 * request) */
    const FtToolSyntax **syntax_out; /* (may be NULL) where the thread writes the model's tool-call
                                 * syntax before the first piece, when the tools are rendered */
    bool prepared;              /* the thread has added the grammar / stop string */
} InferTools;

typedef struct InferRequest {
    char base_path[4096];
    char adapter_dir[4096];     /* "" = the base model alone */
    FtChatMessage *msgs;        /* heap array; strings belong to owner */
    int n_msgs;
    FtGenParams params;         /* max_tokens, temperature, top_p, top_k, seed, stop strings (owned
                                 * by owner), logprobs, penalties, logit_bias (its arrays heap, freed
                                 * with the request), grammar (heap,
                                 * freed with the request); the thread adds the model's end-of-turn ids */
    InferTools tools;           /* a model whose template renders no tools refuses them: 400
                                 * unsupported_parameter */
    int n_choices;              /* choice i samples with seed params.seed + i */
    json_t *owner;              /* released with the request (may be NULL) */
    InferCallbacks cb;
    void *user;
    struct InferRequest *next;
} InferRequest;

/* What /metrics shows of the scheduler. */
typedef struct {
    int live_seqs;           /* sequences being prefilled or decoded */
    int queued;              /* requests waiting for a slot */
    int loaded_adapters;
    size_t kv_bytes;         /* key/value memory held, live and cached */
    long long steps;         /* forward steps run */
    long long rows;          /* rows over every step (rows / steps: the mean batch) */
    long long decode_rows;   /* of which decode rows */
    long long cached_tokens; /* prompt tokens taken from the prefix cache */
    long long prompt_tokens; /* prompt tokens of admitted sequences */
} InferStats;

typedef struct Inference Inference;

int inference_start(ModelCache *cache, const InferenceConfig *cfg, Inference **out, Err *err);
/* Finishes every queued and live request with 503 and stops the thread (NULL is a no-op). */
void inference_stop(Inference *inf);
/* Queues r (taken in every case: on refusal its on_done is called with 503). */
void inference_submit(Inference *inf, InferRequest *r);
/* Threads of the forward steps from now on (<= 0: every core). The job worker lowers it while a
 * training job shares the cores. */
void inference_set_threads(Inference *inf, int n);
/* Drops a cached adapter (a deleted model) once no live sequence uses it. Thread-safe. */
void inference_forget_adapter(Inference *inf, const char *dir);
void inference_stats(Inference *inf, InferStats *out);

#endif
