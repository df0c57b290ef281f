/* server.c: `ftune serve` put together (see server.h): start-up and shutdown order, the route
 * table and its matching, who may call each route (keys: auth.c), per-thread store connections,
 * /health and /metrics, the web console's pages (routes_console.c), and the access log's feed
 * (access_log.c). */
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/clock.h"
#include "../core/fileio.h"
#include "auth.h"
#include "eval_runner.h"
#include "routes.h"
#include "vector_stores.h"

typedef void (*RouteFn)(Ctx *c);

/* Who may call a route: anyone (no key needed), any key, a key that acts in a project (not an
 * admin key), or a key that may manage projects and keys. */
typedef enum { ROUTE_PUBLIC, ROUTE_ANY_KEY, ROUTE_PROJECT, ROUTE_ADMIN } RouteAccess;

typedef struct {
    const char *method;
    const char *pattern; /* "{}" matches one path segment */
    RouteFn fn;
    RouteAccess access;
} Route;

static void route_health(Ctx *c);
static void route_metrics(Ctx *c);

static const Route ROUTES[] = {
    {"GET", "/", route_console_index, ROUTE_PUBLIC},
    {"GET", "/console/{}", route_console_asset, ROUTE_PUBLIC},
    {"GET", "/health", route_health, ROUTE_PUBLIC},
    {"GET", "/metrics", route_metrics, ROUTE_ANY_KEY},
    {"POST", "/v1/files", route_files_create, ROUTE_PROJECT},
    {"GET", "/v1/files", route_files_list, ROUTE_PROJECT},
    {"GET", "/v1/files/{}", route_files_get, ROUTE_PROJECT},
    {"DELETE", "/v1/files/{}", route_files_delete, ROUTE_PROJECT},
    {"GET", "/v1/files/{}/content", route_files_content, ROUTE_PROJECT},
    {"GET", "/v1/files/{}/validation", route_files_validation, ROUTE_PROJECT},
    {"POST", "/v1/fine_tuning/jobs", route_jobs_create, ROUTE_PROJECT},
    {"GET", "/v1/fine_tuning/jobs", route_jobs_list, ROUTE_PROJECT},
    {"GET", "/v1/fine_tuning/jobs/{}", route_jobs_get, ROUTE_PROJECT},
    {"POST", "/v1/fine_tuning/jobs/{}/cancel", route_jobs_cancel, ROUTE_PROJECT},
    {"POST", "/v1/fine_tuning/jobs/{}/pause", route_jobs_pause, ROUTE_PROJECT},
    {"POST", "/v1/fine_tuning/jobs/{}/resume", route_jobs_resume, ROUTE_PROJECT},
    {"GET", "/v1/fine_tuning/jobs/{}/events", route_jobs_events, ROUTE_PROJECT},
    {"GET", "/v1/fine_tuning/jobs/{}/checkpoints", route_jobs_checkpoints, ROUTE_PROJECT},
    {"GET", "/v1/models", route_models_list, ROUTE_PROJECT},
    {"GET", "/v1/models/{}", route_models_get, ROUTE_PROJECT},
    {"DELETE", "/v1/models/{}", route_models_delete, ROUTE_PROJECT},
    {"GET", "/v1/models/{}/export", route_models_export, ROUTE_PROJECT},
    {"POST", "/v1/chat/completions", route_chat_completions, ROUTE_PROJECT},
    {"POST", "/v1/embeddings", route_embeddings, ROUTE_PROJECT},
    {"POST", "/v1/vector_stores", route_vector_stores_create, ROUTE_PROJECT},
    {"GET", "/v1/vector_stores", route_vector_stores_list, ROUTE_PROJECT},
    {"GET", "/v1/vector_stores/{}", route_vector_stores_get, ROUTE_PROJECT},
    {"POST", "/v1/vector_stores/{}", route_vector_stores_modify, ROUTE_PROJECT},
    {"DELETE", "/v1/vector_stores/{}", route_vector_stores_delete, ROUTE_PROJECT},
    {"POST", "/v1/vector_stores/{}/search", route_vector_stores_search, ROUTE_PROJECT},
    {"POST", "/v1/vector_stores/{}/files", route_vector_store_files_create, ROUTE_PROJECT},
    {"GET", "/v1/vector_stores/{}/files", route_vector_store_files_list, ROUTE_PROJECT},
    {"GET", "/v1/vector_stores/{}/files/{}", route_vector_store_files_get, ROUTE_PROJECT},
    {"POST", "/v1/vector_stores/{}/files/{}", route_vector_store_files_update, ROUTE_PROJECT},
    {"GET", "/v1/vector_stores/{}/files/{}/content", route_vector_store_files_content, ROUTE_PROJECT},
    {"DELETE", "/v1/vector_stores/{}/files/{}", route_vector_store_files_delete, ROUTE_PROJECT},
    {"POST", "/v1/vector_stores/{}/file_batches", route_vector_store_batches_create, ROUTE_PROJECT},
    {"GET", "/v1/vector_stores/{}/file_batches/{}", route_vector_store_batches_get, ROUTE_PROJECT},
    {"POST", "/v1/vector_stores/{}/file_batches/{}/cancel", route_vector_store_batches_cancel, ROUTE_PROJECT},
    {"GET", "/v1/vector_stores/{}/file_batches/{}/files", route_vector_store_batches_files, ROUTE_PROJECT},
    {"POST", "/v1/responses", route_responses_create, ROUTE_PROJECT},
    {"GET", "/v1/responses/{}", route_responses_get, ROUTE_PROJECT},
    {"DELETE", "/v1/responses/{}", route_responses_delete, ROUTE_PROJECT},
    {"GET", "/v1/responses/{}/input_items", route_responses_input_items, ROUTE_PROJECT},
    {"POST", "/v1/responses/{}/cancel", route_responses_cancel, ROUTE_PROJECT},
    {"POST", "/v1/evals", route_evals_create, ROUTE_PROJECT},
    {"GET", "/v1/evals", route_evals_list, ROUTE_PROJECT},
    {"GET", "/v1/evals/{}", route_evals_get, ROUTE_PROJECT},
    {"POST", "/v1/evals/{}", route_evals_update, ROUTE_PROJECT},
    {"DELETE", "/v1/evals/{}", route_evals_delete, ROUTE_PROJECT},
    {"POST", "/v1/evals/{}/runs", route_eval_runs_create, ROUTE_PROJECT},
    {"GET", "/v1/evals/{}/runs", route_eval_runs_list, ROUTE_PROJECT},
    {"GET", "/v1/evals/{}/runs/{}", route_eval_runs_get, ROUTE_PROJECT},
    {"POST", "/v1/evals/{}/runs/{}", route_eval_runs_cancel, ROUTE_PROJECT},        /* the API reference's */
    {"POST", "/v1/evals/{}/runs/{}/cancel", route_eval_runs_cancel, ROUTE_PROJECT}, /* the SDK's */
    {"DELETE", "/v1/evals/{}/runs/{}", route_eval_runs_delete, ROUTE_PROJECT},
    {"GET", "/v1/evals/{}/runs/{}/output_items", route_eval_items_list, ROUTE_PROJECT},
    {"GET", "/v1/evals/{}/runs/{}/output_items/{}", route_eval_items_get, ROUTE_PROJECT},
    {"POST", "/v1/fine_tuning/alpha/graders/run", route_graders_run, ROUTE_PROJECT},
    {"POST", "/v1/fine_tuning/alpha/graders/validate", route_graders_validate, ROUTE_PROJECT},
    {"GET", "/v1/organization/projects", route_admin_projects_list, ROUTE_ADMIN},
    {"POST", "/v1/organization/projects", route_admin_projects_create, ROUTE_ADMIN},
    {"GET", "/v1/organization/projects/{}", route_admin_projects_get, ROUTE_ADMIN},
    {"GET", "/v1/organization/projects/{}/api_keys", route_admin_keys_list, ROUTE_ADMIN},
    {"POST", "/v1/organization/projects/{}/api_keys", route_admin_keys_create, ROUTE_ADMIN},
    {"GET", "/v1/organization/projects/{}/api_keys/{}", route_admin_keys_get, ROUTE_ADMIN},
    {"DELETE", "/v1/organization/projects/{}/api_keys/{}", route_admin_keys_delete, ROUTE_ADMIN},
};
#define N_ROUTES (int)(sizeof ROUTES / sizeof ROUTES[0])

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

