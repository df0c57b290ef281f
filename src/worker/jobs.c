/* jobs.c: the job worker's two threads (see jobs.h): validation, and training (one ft_train of
 * the public engine API, ftune.h) with its events, checkpoints, results file and restart recovery.
 * A job on a fine-tuned (or checkpoint, or --adapter) model starts from that model's adapter.
 * Every status change the worker makes is conditional on the status it expects, so a cancel or
 * pause from the API is never undone. */
#include "jobs.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/clock.h"
#include "../core/fault.h"
#include "../core/fileio.h"
#include "../data/validate.h"
#include "../ftune.h"
#include "registry.h"

struct JobWorker {
    JobsConfig cfg;
    char data_dir[2048];
    char database[2048];   /* "" = SQLite */
    char id[STORE_WORKER_MAX]; /* the worker's id (cfg.node_id or the host's name) */
    char host[256];
    long long lease_ms;
    Store *beat_store;     /* the heartbeat thread's connection (opened by jobs_start, which registers) */
    pthread_t validator, trainer, beat;
    volatile int stop_beat; /* read and written atomically: the heartbeat stops after the others */
    volatile int registered; /* read and written atomically: the worker's row is in the store (a start
                              * on a full disk registers later, from the heartbeat thread; the
                              * validator and trainer claim nothing before) */
    pthread_mutex_t mu;
    pthread_cond_t wake;
    unsigned long wakeups;
    volatile int stop;     /* read and written atomically (stopping(), jobs_stop); ft_train reads it too */
    JobRecord validator_job, trainer_job; /* each thread's job record, made with the worker (no
                                           * allocation in a thread that could leave it stopped) */
    JobRecord probe_job;   /* the trainer's second record (job_taken) */
};

static long long now_s(void) { return (long long)time(NULL); }


/* Whether jobs_stop was called (the threads poll it; the trainer also stops at the next step). */
static bool stopping(const JobWorker *w) { return __atomic_load_n(&w->stop, __ATOMIC_ACQUIRE) != 0; }
static void set_stopping(JobWorker *w) { __atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE); }
static bool registered(const JobWorker *w) { return __atomic_load_n(&w->registered, __ATOMIC_ACQUIRE) != 0; }

static void log_err(const char *what, const Err *err) { fprintf(stderr, "ftune serve: %s: %s\n", what, err->msg); }

/* Appends an event; -1 (logged, *err filled when err is non-NULL) when it could not be written. */
static int add_event(Store *s, Err *err, const char *job_id, const char *level, const char *type, const char *data,
                     const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static int add_event(Store *s, Err *err, const char *job_id, const char *level, const char *type, const char *data,
                     const char *fmt, ...) {
    char msg[STORE_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    Err local = {0};
    if (!err) err = &local;
    int rc = store_event_add(s, job_id, level, type, msg, data, NULL, err);
    if (rc < 0) log_err("cannot record an event", err);
    return rc < 0 ? -1 : 0;
}

/* Waits until notified, stopped, or JOBS_POLL_MS passed. */
static void wait_for_work(JobWorker *w, unsigned long *seen) {
    pthread_mutex_lock(&w->mu);
    if (*seen == w->wakeups && !stopping(w)) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_sec += JOBS_POLL_MS / 1000;
        pthread_cond_timedwait(&w->wake, &w->mu, &t);
    }
    *seen = w->wakeups;
    pthread_mutex_unlock(&w->mu);
}

void jobs_notify(JobWorker *w) {
    if (!w) return; /* an API-only node: the workers learn of it from the store */
    pthread_mutex_lock(&w->mu);
    w->wakeups++;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->mu);
}

void jobs_model_name(const JobRecord *job, const char *org, char *out, size_t size) {
    const char *tail = strchr(job->id, '-');
    tail = tail ? tail + 1 : job->id;
    const char *base = job->name_base[0] ? job->name_base : job->model;
    if (snprintf(out, size, "ft:%s:%s:%s:%.8s", base, org, job->suffix, tail) >= (int)size && size)
        out[size - 1] = 0; /* names are bounded by the request checks; never reached in practice */
}

/* Removes every "<dir>/" from msg: a client-facing message names the server's files relative to
 * its data directory, never by their place on the server. */
static void strip_dir(char *msg, const char *dir) {
    char prefix[2100];
    int n = snprintf(prefix, sizeof prefix, "%s/", dir);
    if (n <= 1 || n >= (int)sizeof prefix) return;
    for (char *p; (p = strstr(msg, prefix));) memmove(p, p + n, strlen(p + n) + 1);
}

/* Writes job, already marked failed, if its status is still `from`, with its error event. The
 * reserve may be spent (a failure must be recorded on a full disk). 0 when written or when the
 * status moved on meanwhile; -1 when it could not be written (logged when loud). */
static int record_failure(Store *s, JobRecord *job, const char *from, bool loud) {
    Err err = {0};
    store_reserve_use(s, true);
    int rc = store_job_update_if(s, job, from, &err);
    if (rc == 0) add_event(s, NULL, job->id, "error", "message", NULL, "%s", job->error_message);
    store_reserve_use(s, false);
    if (rc < 0 && loud) log_err("cannot record a failed job (retried until it can)", &err);
    return rc < 0 ? -1 : 0;
}

/* Ends a job in `failed` (if it is still in status `from`) with an error and an error event; see
 * record_failure. The message is stripped of the data directory's path. */
