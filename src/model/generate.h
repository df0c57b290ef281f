/* generate.h: replies token by token. A GenSeq is one reply in progress: given the logits of its
 * last position it samples the next token (with its own sampler and seed), keeps the text, ends at
 * an end-of-turn/EOS token, a stop string, max_tokens or the end of the context, streams the text
 * through a callback in UTF-8-complete pieces that never include (a prefix of) a stop string, and
 * records log-probabilities when asked. Whoever runs the forward passes drives it: generate() for
 * one sequence on an InferState, the server's scheduler for many sequences in one batch. It does not
 * render chat templates (generate_chat does, for one sequence); callers pass prompt ids. */
#ifndef FTUNE_GENERATE_H
#define FTUNE_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "constrain.h"
#include "infer.h"
#include "sampler.h"

#define GEN_MAX_STOP 16
#define GEN_MAX_TOP_LOGPROBS 20 /* OpenAI's bound on top_logprobs */

typedef struct {
    int max_tokens;                     /* <= 0: until the context is full */
    SamplerParams sampling;
    const char *stop[GEN_MAX_STOP];     /* stop strings (not included in the output) */
    int n_stop;
    int32_t stop_ids[GEN_MAX_STOP];     /* tokens that end the turn (not included) */
    int n_stop_ids;
    bool logprobs;                      /* record each generated token's log-probability */
    int top_logprobs;                   /* and its top_logprobs (0..GEN_MAX_TOP_LOGPROBS) alternatives */
    float frequency_penalty;            /* -2..2: subtracted from a token's logit once per time it was generated */
    float presence_penalty;             /* -2..2: subtracted once from every token generated so far */
    const int32_t *bias_ids;            /* logit_bias: bias_values[i] (-100..100) added to the logit of */
    const float *bias_values;           /* token bias_ids[i] before sampling (the caller's arrays) */
    int n_bias;
    const Grammar *grammar;             /* constrained decoding (structured outputs): only tokens that keep
                                           the reply a prefix of the grammar's language are sampled, stop
                                           tokens only once it is complete, and the reply ends as soon as
                                           nothing may follow; NULL: free text. The caller's, as is */
    const VocabTrie *trie;              /* the model's token tree, needed with grammar */
} GenParams;

typedef enum { FINISH_STOP = 0, FINISH_LENGTH = 1 } FinishReason;

typedef struct {
    char *text;       /* heap, NUL-terminated, caller frees with gen_result_free */
    size_t len;
    int n_prompt;     /* prompt tokens */
    int n_completion; /* generated tokens (including a final stop token) */
    FinishReason finish;
} GenResult;

/* The log-probability of a generated token under the model's distribution (log-softmax of the
 * logits, before temperature or top-p), and the most likely tokens at that position with theirs. */
typedef struct {
    int32_t id;
    float logprob;
} TopLogprob;

typedef struct {
    int32_t id;
    float logprob;
    int n_top;
    TopLogprob top[GEN_MAX_TOP_LOGPROBS]; /* highest first, lowest id on ties */
} TokenLogprob;

/* Receives each new piece of text; return non-zero to stop generating (finish = stop). */
typedef int (*GenStreamFn)(const char *piece, size_t len, void *user);

/* One reply in progress (see the header comment). The fields are read-only to callers. */
typedef struct {
    const Model *m;
    GenParams p;             /* the stop strings stay the caller's */
    Sampler sampler;
    int32_t *ids;            // (budget) generated tokens, stop tokens excluded
    int n, budget;           /* budget: max_tokens capped by the positions left in the context */
    int n_prompt, n_completion;
    char *text;              /* the decoded reply so far */
    size_t text_len, emitted;
    bool done, cut_short;    /* cut_short: ended by a stop string or by the stream callback */
    FinishReason finish;
    TokenLogprob *logprobs;  // (budget) when p.logprobs, one per token of ids
    int n_logprobs;
    float *adjusted;         // (vocab) the logits after penalties and bias, when any is set
    int32_t *counts;         // (vocab) times each token was generated, when a penalty is set
    Matcher *matcher;        /* with p.grammar: where the reply is in the grammar */
    uint64_t *allowed;       // ((vocab + 63) / 64) with p.grammar: this step's token mask
    float *masked;           // (vocab) with p.grammar: the logits to sample, -inf where not allowed
} GenSeq;

/* A reply to a prompt of n_prompt tokens in a sequence of n_ctx positions. ERR_ARG for an empty
 * prompt, one that leaves no room in n_ctx, or bad sampling parameters (penalties outside -2..2, a
 * bias outside -100..100 or on a token outside the vocabulary); ERR_NOMEM. Free with gen_seq_free
 * (also after gen_seq_finish). Penalties and biases change what is sampled, as OpenAI's do; the
 * recorded logprobs stay those of the model. With a grammar, logprobs are those of the model's
 * distribution restricted to the allowed tokens (renormalised over them, before penalties, bias and
 * temperature): top_logprobs then lists only tokens that could have been chosen (the enum labels
 * of a classification, with their probabilities). */
int gen_seq_init(GenSeq *g, const Model *m, const GenParams *p, int n_prompt, int n_ctx, Err *err);
/* Samples the next token from logits (vocab), the logits of the sequence's last position, and
 * streams what text became final. 0: go on, *next is the token to run next (a decode row); 1: the
 * reply has ended (stop token or string, budget, or stream returned non-zero); -1: error. */
int gen_seq_step(GenSeq *g, const float *logits, GenStreamFn stream, void *user, int32_t *next, Err *err);
/* Ends the reply: streams what was held back (unless cut short) and moves the text into *res. */
int gen_seq_finish(GenSeq *g, GenStreamFn stream, void *user, GenResult *res, Err *err);
void gen_seq_free(GenSeq *g); /* NULL is a no-op */

/* Fills the defaults: greedy, max_tokens 256, stop ids = EOS and the template's end-of-turn
 * token. */
void gen_params_default(const Model *m, GenParams *p);

/* Generates from prompt (n_prompt ids) on a reset state. stream may be NULL. */
int generate(InferState *st, const int32_t *prompt, int n_prompt, const GenParams *p, GenStreamFn stream,
             void *user, GenResult *res, Err *err);
void gen_result_free(GenResult *r);

/* The prompt of a chat: msgs (and tools: n_tools JSON texts, see chat_template_render_tools)
 * rendered with the model's template (with the generation prompt) and tokenized (*ids heap, caller
 * frees). ERR_ARG for messages the template cannot express, ERR_UNSUPPORTED for tools it cannot. */
int chat_prompt_ids(const Model *m, const ChatMessage *msgs, int n_msgs, const char *const *tools, int n_tools,
                    int32_t **ids, int *n, Err *err);

/* Renders messages with the model's template, tokenizes, and generates: what `ftune chat` and
 * the server's chat completions do. */
int generate_chat(InferState *st, const ChatMessage *msgs, int n_msgs, const GenParams *p, GenStreamFn stream,
                  void *user, GenResult *res, Err *err);

#endif
