/* store.h: the server's durable state: uploaded files (rows + blob files written crash-safely
 * under <data>/files/), fine-tuning jobs, their events and checkpoints, projects and their API
 * keys (stored as SHA-256 digests), stored responses, evals, in SQLite (WAL mode) at
 * <data>/ftune.db or in a PostgreSQL database (db.h is the layer that speaks to either).
 * Files, jobs and responses belong to a project (events, checkpoints and fine-tuned models through
 * their job); the store filters lists by project, and callers compare a record's project with the
 * caller's for single lookups. This is the only module that speaks SQL, so that another database
 * can be put behind the same functions later. It knows nothing of HTTP or JSON shapes: JSON-valued
 * columns (metadata, event data, checkpoint metrics, responses and their input) are stored and
 * returned as text.
 *
 * Threads: a Store is one connection and is used by one thread at a time; every thread opens
 * its own (SQLite in WAL mode lets them read while one writes; writers wait up to
 * STORE_BUSY_TIMEOUT_MS; PostgreSQL: one connection each). Lists are newest first unless asked otherwise; `after` is the id of
 * the last item of the previous page (the OpenAI SDKs' cursor).
 *
 * Errors: functions return 0, STORE_NOT_FOUND (1) where a lookup can miss, or -1 with err
 * filled (ERR_IO naming the database or blob file). */
#ifndef FTUNE_STORE_H
#define FTUNE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

#define STORE_NOT_FOUND 1
#define STORE_CONFLICT 2          /* a job is not in the status the caller expected */
#define STORE_BUSY_TIMEOUT_MS 10000
#define STORE_ID_MAX 64           /* "file-" + 24 characters, with room */
#define STORE_FILENAME_MAX 256    /* bytes of an uploaded file's name, NUL included */
#define STORE_NAME_MAX 512        /* model names, statuses, purposes */
#define STORE_TEXT_MAX 2048       /* error messages, event messages */
#define STORE_JSON_MAX 16384      /* metadata (16 pairs of 64 + 512 bytes fit), event data, metrics */
#define STORE_LIST_MAX 10000      /* most items one list call returns */
#define STORE_WORKER_MAX 128      /* a worker's id (--node-id) */
#define STORE_RESUME_MAX 256      /* a job's checkpoint directory relative to the data directory */

#define STORE_RESERVE_FILE "reserve" /* in the data directory: space kept for deletes on a full disk */
#define STORE_RESERVE_BYTES (2 << 20)

#define STORE_DEFAULT_PROJECT "proj_default" /* the project of --api-key keys, of a server without keys, */
#define STORE_DEFAULT_PROJECT_NAME "default" /* and of the rows of databases from before projects */

typedef struct Store Store;

/* Opens (creating when missing) the data directory, its files/ subdirectory and the database with
 * the schema: database NULL (or "") is SQLite at <data_dir>/ftune.db; a postgresql:// or
 * postgres:// URI is that PostgreSQL database (libpq; the blobs and job directories stay in the
 * data directory either way). Caller closes with store_close (NULL is a no-op). */
int store_open(const char *data_dir, const char *database, Store **out, Err *err);
void store_close(Store *s);
/* True when database is a URI store_open takes (postgresql:// or postgres://). */
bool store_is_database_url(const char *database);
const char *store_data_dir(const Store *s);

/* Start-up checks (store_check.c). store_check_presence, before store_open (which would create
 * the database): -1 naming what is there when ftune.db is missing or empty while files/ or jobs/
 * hold entries. store_check_integrity: PRAGMA quick_check, -1 (ERR_FORMAT) naming the first
 * problem when the database is corrupt. With PostgreSQL (database non-NULL) neither has anything to
 * look at: presence is 0, integrity is PostgreSQL's own. */
int store_check_presence(const char *data_dir, const char *database, Err *err);
int store_check_integrity(Store *s, Err *err);

/* The reserve (store_reserve.c): store_reserve_ensure makes <data>/reserve, STORE_RESERVE_BYTES
 * of allocated space, unless it is there (-1, ERR_IO, when the disk has no room for it). A
 * connection with store_reserve_use(s, true) that finds the disk full (SQLite's SQLITE_FULL, PostgreSQL's disk_full) on a write
 * releases the reserve (store_reserve_release: true when there was one) and retries the write once:
 * for writes that free space or record a failure. store_file_delete and store_checkpoint_delete
 * use it always. */
