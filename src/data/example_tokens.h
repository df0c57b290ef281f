/* example_tokens.h: the tokens of one chat example as the model sees it, and which of them are
 * trained. The example is rendered with the model's chat template; each trained assistant message
 * is located by rendering the conversation before it with the generation prompt (where the
 * message starts) and the conversation through it (where it ends, end-of-turn marker included);
 * these templates are prefix-stable, so both are prefixes of the full rendering. The pieces
 * between those boundaries are tokenized one by one (special-token text parsed, no BOS/EOS
 * added, as chat_template.h prescribes), so the ids and the loss mask line up exactly. Used by
 * validation to count and by training to build the mask. It does not truncate, pad or batch. */
#ifndef FTUNE_EXAMPLE_TOKENS_H
#define FTUNE_EXAMPLE_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/err.h"
#include "../text/chat_template.h"
#include "example_messages.h"
#include "../model/text_model.h"

typedef struct {
    long n_tokens;       /* the whole rendered example */
    long n_trained;      /* tokens of trained assistant messages, end-of-turn marker included */
    long n_trained_kept; /* trained tokens among the first max_tokens (all of them when 0) */
} ExampleTokenCounts;

/* Tokenizes the example em (em->trained[i]: train on message i; only assistant messages should be)
 * with its tools and tool calls when the template renders tools (chat_template_tool_syntax), as
 * the server renders a request, else em->legacy without the tools. max_tokens (0: none) only
 * affects n_trained_kept. When ids is non-NULL, *ids gets the token ids (heap, caller frees) and,
 * when mask is non-NULL, *mask one byte per token, 1 = trained. Errors: ERR_ARG when the template
 * cannot render the conversation (its message names the message), ERR_NOMEM. Thread-safe on a
 * shared TextModel. */
int example_tokenize(const TextModel *tm, const ExampleMessages *em, long max_tokens, int32_t **ids, uint8_t **mask,
                     ExampleTokenCounts *counts, Err *err);

#endif
