/* dataset.c: validation, then rendering and tokenizing every example (see dataset.h). */
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
    }
    free(set->ex);
    set->ex = NULL;
    set->n = 0;
}

static int check_valid(const TextModel *tm, const char *path, long max_length, long min_examples, Err *err) {
    ValidateOptions opt;
    validate_options_default(&opt);
    opt.model = tm;
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

int dataset_load(const TextModel *tm, const char *path, long max_length, long min_examples, TrainSet *out,
                 DatasetInfo *info, Err *err) {
    memset(out, 0, sizeof *out);
    memset(info, 0, sizeof *info);
    if (max_length <= 0) max_length = tm->context_length > 0 ? tm->context_length : 2048;
    if (check_valid(tm, path, max_length, min_examples, err)) return -1;
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
        example_messages_reset(&em);
        if ((rc = example_messages_add_tools(&em, &doc, 0, err)) ||
            (rc = example_messages_add_list(&em, &doc, jdoc_get(&doc, 0, "messages"), EXAMPLE_TRAIN_WEIGHT, err)))
            break;
        TrainExample e = {0};
        ExampleTokenCounts counts;
        if ((rc = example_tokenize(tm, &em, 0, &e.ids, &e.mask, &counts, err))) {
            err_prefix(err, "%s: line %ld", path, line.number);
            break;
        }
        e.len = (int)counts.n_tokens;
        e.line = line.number;
        if (e.len > max_length) {
            e.len = (int)max_length;
            if (info->n_truncated < DATASET_MAX_REPORTED_LINES) info->truncated_lines[info->n_truncated] = line.number;
            info->n_truncated++;
        }
        for (int t = 1; t < e.len; t++) e.n_trained += e.mask[t];
        info->tokens += e.len;
        info->trained_tokens += e.n_trained;
        info->n_without_trained += e.n_trained == 0;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 256;
            TrainExample *grown = fault_realloc(out->ex, (size_t)cap * sizeof *grown);
            if (!grown) {
                free(e.ids);
                free(e.mask);
                rc = err_set(err, ERR_NOMEM, "%s: out of memory at line %ld", path, line.number);
                break;
            }
            out->ex = grown;
        }
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
