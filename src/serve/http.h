/* http.h: the HTTP layer on libmicrohttpd: a thread pool of HTTP threads that read requests
 * (JSON bodies in memory up to HTTP_MAX_JSON_BODY, multipart uploads spooled to a temporary file
 * under the data directory), hand each complete request to one dispatch function, and send what
 * it answered: a body, a file, or a stream. HTTP threads never wait for model work: a handler that
 * needs the inference thread returns an HttpStream, which the connection drains while it is
 * suspended (no thread is blocked): a server-sent-event stream, or one deferred body with its
 * status. Every response carries x-request-id. Routing, auth and JSON live in the layers above. */
#ifndef FTUNE_HTTP_H
#define FTUNE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

#define HTTP_MAX_JSON_BODY ((size_t)8 << 20)          /* bytes of a JSON request body */
#define HTTP_MAX_UPLOAD_BODY (((size_t)512 << 20) + (1 << 20)) /* a 512 MB file plus its multipart framing */
#define HTTP_MAX_PATH_PARAMS 3
#define HTTP_THREADS_DEFAULT 4
#define HTTP_SPOOL_PREFIX "upload-" /* names of the upload bodies being received in the spool directory */
#define HTTP_CONNECTION_TIMEOUT_S 60   /* idle connections are closed after this */
#define HTTP_CONNECTION_LIMIT 1024
#define HTTP_RETRY_AFTER_BUSY_S 1      /* Retry-After of a 503 (the server is busy) */
#define HTTP_MAX_URL (16 << 10)      /* bytes of a request's path and query: longer is a 414 */
#define HTTP_MAX_HEADERS (32 << 10)  /* bytes of a request's header names and values: more is a 431 */
/* Per-connection buffer: room for a request line and headers well past the two limits above, so
 * that the handler answers them with OpenAI-shaped errors. Beyond it libmicrohttpd (0.9.75)
 * answers by itself, with the right status (414 for the request line, 431 for the headers,
 * Connection: close) but its compiled-in HTML body: it gives up on the request before the headers
 * are complete, and no callback runs there that could queue a response (the access handler needs
 * complete headers; MHD_OPTION_URI_LOG_CALLBACK sees the URL but can only return a context;
 * MHD_OPTION_NOTIFY_COMPLETED only learns that the request ended; no option replaces that body).
 * Moving the bound up would only move where this happens, at up to this much memory per
 * connection (HTTP_CONNECTION_LIMIT of them). */
#define HTTP_CONNECTION_MEMORY (256 << 10)

typedef struct HttpStream HttpStream;

typedef struct {
    void *conn;                 /* struct MHD_Connection * */
    const char *method;
    const char *path;           /* without the query string */
    const char *route;          /* the matched route pattern (static), set by the dispatcher */
    char request_id[40];
    const char *params[HTTP_MAX_PATH_PARAMS]; /* the {} segments of the matched route */
    int n_params;
    const char *content_type;   /* "" when absent */
    char *body;                 /* JSON body, NUL-terminated (NULL when empty or spooled) */
    size_t body_len;
    char spool_path[4096];      /* multipart body on disk ("" when not spooled) */
    size_t spool_len;
    /* For the access log, filled by the layers above: who asked (never a secret) and, for a 5xx,
     * its server-side cause (when empty, the start of the response body stands for it). */
    char key_id[64];            /* "" = no key */
    char project[64];           /* "" = none (not authenticated) */
    char cause[1024];
} HttpRequest;

typedef struct {
    int status;
    char *body;                 /* heap, owned; NULL = empty */
    size_t len;
    char content_type[64];
    char disposition[320];      /* Content-Disposition, "" = none */
    char allow[64];             /* Allow (the methods of a 405), "" = none */
    int retry_after;            /* Retry-After seconds (a 429), 0 = none */
    char cache_control[48];     /* Cache-Control, "" = none */
    char etag[48];              /* ETag (quoted), "" = none */
    const char *csp;            /* Content-Security-Policy (static), NULL = none; sent with
                                 * X-Content-Type-Options: nosniff (the web console's pages) */
    int fd;                     /* >= 0: send this file (fd_size bytes) instead of body; closed after */
    uint64_t fd_size;
    HttpStream *stream;         /* non-NULL: the answer comes from the stream (see below) */
    bool stream_sse;            /* true: 200 text/event-stream now; false: one deferred body */
} HttpResponse;

/* The dispatch function: fills res from req. Runs on an HTTP thread. */
typedef void (*HttpHandler)(void *user, HttpRequest *req, HttpResponse *res);
/* Called when a response has been sent (or the client went away), with its status and the time
 * from the first byte of the request, for metrics and the access log. */
typedef void (*HttpDoneFn)(void *user, const HttpRequest *req, int status, double seconds);

typedef struct {
    const char *host;           /* "127.0.0.1", "0.0.0.0", "::", a name */
    int port;
    int threads;                /* HTTP threads (>= 1) */
    const char *spool_dir;      /* where multipart uploads are spooled */
    const char *upload_path;    /* the one path whose multipart body is spooled ("/v1/files") */
    HttpHandler handler;
    HttpDoneFn done;
    /* Fills res with the server's error body for a transport-level error (413 body too large,
     * 414 URL too long, 431 headers too large, 500 body not kept) found before the handler runs. */
    void (*error)(void *user, HttpResponse *res, int status, const char *message);
    void *user;
} HttpConfig;

typedef struct HttpServer HttpServer;

/* Binds and starts the threads. ERR_IO naming host:port when it cannot bind. */
int http_start(const HttpConfig *cfg, HttpServer **out, Err *err);
/* Stops accepting, waits for running requests, releases everything (NULL is a no-op). Streams
 * still open must be finished first (http_stream_finish) or they are cut. */
void http_stop(HttpServer *s);
int http_port(const HttpServer *s); /* the bound port (useful with port 0) */

/* Query-string value, or NULL. */
const char *http_query(const HttpRequest *req, const char *key);
/* Calls fn for every query argument (key, value may be NULL). */
void http_query_each(const HttpRequest *req, void (*fn)(void *user, const char *key, const char *value), void *user);
/* Request header value (case-insensitive name), or NULL. A value may hold NUL bytes: http_header
 * gives it to the first one, http_header_n the whole value and its length in *len. */
const char *http_header(const HttpRequest *req, const char *name);
const char *http_header_n(const HttpRequest *req, const char *name, size_t *len);

/* Response helpers: take ownership of body (heap). */
void http_respond(HttpResponse *res, int status, const char *content_type, char *body, size_t len);

/* ---- streams: produced on another thread, sent by the HTTP layer ----
 * A stream is shared by the producer and the connection; each side releases its reference once
 * (the producer with http_stream_finish, the connection when it is done with it). */
HttpStream *http_stream_new(void);
/* Appends bytes to an SSE stream (the connection is woken up). Returns non-zero when the client
 * has gone away: the producer should stop. */
int http_stream_write(HttpStream *s, const char *data, size_t len);
/* True when the client has gone away (the producer may stop early). */
bool http_stream_cancelled(HttpStream *s);
/* Records the server-side cause of a failure answered through the stream, for the access log
 * (HttpRequest.cause); call before http_stream_finish. */
void http_stream_cause(HttpStream *s, const char *cause);
/* Ends the stream and drops the producer's reference. For a deferred response, status and body
 * (heap, taken) are the answer; for SSE they are ignored (body freed). */
void http_stream_finish(HttpStream *s, int status, char *body, size_t len);

#endif