static int fail_job(Store *s, JobRecord *job, const char *from, const char *code, const char *param,
                    const char *message) {
    snprintf(job->status, sizeof job->status, "failed");
    snprintf(job->error_code, sizeof job->error_code, "%s", code);
    snprintf(job->error_param, sizeof job->error_param, "%s", param ? param : "");
    snprintf(job->error_message, sizeof job->error_message, "%s", message);
    strip_dir(job->error_message, store_data_dir(s));
    job->finished_at = now_s();
    job->estimated_finish = 0;
    return record_failure(s, job, from, true);
}

/* ---- validation ---- */

/* Checks one of a job's files; on a problem fails the job and returns -1. */
static int check_file(Store *s, JobRecord *job, const char *file_id, const char *param, long min_examples) {
    const char *what = strcmp(param, "training_file") == 0 ? "training" : "validation";
    char msg[STORE_TEXT_MAX], path[4096], problem[VALIDATE_MESSAGE_MAX + VALIDATE_PATH_MAX + 64];
    FileRecord f;
    Err err = {0};
    int rc = store_file_get(s, file_id, &f, &err);
    if (rc) {
        snprintf(msg, sizeof msg, "The job failed because the %s file %s %s.", what, file_id,
                 rc == STORE_NOT_FOUND ? "no longer exists" : "could not be read");
        fail_job(s, job, "validating_files", rc == STORE_NOT_FOUND ? "file_not_found" : "server_error", param, msg);
        return -1;
    }
    store_file_path(s, file_id, path, sizeof path);
    ValidateOptions opt;
    validate_options_default(&opt);
    opt.min_examples = min_examples;
    opt.max_problems = 1;
    opt.method = strcmp(job->method, "dpo") == 0 ? VALIDATE_DPO : VALIDATE_SUPERVISED;
    ValidateReport rep;
    rc = validate_file(path, &opt, &rep, &err);
    if (rc) {
        snprintf(msg, sizeof msg, "The job failed because the %s file %s could not be read: %s", what, file_id,
                 err.msg);
        fail_job(s, job, "validating_files", "server_error", param, msg);
    } else if (rep.errors > 0 && rep.n_problems > 0) {
        const ValidateProblem *p = &rep.problems[0];
        if (strcmp(p->code, "invalid_n_examples") == 0)
            snprintf(msg, sizeof msg, "%s", p->message);
        else
            snprintf(msg, sizeof msg, "The job failed due to an invalid %s file. Invalid file format: %s%s", what,
                     validate_problem_format(p, problem, sizeof problem),
                     rep.errors > 1 ? " (and more errors: run `ftune validate` on the file for all of them)" : "");
        fail_job(s, job, "validating_files", p->code, param, msg);
        rc = -1;
    }
    validate_report_free(&rep);
    return rc;
}

/* Validates a job's files and queues or fails it; -1 when its status could not be written (the
 * validator then waits before it looks again, instead of retrying at once). */
static int validate_job(JobWorker *w, Store *s, JobRecord *job) {
    if (job->validation_file[0])
        add_event(s, NULL, job->id, "info", "message", NULL, "Validating training file: %s and validation file: %s",
                  job->training_file, job->validation_file);
    else
        add_event(s, NULL, job->id, "info", "message", NULL, "Validating training file: %s", job->training_file);
    static const char *const from[] = {"validating_files"};
    char status[STORE_ID_MAX] = "";
    Err err = {0};
    int rc = 0;
    if (check_file(s, job, job->training_file, "training_file", VALIDATE_MIN_EXAMPLES) == 0 &&
        (!job->validation_file[0] || check_file(s, job, job->validation_file, "validation_file", 1) == 0)) {
        rc = store_job_transition(s, job->id, from, 1, "queued", NULL, &err);
        if (rc < 0) log_err("cannot queue a job", &err);
        if (rc == 0) {
            add_event(s, NULL, job->id, "info", "message", NULL, "Files validated, moving job to queued state");
            jobs_notify(w);
        }
        return rc < 0 ? -1 : 0;
    }
    /* failed (or it could not be recorded: then it is still validating_files) */
    JobRecord now;
    rc = store_job_get(s, job->id, &now, &err);
    if (rc == 0) snprintf(status, sizeof status, "%s", now.status);
    return rc < 0 || strcmp(status, "validating_files") == 0 ? -1 : 0;
}

/* The thread's own connection, tried again each poll while it cannot be opened (a failing
 * disk, or no memory for now): a thread that gave up would leave jobs waiting until a restart.
 * NULL only when the worker stops first. */
static Store *open_store(JobWorker *w, const char *who, unsigned long *seen) {
    Store *s = NULL;
    Err err = {0};
    while (!stopping(w) && store_open(w->data_dir, w->database[0] ? w->database : NULL, &s, &err)) {
        fprintf(stderr, "ftune serve: %s: %s (trying again)\n", who, err.msg);
        wait_for_work(w, seen);
    }
    return s;
}

static void *validator_main(void *arg) {
    JobWorker *w = arg;
    Err err = {0};
    unsigned long seen = 0;
    Store *s = open_store(w, "validator", &seen);
    if (!s) return NULL;
    JobRecord *job = &w->validator_job;
    while (!stopping(w)) {
        int rc = registered(w) ? store_job_claim(s, STORE_CLAIM_VALIDATE, w->id, clock_wall_ms(), w->lease_ms, job, NULL, &err)
                               : STORE_NOT_FOUND;
        if (rc == 0 && validate_job(w, s, job) == 0) continue;
        if (rc < 0) log_err("validator", &err);
        if (store_file_purge_expired(s, now_s(), NULL, &err)) log_err("removing expired files", &err);
        store_reserve_ensure(w->data_dir, NULL); /* again once a full disk has room */
        wait_for_work(w, &seen);
    }
    store_close(s);
    return NULL;
}

/* ---- training ---- */

