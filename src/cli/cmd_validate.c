/* cmd_validate.c: `ftune validate FILE`: checks a fine-tuning dataset before a job starts and
 * prints every problem with its line, the statistics and a one-line verdict (or all of it as
 * JSON). Exit status 0 valid, 1 invalid, 2 the file or the model could not be read. The checks
 * themselves live in src/data/validate.h; this file only parses options and prints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/text_model.h"
#include "../data/validate.h"
#include "args.h"
#include "cli.h"

#define VALIDATE_MAX_LENGTH_LIMIT (1L << 30) /* largest --max-length accepted */

static const char *const VALIDATE_OPTIONS[] = {"model", "method", "max-length", "json", "max-problems", NULL};
static const char *const VALIDATE_FLAGS[] = {"json", NULL};

static void usage(void) {
    fprintf(stderr,
            "usage: ftune validate FILE [--model PATH] [--method supervised|dpo] [--max-length N] [--json]\n"
            "                           [--max-problems N]\n"
            "Checks a fine-tuning dataset (JSONL, OpenAI chat or DPO format) and reports every problem\n"
            "with its line, statistics per example and the default number of epochs.\n"
            "  --model PATH        count tokens with this model's tokenizer and chat template (GGUF file or\n"
            "                      Hugging Face directory; weights are not loaded)\n"
            "  --method M          supervised (default) or dpo\n"
            "  --max-length N      tokens per example before truncation (default: the model's context)\n"
            "  --json              print the report as JSON\n"
            "  --max-problems N    problems listed, errors first (default %d; all are counted)\n"
            "Exit status: 0 valid, 1 invalid, 2 the input could not be read.\n",
            VALIDATE_MAX_PROBLEMS_DEFAULT);
}

/* 1234567 -> "1,234,567" */
static const char *thousands(long long v, char *buf, size_t cap) {
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", v < 0 ? -v : v);
    size_t n = strlen(raw), o = 0;
    if (v < 0 && o + 1 < cap) buf[o++] = '-';
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = 0;
    return buf;
}

static void print_size(uint64_t bytes) {
    if (bytes < 1024)
        printf("%llu bytes", (unsigned long long)bytes);
    else if (bytes < 1024 * 1024)
        printf("%.1f KB", bytes / 1024.0);
    else
        printf("%.1f MB", bytes / (1024.0 * 1024.0));
}

static void print_dist(const char *name, const ValidateDist *d) {
    printf("  %-28s %8.0f %9.2f %8.1f %8.1f %8.0f\n", name, d->min, d->mean, d->median, d->p90, d->max);
}

static void print_problems(const ValidateReport *rep) {
    long listed_err = 0, listed_warn = 0;
    for (long i = 0; i < rep->n_problems; i++) {
        if (rep->problems[i].severity == VALIDATE_ERROR)
            listed_err++;
        else
            listed_warn++;
    }
    char text[VALIDATE_PATH_MAX + VALIDATE_MESSAGE_MAX + 32];
    for (int sev = 0; sev < 2; sev++) {
        long total = sev == VALIDATE_ERROR ? rep->errors : rep->warnings;
        if (total == 0) continue;
        printf("\n%s (%ld):\n", sev == VALIDATE_ERROR ? "errors" : "warnings", total);
        for (long i = 0; i < rep->n_problems; i++)
            if ((int)rep->problems[i].severity == sev)
                printf("  %s\n", validate_problem_format(&rep->problems[i], text, sizeof text));
        long hidden = total - (sev == VALIDATE_ERROR ? listed_err : listed_warn);
        if (hidden > 0) printf("  ... and %ld more not listed (--max-problems raises the limit)\n", hidden);
    }
}

