/* hub_http.h: HTTP to a Hugging Face Hub (or a server laid out like it) through libcurl: the
 * endpoint and token from the environment as the huggingface_hub library reads them (HF_ENDPOINT,
 * HF_TOKEN), JSON GETs with the Hub's paging, and resumable file downloads. Errors say what the Hub
 * said (its X-Error-Code / X-Error-Message headers: repository, revision or file not found, gated)
 * and name the URL. Knows nothing of repositories' layout (hub_repo.h) or of where files go
 * (hub_pull.h). */
#ifndef FTUNE_HUB_HTTP_H
#define FTUNE_HUB_HTTP_H

#include <stddef.h>

#include "../core/err.h"

#define HUB_DEFAULT_ENDPOINT "https://huggingface.co"
#define HUB_URL_MAX 4096
#define HUB_RETRIES 4 /* tries after the first of a download whose connection dropped */

typedef struct {
    char endpoint[1024]; /* without a trailing slash */
    char token[1024];    /* "" when none: then no Authorization header is sent */
    double retry_wait_s; /* the wait before the first retry, doubled after each (default 1 s) */
} HubConfig;

/* HF_ENDPOINT (default HUB_DEFAULT_ENDPOINT) and HF_TOKEN, as huggingface_hub reads them;
 * FTUNE_HUB_RETRY_WAIT_S: the first wait before retrying a dropped download (seconds). */
void hub_config_from_env(HubConfig *c);

/* The kind of failure, for callers that treat "not found" apart. */
enum { HUB_FAILED = -1, HUB_NOT_FOUND = -2 };

/* GET url; on a 2xx answer *body (NUL-terminated, caller frees) and, when the answer pages on
 * (a Link header with rel="next"), next_url, else next_url = "". what names the thing asked for in
 * errors ("repository X"). Returns 0, HUB_NOT_FOUND (401/404: the Hub answers 401 for a repository
 * that does not exist or is private) or HUB_FAILED, err saying which. */
int hub_get(const HubConfig *c, const char *url, const char *what, char **body, char *next_url, size_t next_cap,
            Err *err);

/* Called as bytes arrive: done counts what path holds so far (resumed bytes included). */
typedef void (*HubProgressFn)(void *ctx, long long done, long long total);

/* Downloads url into path. Bytes already in path are a partial download: the request asks for the
 * rest (an HTTP Range); a server that answers with the whole file instead starts it over. A
 * dropped or stalled connection is retried up to HUB_RETRIES times from where it stopped; what was
 * received stays in path for a later call to resume. total: the size the listing published (-1 if
 * unknown), for progress and to know a partial file that is already whole. */
int hub_download(const HubConfig *c, const char *url, const char *path, long long total, HubProgressFn progress,
                 void *ctx, Err *err);

/* url-escapes s into out: every byte but unreserved ones, and '/' too unless keep_slash. */
int hub_escape(const char *s, int keep_slash, char *out, size_t cap);

#endif
