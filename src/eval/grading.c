/* grading.c: a grader's templates rendered and compared (see grading.h). */
#include "grading.h"

#include <stdlib.h>
#include <string.h>

#include "eval_template.h"
#include "graders.h"

static const char *str(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

int grading_apply(json_t *grader, json_t *item, json_t *sample, double *score, bool *passed, Err *err) {
    char *input = NULL, *reference = NULL;
    if (eval_template_render(str(grader, "input"), item, sample, &input, err) ||
        eval_template_render(str(grader, "reference"), item, sample, &reference, err)) {
        free(input);
        return -1;
    }
    const char *type = str(grader, "type");
    int rc = 0;
    if (strcmp(type, "string_check") == 0) {
        StringCheckOp op;
        if (grader_string_check_op(str(grader, "operation"), &op))
            rc = err_set(err, ERR_ARG, "unknown string_check operation '%s'", str(grader, "operation"));
        else rc = grader_string_check(op, input, reference, score, err);
        *passed = !rc && *score == 1.0;
    } else if (strcmp(type, "text_similarity") == 0) {
        SimilarityMetric m;
        if (grader_similarity_metric(str(grader, "evaluation_metric"), &m))
            rc = err_set(err, ERR_ARG, "unsupported evaluation_metric '%s'", str(grader, "evaluation_metric"));
        else rc = grader_text_similarity(m, input, reference, score, err);
        json_t *threshold = json_object_get(grader, "pass_threshold");
        *passed = !rc && (json_is_number(threshold) ? *score >= json_number_value(threshold) : *score == 1.0);
    } else {
        rc = err_set(err, ERR_ARG, "unsupported grader type '%s'", type);
    }
    free(input);
    free(reference);
    return rc;
}

json_t *grading_sample_of_text(const char *text) {
    json_t *parsed = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!json_is_object(parsed) && !json_is_array(parsed)) {
        json_decref(parsed);
        parsed = json_object();
    }
    return json_pack("{s:s, s:o}", "output_text", text, "output_json", parsed);
}
