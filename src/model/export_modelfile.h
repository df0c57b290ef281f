/* export_modelfile.h: the Ollama Modelfile for an exported GGUF: FROM the file, TEMPLATE the
 * model's chat template in Ollama's Go template syntax, SYSTEM the system message the template
 * injects (SmolLM2, Qwen), PARAMETER stop for the end-of-turn and eos texts. Translated: the
 * ChatML family (SmolLM2, Qwen1.5/2/2.5 without tools, OpenHermes-style ChatML) and Llama 3;
 * any other template (Llama 2, Mistral, none) is refused with ERR_UNSUPPORTED naming it. Llama 3's
 * own template strips each message's surrounding whitespace; the translation cannot (Ollama's
 * templates have no strip), so such contents render as sent. */
#ifndef FTUNE_EXPORT_MODELFILE_H
#define FTUNE_EXPORT_MODELFILE_H

#include "../core/err.h"
#include "../text/chat_template.h"

/* The Modelfile text of a model with chat template tmpl and eos token text eos (may be NULL),
 * exported to gguf_name (written as FROM ./<gguf_name>); *out heap. model names the model in
 * messages. */
int export_modelfile_text(const ChatTemplate *tmpl, const char *eos, const char *model, const char *gguf_name,
                          char **out, Err *err);

#endif
