/* chat_template_render.c: renders chat messages with a recognised ChatTemplate, one renderer per
 * family (ChatML, Qwen2.5, Llama 3, Llama 3.1+, Llama 2, Mistral, plain) writing exactly what the reference
 * templates write, byte for byte (tests/golden/chat_template holds jinja2's renderings). Roles
 * are parsed and checked against what the template can express before anything is written;
 * rendering runs twice over the messages, first to size the output, then to fill it. Tool
 * definitions and call arguments are serialised once, before (json_py.c: the templates' tojson).
 * It does not lex or recognise templates (chat_template_match.c) and does not tokenize the result. */
#include "chat_template_internal.h"
#include "json_py.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ChatML system turn around the default system message. */
static const char CHATML_SYS_PREFIX[] = "<|im_start|>system\n";
static const char CHATML_SYS_SUFFIX[] = "<|im_end|>\n";

typedef enum { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT, ROLE_TOOL } Role;
static const char *const ROLE_NAMES[] = {"system", "user", "assistant", "tool"};

typedef struct {
    char *buf;  /* NULL while measuring */
    size_t len;
    bool overflow;
} Out;

static void out_put(Out *o, const char *s, size_t n) {
    if (o->overflow) return;
    if (n > CHAT_TEMPLATE_OUTPUT_MAX - o->len) {
        o->overflow = true;
        return;
    }
    if (o->buf) memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void out_str(Out *o, const char *s) { out_put(o, s, strlen(s)); }

/* Python's str.isspace() code points (what str.strip() and Jinja's trim remove). */
static bool py_isspace(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Decodes the UTF-8 sequence at s[0..n); returns its length, or 0 when it is not valid. */
static size_t utf8_get(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    unsigned c = s[0];
    size_t len;
    uint32_t v;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_cp[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0; /* overlong */
    *cp = v;
    return len;
}

/* Length of the whitespace prefix / suffix of s[0..n) in Python's sense. Invalid UTF-8 is not
 * whitespace. */
static size_t ws_prefix(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = utf8_get((const unsigned char *)s + i, n - i, &cp);
        if (l == 0 || !py_isspace(cp)) break;
        i += l;
    }
    return i;
}

static size_t ws_suffix(const char *s, size_t n) {
    size_t e = n;
    while (e > 0) {
        size_t b = e - 1;
        while (b > 0 && e - b < 4 && ((unsigned char)s[b] & 0xC0) == 0x80) b--;
        uint32_t cp;
        size_t l = utf8_get((const unsigned char *)s + b, e - b, &cp);
        if (l != e - b || !py_isspace(cp)) break;
        e = b;
    }
    return n - e;
}

#define STRIP_PARTS_MAX 4 /* Llama 2's first turn: "<<SYS>>\n", system, "\n<</SYS>>\n\n", user */

/* Writes the concatenation of parts (at most STRIP_PARTS_MAX) with Python str.strip() applied to
 * the whole. */
static void out_stripped(Out *o, const char *const *parts, int n_parts) {
    size_t lens[STRIP_PARTS_MAX], from[STRIP_PARTS_MAX], to[STRIP_PARTS_MAX];
    for (int i = 0; i < n_parts; i++) {
        lens[i] = strlen(parts[i]);
        from[i] = 0;
        to[i] = lens[i];
    }
    for (int i = 0; i < n_parts; i++) { /* strip the left across parts */
        from[i] = ws_prefix(parts[i], lens[i]);
        if (from[i] < lens[i]) break;
    }
    for (int i = n_parts - 1; i >= 0; i--) { /* and the right */
        size_t w = ws_suffix(parts[i] + from[i], lens[i] - from[i]);
        to[i] = lens[i] - w;
        if (to[i] > from[i]) break;
    }
    for (int i = 0; i < n_parts; i++)
        if (to[i] > from[i]) out_put(o, parts[i] + from[i], to[i] - from[i]);
}

typedef struct {
    const ChatTemplate *ct;
    const ChatMessage *msgs;
    const Role *roles;
    int n;
    bool gen;
    char **tools;     /* (n_tools) each tool's tojson text */
    int n_tools;
    char **args;      /* every tool call's arguments as tojson writes them, message after message */
    char **quoted;    /* (n) Llama 3.1+: each tool message's content as a JSON string; NULL otherwise */
} RenderJob;

static bool is_llama31(const ChatTemplate *ct) { return ct->variant == VARIANT_LLAMA31 || ct->variant == VARIANT_LLAMA32; }

/* Qwen2.5's tools block, around the system message (the template's own strings). */
static const char QWEN25_TOOLS_HEAD[] =
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with "
    "function signatures within <tools></tools> XML tags:\n<tools>";
static const char QWEN25_TOOLS_TAIL[] =
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
    "<args-json-object>}\n</tool_call><|im_end|>\n";

static void render_chatml(const RenderJob *j, Out *o) {
    const ChatTemplate *ct = j->ct;
    if (ct->default_system && j->roles[0] != ROLE_SYSTEM) {
        out_str(o, CHATML_SYS_PREFIX);
        out_str(o, ct->default_system);
        out_str(o, CHATML_SYS_SUFFIX);
    }
    for (int i = 0; i < j->n; i++) {
        out_str(o, "<|im_start|>");
        out_str(o, ROLE_NAMES[j->roles[i]]);
        out_str(o, "\n");
        out_str(o, j->msgs[i].content);
        out_str(o, "<|im_end|>\n");
    }
    if (j->gen) out_str(o, "<|im_start|>assistant\n");
}

/* Qwen2.5: the system turn always comes first (the template's default when the conversation has
 * none); consecutive tool messages share one user turn of <tool_response> blocks. */
static void render_qwen25(const RenderJob *j, Out *o) {
    out_str(o, CHATML_SYS_PREFIX);
    out_str(o, j->roles[0] == ROLE_SYSTEM ? j->msgs[0].content : j->ct->default_system);
    if (j->n_tools > 0) {
        out_str(o, QWEN25_TOOLS_HEAD);
        for (int t = 0; t < j->n_tools; t++) {
            out_str(o, "\n");
            out_str(o, j->tools[t]);
        }
        out_str(o, QWEN25_TOOLS_TAIL);
    } else {
        out_str(o, CHATML_SYS_SUFFIX);
    }
    int arg = 0;
    for (int i = 0; i < j->n; i++) {
        Role r = j->roles[i];
        if (r == ROLE_SYSTEM && i == 0) continue;
        if (r == ROLE_ASSISTANT && j->msgs[i].n_tool_calls > 0) {
            out_str(o, "<|im_start|>assistant");
            if (j->msgs[i].content[0]) {
                out_str(o, "\n");
                out_str(o, j->msgs[i].content);
            }
            for (int k = 0; k < j->msgs[i].n_tool_calls; k++) {
                out_str(o, "\n<tool_call>\n{\"name\": \"");
                out_str(o, j->msgs[i].tool_calls[k].name);
                out_str(o, "\", \"arguments\": ");
                out_str(o, j->args[arg++]);
                out_str(o, "}\n</tool_call>");
            }
            out_str(o, "<|im_end|>\n");
            continue;
        }
        if (r == ROLE_TOOL) {
            if (i == 0 || j->roles[i - 1] != ROLE_TOOL) out_str(o, "<|im_start|>user");
            out_str(o, "\n<tool_response>\n");
            out_str(o, j->msgs[i].content);
            out_str(o, "\n</tool_response>");
            if (i == j->n - 1 || j->roles[i + 1] != ROLE_TOOL) out_str(o, "<|im_end|>\n");
            continue;
        }
        out_str(o, "<|im_start|>");
        out_str(o, ROLE_NAMES[r]);
        out_str(o, "\n");
        out_str(o, j->msgs[i].content);
        out_str(o, "<|im_end|>\n");
    }
    if (j->gen) out_str(o, "<|im_start|>assistant\n");
}

static void render_llama3(const RenderJob *j, Out *o) {
    for (int i = 0; i < j->n; i++) {
        if (i == 0) out_str(o, j->ct->bos);
        out_str(o, "<|start_header_id|>");
        out_str(o, ROLE_NAMES[j->roles[i]]);
        out_str(o, "<|end_header_id|>\n\n");
        const char *parts[1] = {j->msgs[i].content};
        out_stripped(o, parts, 1);
        out_str(o, "<|eot_id|>");
    }
    if (j->gen || j->ct->variant == VARIANT_LLAMA3_ALWAYS_GEN)
        out_str(o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* Llama 3.1+'s header and tools turn, the template's own strings. */
static const char LLAMA31_DATE[] = "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";
static const char LLAMA31_TOOLS_HEAD[] =
    "Given the following functions, please respond with a JSON for a function call with its proper arguments "
    "that best answers the given prompt.\n\nRespond in the format {\"name\": function name, \"parameters\": "
    "dictionary of argument name and its value}.Do not use variables.\n\n";

static void llama3_header(Out *o, const char *role) {
    out_str(o, "<|start_header_id|>");
    out_str(o, role);
    out_str(o, "<|end_header_id|>\n\n");
}

static void out_trimmed(Out *o, const char *s) {
    const char *parts[1] = {s};
    out_stripped(o, parts, 1);
}

/* Llama 3.1 / 3.2 / 3.3: a system turn always (the date header, the system message trimmed), the
 * tools in the first user turn, a call as {"name": ..., "parameters": ...}, tool results as
 * ipython turns. */
static void render_llama31(const RenderJob *j, Out *o) {
    int i = 0;
    out_str(o, j->ct->bos);
    llama3_header(o, "system");
    if (j->n_tools > 0) out_str(o, "Environment: ipython\n");
    out_str(o, LLAMA31_DATE);
    if (j->roles[0] == ROLE_SYSTEM) out_trimmed(o, j->msgs[i++].content);
    out_str(o, "<|eot_id|>");
    if (j->n_tools > 0) { /* validate() made sure message i is a user message */
        llama3_header(o, "user");
        out_str(o, LLAMA31_TOOLS_HEAD);
        for (int t = 0; t < j->n_tools; t++) {
            out_str(o, j->tools[t]);
            out_str(o, "\n\n");
        }
        out_trimmed(o, j->msgs[i++].content);
        out_str(o, "<|eot_id|>");
    }
    int arg = 0;
    for (int k = 0; k < i; k++) arg += j->msgs[k].n_tool_calls;
    for (; i < j->n; i++) {
        const ChatMessage *m = &j->msgs[i];
        if (m->n_tool_calls > 0) {
            llama3_header(o, "assistant");
            out_str(o, "{\"name\": \"");
            out_str(o, m->tool_calls[0].name);
            out_str(o, "\", \"parameters\": ");
            out_str(o, j->args[arg++]);
            out_str(o, "}<|eot_id|>");
        } else if (j->roles[i] == ROLE_TOOL) {
            llama3_header(o, "ipython");
            out_str(o, j->quoted[i]);
            out_str(o, "<|eot_id|>");
        } else {
            llama3_header(o, ROLE_NAMES[j->roles[i]]);
            out_trimmed(o, m->content);
            out_str(o, "<|eot_id|>");
        }
    }
    if (j->gen) llama3_header(o, "assistant");
}

/* Llama 2 and Mistral: after an optional leading system message (Llama 2, Mistral v0.2), roles
 * must alternate user/assistant starting with user, as the templates' raise_exception enforces. */
static int check_alternation(const RenderJob *j, int start, const char *name, Err *err) {
    for (int i = start; i < j->n; i++) {
        Role r = j->roles[i];
        bool even = (i - start) % 2 == 0;
        if ((r == ROLE_USER) != even)
            return err_set(err, ERR_ARG,
                           "message %d: role '%s' out of order; the %s template needs roles to "
                           "alternate user/assistant/user/... %s",
                           i, j->msgs[i].role, name,
                           start ? "after the leading system message" : "from the first message");
        if (r != ROLE_USER && r != ROLE_ASSISTANT)
            return err_set(err, ERR_ARG, "message %d: role '%s' is not supported by the %s template "
                           "(only a leading system message, then user/assistant turns)",
                           i, j->msgs[i].role, name);
    }
    return 0;
}

static void render_llama2(const RenderJob *j, Out *o) {
    const ChatTemplate *ct = j->ct;
    int start = j->roles[0] == ROLE_SYSTEM ? 1 : 0;
    for (int i = start; i < j->n; i++) {
        const char *content = j->msgs[i].content;
        const char *parts[STRIP_PARTS_MAX] = {content, NULL, NULL, NULL};
        int n_parts = 1;
        if (i == start && start == 1) {
            parts[0] = "<<SYS>>\n";
            parts[1] = j->msgs[0].content;
            parts[2] = "\n<</SYS>>\n\n";
            parts[3] = content;
            n_parts = 4;
        }
        if (j->roles[i] == ROLE_USER) {
            out_str(o, ct->bos);
            out_str(o, "[INST] ");
            out_stripped(o, parts, n_parts);
            out_str(o, " [/INST]");
        } else {
            out_str(o, " ");
            out_stripped(o, parts, n_parts);
            out_str(o, " ");
            out_str(o, ct->eos);
        }
    }
}

static void render_mistral(const RenderJob *j, Out *o) {
    const ChatTemplate *ct = j->ct;
    bool v02 = ct->variant == VARIANT_MISTRAL_V02;
    int start = v02 && j->roles[0] == ROLE_SYSTEM ? 1 : 0;
    out_str(o, ct->bos);
    for (int i = start; i < j->n; i++) {
        const char *content = j->msgs[i].content;
        if (j->roles[i] == ROLE_USER) {
            out_str(o, v02 ? " [INST] " : "[INST] ");
            if (i == start && start == 1) {
                out_str(o, j->msgs[0].content);
                out_str(o, "\n\n");
            }
            out_str(o, content);
            out_str(o, " [/INST]");
        } else if (v02) {
            out_str(o, " ");
            out_str(o, content);
            out_str(o, ct->eos);
        } else {
            out_str(o, content);
            out_str(o, ct->eos);
            if (ct->variant == VARIANT_MISTRAL_V01) out_str(o, " ");
        }
    }
}

static void render_plain(const RenderJob *j, Out *o) {
    out_str(o, j->ct->bos);
    for (int i = 0; i < j->n; i++) {
        out_str(o, ROLE_NAMES[j->roles[i]]);
        out_str(o, ": ");
        out_str(o, j->msgs[i].content);
        out_str(o, "\n");
    }
    if (j->gen) out_str(o, "assistant:");
}

static void render_into(const RenderJob *j, Out *o) {
    switch (j->ct->kind) {
    case CHAT_TEMPLATE_CHATML:
        if (j->ct->variant == VARIANT_QWEN25) render_qwen25(j, o);
        else render_chatml(j, o);
        break;
    case CHAT_TEMPLATE_LLAMA3:
        if (is_llama31(j->ct)) render_llama31(j, o);
        else render_llama3(j, o);
        break;
    case CHAT_TEMPLATE_LLAMA2: render_llama2(j, o); break;
    case CHAT_TEMPLATE_MISTRAL: render_mistral(j, o); break;
    case CHAT_TEMPLATE_PLAIN: render_plain(j, o); break;
    }
}

static int role_parse(const char *s, Role *r) {
    if (strcmp(s, "system") == 0 || strcmp(s, "developer") == 0) *r = ROLE_SYSTEM;
    else if (strcmp(s, "user") == 0) *r = ROLE_USER;
    else if (strcmp(s, "assistant") == 0) *r = ROLE_ASSISTANT;
    else if (strcmp(s, "tool") == 0) *r = ROLE_TOOL;
    else return -1;
    return 0;
}

/* Llama 3.1+: what its template raises for, drops or splices (see chat_template.h). */
static int validate_llama31(const RenderJob *j, Err *err) {
    const char *name = j->ct->variant_name;
    for (int i = 0; i < j->n; i++) {
        if (j->msgs[i].n_tool_calls > 1)
            return err_set(err, ERR_ARG, "message %d: %d tool calls; the %s template renders one call per assistant "
                           "message", i, j->msgs[i].n_tool_calls, name);
        if (j->msgs[i].n_tool_calls == 1 && j->msgs[i].content[0])
            return err_set(err, ERR_ARG, "message %d: an assistant message with a tool call has content too, which the "
                           "%s template would drop", i, name);
    }
    if (j->n_tools > 0) {
        int first = j->roles[0] == ROLE_SYSTEM ? 1 : 0;
        if (first >= j->n || j->roles[first] != ROLE_USER || j->msgs[first].n_tool_calls)
            return err_set(err, ERR_ARG, "message %d: the %s template puts the tools into the first user message, "
                           "and this is %s", first, name, first >= j->n ? "missing" : "not a user message");
    }
    return 0;
}

/* Checks what the template cannot express, before anything is written. */
static int validate(const RenderJob *j, Err *err) {
    const ChatTemplate *ct = j->ct;
    bool tools_ok = ct->kind == CHAT_TEMPLATE_CHATML || ct->kind == CHAT_TEMPLATE_PLAIN || is_llama31(ct);
    bool renders_tools = chat_template_tool_syntax(ct) != NULL;
    if (j->n_tools > 0 && !renders_tools)
        return err_set(err, ERR_UNSUPPORTED, "tools are not supported by the %s chat template: it renders no "
                       "tool definitions", ct->variant_name);
    for (int i = 0; i < j->n; i++) {
        if (j->roles[i] == ROLE_TOOL && !tools_ok)
            return err_set(err, ERR_ARG, "message %d: role 'tool' is not supported by the %s template",
                           i, ct->variant_name);
        if (j->msgs[i].n_tool_calls > 0 && j->roles[i] != ROLE_ASSISTANT)
            return err_set(err, ERR_ARG, "message %d: only assistant messages carry tool calls", i);
        if (j->msgs[i].n_tool_calls > 0 && !renders_tools)
            return err_set(err, ERR_UNSUPPORTED, "message %d: tool calls are not supported by the %s chat "
                           "template: it renders none", i, ct->variant_name);
        for (int k = 0; k < j->msgs[i].n_tool_calls; k++)
            if (!j->msgs[i].tool_calls || !j->msgs[i].tool_calls[k].name || !j->msgs[i].tool_calls[k].arguments)
                return err_set(err, ERR_ARG, "message %d: tool call %d has no name or arguments", i, k);
    }
    if (is_llama31(ct)) return validate_llama31(j, err);
    if (ct->kind == CHAT_TEMPLATE_LLAMA2)
        return check_alternation(j, j->roles[0] == ROLE_SYSTEM ? 1 : 0, ct->variant_name, err);
    if (ct->kind == CHAT_TEMPLATE_MISTRAL) {
        int start = ct->variant == VARIANT_MISTRAL_V02 && j->roles[0] == ROLE_SYSTEM ? 1 : 0;
        return check_alternation(j, start, ct->variant_name, err);
    }
    return 0;
}

static void free_texts(char **t, int n) {
    for (int i = 0; t && i < n; i++) free(t[i]);
    free(t);
}

/* Serialises the tools and every call's arguments as the template's tojson writes them. */
static int serialise(RenderJob *j, const char *const *tools, int *n_args, Err *err) {
    *n_args = 0;
    for (int i = 0; i < j->n; i++) *n_args += j->msgs[i].n_tool_calls;
    j->tools = j->n_tools ? calloc((size_t)j->n_tools, sizeof *j->tools) : NULL;
    j->args = *n_args ? calloc((size_t)*n_args, sizeof *j->args) : NULL;
    if ((j->n_tools && !j->tools) || (*n_args && !j->args)) return err_set(err, ERR_NOMEM, "chat template: out of memory");
    bool llama31 = is_llama31(j->ct);
    for (int t = 0; t < j->n_tools; t++) {
        Err e = {0};
        if (!tools[t] || (llama31 ? json_py_dumps_indent(tools[t], strlen(tools[t]), 4, &j->tools[t], NULL, &e)
                                  : json_py_dumps(tools[t], strlen(tools[t]), false, &j->tools[t], NULL, &e)))
            return e.code == ERR_NOMEM ? err_set(err, ERR_NOMEM, "chat template: out of memory")
                                       : err_set(err, ERR_ARG, "tool %d: %s", t, tools[t] ? e.msg : "NULL");
    }
    int a = 0;
    for (int i = 0; i < j->n; i++)
        for (int k = 0; k < j->msgs[i].n_tool_calls; k++, a++) {
            const char *s = j->msgs[i].tool_calls[k].arguments;
            Err e = {0};
            if (json_py_dumps(s, strlen(s), false, &j->args[a], NULL, &e) &&
                (e.code == ERR_NOMEM || json_py_dumps_string(s, strlen(s), &j->args[a], NULL, &e)))
                return err_set(err, ERR_NOMEM, "chat template: out of memory");
        }
    if (llama31) { /* a tool message's content goes through tojson: a JSON string */
        if (!(j->quoted = calloc((size_t)j->n, sizeof *j->quoted))) return err_set(err, ERR_NOMEM, "chat template: out of memory");
        for (int i = 0; i < j->n; i++)
            if (j->roles[i] == ROLE_TOOL) {
                Err e = {0};
                const char *c = j->msgs[i].content;
                if (json_py_dumps_string(c, strlen(c), &j->quoted[i], NULL, &e))
                    return err_set(err, ERR_NOMEM, "chat template: out of memory");
            }
    }
    return 0;
}

int chat_template_render(const ChatTemplate *ct, const ChatMessage *msgs, int n_msgs,
                         bool add_generation_prompt, char **out, size_t *len, Err *err) {
    return chat_template_render_tools(ct, msgs, n_msgs, NULL, 0, add_generation_prompt, out, len, err);
}

int chat_template_render_tools(const ChatTemplate *ct, const ChatMessage *msgs, int n_msgs,
                               const char *const *tools, int n_tools, bool add_generation_prompt, char **out,
                               size_t *len, Err *err) {
    if (out) *out = NULL;
    if (len) *len = 0;
    if (!ct || !out) return err_set(err, ERR_ARG, "chat_template_render: NULL template or output");
    if (n_msgs <= 0 || !msgs) return err_set(err, ERR_ARG, "chat template: no messages to render");
    if (n_tools < 0 || (n_tools > 0 && !tools)) return err_set(err, ERR_ARG, "chat template: bad tool list");
    if (n_msgs > CHAT_TEMPLATE_MESSAGES_MAX)
        return err_set(err, ERR_ARG, "chat template: %d messages, more than %d", n_msgs, CHAT_TEMPLATE_MESSAGES_MAX);
    Role *roles = malloc(sizeof(Role) * (size_t)n_msgs);
    if (!roles) return err_set(err, ERR_NOMEM, "chat template: out of memory");
    for (int i = 0; i < n_msgs; i++) {
        if (!msgs[i].role || !msgs[i].content) {
            free(roles);
            return err_set(err, ERR_ARG, "message %d: role or content is NULL", i);
        }
        if (role_parse(msgs[i].role, &roles[i])) {
            err_set(err, ERR_ARG, "message %d: unknown role '%.40s' (expected system, developer, "
                    "user, assistant or tool)", i, msgs[i].role);
            free(roles);
            return -1;
        }
    }
    RenderJob job = {ct, msgs, roles, n_msgs, add_generation_prompt, NULL, n_tools, NULL, NULL};
    int n_args = 0, rc = -1;
    Out o = {NULL, 0, false};
    if (validate(&job, err) || serialise(&job, tools, &n_args, err)) goto done;
    render_into(&job, &o); /* measure */
    if (o.overflow) {
        err_set(err, ERR_ARG, "chat template: rendered prompt longer than %zu bytes", CHAT_TEMPLATE_OUTPUT_MAX);
        goto done;
    }
    size_t need = o.len;
    o.buf = malloc(need + 1);
    if (!o.buf) {
        err_set(err, ERR_NOMEM, "chat template: out of memory for a %zu-byte prompt", need);
        goto done;
    }
    o.len = 0;
    render_into(&job, &o); /* fill */
    o.buf[need] = 0;
    *out = o.buf;
    if (len) *len = need;
    rc = 0;
done:
    free_texts(job.tools, n_tools);
    free_texts(job.args, n_args);
    free_texts(job.quoted, job.quoted ? n_msgs : 0);
    free(roles);
    return rc;
}
