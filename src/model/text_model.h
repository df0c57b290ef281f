/* text_model.h: what turns chat examples into tokens -- a model's tokenizer, its chat template and
 * its context length -- loaded from a GGUF file or a Hugging Face directory without reading the
 * weights (fast, little memory: for validation and data preparation). A template that is not
 * recognised falls back to the plain format with a note, as model_load does. It does not run the
 * model (model.h). */
#ifndef FTUNE_TEXT_MODEL_H
#define FTUNE_TEXT_MODEL_H

#include "../core/err.h"
#include "../text/chat_template.h"
#include "../text/tokenizer.h"

#define TEXT_MODEL_JSON_MAX ((size_t)64 << 20) /* largest tokenizer_config.json / config.json read */

typedef struct TextModel {
    char *path;
    Tokenizer *tok;
    ChatTemplate *tmpl;
    long context_length;    /* tokens; 0 when the model does not say */
    char *template_warning; /* why the model's own template is not used (plain instead), or NULL */
    char *chat_template_src; /* the model's Jinja chat template as stored, or NULL */
} TextModel;

/* Loads from path: a GGUF file (tokenizer.*, tokenizer.chat_template, <arch>.context_length) or
 * a directory (tokenizer.json; tokenizer_config.json for chat_template, bos_token, eos_token;
 * config.json for max_position_embeddings). Errors name the file (ERR_IO, ERR_FORMAT,
 * ERR_UNSUPPORTED, ERR_NOMEM). Caller frees with text_model_free; read-only afterwards, so
 * threads may share it. */
int text_model_load(const char *path, TextModel **out, Err *err);
void text_model_free(TextModel *tm); /* NULL is a no-op */

#endif
