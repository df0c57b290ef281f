/* ftune.h: the public engine API, the one header the CLI, the server and the workers use to reach
 * the engine (in the manner of llama.h / sqlite3.h). It offers models (load, describe, tokenize),
 * LoRA adapters in the PEFT layout, a KV cache of sequence slots, the batched forward pass (rows of
 * many sequences and many adapters in one call), chat generation one sequence at a time (on reusable
 * sessions) and LoRA training from a chat JSONL file.
 *
 * Conventions:
 *  - Handles are opaque; each has a _free function for which NULL is a no-op. Fallible functions
 *    refuse NULL handles with FT_ERR_ARG; the plain accessors (ft_model_info, ft_adapter_rank,
 *    ft_cache_slots, ft_engine_threads, ...) need a valid handle.
 *  - Fallible functions return 0 on success and -1 on failure; when the caller passes a non-NULL
 *    FtError it receives a code (FT_ERR_*) and a message that says what went wrong and where.
 *  - No process-wide state is exposed; thread budgets are passed explicitly. A model is read-only
 *    once loaded and may be shared by threads; a cache or an engine has one owner at a time.
 *  - Buffers the engine allocates for the caller (token ids, text) come from malloc and are
 *    released with ft_free (which is free), also after the caller took them over.
 * It deliberately includes nothing but <stdint.h>, <stddef.h> and <stdbool.h>: no internal header
 * and no JSON library type crosses this boundary. */
#ifndef FTUNE_H
#define FTUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

enum {
    FT_OK = 0,
    FT_ERR_IO = 1,          /* a file could not be opened, read or written */
    FT_ERR_FORMAT = 2,      /* the input is malformed */
    FT_ERR_UNSUPPORTED = 3, /* well-formed but not supported (architecture, tensor type, template) */
    FT_ERR_NOMEM = 4,       /* an allocation failed */
    FT_ERR_ARG = 5,         /* a bad argument from the caller */
};

#define FT_ERROR_MSG_MAX 512

typedef struct {
    int code;                   /* FT_OK or one of FT_ERR_* */
    char msg[FT_ERROR_MSG_MAX]; /* NUL-terminated, human-readable */
} FtError;

/* Releases a buffer that an ft_* function allocated for the caller (ids, text). NULL is a no-op. */
void ft_free(void *p);

/* ---------------------------------------------------------------- models */

typedef struct FtModel FtModel;

/* What a model is; every string is owned by the model and lives as long as it. */
typedef struct {
    const char *path;              /* what was loaded */
    const char *format;            /* "gguf" or "huggingface" */
    const char *architecture;      /* "llama", "qwen2" */
    size_t n_params;               /* parameters of every weight */
    int n_layer;                   /* transformer blocks */
    int hidden_size;
    int n_head;                    /* query heads */
    int n_kv_head;                 /* key/value heads */
    int head_dim;
    int ffn_size;                  /* MLP hidden size */
    int vocab;                     /* rows of the embedding matrix: valid token ids are 0..vocab-1 */
    int context_length;            /* positions the model was built for */
    float rope_theta;
    bool has_rope_factors;         /* llama3-style frequency factors */
    float rms_eps;
    bool tied_embeddings;          /* output head shares the token embeddings */
    bool qkv_bias;                 /* q/k/v projections have biases */
    const char *tensor_types;      /* e.g. "Q4_1 x210, F32 x61, Q8_0 x1" */
    const char *tokenizer;         /* "byte-level BPE" or "SentencePiece BPE" */
    int tokenizer_vocab;           /* entries in the tokenizer's vocabulary */
    int32_t bos_id;                /* -1 if none */
    int32_t eos_id;                /* -1 if none */
    int32_t end_of_turn_id;        /* the chat template's end-of-turn token, -1 if none */
    const char *chat_template;     /* family: "plain", "chatml", "llama3", "llama2", "mistral" */
    const char *chat_template_variant; /* "chatml", "qwen2.5", "llama3", ... "plain" */
    const char *template_warning;  /* why the model's own template is not used (plain instead), or NULL */
    const char *precision;         /* arithmetic of the base-weight products: "fp32" or "bf16" */
} FtModelInfo;

/* Loads a GGUF file or a Hugging Face directory. On success *out is a model the caller frees with
 * ft_model_free. Errors name the file and the problem (FT_ERR_IO: missing or unreadable,
 * FT_ERR_FORMAT: bad magic, truncated, malformed config, FT_ERR_UNSUPPORTED: architecture or
 * tensor type, FT_ERR_NOMEM); FT_ERR_ARG for a NULL argument. *out is NULL on failure. */
int ft_model_load(const char *path, FtModel **out, FtError *err);
void ft_model_free(FtModel *m); /* NULL is a no-op */

/* Fills *out with the model's description (strings owned by m). */
void ft_model_info(const FtModel *m, FtModelInfo *out);

/* The raw vocabulary string of token id, or NULL for an id outside the tokenizer's vocabulary.
 * Owned by m. */
const char *ft_token_text(const FtModel *m, int32_t id);

/* Encodes len bytes of text. add_special: add BOS/EOS where the model's tokenizer does by default.
 * parse_special: text spelling a special token becomes that token (false: it stays text). *ids is
 * allocated (release with ft_free, also when *n is 0). FT_ERR_ARG for a NULL argument or over-long
 * text; FT_ERR_NOMEM. Thread-safe on a shared model. */
