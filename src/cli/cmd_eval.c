/* cmd_eval.c: `ftune eval`: compares candidates on a held-out chat set and reports accuracy
 * (with intervals, per-label scores and confusion matrices), prompt and completion tokens,
 * latency, and the paired comparison with the first candidate (the baseline), as a terminal
 * table, JSON and a self-contained HTML page. Options after a --candidate NAME describe that
 * candidate. Ctrl-C stops after the current example and reports what was done. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../eval/eval_run.h"
#include "args.h"
#include "cli.h"
#include "cli_precision.h"
#include "interrupt.h"
#include "progress.h"

static const char *const EVAL_OPTIONS[] = {"data", "candidate", "model", "adapter", "system-file", "fewshot", "labels",
                                           "retrieve", "retrieve-store", "store-url", "store-api-key", "k",
                                           "embedding-model",
                                           "base-url", "api-key", "normalize", "max-tokens", "temperature",
                                           "seed", "limit", "threads", "json", "html", "precision", "record",
                                           "via-evals-api", NULL};
static const char *const CANDIDATE_OPTIONS[] = {"model",    "adapter",        "system-file", "fewshot",
                                                "labels",   "retrieve",       "base-url",    "api-key",
                                                "retrieve-store", "store-url", "store-api-key"};

static void usage(void) {
    fprintf(stderr,
            "usage: ftune eval --data HELDOUT.jsonl\n"
            "                  --candidate NAME --model PATH|ID [--adapter DIR] [--system-file FILE] [--fewshot FILE]\n"
            "                                   [--labels FILE] [--retrieve FILE]\n"
            "                                   [--retrieve-store VS_ID [--store-url URL [--store-api-key KEY]]]\n"
            "                                   [--base-url URL [--api-key KEY]]\n"
            "                  [--candidate NAME ...]... [--normalize none|trim|case] [--max-tokens N]\n"
            "                  [--temperature T] [--seed N] [--limit N] [--threads N] [--json FILE] [--html FILE]\n"
            "                  [--via-evals-api] [--k N] [--embedding-model DIR]\n"
            "                  [" CLI_PRECISION_USAGE "]\n"
            "       ftune eval --data PROMPTS.jsonl --record OUT.jsonl --candidate NAME --model ID --base-url URL ...\n"
            "Each example's last assistant message is the expected answer; the messages before it are the\n"
            "prompt. The first candidate is the baseline the others are compared with. A candidate runs\n"
            "locally (a GGUF file or Hugging Face folder, with an optional PEFT adapter) or, with --base-url,\n"
            "on an OpenAI-compatible server (e.g. http://127.0.0.1:8080/v1 for ftune serve). --system-file\n"
            "replaces the examples' system message; --fewshot puts a chat JSONL's examples before each\n"
            "prompt. --labels constrains the reply to the answers of a chat JSONL (e.g. the training file): a\n"
            "structured-output candidate (locally by constrained decoding; remotely as a json_schema response_format\n"
            "{\"label\": one of them}). Generation is greedy unless --temperature is given. Default normalisation: trim.\n"
            "--retrieve puts before each prompt the --k (default 3) most similar examples of a chat JSONL (e.g. the\n"
            "training file), by the sentence embeddings of their user turns (--embedding-model, default\n"
            "models/all-MiniLM-L6-v2): the retrieved few-shot baseline. --retrieve-store searches each prompt's user\n"
            "turns in vector store VS_ID of the server at --store-url (default the candidate's --base-url) and ends\n"
            "its system message with the --k best chunks, as `ftune dataset add-context --store` does for training.\n"
            "--via-evals-api runs each --base-url candidate as one run of its endpoint's Evals API (ftune serve's or\n"
            "OpenAI's) and scores its output items as the direct path scores its answers.\n"
            "--record runs one candidate (typically the hosted model being replaced, through --base-url) and writes\n"
            "its answers as a held-out chat JSONL: each example's prompt (all its messages, or those before a\n"
            "final assistant message) followed by the answer; `ftune eval --data OUT.jsonl` then judges other\n"
            "candidates against those answers.\n");
}

static void on_progress(void *user, const EvalCandidate *c, long done, long total) {
    Progress *bar = user;
    progress_update(bar, done, c->name, done == total);
}

static int set_field(EvalCandidate *c, const char *name, const char *value) {
    char *dst = strcmp(name, "model") == 0         ? c->model
                : strcmp(name, "adapter") == 0     ? c->adapter
                : strcmp(name, "system-file") == 0 ? c->system_file
                : strcmp(name, "fewshot") == 0     ? c->fewshot_file
                : strcmp(name, "labels") == 0      ? c->labels_file
                : strcmp(name, "retrieve") == 0    ? c->retrieve_file
                : strcmp(name, "base-url") == 0    ? c->base_url
                : strcmp(name, "retrieve-store") == 0 ? c->retrieve_store
                : strcmp(name, "store-url") == 0   ? c->store_url
                : strcmp(name, "store-api-key") == 0 ? c->store_api_key
                                                   : c->api_key;
    size_t cap = strcmp(name, "api-key") == 0 || strcmp(name, "store-api-key") == 0 ? sizeof c->api_key
                 : strcmp(name, "retrieve-store") == 0                             ? sizeof c->retrieve_store
                                                                                   : sizeof c->model;
    if (strlen(value) >= cap) {
        fprintf(stderr, "ftune eval: --%s: too long\n", name);
        return -1;
    }
    snprintf(dst, cap, "%s", value);
    return 0;
}

/* Walks the options in order: each --candidate starts a candidate; candidate options after it
 * describe it. */
