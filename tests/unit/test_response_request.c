/* test_response_request.c: the body of POST /v1/responses (response_request.c): what is parsed
 * (string and item-list input normalised to message items, defaults, text.format compiled), every
 * field the server refuses with the field named (unsupported ones unless neutral, unknown ones,
 * wrong types and ranges, content parts it cannot read), and the prompt's messages
 * (instructions first, parts joined, json_object needing the word JSON). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/response_request.h"
#include "test.h"

static int parse(const char *body, ResponseRequest *r, ApiError *e) {
    memset(e, 0, sizeof *e);
    return response_request_parse(body, strlen(body), r, e);
}

/* body must be refused with status, param and code (NULL: not checked). */
static void expect_error(const char *body, int status, const char *param, const char *code, int line) {
    ResponseRequest r;
    ApiError e;
    int rc = parse(body, &r, &e);
    response_request_free(&r);
    if (rc != -1) {
        test_fail(__FILE__, line, "accepted: %s", body);
        return;
    }
    if (e.status != status || strcmp(e.param, param) != 0 || (code && strcmp(e.code, code) != 0))
        test_fail(__FILE__, line, "%s: got %d param '%s' code '%s' (%s); want %d '%s' '%s'", body, e.status, e.param,
                  e.code, e.message, status, param, code ? code : "*");
}
#define EXPECT_ERROR(body, status, param, code) expect_error(body, status, param, code, __LINE__)

static void expect_ok(const char *body, int line) {
    ResponseRequest r;
    ApiError e;
    if (parse(body, &r, &e)) test_fail(__FILE__, line, "%s refused: %s (param %s)", body, e.message, e.param);
    response_request_free(&r);
}
#define EXPECT_OK(body) expect_ok(body, __LINE__)

