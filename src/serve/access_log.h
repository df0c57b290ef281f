/* access_log.h: one JSON line per request, appended to a file (default <data>/access.log, mode
 * 0600) or written to stderr: {"time", "request_id", "key_id", "project", "method", "path",
 * "status", "duration_ms"} and, for a 5xx, "error" with its server-side cause (which is also
 * printed to stderr). The path is logged without its query string; a key's secret never reaches
 * the log (requests carry key ids: http.h). Lines are written with one write(2) each on an
 * O_APPEND descriptor, so that lines from several HTTP threads never interleave. No rotation:
 * move the file away and the server goes on writing the old one until its next start. */
#ifndef FTUNE_ACCESS_LOG_H
#define FTUNE_ACCESS_LOG_H

#include "../core/err.h"
#include "http.h"

#define ACCESS_LOG_FILE "access.log" /* in the data directory */
#define ACCESS_LOG_STDERR "-"        /* --access-log -: the lines go to stderr */

typedef struct AccessLog AccessLog;

/* Opens path for appending (created 0600 when missing), or stderr for ACCESS_LOG_STDERR. */
int access_log_open(const char *path, AccessLog **out, Err *err);
/* Logs req, answered with status after seconds. Thread-safe. */
void access_log_write(AccessLog *log, const HttpRequest *req, int status, double seconds);
void access_log_close(AccessLog *log); /* NULL is a no-op */

#endif
