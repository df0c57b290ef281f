/* dataset_rules.c: the per-example rules of the chat and DPO formats over a parsed line:
 * messages, roles, content, weights and the shape of each format (tools and tool calls are in
 * rules_tools.c). Every check reports and carries on, so one example yields all of its problems. */
#include "dataset_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_internal.h"

/* Where a message sits: a supervised example, the input of a DPO example, or a DPO output. */
typedef enum { MSG_SFT, MSG_DPO_INPUT, MSG_DPO_OUTPUT } MsgKind;

static const char *const KEYS_PLAIN[] = {"role", "content", "name", NULL};
static const char *const KEYS_ASSISTANT[] = {"role",       "content",       "name",    "weight",
                                             "tool_calls", "function_call", "refusal", NULL};
static const char *const KEYS_DPO_ASSISTANT[] = {"role",          "content", "name", "tool_calls",
                                                 "function_call", "refusal", NULL};
static const char *const KEYS_TOOL[] = {"role", "content", "tool_call_id", NULL};
static const char *const KEYS_SFT_EXAMPLE[] = {"messages", "tools", "parallel_tool_calls", "functions", NULL};
static const char *const KEYS_DPO_INPUT[] = {"messages", "tools", "parallel_tool_calls", NULL};
static const char *const KEYS_TEXT_PART[] = {"type", "text", NULL};
static const char *const UNSUPPORTED_PARTS[] = {"image_url", "input_audio", "file", "refusal", NULL};

/* --- messages --- */

/* Returns the bytes of text in a content value (string or list of text parts), or -1 when it is
 * not valid. */
static long check_content(RuleCtx *c, uint32_t content) {
    ExampleRules *r = c->r;
    const JDoc *d = r->d;
    if (jdoc_type(d, content) == JDOC_STRING) {
        size_t len;
        jdoc_str(d, content, &len);
        return (long)len;
    }
    if (jdoc_type(d, content) != JDOC_ARRAY) {
        rule_report(c, VALIDATE_ERROR, "invalid_type", "expected a string or a list of text parts, got %s",
                    jdoc_type_phrase(jdoc_type(d, content)));
        return -1;
    }
    if (jdoc_size(d, content) == 0) {
        rule_report(c, VALIDATE_ERROR, "invalid_content", "empty list of content parts");
        return -1;
    }
    long total = 0;
    bool ok = true;
    int i = 0;
    for (uint32_t part = jdoc_first(d, content); part != JDOC_NONE; part = jdoc_next(d, part), i++) {
        json_path_index(&r->path, i);
        char q[RULE_QUOTE_BUF];
        if (jdoc_type(d, part) != JDOC_OBJECT) {
            rule_report(c, VALIDATE_ERROR, "invalid_content_part", "expected a content part object, got %s",
                        jdoc_type_phrase(jdoc_type(d, part)));
            ok = false;
        } else {
            uint32_t type = jdoc_get(d, part, "type");
            size_t tlen = 0;
            const char *ts = type != JDOC_NONE && jdoc_type(d, type) == JDOC_STRING ? jdoc_str(d, type, &tlen) : NULL;
            rule_push_key(r, "type");
            if (type == JDOC_NONE)
                rule_report(c, VALIDATE_ERROR, "invalid_content_part",
                            "missing (a text part is {\"type\": \"text\", \"text\": ...})");
            else if (!ts)
                rule_report(c, VALIDATE_ERROR, "invalid_type", "expected a string, got %s",
                            jdoc_type_phrase(jdoc_type(d, type)));
            else if (rule_in_list(ts, tlen, UNSUPPORTED_PARTS))
                rule_report(c, VALIDATE_ERROR, "unsupported_content_part",
                            "%s parts are not supported: ftune fine-tunes on text only", rule_quote_str(d, type, q));
            else if (!jdoc_str_eq(d, type, "text"))
                rule_report(c, VALIDATE_ERROR, "invalid_content_part", "unknown part type %s (expected \"text\")",
                            rule_quote_str(d, type, q));
            json_path_pop(&r->path);
            if (ts && jdoc_str_eq(d, type, "text")) {
                rule_check_keys(c, part, KEYS_TEXT_PART, "a text part", KEYS_STRICT);
                uint32_t text = rule_get_string(c, part, "text", "invalid_content_part", "missing");
                if (text != JDOC_NONE)
                    total += (long)c->r->d->nodes[text].len;
                else
                    ok = false;
            } else {
                ok = false;
            }
        }
        json_path_pop(&r->path);
    }
    return ok ? total : -1;
}

