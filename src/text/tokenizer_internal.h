/* tokenizer_internal.h: the Tokenizer record and the helpers shared by src/text/tokenizer*.c.
 * Private to the tokenizer files: nothing outside src/text/tokenizer*.c includes it. It holds the
 * vocabulary (texts, attributes, scores) with a string hash map, the BPE merge table, the
 * normalizer and pre-tokenizer steps, the added/special tokens and what the post-processor adds.
 * A Tokenizer is immutable after loading; every encode/decode keeps its scratch in a TokCtx. */
#ifndef FTUNE_TOKENIZER_INTERNAL_H
#define FTUNE_TOKENIZER_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

/* ---- limits ---- */
#define TOK_MAX_VOCAB (1 << 24)                /* most token ids a vocabulary may use */
#define TOK_MAX_TOKEN_BYTES (1 << 16)          /* longest token text, bytes */
#define TOK_MAX_ADDED (1 << 16)                /* most added/special tokens */
#define TOK_MAX_MERGES (1 << 24)               /* most BPE merges */
#define TOK_MAX_STEPS 16                       /* normalizer or pre-tokenizer steps (Sequence flattened) */
#define TOK_MAX_NESTING 8                      /* deepest Sequence nesting in tokenizer.json */
#define TOK_MAX_TEMPLATE 8                     /* ids a post-processor adds before or after the text */
#define TOK_MAX_JSON_BYTES ((size_t)1 << 30)   /* largest tokenizer.json accepted */
#define TOK_MAX_CONFIG_BYTES ((size_t)16 << 20) /* largest tokenizer_config.json accepted */
#define TOK_MAX_TEXT_BYTES ((size_t)1 << 30)   /* longest text tok_encode accepts */
#define TOK_MAX_DECODE_BYTES ((size_t)1 << 31) /* longest text tok_decode produces */
#define TOK_MAX_REGEX_BYTES 4096               /* longest pre-tokenizer regex */
#define TOK_UTF8_MAX 4                         /* bytes in one UTF-8 sequence */
#define TOK_WP_PREFIX_MAX 16                   /* bytes of a WordPiece continuing_subword_prefix + NUL */
#define TOK_WP_MAX_CHARS 100000                /* largest max_input_chars_per_word accepted */

/* ---- token attributes (bit flags, one byte per token) ---- */
enum {
    TOK_ATTR_NORMAL = 1,
    TOK_ATTR_CONTROL = 2,  /* special: matched only with parse_special, dropped by skip_special */
    TOK_ATTR_USER = 4,     /* added / user-defined: always matched in the text, decoded verbatim */
    TOK_ATTR_BYTE = 8,     /* <0xXX> byte-fallback token */
    TOK_ATTR_UNKNOWN = 16, /* <unk> (treated like a control token) */
    TOK_ATTR_UNUSED = 32,  /* unused slot: decodes to nothing */
};

/* ---- hash maps ---- */
/* Open-addressing map from a token text to its id; keys live in the Tokenizer's vocabulary. */
typedef struct {
    uint32_t cap; /* power of two; 0 when empty */
    int32_t *slots; /* token id, or -1 for an empty slot */
} TokStrMap;

/* Open-addressing map from a pair of ids (a << 32 | b) to the merge's rank and result id. */
typedef struct {
    uint64_t key; /* UINT64_MAX when empty */
    int32_t rank;
    int32_t id;
} TokPairSlot;

typedef struct {
    uint32_t cap;
    uint32_t n;
    TokPairSlot *slots;
} TokPairMap;

/* ---- pipeline steps ---- */
typedef enum { TOK_NORM_NFC, TOK_NORM_PREPEND, TOK_NORM_REPLACE, TOK_NORM_BERT } TokNormKind;

/* BertNormalizer's options (TokNormStep.bert): bit flags */
enum { TOK_BERT_CLEAN = 1, TOK_BERT_CJK = 2, TOK_BERT_STRIP = 4, TOK_BERT_LOWER = 8 };

