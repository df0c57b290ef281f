/* dataset_rules.h: the rules for one example (one parsed JSONL line) in OpenAI's supervised chat
 * format or its DPO preference format: keys, roles, content, weights, tools and tool calls, and
 * whether tool messages answer earlier calls. Problems go to a callback with their JSON path and
 * an actionable message. It also summarises the example for the dataset-level checks (messages,
 * hashes of the whole example and of its prompt). It does not parse JSON (jdoc.h), count tokens
 * (example_tokens.h) or look across examples (dataset_stats.h). An ExampleRules belongs to one
 * thread and is reused from one example to the next. */
#ifndef FTUNE_DATASET_RULES_H
#define FTUNE_DATASET_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "jdoc.h"
#include "problem_list.h"
#include "validate.h"

#define TOOL_NAME_MAX 64 /* OpenAI: function names are 1..64 of [a-zA-Z0-9_-] */

/* Receives each problem: path is the formatted JSON path ("" for the whole example). */
typedef void (*RuleEmit)(void *ctx, ValidateSeverity sev, const char *code, const char *path, const char *message);

typedef struct {
    int n_messages;  /* in messages (DPO: in input.messages, plus the output) */
    bool has_system; /* a system or developer message */
    bool has_user;
    uint64_t example_hash; /* the whole example, canonical (key order, spacing, escapes ignored) */
    uint64_t prompt_hash;  /* what comes before the last assistant turn; 0 for DPO */
    int n_errors;
} ExampleSummary;

typedef struct RuleIdSet RuleIdSet;

typedef struct {
    const JDoc *d;
    ValidateMethod method;
    RuleEmit emit;
    void *emit_ctx;
    JsonPath path;
    int n_errors;
    /* per example */
    RuleIdSet *call_ids;   /* tool call ids seen so far */
    RuleIdSet *tool_names; /* names declared in tools / functions */
    bool parallel_off;     /* parallel_tool_calls: false */
    char *args_buf;        /* a NUL-terminated copy of one call's arguments */
    size_t args_cap;
    JDoc args_doc; /* parses the arguments */
} ExampleRules;

void rules_init(ExampleRules *r, ValidateMethod method, RuleEmit emit, void *emit_ctx);
void rules_free(ExampleRules *r);

/* Checks the example whose root node is root in d (any JSON type) and fills *sum. Returns the
 * number of errors found (warnings are not counted); -1 when out of memory. */
int rules_check_example(ExampleRules *r, const JDoc *d, uint32_t root, ExampleSummary *sum);

#endif
