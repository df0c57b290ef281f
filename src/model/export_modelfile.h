/* export_modelfile.h: the Ollama Modelfile for an exported GGUF: FROM the file, TEMPLATE the
 * model's chat template in Ollama's Go template syntax, SYSTEM the system message the template
 * injects (SmolLM2, Qwen), PARAMETER stop for the end-of-turn and eos texts. Translated: the
 * ChatML family (SmolLM2, Qwen1.5/2/2.5 without tools, OpenHermes-style ChatML) and Llama 3;
 * any other template (Llama 2, Mistral, none) is refused with ERR_UNSUPPORTED naming it. */
#ifndef FTUNE_EXPORT_MODELFILE_H
#define FTUNE_EXPORT_MODELFILE_H

#include "model.h"

/* The Modelfile text for m exported to gguf_name (written as FROM ./<gguf_name>); *out heap. */
int export_modelfile_text(const Model *m, const char *gguf_name, char **out, Err *err);

#endif
