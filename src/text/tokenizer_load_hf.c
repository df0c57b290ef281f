/* tokenizer_load_hf.c: builds a Tokenizer from a Hugging Face tokenizer.json (and optionally
 * tokenizer_config.json) with Jansson. Supported: model BPE (vocab, merges as "a b" strings or
 * [a, b] lists, unk_token, byte_fallback, fuse_unk, ignore_merges) and WordPiece (vocab,
 * unk_token, continuing_subword_prefix, max_input_chars_per_word); added_tokens with special,
 * lstrip, rstrip, single_word, normalized; normalizers NFC, Prepend, Replace, BertNormalizer,
 * Sequence; pre-tokenizers Split, Digits, ByteLevel, Metaspace, Sequence, and BertPreTokenizer
 * (WordPiece only, alone); post-processors ByteLevel, TemplateProcessing, RobertaProcessing,
 * BertProcessing, Sequence; decoders ByteLevel, Metaspace, WordPiece and the
 * Replace/ByteFallback/Fuse/Strip sequence. Anything else is ERR_UNSUPPORTED
 * with its name: it never guesses. It does not tokenize (tokenizer.c). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "tokenizer_internal.h"

/* single_word: is this character a word character, as Rust's regex \w defines it (Alphabetic,
 * marks, decimal digits, connector punctuation, ZWNJ/ZWJ); PCRE2's \w lacks the marks. */
#define RE_WORD "\\A[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}]"

typedef struct {
    Tokenizer *t;
    const char *path;
    Err *err;
} Loader;

static int fail(Loader *L, int code, const char *what) { return err_set(L->err, code, "%s: %s", L->path, what); }

static const char *type_of(json_t *o) {
    json_t *ty = json_is_object(o) ? json_object_get(o, "type") : NULL;
    return json_is_string(ty) ? json_string_value(ty) : NULL;
}

static bool get_bool(json_t *o, const char *key, bool dflt) {
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* Pattern object {"String": s} or {"Regex": r}. */
static int compile_pattern(Loader *L, json_t *pat, pcre2_code **re, const char *where) {
    json_t *s = json_object_get(pat, "String"), *r = json_object_get(pat, "Regex");
    if (json_is_string(s))
        return tok_regex_compile(json_string_value(s), json_string_length(s), true, re, L->err) ? err_prefix(L->err, "%s: %s", L->path, where) : 0;
    if (json_is_string(r))
        return tok_regex_compile(json_string_value(r), json_string_length(r), false, re, L->err) ? err_prefix(L->err, "%s: %s", L->path, where) : 0;
    return err_set(L->err, ERR_FORMAT, "%s: %s: pattern is neither {\"String\"} nor {\"Regex\"}", L->path, where);
}

/* ---- normalizer ---- */
static int parse_normalizer(Loader *L, json_t *n, int depth) {
    Tokenizer *t = L->t;
    if (json_is_null(n) || !n) return 0;
    const char *ty = type_of(n);
    if (!ty) return fail(L, ERR_FORMAT, "normalizer has no \"type\"");
    if (!strcmp(ty, "Sequence")) {
        json_t *list = json_object_get(n, "normalizers");
        if (!json_is_array(list) || depth >= TOK_MAX_NESTING) return fail(L, ERR_FORMAT, "bad normalizer Sequence");
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) if (parse_normalizer(L, v, depth + 1)) return -1;
        return 0;
    }
    if (t->n_norm >= TOK_MAX_STEPS) return fail(L, ERR_UNSUPPORTED, "too many normalizer steps");
    TokNormStep *st = &t->norm[t->n_norm];
    if (!strcmp(ty, "NFC")) {
        st->kind = TOK_NORM_NFC;
    } else if (!strcmp(ty, "BertNormalizer")) {
        st->kind = TOK_NORM_BERT;
        bool lower = get_bool(n, "lowercase", true);
        st->bert = (get_bool(n, "clean_text", true) ? TOK_BERT_CLEAN : 0) |
                   (get_bool(n, "handle_chinese_chars", true) ? TOK_BERT_CJK : 0) |
                   (get_bool(n, "strip_accents", lower) ? TOK_BERT_STRIP : 0) | (lower ? TOK_BERT_LOWER : 0);
    } else if (!strcmp(ty, "Prepend") || !strcmp(ty, "Replace")) {
        json_t *txt = json_object_get(n, !strcmp(ty, "Prepend") ? "prepend" : "content");
        if (!json_is_string(txt)) return fail(L, ERR_FORMAT, "Prepend/Replace normalizer without its text");
        st->kind = !strcmp(ty, "Prepend") ? TOK_NORM_PREPEND : TOK_NORM_REPLACE;
        st->text_len = json_string_length(txt);
        st->text = malloc(st->text_len + 1);
        if (!st->text) return fail(L, ERR_NOMEM, "out of memory");
        memcpy(st->text, json_string_value(txt), st->text_len + 1);
        t->n_norm++; /* owned from here on, freed by tok_free */
        if (st->kind == TOK_NORM_REPLACE && compile_pattern(L, json_object_get(n, "pattern"), &st->re, "Replace normalizer"))
            return -1;
        return 0;
    } else {
        return err_set(L->err, ERR_UNSUPPORTED, "%s: normalizer \"%s\" is not supported (NFC, Prepend, Replace, BertNormalizer, Sequence)",
                       L->path, ty);
    }
    t->n_norm++;
    return 0;
}

