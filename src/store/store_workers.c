/* store_workers.c: workers and their leases (see store.h): the workers table (one row per worker
 * id: where it runs, its heartbeat, whether it stopped), the heartbeat that renews a worker's job
 * leases, the claim of the next job, and the jobs channel's LISTEN/NOTIFY. A claim is one
 * transaction: the candidate row is read with FOR UPDATE SKIP LOCKED on PostgreSQL (a row another
 * claim holds is passed over, never waited for) and under SQLite's write lock (BEGIN IMMEDIATE)
 * otherwise, then written, so that no job is ever claimed twice. Schema version 8. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

static const char WORKERS_SQL[] =
    "CREATE TABLE IF NOT EXISTS workers ("
    " id TEXT PRIMARY KEY,"
    " host TEXT NOT NULL,"
    " pid INTEGER NOT NULL,"
    " started_at INTEGER NOT NULL,"
    " heartbeat_at INTEGER NOT NULL,"
    " stopped_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS jobs_worker ON jobs(worker);"
    "CREATE INDEX IF NOT EXISTS jobs_status_seq ON jobs(status, seq);"; /* the claims' oldest-first scans */

int store_workers_schema(Store *s, Err *err) {
    static const struct {
        const char *table, *name, *type;
    } cols[] = {{"jobs", "worker", "TEXT"},           {"jobs", "resume_dir", "TEXT"},
                {"jobs", "lease_expires_at", "INTEGER"}, {"eval_runs", "worker", "TEXT"},
                {"eval_runs", "lease_expires_at", "INTEGER"}};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        if (store_add_column(s, cols[i].table, cols[i].name, cols[i].type, "add a lease column", err)) return -1;
    return store_exec(s, WORKERS_SQL, "create the workers table", err);
}

typedef struct {
    char host[256];
    long long pid, heartbeat_at, stopped_at;
} WorkerRow;

static void read_worker(DbStmt *st, void *rec) {
    WorkerRow *w = rec;
    store_col_text(st, 0, w->host, sizeof w->host);
    w->pid = store_col_int(st, 1, 0);
    w->heartbeat_at = store_col_int(st, 2, 0);
    w->stopped_at = store_col_int(st, 3, 0);
}

/* Whether process pid of this host is gone (a worker id's previous process that died). */
static bool process_gone(long long pid) { return pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH); }

