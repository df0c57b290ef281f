/* chat_template.c: recognises a model's Jinja chat template and renders messages natively.
 * Recognition lexes the Jinja source (tags, names, operators, string literals with Python escapes,
 * and the text between tags after trim_blocks/lstrip_blocks/"-" whitespace control) and compares
 * the token stream with a table of real reference templates; the renderers then write exactly what
 * those templates write, byte for byte (tests/golden/chat_template holds jinja2's renderings).
 * It deliberately does not evaluate Jinja: a template that is not one of the references, up to
 * formatting and the default system message, is ERR_UNSUPPORTED. Rendering runs twice over the
 * messages, first to size the output, then to fill it. */
#include "chat_template.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Reference templates. An input template is recognised when its token stream equals one of
 * these, token for token: tag delimiters, names, operators, numbers, and string literals compared
 * by decoded value. What may differ is only what cannot change the output: whitespace inside
 * tags, quote style and escape spelling, comments, and whitespace control (the input must not
 * write text outside tags, and these references write none). DEFAULT_SYSTEM_MARK inside a
 * reference literal matches any text in the same place and binds the default system message
 * (every occurrence must bind the same text). The sources are the real templates of the models
 * named (see tests/data/chat_templates/SOURCES.md), with the default system message replaced by
 * the mark. */

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

typedef struct {
    VariantId id;
    const char *name; /* chat_template_variant() */
    ChatTemplateKind kind;
    const char *models; /* whose template this is, for messages */
    const char *source;
} Reference;

static const char DEFAULT_SYSTEM_MARK[] = "@@DEFAULT_SYSTEM@@";

