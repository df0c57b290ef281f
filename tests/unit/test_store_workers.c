/* test_store_workers.c: workers and leases in the store (store_workers.c), on SQLite and, through
 * tests/cli/store_postgres.sh, on PostgreSQL: the claim order (a running job cut off by its
 * worker first, then the oldest queued one), leases (a live lease is never taken, an expired one
 * is, a worker takes its own back at once), the heartbeat's renewal, a stop that hands the jobs
 * on at once, a worker's write refused once another holds its job, worker ids refused while a
 * live worker holds them, four connections claiming 40 jobs at once with none claimed twice, and
 * the jobs channel (PostgreSQL: a new job, a status change and a stopping worker wake a listener). */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"
#include "test_database.h"

#define T0 1800000000000LL /* a time in ms; the tests pass times in */
#define LEASE 10000LL

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static Store *open_fresh(char *dir) {
    Store *s = NULL;
    Err err = {0};
    if (!mkdtemp(dir)) return NULL;
    if (store_open(dir, test_database(dir), &s, &err)) test_fail(__FILE__, __LINE__, "store_open: %s", err.msg);
    return s;
}

static void close_and_remove(Store *s, const char *dir) {
    store_close(s);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void add_job(Store *s, const char *id, const char *status) {
    JobRecord j;
    memset(&j, 0, sizeof j);
    snprintf(j.id, sizeof j.id, "%s", id);
    snprintf(j.project, sizeof j.project, "%s", STORE_DEFAULT_PROJECT);
    j.created_at = 1700000000;
    snprintf(j.model, sizeof j.model, "tiny");
    snprintf(j.training_file, sizeof j.training_file, "file-train");
    snprintf(j.status, sizeof j.status, "%s", status);
    j.trained_tokens = -1;
    Err err = {0};
    if (store_job_create(s, &j, &err)) test_fail(__FILE__, __LINE__, "store_job_create: %s", err.msg);
}

/* Claims for worker at now: the job's id into got ("" when there was none). */
static int claim(Store *s, StoreClaimKind kind, const char *worker, long long now, char *got, StoreClaim *c) {
    JobRecord j;
    Err err = {0};
    int rc = store_job_claim(s, kind, worker, now, LEASE, &j, c, &err);
    snprintf(got, STORE_ID_MAX, "%s", rc == 0 ? j.id : "");
    if (rc == 0) {
        CHECK(strcmp(j.worker, worker) == 0);
        CHECK(j.lease_expires_at == now + LEASE);
        CHECK(strcmp(j.status, kind == STORE_CLAIM_TRAIN ? "running" : "validating_files") == 0);
    }
    if (rc < 0) test_fail(__FILE__, __LINE__, "store_job_claim: %s", err.msg);
    return rc;
}

TEST(store_workers_claims_and_leases) {
    char dir[] = "/tmp/ftune_test_workers_XXXXXX", got[STORE_ID_MAX];
    Store *s = open_fresh(dir);
    REQUIRE(s);
    StoreClaim c;
    add_job(s, "ftjob-a", "queued");
    add_job(s, "ftjob-v", "validating_files");
    add_job(s, "ftjob-b", "queued");
    /* new claims: the oldest queued job, then the next; the validator's kind takes only validating */
    CHECK(claim(s, STORE_CLAIM_TRAIN, "w1", T0, got, &c) == 0 && strcmp(got, "ftjob-a") == 0);
    CHECK(!c.in_progress && c.prev_worker[0] == 0);
    CHECK(claim(s, STORE_CLAIM_VALIDATE, "w1", T0, got, &c) == 0 && strcmp(got, "ftjob-v") == 0);
    CHECK(claim(s, STORE_CLAIM_VALIDATE, "w2", T0 + 1, got, &c) == STORE_NOT_FOUND); /* w1's lease is live */
    CHECK(claim(s, STORE_CLAIM_TRAIN, "w2", T0 + 1, got, &c) == 0 && strcmp(got, "ftjob-b") == 0);
    /* nothing left for a third worker while both leases are live */
    CHECK(claim(s, STORE_CLAIM_TRAIN, "w3", T0 + 2, got, &c) == STORE_NOT_FOUND);
    /* a worker takes its own running job back at once (a restart), saying it was in progress */
    CHECK(claim(s, STORE_CLAIM_TRAIN, "w1", T0 + 3, got, &c) == 0 && strcmp(got, "ftjob-a") == 0);
    CHECK(c.in_progress && strcmp(c.prev_worker, "w1") == 0);
    /* w2's heartbeat renews its job; w1 beats no more: past w1's lease w3 takes ftjob-a only */
    int n = -1;
    Err err = {0};
    CHECK(store_worker_heartbeat(s, "w2", T0 + 8000, LEASE, &n, &err) == 0 && n == 1);
    CHECK(claim(s, STORE_CLAIM_TRAIN, "w3", T0 + LEASE + 5, got, &c) == 0 && strcmp(got, "ftjob-a") == 0);
    CHECK(c.in_progress && strcmp(c.prev_worker, "w1") == 0);
    CHECK(claim(s, STORE_CLAIM_TRAIN, "w1", T0 + LEASE + 6, got, &c) == STORE_NOT_FOUND);
    /* w1's write of the job it lost is refused; w3's goes through */
    JobRecord j;
    REQUIRE(store_job_get(s, "ftjob-a", &j, &err) == 0);
    CHECK(strcmp(j.worker, "w3") == 0);
    snprintf(j.worker, sizeof j.worker, "w1");
    j.step = 5;
    CHECK(store_job_update_if(s, &j, "running", &err) == STORE_CONFLICT);
    snprintf(j.worker, sizeof j.worker, "w3");
    snprintf(j.resume_dir, sizeof j.resume_dir, "jobs/ftjob-a/checkpoint-5");
    CHECK(store_job_update_if(s, &j, "running", &err) == 0);
    REQUIRE(store_job_get(s, "ftjob-a", &j, &err) == 0);
    CHECK(j.step == 5 && strcmp(j.resume_dir, "jobs/ftjob-a/checkpoint-5") == 0);
    CHECK(j.lease_expires_at == T0 + LEASE + 5 + LEASE); /* a progress write leaves the lease alone */
    /* a stopping worker hands its jobs on at once */
    CHECK(store_worker_stop(s, "w2", T0 + 9000, &err) == 0);
    CHECK(claim(s, STORE_CLAIM_TRAIN, "w4", T0 + 9001, got, &c) == 0 && strcmp(got, "ftjob-b") == 0);
    CHECK(c.in_progress && strcmp(c.prev_worker, "w2") == 0);
    /* paused, cancelled and finished jobs are never claimed */
    static const char *const running[] = {"running"};
    CHECK(store_job_transition(s, "ftjob-a", running, 1, "paused", NULL, &err) == 0);
    CHECK(store_job_transition(s, "ftjob-b", running, 1, "cancelled", NULL, &err) == 0);
    CHECK(claim(s, STORE_CLAIM_TRAIN, "w4", T0 + 10 * LEASE, got, &c) == STORE_NOT_FOUND);
    close_and_remove(s, dir);
}

/* A process id that no longer exists: a child that has been reaped. */
static long dead_pid(void) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
    return (long)p;
}

