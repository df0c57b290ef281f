/* registry_adapters.c: the adapters served by `ftune serve --adapter NAME=DIR[@BASE_ID]` (see
 * registry.h): parses and checks each flag at start-up (the name, the directory, its
 * adapter_config.json and the base model it names) and answers lookups by name afterwards. It
 * does not read the weights: the inference thread loads them on first use, as for fine-tuned
 * models. The table is filled once before the server's threads start and only read after. */
#include "registry.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../core/fileio.h"

#define ADAPTER_CONFIG_MAX (1u << 20)

typedef struct {
    char name[STORE_NAME_MAX];
    char dir[4096];
    char base_id[STORE_NAME_MAX];
    long long created;
} ServedAdapter;

/* Written only by registry_adapters_configure (before any reader thread exists). */
static ServedAdapter g_adapters[REGISTRY_MAX_ADAPTERS];
static int g_n_adapters;

/* "a, b, c" of the base model ids in dirs, cut to fit. */
static void base_ids_text(const char *const *dirs, int n_dirs, char *out, size_t cap) {
    ModelInfo *list;
    int n;
    out[0] = 0;
    if (registry_list_base(dirs, n_dirs, &list, &n, NULL)) return;
    size_t used = 0;
    for (int i = 0; i < n && used + 1 < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? ", " : "", list[i].id);
    if (!n) snprintf(out, cap, "none");
    free(list);
}

/* The base model for base_model_name_or_path (hf): its exact id, its last path component, or the
 * one local id that starts with that component and '.' (case aside): "org/Model" ->
 * "Model.Q4_1". */
static int find_base_for(const char *const *dirs, int n_dirs, const char *hf, ModelInfo *out, Err *err) {
    if (registry_find_base(dirs, n_dirs, hf, out) == 0) return 0;
    const char *slash = strrchr(hf, '/');
    const char *leaf = slash ? slash + 1 : hf;
    if (leaf[0] && registry_find_base(dirs, n_dirs, leaf, out) == 0) return 0;
    ModelInfo *list;
    int n, found = 0;
    if (registry_list_base(dirs, n_dirs, &list, &n, err)) return -1;
    size_t k = strlen(leaf);
    char matches[256] = "";
    size_t used = 0;
    for (int i = 0; i < n && k; i++)
        if (strncasecmp(list[i].id, leaf, k) == 0 && list[i].id[k] == '.') {
            if (!found++) *out = list[i];
            if (used + 1 < sizeof matches)
                used += (size_t)snprintf(matches + used, sizeof matches - used, "%s%s", found > 1 ? ", " : "", list[i].id);
        }
    free(list);
    if (found == 1) return 0;
    char ids[256];
    base_ids_text(dirs, n_dirs, ids, sizeof ids);
    if (found > 1)
        return err_set(err, ERR_ARG,
                       "base_model_name_or_path '%s' matches several base models (%s): name one with NAME=DIR@BASE_ID",
                       hf, matches);
    return err_set(err, ERR_ARG,
                   "base_model_name_or_path '%s' matches no base model in the --models directories (%s): name the base "
                   "with NAME=DIR@BASE_ID",
                   hf, ids);
}

/* NAME: what a model id in a URL path (/v1/models/NAME) and a chat request can carry, and not
 * another model's. */
static int check_name(const char *name, const char *const *dirs, int n_dirs, Err *err) {
    ModelInfo m;
    if (!name[0]) return err_set(err, ERR_ARG, "the model name before '=' is empty");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p == '/' || isspace(*p) || iscntrl(*p))
            return err_set(err, ERR_ARG, "the model name '%s' contains '/', a space or a control character", name);
    if (strncmp(name, "ft:", 3) == 0)
        return err_set(err, ERR_ARG, "model names starting with 'ft:' are the fine-tuned models' own");
    if (registry_find_base(dirs, n_dirs, name, &m) == 0)
        return err_set(err, ERR_ARG, "'%s' is already a base model (%s)", name, m.base_path);
    for (int i = 0; i < g_n_adapters; i++)
        if (strcmp(g_adapters[i].name, name) == 0)
            return err_set(err, ERR_ARG, "'%s' is already served by an earlier --adapter (%s)", name, g_adapters[i].dir);
    return 0;
}

/* The directory holds adapter_config.json (valid JSON) and adapter_model.safetensors; *hf is a
 * copy of its base_model_name_or_path ("" when absent or null). */
static int read_adapter_dir(const char *dir, char *hf, size_t hf_cap, long long *created, Err *err) {
    struct stat st;
    if (stat(dir, &st) != 0) return err_set(err, ERR_IO, "adapter directory %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return err_set(err, ERR_ARG, "%s is not a directory (a PEFT adapter directory is expected)", dir);
    char path[4200], weights[4200];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    snprintf(weights, sizeof weights, "%s/adapter_model.safetensors", dir);
    char *text;
    size_t len;
    if (file_read_all(path, ADAPTER_CONFIG_MAX, &text, &len, err)) return -1;
    if (!file_exists(weights)) {
        free(text);
        return err_set(err, ERR_IO, "%s: missing (the adapter's weights)", weights);
    }
    if (stat(path, &st) == 0) *created = (long long)st.st_mtime;
    json_error_t je;
    json_t *cfg = json_loadb(text, len, 0, &je);
    free(text);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return cfg ? err_set(err, ERR_FORMAT, "%s: not a JSON object", path)
                   : err_set(err, ERR_FORMAT, "%s: line %d, column %d: %s", path, je.line, je.column, je.text);
    }
    const char *base = json_string_value(json_object_get(cfg, "base_model_name_or_path"));
    snprintf(hf, hf_cap, "%s", base ? base : "");
    json_decref(cfg);
    return 0;
}

