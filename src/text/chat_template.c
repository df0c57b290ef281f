/* chat_template.c: the public ChatTemplate API: building one from a Jinja source and the model's
 * bos/eos texts (recognition itself is chat_template_match.c), freeing it, and its getters (kind,
 * variant, default system message, bos policy, tool-call syntax, end-of-turn marker). It deliberately holds no
 * reference templates (chat_template_refs.c), no lexer and no renderer (chat_template_render.c). */
#include "chat_template_internal.h"

#include <stdlib.h>
#include <string.h>

static const char LLAMA3_DEFAULT_BOS[] = "<|begin_of_text|>";
static const char SPM_DEFAULT_BOS[] = "<s>"; /* Llama 2 and Mistral (SentencePiece vocabularies) */
static const char SPM_DEFAULT_EOS[] = "</s>";

char *ct_str_dup_n(const char *s, size_t n) {
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
    char *dsys = NULL;
    size_t n = jinja_source ? strlen(jinja_source) : 0;
    if (n > CHAT_TEMPLATE_SOURCE_MAX)
        return err_set(err, ERR_UNSUPPORTED, "chat template: %zu bytes of Jinja source, more than the %zu supported",
                       n, CHAT_TEMPLATE_SOURCE_MAX);
    if (n > 0) {
        const Reference *ref = NULL;
        if (ct_recognise(jinja_source, n, &ref, &dsys, err)) return -1;
        kind = ref->kind;
        variant = ref->id;
        variant_name = ref->name;
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
        ct->bos = ct_str_dup_n(bos ? bos : "", bos ? strlen(bos) : 0);
        ct->eos = ct_str_dup_n(eos ? eos : "", eos ? strlen(eos) : 0);
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

const ToolSyntax *chat_template_tool_syntax(const ChatTemplate *ct) {
    if (ct->variant == VARIANT_QWEN25) return &tool_syntax_hermes;
    if (ct->variant == VARIANT_LLAMA31 || ct->variant == VARIANT_LLAMA32) return &tool_syntax_llama3_json;
    return NULL;
}

const char *chat_template_end_of_message(const ChatTemplate *ct) {
    return ct->variant == VARIANT_LLAMA31 || ct->variant == VARIANT_LLAMA32 ? "<|eom_id|>" : NULL;
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