int ft_tokenize(const FtModel *m, const char *text, size_t len, bool add_special, bool parse_special, int32_t **ids,
                int *n, FtError *err);

/* A tokenizer on its own, for counting and listing tokens without the weights. */
typedef struct FtTokenizer FtTokenizer;

/* Loads only the tokenizer at path, reading no weights: a GGUF file, a Hugging Face directory
 * (tokenizer.json, with tokenizer_config.json when there is one) or a tokenizer.json file. Caller
 * frees with ft_tokenizer_free. Errors name the file (FT_ERR_IO, FT_ERR_FORMAT, FT_ERR_UNSUPPORTED,
 * FT_ERR_NOMEM); FT_ERR_ARG for a NULL argument. *out is NULL on failure. */
int ft_tokenizer_load(const char *path, FtTokenizer **out, FtError *err);
void ft_tokenizer_free(FtTokenizer *t); /* NULL is a no-op */

/* ft_tokenize with tokenizer t (the same arguments, results and errors). Thread-safe. */
int ft_tokenizer_encode(const FtTokenizer *t, const char *text, size_t len, bool add_special, bool parse_special,
                        int32_t **ids, int *n, FtError *err);

/* Decodes n ids to UTF-8 text; skip_special drops control/special tokens. *text is allocated and
 * NUL-terminated (release with ft_free); *len (may be NULL) gets its length. FT_ERR_ARG naming an id
 * outside the vocabulary. Thread-safe. */
int ft_detokenize(const FtModel *m, const int32_t *ids, int n, bool skip_special, char **text, size_t *len,
                  FtError *err);

/* ---------------------------------------------------------------- sentence embeddings */

/* A sentence-embedding model (a BERT encoder, e.g. all-MiniLM-L6-v2, from a sentence-transformers
 * folder: config.json, model.safetensors, tokenizer.json, 1_Pooling/config.json, modules.json),
 * computing what sentence-transformers' encode() does. Read-only once loaded: threads may share it. */
typedef struct FtEncoder FtEncoder;

typedef struct {
    const char *path;       /* the folder (owned by the encoder) */
    int dim;                /* floats of a vector */
    int max_tokens;         /* text tokens of one input the model sees ([CLS] and [SEP] aside) */
    int n_vocab;
    size_t n_params;
    bool normalized;        /* vectors have unit length */
    const char *precision;  /* arithmetic of the layers' products: "fp32" (as loaded) or "bf16" */
} FtEncoderInfo;

/* True when the Hugging Face folder at path holds an encoder (config.json's model_type "bert"):
 * what ft_encoder_load takes rather than ft_model_load. Reads config.json only. */
bool ft_is_encoder_dir(const char *path);
/* Loads the folder dir (FT_ERR_IO, FT_ERR_FORMAT naming the file and field, FT_ERR_UNSUPPORTED for
 * what it cannot run: another model_type, activation, pooling or module). */
int ft_encoder_load(const char *dir, FtEncoder **out, FtError *err);
void ft_encoder_free(FtEncoder *e); /* NULL is a no-op */
void ft_encoder_info(const FtEncoder *e, FtEncoderInfo *out);
/* The text's tokens, without the [CLS]/[SEP] the model adds (*ids: release with ft_free). */
int ft_encoder_tokenize(const FtEncoder *e, const char *text, size_t len, int32_t **ids, int *n, FtError *err);
/* Embeds n inputs given as text tokens (ids[i], n_ids[i] of them) into out (n x dim floats): the
 * model puts [CLS] and [SEP] around each and sees only its first max_tokens (as
 * sentence-transformers truncates; callers that must refuse longer inputs check first). A batch
 * runs packed (no padding) on n_threads (<= 0: every core). FT_ERR_ARG for an id outside the
 * vocabulary (naming the input and position), FT_ERR_NOMEM. */
int ft_encoder_embed(const FtEncoder *e, const int32_t *const *ids, const int *n_ids, int n, int n_threads,
                     float *out, FtError *err);

/* ---------------------------------------------------------------- precision */

/* The arithmetic of the products with the frozen base weights (in training and in prefill; a few
 * rows at a time, as when decoding, still read the stored weights): fp32 (the reference, OpenBLAS)
 * or bf16 (both operands rounded to bfloat16, fp32 accumulation, through oneDNN on AMX-BF16 or
 * AVX512-BF16). LoRA factors and their gradients, AdamW state, norms, attention, softmax, the loss
 * and the residual stream stay fp32 either way. AUTO: bf16 where the CPU has AMX-BF16 and ftune
 * was built with oneDNN, fp32 elsewhere. */
typedef enum { FT_PRECISION_AUTO = 0, FT_PRECISION_FP32 = 1, FT_PRECISION_BF16 = 2 } FtPrecision;

#define FT_PRECISION_WHY_MAX 160

/* "auto", "fp32" or "bf16" into *out; FT_ERR_ARG naming any other value. */
int ft_precision_parse(const char *s, FtPrecision *out, FtError *err);

/* What p means on this CPU and build: *got is FT_PRECISION_FP32 or FT_PRECISION_BF16, why (may be
 * NULL; FT_PRECISION_WHY_MAX bytes) the reason. FT_ERR_UNSUPPORTED for bf16 where it is not
 * available (saying why), FT_ERR_ARG for a value out of range. */