TEST(store_workers_register_refuses_a_live_id) {
    char dir[] = "/tmp/ftune_test_workers_XXXXXX";
    Store *s = open_fresh(dir);
    REQUIRE(s);
    Err err = {0};
    long me = (long)getpid();
    CHECK(store_worker_register(s, "node-a", "host-1", dead_pid(), T0, LEASE, &err) == 0);
    /* the same id from another host while the lease lasts */
    CHECK(store_worker_register(s, "node-a", "host-2", 4242, T0 + 1000, LEASE, &err) == STORE_CONFLICT);
    CHECK(strstr(err.msg, "node-a") && strstr(err.msg, "--node-id"));
    /* this host's process that died gives its id back at once (a restarted worker) */
    CHECK(store_worker_register(s, "node-a", "host-1", me, T0 + 1500, LEASE, &err) == 0);
    /* but not while that process lives */
    CHECK(store_worker_register(s, "node-a", "host-1", (long)getppid(), T0 + 2000, LEASE, &err) == STORE_CONFLICT);
    /* once its heartbeat is older than the lease, anyone may take the id */
    CHECK(store_worker_register(s, "node-a", "host-2", 4242, T0 + 2000 + LEASE + 1, LEASE, &err) == 0);
    /* a stopped worker's id is free at once */
    CHECK(store_worker_stop(s, "node-a", T0 + 2000 + LEASE + 2, &err) == 0);
    CHECK(store_worker_register(s, "node-a", "host-3", 7, T0 + 2000 + LEASE + 3, LEASE, &err) == 0);
    close_and_remove(s, dir);
}

