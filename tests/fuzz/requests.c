/* fuzz requests: mutated JSON bodies of POST /v1/chat/completions and POST /v1/fine_tuning/jobs
 * through the server's request parsers (src/serve/requests.h), under ASan/UBSan. Every body
 * must be either accepted with values in their documented ranges or refused with an
 * OpenAI-shaped error (a 4xx/5xx status, a type and a message). Usage: build/fuzz_requests
 * [ITERATIONS] (default 2000). */
#include "fuzz_api.h"
#include "fuzz_util.h"
#include "serve/requests.h"

#define SEED 0x5e7e5u
#define BODY_MAX 4096

static const char *const SEEDS[] = {
    "{\"model\":\"tiny-qwen2\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\","
    "\"content\":[{\"type\":\"text\",\"text\":\"hi\"},{\"type\":\"text\",\"text\":\" there\"}]}],\"temperature\":0.5,"
    "\"top_p\":0.9,\"n\":2,\"seed\":7,\"stop\":[\"\\n\",\"END\"],\"max_tokens\":16,\"stream\":true,"
    "\"stream_options\":{\"include_usage\":true},\"user\":\"u1\",\"frequency_penalty\":0}",
    "{\"model\":\"ft:tiny-qwen2:ftune:x:abcdefgh\",\"messages\":[{\"role\":\"assistant\",\"content\":null,"
    "\"tool_calls\":[]},{\"role\":\"user\",\"content\":\"caf\\u00e9\"}],\"max_completion_tokens\":4,"
    "\"response_format\":{\"type\":\"text\"},\"tool_choice\":\"auto\",\"logprobs\":false}",
    "{\"model\":\"tiny-qwen2\",\"training_file\":\"file-abc\",\"validation_file\":null,\"suffix\":\"my-model.v1\","
    "\"seed\":42,\"method\":{\"type\":\"supervised\",\"supervised\":{\"hyperparameters\":{\"n_epochs\":3,"
    "\"batch_size\":\"auto\",\"learning_rate_multiplier\":0.5}}},\"metadata\":{\"team\":\"qa\",\"k\":\"v\"},"
    "\"integrations\":[]}",
    "{\"model\":\"m\",\"training_file\":\"file-x\",\"hyperparameters\":{\"n_epochs\":\"auto\",\"batch_size\":8}}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"JSON please\"}],\"response_format\":{\"type\":"
    "\"json_schema\",\"json_schema\":{\"name\":\"t\",\"strict\":true,\"schema\":{\"type\":\"object\",\"properties\":"
    "{\"a\":{\"enum\":[\"x\",1]},\"b\":{\"type\":[\"array\",\"null\"],\"items\":{\"$ref\":\"#\"}}},\"required\":"
    "[\"a\",\"b\"],\"additionalProperties\":false}}}}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"w?\"},{\"role\":\"assistant\",\"content\":null,"
    "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"w\",\"arguments\":"
    "\"{\\\"c\\\":1}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"ok\"}],\"tools\":[{\"type\":"
    "\"function\",\"function\":{\"name\":\"w\",\"description\":\"d\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"c\":{\"type\":\"integer\"}},\"required\":[\"c\"]},\"strict\":false}}],\"tool_choice\":"
    "{\"type\":\"function\",\"function\":{\"name\":\"w\"}},\"parallel_tool_calls\":false}",
};
#define N_SEEDS (sizeof SEEDS / sizeof SEEDS[0])

static void run_chat(const char *body, size_t len) {
    ChatRequest r;
    ApiError e = {0};
    if (chat_request_parse(body, len, &r, &e) == 0) {
        bool ok = r.model && r.n_msgs > 0 && r.n >= 1 && r.n <= REQ_MAX_CHOICES && r.temperature >= 0 &&
                  r.temperature <= 2 && r.top_p >= 0 && r.top_p <= 1 && r.n_stop <= REQ_MAX_STOP && r.max_tokens >= 0;
        for (int i = 0; ok && i < r.n_msgs; i++) ok = r.msgs[i].role && r.msgs[i].content;
        if (!ok) {
            fprintf(stderr, "accepted a chat request out of range: %.*s\n", (int)len, body);
            exit(1);
        }
    } else {
        fuzz_check_api_error(&e);
    }
    chat_request_free(&r);
}

static void run_job(const char *body, size_t len) {
    JobRecord *job = malloc(sizeof *job);
    ApiError e = {0};
    if (job_request_parse(body, len, job, &e) == 0) {
        if (!job->model[0] || !job->training_file[0] || !job->n_epochs[0] || job->seed < -1) {
            fprintf(stderr, "accepted a job request without its fields: %.*s\n", (int)len, body);
            exit(1);
        }
    } else {
        fuzz_check_api_error(&e);
    }
    free(job);
}

static void run(const char *body, size_t len) {
    run_chat(body, len);
    run_job(body, len);
}

int main(int argc, char **argv) { return fuzz_bodies(argc, argv, "fuzz_requests", SEED, SEEDS, N_SEEDS, BODY_MAX, run); }
