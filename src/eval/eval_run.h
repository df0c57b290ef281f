/* eval_run.h: runs `ftune eval`'s candidates over a held-out set: loads the set (each example's
 * last assistant message is the expected answer, the messages before it the prompt), builds each
 * candidate's prompts (replacement system prompt, few-shot examples), and generates the answers,
 * locally (model + optional adapter, the same engine as `ftune chat`) or through an
 * OpenAI-compatible endpoint (POST {base_url}/chat/completions with libcurl). Per-example failures
 * are recorded and the run goes on; a candidate that cannot run at all gets its error and the
 * others still run. */
#ifndef FTUNE_EVAL_RUN_H
#define FTUNE_EVAL_RUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "eval.h"

#define EVAL_MAX_EXAMPLES 1000000
#define EVAL_HTTP_TIMEOUT_S 600

typedef struct {
    json_t **prompts;   /* n arrays of message objects (owned) */
    long n;
} EvalSet;

/* Loads path into set and r->expected / r->expected_norm (normalised with r->norm); at most limit
 * examples (<= 0: all). Errors name the file and line: not JSON, no messages, no assistant
 * message, a non-string expected answer. prompts_only (for recording answers): an example that
 * does not end with an assistant message is all prompt (its expected answer ""); one that does
 * ends its prompt before it. */
int eval_set_load(EvalReport *r, const char *path, long limit, bool prompts_only, EvalSet *set, Err *err);

/* Reads a chat JSONL file (the project's JSONL reader: line numbers, BOM, CRLF) into a list of
 * message arrays (each line's "messages"), one per non-blank line; at most limit (<= 0: all). */
int eval_read_chat_jsonl(const char *path, long limit, json_t ***out, long *n_out, Err *err);

/* Writes c's answers as a held-out chat JSONL at path (crash-safely): one line per example that
 * got an answer, {"messages": its prompt + {"role": "assistant", "content": the answer}}, in the
 * set's order; *written: how many (the others' requests failed). */
int eval_record_write(const EvalSet *set, const EvalCandidate *c, const char *path, long *written, Err *err);
void eval_set_free(EvalSet *set);

typedef struct {
    int max_tokens;
    float temperature;          /* 0 = greedy */
    uint64_t seed;
    int threads;                /* local inference threads (<= 0: every core) */
    int precision;              /* local candidates' FtPrecision (auto, fp32, bf16) */
    const volatile int *stop;   /* set by Ctrl-C: stop after the current example */
    const char *embedding_model; /* the sentence encoder of --retrieve candidates */
    int k;                      /* examples retrieved per prompt */
    void (*progress)(void *user, const EvalCandidate *c, long done, long total);
    void *user;
} EvalRunOptions;

/* Runs candidate c over the set, filling its per-example arrays, n_done, n_failed and wall_s;
 * c->error when it cannot run at all (model missing, endpoint unreachable). Returns -1 only when
 * out of memory. */
int eval_run_candidate(const EvalSet *set, EvalCandidate *c, const EvalRunOptions *o);
/* The same for a remote candidate through its endpoint's Evals API (eval_via_api.c): one eval run
 * of every example, the predictions from its output items (r: the expected answers). */
int eval_run_candidate_via_evals(const EvalSet *set, const EvalReport *r, EvalCandidate *c, const EvalRunOptions *o);

#endif