typedef struct {
    TokNormKind kind;
    char *text; /* PREPEND: the prefix; REPLACE: the replacement */
    size_t text_len;
    pcre2_code *re; /* REPLACE: the pattern (a literal is compiled with PCRE2_LITERAL) */
    unsigned bert;  /* BERT: TOK_BERT_* options */
} TokNormStep;

typedef enum { TOK_PRE_SPLIT, TOK_PRE_BYTELEVEL, TOK_PRE_METASPACE } TokPreKind;

typedef enum {
    TOK_SPLIT_ISOLATED,
    TOK_SPLIT_REMOVED,
    TOK_SPLIT_MERGED_PREV,
    TOK_SPLIT_MERGED_NEXT,
    TOK_SPLIT_CONTIGUOUS,
} TokSplitBehavior;

typedef enum { TOK_PREPEND_NEVER, TOK_PREPEND_FIRST, TOK_PREPEND_ALWAYS } TokPrepend;

typedef struct {
    TokPreKind kind;
    pcre2_code *re;            /* SPLIT, BYTELEVEL with use_regex, METASPACE with split */
    const char *re_src;        /* the (static) pattern text when it is a known one, for the exports:
                                * SPLIT from GGUF, or from tokenizer.json a known regex (as llama.cpp
                                * spells it) or Digits (\p{N}); BYTELEVEL with its GPT-2 regex */
    TokSplitBehavior behavior; /* SPLIT (METASPACE splits MergedWithNext) */
    bool invert;               /* SPLIT */
    bool add_prefix_space;     /* BYTELEVEL */
    char repl[TOK_UTF8_MAX + 1]; /* METASPACE replacement character, UTF-8 */
    size_t repl_len;
    TokPrepend prepend;        /* METASPACE */
} TokPreStep;

/* An added token (HF added_tokens, or a GGUF control/user-defined/unknown token). */
typedef struct {
    int32_t id;
    char *text; /* content as matched in the text (for HF normalized tokens: normalized content) */
    size_t len;
    bool special; /* skipped when parse_special is false */
    bool lstrip, rstrip, single_word, normalized;
} TokAdded;

/* Matching set over a subset of the added tokens: indices into Tokenizer.added sorted by first
 * byte, then longest first, with the start of each first-byte bucket. */
typedef struct {
    int32_t *idx;
    int n;
    int32_t bucket[257];
} TokAddedSet;

typedef enum {
    TOK_ADDED_HF,    /* leftmost-longest over the text (HF AddedVocabulary) */
    TOK_ADDED_LLAMA, /* longest token first, every occurrence (llama.cpp tokenizer_st_partition) */
} TokAddedStyle;

typedef enum { TOK_MODEL_BPE, TOK_MODEL_SPM, TOK_MODEL_WORDPIECE } TokModelKind;

typedef enum {
    TOK_DEC_BYTE_LEVEL, /* GPT-2 byte-to-unicode mapping reversed */
    TOK_DEC_SPM,        /* U+2581 -> space, <0xXX> -> byte, strip_lead leading spaces */
    TOK_DEC_PLAIN,      /* token texts concatenated, <0xXX> -> byte */
    TOK_DEC_WORDPIECE,  /* "##" continuations glued, other tokens after a space (tokenizer_bert.c) */
} TokDecoderKind;

struct Tokenizer {
    TokModelKind model;
    const char *model_name;

    /* vocabulary: ids 0..n_vocab-1; a hole (an id no entry names) has text NULL */
    int32_t n_vocab;
    char **text;      /* NUL-terminated copies */
    uint32_t *text_len;
    uint8_t *attr;    /* TOK_ATTR_* */
    float *score;     /* SPM scores, NULL for BPE */
    TokStrMap vocab;  /* model vocabulary: text -> id */

