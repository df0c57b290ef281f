/* fault.c: the counters behind fault.h. FTUNE_FAULT is parsed once (pthread_once); counting only
 * happens when it names a failure, so a normal run pays one load per site. */
#include "fault.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const KIND_NAMES[FAULT_KINDS] = {"write", "fsync", "rename", "alloc", "sqlalloc"};
#define FAULT_ANY FAULT_KINDS /* the counter of every kind together */

static pthread_once_t parse_once = PTHREAD_ONCE_INIT;
static atomic_bool armed;
static int target_kind;  /* a FaultKind or FAULT_ANY */
static long target_n;    /* the operation to fail, from 1 */
static atomic_long counts[FAULT_KINDS + 1];

/* At a normal exit: how many operations of each kind ran, so that a sweep knows its range. */
static void report_counts(void) {
    fprintf(stderr, "ftune: fault counts:");
    for (int k = 0; k < FAULT_KINDS; k++) fprintf(stderr, " %s=%ld", KIND_NAMES[k], atomic_load(&counts[k]));
    fprintf(stderr, "\n");
}

static void parse_env(void) {
    const char *v = getenv(FAULT_ENV);
    if (!v || !*v) return;
    const char *colon = strchr(v, ':');
    char *end = NULL;
    long n = colon ? strtol(colon + 1, &end, 10) : 0;
    int kind = -1;
    if (colon && (size_t)(colon - v) == 3 && strncmp(v, "any", 3) == 0) kind = FAULT_ANY;
    for (int k = 0; colon && k < FAULT_KINDS; k++)
        if ((size_t)(colon - v) == strlen(KIND_NAMES[k]) && strncmp(v, KIND_NAMES[k], (size_t)(colon - v)) == 0) kind = k;
    if (kind < 0 || n < 1 || !end || *end) {
        fprintf(stderr, "ftune: %s=%s ignored: expected KIND:N, KIND one of write, fsync, rename, alloc, sqlalloc, any and "
                "N >= 1\n",
                FAULT_ENV, v);
        return;
    }
    target_kind = kind;
    target_n = n;
    atomic_store(&armed, true);
    atexit(report_counts);
}

bool fault_armed(void) {
    pthread_once(&parse_once, parse_env);
    return atomic_load_explicit(&armed, memory_order_relaxed);
}

bool fault_fire(FaultKind kind, const char *site) {
    if (!fault_armed()) return false;
    long own = atomic_fetch_add(&counts[kind], 1) + 1;
    long any = atomic_fetch_add(&counts[FAULT_ANY], 1) + 1;
    bool fire = target_kind == FAULT_ANY ? any == target_n : (int)kind == target_kind && own == target_n;
    if (!fire) return false;
    fprintf(stderr, "ftune: fault injected: %s #%ld at %s\n", KIND_NAMES[kind], target_kind == FAULT_ANY ? any : own,
            site);
    errno = kind == FAULT_ALLOC || kind == FAULT_SQL_ALLOC ? ENOMEM : EIO;
    return true;
}

void *fault_malloc_at(size_t n, const char *site) { return fault_fire(FAULT_ALLOC, site) ? NULL : malloc(n); }

void *fault_calloc_at(size_t n, size_t size, const char *site) {
    return fault_fire(FAULT_ALLOC, site) ? NULL : calloc(n, size);
}

void *fault_realloc_at(void *p, size_t n, const char *site) {
    return fault_fire(FAULT_ALLOC, site) ? NULL : realloc(p, n);
}
