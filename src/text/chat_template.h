/* chat_template.h: renders chat messages into the prompt text the model was trained on.
 * The model's own template (tokenizer_config.json "chat_template" or GGUF
 * tokenizer.chat_template, a Jinja source) is recognised and rendered natively: ChatML
 * (SmolLM2, Qwen1.5/Qwen2 with the default system message they inject, generic OpenHermes-style
 * ChatML, and Qwen2.5 with its tool-response turns), Llama 3 (both releases of 8B-Instruct), Llama
 * 3.1 / 3.3 and 3.2 (tools, the knowledge/date header, ipython turns),
 * Llama 2 chat, and Mistral [INST] (7B-Instruct v0.1, v0.2 before and after its 2024 update, which
 * Mixtral-8x7B-Instruct-v0.1 shares), plus a plain fallback for base models without a template.
 * One renderer, used by chat, training and serving alike. Templates that render tools (Qwen2.5,
 * Llama 3.1+) also render tool definitions (Qwen's system turn "# Tools" block; Llama's first user
 * turn, its default tools_in_user_message) and assistant tool calls, as
 * transformers' apply_chat_template(..., tools=...) does; a call's arguments (OpenAI's JSON string)
 * are rendered as the JSON value they hold, as vLLM passes them, so that a call reads back exactly as
 * the model writes one (tool_calls.h). It does not tokenize and does not run a general Jinja
 * engine.
 *
 * Recognition: the Jinja source is lexed, not evaluated, and its token stream (tags, names,
 * operators, numbers, string literals by decoded value) must equal that of one of the real
 * templates above. Only what cannot change the output may differ: whitespace inside tags, quote
 * style and escapes, comments, whitespace control (no text may survive outside tags), and the
 * text of the ChatML default system message, which is extracted as a constant. Anything else --
 * Gemma, Phi, Zephyr/TinyLlama, Mistral v0.3, a one-token edit -- is
 * ERR_UNSUPPORTED with a message naming the closest known template, never a silent fallback.
 *
 * Input policy (the same for every family):
 *  - roles are "system", "developer", "user", "assistant", "tool"; "developer" (OpenAI's newer
 *    name for system) is rendered exactly as "system";
 *  - "tool" is accepted by ChatML (as a role; Qwen2.5 wraps it in <tool_response> the way its
 *    template does), by Llama 3.1+ (an "ipython" turn holding the content as a JSON string, as the
 *    template's tojson writes it) and by the plain format; other families give ERR_ARG;
 *  - Llama 3.1+ date header: "Today Date: 26 Jul 2024", the template's own default when no
 *    date_string is passed and strftime_now is not defined (transformers defines strftime_now and
 *    writes today's date under the 3.2 template): fixed, so that training and serving render alike;
 *  - Llama 3.1+: the tools go into the first user message (the template's default); an assistant
 *    message holds at most one tool call and no content beside it (the template raises for more
 *    calls and drops the content), and with tools the first message after the system message must
 *    be a user message (the template would splice any message's text into the tools turn): ERR_ARG;
 *  - tool definitions and assistant tool calls are ERR_UNSUPPORTED on a template that renders none
 *    (every template but Qwen2.5 and Llama 3.1+; the others would drop them silently);
 *  - where the real template raises (e.g. Llama 2 / Mistral with roles out of order) or would
 *    silently drop a message (a Llama 2 system message after the first position), ERR_ARG;
 *  - content is inserted verbatim (Llama 3 and Llama 2 strip surrounding whitespace exactly as
 *    Python's str.strip() does, because their templates do). Content that spells a special token
 *    (e.g. "<|im_end|>") stays text here but becomes that token when the result is tokenized with
 *    parse_special=true -- the same as transformers; callers that must prevent such injection
 *    should tokenize message contents separately.
 *
 * Plain fallback (no template, base models): bos (if the model has one), then one line per
 * message "<role>: <content>\n" with the role names above ("developer" written as "system"), then
 * "assistant:" when add_generation_prompt. It has no end-of-turn marker.
 */
#ifndef FTUNE_CHAT_TEMPLATE_H
#define FTUNE_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"
#include "tool_calls.h"

#define CHAT_TEMPLATE_SOURCE_MAX ((size_t)256 * 1024) /* bytes of Jinja source accepted */
#define CHAT_TEMPLATE_TOKENS_MAX 16384                 /* tokens lexed from one source */
#define CHAT_TEMPLATE_SPECIAL_MAX 256                  /* bytes in a bos/eos token text */
#define CHAT_TEMPLATE_MESSAGES_MAX (1 << 20)           /* messages in one render */
#define CHAT_TEMPLATE_OUTPUT_MAX ((size_t)1 << 30)     /* bytes of rendered text */