static const Reference REFERENCES[] = {
    {VARIANT_CHATML, "chatml", CHAT_TEMPLATE_CHATML, "SmolLM2-Instruct; Qwen1.5-Chat / Qwen2-Instruct",
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\n"
        "@@DEFAULT_SYSTEM@@<|im_end|>\n"
        "' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n"
        "' + message['content'] + '<|im_end|>' + '\n"
        "'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n"
        "' }}{% endif %}"},
    {VARIANT_CHATML, "chatml", CHAT_TEMPLATE_CHATML, "generic ChatML (OpenHermes-2.5 and many fine-tunes)",
        "{% for message in messages %}"
        "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"},
    {VARIANT_QWEN25, "qwen2.5", CHAT_TEMPLATE_CHATML, "Qwen2.5-Instruct",
        "{%- if tools %}\n"
        "    {{- '<|im_start|>system\\n' }}\n"
        "    {%- if messages[0]['role'] == 'system' %}\n"
        "        {{- messages[0]['content'] }}\n"
        "    {%- else %}\n"
        "        {{- '@@DEFAULT_SYSTEM@@' }}\n"
        "    {%- endif %}\n"
        "    {{- \"\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}"
        "\n"
        "    {%- for tool in tools %}\n"
        "        {{- \"\\n\" }}\n"
        "        {{- tool | tojson }}\n"
        "    {%- endfor %}\n"
        "    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>, \\\"arguments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }}"
        "\n"
        "{%- else %}\n"
        "    {%- if messages[0]['role'] == 'system' %}\n"
        "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
        "    {%- else %}\n"
        "        {{- '<|im_start|>system\\n@@DEFAULT_SYSTEM@@<|im_end|>\\n' }}\n"
        "    {%- endif %}\n"
        "{%- endif %}\n"
        "{%- for message in messages %}\n"
        "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\" and not message.tool_calls) %}"
        "\n"
        "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
        "\n"
        "    {%- elif message.role == \"assistant\" %}\n"
        "        {{- '<|im_start|>' + message.role }}\n"
        "        {%- if message.content %}\n"
        "            {{- '\\n' + message.content }}\n"
        "        {%- endif %}\n"
        "        {%- for tool_call in message.tool_calls %}\n"
        "            {%- if tool_call.function is defined %}\n"
        "                {%- set tool_call = tool_call.function %}\n"
        "            {%- endif %}\n"
        "            {{- '\\n<tool_call>\\n{\"name\": \"' }}\n"
        "            {{- tool_call.name }}\n"
        "            {{- '\", \"arguments\": ' }}\n"
        "            {{- tool_call.arguments | tojson }}\n"
        "            {{- '}\\n</tool_call>' }}\n"
        "        {%- endfor %}\n"
        "        {{- '<|im_end|>\\n' }}\n"
        "    {%- elif message.role == \"tool\" %}\n"
        "        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != \"tool\") %}\n"
        "            {{- '<|im_start|>user' }}\n"
        "        {%- endif %}\n"
        "        {{- '\\n<tool_response>\\n' }}\n"
        "        {{- message.content }}\n"
        "        {{- '\\n</tool_response>' }}\n"
        "        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n"
        "            {{- '<|im_end|>\\n' }}\n"
        "        {%- endif %}\n"
        "    {%- endif %}\n"
        "{%- endfor %}\n"
        "{%- if add_generation_prompt %}\n"
        "    {{- '<|im_start|>assistant\\n' }}\n"
        "{%- endif %}\n"},
    {VARIANT_LLAMA3, "llama3", CHAT_TEMPLATE_LLAMA3, "Meta-Llama-3-8B/70B-Instruct",
        "{% set loop_messages = messages %}{% for message in loop_messages %}"
        "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n"
        "\n"
        "'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
        "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n"
        "\n"
        "' }}{% endif %}"},
    {VARIANT_LLAMA3_ALWAYS_GEN, "llama3-always-gen", CHAT_TEMPLATE_LLAMA3, "Meta-Llama-3-8B-Instruct, first release",
        "{% set loop_messages = messages %}{% for message in loop_messages %}"
        "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n"
        "\n"
        "'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
        "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
        "{{ '<|start_header_id|>assistant<|end_header_id|>\n"
        "\n"
        "' }}"},
    {VARIANT_LLAMA2, "llama2", CHAT_TEMPLATE_LLAMA2, "Llama-2-7b/13b/70b-chat-hf",
        "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
        "{% set system_message = messages[0]['content'] %}{% else %}"
        "{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
        "{% for message in loop_messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
        "{% endif %}{% if loop.index0 == 0 and system_message != false %}"
        "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
        "{% else %}{% set content = message['content'] %}{% endif %}"
        "{% if message['role'] == 'user' %}"
        "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}"
        "{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"},
    {VARIANT_MISTRAL_V01, "mistral-v0.1", CHAT_TEMPLATE_MISTRAL, "Mistral-7B-Instruct-v0.1",
        "{{ bos_token }}{% for message in messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
        "{% endif %}{% if message['role'] == 'user' %}"
        "{{ '[INST] ' + message['content'] + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}"
        "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}"
        "{% endif %}{% endfor %}"},
    {VARIANT_MISTRAL_LEGACY, "mistral-v0.2-legacy", CHAT_TEMPLATE_MISTRAL, "Mixtral-8x7B-Instruct-v0.1, Mistral-7B-Instruct-v0.2 before 2024-05",
        "{{ bos_token }}{% for message in messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
        "{% endif %}{% if message['role'] == 'user' %}"
        "{{ '[INST] ' + message['content'] + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}"
        "{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}"
        "{% endfor %}"},
    {VARIANT_MISTRAL_V02, "mistral-v0.2", CHAT_TEMPLATE_MISTRAL, "Mistral-7B-Instruct-v0.2 (2024-05 update)",
        "{%- if messages[0]['role'] == 'system' %}\n"
        "    {%- set system_message = messages[0]['content'] %}\n"
        "    {%- set loop_messages = messages[1:] %}\n"
        "{%- else %}\n"
        "    {%- set loop_messages = messages %}\n"
        "{%- endif %}\n"
        "\n"
        "{{- bos_token }}\n"
        "{%- for message in loop_messages %}\n"
        "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\n"
        "        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}"
        "\n"
        "    {%- endif %}\n"
        "    {%- if message['role'] == 'user' %}\n"
        "        {%- if loop.first and system_message is defined %}\n"
        "            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}"
        "\n"
        "        {%- else %}\n"
        "            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n"
        "        {%- endif %}\n"
        "    {%- elif message['role'] == 'assistant' %}\n"
        "        {{- ' ' + message['content'] + eos_token}}\n"
        "    {%- else %}\n"
        "        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}"
        "\n"
        "    {%- endif %}\n"
        "{%- endfor %}\n"},
};
#define N_REFERENCES ((int)(sizeof REFERENCES / sizeof REFERENCES[0]))

/* ChatML system turn around the default system message. */
static const char CHATML_SYS_PREFIX[] = "<|im_start|>system\n";
static const char CHATML_SYS_SUFFIX[] = "<|im_end|>\n";

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
 * Jinja lexing into a token stream. */