/* ---- pre-tokenizer ---- */
static int parse_behavior(Loader *L, json_t *b, TokSplitBehavior *out) {
    const char *s = json_is_string(b) ? json_string_value(b) : "";
    static const struct {
        const char *name;
        TokSplitBehavior b;
    } names[] = {{"Isolated", TOK_SPLIT_ISOLATED},
                 {"Removed", TOK_SPLIT_REMOVED},
                 {"MergedWithPrevious", TOK_SPLIT_MERGED_PREV},
                 {"MergedWithNext", TOK_SPLIT_MERGED_NEXT},
                 {"Contiguous", TOK_SPLIT_CONTIGUOUS}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) {
            *out = names[i].b;
            return 0;
        }
    return err_set(L->err, ERR_UNSUPPORTED, "%s: Split behavior \"%s\" is not supported", L->path, s);
}

static int parse_prepend_scheme(json_t *p, TokPrepend *out) {
    json_t *scheme = json_object_get(p, "prepend_scheme");
    if (json_is_string(scheme)) {
        const char *s = json_string_value(scheme);
        *out = !strcmp(s, "first") ? TOK_PREPEND_FIRST : !strcmp(s, "never") ? TOK_PREPEND_NEVER : TOK_PREPEND_ALWAYS;
    } else {
        *out = get_bool(p, "add_prefix_space", true) ? TOK_PREPEND_ALWAYS : TOK_PREPEND_NEVER;
    }
    return 0;
}

