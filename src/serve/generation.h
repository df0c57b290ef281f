/* generation.h: what the two generating endpoints (chat completions, responses) share between
 * parsing a request and queuing it on the inference thread: the model it names resolved for the
 * caller's project (a base model, fine-tuned model, checkpoint, --adapter model or an alias of
 * one; another project's fine-tuned model is 404 model_not_found), and a reply's token bound
 * against ftune serve --max-tokens. Each answers the client itself when it refuses. */
#ifndef FTUNE_GENERATION_H
#define FTUNE_GENERATION_H

#include "../worker/inference.h"
#include "../worker/registry.h"
#include "api.h"
#include "requests.h"

/* The model name as project sees it (its own fine-tuned models, and those of no project): 0,
 * STORE_NOT_FOUND, or -1 with err. Answers nobody (the eval runner's lookup too). */
int generation_find_model(const Server *srv, Store *s, const char *project, const char *name, ModelInfo *m, Err *err);
/* Any model the caller may use (chat or embedding): 0 with *m filled, or -1 after answering 404
 * (model_not_found, naming it) or 500. */
int generation_lookup_model(Ctx *c, const char *name, ModelInfo *m);
/* generation_lookup_model, and a 400 (param model) for an embedding model, which cannot generate. */
int generation_resolve_model(Ctx *c, const char *name, ModelInfo *m);
/* The most tokens of a reply: asked (0 = not given) when within --max-tokens, else -1 after a 400
 * naming param; not given: --max-tokens capped at INFERENCE_DEFAULT_MAX_TOKENS, or 0 (the
 * inference thread's own bound) without --max-tokens. */
int generation_max_tokens(Ctx *c, long long asked, const char *param, long long *out);
/* The name a reply gives for the model that answered: its own id when name was an alias (as OpenAI
 * names the snapshot), else name as asked. */
const char *generation_model_name(const ModelInfo *m, const char *name);
/* A reply's bound when the request sets none: --max-tokens capped at INFERENCE_DEFAULT_MAX_TOKENS,
 * 0 (the inference thread's own bound) without --max-tokens. */
long long generation_default_max_tokens(const Server *srv);
/* Fills r's model, messages, tools and sampling parameters from a parsed chat request for model m,
 * taking what cr owns (its JSON root, messages, tools, logit bias, grammar): cr is left empty
 * (chat_request_free of it is then a no-op for those). A seed not given is drawn at random. */
void generation_chat_request(ChatRequest *cr, const ModelInfo *m, InferRequest *r);

#endif
