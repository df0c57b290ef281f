/* server.h: `ftune serve`: the OpenAI-compatible server put together: HTTP threads, the store,
 * the model cache, the inference thread, the embedding thread and the job worker, the route table, API keys and
 * projects (auth.h), the access log, and /health and /metrics. The Server struct is shared by the route handlers (routes.h). */
#ifndef FTUNE_SERVER_H
#define FTUNE_SERVER_H

#include <pthread.h>

#include "../worker/embedder.h"
#include "../worker/inference.h"
#include "../worker/jobs.h"
#include "../worker/model_cache.h"
#include "access_log.h"
#include "http.h"
#include "limits.h"
#include "metrics.h"
#include "store_thread.h"

#define SERVER_MAX_DIRS 16
#define SERVER_MAX_KEYS 16
#define SERVER_LOCK_FILE "lock" /* in the node's directory: one server per directory */

typedef struct {
    const char *host;                /* NULL: 127.0.0.1 */
    int port;
    const char *data_dir;
    const char *database;            /* NULL: SQLite in the data directory; else a postgresql:// URI */
    const char *model_dirs[SERVER_MAX_DIRS];
    int n_model_dirs;
    const char *api_keys[SERVER_MAX_KEYS];
    int n_api_keys;
    int http_threads;
    int threads;                     /* compute threads (<= 0: every core) */
    int precision;                   /* FtPrecision of every model it loads (auto, fp32, bf16) */
    int parallel;                    /* live chat sequences at once (<= 0: the default) */
    int kv_cache_mib;                /* key/value cache bound (<= 0: the default) */
    int max_queued_jobs;             /* a project's jobs validating or queued at once; more is a 429 (<= 0: no bound) */
    int rate_limit;                  /* requests per minute per API key; more is a 429 (<= 0: no limit) */
    int max_tokens;                  /* a reply's most tokens: more asked is a 400, none asked gets this
                                      * (<= 0: the context and INFERENCE_DEFAULT_MAX_TOKENS only) */
    const char *access_log;          /* a file, or "-" for stderr; NULL: <data>/access.log */
    const char *node_id;             /* this node's id (NULL: the host's name): its worker id, and with
                                      * PostgreSQL its own directory <data>/nodes/<id> */
    int lease_s;                     /* the job worker's lease (<= 0: JOBS_LEASE_DEFAULT_S) */
    bool no_worker;                  /* an API-only node: no job worker (`ftune worker` runs them) */
} ServerConfig;

struct Server {
    ServerConfig cfg;
    char data_dir[2048];
    char spool_dir[2400];
    pthread_key_t store_key;         /* each HTTP thread's Store */
    HttpServer *http;
    ModelCache *cache;
    Inference *inference;
    Embedder *embedder;              /* the embedding thread (/v1/embeddings, vector stores) */
    struct VsMatrixCache *vs_cache;  /* vector stores' matrices, used by the embedding thread only */
    JobWorker *jobs;
    Metrics *metrics;
    RateLimiter *limiter;            /* NULL: no rate limit */
    AccessLog *access_log;
    StoreThread *responses_writer;   /* stores finished responses, then sends them (routes_responses.c) */
    struct EvalRunner *evals;        /* carries out eval runs (eval_runner.h) */
    char precision[FT_PRECISION_WHY_MAX]; /* the models' precision and why, for the log and job events */
    char node_id[STORE_WORKER_MAX];  /* cfg.node_id, or the host's name (jobs_node_id) */
};

/* Runs the server until SIGINT/SIGTERM; prints "listening on ..." once ready. Returns 0 on a
 * clean stop, -1 with err when it cannot start. */
int server_run(const ServerConfig *cfg, Err *err);

#endif
