/* chat_template.h: renders chat messages into the prompt text the model was trained on.
 * The model's own template (tokenizer_config.json "chat_template" or GGUF
 * tokenizer.chat_template, a Jinja source) is recognised and rendered natively: ChatML
 * (SmolLM2, Qwen2, including a default system message the template injects), Llama 3,
 * Llama 2 and Mistral [INST], and a plain fallback for base models without a template.
 * One renderer, used by chat, training and serving alike. It does not tokenize. */
#ifndef FTUNE_CHAT_TEMPLATE_H
#define FTUNE_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"

typedef enum {
    CHAT_TEMPLATE_PLAIN = 0, /* no template: "role: content" lines, for base models */
    CHAT_TEMPLATE_CHATML,
    CHAT_TEMPLATE_LLAMA3,
    CHAT_TEMPLATE_LLAMA2,    /* <s>[INST] <<SYS>>...<</SYS>> ... [/INST] */
    CHAT_TEMPLATE_MISTRAL,   /* <s>[INST] ... [/INST] without <<SYS>> */
} ChatTemplateKind;

typedef struct {
    const char *role;    /* "system", "developer", "user", "assistant", "tool" */
    const char *content; /* UTF-8; never NULL (use "") */
} ChatMessage;

typedef struct ChatTemplate ChatTemplate;

/* Builds a renderer from a Jinja template source (may be NULL or "" for the plain fallback) and
 * the model's bos/eos token strings (may be NULL). Unrecognised templates get ERR_UNSUPPORTED
 * with a message saying so. Caller frees with chat_template_free. */
int chat_template_new(const char *jinja_source, const char *bos_token, const char *eos_token,
                      ChatTemplate **out, Err *err);
void chat_template_free(ChatTemplate *ct); /* NULL is a no-op */

ChatTemplateKind chat_template_kind(const ChatTemplate *ct);
const char *chat_template_kind_name(ChatTemplateKind k); /* "chatml", "llama3", ... */

/* Renders messages; add_generation_prompt appends the assistant header the model expects next.
 * *out is heap, NUL-terminated, caller frees. Errors (ERR_ARG) for a role the template cannot
 * express, naming the message index. The result contains special tokens as text: tokenize it
 * with parse_special=true and add_special=false. */
int chat_template_render(const ChatTemplate *ct, const ChatMessage *msgs, int n_msgs,
                         bool add_generation_prompt, char **out, size_t *len, Err *err);

/* The text that ends an assistant turn in this template ("<|im_end|>", "<|eot_id|>", eos...),
 * used as a stop marker; NULL for the plain template. */
const char *chat_template_end_of_turn(const ChatTemplate *ct);

#endif