typedef enum {
    CHAT_TEMPLATE_PLAIN = 0, /* no template: "role: content" lines, for base models */
    CHAT_TEMPLATE_CHATML,
    CHAT_TEMPLATE_LLAMA3,
    CHAT_TEMPLATE_LLAMA2,    /* <s>[INST] <<SYS>>...<</SYS>> ... [/INST] */
    CHAT_TEMPLATE_MISTRAL,   /* <s>[INST] ... [/INST] without <<SYS>> */
} ChatTemplateKind;

typedef struct {
    const char *name;      /* the function called */
    const char *arguments; /* its arguments, JSON text (OpenAI's arguments string); text that is not
                              JSON is rendered as a JSON string, as the template's tojson would */
} ChatToolCall;

typedef struct {
    const char *role;    /* "system", "developer", "user", "assistant", "tool" */
    const char *content; /* UTF-8; never NULL (use "") */
    const ChatToolCall *tool_calls; /* assistant: the calls it made (NULL when n_tool_calls is 0) */
    int n_tool_calls;
} ChatMessage;

typedef struct ChatTemplate ChatTemplate;

/* Builds a renderer from a Jinja template source (may be NULL or "" for the plain fallback) and
 * the model's bos/eos token strings (may be NULL: the Llama/Mistral families then use their
 * usual "<|begin_of_text|>" / "<s>", "</s>"; ChatML uses neither; plain then emits no bos).
 * Unrecognised templates get ERR_UNSUPPORTED with a message saying what did not fit; malformed
 * Jinja gets ERR_FORMAT; an over-long bos/eos ERR_ARG. Caller frees with chat_template_free.
 * The ChatTemplate is immutable afterwards: any number of threads may render with it. */
int chat_template_new(const char *jinja_source, const char *bos_token, const char *eos_token,
                      ChatTemplate **out, Err *err);
void chat_template_free(ChatTemplate *ct); /* NULL is a no-op */

ChatTemplateKind chat_template_kind(const ChatTemplate *ct);
const char *chat_template_kind_name(ChatTemplateKind k); /* "chatml", "llama3", ... */

/* The recognised variant within the family: "chatml", "qwen2.5", "llama3", "llama3-always-gen"
 * (the first Llama 3 release, which appends the assistant header unconditionally), "llama3.1"
 * (Llama 3.1 and 3.3), "llama3.2", "llama2",
 * "mistral-v0.1", "mistral-v0.2-legacy" (also Mixtral-8x7B-Instruct-v0.1), "mistral-v0.2",
 * "plain". Static string. */
const char *chat_template_variant(const ChatTemplate *ct);

/* The system message the template injects when the first message is not a system message
 * (SmolLM2, Qwen), or NULL when it injects none. Owned by ct. */
const char *chat_template_default_system(const ChatTemplate *ct);

/* True when the rendered text itself starts with the model's bos token text (Llama, Mistral,
 * plain with a bos): tokenize with add_special=false so that bos is not doubled. */
bool chat_template_adds_bos(const ChatTemplate *ct);

/* Renders messages; add_generation_prompt appends the assistant header the model expects next
 * (the Llama 2 and Mistral templates have none: their prompt already ends with "[/INST]").
 * *out is heap, NUL-terminated, caller frees; len (may be NULL) gets its length. Errors (ERR_ARG)
 * for no messages, an unknown role, or a role the template cannot express, naming the message
 * index; ERR_NOMEM. On error *out is NULL. The result contains special tokens as text: tokenize
 * it with parse_special=true and add_special=false. */
int chat_template_render(const ChatTemplate *ct, const ChatMessage *msgs, int n_msgs,
                         bool add_generation_prompt, char **out, size_t *len, Err *err);

/* chat_template_render with tool definitions: tools[i] is the JSON text of one OpenAI tool
 * ({"type": "function", "function": {"name", "description", "parameters"}}), rendered as the
 * template's tojson writes it (json_py.h). n_tools 0 is chat_template_render. ERR_UNSUPPORTED when
 * there are tools or assistant tool calls and the template renders none (chat_template_tool_syntax
 * is NULL), naming the template; ERR_ARG for a tool that is not JSON, naming its index. */
int chat_template_render_tools(const ChatTemplate *ct, const ChatMessage *msgs, int n_msgs,
                               const char *const *tools, int n_tools, bool add_generation_prompt, char **out,
                               size_t *len, Err *err);

/* How this template writes tool calls; NULL when it renders no tools (every template but Qwen2.5 and
 * Llama 3.1 / 3.2 / 3.3). */
const ToolSyntax *chat_template_tool_syntax(const ChatTemplate *ct);

/* The text that ends an assistant turn in this template ("<|im_end|>", "<|eot_id|>", eos...),
 * used as a stop marker; NULL for the plain template. Owned by ct. */
const char *chat_template_end_of_turn(const ChatTemplate *ct);

/* A second marker that ends an assistant message ("<|eom_id|>" of Llama 3.1+, written after a call
 * in ipython mode), also a stop marker; NULL when the template has none. Static. */
const char *chat_template_end_of_message(const ChatTemplate *ct);

#endif
