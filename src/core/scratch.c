/* scratch.c: per-thread scratch buffers (see scratch.h). */
#include "scratch.h"

#include <stdio.h>
#include <stdlib.h>

float *scratch_floats(Scratch *s, size_t floats, const char *what) {
    if (floats > s->cap) {
        free(s->buf);
        if (!(s->buf = malloc(floats * sizeof(float)))) {
            fprintf(stderr, "ftune: out of memory for %zu KiB of %s\n", floats >> 8, what);
            abort();
        }
        s->cap = floats;
    }
    return s->buf;
}