typedef enum { TOK_OPEN, TOK_CLOSE, TOK_NAME, TOK_LIT, TOK_NUM, TOK_OP } TokKind;
typedef enum { TAG_NONE, TAG_VAR, TAG_BLOCK, TAG_COMMENT } TagType;

typedef struct {
    TokKind kind;
    TagType tag;     /* for TOK_OPEN */
    size_t off, len; /* text in Scan.arena (names, decoded literals, numbers, operators) */
    size_t at;       /* byte offset in the (normalised) source, for messages */
} Tok;

typedef struct {
    char *src;   /* newline-normalised copy of the source */
    size_t n;
    char *arena; /* token texts, each NUL-terminated */
    size_t arena_len;
    Tok *toks;
    int n_toks;
    size_t emitted_at; /* offset of text outside tags that Jinja would output; SIZE_MAX if none */
} Scan;

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

/* Appends a token; text (if any) must already be at arena + arena_len, len bytes. */
static int scan_push(Scan *sc, TokKind kind, TagType tag, size_t len, size_t at, Err *err) {
    if (sc->n_toks >= CHAT_TEMPLATE_TOKENS_MAX)
        return err_set(err, ERR_UNSUPPORTED, "chat template: more than %d tokens", CHAT_TEMPLATE_TOKENS_MAX);
    Tok *t = &sc->toks[sc->n_toks++];
    t->kind = kind;
    t->tag = tag;
    t->off = sc->arena_len;
    t->len = len;
    t->at = at;
    sc->arena[sc->arena_len + len] = 0;
    sc->arena_len += len + 1;
    return 0;
}

static int scan_text(Scan *sc, TokKind kind, size_t b, size_t e, Err *err) {
    memcpy(sc->arena + sc->arena_len, sc->src + b, e - b);
    return scan_push(sc, kind, TAG_NONE, e - b, b, err);
}

/* Decodes the body of a Jinja string literal (src[b..e)) the way Jinja does (Python's
 * unicode-escape after newline normalisation) into the arena. Escapes whose meaning is not plain
 * text here (\N{...}, NUL, surrogates, a backslash before non-ASCII) are ERR_UNSUPPORTED. */
static int scan_literal(Scan *sc, size_t b, size_t e, Err *err) {
    const char *s = sc->src;
    char *d = sc->arena + sc->arena_len;
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
                break;
            }
            if ((unsigned char)x >= 0x80 || x == 'N')
                return err_set(err, ERR_UNSUPPORTED, "chat template: unsupported string escape at byte %zu", i - 2);
            d[k++] = '\\'; /* unknown escapes stay as written */
            d[k++] = x;
            continue;
        }
        for (int t = 0; t < nd; t++) {
            int h = i < e ? hex_val(s[i]) : -1;
            if (h < 0) return err_set(err, ERR_FORMAT, "chat template: truncated \\%c escape at byte %zu", x, i);
            cp = cp * 16 + (uint32_t)h;
            i++;
        }
        if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return err_set(err, ERR_UNSUPPORTED, "chat template: unsupported character escape before byte %zu", i);
        k += utf8_put(d + k, cp);
    }
    return scan_push(sc, TOK_LIT, TAG_NONE, k, b - 1, err);
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

static bool is_two_char_op(const char *s) {
    static const char ops[][3] = {"==", "!=", "<=", ">=", "//", "**"};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        if (s[0] == ops[k][0] && s[1] == ops[k][1]) return true;
    return false;
}

/* Lexes the tokens of one {{ }} or {% %} tag starting after its opener at i; sets *end past the
 * closer and *minus when the closer carries "-". */
