/* tokenizer_export.c: a byte-level BPE tokenizer loaded from GGUF written back as a Hugging Face
 * tokenizer.json (see tok_export_hf in tokenizer.h), so that a merged model exported from a GGUF
 * file is complete. It does not write SentencePiece tokenizers. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

static int by_rank(const void *x, const void *y) {
    const TokMergeRow *p = x, *q = y;
    return p->rank != q->rank ? (p->rank < q->rank ? -1 : 1) : 0;
}

int tok_merge_rows(const Tokenizer *t, TokMergeRow **out, uint32_t *n_out, Err *err) {
    TokMergeRow *rows = malloc((size_t)(t->merges.n ? t->merges.n : 1) * sizeof *rows);
    if (!rows) return err_set(err, ERR_NOMEM, "out of memory");
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->merges.cap && n < t->merges.n; i++) {
        const TokPairSlot *s = &t->merges.slots[i];
        if (s->key == UINT64_MAX) continue;
        rows[n++] = (TokMergeRow){s->rank, (int32_t)(s->key >> 32), (int32_t)(s->key & 0xffffffffu)};
    }
    qsort(rows, n, sizeof *rows, by_rank);
    *out = rows;
    *n_out = n;
    return 0;
}

static json_t *merges_json(const Tokenizer *t, Err *err) {
    TokMergeRow *rows;
    uint32_t n;
    if (tok_merge_rows(t, &rows, &n, err)) return NULL;
    json_t *arr = json_array();
    for (uint32_t i = 0; i < n; i++) {
        const char *a = t->text[rows[i].a], *b = t->text[rows[i].b];
        size_t la = t->text_len[rows[i].a], lb = t->text_len[rows[i].b];
        char *m = malloc(la + lb + 2);
        if (!m) {
            json_decref(arr);
            free(rows);
            err_set(err, ERR_NOMEM, "out of memory");
            return NULL;
        }
        memcpy(m, a, la);
        m[la] = ' ';
        memcpy(m + la + 1, b, lb);
        json_array_append_new(arr, json_stringn(m, la + lb + 1));
        free(m);
    }
    free(rows);
    return arr;
}

static json_t *added_json(const Tokenizer *t) {
    json_t *arr = json_array();
    for (int i = 0; i < t->n_added; i++) {
        const TokAdded *a = &t->added[i];
        json_array_append_new(arr, json_pack("{s:i, s:s%, s:b, s:b, s:b, s:b, s:b}", "id", a->id, "content", a->text,
                                             a->len, "single_word", a->single_word, "lstrip", a->lstrip, "rstrip",
                                             a->rstrip, "normalized", a->normalized, "special", a->special));
    }
    return arr;
}

/* TemplateProcessing that adds the BOS prefix (and EOS suffix) the tokenizer adds, or null. */
static json_t *post_processor_json(const Tokenizer *t) {
    if (!t->n_prefix && !t->n_suffix) return json_null();
    json_t *single = json_array(), *pair = json_array(), *specials = json_object();
    for (int pass = 0; pass < 2; pass++) {
        json_t *seq = pass ? pair : single;
        for (int i = 0; i < t->n_prefix; i++)
            json_array_append_new(seq, json_pack("{s:{s:s, s:i}}", "SpecialToken", "id", t->text[t->prefix[i]], "type_id", 0));
        json_array_append_new(seq, json_pack("{s:{s:s, s:i}}", "Sequence", "id", "A", "type_id", 0));
        for (int i = 0; i < t->n_suffix; i++)
            json_array_append_new(seq, json_pack("{s:{s:s, s:i}}", "SpecialToken", "id", t->text[t->suffix[i]], "type_id", 0));
        if (pass) json_array_append_new(seq, json_pack("{s:{s:s, s:i}}", "Sequence", "id", "B", "type_id", 1));
    }
    for (int i = 0; i < t->n_prefix + t->n_suffix; i++) {
        int32_t id = i < t->n_prefix ? t->prefix[i] : t->suffix[i - t->n_prefix];
        json_object_set_new(specials, t->text[id],
                            json_pack("{s:s, s:[i], s:[s]}", "id", t->text[id], "ids", id, "tokens", t->text[id]));
    }
    return json_pack("{s:s, s:o, s:o, s:o}", "type", "TemplateProcessing", "single", single, "pair", pair,
                     "special_tokens", specials);
}

int tok_export_hf(const Tokenizer *t, char **out, Err *err) {
    *out = NULL;
    if (t->model != TOK_MODEL_BPE || !t->byte_level)
        return err_set(err, ERR_UNSUPPORTED, "only byte-level BPE tokenizers can be written as tokenizer.json");
    if (t->added_style == TOK_ADDED_HF)
        return err_set(err, ERR_UNSUPPORTED, "this tokenizer came from tokenizer.json: copy that file instead");
    json_t *pre = json_array();
    for (int i = 0; i < t->n_pre; i++) {
        const TokPreStep *st = &t->pre[i];
        if (st->kind != TOK_PRE_SPLIT || !st->re_src) {
            json_decref(pre);
            return err_set(err, ERR_UNSUPPORTED, "this tokenizer came from tokenizer.json: copy that file instead");
        }
        json_array_append_new(pre, json_pack("{s:s, s:{s:s}, s:s, s:b}", "type", "Split", "pattern", "Regex",
                                             st->re_src, "behavior", "Isolated", "invert", 0));
    }
    json_array_append_new(pre, json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0,
                                         "trim_offsets", 1, "use_regex", 0));
    json_t *vocab = json_object();
    for (int32_t id = 0; id < t->n_vocab; id++)
        if (t->text[id] && !(t->attr[id] & (TOK_ATTR_CONTROL | TOK_ATTR_USER)))
            json_object_setn_new(vocab, t->text[id], t->text_len[id], json_integer(id));
    for (int i = 0; i < t->n_added; i++) /* HF keeps added tokens in the model vocabulary too */
        json_object_setn_new(vocab, t->added[i].text, t->added[i].len, json_integer(t->added[i].id));
    json_t *merges = merges_json(t, err);
    if (!merges) {
        json_decref(pre);
        json_decref(vocab);
        return -1;
    }
    json_t *model = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE", "dropout",
                              "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 0,
                              "byte_fallback", 0, "ignore_merges", t->ignore_merges, "vocab", vocab, "merges", merges);
    json_t *doc = json_pack("{s:s, s:n, s:n, s:o, s:n, s:{s:s, s:o}, s:o, s:{s:s, s:b, s:b, s:b}, s:o}", "version",
                            "1.0", "truncation", "padding", "added_tokens", added_json(t), "normalizer",
                            "pre_tokenizer", "type", "Sequence", "pretokenizers", pre, "post_processor",
                            post_processor_json(t), "decoder", "type", "ByteLevel", "add_prefix_space", 1,
                            "trim_offsets", 1, "use_regex", 1, "model", model);
    if (!doc) return err_set(err, ERR_NOMEM, "cannot build tokenizer.json");
    *out = json_dumps(doc, JSON_PRESERVE_ORDER);
    json_decref(doc);
    return *out ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}
