/* grading.h: one grader of the Evals API (a testing criterion, or the grader of
 * /v1/fine_tuning/alpha/graders/run) applied to a data source item and a sample: its input and
 * reference templates rendered (eval_template.h), then compared by graders.h's string check or text
 * similarity. The grader object has been checked by the request parser (eval_request.c); this
 * reads it. Pure functions. */
#ifndef FTUNE_GRADING_H
#define FTUNE_GRADING_H

#include <jansson.h>
#include <stdbool.h>

#include "../core/err.h"

/* The grader's score (string_check: 1 or 0; text_similarity: 0..1) and whether it passes (a
 * string check when it holds; a text similarity when the score reaches pass_threshold, or, for a
 * grader without one, when it is 1). ERR_ARG for a template variable that names nothing. */
int grading_apply(json_t *grader, json_t *item, json_t *sample, double *score, bool *passed, Err *err);

/* The sample namespace of a model's answer: {"output_text": text, "output_json": the text parsed
 * when it is a JSON object or array, else {}} (a new reference). */
json_t *grading_sample_of_text(const char *text);

#endif
