/* bench_validate.c: throughput and peak memory of `ftune validate` on a large generated dataset.
 * Writes a JSONL file of about SIZE_MB (default 500) to /tmp -- realistic chat examples: system
 * prompts, one- and multi-turn conversations, tool calls, escapes and non-ASCII text, all
 * distinct -- then, each in a fresh child process so that peak RSS is its own: the format checks
 * without a model (twice: the first run reads from disk or a cold cache, the second from the page
 * cache), Jansson parsing the same lines (the parser the checks would use otherwise), and, with a
 * MODEL, the checks with token counting on the first 20 MB. It asserts nothing (bench/, not tests/).
 * Usage: build/bench_validate [SIZE_MB] [MODEL]   (FTUNE_BENCH_KEEP=1 keeps the file for profiling) */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/rng.h"
#include "model/text_model.h"
#include "data/validate.h"

#define BENCH_PATH "/tmp/ftune_bench_validate.jsonl"
#define BENCH_SMALL_PATH "/tmp/ftune_bench_validate_20mb.jsonl"
#define DEFAULT_SIZE_MB 500
#define TOKEN_SIZE_MB 20
#define LINE_MAX_BYTES 8192
#define MB (1024.0 * 1024.0)

typedef struct {
    double seconds;
    long max_rss_kb;
    long examples, errors, warnings;
} Result;

static const char *const WORDS[] = {"my",      "card",   "was",     "charged", "twice",    "for",   "the",   "same",
                                    "order",   "and",    "I",       "cannot",  "log",      "in",    "since", "the",
                                    "update",  "please", "help",    "refund",  "password", "reset", "email", "never",
                                    "arrived", "app",    "crashes", "when",    "I",        "open"};
#define N_WORDS (sizeof WORDS / sizeof WORDS[0])

static size_t put_sentence(Rng *r, char *o, int words) {
    size_t n = 0;
    for (int w = 0; w < words; w++) n += (size_t)sprintf(o + n, "%s%s", w ? " " : "", WORDS[rng_next(r) % N_WORDS]);
    return n;
}

/* One example line (without '\n') into o; i makes it distinct. */
static size_t make_line(Rng *r, long i, char *o) {
    char a[1024], b[1024], c[1024];
    put_sentence(r, a, 20 + (int)(rng_next(r) % 40));
    put_sentence(r, b, 10 + (int)(rng_next(r) % 30));
    put_sentence(r, c, 5 + (int)(rng_next(r) % 20));
    static const char *const LABELS[] = {"billing", "technical", "account"};
    const char *label = LABELS[rng_next(r) % 3];
    switch (i % 5) {
    case 0:
    case 1:
        return (size_t)sprintf(
            o,
            "{\"messages\": [{\"role\": \"system\", \"content\": \"You are a support classifier. Respond with "
            "one label: billing, technical, or account.\"}, {\"role\": \"user\", \"content\": \"Ticket %ld: %s\"}, "
            "{\"role\": \"assistant\", \"content\": \"%s\"}]}",
            i, a, label);
    case 2:
        return (size_t)sprintf(
            o,
            "{\"messages\": [{\"role\": \"system\", \"content\": \"Tu es un assistant de support. R\\u00e9ponds "
            "bri\\u00e8vement.\"}, {\"role\": \"user\", \"content\": \"Caf\xC3\xA9 \xE2\x98\x95 #%ld\\n%s\"}, "
            "{\"role\": \"assistant\", \"content\": \"%s\", \"weight\": 0}, {\"role\": \"user\", \"content\": "
            "\"%s \\\"urgent\\\"\"}, {\"role\": \"assistant\", \"content\": \"%s\", \"weight\": 1}]}",
            i, a, b, c, label);
    case 3:
        return (size_t)sprintf(
            o,
            "{\"messages\": [{\"role\": \"user\", \"content\": \"Order %ld status? %s\"}, {\"role\": \"assistant\", "
            "\"content\": null, \"tool_calls\": [{\"id\": \"call_%ld\", \"type\": \"function\", \"function\": "
            "{\"name\": \"get_order\", \"arguments\": \"{\\\"order_id\\\": %ld}\"}}]}, {\"role\": \"tool\", "
            "\"tool_call_id\": \"call_%ld\", \"content\": \"shipped\"}, {\"role\": \"assistant\", \"content\": "
            "\"Your order has shipped. %s\"}], \"tools\": [{\"type\": \"function\", \"function\": {\"name\": "
            "\"get_order\", \"description\": \"Looks up an order\", \"parameters\": {\"type\": \"object\", "
            "\"properties\": {\"order_id\": {\"type\": \"integer\"}}}}}]}",
            i, b, i, i, i, c);
    default:
        return (size_t)sprintf(
            o,
            "{\"messages\": [{\"role\": \"developer\", \"content\": [{\"type\": \"text\", \"text\": \"Answer in "
            "one sentence.\"}]}, {\"role\": \"user\", \"content\": \"Question %ld: %s?\"}, {\"role\": "
            "\"assistant\", \"content\": \"%s. %s.\"}]}",
            i, a, b, c);
    }
}