typedef struct {
    Role role;
    bool trained;
} MsgInfo;

static Role parse_role(const JDoc *d, uint32_t v) {
    size_t len;
    const char *s = jdoc_str(d, v, &len);
    for (int i = 0; i < ROLE_NONE; i++)
        if (strlen(RULE_ROLE_NAMES[i]) == len && memcmp(RULE_ROLE_NAMES[i], s, len) == 0) return (Role)i;
    return ROLE_NONE;
}

static void check_message(RuleCtx *c, uint32_t msg, int index, MsgKind kind, MsgInfo *info) {
    ExampleRules *r = c->r;
    const JDoc *d = r->d;
    info->role = ROLE_NONE;
    info->trained = false;
    char q[RULE_QUOTE_BUF];
    if (jdoc_type(d, msg) != JDOC_OBJECT) {
        rule_report(c, VALIDATE_ERROR, "invalid_type", "expected a message object, got %s",
                    jdoc_type_phrase(jdoc_type(d, msg)));
        return;
    }
    uint32_t rv = jdoc_get(d, msg, "role");
    rule_push_key(r, "role");
    if (rv == JDOC_NONE) {
        rule_report(c, VALIDATE_ERROR, "missing_role", "missing");
    } else if (jdoc_type(d, rv) != JDOC_STRING) {
        rule_report(c, VALIDATE_ERROR, "invalid_type", "expected a string, got %s", jdoc_type_phrase(jdoc_type(d, rv)));
    } else if ((info->role = parse_role(d, rv)) == ROLE_NONE) {
        rule_report(c, VALIDATE_ERROR, "unknown_role", "unknown role %s", rule_quote_str(d, rv, q));
    } else if (kind == MSG_DPO_OUTPUT && info->role != ROLE_ASSISTANT) {
        rule_report(c, VALIDATE_ERROR, "output_not_assistant", "must be \"assistant\" in a DPO output, got %s",
                    rule_quote_str(d, rv, q));
        info->role = ROLE_NONE;
    }
    json_path_pop(&r->path);
    Role role = info->role;
    if (role == ROLE_NONE) return;

    bool assistant = role == ROLE_ASSISTANT;
    const char *const *allowed = role == ROLE_TOOL ? KEYS_TOOL
                                 : assistant       ? (kind == MSG_SFT ? KEYS_ASSISTANT : KEYS_DPO_ASSISTANT)
                                                   : KEYS_PLAIN;
    rule_check_keys_of(c, msg, allowed, NULL, (int)role, KEYS_MESSAGE);

    /* weight */
    uint32_t wv = jdoc_get(d, msg, "weight");
    info->trained = assistant && kind != MSG_DPO_INPUT;
    if (wv != JDOC_NONE) {
        rule_push_key(r, "weight");
        if (!assistant)
            rule_report(c, VALIDATE_ERROR, "weight_not_allowed", "weight is only allowed on assistant messages");
        else if (kind != MSG_SFT)
            rule_report(c, VALIDATE_ERROR, "weight_not_allowed", "weight is only used in supervised examples");
        else if (jdoc_type(d, wv) != JDOC_INT || (jdoc_int(d, wv) != 0 && jdoc_int(d, wv) != 1))
            rule_report(c, VALIDATE_ERROR, "invalid_weight", "must be 0 or 1, got %s", rule_quote_value(d, wv, q));
        else
            info->trained = jdoc_int(d, wv) == 1;
        json_path_pop(&r->path);
    }

    /* tool calls and the legacy function call */
    bool has_calls = false;
    if (assistant) {
        uint32_t calls = jdoc_get(d, msg, "tool_calls");
        if (calls != JDOC_NONE && jdoc_type(d, calls) != JDOC_NULL)
            has_calls = rule_check_tool_calls(c, calls, index) > 0;
        uint32_t fc = jdoc_get(d, msg, "function_call");
        if (fc != JDOC_NONE && jdoc_type(d, fc) != JDOC_NULL) {
            rule_push_key(r, "function_call");
            if (jdoc_type(d, fc) != JDOC_OBJECT)
                rule_report(c, VALIDATE_ERROR, "invalid_type", "expected an object, got %s",
                            jdoc_type_phrase(jdoc_type(d, fc)));
            else
                rule_check_called_function(c, fc, "invalid_function_call");
            json_path_pop(&r->path);
            has_calls = true;
        }
        uint32_t refusal = jdoc_get(d, msg, "refusal");
        if (refusal != JDOC_NONE && jdoc_type(d, refusal) != JDOC_NULL) rule_get_string(c, msg, "refusal", NULL, NULL);
    }

    /* content */
    uint32_t cv = jdoc_get(d, msg, "content");
    rule_push_key(r, "content");
    if (cv == JDOC_NONE || jdoc_type(d, cv) == JDOC_NULL) {
        if (!(assistant && has_calls)) {
            const char *state = cv == JDOC_NONE ? "missing" : "null";
            if (assistant)
                rule_report(c, VALIDATE_ERROR, "missing_content",
                            "%s (an assistant message needs content unless it has tool_calls or function_call)", state);
            else
                rule_report(c, VALIDATE_ERROR, "missing_content", "%s", state);
        }
    } else {
        long text = check_content(c, cv);
        if (text == 0) {
            if (assistant && info->trained && !has_calls)
                rule_report(c, VALIDATE_ERROR, "empty_assistant_content",
                            "empty assistant message (nothing to train on)");
            else if (!has_calls)
                rule_report(c, VALIDATE_WARNING, "empty_content", "empty");
        }
    }
    json_path_pop(&r->path);

    /* name, tool_call_id */
    (void)rule_get_string(c, msg, "name", role == ROLE_FUNCTION ? "missing_key" : NULL,
                          "missing (a function message names the function it answers)");
    if (role == ROLE_TOOL) {
        uint32_t id = rule_get_string(c, msg, "tool_call_id", "missing_tool_call_id",
                                      "missing (a tool message names the call it answers)");
        if (id != JDOC_NONE) {
            size_t len;
            const char *s = jdoc_str(d, id, &len);
            if (!rule_idset_find(r->call_ids, s, len)) {
                rule_push_key(r, "tool_call_id");
                rule_report(c, VALIDATE_ERROR, "unknown_tool_call_id", "%s answers no earlier tool call",
                            rule_quote_str(d, id, q));
                json_path_pop(&r->path);
            }
        }
    }
}

