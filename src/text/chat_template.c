/* chat_template.c: recognises a model's Jinja chat template and renders messages natively.
 * Recognition lexes the Jinja source (tags, string literals with Python escapes, names, and the
 * text between tags after trim_blocks/lstrip_blocks/"-" whitespace control) and matches its
 * vocabulary against a table of known template variants; the renderers then write exactly what
 * those templates write, byte for byte (tests/golden/chat_template holds jinja2's renderings).
 * It deliberately does not evaluate Jinja: a template outside the table is ERR_UNSUPPORTED.
 * Rendering runs twice over the messages, first to size the output, then to fill it. */
#include "chat_template.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Known variants. A template matches a variant when every literal and name it contains is listed
 * (required or optional), every required one is present, and the default-system rule holds. */

typedef enum {
    VARIANT_PLAIN,
    VARIANT_CHATML,
    VARIANT_QWEN25,
    VARIANT_LLAMA3,
    VARIANT_LLAMA3_ALWAYS_GEN,
    VARIANT_LLAMA2,
    VARIANT_MISTRAL_V01,
    VARIANT_MISTRAL_LEGACY,
    VARIANT_MISTRAL_V02,
} VariantId;

typedef enum { DEFAULT_SYS_NONE, DEFAULT_SYS_REQUIRED } DefaultSysRule;

typedef struct {
    VariantId id;
    const char *name;
    ChatTemplateKind kind;
    const char *const *req_lits;
    const char *const *opt_lits;
    const char *const *any_lits; /* at least one of these (NULL: no such rule) */
    const char *const *req_names;
    const char *const *opt_names;
    DefaultSysRule default_sys;
} VariantSpec;

/* The ChatML default system message is the X in a literal "<|im_start|>system\n" X "<|im_end|>\n". */
static const char CHATML_SYS_PREFIX[] = "<|im_start|>system\n";
static const char CHATML_SYS_SUFFIX[] = "<|im_end|>\n";

static const char *const CHATML_REQ_LITS[] = {"<|im_start|>", "role", "\n", "content",
                                              "<|im_start|>assistant\n", NULL};
static const char *const CHATML_OPT_LITS[] = {"<|im_end|>", "<|im_end|>\n", NULL};
static const char *const CHATML_ANY_LITS[] = {"<|im_end|>", "<|im_end|>\n", NULL};
static const char *const CHATML_REQ_NAMES[] = {"for", "in", "message", "messages", "endfor", "if",
                                               "endif", "add_generation_prompt", NULL};
static const char *const CHATML_OPT_NAMES[] = {NULL};
/* With a default system message: {% if loop.first and messages[0]['role'] != 'system' %} */
static const char *const CHATML_SYS_REQ_LITS[] = {"<|im_start|>", "role", "\n", "content",
                                                  "system", "<|im_start|>assistant\n", NULL};
static const char *const CHATML_SYS_REQ_NAMES[] = {"for", "in", "message", "messages", "endfor",
                                                   "if", "endif", "add_generation_prompt", "loop",
                                                   "first", "and", NULL};

static const char *const QWEN25_REQ_LITS[] = {
    "<|im_start|>system\n", "<|im_end|>\n", "<|im_start|>", "<|im_end|>", "\n", "role", "content",
    "system", "user", "assistant", "tool", "<|im_start|>user", "\n<tool_response>\n",
    "\n</tool_response>", "<|im_start|>assistant\n", NULL};
static const char *const QWEN25_OPT_LITS[] = {
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are "
    "provided with function signatures within <tools></tools> XML tags:\n<tools>",
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
    "\"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n",
    "\n<tool_call>\n{\"name\": \"", "\", \"arguments\": ", "}\n</tool_call>", NULL};
static const char *const QWEN25_REQ_NAMES[] = {"if", "endif", "for", "in", "endfor", "message",
                                               "messages", "loop", "first", "last", "index0",
                                               "role", "content", "add_generation_prompt", NULL};
static const char *const QWEN25_OPT_NAMES[] = {
    "tools", "tool", "tojson", "else", "elif", "and", "or", "not", "tool_calls", "tool_call",
    "function", "is", "defined", "set", "name", "arguments", NULL};

static const char *const LLAMA3_REQ_LITS[] = {
    "<|start_header_id|>", "role", "<|end_header_id|>\n\n", "content", "<|eot_id|>",
    "<|start_header_id|>assistant<|end_header_id|>\n\n", NULL};
static const char *const LLAMA3_REQ_NAMES[] = {"for", "in", "message", "messages", "endfor", "set",
                                               "trim", "loop", "index0", "if", "endif",
                                               "bos_token", "add_generation_prompt", NULL};
static const char *const LLAMA3_OLD_REQ_NAMES[] = {"for", "in", "message", "messages", "endfor",
                                                   "set", "trim", "loop", "index0", "if", "endif",
                                                   "bos_token", NULL};
static const char *const LLAMA3_OPT_NAMES[] = {"loop_messages", "content", NULL};

static const char *const LLAMA2_REQ_LITS[] = {"role", "system", "content", "user", "assistant",
                                              "<<SYS>>\n", "\n<</SYS>>\n\n", "[INST] ", " [/INST]",
                                              " ", NULL};
static const char *const LLAMA2_OPT_LITS[] = {
    "Conversation roles must alternate user/assistant/user/assistant/...", NULL};
static const char *const LLAMA2_REQ_NAMES[] = {
    "if", "endif", "else", "elif", "for", "in", "endfor", "set", "messages", "message",
    "loop_messages", "system_message", "false", "loop", "index0", "and", "raise_exception",
    "content", "strip", "bos_token", "eos_token", NULL};

