/* fault.h: injected failures for the fault-injection tests, as SQLite's own test builds inject
 * them: with FTUNE_FAULT=KIND:N in the environment, the Nth operation of KIND counted from the
 * start of the process fails as the real operation would (the caller sees -1 / NULL with errno
 * EIO, or ENOMEM for an allocation), once; every other operation runs normally. KIND is write,
 * fsync, rename, alloc, sqlalloc, or any (the Nth of all of them counted together). The sites are
 * the writes, fsyncs, renames and allocations of the store (SQLite's through the VFS and
 * allocator hooks of store_fault.c), the crash-safe file writer (fileio.c), the upload spool
 * (http.c), the job worker, the trainer and the checkpoint/adapter writers. A fault that fires says so on stderr
 * ("ftune: fault injected: write #N at SITE"), so a sweep over N = 1, 2, 3, ... knows when it has
 * passed the last operation (no line); a normal exit prints the counts of each kind ("ftune: fault
 * counts: write=W fsync=F rename=R alloc=A sqlalloc=S"). Without the variable nothing fails and a check costs one
 * load. A malformed value is reported on stderr once and injects nothing. Thread-safe. */
#ifndef FTUNE_FAULT_H
#define FTUNE_FAULT_H

#include <stdbool.h>
#include <stddef.h>

/* FAULT_ALLOC: ftune's own allocations (fault_malloc and co.); FAULT_SQL_ALLOC: SQLite's allocator,
 * counted apart because it allocates a hundred times more often (a sweep samples it). */
typedef enum { FAULT_WRITE, FAULT_FSYNC, FAULT_RENAME, FAULT_ALLOC, FAULT_SQL_ALLOC, FAULT_KINDS } FaultKind;

#define FAULT_ENV "FTUNE_FAULT"
#define FAULT_STR_(x) #x
#define FAULT_STR(x) FAULT_STR_(x)
#define FAULT_SITE __FILE__ ":" FAULT_STR(__LINE__)

/* Whether FTUNE_FAULT names a failure to inject (read once, on the first call). */
bool fault_armed(void);
/* Counts one operation of kind at site; true (errno set) when it is the one to fail. */
bool fault_fire(FaultKind kind, const char *site);

/* The allocations of the fault-injected paths: malloc, calloc and realloc that fail (NULL, errno
 * ENOMEM) when fault_fire says so. */
void *fault_malloc_at(size_t n, const char *site);
void *fault_calloc_at(size_t n, size_t size, const char *site);
void *fault_realloc_at(void *p, size_t n, const char *site);
#define fault_malloc(n) fault_malloc_at((n), FAULT_SITE)
#define fault_calloc(n, size) fault_calloc_at((n), (size), FAULT_SITE)
#define fault_realloc(p, n) fault_realloc_at((p), (n), FAULT_SITE)

#endif