int ft_precision_resolve(FtPrecision p, FtPrecision *got, char *why, FtError *err);

/* Sets m's precision (a model loads at fp32). bf16 keeps a bf16 copy of every weight matrix beside
 * the stored one (2 bytes a parameter). why (may be NULL; FT_PRECISION_WHY_MAX bytes) receives the
 * choice and the CPU feature behind it, e.g. "bf16 (AMX-BF16 on <cpu>, oneDNN avx512_core_amx)".
 * Not thread-safe: call before the model is shared. FT_ERR_UNSUPPORTED when bf16 is asked for on a
 * CPU or build without it (saying which), FT_ERR_NOMEM. */
int ft_model_set_precision(FtModel *m, FtPrecision p, char *why, FtError *err);
/* For a model that will run many rows a step (a server, an evaluation): at bf16 on a CPU with AMX
 * tiles, lays every multiplied weight out once in the tile kernel's order (2 bytes a parameter
 * more), so that its products stop doing it on every call; the outputs stay the same bits.
 * Elsewhere nothing. Not thread-safe, as ft_model_set_precision. FT_ERR_NOMEM. */
int ft_model_lay_out_tiles(FtModel *m, FtError *err);
/* Sets e's precision (an encoder loads at fp32), as ft_model_set_precision does for a model: bf16
 * keeps a bf16 copy of each layer matrix (about half the fp32 weights' size without the
 * embeddings) and runs those products in bf16; embeddings, LayerNorms, attention, GELU and pooling
 * stay fp32. why as ft_model_set_precision. Not thread-safe: call before the encoder is shared.
 * FT_ERR_UNSUPPORTED when bf16 is asked for where it is not available. */
int ft_encoder_set_precision(FtEncoder *e, FtPrecision p, char *why, FtError *err);

/* ---------------------------------------------------------------- adapters */

typedef struct FtAdapter FtAdapter;

/* Loads the LoRA adapter in dir (PEFT layout: adapter_config.json + adapter_model.safetensors) for
 * model m, which must outlive it. Caller frees with ft_adapter_free. FT_ERR_IO / FT_ERR_FORMAT
 * naming the file and key for a missing or misshapen tensor, FT_ERR_UNSUPPORTED for PEFT options
 * ftune does not implement, FT_ERR_ARG for a NULL argument. */
int ft_adapter_load(const FtModel *m, const char *dir, FtAdapter **out, FtError *err);
void ft_adapter_free(FtAdapter *a); /* NULL is a no-op */
int ft_adapter_rank(const FtAdapter *a);
float ft_adapter_alpha(const FtAdapter *a);
size_t ft_adapter_bytes(const FtAdapter *a); /* memory of its factors */
/* Writes a as a LoRA adapter GGUF for its model (llama.cpp's --lora, Ollama's ADAPTER; layout in
 * model/export_gguf.h), crash-safely. FT_ERR_IO naming the file, FT_ERR_NOMEM. */
int ft_adapter_save_gguf(const FtAdapter *a, const char *path, FtError *err);

/* ---------------------------------------------------------------- sequence cache */

typedef struct FtCache FtCache;

/* A key/value cache of n_slots sequence slots of up to capacity positions each, for model m (which
 * must outlive it). Every slot starts free. FT_ERR_ARG for sizes out of range, FT_ERR_NOMEM naming
 * the size. Caller frees with ft_cache_free. */
int ft_cache_new(const FtModel *m, int n_slots, int capacity, FtCache **out, FtError *err);
void ft_cache_free(FtCache *c); /* NULL is a no-op */
int ft_cache_slots(const FtCache *c);
int ft_cache_capacity(const FtCache *c);

/* Takes a free slot, now empty and in use, into *slot. FT_ERR_ARG when every slot is taken. */
int ft_cache_seq_alloc(FtCache *c, int *slot, FtError *err);
/* Gives an allocated slot back (its contents are forgotten). FT_ERR_ARG for a slot out of range or
 * not allocated. */
int ft_cache_seq_free(FtCache *c, int slot, FtError *err);
/* Truncates an allocated slot to its first n positions (0 empties it). FT_ERR_ARG for a free slot
 * or n outside 0..length. */
int ft_cache_seq_truncate(FtCache *c, int slot, int n, FtError *err);
/* Makes allocated slot dst continue from the first n positions of allocated slot src (a shared
 * prompt prefix); dst's previous contents are replaced. FT_ERR_ARG for free or equal slots or n
 * outside 0..length(src). */
int ft_cache_seq_fork(FtCache *c, int src, int dst, int n, FtError *err);
/* Positions filled in slot, or -1 when it is free or out of range. */
int ft_cache_seq_len(const FtCache *c, int slot);
/* A slot's memory grows as it fills (doubling, up to the capacity) and is released when it is
 * freed. ft_cache_seq_reserve makes room for n positions in an allocated slot now (so that a
 * scheduler can account for memory before it runs anything): FT_ERR_ARG for a free slot or n
 * beyond the capacity, FT_ERR_NOMEM. ft_cache_seq_room is the positions allocated to a slot, and
 * ft_cache_bytes the bytes of keys and values held over every slot; ft_cache_position_bytes is what
 * one position of one slot takes. */