/* One --adapter value into a; the table is not touched. */
static int parse_spec(const char *spec, const char *const *dirs, int n_dirs, ServedAdapter *a, Err *err) {
    memset(a, 0, sizeof *a);
    const char *eq = strchr(spec, '=');
    if (!eq) return err_set(err, ERR_ARG, "expected NAME=DIR or NAME=DIR@BASE_ID");
    if ((size_t)(eq - spec) >= sizeof a->name) return err_set(err, ERR_ARG, "the model name is longer than %zu bytes", sizeof a->name - 1);
    snprintf(a->name, sizeof a->name, "%.*s", (int)(eq - spec), spec);
    if (check_name(a->name, dirs, n_dirs, err)) return -1;
    /* DIR@BASE_ID: the last '@', when what follows it has no '/' (a base id never has one; a
     * directory whose last component has an '@' is written with a trailing '/') */
    const char *dir = eq + 1, *at = strrchr(dir, '@');
    if (at && strchr(at, '/')) at = NULL;
    size_t dir_len = at ? (size_t)(at - dir) : strlen(dir);
    if (!dir_len) return err_set(err, ERR_ARG, "the adapter directory after '=' is empty");
    if (at && !at[1]) return err_set(err, ERR_ARG, "the base model id after '@' is empty");
    if (dir_len >= sizeof a->dir) return err_set(err, ERR_ARG, "the adapter directory is longer than %zu bytes", sizeof a->dir - 1);
    snprintf(a->dir, sizeof a->dir, "%.*s", (int)dir_len, dir);
    char hf[STORE_NAME_MAX];
    if (read_adapter_dir(a->dir, hf, sizeof hf, &a->created, err)) return -1;
    char resolved[4096];
    if (realpath(a->dir, resolved)) snprintf(a->dir, sizeof a->dir, "%s", resolved);
    ModelInfo base;
    if (at) {
        char ids[256];
        if (registry_find_base(dirs, n_dirs, at + 1, &base) == 0) {
            snprintf(a->base_id, sizeof a->base_id, "%s", base.id);
            return 0;
        }
        base_ids_text(dirs, n_dirs, ids, sizeof ids);
        return err_set(err, ERR_ARG, "@%s: no such base model in the --models directories (%s)", at + 1, ids);
    }
    if (!hf[0])
        return err_set(err, ERR_ARG, "%s/adapter_config.json names no base_model_name_or_path: name the base with NAME=DIR@BASE_ID",
                       a->dir);
    if (find_base_for(dirs, n_dirs, hf, &base, err)) return -1;
    snprintf(a->base_id, sizeof a->base_id, "%s", base.id);
    return 0;
}

int registry_adapters_configure(const char *const *specs, int n, const char *const *dirs, int n_dirs, Err *err) {
    g_n_adapters = 0;
    if (n > REGISTRY_MAX_ADAPTERS)
        return err_set(err, ERR_ARG, "--adapter: %d adapters, at most %d", n, REGISTRY_MAX_ADAPTERS);
    for (int i = 0; i < n; i++) {
        ServedAdapter a;
        if (parse_spec(specs[i], dirs, n_dirs, &a, err)) {
            g_n_adapters = 0;
            return err_prefix(err, "--adapter '%s'", specs[i]);
        }
        g_adapters[g_n_adapters++] = a;
    }
    return 0;
}

/* m for served adapter a, or STORE_NOT_FOUND when its base model has gone from the directories. */
static int adapter_info(const ServedAdapter *a, const char *const *dirs, int n_dirs, ModelInfo *m) {
    if (registry_find_base(dirs, n_dirs, a->base_id, m)) return STORE_NOT_FOUND;
    m->kind = MODEL_ADAPTER;
    snprintf(m->id, sizeof m->id, "%s", a->name);
    snprintf(m->adapter_dir, sizeof m->adapter_dir, "%s", a->dir);
    m->created = a->created;
    return 0;
}

int registry_find_adapter(const char *const *dirs, int n_dirs, const char *name, ModelInfo *out) {
    for (int i = 0; i < g_n_adapters; i++)
        if (strcmp(g_adapters[i].name, name) == 0) return adapter_info(&g_adapters[i], dirs, n_dirs, out);
    return STORE_NOT_FOUND;
}

int registry_list_adapters(const char *const *dirs, int n_dirs, ModelInfo **out, int *n, Err *err) {
    *out = NULL;
    *n = 0;
    if (!g_n_adapters) return 0;
    ModelInfo *list = malloc((size_t)g_n_adapters * sizeof *list);
    if (!list) return err_set(err, ERR_NOMEM, "out of memory");
    for (int i = 0; i < g_n_adapters; i++)
        if (adapter_info(&g_adapters[i], dirs, n_dirs, &list[*n]) == 0) ++*n;
    *out = list;
    return 0;
}