static int parse_pretok(Loader *L, json_t *p, int depth) {
    Tokenizer *t = L->t;
    if (json_is_null(p) || !p) return 0;
    const char *ty = type_of(p);
    if (!ty) return fail(L, ERR_FORMAT, "pre_tokenizer has no \"type\"");
    if (!strcmp(ty, "BertPreTokenizer")) {
        if (t->model != TOK_MODEL_WORDPIECE || depth > 0)
            return fail(L, ERR_UNSUPPORTED, "pre_tokenizer BertPreTokenizer is supported alone with a WordPiece model only");
        t->bert_pretok = true;
        return 0;
    }
    if (t->model == TOK_MODEL_WORDPIECE)
        return err_set(L->err, ERR_UNSUPPORTED, "%s: pre_tokenizer \"%s\" with a WordPiece model is not supported (BertPreTokenizer only)",
                       L->path, ty);
    if (!strcmp(ty, "Sequence")) {
        json_t *list = json_object_get(p, "pretokenizers");
        if (!json_is_array(list) || depth >= TOK_MAX_NESTING) return fail(L, ERR_FORMAT, "bad pre_tokenizer Sequence");
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) if (parse_pretok(L, v, depth + 1)) return -1;
        return 0;
    }
    if (t->n_pre >= TOK_MAX_STEPS) return fail(L, ERR_UNSUPPORTED, "too many pre-tokenizer steps");
    TokPreStep *st = &t->pre[t->n_pre];
    memset(st, 0, sizeof *st);
    if (!strcmp(ty, "Split")) {
        st->kind = TOK_PRE_SPLIT;
        st->invert = get_bool(p, "invert", false);
        if (parse_behavior(L, json_object_get(p, "behavior"), &st->behavior)) return -1;
        if (compile_pattern(L, json_object_get(p, "pattern"), &st->re, "Split pre-tokenizer")) return -1;
        const char *rx = json_string_value(json_object_get(json_object_get(p, "pattern"), "Regex"));
        if (rx && st->behavior == TOK_SPLIT_ISOLATED && !st->invert)
            st->re_src = !strcmp(rx, tok_regex_hf_qwen2) ? tok_regex_qwen2 : !strcmp(rx, tok_regex_hf_llama3) ? tok_regex_llama3 : NULL;
    } else if (!strcmp(ty, "Digits")) {
        st->kind = TOK_PRE_SPLIT;
        st->behavior = get_bool(p, "individual_digits", false) ? TOK_SPLIT_ISOLATED : TOK_SPLIT_CONTIGUOUS;
        if (tok_regex_compile("\\p{N}", 5, false, &st->re, L->err)) return -1;
        if (st->behavior == TOK_SPLIT_ISOLATED) st->re_src = "\\p{N}";
    } else if (!strcmp(ty, "ByteLevel")) {
        st->kind = TOK_PRE_BYTELEVEL;
        st->add_prefix_space = get_bool(p, "add_prefix_space", true);
        if (get_bool(p, "use_regex", true)) {
            if (tok_regex_compile(tok_regex_gpt2, strlen(tok_regex_gpt2), false, &st->re, L->err)) return -1;
            st->re_src = tok_regex_gpt2;
        }
        t->byte_level = true;
    } else if (!strcmp(ty, "Metaspace")) {
        st->kind = TOK_PRE_METASPACE;
        json_t *r = json_object_get(p, "replacement");
        const char *rs = json_is_string(r) ? json_string_value(r) : "\xe2\x96\x81";
        size_t rl = strlen(rs);
        if (rl == 0 || rl > TOK_UTF8_MAX || tok_utf8_len((unsigned char)rs[0]) != rl)
            return fail(L, ERR_FORMAT, "Metaspace replacement is not one character");
        memcpy(st->repl, rs, rl);
        st->repl_len = rl;
        parse_prepend_scheme(p, &st->prepend);
        if (get_bool(p, "split", true) && tok_regex_compile(rs, rl, true, &st->re, L->err)) return -1;
    } else {
        return err_set(L->err, ERR_UNSUPPORTED,
                       "%s: pre_tokenizer \"%s\" is not supported (Split, Digits, ByteLevel, Metaspace, BertPreTokenizer, Sequence)", L->path, ty);
    }
    t->n_pre++;
    return 0;
}

/* ---- post-processor ---- */
static int32_t find_id(Tokenizer *t, const char *s) {
    for (int i = 0; i < t->n_added; i++)
        if (!strcmp(t->added[i].text, s)) return t->added[i].id;
    return tok_strmap_get(t, &t->vocab, s, strlen(s));
}

/* Appends a TemplateProcessing special token's ids to list (*n entries so far). */
static int template_ids(Loader *L, json_t *ids, int32_t *list, int *n) {
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        json_int_t id = json_integer_value(v);
        if (!json_is_integer(v) || id < 0 || id >= L->t->n_vocab) return fail(L, ERR_FORMAT, "post_processor id out of range");
        if (*n >= TOK_MAX_TEMPLATE) return fail(L, ERR_UNSUPPORTED, "post_processor adds too many tokens");
        list[(*n)++] = (int32_t)id;
    }
    return 0;
}

/* Wraps the current prefix/suffix with one more processor's ids (processors in a Sequence apply
 * in order, each around the previous result). */
