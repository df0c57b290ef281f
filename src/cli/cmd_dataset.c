/* cmd_dataset.c: `ftune dataset add-context`: a chat JSONL file whose every example gets, before its
 * own turns, the k most similar examples of a pool (by sentence embeddings, retrieval/nearest.h;
 * their answers with weight 0, so that training learns the example's own answer only), or (--store)
 * the k best chunks of a vector store of a server, found through its search endpoint
 * (POST /v1/vector_stores/{id}/search, over eval_http.h) and put in the leading system message:
 * the training file for "fine-tuned + retrieval", a model fine-tuned on examples that include
 * retrieved context, evaluated with the same retrieval (`ftune eval --retrieve`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/fileio.h"
#include "../eval/eval_http.h"
#include "../eval/eval_run.h"
#include "../eval/store_context.h"
#include "../retrieval/nearest.h"
#include "args.h"
#include "cli.h"

static const char *const DATASET_OPTIONS[] = {"pool", "store", "base-url", "api-key", "in", "out", "k",
                                               "embedding-model", "threads", NULL};


static void usage(void) {
    fprintf(stderr,
            "usage: ftune dataset add-context --pool POOL.jsonl --in IN.jsonl --out OUT.jsonl [--k N]\n"
            "                                 [--embedding-model DIR] [--threads N]\n"
            "       ftune dataset add-context --store VS_ID --base-url URL [--api-key KEY] --in IN.jsonl\n"
            "                                 --out OUT.jsonl [--k N]\n"
            "Writes IN's examples with, after their system message and before their own turns, the turns of the\n"
            "--k (default 3) most similar examples of POOL (by the sentence embeddings of the user turns,\n"
            "--embedding-model, default models/all-MiniLM-L6-v2), the most similar last. When IN is POOL, an\n"
            "example never retrieves itself. The retrieved answers carry \"weight\": 0 (context, not trained).\n"
            "With --store, the example's user turns are searched in vector store VS_ID of the server at URL\n"
            "(e.g. http://127.0.0.1:8080/v1; its POST /vector_stores/VS_ID/search, --k results, at most 50), and\n"
            "the chunks found, best first, end the example's leading system message (one is added when it has\n"
            "none) after a line \"" STORE_CONTEXT_HEADER "\", each as \"[FILENAME] TEXT\". Only each line's \"messages\"\n"
            "is written.\n");
}

static bool is_system(json_t *m) {
    const char *role = json_string_value(json_object_get(m, "role"));
    return role && (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0);
}

/* The example's messages with the retrieved examples' non-system turns after its system turns. */
static json_t *with_context(const NearestIndex *ix, json_t *msgs, const long *near, int n_near) {
    json_t *out = json_array();
    for (size_t k = 0; k < json_array_size(msgs); k++)
        if (is_system(json_array_get(msgs, k))) json_array_append(out, json_array_get(msgs, k));
    for (int j = n_near - 1; j >= 0; j--) {
        json_t *ex = ix->examples[near[j]];
        for (size_t k = 0; k < json_array_size(ex); k++) {
            json_t *m = json_array_get(ex, k);
            if (is_system(m)) continue;
            json_t *copy = json_copy(m); /* context, not a target: its answers are not trained (weight 0) */
            const char *role = json_string_value(json_object_get(m, "role"));
            if (role && strcmp(role, "assistant") == 0) json_object_set_new(copy, "weight", json_integer(0));
            json_array_append_new(out, copy);
        }
    }
    for (size_t k = 0; k < json_array_size(msgs); k++)
        if (!is_system(json_array_get(msgs, k))) json_array_append(out, json_array_get(msgs, k));
    return out;
}

static int add_store_context(const char *store, const char *base_url, const char *api_key, const char *in_path,
                             const char *out_path, int k, Err *err) {
    json_t **in = NULL;
    long n_in = 0;
    EvalHttp h;
    AtomicFile af;
    int rc = eval_read_chat_jsonl(in_path, 0, &in, &n_in, err);
    bool http = !rc && !(rc = eval_http_open(&h, api_key, err)), open = false;
    if (!rc) open = !(rc = file_atomic_open(&af, out_path, err));
    for (long i = 0; !rc && i < n_in; i++) {
        char *context = store_context_search(&h, base_url, store, in[i], k, err);
        if (!context) {
            rc = err_prefix(err, "%s: example %ld", in_path, i + 1);
            break;
        }
        json_t *msgs = store_context_add(in[i], context);
        free(context);
        json_t *line = msgs ? json_pack("{s:o}", "messages", msgs) : NULL;
        char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        json_decref(line);
        if (!text) {
            rc = err_set(err, ERR_NOMEM, "out of memory");
            break;
        }
        file_atomic_write(&af, text, strlen(text));
        file_atomic_write(&af, "\n", 1);
        free(text);
    }
    if (open) rc = rc ? (file_atomic_abort(&af), rc) : file_atomic_commit(&af, err);
    if (!rc) fprintf(stderr, "wrote %s: %ld examples, each with up to %d chunks of vector store %s\n", out_path, n_in, k, store);
    if (http) eval_http_close(&h);
    for (long i = 0; i < n_in; i++) json_decref(in[i]);
    free(in);
    return rc;
}

