/* routes_console.c: serves the web console's embedded files (console.h): GET / is index.html,
 * GET /console/NAME one of the files by its base name, with its content type, an ETag (a
 * matching If-None-Match gets 304) and Cache-Control: no-cache (the browser revalidates, so a new
 * binary's pages are used at once), and a Content-Security-Policy that lets the pages load only
 * their own files and talk only to this server. No key is needed: the pages hold no data; they
 * ask for the key and send it on their /v1 calls. Nothing else is served from here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "routes.h"

#define CONSOLE_INDEX "index.html"
#define CONSOLE_CSP                                                                                             \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "     \
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

static const char *content_type(const char *name) {
    static const struct {
        const char *ext, *type;
    } TYPES[] = {{".html", "text/html; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".svg", "image/svg+xml"}};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (strcmp(dot, TYPES[i].ext) == 0) return TYPES[i].type;
    return "application/octet-stream";
}

static void serve_asset(Ctx *c, const char *name) {
    const ConsoleAsset *a = NULL;
    for (int i = 0; i < CONSOLE_N_ASSETS && !a; i++)
        if (strcmp(CONSOLE_ASSETS[i].name, name) == 0) a = &CONSOLE_ASSETS[i];
    if (!a) {
        api_errorf(c, 404, "invalid_request_error", NULL, "unknown_url", "Unknown request URL: %s %s.",
                   c->req->method, c->req->path);
        return;
    }
    HttpResponse *r = c->res;
    snprintf(r->cache_control, sizeof r->cache_control, "no-cache");
    snprintf(r->etag, sizeof r->etag, "%s", a->etag);
    r->csp = CONSOLE_CSP;
    const char *match = http_header(c->req, "If-None-Match");
    if (match && strstr(match, a->etag)) {
        http_respond(r, 304, NULL, NULL, 0);
        return;
    }
    char *body = malloc(a->len);
    if (!body) {
        api_errorf(c, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    memcpy(body, a->data, a->len);
    http_respond(r, 200, content_type(a->name), body, a->len);
}

void route_console_index(Ctx *c) { serve_asset(c, CONSOLE_INDEX); }

void route_console_asset(Ctx *c) { serve_asset(c, c->req->params[0]); }
