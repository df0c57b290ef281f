/* scratch.c: per-thread scratch buffers (see scratch.h). */
#include "scratch.h"

#include <stdio.h>
#include <stdlib.h>

void *scratch_get(Scratch *s, size_t bytes, const char *what) {
    if (bytes > s->cap) {
        size_t rounded = (bytes + 63) / 64 * 64; /* aligned_alloc's size is a multiple of its alignment */
        free(s->buf);
        if (!(s->buf = aligned_alloc(64, rounded))) {
            fprintf(stderr, "ftune: out of memory for %zu KiB of %s\n", rounded >> 10, what);
            abort();
        }
        s->cap = rounded;
    }
    return s->buf;
}
