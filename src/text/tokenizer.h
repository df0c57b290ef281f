/* tokenizer.h: text <-> token ids, exactly as the model's reference tokenizer does it.
 * Three models: byte-level BPE (GPT-2 style, from tokenizer.json or GGUF tokenizer.ggml.model =
 * "gpt2", with merges and a PCRE2 pre-tokenizer regex), SentencePiece-style BPE with scores
 * and byte fallback (GGUF tokenizer.ggml.model = "llama") and BERT's WordPiece (tokenizer.json,
 * with BertNormalizer and BertPreTokenizer: tokenizer_bert.c). Added/special tokens are matched in
 * the text before BPE. It does not render chat templates (chat_template.h) or touch weights.
 * References: a tokenizer.json encodes as PyPI `tokenizers` does, GGUF metadata as llama.cpp
 * does (tests/golden/tokenizer/, scripts/golden_tokenizer.py). Known limits: characters assigned
 * after Unicode 14 (PCRE2's tables) may be classified differently from the references. */
#ifndef FTUNE_TOKENIZER_H
#define FTUNE_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

struct Gguf;

typedef struct Tokenizer Tokenizer;

/* Loads a Hugging Face tokenizer.json (BPE model, byte-level or with byte fallback).
 * tokenizer_config_json may be NULL; when given it supplies bos/eos token names and
 * add_bos_token / add_eos_token (which override what the post-processor adds). Without it, BOS/EOS
 * come from the post-processor or common token names (see tok_set_bos_eos). Caller frees with
 * tok_free. Errors name the file and field: ERR_IO (unreadable), ERR_FORMAT (not JSON, missing
 * model/vocab/merges, merge of unknown tokens), ERR_UNSUPPORTED (another model type, normalizer,
 * pre-tokenizer, post-processor or decoder than those listed in tokenizer_load_hf.c). */
int tok_load_hf(const char *tokenizer_json_path, const char *tokenizer_config_json_path,
                Tokenizer **out, Err *err);

/* Builds the tokenizer embedded in GGUF metadata (tokenizer.ggml.*). The Tokenizer copies what
 * it needs: the Gguf may be closed afterwards. ERR_FORMAT for missing or mistyped arrays,
 * ERR_UNSUPPORTED for a model other than "gpt2"/"llama" or an unknown tokenizer.ggml.pre. */
int tok_load_gguf(const struct Gguf *g, Tokenizer **out, Err *err);

void tok_free(Tokenizer *t); /* NULL is a no-op */

/* Encodes len bytes of text. add_special: add BOS (and EOS) where the model's tokenizer does by
 * default (like HF add_special_tokens=True / llama.cpp add_special). parse_special: text that
 * spells a special/added token becomes that token (HF behaviour; llama.cpp parse_special=true);
 * when false only special tokens are taken as text, non-special added (user-defined) tokens are
 * still matched, as both references do. The text need not be valid UTF-8: invalid bytes are
 * handled as llama.cpp does (U+FFFD for byte-level BPE, <0xXX> byte tokens for SentencePiece).
 * *ids is a heap array (caller frees; also for 0 ids) of *n ids. Thread-safe on a shared
 * Tokenizer. ERR_ARG for a NULL argument or text longer than 1 GiB; ERR_NOMEM. */
int tok_encode(const Tokenizer *t, const char *text, size_t len, bool add_special,
               bool parse_special, int32_t **ids, int *n, Err *err);

/* Decodes ids back to bytes (UTF-8; incomplete sequences kept as bytes). skip_special drops
 * control/special tokens (BOS, EOS, <|im_end|>...). Added tokens decode to their text verbatim;
 * SentencePiece vocabularies drop the one leading space the encoder added. *out is heap,
 * NUL-terminated, caller frees; *len (may be NULL) its length. ERR_ARG for an id outside the
 * vocabulary. Thread-safe. */
int tok_decode(const Tokenizer *t, const int32_t *ids, int n, bool skip_special, char **out,
               size_t *len, Err *err);

int tok_vocab_size(const Tokenizer *t);
const char *tok_token_text(const Tokenizer *t, int32_t id); /* the vocabulary string, raw */
int32_t tok_find_token(const Tokenizer *t, const char *text); /* exact vocab/added entry, or -1 */
bool tok_is_special(const Tokenizer *t, int32_t id);       /* control or special added token */
int32_t tok_bos_id(const Tokenizer *t);                    /* -1 if none */
int32_t tok_eos_id(const Tokenizer *t);                    /* -1 if none */
bool tok_adds_bos(const Tokenizer *t);                     /* does add_special prepend BOS */
const char *tok_model_name(const Tokenizer *t);            /* "byte-level BPE", "SentencePiece BPE", "WordPiece" */

/* Overrides the BOS/EOS ids (-1 for none), e.g. from a model's config.json when no
 * tokenizer_config.json came with tokenizer.json. Call before sharing the Tokenizer between
 * threads. ERR_ARG for ids outside the vocabulary. Does not change what add_special adds. */
int tok_set_bos_eos(Tokenizer *t, int32_t bos_id, int32_t eos_id, Err *err);

/* Writes the tokenizer as a Hugging Face tokenizer.json document (*json heap, caller frees), for
 * exporting a model that came as GGUF: byte-level BPE (vocab, merges in rank order, the
 * pre-tokenizer's split regexes, added tokens, BOS post-processor). ERR_UNSUPPORTED for
 * SentencePiece tokenizers and for tokenizers loaded from tokenizer.json (copy that file instead). */
int tok_export_hf(const Tokenizer *t, char **json, Err *err);

/* Writes the tokenizer as GGUF metadata (tokenizer.ggml.*: model "gpt2", pre, tokens, token_type,
 * merges, bos/eos ids, add_bos_token) into w, with n_vocab tokens (the model's embedding rows;
 * rows beyond the tokenizer's vocabulary become unused "[PADn]" tokens, as llama.cpp's converter
 * writes them), for exporting a model that came as a Hugging Face folder: byte-level BPE with a
 * pre-tokenizer llama.cpp names (Qwen2, Llama 3, SmolLM, GPT-2), else ERR_UNSUPPORTED. */
struct GgufWriter;
int tok_export_gguf(const Tokenizer *t, int n_vocab, struct GgufWriter *w, Err *err);

#endif
