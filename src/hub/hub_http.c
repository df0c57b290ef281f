/* hub_http.c: libcurl GETs and resumable downloads against a Hub endpoint (see hub_http.h). */
#include "hub_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../core/clock.h"

#define ERROR_BODY_MAX 2048

void hub_config_from_env(HubConfig *c) {
    memset(c, 0, sizeof *c);
    const char *ep = getenv("HF_ENDPOINT"), *token = getenv("HF_TOKEN");
    snprintf(c->endpoint, sizeof c->endpoint, "%s", ep && *ep ? ep : HUB_DEFAULT_ENDPOINT);
    size_t n = strlen(c->endpoint);
    while (n > 0 && c->endpoint[n - 1] == '/') c->endpoint[--n] = 0;
    if (token) snprintf(c->token, sizeof c->token, "%s", token);
    const char *wait = getenv("FTUNE_HUB_RETRY_WAIT_S");
    c->retry_wait_s = wait && atof(wait) > 0 ? atof(wait) : 1.0;
}

int hub_escape(const char *s, int keep_slash, char *out, size_t cap) {
    static const char HEX[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                     strchr("-._~", *p) || (keep_slash && *p == '/');
        if (o + (plain ? 1 : 3) >= cap) return -1;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = HEX[*p >> 4];
            out[o++] = HEX[*p & 15];
        }
    }
    out[o] = 0;
    return 0;
}

/* What one transfer saw: the last answer's status line and the headers that matter. */
typedef struct {
    long status;
    char error_code[128];    /* X-Error-Code */
    char error_message[512]; /* X-Error-Message */
    char next_url[HUB_URL_MAX];
    char *body; /* a GET's body, or an error answer's first ERROR_BODY_MAX bytes */
    size_t body_len, body_cap;
    /* downloads */
    FILE *file;
    const char *path;
    long long offset; /* bytes path held when this try started */
    long long written;
    bool write_failed;
    int write_errno;
    HubProgressFn progress;
    void *ctx;
    long long total;
} Transfer;

static void trim_value(const char *v, size_t n, char *out, size_t cap) {
    while (n > 0 && (*v == ' ' || *v == '\t')) v++, n--;
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ')) n--;
    snprintf(out, cap, "%.*s", (int)n, v);
}

/* The rel="next" target of a Link header value: <url>; rel="next", ... */
static void parse_link_next(const char *v, size_t n, char *out, size_t cap) {
    char buf[HUB_URL_MAX + 64];
    trim_value(v, n, buf, sizeof buf);
    for (char *part = buf; part && *part;) {
        char *end = strchr(part, ',');
        if (end) *end = 0;
        char *lt = strchr(part, '<'), *gt = lt ? strchr(lt, '>') : NULL;
        if (lt && gt && strstr(gt, "rel=\"next\"")) {
            snprintf(out, cap, "%.*s", (int)(gt - lt - 1), lt + 1);
            return;
        }
        part = end ? end + 1 : NULL;
    }
}

static size_t on_header(char *line, size_t size, size_t count, void *user) {
    Transfer *t = user;
    size_t n = size * count;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) { /* a new answer (after a redirect): forget the last */
        t->error_code[0] = t->error_message[0] = t->next_url[0] = 0;
        return n;
    }
    const char *colon = memchr(line, ':', n);
    if (!colon) return n;
    size_t key = (size_t)(colon - line), rest = n - key - 1;
    if (key == 12 && strncasecmp(line, "X-Error-Code", 12) == 0)
        trim_value(colon + 1, rest, t->error_code, sizeof t->error_code);
    else if (key == 15 && strncasecmp(line, "X-Error-Message", 15) == 0)
        trim_value(colon + 1, rest, t->error_message, sizeof t->error_message);
    else if (key == 4 && strncasecmp(line, "Link", 4) == 0)
        parse_link_next(colon + 1, rest, t->next_url, sizeof t->next_url);
    return n;
}