/* Matches path against pattern; the {} segments are copied into buf and pointed to by params. */
static bool route_match(const char *pattern, const char *path, char *buf, size_t cap, const char **params, int *n) {
    *n = 0;
    size_t used = 0;
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/') return false;
        pattern++, path++;
        const char *pend = strchr(pattern, '/'), *send = strchr(path, '/');
        size_t plen = pend ? (size_t)(pend - pattern) : strlen(pattern);
        size_t slen = send ? (size_t)(send - path) : strlen(path);
        if (plen == 2 && strncmp(pattern, "{}", 2) == 0) {
            if (slen == 0 || used + slen + 1 > cap || *n >= HTTP_MAX_PATH_PARAMS) return false;
            memcpy(buf + used, path, slen);
            buf[used + slen] = 0;
            params[(*n)++] = buf + used;
            used += slen + 1;
        } else if (plen != slen || strncmp(pattern, path, plen) != 0) {
            return false;
        }
        pattern += plen;
        path += slen;
    }
    if (strcmp(path, "/") == 0 && !*pattern) return true; /* a trailing slash */
    return !*pattern && !*path;
}

static void free_store(void *s) { store_close(s); }

static Store *thread_store(Server *srv, Err *err) {
    Store *s = pthread_getspecific(srv->store_key);
    if (s) return s;
    if (store_open(srv->data_dir, srv->cfg.database, &s, err)) return NULL;
    pthread_setspecific(srv->store_key, s);
    return s;
}

