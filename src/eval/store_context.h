/* store_context.h: retrieved context from a vector store of a server, for "fine-tuned + retrieval"
 * with a store: an example's user turns are searched through the server's
 * POST /vector_stores/{id}/search (over eval_http.h), and the chunks found, best first, end the
 * example's leading system message (one is added when it has none) after a line
 * STORE_CONTEXT_HEADER, each as "[FILENAME] TEXT". `ftune dataset add-context --store` writes
 * training files so and `ftune eval --retrieve-store` builds its prompts so: the same text both ways. */
#ifndef FTUNE_STORE_CONTEXT_H
#define FTUNE_STORE_CONTEXT_H

#include <jansson.h>

#include "../core/err.h"
#include "eval_http.h"

#define STORE_CONTEXT_HEADER "Retrieved context:"
#define STORE_CONTEXT_MAX_K 50 /* the search's max_num_results bound */

/* The context text for msgs (heap): the k best chunks of vector store `store` at base_url for the
 * text of its user turns; NULL with err (the store or server named) when the search fails or msgs
 * has no user turn. */
char *store_context_search(EvalHttp *h, const char *base_url, const char *store, json_t *msgs, int k, Err *err);
/* msgs (a new array; msgs is not changed) with context at the end of their leading system
 * message; NULL when out of memory. */
json_t *store_context_add(json_t *msgs, const char *context);

#endif
