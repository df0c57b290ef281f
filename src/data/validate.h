/* validate.h: checks a fine-tuning dataset (JSONL, chat or DPO preference format) the way OpenAI's
 * fine-tuning checks it, and describes it: every problem with its line and JSON path, statistics
 * per example, token counts with a model's own tokenizer and chat template, and the default
 * number of epochs. One library call used by `ftune validate` and by the server's
 * validating_files stage, so the two cannot disagree.
 *
 * It streams: memory holds one line at a time plus a few numbers and two hashes per example
 * (for the duplicate checks), never the lines. It does not read the legacy prompt/completion or
 * reinforcement formats (reported as unsupported), fetch images, or train anything.
 *
 * Rules (codes as OpenAI names them where it has a name, else snake_case): see
 * tests/data/validate/cases.txt for one file per rule with its exact message. When a file is
 * invalid, problems[0] is its first error (file-level ones first): what a failed job's error
 * should quote (code, and validate_problem_format for the message). */
#ifndef FTUNE_VALIDATE_H
#define FTUNE_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

#define VALIDATE_MAX_FILE_BYTES ((uint64_t)512 << 20) /* OpenAI's limit for one fine-tuning file */
#define VALIDATE_MIN_EXAMPLES 10                      /* OpenAI's minimum (invalid_n_examples) */
#define VALIDATE_MAX_PROBLEMS_DEFAULT 100             /* problems listed (all are counted) */
#define VALIDATE_MAX_PROBLEMS_LIMIT 100000            /* each listed problem takes ~0.5 KB */
#define VALIDATE_LINE_MAX ((size_t)64 << 20)          /* longest line read; longer ones are an error */
#define VALIDATE_VALUES_MAX (1u << 20)                /* JSON values in one line (24 bytes each) */
#define VALIDATE_JANSSON_LINE_MAX ((size_t)1 << 20)   /* longest bad line re-read by Jansson for its message */
#define VALIDATE_PATH_MAX 160                         /* bytes of a problem's JSON path */
#define VALIDATE_MESSAGE_MAX 320                      /* bytes of a problem's message */
#define VALIDATE_PREVIEW_MAX 20                       /* examples a report may render (preview_examples) */

typedef enum { VALIDATE_SUPERVISED = 0, VALIDATE_DPO = 1 } ValidateMethod;
typedef enum { VALIDATE_ERROR = 0, VALIDATE_WARNING = 1 } ValidateSeverity;

struct TextModel;

typedef struct {
    ValidateMethod method;
    const struct TextModel *model; /* tokenizer + chat template for token counts; NULL: none */
    long max_length;               /* tokens per example before truncation; 0: the model's context */
    long max_problems;             /* problems listed, errors first */
    long min_examples;
    uint64_t max_file_bytes;
    long preview_examples;         /* with a model: the first N valid examples rendered (rep->previews) */
} ValidateOptions;

/* Supervised, no model, the limits above. */
void validate_options_default(ValidateOptions *opt);

typedef struct {
    long line; /* 1-based; 0 for the file as a whole */
    ValidateSeverity severity;
    const char *code;             /* static: "unknown_role", "invalid_n_examples", ... */
    char path[VALIDATE_PATH_MAX]; /* JSON path, e.g. "messages[2].role"; "" for the whole line */
    char message[VALIDATE_MESSAGE_MAX];
} ValidateProblem;

typedef struct {
    long n; /* values counted; the rest are 0 when n == 0 */
    double min, mean, median, p90, max;
} ValidateDist;

/* A valid example as the model sees it: its chat template's rendering, tokenized and decoded back,
 * in segments of tokens that are all trained (the loss mask) or all not. A DPO example shows its
 * preferred output. */
typedef struct {
    long line;
    long n_tokens;
    int n_segments;
    char **text;   /* per segment, heap, NUL-terminated */
    bool *trained; /* per segment */
} ValidatePreview;

typedef struct {
    char *path;
    ValidateMethod method;
    uint64_t bytes;
    long lines;                /* lines read (a final line without '\n' counts) */
    long examples;             /* non-empty lines */
    long valid_examples;       /* examples without errors; the statistics describe these */
    long errors, warnings;     /* all found */
    ValidateProblem *problems; /* listed: errors first, then warnings, each in line order */
    long n_problems;
    ValidateDist messages;         /* messages per example (DPO: input messages + 1) */
    bool have_tokens;              /* a model was given */
    ValidateDist tokens;           /* tokens per example (DPO: the longer of the two renderings) */
    ValidateDist assistant_tokens; /* trained tokens per example (DPO: both outputs) */
    long max_length;               /* token limit used; 0 without a model */
    long over_max_length;          /* examples that will be truncated */
    long without_system, without_user;
    long duplicates, conflicts;
    long n_epochs;                    /* OpenAI's "auto" for valid_examples; 0 when none */
    long long dataset_tokens;         /* sum over examples of min(tokens, max_length) */
    long long trained_tokens;         /* dataset_tokens * n_epochs (OpenAI's trained_tokens) */
    long long assistant_tokens_total; /* trained (assistant) tokens kept after truncation */
    char *model_path;                 /* NULL without a model */
    char *model_template;             /* chat template variant ("chatml", "llama3", "plain", ...) */
    long model_context;
    char *model_note; /* why the model's own template was not used, or NULL */
    ValidatePreview *previews; /* the first opt->preview_examples valid examples (with a model) */
    long n_previews;
} ValidateReport;

/* Validates the file at path. Returns 0 when the file could be read (valid or not: see
 * rep->errors), or -1 with err set (ERR_IO: missing, a directory, unreadable; ERR_NOMEM; ERR_ARG
 * for bad options). rep is filled either way and must be freed with validate_report_free.
 * Thread-safe with distinct reports; the model may be shared. */
int validate_file(const char *path, const ValidateOptions *opt, ValidateReport *rep, Err *err);
void validate_report_free(ValidateReport *rep);

/* "line 7: messages[2].role: unknown role \"assistnat\"" (no "line" part for line 0, no path
 * part when the path is empty). Returns buf. */
char *validate_problem_format(const ValidateProblem *p, char *buf, size_t cap);

/* The one-line verdict, e.g. "valid: 300 examples, 2 warnings" or
 * "invalid: 3 errors in 2 of 300 examples, 1 warning". Returns buf. */
char *validate_verdict(const ValidateReport *rep, char *buf, size_t cap);

/* OpenAI's default number of epochs for n training examples (the cookbook rule). */
long validate_auto_epochs(long n_examples);

/* The report as a new JSON object (the caller decrefs), or NULL when out of memory. */
json_t *validate_report_to_json(const ValidateReport *rep);

const char *validate_method_name(ValidateMethod m); /* "supervised", "dpo" */

#endif