int store_reserve_ensure(const char *data_dir, Err *err);
bool store_reserve_release(const char *data_dir);
void store_reserve_use(Store *s, bool on);

/* A new random id: prefix followed by 24 characters of [A-Za-z0-9] from the system's random
 * source, e.g. store_new_id("file-", buf, sizeof buf). Thread-safe. */
void store_new_id(const char *prefix, char *out, size_t size);
/* A random string of n characters of [A-Za-z0-9] (n < size). Thread-safe. */
void store_random_alnum(char *out, size_t n);
/* A random 64-bit number from the same source (for seeds the caller did not give). Thread-safe. */
uint64_t store_random_u64(void);

/* ---- files ---- */
typedef struct {
    char id[STORE_ID_MAX];
    char project[STORE_ID_MAX];           /* the project that uploaded it (or whose job made it) */
    long long bytes;
    long long created_at;                 /* Unix seconds */
    char filename[STORE_FILENAME_MAX];
    char purpose[STORE_ID_MAX];           /* "fine-tune", "fine-tune-results", ... */
    long long expires_at;                 /* Unix seconds; 0 = never */
} FileRecord;

/* Stores len bytes as a new file of project: the blob is written crash-safely first (file_atomic),
 * then the row is inserted; out receives the record with its new id. */
int store_file_create(Store *s, const char *project, const char *filename, const char *purpose, const void *data,
                      size_t len, FileRecord *out, Err *err);
int store_file_get(Store *s, const char *id, FileRecord *out, Err *err); /* STORE_NOT_FOUND */
/* Path of a file's blob (whether or not it exists). */
void store_file_path(const Store *s, const char *id, char *out, size_t size);
/* Files of project (NULL: every project's) with this purpose (NULL: any), ordered by creation
 * (asc or desc), starting after the file
 * `after` (NULL: from the start; an unknown id is STORE_NOT_FOUND), at most limit (1..STORE_LIST_MAX).
 * *out is heap (caller frees), *n items, *has_more whether more follow. */
int store_file_list(Store *s, const char *project, const char *purpose, const char *after, int limit, bool ascending,
                    FileRecord **out, int *n, bool *has_more, Err *err);
/* Removes the file from every vector store, its row, then the blob (on a full disk: the reserve,
 * else the blob first). STORE_NOT_FOUND when there is no such file. */
int store_file_delete(Store *s, const char *id, Err *err);
/* Sets when a file expires (0 = never). An expired file is no longer found or listed; its row and
 * blob are removed by store_file_purge_expired. STORE_NOT_FOUND when there is no such file. */
int store_file_set_expiry(Store *s, const char *id, long long expires_at, Err *err);
/* Deletes the files that expired before now; *n_deleted (may be NULL) receives their number. */
int store_file_purge_expired(Store *s, long long now, int *n_deleted, Err *err);

/* ---- fine-tuning jobs ---- */
typedef struct {
    char id[STORE_ID_MAX];
    char project[STORE_ID_MAX];           /* the project that created it; never changes */
    long long created_at;
    char model[STORE_NAME_MAX];           /* base model id */
    char training_file[STORE_ID_MAX];
    char validation_file[STORE_ID_MAX];   /* "" = none */
    char suffix[STORE_NAME_MAX];          /* "" = none */
    long long seed;
    char status[STORE_ID_MAX];            /* validating_files, queued, running, paused, succeeded, failed, cancelled */
    /* Hyperparameters as given ("auto" or a number written as text) until the job runs, then the
     * resolved numbers. */
    char n_epochs[32], batch_size[32], lr_multiplier[32];
    char metadata[STORE_JSON_MAX];        /* JSON object text, "" = null */
    char fine_tuned_model[STORE_NAME_MAX];/* "" = null */
    long long finished_at;                /* 0 = null */
    long long trained_tokens;             /* -1 = null */
    long long estimated_finish;           /* 0 = null */
    char result_file[STORE_ID_MAX];       /* "" = none */
    char error_code[STORE_ID_MAX];        /* "" = no error */
    char error_param[STORE_ID_MAX];       /* "" = null */
    char error_message[STORE_TEXT_MAX];
    long long step, total_steps;          /* progress of the current run */
    bool model_deleted;                   /* DELETE /v1/models/{fine_tuned_model} was called */
    char base_model[STORE_NAME_MAX];      /* the local base model id it trains on ("" in a record
                                           * not yet resolved; model may be an alias or ft: name) */
    char parent_model[STORE_NAME_MAX];    /* the fine-tuned, checkpoint or --adapter model whose
                                           * adapter it continues; "" = a new adapter */
    char name_base[STORE_NAME_MAX];       /* what its ft: name starts with: ft:<name_base>:... */
    char method[16];                      /* "supervised" or "dpo" ("" in a new record: supervised) */
    char beta[32];                        /* DPO: "auto" or a number as text, resolved once it runs; "" otherwise */
    char worker[STORE_WORKER_MAX];        /* the worker that validates, trains or trained it ("" = none yet) */
    char resume_dir[STORE_RESUME_MAX];    /* its newest checkpoint directory, relative to the data
                                           * directory, which a resumed run starts from ("" = none) */
    long long lease_expires_at;           /* read only (store_worker_*, store_job_claim write it):
                                           * Unix ms until which its worker holds it; 0 = no lease */
} JobRecord;