/* Identifies the caller into req->key_id / req->project (auth.h); answers 401, 403 or 500 and
 * returns false when the request goes no further. */
static bool admit(Ctx *c, const Route *route) {
    Server *srv = c->srv;
    HttpRequest *req = c->req;
    size_t len;
    const char *auth = http_header_n(req, "Authorization", &len);
    Principal who;
    Err err = {0};
    int rc = auth_identify(c->store, srv->cfg.api_keys, srv->cfg.n_api_keys, auth, len, &who, &err);
    if (rc < 0) {
        api_server_error(c, "the API keys could not be read", &err);
        return false;
    }
    if (rc == AUTH_DENIED) {
        api_errorf(c, 401, "invalid_request_error", NULL, "invalid_api_key",
                   "Incorrect API key provided. Pass an active key of this server as 'Authorization: Bearer KEY'.");
        return false;
    }
    snprintf(req->key_id, sizeof req->key_id, "%s", who.key_id);
    snprintf(req->project, sizeof req->project, "%s", who.project);
    c->project = req->project;
    if (route && route->access == ROUTE_ADMIN && !who.admin) {
        api_errorf(c, 403, "invalid_request_error", NULL, "insufficient_permissions",
                   "This endpoint manages projects and API keys: it needs an admin key (ftune keys create --admin) "
                   "or one of the server's --api-key keys.");
        return false;
    }
    if (route && route->access == ROUTE_PROJECT && !who.project[0]) {
        api_errorf(c, 403, "invalid_request_error", NULL, "insufficient_permissions",
                   "Admin keys only manage projects and API keys (/v1/organization/...): use a project's key here.");
        return false;
    }
    return true;
}

