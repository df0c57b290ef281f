/* rules_common.c: the helpers of the example rules: a small string set, problem reporting with
 * the current JSON path, quoting client values, and the key and type checks every object gets. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_internal.h"

const char *const RULE_ROLE_NAMES[ROLE_NONE] = {"system", "developer", "user", "assistant", "tool", "function"};

/* --- a small set of strings (tool call ids, tool names) with where each was first seen --- */

void rule_idset_clear(RuleIdSet *s) {
    if (s->n == 0) return;
    for (uint32_t i = 0; i < s->cap; i++) s->slots[i].where = -1;
    s->n = 0;
}

IdSlot *rule_idset_find(const RuleIdSet *s, const char *str, size_t len) {
    if (s->n == 0) return NULL;
    uint64_t h = jdoc_hash_bytes(str, len, 7);
    for (uint32_t i = (uint32_t)h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        IdSlot *e = &s->slots[i];
        if (e->where < 0) return NULL;
        if (e->hash == h && e->len == len && memcmp(e->s, str, len) == 0) return e;
    }
}

int rule_idset_add(RuleIdSet *s, const char *str, size_t len, int where, int sub) {
    if ((s->n + 1) * 2 > s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : RULE_IDSET_MIN_CAP;
        IdSlot *slots = malloc((size_t)cap * sizeof *slots);
        if (!slots) return -1;
        for (uint32_t i = 0; i < cap; i++) slots[i].where = -1;
        for (uint32_t i = 0; i < s->cap; i++) {
            if (s->slots[i].where < 0) continue;
            uint32_t j = (uint32_t)s->slots[i].hash & (cap - 1);
            while (slots[j].where >= 0) j = (j + 1) & (cap - 1);
            slots[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    uint64_t h = jdoc_hash_bytes(str, len, 7);
    uint32_t i = (uint32_t)h & (s->cap - 1);
    while (s->slots[i].where >= 0) i = (i + 1) & (s->cap - 1);
    s->slots[i] = (IdSlot){h, str, (uint32_t)len, where, sub};
    s->n++;
    return 0;
}

/* --- reporting --- */

void rule_report(RuleCtx *c, ValidateSeverity sev, const char *code, const char *fmt, ...) {
    ExampleRules *r = c->r;
    char path[VALIDATE_PATH_MAX], msg[VALIDATE_MESSAGE_MAX];
    json_path_format(&r->path, path, sizeof path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sev == VALIDATE_ERROR) r->n_errors++;
    r->emit(r->emit_ctx, sev, code, path, msg);
}

const char *rule_quote_str(const JDoc *d, uint32_t n, char *buf) {
    size_t len;
    const char *s = jdoc_str(d, n, &len);
    return problem_quote(buf, RULE_QUOTE_BUF, s, len);
}

/* A value as it appears (strings quoted and escaped, everything shortened). */
const char *rule_quote_value(const JDoc *d, uint32_t n, char *buf) {
    if (jdoc_type(d, n) == JDOC_STRING) return rule_quote_str(d, n, buf);
    if (jdoc_type(d, n) == JDOC_ARRAY || jdoc_type(d, n) == JDOC_OBJECT) return jdoc_type_phrase(jdoc_type(d, n));
    size_t len;
    const char *s = jdoc_raw(d, n, &len);
    if (len > PROBLEM_QUOTE_MAX) len = PROBLEM_QUOTE_MAX;
    memcpy(buf, s, len);
    buf[len] = 0;
    return buf;
}

void rule_list_keys(const char *const *keys, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; keys[i] && len < cap; i++) {
        int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", keys[i]);
        if (w < 0) break;
        len += (size_t)w;
    }
}

/* s[0..len) (no NUL inside) is one of the NULL-terminated list. */
bool rule_in_list(const char *s, size_t len, const char *const *list) {
    if (len == 0) return false;
    for (; *list; list++)
        if ((*list)[0] == s[0] && strncmp(*list, s, len) == 0 && (*list)[len] == 0) return true;
    return false;
}

void rule_push_key(ExampleRules *r, const char *key) { json_path_key(&r->path, key, strlen(key)); }

void rule_check_keys(RuleCtx *c, uint32_t obj, const char *const *allowed, const char *what, KeysMode mode) {
    rule_check_keys_of(c, obj, allowed, what, -1, mode);
}

void rule_check_keys_of(RuleCtx *c, uint32_t obj, const char *const *allowed, const char *what, int role,
                        KeysMode mode) {
    const JDoc *d = c->r->d;
    for (uint32_t k = jdoc_first(d, obj); k != JDOC_NONE; k = jdoc_next(d, jdoc_next(d, k))) {
        size_t len;
        const char *key = jdoc_str(d, k, &len);
        if (rule_in_list(key, len, allowed)) continue;
        if (mode == KEYS_MESSAGE && len == 6 && memcmp(key, "weight", 6) == 0) continue;
        char keys[256], phrase[32];
        rule_list_keys(allowed, keys, sizeof keys);
        if (role >= 0) {
            snprintf(phrase, sizeof phrase, "a%s %s message", role == ROLE_ASSISTANT ? "n" : "", RULE_ROLE_NAMES[role]);
            what = phrase;
        }
        json_path_key(&c->r->path, key, len);
        if (mode == KEYS_EXAMPLE)
            rule_report(c, VALIDATE_WARNING, "unknown_example_key", "unknown key, ignored (%s has %s)", what, keys);
        else
            rule_report(c, VALIDATE_ERROR, "unknown_key", "unknown key for %s (allowed: %s)", what, keys);
        json_path_pop(&c->r->path);
    }
}

/* Checks that key of obj, when present, is a string; returns the node or JDOC_NONE. */
uint32_t rule_get_string(RuleCtx *c, uint32_t obj, const char *key, const char *code_missing, const char *missing_msg) {
    const JDoc *d = c->r->d;
    uint32_t v = jdoc_get(d, obj, key);
    rule_push_key(c->r, key);
    if (v == JDOC_NONE) {
        if (code_missing) rule_report(c, VALIDATE_ERROR, code_missing, "%s", missing_msg);
    } else if (jdoc_type(d, v) != JDOC_STRING) {
        rule_report(c, VALIDATE_ERROR, "invalid_type", "expected a string, got %s", jdoc_type_phrase(jdoc_type(d, v)));
        v = JDOC_NONE;
    }
    json_path_pop(&c->r->path);
    return v;
}

bool rule_valid_function_name(const char *s, size_t len) {
    if (len == 0 || len > TOOL_NAME_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-'))
            return false;
    }
    return true;
}
