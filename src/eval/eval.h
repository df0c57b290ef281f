/* eval.h: `ftune eval`'s data: a held-out set (the last assistant message of each example is the
 * expected answer, the messages before it the prompt), the candidates compared on it (a local
 * model or adapter, or a model on an OpenAI-compatible endpoint, each with an optional
 * replacement system prompt and few-shot examples), what each produced per example, and the
 * summary statistics (metrics.h). Running candidates is eval_run.c; the terminal table, JSON and
 * HTML reports are report*.c. */
#ifndef FTUNE_EVAL_H
#define FTUNE_EVAL_H

#include <stdbool.h>
#include <stdio.h>

#include "../core/err.h"
#include "../ftune.h"
#include "metrics.h"

#define EVAL_NAME_MAX 128
#define EVAL_MAX_CANDIDATES 8
/* The verdict: a sentence per candidate compared with the baseline (up to 7) plus failures. */
#define EVAL_VERDICT_MAX 4096

typedef struct {
    char name[EVAL_NAME_MAX];   /* shown in reports, e.g. "fine-tuned" or "base + long prompt" */
    char model[1024];           /* local: a GGUF file or HF folder; remote: the model id */
    char adapter[1024];         /* local PEFT adapter directory, "" = none */
    char base_url[1024];        /* "" = run locally; else an OpenAI-compatible base URL (…/v1) */
    char api_key[256];
    char system_file[1024];     /* replaces (or adds) the system message, "" = keep the example's */
    char fewshot_file[1024];    /* chat JSONL whose examples are put before each prompt, "" = none */
    char labels_file[1024];     /* chat JSONL whose answers are the labels the reply is constrained to
                                 * (structured output), "" = free text */
    char retrieve_file[1024];   /* chat JSONL pool: each prompt gets its k most similar examples before
                                 * it (retrieved few-shot), "" = none */
    char retrieve_store[128];   /* a vector store whose k best chunks end each prompt's system message
                                 * (store_context.h), "" = none */
    char store_url[1024];       /* the store's server ("" = base_url) */
    char store_api_key[256];    /* its key ("" with store_url "": api_key) */
    char precision[FT_PRECISION_WHY_MAX]; /* local: the precision it ran at and why, "" = remote */

    /* results, per example (n of the set) */
    char **predictions;         /* heap strings; NULL where the request failed */
    bool *correct;              /* exact match after normalisation: set by eval_summarise */
    bool *failed;
    int *prompt_tokens;
    int *completion_tokens;
    double *latency_s;          /* each example's time: its retrieval (if any) and its request */
    long n_done;                /* examples attempted so far (a stopped run keeps what it has) */
    long n_failed;
    char first_failure[512];    /* the first per-example error, for the report */
    char error[512];            /* the candidate could not run at all (e.g. model missing), or "" */
    double wall_s;              /* time for all its examples, after the one-time setup (model load, pool embedding) */

    /* summaries (filled by eval_summarise) */
    EvalAccuracy accuracy;
    EvalLatency latency;
    double mean_prompt_tokens, mean_completion_tokens;
    double throughput;          /* examples per second */
    bool has_labels;            /* labels below are filled */
    EvalLabels labels;
} EvalCandidate;

typedef struct {
    char data_path[1024];
    EvalNorm norm;
    long n;                     /* examples */
    char **expected;            /* n, as written in the file */
    char **expected_norm;       /* n, normalised */
    EvalCandidate cands[EVAL_MAX_CANDIDATES];
    int n_cands;
    bool labels;                /* the answers are labels (per-label tables and confusion matrices) */
    /* comparison of every candidate i >= 1 with candidate 0 (the baseline) */
    EvalPaired paired[EVAL_MAX_CANDIDATES]; /* [0] unused */
    char verdict[EVAL_VERDICT_MAX]; /* plain English, one sentence per comparison */
} EvalReport;

/* Fills every candidate's summaries, the label tables, the paired comparisons and the verdict
 * from the per-example results (summarise.c). Accuracy is over the n_done examples attempted, a
 * failed request counting as wrong; latency and token means are over the requests that worked;
 * n_failed is recounted from failed[]. Fills expected_norm from expected when it is NULL, and
 * decides r->labels. A candidate that could not run (error[0] != 0) gets undefined (NaN)
 * summaries. Re-running it is safe. Errors: ERR_NOMEM, ERR_ARG (a NaN latency), prefixed with the
 * candidate's name. Not thread-safe on the same report. */
int eval_summarise(EvalReport *r, Err *err);
/* Frees every heap array of the report and of cands[0, n_cands) (label tables included), setting the
 * pointers to NULL; NULL and a freed report are no-ops. The fixed-size fields stay. */
void eval_report_free(EvalReport *r);

/* Reports. */
void eval_report_print(const EvalReport *r, FILE *out);                   /* terminal table */
int eval_report_write_json(const EvalReport *r, const char *path, Err *err);
int eval_report_write_html(const EvalReport *r, const char *path, Err *err); /* self-contained, inline SVG */

/* ---- the tables, shared by the terminal and HTML reports (report.c) ---------------------------- */

#define EVAL_TABLE_ROWS 150 /* >= EVAL_MAX_CANDIDATES and EVAL_LABELS_MAX_DISTINCT */
#define EVAL_TABLE_COLS 9
#define EVAL_CELL_MAX 48

/* A table as text: a first column of names (pointers into the report: candidate names or labels)
 * and n_cols formatted numbers per row ("-" where undefined). Fixed size, no allocation. */
typedef struct {
    int n_rows, n_cols;
    const char *first_header;
    const char *headers[EVAL_TABLE_COLS];
    const char *first[EVAL_TABLE_ROWS];
    char cells[EVAL_TABLE_ROWS][EVAL_TABLE_COLS][EVAL_CELL_MAX];
} EvalTable;

/* One row per candidate: accuracy, its CI, n, failures, mean tokens, latency, throughput. */
void eval_table_summary(const EvalReport *r, EvalTable *t);
/* One row per label (at most max_rows, most frequent first): support, predicted, P, R, F1.
 * Returns how many labels did not fit. */
int eval_table_labels(const EvalLabels *l, int max_rows, EvalTable *t);
/* One row per candidate i >= 1 against candidate 0: the paired 2x2 counts, difference, CI, p. */
void eval_table_paired(const EvalReport *r, EvalTable *t);
/* "none", "trim" or "trim+casefold". */
const char *eval_norm_name(EvalNorm m);
/* Copies s into out (cap bytes) keeping at most max_chars code points, control characters turned
 * into spaces and "…" in place of what was cut. Returns the code points written. */
size_t eval_clip(const char *s, size_t max_chars, char *out, size_t cap);

#endif