int ft_cache_seq_reserve(FtCache *c, int slot, int n, FtError *err);
int ft_cache_seq_room(const FtCache *c, int slot);
size_t ft_cache_bytes(const FtCache *c);
size_t ft_cache_position_bytes(const FtCache *c);

/* ---------------------------------------------------------------- batched forward */

/* A batch of rows (llama_batch style). Rows of one sequence are consecutive with consecutive
 * positions, the first at most the slot's current length. The arrays are the caller's. */
typedef struct {
    int n;                  /* rows */
    const int32_t *token;   // (n) token ids
    const int32_t *pos;     // (n) positions in their sequence
    const int32_t *seq;     // (n) cache slot of each row
    const int32_t *adapter; // (n) index into the adapter list, -1 = base model; NULL: all -1
    const uint8_t *logits;  // (n) 1 = return this row's logits; NULL: only the last row's
    int n_decode;           /* the first n_decode rows are generated tokens (one per sequence being
                               decoded): their products read the stored weights, the other rows'
                               take the model's precision, so that no row's arithmetic depends on
                               what else shares the batch (a reply is the same alone or batched) */
} FtBatch;

typedef struct FtEngine FtEngine;

#define FT_BATCH_MAX_ADAPTERS 64 /* adapters one ft_engine_decode call may name */

/* The forward pass for model m (which must outlive it) with scratch for batches of up to max_rows
 * rows attending over up to max_ctx positions. n_threads <= 0 uses every core. Caller frees with
 * ft_engine_free. FT_ERR_ARG for non-positive sizes, FT_ERR_NOMEM. */
int ft_engine_new(const FtModel *m, int max_rows, int max_ctx, int n_threads, FtEngine **out, FtError *err);
void ft_engine_free(FtEngine *e); /* NULL is a no-op */
int ft_engine_max_rows(const FtEngine *e);
int ft_engine_threads(const FtEngine *e);
/* The thread budget of the following calls: n_threads (<= 0: every core), at most the count the
 * engine was made with (its scratch is sized for that). */
void ft_engine_set_threads(FtEngine *e, int n_threads);

/* Runs batch b over cache c: the rows' keys and values are written into their slots, whose lengths
 * grow to cover them. logits receives (k, vocab) floats, one row per row that asked for logits, in
 * row order (may be NULL when no row asks). adapters[0..n_adapters) (at most
 * FT_BATCH_MAX_ADAPTERS) must be loaded for the engine's model. FT_ERR_ARG, with nothing run, for a
 * cache or adapter of another model, a token, position, slot (free or out of range) or adapter
 * index out of range, or rows out of order. */
int ft_engine_decode(FtEngine *e, FtCache *c, const FtBatch *b, const FtAdapter *const *adapters, int n_adapters,
                     float *logits, FtError *err);

/* ---------------------------------------------------------------- structured outputs */

/* A response format compiled for constrained decoding: a grammar over bytes, independent of any
 * model (one may serve many replies, on many models, at once: it is read-only once made). With
 * FtGenParams.grammar set, each step samples only tokens that keep the reply a prefix of a valid
 * document, stop tokens only once the document is complete, and the reply ends as soon as nothing
 * may follow: it always parses and validates, unless max_tokens cuts it (finish "length"). */
typedef struct FtGrammar FtGrammar;

/* Compiles a JSON Schema (its JSON text) in the subset of OpenAI's strict structured outputs:
 * objects (properties produced in the schema's order; additionalProperties false), string, number,
 * integer, boolean, null, enum, const, arrays (items, minItems, maxItems), anyOf, $defs/$ref
 * (recursion allowed), type arrays such as ["string", "null"]. strict: also OpenAI's strict rules
 * (the root is an object, every object says additionalProperties: false and requires every
 * property). FT_ERR_UNSUPPORTED naming a keyword outside the subset and where it is as a JSON
 * pointer ("'minLength' at #/properties/name is not supported ..."), FT_ERR_ARG for a schema that
 * is not valid JSON or breaks a rule, FT_ERR_NOMEM. Caller frees with ft_grammar_free. */
int ft_grammar_from_json_schema(const char *schema, size_t len, bool strict, FtGrammar **out, FtError *err);
/* Any JSON object (OpenAI's json_object mode). */
int ft_grammar_json_object(FtGrammar **out, FtError *err);
/* Exactly one of n strings, as they are (a classifier's labels): FT_ERR_ARG for none. */
int ft_grammar_choices(const char *const *choices, int n, FtGrammar **out, FtError *err);
void ft_grammar_free(FtGrammar *g); /* NULL is a no-op */

/* ---------------------------------------------------------------- generation */

#define FT_GEN_MAX_STOP 16

typedef struct {
    const char *name;      /* the function called */
    const char *arguments; /* its arguments: JSON text, as OpenAI's arguments string */
} FtToolCall;

typedef struct {
    const char *role;    /* "system", "developer", "user", "assistant", "tool" */
    const char *content; /* UTF-8; never NULL (use "") */
    const FtToolCall *tool_calls; /* assistant: the calls it made, rendered by templates with tools */
    int n_tool_calls;
} FtChatMessage;