/* Inserts job (its id, project and created_at are set by the caller; an empty project is ERR_ARG).
 * The update functions below never change a job's project. */
int store_job_create(Store *s, const JobRecord *job, Err *err);
int store_job_get(Store *s, const char *id, JobRecord *out, Err *err); /* STORE_NOT_FOUND */
/* Writes every column of job (matched by id). STORE_NOT_FOUND if the row is gone. */
int store_job_update(Store *s, const JobRecord *job, Err *err);
/* Writes every column of job only if its stored status is still `status` and its stored worker
 * is still job->worker (so that a worker's write never undoes a cancel or pause made meanwhile,
 * nor touches a job another worker took over): 0 when written, STORE_CONFLICT when the status or
 * the worker differs, STORE_NOT_FOUND when the job is gone. */
int store_job_update_if(Store *s, const JobRecord *job, const char *status, Err *err);
/* Atomically moves job id to status `to` if its status is one of from[0..n_from-1]:
 * 0 when moved, STORE_NOT_FOUND when the job does not exist, 2 (STORE_CONFLICT) when it is in
 * another status (*current, if non-NULL, receives that status). */
int store_job_transition(Store *s, const char *id, const char *const *from, int n_from, const char *to,
                         char current[STORE_ID_MAX], Err *err);
/* The oldest job (by creation) in status, or STORE_NOT_FOUND. */
int store_job_oldest(Store *s, const char *status, JobRecord *out, Err *err);
/* Jobs of project (NULL: every project's) newest first after the job `after`, at most limit;
 * metadata filter: only jobs whose
 * metadata has every key/value pair of keys[i]/values[i] (n_filter pairs); metadata_null: only
 * jobs without metadata. Same ownership as store_file_list. */
int store_job_list(Store *s, const char *project, const char *after, int limit, const char *const *keys,
                   const char *const *values, int n_filter, bool metadata_null, JobRecord **out, int *n, bool *has_more,
                   Err *err);
/* Counts of jobs of project (NULL: every project's) by status, for /metrics and the queue bound:
 * fills counts[i] for statuses[i]. */
int store_job_count_by_status(Store *s, const char *project, const char *const *statuses, int n, long long *counts,
                              Err *err);
/* The succeeded, not deleted job whose fine_tuned_model is name (STORE_NOT_FOUND otherwise). */
int store_job_by_model(Store *s, const char *name, JobRecord *out, Err *err);

/* ---- workers and leases (store_workers.c) ----
 * Every process that validates or trains jobs is a worker with an id of its own. A worker holds a
 * job by a lease (an expiry time in the job's row) that it renews by heartbeat; a job whose lease
 * expired (its worker died, or lost the database) can be claimed by another worker, which resumes
 * it from its recorded checkpoint. Times are Unix milliseconds, passed in by the caller (the
 * tests choose them). On PostgreSQL claims skip rows other claims hold (FOR UPDATE SKIP LOCKED),
 * so that workers never wait on each other; on SQLite a claim is one write transaction. Changes
 * that make work claimable notify STORE_JOBS_CHANNEL (PostgreSQL's NOTIFY; store_jobs_listen). */