static int wrap(Loader *L, const int32_t *pre, int npre, const int32_t *suf, int nsuf) {
    Tokenizer *t = L->t;
    if (t->n_prefix + npre > TOK_MAX_TEMPLATE || t->n_suffix + nsuf > TOK_MAX_TEMPLATE)
        return fail(L, ERR_UNSUPPORTED, "post_processor adds too many tokens");
    memmove(t->prefix + npre, t->prefix, (size_t)t->n_prefix * sizeof *t->prefix);
    memcpy(t->prefix, pre, (size_t)npre * sizeof *pre);
    t->n_prefix += npre;
    memcpy(t->suffix + t->n_suffix, suf, (size_t)nsuf * sizeof *suf);
    t->n_suffix += nsuf;
    return 0;
}

static int parse_post(Loader *L, json_t *p, int depth) {
    Tokenizer *t = L->t;
    if (json_is_null(p) || !p) return 0;
    const char *ty = type_of(p);
    if (!ty) return fail(L, ERR_FORMAT, "post_processor has no \"type\"");
    if (!strcmp(ty, "ByteLevel")) return 0;
    if (!strcmp(ty, "Sequence")) {
        json_t *list = json_object_get(p, "processors");
        if (!json_is_array(list) || depth >= TOK_MAX_NESTING) return fail(L, ERR_FORMAT, "bad post_processor Sequence");
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) if (parse_post(L, v, depth + 1)) return -1;
        return 0;
    }
    if (!strcmp(ty, "TemplateProcessing")) {
        json_t *single = json_object_get(p, "single"), *specials = json_object_get(p, "special_tokens");
        if (!json_is_array(single)) return fail(L, ERR_FORMAT, "TemplateProcessing without \"single\"");
        int32_t pre[TOK_MAX_TEMPLATE], suf[TOK_MAX_TEMPLATE];
        int np = 0, ns = 0;
        bool seen_seq = false; /* special tokens before the sequence "A" are a prefix, after it a suffix */
        size_t i;
        json_t *item;
        json_array_foreach(single, i, item) {
            if (json_object_get(item, "Sequence")) {
                seen_seq = true;
                continue;
            }
            json_t *name = json_object_get(json_object_get(item, "SpecialToken"), "id");
            json_t *def = json_is_string(name) ? json_object_get(specials, json_string_value(name)) : NULL;
            json_t *ids = json_object_get(def, "ids");
            if (!json_is_array(ids)) return fail(L, ERR_FORMAT, "TemplateProcessing names an undefined special token");
            if (template_ids(L, ids, seen_seq ? suf : pre, seen_seq ? &ns : &np)) return -1;
        }
        return wrap(L, pre, np, suf, ns);
    }
    if (!strcmp(ty, "RobertaProcessing") || !strcmp(ty, "BertProcessing")) {
        json_t *cls = json_object_get(p, "cls"), *sep = json_object_get(p, "sep");
        json_t *ci = json_array_get(cls, 1), *si = json_array_get(sep, 1);
        if (!json_is_integer(ci) || !json_is_integer(si) || json_integer_value(ci) < 0 ||
            json_integer_value(ci) >= t->n_vocab || json_integer_value(si) < 0 || json_integer_value(si) >= t->n_vocab)
            return fail(L, ERR_FORMAT, "cls/sep of the post_processor are not [text, id]");
        int32_t c = (int32_t)json_integer_value(ci), s = (int32_t)json_integer_value(si);
        return wrap(L, &c, 1, &s, 1);
    }
    return err_set(L->err, ERR_UNSUPPORTED, "%s: post_processor \"%s\" is not supported", L->path, ty);
}

