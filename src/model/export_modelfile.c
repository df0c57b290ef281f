/* export_modelfile.c: Ollama Modelfiles for exported GGUF files (see export_modelfile.h). The
 * TEMPLATE renders Ollama's .Messages as the model's own template renders messages, followed by
 * the assistant header (a generation prompt). */
#include "export_modelfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char CHATML_TEMPLATE[] =
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n"
    "{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n";

/* Llama 3's template strips each message's content (Python's str.strip), as Ollama's own
 * llama3 Modelfile leaves to the client; bos comes from the tokenizer (add_bos_token). */
static const char LLAMA3_TEMPLATE[] =
    "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
    "{{ .Content }}<|eot_id|>\n"
    "{{- end }}<|start_header_id|>assistant<|end_header_id|>\n\n";

/* A Modelfile string argument: in triple quotes, which the text must not hold. */
static int quoted(const char *s, const char *what, Err *err) {
    if (strstr(s, "\"\"\"")) return err_set(err, ERR_UNSUPPORTED, "the %s holds \"\"\", which a Modelfile cannot quote", what);
    return 0;
}

int export_modelfile_text(const ChatTemplate *ct, const char *eos, const char *model, const char *gguf_name,
                          char **out, Err *err) {
    *out = NULL;
    ChatTemplateKind kind = chat_template_kind(ct);
    const char *go_tmpl = kind == CHAT_TEMPLATE_CHATML ? CHATML_TEMPLATE : kind == CHAT_TEMPLATE_LLAMA3 ? LLAMA3_TEMPLATE : NULL;
    if (!go_tmpl)
        return err_set(err, ERR_UNSUPPORTED,
                       "%s: its chat template (%s) has no Ollama translation (ChatML and Llama 3 are translated); "
                       "write the Modelfile's TEMPLATE by hand, or pass --no-modelfile",
                       model, chat_template_variant(ct));
    const char *sys = chat_template_default_system(ct), *eot = chat_template_end_of_turn(ct);
    if ((sys && quoted(sys, "default system message", err)) || quoted(gguf_name, "file name", err)) return -1;
    if (strchr(gguf_name, '\n') || (eot && strchr(eot, '"')) || (eos && strchr(eos, '"')))
        return err_set(err, ERR_UNSUPPORTED, "the file name or a stop token cannot be written in a Modelfile");
    size_t cap = strlen(go_tmpl) + strlen(gguf_name) + (sys ? strlen(sys) : 0) + (eot ? strlen(eot) : 0) +
                 (eos ? strlen(eos) : 0) + 512;
    char *s = malloc(cap);
    if (!s) return err_set(err, ERR_NOMEM, "out of memory");
    size_t n = (size_t)snprintf(s, cap, "# Ollama Modelfile written by ftune export (%s chat template)\n"
                                        "FROM ./%s\nTEMPLATE \"\"\"%s\"\"\"\n",
                                chat_template_variant(ct), gguf_name, go_tmpl);
    if (sys) n += (size_t)snprintf(s + n, cap - n, "SYSTEM \"\"\"%s\"\"\"\n", sys);
    if (eot) n += (size_t)snprintf(s + n, cap - n, "PARAMETER stop \"%s\"\n", eot);
    if (eos && (!eot || strcmp(eos, eot) != 0)) snprintf(s + n, cap - n, "PARAMETER stop \"%s\"\n", eos);
    *out = s;
    return 0;
}
