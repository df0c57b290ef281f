/* dataset.c: validation, then rendering and tokenizing every example, or both replies of every
 * preference pair (see dataset.h). */
#include "dataset.h"

#include <stdlib.h>
#include <string.h>

#include "../core/fault.h"
#include "../data/example_messages.h"
#include "../data/example_tokens.h"
#include "../data/jdoc.h"
#include "../data/jsonl_reader.h"
#include "../data/validate.h"

void dataset_free(TrainSet *set) {
    if (!set) return;
    for (int i = 0; i < set->n; i++) {
        free(set->ex[i].ids);
        free(set->ex[i].mask);
        if (set->rejected) free(set->rejected[i].ids), free(set->rejected[i].mask);
    }
    free(set->ex);
    free(set->rejected);
    set->ex = set->rejected = NULL;
    set->n = 0;
}

static int check_valid(const TextModel *tm, const char *path, bool dpo, long max_length, long min_examples,
                       Err *err) {
    ValidateOptions opt;
    validate_options_default(&opt);
    opt.model = tm;
    opt.method = dpo ? VALIDATE_DPO : VALIDATE_SUPERVISED;
    opt.max_length = max_length;
    opt.max_problems = 1;
    opt.min_examples = min_examples;
    ValidateReport rep;
    int rc = validate_file(path, &opt, &rep, err);
    if (!rc && rep.errors > 0) {
        char first[VALIDATE_MESSAGE_MAX + VALIDATE_PATH_MAX + 32];
        validate_problem_format(&rep.problems[0], first, sizeof first);
        rc = err_set(err, ERR_FORMAT, "%s: invalid dataset (%ld error%s; see ftune validate): %s", path,
                     rep.errors, rep.errors == 1 ? "" : "s", first);
    }
    validate_report_free(&rep);
    return rc;
}

/* The messages of em tokenized into e, truncated to max_length (*truncated set), counted into info. */
static int tokenize_into(const TextModel *tm, const ExampleMessages *em, long line, long max_length,
                         TrainExample *e, bool *truncated, DatasetInfo *info, Err *err) {
    ExampleTokenCounts counts;
    memset(e, 0, sizeof *e);
    if (example_tokenize(tm, em, 0, &e->ids, &e->mask, &counts, err)) return -1;
    e->len = (int)counts.n_tokens;
    e->line = line;
    if (e->len > max_length) {
        e->len = (int)max_length;
        *truncated = true;
    }
    for (int t = 1; t < e->len; t++) e->n_trained += e->mask[t];
    info->tokens += e->len;
    info->trained_tokens += e->n_trained;
    info->n_without_trained += e->n_trained == 0;
    return 0;
}

/* The example, or the pair (the input's messages untrained, then each output trained). */
static int tokenize_example(const TextModel *tm, const JDoc *doc, bool dpo, ExampleMessages *em, long line,
                         long max_length, TrainExample *e, TrainExample *rejected, bool *truncated, DatasetInfo *info,
                         Err *err) {
    example_messages_reset(em);
    if (!dpo) {
        if (example_messages_add_tools(em, doc, 0, err) ||
            example_messages_add_list(em, doc, jdoc_get(doc, 0, "messages"), EXAMPLE_TRAIN_WEIGHT, err))
            return -1;
        return tokenize_into(tm, em, line, max_length, e, truncated, info, err);
    }
    uint32_t input = jdoc_get(doc, 0, "input");
    if (example_messages_add_tools(em, doc, input, err) ||
        example_messages_add_list(em, doc, jdoc_get(doc, input, "messages"), EXAMPLE_TRAIN_NONE, err))
        return -1;
    int n_in = em->n;
    if (example_messages_add_list(em, doc, example_dpo_output(doc, false), EXAMPLE_TRAIN_ALL, err) ||
        tokenize_into(tm, em, line, max_length, e, truncated, info, err))
        return -1;
    example_messages_truncate(em, n_in);
    if (example_messages_add_list(em, doc, example_dpo_output(doc, true), EXAMPLE_TRAIN_ALL, err) ||
        tokenize_into(tm, em, line, max_length, rejected, truncated, info, err)) {
        free(e->ids);
        free(e->mask);
        return -1;
    }
    return 0;
}

/* One line, tokenized; a line truncated (either reply of a pair) is counted once. */
static int tokenize_line(const TextModel *tm, const JDoc *doc, bool dpo, ExampleMessages *em, long line,
                         long max_length, TrainExample *e, TrainExample *rejected, DatasetInfo *info, Err *err) {
    bool truncated = false;
    int rc = tokenize_example(tm, doc, dpo, em, line, max_length, e, rejected, &truncated, info, err);
    if (!rc && truncated) {
        if (info->n_truncated < DATASET_MAX_REPORTED_LINES) info->truncated_lines[info->n_truncated] = line;
        info->n_truncated++;
    }
    return rc;
}

int dataset_load(const TextModel *tm, const char *path, bool dpo, long max_length, long min_examples, TrainSet *out,
                 DatasetInfo *info, Err *err) {
    memset(out, 0, sizeof *out);
    memset(info, 0, sizeof *info);
    if (max_length <= 0) max_length = tm->context_length > 0 ? tm->context_length : 2048;
    if (check_valid(tm, path, dpo, max_length, min_examples, err)) return -1;
    JsonlReader *reader;
    if (jsonl_open(path, VALIDATE_LINE_MAX, &reader, err)) return -1;
    JDoc doc;
    jdoc_init(&doc, VALIDATE_VALUES_MAX);
    ExampleMessages em;
    example_messages_init(&em);
    int cap = 0, rc = 0;
    JsonlLine line;
    int got;
    while ((got = jsonl_next(reader, &line, err)) == 1) {
        if (line.len == 0 || line.too_long) continue; /* the validator has accepted the file */
        if (jdoc_parse(&doc, line.text, line.len) != JDOC_OK) {
            rc = err_set(err, ERR_FORMAT, "%s: line %ld: not JSON (the file changed while reading?)", path, line.number);
            break;
        }
        TrainExample e, r = {0};
        if ((rc = tokenize_line(tm, &doc, dpo, &em, line.number, max_length, &e, &r, info, err))) {
            err_prefix(err, "%s: line %ld", path, line.number);
            break;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 256;
            TrainExample *grown = fault_realloc(out->ex, (size_t)cap * sizeof *grown);
            if (grown) out->ex = grown;
            TrainExample *grown_r = dpo ? fault_realloc(out->rejected, (size_t)cap * sizeof *grown_r) : NULL;
            if (grown_r) out->rejected = grown_r;
            if (!grown || (dpo && !grown_r)) {
                free(e.ids), free(e.mask), free(r.ids), free(r.mask);
                rc = err_set(err, ERR_NOMEM, "%s: out of memory at line %ld", path, line.number);
                break;
            }
        }
        if (dpo) out->rejected[out->n] = r;
        out->ex[out->n++] = e;
    }
    if (got < 0) rc = -1;
    info->n_examples = out->n;
    if (!rc && out->n && info->trained_tokens == 0)
        rc = err_set(err, ERR_FORMAT,
                     "%s: nothing to train on: the assistant replies of all %d examples lie beyond %ld tokens (the "
                     "training length); shorten the examples or use a model with a longer context",
                     path, out->n, max_length);
    example_messages_free(&em);
    jdoc_free(&doc);
    jsonl_close(reader);
    if (rc) dataset_free(out);
    return rc;
}
