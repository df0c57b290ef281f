/* dataset_stats.c: per-example numbers, the hash sort for duplicates and conflicts, summaries,
 * and the default-epochs rule. */
#include "dataset_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct StatsRecord {
    uint64_t prompt, example;
    uint32_t line;
};

void stats_init(DatasetStats *s, bool with_tokens) {
    memset(s, 0, sizeof *s);
    s->with_tokens = with_tokens;
}

void stats_free(DatasetStats *s) {
    free(s->messages);
    free(s->tokens);
    free(s->trained);
    free(s->recs);
    memset(s, 0, sizeof *s);
}

static int grow(DatasetStats *s) {
    long cap = s->cap ? s->cap * 2 : 1024;
    uint32_t *m = realloc(s->messages, (size_t)cap * sizeof *m);
    if (m) s->messages = m;
    StatsRecord *r = realloc(s->recs, (size_t)cap * sizeof *r);
    if (r) s->recs = r;
    if (!m || !r) return -1;
    if (s->with_tokens) {
        uint32_t *t = realloc(s->tokens, (size_t)cap * sizeof *t);
        if (t) s->tokens = t;
        uint32_t *a = realloc(s->trained, (size_t)cap * sizeof *a);
        if (a) s->trained = a;
        if (!t || !a) return -1;
    }
    s->cap = cap;
    return 0;
}

static uint32_t clamp32(long v) { return v < 0 ? 0 : v > (long)UINT32_MAX ? UINT32_MAX : (uint32_t)v; }

int stats_add(DatasetStats *s, long line, const ExampleSummary *sum, const ExampleTokenCounts *counts,
              long max_length) {
    if (s->n == s->cap && grow(s)) {
        s->nomem = true;
        return -1;
    }
    long i = s->n++;
    s->messages[i] = clamp32(sum->n_messages);
    s->recs[i] = (StatsRecord){sum->prompt_hash, sum->example_hash, clamp32(line)};
    s->without_system += !sum->has_system;
    s->without_user += !sum->has_user;
    if (s->with_tokens && counts) {
        s->tokens[i] = clamp32(counts->n_tokens);
        s->trained[i] = clamp32(counts->n_trained);
        long kept = max_length > 0 && counts->n_tokens > max_length ? max_length : counts->n_tokens;
        s->over_limit += max_length > 0 && counts->n_tokens > max_length;
        s->dataset_tokens += kept;
        s->trained_kept += counts->n_trained_kept;
    }
    return 0;
}

static int by_hashes(const void *a, const void *b) {
    const StatsRecord *x = a, *y = b;
    if (x->prompt != y->prompt) return x->prompt < y->prompt ? -1 : 1;
    if (x->example != y->example) return x->example < y->example ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

int stats_find_duplicates(DatasetStats *s, bool check_prompts, StatsEmit emit, void *ctx, long *duplicates,
                          long *conflicts) {
    *duplicates = *conflicts = 0;
    if (s->n < 2) return 0;
    StatsRecord *r = s->recs; /* sorted in place: the records are not needed in line order afterwards */
    if (!check_prompts)
        for (long i = 0; i < s->n; i++) r[i].prompt = 0;
    qsort(r, (size_t)s->n, sizeof *r, by_hashes);
    char msg[128];
    for (long g = 0; g < s->n;) { /* one group: the same prompt */
        long ge = g + 1;
        uint32_t first_line = r[g].line;
        while (ge < s->n && r[ge].prompt == r[g].prompt) {
            if (r[ge].line < first_line) first_line = r[ge].line;
            ge++;
        }
        for (long a = g; a < ge;) { /* one answer within it: the same example */
            long ae = a + 1;
            while (ae < ge && r[ae].example == r[a].example) {
                snprintf(msg, sizeof msg, "exact duplicate of line %u", r[a].line);
                emit(ctx, r[ae].line, "duplicate_example", msg);
                (*duplicates)++;
                ae++;
            }
            if (check_prompts && r[a].line != first_line) {
                snprintf(msg, sizeof msg,
                         "same prompt as line %u but a different answer (contradictory examples confuse the model)",
                         first_line);
                emit(ctx, r[a].line, "conflicting_answers", msg);
                (*conflicts)++;
            }
            a = ae;
        }
        g = ge;
    }
    return 0;
}

static int by_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void stats_summarise(uint32_t *v, long n, ValidateDist *out) {
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n <= 0) return;
    qsort(v, (size_t)n, sizeof *v, by_u32);
    double sum = 0;
    for (long i = 0; i < n; i++) sum += v[i];
    out->min = v[0];
    out->max = v[n - 1];
    out->mean = sum / (double)n;
    out->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + (double)v[n / 2]) / 2;
    double at = 0.9 * (double)(n - 1);
    long lo = (long)at;
    out->p90 = lo + 1 < n ? v[lo] + (v[lo + 1] - (double)v[lo]) * (at - (double)lo) : v[lo];
}

long validate_auto_epochs(long n) {
    if (n <= 0) return 0;
    long epochs = EPOCHS_TARGET;
    if (n * EPOCHS_TARGET < EPOCHS_MIN_TARGET_EXAMPLES) {
        epochs = EPOCHS_MIN_TARGET_EXAMPLES / n;
        if (epochs > EPOCHS_MAX_DEFAULT) epochs = EPOCHS_MAX_DEFAULT;
    } else if (n * EPOCHS_TARGET > EPOCHS_MAX_TARGET_EXAMPLES) {
        epochs = EPOCHS_MAX_TARGET_EXAMPLES / n;
        if (epochs < EPOCHS_MIN_DEFAULT) epochs = EPOCHS_MIN_DEFAULT;
    }
    return epochs;
}
