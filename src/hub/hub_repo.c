/* hub_repo.c: a repository's commit and file list from the Hub's API (see hub_repo.h). */
#include "hub_repo.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HUB_MAX_PAGES 1000 /* a bound against a server that pages forever */

static int check_part(const char *repo, const char *part, size_t n, Err *err) {
    if (n == 0 || n > 96) return err_set(err, ERR_ARG, "repository id '%s': each part is 1 to 96 characters", repo);
    for (size_t i = 0; i < n; i++) {
        char ch = part[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                  ch == '_' || ch == '.';
        if (!ok) return err_set(err, ERR_ARG, "repository id '%s': character '%c' is not allowed", repo, ch);
        if (ch == '.' && i + 1 < n && part[i + 1] == '.')
            return err_set(err, ERR_ARG, "repository id '%s': '..' is not allowed", repo);
    }
    if (part[0] == '-' || part[0] == '.' || part[n - 1] == '-' || part[n - 1] == '.')
        return err_set(err, ERR_ARG, "repository id '%s': a part may not begin or end with '-' or '.'", repo);
    return 0;
}

int hub_check_repo_id(const char *repo, Err *err) {
    const char *slash = strchr(repo, '/');
    if (slash && strchr(slash + 1, '/'))
        return err_set(err, ERR_ARG, "repository id '%s': expected owner/name", repo);
    if (!slash) return check_part(repo, repo, strlen(repo), err);
    return check_part(repo, repo, (size_t)(slash - repo), err) || check_part(repo, slash + 1, strlen(slash + 1), err)
               ? -1
               : 0;
}

static const char *string_field(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool is_hex(const char *s, size_t n) {
    if (strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdef", s[i])) return false;
    return true;
}

/* The commit that revision names. */
static int resolve_commit(const HubConfig *c, HubRepo *r, Err *err) {
    char rev[HUB_REPO_MAX * 3], url[HUB_URL_MAX], what[HUB_REPO_MAX * 2 + 32];
    if (hub_escape(r->revision, 0, rev, sizeof rev)) return err_set(err, ERR_ARG, "revision '%s' is too long", r->revision);
    snprintf(url, sizeof url, "%s/api/models/%s/revision/%s", c->endpoint, r->repo, rev);
    snprintf(what, sizeof what, "repository %s at revision %s", r->repo, r->revision);
    char *body;
    int rc = hub_get(c, url, what, &body, NULL, 0, err);
    if (rc) return rc;
    json_error_t je;
    json_t *doc = json_loads(body, 0, &je);
    free(body);
    const char *sha = doc ? string_field(doc, "sha") : NULL;
    if (!sha || !is_hex(sha, 40)) {
        json_decref(doc);
        return err_set(err, ERR_FORMAT, "%s: the answer has no commit \"sha\" (%s)", url, doc ? "field missing" : je.text);
    }
    snprintf(r->commit, sizeof r->commit, "%s", sha);
    json_decref(doc);
    return 0;
}

/* Appends the files of one page of the tree listing. */
static int add_page(HubRepo *r, json_t *page, const char *url, int *cap, Err *err) {
    if (!json_is_array(page)) return err_set(err, ERR_FORMAT, "%s: expected a JSON array of entries", url);
    size_t i;
    json_t *e;
    json_array_foreach(page, i, e) {
        const char *type = string_field(e, "type"), *path = string_field(e, "path");
        if (!type || !path) return err_set(err, ERR_FORMAT, "%s: entry %zu has no \"type\" or \"path\"", url, i);
        if (strcmp(type, "file") != 0) continue; /* directories: their files are listed too */
        json_t *size = json_object_get(e, "size"), *lfs = json_object_get(e, "lfs");
        if (!json_is_integer(size) || json_integer_value(size) < 0)
            return err_set(err, ERR_FORMAT, "%s: file '%s' has no \"size\"", url, path);
        if (strlen(path) >= HUB_PATH_MAX || path[0] == '/' || strstr(path, "..") || strchr(path, '\\'))
            return err_set(err, ERR_FORMAT, "%s: refusing the file path '%.200s'", url, path);
        if (r->n_files == *cap) {
            int n = *cap ? *cap * 2 : 64;
            HubFile *f = realloc(r->files, (size_t)n * sizeof *f);
            if (!f) return err_set(err, ERR_NOMEM, "out of memory");
            r->files = f;
            *cap = n;
        }
        HubFile *f = &r->files[r->n_files++];
        memset(f, 0, sizeof *f);
        snprintf(f->path, sizeof f->path, "%s", path);
        f->size = json_integer_value(size);
        const char *oid = string_field(e, "oid");
        if (oid && is_hex(oid, 40)) snprintf(f->git_oid, sizeof f->git_oid, "%s", oid);
        if (json_is_object(lfs)) {
            const char *sha = string_field(lfs, "oid");
            json_t *lfs_size = json_object_get(lfs, "size");
            if (!sha || !is_hex(sha, 64))
                return err_set(err, ERR_FORMAT, "%s: LFS file '%s' has no SHA-256 \"oid\"", url, path);
            snprintf(f->sha256, sizeof f->sha256, "%s", sha);
            if (json_is_integer(lfs_size)) f->size = json_integer_value(lfs_size);
        }
    }
    return 0;
}

int hub_repo_list(const HubConfig *c, const char *repo, const char *revision, HubRepo *out, Err *err) {
    memset(out, 0, sizeof *out);
    if (hub_check_repo_id(repo, err)) return -1;
    snprintf(out->repo, sizeof out->repo, "%s", repo);
    snprintf(out->revision, sizeof out->revision, "%s", revision && *revision ? revision : "main");
    int rc = resolve_commit(c, out, err);
    if (rc) return rc;
    char url[HUB_URL_MAX], what[HUB_REPO_MAX + 80];
    snprintf(url, sizeof url, "%s/api/models/%s/tree/%s?recursive=true", c->endpoint, out->repo, out->commit);
    snprintf(what, sizeof what, "the file list of %s at %.12s", out->repo, out->commit);
    int cap = 0;
    for (int page = 0; url[0]; page++) {
        if (page == HUB_MAX_PAGES) {
            rc = err_set(err, ERR_FORMAT, "%s: more than %d pages", what, HUB_MAX_PAGES);
            break;
        }
        char *body, next[HUB_URL_MAX];
        rc = hub_get(c, url, what, &body, next, sizeof next, err);
        if (rc) break;
        json_error_t je;
        json_t *doc = json_loads(body, 0, &je);
        free(body);
        rc = doc ? add_page(out, doc, url, &cap, err) : err_set(err, ERR_FORMAT, "%s: not JSON: %s", url, je.text);
        json_decref(doc);
        if (rc) break;
        snprintf(url, sizeof url, "%s", next);
    }
    if (rc) hub_repo_free(out);
    return rc;
}

void hub_repo_free(HubRepo *r) {
    free(r->files);
    r->files = NULL;
    r->n_files = 0;
}

int hub_file_url(const HubConfig *c, const HubRepo *r, const HubFile *f, char *out, size_t cap, Err *err) {
    char path[HUB_PATH_MAX * 3];
    if (hub_escape(f->path, 1, path, sizeof path) ||
        snprintf(out, cap, "%s/%s/resolve/%s/%s", c->endpoint, r->repo, r->commit, path) >= (int)cap)
        return err_set(err, ERR_ARG, "%s: the address is too long", f->path);
    return 0;
}