typedef struct {
    int n;
    int n_assistant, n_trained;
    int last_assistant; /* index, or -1 */
    Role last_role;
    bool has_system, has_user;
} MsgsInfo;

static bool check_messages(RuleCtx *c, uint32_t list, MsgKind kind, MsgsInfo *mi) {
    ExampleRules *r = c->r;
    const JDoc *d = r->d;
    memset(mi, 0, sizeof *mi);
    mi->last_assistant = -1;
    mi->last_role = ROLE_NONE;
    if (jdoc_type(d, list) != JDOC_ARRAY) {
        rule_report(c, VALIDATE_ERROR, "invalid_type", "expected a list of messages, got %s",
                    jdoc_type_phrase(jdoc_type(d, list)));
        return false;
    }
    if (jdoc_size(d, list) == 0) {
        rule_report(c, VALIDATE_ERROR, "empty_messages", "empty list (an example needs at least one message)");
        return false;
    }
    int i = 0;
    for (uint32_t m = jdoc_first(d, list); m != JDOC_NONE; m = jdoc_next(d, m), i++) {
        json_path_index(&r->path, i);
        MsgInfo info;
        check_message(c, m, i, kind, &info);
        json_path_pop(&r->path);
        mi->last_role = info.role;
        if (info.role == ROLE_SYSTEM || info.role == ROLE_DEVELOPER) mi->has_system = true;
        if (info.role == ROLE_USER) mi->has_user = true;
        if (info.role == ROLE_ASSISTANT) {
            mi->n_assistant++;
            mi->last_assistant = i;
            if (info.trained) mi->n_trained++;
        }
    }
    mi->n = i;
    return true;
}

