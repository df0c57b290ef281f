/* example_messages.c: flattening checked JSON messages and tools into ChatMessage records. Strings
 * are appended to one buffer by offset and the pointers set once all are in (the buffer may move). */
#include "example_messages.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void example_messages_init(ExampleMessages *em) { memset(em, 0, sizeof *em); }

void example_messages_free(ExampleMessages *em) {
    free(em->msgs);
    free(em->legacy);
    free(em->trained);
    free(em->tools);
    free(em->calls);
    free(em->text);
    free(em->role_off);
    free(em->content_off);
    free(em->legacy_off);
    free(em->end_off);
    free(em->call_first);
    free(em->n_msg_calls);
    free(em->call_name_off);
    free(em->call_args_off);
    free(em->tool_off);
    memset(em, 0, sizeof *em);
}

void example_messages_reset(ExampleMessages *em) {
    em->n = 0;
    em->n_tools = 0;
    em->n_calls = 0;
    em->text_len = 0;
    em->tools_end = 0;
}

void example_messages_truncate(ExampleMessages *em, int n) {
    if (n >= em->n) return;
    em->n = n;
    em->text_len = n > 0 ? em->end_off[n - 1] : em->tools_end;
    em->n_calls = n > 0 ? em->call_first[n - 1] + em->n_msg_calls[n - 1] : 0;
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

/* Grows the arrays *p (of elem bytes each) to cap entries. */
static int grow_array(void *p, int cap, size_t elem) {
    void *n = realloc(*(void **)p, (size_t)cap * elem);
    if (!n) return -1;
    *(void **)p = n;
    return 0;
}

static int grow(ExampleMessages *em) {
    if (em->n < em->cap) return 0;
    int cap = em->cap ? em->cap * 2 : 16;
    if (grow_array(&em->msgs, cap, sizeof *em->msgs) || grow_array(&em->legacy, cap, sizeof *em->legacy) ||
        grow_array(&em->trained, cap, sizeof *em->trained) || grow_array(&em->role_off, cap, sizeof *em->role_off) ||
        grow_array(&em->content_off, cap, sizeof *em->content_off) ||
        grow_array(&em->legacy_off, cap, sizeof *em->legacy_off) || grow_array(&em->end_off, cap, sizeof *em->end_off) ||
        grow_array(&em->call_first, cap, sizeof *em->call_first) ||
        grow_array(&em->n_msg_calls, cap, sizeof *em->n_msg_calls))
        return -1;
    em->cap = cap;
    return 0;
}

static int grow_calls(ExampleMessages *em) {
    if (em->n_calls < em->cap_calls) return 0;
    int cap = em->cap_calls ? em->cap_calls * 2 : 8;
    if (grow_array(&em->calls, cap, sizeof *em->calls) || grow_array(&em->call_name_off, cap, sizeof(size_t)) ||
        grow_array(&em->call_args_off, cap, sizeof(size_t)))
        return -1;
    em->cap_calls = cap;
    return 0;
}

/* Records one called function (name and arguments string) as a call. */
static int add_call(ExampleMessages *em, const JDoc *d, uint32_t fn) {
    uint32_t name = jdoc_get(d, fn, "name"), args = jdoc_get(d, fn, "arguments");
    if (grow_calls(em)) return -1;
    em->call_name_off[em->n_calls] = em->text_len;
    if ((name != JDOC_NONE && put_node(em, d, name)) || end_string(em)) return -1;
    em->call_args_off[em->n_calls] = em->text_len;
    if ((args != JDOC_NONE && put_node(em, d, args)) || end_string(em)) return -1;
    em->n_calls++;
    return 0;
}

/* {"name": NAME, "arguments": ARGS} for one call, after the text (templates without tools). */
static int put_legacy_call(ExampleMessages *em, int k, bool first_line) {
    if (!first_line && put_str(em, "\n")) return -1;
    /* the strings are copied through a temporary: put() may move em->text */
    size_t nl = strlen(em->text + em->call_name_off[k]), al = strlen(em->text + em->call_args_off[k]);
    char *tmp = malloc(nl + al + 2);
    if (!tmp) return -1;
    memcpy(tmp, em->text + em->call_name_off[k], nl + 1);
    memcpy(tmp + nl + 1, em->text + em->call_args_off[k], al + 1);
    int rc = put_str(em, "{\"name\": \"") || put(em, tmp, nl) || put_str(em, "\", \"arguments\": ") ||
             put(em, tmp + nl + 1, al) || put_str(em, "}");
    free(tmp);
    return rc;
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
    size_t content_len = em->text_len - em->content_off[i];
    if (end_string(em)) return -1;
    em->call_first[i] = em->n_calls;
    if (assistant) {
        uint32_t calls = jdoc_get(d, msg, "tool_calls");
        if (calls != JDOC_NONE && jdoc_type(d, calls) == JDOC_ARRAY)
            for (uint32_t call = jdoc_first(d, calls); call != JDOC_NONE; call = jdoc_next(d, call))
                if (add_call(em, d, jdoc_get(d, call, "function"))) return -1;
        uint32_t fc = jdoc_get(d, msg, "function_call");
        if (fc != JDOC_NONE && jdoc_type(d, fc) == JDOC_OBJECT && add_call(em, d, fc)) return -1;
    }
    em->n_msg_calls[i] = em->n_calls - em->call_first[i];
    /* the legacy text: the content, then one line per call */
    em->legacy_off[i] = em->text_len;
    char *copy = malloc(content_len + 1);
    if (!copy) return -1;
    memcpy(copy, em->text + em->content_off[i], content_len);
    int rc = put(em, copy, content_len);
    free(copy);
    if (rc) return -1;
    for (int k = em->call_first[i]; k < em->n_calls; k++) {
        if (put_legacy_call(em, k, !has_text)) return -1;
        has_text = true;
    }
    if (end_string(em)) return -1;
    em->end_off[i] = em->text_len;
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

/* Sets every pointer into the text (after it may have moved). */
static void set_pointers(ExampleMessages *em) {
    for (int k = 0; k < em->n_calls; k++)
        em->calls[k] = (ChatToolCall){em->text + em->call_name_off[k], em->text + em->call_args_off[k]};
    for (int i = 0; i < em->n; i++) {
        const char *role = em->text + em->role_off[i];
        int nc = em->n_msg_calls[i];
        em->msgs[i] = (ChatMessage){role, em->text + em->content_off[i], nc ? em->calls + em->call_first[i] : NULL, nc};
        em->legacy[i] = (ChatMessage){.role = role, .content = em->text + em->legacy_off[i]};
    }
    for (int t = 0; t < em->n_tools; t++) em->tools[t] = em->text + em->tool_off[t];
}

/* One tool's JSON text: the node itself, or a legacy function wrapped as a tool. */
static int add_tool(ExampleMessages *em, const JDoc *d, uint32_t node, bool legacy) {
    if (em->n_tools == em->cap_tools) {
        int cap = em->cap_tools ? em->cap_tools * 2 : 8;
        if (grow_array(&em->tools, cap, sizeof *em->tools) || grow_array(&em->tool_off, cap, sizeof *em->tool_off))
            return -1;
        em->cap_tools = cap;
    }
    size_t len;
    const char *raw = jdoc_raw(d, node, &len);
    em->tool_off[em->n_tools] = em->text_len;
    if ((legacy && put_str(em, "{\"type\": \"function\", \"function\": ")) || put(em, raw, len) ||
        (legacy && put_str(em, "}")) || end_string(em))
        return -1;
    em->n_tools++;
    return 0;
}

int example_messages_add_tools(ExampleMessages *em, const JDoc *d, uint32_t obj, Err *err) {
    const char *const keys[2] = {"tools", "functions"};
    for (int k = 0; k < 2; k++) {
        uint32_t list = obj != JDOC_NONE ? jdoc_get(d, obj, keys[k]) : JDOC_NONE;
        if (list == JDOC_NONE || jdoc_type(d, list) != JDOC_ARRAY) continue;
        for (uint32_t t = jdoc_first(d, list); t != JDOC_NONE; t = jdoc_next(d, t))
            if (add_tool(em, d, t, k == 1)) return err_set(err, ERR_NOMEM, "out of memory");
    }
    em->tools_end = em->text_len;
    set_pointers(em);
    return 0;
}

int example_messages_add_list(ExampleMessages *em, const JDoc *d, uint32_t list, ExampleTrain train, Err *err) {
    for (uint32_t m = jdoc_first(d, list); m != JDOC_NONE; m = jdoc_next(d, m))
        if (add_message(em, d, m, train)) return err_set(err, ERR_NOMEM, "out of memory");
    set_pointers(em);
    return 0;
}

uint32_t example_dpo_output(const JDoc *d, bool rejected) {
    uint32_t v = jdoc_get(d, 0, rejected ? "non_preferred_output" : "preferred_output");
    return v != JDOC_NONE ? v : jdoc_get(d, 0, rejected ? "non_preferred_completion" : "preferred_completion");
}