TEST(response_request_string_input_and_defaults) {
    ResponseRequest r;
    ApiError e;
    REQUIRE(parse("{\"model\": \"m\", \"input\": \"Hello\"}", &r, &e) == 0);
    CHECK(strcmp(r.model, "m") == 0);
    CHECK(r.temperature == 1 && r.top_p == 1 && r.store && !r.stream && r.parallel_tool_calls);
    CHECK(r.max_output_tokens == 0 && !r.instructions && !r.previous_response_id && !r.metadata && !r.grammar);
    char *text = json_dumps(r.input, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK(strcmp(text, "[{\"content\":[{\"text\":\"Hello\",\"type\":\"input_text\"}],\"role\":\"user\",\"type\":\"message\"}]") == 0);
    free(text);
    text = json_dumps(r.text, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK(strcmp(text, "{\"format\":{\"type\":\"text\"},\"verbosity\":\"medium\"}") == 0);
    free(text);
    response_request_free(&r);
}

TEST(response_request_items_and_fields) {
    ResponseRequest r;
    ApiError e;
    const char *body =
        "{\"model\": \"ft:x\", \"instructions\": \"Be brief.\", \"input\": ["
        "{\"role\": \"user\", \"content\": [{\"type\": \"input_text\", \"text\": \"a\"}, {\"type\": \"input_text\", \"text\": \"b\"}]},"
        "{\"type\": \"message\", \"id\": \"msg_1\", \"status\": \"completed\", \"role\": \"assistant\", \"content\": "
        "[{\"type\": \"output_text\", \"text\": \"c\", \"annotations\": []}]},"
        "{\"role\": \"developer\", \"content\": \"d\"}, {\"role\": \"assistant\", \"content\": \"e\"}],"
        "\"temperature\": 0, \"top_p\": 0.5, \"max_output_tokens\": 16, \"store\": false, \"stream\": true,"
        "\"stream_options\": {\"include_obfuscation\": false}, \"metadata\": {\"k\": \"v\"},"
        "\"previous_response_id\": \"resp_1\", \"user\": \"u\", \"tools\": [], \"tool_choice\": \"auto\","
        "\"truncation\": \"disabled\", \"background\": false, \"include\": [], \"reasoning\": null,"
        "\"service_tier\": \"auto\", \"parallel_tool_calls\": false, \"text\": {\"format\": {\"type\": \"json_schema\","
        "\"name\": \"t\", \"strict\": true, \"schema\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}},"
        "\"required\": [\"a\"], \"additionalProperties\": false}}, \"verbosity\": \"medium\"}}";
    REQUIRE(parse(body, &r, &e) == 0);
    CHECK(r.temperature == 0 && r.top_p == 0.5 && r.max_output_tokens == 16 && !r.store && r.stream);
    CHECK(!r.parallel_tool_calls && r.grammar && !r.json_object);
    CHECK(strcmp(r.instructions, "Be brief.") == 0 && strcmp(r.previous_response_id, "resp_1") == 0);
    CHECK(strcmp(r.user, "u") == 0);
    CHECK(json_is_string(json_object_get(r.metadata, "k")));
    REQUIRE(json_array_size(r.input) == 4);
    json_t *a = json_array_get(r.input, 1);
    CHECK(strcmp(json_string_value(json_object_get(a, "id")), "msg_1") == 0);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(json_object_get(a, "content"), 0), "type")),
                 "output_text") == 0);
    json_t *last = json_array_get(json_object_get(json_array_get(r.input, 3), "content"), 0);
    CHECK(strcmp(json_string_value(json_object_get(last, "type")), "output_text") == 0);
    CHECK(json_is_array(json_object_get(last, "annotations")));
    CHECK(strcmp(json_string_value(json_object_get(json_object_get(r.text, "format"), "name")), "t") == 0);
    FtChatMessage *msgs;
    int n;
    json_t *keep;
    REQUIRE(response_messages(&r, r.input, &msgs, &n, &keep, &e) == 0);
    REQUIRE(n == 5);
    CHECK(strcmp(msgs[0].role, "system") == 0 && strcmp(msgs[0].content, "Be brief.") == 0);
    CHECK(strcmp(msgs[1].role, "user") == 0 && strcmp(msgs[1].content, "ab") == 0);
    CHECK(strcmp(msgs[2].role, "assistant") == 0 && strcmp(msgs[2].content, "c") == 0);
    CHECK(strcmp(msgs[3].role, "developer") == 0 && strcmp(msgs[3].content, "d") == 0);
    CHECK(strcmp(msgs[4].role, "assistant") == 0 && strcmp(msgs[4].content, "e") == 0);
    free(msgs);
    json_decref(keep);
    response_request_free(&r);
}

TEST(response_request_json_object_needs_json) {
    ResponseRequest r;
    ApiError e;
    FtChatMessage *msgs;
    int n;
    json_t *keep;
    REQUIRE(parse("{\"model\": \"m\", \"input\": \"Hi\", \"text\": {\"format\": {\"type\": \"json_object\"}}}", &r, &e) == 0);
    CHECK(r.json_object && r.grammar);
    CHECK(response_messages(&r, r.input, &msgs, &n, &keep, &e) == -1);
    CHECK(e.status == 400 && strcmp(e.param, "input") == 0 && strstr(e.message, "json"));
    response_request_free(&r);
    REQUIRE(parse("{\"model\": \"m\", \"input\": \"Hi\", \"instructions\": \"Answer in JSON.\","
                  "\"text\": {\"format\": {\"type\": \"json_object\"}}}", &r, &e) == 0);
    REQUIRE(response_messages(&r, r.input, &msgs, &n, &keep, &e) == 0);
    CHECK(n == 2);
    free(msgs);
    json_decref(keep);
    response_request_free(&r);
    /* the word may come from the conversation continued (context), not only this input */
    REQUIRE(parse("{\"model\": \"m\", \"input\": \"Hi\", \"text\": {\"format\": {\"type\": \"json_object\"}}}", &r, &e) == 0);
    json_t *ctx = json_loads("[{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"use json\"}]}]",
                             0, NULL);
    CHECK(response_messages(&r, ctx, &msgs, &n, &keep, &e) == 0 && n == 1);
    free(msgs);
    json_decref(keep);
    json_decref(ctx);
    response_request_free(&r);
}