#define STORE_JOBS_CHANNEL "ftune_jobs"

typedef enum { STORE_CLAIM_VALIDATE, STORE_CLAIM_TRAIN } StoreClaimKind;

/* Registers worker id (host and pid say where it runs) with a heartbeat at now. STORE_CONFLICT,
 * with err naming the holder, when a live worker has that id: its heartbeat is younger than
 * lease_ms and it is not this host's process pid that no longer exists (a restarted worker takes
 * its id back at once; a second live process with the same id is refused). */
int store_worker_register(Store *s, const char *id, const char *host, long pid, long long now_ms, long long lease_ms,
                          Err *err);
/* The heartbeat: the worker's row and the leases of the jobs it holds (validating or running)
 * renewed until now + lease_ms. *n_jobs (may be NULL) receives the number of jobs renewed. */
int store_worker_heartbeat(Store *s, const char *id, long long now_ms, long long lease_ms, int *n_jobs, Err *err);
/* A worker that stops: its leases end (its running jobs can be claimed at once, by any worker)
 * and its row is marked stopped. */
int store_worker_stop(Store *s, const char *id, long long now_ms, Err *err);
/* Claims the next job for worker id: STORE_CLAIM_VALIDATE takes a validating_files job,
 * STORE_CLAIM_TRAIN a running job first (one cut off by its worker's death, or this worker's own
 * from before a restart) and else the oldest queued one, moved to running. A job is claimable when
 * it is queued, or when its lease is missing, expired (before now_ms) or this worker's. The claimed
 * job records the worker and a lease until now_ms + lease_ms; *out is its record after the claim,
 * *claim (may be NULL) says whether it was already in progress (validating or running: a takeover,
 * or a restart) and by whom. STORE_NOT_FOUND when there is nothing to claim. */
typedef struct {
    bool in_progress;                     /* it was validating_files / running already */
    char prev_worker[STORE_WORKER_MAX];   /* who held it then ("" = nobody: a job from before schema 8) */
} StoreClaim;
int store_job_claim(Store *s, StoreClaimKind kind, const char *id, long long now_ms, long long lease_ms,
                    JobRecord *out, StoreClaim *claim, Err *err);
/* Subscribes this connection to STORE_JOBS_CHANNEL and waits on it (db_listen / db_wait_notification:
 * 1 notified, 0 timed out, -1 failed; SQLite sleeps). */
int store_jobs_listen(Store *s, Err *err);
int store_jobs_wait(Store *s, int timeout_ms, Err *err);

/* ---- events ---- */
typedef struct {
    char id[STORE_ID_MAX];
    long long created_at;
    char level[16];                       /* info, warn, error */
    char type[16];                        /* message, metrics */
    char message[STORE_TEXT_MAX];
    char data[STORE_JSON_MAX];            /* JSON text, "" = null */
} EventRecord;

/* Appends an event to job_id (id and created_at are made here; out may be NULL). data may be
 * NULL. Events keep their insertion order even within one second. */
int store_event_add(Store *s, const char *job_id, const char *level, const char *type, const char *message,
                    const char *data, EventRecord *out, Err *err);
/* Events of a job newest first after the event `after`. Same ownership as store_file_list. */
int store_event_list(Store *s, const char *job_id, const char *after, int limit, EventRecord **out, int *n,
                     bool *has_more, Err *err);

/* ---- checkpoints ---- */
typedef struct {
    char id[STORE_ID_MAX];                /* ftckpt_... */
    long long created_at;
    char job_id[STORE_ID_MAX];
    long long step;
    char model[STORE_NAME_MAX];           /* ft:...:ckpt-step-N */
    char metrics[STORE_JSON_MAX];         /* JSON object text */
    char dir[STORE_TEXT_MAX];             /* adapter directory on disk (recorded relative to the data directory) */
} CheckpointRecord;

/* Adds a checkpoint (id and created_at made here; out may be NULL). */
int store_checkpoint_add(Store *s, const char *job_id, long long step, const char *model, const char *metrics,
                         const char *dir, CheckpointRecord *out, Err *err);
/* Checkpoints of a job newest first (highest step first) after the checkpoint `after`. */
int store_checkpoint_list(Store *s, const char *job_id, const char *after, int limit, CheckpointRecord **out,
                          int *n, bool *has_more, Err *err);
