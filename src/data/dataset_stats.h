/* dataset_stats.h: what validation learns across examples. It keeps a few numbers per valid
 * example (messages, tokens, trained tokens) and two 64-bit hashes (of the whole example and of
 * its prompt), and at the end sorts the hashes to find exact duplicates and the same prompt with
 * a different answer, and summarises the numbers (min / mean / median / p90 / max). It also
 * holds OpenAI's default-epochs rule. It never keeps example text, and it does not check single
 * examples (dataset_rules.h). A DatasetStats belongs to one thread. */
#ifndef FTUNE_DATASET_STATS_H
#define FTUNE_DATASET_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "dataset_rules.h"
#include "example_tokens.h"
#include "validate.h"

/* The cookbook's defaults for n_epochs = "auto" (openai-api-facts.md §3.7). */
#define EPOCHS_TARGET 3
#define EPOCHS_MIN_TARGET_EXAMPLES 100
#define EPOCHS_MAX_TARGET_EXAMPLES 25000
#define EPOCHS_MIN_DEFAULT 1
#define EPOCHS_MAX_DEFAULT 25

typedef struct StatsRecord StatsRecord;

typedef struct {
    bool with_tokens;
    long n, cap;
    uint32_t *messages, *tokens, *trained; /* per valid example */
    StatsRecord *recs;                     /* per valid example: hashes and line */
    long without_system, without_user;
    long over_limit;
    long long dataset_tokens, trained_kept;
    bool nomem;
} DatasetStats;

void stats_init(DatasetStats *s, bool with_tokens);
void stats_free(DatasetStats *s);

/* Adds one valid example found on line. counts may be NULL without tokens; max_length (0: none)
 * caps its tokens in dataset_tokens. Returns 0, or -1 when out of memory. */
int stats_add(DatasetStats *s, long line, const ExampleSummary *sum, const ExampleTokenCounts *counts, long max_length);

/* Reports exact duplicates (duplicate_example) and, when check_prompts, examples whose prompt
 * equals an earlier one's but whose answer differs (conflicting_answers), as warnings through
 * emit with the line. Sets *duplicates and *conflicts. Sorts the records (call it once, at the
 * end). Returns 0. */
typedef void (*StatsEmit)(void *ctx, long line, const char *code, const char *message);
int stats_find_duplicates(DatasetStats *s, bool check_prompts, StatsEmit emit, void *ctx, long *duplicates,
                          long *conflicts);

/* min / mean / median / p90 (linear interpolation, as numpy) / max of v[0..n); sorts v. */
void stats_summarise(uint32_t *v, long n, ValidateDist *out);

#endif