/* parallel_tool_calls, when present, must be a boolean. */
static void check_parallel(RuleCtx *c, uint32_t obj) {
    const JDoc *d = c->r->d;
    uint32_t v = jdoc_get(d, obj, "parallel_tool_calls");
    if (v == JDOC_NONE) return;
    if (jdoc_type(d, v) == JDOC_FALSE)
        c->r->parallel_off = true;
    else if (jdoc_type(d, v) != JDOC_TRUE) {
        rule_push_key(c->r, "parallel_tool_calls");
        rule_report(c, VALIDATE_ERROR, "invalid_type", "expected a boolean, got %s", jdoc_type_phrase(jdoc_type(d, v)));
        json_path_pop(&c->r->path);
    }
}

static uint64_t hash_opt(const JDoc *d, uint32_t n, uint64_t tag) {
    return n == JDOC_NONE ? jdoc_hash_mix(tag) : jdoc_hash_mix(tag ^ jdoc_hash(d, n));
}

static void check_sft(RuleCtx *c, uint32_t root, ExampleSummary *sum) {
    ExampleRules *r = c->r;
    const JDoc *d = r->d;
    uint32_t messages = jdoc_get(d, root, "messages");
    if (messages == JDOC_NONE) {
        if (jdoc_get(d, root, "prompt") != JDOC_NONE || jdoc_get(d, root, "completion") != JDOC_NONE)
            rule_report(
                c, VALIDATE_ERROR, "unsupported_format",
                "prompt/completion pairs (the legacy completions format) are not supported: use chat \"messages\"");
        else if (jdoc_get(d, root, "input") != JDOC_NONE && (jdoc_get(d, root, "preferred_output") != JDOC_NONE ||
                                                             jdoc_get(d, root, "preferred_completion") != JDOC_NONE))
            rule_report(c, VALIDATE_ERROR, "method_mismatch",
                        "a preference (DPO) example in a supervised dataset: validate it with the dpo method");
        else {
            rule_push_key(r, "messages");
            rule_report(c, VALIDATE_ERROR, "missing_messages", "missing (each example needs a \"messages\" list)");
            json_path_pop(&r->path);
        }
        return;
    }
    rule_check_keys(c, root, KEYS_SFT_EXAMPLE, "an example", KEYS_EXAMPLE);
    check_parallel(c, root);
    uint32_t tools = jdoc_get(d, root, "tools"), functions = jdoc_get(d, root, "functions");
    rule_check_tool_list(c, tools, "tools", false);
    rule_check_tool_list(c, functions, "functions", true);
    rule_push_key(r, "messages");
    MsgsInfo mi;
    if (check_messages(c, messages, MSG_SFT, &mi)) {
        if (mi.n_assistant == 0)
            rule_report(c, VALIDATE_ERROR, "missing_assistant_message",
                        "no assistant message (an example needs at least one to train on)");
        else if (mi.n_trained == 0)
            rule_report(c, VALIDATE_ERROR, "no_trained_assistant_message",
                        "every assistant message has weight 0 (nothing to train on)");
    }
    json_path_pop(&r->path);
    sum->n_messages = mi.n;
    sum->has_system = mi.has_system;
    sum->has_user = mi.has_user;
    /* The prompt: everything before the last assistant message, with the tools. Each message is
     * hashed once, for both the prompt and the whole example. */
    uint64_t h = jdoc_hash_mix(0x70 ^ hash_opt(d, tools, 1) ^ hash_opt(d, functions, 2) * 3 ^
                               hash_opt(d, jdoc_get(d, root, "parallel_tool_calls"), 3) * 5);
    uint64_t messages_hash;
    if (jdoc_type(d, messages) == JDOC_ARRAY) {
        messages_hash = jdoc_hash_array_begin(d->nodes[messages].count);
        int i = 0;
        for (uint32_t m = jdoc_first(d, messages); m != JDOC_NONE; m = jdoc_next(d, m), i++) {
            uint64_t hm = jdoc_hash(d, m);
            messages_hash = jdoc_hash_array_add(messages_hash, hm);
            if (i < mi.last_assistant) h = jdoc_hash_mix(h * 0x100000001B3ull + hm);
        }
    } else {
        messages_hash = jdoc_hash(d, messages);
    }
    sum->prompt_hash = h | 1; /* never 0 */
    uint64_t members = 0;
    for (uint32_t k = jdoc_first(d, root); k != JDOC_NONE; k = jdoc_next(d, jdoc_next(d, k))) {
        uint32_t v = jdoc_next(d, k);
        members += jdoc_hash_member(jdoc_hash(d, k), v == messages ? messages_hash : jdoc_hash(d, v));
    }
    sum->example_hash = jdoc_hash_object_end(members, d->nodes[root].count) | 1;
}