/* Writes about size_mb of examples to path unless a file of that size is already there. */
static int make_file(const char *path, double size_mb, long *lines) {
    Rng r;
    rng_seed(&r, 20261124);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    static char line[LINE_MAX_BYTES];
    size_t total = 0, target = (size_t)(size_mb * MB);
    long i = 0;
    while (total < target) {
        size_t n = make_line(&r, i++, line);
        line[n++] = '\n';
        fwrite(line, 1, n, f);
        total += n;
    }
    *lines = i;
    return fclose(f);
}

/* Runs fn in a child process; its peak RSS is then its own. */
typedef void (*Phase)(const char *path, const char *model, Result *out);

static int run_child(Phase fn, const char *path, const char *model, Result *out) {
    int fds[2];
    if (pipe(fds)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        Result res = {0};
        fn(path, model, &res);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        res.max_rss_kb = ru.ru_maxrss;
        ssize_t w = write(fds[1], &res, sizeof res);
        _exit(w == (ssize_t)sizeof res ? 0 : 1);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], out, sizeof *out);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return got == (ssize_t)sizeof *out && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void phase_validate(const char *path, const char *model, Result *out) {
    ValidateOptions opt;
    validate_options_default(&opt);
    opt.max_file_bytes = UINT64_MAX; /* the bench file may be over OpenAI's 512 MB */
    TextModel *tm = NULL;
    Err err = {0};
    if (model && text_model_load(model, &tm, &err)) {
        fprintf(stderr, "bench_validate: %s\n", err.msg);
        _exit(1);
    }
    opt.model = tm;
    ValidateReport rep;
    double t0 = clock_now_s();
    if (validate_file(path, &opt, &rep, &err)) {
        fprintf(stderr, "bench_validate: %s\n", err.msg);
        _exit(1);
    }
    out->seconds = clock_now_s() - t0;
    out->examples = rep.examples;
    out->errors = rep.errors;
    out->warnings = rep.warnings;
    validate_report_free(&rep);
    text_model_free(tm);
}

/* Jansson parsing every line (json_loadb), nothing else: the alternative to src/data/jdoc.c. */
static void phase_jansson(const char *path, const char *model, Result *out) {
    (void)model;
    FILE *f = fopen(path, "r");
    if (!f) _exit(1);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    double t0 = clock_now_s();
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &je);
        out->errors += j == NULL;
        out->examples++;
        json_decref(j);
    }
    out->seconds = clock_now_s() - t0;
    free(line);
    fclose(f);
}

static double file_mb(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n / MB;
}

static void report(const char *what, double mb, const Result *r) {
    printf("%-44s %7.2f s  %7.1f MB/s  peak RSS %6.1f MB  (%ld examples, %ld errors, %ld warnings)\n", what, r->seconds,
           mb / r->seconds, r->max_rss_kb / 1024.0, r->examples, r->errors, r->warnings);
}

int main(int argc, char **argv) {
    double size_mb = argc > 1 ? atof(argv[1]) : DEFAULT_SIZE_MB;
    const char *model = argc > 2 ? argv[2] : NULL;
    long lines = 0;
    double t0 = clock_now_s();
    if (make_file(BENCH_PATH, size_mb, &lines)) {
        fprintf(stderr, "bench_validate: cannot write %s\n", BENCH_PATH);
        return 1;
    }
    double mb = file_mb(BENCH_PATH);
    printf("# %s: %.1f MB, %ld lines, written in %.1f s\n", BENCH_PATH, mb, lines, clock_now_s() - t0);
    Result r;
    for (int round = 1; round <= 2; round++) {
        if (run_child(phase_validate, BENCH_PATH, NULL, &r)) return 1;
        report(round == 1 ? "format checks, no model (run 1)" : "format checks, no model (run 2)", mb, &r);
    }
    if (run_child(phase_jansson, BENCH_PATH, NULL, &r)) return 1;
    report("Jansson json_loadb per line (parse only)", mb, &r);
    if (model) {
        long small_lines;
        make_file(BENCH_SMALL_PATH, TOKEN_SIZE_MB, &small_lines);
        double small_mb = file_mb(BENCH_SMALL_PATH);
        if (run_child(phase_validate, BENCH_SMALL_PATH, model, &r)) return 1;
        char what[128];
        snprintf(what, sizeof what, "with token counting (%.0f MB file)", small_mb);
        report(what, small_mb, &r);
        unlink(BENCH_SMALL_PATH);
    }
    if (!getenv("FTUNE_BENCH_KEEP")) unlink(BENCH_PATH);
    return 0;
}