static void handle(void *user, HttpRequest *req, HttpResponse *res) {
    Server *srv = user;
    Ctx c = {srv, req, res, NULL, ""};
    char buf[1024];
    const Route *found = NULL;
    char allow[sizeof res->allow] = ""; /* the methods of the path, for a 405's Allow header */
    for (int i = 0; i < N_ROUTES && !found; i++) {
        if (!route_match(ROUTES[i].pattern, req->path, buf, sizeof buf, req->params, &req->n_params)) continue;
        if (strcmp(ROUTES[i].method, req->method) == 0) found = &ROUTES[i];
        else if (!strstr(allow, ROUTES[i].method)) {
            size_t n = strlen(allow);
            snprintf(allow + n, sizeof allow - n, "%s%s", n ? ", " : "", ROUTES[i].method);
        }
    }
    req->route = found ? found->pattern : "unmatched";
    if (found && found->access == ROUTE_PUBLIC) {
        found->fn(&c);
        return;
    }
    Err err = {0};
    c.store = thread_store(srv, &err);
    if (!c.store) {
        api_server_error(&c, "the database could not be opened", &err);
        return;
    }
    if (!admit(&c, found)) return;
    int wait = rate_limiter_take(srv->limiter, req->key_id, clock_now_s());
    if (wait > 0) {
        api_errorf(&c, 429, "requests", NULL, "rate_limit_exceeded",
                   "Rate limit reached: %d requests per minute for this API key. Retry after %d s.", srv->cfg.rate_limit,
                   wait);
        res->retry_after = wait;
        return;
    }
    if (!found) {
        if (allow[0]) {
            api_errorf(&c, 405, "invalid_request_error", NULL, "method_not_allowed",
                       "Method %s is not allowed on %s (allowed: %s).", req->method, req->path, allow);
            snprintf(res->allow, sizeof res->allow, "%s", allow);
        } else
            api_errorf(&c, 404, "invalid_request_error", NULL, "unknown_url", "Unknown request URL: %s %s.",
                       req->method, req->path);
        return;
    }
    found->fn(&c);
}

static void on_done(void *user, const HttpRequest *req, int status, double seconds) {
    Server *srv = user;
    metrics_record_request(srv->metrics, req->method, req->route ? req->route : "unmatched", status, seconds);
    access_log_write(srv->access_log, req, status, seconds);
}

static void on_http_error(void *user, HttpResponse *res, int status, const char *message) {
    (void)user;
    ApiError e = {.status = status, .type = status >= 500 ? "server_error" : "invalid_request_error"};
    snprintf(e.message, sizeof e.message, "%s", message);
    if (status == 400) snprintf(e.code, sizeof e.code, "invalid_header");
    if (status == 413) snprintf(e.code, sizeof e.code, "request_too_large");
    if (status == 414) snprintf(e.code, sizeof e.code, "url_too_long");
    if (status == 431) snprintf(e.code, sizeof e.code, "headers_too_large");
    size_t len;
    char *body = api_error_json(&e, &len);
    http_respond(res, status, "application/json", body, len);
}

static void route_health(Ctx *c) {
    char *body = strdup("{\"status\":\"ok\"}");
    http_respond(c->res, 200, "application/json", body, body ? strlen(body) : 0);
}

static void route_metrics(Ctx *c) {
    size_t len;
    InferStats st;
    inference_stats(c->srv->inference, &st);
    char *text = metrics_render(c->srv->metrics, c->store, &st, &len);
    http_respond(c->res, 200, "text/plain; version=0.0.4", text, len);
}

/* Takes the data directory's lock (DATA/lock, flock exclusive, held until the process ends or
 * *fd is closed): two servers on one directory would both train its jobs and write the same
 * files. -1 with err naming the directory when another process holds it. */
/* The directory of this node's own files, which no other node shares: the data directory on
 * SQLite (one server per data directory), <data>/nodes/<node id> on PostgreSQL (several API nodes
 * and workers share the data directory on shared storage, each with its own lock and spool). */