static int scan_tag(Scan *sc, TagType type, size_t open, size_t i, size_t *end, bool *minus, Err *err) {
    const char *s = sc->src;
    size_t m = sc->n;
    char close = type == TAG_VAR ? '}' : '%';
    int depth = 0;
    if (scan_push(sc, TOK_OPEN, type, 0, open, err)) return -1;
    while (i < m) {
        char c = s[i];
        if (depth == 0 && c == close && i + 1 < m && s[i + 1] == '}') {
            *minus = false;
            *end = i + 2;
            return scan_push(sc, TOK_CLOSE, type, 0, i, err);
        }
        if (depth == 0 && c == '-' && i + 2 < m && s[i + 1] == close && s[i + 2] == '}') {
            *minus = true;
            *end = i + 3;
            return scan_push(sc, TOK_CLOSE, type, 0, i, err);
        }
        if (is_ws(c)) {
            i++;
        } else if (c == '\'' || c == '"') {
            size_t j = i + 1;
            while (j < m && s[j] != c) j += (s[j] == '\\' && j + 1 < m) ? 2 : 1;
            if (j >= m) return err_set(err, ERR_FORMAT, "chat template: unclosed string at byte %zu", i);
            if (scan_literal(sc, i + 1, j, err)) return -1;
            i = j + 1;
        } else if (is_name_start(c)) {
            size_t j = i;
            while (j < m && is_name_char(s[j])) j++;
            if (scan_text(sc, TOK_NAME, i, j, err)) return -1;
            i = j;
        } else if (c >= '0' && c <= '9') {
            size_t j = i;
            while (j < m && (is_name_char(s[j]) || (s[j] == '.' && j + 1 < m && s[j + 1] >= '0' && s[j + 1] <= '9'))) j++;
            if (scan_text(sc, TOK_NUM, i, j, err)) return -1;
            i = j;
        } else if ((unsigned char)c >= 0x80) {
            return err_set(err, ERR_UNSUPPORTED, "chat template: non-ASCII character in a tag at byte %zu", i);
        } else {
            size_t l = i + 1 < m && is_two_char_op(s + i) ? 2 : 1;
            if (c == '(' || c == '[' || c == '{') depth++;
            if ((c == ')' || c == ']' || c == '}') && depth > 0) depth--;
            if (scan_text(sc, TOK_OP, i, i + l, err)) return -1;
            i += l;
        }
    }
    return err_set(err, ERR_FORMAT, "chat template: unclosed tag at byte %zu", open);
}

