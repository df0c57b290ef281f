/* eval_internal.h: what the files of `ftune eval`'s runs share (eval_run.c runs a candidate example
 * by example, eval_via_api.c through an Evals API): reading chat JSONL files, a candidate's prompt
 * style (replacement system prompt, few-shot examples, labels the reply is constrained to) and the
 * messages it sends per example (eval_prompts.c); JSON over HTTP to an OpenAI-compatible endpoint
 * is eval_http.h's. */
#ifndef FTUNE_EVAL_INTERNAL_H
#define FTUNE_EVAL_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>

#include "../retrieval/nearest.h"
#include "eval.h"
#include "eval_http.h"
#include "eval_run.h"

typedef struct {
    char *system;          /* replacement system prompt, or NULL */
    json_t **fewshot;      /* examples' messages (system messages dropped) */
    long n_fewshot;
    json_t *labels;        /* the answers a reply is constrained to (array of strings), or NULL */
    FtGrammar *grammar;    /* local: the labels as a grammar */
    json_t *response_format; /* remote: the labels as a json_schema response format */
    NearestIndex *nearest; /* the retrieval pool, or NULL */
    int k;                 /* examples (or store chunks) retrieved per prompt */
    EvalHttp *store_http;  /* the vector store's server (--retrieve-store), or NULL */
    const char *store, *store_url; /* the store's id and its server (the candidate's strings) */
} EvalPromptStyle;

/* Loads c's system file, few-shot file, labels (as a grammar for a local candidate, a json_schema
 * response format {"label": one of them} for a remote one), retrieval pool (embedded with
 * o->embedding_model) and vector store's connection. */
int eval_style_load(const EvalCandidate *c, const EvalRunOptions *o, EvalPromptStyle *ps, Err *err);
void eval_style_free(EvalPromptStyle *ps);
/* The messages sent for one example: system (replaced when the candidate has one; with a store,
 * ending with the store's chunks), few-shot turns, the retrieved examples' turns (the most similar
 * last, next to the question), then the example's own turns (a new reference); NULL with err when
 * retrieval fails. */
json_t *eval_build_prompt(const EvalPromptStyle *ps, json_t *prompt, Err *err);
/* The answer in a reply to the labels' response format ({"label": ...}): heap, or NULL when the
 * reply is not that. */
char *eval_label_of_reply(const char *reply);

/* The per-example result arrays of c for n examples; -1 when out of memory. */
int eval_alloc_results(EvalCandidate *c, long n);

#endif
