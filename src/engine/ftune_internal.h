/* ftune_internal.h: what the files of src/engine/ share behind the public ftune.h: the handle
 * structs (each wraps one internal object and remembers the model it was made for) and the
 * conversion of the internal Err into the public FtError. Only src/engine/ includes it. */
#ifndef FTUNE_ENGINE_INTERNAL_H
#define FTUNE_ENGINE_INTERNAL_H

#include <pthread.h>

#include "../core/err.h"
#include "../ftune.h"
#include "../model/encoder.h"
#include "../model/forward.h"
#include "../model/generate.h"
#include "../model/grammar.h"
#include "../model/infer.h"
#include "../model/kv_cache.h"
#include "../model/lora.h"
#include "../model/model.h"

struct FtTokenizer {
    Tokenizer *tok;
};

struct FtModel {
    Model *model;
    FtModelInfo info;      /* filled at load; strings point into model */
    FtTokenizer tokenizer; /* the model's own (tok is model->tok): never freed on its own */
    pthread_mutex_t trie_mu; /* guards trie's lazy construction */
    VocabTrie *trie;       /* the token tree of constrained decoding, built on first use */
};

struct FtEncoder {
    Encoder *enc;
};

struct FtGrammar {
    Grammar g;
};

/* m's token tree, built on its first use (thread-safe); NULL with err set on failure. */
const VocabTrie *ft_model_trie(const FtModel *m, FtError *err);

struct FtAdapter {
    const FtModel *owner;
    Lora *lora;
};

struct FtCache {
    const FtModel *owner;
    KvCache *kv;
};

struct FtEngine {
    const FtModel *owner;
    Forward *fwd;
};

struct FtSession {
    const FtModel *owner;
    InferState *st;
};

/* The public generation parameters as the internal ones (generate.h); -1 with err naming the bad
 * field. */
int ft_gen_params_convert(const FtModel *m, const FtGenParams *p, GenParams *g, FtError *err);

/* Copies e into out (when non-NULL); returns -1 so that callers can `return ft_err_from(...)`. */
int ft_err_from(FtError *out, const Err *e);
/* Fills out (when non-NULL) with code and a printf-style message; returns -1. */
int ft_err_set(FtError *out, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