typedef struct {
    int max_tokens;                     /* <= 0: until the context is full */
    float temperature;                  /* 0 = greedy */
    float top_p;                        /* (0, 1]; 1 = off */
    int top_k;                          /* 0 = off */
    uint64_t seed;                      /* the same seed gives the same text */
    const char *stop[FT_GEN_MAX_STOP];  /* stop strings (not included in the output); the caller's */
    int n_stop;
    int32_t stop_ids[FT_GEN_MAX_STOP];  /* tokens that end the turn (not included) */
    int n_stop_ids;
    int n_ctx;                          /* ft_generate_chat: positions of the sequence (prompt +
                                           reply); <= 0: 4096; capped at the model's context length */
    int n_threads;                      /* ft_generate_chat: <= 0: every core */
    bool logprobs;                      /* FtReply: record each token's log-probability */
    int top_logprobs;                   /* and its 0..FT_MAX_TOP_LOGPROBS most likely alternatives */
    float frequency_penalty;            /* -2..2, OpenAI's: subtracted from a token's logit per time it
                                           was generated in this reply */
    float presence_penalty;             /* -2..2: subtracted once from every token generated so far */
    const int32_t *logit_bias_ids;      /* logit_bias: logit_bias_values[i] (-100..100) is added to the */
    const float *logit_bias_values;     /* logit of token logit_bias_ids[i] before sampling (the */
    int n_logit_bias;                   /* caller's arrays; logprobs stay the model's) */
    const FtGrammar *grammar;           /* structured outputs: constrained decoding to this grammar (the
                                           caller's; it must outlive the reply); NULL: free text. Its
                                           logprobs are those of the model's distribution restricted
                                           to the tokens the grammar allowed at each step */
} FtGenParams;

#define FT_MAX_TOP_LOGPROBS 20

typedef enum { FT_FINISH_STOP = 0, FT_FINISH_LENGTH = 1 } FtFinishReason;

typedef struct {
    char *text;       /* NUL-terminated; release with ft_gen_result_free (or keep it and ft_free it) */
    size_t len;
    int n_prompt;     /* prompt tokens */
    int n_completion; /* generated tokens (including a final stop token) */
    FtFinishReason finish;
} FtGenResult;

/* Receives each new piece of text (UTF-8 complete, never a prefix of a stop string); return
 * non-zero to stop generating (finish = stop). */
typedef int (*FtStreamFn)(const char *piece, size_t len, void *user);

/* The defaults for m: greedy, max_tokens 256, no stop strings, stop ids = EOS and the template's
 * end-of-turn token, n_ctx 0 (4096, capped at the model's context), n_threads 0. */
void ft_gen_params_default(const FtModel *m, FtGenParams *p);

/* A reusable state for generating replies one at a time with model m (which must outlive it): one
 * sequence of n_ctx positions (<= 0: 4096; capped at the model's context length) and the forward
 * scratch for n_threads threads (<= 0: every core), allocated once for many replies (an evaluator,
 * a server's inference thread). Caller frees with ft_session_free. FT_ERR_ARG for a NULL argument,
 * FT_ERR_NOMEM naming the size. A session runs one call at a time; sessions on a shared model may
 * run concurrently. */
typedef struct FtSession FtSession;
int ft_session_new(const FtModel *m, int n_ctx, int n_threads, FtSession **out, FtError *err);
void ft_session_free(FtSession *s); /* NULL is a no-op */
int ft_session_ctx(const FtSession *s); /* positions of its sequence */
/* The thread budget of the session's following generations: n_threads (<= 0: every core), at
 * most the count it was made with. */
void ft_session_set_threads(FtSession *s, int n_threads);
int ft_session_threads(const FtSession *s);

/* Renders msgs with the model's chat template (with the generation prompt), tokenizes and generates
 * one reply on session s, from an empty sequence, applying adapter (may be NULL; loaded for the
 * session's model) unmerged for this call only. p->n_ctx and p->n_threads are not used (the
 * session's are). stream (may be NULL) receives the text as it comes. On success *res holds the
 * reply (free with ft_gen_result_free); on failure it holds nothing to free. FT_ERR_ARG for a
 * message the template cannot express, bad sampling parameters, an adapter of another model or a
 * prompt longer than the context; FT_ERR_NOMEM. */
int ft_session_generate_chat(FtSession *s, const FtAdapter *adapter, const FtChatMessage *msgs, int n_msgs,
                             const FtGenParams *p, FtStreamFn stream, void *user, FtGenResult *res, FtError *err);

/* One reply on a session of its own (p->n_ctx positions, p->n_threads threads) made for this call:
 * what `ftune chat` does. The same results and errors as ft_session_generate_chat; concurrent calls
 * on a shared model are safe. */
int ft_generate_chat(const FtModel *m, const FtAdapter *adapter, const FtChatMessage *msgs, int n_msgs,
                     const FtGenParams *p, FtStreamFn stream, void *user, FtGenResult *res, FtError *err);
void ft_gen_result_free(FtGenResult *r); /* frees r->text; NULL is a no-op */

/* The prompt of a chat: msgs rendered with m's chat template (with the generation prompt) and
 * tokenized, as ft_session_generate_chat does. *ids is allocated (release with ft_free). FT_ERR_ARG
 * for a NULL argument or a message the template cannot express; FT_ERR_NOMEM. Thread-safe. */