/* The checkpoint whose model name is name (of a job whose model is not deleted). */
int store_checkpoint_by_model(Store *s, const char *name, CheckpointRecord *out, Err *err);
/* Removes a checkpoint's row (its directory is the caller's). */
int store_checkpoint_delete(Store *s, const char *id, Err *err);

/* ---- model aliases (store_aliases.c) ----
 * A name standing for another model id (its target). The store keeps names and targets as text:
 * whether a target exists, and that a name is no real model's, is the caller's to check
 * (registry.h); an alias never names another alias there. */
typedef struct {
    char name[STORE_NAME_MAX];
    char target[STORE_NAME_MAX];
    long long created_at, updated_at;     /* Unix seconds */
} AliasRecord;

/* Creates alias name -> target, or re-points an existing one (updated_at changes, created_at
 * stays). *created (may be NULL) says which. ERR_ARG for an empty or too long name or target. */
int store_alias_set(Store *s, const char *name, const char *target, bool *created, Err *err);
int store_alias_get(Store *s, const char *name, AliasRecord *out, Err *err); /* STORE_NOT_FOUND */
int store_alias_delete(Store *s, const char *name, Err *err);                /* STORE_NOT_FOUND */
/* Every alias, by name (*out heap, caller frees; at most STORE_LIST_MAX). */
int store_alias_list(Store *s, AliasRecord **out, int *n, Err *err);
/* ---- responses (store_responses.c) ----
 * A response of the Responses API stored for retrieval and for continuing it
 * (previous_response_id). The store keeps the response object and its input items as JSON text
 * without reading them; its project is compared by the caller, as for files and jobs. */
typedef struct {
    char id[STORE_ID_MAX];                /* resp_... */
    char project[STORE_ID_MAX];
    long long created_at;
    char model[STORE_NAME_MAX];
    char status[STORE_ID_MAX];            /* completed, incomplete, failed */
    char previous_response_id[STORE_ID_MAX]; /* "" = none */
    char *body;                           /* heap: the response object (JSON text) */
    char *input;                          /* heap: its input items (JSON array text) */
} ResponseRecord;

/* Inserts r (every field set by the caller; an empty project is ERR_ARG). */
int store_response_create(Store *s, const ResponseRecord *r, Err *err);
/* out's body and input are heap: release them with store_response_clear. STORE_NOT_FOUND. */
int store_response_get(Store *s, const char *id, ResponseRecord *out, Err *err);
/* Removes a response (the reserve may be spent on a full disk). STORE_NOT_FOUND. */
int store_response_delete(Store *s, const char *id, Err *err);
void store_response_clear(ResponseRecord *r); /* frees body and input; NULL is a no-op */

/* ---- evals (store_evals.c) ----
 * The Evals API's evals, runs and output items: each record is the API object as JSON text (body,
 * which the store does not read) with the columns lists filter on. Its project is compared by the
 * caller, as for files and jobs. */
typedef enum { EVAL_OBJ_EVAL = 0, EVAL_OBJ_RUN = 1, EVAL_OBJ_ITEM = 2 } EvalKind;

typedef struct {
    char id[STORE_ID_MAX];      /* eval_..., evalrun_..., outputitem_... */
    char project[STORE_ID_MAX];
    char parent[STORE_ID_MAX];  /* a run's eval, an item's run; "" for an eval */
    long long created_at;
    char status[STORE_ID_MAX];  /* a run's (queued, in_progress, completed, canceled, failed), an
                                 * item's (pass, fail); "" for an eval */
    long long item_index;       /* an item's index in its run's data source; -1 otherwise */
    char *body;                 /* heap: the API object (JSON text) */
} EvalObject;

typedef struct {
    const char *project;        /* NULL: every project's */
    const char *parent;         /* NULL: any */
    const char *status;         /* NULL: any */
    const char *after;          /* NULL: from the start (an unknown id, or another project's, is STORE_NOT_FOUND) */
    int limit;
    bool ascending;             /* creation order (items: their index) */
} EvalListQuery;