static const char *const MISTRAL_V1_REQ_LITS[] = {"role", "user", "assistant", "content",
                                                  "[INST] ", " [/INST]", " ", NULL};
static const char *const MISTRAL_LEGACY_REQ_LITS[] = {"role", "user", "assistant", "content",
                                                      "[INST] ", " [/INST]", NULL};
static const char *const MISTRAL_V1_OPT_LITS[] = {
    "Conversation roles must alternate user/assistant/user/assistant/...",
    "Only user and assistant roles are supported!", NULL};
static const char *const MISTRAL_V1_REQ_NAMES[] = {"bos_token", "eos_token", "for", "in",
                                                   "message", "messages", "endfor", "if", "elif",
                                                   "else", "endif", "loop", "index0",
                                                   "raise_exception", NULL};

static const char *const MISTRAL_V2_REQ_LITS[] = {"role", "system", "user", "assistant", "content",
                                                  " [INST] ", "\n\n", " [/INST]", " ", NULL};
static const char *const MISTRAL_V2_OPT_LITS[] = {
    "After the optional system message, conversation roles must alternate "
    "user/assistant/user/assistant/...",
    "Only user and assistant roles are supported, with the exception of an initial optional "
    "system message!",
    NULL};
static const char *const MISTRAL_V2_REQ_NAMES[] = {
    "if", "endif", "else", "elif", "for", "in", "endfor", "set", "messages", "message",
    "loop_messages", "system_message", "bos_token", "eos_token", "loop", "index0", "first", "and",
    "is", "defined", "raise_exception", NULL};

static const char *const NO_NAMES[] = {NULL};
static const char *const NO_LITS[] = {NULL};

static const VariantSpec VARIANTS[] = {
    {VARIANT_QWEN25, "qwen2.5", CHAT_TEMPLATE_CHATML, QWEN25_REQ_LITS, QWEN25_OPT_LITS, NULL,
     QWEN25_REQ_NAMES, QWEN25_OPT_NAMES, DEFAULT_SYS_REQUIRED},
    {VARIANT_CHATML, "chatml", CHAT_TEMPLATE_CHATML, CHATML_SYS_REQ_LITS, CHATML_OPT_LITS,
     CHATML_ANY_LITS, CHATML_SYS_REQ_NAMES, CHATML_OPT_NAMES, DEFAULT_SYS_REQUIRED},
    {VARIANT_CHATML, "chatml", CHAT_TEMPLATE_CHATML, CHATML_REQ_LITS, CHATML_OPT_LITS,
     CHATML_ANY_LITS, CHATML_REQ_NAMES, CHATML_OPT_NAMES, DEFAULT_SYS_NONE},
    {VARIANT_LLAMA3, "llama3", CHAT_TEMPLATE_LLAMA3, LLAMA3_REQ_LITS, NO_LITS, NULL,
     LLAMA3_REQ_NAMES, LLAMA3_OPT_NAMES, DEFAULT_SYS_NONE},
    {VARIANT_LLAMA3_ALWAYS_GEN, "llama3-always-gen", CHAT_TEMPLATE_LLAMA3, LLAMA3_REQ_LITS,
     NO_LITS, NULL, LLAMA3_OLD_REQ_NAMES, LLAMA3_OPT_NAMES, DEFAULT_SYS_NONE},
    {VARIANT_LLAMA2, "llama2", CHAT_TEMPLATE_LLAMA2, LLAMA2_REQ_LITS, LLAMA2_OPT_LITS, NULL,
     LLAMA2_REQ_NAMES, NO_NAMES, DEFAULT_SYS_NONE},
    {VARIANT_MISTRAL_V01, "mistral-v0.1", CHAT_TEMPLATE_MISTRAL, MISTRAL_V1_REQ_LITS,
     MISTRAL_V1_OPT_LITS, NULL, MISTRAL_V1_REQ_NAMES, NO_NAMES, DEFAULT_SYS_NONE},
    {VARIANT_MISTRAL_LEGACY, "mistral-v0.2-legacy", CHAT_TEMPLATE_MISTRAL, MISTRAL_LEGACY_REQ_LITS,
     MISTRAL_V1_OPT_LITS, NULL, MISTRAL_V1_REQ_NAMES, NO_NAMES, DEFAULT_SYS_NONE},
    {VARIANT_MISTRAL_V02, "mistral-v0.2", CHAT_TEMPLATE_MISTRAL, MISTRAL_V2_REQ_LITS,
     MISTRAL_V2_OPT_LITS, NULL, MISTRAL_V2_REQ_NAMES, NO_NAMES, DEFAULT_SYS_NONE},
};
#define N_VARIANTS ((int)(sizeof VARIANTS / sizeof VARIANTS[0]))

static const char LLAMA3_DEFAULT_BOS[] = "<|begin_of_text|>";
static const char SPM_DEFAULT_BOS[] = "<s>"; /* Llama 2 and Mistral (SentencePiece vocabularies) */
static const char SPM_DEFAULT_EOS[] = "</s>";

struct ChatTemplate {
    ChatTemplateKind kind;
    VariantId variant;
    const char *variant_name;
    char *bos;            /* never NULL; "" when the model has none */
    char *eos;            /* never NULL */
    char *default_system; /* NULL when the template injects none */
};

/* ---------------------------------------------------------------------------------------------
 * Jinja lexing: collects the template's vocabulary. */

typedef enum { TOK_LIT, TOK_NAME } TokKind;

typedef struct {
    TokKind kind;
    size_t off, len; /* into Scan.arena */
} Tok;

