/* response_request.h: the body of POST /v1/responses (the Responses API) parsed into a plain struct,
 * and the messages a response's model sees. Pure functions of JSON, like requests.h: no store, no
 * models (routes_responses.c looks up previous_response_id and the model), so that unit tests and
 * the fuzz target drive them directly.
 *
 * What is implemented: model, input (a string: one user message; or a list of message items,
 * {"role", "content"} or {"type": "message", ...}, whose content is a string or a list of
 * input_text parts, and output_text parts for the assistant's), instructions, text.format (text,
 * json_object, json_schema: constrained decoding, output_format.h), max_output_tokens,
 * temperature, top_p, metadata, store, stream, previous_response_id, and the identifiers user,
 * safety_identifier and prompt_cache_key (echoed; they change no output). Everything else the API
 * has (tools, reasoning, include, background, truncation "auto", ...) is refused with a 400 naming
 * it unless it is absent, null or its neutral value; unknown fields are 400 unknown_parameter. */
#ifndef FTUNE_RESPONSE_REQUEST_H
#define FTUNE_RESPONSE_REQUEST_H

#include <jansson.h>
#include <stdbool.h>

#include "../ftune.h"
#include "api.h"
#include "requests.h"

#define RESPONSE_MAX_ITEMS REQ_MAX_MESSAGES /* input items of one request, and messages of a context */
#define RESPONSE_MIN_OUTPUT_TOKENS 16     /* max_output_tokens' lower bound, as OpenAI's */
#define RESPONSE_ITEM_ID_MAX 64           /* characters of an input item's id */
#define RESPONSE_SAFETY_ID_MAX 64         /* characters of safety_identifier, as OpenAI's */

typedef struct {
    json_t *root;                   /* the body; owns the strings below */
    const char *model;
    const char *instructions;       /* NULL = none */
    json_t *input;                  /* (owned) the input as message items, normalised: {"type": "message",
                                     * "role", "content": [{"type": "input_text" | "output_text", "text", ...}]}
                                     * (an "id" kept where the client gave one) */
    const char *previous_response_id; /* NULL = none */
    double temperature;             /* default 1 */
    double top_p;                   /* default 1 */
    long long max_output_tokens;    /* 0 = not given */
    json_t *metadata;               /* (borrowed from root) NULL = none */
    bool store;                     /* default true */
    bool stream;
    bool parallel_tool_calls;       /* echoed (default true; there are no tools) */
    const char *user, *safety_identifier, *prompt_cache_key; /* echoed; NULL = none */
    json_t *text;                   /* (owned) {"format": ..., "verbosity": "medium"} as the response echoes it */
    bool json_object;               /* text.format json_object: the context must mention JSON */
    FtGrammar *grammar;             /* json_object / json_schema compiled (heap); NULL: free text */
} ResponseRequest;

/* Parses a create request; 400s name the field ("input[2].content[0].type", "text.format.schema").
 * On failure r is still to be freed. */
int response_request_parse(const char *body, size_t len, ResponseRequest *r, ApiError *e);
void response_request_free(ResponseRequest *r);

/* The messages of a response's prompt: the instructions (as a system message), then each item of
 * context (message items as response_request_parse makes them, and stored output messages), its
 * text parts joined. *msgs is heap (caller frees); its strings belong to r->root, context and *keep
 * (a new array holding what was joined and a reference to context: release it with the messages).
 * A 400 when there are more than RESPONSE_MAX_ITEMS messages, or when json_object is asked and
 * neither the instructions nor the context mention JSON (param input). */
int response_messages(const ResponseRequest *r, json_t *context, FtChatMessage **msgs, int *n, json_t **keep,
                      ApiError *e);

#endif
