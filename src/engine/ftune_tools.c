/* ftune_tools.c: tool calling in the public API (ftune.h): a model's tool-call syntax, the grammar
 * of required calls and reading calls out of replies. The syntax and parsing are
 * text/tool_calls.c's, the grammar model/tool_grammar.c's, the prompt rendering
 * text/chat_template_render.c's (through ft_chat_prompt_tools in ftune_generate.c). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../model/tool_grammar.h"
#include "../text/chat_template.h"
#include "ftune_internal.h"

/* FtToolSyntax is ToolSyntax behind an opaque name; FtToolReply mirrors ToolReply. */
_Static_assert(sizeof(FtToolReply) == sizeof(ToolReply), "FtToolReply mirrors ToolReply");
_Static_assert(offsetof(FtToolReply, calls) == offsetof(ToolReply, calls), "FtToolReply mirrors ToolReply");
_Static_assert(offsetof(FtToolReply, n_calls) == offsetof(ToolReply, n_calls), "FtToolReply mirrors ToolReply");
_Static_assert(sizeof(FtParsedToolCall) == sizeof(ToolCall), "FtParsedToolCall mirrors ToolCall");
_Static_assert(offsetof(FtParsedToolCall, arguments) == offsetof(ToolCall, arguments), "mirrors ToolCall");

static const ToolSyntax *syntax(const FtToolSyntax *s) { return (const ToolSyntax *)s; }

const FtToolSyntax *ft_model_tool_syntax(const FtModel *m) {
    return m ? (const FtToolSyntax *)chat_template_tool_syntax(m->model->tmpl) : NULL;
}

int ft_grammar_tool_calls(const FtModel *m, const char *const *tools, int n_tools, const char *function,
                          bool parallel, FtGrammar **out, FtError *err) {
    if (!out) return ft_err_set(err, FT_ERR_ARG, "no place for the grammar");
    *out = NULL;
    if (!m || (n_tools > 0 && !tools)) return ft_err_set(err, FT_ERR_ARG, "ft_grammar_tool_calls: NULL argument");
    const ToolSyntax *syn = chat_template_tool_syntax(m->model->tmpl);
    if (!syn)
        return ft_err_set(err, FT_ERR_UNSUPPORTED, "tools are not supported by the %s chat template",
                          chat_template_variant(m->model->tmpl));
    FtGrammar *g = calloc(1, sizeof *g);
    if (!g) return ft_err_set(err, FT_ERR_NOMEM, "out of memory");
    Err e = {0};
    if (tool_grammar_compile(syn, tools, n_tools, function, parallel, &g->g, &e)) {
        ft_grammar_free(g);
        return ft_err_from(err, &e);
    }
    *out = g;
    return 0;
}

int ft_tool_reply_parse(const FtToolSyntax *s, const char *text, size_t len, int max_calls, FtToolReply *out,
                        FtError *err) {
    if (!out) return ft_err_set(err, FT_ERR_ARG, "ft_tool_reply_parse: no place for the reply");
    memset(out, 0, sizeof *out);
    if (!s || (!text && len)) return ft_err_set(err, FT_ERR_ARG, "ft_tool_reply_parse: NULL argument");
    Err e = {0};
    if (tool_reply_parse(syntax(s), text ? text : "", len, max_calls, (ToolReply *)out, &e)) return ft_err_from(err, &e);
    return 0;
}

void ft_tool_reply_free(FtToolReply *r) { tool_reply_free((ToolReply *)r); }

size_t ft_tool_text_safe_len(const FtToolSyntax *s, const char *text, size_t len) {
    return s ? tool_text_safe_len(syntax(s), text, len) : len;
}

const char *ft_tool_call_close(const FtToolSyntax *s) { return s ? syntax(s)->stop : NULL; }