static int add_context(const char *pool_path, const char *in_path, const char *out_path, int k, const char *model,
                       int threads, Err *err) {
    json_t **pool = NULL, **in = NULL;
    long n_pool = 0, n_in = 0;
    NearestIndex ix = {0};
    AtomicFile af;
    struct stat sp, si; /* the same file under two names is the same pool */
    bool same = stat(pool_path, &sp) == 0 && stat(in_path, &si) == 0 && sp.st_dev == si.st_dev && sp.st_ino == si.st_ino;
    bool open = false;
    int rc = eval_read_chat_jsonl(pool_path, 0, &pool, &n_pool, err);
    if (!rc && !same) rc = eval_read_chat_jsonl(in_path, 0, &in, &n_in, err);
    if (!rc && same) in = pool, n_in = n_pool;
    if (!rc) rc = nearest_build(model, pool, n_pool, threads, &ix, err);
    if (!rc) rc = file_atomic_open(&af, out_path, err);
    open = !rc;
    for (long i = 0; !rc && i < n_in; i++) {
        long near[64];
        int n = nearest_find(&ix, in[i], k, same ? i : -1, near, err);
        if (n < 0) {
            rc = err_prefix(err, "%s: example %ld", in_path, i + 1);
            break;
        }
        json_t *line = json_pack("{s:o}", "messages", with_context(&ix, in[i], near, n));
        char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        json_decref(line);
        if (!text) rc = err_set(err, ERR_NOMEM, "out of memory");
        else {
            file_atomic_write(&af, text, strlen(text));
            file_atomic_write(&af, "\n", 1);
        }
        free(text);
    }
    if (open) rc = rc ? (file_atomic_abort(&af), rc) : file_atomic_commit(&af, err);
    if (!rc) fprintf(stderr, "wrote %s: %ld examples, each with %d retrieved from %s\n", out_path, n_in, k, pool_path);
    nearest_free(&ix);
    for (long i = 0; i < n_pool; i++) json_decref(pool[i]);
    free(pool);
    for (long i = 0; !same && i < n_in; i++) json_decref(in[i]);
    if (!same) free(in);
    return rc;
}

int cmd_dataset(int argc, char **argv) {
    if (argc < 1 || strcmp(argv[0], "add-context") != 0) {
        if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
            usage();
            return 0;
        }
        usage();
        return EXIT_BAD_INPUT;
    }
    Args a;
    int status;
    if (args_parse_command(&a, argc - 1, argv + 1, "dataset add-context", NULL, DATASET_OPTIONS, usage, &status))
        return status;
    long k = 3, threads = 0;
    const char *store = args_get(&a, "store");
    if (a.n_positional || !args_get(&a, "pool") == !store || !args_get(&a, "in") || !args_get(&a, "out") ||
        args_int(&a, "k", &k, 1, store ? STORE_CONTEXT_MAX_K : 64) || args_int(&a, "threads", &threads, 0, 1024)) {
        usage();
        return EXIT_BAD_INPUT;
    }
    if (store ? !args_get(&a, "base-url") || args_get(&a, "embedding-model") || args_get(&a, "threads")
              : args_get(&a, "base-url") || args_get(&a, "api-key")) {
        fprintf(stderr, "ftune dataset add-context: %s\n",
                store ? "--store needs --base-url (the server's), and takes no --embedding-model or --threads (the "
                        "store embeds with its own model)"
                      : "--base-url and --api-key go with --store");
        return EXIT_BAD_INPUT;
    }
    Err err = {0};
    const char *model = args_get(&a, "embedding-model") ? args_get(&a, "embedding-model") : "models/all-MiniLM-L6-v2";
    if (store ? add_store_context(store, args_get(&a, "base-url"), args_get(&a, "api-key"), args_get(&a, "in"),
                                  args_get(&a, "out"), (int)k, &err)
              : add_context(args_get(&a, "pool"), args_get(&a, "in"), args_get(&a, "out"), (int)k, model, (int)threads,
                            &err)) {
        fprintf(stderr, "ftune dataset add-context: %s\n", err.msg);
        return err.code == ERR_NOMEM || err.code == ERR_IO ? 1 : EXIT_BAD_INPUT;
    }
    return 0;
}
