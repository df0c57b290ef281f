/* store_thread.h: a thread with its own store connection that runs the database writes of threads
 * that must not wait on the database: the inference thread hands it a finished response to store
 * (synchronous=FULL commits take milliseconds, during which every live sequence would stall), and
 * the task sends the response's answer once it is stored, so that a client that has the answer
 * finds it with GET. Tasks run one at a time, in the order they were submitted. */
#ifndef FTUNE_STORE_THREAD_H
#define FTUNE_STORE_THREAD_H

#include "../store/store.h"

typedef struct StoreThread StoreThread;

/* A task: s is the thread's connection (NULL when it could not be opened: the task must still
 * answer and free arg). */
typedef void (*StoreTaskFn)(Store *s, void *arg);

/* Opens a connection on data_dir's store (database: see store_open) and starts the thread. */
int store_thread_start(const char *data_dir, const char *database, StoreThread **out, Err *err);
/* Queues fn(store, arg). After store_thread_stop has begun, fn runs in the caller at once. */
void store_thread_submit(StoreThread *t, StoreTaskFn fn, void *arg);
/* Runs the queued tasks, stops the thread and closes its connection (NULL is a no-op). */
void store_thread_stop(StoreThread *t);

#endif
