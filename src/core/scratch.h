/* scratch.h: a thread's scratch buffer that grows to the largest size asked of it and is kept for
 * the thread's life (the kernels' tiles and staging rows, which run on every call of a hot path and
 * must not allocate each time). Out of memory there is fatal: the hot paths have no error return. */
#ifndef FTUNE_SCRATCH_H
#define FTUNE_SCRATCH_H

#include <stddef.h>

typedef struct {
    float *buf;
    size_t cap; /* floats */
} Scratch;

/* s's buffer, grown to at least floats (contents not kept); what names it in the fatal message.
 * s is the caller's static __thread Scratch. */
float *scratch_floats(Scratch *s, size_t floats, const char *what);

#endif