static void print_report(const ValidateReport *rep) {
    char a[32], b[32], c[32];
    printf("ftune validate: %s (%s, %ld line%s, ", rep->path, validate_method_name(rep->method), rep->lines,
           rep->lines == 1 ? "" : "s");
    print_size(rep->bytes);
    printf(")\n");
    if (rep->model_path) {
        printf("model: %s (chat template %s", rep->model_path, rep->model_template);
        if (rep->model_context) printf(", context %ld tokens", rep->model_context);
        printf(")\n");
        if (rep->model_note)
            printf("note: the model's chat template is not supported, so the plain format is used: %s\n",
                   rep->model_note);
    }
    print_problems(rep);
    printf("\nexamples: %ld (%ld valid)\n", rep->examples, rep->valid_examples);
    if (rep->messages.n > 0) {
        printf("  %-28s %8s %9s %8s %8s %8s\n", "per example", "min", "mean", "median", "p90", "max");
        print_dist("messages", &rep->messages);
        if (rep->have_tokens) {
            print_dist("tokens", &rep->tokens);
            print_dist("assistant (trained) tokens", &rep->assistant_tokens);
        }
    }
    if (rep->have_tokens && rep->max_length > 0)
        printf("examples over %s tokens (truncated): %ld\n", thousands(rep->max_length, a, sizeof a),
               rep->over_max_length);
    printf("examples without a system message: %ld; without a user message: %ld\n", rep->without_system,
           rep->without_user);
    printf("exact duplicates: %ld; same prompt with a different answer: %ld\n", rep->duplicates, rep->conflicts);
    if (rep->n_epochs > 0) {
        printf("epochs (auto): %ld", rep->n_epochs);
        if (rep->have_tokens)
            printf("; tokens trained: %s x %ld = %s (assistant tokens with loss: %s per epoch)",
                   thousands(rep->dataset_tokens, a, sizeof a), rep->n_epochs,
                   thousands(rep->trained_tokens, b, sizeof b), thousands(rep->assistant_tokens_total, c, sizeof c));
        printf("\n");
    }
    if (!rep->have_tokens)
        printf("token counts: not computed (pass --model PATH to count with a model's tokenizer and chat template)\n");
    char verdict[256];
    printf("\n%s\n", validate_verdict(rep, verdict, sizeof verdict));
}

int cmd_validate(int argc, char **argv) {
    Args a;
    int parse_status;
    if (args_parse_command(&a, argc, argv, "validate", VALIDATE_FLAGS, VALIDATE_OPTIONS, usage, &parse_status))
        return parse_status;
    if (a.n_positional != 1) {
        usage();
        return EXIT_BAD_INPUT;
    }
    ValidateOptions opt;
    validate_options_default(&opt);
    const char *method = args_get(&a, "method");
    if (method && strcmp(method, "dpo") == 0)
        opt.method = VALIDATE_DPO;
    else if (method && strcmp(method, "supervised") != 0) {
        fprintf(stderr, "ftune validate: --method: expected supervised or dpo, got '%s'\n", method);
        return EXIT_BAD_INPUT;
    }
    long max_problems = VALIDATE_MAX_PROBLEMS_DEFAULT, max_length = 0;
    if (args_int(&a, "max-problems", &max_problems, 0, VALIDATE_MAX_PROBLEMS_LIMIT) ||
        args_int(&a, "max-length", &max_length, 1, VALIDATE_MAX_LENGTH_LIMIT))
        return EXIT_BAD_INPUT;
    opt.max_problems = max_problems;
    opt.max_length = max_length;
    bool json = args_has(&a, "json");
    Err err = {0};
    TextModel *tm = NULL;
    const char *model = args_get(&a, "model");
    if (model && text_model_load(model, &tm, &err)) {
        fprintf(stderr, "ftune validate: %s\n", err.msg);
        return EXIT_BAD_INPUT;
    }
    if (!tm && max_length && !json)
        fprintf(stderr, "ftune validate: note: --max-length needs --model (tokens are not counted without a model)\n");
    opt.model = tm;
    ValidateReport rep;
    int rc = validate_file(a.positional[0], &opt, &rep, &err);
    int status;
    if (rc) {
        fprintf(stderr, "ftune validate: %s\n", err.msg);
        status = EXIT_BAD_INPUT;
    } else {
        if (json) {
            json_t *j = validate_report_to_json(&rep);
            char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) : NULL;
            if (s)
                printf("%s\n", s);
            else
                fprintf(stderr, "ftune validate: out of memory\n");
            free(s);
            json_decref(j);
        } else {
            print_report(&rep);
        }
        status = rep.errors ? 1 : 0;
    }
    validate_report_free(&rep);
    text_model_free(tm);
    return status;
}