#define RACE_JOBS 40
#define RACE_WORKERS 4

typedef struct {
    const char *dir;
    int index;
    char claimed[RACE_JOBS][STORE_ID_MAX];
    int n;
    int failures;
} Racer;

/* One worker on its own connection: claims until nothing is left, finishing each job. */
static void *race(void *arg) {
    Racer *r = arg;
    Store *s = NULL;
    Err err = {0};
    char name[16];
    snprintf(name, sizeof name, "racer-%d", r->index);
    if (store_open(r->dir, test_database(r->dir), &s, &err)) {
        r->failures++;
        return NULL;
    }
    for (;;) {
        JobRecord j;
        int rc = store_job_claim(s, STORE_CLAIM_TRAIN, name, T0, LEASE, &j, NULL, &err);
        if (rc == STORE_NOT_FOUND) break;
        if (rc) { /* SQLite: a busy database past the timeout is a failure too */
            r->failures++;
            break;
        }
        snprintf(r->claimed[r->n++], STORE_ID_MAX, "%s", j.id);
        snprintf(j.status, sizeof j.status, "succeeded");
        if (store_job_update_if(s, &j, "running", &err)) r->failures++;
        if (r->n == RACE_JOBS) break;
    }
    store_close(s);
    return NULL;
}

TEST(store_workers_concurrent_claims_take_each_job_once) {
    char dir[] = "/tmp/ftune_test_workers_XXXXXX";
    Store *s = open_fresh(dir);
    REQUIRE(s);
    for (int i = 0; i < RACE_JOBS; i++) {
        char id[32];
        snprintf(id, sizeof id, "ftjob-%02d", i);
        add_job(s, id, "queued");
    }
    static Racer racers[RACE_WORKERS];
    pthread_t t[RACE_WORKERS];
    for (int i = 0; i < RACE_WORKERS; i++) {
        memset(&racers[i], 0, sizeof racers[i]);
        racers[i].dir = dir;
        racers[i].index = i;
        pthread_create(&t[i], NULL, race, &racers[i]);
    }
    int total = 0, seen[RACE_JOBS] = {0};
    for (int i = 0; i < RACE_WORKERS; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ_INT(racers[i].failures, 0);
        total += racers[i].n;
        for (int k = 0; k < racers[i].n; k++) seen[atoi(racers[i].claimed[k] + 6)]++;
    }
    CHECK_EQ_INT(total, RACE_JOBS);
    for (int i = 0; i < RACE_JOBS; i++) CHECK_EQ_INT(seen[i], 1);
    static const char *const st[] = {"succeeded"};
    long long done = 0;
    Err err = {0};
    CHECK(store_job_count_by_status(s, NULL, st, 1, &done, &err) == 0 && done == RACE_JOBS);
    close_and_remove(s, dir);
}

TEST(store_workers_jobs_channel_notifies) {
    char dir[] = "/tmp/ftune_test_workers_XXXXXX";
    Store *s = open_fresh(dir), *other = NULL;
    REQUIRE(s);
    Err err = {0};
    REQUIRE(store_open(dir, test_database(dir), &other, &err) == 0);
    REQUIRE(store_jobs_listen(s, &err) == 0);
    if (!test_on_postgres()) { /* SQLite has no channel: a wait is a sleep, and says nothing came */
        CHECK(store_jobs_wait(s, 10, &err) == 0);
    } else {
        CHECK(store_jobs_wait(s, 50, &err) == 0); /* nothing yet */
        add_job(other, "ftjob-n", "validating_files"); /* another connection's new job wakes the listener */
        CHECK(store_jobs_wait(s, 5000, &err) == 1);
        CHECK(store_jobs_wait(s, 50, &err) == 0); /* consumed */
        static const char *const from[] = {"validating_files"};
        CHECK(store_job_transition(other, "ftjob-n", from, 1, "cancelled", NULL, &err) == 0);
        CHECK(store_jobs_wait(s, 5000, &err) == 1);
        CHECK(store_worker_stop(other, "w1", T0, &err) == 0); /* a stopping worker's released jobs */
        CHECK(store_jobs_wait(s, 5000, &err) == 1);
    }
    store_close(other);
    close_and_remove(s, dir);
}
