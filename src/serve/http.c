/* http.c: libmicrohttpd glue (see http.h): per-connection state, body accumulation with limits,
 * spooling of uploads, response sending, and streams drained by suspended connections. It does
 * not route, authenticate or know the API's JSON shapes (the caller's handler and error hook do). */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/clock.h"
#include "../core/fault.h"
#include "../store/store.h"

#define HTTP_STREAM_BLOCK 16384 /* bytes handed to MHD per read of a stream */

struct HttpStream {
    pthread_mutex_t mu;
    int refs;
    char *buf;                  /* pending SSE bytes [off, len) */
    size_t off, len, cap;
    bool finished, cancelled;
    int status;                 /* deferred response */
    char *body;
    size_t body_len;
    struct MHD_Connection *conn;
    bool suspended;             /* the connection waits for this stream */
    char cause[1024];           /* a failure's server-side cause ("" = none) */
};

struct HttpServer {
    HttpConfig cfg;
    char spool_dir[2048];
    char upload_path[256];
    struct MHD_Daemon *daemon;
    int port;
};

typedef struct {
    HttpServer *srv;
    HttpRequest req;
    char *path_copy;
    size_t body_cap;
    int spool_fd;
    bool spool;        /* this request's body goes to a file */
    bool responded;    /* a response is queued */
    bool too_large;    /* the body passed its limit: the rest is discarded, then 413 */
    bool store_failed; /* the body could not be kept (memory, disk): 500 */
    HttpResponse res;
    HttpStream *stream; /* the connection's reference */
    int status;
    double t0;         /* monotonic seconds at the first byte of the request */
} ConnState;

/* ---- streams ---- */

HttpStream *http_stream_new(void) {
    HttpStream *s = fault_calloc(1, sizeof *s);
    if (!s) return NULL;
    pthread_mutex_init(&s->mu, NULL);
    s->refs = 2; /* the producer's and the connection's */
    return s;
}

static void stream_release(HttpStream *s) {
    pthread_mutex_lock(&s->mu);
    int left = --s->refs;
    pthread_mutex_unlock(&s->mu);
    if (left) return;
    pthread_mutex_destroy(&s->mu);
    free(s->buf);
    free(s->body);
    free(s);
}