/* ---- decoder ---- */
static int parse_decoder(Loader *L, json_t *d, int depth) {
    Tokenizer *t = L->t;
    if (json_is_null(d) || !d) return 0;
    const char *ty = type_of(d);
    if (!ty) return fail(L, ERR_FORMAT, "decoder has no \"type\"");
    if (!strcmp(ty, "ByteLevel")) {
        t->decoder = TOK_DEC_BYTE_LEVEL;
    } else if (!strcmp(ty, "Metaspace")) {
        TokPrepend pp;
        parse_prepend_scheme(d, &pp);
        t->decoder = TOK_DEC_SPM;
        t->strip_lead = pp != TOK_PREPEND_NEVER ? 1 : 0;
    } else if (!strcmp(ty, "Replace")) {
        json_t *pat = json_object_get(json_object_get(d, "pattern"), "String");
        json_t *content = json_object_get(d, "content");
        if (!json_is_string(pat) || strcmp(json_string_value(pat), "\xe2\x96\x81") || !json_is_string(content) ||
            strcmp(json_string_value(content), " "))
            return fail(L, ERR_UNSUPPORTED, "decoder Replace other than U+2581 -> space is not supported");
        t->decoder = TOK_DEC_SPM;
    } else if (!strcmp(ty, "Strip")) {
        json_t *content = json_object_get(d, "content");
        if (json_is_string(content) && strcmp(json_string_value(content), " "))
            return fail(L, ERR_UNSUPPORTED, "decoder Strip of a character other than space is not supported");
        t->strip_lead = (int)json_integer_value(json_object_get(d, "start"));
    } else if (!strcmp(ty, "WordPiece")) {
        json_t *prefix = json_object_get(d, "prefix");
        if (json_is_string(prefix) && (json_string_length(prefix) != t->wp_prefix_len ||
                                       memcmp(json_string_value(prefix), t->wp_prefix, t->wp_prefix_len)))
            return fail(L, ERR_UNSUPPORTED, "WordPiece decoder prefix differs from the model's continuing_subword_prefix");
        if (t->model != TOK_MODEL_WORDPIECE) return fail(L, ERR_UNSUPPORTED, "WordPiece decoder without a WordPiece model");
        t->decoder = TOK_DEC_WORDPIECE;
        t->wp_cleanup = get_bool(d, "cleanup", true);
    } else if (!strcmp(ty, "ByteFallback")) {
        t->dec_bytes = true;
    } else if (!strcmp(ty, "Fuse")) {
        /* fusing is implicit: the output is one string */
    } else if (!strcmp(ty, "Sequence")) {
        json_t *list = json_object_get(d, "decoders");
        if (!json_is_array(list) || depth >= TOK_MAX_NESTING) return fail(L, ERR_FORMAT, "bad decoder Sequence");
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) if (parse_decoder(L, v, depth + 1)) return -1;
    } else {
        return err_set(L->err, ERR_UNSUPPORTED, "%s: decoder \"%s\" is not supported", L->path, ty);
    }
    return 0;
}

/* ---- model and added tokens ---- */
static int parse_added(Loader *L, json_t *added, int32_t *max_id) {
    Tokenizer *t = L->t;
    if (!added || json_is_null(added)) return 0;
    if (!json_is_array(added)) return fail(L, ERR_FORMAT, "\"added_tokens\" is not an array");
    size_t n = json_array_size(added);
    if (n > TOK_MAX_ADDED) return fail(L, ERR_UNSUPPORTED, "too many added_tokens");
    t->added = calloc(n + 1, sizeof *t->added);
    if (!t->added) return fail(L, ERR_NOMEM, "out of memory");
    size_t i;
    json_t *a;
    json_array_foreach(added, i, a) {
        json_t *id = json_object_get(a, "id"), *content = json_object_get(a, "content");
        if (!json_is_integer(id) || !json_is_string(content) || json_integer_value(id) < 0 ||
            json_integer_value(id) >= TOK_MAX_VOCAB)
            return err_set(L->err, ERR_FORMAT, "%s: added_tokens[%zu] needs an \"id\" and a \"content\"", L->path, i);
        TokAdded *x = &t->added[t->n_added];
        x->id = (int32_t)json_integer_value(id);
        x->len = json_string_length(content);
        x->text = malloc(x->len + 1);
        if (!x->text) return fail(L, ERR_NOMEM, "out of memory");
        memcpy(x->text, json_string_value(content), x->len + 1);
        t->n_added++;
        x->special = get_bool(a, "special", false);
        x->lstrip = get_bool(a, "lstrip", false);
        x->rstrip = get_bool(a, "rstrip", false);
        x->single_word = get_bool(a, "single_word", false);
        x->normalized = get_bool(a, "normalized", !x->special);
        if (x->id > *max_id) *max_id = x->id;
    }
    return 0;
}

