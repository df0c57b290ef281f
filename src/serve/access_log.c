/* access_log.c: the access log's lines (see access_log.h), built with Jansson so that any byte of
 * a path or a cause comes out as valid JSON (invalid UTF-8 becomes U+FFFD). */
#include "access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../data/utf8_check.h"

struct AccessLog {
    int fd;
    bool own;     /* fd is ours to close (not stderr) */
    atomic_bool failing; /* the last write failed: said once on stderr until one succeeds (HTTP
                          * threads write at once: two may both say it, never a torn value) */
};

int access_log_open(const char *path, AccessLog **out, Err *err) {
    *out = NULL;
    AccessLog *log = calloc(1, sizeof *log);
    if (!log) return err_set(err, ERR_NOMEM, "out of memory");
    if (strcmp(path, ACCESS_LOG_STDERR) == 0) {
        log->fd = STDERR_FILENO;
    } else {
        log->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (log->fd < 0) {
            int e = errno;
            free(log);
            return err_set(err, ERR_IO, "%s: cannot open the access log: %s", path, strerror(e));
        }
        log->own = true;
    }
    *out = log;
    return 0;
}

/* s as a JSON string, or null when empty. */
static json_t *text_or_null(const char *s) {
    if (!s || !s[0]) return json_null();
    size_t n;
    char *fixed = utf8_repair(s, strlen(s), &n);
    json_t *j = fixed ? json_stringn(fixed, n) : NULL;
    free(fixed);
    return j ? j : json_null();
}

static void utc_now(char *out, size_t size) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char secs[32];
    strftime(secs, sizeof secs, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%03dZ", secs, (int)(tv.tv_usec / 1000));
}

void access_log_write(AccessLog *log, const HttpRequest *req, int status, double seconds) {
    if (!log) return;
    char now[48];
    utc_now(now, sizeof now);
    json_t *line = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:i, s:f}", "time", now, "request_id", req->request_id,
                             "key_id", text_or_null(req->key_id), "project", text_or_null(req->project), "method",
                             text_or_null(req->method), "path", text_or_null(req->path), "status", status,
                             "duration_ms", (double)(long long)(seconds * 1e4) / 10.0);
    if (line && status >= 500) json_object_set_new(line, "error", text_or_null(req->cause[0] ? req->cause : "unknown"));
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(line);
    if (!text) {
        fprintf(stderr, "ftune serve: access log: out of memory for the line of %s\n", req->request_id);
        return;
    }
    size_t n = strlen(text);
    text[n] = '\n'; /* json_dumps's NUL becomes the line's end: one write, one line */
    ssize_t w = write(log->fd, text, n + 1);
    bool ok = w == (ssize_t)(n + 1);
    bool was_failing = atomic_exchange_explicit(&log->failing, !ok, memory_order_relaxed);
    if (!ok && log->own && !was_failing)
        fprintf(stderr, "ftune serve: access log: the line of %s was not written (nor will be the next ones until "
                        "there is room): %s\n", req->request_id, w < 0 ? strerror(errno) : "short write");
    if (ok && was_failing) fprintf(stderr, "ftune serve: access log: written again from %s on\n", req->request_id);
    if (status >= 500 && log->own)
        fprintf(stderr, "ftune serve: %d %s %s %s: %s\n", status, req->request_id, req->method, req->path,
                req->cause[0] ? req->cause : "unknown cause");
    free(text);
}

void access_log_close(AccessLog *log) {
    if (!log) return;
    if (log->own) close(log->fd);
    free(log);
}
