/* hub_pull.c: choosing, downloading, checking and placing a repository's files (see hub_pull.h). */
#include "hub_pull.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "../core/digest.h"
#include "../core/fileio.h"

static bool ends_with_ci(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

static bool is_gguf(const char *path) { return ends_with_ci(path, ".gguf"); }

/* Weights in formats ftune does not read, left out of a folder by default. */
static bool foreign_weights(const char *path) {
    static const char *const EXT[] = {".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx", ".onnx_data",
                                      ".ot", ".tflite", ".mlmodel", ".npz", ".gguf", ".pkl"};
    for (size_t i = 0; i < sizeof EXT / sizeof EXT[0]; i++)
        if (ends_with_ci(path, EXT[i])) return true;
    return false;
}

/* Up to max of the paths for which pick says yes, as "a, b, c (and N more)". */
static void list_paths(const HubRepo *r, bool (*pick)(const char *), char *out, size_t cap) {
    size_t o = 0;
    int shown = 0, more = 0;
    out[0] = 0;
    for (int i = 0; i < r->n_files; i++) {
        if (pick && !pick(r->files[i].path)) continue;
        if (shown == 8) {
            more++;
            continue;
        }
        int w = snprintf(out + o, cap - o, "%s%s", shown ? ", " : "", r->files[i].path);
        if (w < 0 || (size_t)w >= cap - o) break;
        o += (size_t)w;
        shown++;
    }
    if (more && o < cap) snprintf(out + o, cap - o, " (and %d more)", more);
}

int hub_choose_files(const HubRepo *r, const char *const *include, int n_include, bool *take, bool *gguf_files,
                     Err *err) {
    char names[1024];
    int n_take = 0, n_gguf = 0, n_safetensors = 0;
    for (int i = 0; i < r->n_files; i++) {
        const char *p = r->files[i].path;
        n_gguf += is_gguf(p);
        n_safetensors += ends_with_ci(p, ".safetensors");
    }
    for (int i = 0; i < r->n_files; i++) {
        const char *p = r->files[i].path;
        bool t;
        if (n_include) {
            t = false;
            for (int k = 0; k < n_include && !t; k++) t = fnmatch(include[k], p, 0) == 0;
        } else if (n_safetensors) {
            t = !foreign_weights(p) && strcmp(p, ".gitattributes") != 0;
        } else {
            t = is_gguf(p);
        }
        take[i] = t;
        n_take += t;
    }
    if (n_include && !n_take) {
        list_paths(r, NULL, names, sizeof names);
        return err_set(err, ERR_ARG, "no file of %s@%s matches --include; its files: %s", r->repo, r->revision, names);
    }
    if (!n_include && !n_safetensors && n_gguf > 1) {
        list_paths(r, is_gguf, names, sizeof names);
        return err_set(err, ERR_ARG, "%s has %d GGUF files: choose with --include (e.g. --include '*Q4_K_M.gguf'): %s",
                       r->repo, n_gguf, names);
    }
    if (!n_take) {
        list_paths(r, NULL, names, sizeof names);
        return err_set(err, ERR_ARG, "%s@%s has neither safetensors weights nor a GGUF file; its files: %s", r->repo,
                       r->revision, names[0] ? names : "none");
    }
    *gguf_files = true;
    for (int i = 0; i < r->n_files; i++)
        if (take[i] && !is_gguf(r->files[i].path)) *gguf_files = false;
    return 0;
}

/* Whether the file at path is f: its size, then the digest the Hub published for it. mismatch
 * (when non-NULL) gets what differs. */
static int matches(const char *path, const HubFile *f, char *mismatch, size_t cap, Err *err) {
    struct stat st;
    if (stat(path, &st) != 0) return snprintf(mismatch, cap, "missing"), 0;
    if ((long long)st.st_size != f->size)
        return snprintf(mismatch, cap, "%lld bytes where %lld were published", (long long)st.st_size, f->size), 0;
    char hex[DIGEST_SHA256_HEX];
    if (f->sha256[0]) {
        if (digest_file_sha256_hex(path, hex, err)) return -1;
        if (strcmp(hex, f->sha256) != 0)
            return snprintf(mismatch, cap, "SHA-256 %s where %s was published", hex, f->sha256), 0;
    } else if (f->git_oid[0]) {
        if (digest_file_git_blob_hex(path, hex, err)) return -1;
        if (strcmp(hex, f->git_oid) != 0)
            return snprintf(mismatch, cap, "Git blob id %s where %s was published", hex, f->git_oid), 0;
    }
    return 1;
}

static bool is_whole(const char *path, const HubFile *f) {
    char why[200];
    return matches(path, f, why, sizeof why, NULL) == 1;
}

static int parent_dirs(const char *path, Err *err) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = 0;
    return file_make_dirs(dir, 0755, err);
}

