/* registry.h: which models the server can serve, by id: base models found in the models
 * directories (a GGUF file's id is its name without ".gguf"; a Hugging Face folder's id is its
 * name), fine-tuned models (a succeeded job's ft:... name: base model + the job's adapter) and
 * checkpoints (ft:...:ckpt-step-N: base model + that checkpoint's adapter), and the adapters the
 * server was started with (`--adapter NAME=DIR[@BASE_ID]`: base model + any PEFT directory), and
 * aliases: names standing for one of those (`--alias NAME=TARGET`, fixed for the process, then the
 * store's alias table, read on each lookup so that `ftune alias set` takes effect at once).
 * Directories are scanned on each call, so models copied in while the server runs appear at once. */
#ifndef FTUNE_REGISTRY_H
#define FTUNE_REGISTRY_H

#include "../store/store.h"

#define REGISTRY_MAX_BASE 256
#define REGISTRY_MAX_ADAPTERS 64   /* --adapter flags */
#define REGISTRY_MAX_ALIASES 64    /* --alias flags */

typedef enum { MODEL_BASE = 0, MODEL_FINE_TUNED = 1, MODEL_CHECKPOINT = 2, MODEL_ADAPTER = 3 } ModelKind;

typedef struct {
    ModelKind kind;
    char id[STORE_NAME_MAX];
    char base_id[STORE_NAME_MAX];
    char base_path[4096];
    char adapter_dir[4096];     /* "" for a base model; absolute for an --adapter one */
    long long created;          /* Unix seconds */
    char job_id[STORE_ID_MAX];  /* fine-tuned models and checkpoints */
    char alias[STORE_NAME_MAX]; /* the alias the caller named ("" when it named the model itself);
                                 * id is then its target's */
    char project[STORE_ID_MAX]; /* fine-tuned models and checkpoints: their job's; "" = every project's */
} ModelInfo;

/* Base models in dirs, sorted by id (*out heap, caller frees; unreadable dirs are skipped). */
int registry_list_base(const char *const *dirs, int n_dirs, ModelInfo **out, int *n, Err *err);
/* The base model with this id (or file name), or STORE_NOT_FOUND. */
int registry_find_base(const char *const *dirs, int n_dirs, const char *id, ModelInfo *out);
/* Any model by name: served adapter, base, fine-tuned or checkpoint, else an alias (an --alias
 * flag, then the store's table) and the model it names (out->alias = name, out->id = the target).
 * STORE_NOT_FOUND when there is none (a deleted fine-tuned model, or one whose base model has gone,
 * included); for an alias whose target is missing, out->alias and out->id are still set (see
 * registry_missing_text). A real model's id always wins over an alias of the same name. It does
 * not check who asks: out->project says which project may see a fine-tuned model or checkpoint. */
int registry_resolve(Store *s, const char *const *dirs, int n_dirs, const char *name, ModelInfo *out, Err *err);
/* The same without aliases: only a model's own id. */
int registry_resolve_model(Store *s, const char *const *dirs, int n_dirs, const char *name, ModelInfo *out, Err *err);
/* The message of a 404 for name after registry_resolve answered STORE_NOT_FOUND into m: naming the
 * alias's missing target when name is an alias. */
void registry_missing_text(const char *name, const ModelInfo *m, char *out, size_t cap);

/* Aliases (registry_aliases.c). registry_alias_check: what every alias must be, for `ftune alias
 * set` and --alias alike: name is 1..STORE_NAME_MAX-1 bytes without '/', ':', spaces or control
 * characters, is no base model's, --adapter model's or fine-tuned model's id; target is a model's
 * own id (base, fine-tuned, checkpoint or --adapter; s may be NULL when there is no database: then
 * no ft: target exists), never an alias (aliases resolve one level). ERR_ARG naming the problem. */
int registry_alias_check(Store *s, const char *const *dirs, int n_dirs, const char *name, const char *target,
                         Err *err);
/* Checks every --alias value ("NAME=TARGET") and replaces the process-wide table with them (same
 * rule as the adapters: before any thread resolves names, never after; configure the adapters
 * first). The store (data_dir's, or database: see store_open) is opened only when a target is an
 * ft: model and the database exists (PostgreSQL's always does). */
int registry_aliases_configure(const char *const *specs, int n, const char *data_dir, const char *database,
                               const char *const *dirs, int n_dirs, Err *err);
/* The target of alias name: an --alias flag's, else the store's table's (s may be NULL: flags
 * only). 0, STORE_NOT_FOUND or -1; *from_flag (may be NULL) says which. */
int registry_alias_target(Store *s, const char *name, char target[STORE_NAME_MAX], bool *from_flag, Err *err);
/* Every alias, flags first (in flag order) then the table's not shadowed by a flag, each with its
 * target, its time and whether it is a flag's (*out heap, caller frees). */
typedef struct {
    AliasRecord rec;
    bool from_flag;
} RegistryAlias;
int registry_list_aliases(Store *s, RegistryAlias **out, int *n, Err *err);
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