static void check_dpo_output(RuleCtx *c, uint32_t out, const char *key) {
    ExampleRules *r = c->r;
    const JDoc *d = r->d;
    rule_push_key(r, key);
    if (out == JDOC_NONE) {
        rule_report(c, VALIDATE_ERROR, "missing_key",
                    "missing (a DPO example needs input, preferred_output and non_preferred_output)");
    } else if (jdoc_type(d, out) != JDOC_ARRAY) {
        rule_report(c, VALIDATE_ERROR, "invalid_type", "expected a list with one assistant message, got %s",
                    jdoc_type_phrase(jdoc_type(d, out)));
    } else if (jdoc_size(d, out) != 1) {
        rule_report(c, VALIDATE_ERROR, "invalid_output", "must hold exactly one assistant message, got %u",
                    jdoc_size(d, out));
    } else {
        json_path_index(&r->path, 0);
        MsgInfo info;
        check_message(c, jdoc_first(d, out), 0, MSG_DPO_OUTPUT, &info);
        json_path_pop(&r->path);
    }
    json_path_pop(&r->path);
}

static void check_dpo(RuleCtx *c, uint32_t root, ExampleSummary *sum) {
    ExampleRules *r = c->r;
    const JDoc *d = r->d;
    uint32_t input = jdoc_get(d, root, "input");
    if (input == JDOC_NONE && jdoc_get(d, root, "messages") != JDOC_NONE) {
        rule_report(c, VALIDATE_ERROR, "method_mismatch",
                    "a supervised chat example in a DPO dataset (a DPO example has input, preferred_output and "
                    "non_preferred_output)");
        return;
    }
    /* The outputs under their older names (specs before mid-2025). */
    uint32_t pref = jdoc_get(d, root, "preferred_output"), nonpref = jdoc_get(d, root, "non_preferred_output");
    const char *pref_key = "preferred_output", *nonpref_key = "non_preferred_output";
    static const char *const OLD[2] = {"preferred_completion", "non_preferred_completion"};
    for (int k = 0; k < 2; k++) {
        uint32_t old = jdoc_get(d, root, OLD[k]);
        if (old == JDOC_NONE) continue;
        rule_push_key(r, OLD[k]);
        rule_report(c, VALIDATE_WARNING, "deprecated_key", "the old name of %s",
                    k ? "non_preferred_output" : "preferred_output");
        json_path_pop(&r->path);
        if (k == 0 && pref == JDOC_NONE) {
            pref = old;
            pref_key = OLD[0];
        }
        if (k == 1 && nonpref == JDOC_NONE) {
            nonpref = old;
            nonpref_key = OLD[1];
        }
    }
    static const char *const KEYS_WITH_OLD[] = {
        "input", "preferred_output", "non_preferred_output", "preferred_completion", "non_preferred_completion", NULL};
    rule_check_keys(c, root, KEYS_WITH_OLD, "a DPO example", KEYS_EXAMPLE);
    rule_push_key(r, "input");
    MsgsInfo mi = {0};
    if (input == JDOC_NONE) {
        rule_report(c, VALIDATE_ERROR, "missing_key",
                    "missing (a DPO example needs input, preferred_output and non_preferred_output)");
    } else if (jdoc_type(d, input) != JDOC_OBJECT) {
        rule_report(c, VALIDATE_ERROR, "invalid_type", "expected an object with messages, got %s",
                    jdoc_type_phrase(jdoc_type(d, input)));
    } else {
        rule_check_keys(c, input, KEYS_DPO_INPUT, "a DPO input", KEYS_EXAMPLE);
        check_parallel(c, input);
        rule_check_tool_list(c, jdoc_get(d, input, "tools"), "tools", false);
        uint32_t messages = jdoc_get(d, input, "messages");
        rule_push_key(r, "messages");
        if (messages == JDOC_NONE)
            rule_report(c, VALIDATE_ERROR, "missing_messages", "missing (the conversation before the two outputs)");
        else if (check_messages(c, messages, MSG_DPO_INPUT, &mi) && mi.last_role == ROLE_ASSISTANT)
            rule_report(c, VALIDATE_WARNING, "input_ends_with_assistant",
                        "the input ends with an assistant message; the outputs should be the next assistant turn");
        json_path_pop(&r->path);
    }
    json_path_pop(&r->path);
    check_dpo_output(c, pref, pref_key);
    check_dpo_output(c, nonpref, nonpref_key);
    if (pref != JDOC_NONE && nonpref != JDOC_NONE && jdoc_hash(d, pref) == jdoc_hash(d, nonpref)) {
        rule_push_key(r, nonpref_key);
        rule_report(c, VALIDATE_WARNING, "identical_outputs", "identical to %s (the pair teaches nothing)", pref_key);
        json_path_pop(&r->path);
    }
    sum->n_messages = mi.n + 1;
    sum->has_system = mi.has_system;
    sum->has_user = mi.has_user;
    sum->prompt_hash = 0;
}

