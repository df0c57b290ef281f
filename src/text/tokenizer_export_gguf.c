/* tokenizer_export_gguf.c: a byte-level BPE tokenizer loaded from tokenizer.json written as GGUF
 * tokenizer metadata (tok_export_gguf in tokenizer.h), the keys llama.cpp's convert_hf_to_gguf.py
 * writes and llama.cpp's vocabulary loader reads: tokenizer.ggml.model "gpt2", .pre (the
 * pre-tokenizer's llama.cpp name, recognised from its steps: qwen2, llama-bpe, smollm, gpt-2),
 * .tokens, .token_type, .merges, the bos/eos ids and add_bos_token. SentencePiece tokenizers,
 * normalizers and other pre-tokenizers are refused: llama.cpp would tokenize differently. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/gguf_write.h"
#include "tokenizer_internal.h"

/* llama.cpp's token types (tokenizer.ggml.token_type). */
enum { TYPE_NORMAL = 1, TYPE_CONTROL = 3, TYPE_USER_DEFINED = 4, TYPE_UNUSED = 5 };

static bool is_split(const TokPreStep *st, const char *re) {
    return st->kind == TOK_PRE_SPLIT && st->re_src == re;
}

static bool is_byte_level(const TokPreStep *st, bool with_regex) {
    return st->kind == TOK_PRE_BYTELEVEL && !st->add_prefix_space && (with_regex ? st->re_src == tok_regex_gpt2 : !st->re);
}

/* llama.cpp's tokenizer.ggml.pre for t's pre-tokenizer steps, or NULL. */
static const char *pre_name(const Tokenizer *t) {
    const TokPreStep *p = t->pre;
    if (t->n_pre == 2 && is_split(&p[0], tok_regex_qwen2) && is_byte_level(&p[1], false)) return "qwen2";
    if (t->n_pre == 2 && is_split(&p[0], tok_regex_llama3) && is_byte_level(&p[1], false) && t->ignore_merges)
        return "llama-bpe";
    if (t->n_pre == 2 && p[0].kind == TOK_PRE_SPLIT && p[0].re_src && !strcmp(p[0].re_src, "\\p{N}") &&
        is_byte_level(&p[1], true))
        return "smollm";
    if (t->n_pre == 1 && is_byte_level(&p[0], true)) return "gpt-2";
    return NULL;
}

int tok_export_gguf(const Tokenizer *t, int n_vocab, GgufWriter *w, Err *err) {
    if (t->model != TOK_MODEL_BPE || !t->byte_level || t->byte_fallback)
        return err_set(err, ERR_UNSUPPORTED,
                       "only byte-level BPE tokenizers are written as GGUF metadata (this one is %s)",
                       t->model == TOK_MODEL_SPM ? "SentencePiece" : "BPE with byte fallback");
    const char *pre = pre_name(t);
    if (!pre || t->n_norm)
        return err_set(err, ERR_UNSUPPORTED,
                       "the tokenizer's %s is not one llama.cpp names (Qwen2, Llama 3, SmolLM and GPT-2 byte-level "
                       "pre-tokenizers without a normalizer are)",
                       t->n_norm ? "normalizer" : "pre-tokenizer");
    if (n_vocab < t->n_vocab)
        return err_set(err, ERR_ARG, "the tokenizer has %d tokens, more than the model's %d", t->n_vocab, n_vocab);
    const char **texts = calloc((size_t)n_vocab, sizeof *texts);
    uint32_t *lens = calloc((size_t)n_vocab, sizeof *lens);
    int32_t *types = calloc((size_t)n_vocab, sizeof *types);
    char (*pads)[24] = calloc((size_t)n_vocab, sizeof *pads);
    TokMergeRow *rows = NULL;
    uint32_t n_merges = 0;
    char **merges = NULL;
    int rc = -1;
    if (!texts || !lens || !types || !pads) {
        err_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int32_t id = 0; id < n_vocab; id++) {
        if (id < t->n_vocab && t->text[id]) {
            texts[id] = t->text[id];
            lens[id] = t->text_len[id];
            types[id] = t->attr[id] & TOK_ATTR_CONTROL ? TYPE_CONTROL : t->attr[id] & TOK_ATTR_USER ? TYPE_USER_DEFINED
                                                                                                 : TYPE_NORMAL;
        } else { /* embedding rows beyond the vocabulary: convert_hf_to_gguf.py's padding tokens */
            snprintf(pads[id], sizeof pads[id], "[PAD%d]", id);
            texts[id] = pads[id];
            lens[id] = (uint32_t)strlen(pads[id]);
            types[id] = TYPE_UNUSED;
        }
    }
    if (tok_merge_rows(t, &rows, &n_merges, err)) goto done;
    if (!(merges = calloc(n_merges ? n_merges : 1, sizeof *merges))) {
        err_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < n_merges; i++) {
        size_t la = t->text_len[rows[i].a], lb = t->text_len[rows[i].b];
        if (!(merges[i] = malloc(la + lb + 2))) {
            err_set(err, ERR_NOMEM, "out of memory");
            goto done;
        }
        memcpy(merges[i], t->text[rows[i].a], la);
        merges[i][la] = ' ';
        memcpy(merges[i] + la + 1, t->text[rows[i].b], lb + 1);
    }
    uint8_t add_bos = tok_adds_bos(t);
    if (gguf_writer_add_str(w, "tokenizer.ggml.model", "gpt2", err) ||
        gguf_writer_add_str(w, "tokenizer.ggml.pre", pre, err) ||
        gguf_writer_add_str_array(w, "tokenizer.ggml.tokens", texts, lens, (uint64_t)n_vocab, err) ||
        gguf_writer_add_array(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, (uint64_t)n_vocab, err) ||
        gguf_writer_add_str_array(w, "tokenizer.ggml.merges", (const char *const *)merges, NULL, n_merges, err) ||
        (t->bos_id >= 0 && gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)t->bos_id, err)) ||
        (t->eos_id >= 0 && gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)t->eos_id, err)) ||
        gguf_writer_add_scalar(w, "tokenizer.ggml.add_bos_token", GGUF_TYPE_BOOL, &add_bos, err))
        goto done;
    rc = 0;
done:
    for (uint32_t i = 0; merges && i < n_merges; i++) free(merges[i]);
    free(merges);
    free(rows);
    free(texts);
    free(lens);
    free(types);
    free(pads);
    return rc;
}
