/* fuzz_util.h: shared pieces of the fuzz targets: a deterministic mutator (byte flips, random
 * integers written over fields, truncation, splices) and reading the iteration count. Targets are
 * plain programs built with ASan/UBSan that run a bounded number of mutated inputs and exit 0;
 * any memory error aborts them. */
#ifndef FTUNE_FUZZ_UTIL_H
#define FTUNE_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"

static inline long fuzz_iterations(int argc, char **argv) { return argc > 1 ? atol(argv[1]) : 2000; }

/* Mutates buf (len bytes, capacity cap) in place; mutations land in the first `focus` bytes
 * (the header) most of the time. Returns the new length. */
static inline size_t fuzz_mutate(Rng *r, unsigned char *buf, size_t len, size_t cap, size_t focus) {
    int n_mut = 1 + (int)(rng_next(r) % 4);
    for (int k = 0; k < n_mut && len > 0; k++) {
        size_t span = focus && focus < len && rng_next(r) % 8 ? focus : len;
        size_t at = rng_next(r) % span;
        switch (rng_next(r) % 6) {
        case 0: buf[at] ^= (unsigned char)(1u << (rng_next(r) % 8)); break;
        case 1: buf[at] = (unsigned char)rng_next(r); break;
        case 2: { /* an interesting integer over a field */
            static const unsigned long long vals[] = {0, 1, 0x7f, 0xff, 0xffff, 0x7fffffff, 0xffffffff,
                                                      0xffffffffffffffffull, 1ull << 40, 1ull << 62};
            unsigned long long v = vals[rng_next(r) % 10];
            size_t w = (rng_next(r) % 2) ? 4 : 8;
            if (at + w <= len) memcpy(buf + at, &v, w);
            break;
        }
        case 3: len = at; break; /* truncate */
        case 4: { /* duplicate a chunk */
            size_t from = rng_next(r) % len, n = rng_next(r) % 64;
            if (from + n <= len && at + n <= cap) {
                memmove(buf + at, buf + from, n);
                if (at + n > len) len = at + n;
            }
            break;
        }
        default: buf[at] = "{}[]\":,0123456789-.e\\"[rng_next(r) % 22]; break;
        }
    }
    return len;
}

static inline int fuzz_write(const char *path, const unsigned char *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fwrite(buf, 1, len, f);
    fclose(f);
    return 0;
}

#endif