int ft_chat_prompt(const FtModel *m, const FtChatMessage *msgs, int n_msgs, int32_t **ids, int *n, FtError *err);

/* ---------------------------------------------------------------- tool calling */

/* OpenAI's tool_choice: the model may call tools or answer (auto), must answer in text (none: the
 * tools are not shown to it), must call at least one (required) or must call one function. */
typedef enum { FT_TOOL_CHOICE_AUTO, FT_TOOL_CHOICE_NONE, FT_TOOL_CHOICE_REQUIRED, FT_TOOL_CHOICE_FUNCTION } FtToolChoice;

/* How a model's chat template writes tool calls (Qwen2.5's "<tool_call>\n{...}\n</tool_call>", Llama
 * 3.1+'s whole reply {"name": ..., "parameters": {...}}). */
typedef struct FtToolSyntax FtToolSyntax;

/* The tool-call syntax of m's chat template; NULL when the template renders no tools (then tools
 * and assistant tool calls are refused by ft_chat_prompt_tools). Static. */
const FtToolSyntax *ft_model_tool_syntax(const FtModel *m);

/* ft_chat_prompt with tool definitions: tools[i] is the JSON text of one OpenAI tool ({"type":
 * "function", "function": {"name", "description", "parameters"}}), rendered through the template
 * as transformers' apply_chat_template(..., tools=...) does. FT_ERR_UNSUPPORTED when there are tools
 * or tool calls and the template renders none. */
int ft_chat_prompt_tools(const FtModel *m, const FtChatMessage *msgs, int n_msgs, const char *const *tools,
                         int n_tools, int32_t **ids, int *n, FtError *err);

/* A grammar for replies that are tool calls in m's syntax, each call's arguments following its
 * function's parameters schema (the JSON Schema subset of ft_grammar_from_json_schema, not strict:
 * an absent additionalProperties is false, every property is written): only function `function`
 * (NULL: any of tools), one call or, with parallel, one or more. FT_ERR_UNSUPPORTED when m renders no
 * tools or a schema leaves the subset (naming the tool), FT_ERR_ARG for a tool that is not a
 * function with a name or a `function` no tool names. */
int ft_grammar_tool_calls(const FtModel *m, const char *const *tools, int n_tools, const char *function,
                          bool parallel, FtGrammar **out, FtError *err);

typedef struct {
    char *name;      /* owned by the FtToolReply */
    char *arguments; /* compact JSON text */
} FtParsedToolCall;

typedef struct {
    char *content;   /* the text before the first call, trailing whitespace removed; the whole reply
                        when it is not calls */
    size_t content_len;
    FtParsedToolCall *calls; /* n_calls of them; 0: the reply is text */
    int n_calls;
} FtToolReply;

/* Reads a reply (text[0..len)) written in syntax s into content and calls; a reply that is not
 * well-formed calls after optional text is text (n_calls 0). At most max_calls calls (more: text).
 * Free with ft_tool_reply_free (also on failure). FT_ERR_NOMEM only. */
int ft_tool_reply_parse(const FtToolSyntax *s, const char *text, size_t len, int max_calls, FtToolReply *out,
                        FtError *err);
void ft_tool_reply_free(FtToolReply *r); /* NULL is a no-op */
/* Leading bytes of a reply in progress that are content whatever follows (for streaming). */
size_t ft_tool_text_safe_len(const FtToolSyntax *s, const char *text, size_t len);
/* The closing marker of a call in syntax s ("</tool_call>"), e.g. a stop string for one call; NULL
 * when a call has none (Llama 3.1+: a call is the whole reply and ends the turn). */
const char *ft_tool_call_close(const FtToolSyntax *s);

/* ---------------------------------------------------------------- replies driven by the caller */

/* One reply in progress, for callers that run the forward passes themselves (a scheduler that
 * batches many sequences with ft_engine_decode): given the logits of the sequence's last position
 * it samples the next token with its own sampler and seed, keeps the text, ends at a stop token or
 * string, max_tokens or the end of the context, and streams text as ft_session_generate_chat does.
 * The same sampling and stop handling as ft_session_generate_chat (which is built on it). */
typedef struct FtReply FtReply;

/* A reply to a prompt of n_prompt tokens in a sequence of n_ctx positions, with p's sampling, stop
 * strings (the caller's; they must outlive the reply), stop ids, max_tokens and logprobs.
 * FT_ERR_ARG for a NULL argument, an empty prompt or one that leaves no room, bad sampling
 * parameters or top_logprobs out of 0..FT_MAX_TOP_LOGPROBS; FT_ERR_NOMEM. */
int ft_reply_new(const FtModel *m, const FtGenParams *p, int n_prompt, int n_ctx, FtReply **out, FtError *err);
void ft_reply_free(FtReply *r); /* NULL is a no-op */

/* Samples the next token from logits (vocab floats: the logits of the sequence's last position)
 * and streams the text that became final. Returns 0 with *next the token to run next (as a decode
 * row), 1 when the reply has ended (stop token or string, max_tokens, the context, or stream
 * returned non-zero), -1 on error. */
int ft_reply_step(FtReply *r, const float *logits, FtStreamFn stream, void *user, int32_t *next, FtError *err);

/* Ends the reply: streams what was held back (a possible stop-string prefix) unless it was cut
 * short, and moves the text into *res (free with ft_gen_result_free). Call once, after ft_reply_step
 * returned 1 or whenever the caller gives up on the reply. */