static int node_dir(const ServerConfig *cfg, const char *data_dir, const char *node_id, char *out, size_t size,
                    Err *err) {
    if (!cfg->database) {
        snprintf(out, size, "%s", data_dir);
        return 0;
    }
    if (snprintf(out, size, "%s/nodes/%s", data_dir, node_id) >= (int)size)
        return err_set(err, ERR_ARG, "%s/nodes/%s: path too long", data_dir, node_id);
    return file_make_dirs(out, 0700, err);
}

/* The spool of partial uploads: <dir>/tmp. */
static int spool_in(Server *srv, const char *dir, Err *err) {
    if (snprintf(srv->spool_dir, sizeof srv->spool_dir, "%s/tmp", dir) >= (int)sizeof srv->spool_dir)
        return err_set(err, ERR_ARG, "%s/tmp: path too long", dir);
    return 0;
}

static int lock_data_dir(const char *dir, int *fd, Err *err) {
    char path[2400];
    snprintf(path, sizeof path, "%s/%s", dir, SERVER_LOCK_FILE);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0) return err_set(err, ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) == 0) return 0;
    int e = errno;
    close(*fd);
    *fd = -1;
    if (e == EWOULDBLOCK)
        return err_set(err, ERR_IO, "%s is in use by another ftune serve (it holds %s): stop it, or pass another --data",
                       dir, path);
    return err_set(err, ERR_IO, "%s: cannot lock: %s", path, strerror(e));
}

/* The precision every loaded model runs at (ftune.h), and why, into why (FT_PRECISION_WHY_MAX). */
static int resolve_precision(int want, FtPrecision *got, char *why, Err *err) {
    FtError fe = {0};
    if (ft_precision_resolve((FtPrecision)want, got, why, &fe)) return err_set(err, fe.code, "--precision: %s", fe.msg);
    return 0;
}

/* Removes the partial uploads (HTTP_SPOOL_PREFIX*) that a killed server left in the spool
 * directory; the data directory's lock says no other server is writing there. */
static void sweep_spool(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, HTTP_SPOOL_PREFIX, strlen(HTTP_SPOOL_PREFIX)) == 0 &&
            unlinkat(dirfd(d), e->d_name, 0) == 0)
            n++;
    closedir(d);
    if (n) fprintf(stderr, "ftune serve: removed %d partial upload%s left in %s\n", n, n == 1 ? "" : "s", dir);
}

