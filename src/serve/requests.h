/* requests.h: the JSON request bodies of POST /v1/fine_tuning/jobs and POST /v1/chat/completions
 * parsed into plain structs, with OpenAI-shaped errors that name the bad field (param). Pure
 * functions of the body text: no store, no models (the routes check that ids exist), so the fuzz
 * target tests/fuzz/requests.c drives them directly. */
#ifndef FTUNE_REQUESTS_H
#define FTUNE_REQUESTS_H

#include <jansson.h>

#include "../ftune.h"
#include "api.h"

#define REQ_SUFFIX_MAX 64
#define REQ_METADATA_PAIRS API_METADATA_PAIRS
#define REQ_METADATA_KEY_MAX API_METADATA_KEY_MAX
#define REQ_METADATA_VALUE_MAX API_METADATA_VALUE_MAX
#define REQ_MAX_STOP 4
#define REQ_MAX_CHOICES 16
#define REQ_MAX_MESSAGES 4096
#define REQ_MAX_LOGIT_BIAS 1024 /* entries of logit_bias */
#define REQ_MAX_TOOLS 128       /* tools of one request */
#define REQ_TOOL_NAME_MAX 64    /* a function name: letters, digits, _ and - */

/* Fills job's model, training_file, validation_file, suffix, seed (-1 = not given),
 * hyperparameters (as text: "auto" or the number; from method.supervised.hyperparameters or the
 * deprecated top-level hyperparameters, both only when they agree) and metadata (JSON text).
 * Unknown fields, wrong types, out-of-range values and unsupported methods (dpo, reinforcement)
 * are 400s. The model is not resolved here (an alias or ft: model is routes_jobs.c's). */
int job_request_parse(const char *body, size_t len, JobRecord *job, ApiError *e);

typedef struct {
    json_t *root;          /* owns every string below */
    const char *model;
    FtChatMessage *msgs;   /* heap */
    int n_msgs;
    double temperature;    /* default 1, as OpenAI */
    double top_p;          /* default 1 */
    int n;                 /* choices, default 1 */
    bool has_seed;
    long long seed;
    const char *stop[REQ_MAX_STOP];
    int n_stop;
    long long max_tokens;  /* 0 = not given (the server's default bound) */
    const char *max_tokens_param; /* "max_completion_tokens" or "max_tokens": the field that gave it */
    bool stream, include_usage;
    bool logprobs;         /* return each token's log-probability */
    int top_logprobs;      /* and this many alternatives (0..20; needs logprobs) */
    double frequency_penalty, presence_penalty; /* -2..2 */
    int32_t *bias_ids;     /* heap: logit_bias's token ids */
    float *bias_values;    /* heap: and their biases (-100..100) */
    int n_bias;
    FtGrammar *grammar;    /* response_format json_object / json_schema compiled (heap); NULL: text */
    char **tools;          /* heap: the JSON text of each tool (heap), as the client wrote it */
    int n_tools;
    FtToolChoice tool_choice;   /* default auto */
    const char *tool_function;  /* FT_TOOL_CHOICE_FUNCTION: its name */
    bool parallel_tool_calls;   /* default true; false: at most one call */
    FtToolCall *tool_calls;     /* heap: the assistant messages' calls (msgs point into it) */
} ChatRequest;

/* Parses a chat completion request. Text content parts are joined; image, audio and file parts are
 * refused as unsupported (400). response_format json_object and json_schema are compiled for
 * constrained decoding; a schema outside OpenAI's strict subset is a 400 naming the keyword and
 * where it is (param response_format), json_object without the word "json" in the messages is a
 * 400 (param messages), as OpenAI's. tools/tool_choice/parallel_tool_calls are parsed (below); a
 * model whose template renders no tools is refused later, when the model is known. Other
 * parameters OpenAI accepts are accepted (and have no effect). */
int chat_request_parse(const char *body, size_t len, ChatRequest *out, ApiError *e);

/* Tools (chat_request_tools.c): tools, tool_choice and parallel_tool_calls into r (the schemas of
 * the functions a call may be forced to are checked against the constrained-decoding subset: 400
 * naming tools[i].function.parameters), and the tool_calls of assistant messages (OpenAI's shape,
 * 400 naming messages[i].tool_calls[j]...) into r->tool_calls. Tool messages need a tool_call_id. */
int chat_request_parse_tools(json_t *root, ChatRequest *r, ApiError *e);
int chat_request_parse_message_tools(json_t *msgs, ChatRequest *r, ApiError *e);
void chat_request_free(ChatRequest *r);

#endif