/* Lexes a whole template. Malformed Jinja (an unclosed tag or string) is ERR_FORMAT. */
static int scan_template(Scan *sc, const char *source, size_t n, Err *err) {
    memset(sc, 0, sizeof *sc);
    sc->emitted_at = SIZE_MAX;
    sc->src = malloc(n + 1);
    sc->arena = malloc(2 * n + 2); /* token texts never exceed their source span, plus a NUL each */
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
        size_t body = open + 2 + ((minus || plus) ? 1 : 0);
        if (type == TAG_COMMENT) {
            const char *end = strstr(s + body, "#}");
            if (!end) return err_set(err, ERR_FORMAT, "chat template: unclosed comment at byte %zu", open);
            size_t j = (size_t)(end - s);
            prev_minus = j > body && s[j - 1] == '-';
            pos = j + 2;
        } else if (scan_tag(sc, type, open, body, &pos, &prev_minus, err)) {
            return -1;
        }
        prev = type;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Matching against the references. */

static const char *tok_text(const Scan *sc, const Tok *t) { return sc->arena + t->off; }

/* Compares one input token with one reference token, binding the default system message where the
 * reference literal carries the mark. */
static bool tok_match(const Scan *in, const Tok *a, const Scan *ref, const Tok *r, const char **bound,
                      size_t *bound_len) {
    if (a->kind != r->kind || a->tag != r->tag) return false;
    const char *at = tok_text(in, a), *rt = tok_text(ref, r);
    const char *mark = r->kind == TOK_LIT ? strstr(rt, DEFAULT_SYSTEM_MARK) : NULL;
    if (!mark) return a->len == r->len && memcmp(at, rt, a->len) == 0;
    size_t pre = (size_t)(mark - rt), post = r->len - pre - (sizeof DEFAULT_SYSTEM_MARK - 1);
    if (a->len < pre + post || memcmp(at, rt, pre) != 0 || memcmp(at + a->len - post, mark + sizeof DEFAULT_SYSTEM_MARK - 1, post) != 0)
        return false;
    const char *x = at + pre;
    size_t xl = a->len - pre - post;
    if (*bound) return xl == *bound_len && memcmp(x, *bound, xl) == 0;
    *bound = x;
    *bound_len = xl;
    return true;
}

/* Number of leading tokens that match (n_toks of both when the whole streams match). */
static int match_prefix(const Scan *in, const Scan *ref, const char **bound, size_t *bound_len) {
    *bound = NULL;
    *bound_len = 0;
    int i = 0;
    while (i < in->n_toks && i < ref->n_toks && tok_match(in, &in->toks[i], ref, &ref->toks[i], bound, bound_len)) i++;
    return i;
}

static char *str_dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* Length of a short one-line excerpt starting at s, for messages. */
static int excerpt_len(const char *s) {
    int n = 0;
    while (n < 40 && s[n] && s[n] != '\n') n++;
    return n;
}

/* Finds the reference the input matches; on success *ref_out is its index and *dsys the default
 * system message (heap, NULL if the reference has none). */
static int recognise(const Scan *in, int *ref_out, char **dsys, Err *err) {
    int best = -1, best_len = -1;
    *dsys = NULL;
    for (int r = 0; r < N_REFERENCES; r++) {
        Scan ref;
        Err rerr = {0};
        if (scan_template(&ref, REFERENCES[r].source, strlen(REFERENCES[r].source), &rerr)) {
            scan_free(&ref);
            return err_set(err, rerr.code, "chat template: reference %s: %s", REFERENCES[r].name, rerr.msg);
        }
        const char *bound;
        size_t bound_len;
        int len = match_prefix(in, &ref, &bound, &bound_len);
        bool full = len == in->n_toks && len == ref.n_toks;
        if (full && bound) *dsys = str_dup_n(bound, bound_len);
        scan_free(&ref);
        if (full) {
            if (bound && !*dsys) return err_set(err, ERR_NOMEM, "chat template: out of memory");
            *ref_out = r;
            return 0;
        }
        if (len > best_len) {
            best = r;
            best_len = len;
        }
    }
    if (in->n_toks == 0 || best_len == 0)
        return err_set(err, ERR_UNSUPPORTED,
                       "chat template not recognised: it is none of the supported templates (ChatML as in "
                       "SmolLM2/Qwen/OpenHermes, Qwen2.5, Llama 3, Llama 2, Mistral v0.1/v0.2)");
    if (best_len < in->n_toks)
        return err_set(err, ERR_UNSUPPORTED,
                       "chat template not recognised: closest is the %s template (%s), which it leaves at "
                       "byte %zu ('%.*s')", REFERENCES[best].name, REFERENCES[best].models,
                       in->toks[best_len].at, excerpt_len(in->src + in->toks[best_len].at),
                       in->src + in->toks[best_len].at);
    return err_set(err, ERR_UNSUPPORTED,
                   "chat template not recognised: it is a truncated form of the %s template (%s)",
                   REFERENCES[best].name, REFERENCES[best].models);
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
    char *dsys = NULL;
    size_t n = jinja_source ? strlen(jinja_source) : 0;
    if (n > CHAT_TEMPLATE_SOURCE_MAX)
        return err_set(err, ERR_UNSUPPORTED, "chat template: %zu bytes of Jinja source, more than the %zu supported",
                       n, CHAT_TEMPLATE_SOURCE_MAX);
    if (n > 0) {
        Scan sc;
        int r = -1;
        if (scan_template(&sc, jinja_source, n, err)) {
            scan_free(&sc);
            return -1;
        }
        if (sc.emitted_at != SIZE_MAX) {
            size_t at = sc.emitted_at;
            scan_free(&sc);
            return err_set(err, ERR_UNSUPPORTED,
                           "chat template not recognised: it writes text outside {{ }} tags (byte %zu), "
                           "which no supported template does", at);
        }
        int rc = recognise(&sc, &r, &dsys, err);
        scan_free(&sc);
        if (rc) return -1;
        kind = REFERENCES[r].kind;
        variant = REFERENCES[r].id;
        variant_name = REFERENCES[r].name;
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
        ct->default_system = dsys;
        ct->bos = str_dup_n(bos ? bos : "", bos ? strlen(bos) : 0);
        ct->eos = str_dup_n(eos ? eos : "", eos ? strlen(eos) : 0);
    }
    if (!ct || !ct->bos || !ct->eos) {
        if (ct) chat_template_free(ct);
        else free(dsys);
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

#define STRIP_PARTS_MAX 4 /* Llama 2's first turn: "<<SYS>>\n", system, "\n<</SYS>>\n\n", user */

/* Writes the concatenation of parts (at most STRIP_PARTS_MAX) with Python str.strip() applied to
 * the whole. */
static void out_stripped(Out *o, const char *const *parts, int n_parts) {
    size_t lens[STRIP_PARTS_MAX], from[STRIP_PARTS_MAX], to[STRIP_PARTS_MAX];
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
        const char *parts[STRIP_PARTS_MAX] = {content, NULL, NULL, NULL};
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