    /* BPE */
    TokPairMap merges;
    bool byte_level;       /* words are bytes mapped by the GPT-2 byte-to-unicode table */
    int32_t byte_id[256];  /* byte-level: id of the mapped character; else id of <0xXX>; -1 none */
    bool byte_fallback;    /* HF BPE: unknown characters become <0xXX> tokens */
    bool ignore_merges;    /* a word found whole in the vocabulary is one token */
    int32_t unk_id;        /* -1 if none */
    bool unknown_blocks;   /* llama.cpp: a character missing from the vocabulary (no <unk>) still
                              separates its neighbours (no merge across it) and then vanishes;
                              HF drops it before merging */
    bool fuse_unk;

    /* SPM */
    bool add_space_prefix;

    /* WordPiece (tokenizer_bert.c); unk_id is its unknown token */
    char wp_prefix[TOK_WP_PREFIX_MAX]; /* continuing_subword_prefix, e.g. "##" */
    size_t wp_prefix_len;
    int wp_max_chars;                  /* a longer word is one unk token */
    bool bert_pretok;                  /* BertPreTokenizer: split at whitespace, isolate punctuation */
    bool wp_cleanup;                   /* WordPiece decoder's cleanup of " ." " ," ... */

    /* normalizer and pre-tokenizer */
    int n_norm;
    TokNormStep norm[TOK_MAX_STEPS];
    int n_pre;
    TokPreStep pre[TOK_MAX_STEPS];

    /* added tokens */
    TokAddedStyle added_style;
    int n_added;
    TokAdded *added;
    TokAddedSet set_raw;  /* matched on the raw text (HF normalized=false; every GGUF one) */
    TokAddedSet set_norm; /* matched on normalized text (HF normalized=true) */
    pcre2_code *re_word;       /* \A\w, anchored word-character test (single_word) */

    /* post-processor: ids added around the text when add_special */
    int n_prefix, n_suffix;
    int32_t prefix[TOK_MAX_TEMPLATE];
    int32_t suffix[TOK_MAX_TEMPLATE];
    int32_t bos_id, eos_id;

    /* decoder */
    TokDecoderKind decoder;
    int strip_lead;  /* leading spaces removed from the decoded text */
    bool dec_bytes;  /* <0xXX> byte tokens decode to their byte (HF ByteFallback decoder) */
};

/* ---- BPE merges by rank (tokenizer_export.c) ---- */
typedef struct {
    int32_t rank, a, b;
} TokMergeRow;
/* Every merge of t, by rank (*out heap, caller frees). ERR_NOMEM. */
int tok_merge_rows(const Tokenizer *t, TokMergeRow **out, uint32_t *n, Err *err);

/* ---- growable id vector ---- */
typedef struct {
    int32_t *v;
    size_t n, cap;
} TokIds;

int tok_ids_push(TokIds *ids, int32_t id, Err *err);

/* ---- per-call scratch ---- */
typedef struct {
    size_t start, end;
} TokSpan;

typedef struct {
    const Tokenizer *t;
    pcre2_match_data *md;
    Err *err;
    /* BPE word scratch */
    int32_t *sym_id;
    int32_t *sym_prev, *sym_next;
    uint32_t *sym_len;
    size_t sym_cap;
    void *heap;
    size_t heap_cap; /* bytes */
    char *word_buf; /* byte-level mapped word (ignore_merges) */
    size_t word_cap;
    /* regex split scratch: parts of one span and whether each is a match */
    TokSpan *parts;
    bool *part_match;
    size_t n_parts, parts_cap;
} TokCtx;

void tok_ctx_free(TokCtx *c);
int tok_ctx_reserve_syms(TokCtx *c, size_t n);
int tok_ctx_reserve_heap(TokCtx *c, size_t n, size_t elem);

/* ---- hash maps (tokenizer_vocab.c) ---- */
uint64_t tok_hash_bytes(const void *p, size_t n);
int tok_strmap_build(const Tokenizer *t, TokStrMap *m, bool first_wins, Err *err);
int32_t tok_strmap_get(const Tokenizer *t, const TokStrMap *m, const char *s, size_t n);
void tok_strmap_free(TokStrMap *m);
int tok_pairmap_init(TokPairMap *m, size_t n_expected, Err *err);
/* Inserts (a, b) -> (rank, id). first_wins keeps an existing entry (llama.cpp), else replaces (HF). */
void tok_pairmap_put(TokPairMap *m, int32_t a, int32_t b, int32_t rank, int32_t id, bool first_wins);
const TokPairSlot *tok_pairmap_get(const TokPairMap *m, int32_t a, int32_t b);
void tok_pairmap_free(TokPairMap *m);

