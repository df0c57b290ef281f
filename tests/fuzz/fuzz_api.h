/* fuzz_api.h: for the fuzz targets of the server's request parsers: an error they answer must be
 * a well-formed API error (a 4xx/5xx status, a type and a message), else the target fails. */
#ifndef FTUNE_FUZZ_API_H
#define FTUNE_FUZZ_API_H

#include <stdio.h>
#include <stdlib.h>

#include "serve/api.h"

static inline void fuzz_check_api_error(const ApiError *e) {
    if (e->status < 400 || e->status > 599 || !e->type || !e->message[0]) {
        fprintf(stderr, "bad error: status %d type %s message '%s'\n", e->status, e->type ? e->type : "(null)",
                e->message);
        exit(1);
    }
}

#endif