static int parse_candidates(const Args *a, EvalReport *r) {
    for (int i = 0; i < a->n; i++) {
        char name[32];
        snprintf(name, sizeof name, "%.*s", a->name_lens[i], a->names[i]);
        if (strcmp(name, "candidate") == 0) {
            if (r->n_cands == EVAL_MAX_CANDIDATES) {
                fprintf(stderr, "ftune eval: at most %d candidates\n", EVAL_MAX_CANDIDATES);
                return -1;
            }
            snprintf(r->cands[r->n_cands++].name, EVAL_NAME_MAX, "%s", a->values[i] ? a->values[i] : "");
            continue;
        }
        bool per_candidate = false;
        for (size_t k = 0; k < sizeof CANDIDATE_OPTIONS / sizeof CANDIDATE_OPTIONS[0]; k++)
            per_candidate |= strcmp(name, CANDIDATE_OPTIONS[k]) == 0;
        if (!per_candidate) continue;
        if (!r->n_cands) {
            fprintf(stderr, "ftune eval: --%s must follow a --candidate NAME\n", name);
            return -1;
        }
        if (set_field(&r->cands[r->n_cands - 1], name, a->values[i] ? a->values[i] : "")) return -1;
    }
    for (int i = 0; i < r->n_cands; i++) {
        const EvalCandidate *c = &r->cands[i];
        if (!c->name[0] || !c->model[0]) {
            fprintf(stderr, "ftune eval: candidate %d needs a name and a --model\n", i + 1);
            return -1;
        }
        if (c->retrieve_store[0] && !c->store_url[0] && !c->base_url[0]) {
            fprintf(stderr, "ftune eval: candidate %s: --retrieve-store needs the store's server: --store-url URL (or "
                            "a --base-url candidate)\n", c->name);
            return -1;
        }
        if ((c->store_url[0] || c->store_api_key[0]) && !c->retrieve_store[0]) {
            fprintf(stderr, "ftune eval: candidate %s: --store-url and --store-api-key go with --retrieve-store\n",
                    c->name);
            return -1;
        }
    }
    return r->n_cands ? 0 : -1;
}

static int parse_norm(const char *s, EvalNorm *out) {
    if (!s || strcmp(s, "trim") == 0) *out = EVAL_NORM_TRIM;
    else if (strcmp(s, "none") == 0) *out = EVAL_NORM_NONE;
    else if (strcmp(s, "case") == 0) *out = EVAL_NORM_TRIM_CASEFOLD;
    else {
        fprintf(stderr, "ftune eval: --normalize: expected none, trim or case\n");
        return -1;
    }
    return 0;
}