/* Wakes the connection if it waits for this stream. Called with s->mu held. */
static void stream_wake(HttpStream *s) {
    if (s->suspended && s->conn) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

int http_stream_write(HttpStream *s, const char *data, size_t len) {
    pthread_mutex_lock(&s->mu);
    if (s->cancelled) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    if (s->off > 0 && s->off == s->len) s->off = s->len = 0;
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + len) cap *= 2;
        char *b = fault_realloc(s->buf, cap);
        if (!b) {
            pthread_mutex_unlock(&s->mu);
            return -1;
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    stream_wake(s);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

bool http_stream_cancelled(HttpStream *s) {
    pthread_mutex_lock(&s->mu);
    bool c = s->cancelled;
    pthread_mutex_unlock(&s->mu);
    return c;
}

void http_stream_cause(HttpStream *s, const char *cause) {
    pthread_mutex_lock(&s->mu);
    snprintf(s->cause, sizeof s->cause, "%s", cause);
    pthread_mutex_unlock(&s->mu);
}

void http_stream_finish(HttpStream *s, int status, char *body, size_t len) {
    pthread_mutex_lock(&s->mu);
    s->finished = true;
    s->status = status;
    free(s->body);
    s->body = body;
    s->body_len = len;
    stream_wake(s);
    pthread_mutex_unlock(&s->mu);
    stream_release(s);
}

/* MHD reads the next piece of an SSE stream; with nothing pending the connection sleeps until the
 * producer writes (MHD allows suspending from a content reader). */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    ConnState *c = cls;
    HttpStream *s = c->stream;
    pthread_mutex_lock(&s->mu);
    ssize_t n;
    if (s->off < s->len) {
        size_t k = s->len - s->off < max ? s->len - s->off : max;
        memcpy(buf, s->buf + s->off, k);
        s->off += k;
        n = (ssize_t)k;
    } else if (s->finished) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        s->suspended = true;
        MHD_suspend_connection(s->conn);
        n = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- requests ---- */

const char *http_query(const HttpRequest *req, const char *key) {
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_header(const HttpRequest *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_header_n(const HttpRequest *req, const char *name, size_t *len) {
    const char *value = NULL;
    *len = 0;
    if (MHD_lookup_connection_value_n(req->conn, MHD_HEADER_KIND, name, strlen(name), &value, len) != MHD_YES)
        return NULL;
    return value;
}

typedef struct {
    void (*fn)(void *, const char *, const char *);
    void *user;
} QueryIter;

static enum MHD_Result query_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    QueryIter *it = cls;
    it->fn(it->user, key, value);
    return MHD_YES;
}

void http_query_each(const HttpRequest *req, void (*fn)(void *user, const char *key, const char *value), void *user) {
    QueryIter it = {fn, user};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_iter, &it);
}

void http_respond(HttpResponse *res, int status, const char *content_type, char *body, size_t len) {
    free(res->body);
    res->status = status;
    res->body = body;
    res->len = len;
    snprintf(res->content_type, sizeof res->content_type, "%s", content_type ? content_type : "");
}

static void conn_free(ConnState *c) {
    if (c->spool_fd >= 0) close(c->spool_fd);
    if (c->req.spool_path[0]) unlink(c->req.spool_path);
    if (c->res.fd >= 0) close(c->res.fd);
    free(c->res.body);
    free(c->req.body);
    free(c->path_copy);
    free(c);
}

static ConnState *conn_new(HttpServer *s, struct MHD_Connection *conn, const char *url, const char *method) {
    ConnState *c = fault_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->t0 = clock_now_s();
    c->srv = s;
    c->spool_fd = -1;
    c->res.fd = -1;
    c->req.conn = conn;
    c->req.method = method;
    c->path_copy = strdup(url);
    c->req.path = c->path_copy ? c->path_copy : "";
    char rnd[25];
    store_random_alnum(rnd, 24);
    snprintf(c->req.request_id, sizeof c->req.request_id, "req_%s", rnd);
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    c->req.content_type = ct ? ct : "";
    c->spool = strcmp(method, "POST") == 0 && strcmp(c->req.path, s->upload_path) == 0 &&
               strncasecmp(c->req.content_type, "multipart/", 10) == 0;
    return c;
}

/* Moves a finished deferred stream's answer into the connection's response. */
static void take_deferred(ConnState *c) {
    HttpStream *s = c->stream;
    pthread_mutex_lock(&s->mu);
    free(c->res.body);
    c->res.status = s->status;
    c->res.body = s->body;
    c->res.len = s->body_len;
    s->body = NULL;
    if (s->cause[0]) snprintf(c->req.cause, sizeof c->req.cause, "%s", s->cause);
    pthread_mutex_unlock(&s->mu);
    snprintf(c->res.content_type, sizeof c->res.content_type, "application/json");
}

/* Queues res (or the stream it names) on the connection. */
static enum MHD_Result send_response(ConnState *c) {
    struct MHD_Connection *conn = c->req.conn;
    HttpResponse *r = &c->res;
    struct MHD_Response *mr;
    c->responded = true;
    if (r->stream) {
        c->stream = r->stream;
        r->stream = NULL;
        pthread_mutex_lock(&c->stream->mu);
        c->stream->conn = conn;
        /* deferred: sleep until the producer finishes; SSE: until its first bytes or its end (so
         * that an error found before any event is a plain HTTP error, not a 200 stream) */
        if (!c->stream->finished && (!r->stream_sse || c->stream->len == 0)) {
            c->stream->suspended = true;
            MHD_suspend_connection(conn);
            pthread_mutex_unlock(&c->stream->mu);
            return MHD_YES;
        }
        bool nothing_sent = c->stream->len == 0;
        pthread_mutex_unlock(&c->stream->mu);
        if (r->stream_sse && nothing_sent) r->stream_sse = false; /* ended before any event */
        if (!r->stream_sse) take_deferred(c);
    }
    if (r->status == 503 && !r->retry_after) r->retry_after = HTTP_RETRY_AFTER_BUSY_S;
    if (r->status >= 500 && !c->req.cause[0] && r->body) /* (a file or a stream has no body to quote) */
        snprintf(c->req.cause, sizeof c->req.cause, "%.*s", (int)(r->len < 1000 ? r->len : 1000), r->body);
    if (c->stream && r->stream_sse) {
        mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_STREAM_BLOCK, stream_read, c, NULL);
        if (!mr) return MHD_NO;
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        r->status = 200;
    } else if (r->fd >= 0) {
        mr = MHD_create_response_from_fd64(r->fd_size, r->fd);
        if (!mr) return MHD_NO;
        r->fd = -1; /* MHD closes it */
    } else {
        mr = MHD_create_response_from_buffer_with_free_callback(r->len, r->body, free);
        if (!mr) return MHD_NO;
        r->body = NULL;
    }
    if (r->content_type[0] && !(c->stream && r->stream_sse))
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (r->disposition[0]) MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_DISPOSITION, r->disposition);
    if (r->allow[0]) MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->retry_after > 0) {
        char secs[16];
        snprintf(secs, sizeof secs, "%d", r->retry_after);
        MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    if (r->cache_control[0]) MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, r->cache_control);
    if (r->etag[0]) MHD_add_response_header(mr, MHD_HTTP_HEADER_ETAG, r->etag);
    if (r->csp) {
        MHD_add_response_header(mr, "Content-Security-Policy", r->csp);
        MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    }
    MHD_add_response_header(mr, "x-request-id", c->req.request_id);
    c->status = r->status;
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ok;
}