static int parse_vocab(Loader *L, json_t *vocab, json_t *added) {
    Tokenizer *t = L->t;
    if (!json_is_object(vocab)) return fail(L, ERR_FORMAT, "model has no \"vocab\" object");
    int32_t max_id = -1;
    const char *key;
    json_t *v;
    json_object_foreach(vocab, key, v) {
        json_int_t id = json_integer_value(v);
        if (!json_is_integer(v) || id < 0 || id >= TOK_MAX_VOCAB)
            return err_set(L->err, ERR_FORMAT, "%s: vocab entry \"%.64s\" has no valid id", L->path, key);
        if (id > max_id) max_id = (int32_t)id;
    }
    if (parse_added(L, added, &max_id)) return -1;
    if (max_id < 0) return fail(L, ERR_FORMAT, "empty vocabulary");
    if (tok_vocab_alloc(t, max_id + 1, false, L->err)) return err_prefix(L->err, "%s", L->path);
    json_object_foreach(vocab, key, v) {
        int32_t id = (int32_t)json_integer_value(v);
        /* json_object_foreach gives NUL-terminated keys; keys with embedded NUL are not supported */
        if (tok_vocab_set(t, id, key, strlen(key), L->err)) return err_prefix(L->err, "%s", L->path);
        t->attr[id] = TOK_ATTR_NORMAL;
    }
    if (tok_strmap_build(t, &t->vocab, false, L->err)) return -1; /* the model's vocabulary only */
    for (int i = 0; i < t->n_added; i++) {
        TokAdded *a = &t->added[i];
        if (!t->text[a->id] && tok_vocab_set(t, a->id, a->text, a->len, L->err)) return -1;
        t->attr[a->id] = a->special ? TOK_ATTR_CONTROL : TOK_ATTR_USER;
    }
    return 0;
}

static int parse_merges(Loader *L, json_t *merges) {
    Tokenizer *t = L->t;
    if (!json_is_array(merges)) return fail(L, ERR_FORMAT, "model has no \"merges\" array");
    if (tok_pairmap_init(&t->merges, json_array_size(merges), L->err)) return -1;
    size_t i;
    json_t *m;
    json_array_foreach(merges, i, m) {
        const char *a, *b;
        size_t na, nb;
        if (json_is_string(m)) {
            const char *s = json_string_value(m);
            const char *sp = strchr(s, ' ');
            if (!sp || strchr(sp + 1, ' '))
                return err_set(L->err, ERR_FORMAT, "%s: merges[%zu] \"%.64s\" is not two tokens separated by one space",
                               L->path, i, s);
            a = s;
            na = (size_t)(sp - s);
            b = sp + 1;
            nb = strlen(b);
        } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) {
            a = json_string_value(json_array_get(m, 0));
            na = json_string_length(json_array_get(m, 0));
            b = json_string_value(json_array_get(m, 1));
            nb = json_string_length(json_array_get(m, 1));
        } else {
            return err_set(L->err, ERR_FORMAT, "%s: merges[%zu] is neither \"a b\" nor [a, b]", L->path, i);
        }
        if (i > INT32_MAX) return fail(L, ERR_FORMAT, "too many merges");
        if (tok_merge_add(t, a, na, b, nb, (int32_t)i, false, true, L->err)) return err_prefix(L->err, "%s", L->path);
    }
    return 0;
}

static int parse_wordpiece(Loader *L, json_t *root, json_t *model) {
    Tokenizer *t = L->t;
    t->model = TOK_MODEL_WORDPIECE;
    if (parse_vocab(L, json_object_get(model, "vocab"), json_object_get(root, "added_tokens"))) return -1;
    json_t *unk = json_object_get(model, "unk_token"), *prefix = json_object_get(model, "continuing_subword_prefix");
    json_t *max = json_object_get(model, "max_input_chars_per_word");
    const char *unk_s = json_is_string(unk) ? json_string_value(unk) : "[UNK]";
    t->unk_id = tok_strmap_get(t, &t->vocab, unk_s, strlen(unk_s));
    if (t->unk_id < 0)
        return err_set(L->err, ERR_FORMAT, "%s: WordPiece unk_token \"%.64s\" is not in the vocabulary", L->path, unk_s);
    const char *pre = json_is_string(prefix) ? json_string_value(prefix) : "##";
    if (strlen(pre) >= TOK_WP_PREFIX_MAX) return fail(L, ERR_UNSUPPORTED, "WordPiece continuing_subword_prefix is too long");
    memcpy(t->wp_prefix, pre, strlen(pre) + 1);
    t->wp_prefix_len = strlen(pre);
    json_int_t mx = json_is_integer(max) ? json_integer_value(max) : 100;
    if (mx < 1 || mx > TOK_WP_MAX_CHARS) return fail(L, ERR_FORMAT, "WordPiece max_input_chars_per_word out of range");
    t->wp_max_chars = (int)mx;
    return 0;
}