/* Allocates the vocabulary arrays for n ids (texts NULL, attrs 0). */
int tok_vocab_alloc(Tokenizer *t, int32_t n, bool with_scores, Err *err);
/* Sets the text of id (copied). */
int tok_vocab_set(Tokenizer *t, int32_t id, const char *s, size_t n, Err *err);
/* Adds the merge "a b" given as two texts; returns 0 (also when skipped: unknown part or result). */
int tok_merge_add(Tokenizer *t, const char *a, size_t na, const char *b, size_t nb, int32_t rank,
                  bool first_wins, bool strict, Err *err);
/* Fills byte_id[] from the vocabulary (byte-level mapped characters, or <0xXX> tokens). */
void tok_fill_byte_ids(Tokenizer *t);
/* Builds set_raw / set_norm from t->added. */
int tok_added_build_sets(Tokenizer *t, Err *err);

/* ---- Unicode helpers (tokenizer_unicode.c) ---- */
/* Decodes one UTF-8 sequence the way llama.cpp does (lenient): returns its length in bytes and
 * the code point, or length 1 and U+FFFD for an invalid byte. */
size_t tok_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
size_t tok_utf8_encode(uint32_t cp, char *out); /* returns 1..4 */
/* Length of the UTF-8 sequence a lead byte announces, by its high nibble as llama.cpp counts it
 * (1 for ASCII and continuation bytes, 2 for 0xC0..0xDF, 3 for 0xE0..0xEF, 4 for 0xF0..0xFF). */
size_t tok_utf8_len(unsigned char lead);
/* Rewrites text the way llama.cpp decodes and re-encodes it: every byte that does not start a
 * well-formed sequence becomes U+FFFD, overlong forms are re-encoded shortest, code points past
 * U+10FFFF become U+FFFD. Surrogate code points (ED A0..BF xx) are kept when keep_surrogates (as
 * llama.cpp does; the result is then valid UTF-8 except for those, see tok_regex_shadow), else
 * they become U+FFFD too. *out is heap (caller frees). */
int tok_utf8_sanitize(const char *s, size_t n, bool keep_surrogates, char **out, size_t *out_len, Err *err);
/* The GPT-2 byte-to-unicode table: code point standing for byte b, and the reverse (-1 if none). */
uint32_t tok_byte_to_cp(unsigned char b);
int tok_cp_to_byte(uint32_t cp);
/* NFC normalization of valid UTF-8 into a heap buffer. */
int tok_nfc(const char *s, size_t n, char **out, size_t *out_len, Err *err);

typedef struct {
    uint32_t first, last;
    uint8_t ccc;
} TokCccRange;
typedef struct {
    uint32_t cp, a, b;
} TokDecomp;
typedef struct {
    uint32_t a, b, cp;
} TokComp;
extern const TokCccRange tok_ccc_ranges[];
extern const int tok_n_ccc_ranges;
extern const TokDecomp tok_decomps[];
extern const int tok_n_decomps;
extern const TokComp tok_comps[];
extern const int tok_n_comps;

/* BERT character tables (tokenizer_bert_data.c, scripts/gen_tokenizer_bert_unicode.py) */
enum {
    TOK_BERT_F_CONTROL = 1,    /* clean_text removes it */
    TOK_BERT_F_SPACE = 2,      /* clean_text turns it into a space */
    TOK_BERT_F_CJK = 4,        /* handle_chinese_chars surrounds it with spaces */
    TOK_BERT_F_PRE_SPACE = 8,  /* the pre-tokenizer splits there and drops it */
    TOK_BERT_F_PRE_PUNCT = 16, /* the pre-tokenizer isolates it */
    TOK_BERT_F_MARK = 32,      /* strip_accents drops it */
};
typedef struct {
    uint32_t first, last;
    uint8_t flags;
} TokBertRange;
typedef struct {
    uint32_t cp;
    uint16_t at, n; /* n code points from the pool, at index at */
} TokBertMap;
extern const TokBertRange tok_bert_ranges[];
extern const int tok_bert_n_ranges;
extern const TokBertMap tok_bert_strip[], tok_bert_lower[];
extern const uint32_t tok_bert_strip_pool[], tok_bert_lower_pool[];
extern const int tok_bert_n_strip, tok_bert_n_lower;

