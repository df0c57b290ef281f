/* vocab_trie.h: the vocabulary's tokens as a prefix tree of their decoded bytes, built once per
 * tokenizer, for constrained decoding (constrain.h): a token mask is computed by walking the tree
 * through the grammar matcher, so that tokens sharing a prefix share its work and a byte the
 * grammar refuses prunes every token below it. The nodes are stored in preorder, each with the
 * index just past its subtree (so pruning is a jump). Special and control tokens (BOS, EOS,
 * <|im_end|>) and tokens that decode to nothing are not in the tree: they are not text. */
#ifndef FTUNE_VOCAB_TRIE_H
#define FTUNE_VOCAB_TRIE_H

#include <stdint.h>

#include "../core/err.h"
#include "../text/tokenizer.h"

typedef struct {
    int vocab;          /* token ids 0..vocab-1 (the model's rows; ids past the tokenizer have no text) */
    int n_nodes, max_depth;
    uint8_t *byte;      // (n_nodes) the byte that leads to the node
    uint16_t *depth;    // (n_nodes) 1 for the root's children
    uint32_t *end;      // (n_nodes) index just past the node's subtree
    uint32_t *tok_first; // (n_nodes + 1) tokens spelled exactly by node i: toks[tok_first[i] .. tok_first[i+1])
    int32_t *toks;      // (n_text) token ids, in the order of their bytes
    uint32_t *off;      // (vocab) each token's bytes in text; len 0: not text
    uint32_t *len;      // (vocab)
    char *text;
} VocabTrie;

/* Builds the tree of t's tokens for a model of vocab rows. ERR_NOMEM; ERR_ARG for a token longer
 * than 65535 bytes. */
int vocab_trie_build(const Tokenizer *t, int vocab, VocabTrie **out, Err *err);
void vocab_trie_free(VocabTrie *v); /* NULL is a no-op */

#endif
