/* validate.c: the validation driver: reads the file line by line (jsonl_reader), parses each line
 * (jdoc; Jansson words the message when a line is not JSON), applies the example rules, counts
 * tokens with the model when there is one, and feeds the dataset statistics; then the
 * dataset-level checks and the report. */
#include "validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_rules.h"
#include "dataset_stats.h"
#include "example_messages.h"
#include "example_tokens.h"
#include "jdoc.h"
#include "jsonl_reader.h"
#include "problem_list.h"
#include "validate_preview.h"
#include "../model/text_model.h"
#include "utf8_check.h"

#define MB (1024.0 * 1024.0)

typedef struct {
    const ValidateOptions *opt;
    ValidateReport *rep;
    ProblemList pl;
    long line;
    long max_length;
    JDoc doc;
    ExampleRules rules;
    DatasetStats stats;
    ExampleMessages em;
} Run;

void validate_options_default(ValidateOptions *opt) {
    memset(opt, 0, sizeof *opt);
    opt->method = VALIDATE_SUPERVISED;
    opt->max_problems = VALIDATE_MAX_PROBLEMS_DEFAULT;
    opt->min_examples = VALIDATE_MIN_EXAMPLES;
    opt->max_file_bytes = VALIDATE_MAX_FILE_BYTES;
}

const char *validate_method_name(ValidateMethod m) { return m == VALIDATE_DPO ? "dpo" : "supervised"; }

static void emit_rule(void *ctx, ValidateSeverity sev, const char *code, const char *path, const char *message) {
    Run *r = ctx;
    problem_list_add(&r->pl, r->line, sev, code, path, message);
}

static void emit_stats(void *ctx, long line, const char *code, const char *message) {
    Run *r = ctx;
    problem_list_add(&r->pl, line, VALIDATE_WARNING, code, "", message);
}

