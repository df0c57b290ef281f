/* rules_internal.h: what the example-rule files share (dataset_rules.c: messages and the two
 * example formats; rules_tools.c: tools and tool calls; rules_common.c: the helpers below). Not a
 * public API: include dataset_rules.h instead. */
#ifndef FTUNE_RULES_INTERNAL_H
#define FTUNE_RULES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset_rules.h"

#define RULE_IDSET_MIN_CAP 16
#define RULE_ARGS_MAX_VALUES (1u << 20) /* JSON values in one tool call's arguments */
#define RULE_QUOTE_BUF (PROBLEM_QUOTE_MAX * 6 + 8)

typedef enum { ROLE_SYSTEM, ROLE_DEVELOPER, ROLE_USER, ROLE_ASSISTANT, ROLE_TOOL, ROLE_FUNCTION, ROLE_NONE } Role;
extern const char *const RULE_ROLE_NAMES[ROLE_NONE];

/* One example being checked. */
typedef struct {
    ExampleRules *r;
    bool nomem;
} RuleCtx;

/* A set of strings (tool call ids, tool names) remembering where each was first seen; the
 * strings point into the example's JDoc. */
typedef struct {
    uint64_t hash;
    const char *s;
    uint32_t len;
    int32_t where, sub; /* message (or tool) index, call index; where < 0: empty slot */
} IdSlot;

struct RuleIdSet {
    IdSlot *slots;
    uint32_t cap, n;
};

void rule_idset_clear(RuleIdSet *s);
IdSlot *rule_idset_find(const RuleIdSet *s, const char *str, size_t len);
int rule_idset_add(RuleIdSet *s, const char *str, size_t len, int where, int sub); /* -1: out of memory */

/* Reports a problem at the current path (errors are counted in the example). */
void rule_report(RuleCtx *c, ValidateSeverity sev, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A string node quoted and shortened for a message; any value as it appears. buf: RULE_QUOTE_BUF. */
const char *rule_quote_str(const JDoc *d, uint32_t n, char *buf);
const char *rule_quote_value(const JDoc *d, uint32_t n, char *buf);

bool rule_in_list(const char *s, size_t len, const char *const *list); /* list is NULL-terminated */
void rule_push_key(ExampleRules *r, const char *key);

typedef enum {
    KEYS_STRICT,  /* unknown keys are errors */
    KEYS_MESSAGE, /* the same, but "weight" is left to the caller (weight_not_allowed) */
    KEYS_EXAMPLE, /* example-level: unknown keys are ignored, with a warning */
} KeysMode;

/* Reports every key of obj that is not in allowed. what: "a tool call", ...; for a message pass
 * what = NULL and its role, whose phrase is only formatted when a key is reported. */
void rule_check_keys(RuleCtx *c, uint32_t obj, const char *const *allowed, const char *what, KeysMode mode);
void rule_check_keys_of(RuleCtx *c, uint32_t obj, const char *const *allowed, const char *what, int role,
                        KeysMode mode);

/* The string value of key in obj: JDOC_NONE when absent (reported with code_missing and
 * missing_msg when code_missing is given) or not a string (reported). */
uint32_t rule_get_string(RuleCtx *c, uint32_t obj, const char *key, const char *code_missing, const char *missing_msg);

bool rule_valid_function_name(const char *s, size_t len); /* 1..TOOL_NAME_MAX of [a-zA-Z0-9_-] */

/* rules_tools.c */
void rule_check_tool_list(RuleCtx *c, uint32_t list, const char *key, bool legacy_functions);
int rule_check_tool_calls(RuleCtx *c, uint32_t calls, int msg_index); /* the number of calls */
void rule_check_called_function(RuleCtx *c, uint32_t fn, const char *code);

#endif
