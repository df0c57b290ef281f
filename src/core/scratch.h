/* scratch.h: a thread's scratch buffer that grows to the largest size asked of it and is kept for
 * the thread's life (the kernels' tiles, staging rows and converted weights, which run on every
 * call of a hot path and must not allocate each time; a freed large block would go back to the
 * kernel, and unmapping it costs every thread of the process a TLB flush). Out of memory there is
 * fatal: the hot paths have no error return. */
#ifndef FTUNE_SCRATCH_H
#define FTUNE_SCRATCH_H

#include <stddef.h>

typedef struct {
    void *buf;
    size_t cap; /* bytes */
} Scratch;

/* s's buffer, 64-byte aligned (AMX tiles and aligned vector stores), grown to at least bytes
 * (contents not kept); what names it in the fatal message. s is the caller's static __thread
 * Scratch. */
void *scratch_get(Scratch *s, size_t bytes, const char *what);

#endif
