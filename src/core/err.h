/* err.h: the caller-owned error record used by every fallible function.
 * A fallible function returns 0 on success or -1 on failure and, when the caller passed a
 * non-NULL Err, fills it with a code and a message that says what and where. There is no global
 * error state. This file does not log or print anything. */
#ifndef FTUNE_ERR_H
#define FTUNE_ERR_H

enum {
    ERR_OK = 0,
    ERR_IO = 1,          /* a file could not be opened, read or written */
    ERR_FORMAT = 2,      /* the input is malformed */
    ERR_UNSUPPORTED = 3, /* well-formed but not supported (unknown architecture, tensor type) */
    ERR_NOMEM = 4,       /* an allocation failed */
    ERR_ARG = 5,         /* a bad argument from the user */
};

#define ERR_MSG_MAX 512

typedef struct {
    int code;
    char msg[ERR_MSG_MAX];
} Err;

/* Fills err (if non-NULL) with code and a printf-style message; always returns -1 so that
 * callers can write `return err_set(err, ERR_IO, "...")`. */
int err_set(Err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message (for adding the file name at a higher level).
 * Returns -1. */
int err_prefix(Err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