/* Downloads f into final, through final.incomplete, and checks it. */
static int fetch_file(const HubConfig *c, const HubRepo *r, const HubFile *f, const char *final,
                      const HubPullOptions *o, Err *err) {
    char url[HUB_URL_MAX], partial[4200], why[300];
    if (hub_file_url(c, r, f, url, sizeof url, err) || parent_dirs(final, err)) return -1;
    snprintf(partial, sizeof partial, "%s.incomplete", final);
    if (hub_download(c, url, partial, f->size, o->progress, o->ctx, err)) return -1;
    int m = matches(partial, f, why, sizeof why, err);
    if (m < 0) return -1;
    if (!m) {
        remove(partial); /* a wrong prefix would be resumed forever: the next pull starts afresh */
        return err_set(err, ERR_IO, "%s: the download does not match the Hub: %s (removed; run again)", f->path, why);
    }
    if (rename(partial, final) != 0) return err_set(err, ERR_IO, "%s: cannot rename: %s", final, strerror(errno));
    return 0;
}

static int check_space(const char *dir, long long needed, Err *err) {
    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0) return 0; /* unknown: the writes will say */
    long long avail = (long long)vfs.f_bavail * (long long)vfs.f_frsize;
    if (avail < needed)
        return err_set(err, ERR_IO, "%s: %lld MiB free, the download needs %lld MiB more", dir, avail >> 20,
                       (needed >> 20) + 1);
    return 0;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int check_name(const char *name, Err *err) {
    if (!name[0] || name[0] == '.' || strchr(name, '/'))
        return err_set(err, ERR_ARG, "model name '%s': must not be empty, begin with '.' or hold '/'", name);
    return 0;
}

/* Where a GGUF file goes: MODELS/<its name>, or MODELS/NAME.gguf. */
static void gguf_dest(const HubPullOptions *o, const HubFile *f, char *dest, size_t cap) {
    if (o->name) snprintf(dest, cap, "%s/%s%s", o->models_dir, o->name, is_gguf(o->name) ? "" : ".gguf");
    else snprintf(dest, cap, "%s/%s", o->models_dir, base_name(f->path));
}

/* GGUF files: each is a model of its own. */
static int pull_gguf_files(const HubConfig *c, const HubRepo *r, const bool *take, const HubPullOptions *o,
                           HubPullResult *res, Err *err) {
    int n = 0;
    for (int i = 0; i < r->n_files; i++) n += take[i];
    if (o->name && n > 1) return err_set(err, ERR_ARG, "--name names one model; %d GGUF files were chosen", n);
    long long needed = 0;
    for (int i = 0; i < r->n_files; i++) {
        if (!take[i]) continue;
        for (int j = 0; j < i; j++)
            if (take[j] && strcmp(base_name(r->files[j].path), base_name(r->files[i].path)) == 0)
                return err_set(err, ERR_ARG, "%s and %s would both be %s", r->files[j].path, r->files[i].path,
                               base_name(r->files[i].path));
        char dest[4096];
        gguf_dest(o, &r->files[i], dest, sizeof dest);
        if (!is_whole(dest, &r->files[i])) needed += r->files[i].size;
    }
    if (check_space(o->models_dir, needed, err)) return -1;
    for (int i = 0, k = 0; i < r->n_files; i++) {
        if (!take[i]) continue;
        const HubFile *f = &r->files[i];
        char dest[4096], staged[4200];
        gguf_dest(o, f, dest, sizeof dest);
        snprintf(res->dest, sizeof res->dest, "%s", dest);
        if (is_whole(dest, f)) continue;
        if (o->on_file) o->on_file(o->ctx, f, k++, n);
        /* staged beside it under a '.' name: the registry lists it only once renamed */
        snprintf(staged, sizeof staged, "%s/.%s", o->models_dir, base_name(dest));
        if (fetch_file(c, r, f, staged, o, err)) return -1;
        if (rename(staged, dest) != 0) return err_set(err, ERR_IO, "%s: cannot rename: %s", dest, strerror(errno));
        res->n_downloaded++;
    }
    return 0;
}

