/* store_thread.c: the queue and the thread of store_thread.h. */
#include "store_thread.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct Task {
    StoreTaskFn fn;
    void *arg;
    struct Task *next;
} Task;

struct StoreThread {
    Store *store;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    Task *head, *tail;
    bool stopping, stopped; /* stopped: the thread has exited; submit runs tasks itself (under mu) */
};

static void *store_thread_main(void *arg) {
    StoreThread *t = arg;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (!t->head && !t->stopping) pthread_cond_wait(&t->wake, &t->mu);
        Task *task = t->head;
        if (!task) break; /* stopping, nothing left */
        t->head = task->next;
        if (!t->head) t->tail = NULL;
        pthread_mutex_unlock(&t->mu);
        task->fn(t->store, task->arg);
        free(task);
        pthread_mutex_lock(&t->mu);
    }
    t->stopped = true;
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

int store_thread_start(const char *data_dir, const char *database, StoreThread **out, Err *err) {
    StoreThread *t = calloc(1, sizeof *t);
    if (!t) return err_set(err, ERR_NOMEM, "out of memory");
    if (store_open(data_dir, database, &t->store, err)) {
        free(t);
        return -1;
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->wake, NULL);
    if (pthread_create(&t->thread, NULL, store_thread_main, t) != 0) {
        store_close(t->store);
        free(t);
        return err_set(err, ERR_IO, "cannot start the store thread");
    }
    *out = t;
    return 0;
}

void store_thread_submit(StoreThread *t, StoreTaskFn fn, void *arg) {
    Task *task = malloc(sizeof *task);
    pthread_mutex_lock(&t->mu);
    if (t->stopped || !task) { /* no thread to run it (or no memory to queue it): run it here */
        fn(t->stopped ? t->store : NULL, arg);
        pthread_mutex_unlock(&t->mu);
        free(task);
        return;
    }
    *task = (Task){fn, arg, NULL};
    if (t->tail) t->tail->next = task;
    else t->head = task;
    t->tail = task;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->mu);
}

void store_thread_stop(StoreThread *t) {
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    t->stopping = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    store_close(t->store);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