static int parse_model(Loader *L, json_t *root) {
    Tokenizer *t = L->t;
    json_t *model = json_object_get(root, "model");
    if (!json_is_object(model)) return fail(L, ERR_FORMAT, "no \"model\" object");
    const char *ty = type_of(model);
    if (ty && !strcmp(ty, "WordPiece")) return parse_wordpiece(L, root, model);
    if (ty && strcmp(ty, "BPE"))
        return err_set(L->err, ERR_UNSUPPORTED, "%s: model type \"%s\" is not supported (BPE, WordPiece)", L->path, ty);
    if (!ty && !json_object_get(model, "merges"))
        return fail(L, ERR_UNSUPPORTED, "model has no \"type\" and no \"merges\": not a BPE model");
    json_t *dropout = json_object_get(model, "dropout");
    if (json_is_number(dropout) && json_number_value(dropout) > 0)
        return fail(L, ERR_UNSUPPORTED, "BPE dropout is not supported");
    const char *fix[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(model, fix[i]);
        if (json_is_string(v) && json_string_length(v) > 0)
            return err_set(L->err, ERR_UNSUPPORTED, "%s: BPE %s is not supported", L->path, fix[i]);
    }
    if (parse_vocab(L, json_object_get(model, "vocab"), json_object_get(root, "added_tokens"))) return -1;
    if (parse_merges(L, json_object_get(model, "merges"))) return -1;
    t->byte_fallback = get_bool(model, "byte_fallback", false);
    t->fuse_unk = get_bool(model, "fuse_unk", false);
    t->ignore_merges = get_bool(model, "ignore_merges", false);
    json_t *unk = json_object_get(model, "unk_token");
    if (json_is_string(unk)) t->unk_id = tok_strmap_get(t, &t->vocab, json_string_value(unk), json_string_length(unk));
    if (t->byte_fallback)
        for (int32_t i = 0; i < t->n_vocab; i++)
            if (t->text[i] && t->attr[i] == TOK_ATTR_NORMAL && t->text_len[i] == 6 && !memcmp(t->text[i], "<0x", 3) &&
                t->text[i][5] == '>')
                t->attr[i] = TOK_ATTR_NORMAL | TOK_ATTR_BYTE;
    return 0;
}

/* Names a token in tokenizer_config.json: a string or {"content": ...}. */
static int32_t config_token(Tokenizer *t, json_t *v) {
    if (json_is_object(v)) v = json_object_get(v, "content");
    return json_is_string(v) ? find_id(t, json_string_value(v)) : -1;
}

static void set_flag_id(int32_t *arr, int *n, int32_t id, bool on, bool front) {
    int k = 0;
    for (int i = 0; i < *n; i++)
        if (arr[i] != id) arr[k++] = arr[i];
    *n = k;
    if (!on || id < 0 || *n >= TOK_MAX_TEMPLATE) return;
    if (front) {
        memmove(arr + 1, arr, (size_t)*n * sizeof *arr);
        arr[0] = id;
    } else {
        arr[*n] = id;
    }
    (*n)++;
}