/* Inserts o (every field set by the caller; an item's (parent, item_index) is unique). */
int store_eval_put(Store *s, EvalKind kind, const EvalObject *o, Err *err);
/* Replaces a record's status and body. STORE_NOT_FOUND. */
int store_eval_update(Store *s, EvalKind kind, const char *id, const char *status, const char *body, Err *err);
/* out's body is heap: store_eval_clear. STORE_NOT_FOUND. */
int store_eval_get(Store *s, EvalKind kind, const char *id, EvalObject *out, Err *err);
/* Records matching q, at most q->limit; *out heap (store_eval_list_free). */
int store_eval_list(Store *s, EvalKind kind, const EvalListQuery *q, EvalObject **out, int *n, bool *has_more,
                    Err *err);
/* Removes a record with what hangs off it (an eval's runs and their items, a run's items), in one
 * transaction. STORE_NOT_FOUND. */
int store_eval_delete(Store *s, EvalKind kind, const char *id, Err *err);
void store_eval_clear(EvalObject *o);
void store_eval_list_free(EvalObject *list, int n);

/* Eval runs carried out by several API nodes (store_evals.c), leased as jobs are (see the workers
 * section; times in Unix ms). store_eval_run_claim: the next run for node `worker`: one in progress
 * whose lease is missing, expired or this node's first, else the oldest queued; it records the node
 * and a lease until now_ms + lease_ms (STORE_NOT_FOUND: none). store_eval_run_save: the run's status
 * and body written, and its lease renewed to `until`, only while it is still `worker`'s and queued
 * or in progress: STORE_CONFLICT when it was cancelled (by any node) or taken over, STORE_NOT_FOUND
 * when deleted. store_eval_runs_release: the node's in-progress runs can be claimed at once. */
int store_eval_run_claim(Store *s, const char *worker, long long now_ms, long long lease_ms, EvalObject *out, Err *err);
int store_eval_run_save(Store *s, const char *id, const char *worker, long long until, const char *status,
                        const char *body, Err *err);
int store_eval_runs_release(Store *s, const char *worker, Err *err);

/* ---- vector stores (store_vectors.c; schema versions 7 and 9) ----
 * A vector store belongs to a project and holds files (uploaded ones, by id), each cut into chunks
 * whose text and embedding (dim float32, little-endian, as hex text: the database layer binds text
 * and integers) are rows of vector_chunks, indexed for full-text search (SQLite: an FTS5 table,
 * BM25; PostgreSQL: a GIN index of to_tsvector('simple', text), ts_rank). Chunks of a store are read
 * back as one contiguous matrix for exact cosine search. Files attached together by one file batch
 * carry its id; a store may expire expires_days after its last activity. */
typedef struct {
    int in_progress, completed, failed, cancelled; /* files by status */
    long long usage_bytes;                /* bytes of their chunks' text and vectors */
} VectorFileCounts;

typedef struct {
    char id[STORE_ID_MAX];                /* vs_... */
    char project[STORE_ID_MAX];
    char name[STORE_NAME_MAX];            /* "" = null */
    long long created_at, last_active_at;
    char metadata[STORE_JSON_MAX];        /* JSON object text, "" = null */
    char model[STORE_NAME_MAX];           /* the embedding model of its chunks (fixed at creation) */
    int expires_days;                     /* expires_after {anchor: last_active_at, days}; 0 = never */
    VectorFileCounts counts;              /* computed by get and list */
} VectorStoreRecord;

typedef struct {
    char store_id[STORE_ID_MAX];
    char file_id[STORE_ID_MAX];
    long long created_at;
    char status[STORE_ID_MAX];            /* in_progress, completed, failed, cancelled */
    char last_error[STORE_TEXT_MAX];      /* "" = none */
    long long usage_bytes;
    int chunk_max, chunk_overlap;         /* static chunking, in tokens */
    char attributes[STORE_JSON_MAX];      /* JSON object text, "" = null */
    char batch_id[STORE_ID_MAX];          /* the file batch that attached it, "" = none */
} VectorFileRecord;

typedef struct {
    char id[STORE_ID_MAX];                /* vsfb_... */
    char store_id[STORE_ID_MAX];
    long long created_at;
    bool cancelled;                       /* cancel was asked */
    VectorFileCounts counts;              /* of its files, computed by get */
} VectorBatchRecord;

typedef struct {
    const char *text;                     /* the chunk's text (len bytes of UTF-8) */
    size_t len;
    const float *embedding;               /* dim floats */
} VectorChunkIn;

