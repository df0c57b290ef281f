/* constrain.h: constrained decoding: a matcher runs a grammar (grammar.h) over the bytes of one
 * reply and says which tokens may come next. Its state is a set of stacks (the grammar is not
 * deterministic: anyOf, enums with shared prefixes, optional whitespace), each stack a chain of
 * frames (a position in the grammar and, in a JSON string, a small automaton's state) shared
 * between stacks. The mask of a step walks the vocabulary's prefix tree (vocab_trie.h) through
 * the matcher: a subtree whose prefix no stack accepts is skipped whole. Masks are cached by state
 * (inside a string, or between the same structural tokens, the state repeats). One matcher per
 * sequence; it allocates as its state grows, never per token of the vocabulary. It does not
 * sample and knows nothing of stop tokens: generate.c allows them when the value is complete. */
#ifndef FTUNE_CONSTRAIN_H
#define FTUNE_CONSTRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "grammar.h"
#include "vocab_trie.h"

#define MATCHER_CACHE 16 /* masks kept per matcher */

typedef struct Matcher Matcher;

/* A matcher at the start of g's root rule, for tokens of trie; both must outlive it. ERR_NOMEM. */
int matcher_new(const Grammar *g, const VocabTrie *trie, Matcher **out, Err *err);
void matcher_free(Matcher *m); /* NULL is a no-op */

/* Sets bit i of allowed ((vocab + 63) / 64 words) for each text token that keeps the output a
 * prefix of the grammar's language, clears the others. Returns how many are allowed, -1 on
 * ERR_NOMEM. */
int matcher_mask(Matcher *m, uint64_t *allowed, Err *err);
/* Feeds n bytes: 0 when they keep the output a valid prefix (the state advances), 1 when they do
 * not (the state is unchanged), -1 on ERR_NOMEM. */
int matcher_advance(Matcher *m, const char *bytes, size_t n, Err *err);
/* Would these n bytes keep the output a valid prefix? The state does not change. */
bool matcher_accepts(Matcher *m, const char *bytes, size_t n);
/* The output so far is a complete value of the grammar (end of text is allowed). */
bool matcher_accepting(const Matcher *m);
/* Complete, and no byte may follow: the reply must end here. */
bool matcher_finished(const Matcher *m);

#endif
