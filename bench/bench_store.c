/* bench_store.c: store operations per second on SQLite (a fresh data directory under /tmp) or on
 * PostgreSQL (a URI as the second argument; use an empty database or schema: the jobs' ids are
 * random, so a rerun adds rows): N job creates, 3 N event adds, N job gets, a walk of every job in
 * pages of 100, N status transitions, N file uploads (1 KB blobs) and N file gets. Each commit is
 * durable (SQLite synchronous=FULL; PostgreSQL's own settings).
 *
 *   make build/bench_store && ./build/bench_store 2000
 *   ./build/bench_store 2000 'postgresql:///bench?host=/tmp/DIR&user=postgres'
 *
 * To compare the SQLite path with a build before the database layer, copy this file into that
 * tree and call store_open there without the database argument (FTUNE_BENCH_OLD_STORE_OPEN=1 in
 * CFLAGS: -DFTUNE_BENCH_OLD_STORE_OPEN). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/fileio.h"
#include "store/store.h"

static void report(const char *what, int n, double t0) {
    double dt = clock_now_s() - t0;
    printf("%-22s %7d ops %8.3f s %10.0f ops/s\n", what, n, dt, n / dt);
}

#define FAIL(what)                                                   \
    do {                                                             \
        fprintf(stderr, "bench_store: %s: %s\n", what, err.msg);    \
        return 1;                                                    \
    } while (0)

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    const char *database = argc > 2 ? argv[2] : NULL;
    if (n < 1) n = 1;
    char dir[] = "/tmp/ftune_bench_store_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    Store *s;
    Err err = {0};
#ifdef FTUNE_BENCH_OLD_STORE_OPEN
    (void)database;
    if (store_open(dir, &s, &err)) FAIL("open");
#else
    if (store_open(dir, database, &s, &err)) FAIL("open");
#endif
    printf("%s, %d jobs\n", database ? "PostgreSQL" : "SQLite", n);
    char (*ids)[STORE_ID_MAX] = calloc((size_t)n, STORE_ID_MAX);
    char (*files)[STORE_ID_MAX] = calloc((size_t)n, STORE_ID_MAX);
    JobRecord *j = calloc(1, sizeof *j);
    if (!ids || !files || !j) return 1;
    double t0 = clock_now_s();
    for (int i = 0; i < n; i++) {
        memset(j, 0, sizeof *j);
        store_new_id("ftjob-", j->id, sizeof j->id);
        snprintf(j->project, sizeof j->project, STORE_DEFAULT_PROJECT);
        j->created_at = 1700000000 + i;
        snprintf(j->model, sizeof j->model, "tiny-qwen2");
        snprintf(j->training_file, sizeof j->training_file, "file-x");
        snprintf(j->status, sizeof j->status, "queued");
        snprintf(j->metadata, sizeof j->metadata, "{\"n\":\"%d\"}", i % 10);
        j->trained_tokens = -1;
        if (store_job_create(s, j, &err)) FAIL("create job");
        memcpy(ids[i], j->id, STORE_ID_MAX);
    }
    report("job create", n, t0);
    t0 = clock_now_s();
    for (int i = 0; i < 3 * n; i++)
        if (store_event_add(s, ids[i % n], "info", "message", "Step 1/10: training loss=1.0", NULL, NULL, &err))
            FAIL("add event");
    report("event add", 3 * n, t0);
    t0 = clock_now_s();
    for (int i = 0; i < n; i++)
        if (store_job_get(s, ids[i], j, &err)) FAIL("get job");
    report("job get", n, t0);
    t0 = clock_now_s();
    int seen = 0;
    char after[STORE_ID_MAX] = "";
    for (;;) {
        JobRecord *page;
        int got;
        bool more;
        if (store_job_list(s, NULL, after[0] ? after : NULL, 100, NULL, NULL, 0, false, &page, &got, &more, &err))
            FAIL("list jobs");
        seen += got;
        if (got) memcpy(after, page[got - 1].id, STORE_ID_MAX);
        free(page);
        if (!more) break;
    }
    report("job list (100 a page)", seen, t0);
    t0 = clock_now_s();
    const char *from[] = {"queued"};
    for (int i = 0; i < n; i++)
        if (store_job_transition(s, ids[i], from, 1, "running", NULL, &err)) FAIL("move job");
    report("job transition", n, t0);
    char blob[1024];
    memset(blob, 'x', sizeof blob);
    t0 = clock_now_s();
    for (int i = 0; i < n; i++) {
        FileRecord f;
        if (store_file_create(s, STORE_DEFAULT_PROJECT, "a.jsonl", "fine-tune", blob, sizeof blob, &f, &err))
            FAIL("create file");
        memcpy(files[i], f.id, STORE_ID_MAX);
    }
    report("file create (1 KB)", n, t0);
    t0 = clock_now_s();
    for (int i = 0; i < n; i++) {
        FileRecord f;
        if (store_file_get(s, files[i], &f, &err)) FAIL("get file");
    }
    report("file get", n, t0);
    store_close(s);
    free(ids);
    free(files);
    free(j);
    file_remove_tree(dir, NULL);
    return 0;
}
