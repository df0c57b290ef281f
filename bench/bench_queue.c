/* bench_queue.c: the job queue under many workers: N trivial queued jobs, then W threads, each a
 * worker with a connection of its own, claiming jobs (store_job_claim: FOR UPDATE SKIP LOCKED on
 * PostgreSQL, a write transaction on SQLite) and marking each succeeded, until none is left.
 * Prints claims per second and the claim latency's median and 99th percentile, and checks that
 * every job was claimed exactly once (exit 1 otherwise). On SQLite (no URI) the data directory is
 * fresh under /tmp; on PostgreSQL use an empty database (bench/queue.sh makes a throwaway cluster).
 *
 *   make build/bench_queue && ./build/bench_queue 10000 8
 *   ./build/bench_queue 10000 8 'postgresql:///bench?host=/tmp/DIR&user=postgres'
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/fileio.h"
#include "store/store.h"

typedef struct {
    const char *dir, *database;
    int index, n_jobs;
    int *claims;      /* per job index: how many times this worker claimed it */
    double *latency;  /* seconds of each of its claims */
    int n, failures;
} Worker;

static void *work(void *arg) {
    Worker *w = arg;
    Store *s = NULL;
    Err err = {0};
    char name[32];
    snprintf(name, sizeof name, "bench-%d", w->index);
    if (store_open(w->dir, w->database, &s, &err)) {
        fprintf(stderr, "worker %d: %s\n", w->index, err.msg);
        w->failures++;
        return NULL;
    }
    JobRecord job;
    for (;;) {
        double t0 = clock_now_s();
        int rc = store_job_claim(s, STORE_CLAIM_TRAIN, name, (long long)time(NULL) * 1000, 60000, &job, NULL, &err);
        if (rc == STORE_NOT_FOUND) break;
        if (rc) {
            fprintf(stderr, "worker %d: %s\n", w->index, err.msg);
            w->failures++;
            break;
        }
        w->latency[w->n++] = clock_now_s() - t0;
        int i = atoi(job.id + strlen("ftjob-bench-"));
        if (i >= 0 && i < w->n_jobs) w->claims[i]++;
        snprintf(job.status, sizeof job.status, "succeeded");
        if (store_job_update_if(s, &job, "running", &err)) w->failures++;
    }
    store_close(s);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int n_jobs = argc > 1 ? atoi(argv[1]) : 10000, n_workers = argc > 2 ? atoi(argv[2]) : 8;
    const char *database = argc > 3 ? argv[3] : NULL;
    if (n_jobs < 1 || n_workers < 1 || n_workers > 256) {
        fprintf(stderr, "usage: bench_queue [N_JOBS] [WORKERS] [postgresql://...]\n");
        return 2;
    }
    char dir[] = "/tmp/ftune_bench_queue_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    Store *s = NULL;
    Err err = {0};
    if (store_open(dir, database, &s, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t0 = clock_now_s();
    for (int i = 0; i < n_jobs; i++) {
        JobRecord j;
        memset(&j, 0, sizeof j);
        snprintf(j.id, sizeof j.id, "ftjob-bench-%d", i);
        snprintf(j.project, sizeof j.project, "%s", STORE_DEFAULT_PROJECT);
        j.created_at = (long long)time(NULL);
        snprintf(j.model, sizeof j.model, "bench");
        snprintf(j.training_file, sizeof j.training_file, "file-bench");
        snprintf(j.status, sizeof j.status, "queued");
        j.trained_tokens = -1;
        if (store_job_create(s, &j, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    }
    double t_fill = clock_now_s() - t0;
    Worker *w = calloc((size_t)n_workers, sizeof *w);
    pthread_t *t = calloc((size_t)n_workers, sizeof *t);
    for (int i = 0; i < n_workers; i++) {
        w[i] = (Worker){dir, database, i, n_jobs, calloc((size_t)n_jobs, sizeof(int)),
                        calloc((size_t)n_jobs, sizeof(double)), 0, 0};
    }
    t0 = clock_now_s();
    for (int i = 0; i < n_workers; i++) pthread_create(&t[i], NULL, work, &w[i]);
    for (int i = 0; i < n_workers; i++) pthread_join(t[i], NULL);
    double elapsed = clock_now_s() - t0;
    int total = 0, failures = 0, twice = 0, never = 0;
    double *lat = calloc((size_t)n_jobs, sizeof *lat);
    for (int i = 0; i < n_workers; i++) {
        failures += w[i].failures;
        for (int k = 0; k < w[i].n && total < n_jobs; k++) lat[total++] = w[i].latency[k];
    }
    for (int j = 0; j < n_jobs; j++) {
        int c = 0;
        for (int i = 0; i < n_workers; i++) c += w[i].claims[j];
        twice += c > 1;
        never += c == 0;
    }
    qsort(lat, (size_t)total, sizeof *lat, cmp_double);
    printf("%s, %d jobs (queued in %.2f s), %d workers: %d claims in %.2f s = %.0f claims/s (claim + finish); "
           "claim latency p50 %.2f ms, p99 %.2f ms; claimed twice: %d, never: %d, failures: %d; per worker:",
           database ? "PostgreSQL" : "SQLite", n_jobs, t_fill, n_workers, total, elapsed, total / elapsed,
           total ? lat[total / 2] * 1e3 : 0, total ? lat[(int)(total * 0.99)] * 1e3 : 0, twice, never, failures);
    for (int i = 0; i < n_workers; i++) printf(" %d", w[i].n);
    printf("\n");
    store_close(s);
    file_remove_tree(dir, NULL);
    return twice || never || failures ? 1 : 0;
}
