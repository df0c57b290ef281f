/* jobs.h: the fine-tuning job worker (in `ftune serve`, or alone as `ftune worker`): a worker id
 * of its own, registered in the store, and three threads. The validator claims validating_files
 * jobs and checks their files (the same rules as `ftune validate`), moving each to queued or
 * failing it with the validator's code and message. The trainer claims one job at a time (a
 * running job whose worker's lease expired first, else the oldest queued one) and runs it:
 * dataset, hyperparameters, LoRA training with a metrics event per step, a checkpoint per epoch
 * (the last three kept as ft:...:ckpt-step-N models), the results file, and the fine-tuned model.
 * The heartbeat thread renews the worker's leases every third of the lease and wakes the others
 * when the store notifies that work arrived (PostgreSQL's LISTEN; SQLite's callers are woken
 * in-process by jobs_notify, and every thread polls every JOBS_POLL_MS besides). A job whose
 * worker died (its lease expired) is taken over by any worker, and one left by this worker's own
 * previous process at once, from the checkpoint recorded in the job (JobRecord.resume_dir).
 * Cancel and pause are status changes made by the API, on any node; the trainer notices them at
 * the next step boundary, and a trainer that finds its job taken by another worker stops without
 * writing more. A write that fails (full disk, I/O error) stops the job and fails it with an
 * error event; when even that cannot be written (no reserve left), the trainer retries it every
 * JOBS_POLL_MS instead of training anything else. */
#ifndef FTUNE_JOBS_H
#define FTUNE_JOBS_H

#include "../store/store.h"
#include "embedder.h"
#include "inference.h"
#include "model_cache.h"

#define JOBS_KEEP_CHECKPOINTS 3
#define JOBS_POLL_MS 2000          /* the worker looks at the store this often even without a notify */
#define JOBS_LEASE_DEFAULT_S 30    /* how long a job stays a dead worker's before another takes it */

typedef struct {
    const char *data_dir;
    const char *database;          /* NULL: SQLite in the data directory (store_open) */
    const char *const *model_dirs;
    int n_model_dirs;
    ModelCache *cache;
    Inference *inference;          /* told to use one thread while a job trains (may be NULL) */
    Embedder *embedder;            /* likewise (may be NULL) */
    int threads;                   /* training threads (<= 0: every core) */
    const char *precision;         /* the models' precision and why, recorded in each job's events */
    const char *node_id;           /* the worker's id (NULL or "": this host's name) */
    int lease_s;                   /* its leases' length in seconds (<= 0: JOBS_LEASE_DEFAULT_S) */
} JobsConfig;

typedef struct JobWorker JobWorker;

/* Registers the worker (refused, naming the holder, while a live worker has the same id: see
 * store_worker_register) and starts its threads. */
int jobs_start(const JobsConfig *cfg, JobWorker **out, Err *err);
/* The worker's id (its --node-id, or the host's name). */
const char *jobs_worker_id(const JobWorker *w);
/* A node's id into out (size bytes): given when non-empty, else this host's name (cut to size;
 * --node-id itself is checked by cli_node.h). */
void jobs_node_id(const char *given, char *out, size_t size);
/* Wakes the threads (a job was created, resumed or cancelled). Thread-safe. */
void jobs_notify(JobWorker *w);
/* Stops the threads; a training job stops at its next step with a checkpoint and stays
 * `running`, its lease ended, to be resumed by the next worker that claims it (this one after a
 * restart, or another at once). NULL is a no-op. */
void jobs_stop(JobWorker *w);

/* The fine-tuned model name of a job: ft:<name base>:<org>:<suffix>:<8 characters of the job id>,
 * the name base being the model asked for (a base model id or an alias of one) or, for a job that
 * continues a fine-tuned model, that model's own name base (JobRecord.name_base). */
void jobs_model_name(const JobRecord *job, const char *org, char *out, size_t size);

#endif
