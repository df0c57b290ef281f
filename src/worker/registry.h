/* registry.h: which models the server can serve, by id: base models found in the models
 * directories (a GGUF file's id is its name without ".gguf"; a Hugging Face folder's id is its
 * name), fine-tuned models (a succeeded job's ft:... name: base model + the job's adapter) and
 * checkpoints (ft:...:ckpt-step-N: base model + that checkpoint's adapter), and the adapters the
 * server was started with (`--adapter NAME=DIR[@BASE_ID]`: base model + any PEFT directory).
 * Directories are scanned on each call, so models copied in while the server runs appear at once. */
#ifndef FTUNE_REGISTRY_H
#define FTUNE_REGISTRY_H

#include "../store/store.h"

#define REGISTRY_MAX_BASE 256
#define REGISTRY_MAX_ADAPTERS 64   /* --adapter flags */

typedef enum { MODEL_BASE = 0, MODEL_FINE_TUNED = 1, MODEL_CHECKPOINT = 2, MODEL_ADAPTER = 3 } ModelKind;

typedef struct {
    ModelKind kind;
    char id[STORE_NAME_MAX];
    char base_id[STORE_NAME_MAX];
    char base_path[4096];
    char adapter_dir[4096];     /* "" for a base model; absolute for an --adapter one */
    long long created;          /* Unix seconds */
    char job_id[STORE_ID_MAX];  /* fine-tuned models and checkpoints */
    char project[STORE_ID_MAX]; /* fine-tuned models and checkpoints: their job's; "" = every project's */
} ModelInfo;

/* Base models in dirs, sorted by id (*out heap, caller frees; unreadable dirs are skipped). */
int registry_list_base(const char *const *dirs, int n_dirs, ModelInfo **out, int *n, Err *err);
/* The base model with this id (or file name), or STORE_NOT_FOUND. */
int registry_find_base(const char *const *dirs, int n_dirs, const char *id, ModelInfo *out);
/* Any model by name: served adapter, base, fine-tuned or checkpoint. STORE_NOT_FOUND when there
 * is none (a deleted fine-tuned model, or one whose base model has gone, included). It does not
 * check who asks: out->project says which project may see a fine-tuned model or checkpoint. */
int registry_resolve(Store *s, const char *const *dirs, int n_dirs, const char *name, ModelInfo *out, Err *err);
/* Served adapters (registry_adapters.c). configure checks every `--adapter` value (specs: "NAME=DIR"
 * or "NAME=DIR@BASE_ID") against the base models in dirs and replaces the table with them; on
 * failure the table is empty and err says which flag and why (ERR_ARG, ERR_IO, ERR_FORMAT). The
 * base of NAME=DIR is adapter_config.json's base_model_name_or_path: a base id equal to it or to
 * its last path component, or the only one starting with that component and '.'. The table is
 * process-wide (registry_resolve's callers pass no server handle): configure it before any thread
 * resolves names, never after. */
int registry_adapters_configure(const char *const *specs, int n, const char *const *dirs, int n_dirs, Err *err);
/* The served adapter named name, or STORE_NOT_FOUND (also when its base model has gone). */
int registry_find_adapter(const char *const *dirs, int n_dirs, const char *name, ModelInfo *out);
/* Every served adapter whose base model is present, in flag order (*out heap, caller frees). */
int registry_list_adapters(const char *const *dirs, int n_dirs, ModelInfo **out, int *n, Err *err);
/* Directory of a job's run (adapter, checkpoints, results.csv): <data>/jobs/<job_id>. */
void registry_job_dir(const char *data_dir, const char *job_id, char *out, size_t size);

#endif
