/* jobs.h: the fine-tuning job worker: two threads that take jobs from the store in creation
 * order. The validator checks a job's files (the same rules as `ftune validate`) and moves it from
 * validating_files to queued, or fails it with the validator's code and message. The trainer runs
 * one queued job at a time: dataset, hyperparameters, LoRA training with a metrics event per step,
 * a checkpoint per epoch (the last three kept as ft:...:ckpt-step-N models), the results file, and
 * the fine-tuned model. A job left `running` by a server that died is resumed from its last
 * checkpoint on the next start. Cancel and pause are status changes made by the API; the trainer
 * notices them at the next step boundary. A write that fails (full disk, I/O error) stops the job
 * and fails it with an error event; when even that cannot be written (no reserve left), the
 * trainer retries it every JOBS_POLL_MS instead of training anything else. */
#ifndef FTUNE_JOBS_H
#define FTUNE_JOBS_H

#include "../store/store.h"
#include "inference.h"
#include "model_cache.h"

#define JOBS_KEEP_CHECKPOINTS 3
#define JOBS_POLL_MS 2000          /* the worker looks at the store this often even without a notify */

typedef struct {
    const char *data_dir;
    const char *database;          /* NULL: SQLite in the data directory (store_open) */
    const char *const *model_dirs;
    int n_model_dirs;
    ModelCache *cache;
    Inference *inference;          /* told to use one thread while a job trains (may be NULL) */
    int threads;                   /* training threads (<= 0: every core) */
    const char *precision;         /* the models' precision and why, recorded in each job's events */
} JobsConfig;

typedef struct JobWorker JobWorker;

int jobs_start(const JobsConfig *cfg, JobWorker **out, Err *err);
/* Wakes the threads (a job was created, resumed or cancelled). Thread-safe. */
void jobs_notify(JobWorker *w);
/* Stops both threads; a training job stops at its next step with a checkpoint and stays
 * `running`, to be resumed by the next start. NULL is a no-op. */
void jobs_stop(JobWorker *w);

/* The fine-tuned model name of a job: ft:<name base>:<org>:<suffix>:<8 characters of the job id>,
 * the name base being the model asked for (a base model id or an alias of one) or, for a job that
 * continues a fine-tuned model, that model's own name base (JobRecord.name_base). */
void jobs_model_name(const JobRecord *job, const char *org, char *out, size_t size);

#endif
