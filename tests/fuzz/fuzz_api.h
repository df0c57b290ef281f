/* fuzz_api.h: for the fuzz targets of the server's request parsers: an error they answer must be
 * a well-formed API error (a 4xx/5xx status, a type and a message), else the target fails; and the
 * loop they share, mutated copies of seed bodies handed to the target's check. */
#ifndef FTUNE_FUZZ_API_H
#define FTUNE_FUZZ_API_H

#include <stdio.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "serve/api.h"

static inline void fuzz_check_api_error(const ApiError *e) {
    if (e->status < 400 || e->status > 599 || !e->type || !e->message[0]) {
        fprintf(stderr, "bad error: status %d type %s message '%s'\n", e->status, e->type ? e->type : "(null)",
                e->message);
        exit(1);
    }
}

/* Runs iterations (argv[1], default 2000) of: a seed body (in turn), mutated, copied into a buffer of
 * its exact size (so that ASan sees any read past it), given to check. Prints "NAME: N bodies". */
static inline int fuzz_bodies(int argc, char **argv, const char *name, uint64_t seed, const char *const *seeds,
                              size_t n_seeds, size_t body_max, void (*check)(const char *body, size_t len)) {
    long iters = fuzz_iterations(argc, argv);
    Rng r;
    rng_seed(&r, seed);
    unsigned char *buf = malloc(body_max + 1);
    if (!buf) return 1;
    for (long it = 0; it < iters; it++) {
        size_t len = strlen(seeds[it % (long)n_seeds]);
        if (len > body_max) len = body_max;
        memcpy(buf, seeds[it % (long)n_seeds], len);
        len = fuzz_mutate(&r, buf, len, body_max, 0);
        char *body = malloc(len + 1);
        memcpy(body, buf, len);
        body[len] = 0;
        check(body, len);
        free(body);
    }
    free(buf);
    printf("%s: %ld bodies\n", name, iters);
    return 0;
}

#endif