int ft_reply_finish(FtReply *r, FtStreamFn stream, void *user, FtGenResult *res, FtError *err);

typedef struct {
    int32_t id;
    float logprob;
} FtTopLogprob;

/* A generated token's log-probability under the model (log-softmax of the logits, before
 * temperature and top-p) and the p.top_logprobs most likely tokens at its position. */
typedef struct {
    int32_t id;
    float logprob;
    int n_top;
    FtTopLogprob top[FT_MAX_TOP_LOGPROBS]; /* most likely first */
} FtTokenLogprob;

/* The log-probabilities of the tokens generated so far (stop tokens excluded), *n of them; NULL
 * when p.logprobs was false. Owned by r, valid until its next step. */
const FtTokenLogprob *ft_reply_logprobs(const FtReply *r, int *n);
/* Tokens generated so far, stop tokens included (what usage's completion_tokens counts). */
int ft_reply_tokens(const FtReply *r);

/* ---------------------------------------------------------------- data-parallel training (MPI) */

/* The processes of one `mpirun -n N ftune ...` job, training one adapter together: each runs its
 * share of every batch, the gradients are summed over them (one MPI_Allreduce per step), and each
 * takes the same optimizer step. Only a process started by mpirun joins (a plain process never
 * initialises MPI). Once per process, before training; one thread calls these. */
typedef struct FtParallel FtParallel;

/* Joins the MPI job this process was launched in: *out is this rank, or NULL when mpirun did not
 * start it (then train alone). FT_ERR_UNSUPPORTED when mpirun started several processes of an
 * ftune built without MPI. */
int ft_parallel_join(FtParallel **out, FtError *err);
int ft_parallel_rank(const FtParallel *p); /* 0..size-1; 0 for NULL */
int ft_parallel_size(const FtParallel *p); /* 1 for NULL */
/* Leaves the job after a clean run (every rank calls it) and frees p; NULL is a no-op. */
void ft_parallel_leave(FtParallel *p);
/* After a failure on this rank, ends every rank of the job with status (the others would wait for
 * this one forever); returns for NULL or a job of one (the caller exits itself). */
void ft_parallel_abort(FtParallel *p, int status);

typedef struct {
    long n_reductions;  /* gradient reductions (one per optimizer step) */
    double bytes;       /* the gradient bytes each reduced */
    double wait_s;      /* total time waiting for the slowest rank before them */
    double reduce_s;    /* total time in the reductions themselves */
} FtParallelTiming;
void ft_parallel_timing(const FtParallel *p, FtParallelTiming *t); /* zeros for NULL */

/* ---------------------------------------------------------------- training */

typedef struct {
    long step, total_steps;
    int epoch;             /* 1-based */
    double train_loss;     /* this step's batch */
    double train_accuracy; /* mean token accuracy of this step's batch (DPO: of its preferred replies) */
    bool has_valid;        /* valid_* are set on this step */
    double valid_loss, valid_accuracy; /* DPO: the DPO loss, and the preferred replies' token accuracy */
    bool full_valid;       /* valid_* cover the whole validation set (epoch end) */
    float lr;
    double grad_norm;
    long tokens_seen;      /* trained tokens so far */
    double elapsed_s;
    double tokens_per_s;   /* all tokens processed per second */
    bool dpo;              /* a DPO run: train_loss is the DPO loss and the fields below are set */
    double chosen_reward, rejected_reward; /* means over the step's pairs of beta * (log pi - log pi_ref) */
    double reward_accuracy;  /* fraction of the step's pairs whose preferred reward is the higher */
    double reward_margin;    /* chosen_reward - rejected_reward */
} FtTrainMetrics;

#define FT_TRAIN_REPORTED_LINES 20 /* truncated examples whose lines an FtDataReport lists */

/* A chat file as ft_train loaded it (after truncation to max_length). */
typedef struct {
    long n_examples;
    long long tokens;            /* every token of every example */
    long long trained_tokens;    /* the tokens with a loss (assistant turns) */
    long n_truncated;            /* examples cut to max_length (all are counted) */
    long truncated_lines[FT_TRAIN_REPORTED_LINES]; /* the file lines of the first of them */
} FtDataReport;

/* What ft_train is doing, in order; after a failure, what failed. */
typedef enum {
    FT_TRAIN_CHECK = 0,      /* checking the parameters (nothing read yet) */
    FT_TRAIN_LOAD_TRAIN = 1, /* reading, validating and tokenizing the training file */
    FT_TRAIN_LOAD_VALID = 2, /* the same for the validation file */
    FT_TRAIN_RESOLVE = 3,    /* resolving the "auto" hyperparameters */
    FT_TRAIN_PREPARE = 4,    /* creating the adapter */
    FT_TRAIN_RUN = 5,        /* training (on_ready has been called) */
} FtTrainStage;

