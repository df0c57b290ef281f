/* tool_grammar.h: the grammar of a reply that is tool calls, for constrained decoding when a call
 * is required (tool_choice "required" or a named function): each call written in the template's
 * syntax (tool_calls.h: open marker, {"name": NAME, "arguments": ARGS}, close marker), NAME one of
 * the allowed functions and ARGS following that function's parameters schema (json_schema.h, not
 * strict); for a syntax with one bare call per reply (Llama 3.1+), just that object, whatever
 * parallel says. It builds on json_schema_compile and adds the markers around it; it does not parse
 * replies (tool_calls.c) nor render prompts. */
#ifndef FTUNE_TOOL_GRAMMAR_H
#define FTUNE_TOOL_GRAMMAR_H

#include <stdbool.h>

#include "../text/tool_calls.h"
#include "grammar.h"

#define TOOL_GRAMMAR_MAX_TOOLS 128 /* tools one request may define */

/* tools[0..n_tools): each an OpenAI tool's JSON text. function: the only function allowed (NULL:
 * any). parallel: one or more calls (else exactly one). *out is grammar_free'd by the caller (also
 * on failure). ERR_ARG for a tool that is not {"type": "function", "function": {"name": ...}}, an
 * unknown function or $defs that two tools define differently; ERR_UNSUPPORTED for a parameters
 * schema outside the subset, naming the tool; ERR_NOMEM. */
int tool_grammar_compile(const ToolSyntax *syn, const char *const *tools, int n_tools, const char *function,
                         bool parallel, Grammar *out, Err *err);

#endif