void rules_init(ExampleRules *r, ValidateMethod method, RuleEmit emit, void *emit_ctx) {
    memset(r, 0, sizeof *r);
    r->method = method;
    r->emit = emit;
    r->emit_ctx = emit_ctx;
    r->call_ids = calloc(1, sizeof *r->call_ids);
    r->tool_names = calloc(1, sizeof *r->tool_names);
    jdoc_init(&r->args_doc, RULE_ARGS_MAX_VALUES);
}

void rules_free(ExampleRules *r) {
    if (!r) return;
    if (r->call_ids) free(r->call_ids->slots);
    if (r->tool_names) free(r->tool_names->slots);
    free(r->call_ids);
    free(r->tool_names);
    free(r->args_buf);
    jdoc_free(&r->args_doc);
    memset(r, 0, sizeof *r);
}

int rules_check_example(ExampleRules *r, const JDoc *d, uint32_t root, ExampleSummary *sum) {
    memset(sum, 0, sizeof *sum);
    if (!r->call_ids || !r->tool_names) return -1;
    r->d = d;
    r->n_errors = 0;
    r->path.n = 0;
    r->parallel_off = false;
    rule_idset_clear(r->call_ids);
    rule_idset_clear(r->tool_names);
    RuleCtx c = {.r = r};
    if (jdoc_type(d, root) != JDOC_OBJECT) {
        rule_report(&c, VALIDATE_ERROR, "not_an_object", "expected a JSON object, got %s",
                    jdoc_type_phrase(jdoc_type(d, root)));
    } else if (r->method == VALIDATE_DPO) {
        check_dpo(&c, root, sum);
    } else {
        check_sft(&c, root, sum);
    }
    if (sum->example_hash == 0) sum->example_hash = jdoc_hash(d, root) | 1;
    sum->n_errors = r->n_errors;
    return c.nomem ? -1 : r->n_errors;
}
