/* cmd_export.c: `ftune export`: a base model with an adapter merged in, as a Hugging Face model
 * directory that other tools load without ftune or PEFT. */
#include <stdio.h>

#include "../model/export.h"
#include "../model/peft.h"
#include "args.h"
#include "cli.h"

static const char *const EXPORT_OPTIONS[] = {"model", "adapter", "merge", "out", NULL};

static void usage(void) {
    fprintf(stderr, "usage: ftune export --model PATH [--adapter DIR] --merge --out DIR\n"
                    "Writes the model with the LoRA adapter merged into its weights as a Hugging Face directory\n"
                    "(config.json, model.safetensors in fp32, tokenizer files).\n");
}

int cmd_export(int argc, char **argv) {
    static const char *const flags[] = {"merge", NULL};
    Args a;
    int status;
    if (args_parse_command(&a, argc, argv, "export", flags, EXPORT_OPTIONS, usage, &status)) return status;
    if (a.n_positional || !args_get(&a, "model") || !args_get(&a, "out") || !args_has(&a, "merge")) {
        usage();
        return EXIT_BAD_INPUT;
    }
    Err err = {0};
    Model *m;
    Lora *lora = NULL;
    if (model_load(args_get(&a, "model"), &m, &err) ||
        (args_get(&a, "adapter") && peft_load(m, args_get(&a, "adapter"), &lora, &err))) {
        fprintf(stderr, "ftune export: %s\n", err.msg);
        return EXIT_BAD_INPUT;
    }
    int rc = 0;
    if (model_export_merged(m, lora, args_get(&a, "out"), &err)) {
        fprintf(stderr, "ftune export: %s\n", err.msg);
        rc = err.code == ERR_UNSUPPORTED || err.code == ERR_ARG ? EXIT_BAD_INPUT : 1;
    } else {
        fprintf(stderr, "wrote %s (%s%s)\n", args_get(&a, "out"), lora ? "adapter merged into " : "", m->path);
    }
    lora_free(lora);
    model_free(m);
    return rc;
}
