/* jsonl_reader.c: line splitting over read(2) with memchr, one buffer that grows to at most
 * max_line + JSONL_CHUNK bytes, and a skip mode for lines over the limit. */
#include "jsonl_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct JsonlReader {
    int fd;
    char *path;
    uint64_t size;
    size_t max_line;
    char *buf;
    size_t cap;
    size_t pos, end; /* unread bytes are buf[pos..end) */
    bool eof;
    long number;
};

int jsonl_open(const char *path, size_t max_line, JsonlReader **out, Err *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        return err_set(err, ERR_IO, "%s: %s", path,
                       S_ISDIR(st.st_mode) ? "is a directory"
                       : e                 ? strerror(e)
                                           : "not a regular file");
    }
    JsonlReader *r = calloc(1, sizeof *r);
    size_t cap = JSONL_CHUNK + 1;
    if (!r || !(r->path = strdup(path)) || !(r->buf = malloc(cap))) {
        if (r) free(r->path);
        free(r);
        close(fd);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    r->fd = fd;
    r->size = (uint64_t)st.st_size;
    r->max_line = max_line ? max_line : 1;
    r->cap = cap;
    *out = r;
    return 0;
}

void jsonl_close(JsonlReader *r) {
    if (!r) return;
    close(r->fd);
    free(r->path);
    free(r->buf);
    free(r);
}

uint64_t jsonl_file_size(const JsonlReader *r) { return r->size; }

/* Reads more bytes after buf[end); returns bytes read, 0 at the end, -1 on error. */
static ssize_t fill(JsonlReader *r, Err *err) {
    if (r->eof) return 0;
    for (;;) {
        size_t room = r->cap - 1 - r->end;
        if (room > JSONL_CHUNK) room = JSONL_CHUNK;
        ssize_t n = read(r->fd, r->buf + r->end, room);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return err_set(err, ERR_IO, "%s: %s", r->path, strerror(errno));
        if (n == 0) r->eof = true;
        r->end += (size_t)n;
        return n;
    }
}

/* Makes room for at least one chunk after the unread bytes (moving them to the front, then
 * growing the buffer up to max_line + JSONL_CHUNK). */
static int make_room(JsonlReader *r, Err *err) {
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->end - r->pos);
        r->end -= r->pos;
        r->pos = 0;
    }
    if (r->cap - 1 - r->end >= JSONL_CHUNK) return 0;
    size_t cap = r->cap * 2;
    if (cap < r->end + JSONL_CHUNK + 1) cap = r->end + JSONL_CHUNK + 1;
    char *b = realloc(r->buf, cap);
    if (!b) return err_set(err, ERR_NOMEM, "%s: out of memory for a %zu-byte line", r->path, r->end);
    r->buf = b;
    r->cap = cap;
    return 0;
}

/* Skips the rest of a too-long line; *len accumulates its bytes. */
static int skip_line(JsonlReader *r, size_t *len, Err *err) {
    for (;;) {
        char *nl = memchr(r->buf + r->pos, '\n', r->end - r->pos);
        if (nl) {
            *len += (size_t)(nl - (r->buf + r->pos));
            r->pos = (size_t)(nl - r->buf) + 1;
            return 0;
        }
        *len += r->end - r->pos;
        r->pos = r->end = 0;
        ssize_t n = fill(r, err);
        if (n < 0) return -1;
        if (n == 0) return 0;
    }
}

int jsonl_next(JsonlReader *r, JsonlLine *line, Err *err) {
    memset(line, 0, sizeof *line);
    size_t scanned = 0; /* bytes of the current line already searched for '\n' */
    char *nl;
    for (;;) {
        nl = memchr(r->buf + r->pos + scanned, '\n', r->end - r->pos - scanned);
        if (nl) break;
        scanned = r->end - r->pos;
        if (scanned > r->max_line) {
            size_t len = scanned;
            r->pos = r->end;
            if (skip_line(r, &len, err)) return -1;
            line->too_long = true;
            line->len = len;
            line->number = ++r->number;
            return 1;
        }
        if (r->eof) break;
        if (make_room(r, err)) return -1;
        if (fill(r, err) < 0) return -1;
    }
    char *start = r->buf + r->pos;
    size_t len;
    if (nl) {
        len = (size_t)(nl - start);
        r->pos += len + 1;
    } else {
        len = r->end - r->pos;
        if (len == 0) return 0; /* end of file */
        r->pos = r->end;
    }
    if (len > r->max_line) {
        line->too_long = true;
        line->len = len;
        line->number = ++r->number;
        return 1;
    }
    line->number = ++r->number;
    if (line->number == 1 && len >= 3 && memcmp(start, "\xEF\xBB\xBF", 3) == 0) {
        start += 3;
        len -= 3;
        line->had_bom = true;
    }
    if (len > 0 && start[len - 1] == '\r') len--;
    start[len] = 0;
    line->text = start;
    line->len = len;
    return 1;
}