/* Answers a transport-level error right away (the rest of the body is not read). */
static enum MHD_Result reply_error(ConnState *c, int status, const char *message) {
    c->srv->cfg.error(c->srv->cfg.user, &c->res, status, message);
    return send_response(c);
}

/* Appends a piece of the body: to memory (JSON) or to the spool file (uploads). */
static int body_append(ConnState *c, const char *data, size_t n) {
    if (c->spool) {
        if (c->spool_fd < 0) {
            snprintf(c->req.spool_path, sizeof c->req.spool_path, "%s/" HTTP_SPOOL_PREFIX "XXXXXX", c->srv->spool_dir);
            c->spool_fd = fault_fire(FAULT_WRITE, "upload spool create") ? -1 : mkstemp(c->req.spool_path);
            if (c->spool_fd < 0) {
                c->req.spool_path[0] = 0;
                return -1;
            }
        }
        for (size_t done = 0; done < n;) {
            ssize_t w = fault_fire(FAULT_WRITE, "upload spool write") ? -1 : write(c->spool_fd, data + done, n - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return -1;
            done += (size_t)w;
        }
        c->req.spool_len += n;
        return 0;
    }
    if (c->req.body_len + n + 1 > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 4096;
        while (cap < c->req.body_len + n + 1) cap *= 2;
        char *b = fault_realloc(c->req.body, cap);
        if (!b) return -1;
        c->req.body = b;
        c->body_cap = cap;
    }
    memcpy(c->req.body + c->req.body_len, data, n);
    c->req.body_len += n;
    c->req.body[c->req.body_len] = 0;
    return 0;
}

static int hex_value(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decodes %XX in the URL path and query arguments, except %00, which stays as it is written: a NUL
 * byte would silently cut an id or a path short. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s) {
    (void)cls;
    (void)conn;
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (r[0] == '%' && (hi = hex_value(r[1])) >= 0 && (lo = hex_value(r[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi << 4 | lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

/* libmicrohttpd's own messages; a client that hangs up or times out is not worth a line. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (strstr(msg, "closed by remote") || strstr(msg, "timed out") || strstr(msg, "Connection reset")) return;
    fprintf(stderr, "ftune serve: http: %s%s", msg, msg[0] && msg[strlen(msg) - 1] == '\n' ? "" : "\n");
}

typedef struct {
    size_t bytes;
} SizeSum;

static enum MHD_Result add_size(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    SizeSum *sum = cls;
    sum->bytes += (key ? strlen(key) : 0) + (value ? strlen(value) : 0) + 4; /* ": ", "\r\n" or "=", "&" */
    return MHD_YES;
}

/* Bytes of the values of one kind (headers, query arguments) the connection holds. */
static size_t values_size(struct MHD_Connection *conn, enum MHD_ValueKind kind) {
    SizeSum sum = {0};
    MHD_get_connection_values(conn, kind, add_size, &sum);
    return sum.bytes;
}

/* A request line or headers past the server's limits: answers 414 or 431 (*ret: the result for
 * MHD) and returns true. */
static bool request_too_big(ConnState *c, const char *url, enum MHD_Result *ret) {
    char msg[160];
    size_t url_len = strlen(url) + values_size(c->req.conn, MHD_GET_ARGUMENT_KIND);
    if (url_len > HTTP_MAX_URL) {
        snprintf(msg, sizeof msg, "the request URL of %zu bytes is longer than the limit of %d bytes", url_len,
                 HTTP_MAX_URL);
        *ret = reply_error(c, 414, msg);
        return true;
    }
    size_t header_len = values_size(c->req.conn, MHD_HEADER_KIND);
    if (header_len > HTTP_MAX_HEADERS) {
        snprintf(msg, sizeof msg, "the request headers of %zu bytes are larger than the limit of %d bytes", header_len,
                 HTTP_MAX_HEADERS);
        *ret = reply_error(c, 431, msg);
        return true;
    }
    return false;
}

/* ---- header values with a NUL byte ----
 * libmicrohttpd 0.9.75 keeps a header value as a C string where it was received and hands its
 * length as strlen's: "Authorization: Bearer K1\0junk" arrives as "Bearer K1", and no API says
 * more bytes followed. Those bytes are still there, in the request's buffer: the headers are parsed
 * in place, each line's CR/LF overwritten with NULs, from the request line (whose first byte is
 * the method string) to MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE bytes further. So between the end
 * of one value and the next header's name (or the end of the header block) there must be nothing
 * but NULs, CRs and LFs; anything else followed a NUL inside the value. A layout other than this
 * one (another libmicrohttpd) cannot be checked this way: the check is then skipped, with one
 * warning on stderr (tests/e2e/test_projects.py sends such a header). */

typedef struct {
    const char *base, *end;   /* the header block */
    const char *prev_end;     /* the end of the previous value (NULL before the first) */
    bool bad, unknown;
} HeaderScan;

/* Whether the bytes [from, to) are line ends (NUL, CR, LF) only. */
static bool only_line_ends(const char *from, const char *to) {
    for (const char *p = from; p < to; p++)
        if (*p != 0 && *p != '\r' && *p != '\n') return false;
    return true;
}

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                   const char *value, size_t value_size) {
    (void)kind;
    HeaderScan *h = cls;
    if (!value) value = key + key_size; /* a header without a value */
    if (key <= h->base || value < key + key_size || value + value_size > h->end || (h->prev_end && key < h->prev_end)) {
        h->unknown = true;
        return MHD_NO;
    }
    if (h->prev_end && !only_line_ends(h->prev_end, key)) h->bad = true;
    h->prev_end = value + value_size;
    return h->bad ? MHD_NO : MHD_YES;
}

/* True when a header value of the request holds a NUL byte followed by more bytes. */
static bool header_has_nul(struct MHD_Connection *conn, const char *method) {
    static bool warned;
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    HeaderScan h = {method, info ? method + info->header_size : method, NULL, false, info == NULL};
    if (!h.unknown) MHD_get_connection_values_n(conn, MHD_HEADER_KIND, scan_header, &h);
    if (!h.unknown && !h.bad && h.prev_end && !only_line_ends(h.prev_end, h.end)) h.bad = true;
    if (h.unknown && !warned) {
        warned = true; /* (a benign race: at worst a second warning) */
        fprintf(stderr, "ftune serve: warning: this libmicrohttpd's header layout is not the one expected: header "
                        "values with a NUL byte cannot be refused\n");
    }
    return h.bad;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
    (void)version;
    HttpServer *s = cls;
    ConnState *c = *con_cls;
    if (!c) {
        c = conn_new(s, conn, url, method);
        if (!c) return MHD_NO;
        *con_cls = c;
        enum MHD_Result ret;
        if (request_too_big(c, url, &ret)) return ret;
        if (header_has_nul(conn, method)) /* e.g. "Bearer K1\0junk", which would read as "Bearer K1" */
            return reply_error(c, 400, "a request header's value holds a NUL byte");
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        size_t limit = c->spool ? HTTP_MAX_UPLOAD_BODY : HTTP_MAX_JSON_BODY;
        if (cl && strtoull(cl, NULL, 10) > limit) {
            char msg[160];
            snprintf(msg, sizeof msg, "request body of %s bytes is larger than the limit of %zu bytes", cl, limit);
            return reply_error(c, 413, msg);
        }
        return MHD_YES;
    }
    if (c->responded && !c->stream) { /* answered early: discard the rest */
        *upload_data_size = 0;
        return MHD_YES;
    }
    size_t limit = c->spool ? HTTP_MAX_UPLOAD_BODY : HTTP_MAX_JSON_BODY;
    if (*upload_data_size) { /* MHD cannot answer in the middle of a body: read it, keep at most limit */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        size_t have = c->spool ? c->req.spool_len : c->req.body_len;
        if (c->too_large || c->store_failed || have + n > limit) c->too_large |= !c->store_failed;
        else if (body_append(c, upload_data, n)) c->store_failed = true;
        return MHD_YES;
    }
    if (c->too_large) {
        char msg[160];
        snprintf(msg, sizeof msg, "request body is larger than the limit of %zu bytes", limit);
        return reply_error(c, 413, msg);
    }
    if (c->store_failed) return reply_error(c, 500, "the request body could not be stored");
    if (c->stream) { /* resumed: a deferred answer is ready, or an SSE stream's first bytes */
        c->res.stream = c->stream; /* send_response takes the connection's reference back */
        c->stream = NULL;
        return send_response(c);
    }
    if (c->spool_fd >= 0) {
        close(c->spool_fd);
        c->spool_fd = -1;
    }
    s->cfg.handler(s->cfg.user, &c->req, &c->res);
    return send_response(c);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)conn;
    HttpServer *s = cls;
    ConnState *c = *con_cls;
    if (!c) return;
    *con_cls = NULL;
    int status = c->status;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && status == 0) status = 499; /* the client went away */
    if (c->stream) {
        pthread_mutex_lock(&c->stream->mu);
        c->stream->cancelled = !c->stream->finished || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK;
        c->stream->conn = NULL;
        c->stream->suspended = false;
        pthread_mutex_unlock(&c->stream->mu);
        stream_release(c->stream);
        c->stream = NULL;
    }
    if (s->cfg.done) s->cfg.done(s->cfg.user, &c->req, status, clock_now_s() - c->t0);
    conn_free(c);
}

int http_start(const HttpConfig *cfg, HttpServer **out, Err *err) {
    *out = NULL;
    HttpServer *s = fault_calloc(1, sizeof *s);
    if (!s) return err_set(err, ERR_NOMEM, "out of memory");
    s->cfg = *cfg;
    snprintf(s->spool_dir, sizeof s->spool_dir, "%s", cfg->spool_dir);
    snprintf(s->upload_path, sizeof s->upload_path, "%s", cfg->upload_path ? cfg->upload_path : "");
    s->cfg.spool_dir = s->spool_dir;
    s->cfg.upload_path = s->upload_path;

    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai != 0) {
        free(s);
        return err_set(err, ERR_IO, "%s:%d: cannot resolve: %s", cfg->host, cfg->port, gai_strerror(gai));
    }
    unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, /* first: it logs the others */
                                 MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                 MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cfg->threads > 0 ? cfg->threads : 1),
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONNECTION_TIMEOUT_S,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTION_LIMIT,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
                                 MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->daemon) {
        free(s);
        return err_set(err, ERR_IO, "%s:%d: cannot listen (port in use, or no permission?)", cfg->host, cfg->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    *out = s;
    return 0;
}

int http_port(const HttpServer *s) { return s->port; }

void http_stop(HttpServer *s) {
    if (!s) return;
    MHD_stop_daemon(s->daemon);
    free(s);
}
