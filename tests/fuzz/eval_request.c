/* fuzz eval_request: mutated JSON bodies of POST /v1/evals, POST /v1/evals/{id}/runs and the
 * graders endpoints through the server's parsers (src/serve/eval_request.h), under ASan/UBSan. Each
 * body must be either accepted in the shape the routes rely on (an eval with a custom schema and 1
 * to 32 criteria, each grader of a supported type; a run with a data source of a supported type and
 * a completions run with its model; a grader run with its sample text), or refused with an
 * OpenAI-shaped error. Accepted criteria are then applied to an empty item and sample, which must
 * fail cleanly or score within [0, 1]. Usage: build/fuzz_eval_request [ITERATIONS] (default 2000). */
#include "eval/grading.h"
#include "fuzz_api.h"
#include "fuzz_util.h"
#include "serve/eval_request.h"

#define SEED 0xe7a15u
#define BODY_MAX 4096

static const char *const SEEDS[] = {
    "{\"name\":\"e\",\"metadata\":{\"k\":\"v\"},\"data_source_config\":{\"type\":\"custom\",\"item_schema\":{\"type\":"
    "\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"a\"]},\"include_sample_schema\":true},"
    "\"testing_criteria\":[{\"type\":\"string_check\",\"name\":\"x\",\"input\":\"{{sample.output_text}}\",\"reference\":"
    "\"{{item.a}}\",\"operation\":\"ilike\"},{\"type\":\"text_similarity\",\"name\":\"y\",\"input\":\"{{ item.a }}\","
    "\"reference\":\"b\",\"evaluation_metric\":\"rouge_l\",\"pass_threshold\":0.5}]}",
    "{\"name\":\"r\",\"data_source\":{\"type\":\"completions\",\"model\":\"m\",\"input_messages\":{\"type\":\"template\","
    "\"template\":[{\"role\":\"system\",\"content\":\"s\"},{\"type\":\"message\",\"role\":\"user\",\"content\":"
    "\"{{item.q}}\"}]},\"sampling_params\":{\"temperature\":0,\"seed\":1,\"max_completion_tokens\":8},\"source\":{\"type\":"
    "\"file_content\",\"content\":[{\"item\":{\"q\":\"x\"}},{\"item\":{\"q\":\"y\"},\"sample\":{\"output_text\":\"z\"}}]}}}",
    "{\"data_source\":{\"type\":\"jsonl\",\"source\":{\"type\":\"file_id\",\"id\":\"file-1\"}},\"metadata\":null}",
    "{\"grader\":{\"type\":\"text_similarity\",\"name\":\"g\",\"input\":\"{{sample.output_text}}\",\"reference\":"
    "\"{{item.r}}\",\"evaluation_metric\":\"bleu\"},\"item\":{\"r\":\"a b\"},\"model_sample\":\"a b c\"}",
};
#define N_SEEDS (sizeof SEEDS / sizeof SEEDS[0])

static void fail(const char *what, const char *body, size_t len) {
    fprintf(stderr, "%s: %.*s\n", what, (int)len, body);
    exit(1);
}

/* Applies an accepted grader to an empty item and sample: a clean error or a score in [0, 1]. */
static void apply(json_t *g, const char *body, size_t len) {
    json_t *item = json_object(), *sample = grading_sample_of_text("");
    double score = -1;
    bool passed;
    Err err = {0};
    if (grading_apply(g, item, sample, &score, &passed, &err) == 0 && !(score >= 0 && score <= 1))
        fail("a grader scored outside [0, 1]", body, len);
    json_decref(item);
    json_decref(sample);
}

static void run(const char *body, size_t len) {
    ApiError e = {0};
    json_t *out = NULL, *root = NULL, *grader, *item;
    const char *model, *file_id, *sample;
    if (eval_create_parse(body, len, &out, &e) == 0) {
        json_t *crit = json_object_get(out, "testing_criteria");
        if (!json_is_array(crit) || json_array_size(crit) < 1 || json_array_size(crit) > EVAL_MAX_CRITERIA ||
            !json_is_object(json_object_get(out, "data_source_config")))
            fail("accepted an eval out of shape", body, len);
        for (size_t i = 0; i < json_array_size(crit); i++) apply(json_array_get(crit, i), body, len);
        json_decref(out);
    } else {
        fuzz_check_api_error(&e);
    }
    if (eval_run_parse(body, len, &out, &model, &file_id, &e) == 0) {
        const char *type = json_string_value(json_object_get(json_object_get(out, "data_source"), "type"));
        bool completions = type && strcmp(type, "completions") == 0;
        if (!type || (!completions && strcmp(type, "jsonl") != 0) || (completions && !model) || !file_id)
            fail("accepted a run out of shape", body, len);
        json_decref(out);
    } else {
        fuzz_check_api_error(&e);
    }
    if (eval_grader_run_parse(body, len, &root, &grader, &item, &sample, &e) == 0) {
        if (!sample) fail("accepted a grader run without a sample", body, len);
        apply(grader, body, len);
        json_decref(root);
    } else {
        fuzz_check_api_error(&e);
    }
}

int main(int argc, char **argv) {
    return fuzz_bodies(argc, argv, "fuzz_eval_request", SEED, SEEDS, N_SEEDS, BODY_MAX, run);
}