int store_vs_create(Store *s, const VectorStoreRecord *v, Err *err);
int store_vs_get(Store *s, const char *id, VectorStoreRecord *out, Err *err); /* STORE_NOT_FOUND */
/* A project's stores newest first (ascending: oldest first) after `after` (STORE_NOT_FOUND: unknown). */
int store_vs_list(Store *s, const char *project, const char *after, int limit, bool ascending, VectorStoreRecord **out,
                  int *n, bool *has_more, Err *err);
/* Writes v's name, metadata and expires_days. STORE_NOT_FOUND. */
int store_vs_update(Store *s, const VectorStoreRecord *v, Err *err);
/* Sets a store's last_active_at (a search). STORE_NOT_FOUND. */
int store_vs_touch(Store *s, const char *id, long long now, Err *err);
/* Removes a store with its files' rows, batches and chunks. STORE_NOT_FOUND. */
int store_vs_delete(Store *s, const char *id, Err *err);
/* Records a file attached to a store, status in_progress; STORE_CONFLICT when it is already. */
int store_vs_file_add(Store *s, const VectorFileRecord *f, Err *err);
/* A file to attach (store_vs_files_add). */
typedef struct {
    const char *file_id;
    const char *attributes;               /* JSON object text; NULL or "" = null */
    int chunk_max, chunk_overlap;
} VectorFileIn;
/* Records n files attached to store_id at created_at, in_progress, in one transaction, with
 * (batch_id non-NULL) the file batch attaching them recorded first and each file's batch_id set:
 * all or none: STORE_CONFLICT with *conflict the index of a file attached already. The store's
 * last_active_at becomes created_at. */
int store_vs_files_add(Store *s, const char *store_id, long long created_at, const char *batch_id,
                       const VectorFileIn *files, int n, int *conflict, Err *err);
/* Replaces a file's attributes (JSON object text, "" = null). STORE_NOT_FOUND. */
int store_vs_file_set_attributes(Store *s, const char *store_id, const char *file_id, const char *attributes, Err *err);
/* Ends an in_progress file in one transaction: its n chunks (dim floats each) stored and status
 * completed, or (error non-NULL) no chunks and status failed with that error. STORE_NOT_FOUND when
 * the file was detached, cancelled (or its store deleted) meanwhile. */
int store_vs_file_finish(Store *s, const char *store_id, const char *file_id, const VectorChunkIn *chunks, int n,
                         int dim, const char *error, Err *err);
int store_vs_file_get(Store *s, const char *store_id, const char *file_id, VectorFileRecord *out, Err *err);
/* A store's files (those of batch_id only, those of status only, when not NULL) newest first
 * (ascending: oldest first) after the file `after` (STORE_NOT_FOUND: unknown). */
int store_vs_file_list(Store *s, const char *store_id, const char *batch_id, const char *status, const char *after,
                       int limit, bool ascending, VectorFileRecord **out, int *n, bool *has_more, Err *err);
/* A batch of store_id with its files' counts. STORE_NOT_FOUND. */
int store_vs_batch_get(Store *s, const char *store_id, const char *batch_id, VectorBatchRecord *out, Err *err);
/* Marks a batch cancelled and its in_progress files cancelled (their processing then keeps
 * nothing: store_vs_file_finish finds them no longer in_progress), in one transaction.
 * STORE_NOT_FOUND. */
int store_vs_batch_cancel(Store *s, const char *store_id, const char *batch_id, Err *err);
/* Detaches a file: its row and chunks. STORE_NOT_FOUND. */
int store_vs_file_delete(Store *s, const char *store_id, const char *file_id, Err *err);
/* Detaches an uploaded file from every store (its rows and chunks), in one transaction: what
 * deleting the file (store_file_delete) does first. */
int store_vs_file_forget(Store *s, const char *file_id, Err *err);
/* At start-up: files left in_progress by a stop or a crash become failed, saying so. */
int store_vs_fail_in_progress(Store *s, Err *err);
/* Every chunk of a store: ids (n) and embeddings as one contiguous (n, dim) matrix (both heap,
 * caller frees; NULL when n is 0). */
int store_vs_vectors(Store *s, const char *store_id, int dim, int64_t **ids, float **vecs, int *n, Err *err);
/* What identifies a store's set of chunks: their number and largest id (ids are never reused, so
 * any insert or delete changes one of them): a cached copy of store_vs_vectors is current while
 * both are the same. */