static bool keep_body(Transfer *t, const char *data, size_t n, size_t max) {
    if (t->body_len + n + 1 > t->body_cap) {
        if (t->body_len + n + 1 > max) n = max > t->body_len + 1 ? max - t->body_len - 1 : 0;
        size_t cap = t->body_cap ? t->body_cap : 4096;
        while (cap < t->body_len + n + 1) cap *= 2;
        char *b = realloc(t->body, cap);
        if (!b) return false;
        t->body = b;
        t->body_cap = cap;
    }
    memcpy(t->body + t->body_len, data, n);
    t->body_len += n;
    t->body[t->body_len] = 0;
    return true;
}

static long current_status(CURL *curl) {
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static size_t on_get_body(char *data, size_t size, size_t count, void *user) {
    Transfer *t = user;
    return keep_body(t, data, size * count, (size_t)1 << 30) ? size * count : 0;
}

static CURL *start(const HubConfig *c, const char *url, Transfer *t, struct curl_slist **headers) {
    CURL *curl = curl_easy_init();
    if (!curl) return NULL;
    *headers = NULL;
    if (c->token[0]) {
        char auth[1100];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
        /* libcurl sends a custom Authorization header to the first host only, never after a
         * redirect to another one (the Hub's LFS files are served from a CDN) */
        *headers = curl_slist_append(*headers, auth);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, *headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "ftune");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a connection silent for a minute is dead */
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, t);
    return curl;
}

static void finish(CURL *curl, struct curl_slist *headers) {
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
}

/* The error for an answer that is not 2xx: what the Hub's headers say, else the status and body. */
static int answer_error(const Transfer *t, const char *url, const char *what, Err *err) {
    const char *code = t->error_code, *msg = t->error_message;
    if (strcmp(code, "RepositoryNotFound") == 0 || (t->status == 401 && !code[0]))
        return err_set(err, ERR_ARG, "%s: not found (or private or gated: set HF_TOKEN to a token that can read it)%s%s",
                       what, msg[0] ? ": " : "", msg), HUB_NOT_FOUND;
    if (strcmp(code, "RevisionNotFound") == 0 || strcmp(code, "EntryNotFound") == 0 || t->status == 404)
        return err_set(err, ERR_ARG, "%s: not found%s%s", what, msg[0] ? ": " : "", msg), HUB_NOT_FOUND;
    if (strcmp(code, "GatedRepo") == 0)
        return err_set(err, ERR_ARG, "%s: gated: accept its conditions on the Hub and set HF_TOKEN%s%s", what,
                       msg[0] ? ": " : "", msg);
    char body[200] = "";
    if (t->body && !msg[0]) snprintf(body, sizeof body, ": %.150s", t->body);
    return err_set(err, ERR_IO, "%s: HTTP %ld from %s%s%s%s", what, t->status, url, msg[0] ? ": " : "", msg, body);
}

int hub_get(const HubConfig *c, const char *url, const char *what, char **body, char *next_url, size_t next_cap,
            Err *err) {
    *body = NULL;
    if (next_cap) next_url[0] = 0;
    Transfer t = {0};
    struct curl_slist *headers;
    CURL *curl = start(c, url, &t, &headers);
    if (!curl) return err_set(err, ERR_NOMEM, "cannot start an HTTP client");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_get_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    CURLcode cc = curl_easy_perform(curl);
    t.status = current_status(curl);
    finish(curl, headers);
    int rc = 0;
    if (cc != CURLE_OK) rc = err_set(err, ERR_IO, "%s: %s: %s", what, url, curl_easy_strerror(cc));
    else if (t.status < 200 || t.status >= 300) rc = answer_error(&t, url, what, err);
    if (rc) {
        free(t.body);
        return rc;
    }
    *body = t.body ? t.body : strdup("");
    if (next_cap) snprintf(next_url, next_cap, "%s", t.next_url);
    return 0;
}

/* The body of a download: to the file for 200/206 (a 200 to a ranged request starts it over), to
 * memory for an error answer; a redirect's own body is dropped. */
