/* tokenizer_load_gguf.c: builds a Tokenizer from GGUF metadata (tokenizer.ggml.*) the way
 * llama.cpp's llama_vocab::load does: model "gpt2" is byte-level BPE with string merges and a
 * pre-tokenizer regex list chosen by tokenizer.ggml.pre; model "llama" is SentencePiece BPE with
 * scores and <0xXX> byte fallback. Token types 2 (unknown), 3 (control) and 4 (user-defined)
 * become added tokens, matched longest first. It does not read tensors or other metadata, and
 * supports only the pre-tokenizer names in the table below (others: ERR_UNSUPPORTED). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/gguf.h"
#include "tokenizer_internal.h"

#define MAX_PRE_REGEXES 4

/* llama.cpp's token types (tokenizer.ggml.token_type). */
enum {
    GGML_TOKEN_NORMAL = 1,
    GGML_TOKEN_UNKNOWN = 2,
    GGML_TOKEN_CONTROL = 3,
    GGML_TOKEN_USER_DEFINED = 4,
    GGML_TOKEN_UNUSED = 5,
    GGML_TOKEN_BYTE = 6,
};

/* llama.cpp's BPE defaults when the GGUF names no BOS/EOS. */
#define GPT2_DEFAULT_BOS 11
#define GPT2_DEFAULT_EOS 11
#define SPM_DEFAULT_BOS 1
#define SPM_DEFAULT_EOS 2
#define SPM_DEFAULT_UNK 0

/* The regex of llama.cpp's "default" pre-tokenizer's first step, and falcon's. */
#define RE_PUNCT_DEFAULT "[\\p{P}\\$\\+<=>\\^~\\|]+"
#define RE_PUNCT_FALCON "[\\p{P}\\$\\+<=>\\^~\\|`]+"

typedef struct {
    const char *names; /* '|'-separated tokenizer.ggml.pre values */
    bool add_bos;      /* llama.cpp's default before tokenizer.ggml.add_bos_token */
    bool ignore_merges;
    const char *regex[MAX_PRE_REGEXES]; /* NULL-terminated; NULL slot 0 = GPT-2 regex via code */
} PreSpec;

