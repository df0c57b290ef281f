/* test_store_thread.c: the store thread (src/serve/store_thread.c): tasks submitted from several
 * threads each run once, on the thread's own connection, in the order each submitter queued them;
 * stopping runs what is still queued; the writes are visible to another connection afterwards. */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "serve/store_thread.h"
#include "test.h"
#include "test_database.h"

#define SUBMITTERS 4
#define PER_SUBMITTER 50

typedef struct {
    pthread_mutex_t mu;
    int order[SUBMITTERS][PER_SUBMITTER]; /* the position at which each task ran */
    int ran;
    int null_store;
} Log;

typedef struct {
    Log *log;
    int who, k;
} Task;

static void task_fn(Store *s, void *arg) {
    Task *t = arg;
    if (!s) t->log->null_store++;
    ResponseRecord r = {.created_at = 1, .body = "{}", .input = "[]"};
    snprintf(r.id, sizeof r.id, "resp_%d_%d", t->who, t->k);
    snprintf(r.project, sizeof r.project, "proj_t");
    snprintf(r.status, sizeof r.status, "completed");
    Err err = {0};
    if (s && store_response_create(s, &r, &err)) test_fail(__FILE__, __LINE__, "insert: %s", err.msg);
    pthread_mutex_lock(&t->log->mu);
    t->log->order[t->who][t->k] = t->log->ran++;
    pthread_mutex_unlock(&t->log->mu);
    free(t);
}

typedef struct {
    StoreThread *st;
    Log *log;
    int who;
} Submitter;

static void *submit_all(void *arg) {
    Submitter *sub = arg;
    for (int k = 0; k < PER_SUBMITTER; k++) {
        Task *t = malloc(sizeof *t);
        *t = (Task){sub->log, sub->who, k};
        store_thread_submit(sub->st, task_fn, t);
    }
    return NULL;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

TEST(store_thread_runs_tasks_in_order) {
    char dir[] = "/tmp/ftune_test_store_thread_XXXXXX";
    REQUIRE(mkdtemp(dir));
    StoreThread *st = NULL;
    Err err = {0};
    REQUIRE(store_thread_start(dir, test_database(dir), &st, &err) == 0);
    Log log = {.mu = PTHREAD_MUTEX_INITIALIZER};
    pthread_t th[SUBMITTERS];
    Submitter subs[SUBMITTERS];
    for (int i = 0; i < SUBMITTERS; i++) {
        subs[i] = (Submitter){st, &log, i};
        pthread_create(&th[i], NULL, submit_all, &subs[i]);
    }
    for (int i = 0; i < SUBMITTERS; i++) pthread_join(th[i], NULL);
    store_thread_stop(st); /* runs whatever is still queued */
    CHECK_EQ_INT(log.ran, SUBMITTERS * PER_SUBMITTER);
    CHECK_EQ_INT(log.null_store, 0);
    for (int i = 0; i < SUBMITTERS; i++)
        for (int k = 1; k < PER_SUBMITTER; k++) CHECK(log.order[i][k] > log.order[i][k - 1]);
    Store *s;
    REQUIRE(store_open(dir, test_database(dir), &s, &err) == 0);
    for (int i = 0; i < SUBMITTERS; i++)
        for (int k = 0; k < PER_SUBMITTER; k += 7) {
            char id[64];
            snprintf(id, sizeof id, "resp_%d_%d", i, k);
            ResponseRecord r;
            CHECK(store_response_get(s, id, &r, &err) == 0);
            store_response_clear(&r);
        }
    store_close(s);
    store_thread_stop(NULL);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TEST(store_thread_start_fails_on_a_bad_directory) {
    StoreThread *st = NULL;
    Err err = {0};
    CHECK(store_thread_start("/proc/ftune-no-such-dir/x", test_database("/proc/ftune-no-such-dir/x"), &st, &err) == -1 && err.msg[0]);
}