int cmd_eval(int argc, char **argv) {
    Args a;
    int status;
    static const char *const flags[] = {"via-evals-api", NULL};
    if (args_parse_command(&a, argc, argv, "eval", flags, EVAL_OPTIONS, usage, &status)) return status;
    EvalReport *r = calloc(1, sizeof *r);
    if (!r) return 1;
    long max_tokens = 64, limit = 0, threads = 0, seed = 0, k = 3;
    double temperature = 0;
    FtPrecision precision = FT_PRECISION_AUTO;
    int rc = EXIT_BAD_INPUT;
    if (a.n_positional || !args_get(&a, "data") || parse_candidates(&a, r) ||
        parse_norm(args_get(&a, "normalize"), &r->norm) || args_int(&a, "max-tokens", &max_tokens, 1, 1 << 20) ||
        args_int(&a, "limit", &limit, 0, EVAL_MAX_EXAMPLES) || args_int(&a, "threads", &threads, 0, 1024) ||
        args_int(&a, "seed", &seed, 0, 0x7fffffffffffffffl) || args_float(&a, "temperature", &temperature, 0, 2) ||
        args_int(&a, "k", &k, 1, 64) ||
        cli_precision_parse(&a, &precision)) {
        if (!r->n_cands) usage();
        free(r);
        return EXIT_BAD_INPUT;
    }
    Err err = {0};
    EvalSet set = {0};
    const char *record = args_get(&a, "record");
    if (record && r->n_cands != 1) {
        fprintf(stderr, "ftune eval: --record runs exactly one candidate (%d given)\n", r->n_cands);
        goto done;
    }
    if (eval_set_load(r, args_get(&a, "data"), limit, record != NULL, &set, &err)) {
        fprintf(stderr, "ftune eval: %s\n", err.msg);
        goto done;
    }
    Progress bar;
    EvalRunOptions o = {(int)max_tokens, (float)temperature, (uint64_t)seed, (int)threads, (int)precision,
                        &cli_interrupted, args_get(&a, "embedding-model") ? args_get(&a, "embedding-model")
                                                                          : "models/all-MiniLM-L6-v2",
                        (int)k, on_progress, &bar};
    cli_catch_interrupt();
    for (int i = 0; i < r->n_cands && !cli_interrupted; i++) {
        EvalCandidate *c = &r->cands[i];
        fprintf(stderr, "candidate %d/%d: %s (%s%s%s)\n", i + 1, r->n_cands, c->name, c->model,
                c->adapter[0] ? " + " : "", c->adapter);
        progress_start(&bar, set.n);
        bool via_api = args_has(&a, "via-evals-api") && c->base_url[0];
        int run = via_api ? eval_run_candidate_via_evals(&set, r, c, &o) : eval_run_candidate(&set, c, &o);
        progress_end(&bar);
        if (c->precision[0]) fprintf(stderr, "precision: %s\n", c->precision);
        if (run) {
            fprintf(stderr, "ftune eval: out of memory\n");
            goto done;
        }
        if (c->error[0]) fprintf(stderr, "ftune eval: %s: could not run: %s\n", c->name, c->error);
        else if (c->n_failed) fprintf(stderr, "warning: %s: %ld failed requests; first: %s\n", c->name, c->n_failed,
                                      c->first_failure);
    }
    cli_release_interrupt();
    if (cli_interrupted) fprintf(stderr, "stopped: reporting the examples done so far\n");
    if (record) {
        long written = 0;
        const EvalCandidate *c = &r->cands[0];
        if (c->error[0]) {
            rc = 1;
        } else if (eval_record_write(&set, c, record, &written, &err)) {
            fprintf(stderr, "ftune eval: %s\n", err.msg);
            rc = 1;
        } else {
            fprintf(stderr, "recorded %ld answers of %s in %s%s\n", written, c->name, record,
                    written < set.n ? " (the others failed or were not reached: see above)" : "");
            rc = written == set.n ? 0 : 1;
        }
        goto done;
    }
    if (eval_summarise(r, &err)) {
        fprintf(stderr, "ftune eval: %s\n", err.msg);
        goto done;
    }
    eval_report_print(r, stdout);
    rc = 0;
    if (args_get(&a, "json") && eval_report_write_json(r, args_get(&a, "json"), &err)) {
        fprintf(stderr, "ftune eval: %s\n", err.msg);
        rc = 1;
    }
    if (args_get(&a, "html") && eval_report_write_html(r, args_get(&a, "html"), &err)) {
        fprintf(stderr, "ftune eval: %s\n", err.msg);
        rc = 1;
    }
    for (int i = 0; i < r->n_cands; i++)
        if (r->cands[i].error[0]) rc = rc ? rc : 1; /* a candidate that could not run fails the command */
done:
    eval_set_free(&set);
    eval_report_free(r);
    free(r);
    return rc;
}
