/* routes_files.c: /v1/files: multipart upload (a fine-tune upload must be JSONL: one JSON object
 * per line, checked before anything is stored), list with purpose/order/after/limit, retrieve,
 * raw content (results files are stored base64-encoded, as OpenAI serves them) and delete. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/fault.h"
#include "../core/fileio.h"
#include "../data/jdoc.h"
#include "../data/validate.h"
#include "multipart.h"
#include "routes.h"

#define FILES_LIST_MAX 10000
#define FILES_QUOTE_MAX 40 /* bytes of a bad line quoted in an error */
#define FILES_EXPIRY_MIN_S 3600      /* expires_after[seconds]: one hour ... */
#define FILES_EXPIRY_MAX_S 2592000   /* ... to 30 days */

static const char *const UPLOAD_PURPOSES[] = {"assistants", "batch", "fine-tune", "vision", "user_data", "evals"};

static void not_found(Ctx *c, const char *id) {
    api_errorf(c, 404, "invalid_request_error", "id", NULL, "No such File object: %s", id);
}

/* Checks that every non-blank line is a JSON object; on the first that is not, fills e. */
static int check_jsonl(const unsigned char *data, size_t len, ApiError *e) {
    JDoc doc;
    jdoc_init(&doc, VALIDATE_VALUES_MAX);
    char *line = NULL;
    size_t cap = 0;
    long number = 0;
    int rc = 0;
    for (size_t pos = 0; pos < len && !rc;) {
        const unsigned char *nl = memchr(data + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos;
        const unsigned char *text = data + pos;
        pos += n + (nl ? 1 : 0);
        number++;
        if (number == 1 && n >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) text += 3, n -= 3; /* BOM */
        if (n && text[n - 1] == '\r') n--;
        size_t k = 0;
        while (k < n && (text[k] == ' ' || text[k] == '\t')) k++;
        if (k == n) continue;
        if (n + 1 > cap) {
            cap = n + 1;
            free(line);
            line = fault_malloc(cap);
            if (!line) return api_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        }
        memcpy(line, text, n);
        line[n] = 0;
        if (jdoc_parse(&doc, line, n) == JDOC_OK && jdoc_type(&doc, 0) == JDOC_OBJECT) continue;
        char quote[FILES_QUOTE_MAX * 4 + 8];
        size_t q = 0;
        for (size_t i = 0; i < n && i < FILES_QUOTE_MAX; i++) {
            unsigned char ch = (unsigned char)line[i];
            q += (size_t)snprintf(quote + q, sizeof quote - q, ch >= 0x20 && ch < 0x7f && ch != '"' ? "%c" : "\\x%02x",
                                  ch);
        }
        rc = api_fail(e, 400, "invalid_request_error", "file", "invalid_file_format",
                      "Invalid file format for Fine-Tuning API. Must be .jsonl with one JSON object per line: line %ld "
                      "is not a JSON object: \"%s%s\"",
                      number, quote, n > FILES_QUOTE_MAX ? "..." : "");
    }
    free(line);
    jdoc_free(&doc);
    return rc;
}

/* The multipart text field name (NUL-terminated into out), or "" when absent; -1 when too long. */
static int field_text(const MultipartPart *parts, int n, const char *name, char *out, size_t cap) {
    const MultipartPart *p = multipart_find(parts, n, name);
    out[0] = 0;
    if (!p) return 0;
    if (p->len >= cap) return -1;
    memcpy(out, p->data, p->len);
    out[p->len] = 0;
    return 0;
}

/* expires_after sent as one JSON form part ({"anchor": "created_at", "seconds": N}) into the text
 * of the two bracket fields. */
static int expiry_from_json(const char *text, char *anchor, size_t anchor_cap, char *secs, size_t secs_cap,
                            ApiError *e) {
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    const char *key;
    json_t *v;
    int rc = json_is_object(o) ? 0 : -1;
    json_object_foreach(o, key, v) {
        if (strcmp(key, "anchor") == 0 && json_is_string(v)) snprintf(anchor, anchor_cap, "%s", json_string_value(v));
        else if (strcmp(key, "seconds") == 0 && json_is_integer(v))
            snprintf(secs, secs_cap, "%lld", (long long)json_integer_value(v));
        else rc = -1;
    }
    json_decref(o);
    if (rc) return api_bad_param(e, "expires_after", "expected {\"anchor\": \"created_at\", \"seconds\": N}.");
    return 0;
}

/* expires_after[anchor] (only "created_at") and expires_after[seconds] (one hour to 30 days), as
 * the SDKs send them, or the same as one JSON part expires_after; *seconds stays 0 without them. */
static int parse_expiry(const MultipartPart *parts, int n, long long *seconds, ApiError *e) {
    char anchor[32], secs[32], json_text[256];
    if (field_text(parts, n, "expires_after[anchor]", anchor, sizeof anchor) ||
        field_text(parts, n, "expires_after[seconds]", secs, sizeof secs) ||
        field_text(parts, n, "expires_after", json_text, sizeof json_text))
        return api_bad_param(e, "expires_after", "too long.");
    if (json_text[0] && (anchor[0] || secs[0]))
        return api_bad_param(e, "expires_after", "sent twice (as expires_after[...] fields and as JSON).");
    if (json_text[0] && expiry_from_json(json_text, anchor, sizeof anchor, secs, sizeof secs, e)) return -1;
    if (!anchor[0] && !secs[0]) return 0;
    if (strcmp(anchor, "created_at") != 0)
        return api_bad_param(e, "expires_after.anchor", "expected 'created_at'.");
    char *end;
    long long v = strtoll(secs, &end, 10);
    if (!secs[0] || *end || v < FILES_EXPIRY_MIN_S || v > FILES_EXPIRY_MAX_S)
        return api_bad_param(e, "expires_after.seconds", "expected an integer from %d to %d.", FILES_EXPIRY_MIN_S,
                             FILES_EXPIRY_MAX_S);
    *seconds = v;
    return 0;
}

void route_files_create(Ctx *c) {
    HttpRequest *req = c->req;
    if (!req->spool_path[0]) {
        api_errorf(c, 400, "invalid_request_error", "file", NULL,
                   "Uploads must be multipart/form-data with a 'file' part and a 'purpose' field.");
        return;
    }
    char boundary[MULTIPART_BOUNDARY_MAX];
    Err err = {0};
    MappedFile body = {0};
    MultipartPart parts[MULTIPART_MAX_PARTS];
    int n = 0;
    if (file_map(req->spool_path, &body, &err)) { /* err names the spool file: for the log only */
        api_server_error(c, "the upload could not be read back", &err);
        return;
    }
    if (multipart_boundary(req->content_type, boundary, sizeof boundary, &err) ||
        multipart_parse(body.data, body.size, boundary, parts, MULTIPART_MAX_PARTS, &n, &err)) {
        file_unmap(&body);
        api_errorf(c, 400, "invalid_request_error", NULL, NULL, "The multipart body could not be read: %s", err.msg);
        return;
    }
    const MultipartPart *purpose = multipart_find(parts, n, "purpose");
    const MultipartPart *file = multipart_find(parts, n, "file");
    char purpose_text[32] = "";
    bool known = false;
    if (purpose && purpose->len < sizeof purpose_text) {
        memcpy(purpose_text, purpose->data, purpose->len);
        purpose_text[purpose->len] = 0;
        for (size_t i = 0; i < sizeof UPLOAD_PURPOSES / sizeof UPLOAD_PURPOSES[0]; i++)
            known |= strcmp(purpose_text, UPLOAD_PURPOSES[i]) == 0;
    }
    ApiError e;
    long long expires_after = 0;
    if (parse_expiry(parts, n, &expires_after, &e)) {
        file_unmap(&body);
        api_error(c, &e);
        return;
    }
    if (!purpose)
        api_fail(&e, 400, "invalid_request_error", "purpose", NULL, "Missing required parameter: 'purpose'.");
    else if (!known)
        api_bad_param(&e, "purpose", "expected one of assistants, batch, fine-tune, vision, user_data, evals.");
    else if (!file)
        api_fail(&e, 400, "invalid_request_error", "file", NULL, "Missing required parameter: 'file'.");
    else if (strcmp(purpose_text, "fine-tune") != 0 || check_jsonl(file->data, file->len, &e) == 0)
        e.status = 0;
    if (e.status) {
        file_unmap(&body);
        api_error(c, &e);
        return;
    }
    FileRecord rec;
    const char *name = file->has_filename && file->filename[0] ? file->filename : "upload";
    int rc = store_file_create(c->store, c->project, name, purpose_text, file->data, file->len, &rec, &err);
    file_unmap(&body);
    if (!rc && expires_after) {
        rec.expires_at = rec.created_at + expires_after;
        rc = store_file_set_expiry(c->store, rec.id, rec.expires_at, &err);
        /* the client gets a 500: the file is not kept (an upload not acknowledged, which would
         * never expire); if it cannot be removed either, it stays without an expiry */
        if (rc) store_file_delete(c->store, rec.id, NULL);
    }
    if (rc) {
        api_server_error(c, "the file could not be stored", &err);
        return;
    }
    api_json(c, 200, api_file_json(&rec));
}

void route_files_list(Ctx *c) {
    ApiError e;
    int limit;
    if (api_query_limit(c->req, FILES_LIST_MAX, FILES_LIST_MAX, &limit, &e)) {
        api_error(c, &e);
        return;
    }
    const char *order = http_query(c->req, "order");
    if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
        api_bad_param(&e, "order", "expected 'asc' or 'desc'.");
        api_error(c, &e);
        return;
    }
    const char *after = http_query(c->req, "after"), *purpose = http_query(c->req, "purpose");
    FileRecord *files;
    int n;
    bool more;
    Err err = {0};
    int rc = store_file_list(c->store, c->project, purpose && purpose[0] ? purpose : NULL, after, limit,
                             order && strcmp(order, "asc") == 0, &files, &n, &more, &err);
    if (api_list_failed(c, rc, after, "files", &err)) return;
    json_t *data = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(data, api_file_json(&files[i]));
    json_t *list = api_list(data, more);
    json_object_set_new(list, "first_id", n ? json_string(files[0].id) : json_null());
    json_object_set_new(list, "last_id", n ? json_string(files[n - 1].id) : json_null());
    free(files);
    api_json(c, 200, list);
}

