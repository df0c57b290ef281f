/* tool_calls.h: how a chat template writes tool calls, and tool calls read back out of a model's
 * reply. A ToolSyntax is a template family's call format (Qwen2.5, Hermes-style: each call is
 * "<tool_call>\n" + {"name": NAME, "arguments": {...}} + "\n</tool_call>"; Llama 3.1+: the whole
 * reply is one bare {"name": NAME, "parameters": {...}}); chat_template.h hands
 * out the syntax of a template that renders tools. Parsing splits a reply into the text before the
 * first call (the message content) and the calls; a reply that is not exactly that (a call whose
 * JSON does not parse, lacks a string "name" or an object "arguments" (or a string holding one),
 * or text after the calls) is
 * plain text, as a model that did not call a tool. tool_text_safe_len tells a streaming caller how
 * much of a reply in progress is content for sure (never a possible start of a call). It does not
 * render prompts (chat_template_render.c) nor constrain generation (model/tool_grammar.c). */
#ifndef FTUNE_TOOL_CALLS_H
#define FTUNE_TOOL_CALLS_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"

#define TOOL_CALLS_MAX 64 /* calls read out of one reply */

typedef struct {
    const char *name;   /* "hermes" */
    const char *open;   /* written before a call's JSON, e.g. "<tool_call>\n" */
    const char *close;  /* and after it, e.g. "\n</tool_call>" */
    const char *sep;    /* between two calls, e.g. "\n" */
    const char *stop;   /* the close marker alone ("</tool_call>"): a stop string after one call */
    const char *name_key, *args_key; /* the call object's keys: "name", "arguments" */
    bool bare;          /* Llama 3.1+: no markers; the reply is one call object and nothing else */
    const char *lead;   /* bare: text the model may write before the object ("<|python_tag|>"), or NULL */
} ToolSyntax;

/* The Qwen2.5 / Hermes format. */
extern const ToolSyntax tool_syntax_hermes;
/* Llama 3.1 / 3.2 / 3.3 (JSON tool calling): the whole reply is {"name": NAME, "parameters": {...}},
 * optionally after <|python_tag|>; one call per reply (the templates render no more); open, close
 * and sep are "" / NULL and stop is NULL (the call ends the turn: <|eot_id|> or <|eom_id|>). */
extern const ToolSyntax tool_syntax_llama3_json;

typedef struct {
    char *name;      /* heap, NUL-terminated */
    char *arguments; /* heap: the arguments as compact JSON text (OpenAI's arguments string) */
} ToolCall;

typedef struct {
    char *content;   /* heap: the text before the first call, trailing whitespace removed; the
                        whole reply when it holds no call */
    size_t content_len;
    ToolCall *calls; /* heap, n_calls of them (0: the reply is text) */
    int n_calls;
} ToolReply;

/* Reads text[0..len) (a model's reply) into *out (tool_reply_free it, also on failure).
 * max_calls (1..TOOL_CALLS_MAX) bounds the calls kept: a reply with more is text. ERR_NOMEM only:
 * a reply that is not well-formed calls is text, not an error. */
int tool_reply_parse(const ToolSyntax *syn, const char *text, size_t len, int max_calls, ToolReply *out, Err *err);
void tool_reply_free(ToolReply *r); /* NULL is a no-op */

/* How many leading bytes of a reply in progress (text[0..len)) are content whatever comes next:
 * up to the first call's opening marker, or up to a suffix that could begin one; trailing
 * whitespace is held back too (it would be trimmed before a call). */
size_t tool_text_safe_len(const ToolSyntax *syn, const char *text, size_t len);

#endif
