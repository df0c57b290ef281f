/* cmd_pull.c: `ftune pull REPO[@REVISION]`: a model from the Hugging Face Hub (or HF_ENDPOINT) into
 * the models directory, with a progress bar; the work is hub_pull's. */
#include <stdio.h>
#include <string.h>

#include "../hub/hub_pull.h"
#include "args.h"
#include "cli.h"
#include "progress.h"

static const char *const PULL_OPTIONS[] = {"include", "models", "name", NULL};

static void usage(void) {
    fprintf(stderr,
            "usage: ftune pull REPO[@REVISION] [--include PATTERN]... [--models DIR] [--name NAME]\n"
            "Downloads a model from the Hugging Face Hub into DIR (default ./models), where `ftune serve` finds it\n"
            "without a restart: a safetensors folder (weights, config, tokenizer) as DIR/NAME (NAME: the\n"
            "repository's name), or a GGUF file as DIR/<file> (DIR/NAME.gguf with --name). --include takes the\n"
            "files whose path matches a shell pattern (repeatable; needed to pick one of several GGUF files).\n"
            "Every file is checked against the digest the Hub publishes; an interrupted pull resumes where it\n"
            "stopped when run again. HF_TOKEN: a token for private or gated repositories; HF_ENDPOINT: another\n"
            "server laid out like the Hub (a mirror).\n");
}

#define BAR_MIN_BYTES (1 << 20) /* smaller files get their line, no bar */

typedef struct {
    Progress bar;
    long unit; /* bytes per unit of the bar */
    bool started;
} PullView;

static void on_file(void *ctx, const HubFile *f, int index, int count) {
    PullView *v = ctx;
    if (v->started) progress_end(&v->bar);
    fprintf(stderr, "[%d/%d] %s (%.1f MiB)\n", index + 1, count, f->path, (double)f->size / (1 << 20));
    v->started = f->size >= BAR_MIN_BYTES;
    v->unit = 1 << 20;
    if (v->started) progress_start(&v->bar, (long)(f->size / v->unit));
}

static void on_bytes(void *ctx, long long done, long long total) {
    PullView *v = ctx;
    (void)total;
    if (v->started) progress_update(&v->bar, (long)(done / v->unit), "MiB", false);
}

int cmd_pull(int argc, char **argv) {
    Args a;
    int status;
    if (args_parse_command(&a, argc, argv, "pull", NULL, PULL_OPTIONS, usage, &status)) return status;
    if (a.n_positional != 1) {
        usage();
        return EXIT_BAD_INPUT;
    }
    char repo[HUB_REPO_MAX * 2];
    snprintf(repo, sizeof repo, "%s", a.positional[0]);
    char *at = strchr(repo, '@');
    const char *revision = NULL;
    if (at) {
        *at = 0;
        revision = at + 1;
        if (!*revision) {
            fprintf(stderr, "ftune pull: '%s': empty revision after '@'\n", a.positional[0]);
            return EXIT_BAD_INPUT;
        }
    }
    const char *include[ARGS_MAX];
    PullView view = {0};
    HubPullOptions o = {
        .repo = repo,
        .revision = revision,
        .include = include,
        .n_include = args_all(&a, "include", include, ARGS_MAX),
        .models_dir = args_get(&a, "models") ? args_get(&a, "models") : "models",
        .name = args_get(&a, "name"),
        .progress = on_bytes,
        .on_file = on_file,
        .ctx = &view,
    };
    HubConfig c;
    hub_config_from_env(&c);
    HubPullResult res;
    Err err = {0};
    int rc = hub_pull(&c, &o, &res, &err);
    if (view.started) progress_end(&view.bar);
    if (rc) {
        fprintf(stderr, "ftune pull: %s\n", err.msg);
        return err.code == ERR_ARG ? EXIT_BAD_INPUT : 1;
    }
    if (res.n_downloaded == 0)
        fprintf(stderr, "%s: up to date (%s@%.12s, %d files)\n", res.dest, repo, res.commit, res.n_files);
    else
        fprintf(stderr, "pulled %s@%.12s into %s (%d of %d files downloaded, %.1f MiB in all, each checked)\n", repo,
                res.commit, res.dest, res.n_downloaded, res.n_files, (double)res.bytes / (1 << 20));
    return 0;
}
