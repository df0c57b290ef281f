/* cmd_export.c: `ftune export`: an adapter, or a base model with an adapter merged in, in a form
 * other tools load without ftune: a Hugging Face directory (--merge), a LoRA adapter GGUF for
 * llama.cpp / Ollama (--format gguf), or a merged, quantized GGUF with an Ollama Modelfile beside
 * it (--merge --format gguf --type T). */
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../model/export.h"
#include "../model/export_gguf.h"
#include "../model/gguf.h"
#include "../model/export_modelfile.h"
#include "../model/peft.h"
#include "args.h"
#include "cli.h"

static const char *const EXPORT_OPTIONS[] = {"model", "adapter", "merge", "out", "format", "type", "no-modelfile", NULL};

static void usage(void) {
    fprintf(stderr,
            "usage: ftune export --model PATH [--adapter DIR] --merge --out DIR\n"
            "       ftune export [--model PATH] --adapter DIR --format gguf --out FILE\n"
            "       ftune export --model PATH [--adapter DIR] --merge --format gguf [--type f16|q8_0|q4_0|q4_k|f32]\n"
            "                    [--out FILE] [--no-modelfile]\n"
            "--merge writes the model with the LoRA adapter merged into its weights: as a Hugging Face directory\n"
            "(config.json, model.safetensors in fp32, tokenizer files), or with --format gguf as one GGUF file of\n"
            "the --type (default f16; the base must be a GGUF file) and an Ollama Modelfile beside it. Without\n"
            "--merge, --format gguf writes the adapter as a LoRA GGUF for llama.cpp's --lora and Ollama's ADAPTER\n"
            "(--model defaults to the adapter's base_model_name_or_path).\n");
}

/* The adapter's recorded base model, when it names a file or directory that exists (heap). */
static char *recorded_base(const char *adapter_dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/adapter_config.json", adapter_dir);
    json_t *cfg = json_load_file(path, 0, NULL);
    const char *base = json_string_value(json_object_get(cfg, "base_model_name_or_path"));
    char *out = base && (file_exists(base) || file_is_dir(base)) ? strdup(base) : NULL;
    json_decref(cfg);
    return out;
}

static const char *eos_text(const Model *m) {
    int32_t eos = tok_eos_id(m->tok);
    return eos >= 0 ? tok_token_text(m->tok, eos) : NULL;
}

/* The Modelfile beside out_path: FROM ./<its file name>. */
static int write_modelfile(const Model *m, const char *out_path, Err *err) {
    char dir_buf[4096], name_buf[4096], path[4200];
    snprintf(dir_buf, sizeof dir_buf, "%s", out_path);
    snprintf(name_buf, sizeof name_buf, "%s", out_path);
    char *text;
    if (export_modelfile_text(m->tmpl, eos_text(m), m->path, basename(name_buf), &text, err)) return -1;
    snprintf(path, sizeof path, "%s/Modelfile", dirname(dir_buf));
    int rc = file_write_atomic(path, text, strlen(text), err);
    free(text);
    if (!rc) fprintf(stderr, "wrote %s\n", path);
    return rc;
}

static int run(const Args *a, const Model *m, const Lora *lora, Err *err) {
    const char *format = args_get(a, "format") ? args_get(a, "format") : "hf";
    bool merge = args_has(a, "merge");
    if (strcmp(format, "gguf") != 0) return model_export_merged(m, lora, args_get(a, "out"), err);
    if (!merge) return model_export_gguf_adapter(m, lora, args_get(a, "out"), err);
    uint32_t type = QUANT_F16;
    if (args_get(a, "type") && export_gguf_type(args_get(a, "type"), &type, err)) return -1;
    char out[4096];
    if (args_get(a, "out")) snprintf(out, sizeof out, "%s", args_get(a, "out"));
    else snprintf(out, sizeof out, "%s-%s.gguf", lora ? "merged" : "model", args_get(a, "type") ? args_get(a, "type") : "f16");
    /* the Modelfile is checked first, so that an untranslatable template leaves nothing written */
    char *probe;
    bool modelfile = !args_has(a, "no-modelfile");
    if (modelfile && export_modelfile_text(m->tmpl, eos_text(m), m->path, "x.gguf", &probe, err)) return -1;
    if (modelfile) free(probe);
    if (model_export_gguf_merged(m, lora, type, out, err)) return -1;
    fprintf(stderr, "wrote %s (%s, %s%s)\n", out, ggml_type_name(type), lora ? "adapter merged into " : "", m->path);
    return modelfile ? write_modelfile(m, out, err) : 0;
}

int cmd_export(int argc, char **argv) {
    static const char *const flags[] = {"merge", "no-modelfile", NULL};
    Args a;
    int status;
    if (args_parse_command(&a, argc, argv, "export", flags, EXPORT_OPTIONS, usage, &status)) return status;
    const char *format = args_get(&a, "format") ? args_get(&a, "format") : "hf";
    bool gguf = strcmp(format, "gguf") == 0, merge = args_has(&a, "merge");
    if (!gguf && strcmp(format, "hf") != 0) {
        fprintf(stderr, "ftune export: --format must be hf or gguf, not '%s'\n", format);
        return EXIT_BAD_INPUT;
    }
    if (args_get(&a, "type") && !(gguf && merge)) {
        fprintf(stderr, "ftune export: --type applies to --merge --format gguf only\n");
        return EXIT_BAD_INPUT;
    }
    char *model_path = args_get(&a, "model") ? strdup(args_get(&a, "model"))
                       : args_get(&a, "adapter") && gguf && !merge ? recorded_base(args_get(&a, "adapter"))
                                                                    : NULL;
    bool need_out = !(gguf && merge);
    if (a.n_positional || !model_path || (need_out && !args_get(&a, "out")) || (!merge && !gguf) ||
        (!merge && !args_get(&a, "adapter"))) {
        if (!model_path && args_get(&a, "adapter") && !args_get(&a, "model"))
            fprintf(stderr, "ftune export: the adapter's base_model_name_or_path is not a model file here: pass --model\n");
        usage();
        free(model_path);
        return EXIT_BAD_INPUT;
    }
    Err err = {0};
    Model *m;
    Lora *lora = NULL;
    if (model_load(model_path, &m, &err) ||
        (args_get(&a, "adapter") && peft_load(m, args_get(&a, "adapter"), &lora, &err))) {
        fprintf(stderr, "ftune export: %s\n", err.msg);
        free(model_path);
        return EXIT_BAD_INPUT;
    }
    int rc = 0;
    if (run(&a, m, lora, &err)) {
        fprintf(stderr, "ftune export: %s\n", err.msg);
        rc = err.code == ERR_UNSUPPORTED || err.code == ERR_ARG ? EXIT_BAD_INPUT : 1;
    } else if (!(gguf && merge)) {
        fprintf(stderr, "wrote %s (%s%s)\n", args_get(&a, "out"),
                gguf ? "LoRA adapter GGUF for " : lora ? "adapter merged into " : "", m->path);
    }
    lora_free(lora);
    model_free(m);
    free(model_path);
    return rc;
}
