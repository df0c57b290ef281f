/* tool_calls.c: tool-call syntaxes and reading calls out of replies (see tool_calls.h). The calls'
 * JSON is read with Jansson; arguments are rewritten compactly by json_py.c so that numbers keep
 * the form the model wrote (Python's repr, not %.17g). */
#include "tool_calls.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "json_py.h"

const ToolSyntax tool_syntax_hermes = {"hermes", "<tool_call>\n", "\n</tool_call>", "\n", "</tool_call>", "name", "arguments",
                                       false, NULL};
const ToolSyntax tool_syntax_llama3_json = {"llama3-json", "", "", NULL, NULL, "name", "parameters", true, "<|python_tag|>"};

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* The marker without its surrounding whitespace (the model may lay it out differently). */
static void trimmed(const char *s, const char **b, size_t *n) {
    size_t l = strlen(s);
    while (l > 0 && is_ws(*s)) s++, l--;
    while (l > 0 && is_ws(s[l - 1])) l--;
    *b = s;
    *n = l;
}

static const char *find(const char *h, size_t hn, const char *needle, size_t nn) {
    if (nn == 0 || nn > hn) return NULL;
    for (size_t i = 0; i + nn <= hn; i++)
        if (h[i] == needle[0] && memcmp(h + i, needle, nn) == 0) return h + i;
    return NULL;
}

void tool_reply_free(ToolReply *r) {
    if (!r) return;
    for (int i = 0; i < r->n_calls; i++) {
        free(r->calls[i].name);
        free(r->calls[i].arguments);
    }
    free(r->calls);
    free(r->content);
    memset(r, 0, sizeof *r);
}

static size_t skip_ws(const char *t, size_t i, size_t len) {
    while (i < len && is_ws(t[i])) i++;
    return i;
}

