/* example_messages.h: turns the messages of a checked example (a parsed JSONL line that passed
 * dataset_rules.h) into the ChatMessage list the chat template renders, with a trained flag per
 * message, and its tool definitions. Content parts are joined; "function" messages are rendered as
 * "tool"; an assistant's tool_calls (and legacy function_call) become ChatToolCall records, and
 * the example's tools (and legacy functions, wrapped as {"type": "function", "function": ...}) its
 * tool list, both rendered by templates that render tools exactly as the server renders a request.
 * For a template without tools, `legacy` holds the same messages with each call appended to the
 * assistant's text as a {"name": ..., "arguments": ...} line (the tools are then not rendered):
 * what such a model can learn. It does not check the example (call the rules first) and does not
 * tokenize. An ExampleMessages belongs to one thread; its strings are copies (the JDoc may be
 * reused). */
#ifndef FTUNE_EXAMPLE_MESSAGES_H
#define FTUNE_EXAMPLE_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"
#include "../text/chat_template.h"
#include "jdoc.h"

typedef struct {
    ChatMessage *msgs;   /* valid after example_messages_add* until the next reset or add */
    ChatMessage *legacy; /* the same, calls appended to the text (for templates without tools) */
    bool *trained;       /* assistant messages whose tokens are trained */
    int n, cap;
    const char **tools;  /* the tools' JSON texts, n_tools of them */
    int n_tools, cap_tools;
    ChatToolCall *calls; /* every message's calls (msgs[i].tool_calls point into it) */
    int n_calls, cap_calls;
    char *text; /* roles, contents, calls and tools, back to back, NUL-terminated */
    size_t text_len, text_cap;
    size_t *role_off, *content_off, *legacy_off, *end_off; /* per message */
    int *call_first, *n_msg_calls;                          /* per message */
    size_t *call_name_off, *call_args_off;                  /* per call */
    size_t *tool_off;                                       /* per tool */
    size_t tools_end; /* text_len after the tools */
} ExampleMessages;

void example_messages_init(ExampleMessages *em);
void example_messages_free(ExampleMessages *em);
void example_messages_reset(ExampleMessages *em);
/* Keeps the first n messages (to swap one DPO output for the other); the tools stay. */
void example_messages_truncate(ExampleMessages *em, int n);

/* The example's tool definitions: obj's "tools" and legacy "functions" (obj: the example, or a DPO
 * example's input). Call after reset, before adding messages. ERR_NOMEM. */
int example_messages_add_tools(ExampleMessages *em, const JDoc *d, uint32_t obj, Err *err);

/* Appends every message of list (a JSON array of checked messages). train: how assistant
 * messages are trained: EXAMPLE_TRAIN_WEIGHT (per their weight, default 1), EXAMPLE_TRAIN_ALL or
 * EXAMPLE_TRAIN_NONE. ERR_NOMEM. */
typedef enum { EXAMPLE_TRAIN_WEIGHT, EXAMPLE_TRAIN_ALL, EXAMPLE_TRAIN_NONE } ExampleTrain;
int example_messages_add_list(ExampleMessages *em, const JDoc *d, uint32_t list, ExampleTrain train, Err *err);

/* The list of a DPO example's preferred (rejected false) or rejected output, under its current name
 * (preferred_output, non_preferred_output) or its older one (preferred_completion,
 * non_preferred_completion); JDOC_NONE when absent. */
uint32_t example_dpo_output(const JDoc *d, bool rejected);

#endif