static size_t on_file_body(char *data, size_t size, size_t count, void *user) {
    Transfer *t = user;
    size_t n = size * count;
    if (t->status == 0) return n; /* set by on_download_header before any body */
    if (t->status >= 300 && t->status < 400) return n;
    if (t->status != 200 && t->status != 206) return keep_body(t, data, n, ERROR_BODY_MAX) ? n : 0;
    if (!t->file) {
        t->file = fopen(t->path, t->status == 206 ? "ab" : "wb");
        if (!t->file) {
            t->write_failed = true;
            t->write_errno = errno;
            return 0;
        }
        if (t->status == 200) t->offset = 0;
    }
    if (fwrite(data, 1, n, t->file) != n) {
        t->write_failed = true;
        t->write_errno = errno;
        return 0;
    }
    t->written += (long long)n;
    if (t->progress) t->progress(t->ctx, t->offset + t->written, t->total);
    return n;
}

/* Notes each answer's status from its status line, so that on_file_body knows where bytes go. */
static size_t on_download_header(char *line, size_t size, size_t count, void *user) {
    Transfer *t = user;
    size_t n = size * count;
    int major, minor;
    long status;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0 &&
        (sscanf(line, "HTTP/%d.%d %ld", &major, &minor, &status) == 3 || sscanf(line, "HTTP/%d %ld", &major, &status) == 2))
        t->status = status;
    return on_header(line, size, count, user);
}

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static bool transient(CURLcode cc, long status) {
    if (cc == CURLE_OK) return status == 429 || status >= 500;
    return cc == CURLE_PARTIAL_FILE || cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR ||
           cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_GOT_NOTHING || cc == CURLE_COULDNT_CONNECT ||
           cc == CURLE_HTTP2 || cc == CURLE_HTTP2_STREAM;
}

int hub_download(const HubConfig *c, const char *url, const char *path, long long total, HubProgressFn progress,
                 void *ctx, Err *err) {
    double wait = c->retry_wait_s > 0 ? c->retry_wait_s : 1.0;
    for (int attempt = 0;; attempt++) {
        long long have = file_size(path);
        if (total >= 0 && have == total) return 0; /* a partial download that was already whole */
        if (total >= 0 && have > total) {          /* not a prefix of this file: start over */
            if (remove(path) != 0 && errno != ENOENT) return err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
            have = 0;
        }
        Transfer t = {.path = path, .offset = have, .progress = progress, .ctx = ctx, .total = total};
        struct curl_slist *headers;
        CURL *curl = start(c, url, &t, &headers);
        if (!curl) return err_set(err, ERR_NOMEM, "cannot start an HTTP client");
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_download_header);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_file_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
        if (have > 0) curl_easy_setopt(curl, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)have);
        CURLcode cc = curl_easy_perform(curl);
        long status = current_status(curl);
        finish(curl, headers);
        t.status = status;
        bool closed_ok = !t.file || fclose(t.file) == 0;
        int rc = 0;
        if (t.write_failed || !closed_ok)
            rc = err_set(err, ERR_IO, "%s: cannot write: %s", path, strerror(t.write_failed ? t.write_errno : errno));
        else if (cc == CURLE_OK && (status == 200 || status == 206))
            rc = 0;
        else if (cc == CURLE_OK && status == 416 && have > 0 && total < 0) /* nothing past what we have */
            rc = 0;
        else if (cc == CURLE_OK && status == 416 && have > 0) { /* shorter than published, yet refused */
            remove(path);
            rc = err_set(err, ERR_IO, "%s: the server refused to resume at byte %lld of %lld", url, have, total);
        }
        else if (attempt < HUB_RETRIES && transient(cc, status))
            rc = 1;
        else if (cc != CURLE_OK)
            rc = err_set(err, ERR_IO, "%s: %s (%lld bytes kept in %s: run again to resume)", url,
                         curl_easy_strerror(cc), file_size(path), path);
        else
            rc = answer_error(&t, url, url, err);
        free(t.body);
        if (rc != 1) return rc;
        clock_sleep_s(wait);
        wait *= 2;
    }
}