__attribute__((format(printf, 5, 6))) static void add(Run *r, long line, ValidateSeverity sev, const char *code,
                                                      const char *fmt, ...) {
    char msg[VALIDATE_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    problem_list_add(&r->pl, line, sev, code, "", msg);
}

static bool blank(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
    return true;
}

/* A line that jdoc rejected: Jansson says why, with the column. Very long lines (whose partial
 * Jansson tree could be large) and the case where the two parsers disagree (tests/fuzz/validate.c
 * looks for it) get jdoc's own words. */
static void report_bad_json(Run *r, const char *text, size_t len) {
    if (len <= VALIDATE_JANSSON_LINE_MAX) {
        json_error_t je;
        json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
        if (!j) {
            add(r, r->line, VALIDATE_ERROR, "invalid_json", "invalid JSON at column %d: %s", je.column, je.text);
            return;
        }
        json_decref(j);
    }
    add(r, r->line, VALIDATE_ERROR, "invalid_json", "invalid JSON at column %zu: %s",
        utf8_count_chars(text, r->doc.err_pos) + 1, r->doc.err_msg);
}

static bool wants_preview(const Run *r) { return r->rep->n_previews < r->opt->preview_examples; }

/* Counts the tokens of a valid example (and renders it for the preview while one is wanted). Returns 0, 1 when the template cannot render it (reported),
 * -1 on failure. */
static int count_tokens(Run *r, ExampleTokenCounts *counts, Err *err) {
    const TextModel *tm = r->opt->model;
    const JDoc *d = &r->doc;
    ExampleMessages *em = &r->em;
    Err terr = {0};
    int rc;
    example_messages_reset(em);
    if (r->opt->method == VALIDATE_SUPERVISED) {
        if (example_messages_add_tools(em, d, 0, err) ||
            example_messages_add_list(em, d, jdoc_get(d, 0, "messages"), EXAMPLE_TRAIN_WEIGHT, err))
            return -1;
        rc = example_tokenize(tm, em, r->max_length, NULL, NULL, counts, &terr);
        if (rc == 0 && wants_preview(r) && preview_add(r->rep, tm, em, r->line, err)) return -1;
    } else {
        uint32_t input = jdoc_get(d, 0, "input");
        if (example_messages_add_tools(em, d, input, err) ||
            example_messages_add_list(em, d, jdoc_get(d, input, "messages"), EXAMPLE_TRAIN_NONE, err))
            return -1;
        int n_in = em->n;
        ExampleTokenCounts c[2];
        rc = 0;
        for (int k = 0; k < 2 && rc == 0; k++) {
            example_messages_truncate(em, n_in);
            if (example_messages_add_list(em, d, example_dpo_output(d, k == 1), EXAMPLE_TRAIN_ALL, err))
                return -1;
            rc = example_tokenize(tm, em, r->max_length, NULL, NULL, &c[k], &terr);
            if (rc == 0 && k == 0 && wants_preview(r) && preview_add(r->rep, tm, em, r->line, err)) return -1;
        }
        if (rc == 0) {
            counts->n_tokens = c[0].n_tokens > c[1].n_tokens ? c[0].n_tokens : c[1].n_tokens;
            counts->n_trained = c[0].n_trained + c[1].n_trained;
            counts->n_trained_kept = c[0].n_trained_kept + c[1].n_trained_kept;
        }
    }
    if (rc == 0) return 0;
    if (terr.code != ERR_ARG) {
        if (err) *err = terr;
        return -1;
    }
    add(r, r->line, VALIDATE_ERROR, "template_error", "the model's chat template cannot render this example: %s",
        terr.msg);
    return 1;
}

/* One non-empty line. Returns -1 on failure (err set). */
static int check_line(Run *r, const JsonlLine *line, Err *err) {
    int rc = jdoc_parse(&r->doc, line->text, line->len);
    if (rc == JDOC_NOMEM) return err_set(err, ERR_NOMEM, "out of memory at line %ld", r->line);
    if (rc == JDOC_BAD_UTF8) {
        size_t at = r->doc.err_pos;
        add(r, r->line, VALIDATE_ERROR, "invalid_utf8",
            "invalid UTF-8 at column %zu (byte 0x%02X); save the file as UTF-8", utf8_count_chars(line->text, at) + 1,
            (unsigned char)line->text[at]);
        return 0;
    }
    if (rc == JDOC_TOO_MANY) {
        add(r, r->line, VALIDATE_ERROR, "line_too_complex", "more than %u JSON values in one line",
            VALIDATE_VALUES_MAX);
        return 0;
    }
    if (rc != JDOC_OK) {
        report_bad_json(r, line->text, line->len);
        return 0;
    }
    ExampleSummary sum;
    int n_err = rules_check_example(&r->rules, &r->doc, 0, &sum);
    if (n_err < 0) return err_set(err, ERR_NOMEM, "out of memory at line %ld", r->line);
    if (n_err > 0) return 0;
    ExampleTokenCounts counts = {0};
    if (r->opt->model) {
        int trc = count_tokens(r, &counts, err);
        if (trc < 0) return err_prefix(err, "line %ld", r->line);
        if (trc > 0) return 0;
        if (r->max_length > 0 && counts.n_tokens > r->max_length) {
            long cut = counts.n_tokens - r->max_length;
            if (counts.n_trained_kept == 0 && counts.n_trained > 0)
                add(r, r->line, VALIDATE_WARNING, "too_long",
                    "%ld tokens, over the %ld-token limit: the last %ld will be cut, and with them every trained token",
                    counts.n_tokens, r->max_length, cut);
            else
                add(r, r->line, VALIDATE_WARNING, "too_long",
                    "%ld tokens, over the %ld-token limit: the last %ld will be cut", counts.n_tokens, r->max_length,
                    cut);
        }
    }
    r->rep->valid_examples++;
    if (stats_add(&r->stats, r->line, &sum, r->opt->model ? &counts : NULL, r->max_length))
        return err_set(err, ERR_NOMEM, "out of memory at line %ld", r->line);
    return 0;
}

static int read_all(Run *r, const char *path, Err *err) {
    ValidateReport *rep = r->rep;
    JsonlReader *reader;
    if (jsonl_open(path, VALIDATE_LINE_MAX, &reader, err)) return -1;
    rep->bytes = jsonl_file_size(reader);
    if (rep->bytes > r->opt->max_file_bytes)
        add(r, 0, VALIDATE_ERROR, "file_too_large", "the file is %.1f MB; the limit is %.0f MB",
            (double)rep->bytes / MB, (double)r->opt->max_file_bytes / MB);
    int rc = 0;
    JsonlLine line;
    for (;;) {
        int got = jsonl_next(reader, &line, err);
        if (got < 0) {
            rc = -1;
            break;
        }
        if (got == 0) break;
        r->line = rep->lines = line.number;
        if (line.too_long) {
            rep->examples++;
            add(r, r->line, VALIDATE_ERROR, "line_too_long", "the line is %zu bytes, longer than the %zu-byte limit",
                line.len, (size_t)VALIDATE_LINE_MAX);
            continue;
        }
        if (blank(line.text, line.len)) {
            add(r, r->line, VALIDATE_ERROR, "empty_line", "empty line (each line must hold one JSON object)");
            continue;
        }
        rep->examples++;
        if (check_line(r, &line, err)) {
            rc = -1;
            break;
        }
    }
    jsonl_close(reader);
    return rc;
}

static int finish(Run *r, Err *err) {
    ValidateReport *rep = r->rep;
    const ValidateOptions *opt = r->opt;
    if (rep->examples < opt->min_examples)
        add(r, 0, VALIDATE_ERROR, "invalid_n_examples",
            "Training file has %ld example(s), but must have at least %ld examples", rep->examples, opt->min_examples);
    DatasetStats *s = &r->stats;
    if (stats_find_duplicates(s, opt->method == VALIDATE_SUPERVISED, emit_stats, r, &rep->duplicates, &rep->conflicts))
        return err_set(err, ERR_NOMEM, "out of memory");
    rep->without_system = s->without_system;
    rep->without_user = s->without_user;
    stats_summarise(s->messages, s->n, &rep->messages);
    rep->n_epochs = validate_auto_epochs(rep->valid_examples);
    if (opt->model) {
        rep->have_tokens = true;
        rep->max_length = r->max_length;
        stats_summarise(s->tokens, s->n, &rep->tokens);
        stats_summarise(s->trained, s->n, &rep->assistant_tokens);
        rep->over_max_length = s->over_limit;
        rep->dataset_tokens = s->dataset_tokens;
        rep->trained_tokens = s->dataset_tokens * rep->n_epochs;
        rep->assistant_tokens_total = s->trained_kept;
    }
    rep->errors = r->pl.total_errors;
    rep->warnings = r->pl.total_warnings;
    if (problem_list_take(&r->pl, &rep->problems, &rep->n_problems)) return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

static int describe_model(ValidateReport *rep, const TextModel *tm, Err *err) {
    rep->model_path = strdup(tm->path);
    rep->model_template = strdup(chat_template_variant(tm->tmpl));
    rep->model_context = tm->context_length;
    if (tm->template_warning) rep->model_note = strdup(tm->template_warning);
    if (!rep->model_path || !rep->model_template || (tm->template_warning && !rep->model_note))
        return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

int validate_file(const char *path, const ValidateOptions *opt, ValidateReport *rep, Err *err) {
    memset(rep, 0, sizeof *rep);
    rep->method = opt->method;
    if (!(rep->path = strdup(path))) return err_set(err, ERR_NOMEM, "out of memory");
    if (opt->max_problems < 0 || opt->max_problems > VALIDATE_MAX_PROBLEMS_LIMIT || opt->max_length < 0 ||
        opt->min_examples < 0 || (opt->method != VALIDATE_SUPERVISED && opt->method != VALIDATE_DPO) ||
        opt->preview_examples < 0 || opt->preview_examples > VALIDATE_PREVIEW_MAX)
        return err_set(err, ERR_ARG, "invalid validation options");
    Run *r = calloc(1, sizeof *r);
    if (!r) return err_set(err, ERR_NOMEM, "out of memory");
    r->opt = opt;
    r->rep = rep;
    r->max_length = opt->model ? (opt->max_length > 0 ? opt->max_length : opt->model->context_length) : 0;
    problem_list_init(&r->pl, opt->max_problems);
    jdoc_init(&r->doc, VALIDATE_VALUES_MAX);
    rules_init(&r->rules, opt->method, emit_rule, r);
    stats_init(&r->stats, opt->model != NULL);
    example_messages_init(&r->em);
    int rc = (opt->model && describe_model(rep, opt->model, err)) || read_all(r, path, err) || finish(r, err) ? -1 : 0;
    example_messages_free(&r->em);
    stats_free(&r->stats);
    rules_free(&r->rules);
    jdoc_free(&r->doc);
    problem_list_free(&r->pl);
    free(r);
    return rc;
}

void validate_report_free(ValidateReport *rep) {
    if (!rep) return;
    free(rep->path);
    free(rep->problems);
    free(rep->model_path);
    free(rep->model_template);
    free(rep->model_note);
    for (long i = 0; i < rep->n_previews; i++) preview_free(&rep->previews[i]);
    free(rep->previews);
    memset(rep, 0, sizeof *rep);
}

char *validate_problem_format(const ValidateProblem *p, char *buf, size_t cap) {
    char where[32] = "";
    if (p->line > 0) snprintf(where, sizeof where, "line %ld: ", p->line);
    snprintf(buf, cap, "%s%s%s%s", where, p->path, p->path[0] ? ": " : "", p->message);
    return buf;
}

static const char *plural(long n) { return n == 1 ? "" : "s"; }

char *validate_verdict(const ValidateReport *rep, char *buf, size_t cap) {
    char warn[64] = "";
    if (rep->warnings) snprintf(warn, sizeof warn, ", %ld warning%s", rep->warnings, plural(rep->warnings));
    if (rep->errors == 0) {
        snprintf(buf, cap, "valid: %ld example%s%s", rep->examples, plural(rep->examples), warn);
    } else {
        long bad = rep->examples - rep->valid_examples;
        char in[96] = "";
        if (bad > 0) snprintf(in, sizeof in, " in %ld of %ld example%s", bad, rep->examples, plural(rep->examples));
        snprintf(buf, cap, "invalid: %ld error%s%s%s", rep->errors, plural(rep->errors), in, warn);
    }
    return buf;
}