/* A folder: staged whole in MODELS/.NAME.pull/, then renamed to MODELS/NAME (an older copy of it
 * is moved aside first and removed after). */
static int pull_folder(const HubConfig *c, const HubRepo *r, const bool *take, const HubPullOptions *o,
                       HubPullResult *res, Err *err) {
    const char *name = o->name ? o->name : base_name(r->repo);
    if (check_name(name, err)) return -1;
    char dest[4096], stage[4200], old[4200], path[8400];
    snprintf(dest, sizeof dest, "%s/%s", o->models_dir, name);
    snprintf(stage, sizeof stage, "%s/.%s.pull", o->models_dir, name);
    snprintf(old, sizeof old, "%s/.%s.old", o->models_dir, name);
    snprintf(res->dest, sizeof res->dest, "%s", dest);
    int n = 0, missing = 0;
    long long needed = 0;
    for (int i = 0; i < r->n_files; i++) {
        if (!take[i]) continue;
        n++;
        snprintf(path, sizeof path, "%s/%s", dest, r->files[i].path);
        if (is_whole(path, &r->files[i])) continue;
        missing++;
        snprintf(path, sizeof path, "%s/%s", stage, r->files[i].path);
        if (!is_whole(path, &r->files[i])) needed += r->files[i].size;
    }
    if (!missing) return 0; /* already here, every file whole */
    if (file_make_dirs(stage, 0755, err) || check_space(o->models_dir, needed, err)) return -1;
    for (int i = 0, k = 0; i < r->n_files; i++) {
        if (!take[i]) continue;
        const HubFile *f = &r->files[i];
        snprintf(path, sizeof path, "%s/%s", stage, f->path);
        if (is_whole(path, f)) continue; /* whole from an earlier, interrupted pull */
        if (o->on_file) o->on_file(o->ctx, f, k++, n);
        if (fetch_file(c, r, f, path, o, err)) return -1;
        res->n_downloaded++;
    }
    if (file_remove_tree(old, err)) return -1;
    if (file_is_dir(dest) && rename(dest, old) != 0)
        return err_set(err, ERR_IO, "%s: cannot move aside: %s", dest, strerror(errno));
    if (rename(stage, dest) != 0) return err_set(err, ERR_IO, "%s: cannot rename: %s", dest, strerror(errno));
    return file_remove_tree(old, err);
}

int hub_pull(const HubConfig *c, const HubPullOptions *o, HubPullResult *res, Err *err) {
    memset(res, 0, sizeof *res);
    if (o->name && check_name(o->name, err)) return -1;
    HubRepo r;
    int rc = hub_repo_list(c, o->repo, o->revision, &r, err);
    if (rc) return rc;
    bool *take = calloc((size_t)r.n_files + 1, sizeof *take), gguf_files = false;
    if (!take) rc = err_set(err, ERR_NOMEM, "out of memory");
    if (!rc) rc = hub_choose_files(&r, o->include, o->n_include, take, &gguf_files, err);
    if (!rc) rc = file_make_dirs(o->models_dir, 0755, err);
    if (!rc) {
        snprintf(res->commit, sizeof res->commit, "%s", r.commit);
        for (int i = 0; i < r.n_files; i++)
            if (take[i]) res->n_files++, res->bytes += r.files[i].size;
        rc = gguf_files ? pull_gguf_files(c, &r, take, o, res, err) : pull_folder(c, &r, take, o, res, err);
    }
    free(take);
    hub_repo_free(&r);
    return rc;
}
