/* cmd_serve.c: `ftune serve`: parses the options and runs the OpenAI-compatible server
 * (src/serve/server.h). Without API keys it only listens on a loopback address unless told
 * otherwise, so that a bare start never exposes the fine-tuning API to the network. The
 * --adapter and --alias flags are checked here, before the server takes the data directory
 * (registry.h; an --alias to an ft: model reads the database). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../serve/server.h"
#include "../worker/registry.h"
#include "args.h"
#include "cli.h"
#include "cli_node.h"
#include "cli_precision.h"

static const char *const SERVE_OPTIONS[] = {"host", "port", "data", "database", "models", "api-key", "threads", "http-threads",
                                            "allow-no-key", "precision", "parallel", "kv-cache-mib", "max-queued-jobs",
                                            "rate-limit", "max-tokens", "adapter", "alias", "access-log", "no-worker",
                                            CLI_NODE_OPTIONS, NULL};
static const char *const SERVE_FLAGS[] = {"allow-no-key", "no-worker", NULL};

static void usage(void) {
    fprintf(stderr,
            "usage: ftune serve [--host H] [--port P] [--data DIR] [--database URI] [--models DIR]...\n"
            "                   [--api-key KEY]...\n"
            "                   [--threads N] [--http-threads N] [--allow-no-key] [" CLI_PRECISION_USAGE "]\n"
            "                   [--parallel N] [--kv-cache-mib M] [--max-queued-jobs N] [--rate-limit N]\n"
            "                   [--max-tokens N]\n"
            "                   [--adapter NAME=DIR[@BASE_ID]]... [--alias NAME=TARGET]...\n"
            "                   [--access-log FILE|-] [--no-worker] " CLI_NODE_USAGE "\n"
            "Serves the OpenAI API for fine-tuning (files, fine_tuning.jobs, models, chat.completions, responses) on\n"
            "http://H:P/v1 (default 127.0.0.1:8080). State lives in DIR (default ./ftune-data); base models are\n"
            "the GGUF files and Hugging Face folders in the --models directories (default ./models), named by\n"
            "file or folder name. With --api-key, requests need 'Authorization: Bearer KEY' (these keys act in\n"
            "the default project and may manage projects and keys); so do they once `ftune keys create` made a\n"
            "key in DIR (project keys see only their project's files, jobs and models). Without keys\n"
            "only a loopback host is allowed, unless --allow-no-key. Chat completions are batched: up to\n"
            "--parallel sequences (default 32) generate at once, within --kv-cache-mib of key/value cache\n"
            "(default 2048), which also keeps the prompts of ended requests for reuse (the prefix cache).\n"
            "At most N jobs of a project wait (validating or queued) at once (--max-queued-jobs, default %d,\n"
            "0: no bound; more is a 429); --rate-limit N allows each API key N requests a minute (default 0:\n"
            "no limit; more is a 429 with Retry-After). --max-tokens N bounds every reply: a request asking more is a\n"
            "400, one asking nothing gets at most N (default: the context, and 1024 when a request asks none).\n"
            "--adapter serves the PEFT adapter in DIR (adapter_config.json +\n"
            "adapter_model.safetensors, from any trainer) as model NAME, on the base model its\n"
            "base_model_name_or_path names (that id, its last path component, or the one id starting with\n"
            "that component and '.'), or on BASE_ID when given. --alias NAME=TARGET makes NAME stand for the\n"
            "model TARGET (a base, ft:, checkpoint or --adapter model id) wherever a model id goes, for the\n"
            "life of the process; `ftune alias set` keeps aliases in DIR's database, applied without a restart.\n"
            "Every request is logged as a JSON line to DIR/access.log, or to --access-log FILE ('-': stderr).\n"
            "--database postgresql://USER@HOST/DB (or postgres://) keeps the records (files, jobs, events, keys,\n"
            "aliases, responses, evals) in PostgreSQL instead of DIR/ftune.db; blobs and job directories stay in DIR.\n"
            "Jobs are trained by this server's worker unless --no-worker (an API-only node: `ftune worker` processes\n"
            "train them). Several nodes on one PostgreSQL database share DIR (shared storage), each with its own\n"
            "--node-id (default: the host's name; its lock and uploads in DIR/nodes/NAME); a worker holds a job by a\n"
            "lease of --lease-seconds (default %d) that another worker takes over when it runs out.\n",
            LIMITS_QUEUED_JOBS_DEFAULT, JOBS_LEASE_DEFAULT_S);
}

static bool is_loopback(const char *host) {
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
           strncmp(host, "127.", 4) == 0;
}

static void print_adapters(const ServerConfig *cfg) {
    ModelInfo *list;
    int n;
    if (registry_list_adapters(cfg->model_dirs, cfg->n_model_dirs, &list, &n, NULL)) return;
    for (int i = 0; i < n; i++)
        fprintf(stderr, "ftune serve: model %s: adapter %s on %s\n", list[i].id, list[i].adapter_dir, list[i].base_id);
    free(list);
}

int cmd_serve(int argc, char **argv) {
    Args a;
    int status;
    if (args_parse_command(&a, argc, argv, "serve", SERVE_FLAGS, SERVE_OPTIONS, usage, &status)) return status;
    if (a.n_positional) {
        usage();
        return EXIT_BAD_INPUT;
    }
    ServerConfig cfg = {0};
    long port = 8080, threads = 0, http_threads = HTTP_THREADS_DEFAULT, parallel = INFERENCE_DEFAULT_SEQS,
         kv_mib = INFERENCE_DEFAULT_KV_MIB, max_queued = LIMITS_QUEUED_JOBS_DEFAULT, rate = LIMITS_RATE_DEFAULT,
         max_tokens = 0;
    if (args_int(&a, "port", &port, 0, 65535) || args_int(&a, "threads", &threads, 0, 1024) ||
        args_int(&a, "http-threads", &http_threads, 1, 256) ||
        args_int(&a, "parallel", &parallel, 1, INFERENCE_BATCH_ROWS) ||
        args_int(&a, "kv-cache-mib", &kv_mib, 16, 1 << 20) || args_int(&a, "max-queued-jobs", &max_queued, 0, 1000000) ||
        args_int(&a, "rate-limit", &rate, 0, 1000000) || args_int(&a, "max-tokens", &max_tokens, 0, 1 << 30))
        return EXIT_BAD_INPUT;
    cfg.parallel = (int)parallel;
    cfg.kv_cache_mib = (int)kv_mib;
    cfg.max_queued_jobs = (int)max_queued;
    cfg.rate_limit = (int)rate;
    cfg.max_tokens = (int)max_tokens;
    FtPrecision precision;
    if (cli_precision_parse(&a, &precision) || cli_node_parse(&a, "serve", &cfg.node_id, &cfg.lease_s))
        return EXIT_BAD_INPUT;
    cfg.no_worker = args_has(&a, "no-worker");
    cfg.precision = (int)precision;
    cfg.host = args_get(&a, "host") ? args_get(&a, "host") : "127.0.0.1";
    cfg.port = (int)port;
    cfg.threads = (int)threads;
    cfg.http_threads = (int)http_threads;
    cfg.data_dir = args_get(&a, "data") ? args_get(&a, "data") : "ftune-data";
    cfg.database = args_get(&a, "database");
    if (cfg.database && !store_is_database_url(cfg.database)) {
        fprintf(stderr, "ftune serve: --database \"%s\": expected a postgresql:// or postgres:// URI\n", cfg.database);
        return EXIT_BAD_INPUT;
    }
    cfg.access_log = args_get(&a, "access-log");
    if (cfg.access_log && !cfg.access_log[0]) {
        fprintf(stderr, "ftune serve: --access-log: an empty path (pass a file, or - for stderr)\n");
        return EXIT_BAD_INPUT;
    }
    cfg.n_model_dirs = args_all(&a, "models", cfg.model_dirs, SERVER_MAX_DIRS);
    if (!cfg.n_model_dirs) cfg.model_dirs[cfg.n_model_dirs++] = "models";
    cfg.n_api_keys = args_all(&a, "api-key", cfg.api_keys, SERVER_MAX_KEYS);
    for (int i = 0; i < cfg.n_api_keys; i++)
        if (!cfg.api_keys[i][0]) {
            fprintf(stderr, "ftune serve: --api-key: an empty key\n");
            return EXIT_BAD_INPUT;
        }
    if (!cfg.n_api_keys && !is_loopback(cfg.host) && !args_has(&a, "allow-no-key")) {
        fprintf(stderr,
                "ftune serve: refusing to listen on %s without API keys: pass --api-key KEY, or --allow-no-key to\n"
                "accept requests from anyone who can reach this address\n",
                cfg.host);
        return EXIT_BAD_INPUT;
    }
    Err err = {0};
    const char *adapters[REGISTRY_MAX_ADAPTERS];
    int n_adapters = args_all(&a, "adapter", adapters, REGISTRY_MAX_ADAPTERS);
    if (registry_adapters_configure(adapters, n_adapters, cfg.model_dirs, cfg.n_model_dirs, &err)) {
        fprintf(stderr, "ftune serve: %s\n", err.msg);
        return EXIT_BAD_INPUT;
    }
    const char *aliases[REGISTRY_MAX_ALIASES + 1];
    int n_aliases = args_all(&a, "alias", aliases, REGISTRY_MAX_ALIASES + 1);
    if (registry_aliases_configure(aliases, n_aliases, cfg.data_dir, cfg.database, cfg.model_dirs, cfg.n_model_dirs, &err)) {
        fprintf(stderr, "ftune serve: %s\n", err.msg);
        return EXIT_BAD_INPUT;
    }
    print_adapters(&cfg);
    for (int i = 0; i < n_aliases; i++) fprintf(stderr, "ftune serve: alias %s\n", aliases[i]);
    if (server_run(&cfg, &err)) {
        fprintf(stderr, "ftune serve: %s\n", err.msg);
        return 1;
    }
    return 0;
}