static int make_dir(const char *path, Err *err) {
    if (mkdir(path, 0700) != 0 && errno != EEXIST) return err_set(err, ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    return 0;
}

/* The access log: cfg->access_log, or <data>/access.log. */
static int open_access_log(Server *srv, Err *err) {
    char path[2200];
    if (srv->cfg.access_log) snprintf(path, sizeof path, "%s", srv->cfg.access_log);
    else snprintf(path, sizeof path, "%s/%s", srv->data_dir, ACCESS_LOG_FILE);
    return access_log_open(path, &srv->access_log, err);
}

int server_run(const ServerConfig *cfg, Err *err) {
    umask(077); /* the data directory, database, blobs and job files are the server owner's alone */
    Server *srv = calloc(1, sizeof *srv);
    if (!srv) return err_set(err, ERR_NOMEM, "out of memory");
    srv->cfg = *cfg;
    if (!srv->cfg.host) srv->cfg.host = "127.0.0.1";
    snprintf(srv->data_dir, sizeof srv->data_dir, "%s", cfg->data_dir);
    snprintf(srv->spool_dir, sizeof srv->spool_dir, "%s/tmp", srv->data_dir);
    int rc = -1, lock_fd = -1;
    FtPrecision precision;
    Store *main_store = NULL;
    pthread_key_create(&srv->store_key, free_store);
    srv->metrics = metrics_new();
    srv->limiter = rate_limiter_new(cfg->rate_limit);
    /* the data directory and its lock first, then the store: the database is there (or the
     * directory is new), it opens, and it is not corrupt */
    if (cfg->rate_limit > 0 && !srv->limiter) {
        err_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    char own_dir[2300];
    jobs_node_id(cfg->node_id, srv->node_id, sizeof srv->node_id);
    if (make_dir(srv->data_dir, err) || node_dir(cfg, srv->data_dir, srv->node_id, own_dir, sizeof own_dir, err) ||
        spool_in(srv, own_dir, err) || lock_data_dir(own_dir, &lock_fd, err) ||
        store_check_presence(srv->data_dir, cfg->database, err) || store_open(srv->data_dir, cfg->database, &main_store, err) ||
        store_check_integrity(main_store, err) || store_vs_fail_in_progress(main_store, err) ||
        make_dir(srv->spool_dir, err) || open_access_log(srv, err))
        goto done;
    sweep_spool(srv->spool_dir);
    Err reserve_err = {0};
    if (store_reserve_ensure(srv->data_dir, &reserve_err))
        fprintf(stderr, "ftune serve: warning: %s: deletes on a full disk may fail until there is room\n",
                reserve_err.msg);
    InferenceConfig ic = {cfg->parallel, cfg->kv_cache_mib > 0 ? (size_t)cfg->kv_cache_mib << 20 : 0, cfg->threads};
    if (store_thread_start(srv->data_dir, cfg->database, &srv->responses_writer, err) ||
        resolve_precision(cfg->precision, &precision, srv->precision, err) ||
        model_cache_new(&srv->cache, precision, true, err) || inference_start(srv->cache, &ic, &srv->inference, err) ||
        embedder_start(cfg->threads, precision, srv->data_dir, cfg->database, &srv->embedder, err))
        goto done;
    srv->vs_cache = vs_cache_new();
    if (!srv->vs_cache) {
        err_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    fprintf(stderr, "ftune serve: precision: %s\n", srv->precision);
    JobsConfig jc = {srv->data_dir, cfg->database, srv->cfg.model_dirs, srv->cfg.n_model_dirs, srv->cache, srv->inference,
                     srv->embedder, cfg->threads, srv->precision, srv->node_id, cfg->lease_s};
    if ((!cfg->no_worker && jobs_start(&jc, &srv->jobs, err)) || eval_runner_start(srv, &srv->evals, err)) goto done;
    if (srv->jobs) fprintf(stderr, "ftune serve: trains jobs as worker %s\n", jobs_worker_id(srv->jobs));
    else fprintf(stderr, "ftune serve: --no-worker: jobs are validated and trained by `ftune worker` processes\n");
    HttpConfig hc = {srv->cfg.host, cfg->port, cfg->http_threads > 0 ? cfg->http_threads : HTTP_THREADS_DEFAULT,
                     srv->spool_dir, "/v1/files", handle, on_done, on_http_error, srv};
    if (http_start(&hc, &srv->http, err)) goto done;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "ftune serve: listening on http://%s:%d/v1 (data in %s, %d model director%s%s)\n", srv->cfg.host,
            http_port(srv->http), srv->data_dir, cfg->n_model_dirs, cfg->n_model_dirs == 1 ? "y" : "ies",
            cfg->n_api_keys ? ", API keys required" : "");
    while (!g_stop) pause();
    fprintf(stderr, "ftune serve: stopping (a running job resumes from its checkpoint at the next start)\n");
    rc = 0;
done:
    /* order: no new requests, then no model work, then free what they used */
    jobs_stop(srv->jobs);
    eval_runner_stop(srv->evals); /* before the inference thread: it waits on its answers */
    inference_stop(srv->inference);
    embedder_stop(srv->embedder);
    vs_cache_free(srv->vs_cache); /* after the embedding thread, its only user */
    store_thread_stop(srv->responses_writer); /* after the inference thread: it hands responses to it */
    http_stop(srv->http);
    model_cache_free(srv->cache);
    store_close(main_store);
    metrics_free(srv->metrics);
    rate_limiter_free(srv->limiter);
    access_log_close(srv->access_log);
    if (lock_fd >= 0) close(lock_fd);
    free(srv);
    return rc;
}