static const PreSpec *find_pre(const char *name) {
    static const PreSpec specs[] = {
        {"default", false, false, {RE_PUNCT_DEFAULT, "GPT2", "\\p{N}+", "[0-9][0-9][0-9]"}},
        {"llama3|llama-v3|llama-bpe|falcon3|falcon-h1|pixtral|midm-2.0|lfm2", true, true, {"LLAMA3"}},
        {"dbrx|smaug-bpe", false, false, {"LLAMA3"}},
        {"chatglm-bpe", false, false, {"LLAMA3"}},
        {"gpt-2|gpt2|phi-2|jina-es|jina-de|gigachat|jina-v2-es|jina-v2-de|mellum|mpt|olmo|jais|exaone4|trillion|"
         "granite-docling",
         false, false, {"GPT2"}},
        {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b|mellum2", false, false, {"\\p{N}", "GPT2"}},
        {"qwen2|deepseek-r1-qwen|megrez|stablelm2|hunyuan|solar-open", false, false, {"QWEN2"}},
        {"falcon", false, false, {RE_PUNCT_FALCON, "GPT2", "[0-9][0-9][0-9]"}},
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        const char *p = specs[i].names;
        size_t n = strlen(name);
        while (*p) {
            const char *bar = strchr(p, '|');
            size_t k = bar ? (size_t)(bar - p) : strlen(p);
            if (k == n && !memcmp(p, name, n)) return &specs[i];
            p += k + (bar ? 1 : 0);
        }
    }
    return NULL;
}

static const char *regex_text(const char *r) {
    if (!strcmp(r, "GPT2")) return tok_regex_gpt2;
    if (!strcmp(r, "LLAMA3")) return tok_regex_llama3;
    if (!strcmp(r, "QWEN2")) return tok_regex_qwen2;
    return r;
}

static const GgufKV *find_array(const Gguf *g, const char *key, GgufType elem, uint64_t min_len, bool required,
                                Err *err, int *rc) {
    const GgufKV *kv = gguf_find(g, key);
    *rc = 0;
    if (!kv) {
        if (required) *rc = err_set(err, ERR_FORMAT, "%s: no %s", gguf_path(g), key);
        return NULL;
    }
    bool ok = kv->type == GGUF_TYPE_ARRAY && (kv->arr_type == elem || (elem == GGUF_TYPE_FLOAT32 && kv->arr_type == GGUF_TYPE_INT32));
    if (!ok) {
        *rc = err_set(err, ERR_FORMAT, "%s: %s is not an array of %s", gguf_path(g), key, gguf_type_name(elem));
        return NULL;
    }
    if (kv->arr_len < min_len) {
        *rc = err_set(err, ERR_FORMAT, "%s: %s has %llu entries, fewer than the %llu tokens", gguf_path(g), key,
                      (unsigned long long)kv->arr_len, (unsigned long long)min_len);
        return NULL;
    }
    return kv;
}

static int32_t special_id(const Gguf *g, const char *key, int32_t dflt, int32_t n_vocab) {
    const GgufKV *kv = gguf_find(g, key);
    if (!kv || kv->type == GGUF_TYPE_ARRAY || kv->type == GGUF_TYPE_STRING) return dflt;
    int64_t v = gguf_get_int(g, key, -1);
    if (v < 0 || v >= n_vocab) return dflt; /* llama.cpp: out of range keeps the default */
    return (int32_t)v;
}

static int cmp_added_len(const void *pa, const void *pb) {
    const TokAdded *a = pa, *b = pb;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int load_added(Tokenizer *t, Err *err) {
    int n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (t->attr[i] & (TOK_ATTR_CONTROL | TOK_ATTR_USER | TOK_ATTR_UNKNOWN)) n++;
    if (n > TOK_MAX_ADDED) return err_set(err, ERR_UNSUPPORTED, "%d special tokens (limit %d)", n, TOK_MAX_ADDED);
    t->added = calloc((size_t)n + 1, sizeof *t->added);
    if (!t->added) return err_set(err, ERR_NOMEM, "tokenizer: out of memory");
    for (int32_t i = 0; i < t->n_vocab; i++) {
        if (!(t->attr[i] & (TOK_ATTR_CONTROL | TOK_ATTR_USER | TOK_ATTR_UNKNOWN))) continue;
        TokAdded *a = &t->added[t->n_added];
        a->text = malloc(t->text_len[i] + 1);
        if (!a->text) return err_set(err, ERR_NOMEM, "tokenizer: out of memory");
        memcpy(a->text, t->text[i], t->text_len[i] + 1);
        a->len = t->text_len[i];
        a->id = i;
        a->special = (t->attr[i] & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN)) != 0;
        t->n_added++;
    }
    qsort(t->added, (size_t)t->n_added, sizeof *t->added, cmp_added_len);
    t->added_style = TOK_ADDED_LLAMA;
    return 0;
}

static int load_merges(Tokenizer *t, const Gguf *g, Err *err) {
    int rc;
    const GgufKV *m = find_array(g, "tokenizer.ggml.merges", GGUF_TYPE_STRING, 0, true, err, &rc);
    if (!m) return -1;
    if (m->arr_len > INT32_MAX) return err_set(err, ERR_FORMAT, "%s: too many merges", gguf_path(g));
    if (tok_pairmap_init(&t->merges, m->arr_len, err)) return -1;
    for (uint64_t i = 0; i < m->arr_len; i++) {
        const char *s = m->arr_str[i];
        size_t n = m->arr_str_len[i];
        const char *sp = n > 1 ? memchr(s + 1, ' ', n - 1) : NULL; /* llama.cpp: find(' ', 1) */
        if (!sp) continue;
        size_t na = (size_t)(sp - s);
        if (tok_merge_add(t, s, na, sp + 1, n - na - 1, (int32_t)i, true, false, err)) return -1;
    }
    return 0;
}

static int load_pre(Tokenizer *t, const Gguf *g, bool *add_bos, Err *err) {
    const char *pre = gguf_get_str(g, "tokenizer.ggml.pre", "");
    const PreSpec *spec = find_pre(*pre ? pre : "default");
    if (!spec)
        return err_set(err, ERR_UNSUPPORTED, "%s: tokenizer.ggml.pre \"%s\" is not a supported pre-tokenizer",
                       gguf_path(g), pre);
    *add_bos = spec->add_bos;
    t->ignore_merges = spec->ignore_merges;
    for (int i = 0; i < MAX_PRE_REGEXES && spec->regex[i]; i++) {
        const char *re = regex_text(spec->regex[i]);
        TokPreStep *st = &t->pre[t->n_pre++];
        st->kind = TOK_PRE_SPLIT;
        st->behavior = TOK_SPLIT_ISOLATED;
        st->re_src = re;
        if (tok_regex_compile(re, strlen(re), false, &st->re, err)) return -1;
    }
    return 0;
}

static int build(Tokenizer *t, const Gguf *g, Err *err) {
    const char *model = gguf_get_str(g, "tokenizer.ggml.model", NULL);
    if (!model) return err_set(err, ERR_FORMAT, "%s: no tokenizer.ggml.model", gguf_path(g));
    bool bpe = !strcmp(model, "gpt2"), spm = !strcmp(model, "llama");
    if (!bpe && !spm)
        return err_set(err, ERR_UNSUPPORTED, "%s: tokenizer.ggml.model \"%s\" is not supported (gpt2, llama)",
                       gguf_path(g), model);
    int rc;
    const GgufKV *toks = find_array(g, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, 0, true, err, &rc);
    if (!toks) return -1;
    if (toks->arr_len == 0 || toks->arr_len > TOK_MAX_VOCAB)
        return err_set(err, ERR_FORMAT, "%s: %llu tokens (limit %d)", gguf_path(g), (unsigned long long)toks->arr_len,
                       TOK_MAX_VOCAB);
    int32_t n = (int32_t)toks->arr_len;
    const GgufKV *scores = find_array(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, (uint64_t)n, false, err, &rc);
    if (rc) return -1;
    const GgufKV *types = find_array(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, (uint64_t)n, false, err, &rc);
    if (rc) return -1;
    if (tok_vocab_alloc(t, n, spm, err)) return -1;
    for (int32_t i = 0; i < n; i++) {
        if (toks->arr_str_len[i] == 0) { /* llama.cpp renames empty tokens */
            char name[32];
            int k = snprintf(name, sizeof name, "[EMPTY_%d]", (int)i);
            if (tok_vocab_set(t, i, name, (size_t)k, err)) return -1;
        } else if (tok_vocab_set(t, i, toks->arr_str[i], toks->arr_str_len[i], err)) {
            return err_prefix(err, "%s", gguf_path(g));
        }
        if (spm) t->score[i] = scores ? (float)gguf_arr_float(scores, (uint64_t)i) : 0.0f;
        int64_t ty = types ? gguf_arr_int(types, (uint64_t)i) : GGML_TOKEN_NORMAL;
        t->attr[i] = ty == GGML_TOKEN_NORMAL         ? TOK_ATTR_NORMAL
                     : ty == GGML_TOKEN_UNKNOWN      ? TOK_ATTR_UNKNOWN
                     : ty == GGML_TOKEN_CONTROL      ? TOK_ATTR_CONTROL
                     : ty == GGML_TOKEN_USER_DEFINED ? TOK_ATTR_USER
                     : ty == GGML_TOKEN_UNUSED       ? TOK_ATTR_UNUSED
                     : ty == GGML_TOKEN_BYTE         ? TOK_ATTR_BYTE
                                                     : 0;
    }
    if (tok_strmap_build(t, &t->vocab, false, err)) return -1; /* later duplicates win, as in llama.cpp */
    bool add_bos = false;
    if (bpe) {
        t->model = TOK_MODEL_BPE;
        t->model_name = "byte-level BPE";
        t->byte_level = true;
        t->decoder = TOK_DEC_BYTE_LEVEL;
        if (load_merges(t, g, err) || load_pre(t, g, &add_bos, err)) return -1;
        t->bos_id = special_id(g, "tokenizer.ggml.bos_token_id", GPT2_DEFAULT_BOS < n ? GPT2_DEFAULT_BOS : -1, n);
        t->eos_id = special_id(g, "tokenizer.ggml.eos_token_id", GPT2_DEFAULT_EOS < n ? GPT2_DEFAULT_EOS : -1, n);
        t->unk_id = -1; /* llama.cpp's BPE drops what it cannot encode */
        t->unknown_blocks = true;
    } else {
        t->model = TOK_MODEL_SPM;
        t->model_name = "SentencePiece BPE";
        t->decoder = TOK_DEC_SPM;
        t->dec_bytes = true;
        add_bos = true;
        t->add_space_prefix = gguf_get_int(g, "tokenizer.ggml.add_space_prefix", 1) != 0;
        t->strip_lead = t->add_space_prefix ? 1 : 0;
        t->bos_id = special_id(g, "tokenizer.ggml.bos_token_id", SPM_DEFAULT_BOS < n ? SPM_DEFAULT_BOS : -1, n);
        t->eos_id = special_id(g, "tokenizer.ggml.eos_token_id", SPM_DEFAULT_EOS < n ? SPM_DEFAULT_EOS : -1, n);
        t->unk_id = special_id(g, "tokenizer.ggml.unknown_token_id", SPM_DEFAULT_UNK < n ? SPM_DEFAULT_UNK : -1, n);
    }
    add_bos = gguf_get_int(g, "tokenizer.ggml.add_bos_token", add_bos) != 0;
    bool add_eos = gguf_get_int(g, "tokenizer.ggml.add_eos_token", 0) != 0;
    if (add_bos && t->bos_id >= 0) t->prefix[t->n_prefix++] = t->bos_id;
    if (add_eos && t->eos_id >= 0) t->suffix[t->n_suffix++] = t->eos_id;
    if (load_added(t, err)) return -1;
    return tok_finish(t, err);
}

int tok_load_gguf(const struct Gguf *g, Tokenizer **out, Err *err) {
    if (!g || !out) return err_set(err, ERR_ARG, "tok_load_gguf: missing argument");
    *out = NULL;
    Tokenizer *t = tok_new(err);
    if (!t) return -1;
    if (build(t, g, err)) {
        tok_free(t);
        return -1;
    }
    *out = t;
    return 0;
}
