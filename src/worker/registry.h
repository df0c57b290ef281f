/* registry.h: which models the server can serve, by id: base models found in the models
 * directories (a GGUF file's id is its name without ".gguf"; a Hugging Face folder's id is its
 * name), fine-tuned models (a succeeded job's ft:... name: base model + the job's adapter) and
 * checkpoints (ft:...:ckpt-step-N: base model + that checkpoint's adapter). Directories are
 * scanned on each call, so models copied in while the server runs appear at once. */
#ifndef FTUNE_REGISTRY_H
#define FTUNE_REGISTRY_H

#include "../store/store.h"

#define REGISTRY_MAX_BASE 256

typedef enum { MODEL_BASE = 0, MODEL_FINE_TUNED = 1, MODEL_CHECKPOINT = 2 } ModelKind;

typedef struct {
    ModelKind kind;
    char id[STORE_NAME_MAX];
    char base_id[STORE_NAME_MAX];
    char base_path[4096];
    char adapter_dir[4096];     /* "" for a base model */
    long long created;          /* Unix seconds */
    char job_id[STORE_ID_MAX];  /* fine-tuned models and checkpoints */
} ModelInfo;

/* Base models in dirs, sorted by id (*out heap, caller frees; unreadable dirs are skipped). */
int registry_list_base(const char *const *dirs, int n_dirs, ModelInfo **out, int *n, Err *err);
/* The base model with this id (or file name), or STORE_NOT_FOUND. */
int registry_find_base(const char *const *dirs, int n_dirs, const char *id, ModelInfo *out);
/* Any model by name: base, fine-tuned or checkpoint. STORE_NOT_FOUND when there is none (a
 * deleted fine-tuned model, or one whose base model has gone, included). */
int registry_resolve(Store *s, const char *const *dirs, int n_dirs, const char *name, ModelInfo *out, Err *err);
/* Directory of a job's run (adapter, checkpoints, results.csv): <data>/jobs/<job_id>. */
void registry_job_dir(const char *data_dir, const char *job_id, char *out, size_t size);

#endif