static int parse_config(Loader *L, const char *path) {
    Tokenizer *t = L->t;
    char *text = NULL;
    size_t len = 0;
    if (file_read_all(path, TOK_MAX_CONFIG_BYTES, &text, &len, L->err)) return -1;
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    free(text);
    if (!json_is_object(root)) {
        json_decref(root);
        return err_set(L->err, ERR_FORMAT, "%s:%d:%d: %s", path, je.line, je.column, root ? "not a JSON object" : je.text);
    }
    int32_t bos = config_token(t, json_object_get(root, "bos_token"));
    int32_t eos = config_token(t, json_object_get(root, "eos_token"));
    if (json_object_get(root, "bos_token")) t->bos_id = bos;
    if (json_object_get(root, "eos_token")) t->eos_id = eos;
    json_t *ab = json_object_get(root, "add_bos_token"), *ae = json_object_get(root, "add_eos_token");
    if (json_is_boolean(ab)) set_flag_id(t->prefix, &t->n_prefix, t->bos_id, json_is_true(ab), true);
    if (json_is_boolean(ae)) set_flag_id(t->suffix, &t->n_suffix, t->eos_id, json_is_true(ae), false);
    json_decref(root);
    return 0;
}

/* BOS/EOS when no tokenizer_config.json names them: the post-processor's, else common names. */
static void guess_bos_eos(Tokenizer *t) {
    static const char *bos_names[] = {"<s>", "<|begin_of_text|>", "<|startoftext|>", "<bos>"};
    static const char *eos_names[] = {"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>", "<|im_end|>"};
    if (t->n_prefix > 0) t->bos_id = t->prefix[0];
    for (size_t i = 0; t->bos_id < 0 && i < sizeof bos_names / sizeof bos_names[0]; i++) t->bos_id = find_id(t, bos_names[i]);
    if (t->n_suffix > 0) t->eos_id = t->suffix[t->n_suffix - 1];
    for (size_t i = 0; t->eos_id < 0 && i < sizeof eos_names / sizeof eos_names[0]; i++) t->eos_id = find_id(t, eos_names[i]);
}

static int build(Loader *L, json_t *root) {
    Tokenizer *t = L->t;
    if (!json_is_object(root)) return fail(L, ERR_FORMAT, "not a JSON object");
    if (parse_model(L, root)) return -1;
    if (parse_normalizer(L, json_object_get(root, "normalizer"), 0)) return -1;
    if (parse_pretok(L, json_object_get(root, "pre_tokenizer"), 0)) return -1;
    if (parse_post(L, json_object_get(root, "post_processor"), 0)) return -1;
    t->decoder = t->byte_level ? TOK_DEC_BYTE_LEVEL : TOK_DEC_PLAIN;
    if (parse_decoder(L, json_object_get(root, "decoder"), 0)) return -1;
    t->model_name = t->model == TOK_MODEL_WORDPIECE ? "WordPiece" : t->byte_level ? "byte-level BPE" : "BPE";
    t->added_style = TOK_ADDED_HF;
    /* normalized added tokens are matched against their normalized content */
    bool need_word = false;
    for (int i = 0; i < t->n_added; i++) {
        TokAdded *a = &t->added[i];
        need_word = need_word || a->single_word;
        if (!a->normalized || t->n_norm == 0) continue;
        TokCtx c = {.t = t, .err = L->err};
        char *nt = NULL;
        size_t nl = 0;
        int rc = tok_normalize(&c, a->text, a->len, &nt, &nl);
        tok_ctx_free(&c);
        if (rc) return -1;
        free(a->text);
        a->text = nt;
        a->len = nl;
    }
    if (need_word && tok_regex_compile(RE_WORD, strlen(RE_WORD), false, &t->re_word, L->err)) return -1;
    return tok_finish(t, L->err);
}

int tok_load_hf(const char *tokenizer_json_path, const char *tokenizer_config_json_path, Tokenizer **out, Err *err) {
    if (!tokenizer_json_path || !out) return err_set(err, ERR_ARG, "tok_load_hf: missing argument");
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    if (file_read_all(tokenizer_json_path, TOK_MAX_JSON_BYTES, &text, &len, err)) return -1;
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    free(text);
    if (!root)
        return err_set(err, ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", tokenizer_json_path, je.line, je.column, je.text);
    Tokenizer *t = tok_new(err);
    if (!t) {
        json_decref(root);
        return -1;
    }
    Loader L = {t, tokenizer_json_path, err};
    int rc = build(&L, root);
    json_decref(root);
    if (!rc) {
        guess_bos_eos(t);
        if (tokenizer_config_json_path) rc = parse_config(&L, tokenizer_config_json_path);
    }
    if (rc) {
        tok_free(t);
        return -1;
    }
    *out = t;
    return 0;
}