int store_vs_version(Store *s, const char *store_id, long long *count, long long *max_id, Err *err);
/* Full-text search of a store's chunks: the best `limit` for query (words matched as any of them,
 * query syntax neutralised), ids and scores (SQLite: -bm25; PostgreSQL: ts_rank; higher is better;
 * heap, caller frees). */
int store_vs_text_search(Store *s, const char *store_id, const char *query, int limit, int64_t **ids, double **scores,
                         int *n, Err *err);
/* The ids (ascending; heap, caller frees, NULL when none) of the chunks of those completed files of
 * store_id for which keep(file_id, attributes: JSON object text or "", user) is true (a search's
 * filters). */
int store_vs_chunks_where(Store *s, const char *store_id, bool (*keep)(const char *file_id, const char *attributes, void *user),
                          void *user, int64_t **ids, int *n, Err *err);
/* A chunk's file id and text (*text heap, caller frees). STORE_NOT_FOUND. */
int store_vs_chunk(Store *s, int64_t id, char file_id[STORE_ID_MAX], char **text, Err *err);

/* ---- projects and API keys (store_projects.c) ----
 * A key's secret is "sk-proj-" (a project key) or "sk-admin-" (an admin key: manages projects and
 * keys, nothing else) followed by STORE_KEY_RANDOM_LEN random characters. Only its SHA-256 digest
 * is stored; the secret is shown once, by store_key_create. A revoked key stays listed (with its
 * revoked_at) and is never found again. */
#define STORE_KEY_RANDOM_LEN 48
#define STORE_KEY_SECRET_MAX 64           /* prefix + random characters + NUL */
#define STORE_KEY_REDACTED_MAX 32

typedef struct {
    char id[STORE_ID_MAX];                /* proj_... (STORE_DEFAULT_PROJECT for the default one) */
    char name[STORE_NAME_MAX];            /* unique */
    long long created_at;
} ProjectRecord;

typedef struct {
    char id[STORE_ID_MAX];                /* key_... */
    char project[STORE_ID_MAX];           /* "" for an admin key */
    char name[STORE_NAME_MAX];            /* "" = none */
    char redacted[STORE_KEY_REDACTED_MAX];/* the secret's prefix and last four characters: sk-proj-...abcd */
    bool admin;
    long long created_at;
    long long revoked_at;                 /* 0 = active */
} KeyRecord;

/* A new project named name (non-empty, at most STORE_NAME_MAX - 1 bytes): STORE_CONFLICT when a
 * project has that name. */
int store_project_create(Store *s, const char *name, ProjectRecord *out, Err *err);
/* The project whose id or name is ref, or STORE_NOT_FOUND. */
int store_project_get(Store *s, const char *ref, ProjectRecord *out, Err *err);
/* Projects oldest first after the project `after` (same ownership as store_file_list). */
int store_project_list(Store *s, const char *after, int limit, ProjectRecord **out, int *n, bool *has_more, Err *err);

/* A new key of project (an existing project's id: STORE_NOT_FOUND otherwise), or an admin key
 * when project is NULL; name may be NULL. secret receives the key itself: the only copy. */
int store_key_create(Store *s, const char *project, const char *name, KeyRecord *out,
                     char secret[STORE_KEY_SECRET_MAX], Err *err);
/* The active key whose secret is the len bytes at secret (every byte counts: a secret followed by
 * a NUL and more is another secret), or STORE_NOT_FOUND (also for a revoked key). */
int store_key_find(Store *s, const char *secret, size_t len, KeyRecord *out, Err *err);
int store_key_get(Store *s, const char *id, KeyRecord *out, Err *err); /* STORE_NOT_FOUND */
/* Keys of project (NULL: every key, admin keys included) oldest first after the key `after`. */
int store_key_list(Store *s, const char *project, const char *after, int limit, KeyRecord **out, int *n,
                   bool *has_more, Err *err);
/* Revokes key id from now on: STORE_NOT_FOUND when there is no such key, STORE_CONFLICT when it
 * was revoked already. */
int store_key_revoke(Store *s, const char *id, Err *err);
/* Whether any key was ever created (revoked ones count: revoking the last key must not open the
 * server to requests without one). */
int store_key_any(Store *s, bool *any, Err *err);

#endif