typedef struct {
    char *src;   /* newline-normalised copy of the source */
    size_t n;
    char *arena; /* decoded literals and names, each NUL-terminated */
    size_t arena_len;
    Tok *toks;
    int n_toks;
    size_t emitted_at; /* offset of text outside tags that Jinja would output; SIZE_MAX if none */
} Scan;

typedef enum { TAG_NONE, TAG_VAR, TAG_BLOCK, TAG_COMMENT } TagType;

static void scan_free(Scan *sc) {
    free(sc->src);
    free(sc->arena);
    free(sc->toks);
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

static int hex_val(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t utf8_put(char *dst, uint32_t cp) {
    if (cp < 0x80) { dst[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        dst[0] = (char)(0xC0 | (cp >> 6));
        dst[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xE0 | (cp >> 12));
        dst[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        dst[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    dst[0] = (char)(0xF0 | (cp >> 18));
    dst[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    dst[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    dst[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int scan_push(Scan *sc, TokKind kind, size_t off, size_t len, Err *err) {
    if (sc->n_toks >= CHAT_TEMPLATE_TOKENS_MAX)
        return err_set(err, ERR_UNSUPPORTED,
                       "chat template: more than %d literals and names", CHAT_TEMPLATE_TOKENS_MAX);
    sc->toks[sc->n_toks].kind = kind;
    sc->toks[sc->n_toks].off = off;
    sc->toks[sc->n_toks].len = len;
    sc->n_toks++;
    return 0;
}

/* Decodes the body of a Jinja string literal (src[b..e)) the way Jinja does (Python's
 * unicode-escape after newline normalisation) into the arena. Escapes whose meaning is not plain
 * text here (\N{...}, NUL, surrogates, a backslash before non-ASCII) are ERR_UNSUPPORTED. */
static int scan_literal(Scan *sc, size_t b, size_t e, Err *err) {
    const char *s = sc->src;
    size_t off = sc->arena_len;
    char *d = sc->arena + off;
    size_t k = 0;
    for (size_t i = b; i < e;) {
        char c = s[i];
        if (c != '\\') { d[k++] = c; i++; continue; }
        if (i + 1 >= e) return err_set(err, ERR_FORMAT, "chat template: string ends in a backslash at byte %zu", i);
        char x = s[i + 1];
        uint32_t cp = 0;
        int nd = 0;
        i += 2;
        switch (x) {
        case '\\': d[k++] = '\\'; continue;
        case '\'': d[k++] = '\''; continue;
        case '"': d[k++] = '"'; continue;
        case 'a': d[k++] = '\a'; continue;
        case 'b': d[k++] = '\b'; continue;
        case 'f': d[k++] = '\f'; continue;
        case 'n': d[k++] = '\n'; continue;
        case 'r': d[k++] = '\r'; continue;
        case 't': d[k++] = '\t'; continue;
        case 'v': d[k++] = '\v'; continue;
        case '\n': continue; /* line continuation */
        case 'x': nd = 2; break;
        case 'u': nd = 4; break;
        case 'U': nd = 8; break;
        default:
            if (x >= '0' && x <= '7') { /* up to three octal digits */
                cp = (uint32_t)(x - '0');
                for (int t = 0; t < 2 && i < e && s[i] >= '0' && s[i] <= '7'; t++) cp = cp * 8 + (uint32_t)(s[i++] - '0');
                nd = -1;
                break;
            }
            if ((unsigned char)x >= 0x80 || x == 'N')
                return err_set(err, ERR_UNSUPPORTED, "chat template: unsupported string escape at byte %zu", i - 2);
            d[k++] = '\\'; /* unknown escapes stay as written */
            d[k++] = x;
            continue;
        }
        if (nd > 0) {
            for (int t = 0; t < nd; t++) {
                int h = i < e ? hex_val(s[i]) : -1;
                if (h < 0) return err_set(err, ERR_FORMAT, "chat template: truncated \\%c escape at byte %zu", x, i);
                cp = cp * 16 + (uint32_t)h;
                i++;
            }
        }
        if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return err_set(err, ERR_UNSUPPORTED, "chat template: unsupported character escape before byte %zu", i);
        k += utf8_put(d + k, cp);
    }
    d[k] = 0;
    sc->arena_len += k + 1;
    return scan_push(sc, TOK_LIT, off, k, err);
}

static int scan_name(Scan *sc, size_t b, size_t e, Err *err) {
    size_t off = sc->arena_len;
    memcpy(sc->arena + off, sc->src + b, e - b);
    sc->arena[off + e - b] = 0;
    sc->arena_len += e - b + 1;
    return scan_push(sc, TOK_NAME, off, e - b, err);
}

/* Applies Jinja's whitespace control (trim_blocks, lstrip_blocks, "-" markers) to the text
 * between two tags and records whether anything of it would be output. */
static void scan_data(Scan *sc, size_t b, size_t e, TagType prev, bool prev_minus, TagType next,
                      bool next_minus, bool next_plus) {
    const char *s = sc->src;
    bool line_start = prev == TAG_NONE; /* the template start counts as a line start */
    if (prev_minus) {
        while (b < e && is_ws(s[b])) b++;
    } else if ((prev == TAG_BLOCK || prev == TAG_COMMENT) && b < e && s[b] == '\n') {
        b++; /* trim_blocks */
        line_start = true;
    }
    if (next_minus) {
        while (e > b && is_ws(s[e - 1])) e--;
    } else if ((next == TAG_BLOCK || next == TAG_COMMENT) && !next_plus) { /* lstrip_blocks */
        size_t l = e;
        while (l > b && s[l - 1] != '\n') l--;
        if (l > b || line_start) {
            bool blank = true;
            for (size_t i = l; i < e; i++)
                if (s[i] != ' ' && s[i] != '\t') { blank = false; break; }
            if (blank) e = l;
        }
    }
    if (e > b && sc->emitted_at == SIZE_MAX) sc->emitted_at = b;
}

static TagType tag_type_at(const char *s, size_t n, size_t i) {
    if (i + 1 >= n || s[i] != '{') return TAG_NONE;
    if (s[i + 1] == '{') return TAG_VAR;
    if (s[i + 1] == '%') return TAG_BLOCK;
    if (s[i + 1] == '#') return TAG_COMMENT;
    return TAG_NONE;
}

/* Lexes a whole template. Malformed Jinja (an unclosed tag or string) is ERR_FORMAT. */
static int scan_template(Scan *sc, const char *source, size_t n, Err *err) {
    memset(sc, 0, sizeof *sc);
    sc->emitted_at = SIZE_MAX;
    sc->src = malloc(n + 1);
    sc->arena = malloc(2 * n + 2); /* decoding never expands: literals and names fit twice over */
    sc->toks = malloc(sizeof(Tok) * CHAT_TEMPLATE_TOKENS_MAX);
    if (!sc->src || !sc->arena || !sc->toks) return err_set(err, ERR_NOMEM, "chat template: out of memory");
    /* Jinja normalises \r\n and \r to \n, and drops one trailing newline (keep_trailing_newline). */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (source[i] == '\r') {
            sc->src[m++] = '\n';
            if (i + 1 < n && source[i + 1] == '\n') i++;
        } else {
            sc->src[m++] = source[i];
        }
    }
    if (m > 0 && sc->src[m - 1] == '\n') m--;
    sc->src[m] = 0;
    sc->n = m;
    const char *s = sc->src;

    TagType prev = TAG_NONE;
    bool prev_minus = false;
    size_t pos = 0;
    for (;;) {
        size_t open = pos;
        while (open < m && tag_type_at(s, m, open) == TAG_NONE) open++;
        TagType type = open < m ? tag_type_at(s, m, open) : TAG_NONE;
        bool minus = type != TAG_NONE && open + 2 < m && s[open + 2] == '-';
        bool plus = type != TAG_NONE && open + 2 < m && s[open + 2] == '+';
        scan_data(sc, pos, open, prev, prev_minus, type, minus, plus);
        if (type == TAG_NONE) break;

        size_t i = open + 2 + ((minus || plus) ? 1 : 0);
        if (type == TAG_COMMENT) {
            const char *end = strstr(s + i, "#}");
            if (!end) return err_set(err, ERR_FORMAT, "chat template: unclosed comment at byte %zu", open);
            size_t j = (size_t)(end - s);
            prev_minus = j > i && s[j - 1] == '-';
            pos = j + 2;
            prev = TAG_COMMENT;
            continue;
        }
        char close = type == TAG_VAR ? '}' : '%';
        int depth = 0;
        bool closed = false;
        while (i < m) {
            char c = s[i];
            if (depth == 0 && c == close && i + 1 < m && s[i + 1] == '}') {
                prev_minus = i > open + 2 && s[i - 1] == '-';
                pos = i + 2;
                closed = true;
                break;
            }
            if (c == '\'' || c == '"') {
                size_t j = i + 1;
                while (j < m && s[j] != c) j += (s[j] == '\\' && j + 1 < m) ? 2 : 1;
                if (j >= m) return err_set(err, ERR_FORMAT, "chat template: unclosed string at byte %zu", i);
                if (scan_literal(sc, i + 1, j, err)) return -1;
                i = j + 1;
            } else if (is_name_start(c)) {
                size_t j = i;
                while (j < m && is_name_char(s[j])) j++;
                if (scan_name(sc, i, j, err)) return -1;
                i = j;
            } else if (c >= '0' && c <= '9') {
                while (i < m && (is_name_char(s[i]) || s[i] == '.')) i++;
            } else if ((unsigned char)c >= 0x80) {
                return err_set(err, ERR_UNSUPPORTED, "chat template: non-ASCII name at byte %zu", i);
            } else {
                if (c == '(' || c == '[' || c == '{') depth++;
                if ((c == ')' || c == ']' || c == '}') && depth > 0) depth--;
                i++;
            }
        }
        if (!closed) return err_set(err, ERR_FORMAT, "chat template: unclosed tag at byte %zu", open);
        prev = type;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Matching the vocabulary against the variant table. */

static bool list_has(const char *const *list, const char *s, size_t len) {
    for (; list && *list; list++)
        if (strlen(*list) == len && memcmp(*list, s, len) == 0) return true;
    return false;
}

static bool scan_has(const Scan *sc, TokKind kind, const char *s) {
    size_t len = strlen(s);
    for (int i = 0; i < sc->n_toks; i++)
        if (sc->toks[i].kind == kind && sc->toks[i].len == len &&
            memcmp(sc->arena + sc->toks[i].off, s, len) == 0)
            return true;
    return false;
}

/* Finds the ChatML default system message. Returns 0 with *out NULL when there is none, -1 when
 * the template carries two different ones. *out points into the arena. */
static int scan_default_system(const Scan *sc, const char **out, size_t *out_len) {
    size_t np = sizeof CHATML_SYS_PREFIX - 1, ns = sizeof CHATML_SYS_SUFFIX - 1;
    *out = NULL;
    *out_len = 0;
    for (int i = 0; i < sc->n_toks; i++) {
        const Tok *t = &sc->toks[i];
        const char *s = sc->arena + t->off;
        if (t->kind != TOK_LIT || t->len < np + ns) continue;
        if (memcmp(s, CHATML_SYS_PREFIX, np) != 0 || memcmp(s + t->len - ns, CHATML_SYS_SUFFIX, ns) != 0) continue;
        const char *x = s + np;
        size_t xl = t->len - np - ns;
        if (*out && (xl != *out_len || memcmp(x, *out, xl) != 0)) return -1;
        *out = x;
        *out_len = xl;
    }
    return 0;
}

/* Returns the number of mismatches (0: matches) and describes the first in why. */
static int spec_mismatches(const Scan *sc, const VariantSpec *sp, const char *dsys, size_t dsys_len,
                           char *why, size_t why_size) {
    int bad = 0;
    why[0] = 0;
    if (sp->default_sys == DEFAULT_SYS_REQUIRED && !dsys) {
        bad++;
        snprintf(why, why_size, "no default system message literal");
    }
    if (sp->default_sys == DEFAULT_SYS_NONE && dsys) {
        if (!bad++) snprintf(why, why_size, "an unexpected default system message");
    }
    size_t np = sizeof CHATML_SYS_PREFIX - 1, ns = sizeof CHATML_SYS_SUFFIX - 1;
    for (int i = 0; i < sc->n_toks; i++) {
        const Tok *t = &sc->toks[i];
        const char *s = sc->arena + t->off;
        if (t->kind == TOK_LIT) {
            if (list_has(sp->req_lits, s, t->len) || list_has(sp->opt_lits, s, t->len)) continue;
            if (dsys && sp->default_sys == DEFAULT_SYS_REQUIRED) {
                if (t->len == np + dsys_len + ns && memcmp(s + np, dsys, dsys_len) == 0 &&
                    memcmp(s, CHATML_SYS_PREFIX, np) == 0)
                    continue;
                if (sp->id == VARIANT_QWEN25 && t->len == dsys_len && memcmp(s, dsys, dsys_len) == 0) continue;
            }
            if (!bad++) snprintf(why, why_size, "unexpected string literal \"%.60s\"", s);
        } else {
            if (list_has(sp->req_names, s, t->len) || list_has(sp->opt_names, s, t->len)) continue;
            if (!bad++) snprintf(why, why_size, "unexpected name '%.60s'", s);
        }
    }
    for (const char *const *l = sp->req_lits; *l; l++)
        if (!scan_has(sc, TOK_LIT, *l) && !bad++) snprintf(why, why_size, "missing string literal \"%.60s\"", *l);
    for (const char *const *l = sp->req_names; *l; l++)
        if (!scan_has(sc, TOK_NAME, *l) && !bad++) snprintf(why, why_size, "missing name '%.60s'", *l);
    if (sp->any_lits) {
        bool any = false;
        for (const char *const *l = sp->any_lits; *l; l++) any = any || scan_has(sc, TOK_LIT, *l);
        if (!any && !bad++) snprintf(why, why_size, "missing string literal \"%.60s\"", sp->any_lits[0]);
    }
    return bad;
}

static char *str_dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

int chat_template_new(const char *jinja_source, const char *bos_token, const char *eos_token,
                      ChatTemplate **out, Err *err) {
    if (!out) return err_set(err, ERR_ARG, "chat_template_new: out is NULL");
    *out = NULL;
    if ((bos_token && strlen(bos_token) > CHAT_TEMPLATE_SPECIAL_MAX) ||
        (eos_token && strlen(eos_token) > CHAT_TEMPLATE_SPECIAL_MAX))
        return err_set(err, ERR_ARG, "chat template: bos/eos token text longer than %d bytes", CHAT_TEMPLATE_SPECIAL_MAX);

    ChatTemplateKind kind = CHAT_TEMPLATE_PLAIN;
    VariantId variant = VARIANT_PLAIN;
    const char *variant_name = "plain";
    char *dsys_copy = NULL;
    bool has_dsys = false;
    size_t n = jinja_source ? strlen(jinja_source) : 0;
    if (n > CHAT_TEMPLATE_SOURCE_MAX)
        return err_set(err, ERR_UNSUPPORTED, "chat template: %zu bytes of Jinja source, more than the %zu supported",
                       n, CHAT_TEMPLATE_SOURCE_MAX);
    if (n > 0) {
        Scan sc;
        if (scan_template(&sc, jinja_source, n, err)) {
            scan_free(&sc);
            return -1;
        }
        const char *dsys = NULL;
        size_t dsys_len = 0;
        if (scan_default_system(&sc, &dsys, &dsys_len)) {
            scan_free(&sc);
            return err_set(err, ERR_UNSUPPORTED, "chat template: two different ChatML default system messages");
        }
        if (sc.emitted_at != SIZE_MAX) {
            size_t at = sc.emitted_at;
            scan_free(&sc);
            return err_set(err, ERR_UNSUPPORTED,
                           "chat template not recognised: it writes text outside {{ }} tags (byte %zu), "
                           "which no supported template does", at);
        }
        int best = -1, best_bad = 0;
        char why[160], best_why[160] = "";
        for (int v = 0; v < N_VARIANTS; v++) {
            int bad = spec_mismatches(&sc, &VARIANTS[v], dsys, dsys_len, why, sizeof why);
            if (bad == 0) {
                kind = VARIANTS[v].kind;
                variant = VARIANTS[v].id;
                variant_name = VARIANTS[v].name;
                best = v;
                best_bad = 0;
                break;
            }
            if (best < 0 || bad < best_bad) {
                best = v;
                best_bad = bad;
                memcpy(best_why, why, sizeof why);
            }
        }
        if (best_bad > 0) {
            scan_free(&sc);
            return err_set(err, ERR_UNSUPPORTED,
                           "chat template not recognised (supported: ChatML/SmolLM2/Qwen, Qwen2.5, "
                           "Llama 3, Llama 2, Mistral v0.1/v0.2); closest is %s, but: %s",
                           VARIANTS[best].name, best_why);
        }
        if (dsys && VARIANTS[best].default_sys == DEFAULT_SYS_REQUIRED) {
            dsys_copy = str_dup_n(dsys, dsys_len);
            has_dsys = true;
        }
        scan_free(&sc);
        if (has_dsys && !dsys_copy) return err_set(err, ERR_NOMEM, "chat template: out of memory");
    }

    const char *bos = bos_token, *eos = eos_token;
    if (kind == CHAT_TEMPLATE_LLAMA3 && !bos) bos = LLAMA3_DEFAULT_BOS;
    if (kind == CHAT_TEMPLATE_LLAMA2 || kind == CHAT_TEMPLATE_MISTRAL) {
        if (!bos) bos = SPM_DEFAULT_BOS;
        if (!eos) eos = SPM_DEFAULT_EOS;
    }
    ChatTemplate *ct = calloc(1, sizeof *ct);
    if (ct) {
        ct->kind = kind;
        ct->variant = variant;
        ct->variant_name = variant_name;
        ct->default_system = dsys_copy;
        ct->bos = str_dup_n(bos ? bos : "", bos ? strlen(bos) : 0);
        ct->eos = str_dup_n(eos ? eos : "", eos ? strlen(eos) : 0);
    }
    if (!ct || !ct->bos || !ct->eos) {
        if (ct) chat_template_free(ct);
        else free(dsys_copy);
        return err_set(err, ERR_NOMEM, "chat template: out of memory");
    }
    *out = ct;
    return 0;
}

void chat_template_free(ChatTemplate *ct) {
    if (!ct) return;
    free(ct->bos);
    free(ct->eos);
    free(ct->default_system);
    free(ct);
}

ChatTemplateKind chat_template_kind(const ChatTemplate *ct) { return ct->kind; }

const char *chat_template_kind_name(ChatTemplateKind k) {
    switch (k) {
    case CHAT_TEMPLATE_PLAIN: return "plain";
    case CHAT_TEMPLATE_CHATML: return "chatml";
    case CHAT_TEMPLATE_LLAMA3: return "llama3";
    case CHAT_TEMPLATE_LLAMA2: return "llama2";
    case CHAT_TEMPLATE_MISTRAL: return "mistral";
    }
    return "unknown";
}

const char *chat_template_variant(const ChatTemplate *ct) { return ct->variant_name; }

const char *chat_template_default_system(const ChatTemplate *ct) { return ct->default_system; }

bool chat_template_adds_bos(const ChatTemplate *ct) {
    return ct->kind != CHAT_TEMPLATE_CHATML && ct->bos[0] != 0;
}

const char *chat_template_end_of_turn(const ChatTemplate *ct) {
    switch (ct->kind) {
    case CHAT_TEMPLATE_CHATML: return "<|im_end|>";
    case CHAT_TEMPLATE_LLAMA3: return "<|eot_id|>";
    case CHAT_TEMPLATE_LLAMA2:
    case CHAT_TEMPLATE_MISTRAL: return ct->eos[0] ? ct->eos : NULL;
    case CHAT_TEMPLATE_PLAIN: return NULL;
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Rendering. */

typedef enum { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT, ROLE_TOOL } Role;
static const char *const ROLE_NAMES[] = {"system", "user", "assistant", "tool"};

typedef struct {
    char *buf;  /* NULL while measuring */
    size_t len;
    bool overflow;
} Out;

static void out_put(Out *o, const char *s, size_t n) {
    if (o->overflow) return;
    if (n > CHAT_TEMPLATE_OUTPUT_MAX - o->len) {
        o->overflow = true;
        return;
    }
    if (o->buf) memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void out_str(Out *o, const char *s) { out_put(o, s, strlen(s)); }

/* Python's str.isspace() code points (what str.strip() and Jinja's trim remove). */
static bool py_isspace(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Decodes the UTF-8 sequence at s[0..n); returns its length, or 0 when it is not valid. */
static size_t utf8_get(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    unsigned c = s[0];
    size_t len;
    uint32_t v;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_cp[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0; /* overlong */
    *cp = v;
    return len;
}

/* Length of the whitespace prefix / suffix of s[0..n) in Python's sense. Invalid UTF-8 is not
 * whitespace. */
static size_t ws_prefix(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = utf8_get((const unsigned char *)s + i, n - i, &cp);
        if (l == 0 || !py_isspace(cp)) break;
        i += l;
    }
    return i;
}

static size_t ws_suffix(const char *s, size_t n) {
    size_t e = n;
    while (e > 0) {
        size_t b = e - 1;
        while (b > 0 && e - b < 4 && ((unsigned char)s[b] & 0xC0) == 0x80) b--;
        uint32_t cp;
        size_t l = utf8_get((const unsigned char *)s + b, e - b, &cp);
        if (l != e - b || !py_isspace(cp)) break;
        e = b;
    }
    return n - e;
}

/* Writes the concatenation of parts with Python str.strip() applied to the whole. */
static void out_stripped(Out *o, const char *const *parts, int n_parts) {
    size_t lens[4];
    size_t from[4], to[4];
    for (int i = 0; i < n_parts; i++) {
        lens[i] = strlen(parts[i]);
        from[i] = 0;
        to[i] = lens[i];
    }
    for (int i = 0; i < n_parts; i++) { /* strip the left across parts */
        from[i] = ws_prefix(parts[i], lens[i]);
        if (from[i] < lens[i]) break;
    }
    for (int i = n_parts - 1; i >= 0; i--) { /* and the right */
        size_t w = ws_suffix(parts[i] + from[i], lens[i] - from[i]);
        to[i] = lens[i] - w;
        if (to[i] > from[i]) break;
    }
    for (int i = 0; i < n_parts; i++)
        if (to[i] > from[i]) out_put(o, parts[i] + from[i], to[i] - from[i]);
}

typedef struct {
    const ChatTemplate *ct;
    const ChatMessage *msgs;
    const Role *roles;
    int n;
    bool gen;
} RenderJob;

static void render_chatml(const RenderJob *j, Out *o) {
    const ChatTemplate *ct = j->ct;
    if (ct->default_system && j->roles[0] != ROLE_SYSTEM) {
        out_str(o, CHATML_SYS_PREFIX);
        out_str(o, ct->default_system);
        out_str(o, CHATML_SYS_SUFFIX);
    }
    for (int i = 0; i < j->n; i++) {
        out_str(o, "<|im_start|>");
        out_str(o, ROLE_NAMES[j->roles[i]]);
        out_str(o, "\n");
        out_str(o, j->msgs[i].content);
        out_str(o, "<|im_end|>\n");
    }
    if (j->gen) out_str(o, "<|im_start|>assistant\n");
}

/* Qwen2.5: the system turn always comes first (the template's default when the conversation has
 * none); consecutive tool messages share one user turn of <tool_response> blocks. */
static void render_qwen25(const RenderJob *j, Out *o) {
    out_str(o, CHATML_SYS_PREFIX);
    out_str(o, j->roles[0] == ROLE_SYSTEM ? j->msgs[0].content : j->ct->default_system);
    out_str(o, CHATML_SYS_SUFFIX);
    for (int i = 0; i < j->n; i++) {
        Role r = j->roles[i];
        if (r == ROLE_SYSTEM && i == 0) continue;
        if (r == ROLE_TOOL) {
            if (i == 0 || j->roles[i - 1] != ROLE_TOOL) out_str(o, "<|im_start|>user");
            out_str(o, "\n<tool_response>\n");
            out_str(o, j->msgs[i].content);
            out_str(o, "\n</tool_response>");
            if (i == j->n - 1 || j->roles[i + 1] != ROLE_TOOL) out_str(o, "<|im_end|>\n");
            continue;
        }
        out_str(o, "<|im_start|>");
        out_str(o, ROLE_NAMES[r]);
        out_str(o, "\n");
        out_str(o, j->msgs[i].content);
        out_str(o, "<|im_end|>\n");
    }
    if (j->gen) out_str(o, "<|im_start|>assistant\n");
}

static void render_llama3(const RenderJob *j, Out *o) {
    for (int i = 0; i < j->n; i++) {
        if (i == 0) out_str(o, j->ct->bos);
        out_str(o, "<|start_header_id|>");
        out_str(o, ROLE_NAMES[j->roles[i]]);
        out_str(o, "<|end_header_id|>\n\n");
        const char *parts[1] = {j->msgs[i].content};
        out_stripped(o, parts, 1);
        out_str(o, "<|eot_id|>");
    }
    if (j->gen || j->ct->variant == VARIANT_LLAMA3_ALWAYS_GEN)
        out_str(o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* Llama 2 and Mistral: after an optional leading system message (Llama 2, Mistral v0.2), roles
 * must alternate user/assistant starting with user, as the templates' raise_exception enforces. */
static int check_alternation(const RenderJob *j, int start, const char *name, Err *err) {
    for (int i = start; i < j->n; i++) {
        Role r = j->roles[i];
        bool even = (i - start) % 2 == 0;
        if ((r == ROLE_USER) != even)
            return err_set(err, ERR_ARG,
                           "message %d: role '%s' out of order; the %s template needs roles to "
                           "alternate user/assistant/user/... %s",
                           i, j->msgs[i].role, name,
                           start ? "after the leading system message" : "from the first message");
        if (r != ROLE_USER && r != ROLE_ASSISTANT)
            return err_set(err, ERR_ARG, "message %d: role '%s' is not supported by the %s template "
                           "(only a leading system message, then user/assistant turns)",
                           i, j->msgs[i].role, name);
    }
    return 0;
}

static void render_llama2(const RenderJob *j, Out *o) {
    const ChatTemplate *ct = j->ct;
    int start = j->roles[0] == ROLE_SYSTEM ? 1 : 0;
    for (int i = start; i < j->n; i++) {
        const char *content = j->msgs[i].content;
        const char *parts[4] = {content, NULL, NULL, NULL};
        int n_parts = 1;
        if (i == start && start == 1) {
            parts[0] = "<<SYS>>\n";
            parts[1] = j->msgs[0].content;
            parts[2] = "\n<</SYS>>\n\n";
            parts[3] = content;
            n_parts = 4;
        }
        if (j->roles[i] == ROLE_USER) {
            out_str(o, ct->bos);
            out_str(o, "[INST] ");
            out_stripped(o, parts, n_parts);
            out_str(o, " [/INST]");
        } else {
            out_str(o, " ");
            out_stripped(o, parts, n_parts);
            out_str(o, " ");
            out_str(o, ct->eos);
        }
    }
}

static void render_mistral(const RenderJob *j, Out *o) {
    const ChatTemplate *ct = j->ct;
    bool v02 = ct->variant == VARIANT_MISTRAL_V02;
    int start = v02 && j->roles[0] == ROLE_SYSTEM ? 1 : 0;
    out_str(o, ct->bos);
    for (int i = start; i < j->n; i++) {
        const char *content = j->msgs[i].content;
        if (j->roles[i] == ROLE_USER) {
            out_str(o, v02 ? " [INST] " : "[INST] ");
            if (i == start && start == 1) {
                out_str(o, j->msgs[0].content);
                out_str(o, "\n\n");
            }
            out_str(o, content);
            out_str(o, " [/INST]");
        } else if (v02) {
            out_str(o, " ");
            out_str(o, content);
            out_str(o, ct->eos);
        } else {
            out_str(o, content);
            out_str(o, ct->eos);
            if (ct->variant == VARIANT_MISTRAL_V01) out_str(o, " ");
        }
    }
}

static void render_plain(const RenderJob *j, Out *o) {
    out_str(o, j->ct->bos);
    for (int i = 0; i < j->n; i++) {
        out_str(o, ROLE_NAMES[j->roles[i]]);
        out_str(o, ": ");
        out_str(o, j->msgs[i].content);
        out_str(o, "\n");
    }
    if (j->gen) out_str(o, "assistant:");
}

static void render_into(const RenderJob *j, Out *o) {
    switch (j->ct->kind) {
    case CHAT_TEMPLATE_CHATML:
        if (j->ct->variant == VARIANT_QWEN25) render_qwen25(j, o);
        else render_chatml(j, o);
        break;
    case CHAT_TEMPLATE_LLAMA3: render_llama3(j, o); break;
    case CHAT_TEMPLATE_LLAMA2: render_llama2(j, o); break;
    case CHAT_TEMPLATE_MISTRAL: render_mistral(j, o); break;
    case CHAT_TEMPLATE_PLAIN: render_plain(j, o); break;
    }
}

static int role_parse(const char *s, Role *r) {
    if (strcmp(s, "system") == 0 || strcmp(s, "developer") == 0) *r = ROLE_SYSTEM;
    else if (strcmp(s, "user") == 0) *r = ROLE_USER;
    else if (strcmp(s, "assistant") == 0) *r = ROLE_ASSISTANT;
    else if (strcmp(s, "tool") == 0) *r = ROLE_TOOL;
    else return -1;
    return 0;
}

/* Checks what the template cannot express, before anything is written. */
static int validate(const RenderJob *j, Err *err) {
    const ChatTemplate *ct = j->ct;
    bool tools_ok = ct->kind == CHAT_TEMPLATE_CHATML || ct->kind == CHAT_TEMPLATE_PLAIN;
    for (int i = 0; i < j->n; i++)
        if (j->roles[i] == ROLE_TOOL && !tools_ok)
            return err_set(err, ERR_ARG, "message %d: role 'tool' is not supported by the %s template",
                           i, ct->variant_name);
    if (ct->kind == CHAT_TEMPLATE_LLAMA2)
        return check_alternation(j, j->roles[0] == ROLE_SYSTEM ? 1 : 0, ct->variant_name, err);
    if (ct->kind == CHAT_TEMPLATE_MISTRAL) {
        int start = ct->variant == VARIANT_MISTRAL_V02 && j->roles[0] == ROLE_SYSTEM ? 1 : 0;
        return check_alternation(j, start, ct->variant_name, err);
    }
    return 0;
}

int chat_template_render(const ChatTemplate *ct, const ChatMessage *msgs, int n_msgs,
                         bool add_generation_prompt, char **out, size_t *len, Err *err) {
    if (out) *out = NULL;
    if (len) *len = 0;
    if (!ct || !out) return err_set(err, ERR_ARG, "chat_template_render: NULL template or output");
    if (n_msgs <= 0 || !msgs) return err_set(err, ERR_ARG, "chat template: no messages to render");
    if (n_msgs > CHAT_TEMPLATE_MESSAGES_MAX)
        return err_set(err, ERR_ARG, "chat template: %d messages, more than %d", n_msgs, CHAT_TEMPLATE_MESSAGES_MAX);
    Role *roles = malloc(sizeof(Role) * (size_t)n_msgs);
    if (!roles) return err_set(err, ERR_NOMEM, "chat template: out of memory");
    for (int i = 0; i < n_msgs; i++) {
        if (!msgs[i].role || !msgs[i].content) {
            free(roles);
            return err_set(err, ERR_ARG, "message %d: role or content is NULL", i);
        }
        if (role_parse(msgs[i].role, &roles[i])) {
            err_set(err, ERR_ARG, "message %d: unknown role '%.40s' (expected system, developer, "
                    "user, assistant or tool)", i, msgs[i].role);
            free(roles);
            return -1;
        }
    }
    RenderJob job = {ct, msgs, roles, n_msgs, add_generation_prompt};
    if (validate(&job, err)) {
        free(roles);
        return -1;
    }
    Out o = {NULL, 0, false};
    render_into(&job, &o); /* measure */
    if (o.overflow) {
        free(roles);
        return err_set(err, ERR_ARG, "chat template: rendered prompt longer than %zu bytes", CHAT_TEMPLATE_OUTPUT_MAX);
    }
    size_t need = o.len;
    o.buf = malloc(need + 1);
    if (!o.buf) {
        free(roles);
        return err_set(err, ERR_NOMEM, "chat template: out of memory for a %zu-byte prompt", need);
    }
    o.len = 0;
    render_into(&job, &o); /* fill */
    o.buf[need] = 0;
    free(roles);
    *out = o.buf;
    if (len) *len = need;
    return 0;
}
