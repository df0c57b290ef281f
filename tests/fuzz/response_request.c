/* fuzz response_request: mutated JSON bodies of POST /v1/responses through the server's parser
 * (src/serve/response_request.h) and the prompt's messages, under ASan/UBSan. Every body must be
 * either accepted with values in their documented ranges and messages that all have a role and
 * content, or refused with an OpenAI-shaped error (a 4xx/5xx status, a type and a message). Usage:
 * build/fuzz_response_request [ITERATIONS] (default 2000). */
#include "fuzz_api.h"
#include "fuzz_util.h"
#include "serve/response_request.h"

#define SEED 0x7e5b0u
#define BODY_MAX 4096

static const char *const SEEDS[] = {
    "{\"model\":\"m\",\"input\":\"Hello\",\"instructions\":\"Be brief.\",\"max_output_tokens\":16,\"temperature\":0.5,"
    "\"top_p\":0.9,\"metadata\":{\"k\":\"v\"},\"store\":false,\"stream\":true,\"stream_options\":"
    "{\"include_obfuscation\":false},\"previous_response_id\":\"resp_1\",\"user\":\"u\"}",
    "{\"model\":\"ft:m:ftune:x:abc\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"a\"},"
    "{\"type\":\"input_text\",\"text\":\"b\"}]},{\"type\":\"message\",\"id\":\"msg_1\",\"status\":\"completed\",\"role\":"
    "\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"c\",\"annotations\":[]}]},{\"role\":\"developer\","
    "\"content\":\"d\"}],\"tools\":[],\"tool_choice\":\"auto\",\"truncation\":\"disabled\",\"reasoning\":null}",
    "{\"model\":\"m\",\"input\":\"JSON please\",\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"t\",\"strict\":true,"
    "\"schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"enum\":[\"x\",1]},\"b\":{\"type\":[\"array\",\"null\"],"
    "\"items\":{\"$ref\":\"#\"}}},\"required\":[\"a\",\"b\"],\"additionalProperties\":false}},\"verbosity\":\"medium\"}}",
    "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"give json\"}],\"text\":{\"format\":{\"type\":\"json_object\"}}}",
};
#define N_SEEDS (sizeof SEEDS / sizeof SEEDS[0])

static void run(const char *body, size_t len) {
    ResponseRequest r;
    ApiError e = {0};
    if (response_request_parse(body, len, &r, &e) == 0) {
        bool ok = r.model && json_array_size(r.input) > 0 && r.temperature >= 0 && r.temperature <= 2 &&
                  r.top_p >= 0 && r.top_p <= 1 && (r.max_output_tokens == 0 || r.max_output_tokens >= 16) && r.text;
        FtChatMessage *msgs;
        int n;
        json_t *keep;
        if (ok && response_messages(&r, r.input, &msgs, &n, &keep, &e) == 0) {
            for (int i = 0; i < n; i++) ok = ok && msgs[i].role && msgs[i].content;
            free(msgs);
            json_decref(keep);
        } else if (ok) {
            fuzz_check_api_error(&e);
        }
        if (!ok) {
            fprintf(stderr, "accepted a response request out of range: %.*s\n", (int)len, body);
            exit(1);
        }
    } else {
        fuzz_check_api_error(&e);
    }
    response_request_free(&r);
}

int main(int argc, char **argv) {
    return fuzz_bodies(argc, argv, "fuzz_response_request", SEED, SEEDS, N_SEEDS, BODY_MAX, run);
}