TEST(response_request_refuses_unsupported_fields) {
#define WITH(field) "{\"model\": \"m\", \"input\": \"x\", " field "}"
    EXPECT_ERROR(WITH("\"tools\": [{\"type\": \"function\", \"name\": \"f\"}]"), 400, "tools", "unsupported_parameter");
    EXPECT_ERROR(WITH("\"tool_choice\": \"required\""), 400, "tool_choice", "unsupported_parameter");
    EXPECT_ERROR(WITH("\"reasoning\": {\"effort\": \"low\"}"), 400, "reasoning", "unsupported_parameter");
    EXPECT_ERROR(WITH("\"include\": [\"message.output_text.logprobs\"]"), 400, "include", "unsupported_parameter");
    EXPECT_ERROR(WITH("\"background\": true"), 400, "background", "unsupported_parameter");
    EXPECT_ERROR(WITH("\"truncation\": \"auto\""), 400, "truncation", "unsupported_parameter");
    EXPECT_ERROR(WITH("\"service_tier\": \"flex\""), 400, "service_tier", "unsupported_parameter");
    EXPECT_ERROR(WITH("\"top_logprobs\": 3"), 400, "top_logprobs", "unsupported_parameter");
    EXPECT_ERROR(WITH("\"max_tool_calls\": 2"), 400, "max_tool_calls", "unsupported_parameter");
    EXPECT_ERROR(WITH("\"conversation\": \"conv_1\""), 400, "conversation", "unsupported_parameter");
    EXPECT_ERROR(WITH("\"prompt\": {\"id\": \"pmpt_1\"}"), 400, "prompt", "unsupported_parameter");
    EXPECT_ERROR(WITH("\"context_management\": [{\"type\": \"compaction\"}]"), 400, "context_management", "unsupported_parameter");
    EXPECT_ERROR(WITH("\"moderation\": {\"x\": 1}"), 400, "moderation", "unsupported_parameter");
    EXPECT_ERROR(WITH("\"prompt_cache_retention\": \"24h\""), 400, "prompt_cache_retention", "unsupported_parameter");
    EXPECT_ERROR(WITH("\"text\": {\"verbosity\": \"high\"}"), 400, "text.verbosity", "unsupported_parameter");
    EXPECT_ERROR(WITH("\"stream\": true, \"stream_options\": {\"include_obfuscation\": true}"), 400,
                 "stream_options.include_obfuscation", "unsupported_parameter");
    EXPECT_ERROR(WITH("\"input_image\": 1"), 400, "input_image", "unknown_parameter");
    EXPECT_ERROR(WITH("\"max_tokens\": 20"), 400, "max_tokens", "unknown_parameter");
    /* neutral values ask for nothing */
    EXPECT_OK(WITH("\"tools\": [], \"tool_choice\": \"none\", \"reasoning\": {}, \"include\": null, \"background\": false,"
                   "\"truncation\": \"disabled\", \"service_tier\": \"default\", \"top_logprobs\": 0, \"text\": null,"
                   "\"prompt_cache_key\": \"k\", \"safety_identifier\": \"s\", \"store\": null"));
}

