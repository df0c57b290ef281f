/* generate.h: the generation loop: prefill the prompt, then sample token by token until an
 * end-of-turn/EOS token, a stop string, max_tokens or the end of the context. Text is streamed
 * through a callback in UTF-8-complete pieces that never include (a prefix of) a stop string.
 * It does not render chat templates; callers pass prompt ids. */
#ifndef FTUNE_GENERATE_H
#define FTUNE_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "infer.h"
#include "sampler.h"

#define GEN_MAX_STOP 16

typedef struct {
    int max_tokens;                     /* <= 0: until the context is full */
    SamplerParams sampling;
    const char *stop[GEN_MAX_STOP];     /* stop strings (not included in the output) */
    int n_stop;
    int32_t stop_ids[GEN_MAX_STOP];     /* tokens that end the turn (not included) */
    int n_stop_ids;
} GenParams;

typedef enum { FINISH_STOP = 0, FINISH_LENGTH = 1 } FinishReason;

typedef struct {
    char *text;       /* heap, NUL-terminated, caller frees with gen_result_free */
    size_t len;
    int n_prompt;     /* prompt tokens */
    int n_completion; /* generated tokens (including a final stop token) */
    FinishReason finish;
} GenResult;

/* Receives each new piece of text; return non-zero to stop generating (finish = stop). */
typedef int (*GenStreamFn)(const char *piece, size_t len, void *user);

/* Fills the defaults: greedy, max_tokens 256, stop ids = EOS and the template's end-of-turn
 * token. */
void gen_params_default(const Model *m, GenParams *p);

/* Generates from prompt (n_prompt ids) on a reset state. stream may be NULL. */
int generate(InferState *st, const int32_t *prompt, int n_prompt, const GenParams *p, GenStreamFn stream,
             void *user, GenResult *res, Err *err);
void gen_result_free(GenResult *r);

/* Renders messages with the model's template, tokenizes, and generates: what `ftune chat` and
 * the server's chat completions do. */
int generate_chat(InferState *st, const ChatMessage *msgs, int n_msgs, const GenParams *p, GenStreamFn stream,
                  void *user, GenResult *res, Err *err);

#endif