/* One call's JSON at t[*i..len): fills c and moves *i past it. 1: not a call; -1: ERR_NOMEM. */
static int parse_call(const ToolSyntax *syn, const char *t, size_t len, size_t *i, ToolCall *c, Err *err) {
    json_error_t je;
    json_t *obj = json_loadb(t + *i, len - *i, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &je);
    if (!obj) return 1;
    *i += (size_t)je.position;
    json_t *name = json_object_get(obj, syn->name_key), *args = json_object_get(obj, syn->args_key);
    int rc = 1;
    if (json_object_size(obj) == 2 && json_is_string(name) && json_string_length(name) > 0 &&
        strlen(json_string_value(name)) == json_string_length(name) && (json_is_object(args) || json_is_string(args))) {
        /* arguments given as a JSON string must hold a JSON object too */
        json_t *obj_args = json_is_string(args) ? json_loadb(json_string_value(args), json_string_length(args), 0, &je)
                                                : json_incref(args);
        if (!json_is_object(obj_args)) {
            json_decref(obj_args);
            json_decref(obj);
            return 1;
        }
        c->name = strdup(json_string_value(name));
        char *text = json_dumps(obj_args, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(obj_args);
        if (text) {
            Err e = {0};
            if (json_py_dumps(text, strlen(text), true, &c->arguments, NULL, &e)) c->arguments = NULL;
            free(text);
        }
        rc = c->name && c->arguments ? 0 : (err_set(err, ERR_NOMEM, "out of memory reading a tool call"), -1);
    }
    json_decref(obj);
    return rc;
}

/* The calls after t[0..at): 0 when the rest is only calls, 1 when it is not, -1 ERR_NOMEM. */
static int parse_calls(const ToolSyntax *syn, const char *t, size_t len, size_t at, int max_calls, ToolReply *out,
                       Err *err) {
    const char *open, *close;
    size_t no, nc;
    trimmed(syn->open, &open, &no);
    trimmed(syn->close, &close, &nc);
    out->calls = calloc((size_t)max_calls, sizeof *out->calls);
    if (!out->calls) return err_set(err, ERR_NOMEM, "out of memory reading tool calls");
    size_t i = at;
    for (;;) {
        i = skip_ws(t, i, len);
        if (i == len) return out->n_calls > 0 ? 0 : 1;
        if (len - i < no || memcmp(t + i, open, no) != 0 || out->n_calls == max_calls) return 1;
        i = skip_ws(t, i + no, len);
        int rc = parse_call(syn, t, len, &i, &out->calls[out->n_calls], err);
        if (rc) return rc;
        out->n_calls++;
        i = skip_ws(t, i, len);
        if (i == len) return 0; /* the closing marker may be cut off by a stop */
        if (len - i < nc || memcmp(t + i, close, nc) != 0) return 1;
        i += nc;
    }
}

/* Where the call object of a bare-syntax reply starts (after whitespace and the optional lead). */
static size_t bare_start(const ToolSyntax *syn, const char *t, size_t len) {
    size_t i = skip_ws(t, 0, len), nl = syn->lead ? strlen(syn->lead) : 0;
    if (nl && len - i >= nl && memcmp(t + i, syn->lead, nl) == 0) i = skip_ws(t, i + nl, len);
    return i;
}

/* A bare-syntax reply: one call object and nothing else (*content_len 0), or text (left as it is).
 * -1: ERR_NOMEM. */
static int parse_bare(const ToolSyntax *syn, const char *text, size_t len, ToolReply *out, size_t *content_len,
                      Err *err) {
    size_t i = bare_start(syn, text, len);
    if (i == len || text[i] != '{') return 0;
    out->calls = calloc(1, sizeof *out->calls);
    if (!out->calls) return err_set(err, ERR_NOMEM, "out of memory reading tool calls");
    int rc = parse_call(syn, text, len, &i, &out->calls[0], err);
    if (rc < 0) return -1;
    out->n_calls = rc == 0 ? 1 : 0; /* (tool_reply_free frees the call when it is not kept) */
    if (rc == 0 && skip_ws(text, i, len) == len) *content_len = 0;
    else tool_reply_free(out);
    return 0;
}

/* The calls of a marked-syntax reply and the text before the first (*content_len); -1: ERR_NOMEM. */
static int parse_marked(const ToolSyntax *syn, const char *text, size_t len, int max_calls, ToolReply *out,
                        size_t *content_len, Err *err) {
    if (max_calls < 1) max_calls = 1;
    if (max_calls > TOOL_CALLS_MAX) max_calls = TOOL_CALLS_MAX;
    const char *open;
    size_t no;
    trimmed(syn->open, &open, &no);
    const char *first = find(text, len, open, no);
    if (!first) return 0;
    int rc = parse_calls(syn, text, len, (size_t)(first - text), max_calls, out, err);
    if (rc < 0) return -1;
    if (rc == 0) {
        *content_len = (size_t)(first - text);
        while (*content_len > 0 && is_ws(text[*content_len - 1])) (*content_len)--;
    } else { /* not calls after all: the reply is text */
        tool_reply_free(out);
    }
    return 0;
}

int tool_reply_parse(const ToolSyntax *syn, const char *text, size_t len, int max_calls, ToolReply *out, Err *err) {
    memset(out, 0, sizeof *out);
    size_t content_len = len;
    if (syn->bare ? parse_bare(syn, text, len, out, &content_len, err)
                  : parse_marked(syn, text, len, max_calls, out, &content_len, err))
        return -1;
    out->content = malloc(content_len + 1);
    if (!out->content) return err_set(err, ERR_NOMEM, "out of memory reading a reply");
    memcpy(out->content, text, content_len);
    out->content[content_len] = 0;
    out->content_len = content_len;
    return 0;
}

size_t tool_text_safe_len(const ToolSyntax *syn, const char *text, size_t len) {
    if (syn->bare) { /* a call is the whole reply: nothing is sure until the reply is not one */
        size_t i = bare_start(syn, text, len), nl = syn->lead ? strlen(syn->lead) : 0;
        if (i == len || text[i] == '{') return 0;
        if (nl && len - i < nl && memcmp(text + i, syn->lead, len - i) == 0) return 0;
        return len;
    }
    const char *open;
    size_t no;
    trimmed(syn->open, &open, &no);
    const char *first = find(text, len, open, no);
    size_t end = first ? (size_t)(first - text) : len;
    if (!first) /* hold back a suffix that may be the start of the marker */
        for (size_t k = no - 1 < end ? no - 1 : end; k > 0; k--)
            if (memcmp(text + end - k, open, k) == 0) {
                end -= k;
                break;
            }
    while (end > 0 && is_ws(text[end - 1])) end--;
    return end;
}