typedef struct {
    FtTrainStage stage;          /* how far it got; on failure the stage that failed */
    long max_length;             /* tokens per example, resolved (from FT_TRAIN_LOAD_TRAIN on) */
    FtDataReport train;          /* set from FT_TRAIN_LOAD_VALID on */
    FtDataReport valid;          /* set from FT_TRAIN_RESOLVE on; zero without a validation file */
    int n_epochs, batch_size;    /* the resolved hyperparameters, from FT_TRAIN_PREPARE on */
    double lr_multiplier;
    float learning_rate;
    double beta;                 /* DPO's resolved beta; 0 for supervised training */
    long total_steps;
    long step;                   /* optimizer steps done (< total_steps when stopped early) */
    int epoch;                   /* epochs completed */
    long tokens_seen;            /* trained tokens */
} FtTrainResult;

/* Called after every optimizer step; checkpoint_dir is non-NULL on a step that wrote one. Return
 * non-zero to stop at this boundary; FT_TRAIN_ABANDON to stop without writing anything more to
 * out_dir (no stop checkpoint, results or adapter: another process has taken the run over). */
#define FT_TRAIN_ABANDON 2
typedef int (*FtTrainFn)(const FtTrainMetrics *m, const char *checkpoint_dir, void *user);

/* Called once, before the first step, when the files are loaded, the hyperparameters resolved and
 * the adapter made: plan (stage FT_TRAIN_RUN) holds all of that, with step, epoch and tokens_seen
 * 0 (a resumed run learns its progress from the checkpoint afterwards). Return non-zero not to
 * train at all: ft_train then returns 0 with step 0. */
typedef int (*FtTrainReadyFn)(const FtTrainResult *plan, void *user);

#define FT_LORA_MAX_RANK 1024 /* the largest LoRA rank ft_train accepts */

typedef struct {
    const char *train_path;      /* chat JSONL (OpenAI format; DPO: preference pairs), at least 10 examples */
    const char *valid_path;      /* the same format, or NULL */
    const char *n_epochs;        /* "auto", NULL (= auto) or 1..50 */
    const char *batch_size;      /* "auto", NULL or 1..256 */
    const char *lr_multiplier;   /* "auto", NULL or (0, 10] */
    const char *method;          /* "supervised" (NULL) or "dpo": the files are then preference pairs
                                  * (OpenAI's format); the reference model is the starting point, frozen
                                  * (the base model, or init_adapter as loaded) */
    const char *beta;            /* DPO: "auto" (0.1), NULL or (0, 2] */
    int rank;                    /* LoRA rank, 1..FT_LORA_MAX_RANK */
    float alpha;                 /* LoRA alpha (scale = alpha / rank) */
    float dropout;               /* on the LoRA branch's input, [0, 1) */
    const char *targets;         /* "q,k,v,o,gate,up,down" subset, or "all" / NULL */
    uint64_t seed;
    long max_length;             /* tokens per example; <= 0: the model's context (2048 when unknown) */
    int eval_every;              /* steps between validation passes; 0: epoch ends only */
    int n_threads;               /* <= 0: every core */
    const char *out_dir;         /* adapter, checkpoint-<step>/ and results.csv; required */
    const char *resume_dir;      /* a checkpoint to continue from, or NULL */
    const char *init_adapter;    /* a PEFT adapter directory (for m) to start from instead of a new
                                  * adapter: its rank, alpha, dropout and targets replace the fields
                                  * above; optimizer moments start at zero. NULL: a new adapter */
    const char *reference_adapter; /* DPO: the adapter directory of the frozen reference (same shape);
                                  * NULL: init_adapter when given, else the base model */
    const char *base_model;      /* base_model_name_or_path in adapter_config.json; NULL: the model's path */
    const volatile int *stop;    /* non-zero stops at the next step boundary; may be NULL */
    FtTrainReadyFn on_ready;     /* may be NULL */
    FtTrainFn on_step;           /* may be NULL */
    void *user;                  /* passed to on_ready and on_step */
    FtParallel *parallel;        /* the MPI ranks training together (ft_parallel_join), NULL: alone.
                                  * Every rank calls ft_train with the same parameters and files;
                                  * rank 0 alone writes out_dir and calls on_ready and on_step (their
                                  * stop requests reach every rank) */
} FtTrainParams;

/* The defaults `ftune train` uses: rank 8, alpha 16, no dropout, every target, auto
 * hyperparameters, seed 0, everything else zero/NULL. */
void ft_train_params_default(FtTrainParams *p);

/* Checks what needs neither a model nor a file: a training file and an output directory are
 * named, rank, alpha, dropout and eval_every are in range, the targets are known. ft_train checks
 * the same first; a client may call this to refuse bad arguments before loading a model.
 * FT_ERR_ARG naming the first bad parameter. */
int ft_train_params_check(const FtTrainParams *p, FtError *err);

/* Fine-tunes a new LoRA adapter (or p->init_adapter's, continued) for m on p->train_path (validated with the same rules as `ftune
 * validate`, rendered through the model's chat template) and writes it to p->out_dir in the PEFT
 * layout (loadable with ft_adapter_load), with checkpoints and results.csv. *res (may be NULL) says
 * how far it got, also on failure (the stage that failed and what was loaded before it); stopping
 * early (flag, on_ready or on_step) is not an error. FT_ERR_ARG for a bad parameter or
 * hyperparameter (named), FT_ERR_FORMAT for a file the validator rejects (with its first problem),
 * FT_ERR_IO. */
int ft_train(const FtModel *m, const FtTrainParams *p, FtTrainResult *res, FtError *err);

#ifdef __cplusplus
}
#endif

#endif