typedef struct {
    JobWorker *w;
    Store *s;
    JobRecord *job;
    char model_name[STORE_NAME_MAX];
    char run_dir[4096];
    long first_step;     /* step the run started from (resume) */
    long recorded_step;  /* the step the job's record had reached when claimed: the metrics events
                          * up to it are recorded already (a resumed run redoes the steps after its
                          * checkpoint without recording them twice) */
    long per_epoch;      /* steps in an epoch: checkpoints at their multiples are the API's */
    long long t_start;
    bool stopped_by_status; /* the API cancelled or paused the job */
    bool taken_over;     /* another worker holds the job now: this run writes nothing more */
    bool shared_cores;   /* the inference and embedding threads were told to use one thread while this job trains */
    const StoreClaim *claim; /* how the trainer came by the job */
    bool write_failed;   /* a write of the run's state failed: the job stops and fails */
    char write_msg[STORE_TEXT_MAX];
} RunCtx;

/* Notes the run's first failed write (what: the state it was recording) and logs it: the job then
 * stops at this step and fails with a message saying so, instead of running on unrecorded. */
static void run_write_failed(RunCtx *rc, const char *what, const Err *err) {
    log_err(what, err);
    if (rc->write_failed) return;
    rc->write_failed = true;
    snprintf(rc->write_msg, sizeof rc->write_msg, "The job failed because the server could not record %s: %s", what,
             err->msg);
}

/* The highest complete checkpoint-<step> directory in dir ("" when none). */
static long latest_checkpoint(const char *dir, char *out, size_t size) {
    out[0] = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    long best = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        if (strncmp(e->d_name, "checkpoint-", 11) != 0) continue;
        long step = strtol(e->d_name + 11, &end, 10);
        if (*end || step <= best) continue; /* ".tmp"/".old" are incomplete */
        if (snprintf(out, size, "%s/%s", dir, e->d_name) >= (int)size) continue; /* path too long */
        best = step;
    }
    closedir(d);
    return best;
}

/* A step's metrics as JSON text (heap), in OpenAI's field names; the event's also has
 * total_steps. A value that is not finite is left out (JSON has no NaN). NULL when out of memory. */