/* ---- BERT pieces (tokenizer_bert.c) ---- */
/* BertNormalizer with st->bert's options over valid UTF-8; *out heap. */
int tok_bert_normalize(TokCtx *c, const TokNormStep *st, const char *s, size_t n, char **out, size_t *out_len);
/* A WordPiece tokenizer's segment: BertPreTokenizer's words (when bert_pretok, else the whole
 * segment), each through WordPiece. */
int tok_wordpiece_segment(TokCtx *c, const char *s, size_t n, TokIds *out);
/* WordPiece decoder: a token's text s[0..n) as HF's decoder writes it, the first token of the
 * output (first) or a later one; *out heap. */
int tok_wordpiece_piece(const Tokenizer *t, bool first, const char *s, size_t n, char **out, size_t *out_len,
                        Err *err);

/* ---- regex (tokenizer_pretok.c) ---- */
/* Compiles a pattern with PCRE2_UTF | PCRE2_UCP (and JIT when available); literal for String. */
int tok_regex_compile(const char *pattern, size_t len, bool literal, pcre2_code **out, Err *err);
/* A copy of s[0..n) with every surrogate sequence replaced by U+FFFD (same length) for PCRE2,
 * which needs valid UTF-8; NULL when s has none (or on allocation failure: *err_nomem set). */
char *tok_regex_shadow(const char *s, size_t n, bool *err_nomem);
/* Finds the next match in s[0..n) at or after *pos; returns 1 with [*ms, *me), 0 when none. */
int tok_regex_next(TokCtx *c, const pcre2_code *re, const char *s, size_t n, size_t pos, size_t *ms,
                   size_t *me);
extern const char *const tok_regex_gpt2;
extern const char *const tok_regex_llama3;
extern const char *const tok_regex_qwen2;
extern const char *const tok_regex_hf_qwen2;  /* tokenizer.json's spelling of tok_regex_qwen2 */
extern const char *const tok_regex_hf_llama3; /* tokenizer.json's spelling of tok_regex_llama3 */

/* ---- pipeline stages ---- */
/* Applies the normalizer steps; *out is heap (may be a copy of the input). */
int tok_normalize(TokCtx *c, const char *s, size_t n, char **out, size_t *out_len);
/* Pre-tokenizes s (normalized text of one segment) and runs the model on every word. is_first
 * says whether the segment starts the input (Metaspace prepend_scheme "first"). */
int tok_encode_segment(TokCtx *c, const char *s, size_t n, bool is_first, TokIds *out);
/* BPE on one word (already split); byte-level words are raw bytes. */
int tok_bpe_word(TokCtx *c, const char *s, size_t n, TokIds *out);
/* llama.cpp's SentencePiece algorithm on one fragment (spaces already escaped). */
int tok_spm_fragment(TokCtx *c, const char *s, size_t n, TokIds *out);

/* Added-token splitting: calls emit for each text piece and each matched token, in order. */
typedef int (*TokPieceFn)(TokCtx *c, void *user, const char *s, size_t n, int32_t id, bool is_first);
int tok_split_added(TokCtx *c, const TokAddedSet *set, const char *s, size_t n, bool parse_special,
                    bool at_start, TokPieceFn emit, void *user);

/* ---- loader helpers ---- */
Tokenizer *tok_new(Err *err);
/* Finishes a loaded tokenizer: byte ids, added sets, decoder checks. */
int tok_finish(Tokenizer *t, Err *err);

#endif