int store_worker_register(Store *s, const char *id, const char *host, long pid, long long now_ms, long long lease_ms,
                          Err *err) {
    if (db_begin(s->db)) return store_sql_error(s, "begin worker registration", err);
    DbStmt *st;
    WorkerRow w;
    int rc = store_prepare(s, "SELECT host, pid, heartbeat_at, stopped_at FROM workers WHERE id = ?1", &st,
                           "read worker", err);
    if (rc == 0) {
        store_bind_text(st, 1, id);
        rc = store_get_one(s, st, read_worker, &w, "read worker", err);
    }
    if (rc == 0 && !w.stopped_at && w.heartbeat_at + lease_ms > now_ms &&
        !(strcmp(w.host, host) == 0 && (w.pid == pid || process_gone(w.pid)))) {
        err_set(err, ERR_ARG,
                "worker id \"%s\" is in use: the worker with pid %lld on host %s renewed its lease %.1f s ago; give each "
                "worker its own --node-id (or wait %.1f s if that worker is gone)",
                id, w.pid, w.host, (now_ms - w.heartbeat_at) / 1000.0, (w.heartbeat_at + lease_ms - now_ms) / 1000.0);
        db_rollback(s->db);
        return STORE_CONFLICT;
    }
    if (rc == 0 || rc == STORE_NOT_FOUND) {
        rc = store_prepare(s,
                           rc == 0 ? "UPDATE workers SET host = ?2, pid = ?3, started_at = ?4, heartbeat_at = ?4, "
                                     "stopped_at = NULL WHERE id = ?1"
                                   : "INSERT INTO workers (id, host, pid, started_at, heartbeat_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                           &st, "register worker", err);
        if (rc == 0) {
            store_bind_text(st, 1, id);
            store_bind_text(st, 2, host);
            db_bind_int64(st, 3, pid);
            db_bind_int64(st, 4, now_ms);
            rc = store_run(s, st, "register worker", err);
        }
    }
    if (rc == 0 && db_commit(s->db)) rc = store_sql_error(s, "commit worker registration", err);
    if (rc) db_rollback(s->db);
    return rc;
}

/* Runs `sql` with ?1 = id and, when with_time, ?2 = t; *changed (may be NULL) receives the rows
 * changed. */
static int run_worker_sql(Store *s, const char *sql, const char *id, bool with_time, long long t, long long *changed,
                          const char *what, Err *err) {
    DbStmt *st;
    if (store_prepare(s, sql, &st, what, err)) return -1;
    store_bind_text(st, 1, id);
    if (with_time) db_bind_int64(st, 2, t);
    int rc = store_run(s, st, what, err);
    if (rc == 0 && changed) *changed = db_changes(s->db);
    return rc;
}

int store_worker_heartbeat(Store *s, const char *id, long long now_ms, long long lease_ms, int *n_jobs, Err *err) {
    long long n = 0;
    if (run_worker_sql(s, "UPDATE workers SET heartbeat_at = ?2 WHERE id = ?1", id, true, now_ms, NULL, "heartbeat", err) ||
        run_worker_sql(s,
                       "UPDATE jobs SET lease_expires_at = ?2 WHERE worker = ?1 AND status IN ('validating_files', "
                       "'running')",
                       id, true, now_ms + lease_ms, &n, "renew job leases", err))
        return -1;
    if (n_jobs) *n_jobs = (int)n;
    return 0;
}

int store_worker_stop(Store *s, const char *id, long long now_ms, Err *err) {
    if (run_worker_sql(s,
                       "UPDATE jobs SET lease_expires_at = NULL WHERE worker = ?1 AND status IN ('validating_files', "
                       "'running')",
                       id, false, 0, NULL, "end job leases", err) ||
        run_worker_sql(s, "UPDATE workers SET stopped_at = ?2 WHERE id = ?1", id, true, now_ms, NULL, "stop worker", err))
        return -1;
    db_notify(s->db, STORE_JOBS_CHANNEL); /* its running jobs can be taken now */
    return 0;
}

/* The candidates of a claim, oldest first (each an index scan of jobs_status_seq): a job in
 * progress whose lease lapsed (or is the worker's own, ?1; ?2 = now), and a queued one. */
static const char CLAIM_LAPSED_SQL[] =
    "SELECT id, worker, status FROM jobs WHERE status = ?3 AND (lease_expires_at IS NULL OR lease_expires_at < ?2 "
    "OR worker = ?1) ORDER BY seq LIMIT 1";
static const char CLAIM_QUEUED_SQL[] = "SELECT id, worker, status FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1";

typedef struct {
    char id[STORE_ID_MAX];
    char worker[STORE_WORKER_MAX];
    char status[STORE_ID_MAX];
} Candidate;

static void read_candidate(DbStmt *st, void *rec) {
    Candidate *c = rec;
    store_col_text(st, 0, c->id, sizeof c->id);
    store_col_text(st, 1, c->worker, sizeof c->worker);
    store_col_text(st, 2, c->status, sizeof c->status);
}

/* The first row of a candidate query (lapsed: CLAIM_LAPSED_SQL for jobs in status, else
 * CLAIM_QUEUED_SQL), rows other claims hold passed over on PostgreSQL. 0, STORE_NOT_FOUND or -1. */
static int find_candidate(Store *s, const char *status, const char *id, long long now_ms, Candidate *c, Err *err) {
    char sql[512];
    snprintf(sql, sizeof sql, "%s%s", status ? CLAIM_LAPSED_SQL : CLAIM_QUEUED_SQL,
             db_kind(s->db) == DB_POSTGRES ? " FOR UPDATE SKIP LOCKED" : "");
    DbStmt *st;
    if (store_prepare(s, sql, &st, "find a job to claim", err)) return -1;
    if (status) {
        store_bind_text(st, 1, id);
        db_bind_int64(st, 2, now_ms);
        store_bind_text(st, 3, status);
    }
    return store_get_one(s, st, read_candidate, c, "find a job to claim", err);
}

int store_job_claim(Store *s, StoreClaimKind kind, const char *id, long long now_ms, long long lease_ms,
                    JobRecord *out, StoreClaim *claim, Err *err) {
    if (db_begin(s->db)) return store_sql_error(s, "begin job claim", err);
    DbStmt *st;
    Candidate c;
    int rc = find_candidate(s, kind == STORE_CLAIM_VALIDATE ? "validating_files" : "running", id, now_ms, &c, err);
    if (rc == STORE_NOT_FOUND && kind == STORE_CLAIM_TRAIN) rc = find_candidate(s, NULL, id, now_ms, &c, err);
    if (rc == 0)
        rc = store_prepare(s,
                           "UPDATE jobs SET worker = ?1, lease_expires_at = ?2, status = CASE WHEN status = 'queued' "
                           "THEN 'running' ELSE status END WHERE id = ?3",
                           &st, "claim job", err);
    if (rc == 0) {
        store_bind_text(st, 1, id);
        db_bind_int64(st, 2, now_ms + lease_ms);
        store_bind_text(st, 3, c.id);
        rc = store_run_one(s, st, "claim job", err);
    }
    if (rc == 0) rc = store_job_get(s, c.id, out, err);
    if (rc == 0 && db_commit(s->db)) rc = store_sql_error(s, "commit job claim", err);
    if (rc) {
        db_rollback(s->db);
        return rc;
    }
    if (claim) {
        claim->in_progress = strcmp(c.status, "queued") != 0;
        snprintf(claim->prev_worker, sizeof claim->prev_worker, "%s", claim->in_progress ? c.worker : "");
    }
    return 0;
}

int store_jobs_listen(Store *s, Err *err) {
    return db_listen(s->db, STORE_JOBS_CHANNEL) ? store_sql_error(s, "listen for jobs", err) : 0;
}

int store_jobs_wait(Store *s, int timeout_ms, Err *err) {
    int rc = db_wait_notification(s->db, timeout_ms);
    return rc < 0 ? store_sql_error(s, "wait for jobs", err) : rc;
}