TEST(response_request_refuses_bad_values) {
    EXPECT_ERROR("[]", 400, "", NULL);
    EXPECT_ERROR("{\"input\": \"x\"}", 400, "model", "missing_required_parameter");
    EXPECT_ERROR("{\"model\": 5, \"input\": \"x\"}", 400, "model", "invalid_value");
    EXPECT_ERROR("{\"model\": \"m\"}", 400, "input", "missing_required_parameter");
    EXPECT_ERROR("{\"model\": \"m\", \"input\": 5}", 400, "input", "invalid_value");
    EXPECT_ERROR("{\"model\": \"m\", \"input\": []}", 400, "input", "invalid_value");
    EXPECT_ERROR("{\"model\": \"m\", \"input\": [\"hi\"]}", 400, "input[0]", "invalid_value");
    EXPECT_ERROR("{\"model\": \"m\", \"input\": [{\"role\": \"tool\", \"content\": \"x\"}]}", 400, "input[0].role", "invalid_value");
    EXPECT_ERROR("{\"model\": \"m\", \"input\": [{\"content\": \"x\"}]}", 400, "input[0].role", "missing_required_parameter");
    EXPECT_ERROR("{\"model\": \"m\", \"input\": [{\"role\": \"user\"}]}", 400, "input[0].content", "missing_required_parameter");
    EXPECT_ERROR("{\"model\": \"m\", \"input\": [{\"role\": \"user\", \"content\": 3}]}", 400, "input[0].content", "invalid_value");
    EXPECT_ERROR("{\"model\": \"m\", \"input\": [{\"role\": \"user\", \"content\": \"x\", \"name\": \"n\"}]}", 400,
                 "input[0].name", "unknown_parameter");
    EXPECT_ERROR("{\"model\": \"m\", \"input\": [{\"role\": \"user\", \"content\": \"x\"}, {\"type\": \"function_call_output\","
                 "\"call_id\": \"c\", \"output\": \"o\"}]}", 400, "input[1].type", "unsupported_value");
    EXPECT_ERROR("{\"model\": \"m\", \"input\": [{\"role\": \"user\", \"content\": [{\"type\": \"input_image\", \"image_url\": \"u\"}]}]}",
                 400, "input[0].content[0].type", "unsupported_content");
    EXPECT_ERROR("{\"model\": \"m\", \"input\": [{\"role\": \"user\", \"content\": [{\"type\": \"output_text\", \"text\": \"u\"}]}]}",
                 400, "input[0].content[0].type", "invalid_value");
    EXPECT_ERROR("{\"model\": \"m\", \"input\": [{\"role\": \"user\", \"content\": [{\"type\": \"input_text\", \"text\": 1}]}]}",
                 400, "input[0].content[0].text", "invalid_value");
    EXPECT_ERROR("{\"model\": \"m\", \"input\": [{\"role\": \"user\", \"content\": [{\"type\": \"input_text\", \"text\": \"a\", \"x\": 1}]}]}",
                 400, "input[0].content[0].x", "unknown_parameter");
    EXPECT_ERROR("{\"model\": \"m\", \"input\": [{\"role\": \"assistant\", \"content\": [{\"type\": \"output_text\", \"text\": \"a\","
                 "\"annotations\": [{\"type\": \"url_citation\"}]}]}]}", 400, "input[0].content[0].annotations",
                 "unsupported_parameter");
    EXPECT_ERROR("{\"model\": \"m\", \"input\": [{\"role\": \"user\", \"content\": \"x\", \"id\": \"msg_"
                 "0123456789012345678901234567890123456789012345678901234567890\"}]}", 400, "input[0].id", "invalid_value");
    EXPECT_ERROR(WITH("\"safety_identifier\": \"0123456789012345678901234567890123456789012345678901234567890123456\""),
                 400, "safety_identifier", "invalid_value");
    EXPECT_ERROR(WITH("\"instructions\": 5"), 400, "instructions", "invalid_value");
    EXPECT_ERROR(WITH("\"temperature\": 2.5"), 400, "temperature", "invalid_value");
    EXPECT_ERROR(WITH("\"top_p\": \"high\""), 400, "top_p", "invalid_value");
    EXPECT_ERROR(WITH("\"max_output_tokens\": 15"), 400, "max_output_tokens", "invalid_value");
    EXPECT_ERROR(WITH("\"max_output_tokens\": 1.5"), 400, "max_output_tokens", "invalid_value");
    EXPECT_ERROR(WITH("\"store\": \"yes\""), 400, "store", "invalid_value");
    EXPECT_ERROR(WITH("\"stream\": 1"), 400, "stream", "invalid_value");
    EXPECT_ERROR(WITH("\"stream_options\": {}"), 400, "stream_options", "invalid_value");
    EXPECT_ERROR(WITH("\"metadata\": {\"a\": 1}"), 400, "metadata", "invalid_value");
    EXPECT_ERROR(WITH("\"metadata\": []"), 400, "metadata", "invalid_value");
    EXPECT_ERROR(WITH("\"metadata\": {\"1\":\"\",\"2\":\"\",\"3\":\"\",\"4\":\"\",\"5\":\"\",\"6\":\"\",\"7\":\"\",\"8\":\"\","
                      "\"9\":\"\",\"10\":\"\",\"11\":\"\",\"12\":\"\",\"13\":\"\",\"14\":\"\",\"15\":\"\",\"16\":\"\",\"17\":\"\"}"),
                 400, "metadata", "invalid_value");
    EXPECT_ERROR(WITH("\"previous_response_id\": 7"), 400, "previous_response_id", "invalid_value");
    EXPECT_ERROR(WITH("\"previous_response_id\": \"\""), 400, "previous_response_id", "invalid_value");
    EXPECT_ERROR(WITH("\"parallel_tool_calls\": \"no\""), 400, "parallel_tool_calls", "invalid_value");
    EXPECT_ERROR(WITH("\"user\": 3"), 400, "user", "invalid_value");
    EXPECT_ERROR(WITH("\"text\": \"json\""), 400, "text", "invalid_value");
    EXPECT_ERROR(WITH("\"text\": {\"fmt\": {}}"), 400, "text.fmt", "unknown_parameter");
    EXPECT_ERROR(WITH("\"text\": {\"format\": {\"type\": \"xml\"}}"), 400, "text.format.type", "invalid_value");
    EXPECT_ERROR(WITH("\"text\": {\"format\": {\"type\": \"text\", \"name\": \"n\"}}"), 400, "text.format.name", "unknown_parameter");
    EXPECT_ERROR(WITH("\"text\": {\"format\": {\"type\": \"json_schema\", \"schema\": {\"type\": \"object\"}}}"), 400,
                 "text.format.name", "missing_required_parameter");
    EXPECT_ERROR(WITH("\"text\": {\"format\": {\"type\": \"json_schema\", \"name\": \"n\"}}"), 400, "text.format.schema",
                 "missing_required_parameter");
    EXPECT_ERROR(WITH("\"text\": {\"format\": {\"type\": \"json_schema\", \"name\": \"a b\", \"schema\": {}}}"), 400,
                 "text.format.name", "invalid_value");
    EXPECT_ERROR(WITH("\"text\": {\"format\": {\"type\": \"json_schema\", \"name\": \"n\", \"strict\": 1, \"schema\": {}}}"), 400,
                 "text.format.strict", "invalid_value");
    EXPECT_ERROR(WITH("\"text\": {\"format\": {\"type\": \"json_schema\", \"name\": \"n\", \"json_schema\": {}, \"schema\": {}}}"),
                 400, "text.format.json_schema", "unknown_parameter");
    EXPECT_ERROR(WITH("\"text\": {\"format\": {\"type\": \"json_schema\", \"name\": \"n\", \"schema\": {\"type\": \"object\","
                      "\"properties\": {\"s\": {\"type\": \"string\", \"minLength\": 2}}, \"required\": [\"s\"],"
                      "\"additionalProperties\": false}}}"),
                 400, "text.format.schema", NULL);
#undef WITH
    /* the schema error names the keyword and where it is */
    ResponseRequest r;
    ApiError e;
    parse("{\"model\": \"m\", \"input\": \"x\", \"text\": {\"format\": {\"type\": \"json_schema\", \"name\": \"t\", \"schema\":"
          "{\"type\": \"object\", \"properties\": {\"s\": {\"type\": \"string\", \"pattern\": \"a\"}}, \"required\": [\"s\"],"
          "\"additionalProperties\": false}}}}", &r, &e);
    CHECK(strstr(e.message, "'t'") && strstr(e.message, "pattern") && strstr(e.message, "#/properties/s"));
    response_request_free(&r);
}
