/* encoder.h: sentence-embedding models: a BERT encoder (post-LayerNorm, absolute position and
 * token-type embeddings, exact GELU) loaded from a Hugging Face / sentence-transformers folder
 * (config.json, model.safetensors, tokenizer.json, 1_Pooling/config.json, modules.json,
 * sentence_bert_config.json), with mean or CLS pooling and optional L2 normalisation, as
 * sentence-transformers computes them (e.g. all-MiniLM-L6-v2). A batch of texts runs packed: every
 * sequence's rows go through each weight product together, attention stays within a sequence, so
 * no padding is computed. Weights are fp32 in one allocation, read-only after loading (an Encoder
 * may be shared by threads; each call keeps its own scratch). At bf16 precision
 * (encoder_set_precision) the six matrices of each layer also have a bf16 copy, made once, and
 * their products run on the bf16 path (tensor/matmul_bf16.h); embeddings, LayerNorms, attention,
 * GELU, pooling and the residual stream stay fp32. It does not generate text and is not a decoder
 * (model.h). */
#ifndef FTUNE_ENCODER_H
#define FTUNE_ENCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "../tensor/ops_quant.h"
#include "../tensor/precision.h"
#include "../text/tokenizer.h"

#define ENCODER_MAX_JSON (1u << 20)  /* bytes of each small JSON file of the folder */
#define ENCODER_MAX_LAYERS 64
#define ENCODER_MAX_DIM 8192         /* hidden size, intermediate size */
#define ENCODER_MAX_POSITIONS 65536
#define ENCODER_BATCH_ROWS 1024     /* rows (tokens) of one packed group of a batch: ~14 MB of
                                      * scratch for a 384-wide model; 4096 let the activations
                                      * outgrow the caches (batches of 64+ short texts ran 10-40%
                                      * slower per text than 32) */

typedef enum { ENCODER_POOL_MEAN, ENCODER_POOL_CLS } EncoderPooling;

typedef struct {
    int n_layer, n_embd, n_head, n_ff;
    int n_vocab, n_pos, n_types;
    float ln_eps;
    int max_seq;             /* rows of a sequence the model sees, [CLS] and [SEP] included */
    EncoderPooling pooling;
    bool normalize;          /* L2-normalise the pooled vector */
} EncoderConfig;

typedef struct {
    QuantMatrix q_w, k_w, v_w, o_w;             /* (C, C) F32 in params; .bf16 set at bf16 precision */
    QuantMatrix ff1_w, ff2_w;                   /* (F, C), (C, F) */
    const float *q_b, *k_b, *v_b, *o_b;         /* (C) */
    const float *ff1_b, *ff2_b;                 /* (F), (C) */
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b; /* (C): after attention, after the feed-forward */
} EncoderLayer;

typedef struct Encoder {
    EncoderConfig cfg;
    char path[4096];
    Tokenizer *tok;
    int32_t cls_id, sep_id;  /* what the tokenizer puts around a text */
    float *params;           /* every weight, fp32, one allocation */
    size_t n_params;
    const float *tok_emb, *pos_emb, *type_emb, *emb_ln_w, *emb_ln_b; /* (V, C), (P, C), (types, C), (C) */
    EncoderLayer layers[ENCODER_MAX_LAYERS];
    Precision precision;     /* fp32 (as loaded) or bf16 */
    uint16_t *bf16;          /* the layers' matrices in bf16, one allocation, or NULL at fp32 */
} Encoder;

/* Loads the folder dir. ERR_IO / ERR_FORMAT naming the file and field; ERR_UNSUPPORTED for another
 * model_type than "bert", an activation other than GELU, relative positions, pooling other than
 * mean or CLS, or sentence-transformers modules other than Transformer, Pooling and Normalize. */
int encoder_load(const char *dir, Encoder **out, Err *err);
void encoder_free(Encoder *e); /* NULL is a no-op */

/* Sets the arithmetic of the layers' products (precision.h's choice of want; auto: bf16 where the
 * CPU has AMX-BF16): bf16 makes the bf16 copies (once), fp32 drops them. why as precision_resolve.
 * Not thread-safe: call before the encoder is shared. ERR_UNSUPPORTED for bf16 where it is not
 * available, ERR_NOMEM. */
int encoder_set_precision(Encoder *e, Precision want, char *why, Err *err);

/* The text's tokens without [CLS]/[SEP] (special tokens spelled in the text are parsed, as the
 * reference does). *ids heap, caller frees. */
int encoder_tokenize(const Encoder *e, const char *text, size_t len, int32_t **ids, int *n, Err *err);
/* Most text tokens of one input (max_seq less [CLS] and [SEP]). */
int encoder_max_text_tokens(const Encoder *e);

/* Embeds n inputs, each the text tokens ids[i] (n_ids[i] of them, ids checked against the
 * vocabulary): [CLS] and [SEP] are put around them, and an input with more than
 * encoder_max_text_tokens is cut to that many first (as sentence-transformers truncates). out
 * (n, n_embd). n_threads <= 0: every core. ERR_ARG for a bad id, ERR_NOMEM. */
int encoder_embed(const Encoder *e, const int32_t *const *ids, const int *n_ids, int n, int n_threads, float *out,
                  Err *err);

#endif
