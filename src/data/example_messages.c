/* example_messages.c: flattening checked JSON messages into ChatMessage records. Strings are
 * appended to one buffer by offset and the pointers set once all are in (the buffer may move). */
#include "example_messages.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void example_messages_init(ExampleMessages *em) { memset(em, 0, sizeof *em); }

void example_messages_free(ExampleMessages *em) {
    free(em->msgs);
    free(em->trained);
    free(em->text);
    free(em->role_off);
    free(em->content_off);
    memset(em, 0, sizeof *em);
}

void example_messages_reset(ExampleMessages *em) {
    em->n = 0;
    em->text_len = 0;
}

void example_messages_truncate(ExampleMessages *em, int n) {
    if (n >= em->n) return;
    em->n = n;
    em->text_len = n > 0 ? em->content_off[n - 1] + strlen(em->text + em->content_off[n - 1]) + 1 : 0;
}

static int put(ExampleMessages *em, const char *s, size_t len) {
    if (em->text_len + len + 1 > em->text_cap) {
        size_t cap = em->text_cap ? em->text_cap : 256;
        while (cap < em->text_len + len + 1) cap *= 2;
        char *t = realloc(em->text, cap);
        if (!t) return -1;
        em->text = t;
        em->text_cap = cap;
    }
    memcpy(em->text + em->text_len, s, len);
    em->text_len += len;
    em->text[em->text_len] = 0;
    return 0;
}

static int put_str(ExampleMessages *em, const char *s) { return put(em, s, strlen(s)); }

/* Ends the current string: its NUL stays in the buffer. */
static int end_string(ExampleMessages *em) {
    if (put(em, "", 0)) return -1;
    em->text_len++;
    return 0;
}

static int put_node(ExampleMessages *em, const JDoc *d, uint32_t n) {
    size_t len;
    const char *s = jdoc_str(d, n, &len);
    return put(em, s, len);
}

static int grow(ExampleMessages *em) {
    if (em->n < em->cap) return 0;
    int cap = em->cap ? em->cap * 2 : 16;
    ChatMessage *m = realloc(em->msgs, (size_t)cap * sizeof *m);
    if (m) em->msgs = m;
    bool *t = realloc(em->trained, (size_t)cap * sizeof *t);
    if (t) em->trained = t;
    size_t *r = realloc(em->role_off, (size_t)cap * sizeof *r);
    if (r) em->role_off = r;
    size_t *c = realloc(em->content_off, (size_t)cap * sizeof *c);
    if (c) em->content_off = c;
    if (!m || !t || !r || !c) return -1;
    em->cap = cap;
    return 0;
}

/* {"name": NAME, "arguments": ARGS} for one called function. */
static int put_call(ExampleMessages *em, const JDoc *d, uint32_t fn, bool first_line) {
    uint32_t name = jdoc_get(d, fn, "name"), args = jdoc_get(d, fn, "arguments");
    if (!first_line && put_str(em, "\n")) return -1;
    if (put_str(em, "{\"name\": \"") || (name != JDOC_NONE && put_node(em, d, name)) ||
        put_str(em, "\", \"arguments\": ") || (args != JDOC_NONE && put_node(em, d, args)) || put_str(em, "}"))
        return -1;
    return 0;
}

static int add_message(ExampleMessages *em, const JDoc *d, uint32_t msg, ExampleTrain train) {
    if (grow(em)) return -1;
    uint32_t role = jdoc_get(d, msg, "role");
    bool assistant = jdoc_str_eq(d, role, "assistant");
    int i = em->n;
    em->role_off[i] = em->text_len;
    if ((jdoc_str_eq(d, role, "function") ? put_str(em, "tool") : put_node(em, d, role)) || end_string(em)) return -1;
    em->content_off[i] = em->text_len;
    if (put(em, "", 0)) return -1;
    bool has_text = false;
    uint32_t content = jdoc_get(d, msg, "content");
    if (content != JDOC_NONE && jdoc_type(d, content) == JDOC_STRING) {
        if (put_node(em, d, content)) return -1;
        has_text = d->nodes[content].len > 0;
    } else if (content != JDOC_NONE && jdoc_type(d, content) == JDOC_ARRAY) {
        for (uint32_t part = jdoc_first(d, content); part != JDOC_NONE; part = jdoc_next(d, part)) {
            uint32_t text = jdoc_get(d, part, "text");
            if (text != JDOC_NONE && jdoc_type(d, text) == JDOC_STRING) {
                if (put_node(em, d, text)) return -1;
                has_text |= d->nodes[text].len > 0;
            }
        }
    }
    if (assistant) {
        uint32_t calls = jdoc_get(d, msg, "tool_calls");
        if (calls != JDOC_NONE && jdoc_type(d, calls) == JDOC_ARRAY)
            for (uint32_t call = jdoc_first(d, calls); call != JDOC_NONE; call = jdoc_next(d, call)) {
                if (put_call(em, d, jdoc_get(d, call, "function"), !has_text)) return -1;
                has_text = true;
            }
        uint32_t fc = jdoc_get(d, msg, "function_call");
        if (fc != JDOC_NONE && jdoc_type(d, fc) == JDOC_OBJECT && put_call(em, d, fc, !has_text)) return -1;
    }
    if (end_string(em)) return -1;
    bool trained = false;
    if (assistant && train == EXAMPLE_TRAIN_ALL) trained = true;
    if (assistant && train == EXAMPLE_TRAIN_WEIGHT) {
        uint32_t w = jdoc_get(d, msg, "weight");
        trained = w == JDOC_NONE || jdoc_int(d, w) != 0;
    }
    em->trained[i] = trained;
    em->n++;
    return 0;
}

int example_messages_add_list(ExampleMessages *em, const JDoc *d, uint32_t list, ExampleTrain train, Err *err) {
    for (uint32_t m = jdoc_first(d, list); m != JDOC_NONE; m = jdoc_next(d, m))
        if (add_message(em, d, m, train)) return err_set(err, ERR_NOMEM, "out of memory");
    for (int i = 0; i < em->n; i++) {
        em->msgs[i].role = em->text + em->role_off[i];
        em->msgs[i].content = em->text + em->content_off[i];
    }
    return 0;
}

uint32_t example_dpo_output(const JDoc *d, bool rejected) {
    uint32_t v = jdoc_get(d, 0, rejected ? "non_preferred_output" : "preferred_output");
    return v != JDOC_NONE ? v : jdoc_get(d, 0, rejected ? "non_preferred_completion" : "preferred_completion");
}
