/* example_messages.h: turns the messages of a checked example (a parsed JSONL line that passed
 * dataset_rules.h) into the ChatMessage list the chat template renders, with a trained flag per
 * message. Content parts are joined; "function" messages are rendered as "tool"; an assistant's
 * tool_calls (or legacy function_call) are appended to its text as {"name": ..., "arguments":
 * ...} lines, because the chat templates do not render tool calls yet; tool definitions are not
 * rendered. It does not check the example (call the rules first) and does not tokenize. An
 * ExampleMessages belongs to one thread; its strings are copies (the JDoc may be reused). */
#ifndef FTUNE_EXAMPLE_MESSAGES_H
#define FTUNE_EXAMPLE_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"
#include "../text/chat_template.h"
#include "jdoc.h"

typedef struct {
    ChatMessage *msgs; /* valid after example_messages_add* until the next reset or add */
    bool *trained;     /* assistant messages whose tokens are trained */
    int n, cap;
    char *text; /* roles and contents, back to back, NUL-terminated */
    size_t text_len, text_cap;
    size_t *role_off, *content_off;
} ExampleMessages;

void example_messages_init(ExampleMessages *em);
void example_messages_free(ExampleMessages *em);
void example_messages_reset(ExampleMessages *em);
/* Keeps the first n messages (to swap one DPO output for the other). */
void example_messages_truncate(ExampleMessages *em, int n);

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
