/* chat_template_internal.h: the types and entry points shared by src/text/chat_template*.c.
 * Private to those files: nothing else includes it. It holds the variant ids, the Reference record
 * of the reference-template table (chat_template_refs.c), the ChatTemplate record itself, the
 * recogniser entry point (chat_template_match.c) and a string helper (chat_template.c). The
 * renderer (chat_template_render.c) is entered through chat_template_render, declared in the
 * public chat_template.h. It declares no Jinja lexer types: those stay inside the recogniser. */
#ifndef FTUNE_CHAT_TEMPLATE_INTERNAL_H
#define FTUNE_CHAT_TEMPLATE_INTERNAL_H

#include <stddef.h>

#include "chat_template.h"

typedef enum {
    VARIANT_PLAIN,
    VARIANT_CHATML,
    VARIANT_QWEN25,
    VARIANT_LLAMA3,
    VARIANT_LLAMA3_ALWAYS_GEN,
    VARIANT_LLAMA31, /* Llama 3.1 / 3.3: tools, date header, ipython role */
    VARIANT_LLAMA32, /* Llama 3.2: the same output (strftime_now undefined, no builtin tools) */
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

struct ChatTemplate {
    ChatTemplateKind kind;
    VariantId variant;
    const char *variant_name;
    char *bos;            /* never NULL; "" when the model has none */
    char *eos;            /* never NULL */
    char *default_system; /* NULL when the template injects none */
};

/* ---- reference templates (chat_template_refs.c) ---- */
extern const char ct_default_system_mark[]; /* binds the default system message in a reference */
extern const Reference ct_references[];
extern const int ct_n_references;

/* ---- recognition (chat_template_match.c) ---- */
/* Lexes the Jinja source (n bytes, not NUL-checked) and finds the reference it matches; on success
 * *ref_out points into ct_references and *dsys is the default system message (heap, NULL when
 * the reference has none; caller frees). Malformed Jinja is ERR_FORMAT, anything that is not a
 * reference ERR_UNSUPPORTED, ERR_NOMEM. On error *ref_out is untouched and nothing is allocated. */
int ct_recognise(const char *source, size_t n, const Reference **ref_out, char **dsys, Err *err);

/* ---- helpers (chat_template.c) ---- */
char *ct_str_dup_n(const char *s, size_t n); /* heap copy of s[0..n) plus a NUL; NULL on ENOMEM */

#endif
