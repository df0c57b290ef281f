/* hub_pull.h: `ftune pull`'s work: choose a repository's files, download each (resuming what an
 * earlier, interrupted pull left), check each against the digest the Hub publishes, and move the
 * whole into the models directory with renames, so that a server listing the directory sees a model
 * only once it is whole (names beginning with '.' are not models: downloads are staged under them).
 *
 * What is taken, without --include patterns: a Hugging Face folder's safetensors weights with every
 * other file beside them except weights in formats ftune does not read (.bin, .pt, .onnx, .gguf,
 * ...), into MODELS/NAME/ (NAME: the repository's name); or, in a repository of GGUF files only, its
 * one GGUF file into MODELS/ (several: the error lists them, to be chosen with --include). With
 * patterns (shell globs on the file's path in the repository, '*' crossing '/'): the files that
 * match any; when they are all GGUF files each goes into MODELS/ by its own name. */
#ifndef FTUNE_HUB_PULL_H
#define FTUNE_HUB_PULL_H

#include <stdbool.h>

#include "hub_repo.h"

typedef struct {
    const char *repo;
    const char *revision;        /* NULL: "main" */
    const char *const *include;  /* patterns, n_include of them (0: the default choice above) */
    int n_include;
    const char *models_dir;      /* created if missing */
    const char *name;            /* NULL: the repository's name (a folder) or the file's (a GGUF) */
    HubProgressFn progress;      /* bytes of the file being downloaded */
    void (*on_file)(void *ctx, const HubFile *f, int index, int count); /* before each download */
    void *ctx;
} HubPullOptions;

typedef struct {
    char dest[4096];      /* the model folder, or the GGUF file (the last one when several) */
    char commit[64];
    int n_files;          /* chosen */
    int n_downloaded;     /* of those, fetched now (the others were already whole) */
    long long bytes;      /* of the chosen files */
} HubPullResult;

int hub_pull(const HubConfig *c, const HubPullOptions *o, HubPullResult *res, Err *err);

/* The choice alone (for tests): take[i] for each of r's files; *gguf_files set when every chosen
 * file is a GGUF file (each then is a model of its own). ERR_ARG saying why nothing fits. */
int hub_choose_files(const HubRepo *r, const char *const *include, int n_include, bool *take, bool *gguf_files,
                     Err *err);

#endif