static char *metrics_json(const FtTrainMetrics *m, bool for_event) {
    json_t *o = json_pack("{s:I}", "step", (json_int_t)m->step);
    if (!o) return NULL;
    json_object_set_new(o, "train_loss", json_real(m->train_loss));
    json_object_set_new(o, "train_mean_token_accuracy", json_real(m->train_accuracy));
    if (for_event) json_object_set_new(o, "total_steps", json_integer(m->total_steps));
    if (for_event && m->dpo) { /* the step's pairs: beta * (log pi - log pi_ref) of each reply, means */
        json_object_set_new(o, "train_chosen_reward", json_real(m->chosen_reward));
        json_object_set_new(o, "train_rejected_reward", json_real(m->rejected_reward));
        json_object_set_new(o, "train_reward_accuracy", json_real(m->reward_accuracy));
        json_object_set_new(o, "train_reward_margin", json_real(m->reward_margin));
    }
    if (m->has_valid) {
        json_object_set_new(o, "valid_loss", json_real(m->valid_loss));
        json_object_set_new(o, "valid_mean_token_accuracy", json_real(m->valid_accuracy));
        if (m->full_valid) {
            json_object_set_new(o, "full_valid_loss", json_real(m->valid_loss));
            json_object_set_new(o, "full_valid_mean_token_accuracy", json_real(m->valid_accuracy));
        }
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(o);
    return text;
}

/* Keeps the newest JOBS_KEEP_CHECKPOINTS API checkpoints (rows and directories); other
 * checkpoint-<step> directories (older ones, and those a stop or pause left) are removed. Called
 * right after an API checkpoint is recorded, so the latest directory, which a resume starts from,
 * is always among those kept. */
static void prune_checkpoints(RunCtx *rc) {
    CheckpointRecord *list;
    int n;
    bool more;
    Err err = {0};
    if (store_checkpoint_list(rc->s, rc->job->id, NULL, 100, &list, &n, &more, &err)) {
        log_err("cannot list checkpoints", &err);
        return;
    }
    for (int i = JOBS_KEEP_CHECKPOINTS; i < n; i++)
        if (store_checkpoint_delete(rc->s, list[i].id, &err)) log_err("cannot remove an old checkpoint", &err);
    DIR *d = opendir(rc->run_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *end, path[4400];
        if (strncmp(e->d_name, "checkpoint-", 11) != 0) continue;
        long step = strtol(e->d_name + 11, &end, 10);
        bool keep = false;
        for (int i = 0; i < n && i < JOBS_KEEP_CHECKPOINTS && !keep; i++) keep = !*end && list[i].step == step;
        snprintf(path, sizeof path, "%s/%s", rc->run_dir, e->d_name);
        if (!keep && file_remove_tree(path, &err)) log_err("cannot remove an old checkpoint", &err);
    }
    if (d) closedir(d);
    free(list);
}

/* dir relative to the data directory (what a job records: every node may mount it elsewhere). */
static const char *relative_to_data(const JobWorker *w, const char *dir) {
    size_t n = strlen(w->data_dir);
    return strncmp(dir, w->data_dir, n) == 0 && dir[n] == '/' ? dir + n + 1 : dir;
}

/* After a conditional write of the job found it changed: whether another worker holds it now (a
 * takeover after this worker's lease ran out) rather than the API having paused or cancelled it. */
static bool job_taken(RunCtx *rc) {
    JobRecord *now = &rc->w->probe_job;
    Err err = {0};
    return store_job_get(rc->s, rc->job->id, now, &err) == 0 && strcmp(now->worker, rc->job->worker) != 0;
}

static int on_train_step(const FtTrainMetrics *m, const char *checkpoint_dir, void *user) {
    RunCtx *rc = user;
    Err err = {0};
    if (m->step > rc->recorded_step) { /* else recorded by the run this one resumes */
        char msg[512], *data = metrics_json(m, true);
        int n = snprintf(msg, sizeof msg, "Step %ld/%ld: training loss=%.2f", m->step, m->total_steps, m->train_loss);
        if (m->has_valid)
            snprintf(msg + n, sizeof msg - n, ", %svalidation loss=%.2f", m->full_valid ? "full " : "", m->valid_loss);
        if (add_event(rc->s, &err, rc->job->id, "info", "metrics", data, "%s", msg))
            run_write_failed(rc, "the step's metrics", &err);
        free(data);
    }
    if (rc->write_failed) return 1;
    /* progress, written only while the job is still running and ours (a cancel or pause stops us
     * here, a takeover too); a checkpoint becomes the job's resume point in the same write, before
     * its row is added and older ones pruned, so that the recorded resume point always exists */
    if (checkpoint_dir)
        snprintf(rc->job->resume_dir, sizeof rc->job->resume_dir, "%s", relative_to_data(rc->w, checkpoint_dir));
    rc->job->step = m->step;
    rc->job->total_steps = m->total_steps;
    long done = m->step - rc->first_step;
    double per_step = done > 0 ? (double)(now_s() - rc->t_start) / done : 0;
    rc->job->estimated_finish = now_s() + (long long)(per_step * (m->total_steps - m->step) + 0.5);
    int st = store_job_update_if(rc->s, rc->job, "running", &err);
    if (st < 0) run_write_failed(rc, "the job's progress", &err);
    else if (st != 0 && job_taken(rc)) rc->taken_over = true;
    else if (st != 0) rc->stopped_by_status = true;
    if (rc->taken_over) return FT_TRAIN_ABANDON;
    if (st == 0 && checkpoint_dir && rc->per_epoch > 0 && m->step % rc->per_epoch == 0) { /* not a stop's checkpoint */
        char name[STORE_NAME_MAX + 32], *metrics = metrics_json(m, false);
        snprintf(name, sizeof name, "%s:ckpt-step-%ld", rc->model_name, m->step);
        int added = store_checkpoint_add(rc->s, rc->job->id, m->step, name, metrics ? metrics : "{}", checkpoint_dir,
                                         NULL, &err);
        free(metrics);
        if (added == 0 &&
            add_event(rc->s, &err, rc->job->id, "info", "message", NULL, "Checkpoint created at step %ld", m->step))
            added = -1;
        if (added == 0) prune_checkpoints(rc); /* never without the new one among those kept */
        else run_write_failed(rc, "a checkpoint", &err);
    }
    return rc->write_failed || rc->stopped_by_status || stopping(rc->w);
}

/* Base64 of a file's bytes (the results file is served encoded, as OpenAI does). */
static char *base64_file(const char *path, size_t *out_len, Err *err) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *raw;
    size_t len;
    if (file_read_all(path, (size_t)1 << 30, &raw, &len, err)) return NULL;
    char *out = fault_malloc(4 * ((len + 2) / 3) + 1);
    if (!out) {
        free(raw);
        err_set(err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)raw;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = p[i] << 16 | (i + 1 < len ? p[i + 1] << 8 : 0) | (i + 2 < len ? p[i + 2] : 0);
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = i + 1 < len ? tbl[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? tbl[v & 63] : '=';
    }
    out[o] = 0;
    free(raw);
    *out_len = o;
    return out;
}

/* The job trained to the end: results file, model name, success events. -1 when neither its
 * success nor its failure could be recorded (see fail_job). */
static int finish_job(RunCtx *rc, long long trained_tokens) {
    Store *s = rc->s;
    JobRecord *job = rc->job;
    Err err = {0};
    char csv[4200], name[STORE_FILENAME_MAX];
    snprintf(csv, sizeof csv, "%s/results.csv", rc->run_dir);
    size_t len;
    char *b64 = base64_file(csv, &len, &err);
    FileRecord f;
    snprintf(name, sizeof name, "%s-results.csv", job->id);
    if (!b64 || store_file_create(s, job->project, name, "fine-tune-results", b64, len, &f, &err)) {
        free(b64);
        char msg[STORE_TEXT_MAX];
        snprintf(msg, sizeof msg, "The job failed while saving its results: %s", err.msg);
        return fail_job(s, job, "running", "server_error", NULL, msg);
    }
    free(b64);
    snprintf(job->result_file, sizeof job->result_file, "%s", f.id);
    snprintf(job->fine_tuned_model, sizeof job->fine_tuned_model, "%s", rc->model_name);
    snprintf(job->status, sizeof job->status, "succeeded");
    job->finished_at = now_s();
    job->estimated_finish = 0;
    job->trained_tokens = trained_tokens;
    store_reserve_use(s, true); /* the outcome of a whole run: worth the reserve on a full disk */
    int st = store_job_update_if(s, job, "running", &err);
    store_reserve_use(s, false);
    if (st < 0) {
        char msg[STORE_TEXT_MAX];
        snprintf(msg, sizeof msg, "The job trained to the end, but its success could not be recorded: %s", err.msg);
        snprintf(job->result_file, sizeof job->result_file, "%s", "");
        snprintf(job->fine_tuned_model, sizeof job->fine_tuned_model, "%s", "");
        job->trained_tokens = -1;
        return fail_job(s, job, "running", "server_error", NULL, msg);
    }
    if (st != 0) return 0;
    add_event(s, NULL, job->id, "info", "message", NULL, "New fine-tuned model created: %s", rc->model_name);
    add_event(s, NULL, job->id, "info", "message", NULL, "The job has successfully completed");
    return 0;
}

/* The resolved hyperparameters, recorded in the job as the API reports them. */
static void job_set_hyperparams(JobRecord *job, const FtTrainResult *plan) {
    snprintf(job->n_epochs, sizeof job->n_epochs, "%d", plan->n_epochs);
    snprintf(job->batch_size, sizeof job->batch_size, "%d", plan->batch_size);
    snprintf(job->lr_multiplier, sizeof job->lr_multiplier, "%.17g", plan->lr_multiplier);
    if (plan->beta > 0) snprintf(job->beta, sizeof job->beta, "%.17g", plan->beta);
}

/* The data are loaded, the hyperparameters resolved and the adapter made: the job gets its
 * directory and records them and its start (or resumption); it is not trained when the directory
 * cannot be made (the job fails) or the API changed its status meanwhile. */
static int on_train_ready(const FtTrainResult *plan, void *user) {
    RunCtx *rc = user;
    JobRecord *job = rc->job;
    job_set_hyperparams(job, plan);
    Err err = {0};
    if ((fault_fire(FAULT_WRITE, "job directory mkdir") || mkdir(rc->run_dir, 0700) != 0) && errno != EEXIST) {
        err_set(&err, ERR_IO, "%.1000s: cannot create: %s", rc->run_dir, strerror(errno));
        run_write_failed(rc, "its directory", &err);
        return 1;
    }
    job->step = rc->first_step;
    job->total_steps = plan->total_steps;
    rc->per_epoch = plan->total_steps / plan->n_epochs;
    int st = store_job_update_if(rc->s, job, "running", &err);
    if (st < 0) run_write_failed(rc, "the job's start", &err);
    if (st != 0) return 1;
    const StoreClaim *cl = rc->claim;
    if (cl->in_progress && cl->prev_worker[0] && strcmp(cl->prev_worker, job->worker) != 0)
        add_event(rc->s, NULL, job->id, "info", "message", NULL,
                  "Fine-tuning job taken over by worker %s from step %ld: worker %s stopped renewing its lease",
                  job->worker, rc->first_step, cl->prev_worker);
    else if (rc->first_step > 0)
        add_event(rc->s, NULL, job->id, "info", "message", NULL, "Fine-tuning job resumed from step %ld%s", rc->first_step,
                  cl->in_progress ? " after a server restart" : "");
    else if (job->parent_model[0])
        add_event(rc->s, NULL, job->id, "info", "message", NULL,
                  "Fine-tuning job started: continuing the adapter of %s (on base model %s)", job->parent_model,
                  job->base_model);
    else if (job->base_model[0] && strcmp(job->base_model, job->model) != 0)
        add_event(rc->s, NULL, job->id, "info", "message", NULL,
                  "Fine-tuning job started on base model %s ('%s' is an alias of it)", job->base_model, job->model);
    else
        add_event(rc->s, NULL, job->id, "info", "message", NULL, "Fine-tuning job started");
    if (plan->beta > 0)
        add_event(rc->s, NULL, job->id, "info", "message", NULL, "Method: DPO, beta %g, reference model: %s%s", plan->beta,
                  job->parent_model[0] ? job->parent_model : job->base_model,
                  job->parent_model[0] ? " (its adapter, frozen)" : " (the base model)");
    if (rc->w->cfg.precision)
        add_event(rc->s, NULL, job->id, "info", "message", NULL, "Training precision: %s; worker: %s",
                  rc->w->cfg.precision, job->worker);
    if (rc->w->cfg.inference) {
        inference_set_threads(rc->w->cfg.inference, 1);
        rc->shared_cores = true;
    }
    if (rc->w->cfg.embedder) {
        embedder_set_threads(rc->w->cfg.embedder, 1);
        rc->shared_cores = true;
    }
    return 0;
}

/* How a job fails when ft_train refuses it, by the stage that failed (FtTrainStage). */
static const struct {
    const char *code, *param, *prefix;
} TRAIN_FAILURES[] = {
    [FT_TRAIN_CHECK] = {"server_error", NULL, ""},
    [FT_TRAIN_LOAD_TRAIN] = {"invalid_training_file", "training_file",
                             "The job failed due to an invalid training file: "},
    [FT_TRAIN_LOAD_VALID] = {"invalid_validation_file", "validation_file",
                             "The job failed due to an invalid validation file: "},
    [FT_TRAIN_RESOLVE] = {"invalid_hyperparameters", "hyperparameters", ""},
    [FT_TRAIN_PREPARE] = {"server_error", NULL, ""},
    [FT_TRAIN_RUN] = {"server_error", NULL, "The job failed during training: "},
};

/* A file of the job that was deleted since it was validated (a paused job resumed later): fails
 * the job naming it, as validation does, and returns -1 (or the failure's status, see fail_job)
 * through *failed; 0 when both files are there. */
static int job_files_present(Store *s, JobRecord *job, int *failed) {
    const char *ids[2] = {job->training_file, job->validation_file}, *params[2] = {"training_file", "validation_file"};
    for (int i = 0; i < 2; i++) {
        FileRecord f;
        Err err = {0};
        if (!ids[i][0] || store_file_get(s, ids[i], &f, &err) != STORE_NOT_FOUND) continue;
        char msg[STORE_TEXT_MAX];
        snprintf(msg, sizeof msg, "The job failed because the %s file %s no longer exists.", i ? "validation" : "training",
                 ids[i]);
        *failed = fail_job(s, job, "running", "file_not_found", params[i], msg);
        return -1;
    }
    return 0;
}

/* The step of the job's newest recorded checkpoint when its directory is no longer on disk (the
 * job's directory was deleted while it was paused or the server was down), else 0: training again
 * from an older state would redo recorded steps and record their checkpoints twice. */
static long checkpoint_lost(Store *s, const JobRecord *job, long on_disk) {
    CheckpointRecord *list;
    int n;
    bool more;
    Err err = {0};
    if (store_checkpoint_list(s, job->id, NULL, 1, &list, &n, &more, &err)) return 0;
    long step = n > 0 && list[0].step > on_disk ? (long)list[0].step : 0;
    free(list);
    return step;
}

/* Where a job's run resumes, into out (size bytes; "" = from the start): the checkpoint its record
 * names (JobRecord.resume_dir, relative to the data directory), or, for a job that progressed
 * without one (a record from before schema 8), the newest complete checkpoint in its directory.
 * Returns its step; -1 with *lost set to the step when that checkpoint, or a newer recorded one,
 * is no longer on disk. */
static long resume_point(JobWorker *w, Store *s, const JobRecord *job, const char *run_dir, char *out, size_t size,
                         long *lost) {
    long step = 0;
    out[0] = 0;
    *lost = 0;
    if (job->resume_dir[0]) {
        struct stat st;
        const char *name = strrchr(job->resume_dir, '/');
        name = name ? name + 1 : job->resume_dir;
        step = strncmp(name, "checkpoint-", 11) == 0 ? strtol(name + 11, NULL, 10) : 0;
        if (snprintf(out, size, "%s/%s", w->data_dir, job->resume_dir) >= (int)size || stat(out, &st) != 0 ||
            !S_ISDIR(st.st_mode) || step <= 0) {
            out[0] = 0;
            *lost = step > 0 ? step : 1;
            return -1;
        }
    } else if (job->step > 0) {
        step = latest_checkpoint(run_dir, out, size);
    }
    *lost = checkpoint_lost(s, job, step);
    return *lost ? -1 : step;
}

/* A run that stopped early left its checkpoint at step (the trainer writes it after the step's
 * callback when the stop was asked for there): it becomes the job's resume point, written only
 * while the job is still in status (paused, or running) and this worker's. 0 when recorded or
 * nothing needed recording; -1 when the write failed or the job changed meanwhile (logged). */
static int record_stop_checkpoint(RunCtx *rc, long step, const char *status) {
    char dir[4200], rel[STORE_RESUME_MAX];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/checkpoint-%ld", rc->run_dir, step);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
    if (snprintf(rel, sizeof rel, "%s", relative_to_data(rc->w, dir)) >= (int)sizeof rel ||
        strcmp(rel, rc->job->resume_dir) == 0)
        return 0; /* a data directory path too long for the record: never the case under the API's limits */
    snprintf(rc->job->resume_dir, sizeof rc->job->resume_dir, "%s", rel);
    snprintf(rc->job->status, sizeof rc->job->status, "%s", status);
    Err err = {0};
    int w = store_job_update_if(rc->s, rc->job, status, &err);
    if (w < 0) log_err("cannot record a stopped job's checkpoint", &err);
    return w == 0 ? 0 : -1;
}

/* The adapter directory of the model a continued job trains further, into dir; when that model is
 * gone (deleted since the job was created) or is on another base, fails the job naming it and
 * returns -1 with the failure's status in *failed. */
static int parent_adapter(JobWorker *w, Store *s, JobRecord *job, char *dir, size_t cap, int *failed) {
    ModelInfo m;
    Err err = {0};
    char msg[STORE_TEXT_MAX];
    int rc = registry_resolve_model(s, w->cfg.model_dirs, w->cfg.n_model_dirs, job->parent_model, &m, &err);
    if (rc == 0 && strcmp(m.base_id, job->base_model) == 0) {
        snprintf(dir, cap, "%s", m.adapter_dir);
        return 0;
    }
    if (rc < 0)
        snprintf(msg, sizeof msg, "The job failed because the model it continues, '%s', could not be looked up: %s",
                 job->parent_model, err.msg);
    else if (rc)
        snprintf(msg, sizeof msg, "The job failed because the model it continues, '%s', no longer exists.",
                 job->parent_model);
    else
        snprintf(msg, sizeof msg, "The job failed because the model it continues, '%s', is now on base model '%s', "
                 "not '%s'.", job->parent_model, m.base_id, job->base_model);
    *failed = fail_job(s, job, "running", rc < 0 ? "server_error" : "model_not_found", "model", msg);
    return -1;
}

/* Trains one running job to its end (or a stop); 0 when its outcome is recorded (or it stays
 * running because the server stops), -1 when the job failed but that could not be written: the
 * caller retries record_failure. */
static int train_job(JobWorker *w, Store *s, JobRecord *job, const StoreClaim *claim) {
    RunCtx rc = {.w = w, .s = s, .job = job, .t_start = now_s(), .claim = claim, .recorded_step = job->step};
    jobs_model_name(job, "ftune", rc.model_name, sizeof rc.model_name);
    registry_job_dir(w->data_dir, job->id, rc.run_dir, sizeof rc.run_dir);
    char msg[STORE_TEXT_MAX], resume[4200], train_path[4096], valid_path[4096];
    Err err = {0};
    ModelInfo base;
    int failed = 0;
    const char *base_id = job->base_model[0] ? job->base_model : job->model;
    if (registry_find_base(w->cfg.model_dirs, w->cfg.n_model_dirs, base_id, &base)) {
        snprintf(msg, sizeof msg, "The job failed because the base model '%s' is no longer available.", base_id);
        return fail_job(s, job, "running", "model_not_found", "model", msg);
    }
    if (job_files_present(s, job, &failed)) return failed;
    long lost = 0;
    rc.first_step = resume_point(w, s, job, rc.run_dir, resume, sizeof resume, &lost);
    if (rc.first_step < 0) {
        snprintf(msg, sizeof msg,
                 "The job failed because its checkpoint at step %ld is no longer on the server's disk (its directory "
                 "jobs/%s was removed): it cannot resume. Create the job again.",
                 lost, job->id);
        return fail_job(s, job, "running", "server_error", NULL, msg);
    }
    /* a continued job starts from its parent's adapter; once it has a checkpoint of its own, that
     * holds the same adapter shape (and the parent may be gone by then) */
    char parent_dir[4096] = "";
    bool dpo = strcmp(job->method, "dpo") == 0;
    /* DPO's reference is the parent's adapter as it was, also when resuming from a checkpoint */
    if (job->parent_model[0] && (!resume[0] || dpo) && parent_adapter(w, s, job, parent_dir, sizeof parent_dir, &failed))
        return failed;
    const FtModel *m;
    if (model_cache_get(w->cfg.cache, base.base_path, &m, &err)) {
        snprintf(msg, sizeof msg, "The job failed because the base model could not be loaded: %s", err.msg);
        return fail_job(s, job, "running", "server_error", "model", msg);
    }
    store_file_path(s, job->training_file, train_path, sizeof train_path);
    if (job->validation_file[0]) store_file_path(s, job->validation_file, valid_path, sizeof valid_path);
    FtTrainParams p;
    ft_train_params_default(&p);
    p.train_path = train_path;
    p.valid_path = job->validation_file[0] ? valid_path : NULL;
    p.n_epochs = job->n_epochs;
    p.batch_size = job->batch_size;
    p.lr_multiplier = job->lr_multiplier;
    p.method = job->method;
    p.beta = dpo ? job->beta : NULL;
    p.reference_adapter = dpo && parent_dir[0] ? parent_dir : NULL;
    p.seed = (uint64_t)job->seed;
    p.n_threads = w->cfg.threads;
    p.out_dir = rc.run_dir;
    p.resume_dir = resume[0] ? resume : NULL;
    p.base_model = base_id;
    p.init_adapter = !job->parent_model[0] ? NULL : resume[0] ? resume : parent_dir;
    p.stop = &w->stop;
    p.on_ready = on_train_ready;
    p.on_step = on_train_step;
    p.user = &rc;
    FtTrainResult res;
    FtError fe = {0};
    int trc = ft_train(m, &p, &res, &fe);
    if (rc.shared_cores && w->cfg.inference) inference_set_threads(w->cfg.inference, 0);
    if (rc.shared_cores && w->cfg.embedder) embedder_set_threads(w->cfg.embedder, 0);
    if (rc.write_failed) {
        failed = fail_job(s, job, "running", "server_error", NULL, rc.write_msg);
    } else if (trc) {
        if (res.stage >= FT_TRAIN_PREPARE) job_set_hyperparams(job, &res);
        snprintf(msg, sizeof msg, "%s%s", TRAIN_FAILURES[res.stage].prefix, fe.msg);
        failed = fail_job(s, job, "running", TRAIN_FAILURES[res.stage].code, TRAIN_FAILURES[res.stage].param, msg);
    } else if (rc.taken_over) {
        fprintf(stderr, "ftune: job %s: taken over by another worker after this one's lease ran out; stopped here\n",
                job->id);
    } else if (res.step >= res.total_steps) {
        failed = finish_job(&rc, res.train.tokens * (long long)res.n_epochs);
    } else if (rc.stopped_by_status) {
        JobRecord now;
        if (store_job_get(s, job->id, &now, &err) == 0 && strcmp(now.status, "paused") == 0 &&
            record_stop_checkpoint(&rc, res.step, "paused") == 0)
            add_event(s, NULL, job->id, "info", "message", NULL, "Fine-tuning job paused at step %ld", res.step);
    } else if (res.step > 0) { /* the worker stops: the job stays running, to go on from here */
        record_stop_checkpoint(&rc, res.step, "running");
    } /* else the job's status changed before it started: it stays as it is */
    model_cache_put(w->cfg.cache, m);
    return failed;
}

/* Stops the threads that were started (the validator and trainer as said; the heartbeat always,
 * last, so that it ends the leases after the others' last writes) and frees w. */
static void jobs_stop_threads(JobWorker *w, bool validator, bool trainer) {
    set_stopping(w);
    jobs_notify(w);
    if (validator) pthread_join(w->validator, NULL);
    if (trainer) pthread_join(w->trainer, NULL);
    __atomic_store_n(&w->stop_beat, 1, __ATOMIC_RELEASE);
    pthread_join(w->beat, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

static void *trainer_main(void *arg) {
    JobWorker *w = arg;
    Err err = {0};
    unsigned long seen = 0;
    Store *s = open_store(w, "trainer", &seen);
    if (!s) return NULL;
    JobRecord *job = &w->trainer_job;
    StoreClaim claim;
    bool pending = false; /* *job failed but could not be recorded (a full disk): retried each poll */
    bool said_no_room = false;
    while (!stopping(w)) {
        if (pending) {
            pending = record_failure(s, job, "running", false) != 0;
            if (pending) wait_for_work(w, &seen);
            continue;
        }
        /* a job starts or resumes only with the reserve in place: its failure on a disk it fills
         * must be recordable (store_reserve.c), or it would stay `running` */
        bool room = store_reserve_ensure(w->data_dir, &err) == 0;
        if (!room && !said_no_room) log_err("not taking jobs until there is room for the reserve", &err);
        said_no_room = !room;
        int rc = registered(w) && room
                     ? store_job_claim(s, STORE_CLAIM_TRAIN, w->id, clock_wall_ms(), w->lease_ms, job, &claim, &err)
                     : STORE_NOT_FOUND;
        if (rc == 0) {
            pending = train_job(w, s, job, &claim) != 0;
            continue;
        }
        if (rc < 0) log_err("trainer", &err);
        wait_for_work(w, &seen);
    }
    store_close(s);
    return NULL;
}

static bool beat_stopping(const JobWorker *w) { return __atomic_load_n(&w->stop_beat, __ATOMIC_ACQUIRE) != 0; }

/* Registers the worker (store_worker_register): 0 when done, STORE_CONFLICT while a live worker
 * holds the id, -1 when it could not be written (a full disk). */
static int register_worker(JobWorker *w, Store *s, Err *err) {
    int rc = store_worker_register(s, w->id, w->host, (long)getpid(), clock_wall_ms(), w->lease_ms, err);
    if (rc == 0) __atomic_store_n(&w->registered, 1, __ATOMIC_RELEASE);
    return rc;
}

/* The heartbeat: renews the worker's leases every third of the lease, and between beats waits on
 * the store's jobs channel (in slices of JOBS_BEAT_SLICE_MS, so that a stop is prompt), waking the
 * other threads when work arrives. It ends the worker's leases when it stops, after the others. */
#define JOBS_BEAT_SLICE_MS 200
static void *beat_main(void *arg) {
    JobWorker *w = arg;
    Store *s = w->beat_store;
    Err err = {0};
    if (store_jobs_listen(s, &err)) log_err("cannot listen for new jobs (polling instead)", &err);
    long long every = w->lease_ms / 3, next = clock_wall_ms() + every;
    while (!beat_stopping(w)) {
        long long left = next - clock_wall_ms();
        int rc = store_jobs_wait(s, left <= 0 ? 0 : left < JOBS_BEAT_SLICE_MS ? (int)left : JOBS_BEAT_SLICE_MS, &err);
        if (rc > 0) jobs_notify(w);
        if (rc < 0) { /* the database is unreachable: the leases run out unless it comes back */
            log_err("heartbeat", &err);
            clock_sleep_s(JOBS_BEAT_SLICE_MS / 1000.0);
        }
        if (clock_wall_ms() < next) continue;
        if (!registered(w)) {
            if (register_worker(w, s, &err) == 0) jobs_notify(w);
            else log_err("cannot register the worker (trying again)", &err);
        } else if (store_worker_heartbeat(s, w->id, clock_wall_ms(), w->lease_ms, NULL, &err)) {
            log_err("heartbeat", &err);
        }
        next = clock_wall_ms() + every;
    }
    if (registered(w) && store_worker_stop(s, w->id, clock_wall_ms(), &err)) log_err("cannot end the worker's leases", &err);
    store_close(s);
    return NULL;
}

void jobs_node_id(const char *given, char *out, size_t size) {
    char host[256] = "localhost";
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = 0;
    if (snprintf(out, size, "%s", given && given[0] ? given : host) >= (int)size && size)
        out[size - 1] = 0; /* a host name past size: its start */
}

int jobs_start(const JobsConfig *cfg, JobWorker **out, Err *err) {
    JobWorker *w = fault_calloc(1, sizeof *w);
    if (!w) return err_set(err, ERR_NOMEM, "out of memory");
    w->cfg = *cfg;
    snprintf(w->data_dir, sizeof w->data_dir, "%s", cfg->data_dir);
    w->cfg.data_dir = w->data_dir;
    snprintf(w->database, sizeof w->database, "%s", cfg->database ? cfg->database : "");
    w->cfg.database = w->database;
    jobs_node_id(cfg->node_id, w->id, sizeof w->id);
    jobs_node_id(NULL, w->host, sizeof w->host);
    w->cfg.node_id = w->id;
    w->lease_ms = 1000LL * (cfg->lease_s > 0 ? cfg->lease_s : JOBS_LEASE_DEFAULT_S);
    char jobs_dir[2100];
    snprintf(jobs_dir, sizeof jobs_dir, "%s/jobs", w->data_dir);
    if (mkdir(jobs_dir, 0700) != 0 && errno != EEXIST) {
        free(w);
        return err_set(err, ERR_IO, "%s: cannot create: %s", jobs_dir, strerror(errno));
    }
    /* a live worker with the same id refuses the start; a registration that cannot be written (a
     * server restarting on a full disk) is tried again by the heartbeat thread */
    int reg = store_open(w->data_dir, w->database[0] ? w->database : NULL, &w->beat_store, err);
    if (reg == 0) reg = register_worker(w, w->beat_store, err);
    if (reg == STORE_CONFLICT || !w->beat_store) {
        store_close(w->beat_store);
        free(w);
        return -1;
    }
    if (reg) fprintf(stderr, "ftune: cannot register worker %s yet (trying again): %s\n", w->id, err->msg);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->wake, NULL);
    if (pthread_create(&w->beat, NULL, beat_main, w) != 0) {
        store_close(w->beat_store);
        free(w);
        return err_set(err, ERR_IO, "cannot start the heartbeat thread");
    }
    if (pthread_create(&w->validator, NULL, validator_main, w) != 0) {
        jobs_stop_threads(w, false, false);
        return err_set(err, ERR_IO, "cannot start the job validator thread");
    }
    if (pthread_create(&w->trainer, NULL, trainer_main, w) != 0) {
        jobs_stop_threads(w, true, false);
        return err_set(err, ERR_IO, "cannot start the trainer thread");
    }
    *out = w;
    return 0;
}

const char *jobs_worker_id(const JobWorker *w) { return w->id; }

void jobs_stop(JobWorker *w) {
    if (w) jobs_stop_threads(w, true, true);
}
