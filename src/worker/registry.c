/* registry.c: model ids to files (see registry.h): base models in the directories, fine-tuned
 * models and checkpoints through the store, then aliases (their table is registry_aliases.c). */
#include "registry.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/fileio.h"
#include "../ftune.h"

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

/* Fills m when dir/name is a model: a .gguf file or a folder with config.json. */
static bool base_model_at(const char *dir, const char *name, ModelInfo *m) {
    if (name[0] == '.') return false;
    char path[4096], config[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st) != 0) return false;
    memset(m, 0, sizeof *m);
    if (S_ISREG(st.st_mode) && ends_with(name, ".gguf")) {
        snprintf(m->id, sizeof m->id, "%.*s", (int)(strlen(name) - 5), name);
    } else if (S_ISDIR(st.st_mode)) {
        char weights[4200], index[4200];
        snprintf(config, sizeof config, "%s/config.json", path);
        snprintf(weights, sizeof weights, "%s/model.safetensors", path);
        snprintf(index, sizeof index, "%s/model.safetensors.index.json", path);
        if (!file_exists(config) || !(file_exists(weights) || file_exists(index))) return false;
        snprintf(m->id, sizeof m->id, "%s", name);
        m->embedding = ft_is_encoder_dir(path);
    } else {
        return false;
    }
    m->kind = MODEL_BASE;
    snprintf(m->base_id, sizeof m->base_id, "%s", m->id);
    snprintf(m->base_path, sizeof m->base_path, "%s", path);
    m->created = (long long)st.st_mtime;
    return true;
}

static int by_id(const void *a, const void *b) { return strcmp(((const ModelInfo *)a)->id, ((const ModelInfo *)b)->id); }

int registry_list_base(const char *const *dirs, int n_dirs, ModelInfo **out, int *n, Err *err) {
    *out = NULL;
    *n = 0;
    ModelInfo *list = malloc(REGISTRY_MAX_BASE * sizeof *list);
    if (!list) return err_set(err, ERR_NOMEM, "out of memory");
    int count = 0;
    for (int d = 0; d < n_dirs; d++) {
        DIR *dh = opendir(dirs[d]);
        if (!dh) continue;
        struct dirent *e;
        while ((e = readdir(dh)) && count < REGISTRY_MAX_BASE) {
            ModelInfo m;
            if (!base_model_at(dirs[d], e->d_name, &m)) continue;
            bool dup = false; /* the first directory wins */
            for (int i = 0; i < count && !dup; i++) dup = strcmp(list[i].id, m.id) == 0;
            if (!dup) list[count++] = m;
        }
        closedir(dh);
    }
    qsort(list, count, sizeof *list, by_id);
    *out = list;
    *n = count;
    return 0;
}

int registry_find_base(const char *const *dirs, int n_dirs, const char *id, ModelInfo *out) {
    if (!id[0] || strchr(id, '/') || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) return STORE_NOT_FOUND;
    char gguf[STORE_NAME_MAX + 8];
    snprintf(gguf, sizeof gguf, "%s.gguf", id);
    for (int d = 0; d < n_dirs; d++)
        if (base_model_at(dirs[d], gguf, out) || base_model_at(dirs[d], id, out)) return 0;
    return STORE_NOT_FOUND;
}

void registry_job_dir(const char *data_dir, const char *job_id, char *out, size_t size) {
    snprintf(out, size, "%s/jobs/%s", data_dir, job_id);
}

int registry_resolve_model(Store *s, const char *const *dirs, int n_dirs, const char *name, ModelInfo *out, Err *err) {
    if (strncmp(name, "ft:", 3) != 0)
        return registry_find_adapter(dirs, n_dirs, name, out) == 0 ? 0 : registry_find_base(dirs, n_dirs, name, out);
    JobRecord *job = malloc(sizeof *job);
    CheckpointRecord *ck = malloc(sizeof *ck);
    int rc = job && ck ? 0 : err_set(err, ERR_NOMEM, "out of memory");
    bool checkpoint = false;
    if (!rc) {
        rc = store_job_by_model(s, name, job, err);
        if (rc == STORE_NOT_FOUND) {
            rc = store_checkpoint_by_model(s, name, ck, err);
            if (!rc) rc = store_job_get(s, ck->job_id, job, err);
            checkpoint = true;
        }
    }
    /* a job's model may be an alias or an ft: model it continued: its base is base_model */
    if (!rc) rc = registry_find_base(dirs, n_dirs, job->base_model[0] ? job->base_model : job->model, out);
    if (!rc) {
        out->kind = checkpoint ? MODEL_CHECKPOINT : MODEL_FINE_TUNED;
        snprintf(out->id, sizeof out->id, "%s", name);
        snprintf(out->job_id, sizeof out->job_id, "%s", job->id);
        snprintf(out->project, sizeof out->project, "%s", job->project);
        if (checkpoint) {
            snprintf(out->adapter_dir, sizeof out->adapter_dir, "%s", ck->dir);
            out->created = ck->created_at;
        } else {
            registry_job_dir(store_data_dir(s), job->id, out->adapter_dir, sizeof out->adapter_dir);
            out->created = job->finished_at;
        }
    }
    free(job);
    free(ck);
    return rc;
}

int registry_resolve(Store *s, const char *const *dirs, int n_dirs, const char *name, ModelInfo *out, Err *err) {
    out->alias[0] = 0;
    int rc = registry_resolve_model(s, dirs, n_dirs, name, out, err);
    if (rc != STORE_NOT_FOUND || strncmp(name, "ft:", 3) == 0) return rc;
    char target[STORE_NAME_MAX];
    rc = registry_alias_target(s, name, target, NULL, err);
    if (rc) return rc;
    rc = registry_resolve_model(s, dirs, n_dirs, target, out, err);
    snprintf(out->alias, sizeof out->alias, "%s", name);
    if (rc == STORE_NOT_FOUND) snprintf(out->id, sizeof out->id, "%s", target);
    return rc;
}

void registry_missing_text(const char *name, const ModelInfo *m, char *out, size_t cap) {
    if (m->alias[0] && strcmp(m->alias, name) == 0)
        snprintf(out, cap,
                 "The model '%s' is an alias of '%s', which does not exist or you do not have access to it.", name,
                 m->id);
    else
        snprintf(out, cap, "The model '%s' does not exist or you do not have access to it.", name);
}