/* (routes.h) */
int route_files_load(Ctx *c, FileRecord *f) {
    Err err = {0};
    int rc = store_file_get(c->store, c->req->params[0], f, &err);
    if (rc == 0 && !api_visible(c, f->project)) rc = STORE_NOT_FOUND;
    if (rc == STORE_NOT_FOUND) not_found(c, c->req->params[0]);
    else if (rc) api_server_error(c, "the file could not be read", &err);
    return rc;
}

void route_files_get(Ctx *c) {
    FileRecord f;
    if (route_files_load(c, &f) == 0) api_json(c, 200, api_file_json(&f));
}

void route_files_content(Ctx *c) {
    FileRecord f;
    if (route_files_load(c, &f)) return;
    char path[4096];
    store_file_path(c->store, f.id, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        Err err = {0};
        err_set(&err, ERR_IO, "%s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        char what[STORE_ID_MAX + 40];
        snprintf(what, sizeof what, "The content of %s could not be read", f.id);
        api_server_error(c, what, &err);
        return;
    }
    HttpResponse *r = c->res;
    r->status = 200;
    r->fd = fd;
    r->fd_size = (uint64_t)st.st_size;
    snprintf(r->content_type, sizeof r->content_type, "application/octet-stream");
    char safe[STORE_FILENAME_MAX];
    size_t k = 0;
    for (const char *p = f.filename; *p && k + 1 < sizeof safe; p++)
        safe[k++] = *p == '"' || *p == '\\' || (unsigned char)*p < 0x20 ? '_' : *p;
    safe[k] = 0;
    snprintf(r->disposition, sizeof r->disposition, "attachment; filename=\"%s\"", safe);
}

void route_files_delete(Ctx *c) {
    Err err = {0};
    const char *id = c->req->params[0];
    FileRecord f;
    if (route_files_load(c, &f)) return;
    int rc = store_file_delete(c->store, id, &err);
    if (rc == STORE_NOT_FOUND) {
        not_found(c, id);
        return;
    }
    if (rc) {
        api_server_error(c, "the file could not be deleted", &err);
        return;
    }
    api_json(c, 200, json_pack("{s:s, s:s, s:b}", "id", id, "object", "file", "deleted", 1));
}
