/* dataset.h: a chat-format JSONL file turned into training examples: the file is validated first
 * with the same rules as `ftune validate` (a file the validator rejects is never trained on),
 * then every example is rendered through the model's chat template and tokenized with its loss
 * mask (assistant messages with weight 1, end-of-turn marker included). A DPO (preference) file
 * gives a pair per line: input.messages followed by the preferred output, and by the rejected
 * one, each output's tokens marked as SFT marks an assistant reply. Examples longer than
 * max_length are truncated at the end, and their lines reported. */
#ifndef FTUNE_DATASET_H
#define FTUNE_DATASET_H

#include <stdbool.h>

#include "../model/text_model.h"
#include "trainer.h"

#define DATASET_MAX_REPORTED_LINES 20 /* truncated lines listed (all are counted) */

typedef struct {
    long n_examples;
    long n_truncated;
    long truncated_lines[DATASET_MAX_REPORTED_LINES];
    long long tokens;         /* after truncation */
    long long trained_tokens; /* after truncation */
    long n_without_trained;   /* examples left with no trained token after truncation */
} DatasetInfo;

/* Loads path into *out for model tm: a chat file, or with dpo a preference file (out->rejected set;
 * counts below cover both replies of each pair, n_examples counts pairs). max_length <= 0 uses the model's context length;
 * min_examples is the validator's minimum (10 for a training file, as OpenAI requires; 1 for a
 * validation file). An invalid file is ERR_FORMAT with the validator's first problem and the
 * number of errors; an unreadable one ERR_IO; a file whose every assistant token lies beyond
 * max_length ERR_FORMAT too (a run would train nothing). Free with dataset_free. */
int dataset_load(const TextModel *tm, const char *path, bool dpo, long max_length, long min_examples, TrainSet *out,
                 DatasetInfo *info, Err *err);
void dataset_free(TrainSet *set);

#endif
