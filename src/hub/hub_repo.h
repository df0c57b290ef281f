/* hub_repo.h: what a model repository on the Hub holds at a revision: the commit the revision
 * names (so that every file comes from that one commit, even if the branch moves meanwhile) and its
 * files with their sizes and published digests, from the Hub's API:
 *   GET {endpoint}/api/models/{repo}/revision/{revision}          -> {"sha": commit, ...}
 *   GET {endpoint}/api/models/{repo}/tree/{commit}?recursive=true -> [{"type":"file","path","size",
 *       "oid": git blob id, "lfs": {"oid": sha256, "size"}}...], paged by Link rel="next"
 * and the download address of a file: {endpoint}/{repo}/resolve/{commit}/{path}. */
#ifndef FTUNE_HUB_REPO_H
#define FTUNE_HUB_REPO_H

#include <stdbool.h>

#include "hub_http.h"

#define HUB_PATH_MAX 1024
#define HUB_REPO_MAX 256

typedef struct {
    char path[HUB_PATH_MAX]; /* relative to the repository's root, '/'-separated */
    long long size;
    char git_oid[41]; /* the Git blob id (SHA-1 hex); "" if not published */
    char sha256[65];  /* an LFS file's SHA-256 hex; "" for a file kept in Git itself */
} HubFile;

typedef struct {
    char repo[HUB_REPO_MAX];     /* owner/name (or a bare name) */
    char revision[HUB_REPO_MAX]; /* as asked: a branch, tag or commit */
    char commit[64];             /* the commit it named */
    HubFile *files;
    int n_files;
} HubRepo;

/* Checks a repository id: [owner/]name of letters, digits, '-', '_', '.', no "..", at most 96
 * characters a part, as the Hub allows. ERR_ARG saying what is wrong. */
int hub_check_repo_id(const char *repo, Err *err);

/* Lists repo at revision. Not found (repository or revision) is HUB_NOT_FOUND with a clear err. */
int hub_repo_list(const HubConfig *c, const char *repo, const char *revision, HubRepo *out, Err *err);
void hub_repo_free(HubRepo *r);

/* The download address of one of the repository's files, at its commit. */
int hub_file_url(const HubConfig *c, const HubRepo *r, const HubFile *f, char *out, size_t cap, Err *err);

#endif
