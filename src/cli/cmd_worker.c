/* cmd_worker.c: `ftune worker`: a job worker without an API (jobs.h), for several machines on one
 * PostgreSQL database and a data directory on shared storage (or beside `ftune serve --no-worker`
 * on one machine with SQLite): it registers under its --node-id, claims jobs, validates and trains
 * them, renews its leases, and on SIGINT/SIGTERM stops at the next step with a checkpoint and ends
 * its leases so that another worker (or itself, restarted) goes on at once. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store.h"
#include "../worker/jobs.h"
#include "../worker/model_cache.h"
#include "cli.h"
#include "cli_node.h"
#include "cli_precision.h"

#define WORKER_MAX_DIRS 16

static const char *const WORKER_OPTIONS[] = {"data", "database", "models", "threads", "precision", CLI_NODE_OPTIONS, NULL};

static void usage(void) {
    fprintf(stderr,
            "usage: ftune worker [--data DIR] [--database URI] [--models DIR]... [--threads N]\n"
            "                    [" CLI_PRECISION_USAGE "] " CLI_NODE_USAGE "\n"
            "Validates and trains the fine-tuning jobs that `ftune serve` nodes accept, without serving the API:\n"
            "run it beside `ftune serve --no-worker`, on as many machines as train. Every node names the same\n"
            "--database postgresql://... and the same data directory DIR (default ./ftune-data) on shared storage,\n"
            "and has the base models in its --models directories (default ./models). A worker holds the job it\n"
            "trains by a lease it renews every third of --lease-seconds (default %d); when it dies, another worker\n"
            "takes the job over once the lease has run out, from its last checkpoint. Each worker needs its own\n"
            "--node-id (default: the host's name). SIGINT or SIGTERM stops it at the next step with a checkpoint.\n",
            JOBS_LEASE_DEFAULT_S);
}

int cmd_worker(int argc, char **argv) {
    Args a;
    int status;
    if (args_parse_command(&a, argc, argv, "worker", NULL, WORKER_OPTIONS, usage, &status)) return status;
    if (a.n_positional) {
        usage();
        return EXIT_BAD_INPUT;
    }
    long threads = 0;
    const char *node_id;
    int lease_s;
    FtPrecision precision;
    if (args_int(&a, "threads", &threads, 0, 1024) || cli_node_parse(&a, "worker", &node_id, &lease_s) ||
        cli_precision_parse(&a, &precision))
        return EXIT_BAD_INPUT;
    const char *data_dir = args_get(&a, "data") ? args_get(&a, "data") : "ftune-data";
    const char *database = args_get(&a, "database");
    if (database && !store_is_database_url(database)) {
        fprintf(stderr, "ftune worker: --database \"%s\": expected a postgresql:// or postgres:// URI\n", database);
        return EXIT_BAD_INPUT;
    }
    const char *model_dirs[WORKER_MAX_DIRS];
    int n_model_dirs = args_all(&a, "models", model_dirs, WORKER_MAX_DIRS);
    if (!n_model_dirs) model_dirs[n_model_dirs++] = "models";
    /* SIGINT and SIGTERM wait for sigwait below: the threads started from here inherit the mask */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    Err err = {0};
    FtPrecision got;
    char why[FT_PRECISION_WHY_MAX];
    FtError fe = {0};
    ModelCache *cache = NULL;
    Store *check = NULL;
    JobWorker *w = NULL;
    int rc = 1;
    if (ft_precision_resolve(precision, &got, why, &fe)) {
        fprintf(stderr, "ftune worker: --precision: %s\n", fe.msg);
        return EXIT_BAD_INPUT;
    }
    /* the database is there (not a data directory whose ftune.db is missing) and readable */
    if (store_check_presence(data_dir, database, &err) || store_open(data_dir, database, &check, &err) ||
        store_check_integrity(check, &err) || model_cache_new(&cache, got, false, &err)) {
        fprintf(stderr, "ftune worker: %s\n", err.msg);
        goto done;
    }
    store_close(check);
    check = NULL;
    JobsConfig jc = {data_dir, database, model_dirs, n_model_dirs, cache, NULL, NULL, (int)threads, why, node_id, lease_s};
    if (jobs_start(&jc, &w, &err)) {
        fprintf(stderr, "ftune worker: %s\n", err.msg);
        goto done;
    }
    fprintf(stderr, "ftune worker: worker %s: training the jobs of %s (%s; precision: %s)\n", jobs_worker_id(w),
            data_dir, database ? "PostgreSQL" : "SQLite", why);
    int sig = 0;
    sigwait(&stop_signals, &sig);
    fprintf(stderr, "ftune worker: stopping (a running job goes on from its checkpoint on the next worker)\n");
    jobs_stop(w);
    rc = 0;
done:
    store_close(check);
    model_cache_free(cache);
    return rc;
}
